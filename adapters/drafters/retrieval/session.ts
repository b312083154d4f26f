import { growBestFirst } from '../../../kernels/best-first-tree.js';
import type { SuffixIndex } from '../../../kernels/suffix-index.js';
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { RetrievalOptions } from './options.js';
import type { RetrievalStore } from './store.js';

/**
 * Pseudo-counts of "something else follows". Occurrences come from other
 * requests and documents, so a few of them are weak evidence: with 4, a lone
 * occurrence scores 1/5, and on greedy Spec-Bench outputs of SmolLM2 the
 * acceptance rate rises with the score (with 1 it did not).
 */
const SMOOTHING = 4;
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
  /** Reused by every expansion: child token -> slot, and per slot its token and count. */
  readonly #scratch = { slot: new Map<number, number>(), next: [] as number[], counts: [] as number[] };

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
      const match = indexes[i].matchSuffix(tokens, from, length, true);
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
    const { slot, next, counts } = this.#scratch;
    slot.clear();
    next.length = 0;
    counts.length = 0;
    for (let p = 0; p < parent.pairs.length; p += 2) {
      const index = indexes[parent.pairs[p]];
      const state = parent.pairs[p + 1];
      // Transitions come most frequent first: stop at the first one this index alone
      // finds rarer than minScore, so a wide state ("the") costs no more than a narrow one.
      const floor = this.#options.minScore * index.count(state);
      for (let e = index.firstEdge(state); e >= 0; e = index.nextEdge(e)) {
        const count = index.count(index.edgeTarget(e));
        if (count < floor) break;
        const token = index.edgeToken(e);
        const k = slot.get(token);
        if (k === undefined) {
          slot.set(token, next.length);
          next.push(token);
          counts.push(count);
        } else {
          counts[k] += count;
        }
      }
    }
    for (let k = 0; k < next.length; k++) {
      const score = counts[k] / (parent.count + SMOOTHING);
      if (score < this.#options.minScore) continue;
      const pairs: number[] = [];
      for (let p = 0; p < parent.pairs.length; p += 2) {
        const target = indexes[parent.pairs[p]].transition(parent.pairs[p + 1], next[k]);
        if (target >= 0) pairs.push(parent.pairs[p], target);
      }
      this.#nodes.push({ pairs, count: counts[k] });
      emit(next[k], score, this.#nodes.length - 1);
    }
  }
}
