/**
 * Where prepared models live: `$CANOPY_HOME/models/<name>/`, with CANOPY_HOME
 * defaulting to `$XDG_CACHE_HOME/canopy`, else `~/.cache/canopy`
 * (docs/model-format.md). Never inside the repository, never in git.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { CanopyError } from '../../kernels/errors.js';

/** The name of the default model, everywhere (CLI, API, served model name). */
export const DEFAULT_MODEL = 'smollm2-135m-instruct';

/** The name `--tiny` gives the default tiny model; other seeds get `tiny-random-<seed>`. */
export const TINY_MODEL = 'tiny-random';

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/i;

export function canopyHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CANOPY_HOME) return resolve(env.CANOPY_HOME);
  const cache = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(cache, 'canopy');
}

/** Checks a model name (it becomes a directory name). */
export function checkModelName(name: string): string {
  if (!NAME.test(name) || name.includes('..')) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `model name '${name}' must be letters, digits, '.', '_' or '-' (at most 128)`,
      { details: { name } },
    );
  }
  return name;
}

/**
 * The directory of a model: a name resolves under the cache; anything that
 * looks like a path (has a separator, or starts with '.') is used as is.
 */
export function modelDir(nameOrDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (
    isAbsolute(nameOrDir) ||
    nameOrDir.includes('/') ||
    nameOrDir.includes('\\') ||
    nameOrDir.startsWith('.')
  ) {
    return resolve(nameOrDir);
  }
  return join(canopyHome(env), 'models', checkModelName(nameOrDir));
}
