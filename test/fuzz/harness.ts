/**
 * Runs a batch of generated programs through three sides and compares them:
 *
 *   plain         the handler module as Node loads it (the answer every other side must give)
 *   instrumented  the watchdog's traced copy (trace/instrument.ts), every request under a tracer, and
 *                 again with recording off (`runUnrecorded`), as the watchdog serves unsampled requests
 *   rust          the dispatcher compiled from the trace of a share of the requests (the rest take paths
 *                 the trace may not have seen, so they test the give-ups too)
 *
 * One batch is one handler module whose export dispatches on `?p=<id>` to the batch's programs, so a whole
 * batch costs one trace, one code generation and one cargo build. Programs write no module state, so the
 * order in which requests run does not matter and each side may run several at once.
 *
 * A Rust answer that is a give-up (503 with `x-containerless-fallback`) is fine; any other Rust answer must
 * equal the plain answer in status, content type and body bytes, as in `containerless check`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDispatcher, BuildError } from '../../compiler/index.ts';
import { compareAnswers, Dispatcher, FALLBACK_HEADER, traceRequests } from '../../harness/index.ts';
import { generateRust } from '../../compiler/index.ts';
import { prepare } from '../../trace/index.ts';
import { toHttpRequest, type HttpRequest, type RequestEntry } from '../../harness/index.ts';
import { Tracer } from '../../trace/index.ts';
import { createRunnerApp, loadHandler } from '../../watchdog/index.ts';
import { renderProgram, type Program } from './generate.ts';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type FindingKind = 'instrumented' | 'unrecorded' | 'rust' | 'rust-no-answer' | 'build' | 'prepare';

export interface Finding {
  kind: FindingKind;
  program: Program;
  /** The input that diverged (-1 for a whole-program problem such as a failed build). */
  input: number;
  /** What differs, or the error. */
  diff: string;
  plain?: string;
  other?: string;
  /** The two bodies in full (UTF-8), for classifying. */
  plainBody?: string;
  otherBody?: string;
}

export interface BatchOptions {
  programs: Program[];
  /** Share of each program's inputs that is traced before the build (the first ones). */
  traceShare: number;
  /** A module-level 'use strict'. */
  strict: boolean;
  /** The crate name (`fn-<name>`); one name per concurrent run keeps incremental builds apart. */
  name: string;
  /** The folder holding the build cache's `v1/` (default: the one `containerless check` uses). */
  cacheDir?: string;
  /** Requests in flight at once on each side. */
  concurrency?: number;
  /** Skip the Rust side (only plain against instrumented). */
  noRust?: boolean;
  progress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface BatchResult {
  programs: number;
  requests: number;
  /** Requests the dispatcher answered itself (and that were compared). */
  rust: number;
  fallback: number;
  fallbackReasons: Record<string, number>;
  findings: Finding[];
  buildSeconds: number;
  rustSource?: string;
}

/** The handler module of a batch. */
export function renderBatch(programs: Program[], strict: boolean): string {
  return [
    strict ? "'use strict';" : '// sloppy mode',
    ...programs.map(renderProgram),
    `const PROGRAMS = { ${programs.map((p) => p.id).join(', ')} };`,
    'module.exports = async (event, context) => {',
    '  const run = PROGRAMS[event.query.p];',
    '  return await run(event, context);',
    '};',
    '',
  ].join('\n');
}

export function requestOf(p: Program, i: number): RequestEntry {
  const input = p.inputs[i];
  return { method: 'POST', path: '/run', query: { ...input.query, p: p.id }, body: input.body, line: i + 1 };
}

function send(port: number, req: HttpRequest, timeoutMs = 60_000): Promise<Answer> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = { host: '127.0.0.1:8080' };
    for (const [k, v] of req.headers) headers[k] = v;
    const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.target, headers, agent: false, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    r.on('error', fail);
    r.end(req.body);
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });
}

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export function describe(a: Answer): string {
  const body = a.body.toString('utf8');
  return `${a.status} ${a.headers['content-type'] ?? '-'} ${body.length > 400 ? `${body.slice(0, 400)}…` : body}`;
}

interface Job {
  program: Program;
  input: number;
  req: HttpRequest;
}

