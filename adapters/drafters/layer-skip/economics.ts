/**
 * What drafting costs and what it buys, in the drafter's own measurements.
 *
 * - *pass cost*: wall time of one scratch pass as a function of the blocks it
 *   runs (weights streamed per pass dominate at small trees, so it is close to
 *   linear in blocks run, plus the embedding/LM-head share).
 * - *chain rate*: tokens per millisecond when drafting a chain of depth d
 *   whose every token the target accepts with probability α given its
 *   parent: (1 + α + … + α^d) / (rest + d · pass), the best d kept.
 */

/** Forgetting factor per recorded pass: load and context length drift. */
const DECAY = 0.98;

export class PassCost {
  #w = 0;
  #x = 0;
  #y = 0;
  #xx = 0;
  #xy = 0;

  /** One scratch pass that ran `blocks` blocks in `ms` milliseconds. */
  record(blocks: number, ms: number): void {
    if (!(ms >= 0)) return;
    this.#w = this.#w * DECAY + 1;
    this.#x = this.#x * DECAY + blocks;
    this.#y = this.#y * DECAY + ms;
    this.#xx = this.#xx * DECAY + blocks * blocks;
    this.#xy = this.#xy * DECAY + blocks * ms;
  }

  get measured(): boolean {
    return this.#w > 0;
  }

  /**
   * Estimated milliseconds of a pass running `blocks` blocks; NaN before any
   * pass. A weighted least-squares line, its slope shrunk towards
   * "proportional to blocks" while the measured sizes barely differ.
   */
  estimate(blocks: number): number {
    const w = this.#w;
    if (w === 0) return Number.NaN;
    const mx = this.#x / w;
    const my = this.#y / w;
    const varX = Math.max(0, this.#xx / w - mx * mx);
    const cov = this.#xy / w - mx * my;
    const prior = mx > 0 ? (0.9 * my) / mx : 0;
    // The prior is worth one block² of spread in the measured sizes.
    const slope = Math.max(0, (cov + prior) / (varX + 1));
    const intercept = Math.max(0, my - slope * mx);
    return intercept + slope * blocks;
  }
}

export interface ChainRate {
  /** Tokens per millisecond at the best depth. */
  readonly rate: number;
  /** The best depth (≥ 1). */
  readonly depth: number;
}

/** Best tokens/ms of drafting chains of depth 1..maxDepth; `restMs` is the rest of a step. */
export function chainRate(alpha: number, passMs: number, restMs: number, maxDepth: number): ChainRate {
  let tokens = 1;
  let power = 1;
  let best = { rate: 0, depth: 1 };
  for (let d = 1; d <= maxDepth; d++) {
    power *= alpha;
    tokens += power;
    const rate = tokens / (restMs + d * passMs);
    if (rate > best.rate) best = { rate, depth: d };
  }
  return best;
}

const BINS = 10;
/** Pseudo-observations of the raw probability itself, per bin. */
const PRIOR = 4;

/**
 * Maps the layer-skipped model's top-1 probability at a node to the observed
 * chance that the target chose the same token there (its raw probabilities
 * are overconfident when many blocks are skipped).
 */
export class Confidence {
  readonly #tested = new Float64Array(BINS);
  readonly #agreed = new Float64Array(BINS);

  map(raw: number): number {
    const b = binOf(raw);
    return (this.#agreed[b] + PRIOR * raw) / (this.#tested[b] + PRIOR);
  }

  record(raw: number, agreed: boolean): void {
    const b = binOf(raw);
    if (this.#tested[b] >= 4096) {
      this.#tested[b] /= 2;
      this.#agreed[b] /= 2;
    }
    this.#tested[b] += 1;
    if (agreed) this.#agreed[b] += 1;
  }
}

function binOf(raw: number): number {
  const b = Math.floor(raw * BINS);
  return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
}
