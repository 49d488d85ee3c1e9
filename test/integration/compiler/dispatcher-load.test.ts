/**
 * The dispatcher under concurrent load (runtime/src/dispatcher/pool.rs): a handler with a module-level
 * counter and a path that awaits a fetch to the example backend (started here, its port written into the
 * handler), traced, compiled and built as `check` does, then started with small worker counts. Checked:
 *
 * - 200 requests with 64 in flight are all answered correctly; the process's threads (/proc/<pid>/task) stay
 *   within the bound the settings give, and its resident memory under a bound;
 * - module state is per worker: with cl_workers=2 the counters seen are those of at most two replicas, each
 *   counting 1, 2, 3... with no value skipped or seen twice by one of them; the function's own log lines are
 *   printed for every answered request, the per-request JSON line only with cl_log_requests=true;
 * - with cl_workers=1 alone there is one realm (requests that wait for a fetch run one after the other); with
 *   cl_workers_max above it, waiting workers let others start (the fetches overlap);
 * - a full queue (cl_queue) answers the fallback marker of kind `busy` at once, never an error.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDispatcher, generateRust } from '../../../compiler/index.ts';
import { traceRequests } from '../../../harness/index.ts';
import { freePort, sleep } from '../../../lib/index.ts';
import { prepare } from '../../../trace/index.ts';
// @ts-expect-error: the backend is plain JavaScript without types
import { startBackend } from '../../../examples/backend/server.js';

const handlerSource = (backend: string): string => `'use strict';
let served = 0;
module.exports = async (event, context) => {
  if (event.path === '/slow') {
    const r = await fetch('${backend}/slow?ms=' + event.query.ms);
    const b = await r.json();
    return { slept: b.slept };
  }
  served += 1;
  console.log('served', served);
  return { served, name: event.query.name };
};
`;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string, agent: http.Agent | false, method = 'GET'): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`GET ${path}: no answer in 20 s`)));
    req.on('error', fail);
    req.end();
  });
}

/** Sends `paths` with at most `inFlight` outstanding at once; answers in the order of `paths`. */
async function sendAll(port: number, paths: string[], inFlight: number): Promise<Answer[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  const out: Answer[] = new Array(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      out[i] = await get(port, paths[i], agent);
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    agent.destroy();
  }
  return out;
}

interface Running {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  /** The most threads and resident KiB seen since `watch` started. */
  peak: { threads: number; rssKib: number };
  stop: () => Promise<void>;
}

async function startDispatcher(binary: string, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(binary, [], { env: { ...process.env, ...env, port: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout!.resume();
  const peak = { threads: 0, rssKib: 0 };
  const sample = (): void => {
    try {
      peak.threads = Math.max(peak.threads, readdirSync(`/proc/${child.pid}/task`).length);
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
      peak.rssKib = Math.max(peak.rssKib, rss);
    } catch {
      // exited
    }
  };
  const sampler = setInterval(sample, 20);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    clearInterval(sampler);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the dispatcher exited (${child.exitCode}):\n${err}`);
    try {
      if ((await get(port, '/_/ready', false)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the dispatcher was not ready within 20 s:\n${err}`);
    }
    await sleep(20);
  }
  return { child, port, stderr: () => err, peak, stop };
}

/** Threads a dispatcher may have: main, tokio's workers (one per core), its blocking threads (4), the realms. */
const threadBound = (realms: number): number => 1 + availableParallelism() + 4 + realms;

const counterOf = (a: Answer): number => (JSON.parse(a.body) as { served: number }).served;

