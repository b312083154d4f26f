/**
 * The repository Triton actually serves: a copy of the given one in which
 * every canopy_lm-style model (a config with a `model_name` parameter) names
 * its converted model by absolute directory and carries the facts the Triton
 * target reads from the config (docs/triton-wire.md): vocabulary, layers,
 * hidden size, context, EOS ids. Other models are linked, not copied.
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
import { join } from 'node:path';
import { loadManifest, type ModelManifest } from '../../adapters/model-store/index.js';

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

/**
 * Writes the served copy of `source` into `target` (replacing it) and returns
 * the models it filled. `model` (a cache name or a directory) overrides every
 * config's own `model_name`.
 */
export function prepareServedRepository(source: string, target: string, model?: string): string[] {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  const filled: string[] = [];
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const configFile = join(from, CONFIG);
    const config = entry.isDirectory() && existsSync(configFile) ? readFileSync(configFile, 'utf8') : '';
    const name = readParameter(config, 'model_name');
    if (name === undefined) {
      symlinkSync(from, join(target, entry.name));
      continue;
    }
    const { dir, manifest } = loadManifest(model ?? name);
    const to = join(target, entry.name);
    cpSync(from, to, { recursive: true, filter: (path) => !path.includes('__pycache__') });
    writeFileSync(join(to, CONFIG), fillConfig(config, dir, manifest));
    filled.push(entry.name);
  }
  return filled;
}
