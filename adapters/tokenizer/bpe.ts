/**
 * Byte-level BPE over one pre-tokenized piece: start from one symbol per
 * UTF-8 byte and repeatedly merge the adjacent pair of lowest rank (the
 * leftmost on ties), as llama.cpp and HF do. Symbols are ids, not strings:
 * every distinct symbol text has one id (its vocabulary id, or a *synthetic*
 * id ≥ vocabSize for a merge result the vocabulary lacks), so a pair of ids
 * names a pair of texts and the merge table is a typed-array hash.
 */
import { BYTE_TO_CHAR } from './byte-level.js';
import { createPairTable, type PairTable } from './pair-table.js';

/** Pieces with more bytes than this merge through a heap instead of rescanning. */
export const HEAP_THRESHOLD = 48;

export interface BpeModel {
  /** Appends the token ids of one piece, given as its UTF-8 bytes, to `out`. */
  encodeBytes(bytes: Uint8Array, start: number, end: number, out: number[]): void;
  /** Vocabulary id of a byte-level string, or -1. */
  idOf(text: string): number;
}

export interface BpeOptions {
  readonly tokens: readonly string[];
  /** `left right` in rank order. */
  readonly merges: readonly string[];
  /** For tests: the piece length from which the heap path is taken. */
  readonly heapThreshold?: number;
}

export function createBpe(options: BpeOptions): BpeModel {
  const vocabSize = options.tokens.length;
  const textToId = new Map<string, number>();
  // Later duplicates win, as in llama.cpp's token_to_id.
  options.tokens.forEach((t, id) => {
    textToId.set(t, id);
  });
  const texts: string[] = [...options.tokens];
  const intern = (text: string): number => {
    let id = textToId.get(text);
    if (id === undefined) {
      id = texts.length;
      texts.push(text);
      textToId.set(text, id);
    }
    return id;
  };

  const byteIds = Int32Array.from(BYTE_TO_CHAR, intern);
  const n = options.merges.length;
  const lefts = new Int32Array(n);
  const rights = new Int32Array(n);
  const results = new Int32Array(n);
  for (let rank = 0; rank < n; rank++) {
    const merge = options.merges[rank];
    // Split at the first space after the first character; a merge without one never applies (llama.cpp).
    const cut = merge.indexOf(' ', 1);
    const left = cut < 0 ? '' : merge.slice(0, cut);
    const right = cut < 0 ? '' : merge.slice(cut + 1);
    lefts[rank] = intern(left);
    rights[rank] = intern(right);
    results[rank] = intern(left + right);
  }
  const pairs = createPairTable(lefts, rights);
  const heapThreshold = options.heapThreshold ?? HEAP_THRESHOLD;

  /** A synthetic symbol is spelled out by its single-character ASCII tokens; others are dropped (llama.cpp). */
  const emit = (id: number, out: number[]) => {
    if (id < vocabSize) {
      out.push(id);
      return;
    }
    for (const ch of texts[id]) {
      const single = ch.charCodeAt(0) < 0x80 ? textToId.get(ch) : undefined;
      if (single !== undefined && single < vocabSize) out.push(single);
    }
  };

  return {
    idOf: (text) => {
      const id = textToId.get(text);
      return id !== undefined && id < vocabSize ? id : -1;
    },
    encodeBytes(bytes, start, end, out) {
      const len = end - start;
      if (len === 0) return;
      const syms = new Int32Array(len);
      for (let i = 0; i < len; i++) syms[i] = byteIds[bytes[start + i]];
      const merged =
        len <= heapThreshold ? mergeByScan(syms, pairs, results) : mergeByHeap(syms, pairs, results);
      for (let i = 0; i < merged; i++) emit(syms[i], out);
    },
  };
}

/** Merges in place; returns the number of symbols left. O(n²), fastest for short pieces. */
function mergeByScan(syms: Int32Array, pairs: PairTable, results: Int32Array): number {
  let len = syms.length;
  for (;;) {
    let bestRank = -1;
    let bestAt = -1;
    for (let i = 0; i + 1 < len; i++) {
      const rank = pairs.get(syms[i], syms[i + 1]);
      if (rank >= 0 && (bestRank < 0 || rank < bestRank)) {
        bestRank = rank;
        bestAt = i;
      }
    }
    if (bestAt < 0) return len;
    syms[bestAt] = results[bestRank];
    syms.copyWithin(bestAt + 1, bestAt + 2, len);
    len--;
  }
}

/**
 * Same result as mergeByScan in O(n log n): a min-heap of candidate pairs
 * keyed by (rank, left position), stale entries skipped when popped.
 */
function mergeByHeap(syms: Int32Array, pairs: PairTable, results: Int32Array): number {
  const n = syms.length;
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // Entry = rank * 2^21 + left position (n < 2^21), plus the symbol ids it was built from.
  const heap = new MinHeap();
  const push = (left: number) => {
    if (left < 0) return;
    const right = next[left];
    if (right < 0) return;
    const rank = pairs.get(syms[left], syms[right]);
    if (rank >= 0) heap.push(rank * 2097152 + left, syms[left], syms[right]);
  };
  for (let i = 0; i + 1 < n; i++) push(i);

  while (heap.size > 0) {
    const { key, a, b } = heap.pop();
    const left = key % 2097152;
    const rank = (key - left) / 2097152;
    const right = next[left];
    if (!alive[left] || right < 0 || syms[left] !== a || syms[right] !== b) continue;
    syms[left] = results[rank];
    alive[right] = 0;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    push(prev[left]);
    push(left);
  }
  let len = 0;
  for (let i = 0; i >= 0 && i < n; i = next[i]) syms[len++] = syms[i];
  return len;
}

/** Binary min-heap of (key, a, b) in parallel growable arrays. */
class MinHeap {
  #keys: number[] = [];
  #a: number[] = [];
  #b: number[] = [];
  get size(): number {
    return this.#keys.length;
  }
  push(key: number, a: number, b: number): void {
    const keys = this.#keys;
    let i = keys.length;
    keys.push(key);
    this.#a.push(a);
    this.#b.push(b);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] <= key) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  pop(): { key: number; a: number; b: number } {
    const top = { key: this.#keys[0], a: this.#a[0], b: this.#b[0] };
    const last = this.#keys.length - 1;
    this.#swap(0, last);
    this.#keys.pop();
    this.#a.pop();
    this.#b.pop();
    const keys = this.#keys;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < keys.length && keys[l] < keys[m]) m = l;
      if (r < keys.length && keys[r] < keys[m]) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return top;
  }
  #swap(i: number, j: number): void {
    const k = this.#keys;
    const a = this.#a;
    const b = this.#b;
    [k[i], k[j]] = [k[j], k[i]];
    [a[i], a[j]] = [a[j], a[i]];
    [b[i], b[j]] = [b[j], b[i]];
  }
}
