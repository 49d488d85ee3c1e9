/**
 * `containerless check <function-dir> --requests <file.jsonl> [--trace-first N] [--json]`: traces a function
 * on sample requests, compiles the trace, and replays every request through Node and through the compiled
 * dispatcher, comparing the answers.
 *
 *   1. trace    the first N requests (default all), one at a time, through the instrumented handler, served
 *               as the watchdog serves it (watchdog/runner.ts), on its own port
 *   2. compile  generateRust(trace) and a cargo build (build.ts), with progress on stderr
 *   3. replay   every request, in order, to the dispatcher (started with `cl_workers=1`: one realm, so one
 *               replica whose module state evolves with every request it answers, in order), then to one of
 *               two instances of the plain handler (fresh modules, each on its own port behind the
 *               watchdog's request listener, as in production). When the dispatcher gives up (503 with
 *               `x-containerless-fallback`), the request goes to the fallback replica, whose answer is the
 *               answer, as in production, and it counts as a fallback. Otherwise it goes to the shadow
 *               replica, and the two answers must agree on status, content type and body bytes; if not, the
 *               request diverged. The shadow sees exactly the requests Rust answered, in the same order, so a
 *               handler that keeps module state (a counter, a memo table, a lazily built table) is compared
 *               with a Node replica whose state evolved as the dispatcher's should have; the requests Rust
 *               handed back change the fallback replica's state, never the shadow's, as they change another
 *               replica's behind the provider. Without module state both instances answer as one would.
 *
 * Both sides get identical requests: the same header list in the same order, `Host: 127.0.0.1:8080` unless
 * the requests file names a host, `Connection: close`. The harness talks only to 127.0.0.1; where a handler's
 * own fetches go is the handler's business.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import { basename, join, resolve } from 'node:path';
import { buildDispatcher, BuildError, generateRust } from '../compiler/index.ts';
import { contract, freePort, listen, sleep } from '../lib/index.ts';
import { formatDiagnostic, prepare, Tracer, walkNodes, type CoreNode, type Diagnostic, type Prepared } from '../trace/index.ts';
import { createBareWatchdogApp, createRunnerApp, loadHandler, type LoadedHandler } from '../watchdog/index.ts';
import { readRequests, RequestsFileError, toHttpRequest, type HttpRequest, type RequestEntry } from './requests.ts';

/** The header by which the dispatcher hands a request back, and the one that names the site. */
export const FALLBACK_HEADER = 'x-containerless-fallback';
export const SITE_HEADER = 'x-containerless-site';

/** What both sides see as Host when the requests file does not say (the watchdog's default port). */
export const DEFAULT_HOST = '127.0.0.1:8080';

const REQUEST_TIMEOUT_MS = 60_000;
const HEALTH_TIMEOUT_MS = 30_000;

/** What a fallback reason means, for the summary (runtime/contract.json `giveUps`). */
const REASONS: Record<string, string> = Object.fromEntries(contract().giveUps.map((g) => [g.reason, g.meaning]));

export interface CheckOptions {
  /** The function's folder (with handler.js). */
  dir: string;
  /** The requests file (JSON lines). */
  requests: string;
  /** Trace only the first N requests; default all. */
  traceFirst?: number;
  /** Replaces $CONTAINERLESS_CACHE for the build. */
  cacheDir?: string;
  /** Aborting stops the build, the dispatcher and the replay. */
  signal?: AbortSignal;
}

/** The JSON line `check` prints last; field names are the wire format. */
export interface CheckSummary {
  requests: number;
  rust: number;
  fallback: number;
  diverged: number;
  diagnostics: Diagnostic[];
  /** Only when something crashed (the build, the handler, the dispatcher): what. */
  error?: string;
}

export interface CheckIo {
  /** A line for stderr (progress, the table, diagnostics). */
  err(line: string): void;
}

