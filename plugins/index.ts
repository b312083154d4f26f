/** Public API of canopy. */

export type * from '../adapters/drafter.js';
export type * from '../adapters/target.js';
export { CanopyError, type ErrorCode, isCanopyError } from '../kernels/errors.js';
export type { SamplingParams } from '../kernels/sampling-params.js';
export type { TokenTree } from '../kernels/tree.js';
