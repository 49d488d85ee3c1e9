/**
 * The promotion lifecycle under load, end to end on the local backend (real provider process, watchdog
 * replicas, cargo builds, dispatcher processes; loopback only), with the deterministic handler of
 * test/fixtures/promotion/steady:
 *
 * - a bounded load run (12 concurrent clients, at most a minute) across the function's promotion and its
 *   re-promotion (its /late path is sent only once it is promoted, so it falls back and the tree grows):
 *   no request fails, and every answer equals Node's answer for the same request;
 * - demotion: the dispatcher process (started by this test's provider: its parent pid is checked) is killed
 *   while requests flow: no request fails, the status shows a demotion with reason `crash` and engine node,
 *   and `containerless_demotions_total{reason="crash"}` is 1.
 *
 * `promote_compare_cost=false`: this test is about the switches under load, not about which engine is cheaper
 * (promotion-cost.test.ts checks that rule).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readRequests, toHttpRequest } from '../../../harness/index.ts';
import { cacheDir } from '../../../lib/index.ts';
import { metricValue, removeDir, ROOT, send, startProvider, ProviderApi, type Answer, type ProviderProc, type WireRequest } from './harness.ts';

export const STEADY = join(ROOT, 'test/fixtures/promotion/steady');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const get = (target: string): WireRequest => ({ method: 'GET', target, headers: [] });
/** A request's identity for the expected answers (two requests may share a target and differ in body). */
const keyOf = (r: WireRequest): string => `${r.method} ${r.target} ${r.body?.toString() ?? ''}`;

/** Processes whose parent is `ppid` and whose executable is a dispatcher binary of the build cache. */
export function dispatcherPids(ppid: number): number[] {
  const under = join(cacheDir(), 'v1/dispatchers');
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid) continue;
      if (readlinkSync(`/proc/${d}/exe`).startsWith(`${under}/`)) out.push(Number(d));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

interface LoadResult {
  sent: number;
  failures: string[];
}

/**
 * `workers` clients send requests picked round-robin from `pool()` until `stop()` says so; each answer is
 * compared with `expected` (Node's answer for the same request, by target).
 */
async function load(base: string, workers: number, pool: () => WireRequest[], expected: Map<string, Answer>, stop: () => boolean): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, failures: [] };
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!stop()) {
        const reqs = pool();
        const r = reqs[next++ % reqs.length];
        result.sent++;
        try {
          const a = await send(base, r);
          const want = expected.get(keyOf(r))!;
          if (a.status !== want.status || a.type !== want.type || a.body !== want.body)
            result.failures.push(
              `${r.method} ${r.target}: got ${a.status} ${a.type} ${a.body.slice(0, 200)}; Node gives ${want.status} ${want.type} ${want.body}`,
            );
        } catch (err) {
          result.failures.push(`${r.method} ${r.target}: ${(err as Error).message} ${String((err as Error).cause ?? '')}`);
        }
      }
    }),
  );
  return result;
}

