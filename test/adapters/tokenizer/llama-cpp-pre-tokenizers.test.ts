/**
 * Every pre-tokenizer family against llama.cpp: SmolLM2's real vocabulary is
 * written into vocabulary-only GGUFs that differ only in
 * `tokenizer.ggml.pre`, and llama.cpp tokenizes with each. The names are the
 * ones llama.cpp itself accepts. Runs with CANOPY_MODEL_TESTS=1 (it needs the
 * prepared SmolLM2 model and llama.cpp's binary).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, loadManifest } from '../../../adapters/model-store/index.js';
import {
  createTokenizer,
  parseTokenizerFile,
  type TokenizerFile,
} from '../../../adapters/tokenizer/index.js';
import { openLlamaCpp } from '../../../bench/llama-cpp.js';
import { type GgufEntry, writeGguf } from '../../../models/convert/gguf-writer.js';
import { exportTokenizer } from '../../../models/convert/tokenizer-export.js';
import { randomText, SPECIAL_LOOKALIKES, seededRandom, specBenchTurns, TRICKY_TEXTS } from './random-text.js';

/** One llama.cpp name per family canopy supports, plus aliases that map onto a family. */
const PRE_NAMES = [
  'smollm',
  'starcoder',
  'gpt-2',
  'llama-bpe',
  'llama3',
  'dbrx',
  'qwen2',
  'stablelm2',
  'default',
];

/** A vocabulary-only GGUF: llama hyper-parameters (never used) and the tokenizer under test. */
function vocabGguf(file: TokenizerFile, pre: string): [string, GgufEntry][] {
  const u32 = (value: number): GgufEntry => ({ type: 'u32', value });
  const entries: [string, GgufEntry][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['llama.block_count', u32(1)],
    ['llama.context_length', u32(512)],
    ['llama.embedding_length', u32(64)],
    ['llama.feed_forward_length', u32(128)],
    ['llama.attention.head_count', u32(4)],
    ['llama.attention.head_count_kv', u32(4)],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: pre }],
    ['tokenizer.ggml.tokens', { type: 'strings', value: file.tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32s', value: file.tokenTypes }],
    ['tokenizer.ggml.merges', { type: 'strings', value: file.merges }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ];
  for (const [key, id] of [
    ['bos', file.bosTokenId],
    ['eos', file.eosTokenId],
  ] as const) {
    if (id !== null) entries.push([`tokenizer.ggml.${key}_token_id`, u32(id)]);
  }
  return entries;
}

describe.runIf(process.env.CANOPY_MODEL_TESTS === '1')('pre-tokenizers against llama.cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canopy-pre-'));
  let smollm: TokenizerFile;
  let texts: string[];

  beforeAll(async () => {
    const { dir, manifest } = loadManifest(DEFAULT_MODEL);
    smollm = parseTokenizerFile(JSON.parse(readFileSync(join(dir, manifest.files.tokenizer), 'utf8')));
    const rand = seededRandom(77);
    texts = [
      ...TRICKY_TEXTS,
      ...specBenchTurns().slice(0, 120),
      ...Array.from({ length: 300 }, () => randomText(rand, { extra: SPECIAL_LOOKALIKES })),
    ];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(PRE_NAMES)('encodes like llama.cpp with pre-tokenizer %s', async (pre) => {
    const path = join(dir, `${pre}.gguf`);
    writeGguf(path, vocabGguf(smollm, pre), []);
    const ours = createTokenizer(
      exportTokenizer(new Map(vocabGguf(smollm, pre).map(([k, e]) => [k, e.value]))),
    );
    const llama = await openLlamaCpp(path, { vocabOnly: true });
    try {
      const mismatches = texts.filter((text) =>
        [false, true].some(
          (parseSpecial) =>
            ours.encode(text, { parseSpecial }).join(',') !==
            llama.model.tokenize(text, parseSpecial).join(','),
        ),
      );
      expect(mismatches).toEqual([]);
    } finally {
      await llama.dispose();
    }
  });
});
