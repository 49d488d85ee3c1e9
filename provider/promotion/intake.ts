/**
 * The loopback trace intake: replicas of the local backend (no NATS) POST their cumulative trees to the
 * provider. Route: `POST ${INTAKE_PATH}/<namespace>/<name>`, body the trace IR as JSON, headers
 * `Authorization: Bearer <trace_token>`, `Containerless-Replica`, `Containerless-Deployment`,
 * `Containerless-Trace-Seq` (what watchdog/loopback-publisher.ts sends).
 *
 * The route is mounted before the API's basic auth (replicas do not know the admin password); a replica is
 * authorised by its token instead: `traceToken(key, fn, deployment)`, an HMAC-SHA256 of
 * `<namespace>/<name>/<deployment>` under a key only the provider holds, which the backend puts in each
 * replica's env (`trace_token`). A token therefore names one function and one deployment of it.
 *
 * Answers (one line of text): 202 accepted; 400 not trace IR (or another source); 401 bad token; 404
 * unknown function; 405 not POST; 408 body too slow; 409 an older deployment (the replica stops posting);
 * 413 too large; 415 not JSON; 500 the tree could not be handled.
 *
 * TraceIntakeMetrics counts trees on both transports (this one, `loopback`, and nats-intake.ts, `nats`):
 * `containerless_traces_received_total{function_name,transport}` for accepted trees and
 * `containerless_traces_refused_total{function_name,reason}` for refused ones.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, type Registry } from 'prom-client';
import { validateTrace, type TraceIR } from '../../trace/index.ts';
import { DEFAULT_MAX_TREE_BYTES, validFnRef } from './trees.ts';
import { DEPLOYMENT_HEADER, fnKey, INTAKE_PATH, REPLICA_HEADER, type AcceptResult, type FnRef, type RefusedReason, type TreeMessage } from './types.ts';

export type Transport = 'loopback' | 'nats';

/** What the intakes call with each tree that passed their checks: the controller's (e.g. TreeStore.accept). */
export type OnTree = (msg: TreeMessage, bytes: number) => AcceptResult | Promise<AcceptResult>;

/** Counters of trees received and refused, shared by both intakes. */
export class TraceIntakeMetrics {
  readonly receivedTotal: Counter<'function_name' | 'transport'>;
  readonly refusedTotal: Counter<'function_name' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.receivedTotal = new Counter({
      name: 'containerless_traces_received_total',
      help: "Trace trees merged into a function's tree, by transport",
      labelNames: ['function_name', 'transport'],
      registers,
    });
    this.refusedTotal = new Counter({
      name: 'containerless_traces_refused_total',
      help: 'Trace trees refused (never merged), by reason',
      labelNames: ['function_name', 'reason'],
      registers,
    });
  }

  received(functionName: string, transport: Transport): void {
    this.receivedTotal.inc({ function_name: functionName, transport });
  }

  refused(functionName: string, reason: RefusedReason): void {
    this.refusedTotal.inc({ function_name: functionName, reason });
  }
}

/** A new random key for trace tokens (the provider makes one per start, or keeps one in its state). */
export function newTraceKey(): Buffer {
  return randomBytes(32);
}

/** The bearer token a replica of `fn` at `deployment` sends: base64url HMAC-SHA256 of `<namespace>/<name>/<deployment>`. */
export function traceToken(key: Buffer | string, fn: FnRef, deployment: string): string {
  return createHmac('sha256', key).update(`${fn.namespace}/${fn.name}/${deployment}`).digest('base64url');
}

