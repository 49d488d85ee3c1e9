/**
 * The Node-vs-Rust replay that `containerless check`, the benchmarks and the tests use: trace a handler on
 * sample requests, compile the trace, start the dispatcher, and send every request to Node and to Rust,
 * comparing status, content type and body bytes (check.ts); what a request costs in each (bench.ts, with
 * serve-node.ts serving Node's side in a process of its own). Requests files (JSON lines) are requests.ts.
 * The runtime's profile, which `optimized` builds use, is recorded on the training handlers by pgo.ts.
 */
export {
  runCheck,
  traceRequests,
  readCheckInputs,
  compareAnswers,
  Dispatcher,
  UsageError,
  CheckError,
  AbortedError,
  FALLBACK_HEADER,
  SITE_HEADER,
  DEFAULT_HOST,
  send,
  type CheckOptions,
  type CheckSummary,
  type CheckIo,
} from './check.ts';
export { runtimeProfile, pgoFor, findLlvmProfdata, trainingHandlers, TRAINING_DIR, type RuntimeProfileOptions } from './pgo.ts';
export { runBench, liveThreadsCpuNs, type BenchOptions, type BenchSummary, type BenchResult, type BenchRow, type BenchIo } from './bench.ts';
export {
  readRequests,
  parseRequests,
  validateRequestLine,
  queryString,
  toHttpRequest,
  requestLineSchema,
  RequestsFileError,
  type RequestLine,
  type RequestEntry,
  type HttpRequest,
} from './requests.ts';