/** The command cannot start: a missing or malformed input. The CLI exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'E_USAGE';
}

/** Something broke while checking (not a divergence): the handler would not load, the dispatcher died. */
export class CheckError extends Error {
  override readonly name = 'CheckError';
  readonly code = 'E_CHECK';
  constructor(
    message: string,
    /** Output of the process at fault, when there is one. */
    readonly output: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class AbortedError extends Error {
  override readonly name = 'AbortedError';
  readonly code = 'E_ABORTED';
  constructor() {
    super('interrupted');
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP on loopback

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** The header object both sides get: Host first unless the file gives one, then the file's headers. */
function wireHeaders(req: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  if (!req.headers.some(([k]) => k.toLowerCase() === 'host')) out.host = DEFAULT_HOST;
  for (const [k, v] of req.headers) out[k] = v;
  return out;
}

/**
 * Sends one request and reads the answer. A handler may answer with a 1xx status (`context.status(103)`):
 * Node's server then sends that head alone (no body) and closes the connection, which Node's client reports
 * as an informational response followed by a hang-up. Such an answer is the 1xx head with an empty body; a
 * 101 is the same head, reported as an upgrade. A head Node's server refuses (431 for one far beyond 16 KiB)
 * is answered before the client has written it all, and the connection closes under the rest: Node 26's
 * client then reports the response (`Connection: close`, no body yet) and a reset, where Node 20's reported the
 * response alone. The answer is that response.
 */
export function send(port: number, req: HttpRequest, signal?: AbortSignal, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  const started = process.hrtime.bigint();
  const ms = (): number => Number(process.hrtime.bigint() - started) / 1e6;
  return new Promise((done, fail) => {
    let informational: Answer | undefined;
    let refused: Answer | undefined;
    const r = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.target, headers: wireHeaders(req), agent: false, setHost: false, signal },
      (res) => {
        informational = undefined;
        const chunks: Buffer[] = [];
        if (res.headers.connection === 'close') refused = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0), ms: 0 };
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          refused = undefined; // a body cut by a reset is no answer
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: ms() }));
        res.on('error', fail);
      },
    );
    r.on('information', (info) => {
      informational = { status: info.statusCode, headers: info.headers, body: Buffer.alloc(0), ms: 0 };
    });
    r.on('upgrade', (res, socket) => {
      socket.destroy();
      done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0), ms: ms() });
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (informational && !signal?.aborted) done({ ...informational, ms: ms() });
      else if (refused && !signal?.aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) done({ ...refused, ms: ms() });
      else fail(err);
    });
    r.end(req.body);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });
}

// ---------------------------------------------------------------------------------------------------------
// The dispatcher process

