/**
 * The import-graph check (`npm run check:cycles`): prints every import cycle among the project's own
 * TypeScript and JavaScript files, and among its top-level folders (lib, trace, compiler, harness, watchdog,
 * provider, cli, ...), and every import from one folder into another that goes past that folder's
 * `index.ts` (a component's public surface). Exits 1 when it printed anything, 0 otherwise.
 *
 * Counted: static imports and re-exports (type-only ones too: a folder that needs another's types depends
 * on it), `import('...')` with a literal, and `require('...')`. Left out: tests, benchmarks, examples, the
 * Go tools, the generated template bundle and dist/, and npm or Node modules.
 *
 *   node --import tsx scripts/check-cycles.ts [root]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Top-level folders that are not the project's runtime code. */
const SKIP_TOP = new Set(['node_modules', 'dist', 'test', 'bench', 'examples', 'tools', 'template', 'runtime', 'target', 'docs', 'deploy', 'charts']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;
/** How many cycles to list per strongly connected group before saying how many more there are. */
const MAX_CYCLES_PER_GROUP = 50;

export interface ImportGraph {
  /** Repository-relative paths with `/`, sorted. */
  files: string[];
  /** file -> the project files it imports (sorted, no duplicates). */
  edges: Map<string, string[]>;
}

export interface Findings {
  fileCycles: string[][];
  folderCycles: string[][];
  /** [importer, imported]: an import into another folder that is not that folder's index.ts. */
  pastIndex: [string, string][];
  /** Cycles left unlisted because a group had more than MAX_CYCLES_PER_GROUP. */
  unlisted: number;
}

const toPosix = (p: string): string => p.split(sep).join('/');

function listSources(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, top: boolean): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      if (top && SKIP_TOP.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules') continue;
        walk(path, false);
      } else if (entry.isFile() && SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        out.push(toPosix(relative(root, path)));
      }
    }
  };
  walk(root, true);
  return out.sort();
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The project file a relative specifier names, or undefined (a package, JSON, a file outside the scan). */
function resolveSpecifier(root: string, from: string, spec: string, known: Set<string>): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(root, dirname(from), spec);
  const candidates = [base, `${base}.ts`, `${base}.js`, join(base, 'index.ts'), join(base, 'index.js')];
  for (const c of candidates) {
    const rel = toPosix(relative(root, c));
    if (known.has(rel) && isFile(c)) return rel;
  }
  return undefined;
}

export function buildGraph(root: string): ImportGraph {
  const files = listSources(root);
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    const targets = new Set<string>();
    for (const imported of info.importedFiles) {
      const target = resolveSpecifier(root, file, imported.fileName, known);
      if (target !== undefined) targets.add(target);
    }
    edges.set(file, [...targets].sort());
  }
  return { files, edges };
}

/** Tarjan's strongly connected components, each sorted, in a stable order. */
function stronglyConnected(nodes: string[], next: (n: string) => string[]): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      groups.push(group.sort());
    }
  };
  for (const n of nodes) if (!indices.has(n)) visit(n);
  return groups.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * Every elementary cycle of the graph (each once, starting at its smallest node), at most
 * MAX_CYCLES_PER_GROUP per strongly connected group; `unlisted` counts what was cut.
 */
export function findCycles(nodes: string[], next: (n: string) => string[]): { cycles: string[][]; unlisted: number } {
  const cycles: string[][] = [];
  let unlisted = 0;
  for (const group of stronglyConnected(nodes, next)) {
    const members = new Set(group);
    const selfLoop = group.length === 1 && next(group[0]).includes(group[0]);
    if (group.length === 1 && !selfLoop) continue;
    let found = 0;
    // Cycles through `start` whose other nodes all sort after it: each cycle is found from its smallest node.
    for (const start of group) {
      const path = [start];
      const onPath = new Set(path);
      const extend = (v: string): void => {
        for (const w of next(v)) {
          if (!members.has(w) || w < start) continue;
          if (w === start) {
            if (found < MAX_CYCLES_PER_GROUP) cycles.push([...path, start]);
            else unlisted++;
            found++;
          } else if (!onPath.has(w)) {
            path.push(w);
            onPath.add(w);
            extend(w);
            path.pop();
            onPath.delete(w);
          }
        }
      };
      extend(start);
    }
  }
  return { cycles, unlisted };
}

const folderOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

export function check(root: string): Findings {
  const graph = buildGraph(root);
  const next = (f: string): string[] => graph.edges.get(f) ?? [];
  const files = findCycles(graph.files, next);

  const folderEdges = new Map<string, Set<string>>();
  const pastIndex: [string, string][] = [];
  for (const [from, targets] of graph.edges) {
    const a = folderOf(from);
    if (!folderEdges.has(a)) folderEdges.set(a, new Set());
    for (const to of targets) {
      const b = folderOf(to);
      if (a === b) continue;
      folderEdges.get(a)!.add(b);
      if (b !== '.' && to !== `${b}/index.ts`) pastIndex.push([from, to]);
    }
  }
  const folders = [...folderEdges.keys()].sort();
  const folderCycles = findCycles(folders, (f) => [...(folderEdges.get(f) ?? [])].sort());
  return { fileCycles: files.cycles, folderCycles: folderCycles.cycles, pastIndex, unlisted: files.unlisted + folderCycles.unlisted };
}

/** The report's lines; empty when the graph is clean. */
export function report(findings: Findings): string[] {
  const lines = [
    ...findings.fileCycles.map((c) => `import cycle between files: ${c.join(' -> ')}`),
    ...findings.folderCycles.map((c) => `import cycle between folders: ${c.join(' -> ')}`),
    ...findings.pastIndex.map(([from, to]) => `import past a folder's index.ts: ${from} imports ${to}`),
  ];
  if (findings.unlisted > 0) lines.push(`(${findings.unlisted} more cycles not listed)`);
  return lines;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const lines = report(check(root));
  for (const line of lines) process.stdout.write(`${line}\n`);
  process.exit(lines.length > 0 ? 1 : 0);
}
