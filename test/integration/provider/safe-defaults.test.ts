/**
 * The provider's safe defaults, against the real `containerless up` process: basic auth on with a generated
 * password, and no way for a web page (a cross-site form or text/plain POST, DNS rebinding) or a deployment's
 * env to run code on the machine; bounded request reads.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../../../lib/index.ts';
import { FIXTURES, ROOT, freePort, removeDir, waitFor, type Proc } from './harness.ts';

interface Up extends Proc {
  url: string;
}

/** `containerless up` with exactly this env (no basic-auth files unless the test writes them). */
async function up(env: Record<string, string>): Promise<Up> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'up'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? homedir(), port: String(await freePort()), scale_interval: '500ms', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = await waitFor('the provider to print its URL', async () => {
    if (child.exitCode !== null) throw new Error(`provider exited ${child.exitCode}: ${out}`);
    // The gateway line comes after the URL and the login lines.
    return /^gateway: /m.test(out) ? /^provider: (http:\S+)$/m.exec(out)?.[1] : undefined;
  });
  return {
    child,
    url,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/** One request with exactly these headers (fetch would not send a Host of our choosing). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('provider safe defaults', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cl-safe-'));
  });
  afterEach(async () => {
    await removeDir(dir);
  });

  /** The issue's attack: a deployment whose NODE_OPTIONS writes `marker` before the handler loads. */
  const attack = (marker: string): string =>
    JSON.stringify({
      service: 'z',
      image: join(ROOT, 'template/node-containerless/function'),
      envVars: { NODE_OPTIONS: `--import=data:text/javascript,import('fs').then(f=>f.writeFileSync(${JSON.stringify(marker)},'1'))` },
    });

  describe('basic auth on by default', () => {
    it('generates a password in the state folder, owner-only, prints how to log in, and keeps it across restarts', async () => {
      const state = join(dir, 'state');
      let p = await up({ state_dir: state });
      let first: string;
      try {
        const pw = join(state, 'auth', 'basic-auth-password');
        expect(p.output()).to.include(`auth: basic, user admin, password in ${pw}\n`);
        expect(p.output()).to.include('(generated now');
        expect(statSync(pw).mode & 0o777).to.equal(0o600);
        expect(statSync(join(state, 'auth')).mode & 0o777).to.equal(0o700);
        first = (await readFile(pw, 'utf8')).trim();
        expect(first).to.match(/^[A-Za-z0-9_-]{32}$/);
        const r = await fetch(`${p.url}/system/functions`);
        expect(r.status).to.equal(401);
        const ok = await fetch(`${p.url}/system/functions`, { headers: { authorization: `Basic ${Buffer.from(`admin:${first}`).toString('base64')}` } });
        expect(ok.status).to.equal(200);
      } finally {
        await p.stop();
      }
      p = await up({ state_dir: state });
      try {
        expect(p.output()).to.not.include('(generated now');
        expect((await readFile(join(state, 'auth', 'basic-auth-password'), 'utf8')).trim()).to.equal(first);
      } finally {
        await p.stop();
      }
    });

    it('prints a curl command that logs in, even when the password file has surrounding spaces', async () => {
      const secrets = join(dir, 'secrets');
      await mkdir(secrets);
      await writeFile(join(secrets, 'basic-auth-user'), 'admin\n');
      await writeFile(join(secrets, 'basic-auth-password'), '  s3cret-with-spaces-around \t\n');
      const p = await up({ state_dir: join(dir, 'state'), secret_mount_path: secrets });
      try {
        const line = /^ {2}(curl -u .*)$/m.exec(p.output())?.[1];
        expect(line, p.output()).to.be.a('string');
        const body = await new Promise<string>((resolve, reject) =>
          execFile('bash', ['-c', `${line} --silent --fail`], (err, stdout) => (err ? reject(new Error(`${line}: ${err.message}`)) : resolve(stdout))),
        );
        expect(JSON.parse(body)).to.deep.equal([]);
      } finally {
        await p.stop();
      }
    });

    it('refuses the attack without credentials and runs nothing', async () => {
      const marker = join(dir, 'pwned');
      const p = await up({ state_dir: join(dir, 'state') });
      try {
        const r = await raw(p.url, 'POST', '/system/functions', { 'content-type': 'application/json' }, attack(marker));
        expect(r.status).to.equal(401);
        await sleep(1500);
        expect(existsSync(marker)).to.equal(false);
      } finally {
        await p.stop();
      }
    });
  });

  describe('with basic_auth=false, each layer on its own', () => {
    let p: Up;
    let marker: string;
    beforeEach(async () => {
      marker = join(dir, 'pwned');
      p = await up({ state_dir: join(dir, 'state'), basic_auth: 'false' });
    });
    afterEach(async () => {
      await p.stop();
    });
    const deployed = async (): Promise<string[]> => ((await (await fetch(`${p.url}/system/functions`)).json()) as { name: string }[]).map((f) => f.name);

    it('says at start that anyone who can reach it can run code', () => {
      expect(p.output()).to.match(/^auth: none \(basic_auth=false\): anyone who can reach/m);
    });

    it('refuses the issue’s request and its variants, and runs nothing', async () => {
      const host = new URL(p.url).host;
      const cases: [string, Record<string, string>, number][] = [
        ['text/plain from a cross-site page', { 'content-type': 'text/plain', origin: 'http://evil.example' }, 403],
        ['text/plain without Origin', { 'content-type': 'text/plain' }, 415],
        ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 415],
        ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 415],
        ['no content type', {}, 415],
        ['JSON from a cross-site page', { 'content-type': 'application/json', origin: 'http://evil.example' }, 403],
        ['JSON through DNS rebinding', { 'content-type': 'application/json', host: `rebind.evil.example:${new URL(p.url).port}` }, 403],
        ['rebinding with its own Origin', { 'content-type': 'text/plain', host: 'rebind.evil.example', origin: 'http://rebind.evil.example' }, 403],
        ['JSON, same origin, but NODE_OPTIONS', { 'content-type': 'application/json', origin: `http://${host}` }, 400],
      ];
      for (const [what, headers, want] of cases) {
        const r = await raw(p.url, 'POST', '/system/functions', headers, attack(marker));
        expect(r.status, `${what}: ${r.text}`).to.equal(want);
        const put = await raw(p.url, 'PUT', '/system/functions', headers, attack(marker));
        expect(put.status, `PUT, ${what}: ${put.text}`).to.equal(want);
      }
      await sleep(1500);
      expect(existsSync(marker)).to.equal(false);
      expect(await deployed()).to.deep.equal([]);
    });

    it('deploys the same function from curl-like JSON with a harmless env', async () => {
      const body = JSON.stringify({ service: 'z', image: join(ROOT, 'template/node-containerless/function'), envVars: { GREETING: 'hi' } });
      const r = await raw(p.url, 'POST', '/system/functions', { 'content-type': 'application/json; charset=utf-8' }, body);
      expect(r.status, r.text).to.equal(202);
      expect(await deployed()).to.deep.equal(['z']);
    });
  });

  describe('smaller edges', () => {
    let p: Up;
    let own: string;
    const call = (path: string, method: string, body: unknown): Promise<Response> =>
      fetch(`${p.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    before(async () => {
      own = await mkdtemp(join(tmpdir(), 'cl-safe-'));
      p = await up({ state_dir: join(own, 'state'), basic_auth: 'false' });
      expect((await call('/system/functions', 'POST', { service: 'hello', image: join(FIXTURES, 'hello') })).status).to.equal(202);
      await waitFor(
        'hello to be ready',
        async () => ((await (await fetch(`${p.url}/system/function/hello`)).json()) as { availableReplicas?: number }).availableReplicas === 1,
      );
    });
    after(async () => {
      await p?.stop();
      await removeDir(own);
    });

    it('gets a function’s own 400 and 413 without a stack trace or a path of this machine', async () => {
      const bad = await fetch(`${p.url}/function/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"broken":' });
      const big = await fetch(`${p.url}/function/hello`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ x: 'y'.repeat(200 * 1024) }),
      });
      for (const [r, status] of [
        [bad, 400],
        [big, 413],
      ] as const) {
        expect(r.status).to.equal(status);
        const text = await r.text();
        expect(text).to.not.match(/\bat \S+ \(|node_modules|SyntaxError|PayloadTooLargeError/);
        expect(text).to.not.include(ROOT);
      }
    });
    it('refuses a scale request whose serviceName is another function', async () => {
      const r = await call('/system/scale-function/hello', 'POST', { serviceName: 'other', replicas: 3 });
      expect(r.status).to.equal(400);
      expect(await r.text()).to.include('serviceName');
      expect(((await (await fetch(`${p.url}/system/function/hello`)).json()) as { replicas: number }).replicas).to.equal(1);
    });
    it('refuses rawValue that is not padded base64, and a value that contradicts rawValue', async () => {
      expect((await call('/system/secrets', 'POST', { name: 's1', rawValue: 'abc' })).status).to.equal(400);
      expect((await call('/system/secrets', 'POST', { name: 's1', value: 'y', rawValue: 'eA==' })).status).to.equal(400);
      expect((await call('/system/secrets', 'POST', { name: 's1', rawValue: 'eA==' })).status).to.equal(202);
    });
    it('takes faas-cli --from-file’s pair (rawValue the file, value its trimmed text) and stores the bytes', async () => {
      const file = Buffer.from('  token\n');
      expect((await call('/system/secrets', 'POST', { name: 's2', rawValue: file.toString('base64'), value: 'token' })).status).to.equal(202);
      expect((await call('/system/secrets', 'PUT', { name: 's2', rawValue: file.toString('base64'), value: file.toString() })).status).to.equal(202);
      expect((await call('/system/functions', 'PUT', { service: 'hello', image: join(FIXTURES, 'hello'), secrets: ['s2'] })).status).to.equal(202);
      const seen = await waitFor('hello to see the secret', async () => {
        const r = await fetch(`${p.url}/function/hello`);
        const out = (await r.json()) as { secrets?: Record<string, string> };
        return out.secrets?.s2;
      });
      expect(seen).to.equal('  token\n');
    });
  });

  describe('bounded reads', () => {
    it('answers 408 to a body that never comes, and does not count it as load', async () => {
      const p = await up({ state_dir: join(dir, 'state'), basic_auth: 'false', read_timeout: '3s', scale_target: '1', scale_window: '2s' });
      const sockets: ReturnType<typeof connect>[] = [];
      try {
        const dep = await fetch(`${p.url}/system/functions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ service: 'hello', image: join(FIXTURES, 'hello') }),
        });
        expect(dep.status).to.equal(202);
        await waitFor(
          'hello to be ready',
          async () => ((await (await fetch(`${p.url}/system/function/hello`)).json()) as { availableReplicas?: number }).availableReplicas === 1,
        );
        const port = Number(new URL(p.url).port);
        const answers: Promise<{ head: string; ms: number }>[] = [];
        const began = Date.now();
        for (let i = 0; i < 10; i++) {
          const s = connect(port, '127.0.0.1');
          sockets.push(s);
          answers.push(
            new Promise((resolve) => {
              let got = '';
              s.on('data', (d: Buffer) => (got += d));
              s.on('close', () => resolve({ head: got.split('\r\n')[0], ms: Date.now() - began }));
              s.on('error', () => {});
              s.write('POST /function/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nab');
            }),
          );
        }
        await sleep(2000);
        const metrics = await (await fetch(`${p.url}/metrics`)).text();
        const inflight = /^gateway_function_invocation_inflight\{function_name="hello.openfaas-fn"\} (\d+)/m.exec(metrics)?.[1];
        expect(inflight ?? '0').to.equal('0');
        const status = (await (await fetch(`${p.url}/system/function/hello`)).json()) as { replicas: number };
        expect(status.replicas).to.equal(1);
        for (const a of await Promise.all(answers)) {
          expect(a.head).to.equal('HTTP/1.1 408 Request Timeout');
          expect(a.ms).to.be.below(8000);
        }
      } finally {
        for (const s of sockets) s.destroy();
        await p.stop();
      }
    });
  });
});