/** The dispatcher binary, started on a port; keeps the last lines of its output for error messages. */
/** A dispatcher binary running on a free loopback port (also used by bench/). */
export class Dispatcher {
  readonly tail: string[] = [];
  private exited: Promise<void>;
  private readonly onExit = (): void => this.killNow();

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((done) => child.once('exit', () => done()));
    // Whatever happens to this process, the dispatcher does not outlive it.
    process.once('exit', this.onExit);
  }

  /** Starts `binary` on a free port; `env` is added to this process's environment. */
  static async start(binary: string, env: NodeJS.ProcessEnv = {}): Promise<Dispatcher> {
    const port = await freePort();
    const child = spawn(binary, [], { env: { ...process.env, ...env, port: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((done, fail) => {
      child.once('spawn', () => done());
      child.once('error', (err) => fail(new CheckError(`cannot start the dispatcher ${binary}: ${err.message}`, [], { cause: err })));
    });
    return new Dispatcher(child, port);
  }

  /** Resolves when the process has exited or after `ms`, whichever comes first. */
  async settle(ms: number): Promise<void> {
    await Promise.race([this.exited, sleep(ms)]);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  describeExit(): string {
    return this.child.signalCode ? `was killed by ${this.child.signalCode}` : `exited with status ${this.child.exitCode}`;
  }

  async waitHealthy(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS;
    for (;;) {
      if (signal?.aborted) throw new AbortedError();
      if (!this.running) throw new CheckError(`the dispatcher ${this.describeExit()} before it was healthy`, this.tail);
      try {
        const a = await send(this.port, { method: 'GET', target: '/_/health', headers: [] }, signal, 2000);
        if (a.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new CheckError(`the dispatcher did not answer GET /_/health with 200 within ${HEALTH_TIMEOUT_MS / 1000}s`, this.tail);
      await sleep(50);
    }
  }

  private killNow(): void {
    if (this.running && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }

  /** SIGTERM, then SIGKILL after 3 seconds. */
  async stop(): Promise<void> {
    process.removeListener('exit', this.onExit);
    if (!this.running || this.child.pid === undefined) return;
    process.kill(this.child.pid, 'SIGTERM');
    const killed = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!killed) {
      this.killNow();
      await this.exited;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

/** `handler.js:12:5` for a site id of the normalised program, or `site 12` when it has no location. */
function siteLocator(core: CoreNode, file: string): (site: string) => string {
  const locs = new Map<number, { line: number; column: number }>();
  walkNodes<CoreNode>(core, (n) => {
    if (typeof n.sid === 'number' && n.loc?.start && !locs.has(n.sid)) locs.set(n.sid, n.loc.start);
  });
  return (site) => {
    const at = locs.get(Number(site));
    return at ? `${file}:${at.line}:${at.column + 1}` : `site ${site}`;
  };
}

/** The bytes around `at`, as a JSON string (so control characters show). */
function excerpt(body: Buffer, at: number): string {
  const from = Math.max(0, at - 30);
  const text = body.subarray(from, at + 30).toString('utf8');
  return `${from > 0 ? '…' : ''}${JSON.stringify(text)}${at + 30 < body.length ? '…' : ''}`;
}

function bodyDiff(js: Buffer, rust: Buffer): string {
  let at = 0;
  while (at < js.length && at < rust.length && js[at] === rust[at]) at++;
  return `body: node ${js.length} bytes, rust ${rust.length} bytes, first difference at byte ${at}: node ${excerpt(js, at)}, rust ${excerpt(rust, at)}`;
}

/** What differs between Node's answer and the dispatcher's, or null when they agree. */
export function compareAnswers(js: Pick<Answer, 'status' | 'headers' | 'body'>, rust: Pick<Answer, 'status' | 'headers' | 'body'>): string | null {
  const diffs: string[] = [];
  if (js.status !== rust.status) diffs.push(`status: node ${js.status}, rust ${rust.status}`);
  const jsType = js.headers['content-type'];
  const rustType = rust.headers['content-type'];
  if (jsType !== rustType) diffs.push(`content-type: node ${JSON.stringify(jsType ?? null)}, rust ${JSON.stringify(rustType ?? null)}`);
  if (!js.body.equals(rust.body)) diffs.push(bodyDiff(js.body, rust.body));
  return diffs.length === 0 ? null : diffs.join('; ');
}

function row(index: string, method: string, path: string, result: string, ms: string): string {
  const p = path.length > 36 ? `${path.slice(0, 35)}…` : path;
  return `${index.padStart(5)}  ${method.padEnd(7)} ${p.padEnd(36)} ${result.padEnd(40)} ${ms.padStart(8)}`;
}

// ---------------------------------------------------------------------------------------------------------
// The check

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const k = formatDiagnostic(d);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Reads and validates the inputs; throws UsageError naming the problem. */
export function readCheckInputs(opts: CheckOptions): { dir: string; source: string; requests: RequestEntry[] } {
  const dir = resolve(opts.dir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${opts.dir}: no such function folder`);
  const handlerFile = join(dir, 'handler.js');
  if (!existsSync(handlerFile)) throw new UsageError(`${opts.dir}: no handler.js in the function folder`);
  if (!existsSync(opts.requests)) throw new UsageError(`${opts.requests}: no such requests file`);
  let requests: RequestEntry[];
  try {
    requests = readRequests(opts.requests);
  } catch (err) {
    if (err instanceof RequestsFileError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
  if (requests.length === 0) throw new UsageError(`${opts.requests}: no requests in the file`);
  return { dir, source: readFileSync(handlerFile, 'utf8'), requests };
}

/**
 * Runs the whole check. Returns the summary; throws UsageError before doing anything when an input is bad.
 * Any other failure (the handler does not load, the build fails, the dispatcher dies) ends up in
 * `summary.error`, after every process and server this started has been stopped.
 */
/**
 * Runs requests through the instrumented handler, one at a time, as the watchdog would, and returns the
 * tracer (its `trace()` is the merged tree) and how many requests added to the tree.
 */
export async function traceRequests(
  dir: string,
  prepared: Prepared,
  name: string,
  requests: RequestEntry[],
  opts: { signal?: AbortSignal; logError?: (err: unknown) => void } = {},
): Promise<{ tracer: Tracer; grew: number }> {
  const tracer = new Tracer(prepared, name);
  let instrumented: LoadedHandler;
  try {
    instrumented = loadHandler(dir, { source: prepared.instrumented, inject: { __cl: tracer.runtime } });
  } catch (err) {
    throw new CheckError((err as Error).message, [], { cause: err });
  }
  const traceApp = createRunnerApp({
    handler: instrumented,
    choose: () => ({ handler: instrumented, around: (fn) => tracer.run(fn) }),
    logError: opts.logError,
  });
  const traceServer = http.createServer(traceApp);
  try {
    const tracePort = await listen(traceServer, 0, '127.0.0.1');
    let grew = 0;
    for (const r of requests) {
      if (opts.signal?.aborted) throw new AbortedError();
      const before = tracer.requests;
      await send(tracePort, toHttpRequest(r), opts.signal);
      // The tracer merges a request's observations when its invocation settles, just after the answer.
      for (let i = 0; i < 50 && tracer.requests === before; i++) await sleep(2);
      if (tracer.requests > before && tracer.lastNewSites > 0) grew++;
    }
    return { tracer, grew };
  } finally {
    await closeServer(traceServer);
  }
}

export async function runCheck(opts: CheckOptions, io: CheckIo): Promise<CheckSummary> {
  const { dir, source, requests } = readCheckInputs(opts);
  const name = basename(dir);
  const signal = opts.signal;
  const summary: CheckSummary = { requests: requests.length, rust: 0, fallback: 0, diverged: 0, diagnostics: [] };
  const servers: Server[] = [];
  let dispatcher: Dispatcher | undefined;
  const checkAbort = (): void => {
    if (signal?.aborted) throw new AbortedError();
  };
  const started = Date.now();
  const stage = (text: string): void => io.err(`== ${text} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  const logError = (err: unknown): void => io.err(`[node] ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);

  try {
    const prepared = prepare(source, 'handler.js');
    for (const d of prepared.diagnostics) io.err(formatDiagnostic(d));
    summary.diagnostics = dedupe(prepared.diagnostics);
    const site = siteLocator(prepared.core, 'handler.js');

    // Phase 1: trace.
    let plain: LoadedHandler;
    try {
      plain = loadHandler(dir);
    } catch (err) {
      throw new CheckError((err as Error).message, [], { cause: err });
    }
    const toTrace = requests.slice(0, opts.traceFirst ?? requests.length);
    stage(`trace: ${toTrace.length} of ${requests.length} requests through the instrumented handler`);
    const { tracer, grew } = await traceRequests(dir, prepared, name, toTrace, { signal, logError });
    const trace = tracer.trace();
    stage(`traced ${trace.requests} requests; ${grew} of them added to the trace tree`);

    // Phase 2: compile and build.
    checkAbort();
    const generated = generateRust(trace, { name });
    for (const d of generated.diagnostics) io.err(formatDiagnostic(d));
    summary.diagnostics = dedupe([...summary.diagnostics, ...generated.diagnostics]);
    stage(`generated ${generated.functions} Rust functions (${generated.main.length} bytes); building the dispatcher`);
    const built = await buildDispatcher(generated.main, { name, cacheDir: opts.cacheDir, onProgress: (l) => io.err(`   ${l}`), signal });
    stage(`built ${built.binary} in ${built.seconds.toFixed(1)}s`);

    // Phase 3: replay through Node and Rust.
    checkAbort();
    // Node's side is served as the watchdog serves it (its health routes never reach the handler), as the
    // dispatcher is: the shadow replica answers what Rust answered, the fallback replica what Rust handed back.
    const serveNode = async (handler: LoadedHandler): Promise<number> => {
      const watchdog = createBareWatchdogApp(createRunnerApp({ handler, logError }), REQUEST_TIMEOUT_MS);
      const server = http.createServer(watchdog.listener);
      servers.push(server);
      return listen(server, 0, '127.0.0.1');
    };
    let fallbackHandler: LoadedHandler;
    try {
      fallbackHandler = loadHandler(dir);
    } catch (err) {
      throw new CheckError((err as Error).message, [], { cause: err });
    }
    const shadowPort = await serveNode(plain);
    const fallbackPort = await serveNode(fallbackHandler);
    dispatcher = await Dispatcher.start(built.binary, { cl_workers: '1' });
    await dispatcher.waitHealthy(signal);
    stage(
      `replay: ${requests.length} requests through the dispatcher (port ${dispatcher.port}), then Node: the shadow replica (port ${shadowPort}) for Rust's answers, the fallback replica (port ${fallbackPort}) for the rest`,
    );
    io.err(row('#', 'method', 'path', 'result', 'ms'));
    const reasons = new Map<string, number>();
    for (let i = 0; i < requests.length; i++) {
      checkAbort();
      const req = toHttpRequest(requests[i]);
      const index = String(i + 1);
      let rust: Answer;
      try {
        rust = await send(dispatcher.port, req, signal);
      } catch (err) {
        checkAbort();
        // A dropped connection is often the process dying: give its exit a moment to be seen.
        await dispatcher.settle(300);
        if (!dispatcher.running) {
          io.err(row(index, req.method, req.target, 'CRASHED', ''));
          throw new CheckError(`the dispatcher ${dispatcher.describeExit()} while answering request ${i + 1} (line ${requests[i].line})`, dispatcher.tail);
        }
        // No answer at all is not a give-up: the client would have seen an error.
        let js: Answer | undefined;
        try {
          js = await send(fallbackPort, req, signal);
        } catch {
          // reported below
        }
        summary.diverged++;
        io.err(row(index, req.method, req.target, 'DIVERGED', ''));
        io.err(`         rust gave no answer (${(err as Error).message}); node answered ${js ? js.status : 'nothing either'}`);
        continue;
      }
      const reason = rust.status === 503 ? rust.headers[FALLBACK_HEADER] : undefined;
      let js: Answer;
      try {
        js = await send(reason === undefined ? shadowPort : fallbackPort, req, signal);
      } catch (err) {
        checkAbort();
        throw new CheckError(`node gave no answer to request ${i + 1} (line ${requests[i].line}): ${(err as Error).message}`, [], { cause: err });
      }
      if (reason !== undefined) {
        const at = rust.headers[SITE_HEADER];
        const detail = rust.body.toString('utf8').trim().slice(0, 100);
        const why = `${String(reason)}${at !== undefined && String(at) !== '0' ? ` at ${site(String(at))}` : ''}${detail ? `: ${detail}` : ''}`;
        summary.fallback++;
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
        io.err(row(index, req.method, req.target, `fallback(${why})`, (rust.ms + js.ms).toFixed(1)));
        continue;
      }
      const diff = compareAnswers(js, rust);
      if (diff === null) {
        summary.rust++;
        io.err(row(index, req.method, req.target, 'rust', rust.ms.toFixed(1)));
      } else {
        summary.diverged++;
        io.err(row(index, req.method, req.target, 'DIVERGED', rust.ms.toFixed(1)));
        io.err(`         ${diff}`);
      }
    }
    if (reasons.size > 0) {
      io.err('fallbacks:');
      for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1])) {
        const meaning = REASONS[why.split(' ')[0]];
        io.err(`  ${String(n).padStart(4)} × ${why}${meaning ? ` (${meaning})` : ''}`);
      }
    }
    stage(`done: ${summary.rust} rust, ${summary.fallback} fallback, ${summary.diverged} diverged`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof AbortedError || signal?.aborted) {
      summary.error = 'interrupted';
    } else if (err instanceof BuildError || err instanceof CheckError) {
      summary.error = err.message;
      if (err.output.length > 0) {
        io.err(`--- last ${err.output.length} lines of ${err instanceof BuildError ? 'cargo' : 'the dispatcher'}'s output`);
        for (const line of err.output) io.err(line);
        io.err('---');
      }
    } else {
      summary.error = err instanceof Error ? err.message : String(err);
      if (err instanceof Error && err.stack) io.err(err.stack);
    }
    io.err(`error: ${summary.error}`);
  } finally {
    if (dispatcher) await dispatcher.stop();
    for (const s of servers) await closeServer(s);
  }
  return summary;
}
