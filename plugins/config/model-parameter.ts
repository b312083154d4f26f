/**
 * The no-code path: a Triton operator enables speculation for a model by
 * adding one parameter to its config.pbtxt,
 *
 *   parameters { key: "canopy" value { string_value: "{\"drafters\":[\"ngram\"],\"maxBudget\":32}" } }
 *
 * The value is the JSON of `models.<name>` in canopy's own config file
 * (schema.ts, modelSettingsSchema), or `true` / `false` / `""` as shorthands
 * for `{}` (every default) and `{ "enabled": false }`.
 */
import { CanopyError } from '../../kernels/errors.js';
import { describeIssue, mainIssue } from './issues.js';
import { type ModelSettings, modelSettingsSchema } from './schema.js';

/** The config.pbtxt parameter canopy reads. */
export const MODEL_PARAMETER = 'canopy';

/** Parses the `canopy` parameter of Triton model `model`; throws CANOPY_ERR_INVALID_CONFIG naming both. */
export function parseModelParameter(model: string, raw: string): ModelSettings {
  const source = `Triton model '${model}' config parameter '${MODEL_PARAMETER}'`;
  const text = raw.trim();
  if (text === '' || text === 'true') return Object.freeze({});
  if (text === 'false') return Object.freeze({ enabled: false });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CanopyError(
      'CANOPY_ERR_INVALID_CONFIG',
      `${source} is not JSON (${(error as Error).message}); write e.g. {"drafters":["ngram"],"maxBudget":32}`,
      { details: { source, model } },
    );
  }
  const result = modelSettingsSchema.safeParse(value);
  if (!result.success) {
    const { field, message } = describeIssue(modelSettingsSchema, mainIssue(result.error.issues), value);
    throw new CanopyError('CANOPY_ERR_INVALID_CONFIG', `${source}: ${message}`, {
      details: { source, model, field },
    });
  }
  return Object.freeze(result.data);
}
