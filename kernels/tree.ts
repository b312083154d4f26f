/**
 * A token tree in flat form.
 *
 * Node 0 is the *root*: the last committed token, whose KV entry does not exist
 * yet. Every other node is a drafted token; `parents[i] < i` (topological
 * order), `parents[0] = -1`. Depths and attention masks are derived from
 * `parents`, never stored beside it.
 */
import { CanopyError } from './errors.js';

export interface TokenTree {
  /** [numNodes] token id of each node. */
  readonly tokens: Int32Array;
  /** [numNodes] index of each node's parent; -1 for the root. */
  readonly parents: Int32Array;
}

/**
 * A tree whose nodes carry a score: the estimate that the target accepts the
 * node given that its parent was accepted, in (0, 1]; the root's score is 1.
 * A drafter's `Draft` is one (kernels do not import adapters).
 */
export interface ScoredTree extends TokenTree {
  /** [numNodes] */
  readonly scores: Float32Array;
}

function invalid(message: string, details: Record<string, unknown>): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_TREE', message, { details });
}

/**
 * Checks the tree contract: at least one node, equal lengths, `parents[0] = -1`,
 * `0 <= parents[i] < i` for every other node (which rules out cycles and second
 * roots), and token ids in `[0, vocabSize)` when `vocabSize` is given (else
 * non-negative). Throws CANOPY_ERR_INVALID_TREE, or CANOPY_ERR_TOKEN_OUT_OF_VOCAB
 * for a bad token id, naming the first offending node.
 */
export function validateTree(tree: TokenTree, vocabSize?: number): void {
  const { tokens, parents } = tree;
  if (!(tokens instanceof Int32Array) || !(parents instanceof Int32Array)) {
    throw invalid('tree tokens and parents must be Int32Arrays', {});
  }
  const n = tokens.length;
  if (n === 0) throw invalid('tree is empty: it needs at least the root', { numNodes: 0 });
  if (parents.length !== n) {
    throw invalid(`tree has ${n} tokens but ${parents.length} parents`, {
      numTokens: n,
      numParents: parents.length,
    });
  }
  if (parents[0] !== -1) {
    throw invalid(`node 0 is the root and must have parent -1, got ${parents[0]}`, {
      node: 0,
      parent: parents[0],
    });
  }
  for (let i = 1; i < n; i++) {
    const p = parents[i];
    if (p === -1) throw invalid(`node ${i} is a second root (parent -1)`, { node: i, parent: p });
    if (p < 0 || p >= i) {
      throw invalid(`node ${i} has parent ${p}; parents must satisfy 0 <= parents[i] < i`, {
        node: i,
        parent: p,
      });
    }
  }
  const limit = vocabSize ?? 0x7fffffff;
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (t < 0 || t >= limit) {
      throw new CanopyError(
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
        vocabSize === undefined
          ? `node ${i} has negative token id ${t}`
          : `node ${i} has token id ${t} outside the vocabulary [0, ${vocabSize})`,
        { details: { node: i, token: t, vocabSize } },
      );
    }
  }
}

/** [numNodes] depth of each node: 0 for the root, parent's depth + 1 otherwise. */
export function treeDepths(parents: Int32Array, out?: Int32Array): Int32Array {
  const n = parents.length;
  const depths = out ?? new Int32Array(n);
  if (n > 0) depths[0] = 0;
  for (let i = 1; i < n; i++) depths[i] = depths[parents[i]] + 1;
  return depths;
}

/**
 * [N, cachedLength + N] row-major additive bias, 0 = may attend (all cached
 * positions, ancestors, itself), -Infinity otherwise. Row i copies its
 * parent's row (already final, since `parents[i] < i`) and adds itself, so the
 * cost is one pass over the output.
 */
export function attentionBias(parents: Int32Array, cachedLength: number, out?: Float32Array): Float32Array {
  const n = parents.length;
  const width = cachedLength + n;
  const bias = out ?? new Float32Array(n * width);
  if (bias.length < n * width) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `attention bias buffer holds ${bias.length} < ${n * width}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const row = i * width;
    bias.fill(0, row, row + cachedLength);
    const p = parents[i];
    if (p < 0) bias.fill(Number.NEGATIVE_INFINITY, row + cachedLength, row + width);
    else bias.copyWithin(row + cachedLength, p * width + cachedLength, p * width + width);
    bias[row + cachedLength + i] = 0;
  }
  return bias;
}

/** Node indices from the root to `node`, root first. */
export function pathTo(parents: Int32Array, node: number): Int32Array {
  let length = 0;
  for (let i = node; i >= 0; i = parents[i]) length++;
  const path = new Int32Array(length);
  for (let i = node, k = length - 1; i >= 0; i = parents[i], k--) path[k] = i;
  return path;
}

/** A chain: node i's parent is i - 1. `tokens[0]` is the root. */
export function chainTree(tokens: ArrayLike<number>): TokenTree {
  const n = tokens.length;
  const parents = new Int32Array(n);
  for (let i = 0; i < n; i++) parents[i] = i - 1;
  return { tokens: Int32Array.from(tokens), parents };
}

/**
 * Children in compressed form: the children of node i are
 * `children[offsets[i] .. offsets[i + 1])`, in increasing index order.
 */
export interface TreeChildren {
  /** [numNodes + 1] */
  readonly offsets: Int32Array;
  /** [numNodes - 1] */
  readonly children: Int32Array;
}

export function treeChildren(parents: Int32Array): TreeChildren {
  const n = parents.length;
  const offsets = new Int32Array(n + 1);
  for (let i = 1; i < n; i++) offsets[parents[i] + 1]++;
  for (let i = 0; i < n; i++) offsets[i + 1] += offsets[i];
  const fill = offsets.slice(0, n);
  const children = new Int32Array(Math.max(0, n - 1));
  for (let i = 1; i < n; i++) children[fill[parents[i]]++] = i;
  return { offsets, children };
}

/** True when `ancestor` is on the path from the root to `node` (a node is its own ancestor). */
export function isAncestor(parents: Int32Array, ancestor: number, node: number): boolean {
  for (let i = node; i >= ancestor; i = parents[i]) if (i === ancestor) return true;
  return false;
}
