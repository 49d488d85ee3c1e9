/**
 * `npm run fuzz -- [--seed N] [--programs M] [options]`: the differential fuzzer's long run. See
 * test/fuzz/README section in the top-level README, and `--help`.
 */
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { generateProgram } from './generate.ts';
import { renderBatch } from './harness.ts';
import { programSeed } from './rng.ts';
import { runFuzz } from './run.ts';

const HELP = `usage: npm run fuzz -- [options]

Generates random handlers over the constructs the compiler claims, runs random requests through plain Node,
the instrumented (traced) module and the compiled Rust, and reports every answer that differs.

  --seed N           run seed (default: the current time, printed); program i of a seed is always the same
  --programs M       programs to generate (default 200)
  --from I           index of the first program (default 0)
  --batch B          programs per cargo build (default 100)
  --requests R       requests per program (default 50)
  --trace-share F    share of each program's requests traced before the build (default 0.6)
  --known            also generate constructs with known, not yet fixed divergences
  --no-rust          compare plain and instrumented Node only (no cargo build)
  --minimise K       minimise up to K new findings, one per class (default 3; 0 for none)
  --out DIR          where minimised findings go (default $TMPDIR/containerless-fuzz)
  --log FILE         append one JSON line per finding as each batch ends
  --cache DIR        build cache (default: the one containerless check uses)
  --concurrency C    requests in flight per side (default 4)
  --show I           print program I of the seed (as a handler module) and exit
  --json             print the report as JSON on stdout
  -h, --help

Exit status: 0 when nothing new diverged, 1 when something did, 2 for a usage error.`;

function fail(msg: string): never {
  process.stderr.write(`fuzz: ${msg}\n${HELP}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      seed: { type: 'string' },
      programs: { type: 'string', default: '200' },
      from: { type: 'string', default: '0' },
      batch: { type: 'string', default: '100' },
      requests: { type: 'string', default: '50' },
      'trace-share': { type: 'string', default: '0.6' },
      known: { type: 'boolean', default: false },
      'no-rust': { type: 'boolean', default: false },
      minimise: { type: 'string', default: '3' },
      out: { type: 'string' },
      log: { type: 'string' },
      cache: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      show: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  fail((err as Error).message);
}
if (args.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
};
const seed = args.seed === undefined ? Date.now() % 1_000_000 : int('seed', args.seed, 0);
const share = Number(args['trace-share']);
if (!(share >= 0 && share <= 1)) fail(`--trace-share must be between 0 and 1, got ${args['trace-share']}`);

if (args.show !== undefined) {
  const i = int('show', args.show, 0);
  const p = generateProgram(`p${i}`, programSeed(seed, i), { requests: int('requests', args.requests, 1), known: args.known });
  process.stdout.write(`${renderBatch([p], false).replace(/\nconst PROGRAMS[\s\S]*$/, `\nmodule.exports = ${p.id};\n`)}`);
  process.stdout.write(`// inputs:\n${p.inputs.map((x) => `// ${JSON.stringify(x)}`).join('\n')}\n`);
  process.exit(0);
}

const controller = new AbortController();
// Each wait for the build lock listens on the signal for a moment.
setMaxListeners(0, controller.signal);
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());
const started = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[${String(Math.round((Date.now() - started) / 1000)).padStart(5)}s] ${line}\n`);
};
log(
  `seed ${seed}: ${args.programs} programs from ${args.from}, ${args.requests} requests each, batches of ${args.batch}${args.known ? ', known divergences included' : ''}`,
);
const report = await runFuzz({
  seed,
  programs: int('programs', args.programs, 1),
  from: int('from', args.from, 0),
  batch: int('batch', args.batch, 1),
  requests: int('requests', args.requests, 1),
  traceShare: share,
  known: args.known,
  noRust: args['no-rust'],
  minimise: int('minimise', args.minimise, 0),
  out: args.out ?? join(tmpdir(), 'containerless-fuzz'),
  log: args.log,
  cacheDir: args.cache,
  concurrency: int('concurrency', args.concurrency, 1),
  progress: log,
  signal: controller.signal,
});
const fresh = report.findings.filter((f) => !f.classified.expected);
if (args.json) {
  process.stdout.write(
    `${JSON.stringify({ ...report, findings: report.findings.map((f) => ({ kind: f.kind, cls: f.classified.cls, program: f.program.id, input: f.input, diff: f.diff })) })}\n`,
  );
} else {
  const lines = [
    `seed ${report.seed}: ${report.programs} programs (+${report.fixtures} fixtures), ${report.requests} requests in ${report.seconds.toFixed(0)}s`,
    `  rust answered ${report.rust}, gave up ${report.fallback}; most frequent reasons:`,
    ...Object.entries(report.fallbackReasons)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 8)
      .map(([why, n]) => `    ${String(n).padStart(5)} × ${why}`),
    `  findings: ${report.findings.length} (${fresh.length} new)`,
    ...Object.entries(report.classes).map(([c, n]) => `    ${String(n).padStart(5)} × ${c}`),
    ...report.minimised.map((m) => `  minimised ${m.cls} to ${m.statements} statements: ${m.dir}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(controller.signal.aborted ? 130 : fresh.length ? 1 : 0);
