/**
 * Per-request cost of every example in Node against the same function compiled to Rust: a loop over
 * `containerless bench examples/<name> --requests examples/<name>/requests.jsonl --json` (cli/bench.ts, which
 * measures both sides in one run; see its --help for how), with the examples' backend running here on
 * 127.0.0.1:7998 for the I/O examples (so its cost is on neither side; when another process holds that port
 * for more than a minute, those four are not measured). Prints the README's table.
 *
 *   npm run bench:compiled                    # every example (examples/<name> with handler.js and requests.jsonl)
 *   npm run bench:compiled -- primes maze     # some
 *   BENCH_ROUNDS=7 BENCH_BATCH_MS=40 npm run bench:compiled
 *   BENCH_PROFILE=release npm run bench:compiled   # built as check builds (default: optimized, as promotion)
 *
 * Each example's progress and per-request table go to stderr as `containerless bench` prints them. The
 * table's figures are per request: the bench's sums of per-request medians divided by the number of requests
 * Rust answered (requests that fell back are left out of both sides and listed under the table). Ratios are
 * Node / Rust: above 1, Rust is cheaper. Exits 1 when an example could not be measured (a divergence, a
 * crash, a failed build), after the others.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: the backend is plain JavaScript without types
import { startBackend } from '../examples/backend/server.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The paper's functions first, in the README's order; then the compute set; then anything new, by name. */
const ORDER = ['login', 'status', 'upload', 'banking', 'autocomplete', 'maze', 'primes', 'markdown', 'records', 'textstats', 'render', 'matrix'];
/** The examples that call the backend: everything else is compute. */
const IO = new Set(['login', 'status', 'upload', 'banking']);

const found = readdirSync(join(ROOT, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'examples', d.name, 'handler.js')) && existsSync(join(ROOT, 'examples', d.name, 'requests.jsonl')))
  .map((d) => d.name)
  .sort((a, b) => (ORDER.includes(a) ? ORDER.indexOf(a) : ORDER.length) - (ORDER.includes(b) ? ORDER.indexOf(b) : ORDER.length) || (a < b ? -1 : 1));
const pick = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const n of pick) if (!found.includes(n)) throw new Error(`unknown example ${n}; one of ${found.join(', ')}`);
const names = pick.length ? pick : found;

const options: string[] = [];
// The dispatchers are built as promotion builds them (the optimized profile) unless BENCH_PROFILE says.
const profile = process.env.BENCH_PROFILE ?? 'optimized';
options.push('--profile', profile);
if (process.env.BENCH_ROUNDS) options.push('--rounds', process.env.BENCH_ROUNDS);
if (process.env.BENCH_WARMUP) options.push('--warmup', process.env.BENCH_WARMUP);
if (process.env.BENCH_BATCH_MS) options.push('--batch-ms', process.env.BENCH_BATCH_MS);

interface Summary {
  requests: number;
  fallback: number;
  node_cpu_us: number;
  rust_cpu_us: number;
  cpu_speedup: number | null;
  node_wall_us: number;
  rust_wall_us: number;
  wall_speedup: number | null;
  error?: string;
}

/** Runs `containerless bench` on one example; its stderr goes to ours, the last line of stdout is parsed. */
function benchOne(name: string): Promise<{ code: number | null; summary?: Summary }> {
  const dir = join('examples', name);
  const args = [join(ROOT, 'bin/containerless.js'), 'bench', dir, '--requests', join(dir, 'requests.jsonl'), '--json', ...options];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', fail);
    child.on('close', (code) => {
      let summary: Summary | undefined;
      try {
        summary = JSON.parse(out.trimEnd().split('\n').pop() ?? '') as Summary;
      } catch {
        summary = undefined;
      }
      done({ code, summary });
    });
  });
}

/**
 * The examples' backend on 7998, where the I/O examples' handlers call it, started here for the whole run.
 * Another process may hold the port for a while (a test run beside this one, whose backend comes and goes):
 * wait up to a minute for it; after that, the I/O examples are not measured (a backend that stops mid-run
 * would turn their requests into fallbacks).
 */
async function backendOn7998(): Promise<{ close(): Promise<void> } | undefined> {
  const deadline = Date.now() + 60_000;
  for (let said = false; ; said = true) {
    try {
      return (await startBackend({ port: 7998 })) as { close(): Promise<void> };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (Date.now() > deadline) return undefined;
      if (!said) console.error('bench: 127.0.0.1:7998 is taken by another process; waiting up to 60s for it to be free');
      await new Promise((done) => setTimeout(done, 1000));
    }
  }
}

const backend = await backendOn7998();
const rows: string[][] = [];
const notes: string[] = [];
const ratios: Array<{ name: string; wall: number; cpu: number }> = [];
let failed = 0;
try {
  console.error(`bench: ${names.length} examples: ${names.join(', ')}`);
  for (const name of names) {
    console.error(`\nbench: ${name}`);
    if (IO.has(name) && !backend) {
      failed++;
      notes.push(`${name}: not measured (127.0.0.1:7998, where it calls the examples' backend, is taken by another process)`);
      continue;
    }
    const { code, summary: s } = await benchOne(name);
    if (code !== 0 || !s || s.error !== undefined) {
      failed++;
      notes.push(`${name}: not measured (exit ${code}${s?.error ? `: ${s.error}` : ''})`);
      continue;
    }
    const measured = s.requests - s.fallback;
    if (s.fallback > 0) notes.push(`${name}: ${s.fallback} of ${s.requests} requests fell back and are left out of both sides`);
    if (measured === 0 || s.cpu_speedup === null || s.wall_speedup === null) {
      rows.push([name, '-', '-', '-', '-', '-', '-']);
      continue;
    }
    const per = (x: number): string => (x / measured).toFixed(0);
    rows.push([name, per(s.node_wall_us), per(s.rust_wall_us), s.wall_speedup.toFixed(2), per(s.node_cpu_us), per(s.rust_cpu_us), s.cpu_speedup.toFixed(2)]);
    ratios.push({ name, wall: s.wall_speedup, cpu: s.cpu_speedup });
  }
} finally {
  await backend?.close();
}

const header = ['example', 'node µs', 'rust µs', 'wall ratio', 'node CPU µs', 'rust CPU µs', 'CPU ratio'];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
const geo = (xs: number[]): string => (xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length).toFixed(2) : '-');
const compute = ratios.filter((r) => !IO.has(r.name));
console.log('');
console.log(
  `dispatchers built with the ${profile} profile; geometric mean (Node / Rust; above 1, Rust is cheaper): all ${ratios.length}: wall ${geo(ratios.map((r) => r.wall))}, CPU ${geo(ratios.map((r) => r.cpu))}; compute (${compute.length}, no backend calls): wall ${geo(compute.map((r) => r.wall))}, CPU ${geo(compute.map((r) => r.cpu))}`,
);
for (const n of notes) console.log(n);
process.exitCode = failed ? 1 : 0;
