/**
 * Reads a GGUF file (versions 2 and 3, little-endian): header, metadata and
 * tensor infos up front, tensor data lazily, one tensor at a time, so that a
 * conversion never holds more than one dequantized tensor in memory.
 *
 * Layout: magic `GGUF`, version u32, tensor count u64, metadata count u64,
 * metadata key/values, tensor infos (name, dims, type, offset), padding to
 * `general.alignment` (default 32), then the tensor data.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CanopyError } from '../../kernels/errors.js';
import { ggmlByteSize, ggmlTypeInfo, ggmlTypeName } from './ggml-types.js';

/** A metadata value: numbers (u64/i64 beyond 2^53 as bigint), strings, booleans, arrays. */
export type GgufValue = number | bigint | string | boolean | GgufArray;
export type GgufArray = readonly GgufValue[] | Float32Array | Int32Array | Uint32Array;

export interface GgufTensorInfo {
  readonly name: string;
  /** GGML order: dims[0] is the innermost (contiguous) dimension. */
  readonly dims: readonly number[];
  readonly type: number;
  readonly elements: number;
  /** Absolute byte offset of the data in the file. */
  readonly offset: number;
  readonly byteSize: number;
}

export interface GgufFile {
  readonly path: string;
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: ReadonlyMap<string, GgufTensorInfo>;
  /** Reads the raw bytes of one tensor. */
  readTensorBytes(info: GgufTensorInfo): Uint8Array;
  close(): void;
}

const MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const CHUNK = 1 << 20;
/** Byte size of the fixed-size metadata value types (8 string, 9 array, 10/11 64-bit ints handled apart). */
const SCALAR_SIZE: Readonly<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  12: 8,
};

/** Buffered forward reader over a file descriptor. */
class Cursor {
  #buf = new Uint8Array(0);
  #view = new DataView(this.#buf.buffer);
  #start = 0; // file offset of #buf[0]
  #pos = 0; // file offset of the next byte
  readonly #decoder = new TextDecoder('utf-8');

  constructor(
    readonly fd: number,
    readonly fileSize: number,
  ) {}

  get position(): number {
    return this.#pos;
  }

