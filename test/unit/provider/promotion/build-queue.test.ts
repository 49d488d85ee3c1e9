/**
 * BuildQueue with a builder that builds nothing: each build waits until the test finishes it, so the tests
 * see the queue's order, replacement, joins and cancellation (the real cargo builder is tested in
 * test/integration/provider/promotion-build.test.ts).
 */
import { expect } from 'chai';
import { BuildCancelledError, BuildQueue, canonicalJson, isDeterministicFailure } from '../../../../provider/promotion/builder.ts';
import type { BuildOutcome, BuildRequest, DispatcherBuilder, FnRef } from '../../../../provider/promotion/types.ts';
import type { TraceIR } from '../../../../trace/index.ts';

interface Started {
  key: string;
  fn: FnRef;
  signal?: AbortSignal;
  finish: (result?: BuildOutcome['result']) => void;
  fail: (err: Error) => void;
}

/** A builder whose key is the request's source and whose builds finish when the test says so. */
class HeldBuilder implements DispatcherBuilder {
  readonly started: Started[] = [];
  readonly cache = new Map<string, BuildOutcome>();

  keyOf(req: BuildRequest): string {
    return req.source;
  }

  async cached(key: string): Promise<BuildOutcome | undefined> {
    return this.cache.get(key);
  }

  build(req: BuildRequest, opts: { signal?: AbortSignal; onProgress?: (line: string) => void }): Promise<BuildOutcome> {
    return new Promise((resolve, reject) => {
      const key = this.keyOf(req);
      opts.onProgress?.(`[   0s] Compiling ${key}`);
      opts.signal?.addEventListener('abort', () => reject(new BuildCancelledError('aborted')), { once: true });
      this.started.push({
        key,
        fn: req.fn,
        signal: opts.signal,
        finish: (result = 'ok') => resolve(outcome(key, result)),
        fail: reject,
      });
    });
  }

  keys(): string[] {
    return this.started.map((s) => s.key);
  }
}

const outcome = (key: string, result: BuildOutcome['result'] = 'ok', cached = false): BuildOutcome => ({
  key,
  result,
  ...(result === 'ok' ? { binary: `/bin/${key}` } : {}),
  seconds: cached ? 0 : 1,
  cached,
  diagnostics: result === 'ok' ? [] : [`cargo: ${key} failed`],
  functions: 2,
  finishedAt: new Date(0).toISOString(),
});

const fn = (name: string): FnRef => ({ name, namespace: 'openfaas-fn' });
const req = (name: string, key: string): BuildRequest => ({ fn: fn(name), source: key, trace: { function: name } as unknown as TraceIR });

/** Lets the queue's promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The state of a promise right now. */
async function state<T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> {
  const marker = Symbol('pending');
  try {
    const v = await Promise.race([p, settle().then(() => marker)]);
    return v === marker ? 'pending' : 'resolved';
  } catch {
    return 'rejected';
  }
}

