import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app instance, so several hubs in one test process do not share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'easel_' });
  return {
    registry,
    // Labels must stay bounded whatever clients send (each distinct set is a series kept forever):
    // dispatch.ts maps the method to one of seven or `other` and the path to its route template.
    httpDuration: new Histogram({
      name: 'easel_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
    socketsConnected: new Gauge({
      name: 'easel_sockets_connected',
      help: 'Connected sockets per namespace on this node',
      labelNames: ['namespace'] as const,
      registers: [registry],
    }),
    socketEvents: new Counter({
      name: 'easel_socket_events_total',
      help: 'Socket events handled, by outcome',
      labelNames: ['namespace', 'event', 'outcome'] as const,
      registers: [registry],
    }),
    errors: new Counter({
      name: 'easel_errors_total',
      help: 'Errors by transport and code',
      labelNames: ['transport', 'code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
