/**
 * The JetStream trace intake (provider/promotion/nats-intake.ts) against a real nats-server (installed by
 * .ci/setup-nats.sh, started on a free loopback port, stopped by PID), fed by the watchdog's own
 * TracePublisher: two replicas' trees merge, a restarted provider keeps the merged tree and goes on from its
 * durable consumer, a tree of another deployment is refused and counted.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Registry } from 'prom-client';
import { generateRust } from '../../../compiler/index.ts';
import { waitFor as waitUntil } from '../../../lib/index.ts';
import { prepare, Tracer, type TraceIR } from '../../../trace/index.ts';
import { TracePublisher, type PublisherOptions } from '../../../watchdog/publisher.ts';
import { TraceIntakeMetrics } from '../../../provider/promotion/intake.ts';
import { DEFAULT_DURABLE, DEFAULT_TRACE_STREAM, NatsTraceIntake } from '../../../provider/promotion/nats-intake.ts';
import { TreeStore } from '../../../provider/promotion/trees.ts';
import { freePort, ROOT, sleep, startNats, type Nats } from '../watchdog/harness.ts';

const FN = { name: 'branchy', namespace: 'team-a' };
const SUBJECT = 'containerless.traces.team-a.branchy';

/** One replica of branchy tracing in-process: `send(...kinds)` returns its cumulative tree. */
class Replica {
  private readonly tracer: Tracer;
  private readonly handler: (event: unknown, context: unknown) => Promise<unknown>;
  constructor() {
    const p = prepare(readFileSync(join(ROOT, 'test/fixtures/watchdog/branchy/handler.js'), 'utf8'), 'handler.js');
    this.tracer = new Tracer(p, 'branchy');
    const mod: { exports: any } = { exports: {} };
    new Function('module', 'exports', 'require', '__cl', p.instrumented)(mod, mod.exports, () => ({}), this.tracer.runtime);
    this.handler = mod.exports;
  }
  async send(...kinds: string[]): Promise<TraceIR> {
    const context: Record<string, any> = {};
    context.status = () => context;
    context.succeed = (v: unknown) => v;
    for (const kind of kinds) await this.tracer.run(() => this.handler({ query: { kind } }, context));
    return this.tracer.trace();
  }
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> => waitUntil(what, async () => probe(), 20_000, 25);

describe('NatsTraceIntake (JetStream durable consumer)', function () {
  this.timeout(120_000);
  let nats: Nats | undefined;
  let dir: string;
  let nc: NatsConnection | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  const logs: string[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cl-nats-intake-'));
    logs.length = 0;
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
    await nc?.close().catch(() => {});
    nc = undefined;
    await nats?.stop();
    nats?.remove();
    nats = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function publisher(url: string, replica: string, deployment: string): TracePublisher {
    // `deployment` is sent as Containerless-Deployment.
    const opts: PublisherOptions & { deployment: string } = {
      servers: url,
      subject: SUBJECT,
      stream: DEFAULT_TRACE_STREAM,
      bufferSize: 16,
      publishTimeoutMs: 5000,
      replica,
      deployment,
      reconnectWaitMs: 100,
    };
    const p = new TracePublisher(opts);
    p.start();
    closers.push(() => p.close());
    return p;
  }

  function provider(url: string, registry = new Registry()): { store: TreeStore; intake: NatsTraceIntake; registry: Registry; stop: () => Promise<void> } {
    const store = new TreeStore({ stateDir: dir, debounceMs: 100, log: (l) => logs.push(l) });
    const intake = new NatsTraceIntake({
      servers: url,
      onTree: (msg, bytes) => store.accept(msg, bytes),
      persist: () => store.flush(),
      ackBatchMs: 100,
      metrics: new TraceIntakeMetrics(registry),
      reconnectWaitMs: 100,
      log: (l) => logs.push(l),
    });
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      await intake.close();
      await store.close();
    };
    closers.push(stop);
    return { store, intake, registry, stop };
  }

  const metric = async (registry: Registry, name: string, labels: string): Promise<number> => {
    const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(await registry.metrics());
    return m ? Number(m[1]) : 0;
  };

  it('merges two replicas’ trees, refuses another deployment’s, and a restarted provider keeps the tree and resumes', async () => {
    nats = await startNats();
    const p1 = provider(nats.url);
    await p1.store.loadAll();
    p1.store.ensure(FN, 'd1');
    p1.intake.start();

    const r1 = new Replica();
    const r2 = new Replica();
    const host1 = publisher(nats.url, 'host-1', 'd1');
    const host2 = publisher(nats.url, 'host-2', 'd1');
    host1.offer(await r1.send('a'));
    host1.offer(await r1.send('a'));
    host2.offer(await r2.send('b'));
    const t1 = await waitFor('both replicas merged', () => {
      const t = p1.store.get(FN);
      return t && t.tracedRequests === 3 ? t : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}; tracedRequests ${p1.store.get(FN)?.tracedRequests}, handled ${p1.intake.handled}, log:\n${logs.join('\n')}`);
    });
    expect(t1.replicaNames.sort()).to.deep.equal(['host-1', 'host-2']);
    // The merged tree has both replicas' paths: it compiles as one replica that saw both does.
    const both = await new Replica().send('a', 'b');
    expect(JSON.stringify(generateRust(t1.trace!, { name: 'branchy' }))).to.equal(JSON.stringify(generateRust(both, { name: 'branchy' })));
    expect(await metric(p1.registry, 'containerless_traces_received_total', 'function_name="branchy.team-a",transport="nats"')).to.equal(3);

    // A replica of an older deployment: refused, counted, acknowledged, not merged.
    const old = publisher(nats.url, 'old-1', 'd0');
    old.offer(await new Replica().send('zzz'));
    await waitFor('the refusal', async () =>
      (await metric(p1.registry, 'containerless_traces_refused_total', 'function_name="branchy.team-a",reason="deployment"')) === 1 ? true : undefined,
    );
    expect(t1.tracedRequests).to.equal(3);
    const merged = structuredClone(t1.trace);

    // The stream has its retention limits; every tree was acknowledged once the merged tree was on disk.
    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const cfg = (await jsm.streams.info(DEFAULT_TRACE_STREAM)).config;
    expect([cfg.max_msgs_per_subject, cfg.max_bytes, cfg.discard]).to.deep.equal([64, 1024 ** 3, 'old']);
    await waitFor('every tree acknowledged', async () => {
      const ci = await jsm.consumers.info(DEFAULT_TRACE_STREAM, DEFAULT_DURABLE);
      return ci.num_ack_pending === 0 && ci.num_pending === 0 ? true : undefined;
    });
    expect(p1.intake.handled).to.equal(4);
    await p1.stop();
    // A tree published while no provider runs waits in the stream for the durable consumer.
    host2.offer(await r2.send('b'));
    expect(await host2.flush(10_000)).to.equal(true);

    // The provider restarts: the merged tree comes back from state_dir, and the consumer goes on where it was.
    const p2 = provider(nats.url);
    await p2.store.loadAll();
    const t2 = p2.store.ensure(FN, 'd1');
    expect(JSON.stringify(t2.trace)).to.equal(JSON.stringify(merged));
    expect(t2.tracedRequests).to.equal(3);
    p2.intake.start();
    await waitFor('the tree sent while it was down', () => (t2.tracedRequests === 4 ? true : undefined));
    // Only that one: the trees acknowledged before the restart are not delivered again.
    await sleep(500);
    expect(p2.intake.handled).to.equal(1);
    host1.offer(await r1.send('c'));
    await waitFor('the next tree', () => (t2.tracedRequests === 5 ? true : undefined));
    expect(p2.intake.handled).to.equal(2);
    expect(t2.size).to.be.greaterThan(0);
    expect(logs.filter((l) => /failed|ignoring/.test(l))).to.deep.equal([]);
  });

  it('starts without NATS, serves on, and consumes once NATS comes up', async () => {
    const port = await freePort();
    const p = provider(`nats://127.0.0.1:${port}`);
    p.store.ensure(FN, '');
    const t0 = Date.now();
    p.intake.start();
    expect(Date.now() - t0).to.be.lessThan(100);
    await sleep(300);
    expect(p.intake.consuming).to.equal(false);
    nats = await startNats(port);
    const host = publisher(nats.url, 'host-1', '');
    host.offer(await new Replica().send('a', 'b'));
    await waitFor('the tree', () => (p.store.get(FN)!.tracedRequests === 2 ? true : undefined));
    expect(logs.filter((l) => /connect/.test(l))).to.deep.equal([
      `trace intake (nats): connecting to nats://127.0.0.1:${port} (in the background)`,
      `trace intake (nats): connected to 127.0.0.1:${port}`,
    ]);
  });
});
