/**
 * KServe v2 over HTTP/REST, on an undici keep-alive pool.
 *
 * Infer requests use Triton's binary tensor data extension when the server
 * advertises `binary_tensor_data` (asked once, lazily), and plain JSON
 * otherwise; `binary: true | false` forces either.
 */
import { Pool } from 'undici';
import { isCanopyError } from '../../../kernels/errors.js';
import { decodeInferResponse, encodeInferRequest, HEADER_LENGTH } from './binary-body.js';
import type {
  InferRequest,
  InferResponse,
  KServeClient,
  ModelConfig,
  ModelMetadata,
  ModelStatistics,
  RepositoryModel,
  RequestOptions,
  ServerMetadata,
} from './kserve-client.js';
import {
  parseModelConfig,
  parseModelMetadata,
  parseModelStatistics,
  parseRepositoryIndex,
  parseServerMetadata,
} from './responses.js';
import {
  type CallSite,
  cancelled,
  Deadline,
  fromServerMessage,
  protocolViolation,
  timedOut,
  unreachable,
} from './upstream-errors.js';

export interface HttpClientOptions {
  /** `http://host:port`, optionally with a path prefix (a proxy in front of Triton). */
  readonly url: string;
  /** Default per-call timeout in ms; 0 = none. */
  readonly timeoutMs?: number;
  /** Most sockets kept open to the server. */
  readonly connections?: number;
  /** Binary tensor data extension: `auto` asks the server's metadata. */
  readonly binary?: boolean | 'auto';
}

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Uint8Array;
}

// Connection errors raised before any byte of the request left this process.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export function createHttpClient(options: HttpClientOptions): KServeClient {
  return new HttpClient(options);
}

class HttpClient implements KServeClient {
  readonly transport = 'http' as const;
  readonly url: string;
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  /** Whether infer uses the binary extension; undefined until the server's metadata said. */
  #binary: boolean | undefined;

  constructor(options: HttpClientOptions) {
    const parsed = new URL(options.url);
    this.url = options.url;
    this.#prefix = parsed.pathname.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#pool = new Pool(parsed.origin, {
      connections: options.connections ?? 16,
      keepAliveTimeout: 30_000,
      // Deadlines come from our AbortSignals; undici's own 300 s timers would only shadow them.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.#binary = typeof options.binary === 'boolean' ? options.binary : undefined;
  }

