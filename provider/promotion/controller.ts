/**
 * The promotion controller: takes a deployed Node function to its compiled dispatcher and back.
 *
 * States (`phase`, shown by `GET /system/containerless/function/{name}`):
 *
 *   tracing ──stable──▶ compiling ──ok──▶ starting ──ready──▶ canary ──Rust cheaper──▶ promoted
 *      ▲                   │ failed/unsupported      │ failed         │ Rust dearer        │
 *      └───────────────────┴──────────────────────────┴────────────────┘◀── demoted ───────┘
 *
 * - **tracing**: replicas trace and send their trees (loopback intake or JetStream); the store merges them.
 *   A function compiles once its merged tree has not grown over `promote_stable_requests` requests in a row
 *   (traced ones, and, once promoted, the ones its dispatcher answered: they took known paths).
 * - **compiling**: one build at a time per provider (BuildQueue), content-addressed, so a restart or a
 *   redeploy of the same code reuses the binary. A tree that cannot compile keeps the function in Node with
 *   the diagnostics kept; it is tried again only when the tree changes.
 * - **starting**: a dispatcher replica starts beside the Node replicas (never listed as a function).
 * - **canary** (with `promote_compare_cost`, the default): requests alternate between the engines until each
 *   answered `promote_canary_requests`; CPU per request (the processes' own CPU time over the window) and the
 *   median latency of each engine are recorded. Rust takes the route only when its CPU per request is no
 *   higher than Node's; otherwise the function stays in Node with the figures recorded, and that build is not
 *   tried again.
 * - **promoted**: the invoke proxy sends every buffered request to the dispatcher; a fallback is re-sent to a
 *   Node replica, which traces it, so the tree grows and the function recompiles and re-promotes with the
 *   bigger tree (no canary: the engine was already measured). The Node replicas scale on the fallbacks alone,
 *   down to zero (`com.containerless.node-min` keeps some). The dispatcher's CPU per request keeps being
 *   compared with Node's recorded figure.
 * - **demoted** (back to tracing, reason recorded): the dispatcher crashed (`crash`), went sticky (module
 *   state it can no longer keep, `sticky`), fell back on more than `promote_fallback_share` of its last
 *   `promote_fallback_window` requests (`fallback-rate`), or costs more than Node (`cost`). A demoted build is
 *   never promoted again; a bigger tree is.
 *
 * A new deployment (update) retires the dispatcher at once (before the update is applied), so the old compiled
 * code never answers for new code; delete removes the dispatcher, the tree and any queued build. A provider
 * restart adopts a promoted function by starting its dispatcher from the build cache (nothing recompiles).
 * `promotion=off` disables all of it; label `com.containerless.promote: "false"` opts one function out.
 */
import { readFile, rename, writeFile, mkdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Backend, PromotionInfo } from '../backend.ts';
import { minReplicas } from '../backend.ts';
import type { ScalePolicy } from '../autoscaler.ts';
import type { DispatcherRoute, RouteOutcome, Router } from '../proxy.ts';
import type { TraceIR } from '../../trace/index.ts';
import type { Engine, PromotionMetrics } from './metrics.ts';
import { threadCpuSeconds } from './cost.ts';
import type { TreeStore } from './trees.ts';
import {
  fnKey,
  LABEL_NODE_MIN,
  LABEL_PROMOTE,
  type AcceptResult,
  type BuildOutcome,
  type BuildRequest,
  type DispatcherHandle,
  type DispatcherHost,
  type FnRef,
  type TreeMessage,
} from './types.ts';

export type Phase = 'off' | 'tracing' | 'compiling' | 'starting' | 'canary' | 'promoted';

/** What the controller needs of the build queue (BuildQueue in builder.ts). */
export interface Builds {
  keyOf(req: BuildRequest): string;
  cached(key: string): Promise<BuildOutcome | undefined>;
  build(req: BuildRequest): Promise<BuildOutcome>;
  /** The latest progress line of the function's build (its queue logs every line itself). */
  progress?(fn: FnRef): string | undefined;
  cancel(fn: FnRef): void;
}

export interface PromotionConfig {
  enabled: boolean;
  stableRequests: number;
  compareCost: boolean;
  canaryRequests: number;
  fallbackWindow: number;
  fallbackShare: number;
  /** SIGTERM to SIGKILL for a retired dispatcher (its requests in flight finish first). */
  stopGraceMs?: number;
  /** First wait before a build that failed for a passing reason is tried again (default 15 s, doubling to 10 min). */
  buildRetryMs?: number;
}

