/**
 * The text of a finished generation: its tokens' bytes, cut before the stop
 * string when one ended it, decoded as UTF-8 once (so no character is split).
 */
import type { Tokenizer } from '../../adapters/tokenizer/index.js';
import type { GenerateResult } from '../../engine/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function outputText(tokenizer: Tokenizer, result: GenerateResult, skipSpecial = true): string {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const id of result.tokens) {
    const bytes = skipSpecial && tokenizer.isSpecial(id) ? EMPTY : tokenizer.tokenBytes(id);
    parts.push(bytes);
    length += bytes.length;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  // textBytes counts the shown bytes (special tokens have none, model-host.ts stopTextTable) before the stop string.
  let end = length;
  if (result.stop) {
    end = 0;
    let counted = 0;
    for (const id of result.tokens) {
      const shown = tokenizer.isSpecial(id) ? 0 : tokenizer.tokenBytes(id).length;
      const kept = skipSpecial ? shown : tokenizer.tokenBytes(id).length;
      if (counted + shown > result.stop.textBytes) {
        end += Math.min(kept, result.stop.textBytes - counted);
        break;
      }
      counted += shown;
      end += kept;
    }
  }
  return utf8.decode(all.subarray(0, end));
}

const EMPTY = new Uint8Array(0);
