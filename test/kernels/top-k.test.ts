import { describe, expect, it } from 'vitest';
import { selectTopK } from '../../kernels/top-k.js';
import { mulberry32 } from './random.js';

describe('selectTopK', () => {
  it('keeps the k largest, the lower id first among equal values, in ascending id order', () => {
    const out = new Int32Array(6);
    expect(selectTopK(Float64Array.from([1, 5, 5, 2, 5, 0]), 2, out)).toBe(2);
    expect([...out.subarray(0, 2)]).toEqual([1, 2]);
  });

  it('agrees with a full sort on random arrays full of ties', () => {
    const random = mulberry32(9);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(random() * 200);
      const values = Float64Array.from({ length: n }, () => Math.floor(random() * 10));
      const k = Math.floor(random() * (n + 3));
      const out = new Int32Array(n);
      const got = [...out.subarray(0, selectTopK(values, k, out))];
      const expected = [...values.keys()]
        .sort((a, b) => values[b] - values[a] || a - b)
        .slice(0, Math.max(0, Math.min(k, n)))
        .sort((a, b) => a - b);
      expect(got).toEqual(expected);
    }
  });
});
