/**
 * Runs the head graph (models/train/export.py): one pass over N new rows
 * against the rows already in a session's head KV cache, with an additive
 * attention bias, so a whole draft-tree level is one call. One runner serves
 * every drafting session of a model; each drafting session owns a cache.
 *
 * `LocalHeadRunner` runs the graph in process under onnxruntime-node and
 * keeps the caches here; `TritonHeadRunner` (triton-head.ts) runs it on the
 * canopy_eagle Triton model, which keeps them on the server.
 */
import * as ort from 'onnxruntime-node';

export interface HeadGeometry {
  readonly hidden: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly draftVocab: number;
}

export interface HeadPass {
  /** [N * H] the feature each row extends. */
  readonly features: Float32Array;
  /** [N * H] the target's embedding of each row's token. */
  readonly embeds: Float32Array;
  /** [N] absolute positions. */
  readonly positions: readonly number[];
  /** [N * (T + N)] 0 = may attend, -Infinity = may not. */
  readonly bias: Float32Array;
  /** Rows of the cache the pass reads (the first T rows of `kv`); rows after them are dropped. */
  readonly past: number;
  /** The session's cache, from the runner's `newCache`; the pass appends its rows (length becomes T + N). */
  readonly kv: HeadCache;
  /** Children per row to return. */
  readonly topK: number;
}

export interface HeadOutputs {
  /** [N * H] predicted next features. */
  readonly features: Float32Array;
  /** [N * K] draft-vocabulary indices, best first. */
  readonly ids: Int32Array;
  /** [N * K] their log-probabilities. */
  readonly logprobs: Float32Array;
  /** Milliseconds the pass waited behind other requests' passes, when the runner knows (the head on Triton). */
  readonly queuedMs?: number;
}

/** A session's head KV cache as the session sees it: the rows it holds, [0, length). */
export interface HeadCache {
  length: number;
}

export interface HeadRunner {
  /** A cache for one drafting session. */
  newCache(): HeadCache;
  run(pass: HeadPass): Promise<HeadOutputs>;
  /** The session is done with its cache (a Triton runner tells the server; errors are not thrown). */
  release(kv: HeadCache): void;
  dispose(): Promise<void>;
}

/**
 * The head's own KV cache: rows [0, length) in position order of appending,
 * keys and values [capacity, kvHeads, headDim], grown geometrically.
 */
export class HeadKv implements HeadCache {
  readonly #row: number;
  keys: Float32Array;
  values: Float32Array;
  length = 0;

  constructor(kvHeads: number, headDim: number, capacity = 64) {
    this.#row = kvHeads * headDim;
    this.keys = new Float32Array(capacity * this.#row);
    this.values = new Float32Array(capacity * this.#row);
  }

  get rowSize(): number {
    return this.#row;
  }

  /** Writes `n` rows at row index `at` (growing as needed); length becomes at + n. */
  put(at: number, keys: Float32Array, values: Float32Array, n: number): void {
    const need = (at + n) * this.#row;
    if (need > this.keys.length) {
      let size = this.keys.length * 2;
      while (size < need) size *= 2;
      const k = new Float32Array(size);
      const v = new Float32Array(size);
      k.set(this.keys.subarray(0, this.length * this.#row));
      v.set(this.values.subarray(0, this.length * this.#row));
      this.keys = k;
      this.values = v;
    }
    this.keys.set(keys.subarray(0, n * this.#row), at * this.#row);
    this.values.set(values.subarray(0, n * this.#row), at * this.#row);
    this.length = at + n;
  }
}

export class LocalHeadRunner implements HeadRunner {
  readonly #session: ort.InferenceSession;
  readonly #geometry: HeadGeometry;
  readonly #lmHead: ort.Tensor;

  private constructor(session: ort.InferenceSession, geometry: HeadGeometry, lmHead: Float32Array) {
    this.#session = session;
    this.#geometry = geometry;
    this.#lmHead = new ort.Tensor('float32', lmHead, [geometry.draftVocab, geometry.hidden]);
  }

  /** `lmHead` [draftVocab * hidden]: the target's LM-head rows of the draft vocabulary. */
  static async load(
    graph: string,
    geometry: HeadGeometry,
    lmHead: Float32Array,
    threads: number,
  ): Promise<LocalHeadRunner> {
    const session = await ort.InferenceSession.create(graph, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new LocalHeadRunner(session, geometry, lmHead);
  }

  newCache(): HeadKv {
    return new HeadKv(this.#geometry.kvHeads, this.#geometry.headDim);
  }

  release(kv: HeadCache): void {
    if (kv instanceof HeadKv) kv.length = 0;
  }

  async run(pass: HeadPass): Promise<HeadOutputs> {
    if (!(pass.kv instanceof HeadKv)) throw new TypeError('LocalHeadRunner.run: a cache from another runner');
    const kv = pass.kv;
    const { hidden: h, kvHeads, headDim } = this.#geometry;
    const n = pass.positions.length;
    const t = pass.past;
    const row = kvHeads * headDim;
    const positions = new BigInt64Array(n);
    for (let i = 0; i < n; i++) positions[i] = BigInt(pass.positions[i]);
    const out = await this.#session.run({
      features: new ort.Tensor('float32', pass.features.subarray(0, n * h), [n, h]),
      token_embeds: new ort.Tensor('float32', pass.embeds.subarray(0, n * h), [n, h]),
      positions: new ort.Tensor('int64', positions, [n]),
      attn_bias: new ort.Tensor('float32', pass.bias.subarray(0, n * (t + n)), [n, t + n]),
      past_key: new ort.Tensor('float32', kv.keys.subarray(0, t * row), [t, kvHeads, headDim]),
      past_value: new ort.Tensor('float32', kv.values.subarray(0, t * row), [t, kvHeads, headDim]),
      lm_head: this.#lmHead,
      top_k: new ort.Tensor('int64', BigInt64Array.of(BigInt(pass.topK)), [1]),
    });
    kv.put(t, out.present_key.data as Float32Array, out.present_value.data as Float32Array, n);
    const rawIds = out.topk_ids.data as BigInt64Array;
    const ids = new Int32Array(rawIds.length);
    for (let i = 0; i < ids.length; i++) ids[i] = Number(rawIds[i]);
    return {
      features: out.feature_out.data as Float32Array,
      ids,
      logprobs: out.topk_logprobs.data as Float32Array,
    };
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}
