/**
 * Builds a running provider: reads the config, the basic-auth secret files, the backend, the metrics
 * registry, the invoke proxy and the autoscaler; listens; stops in order (readiness first, then the
 * listener with a deadline, then the backend's replicas).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createApp, type Credentials } from './app.ts';
import { checkLocalEnvVars } from './backends/local-env.ts';
import { podNamespace } from './guard.ts';
import { Autoscaler, PrometheusLoadSource, RegistryLoadSource, type LoadSource } from './autoscaler.ts';
import type { Backend } from './backend.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesBackend } from './backends/kubernetes.ts';
import { detectReplicaKind, LocalBackend, type ReplicaKind } from './backends/local.ts';
import { ConfigError } from '../lib/index.ts';
import { readConfig, type ProviderConfig } from './config.ts';
import { ProviderMetrics } from './metrics.ts';
import { Invoker } from './proxy.ts';
import { BuildQueue, LocalCargoBuilder } from './promotion/builder.ts';
import { PromotionController, type Builds } from './promotion/controller.ts';
import { LocalDispatcherHost } from './promotion/dispatchers.ts';
import { createLoopbackIntake, newTraceKey, traceToken, TraceIntakeMetrics } from './promotion/intake.ts';
import { PromotionMetrics } from './promotion/metrics.ts';
import { TreeStore } from './promotion/trees.ts';
import { fnKey, INTAKE_PATH, type FnRef } from './promotion/types.ts';
import type { ProviderInfo } from './types.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Reads `basic-auth-user` and `basic-auth-password` from the secret folder, trimmed (faas-provider auth). */
export function readCredentials(secretMountPath: string): Credentials {
  const read = (f: string): string => {
    const p = join(secretMountPath, f);
    try {
      return readFileSync(p, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('provider', [`basic_auth=true but ${p} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
  };
  const user = read('basic-auth-user');
  const password = read('basic-auth-password');
  if (user === '' || password === '') throw new ConfigError('provider', [`basic_auth=true but the user or password file in ${secretMountPath} is empty`]);
  return { user, password };
}

export interface ResolvedCredentials extends Credentials {
  /** The folder holding basic-auth-user and basic-auth-password. */
  dir: string;
  /** True when this start generated them. */
  generated: boolean;
}

/**
 * The API's credentials: the OpenFaaS secret files in `secret_mount_path` when they are there (or when
 * that variable is set: then they must be), else `<state_dir>/auth/`, generated on the first start (user
 * `admin`, a random password; folder 0700, files 0600), as the OpenFaaS chart generates its basic-auth secret.
 */
export function resolveCredentials(config: ProviderConfig): ResolvedCredentials {
  const mounted = config.secretMountPath;
  if (config.secretMountPathSet || existsSync(join(mounted, 'basic-auth-password'))) return { ...readCredentials(mounted), dir: mounted, generated: false };
  const dir = join(config.stateDir, 'auth');
  let generated = false;
  if (!existsSync(join(dir, 'basic-auth-password'))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    // 24 random bytes: 32 characters of base64url, no characters a shell or a URL treats specially.
    writeFileSync(join(dir, 'basic-auth-user'), 'admin\n', { mode: 0o600 });
    writeFileSync(join(dir, 'basic-auth-password'), `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    generated = true;
  }
  const mode = statSync(join(dir, 'basic-auth-password')).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new ConfigError('provider', [`${join(dir, 'basic-auth-password')} can be read by other users (mode ${mode.toString(8)}); chmod 600 it`]);
  return { ...readCredentials(dir), dir, generated };
}

export function providerInfo(orchestration: string): ProviderInfo {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let sha = 'unknown';
  let commitMessage: string | undefined;
  try {
    sha =
      execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim() || sha;
    commitMessage = execFileSync('git', ['log', '-1', '--format=%s'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // not a git checkout
  }
  return { provider: 'containerless', orchestration, version: { ...(commitMessage ? { commit_message: commitMessage } : {}), sha, release: pkg.version } };
}

function localBackend(
  config: ProviderConfig,
  log?: (line: string) => void,
  replicaEnv?: (name: string, namespace: string, deployment: string) => Record<string, string>,
): Backend {
  const replica: ReplicaKind = config.localReplica === 'auto' ? detectReplicaKind() : config.localReplica;
  log?.(`local backend replicas: ${replica === 'watchdog' ? 'containerless watchdog' : 'in-process runner (provider/backends/replica.ts)'}`);
  return new LocalBackend({
    stateDir: config.stateDir,
    defaultNamespace: config.functionNamespace,
    extraNamespaces: config.extraNamespaces,
    replica,
    log,
    replicaEnv,
  });
}

/** The build queue as the controller uses it; `progress` holds each building function's latest line. */
function buildsFor(queue: BuildQueue, progress: Map<string, string>): Builds {
  return {
    keyOf: (req) => queue.builder.keyOf(req),
    cached: (key) => queue.builder.cached(key),
    build: (req) => {
      progress.set(fnKey(req.fn), '');
      return queue.submit(req).finally(() => progress.delete(fnKey(req.fn)));
    },
    progress: (fn) => progress.get(fnKey(fn)),
    cancel: (fn: FnRef) => void queue.cancel(fn),
  };
}

/** The kubeconfig comes from KUBECONFIG, then ~/.kube/config, then the pod's service account. */
function kubernetesBackend(config: ProviderConfig, env: NodeJS.ProcessEnv, log?: (line: string) => void): Backend {
  const kc = new KubeConfig();
  try {
    if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError('provider', [`backend=kubernetes but the kubeconfig cannot be read (${(err as Error).message})`]);
  }
  if (!kc.getCurrentCluster())
    throw new ConfigError('provider', ['backend=kubernetes but no cluster was found (set KUBECONFIG, or run in a pod with a service account)']);
  return new KubernetesBackend({
    kubeConfig: kc,
    defaultNamespace: config.functionNamespace,
    imagePullPolicy: config.imagePullPolicy,
    httpProbe: config.httpProbe,
    setNonRootUser: config.setNonRootUser,
    log,
  });
}

export interface RunningProvider {
  url: string;
  port: number;
  config: ProviderConfig;
  credentials?: ResolvedCredentials;
  backend: Backend;
  autoscaler: Autoscaler;
  close(): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** A backend to use instead of the local one built from env. */
  backend?: Backend;
  log?: (line: string) => void;
}

export async function startProvider(opts: StartOptions = {}): Promise<RunningProvider> {
  const env = opts.env ?? process.env;
  const config = readConfig(env);
  const log = opts.log;
  const credentials = config.basicAuth ? resolveCredentials(config) : undefined;
  // Replicas send their trace trees to this provider: over loopback with a token per function and deployment
  // (the local backend without NATS), or to JetStream when nats_url is set.
  const traceKey = newTraceKey();
  let selfUrl = '';
  const replicaEnv = (name: string, namespace: string, deployment: string): Record<string, string> => {
    if (!config.promotion) return {};
    if (config.natsUrl) return { nats_url: config.natsUrl, trace_stream: config.traceStream, trace_publish_interval: '1s' };
    return {
      trace_url: `${selfUrl}${INTAKE_PATH}/${namespace}/${name}`,
      trace_token: traceToken(traceKey, { name, namespace }, deployment),
      trace_publish_interval: '1s',
    };
  };
  const backend = opts.backend ?? (config.backend === 'kubernetes' ? kubernetesBackend(config, env, log) : localBackend(config, log, replicaEnv));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new ProviderMetrics(registry);
  const promotionMetrics = new PromotionMetrics(registry);
  const intakeMetrics = new TraceIntakeMetrics(registry);
  const buildProgress = new Map<string, string>();
  const builder = new LocalCargoBuilder();
  const warming = new AbortController();
  const queue = new BuildQueue(builder, {
    log: (line) => {
      log?.(line);
      const m = /^compile (\S+): (.*)$/.exec(line);
      if (m && buildProgress.has(m[1])) buildProgress.set(m[1], m[2]);
    },
  });
  const store = new TreeStore({ stateDir: config.stateDir, log });
  const controller = new PromotionController({
    backend,
    store,
    builds: buildsFor(queue, buildProgress),
    host: new LocalDispatcherHost({ log, pidFile: join(config.stateDir, 'promotion', 'dispatchers.json') }),
    metrics: promotionMetrics,
    config: {
      enabled: config.promotion,
      stableRequests: config.promoteStableRequests,
      compareCost: config.promoteCompareCost,
      canaryRequests: config.promoteCanaryRequests,
      fallbackWindow: config.promoteFallbackWindow,
      fallbackShare: config.promoteFallbackShare,
    },
    stateDir: config.stateDir,
    log,
  });
  const intake = createLoopbackIntake({
    key: traceKey,
    lookup: (fn) => controller.lookup(fn),
    onTree: (msg, bytes) => controller.onTree(msg, bytes),
    metrics: intakeMetrics,
    log,
  });
  let autoscaler: Autoscaler | undefined;
  const invoker = new Invoker({
    backend,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    readTimeoutMs: config.readTimeoutMs,
    coldStartTimeoutMs: config.coldStartTimeoutMs,
    maxQueuedRequests: config.maxQueuedRequests,
    maxIdleConnsPerHost: config.maxIdleConnsPerHost,
    onWake: (f) => autoscaler?.woke(f),
    router: config.promotion ? controller : undefined,
    promotionMetrics,
    log,
  });
  const source: LoadSource = config.prometheusUrl ? new PrometheusLoadSource(config.prometheusUrl) : new RegistryLoadSource(registry, metrics);
  const scaleDefaults = { target: config.scaleTarget, maxReplicas: config.maxReplicas, zeroDurationMs: config.scaleZeroDurationMs };
  autoscaler = new Autoscaler({
    backend,
    source,
    metrics,
    defaults: scaleDefaults,
    intervalMs: config.scaleIntervalMs,
    windowMs: config.scaleWindowMs,
    queued: (f) => invoker.queued(f),
    policyFor: (f, p) => controller.policyFor(f, p),
    log,
  });
  const app = createApp({
    backend,
    metrics,
    invoker,
    info: providerInfo(backend.orchestration),
    credentials,
    guard: { allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins, podNamespace: podNamespace() },
    checkSpec: config.backend === 'local' && !opts.backend ? (spec) => checkLocalEnvVars(spec.envVars) : undefined,
    logsTimeoutMs: config.writeTimeoutMs,
    scaleDefaults,
    onScaledUp: (f) => autoscaler?.woke(f),
    onScaled: (f, n) => autoscaler?.scaledByHand(f, n),
    onRemoved: (f) => metrics.forget(f),
    promotion: {
      deployed: (fn) => controller.track(fn),
      updating: (fn) => controller.updating(fn),
      updated: (fn) => controller.updated(fn),
      removed: (fn) => controller.removed(fn),
      status: (fn) => controller.status(fn),
    },
    log,
  });
  // Invocations skip express (routing and middleware cost a share of the proxy's time); the app's own
  // /function route serves the same handler for callers of createApp.
  // Timeouts are checked every second (Node's default is every 30 s, which would stretch read_timeout).
  // The listener comes first (the replicas' trace_url names its port); requests wait until the backend has
  // loaded its functions.
  let started!: () => void;
  const ready = new Promise<void>((r) => (started = r));
  let isReady = false;
  const server: Server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    if (!isReady) {
      void ready.then(() => server.emit('request', req, res));
      return;
    }
    if (req.url?.startsWith(`${INTAKE_PATH}/`)) return intake(req, res);
    if (req.url?.startsWith('/function/')) {
      backend
        .namespaces()
        .then((nss) => invoker.handle(req, res, backend.defaultNamespace, nss))
        .catch((err: unknown) => {
          log?.(`proxy: ${(err as Error).stack ?? String(err)}`);
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('internal error');
          else res.destroy();
        });
      return;
    }
    app(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.bindAddress, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // read_timeout bounds receiving a request, head and body, as Go's http.Server ReadTimeout does in
  // faas-provider: a client that announces a body and never sends it gets a 408 and its connection closed.
  // The answer may take longer (the function's own read_timeout, a followed log stream).
  server.headersTimeout = Math.min(config.readTimeoutMs, 60_000);
  server.requestTimeout = config.readTimeoutMs;
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.bindAddress === '0.0.0.0' || config.bindAddress === '::' ? '127.0.0.1' : config.bindAddress;
  selfUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let natsIntake: { close(): Promise<void> } | undefined;
  try {
    await backend.start();
    await controller.start();
    // The runtime's crates compile while functions are still being traced (once per runtime version).
    if (controller.enabled) void builder.warm({ signal: warming.signal, log });
    if (config.promotion && config.natsUrl) {
      // Only now: trees that arrive before the controller knows the deployed functions would be refused.
      const { NatsTraceIntake } = await import('./promotion/nats-intake.ts');
      const nats = new NatsTraceIntake({
        servers: config.natsUrl,
        stream: config.traceStream,
        onTree: (msg, bytes) => controller.onTree(msg, bytes),
        persist: () => store.flush(),
        metrics: intakeMetrics,
        log,
      });
      nats.start();
      natsIntake = nats;
    }
  } catch (err) {
    server.close();
    server.closeAllConnections();
    throw err;
  }
  isReady = true;
  started();
  autoscaler.start();
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    config,
    credentials,
    backend,
    autoscaler,
    close() {
      closing ??= (async () => {
        await autoscaler!.stop();
        await new Promise<void>((resolve) => {
          const deadline = setTimeout(() => server.closeAllConnections(), config.writeTimeoutMs);
          server.close(() => {
            clearTimeout(deadline);
            resolve();
          });
          server.closeIdleConnections();
        });
        invoker.close();
        warming.abort();
        await natsIntake?.close();
        await controller.close();
        await backend.close();
      })();
      return closing;
    },
  };
}
