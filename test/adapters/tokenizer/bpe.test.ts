import { describe, expect, it } from 'vitest';
import { createBpe } from '../../../adapters/tokenizer/bpe.js';
import { BYTE_TO_CHAR } from '../../../adapters/tokenizer/byte-level.js';
import { tinyTokenizerFile } from '../../../adapters/tokenizer/index.js';
import { randomText, seededRandom } from './random-text.js';

const utf8 = new TextEncoder();

/** Token texts of `text` under a vocabulary of the 256 bytes plus the merges' results. */
function encodeWith(merges: string[], text: string, heapThreshold?: number): string[] {
  const tokens = [...BYTE_TO_CHAR, ...merges.map((m) => m.replace(' ', ''))];
  const bpe = createBpe({ tokens, merges, heapThreshold });
  const bytes = utf8.encode(text);
  const ids: number[] = [];
  bpe.encodeBytes(bytes, 0, bytes.length, ids);
  return ids.map((id) => tokens[id]);
}

describe('byte-level BPE', () => {
  it('applies the merge of lowest rank first', () => {
    expect(encodeWith(['b c', 'a b'], 'abc')).toEqual(['a', 'bc']);
    expect(encodeWith(['a b', 'b c'], 'abc')).toEqual(['ab', 'c']);
  });

  it('merges the leftmost pair when the same pair occurs twice overlapping', () => {
    expect(encodeWith(['a a'], 'aaa')).toEqual(['aa', 'a']);
    expect(encodeWith(['a a', 'aa aa'], 'aaaaa')).toEqual(['aaaa', 'a']);
  });

  it('builds tokens from tokens', () => {
    expect(encodeWith(['Ġ t', 'h e', 'Ġt he'], ' the')).toEqual(['Ġthe']);
  });

  it('gives the same tokens through the heap as through the rescan', () => {
    const { tokens, merges } = tinyTokenizerFile();
    const scan = createBpe({ tokens, merges, heapThreshold: Number.POSITIVE_INFINITY });
    const heap = createBpe({ tokens, merges, heapThreshold: 0 });
    const rand = seededRandom(7);
    for (let i = 0; i < 300; i++) {
      // Whole random strings as one piece: long runs with many competing merges.
      const bytes = utf8.encode(randomText(rand, { maxRuns: 60 }).replaceAll(/\s/g, ' the '));
      const a: number[] = [];
      const b: number[] = [];
      scan.encodeBytes(bytes, 0, bytes.length, a);
      heap.encodeBytes(bytes, 0, bytes.length, b);
      expect(b).toEqual(a);
    }
  });

  it('spells a merge result missing from the vocabulary with single ASCII tokens, as llama.cpp does', () => {
    const tokens = [...BYTE_TO_CHAR];
    const bpe = createBpe({ tokens, merges: ['a b', 'Ã ©'] });
    const ids: number[] = [];
    const bytes = utf8.encode('abé');
    bpe.encodeBytes(bytes, 0, bytes.length, ids);
    expect(ids.map((id) => tokens[id])).toEqual(['a', 'b']);
  });

  it('never applies a merge line without a separating space', () => {
    expect(encodeWith(['ab'], 'ab')).toEqual(['a', 'b']);
  });
});
