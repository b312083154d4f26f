/**
 * OpenAI-compatible routes over the speculative models: `POST /v1/completions`,
 * `POST /v1/chat/completions` (the model's own chat template), with
 * `stream: true` as server-sent events ending in `data: [DONE]`, and
 * `GET /v1/models`. Each answer carries `canopy`, the request's speculation
 * stats (in the last chunk when streaming).
 */
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { readJsonObject } from './body.js';
import type { CanopyCore } from './core.js';
import { sendError, sendJson, statusOf } from './http-errors.js';
import { chatLogprobs, completionLogprobs, textCursor } from './openai-logprobs.js';
import {
  type ChatBody,
  type CompletionBody,
  chatMessages,
  completionPrompt,
  parseChat,
  parseCompletion,
  rawOptionsOfOpenAi,
} from './openai-request.js';
import { generationOptions, OPENAI_NAMES } from './request-options.js';
import { encodeText, endFailed, failureOf, openScope, statsBody, unknownModel } from './route-kit.js';
import type { ServedModel } from './served-models.js';
import { createSse, type SseWriter } from './sse.js';
import { type GenerationOutcome, generateText, type StepLogprobs } from './text-generation.js';

type Kind = 'completions' | 'chat_completions';

const usageOf = (o: GenerationOutcome) => ({
  prompt_tokens: o.promptTokens,
  completion_tokens: o.completionTokens,
  total_tokens: o.promptTokens + o.completionTokens,
});

function promptOf(kind: Kind, served: ServedModel, body: CompletionBody | ChatBody): Int32Array {
  const { tokenizer } = served.host;
  if (kind === 'chat_completions') return tokenizer.encodeChat(chatMessages(body as ChatBody));
  const prompt = completionPrompt(body as CompletionBody, tokenizer.vocabSize);
  return typeof prompt === 'string' ? encodeText(served, prompt, 'prompt') : prompt;
}

function handler(core: CanopyCore, kind: Kind): RequestHandler {
  const chat = kind === 'chat_completions';
  return async (req: Request, res: Response) => {
    const scope = openScope(core, kind, undefined, res, 'api');
    if (!scope) return;
    let sse: SseWriter | undefined;
    let model: string | undefined;
    try {
      const json = await readJsonObject(req, core.config.server.bodyLimitBytes);
      const body = chat ? parseChat(json) : parseCompletion(json);
      await core.ready;
      const served = await core.models.lookup(body.model);
      if (!served) throw unknownModel(core, body.model);
      model = served.name;
      const maxTokens = chat
        ? ((body as ChatBody).max_completion_tokens ?? body.max_tokens)
        : body.max_tokens;
      const options = generationOptions(served, rawOptionsOfOpenAi(body, maxTokens), OPENAI_NAMES);
      const prompt = promptOf(kind, served, body);

      const head = {
        id: `${chat ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`,
        object: chat ? (body.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion',
        created: Math.floor(Date.now() / 1000),
        model: served.name,
      };
      const stream = body.stream ? createSse(res) : undefined;
      sse = stream;
      const { tokenizer } = served.host;
      let first = true;
      const cursor = textCursor(tokenizer);
      const logprobsOf = (step?: StepLogprobs) => {
        if (!step) return null;
        return chat
          ? chatLogprobs(tokenizer, step.tokens, step.logprobs)
          : completionLogprobs(tokenizer, step.tokens, step.logprobs, cursor);
      };
      const piece = (text: string, finish: string | null, step?: StepLogprobs) =>
        chat
          ? {
              index: 0,
              delta: first ? { role: 'assistant', content: text } : { content: text },
              ...(options.logprobs === undefined ? {} : { logprobs: logprobsOf(step) }),
              finish_reason: finish,
            }
          : { index: 0, text, logprobs: logprobsOf(step), finish_reason: finish };
      const onText = stream
        ? (text: string, step?: StepLogprobs) => {
            stream.send({ ...head, choices: [piece(text, null, step)] });
            first = false;
          }
        : undefined;

      const outcome = await generateText(served, prompt, options, scope.signal, onText);
      const finish = outcome.finishReason;
      if (stream) {
        const last = chat && !first ? { index: 0, delta: {}, finish_reason: finish } : piece('', finish);
        stream.send({ ...head, choices: [last], canopy: statsBody(outcome) });
        if (body.stream_options?.include_usage)
          stream.send({ ...head, choices: [], usage: usageOf(outcome) });
        stream.sendRaw('[DONE]');
        stream.end();
      } else {
        const all = outcome.logprobs ? { tokens: outcome.tokens, logprobs: outcome.logprobs } : undefined;
        const choice = chat
          ? {
              index: 0,
              message: { role: 'assistant', content: outcome.text },
              logprobs: logprobsOf(all),
              finish_reason: finish,
            }
          : { index: 0, text: outcome.text, logprobs: logprobsOf(all), finish_reason: finish };
        sendJson(res, 200, {
          ...head,
          choices: [choice],
          usage: usageOf(outcome),
          canopy: statsBody(outcome),
        });
      }
      scope.end({
        status: 200,
        model,
        promptTokens: outcome.promptTokens,
        completionTokens: outcome.completionTokens,
        finishReason: finish,
        stats: outcome.stats,
      });
    } catch (error) {
      const failure = failureOf(error, scope);
      if (sse?.started) {
        sse.send({
          error: { message: failure.message, type: 'server_error', param: null, code: failure.code },
        });
        sse.end();
      } else {
        sendError(res, failure, 'api');
      }
      endFailed(scope, error, failure, sse?.started ? 200 : statusOf(failure), model);
    }
  };
}

export const completionsHandler = (core: CanopyCore) => handler(core, 'completions');
export const chatCompletionsHandler = (core: CanopyCore) => handler(core, 'chat_completions');

/** `GET /v1/models`: the speculative models served so far. */
export function modelsHandler(core: CanopyCore): RequestHandler {
  return async (_req, res) => {
    await core.ready.catch(() => undefined);
    sendJson(res, 200, {
      object: 'list',
      data: core.models
        .list()
        .map((m) => ({ id: m.name, object: 'model', created: m.created, owned_by: 'canopy' })),
    });
  };
}
