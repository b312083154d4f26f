/**
 * The few KServe gRPC messages canopy looks into, in their wire form: the
 * model name of a ModelInferRequest (read straight from the bytes, so a
 * passing-through infer is never decoded), and, for a text infer on a
 * speculative model, the request and its responses (decoded and encoded with
 * canopy's proto/kserve.proto).
 */
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  type Datatype,
  kserveProtoPath,
  PROTO_OPTIONS,
  tensorFromBytes,
  tensorToBytes,
} from '../../adapters/targets/triton/index.js';
import { CanopyError, isCanopyError } from '../../kernels/errors.js';
import { TEXT_OUTPUT, type TextInferInput, type TextInferRequest, valuesFromJson } from './text-infer.js';

function varint(buf: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let pos = at; pos < buf.length && pos < at + 10; pos++) {
    value += (buf[pos] & 0x7f) * scale;
    scale *= 128;
    if ((buf[pos] & 0x80) === 0) return [value, pos + 1];
  }
  return [-1, buf.length];
}

/** `model_name` (field 1) of a serialized ModelInferRequest; '' when absent or unreadable. */
export function modelNameOf(buf: Uint8Array): string {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, next] = varint(buf, pos);
    if (tag < 0) return '';
    pos = next;
    const field = Math.floor(tag / 8);
    switch (tag % 8) {
      case 0:
        pos = varint(buf, pos)[1];
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const [length, start] = varint(buf, pos);
        if (length < 0 || start + length > buf.length) return '';
        if (field === 1) return new TextDecoder().decode(buf.subarray(start, start + length));
        pos = start + length;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return '';
    }
  }
  return '';
}

interface ProtoParameter {
  parameter_choice?: string;
  [kind: string]: unknown;
}

interface ProtoInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, ProtoParameter>;
  inputs: {
    name: string;
    datatype: string;
    shape: number[];
    contents?: Record<string, unknown[]> | null;
  }[];
  raw_input_contents: Uint8Array[];
}

type Codec = { decode(buf: Buffer): unknown; encode(value: unknown): Buffer };
let codecs: { request: Codec; response: Codec; streamResponse: Codec } | undefined;
let service: grpc.ServiceDefinition | undefined;

function definition(): grpc.ServiceDefinition {
  service ??= protoLoader.loadSync(kserveProtoPath(), PROTO_OPTIONS)[
    'inference.GRPCInferenceService'
  ] as grpc.ServiceDefinition;
  return service;
}

/** Request decoder and response encoder of a method canopy's proto knows (the health and metadata ones). */
export function methodCodec(name: string): { decode(buf: Buffer): unknown; encode(value: unknown): Buffer } {
  const m = definition()[name];
  if (m === undefined) throw new Error(`proto/kserve.proto has no method ${name}`);
  return { decode: m.requestDeserialize, encode: m.responseSerialize };
}

function messages() {
  if (codecs === undefined) {
    const service = definition();
    const infer = service.ModelInfer;
    const stream = service.ModelStreamInfer;
    codecs = {
      request: { decode: infer.requestDeserialize, encode: infer.requestSerialize },
      response: { decode: infer.responseDeserialize, encode: infer.responseSerialize },
      streamResponse: { decode: stream.responseDeserialize, encode: stream.responseSerialize },
    };
  }
  return codecs;
}

const CONTENTS: Record<string, string> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
};

function malformed(message: string): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', `malformed infer request: ${message}`);
}

/** Decodes a ModelInferRequest into the transport-neutral text infer request. */
export function decodeTextInfer(buf: Buffer): TextInferRequest & { model: string; version: string } {
  const message = messages().request.decode(buf) as ProtoInferRequest;
  const raw = message.raw_input_contents ?? [];
  const inputs: TextInferInput[] = message.inputs.map((input, i) => {
    const { name, datatype } = input;
    const shape = input.shape.map(Number);
    try {
      let values: ArrayLike<Uint8Array | number | bigint>;
      if (raw.length > 0) {
        if (raw[i] === undefined) throw malformed(`input '${name}' has no raw contents`);
        values = tensorFromBytes(datatype as Datatype, shape, raw[i], name) as ArrayLike<Uint8Array | number>;
      } else if (datatype === 'BYTES') {
        values = (input.contents?.bytes_contents ?? []) as Uint8Array[];
      } else {
        const field = CONTENTS[datatype];
        if (field === undefined) throw malformed(`${datatype} input '${name}' must come as raw contents`);
        const elements = (input.contents?.[field] ?? []).map((v) => (typeof v === 'boolean' ? Number(v) : v));
        values = valuesFromJson(datatype, shape, elements, name);
      }
      return { name, datatype, shape, values: Array.from(values) };
    } catch (error) {
      if (isCanopyError(error, 'CANOPY_ERR_UPSTREAM_PROTOCOL')) throw malformed(error.message);
      throw error;
    }
  });
  const parameters = Object.fromEntries(
    Object.entries(message.parameters ?? {}).map(([key, p]) => [
      key,
      p[p.parameter_choice ?? 'string_param'],
    ]),
  );
  return { model: message.model_name, version: message.model_version, id: message.id, inputs, parameters };
}

function protoParameters(values: Record<string, string | number | boolean>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(values)) {
    if (typeof v === 'boolean') out[key] = { bool_param: v };
    else if (typeof v === 'string') out[key] = { string_param: v };
    else out[key] = Number.isInteger(v) ? { int64_param: v } : { double_param: v };
  }
  return out;
}

export interface TextInferReply {
  readonly model: string;
  readonly version: string;
  readonly id: string;
  readonly text: string;
  readonly parameters: Record<string, string | number | boolean>;
}

function inferResponse(reply: TextInferReply): Record<string, unknown> {
  const element = new TextEncoder().encode(reply.text);
  return {
    model_name: reply.model,
    model_version: reply.version,
    id: reply.id,
    parameters: protoParameters(reply.parameters),
    outputs: [{ name: TEXT_OUTPUT, datatype: 'BYTES', shape: [1], parameters: {} }],
    raw_output_contents: [
      tensorToBytes({ name: TEXT_OUTPUT, datatype: 'BYTES', shape: [1], data: [element] }),
    ],
  };
}

export const encodeInferResponse = (reply: TextInferReply): Buffer =>
  messages().response.encode(inferResponse(reply));

/** A ModelStreamInferResponse carrying a response, or an error message (the stream goes on). */
export function encodeStreamResponse(reply: TextInferReply | { readonly error: string }): Buffer {
  if ('error' in reply) return messages().streamResponse.encode({ error_message: reply.error });
  return messages().streamResponse.encode({ error_message: '', infer_response: inferResponse(reply) });
}

/** Decoders for tests and tools: a ModelInferResponse or ModelStreamInferResponse from bytes. */
export const decodeInferResponse = (buf: Buffer): unknown => messages().response.decode(buf);
export const decodeStreamResponse = (buf: Buffer): unknown => messages().streamResponse.decode(buf);
export const encodeInferRequest = (value: unknown): Buffer => messages().request.encode(value);
