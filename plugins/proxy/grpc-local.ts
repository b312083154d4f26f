/**
 * gRPC answers canopy gives itself when there is no Triton upstream (embedded
 * mode): health, server and model metadata for the served models, so that a
 * tritonclient gRPC user can check readiness and run text infers. Every other
 * method is UNIMPLEMENTED, saying why.
 */
import * as grpc from '@grpc/grpc-js';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyCore } from './core.js';
import { methodCodec } from './grpc-messages.js';
import { canopyVersion } from './kserve-local.js';
import { unknownModel } from './route-kit.js';

type Unary = grpc.handleUnaryCall<Buffer, Buffer>;

function status(code: grpc.status, details: string): grpc.ServerErrorResponse {
  return { name: 'Error', message: details, code, details };
}

/** A unary handler that answers from `answer(request)`; CanopyErrors become statuses through `toStatus`. */
function local(
  method: string,
  answer: (request: Record<string, unknown>) => Promise<unknown>,
  toStatus: (error: CanopyError) => grpc.ServerErrorResponse,
): Unary {
  const codec = methodCodec(method);
  return (call, callback) => {
    answer(codec.decode(call.request) as Record<string, unknown>).then(
      (value) => callback(null, codec.encode(value)),
      (error: unknown) =>
        callback(
          error instanceof CanopyError ? toStatus(error) : status(grpc.status.INTERNAL, String(error)),
        ),
    );
  };
}

export function localHandler(
  core: CanopyCore,
  method: string,
  toStatus: (error: CanopyError) => grpc.ServerErrorResponse,
): Unary {
  const ready = () =>
    core.ready.then(
      () => !core.closing,
      () => false,
    );
  const served = async (name: unknown) => {
    await core.ready;
    return core.models.lookup(String(name));
  };
  switch (method) {
    case 'Check':
      // grpc.health.v1 HealthCheckResponse { status: SERVING (1) }; canopy's proto has no health service.
      return (_call, callback) => callback(null, Buffer.from([0x08, 0x01]));
    case 'ServerLive':
      return local(method, async () => ({ live: true }), toStatus);
    case 'ServerReady':
      return local(method, async () => ({ ready: await ready() }), toStatus);
    case 'ModelReady':
      return local(method, async (r) => ({ ready: (await served(r.name)) !== undefined }), toStatus);
    case 'ServerMetadata':
      return local(
        method,
        async () => ({ name: 'canopy', version: canopyVersion(), extensions: [] }),
        toStatus,
      );
    case 'ModelMetadata':
      return local(
        method,
        async (r) => {
          const model = await served(r.name);
          if (!model) throw unknownModel(core, String(r.name));
          return {
            name: model.name,
            versions: ['1'],
            platform: 'canopy',
            inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
            outputs: [{ name: 'text_output', datatype: 'BYTES', shape: [1] }],
          };
        },
        toStatus,
      );
    default:
      return (_call, callback) =>
        callback(
          status(
            grpc.status.UNIMPLEMENTED,
            `${method}: canopy serves the embedded model without Triton; only health, metadata and text infers are available`,
          ),
        );
  }
}
