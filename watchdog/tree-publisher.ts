/**
 * Where a replica's trace trees go, and when they are sent.
 *
 * `TreePublisher` is what main.ts needs of a publisher: the NATS JetStream one (publisher.ts, `nats_url`) or
 * the loopback one (loopback-publisher.ts, `trace_url`). Both take trees off the request path (`offer` only
 * queues), keep a bounded buffer, retry, and flush at shutdown.
 *
 * `TreeSchedule` decides when the current merged tree is offered. The provider decides that a function is
 * stable by counting the traced requests that did not grow its tree, so it needs the counts as well as the
 * growth:
 *
 * - when a traced request grew the tree: at once (at most once per turn of the event loop);
 * - every `trace_publish_interval`, when requests were traced since the last tree offered (the tree may be
 *   unchanged; its `requests` count is not): so a count reaches the provider within one interval;
 * - every `trace_keepalive_interval` even when nothing changed (a slow keep-alive; 0 turns it off), so a
 *   consumer that lost its state hears of the replica again. An idle replica otherwise sends nothing;
 * - at shutdown, when anything was traced since the last tree offered.
 */
import type { TraceIR } from '../trace/index.ts';
import type { TracingController } from './tracing.ts';

export interface TreePublisher {
  /** Starts background work (connecting); never throws, never blocks. */
  start(): void;
  /** Queues a tree; returns at once. A newer tree contains the older ones, so a full buffer drops the oldest. */
  offer(trace: TraceIR): void;
  /** Waits until nothing is buffered or `ms` passed; true when nothing is left. */
  flush(ms: number): Promise<boolean>;
  /** Stops sending and releases connections. */
  close(): Promise<void>;
  /** True while the destination is reachable as far as the publisher knows (a flush at shutdown is worth waiting for). */
  readonly isConnected: boolean;
  /** Trees waiting to be sent. */
  readonly buffered: number;
}

export interface TreeScheduleOptions {
  /** `trace_publish_interval` in ms; 0: trees go out only when they grow (and at shutdown). */
  intervalMs: number;
  /** `trace_keepalive_interval` in ms; 0: an unchanged tree is never sent again. */
  keepAliveMs: number;
  /** Default Date.now. */
  now?: () => number;
}

export class TreeSchedule {
  private timer?: NodeJS.Timeout;
  /** `requests` of the last tree offered; -1 before the first. */
  private lastRequests = -1;
  private lastOfferAt = 0;
  private readonly now: () => number;

  constructor(
    private readonly tracing: TracingController,
    private readonly publisher: TreePublisher,
    private readonly opts: TreeScheduleOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.tracing.onChange(() => this.offerNow());
    if (this.opts.intervalMs > 0) {
      this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
      this.timer.unref();
    }
  }

  /** Traced requests so far (0 when tracing is off). */
  private get requests(): number {
    return this.tracing.tracer?.requests ?? 0;
  }

  /** One interval's decision: send when the count moved, or when the keep-alive is due. */
  tick(): void {
    const requests = this.requests;
    if (requests === 0) return;
    const keepAliveDue = this.opts.keepAliveMs > 0 && this.now() - this.lastOfferAt >= this.opts.keepAliveMs;
    if (requests !== this.lastRequests || this.tracing.dirty || keepAliveDue) this.offerNow();
  }

  /** Offers the current tree now. */
  offerNow(): void {
    const t = this.tracing.snapshot();
    if (!t) return;
    this.publisher.offer(t);
    this.lastRequests = t.requests;
    this.lastOfferAt = this.now();
  }

  /** Stops the timer and offers the last tree when anything was traced since the last one. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const requests = this.requests;
    if (requests > 0 && (this.tracing.dirty || requests !== this.lastRequests)) this.offerNow();
  }
}
