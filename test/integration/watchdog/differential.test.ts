/**
 * Differential test: the same handler (test/fixtures/watchdog/diff/handler.js) behind `containerless
 * watchdog` and behind the stock pair; every request goes to both and status, headers, content type and body
 * bytes must be identical.
 *
 * The stock pair here is NOT the real of-watchdog: the Go module proxy of this workplace answers 403 for
 * github.com/openfaas/of-watchdog (every version tried: the pseudo-versions of tags 0.11.3 to 0.11.6 and of
 * 2025-11-14) and for faas-cli, so neither can be installed. The pair is stock/watchdog-standin.js (of-watchdog's
 * documented http-mode behaviour: exec_timeout 504, X-Timeout, max_inflight 429, X-Duration-Seconds, health
 * files) forking stock/template-server.cjs (the node template's documented index.js), both written for this
 * project from docs/openfaas-contract.md §4 and §5. See README, "Watchdog and template".
 *
 * Ignored in the comparison: Date, Connection, Keep-Alive, Transfer-Encoding (per connection), and the value
 * of X-Duration-Seconds (a timing; both must send it, in of-watchdog's %f format).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { ROOT, send, sleep, startOurs, startStock, type Answer, type Req, type Served } from './harness.ts';

const FN = join(ROOT, 'test/fixtures/watchdog/diff');
const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-duration-seconds']);

function normalise(a: Answer): { status: number; headers: Record<string, unknown>; body: string } {
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a.headers)) if (!PER_CONNECTION.has(k)) headers[k] = v;
  return { status: a.status, headers, body: a.body.toString('base64') };
}

/** `duration: false` for answers the limiter gives before the proxy (of-watchdog adds no X-Duration-Seconds). */
async function compare(ours: Served, stock: Served, r: Req, opts: { duration?: boolean } = {}): Promise<Answer> {
  const [a, b] = await Promise.all([send(ours.port, r), send(stock.port, r)]);
  const what = `${r.method ?? 'GET'} ${r.path}`;
  expect(normalise(a), `${what}: ours (body ${JSON.stringify(a.body.toString())}) vs stock (body ${JSON.stringify(b.body.toString())})`).to.deep.equal(
    normalise(b),
  );
  if (opts.duration === false) {
    expect(a.headers['x-duration-seconds'], `${what}: X-Duration-Seconds`).to.equal(undefined);
    expect(b.headers['x-duration-seconds']).to.equal(undefined);
  } else {
    expect(a.headers['x-duration-seconds'], `${what}: X-Duration-Seconds`).to.match(/^\d+\.\d{6}$/);
    expect(b.headers['x-duration-seconds']).to.match(/^\d+\.\d{6}$/);
  }
  return a;
}

const JSON_H = { 'content-type': 'application/json' };

