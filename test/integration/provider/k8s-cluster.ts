/**
 * A real Kubernetes control plane on 127.0.0.1 for the Kubernetes backend's tests, without containers:
 * etcd, kube-apiserver (TLS, token auth, RBAC), kube-controller-manager, kube-scheduler and KWOK, all built
 * from Go modules by .ci/setup-k8s.sh. KWOK plays the node: it moves scheduled pods to Running and Ready
 * with an IP from its CIDR, so Deployments, ReplicaSets, EndpointSlices and scaling are the real
 * controllers' work.
 *
 * Pod IPs are KWOK's inventions, so nothing may dial them, with one exception this harness builds itself:
 * `PodNetwork` (below) gives a pod a network namespace of its own holding that IP and runs the function's
 * folder there with the containerless watchdog, like a kubelet would start the image. The whole KWOK CIDR
 * is routed `unreachable` on the host first, so a packet for an IP without such a namespace goes nowhere.
 * Every process is stopped by its own PID.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { cachePath } from '../../../lib/index.ts';
import { freePort, ROOT, waitFor } from './harness.ts';

const run = promisify(execFile);
export const K8S_VERSION = 'v1.35.4';

export function k8sBinDir(): string {
  return cachePath(process.env, 'tools', `k8s-${K8S_VERSION}`);
}

/** Why the cluster cannot start here, or undefined when its binaries are installed. */
export function clusterMissing(): string | undefined {
  for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']) {
    if (!existsSync(join(k8sBinDir(), b))) return `${b} is not installed in ${k8sBinDir()}; run bash .ci/setup-k8s.sh`;
  }
  return undefined;
}

