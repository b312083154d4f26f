import { rankPrior } from './template.js';

/** Scores stay in (0, 1]: a rank the target gave a vanishing probability still ranks above "unseen". */
const MIN_SCORE = 1e-4;

/**
 * Fixed rows of the target's top-k next tokens, best first, with their
 * scores: the storage the adjacency matrix (a row per token) and the pair
 * table (a row per hashed token pair) share. Memory is rows × k × 8 bytes.
 */
export class TopKRows {
  readonly k: number;
  readonly vocabSize: number;
  /** [rows * k] next-token ids, best first; -1 = none. */
  readonly #ids: Int32Array;
  /** [rows * k] score of each id: its probability, or the rank prior. */
  readonly #scores: Float32Array;

  constructor(rows: number, k: number, vocabSize: number) {
    this.k = k;
    this.vocabSize = vocabSize;
    this.#ids = new Int32Array(rows * k).fill(-1);
    this.#scores = new Float32Array(rows * k);
  }

  get byteLength(): number {
    return this.#ids.byteLength + this.#scores.byteLength;
  }

  /** The rank-r next token of `row`, or -1. */
  id(row: number, rank: number): number {
    return this.#ids[row * this.k + rank];
  }

  score(row: number, rank: number): number {
    return this.#scores[row * this.k + rank];
  }

  /**
   * Replaces `row` with `ids[offset .. offset + width)` (the target's top-k,
   * best first). Log-probabilities, when given, become the scores; otherwise
   * the rank prior does. Ids outside the vocabulary are dropped.
   */
  protected write(
    row: number,
    ids: Int32Array,
    offset: number,
    width: number,
    logprobs?: Float32Array,
  ): void {
    const base = row * this.k;
    const take = Math.min(width, this.k);
    for (let r = 0; r < this.k; r++) {
      const id = r < take ? ids[offset + r] : -1;
      if (id >= 0 && id < this.vocabSize) {
        this.#ids[base + r] = id;
        const p = logprobs ? Math.exp(logprobs[offset + r]) : rankPrior(r);
        this.#scores[base + r] = p >= MIN_SCORE ? Math.min(p, 1) : MIN_SCORE;
      } else {
        this.#ids[base + r] = -1;
      }
    }
  }
}
