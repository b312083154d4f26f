/**
 * Triton (Python, onnxruntime) and the embedded target (TypeScript,
 * onnxruntime-node) on the same converted model must emit the same tokens,
 * greedy and seeded, with speculation on the Triton side. Runs when a Triton
 * server is named (CANOPY_TRITON_HTTP or _GRPC) and the model it serves is in
 * the local cache (CANOPY_TRITON_MODEL, else the name the server reports).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../../../../adapters/model-store/index.js';
import type { Target } from '../../../../adapters/target.js';
import { createEmbeddedTarget } from '../../../../adapters/targets/embedded/index.js';
import { createTritonTarget, type TritonTarget } from '../../../../adapters/targets/triton/index.js';
import { loadTokenizer } from '../../../../adapters/tokenizer/index.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';
import { SAMPLED } from '../conformance.js';
import { plainDecode, rng, speculativeDecode } from './decoding.js';

const URL = process.env.CANOPY_TRITON_HTTP ?? process.env.CANOPY_TRITON_GRPC;
const TEXTS = ['Once upon a time, in a small village by the sea,', 'List three prime numbers:'];

describe.runIf(URL !== undefined)('Triton target against the embedded target on the same model', () => {
  let triton: TritonTarget;
  let embedded: Target;
  let prompts: Int32Array[];

  beforeAll(async () => {
    triton = await createTritonTarget({ url: URL! });
    const { dir } = loadManifest(process.env.CANOPY_TRITON_MODEL ?? triton.info.model);
    embedded = await createEmbeddedTarget({ model: dir });
    const tokenizer = await loadTokenizer(dir);
    prompts = TEXTS.map((text) => tokenizer.encode(text));
  });

  afterAll(async () => {
    await Promise.allSettled([triton?.dispose(), embedded?.dispose()]);
  });

  it('describes the same model', () => {
    const { capabilities: _a, ...tritonInfo } = triton.info;
    const { capabilities: _b, ...embeddedInfo } = embedded.info;
    expect(tritonInfo).toEqual(embeddedInfo);
  });

  it.each([
    ['greedy', GREEDY],
    ['seeded sampling', SAMPLED],
  ] as const)(
    'emits the embedded target’s plain decoding while speculating (%s)',
    async (_mode, sampling) => {
      for (const [i, prompt] of prompts.entries()) {
        const expected = await plainDecode(embedded, prompt, 48, sampling);
        const session = await triton.open(prompt, { sampling });
        const root = prompt[prompt.length - 1]!;
        const got = await speculativeDecode(session, root, 48, expected, rng(i), triton.info.vocabSize);
        await session.close();
        expect(got).toEqual(expected);
      }
    },
  );

  it('returns the same top-k after every prompt token at OPEN (OpenOptions.promptTopK)', async () => {
    const prompt = prompts[0];
    const a = await triton.open(prompt, { sampling: GREEDY, promptTopK: 4 });
    const b = await embedded.open(prompt, { sampling: GREEDY, promptTopK: 4 });
    expect(a.promptTopK?.ids.length).toBe((prompt.length - 1) * 4);
    expect([...(a.promptTopK?.ids ?? [])]).toEqual([...(b.promptTopK?.ids ?? [])]);
    const la = a.promptTopK?.logprobs ?? new Float32Array(0);
    const lb = b.promptTopK?.logprobs ?? new Float32Array(0);
    for (let i = 0; i < la.length; i++) expect(Math.abs(la[i] - lb[i])).toBeLessThan(1e-3);
    await Promise.all([a.close(), b.close()]);
  });

  it('returns the same hidden states at every prompt position at OPEN (OpenOptions.promptHiddenLayers)', async () => {
    const prompt = prompts[0];
    const layers = [triton.info.numLayers];
    const a = await triton.open(prompt, { sampling: GREEDY, promptHiddenLayers: layers });
    const b = await embedded.open(prompt, { sampling: GREEDY, promptHiddenLayers: layers });
    const ha = a.promptHidden?.get(layers[0]) ?? new Float32Array(0);
    const hb = b.promptHidden?.get(layers[0]) ?? new Float32Array(0);
    expect(ha.length).toBe((prompt.length - 1) * triton.info.hiddenSize);
    expect(hb.length).toBe(ha.length);
    for (let i = 0; i < ha.length; i++) expect(Math.abs(ha[i] - hb[i])).toBeLessThan(1e-3);
    await Promise.all([a.close(), b.close()]);
  });
});
