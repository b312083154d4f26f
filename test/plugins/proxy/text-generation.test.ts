import { describe, expect, it } from 'vitest';
import { streamable } from '../../../plugins/proxy/text-generation.js';

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