describe('promotion under load: promotion, re-promotion and a crashed dispatcher without a failed request', function () {
  this.timeout(600_000);
  let p: ProviderProc;
  let api: ProviderApi;
  const known = readRequests(join(STEADY, 'requests.jsonl')).map((r) => toHttpRequest(r));
  const late = [get('/late?n=5'), get('/late?n=12'), get('/late?n=31')];
  const expected = new Map<string, Answer>();

  before(async () => {
    p = await startProvider({ CONTAINERLESS_CACHE: cacheDir(), promote_stable_requests: '20', promote_compare_cost: 'false' });
    api = new ProviderApi(p);
    await api.deploy('steady', STEADY);
    await api.deploy('steady-node', STEADY, { labels: { 'com.containerless.promote': 'false' } });
    for (const r of [...known, ...late]) expected.set(keyOf(r), await send(api.invokeUrl('steady-node'), r));
    expect(expected.get(keyOf(known[0]))?.body).to.equal('{"version":"v1","sum":3}');
    expect(expected.get(keyOf(known[6]))?.status).to.equal(404);
  });
  after(async () => {
    await p?.stop();
    if (process.env.KEEP_PROVIDER_LOG) console.error(p?.output());
    if (p) await removeDir(p.dir);
  });

  it('12 clients across promotion and re-promotion: every answer is Node’s, none fails', async () => {
    expect((await api.status('steady')).engine).to.equal('node');
    const t0 = Date.now();
    let promotedAt = 0;
    let lateFrom = 0;
    let repromotedAt = 0;
    let firstVersion: string | undefined;
    let done = false;
    // Watches the status: /late joins the mix 2 s after the promotion; the run ends 5 s after the re-promotion.
    // On a warm build cache (the runtime crate built, as the compiler's tests leave it) that is well within a
    // minute; a cold one compiles the runtime first, so the bound is 4 minutes.
    const watcher = (async () => {
      while (!done) {
        const s = await api.status('steady');
        if (!promotedAt && s.engine === 'rust') {
          promotedAt = Date.now();
          firstVersion = s.dispatcher?.version;
        }
        if (promotedAt && !lateFrom && Date.now() - promotedAt > 2000) lateFrom = Date.now();
        if (lateFrom && !repromotedAt && s.promotions >= 2 && s.engine === 'rust') repromotedAt = Date.now();
        if (Date.now() - t0 > 240_000 || (repromotedAt && Date.now() - repromotedAt > 5000)) done = true;
        await sleep(250);
      }
    })();
    const before = await api.served('steady');
    const result = await load(
      api.invokeUrl('steady'),
      12,
      () => (lateFrom ? [...known, ...late] : known),
      expected,
      () => done,
    );
    await watcher;
    const after = await api.served('steady');
    const s = await api.status('steady');
    const secs = (Date.now() - t0) / 1000;
    console.error(
      `      (${result.sent} requests in ${secs.toFixed(0)} s; promoted after ${((promotedAt - t0) / 1000).toFixed(1)} s, re-promoted after ${((repromotedAt - t0) / 1000).toFixed(1)} s; rust ${after.rust - before.rust}, node ${after.node - before.node}, fallback ${after.fallback - before.fallback})`,
    );
    expect(result.failures.slice(0, 10), `${result.failures.length} failed of ${result.sent}`).to.deep.equal([]);
    expect(promotedAt, `promoted during the run: ${JSON.stringify(s)}`).to.be.above(0);
    expect(promotedAt, 'promoted during the run').to.be.above(0);
    expect(repromotedAt, `re-promoted during the run: ${JSON.stringify(s)}`).to.be.above(0);
    expect(s.dispatcher?.version).to.not.equal(firstVersion);
    expect(s.demotions).to.deep.equal([]);
    // Every invocation counted once, by the engine that answered.
    expect(after.rust + after.node + after.fallback - before.rust - before.node - before.fallback).to.equal(result.sent);
    expect(after.rust - before.rust).to.be.above(result.sent / 4);
    expect(after.fallback - before.fallback, '/late fell back before the re-promotion').to.be.at.least(1);
  });

  it('a killed dispatcher is demoted (crash) while requests flow: none fails, Node answers from then on', async () => {
    // No build in flight (a re-promotion finishing after the crash would rightly promote its bigger tree).
    let s0 = await api.status('steady');
    for (let i = 0; i < 600 && s0.phase !== 'promoted'; i++) {
      await sleep(500);
      s0 = await api.status('steady');
    }
    expect(s0.engine).to.equal('rust');
    expect(s0.phase).to.equal('promoted');
    const pids = dispatcherPids(p.child.pid!);
    expect(pids, 'one dispatcher process, a child of this test’s provider').to.have.length(1);
    const crashBefore = metricValue(await api.metrics(), 'containerless_demotions_total', { function_name: 'steady.openfaas-fn', reason: 'crash' });
    let done = false;
    const run = load(
      api.invokeUrl('steady'),
      8,
      () => [...known, ...late],
      expected,
      () => done,
    );
    await sleep(1500);
    process.kill(pids[0], 'SIGKILL');
    const s1 = await (async () => {
      for (let i = 0; i < 100; i++) {
        const s = await api.status('steady');
        if (s.engine === 'node') return s;
        await sleep(100);
      }
      throw new Error('the function was not demoted within 10 s of its dispatcher being killed');
    })();
    await sleep(3000);
    const beforeTail = await api.served('steady');
    await sleep(2000);
    done = true;
    const result = await run;
    const afterTail = await api.served('steady');
    expect(result.failures.slice(0, 10), `${result.failures.length} failed of ${result.sent}`).to.deep.equal([]);
    expect(s1.phase).to.not.equal('promoted');
    expect(s1.dispatcher).to.equal(null);
    const last = s1.demotions[s1.demotions.length - 1];
    expect(last?.reason).to.equal('crash');
    expect(last?.version).to.equal(s0.dispatcher?.version);
    const text = await api.metrics();
    expect(metricValue(text, 'containerless_demotions_total', { function_name: 'steady.openfaas-fn', reason: 'crash' }) - crashBefore).to.equal(1);
    expect(text).to.include('containerless_function_engine{function_name="steady.openfaas-fn",engine="node"} 1');
    // From the demotion on, Node answers everything (the killed build is not promoted again).
    expect(afterTail.rust - beforeTail.rust).to.equal(0);
    expect(afterTail.node - beforeTail.node).to.be.above(0);
    expect(dispatcherPids(p.child.pid!)).to.deep.equal([]);
  });
});
