import { rankPrior } from './template.js';

/** Scores stay in (0, 1], as in the adjacency matrix. */
const MIN_SCORE = 1e-4;

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
export class PairTable {
  readonly rows: number;
  readonly k: number;
  readonly vocabSize: number;
  readonly #mask: number;
  /** [rows * 2] (previous, current) token of each row; previous -1 = empty. */
  readonly #keys: Int32Array;
  /** [rows * k] next-token ids, best first; -1 = none. */
  readonly #ids: Int32Array;
  readonly #scores: Float32Array;

  /** `rows` must be a power of two. */
  constructor(rows: number, k: number, vocabSize: number) {
    if (!(Number.isInteger(rows) && rows > 0 && (rows & (rows - 1)) === 0)) {
      throw new RangeError(`pair table rows must be a power of two, got ${rows}`);
    }
    this.rows = rows;
    this.k = k;
    this.vocabSize = vocabSize;
    this.#mask = rows - 1;
    this.#keys = new Int32Array(rows * 2).fill(-1);
    this.#ids = new Int32Array(rows * k).fill(-1);
    this.#scores = new Float32Array(rows * k);
  }

  get byteLength(): number {
    return this.#keys.byteLength + this.#ids.byteLength + this.#scores.byteLength;
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
   * Writes the target's top-k after (previous, token): `ids[offset ..
   * offset + width)`, best first, scored by `logprobs` when given and by the
   * rank prior otherwise. Ids outside the vocabulary are dropped; a pair
   * with a token outside it (previous -1: there is none) is not recorded.
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
    const base = row * this.k;
    const take = Math.min(width, this.k);
    for (let r = 0; r < this.k; r++) {
      const id = r < take ? ids[offset + r] : -1;
      const ok = id >= 0 && id < this.vocabSize;
      this.#ids[base + r] = ok ? id : -1;
      if (ok) {
        const p = logprobs ? Math.exp(logprobs[offset + r]) : rankPrior(r);
        this.#scores[base + r] = p >= MIN_SCORE ? Math.min(p, 1) : MIN_SCORE;
      }
    }
  }

  /** The rank-r next token of `row` (from find), or -1. */
  id(row: number, rank: number): number {
    return this.#ids[row * this.k + rank];
  }

  score(row: number, rank: number): number {
    return this.#scores[row * this.k + rank];
  }
}