describe('BuildQueue', () => {
  let builder: HeldBuilder;
  let queue: BuildQueue<HeldBuilder>;
  let lines: string[];

  beforeEach(() => {
    builder = new HeldBuilder();
    lines = [];
    queue = new BuildQueue(builder, { log: (l) => lines.push(l) });
  });
  afterEach(async () => {
    for (const s of builder.started) s.finish();
    await queue.close();
  });

  it('runs one build at a time, first come first served across functions', async () => {
    const a = queue.submit(req('a', 'k1'));
    const b = queue.submit(req('b', 'k2'));
    const c = queue.submit(req('c', 'k3'));
    await settle();
    expect(builder.keys()).to.deep.equal(['k1']);
    expect(queue.running).to.include({ key: 'k1' });
    expect(queue.running!.fn).to.deep.equal(fn('a'));
    expect(queue.pending(fn('b'))).to.include({ key: 'k2', position: 0 });
    expect(queue.pending(fn('c'))).to.include({ key: 'k3', position: 1 });
    expect(queue.pending(fn('a'))).to.equal(undefined);
    expect(queue.size).to.equal(2);

    builder.started[0].finish();
    expect((await a).key).to.equal('k1');
    await settle();
    expect(builder.keys()).to.deep.equal(['k1', 'k2']);
    expect(await state(c)).to.equal('pending');
    builder.started[1].finish('failed');
    expect(await b).to.include({ key: 'k2', result: 'failed' });
    await settle();
    builder.started[2].finish();
    expect((await c).key).to.equal('k3');
    await queue.idle();
    expect(queue.running).to.equal(undefined);
    expect(queue.size).to.equal(0);
  });

  it("replaces a function's waiting build in its place in the line; the earlier caller gets the newer outcome", async () => {
    const a = queue.submit(req('a', 'k1'));
    const bOld = queue.submit(req('b', 'k2'));
    const c = queue.submit(req('c', 'k3'));
    const bNew = queue.submit(req('b', 'k4'));
    await settle();
    expect(queue.pending(fn('b'))).to.include({ key: 'k4', position: 0 });
    expect(queue.size).to.equal(2);
    builder.started[0].finish();
    await a;
    await settle();
    expect(builder.keys()).to.deep.equal(['k1', 'k4']);
    builder.started[1].finish();
    expect((await bNew).key).to.equal('k4');
    expect((await bOld).key).to.equal('k4');
    await settle();
    builder.started[2].finish();
    await c;
    expect(builder.keys(), 'k2 is never built').to.deep.equal(['k1', 'k4', 'k3']);
    expect(lines).to.include('compile b.openfaas-fn: a newer tree replaces the waiting build (key k2 -> k4)');
  });

  it('does not replace the running build of a function: its newer tree waits behind it', async () => {
    const a1 = queue.submit(req('a', 'k1'));
    await settle();
    const a2 = queue.submit(req('a', 'k2'));
    expect(queue.pending(fn('a'))).to.include({ key: 'k2' });
    expect(builder.started[0].signal!.aborted).to.equal(false);
    builder.started[0].finish();
    expect((await a1).key).to.equal('k1');
    await settle();
    builder.started[1].finish();
    expect((await a2).key).to.equal('k2');
  });

  it('joins a request to the running or a waiting build of the same key (one build, the same promise per function)', async () => {
    const a = queue.submit(req('a', 'k1'));
    await settle();
    expect(queue.submit(req('a', 'k1'))).to.equal(a);
    const b = queue.submit(req('b', 'k1'));
    const c = queue.submit(req('c', 'k5'));
    const d = queue.submit(req('d', 'k5'));
    expect(queue.pending(fn('d'))).to.include({ key: 'k5', position: 0 });
    expect(queue.size).to.equal(1);
    expect(queue.running!.fns.map((f) => f.name)).to.deep.equal(['a', 'b']);
    builder.started[0].finish();
    expect(await a).to.equal(await b);
    await settle();
    builder.started[1].finish();
    expect(await c).to.equal(await d);
    expect(builder.keys()).to.deep.equal(['k1', 'k5']);
  });

  it("a function's waiting request that a same-key request of it joins elsewhere follows that build", async () => {
    const a = queue.submit(req('a', 'k1'));
    const bOld = queue.submit(req('b', 'k2'));
    const bNew = queue.submit(req('b', 'k1'));
    await settle();
    expect(queue.size, 'the waiting k2 build is dropped').to.equal(0);
    builder.started[0].finish();
    expect((await bOld).key).to.equal('k1');
    expect(await bNew).to.equal(await a);
    await queue.idle();
    expect(builder.keys()).to.deep.equal(['k1']);
  });

  it('cancel drops a waiting build and aborts a running one; their promises reject with BuildCancelledError', async () => {
    const a = queue.submit(req('a', 'k1'));
    const b = queue.submit(req('b', 'k2'));
    const c = queue.submit(req('c', 'k3'));
    await settle();
    expect(queue.cancel(fn('b'))).to.equal(true);
    expect(queue.pending(fn('b'))).to.equal(undefined);
    expect(queue.cancel(fn('b'))).to.equal(false);
    const errB = await b.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errB).to.be.instanceOf(BuildCancelledError);
    expect(queue.cancel(fn('a'))).to.equal(true);
    expect(builder.started[0].signal!.aborted).to.equal(true);
    const errA = await a.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errA).to.be.instanceOf(BuildCancelledError).and.to.have.property('code', 'E_BUILD_CANCELLED');
    await settle();
    expect(builder.keys(), 'the next build starts; the cancelled one never does').to.deep.equal(['k1', 'k3']);
    builder.started[1].finish();
    expect((await c).key).to.equal('k3');
  });

  it('cancelling one function of a shared build leaves it running for the others', async () => {
    const a = queue.submit(req('a', 'k1'));
    const b = queue.submit(req('b', 'k1'));
    await settle();
    queue.cancel(fn('a'));
    expect(await state(a)).to.equal('rejected');
    expect(builder.started[0].signal!.aborted).to.equal(false);
    builder.started[0].finish();
    expect((await b).key).to.equal('k1');
  });

  it("settles a build the builder's cache holds without waiting for its turn", async () => {
    builder.cache.set('k9', outcome('k9', 'ok', true));
    const a = queue.submit(req('a', 'k1'));
    const b = queue.submit(req('b', 'k9'));
    expect(await b).to.include({ key: 'k9', cached: true });
    expect(await state(a)).to.equal('pending');
    expect(builder.keys()).to.deep.equal(['k1']);
    expect(queue.size).to.equal(0);
    builder.started[0].finish();
    await a;
  });

  it("gives a 'failed' outcome when the builder throws, and goes on with the next build", async () => {
    const a = queue.submit(req('a', 'k1'));
    const b = queue.submit(req('b', 'k2'));
    await settle();
    builder.started[0].fail(new Error('disk full'));
    const o = await a;
    expect(o).to.include({ key: 'k1', result: 'failed', cached: false });
    expect(o.diagnostics).to.deep.equal(['build: disk full']);
    await settle();
    builder.started[1].finish();
    expect((await b).result).to.equal('ok');
  });

  it('prefixes progress lines with the function', async () => {
    const a = queue.submit(req('a', 'k1'));
    await settle();
    builder.started[0].finish();
    await a;
    expect(lines).to.include('compile a.openfaas-fn: [   0s] Compiling k1');
    expect(
      lines.some((l) => /^compile a\.openfaas-fn: ok in 1\.0s \(key k1\)$/.test(l)),
      lines.join('\n'),
    ).to.equal(true);
  });

  it('close cancels everything and refuses later requests', async () => {
    const a = queue.submit(req('a', 'k1'));
    const b = queue.submit(req('b', 'k2'));
    await settle();
    await queue.close();
    expect(await state(a)).to.equal('rejected');
    expect(await state(b)).to.equal('rejected');
    expect(await state(queue.submit(req('c', 'k3')))).to.equal('rejected');
    expect(builder.keys()).to.deep.equal(['k1']);
  });
});

