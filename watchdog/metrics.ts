/**
 * The watchdog's Prometheus metrics: of-watchdog's three HTTP metrics under their names and labels
 * (openfaas/of-watchdog metrics/http.go: `code` and `method`, the method in lower case as promhttp writes
 * it), the process metrics a Go client exposes by default under prom-client's names, and the tracing metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface WatchdogMetrics {
  registry: Registry;
  requestsTotal: Counter<'code' | 'method'>;
  requestDuration: Histogram<'code' | 'method'>;
  inFlight: Gauge;
  traced: Counter;
  traceGrew: Counter;
  traceStable: Gauge;
  traceEnabled: Gauge;
  tracePublished: Counter;
  traceDropped: Counter;
  tracePublishErrors: Counter;
  traceBuffered: Gauge;
  natsConnected: Gauge;
  traceRetries: Counter;
}

export function createWatchdogMetrics(opts: { defaultMetrics?: boolean } = {}): WatchdogMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const m: WatchdogMetrics = {
    registry,
    requestsTotal: new Counter({ name: 'http_requests_total', help: 'total HTTP requests processed', labelNames: ['code', 'method'], registers }),
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Seconds spent serving HTTP requests.',
      labelNames: ['code', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    inFlight: new Gauge({ name: 'http_requests_in_flight', help: 'total HTTP requests in-flight', registers }),
    traced: new Counter({ name: 'containerless_traced_requests_total', help: 'requests run through the instrumented handler', registers }),
    traceGrew: new Counter({ name: 'containerless_trace_growth_total', help: 'traced requests that added to the trace tree', registers }),
    traceStable: new Gauge({
      name: 'containerless_trace_stable',
      help: '1 once trace_stable_after traced requests in a row added nothing (sampling), else 0',
      registers,
    }),
    traceEnabled: new Gauge({ name: 'containerless_tracing_enabled', help: '1 when the instrumented handler loaded and tracing is on', registers }),
    tracePublished: new Counter({
      name: 'containerless_trace_published_total',
      help: "trace trees acknowledged by JetStream or accepted by the provider's intake (trace_url)",
      registers,
    }),
    traceDropped: new Counter({
      name: 'containerless_trace_dropped_total',
      help: 'trace trees dropped unpublished: the buffer was full (a newer tree of this replica replaced them), or the intake refused them (4xx)',
      registers,
    }),
    tracePublishErrors: new Counter({
      name: 'containerless_trace_publish_errors_total',
      help: 'publish attempts that failed or timed out (the tree stays buffered and is retried)',
      registers,
    }),
    traceBuffered: new Gauge({ name: 'containerless_trace_buffered', help: 'trace trees waiting to be published', registers }),
    natsConnected: new Gauge({ name: 'containerless_nats_connected', help: '1 while connected to NATS', registers }),
    traceRetries: new Counter({
      name: 'containerless_trace_retries_total',
      help: 'requests the provider re-sent after its dispatcher handed them back (X-Containerless-Retry); traced whatever the sampling',
      registers,
    }),
  };
  m.inFlight.set(0);
  return m;
}
