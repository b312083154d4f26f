/**
 * Text generation through KServe `infer`, the way Triton's LLM backends take
 * it, so a tritonclient user (HTTP or gRPC, streaming or not) reaches a
 * speculative model without changing a line: a BYTES input `text_input`, a
 * BYTES output `text_output`.
 *
 * Parameters may come, lowest precedence first, as scalar input tensors named
 * like generate's parameters (`max_tokens`, `temperature`, `stream`, ...),
 * as a `sampling_parameters` BYTES input holding JSON (Triton's vLLM backend),
 * or as request parameters. An infer on a speculative model without
 * `text_input` is not text: it passes through (canopy_lm's own wire requests).
 */
import { CanopyError } from '../../kernels/errors.js';
import { decodeUtf8 } from './body.js';
import {
  type GenerateParams,
  generateParamsShape,
  parseGenerateParams,
  rawOptionsOf,
} from './generate-request.js';
import { generationOptions, SNAKE_CASE } from './request-options.js';
import { encodeText, statsBody } from './route-kit.js';
import type { ServedModel } from './served-models.js';
import { type GenerationOutcome, generateText } from './text-generation.js';

export const TEXT_INPUT = 'text_input';
export const TEXT_OUTPUT = 'text_output';
const SAMPLING_PARAMETERS = 'sampling_parameters';

/** Request parameters Triton's clients set for the server itself; they are not generation options. */
const TRITON_RESERVED = new Set([
  'binary_data_output',
  'priority',
  'timeout',
  'sequence_id',
  'sequence_start',
  'sequence_end',
  'headers',
  'triton_enable_empty_final_response',
]);

/** One decoded input: BYTES elements as bytes, numbers as numbers (BOOL as 0/1). */
export interface TextInferInput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  readonly values: readonly (Uint8Array | number | bigint)[];
}

export interface TextInferRequest {
  readonly id?: string;
  readonly inputs: readonly TextInferInput[];
  readonly parameters: Readonly<Record<string, unknown>>;
}

export interface TextInfer {
  readonly id?: string;
  readonly textInput: string;
  readonly params: GenerateParams;
  /** Whether the client asked for a stream of responses (decoupled style; gRPC streams only). */
  readonly stream: boolean;
}

function invalid(message: string, field: string): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', message, { details: { field } });
}

function scalar(input: TextInferInput): unknown {
  if (input.values.length !== 1) {
    throw invalid(`input '${input.name}' must hold one element, got ${input.values.length}`, input.name);
  }
  const v = input.values[0];
  if (v instanceof Uint8Array) return decodeUtf8(v, `input '${input.name}'`);
  if (input.datatype === 'BOOL') return v !== 0;
  return Number(v);
}

export function parseTextInfer(request: TextInferRequest): TextInfer {
  const fromInputs: Record<string, unknown> = {};
  let textInput: string | undefined;
  let sampling: Record<string, unknown> = {};
  for (const input of request.inputs) {
    if (input.name === TEXT_INPUT) {
      if (input.datatype !== 'BYTES') throw invalid(`input '${TEXT_INPUT}' must be BYTES`, TEXT_INPUT);
      textInput = scalar(input) as string;
    } else if (input.name === SAMPLING_PARAMETERS) {
      const text = scalar(input);
      let value: unknown;
      try {
        value = JSON.parse(String(text));
      } catch {
        throw invalid(`input '${SAMPLING_PARAMETERS}' must hold a JSON object`, SAMPLING_PARAMETERS);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw invalid(`input '${SAMPLING_PARAMETERS}' must hold a JSON object`, SAMPLING_PARAMETERS);
      }
      sampling = value as Record<string, unknown>;
    } else if (input.name in generateParamsShape) {
      fromInputs[input.name] = scalar(input);
    } else {
      throw invalid(
        `unknown input '${input.name}'; a text request takes '${TEXT_INPUT}', '${SAMPLING_PARAMETERS}' ` +
          `and scalar inputs named ${Object.keys(generateParamsShape).join(', ')}`,
        input.name,
      );
    }
  }
  if (textInput === undefined) throw invalid(`input '${TEXT_INPUT}' is missing`, TEXT_INPUT);
  const own = Object.fromEntries(Object.entries(request.parameters).filter(([k]) => !TRITON_RESERVED.has(k)));
  const params = {
    ...parseGenerateParams(fromInputs, 'inputs'),
    ...parseGenerateParams(sampling, SAMPLING_PARAMETERS),
    ...parseGenerateParams(own, 'parameters'),
  };
  return {
    ...(request.id ? { id: request.id } : {}),
    textInput,
    params,
    stream: params.stream === true,
  };
}

export function hasTextInput(names: readonly string[]): boolean {
  return names.includes(TEXT_INPUT);
}

export interface TextInferResult {
  /** `text_output`: the generated text (after the prompt when `exclude_input_in_output` is false). */
  readonly text: string;
  readonly outcome: GenerationOutcome;
}

/** Runs a text infer; `onText` receives the pieces of a streamed answer. */
export async function runTextInfer(
  served: ServedModel,
  infer: TextInfer,
  signal: AbortSignal,
  onText?: (delta: string) => void,
): Promise<TextInferResult> {
  const options = generationOptions(served, rawOptionsOf(infer.params), SNAKE_CASE);
  const prompt = encodeText(served, infer.textInput, TEXT_INPUT);
  let prefix = infer.params.exclude_input_in_output === false ? infer.textInput : '';
  const outcome = await generateText(
    served,
    prompt,
    options,
    signal,
    onText &&
      ((delta) => {
        onText(prefix + delta);
        prefix = '';
      }),
  );
  return { text: onText ? prefix : prefix + outcome.text, outcome };
}

/** Response parameters of a text infer: KServe parameters are scalars, so the stats travel as JSON. */
export function textInferParameters(outcome: GenerationOutcome): Record<string, string | number> {
  return {
    finish_reason: outcome.finishReason,
    completion_tokens: outcome.completionTokens,
    canopy_stats: JSON.stringify(statsBody(outcome)),
  };
}

/** Elements of a JSON `data` array (flat or nested), or of gRPC typed contents, as decoded input values. */
export function valuesFromJson(
  datatype: string,
  shape: readonly number[],
  data: unknown,
  name: string,
): (Uint8Array | number)[] {
  const flat = Array.isArray(data) ? (data.flat(Number.POSITIVE_INFINITY) as unknown[]) : [data];
  const count = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== count) {
    throw invalid(`input '${name}' has ${flat.length} elements for shape [${shape.join(', ')}]`, name);
  }
  const encoder = new TextEncoder();
  return flat.map((v) => {
    if (datatype === 'BYTES') {
      if (typeof v === 'string') return encoder.encode(v);
      if (v instanceof Uint8Array) return v;
      throw invalid(`input '${name}' is BYTES; its elements must be strings`, name);
    }
    if (datatype === 'BOOL' && typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v !== 'number')
      throw invalid(`input '${name}' is ${datatype}; its elements must be numbers`, name);
    return v;
  });
}
