/**
 * The runtime's profile: profile-guided optimisation for every dispatcher built with the `optimized` profile.
 *
 * A dispatcher spends most of a request in the runtime crate (property reads, calls, strings, arrays, the
 * regex engine, JSON), which is the same code in every function. LLVM lays out and inlines code better when
 * it knows which branches and calls are hot, so the runtime is compiled with a profile recorded once per
 * runtime version on the training handlers in compiler/training/ (not the examples the benchmarks measure):
 *
 *   1. each training handler is traced with its requests and compiled, as `check` does, and built with
 *      `-Cprofile-generate` (buildDispatcher's `pgo: { generate }`, its own target dir);
 *   2. each binary serves its requests three times over (one replica, `cl_workers=1`) and, on SIGTERM,
 *      exits and writes what it counted (a .profraw file; LLVM_PROFILE_FILE names it);
 *   3. `llvm-profdata merge` makes one profile of them: ${cache}/v1/pgo/runtime-<key>.profdata, where the key
 *      hashes runtimeVersion() (the runtime, Cargo.lock, the compiler), the rustc version and the training
 *      handlers' files. It is made once and then reused by every build.
 *
 * Builds then pass it as `pgo: { use }`. The function's own generated code has no entry in the profile and is
 * optimised as without one; the answers are the same either way (a profile changes how code is laid out,
 * never what it computes), so the differential checks hold as before.
 *
 * It needs `llvm-profdata` of the same LLVM as rustc: the `llvm-tools` component (`rustup component add
 * llvm-tools`), found in rustc's sysroot, or $CONTAINERLESS_LLVM_PROFDATA. Without it, or with
 * CONTAINERLESS_PGO=0, builds go on without a profile and say so in their progress lines.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDispatcher, BuildError, CACHE_LAYOUT, generateRust, runtimeVersion } from '../compiler/index.ts';
import { cacheDir } from '../lib/index.ts';
import { prepare } from '../trace/index.ts';
import { AbortedError, CheckError, Dispatcher, send, traceRequests } from './check.ts';
import { readRequests, toHttpRequest } from './requests.ts';

/** The training handlers: one folder each, with handler.js and requests.jsonl. */
export const TRAINING_DIR = fileURLToPath(new URL('../compiler/training/', import.meta.url)).replace(/\/$/, '');

/** How many times each training binary serves its requests. */
const ROUNDS = 3;

export interface RuntimeProfileOptions {
  /** Replaces $CONTAINERLESS_CACHE (the folder that holds `v1/`). */
  cacheDir?: string;
  /** Stage lines (the builds' cargo lines included). */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** Where CONTAINERLESS_PGO and CONTAINERLESS_LLVM_PROFDATA are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The training handlers' folder (default TRAINING_DIR); the tests use a smaller one. */
  trainingDir?: string;
}

let rustcMemo: { version: string; profdata: string | null } | undefined;

/**
 * rustc's `-vV` text and the `llvm-profdata` of its sysroot, if the llvm-tools component is installed; asked
 * of rustc once per process (every optimized build asks).
 */
function rustcInfo(): { version: string; profdata: string | null } {
  if (rustcMemo === undefined) {
    const vv = spawnSync('rustc', ['-vV'], { encoding: 'utf8' });
    if (vv.status !== 0) return { version: '', profdata: null };
    const host = /^host: (.+)$/m.exec(vv.stdout)?.[1]?.trim();
    const sysroot = spawnSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).stdout?.trim();
    const tool = host && sysroot ? join(sysroot, 'lib', 'rustlib', host, 'bin', 'llvm-profdata') : '';
    rustcMemo = { version: vv.stdout, profdata: tool && existsSync(tool) ? tool : null };
  }
  return rustcMemo;
}

/** The `llvm-profdata` builds will use: $CONTAINERLESS_LLVM_PROFDATA, else the one in rustc's sysroot. */
export function findLlvmProfdata(env: NodeJS.ProcessEnv = process.env): string | null {
  const given = env.CONTAINERLESS_LLVM_PROFDATA;
  if (given) return existsSync(given) ? given : null;
  return rustcInfo().profdata;
}

/** The training handlers under `dir`: folders holding both handler.js and requests.jsonl, sorted. */
export function trainingHandlers(dir = TRAINING_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'handler.js')) && existsSync(join(dir, e.name, 'requests.jsonl')))
    .map((e) => e.name)
    .sort();
}

/**
 * The runtime's profile (a .profdata path), recorded now if this runtime version has none yet; null when
 * profiles are off (CONTAINERLESS_PGO=0) or llvm-profdata is missing, which `onProgress` reports.
 * Throws BuildError when a training build fails, CheckError when a training binary does not serve.
 */
