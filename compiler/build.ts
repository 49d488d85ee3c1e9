/**
 * Cargo builds of dispatchers, cached outside the function's folder:
 *
 *   ${CONTAINERLESS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/containerless}/v1/
 *     build.lock            held (pid inside) while a build runs; builds queue on it
 *     work/                 one Cargo workspace: members = ["fn-*"]
 *       Cargo.toml          the workspace, with the release and optimized profiles
 *       Cargo.lock          starts as a copy of the repository's, so crate versions are pinned
 *       fn-<name>/          one crate per function: Cargo.toml (the runtime by path) and src/main.rs
 *     target/               the one target dir every function shares (CI's CARGO_TARGET_DIR too)
 *     target-pgo-gen/       builds instrumented to record a profile (`pgo: { generate }`, see harness/pgo.ts)
 *     target-pgo/           builds that use a recorded profile (`pgo: { use }`): their compiler flags differ
 *                           from the others', so they keep their own copies of the runtime and its crates
 *     bin/fn-<name>-<hash>  the built binary, copied out and named by its main.rs, so a later build of the
 *                           same function never replaces a binary someone is about to run (the newest
 *                           three per function are kept)
 *
 * The runtime and the crates it uses are compiled once; a second function's build compiles only its crate.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir, isAlive } from '../lib/index.ts';

/** The layout's version: a new layout gets a new folder rather than tripping over an old one. */
export const CACHE_LAYOUT = 'v1';

/** The repository's `runtime/` crate and `Cargo.lock`, resolved from this file. */
export const RUNTIME_DIR = fileURLToPath(new URL('../runtime/', import.meta.url)).replace(/\/$/, '');
export const REPO_LOCKFILE = fileURLToPath(new URL('../Cargo.lock', import.meta.url));

/**
 * The profiles of the generated workspace. `release` is the repository's own, so the runtime compiles alike,
 * and builds a function's crate in seconds (check and the tests use it). `optimized` is what a promoted
 * function runs: the runtime and the function's code optimised as one unit (fat LTO, one codegen unit), so
 * the runtime's helpers inline into the generated code. Its build of a function's crate takes about 30 s on
 * two cores rather than 4 s, and the dispatcher spends about a tenth less CPU per request
 * (`npm run bench:compiled` measures both).
 */
const RELEASE_PROFILE = `[profile.release]
opt-level = 3
debug = false
incremental = true
codegen-units = 16

[profile.optimized]
inherits = "release"
incremental = false
codegen-units = 1
lto = "fat"
`;

/** The cargo profile a dispatcher is built with (see RELEASE_PROFILE). */
export type BuildProfile = 'release' | 'optimized';
export const BUILD_PROFILES: readonly BuildProfile[] = ['release', 'optimized'];

/**
 * The profile promotion builds with: $CONTAINERLESS_BUILD_PROFILE, else `optimized`. `release` trades the
 * dispatcher's speed for builds that take seconds (the tests' choice). Anything else is an error that names
 * the choices.
 */
export function buildProfileFromEnv(env: NodeJS.ProcessEnv = process.env): BuildProfile {
  const v = env.CONTAINERLESS_BUILD_PROFILE;
  if (v === undefined || v === '') return 'optimized';
  if ((BUILD_PROFILES as readonly string[]).includes(v)) return v as BuildProfile;
  throw new Error(`CONTAINERLESS_BUILD_PROFILE must be one of ${BUILD_PROFILES.join(', ')}, not '${v}'`);
}

/** Lines of cargo output a BuildError carries. */
const TAIL_LINES = 40;

export interface BuildOptions {
  /** The function's name; the crate is `fn-<name>` (see crateName). */
  name: string;
  /** Replaces $CONTAINERLESS_CACHE (the folder that holds `v1/`). */
  cacheDir?: string;
  /** Default true; false builds with the dev profile (faster to build, far slower to run). */
  release?: boolean;
  /** The release build's profile (default `release`; see BuildProfile). */
  profile?: BuildProfile;
  /**
   * Profile-guided optimisation (LLVM's, through rustc): `generate` builds a binary that writes the counts of
   * its branches and calls, on exit, into that folder; `use` builds with a merged profile (`llvm-profdata
   * merge`), so that the hot paths it recorded are laid out and inlined first. Each has a target dir of its
   * own (the compiler flags differ, and cargo would otherwise rebuild the shared crates at every switch).
   */
  pgo?: { generate: string } | { use: string };
  /** Stage lines with elapsed seconds, e.g. `[  12s] Compiling tokio v1.54.1`. */
  onProgress?: (line: string) => void;
  /** Aborting stops cargo (and the compilers it started). */
  signal?: AbortSignal;
}

