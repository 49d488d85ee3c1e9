/**
 * The merged trace tree of each function, and what the promotion controller needs to decide that it is
 * stable. Replicas send *cumulative* trees (each message holds everything that replica traced so far), so a
 * function's tree is the union of its replicas' latest trees:
 *
 * - structure (program paths, and per site the branch outcomes, operand types and callees seen) is united
 *   with trace/'s `mergeTraces`; uniting the same tree again adds nothing;
 * - `requests` is the sum over replicas of each one's latest count (a replica that restarts has a new name,
 *   `<host>-<pid>`), so the same replica's tree merged twice counts once;
 * - a site's entry count `n` would be added again by `mergeTraces` on each cumulative message: here it is
 *   the largest count one message reported (a lower bound of the real total). Only whether it is non-zero
 *   matters to the compiler (a function that was entered), so repeated merges generate the same Rust.
 *
 * Stability is counted in traced requests: `quiet` is how many traced requests in a row did not grow the
 * tree (a message that grew it sets it to 0), plus the requests the dispatcher answered (`noteAnswered`),
 * which took known paths. The controller compiles once `stable(promote_stable_requests)`.
 *
 * Each function's tree is kept under `<stateDir>/promotion/<namespace>/<name>/`: `tree.json` (the merged
 * trace IR) and `meta.json` (deployment, per-replica counts, quiet, refusals), written atomically (a
 * temporary file renamed over the old one), at most once per `debounceMs` and on `flush()`/`close()`, and
 * read back by `TreeStore.loadAll()`, so a provider restart loses nothing it had written.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeTraces, validateTrace, type SiteObs, type TraceIR } from '../../trace/index.ts';
import { RFC1123_LABEL } from '../schemas.ts';
import { fnKey, type AcceptResult, type FnRef, type RefusedReason, type TreeMessage } from './types.ts';

/** Largest tree (JSON bytes) a function accepts by default: 16 MiB. */
export const DEFAULT_MAX_TREE_BYTES = 16 * 1024 * 1024;
/** Writes of one function's files are at most this often by default. */
export const DEFAULT_DEBOUNCE_MS = 1000;
/** Replicas remembered by name per function; older ones fold their counts into `retiredRequests`. */
const MAX_REPLICAS = 1024;
const META_VERSION = 1;
const REASONS: readonly RefusedReason[] = ['schema', 'deployment', 'source', 'function', 'too-large'];

export interface TreesOptions {
  /** The provider's `state_dir`; files go to `<stateDir>/promotion/<namespace>/<name>/`. */
  stateDir: string;
  /** Trees larger than this (JSON bytes) are refused `too-large`. Default 16 MiB. */
  maxTreeBytes?: number;
  /** At most one write per function per this many ms (default 1000; 0 writes at once). */
  debounceMs?: number;
  log?: (line: string) => void;
}

/** What `meta.json` holds. */
interface Meta {
  version: typeof META_VERSION;
  namespace: string;
  name: string;
  deployment: string;
  /** The handler's sha256 trees must have, when the controller said ('' when it did not). */
  source: string;
  /** Latest `requests` count per replica name. */
  replicas: Record<string, number>;
  /** Requests of replicas forgotten because there were more than MAX_REPLICAS. */
  retiredRequests: number;
  quiet: number;
  refused: Partial<Record<RefusedReason, number>>;
  updatedAt: string;
}

const popcount = (x: number): number => {
  let c = 0;
  for (let v = x >>> 0; v; v &= v - 1) c++;
  return c;
};

/** Program nodes that are known (not ClUnknown), walked as plain JSON. */
function programNodes(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  if (Array.isArray(v)) {
    let c = 0;
    for (const x of v) c += programNodes(x);
    return c;
  }
  const o = v as Record<string, unknown>;
  if (o.type === 'ClUnknown') return 0;
  let c = typeof o.type === 'string' ? 1 : 0;
  for (const [k, x] of Object.entries(o)) if (k !== 'loc' && x !== null && typeof x === 'object') c += programNodes(x);
  return c;
}

/** Alternatives observed at one site: branch outcomes, operand types, callees, and "was entered". */
function siteFacts(o: SiteObs): number {
  let c = popcount(o.br ?? 0);
  for (const t of o.ty ?? []) c += popcount(t ?? 0);
  c += o.callees?.length ?? 0;
  if (o.n) c++;
  return c;
}

