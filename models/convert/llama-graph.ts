/**
 * The llama forward graph of docs/model-format.md: one pass over N new tokens
 * (a prefill chunk, one decoding step, or a whole token tree) against T cached
 * positions, with an additive attention bias so any tree shape can be verified.
 *
 * Shapes in comments: N new tokens, T cached, S = T + N, H hidden, D head dim,
 * Hq query heads, Hkv KV heads, G = Hq / Hkv, V vocab, M logit rows, K top-k.
 *
 * With `layerSkip`, every block sits in an ONNX `If` on `layer_mask[l]`: the
 * else branch passes the residual through, so one file can also run any
 * subset of layers. Without it the blocks are inlined (no branch overhead)
 * and the graph has no `layer_mask` input.
 */
import { attr, GraphBuilder } from './graph-builder.js';
import type { LlamaParams } from './llama-params.js';
import type { OnnxModel, OnnxTensor } from './onnx-model.js';

/** Bumped whenever the graph changes (the converter version in manifests follows it). */
export const CONVERTER_REVISION = '2';

export interface LlamaGraphOptions {
  readonly layerSkip: boolean;
}

/** Values every block reads, computed once per pass. */
interface Shared {
  /** [N, 1, D] cos of each rotation angle, repeated for both members of a pair. */
  readonly cos: string;
  /** [N, 1, D] sin, negated on the first member of each pair. */
  readonly sin: string;
  /** [N, S] */
  readonly bias: string;
  /** int64 [4]: Hkv, G, N, S, to unflatten the scores. */
  readonly scoreShape: string;
  /** int64 [3]: Hkv, -1, S, to flatten them again. */
  readonly flatShape: string;
}

/** RMSNorm in the pattern onnxruntime fuses into SimplifiedLayerNormalization. */
function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number, output?: string): string {
  const sq = g.op1('Pow', [x, g.float32([2])]);
  const mean = g.op1('ReduceMean', [sq, g.int64([-1])], { keepdims: attr.int(1) });
  const std = g.op1('Sqrt', [g.op1('Add', [mean, g.float32([eps])])]);
  return g.op1('Mul', [g.op1('Div', [x, std]), weight], undefined, output);
}

/** Rotates adjacent pairs (x0, x1) of the last axis: GGML's "normal" RoPE over GGUF's permuted Q/K rows. */
function rope(g: GraphBuilder, x: string, headDim: number, s: Shared): string {
  const swap = Array.from({ length: headDim }, (_, i) => i ^ 1);
  const swapped = g.op1('Gather', [x, g.int64(swap)], { axis: attr.int(-1) });
  return g.op1('Add', [g.op1('Mul', [x, s.cos]), g.op1('Mul', [swapped, s.sin])]);
}

interface BlockOut {
  readonly x: string;
  readonly key: string;
  readonly value: string;
}

