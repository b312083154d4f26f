import { describe, expect, it } from 'vitest';
import { createTokenizer, TokenType, tinyTokenizerFile } from '../../../adapters/tokenizer/index.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { exportTokenizer } from '../../../models/convert/tokenizer-export.js';

const tiny = tinyTokenizerFile();

/** GGUF metadata as a converter of the tiny vocabulary would write it. */
function ggufMetadata(overrides: Record<string, unknown> = {}): Map<string, unknown> {
  return new Map<string, unknown>(
    Object.entries({
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'smollm',
      'tokenizer.ggml.tokens': tiny.tokens,
      'tokenizer.ggml.token_type': Int32Array.from(tiny.tokenTypes),
      'tokenizer.ggml.merges': tiny.merges,
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2n,
      'tokenizer.ggml.unknown_token_id': 0,
      'tokenizer.ggml.padding_token_id': 2,
      'tokenizer.ggml.add_bos_token': false,
      'tokenizer.chat_template': tiny.chatTemplate,
      ...overrides,
    }).filter(([, v]) => v !== undefined),
  );
}

function errorOf(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isCanopyError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected an error');
}

describe('exportTokenizer', () => {
  it('turns GGUF metadata into a tokenizer that encodes as the source vocabulary does', () => {
    const file = exportTokenizer(ggufMetadata());
    expect(file.pre).toBe('smollm');
    expect(file.bosTokenId).toBe(1);
    expect(file.eosTokenId).toBe(2);
    expect(file.chatTemplate).toBe(tiny.chatTemplate);
    const text = 'Exported: 1984 ünïcode 🤖 <|im_end|>';
    expect(Array.from(createTokenizer(file).encode(text))).toEqual(
      Array.from(createTokenizer(tiny).encode(text)),
    );
  });

  it('accepts the metadata as a plain object too', () => {
    const asObject = Object.fromEntries(ggufMetadata());
    expect(exportTokenizer(asObject)).toEqual(exportTokenizer(ggufMetadata()));
  });

  it('makes end-of-generation tokens stop tokens and control tokens, wherever they are', () => {
    const tokens = [...tiny.tokens, '<|eot_id|>'];
    const file = exportTokenizer(
      ggufMetadata({
        'tokenizer.ggml.tokens': tokens,
        'tokenizer.ggml.token_type': [...tiny.tokenTypes, TokenType.normal],
      }),
    );
    expect(file.stopTokenIds).toEqual([0, 2, tokens.length - 1]);
    expect(file.tokenTypes.at(-1)).toBe(TokenType.control);
  });

  it('defaults a missing pre-tokenizer to llama.cpp default and BOS to what the family expects', () => {
    expect(exportTokenizer(ggufMetadata({ 'tokenizer.ggml.pre': undefined })).pre).toBe('default');
    const llama3 = exportTokenizer(
      ggufMetadata({ 'tokenizer.ggml.pre': 'llama-bpe', 'tokenizer.ggml.add_bos_token': undefined }),
    );
    expect(llama3.addBos).toBe(true);
    expect(exportTokenizer(ggufMetadata({ 'tokenizer.ggml.pre': 'starcoder' })).pre).toBe('smollm');
  });

  it('treats missing token types as normal and ignores special ids outside the vocabulary', () => {
    const file = exportTokenizer(
      ggufMetadata({ 'tokenizer.ggml.token_type': undefined, 'tokenizer.ggml.padding_token_id': 1_000_000 }),
    );
    expect(file.tokenTypes.filter((t) => t !== TokenType.normal)).toEqual([
      TokenType.control,
      TokenType.control,
    ]);
    expect(file.padTokenId).toBeNull();
  });

  it('names SentencePiece and other unsupported tokenizer models', () => {
    const spm = errorOf(() => exportTokenizer(ggufMetadata({ 'tokenizer.ggml.model': 'llama' })));
    expect(spm.code).toBe('CANOPY_ERR_UNSUPPORTED_ARCHITECTURE');
    expect(spm.message).toContain("'llama' (SentencePiece)");
    const bert = errorOf(() => exportTokenizer(ggufMetadata({ 'tokenizer.ggml.model': 'bert' })));
    expect(bert.message).toContain("'bert'");
  });

  it('names an unsupported pre-tokenizer', () => {
    const error = errorOf(() => exportTokenizer(ggufMetadata({ 'tokenizer.ggml.pre': 'chameleon' })));
    expect(error.code).toBe('CANOPY_ERR_UNSUPPORTED_ARCHITECTURE');
    expect(error.message).toContain("'chameleon'");
  });

  it('rejects missing or malformed vocabularies as an invalid GGUF', () => {
    expect(errorOf(() => exportTokenizer(ggufMetadata({ 'tokenizer.ggml.merges': undefined }))).code).toBe(
      'CANOPY_ERR_GGUF_INVALID',
    );
    expect(errorOf(() => exportTokenizer(ggufMetadata({ 'tokenizer.ggml.token_type': [1, 1] }))).code).toBe(
      'CANOPY_ERR_GGUF_INVALID',
    );
    expect(errorOf(() => exportTokenizer(ggufMetadata({ 'tokenizer.ggml.tokens': [1, 2, 3] }))).code).toBe(
      'CANOPY_ERR_GGUF_INVALID',
    );
  });
});
