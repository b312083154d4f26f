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

/** What the stub did on its last request, as measured inside it. */
interface StubRun {
  delayMs: number;
  computeMs: number[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A canopy_lm that answers every node with token 7: it waits `delayMs`
 * (standing for Triton's queue), then works `workMs`, which it reports as
 * `compute_ms` split between the request's sessions in proportion to their
 * node counts. Both are timed as they happened, so timer lateness cannot
 * blur what the target should compute.
 */
function stubClient(
  timed: boolean,
  seen: InferRequest[],
  plan: { delayMs: number; workMs: number },
  last: StubRun,
) {
  const lengths = new Map<string, number>();
  const client = {
    url: 'stub://',
    transport: 'http',
    modelReady: async () => true,
    modelConfig: async () => config(timed),
    close: async () => {},
    infer: async (request: InferRequest): Promise<InferResponse> => {
      seen.push(request);
      const get = (name: string) => request.inputs.find((x) => x.name === name)!.data;
      const ids = (get('session_id') as Uint8Array[]).map((b) => new TextDecoder().decode(b));
      const flags = get('flags') as Int32Array;
      const counts = get('node_count') as Int32Array;
      const keeps = get('keep_count') as Int32Array;
      let t = performance.now();
      await sleep(plan.delayMs);
      last.delayMs = performance.now() - t;
      t = performance.now();
      await sleep(plan.workMs);
      const work = performance.now() - t;
      const nodes = counts.reduce((a, b) => a + b, 0);
      last.computeMs = Array.from(counts, (n) => (nodes > 0 ? (work * n) / nodes : work / counts.length));
      const lengthsOut = ids.map((id, i) => {
        const length = flags[i] === 1 ? counts[i]! + 1 : (lengths.get(id) ?? 0) + keeps[i]!;
        lengths.set(id, length);
        return length;
      });
      const outputs: Tensor[] = [
        tensor('chosen', 'INT32', new Int32Array(nodes).fill(7)),
        tensor('session_length', 'INT32', Int32Array.from(lengthsOut)),
      ];
      if (request.outputs?.includes('compute_ms'))
        outputs.push(tensor('compute_ms', 'FP32', Float32Array.from(last.computeMs)));
      return { model: 'canopy_lm', outputs };
    },
  };
  return client as unknown as KServeClient;
}

const chain = (...tokens: number[]) => ({
  tokens: Int32Array.from(tokens),
  parents: Int32Array.from(tokens, (_, i) => i - 1),
});

describe('Triton target queue wait', () => {
  it('reports the wait of passes when the model gives its time per session', async () => {
    const seen: InferRequest[] = [];
    const plan = { delayMs: 0, workMs: 5 };
    const last: StubRun = { delayMs: 0, computeMs: [] };
    const target = await createTritonTarget({ url: 'stub://', client: stubClient(true, seen, plan, last) });
    const session = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    const idle = await session.step(chain(5, 7));
    session.accept(Int32Array.of(0, 1), 7);
    plan.delayMs = 40; // a queue in front of the model
    const queued = await session.step(chain(7));
    // The wait is the queue, give or take the client's own time around the request.
    expect(queued.queuedMs! - idle.queuedMs!).toBeGreaterThan(last.delayMs - 3);
    expect(queued.queuedMs!).toBeLessThan(last.delayMs + 10);
    expect(seen.every((r) => r.outputs?.includes('compute_ms'))).toBe(true);
    await target.dispose();
  });

  it("gives each session of a batched step the other sessions' work as wait", async () => {
    const plan = { delayMs: 0, workMs: 20 };
    const last: StubRun = { delayMs: 0, computeMs: [] };
    const target = await createTritonTarget({ url: 'stub://', client: stubClient(true, [], plan, last) });
    const a = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    const b = await target.open(Int32Array.of(6, 5), { sampling: GREEDY });
    const [pa, pb] = await target.stepMany([
      { session: a, tree: chain(5) },
      { session: b, tree: chain(5, 8, 9) },
    ]);
    const [ca, cb] = last.computeMs as [number, number];
    // a waited for b's three nodes of work, b for a's one: the difference is exactly theirs.
    expect(pa!.queuedMs! - pb!.queuedMs!).toBeCloseTo(cb - ca, 1);
    expect(pa!.queuedMs!).toBeGreaterThan(cb - 3);
    await target.dispose();
  });

  it('never asks an older model for compute_ms, and its passes report no wait', async () => {
    const seen: InferRequest[] = [];
    const last: StubRun = { delayMs: 0, computeMs: [] };
    const target = await createTritonTarget({
      url: 'stub://',
      client: stubClient(false, seen, { delayMs: 0, workMs: 1 }, last),
    });
    const session = await target.open(Int32Array.of(3, 4, 5), { sampling: GREEDY });
    const pass = await session.step(chain(5));
    expect(pass.queuedMs).toBeUndefined();
    expect(seen.some((r) => r.outputs?.includes('compute_ms'))).toBe(false);
    await target.dispose();
  });
});
