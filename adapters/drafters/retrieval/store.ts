import { SuffixIndex } from '../../../kernels/suffix-index.js';

/**
 * What the retrieval drafter searches, shared by every request of one model:
 * a fixed corpus index, and the history of past outputs.
 *
 * History is split over `shards` suffix indexes, newest last, each holding up
 * to historyTokens / shards tokens. An automaton cannot delete, so eviction
 * drops the oldest shard whole when a new one starts: history stays within
 * historyTokens, and at worst forgets a shard's worth at once.
 */
export class RetrievalStore {
  readonly #corpus: SuffixIndex | null;
  readonly #shards: SuffixIndex[] = [];
  readonly #maxShards: number;
  readonly #shardTokens: number;
  #indexes: readonly SuffixIndex[];

  constructor(corpus: readonly ArrayLike<number>[], historyTokens: number, shards: number) {
    let index: SuffixIndex | null = null;
    for (const doc of corpus) {
      if (doc.length === 0) continue;
      index ??= new SuffixIndex();
      index.addDocument(doc);
    }
    index?.finalize();
    this.#corpus = index;
    this.#maxShards = shards;
    this.#shardTokens = Math.ceil(historyTokens / shards);
    this.#indexes = index ? [index] : [];
  }

  /** The indexes to search: the corpus first, then history shards, oldest first. */
  get indexes(): readonly SuffixIndex[] {
    return this.#indexes;
  }

  /** Longest document the history takes (longer ones keep their beginning). */
  get maxDocumentTokens(): number {
    return this.#shardTokens;
  }

  get historyTokens(): number {
    return this.#shards.reduce((sum, s) => sum + s.tokenCount, 0);
  }

  get byteLength(): number {
    return this.#indexes.reduce((sum, s) => sum + s.byteLength, 0);
  }

  /** Adds a finished output to the history (a no-op when history is off). */
  addHistory(document: ArrayLike<number>): void {
    const length = Math.min(document.length, this.#shardTokens);
    if (length === 0) return;
    let active = this.#shards[this.#shards.length - 1];
    if (!active || active.tokenCount + length > this.#shardTokens) {
      active = new SuffixIndex();
      this.#shards.push(active);
      if (this.#shards.length > this.#maxShards) this.#shards.shift();
    }
    active.addDocument(document, 0, length);
    active.finalize();
    this.#indexes = this.#corpus ? [this.#corpus, ...this.#shards] : [...this.#shards];
  }
}
