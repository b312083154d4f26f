/** The tokenizer adapter: canopy's tokenizer file, its loader, and the tiny test vocabulary. */
export { byteLevelToBytes, bytesToByteLevel } from './byte-level.js';
export type { ChatMessage, ChatTemplateOptions } from './chat-template.js';
export {
  parseTokenizerFile,
  TOKENIZER_FILE_FORMAT,
  TOKENIZER_FILE_VERSION,
  type TokenizerFile,
  TokenType,
  type TokenTypeCode,
} from './file.js';
export { loadTokenizer } from './load.js';
export { canonicalPreTokenizerName, PRE_TOKENIZER_NAMES } from './pre-tokenizers.js';
export type { DecodeOptions, StreamDecoder } from './stream-decoder.js';
export { CHATML_TEMPLATE, TINY_VOCAB_SIZE, tinyTokenizerFile } from './tiny.js';
export { createTokenizer, type EncodeOptions, type Tokenizer } from './tokenizer.js';
