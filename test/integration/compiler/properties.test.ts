/**
 * Property tests of value semantics: generated values (fast-check, fixed seed) go through operators,
 * coercions, number and string formatting and JSON in a handler, once in Node and once in the compiled Rust
 * (`containerless check`), and every answer must match byte for byte.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';

const root = join(import.meta.dirname, '../../..');

const HANDLER = `
const EXTRA = [undefined, null, true, false, NaN, -0, 0, 1, -1, 0.1, 1e21, 1e-7, 2 ** 53, Infinity, -Infinity, '', ' 12 ', '0x1f', '1e3', 'abc', [], [1, 2], [null], {}];
function show(v) {
  if (typeof v === 'number' && v === 0 && 1 / v < 0) return '-0';
  return typeof v + ':' + String(v);
}
module.exports = async (event, context) => {
  const { a, b, op } = event.body;
  const out = [];
  for (const y of [b, ...EXTRA]) {
    const x = a;
    switch (op) {
      case 'arith':
        out.push(show(x + y), show(x - y), show(x * y), show(x / y), show(x % y), show(x ** 2));
        break;
      case 'compare':
        out.push(x == y, x === y, x != y, x < y, x > y, x <= y, x >= y, !x, !!y);
        break;
      case 'bits':
        out.push(show(x & y), show(x | y), show(x ^ y), show(x << y), show(x >> y), show(x >>> y), show(~x));
        break;
      case 'convert':
        out.push(show(+x), show(-x), show(Number(x)), String(x), show(parseInt(x)), show(parseFloat(x)), typeof x, show(\`\${x}\`), show(isNaN(x)));
        break;
      case 'format':
        if (typeof x === 'number') out.push(x.toFixed(2), x.toString(), String(x * 1.1), x.toPrecision(4), Math.round(x), Math.floor(x), Math.max(x, 3), Math.abs(x));
        else out.push(String(x).toUpperCase(), String(x).slice(1, 3), String(x).padStart(6, '*'), String(x).split('').reverse().join(''), String(x).indexOf('1'), String(x).trim().length);
        break;
      case 'json':
        out.push(JSON.stringify(x), JSON.stringify({ x, y }), JSON.stringify([x, y], null, 2), JSON.stringify(JSON.parse(JSON.stringify({ v: x }) ?? 'null')));
        break;
    }
  }
  return context.status(200).succeed(out.join('\\n'));
};
`;

const jsonValue = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.constantFrom(0, -1, 0.5, 1.005, 123.456, 1e21, 1e-7, 4294967296, -2147483649),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', ' 42 ', '3.14', '0b101', 'Infinity', '-0', '1e400', 'x'),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('k', '1', 'b', '0', 'a b'), fc.integer({ min: 0, max: 9 }), { maxKeys: 3 }),
);

/**
 * The compiler's unboxed representations: local arrays of booleans and numbers (new Array(n).fill(c)),
 * operators on numbers behind a number guard, array reads by number and `.length`. The first requests,
 * traced, bring numbers only; the rest (not traced) bring any JSON value where numbers were, so every guard
 * meets what breaks it.
 */
const ARRAYS_HANDLER = `
function show(v) {
  if (typeof v === 'number' && v === 0 && 1 / v < 0) return '-0';
  return typeof v + ':' + String(v);
}
module.exports = async (event, context) => {
  const { xs, n, k, v } = event.body;
  const acc = new Array(n).fill(0);
  const big = new Array(n).fill(true);
  let total = 0;
  for (let i = 0; i < xs.length; i++) {
    total = total + xs[i] * v;
    const slot = i % n;
    acc[slot] = acc[slot] - xs[i] / v;
    big[slot] = xs[i] >= total;
  }
  acc[k % (acc.length + 1)] = total % v;
  const out = [show(total), acc.length, big.length];
  for (let i = 0; i < acc.length; i++) out.push(show(acc[i]), i < big.length ? big[i] : 'none');
  return context.status(200).succeed(out.join('\\n'));
};
`;

const num = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -2147483649, max: 2147483648 }),
  fc.constantFrom(0, -1, 0.5, 1e21, 1e-7, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 31)),
);

