/**
 * Every HTTP route of canopy on one Express router: the proxy server mounts
 * it at `/`, the Express middleware wherever the user's app puts it.
 *
 *   GET  /metrics                                   Prometheus (when metrics.enabled)
 *   GET  /v1/models, POST /v1/completions, POST /v1/chat/completions
 *   POST /v2/models/{m}[/versions/{v}]/generate | generate_stream | infer
 *   GET  /v2/models/{m}[/versions/{v}][/ready | /config]
 *   GET  /v2, /v2/health/live, /v2/health/ready
 *   *    /v2/...                                    passes through to Triton
 *
 * Paths outside these fall through to the next handler (`next()`).
 */
import { Router } from 'express';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyCore } from './core.js';
import { generateHandler } from './generate-routes.js';
import { sendError } from './http-errors.js';
import { inferHandler } from './http-infer.js';
import { modelViewHandler, serverViewHandler } from './kserve-local.js';
import { chatCompletionsHandler, completionsHandler, modelsHandler } from './openai-routes.js';

export function createRouter(core: CanopyCore): Router {
  const router = Router();
  if (core.config.metrics.enabled) {
    router.get('/metrics', async (_req, res) => {
      const text = await core.metrics.render();
      res.status(200).set('content-type', core.metrics.contentType).send(text);
    });
  }
  router.get('/v1/models', modelsHandler(core));
  router.post('/v1/completions', completionsHandler(core));
  router.post('/v1/chat/completions', chatCompletionsHandler(core));

  for (const base of ['/v2/models/:model', '/v2/models/:model/versions/:version']) {
    router.post(`${base}/generate`, generateHandler(core, false));
    router.post(`${base}/generate_stream`, generateHandler(core, true));
    router.post(`${base}/infer`, inferHandler(core));
    router.get(base, modelViewHandler(core, 'metadata'));
    router.get(`${base}/ready`, modelViewHandler(core, 'ready'));
    router.get(`${base}/config`, modelViewHandler(core, 'config'));
  }
  router.get('/v2', serverViewHandler(core, 'metadata'));
  router.get('/v2/health/live', serverViewHandler(core, 'live'));
  router.get('/v2/health/ready', serverViewHandler(core, 'ready'));
  router.all('/v2/*rest', async (req, res) => {
    if (core.passThrough) await core.passThrough.forward(req, res);
    else sendError(res, notFound(req.method, req.originalUrl), 'triton');
  });
  return router;
}

export function notFound(method: string, url: string): CanopyError {
  return new CanopyError(
    'CANOPY_ERR_NOT_FOUND',
    `no route for ${method} ${url} (see docs/serving.md for the routes)`,
    {
      details: { method, url },
    },
  );
}
