/**
 * One request's state in the embedded target: committed tokens, the KV cache
 * of every committed token but the root, and the KV of the last verified tree
 * (pending until `accept` says which nodes to keep).
 */
import { CanopyError } from '../../../kernels/errors.js';
import type { SamplingParams } from '../../../kernels/sampling-params.js';
import { attentionBias, type TokenTree, treeDepths, validateTree } from '../../../kernels/tree.js';
import type { DraftPassOptions, PassOptions, PassResult, TargetSession } from '../../target.js';
import { KvCache } from './kv-cache.js';
import type { ModelRunner, PassOutputs } from './model-runner.js';
import { NodeChooser, needsLogits } from './node-chooser.js';

/** Prompt tokens per prefill pass: bounds the [chunk, T + chunk] bias and activations. */
const PREFILL_CHUNK = 256;

/** Most nodes in one tree (pending KV rows beyond the context are reserved for this many). */
export const MAX_TREE_NODES = 1024;

export interface SessionShape {
  readonly vocabSize: number;
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly maxContext: number;
  readonly maxTopK: number;
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CanopyError('CANOPY_ERR_CANCELLED', 'the request was cancelled');
}

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
  ): Promise<EmbeddedSession> {
    if (prompt.length === 0) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'the prompt is empty');
    if (prompt.length > shape.maxContext) {
      throw new CanopyError(
        'CANOPY_ERR_PROMPT_TOO_LONG',
        `the prompt has ${prompt.length} tokens; the model's context holds ${shape.maxContext}`,
        { details: { promptTokens: prompt.length, maxContext: shape.maxContext } },
      );
    }
    for (let i = 0; i < prompt.length; i++) {
      if (!(prompt[i] >= 0 && prompt[i] < shape.vocabSize)) {
        throw new CanopyError(
          'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
          `prompt token ${i} is ${prompt[i]}, outside the vocabulary [0, ${shape.vocabSize})`,
          { details: { index: i, token: prompt[i], vocabSize: shape.vocabSize } },
        );
      }
    }
    const session = new EmbeddedSession(runner, shape, prompt, sampling, onClose);
    await session.#prefill(prompt.subarray(0, prompt.length - 1), signal);
    return session;
  }

  get length(): number {
    return this.#length;
  }

  async #prefill(tokens: Int32Array, signal: AbortSignal | undefined): Promise<void> {
    this.#cache.reserve(tokens.length + 1);
    for (let start = 0; start < tokens.length; start += PREFILL_CHUNK) {
      checkSignal(signal);
      const chunk = tokens.subarray(start, start + PREFILL_CHUNK);
      const n = chunk.length;
      const t = this.#cache.length;
      const parents = Int32Array.from({ length: n }, (_, i) => i - 1);
      const positions = Int32Array.from({ length: n }, (_, i) => t + i);
      await this.#runner.run({
        tokens: chunk,
        positions,
        bias: this.#biasFor(parents, t),
        cache: this.#cache,
        keepKv: true,
        rows: 'last',
        argmax: false,
        topK: 0,
        hiddenLayers: [],
      });
      this.#cache.commitAll(n);
    }
  }

  #biasFor(parents: Int32Array, cached: number): Float32Array {
    const n = parents.length;
    const size = n * (cached + n);
    if (this.#bias.length < size) this.#bias = new Float32Array(Math.max(size, this.#bias.length * 2));
    return attentionBias(parents, cached, this.#bias.subarray(0, size));
  }

  #check(tree: TokenTree, options: PassOptions | undefined): Int32Array {
    if (this.#closed) throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session is closed');
    checkSignal(options?.signal);
    validateTree(tree, this.#shape.vocabSize);
    if (tree.tokens.length > MAX_TREE_NODES) {
      throw new CanopyError(
        'CANOPY_ERR_BUDGET_OUT_OF_RANGE',
        `a tree holds at most ${MAX_TREE_NODES} nodes, got ${tree.tokens.length}`,
      );
    }
    const root = this.#tokens[this.#length - 1];
    if (tree.tokens[0] !== root) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_TREE',
        `tree root is token ${tree.tokens[0]}, but the session's root is ${root}`,
        {
          details: { node: 0, token: tree.tokens[0], root },
        },
      );
    }
    const depths = treeDepths(tree.parents);
    let deepest = 0;
    for (let i = 0; i < depths.length; i++) deepest = Math.max(deepest, depths[i]);
    // The root sits at position length - 1; the deepest node must stay inside the context.
    if (this.#length - 1 + deepest >= this.#shape.maxContext) {
      throw new CanopyError(
        'CANOPY_ERR_CONTEXT_FULL',
        `a tree of depth ${deepest} after ${this.#length} tokens exceeds the model's context of ${this.#shape.maxContext}`,
        { details: { length: this.#length, depth: deepest, maxContext: this.#shape.maxContext } },
      );
    }
    const k = options?.topK ?? 0;
    if (!Number.isInteger(k) || k < 0 || k > this.#shape.maxTopK) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_ARGUMENT',
        `topK must be an integer in [0, ${this.#shape.maxTopK}], got ${k}`,
      );
    }
    for (const l of options?.hiddenLayers ?? []) {
      if (!Number.isInteger(l) || l < 0 || l > this.#shape.numLayers) {
        throw new CanopyError(
          'CANOPY_ERR_INVALID_ARGUMENT',
          `hidden layer ${l} is outside [0, ${this.#shape.numLayers}]`,
        );
      }
    }
    return depths;
  }

  #result(
    tree: TokenTree,
    depths: Int32Array,
    out: PassOutputs,
    logits: Float32Array | undefined,
  ): PassResult {
    let chosen = out.argmax;
    if (!chosen) {
      chosen = new Int32Array(tree.tokens.length);
      this.#chooser?.choose(tree.tokens, tree.parents, depths, logits!, this.#length, chosen);
    }
    return { chosen, topKIds: out.topKIds, topKLogprobs: out.topKLogprobs, hidden: out.hidden };
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
      topK: options?.topK ?? 0,
      hiddenLayers: options?.hiddenLayers ?? [],
    });
    if (this.#closed)
      throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session was closed during the pass');
    this.#pending = { tokens: tree.tokens.slice(), parents: tree.parents.slice() };
    return this.#result(tree, depths, out, logits);
  }

  accept(path: Int32Array, nextRoot: number): void {
    if (this.#closed) throw new CanopyError('CANOPY_ERR_SESSION_CLOSED', 'the target session is closed');
    const tree = this.#pending;
    if (!tree) throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'accept without a preceding step');
    if (path.length === 0 || path[0] !== 0) {
      throw new CanopyError(
        'CANOPY_ERR_INVALID_ARGUMENT',
        'the accepted path must start at the root (node 0)',
      );
    }
    for (let i = 1; i < path.length; i++) {
      if (!(path[i] > 0 && path[i] < tree.tokens.length) || tree.parents[path[i]] !== path[i - 1]) {
        throw new CanopyError(
          'CANOPY_ERR_INVALID_ARGUMENT',
          `accepted node ${path[i]} is not a child of node ${path[i - 1]}`,
        );
      }
    }
    if (!Number.isInteger(nextRoot) || nextRoot < 0 || nextRoot >= this.#shape.vocabSize) {
      throw new CanopyError(
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
        `next root ${nextRoot} is outside the vocabulary`,
        {
          details: { token: nextRoot, vocabSize: this.#shape.vocabSize },
        },
      );
    }
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
    for (const l of skip) {
      if (!Number.isInteger(l) || l < 0 || l >= this.#shape.numLayers) {
        throw new CanopyError(
          'CANOPY_ERR_INVALID_ARGUMENT',
          `skip layer ${l} is outside [0, ${this.#shape.numLayers})`,
        );
      }
    }
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
