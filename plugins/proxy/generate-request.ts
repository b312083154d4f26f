/**
 * Triton's generate extension request (extension_generate.md) as canopy
 * reads it: `text_input`, an optional `id`, and parameters either at the top
 * level (TensorRT-LLM ensembles' style) or in `parameters` (vLLM backend's
 * style; they win). Text infer (text-infer.ts) reads the same parameter set.
 */
import { z } from 'zod';
import { CanopyError } from '../../kernels/errors.js';
import { describeIssue, mainIssue } from '../config/index.js';
import { checkWellFormed } from './body.js';
import type { RawOptions } from './request-options.js';

const stringList = z.union([z.string(), z.array(z.string())]);

/** Every parameter canopy understands; anything else is refused by name. */
export const generateParamsShape = {
  max_tokens: z.number().int(),
  temperature: z.unknown(),
  top_p: z.unknown(),
  top_k: z.unknown(),
  min_p: z.unknown(),
  repetition_penalty: z.unknown(),
  frequency_penalty: z.unknown(),
  presence_penalty: z.unknown(),
  seed: z.unknown(),
  stop: stringList,
  /** TensorRT-LLM's name for `stop`. */
  stop_words: stringList,
  /** Accepted for compatibility; the route decides whether the answer streams. */
  stream: z.boolean(),
  /** false: `text_output` starts with `text_input` (as Triton's vLLM backend does by default). */
  exclude_input_in_output: z.boolean(),
  /** false: plain decoding for this request. */
  speculate: z.boolean(),
  /** Caps the verify budget (nodes per pass) for this request. */
  max_budget: z.number().int(),
  /** A subset of the model's drafters: names, or one comma-separated string. */
  drafters: stringList,
} as const;

export const generateParamsSchema = z.strictObject(generateParamsShape).partial();
export type GenerateParams = z.output<typeof generateParamsSchema>;

const SAMPLING_KEYS = [
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['top_k', 'topK'],
  ['min_p', 'minP'],
  ['repetition_penalty', 'repetitionPenalty'],
  ['frequency_penalty', 'frequencyPenalty'],
  ['presence_penalty', 'presencePenalty'],
  ['seed', 'seed'],
] as const;

export const generateBodySchema = generateParamsSchema.extend({
  id: z.string().optional(),
  text_input: z.string(),
  parameters: generateParamsSchema.optional(),
});

export interface GenerateBody {
  readonly id?: string;
  readonly textInput: string;
  readonly params: GenerateParams;
}

export function invalidArgument(
  schema: z.ZodType,
  error: z.ZodError,
  input: unknown,
  prefix = '',
): CanopyError {
  const { field, message } = describeIssue(schema, mainIssue(error.issues), input);
  return new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `${prefix}${message}`, { details: { field } });
}

export function parseGenerateParams(value: unknown, where: string): GenerateParams {
  const result = generateParamsSchema.safeParse(value);
  if (!result.success) throw invalidArgument(generateParamsSchema, result.error, value, `${where}: `);
  return result.data;
}

export function parseGenerateBody(value: unknown): GenerateBody {
  const result = generateBodySchema.safeParse(value);
  if (!result.success) throw invalidArgument(generateBodySchema, result.error, value);
  const { id, text_input, parameters, ...topLevel } = result.data;
  return {
    ...(id === undefined ? {} : { id }),
    textInput: checkWellFormed(text_input, 'text_input'),
    params: { ...topLevel, ...parameters },
  };
}

/** The generation options these parameters ask for. */
export function rawOptionsOf(params: GenerateParams): RawOptions {
  const sampling: Record<string, unknown> = {};
  for (const [key, field] of SAMPLING_KEYS) if (params[key] !== undefined) sampling[field] = params[key];
  return {
    maxTokens: params.max_tokens,
    sampling,
    stop: params.stop ?? params.stop_words,
    speculate: params.speculate,
    maxBudget: params.max_budget,
    drafters: params.drafters,
  };
}
