/**
 * Trees traced under concurrency compile to a dispatcher as good as trees traced one request at a time.
 *
 * Real parts on loopback: a small backend this test starts (answers that depend only on the request, after a
 * random delay of 0-8 ms, so that the handler's awaits resume in another order than they started), a
 * handler that awaits `fetch` on several branches (one fetch, a fetch that depends on the first, a
 * `Promise.all` of two, a text answer, a 404 from upstream, a 400 of its own), and `containerless watchdog`
 * processes with trace_mode=always that POST their trees over loopback (trace_url) to a stand-in for the
 * provider's intake.
 *
 * - concurrent: three replicas get the requests round-robin, 32 in flight at once; the test checks that the
 *   backend really had many requests in flight (so awaits interleaved inside each replica), takes each
 *   replica's last tree once its count covers what that replica was sent, and merges them (mergeTraces, as
 *   the provider's store merges replicas' trees);
 * - sequential: one replica gets the same requests one at a time.
 * The merged tree is the sequential one (program and observations): interleaved awaits add nothing and lose
 * nothing.
 * Both trees are compiled (generateRust, buildDispatcher) and started; every request is then replayed against
 * both dispatchers and a plain Node replica (trace_mode=off): each dispatcher answers every request itself (no
 * fallback: every request was traced) with Node's answer (harness compareAnswers: status, content type, body),
 * the two dispatchers answer alike, and so does the concurrent tree's dispatcher under 32 requests in flight.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDispatcher, generateRust } from '../../../compiler/index.ts';
import { compareAnswers, Dispatcher, FALLBACK_HEADER } from '../../../harness/index.ts';
import { waitFor as waitUntil } from '../../../lib/index.ts';
import { mergeTraces, validateTrace, type TraceIR } from '../../../trace/index.ts';
import { INTAKE_PATH } from '../../../watchdog/index.ts';
import { send, startOurs, type Answer, type Served } from '../watchdog/harness.ts';

const TOKEN = 'concurrent-trace-token';
const IN_FLIGHT = 32;
const REPLICAS = 3;

/** The handler, with the backend's address written in (the dispatcher reads no env). */
const handler = (backend: string): string => `'use strict';
const BACKEND = '${backend}';

async function getJson(path) {
  const res = await fetch(BACKEND + path);
  if (!res.ok) return { missing: true, status: res.status };
  return res.json();
}

module.exports = async (event, context) => {
  const kind = event.query.kind;
  if (kind === 'user') {
    const u = await getJson('/user/' + event.query.id);
    if (u.missing) return context.status(404).succeed({ error: 'no user ' + event.query.id, upstream: u.status });
    if (u.score > 50) {
      const bonus = await getJson('/bonus/' + u.id);
      return { id: u.id, name: u.name, level: 'gold', bonus: bonus.amount };
    }
    return { id: u.id, name: u.name, level: 'basic' };
  }
  if (kind === 'pair') {
    const both = await Promise.all([getJson('/user/' + event.query.a), getJson('/user/' + event.query.b)]);
    const names = both.map((u) => (u.missing ? null : u.name));
    const total = both.reduce((s, u) => s + (u.missing ? 0 : u.score), 0);
    return { names: names, total: total };
  }
  if (kind === 'text') {
    const res = await fetch(BACKEND + '/text/' + event.query.word);
    const text = await res.text();
    return 'said: ' + text.toUpperCase();
  }
  return context.status(400).succeed('unknown kind');
};
`;

