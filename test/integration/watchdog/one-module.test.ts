/**
 * One module instance per replica: `containerless watchdog` under sampled tracing serves traced and untraced
 * requests from the same module, so module-level state evolves as in the stock template. A counter kept at
 * module level answers 1, 2, 3, ... without a gap, with the tree made stable early (trace_stable_after=5)
 * and half of the later requests traced (trace_sample=0.5); with tracing always on and off alike.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { ROOT, send, startOurs, type Served } from './harness.ts';

const FN = join(ROOT, 'test/fixtures/watchdog/counter');
const REQUESTS = 300;

async function counts(env: Record<string, string>): Promise<{ counts: number[]; traced: number }> {
  let wd: Served | undefined;
  try {
    wd = await startOurs(FN, env);
    const out: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      // Two shapes (paths), so that new shapes and sampling both pick traced requests.
      const a = await send(wd.port, { path: i % 2 ? '/a' : '/b' });
      expect(a.status).to.equal(200);
      out.push((JSON.parse(a.body.toString('utf8')) as { count: number }).count);
    }
    const metrics = await fetch(`http://127.0.0.1:${wd.metricsPort}/metrics`).then((r) => r.text());
    const traced = Number(/^containerless_traced_requests_total (\d+)$/m.exec(metrics)?.[1] ?? NaN);
    return { counts: out, traced };
  } finally {
    await wd?.stop();
  }
}

const expected = Array.from({ length: REQUESTS }, (_, i) => i + 1);

describe('containerless watchdog: one module instance for traced and untraced requests', function () {
  this.timeout(120_000);

  it(`counts 1..${REQUESTS} without a gap under sampled tracing (trace_stable_after=5, trace_sample=0.5)`, async () => {
    const { counts: c, traced } = await counts({ trace_mode: 'sample', trace_stable_after: '5', trace_sample: '0.5' });
    expect(c).to.deep.equal(expected);
    // Both kinds of request happened: some traced, some not.
    expect(traced)
      .to.be.greaterThan(10)
      .and.below(REQUESTS - 10);
  });

  it('counts alike with tracing always on and off', async () => {
    expect((await counts({ trace_mode: 'always' })).counts).to.deep.equal(expected);
    expect((await counts({ trace_mode: 'off' })).counts).to.deep.equal(expected);
  });
});
