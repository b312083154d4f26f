/**
 * Bayesian linear regression over binary features, the surrogate of the
 * skip-set search: a skip set is the list of its blocks, and its *damage*
 * y = −ln(agreement) is modelled as the sum of one weight per skipped block
 * (agreement = Π exp(−w_l): each skipped block independently spoils a share
 * of the drafts). Independent Gaussian priors N(mean, sd²) on the weights;
 * every observation brings its own noise variance, so a set judged on many
 * nodes weighs more than one judged on few.
 *
 * Dimensions are small (one per block, ≤ a few hundred), so the posterior is
 * refitted from scratch with a dense Cholesky factorisation.
 */

export interface LinearObservation {
  /** Indices of the features that are 1 (the skipped blocks). */
  readonly features: readonly number[];
  readonly y: number;
  /** Noise variance of y. */
  readonly variance: number;
}

export interface Prediction {
  readonly mean: number;
  readonly variance: number;
}

export class BayesLinear {
  readonly #d: number;
  readonly #priorMean: number;
  readonly #priorPrecision: number;
  /** Lower-triangular Cholesky factor of the posterior precision, row-major [d, d]. */
  #chol: Float64Array;
  #mean: Float64Array;

  constructor(dimensions: number, priorMean: number, priorSd: number) {
    this.#d = dimensions;
    this.#priorMean = priorMean;
    this.#priorPrecision = 1 / (priorSd * priorSd);
    this.#chol = new Float64Array(dimensions * dimensions);
    for (let i = 0; i < dimensions; i++) this.#chol[i * dimensions + i] = Math.sqrt(this.#priorPrecision);
    this.#mean = new Float64Array(dimensions).fill(priorMean);
  }

  /** Replaces the posterior with the one given these observations (and the prior). */
  fit(observations: readonly LinearObservation[]): void {
    const d = this.#d;
    const a = new Float64Array(d * d);
    const b = new Float64Array(d).fill(this.#priorMean * this.#priorPrecision);
    for (let i = 0; i < d; i++) a[i * d + i] = this.#priorPrecision;
    for (const o of observations) {
      const w = 1 / o.variance;
      for (const i of o.features) {
        b[i] += w * o.y;
        for (const j of o.features) a[i * d + j] += w;
      }
    }
    this.#chol = cholesky(a, d);
    this.#mean = solveUpper(this.#chol, d, solveLower(this.#chol, d, b));
  }

  /** Posterior mean of every weight. */
  get mean(): Float64Array {
    return this.#mean;
  }

  /** Mean and variance of the sum of the weights of `features`. */
  predict(features: readonly number[]): Prediction {
    const d = this.#d;
    let mean = 0;
    const x = new Float64Array(d);
    for (const i of features) {
      mean += this.#mean[i];
      x[i] = 1;
    }
    // xᵀ A⁻¹ x = |L⁻¹ x|² for A = L Lᵀ.
    const v = solveLower(this.#chol, d, x);
    let variance = 0;
    for (let i = 0; i < d; i++) variance += v[i] * v[i];
    return { mean, variance };
  }

  /** One draw of the weights from the posterior (Thompson sampling); `normal` gives N(0, 1) draws. */
  sample(normal: () => number): Float64Array {
    const d = this.#d;
    const z = new Float64Array(d);
    for (let i = 0; i < d; i++) z[i] = normal();
    // w = μ + L⁻ᵀ z has covariance (L Lᵀ)⁻¹ = A⁻¹.
    const offset = solveUpper(this.#chol, d, z);
    for (let i = 0; i < d; i++) offset[i] += this.#mean[i];
    return offset;
  }
}

/** Cholesky factor of a symmetric positive-definite [d, d] matrix (row-major), lower triangle. */
function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * d + j];
      for (let k = 0; k < j; k++) sum -= l[i * d + k] * l[j * d + k];
      // The prior keeps the diagonal positive; the floor only guards rounding.
      l[i * d + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / l[j * d + j];
    }
  }
  return l;
}

/** Solves L y = b. */
function solveLower(l: Float64Array, d: number, b: Float64Array): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * d + k] * y[k];
    y[i] = sum / l[i * d + i];
  }
  return y;
}

/** Solves Lᵀ x = y. */
function solveUpper(l: Float64Array, d: number, y: Float64Array): Float64Array {
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < d; k++) sum -= l[k * d + i] * x[k];
    x[i] = sum / l[i * d + i];
  }
  return x;
}
