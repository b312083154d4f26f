/**
 * Choosing the target's token at one tree node: greedy argmax, or the seeded
 * inverse-CDF draw of docs/sampling.md. The steps, in order:
 *
 *   1. l = float64(logit); penalties over the node's history
 *      (repetition: HF-style divide/multiply by sign over prompt + generated;
 *      frequency and presence: OpenAI-style, over generated tokens only).
 *   2. greedy (temperature 0): argmax of l, lowest id on ties. Done.
 *   3. s = l / T; m = max s.
 *   4. top-k: candidates C = the k largest s (ties: lower id first), else all.
 *   5. w = exp(s - m) over C; S = sum of w over C in ascending id order.
 *   6. σ = C by w descending, id ascending; cum = running sums along σ.
 *   7. top-p keeps the shortest σ-prefix with cum >= topP * S; min-p keeps
 *      w >= minP (also a σ-prefix, since max w = 1); the shorter prefix wins.
 *   8. K = sum of the kept w in ascending id order; x = u * K with
 *      u = uniformAt(seed, position); the token is the first σ_j with cum_j > x
 *      (the last kept one if rounding leaves none).
 *
 * Real-valued parameters are first rounded to float32 (the Triton wire type),
 * then used as float64, so both implementations see the same numbers.
 *
 * σ is materialised lazily: candidates are binned by the binary exponent of w
 * into levels that are ordered by value, and a level is sorted only when a
 * prefix search reaches it. Nearly every draw ends in the first level, so a
 * step costs a few passes over the vocabulary and a sort of a handful of ids.
 */
import { CanopyError } from './errors.js';
import type { PenaltyHistory } from './penalty-history.js';
import { uniformAt } from './rng.js';
import type { SamplingParams } from './sampling-params.js';
import { selectTopK } from './top-k.js';

/** Exponent octaves per level (levels are value ranges [2^-6(l+1), 2^-6l) roughly). */
const LEVEL_SHIFT = 2;
const LEVELS = 48;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('canopy kernels assume a little-endian platform');
}

/** Buffers reused across calls for one vocabulary size. Not shared between concurrent callers. */
export interface SampleScratch {
  readonly vocabSize: number;
  /** [V] penalised, temperature-scaled logits. */
  readonly s: Float64Array;
  /** [V] exp(s - m) for candidates. */
  readonly w: Float64Array;
  /** [2V] `w` viewed as words, to read exponents. */
  readonly wWords: Uint32Array;
  /** [V] candidate ids, ascending. */
  readonly candidates: Int32Array;
  /** [V] candidate ids grouped by level; a level is sorted in σ order once materialised. */
  readonly order: Int32Array;
  /** [V] running sums of w along `order`, valid on the materialised prefix. */
  readonly cum: Float64Array;
  /** [V] level of each candidate (indexed by position in `candidates`). */
  readonly level: Uint8Array;
  /** [LEVELS + 1] start of each level in `order`. */
  readonly levelStart: Int32Array;
  /** [LEVELS] fill cursor per level. */
  readonly cursor: Int32Array;
}

export function createSampleScratch(vocabSize: number): SampleScratch {
  const w = new Float64Array(vocabSize);
  return {
    vocabSize,
    s: new Float64Array(vocabSize),
    w,
    wWords: new Uint32Array(w.buffer),
    candidates: new Int32Array(vocabSize),
    order: new Int32Array(vocabSize),
    cum: new Float64Array(vocabSize),
    level: new Uint8Array(vocabSize),
    levelStart: new Int32Array(LEVELS + 1),
    cursor: new Int32Array(LEVELS),
  };
}

/** Penalised logit of one token (step 1), in float64. */
function penalised(
  logit: number,
  token: number,
  history: PenaltyHistory,
  r: number,
  f: number,
  p: number,
): number {
  let l = logit;
  const c = history.count(token);
  if (r !== 1 && (c > 0 || history.inPrompt(token))) l = l > 0 ? l / r : l * r;
  if (c > 0) l = l - f * c - p;
  return l;
}

function hasPenalties(r: number, f: number, p: number): boolean {
  return r !== 1 || f !== 0 || p !== 0;
}

/**
 * The token the target emits after a node whose logits are `logits` ([V]) and
 * whose history (committed tokens plus the node's own path) is `history`.
 * `position` is the absolute position of the token being chosen.
 */
