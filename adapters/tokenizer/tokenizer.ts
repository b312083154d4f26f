/**
 * The tokenizer: text ⇄ token ids for one model, built from its TokenizerFile.
 * Encoding follows llama.cpp step for step (special-token split, regex
 * pre-tokenizer, byte-level BPE), so ids match what llama.cpp feeds the same
 * GGUF; decoding is the exact byte inverse (no space clean-up).
 */
import { CanopyError } from '../../kernels/errors.js';
import { createBpe } from './bpe.js';
import { bytesToByteLevel, writeUtf8 } from './byte-level.js';
import { type ChatMessage, type ChatTemplateOptions, createChatTemplate } from './chat-template.js';
import { type TokenizerFile, TokenType } from './file.js';
import { createPreTokenizer } from './pre-tokenizers.js';
import { createSpecialSplitter } from './special-split.js';
import { createStreamDecoder, type DecodeOptions, type StreamDecoder } from './stream-decoder.js';
import { buildTokenBytes } from './token-bytes.js';

export interface EncodeOptions {
  /**
   * Match control tokens written in the text (`<|im_start|>`) as single
   * tokens. Off by default: user text must not smuggle control tokens in.
   */
  readonly parseSpecial?: boolean;
  /** Add BOS/EOS where the model asks for them (`addBos`/`addEos`). Default false. */
  readonly addSpecial?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Tokens that end generation (EOS, end-of-turn...). */
  readonly stopTokenIds: readonly number[];
  /** Canonical pre-tokenizer name, e.g. `smollm`. */
  readonly preTokenizer: string;
  encode(text: string, options?: EncodeOptions): Int32Array<ArrayBuffer>;
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** Raw bytes of one token (a view: do not modify). May be part of a UTF-8 character. */
  tokenBytes(id: number): Uint8Array;
  /** Control and unknown tokens: the ones `skipSpecial` drops. */
  isSpecial(id: number): boolean;
  /** Renders the model's chat template (see chat-template.ts for errors). */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /**
   * Chat prompt ids: the rendered template, special tokens parsed, BOS added
   * where the model wants one unless the template already wrote it.
   */
  encodeChat(messages: readonly ChatMessage[], options?: ChatTemplateOptions): Int32Array<ArrayBuffer>;
  /** Incremental decoder that never splits a UTF-8 character. */
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
}

// ignoreBOM: a leading U+FEFF is text the model wrote, not a byte-order mark.
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Pieces cached per tokenizer before the cache starts over (bounds memory). */
const PIECE_CACHE_LIMIT = 100_000;
/** Longer pieces (a run of spaces, a base64 blob) are rare enough not to be kept. */
const CACHED_PIECE_MAX_LENGTH = 256;

export function createTokenizer(file: TokenizerFile): Tokenizer {
  const { tokens, tokenTypes } = file;
  const vocabSize = tokens.length;
  const pre = createPreTokenizer(file.pre);
  const bpe = createBpe({ tokens, merges: file.merges });
  const splitter = createSpecialSplitter(tokens, tokenTypes);
  const table = buildTokenBytes(tokens, tokenTypes);
  const special = Uint8Array.from(tokenTypes, (t) =>
    t === TokenType.control || t === TokenType.unknown ? 1 : 0,
  );
  const text = (id: number | null) => (id === null ? '' : tokens[id]);
  const template = createChatTemplate(file.chatTemplate, {
    bos_token: text(file.bosTokenId),
    eos_token: text(file.eosTokenId),
    unk_token: text(file.unkTokenId),
    pad_token: text(file.padTokenId),
  });

  const cache = new Map<string, readonly number[]>();
  let scratch = new Uint8Array(1024);

  const encodePiece = (piece: string, out: number[]) => {
    const hit = cache.get(piece);
    if (hit) {
      for (const id of hit) out.push(id);
      return;
    }
    if (scratch.length < piece.length * 3) scratch = new Uint8Array(piece.length * 6);
    const end = writeUtf8(piece, scratch, 0);
    const ids: number[] = [];
    const whole = pre.ignoreMerges ? bpe.idOf(bytesToByteLevel(scratch.subarray(0, end))) : -1;
    if (whole >= 0) ids.push(whole);
    else bpe.encodeBytes(scratch, 0, end, ids);
    if (piece.length <= CACHED_PIECE_MAX_LENGTH) {
      if (cache.size >= PIECE_CACHE_LIMIT) cache.clear();
      cache.set(piece, ids);
    }
    for (const id of ids) out.push(id);
  };

  const checkId = (id: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new CanopyError(
        'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
        `token id ${id} is outside the vocabulary (${vocabSize})`,
        {
          details: { id, vocabSize },
        },
      );
    }
  };

  const tokenizer: Tokenizer = {
    vocabSize,
    bosTokenId: file.bosTokenId,
    eosTokenId: file.eosTokenId,
    stopTokenIds: Object.freeze([...file.stopTokenIds]),
    preTokenizer: pre.name,

    encode(input, options = {}) {
      const out: number[] = [];
      if (options.addSpecial && file.addBos && file.bosTokenId !== null) out.push(file.bosTokenId);
      for (const fragment of splitter.split(input, options.parseSpecial ?? false)) {
        if (typeof fragment === 'number') out.push(fragment);
        else for (const piece of pre.split(fragment)) encodePiece(piece, out);
      }
      if (options.addSpecial && file.addEos && file.eosTokenId !== null) out.push(file.eosTokenId);
      return Int32Array.from(out);
    },

    decode(ids, options = {}) {
      const skip = options.skipSpecial ?? false;
      let total = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        checkId(id);
        if (!(skip && special[id])) total += table.offsets[id + 1] - table.offsets[id];
      }
      const bytes = new Uint8Array(total);
      let at = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (skip && special[id]) continue;
        bytes.set(table.bytes.subarray(table.offsets[id], table.offsets[id + 1]), at);
        at += table.offsets[id + 1] - table.offsets[id];
      }
      return utf8Decoder.decode(bytes);
    },

    tokenBytes(id) {
      checkId(id);
      return table.bytes.subarray(table.offsets[id], table.offsets[id + 1]);
    },

    isSpecial(id) {
      checkId(id);
      return special[id] === 1;
    },

    applyChatTemplate: (messages, options) => template.render(messages, options),

    encodeChat(messages, options) {
      const ids = tokenizer.encode(template.render(messages, options), {
        parseSpecial: true,
        addSpecial: true,
      });
      const bos = file.bosTokenId;
      const doubled = file.addBos && ids.length > 1 && ids[0] === bos && ids[1] === bos;
      return doubled ? ids.slice(1) : ids;
    },

    createStreamDecoder: (options) => createStreamDecoder(tokenizer, options),
  };
  return tokenizer;
}
