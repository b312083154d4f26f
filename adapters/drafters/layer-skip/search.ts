/**
 * The search over skip sets (after SWIFT, Xia et al. 2024): which blocks to
 * skip so that drafting yields the most tokens per unit of time.
 *
 * Every set tried is judged on real steps: its *agreement* α (share of
 * verified draft nodes where its greedy token equals the target's) and the
 * time its passes take. A Bayesian linear surrogate (bayes-linear.ts) links
 * the sets: each block gets a "damage" weight, so one judged set teaches
 * something about every block it skips. The next set to try is chosen by
 * Thompson sampling: draw the weights from the posterior, score a pool of
 * sets (one-block changes of the incumbent, swaps, random sets, the prior)
 * by the chain rate that draw predicts, and take the best.
 *
 * The first and last blocks are never skipped (SWIFT keeps them; skipping
 * them ruins the drafts of every model we know of), and a set skips a share
 * of the remaining ones within `skipRatio`.
 */
import { BayesLinear, type LinearObservation } from './bayes-linear.js';

export interface SearchSpace {
  readonly numLayers: number;
  /** Blocks a set may skip, ascending. */
  readonly eligible: readonly number[];
  readonly minSkip: number;
  readonly maxSkip: number;
}

/** One skip set and what the steps drafted with it showed. */
export interface SetRecord {
  /** Ascending block indices. */
  readonly skip: readonly number[];
  readonly key: string;
  /** Verified draft nodes where the set's token was known, and how many the target agreed with. */
  nodes: number;
  hits: number;
  /** Timed steps drafted with the set: how many, the tokens they emitted and the ms they took. */
  steps: number;
  tokens: number;
  ms: number;
}

/** Scores a set from its predicted agreement and its size (higher is better). */
export type SetScore = (alpha: number, skipped: number) => number;

/** Damage prior per block, −ln(agreement): mean 0.1 (10% of drafts spoilt), sd 0.15. */
const PRIOR_MEAN = 0.1;
const PRIOR_SD = 0.15;
/** Model error floor on an observed damage's variance. */
const MODEL_VARIANCE = 0.01;
const RANDOM_SETS = 64;

export function searchSpace(numLayers: number, skipRatio: readonly [number, number]): SearchSpace {
  const eligible: number[] = [];
  for (let l = 1; l < numLayers - 1; l++) eligible.push(l);
  const e = eligible.length;
  const minSkip = Math.min(e, Math.max(1, Math.round(skipRatio[0] * e)));
  const maxSkip = Math.min(e, Math.max(minSkip, Math.round(skipRatio[1] * e)));
  return { numLayers, eligible, minSkip, maxSkip };
}

/** The starting set: every other block in the middle half of the model, sized into the space. */
export function priorSet(space: SearchSpace): number[] {
  const { numLayers: n, eligible } = space;
  const lo = Math.floor(n / 4);
  const hi = Math.ceil((3 * n) / 4);
  const picked = eligible.filter((l) => l >= lo && l < hi && l % 2 === 1);
  // Widen outwards (odd blocks first, then the rest) until the set is large enough.
  const byDistance = [...eligible].sort(
    (a, b) => Math.abs(a - n / 2) - Math.abs(b - n / 2) || (b % 2) - (a % 2),
  );
  for (const l of byDistance) {
    if (picked.length >= space.minSkip) break;
    if (!picked.includes(l)) picked.push(l);
  }
  while (picked.length > space.maxSkip) picked.pop();
  return picked.sort((a, b) => a - b);
}

export const setKey = (skip: readonly number[]): string => skip.join(',');

/** Agreement estimate with a uniform prior (never exactly 0 or 1). */
export const agreementOf = (r: SetRecord): number => (r.hits + 0.5) / (r.nodes + 1);

export class SkipSetSearch {
  readonly space: SearchSpace;
  readonly #records = new Map<string, SetRecord>();
  readonly #model: BayesLinear;
  #state: number;

