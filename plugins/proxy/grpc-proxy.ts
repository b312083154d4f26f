/**
 * The gRPC front: Triton's GRPCInferenceService (and grpc.health.v1) served
 * with identity (de)serializers, so every message passes to Triton and back
 * as raw bytes: fields canopy's own proto does not know survive untouched,
 * and nothing is decoded on the way. Metadata, deadlines, cancellation and
 * status (code, details, trailers) are forwarded.
 *
 * Two methods look at the model name first: ModelInfer and ModelStreamInfer
 * requests carrying `text_input` for a speculative model are answered by
 * canopy (text-infer.ts); in a stream, each such request gets its own
 * responses (decoupled style, the last flagged `triton_final_response`)
 * while the stream's other requests go on to Triton in their order.
 */
import * as grpc from '@grpc/grpc-js';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyCore, RequestScope } from './core.js';
import { localHandler } from './grpc-local.js';
import { decodeTextInfer, encodeInferResponse, encodeStreamResponse, modelNameOf } from './grpc-messages.js';
import { asCanopyError } from './http-errors.js';
import { failureOf, unknownModel } from './route-kit.js';
import type { ServedModel } from './served-models.js';
import {
  hasTextInput,
  parseTextInfer,
  runTextInfer,
  type TextInferRequest,
  textInferParameters,
} from './text-infer.js';

interface TextTarget {
  readonly served: ServedModel;
  readonly request: TextInferRequest & { readonly version: string };
}

const SERVICE = 'inference.GRPCInferenceService';
/** Triton's grpc_service.proto, every method; only ModelStreamInfer streams. */
const METHODS = [
  'ServerLive',
  'ServerReady',
  'ModelReady',
  'ServerMetadata',
  'ModelMetadata',
  'ModelInfer',
  'ModelStreamInfer',
  'ModelConfig',
  'ModelStatistics',
  'RepositoryIndex',
  'RepositoryModelLoad',
  'RepositoryModelUnload',
  'SystemSharedMemoryStatus',
  'SystemSharedMemoryRegister',
  'SystemSharedMemoryUnregister',
  'CudaSharedMemoryStatus',
  'CudaSharedMemoryRegister',
  'CudaSharedMemoryUnregister',
  'TraceSetting',
  'LogSettings',
] as const;

const identity = (b: Buffer) => b;

function method(path: string, streaming: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

const PROPAGATE = { propagate_flags: grpc.propagate.DEFAULTS };

// Headers grpc-js sets itself on the upstream call.
const OWN_HEADERS = /^(user-agent|content-type|te|grpc-.*|:.*)$/;

function forwardable(metadata: grpc.Metadata): grpc.Metadata {
  const out = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (!OWN_HEADERS.test(key)) out.set(key, value);
  }
  return out;
}

const GRPC_STATUS: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  404: grpc.status.NOT_FOUND,
  408: grpc.status.CANCELLED,
  409: grpc.status.ALREADY_EXISTS,
  413: grpc.status.RESOURCE_EXHAUSTED,
  429: grpc.status.RESOURCE_EXHAUSTED,
  499: grpc.status.CANCELLED,
  502: grpc.status.UNAVAILABLE,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

/** A canopy error as a gRPC status; the code rides in the `canopy-error-code` trailer. */
export function grpcStatusOf(error: CanopyError): grpc.ServerErrorResponse {
  const metadata = new grpc.Metadata();
  metadata.set('canopy-error-code', error.code);
  return {
    name: 'CanopyError',
    message: error.message,
    code: GRPC_STATUS[error.status] ?? grpc.status.INTERNAL,
    details: `${error.message} [${error.code}]`,
    metadata,
  };
}

export interface GrpcProxy {
  /** `grpc://host:port`. */
  readonly url: string;
  close(graceMs: number): Promise<void>;
}

export interface GrpcProxyOptions {
  readonly core: CanopyCore;
  /** Triton's gRPC address (`grpc://host:port` or `host:port`); none: embedded mode (grpc-local.ts). */
  readonly upstream: string | undefined;
  readonly host: string;
  readonly port: number;
}

