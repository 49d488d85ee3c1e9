/**
 * `containerless bench <function-dir> --requests <file.jsonl>`: what a function costs per request in Node and
 * compiled to Rust, measured side by side in one run on loopback.
 *
 *   1. trace and compile as `check` does (traceRequests, generateRust, buildDispatcher: the same cache); an
 *      `optimized` build uses the runtime's profile, as promotion's does (pgo.ts: recorded first if need be)
 *   2. serve   Node's side: the plain handler behind the watchdog's request listener and runner, in a child
 *              process of its own (serve-node.ts); Rust's side: the dispatcher, with `cl_workers=1` (one realm,
 *              as Node has one event loop) unless the environment sets `cl_workers`
 *   3. compare every request once, in file order: to the dispatcher, then, unless the dispatcher handed it
 *              back, to Node; the answers must agree (compareAnswers). A request Rust hands back is a
 *              fallback: it is neither sent to Node nor measured again, so Node's module state sees the same
 *              requests as the dispatcher's
 *   4. warm up each side on each request, then size a batch per request (the same for both sides) so that a
 *              batch takes about `batchMs` on the slower side (judged by its fastest warm-up send)
 *   5. measure `rounds` rounds; in each, every request gets one batch on each side, the side that goes first
 *              alternating from one request to the next and from one round to the next. Per batch: the CPU time
 *              of the serving process (the sum over its threads of /proc/<pid>/task/<tid>/schedstat's
 *              nanoseconds on a CPU; a batch during which a thread exited is measured again, and at the third
 *              try taken from /proc/<pid>/stat's ticks, which count exited threads) and the wall time seen by
 *              this process, both divided by the batch size. A request's figure is the median over rounds.
 *
 * The summary sums the per-request medians over the requests Rust answered, on both sides, so its ratios
 * compare the same work; requests that fell back are counted. CPU time is the serving process's own, so other
 * work on the machine changes it much less than wall time; the client (this process) is in neither.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDispatcher, BuildError, generateRust, type BuildProfile } from '../compiler/index.ts';
import { sleep } from '../lib/index.ts';
import { formatDiagnostic, prepare } from '../trace/index.ts';
import { AbortedError, CheckError, compareAnswers, DEFAULT_HOST, Dispatcher, FALLBACK_HEADER, readCheckInputs, traceRequests, UsageError } from './check.ts';
import { pgoFor } from './pgo.ts';
import { toHttpRequest, type HttpRequest, type RequestEntry } from './requests.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const REQUEST_TIMEOUT_MS = 60_000;
const NODE_START_TIMEOUT_MS = 30_000;
/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s. */
const CLK_TCK = 100;
const MAX_BATCH = 1000;

export interface BenchOptions {
  dir: string;
  requests: string;
  /** Measured rounds per request and side (default 5). */
  rounds?: number;
  /** Warm-up sends per request and side before measuring (default 3; at least one is made, to size the batches). */
  warmup?: number;
  /** About how long one batch takes on the slower side, in ms (default 20). */
  batchMs?: number;
  /** The measuring phase's budget in seconds (default 120): batches shrink (to one request) to fit it. */
  maxSeconds?: number;
  /** Replaces $CONTAINERLESS_CACHE for the build. */
  cacheDir?: string;
  /** The build's cargo profile (default `release`, as check builds; the CLI's default is `optimized`). */
  profile?: BuildProfile;
  signal?: AbortSignal;
}

/** The JSON line `bench` prints last. Sums over the requests Rust answered; null when there is none. */
export interface BenchSummary {
  requests: number;
  fallback: number;
  node_cpu_us: number;
  rust_cpu_us: number;
  cpu_speedup: number | null;
  node_wall_us: number;
  rust_wall_us: number;
  wall_speedup: number | null;
}

/** What `runBench` found: the summary, or why there is none (a divergence, a crash). */
export interface BenchResult {
  summary?: BenchSummary;
  diverged: number;
  error?: string;
  /** One entry per request of the file, in order. */
  rows: BenchRow[];
}

export interface BenchRow {
  line: number;
  method: string;
  target: string;
  /** 'rust', 'fallback(<reason>)' or 'DIVERGED'. */
  result: string;
  batch: number;
  nodeCpuUs?: number;
  rustCpuUs?: number;
  nodeWallUs?: number;
  rustWallUs?: number;
}

