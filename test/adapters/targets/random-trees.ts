/**
 * Seeded random token trees and a plain verify walk, for the target
 * conformance suite. Independent of kernels/ on purpose: the suite checks
 * targets, not the engine's own helpers.
 */
import type { TokenTree } from '../../../kernels/tree.js';

/** mulberry32 */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random tree of `n` nodes rooted at `root`: each node hangs under one of
 * the last few nodes (so trees are both deep and bushy), with random tokens.
 * `chain`, when given, is planted as a path from the root at random node
 * indices, so that accepting it needs the cache compacted.
 */
export function randomTree(
  rand: () => number,
  root: number,
  n: number,
  vocabSize: number,
  chain: readonly number[] = [],
): TokenTree {
  const tokens = new Int32Array(n);
  const parents = new Int32Array(n);
  tokens[0] = root;
  parents[0] = -1;
  const slots = Array.from({ length: n - 1 }, (_, i) => i + 1);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  const planted = slots.slice(0, Math.min(chain.length, n - 1)).sort((a, b) => a - b);
  for (let i = 1, k = 0; i < n; i++) {
    if (planted[k] === i) {
      parents[i] = k === 0 ? 0 : planted[k - 1];
      tokens[i] = chain[k++];
    } else {
      parents[i] = Math.max(0, i - 1 - Math.floor(rand() * Math.min(i, 4)));
      tokens[i] = Math.floor(rand() * vocabSize);
    }
  }
  return { tokens, parents };
}

/** Nodes from the root to `node`, root first. */
export function pathOf(tree: TokenTree, node: number): number[] {
  const path: number[] = [];
  for (let i = node; i >= 0; i = tree.parents[i]) path.unshift(i);
  return path;
}

/** Greedy verify: follow children that equal the target's choice. Returns the accepted path. */
export function walk(tree: TokenTree, chosen: Int32Array): Int32Array {
  const path = [0];
  for (;;) {
    const at = path[path.length - 1];
    let next = -1;
    for (let i = at + 1; i < tree.tokens.length; i++) {
      if (tree.parents[i] === at && tree.tokens[i] === chosen[at]) {
        next = i;
        break;
      }
    }
    if (next < 0) return Int32Array.from(path);
    path.push(next);
  }
}

/** A one-node tree: plain decoding's step. */
export function rootOnly(root: number): TokenTree {
  return { tokens: Int32Array.of(root), parents: Int32Array.of(-1) };
}
