/**
 * Per-request generation options, from whichever API the request came in on:
 * the token limit, sampling, stop strings, and the speculation controls
 * (speculation off, a budget cap, a subset of the model's drafters). Checked
 * against the served model here, before any work or any streamed byte.
 */
import { checkBudget, checkLogprobs } from '../../engine/index.js';
import { CanopyError } from '../../kernels/errors.js';
import type { SamplingParams } from '../../kernels/sampling-params.js';
import { parseSampling } from '../config/index.js';
import { checkWellFormed } from './body.js';
import type { ServedModel } from './served-models.js';

export interface GenerationOptions {
  readonly maxNewTokens: number;
  readonly sampling: SamplingParams;
  readonly stop: readonly string[];
  readonly speculate: boolean;
  readonly drafters?: readonly string[];
  readonly maxBudget?: number;
  /** Log-probabilities of the generated tokens, with this many alternatives per position. */
  readonly logprobs?: number;
}

/** The options as an API spells them, already type-checked by its schema. */
export interface RawOptions {
  readonly maxTokens?: number | null;
  /** camelCase sampling fields (samplingSchema), undefined ones left out. */
  readonly sampling: Readonly<Record<string, unknown>>;
  readonly stop?: string | readonly string[] | null;
  readonly speculate?: boolean;
  readonly maxBudget?: number;
  /** Names, or one comma-separated string; `none` or [] = speculation off. */
  readonly drafters?: string | readonly string[];
  /** Alternatives per position when the API asked for log-probabilities, and the field that asked. */
  readonly logprobs?: { readonly top: number; readonly field: string };
}

/** How the API names each option in messages. */
export interface FieldNames {
  readonly maxTokens: string;
  readonly stop: string;
  readonly maxBudget: string;
  readonly drafters: string;
  sampling(field: string): string;
}

export const MAX_STOP_STRINGS = 16;
const MAX_STOP_LENGTH = 1024;

const snake = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** snake_case names: KServe parameters and OpenAI bodies. */
export const SNAKE_CASE: FieldNames = {
  maxTokens: 'max_tokens',
  stop: 'stop',
  maxBudget: 'max_budget',
  drafters: 'drafters',
  sampling: snake,
};

/** OpenAI bodies: snake_case, with canopy's own controls under `canopy`. */
export const OPENAI_NAMES: FieldNames = {
  ...SNAKE_CASE,
  maxBudget: 'canopy.maxBudget',
  drafters: 'canopy.drafters',
};

function invalid(field: string, message: string): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `'${field}' ${message}`, { details: { field } });
}

function stopStrings(raw: RawOptions['stop'], field: string): string[] {
  if (raw === undefined || raw === null) return [];
  const list = typeof raw === 'string' ? [raw] : [...raw];
  if (list.length > MAX_STOP_STRINGS) throw invalid(field, `holds at most ${MAX_STOP_STRINGS} strings`);
  for (const s of list) {
    if (s.length === 0 || s.length > MAX_STOP_LENGTH) {
      throw invalid(field, `strings must be 1 to ${MAX_STOP_LENGTH} characters long`);
    }
    checkWellFormed(s, field);
  }
  return list;
}

function drafterList(raw: RawOptions['drafters']): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : [...raw];
  return list.filter((s) => s !== '' && s !== 'none');
}

export function generationOptions(model: ServedModel, raw: RawOptions, names: FieldNames): GenerationOptions {
  const { settings, host } = model;
  const maxNewTokens = raw.maxTokens ?? settings.defaultMaxTokens;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > settings.maxTokens) {
    throw new CanopyError(
      'CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE',
      `'${names.maxTokens}' must be an integer from 1 to ${settings.maxTokens} for model '${model.name}', got ${maxNewTokens}`,
      { details: { field: names.maxTokens, limit: settings.maxTokens } },
    );
  }
  const sampling = parseSampling(raw.sampling, names.sampling);
  const stop = stopStrings(raw.stop, names.stop);
  const drafters = drafterList(raw.drafters);
  for (const d of drafters ?? []) {
    if (!host.engine.drafterNames.includes(d)) {
      throw new CanopyError(
        'CANOPY_ERR_UNKNOWN_DRAFTER',
        `'${names.drafters}': drafter '${d}' is not enabled for model '${model.name}'; ` +
          `enabled: ${host.engine.drafterNames.join(', ') || '(none)'}`,
        { details: { field: names.drafters, drafter: d } },
      );
    }
  }
  let maxBudget: number | undefined;
  if (raw.maxBudget !== undefined) {
    try {
      maxBudget = checkBudget(raw.maxBudget);
    } catch (error) {
      const message = (error as Error).message;
      throw new CanopyError('CANOPY_ERR_BUDGET_OUT_OF_RANGE', `'${names.maxBudget}': ${message}`, {
        details: { field: names.maxBudget },
      });
    }
  }
  if (raw.logprobs) {
    try {
      checkLogprobs(raw.logprobs.top, host.engine.target.info);
    } catch (error) {
      const e = error as CanopyError;
      throw new CanopyError(e.code, `'${raw.logprobs.field}': ${e.message}`, {
        details: { field: raw.logprobs.field },
      });
    }
  }
  const speculate = (raw.speculate ?? true) && (drafters === undefined || drafters.length > 0);
  return Object.freeze({
    maxNewTokens,
    sampling,
    stop,
    speculate,
    ...(drafters && drafters.length > 0 ? { drafters } : {}),
    ...(maxBudget === undefined ? {} : { maxBudget }),
    ...(raw.logprobs ? { logprobs: raw.logprobs.top } : {}),
  });
}
