/**
 * The `containerless` CLI run as a child process, from a folder outside the repository, and the cargo builds
 * behind it:
 *
 * - usage: --help, --version, exit 2 with a one-line message for bad flags and inputs;
 * - `check` against a stand-in dispatcher (test/fixtures/check/stand-in/: a stand-in `cargo` first on PATH
 *   writes a Node script with the dispatcher's HTTP contract that misbehaves on request), so the harness's own
 *   behaviour is tested: counting fallbacks, catching divergences, a dispatcher that dies, a failed build,
 *   SIGINT, no process left behind;
 * - buildDispatcher with real cargo and the real runtime crate;
 * - `check` and `compile` end to end: real tracing, code generation, cargo build and the compiled dispatcher.
 *
 * Real builds use the shared cache ($CONTAINERLESS_CACHE, default ~/.cache/containerless) so that a warm
 * machine does not recompile the runtime; the stand-in tests use a temporary cache.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { buildDispatcher, BuildError, crateName } from '../../../compiler/index.ts';
import { cacheDir, freePort, isAlive } from '../../../lib/index.ts';
import { prepare, Tracer } from '../../../trace/index.ts';
import { createRunnerApp, loadHandler } from '../../../watchdog/index.ts';
import { ROOT, runCli, shown as showRun, type CliRun } from './cli.ts';

const FIXTURES = join(ROOT, 'test/fixtures/check');
const STAND_IN_BIN = join(FIXTURES, 'stand-in/bin');
const PKG_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Every temporary file of this suite lives under one folder, removed at the end. */
const TMP = mkdtempSync(join(tmpdir(), 'cl-check-test-'));
const tempDir = (prefix: string): string => mkdtempSync(join(TMP, prefix));
after(() => rmSync(TMP, { recursive: true, force: true }));

/** Runs the CLI from a temporary folder (so nothing depends on the cwd). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}, onSpawn?: (child: ChildProcess) => void): Promise<CliRun> {
  return runCli(args, { cwd: tempDir('cwd-'), env, onSpawn });
}

/** For assertion messages: what the CLI printed. */
const shown = (r: CliRun): string => showRun(r, 60);

const fixture = (...p: string[]): string => join(FIXTURES, ...p);

