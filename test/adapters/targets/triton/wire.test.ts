import { describe, expect, it } from 'vitest';
import { type Tensor, tensor } from '../../../../adapters/targets/triton/codec.js';
import type { InferRequest } from '../../../../adapters/targets/triton/kserve-client.js';
import {
  decodeBatch,
  EMPTY_INT32,
  encodeBatch,
  FLAG_CLOSE,
  FLAG_OPEN,
  type WireOp,
} from '../../../../adapters/targets/triton/wire.js';
import { GREEDY } from '../../../../kernels/sampling-params.js';

const i32 = (...v: number[]) => Int32Array.from(v);

const stepA: WireOp = {
  sessionId: 'a',
  flags: 0,
  tree: { tokens: i32(10, 11, 12), parents: i32(-1, 0, 0) },
  keep: i32(0, 2),
  topK: 2,
  hiddenLayers: [3],
};
const openB: WireOp = {
  sessionId: 'b',
  flags: FLAG_OPEN,
  tree: { tokens: i32(20, 21), parents: i32(-1, 0) },
  keep: EMPTY_INT32,
  sampling: { ...GREEDY, temperature: 0.7, topK: 40, seed: 2 ** 40 + 3 },
  topK: 0,
  hiddenLayers: [],
};
const stepC: WireOp = {
  sessionId: 'c',
  flags: 0,
  tree: { tokens: i32(30, 31), parents: i32(-1, 0) },
  keep: i32(0),
  topK: 3,
  hiddenLayers: [5, 3],
};

function input(request: InferRequest, name: string): Tensor['data'] | undefined {
  return request.inputs.find((t) => t.name === name)?.data;
}

