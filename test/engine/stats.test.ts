import { describe, expect, it } from 'vitest';
import { GREEDY } from '../../kernels/sampling-params.js';
import { scriptedDrafter, TINY_PROMPTS, useTinyEngines } from './tiny-engine.js';

const tiny = useTinyEngines();

describe('predicted tokens (the calibration check)', () => {
  it('are one per pass without drafts, and follow what calibration learned with them', async () => {
    // A confident drafter that is always wrong: it proposes the vocabulary's last id with score 0.9.
    const overconfident = scriptedDrafter('overconfident', (context) => ({
      tokens: Int32Array.of(context.tokens[context.tokens.length - 1], tiny.target().info.vocabSize - 1),
      parents: Int32Array.of(-1, 0),
      scores: Float32Array.of(1, 0.9),
    }));
    const engine = await tiny.engine([{ name: 'overconfident' }], {
      extra: [overconfident],
      gateDrafters: false,
      fixedBudget: true,
      maxBudget: 2,
    });
    const prompt = tiny.tokenizer().encode(TINY_PROMPTS[0]);
    const plain = await engine.generate({ prompt, maxNewTokens: 16, sampling: GREEDY, speculate: false });
    expect(plain.stats.predictedTokens).toBe(plain.stats.steps);

    const gap = async (maxNewTokens: number) => {
      const { stats } = await engine.generate({ prompt, maxNewTokens, sampling: GREEDY, speculate: true });
      return (stats.predictedTokens - stats.tokens) / stats.steps;
    };
    const first = await gap(3);
    for (let i = 0; i < 4; i++) await gap(48);
    const later = await gap(48);
    // Uncalibrated, each pass predicts about 1.9 tokens; calibrated, about the 1 it gets.
    expect(first).toBeGreaterThan(0.3);
    expect(Math.abs(later)).toBeLessThan(0.1);
  });
});
