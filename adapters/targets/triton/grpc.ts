/**
 * KServe v2 over gRPC (`@grpc/grpc-js`), with canopy's own proto/kserve.proto.
 * One HTTP/2 channel multiplexes every call; `openStream()` adds Triton's
 * bidirectional ModelStreamInfer.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fromProtoResponse, type ProtoInferResponse, toProtoRequest } from './grpc-messages.js';
import { createInferStream, type InferStream } from './grpc-stream.js';
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
  modelCodeOf,
  protocolViolation,
  timedOut,
  unreachable,
} from './upstream-errors.js';

export interface GrpcClientOptions {
  /** `grpc://host:port` or `host:port`. */
  readonly url: string;
  /** Default per-call timeout in ms; 0 = none. */
  readonly timeoutMs?: number;
}

export interface GrpcKServeClient extends KServeClient {
  readonly transport: 'grpc';
  /** A ModelStreamInfer stream: many infers over one HTTP/2 stream. */
  openStream(): InferStream;
}

/** Proto-loader options the message mappers (grpc-messages.ts, responses.ts) rely on. */
export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;

let serviceConstructor: grpc.ServiceClientConstructor | undefined;

/** The proto sits beside this file in the sources; a build in dist/ finds it at the package root. */
export function kserveProtoPath(): string {
  const candidates = ['./proto/kserve.proto', '../../../../adapters/targets/triton/proto/kserve.proto'];
  for (const candidate of candidates) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`proto/kserve.proto not found next to ${fileURLToPath(import.meta.url)}`);
}

function service(): grpc.ServiceClientConstructor {
  if (serviceConstructor === undefined) {
    const definition = protoLoader.loadSync(kserveProtoPath(), PROTO_OPTIONS);
    const inference = grpc.loadPackageDefinition(definition).inference as grpc.GrpcObject;
    serviceConstructor = inference.GRPCInferenceService as grpc.ServiceClientConstructor;
  }
  return serviceConstructor;
}

export function createGrpcClient(options: GrpcClientOptions): GrpcKServeClient {
  return new GrpcClient(options);
}

class GrpcClient implements GrpcKServeClient {
  readonly transport = 'grpc' as const;
  readonly url: string;
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;