export async function startGrpcProxy(options: GrpcProxyOptions): Promise<GrpcProxy> {
  const { core } = options;
  const client =
    options.upstream === undefined
      ? undefined
      : new grpc.Client(options.upstream.replace(/^grpc:\/\//, ''), grpc.credentials.createInsecure(), {
          'grpc.max_receive_message_length': -1,
          'grpc.max_send_message_length': -1,
        });

  /**
   * The served model and decoded request of a text infer; undefined when the
   * message passes through. Without an upstream nothing can pass: an unknown
   * model is an error, and a served model's request without text is refused
   * by the text infer itself.
   */
  async function textTarget(buf: Buffer): Promise<TextTarget | undefined> {
    const name = modelNameOf(buf);
    await core.ready;
    const served = name === '' ? undefined : await core.models.lookup(name);
    if (!served) {
      if (client) return undefined;
      throw unknownModel(core, name);
    }
    const request = decodeTextInfer(buf);
    return !client || hasTextInput(request.inputs.map((i) => i.name)) ? { served, request } : undefined;
  }

  function unary(path: string): grpc.handleUnaryCall<Buffer, Buffer> {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (!client) return localHandler(core, name, grpcStatusOf);
    return (call, callback) => {
      core.metrics.recordPassThrough('grpc', name);
      client.makeUnaryRequest(
        path,
        identity,
        identity,
        call.request,
        forwardable(call.metadata),
        { parent: call, ...PROPAGATE },
        (error, response) => {
          if (error) callback({ code: error.code, details: error.details, metadata: error.metadata });
          else callback(null, response);
        },
      );
    };
  }

  /**
   * Runs one text infer; `write` gets each encoded response (one, or a stream
   * of them). A unary call's failure rejects; a stream's is written as an
   * error response and the stream goes on.
   */
  async function answerText(
    { served, request }: TextTarget,
    stream: boolean,
    write: (reply: Buffer) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const fail = (failure: CanopyError) => {
      if (!stream) throw failure;
      write(encodeStreamResponse({ error: `${failure.message} [${failure.code}]` }));
    };
    let scope: RequestScope;
    try {
      scope = core.begin(stream ? 'stream_infer' : 'infer', served.name);
    } catch (error) {
      return fail(asCanopyError(error));
    }
    const cancel = () =>
      scope.cancel(new CanopyError('CANOPY_ERR_CANCELLED', 'the client cancelled the call'));
    signal.addEventListener('abort', cancel, { once: true });
    const head = { model: served.name, version: request.version || '1', id: request.id ?? '' };
    try {
      const infer = parseTextInfer(request);
      const onText =
        stream && infer.stream
          ? (text: string) => write(encodeStreamResponse({ ...head, text, parameters: {} }))
          : undefined;
      const { text, outcome } = await runTextInfer(served, infer, scope.signal, onText);
      const parameters = {
        ...textInferParameters(outcome),
        ...(stream ? { triton_final_response: true } : {}),
      };
      const reply = { ...head, text, parameters };
      write(stream ? encodeStreamResponse(reply) : encodeInferResponse(reply));
      scope.end({
        status: 200,
        promptTokens: outcome.promptTokens,
        completionTokens: outcome.completionTokens,
        finishReason: outcome.finishReason,
        stats: outcome.stats,
      });
    } catch (error) {
      const failure = failureOf(error, scope);
      scope.end({
        status: failure.status,
        error: failure,
        cause: error instanceof CanopyError ? undefined : error,
      });
      fail(failure);
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  }

  const infer: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    const path = `/${SERVICE}/ModelInfer`;
    textTarget(call.request).then(
      (served) => {
        if (!served) return unary(path)(call, callback);
        const controller = new AbortController();
        call.on('cancelled', () => controller.abort());
        answerText(served, false, (reply) => callback(null, reply), controller.signal).catch(
          (error: unknown) => callback(grpcStatusOf(asCanopyError(error))),
        );
      },
      (error) => callback(grpcStatusOf(asCanopyError(error))),
    );
  };

  const streamInfer: grpc.handleBidiStreamingCall<Buffer, Buffer> = (call) => {
    const controller = new AbortController();
    let upstream: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
    let upstreamDone = true;
    let clientDone = false;
    let local = 0;
    let ended = false;
    // Messages are routed one after another, so those going upstream keep their order.
    let routing = Promise.resolve();
    const finish = (status?: grpc.ServerErrorResponse) => {
      if (ended) return;
      if (status === undefined && !(clientDone && upstreamDone && local === 0)) return;
      ended = true;
      if (status) call.emit('error', status);
      else call.end();
    };
    const openUpstream = () => {
      core.metrics.recordPassThrough('grpc', 'ModelStreamInfer');
      upstreamDone = false;
      const s = client!.makeBidiStreamRequest(
        `/${SERVICE}/ModelStreamInfer`,
        identity,
        identity,
        forwardable(call.metadata),
        {
          parent: call,
          ...PROPAGATE,
        },
      );
      s.on('data', (b: Buffer) => call.write(b));
      s.on('error', (e: grpc.ServiceError) => {
        controller.abort();
        finish({
          name: 'ServiceError',
          message: e.details,
          code: e.code,
          details: e.details,
          metadata: e.metadata,
        });
      });
      s.on('end', () => {
        upstreamDone = true;
        finish();
      });
      return s;
    };
    call.on('data', (buf: Buffer) => {
      routing = routing.then(async () => {
        const served = await textTarget(buf).catch((error: unknown) => {
          call.write(encodeStreamResponse({ error: asCanopyError(error).message }));
          return null;
        });
        if (served === null) return;
        if (served === undefined) {
          upstream ??= openUpstream();
          upstream.write(buf);
          return;
        }
        local++;
        answerText(served, true, (reply) => call.write(reply), controller.signal)
          .catch((error: unknown) =>
            call.write(encodeStreamResponse({ error: asCanopyError(error).message })),
          )
          .finally(() => {
            local--;
            finish();
          });
      });
    });
    call.on('end', () => {
      routing.then(() => {
        clientDone = true;
        upstream?.end();
        finish();
      });
    });
    call.on('cancelled', () => {
      controller.abort();
      upstream?.cancel();
    });
  };

  const handlers: grpc.UntypedServiceImplementation = {};
  const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  for (const name of METHODS) {
    const path = `/${SERVICE}/${name}`;
    definition[name] = method(path, name === 'ModelStreamInfer');
    handlers[name] = name === 'ModelInfer' ? infer : name === 'ModelStreamInfer' ? streamInfer : unary(path);
  }
  const health = '/grpc.health.v1.Health/Check';

  const server = new grpc.Server({
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
  });
  server.addService(definition, handlers);
  server.addService({ Check: method(health, false) }, { Check: unary(health) });
  const port = await new Promise<number>((resolve, reject) => {
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    server.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `grpc://${shownHost}:${port}`,
    async close(graceMs) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      client?.close();
    },
  };
}
