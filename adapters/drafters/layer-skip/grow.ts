/**
 * A draft tree grown one scratch pass per depth. Each pass runs the whole
 * tree so far (scratch KV is discarded) and reads the layer-skipped model's
 * top-k at the nodes the previous round added (the *frontier*); their
 * children are the next round's frontier.
 *
 * A frontier node gets its top-1 candidate, and its runner-ups too when the
 * top-1 probability is below `splitBelow` (confidence is split). Candidates
 * are kept best-first by calibrated path probability, at most `maxWidth` per
 * round, so the tree spends its nodes where the drafts are most likely right.
 */

import type { TokenTree } from '../../../kernels/tree.js';
import type { Draft } from '../../drafter.js';
import type { PassResult } from '../../target.js';

export interface GrowOptions {
  readonly topK: number;
  readonly splitBelow: number;
  readonly minProbability: number;
  readonly maxWidth: number;
}

/** Smallest score a node may carry (a Draft's scores are in (0, 1]). */
const MIN_SCORE = 1e-6;

export class DraftTree {
  readonly tokens: number[];
  readonly parents: number[] = [-1];
  /** The drafter's probability of each node given its parent (the raw layer-skipped softmax). */
  readonly scores: number[] = [1];
  /** Calibrated probability that the target accepts the whole path to each node. */
  readonly paths: number[] = [1];
  /** The layer-skipped model's greedy token after each node; −1 until a pass has read the node. */
  readonly predicted: number[] = [-1];
  /** Its top-1 probability there. */
  readonly top1: number[] = [0];
  /** Nodes added by the last round, whose top-k the next pass reads. */
  frontier: number[] = [0];
  passes = 0;

  constructor(root: number) {
    this.tokens = [root];
  }

  get size(): number {
    return this.tokens.length;
  }

  asTree(): TokenTree {
    return { tokens: Int32Array.from(this.tokens), parents: Int32Array.from(this.parents) };
  }

  /**
   * Reads one pass over `asTree()` (top-k per node, `k` wide) and adds up to
   * `room` children of the frontier. Returns the best new path probability
   * (0 when nothing was added).
   */
  grow(
    result: PassResult,
    k: number,
    options: GrowOptions,
    calibrate: (p: number) => number,
    room: number,
  ): number {
    this.passes++;
    const ids = result.topKIds;
    const logprobs = result.topKLogprobs;
    const candidates: { parent: number; token: number; score: number; path: number }[] = [];
    for (const f of this.frontier) {
      this.predicted[f] = result.chosen[f];
      if (!ids || !logprobs) continue;
      const p1 = Math.exp(logprobs[f * k]);
      this.top1[f] = p1;
      for (let r = 0; r < k; r++) {
        if (r > 0 && p1 >= options.splitBelow) break;
        const p = Math.exp(logprobs[f * k + r]);
        if (!(p >= options.minProbability)) break; // best first: the rest are smaller
        candidates.push({ parent: f, token: ids[f * k + r], score: p, path: this.paths[f] * calibrate(p) });
      }
    }
    candidates.sort((a, b) => b.path - a.path);
    const take = Math.min(candidates.length, options.maxWidth, Math.max(0, room));
    const added: number[] = [];
    for (let i = 0; i < take; i++) {
      const c = candidates[i];
      added.push(this.tokens.length);
      this.tokens.push(c.token);
      this.parents.push(c.parent);
      this.scores.push(Math.min(1, Math.max(MIN_SCORE, c.score)));
      this.paths.push(c.path);
      this.predicted.push(-1);
      this.top1.push(0);
    }
    this.frontier = added;
    return take > 0 ? candidates[0].path : 0;
  }

  toDraft(): Draft {
    return {
      tokens: Int32Array.from(this.tokens),
      parents: Int32Array.from(this.parents),
      scores: Float32Array.from(this.scores),
    };
  }
}

/** A token tree in any array form. */
export interface TreeLike {
  readonly tokens: ArrayLike<number>;
  readonly parents: ArrayLike<number>;
}

/**
 * For every node of the verified tree, the index of the same node (same
 * token path from the root) in `draft`, or −1. `parents[i] < i` in both.
 */
export function mapOnto(verified: TreeLike, draft: TreeLike): Int32Array {
  const n = verified.tokens.length;
  const mine = new Int32Array(n).fill(-1);
  if (n === 0 || draft.tokens.length === 0 || verified.tokens[0] !== draft.tokens[0]) return mine;
  const children = new Map<number, number>();
  const width = 2 ** 21; // keys parent * width + token stay exact below 2^53
  for (let i = 1; i < draft.tokens.length; i++) children.set(draft.parents[i] * width + draft.tokens[i], i);
  mine[0] = 0;
  for (let j = 1; j < n; j++) {
    const p = verified.parents[j];
    const m = p >= 0 ? mine[p] : -1;
    if (m >= 0) mine[j] = children.get(m * width + verified.tokens[j]) ?? -1;
  }
  return mine;
}
