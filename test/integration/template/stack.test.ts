/**
 * stack.yml: the examples as OpenFaaS functions on the node-containerless template. Checked against the
 * examples that exist (every examples/<name> with a handler.js is a function, and every function is one of
 * them) and their folders (what the template's Dockerfile needs: handler.js, package.json with a test
 * script). Then each function is built as `faas-cli build --shrinkwrap` and the template's Dockerfile would
 * build it (image.ts, in a scratch folder outside this repository), served by the bundled watchdog alone and
 * by the watchdog run from this repository's sources, and every request of its requests.jsonl (I/O examples
 * against examples/backend on 127.0.0.1:7998, the address in their handlers) must get the same answer from
 * both.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { readRequests, toHttpRequest, type RequestLine } from '../../../harness/index.ts';
// @ts-expect-error: the backend is plain JavaScript without types
import { startBackend } from '../../../examples/backend/server.js';
import { ROOT, send, startOurs, type Answer, type Req } from '../watchdog/harness.ts';
import { buildImage, shrinkwrap, startImage } from './image.ts';

interface StackFunction {
  lang: string;
  handler: string;
  image: string;
  environment?: Record<string, string>;
  labels?: Record<string, unknown>;
}

interface Stack {
  version: unknown;
  provider: { name: string; gateway: string };
  functions: Record<string, StackFunction>;
}

const stack = YAML.parse(readFileSync(join(ROOT, 'stack.yml'), 'utf8')) as Stack;
const EXAMPLES = readdirSync(join(ROOT, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'examples', d.name, 'handler.js')))
  .map((d) => d.name)
  .sort();

/** A requests.jsonl entry as the harness's request, read as `containerless check` reads it. */
function requestOf(r: RequestLine): Req {
  const h = toHttpRequest(r);
  return { method: h.method, path: h.target, headers: Object.fromEntries(h.headers), ...(h.body ? { body: h.body } : {}) };
}

const PER_CONNECTION = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-duration-seconds']);
function normalise(a: Answer): { status: number; headers: Record<string, unknown>; body: string } {
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a.headers)) if (!PER_CONNECTION.has(k)) headers[k] = v;
  return { status: a.status, headers, body: a.body.toString() };
}

