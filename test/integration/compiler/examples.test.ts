/**
 * `containerless check` on every example and every realistic handler fixture, end to end (real tracing, code
 * generation, cargo build, the compiled dispatcher and the loopback backend of examples/backend):
 *
 * - every request traced: nothing diverges; the paper's six functions and the compute handlers are answered
 *   by Rust on every request, the realistic handlers on at least 90% of them;
 * - only the first half traced: requests on unseen paths fall back, and still nothing diverges;
 * - module-level state: put back or left changed, it stays in Rust (the dispatcher keeps what the requests it
 *   answered wrote, as a Node replica does).
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
// @ts-expect-error: the backend is plain JavaScript without types
import { startBackend } from '../../../examples/backend/server.js';
import { checkFixture, ROOT } from './cli.ts';

const check = checkFixture;

/** Requests in the folder's file: its lines but blank ones and `#` comments, as the requests parser reads it. */
const lines = (dir: string): number =>
  readFileSync(join(dir, 'requests.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#')).length;
const tail = (s: string): string =>
  s
    .split('\n')
    .filter((l) => /DIVERGED|fallback\(|rust gave|node:|rust:/.test(l))
    .slice(0, 40)
    .join('\n');

const PAPER_NAMES = ['login', 'status', 'upload', 'banking', 'autocomplete', 'maze'];
const PAPER = PAPER_NAMES.map((n) => join(ROOT, 'examples', n));
// Every other example with a handler: the compute set (primes, markdown, records, textstats, render, matrix, ...).
const COMPUTE = readdirSync(join(ROOT, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && !PAPER_NAMES.includes(d.name) && existsSync(join(ROOT, 'examples', d.name, 'handler.js')))
  .map((d) => join(ROOT, 'examples', d.name))
  .sort();
/**
 * How many requests of an example may fall back (none may diverge). textstats: the request of line 12 ("Don't
 * stop. Won't stop! ...") fell back with `fuel` (a RegExp search over the runtime's backtracking bound) before
 * the regex engine's rework; the rest of the compute set is answered by Rust on every request.
 */
const MAY_FALL_BACK: Record<string, number> = { textstats: 1 };
const HANDLERS_DIR = join(ROOT, 'test/fixtures/handlers');
const REALISTIC = readdirSync(HANDLERS_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => join(HANDLERS_DIR, d.name));

describe('containerless check on the examples and realistic handlers', function () {
  let backend: { close(): Promise<void> | void } | undefined;
  before(async function () {
    backend = await startBackend({ port: 7998 });
  });
  after(async function () {
    await backend?.close();
  });

  for (const dir of [...PAPER, ...COMPUTE]) {
    const allowed = MAY_FALL_BACK[basename(dir)] ?? 0;
    it(`${dir.slice(ROOT.length)}: every request answered by Rust${allowed ? ` (at most ${allowed} falling back)` : ''}, as Node answers it`, async function () {
      const { code, summary, stderr } = await check(dir);
      expect(summary.diverged, tail(stderr)).to.equal(0);
      expect(summary.requests).to.equal(lines(dir));
      expect(summary.fallback, tail(stderr)).to.be.at.most(allowed);
      expect(summary.rust + summary.fallback, tail(stderr)).to.equal(summary.requests);
      expect(code).to.equal(0);
    });
  }

  for (const dir of REALISTIC) {
    it(`${dir.slice(ROOT.length)}: nothing diverges and at least 90% is answered by Rust`, async function () {
      const { code, summary, stderr } = await check(dir);
      expect(summary.diverged, tail(stderr)).to.equal(0);
      expect(summary.requests).to.equal(lines(dir));
      expect(summary.rust / summary.requests, tail(stderr)).to.be.at.least(0.9);
      expect(summary.rust + summary.fallback).to.equal(summary.requests);
      expect(code).to.equal(0);
    });
  }

  for (const dir of [...PAPER, ...COMPUTE, ...REALISTIC]) {
    it(`${dir.slice(ROOT.length)}: with only the first half traced, unseen paths fall back and nothing diverges`, async function () {
      const n = lines(dir);
      const { code, summary, stderr } = await check(dir, ['--trace-first', String(Math.floor(n / 2))]);
      expect(summary.diverged, tail(stderr)).to.equal(0);
      expect(summary.rust + summary.fallback).to.equal(n);
      expect(code).to.equal(0);
    });
  }

  it('names each unsupported construct and its place, falls back only where one is reached, and never crashes', async function () {
    const dir = join(ROOT, 'test/fixtures/check/unsupported');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, tail(stderr)).to.equal(0);
    const named = (summary.diagnostics as Array<{ message: string; line: number; column: number }>).map((d) => `${d.line}:${d.column} ${d.message}`);
    expect(named).to.include.members([
      '2:1 a generator function is not compiled; requests that reach it run in JavaScript',
      '6:45 eval is not compiled; requests that reach it run in JavaScript',
      '7:37 a tagged template is not compiled; requests that reach it run in JavaScript',
      '8:44 a BigInt literal is not compiled; requests that reach it run in JavaScript',
    ]);
    // The four paths that reach a construct fall back; the last request reaches none and is answered by
    // Rust, although the module declares a generator function.
    expect(summary.fallback, tail(stderr)).to.equal(4);
    expect(summary.rust, tail(stderr)).to.equal(1);
    expect(code).to.equal(0);
  });

  it('engine errors caught by the handler keep their class in Rust; reading their message falls back', async function () {
    const dir = join(ROOT, 'test/fixtures/check/engine-errors');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, tail(stderr)).to.equal(0);
    expect(summary.rust, tail(stderr)).to.equal(6);
    expect(summary.fallback).to.equal(1);
    expect(stderr).to.match(/^\s+7\s+POST\s+\/message\s+fallback\(unsupported: the message of an error the engine raised/m);
    expect(code).to.equal(0);
  });

  it('numbers kept unboxed in Rust locals agree with Node on NaN, -0, Infinity, % and comparisons', async function () {
    const dir = join(ROOT, 'test/fixtures/check/numeric-locals');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, tail(stderr)).to.equal(0);
    expect(summary.rust, tail(stderr)).to.equal(lines(dir));
    expect(code).to.equal(0);
  });

  it('module-level state stays in Rust, put back or left changed: the dispatcher keeps what the requests it answered wrote', async function () {
    const dir = join(ROOT, 'test/fixtures/check/module-state');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, tail(stderr)).to.equal(0);
    // /inc moves the counter in the dispatcher's module state as in the Node replica it is compared with.
    expect(summary.rust, tail(stderr)).to.equal(lines(dir));
    expect(summary.fallback).to.equal(0);
    expect(code).to.equal(0);
  });
});
