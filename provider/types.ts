/**
 * The faas-provider wire types. Field names are the JSON names on the wire (openfaas/faas-provider
 * types/*.go); optional fields are the ones Go marks `omitempty` or that clients may leave out.
 */

/** openfaas/faas-provider types.FunctionResources: Kubernetes quantities as strings ("128Mi", "100m"). */
export interface FunctionResources {
  memory?: string;
  cpu?: string;
  'nvidia.com/gpu'?: string;
  'amd.com/gpu'?: string;
  'intel.com/gpu'?: string;
}

/** Body of POST and PUT /system/functions. faas-cli may send `labels` and `annotations` as null. */
export interface FunctionDeployment {
  service: string;
  image: string;
  namespace?: string;
  envProcess?: string;
  envVars?: Record<string, string>;
  constraints?: string[];
  secrets?: string[];
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  limits?: FunctionResources | null;
  requests?: FunctionResources | null;
  readOnlyRootFilesystem?: boolean;
}

/** What GET /system/function/{name} and GET /system/functions answer (one per function). */
export interface FunctionStatus {
  name: string;
  image: string;
  namespace: string;
  envProcess?: string;
  envVars?: Record<string, string>;
  constraints?: string[];
  secrets?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  limits?: FunctionResources;
  requests?: FunctionResources;
  readOnlyRootFilesystem?: boolean;
  /** Filled in by the provider core from its metrics; backends leave it out. */
  invocationCount?: number;
  /** Desired replicas. */
  replicas?: number;
  /** Replicas that pass their readiness check. */
  availableReplicas?: number;
  /** RFC 3339 (nano) time the function was first deployed. */
  createdAt?: string;
  usage?: FunctionUsage;
  /**
   * Not an OpenFaaS field (Go clients, the gateway among them, drop it): set by the local backend while
   * replicas of the deployed spec fail to start, with the latest failure in one line. After an update that
   * cannot start, the previous version keeps serving and `availableReplicas` counts its replicas.
   */
  startFailure?: string;
}

export interface FunctionUsage {
  cpu?: number;
  totalMemoryBytes?: number;
}

/** Body of POST /system/scale-function/{name}. The gateway puts the namespace in the query string. */
export interface ScaleServiceRequest {
  serviceName?: string;
  replicas: number;
  namespace?: string;
}

/** Body of DELETE /system/functions. */
export interface DeleteFunctionRequest {
  functionName: string;
  namespace?: string;
}

/** Body of POST/PUT/DELETE /system/secrets. `rawValue` is base64 on the wire (Go []byte). */
export interface Secret {
  name: string;
  namespace?: string;
  value?: string;
  rawValue?: string;
}

/** One NDJSON line of GET /system/logs. */
export interface LogMessage {
  name: string;
  namespace: string;
  instance: string;
  /** RFC 3339 with nanoseconds. */
  timestamp: string;
  text: string;
}

/** GET /system/info */
export interface ProviderInfo {
  provider: string;
  orchestration: string;
  version: { commit_message?: string; sha: string; release: string };
}