/**
 * The structural size of a tree: known program nodes plus observed alternatives. It never counts how many
 * times anything happened, so it only grows when a tree brings a new path or observation.
 */
export function treeSize(t: TraceIR): number {
  let c = programNodes(t.program);
  for (const o of Object.values(t.sites)) c += siteFacts(o);
  return c;
}

/**
 * `incoming` united into `current` (or `incoming` alone): structure by `mergeTraces`, entry counts by the
 * larger one, callees sorted so that the result does not depend on the order trees came in, and `requests`
 * set to `requests`. Neither argument is changed.
 */
function unite(current: TraceIR | undefined, incoming: TraceIR, requests: number): TraceIR {
  let merged: TraceIR;
  if (!current) {
    merged = structuredClone(incoming);
  } else {
    merged = mergeTraces(current, incoming);
    for (const [k, o] of Object.entries(merged.sites)) {
      const a = current.sites[k]?.n;
      const b = incoming.sites[k]?.n;
      if (a !== undefined || b !== undefined) o.n = Math.max(a ?? 0, b ?? 0);
    }
  }
  for (const o of Object.values(merged.sites)) o.callees?.sort();
  merged.requests = requests;
  return merged;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function parseMeta(v: unknown): Meta | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not an object';
  const m = v as Record<string, unknown>;
  if (m.version !== META_VERSION) return `version ${JSON.stringify(m.version)} is not ${META_VERSION}`;
  for (const f of ['namespace', 'name', 'deployment', 'source', 'updatedAt']) if (typeof m[f] !== 'string') return `${f} is not a string`;
  for (const f of ['retiredRequests', 'quiet']) if (!isCount(m[f])) return `${f} is not a count`;
  for (const f of ['replicas', 'refused']) {
    const r = m[f];
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return `${f} is not an object`;
    for (const [k, x] of Object.entries(r)) if (!isCount(x)) return `${f}.${k} is not a count`;
  }
  return v as Meta;
}

/**
 * The merged tree of one function and its stability bookkeeping. Create through `TreeStore.ensure`.
 */
export class FunctionTrees {
  private tree?: TraceIR;
  private treeSize = 0;
  private currentDeployment: string;
  private expectedSource = '';
  private readonly replicas = new Map<string, number>();
  private retiredRequests = 0;
  private quietCount = 0;
  private readonly refusedCounts: Partial<Record<RefusedReason, number>> = {};
  private updatedAt = new Date(0).toISOString();
  /** What is not yet on disk: meta always when dirty, the tree only when it changed. */
  private dirty = false;
  private treeDirty = false;
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private removed = false;
  private readonly dir: string;

  constructor(
    readonly fn: FnRef,
    deployment: string,
    private readonly opts: Required<Pick<TreesOptions, 'stateDir' | 'maxTreeBytes' | 'debounceMs'>> & Pick<TreesOptions, 'log'>,
  ) {
    this.currentDeployment = deployment;
    this.dir = functionDir(opts.stateDir, fn);
  }

  /** The deployment id trees must come from ('' accepts any). */
  get deployment(): string {
    return this.currentDeployment;
  }

  /** The merged tree (undefined until one was accepted). Do not change it. */
  get trace(): TraceIR | undefined {
    return this.tree;
  }

  /** Structural size of the merged tree (known program nodes plus observed alternatives); 0 without one. */
  get size(): number {
    return this.treeSize;
  }

  /** Requests traced into the merged tree: the sum of each replica's latest count. */
  get tracedRequests(): number {
    let n = this.retiredRequests;
    for (const c of this.replicas.values()) n += c;
    return n;
  }

  /** Traced (and dispatcher-answered) requests in a row that did not grow the tree. */
  get quiet(): number {
    return this.quietCount;
  }

  /** Trees refused so far, by reason (since the last reset). */
  get refused(): Readonly<Partial<Record<RefusedReason, number>>> {
    return this.refusedCounts;
  }

  /** Replica names with a tree merged (since the last reset). */
  get replicaNames(): string[] {
    return [...this.replicas.keys()];
  }

  /** The handler source's sha256 the merged tree was traced from. */
  get sourceSha256(): string | undefined {
    return this.tree?.source.sha256;
  }

  /**
   * The deployed handler's sha256 (hex), when the controller knows it: trees of any other source are then
   * refused `source` even before the first one merged. '' (the default) leaves it to the merged tree.
   */
  get expectSource(): string {
    return this.expectedSource;
  }
  set expectSource(sha256: string) {
    if (sha256 === this.expectedSource) return;
    this.expectedSource = sha256;
    this.touch(false);
  }

