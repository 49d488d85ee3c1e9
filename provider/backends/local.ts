/**
 * The `local` backend: each replica is a watchdog process on a loopback port of this machine.
 *
 * - A deployment's `image` is the function's folder, absolute or relative to `cwd`; a folder without a
 *   handler.js whose `function/` has one (a `faas-cli build --shrinkwrap` output `build/<fn>`) is used
 *   through its `function/` folder.
 * - A replica is `node bin/containerless.js watchdog <dir>` (or the in-process runner, `replica.ts`) with
 *   env `port`, `metrics_port` (free loopback ports), its own `TMPDIR`, `secret_mount_path` (a folder
 *   holding copies of the function's secrets, one file per secret), `fprocess` from `envProcess`, and the
 *   deployment's `envVars`, and `healthcheck_interval=0` unless those set it (the provider stops routing to a
 *   replica before it sends SIGTERM). It is ready when `GET /_/health` answers 200.
 * - A replica that exits on its own is restarted with a back-off, as a kubelet would.
 * - Secrets are files `<state_dir>/secrets/<ns>/<name>`; deployments are saved in `<state_dir>/state.json`,
 *   so a restarted provider starts its functions again.
 * - Logs are the replicas' stdout and stderr lines, kept per function in a ring buffer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile, copyFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  AlreadyExistsError,
  NotFoundError,
  type Backend,
  type DeployOptions,
  type DeploySpec,
  type Endpoint,
  type LogRequest,
  type SecretData,
  type SecretRef,
} from '../backend.ts';
import type { FunctionStatus, LogMessage } from '../types.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export type ReplicaKind = 'watchdog' | 'runner';

/** `containerless watchdog` when this checkout has it (its --help exits 0), else the in-process runner. */
export function detectReplicaKind(): Promise<ReplicaKind> {
  return new Promise((resolveKind) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', '--help'], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', () => resolveKind('runner'));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveKind(code === 0 ? 'watchdog' : 'runner');
    });
  });
}

export interface LocalBackendOptions {
  /** Deployments, secrets and replica folders live here. */
  stateDir: string;
  defaultNamespace?: string;
  extraNamespaces?: string[];
  /** Relative images resolve against this folder (default process.cwd()). */
  cwd?: string;
  /** `watchdog`: `containerless watchdog <dir>`; `runner`: provider/backends/replica.ts (default). */
  replica?: ReplicaKind;
  /** Env every replica inherits from the provider (default: PATH, HOME, LANG, TZ, NODE_ENV). */
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
}

interface SavedFunction {
  spec: DeploySpec;
  replicas: number;
  createdAt: string;
}

interface Replica {
  instance: string;
  generation: number;
  port: number;
  metricsPort: number;
  child?: ChildProcess;
  ready: boolean;
  stopping: boolean;
  exited: Promise<void>;
}

interface LocalFunction {
  spec: DeploySpec;
  desired: number;
  createdAt: string;
  generation: number;
  replicas: Replica[];
  nextInstance: number;
  failures: number;
  restartTimer?: NodeJS.Timeout;
  logs: LogMessage[];
  removed: boolean;
}

