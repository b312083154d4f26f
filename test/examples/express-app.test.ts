/** examples/express-app.ts runs: its own route and canopy under /llm, on the tiny model. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type ExampleApp } from '../../examples/express-app.js';
import { useTinyModel } from '../adapters/targets/embedded/tiny-model.js';
import { json } from '../plugins/proxy/helpers.js';

const tiny = useTinyModel();
let example: ExampleApp;
let server: Server;
let base: string;

beforeAll(async () => {
  example = createApp({ embedded: { model: tiny(), name: 'tiny' }, log: { level: 'silent' } });
  await example.llm.ready;
  server = example.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await example?.llm.close(0);
  await new Promise((r) => server?.close(r));
});

describe('examples/express-app.ts', () => {
  it('serves its own route and an OpenAI API under /llm', async () => {
    expect(await json(await fetch(`${base}/`))).toMatchObject({ openai: '/llm/v1' });
    const client = new OpenAI({ baseURL: `${base}/llm/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.completions.create({
      model: 'tiny',
      prompt: 'Hello',
      max_tokens: 8,
      temperature: 0,
    });
    expect(completion.usage?.completion_tokens).toBe(8);
    expect(typeof completion.choices[0].text).toBe('string');
  });
});
