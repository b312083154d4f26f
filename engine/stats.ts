/**
 * What speculation did for one request. Counted in the session loop, never
 * logged per token; plugins turn these into response fields and metrics.
 *
 * τ (tau) = tokens emitted per target pass (accepted drafts + 1).
 */
export interface RequestStats {
  /** Verify passes (target calls), prefill excluded. */
  steps: number;
  /** Tokens emitted (committed) by the request. */
  tokens: number;
  /** Draft nodes sent to the target (roots excluded). */
  draftedTokens: number;
  /** Draft nodes the target accepted. */
  acceptedTokens: number;
  /** acceptedAtDepth[d] = passes in which the draft node at depth d+1 was accepted. */
  acceptedAtDepth: number[];
  /** Accepted tokens credited to each drafter (a node several drafters proposed counts for each). */
  acceptedByDrafter: Record<string, number>;
  /** Draft nodes each drafter contributed to verified trees. */
  draftedByDrafter: Record<string, number>;
  /** Steps on which each drafter proposed (the drafter gate let it run). */
  ranByDrafter: Record<string, number>;
  /** Drafters that threw and were skipped for the rest of the request. */
  failedDrafters: string[];
  /** Sum of the budgets chosen, for the mean. */
  budgetSum: number;
  /**
   * Sum over passes of the tokens the calibrated scores predicted: 1 + the
   * path scores of the verified draft nodes. Against `tokens` it shows how well
   * calibrated the policy's estimates are (the policy sizes trees with them).
   */
  predictedTokens: number;
  /** Wall time split, milliseconds. */
  prefillMs: number;
  draftMs: number;
  fuseMs: number;
  verifyMs: number;
  walkMs: number;
  totalMs: number;
}

export function emptyStats(): RequestStats {
  return {
    steps: 0,
    tokens: 0,
    draftedTokens: 0,
    acceptedTokens: 0,
    acceptedAtDepth: [],
    acceptedByDrafter: {},
    draftedByDrafter: {},
    ranByDrafter: {},
    failedDrafters: [],
    budgetSum: 0,
    predictedTokens: 0,
    prefillMs: 0,
    draftMs: 0,
    fuseMs: 0,
    verifyMs: 0,
    walkMs: 0,
    totalMs: 0,
  };
}

export function tau(stats: RequestStats): number {
  return stats.steps === 0 ? 0 : stats.tokens / stats.steps;
}

/** Share of step time spent drafting, fusing and walking (host-side speculation cost). */
export function draftOverheadShare(stats: RequestStats): number {
  const speculation = stats.draftMs + stats.fuseMs + stats.walkMs;
  const step = speculation + stats.verifyMs;
  return step === 0 ? 0 : speculation / step;
}

export function tokensPerSecond(stats: RequestStats): number {
  const decodeMs = stats.totalMs - stats.prefillMs;
  return decodeMs <= 0 ? 0 : (stats.tokens * 1000) / decodeMs;
}

/** The compact summary clients see (generate responses, CLI --json, logs). */
export function summarize(stats: RequestStats): {
  steps: number;
  tau: number;
  tokensPerSecond: number;
  draftedTokens: number;
  acceptedTokens: number;
  meanBudget: number;
  acceptedByDrafter: Record<string, number>;
  draftOverheadShare: number;
} {
  return {
    steps: stats.steps,
    tau: round(tau(stats), 3),
    tokensPerSecond: round(tokensPerSecond(stats), 2),
    draftedTokens: stats.draftedTokens,
    acceptedTokens: stats.acceptedTokens,
    meanBudget: stats.steps === 0 ? 0 : round(stats.budgetSum / stats.steps, 2),
    acceptedByDrafter: { ...stats.acceptedByDrafter },
    draftOverheadShare: round(draftOverheadShare(stats), 4),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
