/**
 * One request's state in the embedded target: committed tokens, the KV cache
 * of every committed token but the root, and the KV of the last verified tree
 * (pending until `accept` says which nodes to keep).
 */
import { CanopyError } from '../../../kernels/errors.js';
import type { SamplingParams } from '../../../kernels/sampling-params.js';
import { attentionBias, type TokenTree } from '../../../kernels/tree.js';
import type { DraftPassOptions, PassOptions, PassResult, PromptTopK, TargetSession } from '../../target.js';
import {
  checkAccept,
  checkHiddenLayers,
  checkPass,
  checkPrompt,
  checkSignal,
  MAX_TREE_NODES,
  type SessionShape,
} from './checks.js';
import { KvCache } from './kv-cache.js';
import type { ModelRunner, PassOutputs } from './model-runner.js';
import { NodeChooser, needsLogits } from './node-chooser.js';

/** Prompt tokens per prefill pass: bounds the [chunk, T + chunk] bias and activations. */
const PREFILL_CHUNK = 256;

export class EmbeddedSession implements TargetSession {
  readonly #runner: ModelRunner;
  readonly #shape: SessionShape;
  readonly #cache: KvCache;
  readonly #chooser: NodeChooser | undefined;
  readonly #onClose: (s: EmbeddedSession) => void;
  /** Committed tokens, root last; `#length` of them are valid. */
  #tokens: Int32Array;
  #length: number;
  /** The last step's tree, whose KV sits in the cache's pending rows. */
  #pending: TokenTree | undefined;
  #closed = false;
  #promptTopK: PromptTopK | undefined;
  #promptHidden: Map<number, Float32Array> | undefined;
  #bias = new Float32Array(0);
  #logits = new Float32Array(0);

