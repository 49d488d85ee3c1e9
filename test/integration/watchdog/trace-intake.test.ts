/**
 * The watchdog POSTing its trace trees over loopback (`trace_url`, `trace_token`), as the local backend runs
 * it without NATS. The watchdog is the real CLI process; the server it posts to is a small HTTP server in
 * this test standing in for the provider's intake (provider/promotion/intake.ts is the other side of this
 * contract: POST `/_/containerless/traces/<ns>/<fn>`, bearer token, the replica, deployment and sequence
 * headers, 202 on success, 409 for an older deployment). Its answers are scripted per test.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateTrace, type TraceIR } from '../../../trace/index.ts';
import { waitFor as waitUntil } from '../../../lib/index.ts';
import { INTAKE_PATH } from '../../../watchdog/index.ts';
import { send, sleep, startOurs, type Served } from './harness.ts';

const TOKEN = 'loopback-token-1';

interface Posted {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  trace: TraceIR;
  status: number;
}

/** Two paths by `kind`; answers with the headers it was given, so a test sees what the handler saw. */
const HANDLER = `'use strict'
module.exports = async (event, context) => {
  if (event.query.kind === 'a') return { kind: 'a', headers: event.headers }
  if (event.query.kind === 'b') return { kind: 'b', n: [1, 2].map((x) => x + 1), headers: event.headers }
  return context.status(400).succeed('unknown kind')
}
`;

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => waitUntil(what, probe, 20_000, 25);

