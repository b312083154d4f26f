/**
 * `canopy serve --embedded`: no Triton at all. It prints its endpoints,
 * answers, and on SIGTERM finishes the stream in flight before it returns 0.
 * Start-up mistakes are exit code 1 with a stable code.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../../plugins/cli/main.js';
import { useTinyModel } from '../../../adapters/targets/embedded/tiny-model.js';
import { json, post, sseData } from '../../proxy/helpers.js';
import { captureOutput } from './capture-output.js';

const tiny = useTinyModel();
const dir = mkdtempSync(join(tmpdir(), 'canopy-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { out, err } = captureOutput();

async function endpoints(): Promise<{ http: string; grpc: string | null }> {
  for (let i = 0; i < 600 && out.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  return JSON.parse(out[0]);
}

describe('canopy serve', () => {
  it('serves the embedded model with no Triton, and shuts down gracefully on SIGTERM', async () => {
    const exit = main(['serve', '--embedded', '--model', tiny(), '--port', '0', '--log-level', 'silent']);
    const { http, grpc } = await endpoints();
    expect(http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(grpc).toBeNull();
    const models = await json(await fetch(`${http}/v1/models`));
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['tiny-random']);

    const stream = await post(`${http}/v2/models/tiny-random/generate_stream`, {
      text_input: 'Hello',
      parameters: { max_tokens: 200, speculate: false },
    });
    const reader = stream.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    process.emit('SIGTERM');
    for (let r = await reader.read(); !r.done; r = await reader.read())
      text += new TextDecoder().decode(r.value);
    expect(JSON.parse(sseData(text).at(-1)!)).toMatchObject({
      finish_reason: 'length',
      canopy: { completionTokens: 200 },
    });
    expect(await exit).toBe(0);
    await expect(fetch(`${http}/v2/health/ready`)).rejects.toThrow();
  });

  it('refuses contradictory flags and configuration typos with exit code 1 and a stable code', async () => {
    expect(await main(['serve', '--embedded', '--upstream', 'http://127.0.0.1:1'])).toBe(1);
    expect(err.join('\n')).toContain('CANOPY_ERR_INVALID_ARGUMENT');

    const file = join(dir, 'canopy.config.json');
    writeFileSync(file, JSON.stringify({ embedded: {}, server: { hots: '0.0.0.0' } }));
    err.length = 0;
    expect(await main(['serve', '--config', file])).toBe(1);
    expect(err.join('\n')).toMatch(
      /canopy serve: .*canopy\.config\.json: unknown key 'server\.hots' \(did you mean 'host'\?\).*\[CANOPY_ERR_INVALID_CONFIG\]/,
    );

    err.length = 0;
    expect(await main(['serve', '--config', join(dir, 'absent.yaml'), '--embedded'])).toBe(1);
    expect(err.join('\n')).toContain('CANOPY_ERR_INVALID_CONFIG');
  });
});
