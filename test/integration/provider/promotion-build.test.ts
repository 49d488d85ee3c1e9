/**
 * The promotion lifecycle's builds and dispatcher replicas on this machine, with real cargo builds of a tiny
 * handler traced in Node:
 *
 * - LocalCargoBuilder: a build gives 'ok' and a binary that answers as the handler does; the same inputs again
 *   come from the cache without cargo; a tree of another source is 'failed'; a tree the compiler cannot make
 *   a dispatcher of is 'unsupported' (kept, so it is not tried again);
 * - LocalDispatcherHost: start, ready, answer, stop (an expected exit); a binary that exits at once rejects
 *   start with its reason; a killed dispatcher's exit is unexpected; its CPU time grows with work.
 *
 * Builds use the shared cache ($CONTAINERLESS_CACHE, default ~/.cache/containerless) so that a warm machine
 * does not recompile the runtime; each run gives the builder its own version string, so its keys are new
 * (the folders it made under v1/dispatchers/ are removed at the end).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../../../lib/index.ts';
import { buildProfileFromEnv } from '../../../compiler/index.ts';
import { buildKey, LocalCargoBuilder, runtimeVersion } from '../../../provider/promotion/builder.ts';
import { LocalDispatcherHost, processCpuSeconds, type LocalDispatcher } from '../../../provider/promotion/dispatchers.ts';
import type { BuildOutcome, BuildRequest, DispatcherHandle, FnRef } from '../../../provider/promotion/types.ts';
import { prepare, Tracer, type TraceIR } from '../../../trace/index.ts';
import { createRunnerApp, loadHandler } from '../../../watchdog/index.ts';

const TMP = mkdtempSync(join(tmpdir(), 'cl-promotion-build-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const HANDLER = `'use strict';
// GET ?name=&n=: a greeting and a sum of squares (n loops: work for the CPU test); POST: the body's keys.
module.exports = async (event, context) => {
  if (event.method === 'POST') {
    const keys = Object.keys(event.body || {});
    return { keys: keys, count: keys.length };
  }
  const n = parseInt(event.query.n || '0', 10);
  let s = 0;
  for (let i = 0; i < n; i++) s = (s + i * i) % 1000003;
  return { hello: event.query.name || 'world', n: n, s: s };
};
`;

interface Sent {
  method: string;
  path: string;
  body?: string;
}
interface Answer {
  status: number;
  type: string | null;
  body: string;
}

const SENT: Sent[] = [
  { method: 'GET', path: '/hello?name=x' },
  { method: 'GET', path: '/sum?n=1000' },
  { method: 'GET', path: '/' },
  { method: 'POST', path: '/echo', body: '{"a":1,"b":[2]}' },
];

async function send(base: string, s: Sent): Promise<Answer> {
  const res = await fetch(`${base}${s.path}`, {
    method: s.method,
    ...(s.body !== undefined ? { body: s.body, headers: { 'content-type': 'application/json' } } : {}),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

/** Traces `source` (as handler.js) in Node with the requests, and gives the tree and Node's answers. */
async function trace(source: string, name: string, sent: Sent[]): Promise<{ trace: TraceIR; answers: Answer[] }> {
  const dir = mkdtempSync(join(TMP, 'fn-'));
  writeFileSync(join(dir, 'handler.js'), source);
  const prepared = prepare(source, 'handler.js');
  const tracer = new Tracer(prepared, name);
  const handler = loadHandler(dir, { source: prepared.instrumented, inject: { __cl: tracer.runtime } });
  const server = createRunnerApp({ handler, choose: () => ({ handler, around: (fn) => tracer.run(fn) }) }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const answers: Answer[] = [];
  try {
    for (const s of sent) answers.push(await send(base, s));
  } finally {
    server.close();
  }
  return { trace: tracer.trace(), answers };
}

const FN: FnRef = { name: 'cl-test-promote', namespace: 'openfaas-fn' };
/** This run's version string: its keys are new, so the first build really runs cargo. */
const VERSION = `${runtimeVersion()}+test-${Date.now().toString(36)}`;
const builder = new LocalCargoBuilder({ version: VERSION });
after(() => {
  for (const key of made) rmSync(builder.dirOf(key), { recursive: true, force: true });
});
const made = new Set<string>();

async function build(req: BuildRequest, lines: string[] = []): Promise<BuildOutcome> {
  made.add(builder.keyOf(req));
  return builder.build(req, { onProgress: (l) => lines.push(l) });
}

let traced: { trace: TraceIR; answers: Answer[] };
let built: BuildOutcome;
let buildLines: string[];

before(async function () {
  this.timeout(900_000);
  traced = await trace(HANDLER, FN.name, SENT);
  buildLines = [];
  built = await build({ fn: FN, trace: traced.trace, source: HANDLER }, buildLines);
});

describe('build keys', () => {
  it('hash the tree, the source and the runtime version, not how many requests the tree holds', () => {
    const t = traced.trace;
    const k = buildKey(t, HANDLER, 'v1');
    expect(k).to.match(/^[0-9a-f]{64}$/);
    expect(buildKey({ ...t, requests: t.requests + 7 }, HANDLER, 'v1')).to.equal(k);
    expect(buildKey(JSON.parse(JSON.stringify(t)) as TraceIR, HANDLER, 'v1')).to.equal(k);
    expect(buildKey(t, `${HANDLER}\n`, 'v1')).to.not.equal(k);
    expect(buildKey(t, HANDLER, 'v2')).to.not.equal(k);
    expect(buildKey({ ...t, sites: {} }, HANDLER, 'v1')).to.not.equal(k);
    // The profile is part of the key: a dispatcher built with another one is another build.
    const req = { fn: FN, trace: t, source: HANDLER };
    expect(new LocalCargoBuilder({ profile: 'release' }).keyOf(req)).to.equal(buildKey(t, HANDLER, `${runtimeVersion()} release`));
    expect(new LocalCargoBuilder({ profile: 'optimized' }).keyOf(req)).to.equal(buildKey(t, HANDLER, `${runtimeVersion()} optimized`));
  });

  it('builds with $CONTAINERLESS_BUILD_PROFILE, optimized when unset, and names the choices when it is wrong', () => {
    expect(buildProfileFromEnv({})).to.equal('optimized');
    expect(buildProfileFromEnv({ CONTAINERLESS_BUILD_PROFILE: '' })).to.equal('optimized');
    expect(buildProfileFromEnv({ CONTAINERLESS_BUILD_PROFILE: 'release' })).to.equal('release');
    expect(() => buildProfileFromEnv({ CONTAINERLESS_BUILD_PROFILE: 'fast' })).to.throw(
      "CONTAINERLESS_BUILD_PROFILE must be one of release, optimized, not 'fast'",
    );
    expect(new LocalCargoBuilder({ profile: 'release' }).profile).to.equal('release');
  });

  it('runtimeVersion is a stable hash of the runtime, Cargo.lock and the compiler', () => {
    expect(runtimeVersion()).to.match(/^[0-9a-f]{64}$/);
    expect(runtimeVersion()).to.equal(runtimeVersion());
  });
});

describe('LocalCargoBuilder (real cargo)', () => {
  it("builds 'ok': a binary kept under v1/dispatchers/<key>/ with result.json", () => {
    expect(built.result, built.diagnostics.join('\n')).to.equal('ok');
    expect(built.cached).to.equal(false);
    expect(built.functions).to.be.greaterThan(1);
    expect(built.key).to.equal(builder.keyOf({ fn: FN, trace: traced.trace, source: HANDLER }));
    const dir = join(cacheDir(), 'v1/dispatchers', built.key);
    expect(built.binary).to.equal(join(dir, 'dispatcher'));
    expect(existsSync(built.binary!)).to.equal(true);
    const saved = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as BuildOutcome;
    expect(saved).to.include({ key: built.key, result: 'ok', cached: false });
    expect(
      buildLines.some((l) => /building fn-cl-test-promote-openfaas-fn \(release\)/.test(l)),
      buildLines.join('\n'),
    ).to.equal(true);
  });

  it('gives the same inputs from the cache, without cargo (also to a new builder, as after a restart)', async () => {
    for (const b of [builder, new LocalCargoBuilder({ version: VERSION })]) {
      const lines: string[] = [];
      const t0 = Date.now();
      const again = await b.build(
        { fn: FN, trace: { ...traced.trace, requests: traced.trace.requests + 5 }, source: HANDLER },
        { onProgress: (l) => lines.push(l) },
      );
      expect(Date.now() - t0).to.be.below(1000);
      expect(again).to.include({ key: built.key, result: 'ok', cached: true, seconds: 0, binary: built.binary });
      expect(
        lines.filter((l) => /cargo|Compiling|building/.test(l)),
        lines.join('\n'),
      ).to.deep.equal([]);
      expect(await b.cached(built.key)).to.deep.equal(again);
    }
  });

  it("is 'failed' for a tree of another source, naming both versions", async () => {
    const other = `${HANDLER}// changed\n`;
    const o = await build({ fn: FN, trace: traced.trace, source: other });
    expect(o.result).to.equal('failed');
    expect(o.binary).to.equal(undefined);
    const sha = createHash('sha256').update(other).digest('hex');
    expect(o.diagnostics.join('\n'))
      .to.include('another version of handler.js')
      .and.include(sha.slice(0, 12))
      .and.include(traced.trace.source.sha256.slice(0, 12));
  });

  it("is 'unsupported' when the module's top level is not compiled, and keeps that result", async () => {
    const source = `const table = {};\nwith (table) {}\n${HANDLER.replace("'use strict';\n", '')}`;
    const t = await trace(source, 'cl-test-unsupported', SENT.slice(0, 1));
    expect(t.answers[0].status, 'Node serves it').to.equal(200);
    const req: BuildRequest = { fn: { name: 'cl-test-unsupported', namespace: 'openfaas-fn' }, trace: t.trace, source };
    const lines: string[] = [];
    const o = await build(req, lines);
    expect(o.result, o.diagnostics.join('\n')).to.equal('unsupported');
    expect(o.functions).to.equal(0);
    expect(o.diagnostics.join('\n')).to.match(/^unsupported: the module's top level uses what is not compiled \(a with statement at line 2\)/m);
    expect(o.diagnostics.join('\n')).to.match(/handler\.js:2:1: warning C002: a with statement is not compiled/);
    expect(lines.filter((l) => /Compiling|building/.test(l))).to.deep.equal([]);
    const again = await builder.build(req, {});
    expect(again).to.include({ result: 'unsupported', cached: true });
  });

  it('warms the build cache once per runtime version (a one-line handler built), then returns at once', async () => {
    const lines: string[] = [];
    const warmer = new LocalCargoBuilder({ version: `${VERSION}-warm` });
    expect(await warmer.warm({ log: (l) => lines.push(l) })).to.equal(true);
    expect(lines.join('\n')).to.match(/the build cache is warm/);
    const marker = warmer.warmMarker();
    expect(existsSync(marker)).to.equal(true);
    expect(marker, 'a marker of its own runtime version').to.not.equal(builder.warmMarker());
    const t0 = Date.now();
    const again: string[] = [];
    expect(await warmer.warm({ log: (l) => again.push(l) })).to.equal(true);
    expect(again, 'nothing built the second time').to.deep.equal([]);
    expect(Date.now() - t0).to.be.below(1000);
    rmSync(marker, { force: true });
  });

  it("is 'unsupported' when no function compiles (a generator handler)", async () => {
    const source = `module.exports = function* (event, context) { yield 1; };\n`;
    const prepared = prepare(source, 'handler.js');
    const t = new Tracer(prepared, 'cl-test-generator').trace();
    const o = await build({ fn: { name: 'cl-test-generator', namespace: 'openfaas-fn' }, trace: { ...t, requests: 1 }, source });
    expect(o.result).to.equal('unsupported');
    expect(o.diagnostics.join('\n')).to.include('no JavaScript function compiles');
  });
});

describe('LocalDispatcherHost', () => {
  let host: LocalDispatcherHost;
  beforeEach(() => (host = new LocalDispatcherHost()));
  afterEach(() => host.close());

  const start = (lines: string[] = [], env: Record<string, string> = {}): Promise<DispatcherHandle> =>
    host.start({ fn: FN, binary: built.binary!, version: built.key, env, log: (l) => lines.push(l) }, { readyTimeoutMs: 20_000 });

  it('starts a dispatcher that answers as Node did, then stops it (an expected exit)', async () => {
    expect(built.result, built.diagnostics.join('\n')).to.equal('ok');
    const lines: string[] = [];
    const d = await start(lines);
    expect(d.instance).to.equal('cl-test-promote-rust-1');
    expect(d.version).to.equal(built.key);
    expect(d.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ready = await fetch(`${d.url}/_/ready`);
    expect(ready.status).to.equal(200);
    for (let i = 0; i < SENT.length; i++) {
      const res = await fetch(`${d.url}${SENT[i].path}`, {
        method: SENT[i].method,
        ...(SENT[i].body !== undefined ? { body: SENT[i].body, headers: { 'content-type': 'application/json' } } : {}),
      });
      expect(res.headers.get('x-containerless-fallback'), `${SENT[i].path} fell back`).to.equal(null);
      const answer = { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
      expect(answer, `${SENT[i].method} ${SENT[i].path}`).to.deep.equal(traced.answers[i]);
    }
    expect(d.rssBytes()).to.be.greaterThan(0);
    await d.stop(5000);
    expect(await d.exited).to.deep.equal({ code: 0, signal: null, expected: true });
    expect(d.cpuSeconds()).to.equal(undefined);
    expect(lines.length, 'its request log lines reach spec.log').to.be.greaterThan(0);
    const second = await start();
    expect(second.instance).to.equal('cl-test-promote-rust-2');
  });

  it("gives the dispatcher PATH, HOME, LANG, TZ, the spec's env, port and bind=127.0.0.1, nothing else of the provider's", async () => {
    const script = join(TMP, 'env.sh');
    writeFileSync(script, '#!/bin/sh\nenv | sort\nexit 3\n');
    chmodSync(script, 0o755);
    process.env.CL_TEST_PROVIDER_SECRET = 'hunter2';
    try {
      const err = await host.start({ fn: FN, binary: script, version: 'x', env: { exec_timeout: '5s', RAW_BODY: 'true' } }).then(
        () => undefined,
        (e: Error) => e,
      );
      const vars = (err?.message ?? '')
        .split('\n')
        .slice(1)
        .map((l) => l.split('=')[0])
        .filter((v) => !['PWD', 'SHLVL', '_'].includes(v)); // set by sh itself
      const expected = ['PATH', 'HOME', 'LANG', 'TZ'].filter((v) => process.env[v] !== undefined);
      expect(vars.sort(), err?.message).to.deep.equal([...expected, 'RAW_BODY', 'bind', 'exec_timeout', 'port'].sort());
      expect(err!.message).to.include('bind=127.0.0.1').and.include('exec_timeout=5s').and.not.include('hunter2');
    } finally {
      delete process.env.CL_TEST_PROVIDER_SECRET;
    }
    // The real dispatcher reads the spec's env: a bad exec_timeout is a problem it names, and it exits.
    const bad = await start([], { exec_timeout: 'soon' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(bad?.message).to.match(/exited \(code \d+\) before it was ready/);
    expect(bad?.message).to.include('exec_timeout');
  });

  it('rejects start with the reason when the binary exits at once', async () => {
    const script = join(TMP, 'exits.sh');
    writeFileSync(script, '#!/bin/sh\necho "starting on port $port bind $bind"\necho "boom: cannot serve" >&2\nexit 3\n');
    chmodSync(script, 0o755);
    const err = await host.start({ fn: FN, binary: script, version: 'x', env: {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err, 'start should reject').to.be.instanceOf(Error);
    expect(err!.message).to.match(/^dispatcher cl-test-promote-rust-1 exited \(code 3\) before it was ready/);
    expect(err!.message)
      .to.include('boom: cannot serve')
      .and.match(/starting on port \d+ bind 127\.0\.0\.1/);
    const missing = await host.start({ fn: FN, binary: join(TMP, 'no-such-binary'), version: 'x', env: {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(missing?.message).to.match(/could not start: .*ENOENT/);
  });

  it('rejects start when the dispatcher is not ready in time, and stops it', async () => {
    const script = join(TMP, 'sleeps.sh');
    writeFileSync(script, '#!/bin/sh\necho "never listening"\nexec sleep 30\n');
    chmodSync(script, 0o755);
    const t0 = Date.now();
    const err = await host.start({ fn: FN, binary: script, version: 'x', env: {} }, { readyTimeoutMs: 500 }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/did not answer GET \/_\/ready with 200 within 500 ms; its last lines:\nnever listening/);
    expect(Date.now() - t0).to.be.below(5000);
  });

  it('resolves exited with expected=false when the process is killed', async () => {
    const d = (await start()) as LocalDispatcher;
    expect(d.pid).to.be.a('number');
    process.kill(d.pid!, 'SIGKILL');
    expect(await d.exited).to.deep.equal({ code: null, signal: 'SIGKILL', expected: false });
  });

  it('stops, at the next start, the dispatchers a killed provider left running (its pid file), and nothing else', async () => {
    const pidFile = join(TMP, 'leftovers', 'dispatchers.json');
    const first = new LocalDispatcherHost({ pidFile });
    const d = (await first.start({ fn: FN, binary: built.binary!, version: built.key, env: {} }, { readyTimeoutMs: 20_000 })) as LocalDispatcher;
    // An unrelated process of ours whose pid is also in the file, with another binary: left alone.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 200));
    const listed = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; binary: string }[];
    expect(listed).to.deep.equal([{ pid: d.pid, binary: built.binary }]);
    writeFileSync(pidFile, JSON.stringify([...listed, { pid: other.pid, binary: built.binary }]));
    // The "killed provider": `first` is never closed. A new host with the same pid file cleans up.
    const second = new LocalDispatcherHost({ pidFile, stopGraceMs: 5000 });
    await second.stopLeftovers();
    expect(await d.exited).to.deep.include({ expected: false });
    expect(other.exitCode).to.equal(null);
    process.kill(other.pid!, 'SIGTERM');
    expect(JSON.parse(readFileSync(pidFile, 'utf8'))).to.deep.equal([]);
    await second.close();
    await first.close();
  });

  it('reports CPU seconds that grow with work, also through processCpuSeconds(pid)', async function () {
    const d = (await start()) as LocalDispatcher;
    const before = d.cpuSeconds();
    expect(before).to.be.a('number');
    expect(processCpuSeconds(d.pid!)).to.be.closeTo(before!, 0.05);
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${d.url}/sum?n=1000000`);
      expect(res.headers.get('x-containerless-fallback')).to.equal(null);
      expect(res.status).to.equal(200);
      await res.text();
    }
    const after = d.cpuSeconds()!;
    expect(after, `cpu ${before} -> ${after}`).to.be.greaterThan(before! + 0.05);
    expect(processCpuSeconds(process.pid)).to.be.greaterThan(0);
    expect(processCpuSeconds(2 ** 30)).to.equal(undefined);
  });
});
