/**
 * The head artefact: `eagle.onnx` (the trained network, see models/train/export.py)
 * and `eagle.json` beside it (what it was trained for, its shape, its draft
 * vocabulary, and how it was trained). Found, in order, at the path the
 * options name, in the model's cache directory (where the training tool
 * writes), and among the heads shipped in the package (`models/heads/<model>/`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CanopyError } from '../../../kernels/errors.js';
import type { TargetInfo } from '../../target.js';

export const HEAD_GRAPH = 'eagle.onnx';
export const HEAD_META = 'eagle.json';
/** The command that trains and installs a head for a prepared model. */
export const TRAIN_COMMAND = 'python3 models/train/eagle.py --model';

const positive = z.number().int().positive();

const metaSchema = z.object({
  format: z.literal(1),
  target: z.object({
    model: z.string(),
    vocabSize: positive,
    hiddenSize: positive,
    numLayers: positive,
    /** Hidden layer the head reads (numLayers = the final-normed state). */
    featureLayer: z.number().int().nonnegative(),
    sourceSha256: z.string().optional(),
  }),
  head: z.object({
    hidden: positive,
    heads: positive,
    kvHeads: positive,
    headDim: positive,
    ffn: positive,
    ropeTheta: z.number().positive(),
    ropeScale: z.number().positive(),
    eps: z.number().positive(),
    draftVocab: positive,
  }),
  /** Target token id of each draft-vocabulary index. */
  draftVocab: z.array(z.number().int().nonnegative()),
  training: z.record(z.string(), z.unknown()).optional(),
});

export type HeadMeta = z.infer<typeof metaSchema>;

export interface HeadFile {
  readonly graph: string;
  readonly meta: HeadMeta;
}

/** Heads shipped in the package: `models/heads/` from the sources or from dist/. */
function shippedDir(): string | undefined {
  for (const up of ['../../../models/heads', '../../../../models/heads']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/** Where a head for this model may be, in search order. */
export function headCandidates(explicit: string | undefined, modelDir: string | undefined, model: string) {
  if (explicit !== undefined) return [explicit];
  const shipped = shippedDir();
  const name = modelDir ? basename(modelDir) : model;
  return [
    ...(modelDir ? [join(modelDir, HEAD_GRAPH)] : []),
    ...(shipped ? [join(shipped, name, HEAD_GRAPH)] : []),
  ];
}

function readMeta(graph: string): HeadMeta {
  const path = join(dirname(graph), basename(graph).replace(/\.onnx$/, '') + '.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CanopyError('CANOPY_ERR_MODEL_INVALID', `eagle head metadata ${path} is missing or not JSON`, {
      cause: error,
    });
  }
  const parsed = metaSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CanopyError(
      'CANOPY_ERR_MODEL_INVALID',
      `eagle head metadata ${path} is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  const meta = parsed.data;
  if (meta.draftVocab.length !== meta.head.draftVocab) {
    throw new CanopyError(
      'CANOPY_ERR_MODEL_INVALID',
      `eagle head metadata ${path} lists ${meta.draftVocab.length} draft tokens, expected ${meta.head.draftVocab}`,
    );
  }
  return meta;
}

/**
 * Finds the head for `target` and checks that it was trained for a model of
 * the same shape. No head: CANOPY_ERR_DRAFTER_INCOMPATIBLE (the engine runs
 * without the drafter), naming the command that trains one. A head for
 * another model: CANOPY_ERR_DRAFTER_HEAD_MISMATCH, naming both.
 */
export function locateHead(
  explicit: string | undefined,
  modelDir: string | undefined,
  target: Pick<TargetInfo, 'model' | 'vocabSize' | 'hiddenSize' | 'numLayers'>,
): HeadFile {
  const candidates = headCandidates(explicit, modelDir, target.model);
  const graph = candidates.find((c) => existsSync(c));
  if (graph === undefined) {
    const model = modelDir ? basename(modelDir) : target.model;
    throw new CanopyError(
      'CANOPY_ERR_DRAFTER_INCOMPATIBLE',
      `drafter 'eagle' has no trained head for model '${target.model}' (looked at ${candidates.join(', ') || 'nothing: no model directory'}); ` +
        `train one with \`${TRAIN_COMMAND} ${model}\` (docs/eagle.md)`,
      { details: { drafter: 'eagle', model: target.model, candidates } },
    );
  }
  const meta = readMeta(graph);
  const t = meta.target;
  const featureOk = t.featureLayer <= target.numLayers;
  if (
    t.vocabSize !== target.vocabSize ||
    t.hiddenSize !== target.hiddenSize ||
    t.numLayers !== target.numLayers ||
    !featureOk
  ) {
    throw new CanopyError(
      'CANOPY_ERR_DRAFTER_HEAD_MISMATCH',
      `eagle head ${graph} was trained for model '${t.model}' (vocab ${t.vocabSize}, hidden ${t.hiddenSize}, ` +
        `${t.numLayers} layers), but the target '${target.model}' has vocab ${target.vocabSize}, hidden ` +
        `${target.hiddenSize}, ${target.numLayers} layers; train a head for it with \`${TRAIN_COMMAND} ...\``,
      { details: { drafter: 'eagle', head: graph, trainedFor: t, target: target.model } },
    );
  }
  if (meta.head.hidden !== t.hiddenSize || meta.draftVocab.some((id) => id >= target.vocabSize)) {
    throw new CanopyError(
      'CANOPY_ERR_MODEL_INVALID',
      `eagle head ${graph}: its shape contradicts its own metadata`,
    );
  }
  return { graph, meta };
}

/** sha256 of a head graph, hex: how a served head (canopy_eagle's `head_sha256`) is matched to a local one. */
export function headSha256(graph: string): string {
  return createHash('sha256').update(readFileSync(graph)).digest('hex');
}
