/**
 * Decoding loops over any `Target`, for the Triton tests: plain decoding (one
 * node per step), and speculative decoding with drafted trees that follow a
 * known continuation part of the way and branch off at random.
 */
import type { PassOptions, PassResult, Target, TargetSession } from '../../../../adapters/target.js';
import type { SamplingParams } from '../../../../kernels/sampling-params.js';
import type { TokenTree } from '../../../../kernels/tree.js';

/** Deterministic generator for test data (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTokens(random: () => number, n: number, vocabSize: number): Int32Array {
  return Int32Array.from({ length: n }, () => 3 + Math.floor(random() * (vocabSize - 3)));
}

export function single(token: number): TokenTree {
  return { tokens: Int32Array.of(token), parents: Int32Array.of(-1) };
}

/** One token per step; returns the `n` tokens the target emits. */
export async function plainDecode(target: Target, prompt: Int32Array, n: number, sampling: SamplingParams) {
  const session = await target.open(prompt, { sampling });
  try {
    return await continuePlain(session, prompt[prompt.length - 1]!, n);
  } finally {
    await session.close();
  }
}

export async function continuePlain(session: TargetSession, root: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = (await session.step(single(root))).chosen[0]!;
    session.accept(Int32Array.of(0), next);
    out.push(next);
    root = next;
  }
  return out;
}

/**
 * A tree rooted at `root` whose main chain follows `guess` for a random depth
 * (with the odd wrong token), plus random side branches.
 */
export function draftTree(
  root: number,
  guess: readonly number[],
  random: () => number,
  vocabSize: number,
): TokenTree {
  const tokens = [root];
  const parents = [-1];
  const depth = Math.min(guess.length, Math.floor(random() * 6));
  for (let d = 0; d < depth; d++) {
    tokens.push(random() < 0.15 ? 3 + Math.floor(random() * (vocabSize - 3)) : guess[d]!);
    parents.push(tokens.length - 2);
  }
  const branches = Math.floor(random() * 5);
  for (let b = 0; b < branches; b++) {
    parents.push(Math.floor(random() * tokens.length));
    tokens.push(3 + Math.floor(random() * (vocabSize - 3)));
  }
  return { tokens: Int32Array.from(tokens), parents: Int32Array.from(parents) };
}

/** The verify walk: follow the child whose token the target chose; returns accepted nodes and emitted tokens. */
export function walk(tree: TokenTree, chosen: Int32Array): { accepted: Int32Array; emitted: number[] } {
  const accepted = [0];
  const emitted: number[] = [];
  let node = 0;
  for (;;) {
    const token = chosen[node]!;
    emitted.push(token);
    let next = -1;
    for (let i = node + 1; i < tree.tokens.length; i++) {
      if (tree.parents[i] === node && tree.tokens[i] === token) {
        next = i;
        break;
      }
    }
    if (next < 0) return { accepted: Int32Array.from(accepted), emitted };
    accepted.push(next);
    node = next;
  }
}

/** Speculative decoding of `n` tokens with trees drafted from `guess` (the plain output, say). */
export async function speculativeDecode(
  session: TargetSession,
  root: number,
  n: number,
  guess: readonly number[],
  random: () => number,
  vocabSize: number,
  step: (session: TargetSession, tree: TokenTree, options?: PassOptions) => Promise<PassResult> = (s, t, o) =>
    s.step(t, o),
): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const tree = draftTree(root, guess.slice(out.length), random, vocabSize);
    const { accepted, emitted } = walk(tree, (await step(session, tree)).chosen);
    session.accept(accepted, emitted[emitted.length - 1]!);
    out.push(...emitted);
    root = emitted[emitted.length - 1]!;
  }
  return out.slice(0, n);
}