export interface ControllerDeps {
  backend: Backend;
  store: TreeStore;
  builds: Builds;
  host: DispatcherHost;
  metrics: PromotionMetrics;
  config: PromotionConfig;
  stateDir: string;
  log?: (line: string) => void;
}

/** One engine's figures over a comparison window. */
export interface EngineCost {
  requests: number;
  /** CPU microseconds per request (undefined when the processes' CPU cannot be read). */
  cpuUsPerRequest?: number;
  /** Median latency seen by the proxy, ms. */
  p50Ms?: number;
}

export interface CostComparison {
  node: EngineCost;
  rust: EngineCost;
  /** `rust`: Rust took (or keeps) the route; `node`: Node keeps it. */
  decision: Engine;
  /** When the comparison ended; `phase`: before the switch (canary) or after it. */
  at: string;
  phase: 'canary' | 'promoted';
  /** CPU per request, Node / Rust (above 1: Rust is cheaper). */
  cpuRatio?: number;
}

interface Demotion {
  reason: string;
  detail: string;
  at: string;
  version?: string;
}

/** What survives a restart (`<state_dir>/promotion/<ns>/<fn>/controller.json`). */
interface Saved {
  deployment: string;
  engine: Engine;
  version?: string;
  lastCompile?: BuildOutcome;
  attempted?: string;
  rejected: Record<string, string>;
  fallbacks: Record<string, number>;
  cost?: CostComparison;
  promotions: number;
  demotions: Demotion[];
  promotedAt?: string;
}

interface Canary {
  handle: DispatcherHandle;
  version: string;
  startedAt: number;
  n: Record<Engine, number>;
  ms: Record<Engine, number[]>;
  /** Set once both engines answered the warm-up requests (a fresh dispatcher builds its realms, a JIT warms
   *  up): the figures count from there. */
  cpu0?: { node: Map<number, number>; rust?: number };
}

interface Watch {
  requests: number;
  cpu0?: number;
  dearer: number;
}

interface FnState extends Saved {
  fn: FnRef;
  key: string;
  phase: Phase;
  info?: PromotionInfo;
  dispatcher?: DispatcherHandle;
  canary?: Canary;
  watch?: Watch;
  /** Tree size when the serving (or last attempted) build was made: a recompile needs a bigger tree. */
  sizeAtBuild: number;
  window: boolean[];
  counts: { rust: number; node: number; fallback: number };
  /** Bumped by update and delete: async work started before it stops. */
  epoch: number;
  busy: boolean;
  /** Retryable build failures in a row (the back-off). */
  retries?: number;
}

