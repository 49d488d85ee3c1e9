/**
 * The watchdog's configuration: of-watchdog's environment variables (openfaas/of-watchdog config/config.go,
 * read for their names and defaults), the template's body variables (read by the runner, runner.ts), and the
 * tracing variables, which are ours. One `readWatchdogConfig(env)` reads them all and reports every bad one
 * at once; of-watchdog silently falls back to the default for most bad values, which hides typos.
 *
 * Defaults: this process replaces the pair "of-watchdog + the node template" as the stock node22 image runs
 * it, so where that image's Dockerfile sets a variable its value is the default here (exec_timeout 10s,
 * read_timeout and write_timeout 15s, prefix_logs false; the bare of-watchdog binary would use 30s, 30s,
 * 30s and true). Everything else is of-watchdog's default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { parseGoDuration, readRunnerConfig, RunnerConfigError } from './runner.ts';

export type TraceMode = 'sample' | 'always' | 'off';

export interface TracingConfig {
  /** `trace_mode`: sample (default) traces every request until the tree stops growing, then a sample. */
  mode: TraceMode;
  /** `trace_sample`: the share of requests traced once the tree is stable (default 0.01). */
  sample: number;
  /** `trace_stable_after`: traced requests in a row that add nothing before the tree counts as stable (100). */
  stableAfter: number;
  /** `nats_url`: where trees go; unset means they are kept and counted but not published. */
  natsUrl?: string;
  /** `trace_stream`: the JetStream stream, created if missing, holding `containerless.traces.>` (CONTAINERLESS_TRACES). */
  stream: string;
  /** `trace_publish_interval`: the current tree is published again this often even if unchanged (60s; 0 off). */
  publishIntervalMs: number;
  /** `trace_buffer`: trees waiting for NATS at most; beyond it the oldest is dropped and counted (16). */
  bufferSize: number;
  /** `trace_publish_timeout`: how long one publish waits for JetStream's ack before it is retried (5s). */
  publishTimeoutMs: number;
}

export interface WatchdogConfig {
  /** `port` (8080) */
  port: number;
  /** `bind_address` (ours): default every interface, as of-watchdog's `:8080`. */
  bindAddress?: string;
  /** `metrics_port` (ours; of-watchdog hard-codes 8081, which is the default) */
  metricsPort: number;
  /** `read_timeout` (15s): Node's requestTimeout and keep-alive idle timeout. */
  readTimeoutMs: number;
  /** `write_timeout` (15s, must be > 0): a response not finished by then has its connection closed. */
  writeTimeoutMs: number;
  /** `exec_timeout` (10s, 0 disables): 504 when the handler has not answered (the runner applies it). */
  execTimeoutMs: number;
  /** `healthcheck_interval` (= write_timeout): how long SIGTERM keeps serving with health failing. */
  healthcheckIntervalMs: number;
  /** `max_inflight` (0: unlimited): beyond it, 429. */
  maxInflight: number;
  /** `prefix_logs` (false): the handler's output lines get a timestamp and `stdout: ` / `stderr: `. */
  prefixLogs: boolean;
  /** `log_buffer_size` (65536; -1 unbuffered): longest handler output line before it is split. */
  logBufferSize: number;
  /** `content_type`: read for compatibility; like of-watchdog's http mode, it does not change responses. */
  contentType: string;
  /** `suppress_lock` (false): no `$TMPDIR/.lock`. */
  suppressLock: boolean;
  /** `ready_path` (''): when set, `/_/ready` answers with the handler's answer for GET <ready_path>. */
  readyPath: string;
  /** `$TMPDIR` (os.tmpdir()): where `.lock` goes. */
  tmpdir: string;
  /** `OPENFAAS_NAME`, else the function folder's name (its parent's for a `function/` folder). */
  functionName: string;
  /** `OPENFAAS_NAMESPACE`, else the pod's service-account namespace file, else `openfaas-fn`. */
  namespace: string;
  tracing: TracingConfig;
  /** The env the runner reads (exec_timeout defaulted to 10s, RAW_BODY, MAX_*_SIZE, NODE_ENV). */
  runnerEnv: NodeJS.ProcessEnv;
}