describe('containerless watchdog vs the stock pair (of-watchdog stand-in + stock-style template server)', function () {
  this.timeout(120_000);

  describe('defaults (NODE_ENV=production, exec_timeout 2s)', () => {
    let ours: Served;
    let stock: Served;
    before(async () => {
      const env = { exec_timeout: '2s' };
      [ours, stock] = await Promise.all([startOurs(FN, env), startStock(FN, env)]);
    });
    after(async () => {
      await Promise.all([ours?.stop(), stock?.stop()]);
    });

    const cases: Array<[string, Req]> = [
      [
        'a JSON body, echoed as an object (text/html JSON text)',
        { method: 'POST', path: '/echo?a=1&a=2&b=x', headers: JSON_H, body: '{"k":[1,2,{"z":null}],"s":"é"}' },
      ],
      ['a JSON body sent back as it was parsed', { method: 'POST', path: '/body', headers: JSON_H, body: '[3,"x"]' }],
      ['a JSON scalar body', { method: 'POST', path: '/type', headers: JSON_H, body: '"just a string"' }],
      ['a text/plain body', { method: 'POST', path: '/type', headers: { 'content-type': 'text/plain' }, body: 'some text' }],
      ['a text/csv body with a charset', { method: 'PUT', path: '/type', headers: { 'content-type': 'text/csv; charset=utf-8' }, body: 'a,b\n1,2' }],
      ['no content type (parsed as text/plain)', { method: 'POST', path: '/echo', body: 'untyped' }],
      ['a urlencoded form', { method: 'POST', path: '/type', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a[b]=1&c=2&c=3' }],
      [
        'an octet-stream body (not parsed)',
        { method: 'POST', path: '/type', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 255]) },
      ],
      ['a GET with a query', { path: '/echo?q=search%20term&n=1' }],
      ['a HEAD request', { method: 'HEAD', path: '/string' }],
      ['a DELETE request', { method: 'DELETE', path: '/echo' }],
      ['status and headers set by the handler', { path: '/status' }],
      ['headers set without a status (an array value included)', { path: '/headers-only' }],
      ['context.fail with a string', { path: '/fail' }],
      ['context.fail with an object and a status', { path: '/fail-object' }],
      ['context.fail with nothing', { path: '/fail-empty' }],
      ['a thrown Error (200 with its text)', { path: '/throw' }],
      ['a thrown TypeError after a status was set', { path: '/throw-status' }],
      ['a rejected string', { path: '/reject-string' }],
      ['a number result (res.json)', { path: '/number' }],
      ['a boolean result', { path: '/boolean' }],
      ['a null result', { path: '/null' }],
      ['an undefined result', { path: '/undefined' }],
      ['an array result', { path: '/array' }],
      ['a class instance result', { path: '/class' }],
      ['a Buffer result', { path: '/buffer' }],
      ['a string result', { path: '/string' }],
      ['succeed called later from a timer', { path: '/succeed-later' }],
      ['a route the handler does not know (404 from the handler)', { path: '/nowhere/else' }],
      ['malformed JSON (400 from the body parser)', { method: 'POST', path: '/body', headers: JSON_H, body: '{"broken":' }],
      ['JSON over MAX_JSON_SIZE (100kb: 413)', { method: 'POST', path: '/body', headers: JSON_H, body: JSON.stringify({ big: 'x'.repeat(150 * 1024) }) }],
      ['a conditional GET matching the ETag (304)', { path: '/string', headers: { 'if-none-match': 'W/"c-4lm4IvxTr+hK4ikXWOeTbBBRL0I"' } }],
    ];
    for (const [name, req] of cases) {
      it(`answers the same to ${name}`, async () => {
        await compare(ours, stock, req);
      });
    }

    it('answers the same 504 when exec_timeout passes before the handler answers', async () => {
      const a = await compare(ours, stock, { path: '/slow?ms=2500' });
      expect(a.status).to.equal(504);
      expect(a.headers['x-openfaas-internal']).to.equal('of-watchdog');
    });

    it('answers the same 504 when a request X-Timeout is shorter than exec_timeout', async () => {
      const a = await compare(ours, stock, { path: '/slow?ms=600', headers: { 'x-timeout': '200ms' } });
      expect(a.status).to.equal(504);
    });

    it('ignores an X-Timeout longer than exec_timeout, as of-watchdog does', async () => {
      const a = await compare(ours, stock, { path: '/slow?ms=100', headers: { 'x-timeout': '1h' } });
      expect(a.status).to.equal(200);
    });
  });

  describe('max_inflight=1', () => {
    let ours: Served;
    let stock: Served;
    before(async () => {
      const env = { max_inflight: '1' };
      [ours, stock] = await Promise.all([startOurs(FN, env), startStock(FN, env)]);
    });
    after(async () => {
      await Promise.all([ours?.stop(), stock?.stop()]);
    });

    it('answers the same 429 to a request beyond the limit, and /_/ready is 429 meanwhile', async () => {
      const slowOurs = send(ours.port, { path: '/slow?ms=700' });
      const slowStock = send(stock.port, { path: '/slow?ms=700' });
      await sleep(200);
      const a = await compare(ours, stock, { path: '/string' }, { duration: false });
      expect(a.status).to.equal(429);
      expect(a.headers['content-length']).to.equal('62');
      expect(a.body.toString()).to.equal('Concurrent request limit exceeded. Max concurrent requests: 1\n');
      expect(a.headers['x-openfaas-internal']).to.equal('faas-middleware');
      const [ra, rb] = await Promise.all([send(ours.port, { path: '/_/ready' }), send(stock.port, { path: '/_/ready' })]);
      expect([ra.status, rb.status]).to.deep.equal([429, 429]);
      const [sa, sb] = await Promise.all([slowOurs, slowStock]);
      expect(normalise(sa)).to.deep.equal(normalise(sb));
      expect(sa.status).to.equal(200);
      // After the slow request, the limit frees up again.
      const after = await compare(ours, stock, { path: '/string' });
      expect(after.status).to.equal(200);
    });
  });

  describe('RAW_BODY=true, MAX_RAW_SIZE=1kb', () => {
    let ours: Served;
    let stock: Served;
    before(async () => {
      const env = { RAW_BODY: 'true', MAX_RAW_SIZE: '1kb' };
      [ours, stock] = await Promise.all([startOurs(FN, env), startStock(FN, env)]);
    });
    after(async () => {
      await Promise.all([ours?.stop(), stock?.stop()]);
    });

    it('gives the handler a Buffer for a JSON body', async () => {
      const a = await compare(ours, stock, { method: 'POST', path: '/type', headers: JSON_H, body: '{"a":1}' });
      expect(a.body.toString()).to.match(/^object:buffer:7/);
    });
    it('gives the handler a Buffer for bytes', async () => {
      await compare(ours, stock, { method: 'POST', path: '/type', headers: { 'content-type': 'image/png' }, body: Buffer.alloc(300, 7) });
    });
    it('answers the same 413 over MAX_RAW_SIZE', async () => {
      const a = await compare(ours, stock, {
        method: 'POST',
        path: '/type',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(2048, 1),
      });
      expect(a.status).to.equal(413);
    });
  });
});
