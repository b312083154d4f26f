/**
 * OpenAI's log-probability shapes from canopy's per-token values: offsets in
 * the answer's text when tokens split a character, alternatives whose text
 * looks like an object's own keys, and the values JSON cannot hold.
 */
import { describe, expect, it } from 'vitest';
import type { Tokenizer } from '../../../adapters/tokenizer/index.js';
import { createStreamDecoder } from '../../../adapters/tokenizer/stream-decoder.js';
import type { TokenLogprobs } from '../../../engine/index.js';
import { chatLogprobs, completionLogprobs, textCursor } from '../../../plugins/proxy/openai-logprobs.js';

const utf8 = new TextEncoder();
// 0: the first byte of 你, 1: its other two, 2: "ok", 3-5: names an object already has, 6: end of turn.
const VOCAB = [
  Uint8Array.of(0xe4),
  Uint8Array.of(0xbd, 0xa0),
  utf8.encode('ok'),
  utf8.encode('__proto__'),
  utf8.encode('toString'),
  utf8.encode('constructor'),
  utf8.encode('<|im_end|>'),
];
const source = { tokenBytes: (id: number) => VOCAB[id], isSpecial: (id: number) => id === 6 };
const tokenizer = {
  ...source,
  createStreamDecoder: (options?: { skipSpecial?: boolean }) => createStreamDecoder(source, options),
} as unknown as Tokenizer;

function values(tokens: number[], top: number[][], logprobs = tokens.map(() => -0.5)): TokenLogprobs {
  const k = top[0]?.length ?? 0;
  return {
    top: k,
    logprobs: Float32Array.from(logprobs),
    topIds: Int32Array.from(top.flat()),
    topLogprobs: Float32Array.from(top.flat().map((_, i) => -1 - i)),
  };
}

describe('completions log-probabilities', () => {
  it('place each token where its text starts in the answer, across chunks, when a token splits a character', () => {
    const cursor = textCursor(tokenizer);
    const first = completionLogprobs(tokenizer, Int32Array.of(0, 1), values([0, 1], []), cursor);
    const second = completionLogprobs(tokenizer, Int32Array.of(2), values([2], []), cursor);
    // The answer is "你ok": the half-character token and the one completing it both start at 0.
    expect([...first.text_offset, ...second.text_offset]).toEqual([0, 0, 1]);
    expect(first.tokens).toEqual(['\uFFFD', '\uFFFD\uFFFD']);
    expect(first.top_logprobs).toBeNull();
  });

  it('keep alternatives spelled like an object’s own keys', () => {
    const lp = values([2], [[3, 4, 5]]);
    const body = completionLogprobs(tokenizer, Int32Array.of(2), lp, textCursor(tokenizer));
    const alternatives = JSON.parse(JSON.stringify(body.top_logprobs))[0];
    expect(Object.entries(alternatives)).toEqual([
      ['__proto__', -1],
      ['toString', -2],
      ['constructor', -3],
    ]);
  });

  it('report a zero probability as OpenAI’s floor and keep finite values', () => {
    const lp = values([2, 6], [], [Number.NEGATIVE_INFINITY, -0.25]);
    const body = completionLogprobs(tokenizer, Int32Array.of(2, 6), lp, textCursor(tokenizer));
    expect(body.token_logprobs).toEqual([-9999, -0.25]);
    // The end-of-turn token has an entry; it adds no text.
    expect(body.text_offset).toEqual([0, 2]);
  });
});

describe('chat log-probabilities', () => {
  it('give every token its text, bytes and alternatives', () => {
    const lp = values(
      [0, 1],
      [
        [0, 2],
        [1, 3],
      ],
    );
    const { content, refusal } = chatLogprobs(tokenizer, Int32Array.of(0, 1), lp);
    expect(refusal).toBeNull();
    expect(content.map((e) => e.bytes)).toEqual([[0xe4], [0xbd, 0xa0]]);
    expect(content[1].top_logprobs.map((a) => [a.token, a.logprob])).toEqual([
      ['\uFFFD\uFFFD', -3],
      ['__proto__', -4],
    ]);
  });
});
