/**
 * The compiler's public surface. Pipeline:
 *   prepare(source)            parse with acorn, normalise to the core, instrument (tracing copy of the code)
 *   new Tracer(prepared)       the tracing runtime: inject `tracer.runtime` as the free variable `__cl` when
 *                              loading `prepared.instrumented`, and run each traced request inside
 *                              `tracer.run(fn)`; requests in flight at once trace independently
 *   tracer.trace()             the merged trace tree (TraceIR) of every request traced so far
 *   mergeTraces(a, b)          union of two traces of the same source (several replicas)
 *   generateRust(trace)        the Rust crate's main.rs for the dispatcher of this function
 *   buildDispatcher(...)       cargo build, cached outside the function's folder (build.ts)
 */
export { prepare, type Prepared } from './prepare.ts';
export { Tracer } from './tracer.ts';
export { mergeTraces, validateTrace } from './tree.ts';
export { generateRust, type Generated } from './codegen.ts';
export { type Diagnostic, formatDiagnostic, CODES } from './diagnostics.ts';
export { type TraceIR, TRACE_VERSION, TRACE_FORMAT, traceSchema } from './ir.ts';
