/**
 * The provider with backend=kubernetes against a real control plane on loopback (etcd, kube-apiserver,
 * controller-manager, scheduler, KWOK; test/integration/provider/k8s-cluster.ts). The provider runs as
 * `containerless up` with the ServiceAccount user of deploy/kubernetes/provider-rbac.yaml, so RBAC is
 * real and least privilege is checked. Pods get KWOK IPs; the harness's PodNetwork runs each pod's function
 * in a network namespace holding that IP, so invocations cross a real proxy hop to a real watchdog and
 * never leave addresses the test made.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { clusterMissing, startCluster, type Cluster, type PodNetwork } from './k8s-cluster.ts';
import { FIXTURES, ROOT, removeDir, startGateway, startProvider, waitFor, type ProviderProc } from './harness.ts';

const FN_NS = 'openfaas-fn';
const HELLO_IMAGE = 'ghcr.io/example/hello:0.1.0';
const SLOW_IMAGE = 'ghcr.io/example/slow:0.1.0';

interface Obj {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; creationTimestamp?: string };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  status?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
}

describe('provider with the Kubernetes backend (real kube-apiserver, KWOK nodes)', function () {
  this.timeout(180_000);
  let cluster: Cluster & { network?: PodNetwork };
  let p: ProviderProc;
  let env: Record<string, string>;

  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${p.url}${path}`, { ...init, headers: { authorization: p.auth, ...(init.headers as Record<string, string> | undefined) } });
  const send = (path: string, method: string, body: unknown): Promise<Response> =>
    api(path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const status = async (name: string): Promise<{ replicas?: number; availableReplicas?: number; [k: string]: unknown }> => {
    const r = await api(`/system/function/${name}`);
    expect(r.status, `GET /system/function/${name}`).to.equal(200);
    return (await r.json()) as { replicas?: number; availableReplicas?: number };
  };
  const k8s = async (path: string): Promise<Obj & { status_code: number }> => {
    const r = await cluster.api<Obj>('GET', path);
    return { ...r.body, status_code: r.status };
  };
  const deployment = (name: string) => k8s(`/apis/apps/v1/namespaces/${FN_NS}/deployments/${name}`);

  before(async function () {
    const missing = clusterMissing();
    if (missing) throw new Error(missing);
    cluster = await startCluster({ pods: true });
    cluster.network!.images.set(HELLO_IMAGE, join(FIXTURES, 'hello'));
    cluster.network!.images.set(SLOW_IMAGE, join(FIXTURES, 'slow'));
    for (const ns of [FN_NS, 'openfaas', 'staging-fn']) {
      const labels = ns === 'staging-fn' ? { openfaas: '1' } : {};
      const r = await cluster.api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } });
      expect(r.status, `create namespace ${ns}`).to.equal(201);
    }
    // The provider's RBAC, exactly as shipped.
    const docs = parseAllDocuments(await readFile(join(ROOT, 'deploy/kubernetes/provider-rbac.yaml'), 'utf8')).map(
      (d) => d.toJS() as Obj & { kind: string; apiVersion: string },
    );
    for (const d of docs) {
      const ns = (d.metadata as { namespace?: string }).namespace;
      const base = d.apiVersion === 'v1' ? '/api/v1' : `/apis/${d.apiVersion}`;
      const plural = `${d.kind.toLowerCase()}s`.replace(/ys$/, 'ies');
      const r = await cluster.api('POST', `${base}${ns ? `/namespaces/${ns}` : ''}/${plural}`, d);
      expect(r.status, `apply ${d.kind} ${d.metadata.name}: ${JSON.stringify(r.body)}`).to.equal(201);
    }
    env = { backend: 'kubernetes', KUBECONFIG: cluster.providerKubeconfig, read_timeout: '5s', cold_start_timeout: '30s' };
    p = await startProvider(env);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !cluster) return;
    // What the cluster and the pod network looked like when the test failed.
    const pods = await cluster.api<{
      items: { metadata: { name: string }; status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] } }[];
    }>('GET', `/api/v1/namespaces/${FN_NS}/pods`);
    for (const x of pods.body.items ?? []) {
      process.stderr.write(
        `  pod ${x.metadata.name} ${x.status.phase} ${x.status.podIP} ready=${x.status.conditions?.find((c) => c.type === 'Ready')?.status}\n`,
      );
    }
    process.stderr.write(`  pod network: ${cluster.network?.log.slice(-20).join('; ')}\n  provider: ${p?.output().slice(-3000)}\n`);
  });

  after(async () => {
    await p?.stop();
    if (p) await removeDir(p.dir);
    await cluster?.stop();
  });

  it('reports orchestration kubernetes and the marked namespaces', async () => {
    const info = (await (await api('/system/info')).json()) as { orchestration: string };
    expect(info.orchestration).to.equal('kubernetes');
    expect(await (await api('/system/namespaces')).json()).to.deep.equal([FN_NS, 'staging-fn']);
  });

  it('deploys a Deployment and a Service shaped as faas-netes makes them', async () => {
    const r = await send('/system/functions', 'POST', {
      service: 'hello',
      image: HELLO_IMAGE,
      envProcess: 'node index.js',
      envVars: { custom_env: 'from-k8s', b_var: '2' },
      labels: { team: 'a' },
      annotations: { topic: 'orders' },
      limits: { memory: '128Mi', cpu: '100m' },
      readOnlyRootFilesystem: true,
    });
    expect(r.status, await r.text()).to.equal(202);
    const d = await deployment('hello');
    expect(d.status_code).to.equal(200);
    expect(d.metadata.labels).to.deep.equal({ faas_function: 'hello' });
    expect(d.metadata.annotations).to.include({ topic: 'orders', 'prometheus.io.scrape': 'false' });
    const { 'com.containerless.deployment': deploymentId, ...templateAnnotations } = d.spec.template.metadata.annotations as Record<string, string>;
    expect(templateAnnotations).to.deep.equal({ topic: 'orders', 'prometheus.io.scrape': 'false' });
    expect(deploymentId).to.match(/^[0-9a-f-]{36}$/);
    expect(d.spec.replicas).to.equal(1);
    expect(d.spec.selector).to.deep.equal({ matchLabels: { faas_function: 'hello' } });
    expect(d.spec.strategy.rollingUpdate).to.deep.equal({ maxUnavailable: 0, maxSurge: 1 });
    expect(d.spec.template.metadata.labels).to.deep.equal({ faas_function: 'hello', team: 'a' });
    const c = d.spec.template.spec.containers[0];
    expect(c.name).to.equal('hello');
    expect(c.image).to.equal(HELLO_IMAGE);
    expect(c.ports).to.deep.equal([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.env).to.deep.equal([
      { name: 'b_var', value: '2' },
      { name: 'custom_env', value: 'from-k8s' },
      { name: 'fprocess', value: 'node index.js' },
      // The watchdog's, from the downward API: its deployment id, the function name its trees go under, the namespace.
      { name: 'CONTAINERLESS_DEPLOYMENT', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['com.containerless.deployment']" } } },
      { name: 'OPENFAAS_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.labels['faas_function']" } } },
      { name: 'OPENFAAS_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    ]);
    expect(c.resources).to.deep.equal({ limits: { memory: '128Mi', cpu: '100m' } });
    expect(c.readinessProbe.httpGet).to.include({ path: '/_/ready', port: 8080 });
    expect(c.livenessProbe.httpGet).to.include({ path: '/_/health', port: 8080 });
    expect(c.securityContext).to.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(c.volumeMounts).to.deep.equal([{ name: 'temp', mountPath: '/tmp' }]);
    const svc = await k8s(`/api/v1/namespaces/${FN_NS}/services/hello`);
    expect(svc.status_code).to.equal(200);
    expect(svc.spec.selector).to.deep.equal({ faas_function: 'hello' });
    expect(svc.spec.ports[0]).to.include({ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' });
    expect(svc.spec.type).to.equal('ClusterIP');
  });

  it('reads status back from the Deployment once the pod is ready', async () => {
    const s = await waitFor(
      'hello to have an available replica',
      async () => {
        const st = await status('hello');
        return (st.availableReplicas ?? 0) >= 1 ? st : undefined;
      },
      60_000,
      250,
    );
    expect(s).to.include({
      name: 'hello',
      image: HELLO_IMAGE,
      namespace: FN_NS,
      envProcess: 'node index.js',
      replicas: 1,
      availableReplicas: 1,
      readOnlyRootFilesystem: true,
    });
    expect(s.envVars).to.deep.equal({ custom_env: 'from-k8s', b_var: '2' });
    expect(s.labels).to.deep.equal({ faas_function: 'hello', team: 'a' });
    expect(s.annotations).to.include({ topic: 'orders' });
    expect(s.limits).to.deep.equal({ memory: '128Mi', cpu: '100m' });
    expect(new Date(String(s.createdAt)).getTime()).to.be.closeTo(Date.now(), 120_000);
    const list = (await (await api('/system/functions')).json()) as { name: string }[];
    expect(list.map((f) => f.name)).to.deep.equal(['hello']);
  });

  it("invokes the function in its pod (the watchdog in the pod IP's namespace) with X-Call-Id", async () => {
    const r = await api('/function/hello/some/path?x=1', { method: 'POST', body: 'ping' });
    const text = await r.text();
    expect(r.status, text).to.equal(200);
    expect(r.headers.get('x-call-id')).to.match(/^[0-9a-f-]{36}$/);
    const body = JSON.parse(text) as { path: string; body: string; env: { custom: string; hostname: string } };
    expect(body.path).to.equal('/some/path');
    expect(body.body).to.equal('ping');
    expect(body.env.custom).to.equal('from-k8s');
    expect(body.env.hostname).to.match(/^hello-[a-z0-9]+-[a-z0-9]+$/);
  });

  it("streams the pods' logs through the API server's pod log route as NDJSON, and ends with follow=false", async () => {
    const lines = await waitFor(
      "the invocation's log line",
      async () => {
        const r = await api(`/system/logs?name=hello&namespace=${FN_NS}&follow=false&tail=-1`);
        expect(r.status).to.equal(200);
        expect(r.headers.get('content-type')).to.match(/application\/x-ndjson/);
        const msgs = (await r.text())
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { name: string; namespace: string; instance: string; timestamp: string; text: string });
        return msgs.some((m) => m.text.includes('hello handled POST /some/path')) ? msgs : undefined;
      },
      30_000,
      500,
    );
    const line = lines.find((m) => m.text.includes('hello handled POST /some/path'))!;
    expect(line.name).to.equal('hello');
    expect(line.namespace).to.equal(FN_NS);
    expect(line.instance).to.match(/^hello-[a-z0-9]+-[a-z0-9]+$/);
    expect(Date.parse(line.timestamp)).to.be.closeTo(Date.now(), 120_000);
    const tail = await api(`/system/logs?name=hello&namespace=${FN_NS}&follow=false&tail=1`);
    expect((await tail.text()).trim().split('\n')).to.have.length(1);
    expect((await api(`/system/logs?name=nope&namespace=${FN_NS}&follow=false`)).status).to.equal(404);
  });

  it('scales through the Deployment: scale.min 2 gives two pods that both serve; an API scale beyond is brought back', async () => {
    const spec = {
      service: 'hello',
      image: HELLO_IMAGE,
      envProcess: 'node index.js',
      envVars: { custom_env: 'from-k8s' },
      labels: { 'com.openfaas.scale.min': '2' },
    };
    expect((await send('/system/functions', 'PUT', spec)).status).to.equal(202);
    await waitFor(
      '2 available replicas',
      async () => {
        const s = await status('hello');
        return s.replicas === 2 && s.availableReplicas === 2;
      },
      60_000,
      250,
    );
    const hosts = new Set<string>();
    await waitFor(
      'both pods to answer',
      async () => {
        const r = await api('/function/hello');
        hosts.add(((await r.json()) as { env: { hostname: string } }).env.hostname);
        return hosts.size === 2;
      },
      30_000,
      20,
    );
    // The provider owns replicas: an API scale reaches the Deployment, and the idle function goes back to
    // its minimum at the autoscaler's next pass.
    expect((await send('/system/scale-function/hello', 'POST', { serviceName: 'hello', replicas: 3 })).status).to.equal(202);
    let seen = 0;
    await waitFor(
      'the Deployment to go to 3 and back to 2',
      async () => {
        const r = (await deployment('hello')).spec.replicas as number;
        seen = Math.max(seen, r);
        return seen === 3 && r === 2;
      },
      30_000,
      50,
    );
  });

  it('updates in place: 404 for an unknown function, replicas kept, pods restarted with the new env', async () => {
    const unknown = await send('/system/functions', 'PUT', { service: 'nope', image: HELLO_IMAGE });
    expect(unknown.status).to.equal(404);
    const before = await deployment('hello');
    const r = await send('/system/functions', 'PUT', {
      service: 'hello',
      image: HELLO_IMAGE,
      envVars: { custom_env: 'updated' },
      labels: { team: 'b', 'com.openfaas.scale.min': '2' },
    });
    expect(r.status, await r.text()).to.equal(202);
    const after = await deployment('hello');
    expect(after.spec.replicas).to.equal(before.spec.replicas);
    expect(after.spec.replicas).to.equal(2);
    expect(after.spec.template.metadata.labels).to.include({ faas_function: 'hello', team: 'b' });
    expect(after.spec.template.metadata.labels.uid).to.match(/^\d+$/);
    // A new deployment id: trees of the old pods are refused from now on.
    const idOf = (d: Obj): string | undefined => (d.spec.template.metadata.annotations as Record<string, string>)['com.containerless.deployment'];
    expect(idOf(after)).to.match(/^[0-9a-f-]{36}$/);
    expect(idOf(after)).to.not.equal(idOf(before));
    await waitFor(
      'the updated pod to answer with the new env',
      async () => {
        const res = await api('/function/hello');
        if (res.status !== 200) return false;
        return ((await res.json()) as { env: { custom: string } }).env.custom === 'updated';
      },
      60_000,
      250,
    );
  });

  it('keeps secrets as labelled Opaque Secrets, mounts them, and answers 409/404/400 as the contract says', async () => {
    const value = 's3cr3t-value';
    expect((await send('/system/secrets', 'POST', { name: 'api-key', value })).status).to.equal(202);
    const s = await k8s(`/api/v1/namespaces/${FN_NS}/secrets/api-key`);
    expect(s.metadata.labels).to.include({ 'app.kubernetes.io/managed-by': 'openfaas' });
    expect(Buffer.from(s.data!['api-key'], 'base64').toString()).to.equal(value);
    expect((await send('/system/secrets', 'POST', { name: 'api-key', value })).status).to.equal(409);
    expect((await send('/system/secrets', 'PUT', { name: 'missing', value })).status).to.equal(404);
    const raw = Buffer.from([0, 1, 2, 255]);
    expect((await send('/system/secrets', 'PUT', { name: 'api-key', rawValue: raw.toString('base64') })).status).to.equal(202);
    expect(Buffer.from((await k8s(`/api/v1/namespaces/${FN_NS}/secrets/api-key`)).data!['api-key'], 'base64')).to.deep.equal(raw);
    expect((await (await api('/system/secrets')).json()).map((x: { name: string }) => x.name)).to.deep.equal(['api-key']);
    // A secret OpenFaaS does not manage is not listed, and cannot be used by a function.
    await cluster.api('POST', `/api/v1/namespaces/${FN_NS}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other' }, data: { x: 'eA==' } });
    const bad = await send('/system/functions', 'POST', { service: 'withsecret', image: HELLO_IMAGE, secrets: ['other'] });
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.include('other');
    expect((await send('/system/secrets', 'PUT', { name: 'api-key', value })).status).to.equal(202);
    const ok = await send('/system/functions', 'POST', { service: 'withsecret', image: HELLO_IMAGE, secrets: ['api-key'] });
    expect(ok.status, await ok.text()).to.equal(202);
    const d = await deployment('withsecret');
    expect(d.spec.template.spec.volumes).to.deep.equal([
      {
        name: 'withsecret-projected-secrets',
        projected: { defaultMode: 420, sources: [{ secret: { name: 'api-key', items: [{ key: 'api-key', path: 'api-key' }] } }] },
      },
    ]);
    expect(d.spec.template.spec.containers[0].volumeMounts).to.deep.equal([
      { name: 'withsecret-projected-secrets', mountPath: '/var/openfaas/secrets', readOnly: true },
    ]);
    expect((await status('withsecret')).secrets).to.deep.equal(['api-key']);
    const answer = await waitFor(
      'withsecret to answer',
      async () => {
        const r = await api('/function/withsecret');
        return r.status === 200 ? ((await r.json()) as { secrets: Record<string, string> }) : undefined;
      },
      60_000,
      250,
    );
    expect(answer.secrets).to.deep.equal({ 'api-key': value });
    expect((await send('/system/functions', 'DELETE', { functionName: 'withsecret' })).status).to.equal(202);
    expect((await send('/system/secrets', 'DELETE', { name: 'api-key' })).status).to.equal(202);
    expect((await k8s(`/api/v1/namespaces/${FN_NS}/secrets/api-key`)).status_code).to.equal(404);
    expect((await send('/system/secrets', 'DELETE', { name: 'api-key' })).status).to.equal(404);
  });

  it('scale to zero: an idle scale.zero function goes to 0 pods and the next request starts it and is answered', async () => {
    const r = await send('/system/functions', 'POST', {
      service: 'idler',
      image: SLOW_IMAGE,
      labels: { 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '6s' },
    });
    expect(r.status).to.equal(202);
    await waitFor('idler ready', async () => (await status('idler')).availableReplicas === 1, 60_000, 250);
    expect((await api('/function/idler')).status).to.equal(200);
    await waitFor(
      'idler to go to zero',
      async () => {
        const d = await deployment('idler');
        return d.spec.replicas === 0 && (d.status.replicas ?? 0) === 0;
      },
      60_000,
      250,
    );
    const pods = await k8s(`/api/v1/namespaces/${FN_NS}/pods?labelSelector=faas_function%3Didler`);
    expect((pods as unknown as { items: unknown[] }).items).to.have.length(0);
    const woke = await api('/function/idler?ms=10');
    expect(woke.status, await woke.text()).to.equal(200);
    expect((await deployment('idler')).spec.replicas).to.equal(1);
  });

  it('serves the real OpenFaaS gateway unchanged: deploy (PUT 404, then POST), describe, invoke, scale from zero, remove', async () => {
    const gw = await startGateway(p.url, join(p.dir, 'auth'));
    try {
      const cli = (method: string, path: string, body?: unknown): Promise<Response> =>
        fetch(`${gw.url}${path}`, {
          method,
          headers: { authorization: p.auth, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const spec = { service: 'viagw', image: HELLO_IMAGE, namespace: FN_NS, labels: null, annotations: null };
      const put = await cli('PUT', '/system/functions', spec);
      expect(put.status).to.equal(404);
      expect((await cli('POST', '/system/functions', spec)).status).to.equal(202);
      const described = await waitFor(
        'the gateway to describe viagw as ready',
        async () => {
          const r = await cli('GET', `/system/function/viagw?namespace=${FN_NS}`);
          const b = r.status === 200 ? ((await r.json()) as { availableReplicas?: number; labels?: Record<string, string> }) : undefined;
          return (b?.availableReplicas ?? 0) > 0 ? b : undefined;
        },
        60_000,
        250,
      );
      expect(described.labels).to.include({ faas_function: 'viagw' });
      const inv = await fetch(`${gw.url}/function/viagw/through/gateway`, { method: 'POST', body: 'hi' });
      expect(inv.status).to.equal(200);
      expect((await inv.json()) as { path: string; body: string }).to.include({ path: '/through/gateway', body: 'hi' });
      // scale to zero through the provider (the CE gateway clamps to 1), then the gateway's next invoke wakes it.
      expect((await send('/system/scale-function/viagw', 'POST', { serviceName: 'viagw', replicas: 0 })).status).to.equal(202);
      await waitFor(
        'viagw to have no pods',
        async () => ((await k8s(`/api/v1/namespaces/${FN_NS}/pods?labelSelector=faas_function%3Dviagw`)) as unknown as { items: unknown[] }).items.length === 0,
        60_000,
        250,
      );
      const woke = await fetch(`${gw.url}/function/viagw`);
      expect(woke.status, await woke.text()).to.equal(200);
      expect((await cli('DELETE', '/system/functions', { functionName: 'viagw', namespace: FN_NS })).status).to.equal(202);
      expect((await cli('GET', `/system/function/viagw?namespace=${FN_NS}`)).status).to.equal(404);
    } finally {
      await gw.stop();
    }
  });

  it('a restarted provider loses no function: the API server is its only state', async () => {
    const before = (await (await api('/system/functions')).json()) as { name: string; createdAt: string }[];
    expect(before.map((f) => f.name)).to.include.members(['hello', 'idler']);
    await p.stop();
    p = await startProvider(env, p.dir);
    const after = (await (await api('/system/functions')).json()) as { name: string; createdAt: string }[];
    expect(after.map((f) => [f.name, f.createdAt])).to.deep.equal(before.map((f) => [f.name, f.createdAt]));
    const r = await api('/function/hello');
    expect(r.status).to.equal(200);
  });

  it('refuses what the contract refuses: unknown names, foreign namespaces, Deployments that are not functions', async () => {
    expect((await api('/system/function/nope')).status).to.equal(404);
    expect((await api('/function/nope')).status).to.equal(404);
    expect((await api('/system/functions?namespace=kube-system')).status).to.equal(400);
    expect((await send('/system/functions', 'POST', { service: 'Bad_Name', image: HELLO_IMAGE })).status).to.equal(400);
    expect((await send('/system/functions', 'POST', { service: 'hello', image: HELLO_IMAGE })).status).to.equal(409);
    const plain = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'plain' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'plain' } },
        template: { metadata: { labels: { app: 'plain' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
      },
    };
    expect((await cluster.api('POST', `/apis/apps/v1/namespaces/${FN_NS}/deployments`, plain)).status).to.equal(201);
    expect((await api('/system/function/plain')).status).to.equal(404);
    expect((await send('/system/functions', 'DELETE', { functionName: 'plain' })).status).to.equal(400);
    expect((await deployment('plain')).status_code).to.equal(200);
  });

  it('deploys into a namespace marked openfaas=1 once RBAC lets it, and invokes there with <fn>.<ns>', async () => {
    const spec = { service: 'staged', image: HELLO_IMAGE, namespace: 'staging-fn' };
    // The shipped RBAC grants function_namespace only: the API server's refusal reaches the client as 403.
    const refused = await send('/system/functions', 'POST', spec);
    expect(refused.status).to.equal(403);
    expect(await refused.text()).to.match(/forbidden/i);
    // The operator grants the same Role there (the manifest's Role and RoleBinding, namespace changed).
    const docs = parseAllDocuments(await readFile(join(ROOT, 'deploy/kubernetes/provider-rbac.yaml'), 'utf8')).map(
      (d) => d.toJS() as Obj & { kind: string; apiVersion: string },
    );
    for (const d of docs.filter((x) => x.kind === 'Role' || x.kind === 'RoleBinding')) {
      const r = await cluster.api('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/staging-fn/${d.kind.toLowerCase()}s`, {
        ...d,
        metadata: { ...d.metadata, namespace: 'staging-fn' },
      });
      expect(r.status).to.equal(201);
    }
    expect((await send('/system/functions', 'POST', spec)).status).to.equal(202);
    expect((await k8s('/apis/apps/v1/namespaces/staging-fn/deployments/staged')).status_code).to.equal(200);
    const list = (await (await api('/system/functions?namespace=staging-fn')).json()) as { name: string; namespace: string }[];
    expect(list.map((f) => [f.name, f.namespace])).to.deep.equal([['staged', 'staging-fn']]);
    const r = await waitFor(
      'staged.staging-fn to answer',
      async () => {
        const res = await api('/function/staged.staging-fn/x');
        return res.status === 200 ? ((await res.json()) as { path: string }) : undefined;
      },
      60_000,
      250,
    );
    expect(r.path).to.equal('/x');
    expect((await send('/system/functions', 'DELETE', { functionName: 'staged', namespace: 'staging-fn' })).status).to.equal(202);
  });

  it('does not start, and says why in one line, when the API server refuses it or the namespace is missing', async () => {
    const up = (extra: Record<string, string>): Promise<{ code: number | null; err: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'up'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', port: '0', backend: 'kubernetes', ...extra },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let err = '';
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, err }));
      });
    const badToken = join(cluster.dir, 'bad-token.kubeconfig');
    await writeFile(badToken, (await readFile(cluster.providerKubeconfig, 'utf8')).replace('provider-token', 'not-a-token'));
    const refused = await up({ KUBECONFIG: badToken });
    expect(refused.code).to.equal(1);
    expect(refused.err, refused.err).to.match(
      /^containerless up: namespace openfaas-fn: the Kubernetes API did not accept the provider's credentials \(401 Unauthorized\)$/m,
    );
    expect(refused.err).to.not.include('    at ');
    const missing = await up({ KUBECONFIG: cluster.providerKubeconfig, function_namespace: 'no-such-ns' });
    expect(missing.code).to.equal(1);
    expect(missing.err).to.include('function_namespace no-such-ns does not exist in the cluster');
  });

  it('removes a function: Deployment and Service go, then 404', async () => {
    expect((await send('/system/functions', 'DELETE', { functionName: 'hello' })).status).to.equal(202);
    await waitFor(
      'the Deployment and Service to go',
      async () => (await deployment('hello')).status_code === 404 && (await k8s(`/api/v1/namespaces/${FN_NS}/services/hello`)).status_code === 404,
      60_000,
      250,
    );
    expect((await api('/system/function/hello')).status).to.equal(404);
    expect((await send('/system/functions', 'DELETE', { functionName: 'hello' })).status).to.equal(404);
  });
});
