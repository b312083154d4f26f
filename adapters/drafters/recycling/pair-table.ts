import { TopKRows } from './top-k-rows.js';

/**
 * A second-order companion to the adjacency matrix: the target's top-k next
 * tokens after a *pair* of tokens (the previous one and the current one), the
 * last time it verified that pair. The single-token row mixes every context
 * the token appeared in; the pair row is the same observation with one more
 * token of context, so where it exists it predicts better, and the drafter
 * falls back to the single-token row where it does not.
 *
 * A direct-mapped hash table: a fixed number of rows, a pair hashes to one of
 * them, and a newer pair evicts an older one with the same hash (the key is
 * stored, so a lookup never returns another pair's row). Memory is fixed at
 * rows × (k × 8 + 8) bytes (65536 rows, k = 8: 4.5 MiB).
 */
export class PairTable extends TopKRows {
  readonly rows: number;
  readonly #mask: number;
  /** [rows * 2] (previous, current) token of each row; previous -1 = empty. */
  readonly #keys: Int32Array;

  /** `rows` must be a power of two. */
  constructor(rows: number, k: number, vocabSize: number) {
    if (!(Number.isInteger(rows) && rows > 0 && (rows & (rows - 1)) === 0)) {
      throw new RangeError(`pair table rows must be a power of two, got ${rows}`);
    }
    super(rows, k, vocabSize);
    this.rows = rows;
    this.#mask = rows - 1;
    this.#keys = new Int32Array(rows * 2).fill(-1);
  }

  override get byteLength(): number {
    return super.byteLength + this.#keys.byteLength;
  }

  #slot(previous: number, token: number): number {
    let h = Math.imul(previous ^ 0x5bd1e995, 0x9e3779b1) ^ token;
    h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
    h ^= h >>> 13;
    return h & this.#mask;
  }

  /** The row of (previous, token), or -1 when that pair is not in the table. */
  find(previous: number, token: number): number {
    if (previous < 0 || token < 0) return -1;
    const row = this.#slot(previous, token);
    return this.#keys[2 * row] === previous && this.#keys[2 * row + 1] === token ? row : -1;
  }

  /**
   * Writes the target's top-k after (previous, token); see TopKRows.write. A
   * pair with a token outside the vocabulary (previous -1: there is none) is
   * not recorded.
   */
  record(
    previous: number,
    token: number,
    ids: Int32Array,
    offset: number,
    width: number,
    logprobs?: Float32Array,
  ): void {
    if (!(previous >= 0 && previous < this.vocabSize && token >= 0 && token < this.vocabSize)) return;
    const row = this.#slot(previous, token);
    this.#keys[2 * row] = previous;
    this.#keys[2 * row + 1] = token;
    this.write(row, ids, offset, width, logprobs);
  }
}
