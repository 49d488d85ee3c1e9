/**
 * The dispatcher's own cost: a trivial request (the greeting handler, bench/functions/hello) served side by
 * side in one run, on loopback, by
 *
 *   bare-hyper   runtime/examples/bare_hyper.rs: hyper on tokio answering the same bytes, doing nothing else
 *                (the floor);
 *   bare-node    Node's `http` calling the handler and answering the same bytes (no Express, no parsers);
 *   dispatcher   the handler traced, compiled and built as the provider does it (harness + compiler), with
 *                its defaults;
 *   disp-log     the same binary with cl_log_requests=true (a JSON line per request on stderr);
 *   disp-before  with BENCH_DISPATCHER_BEFORE=<binary>: another greeting dispatcher (built from an earlier
 *                runtime), so that a change to the runtime is measured against what it replaces in one run.
 *
 *   npm run bench:dispatcher
 *   BENCH_ROUNDS=5 BENCH_PASS_MS=3000 BENCH_CONCURRENCY=32 npm run bench:dispatcher
 *   BENCH_DISPATCHER_BIN=<greeting dispatcher binary> npm run bench:dispatcher   # skip tracing and building
 *   BENCH_DISPATCHER_BEFORE=<greeting dispatcher binary> npm run bench:dispatcher   # add disp-before
 *   BENCH_PROFILE=release npm run bench:dispatcher   # the dispatcher built as check builds (default: optimized)
 *
 * Load: wrk -t1 -c<concurrency> when it is on PATH (Debian's package; BENCH_LOADGEN=node forces the Node
 * client of bench/load.ts, which is what runs where wrk is not installed). Each setup is measured in
 * BENCH_ROUNDS passes, alternating the order per round; reported per setup: the median req/s, p50 and p99, the
 * CPU the server spent per request, its resident memory (VmRSS) idle before the load, the most seen during it,
 * and idle after it, its threads (most seen under load), and the time from spawning the process to its first
 * 200 answer (median of three fresh starts). Ratios are against bare-hyper. The last line of stdout is the
 * whole result as JSON. Bounded: each pass stops after BENCH_PASS_MS (or 50,000 requests with the Node client).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildDispatcher, generateRust } from '../compiler/index.ts';
import { pgoFor, traceRequests } from '../harness/index.ts';
import { freePort, sleep } from '../lib/index.ts';
import { prepare } from '../trace/index.ts';
import { findWrk, load, loadWrk, type BenchRequest, type LoadResult } from './load.ts';

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PASS_MS = Number(process.env.BENCH_PASS_MS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const MAX_REQUESTS = 50_000;
const WRK = process.env.BENCH_LOADGEN === 'node' ? undefined : findWrk();
const HANDLER_DIR = join(ROOT, 'bench/functions/hello');
const REQS: BenchRequest[] = [{ method: 'GET', path: '/', headers: {} }];
const EXPECTED = 'Hello, world';

type SetupName = 'bare-hyper' | 'bare-node' | 'dispatcher' | 'disp-log' | 'disp-before';
const BEFORE_BIN = process.env.BENCH_DISPATCHER_BEFORE;
const SETUPS: SetupName[] = ['bare-hyper', 'bare-node', 'dispatcher', 'disp-log', ...(BEFORE_BIN ? (['disp-before'] as const) : [])];

interface Launch {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

interface Server {
  child: ChildProcess;
  port: number;
  base: string;
  /** Milliseconds from spawn to the first 200 on GET /. */
  firstAnswerMs: number;
  output: () => string;
}

/** Node's `http` calling the handler: the least a Node server does to answer it. */
const BARE_NODE = `
const http = require('node:http');
const handler = require(process.argv[1]);
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const t0 = process.hrtime.bigint();
    const out = await handler({ body: Buffer.concat(chunks).toString(), headers: req.headers, method: req.method, query: {}, path: req.url }, {});
    const body = Buffer.from(String(out));
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      ETag: 'W/"c-4CqhsQbVx8apje8rEwBdW4T9jcg"',
      'X-Duration-Seconds': (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(6),
    });
    res.end(body);
  });
});
server.listen(Number(process.env.port), '127.0.0.1');
`;

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', fail);
  });
}

