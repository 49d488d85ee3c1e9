/**
 * The `kubernetes` backend: each function is a Deployment and a Service named after it in its namespace,
 * shaped the way faas-netes makes them (labels, annotations, container, probes, secrets volume), so OpenFaaS
 * tooling and people who know faas-netes recognise them. Secrets are Opaque Secrets labelled
 * `app.kubernetes.io/managed-by=openfaas`.
 *
 * The API server is the only state: nothing is kept in the provider, so a restarted provider (or a second
 * replica of it) sees every function at once. Ready replicas come from EndpointSlices, watched per namespace
 * so the invoke path never waits on the API server.
 *
 * What the Containerless watchdog in each pod needs, beyond faas-netes's shape (all through the downward
 * API, so the Deployment is the one place they live and `toStatus` does not list them as the user's env):
 * `OPENFAAS_NAME` (the function name, from the `faas_function` label: the watchdog publishes its trace
 * trees under it, `containerless.traces.<namespace>.<name>`), `OPENFAAS_NAMESPACE` (the pod's namespace) and
 * `CONTAINERLESS_DEPLOYMENT`, from the pod template's annotation `com.containerless.deployment`: a new
 * random id on every deploy and every update, stored in the Deployment so it survives provider restarts.
 * Trees carry it, and the provider refuses trees of an older deployment. The annotation shows in the
 * function's status annotations, where the provider reads the current id. A user's env of these names is
 * replaced.
 */
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  Log,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Container,
  type V1Deployment,
  type V1EnvVar,
  type V1ResourceRequirements,
  type V1Secret,
  type V1Service,
  type V1Volume,
  type V1VolumeMount,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import {
  AlreadyExistsError,
  BackendError,
  ForbiddenError,
  InvalidError,
  LABEL_FAAS_FUNCTION,
  NotFoundError,
  UnavailableError,
  type Backend,
  type DeployOptions,
  type DeploySpec,
  type Endpoint,
  type LogRequest,
  type SecretData,
  type SecretRef,
} from '../backend.ts';
import type { FunctionResources, FunctionStatus, LogMessage } from '../types.ts';
import { ENV_DEPLOYMENT } from '../promotion/types.ts';

