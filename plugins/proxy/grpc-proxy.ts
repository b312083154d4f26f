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
import type { CanopyCore } from './core.js';
import { localHandler } from './grpc-local.js';
import { encodeStreamResponse } from './grpc-messages.js';
import { createGrpcText, grpcStatusOf } from './grpc-text.js';
import { asCanopyError } from './http-errors.js';

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
  const out = metadata.clone();
  for (const key of Object.keys(out.getMap())) if (OWN_HEADERS.test(key)) out.remove(key);
  return out;
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
  const { textTarget, answerText } = createGrpcText(core, client !== undefined);

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

  const passInfer = unary(`/${SERVICE}/ModelInfer`);
  const infer: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    textTarget(call.request).then(
      (served) => {
        if (!served) return passInfer(call, callback);
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
    const write = (b: Buffer) => {
      if (!ended && !call.cancelled) call.write(b);
    };
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
      s.on('data', write);
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
          write(encodeStreamResponse({ error: asCanopyError(error).message }));
          return null;
        });
        if (served === null) return;
        if (served === undefined) {
          upstream ??= openUpstream();
          upstream.write(buf);
          return;
        }
        local++;
        answerText(served, true, write, controller.signal)
          .catch((error: unknown) => write(encodeStreamResponse({ error: asCanopyError(error).message })))
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
