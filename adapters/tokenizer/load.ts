/**
 * Loads a tokenizer from a TokenizerFile object, a `tokenizer.json` path, or a
 * model directory (docs/model-format.md: `manifest.json` names the file,
 * `tokenizer.json` by default).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CanopyError } from '../../kernels/errors.js';
import { parseTokenizerFile, type TokenizerFile } from './file.js';
import { createTokenizer, type Tokenizer } from './tokenizer.js';

export async function loadTokenizer(source: TokenizerFile | string): Promise<Tokenizer> {
  if (typeof source !== 'string') return createTokenizer(parseTokenizerFile(source));
  const path = (await isDirectory(source)) ? await tokenizerPathInDir(source) : source;
  return createTokenizer(parseTokenizerFile(await readJson(path), path));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    throw new CanopyError('CANOPY_ERR_NOT_FOUND', `tokenizer not found: ${path}`, { cause: error });
  }
}

async function tokenizerPathInDir(dir: string): Promise<string> {
  let name = 'tokenizer.json';
  try {
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
      files?: { tokenizer?: unknown };
    };
    if (typeof manifest.files?.tokenizer === 'string') name = manifest.files.tokenizer;
  } catch {
    // No (readable) manifest: fall back to the default file name.
  }
  return join(dir, name);
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CanopyError('CANOPY_ERR_NOT_FOUND', `tokenizer not found: ${path}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CanopyError('CANOPY_ERR_MODEL_INVALID', `${path} is not valid JSON`, { cause: error });
  }
}
