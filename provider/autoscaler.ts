/**
 * The autoscaler: every `scale_interval` it reads each function's average concurrency over the sliding
 * window `scale_window` and sets replicas to ceil(concurrency / target), between `com.openfaas.scale.min`
 * (default 1) and `com.openfaas.scale.max` (capped by `max_replicas`). A function labelled
 * `com.openfaas.scale.zero=true` with nothing in flight and no invocation for
 * `com.openfaas.scale.zero-duration` goes to zero replicas.
 *
 * It never raises a function from zero: the invoke proxy does that when a request arrives (a function
 * scaled to zero through the API stays there until it is invoked, as OpenFaaS's scale-from-zero expects).
 *
 * Load comes from a LoadSource: this provider's own registry (RegistryLoadSource), or a Prometheus server
 * by PromQL (PrometheusLoadSource), so several provider replicas agree on one figure.
 */
import type { Registry } from 'prom-client';
import { LABEL_SCALE_MAX, LABEL_SCALE_ZERO, LABEL_SCALE_ZERO_DURATION, minReplicas, type Backend } from './backend.ts';
import { parseGoDuration } from '../lib/index.ts';
import { CONCURRENCY_SECONDS, LAST_INVOCATION, type ProviderMetrics } from './metrics.ts';
import type { FunctionStatus } from './types.ts';

export const LABEL_SCALE_TARGET = 'com.openfaas.scale.target';
/** How long a function that is starting counts as active for scale to zero. */
export const STARTING_GRACE_MS = 5 * 60_000;

export interface LoadSample {
  /** Average concurrent requests over the window. */
  concurrency: number;
  /** Unix ms of the last invocation start or end, if any is known. */
  lastInvocationMs?: number;
}

export interface LoadSource {
  /** Where the figures come from, for logs: `registry` or `prometheus`. */
  readonly name: string;
  /** Load per function_name (`<fn>.<ns>`); functions without data may be missing. */
  read(windowMs: number): Promise<Map<string, LoadSample>>;
}

/** Reads the provider's own registry: the concurrency counter's increase over the window. */
export class RegistryLoadSource implements LoadSource {
  readonly name = 'registry';
  private readonly history: { t: number; values: Map<string, number> }[] = [];

  constructor(
    private readonly registry: Registry,
    private readonly metrics: ProviderMetrics,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async read(windowMs: number): Promise<Map<string, LoadSample>> {
    this.metrics.flushBusy();
    const t = this.now();
    const values = new Map<string, number>();
    const counter = this.registry.getSingleMetric(CONCURRENCY_SECONDS);
    if (counter) for (const v of (await counter.get()).values) values.set(String(v.labels.function_name), v.value);
    const last = new Map<string, number>();
    const gauge = this.registry.getSingleMetric(LAST_INVOCATION);
    if (gauge) for (const v of (await gauge.get()).values) last.set(String(v.labels.function_name), v.value * 1000);
    this.history.push({ t, values });
    while (this.history.length > 1 && this.history[1].t <= t - windowMs) this.history.shift();
    const oldest = this.history[0];
    const span = Math.max(t - oldest.t, 1);
    const out = new Map<string, LoadSample>();
    for (const [name, v] of values) {
      const before = oldest.values.get(name) ?? 0;
      // With one sample so far, the counter's whole value since the provider started is the best estimate.
      const concurrency = this.history.length > 1 ? ((v - before) * 1000) / span : 0;
      out.set(name, { concurrency: Math.max(0, concurrency), lastInvocationMs: last.get(name) });
    }
    return out;
  }
}

/** Reads load from Prometheus (which scrapes every provider replica's /metrics) by PromQL. */
export class PrometheusLoadSource implements LoadSource {
  readonly name = 'prometheus';
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 2000,
  ) {}

