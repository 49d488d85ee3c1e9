/**
 * Dispatcher replicas on this machine (the local backend's DispatcherHost): each is the compiled binary run
 * as a process beside the function's watchdog replicas, on a free loopback port.
 *
 * - Env: PATH, HOME, LANG and TZ of the provider (never its other variables: they may hold its secrets),
 *   then the deployment's env the dispatcher honours (DispatcherStart.env), then `port` and
 *   `bind=127.0.0.1`, which the host always sets.
 * - stdin is closed; stdout and stderr lines (each cut at `maxLineLength`) go to the spec's `log`.
 * - Ready when `GET /_/ready` answers 200 (polled every 50 ms). A process that exits first, or is not ready
 *   in time, rejects `start` with the reason and its last lines (a late one is stopped).
 * - `stop(graceMs)`: SIGTERM (the dispatcher stops accepting, lets requests in flight finish and exits 0),
 *   SIGKILL after graceMs. `exited` tells a stop (`expected: true`) from a crash.
 * - CPU and memory come from /proc (Linux); elsewhere they are undefined.
 *
 * Like the watchdog replicas, dispatchers stay in the provider's process group, so a provider interrupted
 * from its terminal takes them along.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { freePort } from '../../lib/index.ts';
import { fnKey, type DispatcherHandle, type DispatcherHost, type DispatcherStart } from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// /proc

let clockTicks: number | undefined;

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on every common Linux). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim());
      clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system) process `pid` has used so far, from /proc/<pid>/stat; undefined when it cannot
 *  be read (not Linux, no such process). Counts the process's own threads, not its children. */
export function processCpuSeconds(pid: number): number | undefined {
  if (process.platform !== 'linux' || !Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so fields are counted from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / ticksPerSecond();
}

/** Resident memory of process `pid` in bytes (VmRSS of /proc/<pid>/status); undefined when it cannot be read. */
export function processRssBytes(pid: number): number | undefined {
  if (process.platform !== 'linux' || !Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The host

export interface LocalDispatcherHostOptions {
  /** Env every dispatcher gets from the provider (default: its PATH, HOME, LANG and TZ). */
  baseEnv?: Record<string, string>;
  /** Default for start's readyTimeoutMs (default 30 s). */
  readyTimeoutMs?: number;
  /** SIGTERM to SIGKILL when stop() is not told (default 10 s: a request in flight may need exec_timeout). */
  stopGraceMs?: number;
  /** Longer output lines are cut at this many characters (default 16384). */
  maxLineLength?: number;
  /** Diagnostics of the host itself (default: none). */
  log?: (line: string) => void;
  /** Where the running dispatchers' pids and binaries are kept, so that a provider that was killed (no clean
   *  stop) stops its dispatchers at its next start (`stopLeftovers`). Default: none kept. */
  pidFile?: string;
}

/** Output lines kept for the reason of a failed start. */
const TAIL_LINES = 20;

export type DispatcherExit = { code: number | null; signal: NodeJS.Signals | null; expected: boolean };

/** One dispatcher process (its `pid` is for tests and diagnostics). */
export class LocalDispatcher implements DispatcherHandle {
  readonly exited: Promise<DispatcherExit>;
  /** Set once stop() was called: the exit is expected. */
  stopping = false;
  /** The exit, once it happened. */
  exit?: DispatcherExit;
  /** Its last output lines. */
  readonly tail: string[] = [];
  /** Resolves once the process's output has been read to its end (or briefly after exit). */
  readonly outputDone: Promise<void>;
  spawnError?: Error;
  private markExited!: (e: DispatcherExit) => void;

  constructor(
    readonly version: string,
    readonly url: string,
    readonly instance: string,
    readonly child: ChildProcess,
    private readonly graceMs: number,
  ) {
    this.exited = new Promise((res) => (this.markExited = res));
    this.outputDone = new Promise((res) => child.once('close', () => res()));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exit) return;
    this.exit = { code, signal, expected: this.stopping };
    this.markExited(this.exit);
  }

  cpuSeconds(): number | undefined {
    return this.exit || this.pid === undefined ? undefined : processCpuSeconds(this.pid);
  }

  rssBytes(): number | undefined {
    return this.exit || this.pid === undefined ? undefined : processRssBytes(this.pid);
  }

  async stop(graceMs = this.graceMs): Promise<void> {
    this.stopping = true;
    if (this.exit) return;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        this.child.kill(sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), Math.max(0, graceMs));
    await this.exited;
    clearTimeout(timer);
  }
}

/** Splits a stream into lines of at most `max` characters (the rest of a longer line is dropped, marked). */
function eachLine(stream: NodeJS.ReadableStream, max: number, onLine: (line: string) => void): void {
  let buf = '';
  let cut = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      const piece = nl < 0 ? chunk.slice(start) : chunk.slice(start, nl);
      if (!cut) {
        buf += piece;
        if (buf.length > max) {
          buf = `${buf.slice(0, max)} [line cut at ${max} characters]`;
          cut = true;
        }
      }
      if (nl < 0) break;
      onLine(buf.replace(/\r$/, ''));
      buf = '';
      cut = false;
      start = nl + 1;
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
  });
}

