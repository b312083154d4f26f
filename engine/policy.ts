/**
 * The budget policy: how many nodes the next verify pass should take.
 *
 * It maximises expected tokens per second, not a fixed tree size. Fusion keeps
 * the nodes with the highest (calibrated) path scores, and a node's path score
 * estimates the probability that the target accepts its whole path, so the
 * expected number of tokens emitted by a pass over the best b nodes is
 *
 *   E[τ](b) = 1 + Σ_{i < b-1} pathScore_(i)      (sorted, root excluded)
 *
 * and its cost is the measured verify time of b nodes plus the per-step host
 * time. Budget 1 is plain decoding: the policy falls back to it by itself when
 * no larger tree pays for its cost (e.g. under load), and keeps probing larger
 * budgets now and then so that it comes back when drafts improve.
 */
import type { CostModel } from './cost-model.js';

export const BUDGET_CANDIDATES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64] as const;

/** Every EXPLORE_EVERY-th step tries the next larger budget to keep the cost model honest. */
const EXPLORE_EVERY = 16;
/** Passes a budget bucket needs before its cost is trusted over the prior. */
const MIN_SAMPLES = 2;

export interface BudgetDecision {
  readonly budget: number;
  readonly expectedTokens: number;
  readonly explored: boolean;
}

export interface BudgetPolicy {
  /**
   * Chooses a budget given the path scores of the candidate nodes (root
   * excluded, any order), the per-step host time in ms, and the largest budget
   * allowed for this request.
   */
  choose(pathScores: Float32Array, hostMs: number, maxBudget: number): BudgetDecision;
}

export function createBudgetPolicy(cost: CostModel): BudgetPolicy {
  let step = 0;
  const sorted = new Float32Array(256);
  return {
    choose(pathScores, hostMs, maxBudget) {
      step++;
      const n = Math.min(pathScores.length, sorted.length);
      sorted.set(pathScores.subarray(0, n));
      const view = sorted.subarray(0, n).sort().reverse();
      const available = n + 1;
      const limit = Math.max(1, Math.min(maxBudget, available));

      const base = cost.estimate(1);
      let best = 1;
      let bestRate = Number.NEGATIVE_INFINITY;
      let bestTokens = 1;
      let next = 0; // smallest candidate above the best one, for exploration
      let tokens = 1;
      let summed = 0;
      for (const b of BUDGET_CANDIDATES) {
        if (b > limit) break;
        while (summed < b - 1) tokens += view[summed++];
        let ms = cost.estimate(b);
        if (Number.isNaN(ms) || cost.samples(b) < MIN_SAMPLES) {
          // Unmeasured: assume the pass grows 2% per node over the plain pass (or 1 ms if nothing is known).
          ms = (Number.isNaN(base) ? 1 : base) * (1 + 0.02 * (b - 1));
          if (!Number.isNaN(cost.estimate(b))) ms = Math.max(ms, cost.estimate(b));
        }
        const rate = tokens / (ms + hostMs);
        if (rate > bestRate) {
          bestRate = rate;
          best = b;
          bestTokens = tokens;
          next = 0;
        } else if (next === 0) {
          next = b;
        }
      }
      if (next !== 0 && step % EXPLORE_EVERY === 0) {
        let t = 1;
        for (let i = 0; i < next - 1; i++) t += view[i];
        return { budget: next, expectedTokens: t, explored: true };
      }
      return { budget: best, expectedTokens: bestTokens, explored: false };
    },
  };
}
