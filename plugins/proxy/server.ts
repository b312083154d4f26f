/**
 * The drop-in proxy (`canopy serve`): canopy's routes over HTTP on one port
 * and, with a Triton gRPC upstream, the gRPC pass-through on another. Binds
 * 127.0.0.1 unless the configuration says otherwise.
 *
 * `close()` shuts down gracefully: no new connections, requests in flight
 * get `server.shutdownGraceMs` to finish, then the rest are cancelled (a
 * stream ends with an error event, a target session is closed upstream).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino, { type Logger } from 'pino';
import type { CanopyConfig } from '../config/index.js';
import type { CanopyMetrics } from '../metrics/index.js';
import { type CanopyCore, createCore } from './core.js';
import { startGrpcProxy } from './grpc-proxy.js';
import { asCanopyError, sendError } from './http-errors.js';
import { createRouter, notFound } from './router.js';

/** gRPC port when `upstream.grpc` is set and `server.grpcPort` is not (Triton's 8001 + 80). */
export const DEFAULT_GRPC_PORT = 8081;

export interface CanopyServer {
  /** `http://host:port` as bound (the real port when 0 was asked). */
  readonly http: string;
  /** `grpc://host:port`, when the gRPC pass-through runs. */
  readonly grpc: string | undefined;
  readonly core: CanopyCore;
  /** Graceful shutdown; idempotent. */
  close(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  /** Default: pino at `log.level`, JSON to stderr. */
  readonly logger?: Logger;
  readonly metrics?: CanopyMetrics;
}

const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** The Express app of the proxy: canopy's router, then JSON 404s and errors. */
export function createProxyApp(core: CanopyCore): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(createRouter(core));
  app.use((req, res) => sendError(res, notFound(req.method, req.originalUrl), 'api'));
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    core.log.error({ err: error }, 'unhandled error in a route');
    sendError(res, asCanopyError(error), 'api');
  });
  return app;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts the proxy; start-up errors (configuration, models, ports) reject after cleaning up. */
export async function startCanopyServer(
  config: CanopyConfig,
  options: ServerOptions = {},
): Promise<CanopyServer> {
  const logger = options.logger ?? pino({ level: config.log.level }, pino.destination(2));
  const core = createCore(config, { logger, metrics: options.metrics });
  const { host } = config.server;
  const server = createServer(createProxyApp(core));
  let grpc: Awaited<ReturnType<typeof startGrpcProxy>> | undefined;
  try {
    await core.ready;
    const port = await listen(server, host, config.server.port);
    if (config.upstream?.grpc !== undefined || (config.embedded && config.server.grpcPort !== undefined)) {
      grpc = await startGrpcProxy({
        core,
        upstream: config.upstream?.grpc,
        host,
        port: config.server.grpcPort ?? DEFAULT_GRPC_PORT,
      });
    }
    const http = `http://${urlHost(host)}:${port}`;
    logger.info(
      { http, grpc: grpc?.url, upstream: config.upstream?.http ?? 'embedded' },
      'canopy is serving',
    );
    let closing: Promise<void> | undefined;
    return {
      http,
      grpc: grpc?.url,
      core,
      close(graceMs = config.server.shutdownGraceMs) {
        closing ??= (async () => {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          // Keep-alive connections turn idle as their requests finish; close each as it does.
          const sweep = setInterval(() => server.closeIdleConnections(), 50);
          server.closeIdleConnections();
          let timer: NodeJS.Timeout | undefined;
          const grace = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs);
          });
          // Pass-through requests get the same grace as canopy's own; whatever is still open then goes.
          await Promise.all([core.close(graceMs), grpc?.close(graceMs), Promise.race([closed, grace])]);
          clearTimeout(timer);
          server.closeAllConnections();
          await closed;
          clearInterval(sweep);
          logger.info('canopy stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    server.close();
    await grpc?.close(0);
    await core.close(0);
    throw error;
  }
}
