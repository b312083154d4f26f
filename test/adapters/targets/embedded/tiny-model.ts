/**
 * The tiny random model for tests, converted once per test process into a
 * private temporary directory (parallel runs never share a half-written one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareModel } from '../../../../models/convert/prepare-model.js';

const dirs = new Map<number, Promise<string>>();

/** The directory of the tiny model for `seed`, converting it on first use. */
export function tinyModelDir(seed = 0): Promise<string> {
  let dir = dirs.get(seed);
  if (!dir) {
    const root = mkdtempSync(join(tmpdir(), 'canopy-tiny-'));
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
    dir = prepareModel({ tiny: true, seed, dir: join(root, `tiny-random-${seed}`) }).then((r) => r.dir);
    dirs.set(seed, dir);
  }
  return dir;
}
