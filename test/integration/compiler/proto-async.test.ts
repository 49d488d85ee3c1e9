/**
 * `containerless check` end to end (Node, the compiled dispatcher, and a comparison of every answer) on
 * handlers written to probe where the runtime's model of JavaScript is thinnest:
 *
 * - `__proto__` as a key: written by [[Set]] it sets the prototype, defined it is an own property;
 * - async interleaving: a detached async call or a `.then` callback that Node runs later than the
 *   runtime would must not answer from state it read too early;
 * - a regex that backtracks catastrophically in a backtracking engine is answered at once by the linear one,
 *   and leaves no thread busy.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDispatcher, generateRust } from '../../../compiler/index.ts';
import { Dispatcher, FALLBACK_HEADER, readRequests, traceRequests } from '../../../harness/index.ts';
import { prepare } from '../../../trace/index.ts';
import { checkFixture, ROOT } from './cli.ts';

const FIXTURES = join(ROOT, 'test/fixtures/check');

const check = checkFixture;

const lines = (dir: string): number =>
  readFileSync(join(dir, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#')).length;
const table = (s: string): string =>
  s
    .split('\n')
    .filter((l) => /^\s+\d+\s|^\s{9}|error/.test(l))
    .join('\n');

describe('__proto__ as a property key', () => {
  it('a key loop and Object.assign set the prototype as Node does; spread, JSON.parse and computed keys define it', async () => {
    const dir = join(FIXTURES, 'proto-keys');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, table(stderr)).to.equal(0);
    expect(summary.error, table(stderr)).to.equal(undefined);
    // Every request is answered by Rust (the prototype is modelled, not given up on) but the literal with a
    // quoted __proto__ key, which the compiler does not model.
    expect(summary.rust, table(stderr)).to.equal(lines(dir) - 1);
    expect(stderr).to.match(/^\s+\d+\s+POST\s+\/\?mode=literal\s+fallback\(unsupported/m);
    expect(code).to.equal(0);
  });
});

describe('async interleaving', () => {
  it('gives up where a detached async call or a .then callback could read state Node reads later, and answers the rest as Node', async () => {
    const dir = join(FIXTURES, 'async-order');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, table(stderr)).to.equal(0);
    expect(summary.error, table(stderr)).to.equal(undefined);
    // The repro, a .then callback run after a write, a never-awaited call whose read state is
    // written, a .then callback writing what the caller made after it, and a .then never awaited give up; reads before the first await, state nothing writes, and callbacks on their own values
    // are answered by Rust.
    expect(stderr).to.match(/^\s+1\s+POST\s+\/\?mode=issue\s+fallback\(unsupported: a write to state that a detached async call read/m);
    expect(stderr).to.match(/^\s+2\s+POST\s+\/\?mode=then-before-write\s+fallback\(unsupported: a \.then callback read state/m);
    expect(summary.rust, table(stderr)).to.equal(3);
    expect(summary.fallback, table(stderr)).to.equal(5);
    expect(code).to.equal(0);
  });
});

/** CPU seconds (user + system) the process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime and stime, in clock ticks
}

describe('a regex that backtracks catastrophically', () => {
  const dir = join(FIXTURES, 'runaway-regex');

  it('answers every subject as Node does (check)', async () => {
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, table(stderr)).to.equal(0);
    expect(summary.error, table(stderr)).to.equal(undefined);
    expect(summary.rust, table(stderr)).to.be.at.least(3);
    expect(code).to.equal(0);
  });

  it('answers /^(a+)+$/ on 36 a and ! at once (the non-backtracking engine), and leaves no thread busy after the answer', async function () {
    // Node itself would spin for hours on this subject, so only the dispatcher gets it. Both patterns run on
    // the runtime's Pike VM (no backreference or lookaround, no loop whose body can match empty): its search is
    // linear, so the dispatcher gives the answer Node would give at the end of its backtracking (the subject
    // ends in "!", so neither pattern matches) instead of giving up as it did on the backtracking engine.
    const prepared = prepare(readFileSync(join(dir, 'handler.js'), 'utf8'), 'handler.js');
    const { tracer } = await traceRequests(dir, prepared, 'runaway-regex', readRequests(join(dir, 'requests.jsonl')));
    const built = await buildDispatcher(generateRust(tracer.trace(), { name: 'runaway-regex' }).main, { name: 'runaway-regex' });
    process.env.exec_timeout = '3s';
    let rust: Dispatcher;
    try {
      rust = await Dispatcher.start(built.binary);
    } finally {
      delete process.env.exec_timeout;
    }
    try {
      await rust.waitHealthy();
      const started = Date.now();
      const r = await fetch(`http://127.0.0.1:${rust.port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ s: `${'a'.repeat(36)}!` }),
      });
      const elapsed = Date.now() - started;
      expect(r.headers.get(FALLBACK_HEADER)).to.equal(null);
      expect(r.status).to.equal(200);
      expect(JSON.parse(await r.text())).to.deep.equal({ all: false, words: false, length: 37 });
      // Answered, not cut off at the deadline.
      expect(elapsed).to.be.below(2000);
      const before = cpuSeconds(rust.child.pid!);
      await new Promise((res) => setTimeout(res, 1000));
      const used = cpuSeconds(rust.child.pid!) - before;
      expect(used, `${used}s of CPU in the second after the answer`).to.be.below(0.1);
    } finally {
      await rust.stop();
    }
  });
});
