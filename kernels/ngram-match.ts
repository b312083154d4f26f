/**
 * Incremental n-gram index over one growing token sequence: the matcher behind
 * prompt lookup (llama.cpp's lookup, vLLM's n-gram proposer).
 *
 * For every n in [minN, maxN], the n-gram *ending* at position i is chained to
 * the previous entry that fell in the same hash bucket (head/prev chains, as in
 * LZ77 compressors). Appending a token costs O(maxN); a lookup walks one chain,
 * newest first, and compares the tokens, so a hash collision costs a step,
 * never a wrong match. The context only grows by the tokens a step emits, so
 * nothing is ever rescanned.
 *
 * The n-gram ending at i is indexed only once token i + 1 exists: every match a
 * lookup returns has at least one continuation token.
 */

/** Murmur3's 32-bit finalizer: spreads the polynomial hash over the bucket bits. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One step of the running hash, reading the n-gram backwards from its end. */
function step(h: number, token: number): number {
  return Math.imul(h ^ token, 0x01000193);
}

const SEED = 0x811c9dc5;

export interface NgramIndexOptions {
  /** Shortest n-gram indexed (≥ 1). */
  readonly minN: number;
  /** Longest n-gram indexed (≥ minN). */
  readonly maxN: number;
  /** Tokens the index holds before its first growth. */
  readonly initialCapacity?: number;
}

export class NgramIndex {
  readonly minN: number;
  readonly maxN: number;
  readonly #widths: number;
  #tokens: Int32Array;
  #length = 0;
  /** [buckets] newest entry code of each bucket, -1 when empty. */
  #head: Int32Array;
  /** [capacity * widths] older entry in the same bucket, by entry code. */
  #prev: Int32Array;
  #mask: number;

  constructor(options: NgramIndexOptions) {
    const { minN, maxN } = options;
    if (!Number.isInteger(minN) || !Number.isInteger(maxN) || minN < 1 || maxN < minN) {
      throw new RangeError(`n-gram sizes must satisfy 1 <= minN <= maxN, got ${minN}..${maxN}`);
    }
    this.minN = minN;
    this.maxN = maxN;
    this.#widths = maxN - minN + 1;
    const capacity = Math.max(16, options.initialCapacity ?? 256);
    this.#tokens = new Int32Array(capacity);
    this.#prev = new Int32Array(capacity * this.#widths);
    const buckets = NgramIndex.#bucketsFor(capacity * this.#widths);
    this.#head = new Int32Array(buckets).fill(-1);
    this.#mask = buckets - 1;
  }

  static #bucketsFor(entries: number): number {
    let b = 1024;
    while (b < entries * 2) b *= 2;
    return b;
  }

  /** Tokens indexed so far. */
  get length(): number {
    return this.#length;
  }

  /** A view of the indexed tokens, valid until the next append. */
  get tokens(): Int32Array {
    return this.#tokens.subarray(0, this.#length);
  }

  /** Empties the index, keeping its memory. */
  reset(): void {
    this.#length = 0;
    this.#head.fill(-1);
  }

  /** Appends `tokens[from..to)`. */
  append(tokens: ArrayLike<number>, from = 0, to = tokens.length): void {
    const needed = this.#length + Math.max(0, to - from);
    if (needed > this.#tokens.length) this.#grow(needed);
    for (let i = from; i < to; i++) {
      this.#tokens[this.#length++] = tokens[i];
      // The n-grams ending just before the new token now have a continuation.
      if (this.#length >= 2) this.#insertEndingAt(this.#length - 2);
    }
  }

  #insertEndingAt(end: number): void {
    const tokens = this.#tokens;
    const widths = this.#widths;
    let h = SEED;
    for (let n = 1; n <= this.maxN && end - n + 1 >= 0; n++) {
      h = step(h, tokens[end - n + 1]);
      if (n < this.minN) continue;
      const code = end * widths + (n - this.minN);
      const bucket = mix(h ^ n) & this.#mask;
      this.#prev[code] = this.#head[bucket];
      this.#head[bucket] = code;
    }
  }

  #grow(needed: number): void {
    let capacity = this.#tokens.length;
    while (capacity < needed) capacity *= 2;
    const tokens = new Int32Array(capacity);
    tokens.set(this.#tokens.subarray(0, this.#length));
    this.#tokens = tokens;
    this.#prev = new Int32Array(capacity * this.#widths);
    const buckets = NgramIndex.#bucketsFor(capacity * this.#widths);
    this.#head = new Int32Array(buckets).fill(-1);
    this.#mask = buckets - 1;
    for (let end = 0; end + 1 < this.#length; end++) this.#insertEndingAt(end);
  }

  /**
   * Finds earlier occurrences of the last `n` tokens. Writes their end
   * positions (newest first; each `< length - 1`, so `tokens[end + 1]` is the
   * token that followed) into `out` and returns how many. Walks at most
   * `maxSteps` chain entries.
   */
  findMatches(n: number, out: Int32Array, maxSteps = 4 * out.length): number {
    const length = this.#length;
    if (n < this.minN || n > this.maxN || length < n + 1) return 0;
    const tokens = this.#tokens;
    const last = length - 1;
    let h = SEED;
    for (let j = 0; j < n; j++) h = step(h, tokens[last - j]);
    const widths = this.#widths;
    const offset = n - this.minN;
    let code = this.#head[mix(h ^ n) & this.#mask];
    let found = 0;
    for (let steps = 0; code >= 0 && steps < maxSteps && found < out.length; steps++) {
      if (code % widths === offset) {
        const end = (code - offset) / widths;
        let j = 0;
        while (j < n && tokens[end - j] === tokens[last - j]) j++;
        if (j === n) out[found++] = end;
      }
      code = this.#prev[code];
    }
    return found;
  }
}
