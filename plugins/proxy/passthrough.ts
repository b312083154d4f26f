/**
 * HTTP pass-through to Triton: method, path, query, headers and body go
 * upstream unchanged (bodies stream both ways, so binary tensor data and
 * large infers cost no copy), and Triton's answer comes back unchanged,
 * status and headers included. Only hop-by-hop headers are dropped, as any
 * HTTP proxy must. When Triton cannot be reached canopy answers itself, in
 * Triton's error shape: 503 (unreachable), 504 (no answer in time) or 502.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool } from 'undici';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyMetrics } from '../metrics/index.js';
import { sendError } from './http-errors.js';

export interface HttpPassThrough {
  /** Forwards `req` as it is; `body` replaces the stream when canopy already read it. */
  forward(req: IncomingMessage, res: ServerResponse, body?: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface PassThroughOptions {
  /** Triton's HTTP URL, optionally with a path prefix. */
  readonly url: string;
  /** Time to Triton's response headers. */
  readonly timeoutMs: number;
  readonly metrics?: CanopyMetrics;
}

// RFC 9110 §7.6.1, plus `host` (undici sets the upstream's).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

type Headers = Record<string, string | string[] | undefined>;

function endToEnd(headers: Headers, extraHopByHop = ''): Record<string, string | string[]> {
  const named = new Set(
    extraHopByHop
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== ''),
  );
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

function upstreamFault(url: string, error: unknown, timeoutMs: number): CanopyError {
  const code =
    (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code ?? '';
  const reason = error instanceof Error ? error.message : String(error);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new CanopyError(
      'CANOPY_ERR_UPSTREAM_TIMEOUT',
      `Triton at ${url} did not answer within ${timeoutMs} ms`,
      {
        cause: error,
      },
    );
  }
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN/.test(`${code} ${reason}`)) {
    return new CanopyError('CANOPY_ERR_UPSTREAM_UNREACHABLE', `cannot reach Triton at ${url}: ${reason}`, {
      cause: error,
    });
  }
  return new CanopyError('CANOPY_ERR_UPSTREAM_ERROR', `Triton at ${url} failed: ${reason}`, { cause: error });
}

export function createHttpPassThrough(options: PassThroughOptions): HttpPassThrough {
  const base = new URL(options.url);
  const prefix = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: 128,
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    // A long infer or a generate stream may be silent for a while; the client decides when to give up.
    bodyTimeout: 0,
  });

  return {
    async forward(req, res, body) {
      options.metrics?.recordPassThrough('http', req.method ?? 'GET');
      const controller = new AbortController();
      const onClose = () => {
        if (!res.writableFinished) controller.abort();
      };
      res.on('close', onClose);
      const headers = endToEnd(req.headers as Headers, String(req.headers.connection ?? ''));
      const hasBody =
        body !== undefined ||
        req.headers['content-length'] !== undefined ||
        req.headers['transfer-encoding'] !== undefined;
      if (body !== undefined) headers['content-length'] = String(body.byteLength);
      try {
        const answer = await pool.request({
          method: (req.method ?? 'GET') as 'GET',
          path: prefix + (req.url ?? '/'),
          headers,
          body: body ?? (hasBody ? req : null),
          signal: controller.signal,
        });
        const { connection } = answer.headers;
        res.writeHead(answer.statusCode, endToEnd(answer.headers as Headers, String(connection ?? '')));
        await pipeline(answer.body, res);
      } catch (error) {
        if (controller.signal.aborted) return; // the client left; nothing to answer
        if (res.headersSent) {
          res.destroy(error as Error);
          return;
        }
        sendError(res, upstreamFault(options.url, error, options.timeoutMs), 'triton');
      } finally {
        res.off('close', onClose);
      }
    },
    async close() {
      if (!pool.closed) await pool.close();
    },
  };
}
