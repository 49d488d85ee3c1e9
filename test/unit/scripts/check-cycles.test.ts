/** The import-graph check (scripts/check-cycles.ts) on small trees written for each case. */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { check, findCycles, report } from '../../../scripts/check-cycles.ts';

const SCRIPT = fileURLToPath(new URL('../../../scripts/check-cycles.ts', import.meta.url));

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cl-cycles-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('scripts/check-cycles.ts', () => {
  const roots: string[] = [];
  const make = (files: Record<string, string>): string => {
    const root = tree(files);
    roots.push(root);
    return root;
  };
  after(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });

  it('finds nothing in a tree whose imports flow one way through index files', () => {
    const root = make({
      'lib/index.ts': "export { x } from './x.ts';\n",
      'lib/x.ts': 'export const x = 1;\n',
      'app/index.ts': "import { x } from '../lib/index.ts';\nimport type { Y } from './y.ts';\nexport const y: Y = x;\n",
      'app/y.ts': 'export type Y = number;\n',
    });
    expect(report(check(root))).to.deep.equal([]);
  });

  it('lists a cycle between files, through re-exports, type-only and dynamic imports', () => {
    const root = make({
      'a/index.ts': "export * from './one.ts';\n",
      'a/one.ts': "import type { T } from './two.ts';\nexport const one = 1;\nexport type U = T;\n",
      'a/two.ts': "export type T = number;\nexport const load = () => import('./one.ts');\n",
    });
    expect(check(root).fileCycles).to.deep.equal([['a/one.ts', 'a/two.ts', 'a/one.ts']]);
  });

  it('lists every elementary cycle of a group once', () => {
    const edges: Record<string, string[]> = { a: ['b', 'c'], b: ['a', 'c'], c: ['a'] };
    const { cycles } = findCycles(Object.keys(edges), (n) => edges[n]);
    expect(cycles).to.deep.equal([
      ['a', 'b', 'a'],
      ['a', 'b', 'c', 'a'],
      ['a', 'c', 'a'],
    ]);
    expect(findCycles(['x'], () => ['x']).cycles).to.deep.equal([['x', 'x']]);
  });

  it('lists a cycle between folders even when the files do not form one', () => {
    const root = make({
      'a/index.ts': "export { b } from '../b/index.ts';\n",
      'b/index.ts': "export { b } from './b.ts';\n",
      'b/b.ts': "import { c } from '../c/index.ts';\nexport const b = c;\n",
      'c/index.ts': "export const c = 1;\nexport const later = () => import('../a/index.ts');\n",
    });
    const found = check(root);
    expect(found.fileCycles).to.have.length(1); // a/index -> b/index -> b/b -> c/index -> a/index
    expect(found.folderCycles).to.deep.equal([['a', 'b', 'c', 'a']]);
  });

  it('reports an import into another folder that goes past its index.ts', () => {
    const root = make({
      'a/index.ts': "import { inner } from '../b/inner.ts';\nexport const a = inner;\n",
      'b/index.ts': "export { inner } from './inner.ts';\n",
      'b/inner.ts': 'export const inner = 1;\n',
    });
    expect(report(check(root))).to.deep.equal(["import past a folder's index.ts: a/index.ts imports b/inner.ts"]);
  });

  it('leaves out tests, benchmarks, examples and packages', () => {
    const root = make({
      'a/index.ts': "import 'express';\nimport { t } from '../test/t.ts';\nexport const a = t;\n",
      'test/t.ts': "import { a } from '../a/index.ts';\nexport const t = a;\n",
      'bench/b.ts': "import { a } from '../a/index.ts';\n",
    });
    expect(report(check(root))).to.deep.equal([]);
  });

  it('exits 1 and prints the cycles, or exits 0 and prints nothing', () => {
    const bad = make({ 'a/x.ts': "import './y.ts';\n", 'a/y.ts': "import './x.ts';\n" });
    const good = make({ 'a/x.ts': "import './y.ts';\n", 'a/y.ts': 'export {};\n' });
    const runOn = (root: string) => spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, root], { encoding: 'utf8' });
    const failed = runOn(bad);
    expect(failed.status, failed.stderr).to.equal(1);
    expect(failed.stdout).to.equal('import cycle between files: a/x.ts -> a/y.ts -> a/x.ts\n');
    const passed = runOn(good);
    expect(passed.status, passed.stderr).to.equal(0);
    expect(passed.stdout).to.equal('');
  });
});
