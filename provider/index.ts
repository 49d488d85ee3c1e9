/**
 * The provider's public surface: `startProvider` (main.ts) builds and runs the faas-provider API (app.ts, one
 * route table), the invoke proxy (proxy.ts) and the autoscaler (autoscaler.ts) over a backend (backend.ts is
 * the Backend contract; backends/local.ts and backends/kubernetes.ts implement it), configured by
 * `readConfig(env)` (config.ts). The wire format is types.ts (faas-provider's field names) with its schemas
 * in schemas.ts. `containerless up` (cli/up.ts) is the command around it.
 */
export { startProvider, providerInfo, type RunningProvider, type StartOptions, type ResolvedCredentials } from './main.ts';
export { readConfig, type ProviderConfig } from './config.ts';
export { BackendError, type Backend, type BackendErrorCode } from './backend.ts';
export type * from './types.ts';
