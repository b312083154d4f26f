import { describe, expect, it } from 'vitest';
import { parseTokenizerFile, TokenType, tinyTokenizerFile } from '../../../adapters/tokenizer/index.js';

describe('tiny tokenizer', () => {
  it('is a valid tokenizer file of at most 1024 tokens, specials first and then the 256 bytes', () => {
    const file = parseTokenizerFile(tinyTokenizerFile());
    expect(file.tokens.length).toBeLessThanOrEqual(1024);
    expect(file.tokens.slice(0, 3)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
    expect(file.tokenTypes.slice(0, 3)).toEqual([TokenType.control, TokenType.control, TokenType.control]);
    expect(new Set(file.tokens.slice(3, 259)).size).toBe(256);
    expect(file.merges.length).toBeGreaterThan(100);
  });

  it('learns the same vocabulary every time', () => {
    const a = JSON.stringify(tinyTokenizerFile({ vocabSize: 300 }));
    const b = JSON.stringify(tinyTokenizerFile({ vocabSize: 301 }));
    expect(JSON.parse(b).merges.slice(0, 41)).toEqual(JSON.parse(a).merges);
  });

  it('holds every merge result as a token', () => {
    const file = tinyTokenizerFile();
    const tokens = new Set(file.tokens);
    for (const merge of file.merges) expect(tokens.has(merge.replace(' ', ''))).toBe(true);
  });
});
