import { describe, expect, it } from 'vitest';
import { mix64, splitMix64At, uniformAt } from '../../kernels/rng.js';

describe('uniformAt', () => {
  it('is SplitMix64 underneath: state 0 gives the published first output', () => {
    expect(splitMix64At(0n, 0n).toString(16)).toBe('e220a8397b1dcdaf');
    expect(mix64(0n)).toBe(0n);
  });

  it('depends only on (seed, position), not on earlier draws', () => {
    const forward = [0, 1, 2, 3, 4].map((p) => uniformAt(17, p));
    const backward = [4, 3, 2, 1, 0].map((p) => uniformAt(17, p)).reverse();
    expect(backward).toEqual(forward);
  });

  it('gives multiples of 2^-53 in [0, 1)', () => {
    for (let p = 0; p < 2000; p++) {
      const u = uniformAt(3, p);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      expect(Number.isInteger(u * 2 ** 53)).toBe(true);
    }
  });

  it('gives unrelated streams for neighbouring seeds', () => {
    const a = Array.from({ length: 64 }, (_, p) => uniformAt(1000, p));
    const b = Array.from({ length: 64 }, (_, p) => uniformAt(1001, p));
    const shifted = Array.from({ length: 64 }, (_, p) => uniformAt(1001, p + 1));
    expect(a.filter((u, i) => u === b[i] || u === shifted[i])).toEqual([]);
  });

  it('is uniform over many positions (bucket chi-square)', () => {
    const buckets = new Array(20).fill(0);
    const n = 40_000;
    for (let p = 0; p < n; p++) buckets[Math.floor(uniformAt(5, p) * 20)]++;
    const expected = n / 20;
    const chi2 = buckets.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(45); // df 19: p ≈ 0.0007
  });

  it('rejects seeds and positions that are not unsigned safe integers', () => {
    expect(() => uniformAt(-1, 0)).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_INVALID_SAMPLING' }));
    expect(() => uniformAt(1.5, 0)).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_INVALID_SAMPLING' }));
    expect(() => uniformAt(0, 2 ** 53)).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
    );
  });
});
