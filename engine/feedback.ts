/**
 * Learning from a verify pass: per-drafter and fused-node calibration, and accounting.
 *
 * Calibration uses every *tested* draft node: a child of a node on the
 * accepted path. Its outcome is known even when fusion pruned it, because the
 * target's chosen token at every accepted node is known: the child would have
 * been accepted exactly when its token equals that choice (greedy or seeded).
 */
import type { Draft, DraftFeedback } from '../adapters/drafter.js';
import type { FusedTree, FusionInput } from '../kernels/fuse.js';
import type { Calibration } from './calibration.js';
import type { ModelRuntime } from './runtime.js';
import type { RequestStats } from './stats.js';

/** A copy of `draft` with scores mapped through the drafter's calibration (root stays 1). */
export function calibrateDraft(calibration: Calibration, source: number, draft: Draft): Draft {
  const scores = new Float32Array(draft.scores.length);
  scores[0] = 1;
  for (let i = 1; i < scores.length; i++) scores[i] = calibration.map(source, draft.scores[i]);
  return { tokens: draft.tokens, parents: draft.parents, scores };
}

/**
 * Calls `visit(c, accepted)` for every tested node of `tree` (a draft or the
 * fused tree), in index order: each child of a node on the accepted path,
 * which the target would have accepted exactly when its token is the target's
 * choice there. The path is followed by token, so `tree` need not be the
 * verified tree itself.
 */
function forEachTested(
  tree: { readonly tokens: Int32Array; readonly parents: Int32Array },
  feedback: DraftFeedback,
  visit: (node: number, accepted: boolean) => void,
): void {
  const { tree: verified, result, accepted } = feedback;
  const n = tree.tokens.length;
  let cur = 0;
  for (let k = 0; k < accepted.length; k++) {
    const chosen = result.chosen[accepted[k]];
    const nextToken = k + 1 < accepted.length ? verified.tokens[accepted[k + 1]] : -1;
    let next = -1;
    for (let c = cur + 1; c < n; c++) {
      if (tree.parents[c] !== cur) continue;
      visit(c, tree.tokens[c] === chosen);
      if (tree.tokens[c] === nextToken) next = c;
    }
    if (next < 0) return;
    cur = next;
  }
}

export function accountDrafts(
  rt: ModelRuntime,
  stats: RequestStats,
  inputs: readonly FusionInput[],
  raw: readonly Draft[],
  feedback: DraftFeedback & { tree: { sources: Uint32Array } },
): void {
  const { tree, accepted } = feedback;
  const nodes = tree.tokens.length;
  stats.draftedTokens += nodes - 1;
  stats.acceptedTokens += accepted.length - 1;
  for (let d = 1; d < accepted.length; d++)
    stats.acceptedAtDepth[d - 1] = (stats.acceptedAtDepth[d - 1] ?? 0) + 1;

  for (let i = 1; i < nodes; i++) {
    let bits = tree.sources[i];
    while (bits !== 0) {
      const s = 31 - Math.clz32(bits);
      bits &= ~(1 << s);
      const name = rt.drafters[s].name;
      stats.draftedByDrafter[name] = (stats.draftedByDrafter[name] ?? 0) + 1;
    }
  }
  for (let k = 1; k < accepted.length; k++) {
    let bits = tree.sources[accepted[k]];
    while (bits !== 0) {
      const s = 31 - Math.clz32(bits);
      bits &= ~(1 << s);
      const name = rt.drafters[s].name;
      stats.acceptedByDrafter[name] = (stats.acceptedByDrafter[name] ?? 0) + 1;
    }
  }
  for (let j = 0; j < inputs.length; j++) {
    const { source } = inputs[j];
    const draft = raw[j];
    forEachTested(draft, feedback, (c, ok) => rt.calibration.record(source, draft.scores[c], ok));
  }
}

/**
 * Teaches the second calibration stage with every tested node of the fused
 * tree, before the policy cut it to a budget (the verified tree is a prefix of it).
 */
export function recordFused(rt: ModelRuntime, fused: FusedTree, feedback: DraftFeedback): void {
  forEachTested(fused, feedback, (c, ok) =>
    rt.setCalibration.record(fused.sources[c], fused.combinedScores[c], ok),
  );
}
