/**
 * Parses the non-infer answers of a KServe v2 server into canopy's types.
 *
 * Both transports yield the same snake_case objects: HTTP gives the proto3
 * JSON mapping (64-bit integers as strings, enums by name), gRPC gives what
 * proto-loader decodes with `keepCase`, `longs: Number`, `enums: String`. So one
 * set of schemas, tolerant of both spellings of a number, serves both.
 */
import { z } from 'zod';
import { CanopyError } from '../../../kernels/errors.js';
import { type Datatype, isDatatype } from './codec.js';
import type {
  Duration,
  ModelConfig,
  ModelConfigTensor,
  ModelMetadata,
  ModelStatistics,
  RepositoryModel,
  ServerMetadata,
} from './kserve-client.js';

const int = z.union([z.number(), z.string()]).transform(Number).pipe(z.number().int());
const datatype = z.string().refine((s): s is Datatype => isDatatype(s), 'unknown datatype');
/** Config datatypes are enum names (`TYPE_INT32`); TYPE_STRING is KServe's BYTES. */
const configDatatype = z
  .string()
  .transform((s) => (s === 'TYPE_STRING' ? 'BYTES' : s.replace(/^TYPE_/, '')))
  .pipe(datatype);

const serverMetadata = z.object({
  name: z.string().default(''),
  version: z.string().default(''),
  extensions: z.array(z.string()).default([]),
});

const tensorMetadata = z.object({ name: z.string(), datatype, shape: z.array(int).default([]) });
const modelMetadata = z.object({
  name: z.string(),
  versions: z.array(z.string()).default([]),
  platform: z.string().default(''),
  inputs: z.array(tensorMetadata).default([]),
  outputs: z.array(tensorMetadata).default([]),
});

const configTensor = z
  .object({
    name: z.string(),
    data_type: configDatatype,
    dims: z.array(int).default([]),
    optional: z.boolean().default(false),
  })
  .transform(
    (t): ModelConfigTensor => ({ name: t.name, datatype: t.data_type, dims: t.dims, optional: t.optional }),
  );

const modelConfig = z
  .object({
    name: z.string(),
    platform: z.string().default(''),
    backend: z.string().default(''),
    max_batch_size: int.default(0),
    input: z.array(configTensor).default([]),
    output: z.array(configTensor).default([]),
    parameters: z.record(z.string(), z.object({ string_value: z.string().default('') })).default({}),
  })
  .transform(
    (c): ModelConfig => ({
      name: c.name,
      platform: c.platform,
      backend: c.backend,
      maxBatchSize: c.max_batch_size,
      inputs: c.input,
      outputs: c.output,
      parameters: Object.fromEntries(Object.entries(c.parameters).map(([k, v]) => [k, v.string_value])),
    }),
  );

const duration = z
  .object({ count: int.default(0), ns: int.default(0) })
  .nullish()
  .transform((d): Duration => ({ count: d?.count ?? 0, ns: d?.ns ?? 0 }));
const modelStatistics = z
  .object({
    name: z.string(),
    version: z.string().default(''),
    inference_count: int.default(0),
    execution_count: int.default(0),
    inference_stats: z
      .object({
        success: duration,
        fail: duration,
        queue: duration,
        compute_input: duration,
        compute_infer: duration,
        compute_output: duration,
      })
      .partial()
      .nullish(),
  })
  .transform((s): ModelStatistics => {
    const zero = { count: 0, ns: 0 };
    const st = s.inference_stats ?? {};
    return {
      name: s.name,
      version: s.version,
      inferenceCount: s.inference_count,
      executionCount: s.execution_count,
      success: st.success ?? zero,
      fail: st.fail ?? zero,
      queue: st.queue ?? zero,
      computeInput: st.compute_input ?? zero,
      computeInfer: st.compute_infer ?? zero,
      computeOutput: st.compute_output ?? zero,
    };
  });

const repositoryModel = z.object({
  name: z.string(),
  version: z.string().default(''),
  state: z.string().default(''),
  reason: z.string().default(''),
});

function parser<T>(schema: z.ZodType<T>, what: string): (raw: unknown) => T {
  return (raw) => {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    throw new CanopyError(
      'CANOPY_ERR_UPSTREAM_PROTOCOL',
      `malformed ${what}: ${z.prettifyError(parsed.error)}`,
    );
  };
}

export const parseServerMetadata: (raw: unknown) => ServerMetadata = parser(
  serverMetadata,
  'server metadata',
);
export const parseModelMetadata: (raw: unknown) => ModelMetadata = parser(modelMetadata, 'model metadata');
export const parseModelConfig: (raw: unknown) => ModelConfig = parser(modelConfig, 'model config');
export const parseModelStatistics: (raw: unknown) => ModelStatistics[] = parser(
  z.object({ model_stats: z.array(modelStatistics).default([]) }).transform((r) => r.model_stats),
  'model statistics',
);
/** HTTP answers a bare array; gRPC wraps it in `models`. */
export const parseRepositoryIndex: (raw: unknown) => RepositoryModel[] = parser(
  z.union([
    z.array(repositoryModel),
    z.object({ models: z.array(repositoryModel).default([]) }).transform((r) => r.models),
  ]),
  'repository index',
);
