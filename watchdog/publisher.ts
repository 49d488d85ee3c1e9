/**
 * Publishes trace trees to NATS JetStream, off the request path. `offer(tree)` only appends to a bounded
 * buffer and returns; a background pump publishes the buffer in order, each message waiting for JetStream's
 * ack, and retries what failed. NATS being slow or down therefore never delays or fails a request:
 *
 * - Connecting retries forever in the background (the first connection too); disconnections reconnect.
 * - The buffer holds at most `bufferSize` trees. Each tree is the merge of everything this replica traced
 *   so far, so a newer tree contains an older one: when the buffer is full the oldest waiting tree is
 *   dropped (counted in containerless_trace_dropped_total) and nothing traced is lost while a newer tree
 *   still goes out.
 * - A tree is only removed from the buffer when JetStream acknowledged it; a failure or a timeout leaves it
 *   at the head and it is sent again with the same `Nats-Msg-Id`, so the stream's duplicate window keeps
 *   one copy.
 * - The stream (default CONTAINERLESS_TRACES, subjects `containerless.traces.>`) is created when missing,
 *   with the retention limits of trace-stream.ts (`traceStreamConfig`: at most 64 trees per function, 7
 *   days, 1 GiB, discarding the oldest, a 2 minute duplicate window); the provider's consumer creates it
 *   with the same configuration when it comes first. An existing stream with no limit at all (as earlier
 *   versions made it) is given them; one with any limit set is left as its operator configured it.
 *
 * Message: subject `containerless.traces.<namespace>.<function>`, body the trace IR as JSON (trace/ir.ts,
 * `format: "containerless-trace"`, `version`), headers `Containerless-Replica` (the replica's name),
 * `Containerless-Deployment` (env CONTAINERLESS_DEPLOYMENT, '' when unset: the provider refuses trees of an
 * older deployment) and `Containerless-Trace-Seq` (this replica's count of trees offered, rising).
 */
import { connect } from '@nats-io/transport-node';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import type { TraceIR } from '../trace/index.ts';
import type { WatchdogMetrics } from './metrics.ts';
import type { TreePublisher } from './tree-publisher.ts';
import { hasNoLimits, traceStreamConfig, TRACE_SUBJECTS } from './trace-stream.ts';

export interface PublisherOptions {
  /** Comma-separated NATS server URLs. */
  servers: string;
  subject: string;
  stream: string;
  bufferSize: number;
  publishTimeoutMs: number;
  /** Names this replica in message ids and headers. */
  replica: string;
  /** The deployment id (env CONTAINERLESS_DEPLOYMENT), sent as `Containerless-Deployment`; '' when unset. */
  deployment?: string;
  metrics?: WatchdogMetrics;
  log?: (line: string) => void;
  /** Wait between reconnect attempts (default 1000 ms). */
  reconnectWaitMs?: number;
}

interface Pending {
  seq: number;
  data: Uint8Array;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class TracePublisher implements TreePublisher {
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private readonly queue: Pending[] = [];
  private seq = 0;
  private pumping = false;
  private closed = false;
  private connected = false;
  private streamReady = false;
  private wake?: () => void;
  private readonly log: (line: string) => void;
  /** Trees acknowledged by JetStream (also in the metrics). */
  published = 0;
  dropped = 0;

  constructor(private readonly opts: PublisherOptions) {
    this.log = opts.log ?? (() => {});
  }

  get buffered(): number {
    return this.queue.length;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Starts connecting in the background; never throws, never blocks. */
  start(): void {
    void this.connectLoop();
  }

  /** Queues a tree for publishing; drops the oldest waiting tree when the buffer is full. */
  offer(trace: TraceIR): void {
    if (this.closed) return;
    const data = new TextEncoder().encode(JSON.stringify(trace));
    this.queue.push({ seq: ++this.seq, data });
    while (this.queue.length > this.opts.bufferSize) {
      // Never the head while it is being published: its ack decides whether it leaves the queue.
      this.queue.splice(this.pumping && this.queue.length > 1 ? 1 : 0, 1);
      this.dropped++;
      this.opts.metrics?.traceDropped.inc();
    }
    this.opts.metrics?.traceBuffered.set(this.queue.length);
    this.kick();
  }

  /** Waits until the buffer is empty or `ms` passed; true when empty. */
  async flush(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.queue.length > 0 && Date.now() < deadline) await sleep(10);
    return this.queue.length === 0;
  }

  /** Stops publishing and closes the connection (drained: what NATS already took is delivered). */
  async close(): Promise<void> {
    this.closed = true;
    this.kick();
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      try {
        await nc.drain();
      } catch {
        await nc.close().catch(() => {});
      }
    }
  }

