/**
 * What the proxy server and the Express middleware share: the configuration,
 * the served models (one engine each), metrics, the logger, the pass-through
 * to Triton, and the life cycle of every request canopy answers itself.
 *
 * A request *scope* gives the request an AbortSignal that fires when the
 * client goes away or when a shutdown runs out of patience, and writes the
 * request's one log line and its metrics when it ends.
 */
import type pino from 'pino';
import type { Logger } from 'pino';
import { type RequestStats, summarize } from '../../engine/index.js';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyConfig } from '../config/index.js';
import { type CanopyMetrics, createMetrics } from '../metrics/index.js';
import { createHttpPassThrough, type HttpPassThrough } from './passthrough.js';
import { shuttingDown } from './route-kit.js';
import { createServedModels, type ServedModels } from './served-models.js';

export interface RequestEnd {
  readonly status: number;
  readonly model?: string;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly finishReason?: string;
  readonly stats?: RequestStats;
  readonly error?: CanopyError;
  /** The original error when it was not a CanopyError (logged with its stack). */
  readonly cause?: unknown;
}

export interface RequestScope {
  readonly signal: AbortSignal;
  /** Cancels the request (client gone); its engine call ends with CANOPY_ERR_CANCELLED. */
  cancel(reason: CanopyError): void;
  /** Logs the request's line and records its metrics; idempotent. */
  end(result: RequestEnd): void;
}

export interface CanopyCore {
  readonly config: CanopyConfig;
  readonly log: Logger;
  readonly metrics: CanopyMetrics;
  readonly models: ServedModels;
  /** Present when an upstream Triton is configured. */
  readonly passThrough: HttpPassThrough | undefined;
  /** Resolves when the models known at start are open; rejects with the start-up error. */
  readonly ready: Promise<void>;
  readonly closing: boolean;
  begin(route: string, model?: string): RequestScope;
  /**
   * Stops taking requests, lets those in flight finish for `graceMs`
   * (default server.shutdownGraceMs), cancels the rest, then frees the engines.
   */
  close(graceMs?: number): Promise<void>;
}

export interface CoreOptions {
  readonly logger: pino.Logger;
  readonly metrics?: CanopyMetrics;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export function createCore(config: CanopyConfig, options: CoreOptions): CanopyCore {
  const log = options.logger;
  const metrics = options.metrics ?? createMetrics();
  const models = createServedModels({ config, logger: log, observer: metrics.observer });
  const passThrough = config.upstream
    ? createHttpPassThrough({ url: config.upstream.http, timeoutMs: config.upstream.timeoutMs, metrics })
    : undefined;
  const inFlight = new Map<RequestScope, Promise<void>>();
  let closing = false;
  let closed: Promise<void> | undefined;
  const ready = models.start();
  ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection

  function begin(route: string, model?: string): RequestScope {
    if (closing) throw shuttingDown();
    const controller = new AbortController();
    const started = performance.now();
    const leave = metrics.trackInFlight(route);
    let finished: () => void = () => undefined;
    let ended = false;
    const scope: RequestScope = {
      signal: controller.signal,
      cancel(reason) {
        if (!controller.signal.aborted) controller.abort(reason);
      },
      end(result) {
        if (ended) return;
        ended = true;
        leave();
        inFlight.delete(scope);
        finished();
        const seconds = (performance.now() - started) / 1000;
        const name = result.model ?? model ?? '';
        const error = result.error;
        const outcome =
          error === undefined ? 'ok' : error.code === 'CANOPY_ERR_CANCELLED' ? 'cancelled' : 'error';
        if (name !== '') {
          metrics.recordRequest({
            model: name,
            route,
            outcome,
            seconds,
            promptTokens: result.promptTokens,
            completionTokens: result.completionTokens,
          });
        }
        const line = {
          route,
          model: name || undefined,
          status: result.status,
          ms: Math.round(seconds * 1000),
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          finishReason: result.finishReason,
          stats: result.stats ? summarize(result.stats) : undefined,
          error: error ? { code: error.code, message: error.message } : undefined,
        };
        if (result.cause !== undefined) log.error({ ...line, err: result.cause }, 'request failed');
        else if (error && error.status >= 500) log.warn(line, 'request failed');
        else log.info(line, 'request');
      },
    };
    inFlight.set(
      scope,
      new Promise<void>((resolve) => {
        finished = resolve;
      }),
    );
    return scope;
  }

  async function shutdown(graceMs: number): Promise<void> {
    closing = true;
    const pending = [...inFlight.values()];
    if (pending.length > 0) {
      log.info({ inFlight: pending.length, graceMs }, 'shutting down: waiting for requests in flight');
      await Promise.race([Promise.all(pending), sleep(graceMs)]);
      const reason = new CanopyError(
        'CANOPY_ERR_SHUTTING_DOWN',
        'canopy is shutting down; the request was cancelled',
      );
      for (const scope of inFlight.keys()) scope.cancel(reason);
      // Cancelled sessions close their target sessions; give them a moment to say so.
      await Promise.race([Promise.all(inFlight.values()), sleep(5_000)]);
    }
    await ready.catch(() => undefined);
    await models.close();
    await passThrough?.close();
  }

  return {
    config,
    log,
    metrics,
    models,
    passThrough,
    ready,
    get closing() {
      return closing;
    },
    begin,
    close(graceMs = config.server.shutdownGraceMs) {
      closed ??= shutdown(graceMs);
      return closed;
    },
  };
}
