/**
 * examples/proxy.sh end to end: Triton, canopy before it, and the requests a
 * user would send. It runs the built CLI (bin/canopy.js), so it needs
 * `npm install` / `npm run build`, and a Triton install (CANOPY_TRITON_HTTP
 * set, as .ci/run does); the tiny model keeps it quick.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = existsSync(`${ROOT}dist/plugins/cli/main.js`);

describe.runIf(process.env.CANOPY_TRITON_HTTP !== undefined && BUILT)('examples/proxy.sh', () => {
  it('starts Triton and canopy, answers generate and OpenAI chat, and stops both', async () => {
    const env = { ...process.env, CANOPY_EXAMPLE_MODEL: process.env.CANOPY_TRITON_MODEL ?? 'tiny-random' };
    const { stdout, stderr } = await promisify(execFile)('bash', ['examples/proxy.sh'], {
      cwd: ROOT,
      env,
      timeout: 300_000,
      encoding: 'utf8',
    });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('ready (answered by Triton, through canopy)');
    const generate = JSON.parse(lines[1]);
    expect(generate).toMatchObject({ model_name: 'canopy_lm', finish_reason: expect.any(String) });
    expect(generate.canopy.steps).toBeGreaterThan(0);
    expect(JSON.parse(lines[2]).choices[0].message.role).toBe('assistant');
    expect(stdout).toMatch(/^canopy_spec_decode_mean_accepted_length\{model="canopy_lm"\} [\d.]+$/m);
    expect(stderr).toContain('canopy stopped gracefully');
  });
});