describe('stack.yml', function () {
  this.timeout(300_000);

  it('names an openfaas provider on loopback and only node-containerless functions of this repository', () => {
    expect(stack.version).to.equal(1);
    expect(stack.provider.name).to.equal('openfaas');
    expect(new URL(stack.provider.gateway).hostname).to.equal('127.0.0.1');
    for (const [name, fn] of Object.entries(stack.functions)) {
      expect(fn.lang, name).to.equal('node-containerless');
      expect(existsSync(join(ROOT, 'template', fn.lang, 'Dockerfile')), `template/${fn.lang}`).to.equal(true);
    }
  });

  it('has one function per example with a handler, named as its folder, and no other', () => {
    expect(EXAMPLES.length).to.be.greaterThan(0);
    expect(Object.keys(stack.functions).sort()).to.deep.equal(EXAMPLES);
    for (const [name, fn] of Object.entries(stack.functions)) expect(fn.handler, name).to.equal(`./examples/${name}`);
    // The backend is a server the examples call, not a function.
    expect(existsSync(join(ROOT, 'examples/backend/server.js'))).to.equal(true);
    expect(Object.keys(stack.functions)).to.not.include('backend');
  });

  it("gives every handler folder what the template's Dockerfile needs: handler.js and a package.json with main and a test script", () => {
    for (const [name, fn] of Object.entries(stack.functions)) {
      const dir = join(ROOT, fn.handler);
      expect(existsSync(join(dir, 'handler.js')), `${name}/handler.js`).to.equal(true);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; main: string; scripts?: { test?: string }; dependencies?: unknown };
      expect(pkg.main, name).to.equal('handler.js');
      expect(pkg.scripts?.test, `${name}: npm test`).to.be.a('string');
      expect(pkg.dependencies, `${name}: no dependencies to fetch`).to.equal(undefined);
    }
  });

  it('names each image after its function under ${REGISTRY} and each function in its trace subject (OPENFAAS_NAME)', () => {
    for (const [name, fn] of Object.entries(stack.functions)) {
      expect(fn.image, name).to.equal(`\${REGISTRY:-localhost:5000}/containerless-${name}:latest`);
      expect(fn.environment?.OPENFAAS_NAME, name).to.equal(name);
    }
  });

  it('labels every function to scale to zero, with string values as OpenFaaS labels are', () => {
    for (const [name, fn] of Object.entries(stack.functions)) {
      const labels = fn.labels ?? {};
      for (const [k, v] of Object.entries(labels)) expect(v, `${name}: ${k}`).to.be.a('string');
      expect(labels['com.openfaas.scale.zero'], name).to.equal('true');
      expect(labels['com.openfaas.scale.zero-duration'], name).to.match(/^(\d+h)?(\d+m)?(\d+s)?$/);
      const min = Number(labels['com.openfaas.scale.min']);
      const max = Number(labels['com.openfaas.scale.max']);
      expect(min, name).to.be.within(1, max);
    }
  });

  it('says which examples are template handlers and which use the Containerless API, as their sources are', () => {
    const text = readFileSync(join(ROOT, 'stack.yml'), 'utf8');
    const style = /Handler styles: ([^;]*?) are OpenFaaS node template handlers/.exec(text.replace(/\n#\s*/g, ' '));
    expect(style, 'the comment naming the template-style examples').to.not.equal(null);
    const declared = style![1].split(/,\s*|\s+and\s+/).sort();
    const actual = EXAMPLES.filter((n) => !/require\(['"]containerless['"]\)/.test(readFileSync(join(ROOT, 'examples', n, 'handler.js'), 'utf8')));
    expect(declared).to.deep.equal(actual);
    for (const n of actual) expect(readFileSync(join(ROOT, 'examples', n, 'handler.js'), 'utf8'), n).to.match(/module\.exports\s*=\s*async\s*\(event, context\)/);
  });

  describe('each function built from the template and served by the bundled watchdog', () => {
    let work: string;
    let backend: { close(): Promise<void> } | undefined;
    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'cl-stack-'));
      backend = (await startBackend({ port: 7998 })) as { close(): Promise<void> };
    });
    after(async () => {
      await backend?.close();
      rmSync(work, { recursive: true, force: true });
    });

    for (const name of Object.keys(stack.functions)) {
      it(`${name}: answers every request of its requests.jsonl as the watchdog run from source does`, async () => {
        const fn = stack.functions[name];
        const context = join(work, 'build', name);
        shrinkwrap(join(ROOT, 'template', fn.lang), join(ROOT, fn.handler), context);
        const root = join(work, 'images', name);
        mkdirSync(root, { recursive: true });
        const image = buildImage(context, root);
        const env = { ...(fn.environment ?? {}), nats_url: '', healthcheck_interval: '0', NODE_ENV: 'production' };
        const [bundled, source] = await Promise.all([startImage(image, env), startOurs(image.path('/home/app/function'), env)]);
        try {
          const entries = readRequests(join(ROOT, fn.handler, 'requests.jsonl'));
          expect(entries.length).to.be.greaterThan(0);
          let ok = 0;
          for (const entry of entries) {
            const req = requestOf(entry);
            const [a, b] = await Promise.all([send(bundled.port, req), send(source.port, req)]);
            expect(normalise(a), `${name} ${req.method} ${req.path}`).to.deep.equal(normalise(b));
            if (a.status === 200) ok++;
          }
          expect(ok, `${name}: answers with 200`).to.be.greaterThan(0);
        } finally {
          await Promise.all([bundled.stop(), source.stop()]);
        }
      });
    }
  });
});
