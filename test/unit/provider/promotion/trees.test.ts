/**
 * FunctionTrees and TreeStore (provider/promotion/trees.ts): merging replicas' cumulative trees (real trees,
 * traced from a handler in-process), refusals, stability counting, and the files under state_dir.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRust } from '../../../../compiler/index.ts';
import { prepare, Tracer, type TraceIR } from '../../../../trace/index.ts';
import { TreeStore, treeSize, type FunctionTrees } from '../../../../provider/promotion/trees.ts';
import type { AcceptResult, TreeMessage } from '../../../../provider/promotion/types.ts';

const SOURCE = `'use strict'
function double(x) {
  return x * 2
}
module.exports = async (event, context) => {
  const b = event.body
  if (b.kind === 'a') return { kind: 'a', n: double(b.n) }
  if (b.kind === 'b') return { kind: 'b', items: [1, 2, 3].map((x) => x + b.n) }
  return { kind: 'other', text: String(b.n) }
}
`;

/** One replica tracing the handler: `send(...bodies)` traces them and returns its cumulative tree. */
class Replica {
  private readonly tracer: Tracer;
  private readonly handler: (event: unknown, context: unknown) => Promise<unknown>;
  constructor(source = SOURCE) {
    const p = prepare(source, 'handler.js');
    this.tracer = new Tracer(p, 'fn');
    const mod: { exports: any } = { exports: {} };
    new Function('module', 'exports', 'require', '__cl', p.instrumented)(mod, mod.exports, createRequire(import.meta.filename), this.tracer.runtime);
    this.handler = mod.exports;
  }
  async send(...bodies: unknown[]): Promise<TraceIR> {
    for (const body of bodies) await this.tracer.run(() => this.handler({ body }, {}));
    return this.tracer.trace();
  }
}

const FN = { name: 'fn', namespace: 'team-a' };
const msg = (replica: string, trace: TraceIR, deployment = 'd1'): TreeMessage => ({ fn: FN, replica, deployment, trace });
const rust = (t: TraceIR | undefined): string => {
  const g = generateRust(t!, { name: 'fn' });
  return JSON.stringify(g);
};
/** As it reads back from a file (undefined fields left out). */
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const ok = (r: AcceptResult): { grew: boolean; tracedDelta: number } => {
  expect(r.accepted, JSON.stringify(r)).to.equal(true);
  return r as { grew: boolean; tracedDelta: number };
};
const refused = (r: AcceptResult): string => {
  expect(r.accepted, JSON.stringify(r)).to.equal(false);
  return (r as { reason: string }).reason;
};

