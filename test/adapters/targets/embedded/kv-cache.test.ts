import { describe, expect, it } from 'vitest';
import { KvCache } from '../../../../adapters/targets/embedded/kv-cache.js';

/** Writes `value + row` into the pending rows of every layer, as a pass would. */
function fillPending(cache: KvCache, rows: number, value: number): void {
  for (let l = 0; l < cache.numLayers; l++) {
    const k = cache.pendingKeys(l, rows);
    const v = cache.pendingValues(l, rows);
    for (let r = 0; r < rows; r++) {
      k.fill(value + r, r * cache.rowSize, (r + 1) * cache.rowSize);
      v.fill(-(value + r), r * cache.rowSize, (r + 1) * cache.rowSize);
    }
  }
}

function rowsOf(cache: KvCache, layer: number): number[] {
  const k = cache.pastKeys(layer);
  return Array.from({ length: cache.length }, (_, r) => k[r * cache.rowSize]);
}

describe('KvCache', () => {
  it('moves the accepted path rows onto the committed prefix, in order', () => {
    const cache = new KvCache(2, 2, 4, 100);
    cache.reserve(3);
    fillPending(cache, 3, 10);
    cache.commitAll(3);
    cache.reserve(cache.length + 6);
    fillPending(cache, 6, 20);
    cache.commitPath(Int32Array.of(0, 2, 5));
    expect(rowsOf(cache, 0)).toEqual([10, 11, 12, 20, 22, 25]);
    expect(rowsOf(cache, 1)).toEqual([10, 11, 12, 20, 22, 25]);
    expect(cache.pastValues(1)[5 * cache.rowSize]).toBe(-25);
  });

  it('keeps committed rows when it grows and never exceeds its limit', () => {
    const cache = new KvCache(1, 1, 2, 200);
    cache.reserve(10);
    fillPending(cache, 10, 0);
    cache.commitAll(10);
    cache.reserve(150);
    expect(cache.capacity).toBeGreaterThanOrEqual(150);
    expect(cache.capacity).toBeLessThanOrEqual(200);
    expect(rowsOf(cache, 0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => cache.reserve(201)).toThrow();
  });

  it('gives views, not copies, of the committed prefix', () => {
    const cache = new KvCache(1, 1, 2, 64);
    cache.reserve(4);
    fillPending(cache, 2, 5);
    cache.commitAll(2);
    const before = cache.pastKeys(0);
    expect(before.length).toBe(2 * cache.rowSize);
    expect(before.buffer).toBe(cache.pendingKeys(0, 1).buffer);
  });
});
