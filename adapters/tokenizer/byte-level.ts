/**
 * GPT-2's byte-level alphabet: every byte 0..255 is written as one printable
 * Unicode character, so BPE tokens are plain strings that never contain
 * whitespace or control characters. Printable Latin-1 bytes stand for
 * themselves; the other 68 bytes map to U+0100.. in byte order (so ' ' is 'Ġ'
 * and '\n' is 'Ċ').
 */

function buildByteToChar(): string[] {
  const chars: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : next++);
  }
  return chars;
}

/** [256] the character that stands for each byte. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b]));

/** The byte-level string of raw bytes (what a BPE token's text looks like). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

/**
 * Raw bytes of a byte-level string. A character outside the alphabet (a
 * hand-made token, say) is kept as its own UTF-8 bytes rather than dropped.
 */
export function byteLevelToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    const byte = CHAR_TO_BYTE.get(code);
    if (byte !== undefined) out.push(byte);
    else for (const b of utf8.encode(ch)) out.push(b);
  }
  return Uint8Array.from(out);
}

const utf8 = new TextEncoder();

/**
 * Appends the UTF-8 bytes of `text` to `out` starting at `at` and returns the
 * new end. `out` must hold 3 bytes per UTF-16 unit. Lone surrogates become
 * U+FFFD, as TextEncoder does.
 */
export function writeUtf8(text: string, out: Uint8Array, at: number): number {
  let p = at;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = c;
      continue;
    }
    if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[p++] = 0xf0 | (c >> 18);
        out[p++] = 0x80 | ((c >> 12) & 63);
        out[p++] = 0x80 | ((c >> 6) & 63);
        out[p++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd;
    }
    out[p++] = 0xe0 | (c >> 12);
    out[p++] = 0x80 | ((c >> 6) & 63);
    out[p++] = 0x80 | (c & 63);
  }
  return p;
}
