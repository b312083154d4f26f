/**
 * GGUF metadata → canopy's tokenizer file (adapters/tokenizer/file.ts).
 *
 * Supported: `tokenizer.ggml.model = gpt2` (byte-level BPE) with the
 * pre-tokenizers of adapters/tokenizer/pre-tokenizers.ts (SmolLM2's `smollm`,
 * `gpt2`, Llama 3's `llama-bpe`, `qwen2`, `default`...). Not supported, with
 * CANOPY_ERR_UNSUPPORTED_ARCHITECTURE naming them: SentencePiece (`llama`,
 * used by Llama 1/2, Mistral, TinyLlama), WordPiece (`bert`), Unigram (`t5`),
 * `rwkv` and the rest.
 *
 * Special-token rules follow llama.cpp's vocabulary loader, so that encoding
 * matches llama.cpp on the same file.
 */
import {
  canonicalPreTokenizerName,
  PRE_TOKENIZER_NAMES,
  TOKENIZER_FILE_FORMAT,
  TOKENIZER_FILE_VERSION,
  type TokenizerFile,
  TokenType,
} from '../../adapters/tokenizer/index.js';
import { CanopyError } from '../../kernels/errors.js';

export { tinyTokenizerFile } from '../../adapters/tokenizer/index.js';

/** GGUF key → value, as a Map or a plain object (arrays may be typed arrays, integers bigints). */
export type GgufMetadata = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

/** Tokenizer models GGUF names that canopy cannot tokenize, with what they are. */
const UNSUPPORTED_MODELS: Readonly<Record<string, string>> = {
  llama: 'SentencePiece',
  bert: 'WordPiece',
  t5: 'Unigram',
  rwkv: 'RWKV',
  plamo2: 'PLaMo-2',
  none: 'no tokenizer',
};

/**
 * Texts that end generation wherever they are in a vocabulary (llama.cpp's
 * EOG list); such tokens are also made control tokens, as llama.cpp does.
 */
const END_OF_GENERATION_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '<|end_of_text|>',
  '<end_of_utterance>',
]);

/** Builds the tokenizer file from a GGUF's metadata. */
export function exportTokenizer(metadata: GgufMetadata): TokenizerFile {
  const get = (key: string): unknown => (isMap(metadata) ? metadata.get(key) : metadata[key]);

  const model = optionalString(get, 'tokenizer.ggml.model');
  if (model !== 'gpt2') {
    const kind =
      model === undefined ? 'missing' : `'${model}' (${UNSUPPORTED_MODELS[model] ?? 'unknown kind'})`;
    throw new CanopyError(
      'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE',
      `tokenizer model ${kind} is not supported; canopy reads byte-level BPE tokenizers (tokenizer.ggml.model = gpt2)`,
      { details: { tokenizerModel: model ?? null } },
    );
  }
  const preName = optionalString(get, 'tokenizer.ggml.pre') ?? 'default';
  const pre = canonicalPreTokenizerName(preName);
  if (pre === undefined) {
    throw new CanopyError(
      'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE',
      `pre-tokenizer '${preName}' is not supported (supported: ${PRE_TOKENIZER_NAMES.join(', ')})`,
      { details: { preTokenizer: preName } },
    );
  }

  const tokens = stringArray(get, 'tokenizer.ggml.tokens');
  const merges = stringArray(get, 'tokenizer.ggml.merges');
  const rawTypes = get('tokenizer.ggml.token_type');
  const tokenTypes =
    rawTypes === undefined ? tokens.map(() => TokenType.normal) : numberArray(rawTypes, 'token_type');
  if (tokenTypes.length !== tokens.length) {
    invalid(`tokenizer.ggml.token_type has ${tokenTypes.length} entries for ${tokens.length} tokens`);
  }
  const badType = tokenTypes.findIndex((t) => t < TokenType.undefined || t > TokenType.byte);
  if (badType >= 0)
    invalid(`tokenizer.ggml.token_type of token ${badType} is ${tokenTypes[badType]}, not 0..6`);

  const id = (key: string): number | null => {
    const value = toNumber(get(`tokenizer.ggml.${key}_token_id`));
    // llama.cpp ignores an id outside the vocabulary; so do we.
    return value !== undefined && Number.isInteger(value) && value >= 0 && value < tokens.length
      ? value
      : null;
  };
  const eosTokenId = id('eos');
  const stop = new Set<number>();
  for (const extra of [eosTokenId, id('eot'), id('eom')]) if (extra !== null) stop.add(extra);
  tokens.forEach((text, i) => {
    if (END_OF_GENERATION_TEXTS.has(text)) {
      stop.add(i);
      tokenTypes[i] = TokenType.control;
    }
  });

  return {
    format: TOKENIZER_FILE_FORMAT,
    version: TOKENIZER_FILE_VERSION,
    model: 'byte-bpe',
    pre,
    tokens,
    tokenTypes,
    merges,
    bosTokenId: id('bos'),
    eosTokenId,
    unkTokenId: id('unknown'),
    padTokenId: id('padding'),
    stopTokenIds: [...stop].sort((a, b) => a - b),
    // Llama 3's family adds BOS unless the file says otherwise (llama.cpp's defaults).
    addBos: optionalBool(get, 'tokenizer.ggml.add_bos_token') ?? pre === 'llama-bpe',
    addEos: optionalBool(get, 'tokenizer.ggml.add_eos_token') ?? false,
    chatTemplate: optionalString(get, 'tokenizer.chat_template') ?? null,
  };
}

function isMap(m: GgufMetadata): m is ReadonlyMap<string, unknown> {
  return m instanceof Map;
}

function invalid(message: string): never {
  throw new CanopyError('CANOPY_ERR_GGUF_INVALID', message);
}

function optionalString(get: (k: string) => unknown, key: string): string | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') invalid(`${key} should be a string`);
  return v;
}

function optionalBool(get: (k: string) => unknown, key: string): boolean | undefined {
  const v = get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') invalid(`${key} should be a boolean`);
  return v;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function stringArray(get: (k: string) => unknown, key: string): string[] {
  const v = get(key);
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    invalid(`${key} is ${v === undefined ? 'missing' : 'not an array of strings'}`);
  }
  return [...(v as string[])];
}

function numberArray(v: unknown, what: string): number[] {
  const items = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number | bigint>) : v;
  if (!Array.isArray(items)) invalid(`tokenizer.ggml.${what} is not an array`);
  return items.map((x) => {
    const n = toNumber(x);
    if (n === undefined || !Number.isInteger(n)) invalid(`tokenizer.ggml.${what} holds a non-integer`);
    return n;
  });
}
