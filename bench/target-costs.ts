/**
 * What the embedded target costs: plain decoding tokens/s (a one-node tree
 * per step), the cost of one verify pass over trees of 1..64 nodes relative
 * to one node at a realistic cached length, the adapter's own per-step
 * overhead outside onnxruntime, and llama.cpp's plain decoding tokens/s on
 * the very same GGUF in the same run.
 *
 *   npm run build && node dist/bench/target-costs.js [--model NAME|DIR] [--cached 256]
 *     [--new-tokens 64] [--reps 12] [--rounds 2] [--threads 2] [--sizes 1,2,4,8,16,32,64]
 *     [--spinning] [--no-llama-cpp] [--json]
 *
 * Plain decoding alternates embedded and llama.cpp runs (A B A B) so machine
 * drift hits both; tree sizes are interleaved within every repetition.
 * Medians throughout. Only ratios measured in one run mean much.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../adapters/model-store/index.js';
import { createEmbeddedTarget, type EmbeddedTarget } from '../adapters/targets/embedded/index.js';
import { loadTokenizer } from '../adapters/tokenizer/index.js';
import { GREEDY } from '../kernels/sampling-params.js';
import type { TokenTree } from '../kernels/tree.js';
import { DEFAULT_BENCH_PROMPT, measureLlamaCppDecoding } from './llama-cpp.js';

const DEFAULT_SIZES = '1,2,4,8,16,32,64';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A bushy random tree of n nodes (shape only matters for cost, not tokens). */
function costTree(root: number, n: number, vocab: number, seed: number): TokenTree {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const tokens = new Int32Array(n);
  const parents = new Int32Array(n);
  tokens[0] = root;
  parents[0] = -1;
  for (let i = 1; i < n; i++) {
    parents[i] = Math.floor(rand() * i);
    tokens[i] = Math.floor(rand() * vocab);
  }
  return { tokens, parents };
}

interface PlainRun {
  readonly tokensPerSecond: number;
  /** Per step, outside onnxruntime (feeds, choosing, compaction, bookkeeping). */
  readonly overheadUs: number;
  readonly tokens: number[];
}

async function plainDecoding(
  target: EmbeddedTarget,
  prompt: Int32Array,
  newTokens: number,
): Promise<PlainRun> {
  const session = await target.open(prompt, { sampling: GREEDY });
  const tokens: number[] = [];
  let root = prompt[prompt.length - 1];
  const before = target.stats();
  const start = performance.now();
  for (let i = 0; i < newTokens; i++) {
    const { chosen } = await session.step({ tokens: Int32Array.of(root), parents: Int32Array.of(-1) });
    root = chosen[0];
    tokens.push(root);
    session.accept(Int32Array.of(0), root);
  }
  const ms = performance.now() - start;
  const after = target.stats();
  await session.close();
  return {
    tokensPerSecond: (newTokens / ms) * 1000,
    overheadUs: ((ms - (after.ortMs - before.ortMs)) / newTokens) * 1000,
    tokens,
  };
}

