/**
 * canopy's own proto/kserve.proto against Triton's official protos (from
 * ../shared/reference/triton): what one side encodes, the other decodes.
 */
import { fileURLToPath } from 'node:url';
import type { MethodDefinition } from '@grpc/proto-loader';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { tensor } from '../../../../adapters/targets/triton/codec.js';
import { kserveProtoPath, PROTO_OPTIONS } from '../../../../adapters/targets/triton/grpc.js';
import { fromProtoResponse, toProtoRequest } from '../../../../adapters/targets/triton/grpc-messages.js';
import { parseModelConfig, parseModelStatistics } from '../../../../adapters/targets/triton/responses.js';

const REFERENCE = fileURLToPath(new URL('../../../../../shared/reference/triton/', import.meta.url));
const SERVICE = 'inference.GRPCInferenceService';

type Service = Record<string, MethodDefinition<object, object>>;

const ours = protoLoader.loadSync(kserveProtoPath(), PROTO_OPTIONS)[SERVICE] as unknown as Service;
const official = protoLoader.loadSync(`${REFERENCE}grpc_service.proto`, {
  ...PROTO_OPTIONS,
  includeDirs: [REFERENCE],
})[SERVICE] as unknown as Service;

describe('proto/kserve.proto against the official Triton protos', () => {
  it('declares only methods of the official service, with the same paths and streaming', () => {
    for (const [name, method] of Object.entries(ours)) {
      const theirs = official[name];
      expect(theirs, name).toBeDefined();
      expect([method.path, method.requestStream, method.responseStream]).toEqual([
        theirs!.path,
        theirs!.requestStream,
        theirs!.responseStream,
      ]);
    }
    for (const required of [
      'ServerLive',
      'ServerReady',
      'ModelReady',
      'ModelInfer',
      'ModelStreamInfer',
      'ModelConfig',
    ]) {
      expect(ours[required], required).toBeDefined();
    }
  });

  it('encodes infer requests that the official proto reads back field for field', () => {
    const request = toProtoRequest({
      model: 'canopy_lm',
      version: '1',
      id: 'r7',
      parameters: { flag: true, count: 3, label: 'x', ratio: 0.5 },
      inputs: [
        tensor('tokens', 'INT32', Int32Array.of(5, -1, 7)),
        tensor('session_id', 'BYTES', [new TextEncoder().encode('a1')]),
      ],
      outputs: ['chosen'],
    });
    const decoded = official.ModelInfer!.requestDeserialize(
      ours.ModelInfer!.requestSerialize(request),
    ) as Record<string, unknown>;
    expect(decoded).toMatchObject({
      model_name: 'canopy_lm',
      model_version: '1',
      id: 'r7',
      parameters: {
        flag: { bool_param: true },
        count: { int64_param: 3 },
        label: { string_param: 'x' },
        ratio: { double_param: 0.5 },
      },
      inputs: [
        { name: 'tokens', datatype: 'INT32', shape: [3] },
        { name: 'session_id', datatype: 'BYTES', shape: [1] },
      ],
      outputs: [{ name: 'chosen' }],
    });
    const raw = decoded.raw_input_contents as Uint8Array[];
    expect([...raw[0]!]).toEqual([5, 0, 0, 0, 255, 255, 255, 255, 7, 0, 0, 0]);
    expect([...raw[1]!]).toEqual([2, 0, 0, 0, 97, 49]);
  });

  it('reads infer responses the official proto encodes, raw or typed', () => {
    const bytes = official.ModelInfer!.responseSerialize({
      model_name: 'canopy_lm',
      id: 'r7',
      outputs: [
        { name: 'chosen', datatype: 'INT32', shape: [2] },
        { name: 'topk_logprobs', datatype: 'FP32', shape: [1, 2] },
      ],
      raw_output_contents: [
        Buffer.from(Int32Array.of(9, 10).buffer),
        Buffer.from(Float32Array.of(-0.5, -2).buffer),
      ],
    });
    const response = fromProtoResponse(ours.ModelInfer!.responseDeserialize(bytes) as never);
    expect(response.id).toBe('r7');
    expect(response.outputs[0]!.data).toEqual(Int32Array.of(9, 10));
    expect(response.outputs[1]!.data).toEqual(Float32Array.of(-0.5, -2));

    const typed = official.ModelInfer!.responseSerialize({
      model_name: 'm',
      outputs: [
        { name: 'i', datatype: 'INT64', shape: [2], contents: { int64_contents: [4, -4] } },
        { name: 'b', datatype: 'BOOL', shape: [2], contents: { bool_contents: [true, false] } },
      ],
    });
    const fromTyped = fromProtoResponse(ours.ModelInfer!.responseDeserialize(typed) as never);
    expect(fromTyped.outputs[0]!.data).toEqual(BigInt64Array.of(4n, -4n));
    expect(fromTyped.outputs[1]!.data).toEqual(Uint8Array.of(1, 0));
  });

  it('reads the stream envelope with its error message', () => {
    const bytes = official.ModelStreamInfer!.responseSerialize({
      error_message: '[CANOPY_SESSION_UNKNOWN] gone',
      infer_response: { id: 'r9' },
    });
    expect(ours.ModelStreamInfer!.responseDeserialize(bytes)).toMatchObject({
      error_message: '[CANOPY_SESSION_UNKNOWN] gone',
      infer_response: { id: 'r9' },
    });
  });

  it('reads a full model configuration, skipping the fields it does not declare', () => {
    const bytes = official.ModelConfig!.responseSerialize({
      config: {
        name: 'canopy_lm',
        backend: 'python',
        max_batch_size: 0,
        version_policy: { latest: { num_versions: 1 } },
        input: [
          { name: 'tokens', data_type: 'TYPE_INT32', dims: [-1] },
          { name: 'session_id', data_type: 'TYPE_STRING', dims: [-1] },
          { name: 'skip_layers', data_type: 'TYPE_INT32', dims: [-1], optional: true },
        ],
        output: [{ name: 'hidden', data_type: 'TYPE_FP32', dims: [-1, -1, -1] }],
        instance_group: [{ kind: 'KIND_CPU', count: 1 }],
        dynamic_batching: { max_queue_delay_microseconds: 100 },
        parameters: { vocab_size: { string_value: '49152' }, eos_token_ids: { string_value: '2' } },
        model_warmup: [{ name: 'w', batch_size: 1 }],
      },
    });
    const raw = (ours.ModelConfig!.responseDeserialize(bytes) as { config: unknown }).config;
    expect(parseModelConfig(raw)).toEqual({
      name: 'canopy_lm',
      platform: '',
      backend: 'python',
      maxBatchSize: 0,
      inputs: [
        { name: 'tokens', datatype: 'INT32', dims: [-1], optional: false },
        { name: 'session_id', datatype: 'BYTES', dims: [-1], optional: false },
        { name: 'skip_layers', datatype: 'INT32', dims: [-1], optional: true },
      ],
      outputs: [{ name: 'hidden', datatype: 'FP32', dims: [-1, -1, -1], optional: false }],
      parameters: { vocab_size: '49152', eos_token_ids: '2' },
    });
  });

  it('reads model statistics', () => {
    const bytes = official.ModelStatistics!.responseSerialize({
      model_stats: [
        {
          name: 'canopy_lm',
          version: '1',
          inference_count: 12,
          execution_count: 10,
          inference_stats: { success: { count: 10, ns: 5000 }, compute_infer: { count: 10, ns: 4000 } },
          batch_stats: [{ batch_size: 1, compute_infer: { count: 10, ns: 4000 } }],
        },
      ],
    });
    const [stats] = parseModelStatistics(ours.ModelStatistics!.responseDeserialize(bytes));
    expect(stats).toMatchObject({
      name: 'canopy_lm',
      inferenceCount: 12,
      executionCount: 10,
      success: { count: 10, ns: 5000 },
      computeInfer: { count: 10, ns: 4000 },
      queue: { count: 0, ns: 0 },
    });
  });
});