export interface BenchIo {
  err(line: string): void;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP on loopback, one keep-alive connection per side

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function wireHeaders(req: HttpRequest): Record<string, string> {
  const out: Record<string, string> = {};
  if (!req.headers.some(([k]) => k.toLowerCase() === 'host')) out.host = DEFAULT_HOST;
  for (const [k, v] of req.headers) out[k] = v;
  return out;
}

function send(agent: http.Agent, port: number, req: HttpRequest, signal?: AbortSignal): Promise<Reply> {
  return new Promise((done, fail) => {
    const r = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.target, headers: wireHeaders(req), agent, setHost: false, signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', fail);
      },
    );
    r.setTimeout(REQUEST_TIMEOUT_MS, () => r.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)));
    r.on('error', fail);
    r.end(req.body);
  });
}

// ---------------------------------------------------------------------------------------------------------
// CPU time of a process

/** Nanoseconds on a CPU of each live thread of `pid` (/proc/<pid>/task/<tid>/schedstat, first field). */
function threadNs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const v = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      if (Number.isFinite(v)) out.set(tid, v);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return out;
}

/** Nanoseconds on a CPU of all the live threads of `pid` together (see threadNs). */
export function liveThreadsCpuNs(pid: number): number {
  let sum = 0;
  for (const v of threadNs(pid).values()) sum += v;
  return sum;
}

/** utime + stime of the whole process in ns (ticks of 10 ms; exited threads included). */
function processTickNs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1e9;
  } catch {
    return NaN;
  }
}

interface CpuMark {
  threads: Map<string, number>;
  ticks: number;
}

const cpuMark = (pid: number): CpuMark => ({ threads: threadNs(pid), ticks: processTickNs(pid) });

/** CPU ns between two marks; `exact` is false when a thread the first mark saw had exited by the second. */
function cpuBetween(a: CpuMark, b: CpuMark): { ns: number; exact: boolean } {
  let ns = 0;
  let exact = true;
  for (const [tid, v] of b.threads) ns += v - (a.threads.get(tid) ?? 0);
  for (const tid of a.threads.keys()) if (!b.threads.has(tid)) exact = false;
  return { ns, exact };
}

// ---------------------------------------------------------------------------------------------------------
// The two sides

interface Side {
  name: 'node' | 'rust';
  pid: number;
  port: number;
  agent: http.Agent;
  running(): boolean;
  describe(): string;
  tail: string[];
}

/** Node's side: harness/serve-node.ts in a child process; resolves once it printed its port. */
async function startNode(dir: string, signal?: AbortSignal): Promise<{ child: ChildProcess; port: number; tail: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'harness/serve-node.ts'), dir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
    }
  };
  child.stderr!.on('data', keep);
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
  const port = await new Promise<number>((done, fail) => {
    let first = '';
    const timer = setTimeout(() => fail(new CheckError(`Node's side did not start within ${NODE_START_TIMEOUT_MS / 1000}s`, tail)), NODE_START_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      first += d.toString('utf8');
      const nl = first.indexOf('\n');
      if (nl < 0) return;
      child.stdout!.off('data', onData);
      child.stdout!.on('data', keep); // the handler's own console.log; read so the pipe never fills
      keep(Buffer.from(first.slice(nl + 1)));
      clearTimeout(timer);
      done(Number(first.slice(0, nl).trim()));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      fail(new CheckError(`Node's side (the plain handler) ${sig ? `was killed by ${sig}` : `exited with status ${code}`} before it listened`, tail));
    });
    signal?.addEventListener('abort', () => fail(new AbortedError()), { once: true });
  });
  return { child, port, tail };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  if (!(await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]))) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Sends `req` to `side`; a failed send is a crash when the process is gone, else an error of its own. */
