/**
 * `containerless watchdog <dir>` as a process, as the provider and a container start it: health and ready,
 * the lock file, SIGTERM drain and exit status, metrics, configuration errors, several watchdogs on one host.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, send, sleep, startOurs, startProcess, waitHealthy, type Served } from './harness.ts';

const FN = join(ROOT, 'test/fixtures/watchdog/diff');

describe('containerless watchdog', function () {
  this.timeout(120_000);

  it('prints its help and exits 0 with --help', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', '--help'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^Usage: containerless watchdog <function-dir>/);
  });

  it('exits 1 naming every bad variable', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', FN], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, port: 'eighty', write_timeout: '0', max_inflight: '-1', trace_sample: '2', exec_timeout: 'soon' },
      timeout: 30_000,
    });
    expect(r.status).to.equal(1);
    for (const v of ['port=', 'write_timeout must be over 0s', 'max_inflight=', 'trace_sample=', 'exec_timeout=']) expect(r.stderr).to.contain(v);
  });

  it('exits 1 for a folder without a handler', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', join(ROOT, 'test/fixtures/watchdog')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, port: '0', metrics_port: '0' },
      timeout: 30_000,
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/cannot read handler .*handler\.js/);
  });

  describe('health, ready, lock, metrics', () => {
    let w: Served;
    before(async () => {
      w = await startOurs(FN, { max_inflight: '2', OPENFAAS_NAME: 'diff' });
    });
    after(async () => {
      await w?.stop();
    });

    it('answers 200 OK on /_/health and /_/ready once listening, with the lock file in $TMPDIR', async () => {
      const h = await send(w.port, { path: '/_/health' });
      expect([h.status, h.body.toString()]).to.deep.equal([200, 'OK']);
      const r = await send(w.port, { path: '/_/ready' });
      expect([r.status, r.body.toString()]).to.deep.equal([200, '']);
      expect(existsSync(join(w.tmp, '.lock'))).to.equal(true);
    });

    it('answers 405 to other methods on /_/health and /_/ready', async () => {
      expect((await send(w.port, { method: 'POST', path: '/_/health' })).status).to.equal(405);
      expect((await send(w.port, { method: 'PUT', path: '/_/ready' })).status).to.equal(405);
    });

    it("exposes of-watchdog's metrics and the tracing metrics on metrics_port", async () => {
      await send(w.port, { path: '/string' });
      await send(w.port, { method: 'POST', path: '/fail' });
      const m = (await send(w.metricsPort, { path: '/metrics' })).body.toString();
      expect(m).to.match(/^http_requests_total\{code="200",method="get"\} [1-9]/m);
      expect(m).to.match(/^http_requests_total\{code="500",method="post"\} 1$/m);
      expect(m).to.match(/^http_request_duration_seconds_bucket\{le="0.005",code="200",method="get"\} /m);
      expect(m).to.match(/^http_requests_in_flight 0$/m);
      expect(m).to.match(/^containerless_traced_requests_total [1-9]/m);
      expect(m).to.match(/^containerless_tracing_enabled 1$/m);
      expect(m).to.match(/^containerless_trace_dropped_total 0$/m);
      expect(m).to.not.match(/_\/health/);
      expect((await send(w.metricsPort, { path: '/other' })).status).to.equal(404);
    });

    it('fails health with 503 when the lock file is removed, as of-watchdog checks it on every probe', async () => {
      const { rmSync, writeFileSync } = await import('node:fs');
      rmSync(join(w.tmp, '.lock'));
      try {
        expect((await send(w.port, { path: '/_/health' })).status).to.equal(503);
        expect((await send(w.port, { path: '/_/ready' })).status).to.equal(503);
      } finally {
        writeFileSync(join(w.tmp, '.lock'), '');
      }
      expect((await send(w.port, { path: '/_/health' })).status).to.equal(200);
    });
  });

  it('answers /_/ready with the handler at ready_path', async () => {
    const w = await startOurs(FN, { ready_path: '/nowhere' });
    try {
      const r = await send(w.port, { path: '/_/ready' });
      expect([r.status, r.body.toString()]).to.deep.equal([404, 'no route /nowhere']);
    } finally {
      await w.stop();
    }
  });

  it('with suppress_lock writes no lock file and still answers health (unlike the stock 503, on purpose)', async () => {
    const w = await startOurs(FN, { suppress_lock: 'true' });
    try {
      expect(existsSync(join(w.tmp, '.lock'))).to.equal(false);
      expect((await send(w.port, { path: '/_/health' })).status).to.equal(200);
    } finally {
      await w.stop();
    }
  });

  it('runs two watchdogs on one host side by side (own port, metrics port and TMPDIR)', async () => {
    const [a, b] = await Promise.all([startOurs(FN), startOurs(FN)]);
    try {
      for (const w of [a, b]) {
        expect((await send(w.port, { path: '/string' })).body.toString()).to.equal('hello, world');
        expect(existsSync(join(w.tmp, '.lock'))).to.equal(true);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('keeps a watchdog healthy when another one sharing its TMPDIR stops', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cl-wd-shared-'));
    const started: ReturnType<typeof startProcess>[] = [];
    const start = async (): Promise<{ port: number; proc: ReturnType<typeof startProcess> }> => {
      const port = await freePort();
      const proc = startProcess(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', FN], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          healthcheck_interval: '0',
          port: String(port),
          metrics_port: String(await freePort()),
          TMPDIR: tmp,
        },
        cwd: FN,
      });
      started.push(proc);
      await waitHealthy(port, proc);
      return { port, proc };
    };
    try {
      const a = await start();
      const b = await start();
      // The first to start stops first, then the other way round: either way the one left stays healthy.
      await a.proc.stop();
      expect((await send(b.port, { path: '/_/health' })).status).to.equal(200);
      const c = await start();
      await b.proc.stop();
      expect((await send(c.port, { path: '/_/health' })).status).to.equal(200);
      expect(existsSync(join(tmp, '.lock'))).to.equal(true);
      await c.proc.stop();
      expect(existsSync(join(tmp, '.lock'))).to.equal(false);
    } finally {
      for (const p of started) await p.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('exits 1 when its port is taken', async () => {
    const w = await startOurs(FN);
    try {
      const metrics = await freePort();
      const p = startProcess(process.execPath, [join(ROOT, 'bin/containerless.js'), 'watchdog', FN], {
        env: { PATH: process.env.PATH, port: String(w.port), metrics_port: String(metrics) },
      });
      const r = await p.exited;
      expect(r.code).to.equal(1);
      expect(p.output()).to.match(/cannot listen on port/);
    } finally {
      await w.stop();
    }
  });

  it('on SIGTERM fails health at once, keeps serving for healthcheck_interval, drains a request in flight and exits 0', async () => {
    const w = await startOurs(FN, { healthcheck_interval: '1s', write_timeout: '10s', exec_timeout: '10s' });
    const slow = send(w.port, { path: '/slow?ms=1800' });
    await sleep(100);
    const t0 = Date.now();
    process.kill(w.proc.pid, 'SIGTERM');
    await sleep(150);
    expect((await send(w.port, { path: '/_/health' })).status).to.equal(503);
    expect((await send(w.port, { path: '/_/ready' })).status).to.equal(503);
    expect(existsSync(join(w.tmp, '.lock'))).to.equal(false);
    // Within healthcheck_interval new requests are still served.
    expect((await send(w.port, { path: '/string' })).status).to.equal(200);
    const answer = await slow;
    expect([answer.status, answer.body.toString()]).to.deep.equal([200, 'slow done after 1800']);
    const exit = await w.proc.exited;
    expect(exit).to.deep.equal({ code: 0, signal: null });
    expect(Date.now() - t0).to.be.greaterThan(1000);
    expect(w.proc.output()).to.contain('SIGTERM: no new connections in 1000ms');
    await w.stop();
  });

  it('closes a connection whose response is not finished by write_timeout', async () => {
    const w = await startOurs(FN, { write_timeout: '500ms', exec_timeout: '0' });
    try {
      let error: Error | undefined;
      const t0 = Date.now();
      try {
        await send(w.port, { path: '/slow?ms=3000' });
      } catch (err) {
        error = err as Error;
      }
      expect(error, 'the request should fail').to.be.instanceOf(Error);
      expect(Date.now() - t0).to.be.lessThan(2500);
    } finally {
      await w.stop();
    }
  });

  it("with prefix_logs=true prefixes the handler's output lines", async () => {
    const w = await startOurs(join(ROOT, 'test/fixtures/watchdog/logs'), { prefix_logs: 'true' });
    try {
      await send(w.port, { path: '/x' });
      await sleep(100);
      expect(w.proc.output()).to.match(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d stdout: handled GET \/x$/m);
      expect(w.proc.output()).to.match(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d stderr: to stderr$/m);
    } finally {
      await w.stop();
    }
    const raw = await startOurs(join(ROOT, 'test/fixtures/watchdog/logs'));
    try {
      await send(raw.port, { path: '/y' });
      await sleep(100);
      expect(raw.proc.output()).to.match(/^handled GET \/y$/m);
    } finally {
      await raw.stop();
    }
  });
});
