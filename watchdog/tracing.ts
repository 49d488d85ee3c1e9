/**
 * Tracing inside the watchdog. The handler is loaded once: instrumented (trace/'s `prepare` + `Tracer`)
 * unless tracing is off, and every request runs in that one module instance, so module-level state
 * (counters, caches, connections) is the same for traced and untraced requests, as in the stock template.
 * `choose(req)` has the tracer record a request when it is worth tracing; the others run the same code
 * without recording (the instrumented program answers exactly as the plain one: see
 * test/integration/compiler/instrumented.test.ts). With `off`, or when the handler cannot be instrumented,
 * the plain file is loaded instead. Which requests are recorded:
 *
 * - `always`: every request; `off`: none.
 * - A request the provider re-sent after its dispatcher handed it back (it carried `X-Containerless-Retry`,
 *   which the runner removed and passed on as `marks.retry`) is always traced, whatever the sampling, and
 *   counted (containerless_trace_retries_total, also when tracing is off): it took a path the compiled
 *   tree does not hold, so tracing it grows the tree and the function recompiles.
 * - `sample` (default): every request until the tree is stable (`stableAfter` traced requests in a row added
 *   nothing to it), then a `sample` share at random. A request whose shape (method, path, media type) has
 *   not been seen yet is always traced: a path through the handler cannot be known before it runs, and a new
 *   shape is the best predictor of one. A traced request that grows the tree makes it unstable again.
 *
 * `onChange` is called (at most once per turn of the event loop) when a traced request grew the tree.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Request } from 'express';
// trace/ only (the instrumenter and the tracer), not the compiler: this runs in every function's process.
import { prepare, Tracer, type TraceIR } from '../trace/index.ts';
import type { TracingConfig } from './config.ts';
import type { WatchdogMetrics } from './metrics.ts';
import { loadHandler, type Invocation, type LoadedHandler, type RequestMarks } from './runner.ts';

const MAX_SHAPES = 10_000;

export interface TracingOptions {
  dir: string;
  functionName: string;
  config: Pick<TracingConfig, 'mode' | 'sample' | 'stableAfter'>;
  metrics?: WatchdogMetrics;
  /** Called when the instrumented copy cannot be built or loaded; serving goes on without tracing. */
  log?: (line: string) => void;
  /** Default Math.random. */
  random?: () => number;
}

export class TracingController {
  /** The one module every request runs in: instrumented when tracing is on, else the plain file. */
  readonly handler: LoadedHandler;
  readonly tracer?: Tracer;
  private readonly shapes = new Set<string>();
  private quiet = 0;
  private grewSinceSnapshot = false;
  private changeScheduled = false;
  private readonly listeners: Array<() => void> = [];
  private readonly random: () => number;
  private readonly plainInvocation: Invocation;
  private readonly untracedInvocation?: Invocation;
  private readonly tracedInvocation?: Invocation;

  constructor(private readonly opts: TracingOptions) {
    this.random = opts.random ?? Math.random;
    let instrumented: { handler: LoadedHandler; tracer: Tracer } | undefined;
    if (opts.config.mode !== 'off') instrumented = this.loadInstrumented();
    // Only when there is no instrumented module: module code runs once per module, and one module serves.
    this.handler = instrumented?.handler ?? loadHandler(opts.dir);
    this.plainInvocation = { handler: this.handler };
    if (instrumented) {
      const tracer = instrumented.tracer;
      this.tracer = tracer;
      this.tracedInvocation = { handler: this.handler, around: (fn) => this.traced(fn) };
      this.untracedInvocation = { handler: this.handler, around: (fn) => tracer.runUnrecorded(fn) };
    }
    opts.metrics?.traceEnabled.set(this.tracer ? 1 : 0);
    opts.metrics?.traceStable.set(0);
  }

  /**
   * The instrumented module, or undefined (and a log line) when the source does not parse (the plain load
   * then reports it) or the instrumented module cannot be built or loaded.
   */
  private loadInstrumented(): { handler: LoadedHandler; tracer: Tracer } | undefined {
    let source: string;
    try {
      source = readFileSync(resolve(this.opts.dir, 'handler.js'), 'utf8');
    } catch {
      return undefined; // the plain load says what is missing
    }
    try {
      const prepared = prepare(source, 'handler.js');
      if (prepared.diagnostics.some((d) => d.code === 'C001')) return undefined;
      const tracer = new Tracer(prepared, this.opts.functionName);
      return { handler: loadHandler(this.opts.dir, { source: prepared.instrumented, inject: { __cl: tracer.runtime } }), tracer };
    } catch (err) {
      this.opts.log?.(`tracing off: the instrumented handler could not be built or loaded (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    }
  }

  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /** True once `stableAfter` traced requests in a row added nothing. */
  get stable(): boolean {
    return this.quiet >= this.opts.config.stableAfter;
  }

  /** Registers a listener for "the tree grew". */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Whether the tree grew since the last `snapshot()`. */
  get dirty(): boolean {
    return this.grewSinceSnapshot;
  }

  /** The merged tree so far (undefined when tracing is off), and clears `dirty`. */
  snapshot(): TraceIR | undefined {
    if (!this.tracer) return undefined;
    this.grewSinceSnapshot = false;
    return this.tracer.trace();
  }

  /** The runner's `choose`. */
  readonly choose = (req: Request, marks: RequestMarks = {}): Invocation => {
    if (marks.retry !== undefined) this.opts.metrics?.traceRetries.inc();
    if (!this.tracedInvocation || !this.untracedInvocation) return this.plainInvocation;
    return this.worthTracing(req, marks) ? this.tracedInvocation : this.untracedInvocation;
  };

  private worthTracing(req: Request, marks: RequestMarks): boolean {
    const mode = this.opts.config.mode;
    if (mode === 'off') return false;
    if (mode === 'always' || marks.retry !== undefined) {
      // Its shape is known from now on (sampling would trace it once more otherwise).
      if (mode === 'sample') this.noteShape(req);
      return true;
    }
    const fresh = this.noteShape(req);
    if (fresh || !this.stable) return true;
    return this.random() < this.opts.config.sample;
  }

  /** Records the request's shape (method, path, media type); true when it had not been seen. */
  private noteShape(req: Request): boolean {
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    const shape = `${req.method} ${req.path} ${type}`;
    if (this.shapes.has(shape) || this.shapes.size >= MAX_SHAPES) return false;
    this.shapes.add(shape);
    return true;
  }

  private async traced<T>(fn: () => Promise<T>): Promise<T> {
    const tracer = this.tracer!;
    try {
      return await tracer.run(fn);
    } finally {
      // tracer.run merges synchronously in its own finally, so lastNewSites is this request's.
      const grew = tracer.lastNewSites > 0;
      this.opts.metrics?.traced.inc();
      if (grew) {
        this.quiet = 0;
        this.grewSinceSnapshot = true;
        this.opts.metrics?.traceGrew.inc();
        this.scheduleChange();
      } else {
        this.quiet++;
      }
      this.opts.metrics?.traceStable.set(this.stable ? 1 : 0);
    }
  }

  private scheduleChange(): void {
    if (this.changeScheduled) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      for (const l of this.listeners) l();
    });
  }
}
