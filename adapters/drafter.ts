/**
 * The drafter contract. A drafter guesses how the text continues, as a tree
 * rooted at the pending root. One conformance suite
 * (test/adapters/drafters/conformance.ts) runs against every drafter.
 *
 * A *definition* is what the registry holds (name, capabilities, options
 * schema). It builds one *factory* per model, which may keep state shared by
 * all requests of that model (a recycling matrix, a suffix index). The factory
 * opens one *session* per request.
 *
 * "No draft" (null) is a valid answer, never an error.
 */
import type { TokenTree } from '../kernels/tree.js';
import type { PassResult, PromptTopK, TargetInfo, TargetSession } from './target.js';

/** What a drafter can do and what it needs, as data. */
export interface DrafterCapabilities {
  /** Proposes branching trees (false: chains only). */
  readonly tree: boolean;
  /** Scores are the drafter's own probabilities (EAGLE, layer-skip), not heuristics. */
  readonly probabilities: boolean;
  /** Top-k per verified node it learns from (Token Recycling); 0 = none. */
  readonly needsTopK: number;
  /** Hidden layers it needs from every verify pass (see PassOptions.hiddenLayers). */
  readonly needsHiddenLayers: readonly number[];
  /** Also needs those layers at every prompt position, from prefill (DrafterOpenRequest.promptHidden). */
  readonly needsPromptHidden?: boolean;
  /** Drafts by running the target itself (TargetSession.draft). */
  readonly needsTarget: boolean;
}

/**
 * A proposed tree. Node 0 is the root (the current root token, score 1).
 * `scores[i]` estimates P(target accepts node i | its parent was accepted),
 * in (0, 1].
 */
export interface Draft extends TokenTree {
  /** [numNodes] */
  readonly scores: Float32Array;
}

export interface DraftContext {
  /** Committed tokens, prompt first; the last is the root. A view valid during the call only. */
  readonly tokens: Int32Array;
  readonly promptLength: number;
  /** Most nodes (root included) that the verify pass will take this step. */
  readonly budget: number;
  readonly signal?: AbortSignal;
}

export interface DraftFeedback {
  /** The fused tree that was verified. */
  readonly tree: TokenTree;
  /** The target's answer for every node of `tree`. */
  readonly result: PassResult;
  /** Accepted node indices of `tree`, root first. */
  readonly accepted: Int32Array;
  /** Tokens committed this step: accepted drafts, then the correction or bonus. */
  readonly emitted: Int32Array;
  /** Committed tokens after this step (a view valid during the call only). */
  readonly tokens: Int32Array;
}

export interface DrafterSession {
  propose(context: DraftContext): Draft | null | Promise<Draft | null>;
  observe(feedback: DraftFeedback): void;
  close?(): void;
  /**
   * Milliseconds the last `propose` spent waiting behind other requests'
   * target passes (`PassResult.queuedMs` of its own passes), for drafters that
   * run the target. The drafter gate leaves it out of the drafter's cost: the
   * wait comes from a busy server, not from drafting.
   */
  readonly lastWaitMs?: number;
}

export interface DrafterOpenRequest {
  readonly prompt: Int32Array;
  /** The target's top-k after each prompt token, when the target computed it at prefill. */
  readonly promptTopK?: PromptTopK;
  /**
   * layer -> [(prompt.length - 1) * hiddenSize], row i the state at prompt[i], when the
   * drafter declared needsPromptHidden and the target returned it at prefill.
   */
  readonly promptHidden?: ReadonlyMap<number, Float32Array>;
  /** Present when the drafter declared needsTarget. */
  readonly target?: TargetSession;
}

export interface DrafterFactory {
  readonly name: string;
  readonly capabilities: DrafterCapabilities;
  open(request: DrafterOpenRequest): DrafterSession;
  /** Releases shared state. */
  dispose?(): void;
}

/** What the model offers a drafter definition when the registry builds its factory. */
export interface DrafterEnvironment {
  readonly target: TargetInfo;
  /** Model directory in the canopy cache (drafter heads live beside the model). */
  readonly modelDir?: string;
}

export interface DrafterDefinition<Options = unknown> {
  readonly name: string;
  readonly capabilities: DrafterCapabilities;
  /**
   * Validates raw options (from config or a request) into frozen options.
   * Throws CanopyError CANOPY_ERR_INVALID_DRAFTER_OPTIONS with what to fix.
   */
  parseOptions(raw: unknown): Options;
  /**
   * Builds the per-model factory. Throws CANOPY_ERR_DRAFTER_INCOMPATIBLE when
   * the target lacks what the drafter needs (the engine then runs without it).
   */
  create(options: Options, env: DrafterEnvironment): DrafterFactory | Promise<DrafterFactory>;
}
