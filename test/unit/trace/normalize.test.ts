/** The normaliser (trace/normalize.ts) on constructs it must keep runnable or give up on, as prepare runs it. */
import { expect } from 'chai';
import { prepare } from '../../../trace/index.ts';

/** The instrumented copy as the watchdog loads it: a CommonJS module body with `__cl` free. */
function parses(code: string): true | string {
  try {
    new Function('module', 'exports', 'require', '__cl', code);
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('normalize', () => {
  it('keeps compound assignments and updates of a super property verbatim, so the instrumented copy parses', () => {
    const p = prepare(
      'class B {}\nclass A extends B {\n  m() {\n    super.x += 1;\n    super.y++;\n    return super.z;\n  }\n}\nmodule.exports = async () => new A().m();\n',
      'h.js',
    );
    expect(parses(p.instrumented)).to.equal(true);
    expect(p.diagnostics.map((d) => `${d.line}: ${d.message}`)).to.deep.equal([
      '4: a compound assignment to a super property is not compiled; requests that reach it run in JavaScript',
      '5: an update of a super property is not compiled; requests that reach it run in JavaScript',
    ]);
  });

  it('gives nested destructuring in declarations and loop heads as plain statements', () => {
    const p = prepare('module.exports = async (o) => {\n  var { a: { b } } = o;\n  for (var [[c]] of [[[1]]]) b = c;\n  return b;\n};\n', 'h.js');
    expect(parses(p.instrumented)).to.equal(true);
    expect(p.instrumented).not.to.include(';;');
    expect(p.diagnostics).to.deep.equal([]);
  });
});