export interface BuildResult {
  /** Absolute path of the dispatcher binary. */
  binary: string;
  /** Wall-clock seconds, including any wait for another build. */
  seconds: number;
}

export type BuildErrorCode = 'E_BUILD';

export class BuildError extends Error {
  override readonly name = 'BuildError';
  readonly code: BuildErrorCode = 'E_BUILD';
  constructor(
    message: string,
    /** The last lines of cargo's output (at most 40), without its progress lines. */
    readonly output: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The crate (and binary) name for a function: `fn-` and the name in lower case, [a-z0-9-] only. */
export function crateName(name: string): string {
  const clean = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
  return `fn-${clean || 'function'}`;
}

/** Writes a file only when its content differs (cargo rebuilds on mtime), atomically. */
async function writeIfChanged(path: string, content: string | Buffer): Promise<boolean> {
  const next = typeof content === 'string' ? Buffer.from(content) : content;
  try {
    if ((await readFile(path)).equals(next)) return false;
  } catch {
    // absent: write it
  }
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, next);
  await rename(tmp, path);
  return true;
}

function tomlString(s: string): string {
  return JSON.stringify(s); // JSON's escapes are a subset of TOML basic strings'
}

function workspaceManifest(): string {
  return `# Generated by containerless: every function crate here shares this workspace's Cargo.lock and one target dir.
[workspace]
resolver = "2"
members = ["fn-*"]

${RELEASE_PROFILE}`;
}

function crateManifest(crate: string): string {
  return `# Generated by containerless. Do not edit.
[package]
name = ${tomlString(crate)}
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = ${tomlString(crate)}
path = "src/main.rs"

[dependencies]
containerless-runtime = { path = ${tomlString(RUNTIME_DIR)} }
`;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((done, fail) => {
    const t = setTimeout(done, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        fail(new BuildError('build aborted'));
      },
      { once: true },
    );
  });

/**
 * Holds `path` as a lock file for the duration of `fn`. A lock whose holder has died is taken over. Builds of
 * one cache queue here, so the workspace's files are never written by two builds at once (cargo would
 * serialise the compiles anyway).
 */
const locksHeldHere = new Set<string>();

async function withLock<T>(path: string, progress: (line: string) => void, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  let announced = 0;
  for (;;) {
    if (signal?.aborted) throw new BuildError('build aborted');
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      locksHeldHere.add(path);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    // Our own pid on a lock this process does not hold: left by an earlier process that had the same pid.
    const stale = holder === process.pid && !locksHeldHere.has(path);
    if (!Number.isInteger(holder) || holder <= 0 || stale || !isAlive(holder)) {
      // A dead holder, or a lock file caught between creation and its pid being written: give the writer a
      // moment before taking over.
      const age = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (Number.isInteger(holder) && holder > 0 ? true : age > 2000) {
        // Re-read right before removing, so a lock that another waiter has just taken over survives.
        const again = Number((await readFile(path, 'utf8').catch(() => '')).trim());
        if (again === holder) await unlink(path).catch(() => {});
        continue;
      }
    } else if (announced !== holder) {
      announced = holder;
      progress(`waiting for another build (pid ${holder}, lock ${path}) to finish`);
    }
    await sleep(200, signal);
  }
  try {
    return await fn();
  } finally {
    locksHeldHere.delete(path);
    await unlink(path).catch(() => {});
  }
}

/**
 * Removes crates that would break the workspace: those a killed build left half-written (no Cargo.toml),
 * and those of another checkout of this project, whose runtime path differs (cargo refuses two packages of
 * one name at different paths in a lockfile). Their binaries in bin/ stay usable.
 */
async function removeBrokenMembers(work: string): Promise<void> {
  const ours = `containerless-runtime = { path = ${tomlString(RUNTIME_DIR)} }`;
  for (const entry of await readdir(work, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('fn-')) continue;
    const manifest = join(work, entry.name, 'Cargo.toml');
    const text = existsSync(manifest) ? await readFile(manifest, 'utf8') : '';
    if (!text.includes(ours)) await rm(join(work, entry.name), { recursive: true, force: true });
  }
}

/** Keeps the repository's lock as the workspace's starting point: copied again whenever it changes. */
async function syncLockfile(work: string): Promise<void> {
  let repoLock: Buffer;
  try {
    repoLock = await readFile(REPO_LOCKFILE);
  } catch {
    return; // no lock in this installation: cargo resolves, as for any crate
  }
  if (await writeIfChanged(join(work, '.repo-Cargo.lock'), repoLock)) {
    const tmp = join(work, `Cargo.lock.${process.pid}.tmp`);
    await writeFile(tmp, repoLock);
    await rename(tmp, join(work, 'Cargo.lock'));
  }
}

/**
 * Keeps the binary just built and this crate's two newest others; older ones go once they are ten minutes old
 * (a check starts its binary right after the build; `compile -o` copies it out).
 */
async function pruneBinaries(bin: string, crate: string, keep: string): Promise<void> {
  const ours: { path: string; mtime: number }[] = [];
  for (const name of await readdir(bin)) {
    const path = join(bin, name);
    if (path === keep || !name.startsWith(`${crate}-`) || !/^[0-9a-f]{16}$/.test(name.slice(crate.length + 1))) continue;
    const s = await stat(path).catch(() => null);
    if (s) ours.push({ path, mtime: s.mtimeMs });
  }
  ours.sort((a, b) => b.mtime - a.mtime);
  const graceEnds = Date.now() - 10 * 60 * 1000;
  for (const old of ours.slice(2)) if (old.mtime < graceEnds) await unlink(old.path).catch(() => {});
}

interface CargoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  tail: string[];
}

