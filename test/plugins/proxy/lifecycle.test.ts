/**
 * What surrounds a request: its one log line and its metrics, cancellation
 * when the client goes away, and a graceful shutdown that finishes (or,
 * out of patience, cancels) the streams in flight.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../plugins/config/index.js';
import { startCanopyServer } from '../../../plugins/proxy/index.js';
import { json, MODEL, metric, post, sseData, useTinyServer } from './helpers.js';

const get = useTinyServer();

/** Waits until `check` holds (the server logs a request after its response is out). */
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Reads a stream until its first event, then returns the reader. */
async function firstEvent(res: Response) {
  const reader = res.body!.getReader();
  const { value } = await reader.read();
  return { reader, first: new TextDecoder().decode(value) };
}

describe('metrics and logs', () => {
  it('counts drafts, accepted tokens by position and by drafter, and logs one line per request', async () => {
    const { url, logs } = get();
    const before = await (await fetch(`${url}/metrics`)).text();
    const res = await post(`${url}/v2/models/${MODEL}/generate`, {
      text_input: 'Hello world',
      max_tokens: 40,
    });
    const { canopy } = await json(res);
    const after = await (await fetch(`${url}/metrics`)).text();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metric(after, name, { model: MODEL, ...labels }) - metric(before, name, { model: MODEL, ...labels });

    expect(delta('canopy_spec_decode_num_steps_total')).toBe(canopy.steps);
    expect(delta('canopy_spec_decode_num_accepted_tokens_total')).toBe(canopy.acceptedTokens);
    expect(delta('canopy_spec_decode_num_draft_tokens_total')).toBe(canopy.draftedTokens);
    expect(delta('canopy_spec_decode_num_accepted_tokens_per_pos_total', { position: '0' })).toBeGreaterThan(
      0,
    );
    for (const [drafter, n] of Object.entries(canopy.acceptedByDrafter as Record<string, number>)) {
      expect(delta('canopy_spec_decode_drafter_accepted_tokens_total', { drafter })).toBe(n);
    }
    expect(delta('canopy_spec_decode_verify_latency_seconds_count')).toBe(canopy.steps);
    expect(delta('canopy_spec_decode_budget_count')).toBe(canopy.steps);
    expect(metric(after, 'canopy_spec_decode_mean_accepted_length', { model: MODEL })).toBeGreaterThan(1);
    expect(delta('canopy_requests_total', { route: 'generate', outcome: 'ok' })).toBe(1);
    expect(delta('canopy_generation_tokens_total')).toBe(40);

    await until(() => logs.some((l) => l.route === 'generate' && l.completionTokens === 40));
    const line = logs.filter((l) => l.route === 'generate').at(-1)!;
    expect(line).toMatchObject({ model: MODEL, status: 200, msg: 'request', stats: { steps: canopy.steps } });
  });

  it('logs a refused request with its code', async () => {
    const { url, logs } = get();
    await post(`${url}/v1/completions`, { model: MODEL, prompt: 'x', max_tokens: -1 });
    await until(() => logs.some((l) => l.route === 'completions' && l.status === 400));
    const line = logs.filter((l) => l.route === 'completions').at(-1)!;
    expect(line.error).toMatchObject({ code: 'CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE' });
  });
});

describe('client disconnect', () => {
  it('cancels the generation: the request ends as cancelled long before its token limit', async () => {
    const { url, logs } = get();
    const controller = new AbortController();
    const res = await post(
      `${url}/v2/models/${MODEL}/generate_stream`,
      { text_input: 'Hello', parameters: { max_tokens: 480, speculate: false } },
      { signal: controller.signal },
    );
    await firstEvent(res);
    controller.abort();
    await until(() =>
      logs.some(
        (l) =>
          l.route === 'generate_stream' && (l.error as { code?: string })?.code === 'CANOPY_ERR_CANCELLED',
      ),
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metric(metrics, 'canopy_requests_total', { route: 'generate_stream', outcome: 'cancelled' })).toBe(
      1,
    );
    // The server goes on serving.
    const ok = await post(`${url}/v2/models/${MODEL}/generate`, { text_input: 'Hello', max_tokens: 4 });
    expect(ok.status).toBe(200);
  });
});

describe('graceful shutdown', () => {
  async function privateServer(shutdownGraceMs: number) {
    const config = loadConfig({
      file: false,
      env: {},
      overrides: { server: { port: 0, shutdownGraceMs }, embedded: { model: get().model, name: MODEL } },
    });
    return startCanopyServer(config, { logger: pino({ level: 'silent' }) });
  }

  it('lets a stream in flight finish, and refuses new connections meanwhile', async () => {
    const server = await privateServer(30_000);
    const res = await post(`${server.http}/v2/models/${MODEL}/generate_stream`, {
      text_input: 'Hello',
      parameters: { max_tokens: 300, speculate: false },
    });
    const { reader, first } = await firstEvent(res);
    const closing = server.close();
    await expect(fetch(`${server.http}/v2/health/ready`)).rejects.toThrow();
    let text = first;
    for (let r = await reader.read(); !r.done; r = await reader.read())
      text += new TextDecoder().decode(r.value);
    await closing;
    const last = JSON.parse(sseData(text).at(-1)!);
    expect(last).toMatchObject({ finish_reason: 'length', canopy: { completionTokens: 300 } });
  });

  it('cancels what is still running when the grace period ends, with an error event saying why', async () => {
    const server = await privateServer(50);
    const res = await post(`${server.http}/v2/models/${MODEL}/generate_stream`, {
      text_input: 'Hello',
      parameters: { max_tokens: 480, speculate: false },
    });
    const { reader, first } = await firstEvent(res);
    await server.close();
    let text = first;
    for (let r = await reader.read(); !r.done; r = await reader.read())
      text += new TextDecoder().decode(r.value);
    expect(JSON.parse(sseData(text).at(-1)!)).toMatchObject({ code: 'CANOPY_ERR_SHUTTING_DOWN' });
  });
});
