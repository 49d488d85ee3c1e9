/**
 * A fuzz run: programs `0..programs-1` of a seed, in batches (one cargo build each), plus the regression
 * fixtures; findings classified, and (optionally) each new one minimised and written out as a `check`-able
 * function folder and a regression fixture.
 */
import * as acorn from 'acorn';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classify, type Classified } from './classify.ts';
import { generateProgram, renderProgram, sizeOf, type FuzzInput, type Program } from './generate.ts';
import { requestOf, runBatch, type BatchOptions, type Finding } from './harness.ts';
import { minimise, type Oracle } from './minimise.ts';
import { programSeed } from './rng.ts';

/** Whether a program parses (as a script, the way the handler module is loaded). */
export function parses(p: Program): boolean {
  try {
    acorn.parse(renderProgram(p), { ecmaVersion: 'latest', sourceType: 'script' });
    return true;
  } catch {
    return false;
  }
}

export const FIXTURES_DIR = new URL('../fixtures/fuzz/', import.meta.url).pathname;

export interface RunOptions {
  seed: number;
  programs: number;
  /** Index of the first program (a run can be resumed or split). */
  from?: number;
  batch: number;
  requests: number;
  traceShare: number;
  known: boolean;
  noRust?: boolean;
  /** Include the regression fixtures (test/fixtures/fuzz/*.json) in the first batch. */
  fixtures?: boolean;
  cacheDir?: string;
  /** Crate name of the batches' dispatcher. */
  name?: string;
  concurrency?: number;
  /** Minimise up to this many new findings (one per class); 0 for none. */
  minimise?: number;
  /** Where minimised findings are written. */
  out?: string;
  /** A file that gets one JSON line per finding as batches finish (nothing is lost to a crash or ^C). */
  log?: string;
  progress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface ClassifiedFinding extends Finding {
  classified: Classified;
}

export interface RunReport {
  seed: number;
  programs: number;
  fixtures: number;
  requests: number;
  rust: number;
  fallback: number;
  fallbackReasons: Record<string, number>;
  findings: ClassifiedFinding[];
  /** Findings per class. */
  classes: Record<string, number>;
  minimised: { cls: string; dir: string; statements: number; source: string; request: unknown; plain?: string; other?: string }[];
  seconds: number;
}

/** A regression fixture: a minimised program, its inputs, and how many of them are traced. */
export interface Fixture {
  note: string;
  body: string[];
  ret: string;
  inputs: FuzzInput[];
  traced: number;
  /** Runs as strict code (a function-level 'use strict'). */
  strict?: boolean;
}

export function loadFixtures(dir = FIXTURES_DIR): Program[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f, i) => {
      const fx = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture;
      return {
        id: `fx${i}_${f.replace(/\W+/g, '_').replace(/_json$/, '')}`,
        seed: 0,
        body: [{ code: fx.body.join('\n'), feats: [`fixture:${f}`] }],
        ret: fx.ret,
        inputs: fx.inputs,
        traced: fx.traced,
        strict: fx.strict,
      };
    });
}

