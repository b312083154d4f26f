/**
 * The real SmolLM2 tokenizer (converted by `npx canopy prepare-model`) against
 * llama.cpp's tokenizer on the very same GGUF. Runs with CANOPY_MODEL_TESTS=1.
 */
import { join } from 'node:path';
import type { Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, loadManifest } from '../../../adapters/model-store/index.js';
import { loadTokenizer, type Tokenizer } from '../../../adapters/tokenizer/index.js';
import { type LlamaCppHandle, openLlamaCpp } from '../../../bench/llama-cpp.js';
import { randomText, SPECIAL_LOOKALIKES, seededRandom, specBenchTurns, TRICKY_TEXTS } from './random-text.js';

describe.runIf(process.env.CANOPY_MODEL_TESTS === '1')('SmolLM2 tokenizer against llama.cpp', () => {
  let tokenizer: Tokenizer;
  let llama: LlamaCppHandle;

  beforeAll(async () => {
    const { dir, manifest } = loadManifest(DEFAULT_MODEL);
    tokenizer = await loadTokenizer(dir);
    const gguf = manifest.files.gguf;
    if (!gguf) throw new Error(`${dir} keeps no source GGUF; rerun \`npx canopy prepare-model --force\``);
    llama = await openLlamaCpp(join(dir, gguf), { vocabOnly: true });
  });
  afterAll(async () => {
    await llama?.dispose();
  });

  function expectSameTokens(texts: readonly string[], parseSpecial: boolean): void {
    const mismatches = texts.filter(
      (text) =>
        tokenizer.encode(text, { parseSpecial }).join(',') !==
        llama.model.tokenize(text, parseSpecial).join(','),
    );
    expect(mismatches).toEqual([]);
  }

  it('encodes every Spec-Bench turn as llama.cpp does', () => {
    const turns = specBenchTurns();
    expect(turns.length).toBeGreaterThan(400);
    expectSameTokens(turns, false);
  });

  it('encodes hand-picked hard cases as llama.cpp does, with and without special tokens', () => {
    expectSameTokens(TRICKY_TEXTS, false);
    expectSameTokens(TRICKY_TEXTS, true);
  });

  it('encodes random Unicode text as llama.cpp does, with and without special tokens', () => {
    const rand = seededRandom(2024);
    const texts = Array.from({ length: 400 }, () => randomText(rand, { extra: SPECIAL_LOOKALIKES }));
    expectSameTokens(texts, false);
    expectSameTokens(texts, true);
  });

  it('decodes to the text it encodes, and what llama.cpp decodes', () => {
    for (const text of [...TRICKY_TEXTS, ...specBenchTurns().slice(0, 50)]) {
      const ids = tokenizer.encode(text, { parseSpecial: true });
      expect(tokenizer.decode(ids)).toBe(text);
      expect(tokenizer.decode(ids)).toBe(llama.model.detokenize(Array.from(ids) as Token[], true));
    }
  });

  it('splits numbers into single digits', () => {
    const ids = Array.from(tokenizer.encode('In 1969, 3 astronauts flew 384400 km.'));
    const digitPieces = ids.map((id) => tokenizer.decode([id])).filter((piece) => /\d/.test(piece));
    expect(digitPieces.join('')).toBe('19693384400');
    expect(digitPieces.every((piece) => /^\d$/.test(piece))).toBe(true);
  });

  it('renders a two-turn conversation with its own template and default system prompt', () => {
    const messages = [
      { role: 'user', content: 'What is the capital of France?' },
      { role: 'assistant', content: 'Paris.' },
      { role: 'user', content: 'And of Italy?' },
    ];
    const text = tokenizer.applyChatTemplate(messages);
    expect(text.startsWith('<|im_start|>system\n')).toBe(true);
    expect(text).toContain('<|im_start|>user\nWhat is the capital of France?<|im_end|>\n');
    expect(text).toContain('<|im_start|>assistant\nParis.<|im_end|>\n');
    expect(text.endsWith('<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    const ids = tokenizer.encodeChat(messages);
    expect(Array.from(ids)).toEqual(llama.model.tokenize(text, true));
    expect(tokenizer.stopTokenIds).toContain(tokenizer.eosTokenId);
  });
});
