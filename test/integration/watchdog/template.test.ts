/**
 * template/node-containerless: its files, the shape of its Dockerfile (no image can be built here: there is
 * no Docker engine), and the faas-cli chain `faas-cli new --lang node-containerless` then `faas-cli build
 * --shrinkwrap`, whose build folder the watchdog must serve.
 *
 * faas-cli: the real binary is used when it is in $CONTAINERLESS_CACHE/tools/bin or on PATH. It cannot be
 * installed on this workplace (the Go module proxy answers 403 for every faas-cli version), so otherwise the
 * test performs the steps faas-cli documents for these two commands (shared/reference/openfaas-contract.md
 * section 5: copy template/<lang>/function to ./<fn>, write stack.yaml; copy template/<lang> to build/<fn>
 * and overlay the handler folder onto build/<fn>/function), and the test's title says so.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import YAML from 'yaml';
import { ROOT, send, startOurs, startStock } from './harness.ts';

const TEMPLATE = join(ROOT, 'template/node-containerless');

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile instructions: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    out.push({ op: m[1].toUpperCase(), args: m[2], line: start });
  });
  return out;
}

/** ENV a="b" c="d" (and ENV a=b) as a map. */
function envOf(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|(\S*))/g)) env[m[1]] = m[3] ?? m[4];
  }
  return env;
}

function findFaasCli(): string | undefined {
  const cached = join(process.env.CONTAINERLESS_CACHE || join(homedir(), '.cache/containerless'), 'tools/bin/faas-cli');
  if (existsSync(cached)) return cached;
  for (const d of (process.env.PATH ?? '').split(delimiter)) if (d && existsSync(join(d, 'faas-cli'))) return join(d, 'faas-cli');
  return undefined;
}