describe('the dispatcher under concurrent load: bounded workers, threads and memory', function () {
  let binary = '';
  let backend: { url: string; close: () => Promise<void> };
  let dir = '';

  before(async function () {
    backend = await startBackend({ port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'cl-dispatcher-load-'));
    writeFileSync(join(dir, 'handler.js'), handlerSource(backend.url));
    writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
    const prepared = prepare(readFileSync(join(dir, 'handler.js'), 'utf8'), 'handler.js');
    const { tracer } = await traceRequests(dir, prepared, 'dispatcher-load', [
      { method: 'GET', path: '/', query: { name: 'a' }, line: 1 },
      { method: 'GET', path: '/slow', query: { ms: '1' }, line: 2 },
    ]);
    const generated = generateRust(tracer.trace(), { name: 'dispatcher-load' });
    binary = (await buildDispatcher(generated.main, { name: 'dispatcher-load' })).binary;
  });

  after(async () => {
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers 200 requests with 64 in flight correctly, within its thread and memory bounds, with its defaults', async () => {
    const d = await startDispatcher(binary, {});
    try {
      const paths = Array.from({ length: 200 }, (_, i) => `/?name=n${i}`);
      const answers = await sendAll(d.port, paths, 64);
      for (const [i, a] of answers.entries()) {
        expect(a.status, `${paths[i]}: ${a.body}`).to.equal(200);
        expect(JSON.parse(a.body).name).to.equal(`n${i}`);
      }
      // One realm per core by default: compute-bound requests never start more.
      expect(d.peak.threads, d.stderr()).to.be.within(3, threadBound(availableParallelism()));
      expect(d.peak.rssKib / 1024, 'resident MiB under load').to.be.below(64);
      await sleep(200);
      expect(d.stderr().match(/^served \d+$/gm)?.length ?? 0, "the function's own log lines").to.equal(200);
      expect(d.stderr(), 'no per-request line by default').not.to.match(/"outcome"/);
    } finally {
      await d.stop();
    }
  });

  it('module state is per worker: with cl_workers=2 the counters are those of at most two replicas', async () => {
    const d = await startDispatcher(binary, { cl_workers: '2' });
    try {
      const answers = await sendAll(
        d.port,
        Array.from({ length: 200 }, (_, i) => `/?name=n${i}`),
        64,
      );
      expect(answers.every((a) => a.status === 200)).to.equal(true);
      const counts = new Map<number, number>();
      for (const a of answers) counts.set(counterOf(a), (counts.get(counterOf(a)) ?? 0) + 1);
      // Two counters 1..k1 and 1..k2: each value seen at most twice, and never more often than a smaller one.
      const top = Math.max(...counts.keys());
      for (let v = 1; v <= top; v++) {
        expect(counts.get(v) ?? 0, `counter value ${v}`).to.be.within(1, 2);
        if (v > 1) expect(counts.get(v) ?? 0, `counter value ${v}`).to.be.at.most(counts.get(v - 1) ?? 0);
      }
      expect([...counts.values()].reduce((a, b) => a + b, 0)).to.equal(200);
      expect(d.peak.threads).to.be.at.most(threadBound(2));
    } finally {
      await d.stop();
    }
  });

  it('cl_log_requests=true writes one JSON line per request', async () => {
    const d = await startDispatcher(binary, { cl_workers: '1', cl_log_requests: 'true' });
    try {
      await sendAll(d.port, ['/?name=a', '/?name=b', '/?name=c', '/?name=d'], 1);
      // A method the dispatcher does not serve: handed back, and logged as such.
      const back = await get(d.port, '/?name=e', false, 'PROPFIND');
      expect(back.headers['x-containerless-fallback']).to.equal('unsupported');
      await sleep(200);
      const lines = d.stderr().match(/^\{"method":"[A-Z]+","path":"\/","status":\d+,.*"outcome":"(rust|fallback)".*\}$/gm) ?? [];
      expect(lines.length, d.stderr()).to.equal(5);
      expect(lines.filter((l) => l.startsWith('{"method":"PROPFIND"') && l.includes('"outcome":"fallback"')).length).to.equal(1);
    } finally {
      await d.stop();
    }
  });

  it('cl_workers=1 is one realm: requests that wait for a fetch run one after another', async () => {
    const d = await startDispatcher(binary, { cl_workers: '1' });
    try {
      const t0 = Date.now();
      const answers = await sendAll(d.port, ['/slow?ms=200', '/slow?ms=200', '/slow?ms=200'], 3);
      const ms = Date.now() - t0;
      expect(answers.map((a) => a.body)).to.deep.equal(Array(3).fill('{"slept":200}'));
      expect(ms).to.be.at.least(590);
      expect(d.peak.threads).to.be.at.most(threadBound(1));
    } finally {
      await d.stop();
    }
  });

  it('with cl_workers_max above cl_workers, workers waiting for fetches let more start: the fetches overlap', async () => {
    const d = await startDispatcher(binary, { cl_workers: '1', cl_workers_max: '4' });
    try {
      const t0 = Date.now();
      const answers = await sendAll(d.port, Array(4).fill('/slow?ms=200'), 4);
      const ms = Date.now() - t0;
      expect(answers.map((a) => a.body)).to.deep.equal(Array(4).fill('{"slept":200}'));
      expect(ms, 'four 200 ms fetches, one after another, would take 800 ms').to.be.below(600);
      expect(d.peak.threads).to.be.within(threadBound(1) - 3, threadBound(4));
    } finally {
      await d.stop();
    }
  });

  it('a full queue hands requests back with the busy marker at once, not an error', async () => {
    const d = await startDispatcher(binary, { cl_workers: '1', cl_queue: '2' });
    try {
      const t0 = Date.now();
      const answers = await sendAll(d.port, Array(20).fill('/slow?ms=200'), 20);
      const ms = Date.now() - t0;
      const ok = answers.filter((a) => a.status === 200);
      const busy = answers.filter((a) => a.status === 503 && a.headers['x-containerless-fallback'] === 'busy');
      expect(ok.length + busy.length, answers.map((a) => `${a.status} ${a.body}`).join('\n')).to.equal(20);
      for (const a of ok) expect(a.body).to.equal('{"slept":200}');
      // One realm and two queued: at most three at once are let in; the rest are handed back without waiting.
      expect(ok.length).to.be.at.least(3);
      expect(busy.length).to.be.at.least(10);
      expect(busy[0].headers['x-containerless-site']).to.equal('0');
      expect(ms).to.be.below(200 * 20);
    } finally {
      await d.stop();
    }
  });
});
