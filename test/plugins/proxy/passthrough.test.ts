/**
 * Pass-through to an upstream Triton, against real local servers that stand
 * in for it (an HTTP server and a grpc-js server that record what reached
 * them): bytes, headers, metadata and statuses arrive unchanged both ways,
 * and an upstream that is down or slow gets canopy's 503 / 504.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCanopyError } from '../../../kernels/errors.js';
import { loadConfig } from '../../../plugins/config/index.js';
import { encodeInferRequest } from '../../../plugins/proxy/grpc-messages.js';
import { type CanopyServer, startCanopyServer } from '../../../plugins/proxy/index.js';
import { json } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const seen: Seen[] = [];
const BINARY = Buffer.from([0x7b, 0x7d, 0, 1, 2, 3, 255]);

function upstreamHttp(): Server {
  return createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    if (req.url === '/v2/repository/index') return res.writeHead(200).end('[]');
    if (req.url?.endsWith('/config')) {
      return res.writeHead(400).end(JSON.stringify({ error: "Request for unknown model: 'x' is not found" }));
    }
    if (req.url === '/v2/models/add_sub/infer') {
      res.writeHead(200, {
        'inference-header-content-length': '2',
        'content-type': 'application/octet-stream',
      });
      return res.end(BINARY);
    }
    if (req.url === '/v2/models/broken/infer')
      return res.writeHead(400).end(JSON.stringify({ error: 'bad tensor' }));
    if (req.url === '/v2/slow') return setTimeout(() => res.writeHead(200).end(), 2_000);
    res.writeHead(200, { 'x-upstream': 'yes', 'content-type': 'application/json' });
    res.end(JSON.stringify({ answered: req.url }));
  });
}

const identity = (b: Buffer) => b;
const method = (name: string, streaming = false): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/inference.GRPCInferenceService/${name}`,
  requestStream: streaming,
  responseStream: streaming,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

const grpcSeen: { metadata: grpc.Metadata; bytes: Buffer }[] = [];

function upstreamGrpc(): grpc.Server {
  const server = new grpc.Server();
  server.addService(
    {
      ServerLive: method('ServerLive'),
      ModelInfer: method('ModelInfer'),
      ModelStreamInfer: method('ModelStreamInfer', true),
    },
    {
      ServerLive: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb(null, Buffer.from([8, 1])),
      ModelInfer: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        grpcSeen.push({ metadata: call.metadata, bytes: call.request });
        if (call.metadata.get('x-fail').length > 0) {
          const trailer = new grpc.Metadata();
          trailer.set('x-why', 'asked to');
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'upstream refused', metadata: trailer });
        }
        cb(null, Buffer.concat([Buffer.from('echo:'), call.request]));
      },
      ModelStreamInfer: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from('s:'), b])));
        call.on('end', () => call.end());
      },
    },
  );
  return server;
}

let http: Server;
let rpc: grpc.Server;
let canopy: CanopyServer;
let grpcPort: number;
let client: grpc.Client;

beforeAll(async () => {
  http = upstreamHttp();
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  rpc = upstreamGrpc();
  grpcPort = await new Promise<number>((resolve, reject) =>
    rpc.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const config = loadConfig({
    file: false,
    env: {},
    overrides: {
      server: { port: 0, grpcPort: 0 },
      upstream: {
        http: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
        grpc: `grpc://127.0.0.1:${grpcPort}`,
        timeoutMs: 500,
      },
    },
  });
  canopy = await startCanopyServer(config, { logger: pino({ level: 'silent' }) });
  client = new grpc.Client(canopy.grpc!.replace('grpc://', ''), grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await canopy?.close(0);
  rpc?.forceShutdown();
  await new Promise((r) => http?.close(r));
});

describe('HTTP pass-through', () => {
  it('forwards method, path, query, headers and body, and returns the answer unchanged', async () => {
    const res = await fetch(`${canopy.http}/v2/models/add_sub/stats?x=1`, { headers: { 'x-client': 'c1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(await json(res)).toEqual({ answered: '/v2/models/add_sub/stats?x=1' });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', headers: { 'x-client': 'c1' } });
  });

  it('passes binary infer bodies through byte for byte, both ways', async () => {
    const body = Buffer.concat([Buffer.from('{"inputs":[]}'), Buffer.from([0, 255, 1])]);
    const res = await fetch(`${canopy.http}/v2/models/add_sub/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': '13', 'content-type': 'application/octet-stream' },
      body,
    });
    expect(Buffer.from(await res.arrayBuffer())).toEqual(BINARY);
    expect(res.headers.get('inference-header-content-length')).toBe('2');
    const got = seen.find((s) => s.url === '/v2/models/add_sub/infer')!;
    expect(got.body).toEqual(body);
    expect(got.headers['inference-header-content-length']).toBe('13');
  });

  it('passes generate on a model canopy does not serve to Triton', async () => {
    const res = await fetch(`${canopy.http}/v2/models/vllm_model/generate`, {
      method: 'POST',
      body: JSON.stringify({ text_input: 'x' }),
    });
    expect(await json(res)).toEqual({ answered: '/v2/models/vllm_model/generate' });
  });

  it('returns Triton’s own errors unchanged', async () => {
    const res = await fetch(`${canopy.http}/v2/models/broken/infer`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: 'bad tensor' });
  });

  it('answers 504 CANOPY_ERR_UPSTREAM_TIMEOUT when Triton does not answer in time', async () => {
    const res = await fetch(`${canopy.http}/v2/slow`);
    expect(res.status).toBe(504);
    expect(await json(res)).toMatchObject({ code: 'CANOPY_ERR_UPSTREAM_TIMEOUT' });
  });
});

describe('gRPC pass-through', () => {
  const unary = (path: string, bytes: Buffer, metadata = new grpc.Metadata()) =>
    new Promise<{ error: grpc.ServiceError | null; value?: Buffer }>((resolve) => {
      client.makeUnaryRequest(path, identity, identity, bytes, metadata, (error, value) =>
        resolve({ error, value }),
      );
    });

  it('forwards raw messages and metadata, unknown fields included', async () => {
    const known = encodeInferRequest({
      model_name: 'add_sub',
      inputs: [{ name: 'a', datatype: 'INT32', shape: [1] }],
    });
    // Field 99, varint 7: a field canopy's proto does not declare.
    const bytes = Buffer.concat([known, Buffer.from([0x98, 0x06, 0x07])]);
    const metadata = new grpc.Metadata();
    metadata.set('x-client', 'c2');
    const { error, value } = await unary('/inference.GRPCInferenceService/ModelInfer', bytes, metadata);
    expect(error).toBeNull();
    expect(value).toEqual(Buffer.concat([Buffer.from('echo:'), bytes]));
    expect(grpcSeen.at(-1)!.bytes).toEqual(bytes);
    expect(grpcSeen.at(-1)!.metadata.get('x-client')).toEqual(['c2']);
    expect((await unary('/inference.GRPCInferenceService/ServerLive', Buffer.alloc(0))).value).toEqual(
      Buffer.from([8, 1]),
    );
  });

  it('returns the upstream’s status, details and trailers', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-fail', '1');
    const bytes = encodeInferRequest({ model_name: 'add_sub' });
    const { error } = await unary('/inference.GRPCInferenceService/ModelInfer', bytes, metadata);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toBe('upstream refused');
    expect(error?.metadata.get('x-why')).toEqual(['asked to']);
    const missing = await unary('/inference.GRPCInferenceService/ModelConfig', Buffer.alloc(0));
    expect(missing.error?.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('pipes ModelStreamInfer both ways in order', async () => {
    const call = client.makeBidiStreamRequest(
      '/inference.GRPCInferenceService/ModelStreamInfer',
      identity,
      identity,
    );
    const got: Buffer[] = [];
    call.on('data', (b: Buffer) => got.push(b));
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    const messages = [1, 2, 3].map((i) => encodeInferRequest({ model_name: 'add_sub', id: String(i) }));
    for (const m of messages) call.write(m);
    call.end();
    await ended;
    expect(got).toEqual(messages.map((m) => Buffer.concat([Buffer.from('s:'), m])));
  });
});

describe('an upstream that is down', () => {
  it('answers 503 CANOPY_ERR_UPSTREAM_UNREACHABLE in Triton’s shape', async () => {
    const config = loadConfig({
      file: false,
      env: {},
      overrides: { server: { port: 0 }, upstream: { http: 'http://127.0.0.1:9' } },
    });
    const lonely = await startCanopyServer(config, { logger: pino({ level: 'silent' }) });
    try {
      const res = await fetch(`${lonely.http}/v2/health/ready`);
      expect(res.status).toBe(503);
      const body = await json(res);
      expect(body.code).toBe('CANOPY_ERR_UPSTREAM_UNREACHABLE');
      expect(typeof body.error).toBe('string');
    } finally {
      await lonely.close(0);
    }
  });
});

describe('a Triton model whose canopy parameter is broken', () => {
  it('stops canopy from starting, naming the model and the key', async () => {
    const upstream = createServer((req, res) => {
      if (req.url === '/v2/repository/index') {
        return res.end(JSON.stringify([{ name: 'llm', version: '1', state: 'READY', reason: '' }]));
      }
      res.end(JSON.stringify({ name: 'llm', parameters: { canopy: { string_value: '{"maxBudgte": 8}' } } }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      const config = loadConfig({
        file: false,
        env: {},
        overrides: {
          server: { port: 0 },
          upstream: { http: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
        },
      });
      const error = await startCanopyServer(config, { logger: pino({ level: 'silent' }) }).catch(
        (e: unknown) => e,
      );
      expect(isCanopyError(error, 'CANOPY_ERR_INVALID_CONFIG')).toBe(true);
      expect((error as Error).message).toMatch(
        /Triton model 'llm' config parameter 'canopy': unknown key 'maxBudgte' \(did you mean 'maxBudget'\?\)/,
      );
    } finally {
      await new Promise((r) => upstream.close(r));
    }
  });
});
