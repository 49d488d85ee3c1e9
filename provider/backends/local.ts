/**
 * The `local` backend: each replica is a watchdog process on a loopback port of this machine.
 *
 * - A deployment's `image` is a function folder on this machine: a folder with a `handler.js` file (what the
 *   watchdog loads), or one whose `function/handler.js` is (a `faas-cli build --shrinkwrap` output
 *   `build/<fn>`, used through its `function/` folder). A relative image is resolved against `cwd` when it
 *   is deployed and stored absolute. Anything else (`/`, a file, a registry reference) is refused at deploy
 *   and at update with InvalidError (400) and the reason.
 * - A replica is `node bin/containerless.js watchdog <dir>` (or the in-process runner, `replica.ts`) with
 *   env `port`, `metrics_port` (free loopback ports), its own `TMPDIR`, `secret_mount_path` (a folder
 *   holding copies of the function's secrets, one file per secret), `fprocess` from `envProcess`, and the
 *   deployment's `envVars`, and `healthcheck_interval=0` unless those set it (the provider stops routing to a
 *   replica before it sends SIGTERM). It is ready when `GET /_/health` answers 200.
 * - A replica that exits on its own is restarted with a back-off, as a kubelet would. Replicas that keep
 *   failing to start (START_FAILURES_UNAVAILABLE in a row, none ready) make `waitForEndpoints` reject at once
 *   with StartFailedError (the proxy answers 503 with the reason) instead of waiting for a start that will
 *   not come; the latest failure is in the status (`startFailure`) and in the logs.
 * - An update rolls out as a Kubernetes Deployment with maxUnavailable 0 does: replicas of the new spec start
 *   beside the old ones, take requests once ready, and an old replica stops only when a new one is ready in
 *   its place. A new spec that cannot start leaves the last fully rolled-out one serving (an old replica that
 *   exits is started again, and a scale-up adds old ones) until an update that starts.
 * - Secrets are files `<state_dir>/secrets/<ns>/<name>`; deployments are saved in `<state_dir>/state.json`,
 *   so a restarted provider starts its functions again.
 * - Logs are the replicas' stdout and stderr lines, kept per function in a ring buffer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile, copyFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  AlreadyExistsError,
  InvalidError,
  NotFoundError,
  StartFailedError,
  type Backend,
  type DeployOptions,
  type DeploySpec,
  type Endpoint,
  type LogRequest,
  type PromotionInfo,
  type SecretData,
  type SecretRef,
} from '../backend.ts';
import { freePort } from '../../lib/index.ts';
import type { FunctionStatus, LogMessage } from '../types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export type ReplicaKind = 'watchdog' | 'runner';

/**
 * `local_replica=auto`: `containerless watchdog` when this checkout has its launcher (bin/containerless.js,
 * which serves the watchdog from a bundle or, failing that, through tsx), else the in-process runner.
 */
export function detectReplicaKind(root = ROOT): ReplicaKind {
  return existsSync(join(root, 'bin/containerless.js')) ? 'watchdog' : 'runner';
}

export interface LocalBackendOptions {
  /** Deployments, secrets and replica folders live here. */
  stateDir: string;
  defaultNamespace?: string;
  extraNamespaces?: string[];
  /** Relative images resolve against this folder (default process.cwd()). */
  cwd?: string;
  /** `watchdog`: `containerless watchdog <dir>`; `runner`: provider/backends/replica.ts; default as
   *  `local_replica=auto` (detectReplicaKind). */
  replica?: ReplicaKind;
  /** Env every replica inherits from the provider (default: PATH, HOME, LANG, TZ, CONTAINERLESS_CACHE). */
  baseEnv?: Record<string, string>;
  /** How long a replica may take to pass its first health check before it is killed (default 60 s). */
  startTimeoutMs?: number;
  /** Health checks of a ready replica: every this often (default 2 s); 3 failures in a row take it out of
   *  the endpoints until it passes again, as a readiness probe would. */
  healthIntervalMs?: number;
  /** SIGTERM to SIGKILL (default 5 s). */
  stopGraceMs?: number;
  /** Log lines kept per function (default 5000). */
  logLines?: number;
  /** Diagnostics of the backend itself (default: none). */
  log?: (line: string) => void;
  /** Further env for every replica of a function (the provider's trace intake: trace_url, trace_token), given
   *  the function and its deployment id; the deployment's own envVars cannot override it. */
  replicaEnv?: (name: string, namespace: string, deployment: string) => Record<string, string>;
}

interface SavedFunction {
  spec: DeploySpec;
  replicas: number;
  createdAt: string;
  /** The deployment id of `spec` (new at every deploy and update; absent in state saved before ids). */
  deployment?: string;
  /** The spec that serves while `spec` is rolling out or cannot start, and its deployment id. */
  previous?: DeploySpec;
  previousDeployment?: string;
}

