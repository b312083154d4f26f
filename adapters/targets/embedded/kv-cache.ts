/**
 * The KV cache of one session: per layer, keys and values as
 * `[capacity, kvHeads, headDim]` float32 rows (position-major, so the first
 * `length` rows are a zero-copy prefix view the graph reads as `past_*`).
 *
 * Rows `[length, length + pending)` hold the KV of the last verified tree,
 * written there by onnxruntime through pre-allocated outputs. `accept` moves
 * the accepted nodes' rows down onto the committed prefix; the rest are
 * simply overwritten by the next pass.
 */
import { CanopyError } from '../../../kernels/errors.js';

const MIN_CAPACITY = 64;

export class KvCache {
  /** Floats per position: kvHeads * headDim. */
  readonly rowSize: number;
  #keys: Float32Array[];
  #values: Float32Array[];
  #capacity = 0;
  /** Committed positions (rows with final KV). */
  #length = 0;

  constructor(
    readonly numLayers: number,
    kvHeads: number,
    headDim: number,
    /** Hard ceiling on rows (committed + pending). */
    readonly maxRows: number,
  ) {
    this.rowSize = kvHeads * headDim;
    this.#keys = new Array(numLayers);
    this.#values = new Array(numLayers);
  }

  get length(): number {
    return this.#length;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Makes room for `rows` rows in total, growing geometrically (amortised O(1) copies per row). */
  reserve(rows: number): void {
    if (rows <= this.#capacity) return;
    if (rows > this.maxRows) {
      throw new CanopyError('CANOPY_ERR_INTERNAL', `KV cache asked for ${rows} rows, limit ${this.maxRows}`);
    }
    const capacity = Math.min(this.maxRows, Math.max(rows, MIN_CAPACITY, this.#capacity * 2));
    const used = this.#length * this.rowSize;
    for (let l = 0; l < this.numLayers; l++) {
      const k = new Float32Array(capacity * this.rowSize);
      const v = new Float32Array(capacity * this.rowSize);
      if (this.#keys[l]) {
        k.set(this.#keys[l].subarray(0, used));
        v.set(this.#values[l].subarray(0, used));
      }
      this.#keys[l] = k;
      this.#values[l] = v;
    }
    this.#capacity = capacity;
  }

  /** [length, kvHeads, headDim] committed keys of layer l (a view). */
  pastKeys(l: number): Float32Array {
    return this.#keys[l].subarray(0, this.#length * this.rowSize);
  }

  pastValues(l: number): Float32Array {
    return this.#values[l].subarray(0, this.#length * this.rowSize);
  }

  /** [n, kvHeads, headDim] rows right after the committed prefix, where a pass writes its new KV. */
  pendingKeys(l: number, n: number): Float32Array {
    return this.#keys[l].subarray(this.#length * this.rowSize, (this.#length + n) * this.rowSize);
  }

  pendingValues(l: number, n: number): Float32Array {
    return this.#values[l].subarray(this.#length * this.rowSize, (this.#length + n) * this.rowSize);
  }

  /** Commits every pending row in order (a prefill chunk). */
  commitAll(n: number): void {
    this.#length += n;
  }

  /**
   * Commits the pending rows of `nodes` (tree node indices, increasing, a
   * path from the root), moving each to the next committed slot.
   */
  commitPath(nodes: Int32Array): void {
    const r = this.rowSize;
    const base = this.#length;
    for (let i = 0; i < nodes.length; i++) {
      const from = nodes[i];
      // nodes[i] >= i, so a row only ever moves down onto a slot already read.
      if (from === i) continue;
      const src = (base + from) * r;
      const dst = (base + i) * r;
      for (let l = 0; l < this.numLayers; l++) {
        this.#keys[l].copyWithin(dst, src, src + r);
        this.#values[l].copyWithin(dst, src, src + r);
      }
    }
    this.#length += nodes.length;
  }

  /** Drops the buffers (the session is closed). */
  release(): void {
    this.#keys = [];
    this.#values = [];
    this.#capacity = 0;
    this.#length = 0;
  }
}
