/** Configuration at the edge: the config schema and its loader, and sampling parameters. */
export { ENV_VARIABLES } from './env.js';
export { closest, type DescribedIssue, describeIssue, keysAt, mainIssue } from './issues.js';
export {
  CONFIG_FILE_NAMES,
  findConfigFile,
  type LoadConfigOptions,
  loadConfig,
  readConfigFile,
} from './load.js';
export { MODEL_PARAMETER, parseModelParameter } from './model-parameter.js';
export { BUILTIN_SPECULATION, type ResolvedModel, resolveModel } from './resolve.js';
export { parseSampling, type SamplingInput, samplingSchema } from './sampling.js';
export {
  type CanopyConfig,
  type CanopyConfigInput,
  configObjectSchema,
  configSchema,
  type DrafterEntry,
  drafterEntrySchema,
  LOG_LEVELS,
  type ModelSettings,
  modelSettingsSchema,
  type SpeculationSettings,
  speculationSchema,
} from './schema.js';