interface Replica {
  instance: string;
  generation: number;
  /** The spec it was started with (that of `generation`). */
  spec: DeploySpec;
  port: number;
  metricsPort: number;
  child?: ChildProcess;
  ready: boolean;
  /** Passed its first health check at some point (an exit before that is a failure to start). */
  started: boolean;
  stopping: boolean;
  exited: Promise<void>;
  /** Its last output lines, for the reason when it exits before it is ready. */
  tail: string[];
}

interface LocalFunction {
  /** The deployed spec; its replicas are generation `generation`. */
  spec: DeploySpec;
  /** The deployed spec's id (a random UUID per deploy and update), in its replicas' env (CONTAINERLESS_DEPLOYMENT). */
  deployment: string;
  desired: number;
  createdAt: string;
  generation: number;
  /** The last generation that had all its replicas ready, and its spec: while a newer one is rolling out (or
   *  cannot start), its replicas keep serving. Undefined until the first generation is ready. */
  stable?: { generation: number; spec: DeploySpec; deployment: string };
  replicas: Replica[];
  nextInstance: number;
  /** Replica exits and failed starts since a replica was last ready (the restart back-off). */
  failures: number;
  /** Failed starts of the deployed generation in a row, and the latest one's reason. */
  startFailures: number;
  startFailure?: string;
  restartTimer?: NodeJS.Timeout;
  logs: LogMessage[];
  removed: boolean;
}

const key = (name: string, namespace: string): string => `${namespace}/${name}`;

/** Failed starts in a row, with no replica ready, after which a request waiting for one gets a 503 at once. */
export const START_FAILURES_UNAVAILABLE = 2;

