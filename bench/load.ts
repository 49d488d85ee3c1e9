/**
 * A small closed-loop load generator for benchmarks on loopback: `concurrency` workers send the given
 * requests round-robin until `seconds` pass or `maxRequests` are sent, whichever is first. Bounded in count
 * and time; sends only to the URL it is given (the benchmarks give it 127.0.0.1 addresses they started).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface BenchRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** Status codes seen, e.g. {200: 990, 503: 10}. */
  statuses: Record<number, number>;
}

export async function load(base: string, reqs: BenchRequest[], opts: { concurrency: number; seconds: number; maxRequests: number }): Promise<LoadResult> {
  const url = new URL(base);
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname)) throw new Error(`benchmarks send traffic to loopback only, not ${url.hostname}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const lat: number[] = [];
  const statuses: Record<number, number> = {};
  let sent = 0;
  let errors = 0;
  let next = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(opts.seconds * 1e9));
  const one = (r: BenchRequest): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: r.path,
          method: r.method,
          headers: { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) },
          agent,
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(r.body);
    });
  const worker = async (): Promise<void> => {
    while (sent < opts.maxRequests && process.hrtime.bigint() < deadline) {
      sent++;
      await one(reqs[next++ % reqs.length]);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { requests: lat.length, errors, seconds, rps: lat.length / seconds, p50ms: q(0.5), p99ms: q(0.99), statuses };
}

/** wrk (Debian's package) when it is on PATH: a C load generator that leaves the server most of the CPU. */
export function findWrk(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = `${dir}/wrk`;
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
}

/**
 * The same measurement with wrk: one thread, `concurrency` connections, `seconds` long (wrk stops on time,
 * not on a count). One request shape only (the first of `reqs`), set through a Lua script. Non-2xx answers
 * and socket errors are reported as errors; statuses are {200: n} for the rest.
 */
export async function loadWrk(wrk: string, base: string, reqs: BenchRequest[], opts: { concurrency: number; seconds: number }): Promise<LoadResult> {
  const url = new URL(base);
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname)) throw new Error(`benchmarks send traffic to loopback only, not ${url.hostname}`);
  const r = reqs[0];
  const dir = await mkdtemp(join(tmpdir(), 'cl-wrk-'));
  const script = join(dir, 'req.lua');
  const lua = [
    `wrk.method = ${JSON.stringify(r.method)}`,
    ...Object.entries(r.headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
    ...(r.body ? [`wrk.body = ${JSON.stringify(r.body.toString('latin1'))}`] : []),
  ].join('\n');
  await writeFile(script, `${lua}\n`);
  try {
    const { stdout } = await execFileP(wrk, [
      '-t1',
      `-c${opts.concurrency}`,
      `-d${Math.max(1, Math.round(opts.seconds))}s`,
      '--latency',
      '-s',
      script,
      `${base}${r.path}`,
    ]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
    const total = Number(/(\d+) requests in ([\d.]+)(ms|s)/.exec(stdout)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    const sockErrors = sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
    return {
      requests: total,
      errors: non2xx + sockErrors,
      seconds: opts.seconds,
      rps,
      p50ms: wrkMs(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
      p99ms: wrkMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? ''),
      statuses: { 200: total - non2xx },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
