/**
 * The differential fuzzer's bounded run (the long one is `npm run fuzz`): generated handlers over the
 * constructs the compiler claims, with generated requests, through plain Node, instrumented Node and the
 * compiled Rust, in one cargo build; plus the regression fixtures the fuzzer has minimised
 * (test/fixtures/fuzz/). Every answer must agree, except where a program uses a construct generated only with
 * --known (test/fuzz/classify.ts); the wording of an engine error is part of the answer.
 */
import { expect } from 'chai';
import { classify } from '../../fuzz/classify.ts';
import { runFuzz } from '../../fuzz/run.ts';

/** The CI run's seed and size: one batch, about a minute of cargo on two cores once the runtime is built. */
const SEED = 20260301;
const PROGRAMS = 40;
const REQUESTS = 25;

describe('differential fuzzer (bounded run)', function () {
  this.timeout(900_000);

  it('finds no new divergence between plain Node, instrumented Node and Rust', async () => {
    const lines: string[] = [];
    const report = await runFuzz({
      seed: SEED,
      programs: PROGRAMS,
      batch: PROGRAMS,
      requests: REQUESTS,
      traceShare: 0.6,
      known: false,
      fixtures: true,
      minimise: 0,
      progress: (l) => lines.push(l),
    });
    const fresh = report.findings.filter((f) => !f.classified.expected);
    const summary = `seed ${SEED}: ${report.programs} programs + ${report.fixtures} fixtures, ${report.requests} requests; rust ${report.rust}, fallback ${report.fallback}; classes ${JSON.stringify(report.classes)}`;
    process.stderr.write(`      ${summary}\n`);
    for (const f of fresh.slice(0, 10)) {
      process.stderr.write(
        `      NEW ${f.kind} ${f.program.id} input ${f.input} (replay: npm run fuzz -- --seed ${SEED} --show ${f.program.id.slice(1)}):\n        ${f.diff.split('\n').join('\n        ')}\n`,
      );
    }
    expect(report.programs).to.equal(PROGRAMS);
    expect(report.fixtures, 'regression fixtures in test/fixtures/fuzz').to.be.greaterThan(0);
    expect(report.requests).to.be.at.least(PROGRAMS * REQUESTS);
    expect(
      fresh.map((f) => `${f.kind} ${f.program.id}#${f.input}: ${f.diff.split('\n')[0]}`),
      lines.slice(-5).join('\n'),
    ).to.deep.equal([]);
    // A run where Rust gave up on everything would compare nothing.
    expect(report.rust / report.requests, 'share of requests the dispatcher answered itself').to.be.greaterThan(0.4);
  });

  it('classifies every difference between plain and instrumented Node as new, a TypeError worded differently included', () => {
    const program = { id: 'p0', seed: 1, body: [], ret: 'out', inputs: [] };
    const base = { kind: 'instrumented' as const, program, input: 0, diff: 'body' };
    const wording: Array<[string, string]> = [
      ['["TypeError: s.split is not a function"]', '["TypeError: split is not a function"]'],
      ['TypeError: xs is not iterable', 'TypeError: 5 is not iterable'],
      ['TypeError: (t + 2) is not iterable', 'TypeError: __cl.bin is not a function or its return value is not iterable'],
      ['["K is not a constructor"]', '["C is not a constructor"]'],
      [`["Cannot destructure property 'a' of 'o.z' as it is undefined."]`, `["Cannot read properties of undefined (reading 'a')"]`],
    ];
    for (const [plainBody, otherBody] of wording) {
      for (const kind of ['instrumented', 'unrecorded'] as const) {
        const c = classify({ ...base, kind, plainBody, otherBody });
        expect(c.expected, `${kind}: ${otherBody}`).to.equal(false);
        expect(c.cls).to.equal('new:instrumented-error-text');
      }
    }
    expect(classify({ ...base, plainBody: '["TypeError: s.split is not a function",1]', otherBody: '["TypeError: split is not a function",2]' }).cls).to.equal(
      'new:instrumented',
    );
    expect(classify({ ...base, plainBody: '[1,2]', otherBody: '[1,3]' }).cls).to.equal('new:instrumented');
    expect(
      classify({ ...base, kind: 'rust', plainBody: '["TypeError: s.split is not a function"]', otherBody: '["TypeError: split is not a function"]' }).cls,
    ).to.equal('new:rust');
  });
});
