/**
 * Sampling parameters, already validated at the edge (see plugins/config).
 * Hot paths trust these values.
 *
 * `temperature === 0` means greedy (argmax, lowest token id on ties).
 * `seed` keys the counter-based generator: the same seed gives the same
 * tokens whether speculation is on or off (docs/sampling.md).
 */
export interface SamplingParams {
  readonly temperature: number;
  /** 0 disables top-k. */
  readonly topK: number;
  /** 1 disables top-p. */
  readonly topP: number;
  /** 0 disables min-p. */
  readonly minP: number;
  /** 1 disables; applied over prompt + generated tokens on the node's path. */
  readonly repetitionPenalty: number;
  /** 0 disables; applied over generated tokens on the node's path. */
  readonly frequencyPenalty: number;
  /** 0 disables; applied over generated tokens on the node's path. */
  readonly presencePenalty: number;
  /** Unsigned integer below 2^53. */
  readonly seed: number;
}

export const GREEDY: SamplingParams = Object.freeze({
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
  seed: 0,
});

export function isGreedy(p: SamplingParams): boolean {
  return p.temperature === 0;
}
