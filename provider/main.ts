/**
 * Builds a running provider: reads the config, the basic-auth secret files, the backend, the metrics
 * registry, the invoke proxy and the autoscaler; listens; stops in order (readiness first, then the
 * listener with a deadline, then the backend's replicas).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createApp, type Credentials } from './app.ts';
import { Autoscaler, PrometheusLoadSource, RegistryLoadSource, type LoadSource } from './autoscaler.ts';
import type { Backend } from './backend.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesBackend } from './backends/kubernetes.ts';
import { detectReplicaKind, LocalBackend, type ReplicaKind } from './backends/local.ts';
import { ConfigError, readConfig, type ProviderConfig } from './config.ts';
import { ProviderMetrics } from './metrics.ts';
import { Invoker } from './proxy.ts';
import type { ProviderInfo } from './types.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Reads `basic-auth-user` and `basic-auth-password` from the secret folder, trimmed (faas-provider auth). */
export function readCredentials(secretMountPath: string): Credentials {
  const read = (f: string): string => {
    const p = join(secretMountPath, f);
    try {
      return readFileSync(p, 'utf8').trim();
    } catch (err) {
      throw new ConfigError([`basic_auth=true but ${p} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
  };
  const user = read('basic-auth-user');
  const password = read('basic-auth-password');
  if (user === '' || password === '') throw new ConfigError([`basic_auth=true but the user or password file in ${secretMountPath} is empty`]);
  return { user, password };
}

export function providerInfo(orchestration: string): ProviderInfo {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let sha = 'unknown';
  let commitMessage: string | undefined;
  try {
    sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || sha;
    commitMessage = execFileSync('git', ['log', '-1', '--format=%s'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // not a git checkout
  }
  return { provider: 'containerless', orchestration, version: { ...(commitMessage ? { commit_message: commitMessage } : {}), sha, release: pkg.version } };
}

async function localBackend(config: ProviderConfig, env: NodeJS.ProcessEnv, log?: (line: string) => void): Promise<Backend> {
  const wanted = env.local_replica || 'auto';
  if (wanted !== 'runner' && wanted !== 'watchdog' && wanted !== 'auto') throw new ConfigError([`local_replica=${JSON.stringify(env.local_replica)} is not auto, watchdog or runner`]);
  const replica: ReplicaKind = wanted === 'auto' ? await detectReplicaKind() : wanted;
  log?.(`local backend replicas: ${replica === 'watchdog' ? 'containerless watchdog' : 'in-process runner (provider/backends/replica.ts)'}`);
  return new LocalBackend({
    stateDir: config.stateDir,
    defaultNamespace: config.functionNamespace,
    extraNamespaces: config.extraNamespaces,
    replica,
    log,
  });
}

/** The kubeconfig comes from KUBECONFIG, then ~/.kube/config, then the pod's service account. */
function kubernetesBackend(config: ProviderConfig, env: NodeJS.ProcessEnv, log?: (line: string) => void): Backend {
  const kc = new KubeConfig();
  try {
    if (env.KUBECONFIG) kc.loadFromFile(env.KUBECONFIG);
    else kc.loadFromDefault();
  } catch (err) {
    throw new ConfigError([`backend=kubernetes but the kubeconfig cannot be read (${(err as Error).message})`]);
  }
  if (!kc.getCurrentCluster()) throw new ConfigError(['backend=kubernetes but no cluster was found (set KUBECONFIG, or run in a pod with a service account)']);
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
  credentials?: Credentials;
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
  const credentials = config.basicAuth ? readCredentials(config.secretMountPath) : undefined;
  const backend = opts.backend ?? (config.backend === 'kubernetes' ? kubernetesBackend(config, env, log) : await localBackend(config, env, log));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new ProviderMetrics(registry);
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
    log,
  });
  const app = createApp({
    backend,
    metrics,
    invoker,
    info: providerInfo(backend.orchestration),
    credentials,
    logsTimeoutMs: config.writeTimeoutMs,
    scaleDefaults,
    onScaledUp: (f) => autoscaler?.woke(f),
    onRemoved: (f) => metrics.forget(f),
    log,
  });
  await backend.start();
  // Invocations skip express (routing and middleware cost a share of the proxy's time); the app's own
  // /function route serves the same handler for callers of createApp.
  const server: Server = createServer((req, res) => {
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
  // Express's server: requests may run as long as write_timeout plus the function's read_timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  autoscaler.start();
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.bindAddress === '0.0.0.0' || config.bindAddress === '::' ? '127.0.0.1' : config.bindAddress;
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
        await backend.close();
      })();
      return closing;
    },
  };
}
