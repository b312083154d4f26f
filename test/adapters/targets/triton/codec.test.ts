import { describe, expect, it } from 'vitest';
import {
  type Datatype,
  type TensorDataOf,
  tensor,
  tensorFromBytes,
  tensorFromJson,
  tensorToBytes,
  tensorToJson,
} from '../../../../adapters/targets/triton/codec.js';
import { isCanopyError } from '../../../../kernels/errors.js';

const SAMPLES: { [D in Datatype]: TensorDataOf[D] } = {
  BOOL: Uint8Array.of(1, 0, 1),
  UINT8: Uint8Array.of(0, 7, 255),
  UINT16: Uint16Array.of(0, 65535, 258),
  UINT32: Uint32Array.of(0, 4294967295, 16909060),
  UINT64: BigUint64Array.of(0n, 18446744073709551615n, 9007199254740993n),
  INT8: Int8Array.of(-128, 0, 127),
  INT16: Int16Array.of(-32768, -1, 32767),
  INT32: Int32Array.of(-2147483648, -1, 2147483647),
  INT64: BigInt64Array.of(-9223372036854775808n, -1n, 9223372036854775807n),
  FP16: Uint16Array.of(0x3c00, 0xc000, 0x7bff),
  BF16: Uint16Array.of(0x3f80, 0xc000, 0x7f7f),
  FP32: Float32Array.of(-1.5, 0, 3.4028234663852886e38),
  FP64: Float64Array.of(-Math.PI, 0, Number.MAX_VALUE),
  BYTES: [new TextEncoder().encode('héllo'), new Uint8Array(0), Uint8Array.of(0, 255, 10)],
};

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(isCanopyError(error) ? error.code : error).toBe(code);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe('tensor codec', () => {
  for (const datatype of Object.keys(SAMPLES) as Datatype[]) {
    it(`round-trips ${datatype} through the wire layout`, () => {
      const t = tensor('x', datatype, SAMPLES[datatype], [1, 3]);
      const back = tensorFromBytes(datatype, [1, 3], tensorToBytes(t));
      if (datatype === 'BYTES')
        expect((back as Uint8Array[]).map((b) => [...b])).toEqual(
          (SAMPLES.BYTES as Uint8Array[]).map((b) => [...b]),
        );
      else expect(back).toEqual(SAMPLES[datatype]);
    });
  }

  it('lays out numbers little-endian without padding', () => {
    expect([...tensorToBytes(tensor('x', 'INT32', Int32Array.of(0x01020304, -2)))]).toEqual([
      4, 3, 2, 1, 254, 255, 255, 255,
    ]);
    expect([...tensorToBytes(tensor('x', 'FP32', Float32Array.of(1)))]).toEqual([0, 0, 128, 63]);
  });

  it('prefixes each BYTES element with its 4-byte little-endian length', () => {
    const bytes = tensorToBytes(tensor('x', 'BYTES', [Uint8Array.of(97, 98), new Uint8Array(0)]));
    expect([...bytes]).toEqual([2, 0, 0, 0, 97, 98, 0, 0, 0, 0]);
  });

  it('reads elements that start at an unaligned offset', () => {
    const buffer = new Uint8Array(13);
    buffer.set(tensorToBytes(tensor('x', 'FP64', Float64Array.of(0.1))), 1);
    buffer.set(tensorToBytes(tensor('x', 'INT32', Int32Array.of(-7))), 9);
    expect(tensorFromBytes('FP64', [1], buffer.subarray(1, 9))[0]).toBe(0.1);
    expect(tensorFromBytes('INT32', [1], buffer.subarray(9, 13))[0]).toBe(-7);
    // gRPC hands out Node Buffers, whose slice() is a view, not a copy.
    const node = Buffer.from(buffer);
    expect(tensorFromBytes('INT32', [1], node.subarray(9, 13))[0]).toBe(-7);
    expect([...node]).toEqual([...buffer]);
  });

  it('refuses bytes that do not match the shape', () => {
    expectCode(() => tensorFromBytes('INT32', [3], new Uint8Array(8)), 'CANOPY_ERR_UPSTREAM_PROTOCOL');
    expectCode(
      () => tensorFromBytes('BYTES', [1], Uint8Array.of(5, 0, 0, 0, 1)),
      'CANOPY_ERR_UPSTREAM_PROTOCOL',
    );
    expectCode(
      () => tensorFromBytes('BYTES', [1], Uint8Array.of(0, 0, 0, 0, 9)),
      'CANOPY_ERR_UPSTREAM_PROTOCOL',
    );
  });

  it('refuses a shape that does not hold the data', () => {
    expectCode(() => tensor('x', 'INT32', new Int32Array(6), [4, 2]), 'CANOPY_ERR_INVALID_ARGUMENT');
  });

  it('reads an empty tensor', () => {
    expect(tensorFromBytes('INT32', [0], new Uint8Array(0))).toEqual(new Int32Array(0));
    expect(tensorToBytes(tensor('x', 'INT32', new Int32Array(0))).byteLength).toBe(0);
  });
});

describe('tensor JSON form', () => {
  it('writes BOOL as booleans, BYTES as text and 64-bit integers as numbers', () => {
    expect(tensorToJson(tensor('b', 'BOOL', Uint8Array.of(1, 0)))).toEqual([true, false]);
    expect(tensorToJson(tensor('s', 'BYTES', [new TextEncoder().encode('hé')]))).toEqual(['hé']);
    expect(tensorToJson(tensor('u', 'UINT64', BigUint64Array.of(2n ** 53n - 1n)))).toEqual([2 ** 53 - 1]);
  });

  it('refuses 64-bit integers that a JSON number cannot hold exactly', () => {
    expectCode(
      () => tensorToJson(tensor('u', 'UINT64', BigUint64Array.of(2n ** 53n + 1n))),
      'CANOPY_ERR_INVALID_ARGUMENT',
    );
  });

  it('reads nested data, booleans and 64-bit integers spelled as strings', () => {
    expect(
      tensorFromJson(
        'INT32',
        [2, 2],
        [
          [1, 2],
          [3, -4],
        ],
      ),
    ).toEqual(Int32Array.of(1, 2, 3, -4));
    expect(tensorFromJson('BOOL', [2], [true, false])).toEqual(Uint8Array.of(1, 0));
    expect(tensorFromJson('INT64', [1], ['-9223372036854775808'])).toEqual(BigInt64Array.of(-(2n ** 63n)));
  });

  it('refuses JSON data of the wrong size or kind', () => {
    expectCode(() => tensorFromJson('INT32', [3], [1, 2]), 'CANOPY_ERR_UPSTREAM_PROTOCOL');
    expectCode(() => tensorFromJson('FP32', [1], [{}]), 'CANOPY_ERR_UPSTREAM_PROTOCOL');
  });
});
