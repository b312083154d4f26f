/**
 * The gRPC front without Triton (embedded mode): health and metadata, text
 * infers over ModelInfer, and decoupled-style streams over ModelStreamInfer,
 * through canopy's own KServe gRPC client and a raw grpc-js call.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGrpcClient, type KServeClient, tensor } from '../../../adapters/targets/triton/index.js';
import { GREEDY } from '../../../kernels/sampling-params.js';
import { decodeStreamResponse, encodeInferRequest } from '../../../plugins/proxy/grpc-messages.js';
import { MODEL, plainText, useTinyServer } from './helpers.js';

const get = useTinyServer({ server: { grpcPort: 0 } });
const PROMPT = 'Hello world';
const identity = (b: Buffer) => b;

let client: KServeClient;
let raw: grpc.Client;
beforeAll(() => {
  client = createGrpcClient({ url: get().server.grpc! });
  raw = new grpc.Client(get().server.grpc!.replace('grpc://', ''), grpc.credentials.createInsecure());
});
afterAll(async () => {
  await client?.close();
  raw?.close();
});

const text = (s: string) => tensor('text_input', 'BYTES', [new TextEncoder().encode(s)]);

function request(id: string, parameters: Record<string, unknown>, model = MODEL): Buffer {
  const bytes = new TextEncoder().encode(PROMPT);
  const element = Buffer.concat([Buffer.from(Uint32Array.of(bytes.length).buffer), bytes]);
  const params = Object.fromEntries(
    Object.entries(parameters).map(([k, v]) => [
      k,
      typeof v === 'boolean'
        ? { bool_param: v }
        : typeof v === 'number'
          ? { int64_param: v }
          : { string_param: v },
    ]),
  );
  return encodeInferRequest({
    model_name: model,
    id,
    parameters: params,
    inputs: [{ name: 'text_input', datatype: 'BYTES', shape: [1] }],
    raw_input_contents: [element],
  });
}

interface StreamMessage {
  error_message: string;
  infer_response?: {
    id: string;
    parameters: Record<string, { bool_param?: boolean; string_param?: string }>;
    raw_output_contents: Buffer[];
  };
}

function textOf(message: StreamMessage): string {
  const bytes = message.infer_response!.raw_output_contents[0];
  return bytes.subarray(4).toString();
}

describe('gRPC without Triton', () => {
  it('answers health and metadata for the served model', async () => {
    expect(await client.serverLive()).toBe(true);
    expect(await client.serverReady()).toBe(true);
    expect(await client.modelReady(MODEL)).toBe(true);
    expect(await client.modelReady('nope')).toBe(false);
    expect((await client.serverMetadata()).name).toBe('canopy');
    expect(await client.modelMetadata(MODEL)).toMatchObject({
      name: MODEL,
      inputs: [{ name: 'text_input' }],
    });
  });

  it('runs a text infer: text_output is plain decoding’s text, stats in the parameters', async () => {
    const { plain } = get();
    const response = await client.infer({
      model: MODEL,
      id: 'g1',
      inputs: [text(PROMPT), tensor('max_tokens', 'INT32', Int32Array.of(24))],
      parameters: { temperature: 0 },
    });
    const out = response.outputs.find((o) => o.name === 'text_output')!;
    const expected = await plainText(plain, plain.tokenizer.encode(PROMPT, { addSpecial: true }), 24, GREEDY);
    expect(new TextDecoder().decode((out.data as Uint8Array[])[0])).toBe(expected);
    expect(response.id).toBe('g1');
    expect(response.parameters?.finish_reason).toBe('length');
    expect(JSON.parse(String(response.parameters?.canopy_stats)).completionTokens).toBe(24);
  });

  it('streams the pieces of a streaming request and answers a plain one once, on one stream', async () => {
    const { plain } = get();
    const call = raw.makeBidiStreamRequest(
      '/inference.GRPCInferenceService/ModelStreamInfer',
      identity,
      identity,
    );
    const messages: StreamMessage[] = [];
    call.on('data', (b: Buffer) => messages.push(decodeStreamResponse(b) as StreamMessage));
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write(request('a', { max_tokens: 32, stream: true }));
    call.write(request('b', { max_tokens: 12 }));
    call.end();
    await ended;
    const expected = await plainText(plain, plain.tokenizer.encode(PROMPT, { addSpecial: true }), 32, GREEDY);
    const a = messages.filter((m) => m.infer_response?.id === 'a');
    expect(a.length).toBeGreaterThan(1);
    expect(a.map(textOf).join('')).toBe(expected);
    expect(a.at(-1)!.infer_response!.parameters.triton_final_response.bool_param).toBe(true);
    expect(
      a.slice(0, -1).every((m) => m.infer_response!.parameters.triton_final_response === undefined),
    ).toBe(true);
    const b = messages.filter((m) => m.infer_response?.id === 'b');
    expect(b).toHaveLength(1);
    expect(textOf(b[0])).toBe(expected.slice(0, textOf(b[0]).length));
  });

  it('answers bad requests with gRPC statuses that carry the canopy code', async () => {
    const unary = (buf: Buffer) =>
      new Promise<grpc.ServiceError>((resolve) => {
        raw.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, buf, (error) =>
          resolve(error!),
        );
      });
    const unknown = await unary(request('x', {}, 'nope'));
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.metadata.get('canopy-error-code')).toEqual(['CANOPY_ERR_UNKNOWN_MODEL']);
    const range = await unary(request('x', { max_tokens: 0 }));
    expect(range.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(range.details).toContain('CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE');
    const config = await new Promise<grpc.ServiceError>((resolve) => {
      raw.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelConfig',
        identity,
        identity,
        Buffer.alloc(0),
        (e) => resolve(e!),
      );
    });
    expect(config.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('writes a failed request of a stream as an error message and goes on', async () => {
    const call = raw.makeBidiStreamRequest(
      '/inference.GRPCInferenceService/ModelStreamInfer',
      identity,
      identity,
    );
    const messages: StreamMessage[] = [];
    call.on('data', (b: Buffer) => messages.push(decodeStreamResponse(b) as StreamMessage));
    const ended = new Promise<void>((resolve) => call.on('end', resolve));
    call.write(request('bad', { drafters: 'nope' }));
    call.write(request('good', { max_tokens: 4 }));
    call.end();
    await ended;
    expect(messages.find((m) => m.error_message !== '')?.error_message).toContain(
      'CANOPY_ERR_UNKNOWN_DRAFTER',
    );
    expect(messages.some((m) => m.infer_response?.id === 'good')).toBe(true);
  });
});
