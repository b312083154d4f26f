/**
 * canopy's tokenizer file (`tokenizer.json` in a model directory, see
 * docs/model-format.md): everything needed to turn text into the model's token
 * ids and back, taken from the GGUF metadata by models/convert/tokenizer-export.ts.
 *
 * Vocabulary:
 * - *byte-level BPE*: GPT-2 style BPE whose symbols are bytes written as
 *   printable characters (see byte-level.ts); the only model family supported.
 * - *pre-tokenizer*: the regex split applied before BPE, named as in GGUF's
 *   `tokenizer.ggml.pre` (see pre-tokenizers.ts).
 * - *special* token: a control or user-defined token, matched as a whole in
 *   the text rather than built by merges (control ones only when asked).
 */
import { z } from 'zod';
import { CanopyError } from '../../kernels/errors.js';

export const TOKENIZER_FILE_FORMAT = 'canopy-tokenizer';
export const TOKENIZER_FILE_VERSION = 1;

/** Token types, numbered as GGUF's `tokenizer.ggml.token_type` (llama.cpp's llama_token_type). */
export const TokenType = {
  undefined: 0,
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;
export type TokenTypeCode = (typeof TokenType)[keyof typeof TokenType];

const tokenId = z.number().int().nonnegative().nullable();

const tokenizerFileSchema = z
  .object({
    format: z.literal(TOKENIZER_FILE_FORMAT),
    version: z.literal(TOKENIZER_FILE_VERSION),
    /** Only `byte-bpe` (GGUF `tokenizer.ggml.model` = `gpt2`). */
    model: z.literal('byte-bpe'),
    /** Pre-tokenizer name (pre-tokenizers.ts). */
    pre: z.string().min(1),
    /** [vocabSize] token text as stored in GGUF (byte-level characters for normal tokens). */
    tokens: z.array(z.string()),
    /** [vocabSize] TokenType codes. */
    tokenTypes: z.array(z.number().int().min(0).max(6)),
    /** Merges in rank order, each `left right`. */
    merges: z.array(z.string()),
    bosTokenId: tokenId,
    eosTokenId: tokenId,
    unkTokenId: tokenId,
    padTokenId: tokenId,
    /** Tokens that end generation: EOS, end-of-turn and their kin (llama.cpp's EOG set). */
    stopTokenIds: z.array(z.number().int().nonnegative()),
    addBos: z.boolean(),
    addEos: z.boolean(),
    /** Jinja chat template (HF style), or null when the model has none. */
    chatTemplate: z.string().nullable(),
  })
  .readonly();

export type TokenizerFile = z.infer<typeof tokenizerFileSchema>;

/** Validates a parsed tokenizer file; CANOPY_ERR_MODEL_INVALID says what is wrong. */
export function parseTokenizerFile(value: unknown, source = 'tokenizer file'): TokenizerFile {
  const parsed = tokenizerFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') || '(root)' : '(root)';
    throw new CanopyError('CANOPY_ERR_MODEL_INVALID', `${source} is invalid at ${where}: ${issue?.message}`, {
      cause: parsed.error,
      details: { source },
    });
  }
  const file = parsed.data;
  const n = file.tokens.length;
  if (file.tokenTypes.length !== n) {
    throw new CanopyError(
      'CANOPY_ERR_MODEL_INVALID',
      `${source}: ${n} tokens but ${file.tokenTypes.length} token types`,
    );
  }
  const ids = [file.bosTokenId, file.eosTokenId, file.unkTokenId, file.padTokenId, ...file.stopTokenIds];
  for (const id of ids) {
    if (id !== null && id >= n) {
      throw new CanopyError(
        'CANOPY_ERR_MODEL_INVALID',
        `${source}: special token id ${id} is outside the vocabulary (${n})`,
      );
    }
  }
  return file;
}
