/**
 * A KServe client for a URL: the scheme picks the transport (gRPC for
 * `grpc://` and `grpcs://`, HTTP otherwise) unless `transport` does. What the
 * Triton target and the eagle drafter's head on Triton both connect with.
 */
import { createGrpcClient } from './grpc.js';
import { createHttpClient } from './http.js';
import type { KServeClient, Transport } from './kserve-client.js';

export interface ConnectOptions {
  readonly url: string;
  readonly transport?: Transport;
  /** Default per-call timeout in ms; 0 = none (each client's default when absent). */
  readonly timeoutMs?: number;
  /** HTTP: most pooled sockets. */
  readonly connections?: number;
  /** HTTP: binary tensor data extension. */
  readonly binary?: boolean | 'auto';
}

export function createKServeClient(options: ConnectOptions): KServeClient {
  const transport = options.transport ?? (/^grpcs?:\/\//.test(options.url) ? 'grpc' : 'http');
  const { url, timeoutMs } = options;
  return transport === 'grpc'
    ? createGrpcClient({ url, timeoutMs })
    : createHttpClient({ url, timeoutMs, connections: options.connections, binary: options.binary });
}