  constructor(space: SearchSpace, seed: number) {
    this.space = space;
    this.#model = new BayesLinear(space.numLayers, PRIOR_MEAN, PRIOR_SD);
    this.#state = seed >>> 0 || 0x9e3779b9;
  }

  /** The record of `skip` (ascending), created empty on first use. */
  record(skip: readonly number[]): SetRecord {
    const key = setKey(skip);
    let r = this.#records.get(key);
    if (!r) {
      r = { skip: Object.freeze([...skip]), key, nodes: 0, hits: 0, steps: 0, tokens: 0, ms: 0 };
      this.#records.set(key, r);
    }
    return r;
  }

  get records(): IterableIterator<SetRecord> {
    return this.#records.values();
  }

  /** Refits the surrogate on every set judged so far. */
  refit(): void {
    const observations: LinearObservation[] = [];
    for (const r of this.#records.values()) {
      if (r.nodes === 0) continue;
      const a = agreementOf(r);
      // Delta method: Var[−ln â] ≈ (1 − a) / (n a).
      observations.push({
        features: r.skip,
        y: -Math.log(a),
        variance: (1 - a) / ((r.nodes + 1) * a) + MODEL_VARIANCE,
      });
    }
    this.#model.fit(observations);
  }

  /** The next set to try around `incumbent`, by Thompson sampling (call refit first). */
  suggest(score: SetScore, incumbent: readonly number[]): number[] {
    const w = this.#model.sample(() => this.#normal());
    let best = incumbent;
    let bestScore = Number.NEGATIVE_INFINITY;
    const consider = (skip: readonly number[]) => {
      let damage = 0;
      for (const l of skip) damage += Math.max(0, w[l]);
      const s = score(Math.exp(-damage), skip.length);
      if (s > bestScore) {
        bestScore = s;
        best = skip;
      }
    };
    for (const skip of this.#pool(incumbent)) consider(skip);
    return [...best].sort((a, b) => a - b);
  }

  /**
   * The judged set (≥ minNodes nodes) with the best score at the surrogate's
   * posterior agreement: a set's own nodes dominate once they are many, but a
   * lucky streak on a few is shrunk towards what the other sets showed.
   */
  best(score: SetScore, minNodes: number): SetRecord | undefined {
    let best: SetRecord | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const r of this.#records.values()) {
      if (r.nodes < minNodes) continue;
      const s = score(Math.exp(-Math.max(0, this.#model.predict(r.skip).mean)), r.skip.length);
      if (s > bestScore) {
        bestScore = s;
        best = r;
      }
    }
    return best;
  }

  /** Posterior mean damage per block (for reports). */
  get damage(): Float64Array {
    return this.#model.mean;
  }

  *#pool(incumbent: readonly number[]): Generator<readonly number[]> {
    const { eligible, minSkip, maxSkip } = this.space;
    const inSet = new Set(incumbent);
    const out = eligible.filter((l) => !inSet.has(l));
    yield incumbent;
    yield priorSet(this.space);
    for (const l of eligible) {
      if (inSet.has(l) && incumbent.length > minSkip) yield incumbent.filter((x) => x !== l);
      if (!inSet.has(l) && incumbent.length < maxSkip) yield [...incumbent, l];
    }
    for (let i = 0; i < 2 * eligible.length && incumbent.length > 0 && out.length > 0; i++) {
      const drop = incumbent[Math.floor(this.#uniform() * incumbent.length)];
      const add = out[Math.floor(this.#uniform() * out.length)];
      yield [...incumbent.filter((x) => x !== drop), add];
    }
    for (let i = 0; i < RANDOM_SETS; i++) {
      const size = minSkip + Math.floor(this.#uniform() * (maxSkip - minSkip + 1));
      const pool = [...eligible];
      for (let k = 0; k < size; k++) {
        const j = k + Math.floor(this.#uniform() * (pool.length - k));
        [pool[k], pool[j]] = [pool[j], pool[k]];
      }
      yield pool.slice(0, size);
    }
  }

  /** mulberry32: small, seeded, good enough for choosing candidates. */
  #uniform(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  #normal(): number {
    const u = 1 - this.#uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.#uniform());
  }
}