describe('containerless CLI usage', () => {
  it('prints the version from package.json, also after a command', async () => {
    for (const args of [['--version'], ['check', '--version'], ['compile', '--version']]) {
      const r = await cli(args);
      expect(r.code, shown(r)).to.equal(0);
      expect(r.stdout).to.equal(`${PKG_VERSION}\n`);
    }
  });

  it('prints help on stdout with --help, for the command and each subcommand', async () => {
    const main = await cli(['--help']);
    expect(main.code).to.equal(0);
    expect(main.stdout).to.include('Usage: containerless <command>').and.include('check').and.include('compile');
    const check = await cli(['check', '--help']);
    expect(check.code).to.equal(0);
    expect(check.stdout).to.include('Usage: containerless check <function-dir> --requests <file.jsonl>');
    const compile = await cli(['compile', '-h']);
    expect(compile.code).to.equal(0);
    expect(compile.stdout).to.include('Usage: containerless compile <function-dir> --trace <trace.json>');
  });

  it('exits 2 with usage on stderr when no command is given', async () => {
    const r = await cli([]);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include('Usage: containerless');
  });

  it('exits 2 naming an unknown command', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include("unknown command 'frobnicate'");
  });

  it('exits 2 with one line naming an unknown flag', async () => {
    const r = await cli(['check', fixture('check-echo'), '--requests', fixture('check-echo/requests.jsonl'), '--bogus']);
    expect(r.code, shown(r)).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.include("'--bogus'");
  });

  it('exits 2 naming what is missing', async () => {
    const cases: [string[], RegExp][] = [
      [['check'], /missing <function-dir>/],
      [['check', fixture('check-echo')], /missing --requests/],
      [['check', fixture('check-echo'), '--requests', fixture('nope.jsonl')], /nope\.jsonl: no such requests file/],
      [['check', fixture('no-such-function'), '--requests', fixture('check-echo/requests.jsonl')], /no-such-function: no such function folder/],
      [['check', fixture('stand-in'), '--requests', fixture('check-echo/requests.jsonl')], /no handler\.js/],
      [['check', fixture('check-echo'), '--requests', fixture('check-echo/requests.jsonl'), '--trace-first', 'ten'], /--trace-first must be a whole number/],
      [['compile', fixture('check-echo')], /missing --trace/],
      [['compile', fixture('check-echo'), '--trace', fixture('nope.json')], /nope\.json: no such trace file/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}\n${shown(r)}`).to.equal(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.match(message);
    }
  });

  it('exits 2 naming the line and field of a bad requests line', async () => {
    const r = await cli(['check', fixture('check-echo'), '--requests', fixture('bad-requests.jsonl')]);
    expect(r.code, shown(r)).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trim()).to.equal('containerless check: bad-requests.jsonl:3: unknown field "bdy" (fields: method, path, query, headers, body)');
  });

  it('exits 2 for a trace that is not a trace', async () => {
    const dir = tempDir('trace-');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ format: 'containerless-trace', version: 2 }));
    const r = await cli(['compile', fixture('check-echo'), '--trace', join(dir, 'bad.json')]);
    expect(r.code, shown(r)).to.equal(2);
    expect(r.stderr).to.match(/bad\.json: trace/);
  });

  it('refuses a trace of another version of the handler (exit 2)', async () => {
    const prepared = prepare('module.exports = async () => 1;', 'handler.js');
    const out = tempDir('compile-');
    writeFileSync(join(out, 'trace.json'), JSON.stringify(new Tracer(prepared, 'other').trace()));
    const r = await cli(['compile', fixture('check-echo'), '--trace', join(out, 'trace.json')]);
    expect(r.code, shown(r)).to.equal(2);
    expect(r.stderr).to.match(/another version of handler\.js/);
  });
});

describe('containerless check, against a stand-in dispatcher', () => {
  let cache: string;
  let pidfile: string;
  const env = (): NodeJS.ProcessEnv => ({
    PATH: `${STAND_IN_BIN}${delimiter}${process.env.PATH}`,
    CONTAINERLESS_CACHE: cache,
    STAND_IN_HANDLER: fixture('check-stand-in'),
    STAND_IN_PIDFILE: pidfile,
  });
  const standInPid = (): number => Number(readFileSync(pidfile, 'utf8'));

  beforeEach(() => {
    cache = tempDir('cache-');
    pidfile = join(cache, 'dispatcher.pid');
  });

  it('counts answers, fallbacks and divergences, shows each, and exits 1 when a request diverged', async () => {
    const r = await cli(['check', fixture('check-stand-in'), '--requests', fixture('check-stand-in/requests.jsonl')], env());
    expect(r.code, shown(r)).to.equal(1);
    // Requests 1 and 2 echo the whole event, headers included: they agree only if both sides got the same request.
    expect(r.result).to.include({ requests: 5, rust: 2, fallback: 1, diverged: 2 });
    expect(Object.keys(r.result)).to.deep.equal(['requests', 'rust', 'fallback', 'diverged', 'diagnostics']);
    for (const d of r.result.diagnostics) expect(d).to.have.keys('code', 'severity', 'message', 'file', 'line', 'column');
    expect(r.stdout.trim().split('\n')).to.have.length(2); // a human summary, then the JSON line
    expect(r.stdout).to.match(/5 requests: 2 rust, 1 fallback, 2 diverged/);
    expect(r.stderr).to.match(/^\s+1\s+GET\s+\/a\?q=1\s+rust\s/m);
    expect(r.stderr).to.match(/^\s+3\s+GET\s+\/c\s+fallback\(unknown at handler\.js:\d+:\d+(: [^\n]*)?\)/m);
    expect(r.stderr).to.match(/^\s+4\s+POST\s+\/d\s+DIVERGED/m);
    expect(r.stderr).to.match(/body: node \d+ bytes, rust \d+ bytes, first difference at byte \d+/);
    expect(r.stderr).to.include('status: node 200, rust 201');
    expect(isAlive(standInPid()), 'the dispatcher is still running').to.equal(false);
  });

  it('prints only the result line on stdout with --json, even when the handler logs', async () => {
    const r = await cli(['check', fixture('check-stand-in'), '--requests', fixture('check-stand-in/requests.jsonl'), '--json', '--trace-first', '1'], env());
    expect(r.code, shown(r)).to.equal(1);
    expect(r.stdout.split('\n')).to.deep.equal([JSON.stringify(r.result), '']);
    expect(r.result).to.include({ requests: 5, rust: 2, fallback: 1, diverged: 2 });
  });

  it('reports a dispatcher that dies, and exits 1', async () => {
    const r = await cli(['check', fixture('check-stand-in'), '--requests', fixture('check-stand-in/crash.jsonl'), '--json'], env());
    expect(r.code, shown(r)).to.equal(1);
    expect(r.result.error).to.equal('the dispatcher exited with status 3 while answering request 2 (line 2)');
    expect(r.result).to.include({ requests: 3, rust: 1 });
    expect(r.stderr).to.match(/^\s+2\s+GET\s+\/b\s+CRASHED/m);
  });

  it("reports a failed build with the end of cargo's output, and exits 1", async () => {
    const r = await cli(['check', fixture('check-stand-in'), '--requests', fixture('check-stand-in/requests.jsonl'), '--json'], {
      ...env(),
      STAND_IN_CARGO_FAIL: '1',
    });
    expect(r.code, shown(r)).to.equal(1);
    expect(r.result).to.include({ requests: 5, rust: 0, fallback: 0, diverged: 0, error: 'cargo build of fn-check-stand-in failed (exit 101)' });
    expect(r.stderr).to.include('error[E0425]: stand-in failure');
    expect(r.stderr).to.match(/\[\s*\d+s\] Compiling fn-check-stand-in/);
  });

  it('stops the dispatcher and exits 130 on SIGINT', async () => {
    let child: ChildProcess | undefined;
    const running = cli(['check', fixture('check-stand-in'), '--requests', fixture('check-stand-in/slow.jsonl'), '--json'], env(), (c) => (child = c));
    // Request 2 never gets an answer from the stand-in: wait until the replay is there.
    const deadline = Date.now() + 60_000;
    while (!existsSync(pidfile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1000));
    child!.kill('SIGINT');
    const r = await running;
    expect(r.code, shown(r)).to.equal(130);
    expect(r.result).to.include({ error: 'interrupted' });
    expect(isAlive(standInPid()), 'the dispatcher is still running').to.equal(false);
  });
});

describe('buildDispatcher', () => {
  // Each run builds new sources, so that "compiles only its own crate" is seen even on a warm cache.
  const nonce = Date.now().toString(36);
  const trivial = (word: string): string =>
    `fn main() {\n    let v = clrt::Value::Undefined;\n    println!("${word} {}", matches!(v, clrt::Value::Undefined));\n}\n`;
  const run = (binary: string): Promise<string> =>
    new Promise((done, fail) => {
      const c = spawn(binary, [], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.on('error', fail);
      c.on('close', () => done(out));
    });

  it('names crates fn-<name>, in lower case and [a-z0-9-]', () => {
    expect(crateName('Hello_World.js')).to.equal('fn-hello-world-js');
    expect(crateName('***')).to.equal('fn-function');
  });

  it('builds a crate that links the runtime, and a second function compiles only its own crate', async () => {
    const first = await buildDispatcher(trivial(`first-${nonce}`), { name: 'cl-test-build-a' });
    expect(await run(first.binary)).to.equal(`first-${nonce} true\n`);
    const lines: string[] = [];
    const second = await buildDispatcher(trivial(`second-${nonce}`), { name: 'cl-test-build-b', onProgress: (l) => lines.push(l) });
    expect(await run(second.binary)).to.equal(`second-${nonce} true\n`);
    const compiled = lines.filter((l) => /\] Compiling /.test(l)).map((l) => l.replace(/^.*\] Compiling (\S+).*$/, '$1'));
    expect(compiled, lines.join('\n')).to.deep.equal(['fn-cl-test-build-b']);
    expect(second.seconds, 'a second function should build in well under a minute').to.be.below(60);
    const work = join(cacheDir(), 'v1/work');
    expect(readFileSync(join(work, 'Cargo.toml'), 'utf8'))
      .to.include('members = ["fn-*"]')
      .and.include('codegen-units = 16');
    expect(readFileSync(join(work, 'fn-cl-test-build-b/Cargo.toml'), 'utf8')).to.include(`path = ${JSON.stringify(join(ROOT, 'runtime'))}`);
  });

  it('compiles nothing and leaves main.rs alone when a function has not changed', async () => {
    const main = trivial('same');
    await buildDispatcher(main, { name: 'cl-test-build-a' });
    const file = join(cacheDir(), 'v1/work/fn-cl-test-build-a/src/main.rs');
    const mtime = statSync(file).mtimeMs;
    const lines: string[] = [];
    const again = await buildDispatcher(main, { name: 'cl-test-build-a', onProgress: (l) => lines.push(l) });
    expect(statSync(file).mtimeMs).to.equal(mtime);
    expect(
      lines.filter((l) => l.includes('Compiling')),
      lines.join('\n'),
    ).to.deep.equal([]);
    expect(await run(again.binary)).to.equal('same true\n');
  });

  it('builds two functions at once without mixing them up', async () => {
    const [a, b] = await Promise.all([
      buildDispatcher(trivial(`left-${nonce}`), { name: 'cl-test-build-a' }),
      buildDispatcher(trivial(`right-${nonce}`), { name: 'cl-test-build-b' }),
    ]);
    expect(await run(a.binary)).to.equal(`left-${nonce} true\n`);
    expect(await run(b.binary)).to.equal(`right-${nonce} true\n`);
  });

  it("throws a BuildError E_BUILD with the compiler's message when the code does not compile", async () => {
    try {
      await buildDispatcher('fn main() { let x: u32 = "not a number"; }\n', { name: 'cl-test-build-broken' });
      expect.fail('the build should fail');
    } catch (err) {
      expect(err).to.be.instanceOf(BuildError);
      const e = err as BuildError;
      expect(e.code).to.equal('E_BUILD');
      expect(e.message).to.equal('cargo build of fn-cl-test-build-broken failed (exit 101)');
      expect(e.output.length).to.be.within(1, 40);
      expect(e.output.join('\n')).to.include('error[E0308]: mismatched types');
    }
  });
});

describe('containerless check and compile, with the compiled dispatcher', () => {
  before(function () {
    const lib = readFileSync(join(ROOT, 'runtime/src/lib.rs'), 'utf8');
    if (!/\bpub mod dispatcher\b/.test(lib)) {
      throw new Error(
        'runtime/src/lib.rs has no `pub mod dispatcher` yet: generated code calls clrt::dispatcher::main(&PROGRAM), so no dispatcher can be built until the runtime provides it',
      );
    }
  });

  it('answers every request of a fully traced function from Rust, as Node does', async () => {
    const r = await cli(['check', fixture('check-echo'), '--requests', fixture('check-echo/requests.jsonl')]);
    expect(r.code, shown(r)).to.equal(0);
    expect(r.result, shown(r)).to.include({ requests: 9, rust: 9, fallback: 0, diverged: 0 });
    expect(r.result.error, shown(r)).to.equal(undefined);
  });

  it("answers Math's transcendental functions from Rust with Node's exact bits (trig, logs, exps, hyperbolics, cbrt, atan2)", async () => {
    const r = await cli(['check', fixture('math-functions'), '--requests', fixture('math-functions/requests.jsonl'), '--json']);
    expect(r.code, shown(r)).to.equal(0);
    expect(r.result, shown(r)).to.include({ requests: 10, rust: 10, fallback: 0, diverged: 0 });
    expect(r.result.error, shown(r)).to.equal(undefined);
  });

  it('falls back on paths the trace never saw and still diverges nowhere', async () => {
    const r = await cli(['check', fixture('check-numbers'), '--requests', fixture('check-numbers/requests.jsonl'), '--trace-first', '6', '--json']);
    expect(r.code, shown(r)).to.equal(0);
    expect(r.stdout.split('\n'), shown(r)).to.have.length(2);
    expect(r.result, shown(r)).to.include({ requests: 10, rust: 8, fallback: 2, diverged: 0 });
    expect(r.stderr).to.match(/^\s+7\s+POST\s+\/stats\s+fallback\(unknown at handler\.js:\d+:\d+(: [^\n]*)?\)/m);
  });

  it('compiles a trace into a dispatcher that serves the function', async () => {
    const dir = fixture('check-echo');
    const prepared = prepare(readFileSync(join(dir, 'handler.js'), 'utf8'), 'handler.js');
    const tracer = new Tracer(prepared, 'cl-test-compile');
    const handler = loadHandler(dir, { source: prepared.instrumented, inject: { __cl: tracer.runtime } });
    const server = createRunnerApp({ handler, choose: () => ({ handler, around: (fn) => tracer.run(fn) }) }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    await fetch(`http://127.0.0.1:${port}/hello?name=x`);
    await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    server.close();
    const out = tempDir('compile-');
    writeFileSync(join(out, 'trace.json'), JSON.stringify(tracer.trace()));

    const r = await cli(['compile', dir, '--trace', join(out, 'trace.json'), '-o', join(out, 'dist')]);
    expect(r.code, shown(r)).to.equal(0);
    const binary = join(out, 'dist', 'fn-cl-test-compile');
    expect(r.stdout).to.equal(`${binary}\n`);
    expect(existsSync(join(out, 'dist', 'main.rs'))).to.equal(true);

    const dispatcherPort = await freePort();
    const child = spawn(binary, [], { env: { ...process.env, port: String(dispatcherPort) }, stdio: 'ignore' });
    try {
      let answer: Response | undefined;
      for (let i = 0; i < 200 && !answer; i++) {
        answer = await fetch(`http://127.0.0.1:${dispatcherPort}/hello?name=x`).catch(() => undefined);
        if (!answer) await new Promise((res) => setTimeout(res, 50));
      }
      expect(answer?.status).to.equal(200);
      expect(await answer!.text()).to.equal('{"hello":"x","path":"/hello"}');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
