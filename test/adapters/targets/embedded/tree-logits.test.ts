/**
 * Embedded only: the full logits of every tree node (not just the chosen
 * token and top-k) equal those of feeding its path one token at a time,
 * max abs difference ≤ 1e-3. Runs the model runner directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, loadManifest } from '../../../../adapters/model-store/index.js';
import { KvCache } from '../../../../adapters/targets/embedded/kv-cache.js';
import { ModelRunner } from '../../../../adapters/targets/embedded/model-runner.js';
import { loadTokenizer } from '../../../../adapters/tokenizer/index.js';
import { attentionBias, type TokenTree, treeDepths } from '../../../../kernels/tree.js';
import { pathOf, randomTree, seeded } from '../random-trees.js';
import { useTinyModel } from './tiny-model.js';

const tinyModel = useTinyModel();

function describeTreeLogits(
  label: string,
  model: () => Promise<string>,
  trees: number,
  maxNodes: number,
): void {
  describe(`tree logits equal sequential logits: ${label}`, () => {
    let runner: ModelRunner;
    let shape: { L: number; kvHeads: number; headDim: number; V: number };
    let prompt: Int32Array;

    beforeAll(async () => {
      const { dir, manifest } = loadManifest(await model());
      runner = await ModelRunner.load(dir, manifest, { threads: 2, spinning: true });
      shape = {
        L: manifest.numLayers,
        kvHeads: manifest.numKvHeads,
        headDim: manifest.headDim,
        V: manifest.vocabSize,
      };
      prompt = (await loadTokenizer(dir)).encode(
        'In the beginning the universe was created. This has made a lot of people',
      );
    });
    afterAll(async () => runner?.release());

    /** Runs `tree` over `cache`; returns [N, V] logits and keeps the KV when `keep`. */
    async function pass(cache: KvCache, tree: TokenTree, keep: boolean): Promise<Float32Array> {
      const n = tree.tokens.length;
      const t = cache.length;
      cache.reserve(t + n);
      const logits = new Float32Array(n * shape.V);
      await runner.run({
        tokens: tree.tokens,
        positions: treeDepths(tree.parents).map((d) => t + d),
        bias: attentionBias(tree.parents, t),
        cache,
        keepKv: keep,
        rows: 'all',
        argmax: false,
        logitsInto: logits,
        topK: 0,
        hiddenLayers: [],
      });
      return logits;
    }

    async function prefilled(): Promise<KvCache> {
      const cache = new KvCache(shape.L, shape.kvHeads, shape.headDim, 4096);
      const body = prompt.subarray(0, prompt.length - 1);
      await pass(cache, { tokens: body, parents: Int32Array.from(body, (_, i) => i - 1) }, true);
      cache.commitAll(body.length);
      return cache;
    }

    it('matches per node within 1e-3', async () => {
      const rand = seeded(11);
      let worst = 0;
      for (let r = 0; r < trees; r++) {
        const n = 2 + Math.floor(rand() * (maxNodes - 1));
        const tree = randomTree(rand, prompt[prompt.length - 1], n, shape.V);
        const all = await pass(await prefilled(), tree, false);
        for (let i = 0; i < n; i++) {
          const cache = await prefilled();
          let last: Float32Array = new Float32Array(0);
          for (const node of pathOf(tree, i)) {
            last = await pass(
              cache,
              { tokens: Int32Array.of(tree.tokens[node]), parents: Int32Array.of(-1) },
              true,
            );
            cache.commitAll(1);
          }
          const row = all.subarray(i * shape.V, (i + 1) * shape.V);
          for (let v = 0; v < shape.V; v++) worst = Math.max(worst, Math.abs(row[v] - last[v]));
        }
      }
      expect(worst).toBeLessThanOrEqual(1e-3);
    });
  });
}

describeTreeLogits('tiny random model', async () => tinyModel(), 4, 16);

describe.runIf(process.env.CANOPY_MODEL_TESTS === '1')('with the real model', () => {
  describeTreeLogits(DEFAULT_MODEL, async () => DEFAULT_MODEL, 2, 12);
});
