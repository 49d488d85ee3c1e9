/**
 * The promotion controller's state machine: when it compiles, promotes, demotes (fallback rate, sticky module
 * state, crash, cost) and adopts after a restart. The trees are real (TreeStore, traced by the real Tracer);
 * the build queue, the dispatcher host and the backend are stand-ins implementing their interfaces, because
 * what is under test is the controller's decisions (real builds, dispatchers and replicas are exercised by
 * test/integration/provider/promotion*.test.ts).
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Backend, PromotionInfo } from '../../../../provider/backend.ts';
import { PromotionController, type Builds, type PromotionConfig } from '../../../../provider/promotion/controller.ts';
import { PromotionMetrics } from '../../../../provider/promotion/metrics.ts';
import { TreeStore } from '../../../../provider/promotion/trees.ts';
import type { BuildOutcome, BuildRequest, DispatcherHandle, DispatcherHost, DispatcherStart, FnRef } from '../../../../provider/promotion/types.ts';
import type { RouteOutcome } from '../../../../provider/proxy.ts';
import type { FunctionStatus } from '../../../../provider/types.ts';
import { prepare, Tracer, type TraceIR } from '../../../../trace/index.ts';

const SOURCE = `module.exports = async (event, context) => ({ hello: event.query.name || 'world' });\n`;
const FN: FnRef = { name: 'hello', namespace: 'openfaas-fn' };
const NAME = 'hello.openfaas-fn';

let tmp: string;
beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'cl-controller-'))));
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A valid tree of SOURCE (the real tracer, no request run) claiming `requests` traced requests. */
function tree(requests: number): TraceIR {
  return { ...new Tracer(prepare(SOURCE, 'handler.js'), NAME).trace(), requests };
}

class FakeBackend implements Partial<Backend> {
  labels: Record<string, string> = {};
  deployment = 'd1';
  replicas = 1;
  scaled: number[] = [];
  handlerFile = '';
  readonly orchestration = 'fake';
  readonly defaultNamespace = 'openfaas-fn';
  async namespaces(): Promise<string[]> {
    return ['openfaas-fn'];
  }
  async list(): Promise<FunctionStatus[]> {
    return [{ name: FN.name, namespace: FN.namespace, image: 'x', replicas: this.replicas }];
  }
  async get(): Promise<FunctionStatus | undefined> {
    return { name: FN.name, namespace: FN.namespace, image: 'x', replicas: this.replicas };
  }
  async scale(_n: string, _ns: string, replicas: number): Promise<void> {
    this.scaled.push(replicas);
    this.replicas = replicas;
  }
  async promotionInfo(): Promise<PromotionInfo | undefined> {
    return { deployment: this.deployment, handlerFile: this.handlerFile, envVars: {}, labels: this.labels };
  }
  replicaPids(): number[] {
    return [];
  }
}

class FakeHandle implements DispatcherHandle {
  readonly url = 'http://127.0.0.1:9';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; expected: boolean }>;
  cpu = 0;
  stopped = false;
  exit!: (e: { code: number | null; signal: NodeJS.Signals | null; expected: boolean }) => void;
  constructor(
    readonly version: string,
    readonly instance: string,
  ) {
    this.exited = new Promise((r) => (this.exit = r));
  }
  cpuSeconds(): number | undefined {
    return this.cpu;
  }
  rssBytes(): number | undefined {
    return 1;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    this.exit({ code: 0, signal: null, expected: true });
  }
}

class FakeHost implements DispatcherHost {
  started: FakeHandle[] = [];
  async start(spec: DispatcherStart): Promise<DispatcherHandle> {
    const h = new FakeHandle(spec.version, `${spec.fn.name}-rust-${this.started.length + 1}`);
    this.started.push(h);
    return h;
  }
  async close(): Promise<void> {}
}

