/**
 * The lossless property on the real default model (CANOPY_MODEL_TESTS=1,
 * after `npx canopy prepare-model`): the default fusion, and the fusion with
 * the shipped EAGLE head in it, emit exactly the tokens of plain decoding,
 * greedy and seeded, on real chat prompts. Each prompt runs twice so the
 * second run meets learned state (recycling rows, past outputs, calibration).
 * The tokens' log-probabilities match plain decoding's up to float rounding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../adapters/model-store/index.js';
import { GREEDY, type SamplingParams } from '../../kernels/sampling-params.js';
import { type ModelHost, openModelHost } from '../../plugins/host/model-host.js';

const QUESTIONS = [
  'Compose a short travel blog post about a weekend in Lisbon.',
  'Translate to French: "The library opens at nine and closes at five."',
  'A shop sells pens at 3 dollars each. How much do 7 pens cost? Explain.',
  'Summarize: The river flooded twice this spring, and the town built a new levee after the second flood.',
];

const SEEDED: SamplingParams = { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 11 };

describe.runIf(process.env.CANOPY_MODEL_TESTS === '1')('lossless on SmolLM2-135M-Instruct', () => {
  const hosts: ModelHost[] = [];
  let plain: ModelHost;
  beforeAll(async () => {
    plain = await openModelHost({ model: DEFAULT_MODEL, drafters: [] });
    hosts.push(plain);
  });
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.dispose()));
  });

  for (const [name, drafters] of [
    ['the default fusion', undefined],
    [
      'the fusion with eagle',
      [{ name: 'ngram' }, { name: 'recycling' }, { name: 'retrieval' }, { name: 'eagle' }],
    ],
  ] as const) {
    for (const [mode, sampling] of [
      ['greedy', GREEDY],
      ['seeded', SEEDED],
    ] as const) {
      it(`${name}, ${mode}: exactly the plain tokens`, { timeout: 300_000 }, async () => {
        const spec = await openModelHost({ model: DEFAULT_MODEL, drafters });
        hosts.push(spec);
        let accepted = 0;
        let eagleRan = 0;
        for (const [i, question] of QUESTIONS.entries()) {
          const prompt = plain.tokenizer.encodeChat([{ role: 'user', content: question }]);
          const request = { prompt, maxNewTokens: 48, sampling: { ...sampling, seed: sampling.seed + i } };
          const expected = await plain.engine.generate({ ...request, speculate: false });
          for (let round = 0; round < 2; round++) {
            const got = await spec.engine.generate({ ...request, speculate: true });
            expect([...got.tokens], `prompt ${i} round ${round}`).toEqual([...expected.tokens]);
            expect(got.finishReason).toBe(expected.finishReason);
            accepted += got.stats.acceptedTokens;
            eagleRan += got.stats.ranByDrafter.eagle ?? 0;
          }
        }
        // Multi-token steps were exercised, and the head drafted where it was fused (the gate may rest it).
        expect(accepted).toBeGreaterThan(0);
        if (drafters?.some((d) => d.name === 'eagle')) expect(eagleRan).toBeGreaterThan(0);
      });
    }
  }

  for (const [mode, sampling] of [
    ['greedy', GREEDY],
    ['seeded', SEEDED],
  ] as const) {
    it(`the default fusion, ${mode}: the plain tokens' log-probabilities`, { timeout: 300_000 }, async () => {
      const spec = await openModelHost({ model: DEFAULT_MODEL });
      hosts.push(spec);
      let largest = 0;
      let accepted = 0;
      for (const [i, question] of QUESTIONS.entries()) {
        const prompt = plain.tokenizer.encodeChat([{ role: 'user', content: question }]);
        const request = {
          prompt,
          maxNewTokens: 48,
          sampling: { ...sampling, seed: sampling.seed + i },
          logprobs: 5,
        };
        const expected = await plain.engine.generate({ ...request, speculate: false });
        const got = await spec.engine.generate({ ...request, speculate: true });
        accepted += got.stats.acceptedTokens;
        expect([...got.tokens], `prompt ${i}`).toEqual([...expected.tokens]);
        const e = expected.logprobs!;
        const g = got.logprobs!;
        for (let t = 0; t < g.logprobs.length; t++) {
          largest = Math.max(largest, Math.abs(g.logprobs[t] - e.logprobs[t]));
          for (let r = 0; r < 5; r++)
            largest = Math.max(largest, Math.abs(g.topLogprobs[t * 5 + r] - e.topLogprobs[t * 5 + r]));
        }
      }
      expect(accepted).toBeGreaterThan(0);
      // Tree and one-node passes differ only in float rounding.
      expect(largest).toBeLessThan(1e-3);
    });
  }
});