export function programsOf(seed: number, from: number, count: number, requests: number, known: boolean): Program[] {
  return Array.from({ length: count }, (_, k) => generateProgram(`p${from + k}`, programSeed(seed, from + k), { requests, known }));
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export async function runFuzz(opts: RunOptions): Promise<RunReport> {
  const started = Date.now();
  const progress = opts.progress ?? (() => {});
  const from = opts.from ?? 0;
  const report: RunReport = {
    seed: opts.seed,
    programs: 0,
    fixtures: 0,
    requests: 0,
    rust: 0,
    fallback: 0,
    fallbackReasons: {},
    findings: [],
    classes: {},
    minimised: [],
    seconds: 0,
  };
  const base = (programs: Program[], strict: boolean): BatchOptions => ({
    programs,
    traceShare: opts.traceShare,
    strict,
    name: opts.name ?? 'fuzz',
    cacheDir: opts.cacheDir,
    concurrency: opts.concurrency,
    noRust: opts.noRust,
    progress: (l) => progress(`   ${l}`),
    signal: opts.signal,
  });
  for (let at = from, b = 0; at < from + opts.programs; at += opts.batch, b++) {
    if (opts.signal?.aborted) break;
    const count = Math.min(opts.batch, from + opts.programs - at);
    const programs = programsOf(opts.seed, at, count, opts.requests, opts.known);
    const fixtures = b === 0 && opts.fixtures ? loadFixtures() : [];
    // Batches alternate between a sloppy and a strict module, by the index of their first program.
    const strict = Math.floor(at / opts.batch) % 2 === 1;
    progress(
      `batch ${b + 1}: programs ${at}..${at + count - 1}${fixtures.length ? ` and ${fixtures.length} fixtures` : ''} (${strict ? 'strict' : 'sloppy'}), ${(Date.now() - started) / 1000}s`,
    );
    const res = await runBatch(base([...programs, ...fixtures], strict));
    report.programs += count;
    report.fixtures += fixtures.length;
    report.requests += res.requests;
    report.rust += res.rust;
    report.fallback += res.fallback;
    addCounts(report.fallbackReasons, res.fallbackReasons);
    for (const f of res.findings) {
      const c = { ...f, classified: classify(f) };
      if (opts.log) {
        const line = {
          seed: opts.seed,
          program: f.program.id,
          input: f.input,
          kind: f.kind,
          cls: c.classified.cls,
          diff: f.diff,
          plain: f.plain,
          other: f.other,
          request: f.input >= 0 ? f.program.inputs[f.input] : undefined,
        };
        appendFileSync(opts.log, `${JSON.stringify(line)}\n`);
      }
      report.findings.push(c);
      report.classes[c.classified.cls] = (report.classes[c.classified.cls] ?? 0) + 1;
    }
    const newOnes = res.findings.filter((f) => !classify(f).expected);
    progress(
      `batch ${b + 1}: ${res.requests} requests, rust ${res.rust}, fallback ${res.fallback}, findings ${res.findings.length} (${newOnes.length} new); so far ${report.programs} programs, ${report.requests} requests`,
    );
    if (newOnes.length)
      for (const f of newOnes.slice(0, 3)) progress(`   NEW ${f.kind} ${f.program.id} input ${f.input}: ${f.diff.split('\n')[0].slice(0, 300)}`);
  }

  // Minimise one finding of each new class.
  const done = new Set<string>();
  for (const f of report.findings) {
    if ((opts.minimise ?? 0) <= report.minimised.length || opts.signal?.aborted) break;
    if (f.classified.expected || done.has(f.classified.cls) || f.kind === 'build' || f.program.seed === 0) continue;
    done.add(f.classified.cls);
    progress(`minimising ${f.classified.cls}: ${f.program.id} input ${f.input} (${sizeOf(f.program.body)} statements)`);
    const strict = Math.floor(Number(f.program.id.slice(1)) / opts.batch) % 2 === 1;
    const m = await minimiseFinding(f, (programs) => base(programs, strict), progress);
    if (!m) {
      progress('   it does not diverge on its own: not minimised');
      continue;
    }
    const dir = writeFinding(opts.out ?? join(process.cwd(), 'fuzz-findings'), `${opts.seed}-${f.program.id}-${f.kind}`, m.program, m.finding, strict);
    report.minimised.push({
      cls: f.classified.cls,
      dir,
      statements: sizeOf(m.program.body),
      source: renderProgram(m.program),
      request: m.program.inputs[m.program.inputs.length - 1],
      plain: m.finding.plain,
      other: m.finding.other,
    });
    progress(`   minimised to ${sizeOf(m.program.body)} statements: ${dir}`);
  }
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/**
 * Cuts a finding down: first to its one input (traced by itself, or after the inputs traced in the run),
 * then statement by statement. Returns null when the program no longer diverges alone.
 */
export async function minimiseFinding(
  f: Finding,
  batch: (programs: Program[]) => BatchOptions,
  progress: (l: string) => void,
): Promise<{ program: Program; finding: Finding } | null> {
  const cls = classify(f).cls;
  const seen = new Map<string, Finding>();
  const oracle: Oracle = async (cands) => {
    const opts = batch(cands);
    const res = await runBatch({ ...opts, noRust: f.kind === 'instrumented' || f.kind === 'unrecorded' || opts.noRust, progress: () => {} });
    const hits = new Set<string>();
    for (const g of res.findings) {
      if (g.kind === f.kind && classify(g).cls === cls && !hits.has(g.program.id)) {
        hits.add(g.program.id);
        seen.set(g.program.id, g);
      }
    }
    return hits;
  };
  const input = f.program.inputs[f.input];
  const traced = f.program.traced ?? Math.max(1, Math.ceil(f.program.inputs.length * batch([]).traceShare));
  const starts: Program[] = [
    { ...f.program, id: `${f.program.id}_a`, inputs: [input], traced: 1 },
    // Every input the run traced (the failing one may be among them), then the failing one replayed.
    { ...f.program, id: `${f.program.id}_b`, inputs: [...f.program.inputs.slice(0, traced), input], traced },
  ];
  const hits = await oracle(starts);
  const start = starts.find((s) => hits.has(s.id));
  if (!start) return null;
  progress(`   one input${start.traced === 1 ? ', traced by itself,' : ` after ${start.traced} traced ones`} diverges`);
  const small = await minimise({ ...start, id: f.program.id }, oracle, { progress: (l) => progress(`   ${l}`), valid: parses });
  // Run the winner once more for its exact finding.
  const again = await oracle([small]);
  return { program: small, finding: again.has(small.id) ? seen.get(small.id)! : f };
}

/** A minimised finding as a function folder for `containerless check`, plus a regression fixture. */
export function writeFinding(root: string, name: string, p: Program, f: Finding, strict: boolean): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const traced = p.traced ?? p.inputs.length;
  writeFileSync(join(dir, 'handler.js'), `${strict ? "'use strict';\n" : ''}module.exports = ${renderProgram(p)};\n`);
  writeFileSync(
    join(dir, 'requests.jsonl'),
    p.inputs.map((_, i) => JSON.stringify(requestOf(p, i), (k, v) => (k === 'line' ? undefined : v))).join('\n') + '\n',
  );
  const lines = renderProgram({ ...p, strict: false }).split('\n');
  const fixture: Fixture = {
    note: `${f.kind}: ${f.diff.split('\n')[0]}`,
    body: lines.slice(5, -2).map((l) => l.slice(2)),
    ret: p.ret,
    inputs: p.inputs,
    traced,
    strict: strict || p.strict,
  };
  writeFileSync(join(dir, 'fixture.json'), JSON.stringify(fixture, null, 2) + '\n');
  writeFileSync(
    join(dir, 'finding.txt'),
    [
      `kind: ${f.kind}`,
      `class: ${classify(f).cls}`,
      `reproduce: containerless check ${dir} --requests ${join(dir, 'requests.jsonl')} --trace-first ${traced}`,
      `the last request diverges: ${f.diff}`,
      `plain: ${f.plain ?? ''}`,
      `other: ${f.other ?? ''}`,
      '',
    ].join('\n'),
  );
  return dir;
}