/** Runs cargo in its own process group, streaming its progress lines. */
function runCargo(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  started: number,
  progress: (line: string) => void,
  signal?: AbortSignal,
  /** Every other line of cargo's output (its diagnostics), as it comes. */
  onLine?: (line: string) => void,
): Promise<CargoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('cargo', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail: string[] = [];
    const keep = (line: string): void => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    };
    const stopGroup = (): void => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGTERM'); // cargo and the rustc processes it started
        } catch {
          // already gone
        }
      }
    };
    signal?.addEventListener('abort', stopGroup, { once: true });
    const onExit = (): void => stopGroup();
    process.once('exit', onExit);

    const lines = (stream: NodeJS.ReadableStream, isStderr: boolean): void => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          // Progress lines are shown as they come; the tail keeps what explains a failure.
          const m = isStderr ? /^\s*(Compiling|Downloading|Downloaded|Updating|Locking|Adding|Blocking|Finished)\b(.*)$/.exec(line) : null;
          if (m) progress(`[${String(Math.round((Date.now() - started) / 1000)).padStart(4)}s] ${m[1]}${m[2]}`);
          else {
            keep(line);
            onLine?.(line);
          }
        }
      });
      stream.on('end', () => {
        if (buf) keep(buf);
      });
    };
    lines(child.stdout!, false);
    lines(child.stderr!, true);
    child.on('error', (err) => {
      process.removeListener('exit', onExit);
      signal?.removeEventListener('abort', stopGroup);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new BuildError(missing ? 'cargo is not installed or not on PATH (install Rust from https://rustup.rs)' : `cannot run cargo: ${err.message}`, [], {
          cause: err,
        }),
      );
    });
    child.on('close', (code, sig) => {
      process.removeListener('exit', onExit);
      signal?.removeEventListener('abort', stopGroup);
      resolve({ code, signal: sig, tail });
    });
  });
}

/**
 * Builds the dispatcher for one function from its generated main.rs. Returns the binary's path (a copy in the
 * cache's `bin/`, named by the source's hash) and how long the build took. Throws BuildError with the last
 * lines of cargo's output when the build fails.
 */