/** Median ms of one verify pass per tree size at `cached` committed tokens. */
async function verifyCosts(
  target: EmbeddedTarget,
  prompt: Int32Array,
  reps: number,
  sizes: readonly number[],
): Promise<Map<number, number>> {
  const session = await target.open(prompt, { sampling: GREEDY });
  const root = prompt[prompt.length - 1];
  const trees = sizes.map((n) => costTree(root, n, target.info.vocabSize, n));
  const times = new Map<number, number[]>(sizes.map((n) => [n, []]));
  for (const tree of trees) await session.step(tree); // warm-up
  for (let r = 0; r < reps; r++) {
    for (const tree of trees) {
      const start = performance.now();
      await session.step(tree); // no accept: the cached length stays put
      times.get(tree.tokens.length)!.push(performance.now() - start);
    }
  }
  await session.close();
  return new Map([...times].map(([n, t]) => [n, median(t)]));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: DEFAULT_MODEL },
      cached: { type: 'string', default: '256' },
      'new-tokens': { type: 'string', default: '64' },
      reps: { type: 'string', default: '12' },
      rounds: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      sizes: { type: 'string', default: DEFAULT_SIZES },
      spinning: { type: 'boolean', default: false },
      'no-llama-cpp': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const threads = Number(values.threads);
  const newTokens = Number(values['new-tokens']);
  const cached = Number(values.cached);
  const spinning = values.spinning;
  const sizes = [...new Set([1, ...values.sizes.split(',').map(Number)])].sort((a, b) => a - b);
  if (!sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= 256)) {
    console.error(`--sizes takes tree sizes 1..256 separated by commas, got ${values.sizes}`);
    process.exit(2);
  }
  const target = await createEmbeddedTarget({ model: values.model, threads, spinning });
  const tokenizer = await loadTokenizer(target.dir);
  const prompt = tokenizer.encode(DEFAULT_BENCH_PROMPT, { parseSpecial: true });
  // A realistic cached length: the bench prompt's text repeated up to `cached` tokens, plus the root.
  const long = new Int32Array(cached + 1).map((_, i) => prompt[i % prompt.length]);

  const embedded: PlainRun[] = [];
  const llama: number[] = [];
  let agree = -1;
  const gguf = target.manifest.files.gguf;
  for (let round = 0; round < Number(values.rounds); round++) {
    embedded.push(await plainDecoding(target, prompt, newTokens));
    if (!values['no-llama-cpp'] && gguf) {
      const ref = await measureLlamaCppDecoding({ gguf: join(target.dir, gguf), prompt, newTokens, threads });
      llama.push(ref.tokensPerSecond);
      const mine = embedded[embedded.length - 1].tokens;
      agree = mine.findIndex((t, i) => t !== ref.tokens[i]);
      if (agree < 0) agree = mine.length;
    }
  }
  const costs = await verifyCosts(target, long, Number(values.reps), sizes);
  await target.dispose();

  const base = costs.get(1)!;
  const result = {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      threads,
      spinning,
      load: loadavg()[0],
    },
    model: target.info.model,
    promptTokens: prompt.length,
    newTokens,
    embeddedTokensPerSecond: median(embedded.map((r) => r.tokensPerSecond)),
    embeddedOverheadUsPerStep: median(embedded.map((r) => r.overheadUs)),
    llamaCppTokensPerSecond: llama.length ? median(llama) : null,
    greedyTokensEqualToLlamaCpp: agree >= 0 ? agree : null,
    cachedTokens: cached,
    verifyMs: Object.fromEntries(costs),
    verifyRelative: Object.fromEntries([...costs].map(([n, ms]) => [n, ms / base])),
  };
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  const m = result.machine;
  console.log(
    `${m.cpu} (${m.cores} cores, load ${m.load.toFixed(1)}), ${threads} threads, spinning ${spinning ? 'on' : 'off'}, ${result.model}`,
  );
  console.log(
    `plain decoding, ${newTokens} tokens after a ${prompt.length}-token prompt (median of ${values.rounds}):`,
  );
  console.log(
    `  embedded   ${result.embeddedTokensPerSecond.toFixed(1)} tokens/s, ${result.embeddedOverheadUsPerStep.toFixed(0)} µs/step outside onnxruntime`,
  );
  if (result.llamaCppTokensPerSecond !== null) {
    console.log(
      `  llama.cpp  ${result.llamaCppTokensPerSecond.toFixed(1)} tokens/s (same GGUF; first ${agree} greedy tokens identical)`,
    );
  }
  console.log(`verify pass at ${cached} cached tokens (median of ${values.reps}):`);
  console.log('  nodes      ms   × 1 node');
  for (const [n, ms] of costs)
    console.log(
      `  ${String(n).padStart(5)} ${ms.toFixed(2).padStart(7)} ${(ms / base).toFixed(2).padStart(9)}`,
    );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
