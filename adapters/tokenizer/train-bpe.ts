/**
 * Learns byte-level BPE merges from a text, the classic way (Sennrich et al.
 * 2016; GPT-2's byte alphabet): split with a pre-tokenizer, then repeatedly
 * merge the most frequent adjacent pair, ties broken by the pair's text so the
 * result depends on the text alone. Meant for small synthetic vocabularies
 * (the tiny test model), not for training real tokenizers.
 */
import { BYTE_TO_CHAR } from './byte-level.js';
import type { PreTokenizer } from './pre-tokenizers.js';

const utf8 = new TextEncoder();

/** Up to `maxMerges` merges (`left right`, rank order); stops when no pair occurs twice. */
export function learnByteBpe(text: string, pre: PreTokenizer, maxMerges: number): string[] {
  const counts = new Map<string, number>();
  for (const piece of pre.split(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const words = [...counts].map(([piece, count]) => ({
    symbols: Array.from(utf8.encode(piece), (b) => BYTE_TO_CHAR[b]),
    count,
  }));

  const merges: string[] = [];
  while (merges.length < maxMerges) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    merges.push(best);
    const [left, right] = best.split(' ');
    for (const word of words) word.symbols = mergePair(word.symbols, left, right);
  }
  return merges;
}

function mergePair(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}
