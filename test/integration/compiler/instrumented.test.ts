/**
 * The instrumented program is the program: every handler this repository holds (the examples, the bench
 * functions and every handler fixture under test/fixtures) is served in this process as the file was
 * written and as the watchdog's tracer instruments it, with recording on (a traced request) and off (an
 * untraced one, `Tracer.runUnrecorded`), and the same requests in the same order must get identical answers
 * (status, headers but the per-connection ones, body bytes). Error messages are part of the answer: a
 * handler that answers `e.message` must read V8's wording of the source, never the tracer's code. A normaliser or
 * instrumentation bug that changes what Node answers fails here, whether or not any Rust is involved.
 *
 * Requests: the folder's requests.jsonl; for the compiler's golden fixtures, their sample bodies POSTed;
 * otherwise GET / plus a GET of every path-like string literal in the handler's source (`case '/echo'`),
 * a JSON POST and a text POST. A handler whose answer is not deterministic (a second plain instance answers
 * the same request differently) is compared on the other requests only, and the test says how many it
 * skipped. A handler that fails to load must fail alike on both sides.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepare } from '../../../trace/index.ts';
import type { HttpRequest } from '../../../harness/index.ts';
import { Tracer } from '../../../trace/index.ts';
import { createRunnerApp, HandlerLoadError, loadHandler, type LoadedHandler } from '../../../watchdog/index.ts';
// @ts-expect-error: the backend is plain JavaScript without types
import { startBackend } from '../../../examples/backend/server.js';
import { requestsOf } from './differential.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BACKEND_PORT = 7998;
/** Per request: a handler that never answers (runner/hang) answers nothing on both sides. */
const ANSWER_TIMEOUT_MS = 3000;
const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-duration-seconds']);
/** Fixtures that are not handlers on their own: the runner's tests inject a `__probe` they call. */
const NOT_STANDALONE = new Set(['test/fixtures/runner/cl-probe', 'test/fixtures/runner/inject']);

/** Every folder under `root` with a handler.js, recursively (not node_modules). */
function handlerDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (existsSync(join(d, 'handler.js'))) out.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && e.name !== 'node_modules') walk(join(d, e.name));
  };
  walk(root);
  return out.sort();
}

interface Subject {
  name: string;
  dir: string;
  file: string;
  requests: HttpRequest[];
}

const jsonPost = (body: unknown, path = '/'): HttpRequest => ({
  method: 'POST',
  target: path,
  headers: [['content-type', 'application/json']],
  body: Buffer.from(JSON.stringify(body)),
});

function defaultRequests(source: string): HttpRequest[] {
  const paths = new Set<string>(['/']);
  for (const m of source.matchAll(/['"](\/[A-Za-z0-9_\-/]*)['"]/g)) if (paths.size < 40) paths.add(m[1]);
  return [
    ...[...paths].map((p): HttpRequest => ({ method: 'GET', target: `${p}?q=1&name=x`, headers: [] })),
    jsonPost({ a: 1, items: [1, 2, 3], name: 'x' }),
    { method: 'POST', target: '/', headers: [['content-type', 'text/plain']], body: Buffer.from('some text') },
  ];
}

function subjects(): Subject[] {
  const out: Subject[] = [];
  for (const dir of [...handlerDirs(join(ROOT, 'examples')), ...handlerDirs(join(ROOT, 'bench/functions')), ...handlerDirs(join(ROOT, 'test/fixtures'))]) {
    const reqFile = join(dir, 'requests.jsonl');
    const requests = existsSync(reqFile) ? requestsOf(reqFile) : defaultRequests(readFileSync(join(dir, 'handler.js'), 'utf8'));
    if (!NOT_STANDALONE.has(relative(ROOT, dir))) out.push({ name: relative(ROOT, dir), dir, file: 'handler.js', requests });
  }
  const compiler = join(ROOT, 'test/fixtures/compiler');
  for (const f of readdirSync(compiler).filter((x) => /^[a-z-]+\.js$/.test(x))) {
    const name = f.slice(0, -3);
    const bodies = JSON.parse(readFileSync(join(compiler, `${name}.requests.json`), 'utf8')) as unknown[];
    out.push({ name: `test/fixtures/compiler/${f}`, dir: compiler, file: f, requests: bodies.map((b) => jsonPost(b)) });
  }
  return out;
}

type Loaded = { handler: LoadedHandler; around?: <T>(fn: () => Promise<T>) => Promise<T> } | { error: string };

function load(s: Subject, mode: 'plain' | 'instrumented' | 'unrecorded'): Loaded {
  try {
    if (mode === 'plain') return { handler: loadHandler(s.dir, { filename: s.file }) };
    const prepared = prepare(readFileSync(join(s.dir, s.file), 'utf8'), s.file);
    // A source that does not parse is not instrumented: the watchdog serves (or fails to load) it as it is.
    if (prepared.diagnostics.some((d) => d.code === 'C001')) return load(s, 'plain');
    const tracer = new Tracer(prepared, 'instrumented-test');
    return {
      handler: loadHandler(s.dir, { filename: s.file, source: prepared.instrumented, inject: { __cl: tracer.runtime } }),
      around: mode === 'instrumented' ? (fn) => tracer.run(fn) : (fn) => tracer.runUnrecorded(fn),
    };
  } catch (err) {
    if (err instanceof HandlerLoadError) return { error: err.code };
    throw err;
  }
}

async function listen(l: Exclude<Loaded, { error: string }>): Promise<Server> {
  const { handler, around } = l;
  const server = http.createServer(
    createRunnerApp({ handler, choose: () => ({ handler, around }), logError: () => {}, env: { ...process.env, NODE_ENV: 'production', exec_timeout: '2s' } }),
  );
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return server;
}

function close(server: Server): Promise<void> {
  return new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });
}

/** The answer as one comparable string (JSON); `no answer` when none came in time. */
function ask(server: Server, req: HttpRequest): Promise<string> {
  const { port } = server.address() as AddressInfo;
  const headers: Record<string, string> = { host: '127.0.0.1:8080' };
  for (const [k, v] of req.headers) headers[k] = v;
  return new Promise((done) => {
    const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.target, headers, agent: false, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const kept = Object.entries(res.headers).filter(([k]) => !PER_CONNECTION.has(k));
        done(JSON.stringify({ status: res.statusCode, headers: kept, body: Buffer.concat(chunks).toString('utf8') }));
      });
      res.on('error', (e) => done(`error ${e.message}`));
    });
    r.setTimeout(ANSWER_TIMEOUT_MS, () => r.destroy(new Error('timeout')));
    r.on('error', (e) => done(e.message === 'timeout' ? 'no answer' : `error ${e.message}`));
    r.end(req.body);
  });
}

