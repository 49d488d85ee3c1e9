/**
 * The HTTP edges where `containerless check` and the dispatcher meet Node's own HTTP stack:
 *
 * - `check` survives a handler that answers with a 1xx status (Node's server sends the head alone), and
 *   refuses, with exit 2 and the line number, a requests-file entry that Node's client will not send;
 * - the dispatcher's HTTP server answers the protocol edges (header count and size limits, request-target
 *   characters, `Expect`, the health routes) exactly as the watchdog's Node server does: the same raw
 *   request goes to both, and their answers are compared.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/containerless.js');
const FIXTURES = join(ROOT, 'test/fixtures/check');

const TMP = mkdtempSync(join(tmpdir(), 'cl-protocol-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  result: any;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: TMP, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => {
      let result: unknown;
      try {
        result = JSON.parse(stdout.trimEnd().split('\n').pop() ?? '');
      } catch {
        result = undefined;
      }
      done({ code, stdout, stderr, result });
    });
  });
}

const shown = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr (last 40 lines)\n${r.stderr.split('\n').slice(-40).join('\n')}`;

describe('containerless check at the edges of Node\'s HTTP client', () => {
  it('survives a handler answering 100, 101 or 103, and diverges nowhere', async () => {
    const dir = join(FIXTURES, 'status-1xx');
    const r = await cli(['check', dir, '--requests', join(dir, 'requests.jsonl'), '--json']);
    expect(r.code, shown(r)).to.equal(0);
    expect(r.result, shown(r)).to.include({ requests: 5, diverged: 0 });
    expect(r.result.error, shown(r)).to.equal(undefined);
    expect(r.result.rust + r.result.fallback, shown(r)).to.equal(5);
  });

  for (const [what, line] of [
    ['a control character in a header', '{"method":"GET","path":"/","headers":{"x-a":"a\\u0001"}}'],
    ['DEL in a header', '{"method":"GET","path":"/","headers":{"x-a":"a\\u007f"}}'],
    ['text beyond Latin-1 in a header', '{"method":"GET","path":"/","headers":{"x-a":"5 €"}}'],
    ['non-ASCII in the path', '{"method":"GET","path":"/é"}'],
    ['text beyond Latin-1 in the path', '{"method":"GET","path":"/€"}'],
  ]) {
    it(`refuses a requests file with ${what}: exit 2, naming the line`, async () => {
      const file = join(TMP, 'requests.jsonl');
      writeFileSync(file, `{"method":"GET","path":"/"}\n\n${line}\n`);
      const r = await cli(['check', join(FIXTURES, 'check-echo'), '--requests', file]);
      expect(r.code, shown(r)).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr.trim().split('\n'), shown(r)).to.have.length(1);
      expect(r.stderr).to.match(/requests\.jsonl:3: field "(headers\.x-a|path)"/);
    });
  }
});
