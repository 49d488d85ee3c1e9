/**
 * `containerless up` as a process: what it prints, and SIGTERM stopping the provider and every replica
 * process it started (no orphan keeps a port).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT, removeDir, startProvider, waitFor } from './harness.ts';

/** Running (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Deploys `hello` with two replicas and waits until both answered; their pids. */
async function twoReplicas(p: Awaited<ReturnType<typeof startProvider>>): Promise<number[]> {
  const r = await fetch(`${p.url}/system/functions`, {
    method: 'POST',
    headers: { authorization: p.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'hello', image: join(FIXTURES, 'hello'), labels: { 'com.openfaas.scale.min': '2' } }),
  });
  expect(r.status).to.equal(202);
  const pids = new Set<number>();
  await waitFor('both replicas to answer', async () => {
    const b = (await (await fetch(`${p.url}/function/hello`)).json()) as { pid: number };
    pids.add(b.pid);
    return pids.size === 2;
  });
  return [...pids];
}

describe('containerless up', function () {
  this.timeout(60_000);

  it('prints the URL, how to authenticate and the gateway setting', async () => {
    const p = await startProvider();
    try {
      const out = p.output();
      expect(out).to.include(`provider: ${p.url}\n`);
      expect(out).to.match(/^auth: basic, user admin, password in .+\/basic-auth-password$/m);
      expect(out).to.include(`gateway: functions_provider_url=${p.url}/`);
      expect(out).to.match(/^local backend replicas: (containerless watchdog|in-process runner)/m);
    } finally {
      await p.stop();
      await removeDir(p.dir);
    }
  });

  it('exits 2 with every bad variable named', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/containerless.js'), 'up'], {
      env: { PATH: process.env.PATH ?? '', port: 'eighty', read_timeout: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).to.equal(2);
    expect(err).to.include('port="eighty"');
    expect(err).to.include('read_timeout="soon"');
  });

  it('on SIGTERM stops its replicas and exits', async () => {
    const p = await startProvider();
    try {
      const pids = await twoReplicas(p);
      for (const pid of pids) expect(alive(pid)).to.equal(true);
      const exited = new Promise<[number | null, string | null]>((res) => p.child.once('exit', (c, s) => res([c, s])));
      process.kill(p.child.pid!, 'SIGTERM');
      const [code, signal] = await exited;
      expect(signal).to.equal(null);
      expect(code).to.equal(0); // a clean stop on SIGTERM, as STYLE.md asks of servers
      expect(p.output()).to.include('provider stopped');
      for (const pid of pids) expect(alive(pid), `replica ${pid}`).to.equal(false);
    } finally {
      await p.stop();
      await removeDir(p.dir);
    }
  });

  describe('replica supervision', () => {
    const available = async (p: Awaited<ReturnType<typeof startProvider>>): Promise<number> =>
      ((await (await fetch(`${p.url}/system/function/hello`, { headers: { authorization: p.auth } })).json()) as { availableReplicas?: number })
        .availableReplicas ?? 0;

    it('takes a replica that stops answering /_/health out of the endpoints, and back when it answers', async () => {
      const p = await startProvider();
      try {
        const [frozen, other] = await twoReplicas(p);
        // A hung replica, caused for real: the process is stopped (SIGSTOP) and cannot answer anything.
        process.kill(frozen, 'SIGSTOP');
        try {
          await waitFor('the frozen replica to leave the endpoints', async () => (await available(p)) === 1, 20_000, 200);
          for (let i = 0; i < 6; i++) {
            const b = (await (await fetch(`${p.url}/function/hello`)).json()) as { pid: number };
            expect(b.pid).to.equal(other);
          }
        } finally {
          process.kill(frozen, 'SIGCONT');
        }
        await waitFor('the replica to be back', async () => (await available(p)) === 2, 20_000, 200);
        const logs = await (await fetch(`${p.url}/system/logs?name=hello&follow=false`, { headers: { authorization: p.auth } })).text();
        expect(logs).to.include('replica failed /_/health 3 times');
        expect(logs).to.include('replica passes /_/health again');
      } finally {
        await p.stop();
        await removeDir(p.dir);
      }
    });

    it('runner replicas of a provider killed with SIGKILL exit on their own', async () => {
      const p = await startProvider({ local_replica: 'runner' });
      try {
        const pids = await twoReplicas(p);
        process.kill(p.child.pid!, 'SIGKILL');
        await waitFor('orphaned replicas to exit', async () => pids.every((pid) => !alive(pid)), 10_000, 100);
      } finally {
        await p.stop();
        await removeDir(p.dir);
      }
    });

    it('a provider restarted after SIGKILL stops the replicas the killed one left (whatever the replica kind)', async () => {
      // SIGSTOP keeps the orphans from exiting on their own (runner replicas watch their parent), so only
      // the restarted provider can end them: SIGTERM cannot act on a stopped process, the SIGKILL after the
      // grace period does.
      let p = await startProvider();
      let pids: number[] = [];
      try {
        pids = await twoReplicas(p);
        for (const pid of pids) process.kill(pid, 'SIGSTOP');
        process.kill(p.child.pid!, 'SIGKILL');
        await new Promise((res) => p.child.once('exit', res));
        for (const pid of pids) expect(alive(pid)).to.equal(true);
        p = await startProvider({}, p.dir);
        await waitFor('the old replicas to be gone', async () => pids.every((pid) => !alive(pid)), 15_000, 100);
        expect(p.output()).to.match(/stopping replica pid \d+ left running by a previous provider/);
        // and the function runs again on new replicas
        const b = (await (await fetch(`${p.url}/function/hello`)).json()) as { pid: number };
        expect(pids).to.not.include(b.pid);
      } finally {
        // If the test failed before the restart ended them, the stopped replicas (ours) must not linger.
        for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
        await p.stop();
        await removeDir(p.dir);
      }
    });
  });
});
