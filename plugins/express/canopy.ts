/**
 * `canopy(config)`: the same routes as the proxy, as Express middleware.
 *
 *   app.use('/llm', canopy({ embedded: {} }));
 *   app.use('/llm', canopy({ upstream: { http: 'http://triton:8000' } }));
 *
 * One middleware holds one engine per model, shared by every request that
 * reaches it; mount it once (or mount the same instance under several
 * paths). Requests that arrive while models are still opening wait for them.
 * Paths it does not know go on to the next handler. `close()` frees the
 * models after the requests in flight (graceful, as the proxy's SIGTERM).
 */
import type { RequestHandler } from 'express';
import pino, { type Logger } from 'pino';
import { type CanopyConfigInput, loadConfig } from '../config/index.js';
import type { CanopyMetrics } from '../metrics/index.js';
import { type CanopyCore, createCore, createRouter } from '../proxy/index.js';

export interface CanopyMiddleware extends RequestHandler {
  /** Resolves when the models known at start are open; rejects with the start-up error. */
  readonly ready: Promise<void>;
  readonly core: CanopyCore;
  readonly metrics: CanopyMetrics;
  /** Stops taking requests, lets those in flight finish for `graceMs`, frees the engines. */
  close(graceMs?: number): Promise<void>;
}

export interface CanopyMiddlewareOptions {
  /** Default: pino at `log.level`, JSON to stdout. */
  readonly logger?: Logger;
  /** Also read this config file (the object given to canopy() wins over it). */
  readonly file?: string;
  /** Also read CANOPY_* variables from this environment (the object wins over it). Default: none. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Validates `config` (the schema of docs/serving.md; throws
 * CANOPY_ERR_INVALID_CONFIG naming the key) and starts opening the models.
 */
export function canopy(
  config: CanopyConfigInput = {},
  options: CanopyMiddlewareOptions = {},
): CanopyMiddleware {
  const resolved = loadConfig({
    file: options.file ?? false,
    env: options.env ?? {},
    overrides: config,
    overridesLabel: 'canopy() options',
  });
  const logger = options.logger ?? pino({ level: resolved.log.level });
  const core = createCore(resolved, { logger });
  const router = createRouter(core);
  const middleware: RequestHandler = (req, res, next) => router(req, res, next);
  return Object.assign(middleware, {
    ready: core.ready,
    core,
    metrics: core.metrics,
    close: (graceMs?: number) => core.close(graceMs),
  });
}