  /** True when there is a tree and `threshold` requests in a row did not grow it. */
  stable(threshold: number): boolean {
    return this.tree !== undefined && this.quietCount >= threshold;
  }

  /**
   * Merges one replica's cumulative tree, or refuses it (never partly merged): `schema` when it is not valid
   * trace IR, `too-large` over the size cap (`bytes` is its JSON size when the caller knows it), `deployment`
   * when it was traced under another deployment id than the current one (unless the current one is ''),
   * `source` when its handler's sha256 is not the merged tree's (or `expectSource`). Never throws for bad input.
   */
  accept(msg: TreeMessage, bytes?: number): AcceptResult {
    const refuse = (reason: RefusedReason, message: string): AcceptResult => {
      this.refusedCounts[reason] = (this.refusedCounts[reason] ?? 0) + 1;
      this.touch(false);
      return { accepted: false, reason, message };
    };
    if (this.removed) return { accepted: false, reason: 'function', message: `function ${fnKey(this.fn)} was removed` };
    const invalid = validateTrace(msg?.trace);
    if (invalid) return refuse('schema', invalid);
    if (typeof msg.replica !== 'string' || msg.replica.length > 253) return refuse('schema', 'replica name is not a string of at most 253 characters');
    if (typeof msg.deployment !== 'string') return refuse('schema', 'deployment is not a string');
    let size = bytes;
    if (size === undefined) {
      try {
        size = Buffer.byteLength(JSON.stringify(msg.trace));
      } catch (err) {
        return refuse('schema', `trace does not serialise (${(err as Error).message})`);
      }
    }
    if (size > this.opts.maxTreeBytes) return refuse('too-large', `trace is ${size} bytes, over the limit of ${this.opts.maxTreeBytes}`);
    if (this.currentDeployment !== '' && msg.deployment !== this.currentDeployment)
      return refuse(
        'deployment',
        `trace is from deployment ${JSON.stringify(msg.deployment)}, not the current ${JSON.stringify(this.currentDeployment)} of ${fnKey(this.fn)}`,
      );
    const sha = msg.trace.source.sha256;
    if (this.expectedSource && sha !== this.expectedSource)
      return refuse('source', `trace is of handler source ${sha.slice(0, 12)}, not the deployed ${this.expectedSource.slice(0, 12)}`);
    if (this.tree && sha !== this.tree.source.sha256)
      return refuse('source', `trace is of handler source ${sha.slice(0, 12)}, not ${this.tree.source.sha256.slice(0, 12)} (the merged tree's)`);

    const replica = msg.replica || '?';
    const previous = this.replicas.get(replica);
    // A replica's trees are cumulative: a smaller count than its last one is an older message (redelivered).
    const latest = Math.max(previous ?? 0, msg.trace.requests);
    const tracedDelta = latest - (previous ?? 0);
    let merged: TraceIR;
    try {
      merged = unite(this.tree, msg.trace, this.tracedRequests + tracedDelta);
    } catch (err) {
      // The checks above leave nothing for mergeTraces to refuse; a program of an unexpected shape might.
      return refuse('schema', `trace does not merge (${(err as Error).message})`);
    }
    const size2 = treeSize(merged);
    const grew = size2 > this.treeSize;
    this.replicas.delete(replica);
    this.replicas.set(replica, latest); // most recently seen last
    this.retireOldReplicas();
    this.tree = merged;
    this.treeSize = size2;
    if (grew) this.quietCount = 0;
    else this.quietCount += tracedDelta;
    this.touch(true);
    return { accepted: true, grew, tracedDelta };
  }

  /** Counts `n` requests the dispatcher answered as quiet (they took paths the tree knows). */
  noteAnswered(n: number): void {
    if (!(n > 0) || !this.tree) return;
    this.quietCount += Math.floor(n);
    this.touch(false);
  }

  /** Counts a refusal the intake decided before the tree got here (an unknown function has no FunctionTrees). */
  noteRefused(reason: RefusedReason): void {
    this.refusedCounts[reason] = (this.refusedCounts[reason] ?? 0) + 1;
    this.touch(false);
  }

