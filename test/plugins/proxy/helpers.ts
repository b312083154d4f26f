/**
 * Shared by the proxy tests: a real canopy server on port 0 over the tiny
 * model (embedded), its log lines, and the reference every answer is held
 * to: plain decoding of the same prompt by a separate engine.
 */
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { SamplingParams } from '../../../kernels/sampling-params.js';
import { type CanopyConfigInput, loadConfig } from '../../../plugins/config/index.js';
import { type ModelHost, openModelHost } from '../../../plugins/host/model-host.js';
import { outputText } from '../../../plugins/host/output-text.js';
import { type CanopyServer, startCanopyServer } from '../../../plugins/proxy/index.js';
import { useTinyModel } from '../../adapters/targets/embedded/tiny-model.js';

export const MODEL = 'tiny';

export interface TinyServer {
  readonly server: CanopyServer;
  /** Parsed log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** The reference engine: plain decoding, no drafters. */
  readonly plain: ModelHost;
  readonly url: string;
  /** The tiny model's directory. */
  readonly model: string;
}

/** One server (and one reference engine) for the whole file. */
export function useTinyServer(overrides: CanopyConfigInput = {}): () => TinyServer {
  const tiny = useTinyModel();
  let state: TinyServer | undefined;
  beforeAll(async () => {
    const logs: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const config = loadConfig({
      file: false,
      env: {},
      overrides: {
        ...overrides,
        server: { port: 0, ...overrides.server },
        embedded: { model: tiny(), name: MODEL, ...overrides.embedded },
      },
    });
    const server = await startCanopyServer(config, { logger });
    const plain = await openModelHost({ model: tiny(), drafters: [] });
    state = { server, logs, plain, url: server.http, model: tiny() };
  });
  afterAll(async () => {
    await state?.server.close(0);
    await state?.plain.dispose();
  });
  return () => {
    if (!state) throw new Error('the server starts in beforeAll');
    return state;
  };
}

/** What plain decoding makes of these prompt tokens. */
export async function plainText(
  host: ModelHost,
  prompt: Int32Array,
  maxNewTokens: number,
  sampling: SamplingParams,
  stop: readonly string[] = [],
): Promise<string> {
  const result = await host.engine.generate({ prompt, maxNewTokens, sampling, stop, speculate: false });
  return outputText(host.tokenizer, result);
}

/** A JSON body; its shape is what the assertions check. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions that read them
export async function json(res: Response): Promise<any> {
  return res.json();
}

export function post(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

/** The `data:` payloads of a server-sent-events body. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
}

/** The value of one sample in Prometheus text, or 0 when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{ ]+)(?:\{([^}]*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries(
      (m[2] ?? '')
        .split(',')
        .filter((p) => p !== '')
        .map((p) => {
          const [k, v] = p.split('=');
          return [k, JSON.parse(v)];
        }),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return 0;
}