  private async query(promql: string): Promise<Map<string, number>> {
    const url = `${this.baseUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(promql)}`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (res.status !== 200 || body.status !== 'success') throw new Error(`prometheus query failed (${res.status}): ${body.error ?? 'no error text'}`);
    const out = new Map<string, number>();
    for (const r of body.data?.result ?? []) {
      const v = Number(r.value[1]);
      if (Number.isFinite(v)) out.set(r.metric.function_name, v);
    }
    return out;
  }

  async read(windowMs: number): Promise<Map<string, LoadSample>> {
    const w = `${Math.max(1, Math.round(windowMs / 1000))}s`;
    const [conc, last] = await Promise.all([
      this.query(`sum by (function_name) (rate(${CONCURRENCY_SECONDS}[${w}]))`),
      this.query(`max by (function_name) (${LAST_INVOCATION})`),
    ]);
    const out = new Map<string, LoadSample>();
    for (const name of new Set([...conc.keys(), ...last.keys()])) {
      const l = last.get(name);
      out.set(name, { concurrency: conc.get(name) ?? 0, lastInvocationMs: l === undefined ? undefined : l * 1000 });
    }
    return out;
  }
}

export interface ScalePolicy {
  min: number;
  max: number;
  target: number;
  zero: boolean;
  zeroDurationMs: number;
}

export interface AutoscalerDefaults {
  target: number;
  maxReplicas: number;
  zeroDurationMs: number;
}

/** The `com.openfaas.scale.zero-duration` label: a Go duration (spaces around it ignored, as for the other
 *  scaling labels), not negative; undefined otherwise. */
export function parseZeroDuration(text: string): number | undefined {
  const ms = parseGoDuration(text.trim());
  return ms !== undefined && ms >= 0 ? ms : undefined;
}

/** The scaling labels of a function, with defaults; bad values were refused at deploy time. */
export function scalePolicy(labels: Record<string, string> | undefined, d: AutoscalerDefaults): ScalePolicy {
  const int = (k: string): number | undefined => {
    const v = labels?.[k];
    return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) : undefined;
  };
  const max = Math.min(int(LABEL_SCALE_MAX) ?? d.maxReplicas, d.maxReplicas);
  const min = Math.min(minReplicas(labels), Math.max(max, 1));
  const zd = labels?.[LABEL_SCALE_ZERO_DURATION];
  return {
    min,
    max: Math.max(max, min),
    target: Math.max(1, int(LABEL_SCALE_TARGET) ?? d.target),
    zero: labels?.[LABEL_SCALE_ZERO]?.trim().toLowerCase() === 'true',
    zeroDurationMs: (zd !== undefined ? parseZeroDuration(zd) : undefined) ?? d.zeroDurationMs,
  };
}

/** What a function's replica count should become, given its load; `current` when nothing should change. */
export function decideReplicas(current: number, policy: ScalePolicy, load: LoadSample | undefined, busyNow: number, idleMs: number): number {
  if (current === 0) return 0;
  if (policy.zero && busyNow === 0 && idleMs >= policy.zeroDurationMs) return 0;
  const demand = Math.ceil((load?.concurrency ?? 0) / policy.target - 1e-9);
  const want = Math.min(policy.max, Math.max(policy.min, demand, 1));
  return want;
}

export interface AutoscalerDeps {
  backend: Backend;
  source: LoadSource;
  metrics: ProviderMetrics;
  defaults: AutoscalerDefaults;
  intervalMs: number;
  windowMs: number;
  /** Requests queued per function_name (they keep a function from going to zero). */
  queued: (functionName: string) => number;
  /** Adjusts a function's policy (a promoted function's Node replicas scale on its fallbacks, down to zero). */
  policyFor?: (functionName: string, policy: ScalePolicy) => ScalePolicy;
  log?: (line: string) => void;
  now?: () => number;
}