export class WatchdogConfigError extends Error {
  override readonly name = 'WatchdogConfigError';
  readonly code = 'BAD_CONFIG';
  constructor(readonly problems: string[]) {
    super(`bad watchdog configuration: ${problems.join('; ')}`);
  }
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** A NATS subject token: no dots, wildcards or white space. */
export function subjectToken(s: string): string {
  return s.replace(/[.*>\s]/g, '_') || '_';
}

export function traceSubject(namespace: string, fn: string): string {
  return `containerless.traces.${subjectToken(namespace)}.${subjectToken(fn)}`;
}

export function readWatchdogConfig(env: NodeJS.ProcessEnv, functionDir: string, opts: { saNamespaceFile?: string } = {}): WatchdogConfig {
  const problems: string[] = [];
  const has = (k: string): boolean => env[k] !== undefined && env[k] !== '';

  const int = (k: string, def: number, min: number): number => {
    if (!has(k)) return def;
    const text = env[k]!;
    if (!/^[+-]?\d+$/.test(text) || Number(text) < min) {
      problems.push(`${k}=${JSON.stringify(text)} is not a whole number${min > -Infinity ? ` >= ${min}` : ''}`);
      return def;
    }
    return Number(text);
  };
  const port = (k: string, def: number): number => {
    const n = int(k, def, 0);
    if (n > 65535) problems.push(`${k}=${n} is not a TCP port`);
    return n;
  };
  /** of-watchdog's parseIntOrDurationValue: an integer is seconds, else a Go duration. */
  const duration = (k: string, defMs: number): number => {
    if (!has(k)) return defMs;
    const text = env[k]!;
    const ms = /^\+?\d+$/.test(text) ? Number(text) * 1000 : parseGoDuration(text);
    if (ms === undefined || ms < 0) {
      problems.push(`${k}=${JSON.stringify(text)} is not a duration (e.g. 10s, 1m30s, or seconds as an integer)`);
      return defMs;
    }
    return ms;
  };
  /** Go's strconv.ParseBool for prefix_logs; of-watchdog's getBool ("true" or "1") for the others. */
  const bool = (k: string, def: boolean, parse: 'strconv' | 'getBool'): boolean => {
    if (!has(k)) return def;
    const text = env[k]!;
    if (parse === 'getBool') return text === 'true' || text === '1';
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
    problems.push(`${k}=${JSON.stringify(text)} is not a boolean (true or false)`);
    return def;
  };

  const writeTimeoutMs = duration('write_timeout', 15_000);
  if (writeTimeoutMs === 0) problems.push('write_timeout must be over 0s');
  const healthcheckIntervalMs = duration('healthcheck_interval', writeTimeoutMs);
  const execTimeoutMs = duration('exec_timeout', 10_000);

  const runnerEnv: NodeJS.ProcessEnv = { ...env, exec_timeout: has('exec_timeout') ? env.exec_timeout : '10s' };
  try {
    readRunnerConfig(runnerEnv);
  } catch (err) {
    if (!(err instanceof RunnerConfigError)) throw err;
    problems.push(...err.problems.filter((p) => !p.startsWith('exec_timeout=')));
  }

  const modeText = env.trace_mode || 'sample';
  let mode: TraceMode = 'sample';
  if (modeText === 'sample' || modeText === 'always' || modeText === 'off') mode = modeText;
  else problems.push(`trace_mode=${JSON.stringify(modeText)} is not sample, always or off`);
  let sample = 0.01;
  if (has('trace_sample')) {
    const n = Number(env.trace_sample);
    if (!Number.isFinite(n) || n < 0 || n > 1) problems.push(`trace_sample=${JSON.stringify(env.trace_sample)} is not a share between 0 and 1`);
    else sample = n;
  }
  let natsUrl: string | undefined;
  if (has('nats_url')) {
    natsUrl = env.nats_url!;
    for (const server of natsUrl.split(',')) {
      if (!/^(nats|tls|ws|wss):\/\/[^\s/]+\/?$|^[^\s:/]+(:\d+)?$/.test(server.trim())) problems.push(`nats_url: ${JSON.stringify(server)} is not a NATS server address (nats://host:4222)`);
    }
  }
  const stream = env.trace_stream || 'CONTAINERLESS_TRACES';
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) problems.push(`trace_stream=${JSON.stringify(stream)} is not a stream name (letters, digits, _ and -)`);

  const dir = resolve(functionDir);
  const folderName = basename(dir) === 'function' ? basename(dirname(dir)) : basename(dir);
  let namespace = env.OPENFAAS_NAMESPACE || '';
  const saFile = opts.saNamespaceFile ?? SA_NAMESPACE;
  if (!namespace && existsSync(saFile)) {
    try {
      namespace = readFileSync(saFile, 'utf8').trim();
    } catch {
      namespace = '';
    }
  }

  const config: WatchdogConfig = {
    port: port('port', 8080),
    ...(has('bind_address') ? { bindAddress: env.bind_address } : {}),
    metricsPort: port('metrics_port', 8081),
    readTimeoutMs: duration('read_timeout', 15_000),
    writeTimeoutMs,
    execTimeoutMs,
    healthcheckIntervalMs,
    maxInflight: int('max_inflight', 0, 0),
    prefixLogs: bool('prefix_logs', false, 'strconv'),
    logBufferSize: int('log_buffer_size', 65536, -1),
    contentType: env.content_type ?? 'application/octet-stream',
    suppressLock: bool('suppress_lock', false, 'getBool'),
    readyPath: env.ready_path ?? '',
    tmpdir: env.TMPDIR ? resolve(env.TMPDIR) : tmpdir(),
    functionName: env.OPENFAAS_NAME || folderName,
    namespace: namespace || 'openfaas-fn',
    tracing: {
      mode,
      sample,
      stableAfter: int('trace_stable_after', 100, 1),
      ...(natsUrl ? { natsUrl } : {}),
      stream,
      publishIntervalMs: duration('trace_publish_interval', 60_000),
      bufferSize: int('trace_buffer', 16, 1),
      publishTimeoutMs: duration('trace_publish_timeout', 5_000) || 5_000,
    },
    runnerEnv,
  };
  if (config.readyPath && !config.readyPath.startsWith('/')) problems.push(`ready_path=${JSON.stringify(config.readyPath)} must start with /`);
  if (problems.length > 0) throw new WatchdogConfigError(problems);
  return config;
}