/** Runs one batch; throws only when something outside the programs breaks (a handler that will not load). */
export async function runBatch(opts: BatchOptions): Promise<BatchResult> {
  const progress = opts.progress ?? (() => {});
  const concurrency = opts.concurrency ?? 4;
  const result: BatchResult = { programs: opts.programs.length, requests: 0, rust: 0, fallback: 0, fallbackReasons: {}, findings: [], buildSeconds: 0 };
  const source = renderBatch(opts.programs, opts.strict);
  const dir = mkdtempSync(join(tmpdir(), 'cl-fuzz-'));
  const servers: Server[] = [];
  let dispatcher: Dispatcher | undefined;
  try {
    writeFileSync(join(dir, 'handler.js'), source);
    const prepared = prepare(source, 'handler.js');
    const parseErrors = prepared.diagnostics.filter((d) => d.code === 'C001');
    if (parseErrors.length) {
      // A generator bug: report it against every program, it is not a divergence.
      throw new Error(`the batch does not parse: ${parseErrors.map((d) => `${d.line}:${d.column} ${d.message}`).join('; ')}`);
    }
    const jobs: Job[] = [];
    for (const p of opts.programs) p.inputs.forEach((_, i) => jobs.push({ program: p, input: i, req: toHttpRequest(requestOf(p, i)) }));
    result.requests = jobs.length;
    const quiet = (): void => {};

    // Plain Node: the reference answers.
    const plain = loadHandler(dir);
    const plainServer = http.createServer(createRunnerApp({ handler: plain, logError: quiet }));
    servers.push(plainServer);
    const plainPort = await listen(plainServer);
    const expected = new Map<Job, Answer>();
    /** Records a finding when `got` differs from plain Node's answer to the same job; true when it does. */
    const differs = (kind: FindingKind, j: Job, got: Answer): boolean => {
      const want = expected.get(j)!;
      const diff = compareAnswers(want, got);
      if (diff === null) return false;
      result.findings.push({
        kind,
        program: j.program,
        input: j.input,
        diff,
        plain: describe(want),
        other: describe(got),
        plainBody: want.body.toString('utf8'),
        otherBody: got.body.toString('utf8'),
      });
      return true;
    };
    await pool(jobs, concurrency, async (j) => {
      expected.set(j, await send(plainPort, j.req));
    });
    progress(`plain: ${jobs.length} answers`);

    // Instrumented Node, every request traced (a tracer of its own, not the one the build uses).
    const tracerAll = new Tracer(prepared, opts.name);
    const instrumented = loadHandler(dir, { source: prepared.instrumented, inject: { __cl: tracerAll.runtime } });
    const instrServer = http.createServer(
      createRunnerApp({ handler: instrumented, choose: () => ({ handler: instrumented, around: (fn) => tracerAll.run(fn) }), logError: quiet }),
    );
    servers.push(instrServer);
    const instrPort = await listen(instrServer);
    await pool(jobs, concurrency, async (j) => {
      const got = await send(instrPort, j.req);
      differs('instrumented', j, got);
    });
    progress(`instrumented: ${jobs.length} answers, ${result.findings.length} differ from plain`);

    // The same instrumented module with recording off, as the watchdog serves requests it does not sample.
    const unrecServer = http.createServer(
      createRunnerApp({ handler: instrumented, choose: () => ({ handler: instrumented, around: (fn) => tracerAll.runUnrecorded(fn) }), logError: quiet }),
    );
    servers.push(unrecServer);
    const unrecPort = await listen(unrecServer);
    let unrecDiffs = 0;
    await pool(jobs, concurrency, async (j) => {
      const got = await send(unrecPort, j.req);
      if (differs('unrecorded', j, got)) unrecDiffs++;
    });
    progress(`instrumented, not recording: ${jobs.length} answers, ${unrecDiffs} differ from plain`);
    if (opts.noRust) return result;

    // Trace a share of each program's inputs, compile, build.
    const traced: RequestEntry[] = [];
    for (const p of opts.programs) {
      const n = p.traced ?? Math.max(1, Math.ceil(p.inputs.length * opts.traceShare));
      for (let i = 0; i < n; i++) traced.push(requestOf(p, i));
    }
    const { tracer } = await traceRequests(dir, prepared, opts.name, traced, { signal: opts.signal, logError: quiet });
    const generated = generateRust(tracer.trace(), { name: opts.name });
    result.rustSource = generated.main;
    progress(`traced ${traced.length} requests; ${generated.functions} Rust functions (${(generated.main.length / 1024).toFixed(0)} KiB); building`);
    let binary: string;
    try {
      const built = await buildDispatcher(generated.main, {
        name: opts.name,
        cacheDir: opts.cacheDir,
        signal: opts.signal,
        onProgress: (l) => progress(`   ${l}`),
      });
      binary = built.binary;
      result.buildSeconds = built.seconds;
    } catch (err) {
      if (!(err instanceof BuildError) || opts.signal?.aborted) throw err;
      const output = err.output
        .filter((l) => /error|-->/.test(l))
        .slice(0, 12)
        .join('\n');
      for (const p of opts.programs) result.findings.push({ kind: 'build', program: p, input: -1, diff: `${err.message}\n${output}` });
      return result;
    }
    progress(`built in ${result.buildSeconds.toFixed(1)}s`);

    // Rust.
    dispatcher = await Dispatcher.start(binary);
    await dispatcher.waitHealthy(opts.signal);
    let restarting: Promise<void> | null = null;
    await pool(jobs, concurrency, async (j) => {
      if (restarting) await restarting;
      let got: Answer;
      try {
        got = await send(dispatcher!.port, j.req);
      } catch (err) {
        result.findings.push({
          kind: 'rust-no-answer',
          program: j.program,
          input: j.input,
          diff: `rust gave no answer: ${(err as Error).message}`,
          plain: describe(expected.get(j)!),
        });
        const dead = dispatcher!;
        await dead.settle(300);
        if (!dead.running) {
          // It died: note how, and start another (once for all requests that saw it die).
          result.findings[result.findings.length - 1].diff += ` (the dispatcher ${dead.describeExit()}: ${dead.tail.slice(-5).join(' | ')})`;
          restarting ??= (async () => {
            const next = await Dispatcher.start(binary);
            await next.waitHealthy(opts.signal);
            dispatcher = next;
            await dead.stop();
          })().finally(() => {
            restarting = null;
          });
          await restarting;
        }
        return;
      }
      const reason = got.status === 503 ? got.headers[FALLBACK_HEADER] : undefined;
      if (reason !== undefined) {
        result.fallback++;
        const detail = got.body.toString('utf8').trim().replace(/\d+/g, 'N').slice(0, 80);
        const why = detail ? `${String(reason)}: ${detail}` : String(reason);
        result.fallbackReasons[why] = (result.fallbackReasons[why] ?? 0) + 1;
        return;
      }
      result.rust++;
      differs('rust', j, got);
    });
    progress(`rust: ${result.rust} answered, ${result.fallback} gave up, ${result.findings.filter((f) => f.kind.startsWith('rust')).length} differ from plain`);
    return result;
  } finally {
    if (dispatcher) await dispatcher.stop();
    for (const s of servers) await close(s);
    rmSync(dir, { recursive: true, force: true });
  }
}
