/** Prometheus metrics for the proxy and the Express middleware. */
export { type CanopyMetrics, createMetrics, type MetricsOptions, type RequestRecord } from './metrics.js';
