/**
 * Writes a GGUF v3 file: used for the tiny random model (`prepare-model
 * --tiny`) so that it goes through the very reader and converter a real
 * model does, and so that llama.cpp can load it too.
 *
 * Metadata values carry their GGUF type explicitly: llama.cpp checks the
 * type of each key it reads (a float key stored as u32 is rejected).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { GgmlType } from './ggml-types.js';
import { f32ToF16 } from './half-float.js';

export type GgufEntry =
  | { readonly type: 'u32'; readonly value: number }
  | { readonly type: 'i32'; readonly value: number }
  | { readonly type: 'f32'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'i32s'; readonly value: ArrayLike<number> }
  | { readonly type: 'f32s'; readonly value: ArrayLike<number> };

export interface GgufWriteTensor {
  readonly name: string;
  /** GGML order: innermost first. */
  readonly dims: readonly number[];
  /** A GGML type id; F32, F16 and Q8_0 are encoded from floats, any other needs raw bytes. */
  readonly type: number;
  /** Float values to encode, or the tensor's bytes already in `type`'s layout. */
  readonly data: Float32Array | Uint8Array;
}

const ALIGN = 32;
const TYPE_ID = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;

/** A little-endian byte sink that grows as needed. */
class Bytes {
  buf = new Uint8Array(1 << 16);
  len = 0;
  #view = new DataView(this.buf.buffer);
  readonly #enc = new TextEncoder();

  #reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.#view = new DataView(next.buffer);
  }
  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.len, v, true);
    this.len += 4;
  }
  i32(v: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.len, v, true);
    this.len += 4;
  }
  u64(v: number): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.len, BigInt(v), true);
    this.len += 8;
  }
  f32(v: number): void {
    this.#reserve(4);
    this.#view.setFloat32(this.len, v, true);
    this.len += 4;
  }
  raw(b: Uint8Array): void {
    this.#reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  string(s: string): void {
    const b = this.#enc.encode(s);
    this.u64(b.length);
    this.raw(b);
  }
  pad(): void {
    this.raw(new Uint8Array((ALIGN - (this.len % ALIGN)) % ALIGN));
  }
}

function writeEntry(b: Bytes, e: GgufEntry): void {
  switch (e.type) {
    case 'u32':
      b.u32(TYPE_ID.u32);
      b.u32(e.value);
      break;
    case 'i32':
      b.u32(TYPE_ID.i32);
      b.i32(e.value);
      break;
    case 'f32':
      b.u32(TYPE_ID.f32);
      b.f32(e.value);
      break;
    case 'bool':
      b.u32(TYPE_ID.bool);
      b.raw(Uint8Array.of(e.value ? 1 : 0));
      break;
    case 'string':
      b.u32(TYPE_ID.string);
      b.string(e.value);
      break;
    case 'strings':
      b.u32(TYPE_ID.array);
      b.u32(TYPE_ID.string);
      b.u64(e.value.length);
      for (const s of e.value) b.string(s);
      break;
    case 'i32s':
      b.u32(TYPE_ID.array);
      b.u32(TYPE_ID.i32);
      b.u64(e.value.length);
      for (let i = 0; i < e.value.length; i++) b.i32(e.value[i]);
      break;
    case 'f32s':
      b.u32(TYPE_ID.array);
      b.u32(TYPE_ID.f32);
      b.u64(e.value.length);
      for (let i = 0; i < e.value.length; i++) b.f32(e.value[i]);
      break;
  }
}

/** Q8_0 blocks: per 32 values a f16 scale max|x|/127 and 32 rounded int8. */
function quantizeQ8(data: Float32Array): Uint8Array {
  const out = new Uint8Array((data.length / 32) * 34);
  for (let blk = 0, o = 0; blk < data.length; blk += 32, o += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(data[blk + j]));
    const d = amax / 127;
    const h = f32ToF16(d);
    out[o] = h & 0xff;
    out[o + 1] = h >> 8;
    const inv = d ? 1 / d : 0;
    for (let j = 0; j < 32; j++) out[o + 2 + j] = Math.round(data[blk + j] * inv) & 0xff;
  }
  return out;
}

function encodeTensor(t: GgufWriteTensor): Uint8Array {
  const data = t.data;
  if (data instanceof Uint8Array) return data;
  if (t.type === GgmlType.F32) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (t.type === GgmlType.Q8_0) return quantizeQ8(data);
  if (t.type !== GgmlType.F16) throw new Error(`cannot encode floats as GGML type ${t.type}; pass raw bytes`);
  const half = new Uint16Array(data.length);
  for (let i = 0; i < half.length; i++) half[i] = f32ToF16(data[i]);
  return new Uint8Array(half.buffer);
}

/** Writes `metadata` and `tensors` as a GGUF v3 file at `path`. */
export function writeGguf(
  path: string,
  metadata: ReadonlyArray<readonly [string, GgufEntry]>,
  tensors: readonly GgufWriteTensor[],
): void {
  const head = new Bytes();
  head.raw(new TextEncoder().encode('GGUF'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length + 1);
  head.string('general.alignment');
  writeEntry(head, { type: 'u32', value: ALIGN });
  for (const [key, entry] of metadata) {
    head.string(key);
    writeEntry(head, entry);
  }
  const payloads = tensors.map(encodeTensor);
  let offset = 0;
  tensors.forEach((t, i) => {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offset += Math.ceil(payloads[i].length / ALIGN) * ALIGN;
  });
  head.pad();
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head.buf, 0, head.len);
    for (const p of payloads) {
      writeSync(fd, p);
      const pad = (ALIGN - (p.length % ALIGN)) % ALIGN;
      if (pad) writeSync(fd, new Uint8Array(pad));
    }
  } finally {
    closeSync(fd);
  }
}