/** The watchdog's port in every function image (of-watchdog and ours). */
export const FUNCTION_PORT = 8080;
export const SECRETS_MOUNT = '/var/openfaas/secrets';
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
/** faas-netes adds this literal dotted key to functions that do not set it. */
const SCRAPE_ANNOTATION = 'prometheus.io.scrape';
/** Pro's namespace marker: namespaces with this annotation (or label) hold functions too. */
const NAMESPACE_MARKER = 'openfaas';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The pod template's annotation holding the deployment id (a new one per deploy and update). */
export const DEPLOYMENT_ANNOTATION = 'com.containerless.deployment';
/** Env every function container gets from the downward API (see the top of this file). */
const DOWNWARD_ENV: V1EnvVar[] = [
  { name: ENV_DEPLOYMENT, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${DEPLOYMENT_ANNOTATION}']` } } },
  { name: 'OPENFAAS_NAME', valueFrom: { fieldRef: { fieldPath: `metadata.labels['${LABEL_FAAS_FUNCTION}']` } } },
  { name: 'OPENFAAS_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
];
const DOWNWARD_NAMES = new Set(DOWNWARD_ENV.map((e) => e.name));

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  /** `function_namespace`, default `openfaas-fn`. */
  defaultNamespace: string;
  /** `image_pull_policy` for function containers (faas-netes CE always uses Always). */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** `set_nonroot_user`: run functions as UID 12000, as faas-netes does. */
  setNonRootUser?: boolean;
  /** `http_probe=false` gives faas-netes's exec probe (`cat /tmp/.lock`); default true (HTTP on the watchdog). */
  httpProbe?: boolean;
  log?: (line: string) => void;
}

interface NamespaceCache {
  /** The namespace's function Deployments. */
  functions: WatchedSet<V1Deployment>;
  /** The namespace's EndpointSlices. */
  slices: WatchedSet<V1EndpointSlice>;
  /** Resolves after the first list of both. */
  ready: Promise<void>;
  /** Called on every change. */
  waiters: Set<() => void>;
}

export class KubernetesBackend implements Backend {
  readonly orchestration = 'kubernetes';
  readonly defaultNamespace: string;
  private readonly kc: KubeConfig;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly watch: Watch;
  private readonly caches = new Map<string, NamespaceCache>();
  private nsCache?: { at: number; value: Promise<string[]> };
  private closed = false;

  constructor(private readonly opts: KubernetesBackendOptions) {
    this.kc = opts.kubeConfig;
    this.defaultNamespace = opts.defaultNamespace;
    this.apps = this.kc.makeApiClient(AppsV1Api);
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.discovery = this.kc.makeApiClient(DiscoveryV1Api);
    this.watch = new Watch(this.kc);
  }

  /** Checks that the API server answers and the function namespace exists, then watches its endpoints. */
  async start(): Promise<void> {
    try {
      await this.core.readNamespace({ name: this.defaultNamespace });
    } catch (err) {
      const e = mapError(err, `namespace ${this.defaultNamespace}`);
      if (e instanceof NotFoundError)
        throw new BackendError(
          'INTERNAL',
          `function_namespace ${this.defaultNamespace} does not exist in the cluster; create it first (kubectl create namespace ${this.defaultNamespace})`,
        );
      throw e;
    }
    await this.watched(this.defaultNamespace).ready;
    this.opts.log?.(`kubernetes backend: ${this.kc.getCurrentCluster()?.server ?? 'in-cluster'}, functions in ${this.defaultNamespace}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.caches.values()) {
      c.functions.stop();
      c.slices.stop();
      for (const w of c.waiters) w();
    }
    this.caches.clear();
  }

  /** The default namespace plus those marked `openfaas=1` (label or annotation), as OpenFaaS Pro reads
   *  them. Cached for 5 s: the invoke path asks on every request. A provider without cluster-wide rights
   *  to list namespaces serves the default one only. */
  namespaces(): Promise<string[]> {
    const now = Date.now();
    if (this.nsCache && now - this.nsCache.at < 5000) return this.nsCache.value;
    const value = (async () => {
      const out = new Set([this.defaultNamespace]);
      try {
        const list = await this.core.listNamespace();
        for (const ns of list.items) {
          const marked = ns.metadata?.labels?.[NAMESPACE_MARKER] === '1' || ns.metadata?.annotations?.[NAMESPACE_MARKER] === '1';
          if (marked && ns.metadata?.name) out.add(ns.metadata.name);
        }
      } catch (err) {
        const e = mapError(err, 'namespaces');
        if (!(e instanceof ForbiddenError)) {
          this.nsCache = undefined;
          throw e;
        }
      }
      return [...out].sort((a, b) => (a === this.defaultNamespace ? -1 : b === this.defaultNamespace ? 1 : a.localeCompare(b)));
    })();
    this.nsCache = { at: now, value };
    value.catch(() => undefined);
    return value;
  }

  async deploy(spec: DeploySpec, opts: DeployOptions): Promise<void> {
    const ns = spec.namespace;
    try {
      await this.apps.createNamespacedDeployment({ namespace: ns, body: this.deployment(spec, opts.replicas) });
    } catch (err) {
      const e = mapError(err, `function ${spec.service} in namespace ${ns}`);
      if (e instanceof AlreadyExistsError) {
        const old = await this.apps.readNamespacedDeployment({ name: spec.service, namespace: ns }).catch(() => undefined);
        if (old?.metadata?.deletionTimestamp)
          throw new AlreadyExistsError(`function ${spec.service} in namespace ${ns} is still being removed; deploy again in a moment`);
      }
      throw e;
    }
    try {
      await this.core.createNamespacedService({ namespace: ns, body: this.service(spec) });
    } catch (err) {
      const e = mapError(err, `service ${spec.service}`);
      if (e instanceof AlreadyExistsError) {
        // A Service left behind by an earlier function of the same name: take it over.
        await this.replaceService(spec);
        return;
      }
      // No half-made function: without its Service the Deployment would be unreachable in the cluster.
      await this.apps.deleteNamespacedDeployment({ name: spec.service, namespace: ns }).catch(() => undefined);
      throw e;
    }
  }

  async update(spec: DeploySpec): Promise<void> {
    const ns = spec.namespace;
    // Optimistic concurrency: the autoscaler (or another provider replica) may change the Deployment
    // between the read and the write; the API server then answers 409 Conflict and the update is redone
    // on the fresh object, keeping its replica count.
    for (let attempt = 1; ; attempt++) {
      const current = await this.readFunction(spec.service, ns);
      const next = this.deployment(spec, current.spec?.replicas ?? 1);
      next.metadata!.resourceVersion = current.metadata?.resourceVersion;
      // faas-netes's `uid` label: a new value restarts the replicas even when nothing else changed, so a
      // re-pushed image tag or an updated secret is picked up.
      next.spec!.template.metadata!.labels!.uid = String(process.hrtime.bigint());
      try {
        await this.apps.replaceNamespacedDeployment({ name: spec.service, namespace: ns, body: next });
        break;
      } catch (err) {
        if (err instanceof ApiException && err.code === 409 && attempt < 5) continue;
        throw mapError(err, `function ${spec.service} in namespace ${ns}`);
      }
    }
    await this.replaceService(spec);
  }

  async remove(name: string, namespace: string): Promise<void> {
    try {
      await this.readFunction(name, namespace);
    } catch (err) {
      // faas-netes answers 400 `Not a function` for a Deployment without the faas_function label.
      if (err instanceof NotFoundError && err.message.includes('not a function')) throw new InvalidError(`Not a function: ${err.message}`);
      throw err;
    }
    try {
      await this.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Foreground' });
    } catch (err) {
      throw mapError(err, `function ${name} in namespace ${namespace}`);
    }
    try {
      await this.core.deleteNamespacedService({ name, namespace, propagationPolicy: 'Foreground' });
    } catch (err) {
      const e = mapError(err, `service ${name}`);
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  async list(namespace: string): Promise<FunctionStatus[]> {
    try {
      const list = await this.apps.listNamespacedDeployment({ namespace, labelSelector: LABEL_FAAS_FUNCTION });
      return list.items
        .filter(isLive)
        .map((d) => toStatus(d, namespace))
        .sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      throw mapError(err, `functions in namespace ${namespace}`);
    }
  }

  async get(name: string, namespace: string): Promise<FunctionStatus | undefined> {
    try {
      const d = await this.apps.readNamespacedDeployment({ name, namespace });
      return isLive(d) ? toStatus(d, namespace) : undefined;
    } catch (err) {
      const e = mapError(err, `function ${name}`);
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  async scale(name: string, namespace: string, replicas: number): Promise<void> {
    await this.readFunction(name, namespace);
    try {
      await this.apps.patchNamespacedDeploymentScale(
        { name, namespace, body: { spec: { replicas } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      throw mapError(err, `function ${name} in namespace ${namespace}`);
    }
  }

  async endpoints(name: string, namespace: string): Promise<Endpoint[]> {
    const cache = this.watched(namespace);
    await cache.ready;
    const known = cache.functions.items.get(name);
    if (!known || !isLive(known)) {
      // The watch may not have seen a function deployed a moment ago: ask before answering 404.
      await this.readFunction(name, namespace);
    }
    return readyEndpoints(cache, name);
  }

  waitForEndpoints(name: string, namespace: string, signal: AbortSignal): Promise<Endpoint[]> {
    const cache = this.watched(namespace);
    return new Promise<Endpoint[]>((resolve, reject) => {
      const check = (): void => {
        if (signal.aborted || this.closed) {
          cache.waiters.delete(check);
          reject(signal.reason ?? new UnavailableError('the provider is stopping'));
          return;
        }
        const eps = readyEndpoints(cache, name);
        if (eps.length > 0) {
          cache.waiters.delete(check);
          resolve(eps);
        }
      };
      signal.addEventListener('abort', check, { once: true });
      cache.waiters.add(check);
      cache.ready.then(check, (err: unknown) => {
        cache.waiters.delete(check);
        reject(err);
      });
    });
  }

  async listSecrets(namespace: string): Promise<SecretRef[]> {
    try {
      const list = await this.core.listNamespacedSecret({ namespace, labelSelector: `${MANAGED_BY}=openfaas` });
      return list.items.map((s) => ({ name: s.metadata!.name!, namespace })).sort((a, b) => a.name.localeCompare(b.name));
    } catch (err) {
      throw mapError(err, `secrets in namespace ${namespace}`);
    }
  }

  async createSecret(secret: SecretData): Promise<void> {
    try {
      await this.core.createNamespacedSecret({ namespace: secret.namespace, body: secretObject(secret) });
    } catch (err) {
      throw mapError(err, `secret ${secret.name} in namespace ${secret.namespace}`);
    }
  }

  async updateSecret(secret: SecretData): Promise<void> {
    const current = await this.readSecret(secret.name, secret.namespace);
    const body = secretObject(secret);
    body.metadata!.resourceVersion = current.metadata?.resourceVersion;
    body.metadata!.labels = { ...(current.metadata?.labels ?? {}), [MANAGED_BY]: 'openfaas' };
    try {
      await this.core.replaceNamespacedSecret({ name: secret.name, namespace: secret.namespace, body });
    } catch (err) {
      throw mapError(err, `secret ${secret.name} in namespace ${secret.namespace}`);
    }
  }

  async deleteSecret(name: string, namespace: string): Promise<void> {
    await this.readSecret(name, namespace);
    try {
      await this.core.deleteNamespacedSecret({ name, namespace });
    } catch (err) {
      throw mapError(err, `secret ${name} in namespace ${namespace}`);
    }
  }

  /** Lines of the function's pods (container `<name>`), through the API server's pod log route. A pod
   *  whose log cannot be read (a node without a kubelet API, a pod still pending) is skipped and logged. */
  async *logs(req: LogRequest, signal: AbortSignal): AsyncIterable<LogMessage> {
    await this.readFunction(req.name, req.namespace);
    let pods;
    try {
      pods = await this.core.listNamespacedPod({ namespace: req.namespace, labelSelector: `${LABEL_FAAS_FUNCTION}=${req.name}` });
    } catch (err) {
      throw mapError(err, `pods of ${req.name}`);
    }
    const names = pods.items
      .filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed')
      .map((p) => p.metadata!.name!)
      .filter((n) => req.instance === undefined || n === req.instance);
    const out = new PassThrough({ objectMode: true });
    let open = names.length;
    const finished = (): void => {
      if (--open <= 0) out.end();
    };
    if (open === 0) out.end();
    const aborts: AbortController[] = [];
    const logApi = new Log(this.kc);
    for (const pod of names) {
      const lines = new LineSplitter((line) => {
        const sp = line.indexOf(' ');
        const ts = sp > 0 ? line.slice(0, sp) : new Date().toISOString();
        if (req.since && new Date(ts) < req.since) return;
        out.write({ name: req.name, namespace: req.namespace, instance: pod, timestamp: ts, text: sp > 0 ? line.slice(sp + 1) : line } satisfies LogMessage);
      });
      const sink = new PassThrough();
      sink.on('data', (d: Buffer) => lines.push(d));
      sink.on('end', () => {
        lines.flush();
        finished();
      });
      logApi
        .log(req.namespace, pod, req.name, sink, {
          follow: req.follow,
          timestamps: true,
          ...(req.tail !== undefined && req.tail > 0 ? { tailLines: req.tail } : {}),
          ...(req.since ? { sinceTime: req.since.toISOString() } : {}),
        })
        .then((ac) => aborts.push(ac))
        .catch((err: unknown) => {
          this.opts.log?.(`logs of pod ${pod}: ${(mapError(err, `pod ${pod}`) as Error).message}`);
          sink.end();
        });
    }
    const onAbort = (): void => {
      for (const a of aborts) a.abort();
      out.end();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const m of out) yield m as LogMessage;
    } finally {
      signal.removeEventListener('abort', onAbort);
      for (const a of aborts) a.abort();
    }
  }

  // -------------------------------------------------------------------------------------------------------

  /** The Deployment faas-netes would make for this spec, with the watchdog's env and a new deployment id. */
  deployment(spec: DeploySpec, replicas: number): V1Deployment {
    const name = spec.service;
    const annotations = withScrape(spec.annotations);
    const env: V1EnvVar[] = Object.entries({ ...(spec.envVars ?? {}), ...(spec.envProcess ? { fprocess: spec.envProcess } : {}) })
      .filter(([k]) => !DOWNWARD_NAMES.has(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]): V1EnvVar => ({ name: k, value: v }))
      .concat(DOWNWARD_ENV.map((e) => ({ ...e })));
    const volumes: V1Volume[] = [];
    const mounts: V1VolumeMount[] = [];
    const secrets = [...new Set(spec.secrets ?? [])].sort();
    if (secrets.length > 0) {
      volumes.push({
        name: `${name}-projected-secrets`,
        projected: { sources: secrets.map((s) => ({ secret: { name: s, items: [{ key: s, path: s }] } })) },
      });
      mounts.push({ name: `${name}-projected-secrets`, mountPath: SECRETS_MOUNT, readOnly: true });
    }
    const readOnly = spec.readOnlyRootFilesystem === true;
    if (readOnly) {
      volumes.push({ name: 'temp', emptyDir: {} });
      mounts.push({ name: 'temp', mountPath: '/tmp' });
    }
    const httpProbe = this.opts.httpProbe !== false;
    const probe = (path: string, initialDelaySeconds: number) =>
      httpProbe
        ? {
            httpGet: { path, port: FUNCTION_PORT, scheme: 'HTTP' },
            initialDelaySeconds,
            timeoutSeconds: 1,
            periodSeconds: 2,
            successThreshold: 1,
            failureThreshold: 3,
          }
        : { exec: { command: ['cat', '/tmp/.lock'] }, initialDelaySeconds, timeoutSeconds: 1, periodSeconds: 2, successThreshold: 1, failureThreshold: 3 };
    const container: V1Container = {
      name,
      image: spec.image,
      imagePullPolicy: this.opts.imagePullPolicy ?? 'Always',
      ports: [{ name: 'http', containerPort: FUNCTION_PORT, protocol: 'TCP' }],
      env,
      resources: resources(spec.limits ?? undefined, spec.requests ?? undefined),
      readinessProbe: probe('/_/ready', 0),
      livenessProbe: probe('/_/health', 2),
      securityContext: {
        readOnlyRootFilesystem: readOnly,
        allowPrivilegeEscalation: false,
        ...(this.opts.setNonRootUser ? { runAsUser: 12000 } : {}),
      },
      volumeMounts: mounts,
    };
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: spec.namespace, labels: { [LABEL_FAAS_FUNCTION]: name }, annotations },
      spec: {
        replicas,
        selector: { matchLabels: { [LABEL_FAAS_FUNCTION]: name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        revisionHistoryLimit: 10,
        template: {
          metadata: { name, labels: { ...spec.labels, [LABEL_FAAS_FUNCTION]: name }, annotations: { ...annotations, [DEPLOYMENT_ANNOTATION]: randomUUID() } },
          spec: {
            containers: [container],
            volumes,
            restartPolicy: 'Always',
            dnsPolicy: 'ClusterFirst',
            ...(constraintsToNodeSelector(spec.constraints) ?? {}),
          },
        },
      },
    };
  }

  /** The Service faas-netes would make: ClusterIP, selector faas_function, port http 8080. */
  service(spec: DeploySpec): V1Service {
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: spec.service, namespace: spec.namespace, annotations: withScrape(spec.annotations) },
      spec: {
        type: 'ClusterIP',
        selector: { [LABEL_FAAS_FUNCTION]: spec.service },
        ports: [{ name: 'http', port: FUNCTION_PORT, targetPort: FUNCTION_PORT, protocol: 'TCP' }],
      },
    };
  }

  private async replaceService(spec: DeploySpec, attempt = 1): Promise<void> {
    const ns = spec.namespace;
    try {
      const current = await this.core.readNamespacedService({ name: spec.service, namespace: ns });
      const next = this.service(spec);
      next.metadata!.resourceVersion = current.metadata?.resourceVersion;
      // clusterIP is immutable once set.
      next.spec!.clusterIP = current.spec?.clusterIP;
      next.spec!.clusterIPs = current.spec?.clusterIPs;
      await this.core.replaceNamespacedService({ name: spec.service, namespace: ns, body: next });
    } catch (err) {
      if (err instanceof ApiException && err.code === 409 && attempt < 5) return this.replaceService(spec, attempt + 1);
      const e = mapError(err, `service ${spec.service}`);
      if (!(e instanceof NotFoundError)) throw e;
      await this.core.createNamespacedService({ namespace: ns, body: this.service(spec) }).catch((err2: unknown) => {
        throw mapError(err2, `service ${spec.service}`);
      });
    }
  }

  /** The function's Deployment, or NotFoundError (also for a Deployment that is not a function). */
  private async readFunction(name: string, namespace: string): Promise<V1Deployment> {
    let d: V1Deployment;
    try {
      d = await this.apps.readNamespacedDeployment({ name, namespace });
    } catch (err) {
      const e = mapError(err, `function ${name} in namespace ${namespace}`);
      if (e instanceof NotFoundError) throw new NotFoundError(`function ${name} not found in namespace ${namespace}`);
      throw e;
    }
    if (!isFunction(d)) throw new NotFoundError(`${name} in namespace ${namespace} is a Deployment but not a function (no ${LABEL_FAAS_FUNCTION} label)`);
    if (d.metadata?.deletionTimestamp) throw new NotFoundError(`function ${name} not found in namespace ${namespace} (it is being removed)`);
    return d;
  }

  private async readSecret(name: string, namespace: string): Promise<V1Secret> {
    let s: V1Secret;
    try {
      s = await this.core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      const e = mapError(err, `secret ${name} in namespace ${namespace}`);
      if (e instanceof NotFoundError) throw new NotFoundError(`secret ${name} not found in namespace ${namespace}`);
      throw e;
    }
    if (s.metadata?.labels?.[MANAGED_BY] !== 'openfaas')
      throw new NotFoundError(`secret ${name} in namespace ${namespace} is not managed by OpenFaaS (no ${MANAGED_BY}=openfaas label)`);
    return s;
  }

  /** A namespace's functions and endpoints, kept by watches (the invoke path reads them on every request). */
  private watched(namespace: string): NamespaceCache {
    let cache = this.caches.get(namespace);
    if (cache) return cache;
    const waiters = new Set<() => void>();
    const notify = (): void => {
      for (const w of [...waiters]) w();
    };
    const ns = encodeURIComponent(namespace);
    const watchSet = <T extends { metadata?: { name?: string; resourceVersion?: string } }>(
      what: string,
      path: string,
      labelSelector: string,
      list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    ) => new WatchedSet<T>(this.watch, path, labelSelector, list, notify, (line) => this.opts.log?.(`kubernetes backend: ${what} in ${namespace}: ${line}`));
    const functions = watchSet(`functions`, `/apis/apps/v1/namespaces/${ns}/deployments`, LABEL_FAAS_FUNCTION, () =>
      this.apps.listNamespacedDeployment({ namespace, labelSelector: LABEL_FAAS_FUNCTION }),
    );
    const slices = watchSet(`endpoints`, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, SERVICE_NAME_LABEL, () =>
      this.discovery.listNamespacedEndpointSlice({ namespace, labelSelector: SERVICE_NAME_LABEL }),
    );
    const c: NamespaceCache = {
      functions,
      slices,
      waiters,
      ready: Promise.all([functions.start(), slices.start()]).then(
        () => undefined,
        (err: unknown) => {
          functions.stop();
          slices.stop();
          if (this.caches.get(namespace) === c) this.caches.delete(namespace);
          throw mapError(err, `functions in namespace ${namespace}`);
        },
      ),
    };
    c.ready.catch(() => undefined);
    this.caches.set(namespace, c);
    return c;
  }
}

/**
 * A list of objects kept current by a watch: listed once, then updated by events; a watch that ends is
 * resumed from the last resourceVersion, and one that fails (410 Gone, a dropped connection) lists again
 * after a backoff. `start` resolves after the first list.
 */
class WatchedSet<T extends { metadata?: { name?: string; resourceVersion?: string } }> {
  readonly items = new Map<string, T>();
  private abort?: AbortController;
  private stopped = false;

  constructor(
    private readonly watch: Watch,
    private readonly path: string,
    private readonly labelSelector: string,
    private readonly list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    private readonly changed: () => void,
    private readonly log: (line: string) => void,
  ) {}

  async start(): Promise<void> {
    const rv = await this.relist();
    void this.loop(rv, 250);
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async relist(): Promise<string | undefined> {
    const list = await this.list();
    this.items.clear();
    for (const o of list.items) this.items.set(o.metadata!.name!, o);
    this.changed();
    return list.metadata?.resourceVersion;
  }

  private async loop(resourceVersion: string | undefined, backoffMs: number): Promise<void> {
    if (this.stopped) return;
    let last = resourceVersion;
    let failed: unknown;
    try {
      if (last === undefined) last = await this.relist();
      await new Promise<void>((resolve) => {
        this.watch
          .watch(
            this.path,
            { labelSelector: this.labelSelector, resourceVersion: last, allowWatchBookmarks: true },
            (phase: string, obj: T) => {
              if (phase === 'ERROR') {
                failed = (obj as { message?: string }).message ?? 'watch error';
                return;
              }
              last = obj.metadata?.resourceVersion ?? last;
              if (phase === 'BOOKMARK') return;
              const key = obj.metadata!.name!;
              if (phase === 'DELETED') this.items.delete(key);
              else this.items.set(key, obj);
              this.changed();
            },
            (err: unknown) => {
              if (err && (err as Error).name !== 'AbortError') failed = err;
              resolve();
            },
          )
          .then(
            (ac) => {
              this.abort = ac;
              if (this.stopped) ac.abort();
            },
            (err: unknown) => {
              failed = err;
              resolve();
            },
          );
      });
    } catch (err) {
      failed = err;
    }
    if (this.stopped) return;
    if (failed !== undefined) {
      this.log(`watch ended (${describe(failed)}); listing again in ${backoffMs} ms`);
      setTimeout(() => void this.loop(undefined, Math.min(backoffMs * 2, 10_000)), backoffMs).unref();
    } else {
      // The server ends every watch after its timeout: resume where it stopped.
      void this.loop(last, 250);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

function readyEndpoints(cache: NamespaceCache, name: string): Endpoint[] {
  const out: Endpoint[] = [];
  for (const s of cache.slices.items.values()) {
    if (s.metadata?.labels?.[SERVICE_NAME_LABEL] !== name) continue;
    const port = s.ports?.find((p) => p.name === 'http')?.port ?? s.ports?.[0]?.port ?? FUNCTION_PORT;
    for (const ep of s.endpoints ?? []) {
      if (ep.conditions?.ready === false || ep.conditions?.terminating === true) continue;
      for (const addr of ep.addresses) {
        const host = s.addressType === 'IPv6' ? `[${addr}]` : addr;
        out.push({ url: `http://${host}:${port}`, instance: ep.targetRef?.name ?? addr });
      }
    }
  }
  return out.sort((a, b) => a.instance.localeCompare(b.instance));
}

