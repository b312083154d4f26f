import { describe, expect, it } from 'vitest';
import { isCanopyError } from '../../kernels/errors.js';
import {
  attentionBias,
  chainTree,
  isAncestor,
  pathTo,
  type TokenTree,
  treeChildren,
  treeDepths,
  validateTree,
} from '../../kernels/tree.js';
import { mulberry32, randomParents } from './random.js';

function tree(tokens: number[], parents: number[]): TokenTree {
  return { tokens: Int32Array.from(tokens), parents: Int32Array.from(parents) };
}

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (error) {
    return isCanopyError(error) ? error.code : 'not a CanopyError';
  }
  return undefined;
}

/** Ancestors by walking up from scratch, the obvious way. */
function naiveAncestors(parents: Int32Array, node: number): Set<number> {
  const set = new Set<number>();
  for (let i = node; i !== -1; i = parents[i]) set.add(i);
  return set;
}

describe('validateTree', () => {
  it('accepts a single root and a branching tree', () => {
    expect(codeOf(() => validateTree(tree([5], [-1])))).toBeUndefined();
    expect(codeOf(() => validateTree(tree([5, 6, 7, 8], [-1, 0, 0, 1]), 9))).toBeUndefined();
  });

  it('rejects an empty tree', () => {
    expect(codeOf(() => validateTree(tree([], [])))).toBe('CANOPY_ERR_INVALID_TREE');
  });

  it('rejects mismatched lengths', () => {
    expect(codeOf(() => validateTree(tree([1, 2], [-1])))).toBe('CANOPY_ERR_INVALID_TREE');
  });

  it('rejects a root whose parent is not -1', () => {
    expect(codeOf(() => validateTree(tree([1, 2], [0, 0])))).toBe('CANOPY_ERR_INVALID_TREE');
  });

  it('rejects a second root', () => {
    expect(codeOf(() => validateTree(tree([1, 2, 3], [-1, 0, -1])))).toBe('CANOPY_ERR_INVALID_TREE');
  });

  it('rejects a parent that is not before its child, which is how cycles show', () => {
    expect(codeOf(() => validateTree(tree([1, 2, 3], [-1, 2, 1])))).toBe('CANOPY_ERR_INVALID_TREE');
    expect(codeOf(() => validateTree(tree([1, 2], [-1, 1])))).toBe('CANOPY_ERR_INVALID_TREE');
    expect(codeOf(() => validateTree(tree([1, 2], [-1, -7])))).toBe('CANOPY_ERR_INVALID_TREE');
  });

  it('names the offending node in the error details', () => {
    try {
      validateTree(tree([1, 2, 3, 4], [-1, 0, 1, 3]));
      expect.unreachable();
    } catch (error) {
      expect(isCanopyError(error) && error.details?.node).toBe(3);
    }
  });

  it('rejects token ids outside the vocabulary', () => {
    expect(codeOf(() => validateTree(tree([1, 9], [-1, 0]), 9))).toBe('CANOPY_ERR_TOKEN_OUT_OF_VOCAB');
    expect(codeOf(() => validateTree(tree([1, -1], [-1, 0])))).toBe('CANOPY_ERR_TOKEN_OUT_OF_VOCAB');
  });
});

describe('treeDepths and pathTo', () => {
  it('derives depths from parents', () => {
    expect([...treeDepths(Int32Array.from([-1, 0, 0, 1, 3, 2]))]).toEqual([0, 1, 1, 2, 3, 2]);
  });

  it('returns the path root first', () => {
    const parents = Int32Array.from([-1, 0, 0, 1, 3, 2]);
    expect([...pathTo(parents, 4)]).toEqual([0, 1, 3, 4]);
    expect([...pathTo(parents, 0)]).toEqual([0]);
  });

  it('builds chains whose every node extends the previous one', () => {
    const chain = chainTree([7, 8, 9]);
    expect(() => validateTree(chain)).not.toThrow();
    expect([...chain.parents]).toEqual([-1, 0, 1]);
    expect([...treeDepths(chain.parents)]).toEqual([0, 1, 2]);
  });
});

describe('attentionBias', () => {
  it('lets every node see the cache, its ancestors and itself, and nothing else (random trees)', () => {
    const random = mulberry32(11);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(random() * 40);
      const cached = Math.floor(random() * 5);
      const parents = randomParents(n, random);
      const bias = attentionBias(parents, cached);
      const width = cached + n;
      expect(bias.length).toBe(n * width);
      for (let i = 0; i < n; i++) {
        const ancestors = naiveAncestors(parents, i);
        for (let c = 0; c < width; c++) {
          const open = c < cached || ancestors.has(c - cached);
          expect(bias[i * width + c]).toBe(open ? 0 : Number.NEGATIVE_INFINITY);
        }
        for (let j = 0; j < n; j++) expect(isAncestor(parents, j, i)).toBe(ancestors.has(j));
      }
    }
  });

  it('overwrites a reused buffer completely', () => {
    const parents = Int32Array.from([-1, 0, 0]);
    const out = new Float32Array(3 * 5).fill(123);
    attentionBias(parents, 2, out);
    expect([...out]).toEqual([...attentionBias(parents, 2)]);
  });

  it('rejects a buffer too small for the tree', () => {
    expect(codeOf(() => attentionBias(Int32Array.from([-1, 0]), 3, new Float32Array(4)))).toBe(
      'CANOPY_ERR_INVALID_ARGUMENT',
    );
  });
});

describe('treeChildren', () => {
  it('lists each node children in index order', () => {
    const parents = Int32Array.from([-1, 0, 0, 1, 0, 1]);
    const { offsets, children } = treeChildren(parents);
    const of = (i: number) => [...children.subarray(offsets[i], offsets[i + 1])];
    expect(of(0)).toEqual([1, 2, 4]);
    expect(of(1)).toEqual([3, 5]);
    expect(of(2)).toEqual([]);
  });
});