  constructor(options: GrpcClientOptions) {
    this.url = options.url;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    const Service = service();
    this.#client = new Service(options.url.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      // A restarted Triton should be found again in about a second, not after minutes of backoff.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1_000,
    });
  }

  async serverLive(options?: RequestOptions): Promise<boolean> {
    return ((await this.#unary('ServerLive', {}, 'server live', options)) as { live: boolean }).live;
  }

  async serverReady(options?: RequestOptions): Promise<boolean> {
    return ((await this.#unary('ServerReady', {}, 'server ready', options)) as { ready: boolean }).ready;
  }

  async modelReady(model: string, version?: string, options?: RequestOptions): Promise<boolean> {
    try {
      const reply = await this.#unary(
        'ModelReady',
        { name: model, version: version ?? '' },
        'model ready',
        options,
      );
      return (reply as { ready: boolean }).ready;
    } catch (error) {
      // Triton answers an unknown model with an error status rather than `ready: false`.
      if ((error as { code?: string }).code === 'CANOPY_ERR_UPSTREAM_NOT_READY') return false;
      throw error;
    }
  }

  async serverMetadata(options?: RequestOptions): Promise<ServerMetadata> {
    return parseServerMetadata(await this.#unary('ServerMetadata', {}, 'server metadata', options));
  }

  async modelMetadata(model: string, version?: string, options?: RequestOptions): Promise<ModelMetadata> {
    const request = { name: model, version: version ?? '' };
    return parseModelMetadata(await this.#unary('ModelMetadata', request, 'model metadata', options));
  }

  async modelConfig(model: string, version?: string, options?: RequestOptions): Promise<ModelConfig> {
    const reply = await this.#unary(
      'ModelConfig',
      { name: model, version: version ?? '' },
      'model config',
      options,
    );
    return parseModelConfig((reply as { config: unknown }).config);
  }

  async modelStatistics(
    model: string,
    version?: string,
    options?: RequestOptions,
  ): Promise<ModelStatistics[]> {
    const request = { name: model, version: version ?? '' };
    return parseModelStatistics(await this.#unary('ModelStatistics', request, 'model statistics', options));
  }

  async repositoryIndex(options?: RequestOptions): Promise<RepositoryModel[]> {
    return parseRepositoryIndex(await this.#unary('RepositoryIndex', {}, 'repository index', options));
  }

  async infer(request: InferRequest, options?: RequestOptions): Promise<InferResponse> {
    const operation = `infer ${request.model}`;
    const reply = await this.#unary('ModelInfer', toProtoRequest(request), operation, options);
    try {
      return fromProtoResponse(reply as ProtoInferResponse);
    } catch (error) {
      const site = { url: this.url, operation };
      throw protocolViolation(site, error instanceof Error ? error.message : String(error), error);
    }
  }

  openStream(): InferStream {
    const call = (this.#client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>)
      .ModelStreamInfer!;
    return createInferStream({
      url: this.url,
      timeoutMs: this.#timeoutMs,
      open: () => call.call(this.#client),
      mapError: (error, site) => mapStatus(error, site, undefined),
    });
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  #unary(method: string, request: unknown, operation: string, options?: RequestOptions): Promise<unknown> {
    const site: CallSite = { url: this.url, operation };
    const deadline = new Deadline(options?.timeoutMs ?? this.#timeoutMs, options?.signal);
    if (deadline.signal?.aborted) {
      return Promise.reject(deadline.expired ? timedOut(site, deadline.timeoutMs) : cancelled(site));
    }
    const fn = (this.#client as unknown as Record<string, UnaryMethod>)[method]!;
    return new Promise((resolve, reject) => {
      const callOptions: grpc.CallOptions = deadline.timeoutMs > 0 ? { deadline: deadline.at } : {};
      const onAbort = () => call.cancel();
      const call = fn.call(this.#client, request, new grpc.Metadata(), callOptions, (error, response) => {
        options?.signal?.removeEventListener('abort', onAbort);
        if (error) reject(mapStatus(error, site, deadline));
        else resolve(response);
      });
      options?.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

// grpc-js words for a channel that never connected, as opposed to one that broke mid-call.
const NEVER_CONNECTED = /No connection established|ECONNREFUSED|failed to connect|Name resolution failed/i;

export function mapStatus(error: grpc.ServiceError, site: CallSite, deadline: Deadline | undefined): Error {
  const message = error.details || error.message;
  // canopy_lm's own refusals travel with several statuses (CAPACITY as UNAVAILABLE, CANCELLED...).
  if (modelCodeOf(message) !== undefined && !deadline?.callerAborted) {
    return fromServerMessage(site, message, 'other', { grpcStatus: error.code });
  }
  switch (error.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return timedOut(site, deadline?.timeoutMs ?? 0, error);
    case grpc.status.CANCELLED:
      return deadline?.callerAborted === false
        ? fromServerMessage(site, message, 'other')
        : cancelled(site, error);
    case grpc.status.UNAVAILABLE:
      if (NEVER_CONNECTED.test(message)) return unreachable(site, error, 'not-sent');
      if (/Connection dropped|Connection closed|GOAWAY|RST_STREAM|socket/i.test(message)) {
        return unreachable(site, error, 'unknown');
      }
      return fromServerMessage(site, message, 'unavailable', { grpcStatus: error.code });
    case grpc.status.NOT_FOUND:
      return fromServerMessage(site, message, 'not-found', { grpcStatus: error.code });
    default:
      return fromServerMessage(site, message, 'other', { grpcStatus: error.code });
  }
}