function isFunction(d: V1Deployment): boolean {
  return d.metadata?.labels?.[LABEL_FAAS_FUNCTION] !== undefined || d.spec?.template.metadata?.labels?.[LABEL_FAAS_FUNCTION] !== undefined;
}

/** A Deployment being removed (foreground deletion waits for its pods) is already gone for the API. */
function isLive(d: V1Deployment): boolean {
  return isFunction(d) && !d.metadata?.deletionTimestamp;
}

function withScrape(annotations: Record<string, string>): Record<string, string> {
  return SCRAPE_ANNOTATION in annotations ? { ...annotations } : { ...annotations, [SCRAPE_ANNOTATION]: 'false' };
}

function resources(limits?: FunctionResources, requests?: FunctionResources): V1ResourceRequirements {
  const pick = (r?: FunctionResources): Record<string, string> | undefined => {
    if (!r) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) if (typeof v === 'string' && v !== '') out[k] = v;
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const l = pick(limits);
  const q = pick(requests);
  return { ...(l ? { limits: l } : {}), ...(q ? { requests: q } : {}) };
}

/** faas-swarm-style `key=value` constraints become a nodeSelector (faas-netes CE ignores them). */
function constraintsToNodeSelector(constraints?: string[]): { nodeSelector: Record<string, string> } | undefined {
  const sel: Record<string, string> = {};
  for (const c of constraints ?? []) {
    const m = /^\s*([^=\s]+)\s*==?\s*(\S+)\s*$/.exec(c);
    if (m) sel[m[1].replace(/^node\.labels\./, '')] = m[2];
  }
  return Object.keys(sel).length > 0 ? { nodeSelector: sel } : undefined;
}