describe('FunctionTrees', () => {
  let dir: string;
  let store: TreeStore;
  let t: FunctionTrees;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cl-trees-'));
    store = new TreeStore({ stateDir: dir, debounceMs: 60_000 });
    t = store.ensure(FN, 'd1');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('merges the same cumulative tree twice into a tree that generates identical Rust, without growing or counting it again', async () => {
    const r = new Replica();
    const tree = await r.send({ kind: 'a', n: 1 }, { kind: 'a', n: 2 }, { kind: 'b', n: 3 });
    const first = ok(t.accept(msg('r1', tree)));
    expect(first).to.deep.equal({ accepted: true, grew: true, tracedDelta: 3 });
    const once = structuredClone(t.trace);
    const code = rust(t.trace);
    const size = t.size;
    const second = ok(t.accept(msg('r1', structuredClone(tree))));
    expect(second).to.deep.equal({ accepted: true, grew: false, tracedDelta: 0 });
    expect(t.trace).to.deep.equal(once);
    expect(rust(t.trace)).to.equal(code);
    expect([t.size, t.tracedRequests, t.trace!.requests]).to.deep.equal([size, 3, 3]);
    // The site counters a plain mergeTraces would add again are not inflated.
    const entered = Object.values(t.trace!.sites).filter((o) => o.n);
    expect(entered.length).to.be.greaterThan(0);
    for (const o of entered) expect(o.n).to.be.at.most(3);
  });

  it('counts each replica by its latest tree: deltas, the sum over replicas, and stale messages', async () => {
    const r1 = new Replica();
    const r2 = new Replica();
    const a2 = await r1.send({ kind: 'a', n: 1 }, { kind: 'a', n: 2 });
    expect(ok(t.accept(msg('r1', a2))).tracedDelta).to.equal(2);
    const a5 = await r1.send({ kind: 'a', n: 3 }, { kind: 'a', n: 4 }, { kind: 'a', n: 5 });
    expect(ok(t.accept(msg('r1', a5)))).to.deep.equal({ accepted: true, grew: false, tracedDelta: 3 });
    const sizeA = t.size;
    const b4 = await r2.send({ kind: 'b', n: 1 }, { kind: 'b', n: 2 }, { kind: 'b', n: 3 }, { kind: 'b', n: 4 });
    expect(ok(t.accept(msg('r2', b4)))).to.deep.equal({ accepted: true, grew: true, tracedDelta: 4 });
    expect(t.tracedRequests).to.equal(9);
    expect(t.trace!.requests).to.equal(9);
    expect(t.size).to.be.greaterThan(sizeA);
    expect(t.size).to.be.greaterThan(treeSize(b4));
    expect(t.replicaNames.sort()).to.deep.equal(['r1', 'r2']);
    // An older tree of r1 (redelivered) adds nothing.
    expect(ok(t.accept(msg('r1', a2)))).to.deep.equal({ accepted: true, grew: false, tracedDelta: 0 });
    expect(t.tracedRequests).to.equal(9);
    // Both replicas' paths are in the merged tree: its Rust is that of one replica that saw everything.
    const both = await new Replica().send({ kind: 'a', n: 1 }, { kind: 'b', n: 1 });
    expect(rust(t.trace)).to.equal(rust(both));
  });

  it('merges in any order to the same Rust', async () => {
    const a = await new Replica().send({ kind: 'a', n: 1 }, { kind: 'x', n: 1 });
    const b = await new Replica().send({ kind: 'b', n: 1 }, { kind: 'a', n: 2 });
    const other = store.ensure({ name: 'other', namespace: 'team-a' }, 'd1');
    ok(t.accept(msg('r1', a)));
    ok(t.accept(msg('r2', b)));
    ok(other.accept({ ...msg('r2', b), fn: other.fn }));
    ok(other.accept({ ...msg('r1', a), fn: other.fn }));
    expect(rust(t.trace)).to.equal(rust(other.trace));
    expect(t.size).to.equal(other.size);
  });

  it('counts quiet requests: a growing tree resets it, a known path adds its traced delta, dispatcher answers add', async () => {
    const r = new Replica();
    ok(t.accept(msg('r1', await r.send({ kind: 'a', n: 1 }))));
    expect(t.quiet).to.equal(0);
    expect(t.stable(3)).to.equal(false);
    ok(t.accept(msg('r1', await r.send({ kind: 'a', n: 2 }, { kind: 'a', n: 3 }))));
    expect(t.quiet).to.equal(2);
    t.noteAnswered(5);
    expect(t.quiet).to.equal(7);
    expect(t.stable(7)).to.equal(true);
    expect(t.stable(8)).to.equal(false);
    // A tree that grew: 0, and its own requests are not counted as quiet.
    expect(ok(t.accept(msg('r1', await r.send({ kind: 'b', n: 1 }, { kind: 'a', n: 4 })))).grew).to.equal(true);
    expect(t.quiet).to.equal(0);
    ok(t.accept(msg('r2', await new Replica().send({ kind: 'a', n: 1 }))));
    expect(t.quiet).to.equal(1);
  });

  it('refuses trees that fail the schema, are too large, come from another deployment or source, and merges none of them', async () => {
    const r = new Replica();
    const tree = await r.send({ kind: 'a', n: 1 });
    ok(t.accept(msg('r1', tree)));
    const before = structuredClone(t.trace);
    const bad: unknown[] = [
      null,
      {},
      { ...tree, format: 'other' },
      { ...tree, requests: -1 },
      { ...tree, sites: { x: {} } },
      { ...tree, program: { type: 'Nope' } },
      { ...tree, extra: 1 },
    ];
    for (const b of bad) expect(refused(t.accept(msg('r1', b as TraceIR)))).to.equal('schema');
    expect(refused(t.accept(null as unknown as TreeMessage))).to.equal('schema');
    expect(refused(t.accept({ ...msg('r1', tree), replica: 5 as unknown as string }))).to.equal('schema');
    const grown = await r.send({ kind: 'b', n: 1 });
    expect(refused(t.accept(msg('r1', grown, 'd0')))).to.equal('deployment');
    expect(refused(t.accept(msg('r1', grown, '')))).to.equal('deployment');
    const other = await new Replica(SOURCE.replace("'other'", "'else'")).send({ kind: 'x', n: 1 });
    const r2 = refused(t.accept(msg('r2', other)));
    expect(r2).to.equal('source');
    expect(t.trace).to.deep.equal(before);
    expect(t.tracedRequests).to.equal(1);
    expect(t.refused).to.deep.equal({ schema: 9, deployment: 2, source: 1 });
  });

  it('refuses a tree over the size cap as too-large, measured or as the caller read it', async () => {
    const small = new TreeStore({ stateDir: dir, maxTreeBytes: 2000 });
    const f = small.ensure(FN, '');
    const tree = await new Replica().send({ kind: 'a', n: 1 }, { kind: 'b', n: 1 });
    expect(Buffer.byteLength(JSON.stringify(tree))).to.be.greaterThan(2000);
    expect(refused(f.accept(msg('r1', tree)))).to.equal('too-large');
    expect(refused(f.accept(msg('r1', tree), 2001))).to.equal('too-large');
    expect(f.trace).to.equal(undefined);
    // As the caller read it: a small number passes.
    ok(f.accept(msg('r1', tree), 100));
  });

  it('refuses trees of another handler source than the deployed one, before the first tree merged', async () => {
    const f = store.ensure({ name: 'src', namespace: 'team-a' }, 'd1', 'a'.repeat(64));
    const tree = await new Replica().send({ kind: 'a', n: 1 });
    expect(refused(f.accept({ ...msg('r1', tree), fn: f.fn }))).to.equal('source');
    const g = store.ensure({ name: 'src', namespace: 'team-a' }, 'd1', tree.source.sha256);
    expect(g).to.equal(f);
    ok(f.accept({ ...msg('r1', tree), fn: f.fn }));
  });

  it("accepts any deployment when the function's is '' (deployed without ids)", async () => {
    const f = store.ensure({ name: 'noid', namespace: 'team-a' }, '');
    ok(f.accept({ ...msg('r1', await new Replica().send({ kind: 'a', n: 1 }), 'whatever'), fn: f.fn }));
    ok(f.accept({ ...msg('r2', await new Replica().send({ kind: 'a', n: 1 }), ''), fn: f.fn }));
    expect(f.tracedRequests).to.equal(2);
  });

  it('drops the tree, replicas, quiet and refusals on reset (a redeploy), and then takes the new deployment only', async () => {
    const r = new Replica();
    ok(t.accept(msg('r1', await r.send({ kind: 'a', n: 1 }, { kind: 'a', n: 1 }))));
    refused(t.accept(msg('r1', await r.send(), 'd0')));
    expect(store.ensure(FN, 'd2')).to.equal(t);
    expect([t.deployment, t.trace, t.size, t.tracedRequests, t.quiet, t.replicaNames, t.refused]).to.deep.equal(['d2', undefined, 0, 0, 0, [], {}]);
    expect(refused(t.accept(msg('r1', await r.send())))).to.equal('deployment');
    expect(ok(t.accept(msg('r9', await new Replica().send({ kind: 'b', n: 1 }), 'd2'))).tracedDelta).to.equal(1);
  });

  it('answers function for a tree of a function the store does not hold', async () => {
    const tree = await new Replica().send({ kind: 'a', n: 1 });
    expect(refused(store.accept({ ...msg('r1', tree), fn: { name: 'nope', namespace: 'team-a' } }))).to.equal('function');
    expect(refused(store.accept({ ...msg('r1', tree), fn: { name: '../x', namespace: 'team-a' } }))).to.equal('function');
    expect(ok(store.accept(msg('r1', tree))).grew).to.equal(true);
    expect(() => store.ensure({ name: '../etc', namespace: 'x' }, '')).to.throw(/RFC 1123/);
  });
});