function rfc3339Nano(ms: number, hr = 0n): string {
  const iso = new Date(ms).toISOString(); // ...T12:34:56.789Z
  const frac = (BigInt(ms % 1000) * 1_000_000n + (hr % 1_000_000n)).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/** A deployment's `image` checked as a function folder: its absolute path and the folder the watchdog serves,
 *  or why it is not one (a one-line message naming the field). */
export type FunctionFolder = { ok: true; image: string; dir: string } | { ok: false; reason: string };

/** An image that is no path on this machine but reads like `[registry/]repo[:tag][@digest]`. */
const IMAGE_REFERENCE = /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9._/-]+(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

/**
 * What the local backend runs for `image`: a folder holding a readable `handler.js` file (what the watchdog
 * loads, as the node template's entry point does), or a folder whose `function/handler.js` is one (the
 * `faas-cli build --shrinkwrap` layout), served through `function/`. A relative image is resolved against
 * `cwd`. A package.json `main` is not followed: the watchdog, like the template, loads handler.js.
 */
export function inspectFunctionFolder(image: string, cwd: string): FunctionFolder {
  const abs = isAbsolute(image) ? resolve(image) : resolve(cwd, image);
  const quoted = JSON.stringify(image);
  const handlerIn = (dir: string): boolean => {
    const file = join(dir, 'handler.js');
    try {
      if (!statSync(file).isFile()) return false;
      accessSync(file, fsConstants.R_OK);
      return true;
    } catch {
      return false;
    }
  };
  let st;
  try {
    st = statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (
      code === 'ENOENT' &&
      !isAbsolute(image) &&
      !image.startsWith('.') &&
      IMAGE_REFERENCE.test(image) &&
      (image.includes(':') || image.includes('@') || image.split('/')[0].includes('.'))
    ) {
      return {
        ok: false,
        reason: `image: ${quoted} looks like a container image; the local backend runs function folders on this machine (absolute, or relative to ${cwd})`,
      };
    }
    if (code === 'ENOENT' || code === 'ENOTDIR')
      return { ok: false, reason: `image: ${quoted}: no such folder (${abs}); the local backend runs function folders on this machine` };
    return { ok: false, reason: `image: ${quoted}: cannot read ${abs} (${code ?? 'error'})` };
  }
  if (!st.isDirectory()) return { ok: false, reason: `image: ${quoted} is a file, not a function folder (a folder with handler.js)` };
  if (handlerIn(abs)) return { ok: true, image: abs, dir: abs };
  if (handlerIn(join(abs, 'function'))) return { ok: true, image: abs, dir: join(abs, 'function') };
  return { ok: false, reason: `image: ${quoted} is not a function folder: it has no handler.js, nor function/handler.js` };
}

/** The line of a replica's output that best says why it stopped: the last one that is not a stack frame, a
 *  code excerpt's caret or Node's version footer. */
function reasonLine(tail: string[]): string | undefined {
  for (let i = tail.length - 1; i >= 0; i--) {
    const line = tail[i].trim();
    if (line === '' || /^at\s/.test(line) || /^\^+$/.test(line) || /^Node\.js v\d/.test(line) || /^[{}\[\]]$/.test(line)) continue;
    return line.length > 400 ? `${line.slice(0, 400)}...` : line;
  }
  return undefined;
}

export class LocalBackend implements Backend {
  readonly orchestration = 'local';
  readonly defaultNamespace: string;
  private readonly extraNamespaces: string[];
  private readonly fns = new Map<string, LocalFunction>();
  private readonly events = new EventEmitter();
  private readonly opts: Required<Omit<LocalBackendOptions, 'log' | 'baseEnv' | 'replicaEnv'>> & Pick<LocalBackendOptions, 'log' | 'replicaEnv'>;
  private readonly baseEnv: Record<string, string>;
  private saving: Promise<void> = Promise.resolve();
  private savingPids: Promise<void> = Promise.resolve();
  /** Running replica processes: pid -> their TMPDIR, which tells them apart from any other process. */
  private readonly pids = new Map<number, string>();
  private closed = false;

  constructor(options: LocalBackendOptions) {
    this.defaultNamespace = options.defaultNamespace ?? 'openfaas-fn';
    this.extraNamespaces = (options.extraNamespaces ?? []).filter((n) => n !== this.defaultNamespace);
    this.opts = {
      stateDir: resolve(options.stateDir),
      defaultNamespace: this.defaultNamespace,
      extraNamespaces: this.extraNamespaces,
      cwd: resolve(options.cwd ?? process.cwd()),
      replica: options.replica ?? detectReplicaKind(),
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      healthIntervalMs: options.healthIntervalMs ?? 2_000,
      stopGraceMs: options.stopGraceMs ?? 5_000,
      logLines: options.logLines ?? 5_000,
      log: options.log,
      replicaEnv: options.replicaEnv,
    };
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'TZ', 'CONTAINERLESS_CACHE']) {
      const v = process.env[k];
      if (v !== undefined) base[k] = v;
    }
    this.baseEnv = options.baseEnv ?? base;
    this.events.setMaxListeners(0);
  }

  // ------------------------------------------------------------------------------------------------------
  // lifecycle

  async start(): Promise<void> {
    await mkdir(join(this.opts.stateDir, 'secrets'), { recursive: true });
    await this.stopLeftovers();
    await rm(join(this.opts.stateDir, 'run'), { recursive: true, force: true });
    let saved: SavedFunction[] = [];
    try {
      saved = (JSON.parse(await readFile(this.statePath(), 'utf8')) as { functions: SavedFunction[] }).functions ?? [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log?.(`local: ignoring unreadable ${this.statePath()}: ${(err as Error).message}`);
    }
    for (const s of saved) {
      const fn = this.newFunction(s.spec, s.replicas, s.createdAt, s.deployment);
      if (s.previous) {
        // An update that had not rolled out: the previous spec serves until the deployed one is ready.
        fn.generation = 1;
        fn.stable = { generation: 0, spec: s.previous, deployment: s.previousDeployment ?? randomUUID() };
      }
      this.fns.set(key(s.spec.service, s.spec.namespace), fn);
      this.reconcile(fn);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.saving;
    const stops: Promise<void>[] = [];
    for (const fn of this.fns.values()) {
      clearTimeout(fn.restartTimer);
      for (const r of fn.replicas) stops.push(this.stopReplica(fn, r));
    }
    await Promise.all(stops);
    await this.savingPids;
    this.events.emit('closed');
  }

  async namespaces(): Promise<string[]> {
    return [this.defaultNamespace, ...this.extraNamespaces].sort();
  }

  // ------------------------------------------------------------------------------------------------------
  // functions

  async deploy(spec: DeploySpec, opts: DeployOptions): Promise<void> {
    const k = key(spec.service, spec.namespace);
    if (this.fns.has(k)) throw new AlreadyExistsError(`function ${spec.service} already exists in namespace ${spec.namespace}`);
    spec = this.withFunctionFolder(spec);
    const fn = this.newFunction(spec, opts.replicas, rfc3339Nano(Date.now(), process.hrtime.bigint()));
    this.fns.set(k, fn);
    this.save();
    this.reconcile(fn);
  }

  async update(spec: DeploySpec): Promise<void> {
    const fn = this.mustGet(spec.service, spec.namespace);
    fn.spec = this.withFunctionFolder(spec);
    fn.deployment = randomUUID();
    fn.generation += 1;
    fn.failures = 0;
    fn.startFailures = 0;
    fn.startFailure = undefined;
    clearTimeout(fn.restartTimer);
    fn.restartTimer = undefined;
    this.save();
    this.reconcile(fn);
  }

  async remove(name: string, namespace: string): Promise<void> {
    const fn = this.mustGet(name, namespace);
    this.fns.delete(key(name, namespace));
    fn.removed = true;
    clearTimeout(fn.restartTimer);
    this.save();
    await Promise.all(fn.replicas.map((r) => this.stopReplica(fn, r)));
    // The function is gone either way; a folder that cannot be removed now is removed at the next start.
    await rm(this.runDir(fn), { recursive: true, force: true, maxRetries: 3 }).catch((err: unknown) =>
      this.opts.log?.(`local: could not remove ${this.runDir(fn)}: ${(err as Error).message}`),
    );
  }

  async list(namespace: string): Promise<FunctionStatus[]> {
    return [...this.fns.values()].filter((f) => f.spec.namespace === namespace).map((f) => this.status(f));
  }

  async get(name: string, namespace: string): Promise<FunctionStatus | undefined> {
    const fn = this.fns.get(key(name, namespace));
    return fn ? this.status(fn) : undefined;
  }

  async scale(name: string, namespace: string, replicas: number): Promise<void> {
    const fn = this.mustGet(name, namespace);
    if (fn.desired === replicas) return;
    if (fn.desired === 0) {
      // Raised from zero: a fresh try, as a new pod would be, even if the last replicas failed to start.
      fn.startFailures = 0;
      fn.failures = 0;
      clearTimeout(fn.restartTimer);
      fn.restartTimer = undefined;
    }
    fn.desired = replicas;
    this.save();
    this.reconcile(fn);
  }

  async promotionInfo(name: string, namespace: string): Promise<PromotionInfo | undefined> {
    const fn = this.fns.get(key(name, namespace));
    if (!fn) return undefined;
    const folder = inspectFunctionFolder(fn.spec.image, this.opts.cwd);
    return {
      deployment: fn.deployment,
      handlerFile: folder.ok ? join(folder.dir, 'handler.js') : join(fn.spec.image, 'handler.js'),
      envVars: { ...(fn.spec.envVars ?? {}) },
      labels: { ...fn.spec.labels },
    };
  }

  appendLog(name: string, namespace: string, instance: string, text: string): void {
    const fn = this.fns.get(key(name, namespace));
    if (fn) this.logLine(fn, instance, text);
  }

  replicaPids(name: string, namespace: string): number[] {
    const fn = this.fns.get(key(name, namespace));
    return (fn?.replicas ?? []).flatMap((r) => (r.child?.pid !== undefined && r.child.exitCode === null && !r.stopping ? [r.child.pid] : []));
  }

  async endpoints(name: string, namespace: string): Promise<Endpoint[]> {
    return this.readyEndpoints(this.mustGet(name, namespace));
  }

  waitForEndpoints(name: string, namespace: string, signal: AbortSignal): Promise<Endpoint[]> {
    const fn = this.mustGet(name, namespace);
    const now = this.readyEndpoints(fn);
    if (now.length > 0) return Promise.resolve(now);
    const failing = this.failing(fn);
    if (failing) return Promise.reject(failing);
    return new Promise((resolveWait, reject) => {
      const k = key(name, namespace);
      const done = (): void => {
        this.events.off(`ready:${k}`, onReady);
        this.events.off('closed', onAbort);
        signal.removeEventListener('abort', onAbort);
      };
      const onReady = (): void => {
        const eps = this.fns.get(k) === fn ? this.readyEndpoints(fn) : [];
        if (eps.length === 0) {
          const err = this.failing(fn);
          if (err) {
            done();
            reject(err);
          }
          return;
        }
        done();
        resolveWait(eps);
      };
      const onAbort = (): void => {
        done();
        reject(signal.reason ?? new Error('aborted'));
      };
      if (signal.aborted) return onAbort();
      this.events.on(`ready:${k}`, onReady);
      this.events.once('closed', onAbort);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ------------------------------------------------------------------------------------------------------
  // secrets

  async listSecrets(namespace: string): Promise<SecretRef[]> {
    try {
      const names = await readdir(this.secretDir(namespace));
      return names
        .filter((n) => !n.startsWith('.'))
        .sort()
        .map((name) => ({ name, namespace }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async createSecret(secret: SecretData): Promise<void> {
    if (existsSync(this.secretPath(secret.name, secret.namespace))) {
      throw new AlreadyExistsError(`secret ${secret.name} already exists in namespace ${secret.namespace}`);
    }
    await this.writeSecret(secret);
  }

  async updateSecret(secret: SecretData): Promise<void> {
    if (!existsSync(this.secretPath(secret.name, secret.namespace))) {
      throw new NotFoundError(`secret ${secret.name} not found in namespace ${secret.namespace}`);
    }
    await this.writeSecret(secret);
    // Mounted copies follow the update, as a projected Kubernetes secret eventually does.
    for (const fn of this.fns.values()) {
      if (fn.spec.namespace === secret.namespace && fn.spec.secrets?.includes(secret.name)) {
        const dir = join(this.runDir(fn), 'secrets');
        if (existsSync(dir)) await this.atomicWrite(join(dir, secret.name), secret.value, 0o600);
      }
    }
  }

  async deleteSecret(name: string, namespace: string): Promise<void> {
    const p = this.secretPath(name, namespace);
    if (!existsSync(p)) throw new NotFoundError(`secret ${name} not found in namespace ${namespace}`);
    await rm(p);
  }

  // ------------------------------------------------------------------------------------------------------
  // logs

  async *logs(req: LogRequest, signal: AbortSignal): AsyncIterable<LogMessage> {
    const k = key(req.name, req.namespace);
    const fn = this.mustGet(req.name, req.namespace);
    const match = (m: LogMessage): boolean =>
      (req.instance === undefined || req.instance === '' || m.instance === req.instance) &&
      (req.since === undefined || Date.parse(m.timestamp) >= req.since.getTime());
    const pending: LogMessage[] = [];
    let wake: (() => void) | undefined;
    const onLine = (m: LogMessage): void => {
      if (!match(m)) return;
      pending.push(m);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    if (req.follow) {
      this.events.on(`log:${k}`, onLine);
      signal.addEventListener('abort', onAbort);
      this.events.on('closed', onAbort);
    }
    try {
      let backlog = fn.logs.filter(match);
      if (req.tail !== undefined && req.tail > 0) backlog = backlog.slice(-req.tail);
      for (const m of backlog) {
        if (signal.aborted) return;
        yield m;
      }
      if (!req.follow) return;
      while (!signal.aborted && !this.closed) {
        while (pending.length > 0) yield pending.shift()!;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      this.events.off(`log:${k}`, onLine);
      this.events.off('closed', onAbort);
      signal.removeEventListener('abort', onAbort);
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // internals

  private newFunction(spec: DeploySpec, replicas: number, createdAt: string, deployment: string = randomUUID()): LocalFunction {
    return {
      spec,
      deployment,
      desired: replicas,
      createdAt,
      generation: 0,
      replicas: [],
      nextInstance: 1,
      failures: 0,
      startFailures: 0,
      logs: [],
      removed: false,
    };
  }

  /** The spec with its image checked and made absolute; InvalidError (400) with the reason otherwise. */
  private withFunctionFolder(spec: DeploySpec): DeploySpec {
    const folder = inspectFunctionFolder(spec.image, this.opts.cwd);
    if (!folder.ok) throw new InvalidError(folder.reason);
    return { ...spec, image: folder.image };
  }

  /** Why no replica will come soon: the deployed generation keeps failing to start and none is ready. */
  private failing(fn: LocalFunction): StartFailedError | undefined {
    if (fn.startFailures < START_FAILURES_UNAVAILABLE || fn.desired === 0 || this.readyEndpoints(fn).length > 0) return undefined;
    return new StartFailedError(`Its replicas keep failing to start (${fn.startFailures} in a row): ${fn.startFailure ?? 'they exit before they are ready'}`);
  }

  private mustGet(name: string, namespace: string): LocalFunction {
    const fn = this.fns.get(key(name, namespace));
    if (!fn) throw new NotFoundError(`function ${name} not found in namespace ${namespace}`);
    return fn;
  }

  private readyEndpoints(fn: LocalFunction): Endpoint[] {
    return fn.replicas.filter((r) => r.ready && !r.stopping).map((r) => ({ url: `http://127.0.0.1:${r.port}`, instance: r.instance }));
  }

  private status(fn: LocalFunction): FunctionStatus {
    const s = fn.spec;
    const out: FunctionStatus = { name: s.service, image: s.image, namespace: s.namespace };
    if (s.envProcess) out.envProcess = s.envProcess;
    const env = Object.fromEntries(Object.entries(s.envVars ?? {}).filter(([k]) => k !== 'fprocess'));
    if (Object.keys(env).length > 0) out.envVars = env;
    if (s.constraints && s.constraints.length > 0) out.constraints = s.constraints;
    if (s.secrets && s.secrets.length > 0) out.secrets = [...s.secrets].sort();
    out.labels = s.labels;
    if (Object.keys(s.annotations).length > 0) out.annotations = s.annotations;
    if (s.limits) out.limits = s.limits;
    if (s.requests) out.requests = s.requests;
    if (s.readOnlyRootFilesystem) out.readOnlyRootFilesystem = true;
    out.replicas = fn.desired;
    // Replicas that take requests, of whichever version: during an update, or after one that cannot start,
    // the previous version's (as a Deployment's availableReplicas counts every ReplicaSet's).
    out.availableReplicas = this.readyEndpoints(fn).length;
    out.createdAt = fn.createdAt;
    if (fn.startFailure !== undefined) out.startFailure = fn.startFailure;
    return out;
  }

  private statePath(): string {
    return join(this.opts.stateDir, 'state.json');
  }
  private secretDir(namespace: string): string {
    return join(this.opts.stateDir, 'secrets', namespace);
  }
  private secretPath(name: string, namespace: string): string {
    return join(this.secretDir(namespace), name);
  }
  private runDir(fn: LocalFunction): string {
    return join(this.opts.stateDir, 'run', fn.spec.namespace, fn.spec.service);
  }

  private async atomicWrite(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, data, { mode });
    await rename(tmp, path);
  }

  private async writeSecret(secret: SecretData): Promise<void> {
    await this.atomicWrite(this.secretPath(secret.name, secret.namespace), secret.value, 0o600);
  }

  private pidsPath(): string {
    return join(this.opts.stateDir, 'replicas.json');
  }

  /** Records running replicas, so a provider that was killed without stopping them can stop them next time. */
  private savePids(): void {
    const snapshot = JSON.stringify([...this.pids].map(([pid, tmp]) => ({ pid, tmp })));
    this.savingPids = this.savingPids
      .then(() => this.atomicWrite(this.pidsPath(), snapshot))
      .catch((err: unknown) => this.opts.log?.(`local: could not save ${this.pidsPath()}: ${(err as Error).message}`));
  }

  /** Stops replicas a previous provider left running (it was killed). A recorded pid is signalled only if
   *  that process still has the replica's own TMPDIR in its environment, so a reused pid is never hit. */
  private async stopLeftovers(): Promise<void> {
    let left: { pid: number; tmp: string }[] = [];
    try {
      left = JSON.parse(await readFile(this.pidsPath(), 'utf8')) as { pid: number; tmp: string }[];
    } catch {
      return;
    }
    const ours = async (pid: number, tmp: string): Promise<boolean> => {
      try {
        return (await readFile(`/proc/${pid}/environ`, 'latin1')).split('\0').includes(`TMPDIR=${tmp}`);
      } catch {
        return false;
      }
    };
    await Promise.all(
      left.map(async ({ pid, tmp }) => {
        if (!(await ours(pid, tmp))) return;
        this.opts.log?.(`local: stopping replica pid ${pid} left running by a previous provider`);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          return;
        }
        const deadline = Date.now() + this.opts.stopGraceMs;
        while (Date.now() < deadline && (await ours(pid, tmp))) await new Promise((res) => setTimeout(res, 50));
        if (await ours(pid, tmp)) process.kill(pid, 'SIGKILL');
      }),
    );
    await rm(this.pidsPath(), { force: true });
  }

  /** Saves deployments; writes are serialised and the last one wins. */
  private save(): void {
    const snapshot = JSON.stringify(
      {
        functions: [...this.fns.values()].map((f): SavedFunction => ({
          spec: f.spec,
          replicas: f.desired,
          createdAt: f.createdAt,
          deployment: f.deployment,
          ...(f.stable && f.stable.generation !== f.generation ? { previous: f.stable.spec, previousDeployment: f.stable.deployment } : {}),
        })),
      },
      null,
      1,
    );
    this.saving = this.saving
      .then(() => this.atomicWrite(this.statePath(), snapshot))
      .catch((err: unknown) => this.opts.log?.(`local: could not save ${this.statePath()}: ${(err as Error).message}`));
  }

  private logLine(fn: LocalFunction, instance: string, text: string): void {
    const m: LogMessage = { name: fn.spec.service, namespace: fn.spec.namespace, instance, timestamp: rfc3339Nano(Date.now(), process.hrtime.bigint()), text };
    fn.logs.push(m);
    if (fn.logs.length > this.opts.logLines) fn.logs.splice(0, fn.logs.length - this.opts.logLines);
    this.events.emit(`log:${key(fn.spec.service, fn.spec.namespace)}`, m);
  }

  /**
   * Starts or stops replicas until the deployed generation has `desired` of them, rolling out as a Deployment
   * with maxUnavailable 0 does: older replicas keep serving until enough new ones are ready to take their
   * place, so an update never lowers the ready count below `desired`. Older replicas of the last generation
   * that was fully rolled out (`stable`) are the ones kept; one that exits is started again and a scale-up
   * adds more of them while the new generation is not ready. Replicas of an abandoned generation in between
   * (an update replaced before it was ready) go unless they are ready and still needed.
   */
  private reconcile(fn: LocalFunction): void {
    if (this.closed || fn.removed) return;
    const waiting = fn.restartTimer !== undefined;
    const live = fn.replicas.filter((r) => !r.stopping);
    const current = live.filter((r) => r.generation === fn.generation);
    if (current.length < fn.desired && !waiting) {
      for (let i = current.length; i < fn.desired; i++) void this.startReplica(fn, fn.generation, fn.spec);
    } else if (current.length > fn.desired) {
      const extra = [...current].sort((a, b) => Number(a.ready) - Number(b.ready) || b.port - a.port).slice(0, current.length - fn.desired);
      for (const r of extra) void this.stopReplica(fn, r);
    }

    const readyNew = current.filter((r) => r.ready).length;
    const old = live.filter((r) => r.generation !== fn.generation);
    if (readyNew >= fn.desired) {
      // Rolled out (also at zero replicas): older generations go.
      if (fn.stable?.generation !== fn.generation) {
        const hadPrevious = fn.stable !== undefined;
        fn.stable = { generation: fn.generation, spec: fn.spec, deployment: fn.deployment };
        if (hadPrevious) this.save(); // the previous spec is no longer needed after a restart
      }
      for (const r of old) void this.stopReplica(fn, r);
      return;
    }
    const stable = fn.stable;
    const isStable = (r: Replica): boolean => stable !== undefined && r.generation === stable.generation;
    const keep = fn.desired - readyNew;
    const candidates = old.filter((r) => r.ready || isStable(r)).sort((a, b) => Number(b.ready) - Number(a.ready) || Number(isStable(b)) - Number(isStable(a)));
    const kept = candidates.slice(0, keep);
    for (const r of old) if (!kept.includes(r)) void this.stopReplica(fn, r);
    if (stable && stable.generation !== fn.generation && kept.length < keep && !waiting) {
      for (let i = kept.length; i < keep; i++) void this.startReplica(fn, stable.generation, stable.spec);
    }
  }

  private command(dir: string): { command: string; args: string[] } {
    if (this.opts.replica === 'watchdog') return { command: process.execPath, args: [join(ROOT, 'bin/containerless.js'), 'watchdog', dir] };
    // tsx by absolute URL: a bare `--import tsx` resolves from the replica's cwd, the function's folder.
    return { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), join(ROOT, 'provider/backends/replica.ts'), dir] };
  }

  private async startReplica(fn: LocalFunction, generation: number, spec: DeploySpec): Promise<void> {
    const instance = `${spec.service}-${fn.nextInstance++}`;
    let markExited!: () => void;
    const r: Replica = {
      instance,
      generation,
      spec,
      port: 0,
      metricsPort: 0,
      ready: false,
      started: false,
      stopping: false,
      exited: new Promise((res) => (markExited = res)),
      tail: [],
    };
    fn.replicas.push(r);
    try {
      r.port = await freePort();
      r.metricsPort = await freePort();
      const folder = inspectFunctionFolder(spec.image, this.opts.cwd);
      if (!folder.ok) throw new Error(folder.reason);
      const dir = folder.dir;
      const run = join(this.runDir(fn), instance);
      const tmp = join(run, 'tmp');
      const secrets = join(this.runDir(fn), 'secrets');
      await mkdir(tmp, { recursive: true });
      await mkdir(secrets, { recursive: true });
      for (const name of spec.secrets ?? []) {
        const src = this.secretPath(name, spec.namespace);
        if (existsSync(src)) await copyFile(src, join(secrets, name));
      }
      if (r.stopping || fn.removed || this.closed) throw new Error('stopped before it started');
      const deployment = generation === fn.generation ? fn.deployment : (fn.stable?.deployment ?? fn.deployment);
      const env: Record<string, string> = {
        ...this.baseEnv,
        ...(spec.envProcess ? { fprocess: spec.envProcess } : {}),
        // The provider takes a replica out of its endpoints before SIGTERM, so the watchdog need not keep
        // serving with failing health for a load balancer to notice (of-watchdog's SIGTERM delay).
        healthcheck_interval: '0',
        // Express then answers a bad request without a stack trace and this machine's paths. The stock node
        // image leaves NODE_ENV unset; a replica on a developer's machine should not show its paths.
        NODE_ENV: 'production',
        ...(spec.envVars ?? {}),
        port: String(r.port),
        metrics_port: String(r.metricsPort),
        TMPDIR: tmp,
        secret_mount_path: secrets,
        HOSTNAME: instance,
        OPENFAAS_NAME: spec.service,
        OPENFAAS_NAMESPACE: spec.namespace,
        CONTAINERLESS_DEPLOYMENT: deployment,
        ...(this.opts.replicaEnv?.(spec.service, spec.namespace, deployment) ?? {}),
      };
      const { command, args } = this.command(dir);
      const child = spawn(command, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      r.child = child;
      if (child.pid !== undefined) {
        const pid = child.pid;
        this.pids.set(pid, tmp);
        this.savePids();
        child.once('exit', () => {
          this.pids.delete(pid);
          this.savePids();
        });
      }
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream! }).on('line', (line) => {
          if (!r.started) {
            r.tail.push(line);
            if (r.tail.length > 20) r.tail.shift();
          }
          this.logLine(fn, instance, line);
        });
      }
      let spawnError: Error | undefined;
      child.on('error', (err) => {
        spawnError = err;
        this.logLine(fn, instance, `replica failed to start: ${err.message}`);
      });
      let closed = false;
      const outputRead = new Promise<void>((res) => child.once('close', () => res()));
      void outputRead.then(() => (closed = true));
      child.on('exit', (code, sig) => {
        r.ready = false;
        fn.replicas = fn.replicas.filter((x) => x !== r);
        markExited();
        const k = key(fn.spec.service, fn.spec.namespace);
        if (r.stopping) return void this.events.emit(`ready:${k}`);
        const how = sig ?? `code ${code}`;
        if (r.started) {
          this.logLine(fn, instance, `replica exited (${how})`);
          this.scheduleRestart(fn);
          return void this.events.emit(`ready:${k}`);
        }
        this.scheduleRestart(fn);
        // Its last lines may still be on their way when 'exit' comes: the reason waits for the output's end
        // (briefly: a process it left behind may hold the pipes open).
        const report = (): void => {
          const why = spawnError?.message ?? reasonLine(r.tail);
          if (!fn.removed && !this.closed) this.startFailed(fn, r, `replica ${instance} exited (${how}) before it was ready${why ? `: ${why}` : ''}`);
          this.events.emit(`ready:${k}`);
        };
        if (closed) report();
        else void Promise.race([outputRead, new Promise((res) => setTimeout(res, 200))]).then(report);
      });
      await this.waitHealthy(fn, r);
    } catch (err) {
      if (!r.child) {
        fn.replicas = fn.replicas.filter((x) => x !== r);
        markExited();
        if (!r.stopping && !fn.removed && !this.closed) {
          this.startFailed(fn, r, `replica ${instance} could not start: ${(err as Error).message}`);
          this.scheduleRestart(fn);
          this.events.emit(`ready:${key(fn.spec.service, fn.spec.namespace)}`);
        }
      }
    }
  }

  /** A replica that never became ready: counted against its generation when that is the deployed one, and
   *  logged with what happens next. */
  private startFailed(fn: LocalFunction, r: Replica, reason: string): void {
    if (r.generation === fn.generation) {
      fn.startFailures += 1;
      fn.startFailure = reason;
    }
    const serving = this.readyEndpoints(fn).length > 0;
    const next =
      r.generation !== fn.generation
        ? 'a replica of the previous version'
        : serving && fn.stable !== undefined && fn.stable.generation !== fn.generation
          ? 'the deployed version cannot start; the previous version keeps serving'
          : 'the function has no replica ready';
    this.logLine(fn, r.instance, `${reason} (${next}; retrying)`);
  }

  private scheduleRestart(fn: LocalFunction): void {
    if (this.closed || fn.removed || fn.restartTimer !== undefined) return;
    fn.failures += 1;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(fn.failures - 1, 7));
    fn.restartTimer = setTimeout(() => {
      fn.restartTimer = undefined;
      this.reconcile(fn);
    }, delay);
    fn.restartTimer.unref();
  }

  private async waitHealthy(fn: LocalFunction, r: Replica): Promise<void> {
    const deadline = Date.now() + this.opts.startTimeoutMs;
    let exited = false;
    void r.exited.then(() => (exited = true));
    while (!exited && !r.stopping && Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${r.port}/_/health`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) {
          if (exited || r.stopping) return;
          r.ready = true;
          r.started = true;
          r.tail = [];
          fn.failures = 0;
          if (r.generation === fn.generation) {
            fn.startFailures = 0;
            fn.startFailure = undefined;
          }
          this.opts.log?.(`local: ${r.instance} ready on 127.0.0.1:${r.port}`);
          this.events.emit(`ready:${key(fn.spec.service, fn.spec.namespace)}`);
          this.reconcile(fn);
          void this.watchHealth(fn, r);
          return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((res) => setTimeout(res, 25));
    }
    if (!exited && !r.stopping) {
      r.stopping = true;
      this.startFailed(fn, r, `replica ${r.instance} did not pass /_/health within ${this.opts.startTimeoutMs} ms; stopping it`);
      await this.kill(r);
      this.scheduleRestart(fn);
      this.events.emit(`ready:${key(fn.spec.service, fn.spec.namespace)}`);
    }
  }

  /** Readiness probe of a running replica: 3 failed checks in a row take it out of the endpoints. */
  private async watchHealth(fn: LocalFunction, r: Replica): Promise<void> {
    let exited = false;
    void r.exited.then(() => (exited = true));
    let failures = 0;
    const k = key(fn.spec.service, fn.spec.namespace);
    while (!exited && !r.stopping && !this.closed) {
      await new Promise((res) => setTimeout(res, this.opts.healthIntervalMs).unref());
      if (exited || r.stopping || this.closed) return;
      let ok = false;
      try {
        const res = await fetch(`http://127.0.0.1:${r.port}/_/health`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        ok = res.status === 200;
      } catch {
        ok = false;
      }
      if (exited || r.stopping) return;
      if (ok) {
        failures = 0;
        if (!r.ready) {
          r.ready = true;
          this.logLine(fn, r.instance, 'replica passes /_/health again');
          this.events.emit(`ready:${k}`);
        }
      } else if (++failures === 3 && r.ready) {
        r.ready = false;
        this.logLine(fn, r.instance, 'replica failed /_/health 3 times; not sending it requests');
        this.events.emit(`ready:${k}`);
      }
    }
  }

  private async stopReplica(fn: LocalFunction, r: Replica): Promise<void> {
    if (r.stopping) return r.exited;
    r.stopping = true;
    r.ready = false;
    this.events.emit(`ready:${key(fn.spec.service, fn.spec.namespace)}`);
    if (!r.child) return r.exited; // startReplica notices `stopping`, gives up before spawning, and marks it exited
    await this.kill(r);
  }

  private async kill(r: Replica): Promise<void> {
    const child = r.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return r.exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.opts.stopGraceMs);
    await r.exited;
    clearTimeout(timer);
  }
}
