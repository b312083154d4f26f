/**
 * Triton's ModelStreamInfer as promise-per-request: many infer requests share
 * one bidirectional gRPC stream, and each answer finds its request by id.
 *
 * A stream that breaks fails every request in flight (outcome `unknown`); the
 * next `infer` opens a fresh stream. A request's timeout or abort fails only
 * that request; its late answer, if any, is dropped.
 */
import type * as grpc from '@grpc/grpc-js';
import { fromProtoResponse, type ProtoInferResponse, toProtoRequest } from './grpc-messages.js';
import type { InferRequest, InferResponse, RequestOptions } from './kserve-client.js';
import {
  type CallSite,
  cancelled,
  fromServerMessage,
  protocolViolation,
  timedOut,
  unreachable,
} from './upstream-errors.js';

export interface InferStream {
  infer(request: InferRequest, options?: RequestOptions): Promise<InferResponse>;
  /** Half-closes the stream; requests in flight still get their answers. */
  close(): void;
}

export interface InferStreamSetup {
  readonly url: string;
  readonly timeoutMs: number;
  readonly open: () => grpc.ClientDuplexStream<unknown, unknown>;
  readonly mapError: (error: grpc.ServiceError, site: CallSite) => Error;
}

interface Pending {
  readonly site: CallSite;
  readonly resolve: (response: InferResponse) => void;
  readonly reject: (error: Error) => void;
}

interface StreamMessage {
  error_message?: string;
  infer_response?: ProtoInferResponse | null;
}

export function createInferStream(setup: InferStreamSetup): InferStream {
  let call: grpc.ClientDuplexStream<unknown, unknown> | undefined;
  const pending = new Map<string, Pending>();
  let nextId = 0;

  const failAll = (error: (site: CallSite) => Error) => {
    for (const p of pending.values()) p.reject(error(p.site));
    pending.clear();
    call = undefined;
  };

  const onData = (message: StreamMessage) => {
    const id = message.infer_response?.id ?? '';
    // An answer whose request timed out or was cancelled finds no one: drop it. An error may come
    // without an id; a non-decoupled model answers in request order, so it is the oldest's.
    const key = id === '' ? pending.keys().next().value : id;
    const p = key === undefined ? undefined : pending.get(key);
    if (key === undefined || p === undefined) return;
    pending.delete(key);
    if (message.error_message) {
      p.reject(fromServerMessage(p.site, message.error_message, 'other'));
      return;
    }
    try {
      p.resolve(fromProtoResponse(message.infer_response ?? {}));
    } catch (error) {
      p.reject(protocolViolation(p.site, error instanceof Error ? error.message : String(error), error));
    }
  };

  const ensureOpen = (): grpc.ClientDuplexStream<unknown, unknown> => {
    if (call !== undefined) return call;
    const opened = setup.open();
    opened.on('data', onData);
    opened.on('error', (error: grpc.ServiceError) => {
      if (call === opened) failAll((site) => setup.mapError(error, site));
    });
    opened.on('end', () => {
      if (call === opened) failAll((site) => unreachable(site, new Error('the stream ended'), 'unknown'));
    });
    call = opened;
    return opened;
  };

  return {
    infer(request, options) {
      const id = request.id ?? `s${nextId++}`;
      const site: CallSite = { url: setup.url, operation: `stream infer ${request.model}` };
      if (options?.signal?.aborted) return Promise.reject(cancelled(site));
      return new Promise<InferResponse>((resolve, reject) => {
        const timeoutMs = options?.timeoutMs ?? setup.timeoutMs;
        const settle = () => {
          clearTimeout(timer);
          options?.signal?.removeEventListener('abort', onAbort);
        };
        const drop = (error: Error) => {
          if (pending.delete(id)) reject(error);
          settle();
        };
        const onAbort = () => drop(cancelled(site));
        const timer =
          timeoutMs > 0 ? setTimeout(() => drop(timedOut(site, timeoutMs)), timeoutMs) : undefined;
        options?.signal?.addEventListener('abort', onAbort, { once: true });
        pending.set(id, {
          site,
          resolve: (response) => {
            settle();
            resolve(response);
          },
          reject: (error) => {
            settle();
            reject(error);
          },
        });
        ensureOpen().write(toProtoRequest({ ...request, id }));
      });
    },
    close() {
      call?.end();
    },
  };
}