export async function buildDispatcher(main: string, opts: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const progress = opts.onProgress ?? (() => {});
  const release = opts.release ?? true;
  const crate = crateName(opts.name);
  const root = join(opts.cacheDir ?? cacheDir(), CACHE_LAYOUT);
  const work = join(root, 'work');
  const pgo = opts.pgo;
  const target = join(root, pgo === undefined ? 'target' : 'generate' in pgo ? 'target-pgo-gen' : 'target-pgo');
  const bin = join(root, 'bin');
  // The profile's own bytes name the binary (below): the same main.rs built with another profile is another binary.
  let pgoTag = '';
  if (pgo !== undefined && 'use' in pgo) {
    try {
      pgoTag = `use:${createHash('sha256')
        .update(await readFile(pgo.use))
        .digest('hex')}`;
    } catch (err) {
      throw new BuildError(`cannot read the profile ${pgo.use}: ${(err as Error).message}`, [], { cause: err });
    }
  } else if (pgo !== undefined) {
    pgoTag = 'generate';
  }

  if (!existsSync(join(RUNTIME_DIR, 'Cargo.toml'))) {
    throw new BuildError(`the runtime crate is missing: no Cargo.toml in ${RUNTIME_DIR}`);
  }
  await mkdir(work, { recursive: true });
  await mkdir(target, { recursive: true });
  await mkdir(bin, { recursive: true });

  return withLock(join(root, 'build.lock'), progress, opts.signal, async () => {
    await removeBrokenMembers(work);
    await writeIfChanged(join(work, 'Cargo.toml'), workspaceManifest());
    await syncLockfile(work);

    // A crate appears in one step (renamed into place), so the glob never sees a member without Cargo.toml.
    const crateDir = join(work, crate);
    if (!existsSync(join(crateDir, 'Cargo.toml'))) {
      const tmp = join(work, `.${crate}.${process.pid}.tmp`);
      await rm(tmp, { recursive: true, force: true });
      await mkdir(join(tmp, 'src'), { recursive: true });
      await writeFile(join(tmp, 'Cargo.toml'), crateManifest(crate));
      await writeFile(join(tmp, 'src', 'main.rs'), main);
      await rm(crateDir, { recursive: true, force: true });
      await rename(tmp, crateDir);
    } else {
      await writeIfChanged(join(crateDir, 'Cargo.toml'), crateManifest(crate));
      await mkdir(join(crateDir, 'src'), { recursive: true });
      await writeIfChanged(join(crateDir, 'src', 'main.rs'), main);
    }

    const profile = release ? (opts.profile ?? 'release') : 'debug';
    progress(`building ${crate} (${profile}) in ${work}`);
    const chosen = profile === 'debug' ? [] : profile === 'release' ? ['--release'] : ['--profile', profile];
    const args = ['build', ...chosen, '-p', crate, '--color', 'never'];
    const env: NodeJS.ProcessEnv = { ...process.env, CARGO_TARGET_DIR: target, CARGO_TERM_PROGRESS_WHEN: 'never' };
    if (pgo !== undefined) {
      // Every crate of the build gets the flag: the runtime's code is where a request spends most of its time.
      const flag = 'generate' in pgo ? `-Cprofile-generate=${pgo.generate}` : `-Cprofile-use=${pgo.use}`;
      // Encoded (0x1f between flags) so that a cache path with spaces stays one flag; cargo reads these
      // before RUSTFLAGS, so the user's RUSTFLAGS are carried over.
      const given = process.env.CARGO_ENCODED_RUSTFLAGS
        ? process.env.CARGO_ENCODED_RUSTFLAGS.split('\x1f')
        : (process.env.RUSTFLAGS ?? '').split(/\s+/).filter(Boolean);
      env.CARGO_ENCODED_RUSTFLAGS = [...given, flag].join('\x1f');
      progress(`with ${'generate' in pgo ? 'instrumentation that records a profile' : `the profile ${pgo.use}`}`);
    }
    // rustc only warns about a profile it cannot read (and builds without it): shown with the progress.
    const profileNote = pgo !== undefined && 'use' in pgo ? (line: string) => line.includes(pgo.use) && progress(`rustc: ${line.trim()}`) : undefined;
    const run = await runCargo(args, work, env, started, progress, opts.signal, profileNote);
    if (opts.signal?.aborted) throw new BuildError('build aborted', run.tail);
    if (run.code !== 0) {
      const how = run.signal ? `was killed by ${run.signal}` : `failed (exit ${run.code})`;
      throw new BuildError(`cargo build of ${crate} ${how}`, run.tail);
    }

    const built = join(target, profile, crate);
    if (!existsSync(built)) throw new BuildError(`cargo build of ${crate} succeeded but ${built} is missing`, run.tail);
    const hash = createHash('sha256').update(main).update(profile).update(pgoTag).digest('hex').slice(0, 16);
    const binary = join(bin, `${crate}-${hash}`);
    const tmp = `${binary}.${process.pid}.tmp`;
    await copyFile(built, tmp);
    await rename(tmp, binary);
    await pruneBinaries(bin, crate, binary);
    return { binary, seconds: (Date.now() - started) / 1000 };
  });
}
