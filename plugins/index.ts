/** Public API of canopy. */

export type * from '../adapters/drafter.js';
export type * from '../adapters/target.js';
export { CanopyError, type ErrorCode, isCanopyError } from '../kernels/errors.js';
export type { SamplingParams } from '../kernels/sampling-params.js';
export type { TokenTree } from '../kernels/tree.js';
export {
  type CanopyConfig,
  type CanopyConfigInput,
  configSchema,
  type LoadConfigOptions,
  loadConfig,
  type ModelSettings,
  parseModelParameter,
} from './config/index.js';
export { type CanopyMiddleware, type CanopyMiddlewareOptions, canopy } from './express/index.js';
export { type CanopyMetrics, createMetrics } from './metrics/index.js';
export { type CanopyServer, type ServerOptions, startCanopyServer } from './proxy/index.js';
