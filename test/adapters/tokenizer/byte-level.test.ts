import { describe, expect, it } from 'vitest';
import {
  BYTE_TO_CHAR,
  byteLevelToBytes,
  bytesToByteLevel,
  writeUtf8,
} from '../../../adapters/tokenizer/byte-level.js';
import { randomText, seededRandom } from './random-text.js';

describe('byte-level alphabet', () => {
  it('writes the 256 bytes as 256 distinct visible characters', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    for (const ch of BYTE_TO_CHAR) expect(ch).toMatch(/^[^\p{White_Space}\p{Cc}]$/u);
    expect(BYTE_TO_CHAR[0x20]).toBe('Ġ');
    expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ');
  });

  it('reads back every byte it writes', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(Array.from(byteLevelToBytes(bytesToByteLevel(all)))).toEqual(Array.from(all));
  });

  it('keeps characters outside the alphabet as their UTF-8 bytes', () => {
    expect(Array.from(byteLevelToBytes('<|x|>'))).toEqual(Array.from(new TextEncoder().encode('<|x|>')));
  });

  it('encodes UTF-8 as TextEncoder does, lone surrogates included', () => {
    const rand = seededRandom(6);
    const encoder = new TextEncoder();
    for (let i = 0; i < 200; i++) {
      const text = randomText(rand, { extra: ['\ud800', '\udfff', '\ud83d'] });
      const out = new Uint8Array(text.length * 3);
      const end = writeUtf8(text, out, 0);
      expect(Array.from(out.subarray(0, end))).toEqual(Array.from(encoder.encode(text)));
    }
  });
});
