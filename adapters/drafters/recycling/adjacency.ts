import { TopKRows } from './top-k-rows.js';

/**
 * The Token Recycling adjacency matrix: for every token, the target's top-k
 * next tokens the last time it verified that token, with their scores. One
 * per model, shared by all its requests, updated from every verify pass.
 * The row of a token is the token itself (`id(token, rank)`).
 *
 * Memory is fixed at vocabSize × k × 8 bytes (49152 × 8: 3 MiB).
 */
export class AdjacencyMatrix extends TopKRows {
  constructor(vocabSize: number, k: number) {
    super(vocabSize, k, vocabSize);
  }

  /**
   * Replaces the row of `token` with `ids[offset .. offset + width)` (the
   * target's top-k after it, best first); see TopKRows.write. A row for a
   * token outside the vocabulary is dropped.
   */
  record(token: number, ids: Int32Array, offset: number, width: number, logprobs?: Float32Array): void {
    if (token >= 0 && token < this.vocabSize) this.write(token, ids, offset, width, logprobs);
  }

  /** Whether anything was recorded after `token`. */
  seen(token: number): boolean {
    return token >= 0 && token < this.vocabSize && this.id(token, 0) >= 0;
  }
}
