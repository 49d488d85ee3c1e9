/**
 * Starts real processes on 127.0.0.1 for the provider tests: the provider (`node bin/containerless.js up`),
 * the OpenFaaS gateway and Prometheus. Every process is stopped by its own PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachePath, freePort, waitFor } from '../../../lib/index.ts';

export { freePort, waitFor };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURES = join(ROOT, 'test/fixtures/provider');

export interface Proc {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

function track(child: ChildProcess, name: string): Proc {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid!, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) {
          process.stderr.write(`${name} (pid ${child.pid}) did not stop on SIGTERM; SIGKILL\n`);
          process.kill(child.pid!, 'SIGKILL');
        }
      }, 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, () => s.close(() => res(true)));
  });
}

export interface ProviderProc extends Proc {
  url: string;
  dir: string;
  user: string;
  password: string;
  /** `Authorization` header value. */
  auth: string;
}

/** `containerless up` with basic auth from fresh secret files and a fresh state_dir; env overrides. It runs in
 *  the checkout's root unless `opts.cwd` names another working directory. */
export async function startProvider(env: Record<string, string> = {}, reuseDir?: string, opts: { cwd?: string } = {}): Promise<ProviderProc> {
  const dir = reuseDir ?? (await mkdtemp(join(tmpdir(), 'cl-provider-')));
  const secrets = join(dir, 'auth');
  await mkdir(secrets, { recursive: true });
  const user = 'admin';
  const password = 'pw-for-tests-only';
  await writeFile(join(secrets, 'basic-auth-user'), `${user}\n`);
  await writeFile(join(secrets, 'basic-auth-password'), `${password}\n`);
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'up'], {
    cwd: opts.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? homedir(),
      port: String(port),
      basic_auth: 'true',
      secret_mount_path: secrets,
      state_dir: join(dir, 'state'),
      scale_interval: '500ms',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child, 'provider');
  const url = await waitFor(
    'the provider to print its URL',
    async () => {
      if (child.exitCode !== null) throw new Error(`provider exited ${child.exitCode}: ${proc.output()}`);
      // The gateway line comes after the URL and the login lines.
      return /^gateway: /m.test(proc.output()) ? /^provider: (http:\S+)$/m.exec(proc.output())?.[1] : undefined;
    },
    30_000,
    50,
  );
  return { ...proc, url, dir, user, password, auth: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/**
 * Reads a streamed response body (a followed log) until its text includes `marker`; `read` resolves then
 * or when the stream ends, and `text()` is what came so far.
 */
export function readUntil(body: ReadableStream<Uint8Array>, marker: string): { read: Promise<void>; text: () => string } {
  const reader = body.getReader();
  let got = '';
  const read = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      got += Buffer.from(value).toString();
      if (got.includes(marker)) return;
    }
  })();
  return { read, text: () => got };
}

/** Rejects after `ms` with `message()`, for a race against something that may never come. */
export function timeout(ms: number, message: () => string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message())), ms));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export function toolPath(name: string): string {
  return cachePath(process.env, 'tools/bin', name);
}

