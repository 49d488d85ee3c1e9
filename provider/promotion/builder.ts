/**
 * Builds of dispatchers for the promotion lifecycle: what a build is keyed by, the local cargo builder, and
 * the queue that runs one build at a time for the whole provider.
 *
 * The cache key of a build is sha256 over the merged tree (canonical JSON, without its request count, which
 * the generated code does not depend on), the handler's source and `runtimeVersion()`: everything the
 * dispatcher is made of besides the tree (the runtime crate, the repository's Cargo.lock and the compiler's
 * own source). A restart, or a redeploy of the same code, finds the same key and reuses the binary.
 *
 * The local builder keeps each finished build in the shared cache folder:
 *
 *   ${CONTAINERLESS_CACHE}/v1/dispatchers/<key>/
 *     dispatcher      the binary (result 'ok'), copied there before result.json is written
 *     result.json     the BuildOutcome; written last, atomically, so its presence means the build finished
 *
 * 'unsupported' results are kept too, and 'failed' ones when the compiler refused the generated code (a
 * deterministic failure: the same inputs would fail again); a failure that may pass on a second try (cargo
 * missing or killed, a network error while fetching crates) is not kept.
 *
 * A tree is **unsupported** (it cannot become a dispatcher that answers anything) when:
 *   - it holds no traced request (every path of the handler is pruned);
 *   - the code generator cannot translate it (it throws), or reports a diagnostic of severity `error`;
 *   - no JavaScript function compiles (`functions <= 1`, the module's top level only): the handler itself is
 *     not compiled (a generator, for example), so the dispatcher would hand every request back;
 *   - a construct of the module's top level (outside any function) is not compiled: loading the module gives
 *     up, and again every request would fall back.
 * Constructs that are not compiled inside functions are only warnings (C002...): the requests that reach
 * them fall back, the others are answered in Rust.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  buildDispatcher,
  BuildError,
  buildProfileFromEnv,
  CACHE_LAYOUT,
  generateRust,
  runtimeVersion,
  type BuildProfile,
  type Generated,
} from '../../compiler/index.ts';
import { pgoFor } from '../../harness/index.ts';
import { cacheDir } from '../../lib/index.ts';
import { formatDiagnostic, prepare, Tracer, walkNodes, type TraceIR } from '../../trace/index.ts';
import { fnKey, type BuildOutcome, type BuildRequest, type BuildResultKind, type DispatcherBuilder, type FnRef } from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Keys

/** What a dispatcher is built from besides its tree (compiler/version.ts), for the keys below. */
export { runtimeVersion };

