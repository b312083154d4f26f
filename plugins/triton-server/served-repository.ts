/**
 * The repository Triton actually serves: a copy of the given one in which
 * every canopy_lm-style model (a config with a `model_name` parameter) names
 * its converted model by absolute directory and carries the facts the Triton
 * target reads from the config (docs/triton-wire.md): vocabulary, layers,
 * hidden size, context, EOS ids. A canopy_eagle-style model (a config with
 * a `head` parameter) gets the head the `eagle` drafter would use for that
 * model and the LM-head rows of its draft vocabulary (`lm_head.f32`); with no
 * head for the model it is left out. Other models are linked, not copied.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { headSha256, locateHead } from '../../adapters/drafters/eagle/head-file.js';
import { loadHeadModel } from '../../adapters/drafters/eagle/head-model.js';
import { loadManifest, type ModelManifest } from '../../adapters/model-store/index.js';
import { CanopyError } from '../../kernels/errors.js';

const CONFIG = 'config.pbtxt';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The string value of a `parameters` entry written as `{ key: "k", value: { string_value: "v" } }`. */
export function readParameter(config: string, key: string): string | undefined {
  const m = new RegExp(
    `key:\\s*"${escapeRegExp(key)}"\\s*,?\\s*value:\\s*\\{\\s*string_value:\\s*"([^"]*)"`,
  ).exec(config);
  return m?.[1];
}

/** Sets (or adds) a string parameter. */
export function setParameter(config: string, key: string, value: string): string {
  const quoted = JSON.stringify(value);
  const entry = new RegExp(
    `(key:\\s*"${escapeRegExp(key)}"\\s*,?\\s*value:\\s*\\{\\s*string_value:\\s*)"[^"]*"`,
  );
  if (entry.test(config)) return config.replace(entry, (_, head: string) => `${head}${quoted}`);
  const line = `  { key: "${key}", value: { string_value: ${quoted} } }`;
  const block = /parameters\s*\[\s*\n?/.exec(config);
  if (!block) return `${config.trimEnd()}\n\nparameters [\n${line}\n]\n`;
  const at = block.index + block[0].length;
  return `${config.slice(0, at)}${line},\n${config.slice(at)}`;
}

/** Fills a canopy_lm config from the manifest of the model it will run. */
export function fillConfig(config: string, dir: string, manifest: ModelManifest): string {
  const facts: Record<string, string> = {
    model_name: manifest.name,
    model_dir: dir,
    vocab_size: String(manifest.vocabSize),
    num_layers: String(manifest.numLayers),
    hidden_size: String(manifest.hiddenSize),
    max_context: String(manifest.maxContext),
    eos_token_ids: manifest.eosTokenIds.join(','),
  };
  let out = config;
  for (const [key, value] of Object.entries(facts)) out = setParameter(out, key, value);
  // The input declares the capability; without a layer-skip graph there is none to declare.
  if (manifest.files.layerSkipGraph === undefined) out = out.replace(/^.*name:\s*"skip_layers".*\n/m, '');
  return out;
}

/** What went into the served repository: models filled, and models left out with the reason. */
export interface ServedRepository {
  readonly filled: string[];
  readonly skipped: { readonly name: string; readonly reason: string }[];
}

export interface ServeOptions {
  /** A cache name or a directory; overrides every config's own `model_name`. */
  readonly model?: string;
  /** An eagle head graph for every head model; overrides each config's `head`. */
  readonly eagleHead?: string;
}

/**
 * Fills a canopy_eagle config and writes its LM-head rows into `to`; the head
 * is `explicit` or found as the drafter finds it. Throws
 * CANOPY_ERR_DRAFTER_INCOMPATIBLE when the model has no head.
 */
function fillHeadModel(
  config: string,
  to: string,
  dir: string,
  manifest: ModelManifest,
  explicit?: string,
): string {
  const head = locateHead(explicit === undefined ? undefined : resolve(explicit), dir, {
    model: manifest.name,
    vocabSize: manifest.vocabSize,
    hiddenSize: manifest.hiddenSize,
    numLayers: manifest.numLayers,
  });
  const model = loadHeadModel(head, dir);
  try {
    const lmHead = join(to, 'lm_head.f32');
    const rows = model.lmHead;
    writeFileSync(lmHead, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    let out = setParameter(config, 'model_name', manifest.name);
    out = setParameter(out, 'head_graph', resolve(head.graph));
    // Clients draft with their own copy of the head's metadata: this proves it is the same head.
    out = setParameter(out, 'head_sha256', headSha256(head.graph));
    return setParameter(out, 'lm_head_file', lmHead);
  } finally {
    model.close();
  }
}

/** Writes the served copy of `source` into `target` (replacing it). */
export function prepareServedRepository(
  source: string,
  target: string,
  options: ServeOptions = {},
): ServedRepository {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  const filled: string[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const configFile = join(from, CONFIG);
    const config = entry.isDirectory() && existsSync(configFile) ? readFileSync(configFile, 'utf8') : '';
    const name = readParameter(config, 'model_name');
    if (name === undefined) {
      symlinkSync(from, join(target, entry.name));
      continue;
    }
    const { dir, manifest } = loadManifest(options.model ?? name);
    const to = join(target, entry.name);
    cpSync(from, to, { recursive: true, filter: (path) => !path.includes('__pycache__') });
    const head = readParameter(config, 'head');
    if (head === undefined) {
      writeFileSync(join(to, CONFIG), fillConfig(config, dir, manifest));
    } else {
      try {
        const explicit = options.eagleHead ?? (head === '' ? undefined : head);
        writeFileSync(join(to, CONFIG), fillHeadModel(config, to, dir, manifest, explicit));
      } catch (error) {
        // No head for this model is normal (heads are trained per model): serve the rest.
        if (!(error instanceof CanopyError) || error.code !== 'CANOPY_ERR_DRAFTER_INCOMPATIBLE') throw error;
        rmSync(to, { recursive: true, force: true });
        skipped.push({ name: entry.name, reason: error.message });
        continue;
      }
    }
    filled.push(entry.name);
  }
  return { filled, skipped };
}
