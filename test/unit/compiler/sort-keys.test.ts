/**
 * `sortKeys` recognises a comparator literal `(a, b) => a.k - b.k || b.j - a.j` (array::sort_by_keys compares
 * such a sort's values on keys read once). It must refuse every other function: one it took by mistake
 * would be replaced by key comparisons that are not what the function computes.
 */
import { expect } from 'chai';
import { parse } from 'acorn';
import { sortKeys } from '../../../compiler/codegen.ts';

const fn = (src: string) => (parse(`(${src})`, { ecmaVersion: 'latest' }) as any).body[0].expression;

describe('sortKeys', () => {
  it('gives each term of the comparator with its direction', () => {
    expect(sortKeys(fn('(a, b) => a.size - b.size'))).to.deep.equal([['size', false]]);
    expect(sortKeys(fn('(p, q) => q.size - p.size || p.id - q.id'))).to.deep.equal([
      ['size', true],
      ['id', false],
    ]);
    expect(sortKeys(fn('function (x, y) { return y.t - x.t || y.u - x.u || x.v - y.v; }'))).to.deep.equal([
      ['t', true],
      ['u', true],
      ['v', false],
    ]);
  });

  it('refuses anything else', () => {
    for (const src of [
      '(a, b) => a.size + b.size',
      '(a, b) => a.size - b.id',
      '(a, b) => a.size - a.size',
      '(a, b) => b.size - b.size',
      '(a, b) => a[k] - b[k]',
      '(a, b) => a["size"] - b["size"]',
      '(a, b) => a?.size - b?.size',
      '(a, b) => a.size - c.size',
      '(a, b) => a.size - b.size && a.id - b.id',
      '(a, b) => (a.size - b.size) * 2',
      '(a, b) => a.x.y - b.x.y',
      '(a, b) => a - b',
      '(a, a2, c) => a.x - a2.x',
      '(a) => a.x',
      '([a], b) => a.x - b.x',
      'async (a, b) => a.x - b.x',
      'function* (a, b) { return a.x - b.x; }',
      'function (a, b) { const d = a.x - b.x; return d; }',
      'function (a, b) { return; }',
      '(a, b) => { a.x - b.x; }',
    ])
      expect(sortKeys(fn(src)), src).to.equal(null);
  });
});