/** Starts dispatcher replicas as processes on this machine. */
export class LocalDispatcherHost implements DispatcherHost {
  private readonly baseEnv: Record<string, string>;
  private readonly running = new Set<LocalDispatcher>();
  /** Instances started per function, for `<name>-rust-<n>`. */
  private readonly counters = new Map<string, number>();
  private closed = false;
  private savingPids: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LocalDispatcherHostOptions = {}) {
    const base: Record<string, string> = {};
    for (const k of ['PATH', 'HOME', 'LANG', 'TZ']) {
      const v = process.env[k];
      if (v !== undefined) base[k] = v;
    }
    this.baseEnv = opts.baseEnv ?? base;
  }

  async start(spec: DispatcherStart, opts: { signal?: AbortSignal; readyTimeoutMs?: number } = {}): Promise<DispatcherHandle> {
    if (this.closed) throw new Error('the dispatcher host is closed');
    const timeoutMs = opts.readyTimeoutMs ?? this.opts.readyTimeoutMs ?? 30_000;
    const k = fnKey(spec.fn);
    const n = (this.counters.get(k) ?? 0) + 1;
    this.counters.set(k, n);
    const instance = `${spec.fn.name}-rust-${n}`;
    const port = await freePort();
    const env: Record<string, string> = { ...this.baseEnv, ...spec.env, port: String(port), bind: '127.0.0.1' };
    const child = spawn(spec.binary, [], { cwd: dirname(spec.binary), env, stdio: ['ignore', 'pipe', 'pipe'] });
    const d = new LocalDispatcher(spec.version, `http://127.0.0.1:${port}`, instance, child, this.opts.stopGraceMs ?? 10_000);
    this.running.add(d);
    this.binaries.set(d, spec.binary);
    this.savePids();
    const max = this.opts.maxLineLength ?? 16 * 1024;
    for (const stream of [child.stdout!, child.stderr!]) {
      eachLine(stream, max, (line) => {
        d.tail.push(line);
        if (d.tail.length > TAIL_LINES) d.tail.shift();
        spec.log?.(line, instance);
      });
    }
    child.on('error', (err) => {
      // The binary could not be run (missing, not executable): no 'exit' follows.
      d.spawnError = err;
      if (child.pid === undefined) d.onExit(null, null);
    });
    child.on('exit', (code, sig) => d.onExit(code, sig));
    void d.exited.then((e) => {
      this.running.delete(d);
      this.binaries.delete(d);
      this.savePids();
      if (!e.expected) this.opts.log?.(`dispatcher ${instance} exited (${e.signal ?? `code ${e.code}`})`);
    });

    try {
      await this.waitReady(d, timeoutMs, opts.signal);
    } catch (err) {
      await d.stop(1000);
      throw err;
    }
    if (this.closed) {
      await d.stop();
      throw new Error('the dispatcher host is closed');
    }
    this.opts.log?.(`dispatcher ${instance} (${spec.version.slice(0, 12)}) ready on 127.0.0.1:${port}`);
    return d;
  }

  /** Polls `GET /_/ready` until 200; rejects when the process exits first, on timeout, or when aborted. */
  private async waitReady(d: LocalDispatcher, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (d.exit) {
        // Its last lines may still be on their way: wait for the output's end, briefly.
        await Promise.race([d.outputDone, new Promise((res) => setTimeout(res, 200))]);
        const how = d.spawnError ? `could not start: ${d.spawnError.message}` : `exited (${d.exit.signal ?? `code ${d.exit.code}`}) before it was ready`;
        throw new Error(`dispatcher ${d.instance} ${how}${lastLines(d.tail)}`);
      }
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(`start of dispatcher ${d.instance} aborted`);
      if (Date.now() > deadline) throw new Error(`dispatcher ${d.instance} did not answer GET /_/ready with 200 within ${timeoutMs} ms${lastLines(d.tail)}`);
      try {
        const res = await fetch(`${d.url}/_/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200 && !d.exit) return;
      } catch {
        // not listening yet
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.running].map((d) => d.stop()));
    await this.savingPids;
  }

  private readonly binaries = new Map<LocalDispatcher, string>();

  /** Writes the running dispatchers' pids and binaries (serialised; the last write wins). */
  private savePids(): void {
    const file = this.opts.pidFile;
    if (!file) return;
    const list = [...this.binaries].flatMap(([d, binary]) => (d.pid !== undefined ? [{ pid: d.pid, binary }] : []));
    const text = JSON.stringify(list);
    this.savingPids = this.savingPids
      .then(async () => {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, text);
        await rename(`${file}.tmp`, file);
      })
      .catch((err: unknown) => this.opts.log?.(`dispatchers: cannot write ${file}: ${(err as Error).message}`));
  }

  /**
   * Stops the dispatchers a previous provider left running (it was killed before it could stop them): each
   * pid in the pid file whose process still runs the recorded binary (a reused pid runs something else and is
   * left alone) gets SIGTERM, and SIGKILL after the grace period.
   */
  async stopLeftovers(): Promise<void> {
    const file = this.opts.pidFile;
    if (!file) return;
    let list: { pid: number; binary: string }[];
    try {
      list = JSON.parse(await readFile(file, 'utf8')) as { pid: number; binary: string }[];
    } catch {
      return;
    }
    const ours = async (pid: number, binary: string): Promise<boolean> => {
      try {
        const exe = await readlink(`/proc/${pid}/exe`);
        return exe === binary || exe === `${binary} (deleted)`;
      } catch {
        return false;
      }
    };
    await Promise.all(
      list.map(async ({ pid, binary }) => {
        if (!Number.isInteger(pid) || pid <= 0 || !(await ours(pid, binary))) return;
        this.opts.log?.(`dispatchers: stopping pid ${pid} (${binary}), left running by an earlier provider`);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          return;
        }
        const deadline = Date.now() + (this.opts.stopGraceMs ?? 10_000);
        while (Date.now() < deadline && (await ours(pid, binary))) await new Promise((r) => setTimeout(r, 50));
        if (await ours(pid, binary)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }),
    );
    this.savePids();
    await this.savingPids;
  }
}

const lastLines = (tail: string[]): string => (tail.length > 0 ? `; its last lines:\n${tail.join('\n')}` : '');
