/**
 * An Express app with canopy mounted at /llm: your own routes next to
 * speculative decoding, one engine shared by every request.
 *
 *   npm run build && node dist/examples/express-app.js          # embedded SmolLM2, no Triton
 *   CANOPY_UPSTREAM=http://127.0.0.1:8000 node dist/examples/express-app.js
 *
 * then, for instance:
 *   curl -X POST localhost:3000/llm/v1/chat/completions -H 'content-type: application/json' \
 *     -d '{"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi"}]}'
 *
 * In your own project, import from 'canopy' instead of '../plugins/index.js'.
 */
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { type CanopyConfigInput, type CanopyMiddleware, canopy } from '../plugins/index.js';

export interface ExampleApp {
  readonly app: express.Express;
  readonly llm: CanopyMiddleware;
}

/** The app, with canopy configured by `config` (default: the embedded model, or CANOPY_UPSTREAM). */
export function createApp(config?: CanopyConfigInput): ExampleApp {
  const llm = canopy(
    config ??
      (process.env.CANOPY_UPSTREAM ? { upstream: { http: process.env.CANOPY_UPSTREAM } } : { embedded: {} }),
  );
  const app = express();
  app.use(express.json());
  app.get('/', (_req, res) => {
    res.json({ hello: 'this app serves an LLM under /llm', openai: '/llm/v1', triton: '/llm/v2' });
  });
  app.use('/llm', llm);
  return { app, llm };
}

/** Listens on `port`; on SIGTERM stops taking connections and lets canopy finish what is in flight. */
export async function main(port = Number(process.env.PORT ?? 3000)): Promise<Server> {
  const { app, llm } = createApp();
  await llm.ready;
  const server = app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
  process.once('SIGTERM', () => {
    server.close();
    void llm.close();
  });
  return server;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