describe('TreeStore persistence', () => {
  let dir: string;
  const logs: string[] = [];
  const log = (l: string): number => logs.push(l);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cl-trees-'));
    logs.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes tree.json and meta.json that a new store loads back as they were', async () => {
    const s1 = new TreeStore({ stateDir: dir, debounceMs: 60_000, log });
    const t1 = s1.ensure(FN, 'd1');
    const r1 = new Replica();
    const r2 = new Replica();
    ok(t1.accept(msg('r1', await r1.send({ kind: 'a', n: 1 }, { kind: 'a', n: 2 }))));
    ok(t1.accept(msg('r2', await r2.send({ kind: 'b', n: 1 }))));
    ok(t1.accept(msg('r2', await r2.send({ kind: 'b', n: 2 }))));
    refused(t1.accept(msg('r2', await r2.send(), 'old')));
    t1.noteAnswered(4);
    await s1.close();
    const folder = join(dir, 'promotion/team-a/fn');
    expect(JSON.parse(readFileSync(join(folder, 'tree.json'), 'utf8'))).to.deep.equal(json(t1.trace));
    const meta = JSON.parse(readFileSync(join(folder, 'meta.json'), 'utf8'));
    expect(meta).to.include({ deployment: 'd1', quiet: 5, namespace: 'team-a', name: 'fn' });
    expect(meta.replicas).to.deep.equal({ r1: 2, r2: 2 });
    expect(meta.refused).to.deep.equal({ deployment: 1 });

    const s2 = new TreeStore({ stateDir: dir, log });
    const loaded = await s2.loadAll();
    expect(loaded.map((x) => x.fn)).to.deep.equal([FN]);
    const t2 = s2.get(FN)!;
    expect(t2.trace).to.deep.equal(json(t1.trace));
    expect(rust(t2.trace)).to.equal(rust(t1.trace));
    expect([t2.deployment, t2.size, t2.tracedRequests, t2.quiet, t2.replicaNames.sort(), t2.refused]).to.deep.equal([
      'd1',
      t1.size,
      4,
      5,
      ['r1', 'r2'],
      { deployment: 1 },
    ]);
    // The replicas go on sending their cumulative trees: nothing is counted twice, nothing grows.
    expect(ok(t2.accept(msg('r1', await r1.send())))).to.deep.equal({ accepted: true, grew: false, tracedDelta: 0 });
    expect(ok(t2.accept(msg('r2', await r2.send({ kind: 'b', n: 3 }))))).to.deep.equal({ accepted: true, grew: false, tracedDelta: 1 });
    // The same deployment keeps the loaded tree; another resets it.
    expect(s2.ensure(FN, 'd1').trace).to.equal(t2.trace);
    expect(logs).to.deep.equal([]);
    await s2.close();
  });

  it('writes at most once per debounce interval, and at once on flush', async () => {
    const s = new TreeStore({ stateDir: dir, debounceMs: 150 });
    const t = s.ensure(FN, 'd1');
    const r = new Replica();
    const meta = join(dir, 'promotion/team-a/fn/meta.json');
    ok(t.accept(msg('r1', await r.send({ kind: 'a', n: 1 }))));
    expect(existsSync(meta)).to.equal(false);
    await new Promise((res) => setTimeout(res, 400));
    expect(JSON.parse(readFileSync(meta, 'utf8')).replicas).to.deep.equal({ r1: 1 });
    ok(t.accept(msg('r1', await r.send({ kind: 'a', n: 1 }))));
    expect(JSON.parse(readFileSync(meta, 'utf8')).replicas).to.deep.equal({ r1: 1 });
    await s.flush();
    expect(JSON.parse(readFileSync(meta, 'utf8')).replicas).to.deep.equal({ r1: 2 });
  });

  it('logs and skips a corrupt folder, and loads the others', async () => {
    const s1 = new TreeStore({ stateDir: dir, log });
    const good = { name: 'good', namespace: 'ns' };
    ok(s1.ensure(good, '').accept({ ...msg('r1', await new Replica().send({ kind: 'a', n: 1 })), fn: good }));
    await s1.close();
    const bad = (name: string, files: Record<string, string>): void => {
      const d = join(dir, 'promotion/ns', name);
      mkdirSync(d, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    };
    const meta = readFileSync(join(dir, 'promotion/ns/good/meta.json'), 'utf8');
    bad('torn', { 'meta.json': '{"version": 1, "name"' });
    bad('badtree', { 'meta.json': meta, 'tree.json': '{"format": "containerless-trace"}' });
    bad('badmeta', { 'meta.json': JSON.stringify({ ...JSON.parse(meta), quiet: -1 }) });
    bad('empty', {});
    const s2 = new TreeStore({ stateDir: dir, log });
    const loaded = await s2.loadAll();
    expect(loaded.map((x) => x.fn.name)).to.deep.equal(['good']);
    expect(s2.get(good)!.tracedRequests).to.equal(1);
    expect(logs.length).to.equal(3);
    expect(logs.join('\n')).to.match(/torn\.ns: .*JSON/);
    expect(logs.join('\n')).to.match(/badtree\.ns: tree\.json: trace must have required property/);
    expect(logs.join('\n')).to.match(/badmeta\.ns: meta\.json: quiet is not a count/);
    // A fresh tree for the corrupt function replaces its files on the next write.
    const torn = { name: 'torn', namespace: 'ns' };
    ok(s2.ensure(torn, '').accept({ ...msg('r1', await new Replica().send({ kind: 'a', n: 1 })), fn: torn }));
    await s2.flush();
    const s3 = new TreeStore({ stateDir: dir, log });
    expect((await s3.loadAll()).map((x) => x.fn.name).sort()).to.deep.equal(['good', 'torn']);
  });

  it('deletes the function folder on remove, and writes nothing after it', async () => {
    const s = new TreeStore({ stateDir: dir, debounceMs: 20 });
    const t = s.ensure(FN, 'd1');
    ok(t.accept(msg('r1', await new Replica().send({ kind: 'a', n: 1 }))));
    await s.flush();
    const folder = join(dir, 'promotion/team-a/fn');
    expect(existsSync(join(folder, 'tree.json'))).to.equal(true);
    t.noteAnswered(3);
    await s.remove(FN);
    await new Promise((res) => setTimeout(res, 100));
    expect(existsSync(folder)).to.equal(false);
    expect(s.get(FN)).to.equal(undefined);
    expect(refused(t.accept(msg('r1', await new Replica().send({ kind: 'a', n: 1 }))))).to.equal('function');
    expect(existsSync(folder)).to.equal(false);
  });
});
