/**
 * The hyper-parameters of a llama-family model, read from GGUF metadata and
 * checked against what the graph builder supports. Anything it cannot build
 * exactly fails here, before a byte is written, naming what is unsupported.
 */
import { CanopyError } from '../../kernels/errors.js';
import { type GgufFile, type GgufValue, metaNumber, metaString } from './gguf-reader.js';

export interface LlamaParams {
  readonly architecture: 'llama';
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly ffnSize: number;
  readonly ropeTheta: number;
  /** Linear RoPE scaling factor (positions are divided by it); 1 = none. */
  readonly ropeScale: number;
  readonly rmsEps: number;
  readonly maxContext: number;
  readonly bosTokenId: number;
  readonly eosTokenIds: readonly number[];
  readonly tiedEmbeddings: boolean;
}

/** Architectures whose GGUF tensors follow llama's names and maths. */
const LLAMA_LIKE = new Set(['llama']);

function unsupported(what: string, details: Record<string, unknown>): CanopyError {
  return new CanopyError('CANOPY_ERR_UNSUPPORTED_ARCHITECTURE', what, { details });
}

function tokenCount(meta: ReadonlyMap<string, GgufValue>): number | undefined {
  const tokens = meta.get('tokenizer.ggml.tokens');
  return Array.isArray(tokens) ? tokens.length : undefined;
}

/** Reads and validates the hyper-parameters of a llama-family GGUF. */
export function llamaParamsFromGguf(file: GgufFile): LlamaParams {
  const meta = file.metadata;
  const arch = metaString(meta, 'general.architecture') ?? '(none)';
  if (!LLAMA_LIKE.has(arch)) {
    throw unsupported(
      `GGUF architecture '${arch}' is not supported (canopy converts llama-family models: ${[...LLAMA_LIKE].join(', ')})`,
      { architecture: arch },
    );
  }
  const key = (k: string) => `${arch}.${k}`;
  const hiddenSize = metaNumber(meta, key('embedding_length'));
  const numHeads = metaNumber(meta, key('attention.head_count'));
  const numKvHeads = metaNumber(meta, key('attention.head_count_kv'), numHeads);
  const headDim = metaNumber(meta, key('attention.key_length'), hiddenSize / numHeads);
  const valueDim = metaNumber(meta, key('attention.value_length'), headDim);
  const ropeDims = metaNumber(meta, key('rope.dimension_count'), headDim);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0 || valueDim !== headDim) {
    throw unsupported(`head size ${headDim} (values ${valueDim}) is not supported`, { headDim, valueDim });
  }
  if (ropeDims !== headDim) {
    throw unsupported(`partial rotary embeddings (${ropeDims} of ${headDim} dims) are not supported`, {
      ropeDims,
    });
  }
  if (numHeads % numKvHeads !== 0) {
    throw unsupported(`${numHeads} query heads do not group over ${numKvHeads} KV heads`, { numHeads });
  }
  const scaling = metaString(meta, key('rope.scaling.type')) ?? 'none';
  let ropeScale = 1;
  if (scaling === 'linear') ropeScale = metaNumber(meta, key('rope.scaling.factor'), 1);
  else if (scaling !== 'none') {
    throw unsupported(`RoPE scaling '${scaling}' is not supported (only none and linear)`, { scaling });
  }
  if (file.tensors.has('rope_freqs.weight')) {
    throw unsupported('per-frequency RoPE factors (rope_freqs.weight) are not supported', {
      tensor: 'rope_freqs.weight',
    });
  }

  const embd = file.tensors.get('token_embd.weight');
  if (!embd) throw unsupported('the GGUF has no token_embd.weight tensor', { tensor: 'token_embd.weight' });
  const vocabSize = embd.dims[1];
  const known = tokenCount(meta);
  if (known !== undefined && known !== vocabSize) {
    throw new CanopyError(
      'CANOPY_ERR_GGUF_INVALID',
      `the tokenizer has ${known} tokens but token_embd has ${vocabSize} rows`,
    );
  }

  const eos = metaNumber(meta, 'tokenizer.ggml.eos_token_id', -1);
  const eot = metaNumber(meta, 'tokenizer.ggml.eot_token_id', -1);
  const eosTokenIds = [...new Set([eos, eot].filter((id) => id >= 0))];

  return {
    architecture: 'llama',
    vocabSize,
    hiddenSize,
    numLayers: metaNumber(meta, key('block_count')),
    numHeads,
    numKvHeads,
    headDim,
    ffnSize: metaNumber(meta, key('feed_forward_length')),
    ropeTheta: metaNumber(meta, key('rope.freq_base'), 10000),
    ropeScale,
    rmsEps: metaNumber(meta, key('attention.layer_norm_rms_epsilon'), 1e-5),
    maxContext: metaNumber(meta, key('context_length')),
    bosTokenId: metaNumber(meta, 'tokenizer.ggml.bos_token_id', -1),
    eosTokenIds,
    tiedEmbeddings: !file.tensors.has('output.weight'),
  };
}
