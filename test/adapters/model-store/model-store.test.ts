import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  canopyHome,
  loadManifest,
  type ModelManifestInput,
  modelDir,
  writeManifest,
} from '../../../adapters/model-store/index.js';
import { isCanopyError } from '../../../kernels/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const saved = process.env.CANOPY_HOME;
beforeEach(() => {
  process.env.CANOPY_HOME = dir;
});
afterEach(() => {
  if (saved === undefined) delete process.env.CANOPY_HOME;
  else process.env.CANOPY_HOME = saved;
});

const manifest: ModelManifestInput = {
  format: 1,
  name: 'm',
  architecture: 'llama',
  vocabSize: 10,
  hiddenSize: 8,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  ffnSize: 16,
  ropeTheta: 10000,
  rmsEps: 1e-5,
  maxContext: 32,
  bosTokenId: 1,
  eosTokenIds: [2],
  tiedEmbeddings: true,
  dtype: 'float32',
  source: { file: 'm.gguf', sha256: 'a'.repeat(64), quantization: 'F32' },
  converter: 'canopy-convert/2',
  files: { graph: 'model.onnx', weights: 'model.onnx.data', tokenizer: 'tokenizer.json' },
};

describe('model store', () => {
  it('resolves CANOPY_HOME, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(canopyHome({ CANOPY_HOME: '/srv/c' })).toBe('/srv/c');
    expect(canopyHome({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'canopy'));
    expect(canopyHome({})).toBe(join(homedir(), '.cache', 'canopy'));
  });

  it('puts names under the cache and takes paths as they are', () => {
    expect(modelDir('tiny-random')).toBe(join(dir, 'models', 'tiny-random'));
    expect(modelDir('./here')).toBe(join(process.cwd(), 'here'));
    expect(() => modelDir('a b')).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }));
  });

  it('names the command to run when a model is not prepared', () => {
    for (const [name, command] of [
      ['smollm2-135m-instruct', 'npx canopy prepare-model`'],
      ['tiny-random', 'npx canopy prepare-model --tiny'],
      ['mine', 'npx canopy prepare-model --gguf FILE --name mine'],
    ]) {
      try {
        loadManifest(name);
        expect.unreachable();
      } catch (error) {
        expect(isCanopyError(error, 'CANOPY_ERR_MODEL_NOT_PREPARED')).toBe(true);
        expect((error as Error).message).toContain(command);
      }
    }
  });

  it('writes the manifest through a rename and reads it back', () => {
    const target = modelDir('m');
    mkdirSync(target, { recursive: true });
    writeManifest(target, manifest);
    expect(readdirSync(target)).toEqual(['manifest.json']);
    expect(loadManifest('m').manifest).toMatchObject({ name: 'm', ropeScale: 1 });
  });

  it('reports what is wrong with a broken manifest', () => {
    const target = modelDir('broken');
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'manifest.json'), JSON.stringify({ ...manifest, vocabSize: -1 }));
    expect(() => loadManifest('broken')).toThrow(/vocabSize/);
  });
});
