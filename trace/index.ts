/**
 * What every function replica runs to trace its handler, and the trace IR it publishes. Pipeline:
 *   prepare(source)        parse with acorn, normalise to the core (normalize.ts), instrument: a tracing copy
 *                          of the code (instrument.ts)
 *   new Tracer(prepared)   the tracing runtime: inject `tracer.runtime` as the free variable `__cl` when
 *                          loading `prepared.instrumented`, and run each traced request inside `tracer.run(fn)`;
 *                          requests in flight at once trace independently
 *   tracer.trace()         the trace tree (TraceIR, ir.ts) of every request traced so far: the core with
 *                          untaken branches pruned (tree.ts), observations merged per site (merge.ts)
 *   mergeTraces(a, b)      union of two traces of the same source (several replicas)
 *   validateTrace(t)       the IR's JSON schema, for traces read from outside
 * The compiler (compiler/) turns a TraceIR into Rust; this folder imports no other component.
 */
export { prepare, type Prepared } from './prepare.ts';
export { normalize, type NormalizeResult } from './normalize.ts';
export type * as Core from './ast.ts';
export type { CoreNode, UntypedNode } from './ast.ts';
export { walkNodes } from './walk.ts';
export { Tracer } from './tracer.ts';
export { mergeTraces, validateTrace, TraceMergeError } from './tree.ts';
export { type Diagnostic, type Severity, formatDiagnostic, CODES } from './diagnostics.ts';
export { type TraceIR, type SiteObs, TRACE_VERSION, TRACE_FORMAT, TAG, BR_TRUE, BR_FALSE, BR_NULLISH, traceSchema } from './ir.ts';
