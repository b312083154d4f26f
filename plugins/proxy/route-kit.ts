/**
 * The steps every speculative route shares: find the served model (or pass
 * the request through to Triton, or answer 404), open the request scope
 * wired to the client's disconnect, turn text into prompt tokens, and report
 * what went wrong with the code that says why.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { summarize } from '../../engine/index.js';
import { CanopyError } from '../../kernels/errors.js';
import type { CanopyCore, RequestScope } from './core.js';
import { asCanopyError, type ErrorShape, sendError } from './http-errors.js';
import type { ServedModel } from './served-models.js';
import type { GenerationOutcome } from './text-generation.js';

export function shuttingDown(): CanopyError {
  return new CanopyError('CANOPY_ERR_SHUTTING_DOWN', 'canopy is shutting down; retry on another instance');
}

export function unknownModel(core: CanopyCore, name: string): CanopyError {
  const names = core.models.list().map((m) => m.name);
  return new CanopyError(
    'CANOPY_ERR_UNKNOWN_MODEL',
    `model '${name}' is not served here; available: ${names.join(', ') || '(none)'}`,
    { details: { model: name, field: 'model' } },
  );
}

/**
 * The served model named `name`. When canopy does not serve it, the request
 * goes to Triton (`passThrough`) or gets a 404, and the result is undefined:
 * the response is then already handled.
 */
export async function servedOrElse(
  core: CanopyCore,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  shape: ErrorShape,
  passThrough: boolean,
): Promise<ServedModel | undefined> {
  try {
    if (core.closing) throw shuttingDown();
    await core.ready;
    const served = await core.models.lookup(name);
    if (served) return served;
    if (passThrough && core.passThrough) await core.passThrough.forward(req, res);
    else sendError(res, unknownModel(core, name), shape);
  } catch (error) {
    sendError(res, asCanopyError(error), shape);
  }
  return undefined;
}

/** Opens the request's scope; a client that disconnects cancels it. Undefined when shutting down (answered). */
export function openScope(
  core: CanopyCore,
  route: string,
  model: string | undefined,
  res: ServerResponse,
  shape: ErrorShape,
): RequestScope | undefined {
  let scope: RequestScope;
  try {
    scope = core.begin(route, model);
  } catch (error) {
    sendError(res, asCanopyError(error), shape);
    return undefined;
  }
  res.on('close', () => {
    if (!res.writableFinished)
      scope.cancel(new CanopyError('CANOPY_ERR_CANCELLED', 'the client disconnected'));
  });
  return scope;
}

/** The error to report: a cancellation carries the reason it was cancelled for (shutdown, disconnect). */
export function failureOf(error: unknown, scope: RequestScope): CanopyError {
  if (scope.signal.aborted && scope.signal.reason instanceof CanopyError) return scope.signal.reason;
  return asCanopyError(error);
}

/** Ends a request that generated text: its log line carries the speculation stats. */
export function endSucceeded(scope: RequestScope, outcome: GenerationOutcome, model?: string): void {
  scope.end({
    status: 200,
    model,
    promptTokens: outcome.promptTokens,
    completionTokens: outcome.completionTokens,
    finishReason: outcome.finishReason,
    stats: outcome.stats,
  });
}

/** Ends a failed request's scope (its log line keeps a non-canopy error's stack). */
export function endFailed(
  scope: RequestScope,
  error: unknown,
  failure: CanopyError,
  status: number,
  model?: string,
): void {
  scope.end({ status, model, error: failure, cause: error instanceof CanopyError ? undefined : error });
}

/** Prompt tokens of plain text (BOS where the model wants one). */
export function encodeText(model: ServedModel, text: string, field: string): Int32Array {
  const prompt = model.host.tokenizer.encode(text, { addSpecial: true });
  if (prompt.length === 0) {
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `'${field}' is empty; give the model some text`, {
      details: { field },
    });
  }
  return prompt;
}

/** Per-request speculation stats, as every response carries them. */
export function statsBody(outcome: GenerationOutcome): Record<string, unknown> {
  return {
    ...summarize(outcome.stats),
    promptTokens: outcome.promptTokens,
    completionTokens: outcome.completionTokens,
    finishReason: outcome.finishReason,
  };
}
