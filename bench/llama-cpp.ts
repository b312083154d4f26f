/**
 * llama.cpp (through node-llama-cpp, a dev dependency) as the independent
 * reference: plain greedy decoding speed on a GGUF for the benchmarks, and the
 * next-token distribution for the conversion checks. CPU only, prebuilt
 * binaries only (never builds from source).
 *
 * As a script: `npm run build && node dist/bench/llama-cpp.js --gguf FILE
 * [--new-tokens 128] [--threads 2] [--prompt TEXT]` prints the measurement as JSON.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel, type Token } from 'node-llama-cpp';

export interface LlamaCppHandle {
  readonly llama: Llama;
  readonly model: LlamaModel;
  dispose(): Promise<void>;
}

export interface OpenLlamaCppOptions {
  /** Load the vocabulary only (tokenizer checks): fast, no weights. */
  readonly vocabOnly?: boolean;
  /** CPU threads llama.cpp may use (default 2, the machines' core count). */
  readonly threads?: number;
}

/** Loads a GGUF into llama.cpp on the CPU. */
export async function openLlamaCpp(gguf: string, options: OpenLlamaCppOptions = {}): Promise<LlamaCppHandle> {
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
    maxThreads: options.threads ?? 2,
  });
  const model = await llama.loadModel({
    modelPath: gguf,
    gpuLayers: 0,
    vocabOnly: options.vocabOnly ?? false,
  });
  return {
    llama,
    model,
    async dispose() {
      await model.dispose();
      await llama.dispose();
    },
  };
}

export interface NextTokenDistribution {
  /** Token ids, most probable first. */
  readonly ids: number[];
  /** Natural-log probabilities of `ids` (softmax over the raw logits, no sampling transforms). */
  readonly logprobs: number[];
}

/** llama.cpp's top-`topK` next tokens after `prompt` (token ids), in a fresh context. */
export async function llamaCppNextTokens(
  handle: LlamaCppHandle,
  prompt: ArrayLike<number>,
  options: { topK: number; threads?: number },
): Promise<NextTokenDistribution> {
  const context = await handle.model.createContext({
    contextSize: Math.max(256, prompt.length + 16),
    batchSize: Math.max(1, prompt.length),
    threads: options.threads ?? 2,
    sequences: 1,
  });
  try {
    const sequence = context.getSequence();
    const last = prompt.length - 1;
    // temperature 0 = the greedy sampler, which leaves the logits as they are.
    const input = Array.from(prompt, (id, i) =>
      i === last
        ? ([id as Token, { generateNext: { probabilities: true, options: { temperature: 0 } } }] as const)
        : (id as Token),
    );
    const outputs = await sequence.controlledEvaluate(
      input as Parameters<typeof sequence.controlledEvaluate>[0],
    );
    const probabilities = outputs[last]?.next.probabilities;
    if (!probabilities) throw new Error('llama.cpp returned no probabilities for the last prompt token');
    const top = [...probabilities].slice(0, options.topK);
    return { ids: top.map(([id]) => id), logprobs: top.map(([, p]) => Math.log(p)) };
  } finally {
    await context.dispose();
  }
}

export interface LlamaCppDecodeOptions {
  readonly gguf: string;
  /** Text (special tokens parsed) or token ids; default: a fixed English request. */
  readonly prompt?: string | ArrayLike<number>;
  /** Tokens generated after the prompt (default 128); EOS does not stop the run. */
  readonly newTokens?: number;
  readonly threads?: number;
}

export interface LlamaCppDecodeResult {
  readonly engine: 'llama.cpp';
  readonly threads: number;
  readonly promptTokens: number;
  readonly newTokens: number;
  /** Prompt minus its last token, in one batch. */
  readonly prefillMs: number;
  /** One token per step, from the last prompt token on. */
  readonly decodeMs: number;
  readonly tokensPerSecond: number;
  /** The greedy tokens, for comparison with other engines. */
  readonly tokens: number[];
}

export const DEFAULT_BENCH_PROMPT =
  '<|im_start|>user\nWrite a short story about a lighthouse keeper who finds a message in a bottle.<|im_end|>\n<|im_start|>assistant\n';

/**
 * Plain greedy decoding on the CPU, timed the way canopy's targets are: the
 * prompt but its last token is prefilled, then each new token is one
 * one-token step.
 */
export async function measureLlamaCppDecoding(options: LlamaCppDecodeOptions): Promise<LlamaCppDecodeResult> {
  const threads = options.threads ?? 2;
  const newTokens = options.newTokens ?? 128;
  const handle = await openLlamaCpp(options.gguf, { threads });
  try {
    const source = options.prompt ?? DEFAULT_BENCH_PROMPT;
    const prompt =
      typeof source === 'string'
        ? handle.model.tokenize(source, true)
        : Array.from(source, (t) => t as Token);
    if (prompt.length === 0) throw new Error('the prompt is empty');
    const context = await handle.model.createContext({
      contextSize: prompt.length + newTokens + 16,
      batchSize: Math.max(prompt.length, 1),
      threads,
      sequences: 1,
    });
    try {
      const sequence = context.getSequence();
      let start = performance.now();
      if (prompt.length > 1) await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
      const prefillMs = performance.now() - start;
      const tokens: number[] = [];
      start = performance.now();
      for await (const token of sequence.evaluate(prompt.slice(-1), {
        temperature: 0,
        yieldEogToken: true,
      })) {
        tokens.push(token);
        if (tokens.length >= newTokens) break;
      }
      const decodeMs = performance.now() - start;
      return {
        engine: 'llama.cpp',
        threads,
        promptTokens: prompt.length,
        newTokens: tokens.length,
        prefillMs,
        decodeMs,
        tokensPerSecond: (tokens.length / decodeMs) * 1000,
        tokens,
      };
    } finally {
      await context.dispose();
    }
  } finally {
    await handle.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gguf: { type: 'string' },
      'new-tokens': { type: 'string', default: '128' },
      threads: { type: 'string', default: '2' },
      prompt: { type: 'string' },
    },
  });
  if (!values.gguf) {
    console.error(
      'usage: node dist/bench/llama-cpp.js --gguf FILE [--new-tokens N] [--threads N] [--prompt TEXT]',
    );
    process.exitCode = 2;
    return;
  }
  const result = await measureLlamaCppDecoding({
    gguf: values.gguf,
    newTokens: Number(values['new-tokens']),
    threads: Number(values.threads),
    prompt: values.prompt,
  });
  console.log(JSON.stringify({ ...result, tokens: undefined }, null, 2));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