  private constructor(
    runner: ModelRunner,
    shape: SessionShape,
    prompt: Int32Array,
    sampling: SamplingParams,
    onClose: (s: EmbeddedSession) => void,
  ) {
    this.#runner = runner;
    this.#shape = shape;
    this.#onClose = onClose;
    this.#cache = new KvCache(
      shape.numLayers,
      shape.numKvHeads,
      shape.headDim,
      shape.maxContext + MAX_TREE_NODES,
    );
    this.#tokens = new Int32Array(Math.max(64, prompt.length * 2));
    this.#tokens.set(prompt);
    this.#length = prompt.length;
    this.#chooser = needsLogits(sampling) ? new NodeChooser(shape.vocabSize, sampling, prompt) : undefined;
  }

  /** Validates the prompt, prefills all of it but the root, and returns the session. */
  static async open(
    runner: ModelRunner,
    shape: SessionShape,
    prompt: Int32Array,
    sampling: SamplingParams,
    signal: AbortSignal | undefined,
    onClose: (s: EmbeddedSession) => void,
    extras: { promptTopK?: number; promptHiddenLayers?: readonly number[] } = {},
  ): Promise<EmbeddedSession> {
    checkPrompt(prompt, shape);
    const layers = [...new Set(extras.promptHiddenLayers ?? [])];
    checkHiddenLayers(layers, shape);
    const session = new EmbeddedSession(runner, shape, prompt, sampling, onClose);
    const k = Math.min(Math.max(0, Math.floor(extras.promptTopK ?? 0)), shape.maxTopK);
    await session.#prefill(prompt.subarray(0, prompt.length - 1), signal, k, layers);
    return session;
  }

  get length(): number {
    return this.#length;
  }

  get promptTopK(): PromptTopK | undefined {
    return this.#promptTopK;
  }

  get promptHidden(): ReadonlyMap<number, Float32Array> | undefined {
    return this.#promptHidden;
  }

  async #prefill(
    tokens: Int32Array,
    signal: AbortSignal | undefined,
    k: number,
    layers: readonly number[],
  ): Promise<void> {
    this.#cache.reserve(tokens.length + 1);
    const ids = k > 0 ? new Int32Array(tokens.length * k) : undefined;
    const logprobs = k > 0 ? new Float32Array(tokens.length * k) : undefined;
    const hidden = new Map<number, Float32Array>();
    for (let start = 0; start < tokens.length; start += PREFILL_CHUNK) {
      checkSignal(signal);
      const chunk = tokens.subarray(start, start + PREFILL_CHUNK);
      const n = chunk.length;
      const t = this.#cache.length;
      const parents = Int32Array.from({ length: n }, (_, i) => i - 1);
      const positions = Int32Array.from({ length: n }, (_, i) => t + i);
      const out = await this.#runner.run({
        tokens: chunk,
        positions,
        bias: this.#biasFor(parents, t),
        cache: this.#cache,
        keepKv: true,
        rows: ids ? 'all' : 'last',
        argmax: false,
        topK: k,
        hiddenLayers: layers,
      });
      if (ids && logprobs && out.topKIds && out.topKLogprobs) {
        ids.set(out.topKIds, start * k);
        logprobs.set(out.topKLogprobs, start * k);
      }
      for (const [layer, rows] of out.hidden ?? []) {
        const width = rows.length / n;
        const all = hidden.get(layer) ?? new Float32Array(tokens.length * width);
        hidden.set(layer, all);
        all.set(rows, start * width);
      }
      this.#cache.commitAll(n);
    }
    if (ids && logprobs) this.#promptTopK = { k, ids, logprobs };
    if (hidden.size > 0) this.#promptHidden = hidden;
  }

  #biasFor(parents: Int32Array, cached: number): Float32Array {
    const n = parents.length;
    const size = n * (cached + n);
    if (this.#bias.length < size) this.#bias = new Float32Array(Math.max(size, this.#bias.length * 2));
    return attentionBias(parents, cached, this.#bias.subarray(0, size));
  }

  #check(tree: TokenTree, options: DraftPassOptions | undefined): Int32Array {
    if (this.#closed) throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session is closed');
    return checkPass(tree, options, this.#length, this.#tokens[this.#length - 1], this.#shape);
  }

  #result(
    tree: TokenTree,
    depths: Int32Array,
    out: PassOutputs,
    logits: Float32Array | undefined,
    options: PassOptions | undefined,
  ): PassResult {
    let chosen = out.argmax;
    if (!chosen) {
      chosen = new Int32Array(tree.tokens.length);
      this.#chooser?.choose(tree.tokens, tree.parents, depths, logits!, this.#length, chosen);
    }
    const k = options?.topK ?? 0;
    return {
      chosen,
      topKIds: k > 0 ? out.topKIds : undefined,
      topKLogprobs: k > 0 ? out.topKLogprobs : undefined,
      chosenLogprobs: options?.logprobs ? this.#chosenLogprobs(chosen, out, logits) : undefined,
      hidden: out.hidden,
      queuedMs: out.queuedMs,
    };
  }

  /**
   * The raw log-probability of each chosen token. Greedy choices are the
   * argmax, whose log-probability is the top-1 entry the graph computed (an
   * argmax that differs from top-1 is tied with it, so the value is the same);
   * sampled or penalised choices read the raw logits.
   */
  #chosenLogprobs(chosen: Int32Array, out: PassOutputs, logits: Float32Array | undefined): Float32Array {
    const n = chosen.length;
    const result = new Float32Array(n).fill(Number.NaN);
    if (logits) {
      const v = this.#shape.vocabSize;
      for (let i = 0; i < n; i++) {
        if (chosen[i] >= 0) result[i] = logSoftmaxAt(logits.subarray(i * v, (i + 1) * v), chosen[i]);
      }
    } else if (out.topKLogprobs) {
      const width = out.topKLogprobs.length / n;
      for (let i = 0; i < n; i++) result[i] = out.topKLogprobs[i * width];
    }
    return result;
  }

  #logitsBuffer(n: number): Float32Array {
    const size = n * this.#shape.vocabSize;
    if (this.#logits.length < size) this.#logits = new Float32Array(Math.max(size, this.#logits.length * 2));
    return this.#logits;
  }

  async step(tree: TokenTree, options?: PassOptions): Promise<PassResult> {
    const depths = this.#check(tree, options);
    const n = tree.tokens.length;
    this.#pending = undefined; // a step without accept discards the previous tree
    const t = this.#cache.length;
    this.#cache.reserve(t + n);
    const positions = depths.map((d) => t + d);
    const logits = this.#chooser ? this.#logitsBuffer(n) : undefined;
    const out = await this.#runner.run({
      tokens: tree.tokens,
      positions,
      bias: this.#biasFor(tree.parents, t),
      cache: this.#cache,
      keepKv: true,
      rows: 'all',
      argmax: !this.#chooser,
      logitsInto: logits,
      // A greedy choice's log-probability is the graph's top-1 entry.
      topK: Math.max(options?.topK ?? 0, options?.logprobs && !logits ? 1 : 0),
      hiddenLayers: options?.hiddenLayers ?? [],
    });
    if (this.#closed)
      throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session was closed during the pass');
    this.#pending = { tokens: tree.tokens.slice(), parents: tree.parents.slice() };
    return this.#result(tree, depths, out, logits, options);
  }

  accept(path: Int32Array, nextRoot: number): void {
    if (this.#closed) throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session is closed');
    const tree = this.#pending;
    if (!tree) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'accept without a preceding step');
    checkAccept(tree, path, nextRoot, this.#shape.vocabSize);
    this.#cache.commitPath(path);
    const added = new Int32Array(path.length);
    for (let i = 1; i < path.length; i++) added[i - 1] = tree.tokens[path[i]];
    added[path.length - 1] = nextRoot;
    if (this.#length + added.length > this.#tokens.length) {
      const grown = new Int32Array(Math.max(this.#tokens.length * 2, this.#length + added.length));
      grown.set(this.#tokens.subarray(0, this.#length));
      this.#tokens = grown;
    }
    this.#tokens.set(added, this.#length);
    this.#length += added.length;
    this.#chooser?.commit(added);
    this.#pending = undefined;
  }

  async draft(tree: TokenTree, options?: DraftPassOptions): Promise<PassResult> {
    const depths = this.#check(tree, options);
    const skip = options?.skipLayers ?? [];
    if (skip.length > 0 && !this.#runner.canSkipLayers) {
      throw new CanopyError('CANOPY_ERR_TARGET_UNSUPPORTED', 'this model directory has no layer-skip graph');
    }
    const t = this.#cache.length;
    const out = await this.#runner.run({
      tokens: tree.tokens,
      positions: depths.map((d) => t + d),
      bias: this.#biasFor(tree.parents, t),
      cache: this.#cache,
      keepKv: false,
      rows: 'all',
      argmax: true,
      topK: options?.topK ?? 0,
      hiddenLayers: options?.hiddenLayers ?? [],
      skipLayers: skip,
    });
    if (this.#closed)
      throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session was closed during the pass');
    return { chosen: out.argmax!, topKIds: out.topKIds, topKLogprobs: out.topKLogprobs, hidden: out.hidden };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = undefined;
    this.#cache.release();
    this.#onClose(this);
  }
}

/** log softmax(row)[id], in float64. */
function logSoftmaxAt(row: Float32Array, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < row.length; j++) if (row[j] > max) max = row[j];
  let sum = 0;
  for (let j = 0; j < row.length; j++) sum += Math.exp(row[j] - max);
  return row[id] - max - Math.log(sum);
}
