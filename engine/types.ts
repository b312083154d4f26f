import type { SamplingParams } from '../kernels/sampling-params.js';
import type { RequestStats } from './stats.js';

/** Why generation ended: EOS token, a stop string, the token limit, or the context limit. */
export type FinishReason = 'eos' | 'stop' | 'length';

/** A validated generation request (plugins parse and validate at the edge). */
export interface GenerateRequest {
  /** Prompt token ids (chat template already applied). At least one token. */
  readonly prompt: Int32Array;
  readonly maxNewTokens: number;
  readonly sampling: SamplingParams;
  /** Stop strings: generation ends before the first one that appears in the output. */
  readonly stop?: readonly string[];
  /** false = plain decoding (a one-node tree each step). */
  readonly speculate: boolean;
  /** Subset of the model's drafters to use (names); undefined = all of them. */
  readonly drafters?: readonly string[];
  /** Caps the verify budget (nodes per pass, root included) for this request. */
  readonly maxBudget?: number;
  /**
   * Also return each generated token's log-probability and this many most
   * likely alternatives per position (0 = the token's own only; at most
   * MAX_LOGPROBS and the target's top-k). Requires a target that reports them.
   */
  readonly logprobs?: number;
  readonly signal?: AbortSignal;
  /** Called with the tokens each step commits (already cut at EOS / stop / limits), and their log-probabilities when asked. */
  readonly onTokens?: (tokens: Int32Array, logprobs?: TokenLogprobs) => void;
}

/** Most alternatives per position a request may ask for (OpenAI's `top_logprobs` limit). */
export const MAX_LOGPROBS = 20;

/**
 * Log-probabilities of generated tokens under the target's raw distribution
 * (its softmax before temperature, penalties and truncation), whichever way
 * the tokens were chosen. Speculation does not change them beyond the
 * floating-point differences between verify-pass shapes (docs/serving.md).
 */
export interface TokenLogprobs {
  /** Alternatives per position. */
  readonly top: number;
  /** [T] natural-log probability of each token. */
  readonly logprobs: Float32Array;
  /** [T * top] the most likely tokens at each position, best first. */
  readonly topIds: Int32Array;
  /** [T * top] their natural-log probabilities. */
  readonly topLogprobs: Float32Array;
}

export interface GenerateResult {
  /** Generated token ids (prompt excluded). */
  readonly tokens: Int32Array;
  readonly finishReason: FinishReason;
  /** When a stop string ended the request: which one, and the UTF-8 bytes of output text to keep. */
  readonly stop?: { readonly index: number; readonly textBytes: number };
  /** Present when the request asked for `logprobs`; one entry per token of `tokens`. */
  readonly logprobs?: TokenLogprobs;
  readonly stats: RequestStats;
}

/** Hooks for metrics; plugins implement them with prom-client. Never called per token. */
export interface EngineObserver {
  /** One verify pass; `queuedMs` is the wait behind other requests' passes when the target reports it. */
  onStep?(model: string, nodes: number, accepted: number, verifyMs: number, queuedMs?: number): void;
  onRequest?(model: string, stats: RequestStats): void;
  onDrafterError?(model: string, drafter: string): void;
}
