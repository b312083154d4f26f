import { describe, expect, it } from 'vitest';
import { NgramIndex } from '../../kernels/ngram-match.js';
import { mulberry32 } from './random.js';

/** Every end position i < length - 1 whose n-gram equals the last n tokens, newest first. */
function naiveMatches(tokens: ArrayLike<number>, length: number, n: number): number[] {
  const ends: number[] = [];
  if (length < n + 1) return ends;
  for (let end = length - 2; end >= n - 1; end--) {
    let j = 0;
    while (j < n && tokens[end - j] === tokens[length - 1 - j]) j++;
    if (j === n) ends.push(end);
  }
  return ends;
}

function allMatches(index: NgramIndex, n: number): number[] {
  const out = new Int32Array(index.length + 1);
  const found = index.findMatches(n, out, Number.POSITIVE_INFINITY);
  return [...out.subarray(0, found)];
}

describe('NgramIndex', () => {
  it('finds the same matches as a naive scan after every append, through growth', () => {
    const random = mulberry32(7);
    for (let trial = 0; trial < 20; trial++) {
      const alphabet = 2 + Math.floor(random() * 5);
      const minN = 1 + Math.floor(random() * 3);
      const maxN = minN + Math.floor(random() * 4);
      const index = new NgramIndex({ minN, maxN, initialCapacity: 16 });
      const all: number[] = [];
      while (all.length < 300) {
        const chunk = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
          Math.floor(random() * alphabet),
        );
        all.push(...chunk);
        index.append(chunk);
        expect(index.length).toBe(all.length);
        for (let n = minN; n <= maxN; n++) {
          expect(allMatches(index, n)).toEqual(naiveMatches(all, all.length, n));
        }
      }
    }
  });

  it('returns the newest matches first and stops when the output is full', () => {
    const index = new NgramIndex({ minN: 2, maxN: 2 });
    index.append([5, 6, 1, 5, 6, 2, 5, 6, 3, 5, 6]);
    const out = new Int32Array(2);
    expect(index.findMatches(2, out)).toBe(2);
    expect([...out]).toEqual([7, 4]);
    // The token after each match is what prompt lookup proposes.
    expect([index.tokens[out[0] + 1], index.tokens[out[1] + 1]]).toEqual([3, 2]);
  });

  it('never returns the suffix itself, so a match always has a continuation', () => {
    const index = new NgramIndex({ minN: 1, maxN: 3 });
    index.append([9, 8, 7]);
    expect(allMatches(index, 1)).toEqual([]);
    index.append([9, 8]);
    expect(allMatches(index, 2)).toEqual([1]);
    expect(allMatches(index, 3)).toEqual([]);
  });

  it('ignores sizes outside [minN, maxN] and sequences shorter than n + 1', () => {
    const index = new NgramIndex({ minN: 2, maxN: 3 });
    index.append([1, 1]);
    expect(allMatches(index, 2)).toEqual([]);
    index.append([1]);
    expect(allMatches(index, 2)).toEqual([1]);
    expect(allMatches(index, 1)).toEqual([]);
    expect(allMatches(index, 4)).toEqual([]);
  });

  it('bounds the chain walk by maxSteps', () => {
    const index = new NgramIndex({ minN: 1, maxN: 1 });
    index.append(new Array(100).fill(4));
    const out = new Int32Array(50);
    expect(index.findMatches(1, out, 3)).toBe(3);
  });

  it('forgets everything on reset', () => {
    const index = new NgramIndex({ minN: 1, maxN: 2 });
    index.append([1, 2, 1, 2]);
    index.reset();
    index.append([3, 1, 2]);
    expect(index.length).toBe(3);
    expect(allMatches(index, 1)).toEqual([]);
    expect(allMatches(index, 2)).toEqual([]);
  });

  it('rejects impossible sizes', () => {
    expect(() => new NgramIndex({ minN: 0, maxN: 2 })).toThrow(RangeError);
    expect(() => new NgramIndex({ minN: 3, maxN: 2 })).toThrow(RangeError);
  });
});
