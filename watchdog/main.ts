/**
 * `containerless watchdog <function-dir>`: one Node process that serves `<function-dir>/handler.js` the way
 * of-watchdog (http mode) in front of the stock node template does, traces requests in-process and
 * publishes trace trees to NATS JetStream. This file reads the config, builds the real dependencies, listens
 * and owns the signals; `server.ts` is the request listener, `runner.ts` the template's behaviour.
 *
 * Start-up, as of-watchdog: listen on `port`, then write `$TMPDIR/.lock` (unless suppress_lock) and start
 * answering 200 on `/_/health`. Metrics on `metrics_port`. A bind failure exits 1.
 *
 * Shutdown (SIGTERM or SIGINT, or the parent process going away): remove the lock and fail health and
 * ready, keep serving for `healthcheck_interval` so load balancers notice, stop accepting connections and
 * wait for requests in flight up to `write_timeout`, publish the last trace tree (up to 5 s while NATS or
 * the intake is reachable), close the publisher, exit 0.
 */
import http from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Console } from 'node:console';
import { ConfigError, listen, sleep } from '../lib/index.ts';
import { readWatchdogConfig, traceSubject, type WatchdogConfig } from './config.ts';
import { releaseLock, takeLock } from './lock.ts';
import { createWatchdogMetrics, type WatchdogMetrics } from './metrics.ts';
import { LoopbackPublisher } from './loopback-publisher.ts';
import { TreeSchedule, type TreePublisher } from './tree-publisher.ts';
import { HandlerLoadError, createRunnerApp } from './runner.ts';
import { createWatchdogApp, type WatchdogState } from './server.ts';
import { TracingController } from './tracing.ts';

export const WATCHDOG_HELP = `Usage: containerless watchdog <function-dir>

Serves <function-dir>/handler.js (an OpenFaaS node template handler, or a Containerless API handler) in
this process, as of-watchdog in http mode in front of the node template's express server does, and traces
requests to build the function's trace tree. Configured by environment variables (of-watchdog's names):

  port (8080)  metrics_port (8081)  read_timeout (15s)  write_timeout (15s)  exec_timeout (10s)
  healthcheck_interval (= write_timeout)  max_inflight (0: none)  prefix_logs (false)
  log_buffer_size (65536)  content_type  suppress_lock (false)  ready_path  RAW_BODY  MAX_RAW_SIZE  MAX_JSON_SIZE
  tracing: trace_mode (sample|always|off)  trace_sample (0.01)  trace_stable_after (100)
           nats_url  trace_stream (CONTAINERLESS_TRACES)  trace_buffer (16)  trace_publish_timeout (5s)
           trace_url  trace_token: POST trees to the provider instead of NATS (not both)
           trace_publish_interval (60s): trees sent when requests were traced since the last one
           trace_keepalive_interval (10m): an unchanged tree sent again
  OPENFAAS_NAME, OPENFAAS_NAMESPACE (openfaas-fn): the trace subject containerless.traces.<ns>.<fn>
  CONTAINERLESS_DEPLOYMENT: the deployment id sent with each tree
  A request with header X-Containerless-Retry (a provider's re-send) is always traced; the header is removed.

Endpoints: /_/health, /_/ready, everything else goes to the handler; GET :metrics_port/metrics.
Timeouts and prefix_logs default to the stock node template image's values, the rest to of-watchdog's.
Exit status: 0 after a SIGTERM drain, 1 when the handler or the configuration is bad or a port is taken.

Options:
  -h, --help      show this help
  --version       print the version`;

function whereTreesGo(config: WatchdogConfig): string {
  const t = config.tracing;
  if (t.natsUrl) return `trees to ${t.natsUrl} on ${traceSubject(config.namespace, config.functionName)}`;
  if (t.traceUrl) {
    const u = new URL(t.traceUrl);
    return `trees posted to ${u.origin}${u.pathname}`;
  }
  return 'trees kept in memory (nats_url and trace_url unset)';
}

