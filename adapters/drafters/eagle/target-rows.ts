/**
 * Rows of the target's embedding and LM-head matrices, read straight from the
 * converted model's weights file (docs/model-format.md). The head is trained
 * against the target's own frozen embedding and (tied) LM head, so they are
 * not shipped with it: the drafter reads the draft vocabulary's rows once and
 * any other token's embedding row on demand.
 *
 * Where a tensor lies in `model.onnx.data` is recorded in `model.onnx` as
 * ONNX external-data entries; a few dozen lines of protobuf reading find it.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** A float32 [rows, width] tensor inside a file. */
export interface TensorLocation {
  readonly file: string;
  readonly offset: number;
  readonly rows: number;
  readonly width: number;
}

/** Calls `field(number, wireType, start, end)` for each field of a message in bytes[start, end). */
function forEachField(
  bytes: Uint8Array,
  start: number,
  end: number,
  field: (num: number, wire: number, from: number, to: number, value: number) => void,
): void {
  let i = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[i++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  };
  while (i < end) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) field(num, wire, i, i, varint());
    else if (wire === 2) {
      const len = varint();
      field(num, wire, i, i + len, len);
      i += len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const decoder = new TextDecoder();

/** Finds float32 initializers stored as external data in an ONNX model file. */
export function findExternalTensors(
  modelFile: string,
  names: readonly string[],
): Map<string, TensorLocation> {
  const bytes = readFileSync(modelFile);
  const wanted = new Set(names);
  const found = new Map<string, TensorLocation>();
  const dir = join(modelFile, '..');
  forEachField(bytes, 0, bytes.length, (num, wire, from, to) => {
    if (num !== 7 || wire !== 2) return; // ModelProto.graph
    forEachField(bytes, from, to, (gNum, gWire, tFrom, tTo) => {
      if (gNum !== 5 || gWire !== 2) return; // GraphProto.initializer
      const dims: number[] = [];
      const ext = new Map<string, string>();
      let name = '';
      let dtype = 0;
      forEachField(bytes, tFrom, tTo, (f, w, a, b, value) => {
        if (f === 1 && w === 0) dims.push(value);
        else if (f === 2 && w === 0) dtype = value;
        else if (f === 8 && w === 2) name = decoder.decode(bytes.subarray(a, b));
        else if (f === 13 && w === 2) {
          let key = '';
          let val = '';
          forEachField(bytes, a, b, (ef, _ew, ea, eb) => {
            if (ef === 1) key = decoder.decode(bytes.subarray(ea, eb));
            else if (ef === 2) val = decoder.decode(bytes.subarray(ea, eb));
          });
          ext.set(key, val);
        }
      });
      if (!wanted.has(name) || dtype !== 1 || dims.length !== 2 || !ext.has('location')) return;
      found.set(name, {
        file: join(dir, ext.get('location')!),
        offset: Number(ext.get('offset') ?? 0),
        rows: dims[0],
        width: dims[1],
      });
    });
  });
  return found;
}

/**
 * Reads rows of one [rows, width] float32 tensor by index, with a bounded
 * cache of single rows for tokens outside a preloaded block.
 */
export class TensorRows {
  readonly #loc: TensorLocation;
  readonly #fd: number;
  readonly #cache = new Map<number, Float32Array>();
  readonly #cacheLimit: number;

  constructor(loc: TensorLocation, cacheLimit = 4096) {
    this.#loc = loc;
    this.#fd = openSync(loc.file, 'r');
    this.#cacheLimit = cacheLimit;
  }

  get width(): number {
    return this.#loc.width;
  }

  /** One row (a cached copy; do not modify it). */
  row(id: number): Float32Array {
    let row = this.#cache.get(id);
    if (row) {
      // Map order is insertion order: re-inserting makes it the most recently used.
      this.#cache.delete(id);
      this.#cache.set(id, row);
      return row;
    }
    row = this.rowUncached(id);
    if (this.#cacheLimit > 0) {
      if (this.#cache.size >= this.#cacheLimit) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(id, row);
    }
    return row;
  }

  /** One row, read from the file into a new array. */
  rowUncached(id: number): Float32Array {
    if (!(id >= 0 && id < this.#loc.rows)) throw new RangeError(`row ${id} outside [0, ${this.#loc.rows})`);
    const row = new Float32Array(this.#loc.width);
    const bytes = new Uint8Array(row.buffer);
    const at = this.#loc.offset + id * bytes.length;
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.#fd, bytes, done, bytes.length - done, at + done);
      if (n === 0) throw new Error(`${this.#loc.file} ends inside row ${id}`);
      done += n;
    }
    return row;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
