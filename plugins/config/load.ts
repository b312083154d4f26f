/**
 * Loads the configuration from its layers and validates it once:
 *
 *   built-in defaults < file < environment (CANOPY_*) < explicit overrides (CLI flags, code)
 *
 * Objects merge key by key, arrays and scalars are replaced. The target mode
 * is not merged: the highest layer that names `upstream` or `embedded` wins
 * and drops the other. Per-model settings discovered from Triton model
 * configs come later, per model (docs/serving.md, "Where settings come from").
 *
 * Each layer is checked on its own first, so an error names where it is: the
 * file, the environment variable, or the flag.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CanopyError } from '../../kernels/errors.js';
import { configFromEnv } from './env.js';
import { describeIssue, mainIssue } from './issues.js';
import { type CanopyConfig, type CanopyConfigInput, configObjectSchema, configSchema } from './schema.js';

/** Looked for in the working directory when no file is named. */
export const CONFIG_FILE_NAMES = ['canopy.config.json', 'canopy.config.yaml', 'canopy.config.yml'] as const;

export interface LoadConfigOptions {
  /** A config file; else $CANOPY_CONFIG; else the first of CONFIG_FILE_NAMES in `cwd`; false: none. */
  readonly file?: string | false;
  /** Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** The highest layer (CLI flags, or the object given to canopy()). */
  readonly overrides?: CanopyConfigInput;
  /** Name of the overrides layer in messages. Default 'the options'. */
  readonly overridesLabel?: string;
  readonly cwd?: string;
}

type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: Plain, layer: Plain, top = true): Plain {
  const out: Plain = { ...base };
  // The mode is chosen, not merged: a layer naming one drops the other from the layers below.
  if (top && layer.embedded !== undefined) delete out.upstream;
  if (top && isPlain(layer.upstream) && layer.upstream.http !== undefined) delete out.embedded;
  for (const [key, value] of Object.entries(layer)) {
    if (value === undefined) continue;
    out[key] = isPlain(value) && isPlain(out[key]) ? merge(out[key] as Plain, value, false) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function invalid(source: string, message: string, field?: string): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_CONFIG', `${source}: ${message}`, {
    details: { source, ...(field === undefined ? {} : { field }) },
  });
}

/** Reads a JSON or YAML file (by extension; anything else is tried as YAML, a superset of JSON). */
export function readConfigFile(path: string): Plain {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid(path, `cannot read the config file (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw invalid(
      path,
      `not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlain(parsed)) throw invalid(path, 'the config file must hold an object');
  return parsed;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path)
    node = isPlain(node) || Array.isArray(node) ? (node as Plain)[String(key)] : undefined;
  return node;
}

/**
 * Checks one layer alone so errors name their source. A layer may be partial
 * (the file names the upstream, a flag its gRPC port), so keys it leaves out
 * are the merged configuration's business.
 */
function checkLayer(source: string, layer: Plain): void {
  const result = configObjectSchema.safeParse(layer);
  if (result.success) return;
  const issue = result.error.issues.find(
    (i) => i.code === 'unrecognized_keys' || valueAt(layer, i.path) !== undefined,
  );
  if (issue) {
    const { field, message } = describeIssue(configObjectSchema, issue, layer);
    throw invalid(source, message, field);
  }
}

export function findConfigFile(options: LoadConfigOptions = {}): string | undefined {
  if (options.file === false) return undefined;
  const env = options.env ?? process.env;
  const named = options.file ?? env.CANOPY_CONFIG;
  if (named !== undefined) return resolve(options.cwd ?? '.', named);
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(options.cwd ?? '.', name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The validated, frozen configuration. Throws CANOPY_ERR_INVALID_CONFIG naming the source and the key. */
export function loadConfig(options: LoadConfigOptions = {}): CanopyConfig {
  const file = findConfigFile(options);
  const layers: [string, Plain][] = [];
  if (file !== undefined) layers.push([file, readConfigFile(file)]);
  layers.push(['the environment (CANOPY_*)', configFromEnv(options.env ?? process.env) as Plain]);
  if (options.overrides) layers.push([options.overridesLabel ?? 'the options', options.overrides as Plain]);

  let merged: Plain = {};
  for (const [source, layer] of layers) {
    checkLayer(source, layer);
    merged = merge(merged, layer);
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const { field, message } = describeIssue(configSchema, mainIssue(result.error.issues), merged);
    const sources = layers.filter(([, l]) => Object.keys(l).length > 0).map(([s]) => s);
    throw invalid(`configuration (${sources.join(' + ') || 'defaults'})`, message, field);
  }
  return deepFreeze(result.data);
}
