/**
 * The watchdog's configuration: of-watchdog's environment variables (openfaas/of-watchdog config/config.go,
 * read for their names and defaults), the template's body variables (read by the runner, runner.ts), and the
 * tracing variables, which are ours. `readWatchdogConfig(env)` reads them all and reports every bad one at
 * once (ConfigError); of-watchdog silently falls back to the default for most bad values, which hides typos.
 * `readRunnerConfig(env)` is the runner's share (the template's variables and exec_timeout), read again when
 * the runner is used on its own (by `containerless check`, the local backend's `runner` replicas).
 *
 * Defaults: this process replaces the pair "of-watchdog + the node template" as the stock node22 image runs
 * it, so where that image's Dockerfile sets a variable its value is the default here (exec_timeout 10s,
 * read_timeout and write_timeout 15s, prefix_logs false; the bare of-watchdog binary would use 30s, 30s,
 * 30s and true). Everything else is of-watchdog's default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { ConfigError, EnvReader } from '../lib/index.ts';
import { ENV_DEPLOYMENT, INTAKE_PATH } from './contract.ts';

export type TraceMode = 'sample' | 'always' | 'off';

export interface TracingConfig {
  /** `trace_mode`: sample (default) traces every request until the tree stops growing, then a sample. */
  mode: TraceMode;
  /** `trace_sample`: the share of requests traced once the tree is stable (default 0.01). */
  sample: number;
  /** `trace_stable_after`: traced requests in a row that add nothing before the tree counts as stable (100). */
  stableAfter: number;
  /** `nats_url`: trees go to NATS JetStream (publisher.ts). Unset, and `trace_url` unset too: trees are
   *  kept and counted but not published. */
  natsUrl?: string;
  /** `trace_url`: trees are POSTed to this http(s) URL instead (loopback-publisher.ts; the local backend
   *  without NATS points it at its intake, `<provider>/_/containerless/traces/<ns>/<fn>`). Any http or https
   *  URL is taken; setting it with `nats_url` is a configuration error (a replica sends its trees one way,
   *  so the provider never counts one tree twice). */
  traceUrl?: string;
  /** `trace_token`: the bearer token sent with each POST to `trace_url` (no Authorization header when unset). */
  traceToken?: string;
  /** `trace_stream`: the JetStream stream, created if missing, holding `containerless.traces.>` (CONTAINERLESS_TRACES). */
  stream: string;
  /** `trace_publish_interval` (60s; 0 off): how often the current tree is sent when requests were traced
   *  since the last one sent, even if the tree did not grow (the provider counts them). */
  publishIntervalMs: number;
  /** `trace_keepalive_interval` (10m; 0 off): an unchanged tree is sent again this often (checked every
   *  trace_publish_interval). */
  keepAliveMs: number;
  /** `trace_buffer`: trees waiting for NATS at most; beyond it the oldest is dropped and counted (16). The
   *  loopback publisher keeps only the newest tree. */
  bufferSize: number;
  /** `trace_publish_timeout`: how long one publish waits for JetStream's ack, or one POST to `trace_url`
   *  for its answer, before it is retried (5s). */
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
  /** `CONTAINERLESS_DEPLOYMENT` (''): the id of the deployment this replica belongs to, sent with each tree. */
  deployment: string;
  tracing: TracingConfig;
  /** The env the runner reads (exec_timeout defaulted to 10s, RAW_BODY, MAX_*_SIZE, NODE_ENV). */
  runnerEnv: NodeJS.ProcessEnv;
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
  const r = new EnvReader(env);

  const writeTimeoutMs = r.duration('write_timeout', 15_000);
  if (writeTimeoutMs === 0) r.problem('write_timeout must be over 0s');
  const healthcheckIntervalMs = r.duration('healthcheck_interval', writeTimeoutMs);
  const execTimeoutMs = r.duration('exec_timeout', 10_000);

  // The runner reads its own variables; exec_timeout was read (and reported) above, and is passed on with
  // the stock image's default.
  const runnerEnv: NodeJS.ProcessEnv = { ...env, exec_timeout: r.has('exec_timeout') ? env.exec_timeout : '10s' };
  const runner = readRunnerVariables(runnerEnv);
  r.problems.push(...runner.problems.filter((p) => !p.startsWith('exec_timeout=')));

  const mode = r.oneOf<TraceMode>('trace_mode', 'sample', ['sample', 'always', 'off']);
  let sample = 0.01;
  if (r.has('trace_sample')) {
    const n = Number(env.trace_sample);
    if (!Number.isFinite(n) || n < 0 || n > 1) r.problem(`trace_sample=${JSON.stringify(env.trace_sample)} is not a share between 0 and 1`);
    else sample = n;
  }
  let natsUrl: string | undefined;
  if (r.has('nats_url')) {
    natsUrl = env.nats_url!;
    for (const server of natsUrl.split(',')) {
      if (!/^(nats|tls|ws|wss):\/\/[^\s/]+\/?$|^[^\s:/]+(:\d+)?$/.test(server.trim()))
        r.problem(`nats_url: ${JSON.stringify(server)} is not a NATS server address (nats://host:4222)`);
    }
  }
  let traceUrl: string | undefined;
  if (r.has('trace_url')) {
    traceUrl = env.trace_url!;
    let url: URL | undefined;
    try {
      url = new URL(traceUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password)
      r.problem(`trace_url=${JSON.stringify(traceUrl)} is not an http(s) URL without credentials (http://127.0.0.1:8080${INTAKE_PATH}/<namespace>/<name>)`);
    if (natsUrl) r.problem('nats_url and trace_url are both set: a replica sends its trace trees one way (JetStream or the loopback intake); unset one');
  }
  const stream = r.string('trace_stream', 'CONTAINERLESS_TRACES');
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) r.problem(`trace_stream=${JSON.stringify(stream)} is not a stream name (letters, digits, _ and -)`);

  const dir = resolve(functionDir);
  const folderName = basename(dir) === 'function' ? basename(dirname(dir)) : basename(dir);
  let namespace = r.string('OPENFAAS_NAMESPACE', '');
  const saFile = opts.saNamespaceFile ?? SA_NAMESPACE;
  if (!namespace && existsSync(saFile)) {
    try {
      namespace = readFileSync(saFile, 'utf8').trim();
    } catch {
      namespace = '';
    }
  }

  const config: WatchdogConfig = {
    port: r.port('port', 8080),
    ...(r.has('bind_address') ? { bindAddress: env.bind_address } : {}),
    metricsPort: r.port('metrics_port', 8081),
    readTimeoutMs: r.duration('read_timeout', 15_000),
    writeTimeoutMs,
    execTimeoutMs,
    healthcheckIntervalMs,
    maxInflight: r.int('max_inflight', 0, 0),
    // Go's strconv.ParseBool, as of-watchdog reads prefix_logs; suppress_lock is its getBool.
    prefixLogs: r.bool('prefix_logs', false),
    logBufferSize: r.int('log_buffer_size', 65536, -1),
    contentType: env.content_type ?? 'application/octet-stream',
    suppressLock: r.bool('suppress_lock', false, ofWatchdogGetBool),
    readyPath: env.ready_path ?? '',
    tmpdir: r.has('TMPDIR') ? resolve(env.TMPDIR!) : tmpdir(),
    functionName: r.string('OPENFAAS_NAME', folderName),
    namespace: namespace || 'openfaas-fn',
    deployment: r.string(ENV_DEPLOYMENT, ''),
    tracing: {
      mode,
      sample,
      stableAfter: r.int('trace_stable_after', 100, 1),
      ...(natsUrl ? { natsUrl } : {}),
      ...(traceUrl ? { traceUrl } : {}),
      ...(env.trace_token ? { traceToken: env.trace_token } : {}),
      stream,
      publishIntervalMs: r.duration('trace_publish_interval', 60_000),
      keepAliveMs: r.duration('trace_keepalive_interval', 600_000),
      bufferSize: r.int('trace_buffer', 16, 1),
      publishTimeoutMs: r.duration('trace_publish_timeout', 5_000) || 5_000,
    },
    runnerEnv,
  };
  if (config.readyPath && !config.readyPath.startsWith('/')) r.problem(`ready_path=${JSON.stringify(config.readyPath)} must start with /`);
  r.check('watchdog');
  return config;
}

