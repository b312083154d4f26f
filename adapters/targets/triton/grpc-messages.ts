/**
 * canopy's infer types ↔ the plain objects proto-loader encodes and decodes
 * for proto/kserve.proto (loaded with keepCase, longs as Number, oneofs).
 *
 * Tensors go out as `raw_input_contents`, the fast form; answers are read from
 * `raw_output_contents` (Triton's form) or from typed `contents` (other servers).
 */
import { CanopyError } from '../../../kernels/errors.js';
import {
  type Datatype,
  isDatatype,
  type Tensor,
  tensorFromBytes,
  tensorFromJson,
  tensorToBytes,
} from './codec.js';
import type { InferParameters, InferRequest, InferResponse } from './kserve-client.js';

export interface ProtoInferParameter {
  parameter_choice?: string;
  bool_param?: boolean;
  int64_param?: number;
  string_param?: string;
  double_param?: number;
  uint64_param?: number;
}

interface ProtoTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface ProtoInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, ProtoInferParameter>;
  inputs: {
    name: string;
    datatype: string;
    shape: number[];
    parameters: Record<string, ProtoInferParameter>;
  }[];
  outputs: { name: string; parameters: Record<string, ProtoInferParameter> }[];
  raw_input_contents: Uint8Array[];
}

export interface ProtoInferResponse {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, ProtoInferParameter>;
  outputs?: {
    name: string;
    datatype: string;
    shape: (number | string)[];
    contents?: ProtoTensorContents | null;
  }[];
  raw_output_contents?: Uint8Array[];
}

export function toProtoRequest(request: InferRequest): ProtoInferRequest {
  return {
    model_name: request.model,
    model_version: request.version ?? '',
    id: request.id ?? '',
    parameters: toProtoParameters(request.parameters),
    inputs: request.inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: [...t.shape],
      parameters: {},
    })),
    outputs: (request.outputs ?? []).map((name) => ({ name, parameters: {} })),
    raw_input_contents: request.inputs.map(tensorToBytes),
  };
}

export function fromProtoResponse(message: ProtoInferResponse): InferResponse {
  const raw = message.raw_output_contents ?? [];
  const outputs: Tensor[] = (message.outputs ?? []).map((o, i) => {
    if (!isDatatype(o.datatype)) throw malformed(`output '${o.name}' has unknown datatype ${o.datatype}`);
    const datatype: Datatype = o.datatype;
    const shape = o.shape.map(Number);
    if (raw.length > 0) {
      const bytes = raw[i];
      if (bytes === undefined) throw malformed(`output '${o.name}' has no raw contents`);
      return { name: o.name, datatype, shape, data: tensorFromBytes(datatype, shape, bytes, o.name) };
    }
    return { name: o.name, datatype, shape, data: fromContents(datatype, shape, o.contents ?? {}, o.name) };
  });
  const parameters = fromProtoParameters(message.parameters);
  return {
    model: message.model_name ?? '',
    ...(message.model_version ? { version: message.model_version } : {}),
    ...(message.id ? { id: message.id } : {}),
    ...(parameters ? { parameters } : {}),
    outputs,
  };
}

export function toProtoParameters(
  parameters: InferParameters | undefined,
): Record<string, ProtoInferParameter> {
  const out: Record<string, ProtoInferParameter> = {};
  for (const [key, value] of Object.entries(parameters ?? {})) {
    if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'string') out[key] = { string_param: value };
    else if (Number.isInteger(value)) out[key] = { int64_param: value };
    else out[key] = { double_param: value };
  }
  return out;
}

export function fromProtoParameters(
  parameters: Record<string, ProtoInferParameter> | undefined,
): InferParameters | undefined {
  const entries = Object.entries(parameters ?? {});
  if (entries.length === 0) return undefined;
  return Object.fromEntries(
    entries.map(([key, p]) => {
      const choice = (p.parameter_choice ?? 'string_param') as keyof ProtoInferParameter;
      return [key, p[choice] as string | number | boolean];
    }),
  );
}

function fromContents(datatype: Datatype, shape: readonly number[], c: ProtoTensorContents, name: string) {
  if (datatype === 'BYTES') return (c.bytes_contents ?? []).map((b) => new Uint8Array(b));
  const values: readonly (number | boolean)[] | undefined = {
    BOOL: c.bool_contents,
    INT8: c.int_contents,
    INT16: c.int_contents,
    INT32: c.int_contents,
    INT64: c.int64_contents,
    UINT8: c.uint_contents,
    UINT16: c.uint_contents,
    UINT32: c.uint_contents,
    UINT64: c.uint64_contents,
    FP32: c.fp32_contents,
    FP64: c.fp64_contents,
    FP16: undefined,
    BF16: undefined,
  }[datatype];
  if (values === undefined) throw malformed(`${datatype} output '${name}' must come as raw contents`);
  return tensorFromJson(datatype, shape, values, name);
}

function malformed(message: string): CanopyError {
  return new CanopyError('CANOPY_ERR_UPSTREAM_PROTOCOL', `malformed infer response: ${message}`);
}
