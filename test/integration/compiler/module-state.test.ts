/**
 * Handlers that keep module state (test/fixtures/module-state/): a counter, memo tables, a lazily built lookup
 * table. A dispatcher is one more replica: its module state evolves with the requests it answers, as a Node
 * replica's does. So:
 *
 * - the instrumented module answers every request as the plain one (both keep their state alike);
 * - `containerless check` (the dispatcher with cl_workers=1 against a shadow Node replica that saw the
 *   requests Rust answered) finds nothing diverged and Rust answering every request;
 * - the dispatcher check built, started on its own with cl_workers=1, answers the whole sequence exactly as
 *   one fresh Node replica does, answer by answer;
 * - with only part of the requests traced, the untraced ones fall back (their state changes happen in Node's
 *   fallback replica, not in Rust's nor the shadow's) and still nothing diverges.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dispatcher } from '../../../harness/index.ts';
import { checkFixture, ROOT } from './cli.ts';
import { plainVsInstrumented, requestsOf, send, serve, shown } from './differential.ts';

const FIXTURES = join(ROOT, 'test/fixtures/module-state');

const lines = (dir: string): number =>
  readFileSync(join(dir, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim()).length;

const relevant = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => /DIVERGED|fallback\(|rust gave|error|^\s+body:|status:/.test(l))
    .slice(0, 40)
    .join('\n');

/** The dispatcher binary `check` built (its `== built <path> in ...` line). */
const builtBinary = (stderr: string): string => {
  const m = /^== built (\S+) in /m.exec(stderr);
  if (!m) throw new Error(`check printed no built binary:\n${stderr.split('\n').slice(-20).join('\n')}`);
  return m[1];
};

const CASES: Array<[string, string]> = [
  ['counter', 'a module-level counter and the last caller, moved by every request'],
  ['memo', 'memoised fibonacci in a module-level Map, and a cache of entry objects keyed by input counting hits'],
  ['lazy-table', 'a lookup table built by the first request (`if (!table) table = build()`) and marked by later ones'],
];

describe('module state: a dispatcher is one more replica', function () {
  for (const [name, what] of CASES) {
    describe(`${name}: ${what}`, () => {
      const dir = join(FIXTURES, name);
      const requests = requestsOf(join(dir, 'requests.jsonl'));

      it('the instrumented module answers every request as the plain module does', async () => {
        const diffs = await plainVsInstrumented(dir, requests);
        expect(diffs, diffs.join('\n')).to.deep.equal([]);
      });

      it('check: nothing diverges and Rust answers every request; the dispatcher alone answers as one Node replica', async () => {
        const { code, summary, stderr } = await checkFixture(dir, ['--json']);
        expect(summary.error, relevant(stderr)).to.equal(undefined);
        expect(summary.diverged, relevant(stderr)).to.equal(0);
        expect(summary.rust, relevant(stderr)).to.equal(lines(dir));
        expect(code).to.equal(0);

        // The same binary on its own, one realm, against one fresh Node replica: the whole sequence agrees,
        // and the answers do depend on the state (not all alike).
        const rust = await Dispatcher.start(builtBinary(stderr), { cl_workers: '1' });
        const node = await serve(dir, 'plain');
        try {
          await rust.waitHealthy();
          const seen: string[] = [];
          for (const [i, r] of requests.entries()) {
            const a = shown(await send(node.port, r));
            const b = shown(await send(rust.port, r));
            expect(b, `request ${i + 1} ${r.method} ${r.target}`).to.equal(a);
            seen.push(`${r.target} ${a}`);
          }
          const byTarget = new Map<string, Set<string>>();
          for (const s of seen) {
            const [target] = s.split(' ');
            byTarget.set(target, (byTarget.get(target) ?? new Set()).add(s));
          }
          expect(
            [...byTarget.values()].some((answers) => answers.size > 1),
            'some request, repeated, is answered differently as the state moved',
          ).to.equal(true);
          if (name === 'counter') {
            // What the function logged is printed by the dispatcher for the requests it answered.
            await rust.settle(200);
            const logged = rust.tail.filter((l) => /^served \d+$/.test(l));
            expect(logged, rust.tail.join('\n')).to.deep.equal([
              'served 1',
              'served 2',
              'served 3',
              'served 4',
              'served 5',
              'served 16',
              'served 22',
              'served 23',
            ]);
          }
        } finally {
          await rust.stop();
          await node.close();
        }
      });
    });
  }

  it('counter with the first 5 requests traced: /add falls back (counted by the fallback replica only) and nothing diverges', async () => {
    const dir = join(FIXTURES, 'counter');
    const { code, summary, stderr } = await checkFixture(dir, ['--json', '--trace-first', '5']);
    expect(summary.error, relevant(stderr)).to.equal(undefined);
    expect(summary.diverged, relevant(stderr)).to.equal(0);
    expect(summary.fallback, relevant(stderr)).to.equal(2);
    expect(summary.rust, relevant(stderr)).to.equal(lines(dir) - 2);
    expect(stderr).to.match(/^\s+6\s+POST\s+\/add\s+fallback\(unknown/m);
    expect(code).to.equal(0);
  });
});
