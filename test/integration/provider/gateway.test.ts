/**
 * End to end: the real OpenFaaS CE gateway (openfaas/faas gateway at 8d803bf, built by
 * .ci/setup-gateway.sh, basic auth on, scale_from_zero=true) in front of the real provider
 * (`containerless up`, local backend), all on 127.0.0.1.
 *
 * faas-cli itself could not be installed here: the Go module proxy answers 403 for every faas-cli version.
 * So each faas-cli command is replaced by the exact HTTP requests faas-cli sends for it (openfaas/faas-cli
 * commands/*.go and proxy/*.go, summarised in docs/openfaas-contract.md §7): same method,
 * path, query, JSON body fields and credentials, sent to the gateway, and the gateway forwards them to the
 * provider as it would for faas-cli. The deployment bodies are built from test/fixtures/provider/stack.yml
 * the way `faas-cli deploy` builds them.
 *
 * Prometheus (Debian's package, .ci/setup-prometheus.sh) runs too, scraping the provider: the gateway's
 * GET /system/functions mixes invocation counts in from Prometheus, and with no Prometheus reachable it
 * drops the connection as soon as one function exists (gateway/metrics/add_metrics.go dereferences the
 * missing query result), so a gateway without Prometheus is not a setup faas-cli can use.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  FIXTURES,
  ROOT,
  readUntil,
  removeDir,
  startGateway,
  startPrometheus,
  startProvider,
  timeout,
  waitFor,
  type Proc,
  type ProviderProc,
} from './harness.ts';

interface StackFunction {
  lang: string;
  handler: string;
  image: string;
  fprocess?: string;
  environment?: Record<string, string>;
  secrets?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  namespace?: string;
}

/** faas-cli deploy's FunctionDeployment for one stack.yml entry (envProcess from the template's fprocess). */
function deploymentFromStack(name: string, fn: StackFunction): Record<string, unknown> {
  return {
    service: name,
    image: fn.image,
    envProcess: fn.fprocess ?? 'node index.js',
    envVars: fn.environment ?? {},
    constraints: [],
    secrets: fn.secrets ?? [],
    labels: fn.labels ?? null,
    annotations: fn.annotations ?? null,
    limits: null,
    requests: null,
    readOnlyRootFilesystem: false,
    namespace: fn.namespace ?? '',
  };
}

