/**
 * The gRPC client against a real gRPC server on port 0 built from Triton's
 * official grpc_service.proto (../shared/reference/triton), so every call
 * also proves that canopy's own proto speaks the same wire format.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tensor } from '../../../../adapters/targets/triton/codec.js';
import {
  createGrpcClient,
  type GrpcKServeClient,
  PROTO_OPTIONS,
} from '../../../../adapters/targets/triton/grpc.js';

const REFERENCE = fileURLToPath(new URL('../../../../../shared/reference/triton/', import.meta.url));

interface InferMessage {
  model_name: string;
  id: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  raw_input_contents: Buffer[];
}

type Unary = (call: { request: InferMessage }, callback: grpc.sendUnaryData<unknown>) => void;

function echo(request: InferMessage) {
  return {
    model_name: request.model_name,
    id: request.id,
    outputs: request.inputs.map((i) => ({ name: `${i.name}_out`, datatype: i.datatype, shape: i.shape })),
    raw_output_contents: request.raw_input_contents,
  };
}

function failure(model: string): Partial<grpc.StatusObject> | undefined {
  if (model === 'lost')
    return {
      code: grpc.status.INVALID_ARGUMENT,
      details: "[CANOPY_SESSION_UNKNOWN] session 'a1' is not open",
    };
  if (model === 'down')
    return {
      code: grpc.status.UNAVAILABLE,
      details: "Request for unknown model: 'down' has no available versions",
    };
  if (model === 'broken') return { code: grpc.status.INTERNAL, details: 'model raised ValueError' };
  if (model === 'full')
    return { code: grpc.status.UNAVAILABLE, details: '[CANOPY_CAPACITY] 64 sessions are open' };
  if (model === 'cancelled') {
    return {
      code: grpc.status.CANCELLED,
      details: '[CANOPY_CANCELLED] the request was cancelled; its sessions are closed',
    };
  }
  return undefined;
}

async function startServer(): Promise<{ server: grpc.Server; url: string }> {
  const definition = protoLoader.loadSync(`${REFERENCE}grpc_service.proto`, {
    ...PROTO_OPTIONS,
    includeDirs: [REFERENCE],
  });
  const pkg = grpc.loadPackageDefinition(definition).inference as grpc.GrpcObject;
  const service = (pkg.GRPCInferenceService as grpc.ServiceClientConstructor).service;
  const server = new grpc.Server();
  const handlers: Record<string, Unary | ((call: grpc.ServerDuplexStream<InferMessage, unknown>) => void)> = {
    ServerLive: (_call, cb) => cb(null, { live: true }),
    ServerReady: (_call, cb) => cb(null, { ready: true }),
    ModelReady: (call, cb) => {
      const name = (call.request as unknown as { name: string }).name;
      if (name === 'echo') cb(null, { ready: true });
      else
        cb({ code: grpc.status.UNAVAILABLE, details: `Request for unknown model: '${name}' is not found` });
    },
    ServerMetadata: (_call, cb) =>
      cb(null, { name: 'fake', version: '1', extensions: ['binary_tensor_data'] }),
    ModelConfig: (_call, cb) =>
      cb(null, {
        config: {
          name: 'echo',
          backend: 'python',
          input: [{ name: 'a', data_type: 'TYPE_INT32', dims: [-1], optional: true }],
          parameters: { vocab_size: { string_value: '8' } },
        },
      }),
    ModelInfer: (call, cb) => {
      const model = call.request.model_name;
      if (model === 'slow') return; // never answers
      const fail = failure(model);
      if (fail) cb(fail);
      else cb(null, echo(call.request));
    },
    ModelStreamInfer: (call: grpc.ServerDuplexStream<InferMessage, unknown>) => {
      // Answers pairs in reverse order, so the client must match answers to requests by id.
      const held: InferMessage[] = [];
      call.on('data', (request: InferMessage) => {
        if (request.model_name === 'lost') {
          call.write({ error_message: failure('lost')!.details, infer_response: { id: request.id } });
          return;
        }
        held.push(request);
        if (held.length === 2)
          for (const r of held.splice(0).reverse()) call.write({ infer_response: echo(r) });
      });
      call.on('end', () => call.end());
    },
  };
  server.addService(service, handlers as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { server, url: `grpc://127.0.0.1:${port}` };
}

describe('KServe gRPC client', () => {
  let fake: { server: grpc.Server; url: string };
  let client: GrpcKServeClient;

  beforeAll(async () => {
    fake = await startServer();
    client = createGrpcClient({ url: fake.url, timeoutMs: 5_000 });
  });

  afterAll(async () => {
    await client.close();
    fake.server.forceShutdown();
  });

  it('answers health, metadata and configuration', async () => {
    expect(await client.serverLive()).toBe(true);
    expect(await client.serverReady()).toBe(true);
    expect(await client.modelReady('echo')).toBe(true);
    expect(await client.modelReady('missing')).toBe(false);
    expect((await client.serverMetadata()).extensions).toEqual(['binary_tensor_data']);
    const config = await client.modelConfig('echo');
    expect(config.inputs).toEqual([{ name: 'a', datatype: 'INT32', dims: [-1], optional: true }]);
    expect(config.parameters).toEqual({ vocab_size: '8' });
  });

  it('sends tensors as raw contents and reads raw outputs back', async () => {
    const response = await client.infer({
      model: 'echo',
      id: 'q1',
      inputs: [
        tensor('a', 'INT32', Int32Array.of(1, -2, 3), [3, 1]),
        tensor('f', 'FP64', Float64Array.of(Math.E)),
        tensor('s', 'BYTES', [new TextEncoder().encode('xyz')]),
      ],
    });
    expect(response.id).toBe('q1');
    expect(response.outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([
      ['a_out', 'INT32', [3, 1]],
      ['f_out', 'FP64', [1]],
      ['s_out', 'BYTES', [1]],
    ]);
    expect(response.outputs[0]!.data).toEqual(Int32Array.of(1, -2, 3));
    expect(response.outputs[1]!.data).toEqual(Float64Array.of(Math.E));
    expect(new TextDecoder().decode((response.outputs[2]!.data as Uint8Array[])[0])).toBe('xyz');
  });

  it('matches stream answers to their requests by id, whatever their order', async () => {
    const stream = client.openStream();
    try {
      const [first, second] = await Promise.all([
        stream.infer({ model: 'echo', inputs: [tensor('a', 'INT32', Int32Array.of(1))] }),
        stream.infer({ model: 'echo', inputs: [tensor('a', 'INT32', Int32Array.of(2))] }),
      ]);
      expect(first.outputs[0]!.data).toEqual(Int32Array.of(1));
      expect(second.outputs[0]!.data).toEqual(Int32Array.of(2));
      await expect(stream.infer({ model: 'lost', inputs: [] })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
      });
    } finally {
      stream.close();
    }
  });

  it('maps server statuses to canopy codes with the server’s message', async () => {
    const lost = await client.infer({ model: 'lost', inputs: [] }).catch((e) => e);
    expect(lost).toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
      details: { outcome: 'rejected' },
    });
    expect(lost.message).toContain("session 'a1' is not open");
    await expect(client.infer({ model: 'down', inputs: [] })).rejects.toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_NOT_READY',
    });
    // canopy_lm's bracketed codes win over the status they travel with.
    await expect(client.infer({ model: 'full', inputs: [] })).rejects.toMatchObject({
      code: 'CANOPY_ERR_CAPACITY',
      details: { outcome: 'rejected' },
    });
    await expect(client.infer({ model: 'cancelled', inputs: [] })).rejects.toMatchObject({
      code: 'CANOPY_ERR_CANCELLED',
      details: { outcome: 'unknown' },
    });
    const broken = await client.infer({ model: 'broken', inputs: [] }).catch((e) => e);
    expect(broken.code).toBe('CANOPY_ERR_UPSTREAM_ERROR');
    expect(broken.message).toContain('model raised ValueError');
  });

  it('times out a request that gets no answer, and stops at the caller’s signal', async () => {
    await expect(client.infer({ model: 'slow', inputs: [] }, { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'CANOPY_ERR_UPSTREAM_TIMEOUT',
      details: { outcome: 'unknown' },
    });
    const controller = new AbortController();
    const pending = client.infer({ model: 'slow', inputs: [] }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: 'CANOPY_ERR_CANCELLED' });
    const stream = client.openStream();
    try {
      await expect(stream.infer({ model: 'echo', inputs: [] }, { timeoutMs: 50 })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_TIMEOUT',
      });
    } finally {
      stream.close();
    }
  });

  it('reports a closed port as unreachable, never sent', async () => {
    const doomed = await startServer();
    doomed.server.forceShutdown();
    const dead = createGrpcClient({ url: doomed.url, timeoutMs: 5_000 });
    try {
      await expect(dead.serverLive()).rejects.toMatchObject({ code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE' });
      await expect(dead.infer({ model: 'echo', inputs: [] })).rejects.toMatchObject({
        code: 'CANOPY_ERR_UPSTREAM_UNREACHABLE',
        details: { outcome: 'not-sent' },
      });
    } finally {
      await dead.close();
    }
  });
});
