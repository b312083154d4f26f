import { rankPrior } from './template.js';

/** Scores stay in (0, 1]: a rank the target gave a vanishing probability still ranks above "unseen". */
const MIN_SCORE = 1e-4;

/**
 * The Token Recycling adjacency matrix: for every token, the target's top-k
 * next tokens the last time it verified that token, with their scores. One
 * per model, shared by all its requests, updated from every verify pass.
 *
 * Memory is fixed at vocabSize × k × 8 bytes (49152 × 8: 3 MiB).
 */
export class AdjacencyMatrix {
  readonly vocabSize: number;
  readonly k: number;
  /** [vocabSize * k] next-token ids, best first; -1 = unseen. */
  readonly #ids: Int32Array;
  /** [vocabSize * k] score of each id: its probability, or the rank prior. */
  readonly #scores: Float32Array;

  constructor(vocabSize: number, k: number) {
    this.vocabSize = vocabSize;
    this.k = k;
    this.#ids = new Int32Array(vocabSize * k).fill(-1);
    this.#scores = new Float32Array(vocabSize * k);
  }

  get byteLength(): number {
    return this.#ids.byteLength + this.#scores.byteLength;
  }

  /**
   * Replaces the row of `token` with `ids[offset .. offset + width)` (the
   * target's top-k after it, best first). Log-probabilities, when given, become
   * the scores; otherwise the rank prior does. Ids outside the vocabulary are
   * dropped, and so is a row for a token outside it.
   */
  record(token: number, ids: Int32Array, offset: number, width: number, logprobs?: Float32Array): void {
    if (!(token >= 0 && token < this.vocabSize)) return;
    const row = token * this.k;
    const take = Math.min(width, this.k);
    for (let r = 0; r < this.k; r++) {
      const id = r < take ? ids[offset + r] : -1;
      if (id >= 0 && id < this.vocabSize) {
        this.#ids[row + r] = id;
        const p = logprobs ? Math.exp(logprobs[offset + r]) : rankPrior(r);
        this.#scores[row + r] = p >= MIN_SCORE ? Math.min(p, 1) : MIN_SCORE;
      } else {
        this.#ids[row + r] = -1;
      }
    }
  }

  /** Whether anything was recorded after `token`. */
  seen(token: number): boolean {
    return token >= 0 && token < this.vocabSize && this.#ids[token * this.k] >= 0;
  }

  /** The rank-r next token after `token`, or -1. `token` must be in the vocabulary. */
  id(token: number, rank: number): number {
    return this.#ids[token * this.k + rank];
  }

  score(token: number, rank: number): number {
    return this.#scores[token * this.k + rank];
  }
}
