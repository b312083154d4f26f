import { describe, expect, it } from 'vitest';
import { decodeInferResponse, encodeInferRequest } from '../../../../adapters/targets/triton/binary-body.js';
import { tensor } from '../../../../adapters/targets/triton/codec.js';
import { isCanopyError } from '../../../../kernels/errors.js';

const request = {
  model: 'm',
  id: 'r1',
  inputs: [
    tensor('input0', 'UINT32', Uint32Array.of(1, 2, 3, 4), [2, 2]),
    tensor('input1', 'BOOL', Uint8Array.of(1, 0, 1)),
  ],
  outputs: ['output0'],
};

function splitBody(body: Uint8Array, headerLength: number) {
  return {
    header: JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength))),
    binary: body.subarray(headerLength),
  };
}

/** A response body as the extension document shows it: JSON header, then the binary outputs in order. */
function responseBody(header: object, ...blobs: Uint8Array[]): { body: Uint8Array; headerLength: number } {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(json.byteLength + blobs.reduce((n, b) => n + b.byteLength, 0));
  body.set(json);
  let offset = json.byteLength;
  for (const b of blobs) {
    body.set(b, offset);
    offset += b.byteLength;
  }
  return { body, headerLength: json.byteLength };
}

describe('binary tensor data extension', () => {
  it('puts the JSON header first and each input’s bytes after it, in input order', () => {
    const { body, headerLength } = encodeInferRequest(request, true);
    expect(headerLength).toBeDefined();
    const { header, binary } = splitBody(body, headerLength!);
    expect(header.inputs).toEqual([
      { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
      { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
    ]);
    expect(header.id).toBe('r1');
    expect(header.parameters.binary_data_output).toBe(true);
    expect(header.outputs).toEqual([{ name: 'output0', parameters: { binary_data: true } }]);
    expect([...binary]).toEqual([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 1]);
  });

  it('falls back to a plain JSON body with data arrays', () => {
    const { body, headerLength } = encodeInferRequest(request, false);
    expect(headerLength).toBeUndefined();
    const header = JSON.parse(new TextDecoder().decode(body));
    expect(header.inputs[0].data).toEqual([1, 2, 3, 4]);
    expect(header.inputs[1].data).toEqual([true, false, true]);
    expect(header.parameters.binary_data_output).toBeUndefined();
    expect(header.outputs[0].parameters.binary_data).toBe(false);
  });

  it('reads binary and JSON outputs of one response', () => {
    const fp = new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6).buffer);
    const { body, headerLength } = responseBody(
      {
        model_name: 'm',
        model_version: '1',
        id: 'r1',
        outputs: [
          { name: 'a', datatype: 'FP32', shape: [3, 2], parameters: { binary_data_size: 24 } },
          { name: 'b', datatype: 'INT64', shape: [2], data: [5, -6] },
          { name: 'c', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 7 } },
        ],
      },
      fp,
      Uint8Array.of(3, 0, 0, 0, 120, 121, 122),
    );
    const response = decodeInferResponse(body, headerLength);
    expect(response.model).toBe('m');
    expect(response.id).toBe('r1');
    expect(response.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ['a', 'FP32', [3, 2]],
      ['b', 'INT64', [2]],
      ['c', 'BYTES', [1]],
    ]);
    expect(response.outputs[0]!.data).toEqual(Float32Array.of(1, 2, 3, 4, 5, 6));
    expect(response.outputs[1]!.data).toEqual(BigInt64Array.of(5n, -6n));
    expect(new TextDecoder().decode((response.outputs[2]!.data as Uint8Array[])[0])).toBe('xyz');
  });

  it('reads a whole-JSON response when no header length is given', () => {
    const json = { model_name: 'm', outputs: [{ name: 'o', datatype: 'INT32', shape: [2], data: [7, 8] }] };
    const response = decodeInferResponse(new TextEncoder().encode(JSON.stringify(json)), undefined);
    expect(response.outputs[0]!.data).toEqual(Int32Array.of(7, 8));
  });

  it('refuses responses whose binary part does not add up', () => {
    const header = {
      outputs: [{ name: 'o', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } }],
    };
    const cases = [
      responseBody(header, new Uint8Array(4)), // cut short
      responseBody(header, new Uint8Array(12)), // unclaimed bytes
    ];
    for (const { body, headerLength } of cases) {
      expect(() => decodeInferResponse(body, headerLength)).toThrow(
        expect.objectContaining({ code: 'CANOPY_ERR_UPSTREAM_PROTOCOL' }),
      );
    }
    const { body } = responseBody(header, new Uint8Array(8));
    try {
      decodeInferResponse(body, body.byteLength + 1);
      expect.fail('a header length past the body must fail');
    } catch (error) {
      expect(isCanopyError(error, 'CANOPY_ERR_UPSTREAM_PROTOCOL')).toBe(true);
    }
  });
});