/** Go's log package timestamp: `2006/01/02 15:04:05` in local time. */
export function goLogTime(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

type Write = (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;

/**
 * of-watchdog's prefix_logs for output written in this process (the handler's console.log and friends):
 * each line becomes `<time> stdout: <line>` (or stderr). A line longer than log_buffer_size is split there
 * (of-watchdog's scanner stops reading the stream instead); -1 means no limit. Returns the raw writers.
 */
function prefixProcessOutput(maxLine: number): { out: Write; err: Write } {
  const wrap = (stream: NodeJS.WriteStream, name: string): Write => {
    const raw = stream.write.bind(stream) as Write;
    let partial = '';
    const emit = (line: string): void => void raw(`${goLogTime()} ${name}: ${line}\n`);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      partial += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) !== -1) {
        emit(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      while (maxLine > 0 && partial.length > maxLine) {
        emit(partial.slice(0, maxLine));
        partial = partial.slice(maxLine);
      }
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (cb) process.nextTick(cb);
      return true;
    }) as NodeJS.WriteStream['write'];
    return raw;
  };
  return { out: wrap(process.stdout, 'stdout'), err: wrap(process.stderr, 'stderr') };
}

function close(server: http.Server): Promise<void> {
  return new Promise((done) => server.close(() => done()));
}

export interface WatchdogIo {
  /** The watchdog's own log lines (stderr), without the timestamp. */
  log(line: string): void;
}

export interface RunningWatchdog {
  config: WatchdogConfig;
  port: number;
  metricsPort: number;
  state: WatchdogState;
  metrics: WatchdogMetrics;
  tracing: TracingController;
  /** The NATS publisher (nats_url) or the loopback one (trace_url), when tracing is on. */
  publisher?: TreePublisher;
  /** Drains and stops (the SIGTERM sequence); resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Starts a watchdog in this process (listening, lock file written). Throws ConfigError or HandlerLoadError
 * before anything listens, or the bind error. `config` is `env` read already (readWatchdogConfig).
 */
export async function startWatchdog(
  dir: string,
  env: NodeJS.ProcessEnv,
  io: WatchdogIo,
  config: WatchdogConfig = readWatchdogConfig(env, dir),
): Promise<RunningWatchdog> {
  const metrics = createWatchdogMetrics();
  const log = io.log;
  const tracing = new TracingController({ dir, functionName: config.functionName, config: config.tracing, metrics, log });
  const runner = createRunnerApp({ handler: tracing.handler, choose: tracing.choose, env: config.runnerEnv });
  const lockFile = join(config.tmpdir, '.lock');
  const { listener, state } = createWatchdogApp({
    runner,
    metrics,
    lockFile,
    suppressLock: config.suppressLock,
    maxInflight: config.maxInflight,
    readyPath: config.readyPath,
    writeTimeoutMs: config.writeTimeoutMs,
    log,
  });

  let publisher: TreePublisher | undefined;
  let schedule: TreeSchedule | undefined;
  const replica = `${env.HOSTNAME || hostname()}-${process.pid}`;
  if (tracing.enabled && config.tracing.natsUrl) {
    const subject = traceSubject(config.namespace, config.functionName);
    // The NATS client is loaded only when there is somewhere to publish.
    const { TracePublisher } = await import('./publisher.ts');
    publisher = new TracePublisher({
      servers: config.tracing.natsUrl,
      subject,
      stream: config.tracing.stream,
      bufferSize: config.tracing.bufferSize,
      publishTimeoutMs: config.tracing.publishTimeoutMs,
      replica,
      deployment: config.deployment,
      metrics,
      log,
    });
  } else if (tracing.enabled && config.tracing.traceUrl) {
    publisher = new LoopbackPublisher({
      url: config.tracing.traceUrl,
      ...(config.tracing.traceToken ? { token: config.tracing.traceToken } : {}),
      replica,
      deployment: config.deployment,
      timeoutMs: config.tracing.publishTimeoutMs,
      metrics,
      log,
    });
  }
  if (publisher) {
    schedule = new TreeSchedule(tracing, publisher, { intervalMs: config.tracing.publishIntervalMs, keepAliveMs: config.tracing.keepAliveMs });
    schedule.start();
    publisher.start();
  }

  const server = http.createServer(listener);
  server.requestTimeout = config.readTimeoutMs;
  server.headersTimeout = config.readTimeoutMs > 0 ? Math.min(config.readTimeoutMs, 60_000) : 60_000;
  server.keepAliveTimeout = config.readTimeoutMs > 0 ? config.readTimeoutMs : 5_000;
  const metricsServer = http.createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });

  log(`Watchdog mode: containerless (in-process)\tfunction: ${tracing.handler.filename}`);
  log(`Timeouts: read: ${config.readTimeoutMs}ms write: ${config.writeTimeoutMs}ms hard: ${config.execTimeoutMs}ms health: ${config.healthcheckIntervalMs}ms`);
  let metricsPort: number;
  let port: number;
  try {
    metricsPort = await listen(metricsServer, config.metricsPort, config.bindAddress);
  } catch (err) {
    await publisher?.close();
    throw new Error(`metrics: cannot listen on port ${config.metricsPort}: ${(err as Error).message}`, { cause: err });
  }
  log(`Metrics listening on port: ${metricsPort}`);
  try {
    port = await listen(server, config.port, config.bindAddress);
  } catch (err) {
    await close(metricsServer);
    await publisher?.close();
    throw new Error(`cannot listen on port ${config.port}: ${(err as Error).message}`, { cause: err });
  }
  log(`Listening on port: ${port}`);
  if (!config.suppressLock) {
    log(`Writing lock-file to: ${lockFile}`);
    takeLock(lockFile);
  } else {
    log('Warning: "suppress_lock" is enabled. No automated health-checks will be in place for your function.');
  }
  state.accepting = true;
  log(`Tracing: ${tracing.enabled ? `${config.tracing.mode}, ${whereTreesGo(config)}` : 'off'}`);

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log(`${reason}: no new connections in ${config.healthcheckIntervalMs}ms`);
      state.accepting = false;
      if (!config.suppressLock) {
        log(`Removing lock-file : ${lockFile}`);
        releaseLock(lockFile);
      }
      await sleep(config.healthcheckIntervalMs);
      log(`No new connections allowed, draining: ${state.inflight} requests`);
      const closed = close(server);
      server.closeIdleConnections();
      const deadline = sleep(config.writeTimeoutMs).then(() => 'timeout' as const);
      if ((await Promise.race([closed.then(() => 'closed' as const), deadline])) === 'timeout') {
        log(`write_timeout reached with ${state.inflight} requests in flight; closing their connections`);
        server.closeAllConnections();
        await closed;
      }
      log(`Exiting. Active connections: ${state.inflight}`);
      schedule?.finish();
      if (publisher) {
        if (publisher.isConnected && !(await publisher.flush(5_000))) log(`tracing: ${publisher.buffered} trace trees not published before exit`);
        await publisher.close();
      }
      await close(metricsServer);
    })();
    return stopping;
  };

  return { config, port, metricsPort, state, metrics, tracing, publisher, shutdown };
}

