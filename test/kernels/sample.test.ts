import { describe, expect, it } from 'vitest';
import { PenaltyHistory } from '../../kernels/penalty-history.js';
import { chooseToken, createSampleScratch } from '../../kernels/sample.js';
import { GREEDY, type SamplingParams } from '../../kernels/sampling-params.js';
import { referenceChoose, referenceDistribution } from '../vectors/reference-sampling.js';
import { mulberry32 } from './random.js';

const SAMPLED: SamplingParams = { ...GREEDY, temperature: 1, seed: 7 };

function history(
  vocab: number,
  prompt: number[],
  committed: number[] = [],
  path: number[] = [],
): PenaltyHistory {
  const h = new PenaltyHistory(vocab, prompt);
  h.commitAll(committed);
  for (const t of path) h.push(t);
  return h;
}

/** Logits with the shapes that break samplers: exact ties, float32 neighbours, a long flat tail. */
function randomLogits(vocab: number, random: () => number): Float32Array {
  const logits = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) {
    const u = random();
    logits[i] = u < 0.05 ? 8 + 4 * random() : u < 0.3 ? 2 * random() : -6 + 4 * random();
  }
  for (let j = 0; j < 4; j++) {
    const a = Math.floor(random() * vocab);
    const b = Math.floor(random() * vocab);
    logits[b] = random() < 0.5 ? logits[a] : logits[a] + Math.abs(logits[a]) * 2 ** -23;
  }
  return logits;
}

function randomParams(random: () => number): SamplingParams {
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)];
  return {
    temperature: pick([0, 0.3, 0.8, 1, 1.7]),
    topK: pick([0, 0, 1, 5, 40]),
    topP: pick([1, 1, 0.9, 0.5, 0.05]),
    minP: pick([0, 0, 0.05, 0.3]),
    repetitionPenalty: pick([1, 1, 1.3, 0.8]),
    frequencyPenalty: pick([0, 0, 0.5, -0.4]),
    presencePenalty: pick([0, 0, 0.7, -1]),
    seed: Math.floor(random() * 2 ** 40),
  };
}

describe('chooseToken', () => {
  it('takes the argmax when greedy, the lowest id on ties', () => {
    const logits = Float32Array.from([0.5, 3, -1, 3, 2]);
    expect(chooseToken(logits, GREEDY, history(5, []), 0)).toBe(1);
  });

  it('applies penalties in greedy mode too', () => {
    const logits = Float32Array.from([0.5, 3, -1, 2.9, 2]);
    const params = { ...GREEDY, repetitionPenalty: 1.1 };
    expect(chooseToken(logits, params, history(5, [1]), 0)).toBe(3);
    expect(chooseToken(logits, { ...GREEDY, presencePenalty: 0.2 }, history(5, [1]), 0)).toBe(1);
    expect(chooseToken(logits, { ...GREEDY, presencePenalty: 0.2 }, history(5, [], [1]), 0)).toBe(3);
  });

  it('divides positive and multiplies negative logits by the repetition penalty', () => {
    const logits = Float32Array.from([-1, -1.05, 0]);
    // Token 0 is penalised to -1.2 and drops below token 1.
    expect(chooseToken(logits, { ...GREEDY, repetitionPenalty: 1.2 }, history(3, [0, 2]), 0)).toBe(2);
    logits[2] = -5;
    expect(chooseToken(logits, { ...GREEDY, repetitionPenalty: 1.2 }, history(3, [0]), 0)).toBe(1);
  });

  it('counts the node path like committed tokens and forgets it after pop', () => {
    const logits = Float32Array.from([1, 1.2, 0]);
    const params = { ...GREEDY, frequencyPenalty: 0.15 };
    const h = history(3, [], [1]);
    expect(chooseToken(logits, params, h, 0)).toBe(1);
    h.push(1);
    expect(chooseToken(logits, params, h, 0)).toBe(0);
    h.pop();
    expect(chooseToken(logits, params, h, 0)).toBe(1);
  });

  it('always returns the only token top-k 1 keeps', () => {
    const random = mulberry32(3);
    const logits = randomLogits(300, random);
    const expected = chooseToken(logits, GREEDY, history(300, []), 0);
    for (let position = 0; position < 50; position++) {
      expect(chooseToken(logits, { ...SAMPLED, topK: 1 }, history(300, []), position)).toBe(expected);
    }
  });

  it('draws the same token for the same (seed, position) and varies across positions', () => {
    const logits = new Float32Array(64);
    const draws = new Set<number>();
    for (let position = 0; position < 40; position++) {
      const a = chooseToken(logits, SAMPLED, history(64, []), position);
      expect(chooseToken(logits, SAMPLED, history(64, []), position)).toBe(a);
      draws.add(a);
    }
    expect(draws.size).toBeGreaterThan(10);
  });

  it('matches the reference implementation of the spec on random cases', () => {
    const random = mulberry32(2024);
    for (let trial = 0; trial < 300; trial++) {
      const vocab = 2 + Math.floor(random() * 600);
      const scratch = createSampleScratch(vocab);
      const logits = randomLogits(vocab, random);
      const params = randomParams(random);
      const randomTokens = (n: number) => Array.from({ length: n }, () => Math.floor(random() * vocab));
      const prompt = randomTokens(Math.floor(random() * 12));
      const committed = randomTokens(Math.floor(random() * 6));
      const path = randomTokens(Math.floor(random() * 4));
      const h = history(vocab, prompt, committed, path);
      const position = Math.floor(random() * 5000);
      const expected = referenceChoose(
        logits,
        params,
        { prompt, generated: [...committed, ...path] },
        position,
      );
      expect({ trial, token: chooseToken(logits, params, h, position, scratch) }).toEqual({
        trial,
        token: expected,
      });
    }
  });

  it('rejects logits whose size differs from the history vocabulary', () => {
    expect(() => chooseToken(new Float32Array(4), GREEDY, history(5, []), 0)).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
    );
  });
});

