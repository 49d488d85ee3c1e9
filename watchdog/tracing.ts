/**
 * Tracing inside the watchdog. The plain handler and an instrumented copy (compiler `prepare` + `Tracer`)
 * are loaded side by side; `choose(req)` sends a request to the instrumented one when it is worth tracing:
 *
 * - `always`: every request; `off`: none.
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
// The instrumenter and tracer only, not the code generator: this runs in every function's process.
import type { TraceIR } from '../compiler/ir.ts';
import { prepare } from '../compiler/prepare.ts';
import { Tracer } from '../compiler/tracer.ts';
import type { TracingConfig } from './config.ts';
import type { WatchdogMetrics } from './metrics.ts';
import { loadHandler, type Invocation, type LoadedHandler } from './runner.ts';

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
  readonly plain: LoadedHandler;
  readonly instrumented?: LoadedHandler;
  readonly tracer?: Tracer;
  private readonly shapes = new Set<string>();
  private quiet = 0;
  private grewSinceSnapshot = false;
  private changeScheduled = false;
  private readonly listeners: Array<() => void> = [];
  private readonly random: () => number;
  private readonly plainInvocation: Invocation;
  private readonly tracedInvocation?: Invocation;

  constructor(private readonly opts: TracingOptions) {
    this.plain = loadHandler(opts.dir);
    this.random = opts.random ?? Math.random;
    this.plainInvocation = { handler: this.plain };
    if (opts.config.mode !== 'off') {
      try {
        const source = readFileSync(resolve(opts.dir, 'handler.js'), 'utf8');
        const prepared = prepare(source, 'handler.js');
        const tracer = new Tracer(prepared, opts.functionName);
        this.instrumented = loadHandler(opts.dir, { source: prepared.instrumented, inject: { __cl: tracer.runtime } });
        this.tracer = tracer;
        this.tracedInvocation = { handler: this.instrumented, around: (fn) => this.traced(fn) };
      } catch (err) {
        opts.log?.(`tracing off: the instrumented handler could not be built or loaded (${err instanceof Error ? err.message : String(err)})`);
      }
    }
    opts.metrics?.traceEnabled.set(this.tracer ? 1 : 0);
    opts.metrics?.traceStable.set(0);
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
  readonly choose = (req: Request): Invocation => {
    if (!this.tracedInvocation) return this.plainInvocation;
    return this.worthTracing(req) ? this.tracedInvocation : this.plainInvocation;
  };

  private worthTracing(req: Request): boolean {
    const mode = this.opts.config.mode;
    if (mode === 'always') return true;
    if (mode === 'off') return false;
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const shape = `${req.method} ${req.path} ${type}`;
    let fresh = false;
    if (!this.shapes.has(shape) && this.shapes.size < MAX_SHAPES) {
      this.shapes.add(shape);
      fresh = true;
    }
    if (fresh || !this.stable) return true;
    return this.random() < this.opts.config.sample;
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
