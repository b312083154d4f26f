/**
 * The real thing: installs (once, cached) and starts the Triton server carried
 * by nvidia-pytriton. Runs when CANOPY_TRITON_TESTS=1 (scripts/triton/test.sh
 * and CI set it); the first run needs PyPI.
 */
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { prepareModel } from '../../../models/convert/prepare-model.js';
import {
  DEFAULT_MODEL_REPOSITORY,
  isReady,
  readState,
  startTritonServer,
  stopTritonServer,
} from '../../../plugins/triton-server/index.js';
import { isAlive } from '../../../plugins/triton-server/process-util.js';

async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe.runIf(process.env.CANOPY_TRITON_TESTS === '1')('startTritonServer', () => {
  let base: string;
  let model: string;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'canopy-triton-'));
    model = join(base, 'tiny');
    await prepareModel({ tiny: true, dir: model });
  });

  afterAll(async () => {
    await stopTritonServer({ runDir: join(base, 'run') });
    await stopTritonServer({ runDir: join(base, 'broken-run') });
    rmSync(base, { recursive: true, force: true });
  });

  it('starts a ready server, finds it again, and stops it', async () => {
    const runDir = join(base, 'run');
    const { server, reused } = await startTritonServer({ model, runDir });
    expect(reused).toBe(false);
    expect(server.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.grpc).toMatch(/^grpc:\/\/127\.0\.0\.1:\d+$/);
    expect(await isReady(server.http)).toBe(true);
    const config = (await (await fetch(`${server.http}/v2/models/canopy_lm/config`)).json()) as {
      parameters: Record<string, { string_value: string }>;
    };
    expect(config.parameters.model_dir.string_value).toBe(model);

    const again = await startTritonServer({ model, runDir });
    expect(again).toEqual({ server, reused: true });

    const stopped = await stopTritonServer({ runDir });
    expect(stopped).toEqual({ pid: server.pid, killed: false });
    expect(isAlive(server.pid)).toBe(false);
    expect(readState(runDir)).toBeUndefined();
    expect(await stopTritonServer({ runDir })).toEqual({ killed: false });
  });

  it('reports a model that fails to load with the server log', async () => {
    const repository = join(base, 'broken');
    cpSync(join(DEFAULT_MODEL_REPOSITORY, 'canopy_lm'), join(repository, 'canopy_lm'), { recursive: true });
    writeFileSync(
      join(repository, 'canopy_lm', '1', 'model.py'),
      'raise RuntimeError("broken on purpose")\n',
    );
    const runDir = join(base, 'broken-run');
    const error = await failure(() => startTritonServer({ model, modelRepository: repository, runDir }));
    expect(isCanopyError(error, 'CANOPY_ERR_TRITON_START_FAILED')).toBe(true);
    expect((error as Error).message).toContain('broken on purpose');
    expect(readState(runDir)).toBeUndefined();
  });

  it('refuses a model that was never prepared before starting anything', async () => {
    const runDir = join(base, 'never-run');
    const error = await failure(() => startTritonServer({ model: join(base, 'nothing'), runDir }));
    expect(isCanopyError(error, 'CANOPY_ERR_MODEL_NOT_PREPARED')).toBe(true);
    expect(existsSync(join(runDir, 'server.log'))).toBe(false);
  });
});
