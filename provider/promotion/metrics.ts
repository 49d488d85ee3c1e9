/**
 * The promotion lifecycle's metrics, on the provider's `/metrics` (names exact: dashboards, alerts and the
 * tests rely on them). `function_name` is `<name>.<namespace>`, as on the gateway's own series.
 *
 * - `containerless_function_requests_total{function_name,engine,fallback}`: every invocation once, by the
 *   engine whose answer the client got: `engine="rust"` for the dispatcher's, `engine="node"` otherwise;
 *   `fallback="true"` for a request the dispatcher handed back (Node answered it).
 * - `containerless_function_engine{function_name,engine}`: 1 for the engine serving the function now, 0 for
 *   the other.
 * - `containerless_compiles_total{function_name,result}` (`ok`, `failed`, `unsupported`) and
 *   `containerless_compile_seconds{function_name}` (builds that ran; cache hits are not observed).
 * - `containerless_promotions_total{function_name}`, `containerless_demotions_total{function_name,reason}`
 *   (`crash`, `sticky`, `fallback-rate`, `cost`, `update`).
 * - `containerless_fallbacks_total{function_name,kind}`: the dispatcher's give-ups by kind.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type Engine = 'node' | 'rust';

export class PromotionMetrics {
  readonly requests: Counter<'function_name' | 'engine' | 'fallback'>;
  readonly engine: Gauge<'function_name' | 'engine'>;
  readonly compiles: Counter<'function_name' | 'result'>;
  readonly compileSeconds: Histogram<'function_name'>;
  readonly promotions: Counter<'function_name'>;
  readonly demotions: Counter<'function_name' | 'reason'>;
  readonly fallbacks: Counter<'function_name' | 'kind'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'containerless_function_requests_total',
      help: 'Invocations by the engine whose answer the client got (fallback="true": the dispatcher handed it back to Node)',
      labelNames: ['function_name', 'engine', 'fallback'],
      registers,
    });
    this.engine = new Gauge({
      name: 'containerless_function_engine',
      help: '1 for the engine serving the function now',
      labelNames: ['function_name', 'engine'],
      registers,
    });
    this.compiles = new Counter({
      name: 'containerless_compiles_total',
      help: 'Dispatcher builds by result',
      labelNames: ['function_name', 'result'],
      registers,
    });
    this.compileSeconds = new Histogram({
      name: 'containerless_compile_seconds',
      help: 'Time a dispatcher build took',
      labelNames: ['function_name'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200],
      registers,
    });
    this.promotions = new Counter({
      name: 'containerless_promotions_total',
      help: 'Switches of a function to its dispatcher',
      labelNames: ['function_name'],
      registers,
    });
    this.demotions = new Counter({
      name: 'containerless_demotions_total',
      help: 'Returns of a function to Node, by reason',
      labelNames: ['function_name', 'reason'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'containerless_fallbacks_total',
      help: "The dispatcher's give-ups, by kind",
      labelNames: ['function_name', 'kind'],
      registers,
    });
  }

  served(functionName: string, engine: Engine, fallback: boolean): void {
    this.requests.inc({ function_name: functionName, engine, fallback: String(fallback) });
  }

  setEngine(functionName: string, engine: Engine): void {
    this.engine.set({ function_name: functionName, engine: 'node' }, engine === 'node' ? 1 : 0);
    this.engine.set({ function_name: functionName, engine: 'rust' }, engine === 'rust' ? 1 : 0);
  }

  /** Forgets a removed function's gauges (counters keep their history until the provider restarts). */
  forget(functionName: string): void {
    for (const engine of ['node', 'rust']) this.engine.remove({ function_name: functionName, engine });
  }
}
