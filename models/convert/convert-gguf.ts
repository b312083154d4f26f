/**
 * GGUF → model directory (docs/model-format.md): checks everything first,
 * then streams the weights into `model.onnx.data`, writes the two graphs
 * that share it, the tokenizer file, a copy of the source GGUF, and the
 * manifest last, so that a directory with a manifest is always complete.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { MANIFEST_FILE, type ModelManifest, writeManifest } from '../../adapters/model-store/index.js';
import { ExternalDataWriter } from './external-data.js';
import { openGguf } from './gguf-reader.js';
import { buildLlamaGraph, CONVERTER_REVISION } from './llama-graph.js';
import { llamaParamsFromGguf } from './llama-params.js';
import { checkLlamaTensors, dominantQuantization, writeLlamaWeights } from './llama-weights.js';
import { encodeOnnxModel } from './onnx-model.js';
import { exportTokenizer } from './tokenizer-export.js';

export const CONVERTER_VERSION = `canopy-convert/${CONVERTER_REVISION}`;

export const MODEL_FILES = {
  graph: 'model.onnx',
  layerSkipGraph: 'model-skip.onnx',
  weights: 'model.onnx.data',
  tokenizer: 'tokenizer.json',
  gguf: 'source.gguf',
} as const;

/** A step of a long operation; `total` is 0 when unknown. */
export interface ProgressEvent {
  readonly step: string;
  readonly done: number;
  readonly total: number;
  readonly unit: 'bytes' | 'tensors' | 'steps';
}
export type ProgressSink = (event: ProgressEvent) => void;

export interface ConvertOptions {
  /** The GGUF to convert; copied into the directory unless it is already `source.gguf` there. */
  readonly gguf: string;
  readonly outDir: string;
  readonly name: string;
  /** Original file name for the manifest (defaults to the GGUF's base name). */
  readonly sourceName?: string;
  /** The GGUF's sha256 when the caller already knows it. */
  readonly sha256?: string;
  readonly onProgress?: ProgressSink;
}

/** Streams a file through sha256. */
export async function sha256File(path: string, onProgress?: ProgressSink): Promise<string> {
  const hash = createHash('sha256');
  const total = statSync(path).size;
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.({ step: 'checksum', done, total, unit: 'bytes' });
  }
  return hash.digest('hex');
}

/** Converts a llama-family GGUF into a complete model directory and returns its manifest. */
export async function convertGguf(options: ConvertOptions): Promise<ModelManifest> {
  const outDir = resolve(options.outDir);
  const report = options.onProgress;
  const file = openGguf(options.gguf);
  try {
    // Everything that can be refused is refused before a byte is written.
    const params = llamaParamsFromGguf(file);
    checkLlamaTensors(file, params);
    const tokenizer = exportTokenizer(file.metadata);

    mkdirSync(outDir, { recursive: true });
    rmSync(join(outDir, MANIFEST_FILE), { force: true });
    for (const leftover of readdirSync(outDir).filter((f) => f.endsWith('.partial'))) {
      rmSync(join(outDir, leftover), { force: true }); // from an interrupted conversion
    }
    // Every file is written under a temporary name and renamed into place: a process that
    // still maps the old files (onnxruntime, llama.cpp) keeps reading the old inodes intact.
    const staged: string[] = [];
    const stage = (name: string) => {
      staged.push(name);
      return join(outDir, `${name}.${process.pid}.partial`);
    };
    const source = join(outDir, MODEL_FILES.gguf);
    if (resolve(options.gguf) !== source) copyFileSync(options.gguf, stage(MODEL_FILES.gguf));
    const sha256 = options.sha256 ?? (await sha256File(options.gguf, report));

    const data = new ExternalDataWriter(stage(MODEL_FILES.weights), MODEL_FILES.weights);
    let weights: ReturnType<typeof writeLlamaWeights>;
    try {
      weights = writeLlamaWeights(file, params, data, (p) =>
        report?.({
          step: 'dequantize + write weights',
          done: p.tensorsDone,
          total: p.tensorsTotal,
          unit: 'tensors',
        }),
      );
    } finally {
      data.close();
    }

    const graphs = [
      [MODEL_FILES.graph, false],
      [MODEL_FILES.layerSkipGraph, true],
    ] as const;
    for (const [i, [name, layerSkip]] of graphs.entries()) {
      report?.({ step: 'write ONNX graphs', done: i, total: graphs.length, unit: 'steps' });
      writeFileSync(stage(name), encodeOnnxModel(buildLlamaGraph(params, weights, { layerSkip })));
    }
    report?.({ step: 'write ONNX graphs', done: graphs.length, total: graphs.length, unit: 'steps' });
    writeFileSync(stage(MODEL_FILES.tokenizer), `${JSON.stringify(tokenizer)}\n`);
    for (const name of staged) renameSync(join(outDir, `${name}.${process.pid}.partial`), join(outDir, name));

    const eos = new Set([...params.eosTokenIds, ...tokenizer.stopTokenIds]);
    return writeManifest(outDir, {
      format: 1,
      name: options.name,
      architecture: params.architecture,
      vocabSize: params.vocabSize,
      hiddenSize: params.hiddenSize,
      numLayers: params.numLayers,
      numHeads: params.numHeads,
      numKvHeads: params.numKvHeads,
      headDim: params.headDim,
      ffnSize: params.ffnSize,
      ropeTheta: params.ropeTheta,
      ropeScale: params.ropeScale,
      rmsEps: params.rmsEps,
      maxContext: params.maxContext,
      bosTokenId: params.bosTokenId,
      eosTokenIds: [...eos].sort((a, b) => a - b),
      tiedEmbeddings: params.tiedEmbeddings,
      dtype: 'float32',
      source: {
        file: options.sourceName ?? basename(options.gguf),
        sha256,
        quantization: dominantQuantization(file),
      },
      converter: CONVERTER_VERSION,
      files: { ...MODEL_FILES },
    });
  } finally {
    file.close();
  }
}
