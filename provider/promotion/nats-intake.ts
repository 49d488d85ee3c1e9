/**
 * The JetStream trace intake: the provider's durable consumer of the trees its functions' replicas publish
 * (watchdog/publisher.ts): subject `containerless.traces.<namespace>.<name>`, body the trace IR as JSON,
 * headers `Containerless-Replica`, `Containerless-Deployment`, `Containerless-Trace-Seq`.
 *
 * - `start()` never blocks and never throws: connecting retries for ever in the background (the first
 *   connection too), and so do creating the stream and the consumer; the provider serves meanwhile.
 * - The stream is created when missing, with the watchdog's retention limits (`traceStreamConfig`: 64 trees
 *   per function, 7 days, 1 GiB, discarding the oldest, a 2 minute duplicate window); a stream with no limit
 *   at all, as earlier versions made it, is given them; one with any limit set is left as its operator set it.
 * - The consumer is durable (`containerless-provider`, filter `containerless.traces.>`, explicit acks,
 *   delivering everything the stream holds the first time): a restarted provider goes on from the first
 *   tree it had not acknowledged, and with a `persist` callback (the TreeStore's flush) a tree is only
 *   acknowledged once the merged tree that holds it is on disk, so a crash loses nothing either.
 * - Every tree is acknowledged once handled, accepted or refused (refusals are counted); one whose handling
 *   threw is nak'ed and comes back after `nakDelayMs`. Merging is idempotent (trees are cumulative), so a
 *   tree delivered twice changes nothing.
 * - `close()` stops consuming, acknowledges what was handled (after `persist`) and drains the connection.
 */
