/**
 * The provider's configuration, read once from env with faas-netes/faas-provider names where one exists.
 * Every bad variable is reported at once (ConfigError). The README's table lists them all.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

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
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'BAD_CONFIG';
  constructor(readonly problems: string[]) {
    super(`bad provider configuration: ${problems.join('; ')}`);
  }
}

const UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration in ms (`10s`, `1m30s`, `250ms`); undefined when Go would reject it. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  if (!/^(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d*)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * UNITS_MS[m[2]];
  return total;
}

/** faas-provider's parseIntOrDurationValue: a whole number is seconds, otherwise a Go duration. */
export function parseIntOrDuration(text: string): number | undefined {
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  return parseDuration(text);
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()];
}

export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const cache = env.CONTAINERLESS_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'containerless');
  return join(cache, 'local-provider');
}

export function readConfig(env: NodeJS.ProcessEnv): ProviderConfig {
  const problems: string[] = [];
  const str = (name: string, dflt: string): string => {
    const v = env[name];
    return v === undefined || v === '' ? dflt : v;
  };
  const num = (name: string, dflt: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a whole number >= ${min}`);
      return dflt;
    }
    return Number(raw);
  };
  const dur = (name: string, dflt: string, intIsSeconds = true): number => {
    const raw = str(name, dflt);
    const ms = intIsSeconds ? parseIntOrDuration(raw) : parseDuration(raw);
    if (ms === undefined) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a duration (e.g. 10s, 1m30s${intIsSeconds ? ', or seconds as an integer' : ''})`);
      return parseIntOrDuration(dflt) ?? 0;
    }
    return ms;
  };
  const bool = (name: string, dflt: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    if (/^(true|1)$/i.test(raw)) return true;
    if (/^(false|0)$/i.test(raw)) return false;
    problems.push(`${name}=${JSON.stringify(raw)} is not true or false`);
    return dflt;
  };

  const port = num('port', 8080, 0);
  if (port > 65535) problems.push(`port=${port} is above 65535`);
  const sizeRaw = str('max_body_size', '20mb');
  const maxBodyBytes = parseSize(sizeRaw);
  if (maxBodyBytes === undefined) problems.push(`max_body_size=${JSON.stringify(sizeRaw)} is not a size (e.g. 20mb, 512kb, 1048576)`);
  const promRaw = env.prometheus_url;
  let prometheusUrl: string | undefined;
  if (promRaw) {
    try {
      prometheusUrl = new URL(promRaw).toString().replace(/\/$/, '');
    } catch {
      problems.push(`prometheus_url=${JSON.stringify(promRaw)} is not a URL`);
    }
  }
  const namespace = str('function_namespace', 'openfaas-fn');
  const list = (name: string): string[] =>
    str(name, '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const extra = list('extra_namespaces');
  const allowedHosts = list('allowed_hosts').map((h) => h.toLowerCase());
  for (const h of allowedHosts) {
    if (!/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(h)) problems.push(`allowed_hosts: ${JSON.stringify(h)} is not a host name (e.g. provider.example.com or *.example.com, without a port)`);
  }
  const allowedOrigins: string[] = [];
  for (const o of list('allowed_origins')) {
    let origin: string | undefined;
    try {
      const u = new URL(o);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username) origin = u.origin;
    } catch {
      // reported below
    }
    if (origin === undefined) problems.push(`allowed_origins: ${JSON.stringify(o)} is not an origin (e.g. https://dashboard.example.com)`);
    else allowedOrigins.push(origin);
  }
  const cfg: ProviderConfig = {
    port,
    bindAddress: str('bind_address', '127.0.0.1'),
    basicAuth: bool('basic_auth', true),
    secretMountPath: str('secret_mount_path', '/run/secrets/'),
    secretMountPathSet: (env.secret_mount_path ?? '') !== '',
    allowedHosts,
    allowedOrigins,
    readTimeoutMs: dur('read_timeout', '10s'),
    writeTimeoutMs: dur('write_timeout', '10s'),
    functionNamespace: namespace,
    extraNamespaces: extra.filter((n) => n !== namespace),
    maxIdleConnsPerHost: num('max_idle_conns_per_host', 1024, 1),
    maxBodyBytes: maxBodyBytes ?? 0,
    maxQueuedRequests: num('max_queued_requests', 1000, 0),
    coldStartTimeoutMs: dur('cold_start_timeout', '30s'),
    scaleIntervalMs: dur('scale_interval', '1s'),
    scaleWindowMs: dur('scale_window', '30s'),
    scaleTarget: num('scale_target', 50, 1),
    scaleZeroDurationMs: dur('scale_zero_duration', '15m'),
    maxReplicas: num('max_replicas', 20, 1),
    prometheusUrl,
    stateDir: str('state_dir', defaultStateDir(env)),
    backend: 'local',
    imagePullPolicy: 'Always',
    httpProbe: bool('http_probe', true),
    setNonRootUser: bool('set_nonroot_user', false),
  };
  const backend = str('backend', 'local');
  if (backend === 'local' || backend === 'kubernetes') cfg.backend = backend;
  else problems.push(`backend=${JSON.stringify(backend)} is not local or kubernetes`);
  const pull = str('image_pull_policy', 'Always');
  if (pull === 'Always' || pull === 'IfNotPresent' || pull === 'Never') cfg.imagePullPolicy = pull;
  else problems.push(`image_pull_policy=${JSON.stringify(pull)} is not Always, IfNotPresent or Never`);
  if (cfg.scaleIntervalMs <= 0) problems.push('scale_interval must be above 0');
  if (cfg.readTimeoutMs <= 0) problems.push('read_timeout must be above 0');
  if (problems.length > 0) throw new ConfigError(problems);
  return cfg;
}
