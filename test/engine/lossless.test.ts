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
