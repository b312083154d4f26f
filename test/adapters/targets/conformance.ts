/**
 * The target conformance suite: every target (embedded, Triton) must pass it.
 *
 * The reference for a tree node is always plain decoding: open a fresh
 * session and feed the node's path one token at a time through one-node
 * steps. A tree pass must choose the same token at every node (greedy and
 * seeded sampling with penalties) with the same top-k log-probs, and accept
 * must keep the cache exactly where plain decoding's would be.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PassResult, Target } from '../../../adapters/target.js';
import { type ErrorCode, isCanopyError } from '../../../kernels/errors.js';
import { GREEDY, type SamplingParams } from '../../../kernels/sampling-params.js';
import type { TokenTree } from '../../../kernels/tree.js';
import { pathOf, randomTree, rootOnly, seeded, walk } from './random-trees.js';

export interface ConformanceOptions {
  /** Real prompts (token ids), resolved once the target exists. */
  readonly prompts: (target: Target) => Promise<readonly Int32Array[]> | readonly Int32Array[];
  readonly treesPerPrompt?: number;
  readonly maxNodes?: number;
  readonly longRunTokens?: number;
  /** Largest |Δ log-prob| between a tree node and its plain-decoding reference. */
  readonly tolerance?: number;
}

const TOP_K = 5;

/** Seeded sampling with every penalty on, so the path overlay of the history matters. */
export const SAMPLED: SamplingParams = Object.freeze({
  temperature: 0.9,
  topK: 40,
  topP: 0.95,
  minP: 0.01,
  repetitionPenalty: 1.3,
  frequencyPenalty: 0.2,
  presencePenalty: 0.2,
  seed: 20240611,
});

async function expectCode(work: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!isCanopyError(error, code)) throw error;
    return;
  }
  expect.unreachable(`expected ${code}`);
}

/** Top-k of row `i` of `a` against row `j` of `b`: same values in order, same ids up to near-ties. */
function expectSameTopK(a: PassResult, i: number, b: PassResult, j: number, k: number, tol: number): void {
  const aIds = Array.from(a.topKIds!.subarray(i * k, i * k + k));
  const aLp = Array.from(a.topKLogprobs!.subarray(i * k, i * k + k));
  const bIds = Array.from(b.topKIds!.subarray(j * k, j * k + k));
  const bLp = Array.from(b.topKLogprobs!.subarray(j * k, j * k + k));
  for (let r = 0; r < k; r++) {
    expect(Math.abs(aLp[r] - bLp[r])).toBeLessThanOrEqual(tol);
    const other = bIds.indexOf(aIds[r]);
    // An id may only be missing from the other list when it ties with the k-th value.
    if (other >= 0) expect(Math.abs(aLp[r] - bLp[other])).toBeLessThanOrEqual(tol);
    else expect(aLp[r] - bLp[k - 1]).toBeLessThanOrEqual(tol);
  }
}