/** The real OpenFaaS CE gateway (built by .ci/setup-gateway.sh). It always listens on :8080 and :8082. */
export async function startGateway(providerUrl: string, secretsDir: string, env: Record<string, string> = {}): Promise<Proc & { url: string }> {
  const bin = toolPath('gateway');
  if (!existsSync(bin)) throw new Error(`the OpenFaaS gateway is not installed at ${bin}; run bash .ci/setup-gateway.sh`);
  for (const p of [8080, 8082]) {
    if (!(await portIsFree(p))) throw new Error(`port ${p} is taken; the OpenFaaS gateway listens on 8080 and 8082 (hard-coded)`);
  }
  const cwd = await mkdtemp(join(tmpdir(), 'cl-gateway-'));
  const child = spawn(bin, [], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      functions_provider_url: `${providerUrl}/`,
      basic_auth: 'true',
      secret_mount_path: secretsDir,
      read_timeout: '15s',
      write_timeout: '15s',
      upstream_timeout: '14s',
      scale_from_zero: 'true',
      function_namespace: 'openfaas-fn',
      faas_prometheus_host: '127.0.0.1',
      faas_prometheus_port: String(await freePort()),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = track(child, 'gateway');
  const url = 'http://127.0.0.1:8080';
  await waitFor('the gateway to answer /healthz', async () => {
    if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${proc.output()}`);
    const r = await fetch(`${url}/healthz`);
    await r.arrayBuffer();
    return r.status === 200;
  });
  return {
    ...proc,
    url,
    stop: async () => {
      await proc.stop();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}

/** Debian's Prometheus (.ci/setup-prometheus.sh) scraping `targets` every second, on a free loopback port. */
export async function startPrometheus(targets: string[]): Promise<Proc & { url: string }> {
  const bin = existsSync('/usr/bin/prometheus') ? '/usr/bin/prometheus' : 'prometheus';
  const dir = await mkdtemp(join(tmpdir(), 'cl-prometheus-'));
  const port = await freePort();
  await writeFile(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: provider\n    scrape_interval: 1s\n    static_configs:\n      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]\n`,
  );
  const child = spawn(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.on('error', () => {});
  const proc = track(child, 'prometheus');
  const url = `http://127.0.0.1:${port}`;
  await waitFor('Prometheus to be ready', async () => {
    if (child.exitCode !== null || child.spawnfile === undefined) throw new Error(`prometheus exited ${child.exitCode}: ${proc.output()}`);
    const r = await fetch(`${url}/-/ready`);
    await r.arrayBuffer();
    return r.status === 200;
  });
  return {
    ...proc,
    url,
    stop: async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The promotion lifecycle's end-to-end tests (promotion*.test.ts)

/** An answer as the promotion tests compare it: status, content type and body. */
export interface Answer {
  status: number;
  type: string | null;
  body: string;
}

/** One request of a requests.jsonl file, as it goes on the wire (harness/requests.ts's toHttpRequest). */
export interface WireRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body?: Buffer;
}

/** Sends `r` to `<base><r.target>` (base e.g. `http://127.0.0.1:8080/function/login`). */
export async function send(base: string, r: WireRequest, extraHeaders: Record<string, string> = {}): Promise<Answer> {
  const headers = new Headers(extraHeaders);
  // fetch computes content-length from the body itself.
  for (const [k, v] of r.headers) if (k.toLowerCase() !== 'content-length') headers.set(k, v);
  const res = await fetch(`${base}${r.target}`, { method: r.method, headers, body: r.body === undefined ? undefined : new Uint8Array(r.body) });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

/** A metric's value in Prometheus text (0 when the series is absent); `labels` exactly as printed. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels);
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (want.every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

/** The examples' backend (examples/backend/server.js) on 127.0.0.1:7998, where the examples have it written
 *  in. It is stateless (every answer depends only on the request), so when another test process on this
 *  machine already serves it there, that one answers; this one keeps trying to take the port every 200 ms
 *  so that the port stays served when the other one closes. */
export async function examplesBackend(): Promise<{ close(): Promise<void> }> {
  // @ts-expect-error: the backend is plain JavaScript without types
  const { startBackend } = (await import('../../../examples/backend/server.js')) as {
    startBackend(o: { port: number }): Promise<{ close(): Promise<void> | void }>;
  };
  let own: { close(): Promise<void> | void } | undefined;
  let closed = false;
  const take = async (): Promise<void> => {
    try {
      own = await startBackend({ port: 7998 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  };
  await take();
  if (!own) {
    const body = await (await fetch('http://127.0.0.1:7998/status')).text();
    if (body !== '{"commit":{"sha":"1234567890"}}') throw new Error(`port 7998 is taken by something that is not the examples' backend (GET /status: ${body})`);
  }
  const timer = setInterval(() => {
    if (!own && !closed) void take();
  }, 200);
  return {
    close: async () => {
      closed = true;
      clearInterval(timer);
      await own?.close();
    },
  };
}

/** What `GET /system/containerless/function/{name}` answers (the fields the tests read). */
export interface PromotionStatus {
  promotion: 'on' | 'off' | 'opted-out';
  engine: 'node' | 'rust';
  phase: string;
  dispatcher: { version: string; instance: string } | null;
  trace: { requests: number; size: number; quiet: number };
  compile: { result: string; version: string; seconds: number; cached: boolean; diagnostics: string[] } | null;
  requests: { rust: number; node: number; fallback: number };
  fallbacks: Record<string, number>;
  cost: {
    node: { requests: number; cpuUsPerRequest?: number; p50Ms?: number };
    rust: { requests: number; cpuUsPerRequest?: number; p50Ms?: number };
    decision: string;
    phase: string;
  } | null;
  promotions: number;
  demotions: { reason: string; detail: string; version?: string }[];
}

/** The provider's API as the promotion tests use it (basic auth from `startProvider`). */
export class ProviderApi {
  constructor(readonly p: { url: string; auth: string }) {}

  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.p.url}${path}`, { ...init, headers: { authorization: this.p.auth, ...(init.headers as Record<string, string> | undefined) } });
  }

  /** POST (or PUT) /system/functions; throws unless 202. */
  async deploy(
    service: string,
    image: string,
    more: { labels?: Record<string, string>; envVars?: Record<string, string> } = {},
    method = 'POST',
  ): Promise<void> {
    const r = await this.api('/system/functions', {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ service, image, ...more }),
    });
    const text = await r.text();
    if (r.status !== 202) throw new Error(`${method} /system/functions ${service}: ${r.status} ${text}`);
  }

  async status(name: string): Promise<PromotionStatus> {
    const r = await this.api(`/system/containerless/function/${name}?namespace=openfaas-fn`);
    if (r.status !== 200) throw new Error(`status of ${name}: ${r.status} ${await r.text()}`);
    return (await r.json()) as PromotionStatus;
  }

  async metrics(): Promise<string> {
    return (await this.api('/metrics')).text();
  }

  /** `containerless_function_requests_total` of `name` by engine and fallback, from one /metrics read. */
  async served(name: string): Promise<{ rust: number; node: number; fallback: number }> {
    const text = await this.metrics();
    const v = (engine: string, fallback: string): number =>
      metricValue(text, 'containerless_function_requests_total', { function_name: `${name}.openfaas-fn`, engine, fallback });
    return { rust: v('rust', 'false'), node: v('node', 'false'), fallback: v('node', 'true') };
  }

  invokeUrl(name: string): string {
    return `${this.p.url}/function/${name}`;
  }
}