export class Autoscaler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly started: number;
  private readonly now: () => number;
  /** When each function was last seen scaled above zero by someone else (so idle time starts there). */
  private readonly wokenAt = new Map<string, number>();
  /** Replicas last set through the API, per function, until the autoscaler changes them. */
  private readonly manual = new Map<string, number>();
  /** When each function was first seen starting (replicas wanted, none ready). */
  private readonly startingSince = new Map<string, number>();
  /** The last error listing each namespace, so a lasting one is logged once. */
  private readonly listErrors = new Map<string, string>();

  constructor(private readonly deps: AutoscalerDeps) {
    this.now = deps.now ?? (() => Date.now());
    this.started = this.now();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = undefined));
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Tells the autoscaler the API scaled a function by hand, so that overriding it is logged once. */
  scaledByHand(functionName: string, replicas: number): void {
    this.manual.set(functionName, replicas);
  }

  /** Tells the autoscaler a function was just scaled up from zero, so its idle clock restarts. */
  woke(functionName: string): void {
    this.wokenAt.set(functionName, this.now());
  }

  /** One pass over every function; exported for tests. */
  async tick(): Promise<void> {
    const { backend, metrics } = this.deps;
    let load: Map<string, LoadSample>;
    try {
      load = await this.deps.source.read(this.deps.windowMs);
    } catch (err) {
      this.deps.log?.(`autoscaler: cannot read load: ${(err as Error).message}`);
      return;
    }
    for (const ns of await backend.namespaces()) {
      let fns: FunctionStatus[];
      try {
        fns = await backend.list(ns);
        if (this.listErrors.delete(ns)) this.deps.log?.(`autoscaler: ${ns} can be listed again`);
      } catch (err) {
        // Once per namespace and message, not on every pass (a namespace without RBAC stays so).
        const msg = (err as Error).message;
        if (this.listErrors.get(ns) !== msg) this.deps.log?.(`autoscaler: cannot list ${ns}: ${msg}`);
        this.listErrors.set(ns, msg);
        continue;
      }
      for (const fn of fns) {
        const fname = `${fn.name}.${ns}`;
        const current = fn.replicas ?? 0;
        metrics.serviceCount.set({ function_name: fname }, current);
        metrics.readyCount.set({ function_name: fname }, fn.availableReplicas ?? 0);
        const labelled = scalePolicy(fn.labels, this.deps.defaults);
        const policy = this.deps.policyFor?.(fname, labelled) ?? labelled;
        const sample = load.get(fname);
        // A function still starting (replicas wanted, none ready) is not idle: its idle clock starts once a
        // replica is ready, so a start slower than zero-duration does not end in zero before it served. One
        // that has not started in STARTING_GRACE_MS (a broken image) is left to the idle rule again.
        if (current > 0 && (fn.availableReplicas ?? 0) === 0) {
          const since = this.startingSince.get(fname) ?? this.now();
          this.startingSince.set(fname, since);
          if (this.now() - since < STARTING_GRACE_MS) this.wokenAt.set(fname, this.now());
        } else {
          this.startingSince.delete(fname);
        }
        const lastActive = Math.max(
          sample?.lastInvocationMs ?? 0,
          this.wokenAt.get(fname) ?? 0,
          this.started,
          fn.createdAt ? Date.parse(fn.createdAt) || 0 : 0,
        );
        const busy = metrics.inflightNow(fname) + this.deps.queued(fname);
        const want = decideReplicas(current, policy, sample, busy, this.now() - lastActive);
        if (want === current) continue;
        try {
          await backend.scale(fn.name, ns, want);
          metrics.serviceCount.set({ function_name: fname }, want);
          this.deps.log?.(
            `autoscaler: ${fname} ${current} -> ${want} replicas (concurrency ${(sample?.concurrency ?? 0).toFixed(2)} from ${this.deps.source.name}, target ${policy.target})`,
          );
          const byHand = this.manual.get(fname);
          this.manual.delete(fname);
          if (byHand !== undefined && byHand === current && want > 0) {
            this.deps.log?.(
              `autoscaler: ${fname}: this overrides the manual scale to ${byHand}; replicas follow load between com.openfaas.scale.min and .max (set those labels to hold a count)`,
            );
          }
        } catch (err) {
          this.deps.log?.(`autoscaler: cannot scale ${fname}: ${(err as Error).message}`);
        }
      }
    }
  }
}