function toStatus(d: V1Deployment, namespace: string): FunctionStatus {
  const tpl = d.spec?.template;
  const c = tpl?.spec?.containers?.[0];
  const env: Record<string, string> = {};
  let envProcess: string | undefined;
  for (const e of c?.env ?? []) {
    if (e.valueFrom) continue;
    if (e.name === 'fprocess') envProcess = e.value ?? '';
    else env[e.name] = e.value ?? '';
  }
  const secrets = (tpl?.spec?.volumes ?? [])
    .filter((v) => v.name.endsWith('-projected-secrets'))
    .flatMap((v) => v.projected?.sources ?? [])
    .map((s) => s.secret?.name)
    .filter((s): s is string => typeof s === 'string')
    .sort();
  const res = (r?: Record<string, string>): FunctionResources | undefined => {
    if (!r) return undefined;
    const out: FunctionResources = {};
    for (const [k, v] of Object.entries(r)) if (v !== '') (out as Record<string, string>)[k] = String(v);
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const status: FunctionStatus = {
    name: d.metadata!.name!,
    image: c?.image ?? '',
    namespace,
    ...(envProcess !== undefined ? { envProcess } : {}),
    ...(Object.keys(env).length > 0 ? { envVars: env } : {}),
    ...(secrets.length > 0 ? { secrets } : {}),
    labels: { ...(tpl?.metadata?.labels ?? {}) },
    annotations: { ...(tpl?.metadata?.annotations ?? {}) },
    replicas: d.spec?.replicas ?? 0,
    availableReplicas: d.status?.availableReplicas ?? 0,
    readOnlyRootFilesystem: c?.securityContext?.readOnlyRootFilesystem === true,
    createdAt: d.metadata?.creationTimestamp ? new Date(d.metadata.creationTimestamp).toISOString() : undefined,
  };
  const limits = res(c?.resources?.limits as Record<string, string> | undefined);
  const requests = res(c?.resources?.requests as Record<string, string> | undefined);
  if (limits) status.limits = limits;
  if (requests) status.requests = requests;
  if (status.createdAt === undefined) delete status.createdAt;
  return status;
}

function secretObject(secret: SecretData): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: secret.name, namespace: secret.namespace, labels: { [MANAGED_BY]: 'openfaas' } },
    data: { [secret.name]: secret.value.toString('base64') },
  };
}

