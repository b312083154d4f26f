/**
 * `POST /v2/models/{model}[/versions/{v}]/generate` and `.../generate_stream`
 * (Triton's generate extension) for speculative models; other models pass
 * through to Triton, which may serve generate itself.
 *
 * The answer is Triton's (`id`, `model_name`, `model_version`, `text_output`)
 * plus `finish_reason` and `canopy`, the request's speculation stats. A
 * stream sends one event per piece of text; the last event carries an empty
 * or final piece, `finish_reason` and `canopy`. An error before the first
 * event is a JSON error with its status; after it, an `{"error", "code"}`
 * event ends the stream.
 */
import type { Request, RequestHandler, Response } from 'express';
import { readJsonObject } from './body.js';
import type { CanopyCore } from './core.js';
import { parseGenerateBody, rawOptionsOf } from './generate-request.js';
import { sendError, sendJson, statusOf } from './http-errors.js';
import { generationOptions, SNAKE_CASE } from './request-options.js';
import {
  encodeText,
  endFailed,
  endSucceeded,
  failureOf,
  openScope,
  servedOrElse,
  statsBody,
} from './route-kit.js';
import { createSse } from './sse.js';
import { generateText } from './text-generation.js';

type Params = { model: string; version?: string };

export function generateHandler(core: CanopyCore, stream: boolean): RequestHandler {
  const route = stream ? 'generate_stream' : 'generate';
  return async (req: Request, res: Response) => {
    const { model, version } = req.params as Params;
    const served = await servedOrElse(core, model, req, res, 'triton', true);
    if (!served) return;
    const scope = openScope(core, route, served.name, res, 'triton');
    if (!scope) return;
    const sse = stream ? createSse(res) : undefined;
    try {
      const body = parseGenerateBody(await readJsonObject(req, core.config.server.bodyLimitBytes));
      const options = generationOptions(served, rawOptionsOf(body.params), SNAKE_CASE);
      const prompt = encodeText(served, body.textInput, 'text_input');
      const head = {
        ...(body.id === undefined ? {} : { id: body.id }),
        model_name: served.name,
        model_version: version ?? '1',
      };
      // exclude_input_in_output: false puts the prompt first, as Triton's vLLM backend does.
      let prefix = body.params.exclude_input_in_output === false ? body.textInput : '';
      const onText = sse
        ? (delta: string) => {
            sse.send({ ...head, text_output: prefix + delta });
            prefix = '';
          }
        : undefined;
      const outcome = await generateText(served, prompt, options, scope.signal, onText);
      const tail = { finish_reason: outcome.finishReason, canopy: statsBody(outcome) };
      if (sse) {
        sse.send({ ...head, text_output: prefix, ...tail });
        sse.end();
      } else {
        sendJson(res, 200, { ...head, text_output: prefix + outcome.text, ...tail });
      }
      endSucceeded(scope, outcome);
    } catch (error) {
      const failure = failureOf(error, scope);
      if (sse?.started) {
        sse.send({ error: failure.message, code: failure.code });
        sse.end();
      } else {
        sendError(res, failure, 'triton');
      }
      endFailed(scope, error, failure, sse?.started ? 200 : statusOf(failure));
    }
  };
}
