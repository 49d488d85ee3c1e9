/**
 * The runtime's profile (harness/pgo.ts), with real builds: rustc's llvm-tools, instrumented dispatchers that
 * serve the training requests and write their counts, llvm-profdata, and an `optimized` build that uses the
 * profile.
 *
 * - recorded on a small training folder (test/fixtures/pgo/training): the profile holds the runtime's
 *   functions with counts (llvm-profdata show), and a second call returns the same file without recording;
 * - a dispatcher built with it is another binary than the one built without, and answers as that one does;
 *   a file that is not a profile is reported by rustc, through the build's progress (so the flag reaches it);
 * - CONTAINERLESS_PGO=0, a missing llvm-profdata and a training handler that does not load each give a build
 *   without a profile and a line that says why (pgoFor), never a failed build.
 *
 * The cache is the tests' shared one (CONTAINERLESS_CACHE), so the runtime's crates are compiled once per
 * machine in each of the two profile target dirs; a cold machine spends a few minutes here.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDispatcher, generateRust } from '../../../compiler/index.ts';
import { Dispatcher, send, traceRequests } from '../../../harness/check.ts';
import { findLlvmProfdata, pgoFor, runtimeProfile } from '../../../harness/pgo.ts';
import { readRequests, toHttpRequest } from '../../../harness/requests.ts';
import { prepare } from '../../../trace/index.ts';
import { ROOT } from './cli.ts';

const TRAINING = join(ROOT, 'test/fixtures/pgo/training');
const WORDS = join(TRAINING, 'words');
const TMP = mkdtempSync(join(tmpdir(), 'cl-pgo-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

/** The answers (status and body) of the `words` handler's requests from a dispatcher binary. */
async function answers(binary: string): Promise<string[]> {
  const d = await Dispatcher.start(binary, { cl_workers: '1' });
  try {
    await d.waitHealthy();
    const out: string[] = [];
    for (const r of readRequests(join(WORDS, 'requests.jsonl'))) {
      const a = await send(d.port, toHttpRequest(r));
      out.push(`${a.status} ${a.body.toString('utf8')}`);
    }
    return out;
  } finally {
    await d.stop();
  }
}

describe('the runtime profile (PGO)', function () {
  this.timeout(1_200_000);
  let profile: string;

  it('finds llvm-profdata in rustc sysroot (.ci/setup-llvm-tools.sh installs it)', () => {
    const tool = findLlvmProfdata({});
    expect(tool, 'rustup component add llvm-tools').to.be.a('string');
    expect(spawnSync(tool as string, ['--version'], { encoding: 'utf8' }).stdout).to.match(/LLVM version/);
  });

  it('records a profile of the runtime on the training handlers, once', async () => {
    // A profile this machine recorded before is made again, so that the recording runs here.
    const first = await runtimeProfile({ trainingDir: TRAINING, env: {} });
    expect(first).to.be.a('string');
    rmSync(first as string);
    const lines: string[] = [];
    const path = await runtimeProfile({ trainingDir: TRAINING, onProgress: (l) => lines.push(l), env: {} });
    expect(path, lines.join('\n')).to.equal(first);
    profile = path as string;
    expect(lines.join('\n')).to.match(/training handler words: 4 requests served 3 times/);
    const show = spawnSync(findLlvmProfdata({}) as string, ['show', '--function=clrt', profile], { encoding: 'utf8' });
    expect(show.status, show.stderr).to.equal(0);
    // The runtime's functions (clrt::...) are in it, and some of them ran.
    const shown = Number(/Functions shown: (\d+)/.exec(show.stdout)?.[1]);
    const max = Number(/Maximum function count: (\d+)/.exec(show.stdout)?.[1]);
    expect(shown, show.stdout.slice(-400)).to.be.above(200);
    expect(max).to.be.above(100);

    const again: string[] = [];
    const mtime = statSync(profile).mtimeMs;
    expect(await runtimeProfile({ trainingDir: TRAINING, onProgress: (l) => again.push(l), env: {} })).to.equal(profile);
    expect(again.join('\n')).not.to.match(/recording/);
    expect(statSync(profile).mtimeMs).to.equal(mtime);
  });

  it('builds a dispatcher with it that answers as the one without', async () => {
    const reqs = readRequests(join(WORDS, 'requests.jsonl'));
    const { tracer } = await traceRequests(WORDS, prepare(readFileSync(join(WORDS, 'handler.js'), 'utf8'), 'handler.js'), 'pgo-words', reqs);
    const main = generateRust(tracer.trace(), { name: 'pgo-words' }).main;
    const lines: string[] = [];
    const withProfile = await buildDispatcher(main, { name: 'pgo-words', profile: 'optimized', pgo: { use: profile }, onProgress: (l) => lines.push(l) });
    expect(lines.join('\n')).to.include(`with the profile ${profile}`);
    const without = await buildDispatcher(main, { name: 'pgo-words', profile: 'release' });
    expect(withProfile.binary).not.to.equal(without.binary);
    const a = await answers(withProfile.binary);
    expect(a).to.deep.equal(await answers(without.binary));
    expect(a[0]).to.equal('200 {"words":4,"top":"alpha:3 beta:2 delta:1 gamma:1"}');

    // The profile reaches rustc: one that is not a profile is reported (rustc warns and builds without it).
    const garbage = join(TMP, 'garbage.profdata');
    writeFileSync(garbage, 'not a profile\n');
    const notes: string[] = [];
    await buildDispatcher(main, { name: 'pgo-words', profile: 'optimized', pgo: { use: garbage }, onProgress: (l) => notes.push(l) });
    expect(notes.join('\n')).to.match(/rustc: warning: \S*garbage\.profdata: invalid instrumentation profile data/);
    expect(lines.join('\n')).not.to.match(/rustc: /);
  });

  it('builds without a profile, and says why, when profiles are off or cannot be made', async () => {
    const off: string[] = [];
    expect(await pgoFor('optimized', { trainingDir: TRAINING, env: { CONTAINERLESS_PGO: '0' }, onProgress: (l) => off.push(l) })).to.equal(undefined);
    expect(off.join('\n')).to.include('CONTAINERLESS_PGO=0: building without the runtime profile');

    const missing: string[] = [];
    const env = { CONTAINERLESS_LLVM_PROFDATA: join(TMP, 'no-such-llvm-profdata') };
    expect(await pgoFor('optimized', { trainingDir: TRAINING, env, onProgress: (l) => missing.push(l) })).to.equal(undefined);
    expect(missing.join('\n')).to.include('does not exist: building without the runtime profile');

    // A training handler that throws while loading: recording fails, the build goes on without a profile.
    const broken = join(TMP, 'broken');
    cpSync(TRAINING, broken, { recursive: true });
    writeFileSync(join(broken, 'words', 'handler.js'), "throw new Error('cannot load');\n");
    const failed: string[] = [];
    expect(await pgoFor('optimized', { trainingDir: broken, env: {}, onProgress: (l) => failed.push(l) })).to.equal(undefined);
    expect(failed.join('\n')).to.match(/could not record the runtime's profile, building without it: .*cannot load/);

    // Only optimized builds use one.
    expect(await pgoFor('release', { trainingDir: TRAINING, env: {} })).to.equal(undefined);
    expect(existsSync(profile)).to.equal(true);
  });
});
