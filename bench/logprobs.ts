/**
 * Log-probabilities with speculation: do they match plain decoding's, and
 * what do they cost?
 *
 * 1. Agreement: every prompt's first turn is decoded plainly on the embedded
 *    target and speculatively (the default drafters) on the embedded target
 *    or, with `--target URL`, on a Triton server serving `canopy_lm`, each
 *    asking for the tokens' log-probabilities and their top-5 alternatives.
 *    Reports how many outputs are token-identical and the largest
 *    |Δ log-probability| over the tokens and their alternatives (tree and
 *    one-node passes differ only in float rounding).
 * 2. Cost: plain decoding of the same prompts on the embedded target with and
 *    without log-probabilities, interleaved with the order alternating per
 *    prompt, as decoding ms per token (prefill excluded). Plain decoding, so
 *    no drafter learns from the first run of a prompt.
 *
 * Greedy and seeded sampling (T 0.8, top-p 0.95, seed 1).
 *
 *   npm run build && node dist/bench/logprobs.js --dataset ../shared/data/spec_bench/question.jsonl \
 *     [--per-category 2] [--max-new-tokens 128] [--model NAME] [--target URL]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../adapters/model-store/index.js';
import type { GenerateResult } from '../engine/types.js';
import { GREEDY, type SamplingParams } from '../kernels/sampling-params.js';
import { openModelHost } from '../plugins/host/model-host.js';
import { loadDataset, stratify } from './dataset.js';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    'per-category': { type: 'string', default: '2' },
    'max-new-tokens': { type: 'string', default: '128' },
    model: { type: 'string', default: DEFAULT_MODEL },
    target: { type: 'string' },
  },
});
if (!values.dataset) {
  console.error('usage: logprobs.js --dataset FILE [--per-category N] [--max-new-tokens N] [--target URL]');
  process.exit(2);
}
const TOP = 5;
const prompts = stratify(loadDataset(values.dataset), Number(values['per-category']));
const maxNewTokens = Number(values['max-new-tokens']);
const modes: [string, SamplingParams][] = [
  ['greedy', GREEDY],
  ['seeded', { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 1 }],
];

/** Largest |Δ| between two answers' log-probabilities and alternatives, over their common tokens. */
function largestDifference(a: GenerateResult, b: GenerateResult): number {
  const x = a.logprobs;
  const y = b.logprobs;
  if (!x || !y) throw new Error('an answer came back without log-probabilities');
  let largest = 0;
  const n = Math.min(a.tokens.length, b.tokens.length);
  for (let t = 0; t < n; t++) {
    largest = Math.max(largest, Math.abs(x.logprobs[t] - y.logprobs[t]));
    for (let r = 0; r < TOP; r++)
      largest = Math.max(largest, Math.abs(x.topLogprobs[t * TOP + r] - y.topLogprobs[t * TOP + r]));
  }
  return largest;
}

const plain = await openModelHost({ model: values.model, drafters: [] });
const spec = await openModelHost({
  model: values.model,
  ...(values.target ? { target: { kind: 'triton' as const, url: values.target } } : {}),
});
try {
  const chat = prompts.map((p) => plain.tokenizer.encodeChat([{ role: 'user', content: p.turns[0] }]));
  console.log(
    `${prompts.length} prompts, ${maxNewTokens} tokens, speculative side: ${values.target ?? 'embedded'}`,
  );
  for (const [mode, sampling] of modes) {
    let identical = 0;
    let tokens = 0;
    let steps = 0;
    let largest = 0;
    for (const prompt of chat) {
      const request = { prompt, maxNewTokens, sampling, logprobs: TOP };
      const expected = await plain.engine.generate({ ...request, speculate: false });
      const got = await spec.engine.generate({ ...request, speculate: true });
      if (got.tokens.join() === expected.tokens.join()) identical++;
      tokens += got.tokens.length;
      steps += got.stats.steps;
      largest = Math.max(largest, largestDifference(got, expected));
    }
    console.log(
      `${mode}: ${identical}/${chat.length} token-identical, τ ${(tokens / steps).toFixed(2)}, ` +
        `largest |Δ log-probability| ${largest.toExponential(2)}`,
    );
  }
  for (const [mode, sampling] of modes) {
    const ms = { off: 0, on: 0 };
    const count = { off: 0, on: 0 };
    for (const [i, prompt] of chat.entries()) {
      for (const k of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const r = await plain.engine.generate({
          prompt,
          maxNewTokens,
          sampling,
          speculate: false,
          logprobs: k === 'on' ? TOP : undefined,
        });
        ms[k] += r.stats.totalMs - r.stats.prefillMs;
        count[k] += r.tokens.length;
      }
    }
    const off = ms.off / count.off;
    const on = ms.on / count.on;
    console.log(
      `${mode}, plain decoding: ${off.toFixed(2)} ms/token without, ${on.toFixed(2)} with top-${TOP} ` +
        `log-probabilities (${(((on - off) / off) * 100).toFixed(1)} %)`,
    );
  }
} finally {
  await spec.dispose();
  await plain.dispose();
}
