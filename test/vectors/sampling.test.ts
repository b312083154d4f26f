import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PenaltyHistory } from '../../kernels/penalty-history.js';
import { splitMix64At, uniformAt } from '../../kernels/rng.js';
import { chooseToken, createSampleScratch, processedDistribution } from '../../kernels/sample.js';
import type { SamplingParams } from '../../kernels/sampling-params.js';

interface VectorCase {
  name: string;
  vocabSize: number;
  logits: (number | '-inf')[];
  params: SamplingParams;
  prompt: number[];
  generated: number[];
  kept: number[] | null;
  draws: { position: number; token: number }[];
}

const vectors = JSON.parse(readFileSync(new URL('./sampling.json', import.meta.url), 'utf8')) as {
  splitmix64: { state: string; outputs: string[] };
  uniform: { seed: number; position: number; u: number }[];
  cases: VectorCase[];
};

describe('shared sampling vectors (test/vectors/sampling.json)', () => {
  it('SplitMix64 gives the published reference outputs', () => {
    const outputs = vectors.splitmix64.outputs.map((_, n) =>
      splitMix64At(BigInt(vectors.splitmix64.state), BigInt(n)),
    );
    expect(outputs.map(String)).toEqual(vectors.splitmix64.outputs);
    expect(vectors.splitmix64.outputs[0]).toBe('6457827717110365317');
  });

  it('uniformAt gives the recorded values exactly', () => {
    for (const { seed, position, u } of vectors.uniform) expect(uniformAt(seed, position)).toBe(u);
  });

  it('covers greedy, every filter and every penalty', () => {
    const used = (key: keyof SamplingParams, off: number) => vectors.cases.some((c) => c.params[key] !== off);
    expect(vectors.cases.some((c) => c.params.temperature === 0)).toBe(true);
    expect(used('topK', 0) && used('topP', 1) && used('minP', 0)).toBe(true);
    expect(used('repetitionPenalty', 1) && used('frequencyPenalty', 0) && used('presencePenalty', 0)).toBe(
      true,
    );
  });

  for (const c of vectors.cases) {
    it(c.name, () => {
      const logits = Float32Array.from(c.logits, (v) => (v === '-inf' ? Number.NEGATIVE_INFINITY : v));
      const committed = new PenaltyHistory(c.vocabSize, c.prompt);
      committed.commitAll(c.generated);
      // The same history reached through the path overlay must give the same answers.
      const layered = new PenaltyHistory(c.vocabSize, c.prompt);
      for (const t of c.generated) layered.push(t);
      const scratch = createSampleScratch(c.vocabSize);
      if (c.kept !== null) {
        expect([...processedDistribution(logits, c.params, committed, scratch).tokens]).toEqual(c.kept);
      }
      for (const { position, token } of c.draws) {
        expect(chooseToken(logits, c.params, committed, position, scratch)).toBe(token);
        expect(chooseToken(logits, c.params, layered, position)).toBe(token);
      }
    });
  }
});
