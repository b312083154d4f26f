/**
 * The raw bytes each token stands for, in one flat buffer: what decoding,
 * streaming and stop-string matching work on. A token may hold part of a
 * UTF-8 character; only a run of tokens is guaranteed to be valid text.
 */
import { byteLevelToBytes } from './byte-level.js';
import { TokenType } from './file.js';

export interface TokenBytesTable {
  /** [offsets[vocabSize]] bytes of all tokens, concatenated. */
  readonly bytes: Uint8Array;
  /** [vocabSize + 1] token i is bytes[offsets[i] .. offsets[i + 1]). */
  readonly offsets: Int32Array;
}

const utf8 = new TextEncoder();
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** Bytes of one token text of the given type (see llama.cpp's token_to_piece for BPE). */
export function tokenTextToBytes(text: string, type: number): Uint8Array {
  switch (type) {
    case TokenType.control:
    case TokenType.unknown:
    case TokenType.userDefined:
      // Written as-is, not in the byte-level alphabet.
      return utf8.encode(text);
    case TokenType.byte: {
      const m = BYTE_TOKEN.exec(text);
      return m ? Uint8Array.of(Number.parseInt(m[1], 16)) : byteLevelToBytes(text);
    }
    default:
      return byteLevelToBytes(text);
  }
}

export function buildTokenBytes(tokens: readonly string[], types: readonly number[]): TokenBytesTable {
  const parts = tokens.map((t, id) => tokenTextToBytes(t, types[id]));
  const offsets = new Int32Array(tokens.length + 1);
  for (let i = 0; i < parts.length; i++) offsets[i + 1] = offsets[i] + parts[i].length;
  const bytes = new Uint8Array(offsets[tokens.length]);
  parts.forEach((p, i) => {
    bytes.set(p, offsets[i]);
  });
  return { bytes, offsets };
}
