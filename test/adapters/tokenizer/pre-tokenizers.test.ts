import { describe, expect, it } from 'vitest';
import { createPreTokenizer, PRE_TOKENIZER_NAMES } from '../../../adapters/tokenizer/pre-tokenizers.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { randomText, seededRandom } from './random-text.js';

const split = (name: string, text: string) => createPreTokenizer(name).split(text);

describe('pre-tokenizers', () => {
  it('cut text into pieces that concatenate back to it, for every name', () => {
    const rand = seededRandom(5);
    const texts = Array.from({ length: 100 }, () => randomText(rand));
    for (const name of PRE_TOKENIZER_NAMES) {
      const pre = createPreTokenizer(name);
      for (const text of texts) {
        const pieces = pre.split(text);
        expect(pieces.join('')).toBe(text);
        expect(pieces.every((p) => p.length > 0)).toBe(true);
      }
    }
  });

  it('isolate every digit for smollm, in any script, away from the space before it', () => {
    expect(split('smollm', 'in 2024')).toEqual(['in', ' ', '2', '0', '2', '4']);
    expect(split('smollm', '٣४²')).toEqual(['٣', '४', '²']);
  });

  it('keep digit runs whole with their leading space for gpt2', () => {
    expect(split('gpt2', 'in 2024')).toEqual(['in', ' 2024']);
  });

  it('group digits by three for llama 3 and one by one for qwen2', () => {
    expect(split('llama-bpe', '1234567')).toEqual(['123', '456', '7']);
    expect(split('qwen2', '123')).toEqual(['1', '2', '3']);
  });

  it('leave the last space of a run to the word after it', () => {
    expect(split('gpt2', 'a   b')).toEqual(['a', '  ', ' b']);
    expect(split('gpt2', 'a   ')).toEqual(['a', '   ']);
  });

  it('treat contractions case-sensitively for gpt2 and case-insensitively for llama 3', () => {
    expect(split('gpt2', "it's IT'S")).toEqual(['it', "'s", ' IT', "'", 'S']);
    expect(split('llama-bpe', "IT'S")).toEqual(['IT', "'S"]);
  });

  it('count U+0085 as whitespace and U+FEFF as not, like llama.cpp and HF', () => {
    expect(split('gpt2', 'a\u0085\u0085b')).toEqual(['a', '\u0085', '\u0085', 'b']);
    expect(split('gpt2', '\ufeff\ufeff')).toEqual(['\ufeff\ufeff']);
  });

  it('name the pre-tokenizer they do not know', () => {
    try {
      createPreTokenizer('jais-2000');
      expect.unreachable();
    } catch (error) {
      expect(isCanopyError(error, 'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE')).toBe(true);
      expect((error as Error).message).toContain('jais-2000');
    }
  });
});