async function sendTo(side: Side, req: HttpRequest, what: string, signal?: AbortSignal): Promise<Reply> {
  try {
    return await send(side.agent, side.port, req, signal);
  } catch (err) {
    if (signal?.aborted) throw new AbortedError();
    await sleep(300);
    if (!side.running())
      throw new CheckError(`the ${side.name === 'node' ? "Node side's process" : 'dispatcher'} ${side.describe()} while answering ${what}`, side.tail);
    throw new CheckError(`${side.name} gave no answer to ${what}: ${(err as Error).message}`, side.tail, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Measuring

interface Sample {
  cpuUs: number;
  wallUs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One batch of `n` sends of `req` to `side`: CPU and wall time per request. */
async function batch(side: Side, req: HttpRequest, n: number, what: string, expect: number, signal?: AbortSignal): Promise<Sample & { fellBack?: string }> {
  for (let attempt = 1; ; attempt++) {
    const before = cpuMark(side.pid);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = await sendTo(side, req, what, signal);
      const reason = r.status === 503 ? r.headers[FALLBACK_HEADER] : undefined;
      if (reason !== undefined) return { cpuUs: 0, wallUs: 0, fellBack: String(reason) };
      if (r.status !== expect) throw new CheckError(`${side.name} answered ${what} with status ${r.status} while measuring, ${expect} before`, side.tail);
    }
    const wallNs = Number(process.hrtime.bigint() - t0);
    const after = cpuMark(side.pid);
    const cpu = cpuBetween(before, after);
    if (cpu.exact || attempt < 3) {
      if (!cpu.exact) continue;
      return { cpuUs: cpu.ns / n / 1000, wallUs: wallNs / n / 1000 };
    }
    return { cpuUs: (after.ticks - before.ticks) / n / 1000, wallUs: wallNs / n / 1000 };
  }
}

const us = (x: number): number => Math.round(x * 10) / 10;
const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

function tableRow(cells: string[]): string {
  const widths = [5, 7, 30, 12, 6, 12, 12, 7, 12, 12, 7];
  return cells
    .map((c, i) => {
      const text = i === 2 && c.length > widths[i] ? `${c.slice(0, widths[i] - 1)}…` : c;
      return i <= 3 && i !== 0 ? text.padEnd(widths[i]) : text.padStart(widths[i]);
    })
    .join(' ');
}

/**
 * Runs the whole benchmark. Throws UsageError before doing anything when an input is bad; any other failure
 * (the build, a side that crashed, a divergence) is in the result's `error`, after every process this
 * started has been stopped.
 */
export async function runBench(opts: BenchOptions, io: BenchIo): Promise<BenchResult> {
  const rounds = opts.rounds ?? 5;
  const warmup = opts.warmup ?? 3;
  const batchMs = opts.batchMs ?? 20;
  const maxSeconds = opts.maxSeconds ?? 120;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new UsageError(`rounds must be a whole number of at least 1, not ${rounds}`);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new UsageError(`warmup must be a whole number, not ${warmup}`);
  if (!(batchMs > 0)) throw new UsageError(`batch-ms must be above 0, not ${batchMs}`);
  if (!(maxSeconds > 0)) throw new UsageError(`max-seconds must be above 0, not ${maxSeconds}`);
  const { dir, source, requests } = readCheckInputs({ dir: opts.dir, requests: opts.requests });
  const name = basename(dir);
  const signal = opts.signal;
  const started = Date.now();
  const stage = (text: string): void => io.err(`== ${text} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  const result: BenchResult = { diverged: 0, rows: requests.map((r) => rowOf(r)) };
  let dispatcher: Dispatcher | undefined;
  let node: { child: ChildProcess; port: number; tail: string[] } | undefined;
  const agents = [new http.Agent({ keepAlive: true, maxSockets: 1 }), new http.Agent({ keepAlive: true, maxSockets: 1 })];

  try {
    // 1. Trace and compile, as check does.
    const prepared = prepare(source, 'handler.js');
    for (const d of prepared.diagnostics) io.err(formatDiagnostic(d));
    stage(`trace: ${requests.length} requests through the instrumented handler`);
    const { tracer } = await traceRequests(dir, prepared, name, requests, { signal, logError: () => {} });
    const generated = generateRust(tracer.trace(), { name });
    for (const d of generated.diagnostics) io.err(formatDiagnostic(d));
    stage(`generated ${generated.functions} Rust functions; building the dispatcher`);
    const pgo = await pgoFor(opts.profile, { cacheDir: opts.cacheDir, onProgress: (l) => io.err(`   ${l}`), signal });
    const built = await buildDispatcher(generated.main, {
      name,
      cacheDir: opts.cacheDir,
      profile: opts.profile,
      pgo,
      onProgress: (l) => io.err(`   ${l}`),
      signal,
    });
    stage(`built ${built.binary}${pgo ? ' with the runtime profile' : ''}`);

    // 2. Both sides.
    node = await startNode(dir, signal);
    const nodeChild = node.child;
    dispatcher = await Dispatcher.start(built.binary, { cl_workers: process.env.cl_workers ?? '1' });
    await dispatcher.waitHealthy(signal);
    const d = dispatcher;
    const nodeSide: Side = {
      name: 'node',
      pid: nodeChild.pid!,
      port: node.port,
      agent: agents[0],
      running: () => nodeChild.exitCode === null && nodeChild.signalCode === null,
      describe: () => (nodeChild.signalCode ? `was killed by ${nodeChild.signalCode}` : `exited with status ${nodeChild.exitCode}`),
      tail: node.tail,
    };
    const rustSide: Side = {
      name: 'rust',
      pid: d.child.pid!,
      port: d.port,
      agent: agents[1],
      running: () => d.running,
      describe: () => d.describeExit(),
      tail: d.tail,
    };
    const sides = [nodeSide, rustSide];

    // 3. Compare once, in file order.
    stage(`compare: every request to the dispatcher (pid ${rustSide.pid}), then to Node (pid ${nodeSide.pid}) unless the dispatcher handed it back`);
    const wire = requests.map(toHttpRequest);
    const what = (i: number): string => `request ${i + 1} (line ${requests[i].line})`;
    const status: number[] = [];
    const measured: number[] = [];
    for (let i = 0; i < requests.length; i++) {
      if (signal?.aborted) throw new AbortedError();
      const rust = await sendTo(rustSide, wire[i], what(i), signal);
      const reason = rust.status === 503 ? rust.headers[FALLBACK_HEADER] : undefined;
      if (reason !== undefined) {
        result.rows[i].result = `fallback(${String(reason)})`;
        continue;
      }
      const js = await sendTo(nodeSide, wire[i], what(i), signal);
      const diff = compareAnswers(js, rust);
      if (diff !== null) {
        result.diverged++;
        result.rows[i].result = 'DIVERGED';
        io.err(`${what(i)} ${wire[i].method} ${wire[i].target} DIVERGED: ${diff}`);
        continue;
      }
      status[i] = rust.status;
      measured.push(i);
    }
    if (result.diverged > 0)
      throw new CheckError(`${result.diverged} request${result.diverged === 1 ? '' : 's'} diverged: Rust and Node answered differently; nothing measured`);

    // 4. Warm up, and size the batches.
    stage(`warm-up: ${warmup} sends of each of ${measured.length} requests to each side`);
    // A request's estimate is the slower side's fastest warm-up send (the first sends are cold).
    const estimate: number[] = [];
    for (const i of measured) {
      const fastest = { node: Infinity, rust: Infinity };
      for (let k = 0; k < Math.max(warmup, 1); k++) {
        for (const side of k % 2 ? sides : [...sides].reverse()) {
          const s = await batch(side, wire[i], 1, what(i), status[i], signal);
          if (s.fellBack !== undefined) result.rows[i].result = `fallback(${s.fellBack}, after it answered)`;
          else fastest[side.name] = Math.min(fastest[side.name], s.wallUs);
        }
      }
      estimate[i] = Math.max(fastest.node, fastest.rust);
    }
    const live = measured.filter((i) => result.rows[i].result === 'rust');
    let target = batchMs * 1000;
    const plannedUs = (t: number): number =>
      live.reduce((s, i) => s + rounds * 2 * Math.max(1, Math.min(MAX_BATCH, Math.round(t / Math.max(estimate[i], 1)))) * estimate[i], 0);
    while (target > 1 && plannedUs(target) > maxSeconds * 1e6) target /= 2;
    for (const i of live) result.rows[i].batch = Math.max(1, Math.min(MAX_BATCH, Math.round(target / Math.max(estimate[i], 1))));
    const planned = plannedUs(target) / 1e6;
    stage(
      `measure: ${rounds} rounds of one batch per request and side (batches of ${Math.min(...live.map((i) => result.rows[i].batch))} to ${Math.max(0, ...live.map((i) => result.rows[i].batch))} requests, about ${(target / 1000).toFixed(1)} ms each), about ${planned.toFixed(0)}s${planned > maxSeconds ? ` (over the ${maxSeconds}s budget even with batches of one)` : ''}`,
    );

    // 5. Measure: alternate which side goes first, per request and per round.
    const samples = new Map<number, { node: Sample[]; rust: Sample[] }>(live.map((i) => [i, { node: [], rust: [] }]));
    for (let round = 0; round < rounds; round++) {
      for (const i of live) {
        if (signal?.aborted) throw new AbortedError();
        if (result.rows[i].result !== 'rust') continue;
        const order = (round + i) % 2 ? [nodeSide, rustSide] : [rustSide, nodeSide];
        for (const side of order) {
          const s = await batch(side, wire[i], result.rows[i].batch, what(i), status[i], signal);
          if (s.fellBack !== undefined) {
            result.rows[i].result = `fallback(${s.fellBack}, while measuring)`;
            break;
          }
          samples.get(i)![side.name].push(s);
        }
      }
    }

    // The table and the sums.
    io.err(tableRow(['#', 'method', 'path', 'result', 'batch', 'node cpu µs', 'rust cpu µs', 'cpu x', 'node wall µs', 'rust wall µs', 'wall x']));
    const sum = { nodeCpu: 0, rustCpu: 0, nodeWall: 0, rustWall: 0 };
    let fallback = 0;
    for (let i = 0; i < requests.length; i++) {
      const row = result.rows[i];
      const s = samples.get(i);
      if (row.result === 'rust' && s) {
        row.nodeCpuUs = median(s.node.map((x) => x.cpuUs));
        row.rustCpuUs = median(s.rust.map((x) => x.cpuUs));
        row.nodeWallUs = median(s.node.map((x) => x.wallUs));
        row.rustWallUs = median(s.rust.map((x) => x.wallUs));
        sum.nodeCpu += row.nodeCpuUs;
        sum.rustCpu += row.rustCpuUs;
        sum.nodeWall += row.nodeWallUs;
        sum.rustWall += row.rustWallUs;
        const f = (x: number): string => x.toFixed(0);
        io.err(
          tableRow([
            String(i + 1),
            row.method,
            row.target,
            'rust',
            String(row.batch),
            f(row.nodeCpuUs),
            f(row.rustCpuUs),
            (row.nodeCpuUs / row.rustCpuUs).toFixed(2),
            f(row.nodeWallUs),
            f(row.rustWallUs),
            (row.nodeWallUs / row.rustWallUs).toFixed(2),
          ]),
        );
      } else {
        fallback++;
        io.err(`${tableRow([String(i + 1), row.method, row.target, 'fallback', '', '', '', '', '', '', ''])} ${row.result}`.trimEnd());
      }
    }
    result.summary = {
      requests: requests.length,
      fallback,
      node_cpu_us: us(sum.nodeCpu),
      rust_cpu_us: us(sum.rustCpu),
      cpu_speedup: ratio(sum.nodeCpu, sum.rustCpu),
      node_wall_us: us(sum.nodeWall),
      rust_wall_us: us(sum.rustWall),
      wall_speedup: ratio(sum.nodeWall, sum.rustWall),
    };
    stage(
      `done: ${requests.length - fallback} requests measured, ${fallback} fell back; CPU ${us(sum.nodeCpu)} µs in Node, ${us(sum.rustCpu)} µs in Rust (${result.summary.cpu_speedup ?? '-'}x)`,
    );
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (err instanceof AbortedError || signal?.aborted) {
      result.error = 'interrupted';
    } else if (err instanceof BuildError || err instanceof CheckError) {
      result.error = err.message;
      if (err.output.length > 0) {
        io.err(`--- last ${err.output.length} lines of ${err instanceof BuildError ? 'cargo' : 'its'} output`);
        for (const line of err.output) io.err(line);
        io.err('---');
      }
    } else {
      result.error = err instanceof Error ? err.message : String(err);
      if (err instanceof Error && err.stack) io.err(err.stack);
    }
    io.err(`error: ${result.error}`);
  } finally {
    for (const a of agents) a.destroy();
    if (dispatcher) await dispatcher.stop();
    if (node) await stopChild(node.child);
  }
  return result;
}

function rowOf(r: RequestEntry): BenchRow {
  const h = toHttpRequest(r);
  return { line: r.line, method: h.method, target: h.target, result: 'rust', batch: 0 };
}
