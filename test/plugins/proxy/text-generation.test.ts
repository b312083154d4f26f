import { describe, expect, it } from 'vitest';
import { createStreamDecoder } from '../../../adapters/tokenizer/stream-decoder.js';
import {
  emptyStats,
  type GenerateRequest,
  type GenerateResult,
  type TokenLogprobs,
} from '../../../engine/index.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import type { ServedModel } from '../../../plugins/proxy/served-models.js';
import { generateText, streamable } from '../../../plugins/proxy/text-generation.js';

describe('streamable', () => {
  it('streams everything when there are no stop strings', () => {
    expect(streamable('hello', [])).toEqual({ length: 5, stopped: false });
  });

  it('holds back the longest tail that may grow into a stop string', () => {
    expect(streamable('one two\n', ['\n\n'])).toEqual({ length: 7, stopped: false });
    expect(streamable('the end. The', ['The End', 'x'])).toEqual({ length: 9, stopped: false });
    expect(streamable('abc', ['bcd', 'cde'])).toEqual({ length: 1, stopped: false });
  });

  it('stops before the first complete stop string, whichever it is', () => {
    expect(streamable('a STOP b END', ['END', 'STOP'])).toEqual({ length: 2, stopped: true });
  });

  it('never splits a surrogate pair when holding back', () => {
    // '😀' is two UTF-16 units; a stop starting with its second unit must not cut it in half.
    const text = 'x😀';
    const result = streamable(text, ['\uDE00y']);
    expect(result.length).toBe(1);
  });
});

describe('generateText', () => {
  const utf8 = new TextEncoder();
  const vocab = [utf8.encode('a'), utf8.encode('<|x|>'), utf8.encode('b'), utf8.encode('c')];
  const source = { tokenBytes: (id: number) => vocab[id], isSpecial: (id: number) => id === 1 };
  const tokenizer = {
    ...source,
    createStreamDecoder: (options?: { skipSpecial?: boolean }) => createStreamDecoder(source, options),
  };
  const lp = (n: number): TokenLogprobs => ({
    top: 0,
    logprobs: new Float32Array(n).fill(-1),
    topIds: new Int32Array(0),
    topLogprobs: new Float32Array(0),
  });

  it('sends every step’s log-probabilities even after its own stop check ends the text', async () => {
    // The text skips the special token, so "ab" completes the stop string here while the engine,
    // matching bytes with the special token in them, goes on: its tokens still need entries.
    const steps = [Int32Array.of(0, 1), Int32Array.of(2), Int32Array.of(3)];
    const engine = {
      async generate(req: GenerateRequest): Promise<Partial<GenerateResult>> {
        for (const tokens of steps) req.onTokens?.(tokens, lp(tokens.length));
        return {
          tokens: Int32Array.of(0, 1, 2, 3),
          finishReason: 'length',
          stats: emptyStats(),
          logprobs: lp(4),
        };
      },
    };
    const model = { host: { tokenizer, engine } } as unknown as ServedModel;
    const options = { maxNewTokens: 4, sampling: GREEDY, stop: ['ab'], speculate: true, logprobs: 0 };
    const entries: number[] = [];
    await generateText(model, Int32Array.of(0), options, new AbortController().signal, (_text, step) => {
      entries.push(...(step?.tokens ?? []));
    });
    expect(entries).toEqual([0, 1, 2, 3]);
  });
});