export async function runtimeProfile(opts: RuntimeProfileOptions = {}): Promise<string | null> {
  const env = opts.env ?? process.env;
  const progress = opts.onProgress ?? (() => {});
  if (env.CONTAINERLESS_PGO === '0') {
    progress('CONTAINERLESS_PGO=0: building without the runtime profile');
    return null;
  }
  const tool = findLlvmProfdata(env);
  if (tool === null) {
    progress(
      env.CONTAINERLESS_LLVM_PROFDATA
        ? `CONTAINERLESS_LLVM_PROFDATA=${env.CONTAINERLESS_LLVM_PROFDATA} does not exist: building without the runtime profile`
        : 'llvm-profdata not found (rustup component add llvm-tools): building without the runtime profile',
    );
    return null;
  }
  const trainingDir = opts.trainingDir ?? TRAINING_DIR;
  const names = trainingHandlers(trainingDir);
  if (names.length === 0) throw new BuildError(`no training handlers in ${trainingDir}`);
  const keyHash = createHash('sha256').update(runtimeVersion()).update('\0').update(rustcInfo().version);
  for (const name of names) {
    for (const f of ['handler.js', 'requests.jsonl']) keyHash.update(`\0${name}/${f}\0`).update(readFileSync(join(trainingDir, name, f)));
  }
  const key = keyHash.digest('hex').slice(0, 16);
  const root = join(opts.cacheDir ?? cacheDir(), CACHE_LAYOUT);
  const dir = join(root, 'pgo');
  const profile = join(dir, `runtime-${key}.profdata`);
  if (existsSync(profile)) return profile;

  const started = Date.now();
  progress(`recording the runtime's profile on ${names.length} training handlers (${names.join(', ')}); once per runtime version`);
  // The instrumented builds are compiled with one fixed folder (so their crates stay cached); each run writes
  // into a folder of its own through LLVM_PROFILE_FILE.
  const compiledIn = join(dir, 'raw');
  const raw = join(dir, `raw-${process.pid}`);
  await rm(raw, { recursive: true, force: true });
  await mkdir(raw, { recursive: true });
  try {
    for (const name of names) {
      if (opts.signal?.aborted) throw new AbortedError();
      const fnDir = join(trainingDir, name);
      const prepared = prepare(readFileSync(join(fnDir, 'handler.js'), 'utf8'), 'handler.js');
      const requests = readRequests(join(fnDir, 'requests.jsonl'));
      const { tracer } = await traceRequests(fnDir, prepared, `training-${name}`, requests, { signal: opts.signal });
      const generated = generateRust(tracer.trace(), { name: `training-${name}` });
      const built = await buildDispatcher(generated.main, {
        name: `training-${name}`,
        cacheDir: opts.cacheDir,
        profile: 'optimized',
        pgo: { generate: compiledIn },
        onProgress: progress,
        signal: opts.signal,
      });
      const d = await Dispatcher.start(built.binary, { cl_workers: '1', LLVM_PROFILE_FILE: join(raw, `${name}-%p.profraw`) });
      try {
        await d.waitHealthy(opts.signal);
        for (let round = 0; round < ROUNDS; round++) {
          for (const r of requests) {
            if (opts.signal?.aborted) throw new AbortedError();
            await send(d.port, toHttpRequest(r), opts.signal);
          }
        }
      } finally {
        await d.stop();
      }
      if (d.child.exitCode !== 0)
        throw new CheckError(`the training dispatcher of ${name} ${d.describeExit()}, not 0 (its profile is written at a clean exit)`, d.tail);
      progress(`training handler ${name}: ${requests.length} requests served ${ROUNDS} times`);
    }
    const files = readdirSync(raw).filter((f) => f.endsWith('.profraw'));
    if (files.length < names.length) throw new BuildError(`the training runs wrote ${files.length} profiles for ${names.length} handlers`);
    const tmp = `${profile}.${process.pid}.tmp`;
    await mergeProfiles(
      tool,
      tmp,
      files.map((f) => join(raw, f)),
    );
    await rename(tmp, profile);
    progress(`recorded the runtime's profile ${profile} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
    return profile;
  } finally {
    await rm(raw, { recursive: true, force: true });
  }
}

/** `llvm-profdata merge -o out inputs...`; BuildError with its output when it fails. */
function mergeProfiles(tool: string, out: string, inputs: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(tool, ['merge', '-o', out, ...inputs], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const keep = (c: Buffer): void => {
      output.push(...c.toString('utf8').split('\n').filter(Boolean));
      output.splice(0, Math.max(0, output.length - 40));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (err) => fail(new BuildError(`cannot run ${tool}: ${err.message}`, [], { cause: err })));
    child.once('exit', (code) => (code === 0 ? done() : fail(new BuildError(`${tool} merge failed (exit ${code})`, output))));
  });
}

/**
 * buildDispatcher's `pgo` option for a build with `profile`: the runtime's profile for `optimized` builds
 * (recorded first if need be), none for the others or when profiles are off or cannot be made here. A
 * failure to record one is reported through `onProgress` and the build goes on without it (the same code,
 * a little slower); only an abort is thrown.
 */
export async function pgoFor(profile: string | undefined, opts: RuntimeProfileOptions = {}): Promise<{ use: string } | undefined> {
  if (profile !== 'optimized') return undefined;
  try {
    const path = await runtimeProfile(opts);
    return path === null ? undefined : { use: path };
  } catch (err) {
    if (opts.signal?.aborted || err instanceof AbortedError) throw err;
    const e = err as Error & { output?: string[] };
    opts.onProgress?.(`could not record the runtime's profile, building without it: ${e.message}`);
    for (const line of (e.output ?? []).slice(-10)) opts.onProgress?.(`  ${line}`);
    return undefined;
  }
}
