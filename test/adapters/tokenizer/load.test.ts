import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenizer, loadTokenizer, tinyTokenizerFile } from '../../../adapters/tokenizer/index.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-tokenizer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('loadTokenizer', () => {
  const file = tinyTokenizerFile();
  const text = 'Loaded from disk: 42 🐍';

  it('loads a model directory, a tokenizer.json path, or the object itself', async () => {
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(file));
    const expected = Array.from(createTokenizer(file).encode(text));
    for (const source of [dir, join(dir, 'tokenizer.json'), file]) {
      expect(Array.from((await loadTokenizer(source)).encode(text))).toEqual(expected);
    }
  });

  it('uses the tokenizer file the manifest names', async () => {
    const sub = mkdtempSync(join(dir, 'named-'));
    writeFileSync(join(sub, 'manifest.json'), JSON.stringify({ files: { tokenizer: 'vocab.json' } }));
    writeFileSync(join(sub, 'vocab.json'), JSON.stringify(file));
    expect((await loadTokenizer(sub)).vocabSize).toBe(file.tokens.length);
  });

  it('reports a missing file, bad JSON and a malformed file with their codes', async () => {
    expect(await codeOf(loadTokenizer(join(dir, 'nope')))).toBe('CANOPY_ERR_NOT_FOUND');
    writeFileSync(join(dir, 'bad.json'), '{ not json');
    expect(await codeOf(loadTokenizer(join(dir, 'bad.json')))).toBe('CANOPY_ERR_MODEL_INVALID');
    writeFileSync(join(dir, 'short.json'), JSON.stringify({ ...file, tokenTypes: file.tokenTypes.slice(1) }));
    expect(await codeOf(loadTokenizer(join(dir, 'short.json')))).toBe('CANOPY_ERR_MODEL_INVALID');
    writeFileSync(join(dir, 'v2.json'), JSON.stringify({ ...file, version: 2 }));
    expect(await codeOf(loadTokenizer(join(dir, 'v2.json')))).toBe('CANOPY_ERR_MODEL_INVALID');
  });
});