  /**
   * The function was redeployed: drops the tree, the replicas, the quiet count and the refusals; trees must
   * now come from `deployment` (and, when given, handler source `expectSource`).
   */
  reset(deployment: string, expectSource = ''): void {
    this.currentDeployment = deployment;
    this.expectedSource = expectSource;
    this.tree = undefined;
    this.treeSize = 0;
    this.replicas.clear();
    this.retiredRequests = 0;
    this.quietCount = 0;
    for (const r of REASONS) delete this.refusedCounts[r];
    this.touch(true);
  }

  /** Writes what changed now (waits for a write under way). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.writing.then(() => this.write());
    this.writing = next.catch(() => {});
    await next;
  }

  /** Stops writing and deletes the function's folder. */
  async remove(): Promise<void> {
    this.removed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Reads the function's files (by TreeStore.loadAll); throws with a one-line reason when they are unusable. */
  async load(): Promise<void> {
    const metaRaw = parseMeta(JSON.parse(await readFile(join(this.dir, 'meta.json'), 'utf8')));
    if (typeof metaRaw === 'string') throw new Error(`meta.json: ${metaRaw}`);
    let tree: TraceIR | undefined;
    try {
      tree = JSON.parse(await readFile(join(this.dir, 'tree.json'), 'utf8')) as TraceIR;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`tree.json: ${(err as Error).message}`);
    }
    if (tree !== undefined) {
      const invalid = validateTrace(tree);
      if (invalid) throw new Error(`tree.json: ${invalid}`);
    }
    this.currentDeployment = metaRaw.deployment;
    this.expectedSource = metaRaw.source;
    this.replicas.clear();
    for (const [k, v] of Object.entries(metaRaw.replicas)) this.replicas.set(k, v);
    this.retiredRequests = metaRaw.retiredRequests;
    this.quietCount = metaRaw.quiet;
    for (const r of REASONS) {
      const c = metaRaw.refused[r];
      if (c) this.refusedCounts[r] = c;
    }
    this.updatedAt = metaRaw.updatedAt;
    this.tree = tree;
    this.treeSize = tree ? treeSize(tree) : 0;
    if (tree) tree.requests = this.tracedRequests;
  }

  private retireOldReplicas(): void {
    for (const [name, n] of this.replicas) {
      if (this.replicas.size <= MAX_REPLICAS) break;
      this.retiredRequests += n;
      this.replicas.delete(name);
    }
  }

  /** Marks the state changed and schedules a write. */
  private touch(treeChanged: boolean): void {
    this.dirty = true;
    if (treeChanged) this.treeDirty = true;
    this.updatedAt = new Date().toISOString();
    if (this.removed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => this.opts.log?.(`promotion: writing the tree of ${fnKey(this.fn)} failed (${(err as Error).message})`));
    }, this.opts.debounceMs);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    if (this.removed || !this.dirty) return;
    const writeTree = this.treeDirty;
    this.dirty = false;
    this.treeDirty = false;
    const meta: Meta = {
      version: META_VERSION,
      namespace: this.fn.namespace,
      name: this.fn.name,
      deployment: this.currentDeployment,
      source: this.expectedSource,
      replicas: Object.fromEntries(this.replicas),
      retiredRequests: this.retiredRequests,
      quiet: this.quietCount,
      refused: { ...this.refusedCounts },
      updatedAt: this.updatedAt,
    };
    const tree = this.tree;
    try {
      await mkdir(this.dir, { recursive: true });
      // The tree first: a meta.json never names replicas whose requests the tree on disk lacks.
      if (writeTree) {
        if (tree) await atomicWrite(join(this.dir, 'tree.json'), JSON.stringify(tree));
        else await rm(join(this.dir, 'tree.json'), { force: true });
      }
      await atomicWrite(join(this.dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    } catch (err) {
      // Try again with the next change or flush.
      this.dirty = true;
      if (writeTree) this.treeDirty = true;
      throw err;
    }
  }
}

let tmpSeq = 0;
async function atomicWrite(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpSeq}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function functionDir(stateDir: string, fn: FnRef): string {
  return join(stateDir, 'promotion', fn.namespace, fn.name);
}

/** Function names and namespaces are RFC 1123 labels; anything else never names a folder. */
export function validFnRef(fn: FnRef): boolean {
  const ok = (s: unknown): boolean => typeof s === 'string' && s.length <= 63 && RFC1123_LABEL.test(s);
  return ok(fn?.name) && ok(fn?.namespace);
}

/**
 * The FunctionTrees of every function the provider promotes, persisted under `<stateDir>/promotion/`.
 * `loadAll()` once at start, `ensure()` for each deployed function, `remove()` on delete, `close()` on
 * shutdown (writes what is pending).
 */
