/**
 * A generalized suffix automaton over a set of token documents: the index
 * behind retrieval drafting (REST, SuffixDecoding).
 *
 * Why an automaton and not a suffix array: documents arrive one at a time (each
 * finished request adds its output), and the automaton takes them online in
 * amortized O(1) per token where a suffix array would be rebuilt. The longest
 * suffix of a context that occurs in the index is one walk over the context's
 * last W tokens, O(W), and the continuations of a match are simply the
 * transitions of its state: the state reached from state s by token c holds
 * the string (s's string + c), and `count` of a state is the number of
 * occurrences of every string it holds (|endpos|). So a frequency-weighted
 * continuation trie is a walk over transitions, with no positions to scan.
 *
 * The automaton cannot forget: callers that need eviction keep several indexes
 * and drop the oldest whole (see adapters/drafters/retrieval).
 *
 * Memory: at most 2 states and 3 transitions per token. Measured with growth
 * slack: about 120 bytes per token on model outputs, 145 on Zipf-random text.
 */

const ROOT = 0;
const NONE = -1;
/** Edge ids stay below 2^31; with counts capped at 2^21 for ordering, count * EDGE_SPAN + edge is an exact double. */
const EDGE_SPAN = 2 ** 31;
const COUNT_CAP = 2 ** 21;

function grown(a: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  let capacity = a.length;
  while (capacity < size) capacity *= 2;
  if (capacity === a.length) return a;
  const b = new Int32Array(capacity);
  b.set(a);
  return b;
}

export interface SuffixMatch {
  /** State holding the matched suffix (0, the root, when nothing matched). */
  readonly state: number;
  /** Tokens matched: the longest suffix of the query that occurs in the index. */
  readonly length: number;
}

export class SuffixIndex {
  // States: [stateCount]
  #len = new Int32Array(64);
  #link = new Int32Array(64);
  #firstEdge = new Int32Array(64);
  /** Occurrences that end in this state as their longest string (1 per indexed position). */
  #own = new Int32Array(64);
  /** |endpos|, valid after finalize(). */
  #count = new Int32Array(64);
  /** The finalize version at which each state's transitions were last ordered. */
  #sortedAt = new Int32Array(64);
  #states = 0;
  // Transitions as per-state linked lists: [edgeCount]
  #edgeToken = new Int32Array(64);
  #edgeTarget = new Int32Array(64);
  #edgeNext = new Int32Array(64);
  #edgeSource = new Int32Array(64);
  #edges = 0;
  /** Open-addressing hash of edge ids by (source, token), for O(1) lookups on wide states. */
  #slots = new Int32Array(128).fill(NONE);
  #tokens = 0;
  #documents = 0;
  #dirty = false;
  #version = 0;
  #sortKeys = new Float64Array(64);

  constructor() {
    this.#newState(0, NONE);
  }

  /** Tokens indexed (over all documents). */
  get tokenCount(): number {
    return this.#tokens;
  }

  get documentCount(): number {
    return this.#documents;
  }

  get stateCount(): number {
    return this.#states;
  }

  /** Bytes held by the index's arrays. */
  get byteLength(): number {
    return 6 * this.#len.byteLength + 4 * this.#edgeToken.byteLength + this.#slots.byteLength;
  }

  /** Adds one document, `tokens[from..to)`. Counts are stale until finalize(). */
  addDocument(tokens: ArrayLike<number>, from = 0, to = tokens.length): void {
    if (to <= from) return;
    let last = ROOT;
    for (let i = from; i < to; i++) {
      last = this.#extend(last, tokens[i]);
      this.#own[last]++;
    }
    this.#tokens += to - from;
    this.#documents++;
    this.#dirty = true;
  }

