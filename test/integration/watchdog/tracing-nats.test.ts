/**
 * The watchdog publishing trace trees to a real nats-server with JetStream (installed by .ci/setup-nats.sh,
 * started here on a free loopback port with a temporary store, stopped by PID). NATS down at start, NATS
 * restarted mid-way, and a full buffer are caused for real by stopping and starting the server.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { validateTrace, type TraceIR } from '../../../trace/index.ts';
import { waitFor as waitUntil } from '../../../lib/index.ts';
import {
  TRACE_STREAM_DUPLICATE_WINDOW_MS,
  TRACE_STREAM_MAX_AGE_MS,
  TRACE_STREAM_MAX_BYTES,
  TRACE_STREAM_MAX_MSGS_PER_SUBJECT,
  TRACE_SUBJECTS,
} from '../../../watchdog/index.ts';
import { ROOT, freePort, send, sleep, startNats, startOurs, type Nats, type Served } from './harness.ts';

const FN = join(ROOT, 'test/fixtures/watchdog/branchy');
const STREAM = 'CONTAINERLESS_TRACES';

interface Seen {
  trace: TraceIR;
  replica: string | undefined;
  deployment: string | undefined;
  seq: number;
}

async function lastTrace(jsm: JetStreamManager, subject: string): Promise<Seen | undefined> {
  try {
    const m = await jsm.streams.getMessage(STREAM, { last_by_subj: subject });
    if (!m) return undefined;
    return { trace: m.json<TraceIR>(), replica: m.header?.get('Containerless-Replica'), deployment: m.header?.get('Containerless-Deployment'), seq: m.seq };
  } catch {
    return undefined;
  }
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => waitUntil(what, probe, 20_000, 50);

async function metric(w: Served, name: string): Promise<number> {
  const text = (await send(w.metricsPort, { path: '/metrics' })).body.toString();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} missing`);
  return Number(m[1]);
}

/** Sends a request and returns its latency in ms; it must succeed. */
async function timed(w: Served, path: string): Promise<number> {
  const t0 = Date.now();
  const a = await send(w.port, { path });
  expect(a.status, `${path}: ${a.body.toString()}`).to.be.oneOf([200, 400]);
  return Date.now() - t0;
}

