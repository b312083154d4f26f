import { growBestFirst } from '../../../kernels/best-first-tree.js';
import { NgramIndex } from '../../../kernels/ngram-match.js';
import type { Draft, DraftContext, DrafterSession, DraftFeedback } from '../../drafter.js';
import type { NgramOptions } from './options.js';

/**
 * Pseudo-count of "something else follows" at the first draft level. Deeper
 * down the match is effectively longer (the path itself matched), so the
 * prior shrinks as 1 / (1 + depth): a continuation that keeps agreeing earns
 * confidence. The engine calibrates these heuristic scores online.
 */
const SMOOTHING = 1;
/** Chain entries a lookup may inspect per match it wants (hash collisions, other sizes). */
const STEPS_PER_MATCH = 4;

/**
 * Prompt lookup for one request. The index holds the prompt and the output so
 * far, and grows by the emitted tokens only. A proposal takes the latest
 * occurrences of the longest matching suffix (then shorter ones), and turns
 * their continuations into a trie: distinct continuations are branches, and a
 * branch's score is the share of the (length-weighted) occurrences that
 * continue with it.
 */
export class NgramSession implements DrafterSession {
  readonly #options: NgramOptions;
  readonly #index: NgramIndex;
  /** [maxMatches] end positions of the matches of the current proposal. */
  readonly #ends: Int32Array;
  /** [maxMatches] weight of each match: its length / maxN. */
  readonly #weights: Float64Array;
  readonly #scratch: Int32Array;
  /** Per proposal: the match ids behind each trie node (the handle is the list index). */
  #groups: number[][] = [];

  constructor(options: NgramOptions, prompt: Int32Array) {
    this.#options = options;
    this.#index = new NgramIndex({
      minN: options.minN,
      maxN: options.maxN,
      initialCapacity: prompt.length + 512,
    });
    this.#index.append(prompt);
    this.#ends = new Int32Array(options.maxMatches);
    this.#weights = new Float64Array(options.maxMatches);
    this.#scratch = new Int32Array(options.maxMatches);
  }

  propose(context: DraftContext): Draft | null {
    this.#sync(context.tokens);
    const length = this.#index.length;
    if (context.budget < 2 || length === 0) return null;
    const matches = this.#collectMatches();
    if (matches === 0) return null;

    const tokens = this.#index.tokens;
    const root: number[] = [];
    for (let m = 0; m < matches; m++) root.push(m);
    this.#groups = [root];
    const draft = growBestFirst(
      tokens[length - 1],
      0,
      // The trie has at most one node per match and depth.
      {
        budget: Math.min(context.budget, 1 + matches * this.#options.maxDepth),
        maxDepth: this.#options.maxDepth,
        minScore: 0,
      },
      (handle, depth, emit) => this.#expand(handle, depth, emit),
    );
    this.#groups = [];
    return draft.tokens.length > 1 ? draft : null;
  }

  observe(feedback: DraftFeedback): void {
    this.#sync(feedback.tokens);
  }

  /** Appends what was committed since the last call; rebuilds if the context is not an extension. */
  #sync(tokens: Int32Array): void {
    const index = this.#index;
    const known = index.length;
    if (tokens.length >= known && (known === 0 || tokens[known - 1] === index.tokens[known - 1])) {
      if (tokens.length > known) index.append(tokens, known, tokens.length);
      return;
    }
    index.reset();
    index.append(tokens);
  }

  /** Longest suffixes first, newest occurrences first; each end position once. */
  #collectMatches(): number {
    const { minN, maxN, maxMatches } = this.#options;
    const ends = this.#ends;
    let count = 0;
    for (let n = maxN; n >= minN && count < maxMatches; n--) {
      const found = this.#index.findMatches(n, this.#scratch, STEPS_PER_MATCH * maxMatches);
      for (let f = 0; f < found && count < maxMatches; f++) {
        const end = this.#scratch[f];
        let known = false;
        for (let m = 0; m < count && !known; m++) known = ends[m] === end;
        if (known) continue;
        ends[count] = end;
        this.#weights[count] = n / maxN;
        count++;
      }
    }
    return count;
  }

  #expand(handle: number, depth: number, emit: (token: number, score: number, child: number) => void): void {
    const tokens = this.#index.tokens;
    const length = this.#index.length;
    const next: number[] = [];
    const weight: number[] = [];
    const members: number[][] = [];
    let total = 0;
    for (const m of this.#groups[handle]) {
      const at = this.#ends[m] + 1 + depth;
      if (at >= length) continue;
      const w = this.#weights[m];
      total += w;
      const k = next.indexOf(tokens[at]);
      if (k >= 0) {
        weight[k] += w;
        members[k].push(m);
      } else {
        next.push(tokens[at]);
        weight.push(w);
        members.push([m]);
      }
    }
    const prior = SMOOTHING / (1 + depth);
    for (let k = 0; k < next.length; k++) {
      this.#groups.push(members[k]);
      emit(next[k], weight[k] / (total + prior), this.#groups.length - 1);
    }
  }
}
