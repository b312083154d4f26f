/**
 * Turns a llama GGUF's tensors into the graph's float32 initializers, one
 * tensor at a time: dequantize, transpose to `[in, out]` for MatMul, fuse
 * Q/K/V and gate/up so each block runs two GEMMs instead of five, and fold
 * the attention scale 1/sqrt(headDim) into the Q columns (RoPE is linear, so
 * scaling before it is the same as scaling the scores).
 *
 * Initializer names (shapes in ONNX order):
 * - `token_embd` [V, H] (also the LM head when tied), `output` [V, H] when untied
 * - `output_norm` [H]
 * - `blk.{l}.attn_norm` [H], `blk.{l}.attn_qkv` [H, (heads + 2 kvHeads) * headDim],
 *   `blk.{l}.attn_output` [heads * headDim, H]
 * - `blk.{l}.ffn_norm` [H], `blk.{l}.ffn_gate_up` [H, 2F], `blk.{l}.ffn_down` [F, H]
 */
import { CanopyError } from '../../kernels/errors.js';
import { canDequantize, dequantize } from './dequantize.js';
import type { ExternalDataWriter } from './external-data.js';
import { ggmlTypeName } from './ggml-types.js';
import type { GgufFile, GgufTensorInfo } from './gguf-reader.js';
import type { LlamaParams } from './llama-params.js';
import type { OnnxTensor } from './onnx-model.js';

/** Expected GGUF tensors with their GGML dims (innermost first). */
function expectedTensors(p: LlamaParams): Map<string, number[]> {
  const { hiddenSize: h, vocabSize: v, ffnSize: f } = p;
  const q = p.numHeads * p.headDim;
  const kv = p.numKvHeads * p.headDim;
  const out = new Map<string, number[]>([
    ['token_embd.weight', [h, v]],
    ['output_norm.weight', [h]],
  ]);
  if (!p.tiedEmbeddings) out.set('output.weight', [h, v]);
  for (let l = 0; l < p.numLayers; l++) {
    const b = `blk.${l}`;
    out.set(`${b}.attn_norm.weight`, [h]);
    out.set(`${b}.attn_q.weight`, [h, q]);
    out.set(`${b}.attn_k.weight`, [h, kv]);
    out.set(`${b}.attn_v.weight`, [h, kv]);
    out.set(`${b}.attn_output.weight`, [q, h]);
    out.set(`${b}.ffn_norm.weight`, [h]);
    out.set(`${b}.ffn_gate.weight`, [h, f]);
    out.set(`${b}.ffn_up.weight`, [h, f]);
    out.set(`${b}.ffn_down.weight`, [f, h]);
  }
  return out;
}

/**
 * Checks, before anything is written, that the file holds exactly the tensors
 * a llama graph needs, with the right shapes and readable types.
 */
export function checkLlamaTensors(file: GgufFile, p: LlamaParams): void {
  const expected = expectedTensors(p);
  for (const [name, info] of file.tensors) {
    const dims = expected.get(name);
    if (!dims) {
      throw new CanopyError(
        'CANOPY_ERR_UNSUPPORTED_ARCHITECTURE',
        `tensor '${name}' has no place in a llama graph (biases, MoE and other variants are not supported)`,
        { details: { tensor: name } },
      );
    }
    if (info.dims.length !== dims.length || info.dims.some((d, i) => d !== dims[i])) {
      throw new CanopyError(
        'CANOPY_ERR_GGUF_INVALID',
        `tensor '${name}' has shape [${info.dims}], expected [${dims}] from the metadata`,
      );
    }
    if (!canDequantize(info.type) || info.byteSize < 0) {
      throw new CanopyError(
        'CANOPY_ERR_UNSUPPORTED_QUANTIZATION',
        `tensor '${name}' is stored as ${ggmlTypeName(info.type)}, which canopy cannot dequantize`,
        { details: { tensor: name, type: ggmlTypeName(info.type) } },
      );
    }
  }
  for (const name of expected.keys()) {
    if (!file.tensors.has(name)) {
      throw new CanopyError('CANOPY_ERR_GGUF_INVALID', `the GGUF lacks tensor '${name}'`);
    }
  }
}

