/**
 * Processes the watchdog's integration tests start on 127.0.0.1 and stop by PID: our watchdog (the real
 * CLI), the stock-style pair (stock/watchdog-standin.js in front of stock/template-server.cjs), and
 * nats-server with JetStream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachePath, freePort, sleep } from '../../../lib/index.ts';

export { freePort, sleep };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const STOCK = join(ROOT, 'test/integration/watchdog/stock');

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface Req {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** One HTTP request to 127.0.0.1:port, no agent (a fresh connection), the exact bytes back. */
export function send(port: number, r: Req, timeoutMs = 30_000): Promise<Answer> {
  return new Promise((res, rej) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (body && headers['content-length'] === undefined) headers['content-length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers, agent: false, timeout: timeoutMs }, (resp) => {
      const chunks: Buffer[] = [];
      resp.on('data', (c: Buffer) => chunks.push(c));
      resp.on('end', () => res({ status: resp.statusCode ?? 0, headers: resp.headers, body: Buffer.concat(chunks) }));
      resp.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from 127.0.0.1:${port}${r.path} within ${timeoutMs} ms`)));
    req.on('error', rej);
    req.end(body);
  });
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM by PID, SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startProcess(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }): Proc {
  const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  return {
    child,
    pid,
    output: () => out,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
        const t = setTimeout(() => {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }, graceMs);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}

export async function waitHealthy(port: number, proc: Proc, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const a = await send(port, { path: '/_/health' }, 1000);
      if (a.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(25);
  }
  throw new Error(`127.0.0.1:${port} did not become healthy${exited ? ' (the process exited)' : ''}:\n${proc.output()}`);
}

export interface Served {
  port: number;
  metricsPort: number;
  tmp: string;
  proc: Proc;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const BASE_ENV = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' });

/** `node bin/containerless.js watchdog <dir>`, the way the provider starts it. */
export async function startOurs(dir: string, env: Record<string, string> = {}, opts: { wait?: boolean } = {}): Promise<Served> {
  const port = await freePort();
  const metricsPort = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'cl-wd-'));
  const proc = startProcess(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', dir], {
    env: { ...BASE_ENV(), healthcheck_interval: '0', ...env, port: String(port), metrics_port: String(metricsPort), TMPDIR: tmp },
    cwd: dir,
  });
  if (opts.wait !== false) await waitHealthy(port, proc);
  return served(port, metricsPort, tmp, proc);
}

/** The stock-style pair: the of-watchdog stand-in forking the stock-style template server. */
export async function startStock(dir: string, env: Record<string, string> = {}): Promise<Served> {
  const port = await freePort();
  const upstream = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'cl-stock-'));
  const proc = startProcess(process.execPath, [join(STOCK, 'watchdog-standin.js')], {
    env: {
      ...BASE_ENV(),
      ...env,
      port: String(port),
      TMPDIR: tmp,
      http_port: String(upstream),
      upstream_url: `http://127.0.0.1:${upstream}`,
      fprocess: `${process.execPath} ${join(STOCK, 'template-server.cjs')}`,
      FUNCTION_DIR: dir,
    },
    cwd: dir,
  });
  await waitHealthy(port, proc);
  return served(port, 0, tmp, proc);
}

/** A started setup; stopping it removes its temporary folder. */
function served(port: number, metricsPort: number, tmp: string, proc: Proc): Served {
  return {
    port,
    metricsPort,
    tmp,
    proc,
    async stop() {
      const r = await proc.stop();
      rmSync(tmp, { recursive: true, force: true });
      return r;
    },
  };
}

/** nats-server from .ci/setup-nats.sh's cache, else PATH; a missing binary is an error that says what to run. */
export function findNatsServer(): string {
  const cached = cachePath(process.env, 'tools/bin/nats-server');
  if (existsSync(cached)) return cached;
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d, 'nats-server');
    if (d && existsSync(p)) return p;
  }
  throw new Error(`nats-server not found in ${dirname(cached)} or on PATH: run .ci/setup-nats.sh`);
}

export interface Nats {
  port: number;
  url: string;
  store: string;
  proc: Proc;
  stop(): Promise<void>;
  /** Starts it again on the same port and store (after stop). */
  start(): Promise<void>;
  /** Removes the store (after stop). */
  remove(): void;
}

async function waitTcp(port: number, proc: Proc, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`nats-server exited: ${proc.output()}`);
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`nats-server did not listen on ${port}: ${proc.output()}`);
}

/** nats-server with JetStream on a free loopback port (or `port`) and a temporary store. */
export async function startNats(port?: number): Promise<Nats> {
  const bin = findNatsServer();
  const p = port ?? (await freePort());
  const store = mkdtempSync(join(tmpdir(), 'cl-nats-'));
  const nats: Nats = {
    port: p,
    url: `nats://127.0.0.1:${p}`,
    store,
    proc: undefined as unknown as Proc,
    async stop() {
      await nats.proc.stop(5000);
    },
    async start() {
      nats.proc = startProcess(bin, ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', store], {});
      await waitTcp(p, nats.proc);
    },
    remove() {
      rmSync(store, { recursive: true, force: true });
    },
  };
  await nats.start();
  return nats;
}
