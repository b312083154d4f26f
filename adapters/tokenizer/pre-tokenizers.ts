/**
 * Pre-tokenizers: the regex splits applied before BPE, named as GGUF's
 * `tokenizer.ggml.pre` names them. Each is a sequence of regexes applied as
 * llama.cpp and HF's `Split(behavior: Isolated)` do: every regex cuts each
 * piece left by the previous one into its matches and the gaps between them,
 * and every non-empty match and gap becomes a piece. So SmolLM2's sequence
 * (a digit, then GPT-2's pattern) isolates each digit before the GPT-2 split.
 *
 * `\s` is written as `\p{White_Space}`: JS's `\s` also holds U+FEFF and lacks
 * U+0085, unlike llama.cpp and HF.
 */
import { CanopyError } from '../../kernels/errors.js';

export interface PreTokenizer {
  /** Canonical name (the first GGUF alias). */
  readonly name: string;
  /** Pieces of `text`, in order; their concatenation is `text`. */
  split(text: string): string[];
  /**
   * A piece that is itself a vocabulary token is emitted whole, without
   * running the merges (llama.cpp's `ignore_merges`, set for Llama 3).
   */
  readonly ignoreMerges: boolean;
}

const S = '\\p{White_Space}';
const NOT_S = '\\P{White_Space}';
const CONTRACTIONS_CS = "'s|'t|'re|'ve|'m|'ll|'d";
const CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

/** GPT-2's pattern. */
const GPT2 = `${CONTRACTIONS_CS}| ?\\p{L}+| ?\\p{N}+| ?[^${S}\\p{L}\\p{N}]+|${S}+(?!${NOT_S})|${S}+`;

/** Llama 3's pattern; `digits` is the number rule (`\p{N}{1,3}` for Llama 3, `\p{N}` for Qwen2). */
const llama3Like = (digits: string) =>
  `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|${digits}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|${S}*[\\r\\n]+|${S}+(?!${NOT_S})|${S}+`;

interface PreTokenizerSpec {
  readonly aliases: readonly string[];
  readonly patterns: readonly string[];
  readonly ignoreMerges?: boolean;
}

/** The families llama.cpp groups under one pre-tokenizer type; first alias = canonical name. */
const SPECS: readonly PreTokenizerSpec[] = [
  // SmolLM/StarCoder: each digit on its own, then GPT-2.
  { aliases: ['smollm', 'starcoder', 'refact', 'command-r', 'codeshell'], patterns: ['\\p{N}', GPT2] },
  { aliases: ['gpt-2', 'gpt2', 'phi-2', 'mpt', 'olmo'], patterns: [GPT2] },
  {
    aliases: ['llama-bpe', 'llama3', 'llama-v3', 'falcon3'],
    patterns: [llama3Like('\\p{N}{1,3}')],
    ignoreMerges: true,
  },
  { aliases: ['dbrx', 'smaug-bpe'], patterns: [llama3Like('\\p{N}{1,3}')] },
  { aliases: ['qwen2', 'stablelm2', 'deepseek-r1-qwen'], patterns: [llama3Like('\\p{N}')] },
  // llama.cpp's fallback for BPE vocabularies with no (or a `default`) pre-tokenizer.
  {
    aliases: ['default'],
    patterns: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  },
];

const BY_NAME: ReadonlyMap<string, PreTokenizerSpec> = new Map(
  SPECS.flatMap((spec) => spec.aliases.map((alias) => [alias, spec] as const)),
);

/** Every accepted `tokenizer.ggml.pre` name. */
export const PRE_TOKENIZER_NAMES: readonly string[] = [...BY_NAME.keys()];

/** Canonical name for a GGUF pre-tokenizer name, or undefined when unsupported. */
export function canonicalPreTokenizerName(name: string): string | undefined {
  return BY_NAME.get(name)?.aliases[0];
}

/** Builds the named pre-tokenizer; CANOPY_ERR_UNSUPPORTED_ARCHITECTURE names an unknown one. */
export function createPreTokenizer(name: string): PreTokenizer {
  const spec = BY_NAME.get(name);
  if (!spec) {
    throw new CanopyError(
      'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE',
      `pre-tokenizer '${name}' is not supported (supported: ${PRE_TOKENIZER_NAMES.join(', ')})`,
      { details: { preTokenizer: name } },
    );
  }
  const regexes = spec.patterns.map((p) => new RegExp(p, 'gu'));
  return {
    name: spec.aliases[0],
    ignoreMerges: spec.ignoreMerges ?? false,
    split(text: string): string[] {
      let pieces = text.length > 0 ? [text] : [];
      for (const re of regexes) {
        const next: string[] = [];
        for (const piece of pieces) splitIsolated(piece, re, next);
        pieces = next;
      }
      return pieces;
    },
  };
}

/** Pushes the matches of `re` in `text` and the gaps between them onto `out`. */
function splitIsolated(text: string, re: RegExp, out: string[]): void {
  re.lastIndex = 0;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (end === start) {
      re.lastIndex = start + 1;
      continue;
    }
    if (start > last) out.push(text.slice(last, start));
    out.push(text.slice(start, end));
    last = end;
  }
  if (last < text.length) out.push(text.slice(last));
}
