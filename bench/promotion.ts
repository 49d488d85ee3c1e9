/**
 * One function in Node mode and promoted to its dispatcher, through the provider, side by side in one run:
 *
 *   npm run bench:promotion
 *   npm run bench:promotion -- --function test/fixtures/handlers/order-pricing --requests test/fixtures/handlers/order-pricing/requests.jsonl
 *   BENCH_ROUNDS=5 BENCH_PASS_MS=3000 BENCH_CONCURRENCY=8 npm run bench:promotion
 *
 * One provider (`containerless up`, its own process, local backend, no NATS) runs the function folder twice:
 *   node   deployed with label com.containerless.promote: "false": its watchdog replicas answer every request
 *          (trace_mode=sample, the default, so about 1% of requests are traced once its tree is stable)
 *   rust   deployed without it, driven with the requests file until `GET /system/containerless/function/<fn>`
 *          says engine rust (promote_stable_requests=20, promote_compare_cost=false: no canary), then left
 *          until its Node replicas went to zero (scale_zero_duration=5s), as a promoted function's do when
 *          nothing falls back
 * Before measuring, every request of the file is sent to both and the answers compared (status, content type,
 * body). Then alternating passes (node, rust, then rust, node, ...) of closed-loop load through the provider's
 * `/function/<fn>` with the requests round-robin. Per side, medians over rounds of requests/s, p50 and p99;
 * CPU per request over all passes: the CPU time (every thread's, from /proc/<pid>/task/<tid>/schedstat) of
 * the provider process plus the side's replicas (its watchdogs, found among the provider's children by their
 * OPENFAAS_NAME, and for rust its dispatcher), divided by the requests answered; resident memory (VmRSS) of
 * each replica after the last pass. The ratios are Rust / Node of each figure.
 *
 * A table goes to stderr, one JSON line to stdout. Loopback only; bounded: each pass stops after
 * BENCH_PASS_MS or 50,000 requests, the drive to promotion after 10 minutes (the first build of the runtime
 * takes a few; later builds come from the cache). The load comes from the Node client (bench/load.ts): wrk
 * sends one request shape only, and a promoted function's cost depends on the mix of its paths.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readRequests, toHttpRequest, compareAnswers } from '../harness/index.ts';
import { threadCpuSeconds } from '../provider/promotion/cost.ts';
import { load, type BenchRequest, type LoadResult } from './load.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PASS_MS = Number(process.env.BENCH_PASS_MS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const MAX_REQUESTS = 50_000;
const PROMOTE_TIMEOUT_MS = 10 * 60_000;

const HELP = `Usage: npm run bench:promotion -- [--function <dir>] [--requests <file.jsonl>]

Measures one function folder through the provider in Node mode and promoted to Rust, side by side.
Default: test/fixtures/handlers/json-transform with its requests.jsonl. Env: BENCH_ROUNDS (3),
BENCH_PASS_MS (3000), BENCH_CONCURRENCY (8).`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------
// processes under the provider (Linux /proc)

function children(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function descendants(pid: number): number[] {
  return children(pid).flatMap((c) => [c, ...descendants(c)]);
}

function environ(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  try {
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')) {
      const at = kv.indexOf('=');
      if (at > 0) m.set(kv.slice(0, at), kv.slice(at + 1));
    }
  } catch {
    // gone
  }
  return m;
}

function exe(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

function rssKib(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A replica's processes: its top process (a direct child of the provider) and everything under it. */
interface Replica {
  pid: number;
  pids: number[];
  kind: 'node' | 'dispatcher';
}

/**
 * The replicas of `service` among the provider's children: Node replicas carry OPENFAAS_NAME; a dispatcher
 * is a child running a binary from the build cache's dispatchers folder (only the promoted function has one
 * in this benchmark).
 */
