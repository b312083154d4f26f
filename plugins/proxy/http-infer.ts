/**
 * `POST /v2/models/{model}[/versions/{v}]/infer` over HTTP. Infers on models
 * canopy does not serve stream through to Triton untouched. For a speculative
 * model canopy reads the body (JSON, or JSON + binary tensor data): with a
 * `text_input` it answers itself (text-infer.ts); otherwise the bytes it read
 * go on to Triton as they were.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Datatype } from '../../adapters/targets/triton/index.js';
import { tensorFromBytes, tensorToBytes } from '../../adapters/targets/triton/index.js';
import { CanopyError, isCanopyError } from '../../kernels/errors.js';
import { decodeUtf8, parseJson, readBody } from './body.js';
import type { CanopyCore } from './core.js';
import { sendError, sendJson, statusOf } from './http-errors.js';
import { endFailed, endSucceeded, failureOf, openScope, servedOrElse } from './route-kit.js';
import {
  hasTextInput,
  parseTextInfer,
  runTextInfer,
  TEXT_OUTPUT,
  type TextInferInput,
  textInferParameters,
  valuesFromJson,
} from './text-infer.js';

const HEADER_LENGTH = 'inference-header-content-length';

interface InferHeader {
  id?: unknown;
  parameters?: Record<string, unknown>;
  inputs?: {
    name: string;
    datatype: string;
    shape: number[];
    parameters?: { binary_data_size?: number };
    data?: unknown;
  }[];
  outputs?: { name: string; parameters?: { binary_data?: boolean } }[];
}

function malformed(message: string): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `malformed infer request: ${message}`);
}

function splitBody(
  body: Buffer,
  lengthHeader: string | string[] | undefined,
): { header: InferHeader; rest: Buffer } {
  const length = lengthHeader === undefined ? body.length : Number(lengthHeader);
  if (!Number.isInteger(length) || length < 0 || length > body.length) {
    throw malformed(`${HEADER_LENGTH} ${String(lengthHeader)} does not fit the body (${body.length} bytes)`);
  }
  const header = parseJson(decodeUtf8(body.subarray(0, length), 'the infer request header'));
  if (typeof header !== 'object' || header === null || !Array.isArray((header as InferHeader).inputs)) {
    throw malformed('the header must be an object with an `inputs` array');
  }
  return { header: header as InferHeader, rest: body.subarray(length) };
}

function decodeInputs(header: InferHeader, rest: Buffer): TextInferInput[] {
  let offset = 0;
  return (header.inputs ?? []).map((input) => {
    const { name, datatype, shape } = input;
    if (typeof name !== 'string' || typeof datatype !== 'string' || !Array.isArray(shape)) {
      throw malformed('every input needs a name, a datatype and a shape');
    }
    const size = input.parameters?.binary_data_size;
    try {
      let values: ArrayLike<Uint8Array | number | bigint>;
      if (size === undefined) {
        values = valuesFromJson(datatype, shape, input.data, name);
      } else {
        if (offset + size > rest.length) throw malformed(`binary data of input '${name}' is cut short`);
        values = tensorFromBytes(
          datatype as Datatype,
          shape,
          rest.subarray(offset, offset + size),
          name,
        ) as ArrayLike<Uint8Array | number | bigint>;
        offset += size;
      }
      return { name, datatype, shape, values: Array.from(values) };
    } catch (error) {
      // The codec's messages are written for answers from Triton; here the client sent them.
      if (isCanopyError(error, 'CANOPY_ERR_UPSTREAM_PROTOCOL')) throw malformed(error.message);
      throw error;
    }
  });
}

function wantsBinary(header: InferHeader): boolean {
  const asked = header.outputs?.find((o) => o.name === TEXT_OUTPUT)?.parameters?.binary_data;
  return asked ?? header.parameters?.binary_data_output === true;
}

function sendTextOutput(res: Response, head: Record<string, unknown>, text: string, binary: boolean): void {
  const element = new TextEncoder().encode(text);
  const output = { name: TEXT_OUTPUT, datatype: 'BYTES', shape: [1] };
  if (!binary) {
    sendJson(res, 200, { ...head, outputs: [{ ...output, data: [text] }] });
    return;
  }
  const data = tensorToBytes({ name: TEXT_OUTPUT, datatype: 'BYTES', shape: [1], data: [element] });
  const json = Buffer.from(
    JSON.stringify({ ...head, outputs: [{ ...output, parameters: { binary_data_size: data.byteLength } }] }),
  );
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    [HEADER_LENGTH]: String(json.length),
    'content-length': String(json.length + data.byteLength),
  });
  res.end(Buffer.concat([json, data]));
}

type Params = { model: string; version?: string };

export function inferHandler(core: CanopyCore): RequestHandler {
  return async (req: Request, res: Response) => {
    const { model, version } = req.params as Params;
    const served = await servedOrElse(core, model, req, res, 'triton', true);
    if (!served) return;
    // A compressed body is not canopy's to read (text infers come uncompressed): Triton decodes it.
    const encoding = req.headers['content-encoding'];
    if (core.passThrough && encoding !== undefined && encoding !== 'identity') {
      await core.passThrough.forward(req, res);
      return;
    }
    let body: Buffer;
    let header: InferHeader;
    let rest: Buffer;
    try {
      body = await readBody(req, core.config.server.bodyLimitBytes);
      ({ header, rest } = splitBody(body, req.headers[HEADER_LENGTH]));
    } catch (error) {
      sendError(res, failureOfRead(error), 'triton');
      return;
    }
    if (!hasTextInput((header.inputs ?? []).map((i) => i.name)) && core.passThrough) {
      await core.passThrough.forward(req, res, body);
      return;
    }
    const scope = openScope(core, 'infer', served.name, res, 'triton');
    if (!scope) return;
    try {
      const infer = parseTextInfer({
        id: typeof header.id === 'string' ? header.id : undefined,
        inputs: decodeInputs(header, rest),
        parameters: header.parameters ?? {},
      });
      if (infer.stream) {
        throw new CanopyError(
          'CANOPY_ERR_INVALID_ARGUMENT',
          "'stream' needs a gRPC stream (ModelStreamInfer) or generate_stream; HTTP infer answers once",
          { details: { field: 'stream' } },
        );
      }
      const { text, outcome } = await runTextInfer(served, infer, scope.signal);
      const head = {
        model_name: served.name,
        model_version: version ?? '1',
        ...(infer.id ? { id: infer.id } : {}),
        parameters: textInferParameters(outcome),
      };
      sendTextOutput(res, head, text, wantsBinary(header));
      endSucceeded(scope, outcome);
    } catch (error) {
      const failure = failureOf(error, scope);
      sendError(res, failure, 'triton');
      endFailed(scope, error, failure, statusOf(failure));
    }
  };
}

function failureOfRead(error: unknown): CanopyError {
  return error instanceof CanopyError ? error : malformed(String(error));
}
