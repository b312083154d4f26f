/**
 * The verification walk: which drafted tokens the target agrees with.
 *
 * Vocabulary:
 * - *accepted*: node indices on the agreed path, root first. The root is always
 *   accepted; a drafted node is accepted when its token is what the target
 *   chose at its parent.
 * - *correction*: the target's token at the last accepted node when no child
 *   matches it (the draft was wrong there).
 * - *bonus*: the same token when the last accepted node has no children at all
 *   (the whole path was right and the target adds one more).
 * - *emitted*: the tokens committed by this step, in order: the accepted
 *   drafted tokens, then the correction or bonus.
 *
 * `accepted.length === emitted.length` always: the KV entries of the accepted
 * nodes are kept, and the last emitted token becomes the next root (no KV
 * yet). When EOS or the token limit cuts the step, the nodes past the cut are
 * not accepted.
 *
 * The walk is exact for greedy and for seeded sampling: the target's choice at
 * each node is the token plain decoding would emit after that node's path.
 */
import { CanopyError } from './errors.js';
import type { TokenTree } from './tree.js';

export interface WalkLimits {
  readonly eosTokenIds: readonly number[];
  /** Tokens still allowed for this request (>= 1). */
  readonly maxTokens: number;
}

export interface WalkResult {
  /** Node indices, root first. */
  readonly accepted: Int32Array;
  /** Accepted drafted tokens, then the correction or bonus token. */
  readonly emitted: Int32Array;
  /** Why the request ends with this step; null when it goes on. */
  readonly finish: 'eos' | 'length' | null;
}

/** Walks the tree with the target's chosen token for every node (`chosen` is [numNodes]). */
export function walkTree(tree: TokenTree, chosen: Int32Array, limits: WalkLimits): WalkResult {
  if (chosen.length < tree.tokens.length) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `the target chose ${chosen.length} tokens for a tree of ${tree.tokens.length} nodes`,
    );
  }
  return walkTreeWith(tree, (node) => chosen[node], limits);
}

/**
 * The same walk, asking for the target's choice only at the nodes it reaches.
 * A target that samples on the host can use it to draw at depth + 1 nodes
 * instead of at every node.
 */
export function walkTreeWith(
  tree: TokenTree,
  chooseAt: (node: number) => number,
  limits: WalkLimits,
): WalkResult {
  const { tokens, parents } = tree;
  const n = tokens.length;
  if (!Number.isInteger(limits.maxTokens) || limits.maxTokens < 1) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `maxTokens must be a positive integer, got ${limits.maxTokens}`,
    );
  }
  const cap = Math.min(n, limits.maxTokens);
  const accepted = new Int32Array(cap);
  const emitted = new Int32Array(cap);
  let length = 0;
  let node = 0;
  let finish: WalkResult['finish'] = null;
  for (;;) {
    const token = chooseAt(node);
    accepted[length] = node;
    emitted[length] = token;
    length++;
    if (limits.eosTokenIds.includes(token)) {
      finish = 'eos';
      break;
    }
    if (length === limits.maxTokens) {
      finish = 'length';
      break;
    }
    // parents[c] < c: the children of `node` all come after it.
    let next = -1;
    for (let c = node + 1; c < n; c++) {
      if (parents[c] === node && tokens[c] === token) {
        next = c;
        break;
      }
    }
    if (next < 0) break;
    node = next;
  }
  return { accepted: accepted.subarray(0, length), emitted: emitted.subarray(0, length), finish };
}
