/**
 * Incremental detokenization for streaming: a token may end in the middle of
 * a UTF-8 character (byte-level BPE splits emoji and CJK across tokens), so
 * the decoder holds the incomplete tail until the rest arrives and emits only
 * whole characters. Concatenating every `push` and the final `flush` gives
 * exactly `decode(ids)`. Bytes that can never form a character come out as
 * U+FFFD, as soon as that is certain.
 */

export interface DecodeOptions {
  /** Leave out control and unknown tokens (`<|im_end|>`...). Default false. */
  readonly skipSpecial?: boolean;
}

export interface StreamDecoder {
  /** Text completed by this token (often '', never half a character). */
  push(id: number): string;
  /** Text still held (incomplete bytes become U+FFFD); the decoder can then be reused. */
  flush(): string;
}

/** What a stream decoder needs from the tokenizer. */
export interface TokenSource {
  tokenBytes(id: number): Uint8Array;
  isSpecial(id: number): boolean;
}

export function createStreamDecoder(source: TokenSource, options: DecodeOptions = {}): StreamDecoder {
  const skipSpecial = options.skipSpecial ?? false;
  // ignoreBOM: a U+FEFF the model writes first is text, not a byte-order mark.
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  return {
    push(id) {
      const bytes = source.tokenBytes(id);
      if (skipSpecial && source.isSpecial(id)) return '';
      return decoder.decode(bytes, { stream: true });
    },
    flush() {
      return decoder.decode();
    },
  };
}
