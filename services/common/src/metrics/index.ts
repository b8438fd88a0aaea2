/** `@mercado/common/metrics`: a process's Prometheus registry and the metrics the kit records. */
export { createMetrics, type Metrics } from './metrics.js';
