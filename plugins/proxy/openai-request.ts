/**
 * OpenAI-compatible request bodies (`/v1/completions`, `/v1/chat/completions`).
 * Unknown fields are refused by name, as OpenAI itself does; fields that ask
 * for what canopy does not do (several choices, echo, tools) are refused
 * with a message that says so. Besides OpenAI's fields, canopy reads vLLM's
 * sampling extras (`top_k`, `min_p`, `repetition_penalty`) and its own
 * `canopy: { speculate, maxBudget, drafters }`.
 */
import { z } from 'zod';
import type { ChatMessage } from '../../adapters/tokenizer/index.js';
import { CanopyError } from '../../kernels/errors.js';
import { checkWellFormed } from './body.js';
import { invalidArgument } from './generate-request.js';
import type { RawOptions } from './request-options.js';

const optional = <T extends z.ZodType>(schema: T) => schema.nullable().optional();
const unsupported = (what: string) => ({ error: `${what} is not supported by canopy` });

const common = {
  model: z.string().min(1),
  max_tokens: optional(z.number().int()),
  temperature: optional(z.number()),
  top_p: optional(z.number()),
  top_k: optional(z.number().int()),
  min_p: optional(z.number()),
  repetition_penalty: optional(z.number()),
  frequency_penalty: optional(z.number()),
  presence_penalty: optional(z.number()),
  seed: optional(z.number().int()),
  stop: optional(z.union([z.string(), z.array(z.string())])),
  stream: optional(z.boolean()),
  stream_options: optional(z.strictObject({ include_usage: z.boolean().optional() })),
  n: optional(z.literal(1, unsupported('n other than 1'))),
  user: optional(z.string()),
  canopy: z
    .strictObject({
      /** false: plain decoding. */
      speculate: z.boolean().optional(),
      maxBudget: z.number().int().optional(),
      drafters: z.array(z.string()).optional(),
    })
    .optional(),
};

export const completionSchema = z.strictObject({
  ...common,
  prompt: z.union([
    z.string(),
    z.array(z.string()).length(1, 'several prompts in one request are not supported by canopy'),
    z.array(z.number().int().min(0)).min(1),
  ]),
  echo: optional(z.literal(false, unsupported('echo'))),
  logprobs: optional(z.number().int()),
  best_of: optional(z.literal(1, unsupported('best_of other than 1'))),
  suffix: optional(z.null(unsupported('suffix'))),
});

const textPart = z.strictObject({ type: z.literal('text'), text: z.string() });
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]),
  name: z.string().optional(),
});

export const chatSchema = z.strictObject({
  ...common,
  messages: z.array(message).min(1),
  max_completion_tokens: optional(z.number().int()),
  logprobs: optional(z.boolean()),
  top_logprobs: optional(z.number().int()),
  response_format: optional(
    z.strictObject({ type: z.literal('text', unsupported('response_format other than text')) }),
  ),
});

export type CompletionBody = z.output<typeof completionSchema>;
export type ChatBody = z.output<typeof chatSchema>;

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidArgument(schema, result.error, value);
  return result.data;
}

export const parseCompletion = (value: unknown): CompletionBody => parse(completionSchema, value);
export const parseChat = (value: unknown): ChatBody => parse(chatSchema, value);

type Common = CompletionBody | ChatBody;

export function rawOptionsOfOpenAi(body: Common, maxTokens: number | null | undefined): RawOptions {
  const sampling: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) sampling[key] = value;
  };
  // OpenAI's default temperature is 1: a request that names none samples.
  set('temperature', body.temperature ?? 1);
  set('topP', body.top_p);
  set('topK', body.top_k);
  set('minP', body.min_p);
  set('repetitionPenalty', body.repetition_penalty);
  set('frequencyPenalty', body.frequency_penalty);
  set('presencePenalty', body.presence_penalty);
  set('seed', body.seed);
  return {
    logprobs: logprobsOf(body),
    maxTokens,
    sampling,
    stop: body.stop,
    speculate: body.canopy?.speculate,
    maxBudget: body.canopy?.maxBudget,
    drafters: body.canopy?.drafters,
  };
}

/**
 * What the body asks of log-probabilities: completions name the number of
 * alternatives in `logprobs`; chat turns them on with `logprobs: true` and
 * names the alternatives in `top_logprobs`, which needs `logprobs`.
 */
function logprobsOf(body: Common): RawOptions['logprobs'] {
  if (!('messages' in body)) {
    return body.logprobs === undefined || body.logprobs === null
      ? undefined
      : { top: body.logprobs, field: 'logprobs' };
  }
  const top = body.top_logprobs ?? undefined;
  if (body.logprobs !== true) {
    if (top === undefined) return undefined;
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', "'top_logprobs' needs 'logprobs': true", {
      details: { field: 'top_logprobs' },
    });
  }
  return { top: top ?? 0, field: top === undefined ? 'logprobs' : 'top_logprobs' };
}

/** Chat messages as the chat template takes them (`developer` is a system turn; text parts joined). */
export function chatMessages(body: ChatBody): ChatMessage[] {
  return body.messages.map((m, i) => {
    const content = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
    checkWellFormed(content, `messages.${i}.content`);
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
}

/** A completion prompt's text, or its token ids when given as ids. */
export function completionPrompt(body: CompletionBody, vocabSize: number): string | Int32Array {
  const { prompt } = body;
  if (typeof prompt === 'string') return checkWellFormed(prompt, 'prompt');
  if (typeof prompt[0] === 'string') return checkWellFormed(prompt[0], 'prompt.0');
  const ids = Int32Array.from(prompt as number[]);
  const bad = ids.findIndex((id) => id >= vocabSize);
  if (bad >= 0) {
    throw new CanopyError(
      'CANOPY_ERR_TOKEN_OUT_OF_VOCAB',
      `'prompt.${bad}': token id ${ids[bad]} is outside the vocabulary (${vocabSize})`,
      { details: { field: `prompt.${bad}` } },
    );
  }
  return ids;
}
