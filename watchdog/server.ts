/**
 * The watchdog's request listener, as of-watchdog routes (pkg/watchdog.go, pkg/readiness.go, faas-middleware
 * concurrency-limiter, read for behaviour):
 *
 * - `/_/health` GET: 200 `OK` when accepting and the lock file exists, else 503 with an empty body; other
 *   methods 405. Not counted in the HTTP metrics.
 * - `/_/ready` GET: 503 as health; 429 when `max_inflight` requests are in flight; with `ready_path` the
 *   handler's own answer to `GET <ready_path>` (no limiter, no metrics); else 200 with an empty body. Other
 *   methods 405.
 * - Everything else: counted in `http_requests_total{code,method}`, `http_request_duration_seconds` and
 *   `http_requests_in_flight`; beyond `max_inflight`, 429 `Concurrent request limit exceeded. Max concurrent
 *   requests: N\n` with `Content-Type: text/plain` and `X-OpenFaaS-Internal: faas-middleware`; then the
 *   runner (runner.ts), which answers as the node template behind of-watchdog does.
 * - `write_timeout`: a response not finished that long after its request arrived loses its connection (Go's
 *   http.Server WriteTimeout).
 * - Access log lines as of-watchdog's http mode writes them: `GET /x - 200 OK - ContentLength: 2B (0.0012s)`
 *   (the response's Content-Length; -1B when it had none), not for kube-probe user agents.
 *
 * Differences, on purpose: with `suppress_lock=true` health and ready do not look for the lock file (the
 * stock watchdog answers 503 forever then, which makes the setting useless).
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Express } from 'express';
import { createWatchdogMetrics, type WatchdogMetrics } from './metrics.ts';

export interface WatchdogState {
  /** False from SIGTERM on: health and ready fail. */
  accepting: boolean;
  /** Function requests in flight (the limiter's count). */
  inflight: number;
}

export interface WatchdogAppDeps {
  runner: Express;
  metrics: WatchdogMetrics;
  lockFile: string;
  suppressLock: boolean;
  maxInflight: number;
  readyPath: string;
  writeTimeoutMs: number;
  /** Access log and watchdog messages (stderr, Go log format). */
  log: (line: string) => void;
  state?: WatchdogState;
}

/** docker/go-units HumanSize: decimal units, 4 significant digits. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes)) bytes = -1;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let i = 0;
  let v = bytes;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

/** An answer of the watchdog's own with its length, as Go's net/http sends a short body. */
function reply(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
}

export function createWatchdogApp(deps: WatchdogAppDeps): { listener: (req: IncomingMessage, res: ServerResponse) => void; state: WatchdogState } {
  const state: WatchdogState = deps.state ?? { accepting: false, inflight: 0 };
  const { metrics, runner } = deps;
  const healthy = (): boolean => state.accepting && (deps.suppressLock || existsSync(deps.lockFile));

  const health = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET') {
      reply(res, 405);
      return;
    }
    if (!healthy()) reply(res, 503);
    else reply(res, 200, 'OK', { 'Content-Type': 'text/plain; charset=utf-8' });
  };

  const ready = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET') {
      reply(res, 405);
      return;
    }
    if (!healthy()) {
      reply(res, 503);
      return;
    }
    if (deps.maxInflight > 0 && state.inflight >= deps.maxInflight) {
      reply(res, 429);
      return;
    }
    if (deps.readyPath) {
      req.url = deps.readyPath;
      runner(req as never, res as never);
      return;
    }
    reply(res, 200);
  };

  const fn = (req: IncomingMessage, res: ServerResponse): void => {
    const started = process.hrtime.bigint();
    state.inflight++;
    metrics.inFlight.inc();
    const writeTimer = setTimeout(() => {
      if (!res.writableFinished) res.destroy();
    }, deps.writeTimeoutMs);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(writeTimer);
      state.inflight--;
      metrics.inFlight.dec();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = { code: String(res.statusCode), method: (req.method ?? '').toLowerCase() };
      metrics.requestsTotal.inc(labels);
      metrics.requestDuration.observe(labels, seconds);
      const ua = req.headers['user-agent'] ?? '';
      if (!ua.startsWith('kube-probe')) {
        deps.log(
          `${req.method} ${req.url} - ${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''} - ContentLength: ${humanSize(Number(res.getHeader('content-length') ?? -1))} (${seconds.toFixed(4)}s)`,
        );
      }
    };
    res.once('finish', finish);
    res.once('close', finish);

    if (deps.maxInflight > 0 && state.inflight > deps.maxInflight) {
      reply(res, 429, `Concurrent request limit exceeded. Max concurrent requests: ${deps.maxInflight}\n`, {
        'Content-Type': 'text/plain',
        'X-OpenFaaS-Internal': 'faas-middleware',
      });
      return;
    }
    runner(req as never, res as never);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url);
    if (path === '/_/health') health(req, res);
    else if (path === '/_/ready') ready(req, res);
    else fn(req, res);
  };
  return { listener, state };
}

/**
 * The listener around `runner` with the watchdog's health routes, in-flight count and write timeout only:
 * no lock file, limit, ready path, metrics or access log, accepting from the start. The harness serves
 * Node's side of a replay with it, and the local backend's `runner` replicas serve with it.
 */
export function createBareWatchdogApp(
  runner: Express,
  writeTimeoutMs: number,
): { listener: (req: IncomingMessage, res: ServerResponse) => void; state: WatchdogState } {
  return createWatchdogApp({
    runner,
    metrics: createWatchdogMetrics({ defaultMetrics: false }),
    lockFile: '',
    suppressLock: true,
    maxInflight: 0,
    readyPath: '',
    writeTimeoutMs,
    log: () => {},
    state: { accepting: true, inflight: 0 },
  });
}
