/**
 * The Triton target's queue-wait reporting against an in-memory client: a
 * model that declares `compute_ms` is asked for it and its passes report
 * their wait; one that does not is never asked (older canopy_lm models).
 */
import { describe, expect, it } from 'vitest';
import { type Tensor, tensor } from '../../../../adapters/targets/triton/codec.js';
import type {
  InferRequest,
  InferResponse,
  KServeClient,
  ModelConfig,
  ModelConfigTensor,
} from '../../../../adapters/targets/triton/kserve-client.js';
import { createTritonTarget } from '../../../../adapters/targets/triton/target.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';

const t = (name: string, datatype: ModelConfigTensor['datatype'] = 'INT32'): ModelConfigTensor => ({
  name,
  datatype,
  dims: [-1],
  optional: false,
});

function config(timed: boolean): ModelConfig {
  return {
    name: 'canopy_lm',
    platform: '',
    backend: 'python',
    maxBatchSize: 0,
    inputs: ['session_id', 'flags', 'node_count', 'tokens', 'parents', 'keep_count', 'keep'].map((n) => t(n)),
    outputs: [t('chosen'), t('session_length'), ...(timed ? [t('compute_ms', 'FP32')] : [])],
    parameters: {
      model_name: 'stub',
      vocab_size: '100',
      num_layers: '2',
      hidden_size: '4',
      max_context: '64',
      eos_token_ids: '0',
    },
  };
}

/**
 * A canopy_lm that answers every node with token 7 and takes `computeMs` per
 * session, after `delayMs` of (simulated) queue and transport.
 */
function stubClient(timed: boolean, seen: InferRequest[], times: { delayMs: number; computeMs: number }) {
  let length = 0;
  const client = {
    url: 'stub://',
    transport: 'http',
    modelReady: async () => true,
    modelConfig: async () => config(timed),
    close: async () => {},
    infer: async (request: InferRequest): Promise<InferResponse> => {
      seen.push(request);
      await new Promise((resolve) => setTimeout(resolve, times.delayMs + times.computeMs));
      const flags = request.inputs.find((x) => x.name === 'flags')!.data as Int32Array;
      const nodes = request.inputs.find((x) => x.name === 'tokens')!.data.length;
      const keep = request.inputs.find((x) => x.name === 'keep')!.data.length;
      length = flags[0] === 1 ? nodes + 1 : length + keep;
      const outputs: Tensor[] = [
        tensor('chosen', 'INT32', new Int32Array(nodes).fill(7)),
        tensor('session_length', 'INT32', Int32Array.of(length)),
      ];
      if (request.outputs?.includes('compute_ms'))
        outputs.push(tensor('compute_ms', 'FP32', Float32Array.of(times.computeMs)));
      return { model: 'canopy_lm', outputs };
    },
  };
  return client as unknown as KServeClient;
}

describe('Triton target queue wait', () => {
  it('reports the wait of passes when the model gives its time per session', async () => {
    const seen: InferRequest[] = [];
    const times = { delayMs: 0, computeMs: 5 };
    const target = await createTritonTarget({ url: 'stub://', client: stubClient(true, seen, times) });
    const session = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    const tree = { tokens: Int32Array.of(5, 7), parents: Int32Array.of(-1, 0) };
    const idle = await session.step(tree);
    expect(idle.queuedMs).toBeGreaterThanOrEqual(0);
    expect(idle.queuedMs).toBeLessThan(20);
    session.accept(Int32Array.of(0, 1), 7);
    times.delayMs = 60; // a queue in front of the model
    const queued = await session.step({ tokens: Int32Array.of(7), parents: Int32Array.of(-1) });
    expect(queued.queuedMs).toBeGreaterThan(40);
    expect(seen.every((r) => r.outputs?.includes('compute_ms'))).toBe(true);
    await target.dispose();
  });

  it('never asks an older model for compute_ms, and its passes report no wait', async () => {
    const seen: InferRequest[] = [];
    const target = await createTritonTarget({
      url: 'stub://',
      client: stubClient(false, seen, { delayMs: 0, computeMs: 1 }),
    });
    const session = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    const pass = await session.step({ tokens: Int32Array.of(5), parents: Int32Array.of(-1) });
    expect(pass.queuedMs).toBeUndefined();
    expect(seen.some((r) => r.outputs?.includes('compute_ms'))).toBe(false);
    await target.dispose();
  });
});
