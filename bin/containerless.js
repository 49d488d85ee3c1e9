#!/usr/bin/env node
// Launcher for the `containerless` command, so `node bin/containerless.js ...` and `npx containerless ...`
// work from any directory.
//
// `containerless watchdog` is the process every function replica runs, so it is served from a JavaScript
// bundle of the CLI (dist/containerless.mjs, built with esbuild on first use and again whenever one of its
// source files changes), without tsx's loader thread and its on-the-fly TypeScript. Every other command, and
// the watchdog when no bundle can be written (a read-only install), runs the TypeScript through tsx.
import { readFileSync, statSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const BUNDLE = join(DIST, 'containerless.mjs');
const MANIFEST = join(DIST, 'containerless.inputs.json');

/** The bundle's path when it is up to date with every file it was built from, else undefined. */
function freshBundle() {
  try {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
    for (const [file, { size, mtimeMs }] of Object.entries(manifest.inputs)) {
      const st = statSync(join(ROOT, file));
      if (st.size !== size || st.mtimeMs !== mtimeMs) return undefined;
    }
    statSync(BUNDLE);
    return BUNDLE;
  } catch {
    return undefined;
  }
}

/** Builds the bundle (about a tenth of a second); undefined when it cannot (no esbuild, read-only folder). */
async function buildBundle() {
  try {
    const esbuild = await import('esbuild');
    const tmp = `${BUNDLE}.${process.pid}.tmp`;
    const result = await esbuild.build({
      entryPoints: [join(ROOT, 'cli/index.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // npm packages stay imports; so does the provider (its files find the checkout relative to their own
      // place), which `up` loads through tsx.
      packages: 'external',
      external: ['../provider/*'],
      outfile: tmp,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = {};
    for (const file of Object.keys(result.metafile.inputs)) {
      const abs = resolve(process.cwd(), file);
      const st = statSync(abs);
      inputs[relative(ROOT, abs)] = { size: st.size, mtimeMs: st.mtimeMs };
    }
    mkdirSync(DIST, { recursive: true });
    renameSync(tmp, BUNDLE);
    writeFileSync(`${MANIFEST}.${process.pid}.tmp`, `${JSON.stringify({ inputs })}\n`);
    renameSync(`${MANIFEST}.${process.pid}.tmp`, MANIFEST);
    return BUNDLE;
  } catch {
    return undefined;
  }
}

const argv = process.argv.slice(2);
let cli;
if (argv[0] === 'watchdog' && process.env.CONTAINERLESS_NO_BUNDLE !== '1') {
  const bundle = freshBundle() ?? (await buildBundle());
  if (bundle) {
    // The bundle imports ../provider/*.ts only for `up`, which never comes through here.
    cli = await import(pathToFileURL(bundle).href);
  }
}
if (!cli) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../cli/index.ts');
}
await cli.run(argv);
