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
  readonly signal?: AbortSignal;
  /** Called with the tokens each step commits (already cut at EOS / stop / limits). */
  readonly onTokens?: (tokens: Int32Array) => void;
}

export interface GenerateResult {
  /** Generated token ids (prompt excluded). */
  readonly tokens: Int32Array;
  readonly finishReason: FinishReason;
  /** When a stop string ended the request: which one, and the UTF-8 bytes of output text to keep. */
  readonly stop?: { readonly index: number; readonly textBytes: number };
  readonly stats: RequestStats;
}

/** Hooks for metrics; plugins implement them with prom-client. Never called per token. */
export interface EngineObserver {
  /** One verify pass; `queuedMs` is the wait behind other requests' passes when the target reports it. */
  onStep?(model: string, nodes: number, accepted: number, verifyMs: number, queuedMs?: number): void;
  onRequest?(model: string, stats: RequestStats): void;
  onDrafterError?(model: string, drafter: string): void;
}
