/**
 * HTTP bodies of `/infer` with Triton's binary tensor data extension
 * (extension_binary_data.md): a JSON header, then each binary tensor's bytes in
 * the order the header lists them. `Inference-Header-Content-Length` gives the
 * JSON's byte length; without it the whole body is JSON (the plain KServe form).
 */
import { CanopyError } from '../../../kernels/errors.js';
import {
  type Datatype,
  isDatatype,
  type Tensor,
  tensorFromBytes,
  tensorFromJson,
  tensorToBytes,
  tensorToJson,
} from './codec.js';
import type { InferParameters, InferRequest, InferResponse } from './kserve-client.js';

export const HEADER_LENGTH = 'inference-header-content-length';

export interface EncodedBody {
  readonly body: Uint8Array;
  /** Set when binary data follows the JSON header. */
  readonly headerLength: number | undefined;
}

/** `binary`: tensors travel as bytes both ways; otherwise as JSON arrays. */
export function encodeInferRequest(request: InferRequest, binary: boolean): EncodedBody {
  const chunks: Uint8Array[] = [];
  const inputs = request.inputs.map((t) => {
    if (!binary) return { name: t.name, shape: t.shape, datatype: t.datatype, data: tensorToJson(t) };
    const bytes = tensorToBytes(t);
    chunks.push(bytes);
    return {
      name: t.name,
      shape: t.shape,
      datatype: t.datatype,
      parameters: { binary_data_size: bytes.byteLength },
    };
  });
  const header: Record<string, unknown> = {
    ...(request.id === undefined ? {} : { id: request.id }),
    parameters: { ...request.parameters, ...(binary ? { binary_data_output: true } : {}) },
    inputs,
    ...(request.outputs === undefined
      ? {}
      : { outputs: request.outputs.map((name) => ({ name, parameters: { binary_data: binary } })) }),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  if (!binary) return { body: json, headerLength: undefined };
  return { body: concat([json, ...chunks]), headerLength: json.byteLength };
}

interface ResponseHeader {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: InferParameters;
  outputs?: {
    name: string;
    datatype: string;
    shape: number[];
    parameters?: { binary_data_size?: number };
    data?: unknown;
  }[];
}

/** Parses an `/infer` response body; `headerLength` comes from its Inference-Header-Content-Length. */
export function decodeInferResponse(body: Uint8Array, headerLength: number | undefined): InferResponse {
  const jsonEnd = headerLength ?? body.byteLength;
  if (!Number.isInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > body.byteLength) {
    throw malformed(`${HEADER_LENGTH} ${headerLength} exceeds the body (${body.byteLength} bytes)`);
  }
  let header: ResponseHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(body.subarray(0, jsonEnd))) as ResponseHeader;
  } catch (error) {
    throw malformed('the response header is not JSON', error);
  }
  let offset = jsonEnd;
  const outputs: Tensor[] = (header.outputs ?? []).map((o) => {
    if (!isDatatype(o.datatype)) throw malformed(`output '${o.name}' has unknown datatype ${o.datatype}`);
    const datatype: Datatype = o.datatype;
    const shape = o.shape.map(Number);
    const size = o.parameters?.binary_data_size;
    if (size === undefined)
      return { name: o.name, datatype, shape, data: tensorFromJson(datatype, shape, o.data, o.name) };
    if (offset + size > body.byteLength) throw malformed(`binary data of output '${o.name}' is cut short`);
    const data = tensorFromBytes(datatype, shape, body.subarray(offset, offset + size), o.name);
    offset += size;
    return { name: o.name, datatype, shape, data };
  });
  if (offset !== body.byteLength)
    throw malformed(`${body.byteLength - offset} unclaimed bytes after the outputs`);
  return {
    model: header.model_name ?? '',
    ...(header.model_version ? { version: header.model_version } : {}),
    ...(header.id ? { id: header.id } : {}),
    ...(header.parameters ? { parameters: header.parameters } : {}),
    outputs,
  };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function malformed(message: string, cause?: unknown): CanopyError {
  return new CanopyError('CANOPY_ERR_UPSTREAM_PROTOCOL', `malformed infer response: ${message}`, { cause });
}
