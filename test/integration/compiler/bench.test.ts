/**
 * `containerless bench` run as a child process:
 *
 * - usage errors exit 2 with a one-line message;
 * - against the stand-in dispatcher of test/fixtures/check/stand-in (a stand-in `cargo` first on PATH, a
 *   dispatcher that misbehaves on request): fallbacks counted and left out, a divergence and a dispatcher that
 *   dies exit 1 with the reason, nothing left running;
 * - end to end with real tracing, a real cargo build and the compiled dispatcher, on a tiny handler
 *   (test/fixtures/bench/tiny): the JSON line's fields, positive figures, the request that falls back counted;
 *   a dispatcher that cannot start (cl_workers=0 in the environment, which it refuses) exits 1.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isAlive } from '../../../lib/index.ts';
import { ROOT, runCli, shown, type CliRun } from './cli.ts';

const TMP = mkdtempSync(join(tmpdir(), 'cl-bench-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> => runCli(args, { cwd: mkdtempSync(join(TMP, 'cwd-')), env });

const TINY = join(ROOT, 'test/fixtures/bench/tiny');
const CHECK = join(ROOT, 'test/fixtures/check');
const FAST = ['--rounds', '3', '--warmup', '1', '--batch-ms', '5'];
const FIELDS = ['requests', 'fallback', 'node_cpu_us', 'rust_cpu_us', 'cpu_speedup', 'node_wall_us', 'rust_wall_us', 'wall_speedup'];

describe('containerless bench usage', () => {
  it('is listed in the main help and has its own', async () => {
    const main = await cli(['--help']);
    expect(main.stdout).to.match(/^\s+bench <function-dir> --requests <file\.jsonl>/m);
    const help = await cli(['bench', '--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('Usage: containerless bench <function-dir> --requests <file.jsonl>');
    expect(help.stdout).to.include('left out of both sums');
  });

  const cases: Array<[string[], RegExp]> = [
    [['bench'], /missing <function-dir>/],
    [['bench', TINY], /missing --requests <file\.jsonl>/],
    [['bench', TINY, 'other', '--requests', 'x'], /unexpected argument 'other'/],
    [['bench', join(TMP, 'nothing'), '--requests', join(TINY, 'requests.jsonl')], /no such function folder/],
    [['bench', CHECK, '--requests', join(TINY, 'requests.jsonl')], /no handler\.js in the function folder/],
    [['bench', TINY, '--requests', join(TMP, 'none.jsonl')], /no such requests file/],
    [['bench', TINY, '--requests', join(CHECK, 'bad-requests.jsonl')], /bad-requests\.jsonl/],
    [['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--rounds', '0'], /--rounds must be a whole number of at least 1, not '0'/],
    [['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--warmup', 'x'], /--warmup must be a whole number of at least 0, not 'x'/],
    [['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--batch-ms', '0'], /--batch-ms must be a number above 0, not '0'/],
    [['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--max-seconds', ''], /--max-seconds must be a number above 0/],
    [['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--frobnicate'], /Unknown option '--frobnicate'/],
    [['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--profile', 'fast'], /--profile must be one of release, optimized, not 'fast'/],
  ];
  for (const [args, message] of cases) {
    it(`exits 2 for ${
      args
        .slice(1)
        .map((a) => a.replace(ROOT, '').replace(TMP, '<tmp>'))
        .join(' ') || '(no arguments)'
    }`, async () => {
      const r = await cli(args);
      expect(r.code, shown(r)).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr).to.match(/^containerless bench: /);
      expect(r.stderr).to.match(message);
    });
  }
});

describe('containerless bench, against a stand-in dispatcher', function () {
  this.timeout(120_000);
  let cache: string;
  let pidfile: string;
  const env = (): NodeJS.ProcessEnv => ({
    PATH: `${join(CHECK, 'stand-in/bin')}${delimiter}${process.env.PATH}`,
    CONTAINERLESS_CACHE: cache,
    STAND_IN_HANDLER: join(CHECK, 'check-stand-in'),
    STAND_IN_PIDFILE: pidfile,
  });
  const standInPid = (): number => Number(readFileSync(pidfile, 'utf8'));
  beforeEach(() => {
    cache = mkdtempSync(join(TMP, 'cache-'));
    pidfile = join(cache, 'dispatcher.pid');
  });

  it('measures the requests the dispatcher answers, counts the one it hands back, and exits 0', async () => {
    const r = await cli(['bench', join(CHECK, 'check-stand-in'), '--requests', join(ROOT, 'test/fixtures/bench/stand-in.jsonl'), ...FAST], env());
    expect(r.code, shown(r)).to.equal(0);
    expect(Object.keys(r.result)).to.deep.equal(FIELDS);
    expect(r.result).to.include({ requests: 3, fallback: 1 });
    for (const f of FIELDS.slice(2)) expect(r.result[f], f).to.be.a('number').above(0);
    expect(r.stdout.trim().split('\n')).to.have.length(2); // a human summary, then the JSON line
    expect(r.stdout).to.match(/3 requests, 1 fallback; CPU per request summed/);
    expect(r.stderr).to.match(/^\s+1 GET\s+\/a\?q=1\s+rust\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+\d+\s+\d+\s+[\d.]+$/m);
    expect(r.stderr).to.match(/^\s+2 GET\s+\/c\s+fallback\s+fallback\(unknown\)$/m);
    expect(isAlive(standInPid()), 'the dispatcher is still running').to.equal(false);
  });

  it('with --json prints only the result line, although the handler logs', async () => {
    const r = await cli(['bench', join(CHECK, 'check-stand-in'), '--requests', join(ROOT, 'test/fixtures/bench/stand-in.jsonl'), '--json', ...FAST], env());
    expect(r.code, shown(r)).to.equal(0);
    expect(r.stdout.split('\n')).to.deep.equal([JSON.stringify(r.result), '']);
  });

  it('exits 1 without measuring when a request diverges', async () => {
    const r = await cli(['bench', join(CHECK, 'check-stand-in'), '--requests', join(CHECK, 'check-stand-in/requests.jsonl'), '--json', ...FAST], env());
    expect(r.code, shown(r)).to.equal(1);
    expect(r.result).to.deep.equal({
      requests: 5,
      fallback: 1,
      diverged: 2,
      error: '2 requests diverged: Rust and Node answered differently; nothing measured',
    });
    expect(r.stderr).to.match(/request 4 \(line 5\) POST \/d DIVERGED: body: node \d+ bytes, rust \d+ bytes/);
    expect(r.stderr).to.include('status: node 200, rust 201');
    expect(r.stderr).to.not.include('== warm-up');
    expect(isAlive(standInPid()), 'the dispatcher is still running').to.equal(false);
  });

  it('exits 1 naming the request when the dispatcher dies', async () => {
    const r = await cli(['bench', join(CHECK, 'check-stand-in'), '--requests', join(CHECK, 'check-stand-in/crash.jsonl'), '--json', ...FAST], env());
    expect(r.code, shown(r)).to.equal(1);
    expect(r.result.error).to.equal('the dispatcher exited with status 3 while answering request 2 (line 2)');
    expect(r.result).to.include({ requests: 3, diverged: 0 });
  });
});

/**
 * A speedup the bench computed from unrounded sums, against the two sums as it prints them (to 0.1 µs): it must
 * lie between the ratios their rounding allows (and its own rounding to 0.001). Comparing it with the ratio of
 * the printed sums alone failed when the Rust side's sum was small (6.408 against 6.409 of the printed ones).
 */
