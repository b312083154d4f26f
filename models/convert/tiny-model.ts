/**
 * The tiny random-weight llama (`prepare-model --tiny`): SmolLM2's
 * architecture at toy size, deterministic from a seed, written as a real GGUF
 * (tokenizer metadata included) and converted like any user's file. Tests get
 * a real model in seconds, and the GGUF reader, the dequantizers (F16, Q8_0)
 * and the tokenizer export are exercised on every test run.
 *
 * Weight scales are chosen so logits are peaked (std ≈ 4), not flat: greedy
 * choices then have clear margins, which keeps exactness tests meaningful.
 */
import { type TokenizerFile, tinyTokenizerFile } from '../../adapters/tokenizer/index.js';
import { GgmlType } from './ggml-types.js';
import { type GgufEntry, type GgufWriteTensor, writeGguf } from './gguf-writer.js';

export const TINY_SHAPE = {
  hiddenSize: 64,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 2,
  ffnSize: 128,
  maxContext: 512,
  ropeTheta: 10000,
  rmsEps: 1e-5,
} as const;

export const DEFAULT_TINY_SEED = 0;

/** mulberry32: a small, well-mixed 32-bit generator; enough for test weights. */
function uniforms(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

function normals(seed: number): (n: number, std: number, mean?: number) => Float32Array {
  const u = uniforms(seed);
  return (n, std, mean = 0) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      // Box-Muller: two independent normals per two uniforms.
      const r = Math.sqrt(-2 * Math.log(u()));
      const phi = 2 * Math.PI * u();
      out[i] = mean + std * r * Math.cos(phi);
      if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(phi);
    }
    return out;
  };
}

function tokenizerMetadata(tok: TokenizerFile): [string, GgufEntry][] {
  const id = (key: string, value: number | null): [string, GgufEntry][] =>
    value === null ? [] : [[`tokenizer.ggml.${key}_token_id`, { type: 'u32', value }]];
  return [
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: tok.pre }],
    ['tokenizer.ggml.tokens', { type: 'strings', value: tok.tokens }],
    ['tokenizer.ggml.token_type', { type: 'i32s', value: tok.tokenTypes }],
    ['tokenizer.ggml.merges', { type: 'strings', value: tok.merges }],
    ...id('bos', tok.bosTokenId),
    ...id('eos', tok.eosTokenId),
    ...id('unknown', tok.unkTokenId),
    ...id('padding', tok.padTokenId),
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: tok.addBos }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: tok.addEos }],
    ...(tok.chatTemplate === null
      ? []
      : [['tokenizer.chat_template', { type: 'string', value: tok.chatTemplate }] as [string, GgufEntry]]),
  ];
}

export interface GgufContents {
  readonly metadata: [string, GgufEntry][];
  readonly tensors: GgufWriteTensor[];
}

/** The tiny model's GGUF metadata and tensors for `seed` (tests may alter them). */
export function tinyGguf(seed: number = DEFAULT_TINY_SEED): GgufContents {
  const tok = tinyTokenizerFile();
  const s = TINY_SHAPE;
  const V = tok.tokens.length;
  const H = s.hiddenSize;
  const D = H / s.numHeads;
  const kv = s.numKvHeads * D;
  const F = s.ffnSize;
  const rand = normals(seed);
  const tensors: GgufWriteTensor[] = [
    { name: 'token_embd.weight', dims: [H, V], type: GgmlType.F16, data: rand(H * V, 0.5) },
    { name: 'output_norm.weight', dims: [H], type: GgmlType.F32, data: rand(H, 0.1, 1) },
  ];
  const matrix = (name: string, inDim: number, outDim: number, type: GgufWriteTensor['type']) =>
    tensors.push({ name, dims: [inDim, outDim], type, data: rand(inDim * outDim, 1 / Math.sqrt(inDim)) });
  for (let l = 0; l < s.numLayers; l++) {
    const b = `blk.${l}`;
    tensors.push({ name: `${b}.attn_norm.weight`, dims: [H], type: GgmlType.F32, data: rand(H, 0.1, 1) });
    matrix(`${b}.attn_q.weight`, H, H, GgmlType.F32);
    matrix(`${b}.attn_k.weight`, H, kv, GgmlType.F32);
    matrix(`${b}.attn_v.weight`, H, kv, GgmlType.F32);
    matrix(`${b}.attn_output.weight`, H, H, GgmlType.F32);
    tensors.push({ name: `${b}.ffn_norm.weight`, dims: [H], type: GgmlType.F32, data: rand(H, 0.1, 1) });
    matrix(`${b}.ffn_gate.weight`, H, F, GgmlType.Q8_0);
    matrix(`${b}.ffn_up.weight`, H, F, GgmlType.Q8_0);
    matrix(`${b}.ffn_down.weight`, F, H, GgmlType.Q8_0);
  }
  const meta: [string, GgufEntry][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: `canopy tiny random (seed ${seed})` }],
    ['llama.block_count', { type: 'u32', value: s.numLayers }],
    ['llama.context_length', { type: 'u32', value: s.maxContext }],
    ['llama.embedding_length', { type: 'u32', value: H }],
    ['llama.feed_forward_length', { type: 'u32', value: F }],
    ['llama.attention.head_count', { type: 'u32', value: s.numHeads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: s.numKvHeads }],
    ['llama.rope.freq_base', { type: 'f32', value: s.ropeTheta }],
    ['llama.rope.dimension_count', { type: 'u32', value: D }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: s.rmsEps }],
    ['llama.vocab_size', { type: 'u32', value: V }],
    ['general.file_type', { type: 'u32', value: 0 }],
    ...tokenizerMetadata(tok),
  ];
  return { metadata: meta, tensors };
}

/** Writes the tiny model's GGUF for `seed` to `path`. */
export function writeTinyGguf(path: string, seed: number = DEFAULT_TINY_SEED): void {
  const { metadata, tensors } = tinyGguf(seed);
  writeGguf(path, metadata, tensors);
}

/** The model name `--tiny --seed N` produces. */
export function tinyModelName(seed: number): string {
  return seed === DEFAULT_TINY_SEED ? 'tiny-random' : `tiny-random-${seed}`;
}
