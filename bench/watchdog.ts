/**
 * The watchdog against the stock pair, on loopback, side by side in one run:
 *
 *   npm run bench:watchdog
 *   BENCH_ROUNDS=5 BENCH_PASS_MS=2000 BENCH_CONCURRENCY=32 npm run bench:watchdog
 *
 * Setups, all started at once for each handler and measured in alternating passes (so drift hits all alike):
 *   ours-off     `containerless watchdog`, trace_mode=off
 *   ours-sample  `containerless watchdog`, trace_mode=sample (the default; the tree is stable after warm-up,
 *                so about trace_sample=1% of requests are traced)
 *   ours-always  `containerless watchdog`, trace_mode=always (every request through the instrumented handler)
 *   stock-pair   the of-watchdog stand-in (test/integration/watchdog/stock/watchdog-standin.js) proxying to
 *                the stock-style node template server: two processes, as in the stock image
 *   stock-server the stock-style node template server alone: the pair without its proxy hop, so a lower
 *                bound for the real pair's cost
 * The real of-watchdog (Go) could not be installed (the Go module proxy answers 403 for it), so the pair's
 * proxy is a Node stand-in; a Go proxy is faster and smaller than Node's, so `stock-pair` overstates the real
 * pair's cost and `stock-server` understates it. Both ratios are printed.
 *
 * Handlers (bench/functions): hello (a string), echo (a JSON body of about 1 KiB sent back as JSON), fetch (awaits
 * one fetch to examples/backend/server.js on 127.0.0.1). Per setup and handler: median over rounds of
 * requests per second, p50 and p99 latency; resident memory (VmRSS, summed over the setup's processes)
 * after the last pass. Bounded: each pass stops after BENCH_PASS_MS or 50,000 requests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findWrk, load, loadWrk, type BenchRequest, type LoadResult } from './load.ts';
import { freePort, startOurs, startProcess, startStock, type Served } from '../test/integration/watchdog/harness.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PASS_MS = Number(process.env.BENCH_PASS_MS ?? 1500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const MAX_REQUESTS = 50_000;
// wrk when installed (BENCH_LOADGEN=node forces the Node client): a Node load generator on a 2-core machine
// takes a core of its own, so the servers sat half idle and the figures measured the client.
const WRK = process.env.BENCH_LOADGEN === 'node' ? undefined : findWrk();
const measure = (base: string, reqs: BenchRequest[], seconds: number, maxRequests: number): Promise<LoadResult> =>
  WRK ? loadWrk(WRK, base, reqs, { concurrency: CONCURRENCY, seconds }) : load(base, reqs, { concurrency: CONCURRENCY, seconds, maxRequests });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** VmRSS in KiB of a process and its descendants (Linux /proc). */
function rssKib(pid: number): number {
  let total = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    total += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const c of children ? children.split(/\s+/) : []) total += rssKib(Number(c));
  } catch {
    // gone
  }
  return total;
}

/** CPU time (user + system, in clock ticks of 10 ms) of a process and its descendants (Linux /proc). */
function cpuTicks(pid: number): number {
  let total = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(fields[11]) + Number(fields[12]);
    for (const c of childPids(pid)) total += cpuTicks(c);
  } catch {
    // gone
  }
  return total;
}

function childPids(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return children ? children.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function processCount(pid: number): number {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return 1 + (children ? children.split(/\s+/).reduce((n, c) => n + processCount(Number(c)), 0) : 0);
  } catch {
    return 0;
  }
}

type SetupName = 'ours-off' | 'ours-sample' | 'ours-always' | 'stock-pair' | 'stock-server';
const SETUPS: SetupName[] = ['ours-off', 'ours-sample', 'ours-always', 'stock-pair', 'stock-server'];

interface Handler {
  name: string;
  dir: string;
  reqs: BenchRequest[];
}

async function startSetup(name: SetupName, dir: string, env: Record<string, string>): Promise<Served & { base: string }> {
  const common = { ...env, exec_timeout: '30s', write_timeout: '30s' };
  let s: Served;
  switch (name) {
    case 'ours-off':
      s = await startOurs(dir, { ...common, trace_mode: 'off' });
      break;
    case 'ours-sample':
      s = await startOurs(dir, { ...common, trace_mode: 'sample' });
      break;
    case 'ours-always':
      s = await startOurs(dir, { ...common, trace_mode: 'always' });
      break;
    case 'stock-pair':
      s = await startStock(dir, common);
      break;
    case 'stock-server': {
      // The pair's upstream alone: find the template server's port through the stand-in's environment.
      s = await startStock(dir, common);
      const upstream = /upstream http:\/\/127\.0\.0\.1:(\d+)/.exec(s.proc.output());
      if (!upstream) throw new Error(`stock-server: no upstream port in ${s.proc.output()}`);
      return { ...s, port: Number(upstream[1]), base: `http://127.0.0.1:${upstream[1]}` };
    }
  }
  return { ...s, base: `http://127.0.0.1:${s.port}` };
}

const fmt = (n: number, d = 0): string => n.toFixed(d);

