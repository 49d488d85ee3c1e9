/**
 * `containerless check` end to end (Node, the compiled dispatcher, and a comparison of every answer) on
 * handlers written to probe where the runtime's model of JavaScript is thinnest:
 *
 * - `__proto__` as a key: written by [[Set]] it sets the prototype, defined it is an own property;
 * - async interleaving: a detached async call or a `.then` callback that Node runs later than the
 *   runtime would must not answer from state it read too early;
 * - a regex that backtracks catastrophically gives up and leaves no thread busy.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/containerless.js');
const FIXTURES = join(ROOT, 'test/fixtures/check');

interface Summary {
  requests: number;
  rust: number;
  fallback: number;
  diverged: number;
  error?: string;
}

function check(dir: string, extra: string[] = []): Promise<{ code: number | null; summary: Summary; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'check', dir, '--requests', join(dir, 'requests.jsonl'), ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      try {
        done({ code, summary: JSON.parse(stdout.trimEnd().split('\n').pop() ?? '') as Summary, stderr });
      } catch {
        fail(new Error(`check printed no summary (exit ${code}):\n${stderr.split('\n').slice(-40).join('\n')}`));
      }
    });
  });
}

const lines = (dir: string): number => readFileSync(join(dir, 'requests.jsonl'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).length;
const table = (s: string): string => s.split('\n').filter((l) => /^\s+\d+\s|^\s{9}|error/.test(l)).join('\n');

describe('__proto__ as a property key', () => {
  it('a key loop and Object.assign set the prototype as Node does; spread, JSON.parse and computed keys define it', async () => {
    const dir = join(FIXTURES, 'proto-keys');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, table(stderr)).to.equal(0);
    expect(summary.error, table(stderr)).to.equal(undefined);
    // Every request is answered by Rust: the prototype is modelled, not given up on.
    expect(summary.rust, table(stderr)).to.equal(lines(dir));
    expect(code).to.equal(0);
  });
});

describe('async interleaving', () => {
  it('gives up where a detached async call or a .then callback could read state Node reads later, and answers the rest as Node', async () => {
    const dir = join(FIXTURES, 'async-order');
    const { code, summary, stderr } = await check(dir);
    expect(summary.diverged, table(stderr)).to.equal(0);
    expect(summary.error, table(stderr)).to.equal(undefined);
    // The repro, a .then callback run after a write, and a never-awaited call whose read state is
    // written give up; reads before the first await, state nothing writes, and callbacks on their own values
    // are answered by Rust.
    expect(stderr).to.match(/^\s+1\s+POST\s+\/\?mode=issue\s+fallback\(unsupported: a write to state that a detached async call read/m);
    expect(stderr).to.match(/^\s+2\s+POST\s+\/\?mode=then-before-write\s+fallback\(unsupported: a \.then callback read state/m);
    expect(summary.rust, table(stderr)).to.equal(3);
    expect(summary.fallback, table(stderr)).to.equal(3);
    expect(code).to.equal(0);
  });
});
