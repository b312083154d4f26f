import { describe, expect, it } from 'vitest';
import {
  createBudgetPolicy,
  createCalibration,
  createCostModel,
  createSetCalibration,
} from '../../engine/index.js';

/** A cost model measured on a curve like the architecture doc's CPU probe. */
function measured(curve: (n: number) => number) {
  const cost = createCostModel(256);
  for (const n of [1, 2, 4, 8, 16, 32, 64]) for (let i = 0; i < 5; i++) cost.record(n, curve(n));
  return cost;
}

const cpuCurve = (n: number) =>
  33 * (n <= 4 ? 1 + 0.03 * (n - 1) : n <= 16 ? 1.09 + 0.03 * (n - 4) : 1.48 + 0.029 * (n - 16));

describe('cost model', () => {
  it('interpolates between measured sizes and extrapolates upward pessimistically', () => {
    const cost = measured(cpuCurve);
    expect(cost.estimate(1)).toBeCloseTo(33, 5);
    const mid = cost.estimate(12);
    expect(mid).toBeGreaterThan(cost.estimate(8));
    expect(mid).toBeLessThan(cost.estimate(16));
    expect(cost.estimate(128)).toBeGreaterThan(cost.estimate(64));
  });

  it('measures each budget the policy chooses between on its own, dips included', () => {
    // As onnxruntime's float32 GEMM on the 2-core CPU: 12 rows cost about what 8 do, 16 a fifth more.
    const dip = (n: number) => 30 * (n <= 8 ? 1 + 0.05 * (n - 1) : n <= 12 ? 1.4 : 1.4 + 0.075 * (n - 12));
    const cost = createCostModel(256);
    for (const n of [1, 2, 3, 4, 6, 8, 12, 16, 24]) for (let i = 0; i < 5; i++) cost.record(n, dip(n));
    expect(cost.estimate(12)).toBeCloseTo(dip(12), 5);
    expect(cost.estimate(16)).toBeCloseTo(dip(16), 5);
    expect(cost.samples(12)).toBe(5);
    expect(cost.samples(16)).toBe(5);
    // And the policy takes the cheap 12 over 16 when the last four nodes are not worth a fifth more time.
    const scores = Float32Array.from({ length: 63 }, (_, i) => (i < 11 ? 0.6 : 0.05));
    expect(createBudgetPolicy(cost).choose(scores, 0.1, 64).budget).toBe(12);
  });

  it('returns NaN before any measurement', () => {
    expect(Number.isNaN(createCostModel().estimate(4))).toBe(true);
  });
});

