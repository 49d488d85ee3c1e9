/**
 * The Node-vs-Rust replay that `containerless check`, the benchmarks and the tests use: trace a handler on
 * sample requests, compile the trace, start the dispatcher, and send every request to Node and to Rust,
 * comparing status, content type and body bytes (check.ts). Requests files (JSON lines) are requests.ts.
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
  type CheckOptions,
  type CheckSummary,
  type CheckIo,
} from './check.ts';
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
