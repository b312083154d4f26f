/**
 * `manifest.json`, the record that makes a model directory complete
 * (docs/model-format.md). It is written last, through a rename, so a
 * directory with a manifest is whole and one without is redone.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { CanopyError } from '../../kernels/errors.js';
import { DEFAULT_MODEL, modelDir, TINY_MODEL } from './paths.js';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 1;

const positive = z.number().int().positive();

const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    name: z.string().min(1),
    architecture: z.literal('llama'),
    vocabSize: positive,
    hiddenSize: positive,
    numLayers: positive,
    numHeads: positive,
    numKvHeads: positive,
    headDim: positive,
    ffnSize: positive,
    ropeTheta: z.number().positive(),
    /** Linear RoPE scaling (positions divided by it); 1 = none. */
    ropeScale: z.number().positive().default(1),
    rmsEps: z.number().positive(),
    maxContext: positive,
    bosTokenId: z.number().int(),
    eosTokenIds: z.array(z.number().int().nonnegative()),
    tiedEmbeddings: z.boolean(),
    dtype: z.literal('float32'),
    source: z.object({
      file: z.string(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      quantization: z.string(),
    }),
    converter: z.string(),
    files: z.object({
      /** Graph without layer skipping: every verify and prefill pass. */
      graph: z.string(),
      /** Same weights, every block behind `If(layer_mask[l])`: layer-skip drafting. */
      layerSkipGraph: z.string().optional(),
      weights: z.string(),
      tokenizer: z.string(),
      /** The GGUF the model was converted from (llama.cpp reference checks run on it). */
      gguf: z.string().optional(),
    }),
  })
  .readonly();

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ModelManifestInput = z.input<typeof manifestSchema>;

function notPrepared(nameOrDir: string, dir: string): CanopyError {
  const name = basename(dir);
  const how =
    name === DEFAULT_MODEL
      ? 'npx canopy prepare-model'
      : name.startsWith(TINY_MODEL)
        ? 'npx canopy prepare-model --tiny'
        : `npx canopy prepare-model --gguf FILE --name ${name}`;
  return new CanopyError(
    'CANOPY_ERR_MODEL_NOT_PREPARED',
    `model '${nameOrDir}' is not prepared (no ${MANIFEST_FILE} in ${dir}); run \`${how}\` first`,
    { details: { model: nameOrDir, dir } },
  );
}

/** Validates a parsed manifest; CANOPY_ERR_MODEL_INVALID says what is wrong. */
export function parseManifest(value: unknown, source: string): ModelManifest {
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CanopyError(
      'CANOPY_ERR_MODEL_INVALID',
      `${source} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/** The manifest of a prepared model, by name or directory. */
export function loadManifest(nameOrDir: string): { dir: string; manifest: ModelManifest } {
  const dir = modelDir(nameOrDir);
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw notPrepared(nameOrDir, dir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CanopyError('CANOPY_ERR_MODEL_INVALID', `${path} is not valid JSON`, { cause: error });
  }
  return { dir, manifest: parseManifest(raw, path) };
}

/** The manifest if the directory is complete, else undefined (never throws for a missing one). */
export function readManifestIfPresent(dir: string): ModelManifest | undefined {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  try {
    return parseManifest(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch {
    return undefined;
  }
}

/** Writes the manifest atomically: to a temporary name, then renamed over the final one. */
export function writeManifest(dir: string, manifest: ModelManifestInput): ModelManifest {
  const checked = parseManifest(manifest, 'new manifest');
  const path = join(dir, MANIFEST_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(checked, null, 2)}\n`);
  renameSync(tmp, path);
  return checked;
}