  private kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
    if (!this.pumping && this.js && this.connected && this.streamReady) void this.pump();
  }

  private async connectLoop(): Promise<void> {
    while (!this.closed && !this.nc) {
      try {
        this.nc = await connect({
          servers: this.opts.servers.split(',').map((s) => s.trim()),
          name: `containerless-watchdog ${this.opts.replica}`,
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.opts.reconnectWaitMs ?? 1000,
          timeout: 2000,
          waitOnFirstConnect: true,
        });
      } catch (err) {
        this.log(`nats: cannot connect to ${this.opts.servers} (${(err as Error).message}); retrying`);
        await sleep(this.opts.reconnectWaitMs ?? 1000);
      }
    }
    const nc = this.nc;
    if (!nc) return;
    if (this.closed) {
      await nc.close().catch(() => {});
      return;
    }
    this.setConnected(true);
    this.log(`nats: connected to ${nc.getServer()}; publishing trace trees on ${this.opts.subject}`);
    this.js = jetstream(nc, { timeout: this.opts.publishTimeoutMs });
    void this.watchStatus(nc);
    void nc.closed().then(() => this.setConnected(false));
    await this.ensureStream(nc);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.setConnected(false);
        this.log('nats: disconnected; trace trees wait in the buffer');
      } else if (s.type === 'reconnect') {
        this.setConnected(true);
        this.log(`nats: reconnected to ${nc.getServer()}`);
        if (!this.streamReady) void this.ensureStream(nc);
        this.kick();
      }
    }
  }

  private setConnected(up: boolean): void {
    this.connected = up;
    this.opts.metrics?.natsConnected.set(up ? 1 : 0);
  }

  /** Creates the stream when missing; retries while NATS is up and the stream is not there. */
  private async ensureStream(nc: NatsConnection): Promise<void> {
    while (!this.closed && !this.streamReady && !nc.isClosed()) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: this.opts.publishTimeoutMs });
        let existing: Awaited<ReturnType<typeof jsm.streams.info>> | undefined;
        try {
          existing = await jsm.streams.info(this.opts.stream);
        } catch (err) {
          // Only "no such stream" means create it; a timeout is retried below.
          if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
          existing = undefined;
        }
        if (!existing) {
          await jsm.streams.add(traceStreamConfig(this.opts.stream));
          this.log(`nats: created stream ${this.opts.stream} (${TRACE_SUBJECTS}, with retention limits)`);
        } else if (hasNoLimits(existing.config)) {
          const { name: _name, subjects: _subjects, ...limits } = traceStreamConfig(this.opts.stream);
          await jsm.streams.update(this.opts.stream, limits);
          this.log(`nats: stream ${this.opts.stream} had no retention limits; gave it the default ones`);
        }
        this.streamReady = true;
      } catch (err) {
        this.log(`nats: stream ${this.opts.stream} not ready (${(err as Error).message}); retrying`);
        await sleep(this.opts.reconnectWaitMs ?? 1000);
      }
    }
    this.kick();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let backoff = 100;
    try {
      while (!this.closed && this.queue.length > 0 && this.js) {
        if (!this.connected) {
          await new Promise<void>((r) => (this.wake = r));
          continue;
        }
        const head = this.queue[0];
        const max = this.nc?.info?.max_payload ?? Infinity;
        if (head.data.length > max) {
          this.log(`nats: trace tree ${head.seq} is ${head.data.length} bytes, over the server's max_payload ${max}; dropped`);
          this.queue.shift();
          this.dropped++;
          this.opts.metrics?.traceDropped.inc();
          continue;
        }
        const h = headers();
        h.set('Containerless-Replica', this.opts.replica);
        h.set('Containerless-Deployment', this.opts.deployment ?? '');
        h.set('Containerless-Trace-Seq', String(head.seq));
        try {
          await this.js.publish(this.opts.subject, head.data, { msgID: `${this.opts.replica}:${head.seq}`, timeout: this.opts.publishTimeoutMs, headers: h });
          if (this.queue[0] === head) this.queue.shift();
          this.published++;
          this.opts.metrics?.tracePublished.inc();
          backoff = 100;
        } catch (err) {
          this.opts.metrics?.tracePublishErrors.inc();
          this.log(`nats: publishing trace tree ${head.seq} failed (${(err as Error).message}); will retry`);
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 5000);
        }
        this.opts.metrics?.traceBuffered.set(this.queue.length);
      }
    } finally {
      this.pumping = false;
      this.opts.metrics?.traceBuffered.set(this.queue.length);
    }
    if (!this.closed && this.queue.length > 0 && this.connected) void this.pump();
  }
}
