/**
 * Stop strings are matched against the text the answer shows: a special token
 * between two halves of a stop string does not hide it, and the answer's text
 * is cut before it, as the streamed text is.
 */
import { describe, expect, it } from 'vitest';
import type { Tokenizer } from '../../../adapters/tokenizer/index.js';
import { emptyStats, type GenerateResult } from '../../../engine/index.js';
import { StopStringMatcher } from '../../../kernels/stop-strings.js';
import { stopTextTable } from '../../../plugins/host/model-host.js';
import { outputText } from '../../../plugins/host/output-text.js';

const utf8 = new TextEncoder();
const VOCAB = ['x', 'a', '<|sep|>', 'b', 'c'].map((t) => utf8.encode(t));
const tokenizer = {
  vocabSize: VOCAB.length,
  tokenBytes: (id: number) => VOCAB[id],
  isSpecial: (id: number) => id === 2,
} as unknown as Tokenizer;

describe('stop strings over the shown text', () => {
  it('end the answer when a special token splits one, and the text stops before it', () => {
    const matcher = new StopStringMatcher(['ab'], stopTextTable(tokenizer));
    const tokens = Int32Array.of(0, 1, 2, 3, 4); // "x" "a" <|sep|> "b" "c"
    expect(matcher.push(tokens)).toBe(4);
    const hit = matcher.hit!;
    const result: GenerateResult = {
      tokens: tokens.subarray(0, 4),
      finishReason: 'stop',
      stop: { index: hit.stop, textBytes: hit.textBytes },
      stats: emptyStats(),
    };
    expect(outputText(tokenizer, result)).toBe('x');
  });

  it('keep special tokens out of the text and out of the bytes a stop string can match', () => {
    const table = stopTextTable(tokenizer);
    expect(table.offsets[3] - table.offsets[2]).toBe(0);
    const matcher = new StopStringMatcher(['sep'], table);
    expect(matcher.push(Int32Array.of(1, 2, 3))).toBe(-1);
  });
});
