/**
 * template/node-containerless: its files, the shape of its Dockerfile, and the whole road a user takes:
 * `faas-cli new --lang node-containerless`, `faas-cli build --shrinkwrap`, the Dockerfile's steps, and the
 * image's CMD serving the function with the bundled watchdog (containerless-watchdog.mjs) alone, compared
 * with the stock-style pair (stock/) and, for the trace trees it publishes to NATS, with the watchdog run
 * from this repository's sources.
 *
 * No Docker engine runs here, so the Dockerfile is performed by ../template/image.ts in a scratch folder
 * under the system's temporary folder, outside this repository: Node's module resolution from the bundle or
 * from the function can reach no node_modules of this repository (the test checks that), so everything the
 * watchdog needs must be inside the bundle.
 *
 * faas-cli: the real binary is used when it is in $CONTAINERLESS_CACHE/tools/bin or on PATH. It cannot be
 * installed on this workplace (the Go module proxy answers 403 for every faas-cli version), so otherwise the
 * test performs the steps faas-cli documents for these two commands (copy template/<lang>/function to ./<fn>,
 * write stack.yaml; copy template/<lang> to build/<fn> and overlay the handler folder onto
 * build/<fn>/function), and the test's title says so.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, posix } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import YAML from 'yaml';
import { cachePath } from '../../../lib/index.ts';
import { BUNDLE } from '../../../scripts/build-template.ts';
import { buildImage, envOf, nodeModulesAbove, parseDockerfile, shrinkwrap, startImage, type Image } from '../template/image.ts';
import { ROOT, send, sleep, startNats, startOurs, startStock, type Answer, type Nats, type Req, type Served } from './harness.ts';

const TEMPLATE = join(ROOT, 'template/node-containerless');
const BUNDLE_NAME = posix.basename(BUNDLE);

function findFaasCli(): string | undefined {
  const cached = cachePath(process.env, 'tools/bin/faas-cli');
  if (existsSync(cached)) return cached;
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, 'faas-cli'))) return join(d, 'faas-cli');
  return undefined;
}

const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-duration-seconds']);

function normalise(a: Answer): { status: number; headers: Record<string, unknown>; body: string } {
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a.headers)) if (!PER_CONNECTION.has(k)) headers[k] = v;
  return { status: a.status, headers, body: a.body.toString('base64') };
}

const JSON_H = { 'content-type': 'application/json' };

/** Requests for test/fixtures/watchdog/diff/handler.js, a user's handler: bodies, result types, failures. */
const CASES: Req[] = [
  { method: 'POST', path: '/echo?a=1&a=2&b=x', headers: JSON_H, body: '{"k":[1,2,{"z":null}],"s":"é"}' },
  { method: 'POST', path: '/type', headers: { 'content-type': 'text/plain' }, body: 'some text' },
  { method: 'POST', path: '/type', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a[b]=1&c=2&c=3' },
  { method: 'POST', path: '/type', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 255]) },
  { path: '/echo?q=search%20term&n=1' },
  { method: 'HEAD', path: '/string' },
  { path: '/status' },
  { path: '/headers-only' },
  { path: '/fail-object' },
  { path: '/throw-status' },
  { path: '/reject-string' },
  { path: '/number' },
  { path: '/null' },
  { path: '/array' },
  { path: '/buffer' },
  { path: '/succeed-later' },
  { path: '/nowhere/else' },
  { method: 'POST', path: '/body', headers: JSON_H, body: '{"broken":' },
  { method: 'POST', path: '/body', headers: JSON_H, body: JSON.stringify({ big: 'x'.repeat(150 * 1024) }) },
];

