/**
 * Error responses. Every error canopy answers is JSON and carries a stable
 * code (kernels/errors.ts) and a message that says what to fix, in one of two
 * shapes chosen by the route:
 *
 * - `triton` (every `/v2/...` route): `{ "error": "<message>", "code": "<CODE>" }`,
 *   Triton's own shape (a string `error`), which tritonclient and Triton-aware
 *   clients read, plus the code;
 * - `api` (OpenAI routes and the rest): `{ "error": { "message", "type", "param", "code" } }`,
 *   the OpenAI shape, which the `openai` client turns into an APIError.
 */
import type { ServerResponse } from 'node:http';
import { CanopyError, toCanopyError } from '../../kernels/errors.js';

export type ErrorShape = 'triton' | 'api';

/** CanopyErrors as they are; anything else is an internal error whose details stay in the log. */
export function asCanopyError(error: unknown): CanopyError {
  if (error instanceof CanopyError) return error;
  return toCanopyError(new Error('internal error (see the canopy log)', { cause: error }));
}

function openAiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export function errorBody(error: CanopyError, shape: ErrorShape): Record<string, unknown> {
  if (shape === 'triton') return { error: error.message, code: error.code };
  const field = error.details?.field;
  return {
    error: {
      message: error.message,
      type: openAiType(error.status),
      param: typeof field === 'string' ? field : null,
      code: error.code,
    },
  };
}

/** HTTP status of an error: 499 (client gone) is never sent to a client that is still there. */
export function statusOf(error: CanopyError): number {
  return error.status === 499 ? 408 : error.status;
}

/** Sends the error, or ends the response when headers already went out. */
export function sendError(res: ServerResponse, error: CanopyError, shape: ErrorShape): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(errorBody(error, shape));
  res.writeHead(statusOf(error), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
