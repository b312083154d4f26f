/**
 * The text of a finished generation: its tokens' shown bytes (special tokens
 * have none), cut before the stop string when one ended it, decoded as UTF-8
 * once (so no character is split). The stop matcher counts the same bytes
 * (model-host.ts stopTextTable), so `stop.textBytes` is where the text ends.
 */
import type { Tokenizer } from '../../adapters/tokenizer/index.js';
import type { GenerateResult } from '../../engine/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function outputText(tokenizer: Tokenizer, result: GenerateResult): string {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const id of result.tokens) {
    const bytes = tokenizer.isSpecial(id) ? EMPTY : tokenizer.tokenBytes(id);
    parts.push(bytes);
    length += bytes.length;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  const end = result.stop ? Math.min(result.stop.textBytes, length) : length;
  return utf8.decode(all.subarray(0, end));
}

const EMPTY = new Uint8Array(0);