async function main(): Promise<void> {
  // The backend in its own process, so it does not share the load generator's event loop.
  const backendPort = await freePort();
  const backend = startProcess(process.execPath, [join(ROOT, 'examples/backend/server.js'), '--port', String(backendPort)], {});
  for (let i = 0; i < 200 && !backend.output().includes('listening'); i++) await new Promise((r) => setTimeout(r, 25));
  if (!backend.output().includes('listening')) throw new Error(`the backend did not start: ${backend.output()}`);
  const env = { BACKEND_URL: `http://127.0.0.1:${backendPort}` };
  const validEcho = Buffer.from(
    JSON.stringify({ items: Array.from({ length: 12 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.25, tags: ['a', 'b'] })), note: 'x'.repeat(300) }),
  );
  const handlers: Handler[] = [
    { name: 'hello', dir: join(ROOT, 'bench/functions/hello'), reqs: [{ method: 'GET', path: '/', headers: {} }] },
    {
      name: 'echo',
      dir: join(ROOT, 'bench/functions/echo'),
      reqs: [{ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: validEcho }],
    },
    { name: 'fetch', dir: join(ROOT, 'bench/functions/fetch'), reqs: [{ method: 'GET', path: '/', headers: {} }] },
  ];

  console.log(
    `bench:watchdog  concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${WRK ? Math.max(1, Math.round(PASS_MS / 1000)) * 1000 : PASS_MS} ms passes per setup, loopback, load from ${WRK ? `wrk (${WRK})` : 'the Node client (bench/load.ts)'}`,
  );
  const summary: Record<string, Record<SetupName, { rps: number; p50: number; p99: number; rssMiB: number; procs: number; cpuUs: number }>> = {};
  for (const h of handlers) {
    const servers = new Map<SetupName, Served & { base: string }>();
    try {
      for (const name of SETUPS) servers.set(name, await startSetup(name, h.dir, env));
      const results = new Map<SetupName, LoadResult[]>(SETUPS.map((n) => [n, []]));
      // CPU the setup's own processes spent per request: a cost measure that the shared machine's noise
      // (which moves req/s by 20-30%) hardly touches.
      const cpu = new Map<SetupName, { ticks: number; requests: number }>(SETUPS.map((n) => [n, { ticks: 0, requests: 0 }]));
      const pidOf = (name: SetupName): number => (name === 'stock-server' ? childPids(servers.get(name)!.proc.pid)[0] : servers.get(name)!.proc.pid);
      // Warm-up: JIT, keep-alive pools, and the sampled setup's tree until it is stable.
      for (const name of SETUPS) await measure(servers.get(name)!.base, h.reqs, 1, 2000);
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? SETUPS : [...SETUPS].reverse();
        for (const name of order) {
          const t0 = cpuTicks(pidOf(name));
          const r = await measure(servers.get(name)!.base, h.reqs, PASS_MS / 1000, MAX_REQUESTS);
          const c = cpu.get(name)!;
          c.ticks += cpuTicks(pidOf(name)) - t0;
          c.requests += r.requests;
          const bad = Object.entries(r.statuses).filter(([code]) => code !== '200');
          if (r.errors > 0 || bad.length > 0) throw new Error(`${h.name}/${name}: ${r.errors} errors, statuses ${JSON.stringify(r.statuses)}`);
          results.get(name)!.push(r);
        }
      }
      summary[h.name] = {} as (typeof summary)[string];
      for (const name of SETUPS) {
        const rs = results.get(name)!;
        const s = servers.get(name)!;
        // stock-server is the pair's upstream alone: count the template server's process, not the stand-in.
        const pid = name === 'stock-server' ? childPids(s.proc.pid)[0] : s.proc.pid;
        summary[h.name][name] = {
          rps: median(rs.map((r) => r.rps)),
          p50: median(rs.map((r) => r.p50ms)),
          p99: median(rs.map((r) => r.p99ms)),
          rssMiB: rssKib(pid) / 1024,
          procs: processCount(pid),
          cpuUs: (cpu.get(name)!.ticks * 10_000) / Math.max(1, cpu.get(name)!.requests),
        };
      }
    } finally {
      for (const s of servers.values()) await s.stop();
    }
    console.log(`\n${h.name}`);
    console.log(
      `  ${'setup'.padEnd(13)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'RSS MiB'.padStart(8)} ${'CPU µs/req'.padStart(10)}  processes`,
    );
    for (const name of SETUPS) {
      const r = summary[h.name][name];
      console.log(
        `  ${name.padEnd(13)} ${fmt(r.rps).padStart(8)} ${fmt(r.p50, 2).padStart(7)} ${fmt(r.p99, 2).padStart(7)} ${fmt(r.rssMiB, 1).padStart(8)} ${fmt(r.cpuUs).padStart(10)}  ${r.procs}`,
      );
    }
  }
  await backend.stop();

  console.log('\nratios (ours with sampled tracing, the default, against each stock setup; > 1 means ours is better)');
  console.log(
    `  ${'handler'.padEnd(8)} ${'vs'.padEnd(13)} ${'throughput'.padStart(10)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'memory'.padStart(7)} ${'CPU/req'.padStart(8)}`,
  );
  for (const h of handlers) {
    const ours = summary[h.name]['ours-sample'];
    for (const vs of ['stock-pair', 'stock-server'] as const) {
      const s = summary[h.name][vs];
      console.log(
        `  ${h.name.padEnd(8)} ${vs.padEnd(13)} ${fmt(ours.rps / s.rps, 2).padStart(10)} ${fmt(s.p50 / ours.p50, 2).padStart(6)} ${fmt(s.p99 / ours.p99, 2).padStart(6)} ${fmt(s.rssMiB / ours.rssMiB, 2).padStart(7)} ${fmt(s.cpuUs / ours.cpuUs, 2).padStart(8)}`,
      );
    }
  }
  console.log('\ntracing cost (throughput of ours-off divided by the traced setup; 1.00 = free)');
  for (const h of handlers) {
    const off = summary[h.name]['ours-off'];
    const sample = summary[h.name]['ours-sample'];
    const always = summary[h.name]['ours-always'];
    console.log(
      `  ${h.name.padEnd(8)} sampled ${fmt(off.rps / sample.rps, 2)}x (p99 ${fmt(sample.p99 / off.p99, 2)}x)   always-on ${fmt(off.rps / always.rps, 2)}x (p99 ${fmt(always.p99 / off.p99, 2)}x)`,
    );
  }
}

await main();