function replicasOf(provider: number, service: string, withDispatcher: boolean): Replica[] {
  const out: Replica[] = [];
  for (const c of children(provider)) {
    const isNode = basename(exe(c)).startsWith('node');
    if (isNode && environ(c).get('OPENFAAS_NAME') === service) out.push({ pid: c, pids: [c, ...descendants(c)], kind: 'node' });
    else if (!isNode && withDispatcher && exe(c).includes('/dispatchers/')) out.push({ pid: c, pids: [c, ...descendants(c)], kind: 'dispatcher' });
  }
  return out;
}

const cpuOf = (pids: number[]): number => pids.reduce((s, p) => s + (threadCpuSeconds(p) ?? 0), 0);

// ---------------------------------------------------------------------------------------------------------

interface Side {
  label: 'node' | 'rust';
  service: string;
  passes: LoadResult[];
  cpuProvider: number;
  cpuReplicas: number;
  requests: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { function: { type: 'string' }, requests: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.error(HELP);
    return;
  }
  const dir = resolve(values.function ?? join(ROOT, 'test/fixtures/handlers/json-transform'));
  const requestsFile = resolve(values.requests ?? join(dir, 'requests.jsonl'));
  if (!existsSync(join(dir, 'handler.js'))) throw new Error(`${dir}: no handler.js`);
  const lines = readRequests(requestsFile);
  const base = (
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'fn'
  ).slice(0, 40);
  const services = { node: `${base}-node`, rust: `${base}-rust` };
  const reqsFor = (service: string): BenchRequest[] =>
    lines.map((l) => {
      const h = toHttpRequest(l);
      return {
        method: h.method,
        path: `/function/${service}${h.target.startsWith('/') ? h.target : `/${h.target}`}`,
        headers: Object.fromEntries(h.headers.filter(([k]) => k.toLowerCase() !== 'content-length')),
        body: h.body,
      };
    });

