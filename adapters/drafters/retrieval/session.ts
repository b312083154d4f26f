import { growBestFirst } from '../../../kernels/best-first-tree.js';
import type { SuffixIndex } from '../../../kernels/suffix-index.js';
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { RetrievalOptions } from './options.js';
import type { RetrievalStore } from './store.js';

/** Pseudo-count of "stops here / something unseen": a lone occurrence scores 1/2, not 1. */
const SMOOTHING = 1;
/**
 * Prompt tokens stored before each output: the chat template's assistant
 * header, so that a new answer's first tokens can be matched too.
 */
const LEAD_IN = 8;
/** Most nodes one proposal builds, whatever the budget. */
const MAX_NODES = 1024;

/** A node of the continuation trie: the index states holding its string, and their total count. */
interface TrieNode {
  /** (index number, state) pairs, flat. */
  readonly pairs: number[];
  readonly count: number;
}

/**
 * One request of the retrieval drafter. Proposing finds the longest suffix of
 * the context (up to maxMatch tokens) that occurs in the corpus or history,
 * then grows the trie of what followed it, best-first: a child's score is its
 * share of the parent's occurrences (smoothed), children below minScore are
 * pruned (RASD keeps the likely branches of a retrieved tree). Closing the
 * session adds its output to the history.
 *
 * The request's own prompt and output are not searched: that is the `ngram`
 * drafter's job, and fusion would count the same evidence twice.
 */
export class RetrievalSession implements DrafterSession {
  readonly #store: RetrievalStore;
  readonly #options: RetrievalOptions;
  readonly #leadIn: Int32Array;
  #output: Int32Array;
  #outputLength = 0;
  #closed = false;
  #nodes: TrieNode[] = [];

  constructor(store: RetrievalStore, options: RetrievalOptions, prompt: Int32Array) {
    this.#store = store;
    this.#options = options;
    this.#leadIn = prompt.slice(Math.max(0, prompt.length - LEAD_IN));
    this.#output = new Int32Array(options.historyTokens > 0 ? 256 : 0);
  }

  propose(context: DraftContext): Draft | null {
    const indexes = this.#store.indexes;
    const tokens = context.tokens;
    const length = tokens.length;
    if (indexes.length === 0 || length === 0 || context.budget < 2) return null;
    const { minMatch, maxMatch, maxDepth, minScore } = this.#options;
    const from = Math.max(0, length - maxMatch);
    let best = 0;
    let root: number[] = [];
    let total = 0;
    for (let i = 0; i < indexes.length; i++) {
      const match = indexes[i].matchSuffix(tokens, from, length);
      if (match.length < best || match.length === 0) continue;
      if (match.length > best) {
        best = match.length;
        root = [];
        total = 0;
      }
      root.push(i, match.state);
      total += indexes[i].count(match.state);
    }
    if (best < minMatch) return null;
    this.#nodes = [{ pairs: root, count: total }];
    const draft = growBestFirst(
      tokens[length - 1],
      0,
      { budget: Math.min(context.budget, MAX_NODES), maxDepth, minScore },
      (handle, _depth, emit) => this.#expand(indexes, handle, emit),
    );
    this.#nodes = [];
    return draft.tokens.length > 1 ? draft : null;
  }

  observe(feedback: DraftFeedback): void {
    if (this.#closed || this.#output.length === 0) return;
    const room = this.#store.maxDocumentTokens - this.#leadIn.length - this.#outputLength;
    const emitted = feedback.emitted.subarray(0, Math.max(0, room));
    if (this.#outputLength + emitted.length > this.#output.length) {
      const grown = new Int32Array(Math.max(2 * this.#output.length, this.#outputLength + emitted.length));
      grown.set(this.#output.subarray(0, this.#outputLength));
      this.#output = grown;
    }
    this.#output.set(emitted, this.#outputLength);
    this.#outputLength += emitted.length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#outputLength === 0) return;
    const document = new Int32Array(this.#leadIn.length + this.#outputLength);
    document.set(this.#leadIn);
    document.set(this.#output.subarray(0, this.#outputLength), this.#leadIn.length);
    this.#store.addHistory(document);
  }

  #expand(
    indexes: readonly SuffixIndex[],
    handle: number,
    emit: (token: number, score: number, child: number) => void,
  ): void {
    const parent = this.#nodes[handle];
    const slot = new Map<number, number>();
    const next: number[] = [];
    const counts: number[] = [];
    const pairs: number[][] = [];
    for (let p = 0; p < parent.pairs.length; p += 2) {
      const index = indexes[parent.pairs[p]];
      for (let e = index.firstEdge(parent.pairs[p + 1]); e >= 0; e = index.nextEdge(e)) {
        const token = index.edgeToken(e);
        const target = index.edgeTarget(e);
        let k = slot.get(token);
        if (k === undefined) {
          k = next.length;
          slot.set(token, k);
          next.push(token);
          counts.push(0);
          pairs.push([]);
        }
        counts[k] += index.count(target);
        pairs[k].push(parent.pairs[p], target);
      }
    }
    for (let k = 0; k < next.length; k++) {
      const score = counts[k] / (parent.count + SMOOTHING);
      if (score < this.#options.minScore) continue;
      this.#nodes.push({ pairs: pairs[k], count: counts[k] });
      emit(next[k], score, this.#nodes.length - 1);
    }
  }
}