/** One transformer block on residual `x` [N, H]; `names` fixes the output names. */
function block(
  g: GraphBuilder,
  p: LlamaParams,
  l: number,
  x: string,
  s: Shared,
  names: { x: string; key: string; value: string },
): BlockOut {
  const D = p.headDim;
  const hq = p.numHeads;
  const hkv = p.numKvHeads;
  const G = hq / hkv;
  const w = (n: string) => `blk.${l}.${n}`;

  const h = rmsNorm(g, x, w('attn_norm'), p.rmsEps);
  const qkv = g.op1('MatMul', [h, w('attn_qkv')]); // [N, (Hq + 2 Hkv) D]
  const [qk, v] = g.op('Split', [qkv, g.int64([(hq + hkv) * D, hkv * D])], { axis: attr.int(-1) }, 2);
  const qkRot = rope(g, g.op1('Reshape', [qk, g.int64([0, hq + hkv, D])]), D, s); // [N, Hq + Hkv, D]
  const [q, key] = g.op('Split', [qkRot, g.int64([hq, hkv])], { axis: attr.int(1) }, [
    g.fresh('q'),
    names.key,
  ]);
  const value = g.op1('Reshape', [v, g.int64([0, hkv, D])], undefined, names.value); // [N, Hkv, D]

  const keys = g.op1('Concat', [`past_key_${l}`, key], { axis: attr.int(0) }); // [S, Hkv, D]
  const values = g.op1('Concat', [`past_value_${l}`, value], { axis: attr.int(0) });
  // Query heads h*G..h*G+G-1 share KV head h: batch over KV heads, rows = (group, node).
  const qg = g.op1('Reshape', [
    g.op1('Transpose', [g.op1('Reshape', [q, g.int64([0, hkv, G, D])])], { perm: attr.ints([1, 2, 0, 3]) }),
    g.int64([hkv, -1, D]),
  ]); // [Hkv, G N, D]
  const kt = g.op1('Transpose', [keys], { perm: attr.ints([1, 2, 0]) }); // [Hkv, D, S]
  const scores = g.op1('Reshape', [g.op1('MatMul', [qg, kt]), s.scoreShape]); // [Hkv, G, N, S]
  const probs = g.op1('Softmax', [g.op1('Add', [scores, s.bias])], { axis: attr.int(-1) });
  const vt = g.op1('Transpose', [values], { perm: attr.ints([1, 0, 2]) }); // [Hkv, S, D]
  const ctx = g.op1('MatMul', [g.op1('Reshape', [probs, s.flatShape]), vt]); // [Hkv, G N, D]
  const merged = g.op1('Reshape', [
    g.op1('Transpose', [g.op1('Reshape', [ctx, g.int64([hkv, G, -1, D])])], {
      perm: attr.ints([2, 0, 1, 3]),
    }),
    g.int64([-1, hq * D]),
  ]); // [N, Hq D]
  const x1 = g.op1('Add', [x, g.op1('MatMul', [merged, w('attn_output')])]);

  const h2 = rmsNorm(g, x1, w('ffn_norm'), p.rmsEps);
  const [gate, up] = g.op(
    'Split',
    [g.op1('MatMul', [h2, w('ffn_gate_up')])],
    { axis: attr.int(-1), num_outputs: attr.int(2) },
    2,
  );
  const act = g.op1('Mul', [g.op1('Mul', [gate, g.op1('Sigmoid', [gate])]), up]); // SwiGLU
  const out = g.op1('Add', [x1, g.op1('MatMul', [act, w('ffn_down')])], undefined, names.x);
  return { x: out, key, value };
}