/** The dominant quantization of the 2-D weights (for the manifest), e.g. `Q4_1`. */
export function dominantQuantization(file: GgufFile): string {
  const counts = new Map<number, number>();
  for (const t of file.tensors.values()) {
    if (t.dims.length === 2 && t.name !== 'token_embd.weight') {
      counts.set(t.type, (counts.get(t.type) ?? 0) + t.elements);
    }
  }
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  return best ? ggmlTypeName(best[0]) : 'F32';
}

/**
 * Copies `src` (a GGUF matrix: `rows` rows of `cols` values, i.e. a
 * `[out, in]` linear weight) transposed into columns `col..col+rows` of `dst`
 * (`[cols, dstCols]`), times `scale`.
 */
function transposeInto(
  src: Float32Array,
  rows: number,
  cols: number,
  dst: Float32Array,
  dstCols: number,
  col: number,
  scale = 1,
): void {
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let c = 0; c < cols; c++) dst[c * dstCols + col + r] = src[s + c] * scale;
  }
}

export interface WeightProgress {
  readonly tensorsDone: number;
  readonly tensorsTotal: number;
}

/** Dequantizes and writes every weight; returns the initializers by name. */
export function writeLlamaWeights(
  file: GgufFile,
  p: LlamaParams,
  out: ExternalDataWriter,
  onProgress?: (progress: WeightProgress) => void,
): Map<string, OnnxTensor> {
  const tensors = new Map<string, OnnxTensor>();
  const total = file.tensors.size;
  let done = 0;
  const load = (name: string): GgufTensorInfo & { data: Float32Array } => {
    const info = file.tensors.get(name)!;
    const data = dequantize(info.type, file.readTensorBytes(info), info.elements);
    onProgress?.({ tensorsDone: ++done, tensorsTotal: total });
    return { ...info, data };
  };
  const put = (name: string, dims: number[], data: Float32Array) => {
    tensors.set(name, out.add(name, dims, data));
  };
  const { hiddenSize: h, ffnSize: f } = p;
  const q = p.numHeads * p.headDim;
  const kv = p.numKvHeads * p.headDim;

  put('token_embd', [p.vocabSize, h], load('token_embd.weight').data);
  for (let l = 0; l < p.numLayers; l++) {
    const b = `blk.${l}`;
    put(`${b}.attn_norm`, [h], load(`${b}.attn_norm.weight`).data);
    const qkv = new Float32Array(h * (q + 2 * kv));
    const width = q + 2 * kv;
    transposeInto(load(`${b}.attn_q.weight`).data, q, h, qkv, width, 0, 1 / Math.sqrt(p.headDim));
    transposeInto(load(`${b}.attn_k.weight`).data, kv, h, qkv, width, q);
    transposeInto(load(`${b}.attn_v.weight`).data, kv, h, qkv, width, q + kv);
    put(`${b}.attn_qkv`, [h, width], qkv);
    const o = new Float32Array(q * h);
    transposeInto(load(`${b}.attn_output.weight`).data, h, q, o, h, 0);
    put(`${b}.attn_output`, [q, h], o);
    put(`${b}.ffn_norm`, [h], load(`${b}.ffn_norm.weight`).data);
    const gateUp = new Float32Array(h * 2 * f);
    transposeInto(load(`${b}.ffn_gate.weight`).data, f, h, gateUp, 2 * f, 0);
    transposeInto(load(`${b}.ffn_up.weight`).data, f, h, gateUp, 2 * f, f);
    put(`${b}.ffn_gate_up`, [h, 2 * f], gateUp);
    const down = new Float32Array(f * h);
    transposeInto(load(`${b}.ffn_down.weight`).data, h, f, down, h, 0);
    put(`${b}.ffn_down`, [f, h], down);
  }
  put('output_norm', [h], load('output_norm.weight').data);
  if (!p.tiedEmbeddings) put('output', [p.vocabSize, h], load('output.weight').data);
  return tensors;
}
