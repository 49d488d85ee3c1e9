/**
 * A small closed-loop load generator for benchmarks on loopback: `concurrency` workers send the given
 * requests round-robin until `seconds` pass or `maxRequests` are sent, whichever is first. Bounded in count
 * and time; sends only to the URL it is given (the benchmarks give it 127.0.0.1 addresses they started).
 */
import http from 'node:http';

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

export async function load(
  base: string,
  reqs: BenchRequest[],
  opts: { concurrency: number; seconds: number; maxRequests: number },
): Promise<LoadResult> {
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
        { host: url.hostname, port: url.port, path: r.path, method: r.method, headers: { ...r.headers, ...(r.body ? { 'content-length': String(r.body.length) } : {}) }, agent },
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
