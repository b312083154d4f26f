/**
 * How upstream failures become canopy's stable error codes, for both
 * transports.
 *
 * Each error carries `details.outcome`, what the server may have done with the
 * request: `not-sent` (it never got it), `rejected` (it answered with an error,
 * so it changed nothing), or `unknown` (timeout, cancel, connection lost while
 * in flight). Stateful callers (sessions) must treat `unknown` as "state out of
 * sync".
 */
import { CanopyError, type ErrorCode, isCanopyError } from '../../../kernels/errors.js';

export type Outcome = 'not-sent' | 'rejected' | 'unknown';

/** Context every mapped error names: the server and the operation. */
export interface CallSite {
  readonly url: string;
  readonly operation: string;
}

/**
 * Codes the reference model `canopy_lm` puts in brackets at the start of its
 * messages (docs/triton-wire.md). Those not listed are the client's own bugs
 * (bad requests) and stay CANOPY_ERR_UPSTREAM_ERROR.
 */
const MODEL_CODES: Readonly<Record<string, ErrorCode>> = {
  CANOPY_SESSION_UNKNOWN: 'CANOPY_ERR_UPSTREAM_SESSION_LOST',
  CANOPY_CAPACITY: 'CANOPY_ERR_CAPACITY',
  CANOPY_CANCELLED: 'CANOPY_ERR_CANCELLED',
};

/**
 * Model codes after which the sessions of the request may have changed: a
 * cancelled request closes them, an internal failure may strike mid-way.
 */
const STATE_UNKNOWN = new Set(['CANOPY_CANCELLED', 'CANOPY_INTERNAL']);

/** The bracketed model code a message starts with (docs/triton-wire.md), if any. */
export function modelCodeOf(message: string): string | undefined {
  return /\[(CANOPY_[A-Z_]+)\]/.exec(message)?.[1];
}

// Triton's wording for a model that is unknown, loading or unloaded.
const NOT_READY = /unknown model|no available versions|is not ready|not ready for inferenc/i;

export function outcomeOf(error: unknown): Outcome {
  return isCanopyError(error) && typeof error.details?.outcome === 'string'
    ? (error.details.outcome as Outcome)
    : 'unknown';
}

/** The server answered with an error message (HTTP error body, gRPC status, stream error_message). */
export function fromServerMessage(
  site: CallSite,
  message: string,
  hint: 'unavailable' | 'not-found' | 'other',
  extra: Record<string, unknown> = {},
): CanopyError {
  const details = { ...extra, url: site.url, operation: site.operation, outcome: 'rejected' as Outcome };
  const upstreamCode = modelCodeOf(message);
  if (upstreamCode !== undefined) {
    const code = MODEL_CODES[upstreamCode] ?? 'CANOPY_ERR_UPSTREAM_ERROR';
    const outcome: Outcome = STATE_UNKNOWN.has(upstreamCode) ? 'unknown' : 'rejected';
    return new CanopyError(code, message, { details: { ...details, outcome, upstreamCode } });
  }
  if (NOT_READY.test(message) || hint === 'unavailable') {
    return new CanopyError('CANOPY_ERR_UPSTREAM_NOT_READY', `${site.url}: ${message}`, { details });
  }
  return new CanopyError('CANOPY_ERR_UPSTREAM_ERROR', `${site.url} ${site.operation}: ${message}`, {
    details,
  });
}

export function unreachable(site: CallSite, cause: unknown, outcome: Outcome): CanopyError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new CanopyError('CANOPY_ERR_UPSTREAM_UNREACHABLE', `cannot reach ${site.url}: ${reason}`, {
    cause,
    details: { url: site.url, operation: site.operation, outcome },
  });
}

export function timedOut(site: CallSite, timeoutMs: number, cause?: unknown): CanopyError {
  return new CanopyError(
    'CANOPY_ERR_UPSTREAM_TIMEOUT',
    `${site.url} ${site.operation}: no answer within ${timeoutMs} ms`,
    { cause, details: { url: site.url, operation: site.operation, timeoutMs, outcome: 'unknown' } },
  );
}

export function cancelled(site: CallSite, cause?: unknown): CanopyError {
  return new CanopyError('CANOPY_ERR_CANCELLED', `${site.operation} on ${site.url} was cancelled`, {
    cause,
    details: { url: site.url, operation: site.operation, outcome: 'unknown' },
  });
}

export function protocolViolation(site: CallSite, message: string, cause?: unknown): CanopyError {
  return new CanopyError('CANOPY_ERR_UPSTREAM_PROTOCOL', `${site.url} ${site.operation}: ${message}`, {
    cause,
    details: { url: site.url, operation: site.operation, outcome: 'unknown' },
  });
}

/**
 * A per-call deadline combined with the caller's signal, telling afterwards
 * which of the two fired.
 */
export class Deadline {
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly #timeout: AbortSignal | undefined;
  readonly #caller: AbortSignal | undefined;

  constructor(timeoutMs: number, caller?: AbortSignal) {
    this.timeoutMs = timeoutMs;
    this.#caller = caller;
    this.#timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [caller, this.#timeout].filter((s): s is AbortSignal => s !== undefined);
    this.signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  }

  get callerAborted(): boolean {
    return this.#caller?.aborted === true;
  }

  get expired(): boolean {
    return this.#timeout?.aborted === true && !this.callerAborted;
  }

  /** Absolute time for gRPC's `deadline` option; Infinity when there is none. */
  get at(): number {
    return this.timeoutMs > 0 ? Date.now() + this.timeoutMs : Number.POSITIVE_INFINITY;
  }
}
