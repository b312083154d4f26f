/**
 * Micro-benchmark of the per-step kernels: fusion, the walk, and choosing a
 * token at one node over SmolLM2's vocabulary. Prints microseconds per call.
 *
 *   npx tsc --outDir dist/bench-kernels --rootDir . --module nodenext --moduleResolution nodenext \
 *     --target es2023 --skipLibCheck --types node bench/kernels.ts && node dist/bench-kernels/bench/kernels.js
 */
import { type FusionInput, fuseTrees } from '../kernels/fuse.js';
import { PenaltyHistory } from '../kernels/penalty-history.js';
import { chooseToken, createSampleScratch } from '../kernels/sample.js';
import { GREEDY, type SamplingParams } from '../kernels/sampling-params.js';
import { walkTree } from '../kernels/verify.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function timeIt(name: string, iterations: number, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const us = Number(process.hrtime.bigint() - start) / 1e3 / iterations;
  console.log(`${name.padEnd(48)} ${us.toFixed(2).padStart(10)} µs/call`);
}

const random = lcg(1);
const ROOT = 7;

function randomDraft(n: number, alphabet: number): FusionInput['draft'] {
  const parents = new Int32Array(n);
  const tokens = new Int32Array(n);
  const scores = new Float32Array(n);
  parents[0] = -1;
  tokens[0] = ROOT;
  scores[0] = 1;
  for (let i = 1; i < n; i++) {
    parents[i] = random() < 0.6 ? i - 1 : Math.floor(random() * i);
    tokens[i] = Math.floor(random() * alphabet);
    scores[i] = 0.1 + 0.85 * random();
  }
  return { tokens, parents, scores };
}

const inputs: FusionInput[] = [0, 1, 2].map((source) => ({ draft: randomDraft(64, 12), source }));
timeIt('fuseTrees 3 × 64 nodes → 32', 20_000, () => fuseTrees(ROOT, inputs, 32));
timeIt('fuseTrees 3 × 64 nodes → 64', 20_000, () => fuseTrees(ROOT, inputs, 64));

const fused = fuseTrees(ROOT, inputs, 32);
const chosen = new Int32Array(fused.tokens.length);
for (let i = 0; i < chosen.length; i++) {
  const firstChild = fused.parents.indexOf(i);
  chosen[i] = firstChild >= 0 ? fused.tokens[firstChild] : 1;
}
timeIt('walkTree 32 nodes', 200_000, () => walkTree(fused, chosen, { eosTokenIds: [2], maxTokens: 128 }));

const V = 49152;
const logits = new Float32Array(V);
for (let i = 0; i < V; i++) logits[i] = 4 * (random() + random() + random() - 1.5) - (i % 97 === 0 ? 0 : 3);
for (let i = 0; i < 20; i++) logits[Math.floor(random() * V)] = 8 + 4 * random();
const prompt = Array.from({ length: 300 }, () => Math.floor(random() * V));
const history = new PenaltyHistory(V, prompt);
const scratch = createSampleScratch(V);
const sampled: SamplingParams = { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 1 };
timeIt('chooseToken V=49152 greedy', 2_000, (i) => chooseToken(logits, GREEDY, history, i, scratch));
timeIt('chooseToken V=49152 greedy + repetition 1.1', 2_000, (i) =>
  chooseToken(logits, { ...GREEDY, repetitionPenalty: 1.1 }, history, i, scratch),
);
timeIt('chooseToken V=49152 T=0.8 top-p 0.95', 500, (i) => chooseToken(logits, sampled, history, i, scratch));
timeIt('chooseToken V=49152 T=0.8 top-k 50', 500, (i) =>
  chooseToken(logits, { ...sampled, topP: 1, topK: 50 }, history, i, scratch),
);
timeIt('chooseToken V=49152 T=1 no filters', 500, (i) =>
  chooseToken(logits, { ...sampled, temperature: 1, topP: 1 }, history, i, scratch),
);