/** Answers depend only on the path; each waits a random 0-8 ms first. Counts requests in flight. */
function startBackend(): Promise<{ server: http.Server; url: string; maxInFlight: () => number }> {
  let inFlight = 0;
  let max = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    max = Math.max(max, inFlight);
    setTimeout(
      () => {
        inFlight--;
        const path = req.url ?? '/';
        let m: RegExpExecArray | null;
        const json = (status: number, v: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
        };
        if ((m = /^\/user\/(\d+)$/.exec(path)) && Number(m[1]) >= 1 && Number(m[1]) <= 20) {
          const id = Number(m[1]);
          json(200, { id, name: `user-${id}`, score: (id * 37) % 100 });
        } else if ((m = /^\/bonus\/(\d+)$/.exec(path))) {
          json(200, { amount: Number(m[1]) * 10 });
        } else if ((m = /^\/text\/([a-z]+)$/.exec(path))) {
          res.writeHead(200, { 'content-type': 'text/plain' }).end(`${m[1]}-${m[1].length}`);
        } else {
          json(404, { error: 'not found' });
        }
      },
      Math.floor(Math.random() * 9),
    );
  });
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => ({
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    maxInFlight: () => max,
  }));
}

/** The requests: every branch, several times each, in a mixed order. */
function requests(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    out.push(`/?kind=user&id=${1 + ((i * 7) % 20)}`); // basic or gold
    out.push(`/?kind=user&id=${3 + i * 2}`);
    out.push(`/?kind=pair&a=${1 + i}&b=${20 - i}`);
    out.push(`/?kind=text&word=${['alpha', 'beta', 'gamma', 'delta'][i % 4]}`);
    out.push(`/?kind=user&id=${40 + i}`); // upstream 404
    out.push(`/?kind=pair&a=${i + 2}&b=${90 + i}`); // one missing
  }
  out.push('/?kind=nothing', '/');
  return out;
}

