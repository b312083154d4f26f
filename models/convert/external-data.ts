/**
 * Streams weights into one ONNX external-data file, tensor after tensor, and
 * returns the initializer records that point into it.
 *
 * Large tensors start on 64 KiB boundaries: onnxruntime memory-maps external
 * initializers whose offset is a multiple of the allocation granularity (4 KiB
 * on Linux, 64 KiB on Windows) instead of copying them.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { OnnxTensor } from './onnx-model.js';

const BIG = 1 << 20;
const BIG_ALIGN = 1 << 16;
const SMALL_ALIGN = 64;

export class ExternalDataWriter {
  readonly #fd: number;
  #offset = 0;

  /** `path` is the file to write; `location` its name relative to the graph file. */
  constructor(
    path: string,
    readonly location: string,
  ) {
    this.#fd = openSync(path, 'w');
  }

  get bytesWritten(): number {
    return this.#offset;
  }

  /** Appends a float32 tensor and returns its external initializer record. */
  add(name: string, dims: readonly number[], data: Float32Array): OnnxTensor {
    const align = data.byteLength >= BIG ? BIG_ALIGN : SMALL_ALIGN;
    const start = Math.ceil(this.#offset / align) * align;
    if (start > this.#offset) this.#write(new Uint8Array(start - this.#offset));
    this.#write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return {
      name,
      dtype: 'float32',
      dims,
      external: { location: this.location, offset: start, length: data.byteLength },
    };
  }

  #write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    this.#offset += bytes.length;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