/** of-watchdog's getBool: "true" or "1" is true, anything else false (never a problem). */
function ofWatchdogGetBool(text: string): boolean {
  return text === 'true' || text === '1';
}

export interface RunnerConfig {
  /** RAW_BODY === 'true' */
  rawBody: boolean;
  /** MAX_RAW_SIZE || '100kb' */
  rawLimit: string;
  /** MAX_JSON_SIZE || '100kb' */
  jsonLimit: string;
  /** exec_timeout in milliseconds; 0 disables. */
  execTimeoutMs: number;
  /** Express's `env` setting (NODE_ENV || 'development'): decides whether error pages show stack traces. */
  nodeEnv: string;
}

/**
 * What body-parser's size parser (the `bytes` package) reads as a limit: a number first. Its own rules are
 * laxer still (`10mbx` is 10 bytes), and anything else silently means no limit; the variable goes to
 * body-parser as the template passes it, so this only refuses what would lift the limit.
 */
const BYTES = /^[+-]?\d/;

function readRunnerVariables(env: NodeJS.ProcessEnv): { config: RunnerConfig; problems: string[] } {
  const r = new EnvReader(env);
  const rawLimit = r.string('MAX_RAW_SIZE', '100kb');
  const jsonLimit = r.string('MAX_JSON_SIZE', '100kb');
  if (!BYTES.test(rawLimit)) r.problem(`MAX_RAW_SIZE=${JSON.stringify(rawLimit)} is not a size (e.g. 100kb, 1mb, 1048576)`);
  if (!BYTES.test(jsonLimit)) r.problem(`MAX_JSON_SIZE=${JSON.stringify(jsonLimit)} is not a size (e.g. 100kb, 1mb, 1048576)`);
  const execTimeoutMs = r.duration('exec_timeout', 10_000);
  return {
    config: { rawBody: env.RAW_BODY === 'true', rawLimit, jsonLimit, execTimeoutMs, nodeEnv: r.string('NODE_ENV', 'development') },
    problems: r.problems,
  };
}

/** The runner's variables (the template's and exec_timeout), reporting every bad one at once (ConfigError). */
export function readRunnerConfig(env: NodeJS.ProcessEnv): RunnerConfig {
  const { config, problems } = readRunnerVariables(env);
  if (problems.length > 0) throw new ConfigError('watchdog', problems);
  return config;
}