async function start(l: Launch): Promise<Server> {
  const port = await freePort();
  const t0 = process.hrtime.bigint();
  const child = spawn(l.command, l.args, { env: { ...process.env, ...l.env, port: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${l.command} exited before answering:\n${out}`);
    try {
      const a = await get(port);
      if (a.status === 200) {
        if (a.body !== EXPECTED) throw new Error(`${l.command} answered ${JSON.stringify(a.body)}, not ${JSON.stringify(EXPECTED)}`);
        break;
      }
    } catch (err) {
      if ((err as Error).message.includes('answered')) throw err;
    }
    if (Date.now() > deadline) throw new Error(`${l.command} did not answer GET / within 30 s:\n${out}`);
    await sleep(1);
  }
  const firstAnswerMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { child, port, base: `http://127.0.0.1:${port}`, firstAnswerMs, output: () => out };
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  const t = setTimeout(() => s.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

function status(pid: number): { rssKib: number; threads: number } {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rssKib: Number(/^VmRSS:\s+(\d+)/m.exec(text)?.[1] ?? 0), threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? 0) };
  } catch {
    return { rssKib: 0, threads: 0 };
  }
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function buildBareHyper(): Promise<string> {
  const { stdout } = await execFileP('cargo', ['build', '--release', '-p', 'containerless-runtime', '--example', 'bare_hyper', '--message-format=json'], {
    cwd: ROOT,
    maxBuffer: 64 << 20,
  });
  for (const line of stdout.split('\n')) {
    if (!line.includes('"executable"')) continue;
    const m = JSON.parse(line) as { executable?: string | null; target?: { name?: string } };
    if (m.target?.name === 'bare_hyper' && m.executable) return m.executable;
  }
  throw new Error('cargo built no bare_hyper executable');
}

async function buildGreeting(): Promise<string> {
  const prepared = prepare(readFileSync(join(HANDLER_DIR, 'handler.js'), 'utf8'), 'handler.js');
  const { tracer } = await traceRequests(HANDLER_DIR, prepared, 'hello', [{ method: 'GET', path: '/', line: 1 }]);
  const generated = generateRust(tracer.trace(), { name: 'bench-hello' });
  // Built as promotion builds it (the optimized profile), unless BENCH_PROFILE=release.
  const profile = process.env.BENCH_PROFILE === 'release' ? 'release' : 'optimized';
  // Promotion's builds use the runtime's profile: so does this one.
  const pgo = await pgoFor(profile, { onProgress: (l) => console.error(`  profile: ${l}`) });
  const built = await buildDispatcher(generated.main, { name: 'bench-hello', profile, pgo, onProgress: (l) => console.error(`  cargo: ${l}`) });
  return built.binary;
}

interface Row {
  rps: number;
  p50ms: number;
  p99ms: number;
  cpuUsPerRequest: number;
  rssIdleMiB: number;
  rssLoadMiB: number;
  rssAfterMiB: number;
  threadsIdle: number;
  threadsLoad: number;
  firstAnswerMs: number;
}

async function main(): Promise<void> {
  console.error('bench:dispatcher: building bare_hyper and the greeting dispatcher');
  // BENCH_DISPATCHER_BIN: measure an already built greeting dispatcher (comparing runtime changes).
  const [hyperBin, dispatcherBin] = await Promise.all([buildBareHyper(), process.env.BENCH_DISPATCHER_BIN ?? buildGreeting()]);
  const launches: Record<SetupName, Launch> = {
    'bare-hyper': { command: hyperBin, args: [], env: {} },
    'bare-node': { command: process.execPath, args: ['-e', BARE_NODE, join(HANDLER_DIR, 'handler.js')], env: {} },
    dispatcher: { command: dispatcherBin, args: [], env: {} },
    'disp-log': { command: dispatcherBin, args: [], env: { cl_log_requests: 'true' } },
    'disp-before': { command: BEFORE_BIN ?? dispatcherBin, args: [], env: {} },
  };
  const measure = (base: string): Promise<LoadResult> =>
    WRK
      ? loadWrk(WRK, base, REQS, { concurrency: CONCURRENCY, seconds: PASS_MS / 1000 })
      : load(base, REQS, { concurrency: CONCURRENCY, seconds: PASS_MS / 1000, maxRequests: MAX_REQUESTS });
  console.log(
    `bench:dispatcher  greeting handler, concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${PASS_MS} ms per setup, loopback, load from ${WRK ? `wrk -t1 (${WRK})` : 'the Node client (bench/load.ts)'}`,
  );

  // Time to first answer: fresh processes, three each, interleaved.
  const firsts = new Map<SetupName, number[]>(SETUPS.map((n) => [n, []]));
  for (let i = 0; i < 3; i++) {
    for (const name of SETUPS) {
      const s = await start(launches[name]);
      firsts.get(name)!.push(s.firstAnswerMs);
      await stop(s);
    }
  }

  const servers = new Map<SetupName, Server>();
  const rows = {} as Record<SetupName, Row>;
  try {
    for (const name of SETUPS) servers.set(name, await start(launches[name]));
    const idle = new Map<SetupName, { rssKib: number; threads: number }>();
    for (const name of SETUPS) idle.set(name, status(servers.get(name)!.child.pid!));
    const results = new Map<SetupName, LoadResult[]>(SETUPS.map((n) => [n, []]));
    const peak = new Map<SetupName, { rssKib: number; threads: number }>(SETUPS.map((n) => [n, { rssKib: 0, threads: 0 }]));
    const cpu = new Map<SetupName, { ticks: number; requests: number }>(SETUPS.map((n) => [n, { ticks: 0, requests: 0 }]));
    // Warm-up (Node's JIT, connection setup), not counted.
    for (const name of SETUPS) await measure(servers.get(name)!.base);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? SETUPS : [...SETUPS].reverse();
      for (const name of order) {
        const pid = servers.get(name)!.child.pid!;
        const p = peak.get(name)!;
        const sampler = setInterval(() => {
          const s = status(pid);
          p.rssKib = Math.max(p.rssKib, s.rssKib);
          p.threads = Math.max(p.threads, s.threads);
        }, 100);
        const t0 = cpuTicks(pid);
        const r = await measure(servers.get(name)!.base).finally(() => clearInterval(sampler));
        const c = cpu.get(name)!;
        c.ticks += cpuTicks(pid) - t0;
        c.requests += r.requests;
        const bad = Object.entries(r.statuses).filter(([code]) => code !== '200');
        if (r.errors > 0 || bad.length > 0) throw new Error(`${name}: ${r.errors} errors, statuses ${JSON.stringify(r.statuses)}`);
        results.get(name)!.push(r);
      }
    }
    await sleep(500);
    for (const name of SETUPS) {
      const rs = results.get(name)!;
      const pid = servers.get(name)!.child.pid!;
      const after = status(pid);
      rows[name] = {
        rps: median(rs.map((r) => r.rps)),
        p50ms: median(rs.map((r) => r.p50ms)),
        p99ms: median(rs.map((r) => r.p99ms)),
        cpuUsPerRequest: (cpu.get(name)!.ticks * 10_000) / Math.max(1, cpu.get(name)!.requests),
        rssIdleMiB: idle.get(name)!.rssKib / 1024,
        rssLoadMiB: peak.get(name)!.rssKib / 1024,
        rssAfterMiB: after.rssKib / 1024,
        threadsIdle: idle.get(name)!.threads,
        threadsLoad: peak.get(name)!.threads,
        firstAnswerMs: median(firsts.get(name)!),
      };
    }
  } finally {
    for (const s of servers.values()) await stop(s);
  }

  const f = (n: number, d = 0): string => n.toFixed(d);
  const header = ['setup', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'RSS idle', 'RSS load', 'RSS after', 'threads', 'first answer ms'];
  const table = SETUPS.map((name) => {
    const r = rows[name];
    return [
      name,
      f(r.rps),
      f(r.p50ms, 2),
      f(r.p99ms, 2),
      f(r.cpuUsPerRequest, 1),
      `${f(r.rssIdleMiB, 1)} MiB`,
      `${f(r.rssLoadMiB, 1)} MiB`,
      `${f(r.rssAfterMiB, 1)} MiB`,
      `${r.threadsIdle}/${r.threadsLoad}`,
      f(r.firstAnswerMs, 1),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const r of table) console.log(line(r));
  console.log('(threads: idle/most under load)');
  const base = rows['bare-hyper'];
  console.log('\nagainst bare-hyper (throughput ratio bare-hyper/setup: 1.00 = as fast, the target is at most 1.5 for the dispatcher)');
  for (const name of SETUPS.slice(1)) {
    const r = rows[name];
    console.log(
      `  ${name.padEnd(11)} throughput ${f(base.rps / r.rps, 2)}x   p50 ${f(r.p50ms / base.p50ms, 2)}x   p99 ${f(r.p99ms / base.p99ms, 2)}x   CPU/req ${f(r.cpuUsPerRequest / base.cpuUsPerRequest, 2)}x`,
    );
  }
  console.log(JSON.stringify({ concurrency: CONCURRENCY, rounds: ROUNDS, passMs: PASS_MS, loadgen: WRK ? 'wrk' : 'node', setups: rows }));
}

await main();
