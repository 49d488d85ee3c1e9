/**
 * Which functions the promotion lifecycle takes to Rust, end to end on the local backend (real provider
 * process, watchdog replicas, cargo builds, dispatcher processes; loopback only):
 *
 * - the cost rule (`promote_compare_cost=true`, a canary of `promote_canary_requests=20` requests per engine):
 *   examples/maze (compute-heavy) and examples/login (one backend call per request) each get both engines'
 *   figures in status.cost and the decision those figures give (Rust only when its CPU per request is not
 *   higher; otherwise Node keeps the function with a demotion of reason `cost`);
 * - opt-out: label `com.containerless.promote: "false"` never compiles, however many requests;
 * - `promotion=off`: no function compiles.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readRequests, toHttpRequest } from '../../../harness/index.ts';
import { cacheDir } from '../../../lib/index.ts';
import { examplesBackend, metricValue, removeDir, ROOT, send, startProvider, ProviderApi, type PromotionStatus, type ProviderProc } from './harness.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const requestsOf = (dir: string) => readRequests(join(dir, 'requests.jsonl')).map((r) => toHttpRequest(r));

describe('promotion: only what pays, and only where it is on', function () {
  this.timeout(900_000);
  let backend: { close(): Promise<void> };
  before(async () => {
    backend = await examplesBackend();
  });
  after(async () => {
    await backend?.close();
  });

  describe('promote_compare_cost=true', () => {
    let p: ProviderProc;
    let api: ProviderApi;
    before(async () => {
      p = await startProvider({
        CONTAINERLESS_CACHE: cacheDir(),
        promote_stable_requests: '20',
        promote_compare_cost: 'true',
        promote_canary_requests: '20',
      });
      api = new ProviderApi(p);
      await api.deploy('maze', join(ROOT, 'examples/maze'));
      await api.deploy('login', join(ROOT, 'examples/login'));
      await api.deploy('login-off', join(ROOT, 'examples/login'), { labels: { 'com.containerless.promote': 'false' } });
    });
    after(async () => {
      await p?.stop();
      if (process.env.KEEP_PROVIDER_LOG) console.error(p?.output());
      if (p) await removeDir(p.dir);
    });

    /** Sends the example's requests until its status says a canary decided (`cost` is set). */
    async function driveUntilDecided(name: string, example: string, limitMs = 480_000): Promise<PromotionStatus> {
      const reqs = requestsOf(join(ROOT, 'examples', example));
      const deadline = Date.now() + limitMs;
      for (;;) {
        const s = await api.status(name);
        if (s.cost !== null && s.phase !== 'canary' && s.phase !== 'compiling' && s.phase !== 'starting') return s;
        if (Date.now() > deadline) throw new Error(`${name}: no cost decision within ${limitMs / 1000} s: ${JSON.stringify(s)}\n${p.output().slice(-3000)}`);
        if (s.phase === 'compiling' || s.phase === 'starting') await sleep(500);
        else for (const r of reqs) await send(api.invokeUrl(name), r);
      }
    }

    // The README lists maze among the handlers slower compiled than in V8, but on this machine the canary has
    // measured Rust cheaper too (Node's figure is its replica's CPU, which also traces the requests it answers
    // until the watchdog's tree is stable), so the decision is checked against the recorded figures, and the
    // `cost` demotion's record when Node wins.
    it('maze (compute-heavy): the canary decides by CPU per request, both engines’ figures recorded; Node keeps it with reason cost when Rust is dearer', async () => {
      const s = await driveUntilDecided('maze', 'maze');
      for (const engine of ['node', 'rust'] as const) {
        expect(s.cost![engine].requests, engine).to.be.at.least(20);
        expect(s.cost![engine].cpuUsPerRequest, engine).to.be.a('number').above(0);
        expect(s.cost![engine].p50Ms, engine).to.be.a('number').above(0);
      }
      const cheaper = s.cost!.rust.cpuUsPerRequest! <= s.cost!.node.cpuUsPerRequest!;
      expect(s.cost!.decision, JSON.stringify(s.cost)).to.equal(cheaper ? 'rust' : 'node');
      console.error(
        `      (maze: Node ${s.cost!.node.cpuUsPerRequest!.toFixed(0)} µs, Rust ${s.cost!.rust.cpuUsPerRequest!.toFixed(0)} µs of CPU per request: ${s.cost!.decision})`,
      );
      const text = await api.metrics();
      if (cheaper) {
        expect(s.engine).to.equal('rust');
        return;
      }
      expect(s.engine).to.equal('node');
      expect(s.dispatcher).to.equal(null);
      const last = s.demotions[s.demotions.length - 1];
      expect(last?.reason).to.equal('cost');
      expect(last?.detail).to.match(/Rust costs more than Node per request/);
      expect(metricValue(text, 'containerless_demotions_total', { function_name: 'maze.openfaas-fn', reason: 'cost' })).to.be.at.least(1);
      expect(metricValue(text, 'containerless_promotions_total', { function_name: 'maze.openfaas-fn' })).to.equal(0);
      expect(text).to.include('containerless_function_engine{function_name="maze.openfaas-fn",engine="node"} 1');
    });

    it('login (one backend call per request, little computing): the same comparison, recorded; promoted when Rust is cheaper', async () => {
      const s = await driveUntilDecided('login', 'login');
      for (const engine of ['node', 'rust'] as const) {
        expect(s.cost![engine].requests, engine).to.be.at.least(20);
        expect(s.cost![engine].cpuUsPerRequest, engine).to.be.a('number').above(0);
      }
      // The decision follows the figures (CPU per request), whichever way this machine measured them.
      const cheaper = s.cost!.rust.cpuUsPerRequest! <= s.cost!.node.cpuUsPerRequest!;
      expect(s.cost!.decision).to.equal(cheaper ? 'rust' : 'node');
      expect(s.engine).to.equal(cheaper ? 'rust' : 'node');
      console.error(
        `      (login: Node ${s.cost!.node.cpuUsPerRequest!.toFixed(0)} µs, Rust ${s.cost!.rust.cpuUsPerRequest!.toFixed(0)} µs of CPU per request: ${s.cost!.decision})`,
      );
    });

    it('label com.containerless.promote "false": many requests, never a compile', async () => {
      const reqs = requestsOf(join(ROOT, 'examples/login'));
      for (let i = 0; i < 8; i++) for (const r of reqs) await send(api.invokeUrl('login-off'), r);
      const s = await api.status('login-off');
      expect(s.promotion).to.equal('opted-out');
      expect(s.phase).to.equal('off');
      expect(s.engine).to.equal('node');
      expect(s.compile).to.equal(null);
      const text = await api.metrics();
      expect(metricValue(text, 'containerless_compiles_total', { function_name: 'login-off.openfaas-fn' })).to.equal(0);
      expect(metricValue(text, 'containerless_function_requests_total', { function_name: 'login-off.openfaas-fn', engine: 'node' })).to.be.at.least(
        8 * reqs.length,
      );
      expect(metricValue(text, 'containerless_function_requests_total', { function_name: 'login-off.openfaas-fn', engine: 'rust' })).to.equal(0);
    });
  });

  describe('promotion=off', () => {
    let p: ProviderProc;
    let api: ProviderApi;
    before(async () => {
      p = await startProvider({ CONTAINERLESS_CACHE: cacheDir(), promotion: 'off', promote_stable_requests: '20' });
      api = new ProviderApi(p);
      await api.deploy('steady', join(ROOT, 'test/fixtures/promotion/steady'));
    });
    after(async () => {
      await p?.stop();
      if (p) await removeDir(p.dir);
    });

    it('many requests, never a compile, every answer from Node', async () => {
      const reqs = requestsOf(join(ROOT, 'test/fixtures/promotion/steady'));
      for (let i = 0; i < 30; i++) for (const r of reqs) await send(api.invokeUrl('steady'), r);
      // Trees would come within a second (trace_publish_interval): give them the time to.
      await sleep(2500);
      for (const r of reqs) await send(api.invokeUrl('steady'), r);
      const s = await api.status('steady');
      expect(s).to.deep.include({ promotion: 'off', engine: 'node', phase: 'off' });
      const text = await api.metrics();
      expect(metricValue(text, 'containerless_compiles_total')).to.equal(0);
      expect(metricValue(text, 'containerless_function_requests_total', { function_name: 'steady.openfaas-fn', engine: 'rust' })).to.equal(0);
      expect(p.output()).to.not.match(/compiling|promoted/);
    });
  });
});