  #ensure(n: number): number {
    const at = this.#pos - this.#start;
    if (at + n <= this.#buf.length) return at;
    if (this.#pos + n > this.fileSize) throw invalid(`truncated at byte ${this.#pos}`);
    const size = Math.min(Math.max(n, CHUNK), this.fileSize - this.#pos);
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
    readSync(this.fd, this.#buf, 0, size, this.#pos);
    this.#start = this.#pos;
    return 0;
  }

  u8(): number {
    const at = this.#ensure(1);
    this.#pos += 1;
    return this.#buf[at];
  }
  u32(): number {
    const at = this.#ensure(4);
    this.#pos += 4;
    return this.#view.getUint32(at, true);
  }
  /** u64 as a number when it fits 2^53, else a bigint. */
  u64(): number | bigint {
    const at = this.#ensure(8);
    this.#pos += 8;
    const v = this.#view.getBigUint64(at, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(): number | bigint {
    const at = this.#ensure(8);
    this.#pos += 8;
    const v = this.#view.getBigInt64(at, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  count(what: string): number {
    const n = this.u64();
    if (typeof n === 'bigint' || n > this.fileSize) throw invalid(`implausible ${what} count ${n}`);
    return n;
  }
  string(): string {
    const n = this.count('string length');
    const at = this.#ensure(n);
    this.#pos += n;
    return this.#decoder.decode(this.#buf.subarray(at, at + n));
  }
  scalar(type: number): number | bigint | boolean | string {
    if (type === 8) return this.string();
    if (type === 10) return this.u64();
    if (type === 11) return this.i64();
    const size = SCALAR_SIZE[type];
    if (size === undefined) throw invalid(`unknown metadata value type ${type} at byte ${this.#pos}`);
    const at = this.#ensure(size);
    this.#pos += size;
    const v = this.#view;
    switch (type) {
      case 0:
        return v.getUint8(at);
      case 1:
        return v.getInt8(at);
      case 2:
        return v.getUint16(at, true);
      case 3:
        return v.getInt16(at, true);
      case 4:
        return v.getUint32(at, true);
      case 5:
        return v.getInt32(at, true);
      case 6:
        return v.getFloat32(at, true);
      case 7:
        return v.getUint8(at) !== 0;
      default:
        return v.getFloat64(at, true);
    }
  }
}

function invalid(what: string): CanopyError {
  return new CanopyError('CANOPY_ERR_GGUF_INVALID', `not a valid GGUF file: ${what}`);
}

function readValue(c: Cursor, type: number): GgufValue {
  if (type !== 9) return c.scalar(type);
  const itemType = c.u32();
  const n = c.count('array length');
  // Typed arrays for the big numeric arrays (token scores and types) keep memory low.
  if (itemType === 6) return Float32Array.from({ length: n }, () => c.scalar(6) as number);
  if (itemType === 5) return Int32Array.from({ length: n }, () => c.scalar(5) as number);
  if (itemType === 4) return Uint32Array.from({ length: n }, () => c.scalar(4) as number);
  const out: GgufValue[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readValue(c, itemType);
  return out;
}

/** Opens a GGUF file and reads everything but the tensor data. */
export function openGguf(path: string): GgufFile {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size);
    if (size < 24 || c.u32() !== MAGIC) throw invalid(`${path} does not start with the GGUF magic`);
    const version = c.u32();
    if (version !== 2 && version !== 3) throw invalid(`unsupported GGUF version ${version}`);
    const tensorCount = c.count('tensor');
    const kvCount = c.count('metadata');

    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = c.string();
      metadata.set(key, readValue(c, c.u32()));
    }

    const raw: { name: string; dims: number[]; type: number; offset: number }[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = c.string();
      const nDims = c.u32();
      if (nDims > 4) throw invalid(`tensor ${name} has ${nDims} dimensions`);
      const dims = Array.from({ length: nDims }, () => Number(c.u64()));
      const type = c.u32();
      const offset = Number(c.u64());
      raw.push({ name, dims, type, offset });
    }

    const alignment = Number(metadata.get('general.alignment') ?? 32);
    const dataStart = Math.ceil(c.position / alignment) * alignment;
    const tensors = new Map<string, GgufTensorInfo>();
    for (const t of raw) {
      const elements = t.dims.reduce((a, b) => a * b, 1);
      const info = ggmlTypeInfo(t.type);
      // Unknown types are kept (byteSize -1) so the converter can name them in its error.
      const byteSize = info && elements % info.blockSize === 0 ? ggmlByteSize(info, elements) : -1;
      const offset = dataStart + t.offset;
      if (byteSize > 0 && offset + byteSize > size) {
        throw invalid(`tensor ${t.name} (${ggmlTypeName(t.type)}) runs past the end of the file`);
      }
      tensors.set(t.name, { ...t, elements, offset, byteSize });
    }

    let closed = false;
    return {
      path,
      version,
      metadata,
      tensors,
      readTensorBytes(info) {
        if (closed) throw new CanopyError('CANOPY_ERR_INTERNAL', 'GGUF file already closed');
        if (info.byteSize < 0) throw invalid(`tensor ${info.name} has an unreadable layout`);
        const out = new Uint8Array(info.byteSize);
        let done = 0;
        while (done < out.length) {
          const n = readSync(fd, out, done, out.length - done, info.offset + done);
          if (n === 0) throw invalid(`tensor ${info.name} is truncated`);
          done += n;
        }
        return out;
      },
      close() {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Typed metadata access with a clear error for missing or mistyped keys. */
export function metaNumber(meta: ReadonlyMap<string, GgufValue>, key: string, fallback?: number): number {
  const v = meta.get(key);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw invalid(`metadata ${key} is ${v === undefined ? 'missing' : 'not a number'}`);
}

export function metaString(meta: ReadonlyMap<string, GgufValue>, key: string): string | undefined {
  const v = meta.get(key);
  return typeof v === 'string' ? v : undefined;
}
