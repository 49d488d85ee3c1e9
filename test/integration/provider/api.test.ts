/**
 * The faas-provider API contract (docs/openfaas-contract.md §1) against the real provider
 * process (`containerless up`, local backend, basic auth on) on 127.0.0.1, with real replica processes.
 * Nothing is mocked.
 */
import { expect } from 'chai';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { FIXTURES, ROOT, readUntil, removeDir, startProvider, timeout, waitFor, type ProviderProc } from './harness.ts';

describe('provider API (containerless up, local backend)', function () {
  this.timeout(120_000);
  let p: ProviderProc;
  const hello = join(FIXTURES, 'hello');

  const api = (path: string, init: RequestInit = {}, auth = true): Promise<Response> =>
    fetch(`${p.url}${path}`, { ...init, headers: { ...(auth ? { authorization: p.auth } : {}), ...(init.headers as Record<string, string> | undefined) } });
  const json = (path: string, method: string, body: unknown, auth = true): Promise<Response> =>
    api(path, { method, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }, auth);
  const status = async (r: Response): Promise<[number, string]> => [r.status, await r.text()];
  const ready = (name: string, ns = 'openfaas-fn'): Promise<unknown> =>
    waitFor(`${name} to have a ready replica`, async () => {
      const r = await api(`/system/function/${name}?namespace=${ns}`);
      const s = (await r.json()) as { availableReplicas?: number };
      return (s.availableReplicas ?? 0) > 0;
    });

  before(async () => {
    p = await startProvider({ extra_namespaces: 'staging', max_body_size: '64kb', read_timeout: '2s', cold_start_timeout: '3s', max_queued_requests: '2' });
  });
  after(async () => {
    await p?.stop();
    if (p) await removeDir(p.dir);
  });

  describe('basic auth', () => {
    it('answers 401 with the faas-provider realm and body without credentials', async () => {
      const r = await api('/system/functions', {}, false);
      expect(r.status).to.equal(401);
      expect(r.headers.get('www-authenticate')).to.equal('Basic realm="Restricted"');
      expect(await r.text()).to.equal('invalid credentials');
    });
    it('answers 401 for a wrong password', async () => {
      const r = await fetch(`${p.url}/system/info`, { headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` } });
      expect(r.status).to.equal(401);
    });
    it('leaves /healthz, /system/namespaces and /metrics open', async () => {
      expect((await api('/healthz', {}, false)).status).to.equal(200);
      expect(await (await api('/system/namespaces', {}, false)).json()).to.deep.equal(['openfaas-fn', 'staging']);
      const m = await api('/metrics', {}, false);
      expect(m.status).to.equal(200);
      expect(await m.text()).to.include('provider_http_requests_total');
    });
  });

  describe('GET /system/info', () => {
    it('names the provider, orchestration, release and sha', async () => {
      const info = (await (await api('/system/info')).json()) as { provider: string; orchestration: string; version: { sha: string; release: string } };
      expect(info.provider).to.equal('containerless');
      expect(info.orchestration).to.equal('local');
      expect(info.version.release).to.match(/^\d+\.\d+\.\d+/);
      expect(info.version.sha).to.be.a('string').and.not.equal('');
    });
  });

  describe('POST/PUT /system/functions', () => {
    it('answers 404 to PUT for an unknown function (faas-cli then POSTs)', async () => {
      const r = await json('/system/functions', 'PUT', { service: 'nobody', image: hello });
      expect(r.status).to.equal(404);
    });
    it('deploys with 202 and the status echoes the metadata, with faas_function added', async () => {
      const r = await json('/system/functions', 'POST', {
        service: 'hello',
        image: hello,
        envProcess: 'node index.js',
        envVars: { custom_env: 'custom-value' },
        labels: { team: 'a' },
        annotations: { big: JSON.stringify({ a: [1, 2, 3] }) },
        limits: { memory: '5Mi', cpu: '100m' },
      });
      expect(await status(r)).to.deep.equal([202, '']);
      const s = (await (await api('/system/function/hello')).json()) as Record<string, unknown>;
      expect(s).to.include({ name: 'hello', image: hello, namespace: 'openfaas-fn', envProcess: 'node index.js', replicas: 1 });
      expect(s.envVars).to.deep.equal({ custom_env: 'custom-value' });
      expect(s.labels).to.deep.equal({ team: 'a', faas_function: 'hello' });
      expect(s.annotations).to.deep.equal({ big: JSON.stringify({ a: [1, 2, 3] }) });
      expect(s.limits).to.deep.equal({ memory: '5Mi', cpu: '100m' });
      expect(s).to.not.have.property('requests');
      expect(s.createdAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      await ready('hello');
    });
    it('answers 409 to POST for a function that exists', async () => {
      expect((await json('/system/functions', 'POST', { service: 'hello', image: hello })).status).to.equal(409);
    });
    it('accepts labels and annotations sent as null', async () => {
      const r = await json('/system/functions', 'POST', { service: 'nulls', image: hello, labels: null, annotations: null, namespace: 'staging' });
      expect(r.status).to.equal(202);
      const s = (await (await api('/system/function/nulls?namespace=staging')).json()) as Record<string, unknown>;
      expect(s.labels).to.deep.equal({ faas_function: 'nulls' });
      expect(s).to.not.have.property('annotations');
      expect(s).to.not.have.property('envVars');
    });
    for (const [what, body, reason] of [
      ['a name that is not RFC 1123', { service: 'Hello_World', image: hello }, /service: "Hello_World" is not a valid function name/],
      ['a missing image', { service: 'x' }, /^image: required$/],
      ['a number as service', { service: 5, image: hello }, /^service: must be string$/],
      ['envVars that are not strings', { service: 'x', image: hello, envVars: { a: 1 } }, /^envVars\.a: must be string$/],
      ['a namespace the provider does not serve', { service: 'x', image: hello, namespace: 'kube-system' }, /^namespace must be one of: openfaas-fn, staging$/],
      ['a bad scale label', { service: 'x', image: hello, labels: { 'com.openfaas.scale.min': 'two' } }, /labels\.com\.openfaas\.scale\.min/],
      ['an unknown secret', { service: 'x', image: hello, secrets: ['nope'] }, /secrets: not found in namespace openfaas-fn: nope/],
      ['invalid JSON', '{"service":', /^body: not valid JSON/],
    ] as const) {
      it(`answers 400 with a one-line reason for ${what}`, async () => {
        const r = await json('/system/functions', 'POST', body);
        const [code, text] = await status(r);
        expect(code).to.equal(400);
        expect(text).to.match(reason as RegExp);
        expect(text).to.not.include('\n');
      });
    }
    it('updates with PUT (202), restarting replicas with the new env', async () => {
      const before = (await (await fetch(`${p.url}/function/hello`)).json()) as { pid: number; env: { custom: string } };
      expect(before.env.custom).to.equal('custom-value');
      const r = await json('/system/functions', 'PUT', { service: 'hello', image: hello, envVars: { custom_env: 'v2' } });
      expect(r.status).to.equal(202);
      const after = await waitFor('the updated replica to answer', async () => {
        const b = (await (await fetch(`${p.url}/function/hello`)).json()) as { pid: number; env: { custom: string } };
        return b.env.custom === 'v2' ? b : undefined;
      });
      expect(after.pid).to.not.equal(before.pid);
    });
  });

  describe('images on the local backend', () => {
    it('runs a faas-cli build --shrinkwrap folder (build/<fn>) through its function/ folder, by a relative path', async () => {
      const build = join(p.dir, 'build', 'wrapped');
      await mkdir(join(build, 'function'), { recursive: true });
      await writeFile(join(build, 'index.js'), '// the template entry point; the watchdog serves function/handler.js in-process\n');
      await writeFile(join(build, 'package.json'), '{"name":"openfaas-node-template","private":true}\n');
      await writeFile(join(build, 'function', 'package.json'), '{"name":"openfaas-function","type":"commonjs"}\n');
      await copyFile(join(hello, 'handler.js'), join(build, 'function', 'handler.js'));
      const image = relative(ROOT, build);
      expect(isAbsolute(image)).to.equal(false);
      expect((await json('/system/functions', 'POST', { service: 'wrapped', image })).status).to.equal(202);
      await ready('wrapped');
      const r = await fetch(`${p.url}/function/wrapped/x`);
      expect(r.status).to.equal(200);
      expect(((await r.json()) as { path: string }).path).to.equal('/x');
      expect((await json('/system/functions', 'DELETE', { functionName: 'wrapped' })).status).to.equal(202);
    });
  });

  describe('GET /system/functions and /system/function/{name}', () => {
    it('lists functions of a namespace with invocationCount', async () => {
      const list = (await (await api('/system/functions')).json()) as { name: string; invocationCount?: number; namespace: string }[];
      const h = list.find((f) => f.name === 'hello');
      expect(h?.namespace).to.equal('openfaas-fn');
      expect(h?.invocationCount).to.be.greaterThan(0);
      expect(list.map((f) => f.name)).to.not.include('nulls');
      const staging = (await (await api('/system/functions?namespace=staging')).json()) as { name: string }[];
      expect(staging.map((f) => f.name)).to.deep.equal(['nulls']);
    });
    it('reads an empty ?namespace= as the default namespace', async () => {
      const list = (await (await api('/system/functions?namespace=')).json()) as { name: string }[];
      expect(list.map((f) => f.name)).to.include('hello');
    });
    it('answers 404 for an unknown function', async () => {
      expect((await api('/system/function/nobody')).status).to.equal(404);
    });
  });

  describe('invoke /function/{name}', () => {
    it('forwards method, sub-path, query, headers and body; sets X-Call-Id and X-Start-Time', async () => {
      const r = await fetch(`${p.url}/function/hello/a/b?x=1&y=2`, {
        method: 'PATCH',
        body: 'payload',
        headers: { 'content-type': 'text/plain', 'x-custom': 'yes' },
      });
      expect(r.status).to.equal(200);
      expect(r.headers.get('x-call-id')).to.match(/^[0-9a-f-]{36}$/);
      expect(r.headers.get('x-start-time')).to.match(/^\d{19}$/);
      expect(r.headers.get('x-duration-seconds')).to.match(/^\d+\.\d+$/);
      const b = (await r.json()) as { method: string; path: string; query: unknown; body: string; headers: Record<string, string> };
      expect(b).to.deep.include({ method: 'PATCH', path: '/a/b', query: { x: '1', y: '2' }, body: 'payload' });
      expect(b.headers['x-custom']).to.equal('yes');
      expect(b.headers['x-call-id']).to.equal(r.headers.get('x-call-id'));
      expect(b.headers['x-forwarded-host']).to.equal(new URL(p.url).host);
    });
    it('keeps a caller X-Call-Id', async () => {
      const r = await fetch(`${p.url}/function/hello`, { headers: { 'x-call-id': 'abc-123' } });
      expect(r.headers.get('x-call-id')).to.equal('abc-123');
      await r.arrayBuffer();
    });
    it('addresses <fn>.<namespace> and passes the function status code through', async () => {
      await ready('nulls', 'staging');
      const r = await fetch(`${p.url}/function/nulls.staging/?status=201`, { method: 'DELETE' });
      expect(r.status).to.equal(201);
      expect(((await r.json()) as { method: string }).method).to.equal('DELETE');
      const head = await fetch(`${p.url}/function/hello`, { method: 'HEAD' });
      expect(head.status).to.equal(200);
    });
    it('answers 404 for an unknown function, an empty name and an unknown namespace', async () => {
      for (const path of ['/function/nobody', '/function/.openfaas-fn', '/function/hello.elsewhere']) {
        const r = await fetch(`${p.url}${path}`);
        expect(r.status, path).to.equal(404);
        expect(r.headers.get('x-openfaas-internal'), path).to.equal('proxy');
        expect(await r.text(), path).to.match(/^No such function/);
      }
    });
    it('answers 413 beyond max_body_size and still serves the next request', async () => {
      const r = await fetch(`${p.url}/function/hello`, { method: 'POST', body: 'x'.repeat(64 * 1024 + 1), headers: { 'content-type': 'text/plain' } });
      expect(r.status).to.equal(413);
      expect(await r.text()).to.match(/too large/);
      const ok = await fetch(`${p.url}/function/hello`, { method: 'POST', body: 'x'.repeat(60 * 1024), headers: { 'content-type': 'text/plain' } });
      expect(ok.status).to.equal(200);
      expect(((await ok.json()) as { bodyLength: number }).bodyLength).to.equal(60 * 1024);
    });
    it('answers 413 for a chunked body beyond the cap (no Content-Length)', async () => {
      const big = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 70; i++) c.enqueue(new Uint8Array(1024).fill(65));
          c.close();
        },
      });
      const r = await fetch(`${p.url}/function/hello`, { method: 'POST', body: big, duplex: 'half', headers: { 'content-type': 'text/plain' } } as RequestInit);
      expect(r.status).to.equal(413);
      await r.arrayBuffer();
    });
    it('answers 405 for a method faas-provider does not proxy', async () => {
      const r = await fetch(`${p.url}/function/hello`, { method: 'PROPFIND' });
      expect(r.status).to.equal(405);
      await r.arrayBuffer();
    });
    it('answers 504 when the function does not answer within read_timeout', async () => {
      expect((await json('/system/functions', 'POST', { service: 'slow', image: join(FIXTURES, 'slow') })).status).to.equal(202);
      await ready('slow');
      const t = Date.now();
      const r = await fetch(`${p.url}/function/slow?ms=5000`);
      expect(r.status).to.equal(504);
      expect(r.headers.get('x-openfaas-internal')).to.equal('proxy');
      expect(Date.now() - t).to.be.within(1900, 4500);
      await r.arrayBuffer();
    });
  });

  describe('streaming invocations', () => {
    it('passes an Accept: text/event-stream request through unbuffered and without read_timeout', async () => {
      const t = Date.now();
      const r = await fetch(`${p.url}/function/slow?ms=2600`, { headers: { accept: 'text/event-stream' } });
      expect(r.status).to.equal(200);
      expect(await r.text()).to.match(/^slept 2600/);
      expect(Date.now() - t).to.be.at.least(2500);
    });
  });

  describe('cold start: POST /system/scale-function/{name} to 0, then invoke', () => {
    it('scales to zero (202) and the next invoke starts a replica and is answered', async () => {
      expect((await json('/system/scale-function/hello', 'POST', { serviceName: 'hello', replicas: 0 })).status).to.equal(202);
      await waitFor('hello to have no replica', async () => {
        const s = (await (await api('/system/function/hello')).json()) as { replicas?: number; availableReplicas?: number };
        return (s.replicas ?? 0) === 0 && (s.availableReplicas ?? 0) === 0;
      });
      // Two requests (max_queued_requests) queue at once; one scale-up serves both (cold_starts_total is
      // checked below).
      const rs = await Promise.all(
        ['a', 'b'].map((body) =>
          fetch(`${p.url}/function/hello`, { method: 'POST', body, headers: { 'content-type': 'text/plain' } }).then(async (r) => [
            r.status,
            ((await r.json()) as { body: string }).body,
          ]),
        ),
      );
      expect(rs).to.deep.equal([
        [200, 'a'],
        [200, 'b'],
      ]);
      const s = (await (await api('/system/function/hello')).json()) as { replicas?: number };
      expect(s.replicas).to.equal(1);
    });
    it('answers 404 to scale an unknown function and 400 to negative replicas', async () => {
      expect((await json('/system/scale-function/nobody', 'POST', { replicas: 1 })).status).to.equal(404);
      const [code, text] = await status(await json('/system/scale-function/hello', 'POST', { replicas: -1 }));
      expect(code).to.equal(400);
      expect(text).to.match(/^replicas: /);
    });
    it('gives 504 after cold_start_timeout and 503 when the queue is full, for a function slower to start', async () => {
      // Loads for a minute: never ready within cold_start_timeout (3 s).
      expect(
        (await json('/system/functions', 'POST', { service: 'broken', image: join(FIXTURES, 'slow-start'), envVars: { load_ms: '60000' } })).status,
      ).to.equal(202);
      const t = Date.now();
      const results = await Promise.all([0, 1, 2].map(() => fetch(`${p.url}/function/broken`).then(async (r) => [r.status, await r.text()] as const)));
      const codes = results.map((r) => r[0]).sort();
      expect(codes).to.deep.equal([503, 504, 504]);
      expect(results.find((r) => r[0] === 504)![1]).to.match(/Timed out after 3000 ms waiting for a replica of: broken\.openfaas-fn/);
      expect(Date.now() - t).to.be.within(2900, 6000);
    });
    it('frees the queue slot of a client that goes away while waiting', async () => {
      const acs = [new AbortController(), new AbortController()];
      const waiting = acs.map((ac) => fetch(`${p.url}/function/broken`, { signal: ac.signal }).catch((err: Error) => err.name));
      await waitFor('two queued requests', async () =>
        /containerless_function_queued_requests\{function_name="broken\.openfaas-fn"\} 2/.test(await (await fetch(`${p.url}/metrics`)).text()),
      );
      for (const ac of acs) ac.abort();
      expect(await Promise.all(waiting)).to.deep.equal(['AbortError', 'AbortError']);
      await waitFor(
        'the queue to empty',
        async () => /containerless_function_queued_requests\{function_name="broken\.openfaas-fn"\} 0/.test(await (await fetch(`${p.url}/metrics`)).text()),
        1000,
        20,
      );
      const r = await fetch(`${p.url}/function/broken`);
      expect(r.status).to.equal(504);
      await r.arrayBuffer();
    });
  });

  describe('secrets /system/secrets', () => {
    it('creates (202), refuses a duplicate (409), lists names only, and mounts it for a function', async () => {
      expect((await json('/system/secrets', 'POST', { name: 'api-key', value: 'literal-value' })).status).to.equal(202);
      expect((await json('/system/secrets', 'POST', { name: 'api-key', value: 'again' })).status).to.equal(409);
      expect((await json('/system/secrets', 'POST', { name: 'raw', rawValue: Buffer.from('bytes\u0000here').toString('base64') })).status).to.equal(202);
      const list = await (await api('/system/secrets')).json();
      expect(list).to.deep.equal([
        { name: 'api-key', namespace: 'openfaas-fn' },
        { name: 'raw', namespace: 'openfaas-fn' },
      ]);
      expect((await json('/system/functions', 'POST', { service: 'withsecret', image: hello, secrets: ['api-key', 'raw'] })).status).to.equal(202);
      await ready('withsecret');
      const b = (await (await fetch(`${p.url}/function/withsecret`)).json()) as { secrets: Record<string, string> };
      expect(b.secrets).to.deep.equal({ 'api-key': 'literal-value', raw: 'bytes\u0000here' });
    });
    it('updates with PUT (202; 404 when unknown) and deletes (202; 404 when unknown)', async () => {
      expect((await json('/system/secrets', 'PUT', { name: 'api-key', value: 'v2' })).status).to.equal(202);
      expect((await json('/system/secrets', 'PUT', { name: 'ghost', value: 'x' })).status).to.equal(404);
      const b = (await (await fetch(`${p.url}/function/withsecret`)).json()) as { secrets: Record<string, string> };
      expect(b.secrets['api-key']).to.equal('v2');
      expect((await json('/system/secrets', 'DELETE', { name: 'raw' })).status).to.equal(202);
      expect((await json('/system/secrets', 'DELETE', { name: 'raw' })).status).to.equal(404);
      expect(((await (await api('/system/secrets')).json()) as unknown[]).length).to.equal(1);
    });
    it('answers 400 for a secret without a value or with a bad name', async () => {
      expect(await status(await json('/system/secrets', 'POST', { name: 'empty' }))).to.deep.equal([400, 'value: required (or rawValue, base64)']);
      expect((await json('/system/secrets', 'POST', { name: '../etc', value: 'x' })).status).to.equal(400);
    });
  });

  describe('GET /system/logs', () => {
    it('streams NDJSON Messages of the function and ends when follow=false', async () => {
      await (await fetch(`${p.url}/function/hello/logged`)).arrayBuffer();
      const r = await api('/system/logs?name=hello&namespace=openfaas-fn&follow=false&tail=-1');
      expect(r.status).to.equal(200);
      expect(r.headers.get('content-type')).to.equal('application/x-ndjson');
      const lines = (await r.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, string>);
      expect(lines.length).to.be.greaterThan(1);
      for (const m of lines) {
        expect(Object.keys(m)).to.deep.equal(['name', 'namespace', 'instance', 'timestamp', 'text']);
        expect(m.name).to.equal('hello');
        expect(m.timestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      }
      expect(lines.map((m) => m.text)).to.include('hello handled GET /logged');
      const tail = (await (await api('/system/logs?name=hello&follow=false&tail=1')).text()).trim().split('\n');
      expect(tail.length).to.equal(1);
    });
    it('sends new lines while following', async () => {
      const ac = new AbortController();
      const r = await api('/system/logs?name=hello&follow=true&tail=1', { signal: ac.signal });
      const stream = readUntil(r.body!, '/followed');
      await (await fetch(`${p.url}/function/hello/followed`)).arrayBuffer();
      await Promise.race([stream.read, timeout(5000, () => `no followed line in: ${stream.text()}`)]);
      ac.abort();
      expect(stream.text()).to.include('hello handled GET /followed');
    });
    it('answers 422 for a query it cannot parse, 400 without a name and 404 for an unknown function', async () => {
      expect((await api('/system/logs?name=hello&tail=abc')).status).to.equal(422);
      expect((await api('/system/logs?name=hello&since=yesterday')).status).to.equal(422);
      expect((await api('/system/logs')).status).to.equal(400);
      expect((await api('/system/logs?name=nobody')).status).to.equal(404);
    });
  });

  describe('DELETE /system/functions', () => {
    it('removes with 202 (namespace from the body), then 404', async () => {
      expect((await json('/system/functions', 'DELETE', { functionName: 'nulls', namespace: 'staging' })).status).to.equal(202);
      expect((await api('/system/function/nulls?namespace=staging')).status).to.equal(404);
      expect((await json('/system/functions', 'DELETE', { functionName: 'nulls', namespace: 'staging' })).status).to.equal(404);
      expect((await fetch(`${p.url}/function/nulls.staging`)).status).to.equal(404);
    });
    it('answers 400 without functionName', async () => {
      expect(await status(await json('/system/functions', 'DELETE', {}))).to.deep.equal([400, 'functionName: required']);
    });
  });

  describe('/metrics', () => {
    it('counts invocations per function_name and code, with the gateway names', async () => {
      const text = await (await fetch(`${p.url}/metrics`)).text();
      expect(text).to.match(/gateway_function_invocation_total\{function_name="hello\.openfaas-fn",code="200"\} [1-9]/);
      expect(text).to.match(/gateway_function_invocation_total\{function_name="slow\.openfaas-fn",code="504"\} 1/);
      expect(text).to.match(/gateway_functions_seconds_bucket\{le="[^"]+",function_name="hello\.openfaas-fn",code="200"\}/);
      expect(text).to.match(/containerless_function_cold_starts_total\{function_name="hello\.openfaas-fn"\} 1/);
      expect(text).to.match(/provider_http_requests_total\{code="202",method="POST",path="\/system\/functions"\}/);
    });
  });

  describe('restart', () => {
    it('a restarted provider starts the functions it had', async () => {
      await p.stop();
      p = await startProvider({ extra_namespaces: 'staging' }, p.dir);
      await ready('hello');
      const b = (await (await fetch(`${p.url}/function/withsecret`)).json()) as { secrets: Record<string, string> };
      expect(b.secrets['api-key']).to.equal('v2');
    });
  });
});
