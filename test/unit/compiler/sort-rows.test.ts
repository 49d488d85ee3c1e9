/**
 * `sortRows` picks the comparators the compiler also compiles to run on rows of their parameters'
 * properties (the runtime's `SortRows`): functions that read only named properties of their two parameters
 * and can run no code of the program's besides their own. One it took by mistake could run on rows that a
 * getter, a call or a valueOf would have changed while the sort ran, so it must refuse every other function.
 */
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { generateRust } from '../../../compiler/index.ts';
import { prepare, Tracer } from '../../../trace/index.ts';

const SOURCE = `'use strict';
let count = 0;
let factor = 1;
const key = 'n';
function factory(k) {
  return function fromFactory(a, b) {
    let c = 0;
    if (k === 's') c = a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
    else c = a.n - b.n;
    return c;
  };
}
const comparators = [
  function byN(a, b) { return a.n - b.n; },
  function twoWay(a, b) { return a.s < b.s ? -1 : 1; },
  function withLocal(a, b) { const d = a.n - b.n; return d || (a.id < b.id ? -1 : 1); },
  factory('s'),
  function calls(a, b) { return Math.sign(a.n - b.n); },
  function counts(a, b) { count++; return a.n - b.n; },
  function nested(a, b) { return a.x.y - b.x.y; },
  function whole(a, b) { return a === b ? 0 : a.n - b.n; },
  function computed(a, b) { return a[key] - b[key]; },
  function scaledBy(a, b) { return (a.n - b.n) * factor; },
  function template(a, b) { return \`\${a.n}\` < \`\${b.n}\` ? -1 : 1; },
  function writes(a, b) { a.seen = true; return a.n - b.n; },
];
module.exports = async (event, context) => {
  factor = event.body.factor;
  const values = [{ n: 2, s: 'b', id: 'x', x: { y: 1 } }, { n: 1, s: 'a', id: 'y', x: { y: 2 } }, { n: 3, s: 'c', id: 'z', x: { y: 0 } }];
  return context.succeed(comparators.map((f) => values.slice().sort(f).map((v) => v.id)));
};
`;

async function generated(): Promise<string> {
  const p = prepare(SOURCE, 'comparators.js');
  const tracer = new Tracer(p, 'comparators');
  const mod: { exports: any } = { exports: {} };
  new Function('module', 'exports', 'require', '__cl', p.instrumented)(mod, mod.exports, createRequire(import.meta.url), tracer.runtime);
  const context = { succeed: (v: unknown) => v };
  for (const factor of [1, 2]) await tracer.run(() => mod.exports({ body: { factor } }, context));
  return generateRust(tracer.trace(), { name: 'comparators' }).main;
}

describe('sortRows', () => {
  it('compiles on rows exactly the comparators that read only named properties and run no other code', async () => {
    const rust = await generated();
    // `/// name, on rows of k1, k2` heads each function on rows.
    const onRows = Object.fromEntries([...rust.matchAll(/^\/\/\/ (\w+), on rows of (.*)$/gm)].map((m) => [m[1], m[2]]));
    // The keys are those of the reads the trace saw: the branches it never took give up (withLocal's
    // tie-break, fromFactory's numeric order).
    expect(onRows).to.deep.equal({ byN: 'n', twoWay: 's', withLocal: 'n', fromFactory: 's' });
    const table = /static SORT_ROWS: &\[clrt::SortRows\] = &\[(.*)\];/.exec(rust);
    expect(table?.[1].match(/run: f\d+_rows/g)).to.have.length(4);
  });
});
