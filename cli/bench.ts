/** `containerless bench`: what a function costs per request in Node and compiled to Rust (harness/bench.ts). */
import type { BuildProfile } from '../compiler/index.ts';
import { CliUsageError, onePositional, type Command } from './command.ts';

const BENCH_HELP = `Usage: containerless bench <function-dir> --requests <file.jsonl> [--rounds N] [--warmup N] [--batch-ms MS]
                          [--max-seconds S] [--profile optimized|release] [--json]

How much a function gains compiled: traces it on every request of the file and builds the dispatcher as
check does (same cache, $CONTAINERLESS_CACHE, default ~/.cache/containerless) with the profile promotion
builds with (optimized: the runtime and the function optimised as one unit, with the runtime's profile,
recorded once per runtime version; CONTAINERLESS_PGO=0 leaves it out), then measures each request's
cost in Node (the plain handler behind the watchdog's runner, in a process of its own) and in the dispatcher
(cl_workers=1, one realm as Node has one event loop, unless cl_workers is set in the environment), side by
side in one run on loopback, one request at a time on a kept-alive connection per side.

Every request is first sent to the dispatcher and, unless it falls back, to Node: the answers must agree.
Then each side is warmed up on each request, and each round sends every request as one batch to each side,
the side that goes first alternating. A request's cost is the median over rounds of, per batch, the CPU time
of the serving process (all its threads, from /proc/<pid>/task/*/schedstat, in ns) and the wall time seen by
the client, divided by the batch size. Batches are as large for both sides, sized to take about --batch-ms
on the slower one.

Options:
  --requests <file>    JSON lines, one request each (the format of check)
  --rounds <N>         measured rounds (default 5)
  --warmup <N>         warm-up sends per request and side (default 3; at least one, which sizes the batches)
  --batch-ms <ms>      about how long one batch takes on the slower side (default 20)
  --max-seconds <s>    budget of the measuring phase; batches shrink (down to one request) to fit (default 120)
  --profile <p>        the build's cargo profile: optimized (what promotion runs, about 30 s to build a
                       function) or release (what check builds, seconds to build, about a tenth slower);
                       default $CONTAINERLESS_BUILD_PROFILE, else optimized, as promotion chooses
  --json               print only the result line on stdout
  -h, --help           show this help
  --version            print the version

Output: a per-request table on stderr (batch size, Node and Rust CPU and wall µs per request, Node / Rust
ratios); the last line of stdout is
  {"requests":n,"fallback":f,"node_cpu_us":a,"rust_cpu_us":b,"cpu_speedup":a/b,"node_wall_us":c,"rust_wall_us":d,"wall_speedup":c/d}
where each figure is the sum of the per-request medians. Requests the dispatcher hands back (fallback) are
counted in f and left out of both sums, Node's too, so the ratios compare the same requests; above 1, Rust
is cheaper. When every request falls back the sums are 0 and the ratios null. On a failure the last line is
{"requests":n,"fallback":f,"diverged":d,"error":"..."}.
Exit status: 0 measured, 1 a request diverged, a side crashed or the build failed, 2 usage error.`;

function wholeNumber(values: Record<string, string | boolean | undefined>, name: string, min: number): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < min) {
    throw new CliUsageError(`--${name} must be a whole number of at least ${min}, not '${String(text)}'`);
  }
  return Number(text);
}

function positive(values: Record<string, string | boolean | undefined>, name: string): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const n = Number(text);
  if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new CliUsageError(`--${name} must be a number above 0, not '${String(text)}'`);
  return n;
}

export const bench: Command = {
  help: BENCH_HELP,
  options: {
    requests: { type: 'string' },
    rounds: { type: 'string' },
    warmup: { type: 'string' },
    'batch-ms': { type: 'string' },
    'max-seconds': { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const dir = onePositional(positionals, '<function-dir>');
    const requests = values.requests as string | undefined;
    if (!requests) throw new CliUsageError('missing --requests <file.jsonl>');
    const rounds = wholeNumber(values, 'rounds', 1);
    const warmup = wholeNumber(values, 'warmup', 0);
    const batchMs = positive(values, 'batch-ms');
    const maxSeconds = positive(values, 'max-seconds');
    const { BUILD_PROFILES, buildProfileFromEnv } = await import('../compiler/index.ts');
    const chosen = values.profile as string | undefined;
    if (chosen !== undefined && !(BUILD_PROFILES as readonly string[]).includes(chosen))
      throw new CliUsageError(`--profile must be one of ${BUILD_PROFILES.join(', ')}, not '${chosen}'`);
    const profile = (chosen as BuildProfile | undefined) ?? buildProfileFromEnv();
    const { runBench, UsageError } = await import('../harness/index.ts');
    let result: Awaited<ReturnType<typeof runBench>>;
    try {
      result = await runBench({ dir, requests, rounds, warmup, batchMs, maxSeconds, profile, signal: io.signal }, { err: (l) => io.err(`${l}\n`) });
    } catch (err) {
      if (err instanceof UsageError) throw new CliUsageError(err.message);
      throw err;
    }
    const s = result.summary;
    if (!s || result.error !== undefined) {
      const fallback = result.rows.filter((r) => r.result.startsWith('fallback')).length;
      if (!values.json) io.out(`${dir}: not measured: ${result.error ?? 'no result'}\n`);
      io.out(`${JSON.stringify({ requests: result.rows.length, fallback, diverged: result.diverged, error: result.error ?? 'no result' })}\n`);
      return 1;
    }
    if (!values.json) {
      const x = (r: number | null): string => (r === null ? '-' : `${r.toFixed(2)}x`);
      io.out(
        `${dir}: ${s.requests} requests, ${s.fallback} fallback; CPU per request summed: node ${s.node_cpu_us} µs, rust ${s.rust_cpu_us} µs (${x(s.cpu_speedup)}); wall: node ${s.node_wall_us} µs, rust ${s.rust_wall_us} µs (${x(s.wall_speedup)})\n`,
      );
    }
    io.out(`${JSON.stringify(s)}\n`);
    return 0;
  },
};
