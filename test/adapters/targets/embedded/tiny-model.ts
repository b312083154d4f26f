/**
 * The tiny random model for tests: converted once per test file into a
 * private temporary directory (parallel runs never share a half-written
 * one), removed after the file's tests. Call at the top level of a file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { prepareModel } from '../../../../models/convert/prepare-model.js';

/** Returns a getter for the tiny model's directory, valid from the first beforeAll on. */
export function useTinyModel(seed = 0): () => string {
  let root: string | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'canopy-tiny-'));
    dir = (await prepareModel({ tiny: true, seed, dir: join(root, `tiny-random-${seed}`) })).dir;
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('the tiny model is prepared in beforeAll; read it inside hooks or tests');
    return dir;
  };
}
