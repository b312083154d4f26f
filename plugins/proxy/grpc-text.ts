/**
 * Text infers over gRPC for speculative models (text-infer.ts): which
 * ModelInfer messages canopy answers itself, how it answers them (one
 * response, or a decoupled-style series on a stream), and how a canopy
 * error becomes a gRPC status.
 */
import * as grpc from '@grpc/grpc-js';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyCore, RequestScope } from './core.js';
import { decodeTextInfer, encodeInferResponse, encodeStreamResponse, modelNameOf } from './grpc-messages.js';
import { asCanopyError } from './http-errors.js';
import { endSucceeded, failureOf, unknownModel } from './route-kit.js';
import type { ServedModel } from './served-models.js';
import {
  hasTextInput,
  parseTextInfer,
  runTextInfer,
  type TextInferRequest,
  textInferParameters,
} from './text-infer.js';

export interface TextTarget {
  readonly served: ServedModel;
  readonly request: TextInferRequest & { readonly version: string };
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

export interface GrpcText {
  textTarget(buf: Buffer): Promise<TextTarget | undefined>;
  answerText(
    target: TextTarget,
    stream: boolean,
    write: (reply: Buffer) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** `passThrough`: whether an upstream takes the messages canopy does not answer. */
export function createGrpcText(core: CanopyCore, passThrough: boolean): GrpcText {
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
      if (passThrough) return undefined;
      throw unknownModel(core, name);
    }
    const request = decodeTextInfer(buf);
    return !passThrough || hasTextInput(request.inputs.map((i) => i.name)) ? { served, request } : undefined;
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
      endSucceeded(scope, outcome);
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

  return { textTarget, answerText };
}
