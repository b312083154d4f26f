/**
 * Flag parsing shared by the commands that generate text: numbers are parsed
 * strictly (no `Number('')` zeros), and every problem is a CanopyError naming
 * the flag.
 */

import { z } from 'zod';
import { type BenchPrompt, loadDataset } from '../../bench/dataset.js';
import type { DrafterSpec } from '../../engine/index.js';
import { CanopyError } from '../../kernels/errors.js';
import type { SamplingParams } from '../../kernels/sampling-params.js';
import { drafterSpec } from '../config/resolve.js';
import { parseSampling } from '../config/sampling.js';
import { drafterEntrySchema } from '../config/schema.js';
import { DEFAULT_DRAFTERS, type TargetSpec } from '../host/model-host.js';

export function numberFlag(name: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `--${name} must be ${integer ? 'an integer' : 'a number'}, got '${value}'`,
      {
        details: { flag: name },
      },
    );
  }
  return n;
}

/** Same sampling flags for generate and bench (validated by the shared schema). */
export const SAMPLING_FLAGS = {
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  seed: { type: 'string' },
} as const;

export function samplingFromFlags(values: Record<string, unknown>): SamplingParams {
  const s = (k: string) => values[k] as string | undefined;
  const seed = s('seed');
  if (seed !== undefined && !/^\d+$/.test(seed.trim())) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_SAMPLING',
      `--seed must be a non-negative integer, got '${seed}'`,
      {
        details: { field: 'seed' },
      },
    );
  }
  const input = {
    temperature: numberFlag('temperature', s('temperature')),
    topP: numberFlag('top-p', s('top-p')),
    topK: numberFlag('top-k', s('top-k'), true),
    minP: numberFlag('min-p', s('min-p')),
    repetitionPenalty: numberFlag('repetition-penalty', s('repetition-penalty')),
    frequencyPenalty: numberFlag('frequency-penalty', s('frequency-penalty')),
    presencePenalty: numberFlag('presence-penalty', s('presence-penalty')),
    seed: numberFlag('seed', seed, true),
  };
  return parseSampling(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
}

/**
 * `--drafters`: `none` (plain decoding), a comma-separated list, or absent
 * (the default fusion). Returns null for none.
 */
export function draftersFromFlag(value: string | undefined): readonly DrafterSpec[] | null {
  if (value === undefined) return DEFAULT_DRAFTERS;
  const v = value.trim();
  if (v === 'none') return null;
  const names = v.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) {
    throw new CanopyError(
      'CANOPY_ERR_UNKNOWN_DRAFTER',
      `--drafters must be 'none' or a comma-separated list, got '${value}'`,
    );
  }
  return names.map((name) => ({ name }));
}

/** `--target`: absent or `embedded` runs in process; a URL (http:// or grpc://) means a Triton server. */
export function targetFromFlag(value: string | undefined, tritonModel?: string): TargetSpec {
  if (value === undefined || value === 'embedded') return { kind: 'embedded' };
  if (!/^(https?|grpc):\/\/[^/]+/.test(value)) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `--target must be 'embedded' or a URL like http://127.0.0.1:8000, got '${value}'`,
    );
  }
  return { kind: 'triton', url: value, model: tritonModel };
}

/** `--variant NAME=JSON`: a named list of drafter entries, as in a config file's `drafters`. */
export function variantFromFlag(value: string): { name: string; drafters: DrafterSpec[] } {
  const eq = value.indexOf('=');
  const name = eq > 0 ? value.slice(0, eq).trim() : '';
  let raw: unknown;
  try {
    raw = eq > 0 ? JSON.parse(value.slice(eq + 1)) : undefined;
  } catch {
    raw = undefined;
  }
  const parsed = z.array(drafterEntrySchema).min(1).max(32).safeParse(raw);
  if (name === '' || !parsed.success) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_ARGUMENT',
      `--variant must be NAME=JSON with a non-empty JSON list of drafter names or { "name", "options" }, got '${value}'`,
    );
  }
  return { name, drafters: parsed.data.map(drafterSpec) };
}

/**
 * `--prime FILE [--prime-count N]`: the earlier traffic a bench serves before
 * the measured prompts (all of FILE, or its first N); none without `--prime`.
 */
export function primeFromFlags(file: string | undefined, count: string | undefined): BenchPrompt[] {
  const n = numberFlag('prime-count', count, true);
  if (n !== undefined && n < 1)
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--prime-count must be ≥ 1');
  if (n !== undefined && file === undefined)
    throw new CanopyError('CANOPY_ERR_INVALID_ARGUMENT', '--prime-count needs --prime');
  return file === undefined ? [] : loadDataset(file).slice(0, n);
}
