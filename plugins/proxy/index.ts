/**
 * The drop-in proxy before Triton (or before the embedded model): the HTTP
 * and gRPC fronts, the routes, and the core they share with the Express
 * middleware. docs/serving.md describes what it answers.
 */
export { type CanopyCore, type CoreOptions, createCore, type RequestScope } from './core.js';
export { grpcStatusOf } from './grpc-text.js';
export { type ErrorShape, errorBody } from './http-errors.js';
export { canopyVersion } from './kserve-local.js';
export { createRouter } from './router.js';
export type { ServedModel } from './served-models.js';
export {
  type CanopyServer,
  createProxyApp,
  DEFAULT_GRPC_PORT,
  type ServerOptions,
  startCanopyServer,
} from './server.js';
export { streamable } from './text-generation.js';
