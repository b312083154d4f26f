/**
 * The one configuration schema of the proxy, the Express middleware and
 * `canopy serve` (docs/serving.md). Parsed once at start-up into a frozen
 * object; every object is strict, so a typo is an error that names the key.
 *
 * Vocabulary:
 * - *speculative model*: a model name canopy answers `generate`, text infer
 *   and the OpenAI routes for, by speculative decoding;
 * - *target*: the model that verifies the drafts, either the embedded model or
 *   a Triton model speaking canopy's wire contract (docs/triton-wire.md);
 * - *tokenizer*: a prepared model in the canopy cache (docs/model-format.md)
 *   whose tokenizer and chat template turn text into tokens and back.
 */
import { z } from 'zod';
import { MAX_BUDGET_LIMIT } from '../../engine/index.js';

/** `"ngram"` or `{ name: "ngram", options: {...} }`; options are checked by the drafter itself. */
export const drafterEntrySchema = z.union(
  [
    z.string().min(1),
    z.strictObject({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }),
  ],
  { error: 'must be a drafter name or { "name": ..., "options": {...} }' },
);

/** How a speculative model decodes; every key is optional, unset keys fall back to `defaults`. */
export const speculationSchema = z.strictObject({
  /** Drafters fused for this model; `[]` = plain decoding only. */
  drafters: z.array(drafterEntrySchema).max(32).optional(),
  /** Largest verify tree (nodes per pass, root included). */
  maxBudget: z.number().int().min(1).max(MAX_BUDGET_LIMIT).optional(),
  /** `max_tokens` of a request that gives none. */
  defaultMaxTokens: z.number().int().min(1).optional(),
  /** Largest `max_tokens` a request may ask for. */
  maxTokens: z.number().int().min(1).max(1_000_000).optional(),
});

/**
 * One speculative model: `models.<name>` in the file, or the JSON of the
 * `canopy` parameter in a Triton model's config.pbtxt.
 */
export const modelSettingsSchema = speculationSchema.extend({
  /** false: canopy leaves the model alone (everything passes through). */
  enabled: z.boolean().optional(),
  /** Triton model that verifies (speaks canopy's wire contract); default: the model itself. */
  target: z.string().min(1).optional(),
  /** Prepared model (cache name or directory) for the tokenizer; default: the target's `model_name` parameter. */
  tokenizer: z.string().min(1).optional(),
});

const port = z.number().int().min(0).max(65535);
const url = (schemes: string) =>
  z
    .string()
    .regex(new RegExp(`^(${schemes})://[^/\\s]+`), `must be a URL like ${schemes.split('|')[0]}://HOST:PORT`);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const serverSchema = z.strictObject({
  /** Interface to bind; loopback unless told otherwise. */
  host: z.string().min(1).default('127.0.0.1'),
  port: port.default(8080),
  /** gRPC port: the pass-through with `upstream.grpc` (default 8081 then); embedded: only when set. */
  grpcPort: port.optional(),
  /** Largest body canopy reads itself (generate, OpenAI, text infer); pass-through bodies stream. */
  bodyLimitBytes: z
    .number()
    .int()
    .min(1024)
    .max(2 ** 30)
    .default(4 * 2 ** 20),
  /** On SIGTERM (or close()): how long in-flight requests may finish before they are cancelled. */
  shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
});

export const upstreamSchema = z.strictObject({
  /** Triton's HTTP endpoint: pass-through, discovery, and canopy's own target. */
  http: url('http|https'),
  /** Triton's gRPC endpoint: enables the gRPC pass-through. */
  grpc: url('grpc').optional(),
  /** Transport of canopy's own target calls (`grpc` needs `grpc`). */
  targetTransport: z.enum(['http', 'grpc']).default('http'),
  /** Per upstream request (pass-through headers, each target call). */
  timeoutMs: z.number().int().min(1).max(3_600_000).default(30_000),
  /** Read the `canopy` parameter of Triton models' configs (the no-code path). */
  discover: z.boolean().default(true),
  /** How long a model found without the parameter is not asked again. */
  discoveryTtlMs: z.number().int().min(0).default(30_000),
});

export const embeddedSchema = z.strictObject({
  /** Prepared model (cache name or directory) run in process. */
  model: z.string().min(1).optional(),
  /** Name clients use; default the model's own name. */
  name: z.string().min(1).optional(),
  /** onnxruntime intra-op threads. */
  threads: z.number().int().min(1).max(256).optional(),
});

/** The configuration object as written; `upstream` or `embedded`, not both. */
export const configObjectSchema = z.strictObject({
  server: serverSchema.prefault({}),
  upstream: upstreamSchema.optional(),
  embedded: embeddedSchema.optional(),
  /** Speculation settings every model starts from. */
  defaults: speculationSchema.prefault({}),
  /** Per-model settings by the name clients use. */
  models: z.record(z.string().min(1), modelSettingsSchema).default({}),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({}),
  metrics: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
});

export const configSchema = configObjectSchema.superRefine((config, ctx) => {
  if ((config.upstream === undefined) === (config.embedded === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message:
        config.upstream === undefined
          ? 'name a target: `upstream.http` (a Triton server) or `embedded` (the model in process)'
          : '`upstream` and `embedded` exclude each other; keep one',
    });
  }
  if (
    config.server.grpcPort !== undefined &&
    config.upstream !== undefined &&
    config.upstream.grpc === undefined
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'grpcPort'],
      message: 'the gRPC pass-through needs `upstream.grpc`',
    });
  }
  if (config.upstream?.targetTransport === 'grpc' && config.upstream.grpc === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['upstream', 'targetTransport'],
      message: '`grpc` needs `upstream.grpc`',
    });
  }
});

export type CanopyConfigInput = z.input<typeof configObjectSchema>;
export type CanopyConfig = z.output<typeof configObjectSchema>;
export type ModelSettings = z.output<typeof modelSettingsSchema>;
export type SpeculationSettings = z.output<typeof speculationSchema>;
export type DrafterEntry = z.output<typeof drafterEntrySchema>;