/**
 * The `containerless watchdog` command, run as the process's main work: takes over stdout (the handler's
 * output goes there, as the template's did), SIGTERM and SIGINT, and resolves to the exit status.
 */
export async function runWatchdogCommand(dir: string, io: { err(text: string): void }): Promise<number> {
  // The CLI sends stdout to stderr for its other commands; a watchdog's function output belongs on stdout.
  if (Object.prototype.hasOwnProperty.call(process.stdout, 'write')) delete (process.stdout as { write?: unknown }).write;
  let raw = { out: process.stdout.write.bind(process.stdout) as Write, err: process.stderr.write.bind(process.stderr) as Write };
  // Log lines (one access line per request) are batched into one write per turn of the event loop: a
  // synchronous write per request to a pipe or file costs more than serving a small request.
  let pending = '';
  const flush = (): void => {
    const text = pending;
    pending = '';
    if (text) raw.err(text);
  };
  let stamp = '';
  let stampAt = 0;
  const log = (line: string): void => {
    const now = Date.now();
    if (now - stampAt >= 1000 || now < stampAt) {
      stamp = goLogTime(new Date(now));
      stampAt = now - (now % 1000);
    }
    if (!pending) setImmediate(flush);
    pending += `${stamp} ${line}\n`;
  };
  process.once('exit', flush);

  let running: RunningWatchdog;
  try {
    const config = readWatchdogConfig(process.env, dir);
    // Output prefixing starts before the handler loads, so its top-level logs are prefixed too.
    if (config.prefixLogs) raw = prefixProcessOutput(config.logBufferSize);
    globalThis.console = new Console({ stdout: process.stdout, stderr: process.stderr });
    running = await startWatchdog(dir, process.env, { log }, config);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof HandlerLoadError) {
      io.err(`containerless watchdog: ${err.message}\n`);
      return 1;
    }
    io.err(`containerless watchdog: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  // Signals belong to the watchdog now: a drain, then exit 0 (the CLI's default handlers abort and exit 143).
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  let signals = 0;
  const done = new Promise<void>((resolveDone) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log(`${sig} again: exiting now`);
        process.exit(sig === 'SIGINT' ? 130 : 143);
      }
      void running.shutdown(sig).then(resolveDone);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // A parent that goes away (a local provider killed without stopping its replicas) ends the watchdog too.
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(watch);
        void running.shutdown('parent process exited').then(resolveDone);
      }
    }, 1000);
    watch.unref();
  });
  await done;
  return 0;
}