export function chooseToken(
  logits: Float32Array,
  params: SamplingParams,
  history: PenaltyHistory,
  position: number,
  scratch?: SampleScratch,
): number {
  const vocab = checkVocab(logits, history, scratch);
  const r = Math.fround(params.repetitionPenalty);
  const f = Math.fround(params.frequencyPenalty);
  const p = Math.fround(params.presencePenalty);
  const penalties = hasPenalties(r, f, p);
  const temperature = Math.fround(params.temperature);

  if (temperature === 0) {
    if (!penalties) return argmax32(logits);
    const sc = scratch ?? createSampleScratch(vocab);
    applyPenalties(logits, sc.s, history, r, f, p);
    return argmax64(sc.s);
  }

  const { dist, kept, mass } = prepare(logits, params, history, temperature, r, f, p, scratch);
  if (kept <= 1) return dist.at(0);
  const x = uniformAt(params.seed, position) * mass;
  return dist.at(dist.firstIndexReaching(x, true, kept));
}

/** The kept tokens in σ order, their weights w, and their mass K (steps 1–8 without the draw). */
export interface ProcessedDistribution {
  readonly tokens: Int32Array;
  readonly weights: Float64Array;
  readonly mass: number;
}

/**
 * What a sampled draw at this node chooses from; for tests and diagnostics
 * (the probability of `tokens[j]` is `weights[j] / mass`). Temperature must be > 0.
 */
export function processedDistribution(
  logits: Float32Array,
  params: SamplingParams,
  history: PenaltyHistory,
  scratch?: SampleScratch,
): ProcessedDistribution {
  checkVocab(logits, history, scratch);
  const temperature = Math.fround(params.temperature);
  if (!(temperature > 0)) {
    throw new CanopyError('CANOPY_ERR_INVALID_SAMPLING', 'a processed distribution needs temperature > 0');
  }
  const r = Math.fround(params.repetitionPenalty);
  const f = Math.fround(params.frequencyPenalty);
  const p = Math.fround(params.presencePenalty);
  const { dist, kept, mass } = prepare(logits, params, history, temperature, r, f, p, scratch);
  const tokens = new Int32Array(kept);
  const weights = new Float64Array(kept);
  for (let j = 0; j < kept; j++) {
    tokens[j] = dist.at(j);
    weights[j] = dist.weight(tokens[j]);
  }
  return { tokens, weights, mass };
}

function checkVocab(
  logits: Float32Array,
  history: PenaltyHistory,
  scratch: SampleScratch | undefined,
): number {
  const vocab = logits.length;
  if (vocab !== history.vocabSize || (scratch && scratch.vocabSize !== vocab)) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `logits have ${vocab} entries but the history/scratch vocabulary is ${history.vocabSize}`,
    );
  }
  return vocab;
}

/** Steps 1 and 3–8 up to the draw. */
function prepare(
  logits: Float32Array,
  params: SamplingParams,
  history: PenaltyHistory,
  temperature: number,
  r: number,
  f: number,
  p: number,
  scratch: SampleScratch | undefined,
): { dist: LazyOrder; kept: number; mass: number } {
  const vocab = logits.length;
  const sc = scratch ?? createSampleScratch(vocab);
  const penalties = hasPenalties(r, f, p);
  if (penalties) applyPenalties(logits, sc.s, history, r, f, p);
  const m = penalties ? scaleInPlace(sc.s, temperature) : scaleInto(logits, sc.s, temperature);

  const topK = params.topK > 0 && params.topK < vocab ? params.topK : 0;
  const numCandidates = topK > 0 ? selectTopK(sc.s, topK, sc.candidates) : vocab;
  const dist = new LazyOrder(sc, numCandidates, m, topK > 0);

  const topP = Math.fround(params.topP);
  const minP = Math.fround(params.minP);
  let kept = numCandidates;
  if (topP < 1) kept = dist.firstIndexReaching(topP * dist.total, false, numCandidates) + 1;
  if (minP > 0) kept = Math.min(kept, dist.countAtLeast(minP));
  const mass = kept === numCandidates ? dist.total : dist.prefixMassInIdOrder(kept);
  return { dist, kept, mass };
}

// Each pass over the vocabulary is its own small function: V8 optimises a long
// loop inside a big function on the stack and then bails out on the code after
// it, once per call.

/** s = logits / T (step 3) into `out`; returns max s. */
function scaleInto(logits: Float32Array, out: Float64Array, temperature: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] / temperature;
    out[i] = v;
    if (v > m) m = v;
  }
  return m;
}

/** s = l / T in place; returns max s. */
function scaleInPlace(s: Float64Array, temperature: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < s.length; i++) {
    const v = s[i] / temperature;
    s[i] = v;
    if (v > m) m = v;
  }
  return m;
}

/** Step 1 over the whole vocabulary into `out` (float64). */
function applyPenalties(
  logits: Float32Array,
  out: Float64Array,
  history: PenaltyHistory,
  r: number,
  f: number,
  p: number,
): void {
  for (let i = 0; i < logits.length; i++) out[i] = logits[i];
  const seen = history.seen;
  for (let k = 0; k < history.seenLength; k++) {
    const t = seen[k];
    out[t] = penalised(logits[t], t, history, r, f, p);
  }
}