const printable = (a: string): string => (a.length > 400 ? `${a.slice(0, 400)}…` : a);

describe('the instrumented program answers as the plain program, for every handler', function () {
  let backend: { close(): Promise<void> | void } | undefined;
  const saved = process.env.BACKEND_URL;
  before(async function () {
    // The examples name the backend's port in their source. Another suite may hold it for a while; after a
    // minute, a backend that answers there is used as it is (its answers are the same; any that vary show
    // up as nondeterministic).
    for (let waited = 0; !backend; waited += 500) {
      try {
        backend = await startBackend({ port: BACKEND_PORT });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        if (waited >= 60_000) {
          const r = await fetch(`http://127.0.0.1:${BACKEND_PORT}/ready`).catch(() => undefined);
          if (r?.status !== 200) throw new Error(`port ${BACKEND_PORT} is held by something that is not the examples' backend`);
          break;
        }
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    process.env.BACKEND_URL = `http://127.0.0.1:${BACKEND_PORT}`;
  });
  after(async () => {
    await backend?.close();
    if (saved === undefined) delete process.env.BACKEND_URL;
    else process.env.BACKEND_URL = saved;
  });

  const all = subjects();
  it('finds the examples, the bench functions and the fixtures', () => {
    expect(all.length).to.be.at.least(50);
    for (const must of [
      'examples/primes',
      'bench/functions/echo',
      'test/fixtures/handlers/closures',
      'test/fixtures/divergences/switch-scope',
      'test/fixtures/divergences/error-wording',
      'test/fixtures/compiler/branches.js',
    ]) {
      expect(all.map((s) => s.name)).to.include(must);
    }
  });

  for (const s of all) {
    it(`${s.name}: ${s.requests.length} requests answered alike`, async function () {
      const plain = load(s, 'plain');
      const control = load(s, 'plain');
      const instrumented = load(s, 'instrumented');
      const unrecorded = load(s, 'unrecorded');
      if ('error' in plain || 'error' in instrumented || 'error' in control || 'error' in unrecorded) {
        expect('error' in instrumented ? instrumented.error : 'loaded', 'the instrumented module loads as the plain one does').to.equal(
          'error' in plain ? plain.error : 'loaded',
        );
        return;
      }
      const servers = [await listen(plain), await listen(control), await listen(instrumented), await listen(unrecorded)];
      const diffs: string[] = [];
      let skipped = 0;
      try {
        for (const [i, r] of s.requests.entries()) {
          const [a, b, c, d] = await Promise.all(servers.map((srv) => ask(srv, r)));
          if (a !== b) {
            skipped++;
            continue;
          }
          if (a !== c) diffs.push(`request ${i + 1} ${r.method} ${r.target}:\n    plain        ${printable(a)}\n    instrumented ${printable(c)}`);
          if (a !== d) diffs.push(`request ${i + 1} ${r.method} ${r.target}:\n    plain        ${printable(a)}\n    unrecorded   ${printable(d)}`);
        }
      } finally {
        for (const srv of servers) await close(srv);
      }
      expect(diffs, diffs.join('\n')).to.deep.equal([]);
      expect(skipped, 'requests whose plain answers vary between two instances').to.be.below(s.requests.length || 1);
      if (skipped) this.test!.title += ` (${skipped} nondeterministic, not compared)`;
    });
  }
});
