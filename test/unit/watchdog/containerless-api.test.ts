/**
 * The Containerless API shim, served by the runner over real HTTP on 127.0.0.1, with a small upstream JSON
 * server for get/post (test/fixtures/runner/cl-api/handler.js).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ContainerlessApiError, createRunnerApp, formatResponse, loadHandler } from '../../../watchdog/index.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/runner/', import.meta.url));

async function listen(server: http.Server): Promise<{ url: string; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

describe('containerless API', () => {
  const errors: unknown[] = [];
  let fn: { url: string; close(): Promise<void> };
  let upstream: { url: string; close(): Promise<void> };
  const posted: { method?: string; type?: string; body: string }[] = [];

  before(async () => {
    // /slow?ms=&id= answers {id, ms} after ms; /post records the request; /text answers non-JSON.
    upstream = await listen(
      http.createServer((req, res) => {
        const u = new URL(req.url!, 'http://x');
        if (u.pathname === '/slow') {
          setTimeout(() => res.end(JSON.stringify({ id: u.searchParams.get('id'), ms: Number(u.searchParams.get('ms')) })), Number(u.searchParams.get('ms')));
        } else if (u.pathname === '/post') {
          let body = '';
          req.on('data', (c) => (body += c));
          req.on('end', () => {
            posted.push({ method: req.method, type: req.headers['content-type'], body });
            res.end(JSON.stringify({ received: JSON.parse(body) }));
          });
        } else {
          res.end('not json');
        }
      }),
    );
    const handler = loadHandler(FIXTURES + 'cl-api');
    const app = createRunnerApp({ handler, env: { NODE_ENV: 'test', exec_timeout: '300ms' }, logError: (e) => errors.push(e) });
    fn = await listen(http.createServer(app));
  });
  after(async () => {
    await fn.close();
    await upstream.close();
  });
  beforeEach(() => {
    errors.length = 0;
  });

  const call = async (path: string, init?: RequestInit) => {
    const res = await fetch(fn.url + path, init);
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  };

  it('calls the listen callback with the path, the parsed query and the JSON body', async () => {
    const r = await call('/echo?a=1&b=x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"k":"v"}' });
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body)).to.deep.equal({ path: '/echo', query: { a: '1', b: 'x' }, body: { k: 'v' } });
  });

  it('parses the body as JSON whatever the content type says', async () => {
    const r = await call('/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '[1,2]' });
    expect(JSON.parse(r.body).body).to.deep.equal([1, 2]);
  });

  it('passes {} as the body of a GET and of a POST without a body', async () => {
    expect(JSON.parse((await call('/echo')).body).body).to.deep.equal({});
    expect(JSON.parse((await call('/echo', { method: 'POST' })).body).body).to.deep.equal({});
  });

  it('passes "" as the path of the root', async () => {
    expect((await call('/')).body).to.equal('root');
  });

  it('sends objects as JSON indented by four spaces, as the original did', async () => {
    const r = await call('/echo?q=1');
    expect(r.type).to.equal('application/json; charset=utf-8');
    expect(r.body).to.equal(JSON.stringify({ path: '/echo', query: { q: '1' }, body: {} }, null, 4));
  });

  it("sends non-empty arrays as '' + v, empty arrays as JSON, undefined and numbers as text", async () => {
    expect(await call('/array')).to.include({ type: 'text/plain; charset=utf-8', body: '1,2,3' });
    expect(await call('/empty-array')).to.include({ type: 'application/json; charset=utf-8', body: '[]' });
    expect(await call('/undefined')).to.include({ type: 'text/plain; charset=utf-8', body: 'undefined' });
    expect(await call('/number')).to.include({ body: '7' });
  });

  it('keeps the first respond and ignores later ones', async () => {
    expect(await call('/twice')).to.include({ status: 200, body: 'first' });
    expect(errors).to.deep.equal([]);
  });

  it('calls the get callback with the parsed JSON of the response', async () => {
    const url = encodeURIComponent(`${upstream.url}/slow?ms=1&id=u`);
    const r = await call(`/get?id=1&url=${url}`);
    expect(JSON.parse(r.body)).to.deep.equal({ id: '1', got: { id: 'u', ms: 1 } });
  });

  it('calls the get callback with undefined for a body that is not JSON or a failed request', async () => {
    const notJson = await call(`/get?id=2&url=${encodeURIComponent(`${upstream.url}/text`)}`);
    expect(JSON.parse(notJson.body)).to.deep.equal({ id: '2' });
    const refused = await call(`/get?id=3&url=${encodeURIComponent('http://127.0.0.1:1/')}`);
    expect(JSON.parse(refused.body)).to.deep.equal({ id: '3' });
  });

  it('answers a data: URL with its JSON without a request', async () => {
    expect(JSON.parse((await call('/data')).body)).to.deep.equal({ inline: true });
  });

  it('posts a non-string body as JSON and calls back with the parsed response', async () => {
    posted.length = 0;
    const r = await call(`/post?url=${encodeURIComponent(`${upstream.url}/post`)}`, { method: 'POST', body: '{"n":1}' });
    expect(JSON.parse(r.body)).to.deep.equal({ received: { n: 1 } });
    expect(posted).to.deep.equal([{ method: 'POST', type: 'application/json', body: '{"n":1}' }]);
  });

  it('answers each of several requests in flight with its own response', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const viaGet = ids.map((id, i) => call(`/get?id=${id}&url=${encodeURIComponent(`${upstream.url}/slow?ms=${100 - 20 * i}&id=${id}`)}`));
    const viaTimer = ids.map((id, i) => call(`/delay?id=t${id}&ms=${10 + 20 * i}`));
    const got = await Promise.all(viaGet);
    const timed = await Promise.all(viaTimer);
    got.forEach((r, i) => expect(JSON.parse(r.body)).to.deep.equal({ id: ids[i], got: { id: ids[i], ms: 100 - 20 * i } }));
    expect(timed.map((r) => r.body)).to.deep.equal(ids.map((id) => `t${id}`));
  });

  it('answers 500 when the listen callback throws', async () => {
    const r = await call('/throw');
    expect(r.status).to.equal(500);
    expect(r.body).to.include('listen callback failed');
  });

  it('answers 504 when the handler never responds within exec_timeout', async () => {
    const r = await call('/never');
    expect(r.status).to.equal(504);
    expect(errors).to.have.length(1);
  });
});

describe('containerless API outside a request', () => {
  it('throws NO_REQUEST from respond and get', () => {
    let api: { respond(v: unknown): void; get(u: string, cb: () => void): void } | undefined;
    loadHandler(FIXTURES + 'cl-api', {
      source: "const c = require('containerless'); c.listen(() => {}); __grab(c);",
      inject: { __grab: (c: typeof api) => (api = c) },
    });
    for (const f of [() => api!.respond('x'), () => api!.get('http://127.0.0.1:1/', () => {})]) {
      try {
        f();
        expect.fail('no error');
      } catch (err) {
        expect(err).to.be.instanceOf(ContainerlessApiError);
        expect((err as ContainerlessApiError).code).to.equal('NO_REQUEST');
      }
    }
  });
});

describe('formatResponse', () => {
  it("formats values in the original's order of cases", () => {
    expect(formatResponse(undefined).body).to.equal('undefined');
    expect(formatResponse('s').body).to.equal('s');
    expect(formatResponse([1, [2, 3]]).body).to.equal('1,2,3');
    expect(formatResponse([]).body).to.equal('[]');
    expect(formatResponse({ a: [1] }).body).to.equal('{\n    "a": [\n        1\n    ]\n}');
    expect(formatResponse(null)).to.deep.equal({ body: 'null', contentType: 'application/json; charset=utf-8' });
    expect(formatResponse(true).body).to.equal('true');
    expect(formatResponse({ length: 2 }).body).to.equal('[object Object]');
  });
});
