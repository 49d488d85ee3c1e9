/**
 * The provider's public surface: the faas-provider API (createApp), a running provider (startProvider),
 * the Backend contract with its errors, the local backend, the wire types, config, and the autoscaler.
 */
export { createApp, basicAuth, type AppDeps, type Credentials } from './app.ts';
export { startProvider, readCredentials, providerInfo, type RunningProvider, type StartOptions } from './main.ts';
export {
  type Backend,
  type DeploySpec,
  type DeployOptions,
  type Endpoint,
  type LogRequest,
  type SecretRef,
  type SecretData,
  type BackendErrorCode,
  BackendError,
  NotFoundError,
  AlreadyExistsError,
  InvalidError,
  ForbiddenError,
  UnavailableError,
  StartFailedError,
  LABEL_SCALE_MIN,
  LABEL_SCALE_MAX,
  LABEL_SCALE_ZERO,
  LABEL_SCALE_ZERO_DURATION,
  LABEL_FAAS_FUNCTION,
  minReplicas,
} from './backend.ts';
export { LocalBackend, resolveFunctionDir, inspectFunctionFolder, detectReplicaKind, START_FAILURES_UNAVAILABLE, type FunctionFolder, type LocalBackendOptions, type ReplicaKind } from './backends/local.ts';
export { readConfig, parseDuration, parseIntOrDuration, ConfigError, type ProviderConfig } from './config.ts';
export { Autoscaler, RegistryLoadSource, PrometheusLoadSource, scalePolicy, decideReplicas, LABEL_SCALE_TARGET, type LoadSource, type LoadSample, type ScalePolicy } from './autoscaler.ts';
export { ProviderMetrics } from './metrics.ts';
export { Invoker, parseInvokePath, type InvokeDeps } from './proxy.ts';
export { RFC1123_LABEL, RFC1123_SUBDOMAIN, checkFunctionName, checkSecretName } from './schemas.ts';
export type * from './types.ts';
