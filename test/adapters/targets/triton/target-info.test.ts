import { describe, expect, it } from 'vitest';
import type { ModelConfig, ModelConfigTensor } from '../../../../adapters/targets/triton/kserve-client.js';
import { targetInfoFromConfig } from '../../../../adapters/targets/triton/target-info.js';

const t = (name: string, datatype: ModelConfigTensor['datatype'] = 'INT32'): ModelConfigTensor => ({
  name,
  datatype,
  dims: [-1],
  optional: false,
});

function config(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    name: 'canopy_lm',
    platform: '',
    backend: 'python',
    maxBatchSize: 0,
    inputs: [
      'session_id',
      'flags',
      'node_count',
      'tokens',
      'parents',
      'keep',
      'skip_layers',
      'return_logprobs',
    ].map((n) => t(n)),
    outputs: [
      t('chosen'),
      t('session_length'),
      t('topk_ids'),
      t('topk_logprobs', 'FP32'),
      t('hidden', 'FP32'),
      t('chosen_logprobs', 'FP32'),
    ],
    parameters: {
      model_name: 'smollm2-135m-instruct',
      vocab_size: '49152',
      num_layers: '30',
      hidden_size: '576',
      max_context: '8192',
      eos_token_ids: '2, 5',
      max_top_k: '64',
    },
    ...overrides,
  };
}

describe('Triton target info', () => {
  it('reads the shape parameters and capabilities of the model configuration', () => {
    expect(targetInfoFromConfig(config())).toEqual({
      model: 'smollm2-135m-instruct',
      vocabSize: 49152,
      eosTokenIds: [2, 5],
      maxContext: 8192,
      numLayers: 30,
      hiddenSize: 576,
      capabilities: { maxTopK: 64, hiddenStates: true, skipLayers: true, logprobs: true },
    });
  });

  it('derives missing capabilities from the tensors the model does not declare', () => {
    const info = targetInfoFromConfig(
      config({
        inputs: ['session_id', 'flags', 'node_count', 'tokens', 'parents'].map((n) => t(n)),
        outputs: [t('chosen'), t('session_length')],
      }),
    );
    expect(info.capabilities).toEqual({
      maxTopK: 0,
      hiddenStates: false,
      skipLayers: false,
      logprobs: false,
    });
  });

  it('names the missing or malformed parameter', () => {
    const { vocab_size: _, ...rest } = config().parameters;
    expect(() => targetInfoFromConfig(config({ parameters: rest }))).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_UPSTREAM_PROTOCOL', details: { parameter: 'vocab_size' } }),
    );
    expect(() =>
      targetInfoFromConfig(config({ parameters: { ...config().parameters, eos_token_ids: '2,x' } })),
    ).toThrow(expect.objectContaining({ details: { parameter: 'eos_token_ids' } }));
  });

  it('lets explicit values stand in for parameters the configuration lacks', () => {
    const info = targetInfoFromConfig(config({ parameters: {} }), {
      vocabSize: 8,
      numLayers: 2,
      hiddenSize: 4,
      maxContext: 64,
      eosTokenIds: [1],
      capabilities: { maxTopK: 4 },
    });
    expect(info).toMatchObject({
      model: 'canopy_lm',
      vocabSize: 8,
      eosTokenIds: [1],
      capabilities: { maxTopK: 4 },
    });
  });

  it('refuses a model that does not speak the canopy wire contract', () => {
    expect(() => targetInfoFromConfig(config({ inputs: [t('INPUT0')] }))).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_TARGET_UNSUPPORTED' }),
    );
  });
});
