/**
 * Trees through JetStream, end to end: a provider with `nats_url` (a real nats-server with JetStream on
 * loopback) runs a function with two watchdog replicas, which publish their trees to
 * `containerless.traces.openfaas-fn.<fn>`; the provider's durable consumer merges both replicas' trees into
 * the function's tree, and a restarted provider (same state_dir, same stream) still has the merged tree
 * before any new request is traced.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readRequests, toHttpRequest } from '../../../harness/index.ts';
import { cacheDir } from '../../../lib/index.ts';
import { startNats, type Nats } from '../watchdog/harness.ts';
import { metricValue, removeDir, ROOT, send, startProvider, ProviderApi, type PromotionStatus, type ProviderProc } from './harness.ts';

const STEADY = join(ROOT, 'test/fixtures/promotion/steady');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('promotion: trees of two replicas merge through JetStream', function () {
  this.timeout(300_000);
  let nats: Nats;
  let p: ProviderProc | undefined;
  let api: ProviderApi;
  // Never compiles: this test is about the trees.
  let env: Record<string, string>;
  const requests = readRequests(join(STEADY, 'requests.jsonl')).map((r) => toHttpRequest(r));

  before(async () => {
    nats = await startNats();
    env = { CONTAINERLESS_CACHE: cacheDir(), nats_url: nats.url, promote_stable_requests: '1000000' };
  });
  after(async () => {
    await p?.stop();
    if (p) await removeDir(p.dir);
    await nats?.stop();
    nats?.remove();
  });

  async function until(what: string, ok: (s: PromotionStatus) => boolean, ms = 60_000): Promise<PromotionStatus> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await api.status('steady');
      if (ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s: ${JSON.stringify(s.trace)}\n${p!.output().slice(-3000)}`);
      await sleep(200);
    }
  }

  it('merges the trees of both replicas, and a restarted provider keeps the merged tree', async () => {
    p = await startProvider(env);
    api = new ProviderApi(p);
    await api.deploy('steady', STEADY, { labels: { 'com.openfaas.scale.min': '2' } });
    // Both replicas ready, then 30 rounds of the requests spread over them (the proxy takes the replica with
    // the fewest requests in flight, round-robin on ties). Every request is traced: each replica is far
    // from its own stability point (100 traced requests in a row).
    const deadline = Date.now() + 60_000;
    while ((await (await api.api('/system/function/steady')).json()).availableReplicas !== 2) {
      if (Date.now() > deadline) throw new Error(`two replicas not ready: ${p.output().slice(-2000)}`);
      await sleep(200);
    }
    let sent = 0;
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        requests.map(async (r) => {
          const a = await send(api.invokeUrl('steady'), r);
          expect(a.status, a.body).to.be.below(500);
          sent++;
        }),
      );
    }
    // Each replica sends its cumulative tree at once when it grows and every second when it traced more.
    const merged = await until(
      'both replicas merged, every request counted',
      (s) => (s as PromotionStatus & { trace: { replicas: number } }).trace.replicas === 2 && s.trace.requests === sent,
    );
    expect(merged.trace.size).to.be.greaterThan(0);
    const text = await api.metrics();
    expect(metricValue(text, 'containerless_traces_received_total', { function_name: 'steady.openfaas-fn', transport: 'nats' })).to.be.greaterThan(1);
    expect(metricValue(text, 'containerless_traces_received_total', { function_name: 'steady.openfaas-fn', transport: 'loopback' })).to.equal(0);

    // Restart: the same state_dir and stream. The tree is there before anything is traced again.
    const dir = p.dir;
    await p.stop();
    p = await startProvider(env, dir);
    api = new ProviderApi(p);
    const after = await api.status('steady');
    expect(after.trace.requests, 'traced requests kept').to.equal(sent);
    expect(after.trace.size, 'the merged tree kept').to.equal(merged.trace.size);
    expect((after as PromotionStatus & { trace: { replicas: number } }).trace.replicas).to.equal(2);
    // The consumer resumed where it was: nothing already merged is counted twice.
    await sleep(2000);
    expect((await api.status('steady')).trace.requests).to.equal(sent);
  });
});