function expectRatio(ratio: number, a: number, b: number, what: string): void {
  expect(ratio, what).to.be.within((a - 0.05) / (b + 0.05) - 0.0005, (a + 0.05) / (b - 0.05) + 0.0005);
}

describe('containerless bench, end to end', function () {
  // A cold cargo build of the runtime takes minutes on a busy machine.
  this.timeout(900_000);

  it('measures a tiny handler built as promotion builds it (optimized): the JSON line has every field, the figures are positive, the BigInt path falls back', async () => {
    // Without the runtime's profile (pgo.test.ts records one and builds with it): the bench asks for it and
    // says that it builds without, as CONTAINERLESS_PGO=0 wants.
    const r = await cli(['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--profile', 'optimized', ...FAST], { CONTAINERLESS_PGO: '0' });
    expect(r.code, shown(r)).to.equal(0);
    expect(r.stderr).to.match(/building fn-\S+ \(optimized\)/);
    expect(r.stderr).to.include('CONTAINERLESS_PGO=0: building without the runtime profile');
    expect(Object.keys(r.result)).to.deep.equal(FIELDS);
    expect(r.result).to.include({ requests: 4, fallback: 1 });
    for (const f of FIELDS.slice(2)) expect(r.result[f], f).to.be.a('number').above(0);
    expectRatio(r.result.cpu_speedup, r.result.node_cpu_us, r.result.rust_cpu_us, 'cpu_speedup');
    expectRatio(r.result.wall_speedup, r.result.node_wall_us, r.result.rust_wall_us, 'wall_speedup');
    expect(r.stderr).to.match(/^\s+3 GET\s+\/big\s+fallback\s+fallback\(unsupported\)$/m);
    // Three requests measured, each a row with both sides' figures.
    expect(r.stderr.split('\n').filter((l) => /^\s+\d+ (GET|POST)\s+\S+\s+rust\s/.test(l))).to.have.length(3);
  });

  it('exits 1 when the dispatcher cannot start', async () => {
    const r = await cli(['bench', TINY, '--requests', join(TINY, 'requests.jsonl'), '--json', ...FAST], { cl_workers: '0' });
    expect(r.code, shown(r)).to.equal(1);
    expect(r.result).to.include({ requests: 4, diverged: 0 });
    expect(r.result.error).to.match(/^the dispatcher exited with status \d+ before it was healthy$/);
    expect(r.stderr).to.include('cl_workers="0" is not a number of threads from 1 to 1024');
  });
});
