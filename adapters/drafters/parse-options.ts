/**
 * Option parsing shared by drafter definitions: a zod schema at the edge, a
 * stable error code, frozen options for the hot path.
 */
import type { z } from 'zod';
import { CanopyError } from '../../kernels/errors.js';

function deepFreeze<T>(value: T): T {
  // Typed arrays cannot be frozen; options hold plain arrays and objects.
  if (typeof value !== 'object' || value === null || Object.isFrozen(value) || ArrayBuffer.isView(value)) {
    return value;
  }
  if (Array.isArray(value)) {
    for (const v of value) if (typeof v === 'object') deepFreeze(v);
  } else {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}

/**
 * Parses raw options (undefined means "all defaults") with `schema` into a
 * deeply frozen object. Throws CANOPY_ERR_INVALID_DRAFTER_OPTIONS naming each
 * offending field and what is expected of it.
 */
export function parseDrafterOptions<S extends z.ZodType>(
  drafter: string,
  schema: S,
  raw: unknown,
): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const text = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new CanopyError('CANOPY_ERR_INVALID_DRAFTER_OPTIONS', `drafter '${drafter}' options: ${text}`, {
      details: { drafter, issues },
    });
  }
  return deepFreeze(result.data);
}