class FakeBuilds implements Builds {
  built: string[] = [];
  cancelled = 0;
  /** Builds that fail with a passing reason before one succeeds. */
  transientFailures = 0;
  keyOf(req: BuildRequest): string {
    const { requests: _r, ...t } = req.trace;
    return createHash('sha256').update(JSON.stringify(t)).update(req.source).digest('hex');
  }
  async cached(key: string): Promise<BuildOutcome | undefined> {
    return this.built.includes(key) ? this.outcome(key, true) : undefined;
  }
  async build(req: BuildRequest): Promise<BuildOutcome> {
    const key = this.keyOf(req);
    if (this.transientFailures > 0) {
      this.transientFailures--;
      return { ...this.outcome(key, false), result: 'failed', binary: undefined, retryable: true, diagnostics: ['cargo: killed'] };
    }
    this.built.push(key);
    return this.outcome(key, false);
  }
  cancel(): void {
    this.cancelled++;
  }
  private outcome(key: string, cached: boolean): BuildOutcome {
    return {
      key,
      result: 'ok',
      binary: '/nowhere/dispatcher',
      seconds: cached ? 0 : 1,
      cached,
      diagnostics: [],
      functions: 2,
      finishedAt: new Date().toISOString(),
    };
  }
}

interface Rig {
  controller: PromotionController;
  backend: FakeBackend;
  host: FakeHost;
  builds: FakeBuilds;
  registry: Registry;
  store: TreeStore;
}

interface Rig {
  dir: string;
}

/** A controller over a fresh state folder, or over `keep.dir` (a restart). */
async function rig(config: Partial<PromotionConfig> = {}, keep?: Partial<Pick<Rig, 'builds' | 'backend' | 'dir'>>): Promise<Rig> {
  const dir = keep?.dir ?? mkdtempSync(join(tmp, 'state-'));
  const backend = keep?.backend ?? new FakeBackend();
  backend.handlerFile = join(tmp, 'handler.js');
  writeFileSync(backend.handlerFile, SOURCE);
  const host = new FakeHost();
  const builds = keep?.builds ?? new FakeBuilds();
  const registry = new Registry();
  const store = new TreeStore({ stateDir: dir, debounceMs: 0 });
  const controller = new PromotionController({
    backend: backend as unknown as Backend,
    store,
    builds,
    host,
    metrics: new PromotionMetrics(registry),
    config: { enabled: true, stableRequests: 5, compareCost: false, canaryRequests: 5, fallbackWindow: 10, fallbackShare: 0.5, ...config },
    stateDir: dir,
  });
  await controller.start();
  return { controller, backend, host, builds, registry, store, dir };
}

/** Lets the controller's asynchronous steps (file reads and writes included) run. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 250));

/** Sends the replica's trees until the tree has been stable for the threshold, then lets the controller act. */
async function stabilise(r: Rig, replica = 'r1'): Promise<void> {
  for (const n of [1, 20]) {
    const res = r.controller.onTree({ fn: FN, replica, deployment: r.backend.deployment, trace: tree(n) });
    expect(res.accepted, JSON.stringify(res)).to.equal(true);
  }
  await settle();
}

async function metric(r: Rig, name: string, labels: Record<string, string>): Promise<number> {
  const m = r.registry.getSingleMetric(name);
  const v = (await m!.get()).values.find((x) => Object.entries(labels).every(([k, val]) => String(x.labels[k]) === val));
  return v?.value ?? 0;
}

function answer(r: Rig, o: Partial<RouteOutcome> & { kind: RouteOutcome['kind'] }): void {
  const route = r.controller.route(NAME);
  expect(route, 'a dispatcher route').to.not.equal(undefined);
  route!.done({ ms: 1, status: 200, reason: 'unknown', detail: '', ...o } as unknown as RouteOutcome);
}