describe('canopy_lm flat batch layout', () => {
  it('lays several sessions end to end with per-session counts', () => {
    const request = encodeBatch('canopy_lm', [stepA, openB, stepC]);
    expect(request.model).toBe('canopy_lm');
    expect((input(request, 'session_id') as Uint8Array[]).map((b) => new TextDecoder().decode(b))).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(input(request, 'flags')).toEqual(i32(0, FLAG_OPEN, 0));
    expect(input(request, 'node_count')).toEqual(i32(3, 2, 2));
    expect(input(request, 'tokens')).toEqual(i32(10, 11, 12, 20, 21, 30, 31));
    // Parents stay local to each session's tree.
    expect(input(request, 'parents')).toEqual(i32(-1, 0, 0, -1, 0, -1, 0));
    expect(input(request, 'keep_count')).toEqual(i32(2, 0, 1));
    expect(input(request, 'keep')).toEqual(i32(0, 2, 0));
  });

  it('sends sampling parameters in session order, defaults where a session does not open', () => {
    const request = encodeBatch('m', [stepA, openB]);
    expect(input(request, 'temperature')).toEqual(Float32Array.of(0, 0.7));
    expect(input(request, 'top_k')).toEqual(i32(0, 40));
    expect(input(request, 'top_p')).toEqual(Float32Array.of(1, 1));
    expect(input(request, 'repetition_penalty')).toEqual(Float32Array.of(1, 1));
    expect(input(request, 'seed')).toEqual(BigUint64Array.of(0n, 2n ** 40n + 3n));
    expect(input(encodeBatch('m', [stepA]), 'temperature')).toBeUndefined();
  });

  it('asks for the widest top-k and the union of hidden layers, and only the outputs needed', () => {
    const request = encodeBatch('m', [stepA, stepC]);
    expect(input(request, 'return_top_k')).toEqual(i32(3));
    expect(input(request, 'hidden_layers')).toEqual(i32(3, 5));
    expect(request.outputs).toEqual(['chosen', 'session_length', 'topk_ids', 'topk_logprobs', 'hidden']);
    const plain = encodeBatch('m', [openB]);
    expect(plain.outputs).toEqual(['chosen', 'session_length']);
    expect(input(plain, 'return_top_k')).toBeUndefined();
    expect(input(encodeBatch('m', [stepA], [4, 6]), 'skip_layers')).toEqual(i32(4, 6));
  });

  it('encodes a CLOSE with no nodes and no keep', () => {
    const close: WireOp = {
      sessionId: 'z',
      flags: FLAG_CLOSE,
      tree: { tokens: EMPTY_INT32, parents: EMPTY_INT32 },
      keep: EMPTY_INT32,
      topK: 0,
      hiddenLayers: [],
    };
    const request = encodeBatch('m', [close]);
    expect(input(request, 'node_count')).toEqual(i32(0));
    expect(input(request, 'tokens')).toEqual(EMPTY_INT32);
  });

  it('gives each session its own slice of the answer, with exactly the extras it asked for', () => {
    const ops = [stepA, openB, stepC];
    const request = encodeBatch('m', ops);
    const s = 7;
    const k = 3;
    const h = 2;
    const topkIds = Int32Array.from({ length: s * k }, (_, i) => 100 + i); // row r: 100+3r, 101+3r, 102+3r
    const topkLogprobs = Float32Array.from({ length: s * k }, (_, i) => -i);
    // [Hn=2 (layers 3, 5), S, H]
    const hidden = Float32Array.from({ length: 2 * s * h }, (_, i) => i);
    const results = decodeBatch(request, ops, {
      model: 'm',
      outputs: [
        tensor('chosen', 'INT32', i32(1, 2, 3, -1, -1, 6, 7)),
        tensor('session_length', 'INT32', i32(9, 3, 5)),
        tensor('topk_ids', 'INT32', topkIds, [s, k]),
        tensor('topk_logprobs', 'FP32', topkLogprobs, [s, k]),
        tensor('hidden', 'FP32', hidden, [2, s, h]),
      ],
    });
    expect(results.map((r) => [...r.pass.chosen])).toEqual([
      [1, 2, 3],
      [-1, -1],
      [6, 7],
    ]);
    expect(results.map((r) => r.sessionLength)).toEqual([9, 3, 5]);
    // Session a asked k = 2 of the 3 columns.
    expect([...results[0]!.pass.topKIds!]).toEqual([100, 101, 103, 104, 106, 107]);
    expect([...results[0]!.pass.topKLogprobs!]).toEqual([-0, -1, -3, -4, -6, -7]);
    expect(results[1]!.pass.topKIds).toBeUndefined();
    expect([...results[2]!.pass.topKIds!]).toEqual([115, 116, 117, 118, 119, 120]);
    // Session a asked layer 3 only (index 0); session c both, rows 5..6.
    expect([...results[0]!.pass.hidden!.keys()]).toEqual([3]);
    expect([...results[0]!.pass.hidden!.get(3)!]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...results[2]!.pass.hidden!.get(5)!]).toEqual([24, 25, 26, 27]);
    expect([...results[2]!.pass.hidden!.get(3)!]).toEqual([10, 11, 12, 13]);
  });

  it("asks for the model's time per session only when told to, and hands each session its own", () => {
    expect(encodeBatch('m', [stepA]).outputs).not.toContain('compute_ms');
    const request = encodeBatch('m', [stepA, stepC], [], true);
    expect(request.outputs).toContain('compute_ms');
    const base = [
      tensor('chosen', 'INT32', i32(1, 2, 3, 6, 7)),
      tensor('session_length', 'INT32', i32(9, 5)),
    ];
    const extras = [
      tensor('topk_ids', 'INT32', new Int32Array(5 * 3), [5, 3]),
      tensor('topk_logprobs', 'FP32', new Float32Array(5 * 3), [5, 3]),
      tensor('hidden', 'FP32', new Float32Array(2 * 5 * 4), [2, 5, 4]),
    ];
    const results = decodeBatch(request, [stepA, stepC], {
      model: 'm',
      outputs: [...base, ...extras, tensor('compute_ms', 'FP32', Float32Array.of(12.5, 3))],
    });
    expect(results.map((r) => r.computeMs)).toEqual([12.5, 3]);
    expect(
      decodeBatch(encodeBatch('m', [stepA, stepC]), [stepA, stepC], {
        model: 'm',
        outputs: [...base, ...extras],
      })[0]!.computeMs,
    ).toBeUndefined();
    // Only timing: an answer without one time per session still verifies, with no times.
    const short = decodeBatch(request, [stepA, stepC], {
      model: 'm',
      outputs: [...base, ...extras, tensor('compute_ms', 'FP32', Float32Array.of(1))],
    });
    expect(short.map((r) => [...r.pass.chosen])).toEqual([
      [1, 2, 3],
      [6, 7],
    ]);
    expect(short.map((r) => r.computeMs)).toEqual([undefined, undefined]);
  });

  it('asks for chosen log-probabilities when a session does, and hands them only to the sessions that asked', () => {
    expect(encodeBatch('m', [stepA, stepC]).outputs).not.toContain('chosen_logprobs');
    expect(input(encodeBatch('m', [stepA, stepC]), 'return_logprobs')).toBeUndefined();
    const asking = { ...stepC, logprobs: true };
    const request = encodeBatch('m', [stepA, asking]);
    expect(request.outputs).toContain('chosen_logprobs');
    expect([...(input(request, 'return_logprobs') as Int32Array)]).toEqual([1]);
    const outputs = [
      tensor('chosen', 'INT32', i32(1, 2, 3, 6, 7)),
      tensor('session_length', 'INT32', i32(9, 5)),
      tensor('topk_ids', 'INT32', new Int32Array(5 * 3), [5, 3]),
      tensor('topk_logprobs', 'FP32', new Float32Array(5 * 3), [5, 3]),
      tensor('hidden', 'FP32', new Float32Array(2 * 5 * 4), [2, 5, 4]),
    ];
    const results = decodeBatch(request, [stepA, asking], {
      model: 'm',
      outputs: [...outputs, tensor('chosen_logprobs', 'FP32', Float32Array.of(-1, -2, -3, -0.5, -0.25))],
    });
    expect(results[0]!.pass.chosenLogprobs).toBeUndefined();
    expect([...results[1]!.pass.chosenLogprobs!]).toEqual([-0.5, -0.25]);
    // Asked and missing or misshaped: the answer is not the model's contract.
    for (const bad of [[], [tensor('chosen_logprobs', 'FP32', Float32Array.of(-1))]]) {
      expect(() =>
        decodeBatch(request, [stepA, asking], { model: 'm', outputs: [...outputs, ...bad] }),
      ).toThrow(expect.objectContaining({ code: 'CANOPY_ERR_UPSTREAM_PROTOCOL' }));
    }
  });

  it('refuses an answer whose sizes do not match the request', () => {
    const request = encodeBatch('m', [openB]);
    const response = {
      model: 'm',
      outputs: [tensor('chosen', 'INT32', i32(1)), tensor('session_length', 'INT32', i32(2))],
    };
    expect(() => decodeBatch(request, [openB], response)).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_UPSTREAM_PROTOCOL' }),
    );
  });
});
