/**
 * Where the time of one Triton verify step goes, per transport: canopy's wire
 * encode/decode, the HTTP or gRPC round trip (framing, sockets, Triton's
 * front end), and Triton's own time for the request, of which the model's
 * execute (Python backend + onnxruntime) is `compute_infer`.
 *
 *   npm run build && node dist/bench/triton-overhead.js --http URL --grpc URL \
 *     [--nodes 1,8,32] [--steps 40] [--rounds 5] [--prompt-tokens 64] [--sessions 1]
 *
 * Transports run interleaved round by round (A B C A B C ...) so machine drift
 * cancels; figures are medians over rounds of per-step means, in ms.
 */
import { parseArgs } from 'node:util';
import {
  createGrpcClient,
  createHttpClient,
  createTritonTarget,
  type GrpcKServeClient,
  type InferStream,
  type KServeClient,
  type ModelStatistics,
  type TritonTarget,
} from '../adapters/targets/triton/index.js';
import { GREEDY } from '../kernels/sampling-params.js';
import type { TokenTree } from '../kernels/tree.js';

const MODEL = 'canopy_lm';

/** Adds up the time spent inside `infer` (client framing + transport + Triton). */
function timed(inner: KServeClient, clock: { ms: number }): KServeClient {
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t0 = performance.now();
      try {
        return await fn(...args);
      } finally {
        clock.ms += performance.now() - t0;
      }
    };
  const infer = wrap(inner.infer.bind(inner));
  const openStream = (): InferStream => {
    const stream = (inner as GrpcKServeClient).openStream();
    return { infer: wrap(stream.infer.bind(stream)), close: () => stream.close() };
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'infer') return infer;
      if (prop === 'openStream' && target.transport === 'grpc') return openStream;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function randomTree(root: number, n: number, vocab: number, seed: number): TokenTree {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const tokens = Int32Array.from({ length: n }, (_, i) =>
    i === 0 ? root : 3 + Math.floor(next() * (vocab - 3)),
  );
  const parents = Int32Array.from({ length: n }, (_, i) => (i === 0 ? -1 : Math.floor(next() * i)));
  return { tokens, parents };
}

interface Sample {
  step: number;
  infer: number;
  server: number;
  model: number;
}

async function stats(client: KServeClient): Promise<ModelStatistics> {
  const [s] = await client.modelStatistics(MODEL);
  if (!s) throw new Error(`Triton has no statistics for ${MODEL}`);
  return s;
}

async function measure(
  target: TritonTarget,
  clock: { ms: number },
  nodes: number,
  steps: number,
  opts: Options,
) {
  const vocab = target.info.vocabSize;
  const prompts = Array.from({ length: opts.sessions }, (_, i) =>
    randomTree(5, opts.promptTokens, vocab, 17 + i).tokens.map((t, j) => (j === 0 ? 1 : t)),
  );
  const sessions = await Promise.all(prompts.map((p) => target.open(p, { sampling: GREEDY })));
  const roots = prompts.map((p) => p[p.length - 1]!);
  const before = await stats(target.client);
  clock.ms = 0;
  const t0 = performance.now();
  for (let k = 0; k < steps; k++) {
    const trees = roots.map((root, i) => randomTree(root, nodes, vocab, 1000 * k + i));
    const results =
      sessions.length === 1
        ? [await sessions[0]!.step(trees[0]!)]
        : await target.stepMany(sessions.map((session, i) => ({ session, tree: trees[i]! })));
    results.forEach((r, i) => {
      roots[i] = r.chosen[0]!;
      sessions[i]!.accept(Int32Array.of(0), roots[i]!);
    });
  }
  const wall = performance.now() - t0;
  const inferMs = clock.ms;
  const after = await stats(target.client);
  await Promise.all(sessions.map((s) => s.close()));
  const requests = after.success.count - before.success.count;
  return {
    step: wall / steps,
    infer: inferMs / steps,
    server: (after.success.ns - before.success.ns) / 1e6 / requests,
    model: (after.computeInfer.ns - before.computeInfer.ns) / 1e6 / requests,
  } satisfies Sample;
}

interface Options {
  http?: string;
  grpc?: string;
  nodes: number[];
  steps: number;
  rounds: number;
  promptTokens: number;
  sessions: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      http: { type: 'string' },
      grpc: { type: 'string' },
      nodes: { type: 'string', default: '1,8,32' },
      steps: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '5' },
      'prompt-tokens': { type: 'string', default: '64' },
      sessions: { type: 'string', default: '1' },
    },
  });
  const opts: Options = {
    http: values.http,
    grpc: values.grpc,
    nodes: values.nodes.split(',').map(Number),
    steps: Number(values.steps),
    rounds: Number(values.rounds),
    promptTokens: Number(values['prompt-tokens']),
    sessions: Number(values.sessions),
  };
  const variants: { name: string; target: TritonTarget; clock: { ms: number } }[] = [];
  const add = async (name: string, client: KServeClient, stream = false) => {
    const clock = { ms: 0 };
    variants.push({
      name,
      clock,
      target: await createTritonTarget({ url: client.url, client: timed(client, clock), stream }),
    });
  };
  if (opts.http) await add('http', createHttpClient({ url: opts.http }));
  if (opts.grpc) {
    await add('grpc', createGrpcClient({ url: opts.grpc }));
    await add('grpc stream', createGrpcClient({ url: opts.grpc }), true);
  }
  if (variants.length === 0) throw new Error('name a server: --http URL and/or --grpc URL');

  const rows: string[] = [];
  for (const nodes of opts.nodes) {
    const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
    for (const v of variants) await measure(v.target, v.clock, nodes, 3, opts); // warm-up
    for (let r = 0; r < opts.rounds; r++) {
      for (const v of variants)
        samples.get(v.name)!.push(await measure(v.target, v.clock, nodes, opts.steps, opts));
    }
    for (const v of variants) {
      const s = samples.get(v.name)!;
      const m = (f: (x: Sample) => number) => median(s.map(f));
      const step = m((x) => x.step);
      const cells = [
        v.name,
        String(nodes),
        step,
        m((x) => x.step - x.infer),
        m((x) => x.infer - x.server),
        m((x) => x.server - x.model),
        m((x) => x.model),
        m((x) => x.step - x.model),
      ].map((c) => (typeof c === 'number' ? c.toFixed(3) : c));
      rows.push(`| ${cells.join(' | ')} |`);
    }
  }
  const { info } = variants[0]!.target;
  console.log(
    `model ${info.model} (${info.numLayers} layers, hidden ${info.hiddenSize}); ${opts.sessions} session(s) per ` +
      `request; prompt ${opts.promptTokens} tokens; ${opts.steps} steps × ${opts.rounds} rounds; medians, ms per step\n`,
  );
  console.log(
    '| transport | nodes | step | canopy wire enc/dec | transport + framing | Triton outside execute | model execute | outside the model |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  await Promise.all(variants.map((v) => v.target.dispose()));
  await Promise.all(variants.map((v) => v.target.client.close()));
}

await main();
