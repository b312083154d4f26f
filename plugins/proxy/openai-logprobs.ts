/**
 * Log-probabilities in OpenAI's two shapes: chat's `logprobs.content` (one
 * entry per token with its bytes and `top_logprobs`) and completions'
 * `logprobs` (parallel arrays with `text_offset`). A token's text is its
 * bytes decoded on their own, so a token that holds part of a character
 * shows U+FFFD there and its `bytes` say what it holds, as OpenAI does.
 * Every generated token has an entry, special tokens such as the end of
 * turn included (their text is the token's own spelling).
 */
import type { Tokenizer } from '../../adapters/tokenizer/index.js';
import type { TokenLogprobs } from '../../engine/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** JSON has no -Infinity: a zero probability is reported as OpenAI's floor. */
const FLOOR = -9999;
const finite = (x: number): number => (Number.isFinite(x) ? x : FLOOR);

const tokenText = (tokenizer: Tokenizer, id: number): string => utf8.decode(tokenizer.tokenBytes(id));

/** Chat: `choices[i].logprobs` for `tokens` (a step's or the whole answer's). */
export function chatLogprobs(tokenizer: Tokenizer, tokens: Int32Array, lp: TokenLogprobs) {
  const entry = (id: number, logprob: number) => ({
    token: tokenText(tokenizer, id),
    logprob: finite(logprob),
    bytes: [...tokenizer.tokenBytes(id)],
  });
  const content = [];
  for (let t = 0; t < tokens.length; t++) {
    const top = [];
    for (let r = 0; r < lp.top; r++)
      top.push(entry(lp.topIds[t * lp.top + r], lp.topLogprobs[t * lp.top + r]));
    content.push({ ...entry(tokens[t], lp.logprobs[t]), top_logprobs: top });
  }
  return { content, refusal: null };
}

/**
 * Completions: `choices[i].logprobs` for `tokens`; `offset` is the character
 * offset of the first token's text in the answer, and the return value's
 * `end` where the next piece starts.
 */
export function completionLogprobs(tokenizer: Tokenizer, tokens: Int32Array, lp: TokenLogprobs, offset = 0) {
  const texts: string[] = [];
  const offsets: number[] = [];
  const top: Record<string, number>[] = [];
  let at = offset;
  for (let t = 0; t < tokens.length; t++) {
    const text = tokenText(tokenizer, tokens[t]);
    texts.push(text);
    offsets.push(at);
    at += text.length;
    const alternatives: Record<string, number> = {};
    for (let r = 0; r < lp.top; r++) {
      const key = tokenText(tokenizer, lp.topIds[t * lp.top + r]);
      if (!(key in alternatives)) alternatives[key] = finite(lp.topLogprobs[t * lp.top + r]);
    }
    top.push(alternatives);
  }
  return {
    body: {
      tokens: texts,
      token_logprobs: [...lp.logprobs].map(finite),
      top_logprobs: lp.top > 0 ? top : null,
      text_offset: offsets,
    },
    end: at,
  };
}