describe('template/node-containerless', function () {
  this.timeout(120_000);
  const templateYml = YAML.parse(readFileSync(join(TEMPLATE, 'template.yml'), 'utf8')) as Record<string, unknown>;
  const dockerfile = parseDockerfile(readFileSync(join(TEMPLATE, 'Dockerfile'), 'utf8'));
  const cmd = JSON.parse(dockerfile.find((i) => i.op === 'CMD')?.args ?? '[]') as string[];

  it('has a template.yml with language, fprocess (the image CMD) and a welcome message', () => {
    expect(templateYml.language).to.equal('node-containerless');
    expect(templateYml.fprocess).to.equal(cmd.join(' '));
    expect(String(templateYml.welcome_message)).to.match(/\S/);
    for (const k of Object.keys(templateYml)) expect(['language', 'fprocess', 'build_options', 'welcome_message', 'handler_folder', 'mount_ssh']).to.include(k);
  });

  it('has function/handler.js and function/package.json (main handler.js, a test script), and the bundled watchdog', () => {
    const pkg = JSON.parse(readFileSync(join(TEMPLATE, 'function/package.json'), 'utf8')) as { name: string; main: string; scripts: { test: string } };
    expect(pkg.main).to.equal('handler.js');
    expect(pkg.name).to.equal('openfaas-function');
    expect(pkg.scripts.test).to.be.a('string');
    expect(existsSync(join(TEMPLATE, 'function/handler.js'))).to.equal(true);
    expect(readFileSync(join(TEMPLATE, '.dockerignore'), 'utf8')).to.contain('*/node_modules');
    expect(existsSync(join(ROOT, BUNDLE)), BUNDLE).to.equal(true);
    expect(posix.dirname(BUNDLE)).to.equal('template/node-containerless');
  });

  describe('Dockerfile (shape)', () => {
    it('starts FROM a current LTS Node alpine image (even major >= 24)', () => {
      const from = dockerfile.filter((i) => i.op === 'FROM');
      expect(from).to.have.length(1);
      const m = /node:(\d+)-alpine\b/.exec(from[0].args);
      expect(m, from[0].args).to.not.equal(null);
      const major = Number(m![1]);
      expect(major % 2).to.equal(0);
      expect(major).to.be.greaterThanOrEqual(24);
    });

    it("copies the bundled watchdog, root-owned, and runs it with the base image's node on the function folder", () => {
      const copies = dockerfile.filter((i) => i.op === 'COPY' && i.args.split(/\s+/).includes(BUNDLE_NAME));
      expect(copies, `one COPY of ${BUNDLE_NAME}`).to.have.length(1);
      expect(copies[0].args).to.not.contain('--chown');
      const dest = copies[0].args.split(/\s+/).pop()!;
      expect(dest.startsWith('/')).to.equal(true);
      expect(cmd).to.deep.equal(['node', dest, '/home/app/function']);
      expect(dockerfile.some((i) => i.op === 'ENTRYPOINT')).to.equal(false);
    });

    it("installs nothing of ours from a registry or the network: the only npm steps are the function's own", () => {
      for (const i of dockerfile.filter((x) => x.op === 'RUN' || x.op === 'ARG')) {
        expect(i.args, `Dockerfile:${i.line}`).to.not.match(
          /npm (install|i|add)\s+(-g|--global)|npx |containerless-openfaas|CONTAINERLESS_PACKAGE|(curl|wget)\s[^&]*:\/\/|git clone/,
        );
      }
      const npm = dockerfile.filter((i) => i.op === 'RUN' && /\bnpm\b/.test(i.args)).map((i) => i.args);
      expect(npm).to.deep.equal(['npm i', 'npm test']);
      const workdirBefore = dockerfile
        .slice(
          0,
          dockerfile.findIndex((i) => i.args === 'npm i'),
        )
        .filter((i) => i.op === 'WORKDIR')
        .pop();
      expect(workdirBefore?.args).to.equal('/home/app/function');
    });

    it('runs as a non-root user from before the function is copied to the end', () => {
      const users = dockerfile.filter((i) => i.op === 'USER');
      expect(users.map((u) => u.args)).to.deep.equal(['app']);
      const userAt = dockerfile.indexOf(users[0]);
      const firstFunctionCopy = dockerfile.findIndex((i) => i.op === 'COPY' && /function\//.test(i.args));
      expect(userAt).to.be.lessThan(firstFunctionCopy);
      expect(dockerfile.some((i) => i.op === 'RUN' && /adduser -S -g app app/.test(i.args))).to.equal(true);
      expect(dockerfile.some((i) => i.op === 'RUN' && /chmod 777 \/tmp/.test(i.args))).to.equal(true);
    });

    it("copies the function folder with the app user's ownership, installs its packages and runs its tests", () => {
      const copies = dockerfile.filter((i) => i.op === 'COPY' && /\bfunction\//.test(i.args));
      expect(copies.map((c) => c.args)).to.deep.equal(['--chown=app:app function/*.json ./', '--chown=app:app function/ ./']);
      const runs = dockerfile.filter((i) => i.op === 'RUN').map((i) => i.args);
      expect(runs).to.include('npm i');
      expect(runs).to.include('npm test');
    });

    it('has a HEALTHCHECK on the lock file the watchdog writes', () => {
      const hc = dockerfile.filter((i) => i.op === 'HEALTHCHECK');
      expect(hc).to.have.length(1);
      expect(hc[0].args).to.match(/--interval=3s CMD \[ -e \/tmp\/\.lock \] \|\| exit 1/);
    });

    it("sets the stock node template's environment defaults, and fprocess as template.yml does", () => {
      const env = envOf(dockerfile);
      expect(env).to.include({
        exec_timeout: '10s',
        write_timeout: '15s',
        read_timeout: '15s',
        prefix_logs: 'false',
        cgi_headers: 'true',
        NPM_CONFIG_LOGLEVEL: 'warn',
      });
      expect(env.fprocess).to.equal(templateYml.fprocess);
      expect(env.nats_url).to.match(/^nats:\/\//);
    });
  });

  describe('faas-cli new and build --shrinkwrap, then the Dockerfile, then the image', () => {
    const faasCli = findFaasCli();
    const how = faasCli ? `real faas-cli (${faasCli})` : "faas-cli's documented steps (faas-cli itself cannot be installed here)";
    let work: string;
    const images: Record<string, Image> = {};
    before(() => {
      work = mkdtempSync(join(tmpdir(), 'cl-template-'));
      cpSync(TEMPLATE, join(work, 'template/node-containerless'), { recursive: true });
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    it(`creates two functions from the template and their build folders with ${how}`, () => {
      const fns = ['hello-cl', 'diff-cl'];
      if (faasCli) {
        for (const fn of fns) {
          const n = spawnSync(faasCli, ['new', fn, '--lang', 'node-containerless', '--append', 'stack.yaml', '-q'], { cwd: work, encoding: 'utf8' });
          expect(n.status, n.stderr).to.equal(0);
        }
      } else {
        // faas-cli new: copy the handler skeleton and write stack.yaml.
        const functions: Record<string, unknown> = {};
        for (const fn of fns) {
          cpSync(join(work, 'template/node-containerless/function'), join(work, fn), { recursive: true });
          functions[fn] = { lang: 'node-containerless', handler: `./${fn}`, image: `${fn}:latest` };
        }
        writeFileSync(
          join(work, 'stack.yaml'),
          YAML.stringify({ version: '1.0', provider: { name: 'openfaas', gateway: 'http://127.0.0.1:8080' }, functions }),
        );
      }
      // The user writes diff-cl's handler: the watchdog differential test's handler.
      cpSync(join(ROOT, 'test/fixtures/watchdog/diff/handler.js'), join(work, 'diff-cl/handler.js'));
      if (faasCli) {
        const b = spawnSync(faasCli, ['build', '--shrinkwrap', '-f', 'stack.yaml'], { cwd: work, encoding: 'utf8' });
        expect(b.status, b.stderr).to.equal(0);
      } else {
        // faas-cli build --shrinkwrap: build/<fn> = template/<lang> with the handler overlaid on function/.
        const stack = YAML.parse(readFileSync(join(work, 'stack.yaml'), 'utf8')) as { functions: Record<string, { lang: string; handler: string }> };
        for (const [name, fn] of Object.entries(stack.functions))
          shrinkwrap(join(work, 'template', fn.lang), join(work, fn.handler), join(work, 'build', name));
      }
      const stack = YAML.parse(readFileSync(join(work, 'stack.yaml'), 'utf8')) as { functions: Record<string, { lang: string }> };
      for (const fn of fns) {
        expect(stack.functions[fn].lang).to.equal('node-containerless');
        for (const f of ['Dockerfile', 'template.yml', BUNDLE_NAME, 'function/handler.js', 'function/package.json'])
          expect(existsSync(join(work, 'build', fn, f)), `${fn}/${f}`).to.equal(true);
      }
    });

    it("performs the Dockerfile in a scratch root outside this repository: the watchdog root-owned, the function the app user's, its npm steps offline", () => {
      for (const fn of ['hello-cl', 'diff-cl']) {
        const root = join(work, 'images', fn);
        mkdirSync(root, { recursive: true });
        const image = buildImage(join(work, 'build', fn), root);
        images[fn] = image;
        expect(image.root.startsWith(ROOT)).to.equal(false);
        expect(image.from).to.match(/^node:\d+-alpine$/);
        expect(image.user).to.equal('app');
        expect(image.workdir).to.equal('/home/app');
        const bundle = image.cmd[1];
        expect(readFileSync(image.path(bundle), 'utf8') === readFileSync(join(ROOT, BUNDLE), 'utf8'), 'the image holds the template bundle').to.equal(true);
        expect(image.owners.get(bundle)).to.equal('root');
        expect(image.owners.get('/home/app/function/handler.js')).to.equal('app');
        expect(image.owners.get('/home/app/function/package.json')).to.equal('app');
        expect(image.ran).to.deep.equal([
          { command: 'npm i', cwd: '/home/app/function' },
          { command: 'npm test', cwd: '/home/app/function' },
        ]);
        expect(image.skipped.map((s) => s.split(':')[0])).to.deep.equal([
          'apk --no-cache add curl ca-certificates',
          'addgroup -S app',
          'adduser -S -g app app',
          'chmod 777 /tmp',
        ]);
        // Nothing but the function's own folder holds node_modules where Node could look from the image.
        expect(nodeModulesAbove(dirname(image.path(bundle)))).to.deep.equal([]);
        expect(nodeModulesAbove(image.path('/home/app/function')).filter((d) => !d.startsWith(image.path('/home/app/function')))).to.deep.equal([]);
      }
    });

    it('serves the created function with the bundled watchdog alone, answering as the stock pair, with the lock file of the HEALTHCHECK', async () => {
      const image = images['hello-cl'];
      expect(image, 'the image step ran').to.not.equal(undefined);
      const fn = image.path('/home/app/function');
      const [ours, stock] = await Promise.all([startImage(image, { nats_url: '', healthcheck_interval: '0' }), startStock(fn)]);
      try {
        expect(existsSync(image.path('/tmp/.lock')), 'the HEALTHCHECK file /tmp/.lock').to.equal(true);
        for (const req of [
          { method: 'POST', path: '/', headers: JSON_H, body: '{"a":1}' },
          { path: '/?x=1' },
          { method: 'PUT', path: '/p', headers: { 'content-type': 'text/plain' }, body: 'hi' },
        ]) {
          const [a, b] = await Promise.all([send(ours.port, req), send(stock.port, req)]);
          expect(normalise(a), `${req.method ?? 'GET'} ${req.path}`).to.deep.equal(normalise(b));
        }
        const a = await send(ours.port, { method: 'POST', path: '/', headers: JSON_H, body: '{"a":1}' });
        expect(JSON.parse(a.body.toString())).to.deep.equal({ body: '{"a":1}', 'content-type': 'application/json' });
        expect(ours.proc.output()).to.contain('Watchdog mode: containerless');
      } finally {
        const [exit] = await Promise.all([ours.stop(), stock.stop()]);
        expect(exit.code, ours.proc.output()).to.equal(0);
      }
      expect(existsSync(image.path('/tmp/.lock')), 'the lock file is gone after SIGTERM').to.equal(false);
    });

    it("serves a user's handler from the image as the stock pair does: bodies, result types, failures, parser errors", async () => {
      const image = images['diff-cl'];
      expect(image, 'the image step ran').to.not.equal(undefined);
      // NODE_ENV=production on both sides, as in the differential test: unset (as in the image), Express's
      // error pages (the 400 of a malformed body) show the stack trace, whose file names differ between
      // any two servers.
      const [ours, stock] = await Promise.all([
        startImage(image, { nats_url: '', healthcheck_interval: '0', NODE_ENV: 'production' }),
        startStock(image.path('/home/app/function')),
      ]);
      try {
        for (const req of CASES) {
          const [a, b] = await Promise.all([send(ours.port, req), send(stock.port, req)]);
          expect(
            normalise(a),
            `${req.method ?? 'GET'} ${req.path}: ours ${JSON.stringify(a.body.toString().slice(0, 200))} vs stock ${JSON.stringify(b.body.toString().slice(0, 200))}`,
          ).to.deep.equal(normalise(b));
          expect(a.headers['x-duration-seconds'], `${req.path}: X-Duration-Seconds`).to.match(/^\d+\.\d{6}$/);
        }
      } finally {
        await Promise.all([ours.stop(), stock.stop()]);
      }
    });

    describe('tracing to NATS from the image (nats-server from .ci/setup-nats.sh)', () => {
      let nats: Nats | undefined;
      let nc: NatsConnection | undefined;
      const served: Served[] = [];
      after(async () => {
        await Promise.all(served.map((s) => s.stop()));
        await nc?.close().catch(() => {});
        await nats?.stop();
        nats?.remove();
      });

      it("publishes the same trace tree from the bundle as the watchdog run from this repository's sources", async () => {
        const image = images['diff-cl'];
        expect(image, 'the image step ran').to.not.equal(undefined);
        nats = await startNats();
        const trace = { nats_url: nats.url, OPENFAAS_NAME: 'diff-cl', trace_mode: 'always', trace_publish_interval: '0', healthcheck_interval: '0' };
        const bundled = await startImage(image, { ...trace, OPENFAAS_NAMESPACE: 'bundle' });
        served.push(bundled);
        const source = await startOurs(image.path('/home/app/function'), { ...trace, OPENFAAS_NAMESPACE: 'source' });
        served.push(source);
        const reqs: Req[] = [
          { method: 'POST', path: '/echo?a=1', headers: JSON_H, body: '{"k":[1,2]}' },
          { path: '/status' },
          { path: '/array' },
          { path: '/fail-object' },
          { method: 'POST', path: '/type', headers: { 'content-type': 'text/plain' }, body: 'txt' },
        ];
        for (const r of reqs) {
          const [a, b] = await Promise.all([send(bundled.port, r), send(source.port, r)]);
          expect(normalise(a), r.path).to.deep.equal(normalise(b));
        }
        nc = await connect({ servers: nats.url });
        const jsm = await jetstreamManager(nc);
        const last = async (ns: string): Promise<Record<string, unknown> | undefined> => {
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline) {
            try {
              const m = await jsm.streams.getMessage('CONTAINERLESS_TRACES', { last_by_subj: `containerless.traces.${ns}.diff-cl` });
              const t = m?.json<Record<string, unknown>>();
              if (t && t.requests === reqs.length) return t;
            } catch {
              // not published yet
            }
            await sleep(50);
          }
          return undefined;
        };
        const [fromBundle, fromSource] = await Promise.all([last('bundle'), last('source')]);
        expect(fromBundle, `no tree of ${reqs.length} requests from the bundle:\n${bundled.proc.output()}`).to.not.equal(undefined);
        expect(fromSource, 'no tree from the source watchdog').to.not.equal(undefined);
        expect(fromBundle).to.deep.equal(fromSource);
      });
    });
  });
});
