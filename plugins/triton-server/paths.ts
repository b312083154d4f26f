/**
 * Where the Triton tooling keeps its files: the project root (the directory of
 * canopy's package.json), the Python environment under `.venv/triton`, and the
 * run directory `.triton-run/` with the server's state file and log. Both are
 * git-ignored; CANOPY_TRITON_VENV moves the environment elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'canopy') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no canopy package.json above ${start}`);
    dir = parent;
  }
}

/** The canopy project (or installed package) root; works from source and from dist/. */
export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** The reference model repository shipped with canopy. */
export const DEFAULT_MODEL_REPOSITORY = join(PROJECT_ROOT, 'models', 'triton');

/** Pinned Python requirements of the server side. */
export const REQUIREMENTS_FILE = join(DEFAULT_MODEL_REPOSITORY, 'requirements.txt');

export const DEFAULT_RUN_DIR = join(PROJECT_ROOT, '.triton-run');

export function venvDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CANOPY_TRITON_VENV ? resolve(env.CANOPY_TRITON_VENV) : join(PROJECT_ROOT, '.venv', 'triton');
}
