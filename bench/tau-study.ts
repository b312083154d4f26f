/**
 * τ of drafter configurations at a fixed budget, on the real target.
 *
 * With the budget fixed and the drafter gate off, what a configuration
 * accepts does not depend on the machine's timings, so τ needs no plain
 * baseline and no quiet machine: each variant decodes every prompt's first
 * turn speculatively, one variant after the other, each with fresh drafter
 * state (or the state after serving the first turns of `--prime`, unmeasured,
 * as `canopy bench --prime` does). Also prints the τ the calibrated path
 * scores predicted.
 *
 *   npm run build && node dist/bench/tau-study.js --dataset ../shared/data/spec_bench/question.jsonl \
 *     [--per-category 8] [--max-new-tokens 128] [--budget 16] [--model NAME] \
 *     [--prime FILE [--prime-count N]] \
 *     --variant 'order-2=["ngram","recycling","retrieval"]' \
 *     --variant 'order-1=["ngram",{"name":"recycling","options":{"order":1}},"retrieval"]'
 */
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../adapters/model-store/index.js';
import { GREEDY } from '../kernels/sampling-params.js';
import { primeFromFlags, variantFromFlag } from '../plugins/cli/flags.js';
import { openModelHost } from '../plugins/host/model-host.js';
import { loadDataset, stratify } from './dataset.js';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    'per-category': { type: 'string', default: '8' },
    'max-new-tokens': { type: 'string', default: '128' },
    budget: { type: 'string', default: '16' },
    model: { type: 'string', default: DEFAULT_MODEL },
    variant: { type: 'string', multiple: true },
    prime: { type: 'string' },
    'prime-count': { type: 'string' },
  },
});
if (!values.dataset || !values.variant?.length) {
  console.error('usage: tau-study.js --dataset FILE --variant NAME=JSON [--variant ...] (see the header)');
  process.exit(2);
}
// Every flag is checked before the first (long) run.
let variants: ReturnType<typeof variantFromFlag>[];
let prime: ReturnType<typeof primeFromFlags>;
try {
  variants = values.variant.map(variantFromFlag);
  prime = primeFromFlags(values.prime, values['prime-count']);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
const prompts = stratify(loadDataset(values.dataset), Number(values['per-category']));
const maxNewTokens = Number(values['max-new-tokens']);
const budget = Number(values.budget);

for (const { name, drafters } of variants) {
  const host = await openModelHost({
    model: values.model,
    drafters,
    maxBudget: budget,
    fixedBudget: true,
    gateDrafters: false,
  });
  let tokens = 0;
  let steps = 0;
  let predicted = 0;
  const byCategory = new Map<string, [number, number]>();
  try {
    for (const p of prime) {
      const prompt = host.tokenizer.encodeChat([{ role: 'user', content: p.turns[0] }]);
      await host.engine.generate({ prompt, maxNewTokens, sampling: GREEDY, speculate: true });
    }
    for (const p of prompts) {
      const prompt = host.tokenizer.encodeChat([{ role: 'user', content: p.turns[0] }]);
      const r = await host.engine.generate({ prompt, maxNewTokens, sampling: GREEDY, speculate: true });
      tokens += r.tokens.length;
      steps += r.stats.steps;
      predicted += r.stats.predictedTokens;
      const c = byCategory.get(p.category) ?? [0, 0];
      byCategory.set(p.category, [c[0] + r.tokens.length, c[1] + r.stats.steps]);
    }
  } finally {
    await host.dispose();
  }
  const cells = [...byCategory].map(([c, [t, s]]) => `${c} ${(t / s).toFixed(2)}`).join(', ');
  console.log(
    `${name}: τ ${(tokens / steps).toFixed(3)}, predicted ${(predicted / steps).toFixed(3)}, budget ${budget}` +
      `${prime.length > 0 ? `, primed with ${prime.length}` : ''} — ${cells}`,
  );
}
