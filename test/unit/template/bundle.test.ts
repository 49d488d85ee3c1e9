/**
 * The watchdog bundle inside the function template (template/node-containerless/containerless-watchdog.mjs):
 * committed, so `faas-cli template pull` gets it, and therefore checked here against a fresh build of the
 * sources it comes from. `npm test` runs this, so CI fails on a stale bundle and says how to regenerate it.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { BUNDLE, REGENERATE, ROOT, buildWatchdogBundle, checkWatchdogBundle } from '../../../scripts/build-template.ts';

describe('template watchdog bundle', function () {
  this.timeout(60_000);
  const committed = (): string => readFileSync(join(ROOT, BUNDLE), 'utf8');

  it('is what a fresh build of the watchdog sources makes', async () => {
    const problem = await checkWatchdogBundle();
    if (problem) expect.fail(problem);
  });

  it('names the command that regenerates it when it is stale', async () => {
    expect(REGENERATE).to.equal('npm run build:template');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build:template']).to.contain('scripts/build-template.ts');
  });

  it('builds byte for byte the same twice', async () => {
    const [a, b] = await Promise.all([buildWatchdogBundle(), buildWatchdogBundle()]);
    expect(a.text === b.text, 'two builds differ').to.equal(true);
  });

  it('holds no path of the machine that built it', () => {
    const text = committed();
    expect(text).to.not.contain(ROOT);
    expect(text).to.not.match(/\/(home|Users|tmp|work)\/[^\s"'`]*node_modules/);
  });

  it("imports nothing but Node's own modules", () => {
    const builtin = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const text = committed();
    const specifiers = new Set<string>();
    // esbuild leaves static imports at the top level, `__require("x")` for CommonJS packages' requires of
    // what it did not bundle, and `import("x")` for dynamic imports it did not bundle.
    for (const m of text.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["'];/gm)) specifiers.add(m[1]);
    for (const m of text.matchAll(/\b(?:__require|import)\("([^"\s]+)"\)/g)) specifiers.add(m[1]);
    expect(specifiers.size).to.be.greaterThan(0);
    expect([...specifiers].filter((s) => !builtin.has(s))).to.deep.equal([]);
  });

  it("carries the runtime's contract inside it, as its text, not as a file next to it", () => {
    const text = committed();
    expect(text).to.not.contain("readFileSync(CONTRACT_URL, 'utf8')");
    const contract = readFileSync(join(ROOT, 'runtime/contract.json'), 'utf8');
    expect(contract).to.contain('"Array.prototype.map"');
    // esbuild's text loader writes the file as one template literal, byte for byte (the loader hashes it).
    expect(text).to.contain(`\`${contract}\``);
  });
});
