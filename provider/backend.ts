/**
 * The contract between the provider core (HTTP API, invoke proxy, autoscaler) and a backend that runs
 * functions: `local` (watchdog processes on this machine) or `kubernetes` (Deployments and Services).
 *
 * Division of work:
 * - The core validates every payload, checks names (RFC 1123), resolves the namespace (query, then body,
 *   then the default; empty means the default), checks it against `namespaces()`, adds the label
 *   `faas_function=<name>`, and fills `invocationCount` from its own metrics. Backends receive clean input.
 * - The core owns scaling: it calls `scale()` with the replica count the autoscaler (or the API) wants and
 *   never asks a backend to decide one. A backend only starts/stops replicas to match.
 * - The core proxies invocations to one of `endpoints()`; backends only report where ready replicas listen.
 *   Endpoints must be addresses the provider may dial (loopback for `local`); tests never dial pod IPs.
 * - Errors: throw the classes below; the core maps them to HTTP (404, 409, 400, 403, 500) the way
 *   faas-netes does. Anything else is a 500 with a generic body, logged once.
 *
 * This interface grows only by additions (new optional members), so backends written against it keep
 * compiling.
 */
import type { FunctionDeployment, FunctionStatus, LogMessage } from './types.ts';

/** A deployment after the core's checks: the namespace is resolved, labels/annotations are never null. */
export interface DeploySpec extends FunctionDeployment {
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface DeployOptions {
  /** Replicas to start with (the core passes `com.openfaas.scale.min`, default 1). */
  replicas: number;
}

/** A ready replica the invoke proxy may send requests to. */
export interface Endpoint {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. The proxy appends the sub-path. */
  url: string;
  /** Replica name as it appears in logs (`instance`): a pod name, or `<fn>-<n>` for local processes. */
  instance: string;
}

/** A secret's name and namespace (GET /system/secrets lists names only). */
export interface SecretRef {
  name: string;
  namespace: string;
}

export interface SecretData extends SecretRef {
  /** The secret's bytes (from `rawValue` when it was sent, else from `value`). */
  value: Buffer;
}

/** GET /system/logs query, parsed. */
export interface LogRequest {
  name: string;
  namespace: string;
  /** Only this replica's lines, when set. */
  instance?: string;
  /** Last N lines; undefined (or <= 0 on the wire) means all. */
  tail?: number;
  /** Keep the stream open and send new lines as they come. */
  follow: boolean;
  /** Only lines at or after this time. */
  since?: Date;
}

export interface Backend {
  /** `ProviderInfo.orchestration`, e.g. `local` or `kubernetes`. */
  readonly orchestration: string;
  /** The namespace used when a request names none (`function_namespace`, default `openfaas-fn`). */
  readonly defaultNamespace: string;

  /** Loads or adopts existing state (a restarted provider loses no function). Called once before use. */
  start(): Promise<void>;
  /** Stops watching; `local` also stops its processes. Idempotent. */
  close(): Promise<void>;

  /** Namespaces functions may live in, the default among them. */
  namespaces(): Promise<string[]>;

  /** Creates a function. Throws AlreadyExistsError if it exists in that namespace, InvalidError when the
   *  backend can tell at once that it cannot run the image. */
  deploy(spec: DeploySpec, opts: DeployOptions): Promise<void>;
  /** Replaces a function's spec, keeping its replica count (replicas restart). Throws NotFoundError. */
  update(spec: DeploySpec): Promise<void>;
  /** Removes a function and its replicas. Throws NotFoundError. */
  remove(name: string, namespace: string): Promise<void>;

  /** All functions in a namespace (invocationCount left out). */
  list(namespace: string): Promise<FunctionStatus[]>;
  /** One function, or undefined if it does not exist. */
  get(name: string, namespace: string): Promise<FunctionStatus | undefined>;

  /** Sets the desired replica count (0 allowed). Throws NotFoundError. Returns once the change is accepted,
   *  not when replicas are ready: poll `endpoints()` (or use `waitForEndpoints` when present). */
  scale(name: string, namespace: string, replicas: number): Promise<void>;
  /** Ready replicas now (those whose watchdog health check passes). Throws NotFoundError. */
  endpoints(name: string, namespace: string): Promise<Endpoint[]>;
  /** Optional: resolves with the ready endpoints as soon as there is at least one; rejects when `signal`
   *  aborts, or with StartFailedError when the function's replicas keep failing to start (the proxy answers
   *  503 with its message). The core falls back to polling `endpoints()` when a backend lacks it. */
  waitForEndpoints?(name: string, namespace: string, signal: AbortSignal): Promise<Endpoint[]>;