export function describeTargetConformance(
  label: string,
  makeTarget: () => Promise<Target>,
  options: ConformanceOptions,
): void {
  const trees = options.treesPerPrompt ?? 2;
  const maxNodes = options.maxNodes ?? 12;
  const longRun = options.longRunTokens ?? 32;
  const tol = options.tolerance ?? 1e-3;

  describe(`target conformance: ${label}`, () => {
    let target: Target;
    let prompts: readonly Int32Array[];

    beforeAll(async () => {
      target = await makeTarget();
      prompts = await options.prompts(target);
    });
    afterAll(async () => {
      await target?.dispose();
    });

    /** Plain decoding of `path` (drafted tokens after the root): the result at its last token. */
    async function plainAlong(
      prompt: Int32Array,
      sampling: SamplingParams,
      path: readonly number[],
      extra = {},
    ) {
      const s = await target.open(prompt, { sampling });
      try {
        let result = await s.step(rootOnly(prompt[prompt.length - 1]), { topK: TOP_K, ...extra });
        for (const token of path) {
          s.accept(Int32Array.of(0), token);
          result = await s.step(rootOnly(token), { topK: TOP_K, ...extra });
        }
        return result;
      } finally {
        await s.close();
      }
    }

    /** The first `n` tokens plain decoding emits after `prompt`. */
    async function continuation(prompt: Int32Array, sampling: SamplingParams, n: number): Promise<number[]> {
      const s = await target.open(prompt, { sampling });
      const out: number[] = [];
      let root = prompt[prompt.length - 1];
      for (let i = 0; i < n; i++) {
        root = (await s.step(rootOnly(root))).chosen[0];
        out.push(root);
        s.accept(Int32Array.of(0), root);
      }
      await s.close();
      return out;
    }

    /**
     * Random trees with plain decoding's own continuation planted in them, so
     * that deep nodes are reachable. Reachable nodes must choose what plain
     * decoding of their path chooses; others may be -1 (adapters/target.ts).
     */
    async function checkTreeAgainstPlain(sampling: SamplingParams, seed: number): Promise<void> {
      let deepReachable = 0;
      for (const [p, prompt] of prompts.entries()) {
        const rand = seeded(seed + p);
        const chain = await continuation(prompt, sampling, 4);
        for (let r = 0; r < trees; r++) {
          const n = 2 + Math.floor(rand() * (maxNodes - 1));
          const tree = randomTree(rand, prompt[prompt.length - 1], n, target.info.vocabSize, chain);
          const s = await target.open(prompt, { sampling });
          const result = await s.step(tree, { topK: TOP_K });
          await s.close();
          expect(result.chosen.length).toBe(n);
          for (let i = 0; i < n; i++) {
            const path = pathOf(tree, i);
            const reachable = path.every(
              (node, k) => k === 0 || result.chosen[path[k - 1]] === tree.tokens[node],
            );
            const ref = await plainAlong(
              prompt,
              sampling,
              path.slice(1).map((j) => tree.tokens[j]),
            );
            if (reachable || result.chosen[i] !== -1) {
              expect(result.chosen[i], `prompt ${p} tree ${r} node ${i}`).toBe(ref.chosen[0]);
            }
            if (reachable && path.length > 2) deepReachable++;
            expectSameTopK(result, i, ref, 0, TOP_K, tol);
          }
        }
      }
      expect(deepReachable).toBeGreaterThan(0);
    }

    it('chooses at every reachable greedy tree node what plain decoding of its path chooses', async () => {
      await checkTreeAgainstPlain(GREEDY, 100);
    });

    it('draws at every reachable sampled tree node what seeded plain decoding of its path draws', async () => {
      await checkTreeAgainstPlain(SAMPLED, 200);
    });

    it.each([
      ['greedy', GREEDY],
      ['seeded sampling', SAMPLED],
    ] as const)(
      'keeps the cache in step over a long run of trees and accepts (%s)',
      async (_name, sampling) => {
        const prompt = prompts[0];
        const plain = await target.open(prompt, { sampling });
        const expected: number[] = [];
        const refs: PassResult[] = [];
        let root = prompt[prompt.length - 1];
        for (let g = 0; g < longRun; g++) {
          const r = await plain.step(rootOnly(root), { topK: TOP_K });
          refs.push(r);
          root = r.chosen[0];
          expected.push(root);
          plain.accept(Int32Array.of(0), root);
        }
        await plain.close();

        const spec = await target.open(prompt, { sampling });
        const rand = seeded(7);
        const emitted: number[] = [];
        let steps = 0;
        root = prompt[prompt.length - 1];
        while (emitted.length < longRun) {
          // Plant the right continuation (sometimes with a wrong token in it) among random branches.
          const chain = expected.slice(emitted.length, emitted.length + Math.floor(rand() * 5));
          if (chain.length > 0 && rand() < 0.3)
            chain[Math.floor(rand() * chain.length)] = Math.floor(rand() * target.info.vocabSize);
          const tree: TokenTree = randomTree(
            rand,
            root,
            chain.length + 1 + Math.floor(rand() * 8),
            target.info.vocabSize,
            chain,
          );
          const result = await spec.step(tree, { topK: TOP_K });
          const path = walk(tree, result.chosen);
          for (let k = 0; k < path.length && emitted.length + k < longRun; k++) {
            expectSameTopK(result, path[k], refs[emitted.length + k], 0, TOP_K, tol);
          }
          for (let k = 1; k < path.length; k++) emitted.push(tree.tokens[path[k]]);
          root = result.chosen[path[path.length - 1]];
          emitted.push(root);
          spec.accept(path, root);
          steps++;
          expect(spec.length).toBe(prompt.length + emitted.length);
        }
        await spec.close();
        expect(emitted.slice(0, longRun)).toEqual(expected);
        // Drafts were accepted, so compaction really ran.
        expect(steps).toBeLessThan(longRun);
      },
    );

    for (const [mode, sampling] of [
      ['greedy', GREEDY],
      ['seeded sampling', SAMPLED],
    ] as const) {
      it(`returns the raw log-probability of each chosen token, as plain decoding of its path does (${mode})`, async (ctx) => {
        if (!target.info.capabilities.logprobs) ctx.skip();
        const prompt = prompts[0];
        const rand = seeded(11);
        const chain = await continuation(prompt, sampling, 3);
        const tree = randomTree(rand, prompt[prompt.length - 1], 8, target.info.vocabSize, chain);
        const s = await target.open(prompt, { sampling });
        const result = await s.step(tree, { topK: TOP_K, logprobs: true });
        await s.close();
        const lp = result.chosenLogprobs!;
        expect(lp).toHaveLength(tree.tokens.length);
        let compared = 0;
        for (let i = 0; i < tree.tokens.length; i++) {
          if (result.chosen[i] < 0) {
            expect(lp[i]).toBeNaN();
            continue;
          }
          expect(lp[i]).toBeLessThanOrEqual(0);
          // The chosen id's entry among the raw top-k, when it is there; greedy: it is the first.
          const r = Array.from(result.topKIds!.subarray(i * TOP_K, (i + 1) * TOP_K)).indexOf(
            result.chosen[i],
          );
          if (sampling === GREEDY) expect(r).toBe(0);
          // The graph's float32 log-softmax and the float64 one over the logits agree to rounding.
          if (r >= 0) expect(Math.abs(result.topKLogprobs![i * TOP_K + r] - lp[i])).toBeLessThanOrEqual(tol);
          const path = pathOf(tree, i);
          const ref = await plainAlong(
            prompt,
            sampling,
            path.slice(1).map((j) => tree.tokens[j]),
            { logprobs: true },
          );
          expect(ref.chosen[0]).toBe(result.chosen[i]);
          expect(Math.abs(ref.chosenLogprobs![0] - lp[i]), `node ${i}`).toBeLessThanOrEqual(tol);
          compared++;
        }
        expect(compared).toBeGreaterThan(1);
      });
    }

    it('returns hidden states of a tree node equal to plain decoding of its path', async (ctx) => {
      if (!target.info.capabilities.hiddenStates) ctx.skip();
      const prompt = prompts[0];
      const L = target.info.numLayers;
      const H = target.info.hiddenSize;
      const tree = randomTree(seeded(3), prompt[prompt.length - 1], 6, target.info.vocabSize);
      const s = await target.open(prompt, { sampling: GREEDY });
      const result = await s.step(tree, { hiddenLayers: [0, L] });
      await s.close();
      for (const l of [0, L]) expect(result.hidden?.get(l)?.length).toBe(6 * H);
      const node = 5;
      const ref = await plainAlong(
        prompt,
        GREEDY,
        pathOf(tree, node)
          .slice(1)
          .map((j) => tree.tokens[j]),
        {
          hiddenLayers: [L],
        },
      );
      const mine = result.hidden!.get(L)!.subarray(node * H, node * H + H);
      const theirs = ref.hidden!.get(L)!;
      let worst = 0;
      for (let i = 0; i < H; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
      expect(worst).toBeLessThanOrEqual(tol);
    });

    it('leaves the cache untouched by draft passes', async (ctx) => {
      const prompt = prompts[0];
      const s = await target.open(prompt, { sampling: GREEDY });
      if (!s.draft) {
        await s.close();
        ctx.skip();
      }
      const root = prompt[prompt.length - 1];
      const tree = randomTree(seeded(5), root, 8, target.info.vocabSize);
      const full = await s.draft!(tree);
      if (target.info.capabilities.skipLayers) {
        const skipped = await s.draft!(tree, { skipLayers: [1, 2] });
        expect(skipped.chosen.length).toBe(8);
      }
      const after = await s.step(tree, { topK: TOP_K });
      await s.close();
      expect(Array.from(full.chosen)).toEqual(Array.from(after.chosen));
      const fresh = await target.open(prompt, { sampling: GREEDY });
      const clean = await fresh.step(tree, { topK: TOP_K });
      await fresh.close();
      expect(Array.from(after.chosen)).toEqual(Array.from(clean.chosen));
      for (let i = 0; i < 8; i++) expectSameTopK(after, i, clean, i, TOP_K, tol);
    });

    it('closes idempotently and refuses work after close', async () => {
      const prompt = prompts[0];
      const s = await target.open(prompt, { sampling: GREEDY });
      await s.step(rootOnly(prompt[prompt.length - 1]));
      await s.close();
      await s.close();
      await expectCode(() => s.step(rootOnly(prompt[prompt.length - 1])), 'CANOPY_ERR_SESSION_CLOSED');
      await expectCode(async () => s.accept(Int32Array.of(0), 1), 'CANOPY_ERR_SESSION_CLOSED');
    });

    it('rejects bad input with stable codes', async () => {
      const { vocabSize, maxContext } = target.info;
      const prompt = prompts[0];
      const root = prompt[prompt.length - 1];
      await expectCode(
        () => target.open(new Int32Array(maxContext + 1).fill(1), { sampling: GREEDY }),
        'CANOPY_ERR_PROMPT_TOO_LONG',
      );
      await expectCode(
        () => target.open(Int32Array.of(1, vocabSize), { sampling: GREEDY }),
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
      );
      const s = await target.open(prompt, { sampling: GREEDY });
      try {
        const tree = (tokens: number[], parents: number[]) => ({
          tokens: Int32Array.from(tokens),
          parents: Int32Array.from(parents),
        });
        await expectCode(() => s.step(tree([root, vocabSize], [-1, 0])), 'CANOPY_ERR_TOKEN_OUT_OF_VOCAB');
        await expectCode(() => s.step(tree([root, 1, 2], [-1, 2, 0])), 'CANOPY_ERR_INVALID_TREE');
        await expectCode(() => s.step(tree([], [])), 'CANOPY_ERR_INVALID_TREE');
        // After refused input the session still works.
        const ok = await s.step(rootOnly(root));
        expect(ok.chosen.length).toBe(1);
      } finally {
        await s.close();
      }
    });
  });
}
