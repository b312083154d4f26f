/**
 * Plain versus speculative decoding on the same prompts, same target, same
 * run, interleaved (A B A B, with the order alternating per prompt) so that
 * machine drift cancels. Every variant is compared token for token with the
 * plain run of the same prompt (exact match must be 1.0).
 */
import type { ModelEngine } from '../engine/index.js';
import type { RequestStats } from '../engine/stats.js';
import type { SamplingParams } from '../kernels/sampling-params.js';
import type { BenchPrompt } from './dataset.js';

export interface BenchVariant {
  readonly name: string;
  readonly engine: ModelEngine;
}

export interface ChatFormatter {
  /** Token ids of a chat (user/assistant turns), with the generation prompt appended. */
  encodeChat(messages: readonly { role: 'user' | 'assistant'; content: string }[]): Int32Array;
  decode(tokens: Int32Array): string;
}

export interface BenchRunOptions {
  readonly prompts: readonly BenchPrompt[];
  readonly maxNewTokens: number;
  /** Sampling for every request; per-prompt seeds derive from `seed`. */
  readonly sampling: SamplingParams;
  readonly chat: ChatFormatter;
  /** Plain decoding (speculation off) on the same target. */
  readonly baseline: ModelEngine;
  readonly variants: readonly BenchVariant[];
  /** Runs one untimed generation first so that lazy initialisation is not measured. */
  readonly warmup?: boolean;
  /**
   * Earlier traffic: every speculative variant serves these prompts (first turns,
   * unmeasured) before the measured ones, so that what its drafters learn across
   * requests (recycling's matrix, retrieval's past outputs, calibration) starts
   * where a server that has been running would have it.
   */
  readonly prime?: readonly BenchPrompt[];
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

/** One generation of one prompt (all its turns) by one variant. */
export interface PromptRun {
  readonly prompt: BenchPrompt;
  readonly variant: string;
  readonly tokens: number[][];
  readonly stats: RequestStats[];
}

export interface BenchRuns {
  readonly baseline: PromptRun[];
  readonly variants: Map<string, PromptRun[]>;
}

/** FNV-1a of the prompt id: a per-prompt seed independent of the order prompts run in. */
function promptSeed(base: number, id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return (base * 0x10000 + h) % Number.MAX_SAFE_INTEGER;
}

async function runPrompt(
  engine: ModelEngine,
  name: string,
  speculate: boolean,
  prompt: BenchPrompt,
  opts: BenchRunOptions,
): Promise<PromptRun> {
  const messages: { role: 'user' | 'assistant'; content: string }[] = [];
  const tokens: number[][] = [];
  const stats: RequestStats[] = [];
  for (const [turn, text] of prompt.turns.entries()) {
    messages.push({ role: 'user', content: text });
    const result = await engine.generate({
      prompt: opts.chat.encodeChat(messages),
      maxNewTokens: opts.maxNewTokens,
      sampling: { ...opts.sampling, seed: promptSeed(opts.sampling.seed, `${prompt.id}/${turn}`) },
      speculate,
    });
    tokens.push([...result.tokens]);
    stats.push(result.stats);
    messages.push({ role: 'assistant', content: opts.chat.decode(result.tokens) });
  }
  return { prompt, variant: name, tokens, stats };
}

export async function runBench(opts: BenchRunOptions): Promise<BenchRuns> {
  const baseline: PromptRun[] = [];
  const variants = new Map<string, PromptRun[]>(opts.variants.map((v) => [v.name, []]));
  const lanes = [
    { name: 'baseline', engine: opts.baseline, speculate: false, out: baseline },
    ...opts.variants.map((v) => ({
      name: v.name,
      engine: v.engine,
      speculate: true,
      out: variants.get(v.name) as PromptRun[],
    })),
  ];
  if (opts.warmup !== false && opts.prompts.length > 0) {
    const warm = { ...opts, maxNewTokens: Math.min(8, opts.maxNewTokens) };
    for (const lane of lanes) await runPrompt(lane.engine, lane.name, lane.speculate, opts.prompts[0], warm);
  }
  const primed = lanes.filter((lane) => lane.speculate);
  const total = opts.prompts.length * lanes.length + (opts.prime?.length ?? 0) * primed.length;
  let done = 0;
  for (const prompt of opts.prime ?? []) {
    const first = { ...prompt, turns: prompt.turns.slice(0, 1) };
    for (const lane of primed) {
      await runPrompt(lane.engine, lane.name, true, first, opts);
      opts.onProgress?.(++done, total, `prime #${prompt.id} ${lane.name}`);
    }
  }
  for (const [i, prompt] of opts.prompts.entries()) {
    // Rotate the order per prompt so no lane always runs first (drift, caches).
    for (let k = 0; k < lanes.length; k++) {
      const lane = lanes[(i + k) % lanes.length];
      lane.out.push(await runPrompt(lane.engine, lane.name, lane.speculate, prompt, opts));
      opts.onProgress?.(++done, total, `${prompt.category} #${prompt.id} ${lane.name}`);
    }
  }
  return { baseline, variants };
}
