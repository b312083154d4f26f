/**
 * The drafter's bookkeeping against an independent computation: each draft's
 * most likely first token must be what the head predicts from the true rows
 * (feature f_t of the committed token at t, paired with the token at t + 1),
 * computed here in one plain pass over the whole sequence. Sampled decoding
 * keeps the sequence varied, so a row paired with the wrong token or position
 * shows up (the tiny model's greedy text repeats one token).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DrafterDefinition, DrafterFactory } from '../../../../adapters/drafter.js';
import { eagleDrafter } from '../../../../adapters/drafters/eagle/index.js';
import { findExternalTensors, TensorRows } from '../../../../adapters/drafters/eagle/target-rows.js';
import { createEmbeddedTarget, type EmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { loadTokenizer } from '../../../../adapters/tokenizer/index.js';
import { createDrafterRegistry, createModelEngine } from '../../../../engine/index.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { chainTree } from '../../../../kernels/tree.js';
import { useTinyModel } from '../../targets/embedded/tiny-model.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tiny-random/eagle.onnx', import.meta.url));
const modelDir = useTinyModel();
let target: EmbeddedTarget;

beforeAll(async () => {
  target = await createEmbeddedTarget({ model: modelDir(), threads: 1 });
});
afterAll(async () => target?.dispose());

/** The eagle definition, recording each proposal's context length and best first token. */
function recording(log: { length: number; best: number }[]): DrafterDefinition<unknown> {
  return {
    ...(eagleDrafter as DrafterDefinition<unknown>),
    async create(options, env): Promise<DrafterFactory> {
      const factory = await eagleDrafter.create(options as never, env);
      return {
        ...factory,
        open(request) {
          const session = factory.open(request);
          return {
            async propose(context) {
              const draft = await session.propose(context);
              let best = -1;
              let score = -1;
              for (let i = 1; draft && i < draft.tokens.length; i++) {
                if (draft.parents[i] === 0 && draft.scores[i] > score)
                  [best, score] = [draft.tokens[i], draft.scores[i]];
              }
              if (draft) log.push({ length: context.tokens.length, best });
              return draft;
            },
            observe: (feedback) => session.observe(feedback),
            close: () => session.close?.(),
          };
        },
      };
    },
  };
}

it('drafts from the true rows of the committed tokens', async () => {
  const tokenizer = await loadTokenizer(modelDir());
  const prompt = tokenizer.encodeChat([
    { role: 'user', content: 'Write a short story about a talking cat.' },
  ]);
  const log: { length: number; best: number }[] = [];
  const engine = await createModelEngine({
    target,
    registry: createDrafterRegistry([recording(log)]),
    drafters: [{ name: 'eagle', options: { head: FIXTURE } }],
    modelDir: modelDir(),
    ownsTarget: false,
    gateDrafters: false, // every step drafts: what is checked here is the rows each draft reads
  });
  const sampling = { ...GREEDY, temperature: 1.5, seed: 5 };
  const out = await engine.generate({ prompt, maxNewTokens: 40, sampling, speculate: true });
  await engine.dispose();
  const answer = [...out.tokens];
  expect(new Set(answer).size).toBeGreaterThan(4); // varied text, or the check proves little

  // True features: one chain pass over the answer from the prompt's last token.
  const session = await target.open(prompt, { sampling: GREEDY });
  const chain = chainTree([prompt[prompt.length - 1], ...answer.slice(0, -1)]);
  const L = target.info.numLayers;
  const h = target.info.hiddenSize;
  const features = (await session.step(chain, { hiddenLayers: [L] })).hidden!.get(L)!;
  await session.close();

  // The head over rows (f_t, x_{t+1}) for t = P-1 ... in one causal pass.
  const meta = JSON.parse(readFileSync(FIXTURE.replace(/\.onnx$/, '.json'), 'utf8'));
  const rows = new TensorRows(
    findExternalTensors(join(modelDir(), 'model.onnx'), ['token_embd']).get('token_embd')!,
  );
  const m = answer.length;
  const embeds = new Float32Array(m * h);
  for (const [i, t] of answer.entries()) embeds.set(rows.row(t), i * h);
  const lmHead = new Float32Array(meta.draftVocab.length * h);
  for (const [i, t] of (meta.draftVocab as number[]).entries()) lmHead.set(rows.row(t), i * h);
  rows.close();
  const bias = new Float32Array(m * m);
  for (let i = 0; i < m; i++) bias.fill(Number.NEGATIVE_INFINITY, i * m + i + 1, (i + 1) * m);
  const head = await ort.InferenceSession.create(FIXTURE);
  const kv = meta.head.kvHeads;
  const d = meta.head.headDim;
  const res = await head.run({
    features: new ort.Tensor('float32', features.slice(0, m * h), [m, h]),
    token_embeds: new ort.Tensor('float32', embeds, [m, h]),
    positions: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: m }, (_, i) => BigInt(prompt.length - 1 + i)),
      [m],
    ),
    attn_bias: new ort.Tensor('float32', bias, [m, m]),
    past_key: new ort.Tensor('float32', new Float32Array(0), [0, kv, d]),
    past_value: new ort.Tensor('float32', new Float32Array(0), [0, kv, d]),
    lm_head: new ort.Tensor('float32', lmHead, [meta.draftVocab.length, h]),
    top_k: new ort.Tensor('int64', BigInt64Array.of(1n), [1]),
  });
  await head.release();
  const top = res.topk_ids.data as BigInt64Array;

  // A proposal at context length n extends the row of position n - 2.
  let same = 0;
  for (const { length, best } of log)
    same += best === meta.draftVocab[Number(top[length - 2 - (prompt.length - 1)])] ? 1 : 0;
  // Every step but the first (no feature yet) has a draft: the rows line up with the root.
  expect(log.length).toBeGreaterThanOrEqual(out.stats.steps - 2);
  expect(log.length).toBeGreaterThan(5);
  // Tree and chain passes differ in float rounding only: near-ties may flip, nothing more.
  expect(same / log.length).toBeGreaterThan(0.9);
});
