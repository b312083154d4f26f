/**
 * The target contract: the model whose output canopy must reproduce exactly.
 *
 * One conformance suite (test/adapters/targets/conformance.ts) runs against
 * every implementation: the embedded onnxruntime target and the Triton target.
 *
 * Vocabulary used below:
 * - *committed* tokens: prompt + tokens emitted so far; they are final.
 * - *root*: the last committed token. It has no KV entry yet; it is node 0 of
 *   every tree.
 * - a node at depth d sits at absolute position `committed - 1 + d`; the token
 *   the target *chooses* at that node is the token for position
 *   `committed + d`, drawn with the generator keyed by (seed, that position).
 */
import type { SamplingParams } from '../kernels/sampling-params.js';
import type { TokenTree } from '../kernels/tree.js';

export interface TargetCapabilities {
  /** Largest k for top-k ids and log-probs per node; 0 when unsupported. */
  readonly maxTopK: number;
  /** Can return hidden states of chosen layers. */
  readonly hiddenStates: boolean;
  /** Can run a draft pass that skips layers (layer-skip self-speculation). */
  readonly skipLayers: boolean;
  /** Can return the log-probability of each chosen token (`PassOptions.logprobs`); absent = no. */
  readonly logprobs?: boolean;
}

export interface TargetInfo {
  /** Served model name, e.g. `smollm2-135m-instruct`. */
  readonly model: string;
  readonly vocabSize: number;
  readonly eosTokenIds: readonly number[];
  /** Longest sequence (prompt + generated) the target accepts. */
  readonly maxContext: number;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly capabilities: TargetCapabilities;
}

export interface PassOptions {
  /** Return the top-k ids and log-probs (of the raw, unprocessed distribution) per node. */
  readonly topK?: number;
  /**
   * Return hidden states. Layer l in [0, numLayers) is the residual stream
   * after block l; l = numLayers is the final-normed state the LM head reads.
   */
  readonly hiddenLayers?: readonly number[];
  /** Return `chosenLogprobs`. Requires capabilities.logprobs. */
  readonly logprobs?: boolean;
  readonly signal?: AbortSignal;
}

export interface DraftPassOptions extends PassOptions {
  /** Blocks to skip (layer-skip drafting). Requires capabilities.skipLayers. */
  readonly skipLayers?: readonly number[];
}

export interface PassResult {
  /**
   * [numNodes] the token the target emits after each node (argmax, or the seeded draw).
   * A node is *reachable* when it is the root, or its parent is reachable and chose this
   * node's token. Targets may leave unreachable nodes at -1 (sampling draws only where a
   * walk can arrive, which is τ nodes instead of the whole tree); walks never read them.
   */
  readonly chosen: Int32Array;
  /** [numNodes * topK] row-major, best first; present when topK was asked. */
  readonly topKIds?: Int32Array;
  /** [numNodes * topK] natural-log probabilities matching topKIds. */
  readonly topKLogprobs?: Float32Array;
  /**
   * [numNodes] natural-log probability of `chosen[i]` under the raw distribution
   * (the model's softmax before temperature, penalties and truncation, the same
   * distribution as `topKLogprobs`); NaN where `chosen` is -1. Present when
   * `logprobs` was asked.
   */
  readonly chosenLogprobs?: Float32Array;
  /** layer -> [numNodes * hiddenSize]; present for the layers asked. */
  readonly hidden?: ReadonlyMap<number, Float32Array>;
  /**
   * Milliseconds the pass waited behind other requests' passes before it ran,
   * when the target knows (the embedded target runs one pass at a time). The
   * engine's verify-cost model leaves it out: the wait does not depend on this
   * pass's tree size.
   */
  readonly queuedMs?: number;
}

export interface TargetSession {
  /** Committed tokens known to the target, root included. */
  readonly length: number;
  /** Present when `OpenOptions.promptTopK` was asked and the target supports it. */
  readonly promptTopK?: PromptTopK;
  /**
   * layer -> [(promptLength - 1) * hiddenSize], row i the state at prompt[i];
   * present for the layers `OpenOptions.promptHiddenLayers` asked when the
   * target supports it.
   */
  readonly promptHidden?: ReadonlyMap<number, Float32Array>;
  /**
   * Verify pass: runs the whole tree in one forward pass with tree attention.
   * The KV entries of every node are held until `accept` says which to keep.
   */
  step(tree: TokenTree, options?: PassOptions): Promise<PassResult>;
  /**
   * Records which nodes of the last `step` tree were accepted (root first, a
   * path), then the emitted correction/bonus token becomes the new root.
   * Local bookkeeping only: remote targets send it with the next request.
   */
  accept(path: Int32Array, nextRoot: number): void;
  /**
   * Scratch pass for drafters that use the model itself: same inputs as
   * `step`, but its KV entries are discarded. `chosen` is greedy.
   */
  draft?(tree: TokenTree, options?: DraftPassOptions): Promise<PassResult>;
  /**
   * Remote targets: re-creates a session the server lost (CANOPY_ERR_UPSTREAM_SESSION_LOST)
   * by prefilling `committed` (root included) under the same session object.
   * Nothing is emitted, so no token is duplicated.
   */
  reopen?(committed: Int32Array): Promise<void>;
  /** Frees the session's KV (idempotent). */
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly sampling: SamplingParams;
  /**
   * Also return the top-k next tokens after every prompt position (drafters
   * such as Token Recycling learn from the prompt). Costs the LM head over
   * the prompt during prefill. Targets may ignore it (then `promptTopK` is absent).
   */
  readonly promptTopK?: number;
  /**
   * Also return these hidden layers (PassOptions.hiddenLayers numbering) at
   * every prompt position but the root, for drafters that read the target's
   * features (eagle). Targets may ignore it (then `promptHidden` is absent).
   */
  readonly promptHiddenLayers?: readonly number[];
  readonly signal?: AbortSignal;
}

/** Top-k after each prompt token but the root: row i follows prompt[i]. */
export interface PromptTopK {
  readonly k: number;
  /** [(promptLength - 1) * k] best first. */
  readonly ids: Int32Array;
  /** [(promptLength - 1) * k] natural-log probabilities. */
  readonly logprobs: Float32Array;
}

export interface Target {
  readonly info: TargetInfo;
  /**
   * Prefills every prompt token but the last, which becomes the root.
   * Throws CANOPY_ERR_PROMPT_TOO_LONG when the prompt cannot fit maxContext.
   */
  open(prompt: Int32Array, options: OpenOptions): Promise<TargetSession>;
  /** Releases the model (sessions first). */
  dispose(): Promise<void>;
}
