import { describe, expect, it } from 'vitest';
import { StopStringMatcher, type TokenBytes } from '../../kernels/stop-strings.js';
import { mulberry32 } from './random.js';

/** A toy vocabulary: each token is a short ASCII piece. */
const PIECES = ['', 'a', 'b', 'c', 'd', 'ab', 'cd', 'bc', 'abc', ' ', 'x', 'é'];
const utf8 = new TextEncoder();

function table(pieces: readonly string[]): TokenBytes {
  const parts = pieces.map((p) => utf8.encode(p));
  const offsets = new Int32Array(parts.length + 1);
  parts.forEach((p, i) => {
    offsets[i + 1] = offsets[i] + p.length;
  });
  const bytes = new Uint8Array(offsets[parts.length]);
  for (let i = 0; i < parts.length; i++) bytes.set(parts[i], offsets[i]);
  return { bytes, offsets };
}

const TABLE = table(PIECES);
const tok = (piece: string): number => PIECES.indexOf(piece);
const ids = (...pieces: string[]): Int32Array => Int32Array.from(pieces.map(tok));

describe('StopStringMatcher', () => {
  it('cuts the text before a stop string inside one step and keeps the completing token', () => {
    const m = new StopStringMatcher(['cd'], TABLE);
    expect(m.push(ids('x', 'ab', 'c', 'd', 'x'))).toBe(4);
    expect(m.hit).toEqual({ stop: 0, keepTokens: 4, textBytes: 3, matchEnd: 5 });
  });

  it('finds a stop string that spans steps', () => {
    const m = new StopStringMatcher(['bcd'], TABLE);
    expect(m.push(ids('a', 'b'))).toBe(-1);
    expect(m.push(ids('cd', 'x'))).toBe(1);
    expect(m.hit?.textBytes).toBe(1);
  });

  it('stops at the first token that completes any stop string, as plain decoding would', () => {
    const m = new StopStringMatcher(['abcd', 'bc'], TABLE);
    expect(m.push(ids('a', 'b', 'c', 'd'))).toBe(3);
    expect(m.hit?.stop).toBe(1);
  });

  it('prefers the occurrence that starts first when one token completes two', () => {
    const m = new StopStringMatcher(['cd', 'abcd'], TABLE);
    expect(m.push(ids('ab', 'cd'))).toBe(2);
    expect(m.hit).toMatchObject({ stop: 1, textBytes: 0 });
  });

  it('matches inside a multi-byte token and on UTF-8 stop strings', () => {
    const m = new StopStringMatcher(['é'], TABLE);
    expect(m.push(ids('a', 'é', 'b'))).toBe(2);
    expect(m.hit?.textBytes).toBe(1);
  });

  it('holds back bytes that may still start a stop string', () => {
    const m = new StopStringMatcher(['abcx'], TABLE);
    m.push(ids('x', 'ab'));
    expect(m.totalBytes).toBe(3);
    expect(m.safeBytes).toBe(1);
    m.push(ids('c'));
    expect(m.safeBytes).toBe(1);
    m.push(ids('d'));
    expect(m.safeBytes).toBe(5);
  });

  it('ignores tokens without bytes and everything after a hit', () => {
    const m = new StopStringMatcher(['ab'], TABLE);
    expect(m.push(ids('a', '', 'b'))).toBe(3);
    expect(m.push(ids('a', 'b'))).toBe(0);
  });

  it('rejects an empty stop string', () => {
    expect(() => new StopStringMatcher([''], TABLE)).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
    );
  });

  it('gives the same answer whatever the step sizes (random streams)', () => {
    const random = mulberry32(4);
    const stops = ['bca', 'dd', 'cab', 'x a'];
    for (let trial = 0; trial < 300; trial++) {
      const stream = Int32Array.from({ length: 30 }, () => 1 + Math.floor(random() * (PIECES.length - 1)));
      const oneByOne = new StopStringMatcher(stops, TABLE);
      let stoppedAt = -1;
      for (let j = 0; j < stream.length && stoppedAt < 0; j++) {
        if (oneByOne.push(stream.subarray(j, j + 1)) === 1) stoppedAt = j;
      }
      const chunked = new StopStringMatcher(stops, TABLE);
      let offset = 0;
      let chunkedAt = -1;
      while (offset < stream.length && chunkedAt < 0) {
        const size = 1 + Math.floor(random() * 6);
        const keep = chunked.push(stream.subarray(offset, offset + size));
        if (keep >= 0) chunkedAt = offset + keep - 1;
        offset += size;
      }
      expect(chunkedAt).toBe(stoppedAt);
      expect(chunked.hit?.textBytes).toBe(oneByOne.hit?.textBytes);
      // The kept text never contains a stop string; the text up to the match end does.
      // latin1: one character per byte, so byte offsets index the string.
      const text = Buffer.from(Array.from(stream).flatMap((t) => [...utf8.encode(PIECES[t])])).toString(
        'latin1',
      );
      if (oneByOne.hit) {
        const kept = text.slice(0, oneByOne.hit.textBytes);
        for (const s of stops) expect(kept.includes(s)).toBe(false);
        expect(text.slice(oneByOne.hit.textBytes, oneByOne.hit.matchEnd)).toBe(stops[oneByOne.hit.stop]);
      } else {
        for (const s of stops) expect(text.includes(s)).toBe(false);
      }
    }
  });
});