/** Builds the whole model graph over the given initializers. */
export function buildLlamaGraph(
  p: LlamaParams,
  weights: ReadonlyMap<string, OnnxTensor>,
  options: LlamaGraphOptions,
): OnnxModel {
  const g = new GraphBuilder('canopy_llama');
  for (const t of weights.values()) g.initializer(t);
  const D = p.headDim;
  const hkv = p.numKvHeads;
  const L = p.numLayers;

  const ids = g.input({ name: 'input_ids', dtype: 'int64', shape: ['N'] });
  const positions = g.input({ name: 'positions', dtype: 'int64', shape: ['N'] });
  const bias = g.input({ name: 'attn_bias', dtype: 'float32', shape: ['N', 'S'] });
  for (let l = 0; l < L; l++) {
    g.input({ name: `past_key_${l}`, dtype: 'float32', shape: ['T', hkv, D] });
    g.input({ name: `past_value_${l}`, dtype: 'float32', shape: ['T', hkv, D] });
  }
  const layerMask = options.layerSkip ? g.input({ name: 'layer_mask', dtype: 'bool', shape: [L] }) : '';
  const logitRows = g.input({ name: 'logit_rows', dtype: 'int64', shape: ['M'] });
  const topK = g.input({ name: 'top_k', dtype: 'int64', shape: [1] });

  // RoPE angles: position / scale * theta^(-2i/D), each repeated for the pair (2i, 2i+1).
  const invFreq = Array.from(
    { length: D },
    (_, i) => p.ropeTheta ** (-(2 * Math.floor(i / 2)) / D) / p.ropeScale,
  );
  const angles = g.op1('Mul', [
    g.op1('Unsqueeze', [g.op1('Cast', [positions], { to: attr.int(1) }), g.int64([1, 2])]),
    g.float32(invFreq, [1, 1, D]),
  ]); // [N, 1, D]
  const sign = Array.from({ length: D }, (_, i) => (i % 2 === 0 ? -1 : 1));
  const biasShape = g.op1('Shape', [bias]); // [N, S]
  const shared: Shared = {
    cos: g.op1('Cos', [angles]),
    sin: g.op1('Mul', [g.op1('Sin', [angles]), g.float32(sign, [1, 1, D])]),
    bias,
    scoreShape: g.op1('Concat', [g.int64([hkv, p.numHeads / hkv]), biasShape], { axis: attr.int(0) }),
    flatShape: g.op1(
      'Concat',
      [g.int64([hkv, -1]), g.op1('Slice', [biasShape, g.int64([1]), g.int64([2])])],
      { axis: attr.int(0) },
    ),
  };

  let x = g.op1('Gather', [`token_embd`, ids], { axis: attr.int(0) }); // [N, H]
  for (let l = 0; l < L; l++) {
    const names = { x: `hidden_${l}`, key: `present_key_${l}`, value: `present_value_${l}` };
    if (!options.layerSkip) {
      x = block(g, p, l, x, shared, names).x;
    } else {
      const run = g.subgraph(`block_${l}`);
      const inner = { x: `blk_${l}_x`, key: `blk_${l}_key`, value: `blk_${l}_value` };
      block(run, p, l, x, shared, inner);
      for (const n of Object.values(inner)) run.output(n, { name: n, dtype: 'float32' });
      const skip = g.subgraph(`skip_${l}`);
      // A skipped block has no KV: its present tensors are empty [0, Hkv, D].
      const empty = g.float32([], [0, hkv, D]);
      for (const [src, n] of [
        [x, `skip_${l}_x`],
        [empty, `skip_${l}_key`],
        [empty, `skip_${l}_value`],
      ]) {
        skip.output(skip.op1('Identity', [src], undefined, n), { name: n, dtype: 'float32' });
      }
      const cond = g.op1('Gather', [layerMask, g.int64([l], true)], { axis: attr.int(0) });
      g.op('If', [cond], { then_branch: attr.graph(run.build()), else_branch: attr.graph(skip.build()) }, [
        names.x,
        names.key,
        names.value,
      ]);
      x = names.x;
    }
  }

  const final = rmsNorm(g, x, 'output_norm', p.rmsEps, 'hidden_final'); // [N, H]
  const rows = g.op1('Gather', [final, logitRows], { axis: attr.int(0) }); // [M, H]
  const head = p.tiedEmbeddings ? 'token_embd' : 'output';
  const logits = g.op1('Gemm', [rows, head], { transB: attr.int(1) }, 'logits'); // [M, V]
  // TopK over the raw logits gives the greedy choice too (ties: lowest id first, per the
  // ONNX spec); onnxruntime's ArgMax over [M, V] costs more than LogSoftmax and TopK together.
  const topIds = g.op('TopK', [logits, topK], { axis: attr.int(-1) }, [
    g.fresh('topk_values'),
    'topk_ids',
  ])[1];
  const logprobs = g.op1('LogSoftmax', [logits], { axis: attr.int(-1) });
  g.op1('GatherElements', [logprobs, topIds], { axis: attr.int(-1) }, 'topk_logprobs'); // [M, K]
  const first = g.op1('Slice', [topIds, g.int64([0]), g.int64([1]), g.int64([1])]);
  g.op1('Squeeze', [first, g.int64([1])], undefined, 'argmax'); // [M]
  g.output('logits', { name: 'logits', dtype: 'float32', shape: ['M', p.vocabSize] });
  g.output('argmax', { name: 'argmax', dtype: 'int64', shape: ['M'] });
  g.output('topk_ids', { name: 'topk_ids', dtype: 'int64', shape: ['M', 'K'] });
  g.output('topk_logprobs', { name: 'topk_logprobs', dtype: 'float32', shape: ['M', 'K'] });
  for (let l = 0; l < L; l++) {
    // Skipped blocks return [0, Hkv, D]: the leading dimension is left unnamed.
    g.output(`present_key_${l}`, { name: `present_key_${l}`, dtype: 'float32', shape: [null, hkv, D] });
    g.output(`present_value_${l}`, { name: `present_value_${l}`, dtype: 'float32', shape: [null, hkv, D] });
  }
  for (let l = 0; l < L; l++) {
    g.output(`hidden_${l}`, { name: `hidden_${l}`, dtype: 'float32', shape: ['N', p.hiddenSize] });
  }
  g.output('hidden_final', { name: 'hidden_final', dtype: 'float32', shape: ['N', p.hiddenSize] });

  return { graph: g.build(), opset: 18, producer: 'canopy-convert', producerVersion: CONVERTER_REVISION };
}
