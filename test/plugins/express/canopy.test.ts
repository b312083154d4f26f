/**
 * `app.use('/llm', canopy(config))` in a real Express app, behind the app's
 * own JSON body parser: the same routes as the proxy, one engine shared by
 * every mount of the instance, unknown paths left to the app, and close().
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import OpenAI from 'openai';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { type CanopyMiddleware, canopy } from '../../../plugins/express/index.js';
import { type ModelHost, openModelHost } from '../../../plugins/host/model-host.js';
import { useTinyModel } from '../../adapters/targets/embedded/tiny-model.js';
import { json, metric, plainText, post } from '../proxy/helpers.js';

const tiny = useTinyModel();
let middleware: CanopyMiddleware;
let server: Server;
let base: string;
let plain: ModelHost;

beforeAll(async () => {
  middleware = canopy(
    { embedded: { model: tiny(), name: 'tiny' }, defaults: { maxTokens: 100 } },
    { logger: pino({ level: 'silent' }) },
  );
  const app = express();
  app.use(express.json());
  app.get('/hello', (_req, res) => void res.json({ hello: 'world' }));
  app.use('/llm', middleware);
  app.use('/again', middleware);
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await middleware.ready;
  plain = await openModelHost({ model: tiny(), drafters: [] });
});

afterAll(async () => {
  await middleware?.close(0);
  await new Promise((r) => server?.close(r));
  await plain?.dispose();
});

describe('canopy() as Express middleware', () => {
  it('serves OpenAI chat under the mount path with plain decoding’s text', async () => {
    const client = new OpenAI({ baseURL: `${base}/llm/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Say hi.' }];
    const chat = await client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 24,
      temperature: 0,
    });
    expect(chat.choices[0].message.content).toBe(
      await plainText(plain, plain.tokenizer.encodeChat(messages), 24, GREEDY),
    );
  });

  it('serves generate under the mount path even after the app’s JSON body parser read the body', async () => {
    const res = await post(`${base}/llm/v2/models/tiny/generate`, { text_input: 'Hi', max_tokens: 8 });
    expect(res.status).toBe(200);
    expect((await json(res)).canopy.completionTokens).toBe(8);
    const bad = await post(`${base}/llm/v2/models/tiny/generate`, { text_input: 'Hi', max_tokens: 101 });
    expect((await json(bad)).code).toBe('CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE');
  });

  it('shares one engine between its mounts, as its metrics show', async () => {
    await post(`${base}/again/v2/models/tiny/generate`, { text_input: 'Hi', max_tokens: 5 });
    const text = await (await fetch(`${base}/llm/metrics`)).text();
    expect(metric(text, 'canopy_requests_total', { model: 'tiny', route: 'generate', outcome: 'ok' })).toBe(
      2,
    );
  });

  it('leaves the app’s own routes and unknown paths to the app', async () => {
    expect(await json(await fetch(`${base}/hello`))).toEqual({ hello: 'world' });
    const res = await fetch(`${base}/llm/elsewhere`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/html/); // Express's own 404, not canopy's
  });

  it('refuses a configuration typo at once, naming the key', () => {
    let error: unknown;
    try {
      canopy({ embedded: { modle: 'x' } } as never);
    } catch (e) {
      error = e;
    }
    expect(isCanopyError(error, 'CANOPY_ERR_INVALID_CONFIG')).toBe(true);
    expect((error as Error).message).toMatch(
      /canopy\(\) options: unknown key 'embedded\.modle' \(did you mean 'model'\?\)/,
    );
  });

  it('after close(), answers 503 CANOPY_ERR_SHUTTING_DOWN', async () => {
    const other = canopy(
      { embedded: { model: tiny(), name: 'tiny' } },
      { logger: pino({ level: 'silent' }) },
    );
    const app = express().use(other);
    const s = app.listen(0, '127.0.0.1');
    await new Promise((r) => s.once('listening', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    await other.ready;
    await other.close();
    const res = await post(`${url}/v2/models/tiny/generate`, { text_input: 'Hi' });
    expect(res.status).toBe(503);
    expect((await json(res)).code).toBe('CANOPY_ERR_SHUTTING_DOWN');
    await new Promise((r) => s.close(r));
  });
});
