/**
 * Posts trace trees to the provider over HTTP (`trace_url`), for the local backend when there is no NATS.
 * The same trees the NATS publisher sends, with the same guarantees:
 *
 * - Off the request path: `offer(tree)` serialises the tree into a one-tree slot and returns; a background
 *   pump POSTs it. Each tree is the merge of everything this replica traced so far, so only the newest one
 *   matters: a tree offered while another waits replaces it (nothing traced is lost, the newer tree holds
 *   it). At most one tree waits and one is in flight.
 * - Each POST has a timeout (`trace_publish_timeout`, 5 s). A network error, a timeout, a 5xx, a 408 or a
 *   429 is retried with back-off (100 ms doubling to 5 s), for ever, with the newest tree waiting by then.
 * - Any other 4xx means the provider refused this tree for good (400 schema, 401 token, 404 function, 413
 *   too large): it is dropped and counted (containerless_trace_dropped_total), and each status is logged
 *   once. A 409 means this replica belongs to an older deployment of the function: posting stops for good
 *   (logged once); the replica is about to be replaced.
 * - `flush(ms)` at shutdown waits for the last tree.
 *
 * Request: `POST <trace_url>` (the whole URL, e.g. `http://127.0.0.1:8080/_/containerless/traces/<ns>/<fn>`),
 * body the trace IR as JSON, headers `Content-Type: application/json`, `Authorization: Bearer <trace_token>`
 * (left out when trace_token is unset), `Containerless-Replica` (this replica's name, as on NATS),
 * `Containerless-Deployment` (env CONTAINERLESS_DEPLOYMENT, '' when unset) and `Containerless-Trace-Seq`
 * (this replica's count of trees offered, rising; trees replaced in the slot leave gaps). The token is never
 * logged.
 */
import http from 'node:http';
import https from 'node:https';
import type { TraceIR } from '../trace/index.ts';
import type { WatchdogMetrics } from './metrics.ts';
import type { TreePublisher } from './tree-publisher.ts';

export interface LoopbackPublisherOptions {
  /** Where to POST (http or https). */
  url: string;
  /** Bearer token; no Authorization header when empty or unset. */
  token?: string;
  /** Names this replica (`Containerless-Replica`). */
  replica: string;
  /** `Containerless-Deployment`; '' when unset. */
  deployment?: string;
  /** How long one POST may take before it counts as failed and is retried. */
  timeoutMs: number;
  metrics?: WatchdogMetrics;
  log?: (line: string) => void;
  /** First back-off after a failure (default 100 ms); doubles up to maxBackoffMs (default 5000 ms). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface Pending {
  seq: number;
  body: Buffer;
}

type Outcome = { kind: 'ok' } | { kind: 'retry'; why: string } | { kind: 'refused'; status: number; text: string };

const RETRYABLE_4XX = new Set([408, 429]);

export class LoopbackPublisher implements TreePublisher {
  private waiting?: Pending;
  private inFlight?: Pending;
  private seq = 0;
  private pumping = false;
  private closed = false;
  /** Set by a 409: this replica's deployment is not the function's current one. */
  private superseded = false;
  private reachable = true;
  private readonly loggedStatus = new Set<number>();
  private loggedFailure = false;
  private current?: http.ClientRequest;
  private wake?: () => void;
  private readonly agent: http.Agent;
  private readonly target: URL;
  private readonly log: (line: string) => void;
  /** Trees the provider accepted (2xx). */
  published = 0;
  /** Trees refused for good (4xx). */
  dropped = 0;

  constructor(private readonly opts: LoopbackPublisherOptions) {
    this.log = opts.log ?? (() => {});
    this.target = new URL(opts.url);
    const Agent = this.target.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
  }

  get buffered(): number {
    return (this.waiting ? 1 : 0) + (this.inFlight ? 1 : 0);
  }

  /** False after a failed POST until one succeeds, and for good after a 409. */
  get isConnected(): boolean {
    return this.reachable && !this.superseded && !this.closed;
  }

  /** True once the provider answered 409 (an older deployment): nothing more is posted. */
  get stopped(): boolean {
    return this.superseded;
  }

  start(): void {
    this.log(`trace intake: posting trace trees to ${this.target.origin}${this.target.pathname}`);
  }

  offer(trace: TraceIR): void {
    if (this.closed || this.superseded) return;
    this.waiting = { seq: ++this.seq, body: Buffer.from(JSON.stringify(trace)) };
    this.setBuffered();
    this.kick();
  }