async function pool<T, R>(items: T[], width: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => waitUntil(what, probe, 30_000, 25);

describe('trees traced under concurrency compile to a dispatcher that answers as Node (and as the sequential tree does)', function () {
  this.timeout(900_000);
  const tmp = mkdtempSync(join(tmpdir(), 'cl-concurrent-trace-'));
  const fnDir = join(tmp, 'fn');
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let intake: http.Server;
  let intakeUrl: string;
  /** The last tree each replica posted, by its replica header. */
  const trees = new Map<string, TraceIR>();
  const started: Served[] = [];
  const dispatchers: Dispatcher[] = [];

  before(async () => {
    backend = await startBackend();
    mkdirSync(fnDir);
    writeFileSync(join(fnDir, 'handler.js'), handler(backend.url));
    intake = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
        const trace = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TraceIR;
        const replica = String(req.headers['containerless-replica']);
        const prev = trees.get(replica);
        if (!prev || trace.requests >= prev.requests) trees.set(replica, trace);
        res.writeHead(202).end();
      });
    });
    intake.listen(0, '127.0.0.1');
    await once(intake, 'listening');
    intakeUrl = `http://127.0.0.1:${(intake.address() as AddressInfo).port}${INTAKE_PATH}/openfaas-fn/concurrent`;
  });

  after(async () => {
    for (const d of dispatchers) await d.stop();
    for (const s of started) await s.stop();
    intake?.closeAllConnections();
    intake?.close();
    backend?.server.closeAllConnections();
    backend?.server.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const replica = async (env: Record<string, string>): Promise<Served> => {
    const s = await startOurs(fnDir, {
      OPENFAAS_NAME: 'concurrent',
      OPENFAAS_NAMESPACE: 'openfaas-fn',
      CONTAINERLESS_DEPLOYMENT: 'dep-1',
      trace_url: intakeUrl,
      trace_token: TOKEN,
      trace_publish_interval: '200ms',
      exec_timeout: '30s',
      ...env,
    });
    started.push(s);
    return s;
  };

  /** The last tree of the replica with this pid, once it counts `n` requests. */
  const treeOf = (s: Served, n: number): Promise<TraceIR> =>
    waitFor(`the tree of ${n} requests from pid ${s.proc.pid}`, async () => {
      for (const [name, t] of trees) if (name.includes(String(s.proc.pid)) && t.requests === n) return t;
      return undefined;
    });

  const ok = (a: Answer, what: string): Answer => {
    expect(a.headers[FALLBACK_HEADER], `${what} fell back: ${a.body.toString()}`).to.equal(undefined);
    return a;
  };

  it('compiles the merged tree of three replicas traced 32 requests at a time, and the tree traced one at a time, to dispatchers that answer every request as Node', async () => {
    const paths = requests();

    // Concurrent: three replicas, 32 in flight at once, round-robin.
    const reps = await Promise.all(Array.from({ length: REPLICAS }, () => replica({ trace_mode: 'always' })));
    const concurrentAnswers = await pool(paths, IN_FLIGHT, (path, i) => send(reps[i % REPLICAS].port, { path }));
    expect(backend.maxInFlight(), 'the backend had many requests in flight at once').to.be.at.least(8);
    const perReplica = reps.map((_, r) => paths.filter((_, i) => i % REPLICAS === r).length);
    const replicaTrees = await Promise.all(reps.map((s, r) => treeOf(s, perReplica[r])));
    for (const t of replicaTrees) expect(validateTrace(t)).to.equal(null);
    const concurrent = replicaTrees.reduce((a, b) => mergeTraces(a, b));
    expect(concurrent.requests).to.equal(paths.length);

    // Sequential: one replica, one request at a time.
    const seq = await replica({ trace_mode: 'always' });
    const sequentialAnswers: Answer[] = [];
    for (const path of paths) sequentialAnswers.push(await send(seq.port, { path }));
    const sequential = await treeOf(seq, paths.length);

    // Interleaving changes nothing in the tree: the same program and the same observations (callees as sets).
    const obs = (t: TraceIR): Record<string, unknown> =>
      Object.fromEntries(Object.entries(t.sites).map(([k, v]) => [k, { ...v, ...(v.callees ? { callees: [...v.callees].sort() } : {}) }]));
    expect(concurrent.program, 'the merged tree of the concurrent replicas is the sequential tree').to.deep.equal(sequential.program);
    expect(obs(concurrent)).to.deep.equal(obs(sequential));

    // Node under concurrency answered as Node one at a time (the backend's answers depend on the request only).
    for (let i = 0; i < paths.length; i++) expect(compareAnswers(sequentialAnswers[i], concurrentAnswers[i]), paths[i]).to.equal(null);

    // Compile both.
    const build = async (trace: TraceIR, name: string): Promise<Dispatcher> => {
      const gen = generateRust(trace, { name });
      expect(gen.functions, `${name}: compiled functions`).to.be.greaterThan(0);
      const built = await buildDispatcher(gen.main, { name });
      const d = await Dispatcher.start(built.binary, {});
      dispatchers.push(d);
      await d.waitHealthy();
      return d;
    };
    const dc = await build(concurrent, 'concurrent-trace-c');
    const ds = await build(sequential, 'concurrent-trace-s');

    // Replay: Node (a plain replica) against both dispatchers, one request at a time.
    const node = await replica({ trace_mode: 'off' });
    const nodeAnswers: Answer[] = [];
    for (const path of paths) {
      const js = await send(node.port, { path });
      const c = ok(await send(dc.port, { path }), `concurrent tree: ${path}`);
      const s = ok(await send(ds.port, { path }), `sequential tree: ${path}`);
      expect(compareAnswers(js, c), `concurrent tree vs Node: ${path}`).to.equal(null);
      expect(compareAnswers(js, s), `sequential tree vs Node: ${path}`).to.equal(null);
      expect(compareAnswers(s, c), `the two dispatchers: ${path}`).to.equal(null);
      nodeAnswers.push(js);
    }
    // Several passes with 32 in flight against the concurrent tree's dispatcher.
    const again = [...paths, ...paths, ...paths];
    const under = await pool(again, IN_FLIGHT, (path) => send(dc.port, { path }));
    for (let i = 0; i < again.length; i++) {
      ok(under[i], `concurrent replay: ${again[i]}`);
      expect(compareAnswers(nodeAnswers[i % paths.length], under[i]), `concurrent replay: ${again[i]}`).to.equal(null);
    }
  });
});