describe('promotion controller', () => {
  it('compiles once the tree is stable, promotes, and routes to the dispatcher', async () => {
    const r = await rig();
    expect(r.controller.route(NAME)).to.equal(undefined);
    r.controller.onTree({ fn: FN, replica: 'r1', deployment: 'd1', trace: tree(1) });
    r.controller.onTree({ fn: FN, replica: 'r1', deployment: 'd1', trace: tree(3) });
    await settle();
    expect(r.builds.built, 'quiet 2 < 5: no build yet').to.have.length(0);
    await stabilise(r);
    expect(r.builds.built).to.have.length(1);
    expect(r.controller.route(NAME)?.instance).to.equal('hello-rust-1');
    const s = r.controller.status(FN)!;
    expect(s.engine).to.equal('rust');
    expect(s.phase).to.equal('promoted');
    expect(await metric(r, 'containerless_promotions_total', { function_name: NAME })).to.equal(1);
    expect(await metric(r, 'containerless_function_engine', { function_name: NAME, engine: 'rust' })).to.equal(1);
    await r.controller.close();
  });

  it('tries a build that failed for a passing reason (not kept in the cache) again later', async () => {
    const builds = new FakeBuilds();
    builds.transientFailures = 1;
    const r = await rig({ buildRetryMs: 300 }, { builds });
    await stabilise(r);
    expect(r.controller.route(NAME), 'the first build failed').to.equal(undefined);
    expect((r.controller.status(FN) as { compile: { result: string } }).compile.result).to.equal('failed');
    await new Promise((res) => setTimeout(res, 600));
    expect(builds.built, 'built on the retry').to.have.length(1);
    expect(r.controller.route(NAME)?.instance).to.equal('hello-rust-1');
    await r.controller.close();
  });

  it('refuses trees of another deployment and never compiles them', async () => {
    const r = await rig();
    const res = r.controller.onTree({ fn: FN, replica: 'r1', deployment: 'old', trace: tree(50) });
    expect(res).to.deep.include({ accepted: false, reason: 'deployment' });
    await settle();
    expect(r.builds.built).to.have.length(0);
    await r.controller.close();
  });

  it('demotes a dispatcher that falls back on most of its window, and does not promote that build again', async () => {
    const r = await rig();
    await stabilise(r);
    for (let i = 0; i < 4; i++) answer(r, { kind: 'answered' });
    // An overloaded dispatcher's `busy` hand-backs are not its fault: they never demote it.
    for (let i = 0; i < 20; i++) answer(r, { kind: 'fallback', reason: 'busy' });
    expect(r.controller.route(NAME), 'busy does not demote').to.not.equal(undefined);
    for (let i = 0; i < 6; i++) answer(r, { kind: 'fallback', reason: 'type-guard' });
    expect(r.controller.route(NAME), 'back to Node').to.equal(undefined);
    const s = r.controller.status(FN) as { engine: string; demotions: { reason: string }[]; fallbacks: Record<string, number> };
    expect(s.engine).to.equal('node');
    expect(s.demotions.map((d) => d.reason)).to.deep.equal(['fallback-rate']);
    expect(s.fallbacks).to.deep.equal({ busy: 20, 'type-guard': 6 });
    expect(r.host.started[0].stopped).to.equal(true);
    expect(await metric(r, 'containerless_demotions_total', { function_name: NAME, reason: 'fallback-rate' })).to.equal(1);
    // The same tree again (the fallbacks added no path): no new build, no new promotion.
    r.controller.onTree({ fn: FN, replica: 'r2', deployment: 'd1', trace: tree(100) });
    await settle();
    expect(r.builds.built).to.have.length(1);
    expect(r.controller.route(NAME)).to.equal(undefined);
    await r.controller.close();
  });

  it('demotes a sticky dispatcher (module-write fallbacks) and a crashed one, bringing Node back to its minimum', async () => {
    const r = await rig({ fallbackWindow: 100 });
    await stabilise(r);
    r.backend.replicas = 0;
    for (let i = 0; i < 3; i++) answer(r, { kind: 'fallback', reason: 'module-write' });
    expect(r.controller.route(NAME)).to.equal(undefined);
    expect((r.controller.status(FN) as { demotions: { reason: string }[] }).demotions[0].reason).to.equal('sticky');
    await settle();
    expect(r.backend.scaled).to.deep.equal([1]);
    await r.controller.close();

    const c = await rig();
    await stabilise(c);
    c.host.started[0].exit({ code: null, signal: 'SIGKILL', expected: false });
    await settle();
    expect(c.controller.route(NAME)).to.equal(undefined);
    expect((c.controller.status(FN) as { demotions: { reason: string }[] }).demotions[0].reason).to.equal('crash');
    await c.controller.close();
  });

  it('keeps Node when the canary finds Rust dearer, and switches when it finds Rust cheaper', async () => {
    // No replica pids here, so the median latency decides (as when CPU cannot be read).
    for (const [rustMs, nodeMs, want] of [
      [10, 1, 'node'],
      [1, 10, 'rust'],
    ] as const) {
      const r = await rig({ compareCost: true, canaryRequests: 5 });
      await stabilise(r);
      expect(r.controller.status(FN)!.phase).to.equal('canary');
      for (let i = 0; i < 40 && r.controller.status(FN)!.phase === 'canary'; i++) {
        const route = r.controller.route(NAME);
        if (route) route.done({ kind: 'answered', status: 200, ms: rustMs });
        else r.controller.nodeAnswered(NAME, nodeMs, false);
      }
      const s = r.controller.status(FN) as {
        engine: string;
        cost: { decision: string; rust: { requests: number; p50Ms: number } };
        demotions: { reason: string }[];
      };
      expect(s.cost.decision).to.equal(want);
      expect(s.cost.rust.requests).to.equal(5);
      expect(s.cost.rust.p50Ms).to.equal(rustMs);
      expect(s.engine).to.equal(want);
      if (want === 'node') expect(s.demotions.map((d) => d.reason)).to.deep.equal(['cost']);
      await r.controller.close();
    }
  });

  it('retires the dispatcher at once when the function is updated, and starts over with the new deployment', async () => {
    const r = await rig();
    await stabilise(r);
    expect(r.controller.route(NAME)).to.not.equal(undefined);
    await r.controller.updating(FN);
    expect(r.controller.route(NAME), 'no answer from the old code after the update began').to.equal(undefined);
    r.backend.deployment = 'd2';
    await r.controller.updated(FN);
    expect(r.controller.onTree({ fn: FN, replica: 'r1', deployment: 'd1', trace: tree(30) })).to.deep.include({ accepted: false, reason: 'deployment' });
    expect(await metric(r, 'containerless_demotions_total', { function_name: NAME, reason: 'update' })).to.equal(1);
    await r.controller.close();
  });

  it('leaves an opted-out function in Node', async () => {
    const backend = new FakeBackend();
    backend.labels = { 'com.containerless.promote': 'false' };
    const r = await rig({}, { backend, builds: new FakeBuilds() });
    await stabilise(r);
    expect(r.builds.built).to.have.length(0);
    expect(r.controller.status(FN)).to.deep.include({ promotion: 'opted-out', phase: 'off' });
    await r.controller.close();
  });

  it("scales a promoted function's Node replicas down to node-min", async () => {
    const r = await rig();
    const policy = { min: 1, max: 5, target: 50, zero: false, zeroDurationMs: 60_000 };
    expect(r.controller.policyFor(NAME, policy)).to.deep.equal(policy);
    await stabilise(r);
    expect(r.controller.policyFor(NAME, policy)).to.deep.include({ min: 0, zero: true });
    r.backend.labels['com.containerless.node-min'] = '2';
    await r.controller.track(FN);
    expect(r.controller.policyFor(NAME, policy)).to.deep.include({ min: 2, zero: false });
    await r.controller.close();
  });

  it('adopts a promoted function after a restart from the build cache, without building', async () => {
    const first = await rig();
    await stabilise(first);
    await first.controller.close();
    const builds = first.builds;
    const before = builds.built.length;
    const second = await rig({}, { builds, backend: first.backend, dir: first.dir });
    expect(builds.built.length, 'nothing rebuilt').to.equal(before);
    expect(second.controller.route(NAME)?.instance).to.equal('hello-rust-1');
    expect(second.controller.status(FN)!.engine).to.equal('rust');
    await second.controller.close();
  });
});
