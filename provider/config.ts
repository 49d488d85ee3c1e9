/**
 * The provider's configuration, read once from env with faas-netes/faas-provider names where one exists.
 * Every bad variable is reported at once (lib's ConfigError). The README's table lists them all. Durations
 * are faas-provider's: a whole number of seconds or a Go duration.
 */
import { join } from 'node:path';
import { cacheDir, EnvReader, parseSize } from '../lib/index.ts';

export interface ProviderConfig {
  /** `port`: where the provider listens (default 8080). */
  port: number;
  /** `bind_address`: default 127.0.0.1 (the local backend runs code; do not expose it by accident). */
  bindAddress: string;
  /** `basic_auth` (default true): protect /system/* with basic auth. */
  basicAuth: boolean;
  /** `secret_mount_path`: folder with basic-auth-user and basic-auth-password. */
  secretMountPath: string;
  /** True when `secret_mount_path` was set: its files must then exist (no generated password). */
  secretMountPathSet: boolean;
  /** `allowed_hosts`: further names the provider answers to in the `Host` header (DNS rebinding guard). */
  allowedHosts: string[];
  /** `allowed_origins`: browser origins (`scheme://host[:port]`) allowed to call the /system API. */
  allowedOrigins: string[];
  /** `read_timeout`: upstream (function) timeout for an invocation, ms. */
  readTimeoutMs: number;
  /** `write_timeout`: how long a response (and a followed log stream) may take, ms. */
  writeTimeoutMs: number;
  /** `function_namespace`: the default namespace. */
  functionNamespace: string;
  /** `extra_namespaces`: comma-separated further namespaces the local backend accepts. */
  extraNamespaces: string[];
  /** `max_idle_conns_per_host`: idle keep-alive connections kept to each replica. */
  maxIdleConnsPerHost: number;
  /** `max_body_size`: invocation bodies are buffered up to this many bytes; 413 beyond. */
  maxBodyBytes: number;
  /** `max_queued_requests`: per function, requests waiting for a replica to start; 503 beyond. */
  maxQueuedRequests: number;
  /** `cold_start_timeout`: how long a queued request waits for a replica; 504 after. */
  coldStartTimeoutMs: number;
  /** `scale_interval`: how often the autoscaler looks, ms. */
  scaleIntervalMs: number;
  /** `scale_window`: the sliding window over which concurrency is averaged, ms. */
  scaleWindowMs: number;
  /** `scale_target`: concurrent requests one replica should carry (label com.openfaas.scale.target overrides). */
  scaleTarget: number;
  /** `scale_zero_duration`: idle time before a scale.zero function goes to zero, when its label is unset. */
  scaleZeroDurationMs: number;
  /** `max_replicas`: a cap for any function (label com.openfaas.scale.max lowers it). */
  maxReplicas: number;
  /** `prometheus_url`: when set, the autoscaler reads load by PromQL from this server. */
  prometheusUrl?: string;
  /** `state_dir`: where the local backend keeps deployments, secrets and replica temp folders. */
  stateDir: string;
  /** `backend`: `local` (default) or `kubernetes` (kubeconfig from KUBECONFIG, ~/.kube/config or in-cluster). */
  backend: 'local' | 'kubernetes';
  /** `image_pull_policy` for function containers on Kubernetes (default Always, as faas-netes). */
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** `http_probe`: HTTP probes on the watchdog's health routes (default true); false gives exec `cat /tmp/.lock`. */
  httpProbe: boolean;
  /** `set_nonroot_user`: run function containers as UID 12000 (faas-netes's name). */
  setNonRootUser: boolean;
  /** `local_replica`: what a local replica runs (`auto`: the watchdog when this checkout has its launcher). */
  localReplica: 'auto' | 'watchdog' | 'runner';
  /** `promotion`: `on` (default) traces, compiles and promotes functions to Rust; `off` keeps every function in Node. */
  promotion: boolean;
  /** `promote_stable_requests`: traced requests in a row that add nothing to a function's tree before it compiles (100). */
  promoteStableRequests: number;
  /** `promote_compare_cost` (default true): promote only when Rust is cheaper per request than Node on live traffic. */
  promoteCompareCost: boolean;
  /** `promote_canary_requests`: requests each engine answers in the cost comparison before the switch (50). */
  promoteCanaryRequests: number;
  /** `promote_fallback_window`: the dispatcher's last N requests watched for fallbacks (100). */
  promoteFallbackWindow: number;
  /** `promote_fallback_share`: a dispatcher falling back on more than this share of its window is demoted (0.5). */
  promoteFallbackShare: number;
  /** `nats_url`: when set, trees come from JetStream (`containerless.traces.<ns>.<fn>`) and replicas publish there. */
  natsUrl?: string;
  /** `trace_stream`: the JetStream stream of trees (CONTAINERLESS_TRACES). */
  traceStream: string;
}