describe('value semantics: Node and compiled Rust agree', function () {
  this.timeout(900_000);

  it('on generated values through operators, coercions, formatting and JSON', () => {
    const ops = ['arith', 'compare', 'bits', 'convert', 'format', 'json'];
    const samples = fc.sample(fc.tuple(jsonValue, jsonValue), { numRuns: 40, seed: 20261124 });
    const lines: string[] = [];
    for (const op of ops) for (const [a, b] of samples) lines.push(JSON.stringify({ method: 'POST', path: '/', body: { a, b, op } }));
    const dir = mkdtempSync(join(tmpdir(), 'cl-props-'));
    writeFileSync(join(dir, 'handler.js'), HANDLER);
    writeFileSync(join(dir, 'requests.jsonl'), lines.join('\n') + '\n');
    const r = spawnSync(process.execPath, [join(root, 'bin/containerless.js'), 'check', dir, '--requests', join(dir, 'requests.jsonl'), '--json'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    let summary: { requests: number; rust: number; fallback: number; diverged: number };
    try {
      summary = JSON.parse(last);
    } catch {
      throw new Error(`check printed no summary (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
    }
    if (summary.diverged)
      process.stderr.write(
        r.stderr
          .split('\n')
          .filter((l) => /DIVERGED|expected|actual/.test(l))
          .slice(0, 40)
          .join('\n'),
      );
    expect(summary.requests).to.equal(lines.length);
    expect(summary.diverged, 'responses that differ between Node and Rust').to.equal(0);
    // Everything was traced, so nearly everything must run in Rust; fallbacks are only allowed where the
    // runtime deliberately gives up (engine errors, unmodelled formatting).
    expect(summary.rust / summary.requests).to.be.greaterThan(0.6);
    expect(r.status).to.equal(0);
  });

  it('on generated numbers and other values through local arrays, number guards and array reads', () => {
    const numbers = fc.record({ xs: fc.array(num, { maxLength: 6 }), n: fc.integer({ min: 1, max: 5 }), k: fc.integer({ min: 0, max: 6 }), v: num });
    const anything = fc.record({
      xs: fc.array(fc.oneof(num, jsonValue), { maxLength: 6 }),
      n: fc.oneof(fc.integer({ min: 0, max: 5 }), jsonValue),
      k: fc.oneof(num, jsonValue),
      v: fc.oneof(num, jsonValue),
    });
    const traced = fc.sample(numbers, { numRuns: 60, seed: 20261206 });
    // Numbers everywhere (the traced types) but keys anywhere: fractions, negatives, -0 and past the end.
    const keys = fc.record({
      xs: fc.array(num, { maxLength: 6 }),
      n: fc.integer({ min: 1, max: 5 }),
      k: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -8, max: 8 }), fc.constantFrom(-0, 0.5, 5.5, -1, 6)),
      v: num,
    });
    const untraced = [...fc.sample(keys, { numRuns: 60, seed: 20261208 }), ...fc.sample(anything, { numRuns: 120, seed: 20261207 })];
    const lines = [...traced, ...untraced].map((body) => JSON.stringify({ method: 'POST', path: '/', body }));
    const dir = mkdtempSync(join(tmpdir(), 'cl-props-arrays-'));
    writeFileSync(join(dir, 'handler.js'), ARRAYS_HANDLER);
    writeFileSync(join(dir, 'requests.jsonl'), lines.join('\n') + '\n');
    const r = spawnSync(
      process.execPath,
      [join(root, 'bin/containerless.js'), 'check', dir, '--requests', join(dir, 'requests.jsonl'), '--trace-first', String(traced.length), '--json'],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() || 'null') as { requests: number; rust: number; diverged: number } | null;
    if (!summary) throw new Error(`check printed no summary (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
    if (summary.diverged)
      process.stderr.write(
        r.stderr
          .split('\n')
          .filter((l) => /DIVERGED|expected|actual/.test(l))
          .slice(0, 40)
          .join('\n'),
      );
    expect(summary.requests).to.equal(lines.length);
    expect(summary.diverged, 'responses that differ between Node and Rust').to.equal(0);
    // The traced requests (numbers only) run in Rust; the others may give up wherever a guard fails.
    expect(summary.rust).to.be.at.least(traced.length);
    expect(r.status).to.equal(0);
  });
});
