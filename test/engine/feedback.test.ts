/**
 * What a verify pass teaches the two calibration stages: every *tested* node
 * (a child of a node on the accepted path), pruned ones included, with the
 * outcome the target's choice there implies.
 */
import { describe, expect, it } from 'vitest';
import type { DraftFeedback } from '../../adapters/drafter.js';
import type { PassResult } from '../../adapters/target.js';
import { accountDrafts, recordFused } from '../../engine/feedback.js';
import type { ModelRuntime } from '../../engine/runtime.js';
import { emptyStats } from '../../engine/stats.js';
import { fuseTrees } from '../../kernels/fuse.js';

const R = 1;
const A = 10;
const B = 11;
const C = 12;
const D = 13;

function recorder() {
  const perDrafter: [number, number, boolean][] = [];
  const perSet: [number, number, boolean][] = [];
  const rt = {
    drafters: [{ name: 'x' }, { name: 'y' }],
    calibration: { record: (s: number, score: number, ok: boolean) => perDrafter.push([s, score, ok]) },
    setCalibration: { record: (s: number, score: number, ok: boolean) => perSet.push([s, score, ok]) },
  } as unknown as ModelRuntime;
  return { rt, perDrafter, perSet };
}

describe('feedback', () => {
  // Drafter 0: R → A → {C, D}; drafter 1: R → {B, A}. Fused: R → A (both), B (1); A → C, D (0).
  const x = {
    tokens: Int32Array.of(R, A, C, D),
    parents: Int32Array.of(-1, 0, 1, 1),
    scores: Float32Array.of(1, 0.8, 0.4, 0.3),
  };
  const y = {
    tokens: Int32Array.of(R, B, A),
    parents: Int32Array.of(-1, 0, 0),
    scores: Float32Array.of(1, 0.5, 0.5),
  };
  const inputs = [
    { draft: x, source: 0 },
    { draft: y, source: 1 },
  ];
  const fused = fuseTrees(R, inputs, 16);
  const index = (token: number) => fused.tokens.indexOf(token);
  // The policy verified only R, A, B; the target chose A after R and D after A: A accepted, then D emitted.
  const verified = { ...fused, tokens: fused.tokens.subarray(0, 3), parents: fused.parents.subarray(0, 3) };
  const chosen = new Int32Array(3);
  chosen[0] = A;
  chosen[index(A)] = D;
  const feedback: DraftFeedback = {
    tree: verified,
    result: { chosen } as PassResult,
    accepted: Int32Array.of(0, index(A)),
    emitted: Int32Array.of(A, D),
    tokens: Int32Array.of(R, A, D),
  };

  it('teaches the fused stage every tested node of the whole fused tree, by source set and combined score', () => {
    expect([...verified.tokens].sort()).toEqual([R, A, B].sort()); // C and D were pruned
    const { rt, perSet } = recorder();
    recordFused(rt, fused, feedback);
    const byToken = (t: number) => [fused.sources[index(t)], fused.combinedScores[index(t)]];
    expect(perSet.sort()).toEqual(
      [
        [...byToken(A), true],
        [...byToken(B), false],
        [...byToken(C), false],
        [...byToken(D), true],
      ].sort(),
    );
  });

  it('teaches each drafter its own tested nodes with its raw scores', () => {
    const { rt, perDrafter } = recorder();
    accountDrafts(rt, emptyStats(), inputs, [x, y], {
      ...feedback,
      tree: { ...verified, sources: fused.sources },
    });
    expect(perDrafter.sort()).toEqual(
      [
        [0, x.scores[1], true], // A
        [0, x.scores[2], false], // C
        [0, x.scores[3], true], // D
        [1, y.scores[1], false], // B
        [1, y.scores[2], true], // A (y has no children of A)
      ].sort(),
    );
  });
});
