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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDispatcher, generateRust } from '../../../compiler/index.ts';
import { Dispatcher, readRequests, traceRequests } from '../../../harness/index.ts';
import { prepare } from '../../../trace/index.ts';
import { ROOT, runCli, shown, type CliRun } from './cli.ts';
import { startOurs, type Served } from '../watchdog/harness.ts';

const FIXTURES = join(ROOT, 'test/fixtures/check');

const TMP = mkdtempSync(join(tmpdir(), 'cl-protocol-test-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const cli = (args: string[]): Promise<CliRun> => runCli(args, { cwd: TMP });

describe("containerless check at the edges of Node's HTTP client", () => {
  it('survives a handler answering 100, 101 or 103, and diverges nowhere', async () => {
    const dir = join(FIXTURES, 'status-1xx');
    const r = await cli(['check', dir, '--requests', join(dir, 'requests.jsonl'), '--json']);
    expect(r.code, shown(r)).to.equal(0);
    expect(r.result, shown(r)).to.include({ requests: 5, diverged: 0 });
    expect(r.result.error, shown(r)).to.equal(undefined);
    expect(r.result.rust + r.result.fallback, shown(r)).to.equal(5);
  });

  it("compares the protocol edges with the watchdog's answers: handed back or the same, never diverged", async () => {
    const dir = join(FIXTURES, 'minimal');
    const r = await cli(['check', dir, '--requests', join(dir, 'edges.jsonl'), '--json']);
    expect(r.code, shown(r)).to.equal(0);
    // 101 header lines, a 17 kB and a 500 kB header, Expect: something-else are handed back; GET /, /a?q=1
    // and /_/ready (the watchdog's own route on both sides) agree.
    expect(r.result, shown(r)).to.include({ requests: 7, rust: 3, fallback: 4, diverged: 0 });
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

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `head` (and nothing else) on a fresh connection and reads the whole answer until the server closes. */
function raw(port: number, head: string): Promise<RawAnswer> {
  return new Promise((done, fail) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(head, 'latin1'));
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    // A server refusing a large head may reset the connection while the rest is still being written: what it
    // answered before that is the answer.
    c.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') fail(err);
    });
    c.setTimeout(10_000, () => c.destroy(new Error('no answer within 10s')));
    c.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, end === -1 ? text.length : end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = end === -1 ? '' : text.slice(end + 4);
      if (headers['transfer-encoding'] === 'chunked') {
        let out = '';
        for (let rest = body; ;) {
          const nl = rest.indexOf('\r\n');
          const n = parseInt(rest.slice(0, nl), 16);
          if (!(n > 0)) break;
          out += rest.slice(nl + 2, nl + 2 + n);
          rest = rest.slice(nl + 4 + n);
        }
        body = out;
      }
      done({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body });
    });
  });
}

const request = (target: string, ...lines: string[]): string =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`;

describe("the dispatcher at the protocol edges of the watchdog's Node server", function () {
  const dir = join(FIXTURES, 'minimal');
  let node: Served;
  let rust: Dispatcher;

  before(async function () {
    const prepared = prepare(readFileSync(join(dir, 'handler.js'), 'utf8'), 'handler.js');
    const { tracer } = await traceRequests(dir, prepared, 'protocol-minimal', readRequests(join(dir, 'requests.jsonl')));
    const built = await buildDispatcher(generateRust(tracer.trace(), { name: 'protocol-minimal' }).main, { name: 'protocol-minimal' });
    [node, rust] = await Promise.all([startOurs(dir), Dispatcher.start(built.binary)]);
    await rust.waitHealthy();
  });
  after(async function () {
    await Promise.all([node?.stop(), rust?.stop()]);
  });

  /** The dispatcher answers as Node does, or hands the request back (the provider then sends it to Node). */
  async function same(head: string, opts: { handBack?: boolean } = {}): Promise<void> {
    const [js, rs] = await Promise.all([raw(node.port, head), raw(rust.port, head)]);
    const what = `${head.slice(0, 80).replace(/\r\n/g, '\\r\\n')}…: node ${js.status} ${JSON.stringify(js.body)}, rust ${rs.status} ${JSON.stringify(rs.body)}`;
    if (rs.status === 503 && rs.headers['x-containerless-fallback'] !== undefined) {
      expect(opts.handBack, `handed back: ${what}`).to.equal(true);
      return;
    }
    expect(opts.handBack, `answered where it should hand back: ${what}`).to.not.equal(true);
    expect(rs.status, what).to.equal(js.status);
    expect(rs.headers['content-type'], what).to.equal(js.headers['content-type']);
    expect(rs.body, what).to.equal(js.body);
  }

  it('answers a plain GET from Rust as Node does', async () => {
    await same(request('/'));
  });

  it('answers the health routes as the watchdog does: OK on /_/health, empty bodies elsewhere', async () => {
    await same(request('/_/health'));
    await same(request('/_/ready'));
    await same(request('/_/ready?x=1'));
    for (const path of ['/_/health', '/_/ready']) await same(`POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });

  it('hands back more than 100 header lines, which Node serves', async () => {
    const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `x-h${i}: ${i}`);
    // Host and Connection make 99 and 101.
    await same(request('/', ...many(97)));
    await same(request('/', ...many(99)), { handBack: true });
    await same(request('/', ...many(3000)), { handBack: true });
  });

  it('hands back a head near or over 16 KiB, which Node refuses with 431', async () => {
    await same(request('/', `x-big: ${'a'.repeat(17_000)}`), { handBack: true });
    await same(request('/', `x-big: ${'a'.repeat(500_000)}`), { handBack: true });
    await same(request(`/?q=${'b'.repeat(20_000)}`), { handBack: true });
  });

  it('hands back an Expect other than 100-continue, which Node answers 417', async () => {
    await same(request('/', 'Expect: something-else'), { handBack: true });
  });

  it('hands back <, > and ` in the path and " in the query, which Node serves as they are', async () => {
    await same(request('/a<b>c'), { handBack: true });
    await same(request('/a`b'), { handBack: true });
    await same(request('/a?q="x"'), { handBack: true });
    await same(request('/é'), { handBack: true });
    // What hyper takes as Node does is answered from Rust.
    await same(request('/{a}|b^c\\d?x=`{}`'));
  });

  it('finds each request head on a kept-alive connection, past a body that looks like one', async () => {
    const body = 'GET /a<b HTTP/1.1\r\n\r\n';
    const head = `POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /a<b HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`;
    const text = await new Promise<string>((done, fail) => {
      const c = net.connect(rust.port, '127.0.0.1', () => c.write(head, 'latin1'));
      let out = '';
      c.on('data', (d: Buffer) => (out += d.toString('latin1')));
      c.on('error', fail);
      c.on('close', () => done(out));
    });
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(statuses, text).to.deep.equal([200, 503, 200]);
    expect(text.match(/x-containerless-fallback/gi), text).to.have.length(1);
  });
});
