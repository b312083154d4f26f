/** Public API of canopy. */
export { CanopyError, isCanopyError, type ErrorCode } from '../kernels/errors.js';
export type { SamplingParams } from '../kernels/sampling-params.js';
export type { TokenTree } from '../kernels/tree.js';
export type * from '../adapters/target.js';
export type * from '../adapters/drafter.js';
