/**
 * Runs one forward pass of a converted model (docs/model-format.md) under
 * onnxruntime-node: builds the feeds over the session's KV cache without
 * copying it, lets the graph write new KV straight into the cache's pending
 * rows, and fetches only the outputs the caller wants.
 *
 * Two graphs share one weights file: `model.onnx` (every pass) and, loaded
 * on first use, `model-skip.onnx` whose blocks sit behind `layer_mask`
 * (layer-skip drafting). Each holds its own copy of the weights in memory.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../../model-store/index.js';
import type { KvCache } from './kv-cache.js';

export interface RunnerOptions {
  /** Intra-op threads (default 2). */
  readonly threads: number;
  /** Let onnxruntime's worker threads busy-wait between ops (off is kinder to a shared CPU). */
  readonly spinning: boolean;
}

export interface PassRequest {
  /** [N] tokens of the pass. */
  readonly tokens: Int32Array;
  /** [N] positions (cached length + depth). */
  readonly positions: Int32Array;
  /** [N, T + N] additive attention bias, T = cache.length. */
  readonly bias: Float32Array;
  readonly cache: KvCache;
  /** Write the pass's KV into the cache's pending rows (false: discard it). */
  readonly keepKv: boolean;
  /** Rows that need logits or choices: every row, or only the last (prefill). */
  readonly rows: 'all' | 'last';
  readonly argmax: boolean;
  /** [M * V] buffer to receive raw logits, when wanted. */
  readonly logitsInto?: Float32Array;
  /** Top-k per row (0 = none). */
  readonly topK: number;
  /** Hidden layers to return; numLayers = after the final norm. */
  readonly hiddenLayers: readonly number[];
  /** Blocks to skip (uses the layer-skip graph). */
  readonly skipLayers?: readonly number[];
}

export interface PassOutputs {
  /** Milliseconds the pass waited for other passes of the model before it ran. */
  readonly queuedMs: number;
  /** [M] */
  readonly argmax?: Int32Array;
  readonly topKIds?: Int32Array;
  readonly topKLogprobs?: Float32Array;
  readonly hidden?: Map<number, Float32Array>;
}

function int64(values: Int32Array | readonly number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor('int64', data, [values.length]);
}

function toInt32(data: ort.Tensor['data']): Int32Array {
  const src = data as BigInt64Array;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}

export class ModelRunner {
  readonly #dir: string;
  readonly #manifest: ModelManifest;
  readonly #options: ort.InferenceSession.SessionOptions;
  readonly #plain: ort.InferenceSession;
  #skip: Promise<ort.InferenceSession> | undefined;
  readonly #shape: readonly number[];
  /** Time spent inside onnxruntime, for measuring the adapter's own overhead. */
  ortMs = 0;
  passes = 0;
  /**
   * Passes run one at a time, first come first served: one pass already keeps
   * every intra-op thread busy, and overlapping passes of concurrent requests
   * only oversubscribe the cores (bench/load.ts). This is the tail of that queue.
   */
  #tail: Promise<void> = Promise.resolve();

  private constructor(
    dir: string,
    manifest: ModelManifest,
    options: ort.InferenceSession.SessionOptions,
    plain: ort.InferenceSession,
  ) {
    this.#dir = dir;
    this.#manifest = manifest;
    this.#options = options;
    this.#plain = plain;
    this.#shape = [manifest.numKvHeads, manifest.headDim];
  }

  static async load(dir: string, manifest: ModelManifest, options: RunnerOptions): Promise<ModelRunner> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
    };
    const plain = await ort.InferenceSession.create(join(dir, manifest.files.graph), sessionOptions);
    return new ModelRunner(dir, manifest, sessionOptions, plain);
  }

  get canSkipLayers(): boolean {
    return this.#manifest.files.layerSkipGraph !== undefined;
  }

  #skipSession(): Promise<ort.InferenceSession> {
    const file = this.#manifest.files.layerSkipGraph;
    if (file === undefined) throw new Error('no layer-skip graph'); // guarded by canSkipLayers
    this.#skip ??= ort.InferenceSession.create(join(this.#dir, file), this.#options);
    return this.#skip;
  }

  async run(req: PassRequest): Promise<PassOutputs> {
    const m = this.#manifest;
    const n = req.tokens.length;
    const t = req.cache.length;
    const skipping = req.skipLayers !== undefined && req.skipLayers.length > 0;
    const session = skipping ? await this.#skipSession() : this.#plain;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(req.tokens),
      positions: int64(req.positions),
      attn_bias: new ort.Tensor('float32', req.bias, [n, t + n]),
      logit_rows: req.rows === 'all' ? int64(Array.from({ length: n }, (_, i) => i)) : int64([n - 1]),
      top_k: int64([Math.max(1, req.topK)]),
    };
    const fetches: Record<string, ort.Tensor | null> = {};
    for (let l = 0; l < m.numLayers; l++) {
      feeds[`past_key_${l}`] = new ort.Tensor('float32', req.cache.pastKeys(l), [t, ...this.#shape]);
      feeds[`past_value_${l}`] = new ort.Tensor('float32', req.cache.pastValues(l), [t, ...this.#shape]);
      if (req.keepKv) {
        fetches[`present_key_${l}`] = new ort.Tensor('float32', req.cache.pendingKeys(l, n), [
          n,
          ...this.#shape,
        ]);
        fetches[`present_value_${l}`] = new ort.Tensor('float32', req.cache.pendingValues(l, n), [
          n,
          ...this.#shape,
        ]);
      }
    }
    if (skipping) {
      const mask = new Uint8Array(m.numLayers).fill(1);
      for (const l of req.skipLayers ?? []) mask[l] = 0;
      feeds.layer_mask = new ort.Tensor('bool', mask, [m.numLayers]);
    }
    const logitRows = req.rows === 'all' ? n : 1;
    if (req.argmax) fetches.argmax = null;
    if (req.logitsInto) {
      const into = req.logitsInto.subarray(0, logitRows * m.vocabSize);
      fetches.logits = new ort.Tensor('float32', into, [logitRows, m.vocabSize]);
    }
    if (req.topK > 0) {
      fetches.topk_ids = null;
      fetches.topk_logprobs = null;
    }
    const hiddenName = (l: number) => (l === m.numLayers ? 'hidden_final' : `hidden_${l}`);
    for (const l of req.hiddenLayers) fetches[hiddenName(l)] = null;
    if (Object.keys(fetches).length === 0) fetches.argmax = null; // onnxruntime needs at least one output

    const queued = performance.now();
    const before = this.#tail;
    let release = (): void => undefined;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await before;
    const start = performance.now();
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await session.run(feeds, fetches);
    } finally {
      release();
    }
    this.ortMs += performance.now() - start;
    this.passes++;

    let hidden: Map<number, Float32Array> | undefined;
    if (req.hiddenLayers.length > 0) {
      hidden = new Map(req.hiddenLayers.map((l) => [l, out[hiddenName(l)].data as Float32Array]));
    }
    return {
      queuedMs: start - queued,
      argmax: req.argmax ? toInt32(out.argmax.data) : undefined,
      topKIds: req.topK > 0 ? toInt32(out.topk_ids.data) : undefined,
      topKLogprobs: req.topK > 0 ? (out.topk_logprobs.data as Float32Array) : undefined,
      hidden,
    };
  }

  async release(): Promise<void> {
    await this.#plain.release();
    if (this.#skip) await (await this.#skip).release();
  }
}
