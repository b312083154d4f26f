/**
 * The lossless property, the most important test of canopy: speculative
 * output equals plain decoding token for token, greedy and seeded, with every
 * drafter alone and with the fusion — on the real tiny model.
 */
import { describe, expect, it } from 'vitest';
import type { ModelEngine } from '../../engine/index.js';
import { GREEDY, type SamplingParams } from '../../kernels/sampling-params.js';
import { TINY_PROMPTS, useTinyEngines } from './tiny-engine.js';

const tiny = useTinyEngines();

const SEEDED: SamplingParams = { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 1234 };
const PENALISED: SamplingParams = {
  ...GREEDY,
  temperature: 0.7,
  topK: 40,
  repetitionPenalty: 1.3,
  presencePenalty: 0.4,
  seed: 99,
};

const CONFIGS: Record<string, { name: string }[]> = {
  ngram: [{ name: 'ngram' }],
  recycling: [{ name: 'recycling' }],
  retrieval: [{ name: 'retrieval' }],
  fusion: [{ name: 'ngram' }, { name: 'recycling' }, { name: 'retrieval' }],
};

async function generate(engine: ModelEngine, prompt: string, sampling: SamplingParams, speculate: boolean) {
  const ids = tiny.tokenizer().encode(prompt);
  return engine.generate({ prompt: ids, maxNewTokens: 48, sampling, speculate });
}

describe.each(Object.entries(CONFIGS))('speculation with %s', (_name, drafters) => {
  for (const [mode, sampling] of [
    ['greedy', GREEDY],
    ['seeded sampling', SEEDED],
    ['sampling with penalties', PENALISED],
  ] as const) {
    it(`emits exactly the plain ${mode} tokens`, async () => {
      const plain = await tiny.engine([]);
      const spec = await tiny.engine(drafters);
      let accepted = 0;
      for (const [i, prompt] of TINY_PROMPTS.entries()) {
        const s = { ...sampling, seed: sampling.seed + i };
        // Run the speculative engine twice: the second run sees learned state (matrix, index, calibration).
        const expected = await generate(plain, prompt, s, false);
        for (let round = 0; round < 2; round++) {
          const got = await generate(spec, prompt, s, true);
          expect([...got.tokens], `prompt ${i} round ${round}`).toEqual([...expected.tokens]);
          expect(got.finishReason).toBe(expected.finishReason);
          accepted += got.stats.acceptedTokens;
        }
      }
      // The comparison must have exercised multi-token steps, not only one-node trees.
      expect(accepted).toBeGreaterThan(0);
    });
  }
});

describe('log-probabilities', () => {
  for (const [mode, sampling] of [
    ['greedy', GREEDY],
    ['seeded sampling', SEEDED],
    ['sampling with penalties', PENALISED],
  ] as const) {
    it(`are the plain ${mode} ones with the fusion speculating, streamed and final alike`, async () => {
      const plain = await tiny.engine([]);
      const spec = await tiny.engine(CONFIGS.fusion);
      let accepted = 0;
      for (const [i, prompt] of TINY_PROMPTS.entries()) {
        const s = { ...sampling, seed: sampling.seed + i };
        const ids = tiny.tokenizer().encode(prompt);
        const expected = await plain.generate({
          prompt: ids,
          maxNewTokens: 48,
          sampling: s,
          speculate: false,
          logprobs: 3,
        });
        for (let round = 0; round < 2; round++) {
          const streamed: number[] = [];
          const got = await spec.generate({
            prompt: ids,
            maxNewTokens: 48,
            sampling: s,
            speculate: true,
            logprobs: 3,
            onTokens: (tokens, lp) => {
              expect(lp?.logprobs.length).toBe(tokens.length);
              streamed.push(...(lp?.logprobs ?? []));
            },
          });
          accepted += got.stats.acceptedTokens;
          expect([...got.tokens]).toEqual([...expected.tokens]);
          const e = expected.logprobs!;
          const g = got.logprobs!;
          expect(g.top).toBe(3);
          expect(g.logprobs.length).toBe(got.tokens.length);
          expect(streamed).toEqual([...g.logprobs]);
          // The same distribution; tree and one-node passes differ only in float rounding.
          for (let t = 0; t < g.logprobs.length; t++) {
            expect(g.logprobs[t]).toBeLessThanOrEqual(0);
            expect(Math.abs(g.logprobs[t] - e.logprobs[t]), `prompt ${i} token ${t}`).toBeLessThan(1e-4);
          }
          expect([...g.topIds]).toEqual([...e.topIds]);
          for (let t = 0; t < g.topLogprobs.length; t++)
            expect(Math.abs(g.topLogprobs[t] - e.topLogprobs[t])).toBeLessThan(1e-4);
          // A token among its position's alternatives has that alternative's log-probability.
          for (let t = 0; t < g.logprobs.length; t++) {
            const r = [...g.topIds.subarray(t * 3, t * 3 + 3)].indexOf(got.tokens[t]);
            if (sampling === GREEDY) expect(r).toBe(0);
            if (r >= 0) expect(Math.abs(g.topLogprobs[t * 3 + r] - g.logprobs[t])).toBeLessThan(1e-4);
          }
        }
      }
      expect(accepted).toBeGreaterThan(0);
    });
  }

  it('are refused with a stable code when out of range', async () => {
    const engine = await tiny.engine(CONFIGS.fusion);
    const prompt = tiny.tokenizer().encode(TINY_PROMPTS[0]);
    for (const bad of [-1, 1.5, 21, Number.NaN]) {
      await expect(
        engine.generate({ prompt, maxNewTokens: 4, sampling: GREEDY, speculate: true, logprobs: bad }),
      ).rejects.toMatchObject({ code: 'CANOPY_ERR_INVALID_ARGUMENT' });
    }
  });
});
