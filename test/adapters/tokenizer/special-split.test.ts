import { describe, expect, it } from 'vitest';
import { TokenType } from '../../../adapters/tokenizer/index.js';
import { createSpecialSplitter } from '../../../adapters/tokenizer/special-split.js';

const { control, userDefined, normal } = TokenType;

describe('special-token split', () => {
  const splitter = createSpecialSplitter(
    ['<s>', '<s><s>', '[TOOL]', 'a'],
    [control, control, userDefined, normal],
  );

  it('cuts at control tokens only when asked', () => {
    expect(splitter.split('x<s>y', true)).toEqual(['x', 0, 'y']);
    expect(splitter.split('x<s>y', false)).toEqual(['x<s>y']);
  });

  it('always cuts at user-defined tokens', () => {
    expect(splitter.split('call [TOOL] now', false)).toEqual(['call ', 2, ' now']);
  });

  it('lets the longer special token claim the text first', () => {
    expect(splitter.split('<s><s><s>', true)).toEqual([1, 0]);
  });

  it('never matches normal tokens and keeps empty text empty', () => {
    expect(splitter.split('banana', true)).toEqual(['banana']);
    expect(splitter.split('', true)).toEqual([]);
  });
});
