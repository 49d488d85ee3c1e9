import type { Prepared } from './prepare.ts';
import type { TraceIR } from './ir.ts';

export class Tracer {
  /** Inject as `__cl` when loading `prepared.instrumented`. */
  readonly runtime: unknown;
  constructor(readonly prepared: Prepared, readonly functionName: string) {
    this.runtime = {};
  }
  /** Runs one traced request; its observations merge into the tree when `fn`'s promise settles. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
  /** Requests traced so far. */
  get requests(): number {
    return 0;
  }
  /** Site ids observed for the first time by the last `run` (0 = the request took a known path). */
  get lastNewSites(): number {
    return 0;
  }
  trace(): TraceIR {
    throw new Error('not implemented yet');
  }
}
