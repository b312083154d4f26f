/**
 * EAGLE-2's dynamic draft tree (Li et al., 2024): the head's probabilities
 * decide the shape. Level by level, the `width` frontier nodes with the best
 * path scores (products of the head's probabilities from the root) are
 * expanded in one head pass, each into its `branch` most likely children; then
 * all candidates are reranked and the best `budget` form the tree.
 *
 * A frontier node whose path score is not above the budget-th best so far is
 * not expanded: its children can only score lower, so they could never make
 * the cut. This saves head passes without changing the tree. Nodes below
 * `minPathScore` are not expanded either (a cost trade, not an exact cut).
 */
import { growBestFirst } from '../../../kernels/best-first-tree.js';
import type { Draft } from '../../drafter.js';
import type { HeadModel } from './head-model.js';
import type { HeadCache, HeadRunner } from './head-runner.js';

export interface DraftLimits {
  /** Deepest draft node (root = 0). */
  readonly maxDepth: number;
  /** Frontier nodes expanded per level. */
  readonly width: number;
  /** Children kept per expanded node (the head's top-k). */
  readonly branch: number;
  /** Children the head gives less than this probability are dropped. */
  readonly minScore: number;
  /** Nodes with a lower path score are not expanded. */
  readonly minPathScore: number;
  /** Most nodes per draft, root included (also capped by the engine's budget). */
  readonly maxNodes: number;
}

/** What the last true row of the head predicts for the root's children. */
export interface RootPrediction {
  /** The root token. */
  readonly token: number;
  /** Position of the row before the root (the root sits at position + 1). */
  readonly position: number;
  /** [H] the head's predicted feature at the root. */
  readonly feature: Float32Array;
  /** [branch] draft-vocabulary indices of its children, best first. */
  readonly ids: Int32Array;
  /** [branch] their log-probabilities. */
  readonly logprobs: Float32Array;
}

/** Candidates in parallel arrays; index 0 is the root. */
class Candidates {
  readonly token: number[] = [];
  readonly parent: number[] = [];
  readonly prob: number[] = [];
  readonly path: number[] = [];
  readonly kvRow: number[] = [];
  readonly children: number[][] = [];
  readonly feature: (Float32Array | undefined)[] = [];

  add(token: number, parent: number, prob: number, path: number): number {
    const id = this.token.length;
    this.token.push(token);
    this.parent.push(parent);
    this.prob.push(prob);
    this.path.push(path);
    this.kvRow.push(-1);
    this.children.push([]);
    this.feature.push(undefined);
    if (parent >= 0) this.children[parent].push(id);
    return id;
  }
}

/** The score of the k-th best candidate below the root (0 when there are fewer). */
function kthBestPath(c: Candidates, k: number): number {
  if (c.path.length - 1 < k) return 0;
  return c.path.slice(1).sort((a, b) => b - a)[k - 1];
}

export async function growDraftTree(
  model: HeadModel,
  runner: HeadRunner,
  kv: HeadCache,
  root: RootPrediction,
  engineBudget: number,
  limits: DraftLimits,
): Promise<Draft | null> {
  const h = model.geometry.hidden;
  const k = limits.branch;
  const budget = Math.min(engineBudget, limits.maxNodes);
  const c = new Candidates();
  c.add(root.token, -1, 1, 1);
  c.feature[0] = root.feature;

  const addChildren = (parent: number, ids: Int32Array, logprobs: Float32Array, offset: number): number[] => {
    const added: number[] = [];
    for (let r = 0; r < k; r++) {
      const p = Math.exp(logprobs[offset + r]);
      if (!(p >= limits.minScore)) continue;
      const id = model.draftVocab[ids[offset + r]];
      added.push(c.add(id, parent, Math.min(p, 1), c.path[parent] * Math.min(p, 1)));
    }
    return added;
  };

  const trueRows = kv.length;
  let frontier = addChildren(0, root.ids, root.logprobs, 0);
  for (let depth = 1; depth < limits.maxDepth && frontier.length > 0; depth++) {
    const cut = Math.max(kthBestPath(c, budget - 1), limits.minPathScore);
    const chosen = frontier
      .filter((n) => c.path[n] > cut)
      .sort((a, b) => c.path[b] - c.path[a])
      .slice(0, limits.width);
    if (chosen.length === 0) break;

    const n = chosen.length;
    const t = kv.length;
    const width = t + n;
    const features = new Float32Array(n * h);
    const tokens = new Int32Array(n);
    const bias = new Float32Array(n * width).fill(Number.NEGATIVE_INFINITY);
    for (let j = 0; j < n; j++) {
      const node = chosen[j];
      features.set(c.feature[c.parent[node]]!, j * h);
      tokens[j] = c.token[node];
      // A row sees the true rows, the rows of its own ancestors, and itself.
      bias.fill(0, j * width, j * width + trueRows);
      for (let a = c.parent[node]; a > 0; a = c.parent[a]) bias[j * width + c.kvRow[a]] = 0;
      bias[j * width + t + j] = 0;
    }
    const out = await runner.run({
      features,
      embeds: model.embed(tokens),
      positions: chosen.map(() => root.position + depth),
      bias,
      past: t,
      kv,
      topK: k,
    });
    const next: number[] = [];
    for (let j = 0; j < n; j++) {
      const node = chosen[j];
      c.kvRow[node] = t + j;
      c.feature[node] = out.features.subarray(j * h, (j + 1) * h);
      next.push(...addChildren(node, out.ids, out.logprobs, j * k));
    }
    frontier = next;
  }

  const tree = growBestFirst(
    root.token,
    0,
    { budget, maxDepth: limits.maxDepth, minScore: 0 },
    (node, _depth, emit) => {
      for (const child of c.children[node]) emit(c.token[child], c.prob[child], child);
    },
  );
  return tree.tokens.length > 1 ? tree : null;
}
