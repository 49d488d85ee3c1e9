/**
 * The invoke proxy: `/function/<fn>[.<ns>][/<path>]` to a ready replica, with http-proxy.
 *
 * - The body is buffered up to `max_body_size` (413 beyond) so that a request refused by a replica that
 *   was going away can be sent again to another one (or to a fresh one).
 * - `X-Call-Id` and `X-Start-Time` are set when absent (on the request to the function and on the
 *   response), `X-Forwarded-Host` and `X-Forwarded-For` too.
 * - At zero ready replicas the request waits in a bounded per-function queue while the function starts
 *   (scaled up from zero if it was there): a full queue answers 503, a replica not ready within
 *   `cold_start_timeout` answers 504. A function that does not answer within `read_timeout` gives 504.
 * - Errors of the proxy itself carry `X-OpenFaaS-Internal: proxy`, as faas-provider's do.
 * - Streaming requests (Accept text/event-stream or application/x-ndjson) are passed through unbuffered
 *   and without the read timeout.
 * - A promoted function (the `router` names a dispatcher for it) gets its buffered requests sent to the
 *   dispatcher first. Its answer goes to the client as it is; its fallback marker (503 with
 *   `x-containerless-fallback`) never does: the request is sent again, with the same body, to a Node replica
 *   (started if there is none), marked with `x-containerless-retry: <kind>` so that the replica traces it.
 *   A dispatcher that cannot be reached, or drops the connection before answering, is a fallback too (kind
 *   `unreachable`): the request still gets Node's answer. Streaming requests always go to Node.
 * - `containerless_function_requests_total` counts each invocation once, by the engine that answered.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import { minReplicas, NotFoundError, StartFailedError, type Backend, type Endpoint } from './backend.ts';
import type { Invocation, ProviderMetrics } from './metrics.ts';
import type { PromotionMetrics } from './promotion/metrics.ts';
import { RETRY_HEADER } from './promotion/types.ts';

/** The dispatcher's fallback marker (runtime/src/dispatcher/mod.rs). */
const FALLBACK_HEADER = 'x-containerless-fallback';
const SITE_HEADER = 'x-containerless-site';
/** The marker's detail text is kept up to this many bytes. */
const MAX_FALLBACK_DETAIL = 4096;
/** Hop-by-hop headers of a dispatcher's answer, not passed on (Node's server writes its own). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'trailer', 'te']);

/** How a request sent to a dispatcher ended. */
export type RouteOutcome = { kind: 'answered'; status: number; ms: number } | { kind: 'fallback'; reason: string; site?: string; detail: string; ms: number };

/** A dispatcher to try first, from the promotion controller. */
export interface DispatcherRoute {
  url: string;
  instance: string;
  /** Called once, when the dispatcher answered or handed the request back. */
  done(outcome: RouteOutcome): void;
}

export interface Router {
  /** The dispatcher for this request, or undefined to send it to Node. */
  route(functionName: string): DispatcherRoute | undefined;
  /** Node answered a request (a fallback or not) in `ms`. */
  nodeAnswered?(functionName: string, ms: number, fallback: boolean): void;
}

export interface InvokeDeps {
  backend: Backend;
  metrics: ProviderMetrics;
  maxBodyBytes: number;
  readTimeoutMs: number;
  coldStartTimeoutMs: number;
  maxQueuedRequests: number;
  /** Idle keep-alive connections kept per replica (default 1024, faas-provider's max_idle_conns_per_host). */
  maxIdleConnsPerHost?: number;
  /** Told when a request scaled a function up from zero. */
  onWake?: (functionName: string) => void;
  /** Promoted functions' dispatchers (none: every request goes to Node). */
  router?: Router;
  promotionMetrics?: PromotionMetrics;
  log?: (line: string) => void;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);
/** Dead kept-alive connections one request may meet before it gives up (each is dropped from the pool). */
const MAX_STALE_RETRIES = 4;

class ProxyFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Splits `/function/<name>[.<ns>]/<rest>?q` into name, namespace (undefined when absent) and upstream path. */
export function parseInvokePath(url: string): { name: string; namespace?: string; path: string } | undefined {
  const m = /^\/function\/([^/?]*)(\/[^?]*)?(\?.*)?$/.exec(url);
  if (!m) return undefined;
  const id = decodeURIComponent(m[1]);
  const dot = id.lastIndexOf('.');
  const name = dot >= 0 ? id.slice(0, dot) : id;
  const namespace = dot >= 0 ? id.slice(dot + 1) : undefined;
  return { name, namespace, path: `${m[2] ?? '/'}${m[3] ?? ''}` };
}

/** Reads the rest of a refused body (at most `max` bytes, for at most 2 s) so that the client, still
 *  sending, reads the 413 instead of a reset connection; a bigger or slower body gets the connection cut. */
function drain(req: IncomingMessage, max: number): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve();
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('error', done);
      resolve();
    };
    const onData = (c: Buffer): void => {
      seen += c.length;
      if (seen > max) done();
    };
    const timer = setTimeout(done, 2000);
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
    req.resume();
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = async (): Promise<never> => {
    await drain(req, limit + 1024 * 1024);
    throw new ProxyFailure(413, `Request body too large: the limit is ${limit} bytes.`);
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  };
  await new Promise<void>((resolve, reject) => {
    const finish = (err?: Error): void => {
      req.off('data', check);
      req.off('end', finish);
      req.off('error', finish);
      if (err) reject(err);
      else resolve();
    };
    const check = (chunk: Buffer): void => {
      onData(chunk);
      if (size > limit) {
        req.pause();
        finish();
      }
    };
    req.on('data', check);
    req.once('end', finish);
    req.once('error', finish);
  });
  if (size > limit) return tooLarge();
  return Buffer.concat(chunks);
}

export class Invoker {
  private readonly agent: Agent;
  private readonly proxy: httpProxy;
  private readonly queues = new Map<string, number>();
  private readonly waking = new Map<string, Promise<void>>();
  private readonly rr = new Map<string, number>();
  private readonly inflightByUrl = new Map<string, number>();

  constructor(private readonly deps: InvokeDeps) {
    this.agent = new Agent({ keepAlive: true, maxFreeSockets: deps.maxIdleConnsPerHost ?? 1024 });
    this.proxy = httpProxy.createProxyServer({ ignorePath: true, xfwd: false, agent: this.agent });
    this.proxy.on('proxyReq', (proxyReq: ClientRequest, req: IncomingMessage) => {
      (req as IncomingMessage & { proxyReq?: ClientRequest }).proxyReq = proxyReq;
    });
    // Errors are handled per call; this keeps an unhandled 'error' from reaching the process.
    this.proxy.on('error', () => {});
  }

  queued(functionName: string): number {
    return this.queues.get(functionName) ?? 0;
  }

  close(): void {
    this.proxy.close();
    this.agent.destroy();
  }

  /** Handles one invocation; `namespaces` lists the allowed ones, `defaultNamespace` is used when none is named. */
  async handle(req: IncomingMessage, res: ServerResponse, defaultNamespace: string, namespaces: string[]): Promise<void> {
    const parsed = parseInvokePath(req.url ?? '');
    const fail = (status: number, text: string): void => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // After a 413 the rest of the body is not read: the connection cannot carry another request.
      const close = status === 413 ? { Connection: 'close' } : {};
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-OpenFaaS-Internal': 'proxy', ...close });
      res.end(text);
    };
    if (!parsed || parsed.name === '') return fail(404, 'No such function: a function name is required, e.g. /function/<name>.');
    const namespace = parsed.namespace === undefined || parsed.namespace === '' ? defaultNamespace : parsed.namespace;
    const fname = `${parsed.name}.${namespace}`;
    if (!METHODS.has(req.method ?? '')) return fail(405, `Method not allowed: ${req.method}.`);
    if (!namespaces.includes(namespace)) return fail(404, `No such function: ${fname}.`);

