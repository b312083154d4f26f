/**
 * Speculation under load: aggregate tokens/s of plain and speculative decoding
 * with N requests in flight at once, on one model host (one target, one set of
 * drafters, one cost model, as `canopy serve` runs them), and what one request
 * waits per token (median and 95th percentile over the requests, prefill
 * excluded).
 *
 * Every prompt is served speculatively once only: the retrieval drafter
 * indexes past outputs, and a prompt served again would be drafted from its own
 * earlier answer. So the prompts (first turns, `--per-category` of each
 * category per group) are split into disjoint groups: one warms the host up
 * (speculatively: the cost model, recycling's matrix and the calibration learn
 * as a running server's would), and each concurrency level gets its own, run
 * once plain and once speculative, the order alternating between levels so
 * that drift does not favour one mode. Plain decoding runs no drafter, so it
 * teaches them nothing. Greedy outputs of the two modes are compared prompt by
 * prompt: exactness must hold with requests interleaving on the target too.
 *
 * `--target URL` runs the same against a Triton server serving `canopy_lm`
 * (`npx canopy triton start` prints its URLs) instead of the embedded target.
 *
 *   npm run build && node dist/bench/load.js --dataset ../shared/data/spec_bench/question.jsonl \
 *     [--per-category 2] [--max-new-tokens 128] [--concurrency 1,2,4] [--model NAME] [--target URL] [--json OUT]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../adapters/model-store/index.js';
import type { GenerateResult } from '../engine/types.js';
import { GREEDY } from '../kernels/sampling-params.js';
import { openModelHost } from '../plugins/host/model-host.js';
import { loadDataset, stratify } from './dataset.js';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    'per-category': { type: 'string', default: '2' },
    'max-new-tokens': { type: 'string', default: '128' },
    concurrency: { type: 'string', default: '1,2,4' },
    model: { type: 'string', default: DEFAULT_MODEL },
    target: { type: 'string' },
    json: { type: 'string' },
  },
});
const levels = (values.concurrency ?? '').split(',').map(Number);
const perCategory = Number(values['per-category']);
const maxNewTokens = Number(values['max-new-tokens']);
if (
  !values.dataset ||
  !levels.every((c) => Number.isInteger(c) && c >= 1 && c <= 64) ||
  !(Number.isInteger(perCategory) && perCategory >= 1) ||
  !(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)
) {
  console.error(
    'usage: load.js --dataset FILE [--per-category N] [--max-new-tokens N] [--concurrency 1,2,4] (see the header)',
  );
  process.exit(2);
}

interface Round {
  readonly ms: number;
  readonly results: GenerateResult[];
}

const host = await openModelHost({
  model: values.model,
  ...(values.target ? { target: { kind: 'triton' as const, url: values.target } } : {}),
});
const groups = levels.length + 1;
const all = stratify(loadDataset(values.dataset), perCategory * groups).map((p) =>
  host.tokenizer.encodeChat([{ role: 'user', content: p.turns[0] }]),
);
// stratify lists each category's prompts together: every group takes its share of each.
const groupOf = (g: number) => all.filter((_, i) => i % groups === g);

/** Every prompt once, `concurrency` requests in flight at a time; results in prompt order. */
async function round(prompts: Int32Array[], concurrency: number, speculate: boolean): Promise<Round> {
  const results: GenerateResult[] = new Array(prompts.length);
  let next = 0;
  const worker = async () => {
    while (next < prompts.length) {
      const i = next++;
      results[i] = await host.engine.generate({
        prompt: prompts[i],
        maxNewTokens,
        sampling: GREEDY,
        speculate,
      });
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, prompts.length) }, worker));
  return { ms: performance.now() - started, results };
}

const tokensOf = (r: Round) => r.results.reduce((sum, x) => sum + x.tokens.length, 0);
/** Per-request decoding time per token (prefill excluded), ms: what one user waits per token. */
const msPerToken = (r: Round) =>
  r.results
    .filter((x) => x.tokens.length > 0)
    .map((x) => (x.stats.totalMs - x.stats.prefillMs) / x.tokens.length)
    .sort((a, b) => a - b);
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const same = (a: GenerateResult, b: GenerateResult) =>
  a.tokens.length === b.tokens.length && a.tokens.every((t, i) => t === b.tokens[i]);

const rows = [];
try {
  await round(groupOf(0), 1, true); // warm-up
  for (const [l, c] of levels.entries()) {
    const prompts = groupOf(l + 1);
    const first = await round(prompts, c, l % 2 === 1);
    const second = await round(prompts, c, l % 2 === 0);
    const [plain, spec] = l % 2 === 0 ? [first, second] : [second, first];
    const plainRate = tokensOf(plain) / (plain.ms / 1000);
    const specRate = tokensOf(spec) / (spec.ms / 1000);
    const steps = spec.results.reduce((sum, r) => sum + r.stats.steps, 0);
    const nodes = spec.results.reduce((sum, r) => sum + r.stats.budgetSum, 0);
    let exact = 0;
    for (let i = 0; i < prompts.length; i++) if (same(spec.results[i], plain.results[i])) exact++;
    const [plainMs, specMs] = [msPerToken(plain), msPerToken(spec)];
    const row = {
      concurrency: c,
      prompts: prompts.length,
      plainTokensPerSecond: plainRate,
      specTokensPerSecond: specRate,
      speedup: specRate / plainRate,
      tau: tokensOf(spec) / steps,
      meanBudget: nodes / steps,
      exactMatch: exact / prompts.length,
      plainMsPerToken: { p50: quantile(plainMs, 0.5), p95: quantile(plainMs, 0.95) },
      specMsPerToken: { p50: quantile(specMs, 0.5), p95: quantile(specMs, 0.95) },
    };
    rows.push(row);
    console.log(
      `concurrency ${c}: plain ${plainRate.toFixed(1)} tok/s, speculative ${specRate.toFixed(1)} tok/s, ` +
        `${row.speedup.toFixed(2)}×, τ ${row.tau.toFixed(2)}, mean budget ${row.meanBudget.toFixed(1)}, ` +
        `exact ${row.exactMatch.toFixed(2)}; ms/token per request p50 / p95: plain ` +
        `${row.plainMsPerToken.p50.toFixed(1)} / ${row.plainMsPerToken.p95.toFixed(1)}, speculative ` +
        `${row.specMsPerToken.p50.toFixed(1)} / ${row.specMsPerToken.p95.toFixed(1)}`,
    );
  }
} finally {
  await host.dispose();
}
const report = {
  settings: {
    model: values.model,
    target: values.target ?? 'embedded',
    dataset: values.dataset,
    perCategory,
    maxNewTokens,
    levels,
  },
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, loadavg: loadavg() },
  rows,
};
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
