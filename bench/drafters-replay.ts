/**
 * Greedy acceptance of the drafters, replayed offline in seconds.
 *
 * Under greedy decoding what the target accepts depends only on its greedy
 * output, so τ (tokens per verify pass) needs no target in the loop: record
 * each prompt's greedy continuation once (llama.cpp on the model's source
 * GGUF, with the top-8 next tokens along the way), then replay any drafter or
 * fusion of drafters against it. Recycling learns only from the accepted path
 * here (the target's top-k of off-path nodes is unknown), so its τ is a lower
 * bound. Prompts are the first turn of each, in the model's chat template.
 *
 *   npm run build && node dist/bench/drafters-replay.js --dataset ../shared/data/spec_bench/question.jsonl \
 *     [--per-category 4] [--max-new-tokens 128] [--budgets 8,16,32] [--traces FILE] [--model NAME]
 *     [--gguf FILE] [--threads 1] [--options '{"ngram": {"maxN": 5}}']
 *
 * --traces caches the greedy outputs: read when the file exists, written otherwise.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Draft, DrafterDefinition, DrafterSession } from '../adapters/drafter.js';
import { builtinDrafters } from '../adapters/drafters/index.js';
import { DEFAULT_MODEL, loadManifest } from '../adapters/model-store/index.js';
import type { TargetInfo } from '../adapters/target.js';
import { loadTokenizer } from '../adapters/tokenizer/index.js';
import { isCanopyError } from '../kernels/errors.js';
import { fuseTrees } from '../kernels/fuse.js';
import { MODEL_FILES } from '../models/convert/convert-gguf.js';
import { loadDataset, stratify } from './dataset.js';
import { openLlamaCpp } from './llama-cpp.js';

const TOP_K = 8;

interface Trace {
  readonly category: string;
  readonly prompt: number[];
  /** The greedy continuation. */
  readonly output: number[];
  /** [output.length][TOP_K] the target's top ids before each output token, best first. */
  readonly topKIds: number[][];
  readonly topKLogprobs: number[][];
}

async function recordTraces(
  gguf: string,
  prompts: Int32Array[],
  categories: string[],
  options: { maxNew: number; maxContext: number; threads: number },
): Promise<Trace[]> {
  const handle = await openLlamaCpp(gguf, { threads: options.threads });
  const traces: Trace[] = [];
  try {
    const context = await handle.model.createContext({
      contextSize: options.maxContext,
      sequences: 1,
      threads: options.threads,
    });
    const sequence = context.getSequence();
    for (let p = 0; p < prompts.length; p++) {
      await sequence.clearHistory();
      const trace: Trace = {
        category: categories[p],
        prompt: [...prompts[p]],
        output: [],
        topKIds: [],
        topKLogprobs: [],
      };
      const input = trace.prompt as Parameters<typeof sequence.evaluateWithMetadata>[0];
      for await (const step of sequence.evaluateWithMetadata(
        input,
        { probabilities: true },
        { temperature: 0 },
      )) {
        const top = [...step.probabilities].slice(0, TOP_K);
        trace.output.push(step.token);
        trace.topKIds.push(top.map(([id]) => id));
        trace.topKLogprobs.push(top.map(([, pr]) => Math.log(pr)));
        if (trace.output.length >= options.maxNew || handle.model.isEogToken(step.token)) break;
      }
      traces.push(trace);
      process.stderr.write(`recorded ${p + 1}/${prompts.length}\r`);
    }
    await context.dispose();
  } finally {
    await handle.dispose();
  }
  return traces;
}

interface ReplayResult {
  readonly tau: number;
  readonly byCategory: Map<string, number>;
  /** Score bin (tenths) -> [tested, accepted], for a single drafter. */
  readonly calibration: [number, number][];
}