interface Proc {
  name: string;
  child: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

function start(name: string, bin: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(bin, args, { cwd: opts.cwd, env: opts.env ?? { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => (out += `\nspawn error: ${err.message}`));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    name,
    child,
    out: () => out,
    async stop() {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      }, 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface Cluster {
  /** https://127.0.0.1:<port> */
  server: string;
  /** A kubeconfig for the admin user (system:masters). */
  kubeconfig: string;
  /** A kubeconfig for the user `system:serviceaccount:openfaas:containerless-provider` (RBAC applies). */
  providerKubeconfig: string;
  dir: string;
  /** KWOK's pod CIDR (routed unreachable on the host while the cluster runs). */
  podCidr: string;
  /** GET/POST/PUT/PATCH/DELETE on the API server as admin; JSON in and out. */
  api<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** A free /25 in 10.250.0.0/16 for KWOK's pods (the host side of pod links uses .254 of the /24). */
async function pickPodCidr(): Promise<{ cidr: string; hostIp: string; routed: string }> {
  const { stdout } = await run('ip', ['route', 'show']);
  for (let i = 0; i < 50; i++) {
    const third = 1 + Math.floor(Math.random() * 250);
    const net = `10.250.${third}.0`;
    if (!stdout.includes(`10.250.${third}.`)) return { cidr: `${net}/25`, hostIp: `10.250.${third}.254`, routed: `${net}/24` };
  }
  throw new Error('no free 10.250.x.0/24 for KWOK pods');
}

export async function startCluster(opts: { pods?: boolean } = {}): Promise<Cluster & { network?: PodNetwork }> {
  const missing = clusterMissing();
  if (missing) throw new Error(missing);
  const bin = (b: string): string => join(k8sBinDir(), b);
  const dir = await mkdtemp(join(tmpdir(), 'cl-k8s-'));
  const pki = join(dir, 'pki');
  await mkdir(pki);
  const procs: Proc[] = [];
  let routed: string | undefined;
  let hostAddr: string | undefined;
  const stopAll = async (): Promise<void> => {
    for (const p of procs.reverse()) await p.stop();
    if (routed) await run('ip', ['route', 'del', 'unreachable', routed]).catch(() => undefined);
    if (hostAddr) await run('ip', ['addr', 'del', `${hostAddr}/32`, 'dev', 'lo']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ssl = (args: string[]): Promise<unknown> => run('openssl', args, { cwd: pki });
    await ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=containerless-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
    await ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-apiserver', '-keyout', 'apiserver.key', '-out', 'apiserver.csr']);
    await writeFile(join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes.default.svc\n');
    await ssl([
      'x509',
      '-req',
      '-in',
      'apiserver.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      'san.ext',
      '-out',
      'apiserver.crt',
    ]);
    await ssl(['genrsa', '-out', 'sa.key', '2048']);
    await writeFile(
      join(dir, 'tokens.csv'),
      'admin-token,admin,uid-admin,"system:masters"\n' +
        'provider-token,system:serviceaccount:openfaas:containerless-provider,uid-provider,"system:serviceaccounts,system:serviceaccounts:openfaas"\n',
    );

    const [etcdClient, etcdPeer, apiPort, cmPort, schedPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const etcd = start('etcd', bin('etcd'), [
      '--name=t',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=t=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    procs.push(etcd);
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = start('kube-apiserver', bin('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${pki}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(pki, 'sa.key')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/24',
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
    ]);
    procs.push(apiserver);

    const kubeconfigFor = async (file: string, token: string): Promise<string> => {
      const path = join(dir, file);
      await writeFile(
        path,
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{name: t, cluster: {server: "${server}", certificate-authority: "${join(pki, 'ca.crt')}"}}]`,
          `users: [{name: u, user: {token: ${token}}}]`,
          'contexts: [{name: t, context: {cluster: t, user: u, namespace: default}}]',
          'current-context: t',
          '',
        ].join('\n'),
      );
      return path;
    };
    const kubeconfig = await kubeconfigFor('admin.kubeconfig', 'admin-token');
    const providerKubeconfig = await kubeconfigFor('provider.kubeconfig', 'provider-token');

    const ca = await readFile(join(pki, 'ca.crt'));
    const api = <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = httpsRequest(
          `${server}${path}`,
          {
            method,
            ca,
            headers: { authorization: 'Bearer admin-token', ...(payload ? { 'content-type': contentType, 'content-length': payload.length } : {}) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown = text;
              try {
                parsed = JSON.parse(text);
              } catch {
                // not JSON
              }
              resolve({ status: res.statusCode ?? 0, body: parsed as T });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        for (const p of procs) if (p.child.exitCode !== null) throw new Error(`${p.name} exited ${p.child.exitCode}: ${p.out().slice(-3000)}`);
        return (await api('GET', '/readyz')).status === 200;
      },
      120_000,
      250,
    );
    await waitFor('the default namespace', async () => (await api('GET', '/api/v1/namespaces/default')).status === 200, 30_000, 200);

    let network: PodNetwork | undefined;
    if (opts.pods) {
      const cm = start('kube-controller-manager', bin('kube-controller-manager'), [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${cmPort}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${join(pki, 'sa.key')}`,
        `--root-ca-file=${join(pki, 'ca.crt')}`,
        `--cert-dir=${join(dir, 'cm-certs')}`,
        '--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service',
      ]);
      procs.push(cm);
      const sched = start('kube-scheduler', bin('kube-scheduler'), [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${schedPort}`,
        '--leader-elect=false',
        `--cert-dir=${join(dir, 'sched-certs')}`,
      ]);
      procs.push(sched);
      const probe = `clprobe-${process.pid}`;
      try {
        await run('ip', ['netns', 'add', probe]);
        await run('ip', ['netns', 'del', probe]);
      } catch (err) {
        throw new Error(`pods need network namespaces (ip netns, as root or with CAP_SYS_ADMIN and CAP_NET_ADMIN): ${(err as Error).message.split('\n')[0]}`);
      }
      const { cidr, hostIp, routed: r } = await pickPodCidr();
      // Before any pod has an IP: every address in KWOK's range is unreachable unless a pod namespace holds it.
      await run('ip', ['route', 'add', 'unreachable', r]);
      routed = r;
      // The host's end of every pod link: one address on lo (an address shared by several veths would lose
      // its local route when one of them goes).
      await run('ip', ['addr', 'add', `${hostIp}/32`, 'dev', 'lo']);
      hostAddr = hostIp;
      // KWOK's kubelet API serves pod logs from files the harness writes (one `Logs` object per pod), so the
      // API server's pod log route works as on a real node. The CRD must exist before KWOK watches it.
      const crd = parseDocument(await readFile(join(ROOT, 'test/fixtures/k8s/kwok-logs-crd.yaml'), 'utf8')).toJS();
      const made = await api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
      if (made.status !== 201) throw new Error(`creating the Logs CRD: ${made.status} ${JSON.stringify(made.body)}`);
      await waitFor('the Logs CRD to be served', async () => (await api('GET', '/apis/kwok.x-k8s.io/v1alpha1/logs')).status === 200, 30_000, 200);
      await ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kwok-node-0', '-keyout', 'kubelet.key', '-out', 'kubelet.csr']);
      await writeFile(join(pki, 'kubelet.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
      await ssl([
        'x509',
        '-req',
        '-in',
        'kubelet.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '30',
        '-extfile',
        'kubelet.ext',
        '-out',
        'kubelet.crt',
      ]);
      const kubeletPort = await freePort();
      const kwok = start(
        'kwok',
        bin('kwok'),
        [
          '--enable-crds=Logs',
          `--server-address=127.0.0.1:${kubeletPort}`,
          `--node-port=${kubeletPort}`,
          `--tls-cert-file=${join(pki, 'kubelet.crt')}`,
          `--tls-private-key-file=${join(pki, 'kubelet.key')}`,
          `--kubeconfig=${kubeconfig}`,
          '--manage-all-nodes=true',
          `--cidr=${cidr}`,
          '--node-ip=127.0.0.1',
          `--config=${join(ROOT, 'test/fixtures/k8s/kwok-stages.yaml')}`,
        ],
        { env: { PATH: process.env.PATH ?? '', HOME: dir } },
      );
      procs.push(kwok);
      const node = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: 'kwok-node-0', labels: { 'kubernetes.io/hostname': 'kwok-node-0', type: 'kwok' }, annotations: { 'kwok.x-k8s.io/node': 'fake' } },
        status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
      };
      const created = await api('POST', '/api/v1/nodes', node);
      if (created.status !== 201) throw new Error(`creating the KWOK node: ${created.status} ${JSON.stringify(created.body)}`);
      await waitFor(
        'the KWOK node to be Ready',
        async () => {
          if (kwok.child.exitCode !== null) throw new Error(`kwok exited ${kwok.child.exitCode}: ${kwok.out().slice(-3000)}`);
          const n = await api<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', '/api/v1/nodes/kwok-node-0');
          return n.body.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        },
        60_000,
        250,
      );
      // The API server gives a new node the not-ready taint; the node lifecycle controller (off here: KWOK
      // sends no heartbeats) would lift it, so the harness does.
      const untaint = await api('PATCH', '/api/v1/nodes/kwok-node-0', { spec: { taints: null } }, 'application/merge-patch+json');
      if (untaint.status !== 200) throw new Error(`untainting the KWOK node: ${untaint.status} ${JSON.stringify(untaint.body)}`);
      network = new PodNetwork(api, hostIp, dir);
      network.start();
    }

    return {
      server,
      kubeconfig,
      providerKubeconfig,
      dir,
      podCidr: routed ?? '',
      api,
      network,
      async stop() {
        await network?.close();
        await stopAll();
      },
    };
  } catch (err) {
    for (const p of procs) if (p.child.exitCode !== null) (err as Error).message += `\n--- ${p.name} output:\n${p.out().slice(-2000)}`;
    await stopAll();
    throw err;
  }
}

type Api = Cluster['api'];

interface PodInfo {
  metadata: { name: string; namespace: string; deletionTimestamp?: string };
  spec: {
    containers: { name: string; image: string; env?: { name: string; value?: string }[] }[];
    volumes?: { projected?: { sources?: { secret?: { name: string } }[] } }[];
  };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

interface PodRun {
  ns: string;
  proc?: Proc;
  ip: string;
  ready: boolean;
  since: number;
}

/**
 * Plays the kubelet's runtime, networking and readiness probe for KWOK's pods. For each Running pod whose
 * image is known (`images`: image → function folder): a network namespace holding the pod's IP (a veth to
 * the host, a /32 route to it), the pod's secrets written to a folder (passed as `secret_mount_path`,
 * since a test cannot own /var/openfaas/secrets), and the folder served by `containerless watchdog`
 * inside the namespace on :8080. The pod is marked Ready once `/_/health` answers 200 there, as the
 * Deployment's readiness probe would. A pod whose image is unknown is marked Ready without running
 * anything (its IP stays unreachable). Pods that go away lose their namespace and process.
 */
export class PodNetwork {
  readonly images = new Map<string, string>();
  private readonly running = new Map<string, PodRun>();
  private readonly stopping = new Set<Promise<void>>();
  private timer?: NodeJS.Timeout;
  private busy = false;
  private seq = 0;
  readonly log: string[] = [];

  constructor(
    private readonly api: Api,
    private readonly hostIp: string,
    private readonly dir: string,
  ) {}

  /** Starts reconciling every 200 ms. */
  start(): void {
    this.timer ??= setInterval(() => void this.reconcile(), 200);
  }

  /** `namespace/pod` of the pods whose function runs now. */
  served(): string[] {
    return [...this.running.entries()].filter(([, r]) => r.proc).map(([k]) => k.split('@')[0]);
  }

  /** What the pod's watchdog printed (its log), by pod name. */
  output(pod: string): string {
    for (const [k, r] of this.running) if (k.split('@')[0].endsWith(`/${pod}`)) return r.proc?.out() ?? '';
    return '';
  }

  private async reconcile(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const pods = await this.api<{ items: PodInfo[] }>('GET', '/api/v1/pods');
      if (pods.status !== 200) return;
      const want = new Map<string, PodInfo>();
      for (const p of pods.body.items) {
        if (!p.status.podIP || p.status.phase !== 'Running' || p.metadata.deletionTimestamp) continue;
        want.set(`${p.metadata.namespace}/${p.metadata.name}@${p.status.podIP}`, p);
      }
      for (const [key, r] of this.running) {
        if (!want.has(key)) {
          this.running.delete(key);
          // In the background: a watchdog drains for healthcheck_interval after SIGTERM, as in a real pod,
          // and the other pods' probes must go on meanwhile.
          const t = this.teardown(key, r).finally(() => this.stopping.delete(t));
          this.stopping.add(t);
        }
      }
      for (const [key, pod] of want) {
        let r = this.running.get(key);
        if (!r) {
          const folder = this.images.get(pod.spec.containers[0].image);
          r = folder ? await this.bringUp(key, pod, folder) : { ns: '', ip: pod.status.podIP!, ready: false, since: Date.now() };
          this.running.set(key, r);
        }
        if (!r.ready && (!r.proc || (await this.healthy(r.ip)))) {
          await this.markReady(pod);
          r.ready = true;
          this.log.push(`ready ${key} after ${Date.now() - r.since} ms`);
        }
      }
    } catch (err) {
      this.log.push(`reconcile: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  /** The readiness probe: GET http://<podIP>:8080/_/health, an address inside a namespace this harness made. */
  private healthy(ip: string): Promise<boolean> {
    return new Promise((resolve) => {
      const req = httpGet({ host: ip, port: 8080, path: '/_/health', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  private async markReady(pod: PodInfo): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const body = {
      status: {
        conditions: [
          { type: 'Ready', status: 'True', reason: '', lastTransitionTime: now },
          { type: 'ContainersReady', status: 'True', reason: '', lastTransitionTime: now },
        ],
        containerStatuses: pod.spec.containers.map((c) => ({ name: c.name, ready: true })),
      },
    };
    const r = await this.api(
      'PATCH',
      `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`,
      body,
      'application/strategic-merge-patch+json',
    );
    if (r.status !== 200) throw new Error(`marking ${pod.metadata.name} ready: ${r.status} ${JSON.stringify(r.body)}`);
  }

  private async bringUp(key: string, pod: PodInfo, folder: string): Promise<PodRun> {
    const ip = pod.status.podIP!;
    const n = ++this.seq;
    const tag = `${process.pid.toString(36)}${n.toString(36)}`.slice(-8);
    const ns = `clpod-${tag}`;
    const host = `clh${tag}`;
    const peer = `clp${tag}`;
    const ip2 = (...args: string[]): Promise<unknown> => run('ip', args);
    await ip2('netns', 'add', ns);
    await ip2('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    await ip2('link', 'set', peer, 'netns', ns);
    await ip2('link', 'set', host, 'up');
    await ip2('route', 'replace', `${ip}/32`, 'dev', host, 'src', this.hostIp);
    await ip2('-n', ns, 'link', 'set', 'lo', 'up');
    await ip2('-n', ns, 'addr', 'add', `${ip}/32`, 'dev', peer);
    await ip2('-n', ns, 'link', 'set', peer, 'up');
    await ip2('-n', ns, 'route', 'add', `${this.hostIp}/32`, 'dev', peer);
    await ip2('-n', ns, 'route', 'add', 'default', 'via', this.hostIp, 'dev', peer);
    const podDir = join(this.dir, `pod-${tag}`);
    const secretsDir = join(podDir, 'secrets');
    await mkdir(join(podDir, 'tmp'), { recursive: true });
    await mkdir(secretsDir, { recursive: true });
    for (const v of pod.spec.volumes ?? []) {
      for (const src of v.projected?.sources ?? []) {
        if (!src.secret) continue;
        const s = await this.api<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${pod.metadata.namespace}/secrets/${src.secret.name}`);
        for (const [k, b64] of Object.entries(s.body.data ?? {})) await writeFile(join(secretsDir, k), Buffer.from(b64, 'base64'));
      }
    }
    const env: Record<string, string> = {};
    for (const e of pod.spec.containers[0].env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    // The container's log as a kubelet keeps it (CRI format: time, stream, tag, text), served by KWOK.
    const logFile = join(podDir, 'container.log');
    await writeFile(logFile, '');
    const container = pod.spec.containers[0].name;
    const logs = await this.api('POST', `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${pod.metadata.namespace}/logs`, {
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Logs',
      metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace },
      spec: { logs: [{ containers: [container], logsFile: logFile, follow: true }] },
    });
    if (logs.status !== 201) this.log.push(`Logs for ${key}: ${logs.status} ${JSON.stringify(logs.body)}`);
    const proc = start(`pod ${key}`, 'ip', ['netns', 'exec', ns, process.execPath, join(ROOT, 'bin/containerless.js'), 'watchdog', folder], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? homedir(),
        TMPDIR: join(podDir, 'tmp'),
        HOSTNAME: pod.metadata.name,
        ...env,
        secret_mount_path: secretsDir,
        port: '8080',
      },
    });
    for (const [stream, src] of [
      ['stdout', proc.child.stdout],
      ['stderr', proc.child.stderr],
    ] as const) {
      let rest = '';
      src?.on('data', (d: Buffer) => {
        const parts = (rest + d.toString()).split('\n');
        rest = parts.pop() ?? '';
        const now = new Date().toISOString();
        if (parts.length > 0) appendFileSync(logFile, parts.map((l) => `${now} ${stream} F ${l}\n`).join(''));
      });
    }
    this.log.push(`up ${key} in ${ns}`);
    return { ns, proc, ip, ready: false, since: Date.now() };
  }

  private async teardown(key: string, r: PodRun): Promise<void> {
    if (!r.proc) return;
    await r.proc.stop();
    if (!r.ready) this.log.push(`${key} never became ready; its output: ${r.proc.out().slice(-1500)}`);
    // Deleting the namespace deletes the veth pair, and the host's /32 route with it.
    await run('ip', ['netns', 'del', r.ns]).catch(() => undefined);
    this.log.push(`down ${key}`);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 50));
    await Promise.all([...this.stopping, ...[...this.running].map(([key, r]) => this.teardown(key, r))]);
    this.running.clear();
  }
}
