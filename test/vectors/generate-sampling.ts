/**
 * Writes test/vectors/sampling.json: the shared vectors of docs/sampling.md.
 * The expectations come from the plain reference implementation
 * (reference-sampling.ts), never from the kernel under test. Deterministic:
 * running it again gives the same file.
 *
 *   npm run vectors
 */
import { writeFileSync } from 'node:fs';
import { splitMix64At, uniformAt } from '../../kernels/rng.js';
import { GREEDY, type SamplingParams } from '../../kernels/sampling-params.js';
import { type ReferenceHistory, referenceChoose, referenceDistribution } from './reference-sampling.js';

interface Case {
  readonly name: string;
  readonly logits: Float32Array;
  readonly params: SamplingParams;
  readonly history: ReferenceHistory;
  readonly positions: readonly number[];
}

/** xorshift32: a deterministic source for the random cases. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

const f32 = (values: number[]): Float32Array => Float32Array.from(values);
const none: ReferenceHistory = { prompt: [], generated: [] };
const sampled = (over: Partial<SamplingParams>): SamplingParams => ({
  ...GREEDY,
  temperature: 1,
  seed: 42,
  ...over,
});
const positions = (start: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => start + 7 * i);

function llmLike(vocab: number, random: () => number, peak = 10): Float32Array {
  const logits = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) logits[i] = -4 + (6 * (random() + random() + random())) / 3;
  for (let j = 0; j < 6; j++) logits[Math.floor(random() * vocab)] = peak - 2 * j * random();
  return logits;
}

function cases(): Case[] {
  const random = xorshift(20240917);
  const small = f32([1.5, -0.25, 3, 0.75, 3, -2, 2.25, 0.5]);
  const flat = new Float32Array(12);
  const neighbours = f32([2, Math.fround(2 + 2 ** -22), 2, Math.fround(2 - 2 ** -22), 1, 0]);
  const list: Case[] = [
    // Greedy and the lowest-id tie rule.
    { name: 'greedy', logits: small, params: GREEDY, history: none, positions: [0] },
    { name: 'greedy float32 neighbours', logits: neighbours, params: GREEDY, history: none, positions: [0] },
    {
      name: 'greedy repetition flips argmax',
      logits: small,
      params: { ...GREEDY, repetitionPenalty: 1.25 },
      history: { prompt: [2], generated: [] },
      positions: [0],
    },
    {
      name: 'greedy frequency on generated only',
      logits: small,
      params: { ...GREEDY, frequencyPenalty: 0.4 },
      history: { prompt: [4], generated: [2, 2] },
      positions: [0],
    },
    // Penalties are float32 on the wire: only with fround(1.3) does token 0 tie token 1 exactly (and win by id).
    {
      name: 'greedy repetition penalty is rounded to float32',
      logits: f32([2 * Math.fround(1.3), 2]),
      params: { ...GREEDY, repetitionPenalty: 1.3 },
      history: { prompt: [0], generated: [] },
      positions: [0],
    },
    // Only with fround(0.1) does token 1 fall exactly to token 0's logit (and lose by id).
    {
      name: 'greedy frequency penalty is rounded to float32',
      logits: f32([0, 0.1]),
      params: { ...GREEDY, frequencyPenalty: 0.1 },
      history: { prompt: [], generated: [1] },
      positions: [0],
    },
    {
      name: 'greedy presence',
      logits: small,
      params: { ...GREEDY, presencePenalty: 0.9 },
      history: { prompt: [], generated: [2, 4, 6] },
      positions: [0],
    },
    // Temperature alone.
    { name: 'temperature 1', logits: small, params: sampled({}), history: none, positions: positions(0, 6) },
    {
      name: 'temperature 0.7 (not a float32)',
      logits: small,
      params: sampled({ temperature: 0.7 }),
      history: none,
      positions: positions(3, 6),
    },
    {
      name: 'temperature 0.05',
      logits: small,
      params: sampled({ temperature: 0.05, seed: 5 }),
      history: none,
      positions: positions(1, 4),
    },
    {
      name: 'temperature 4',
      logits: small,
      params: sampled({ temperature: 4, seed: 6 }),
      history: none,
      positions: positions(2, 6),
    },
    {
      name: 'flat logits, tie order by id',
      logits: flat,
      params: sampled({ seed: 9 }),
      history: none,
      positions: positions(0, 8),
    },
    {
      name: 'float32 neighbours sampled',
      logits: neighbours,
      params: sampled({ topP: 0.6 }),
      history: none,
      positions: positions(4, 6),
    },
    // Top-k, including ties at the boundary.
    {
      name: 'top-k 1',
      logits: small,
      params: sampled({ topK: 1 }),
      history: none,
      positions: positions(0, 3),
    },
    {
      name: 'top-k 3 cuts a tie by id',
      logits: f32([1, 2, 2, 2, 0.5, 2]),
      params: sampled({ topK: 3, seed: 1 }),
      history: none,
      positions: positions(0, 8),
    },
    {
      name: 'top-k above vocabulary is off',
      logits: small,
      params: sampled({ topK: 100, seed: 2 }),
      history: none,
      positions: positions(0, 4),
    },
    // Top-p, including a cut inside a run of equal weights.
    {
      name: 'top-p 0.8',
      logits: small,
      params: sampled({ topP: 0.8 }),
      history: none,
      positions: positions(0, 6),
    },
    // The kept mass is 3 (ids 0..2), not 4: the fourth tied token is outside the cut.
    {
      name: 'top-p cut inside a tie',
      logits: f32([3, 3, 3, 3, 0, -1]),
      params: sampled({ topP: 0.5, seed: 3 }),
      history: none,
      positions: positions(0, 40),
    },
    {
      name: 'top-p tiny keeps one',
      logits: small,
      params: sampled({ topP: 0.01 }),
      history: none,
      positions: positions(0, 3),
    },
    // Min-p.
    {
      name: 'min-p 0.2',
      logits: small,
      params: sampled({ minP: 0.2, seed: 11 }),
      history: none,
      positions: positions(0, 6),
    },
    // Both maxima have w = 1 exactly, so min-p 1 keeps exactly the tied maxima.
    {
      name: 'min-p 1 keeps tied maxima',
      logits: f32([2, 0, 2, 1.5]),
      params: sampled({ minP: 1, seed: 12 }),
      history: none,
      positions: positions(0, 6),
    },
    // Penalties with sampling.
    {
      name: 'repetition above 1 on positive and negative logits',
      logits: small,
      params: sampled({ repetitionPenalty: 1.3, seed: 13 }),
      history: { prompt: [0, 1, 5], generated: [2] },
      positions: positions(10, 6),
    },
    {
      name: 'repetition below 1',
      logits: small,
      params: sampled({ repetitionPenalty: 0.7, seed: 14 }),
      history: { prompt: [1, 3], generated: [] },
      positions: positions(10, 6),
    },
    {
      name: 'frequency and presence, negative too',
      logits: small,
      params: sampled({ frequencyPenalty: 0.3, presencePenalty: -0.5, seed: 15 }),
      history: { prompt: [6], generated: [2, 2, 2, 4, 7] },
      positions: positions(20, 6),
    },
    {
      name: 'everything at once',
      logits: small,
      params: sampled({
        temperature: 0.8,
        topK: 6,
        topP: 0.9,
        minP: 0.05,
        repetitionPenalty: 1.1,
        frequencyPenalty: 0.2,
        presencePenalty: 0.1,
        seed: 16,
      }),
      history: { prompt: [0, 1, 2], generated: [2, 4, 4] },
      positions: positions(30, 8),
    },
    {
      name: 'masked tokens at -Infinity',
      logits: f32([Number.NEGATIVE_INFINITY, 1, Number.NEGATIVE_INFINITY, 0.5, 0]),
      params: sampled({ seed: 17 }),
      history: none,
      positions: positions(0, 6),
    },
  ];
  // Larger vocabularies: long flat tails where draws land deep in σ.
  for (let k = 0; k < 3; k++) {
    const logits = llmLike(1500, random, k === 2 ? 4 : 10);
    list.push({
      name: `llm-like vocabulary 1500 #${k}`,
      logits,
      params: sampled({ temperature: [1, 0.8, 1.5][k], topP: [1, 0.95, 0.99][k], seed: 100 + k }),
      history: { prompt: [1, 2, 3, 400], generated: [400, 7] },
      positions: positions(50 * k, 10),
    });
  }
  // Random small cases over every parameter.
  for (let k = 0; k < 24; k++) {
    const vocab = 4 + Math.floor(random() * 40);
    const logits = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) logits[i] = Math.round((random() * 12 - 6) * 8) / 8; // 1/8 steps: ties happen
    const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)];
    const tokens = (n: number) => Array.from({ length: n }, () => Math.floor(random() * vocab));
    list.push({
      name: `random #${k}`,
      logits,
      params: {
        temperature: pick([0, 0.5, 0.9, 1, 1.3]),
        topK: pick([0, 0, 2, 5]),
        topP: pick([1, 0.9, 0.6]),
        minP: pick([0, 0, 0.1]),
        repetitionPenalty: pick([1, 1.2, 0.9]),
        frequencyPenalty: pick([0, 0.5]),
        presencePenalty: pick([0, 0.3, -0.2]),
        seed: Math.floor(random() * 2 ** 52),
      },
      history: { prompt: tokens(Math.floor(random() * 5)), generated: tokens(Math.floor(random() * 5)) },
      positions: positions(Math.floor(random() * 10_000), 4),
    });
  }
  return list;
}

function uniformVectors(): { seed: number; position: number; u: number }[] {
  const seeds = [0, 1, 42, 123456789, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
  const at = [0, 1, 2, 1000, 2 ** 31, 2 ** 53 - 1];
  return seeds.flatMap((seed) => at.map((position) => ({ seed, position, u: uniformAt(seed, position) })));
}

function main(): void {
  const out = process.argv[2] ?? 'test/vectors/sampling.json';
  const vectors = {
    format: 1,
    spec: 'docs/sampling.md',
    generator: 'test/vectors/generate-sampling.ts',
    splitmix64: {
      note: 'SplitMix64 outputs 0..4 for state 1234567 (the published reference values)',
      state: '1234567',
      outputs: [0n, 1n, 2n, 3n, 4n].map((n) => splitMix64At(1234567n, n).toString()),
    },
    uniform: uniformVectors(),
    cases: cases().map((c) => ({
      name: c.name,
      vocabSize: c.logits.length,
      logits: Array.from(c.logits, (v) => (Number.isFinite(v) ? v : '-inf')),
      params: c.params,
      prompt: c.history.prompt,
      generated: c.history.generated,
      kept:
        Math.fround(c.params.temperature) === 0
          ? null
          : referenceDistribution(c.logits, c.params, c.history).order,
      draws: c.positions.map((position) => ({
        position,
        token: referenceChoose(c.logits, c.params, c.history, position),
      })),
    })),
  };
  writeFileSync(out, `${JSON.stringify(vectors, null, 1)}\n`);
  console.log(`wrote ${vectors.cases.length} cases and ${vectors.uniform.length} uniform values to ${out}`);
}

main();
