/**
 * Request bodies canopy reads itself (generate, OpenAI, text infer): bounded
 * by `server.bodyLimitBytes`, checked to be UTF-8, then parsed as JSON. Each
 * failure has its own code, so a client knows what to fix.
 */
import type { IncomingMessage } from 'node:http';
import { CanopyError } from '../../kernels/errors.js';

/** A request that an Express body parser may already have read (middleware mode). */
type MaybeParsed = IncomingMessage & { body?: unknown };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function tooLarge(limit: number): CanopyError {
  return new CanopyError(
    'CANOPY_ERR_BODY_TOO_LARGE',
    `the request body exceeds ${limit} bytes (server.bodyLimitBytes)`,
    { details: { limit } },
  );
}

/** Whether a body parser consumed the stream before canopy saw it. */
export function alreadyParsed(req: IncomingMessage): boolean {
  return (req as MaybeParsed).body !== undefined && req.readableEnded;
}

/** The raw body, at most `limit` bytes (refused early when Content-Length says more). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (alreadyParsed(req)) {
    const parsed = (req as MaybeParsed).body;
    if (Buffer.isBuffer(parsed)) return parsed;
    if (typeof parsed === 'string') return Buffer.from(parsed);
    return Buffer.from(JSON.stringify(parsed));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume(); // drain, so the connection can answer
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Decodes UTF-8 strictly (invalid bytes are an error, not U+FFFD). */
export function decodeUtf8(bytes: Uint8Array, what = 'the request body'): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CanopyError('CANOPY_ERR_INVALID_UTF8', `${what} is not valid UTF-8`);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text that came through JSON may still hold lone surrogates (`"\ud800"`), which have no UTF-8 form. */
export function checkWellFormed(text: string, field: string): string {
  if (LONE_SURROGATE.test(text)) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_UTF8',
      `'${field}' holds a lone UTF-16 surrogate, which is not a character; send valid Unicode text`,
      { details: { field } },
    );
  }
  return text;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_JSON',
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/** Reads and parses a JSON object body. */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const value =
    alreadyParsed(req) && !Buffer.isBuffer((req as MaybeParsed).body)
      ? (req as MaybeParsed).body
      : parseJson(decodeUtf8(await readBody(req, limit)));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
