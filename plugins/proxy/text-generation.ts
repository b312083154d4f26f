/**
 * One text generation on a served model, for every route: tokens come from
 * the engine step by step and leave as text that never splits a UTF-8
 * character and never shows the beginning of a stop string that later
 * completes (that text is held back until it cannot be one any more).
 * The final text is the engine's, cut at the stop string (output-text.ts);
 * the streamed pieces always add up to it.
 */
import type { RequestStats, TokenLogprobs } from '../../engine/index.js';
import { outputText } from '../host/output-text.js';
import type { GenerationOptions } from './request-options.js';
import type { ServedModel } from './served-models.js';

export type FinishReason = 'stop' | 'length';

export interface GenerationOutcome {
  readonly text: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** OpenAI's words: `stop` (EOS or a stop string) or `length` (the token limit or the context). */
  readonly finishReason: FinishReason;
  /** Generated token ids (prompt excluded), one per `logprobs` entry. */
  readonly tokens: Int32Array;
  /** Present when the options asked for log-probabilities. */
  readonly logprobs?: TokenLogprobs;
  readonly stats: RequestStats;
}

/**
 * How much of `text` (not yet streamed) can go out: everything before the
 * first complete stop string, else everything but the longest suffix that
 * may still grow into one.
 */
export function streamable(text: string, stop: readonly string[]): { length: number; stopped: boolean } {
  let first = -1;
  for (const s of stop) {
    const at = text.indexOf(s);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  if (first >= 0) return { length: first, stopped: true };
  let hold = 0;
  for (const s of stop) {
    for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
      if (text.endsWith(s.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  // Never split a surrogate pair.
  if (hold > 0 && hold < text.length) {
    const c = text.charCodeAt(text.length - hold - 1);
    if (c >= 0xd800 && c <= 0xdbff) hold++;
  }
  return { length: text.length - hold, stopped: false };
}

/** One engine step's tokens and their log-probabilities, for a streamed piece. */
export interface StepLogprobs {
  readonly tokens: Int32Array;
  readonly logprobs: TokenLogprobs;
}

export async function generateText(
  model: ServedModel,
  prompt: Int32Array,
  options: GenerationOptions,
  signal: AbortSignal,
  onText?: (delta: string, step?: StepLogprobs) => void,
): Promise<GenerationOutcome> {
  const { tokenizer, engine } = model.host;
  const decoder = tokenizer.createStreamDecoder({ skipSpecial: true });
  let pending = '';
  let sent = '';
  let stopped = false;
  const result = await engine.generate({
    prompt,
    maxNewTokens: options.maxNewTokens,
    sampling: options.sampling,
    stop: options.stop,
    speculate: options.speculate,
    drafters: options.drafters,
    maxBudget: options.maxBudget,
    logprobs: options.logprobs,
    signal,
    onTokens: onText
      ? (tokens, logprobs) => {
          if (stopped) {
            // The engine decides where the answer ends; its tokens' log-probabilities all go out.
            if (logprobs) onText('', { tokens, logprobs });
            return;
          }
          for (const id of tokens) pending += decoder.push(id);
          const ready = streamable(pending, options.stop);
          stopped = ready.stopped;
          let piece = '';
          if (ready.length > 0) {
            piece = pending.slice(0, ready.length);
            pending = pending.slice(ready.length);
            sent += piece;
          }
          // A step's log-probabilities leave with the text it released (possibly none yet).
          if (logprobs) onText(piece, { tokens, logprobs });
          else if (piece.length > 0) onText(piece);
        }
      : undefined,
  });
  const text = outputText(tokenizer, result);
  if (onText) {
    // What was held back (or never completed a character) and is part of the final text.
    const rest = text.startsWith(sent) ? text.slice(sent.length) : '';
    if (rest !== '') onText(rest);
  }
  return {
    text,
    promptTokens: prompt.length,
    completionTokens: result.tokens.length,
    finishReason: result.finishReason === 'length' ? 'length' : 'stop',
    tokens: result.tokens,
    logprobs: result.logprobs,
    stats: result.stats,
  };
}