const key = (name: string, namespace: string): string => `${namespace}/${name}`;

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function rfc3339Nano(ms: number, hr = 0n): string {
  const iso = new Date(ms).toISOString(); // ...T12:34:56.789Z
  const frac = (BigInt(ms % 1000) * 1_000_000n + (hr % 1_000_000n)).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/** Where a deployment's `image` points on this machine, or undefined if no handler folder is there. */
export function resolveFunctionDir(image: string, cwd: string): string | undefined {
  const base = isAbsolute(image) ? image : resolve(cwd, image);
  const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
  if (!isDir(base)) return undefined;
  if (existsSync(join(base, 'handler.js'))) return base;
  if (isDir(join(base, 'function')) && existsSync(join(base, 'function', 'handler.js'))) return join(base, 'function');
  return base;
}

export class LocalBackend implements Backend {
  readonly orchestration = 'local';
  readonly defaultNamespace: string;
  private readonly extraNamespaces: string[];
  private readonly fns = new Map<string, LocalFunction>();
  private readonly events = new EventEmitter();
  private readonly opts: Required<Omit<LocalBackendOptions, 'log' | 'baseEnv'>> & Pick<LocalBackendOptions, 'log'>;
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
      replica: options.replica ?? 'runner',
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      healthIntervalMs: options.healthIntervalMs ?? 2_000,
      stopGraceMs: options.stopGraceMs ?? 5_000,
      logLines: options.logLines ?? 5_000,
      log: options.log,
    };
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'TZ', 'NODE_ENV', 'CONTAINERLESS_CACHE']) {
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
      const fn = this.newFunction(s.spec, s.replicas, s.createdAt);
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
    const fn = this.newFunction(spec, opts.replicas, rfc3339Nano(Date.now(), process.hrtime.bigint()));
    this.fns.set(k, fn);
    this.save();
    this.reconcile(fn);
  }

  async update(spec: DeploySpec): Promise<void> {
    const fn = this.mustGet(spec.service, spec.namespace);
    fn.spec = spec;
    fn.generation += 1;
    fn.failures = 0;
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
    fn.desired = replicas;
    this.save();
    this.reconcile(fn);
  }

  async endpoints(name: string, namespace: string): Promise<Endpoint[]> {
    return this.readyEndpoints(this.mustGet(name, namespace));
  }

  waitForEndpoints(name: string, namespace: string, signal: AbortSignal): Promise<Endpoint[]> {
    const fn = this.mustGet(name, namespace);
    const now = this.readyEndpoints(fn);
    if (now.length > 0) return Promise.resolve(now);
    return new Promise((resolveWait, reject) => {
      const k = key(name, namespace);
      const done = (): void => {
        this.events.off(`ready:${k}`, onReady);
        this.events.off('closed', onAbort);
        signal.removeEventListener('abort', onAbort);
      };
      const onReady = (): void => {
        const eps = this.fns.get(k) === fn ? this.readyEndpoints(fn) : [];
        if (eps.length === 0) return;
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
      return names.filter((n) => !n.startsWith('.')).sort().map((name) => ({ name, namespace }));
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

  private newFunction(spec: DeploySpec, replicas: number, createdAt: string): LocalFunction {
    return { spec, desired: replicas, createdAt, generation: 0, replicas: [], nextInstance: 1, failures: 0, logs: [], removed: false };
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
    out.availableReplicas = this.readyEndpoints(fn).length;
    out.createdAt = fn.createdAt;
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
      { functions: [...this.fns.values()].map((f): SavedFunction => ({ spec: f.spec, replicas: f.desired, createdAt: f.createdAt })) },
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

  /** Starts or stops replicas until the current generation has `desired` of them; old generations go once
   *  enough new ones are ready (a rolling update with no gap). */
  private reconcile(fn: LocalFunction): void {
    if (this.closed || fn.removed) return;
    const live = fn.replicas.filter((r) => !r.stopping);
    const current = live.filter((r) => r.generation === fn.generation);
    const old = live.filter((r) => r.generation !== fn.generation);
    if (current.length < fn.desired && fn.restartTimer === undefined) {
      for (let i = current.length; i < fn.desired; i++) void this.startReplica(fn);
    } else if (current.length > fn.desired) {
      const extra = [...current].sort((a, b) => Number(a.ready) - Number(b.ready) || b.port - a.port).slice(0, current.length - fn.desired);
      for (const r of extra) void this.stopReplica(fn, r);
    }
    const readyNew = current.filter((r) => r.ready).length;
    if (old.length > 0 && (readyNew >= Math.min(fn.desired, current.length) || fn.desired === 0)) {
      for (const r of old) void this.stopReplica(fn, r);
    }
  }

  private command(dir: string): { command: string; args: string[] } {
    if (this.opts.replica === 'watchdog') return { command: process.execPath, args: [join(ROOT, 'bin/containerless.js'), 'watchdog', dir] };
    // tsx by absolute URL: a bare `--import tsx` resolves from the replica's cwd, the function's folder.
    return { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), join(ROOT, 'provider/backends/replica.ts'), dir] };
  }

  private async startReplica(fn: LocalFunction): Promise<void> {
    const instance = `${fn.spec.service}-${fn.nextInstance++}`;
    const generation = fn.generation;
    let markExited!: () => void;
    const r: Replica = { instance, generation, port: 0, metricsPort: 0, ready: false, stopping: false, exited: new Promise((res) => (markExited = res)) };
    fn.replicas.push(r);
    try {
      r.port = await freePort();
      r.metricsPort = await freePort();
      const dir = resolveFunctionDir(fn.spec.image, this.opts.cwd);
      if (dir === undefined) throw new Error(`image ${JSON.stringify(fn.spec.image)} is not a function folder on this machine (resolved against ${this.opts.cwd})`);
      const run = join(this.runDir(fn), instance);
      const tmp = join(run, 'tmp');
      const secrets = join(this.runDir(fn), 'secrets');
      await mkdir(tmp, { recursive: true });
      await mkdir(secrets, { recursive: true });
      for (const name of fn.spec.secrets ?? []) {
        const src = this.secretPath(name, fn.spec.namespace);
        if (existsSync(src)) await copyFile(src, join(secrets, name));
      }
      if (r.stopping || fn.removed || this.closed) throw new Error('stopped before it started');
      const env: Record<string, string> = {
        ...this.baseEnv,
        ...(fn.spec.envProcess ? { fprocess: fn.spec.envProcess } : {}),
        // The provider takes a replica out of its endpoints before SIGTERM, so the watchdog need not keep
        // serving with failing health for a load balancer to notice (of-watchdog's SIGTERM delay).
        healthcheck_interval: '0',
        ...(fn.spec.envVars ?? {}),
        port: String(r.port),
        metrics_port: String(r.metricsPort),
        TMPDIR: tmp,
        secret_mount_path: secrets,
        HOSTNAME: instance,
        OPENFAAS_NAME: fn.spec.service,
        OPENFAAS_NAMESPACE: fn.spec.namespace,
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
        createInterface({ input: stream! }).on('line', (line) => this.logLine(fn, instance, line));
      }
      child.on('error', (err) => this.logLine(fn, instance, `replica failed to start: ${err.message}`));
      child.on('exit', (code, sig) => {
        r.ready = false;
        fn.replicas = fn.replicas.filter((x) => x !== r);
        markExited();
        if (!r.stopping) {
          this.logLine(fn, instance, `replica exited (${sig ?? `code ${code}`})`);
          this.scheduleRestart(fn);
        }
        this.events.emit(`ready:${key(fn.spec.service, fn.spec.namespace)}`);
      });
      await this.waitHealthy(fn, r);
    } catch (err) {
      if (!r.child) {
        fn.replicas = fn.replicas.filter((x) => x !== r);
        markExited();
        if (!r.stopping && !fn.removed && !this.closed) {
          this.logLine(fn, instance, `replica could not start: ${(err as Error).message}`);
          this.scheduleRestart(fn);
        }
      }
    }
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
          fn.failures = 0;
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
      this.logLine(fn, r.instance, `replica did not pass /_/health within ${this.opts.startTimeoutMs} ms; stopping it`);
      r.stopping = true;
      await this.kill(r);
      this.scheduleRestart(fn);
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