  /** Secrets of a namespace, names only. */
  listSecrets(namespace: string): Promise<SecretRef[]>;
  /** Throws AlreadyExistsError when it exists (faas-cli `secret create --replace` relies on the 409). */
  createSecret(secret: SecretData): Promise<void>;
  /** Throws NotFoundError when it does not exist. */
  updateSecret(secret: SecretData): Promise<void>;
  /** Throws NotFoundError when it does not exist. */
  deleteSecret(name: string, namespace: string): Promise<void>;

  /** Log lines of a function's replicas. With `follow: false` the iterable ends after the lines that
   *  exist now; with `follow: true` it ends when `signal` aborts. Throws NotFoundError for an unknown
   *  function. */
  logs(req: LogRequest, signal: AbortSignal): AsyncIterable<LogMessage>;

  /** Optional (promotion): what the promotion controller needs of a deployed function, undefined when it
   *  does not exist. Backends without it never promote a function. */
  promotionInfo?(name: string, namespace: string): Promise<PromotionInfo | undefined>;
  /** Optional (promotion's cost comparison): process ids of the function's running replicas on this machine. */
  replicaPids?(name: string, namespace: string): number[];
  /** Optional (promotion): adds a line to the function's logs (GET /system/logs), e.g. from its dispatcher. */
  appendLog?(name: string, namespace: string, instance: string, text: string): void;
}

export interface PromotionInfo {
  /** Changes with every deploy and update; replicas carry it (env CONTAINERLESS_DEPLOYMENT) in their trees. */
  deployment: string;
  /** The deployed handler.js (its text is read when a build starts). */
  handlerFile: string;
  envVars: Record<string, string>;
  labels: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------
// Errors. The core maps `code` to HTTP; a message is one line meant for the API's client.

export type BackendErrorCode = 'NOT_FOUND' | 'ALREADY_EXISTS' | 'INVALID' | 'FORBIDDEN' | 'UNAVAILABLE' | 'INTERNAL';

export class BackendError extends Error {
  override readonly name: string = 'BackendError';
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** HTTP 404 (Kubernetes NotFound). */
export class NotFoundError extends BackendError {
  override readonly name = 'NotFoundError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
  }
}

/** HTTP 409 (Kubernetes AlreadyExists). */
export class AlreadyExistsError extends BackendError {
  override readonly name = 'AlreadyExistsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ALREADY_EXISTS', message, options);
  }
}

/** HTTP 400 from the core's own checks; Kubernetes Invalid maps to 422 via `status`. */
export class InvalidError extends BackendError {
  override readonly name = 'InvalidError';
  constructor(
    message: string,
    readonly status: 400 | 422 = 400,
    options?: { cause?: unknown },
  ) {
    super('INVALID', message, options);
  }
}

/** HTTP 403 (Kubernetes Forbidden). */
export class ForbiddenError extends BackendError {
  override readonly name = 'ForbiddenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('FORBIDDEN', message, options);
  }
}

/** HTTP 503: the backend cannot be reached right now. */
export class UnavailableError extends BackendError {
  override readonly name = 'UnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

/** HTTP 503 on invoke: the function's replicas keep failing to start (the message says why), so a request
 *  waiting for one is answered now rather than at the cold-start timeout. */
export class StartFailedError extends BackendError {
  override readonly name = 'StartFailedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Label helpers both backends and the core use.

export const LABEL_SCALE_MIN = 'com.openfaas.scale.min';
export const LABEL_SCALE_MAX = 'com.openfaas.scale.max';
export const LABEL_SCALE_ZERO = 'com.openfaas.scale.zero';
export const LABEL_SCALE_ZERO_DURATION = 'com.openfaas.scale.zero-duration';
export const LABEL_FAAS_FUNCTION = 'faas_function';

/** `com.openfaas.scale.min` as faas-netes reads it: a whole number >= 1, default 1. */
export function minReplicas(labels: Record<string, string> | null | undefined): number {
  const raw = labels?.[LABEL_SCALE_MIN];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return 1;
  return Math.max(1, Number(raw.trim()));
}
