/**
 * LoopbackPublisher against a real HTTP server on 127.0.0.1 that stands in for the provider's trace intake
 * (the other side of the contract in provider/promotion/types.ts: POST, bearer token, the replica,
 * deployment and sequence headers; 202, 4xx refusals, 409 for an older deployment). Each answer the stand-in
 * gives is scripted per test.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { LoopbackPublisher } from '../../../watchdog/loopback-publisher.ts';
import { createWatchdogMetrics } from '../../../watchdog/metrics.ts';
import type { TraceIR } from '../../../trace/index.ts';
import { waitFor } from '../../../lib/index.ts';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: { requests: number };
  url: string;
}

/** A tree-shaped body; the publisher only serialises it. */
const tree = (requests: number): TraceIR => ({ format: 'containerless-trace', version: 1, function: 'f', requests }) as unknown as TraceIR;

describe('LoopbackPublisher', function () {
  this.timeout(20_000);
  let server: http.Server | undefined;
  let pub: LoopbackPublisher | undefined;
  const got: Received[] = [];
  /** The status of the next answers, in order; 202 once exhausted. `hang` never answers. */
  let script: (number | 'hang')[] = [];

  beforeEach(async () => {
    got.length = 0;
    script = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as { requests: number }, url: req.url ?? '' });
        const next = script.shift() ?? 202;
        if (next === 'hang') return;
        res.writeHead(next, { 'content-type': 'text/plain' }).end(next === 202 ? '' : `answer ${next}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterEach(async () => {
    await pub?.close();
    pub = undefined;
    server?.closeAllConnections();
    server?.close();
  });

  const start = (
    extra: Partial<ConstructorParameters<typeof LoopbackPublisher>[0]> = {},
  ): { logs: string[]; metrics: ReturnType<typeof createWatchdogMetrics> } => {
    const logs: string[] = [];
    const metrics = createWatchdogMetrics({ defaultMetrics: false });
    const url = extra.url ?? `http://127.0.0.1:${(server!.address() as AddressInfo).port}/_/containerless/traces/openfaas-fn/f`;
    pub = new LoopbackPublisher({
      url,
      token: 'sekret',
      replica: 'r-1',
      deployment: 'dep-7',
      timeoutMs: 500,
      backoffMs: 20,
      maxBackoffMs: 100,
      metrics,
      log: (l) => logs.push(l),
      ...extra,
    });
    pub.start();
    return { logs, metrics };
  };

  it('POSTs the tree with the token, replica, deployment and a rising sequence', async () => {
    start();
    pub!.offer(tree(1));
    await waitFor('the first tree', async () => (got.length === 1 ? true : undefined), 5000, 10);
    pub!.offer(tree(2));
    expect(await pub!.flush(5000)).to.equal(true);
    expect(got.map((g) => g.body.requests)).to.deep.equal([1, 2]);
    const h = got[1].headers;
    expect(got[1].url).to.equal('/_/containerless/traces/openfaas-fn/f');
    expect(h.authorization).to.equal('Bearer sekret');
    expect(h['content-type']).to.equal('application/json');
    expect(h['containerless-replica']).to.equal('r-1');
    expect(h['containerless-deployment']).to.equal('dep-7');
    expect(Number(got[1].headers['containerless-trace-seq'])).to.be.greaterThan(Number(got[0].headers['containerless-trace-seq']));
    expect(pub!.published).to.equal(2);
  });

  it('retries a 500 and a hung POST (timeout) with back-off, then sends the newest tree, losing nothing', async () => {
    const { logs, metrics } = start();
    script = [500, 'hang', 503];
    pub!.offer(tree(1));
    await waitFor('the first failure', async () => (got.length >= 1 ? true : undefined), 5000, 10);
    pub!.offer(tree(2));
    expect(await pub!.flush(10_000)).to.equal(true);
    // The last POST to succeed carried the newest tree, which holds everything the older one did.
    expect(got[got.length - 1].body.requests).to.equal(2);
    expect(got.length).to.be.greaterThanOrEqual(4);
    expect(pub!.isConnected).to.equal(true);
    expect(await metrics.registry.metrics()).to.match(/^containerless_trace_publish_errors_total 3$/m);
    // One line for the failure streak and one for the recovery, not one per attempt.
    expect(logs.filter((l) => l.includes('failed')).length).to.equal(1);
    expect(logs.some((l) => l.includes('again'))).to.equal(true);
    expect(logs.join('\n')).to.not.include('sekret');
  });

  it('drops a tree the intake refuses (400), logs each status once, and goes on with the next', async () => {
    const { logs, metrics } = start();
    script = [400, 400];
    pub!.offer(tree(1));
    await waitFor('the first refusal', async () => (got.length === 1 && pub!.buffered === 0 ? true : undefined), 5000, 10);
    pub!.offer(tree(2));
    await waitFor('the second refusal', async () => (got.length === 2 && pub!.buffered === 0 ? true : undefined), 5000, 10);
    pub!.offer(tree(3));
    expect(await pub!.flush(5000)).to.equal(true);
    expect(got.map((g) => g.body.requests)).to.deep.equal([1, 2, 3]);
    expect(logs.filter((l) => l.includes('refused')).length).to.equal(1);
    expect(await metrics.registry.metrics()).to.match(/^containerless_trace_dropped_total 2$/m);
  });

  it('stops posting for good after a 409 (an older deployment)', async () => {
    // A timeout long enough that a slow answer on a loaded machine is never taken for a lost POST (which
    // the publisher rightly retries): this test is about what follows a 409.
    const { logs } = start({ timeoutMs: 5000 });
    script = [409];
    pub!.offer(tree(1));
    await waitFor('the 409', async () => (pub!.stopped ? true : undefined), 5000, 10);
    pub!.offer(tree(2));
    pub!.offer(tree(3));
    await new Promise((r) => setTimeout(r, 300));
    expect(got.length, `trees received: ${JSON.stringify(got.map((g) => g.body.requests))}; log: ${logs.join(' | ')}`).to.equal(1);
    expect(pub!.buffered).to.equal(0);
    expect(pub!.isConnected).to.equal(false);
    expect(logs.filter((l) => l.includes('409')).length).to.equal(1);
  });

  it('keeps retrying while the intake is down and delivers once it listens again', async () => {
    const port = (server!.address() as AddressInfo).port;
    server!.close();
    await once(server!, 'close');
    start({ url: `http://127.0.0.1:${port}/in` });
    pub!.offer(tree(5));
    await new Promise((r) => setTimeout(r, 300));
    expect(pub!.isConnected).to.equal(false);
    expect(pub!.buffered).to.equal(1);
    server!.listen(port, '127.0.0.1');
    await once(server!, 'listening');
    expect(await pub!.flush(5000)).to.equal(true);
    expect(got.map((g) => g.body.requests)).to.deep.equal([5]);
  });

  it('sends no Authorization header without a token', async () => {
    start({ token: undefined, deployment: undefined });
    pub!.offer(tree(1));
    expect(await pub!.flush(5000)).to.equal(true);
    expect(got[0].headers).to.not.have.property('authorization');
    expect(got[0].headers['containerless-deployment']).to.equal('');
  });
});
