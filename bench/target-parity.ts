/**
 * Does canopy via Triton emit exactly the tokens canopy embedded emits?
 * For every prompt of a stratified subset, greedy and seeded sampling, with
 * speculation off and on, both targets generate and the token ids are
 * compared. Prints one line per mode and writes a JSON report.
 *
 *   npm run build && node dist/bench/target-parity.js --target http://127.0.0.1:PORT \
 *     --dataset ../shared/data/spec_bench/question.jsonl [--per-category 8] [--max-new-tokens 128] \
 *     [--model smollm2-135m-instruct] [--triton-model canopy_lm] [--json OUT]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../adapters/model-store/index.js';
import { GREEDY, type SamplingParams } from '../kernels/sampling-params.js';
import { openModelHost } from '../plugins/host/model-host.js';
import { loadDataset, stratify } from './dataset.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    dataset: { type: 'string' },
    'per-category': { type: 'string', default: '8' },
    'max-new-tokens': { type: 'string', default: '128' },
    model: { type: 'string', default: DEFAULT_MODEL },
    'triton-model': { type: 'string', default: 'canopy_lm' },
    json: { type: 'string' },
  },
});
if (!values.target || !values.dataset) {
  console.error(
    'usage: target-parity --target URL --dataset FILE [--per-category N] [--max-new-tokens N] [--json OUT]',
  );
  process.exit(2);
}

const prompts = stratify(loadDataset(values.dataset), Number(values['per-category']));
const maxNewTokens = Number(values['max-new-tokens']);
const embedded = await openModelHost({ model: values.model });
const triton = await openModelHost({
  model: values.model,
  target: { kind: 'triton', url: values.target, model: values['triton-model'] },
});
const modes: { name: string; sampling: SamplingParams; speculate: boolean }[] = [
  { name: 'greedy, plain', sampling: GREEDY, speculate: false },
  { name: 'greedy, speculative', sampling: GREEDY, speculate: true },
  { name: 'seeded, plain', sampling: { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 7 }, speculate: false },
  {
    name: 'seeded, speculative',
    sampling: { ...GREEDY, temperature: 0.8, topP: 0.95, seed: 7 },
    speculate: true,
  },
];
const report: Record<string, { prompts: number; equal: number; differing: string[]; tritonTau: number }> = {};
try {
  for (const mode of modes) {
    const row = { prompts: 0, equal: 0, differing: [] as string[], tritonTau: 0 };
    let steps = 0;
    let tokens = 0;
    for (const [i, p] of prompts.entries()) {
      const prompt = embedded.tokenizer.encodeChat([{ role: 'user', content: p.turns[0] }]);
      const sampling = { ...mode.sampling, seed: mode.sampling.seed + i };
      const request = { prompt, maxNewTokens, sampling, speculate: mode.speculate };
      const a = await embedded.engine.generate(request);
      const b = await triton.engine.generate(request);
      row.prompts++;
      steps += b.stats.steps;
      tokens += b.stats.tokens;
      if (a.tokens.length === b.tokens.length && a.tokens.every((t, k) => t === b.tokens[k])) row.equal++;
      else row.differing.push(`${p.category}#${p.id}`);
      process.stderr.write(`\r${mode.name}: ${row.prompts}/${prompts.length}`);
    }
    row.tritonTau = Math.round((tokens / steps) * 1000) / 1000;
    report[mode.name] = row;
    process.stderr.write('\n');
    console.log(
      `${mode.name}: ${row.equal}/${row.prompts} prompts identical (Triton τ ${row.tritonTau})` +
        (row.differing.length ? `; differing: ${row.differing.join(', ')}` : ''),
    );
  }
} finally {
  await embedded.dispose();
  await triton.dispose();
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ maxNewTokens, report }, null, 2)}\n`);
