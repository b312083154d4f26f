/**
 * Fusion: many drafters' trees become one tree under a node budget.
 *
 * 1. Merge as a trie: the same token under the same (fused) parent is one node.
 * 2. Combine the node scores of the drafters that proposed it with a noisy-OR
 *    of their calibrated scores, 1 - Π(1 - wᵢ·sᵢ) (each clamped to [0, 1]).
 *    Scores are per-drafter estimates that the target accepts the node; two
 *    drafters reaching the same token by different evidence (prompt lookup,
 *    the recycling matrix, a corpus) make it likelier than either alone,
 *    which max() would ignore. The calibration multiplier `weight` is learned
 *    online from what the target accepted, which also corrects the
 *    overconfidence noisy-OR has when drafters are correlated. Duplicate nodes
 *    within one draft count once (their max), so a drafter cannot vote twice.
 *    An optional `recalibrate(sources, score)` then maps each combined score
 *    to a probability learned for that set of drafters (the engine's second
 *    calibration stage, engine/calibration.ts); the combined score stays in
 *    `combinedScores`, which is what that stage learns from.
 * 3. Keep the `budget` nodes with the highest path score (product of node
 *    scores root→node). A child's path score never exceeds its parent's, so
 *    with ties broken by depth (shallower first) and then by trie index
 *    (parents are created first) the best `budget` nodes always form a
 *    subtree. A best-first expansion from the root finds them in that order.
 *    Nodes with path score 0 are never kept: they cannot raise the expected
 *    number of accepted tokens.
 *
 * The output lists nodes in that selection order, which is topological, and
 * makes every prefix the best tree for a smaller budget (see `prefixTree`).
 */
import { CanopyError } from './errors.js';
import type { ScoredTree, TokenTree } from './tree.js';

export interface FusionInput {
  /** A valid tree (validateTree) whose root is the current root; node 0's own token is not read. */
  readonly draft: ScoredTree;
  /** Drafter index 0..31: its bit in `FusedTree.sources`. */
  readonly source: number;
  /** Calibration multiplier applied to the draft's scores (default 1). */
  readonly weight?: number;
}

export interface FusedTree extends TokenTree {
  /** [numNodes] node score (recalibrated when fusion was given `recalibrate`); 1 for the root. */
  readonly scores: Float32Array;
  /** [numNodes] the noisy-OR of the drafters' scores, before any recalibration; 1 for the root. */
  readonly combinedScores: Float32Array;
  /** [numNodes] product of scores from the root to the node, non-increasing along each path. */
  readonly pathScores: Float32Array;
  /** [numNodes] bitmask of the drafters (by source) that proposed each node; the root has every input's bit. */
  readonly sources: Uint32Array;
}

export function fuseTrees(
  rootToken: number,
  inputs: readonly FusionInput[],
  budget: number,
  recalibrate?: (sources: number, score: number) => number,
): FusedTree {
  if (!Number.isInteger(budget) || budget < 1) {
    throw new CanopyError(
      'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
      `fusion budget must be a positive integer, got ${budget}`,
    );
  }
  let capacity = 1;
  let widest = 1;
  for (const input of inputs) {
    if (!Number.isInteger(input.source) || input.source < 0 || input.source > 31) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_ARGUMENT',
        `drafter source must be in 0..31, got ${input.source}`,
      );
    }
    capacity += Math.max(0, input.draft.tokens.length - 1);
    widest = Math.max(widest, input.draft.tokens.length);
  }

  const trie = new Trie(capacity, rootToken);
  const map = new Int32Array(widest);
  const touched = new Int32Array(widest);
  for (let k = 0; k < inputs.length; k++) {
    const { draft, source, weight = 1 } = inputs[k];
    const bit = (1 << source) >>> 0;
    trie.sources[0] |= bit;
    let numTouched = 0;
    for (let j = 1; j < draft.tokens.length; j++) {
      const node = trie.child(map[draft.parents[j]], draft.tokens[j]);
      map[j] = node;
      const raw = weight * draft.scores[j];
      const s = raw > 0 ? Math.min(raw, 1) : 0; // NaN and non-positive scores become 0
      if (trie.lastInput[node] !== k) {
        trie.lastInput[node] = k;
        trie.current[node] = s;
        touched[numTouched++] = node;
      } else if (s > trie.current[node]) {
        trie.current[node] = s;
      }
      trie.sources[node] |= bit;
    }
    for (let t = 0; t < numTouched; t++) {
      const node = touched[t];
      const a = trie.score[node];
      const b = trie.current[node];
      trie.score[node] = a + b - a * b; // noisy-OR, exact (= b) for the first drafter
    }
  }
  trie.combined.set(trie.score.subarray(0, trie.size));
  if (recalibrate) {
    for (let node = 1; node < trie.size; node++) {
      const s = recalibrate(trie.sources[node], trie.score[node]);
      trie.score[node] = s > 0 ? Math.min(s, 1) : 0;
    }
  }
  return trie.select(budget);
}

