import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../../plugins/cli/main.js';
import { captureOutput } from './capture-output.js';

const home = mkdtempSync(join(tmpdir(), 'canopy-cli-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const saved = process.env.CANOPY_HOME;
const { out, err } = captureOutput({ stderr: true });
beforeEach(() => {
  process.env.CANOPY_HOME = home;
});
afterEach(() => {
  if (saved === undefined) delete process.env.CANOPY_HOME;
  else process.env.CANOPY_HOME = saved;
});

describe('canopy prepare-model', () => {
  it('prepares the tiny model, prints its directory, and skips it the second time', async () => {
    expect(await main(['prepare-model', '--tiny'])).toBe(0);
    expect(out).toEqual([join(home, 'models', 'tiny-random')]);
    expect(err.join('')).toMatch(/write ONNX graphs/);
    out.length = 0;
    expect(await main(['prepare-model', '--tiny'])).toBe(0);
    expect(out).toEqual([join(home, 'models', 'tiny-random')]);
    expect(err.join('')).toMatch(/already prepared/);
  });

  it('names non-default seeds after the seed', async () => {
    expect(await main(['prepare-model', '--tiny', '--seed', '5'])).toBe(0);
    expect(out).toEqual([join(home, 'models', 'tiny-random-5')]);
  });

  it('refuses contradictory flags with a stable code', async () => {
    expect(await main(['prepare-model', '--tiny', '--gguf', 'x.gguf'])).toBe(1);
    expect(err.join('')).toContain('CANOPY_ERR_INVALID_ARGUMENT');
  });
});
