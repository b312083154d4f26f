import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest } from '../../../adapters/model-store/index.js';
import { isCanopyError } from '../../../kernels/errors.js';
import { DEFAULT_MODEL_REPOSITORY } from '../../../plugins/triton-server/paths.js';
import {
  prepareServedRepository,
  readParameter,
  setParameter,
} from '../../../plugins/triton-server/served-repository.js';
import { useTinyModel } from '../../adapters/targets/embedded/tiny-model.js';

const TINY_HEAD = fileURLToPath(
  new URL('../../adapters/drafters/eagle/fixtures/tiny-random/eagle.onnx', import.meta.url),
);

const SHIPPED = readFileSync(join(DEFAULT_MODEL_REPOSITORY, 'canopy_lm', 'config.pbtxt'), 'utf8');

function fakeModel(dir: string, layerSkip: boolean, vocabSize = 481): void {
  mkdirSync(dir, { recursive: true });
  writeManifest(dir, {
    format: 1,
    name: 'tiny-test',
    architecture: 'llama',
    vocabSize,
    hiddenSize: 64,
    numLayers: 4,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    ffnSize: 128,
    ropeTheta: 10000,
    rmsEps: 1e-5,
    maxContext: 512,
    bosTokenId: 1,
    eosTokenIds: [0, 2],
    tiedEmbeddings: true,
    dtype: 'float32',
    source: { file: 'x.gguf', sha256: '0'.repeat(64), quantization: 'Q8_0' },
    converter: 'test',
    files: {
      graph: 'model.onnx',
      weights: 'model.onnx.data',
      tokenizer: 'tokenizer.json',
      ...(layerSkip ? { layerSkipGraph: 'model-skip.onnx' } : {}),
    },
  });
}

describe('config parameters', () => {
  it('reads the shipped defaults', () => {
    expect(readParameter(SHIPPED, 'model_name')).toBe('smollm2-135m-instruct');
    expect(readParameter(SHIPPED, 'max_sessions')).toBe('64');
    expect(readParameter(SHIPPED, 'no_such_key')).toBeUndefined();
  });

  it('replaces a value in place and leaves the other parameters alone', () => {
    const out = setParameter(SHIPPED, 'max_sessions', '7');
    expect(readParameter(out, 'max_sessions')).toBe('7');
    expect(readParameter(out, 'max_kv_bytes')).toBe(readParameter(SHIPPED, 'max_kv_bytes'));
    expect(out.split('\n').length).toBe(SHIPPED.split('\n').length);
  });

  it('adds a missing parameter, with or without a parameters block', () => {
    expect(readParameter(setParameter(SHIPPED, 'extra', '/a b/c'), 'extra')).toBe('/a b/c');
    const bare = 'name: "m"\nbackend: "python"\n';
    expect(readParameter(setParameter(bare, 'model_dir', '/x'), 'model_dir')).toBe('/x');
  });
});

describe('prepareServedRepository', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'canopy-served-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('fills canopy_lm from the manifest of the model it will run', () => {
    fakeModel(join(base, 'model'), true);
    const served = join(base, 'served');
    const result = prepareServedRepository(DEFAULT_MODEL_REPOSITORY, served, { model: join(base, 'model') });
    expect(result.filled).toEqual(['canopy_lm']);
    // The model has no eagle head: canopy_eagle is left out, and why is said.
    expect(result.skipped.map((s) => s.name)).toEqual(['canopy_eagle']);
    expect(result.skipped[0].reason).toContain("no trained head for model 'tiny-test'");
    expect(existsSync(join(served, 'canopy_eagle'))).toBe(false);
    const config = readFileSync(join(served, 'canopy_lm', 'config.pbtxt'), 'utf8');
    expect(readParameter(config, 'model_dir')).toBe(join(base, 'model'));
    expect(readParameter(config, 'model_name')).toBe('tiny-test');
    expect(readParameter(config, 'vocab_size')).toBe('481');
    expect(readParameter(config, 'num_layers')).toBe('4');
    expect(readParameter(config, 'hidden_size')).toBe('64');
    expect(readParameter(config, 'max_context')).toBe('512');
    expect(readParameter(config, 'eos_token_ids')).toBe('0,2');
    expect(config).toContain('name: "skip_layers"');
    expect(existsSync(join(served, 'canopy_lm', '1', 'model.py'))).toBe(true);
    expect(existsSync(join(served, 'canopy_lm', '1', '__pycache__'))).toBe(false);
  });

  it('drops the skip_layers input when the model has no layer-skip graph', () => {
    fakeModel(join(base, 'model'), false);
    prepareServedRepository(DEFAULT_MODEL_REPOSITORY, join(base, 'served'), { model: join(base, 'model') });
    const config = readFileSync(join(base, 'served', 'canopy_lm', 'config.pbtxt'), 'utf8');
    expect(config).not.toContain('skip_layers');
    expect(config).toContain('name: "hidden_layers"');
  });

  it('links models that are not canopy_lm instead of copying them', () => {
    const source = join(base, 'repo');
    mkdirSync(join(source, 'other', '1'), { recursive: true });
    writeFileSync(join(source, 'other', 'config.pbtxt'), 'backend: "onnxruntime"\n');
    prepareServedRepository(source, join(base, 'served'));
    expect(lstatSync(join(base, 'served', 'other')).isSymbolicLink()).toBe(true);
  });

  it('refuses a model that is not prepared', () => {
    let error: unknown;
    try {
      prepareServedRepository(DEFAULT_MODEL_REPOSITORY, join(base, 'served'), {
        model: join(base, 'missing'),
      });
    } catch (e) {
      error = e;
    }
    expect(isCanopyError(error, 'CANOPY_ERR_MODEL_NOT_PREPARED')).toBe(true);
  });
});

describe('prepareServedRepository with an eagle head', () => {
  const tinyDir = useTinyModel();
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'canopy-served-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('fills canopy_eagle: head graph, its sha256, and the LM-head rows of the draft vocabulary', () => {
    const served = join(base, 'served');
    const result = prepareServedRepository(DEFAULT_MODEL_REPOSITORY, served, {
      model: tinyDir(),
      eagleHead: TINY_HEAD,
    });
    expect(result.filled.sort()).toEqual(['canopy_eagle', 'canopy_lm']);
    const config = readFileSync(join(served, 'canopy_eagle', 'config.pbtxt'), 'utf8');
    expect(readParameter(config, 'head_graph')).toBe(TINY_HEAD);
    expect(readParameter(config, 'head_sha256')).toBe(
      createHash('sha256').update(readFileSync(TINY_HEAD)).digest('hex'),
    );
    const meta = JSON.parse(readFileSync(TINY_HEAD.replace(/\.onnx$/, '.json'), 'utf8'));
    const rows = readFileSync(readParameter(config, 'lm_head_file') as string);
    expect(rows.byteLength).toBe(meta.head.draftVocab * meta.head.hidden * 4);
  });

  it('refuses a head trained for another model', () => {
    fakeModel(join(base, 'model'), false, 512);
    let error: unknown;
    try {
      prepareServedRepository(DEFAULT_MODEL_REPOSITORY, join(base, 'served'), {
        model: join(base, 'model'),
        eagleHead: TINY_HEAD,
      });
    } catch (e) {
      error = e;
    }
    expect(isCanopyError(error, 'CANOPY_ERR_DRAFTER_HEAD_MISMATCH')).toBe(true);
  });
});
