/**
 * Names the watchdog shares with the provider's promotion lifecycle, defined here once: the provider imports
 * them through watchdog/index.ts (provider/promotion/types.ts re-exports them), as the watchdog never imports
 * the provider.
 */

/** Request header the provider sets when it re-sends a request its dispatcher handed back. The watchdog
 *  traces such a request whatever its sampling, counts it (containerless_trace_retries_total) and removes
 *  the header before the handler sees the request. */
export const RETRY_HEADER = 'x-containerless-retry';
/** Headers sent with each tree (loopback POST or NATS message). Header names are case-insensitive; the
 *  watchdog writes them as `Containerless-Replica` and so on. */
export const REPLICA_HEADER = 'containerless-replica';
export const DEPLOYMENT_HEADER = 'containerless-deployment';
export const SEQ_HEADER = 'containerless-trace-seq';
/** Env: the id of the deployment this replica belongs to ('' when unset); trees from another id are refused. */
export const ENV_DEPLOYMENT = 'CONTAINERLESS_DEPLOYMENT';
/** Env: where to POST trees over loopback (local backend without NATS), and the bearer token for it. */
export const ENV_TRACE_URL = 'trace_url';
export const ENV_TRACE_TOKEN = 'trace_token';
/** The provider's loopback intake route; `trace_url` is `<provider>${INTAKE_PATH}/<namespace>/<name>`. */
export const INTAKE_PATH = '/_/containerless/traces';
