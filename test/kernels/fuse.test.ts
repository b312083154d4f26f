import { describe, expect, it } from 'vitest';
import { type FusedTree, type FusionInput, fuseTrees, prefixTree } from '../../kernels/fuse.js';
import { pathTo, type ScoredTree, validateTree } from '../../kernels/tree.js';
import { mulberry32, randomParents } from './random.js';

const ROOT = 100;

function draft(tokens: number[], parents: number[], scores: number[]): ScoredTree {
  return {
    tokens: Int32Array.from(tokens),
    parents: Int32Array.from(parents),
    scores: Float32Array.from(scores),
  };
}

/** Token path (root excluded) of a node, as a string key: the identity of a trie node. */
function keyOf(tree: { tokens: Int32Array; parents: Int32Array }, node: number): string {
  return [...pathTo(tree.parents, node)]
    .slice(1)
    .map((i) => tree.tokens[i])
    .join(',');
}

interface NaiveNode {
  score: number;
  path: number;
  sources: number;
  depth: number;
}

/** The fusion rules written with string keys and no cleverness. */
function naiveTrie(inputs: readonly FusionInput[]): Map<string, NaiveNode> {
  const perInput = inputs.map(({ draft: d, weight = 1 }) => {
    const best = new Map<string, number>();
    for (let j = 1; j < d.tokens.length; j++) {
      const s = Math.min(1, Math.max(0, weight * d.scores[j]));
      const key = keyOf(d, j);
      best.set(key, Math.max(best.get(key) ?? 0, s));
    }
    return best;
  });
  const nodes = new Map<string, NaiveNode>([['', { score: 1, path: 1, sources: 0, depth: 0 }]]);
  inputs.forEach((input, k) => {
    nodes.get('')!.sources |= 1 << input.source;
    for (const [key, s] of perInput[k]) {
      const node = nodes.get(key) ?? { score: 0, path: 0, sources: 0, depth: key.split(',').length };
      node.score = 1 - (1 - node.score) * (1 - s);
      node.sources |= 1 << input.source;
      nodes.set(key, node);
    }
  });
  const keys = [...nodes.keys()].sort((a, b) => nodes.get(a)!.depth - nodes.get(b)!.depth);
  for (const key of keys) {
    if (key === '') continue;
    const parent = key.includes(',') ? key.slice(0, key.lastIndexOf(',')) : '';
    nodes.get(key)!.path = nodes.get(parent)!.path * nodes.get(key)!.score;
  }
  return nodes;
}

function randomInputs(
  random: () => number,
  count: number,
  maxNodes: number,
  alphabet: number,
): FusionInput[] {
  return Array.from({ length: count }, (_, k) => {
    const n = 1 + Math.floor(random() * maxNodes);
    const parents = randomParents(n, random);
    const tokens = Int32Array.from({ length: n }, (_, i) =>
      i === 0 ? ROOT : Math.floor(random() * alphabet),
    );
    const scores = Float32Array.from({ length: n }, (_, i) =>
      i === 0 ? 1 : random() < 0.1 ? 1 : 0.05 + 0.9 * random(),
    );
    return {
      draft: { tokens, parents, scores },
      source: (k * 7) % 32,
      weight: random() < 0.3 ? 0.5 + random() : undefined,
    };
  });
}

function sumOfPathScores(tree: FusedTree): number {
  let sum = 0;
  for (let i = 0; i < tree.tokens.length; i++) sum += tree.pathScores[i];
  return sum;
}

/** Best sum of path scores over all parent-closed node sets of the given size (tiny tries only). */
function bruteForceBest(nodes: Map<string, NaiveNode>, size: number): number {
  const keys = [...nodes.keys()].filter((k) => k !== '' && nodes.get(k)!.path > 0);
  let best = 0;
  for (let mask = 0; mask < 1 << keys.length; mask++) {
    const chosen = new Set(keys.filter((_, i) => mask & (1 << i)));
    if (chosen.size !== size - 1) continue;
    const closed = [...chosen].every((k) => !k.includes(',') || chosen.has(k.slice(0, k.lastIndexOf(','))));
    if (!closed) continue;
    let sum = 1;
    for (const k of chosen) sum += nodes.get(k)!.path;
    best = Math.max(best, sum);
  }
  return best;
}

