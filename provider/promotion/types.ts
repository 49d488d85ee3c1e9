/**
 * The promotion lifecycle's parts and the contracts between them (provider/promotion/):
 *
 *   replicas ──trees──▶ intake (loopback HTTP, or JetStream) ──▶ FunctionTrees (merged, persisted)
 *        ▲                                                            │ stable over promote_stable_requests
 *        │ fallback re-sends (X-Containerless-Retry)                  ▼
 *   invoke proxy ◀── route ── PromotionController ◀── BuildQueue (content-addressed, one build at a time)
 *        │                          │
 *        └────────▶ dispatcher ◀────┘ DispatcherHost (local: processes; Kubernetes: a later issue)
 *
 * Each part is written against these interfaces so that the Kubernetes backend can supply its own builder
 * (a Job) and dispatcher host (a Deployment) and reuse the rest.
 */
import type { TraceIR } from '../../trace/index.ts';

/** A function in a namespace. `key` is `<name>.<namespace>`, the `function_name` label of the metrics. */
export interface FnRef {
  name: string;
  namespace: string;
}

export const fnKey = (f: FnRef): string => `${f.name}.${f.namespace}`;

// ---------------------------------------------------------------------------------------------------------
// Names shared with the watchdog and tests (exact: operators and tests rely on them). The watchdog owns them
// (watchdog/contract.ts; it cannot import the provider): the retry header the provider sets on a re-sent
// fallback, the headers and env of a replica's trees, and the loopback intake route
// (POST `${INTAKE_PATH}/<namespace>/<name>`, the trace IR as JSON, `Authorization: Bearer <trace_token>`;
// answers 202, 400 schema, 401 token, 404 function, 409 older deployment, 413).
export {
  RETRY_HEADER,
  REPLICA_HEADER,
  DEPLOYMENT_HEADER,
  SEQ_HEADER,
  ENV_DEPLOYMENT,
  ENV_TRACE_URL,
  ENV_TRACE_TOKEN,
  INTAKE_PATH,
} from '../../watchdog/index.ts';

/** Labels. */
export const LABEL_PROMOTE = 'com.containerless.promote';
export const LABEL_NODE_MIN = 'com.containerless.node-min';

// ---------------------------------------------------------------------------------------------------------
// Trees

/** Why a tree was refused (the `reason` label of containerless_traces_refused_total). */
export type RefusedReason = 'schema' | 'deployment' | 'source' | 'function' | 'too-large';

export type AcceptResult =
  | {
      accepted: true;
      /** The merged tree gained paths or observations (its structural size grew). */
      grew: boolean;
      /** Traced requests this tree adds over the same replica's previous one (>= 0). */
      tracedDelta: number;
    }
  | { accepted: false; reason: RefusedReason; message: string };

/** One tree as a replica sent it. */
export interface TreeMessage {
  fn: FnRef;
  replica: string;
  /** The deployment id the replica was started with (ENV_DEPLOYMENT); '' when it did not say. */
  deployment: string;
  trace: TraceIR;
}

// ---------------------------------------------------------------------------------------------------------
// Builds

export interface BuildRequest {
  fn: FnRef;
  /** The merged tree to compile. */
  trace: TraceIR;
  /** handler.js as deployed (its sha256 must be the tree's `source.sha256`). */
  source: string;
}

export type BuildResultKind = 'ok' | 'failed' | 'unsupported';

export interface BuildOutcome {
  /** sha256 over the tree, the handler's source and the runtime's version: the cache key. */
  key: string;
  result: BuildResultKind;
  /** The dispatcher binary (result 'ok'). */
  binary?: string;
  /** Seconds this build took (0 when it came from the cache). */
  seconds: number;
  /** True when the binary (or the recorded failure) came from the cache. */
  cached: boolean;
  /** Compiler diagnostics (formatted, one per line) and, for 'failed', the tail of the build's output. */
  diagnostics: string[];
  /** Generated Rust functions (0 when unsupported). */
  functions: number;
  /** A failure that may not happen again (cargo could not download, the disk was full, the compiler was
   *  killed): not kept in the cache, and the controller tries the same build again later. */
  retryable?: boolean;
  finishedAt: string;
}

/** Builds dispatchers. Local: cargo on this machine; Kubernetes (a later issue): a Job. */
export interface DispatcherBuilder {
  /** The cache key a build of this request would have (no build). */
  keyOf(req: BuildRequest): string;
  /** A finished build of this key, if the cache holds one (a restart reuses it; nothing recompiles). */
  cached(key: string): Promise<BuildOutcome | undefined>;
  /** Builds (or reuses) the dispatcher. Never throws for a failing build: that is result 'failed'. */
  build(req: BuildRequest, opts: { signal?: AbortSignal; onProgress?: (line: string) => void }): Promise<BuildOutcome>;
}

// ---------------------------------------------------------------------------------------------------------
// Dispatcher replicas

export interface DispatcherStart {
  fn: FnRef;
  binary: string;
  /** The cache key of the binary: the dispatcher's version. */
  version: string;
  /** The deployment's env the dispatcher honours (exec_timeout, RAW_BODY, MAX_JSON_SIZE, MAX_RAW_SIZE,
   *  write_timeout, ...); the host adds port and bind. */
  env: Record<string, string>;
  /** Log lines of the dispatcher (stderr and stdout), for the function's logs, with the instance that wrote
   *  them (its handle's `instance`; known before the handle is, for lines written while it starts). */
  log?: (line: string, instance: string) => void;
}

export interface DispatcherHandle {
  readonly version: string;
  /** Base URL (loopback for local), no trailing slash. */
  readonly url: string;
  /** Instance name for logs, e.g. `<fn>-rust-1`. */
  readonly instance: string;
  /** Its process id when it runs on this machine (the cost comparison reads its threads' CPU time). */
  readonly pid?: number;
  /** CPU seconds (user + system) the replica has used so far; undefined when it cannot be read. */
  cpuSeconds(): number | undefined;
  /** Resident memory in bytes; undefined when it cannot be read. */
  rssBytes(): number | undefined;
  /** Resolves when the process exits (for any reason), with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; expected: boolean }>;
  /** SIGTERM (it finishes requests in flight), SIGKILL after graceMs. Resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface DispatcherHost {
  /** Starts one dispatcher replica and resolves once it answers `GET /_/ready` with 200 (rejects with the
   *  reason and the last log lines when it exits first or is not ready within the timeout). */
  start(spec: DispatcherStart, opts?: { signal?: AbortSignal; readyTimeoutMs?: number }): Promise<DispatcherHandle>;
  /** Stops every replica it started. */
  close(): Promise<void>;
  /** Optional: stops replicas an earlier provider left running (it was killed), before anything starts. */
  stopLeftovers?(): Promise<void>;
}
