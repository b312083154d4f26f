/**
 * Log-probabilities in OpenAI's two shapes: chat's `logprobs.content` (one
 * entry per token with its bytes and `top_logprobs`) and completions'
 * `logprobs` (parallel arrays with `text_offset`). A token's text is its
 * bytes decoded on their own, so a token that holds part of a character
 * shows U+FFFD there and its `bytes` say what it holds, as OpenAI does.
 * Every generated token has an entry, special tokens such as the end of
 * turn included (their text is the token's own spelling).
 */
import type { StreamDecoder, Tokenizer } from '../../adapters/tokenizer/index.js';
import type { TokenLogprobs } from '../../engine/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** JSON has no -Infinity: a zero probability is reported as OpenAI's floor. */
const FLOOR = -9999;
const finite = (x: number): number => (x === Number.NEGATIVE_INFINITY ? FLOOR : x);

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
 * Where each token's text starts in the answer, across the chunks of one
 * answer: the answer's text is its tokens' bytes decoded together, so a
 * token that ends inside a character adds nothing until the token that
 * completes it.
 */
export interface TextCursor {
  at: number;
  readonly decoder: StreamDecoder;
}

export function textCursor(tokenizer: Tokenizer): TextCursor {
  return { at: 0, decoder: tokenizer.createStreamDecoder({ skipSpecial: true }) };
}

/** Completions: `choices[i].logprobs` for `tokens`, the next tokens of the answer `cursor` follows. */
export function completionLogprobs(
  tokenizer: Tokenizer,
  tokens: Int32Array,
  lp: TokenLogprobs,
  cursor: TextCursor,
) {
  const texts: string[] = [];
  const offsets: number[] = [];
  const top: Record<string, number>[] = [];
  for (let t = 0; t < tokens.length; t++) {
    texts.push(tokenText(tokenizer, tokens[t]));
    offsets.push(cursor.at);
    cursor.at += cursor.decoder.push(tokens[t]).length;
    // A Map, then own properties: an alternative spelled like "__proto__" or "toString" is a key like any other.
    const alternatives = new Map<string, number>();
    for (let r = 0; r < lp.top; r++) {
      const key = tokenText(tokenizer, lp.topIds[t * lp.top + r]);
      if (!alternatives.has(key)) alternatives.set(key, finite(lp.topLogprobs[t * lp.top + r]));
    }
    top.push(Object.fromEntries(alternatives));
  }
  return {
    tokens: texts,
    token_logprobs: [...lp.logprobs].map(finite),
    top_logprobs: lp.top > 0 ? top : null,
    text_offset: offsets,
  };
}