function describe(err: unknown): string {
  if (err instanceof ApiException) return `HTTP ${err.code}: ${statusMessage(err)}`;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return JSON.stringify(err);
}

function statusMessage(err: ApiException<unknown>): string {
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return (body as string).split('\n')[0];
    }
  }
  const msg = (body as { message?: unknown } | undefined)?.message;
  return typeof msg === 'string' ? msg : err.message.split('\n')[0];
}

/** Maps a client-node error to the backend's error classes (the core turns them into HTTP). */
export function mapError(err: unknown, what: string): Error {
  if (err instanceof BackendError) return err;
  if (err instanceof ApiException) {
    const msg = statusMessage(err);
    switch (err.code) {
      case 404:
        return new NotFoundError(`${what}: not found`, { cause: err });
      case 409:
        return new AlreadyExistsError(`${what} already exists`, { cause: err });
      case 400:
        return new InvalidError(`${what}: ${msg}`, 400, { cause: err });
      case 422:
        return new InvalidError(`${what}: ${msg}`, 422, { cause: err });
      case 401:
        return new ForbiddenError(`${what}: the Kubernetes API did not accept the provider's credentials (401 Unauthorized)`, { cause: err });
      case 403:
        return new ForbiddenError(`${what}: the Kubernetes API refused the provider (${msg})`, { cause: err });
      default:
        if (err.code >= 500) return new UnavailableError(`${what}: the Kubernetes API answered ${err.code} (${msg})`, { cause: err });
        return new BackendError('INTERNAL', `${what}: the Kubernetes API answered ${err.code} (${msg})`, { cause: err });
    }
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? (err as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR)/.test(code)) {
    return new UnavailableError(`${what}: the Kubernetes API cannot be reached (${code})`, { cause: err });
  }
  return new BackendError('INTERNAL', `${what}: ${describe(err)}`, { cause: err });
}

/** Splits a byte stream into lines, keeping a partial last line until more comes. */
class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer): void {
    const text = this.rest + chunk.toString('utf8');
    const parts = text.split('\n');
    this.rest = parts.pop() ?? '';
    for (const p of parts) if (p !== '') this.onLine(p.replace(/\r$/, ''));
  }
  flush(): void {
    if (this.rest !== '') this.onLine(this.rest);
    this.rest = '';
  }
}