describe('budget policy', () => {
  it('chooses plain decoding when drafts are unlikely to be accepted', () => {
    const policy = createBudgetPolicy(measured(cpuCurve));
    const scores = new Float32Array(63).fill(0.01);
    expect(policy.choose(scores, 0.1, 64).budget).toBe(1);
  });

  it('chooses a large tree when drafts are reliable and cheap to verify', () => {
    const policy = createBudgetPolicy(measured(cpuCurve));
    // A chain whose path scores decay slowly: deep trees pay.
    const scores = Float32Array.from({ length: 63 }, (_, i) => 0.97 ** (i + 1));
    expect(policy.choose(scores, 0.1, 64).budget).toBeGreaterThanOrEqual(16);
  });

  it('shrinks the tree when verification gets expensive (e.g. under load)', () => {
    const scores = Float32Array.from({ length: 63 }, (_, i) => 0.8 ** (i + 1));
    const cheap = createBudgetPolicy(measured(cpuCurve)).choose(scores, 0.1, 64).budget;
    const steep = createBudgetPolicy(measured((n) => 33 * n)).choose(scores, 0.1, 64).budget;
    expect(steep).toBeLessThan(cheap);
    expect(steep).toBe(1);
  });

  it('never exceeds the request cap or the nodes available', () => {
    const policy = createBudgetPolicy(measured(cpuCurve));
    const scores = new Float32Array(63).fill(0.99);
    expect(policy.choose(scores, 0, 6).budget).toBeLessThanOrEqual(6);
    expect(policy.choose(new Float32Array(2).fill(0.99), 0, 64).budget).toBeLessThanOrEqual(3);
  });

  it('takes the largest budget whose expected rate ties with the best (within 3 %)', () => {
    // Verify cost flat from 8 to 16 nodes, as on the 2-core CPU: 40 → 42 ms.
    const flat = (n: number) => (n <= 8 ? 40 : n <= 16 ? 40 + (n - 8) / 4 : 40 * (n / 16) + 2);
    const policy = () => createBudgetPolicy(measured(flat));
    const scores = (tail: number) => Float32Array.from({ length: 63 }, (_, i) => (i < 7 ? 0.5 : tail));
    // Nodes 8..15 add 0.16 expected tokens for 5 % more time: 16 ties with 8 (98.6 % of its rate).
    expect(policy().choose(scores(0.02), 0.1, 64).budget).toBe(16);
    // They add nothing: no fewer passes to win, so no tie (12 would run within 3 %).
    expect(policy().choose(scores(0), 0.1, 64).budget).toBe(8);
  });

  it('never starts speculating on a tie: plain decoding stays plain', () => {
    // One weak node: budget 2 runs within 3 % of plain decoding's rate, but not above it.
    const scores = new Float32Array(63).fill(0.01);
    expect(createBudgetPolicy(measured(cpuCurve)).choose(scores, 0.1, 64).budget).toBe(1);
  });

  it('now and then explores a larger budget than the best, to keep measuring', () => {
    const policy = createBudgetPolicy(measured(cpuCurve));
    const scores = Float32Array.from({ length: 63 }, (_, i) => 0.5 ** (i + 1));
    const decisions = Array.from({ length: 64 }, () => policy.choose(scores, 0.1, 64));
    const best = decisions.find((d) => !d.explored)?.budget ?? 0;
    const explored = decisions.filter((d) => d.explored);
    expect(explored.length).toBeGreaterThan(0);
    expect(explored.every((d) => d.budget > best)).toBe(true);
  });
});

describe('calibration', () => {
  it('starts at the drafter score and moves to the observed acceptance rate', () => {
    const calibration = createCalibration(4);
    expect(calibration.map(0, 0.85)).toBeCloseTo(0.85, 5);
    for (let i = 0; i < 400; i++) calibration.record(0, 0.85, i % 5 === 0); // 20% accepted
    expect(calibration.map(0, 0.85)).toBeCloseTo(0.2, 1);
    // Other drafters and other score bins are unaffected.
    expect(calibration.map(1, 0.85)).toBeCloseTo(0.85, 5);
    expect(calibration.map(0, 0.25)).toBeCloseTo(0.25, 5);
    expect(calibration.totals(0)).toEqual({ tested: 400, accepted: 80 });
  });
});

describe('source-set calibration', () => {
  it('learns each set of drafters on its own, and passes unknown sets through', () => {
    const sets = createSetCalibration(2);
    expect(sets.map(0b101, 0.35)).toBeCloseTo(0.35, 5);
    for (let i = 0; i < 400; i++) {
      sets.record(0b100, 0.35, i % 50 === 0); // the lone drafter: 2 % accepted
      sets.record(0b101, 0.35, i % 2 === 0); // with drafter 0 agreeing: 50 %
    }
    expect(sets.map(0b100, 0.35)).toBeCloseTo(0.02, 1);
    expect(sets.map(0b101, 0.35)).toBeCloseTo(0.5, 1);
    // A third set finds no slot (maxSets 2): it is neither learned nor changed.
    for (let i = 0; i < 100; i++) sets.record(0b011, 0.35, false);
    expect(sets.map(0b011, 0.35)).toBeCloseTo(0.35, 5);
  });
});
