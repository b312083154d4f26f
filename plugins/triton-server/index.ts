/**
 * A real Triton Inference Server for canopy's tests, benchmarks and local use:
 * the server carried by the `nvidia-pytriton` wheel, installed into a
 * project-local virtualenv and started on the reference model repository
 * (models/triton). `canopy triton start|stop` is the CLI face of this module.
 */
export { DEFAULT_MODEL_REPOSITORY, DEFAULT_RUN_DIR, venvDir } from './paths.js';
export { type EnsureOptions, ensureTritonEnv, type TritonEnv } from './python-env.js';
export { isReady, type StartOptions, type StartResult, startTritonServer } from './start.js';
export { publicView, readState, type TritonServer } from './state.js';
export { type StopOptions, type StopResult, stopTritonServer } from './stop.js';