describe('watchdog tracing to NATS JetStream', function () {
  this.timeout(120_000);
  let nats: Nats | undefined;
  let nc: NatsConnection | undefined;
  let w: Served | undefined;

  afterEach(async () => {
    await w?.stop();
    w = undefined;
    await nc?.close().catch(() => {});
    nc = undefined;
    await nats?.stop();
    nats?.remove();
    nats = undefined;
  });

  async function client(n: Nats): Promise<JetStreamManager> {
    nc = await connect({ servers: n.url });
    return jetstreamManager(nc);
  }

  it('publishes the merged tree on containerless.traces.<namespace>.<function> when it grows, as valid trace IR', async () => {
    nats = await startNats();
    w = await startOurs(FN, {
      nats_url: nats.url,
      OPENFAAS_NAME: 'branchy',
      OPENFAAS_NAMESPACE: 'team-a',
      CONTAINERLESS_DEPLOYMENT: 'dep-42',
      trace_mode: 'always',
      trace_publish_interval: '0',
    });
    const jsm = await client(nats);
    const subject = 'containerless.traces.team-a.branchy';
    await timed(w, '/?kind=a');
    await timed(w, '/?kind=b');
    const seen = await waitFor('a tree of 2 requests', async () => {
      const s = await lastTrace(jsm, subject);
      return s && s.trace.requests === 2 ? s : undefined;
    });
    expect(validateTrace(seen.trace)).to.equal(null);
    expect([seen.trace.format, seen.trace.version, seen.trace.function]).to.deep.equal(['containerless-trace', 1, 'branchy']);
    expect(seen.replica).to.match(/-\d+$/);
    expect(seen.deployment).to.equal('dep-42');
    // The same path again adds nothing: no new message.
    const count = (await jsm.streams.info(STREAM)).state.messages;
    await timed(w, '/?kind=a');
    await sleep(500);
    expect((await jsm.streams.info(STREAM)).state.messages).to.equal(count);
    expect(await metric(w, 'containerless_nats_connected')).to.equal(1);
    expect(await metric(w, 'containerless_trace_published_total')).to.equal(count);
  });

  it('publishes the tree within trace_publish_interval when requests were traced without growing it, and nothing while idle', async () => {
    nats = await startNats();
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'periodic', trace_mode: 'always', trace_publish_interval: '300ms' });
    const jsm = await client(nats);
    const subject = 'containerless.traces.openfaas-fn.periodic';
    await timed(w, '/?kind=a');
    await waitFor('the first tree', async () => ((await lastTrace(jsm, subject))?.trace.requests === 1 ? true : undefined));
    // Known paths: the tree does not grow, its count does, and the count goes out within the interval.
    await timed(w, '/?kind=a');
    await timed(w, '/?kind=a');
    const t0 = Date.now();
    const seen = await waitFor('the count of 3', async () => {
      const s = await lastTrace(jsm, subject);
      return s && s.trace.requests === 3 ? s : undefined;
    });
    expect(Date.now() - t0).to.be.lessThan(2000);
    expect(validateTrace(seen.trace)).to.equal(null);
    // Idle: no request traced, nothing sent again (the keep-alive is 10 minutes).
    const n = (await jsm.streams.info(STREAM)).state.messages;
    await sleep(1200);
    expect((await jsm.streams.info(STREAM)).state.messages).to.equal(n);
  });

  it('sends an unchanged tree again every trace_keepalive_interval', async () => {
    nats = await startNats();
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'keepalive', trace_publish_interval: '100ms', trace_keepalive_interval: '300ms' });
    const jsm = await client(nats);
    await timed(w, '/?kind=a');
    await sleep(1500);
    expect((await jsm.streams.info(STREAM)).state.messages).to.be.greaterThanOrEqual(4);
    expect((await lastTrace(jsm, 'containerless.traces.openfaas-fn.keepalive'))?.trace.requests).to.equal(1);
  });

  it('creates the stream with its retention limits, and gives them to a stream that has none', async () => {
    nats = await startNats();
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'limits', trace_mode: 'always', trace_publish_interval: '0' });
    const jsm = await client(nats);
    await timed(w, '/?kind=a');
    await waitFor('the tree', () => lastTrace(jsm, 'containerless.traces.openfaas-fn.limits'));
    const expectLimits = async (): Promise<void> => {
      const c = (await jsm.streams.info(STREAM)).config;
      expect(c.subjects).to.deep.equal([TRACE_SUBJECTS]);
      expect(c.max_age).to.equal(TRACE_STREAM_MAX_AGE_MS * 1e6);
      expect(c.max_age).to.equal(7 * 24 * 3600 * 1e9);
      expect(c.max_msgs_per_subject).to.equal(TRACE_STREAM_MAX_MSGS_PER_SUBJECT);
      expect(c.max_bytes).to.equal(TRACE_STREAM_MAX_BYTES);
      expect(c.discard).to.equal('old');
      expect(c.duplicate_window).to.equal(TRACE_STREAM_DUPLICATE_WINDOW_MS * 1e6);
      expect(c.duplicate_window).to.equal(120e9);
    };
    await expectLimits();
    await w.stop();
    w = undefined;

    // A stream as earlier versions made it (no limit at all) is given the limits by the next replica.
    await jsm.streams.delete(STREAM);
    await jsm.streams.add({ name: STREAM, subjects: [TRACE_SUBJECTS] });
    expect((await jsm.streams.info(STREAM)).config.max_msgs_per_subject).to.equal(-1);
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'limits', trace_mode: 'always', trace_publish_interval: '0' });
    await timed(w, '/?kind=b');
    await waitFor('the second tree', async () => ((await lastTrace(jsm, 'containerless.traces.openfaas-fn.limits'))?.trace.requests === 1 ? true : undefined));
    await expectLimits();

    // An operator's own limits are left as they are.
    await w.stop();
    w = undefined;
    await jsm.streams.update(STREAM, { max_msgs_per_subject: 5, max_age: 0, max_bytes: -1 });
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'limits', trace_mode: 'always', trace_publish_interval: '0' });
    await timed(w, '/?kind=a');
    await waitFor('the third tree', async () => ((await metric(w!, 'containerless_trace_published_total')) === 1 ? true : undefined));
    expect((await jsm.streams.info(STREAM)).config.max_msgs_per_subject).to.equal(5);
  });

  it('keeps at most TRACE_STREAM_MAX_MSGS_PER_SUBJECT trees per function', async () => {
    nats = await startNats();
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'many', trace_mode: 'always', trace_publish_interval: '20ms' });
    const jsm = await client(nats);
    const published = async (): Promise<number> => metric(w!, 'containerless_trace_published_total');
    // Each request moves the count: one tree per interval; more than the limit in all.
    for (let i = 0; i < TRACE_STREAM_MAX_MSGS_PER_SUBJECT + 16; i++) {
      await timed(w, '/?kind=a');
      await waitFor(`tree ${i + 1}`, async () => ((await published()) >= i + 1 ? true : undefined));
    }
    expect(await published()).to.be.greaterThan(TRACE_STREAM_MAX_MSGS_PER_SUBJECT);
    expect((await jsm.streams.info(STREAM)).state.messages).to.equal(TRACE_STREAM_MAX_MSGS_PER_SUBJECT);
  });

  it('serves requests at full speed while NATS is down, counts dropped trees, and publishes once NATS comes up', async () => {
    const port = await freePort();
    w = await startOurs(FN, {
      nats_url: `nats://127.0.0.1:${port}`,
      OPENFAAS_NAME: 'late',
      trace_mode: 'always',
      trace_buffer: '1',
      trace_publish_interval: '0',
    });
    const latencies: number[] = [];
    for (const q of ['kind=a', 'kind=b', 'kind=c', 'kind=a', 'kind=b']) {
      latencies.push(await timed(w, `/?${q}`));
      await sleep(20);
    }
    expect(Math.max(...latencies), `latencies ${latencies.join(', ')} ms`).to.be.lessThan(250);
    expect(await metric(w, 'containerless_nats_connected')).to.equal(0);
    const dropped = await metric(w, 'containerless_trace_dropped_total');
    expect(dropped).to.be.greaterThanOrEqual(1);
    expect(await metric(w, 'containerless_trace_buffered')).to.equal(1);

    nats = await startNats(port);
    const jsm = await client(nats);
    // The one tree left in the buffer is the newest: the tree as of the last request that grew it (the third;
    // the last two took known paths), so it holds every path traced.
    const seen = await waitFor('the buffered tree', () => lastTrace(jsm, 'containerless.traces.openfaas-fn.late'));
    expect(seen.trace.requests).to.equal(3);
    expect((await jsm.streams.info(STREAM)).state.messages).to.equal(1);
    expect(await metric(w, 'containerless_nats_connected')).to.equal(1);
    expect(await metric(w, 'containerless_trace_buffered')).to.equal(0);
  });

  it('keeps trees traced while NATS restarts and publishes them after it is back, losing none', async () => {
    nats = await startNats();
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'restart', trace_mode: 'always', trace_publish_interval: '0' });
    const jsm1 = await client(nats);
    const subject = 'containerless.traces.openfaas-fn.restart';
    await timed(w, '/?kind=a');
    await waitFor('the first tree', async () => ((await lastTrace(jsm1, subject))?.trace.requests === 1 ? true : undefined));
    await nc!.close();
    nc = undefined;

    await nats.stop();
    await waitFor('the watchdog to notice', async () => ((await metric(w!, 'containerless_nats_connected')) === 0 ? true : undefined));
    const latencies = [await timed(w, '/?kind=b'), await timed(w, '/?kind=zzz')];
    expect(Math.max(...latencies)).to.be.lessThan(250);
    await nats.start();

    const jsm2 = await client(nats);
    const seen = await waitFor('the trees traced while NATS was down', async () => {
      const s = await lastTrace(jsm2, subject);
      return s && s.trace.requests === 3 ? s : undefined;
    });
    expect(validateTrace(seen.trace)).to.equal(null);
    expect(await metric(w, 'containerless_trace_dropped_total')).to.equal(0);
    // Every published tree is in the stream, the one from before the restart included (JetStream's file store).
    const published = await metric(w, 'containerless_trace_published_total');
    expect((await jsm2.streams.info(STREAM)).state.messages).to.equal(published);
  });

  it('publishes the last tree on SIGTERM', async () => {
    nats = await startNats();
    w = await startOurs(FN, { nats_url: nats.url, OPENFAAS_NAME: 'bye', trace_mode: 'always', trace_publish_interval: '0' });
    const jsm = await client(nats);
    await waitFor('the connection', async () => ((await metric(w!, 'containerless_nats_connected')) === 1 ? true : undefined));
    await Promise.all([timed(w, '/?kind=a'), timed(w, '/?kind=b'), timed(w, '/?kind=q')]);
    const exit = await w.stop();
    w = undefined;
    expect(exit.code).to.equal(0);
    const last = await lastTrace(jsm, 'containerless.traces.openfaas-fn.bye');
    expect(last?.trace.requests).to.equal(3);
  });
});
