/**
 * What a dispatcher is built from besides its tree, as one hash: the runtime crate's sources, the
 * repository's Cargo.lock and the compiler's own source (the code generator, and the training handlers of
 * the runtime's profile). Build caches are keyed by it (the promotion builder's, the runtime profile's).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RUNTIME_DIR } from './build.ts';

/** The repository's root (the runtime crate's parent). */
const REPO_ROOT = dirname(RUNTIME_DIR);

/** The files besides the tree that a dispatcher is built from, repository-relative. */
function versionedFiles(): string[] {
  const files = ['runtime/Cargo.toml', 'runtime/build.rs', 'runtime/contract.json', 'Cargo.lock'];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(join(REPO_ROOT, dir), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.isFile()) files.push(rel);
    }
  };
  walk('runtime/src');
  // The compiler's own source: a change in code generation (or in the crate manifest it writes) must not
  // reuse a binary built by the old compiler.
  walk('compiler');
  return files.sort();
}

let runtimeVersionMemo: string | undefined;

/**
 * A stable hash of what a dispatcher is built from besides its tree: the runtime crate's sources
 * (Cargo.toml, src/**, contract.json), the repository's Cargo.lock and the compiler's source files.
 * Computed once per process; a file that is absent counts as absent.
 */
export function runtimeVersion(): string {
  if (runtimeVersionMemo === undefined) {
    const h = createHash('sha256');
    for (const rel of versionedFiles()) {
      h.update(rel).update('\0');
      try {
        h.update(readFileSync(join(REPO_ROOT, rel)));
        h.update('\0');
      } catch {
        h.update('(absent)\0\0');
      }
    }
    runtimeVersionMemo = h.digest('hex');
  }
  return runtimeVersionMemo;
}