  const stateDir = await mkdtemp(join(tmpdir(), 'cl-bench-promotion-'));
  const started = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'up'], {
    cwd: ROOT,
    // basic_auth=false: a benchmark on loopback, with a provider it started itself and stops at the end.
    env: {
      ...process.env,
      port: '0',
      bind_address: '127.0.0.1',
      basic_auth: 'false',
      state_dir: join(stateDir, 'state'),
      promotion: 'on',
      promote_stable_requests: '20',
      promote_compare_cost: 'false',
      scale_zero_duration: '5s',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const fail = (msg: string): never => {
    throw new Error(`${msg}\n--- provider output (last 40 lines)\n${out.split('\n').slice(-40).join('\n')}`);
  };
  try {
    let url: string | undefined;
    for (let i = 0; i < 600 && !url; i++) {
      url = /^provider: (http:\S+)$/m.exec(out)?.[1];
      if (child.exitCode !== null) fail(`the provider exited (${child.exitCode})`);
      if (!url) await sleep(50);
    }
    if (!url) fail('the provider printed no URL within 30 s');
    const api = (path: string, method = 'GET', body?: unknown): Promise<Response> =>
      fetch(`${url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    for (const [side, service] of Object.entries(services)) {
      const labels = side === 'node' ? { 'com.containerless.promote': 'false' } : {};
      const r = await api('/system/functions', 'POST', { service, image: dir, labels });
      if (r.status !== 202) fail(`deploying ${service} answered ${r.status}: ${await r.text()}`);
    }
    const status = async (service: string): Promise<Record<string, any>> => (await api(`/system/containerless/function/${service}`)).json();

    // Drive the rust side until promoted (and the node side with as many requests, so both are warm).
    const driveStart = Date.now();
    let phase = '';
    let driven = 0;
    for (;;) {
      const s = await status(services.rust);
      if (s.phase !== phase) {
        phase = s.phase;
        console.error(`${((Date.now() - driveStart) / 1000).toFixed(1).padStart(6)} s  ${services.rust}: ${phase} (${driven} requests sent)`);
      }
      if (s.engine === 'rust') break;
      if (s.compile && s.compile.result !== 'ok') fail(`${services.rust} did not compile: ${s.compile.result} ${JSON.stringify(s.compile.diagnostics)}`);
      if (Date.now() - driveStart > PROMOTE_TIMEOUT_MS)
        fail(`${services.rust} was not promoted within ${PROMOTE_TIMEOUT_MS / 60_000} minutes (phase ${phase})`);
      if (s.phase === 'tracing') {
        for (const side of ['rust', 'node'] as const) {
          const r = await load(url!, reqsFor(services[side]), { concurrency: 4, seconds: 5, maxRequests: lines.length });
          if (r.errors > 0 || Object.keys(r.statuses).some((c) => Number(c) >= 500))
            fail(`${services[side]}: ${r.errors} errors, ${JSON.stringify(r.statuses)}`);
          if (side === 'rust') driven += r.requests;
        }
      } else {
        await sleep(500);
      }
    }
    const promotedAfter = (Date.now() - driveStart) / 1000;
    const promoted = await status(services.rust);

    // Both answer every request of the file alike.
    let identical = 0;
    const differences: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const [a, b] = await Promise.all(
        (['node', 'rust'] as const).map(async (side) => {
          const q = reqsFor(services[side])[i];
          const res = await fetch(`${url}${q.path}`, { method: q.method, headers: q.headers, body: q.body ? new Uint8Array(q.body) : undefined });
          return { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? undefined }, body: Buffer.from(await res.arrayBuffer()) };
        }),
      );
      const diff = compareAnswers(a, b);
      if (diff === null) identical++;
      else differences.push(`line ${lines[i].line}: ${diff}`);
    }

    // The promoted function's Node replicas go to zero when nothing falls back (scale_zero_duration=5s).
    const provider = child.pid!;
    for (let i = 0; i < 120 && replicasOf(provider, services.rust, true).some((r) => r.kind === 'node'); i++) await sleep(250);

    const sides: Side[] = (['node', 'rust'] as const).map((label) => ({
      label,
      service: services[label],
      passes: [],
      cpuProvider: 0,
      cpuReplicas: 0,
      requests: 0,
    }));
    // Warm-up: a pass each (JIT, keep-alive pools, the dispatcher's realms).
    for (const s of sides) await load(url!, reqsFor(s.service), { concurrency: CONCURRENCY, seconds: 1, maxRequests: MAX_REQUESTS });
    console.error(
      `bench:promotion  ${dir} (${lines.length} requests in the file), concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${PASS_MS} ms passes per side, loopback, load from the Node client (bench/load.ts)`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
        const pids = replicasOf(provider, s.service, s.label === 'rust').flatMap((r) => r.pids);
        const p0 = threadCpuSeconds(provider) ?? 0;
        const r0 = cpuOf(pids);
        const r = await load(url!, reqsFor(s.service), { concurrency: CONCURRENCY, seconds: PASS_MS / 1000, maxRequests: MAX_REQUESTS });
        s.cpuProvider += (threadCpuSeconds(provider) ?? 0) - p0;
        s.cpuReplicas += cpuOf(pids) - r0;
        const bad = Object.entries(r.statuses).filter(([code]) => Number(code) >= 500);
        if (r.errors > 0 || bad.length > 0) fail(`${s.service}: ${r.errors} errors, statuses ${JSON.stringify(r.statuses)}`);
        s.requests += r.requests;
        s.passes.push(r);
      }
    }
    const after = await status(services.rust);
    const summary = sides.map((s) => {
      const reps = replicasOf(provider, s.service, s.label === 'rust');
      const nodeReps = reps.filter((r) => r.kind === 'node');
      const disp = reps.filter((r) => r.kind === 'dispatcher');
      const rssMiB = (rs: Replica[]): number[] => rs.map((r) => r.pids.reduce((n, p) => n + rssKib(p), 0) / 1024);
      return {
        side: s.label,
        rps: median(s.passes.map((p) => p.rps)),
        p50ms: median(s.passes.map((p) => p.p50ms)),
        p99ms: median(s.passes.map((p) => p.p99ms)),
        cpuUsPerRequest: ((s.cpuProvider + s.cpuReplicas) * 1e6) / Math.max(1, s.requests),
        providerCpuUsPerRequest: (s.cpuProvider * 1e6) / Math.max(1, s.requests),
        replicaCpuUsPerRequest: (s.cpuReplicas * 1e6) / Math.max(1, s.requests),
        requests: s.requests,
        nodeReplicas: nodeReps.length,
        dispatchers: disp.length,
        rssMiBPerReplica: median(rssMiB(s.label === 'rust' ? disp : nodeReps)),
        nodeReplicaRssMiB: rssMiB(nodeReps),
      };
    });
    const [node, rust] = summary;
    const ratio = (a: number, b: number): number => Number((a / b).toFixed(3));
    const ratios = {
      rps: ratio(rust.rps, node.rps),
      p50: ratio(rust.p50ms, node.p50ms),
      p99: ratio(rust.p99ms, node.p99ms),
      cpuPerRequest: ratio(rust.cpuUsPerRequest, node.cpuUsPerRequest),
      replicaCpuPerRequest: ratio(rust.replicaCpuUsPerRequest, node.replicaCpuUsPerRequest),
      memoryPerReplica: ratio(rust.rssMiBPerReplica, node.rssMiBPerReplica),
    };

    const f = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '?');
    console.error(
      `promoted after ${promotedAfter.toFixed(1)} s (${driven} requests; compile ${promoted.compile?.cached ? 'from the cache' : `${f(promoted.compile?.seconds ?? NaN, 1)} s`}, dispatcher ${String(promoted.dispatcher?.version ?? '').slice(0, 12)})`,
    );
    console.error(`answers identical to Node's: ${identical}/${lines.length}${differences.length ? `\n  ${differences.join('\n  ')}` : ''}`);
    console.error(
      `during the passes the promoted function's dispatcher answered ${after.requests.rust - promoted.requests.rust}, Node ${after.requests.node - promoted.requests.node} (fallbacks ${after.requests.fallback - promoted.requests.fallback})`,
    );
    console.error(
      `\n  ${'side'.padEnd(5)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU µs/req'.padStart(10)} ${'(provider'.padStart(10)} ${'replicas)'.padStart(9)} ${'RSS MiB/replica'.padStart(15)}  replicas`,
    );
    for (const s of summary)
      console.error(
        `  ${s.side.padEnd(5)} ${f(s.rps).padStart(8)} ${f(s.p50ms, 2).padStart(7)} ${f(s.p99ms, 2).padStart(7)} ${f(s.cpuUsPerRequest).padStart(10)} ${f(s.providerCpuUsPerRequest).padStart(10)} ${f(s.replicaCpuUsPerRequest).padStart(9)} ${f(s.rssMiBPerReplica, 1).padStart(15)}  ${s.side === 'rust' ? `${s.dispatchers} dispatcher, ${s.nodeReplicas} node` : `${s.nodeReplicas} node`}`,
      );
    console.error(
      `\n  rust/node: req/s ${f(ratios.rps, 2)}x, p50 ${f(ratios.p50, 2)}x, p99 ${f(ratios.p99, 2)}x, CPU/req ${f(ratios.cpuPerRequest, 2)}x (replicas alone ${f(ratios.replicaCpuPerRequest, 2)}x), memory/replica ${f(ratios.memoryPerReplica, 2)}x`,
    );
    const round2 = (n: number): number => Number(n.toFixed(2));
    console.log(
      JSON.stringify({
        function: dir,
        requestsFile,
        rounds: ROUNDS,
        passMs: PASS_MS,
        concurrency: CONCURRENCY,
        promotedAfterSeconds: round2(promotedAfter),
        identical,
        compared: lines.length,
        node: Object.fromEntries(Object.entries(node).map(([k, v]) => [k, typeof v === 'number' ? round2(v) : v])),
        rust: Object.fromEntries(Object.entries(rust).map(([k, v]) => [k, typeof v === 'number' ? round2(v) : v])),
        ratios,
        startedToEndSeconds: round2((Date.now() - started) / 1000),
      }),
    );
  } finally {
    if (child.exitCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(stateDir, { recursive: true, force: true });
  }
}

await main();
