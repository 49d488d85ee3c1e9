/**
 * The provider's cost on loopback, measured side by side in one run:
 *
 * 1. Proxy cost: the same function replica (test/fixtures/runner/echo) called directly on its watchdog port
 *    and through the provider's invoke proxy (`/function/echo`), alternating passes, at concurrency 1 and 8.
 *    Reported per side as medians over rounds: requests per second and p50/p99 latency; ratios are
 *    provider / direct for latency and direct / provider for throughput (so above 1 is the proxy's cost).
 * 2. Local cold start: scale the function to zero through the API, wait until no replica runs, then time
 *    the first request through the provider (spawn, handler load, health check, forward). Median, min, max.
 *
 *   npm run bench:provider
 *   BENCH_ROUNDS=7 BENCH_PASS_MS=1500 BENCH_COLD=10 npm run bench:provider
 *
 * The provider runs as its own process (`containerless up`), so the load generator does not share its
 * event loop. Bounded: every pass stops after BENCH_PASS_MS or 20,000 requests; traffic goes to 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor as waitUntil } from '../lib/index.ts';
import { load, type LoadResult } from './load.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PASS_MS = Number(process.env.BENCH_PASS_MS ?? 1000);
const COLD = Number(process.env.BENCH_COLD ?? 5);
const CONCURRENCY = [1, 8];

/** Polls every 20 ms for up to 30 s (the cold-start figures depend on noticing a replica promptly). */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> => waitUntil(what, probe, 30_000, 20);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'cl-bench-provider-'));
  const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'up'], {
    cwd: ROOT,
    // basic_auth=false: a benchmark on loopback, with a provider it started itself and stops at the end.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', port: '0', state_dir: join(dir, 'state'), scale_interval: '1h', basic_auth: 'false' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  try {
    const base = await waitFor('the provider URL', async () => /^provider: (http:\S+)$/m.exec(out)?.[1]);
    const api = (path: string, method = 'GET', body?: unknown): Promise<Response> =>
      fetch(`${base}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const status = async (): Promise<{ replicas?: number; availableReplicas?: number }> =>
      (await api('/system/function/echo')).json() as Promise<{ replicas?: number; availableReplicas?: number }>;
    const dep = await api('/system/functions', 'POST', { service: 'echo', image: join(ROOT, 'test/fixtures/runner/echo') });
    if (dep.status !== 202) throw new Error(`deploy answered ${dep.status}: ${await dep.text()}`);
    await waitFor('a ready replica', async () => ((await status()).availableReplicas ?? 0) > 0 || undefined);
    const direct = await waitFor('the replica port', async () => /local: echo-\d+ ready on (127\.0\.0\.1:\d+)/.exec(out)?.[1]);

    const req = [{ method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: Buffer.from('{"hello":"world"}') }];
    const opts = (c: number) => ({ concurrency: c, seconds: PASS_MS / 1000, maxRequests: 20_000 });
    // warm both paths
    await load(`http://${direct}`, req, opts(8));
    await load(base, [{ ...req[0], path: '/function/echo' }], opts(8));

    const kind = /^local backend replicas: (.+)$/m.exec(out)?.[1] ?? 'unknown';
    console.log(`proxy cost: ${ROUNDS} rounds x ${PASS_MS} ms per side, function test/fixtures/runner/echo, one replica (${kind})`);
    console.log('concurrency  side       req/s     p50 ms   p99 ms');
    const summary: string[] = [];
    for (const c of CONCURRENCY) {
      const d: LoadResult[] = [];
      const p: LoadResult[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? ['direct', 'provider'] : ['provider', 'direct'];
        for (const side of order) {
          if (side === 'direct') d.push(await load(`http://${direct}`, req, opts(c)));
          else p.push(await load(base, [{ ...req[0], path: '/function/echo' }], opts(c)));
        }
      }
      const bad = [...d, ...p].filter((x) => x.errors > 0 || Object.keys(x.statuses).some((s) => s !== '200'));
      if (bad.length > 0) throw new Error(`non-200 answers or errors: ${JSON.stringify(bad.map((x) => x.statuses))}`);
      const row = (side: string, xs: LoadResult[]) =>
        `${String(c).padStart(11)}  ${side.padEnd(8)} ${median(xs.map((x) => x.rps))
          .toFixed(0)
          .padStart(8)} ${median(xs.map((x) => x.p50ms))
          .toFixed(3)
          .padStart(10)} ${median(xs.map((x) => x.p99ms))
          .toFixed(3)
          .padStart(8)}`;
      console.log(row('direct', d));
      console.log(row('provider', p));
      const rps = median(d.map((x) => x.rps)) / median(p.map((x) => x.rps));
      const p50 = median(p.map((x) => x.p50ms)) / median(d.map((x) => x.p50ms));
      summary.push(
        `concurrency ${c}: throughput direct/provider ${rps.toFixed(2)}x, p50 provider/direct ${p50.toFixed(2)}x (+${(median(p.map((x) => x.p50ms)) - median(d.map((x) => x.p50ms))).toFixed(3)} ms)`,
      );
    }
    for (const s of summary) console.log(s);

    const colds: number[] = [];
    for (let i = 0; i < COLD; i++) {
      await api('/system/scale-function/echo', 'POST', { serviceName: 'echo', replicas: 0 });
      await waitFor('zero replicas', async () => {
        const s = await status();
        return (s.replicas ?? 0) === 0 && (s.availableReplicas ?? 0) === 0 ? true : undefined;
      });
      const t = performance.now();
      const r = await fetch(`${base}/function/echo`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`cold request answered ${r.status}`);
      colds.push(performance.now() - t);
    }
    console.log(
      `cold start from zero to first response (local backend, ${COLD} runs): median ${median(colds).toFixed(0)} ms, min ${Math.min(...colds).toFixed(0)} ms, max ${Math.max(...colds).toFixed(0)} ms`,
    );
  } finally {
    if (child.exitCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