/** Constant-time check of an `Authorization` header against the token of `fn` at `deployment`. */
function authorised(header: string | undefined, key: Buffer | string, fn: FnRef, deployment: string): boolean {
  const m = /^Bearer ([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]);
  const want = Buffer.from(traceToken(key, fn, deployment));
  // Every token has the same length (43 characters), so comparing lengths first gives nothing away.
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface LoopbackIntakeOptions {
  /** The HMAC key tokens are made with (`traceToken`). */
  key: Buffer | string;
  /** The function's current deployment, or undefined when the provider does not know it (404). */
  lookup: (fn: FnRef) => { deployment: string } | undefined;
  onTree: OnTree;
  metrics?: TraceIntakeMetrics;
  /** Largest body accepted (413 above it). Default 16 MiB, the TreeStore's default cap. */
  maxBodyBytes?: number;
  /** The whole body must arrive within this (408). Default 10 s. */
  readTimeoutMs?: number;
  log?: (line: string) => void;
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** `<namespace>/<name>` after INTAKE_PATH, from the whole URL (express keeps it in `originalUrl` when mounted with `use`). */
function parsePath(req: IncomingMessage): FnRef | undefined {
  const url = ((req as { originalUrl?: string }).originalUrl ?? req.url ?? '').split('?')[0];
  if (!url.startsWith(`${INTAKE_PATH}/`)) return undefined;
  const parts = url.slice(INTAKE_PATH.length + 1).split('/');
  if (parts.length !== 2) return undefined;
  const fn = { namespace: parts[0], name: parts[1] };
  return validFnRef(fn) ? fn : undefined;
}

/**
 * The intake's HTTP handler, `(req, res) => void`, for `POST ${INTAKE_PATH}/<namespace>/<name>`; mount it
 * before the API's auth and before any body parser (it reads the body itself).
 */
export function createLoopbackIntake(opts: LoopbackIntakeOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_TREE_BYTES;
  const readTimeoutMs = opts.readTimeoutMs ?? 10_000;
  return (req, res) => {
    const answer = (status: number, text: string, extra: Record<string, string> = {}): void => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra });
      res.end(`${text}\n`);
    };
    if (req.method !== 'POST') return answer(405, 'trace intake: POST only', { allow: 'POST' });
    const fn = parsePath(req);
    if (!fn) return answer(404, `trace intake: not ${INTAKE_PATH}/<namespace>/<name>`);
    const deployment = header(req, DEPLOYMENT_HEADER) ?? '';
    if (!authorised(header(req, 'authorization'), opts.key, fn, deployment))
      return answer(401, 'trace intake: the bearer token is not the one of this function and deployment', { 'www-authenticate': 'Bearer' });
    const name = fnKey(fn);
    const refuse = (status: number, reason: RefusedReason, text: string, extra?: Record<string, string>): void => {
      opts.metrics?.refused(name, reason);
      answer(status, text, extra);
    };
    if (!opts.lookup(fn)) return refuse(404, 'function', `trace intake: no function ${name}`);
    const type = (header(req, 'content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') return refuse(415, 'schema', 'trace intake: the body must be application/json');
    const declared = Number(header(req, 'content-length') ?? NaN);
    if (declared > maxBody) return refuse(413, 'too-large', `trace intake: the tree is ${declared} bytes, over the limit of ${maxBody}`);
    const replica = header(req, REPLICA_HEADER) ?? '';
    if (replica.length > 253) return refuse(400, 'schema', 'trace intake: Containerless-Replica is longer than 253 characters');

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      // The client stalls: closing is all that is left (the answer goes first). No tree came: not counted.
      answer(408, `trace intake: the body did not arrive within ${readTimeoutMs} ms`, { connection: 'close' });
    }, readTimeoutMs);
    timer.unref();
    const stop = (): void => {
      done = true;
      clearTimeout(timer);
      req.removeListener('data', onData);
      req.resume(); // what is left is read and dropped, so the answer reaches a client still sending
    };
    const onData = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > maxBody) {
        stop();
        return refuse(413, 'too-large', `trace intake: the tree is over the limit of ${maxBody} bytes`);
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', () => stop());
    req.on('end', () => {
      if (done) return;
      stop();
      const body = Buffer.concat(chunks, size);
      let trace: unknown;
      try {
        trace = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return refuse(400, 'schema', `trace intake: the body is not JSON (${(err as Error).message})`);
      }
      const invalid = validateTrace(trace);
      if (invalid) return refuse(400, 'schema', `trace intake: ${invalid}`);
      const msg: TreeMessage = { fn, replica, deployment, trace: trace as TraceIR };
      Promise.resolve()
        .then(() => opts.onTree(msg, size))
        .then(
          (r) => {
            if (r.accepted) {
              opts.metrics?.received(name, 'loopback');
              return answer(202, r.grew ? 'accepted: the tree grew' : 'accepted');
            }
            const status = r.reason === 'deployment' ? 409 : r.reason === 'function' ? 404 : r.reason === 'too-large' ? 413 : 400;
            refuse(status, r.reason, `trace intake: refused (${r.reason}): ${r.message}`);
          },
          (err: unknown) => {
            opts.log?.(`trace intake: handling a tree of ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
            answer(500, 'trace intake: the tree could not be handled');
          },
        );
    });
  };
}
