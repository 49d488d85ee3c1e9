/**
 * The local backend's answers to images it cannot run and to updates that cannot start, against the real
 * provider (`containerless up`) on 127.0.0.1 with real replica processes.
 */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, ROOT, removeDir, startProvider, waitFor, type ProviderProc } from './harness.ts';

interface HelloAnswer {
  pid: number;
  env: { custom: string | null };
}

describe('local backend: images it cannot run, updates that cannot start', function () {
  this.timeout(180_000);
  let p: ProviderProc;
  let broken: string;
  const hello = join(FIXTURES, 'hello');

  const api = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${p.url}${path}`, { ...init, headers: { authorization: p.auth, ...(init.headers as Record<string, string> | undefined) } });
  const json = (path: string, method: string, body: unknown): Promise<Response> =>
    api(path, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const fnStatus = async (name: string): Promise<Record<string, unknown>> => (await (await api(`/system/function/${name}`)).json()) as Record<string, unknown>;
  const ready = (name: string): Promise<unknown> =>
    waitFor(`${name} to have a ready replica`, async () => (((await fnStatus(name)).availableReplicas as number | undefined) ?? 0) > 0);
  const logs = async (name: string): Promise<string> => (await api(`/system/logs?name=${name}&follow=false`)).text();
  /** One invocation and how long it took. */
  const invoke = async (name: string): Promise<{ status: number; text: string; ms: number; internal: string | null }> => {
    const t = Date.now();
    const r = await fetch(`${p.url}/function/${name}`);
    return { status: r.status, text: await r.text(), ms: Date.now() - t, internal: r.headers.get('x-openfaas-internal') };
  };

  before(async () => {
    // cold_start_timeout far above what a prompt answer takes, so waiting for it shows.
    p = await startProvider({ cold_start_timeout: '20s', read_timeout: '5s' });
    broken = join(p.dir, 'broken');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, 'handler.js'), "'use strict'\nmodule.exports = async (event, context) => {\n");
    await writeFile(join(p.dir, 'a-file'), 'not a folder\n');
  });
  after(async () => {
    await p?.stop();
    if (p) await removeDir(p.dir);
  });

  describe('POST /system/functions with an image that is not a function folder', () => {
    const cases: [string, () => string, RegExp][] = [
      ['the root folder', () => '/', /^image: "\/" is not a function folder: it has no handler\.js/],
      ['/etc', () => '/etc', /^image: "\/etc" is not a function folder: it has no handler\.js/],
      ['a file', () => join(p.dir, 'a-file'), /^image: ".*\/a-file" is a file, not a function folder/],
      ['a handler.js itself', () => join(hello, 'handler.js'), /is a file, not a function folder/],
      [
        'a registry reference',
        () => 'ghcr.io/openfaas/figlet:latest',
        /^image: "ghcr\.io\/openfaas\/figlet:latest" looks like a container image; the local backend runs function folders/,
      ],
      ['a Docker Hub reference', () => 'functions/alpine:latest', /looks like a container image/],
      ['a folder that does not exist', () => join(FIXTURES, 'no-such-folder'), /^image: ".*no-such-folder": no such folder/],
      ['a folder of folders (no handler.js)', () => FIXTURES, /it has no handler\.js/],
    ];
    for (const [what, image, reason] of cases) {
      it(`answers 400 with the reason for ${what}, and deploys nothing`, async () => {
        const r = await json('/system/functions', 'POST', { service: 'bad-image', image: image() });
        const text = await r.text();
        expect(r.status, text).to.equal(400);
        expect(text).to.match(reason);
        expect(text).to.not.include('\n');
        expect((await api('/system/function/bad-image')).status).to.equal(404);
      });
    }
  });

  describe('invoking a function whose replicas keep failing to start', () => {
    it('answers 503 promptly, naming the failure, with the reason in the status and the logs', async () => {
      expect((await json('/system/functions', 'POST', { service: 'crashes', image: broken })).status).to.equal(202);
      const first = await invoke('crashes');
      expect(first.status, first.text).to.equal(503);
      expect(first.internal).to.equal('proxy');
      expect(first.text).to.match(/^No endpoints available for: crashes\.openfaas-fn\. /);
      expect(first.text).to.match(/cannot compile handler .*handler\.js:3/);
      expect(first.text).to.not.include('\n');
      expect(first.ms).to.be.below(10_000);
      const again = await invoke('crashes');
      expect(again.status).to.equal(503);
      expect(again.ms).to.be.below(1_000);
      const s = await fnStatus('crashes');
      expect(s.availableReplicas ?? 0).to.equal(0);
      expect(s.replicas).to.equal(1);
      expect(s.startFailure).to.match(/exited \(code 1\) before it was ready: .*cannot compile handler/);
      expect(await logs('crashes')).to.match(/cannot compile handler/);
    });
  });

  describe('PUT /system/functions with a version that cannot start', () => {
    let oldPid = 0;
    it('keeps the old version serving, with the reason in the status and the logs', async () => {
      expect((await json('/system/functions', 'POST', { service: 'svc', image: hello, envVars: { custom_env: 'v1' } })).status).to.equal(202);
      await ready('svc');
      const before = JSON.parse((await invoke('svc')).text) as HelloAnswer;
      oldPid = before.pid;
      expect((await json('/system/functions', 'PUT', { service: 'svc', image: broken })).status).to.equal(202);
      const failed = await waitFor('the new version to fail to start', async () => {
        const s = await fnStatus('svc');
        return typeof s.startFailure === 'string' ? s : undefined;
      });
      expect(failed.startFailure).to.match(/cannot compile handler/);
      expect(failed).to.include({ image: broken, replicas: 1, availableReplicas: 1 });
      // Several restarts of the new version later, the old one still answers every request at once.
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const r = await invoke('svc');
        expect(r.status, r.text).to.equal(200);
        expect(r.ms).to.be.below(5000);
        expect(JSON.parse(r.text)).to.deep.include({ pid: oldPid, env: { ...before.env, custom: 'v1' } });
      }
      const text = await logs('svc');
      expect(text).to.match(/cannot compile handler/);
      expect(text).to.match(/the previous version keeps serving/);
    });

    it('starts the old version again when its replica exits while the new one cannot start', async () => {
      // The replica was started by the provider this test started.
      process.kill(oldPid, 'SIGKILL');
      const after = await waitFor('an old-version replica to answer again', async () => {
        const r = await invoke('svc');
        if (r.status !== 200) return undefined;
        const b = JSON.parse(r.text) as HelloAnswer;
        return b.pid !== oldPid ? b : undefined;
      });
      expect(after.env.custom).to.equal('v1');
      expect((await fnStatus('svc')).image).to.equal(broken);
    });

    it('answers 400 to a PUT whose image is not a function folder, and changes nothing', async () => {
      const r = await json('/system/functions', 'PUT', { service: 'svc', image: '/etc' });
      expect(r.status).to.equal(400);
      expect(await r.text()).to.match(/^image: "\/etc" is not a function folder/);
      expect((await fnStatus('svc')).image).to.equal(broken);
    });

    it('rolls forward to a version that starts; the failure leaves the status', async () => {
      expect((await json('/system/functions', 'PUT', { service: 'svc', image: hello, envVars: { custom_env: 'v3' } })).status).to.equal(202);
      await waitFor('v3 to answer', async () => {
        const r = await invoke('svc');
        return r.status === 200 && (JSON.parse(r.text) as HelloAnswer).env.custom === 'v3';
      });
      const s = await fnStatus('svc');
      expect(s).to.include({ image: hello, replicas: 1, availableReplicas: 1 });
      expect(s).to.not.have.property('startFailure');
    });
  });

  describe('PUT /system/functions with a version slow to start', () => {
    it('sends every request to the old version until the new one is ready', async () => {
      expect((await json('/system/functions', 'PUT', { service: 'svc', image: join(FIXTURES, 'slow-start') })).status).to.equal(202);
      let old = 0;
      for (;;) {
        const r = await invoke('svc');
        expect(r.status, r.text).to.equal(200);
        expect(r.ms).to.be.below(1500);
        if (r.text === 'started') break;
        expect((JSON.parse(r.text) as HelloAnswer).env.custom).to.equal('v3');
        old++;
      }
      expect(old).to.be.greaterThan(0);
    });
  });

  describe('a provider restarted from another folder', () => {
    it('runs a function deployed by a relative image (stored absolute), and the old version of one whose update cannot start', async () => {
      const relativeImage = 'test/fixtures/provider/hello';
      expect((await json('/system/functions', 'POST', { service: 'rel', image: relativeImage })).status).to.equal(202);
      expect((await fnStatus('rel')).image).to.equal(join(ROOT, relativeImage));
      await ready('rel');
      expect((await json('/system/functions', 'POST', { service: 'keep', image: hello, envVars: { custom_env: 'kept' } })).status).to.equal(202);
      await ready('keep');
      expect((await json('/system/functions', 'PUT', { service: 'keep', image: broken })).status).to.equal(202);
      await waitFor('the update of keep to fail', async () => typeof (await fnStatus('keep')).startFailure === 'string');

      await p.stop();
      p = await startProvider({ cold_start_timeout: '20s' }, p.dir, { cwd: p.dir });
      await ready('rel');
      const r = await invoke('rel');
      expect(r.status, r.text).to.equal(200);
      await ready('keep');
      const k = await invoke('keep');
      expect(k.status, k.text).to.equal(200);
      expect((JSON.parse(k.text) as HelloAnswer).env.custom).to.equal('kept');
      const s = await waitFor('the restarted provider to try the update again', async () => {
        const x = await fnStatus('keep');
        return typeof x.startFailure === 'string' ? x : undefined;
      });
      expect(s).to.include({ image: broken, availableReplicas: 1 });
    });
  });
});
