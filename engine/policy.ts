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

/** The budgets it chooses between (each a cost model size class, so each is measured on its own). */
export const BUDGET_CANDIDATES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64] as const;

/** Every EXPLORE_EVERY-th step tries the next larger budget to keep the cost model honest. */
const EXPLORE_EVERY = 16;
/** Passes a budget bucket needs before its cost is trusted over the prior. */
const MIN_SAMPLES = 2;
/**
 * A larger budget ties with the best one when its expected rate is within this
 * share of the best and it expects at least this share more tokens per pass;
 * the largest such budget wins. The same throughput within what the cost model
 * can resolve (its timings are moving averages of noisy passes), for fewer
 * target passes per token (fewer round trips to Triton, more tokens per pass).
 */
const RATE_TIE = 0.03;

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
  // Per candidate budget (evaluated ones only): expected tokens per ms, and expected tokens.
  const rates = new Float64Array(BUDGET_CANDIDATES.length);
  const expected = new Float64Array(BUDGET_CANDIDATES.length);
  return {
    choose(pathScores, hostMs, maxBudget) {
      step++;
      const n = Math.min(pathScores.length, sorted.length);
      sorted.set(pathScores.subarray(0, n));
      const view = sorted.subarray(0, n).sort().reverse();
      const available = n + 1;
      const limit = Math.max(1, Math.min(maxBudget, available));

      const base = cost.estimate(1);
      let evaluated = 0;
      let bestRate = Number.NEGATIVE_INFINITY;
      let argmax = 0;
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
        rates[evaluated] = rate;
        expected[evaluated] = tokens;
        if (rate > bestRate) {
          bestRate = rate;
          argmax = evaluated;
        }
        evaluated++;
      }
      // The largest budget that ties with the best rate, unless plain decoding is best: a tie
      // never starts speculating. The next candidate is explored now and then.
      let chosen = argmax;
      if (argmax > 0)
        for (let i = argmax + 1; i < evaluated; i++)
          if (rates[i] >= bestRate * (1 - RATE_TIE) && expected[i] >= expected[argmax] * (1 + RATE_TIE))
            chosen = i;
      if (chosen + 1 < evaluated && step % EXPLORE_EVERY === 0)
        return {
          budget: BUDGET_CANDIDATES[chosen + 1],
          expectedTokens: expected[chosen + 1],
          explored: true,
        };
      return { budget: BUDGET_CANDIDATES[chosen], expectedTokens: expected[chosen], explored: false };
    },
  };
}
