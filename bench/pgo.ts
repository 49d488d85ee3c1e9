/**
 * What the runtime's profile (harness/pgo.ts) saves: each compute example built twice with the `optimized`
 * profile, without and with the runtime's profile, both dispatchers serving the example's requests side by
 * side in one run.
 *
 *   npm run bench:pgo                    # the compute examples (no backend calls)
 *   npm run bench:pgo -- records render  # some
 *   BENCH_ROUNDS=9 npm run bench:pgo
 *
 * Per example: the requests are traced and compiled once (as `check` does); the two builds differ only in
 * the profile. Both dispatchers start with `cl_workers=1`; every request is sent to both and the answers
 * must be the same bytes (a profile must not change what the code computes). Then, in each round, each side
 * serves every request of the file once, in order, on a kept-alive connection, the side that goes first
 * alternating; a side's cost in a round is its process's CPU time over the pass (the sum over its threads of
 * /proc/<pid>/task/<tid>/schedstat). The figure per side is the median over rounds, and the ratio is
 * without / with: above 1, the profile saves CPU. The last line of stdout is JSON: per example, both medians
 * in µs and the ratio, and the geometric mean of the ratios.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDispatcher, generateRust } from '../compiler/index.ts';
import { Dispatcher, liveThreadsCpuNs, pgoFor, readRequests, send, toHttpRequest, traceRequests, type HttpRequest } from '../harness/index.ts';
import { prepare } from '../trace/index.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The compute examples: every request is answered without a backend. */
const COMPUTE = ['autocomplete', 'maze', 'primes', 'markdown', 'records', 'textstats', 'render', 'matrix'];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const n of names) if (!existsSync(join(ROOT, 'examples', n, 'handler.js'))) throw new Error(`unknown example ${n}`);
if (!(ROUNDS >= 1)) throw new Error(`BENCH_ROUNDS must be at least 1, not ${process.env.BENCH_ROUNDS}`);

const log = (line: string): void => console.error(line);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One pass over `reqs` on dispatcher `d`: the CPU µs its process spent, and the answers. */
async function pass(d: Dispatcher, reqs: HttpRequest[]): Promise<{ us: number; answers: string[] }> {
  const pid = d.child.pid as number;
  const before = liveThreadsCpuNs(pid);
  const answers: string[] = [];
  for (const r of reqs) {
    const a = await send(d.port, r);
    answers.push(`${a.status} ${a.body.toString('latin1')}`);
  }
  return { us: (liveThreadsCpuNs(pid) - before) / 1000, answers };
}

async function example(name: string): Promise<{ name: string; without_us: number; with_us: number; ratio: number }> {
  const dir = join(ROOT, 'examples', name);
  const entries = readRequests(join(dir, 'requests.jsonl'));
  const { tracer } = await traceRequests(dir, prepare(readFileSync(join(dir, 'handler.js'), 'utf8'), 'handler.js'), name, entries, { logError: () => {} });
  const main = generateRust(tracer.trace(), { name }).main;
  const pgo = await pgoFor('optimized', { onProgress: (l) => log(`  profile: ${l}`) });
  if (!pgo) throw new Error('no runtime profile here (see the lines above): nothing to compare');
  const plain = await buildDispatcher(main, { name, profile: 'optimized', onProgress: (l) => log(`  cargo: ${l}`) });
  const profiled = await buildDispatcher(main, { name, profile: 'optimized', pgo, onProgress: (l) => log(`  cargo: ${l}`) });
  const reqs = entries.map(toHttpRequest);
  const sides = [await Dispatcher.start(plain.binary, { cl_workers: '1' }), await Dispatcher.start(profiled.binary, { cl_workers: '1' })];
  try {
    for (const d of sides) await d.waitHealthy();
    // Warm-up, and the answers compared.
    const [a, b] = [await pass(sides[0], reqs), await pass(sides[1], reqs)];
    const differ = a.answers.findIndex((x, i) => x !== b.answers[i]);
    if (differ >= 0) throw new Error(`${name}: request ${differ + 1} is answered differently with the profile`);
    const us: number[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [1, 0] : [0, 1];
      for (const i of order) us[i].push((await pass(sides[i], reqs)).us);
    }
    const without_us = median(us[0]);
    const with_us = median(us[1]);
    log(
      `${name}: ${reqs.length} requests, CPU per pass ${(without_us / 1000).toFixed(1)} ms without the profile, ${(with_us / 1000).toFixed(1)} ms with it (${(without_us / with_us).toFixed(2)}x)`,
    );
    return { name, without_us: Math.round(without_us), with_us: Math.round(with_us), ratio: Number((without_us / with_us).toFixed(3)) };
  } finally {
    for (const d of sides) await d.stop();
  }
}

const rows = [];
for (const name of names.length ? names : COMPUTE) rows.push(await example(name));
console.log('| example | CPU per pass, without | with the profile | without / with |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${(r.without_us / 1000).toFixed(1)} ms | ${(r.with_us / 1000).toFixed(1)} ms | ${r.ratio.toFixed(2)} |`);
const geomean = Math.exp(rows.reduce((s, r) => s + Math.log(r.ratio), 0) / rows.length);
console.log(`\ngeometric mean without / with: ${geomean.toFixed(2)} (${ROUNDS} rounds, medians)`);
console.log(JSON.stringify({ rounds: ROUNDS, examples: rows, geomean: Number(geomean.toFixed(3)) }));
