/**
 * What every drafting session of a model shares: the head's geometry and
 * draft vocabulary (from eagle.json), the target's LM-head rows of that
 * vocabulary (an input of every head pass), and the target's embedding rows.
 */
import { join } from 'node:path';
import { CanopyError } from '../../../kernels/errors.js';
import type { HeadFile } from './head-file.js';
import type { HeadGeometry } from './head-runner.js';
import { findExternalTensors, TensorRows } from './target-rows.js';

export interface HeadModel {
  readonly geometry: HeadGeometry;
  /** Hidden layer the head reads (PassOptions.hiddenLayers). */
  readonly featureLayer: number;
  /** [draftVocab] target token id of each draft index. */
  readonly draftVocab: Int32Array;
  /** [draftVocab * hidden] the target's LM-head rows of the draft vocabulary. */
  readonly lmHead: Float32Array;
  /** The target's input embeddings of `tokens`, [n * hidden] (a fresh array). */
  embed(tokens: ArrayLike<number>): Float32Array;
  close(): void;
}

/** Reads what the head needs from the target's converted model (`model.onnx` + weights). */
export function loadHeadModel(head: HeadFile, modelDir: string, graphFile = 'model.onnx'): HeadModel {
  const meta = head.meta;
  const h = meta.head.hidden;
  const found = findExternalTensors(join(modelDir, graphFile), ['token_embd', 'output']);
  const embedLoc = found.get('token_embd');
  if (!embedLoc || embedLoc.width !== h) {
    throw new CanopyError(
      'CANOPY_ERR_MODEL_INVALID',
      `drafter 'eagle': no [vocab, ${h}] token_embd tensor in ${join(modelDir, graphFile)}`,
    );
  }
  const embeddings = new TensorRows(embedLoc);
  // Untied models keep a separate LM head (`output`); tied ones read the embedding.
  const headLoc = found.get('output');
  const headRows = headLoc ? new TensorRows(headLoc, 0) : embeddings;
  const draftVocab = Int32Array.from(meta.draftVocab);
  const lmHead = new Float32Array(draftVocab.length * h);
  for (let i = 0; i < draftVocab.length; i++) lmHead.set(headRows.rowUncached(draftVocab[i]), i * h);
  if (headRows !== embeddings) headRows.close();
  const tied = headRows === embeddings;
  const draftIndex = new Map<number, number>();
  for (let i = 0; i < draftVocab.length; i++) draftIndex.set(draftVocab[i], i);

  return {
    geometry: {
      hidden: h,
      kvHeads: meta.head.kvHeads,
      headDim: meta.head.headDim,
      draftVocab: draftVocab.length,
    },
    featureLayer: meta.target.featureLayer,
    draftVocab,
    lmHead,
    embed(tokens) {
      const out = new Float32Array(tokens.length * h);
      for (let i = 0; i < tokens.length; i++) {
        const d = tied ? draftIndex.get(tokens[i]) : undefined;
        // Draft tokens' rows are already in memory when the LM head is the embedding.
        out.set(d !== undefined ? lmHead.subarray(d * h, (d + 1) * h) : embeddings.row(tokens[i]), i * h);
      }
      return out;
    },
    close: () => embeddings.close(),
  };
}