  async flush(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.buffered > 0 && !this.superseded && Date.now() < deadline) await sleep(10);
    return this.buffered === 0 || this.superseded;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.current?.destroy(new Error('publisher closed'));
    const w = this.wake;
    this.wake = undefined;
    w?.();
    this.agent.destroy();
  }

  private setBuffered(): void {
    this.opts.metrics?.traceBuffered.set(this.buffered);
  }

  private kick(): void {
    if (!this.pumping && !this.closed) void this.pump();
  }

  /** Sleeps `ms` (less when the publisher is closed). A tree offered meanwhile waits for the back-off. */
  private pause(ms: number): Promise<void> {
    return new Promise((done) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        done();
      }, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        done();
      };
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const first = this.opts.backoffMs ?? 100;
    const max = this.opts.maxBackoffMs ?? 5000;
    let backoff = first;
    try {
      while (!this.closed && !this.superseded && (this.waiting || this.inFlight)) {
        // A newer tree replaces the one that failed: it contains it.
        if (this.waiting) {
          this.inFlight = this.waiting;
          this.waiting = undefined;
        }
        const tree = this.inFlight!;
        const outcome = await this.post(tree);
        if (this.closed) break;
        if (outcome.kind === 'ok') {
          this.inFlight = undefined;
          this.published++;
          this.opts.metrics?.tracePublished.inc();
          if (!this.reachable || this.loggedFailure) this.log(`trace intake: posting trace trees again (tree ${tree.seq} accepted)`);
          this.reachable = true;
          this.loggedFailure = false;
          backoff = first;
        } else if (outcome.kind === 'refused') {
          this.inFlight = undefined;
          this.dropped++;
          this.opts.metrics?.traceDropped.inc();
          this.reachable = true;
          if (outcome.status === 409) {
            this.superseded = true;
            this.waiting = undefined;
            this.log(
              `trace intake: the provider answered 409 for trace tree ${tree.seq} (this replica's deployment ${JSON.stringify(this.opts.deployment ?? '')} is not the function's current one): no more trees are posted${detail(outcome.text)}`,
            );
          } else if (!this.loggedStatus.has(outcome.status)) {
            this.loggedStatus.add(outcome.status);
            this.log(
              `trace intake: the provider refused trace tree ${tree.seq} with ${outcome.status}; dropped (later ${outcome.status}s are not logged)${detail(outcome.text)}`,
            );
          }
          backoff = first;
        } else {
          this.opts.metrics?.tracePublishErrors.inc();
          this.reachable = false;
          if (!this.loggedFailure) {
            this.loggedFailure = true;
            this.log(`trace intake: posting trace tree ${tree.seq} failed (${outcome.why}); retrying with back-off, the newest tree waiting`);
          }
          this.setBuffered();
          await this.pause(backoff);
          backoff = Math.min(backoff * 2, max);
        }
        this.setBuffered();
      }
    } finally {
      this.pumping = false;
      if (this.superseded || this.closed) {
        this.waiting = undefined;
        this.inFlight = undefined;
      }
      this.setBuffered();
    }
    if (!this.closed && !this.superseded && this.waiting) void this.pump();
  }

  private post(tree: Pending): Promise<Outcome> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'Content-Length': String(tree.body.length),
      'Containerless-Replica': this.opts.replica,
      'Containerless-Deployment': this.opts.deployment ?? '',
      'Containerless-Trace-Seq': String(tree.seq),
    };
    if (this.opts.token) headers.Authorization = `Bearer ${this.opts.token}`;
    const request = this.target.protocol === 'https:' ? https.request : http.request;
    return new Promise<Outcome>((done) => {
      let settled = false;
      const finish = (o: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.current = undefined;
        done(o);
      };
      const req = request(this.target, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Only the start of an answer is kept, for the log.
          if (size < 1024) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 300);
          if (status >= 200 && status < 300) finish({ kind: 'ok' });
          else if (status >= 400 && status < 500 && !RETRYABLE_4XX.has(status)) finish({ kind: 'refused', status, text });
          else finish({ kind: 'retry', why: `status ${status}${detail(text)}` });
        });
        res.on('error', (err) => finish({ kind: 'retry', why: err.message }));
      });
      this.current = req;
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      timer.unref();
      req.on('error', (err) => finish({ kind: 'retry', why: err.message }));
      req.end(tree.body);
    });
  }
}

function detail(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t ? `: ${t}` : '';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