import { connect, Match, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
// The stream's configuration is the watchdog's (watchdog/trace-stream.ts): whichever side comes first
// creates the same stream, with the same retention limits.
import { TRACE_STREAM, TRACE_SUBJECTS, traceStreamConfig } from '../../watchdog/index.ts';
import { validateTrace, type TraceIR } from '../../trace/index.ts';
import type { OnTree, TraceIntakeMetrics } from './intake.ts';
import { DEFAULT_MAX_TREE_BYTES, validFnRef } from './trees.ts';
import { DEPLOYMENT_HEADER, fnKey, REPLICA_HEADER, type AcceptResult, type FnRef, type RefusedReason, type TreeMessage } from './types.ts';

export const TRACE_SUBJECT_PREFIX = 'containerless.traces.';
/** The stream's default name (`trace_stream`), as the watchdog's publisher names it. */
export const DEFAULT_TRACE_STREAM = TRACE_STREAM;
export const DEFAULT_DURABLE = 'containerless-provider';

const NANOS_PER_MS = 1_000_000;

const noLimits = (c: Partial<StreamConfig>): boolean => [c.max_age, c.max_msgs_per_subject, c.max_bytes, c.max_msgs].every((n) => n === undefined || n <= 0);

/** `containerless.traces.<namespace>.<name>` as a function, or undefined for another subject. */
export function parseTraceSubject(subject: string): FnRef | undefined {
  if (!subject.startsWith(TRACE_SUBJECT_PREFIX)) return undefined;
  const parts = subject.slice(TRACE_SUBJECT_PREFIX.length).split('.');
  if (parts.length !== 2) return undefined;
  const fn = { namespace: parts[0], name: parts[1] };
  return validFnRef(fn) ? fn : undefined;
}

export interface NatsIntakeOptions {
  /** Comma-separated NATS server URLs (`nats_url`). */
  servers: string;
  onTree: OnTree;
  /** Called before acknowledging handled trees (e.g. `() => store.flush()`); acks then go out in batches. */
  persist?: () => Promise<void>;
  /** How long handled trees wait for `persist` and their ack, at most (default 1000 ms; under the consumer's ack wait). */
  ackBatchMs?: number;
  metrics?: TraceIntakeMetrics;
  /** Stream name (`trace_stream`, default CONTAINERLESS_TRACES). */
  stream?: string;
  /** Durable consumer name (default containerless-provider). */
  durable?: string;
  /** Trees larger than this are refused `too-large` (default 16 MiB). */
  maxTreeBytes?: number;
  /** Wait before a tree whose handling threw comes back (default 5000 ms). */
  nakDelayMs?: number;
  /** Wait between attempts to connect or to set up the stream and consumer (default 1000 ms). */
  reconnectWaitMs?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class NatsTraceIntake {
  private nc?: NatsConnection;
  private messages?: ConsumerMessages;
  private closed = false;
  private running?: Promise<void>;
  private readonly log: (line: string) => void;
  private readonly stream: string;
  private readonly durable: string;
  private pendingAcks: JsMsg[] = [];
  private ackTimer?: NodeJS.Timeout;
  private acking: Promise<void> = Promise.resolve();
  private consumingNow = false;
  /** Trees handled (accepted or refused) since start. */
  handled = 0;
  /** Trees nak'ed because handling them threw. */
  failed = 0;

  constructor(private readonly opts: NatsIntakeOptions) {
    this.log = opts.log ?? (() => {});
    this.stream = opts.stream ?? DEFAULT_TRACE_STREAM;
    this.durable = opts.durable ?? DEFAULT_DURABLE;
  }

  /** True while connected and consuming. */
  get consuming(): boolean {
    return this.consumingNow && !!this.nc && !this.nc.isClosed();
  }

  /** Starts connecting and consuming in the background; never throws, never blocks. */
  start(): void {
    if (this.running || this.closed) return;
    this.running = this.run().catch((err: unknown) => this.log(`trace intake (nats): stopped: ${(err as Error).message}`));
  }

  /** Stops consuming, acknowledges what was handled, drains the connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.messages?.stop();
    await this.running;
    await this.ackNow();
    const nc = this.nc;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close().catch(() => {}));
  }

  private async run(): Promise<void> {
    const wait = this.opts.reconnectWaitMs ?? 1000;
    this.log(`trace intake (nats): connecting to ${this.opts.servers} (in the background)`);
    while (!this.closed && !this.nc) {
      try {
        this.nc = await connect({
          servers: this.opts.servers.split(',').map((s) => s.trim()),
          name: 'containerless-provider trace intake',
          maxReconnectAttempts: -1,
          reconnectTimeWait: wait,
          timeout: 2000,
          waitOnFirstConnect: true,
        });
      } catch (err) {
        this.log(`trace intake (nats): cannot connect to ${this.opts.servers} (${(err as Error).message}); retrying`);
        await sleep(wait);
      }
    }
    const nc = this.nc;
    if (!nc) return;
    if (this.closed) return;
    this.log(`trace intake (nats): connected to ${nc.getServer()}`);
    void this.watchStatus(nc);
    let lastError = '';
    while (!this.closed && !nc.isClosed()) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 5000 });
        await this.ensureStream(jsm);
        await this.ensureConsumer(jsm);
        const consumer = await jetstream(nc).consumers.get(this.stream, this.durable);
        // A deleted stream or consumer ends the iteration, and the loop sets them up again.
        this.messages = await consumer.consume({ max_messages: 64, abort_on_missing_resource: true });
        if (this.closed) this.messages.stop();
        this.consumingNow = true;
        lastError = '';
        this.log(`trace intake (nats): consuming ${TRACE_SUBJECTS} from stream ${this.stream} as ${this.durable}`);
        for await (const m of this.messages) await this.handle(m);
      } catch (err) {
        const why = (err as Error).message;
        if (why !== lastError) this.log(`trace intake (nats): ${why}; retrying`);
        lastError = why;
      } finally {
        this.consumingNow = false;
        this.messages = undefined;
      }
      if (!this.closed) await sleep(wait);
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.log('trace intake (nats): disconnected');
      else if (s.type === 'reconnect') this.log(`trace intake (nats): reconnected to ${nc.getServer()}`);
    }
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    let existing;
    try {
      existing = await jsm.streams.info(this.stream);
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    if (!existing) {
      await jsm.streams.add(traceStreamConfig(this.stream));
      this.log(`trace intake (nats): created stream ${this.stream} (${TRACE_SUBJECTS}, with retention limits)`);
    } else if (noLimits(existing.config)) {
      const { name: _name, subjects: _subjects, ...limits } = traceStreamConfig(this.stream);
      await jsm.streams.update(this.stream, limits);
      this.log(`trace intake (nats): stream ${this.stream} had no retention limits; gave it the default ones`);
    }
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    try {
      await jsm.consumers.info(this.stream, this.durable);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    }
    await jsm.consumers.add(this.stream, {
      durable_name: this.durable,
      filter_subject: TRACE_SUBJECTS,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: 30_000 * NANOS_PER_MS,
      max_ack_pending: 1000,
    });
    this.log(`trace intake (nats): created durable consumer ${this.durable} on ${this.stream}`);
  }

  /** One tree: checked, handed to onTree, then acknowledged (accepted or refused) or nak'ed (it threw). */
  private async handle(m: JsMsg): Promise<void> {
    const fn = parseTraceSubject(m.subject);
    const name = fn ? fnKey(fn) : 'unknown';
    const done = (r: AcceptResult): void => {
      this.handled++;
      if (r.accepted) this.opts.metrics?.received(name, 'nats');
      else this.opts.metrics?.refused(name, r.reason);
      this.ack(m);
    };
    const refuse = (reason: RefusedReason, message: string): void => done({ accepted: false, reason, message });
    if (!fn) return refuse('function', `subject ${m.subject} names no function`);
    const max = this.opts.maxTreeBytes ?? DEFAULT_MAX_TREE_BYTES;
    if (m.data.length > max) return refuse('too-large', `the tree is ${m.data.length} bytes, over the limit of ${max}`);
    let trace: unknown;
    try {
      trace = JSON.parse(new TextDecoder().decode(m.data));
    } catch (err) {
      return refuse('schema', `the body is not JSON (${(err as Error).message})`);
    }
    const invalid = validateTrace(trace);
    if (invalid) return refuse('schema', invalid);
    // NATS header names are case-sensitive; the watchdog writes `Containerless-Replica` and so on.
    const replica = m.headers?.get(REPLICA_HEADER, Match.IgnoreCase) ?? '';
    const deployment = m.headers?.get(DEPLOYMENT_HEADER, Match.IgnoreCase) ?? '';
    const msg: TreeMessage = { fn, replica, deployment, trace: trace as TraceIR };
    let r: AcceptResult;
    try {
      r = await this.opts.onTree(msg, m.data.length);
    } catch (err) {
      this.failed++;
      this.log(`trace intake (nats): handling a tree of ${name} failed (${(err as Error).message}); it comes back later`);
      m.nak(this.opts.nakDelayMs ?? 5000);
      return;
    }
    done(r);
  }

  private ack(m: JsMsg): void {
    if (!this.opts.persist) {
      m.ack();
      return;
    }
    this.pendingAcks.push(m);
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => void this.ackNow(), this.opts.ackBatchMs ?? 1000);
    this.ackTimer.unref();
  }

  /** Persists, then acknowledges every handled tree waiting (nak'ed when persisting failed). */
  private ackNow(): Promise<void> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const next = this.acking.then(async () => {
      const batch = this.pendingAcks;
      this.pendingAcks = [];
      if (batch.length === 0) return;
      try {
        await this.opts.persist?.();
        for (const m of batch) m.ack();
      } catch (err) {
        this.log(`trace intake (nats): keeping merged trees failed (${(err as Error).message}); their trees come back later`);
        for (const m of batch) m.nak(this.opts.nakDelayMs ?? 5000);
      }
    });
    this.acking = next;
    return next;
  }
}
