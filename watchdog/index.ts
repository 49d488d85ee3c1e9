/**
 * The watchdog's public surface. The runner serves a handler in-process the way the stock OpenFaaS node22
 * template behind of-watchdog does (runner.ts lists the rules it follows); handlers written for the original
 * Containerless system get the `require('containerless')` shim (containerless-api.ts).
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
  type RunnerOptions,
  type RunnerConfig,
  loadHandler,
  createRunnerApp,
  readRunnerConfig,
  parseGoDuration,
  FunctionEvent,
  FunctionContext,
  HandlerLoadError,
  type HandlerLoadErrorCode,
  RunnerConfigError,
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
export { type WatchdogConfig, type TracingConfig, type TraceMode, WatchdogConfigError, readWatchdogConfig, traceSubject } from './config.ts';
export { type WatchdogMetrics, createWatchdogMetrics } from './metrics.ts';
export { TracingController, type TracingOptions } from './tracing.ts';
export { TracePublisher, type PublisherOptions, TRACE_SUBJECTS } from './publisher.ts';
export { createWatchdogApp, type WatchdogAppDeps, type WatchdogState } from './server.ts';
export { startWatchdog, runWatchdogCommand, type RunningWatchdog, WATCHDOG_HELP } from './main.ts';