describe('OpenFaaS gateway in front of the provider (faas-cli flows over HTTP)', function () {
  this.timeout(180_000);
  let provider: ProviderProc;
  let gateway: Proc & { url: string };
  let prometheus: Proc & { url: string };
  const stack = parse(readFileSync(join(FIXTURES, 'stack.yml'), 'utf8')) as { functions: Record<string, StackFunction> };

  /** A faas-cli request: basic auth as `faas-cli login` stored it, JSON bodies with their content type. */
  const cli = (method: string, path: string, body?: unknown, auth?: string): Promise<Response> =>
    fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: auth ?? provider.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  /** faas-cli deploy (--update=true): PUT, then POST on 404. */
  async function deploy(name: string): Promise<number[]> {
    const body = deploymentFromStack(name, stack.functions[name]);
    const put = await cli('PUT', '/system/functions', body);
    await put.arrayBuffer();
    if (put.status !== 404) return [put.status];
    const post = await cli('POST', '/system/functions', body);
    await post.arrayBuffer();
    return [put.status, post.status];
  }

  /** faas-cli describe: GET /system/function/<fn>?namespace=&usage=1. */
  async function describeFn(
    name: string,
  ): Promise<{ status: number; body?: { replicas?: number; availableReplicas?: number; invocationCount?: number; labels?: Record<string, string> } }> {
    const r = await cli('GET', `/system/function/${name}?namespace=openfaas-fn&usage=1`);
    return r.status === 200 ? { status: 200, body: await r.json() } : { status: r.status };
  }

  before(async () => {
    provider = await startProvider({ scale_interval: '500ms' });
    prometheus = await startPrometheus([new URL(provider.url).host]);
    gateway = await startGateway(provider.url, join(provider.dir, 'auth'), {
      faas_prometheus_host: '127.0.0.1',
      faas_prometheus_port: new URL(prometheus.url).port,
    });
  });
  after(async () => {
    await gateway?.stop();
    await prometheus?.stop();
    await provider?.stop();
    if (provider) await removeDir(provider.dir);
  });

  it('login: GET /system/functions answers 200 with the credentials and 401 without', async () => {
    const ok = await cli('GET', '/system/functions');
    expect(ok.status).to.equal(200);
    expect(await ok.json()).to.deep.equal([]);
    const bad = await cli('GET', '/system/functions', undefined, `Basic ${Buffer.from('admin:wrong').toString('base64')}`);
    expect(bad.status).to.equal(401);
    await bad.arrayBuffer();
  });

  it('version: GET /system/info wraps the provider info', async () => {
    const info = (await (await cli('GET', '/system/info')).json()) as { provider: { provider: string; orchestration: string; version: { sha: string } } };
    expect(info.provider.provider).to.equal('containerless');
    expect(info.provider.orchestration).to.equal('local');
    expect(info.provider.version.sha).to.not.equal('');
  });

  it('secret create: POST /system/secrets; with --replace a 409 turns into PUT', async () => {
    const r = await cli('POST', '/system/secrets', { name: 'stack-secret', namespace: 'openfaas-fn', value: 's3cret' });
    expect(r.status).to.equal(202);
    const again = await cli('POST', '/system/secrets', { name: 'stack-secret', namespace: 'openfaas-fn', value: 's3cret-2' });
    expect(again.status).to.equal(409);
    const replace = await cli('PUT', '/system/secrets', { name: 'stack-secret', namespace: 'openfaas-fn', value: 's3cret-2' });
    expect(replace.status).to.equal(202);
    const list = await (await cli('GET', '/system/secrets?namespace=openfaas-fn')).json();
    expect(list).to.deep.equal([{ name: 'stack-secret', namespace: 'openfaas-fn' }]);
  });

  it('deploy from stack.yml: PUT gets 404, then POST gets 202', async () => {
    expect(await deploy('hello')).to.deep.equal([404, 202]);
    expect(await deploy('sleepy')).to.deep.equal([404, 202]);
  });

  it('describe: Ready once availableReplicas > 0; unknown functions are 404', async () => {
    const d = await waitFor('hello to be Ready', async () => {
      const x = await describeFn('hello');
      return (x.body?.availableReplicas ?? 0) > 0 ? x : undefined;
    });
    expect(d.body?.replicas).to.equal(1);
    expect(d.body?.labels).to.deep.equal({ team: 'e2e', faas_function: 'hello' });
    expect((await describeFn('nobody')).status).to.equal(404);
  });

  it('invoke: POST /function/hello through the gateway answers with the function, env and secret', async () => {
    const r = await fetch(`${gateway.url}/function/hello`, { method: 'POST', body: 'from faas-cli', headers: { 'content-type': 'text/plain' } });
    expect(r.status).to.equal(200);
    expect(r.headers.get('x-call-id')).to.be.a('string').and.not.equal('');
    expect(r.headers.get('x-start-time')).to.match(/^\d+$/);
    const b = (await r.json()) as { body: string; env: { custom: string }; secrets: Record<string, string>; headers: Record<string, string> };
    expect(b.body).to.equal('from faas-cli');
    expect(b.env.custom).to.equal('from-stack');
    expect(b.secrets).to.deep.equal({ 'stack-secret': 's3cret-2' });
    expect(b.headers['x-call-id']).to.equal(r.headers.get('x-call-id'));
    const q = await fetch(`${gateway.url}/function/hello.openfaas-fn/sub/path?testing=1`, { method: 'GET' });
    const qb = (await q.json()) as { path: string; query: Record<string, string> };
    expect(qb.path).to.equal('/sub/path');
    expect(qb.query).to.deep.equal({ testing: '1' });
  });

  it('invoke of an unknown function answers 404 through the gateway', async () => {
    const r = await fetch(`${gateway.url}/function/nobody`, { method: 'POST', body: 'x' });
    expect(r.status).to.equal(404);
    await r.arrayBuffer();
  });

  it('list: GET /system/functions shows both functions, with invocation counts from Prometheus', async () => {
    const list = await waitFor(
      "the gateway to mix in hello's invocation count from Prometheus",
      async () => {
        const l = (await (await cli('GET', '/system/functions?namespace=openfaas-fn')).json()) as {
          name: string;
          replicas: number;
          image: string;
          invocationCount?: number;
        }[];
        return (l.find((f) => f.name === 'hello')?.invocationCount ?? 0) >= 2 ? l : undefined;
      },
      20_000,
      500,
    );
    expect(list.map((f) => f.name).sort()).to.deep.equal(['hello', 'sleepy']);
    // stack.yml's relative image, resolved against the provider's folder when deployed and stored absolute.
    expect(list.find((f) => f.name === 'hello')?.image).to.equal(join(ROOT, 'test/fixtures/provider/hello'));
    expect(list.find((f) => f.name === 'hello')?.replicas).to.equal(1);
  });

  it('logs: GET /system/logs?follow=false streams the function output as NDJSON and ends', async () => {
    const r = await cli('GET', '/system/logs?name=hello&namespace=openfaas-fn&follow=false&instance=&tail=-1');
    expect(r.status).to.equal(200);
    const lines = (await r.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; text: string; instance: string });
    expect(lines.every((m) => m.name === 'hello')).to.equal(true);
    expect(lines.map((m) => m.text)).to.include('hello handled POST /');
  });

  it('logs (faas-cli default --tail=true): follow=true streams new lines through the gateway as they happen', async () => {
    const ac = new AbortController();
    const r = await fetch(`${gateway.url}/system/logs?name=hello&namespace=openfaas-fn&follow=true&instance=&tail=1`, {
      headers: { authorization: provider.auth },
      signal: ac.signal,
    });
    expect(r.status).to.equal(200);
    const stream = readUntil(r.body!, '/streamed-through-gateway');
    await new Promise((res) => setTimeout(res, 300));
    await (await fetch(`${gateway.url}/function/hello/streamed-through-gateway`)).arrayBuffer();
    await Promise.race([stream.read, timeout(8000, () => `no streamed line in: ${stream.text()}`)]);
    ac.abort();
    const line = stream
      .text()
      .split('\n')
      .find((l) => l.includes('/streamed-through-gateway'))!;
    expect(JSON.parse(line)).to.include({ name: 'hello', text: 'hello handled GET /streamed-through-gateway' });
  });

  it('scale to zero: a scale.zero function idles to 0 replicas, and the next invoke through the gateway starts it', async () => {
    const first = await fetch(`${gateway.url}/function/sleepy?ms=10`);
    expect(first.status).to.equal(200);
    await first.arrayBuffer();
    await waitFor(
      'sleepy to reach zero replicas',
      async () => {
        const d = await describeFn('sleepy');
        return d.body?.replicas === 0 && (d.body.availableReplicas ?? 0) === 0;
      },
      20_000,
      250,
    );
    const t = Date.now();
    const r = await fetch(`${gateway.url}/function/sleepy?ms=10`);
    expect(r.status).to.equal(200);
    expect(await r.text()).to.match(/^slept 10 in \d+$/);
    const coldMs = Date.now() - t;
    expect(coldMs).to.be.below(15_000);
    const d = await describeFn('sleepy');
    expect(d.body?.replicas).to.be.greaterThan(0);
  });

  describe('checks of the OpenFaaS certifier that apply without containers (written anew; the certifier module is not served)', () => {
    it('Test_InvokeNotFound: /function/.openfaas-fn answers 404 or 502', async () => {
      const r = await fetch(`${gateway.url}/function/.openfaas-fn`, { method: 'POST', body: 'x' });
      expect([404, 502]).to.include(r.status);
      await r.arrayBuffer();
    });

    it('Test_ListNamespaces: /system/namespaces through the gateway', async () => {
      expect(await (await cli('GET', '/system/namespaces')).json()).to.deep.equal(['openfaas-fn']);
    });

    it('Test_Deploy_MetaData: an image the local backend cannot run is refused with the reason, through the gateway', async () => {
      const r = await cli('POST', '/system/functions', { service: 'env-test', image: 'functions/alpine:latest', envProcess: 'env', namespace: 'openfaas-fn' });
      expect(r.status).to.equal(400);
      expect(await r.text()).to.match(/^image: "functions\/alpine:latest" looks like a container image/);
      expect((await describeFn('env-test')).status).to.equal(404);
    });

    it('Test_Deploy_MetaData: metadata is stored verbatim (with a function folder for the image)', async () => {
      const big = JSON.stringify({ list: Array.from({ length: 200 }, (_, i) => ({ i, s: 'x'.repeat(20) })) });
      const image = join(FIXTURES, 'hello');
      const body = {
        service: 'env-test-annotations',
        image,
        envProcess: 'env',
        labels: { 'test-label': 'x' },
        annotations: { 'test-annotation': big },
        limits: { memory: '5Mi', cpu: '100m' },
        namespace: 'openfaas-fn',
      };
      const r = await cli('POST', '/system/functions', body);
      expect(r.status).to.be.oneOf([200, 202]);
      const d = await describeFn('env-test-annotations');
      const got = d.body as Record<string, unknown>;
      expect(got).to.include({ name: 'env-test-annotations', image, namespace: 'openfaas-fn', envProcess: 'env' });
      expect(got.labels).to.deep.equal({ 'test-label': 'x', faas_function: 'env-test-annotations' });
      expect(got.annotations).to.deep.equal({ 'test-annotation': big });
      expect(got.limits).to.deep.equal({ memory: '5Mi', cpu: '100m' });
      expect(got).to.not.have.property('requests');
      expect(got).to.not.have.property('envVars');
      const list = (await (await cli('GET', '/system/functions?namespace=openfaas-fn')).json()) as { name: string }[];
      expect(list.map((f) => f.name)).to.include('env-test-annotations');
      expect((await cli('DELETE', '/system/functions', { functionName: 'env-test-annotations', namespace: 'openfaas-fn' })).status).to.equal(202);
    });

    it('Test_ScaleMinimum: com.openfaas.scale.min=2 gives replicas 2 right after deploy', async () => {
      const r = await cli('POST', '/system/functions', {
        ...deploymentFromStack('sleepy', stack.functions.sleepy),
        service: 'scale-minimum',
        labels: { 'com.openfaas.scale.min': '2' },
      });
      expect(r.status).to.equal(202);
      expect((await describeFn('scale-minimum')).body?.replicas).to.equal(2);
      expect((await cli('DELETE', '/system/functions', { functionName: 'scale-minimum', namespace: 'openfaas-fn' })).status).to.equal(202);
    });

    it('Test_ScaleFromZeroDuringInvoke: scaled to 0 on the provider (the CE gateway clamps to 1), the next invoke through the gateway answers 200', async () => {
      const d = await cli('POST', '/system/functions', { ...deploymentFromStack('hello', stack.functions.hello), service: 'from-zero', secrets: [] });
      expect(d.status).to.equal(202);
      await waitFor('from-zero ready', async () => ((await describeFn('from-zero')).body?.availableReplicas ?? 0) > 0);
      const z = await fetch(`${provider.url}/system/scale-function/from-zero?namespace=openfaas-fn`, {
        method: 'POST',
        headers: { authorization: provider.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ serviceName: 'from-zero', replicas: 0 }),
      });
      expect(z.status).to.equal(202);
      await waitFor('from-zero at 0 replicas', async () => {
        const x = (await describeFn('from-zero')).body;
        return x?.replicas === 0 && (x.availableReplicas ?? 0) === 0;
      });
      const r = await fetch(`${gateway.url}/function/from-zero`, { method: 'POST', body: 'after zero', headers: { 'content-type': 'text/plain' } });
      expect(r.status).to.equal(200);
      expect(((await r.json()) as { body: string }).body).to.equal('after zero');
      expect((await cli('DELETE', '/system/functions', { functionName: 'from-zero', namespace: 'openfaas-fn' })).status).to.equal(202);
    });
  });

  it('remove: DELETE /system/functions with the namespace in the body; then 404 everywhere', async () => {
    const r = await cli('DELETE', '/system/functions', { functionName: 'hello', namespace: 'openfaas-fn' });
    expect(r.status).to.equal(202);
    expect((await describeFn('hello')).status).to.equal(404);
    const again = await cli('DELETE', '/system/functions', { functionName: 'hello', namespace: 'openfaas-fn' });
    expect(again.status).to.equal(404);
    const inv = await fetch(`${gateway.url}/function/hello`, { method: 'POST', body: 'x' });
    expect(inv.status).to.equal(404);
    await inv.arrayBuffer();
  });

  it('healthz: the gateway forwards /healthz to the provider', async () => {
    const r = await fetch(`${gateway.url}/healthz`);
    expect(r.status).to.equal(200);
  });
});