    const callId = (req.headers['x-call-id'] as string | undefined) || randomUUID();
    const startTime = (req.headers['x-start-time'] as string | undefined) || `${BigInt(Date.now()) * 1_000_000n}`;
    req.headers['x-call-id'] = callId;
    req.headers['x-start-time'] = startTime;
    req.headers['x-forwarded-host'] ??= req.headers.host ?? '';
    req.headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? '';
    // Only the provider marks a request as a fallback re-send.
    delete req.headers[RETRY_HEADER];
    res.setHeader('X-Call-Id', callId);
    res.setHeader('X-Start-Time', startTime);

    let invocation: Invocation | undefined;
    let answeredBy: 'node' | 'rust' = 'node';
    let fellBack = false;
    const clientGone = new AbortController();
    res.on('close', () => {
      clientGone.abort(new Error('client went away'));
      if (invocation) this.deps.promotionMetrics?.served(fname, answeredBy, fellBack);
      invocation?.end(res.headersSent ? res.statusCode : 499);
    });
    try {
      // Existence first, so an unknown function is a 404 and not a queued wait.
      let endpoints = await this.deps.backend.endpoints(parsed.name, namespace);
      invocation = this.deps.metrics.begin(fname);
      const accept = String(req.headers.accept ?? '');
      const streaming = accept.includes('text/event-stream') || accept.includes('application/x-ndjson');
      let body: Buffer | undefined;
      if (!streaming) {
        body = await readBody(req, this.deps.maxBodyBytes);
        delete req.headers['transfer-encoding'];
        if (body.length > 0 || req.headers['content-length'] !== undefined) req.headers['content-length'] = String(body.length);
      }
      const route = body !== undefined ? this.deps.router?.route(fname) : undefined;
      if (route && body !== undefined) {
        answeredBy = 'rust';
        const reason = await this.viaDispatcher(req, res, route, parsed.path, body);
        if (reason === undefined) return;
        // Handed back: Node answers it, and traces it.
        answeredBy = 'node';
        fellBack = true;
        req.headers[RETRY_HEADER] = reason;
      }
      let staleRetries = 0;
      const nodeStarted = performance.now();
      for (let attempt = 1; ; attempt++) {
        if (endpoints.length === 0) endpoints = await this.coldStart(parsed.name, namespace, fname, clientGone.signal);
        const ep = this.pick(fname, endpoints);
        invocation.forwarding();
        const outcome = await this.forward(req, res, ep, parsed.path, body, streaming, fname);
        if (outcome === 'done') {
          this.deps.router?.nodeAnswered?.(fname, performance.now() - nodeStarted, fellBack);
          return;
        }
        if (body === undefined) throw new ProxyFailure(500, `Can't reach service for: ${fname}.`);
        if (outcome === 'stale') {
          // The pool handed out a dead connection (the agent drops it): the same replica, a fresh connection.
          if (++staleRetries > MAX_STALE_RETRIES) throw new ProxyFailure(500, `Can't reach service for: ${fname}.`);
          attempt--;
          continue;
        }
        // Refused before anything was sent: the replica went away. Try again with what is ready now.
        if (attempt >= 3) throw new ProxyFailure(500, `Can't reach service for: ${fname}.`);
        this.deps.log?.(`proxy: ${ep.instance} refused ${callId}; retrying`);
        endpoints = (await this.deps.backend.endpoints(parsed.name, namespace)).filter((e) => e.url !== ep.url);
      }
    } catch (err) {
      if (clientGone.signal.aborted && !res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof NotFoundError) return fail(404, `No such function: ${fname}.`);
      // Replicas that keep failing to start: say why now rather than at the cold-start timeout.
      if (err instanceof StartFailedError) return fail(503, `No endpoints available for: ${fname}. ${err.message}`);
      if (err instanceof ProxyFailure) return fail(err.status, err.message);
      this.deps.log?.(`proxy: ${fname}: ${(err as Error).stack ?? String(err)}`);
      return fail(500, `Can't reach service for: ${fname}.`);
    }
  }

  /**
   * Sends a buffered request to a dispatcher. Resolves undefined when its answer went to the client, or with
   * the fallback kind when it handed the request back (nothing was sent to the client then).
   */
  private viaDispatcher(req: IncomingMessage, res: ServerResponse, route: DispatcherRoute, path: string, body: Buffer): Promise<string | undefined> {
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: RouteOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        route.done(outcome);
        resolve(outcome.kind === 'answered' ? undefined : outcome.reason);
      };
      const fallback = (reason: string, detail: string, site?: string): void =>
        settle({ kind: 'fallback', reason, site, detail, ms: performance.now() - started });
      const headers: OutgoingHttpHeaders = { ...req.headers };
      delete headers['transfer-encoding'];
      if (body.length > 0 || req.headers['content-length'] !== undefined) headers['content-length'] = String(body.length);
      const url = new URL(`${route.url}${path}`);
      const up = httpRequest({ hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: req.method, headers, agent: this.agent });
      // A dispatcher that does not answer within read_timeout: Node gets the request (at-least-once, as
      // any fallback).
      const timer = setTimeout(() => {
        up.destroy();
        fallback('timeout', `the dispatcher did not answer within ${this.deps.readTimeoutMs} ms`);
      }, this.deps.readTimeoutMs);
      up.on('error', (err) => {
        if (!res.headersSent) return fallback('unreachable', `the dispatcher could not be reached (${err.message})`);
        res.destroy();
        settle({ kind: 'answered', status: res.statusCode, ms: performance.now() - started });
      });
      up.on('response', (answer) => {
        const kind = answer.headers[FALLBACK_HEADER];
        if (kind !== undefined) {
          const chunks: Buffer[] = [];
          let size = 0;
          answer.on('data', (c: Buffer) => {
            if (size < MAX_FALLBACK_DETAIL) chunks.push(c);
            size += c.length;
          });
          const site = answer.headers[SITE_HEADER];
          const done = (): void =>
            fallback(String(kind), Buffer.concat(chunks).toString('utf8').slice(0, MAX_FALLBACK_DETAIL), typeof site === 'string' ? site : undefined);
          answer.once('end', done);
          answer.once('error', done);
          answer.once('aborted', done);
          return;
        }
        clearTimeout(timer);
        const out: OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
        answer.pipe(res);
        const finished = (): void => settle({ kind: 'answered', status: answer.statusCode ?? 502, ms: performance.now() - started });
        answer.once('end', finished);
        answer.once('error', () => {
          res.destroy();
          finished();
        });
        res.once('close', finished);
      });
      up.end(body);
    });
  }

  private pick(fname: string, endpoints: Endpoint[]): Endpoint {
    // Least in flight; ties go round-robin.
    const start = this.rr.get(fname) ?? 0;
    this.rr.set(fname, start + 1);
    let best = endpoints[start % endpoints.length];
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[(start + i) % endpoints.length];
      if ((this.inflightByUrl.get(e.url) ?? 0) < (this.inflightByUrl.get(best.url) ?? 0)) best = e;
    }
    return best;
  }

  private async coldStart(name: string, namespace: string, fname: string, clientGone: AbortSignal): Promise<Endpoint[]> {
    const { backend, metrics } = this.deps;
    const waiting = this.queues.get(fname) ?? 0;
    if (waiting >= this.deps.maxQueuedRequests) {
      throw new ProxyFailure(503, `No endpoints available for: ${fname}. ${waiting} requests are already waiting for it to start.`);
    }
    this.queues.set(fname, waiting + 1);
    metrics.queued.set({ function_name: fname }, waiting + 1);
    const began = performance.now();
    const deadline = AbortSignal.timeout(this.deps.coldStartTimeoutMs);
    const signal = AbortSignal.any([deadline, clientGone]);
    try {
      // One scale-up per function at a time, however many requests queue behind it.
      let waking = this.waking.get(fname);
      if (!waking) {
        waking = (async () => {
          const status = await backend.get(name, namespace);
          if (!status) throw new NotFoundError(`function ${name} not found`);
          if ((status.replicas ?? 0) === 0) {
            await backend.scale(name, namespace, Math.max(1, minReplicas(status.labels)));
            metrics.coldStarts.inc({ function_name: fname });
            this.deps.onWake?.(fname);
          }
        })().finally(() => this.waking.delete(fname));
        this.waking.set(fname, waking);
      }
      await waking;
      const eps = await this.waitForEndpoints(name, namespace, signal);
      metrics.coldStartSeconds.observe({ function_name: fname }, (performance.now() - began) / 1000);
      return eps;
    } catch (err) {
      if (deadline.aborted && !(err instanceof NotFoundError)) {
        throw new ProxyFailure(504, `Timed out after ${this.deps.coldStartTimeoutMs} ms waiting for a replica of: ${fname}.`);
      }
      throw err;
    } finally {
      const left = (this.queues.get(fname) ?? 1) - 1;
      if (left === 0) this.queues.delete(fname);
      else this.queues.set(fname, left);
      metrics.queued.set({ function_name: fname }, left);
    }
  }

  private async waitForEndpoints(name: string, namespace: string, signal: AbortSignal): Promise<Endpoint[]> {
    const b = this.deps.backend;
    if (b.waitForEndpoints) return b.waitForEndpoints(name, namespace, signal);
    for (;;) {
      const eps = await b.endpoints(name, namespace);
      if (eps.length > 0) return eps;
      if (signal.aborted) throw signal.reason;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends one attempt. 'refused': the replica is not there (refused, unreachable); 'stale': a kept-alive
   *  connection to it had died. Either way nothing reached the function. */
  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    ep: Endpoint,
    path: string,
    body: Buffer | undefined,
    streaming: boolean,
    fname: string,
  ): Promise<'done' | 'refused' | 'stale'> {
    return new Promise((resolve, reject) => {
      this.inflightByUrl.set(ep.url, (this.inflightByUrl.get(ep.url) ?? 0) + 1);
      let settled = false;
      let timedOut = false;
      const finish = (v: 'done' | 'refused' | 'stale' | Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inflightByUrl.set(ep.url, (this.inflightByUrl.get(ep.url) ?? 1) - 1);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const timer = streaming
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            (req as IncomingMessage & { proxyReq?: ClientRequest }).proxyReq?.destroy();
          }, this.deps.readTimeoutMs);
      res.once('close', () => finish('done'));
      res.once('finish', () => finish('done'));
      this.proxy.web(req, res, { target: `${ep.url}${path}`, buffer: body === undefined ? undefined : Readable.from([body]) }, (err: NodeJS.ErrnoException) => {
        if (timedOut) return finish(new ProxyFailure(504, `Timed out after ${this.deps.readTimeoutMs} ms waiting for: ${fname}.`));
        if (!res.headersSent) {
          // Nothing reached the function: the replica is gone (refused, no route to it), or a kept-alive
          // connection died under the request (a replica that went away; another pod that got its IP) before
          // any answer. The buffered body makes sending it again safe, as Go's transport does for reused
          // connections.
          const reused = (req as IncomingMessage & { proxyReq?: ClientRequest }).proxyReq?.reusedSocket === true;
          if (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') return finish('refused');
          if (reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) return finish('stale');
        }
        finish(new ProxyFailure(500, `Can't reach service for: ${fname}.`));
      });
    });
  }
}