/** The provider's booleans: true or 1, false or 0, in any case. */
function providerBool(text: string): boolean | undefined {
  if (/^(true|1)$/i.test(text)) return true;
  if (/^(false|0)$/i.test(text)) return false;
  return undefined;
}

export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  return join(cacheDir(env), 'local-provider');
}

export function readConfig(env: NodeJS.ProcessEnv): ProviderConfig {
  const r = new EnvReader(env);
  const port = r.port('port', 8080);
  const sizeRaw = r.string('max_body_size', '20mb');
  const maxBodyBytes = parseSize(sizeRaw);
  if (maxBodyBytes === undefined) r.problem(`max_body_size=${JSON.stringify(sizeRaw)} is not a size (e.g. 20mb, 512kb, 1048576)`);
  let prometheusUrl: string | undefined;
  if (r.has('prometheus_url')) {
    try {
      prometheusUrl = new URL(env.prometheus_url!).toString().replace(/\/$/, '');
    } catch {
      r.problem(`prometheus_url=${JSON.stringify(env.prometheus_url)} is not a URL`);
    }
  }
  const namespace = r.string('function_namespace', 'openfaas-fn');
  const extra = r.list('extra_namespaces');
  const allowedHosts = r.list('allowed_hosts').map((h) => h.toLowerCase());
  for (const h of allowedHosts) {
    if (!/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(h))
      r.problem(`allowed_hosts: ${JSON.stringify(h)} is not a host name (e.g. provider.example.com or *.example.com, without a port)`);
  }
  const allowedOrigins: string[] = [];
  for (const o of r.list('allowed_origins')) {
    let origin: string | undefined;
    try {
      const u = new URL(o);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username)
        origin = u.origin;
    } catch {
      // reported below
    }
    if (origin === undefined) r.problem(`allowed_origins: ${JSON.stringify(o)} is not an origin (e.g. https://dashboard.example.com)`);
    else allowedOrigins.push(origin);
  }
  const cfg: ProviderConfig = {
    port,
    bindAddress: r.string('bind_address', '127.0.0.1'),
    basicAuth: r.bool('basic_auth', true, providerBool),
    secretMountPath: r.string('secret_mount_path', '/run/secrets/'),
    secretMountPathSet: r.has('secret_mount_path'),
    allowedHosts,
    allowedOrigins,
    readTimeoutMs: r.duration('read_timeout', 10_000),
    writeTimeoutMs: r.duration('write_timeout', 10_000),
    functionNamespace: namespace,
    extraNamespaces: extra.filter((n) => n !== namespace),
    maxIdleConnsPerHost: r.int('max_idle_conns_per_host', 1024, 1),
    maxBodyBytes: maxBodyBytes ?? 0,
    maxQueuedRequests: r.int('max_queued_requests', 1000, 0),
    coldStartTimeoutMs: r.duration('cold_start_timeout', 30_000),
    scaleIntervalMs: r.duration('scale_interval', 1_000),
    scaleWindowMs: r.duration('scale_window', 30_000),
    scaleTarget: r.int('scale_target', 50, 1),
    scaleZeroDurationMs: r.duration('scale_zero_duration', 15 * 60_000),
    maxReplicas: r.int('max_replicas', 20, 1),
    prometheusUrl,
    stateDir: r.string('state_dir', defaultStateDir(env)),
    backend: r.oneOf('backend', 'local', ['local', 'kubernetes']),
    imagePullPolicy: r.oneOf('image_pull_policy', 'Always', ['Always', 'IfNotPresent', 'Never']),
    httpProbe: r.bool('http_probe', true, providerBool),
    setNonRootUser: r.bool('set_nonroot_user', false, providerBool),
    localReplica: r.oneOf('local_replica', 'auto', ['auto', 'watchdog', 'runner']),
    promotion: r.oneOf('promotion', 'on', ['on', 'off']) === 'on',
    promoteStableRequests: r.int('promote_stable_requests', 100, 1),
    promoteCompareCost: r.bool('promote_compare_cost', true, providerBool),
    promoteCanaryRequests: r.int('promote_canary_requests', 50, 1),
    promoteFallbackWindow: r.int('promote_fallback_window', 100, 1),
    promoteFallbackShare: 0.5,
    natsUrl: r.has('nats_url') ? r.string('nats_url', '') : undefined,
    traceStream: r.string('trace_stream', 'CONTAINERLESS_TRACES'),
  };
  if (r.has('promote_fallback_share')) {
    const share = Number(env.promote_fallback_share);
    if (!Number.isFinite(share) || share <= 0 || share > 1)
      r.problem(`promote_fallback_share=${JSON.stringify(env.promote_fallback_share)} is not a share above 0 and at most 1`);
    else cfg.promoteFallbackShare = share;
  }
  if (cfg.scaleIntervalMs <= 0) r.problem('scale_interval must be above 0');
  if (cfg.readTimeoutMs <= 0) r.problem('read_timeout must be above 0');
  r.check('provider');
  return cfg;
}
