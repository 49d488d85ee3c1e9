/**
 * TracingController: which requests go through the instrumented handler (sampling), and when the tree counts
 * as grown or stable. Requests go to the runner app on 127.0.0.1.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createRunnerApp } from '../../../watchdog/runner.ts';
import { TracingController } from '../../../watchdog/tracing.ts';
import { createWatchdogMetrics } from '../../../watchdog/metrics.ts';
import { validateTrace } from '../../../trace/index.ts';

const DIR = fileURLToPath(new URL('../../fixtures/watchdog/branchy/', import.meta.url));
const COUNTER = fileURLToPath(new URL('../../fixtures/watchdog/counter/', import.meta.url));

async function serve(tc: TracingController): Promise<{ server: Server; get: (q: string, headers?: Record<string, string>) => Promise<string> }> {
  const server = createRunnerApp({ handler: tc.handler, choose: tc.choose, env: {} }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    get: async (q, headers = {}) => {
      const r = await fetch(`http://127.0.0.1:${port}/run?${q}`, { headers });
      const text = await r.text();
      await new Promise((r) => setImmediate(r));
      return text;
    },
  };
}

describe('TracingController', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('traces every request until stableAfter traced requests add nothing, then only new shapes and the sample', async () => {
    const metrics = createWatchdogMetrics({ defaultMetrics: false });
    const tc = new TracingController({
      dir: DIR,
      functionName: 'branchy',
      config: { mode: 'sample', sample: 0.5, stableAfter: 3 },
      metrics,
      random: () => 0.9,
    });
    const s = await serve(tc);
    server = s.server;
    expect(tc.enabled).to.equal(true);
    await s.get('kind=a');
    expect(tc.tracer!.requests).to.equal(1);
    expect(tc.dirty).to.equal(true);
    for (let i = 0; i < 3; i++) await s.get('kind=a');
    expect(tc.tracer!.requests).to.equal(4);
    expect(tc.stable).to.equal(true);
    // Stable, same shape, random 0.9 >= 0.5: not traced.
    await s.get('kind=a');
    await s.get('kind=b');
    expect(tc.tracer!.requests).to.equal(4);
    // A new shape (another media type) is always traced; here it also takes a new path and grows the tree.
    await s.get('kind=b', { 'content-type': 'application/json' });
    expect(tc.tracer!.requests).to.equal(5);
    expect(tc.stable).to.equal(false);
    const m = await metrics.registry.metrics();
    expect(m).to.match(/^containerless_traced_requests_total 5$/m);
    expect(m).to.match(/^containerless_trace_growth_total 2$/m);
    expect(m).to.match(/^containerless_trace_stable 0$/m);
  });

  it('samples with the given share once stable', async () => {
    let next = 0.1;
    const tc = new TracingController({ dir: DIR, functionName: 'branchy', config: { mode: 'sample', sample: 0.25, stableAfter: 1 }, random: () => next });
    const s = await serve(tc);
    server = s.server;
    await s.get('kind=a');
    await s.get('kind=a');
    expect(tc.stable).to.equal(true);
    const before = tc.tracer!.requests;
    await s.get('kind=a'); // 0.1 < 0.25: traced
    next = 0.3;
    await s.get('kind=a'); // not traced
    expect(tc.tracer!.requests).to.equal(before + 1);
  });

  it('gives a valid, versioned trace IR whose requests count every traced request; snapshot clears dirty', async () => {
    const changes: number[] = [];
    const tc = new TracingController({ dir: DIR, functionName: 'branchy', config: { mode: 'always', sample: 0, stableAfter: 1 } });
    tc.onChange(() => changes.push(tc.tracer!.requests));
    const s = await serve(tc);
    server = s.server;
    for (const q of ['kind=a', 'kind=b', 'kind=a', 'kind=zzz']) await s.get(q);
    const t = tc.snapshot()!;
    expect(validateTrace(t)).to.equal(null);
    expect(t.format).to.equal('containerless-trace');
    expect(t.version).to.equal(1);
    expect(t.function).to.equal('branchy');
    expect(t.requests).to.equal(4);
    expect(tc.dirty).to.equal(false);
    expect(changes.length).to.be.greaterThan(0);
  });

  it('serves traced and untraced requests from one module instance, recording only the traced ones', async () => {
    let flip = 0;
    const tc = new TracingController({
      dir: COUNTER,
      functionName: 'counter',
      config: { mode: 'sample', sample: 0.5, stableAfter: 1 },
      random: () => (flip++ % 2 ? 0.9 : 0.1),
    });
    const s = await serve(tc);
    server = s.server;
    const ns: number[] = [];
    for (let i = 0; i < 10; i++) ns.push((JSON.parse(await s.get('kind=a')) as { count: number }).count);
    expect(ns).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The first two are traced (a new shape, then not yet stable); of the other eight, every second one.
    expect(tc.tracer!.requests).to.equal(6);
  });

  it('traces nothing with mode off, and serves with the plain handler', async () => {
    const tc = new TracingController({ dir: DIR, functionName: 'branchy', config: { mode: 'off', sample: 1, stableAfter: 1 } });
    const s = await serve(tc);
    server = s.server;
    expect(await s.get('kind=a')).to.equal('{"kind":"a","n":1}');
    expect(tc.enabled).to.equal(false);
    expect(tc.snapshot()).to.equal(undefined);
  });

  describe('requests marked X-Containerless-Retry', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });
    /** A handler that answers with the request headers it sees and the raw header names. */
    const echoHeaders = (): string => {
      dir = mkdtempSync(join(tmpdir(), 'cl-retry-'));
      writeFileSync(
        join(dir, 'handler.js'),
        "'use strict'\nmodule.exports = async (event) => ({ kind: event.query.kind === 'a' ? 'a' : 'other', headers: event.headers })\n",
      );
      return dir;
    };

    it('are traced whatever the sampling says once the tree is stable, counted, and the handler never sees the header', async () => {
      const metrics = createWatchdogMetrics({ defaultMetrics: false });
      const tc = new TracingController({
        dir: echoHeaders(),
        functionName: 'echo',
        config: { mode: 'sample', sample: 0, stableAfter: 2 },
        metrics,
        random: () => 0.99,
      });
      const s = await serve(tc);
      server = s.server;
      for (let i = 0; i < 3; i++) await s.get('kind=a');
      expect(tc.stable).to.equal(true);
      const before = tc.tracer!.requests;
      await s.get('kind=a');
      expect(tc.tracer!.requests, 'stable, sample 0: not traced').to.equal(before);
      const answer = JSON.parse(await s.get('kind=a', { 'X-Containerless-Retry': 'type-guard', 'x-other': '1' })) as { headers: Record<string, string> };
      expect(tc.tracer!.requests, 'a retry-marked request is traced').to.equal(before + 1);
      expect(answer.headers).to.not.have.property('x-containerless-retry');
      expect(answer.headers['x-other']).to.equal('1');
      // A new path taken by a retry-marked request grows the tree (the point of tracing it).
      await s.get('kind=b', { 'x-containerless-retry': 'unknown' });
      expect(tc.tracer!.requests).to.equal(before + 2);
      expect(tc.stable).to.equal(false);
      const m = await metrics.registry.metrics();
      expect(m).to.match(/^containerless_trace_retries_total 2$/m);
    });

    it('are counted but not traced with mode off, and the header is removed there too', async () => {
      const metrics = createWatchdogMetrics({ defaultMetrics: false });
      const tc = new TracingController({ dir: echoHeaders(), functionName: 'echo', config: { mode: 'off', sample: 1, stableAfter: 1 }, metrics });
      const s = await serve(tc);
      server = s.server;
      const answer = JSON.parse(await s.get('kind=a', { 'x-containerless-retry': 'unknown' })) as { headers: Record<string, string> };
      expect(answer.headers).to.not.have.property('x-containerless-retry');
      expect(tc.enabled).to.equal(false);
      expect(await metrics.registry.metrics()).to.match(/^containerless_trace_retries_total 1$/m);
    });
  });
});
