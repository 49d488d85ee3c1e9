/**
 * The provider's Prometheus metrics (prom-client, one registry per app). Function metrics carry the
 * gateway's names and labels (`function_name` is `<fn>.<namespace>`), so dashboards and the CE alert rule
 * (`rate(gateway_function_invocation_total{code="200"}[10s])`) work against the provider too.
 *
 * `containerless_function_concurrency_seconds_total` integrates in-flight requests over time: its rate over
 * a window is the window's average concurrency (Little's law), which is what the autoscaler scales on, read
 * from this registry or by PromQL from a Prometheus server that scrapes every provider replica.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const CONCURRENCY_SECONDS = 'containerless_function_concurrency_seconds_total';
export const LAST_INVOCATION = 'containerless_function_last_invocation_timestamp_seconds';
export const INFLIGHT = 'gateway_function_invocation_inflight';

/** One invocation's bookkeeping (ProviderMetrics.begin). */
export interface Invocation {
  /** The request is being sent to a replica: from now on it counts as in flight. */
  forwarding(): void;
  /** It ended with this status (499 when the client went away first); later calls do nothing. */
  end(code: number): void;
}

export class ProviderMetrics {
  readonly invocationTotal: Counter<'function_name' | 'code'>;
  readonly functionSeconds: Histogram<'function_name' | 'code'>;
  readonly invocationStarted: Counter<'function_name'>;
  readonly inflight: Gauge<'function_name'>;
  readonly serviceCount: Gauge<'function_name'>;
  readonly readyCount: Gauge<'function_name'>;
  readonly lastInvocation: Gauge<'function_name'>;
  readonly queued: Gauge<'function_name'>;
  readonly coldStarts: Counter<'function_name'>;
  readonly coldStartSeconds: Histogram<'function_name'>;
  readonly concurrencySeconds: Counter<'function_name'>;
  readonly httpRequests: Counter<'code' | 'method' | 'path'>;
  readonly httpDuration: Histogram<'code' | 'method' | 'path'>;

  /** In-flight count per function_name and the time it last changed, integrated into concurrencySeconds. */
  private readonly busy = new Map<string, { inflight: number; since: number }>();
  /** Invocations per function_name since start (FunctionStatus.invocationCount). */
  private readonly counts = new Map<string, number>();

  constructor(
    readonly registry: Registry,
    private readonly now: () => number = () => performance.now(),
  ) {
    const registers = [registry];
    this.invocationTotal = new Counter({
      name: 'gateway_function_invocation_total',
      help: 'Function invocations by status code',
      labelNames: ['function_name', 'code'],
      registers,
    });
    this.functionSeconds = new Histogram({
      name: 'gateway_functions_seconds',
      help: 'Function invocation time taken',
      labelNames: ['function_name', 'code'],
      registers,
    });
    this.invocationStarted = new Counter({
      name: 'gateway_function_invocation_started',
      help: 'Function invocations started',
      labelNames: ['function_name'],
      registers,
    });
    this.inflight = new Gauge({ name: INFLIGHT, help: 'Function invocations in flight', labelNames: ['function_name'], registers });
    this.serviceCount = new Gauge({ name: 'gateway_service_count', help: 'Desired replicas per function', labelNames: ['function_name'], registers });
    this.readyCount = new Gauge({ name: 'gateway_service_ready_count', help: 'Ready replicas per function', labelNames: ['function_name'], registers });
    this.lastInvocation = new Gauge({
      name: LAST_INVOCATION,
      help: 'Unix time a Node replica last got or finished a request',
      labelNames: ['function_name'],
      registers,
    });
    this.queued = new Gauge({
      name: 'containerless_function_queued_requests',
      help: 'Requests waiting for a replica to start',
      labelNames: ['function_name'],
      registers,
    });
    this.coldStarts = new Counter({
      name: 'containerless_function_cold_starts_total',
      help: 'Scale-ups from zero caused by a request',
      labelNames: ['function_name'],
      registers,
    });
    this.coldStartSeconds = new Histogram({
      name: 'containerless_function_cold_start_seconds',
      help: 'Time a request waited for a replica to start',
      labelNames: ['function_name'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    const self = this;
    this.concurrencySeconds = new Counter({
      name: CONCURRENCY_SECONDS,
      help: 'In-flight requests integrated over time (rate = average concurrency)',
      labelNames: ['function_name'],
      registers,
      collect() {
        self.flushBusy();
      },
    });
    this.httpRequests = new Counter({ name: 'provider_http_requests_total', help: 'Provider API requests', labelNames: ['code', 'method', 'path'], registers });
    this.httpDuration = new Histogram({
      name: 'provider_http_request_duration_seconds',
      help: 'Provider API request duration',
      labelNames: ['code', 'method', 'path'],
      registers,
    });
  }

  /**
   * Call when an invocation arrives. It counts towards the function's concurrency (what the autoscaler
   * scales on) only from `forwarding()` on, once its body is read and a replica is about to get it, so a
   * client that is slow to send its request does not make the function scale. `end` records the outcome.
   */
  begin(functionName: string): Invocation {
    const started = this.now();
    this.invocationStarted.inc({ function_name: functionName });
    let busy = false;
    let ended = false;
    return {
      forwarding: () => {
        if (busy || ended) return;
        busy = true;
        // The replicas' idle clock: a request a promoted function's dispatcher answers never reaches them.
        this.lastInvocation.set({ function_name: functionName }, Date.now() / 1000);
        this.move(functionName, +1);
      },
      end: (code: number) => {
        if (ended) return;
        ended = true;
        if (busy) this.move(functionName, -1);
        const labels = { function_name: functionName, code: String(code) };
        this.invocationTotal.inc(labels);
        this.functionSeconds.observe(labels, (this.now() - started) / 1000);
        if (busy) this.lastInvocation.set({ function_name: functionName }, Date.now() / 1000);
        this.counts.set(functionName, (this.counts.get(functionName) ?? 0) + 1);
      },
    };
  }

  invocations(functionName: string): number {
    return this.counts.get(functionName) ?? 0;
  }

  inflightNow(functionName: string): number {
    return this.busy.get(functionName)?.inflight ?? 0;
  }

  /** Forgets a removed function's series, so a redeploy starts from zero. */
  forget(functionName: string): void {
    this.flushBusy();
    this.busy.delete(functionName);
    this.counts.delete(functionName);
    for (const m of [this.inflight, this.serviceCount, this.readyCount, this.lastInvocation, this.queued, this.concurrencySeconds]) {
      m.remove({ function_name: functionName });
    }
  }

  private move(functionName: string, delta: number): void {
    const t = this.now();
    const b = this.busy.get(functionName) ?? { inflight: 0, since: t };
    if (b.inflight > 0) this.concurrencySeconds.inc({ function_name: functionName }, (b.inflight * (t - b.since)) / 1000);
    else if (!this.busy.has(functionName)) this.concurrencySeconds.inc({ function_name: functionName }, 0);
    b.inflight += delta;
    b.since = t;
    this.busy.set(functionName, b);
    this.inflight.set({ function_name: functionName }, b.inflight);
  }

  /** Adds the in-flight time up to now, so a scrape sees long requests while they run. */
  flushBusy(): void {
    const t = this.now();
    for (const [name, b] of this.busy) {
      if (b.inflight > 0) this.concurrencySeconds.inc({ function_name: name }, (b.inflight * (t - b.since)) / 1000);
      b.since = t;
    }
  }
}