describe('template/node-containerless', function () {
  this.timeout(120_000);
  const templateYml = YAML.parse(readFileSync(join(TEMPLATE, 'template.yml'), 'utf8')) as Record<string, unknown>;
  const dockerfile = parseDockerfile(readFileSync(join(TEMPLATE, 'Dockerfile'), 'utf8'));

  it('has a template.yml with language, fprocess and a welcome message', () => {
    expect(templateYml.language).to.equal('node-containerless');
    expect(templateYml.fprocess).to.equal('containerless watchdog /home/app/function');
    expect(String(templateYml.welcome_message)).to.match(/\S/);
    for (const k of Object.keys(templateYml)) expect(['language', 'fprocess', 'build_options', 'welcome_message', 'handler_folder', 'mount_ssh']).to.include(k);
  });

  it('has function/handler.js and function/package.json (main handler.js, a test script)', () => {
    const pkg = JSON.parse(readFileSync(join(TEMPLATE, 'function/package.json'), 'utf8')) as { name: string; main: string; scripts: { test: string } };
    expect(pkg.main).to.equal('handler.js');
    expect(pkg.name).to.equal('openfaas-function');
    expect(pkg.scripts.test).to.be.a('string');
    expect(existsSync(join(TEMPLATE, 'function/handler.js'))).to.equal(true);
    expect(readFileSync(join(TEMPLATE, '.dockerignore'), 'utf8')).to.contain('*/node_modules');
  });

  describe('Dockerfile (shape only: no Docker engine here to build it)', () => {
    it('starts FROM a current LTS Node alpine image (even major >= 24)', () => {
      const from = dockerfile.filter((i) => i.op === 'FROM');
      expect(from).to.have.length(1);
      const m = /node:(\d+)-alpine\b/.exec(from[0].args);
      expect(m, from[0].args).to.not.equal(null);
      const major = Number(m![1]);
      expect(major % 2).to.equal(0);
      expect(major).to.be.greaterThanOrEqual(24);
    });

    it('installs the watchdog and runs it as the entrypoint on the function folder', () => {
      expect(dockerfile.some((i) => i.op === 'RUN' && /npm install --global .*CONTAINERLESS_PACKAGE/.test(i.args))).to.equal(true);
      const cmd = dockerfile.filter((i) => i.op === 'CMD');
      expect(cmd).to.have.length(1);
      expect(JSON.parse(cmd[0].args)).to.deep.equal(['containerless', 'watchdog', '/home/app/function']);
      expect(dockerfile.some((i) => i.op === 'ENTRYPOINT')).to.equal(false);
    });

    it('runs as a non-root user from before the function is copied to the end', () => {
      const users = dockerfile.filter((i) => i.op === 'USER');
      expect(users.map((u) => u.args)).to.deep.equal(['app']);
      const userAt = dockerfile.indexOf(users[0]);
      const firstFunctionCopy = dockerfile.findIndex((i) => i.op === 'COPY' && /function\//.test(i.args));
      expect(userAt).to.be.lessThan(firstFunctionCopy);
      expect(dockerfile.some((i) => i.op === 'RUN' && /adduser -S -g app app/.test(i.args))).to.equal(true);
    });

    it("copies the function folder with the app user's ownership, installs its packages and runs its tests", () => {
      const copies = dockerfile.filter((i) => i.op === 'COPY');
      for (const c of copies) {
        expect(c.args).to.contain('--chown=app:app');
        const src = c.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1);
        for (const s of src) expect(readdirSync(join(TEMPLATE, s.replace(/\*\.json$/, '').replace(/\/$/, '') || '.')).length, s).to.be.greaterThan(0);
      }
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
      expect(env).to.include({ exec_timeout: '10s', write_timeout: '15s', read_timeout: '15s', prefix_logs: 'false', cgi_headers: 'true' });
      expect(env.fprocess).to.equal(templateYml.fprocess);
      expect(env.nats_url).to.match(/^nats:\/\//);
    });
  });

  describe('faas-cli new and build --shrinkwrap', () => {
    const faasCli = findFaasCli();
    const how = faasCli ? `real faas-cli (${faasCli})` : "faas-cli's documented steps (faas-cli itself cannot be installed here)";
    let work: string;
    before(() => {
      work = mkdtempSync(join(tmpdir(), 'cl-template-'));
      cpSync(TEMPLATE, join(work, 'template/node-containerless'), { recursive: true });
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    it(`creates a function from the template and a build folder the watchdog serves, with ${how}`, async () => {
      if (faasCli) {
        const n = spawnSync(faasCli, ['new', 'hello-cl', '--lang', 'node-containerless', '-q'], { cwd: work, encoding: 'utf8' });
        expect(n.status, n.stderr).to.equal(0);
        const b = spawnSync(faasCli, ['build', '--shrinkwrap', '-f', 'stack.yaml'], { cwd: work, encoding: 'utf8' });
        expect(b.status, b.stderr).to.equal(0);
      } else {
        // faas-cli new: copy the handler skeleton and write stack.yaml.
        cpSync(join(work, 'template/node-containerless/function'), join(work, 'hello-cl'), { recursive: true });
        writeFileSync(
          join(work, 'stack.yaml'),
          YAML.stringify({ version: '1.0', provider: { name: 'openfaas', gateway: 'http://127.0.0.1:8080' }, functions: { 'hello-cl': { lang: 'node-containerless', handler: './hello-cl', image: 'hello-cl:latest' } } }),
        );
        // faas-cli build --shrinkwrap: build/<fn> = template/<lang> with the handler overlaid on function/.
        const stack = YAML.parse(readFileSync(join(work, 'stack.yaml'), 'utf8')) as { functions: Record<string, { lang: string; handler: string }> };
        for (const [name, fn] of Object.entries(stack.functions)) {
          const out = join(work, 'build', name);
          mkdirSync(out, { recursive: true });
          cpSync(join(work, 'template', fn.lang), out, { recursive: true });
          for (const entry of readdirSync(join(work, fn.handler))) {
            if (entry === 'build' || entry === 'template') continue;
            cpSync(join(work, fn.handler, entry), join(out, 'function', entry), { recursive: true });
          }
        }
      }
      const stack = YAML.parse(readFileSync(join(work, 'stack.yaml'), 'utf8')) as { functions: Record<string, { lang: string }> };
      expect(stack.functions['hello-cl'].lang).to.equal('node-containerless');
      const built = join(work, 'build/hello-cl');
      for (const f of ['Dockerfile', 'template.yml', 'function/handler.js', 'function/package.json']) expect(existsSync(join(built, f)), f).to.equal(true);

      const [ours, stock] = await Promise.all([startOurs(join(built, 'function')), startStock(join(built, 'function'))]);
      try {
        const req = { method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body: '{"a":1}' };
        const [a, b] = await Promise.all([send(ours.port, req), send(stock.port, req)]);
        expect(a.status).to.equal(200);
        expect(JSON.parse(a.body.toString())).to.deep.equal({ body: '{"a":1}', 'content-type': 'application/json' });
        expect([a.status, a.headers['content-type'], a.body.toString()]).to.deep.equal([b.status, b.headers['content-type'], b.body.toString()]);
      } finally {
        await Promise.all([ours.stop(), stock.stop()]);
      }
    });
  });
});
