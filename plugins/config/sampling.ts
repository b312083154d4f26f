/**
 * Sampling parameters at the edge: one zod schema for CLI flags, KServe
 * `parameters` and OpenAI bodies. Produces frozen SamplingParams the hot path
 * trusts. A missing seed is drawn here, so every request is seeded and
 * speculation can never change which tokens a request draws.
 */
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { CanopyError } from '../../kernels/errors.js';
import type { SamplingParams } from '../../kernels/sampling-params.js';

export const samplingSchema = z
  .object({
    temperature: z.number().min(0).max(100).default(0),
    topK: z.number().int().min(0).max(1_000_000).default(0),
    topP: z.number().gt(0).max(1).default(1),
    minP: z.number().min(0).max(1).default(0),
    repetitionPenalty: z.number().gt(0).max(100).default(1),
    frequencyPenalty: z.number().min(-2).max(2).default(0),
    presencePenalty: z.number().min(-2).max(2).default(0),
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

export type SamplingInput = z.input<typeof samplingSchema>;

/**
 * Validates sampling input; throws CANOPY_ERR_INVALID_SAMPLING naming the field,
 * as the caller spells it when `fieldName` maps it (`topP` → `top_p` for HTTP bodies).
 */
export function parseSampling(input: unknown, fieldName?: (field: string) => string): SamplingParams {
  const result = samplingSchema.safeParse(input ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.join('.');
    const field = path === '' ? '(body)' : (fieldName?.(path) ?? path);
    throw new CanopyError(
      'CANOPY_ERR_INVALID_SAMPLING',
      `invalid sampling parameter '${field}': ${issue.message}`,
      {
        details: { field },
      },
    );
  }
  const { seed, ...rest } = result.data;
  return Object.freeze({ ...rest, seed: seed ?? randomInt(0, 2 ** 47) });
}