/** Replays every trace through fresh sessions of `factories` (fused when several), in trace order. */
async function replay(
  defs: DrafterDefinition<unknown>[],
  traces: Trace[],
  budget: number,
  target: TargetInfo,
  options: Record<string, unknown>,
) {
  const factories = await Promise.all(
    defs.map(async (d) => d.create(d.parseOptions(options[d.name]), { target })),
  );
  const calibration: [number, number][] = Array.from({ length: 10 }, () => [0, 0]);
  const totals = new Map<string, [number, number]>();
  for (const trace of traces) {
    const full = Int32Array.from([...trace.prompt, ...trace.output]);
    const promptLength = trace.prompt.length;
    const sessions: DrafterSession[] = factories.map((f) => f.open({ prompt: full.slice(0, promptLength) }));
    let committed = promptLength;
    let steps = 0;
    while (committed < full.length) {
      const context = { tokens: full.subarray(0, committed), promptLength, budget };
      const drafts: Draft[] = [];
      for (const s of sessions) {
        const d = await s.propose(context);
        if (d && d.tokens.length > 1) drafts.push(d);
      }
      const tree = fuseTrees(
        full[committed - 1],
        drafts.map((draft, source) => ({ draft, source })),
        budget,
      );
      // Greedy walk: the target's token at depth d is full[committed + d].
      const path = [0];
      for (let node = 0, depth = 0; committed + depth < full.length; depth++) {
        let child = -1;
        for (let i = node + 1; i < tree.tokens.length && child < 0; i++) {
          if (tree.parents[i] === node && tree.tokens[i] === full[committed + depth]) child = i;
        }
        if (defs.length === 1) {
          for (let i = node + 1; i < tree.tokens.length; i++) {
            if (tree.parents[i] !== node) continue;
            const bin = calibration[Math.min(9, Math.floor(tree.scores[i] * 10))];
            bin[0]++;
            if (i === child) bin[1]++;
          }
        }
        if (child < 0) break;
        path.push(child);
        node = child;
      }
      const emitted = full.subarray(committed, Math.min(full.length, committed + path.length));
      // The target's top-k at depth d of the path came before output token (committed - promptLength + d).
      const at = committed - promptLength;
      const row = (d: number) => trace.topKIds[at + d] ?? [];
      const lp = (d: number) => trace.topKLogprobs[at + d] ?? [];
      committed += emitted.length;
      steps++;
      const feedback = {
        tree: {
          tokens: Int32Array.from(path, (i) => tree.tokens[i]),
          parents: Int32Array.from(path, (_, i) => i - 1),
        },
        result: {
          chosen: Int32Array.from(path, (_, d) => full[promptLength + at + d] ?? -1),
          topKIds: Int32Array.from(path.flatMap((_, d) => padded(row(d), -1))),
          topKLogprobs: Float32Array.from(path.flatMap((_, d) => padded(lp(d), -30))),
        },
        accepted: Int32Array.from(path.keys()),
        emitted,
        tokens: full.subarray(0, committed),
      };
      for (const s of sessions) s.observe(feedback);
    }
    for (const s of sessions) s.close?.();
    const t = totals.get(trace.category) ?? [0, 0];
    totals.set(trace.category, [t[0] + steps, t[1] + trace.output.length]);
  }
  for (const f of factories) f.dispose?.();
  const all = [...totals.values()].reduce((a, b) => [a[0] + b[0], a[1] + b[1]], [0, 0]);
  const byCategory = new Map([...totals].map(([c, [s, n]]) => [c, n / s]));
  return { tau: all[1] / all[0], byCategory, calibration } satisfies ReplayResult;
}

function padded(values: number[], fill: number): number[] {
  return Array.from({ length: TOP_K }, (_, i) => values[i] ?? fill);
}