/** JSON with every object's keys sorted, so equal trees give equal text whatever order they were built in. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  }
  return `{${parts.join(',')}}`;
}

/** The cache key of a build: sha256 over the tree (without its request count), the source and the runtime's version. */
export function buildKey(trace: TraceIR, source: string, version = runtimeVersion()): string {
  const { requests: _requests, ...tree } = trace;
  return createHash('sha256')
    .update('containerless-dispatcher/1\0')
    .update(canonicalJson(tree))
    .update('\0')
    .update(source)
    .update('\0')
    .update(version)
    .digest('hex');
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// ---------------------------------------------------------------------------------------------------------
// Errors

/** A build that was cancelled (BuildQueue.cancel, or the builder's signal aborted) before it finished. */
export class BuildCancelledError extends Error {
  override readonly name = 'BuildCancelledError';
  readonly code = 'E_BUILD_CANCELLED';
  constructor(message = 'build cancelled', options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Unsupported trees

/** Why this tree cannot become a dispatcher that answers anything (see the module's doc), or undefined. */
export function unsupportedReasons(trace: TraceIR, generated: Generated): string[] {
  const reasons: string[] = [];
  if (trace.requests === 0) reasons.push('the tree holds no traced request: every request would fall back');
  const errors = generated.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) reasons.push(`the compiler reported ${errors.length} error(s)`);
  if (generated.functions <= 1) reasons.push('no JavaScript function compiles (the handler itself is not compiled): every request would fall back');
  const topLevel: string[] = [];
  walkNodes<{ type: string; reason?: string; declares?: unknown; loc?: { start?: { line: number; column: number } } }>(trace.program, (n) => {
    if (n.type === 'ClUnsupported') {
      // A declaration that is not compiled still binds its name; only its use gives up.
      if (!n.declares) topLevel.push(`${n.reason ?? 'a construct'}${n.loc?.start ? ` at line ${n.loc.start.line}` : ''}`);
      return false;
    }
    // Function bodies run when called, not while the module loads.
    if (n.type !== 'Program' && /Function|Class|ClDefaultCtor|ClFields|MethodDefinition|PropertyDefinition/.test(n.type)) return false;
    return undefined;
  });
  if (topLevel.length > 0)
    reasons.push(`the module's top level uses what is not compiled (${topLevel.join('; ')}): loading it gives up, so every request would fall back`);
  return reasons;
}

// ---------------------------------------------------------------------------------------------------------
// The local cargo builder

export interface LocalCargoBuilderOptions {
  /** The folder holding `v1/` (default cacheDir(): $CONTAINERLESS_CACHE, else ~/.cache/containerless). */
  cacheDir?: string;
  /** The runtime's version (default runtimeVersion()); tests give another to force a new key. */
  version?: string;
  /** The cargo profile (default buildProfileFromEnv(): $CONTAINERLESS_BUILD_PROFILE, else `optimized`). */
  profile?: BuildProfile;
}

/**
 * Whether cargo's output says the compiler refused the code (an error with a rustc code, or `could not
 * compile` with nothing that points at the machine): the same inputs would fail again, so the result is kept.
 * A download, a full disk, a killed compiler or a failed link may pass on the next try: not kept.
 */
export function isDeterministicFailure(output: string[]): boolean {
  if (
    output.some((l) =>
      /linking with|rust-lld|ld\.lld|collect2|undefined (hidden )?symbol|No space left|out of memory|signal: \d+|SIGKILL|Killed|failed to (download|get|fetch)|network|spurious/i.test(
        l,
      ),
    )
  )
    return false;
  return output.some((l) => /^error\[E\d+\]/.test(l) || /^error: could not compile/.test(l));
}

/** Builds dispatchers with cargo on this machine (as `containerless compile` does), cached by key. */
export class LocalCargoBuilder implements DispatcherBuilder {
  private readonly root: string;
  private readonly version: string;
  readonly profile: BuildProfile;

  constructor(private readonly opts: LocalCargoBuilderOptions = {}) {
    this.root = opts.cacheDir ?? cacheDir();
    this.profile = opts.profile ?? buildProfileFromEnv();
    // A dispatcher built with another profile is another build: the profile is part of the key.
    this.version = `${opts.version ?? runtimeVersion()} ${this.profile}`;
  }

  keyOf(req: BuildRequest): string {
    return buildKey(req.trace, req.source, this.version);
  }

  /**
   * Warms the build cache: builds a dispatcher for a one-line handler once per runtime version, so that the
   * runtime and the crates it uses are compiled (minutes on a fresh machine) while functions are still
   * being traced, and a function's own build compiles only its crate. Never throws; resolves false when the
   * warm-up build failed (a function's build will say why).
   */
  /** The file that says the cache was warmed for this runtime version. */
  warmMarker(): string {
    return join(this.root, CACHE_LAYOUT, 'dispatchers', `.warm-${sha256(this.version).slice(0, 16)}`);
  }

  async warm(opts: { signal?: AbortSignal; log?: (line: string) => void } = {}): Promise<boolean> {
    const marker = this.warmMarker();
    try {
      await readFile(marker);
      return true;
    } catch {
      // not warmed for this runtime version yet
    }
    const source = `module.exports = async () => ({ ok: true });\n`;
    const trace = new Tracer(prepare(source, 'handler.js'), 'containerless-warm-up').trace();
    const started = Date.now();
    opts.log?.('compile: warming the build cache (the runtime and its crates, once per runtime version)');
    try {
      const pgo = await pgoFor(this.profile, { cacheDir: this.root, signal: opts.signal, onProgress: (line) => opts.log?.(`compile: profile ${line}`) });
      await buildDispatcher(generateRust(trace, { name: 'containerless-warm-up' }).main, {
        name: 'containerless-warm-up',
        cacheDir: this.root,
        profile: this.profile,
        pgo,
        signal: opts.signal,
        onProgress: (line) => opts.log?.(`compile: warm-up ${line}`),
      });
      await mkdir(dirname(marker), { recursive: true });
      await writeFile(marker, `${new Date().toISOString()}\n`);
      opts.log?.(`compile: the build cache is warm (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return true;
    } catch (err) {
      opts.log?.(`compile: warming the build cache failed (${(err as Error).message.split('\n')[0]})`);
      return false;
    }
  }

  /** The folder of one key's build. */
  dirOf(key: string): string {
    return join(this.root, CACHE_LAYOUT, 'dispatchers', key);
  }

  async cached(key: string): Promise<BuildOutcome | undefined> {
    if (!/^[0-9a-f]{64}$/.test(key)) return undefined;
    const dir = this.dirOf(key);
    let saved: BuildOutcome;
    try {
      saved = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8')) as BuildOutcome;
    } catch {
      return undefined;
    }
    if (saved.key !== key || !['ok', 'failed', 'unsupported'].includes(saved.result)) return undefined;
    const outcome: BuildOutcome = { ...saved, seconds: 0, cached: true };
    if (saved.result === 'ok') {
      const binary = join(dir, 'dispatcher');
      try {
        if (!statSync(binary).isFile()) return undefined;
      } catch {
        return undefined;
      }
      outcome.binary = binary;
    } else {
      delete outcome.binary;
    }
    return outcome;
  }

  async build(req: BuildRequest, opts: { signal?: AbortSignal; onProgress?: (line: string) => void } = {}): Promise<BuildOutcome> {
    const started = Date.now();
    const key = this.keyOf(req);
    const progress = opts.onProgress ?? (() => {});
    const cancelled = (): BuildCancelledError => new BuildCancelledError(`build of ${fnKey(req.fn)} cancelled`, { cause: opts.signal?.reason });
    if (opts.signal?.aborted) throw cancelled();
    const hit = await this.cached(key);
    if (hit) {
      progress(`reusing the ${hit.result === 'ok' ? 'dispatcher' : `${hit.result} result`} built at ${hit.finishedAt} (key ${key.slice(0, 12)})`);
      return hit;
    }
    const outcome = (result: BuildResultKind, diagnostics: string[], functions: number, binary?: string): BuildOutcome => ({
      key,
      result,
      ...(binary ? { binary } : {}),
      seconds: (Date.now() - started) / 1000,
      cached: false,
      diagnostics,
      functions,
      finishedAt: new Date().toISOString(),
    });

    const sourceSha = sha256(req.source);
    if (sourceSha !== req.trace.source.sha256) {
      return outcome(
        'failed',
        [
          `the tree was traced from another version of ${req.trace.source.file || 'handler.js'} (sha256 ${req.trace.source.sha256.slice(0, 12)}; the deployed source is ${sourceSha.slice(0, 12)})`,
        ],
        0,
      );
    }

    let generated: Generated;
    try {
      generated = generateRust(req.trace, { name: req.fn.name });
    } catch (err) {
      return this.keep(outcome('unsupported', [`the compiler cannot translate this tree: ${(err as Error).message}`], 0));
    }
    const diagnostics = generated.diagnostics.map(formatDiagnostic);
    const reasons = unsupportedReasons(req.trace, generated);
    if (reasons.length > 0) return this.keep(outcome('unsupported', [...reasons.map((r) => `unsupported: ${r}`), ...diagnostics], 0));

    progress(`generated ${generated.functions} Rust functions from ${req.trace.requests} traced requests; building (key ${key.slice(0, 12)})`);
    let built: string;
    try {
      const pgo = await pgoFor(this.profile, { cacheDir: this.root, signal: opts.signal, onProgress: progress });
      const r = await buildDispatcher(generated.main, {
        name: fnKey(req.fn),
        cacheDir: this.root,
        release: true,
        profile: this.profile,
        pgo,
        onProgress: progress,
        signal: opts.signal,
      });
      built = r.binary;
    } catch (err) {
      if (opts.signal?.aborted) throw cancelled();
      if (err instanceof BuildError) {
        const failed = outcome('failed', [...diagnostics, `cargo: ${err.message}`, ...err.output], generated.functions);
        return isDeterministicFailure(err.output) ? this.keep(failed) : { ...failed, retryable: true };
      }
      return { ...outcome('failed', [...diagnostics, `build: ${(err as Error).message}`], generated.functions), retryable: true };
    }
    if (opts.signal?.aborted) throw cancelled();

    // The binary goes into the key's folder (buildDispatcher's bin/ is pruned), then result.json: present
    // only once the binary is in place.
    const dir = this.dirOf(key);
    const binary = join(dir, 'dispatcher');
    try {
      await mkdir(dir, { recursive: true });
      const tmp = `${binary}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await copyFile(built, tmp);
      await chmod(tmp, 0o755);
      await rename(tmp, binary);
    } catch (err) {
      return { ...outcome('failed', [...diagnostics, `cannot keep the binary in ${dir}: ${(err as Error).message}`], generated.functions), retryable: true };
    }
    return this.keep(outcome('ok', diagnostics, generated.functions, binary));
  }

  /** Writes result.json for an outcome (best effort: a cache that cannot be written only costs a rebuild). */
  private async keep(o: BuildOutcome): Promise<BuildOutcome> {
    const dir = this.dirOf(o.key);
    try {
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'result.json');
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, `${JSON.stringify(o, null, 2)}\n`);
      await rename(tmp, file);
    } catch {
      // not kept
    }
    return o;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The queue

export interface BuildQueueOptions {
  /** Progress and state lines, each prefixed `compile <fn>.<ns>: ` (default: none). */
  log?: (line: string) => void;
}

/** A waiting build as `pending(fn)` shows it. */
export interface PendingBuild {
  key: string;
  /** Builds ahead of it among the waiting ones (0: next to run). */
  position: number;
  queuedAt: string;
}

/** The build that runs now. */
export interface RunningBuild {
  /** The function whose request started it. */
  fn: FnRef;
  /** Every function waiting for it (requests of the same key join one build). */
  fns: FnRef[];
  key: string;
  startedAt: string;
}

/** One caller's wait for a build: settled with the build's outcome, or rejected when cancelled. */
interface Ticket {
  fn: FnRef;
  promise: Promise<BuildOutcome>;
  resolve: (o: BuildOutcome) => void;
  reject: (err: Error) => void;
}

interface Job {
  key: string;
  req: BuildRequest;
  /** fnKey -> that function's ticket. A job without owners is dropped (waiting) or aborted (running). */
  owners: Map<string, Ticket>;
  queuedAt: number;
  startedAt?: number;
  abort?: AbortController;
}

function newTicket(fn: FnRef): Ticket {
  let resolve!: (o: BuildOutcome) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<BuildOutcome>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A cancelled ticket nobody awaits must not become an unhandled rejection.
  promise.catch(() => {});
  return { fn, promise, resolve, reject };
}

/**
 * Runs builds one at a time for the whole provider, first come first served across functions:
 *
 * - `submit(req)` resolves with the build's outcome. A request whose key equals the running build's or a
 *   waiting one's joins it (the same function gets the very same promise). A request for a function that
 *   already has a build *waiting* replaces that one in its place in the line (the newer tree contains the
 *   older); the earlier caller's promise then settles with the newer build's outcome.
 * - A build the builder's cache already holds settles without waiting for its turn.
 * - `cancel(fn)` (a function deleted or updated) drops its waiting build and aborts its running one, unless
 *   another function waits for the same key; its promises reject with BuildCancelledError.
 * - The promises reject only with BuildCancelledError: a builder that throws anything else gives a 'failed'
 *   outcome with the error's message.
 *
 * Generic over the builder: the local cargo builder now, a Kubernetes Job later.
 */
export class BuildQueue<B extends DispatcherBuilder = DispatcherBuilder> {
  private readonly waiting: Job[] = [];
  private current: Job | undefined;
  private currentDone: Promise<void> = Promise.resolve();
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly builder: B,
    private readonly opts: BuildQueueOptions = {},
  ) {}

  submit(req: BuildRequest): Promise<BuildOutcome> {
    const fk = fnKey(req.fn);
    if (this.closed) return Promise.reject(new BuildCancelledError(`build of ${fk} refused: the build queue is closed`));
    const key = this.builder.keyOf(req);
    // A running build being aborted (all its functions cancelled) takes no one new.
    const live = this.current && !this.current.abort?.signal.aborted ? this.current : undefined;
    const same = live?.key === key ? live : this.waiting.find((j) => j.key === key);
    const ownWaiting = this.waiting.find((j) => j.owners.has(fk));

    if (same) {
      let ticket = same.owners.get(fk);
      if (!ticket) {
        ticket = newTicket(req.fn);
        same.owners.set(fk, ticket);
        this.log(req.fn, `joins the ${same === this.current ? 'running' : 'waiting'} build of the same key ${short(key)}`);
      }
      if (ownWaiting && ownWaiting !== same) this.replaceWith(ownWaiting, fk, ticket);
      return ticket.promise;
    }

    if (ownWaiting) {
      const old = ownWaiting.key;
      if (ownWaiting.owners.size === 1) {
        // The newer tree takes the waiting build's place in the line.
        ownWaiting.key = key;
        ownWaiting.req = req;
        this.log(req.fn, `a newer tree replaces the waiting build (key ${short(old)} -> ${short(key)})`);
        this.probe(ownWaiting);
        return ownWaiting.owners.get(fk)!.promise;
      }
      // Shared with another function, which still wants the older key: this function's request goes in its place.
      const job = this.newJob(req, key);
      this.waiting.splice(this.waiting.indexOf(ownWaiting), 0, job);
      this.replaceWith(ownWaiting, fk, job.owners.get(fk)!);
      this.log(req.fn, `a newer tree replaces the waiting build (key ${short(old)} -> ${short(key)})`);
      this.probe(job);
      return job.owners.get(fk)!.promise;
    }

    const job = this.newJob(req, key);
    const ahead = this.waiting.length + (this.current ? 1 : 0);
    this.waiting.push(job);
    if (ahead > 0) this.log(req.fn, `queued (key ${short(key)}, ${ahead} build(s) ahead)`);
    this.probe(job);
    this.pump();
    return job.owners.get(fk)!.promise;
  }

  /** Drops the function's waiting build and aborts its running one (unless another function waits for the same
   *  key). Its promises reject with BuildCancelledError. True when it had one. */
  cancel(fn: FnRef): boolean {
    const fk = fnKey(fn);
    let found = false;
    for (const job of [...this.waiting, ...(this.current ? [this.current] : [])]) {
      const ticket = job.owners.get(fk);
      if (!ticket) continue;
      found = true;
      job.owners.delete(fk);
      ticket.reject(new BuildCancelledError(`build of ${fk} cancelled`));
      if (job.owners.size > 0) continue;
      if (job === this.current) {
        this.log(fn, `cancelling the running build (key ${short(job.key)})`);
        job.abort?.abort(new BuildCancelledError(`build of ${fk} cancelled`));
      } else {
        this.waiting.splice(this.waiting.indexOf(job), 1);
        this.log(fn, `cancelled the waiting build (key ${short(job.key)})`);
      }
    }
    if (found) this.notifyIdle();
    return found;
  }

  /** The function's waiting build, if it has one. */
  pending(fn: FnRef): PendingBuild | undefined {
    const fk = fnKey(fn);
    const i = this.waiting.findIndex((j) => j.owners.has(fk));
    if (i < 0) return undefined;
    return { key: this.waiting[i].key, position: i, queuedAt: new Date(this.waiting[i].queuedAt).toISOString() };
  }

  /** The build that runs now, if any. */
  get running(): RunningBuild | undefined {
    const j = this.current;
    if (!j) return undefined;
    return { fn: j.req.fn, fns: [...j.owners.values()].map((t) => t.fn), key: j.key, startedAt: new Date(j.startedAt!).toISOString() };
  }

  /** Builds waiting (not counting the running one). */
  get size(): number {
    return this.waiting.length;
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (!this.current && this.waiting.length === 0) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  /** Cancels everything and waits for the running build to stop. Later submits reject. */
  async close(): Promise<void> {
    this.closed = true;
    const fns = new Map<string, FnRef>();
    for (const job of [...this.waiting, ...(this.current ? [this.current] : [])]) for (const t of job.owners.values()) fns.set(fnKey(t.fn), t.fn);
    for (const fn of fns.values()) this.cancel(fn);
    await this.currentDone;
  }

  // ------------------------------------------------------------------------------------------------------

  private newJob(req: BuildRequest, key: string): Job {
    return { key, req, owners: new Map([[fnKey(req.fn), newTicket(req.fn)]]), queuedAt: Date.now() };
  }

  /** Takes function `fk` out of a waiting job (dropped when nobody else waits for it); its ticket follows `next`. */
  private replaceWith(job: Job, fk: string, next: Ticket): void {
    const old = job.owners.get(fk);
    job.owners.delete(fk);
    if (job.owners.size === 0) this.waiting.splice(this.waiting.indexOf(job), 1);
    if (old && old !== next) next.promise.then(old.resolve, old.reject);
  }

  /** Asks the builder's cache for a waiting job's key; a hit settles the job without waiting for its turn. */
  private probe(job: Job): void {
    const key = job.key;
    this.builder.cached(key).then(
      (hit) => {
        if (!hit || job.key !== key || !this.waiting.includes(job)) return;
        this.waiting.splice(this.waiting.indexOf(job), 1);
        this.finish(job, hit);
        this.notifyIdle();
      },
      () => {}, // the build will look again
    );
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const job = this.waiting.shift();
    if (!job) return this.notifyIdle();
    this.current = job;
    job.startedAt = Date.now();
    job.abort = new AbortController();
    this.log(
      job.req.fn,
      `building (key ${short(job.key)}${job.owners.size > 1 ? `, also for ${[...job.owners.keys()].filter((k) => k !== fnKey(job.req.fn)).join(', ')}` : ''})`,
    );
    this.currentDone = this.run(job).finally(() => {
      this.current = undefined;
      this.pump();
    });
  }

  private async run(job: Job): Promise<void> {
    const signal = job.abort!.signal;
    let outcome: BuildOutcome;
    try {
      outcome = await this.builder.build(job.req, { signal, onProgress: (line) => this.log(job.req.fn, line) });
    } catch (err) {
      if (signal.aborted || err instanceof BuildCancelledError) {
        this.cancelOwners(job, err);
        return;
      }
      outcome = {
        key: job.key,
        result: 'failed',
        seconds: (Date.now() - job.startedAt!) / 1000,
        cached: false,
        diagnostics: [`build: ${(err as Error).message ?? String(err)}`],
        functions: 0,
        finishedAt: new Date().toISOString(),
      };
    }
    if (signal.aborted) return this.cancelOwners(job, signal.reason);
    this.finish(job, outcome);
  }

  private finish(job: Job, o: BuildOutcome): void {
    const how = o.cached ? 'from the cache' : `in ${o.seconds.toFixed(1)}s`;
    const why = o.result === 'ok' ? '' : `: ${o.diagnostics.find((d) => d.startsWith('unsupported:') || d.startsWith('cargo:')) ?? o.diagnostics[0] ?? ''}`;
    this.log(job.req.fn, `${o.result} ${how} (key ${short(o.key)})${why}`);
    for (const t of job.owners.values()) t.resolve(o);
    job.owners.clear();
  }

  private cancelOwners(job: Job, cause: unknown): void {
    for (const [fk, t] of job.owners) t.reject(new BuildCancelledError(`build of ${fk} cancelled`, { cause }));
    job.owners.clear();
  }

  private notifyIdle(): void {
    if (this.current || this.waiting.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private log(fn: FnRef, line: string): void {
    this.opts.log?.(`compile ${fnKey(fn)}: ${line}`);
  }
}

const short = (key: string): string => key.slice(0, 12);
