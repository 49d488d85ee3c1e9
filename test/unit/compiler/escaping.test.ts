/**
 * No input can inject Rust code: string literals, property keys, identifiers, labels, regexes and module
 * names from the handler reach the generated source only as UTF-16 number arrays or rebuilt identifiers.
 * Property test over arbitrary strings (fast-check), checked on the generated text; one adversarial sample is
 * compiled for real in test/integration/compiler/check.test.ts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { generateRust } from '../../../compiler/index.ts';
import { prepare, Tracer } from '../../../trace/index.ts';

/** Traces a handler once (module load only) and generates its Rust. */
function gen(source: string): string {
  const p = prepare(source, 'handler.js');
  const t = new Tracer(p, 'fuzz');
  const mod: { exports: unknown } = { exports: {} };
  try {
    new Function('module', 'exports', 'require', '__cl', p.instrumented)(mod, mod.exports, () => ({}), t.runtime);
  } catch {
    // Throwing at load time is fine: the trace records what ran.
  }
  return generateRust(t.trace(), { name: 'fuzz' }).main;
}

/** The generated source with the string table removed: what user text could appear in. */
function code(main: string): string {
  return main
    .split('\n')
    .filter((l) => !/^const S\d+: &\[u16\] = &\[[\d, ]*\];$/.test(l))
    .join('\n');
}

const ident = fc.stringMatching(/^[A-Za-z_$\u00c0-\u024f][A-Za-z0-9_$\u00c0-\u024f]{0,12}$/).filter((s) => !RESERVED.has(s));
const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static enum await implements package protected interface private public arguments eval undefined NaN Infinity module exports require'.split(
    ' ',
  ),
);

describe('codegen escaping', () => {
  it('emits string literals and keys only as code unit arrays', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 3, maxLength: 40 }), (s) => {
        const lit = JSON.stringify(s);
        const main = gen(`const o = { [${lit}]: ${lit} }; module.exports = { v: o[${lit}] + ${lit}, k: Object.keys(o) };`);
        // The raw text must not reach the code (ignore strings made only of characters Rust code uses anyway).
        if (/[^A-Za-z0-9_ (){}\[\];:,.&*=<>!?'|+\-/\\]/.test(s) || s.length > 6) expect(code(main)).to.not.contain(s);
        expect(main).to.contain('#![forbid(unsafe_code)]');
      }),
      { numRuns: 150 },
    );
  });

  it('rebuilds identifiers and labels from a safe alphabet', () => {
    fc.assert(
      fc.property(ident, ident, (a, b) => {
        fc.pre(a !== b);
        const main = gen(`let ${a} = 1; function ${b}(x) { return x + ${a}; } ${b}: for (;;) { break ${b}; } module.exports = ${b}(2);`);
        for (const m of main.matchAll(/\b(v_[A-Za-z0-9_]+)|'([A-Za-z0-9_]+):/g)) expect(m[0]).to.match(/^(v_[A-Za-z0-9_]+|'[A-Za-z0-9_]+:)$/);
        for (const l of code(main).split('\n')) if (l.startsWith('/// ')) expect(l).to.match(/^\/\/\/ [A-Za-z0-9_]*$/);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps a hostile string inert', () => {
    const hostile = '"); std::process::exit(3); //\n*/ } fn main() { /*';
    const main = gen(`module.exports = ${JSON.stringify(hostile)} + /a"b/g.source + require(${JSON.stringify(hostile)});`);
    expect(code(main)).to.not.contain('std::process::exit(3)');
    expect(code(main)).to.not.contain('a"b');
  });
});
