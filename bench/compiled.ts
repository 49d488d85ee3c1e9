/**
 * Per-request cost of a function in Node (the plain handler, uninstrumented, in the watchdog's runner)
 * against the same function compiled to Rust (the dispatcher), measured side by side in one run on
 * loopback: the paper's six functions and the two compute-heavy examples.
 *
 *   npm run bench:compiled                    # all examples
 *   npm run bench:compiled -- primes maze     # some
 *   BENCH_ROUNDS=7 BENCH_PASS_MS=800 npm run bench:compiled
 *
 * For each example: trace every request of its requests.jsonl, compile, build (cached), start both servers,
 * warm both up, then for BENCH_ROUNDS rounds send the requests round-robin, one at a time, to each server
 * in turn (alternating which goes first) for BENCH_PASS_MS. Reported per request, as medians over rounds:
 * wall time seen by the client and CPU time the server process used (utime + stime from /proc). Ratios
 * are Node / Rust, so above 1 means Rust is cheaper. Both sides include their HTTP server (express on
 * Node, hyper in the dispatcher); the backend that I/O examples call runs inside this process, so its cost
 * is in neither. Rust answers that were fallbacks would be counted and flagged: a benchmark of a function
 * that falls back measures nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDispatcher, generateRust } from '../compiler/index.ts';
import { Dispatcher, FALLBACK_HEADER, readRequests, toHttpRequest, traceRequests, type HttpRequest } from '../harness/index.ts';
import { prepare } from '../trace/index.ts';
// @ts-expect-error: the backend is plain JavaScript without types
import { startBackend } from '../examples/backend/server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ALL = ['login', 'status', 'upload', 'banking', 'autocomplete', 'maze', 'primes', 'markdown'];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PASS_MS = Number(process.env.BENCH_PASS_MS ?? 500);
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(port: number, r: HttpRequest): Promise<{ status: number; fallback: boolean }> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of r.headers) headers[k] = v;
    if (r.body) headers['content-length'] = String(r.body.length);
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.target, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, fallback: res.headers[FALLBACK_HEADER] !== undefined }));
    });
    req.on('error', fail);
    req.end(r.body);
  });
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15)
}

interface Pass {
  wallUs: number;
  cpuUs: number;
  fallbacks: number;
  requests: number;
}

async function pass(port: number, pid: number, reqs: HttpRequest[]): Promise<Pass> {
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(PASS_MS) * 1_000_000n;
  let n = 0;
  let fallbacks = 0;
  while (n < reqs.length || process.hrtime.bigint() < deadline) {
    const a = await send(port, reqs[n % reqs.length]);
    if (a.fallback) fallbacks++;
    n++;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  return { wallUs: wall / n, cpuUs: ((cpuSeconds(pid) - cpu0) * 1e6) / n, fallbacks, requests: n };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function startNode(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/serve-node.ts'), dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((done, fail) => {
    child.stdout!.once('data', (d: Buffer) => done(Number(d.toString().trim())));
    child.once('exit', (code) => fail(new Error(`the Node server for ${dir} exited with ${code}`)));
  });
  return { child, port };
}

async function benchOne(name: string): Promise<string[]> {
  const dir = join(ROOT, 'examples', name);
  const entries = readRequests(join(dir, 'requests.jsonl'));
  const reqs = entries.map(toHttpRequest);
  const prepared = prepare(readFileSync(join(dir, 'handler.js'), 'utf8'), 'handler.js');
  const { tracer } = await traceRequests(dir, prepared, name, entries);
  const generated = generateRust(tracer.trace(), { name });
  const built = await buildDispatcher(generated.main, { name });
  const node = await startNode(dir);
  const rust = await Dispatcher.start(built.binary);
  try {
    await rust.waitHealthy();
    for (let i = 0; i < 3; i++) for (const r of reqs) await Promise.all([send(node.port, r), send(rust.port, r)]);
    const nodeRuns: Pass[] = [];
    const rustRuns: Pass[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order: Array<[number, number, Pass[]]> = [
        [node.port, node.child.pid!, nodeRuns],
        [rust.port, rust.child.pid!, rustRuns],
      ];
      if (round % 2) order.reverse();
      for (const [port, pid, out] of order) out.push(await pass(port, pid, reqs));
    }
    const nw = median(nodeRuns.map((p) => p.wallUs));
    const rw = median(rustRuns.map((p) => p.wallUs));
    const nc = median(nodeRuns.map((p) => p.cpuUs));
    const rc = median(rustRuns.map((p) => p.cpuUs));
    const fallbacks = rustRuns.reduce((s, p) => s + p.fallbacks, 0);
    const sent = rustRuns.reduce((s, p) => s + p.requests, 0);
    return [
      name,
      nw.toFixed(0),
      rw.toFixed(0),
      (nw / rw).toFixed(2),
      nc.toFixed(0),
      rc.toFixed(0),
      (nc / rc).toFixed(2),
      fallbacks ? `${fallbacks}/${sent} FELL BACK` : '0',
    ];
  } finally {
    node.child.kill('SIGTERM');
    rust.child.kill('SIGTERM');
  }
}

const pick = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = pick.length ? pick : ALL;
for (const n of names) if (!ALL.includes(n)) throw new Error(`unknown example ${n}; one of ${ALL.join(', ')}`);

const backend = await startBackend({ port: 7998 });
const header = ['example', 'node µs/req', 'rust µs/req', 'wall ratio', 'node cpu µs', 'rust cpu µs', 'cpu ratio', 'fallbacks'];
const rows: string[][] = [];
try {
  console.error(`bench: ${names.length} examples, ${ROUNDS} rounds of ${PASS_MS} ms per side, requests one at a time on loopback`);
  for (const n of names) {
    console.error(`bench: ${n}: tracing, compiling, measuring`);
    rows.push(await benchOne(n));
  }
} finally {
  agent.destroy();
  await backend.close();
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
for (const r of rows) console.log(line(r));
const geo = (i: number): number => Math.exp(rows.reduce((s, r) => s + Math.log(Number(r[i])), 0) / rows.length);
console.log(`geometric mean: wall ratio ${geo(3).toFixed(2)}, cpu ratio ${geo(6).toFixed(2)} (Node / Rust; above 1, Rust is cheaper)`);