/** Wilson–Hilferty: chi-square with `df` degrees of freedom mapped to a standard normal z. */
function chiSquareZ(statistic: number, df: number): number {
  const a = 2 / (9 * df);
  return ((statistic / df) ** (1 / 3) - (1 - a)) / Math.sqrt(a);
}

function chiSquare(
  counts: Map<number, number>,
  order: number[],
  probabilities: number[],
  draws: number,
): number {
  let statistic = 0;
  for (let j = 0; j < order.length; j++) {
    const expected = probabilities[j] * draws;
    const observed = counts.get(order[j]) ?? 0;
    statistic += (observed - expected) ** 2 / expected;
  }
  for (const token of counts.keys()) if (!order.includes(token)) return Number.POSITIVE_INFINITY;
  return statistic;
}

describe('chooseToken distribution', () => {
  const vocab = 40;
  const logits = Float32Array.from({ length: vocab }, (_, i) => Math.sin(i * 1.7) * 2.5);
  const params: SamplingParams = {
    ...SAMPLED,
    temperature: 0.8,
    topP: 0.95,
    topK: 30,
    repetitionPenalty: 1.3,
    seed: 99,
  };
  const reference = { prompt: [3, 5], generated: [5, 8] };
  const draws = 40_000;
  let counts: Map<number, number> | undefined;
  /** Tokens drawn at positions 0..draws-1 with one seed: the draws plain decoding would make. */
  const drawn = (): Map<number, number> => {
    if (counts) return counts;
    counts = new Map();
    const h = history(vocab, reference.prompt, reference.generated);
    const scratch = createSampleScratch(vocab);
    for (let position = 0; position < draws; position++) {
      const t = chooseToken(logits, params, h, position, scratch);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    return counts;
  };

  it('follows the processed distribution across positions (chi-square)', () => {
    const { order, weights, mass } = referenceDistribution(logits, params, reference);
    expect(order.length).toBeGreaterThan(5);
    const stat = chiSquare(
      drawn(),
      order,
      weights.map((w) => w / mass),
      draws,
    );
    expect(chiSquareZ(stat, order.length - 1)).toBeLessThan(4);
  });

  it('is told apart from a distribution without the penalties (the test has power)', () => {
    const { order, weights, mass } = referenceDistribution(
      logits,
      { ...params, repetitionPenalty: 1 },
      { prompt: [], generated: [] },
    );
    const stat = chiSquare(
      drawn(),
      order,
      weights.map((w) => w / mass),
      draws,
    );
    expect(chiSquareZ(stat, order.length - 1)).toBeGreaterThan(4);
  });
});
