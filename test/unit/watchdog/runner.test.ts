/**
 * The in-process runner against real HTTP on 127.0.0.1: each behaviour of the stock node22 template (see the
 * rules at the top of watchdog/runner.ts) with the fixture handlers in test/fixtures/runner/.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Express } from 'express';
import {
  ContainerlessApiError,
  createRunnerApp,
  ExecTimeoutError,
  HandlerLoadError,
  loadHandler,
  readRunnerConfig,
  type Invocation,
  type LoadedHandler,
  type RunnerOptions,
} from '../../../watchdog/index.ts';
import { ConfigError } from '../../../lib/index.ts';

const FIXTURES = fileURLToPath(new URL('../../fixtures/runner/', import.meta.url));
const fixture = (name: string): string => FIXTURES + name;

interface Served {
  url: string;
  errors: unknown[];
  close(): Promise<void>;
}

async function serveApp(app: Express, errors: unknown[] = []): Promise<Served> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    errors,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Serves `handler` with errors collected instead of printed. */
function serve(handler: LoadedHandler, env: NodeJS.ProcessEnv = {}, extra: Partial<RunnerOptions> = {}): Promise<Served> {
  const errors: unknown[] = [];
  const app = createRunnerApp({ handler, env: { NODE_ENV: 'test', ...env }, logError: (e) => errors.push(e), ...extra });
  return serveApp(app, errors);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('loadHandler', () => {
  it('loads a module that exports a function as an openfaas handler', () => {
    const h = loadHandler(fixture('cases'));
    expect(h.kind).to.equal('openfaas');
    expect(h.dir).to.equal(fixture('cases'));
    expect(h.filename).to.equal(fixture('cases/handler.js'));
  });

  it("loads a module that requires 'containerless' and listens as a containerless handler", () => {
    expect(loadHandler(fixture('cl-api')).kind).to.equal('containerless');
  });

  it("resolves require relative to the handler's folder and sets __dirname", async () => {
    const h = loadHandler(fixture('relative-require'));
    if (h.kind !== 'openfaas') throw new Error('expected openfaas');
    const out = await h.fn({ query: { name: 'ada' } } as never, {} as never, () => undefined);
    expect(out).to.equal('hello ada from relative-require');
  });

  it('compiles opts.source instead of the file, keeping the file name for stack traces', async () => {
    const h = loadHandler(fixture('cases'), { source: 'module.exports = async () => new Error("x").stack' });
    if (h.kind !== 'openfaas') throw new Error('expected openfaas');
    const stack = (await h.fn({} as never, {} as never, () => undefined)) as string;
    expect(stack).to.include(`${fixture('cases/handler.js')}:1:`);
  });

  it('defines injected free variables for the module code', async () => {
    const h = loadHandler(fixture('inject'), { inject: { __probe: { current: () => 'injected', responding: () => undefined } } });
    if (h.kind !== 'openfaas') throw new Error('expected openfaas');
    expect(await h.fn({ query: {} } as never, {} as never, () => undefined)).to.equal('injected');
  });

  it('gives each load its own module instance', async () => {
    const source = 'let n = 0; module.exports = async () => ++n';
    const a = loadHandler(fixture('cases'), { source });
    const b = loadHandler(fixture('cases'), { source });
    if (a.kind !== 'openfaas' || b.kind !== 'openfaas') throw new Error('expected openfaas');
    const call = (h: typeof a) => h.fn({} as never, {} as never, () => undefined);
    expect([await call(a), await call(a), await call(b)]).to.deep.equal([1, 2, 1]);
  });

  function loadError(dir: string, opts?: Parameters<typeof loadHandler>[1]): HandlerLoadError {
    try {
      loadHandler(dir, opts);
    } catch (err) {
      expect(err).to.be.instanceOf(HandlerLoadError);
      return err as HandlerLoadError;
    }
    throw new Error('loadHandler did not throw');
  }

  it('throws HANDLER_NOT_FOUND for a folder without handler.js', () => {
    const err = loadError(fixture('does-not-exist'));
    expect(err.code).to.equal('HANDLER_NOT_FOUND');
    expect(err.message).to.include('does-not-exist/handler.js').and.include('ENOENT');
  });

  it('throws HANDLER_SYNTAX naming the file and line for a syntax error', () => {
    const err = loadError(fixture('load-syntax'));
    expect(err.code).to.equal('HANDLER_SYNTAX');
    expect(err.message).to.include(`${fixture('load-syntax/handler.js')}:3`);
  });

  it('throws HANDLER_SYNTAX for an ES module handler', () => {
    const err = loadError(fixture('load-esm'));
    expect(err.code).to.equal('HANDLER_SYNTAX');
    expect(err.message).to.include('export');
  });

  it('throws HANDLER_THREW with the cause when the module throws while loading', () => {
    const err = loadError(fixture('load-throws'));
    expect(err.code).to.equal('HANDLER_THREW');
    expect(err.message).to.include('cannot start');
    expect((err.cause as Error).message).to.equal('cannot start');
  });

  it('throws HANDLER_NOT_A_FUNCTION naming the keys of an exported object', () => {
    const err = loadError(fixture('load-not-function'));
    expect(err.code).to.equal('HANDLER_NOT_A_FUNCTION');
    expect(err.message).to.include('an object with keys handler');
  });

  it('throws HANDLER_NOT_A_FUNCTION saying nothing was exported', () => {
    const err = loadError(fixture('load-empty'));
    expect(err.code).to.equal('HANDLER_NOT_A_FUNCTION');
    expect(err.message).to.include('nothing was assigned to module.exports');
  });

  it("throws HANDLER_NO_LISTEN when a module requires 'containerless' but never listens", () => {
    expect(loadError(fixture('load-no-listen')).code).to.equal('HANDLER_NO_LISTEN');
  });

  it('throws HANDLER_THREW caused by LISTEN_TWICE when listen is called twice', () => {
    const err = loadError(fixture('load-listen-twice'));
    expect(err.code).to.equal('HANDLER_THREW');
    expect(err.cause).to.be.instanceOf(ContainerlessApiError);
    expect((err.cause as ContainerlessApiError).code).to.equal('LISTEN_TWICE');
  });

  it('throws HANDLER_BAD_OPTION for an injected name that is not an identifier or shadows a wrapper parameter', () => {
    expect(loadError(fixture('cases'), { inject: { 'a-b': 1 } }).code).to.equal('HANDLER_BAD_OPTION');
    expect(loadError(fixture('cases'), { inject: { require: 1 } }).code).to.equal('HANDLER_BAD_OPTION');
  });
});

describe('createRunnerApp with an OpenFaaS handler', () => {
  describe('event', () => {
    let s: Served;
    before(async () => {
      s = await serve(loadHandler(fixture('echo')));
    });
    after(() => s.close());

    const echo = async (init: RequestInit & { path?: string } = {}) => {
      const res = await fetch(s.url + (init.path ?? '/'), init);
      expect(res.status).to.equal(200);
      return (await res.json()) as Record<string, unknown>;
    };

    it('passes a JSON body parsed', async () => {
      const out = await echo({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"k":[1,2],"s":"x"}' });
      expect(out.body).to.deep.equal({ k: [1, 2], s: 'x' });
      expect(out.bodyType).to.equal('object');
    });

    it('passes a text/* body as a string', async () => {
      const out = await echo({ method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' });
      expect(out.body).to.equal('a,b');
      expect(out.contentType).to.equal('text/csv');
    });

    it('parses an urlencoded body with nested keys', async () => {
      const out = await echo({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b[c]=2' });
      expect(out.body).to.deep.equal({ a: '1', b: { c: '2' } });
    });

    it('treats a request without content-type as text/plain', async () => {
      const out = await echo({ method: 'POST', body: Buffer.from('no type') });
      expect(out.contentType).to.equal('text/plain');
      expect(out.body).to.equal('no type');
    });

    it('leaves the body undefined for other content types', async () => {
      const out = await echo({ method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'raw' });
      expect(out.bodyType).to.equal('undefined');
    });

    it('leaves the body undefined for a GET without a body', async () => {
      expect((await echo()).bodyType).to.equal('undefined');
    });

    it('builds a FunctionEvent with body, headers, method, query and path', async () => {
      const out = await echo({ method: 'PATCH', path: '/a/b?x=1&x=2&n[a]=1', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(out.eventClass).to.equal('FunctionEvent');
      expect(out.eventKeys).to.deep.equal(['body', 'headers', 'method', 'query', 'path']);
      expect(out.method).to.equal('PATCH');
      expect(out.path).to.equal('/a/b');
      // Express 5's simple query parser: repeated keys become arrays, brackets are not nested, no prototype.
      expect(out.query).to.deep.equal({ x: ['1', '2'], 'n[a]': '1' });
      expect(out.queryProto).to.equal('null');
    });

    it('builds a FunctionContext with the template fields and methods', async () => {
      const out = await echo();
      expect(out.contextClass).to.equal('FunctionContext');
      expect(out.contextKeys).to.deep.equal(['statusCode', 'cb', 'headerValues', 'cbCalled']);
      expect(out.contextMethods).to.deep.equal(['constructor', 'status', 'headers', 'succeed', 'fail']);
      expect(out.status).to.equal(200);
      expect(out.headers).to.deep.equal({});
    });

    it('answers 400 from the error handler for malformed JSON', async () => {
      const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' });
      expect(res.status).to.equal(400);
      expect(await res.text()).to.include('SyntaxError');
    });

    it('does not send X-Powered-By and sends X-Duration-Seconds', async () => {
      const res = await fetch(s.url);
      expect(res.headers.get('x-powered-by')).to.equal(null);
      expect(res.headers.get('x-duration-seconds')).to.match(/^\d+\.\d{6}$/);
    });
  });

  describe('body limits', () => {
    it('passes a Buffer when RAW_BODY is true', async () => {
      const s = await serve(loadHandler(fixture('echo')), { RAW_BODY: 'true' });
      try {
        const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
        const out = (await res.json()) as { body: { buffer: string } };
        expect(Buffer.from(out.body.buffer, 'base64').toString()).to.equal('{"a":1}');
      } finally {
        await s.close();
      }
    });

    it('answers 413 for a JSON body over MAX_JSON_SIZE', async () => {
      const s = await serve(loadHandler(fixture('echo')), { MAX_JSON_SIZE: '10b' });
      try {
        const small = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' });
        expect(small.status).to.equal(200);
        const big = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2,3,4,5,6]' });
        expect(big.status).to.equal(413);
      } finally {
        await s.close();
      }
    });
  });

  describe('results and errors', () => {
    let s: Served;
    before(async () => {
      s = await serve(loadHandler(fixture('cases')));
    });
    after(() => s.close());
    beforeEach(() => {
      s.errors.length = 0;
    });

    const get = async (path: string) => {
      const res = await fetch(s.url + path);
      return { status: res.status, type: res.headers.get('content-type'), headers: res.headers, body: await res.text() };
    };

    it('sends a returned object as JSON text with the text/html content type Express picks for strings', async () => {
      expect(await get('/object')).to.include({ status: 200, type: 'text/html; charset=utf-8', body: '{"a":1,"b":[true,null]}' });
    });

    it('sends a returned array as JSON text', async () => {
      expect(await get('/array')).to.include({ type: 'text/html; charset=utf-8', body: '[1,"two"]' });
    });

    it('sends a returned string without calling succeed', async () => {
      expect(await get('/string')).to.include({ status: 200, type: 'text/html; charset=utf-8', body: 'hello' });
    });

    it('sends numbers and class instances through res.json', async () => {
      expect(await get('/number')).to.include({ type: 'application/json; charset=utf-8', body: '42' });
      expect(await get('/instance')).to.include({ type: 'application/json; charset=utf-8', body: '{"x":1}' });
    });

    it('sends an empty body for null and undefined', async () => {
      expect(await get('/null')).to.include({ status: 200, body: '', type: null });
      expect(await get('/undefined')).to.include({ status: 200, body: '', type: null });
    });

    it('applies the status and headers the handler set', async () => {
      const r = await get('/status');
      expect(r).to.include({ status: 201, body: 'created' });
      expect(r.headers.get('x-custom')).to.equal('yes');
      expect(r.headers.get('cache-control')).to.equal('no-store');
    });

    it('returns the current status from status() without an argument', async () => {
      expect(JSON.parse((await get('/status-getter')).body)).to.deep.equal({ before: 200, after: 202, zero: true });
    });

    it('keeps a content type the handler set, adding the charset', async () => {
      expect(await get('/content-type')).to.include({ type: 'application/json; charset=utf-8', body: '{"typed":true}' });
    });

    it('answers 500 with the value for context.fail', async () => {
      expect(await get('/fail')).to.include({ status: 500, body: 'bad input' });
    });

    it('keeps a status set before context.fail and sends err.toString()', async () => {
      expect(await get('/fail-status')).to.include({ status: 418, body: 'Error: teapot' });
    });

    it('answers 500 with an empty body for context.fail()', async () => {
      expect(await get('/fail-empty')).to.include({ status: 500, body: '' });
    });

    it('answers a thrown error with status 200 and err.toString()', async () => {
      expect(await get('/throw')).to.include({ status: 200, type: 'text/html; charset=utf-8', body: 'Error: boom' });
      expect(s.errors.map(String)).to.deep.equal(['Error: boom']);
    });

    it('answers a thrown error with the status the handler set', async () => {
      expect(await get('/throw-status')).to.include({ status: 503, body: 'TypeError: unavailable' });
    });

    it('answers a thrown string with the string', async () => {
      expect(await get('/throw-string')).to.include({ status: 200, body: 'plain string' });
    });

    it('answers an async rejection like a thrown error', async () => {
      expect(await get('/reject')).to.include({ status: 200, body: 'RangeError: later' });
    });

    it('answers through the callback argument', async () => {
      expect(await get('/callback')).to.include({ status: 200, body: 'via callback' });
      expect(await get('/callback-error')).to.include({ status: 200, body: 'Error: via callback' });
    });

    it('keeps the first answer of a second succeed and keeps serving', async () => {
      expect(await get('/succeed-twice')).to.include({ status: 200, body: 'first' });
      await sleep(20);
      expect(s.errors.map((e) => (e as { code?: string }).code)).to.include('ERR_HTTP_HEADERS_SENT');
      expect(await get('/string')).to.include({ status: 200, body: 'hello' });
    });

    it('answers 500 as of-watchdog did for a crashed template when Express rejects the status', async () => {
      const r = await get('/bad-status');
      expect(r).to.include({ status: 500, body: '' });
      expect(r.headers.get('x-openfaas-internal')).to.equal('of-watchdog');
      expect(await get('/string')).to.include({ status: 200, body: 'hello' });
    });
  });

  it("answers a synchronous throw with Express's 500 error page", async () => {
    const s = await serve(loadHandler(fixture('sync-throw')));
    try {
      const res = await fetch(s.url);
      expect(res.status).to.equal(500);
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
      expect(await res.text()).to.include('<pre>Error: sync boom<br>');
    } finally {
      await s.close();
    }
  });

  describe('exec_timeout', () => {
    let s: Served;
    before(async () => {
      // Limits far enough apart that a loaded machine's delays do not blur which one answered.
      s = await serve(loadHandler(fixture('hang')), { exec_timeout: '400ms' });
    });
    after(() => s.close());

    it('answers 504 with X-OpenFaaS-Internal when the handler does not answer in time', async () => {
      const started = Date.now();
      const res = await fetch(s.url + '/?after=600');
      expect(res.status).to.equal(504);
      expect(res.headers.get('x-openfaas-internal')).to.equal('of-watchdog');
      expect(await res.text()).to.equal('');
      expect(Date.now() - started).to.be.within(390, 2000);
      await sleep(400); // the late succeed runs and is dropped
      expect(s.errors).to.have.length(1);
      expect(s.errors[0]).to.be.instanceOf(ExecTimeoutError);
    });

    it('lowers the limit for one request with X-Timeout', async () => {
      const started = Date.now();
      const res = await fetch(s.url, { headers: { 'X-Timeout': '20ms' } });
      expect(res.status).to.equal(504);
      expect(Date.now() - started).to.be.below(390);
    });

    it('ignores an X-Timeout above exec_timeout', async () => {
      const started = Date.now();
      const res = await fetch(s.url, { headers: { 'X-Timeout': '5s' } });
      expect(res.status).to.equal(504);
      expect(Date.now() - started).to.be.below(2000);
    });
  });
});

describe('createRunnerApp choose and around', () => {
  const als = new AsyncLocalStorage<string>();
  const responding = new Map<string, number>();
  const probe = { current: () => als.getStore(), responding: (id: string) => responding.set(id, Date.now()) };

  it('serves each request with the chosen handler inside its around wrapper', async () => {
    const traced = loadHandler(fixture('inject'), { inject: { __probe: probe } });
    const plain = loadHandler(fixture('cases'));
    const settled: { id: string; at: number }[] = [];
    const choose = (req: import('express').Request): Invocation => {
      if (!req.path.startsWith('/traced')) return { handler: plain };
      const id = String(req.query.id);
      return {
        handler: traced,
        around: async <T>(fn: () => Promise<T>): Promise<T> => {
          const out = await als.run(id, fn);
          settled.push({ id, at: Date.now() });
          return out;
        },
      };
    };
    const s = await serve(plain, {}, { choose });
    try {
      const bodies = await Promise.all(['a', 'b', 'c'].map((id, i) => fetch(`${s.url}/traced?id=${id}&ms=${60 - 20 * i}`).then((r) => r.text())));
      expect(bodies).to.deep.equal(['a', 'b', 'c']);
      expect(await (await fetch(`${s.url}/string`)).text()).to.equal('hello');
      await sleep(20);
      expect(settled.map((x) => x.id).sort()).to.deep.equal(['a', 'b', 'c']);
      for (const { id, at } of settled) expect(at).to.be.at.least(responding.get(id)!);
    } finally {
      await s.close();
    }
  });

  it('settles around for a containerless handler only after respond', async () => {
    const handler = loadHandler(fixture('cl-probe'), { inject: { __probe: probe } });
    let settledAt = 0;
    const around = async <T>(fn: () => Promise<T>): Promise<T> => {
      const out = await als.run('cl', fn);
      settledAt = Date.now();
      return out;
    };
    const s = await serve(handler, {}, { choose: () => ({ handler, around }) });
    try {
      const res = await fetch(`${s.url}/x?id=cl&ms=80`);
      expect(await res.text()).to.equal('cl');
      await sleep(20);
      expect(settledAt).to.be.at.least(responding.get('cl')!);
    } finally {
      await s.close();
    }
  });

  it('answers 500 when choose throws', async () => {
    const handler = loadHandler(fixture('cases'));
    const s = await serve(
      handler,
      {},
      {
        choose: () => {
          throw new Error('no handler');
        },
      },
    );
    try {
      const res = await fetch(`${s.url}/string`);
      expect(res.status).to.equal(500);
      expect(await res.text()).to.include('no handler');
    } finally {
      await s.close();
    }
  });
});

describe('readRunnerConfig', () => {
  it('defaults to the node22 template values', () => {
    expect(readRunnerConfig({})).to.deep.equal({ rawBody: false, rawLimit: '100kb', jsonLimit: '100kb', execTimeoutMs: 10_000, nodeEnv: 'development' });
  });

  it('reads exec_timeout as integer seconds or a Go duration', () => {
    expect(readRunnerConfig({ exec_timeout: '30' }).execTimeoutMs).to.equal(30_000);
    expect(readRunnerConfig({ exec_timeout: '1m30s' }).execTimeoutMs).to.equal(90_000);
    expect(readRunnerConfig({ exec_timeout: '0' }).execTimeoutMs).to.equal(0);
  });

  it('reports every bad variable at once', () => {
    try {
      readRunnerConfig({ exec_timeout: 'soon', MAX_JSON_SIZE: 'big' });
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).problems).to.have.length(2);
      expect((err as Error).message)
        .to.include('exec_timeout')
        .and.include('MAX_JSON_SIZE');
    }
  });
});