export class TreeStore {
  private readonly trees = new Map<string, FunctionTrees>();
  private readonly opts: Required<Pick<TreesOptions, 'stateDir' | 'maxTreeBytes' | 'debounceMs'>> & Pick<TreesOptions, 'log'>;

  constructor(opts: TreesOptions) {
    this.opts = {
      stateDir: opts.stateDir,
      maxTreeBytes: opts.maxTreeBytes ?? DEFAULT_MAX_TREE_BYTES,
      debounceMs: opts.debounceMs ?? DEFAULT_DEBOUNCE_MS,
      log: opts.log,
    };
  }

  get maxTreeBytes(): number {
    return this.opts.maxTreeBytes;
  }

  get(fn: FnRef): FunctionTrees | undefined {
    return this.trees.get(fnKey(fn));
  }

  /** Every function held. */
  all(): FunctionTrees[] {
    return [...this.trees.values()];
  }

  /**
   * The function's FunctionTrees, created when missing. When it exists with another deployment id (the
   * function was redeployed), its tree is reset to the new one. `expectSource` (the deployed handler's
   * sha256, when known) refuses trees of other sources. Throws for a name that is not an RFC 1123 label.
   */
  ensure(fn: FnRef, deployment: string, expectSource?: string): FunctionTrees {
    if (!validFnRef(fn)) throw new Error(`not a function name and namespace (RFC 1123 labels): ${JSON.stringify(fn)}`);
    const key = fnKey(fn);
    let t = this.trees.get(key);
    if (!t) {
      t = new FunctionTrees({ name: fn.name, namespace: fn.namespace }, deployment, this.opts);
      this.trees.set(key, t);
    } else if (t.deployment !== deployment) {
      t.reset(deployment, expectSource);
    }
    if (expectSource !== undefined && t.expectSource !== expectSource) {
      // Same deployment id, other code (functions deployed without ids): the old tree does not apply.
      if (t.trace && expectSource && t.trace.source.sha256 !== expectSource) t.reset(deployment, expectSource);
      else t.expectSource = expectSource;
    }
    return t;
  }

  /**
   * Merges a tree into its function's FunctionTrees; `function` when the store does not hold the function
   * (the controller `ensure`s every deployed function first).
   */
  accept(msg: TreeMessage, bytes?: number): AcceptResult {
    const t = msg?.fn && validFnRef(msg.fn) ? this.get(msg.fn) : undefined;
    if (!t) return { accepted: false, reason: 'function', message: `no function ${msg?.fn ? fnKey(msg.fn) : '?'} takes traces here` };
    return t.accept(msg, bytes);
  }

  /** Forgets the function and deletes its files. */
  async remove(fn: FnRef): Promise<void> {
    const key = fnKey(fn);
    const t = this.trees.get(key);
    this.trees.delete(key);
    if (t) await t.remove();
    else if (validFnRef(fn)) await rm(functionDir(this.opts.stateDir, fn), { recursive: true, force: true });
  }

  /**
   * Reads every function's files under `<stateDir>/promotion/`. A folder whose files are corrupt is logged
   * and skipped (its function starts a fresh tree; the next write replaces the files). Returns the loaded ones.
   */
  async loadAll(): Promise<FunctionTrees[]> {
    const root = join(this.opts.stateDir, 'promotion');
    const loaded: FunctionTrees[] = [];
    const list = async (dir: string): Promise<string[]> => {
      try {
        return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log?.(`promotion: cannot read ${dir} (${(err as Error).message})`);
        return [];
      }
    };
    for (const namespace of await list(root)) {
      for (const name of await list(join(root, namespace))) {
        const fn = { name, namespace };
        if (!validFnRef(fn)) continue;
        const t = new FunctionTrees(fn, '', this.opts);
        try {
          await t.load();
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT') this.opts.log?.(`promotion: ignoring the saved tree of ${fnKey(fn)}: ${(err as Error).message}`);
          continue;
        }
        this.trees.set(fnKey(fn), t);
        loaded.push(t);
      }
    }
    return loaded;
  }

  /** Writes every function's pending changes. */
  async flush(): Promise<void> {
    await Promise.all([...this.trees.values()].map((t) => t.flush()));
  }

  /** Writes what is pending; the store stays usable. */
  async close(): Promise<void> {
    await this.flush();
  }
}
