/**
 * The one error catalog. Every error canopy raises on purpose carries a stable
 * `code` (tests and clients match on it, never on the message), the HTTP status
 * the proxy answers with, and optionally a `cause`.
 *
 * It lives in kernels/ because every layer needs it and it is pure data.
 */

export const ERROR_CATALOG = {
  // Input and configuration (4xx)
  CANOPY_ERR_INVALID_ARGUMENT: 400,
  CANOPY_ERR_INVALID_CONFIG: 400,
  CANOPY_ERR_INVALID_JSON: 400,
  CANOPY_ERR_INVALID_UTF8: 400,
  CANOPY_ERR_INVALID_TREE: 400,
  CANOPY_ERR_INVALID_SAMPLING: 400,
  CANOPY_ERR_UNKNOWN_DRAFTER: 400,
  CANOPY_ERR_INVALID_DRAFTER_OPTIONS: 400,
  CANOPY_ERR_BUDGET_OUT_OF_RANGE: 400,
  CANOPY_ERR_MAX_TOKENS_OUT_OF_RANGE: 400,
  CANOPY_ERR_PROMPT_TOO_LONG: 400,
  CANOPY_ERR_CONTEXT_FULL: 400,
  CANOPY_ERR_TOKEN_OUT_OF_VOCAB: 400,
  CANOPY_ERR_CHAT_TEMPLATE: 400,
  CANOPY_ERR_UNKNOWN_MODEL: 404,
  CANOPY_ERR_NOT_FOUND: 404,
  CANOPY_ERR_BODY_TOO_LARGE: 413,
  CANOPY_ERR_DUPLICATE_DRAFTER: 409,
  CANOPY_ERR_DRAFTER_SHAPE: 500,
  CANOPY_ERR_DRAFTER_INCOMPATIBLE: 400,
  /** A drafter head trained for another model (shape mismatch); see docs/eagle.md. */
  CANOPY_ERR_DRAFTER_HEAD_MISMATCH: 400,
  CANOPY_ERR_CAPACITY: 429,

  // Models and local setup (5xx at run time, start-up errors in the CLI)
  CANOPY_ERR_MODEL_NOT_PREPARED: 503,
  CANOPY_ERR_MODEL_INVALID: 500,
  CANOPY_ERR_UNSUPPORTED_ARCHITECTURE: 400,
  CANOPY_ERR_UNSUPPORTED_QUANTIZATION: 400,
  CANOPY_ERR_GGUF_INVALID: 400,
  CANOPY_ERR_DOWNLOAD_FAILED: 502,
  CANOPY_ERR_CHECKSUM_MISMATCH: 502,
  CANOPY_ERR_SESSION_CLOSED: 409,
  CANOPY_ERR_TARGET_UNSUPPORTED: 400,
  CANOPY_ERR_TRITON_INSTALL_FAILED: 500,
  CANOPY_ERR_TRITON_START_FAILED: 500,

  // Upstream (Triton) faults
  CANOPY_ERR_UPSTREAM_UNREACHABLE: 503,
  CANOPY_ERR_UPSTREAM_NOT_READY: 503,
  CANOPY_ERR_UPSTREAM_TIMEOUT: 504,
  CANOPY_ERR_UPSTREAM_ERROR: 502,
  CANOPY_ERR_UPSTREAM_SESSION_LOST: 502,
  CANOPY_ERR_UPSTREAM_PROTOCOL: 502,

  // Lifecycle
  CANOPY_ERR_CANCELLED: 499,
  CANOPY_ERR_SHUTTING_DOWN: 503,
  CANOPY_ERR_INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class CanopyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra machine-readable facts (the offending field, the limit...). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CanopyError';
    this.code = code;
    this.status = ERROR_CATALOG[code];
    this.details = options?.details ? Object.freeze({ ...options.details }) : undefined;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Readonly<Record<string, unknown>> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function isCanopyError(value: unknown, code?: ErrorCode): value is CanopyError {
  return value instanceof CanopyError && (code === undefined || value.code === code);
}

/** Wraps anything thrown into a CanopyError, keeping the original as `cause`. */
export function toCanopyError(value: unknown, fallback: ErrorCode = 'CANOPY_ERR_INTERNAL'): CanopyError {
  if (value instanceof CanopyError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new CanopyError(fallback, message, { cause: value });
}
