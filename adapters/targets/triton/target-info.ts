/**
 * The target's `info` from what Triton says about the model: the shape
 * parameters of its config.pbtxt (docs/triton-wire.md, "What the client reads")
 * and the tensors it declares. Explicit overrides win, for a deployment whose
 * config lacks the parameters.
 */
import { CanopyError } from '../../../kernels/errors.js';
import type { TargetInfo } from '../../target.js';
import type { ModelConfig } from './kserve-client.js';

/** The wire tensors a model must declare to be a canopy_lm. */
const REQUIRED_INPUTS = ['session_id', 'flags', 'node_count', 'tokens', 'parents'];
const REQUIRED_OUTPUTS = ['chosen', 'session_length'];

export type TargetInfoOverrides = Partial<Omit<TargetInfo, 'capabilities'>> & {
  readonly capabilities?: Partial<TargetInfo['capabilities']>;
};

export function targetInfoFromConfig(config: ModelConfig, overrides: TargetInfoOverrides = {}): TargetInfo {
  const inputs = new Set(config.inputs.map((t) => t.name));
  const outputs = new Set(config.outputs.map((t) => t.name));
  const missing = [
    ...REQUIRED_INPUTS.filter((n) => !inputs.has(n)).map((n) => `input '${n}'`),
    ...REQUIRED_OUTPUTS.filter((n) => !outputs.has(n)).map((n) => `output '${n}'`),
  ];
  if (missing.length > 0) {
    throw new CanopyError(
      'CANOPY_ERR_TARGET_UNSUPPORTED',
      `Triton model '${config.name}' does not speak the canopy wire contract (no ${missing.join(', ')})`,
    );
  }
  const p = config.parameters;
  const int = (key: string, fallback?: number): number => {
    const raw = p[key];
    if (raw === undefined && fallback !== undefined) return fallback;
    const value = Number(raw);
    if (raw === undefined || raw.trim() === '' || !Number.isSafeInteger(value) || value < 0) {
      throw new CanopyError(
        'CANOPY_ERR_UPSTREAM_PROTOCOL',
        `Triton model '${config.name}' config parameter '${key}' is ${raw === undefined ? 'missing' : `'${raw}'`}; ` +
          'it must be a non-negative integer (docs/triton-wire.md)',
        { details: { parameter: key } },
      );
    }
    return value;
  };
  const eos = overrides.eosTokenIds ?? parseIds(config.name, p.eos_token_ids);
  const hasTopK = outputs.has('topk_ids') && outputs.has('topk_logprobs');
  const info: TargetInfo = {
    model: overrides.model ?? p.model_name ?? config.name,
    vocabSize: overrides.vocabSize ?? int('vocab_size'),
    eosTokenIds: Object.freeze([...eos]),
    maxContext: overrides.maxContext ?? int('max_context'),
    numLayers: overrides.numLayers ?? int('num_layers'),
    hiddenSize: overrides.hiddenSize ?? int('hidden_size'),
    capabilities: Object.freeze({
      maxTopK: overrides.capabilities?.maxTopK ?? (hasTopK ? int('max_top_k', 0) : 0),
      hiddenStates: overrides.capabilities?.hiddenStates ?? outputs.has('hidden'),
      skipLayers: overrides.capabilities?.skipLayers ?? inputs.has('skip_layers'),
      logprobs:
        overrides.capabilities?.logprobs ?? (inputs.has('return_logprobs') && outputs.has('chosen_logprobs')),
    }),
  };
  return Object.freeze(info);
}

function parseIds(model: string, raw: string | undefined): number[] {
  const ids = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (raw === undefined || ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 0)) {
    throw new CanopyError(
      'CANOPY_ERR_UPSTREAM_PROTOCOL',
      `Triton model '${model}' config parameter 'eos_token_ids' is ${raw === undefined ? 'missing' : `'${raw}'`}; ` +
        'it must list token ids separated by commas',
      { details: { parameter: 'eos_token_ids' } },
    );
  }
  return ids;
}