async function metric(w: Served, name: string): Promise<number> {
  const text = (await send(w.metricsPort, { path: '/metrics' })).body.toString();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

describe('watchdog posting trace trees to the provider over loopback (trace_url)', function () {
  this.timeout(120_000);
  let fnDir: string;
  let intake: http.Server;
  let url: string;
  const posted: Posted[] = [];
  /** Statuses for the next POSTs, in order; 202 once exhausted. */
  let script: number[] = [];
  let w: Served | undefined;

  before(() => {
    fnDir = mkdtempSync(join(tmpdir(), 'cl-intake-fn-'));
    writeFileSync(join(fnDir, 'handler.js'), HANDLER);
  });
  after(() => rmSync(fnDir, { recursive: true, force: true }));

  beforeEach(async () => {
    posted.length = 0;
    script = [];
    intake = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let status = script.shift() ?? 202;
        if (req.method !== 'POST') status = 405;
        else if (req.headers.authorization !== `Bearer ${TOKEN}`) status = 401;
        const trace = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as TraceIR;
        posted.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, trace, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 202 ? '' : `status ${status}`);
      });
    });
    intake.listen(0, '127.0.0.1');
    await once(intake, 'listening');
    url = `http://127.0.0.1:${(intake.address() as AddressInfo).port}${INTAKE_PATH}/team-a/echo`;
  });

  afterEach(async () => {
    await w?.stop();
    w = undefined;
    intake.closeAllConnections();
    intake.close();
  });

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    trace_url: url,
    trace_token: TOKEN,
    CONTAINERLESS_DEPLOYMENT: 'dep-1',
    OPENFAAS_NAME: 'echo',
    OPENFAAS_NAMESPACE: 'team-a',
    trace_publish_interval: '300ms',
    ...extra,
  });
  const get = async (kind: string, headers: Record<string, string> = {}): Promise<{ kind: string; headers: Record<string, string> }> => {
    const a = await send(w!.port, { path: `/?kind=${kind}`, headers });
    expect(a.status, a.body.toString()).to.equal(200);
    return JSON.parse(a.body.toString()) as { kind: string; headers: Record<string, string> };
  };
  const accepted = (): Posted[] => posted.filter((p) => p.status === 202);
  const lastAccepted = (): Posted | undefined => accepted().at(-1);

  it('POSTs the merged tree with the bearer token and the replica, deployment and sequence headers', async () => {
    w = await startOurs(fnDir, env({ trace_mode: 'always', trace_publish_interval: '0' }));
    await get('a');
    await get('b');
    const p = await waitFor('a tree of 2 requests', async () => (lastAccepted()?.trace.requests === 2 ? lastAccepted() : undefined));
    expect(p.path).to.equal(`${INTAKE_PATH}/team-a/echo`);
    expect(p.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    expect(p.headers['content-type']).to.equal('application/json');
    expect(p.headers['containerless-deployment']).to.equal('dep-1');
    expect(p.headers['containerless-replica']).to.match(/-\d+$/);
    expect(p.headers['containerless-replica']).to.include(String(w.proc.pid));
    const seqs = accepted().map((x) => Number(x.headers['containerless-trace-seq']));
    expect(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
      `sequence ${seqs.join(',')}`,
    ).to.equal(true);
    expect(validateTrace(p.trace)).to.equal(null);
    expect(p.trace.function).to.equal('echo');
    expect(await metric(w, 'containerless_trace_published_total')).to.equal(accepted().length);
    expect(w.proc.output()).to.include('trees posted to');
    expect(w.proc.output()).to.not.include(TOKEN);
  });

  it('sends a rising count within trace_publish_interval while the tree does not grow, and nothing while idle', async () => {
    w = await startOurs(fnDir, env({ trace_mode: 'always' }));
    await get('a');
    await waitFor('the first tree', async () => (lastAccepted()?.trace.requests === 1 ? true : undefined));
    const grew = await metric(w, 'containerless_trace_growth_total');
    for (let round = 2; round <= 4; round++) {
      const t0 = Date.now();
      await get('a');
      const p = await waitFor(`the count ${round}`, async () => (lastAccepted()?.trace.requests === round ? lastAccepted() : undefined));
      expect(p.at - t0, `count ${round} arrived after ${p.at - t0} ms`).to.be.lessThan(1000);
      expect(await metric(w, 'containerless_trace_growth_total'), 'the tree did not grow').to.equal(grew);
    }
    const n = posted.length;
    await sleep(1000);
    expect(posted.length, 'an idle replica sends nothing').to.equal(n);
  });

  it('loses nothing while the intake fails (500s), and sends the newest tree once it accepts', async () => {
    script = [500, 500, 500];
    w = await startOurs(fnDir, env({ trace_mode: 'always' }));
    await get('a');
    await waitFor('the failures', async () => (posted.length >= 1 ? true : undefined));
    await get('b');
    await get('a');
    const p = await waitFor('the tree of 3', async () => (lastAccepted()?.trace.requests === 3 ? lastAccepted() : undefined));
    expect(posted.slice(0, 3).map((x) => x.status)).to.deep.equal([500, 500, 500]);
    expect(validateTrace(p.trace)).to.equal(null);
    // Both paths are in the tree that went through.
    const kinds = JSON.stringify(p.trace.program);
    expect(kinds).to.include('"b"');
    expect(await metric(w, 'containerless_trace_publish_errors_total')).to.equal(3);
    expect(await metric(w, 'containerless_trace_buffered')).to.equal(0);
  });

  it('traces a retry-marked request under trace_mode=sample once the tree is stable, and its handler does not see the header', async () => {
    w = await startOurs(fnDir, env({ trace_mode: 'sample', trace_sample: '0', trace_stable_after: '3' }));
    for (let i = 0; i < 4; i++) await get('a');
    expect(await metric(w, 'containerless_trace_stable')).to.equal(1);
    await waitFor('the count of 4', async () => (lastAccepted()?.trace.requests === 4 ? true : undefined));
    // Stable and sample 0: a plain request is not traced.
    await get('a');
    await sleep(700);
    expect(lastAccepted()?.trace.requests).to.equal(4);
    expect(await metric(w, 'containerless_traced_requests_total')).to.equal(4);
    // The provider's re-send: traced, and the handler gets the headers without the mark.
    const seen = await get('a', { 'X-Containerless-Retry': 'type-guard', 'x-client': 'yes' });
    expect(seen.headers).to.not.have.property('x-containerless-retry');
    expect(seen.headers['x-client']).to.equal('yes');
    await waitFor('the count of 5', async () => (lastAccepted()?.trace.requests === 5 ? true : undefined));
    // A re-send on a path the tree lacks grows it.
    const b = await get('b', { 'x-containerless-retry': 'unknown' });
    expect(b.headers).to.not.have.property('x-containerless-retry');
    const p = await waitFor('the count of 6', async () => (lastAccepted()?.trace.requests === 6 ? lastAccepted() : undefined));
    expect(JSON.stringify(p.trace.program)).to.include('"b"');
    expect(await metric(w, 'containerless_trace_retries_total')).to.equal(2);
    expect(await metric(w, 'containerless_trace_stable')).to.equal(0);
  });

  it('stops posting after a 409 (an older deployment of the function) and keeps serving', async () => {
    script = [409];
    w = await startOurs(fnDir, env({ trace_mode: 'always', CONTAINERLESS_DEPLOYMENT: 'old-dep' }));
    await get('a');
    await waitFor('the 409', async () => (posted.length === 1 ? true : undefined));
    for (const k of ['b', 'a', 'b']) await get(k);
    await sleep(1000);
    expect(posted.length).to.equal(1);
    expect(posted[0].headers['containerless-deployment']).to.equal('old-dep');
    expect(w.proc.output()).to.match(/409/);
    expect(await metric(w, 'containerless_traced_requests_total')).to.equal(4);
  });

  it('posts the last tree on SIGTERM', async () => {
    w = await startOurs(fnDir, env({ trace_mode: 'always', trace_publish_interval: '1h' }));
    await get('a');
    await waitFor('the first tree', async () => (lastAccepted()?.trace.requests === 1 ? true : undefined));
    await get('a');
    await get('a');
    const exit = await w.stop();
    w = undefined;
    expect(exit.code).to.equal(0);
    expect(lastAccepted()?.trace.requests).to.equal(3);
  });

  it('refuses to start with nats_url and trace_url both set', async () => {
    w = await startOurs(fnDir, env({ nats_url: 'nats://127.0.0.1:4222' }), { wait: false });
    const exit = await w.proc.exited;
    expect(exit.code).to.equal(1);
    expect(w.proc.output()).to.include('nats_url and trace_url are both set');
  });
});