const MAX_DEMOTIONS_KEPT = 20;
/** A build that failed for a passing reason is tried again after this, doubling up to RETRY_MAX_MS. */
const RETRY_BASE_MS = 15_000;
const RETRY_MAX_MS = 10 * 60_000;
/** Fallbacks of kind module-write in a window that make a dispatcher sticky. */
const STICKY_FALLBACKS = 3;
/** Rust requests per cost re-check once promoted (a multiple of the canary size). */
const WATCH_FACTOR = 4;
/** How much dearer Rust may be before a re-check counts against it (machines are noisy). */
const COST_SLACK = 1.25;

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export class PromotionController implements Router {
  private readonly fns = new Map<string, FnState>();
  private syncTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly log: (line: string) => void;

  constructor(private readonly deps: ControllerDeps) {
    this.log = deps.log ?? (() => {});
  }

  get enabled(): boolean {
    return this.deps.config.enabled && this.deps.backend.promotionInfo !== undefined;
  }

  // ------------------------------------------------------------------------------------------------------
  // lifecycle

  /** Loads the trees and the saved states, adopts promoted functions (dispatchers from the build cache). */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.deps.host.stopLeftovers?.();
    await this.deps.store.loadAll();
    await this.sync();
    this.syncTimer = setInterval(() => void this.sync().catch((err: unknown) => this.log(`promotion: sync: ${(err as Error).message}`)), 10_000);
    this.syncTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.syncTimer);
    for (const st of this.fns.values()) this.deps.builds.cancel(st.fn);
    await Promise.all([...this.fns.values()].map((st) => this.save(st)));
    await this.deps.store.close();
    await this.deps.host.close();
  }

  /** Tracks every deployed function (adopting saved state), forgets removed ones. */
  async sync(): Promise<void> {
    const seen = new Set<string>();
    for (const ns of await this.deps.backend.namespaces()) {
      for (const f of await this.deps.backend.list(ns)) {
        const fn = { name: f.name, namespace: f.namespace || ns };
        seen.add(fnKey(fn));
        if (!this.fns.has(fnKey(fn))) await this.track(fn);
      }
    }
    for (const [k, st] of this.fns) if (!seen.has(k)) await this.forget(st);
  }

  /** A function was deployed (or found at start): tracks it. */
  async track(fn: FnRef): Promise<void> {
    if (!this.enabled || this.closed) return;
    const info = await this.deps.backend.promotionInfo!(fn.name, fn.namespace);
    if (!info) return;
    const key = fnKey(fn);
    let st = this.fns.get(key);
    if (!st) {
      const saved = await this.load(fn);
      st = {
        ...(saved && saved.deployment === info.deployment
          ? saved
          : { deployment: info.deployment, engine: 'node' as Engine, rejected: {}, fallbacks: {}, promotions: 0, demotions: [] }),
        fn,
        key,
        phase: 'tracing',
        sizeAtBuild: -1,
        window: [],
        counts: { rust: 0, node: 0, fallback: 0 },
        epoch: 0,
        busy: false,
      };
      // Other rejected/attempted keys belong to other code; a saved Rust engine is adopted below.
      this.fns.set(key, st);
    }
    st.info = info;
    st.deployment = info.deployment;
    this.deps.store.ensure(fn, info.deployment, await this.sourceSha(info));
    this.deps.metrics.setEngine(key, st.dispatcher ? 'rust' : 'node');
    if (!this.promotable(st)) {
      st.phase = 'off';
      return;
    }
    if (st.engine === 'rust' && st.version && !st.dispatcher) await this.adopt(st);
    this.evaluate(st);
  }

  /** Before an update is applied: the dispatcher stops answering now (old code never answers for new). */
  async updating(fn: FnRef): Promise<void> {
    const st = this.fns.get(fnKey(fn));
    if (!st) return;
    st.epoch++;
    st.busy = false;
    this.deps.builds.cancel(fn);
    st.attempted = undefined;
    st.sizeAtBuild = -1;
    if (st.dispatcher || st.canary) this.retire(st, 'update', 'a new deployment of the function');
  }

  /** After an update: a new deployment id, a new tree. */
  async updated(fn: FnRef): Promise<void> {
    const st = this.fns.get(fnKey(fn));
    const info = await this.deps.backend.promotionInfo?.(fn.name, fn.namespace);
    if (!st || !info) return this.track(fn);
    st.info = info;
    if (info.deployment !== st.deployment) {
      st.deployment = info.deployment;
      st.attempted = undefined;
      st.lastCompile = undefined;
      st.rejected = {};
      st.fallbacks = {};
      st.cost = undefined;
      st.sizeAtBuild = -1;
      st.window = [];
    }
    st.phase = this.promotable(st) ? 'tracing' : 'off';
    this.deps.store.ensure(fn, info.deployment, await this.sourceSha(info));
    await this.save(st);
    this.evaluate(st);
  }

  /** A function was deleted: its dispatcher, tree, queued build and saved state go. */
  async removed(fn: FnRef): Promise<void> {
    const st = this.fns.get(fnKey(fn));
    if (st) await this.forget(st);
    else await this.deps.store.remove(fn);
  }

  private async forget(st: FnState): Promise<void> {
    st.epoch++;
    this.fns.delete(st.key);
    this.deps.builds.cancel(st.fn);
    const handles = [st.dispatcher, st.canary?.handle].filter((h): h is DispatcherHandle => h !== undefined);
    st.dispatcher = undefined;
    st.canary = undefined;
    await Promise.all(handles.map((h) => h.stop(this.deps.config.stopGraceMs)));
    await this.deps.store.remove(st.fn);
    await rm(this.statePath(st.fn), { force: true });
    this.deps.metrics.forget(st.key);
  }

  // ------------------------------------------------------------------------------------------------------
  // trees

  /** For the intakes: the function's current deployment, or undefined when it is not promoted here. */
  lookup(fn: FnRef): { deployment: string } | undefined {
    const st = this.fns.get(fnKey(fn));
    return st ? { deployment: st.deployment } : undefined;
  }

  /** A tree from a replica (either intake). */
  onTree(msg: TreeMessage, bytes?: number): AcceptResult {
    const result = this.deps.store.accept(msg, bytes);
    const st = this.fns.get(fnKey(msg.fn));
    if (result.accepted && st) setImmediate(() => this.evaluate(st));
    return result;
  }

  // ------------------------------------------------------------------------------------------------------
  // the proxy's router

  route(functionName: string): DispatcherRoute | undefined {
    const st = this.fns.get(functionName);
    if (!st) return undefined;
    const c = st.canary;
    if (c) {
      // Alternate, so both engines see the same mix of requests over the window.
      if (c.n.rust > c.n.node) return undefined;
      return this.routeTo(st, c.handle, true);
    }
    if (st.dispatcher) return this.routeTo(st, st.dispatcher, false);
    return undefined;
  }

  nodeAnswered(functionName: string, ms: number, fallback: boolean): void {
    const st = this.fns.get(functionName);
    if (!st) return;
    st.counts.node++;
    const c = st.canary;
    if (c && !fallback) {
      c.n.node++;
      c.ms.node.push(ms);
      this.maybeEndCanary(st, c);
    }
  }

  private routeTo(st: FnState, handle: DispatcherHandle, canary: boolean): DispatcherRoute {
    return {
      url: handle.url,
      instance: handle.instance,
      done: (o: RouteOutcome) => this.answered(st, handle, o, canary),
    };
  }

  private answered(st: FnState, handle: DispatcherHandle, o: RouteOutcome, canary: boolean): void {
    const trees = this.deps.store.get(st.fn);
    if (o.kind === 'answered') {
      st.counts.rust++;
      trees?.noteAnswered(1);
    } else {
      st.counts.fallback++;
      st.fallbacks[o.reason] = (st.fallbacks[o.reason] ?? 0) + 1;
      this.deps.metrics.fallbacks.inc({ function_name: st.key, kind: o.reason });
    }
    if (canary && st.canary?.handle === handle) {
      const c = st.canary;
      if (o.kind === 'answered') {
        c.n.rust++;
        c.ms.rust.push(o.ms);
      }
      this.maybeEndCanary(st, c);
    }
    if (st.dispatcher !== handle) return;
    // A dispatcher with every worker busy hands requests back (`busy`): overload, which Node absorbs, not a
    // path it does not know; it does not count towards demotion.
    if (o.kind === 'fallback' && o.reason === 'busy') return;
    st.window.push(o.kind !== 'answered');
    if (st.window.length > this.deps.config.fallbackWindow) st.window.shift();
    if (o.kind === 'fallback') {
      if (o.reason === 'module-write' && st.window.filter(Boolean).length >= STICKY_FALLBACKS && (st.fallbacks['module-write'] ?? 0) >= STICKY_FALLBACKS) {
        return this.demote(st, 'sticky', `the dispatcher keeps handing requests back for module state it cannot keep (${o.detail})`);
      }
      const share = st.window.filter(Boolean).length / st.window.length;
      if (st.window.length >= this.deps.config.fallbackWindow && share > this.deps.config.fallbackShare) {
        return this.demote(st, 'fallback-rate', `${Math.round(share * 100)}% of the dispatcher's last ${st.window.length} requests fell back`);
      }
    } else {
      this.watchCost(st, handle);
    }
    if (trees && trees.size !== st.sizeAtBuild && trees.stable(this.deps.config.stableRequests)) this.evaluate(st);
  }

  /** Node replicas of a promoted function scale on its fallbacks alone, down to node-min. */
  policyFor(functionName: string, policy: ScalePolicy): ScalePolicy {
    const st = this.fns.get(functionName);
    if (!st?.dispatcher) return policy;
    const raw = st.info?.labels[LABEL_NODE_MIN]?.trim();
    const nodeMin = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : 0;
    return { ...policy, min: Math.min(nodeMin, policy.max), zero: nodeMin === 0 ? true : policy.zero };
  }

  // ------------------------------------------------------------------------------------------------------
  // compile and promote

  private promotable(st: FnState): boolean {
    return this.enabled && st.info?.labels[LABEL_PROMOTE]?.trim().toLowerCase() !== 'false';
  }

  private evaluate(st: FnState): void {
    if (this.closed || st.busy || !this.promotable(st) || this.fns.get(st.key) !== st) return;
    if (st.phase !== 'tracing' && st.phase !== 'promoted') return;
    const trees = this.deps.store.get(st.fn);
    if (!trees?.trace || !trees.stable(this.deps.config.stableRequests) || trees.size === st.sizeAtBuild) return;
    st.busy = true;
    void this.compileAndPromote(st, trees.trace, trees.size)
      .catch((err: unknown) => this.log(`promotion: ${st.key}: ${(err as Error).stack ?? String(err)}`))
      .finally(() => {
        st.busy = false;
      });
  }

  private async compileAndPromote(st: FnState, trace: TraceIR, size: number): Promise<void> {
    const epoch = st.epoch;
    const info = st.info!;
    let source: string;
    try {
      source = await readFile(info.handlerFile, 'utf8');
    } catch (err) {
      this.log(`promotion: ${st.key}: cannot read ${info.handlerFile} (${(err as Error).message})`);
      return;
    }
    const req: BuildRequest = { fn: st.fn, trace, source };
    const key = this.deps.builds.keyOf(req);
    st.sizeAtBuild = size;
    if (key === st.version || key === st.attempted || st.rejected[key]) return;
    const back = st.phase;
    st.phase = 'compiling';
    st.attempted = key;
    this.log(`promotion: ${st.key}: the tree is stable (${trace.requests} traced requests); compiling ${key.slice(0, 12)}`);
    let outcome: BuildOutcome;
    try {
      outcome = await this.deps.builds.build(req);
    } catch (err) {
      if (epoch === st.epoch) st.phase = back;
      this.log(`promotion: ${st.key}: build of ${key.slice(0, 12)} stopped (${(err as Error).message})`);
      return;
    }
    if (epoch !== st.epoch) return;
    st.lastCompile = outcome;
    this.deps.metrics.compiles.inc({ function_name: st.key, result: outcome.result });
    if (!outcome.cached) this.deps.metrics.compileSeconds.observe({ function_name: st.key }, outcome.seconds);
    await this.save(st);
    if (outcome.result !== 'ok' || !outcome.binary) {
      st.phase = back;
      if (outcome.retryable) {
        // Not the code's fault (a download, a full disk, a killed compiler): the same build again later.
        st.retries = (st.retries ?? 0) + 1;
        const waitMs = Math.min((this.deps.config.buildRetryMs ?? RETRY_BASE_MS) * 2 ** (st.retries - 1), RETRY_MAX_MS);
        setTimeout(() => {
          if (epoch !== st.epoch || st.attempted !== key) return;
          st.attempted = undefined;
          st.sizeAtBuild = -1;
          this.evaluate(st);
        }, waitMs).unref();
        this.log(
          `promotion: ${st.key}: the build failed for a reason that may pass (${outcome.diagnostics.at(-1) ?? ''}); trying again in ${Math.round(waitMs / 1000)} s`,
        );
        return;
      }
      this.log(
        `promotion: ${st.key}: ${outcome.result === 'unsupported' ? 'cannot be compiled' : 'build failed'}; it stays in Node (${outcome.diagnostics[0] ?? ''})`,
      );
      return;
    }
    st.retries = 0;
    this.log(`promotion: ${st.key}: built ${key.slice(0, 12)}${outcome.cached ? ' (from the cache)' : ` in ${outcome.seconds.toFixed(1)} s`}`);
    st.phase = 'starting';
    let handle: DispatcherHandle;
    try {
      handle = await this.startDispatcher(st, outcome.binary, key);
    } catch (err) {
      if (epoch === st.epoch) st.phase = back;
      st.rejected[key] = 'start';
      st.lastCompile = { ...outcome, diagnostics: [...outcome.diagnostics, `the dispatcher did not start: ${(err as Error).message}`] };
      this.log(
        `promotion: ${st.key}: the dispatcher did not start (${(err as Error).message}); it stays in ${st.dispatcher ? 'its previous dispatcher' : 'Node'}`,
      );
      await this.save(st);
      return;
    }
    if (epoch !== st.epoch || this.closed) {
      await handle.stop(this.deps.config.stopGraceMs);
      return;
    }
    // Re-promotion (already measured) or no comparison asked for: switch now.
    if (st.dispatcher || !this.deps.config.compareCost) return this.switchTo(st, handle, key);
    st.phase = 'canary';
    st.canary = { handle, version: key, startedAt: Date.now(), n: { node: 0, rust: 0 }, ms: { node: [], rust: [] } };
    this.log(`promotion: ${st.key}: comparing the engines on live traffic (${this.deps.config.canaryRequests} requests each)`);
  }

  private async startDispatcher(st: FnState, binary: string, version: string): Promise<DispatcherHandle> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(st.info?.envVars ?? {})) if (k !== 'fprocess') env[k] = v;
    // The dispatcher's output belongs with the function's logs (faas-cli logs), as its replicas' does.
    const log = this.deps.backend.appendLog
      ? (line: string, instance: string) => this.deps.backend.appendLog!(st.fn.name, st.fn.namespace, instance, line)
      : (line: string, instance: string) => this.log(`${instance}: ${line}`);
    const handle = await this.deps.host.start({ fn: st.fn, binary, version, env, log });
    void handle.exited.then(({ code, signal, expected }) => {
      if (expected) return;
      const why = `the dispatcher exited (${signal ?? `code ${code}`})`;
      if (st.dispatcher === handle) this.demote(st, 'crash', why);
      else if (st.canary?.handle === handle) this.endCanary(st, 'node', why, 'crash');
    });
    return handle;
  }

  private switchTo(st: FnState, handle: DispatcherHandle, version: string): void {
    const old = st.dispatcher;
    st.dispatcher = handle;
    st.version = version;
    st.engine = 'rust';
    st.phase = 'promoted';
    st.promotions++;
    st.promotedAt = new Date().toISOString();
    st.window = [];
    st.watch = undefined;
    this.deps.metrics.promotions.inc({ function_name: st.key });
    this.deps.metrics.setEngine(st.key, 'rust');
    this.log(`promotion: ${st.key}: promoted: ${handle.instance} (${version.slice(0, 12)}) answers its requests${old ? `, replacing ${old.instance}` : ''}`);
    void this.save(st);
    if (old) void old.stop(this.deps.config.stopGraceMs);
  }

  private demote(st: FnState, reason: string, detail: string): void {
    const handle = st.dispatcher;
    if (!handle) return;
    this.retire(st, reason, detail);
    // Node takes every request again: bring its replicas back to their usual minimum now rather than at the
    // first request (which would queue behind a cold start).
    const min = minReplicas(st.info?.labels);
    void this.deps.backend
      .get(st.fn.name, st.fn.namespace)
      .then((s) => (s && (s.replicas ?? 0) < min ? this.deps.backend.scale(st.fn.name, st.fn.namespace, min) : undefined))
      .catch((err: unknown) => this.log(`promotion: ${st.key}: cannot scale Node back up (${(err as Error).message})`));
  }

  /** Takes the dispatcher (and any canary) off the route at once and stops it; records why. */
  private retire(st: FnState, reason: string, detail: string): void {
    const handles = [st.dispatcher, st.canary?.handle].filter((h): h is DispatcherHandle => h !== undefined);
    const version = st.dispatcher?.version ?? st.canary?.version;
    st.dispatcher = undefined;
    st.canary = undefined;
    st.engine = 'node';
    st.phase = this.promotable(st) ? 'tracing' : 'off';
    st.watch = undefined;
    st.window = [];
    if (version && reason !== 'update') st.rejected[version] = reason;
    st.version = undefined;
    st.demotions.push({ reason, detail, at: new Date().toISOString(), version });
    if (st.demotions.length > MAX_DEMOTIONS_KEPT) st.demotions.splice(0, st.demotions.length - MAX_DEMOTIONS_KEPT);
    this.deps.metrics.demotions.inc({ function_name: st.key, reason });
    this.deps.metrics.setEngine(st.key, 'node');
    this.log(`promotion: ${st.key}: demoted to Node (${reason}: ${detail})`);
    void this.save(st);
    for (const h of handles) void h.stop(this.deps.config.stopGraceMs);
  }

  /** A saved promoted function after a provider restart: its dispatcher from the build cache. */
  private async adopt(st: FnState): Promise<void> {
    const version = st.version!;
    const built = await this.deps.builds.cached(version);
    if (built?.result !== 'ok' || !built.binary) {
      this.log(`promotion: ${st.key}: its dispatcher ${version.slice(0, 12)} is not in the build cache; it serves from Node until it compiles again`);
      st.engine = 'node';
      st.version = undefined;
      this.deps.metrics.setEngine(st.key, 'node');
      return;
    }
    try {
      const handle = await this.startDispatcher(st, built.binary, version);
      st.dispatcher = handle;
      st.phase = 'promoted';
      st.sizeAtBuild = this.deps.store.get(st.fn)?.size ?? -1;
      this.deps.metrics.setEngine(st.key, 'rust');
      this.log(`promotion: ${st.key}: adopted: ${handle.instance} (${version.slice(0, 12)}, from the build cache) answers its requests`);
    } catch (err) {
      st.engine = 'node';
      st.version = undefined;
      this.deps.metrics.setEngine(st.key, 'node');
      this.log(`promotion: ${st.key}: its dispatcher did not start again (${(err as Error).message}); it serves from Node`);
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // cost

  private cpuNow(st: FnState, handle: DispatcherHandle): { node: Map<number, number>; rust?: number } {
    const node = new Map<number, number>();
    for (const pid of this.deps.backend.replicaPids?.(st.fn.name, st.fn.namespace) ?? []) {
      const s = threadCpuSeconds(pid);
      if (s !== undefined) node.set(pid, s);
    }
    return { node, rust: this.rustCpu(handle) };
  }

  /** The dispatcher's CPU seconds, to the nanosecond when its process is on this machine. */
  private rustCpu(handle: DispatcherHandle): number | undefined {
    return (handle.pid !== undefined ? threadCpuSeconds(handle.pid) : undefined) ?? handle.cpuSeconds();
  }

  private maybeEndCanary(st: FnState, c: Canary): void {
    const want = this.deps.config.canaryRequests;
    if (!c.cpu0) {
      const warmUp = Math.max(5, Math.ceil(want / 5));
      if (c.n.node < warmUp || c.n.rust < warmUp) return;
      c.cpu0 = this.cpuNow(st, c.handle);
      c.n = { node: 0, rust: 0 };
      c.ms = { node: [], rust: [] };
      return;
    }
    if (c.n.node < want || c.n.rust < want) return;
    const now = this.cpuNow(st, c.handle);
    let nodeCpu: number | undefined;
    for (const [pid, before] of c.cpu0.node) {
      const after = now.node.get(pid);
      if (after !== undefined) nodeCpu = (nodeCpu ?? 0) + (after - before);
    }
    const rustCpu = c.cpu0.rust !== undefined && now.rust !== undefined ? now.rust - c.cpu0.rust : undefined;
    const node: EngineCost = { requests: c.n.node, p50Ms: median(c.ms.node), cpuUsPerRequest: nodeCpu === undefined ? undefined : (nodeCpu * 1e6) / c.n.node };
    const rust: EngineCost = { requests: c.n.rust, p50Ms: median(c.ms.rust), cpuUsPerRequest: rustCpu === undefined ? undefined : (rustCpu * 1e6) / c.n.rust };
    // CPU decides; when either side's CPU cannot be read, the median latency does.
    const cheaper =
      node.cpuUsPerRequest !== undefined && rust.cpuUsPerRequest !== undefined
        ? rust.cpuUsPerRequest <= node.cpuUsPerRequest
        : (rust.p50Ms ?? Infinity) <= (node.p50Ms ?? 0);
    st.cost = {
      node,
      rust,
      decision: cheaper ? 'rust' : 'node',
      at: new Date().toISOString(),
      phase: 'canary',
      cpuRatio: node.cpuUsPerRequest !== undefined && rust.cpuUsPerRequest ? node.cpuUsPerRequest / rust.cpuUsPerRequest : undefined,
    };
    const figures = `Node ${fmt(node)}, Rust ${fmt(rust)}`;
    if (cheaper) {
      st.canary = undefined;
      this.log(`promotion: ${st.key}: Rust is cheaper (${figures})`);
      this.switchTo(st, c.handle, c.version);
    } else {
      this.endCanary(st, 'node', `Rust costs more than Node per request (${figures})`, 'cost');
    }
  }

  /** Ends a canary without switching: Node keeps the function, the build is not tried again. */
  private endCanary(st: FnState, _engine: Engine, detail: string, reason: string): void {
    const c = st.canary;
    if (!c) return;
    st.canary = undefined;
    st.phase = this.promotable(st) ? 'tracing' : 'off';
    st.rejected[c.version] = reason;
    st.demotions.push({ reason, detail, at: new Date().toISOString(), version: c.version });
    if (st.demotions.length > MAX_DEMOTIONS_KEPT) st.demotions.splice(0, st.demotions.length - MAX_DEMOTIONS_KEPT);
    this.deps.metrics.demotions.inc({ function_name: st.key, reason });
    this.log(`promotion: ${st.key}: stays in Node (${reason}: ${detail})`);
    void this.save(st);
    void c.handle.stop(this.deps.config.stopGraceMs);
  }

  /** Once promoted: every WATCH_FACTOR x canary requests, the dispatcher's CPU per request against Node's. */
  private watchCost(st: FnState, handle: DispatcherHandle): void {
    if (!this.deps.config.compareCost) return;
    const nodeCpu = st.cost?.node.cpuUsPerRequest;
    if (nodeCpu === undefined) return;
    const w = (st.watch ??= { requests: 0, cpu0: this.rustCpu(handle), dearer: 0 });
    if (++w.requests < this.deps.config.canaryRequests * WATCH_FACTOR) return;
    const now = this.rustCpu(handle);
    if (w.cpu0 !== undefined && now !== undefined) {
      const rustUs = ((now - w.cpu0) * 1e6) / w.requests;
      w.dearer = rustUs > nodeCpu * COST_SLACK ? w.dearer + 1 : 0;
      if (w.dearer >= 2) {
        st.cost = {
          node: st.cost!.node,
          rust: { requests: w.requests, cpuUsPerRequest: rustUs },
          decision: 'node',
          at: new Date().toISOString(),
          phase: 'promoted',
          cpuRatio: nodeCpu / rustUs,
        };
        return this.demote(st, 'cost', `the dispatcher used ${rustUs.toFixed(0)} µs of CPU per request, Node ${nodeCpu.toFixed(0)} µs`);
      }
    }
    st.watch = { requests: 0, cpu0: now, dearer: w.dearer };
  }

  // ------------------------------------------------------------------------------------------------------
  // status and persistence

  /** `GET /system/containerless/function/{name}`; undefined when the function is not tracked. */
  status(fn: FnRef): Record<string, unknown> | undefined {
    const st = this.fns.get(fnKey(fn));
    if (!st) return undefined;
    const trees = this.deps.store.get(fn);
    const promotable = this.promotable(st);
    return {
      name: fn.name,
      namespace: fn.namespace,
      promotion: !this.deps.config.enabled ? 'off' : promotable ? 'on' : 'opted-out',
      engine: st.dispatcher ? 'rust' : 'node',
      phase: st.phase,
      deployment: st.deployment,
      dispatcher: st.dispatcher ? { version: st.dispatcher.version, instance: st.dispatcher.instance, since: st.promotedAt } : null,
      canary: st.canary ? { version: st.canary.version, node: st.canary.n.node, rust: st.canary.n.rust, want: this.deps.config.canaryRequests } : null,
      trace: {
        requests: trees?.tracedRequests ?? 0,
        size: trees?.size ?? 0,
        replicas: trees?.replicaNames.length ?? 0,
        quiet: trees?.quiet ?? 0,
        stableAfter: this.deps.config.stableRequests,
        refused: trees?.refused ?? {},
      },
      compile: st.lastCompile
        ? {
            result: st.lastCompile.result,
            version: st.lastCompile.key,
            seconds: st.lastCompile.seconds,
            cached: st.lastCompile.cached,
            at: st.lastCompile.finishedAt,
            functions: st.lastCompile.functions,
            diagnostics: st.lastCompile.diagnostics,
          }
        : null,
      compiling: st.phase === 'compiling' ? this.deps.builds.progress?.(st.fn) || 'queued' : null,
      requests: { ...st.counts },
      fallbacks: { ...st.fallbacks },
      cost: st.cost ?? null,
      promotions: st.promotions,
      demotions: st.demotions,
    };
  }

  private statePath(fn: FnRef): string {
    return join(this.deps.stateDir, 'promotion', fn.namespace, fn.name, 'controller.json');
  }

  private async load(fn: FnRef): Promise<Saved | undefined> {
    try {
      const s = JSON.parse(await readFile(this.statePath(fn), 'utf8')) as Saved;
      return { ...s, rejected: s.rejected ?? {}, fallbacks: s.fallbacks ?? {}, demotions: s.demotions ?? [], promotions: s.promotions ?? 0 };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`promotion: ignoring unreadable ${this.statePath(fn)}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private saving = new Map<string, Promise<void>>();

  private save(st: FnState): Promise<void> {
    const saved: Saved = {
      deployment: st.deployment,
      engine: st.dispatcher ? 'rust' : st.engine,
      version: st.version,
      lastCompile: st.lastCompile,
      attempted: st.attempted,
      rejected: st.rejected,
      fallbacks: st.fallbacks,
      cost: st.cost,
      promotions: st.promotions,
      demotions: st.demotions,
      promotedAt: st.promotedAt,
    };
    const path = this.statePath(st.fn);
    const p = (this.saving.get(st.key) ?? Promise.resolve())
      .then(async () => {
        if (this.fns.get(st.key) !== st) return;
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(`${path}.tmp`, JSON.stringify(saved, null, 1));
        await rename(`${path}.tmp`, path);
      })
      .catch((err: unknown) => this.log(`promotion: cannot save ${path}: ${(err as Error).message}`));
    this.saving.set(st.key, p);
    return p;
  }

  private async sourceSha(info: PromotionInfo): Promise<string | undefined> {
    try {
      return createHash('sha256')
        .update(await readFile(info.handlerFile, 'utf8'))
        .digest('hex');
    } catch {
      return undefined;
    }
  }
}

function fmt(c: EngineCost): string {
  const cpu = c.cpuUsPerRequest === undefined ? 'CPU unknown' : `${c.cpuUsPerRequest.toFixed(0)} µs CPU`;
  const p50 = c.p50Ms === undefined ? '' : `, p50 ${c.p50Ms.toFixed(2)} ms`;
  return `${cpu}${p50} per request over ${c.requests}`;
}
