import { describe, expect, it } from 'vitest';
import { growBestFirst } from '../../kernels/best-first-tree.js';
import { validateTree } from '../../kernels/tree.js';
import { mulberry32, randomParents } from './random.js';

/** A random full tree whose node i has token 100 + i and a random score. */
function randomSource(n: number, random: () => number) {
  const parents = randomParents(n, random);
  const scores = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0.01 + 0.99 * random()));
  const children: number[][] = Array.from({ length: n }, () => []);
  for (let i = 1; i < n; i++) children[parents[i]].push(i);
  const path = new Float64Array(n);
  const depth = new Int32Array(n);
  path[0] = 1;
  for (let i = 1; i < n; i++) {
    path[i] = path[parents[i]] * scores[i];
    depth[i] = depth[parents[i]] + 1;
  }
  return { parents, scores, children, path, depth };
}

describe('growBestFirst', () => {
  it('keeps exactly the nodes with the highest path scores, each after its parent', () => {
    const random = mulberry32(21);
    for (let trial = 0; trial < 40; trial++) {
      const n = 2 + Math.floor(random() * 60);
      const src = randomSource(n, random);
      const budget = 1 + Math.floor(random() * n);
      const maxDepth = 1 + Math.floor(random() * 6);
      const minScore = random() < 0.5 ? 0 : 0.3;
      const grown = growBestFirst(100, 0, { budget, maxDepth, minScore }, (handle, depth, emit) => {
        expect(depth).toBe(src.depth[handle]);
        for (const c of src.children[handle]) emit(100 + c, src.scores[c], c);
      });
      validateTree(grown);
      // Reachable = every ancestor within maxDepth and scored at least minScore.
      const reachable = (i: number): boolean =>
        i === 0 || (src.depth[i] <= maxDepth && src.scores[i] >= minScore && reachable(src.parents[i]));
      const eligible = [...src.path.keys()].filter(reachable).sort((a, b) => src.path[b] - src.path[a]);
      const expected = eligible.slice(0, budget).sort((a, b) => a - b);
      const kept = [...grown.tokens].map((t) => t - 100).sort((a, b) => a - b);
      expect(kept).toEqual(expected);
      for (let i = 1; i < grown.tokens.length; i++) {
        const node = grown.tokens[i] - 100;
        expect(grown.tokens[grown.parents[i]]).toBe(100 + src.parents[node]);
        expect(grown.scores[i]).toBeCloseTo(src.scores[node], 6);
      }
    }
  });

  it('returns the root alone when nothing can be added', () => {
    const grown = growBestFirst(7, 0, { budget: 5, maxDepth: 3, minScore: 0 }, () => {});
    expect([...grown.tokens]).toEqual([7]);
    expect([...grown.parents]).toEqual([-1]);
    expect([...grown.scores]).toEqual([1]);
  });

  it('clamps scores above 1 and drops scores of 0 or NaN', () => {
    const grown = growBestFirst(1, 0, { budget: 5, maxDepth: 1, minScore: 0 }, (_h, _d, emit) => {
      emit(2, 1.5, 1);
      emit(3, 0, 2);
      emit(4, Number.NaN, 3);
    });
    expect([...grown.tokens]).toEqual([1, 2]);
    expect(grown.scores[1]).toBe(1);
  });

  it('does not expand past the budget', () => {
    let calls = 0;
    growBestFirst(1, 0, { budget: 3, maxDepth: 10, minScore: 0 }, (h, _d, emit) => {
      calls++;
      emit(10 + h, 0.9, h + 1);
    });
    // Root, then two children; the last node added is never expanded.
    expect(calls).toBe(2);
  });
});
