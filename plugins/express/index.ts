/** canopy as Express middleware: `app.use('/llm', canopy(config))`. */
export { type CanopyMiddleware, type CanopyMiddlewareOptions, canopy } from './canopy.js';