const { values } = parseArgs({
  options: {
    dataset: { type: 'string' },
    'per-category': { type: 'string', default: '4' },
    'max-new-tokens': { type: 'string', default: '128' },
    budgets: { type: 'string', default: '8,16,32' },
    traces: { type: 'string' },
    model: { type: 'string', default: DEFAULT_MODEL },
    gguf: { type: 'string' },
    // One thread by default: llama.cpp's threads spin, which hurts on a shared machine.
    threads: { type: 'string', default: '1' },
    // Raw options per drafter name, as JSON: '{"ngram": {"maxN": 5}}'.
    options: { type: 'string', default: '{}' },
  },
});
const { dir, manifest } = loadManifest(values.model);
const drafterOptions = JSON.parse(values.options) as Record<string, unknown>;
let traces: Trace[];
if (values.traces && existsSync(values.traces)) {
  traces = JSON.parse(readFileSync(values.traces, 'utf8'));
} else {
  if (!values.dataset) throw new Error('--dataset is required to record traces');
  const tokenizer = await loadTokenizer(dir);
  const prompts = stratify(loadDataset(values.dataset), Number(values['per-category']));
  traces = await recordTraces(
    values.gguf ?? join(dir, MODEL_FILES.gguf),
    prompts.map((p) => tokenizer.encodeChat([{ role: 'user', content: p.turns[0] }])),
    prompts.map((p) => p.category),
    {
      maxNew: Number(values['max-new-tokens']),
      maxContext: manifest.maxContext,
      threads: Number(values.threads),
    },
  );
  if (values.traces) writeFileSync(values.traces, JSON.stringify(traces));
}
// Interleave categories, as a server would see them (retrieval and recycling learn across requests).
const queues = new Map<string, Trace[]>();
for (const t of traces) queues.set(t.category, [...(queues.get(t.category) ?? []), t]);
const order: Trace[] = [];
for (let i = 0; order.length < traces.length; i++) {
  for (const queue of queues.values()) if (i < queue.length) order.push(queue[i]);
}
const target: TargetInfo = {
  model: manifest.name,
  vocabSize: manifest.vocabSize,
  eosTokenIds: manifest.eosTokenIds,
  maxContext: manifest.maxContext,
  numLayers: manifest.numLayers,
  hiddenSize: manifest.hiddenSize,
  capabilities: { maxTopK: TOP_K, hiddenStates: false, skipLayers: false },
};
const categories = [...new Set(order.map((t) => t.category))];
console.log(
  `${order.length} greedy traces of ${manifest.name}; τ per drafter (alone) and for the fusion of all`,
);
console.log(
  ['variant'.padEnd(12), 'budget', '     τ', ...categories.map((c) => c.slice(0, 10).padStart(11))].join(' '),
);
for (const budget of values.budgets.split(',').map(Number)) {
  // Replay has no target session and no hidden states: drafters that run the target itself, or
  // refuse the replay's target at create (eagle reads the target's features), are left out.
  const replayable: DrafterDefinition<unknown>[] = [];
  for (const d of builtinDrafters.filter((d) => !d.capabilities.needsTarget)) {
    const factory = await Promise.resolve(d.create(d.parseOptions(drafterOptions[d.name]), { target })).catch(
      (error: unknown) => {
        if (isCanopyError(error, 'CANOPY_ERR_DRAFTER_INCOMPATIBLE')) return null;
        throw error;
      },
    );
    factory?.dispose?.();
    if (factory) replayable.push(d);
  }
  const variants = [...replayable.map((d) => [d]), [...replayable]];
  for (const defs of variants) {
    const r = await replay(defs, order, budget, target, drafterOptions);
    const name = defs.length === 1 ? defs[0].name : 'fusion';
    const cells = categories.map((c) => (r.byCategory.get(c) ?? 0).toFixed(2).padStart(11));
    console.log(
      [name.padEnd(12), String(budget).padStart(6), r.tau.toFixed(3).padStart(6), ...cells].join(' '),
    );
    if (defs.length === 1) {
      const bins = r.calibration
        .map(([n, a], b) => (n ? `${b / 10}:${(a / n).toFixed(2)}` : ''))
        .filter(Boolean);
      console.log(`${''.padEnd(12)} acceptance by score: ${bins.join(' ')}`);
    }
  }
}
