/**
 * Typed arrays ↔ KServe v2 tensors.
 *
 * One tensor layout serves every transport: the binary tensor data extension
 * of HTTP and gRPC's `raw_input_contents` / `raw_output_contents` both carry
 * elements row-major, little-endian, without padding; BOOL is one byte (0/1);
 * BYTES is each element as a 4-byte little-endian length then its bytes.
 * FP16 and BF16 travel as their raw 16-bit patterns.
 */
import { CanopyError } from '../../../kernels/errors.js';

/** Element storage per KServe datatype. */
export interface TensorDataOf {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  FP16: Uint16Array;
  BF16: Uint16Array;
  FP32: Float32Array;
  FP64: Float64Array;
  BYTES: readonly Uint8Array[];
}

export type Datatype = keyof TensorDataOf;
export type NumericDatatype = Exclude<Datatype, 'BYTES'>;
export type TensorData = TensorDataOf[Datatype];

/** A named tensor. `shape` multiplies out to the number of elements of `data`. */
export interface Tensor<D extends Datatype = Datatype> {
  readonly name: string;
  readonly datatype: D;
  readonly shape: readonly number[];
  readonly data: TensorDataOf[D];
}

type NumericArrayConstructor = {
  new (
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ): Exclude<TensorData, readonly Uint8Array[]>;
  new (length: number): Exclude<TensorData, readonly Uint8Array[]>;
  readonly BYTES_PER_ELEMENT: number;
};

const ARRAY_OF: Record<NumericDatatype, NumericArrayConstructor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  BF16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

// The wire is little-endian; typed arrays use the host's order. Every host
// Node ships for is little-endian, but a wrong answer would be silent, so check.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function isDatatype(value: string): value is Datatype {
  return value === 'BYTES' || value in ARRAY_OF;
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** Builds a tensor; a 1-D shape is implied when none is given. */
export function tensor<D extends Datatype>(
  name: string,
  datatype: D,
  data: TensorDataOf[D],
  shape: readonly number[] = [data.length],
): Tensor<D> {
  if (elementCount(shape) !== data.length) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `tensor '${name}': shape [${shape.join(', ')}] does not hold ${data.length} elements`,
    );
  }
  return { name, datatype, shape, data };
}

/** The tensor's elements in wire layout. Numeric tensors are a view when the host is little-endian. */
export function tensorToBytes(t: Tensor): Uint8Array {
  if (t.datatype === 'BYTES') return encodeBytesElements(t.data as readonly Uint8Array[]);
  const data = t.data as Exclude<TensorData, readonly Uint8Array[]>;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return HOST_IS_LITTLE_ENDIAN ? bytes : swapBytes(new Uint8Array(bytes), data.BYTES_PER_ELEMENT);
}

/**
 * Reads `count` elements of `datatype` from wire bytes. The result may share
 * memory with `bytes` (when aligned); callers must not reuse that buffer.
 */
export function tensorFromBytes<D extends Datatype>(
  datatype: D,
  shape: readonly number[],
  bytes: Uint8Array,
  name = '',
): TensorDataOf[D] {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return decodeBytesElements(bytes, count, name) as unknown as TensorDataOf[D];
  const Ctor = ARRAY_OF[datatype as NumericDatatype];
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== count * size) {
    throw protocolError(
      `tensor '${name}' (${datatype}, [${shape.join(', ')}]) has ${bytes.byteLength} bytes`,
    );
  }
  let source = bytes;
  // Typed arrays need element-aligned offsets; a JSON header or protobuf framing rarely provides them.
  // (`new Uint8Array(x)` copies; a Node Buffer's `slice` would not.)
  if (!HOST_IS_LITTLE_ENDIAN) source = swapBytes(new Uint8Array(bytes), size);
  else if (bytes.byteOffset % size !== 0) source = new Uint8Array(bytes);
  return new Ctor(source.buffer, source.byteOffset, count) as TensorDataOf[D];
}

/** JSON `data` array of a tensor (the non-binary form). INT64/UINT64 must be below 2^53. */
export function tensorToJson(t: Tensor): (number | string | boolean)[] {
  if (t.datatype === 'BYTES') {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    return (t.data as readonly Uint8Array[]).map((b) => decoder.decode(b));
  }
  if (t.datatype === 'BOOL') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.datatype === 'FP16' || t.datatype === 'BF16') {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `${t.datatype} tensors have no JSON form; use binary`,
    );
  }
  if (t.datatype === 'INT64' || t.datatype === 'UINT64') {
    return Array.from(t.data as BigInt64Array | BigUint64Array, (v) => {
      const n = Number(v);
      if (!Number.isSafeInteger(n)) {
        throw new CanopyError(
          'CANOPY_ERR_INVALID_ARGUMENT',
          `tensor '${t.name}': ${v} has no exact JSON form`,
        );
      }
      return n;
    });
  }
  return Array.from(t.data as ArrayLike<number>);
}

/** Reads a JSON `data` array (flat or nested) into typed storage. */
export function tensorFromJson<D extends Datatype>(
  datatype: D,
  shape: readonly number[],
  data: unknown,
  name = '',
): TensorDataOf[D] {
  const flat = Array.isArray(data) ? (data.flat(Number.POSITIVE_INFINITY) as unknown[]) : [data];
  if (flat.length !== elementCount(shape)) {
    throw protocolError(`tensor '${name}' has ${flat.length} JSON elements for shape [${shape.join(', ')}]`);
  }
  if (datatype === 'BYTES') {
    const encoder = new TextEncoder();
    return flat.map((v) => encoder.encode(String(v))) as unknown as TensorDataOf[D];
  }
  const out = new ARRAY_OF[datatype as NumericDatatype](flat.length) as unknown as (number | bigint)[];
  const big = datatype === 'INT64' || datatype === 'UINT64';
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    // Strings carry 64-bit integers that a JSON number cannot hold exactly.
    const n =
      typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? Number(v) : Number.NaN;
    if (Number.isNaN(n) && v !== 'NaN') {
      throw protocolError(`tensor '${name}' has a non-numeric JSON element ${JSON.stringify(v)}`);
    }
    out[i] = big ? BigInt(typeof v === 'string' ? v : Math.trunc(n)) : n;
  }
  return out as unknown as TensorDataOf[D];
}

function encodeBytesElements(elements: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const e of elements) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of elements) {
    view.setUint32(offset, e.byteLength, true);
    out.set(e, offset + 4);
    offset += 4 + e.byteLength;
  }
  return out;
}

function decodeBytesElements(bytes: Uint8Array, count: number, name: string): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength) throw protocolError(`BYTES tensor '${name}' ends inside element ${i}`);
    const length = view.getUint32(offset, true);
    if (offset + 4 + length > bytes.byteLength) {
      throw protocolError(`BYTES tensor '${name}' element ${i} overruns its data`);
    }
    out.push(new Uint8Array(bytes.subarray(offset + 4, offset + 4 + length)));
    offset += 4 + length;
  }
  if (offset !== bytes.byteLength) throw protocolError(`BYTES tensor '${name}' has trailing bytes`);
  return out;
}

function swapBytes(bytes: Uint8Array, size: number): Uint8Array {
  if (size > 1) for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  return bytes;
}

function protocolError(message: string): CanopyError {
  return new CanopyError('CANOPY_ERR_UPSTREAM_PROTOCOL', message);
}