/** The best tree for a smaller budget: a prefix of a fused tree (its order makes prefixes valid). */
export function prefixTree(tree: FusedTree, budget: number): FusedTree {
  const n = Math.max(1, Math.min(budget, tree.tokens.length));
  if (n === tree.tokens.length) return tree;
  return {
    tokens: tree.tokens.subarray(0, n),
    parents: tree.parents.subarray(0, n),
    scores: tree.scores.subarray(0, n),
    combinedScores: tree.combinedScores.subarray(0, n),
    pathScores: tree.pathScores.subarray(0, n),
    sources: tree.sources.subarray(0, n),
  };
}

/** The merged trie, children as linked lists (branching is small, so a scan beats hashing). */
class Trie {
  size = 1;
  readonly tokens: Int32Array;
  readonly parents: Int32Array;
  readonly depth: Int32Array;
  readonly firstChild: Int32Array;
  readonly nextSibling: Int32Array;
  readonly score: Float64Array;
  /** Noisy-OR score before recalibration. */
  readonly combined: Float64Array;
  /** Max score the input being merged gave the node. */
  readonly current: Float64Array;
  readonly lastInput: Int32Array;
  readonly sources: Uint32Array;

  constructor(capacity: number, rootToken: number) {
    this.tokens = new Int32Array(capacity);
    this.parents = new Int32Array(capacity);
    this.depth = new Int32Array(capacity);
    this.firstChild = new Int32Array(capacity).fill(-1);
    this.nextSibling = new Int32Array(capacity);
    this.score = new Float64Array(capacity);
    this.combined = new Float64Array(capacity);
    this.current = new Float64Array(capacity);
    this.lastInput = new Int32Array(capacity).fill(-1);
    this.sources = new Uint32Array(capacity);
    this.tokens[0] = rootToken;
    this.parents[0] = -1;
    this.score[0] = 1;
  }

  /** The child of `parent` holding `token`, created if absent. */
  child(parent: number, token: number): number {
    for (let c = this.firstChild[parent]; c >= 0; c = this.nextSibling[c])
      if (this.tokens[c] === token) return c;
    const c = this.size++;
    this.tokens[c] = token;
    this.parents[c] = parent;
    this.depth[c] = this.depth[parent] + 1;
    this.nextSibling[c] = this.firstChild[parent];
    this.firstChild[parent] = c;
    return c;
  }

  /** Best-first expansion from the root by (path score desc, depth asc, index asc). */
  select(budget: number): FusedTree {
    const n = this.size;
    const path = new Float64Array(n);
    path[0] = 1;
    const heap = new Int32Array(n);
    let heapSize = 0;
    const before = (a: number, b: number): boolean =>
      path[a] > path[b] ||
      (path[a] === path[b] && (this.depth[a] < this.depth[b] || (this.depth[a] === this.depth[b] && a < b)));
    const push = (x: number): void => {
      let i = heapSize++;
      while (i > 0) {
        const up = (i - 1) >> 1;
        if (!before(x, heap[up])) break;
        heap[i] = heap[up];
        i = up;
      }
      heap[i] = x;
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap[--heapSize];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heapSize) break;
        const c = l + 1 < heapSize && before(heap[l + 1], heap[l]) ? l + 1 : l;
        if (!before(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
      return top;
    };

    const keep = Math.min(budget, n);
    const newIndex = new Int32Array(n);
    const tokens = new Int32Array(keep);
    const parents = new Int32Array(keep);
    const scores = new Float32Array(keep);
    const combinedScores = new Float32Array(keep);
    const pathScores = new Float32Array(keep);
    const sources = new Uint32Array(keep);
    push(0);
    let out = 0;
    while (out < keep && heapSize > 0) {
      const node = pop();
      newIndex[node] = out;
      tokens[out] = this.tokens[node];
      parents[out] = node === 0 ? -1 : newIndex[this.parents[node]];
      scores[out] = this.score[node];
      combinedScores[out] = this.combined[node];
      pathScores[out] = path[node];
      sources[out] = this.sources[node];
      out++;
      for (let c = this.firstChild[node]; c >= 0; c = this.nextSibling[c]) {
        path[c] = path[node] * this.score[c];
        if (path[c] > 0) push(c);
      }
    }
    if (out === keep) return { tokens, parents, scores, combinedScores, pathScores, sources };
    return {
      tokens: tokens.slice(0, out),
      parents: parents.slice(0, out),
      scores: scores.slice(0, out),
      combinedScores: combinedScores.slice(0, out),
      pathScores: pathScores.slice(0, out),
      sources: sources.slice(0, out),
    };
  }
}