  /**
   * Recomputes occurrence counts after documents were added: O(states). Each
   * state's transitions are then re-ordered by count the first time they are
   * read, so a finalize costs nothing for states nobody asks about.
   */
  finalize(): void {
    if (!this.#dirty) return;
    const n = this.#states;
    const len = this.#len;
    // Counting sort by length: a state's suffix link is strictly shorter.
    let maxLen = 0;
    for (let v = 0; v < n; v++) if (len[v] > maxLen) maxLen = len[v];
    const bucket = new Int32Array(maxLen + 2);
    for (let v = 0; v < n; v++) bucket[len[v] + 1]++;
    for (let l = 0; l <= maxLen; l++) bucket[l + 1] += bucket[l];
    const order = new Int32Array(n);
    for (let v = 0; v < n; v++) order[bucket[len[v]]++] = v;
    const count = this.#count;
    count.set(this.#own.subarray(0, n));
    for (let i = n - 1; i > 0; i--) {
      const v = order[i];
      count[this.#link[v]] += count[v];
    }
    this.#version++;
    this.#dirty = false;
  }

  /** Relinks one state's transitions most frequent first (counts as of the last finalize). */
  #sortTransitions(state: number): void {
    this.#sortedAt[state] = this.#version;
    const first = this.#firstEdge[state];
    const next = this.#edgeNext;
    if (first === NONE || next[first] === NONE) return;
    let degree = 0;
    for (let e = first; e !== NONE; e = next[e]) degree++;
    if (this.#sortKeys.length < degree) this.#sortKeys = new Float64Array(2 * degree);
    // One numeric key per edge, count-major: a typed-array sort needs no comparator.
    const keys = this.#sortKeys.subarray(0, degree);
    let i = 0;
    for (let e = first; e !== NONE; e = next[e]) {
      keys[i++] = Math.min(this.#count[this.#edgeTarget[e]], COUNT_CAP) * EDGE_SPAN + e;
    }
    keys.sort();
    let previous = NONE;
    for (let j = 0; j < degree; j++) {
      // Ascending keys: link each edge in front of the previous one.
      const e = keys[j] % EDGE_SPAN;
      next[e] = previous;
      previous = e;
    }
    this.#firstEdge[state] = previous;
  }

  /**
   * The longest suffix of `tokens[from..to)` that occurs in the index: walks
   * the window once, falling back along suffix links on a mismatch. With
   * `continued`, the longest one that some token follows somewhere (a suffix
   * seen only at the end of documents has nothing to propose).
   */
  matchSuffix(tokens: ArrayLike<number>, from = 0, to = tokens.length, continued = false): SuffixMatch {
    let state = ROOT;
    let length = 0;
    for (let i = from; i < to; i++) {
      const t = tokens[i];
      let e = this.#find(state, t);
      while (e === NONE && state !== ROOT) {
        state = this.#link[state];
        length = this.#len[state];
        e = this.#find(state, t);
      }
      if (e === NONE) continue;
      state = this.#edgeTarget[e];
      length++;
    }
    while (continued && state !== ROOT && this.#firstEdge[state] === NONE) {
      state = this.#link[state];
      length = this.#len[state];
    }
    return { state, length };
  }

  /** Occurrences of the strings held by `state` (the root counts every position). */
  count(state: number): number {
    return this.#count[state];
  }

  /** Target of the transition from `state` by `token`, or -1. */
  transition(state: number, token: number): number {
    const e = this.#find(state, token);
    return e === NONE ? NONE : this.#edgeTarget[e];
  }

  // Transitions of a state, most frequent first (once finalized), without allocation:
  // for (let e = idx.firstEdge(s); e >= 0; e = idx.nextEdge(e)) ...
  firstEdge(state: number): number {
    if (this.#sortedAt[state] !== this.#version) this.#sortTransitions(state);
    return this.#firstEdge[state];
  }

  nextEdge(edge: number): number {
    return this.#edgeNext[edge];
  }

  edgeToken(edge: number): number {
    return this.#edgeToken[edge];
  }

  edgeTarget(edge: number): number {
    return this.#edgeTarget[edge];
  }

  /** Extends the string ending in `last` by `c`; returns the state of the new longest string. */
  #extend(last: number, c: number): number {
    const existing = this.#find(last, c);
    if (existing !== NONE) {
      // Generalized automaton: the string already occurs (another document).
      const q = this.#edgeTarget[existing];
      if (this.#len[q] === this.#len[last] + 1) return q;
      return this.#split(last, c, q);
    }
    const cur = this.#newState(this.#len[last] + 1, NONE);
    let p = last;
    while (p !== NONE && this.#find(p, c) === NONE) {
      this.#addEdge(p, c, cur);
      p = this.#link[p];
    }
    if (p === NONE) {
      this.#link[cur] = ROOT;
    } else {
      const q = this.#edgeTarget[this.#find(p, c)];
      // Split first: it may grow (replace) the state arrays.
      const link = this.#len[q] === this.#len[p] + 1 ? q : this.#split(p, c, q);
      this.#link[cur] = link;
    }
    return cur;
  }

  /** Clones `q` so that its strings of length ≤ len(p) + 1 get their own state. */
  #split(p: number, c: number, q: number): number {
    const clone = this.#newState(this.#len[p] + 1, this.#link[q]);
    for (let e = this.#firstEdge[q]; e !== NONE; e = this.#edgeNext[e]) {
      this.#addEdge(clone, this.#edgeToken[e], this.#edgeTarget[e]);
    }
    this.#link[q] = clone;
    for (let e = this.#find(p, c); e !== NONE && this.#edgeTarget[e] === q; ) {
      this.#edgeTarget[e] = clone;
      p = this.#link[p];
      e = p === NONE ? NONE : this.#find(p, c);
    }
    return clone;
  }

  #newState(length: number, link: number): number {
    const v = this.#states++;
    if (v >= this.#len.length) {
      const size = v + 1;
      this.#len = grown(this.#len, size);
      this.#link = grown(this.#link, size);
      this.#firstEdge = grown(this.#firstEdge, size);
      this.#own = grown(this.#own, size);
      this.#count = grown(this.#count, size);
      this.#sortedAt = grown(this.#sortedAt, size);
    }
    this.#len[v] = length;
    this.#link[v] = link;
    this.#firstEdge[v] = NONE;
    this.#own[v] = 0;
    this.#count[v] = 0;
    this.#sortedAt[v] = -1;
    return v;
  }

  #addEdge(state: number, token: number, target: number): void {
    const e = this.#edges++;
    if (e >= this.#edgeToken.length) {
      this.#edgeToken = grown(this.#edgeToken, e + 1);
      this.#edgeTarget = grown(this.#edgeTarget, e + 1);
      this.#edgeNext = grown(this.#edgeNext, e + 1);
      this.#edgeSource = grown(this.#edgeSource, e + 1);
    }
    this.#edgeToken[e] = token;
    this.#edgeTarget[e] = target;
    this.#edgeNext[e] = this.#firstEdge[state];
    this.#edgeSource[e] = state;
    this.#firstEdge[state] = e;
    if (this.#edges * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    else this.#slots[this.#slotOf(state, token)] = e;
  }

  /** The slot holding the edge (state, token), or the empty slot where it would go. */
  #slotOf(state: number, token: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let h = Math.imul(state, 0x9e3779b1) ^ token;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    let slot = (h ^ (h >>> 16)) & mask;
    for (let e = slots[slot]; e !== NONE; e = slots[slot]) {
      if (this.#edgeToken[e] === token && this.#edgeSource[e] === state) return slot;
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  #find(state: number, token: number): number {
    return this.#slots[this.#slotOf(state, token)];
  }

  #rehash(size: number): void {
    this.#slots = new Int32Array(size).fill(NONE);
    for (let e = 0; e < this.#edges; e++) {
      this.#slots[this.#slotOf(this.#edgeSource[e], this.#edgeToken[e])] = e;
    }
  }
}