/** Index of the largest value, the lowest index on ties. */
function argmax32(values: Float32Array): number {
  let best = 0;
  let bestValue = values[0];
  for (let i = 1; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/** argmax32 over float64 (kept apart so each loop stays monomorphic). */
function argmax64(values: Float64Array): number {
  let best = 0;
  let bestValue = values[0];
  for (let i = 1; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/**
 * w = exp(s - m) over the candidates, their sum in ascending id order (S), and
 * each candidate's level, counted into `levelStart[level + 1]`.
 */
function weigh(sc: SampleScratch, n: number, m: number, subset: boolean): number {
  const { s, w, wWords, candidates, level, levelStart } = sc;
  levelStart.fill(0);
  let total = 0;
  for (let k = 0; k < n; k++) {
    const id = subset ? candidates[k] : k;
    if (!subset) candidates[k] = k;
    const v = Math.exp(s[id] - m);
    w[id] = v;
    total += v;
    // The biased exponent falls as w falls, so levels are value ranges and equal w share one.
    const lv = Math.min(LEVELS - 1, ((1023 - (wWords[2 * id + 1] >>> 20)) / LEVEL_SHIFT) | 0);
    level[k] = lv;
    levelStart[lv + 1]++;
  }
  return total;
}

/** Groups candidates by level into `order`, keeping ascending ids within a level. */
function groupByLevel(sc: SampleScratch, n: number): void {
  const { candidates, level, levelStart, cursor, order } = sc;
  for (let l = 0; l < LEVELS; l++) levelStart[l + 1] += levelStart[l];
  cursor.set(levelStart.subarray(0, LEVELS));
  for (let k = 0; k < n; k++) order[cursor[level[k]]++] = candidates[k];
}

/** σ over the candidates, sorted level by level on demand (steps 5–8). */
class LazyOrder {
  readonly #sc: SampleScratch;
  readonly #n: number;
  /** S: the sum of all candidate weights in ascending id order. */
  readonly total: number;
  /** Levels materialised so far; `order[0 .. levelStart[#levels])` is σ's prefix. */
  #levels = 0;

  constructor(sc: SampleScratch, n: number, m: number, subset: boolean) {
    this.#sc = sc;
    this.#n = n;
    this.total = weigh(sc, n, m, subset);
    groupByLevel(sc, n);
  }

  weight(token: number): number {
    return this.#sc.w[token];
  }

  /** The candidate at σ index `j` (materialised). */
  at(j: number): number {
    this.#ensure(j + 1);
    return this.#sc.order[j];
  }

  /** First σ index j < limit with cum_j >= x (or > x when strict); limit - 1 when none. */
  firstIndexReaching(x: number, strict: boolean, limit: number): number {
    const { cum } = this.#sc;
    let j = 0;
    while (j < limit) {
      const end = Math.min(limit, this.#ensure(j + 1));
      for (; j < end; j++) if (strict ? cum[j] > x : cum[j] >= x) return j;
    }
    return limit - 1;
  }

  /** How many candidates have w >= threshold (a σ-prefix). */
  countAtLeast(threshold: number): number {
    const { w, candidates } = this.#sc;
    let count = 0;
    for (let k = 0; k < this.#n; k++) if (w[candidates[k]] >= threshold) count++;
    return count;
  }

  /** Sum of w over the first `kept` σ entries, added in ascending id order. */
  prefixMassInIdOrder(kept: number): number {
    this.#ensure(kept);
    const { w, order, candidates } = this.#sc;
    const lastId = order[kept - 1];
    const lastW = w[lastId];
    let mass = 0;
    for (let k = 0; k < this.#n; k++) {
      const id = candidates[k];
      const v = w[id];
      if (v > lastW || (v === lastW && id <= lastId)) mass += v;
    }
    return mass;
  }

  /** Materialises levels until σ's first `count` entries are sorted; returns the sorted length. */
  #ensure(count: number): number {
    const { w, order, cum, levelStart } = this.#sc;
    while (levelStart[this.#levels] < count && this.#levels < LEVELS) {
      const start = levelStart[this.#levels];
      const end = levelStart[this.#levels + 1];
      order.subarray(start, end).sort((a, b) => w[b] - w[a] || a - b);
      let acc = start === 0 ? 0 : cum[start - 1];
      for (let j = start; j < end; j++) {
        acc += w[order[j]];
        cum[j] = acc;
      }
      this.#levels++;
    }
    return levelStart[this.#levels];
  }
}
