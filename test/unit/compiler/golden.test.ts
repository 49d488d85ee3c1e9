/**
 * Golden fixtures for the compiler: for each handler in test/fixtures/compiler, the instrumented code, the
 * trace of its sample requests, and the generated Rust are compared with the files beside it.
 * UPDATE_GOLDEN=1 rewrites them. Also: the plain and instrumented handlers answer alike, traces validate,
 * and merging traces of parts of the requests equals tracing them all.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { generateRust } from '../../../compiler/index.ts';
import { mergeTraces, prepare, Tracer, validateTrace, type TraceIR } from '../../../trace/index.ts';

const dir = join(import.meta.dirname, '../../fixtures/compiler');
const update = !!process.env.UPDATE_GOLDEN;

function golden(file: string, actual: string): void {
  const path = join(dir, file);
  if (update || !existsSync(path)) writeFileSync(path, actual);
  expect(actual, `${file} differs from its golden copy (UPDATE_GOLDEN=1 rewrites it)`).to.equal(readFileSync(path, 'utf8'));
}

/** A context with the node template's methods, enough for handlers that return via succeed(). */
function context(): Record<string, unknown> {
  const c: Record<string, any> = { statusCode: 200 };
  c.status = (s?: number) => (s === undefined ? c.statusCode : ((c.statusCode = s), c));
  c.headers = () => c;
  c.succeed = (v: unknown) => v;
  c.fail = (v: unknown) => v;
  return c;
}

function load(source: string, file: string, inject: Record<string, unknown> = {}): any {
  const mod: { exports: any } = { exports: {} };
  const names = Object.keys(inject);
  new Function('module', 'exports', 'require', ...names, source)(mod, mod.exports, createRequire(file), ...names.map((n) => inject[n]));
  return mod.exports;
}

async function traceOf(name: string, bodies: unknown[]): Promise<{ trace: TraceIR; traced: unknown[] }> {
  const file = join(dir, `${name}.js`);
  const p = prepare(readFileSync(file, 'utf8'), `${name}.js`);
  const tracer = new Tracer(p, name);
  const handler = load(p.instrumented, file, { __cl: tracer.runtime });
  const traced = [];
  for (const body of bodies) traced.push(await tracer.run(() => handler({ body }, context())));
  return { trace: tracer.trace(), traced };
}

const fixtures = readdirSync(dir)
  .filter((f) => /^[a-z-]+\.js$/.test(f))
  .map((f) => f.slice(0, -3));

describe('compiler golden fixtures', () => {
  for (const name of fixtures) {
    describe(name, () => {
      const file = join(dir, `${name}.js`);
      const source = readFileSync(file, 'utf8');
      const bodies = JSON.parse(readFileSync(join(dir, `${name}.requests.json`), 'utf8')) as unknown[];

      it('normalises and instruments to the golden code', () => {
        const p = prepare(source, `${name}.js`);
        expect(p.diagnostics).to.deep.equal([]);
        golden(`${name}.instrumented.golden.js`, p.instrumented);
      });

      it('answers like the plain handler when instrumented', async () => {
        const plain = load(source, file);
        const expected = [];
        for (const body of bodies) expected.push(await plain({ body }, context()));
        const { traced } = await traceOf(name, bodies);
        expect(traced).to.deep.equal(expected);
      });

      it('traces to the golden tree, which validates', async () => {
        const { trace } = await traceOf(name, bodies);
        expect(validateTrace(trace)).to.equal(null);
        golden(`${name}.trace.golden.json`, `${JSON.stringify(trace, null, 1)}\n`);
      });

      it('merges traces of parts into the trace of the whole', async () => {
        const whole = (await traceOf(name, bodies)).trace;
        let merged = (await traceOf(name, bodies.slice(0, 1))).trace;
        for (const b of bodies.slice(1)) merged = mergeTraces(merged, (await traceOf(name, [b])).trace);
        expect(merged.requests).to.equal(whole.requests);
        expect(JSON.stringify(merged.program)).to.equal(JSON.stringify(whole.program));
        for (const [k, v] of Object.entries(whole.sites)) {
          const m = merged.sites[k];
          expect(m?.br, `site ${k}`).to.equal(v.br);
          expect(m?.ty, `site ${k}`).to.deep.equal(v.ty);
          expect([...(m?.callees ?? [])].sort(), `site ${k}`).to.deep.equal([...(v.callees ?? [])].sort());
        }
      });

      it('generates the golden Rust', async () => {
        const { trace } = await traceOf(name, bodies);
        const g = generateRust(trace, { name });
        golden(`${name}.golden.rs`, g.main);
      });
    });
  }
});

describe('Tracer', () => {
  it('traces requests in flight at once independently', async () => {
    const file = join(dir, 'closures.js');
    const p = prepare(readFileSync(file, 'utf8'), 'closures.js');
    const seq = new Tracer(p, 'x');
    const hs = load(p.instrumented, file, { __cl: seq.runtime });
    await seq.run(() => hs({ body: { start: 1, times: 2 } }, context()));
    await seq.run(() => hs({ body: { start: 10, times: 0 } }, context()));
    const par = new Tracer(p, 'x');
    const hp = load(p.instrumented, file, { __cl: par.runtime });
    await Promise.all([par.run(() => hp({ body: { start: 1, times: 2 } }, context())), par.run(() => hp({ body: { start: 10, times: 0 } }, context()))]);
    expect(JSON.stringify(par.trace().program)).to.equal(JSON.stringify(seq.trace().program));
    expect(par.trace().sites).to.deep.equal(seq.trace().sites);
  });

  it('leaves untaken branches unknown', async () => {
    const { trace } = await traceOf('branches', [{ kind: 'a', user: { name: 'x' } }]);
    const text = JSON.stringify(trace.program);
    expect(text).to.contain('"ClUnknown"');
    const full = (await traceOf('branches', JSON.parse(readFileSync(join(dir, 'branches.requests.json'), 'utf8')))).trace;
    expect((text.match(/ClUnknown/g) ?? []).length).to.be.greaterThan((JSON.stringify(full.program).match(/ClUnknown/g) ?? []).length);
  });
});

describe('validateTrace', () => {
  it('rejects a trace with an unknown field, naming it', async () => {
    const { trace } = await traceOf('closures', [{ start: 1, times: 1 }]);
    expect(validateTrace({ ...trace, extra: 1 })).to.match(/additional/);
    expect(validateTrace({ ...trace, version: 2 })).to.match(/version/);
  });
});

describe('prepare', () => {
  it('reports a syntax error as a diagnostic with its location, without throwing', () => {
    const p = prepare('module.exports = async (e) => {\n  return 1 +;\n}', 'handler.js');
    expect(p.diagnostics).to.have.length(1);
    expect(p.diagnostics[0]).to.include({ code: 'C001', file: 'handler.js', line: 2 });
  });

  it('names unsupported constructs and their location', () => {
    const p = prepare('function* g() { yield 1 }\nmodule.exports = async () => { with ({}) {} return [...g()] }', 'handler.js');
    const codes = p.diagnostics.map((d) => `${d.code}@${d.line}:${d.column}:${d.message.split(' is ')[0]}`);
    expect(codes).to.deep.equal(['C002@1:1:a generator function', 'C002@2:32:a with statement']);
  });
});