describe('fuseTrees', () => {
  it('merges the same token under the same parent and records who proposed it', () => {
    const a = draft([ROOT, 5, 6], [-1, 0, 1], [1, 0.5, 0.5]);
    const b = draft([ROOT, 5, 7], [-1, 0, 1], [1, 0.4, 0.9]);
    const fused = fuseTrees(
      ROOT,
      [
        { draft: a, source: 0 },
        { draft: b, source: 3 },
      ],
      10,
    );
    expect(fused.tokens.length).toBe(4);
    const five = fused.tokens.indexOf(5);
    expect(fused.sources[five]).toBe(0b1001);
    expect(fused.scores[five]).toBeCloseTo(1 - 0.5 * 0.6, 6);
    expect(fused.sources[fused.tokens.indexOf(6)]).toBe(0b0001);
    expect(fused.sources[fused.tokens.indexOf(7)]).toBe(0b1000);
    expect(fused.sources[0]).toBe(0b1001);
  });

  it('keeps the higher path score when two drafters agree', () => {
    const a = draft([ROOT, 1, 2], [-1, 0, 0], [1, 0.6, 0.65]);
    const b = draft([ROOT, 1], [-1, 0], [1, 0.6]);
    const fused = fuseTrees(
      ROOT,
      [
        { draft: a, source: 0 },
        { draft: b, source: 1 },
      ],
      2,
    );
    expect([...fused.tokens]).toEqual([ROOT, 1]);
    expect(fused.pathScores[1]).toBeCloseTo(0.84, 6);
  });

  it('counts a token a drafter proposed twice under one parent once', () => {
    const a = draft([ROOT, 4, 4], [-1, 0, 0], [1, 0.5, 0.3]);
    const fused = fuseTrees(ROOT, [{ draft: a, source: 2 }], 8);
    expect(fused.tokens.length).toBe(2);
    expect(fused.scores[1]).toBeCloseTo(0.5, 6);
  });

  it('keeps a single draft scores as they are', () => {
    const a = draft([ROOT, 4, 9, 3], [-1, 0, 1, 0], [1, 0.7, 0.3, 0.2]);
    const fused = fuseTrees(ROOT, [{ draft: a, source: 0 }], 8);
    expect([...fused.tokens]).toEqual([ROOT, 4, 9, 3]);
    expect([...fused.scores]).toEqual([...a.scores]);
  });

  it('never keeps nodes whose path score is zero', () => {
    const a = draft([ROOT, 4, 9], [-1, 0, 1], [1, 0.7, 0.3]);
    const fused = fuseTrees(ROOT, [{ draft: a, source: 0, weight: 0 }], 8);
    expect(fused.tokens.length).toBe(1);
  });

  it('recalibrates combined scores by source set before selecting, and keeps the combined ones', () => {
    // Drafter 0 alone proposes 4 (0.8); drafters 0 and 1 both propose 5 (0.5 and 0.2 → 0.6).
    const a = draft([ROOT, 4, 5], [-1, 0, 0], [1, 0.8, 0.5]);
    const b = draft([ROOT, 5], [-1, 0], [1, 0.2]);
    const inputs = [
      { draft: a, source: 0 },
      { draft: b, source: 1 },
    ];
    const seen: [number, number][] = [];
    // A node only drafter 0 wanted is rarely right; one both agree on usually is.
    const fused = fuseTrees(ROOT, inputs, 2, (sources, score) => {
      seen.push([sources, score]);
      return sources === 0b11 ? 0.9 : 0.1;
    });
    expect(seen.map(([s, x]) => [s, Math.round(x * 100) / 100]).sort()).toEqual([
      [1, 0.8],
      [3, 0.6],
    ]);
    // The budget keeps the agreed node, not the higher-scored lone one.
    expect([...fused.tokens]).toEqual([ROOT, 5]);
    expect(fused.scores[1]).toBeCloseTo(0.9, 6);
    expect(fused.pathScores[1]).toBeCloseTo(0.9, 6);
    expect(fused.combinedScores[1]).toBeCloseTo(0.6, 6);
    // Without it, the lone node ranks first.
    expect([...fuseTrees(ROOT, inputs, 2).tokens]).toEqual([ROOT, 4]);
  });

  it('with no input returns the root alone', () => {
    const fused = fuseTrees(ROOT, [], 8);
    expect([...fused.tokens]).toEqual([ROOT]);
    expect([...fused.parents]).toEqual([-1]);
  });

  it('rejects budgets that are not positive integers', () => {
    for (const budget of [0, -1, 2.5, Number.NaN]) {
      expect(() => fuseTrees(ROOT, [], budget)).toThrow(
        expect.objectContaining({ code: 'CANOPY_ERR_BUDGET_OUT_OF_RANGE' }),
      );
    }
  });

  it('rejects drafter sources outside 0..31', () => {
    const a = draft([ROOT], [-1], [1]);
    expect(() => fuseTrees(ROOT, [{ draft: a, source: 32 }], 4)).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
    );
  });

  it('on random inputs: a valid subtree, scores and provenance as the trie rules say, best nodes first', () => {
    const random = mulberry32(5);
    for (let trial = 0; trial < 200; trial++) {
      const inputs = randomInputs(random, 1 + Math.floor(random() * 4), 30, 4);
      const budget = 1 + Math.floor(random() * 40);
      const fused = fuseTrees(ROOT, inputs, budget);
      const naive = naiveTrie(inputs);
      const positive = [...naive.values()].filter((v) => v.path > 0).length;
      expect(fused.tokens.length).toBe(Math.min(budget, positive));
      expect(() => validateTree(fused)).not.toThrow();
      const keptKeys = new Set<string>();
      for (let i = 0; i < fused.tokens.length; i++) {
        const key = keyOf(fused, i);
        expect(keptKeys.has(key)).toBe(false);
        keptKeys.add(key);
        const node = naive.get(key)!;
        expect(fused.scores[i]).toBeCloseTo(node.score, 6);
        expect(fused.pathScores[i]).toBeCloseTo(node.path, 6);
        expect(fused.sources[i]).toBe(node.sources >>> 0);
        if (i > 0) expect(fused.pathScores[i]).toBeLessThanOrEqual(fused.pathScores[i - 1]);
      }
      // No dropped node beats the worst kept one.
      const worstKept = Math.min(...fused.pathScores);
      for (const [key, node] of naive) {
        if (!keptKeys.has(key)) expect(Math.fround(node.path)).toBeLessThanOrEqual(worstKept);
      }
    }
  });

  it('maximises the sum of path scores over all subtrees of the budget size (brute force)', () => {
    const random = mulberry32(8);
    let checked = 0;
    while (checked < 60) {
      const inputs = randomInputs(random, 1 + Math.floor(random() * 3), 6, 3);
      const naive = naiveTrie(inputs);
      if (naive.size > 14 || naive.size < 3) continue;
      const budget = 2 + Math.floor(random() * (naive.size - 1));
      const fused = fuseTrees(ROOT, inputs, budget);
      expect(sumOfPathScores(fused)).toBeCloseTo(bruteForceBest(naive, fused.tokens.length), 5);
      checked++;
    }
  });

  it('gives the same result whatever the budget, up to the budget: every prefix is the smaller answer', () => {
    const random = mulberry32(13);
    for (let trial = 0; trial < 50; trial++) {
      const inputs = randomInputs(random, 3, 40, 5);
      const full = fuseTrees(ROOT, inputs, 64);
      for (const budget of [1, 2, 5, 17]) {
        const small = fuseTrees(ROOT, inputs, budget);
        const prefix = prefixTree(full, budget);
        expect([...prefix.tokens]).toEqual([...small.tokens]);
        expect([...prefix.parents]).toEqual([...small.parents]);
        expect([...prefix.sources]).toEqual([...small.sources]);
      }
    }
  });
});
