/**
 * The watchdog's public surface. The runner serves a handler in-process the way the stock OpenFaaS node22
 * template behind of-watchdog does (runner.ts lists the rules it follows); handlers written for the original
 * Containerless system get the `require('containerless')` shim (containerless-api.ts). `startWatchdog` and
 * `runWatchdogCommand` (main.ts) are the whole watchdog: config (config.ts), health and limits (server.ts),
 * tracing (tracing.ts) and, when `nats_url` is set, the NATS publisher (publisher.ts), which main.ts loads
 * only then: it is not exported here, so importing the runner never loads the NATS client. With `trace_url`
 * set instead, trees are POSTed to the provider (loopback-publisher.ts). The JetStream stream's name,
 * subjects and retention limits (trace-stream.ts) are exported without the NATS client, for the provider's
 * consumer, which creates the same stream when it comes first; contract.ts holds the header and env names
 * shared with provider/promotion/types.ts.
 */
export {
  type HandlerKind,
  type LoadedHandler,
  type OpenfaasHandler,
  type ContainerlessHandler,
  type HandlerFunction,
  type FunctionCallback,
  type LoadOptions,
  type Invocation,
  type RequestMarks,
  type RunnerOptions,
  loadHandler,
  createRunnerApp,
  FunctionEvent,
  FunctionContext,
  HandlerLoadError,
  type HandlerLoadErrorCode,
  ExecTimeoutError,
} from './runner.ts';
export {
  type ContainerlessApi,
  type ContainerlessRequest,
  type ListenCallback,
  type FormattedResponse,
  ContainerlessApiError,
  type ContainerlessApiErrorCode,
  formatResponse,
} from './containerless-api.ts';
export { type WatchdogConfig, type TracingConfig, type TraceMode, type RunnerConfig, readWatchdogConfig, readRunnerConfig, traceSubject } from './config.ts';
export { type WatchdogMetrics, createWatchdogMetrics } from './metrics.ts';
export { TracingController, type TracingOptions } from './tracing.ts';
export { createWatchdogApp, createBareWatchdogApp, type WatchdogAppDeps, type WatchdogState } from './server.ts';
export { startWatchdog, runWatchdogCommand, type RunningWatchdog, WATCHDOG_HELP } from './main.ts';
export { TreeSchedule, type TreePublisher, type TreeScheduleOptions } from './tree-publisher.ts';
export { LoopbackPublisher, type LoopbackPublisherOptions } from './loopback-publisher.ts';
export {
  TRACE_SUBJECTS,
  TRACE_STREAM,
  TRACE_STREAM_MAX_AGE_MS,
  TRACE_STREAM_MAX_MSGS_PER_SUBJECT,
  TRACE_STREAM_MAX_BYTES,
  TRACE_STREAM_DUPLICATE_WINDOW_MS,
  traceStreamConfig,
} from './trace-stream.ts';
export { RETRY_HEADER, REPLICA_HEADER, DEPLOYMENT_HEADER, SEQ_HEADER, ENV_DEPLOYMENT, ENV_TRACE_URL, ENV_TRACE_TOKEN, INTAKE_PATH } from './contract.ts';
