/**
 * The loopback trace intake (provider/promotion/intake.ts) over real HTTP on 127.0.0.1: a node:http server
 * with the handler in front of a TreeStore, and trees traced from a real handler.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { prepare, Tracer, type TraceIR } from '../../../trace/index.ts';
import { createLoopbackIntake, TraceIntakeMetrics, traceToken } from '../../../provider/promotion/intake.ts';
import { TreeStore } from '../../../provider/promotion/trees.ts';
import { INTAKE_PATH } from '../../../provider/promotion/types.ts';
import { ROOT } from '../watchdog/harness.ts';

const KEY = Buffer.from('k'.repeat(32));
const FN = { name: 'branchy', namespace: 'team-a' };

async function traceBranchy(...kinds: string[]): Promise<TraceIR> {
  const p = prepare(readFileSync(join(ROOT, 'test/fixtures/watchdog/branchy/handler.js'), 'utf8'), 'handler.js');
  const tracer = new Tracer(p, 'branchy');
  const mod: { exports: any } = { exports: {} };
  new Function('module', 'exports', 'require', '__cl', p.instrumented)(mod, mod.exports, () => ({}), tracer.runtime);
  const context: Record<string, any> = {};
  context.status = () => context;
  context.succeed = (v: unknown) => v;
  for (const kind of kinds) await tracer.run(() => mod.exports({ query: { kind } }, context));
  return tracer.trace();
}

interface Answer {
  status: number;
  body: string;
}

function post(port: number, path: string, body: string | Buffer, headers: Record<string, string>, opts: { chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (opts.chunked) {
      // Without a content-length: the cap is found while reading.
      const b = Buffer.from(body);
      for (let i = 0; i < b.length; i += 1024) req.write(b.subarray(i, i + 1024));
      req.end();
    } else req.end(body);
  });
}

describe(`POST ${INTAKE_PATH}/<namespace>/<name> (loopback trace intake)`, () => {
  let dir: string;
  let server: http.Server;
  let port: number;
  let store: TreeStore;
  let registry: Registry;
  const path = `${INTAKE_PATH}/${FN.namespace}/${FN.name}`;
  const headers = (deployment = 'd1', extra: Record<string, string> = {}): Record<string, string> => ({
    authorization: `Bearer ${traceToken(KEY, FN, deployment)}`,
    'content-type': 'application/json',
    'containerless-replica': 'host-1',
    'containerless-deployment': deployment,
    'containerless-trace-seq': '1',
    ...extra,
  });
  const metric = async (name: string, labels: string): Promise<number> => {
    const text = await registry.metrics();
    const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cl-intake-'));
    store = new TreeStore({ stateDir: dir, debounceMs: 60_000 });
    store.ensure(FN, 'd1');
    registry = new Registry();
    const handler = createLoopbackIntake({
      key: KEY,
      lookup: (fn) => {
        const t = store.get(fn);
        return t && { deployment: t.deployment };
      },
      onTree: (msg, bytes) => store.accept(msg, bytes),
      metrics: new TraceIntakeMetrics(registry),
      maxBodyBytes: 64 * 1024,
      readTimeoutMs: 300,
    });
    server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 202 and merges the trees of two replicas', async () => {
    const a = await post(port, path, JSON.stringify(await traceBranchy('a', 'a')), headers());
    expect(a).to.deep.equal({ status: 202, body: 'accepted: the tree grew\n' });
    const b = await post(port, path, JSON.stringify(await traceBranchy('b')), headers('d1', { 'containerless-replica': 'host-2' }));
    expect(b.status).to.equal(202);
    const again = await post(port, path, JSON.stringify(await traceBranchy('b')), headers('d1', { 'containerless-replica': 'host-2' }));
    expect(again).to.deep.equal({ status: 202, body: 'accepted\n' });
    const t = store.get(FN)!;
    expect(t.tracedRequests).to.equal(3);
    expect(t.size).to.be.greaterThan(0);
    expect(await metric('containerless_traces_received_total', 'function_name="branchy.team-a",transport="loopback"')).to.equal(3);
  });

  it('answers 401 for a missing, wrong, or other-deployment token, and counts nothing', async () => {
    const body = JSON.stringify(await traceBranchy('a'));
    for (const auth of [
      undefined,
      'Bearer nope',
      `Basic ${traceToken(KEY, FN, 'd1')}`,
      `Bearer ${traceToken('other key', FN, 'd1')}`,
      `Bearer ${traceToken(KEY, FN, 'd2')}`,
    ]) {
      const h = headers();
      if (auth === undefined) delete (h as Record<string, string | undefined>).authorization;
      else h.authorization = auth;
      const r = await post(port, path, body, h);
      expect(r.status, String(auth)).to.equal(401);
    }
    // A token of another function does not open this one.
    const other = await post(port, path, body, { ...headers(), authorization: `Bearer ${traceToken(KEY, { name: 'x', namespace: 'team-a' }, 'd1')}` });
    expect(other.status).to.equal(401);
    expect(store.get(FN)!.tracedRequests).to.equal(0);
    expect(await registry.metrics()).to.not.match(/^containerless_traces_refused_total\{/m);
  });

  it('answers 404 for an unknown function or a path that names none', async () => {
    const body = JSON.stringify(await traceBranchy('a'));
    const fn = { name: 'ghost', namespace: 'team-a' };
    const r = await post(port, `${INTAKE_PATH}/team-a/ghost`, body, { ...headers(), authorization: `Bearer ${traceToken(KEY, fn, 'd1')}` });
    expect(r.status).to.equal(404);
    expect(await metric('containerless_traces_refused_total', 'function_name="ghost.team-a",reason="function"')).to.equal(1);
    expect((await post(port, `${INTAKE_PATH}/team-a`, body, headers())).status).to.equal(404);
    expect((await post(port, `${INTAKE_PATH}/team-a/Bad_Name`, body, headers())).status).to.equal(404);
  });

  it('answers 415 for a body that is not application/json', async () => {
    const r = await post(port, path, JSON.stringify(await traceBranchy('a')), headers('d1', { 'content-type': 'text/plain' }));
    expect(r.status).to.equal(415);
    expect(await metric('containerless_traces_refused_total', 'function_name="branchy.team-a",reason="schema"')).to.equal(1);
  });

  it('answers 413 for a body over the cap, declared or found while reading', async () => {
    const big = JSON.stringify({ ...(await traceBranchy('a')), function: 'x'.repeat(100 * 1024) });
    expect((await post(port, path, big, headers())).status).to.equal(413);
    expect((await post(port, path, big, headers(), { chunked: true })).status).to.equal(413);
    expect(await metric('containerless_traces_refused_total', 'function_name="branchy.team-a",reason="too-large"')).to.equal(2);
    expect(store.get(FN)!.trace).to.equal(undefined);
  });

  it('answers 400 for a body that is not JSON or not trace IR, naming the field', async () => {
    const notJson = await post(port, path, '{"format": ', headers());
    expect(notJson.status).to.equal(400);
    expect(notJson.body).to.match(/not JSON/);
    const tree = await traceBranchy('a');
    const bad = await post(port, path, JSON.stringify({ ...tree, requests: 'many' }), headers());
    expect(bad).to.deep.equal({ status: 400, body: 'trace intake: trace/requests must be integer\n' });
    expect(await metric('containerless_traces_refused_total', 'function_name="branchy.team-a",reason="schema"')).to.equal(2);
    expect(store.get(FN)!.trace).to.equal(undefined);
  });

  it('answers 409 for a tree of an older deployment (with that deployment’s valid token)', async () => {
    const r = await post(port, path, JSON.stringify(await traceBranchy('a')), headers('d0'));
    expect(r.status).to.equal(409);
    expect(r.body).to.match(/refused \(deployment\)/);
    expect(await metric('containerless_traces_refused_total', 'function_name="branchy.team-a",reason="deployment"')).to.equal(1);
    expect(store.get(FN)!.trace).to.equal(undefined);
  });

  it('answers 408 when the body stalls, and 405 for another method', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers(), 'content-length': '100' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"format"'); // and never the rest
    });
    expect(status).to.equal(408);
    const get = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject);
    });
    expect(get).to.equal(405);
  });
});
