/**
 * The autoscaler against real replicas: load from concurrent requests on loopback raises replicas up to
 * com.openfaas.scale.max and its end brings them back to com.openfaas.scale.min; scale.zero idles a
 * function to zero but never while a request is in flight. Once with load read from the provider's own
 * registry, once by PromQL from a real Prometheus (Debian's package) scraping the provider.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { FIXTURES, freePort, removeDir, startPrometheus, startProvider, waitFor, type Proc, type ProviderProc } from './harness.ts';

async function replicas(p: ProviderProc, name: string): Promise<{ replicas: number; available: number }> {
  const r = await fetch(`${p.url}/system/function/${name}`, { headers: { authorization: p.auth } });
  const s = (await r.json()) as { replicas?: number; availableReplicas?: number };
  return { replicas: s.replicas ?? 0, available: s.availableReplicas ?? 0 };
}

async function deploy(p: ProviderProc, service: string, labels: Record<string, string>): Promise<void> {
  const r = await fetch(`${p.url}/system/functions`, {
    method: 'POST',
    headers: { authorization: p.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ service, image: join(FIXTURES, 'slow'), labels }),
  });
  expect(r.status).to.equal(202);
}

/** `workers` loops of back-to-back requests to `path` until `stop` is set; resolves with the status counts. */
function load(url: string, workers: number, isDone: () => boolean): Promise<Record<number, number>> {
  const counts: Record<number, number> = {};
  const worker = async (): Promise<void> => {
    while (!isDone()) {
      const r = await fetch(url);
      await r.arrayBuffer();
      counts[r.status] = (counts[r.status] ?? 0) + 1;
    }
  };
  return Promise.all(Array.from({ length: workers }, worker)).then(() => counts);
}

async function scaleUpAndDown(p: ProviderProc, name: string): Promise<{ peak: number; counts: Record<number, number> }> {
  await deploy(p, name, { 'com.openfaas.scale.min': '1', 'com.openfaas.scale.max': '3', 'com.openfaas.scale.target': '1' });
  await waitFor(`${name} ready`, async () => (await replicas(p, name)).available === 1);
  let done = false;
  let peak = 0;
  const running = load(`${p.url}/function/${name}?ms=250`, 4, () => done);
  try {
    await waitFor(
      `${name} to scale up to 3 replicas under a concurrency of 4 with target 1`,
      async () => {
        const r = await replicas(p, name);
        peak = Math.max(peak, r.replicas);
        return r.replicas === 3 && r.available === 3;
      },
      30_000,
      200,
    );
  } finally {
    done = true;
  }
  const counts = await running;
  await waitFor(`${name} to come back to 1 replica when idle`, async () => (await replicas(p, name)).replicas === 1, 30_000, 200);
  return { peak, counts };
}

describe('autoscaler', function () {
  this.timeout(180_000);

  describe('reading its own registry', () => {
    let p: ProviderProc;
    before(async () => {
      p = await startProvider({ scale_interval: '250ms', scale_window: '3s' });
    });
    after(async () => {
      await p?.stop();
      if (p) await removeDir(p.dir);
    });

    it('starts a function at com.openfaas.scale.min replicas', async () => {
      await deploy(p, 'two', { 'com.openfaas.scale.min': '2' });
      expect((await replicas(p, 'two')).replicas).to.equal(2);
      await waitFor('two ready replicas', async () => (await replicas(p, 'two')).available === 2);
    });

    it('scales up to max under load and back to min when idle, with no failed request', async () => {
      const { peak, counts } = await scaleUpAndDown(p, 'busy');
      expect(peak).to.equal(3);
      expect(Object.keys(counts)).to.deep.equal(['200']);
      expect(p.output()).to.match(/autoscaler: busy\.openfaas-fn 1 -> [23] replicas \(concurrency [\d.]+ from registry/);
    });

    it('brings a manual scale back to what load asks for, and says so once', async () => {
      await deploy(p, 'manual', {});
      await waitFor('manual ready', async () => (await replicas(p, 'manual')).available === 1);
      const r = await fetch(`${p.url}/system/scale-function/manual`, {
        method: 'POST',
        headers: { authorization: p.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ serviceName: 'manual', replicas: 3 }),
      });
      expect(r.status).to.equal(202);
      await waitFor('manual back at 1 replica', async () => (await replicas(p, 'manual')).replicas === 1, 15_000, 100);
      const said = p.output().match(/autoscaler: manual\.openfaas-fn: this overrides the manual scale to 3;/g) ?? [];
      expect(said).to.have.length(1);
    });

    it('does not idle a scale.zero function to zero while its first replica is still starting', async () => {
      const r = await fetch(`${p.url}/system/functions`, {
        method: 'POST',
        headers: { authorization: p.auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          service: 'late',
          image: join(FIXTURES, 'slow-start'),
          labels: { 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '1s' },
        }),
      });
      expect(r.status).to.equal(202);
      const seen: number[] = [];
      await waitFor(
        'late to have a ready replica',
        async () => {
          const x = await replicas(p, 'late');
          seen.push(x.replicas);
          return x.available === 1;
        },
        30_000,
        100,
      );
      expect(seen, 'replicas while starting').to.not.include(0);
      // Once ready and idle, the 1 s rule applies.
      await waitFor('late at zero replicas', async () => (await replicas(p, 'late')).replicas === 0, 10_000, 100);
    });

    it('keeps a scale.zero function up while a request is in flight, then idles it to zero', async () => {
      await deploy(p, 'idler', { 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '1s' });
      await waitFor('idler ready', async () => (await replicas(p, 'idler')).available === 1);
      const t = Date.now();
      const inflight = fetch(`${p.url}/function/idler?ms=3000`);
      const during: number[] = [];
      for (const at of [1500, 2500]) {
        await new Promise((res) => setTimeout(res, at - (Date.now() - t)));
        during.push((await replicas(p, 'idler')).replicas);
      }
      expect(during, 'replicas while the request was in flight').to.deep.equal([1, 1]);
      const r = await inflight;
      expect(r.status).to.equal(200);
      expect(await r.text()).to.match(/^slept 3000/);
      expect(Date.now() - t).to.be.at.least(2900);
      await waitFor('idler at zero replicas', async () => (await replicas(p, 'idler')).replicas === 0, 10_000, 100);
      const again = await fetch(`${p.url}/function/idler?ms=1`);
      expect(again.status).to.equal(200);
      await again.arrayBuffer();
    });
  });

  describe('reading Prometheus (PromQL)', () => {
    let p: ProviderProc;
    let prom: Proc & { url: string };
    before(async () => {
      const port = await freePort();
      prom = await startPrometheus([`127.0.0.1:${port}`]);
      p = await startProvider({ port: String(port), prometheus_url: prom.url, scale_interval: '500ms', scale_window: '4s' });
    });
    after(async () => {
      await p?.stop();
      await prom?.stop();
      if (p) await removeDir(p.dir);
    });

    it('scales up to max under load and back to min, on figures from Prometheus', async () => {
      await waitFor('Prometheus to scrape the provider', async () => {
        const r = (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent('up')}`)).json()) as {
          data: { result: { value: [number, string] }[] };
        };
        return r.data.result[0]?.value[1] === '1';
      });
      const { peak, counts } = await scaleUpAndDown(p, 'promscaled');
      expect(peak).to.equal(3);
      expect(Object.keys(counts)).to.deep.equal(['200']);
      expect(p.output()).to.match(/autoscaler: promscaled\.openfaas-fn 1 -> [23] replicas \(concurrency [\d.]+ from prometheus/);
    });
  });
});
