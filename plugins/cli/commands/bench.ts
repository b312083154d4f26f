/**
 * `canopy bench --dataset FILE [--per-category N] [--max-new-tokens N] [--drafters LIST]
 *  [--compare] [--json OUT] [--chart OUT.svg] [--target URL] [sampling flags]`:
 * plain versus speculative decoding on the same prompts in one run
 * (bench/spec-bench.ts), reported as ../shared/docs/benchmarks.md asks.
 */
import { writeFileSync } from 'node:fs';
import { cpus, freemem, type as osType, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { DEFAULT_MODEL } from '../../../adapters/model-store/index.js';
import { speedupChart } from '../../../bench/chart.js';
import { loadDataset, stratify } from '../../../bench/dataset.js';
import { formatTable, summarizeVariant, type VariantReport } from '../../../bench/report.js';
import { type BenchVariant, runBench } from '../../../bench/spec-bench.js';
import { createModelEngine, type DrafterSpec } from '../../../engine/index.js';
import { CanopyError } from '../../../kernels/errors.js';
import { createDefaultRegistry, openModelHost } from '../../host/model-host.js';
import {
  draftersFromFlag,
  numberFlag,
  primeFromFlags,
  SAMPLING_FLAGS,
  samplingFromFlags,
  targetFromFlag,
  variantFromFlag,
} from '../flags.js';
import { createProgress } from '../progress.js';
import type { Command } from './command.js';

const HELP = `usage: canopy bench --dataset FILE [options]

Runs plain and speculative decoding on the same prompts, interleaved, and
reports τ, speedup, exact match and draft overhead per category.

  --dataset FILE        JSONL with "category" and "turns" (Spec-Bench's question.jsonl)
  --per-category N      prompts per category, spread evenly (default 8)
  --max-new-tokens N    per turn (default 128)
  --drafters LIST       the speculative configuration (default: ngram,recycling,retrieval)
  --compare             also run each drafter of the list alone, in the same run
  --also LIST           also run this fusion in the same run (repeatable; named a+b+c)
  --variant NAME=JSON   also run drafters with options, e.g.
                        'paper=[{"name":"recycling","options":{"order":1}}]' (repeatable)
  --prime FILE          earlier traffic: each speculative variant first serves the first
                        turns of this JSONL (same shape as --dataset, unmeasured), as a
                        server that has been running would have (see docs/benchmarks.md)
  --prime-count N       serve only the first N prompts of --prime
  --budget N            largest verify tree (default 64)
  --fixed-budget        verify the best --budget nodes every step (no policy; for τ studies)
  --ungated             every drafter proposes every step (no drafter gate; for drafter studies)
  --json OUT            write the full report as JSON
  --chart OUT.svg       write a chart of speedup per category
  --model NAME          prepared model (default ${DEFAULT_MODEL})
  --target URL          verify on a Triton server instead of in process
  --triton-model NAME   the Triton model (default canopy_lm)
  sampling: --temperature --top-p --top-k --min-p --seed (default 0)
            --repetition-penalty --frequency-penalty --presence-penalty (greedy by default)`;

function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.version,
  };
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmark speculative against plain decoding on a prompt set',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        dataset: { type: 'string' },
        'per-category': { type: 'string' },
        'max-new-tokens': { type: 'string' },
        drafters: { type: 'string' },
        compare: { type: 'boolean', default: false },
        also: { type: 'string', multiple: true },
        variant: { type: 'string', multiple: true },
        budget: { type: 'string' },
        prime: { type: 'string' },
        'prime-count': { type: 'string' },
        'fixed-budget': { type: 'boolean', default: false },
        ungated: { type: 'boolean', default: false },
        json: { type: 'string' },
        chart: { type: 'string' },
        model: { type: 'string' },
        target: { type: 'string' },
        'triton-model': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        ...SAMPLING_FLAGS,
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    if (!values.dataset) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--dataset is required');
    const perCategory = numberFlag('per-category', values['per-category'], true) ?? 8;
    const maxNewTokens = numberFlag('max-new-tokens', values['max-new-tokens'], true) ?? 128;
    if (perCategory < 1) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--per-category must be ≥ 1');
    if (maxNewTokens < 1)
      throw new CanopyError('CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE', '--max-new-tokens must be ≥ 1');
    const budget = numberFlag('budget', values.budget, true);
    const sampling = samplingFromFlags({ seed: '0', ...values });
    const drafters = draftersFromFlag(values.drafters);
    if (drafters === null)
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'bench needs drafters (not none)');
    const extraVariants = (values.variant ?? []).map(variantFromFlag);
    const mainName = drafters.length > 1 ? 'fusion' : drafters[0].name;
    if (extraVariants.some((v) => v.name === mainName))
      throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `--variant name '${mainName}' is taken`);
    const prompts = stratify(loadDataset(values.dataset), perCategory);
    const prime = primeFromFlags(values.prime, values['prime-count']);
    const target = targetFromFlag(values.target, values['triton-model']);
    const logger = pino({ level: process.env.CANOPY_LOG_LEVEL ?? 'warn' }, pino.destination(2));

    // One target, one tokenizer; every variant gets its own engine (own drafter state and policy).
    const host = await openModelHost({ model: values.model ?? DEFAULT_MODEL, target, drafters: [], logger });
    const registry = createDefaultRegistry();
    const configs: { name: string; drafters: readonly DrafterSpec[] }[] = [];
    if (values.compare && drafters.length > 1)
      for (const d of drafters) configs.push({ name: d.name, drafters: [d] });
    for (const list of values.also ?? []) {
      const extra = draftersFromFlag(list);
      if (extra === null || extra.length === 0)
        throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--also needs a list of drafters');
      const name = extra.map((d) => d.name).join('+');
      if (!configs.some((c) => c.name === name)) configs.push({ name, drafters: extra });
    }
    for (const v of extraVariants) {
      if (configs.some((c) => c.name === v.name))
        throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `--variant name '${v.name}' is taken`);
      configs.push(v);
    }
    configs.push({ name: mainName, drafters });
    const variants: BenchVariant[] = [];
    try {
      for (const c of configs) {
        const engine = await createModelEngine({
          name: host.name,
          target: host.engine.target,
          registry,
          drafters: c.drafters,
          maxBudget: budget,
          modelDir: host.dir,
          logger,
          ownsTarget: false,
          fixedBudget: values['fixed-budget'],
          gateDrafters: !values.ungated,
        });
        variants.push({ name: c.name, engine });
      }
      const progress = createProgress('canopy bench: ');
      const runs = await runBench({
        prompts,
        maxNewTokens,
        sampling,
        chat: {
          encodeChat: (m) => host.tokenizer.encodeChat(m),
          decode: (t) => host.tokenizer.decode(t, { skipSpecial: true }),
        },
        baseline: host.engine,
        variants,
        prime,
        onProgress: (done, total) => progress.update({ step: 'generations', done, total, unit: 'steps' }),
      });
      progress.finish();

      const reports = new Map<string, VariantReport>();
      for (const v of variants)
        reports.set(v.name, summarizeVariant(runs.baseline, runs.variants.get(v.name) ?? []));
      for (const [name, report] of reports) console.log(`${formatTable(name, report)}\n`);
      const main = reports.get(mainName) as VariantReport;
      for (const [name, report] of reports) {
        if (report.mismatches.length > 0) {
          console.log(
            `${name}: ${report.mismatches.length} prompt(s) differ from plain decoding: ${JSON.stringify(report.mismatches)}`,
          );
        }
      }
      const mainEngine = variants.find((v) => v.name === mainName)?.engine;
      const report = {
        settings: {
          model: host.name,
          target: target.kind === 'embedded' ? 'embedded' : target.url,
          dataset: values.dataset,
          subset: `${perCategory} per category, spread evenly (${prompts.length} prompts)`,
          maxNewTokens,
          sampling,
          prime: values.prime === undefined ? null : { file: values.prime, prompts: prime.length },
          drafters: drafters.map((d) => d.name),
          maxBudget: mainEngine?.maxBudget,
          policy: values['fixed-budget'] ? 'fixed budget' : 'throughput',
          drafterGate: !values.ungated,
          verifyCostMs: mainEngine?.costSnapshot(),
        },
        machine: machine(),
        overall: main.overall,
        categories: main.categories,
        drafters: main.drafters,
        variants: Object.fromEntries(reports),
      };
      if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
      if (values.chart) {
        writeFileSync(
          values.chart,
          speedupChart(reports, `canopy speedup over plain decoding (${host.name})`),
        );
      }
      return 0;
    } finally {
      await Promise.all(variants.map((v) => v.engine.dispose()));
      await host.dispose();
    }
  },
};
