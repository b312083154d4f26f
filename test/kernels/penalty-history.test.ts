import { describe, expect, it } from 'vitest';
import { PenaltyHistory } from '../../kernels/penalty-history.js';

const seen = (h: PenaltyHistory): number[] => [...h.seen.subarray(0, h.seenLength)].sort((a, b) => a - b);

describe('PenaltyHistory', () => {
  it('marks prompt tokens without counting them as generated', () => {
    const h = new PenaltyHistory(10, [3, 3, 5]);
    expect(h.inPrompt(3)).toBe(true);
    expect(h.count(3)).toBe(0);
    expect(seen(h)).toEqual([3, 5]);
  });

  it('counts committed tokens and lists each distinct token once', () => {
    const h = new PenaltyHistory(10, [3]);
    h.commitAll([3, 4, 4, 7]);
    expect([h.count(3), h.count(4), h.count(7)]).toEqual([1, 2, 1]);
    expect(seen(h)).toEqual([3, 4, 7]);
    expect(h.generatedLength).toBe(4);
  });

  it('layers a path on top and restores the exact state when it is popped', () => {
    const h = new PenaltyHistory(10, [1]);
    h.commitAll([2, 2]);
    h.push(2);
    h.push(8);
    h.push(1);
    expect([h.count(2), h.count(8), h.count(1)]).toEqual([3, 1, 1]);
    expect(seen(h)).toEqual([1, 2, 8]);
    expect(h.pathLength).toBe(3);
    expect(h.pathToken(2)).toBe(8);
    h.truncatePath(1);
    expect([h.count(2), h.count(8), h.count(1)]).toEqual([3, 0, 0]);
    expect(seen(h)).toEqual([1, 2]);
    h.pop();
    expect(h.count(2)).toBe(2);
  });

  it('grows past its initial capacity', () => {
    const h = new PenaltyHistory(1000);
    for (let t = 0; t < 300; t++) h.push(t);
    expect(h.seenLength).toBe(300);
    h.truncatePath(0);
    expect(h.seenLength).toBe(0);
  });

  it('refuses to commit while a path is layered, to pop an empty path, and tokens outside the vocabulary', () => {
    const h = new PenaltyHistory(10);
    h.push(1);
    expect(() => h.commit(2)).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_INTERNAL' }));
    h.pop();
    expect(() => h.pop()).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_INTERNAL' }));
    expect(() => h.commit(10)).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_TOKEN_OUT_OF_VOCAB' }));
    expect(() => new PenaltyHistory(10, [-1])).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_TOKEN_OUT_OF_VOCAB' }),
    );
  });
});