describe('isDeterministicFailure (which failed builds are kept)', () => {
  it('keeps a build rustc refused', () => {
    expect(
      isDeterministicFailure([
        'error[E0308]: mismatched types',
        ' --> src/main.rs:1:26',
        'error: could not compile `fn-a` (bin "fn-a") due to 1 previous error',
      ]),
    ).to.equal(true);
  });
  it('does not keep a failure the next try may not have', () => {
    for (const output of [
      ['error: failed to download from `https://static.crates.io/...`'],
      ['error: linking with `cc` failed: exit status: 1', 'error: could not compile `fn-a` (bin "fn-a") due to 1 previous error'],
      ['error: could not compile `fn-a` (bin "fn-a")', 'Caused by:', "  process didn't exit successfully: `rustc ...` (signal: 9, SIGKILL: kill)"],
      ['error: could not write output: No space left on device (os error 28)', 'error: could not compile `clrt`'],
      ['warning: spurious network error (3 tries remaining)'],
      // A link that met another cargo writing the same target folder: only lld's lines are in the tail.
      ['  = note: rust-lld: error: undefined hidden symbol: clrt::heap::Heap::commit', 'error: could not compile `fn-a` (bin "fn-a") due to 1 previous error'],
      [],
    ]) {
      expect(isDeterministicFailure(output), output.join('\n')).to.equal(false);
    }
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth, keeps array order and drops undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: undefined } })).to.equal('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ x: 1, y: 2 })).to.equal(canonicalJson({ y: 2, x: 1 }));
  });
});
