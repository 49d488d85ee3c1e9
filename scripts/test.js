#!/usr/bin/env node
// The project's test command: the checks of the code's habits (types, and the others listed in CHECKS), the
// Rust runtime tests, then the mocha suites (unit, integration), then one plain `N passed, N failed` line.
// Each check counts as one test. Set TEST_ONLY=checks|rust|unit|integration to run one part.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.env.TEST_ONLY;

// The tests run on the Node that .nvmrc names (the runtime copies its behaviour): when this one is of
// another major version, .ci/node.sh installs that one (once, from the npm registry) and it goes first on
// PATH for everything started below.
const pinned = readFileSync(join(root, '.nvmrc'), 'utf8').trim().replace(/^v/, '');
let node = process.execPath;
if (process.versions.node.split('.')[0] !== pinned.split('.')[0]) {
  const bin = execFileSync('bash', [join(root, '.ci/node.sh')], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    .toString()
    .trim();
  process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
  node = join(bin, 'node');
  process.stderr.write(`== Node ${process.versions.node} is not ${pinned} (.nvmrc): the tests run on ${node}\n`);
}
// Promotion builds dispatchers with the optimized profile (fat LTO: about 30 s a function). The suite builds
// dozens, so it takes the release profile unless told otherwise; the tests that are about the optimized
// profile ask for it by name.
process.env.CONTAINERLESS_BUILD_PROFILE ??= 'release';
let passed = 0;
let failed = 0;

function run(cmd, args, parse, env = {}) {
  return new Promise((resolve) => {
    const start = Date.now();
    process.stderr.write(`\n== ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      const r = parse(out, code);
      if (code !== 0 && r.failed === 0) r.failed = 1; // a crash or a build failure counts as a failure
      passed += r.passed;
      failed += r.failed;
      process.stderr.write(`== ${cmd}: ${r.passed} passed, ${r.failed} failed (${((Date.now() - start) / 1000).toFixed(0)}s)\n`);
      resolve();
    });
  });
}

function parseCargo(out) {
  let p = 0;
  let f = 0;
  for (const m of out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed/g)) {
    p += Number(m[1]);
    f += Number(m[2]);
  }
  return { passed: p, failed: f };
}

function parseMocha(out) {
  const p = out.match(/^\s*(\d+) passing/m);
  const f = out.match(/^\s*(\d+) failing/m);
  return { passed: p ? Number(p[1]) : 0, failed: f ? Number(f[1]) : 0 };
}

/** Checks that pass or fail as a whole: [what, command, args]. */
const CHECKS = [
  ['typecheck', node, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['import cycles', node, ['--import', 'tsx', 'scripts/check-cycles.ts']],
  ['rustfmt', 'cargo', ['fmt', '--all', '--check']],
  ['clippy', 'cargo', ['clippy', '--all-targets', '-p', 'containerless-runtime', '--', '-D', 'warnings']],
  ['TypeScript formatting', node, ['node_modules/prettier/bin/prettier.cjs', '--check', '.']],
];
const wholeCheck = (_out, code) => (code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 });

const mocha = ['node_modules/.bin/mocha', '--import=tsx', '--reporter', 'spec'];
if (!only || only === 'checks') {
  for (const [what, cmd, args] of CHECKS) {
    process.stderr.write(`\n== check: ${what}`);
    await run(cmd, args, wholeCheck);
  }
}
if (!only || only === 'rust') await run('cargo', ['test', '--release', '-p', 'containerless-runtime', '--', '--test-threads=2'], parseCargo);
if (!only || only === 'unit') await run(node, [...mocha, '--timeout', '60000', 'test/unit/**/*.test.ts'], parseMocha);
if (!only || only === 'integration') await run(node, [...mocha, '--timeout', '900000', 'test/integration/**/*.test.ts'], parseMocha);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
