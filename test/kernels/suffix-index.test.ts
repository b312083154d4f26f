import { describe, expect, it } from 'vitest';
import { SuffixIndex } from '../../kernels/suffix-index.js';
import { mulberry32 } from './random.js';

function occurrences(docs: number[][], pattern: number[]): number {
  let total = 0;
  for (const doc of docs) {
    for (let start = 0; start + pattern.length <= doc.length; start++) {
      let j = 0;
      while (j < pattern.length && doc[start + j] === pattern[j]) j++;
      if (j === pattern.length) total++;
    }
  }
  return total;
}

function longestOccurringSuffix(docs: number[][], query: number[]): number {
  for (let length = query.length; length > 0; length--) {
    if (occurrences(docs, query.slice(query.length - length)) > 0) return length;
  }
  return 0;
}

/** token -> occurrences of (pattern + token), for every token that ever follows the pattern. */
function naiveContinuations(docs: number[][], pattern: number[], alphabet: number): Map<number, number> {
  const result = new Map<number, number>();
  for (let c = 0; c < alphabet; c++) {
    const n = occurrences(docs, [...pattern, c]);
    if (n > 0) result.set(c, n);
  }
  return result;
}

function indexContinuations(index: SuffixIndex, state: number): Map<number, number> {
  const result = new Map<number, number>();
  for (let e = index.firstEdge(state); e >= 0; e = index.nextEdge(e)) {
    result.set(index.edgeToken(e), index.count(index.edgeTarget(e)));
  }
  return result;
}

function randomDoc(random: () => number, alphabet: number, maxLength: number): number[] {
  return Array.from({ length: 1 + Math.floor(random() * maxLength) }, () => Math.floor(random() * alphabet));
}

describe('SuffixIndex', () => {
  it('matches the longest occurring suffix, its count and its continuations like brute force', () => {
    const random = mulberry32(11);
    for (let trial = 0; trial < 25; trial++) {
      const alphabet = 2 + Math.floor(random() * 4);
      const index = new SuffixIndex();
      const docs: number[][] = [];
      for (let d = 0; d < 1 + Math.floor(random() * 5); d++) {
        const doc = randomDoc(random, alphabet, 40);
        docs.push(doc);
        index.addDocument(doc);
        index.finalize();
        for (let q = 0; q < 15; q++) {
          const query = randomDoc(random, alphabet, 12);
          const match = index.matchSuffix(query);
          const length = longestOccurringSuffix(docs, query);
          expect(match.length).toBe(length);
          const pattern = query.slice(query.length - length);
          // The root holds the empty string; its count is every indexed position.
          const expected = length === 0 ? index.tokenCount : occurrences(docs, pattern);
          expect(index.count(match.state)).toBe(expected);
          expect(indexContinuations(index, match.state)).toEqual(naiveContinuations(docs, pattern, alphabet));
        }
      }
      expect(index.tokenCount).toBe(docs.reduce((s, d) => s + d.length, 0));
      expect(index.documentCount).toBe(docs.length);
    }
  });

  it('lists transitions most frequent first once finalized', () => {
    const random = mulberry32(5);
    const index = new SuffixIndex();
    for (let d = 0; d < 20; d++) index.addDocument(randomDoc(random, 6, 60));
    index.finalize();
    let checked = 0;
    for (let v = 0; v < index.stateCount; v++) {
      let previous = Number.POSITIVE_INFINITY;
      for (let e = index.firstEdge(v); e >= 0; e = index.nextEdge(e)) {
        const count = index.count(index.edgeTarget(e));
        expect(count).toBeLessThanOrEqual(previous);
        previous = count;
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(index.stateCount);
  });

  it('follows transitions to the state of the extended string', () => {
    const index = new SuffixIndex();
    index.addDocument([1, 2, 3, 1, 2, 4]);
    index.addDocument([2, 3]);
    index.finalize();
    const s12 = index.matchSuffix([1, 2]).state;
    expect(index.count(s12)).toBe(2);
    const s123 = index.transition(s12, 3);
    expect(index.count(s123)).toBe(1);
    expect(index.transition(s12, 9)).toBe(-1);
    // "2 3" occurs in both documents.
    expect(index.count(index.matchSuffix([2, 3]).state)).toBe(2);
  });

  it('does not match across document boundaries', () => {
    const index = new SuffixIndex();
    index.addDocument([1, 2]);
    index.addDocument([3, 4]);
    index.finalize();
    expect(index.matchSuffix([2, 3]).length).toBe(1);
    expect(index.matchSuffix([1, 2, 3, 4]).length).toBe(2);
  });

  it('backs off to a suffix that something follows when asked to', () => {
    const index = new SuffixIndex();
    index.addDocument([1, 2, 3]);
    index.addDocument([2, 3, 4]);
    index.addDocument([9, 3, 5]);
    index.finalize();
    // "1 2 3" only ends a document; "2 3" is followed by 4 in another.
    expect(index.matchSuffix([1, 2, 3]).length).toBe(3);
    const continued = index.matchSuffix([1, 2, 3], 0, 3, true);
    expect(continued.length).toBe(2);
    expect(index.transition(continued.state, 4)).toBeGreaterThan(0);
    expect(index.matchSuffix([7, 4], 0, 2, true).length).toBe(0);
  });

  it('respects the window it is given', () => {
    const index = new SuffixIndex();
    index.addDocument([5, 6, 7]);
    index.finalize();
    const query = [5, 6, 7, 9, 5, 6];
    expect(index.matchSuffix(query, 4).length).toBe(2);
    expect(index.matchSuffix(query, 5).length).toBe(1);
    expect(index.matchSuffix(query, 0, 3).length).toBe(3);
  });

  it('stays within about 150 bytes per token on text with little repetition', () => {
    const random = mulberry32(3);
    const index = new SuffixIndex();
    for (let d = 0; d < 50; d++) index.addDocument(randomDoc(random, 5000, 400));
    index.finalize();
    expect(index.stateCount).toBeLessThanOrEqual(2 * index.tokenCount + 1);
    expect(index.byteLength / index.tokenCount).toBeLessThan(150);
  });
});