  async serverLive(options?: RequestOptions): Promise<boolean> {
    return (await this.#send('GET', '/v2/health/live', 'server live', options)).status === 200;
  }

  async serverReady(options?: RequestOptions): Promise<boolean> {
    return (await this.#send('GET', '/v2/health/ready', 'server ready', options)).status === 200;
  }

  async modelReady(model: string, version?: string, options?: RequestOptions): Promise<boolean> {
    const reply = await this.#send('GET', `${modelPath(model, version)}/ready`, 'model ready', options);
    return reply.status === 200;
  }

  async serverMetadata(options?: RequestOptions): Promise<ServerMetadata> {
    return parseServerMetadata(await this.#json('GET', '/v2', 'server metadata', options));
  }

  async modelMetadata(model: string, version?: string, options?: RequestOptions): Promise<ModelMetadata> {
    return parseModelMetadata(await this.#json('GET', modelPath(model, version), 'model metadata', options));
  }

  async modelConfig(model: string, version?: string, options?: RequestOptions): Promise<ModelConfig> {
    return parseModelConfig(
      await this.#json('GET', `${modelPath(model, version)}/config`, 'model config', options),
    );
  }

  async modelStatistics(
    model: string,
    version?: string,
    options?: RequestOptions,
  ): Promise<ModelStatistics[]> {
    const path = model === '' ? '/v2/models/stats' : `${modelPath(model, version)}/stats`;
    return parseModelStatistics(await this.#json('GET', path, 'model statistics', options));
  }

  async repositoryIndex(options?: RequestOptions): Promise<RepositoryModel[]> {
    return parseRepositoryIndex(
      await this.#json('POST', '/v2/repository/index', 'repository index', options, '{}'),
    );
  }

  async infer(request: InferRequest, options?: RequestOptions): Promise<InferResponse> {
    const binary = this.#binary ?? (await this.#probeBinary(options));
    const { body, headerLength } = encodeInferRequest(request, binary);
    const headers: Record<string, string> = {
      'content-type': headerLength === undefined ? 'application/json' : 'application/octet-stream',
    };
    if (headerLength !== undefined) headers[HEADER_LENGTH] = String(headerLength);
    const path = `${modelPath(request.model, request.version)}/infer`;
    const site = { url: this.url, operation: `infer ${request.model}` };
    const reply = await this.#send('POST', path, site.operation, options, body, headers);
    if (reply.status !== 200) throw this.#errorOf(site, reply);
    const length = reply.headers[HEADER_LENGTH];
    try {
      return decodeInferResponse(reply.body, length === undefined ? undefined : Number(length));
    } catch (error) {
      throw protocolViolation(site, error instanceof Error ? error.message : String(error), error);
    }
  }

  async close(): Promise<void> {
    if (!this.#pool.closed) await this.#pool.close();
  }

  async #probeBinary(options?: RequestOptions): Promise<boolean> {
    try {
      this.#binary = (await this.serverMetadata(options)).extensions.includes('binary_tensor_data');
    } catch (error) {
      // A server we could not ask may still have the extension: ask again on the next call.
      if (!isCanopyError(error, 'CANOPY_ERR_UPSTREAM_ERROR')) throw error;
      this.#binary = false;
    }
    return this.#binary;
  }

  async #json(
    method: 'GET' | 'POST',
    path: string,
    operation: string,
    options?: RequestOptions,
    body?: string,
  ): Promise<unknown> {
    const headers = body === undefined ? undefined : { 'content-type': 'application/json' };
    const reply = await this.#send(method, path, operation, options, body, headers);
    const site = { url: this.url, operation };
    if (reply.status !== 200) throw this.#errorOf(site, reply);
    try {
      return JSON.parse(new TextDecoder().decode(reply.body));
    } catch (error) {
      throw protocolViolation(site, 'the answer is not JSON', error);
    }
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    operation: string,
    options: RequestOptions | undefined,
    body?: string | Uint8Array,
    headers?: Record<string, string>,
  ): Promise<Reply> {
    const site: CallSite = { url: this.url, operation };
    const deadline = new Deadline(options?.timeoutMs ?? this.#timeoutMs, options?.signal);
    if (deadline.signal?.aborted)
      throw deadline.expired ? timedOut(site, deadline.timeoutMs) : cancelled(site);
    try {
      const res = await this.#pool.request({
        method,
        path: this.#prefix + path,
        body: body ?? null,
        headers: headers ?? {},
        signal: deadline.signal ?? null,
      });
      const bytes = new Uint8Array(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body: bytes };
    } catch (error) {
      if (deadline.expired) throw timedOut(site, deadline.timeoutMs, error);
      if (deadline.callerAborted) throw cancelled(site, error);
      const code = (error as { code?: string }).code ?? '';
      throw unreachable(site, error, NOT_SENT.has(code) ? 'not-sent' : 'unknown');
    }
  }

  #errorOf(site: CallSite, reply: Reply): Error {
    const text = new TextDecoder().decode(reply.body);
    let message = text || `HTTP ${reply.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
    } catch {
      // Not JSON: keep the raw text (a proxy's HTML error page, say).
    }
    const hint = reply.status === 503 ? 'unavailable' : reply.status === 404 ? 'not-found' : 'other';
    return fromServerMessage(site, message, hint, { status: reply.status });
  }
}

function modelPath(model: string, version?: string): string {
  const base = `/v2/models/${encodeURIComponent(model)}`;
  return version ? `${base}/versions/${encodeURIComponent(version)}` : base;
}
