/**
 * The tracing runtime: the `__cl` object instrumented handlers call. Each traced request records into its
 * own recorder (found through AsyncLocalStorage, so requests in flight at once never mix); when the request
 * settles its observations merge into the function's tree. Module top-level code, which runs once when the
 * handler loads, records into the tree directly. A request run with `runUnrecorded` goes through the same
 * instrumented code and records nothing, so one module instance can serve traced and untraced requests.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { contract } from '../lib/index.ts';
import { BR_FALSE, BR_NULLISH, BR_TRUE, TAG, TRACE_FORMAT, TRACE_VERSION, type SiteObs, type TraceIR } from './ir.ts';
import { copyObs, mergeObs, type Obs } from './merge.ts';
import type { Prepared } from './prepare.ts';
import { prune } from './tree.ts';
import { cannotDestructure, notCallable, notConstructor, notIterable, notSpreadable, type Wording } from './wording.ts';

/** Builtin names the runtime models (runtime/contract.json). */
const builtinNames: string[] = contract().builtins.map((b) => b.name);

/** Maps builtin function objects to their names ("Array.prototype.map"). */
function builtinTable(): Map<unknown, string> {
  const table = new Map<unknown, string>();
  const g = globalThis as Record<string, unknown>;
  for (const name of builtinNames) {
    const parts = name.split('.');
    let v: unknown = g[parts[0]];
    for (const p of parts.slice(1)) {
      if (v === null || v === undefined) break;
      const d = Object.getOwnPropertyDescriptor(v as object, p);
      v = d ? (d.value ?? d.get) : undefined;
    }
    if (typeof v === 'function' && !table.has(v)) table.set(v, name);
  }
  return table;
}

export function tagOf(v: unknown): number {
  if (v === undefined) return TAG.undefined;
  if (v === null) return TAG.null;
  switch (typeof v) {
    case 'boolean':
      return TAG.boolean;
    case 'number':
      return TAG.number;
    case 'string':
      return TAG.string;
    case 'function':
      return TAG.function;
    case 'object':
      if (Array.isArray(v)) return TAG.array;
      if (v instanceof Promise) return TAG.promise;
      return TAG.object;
    default:
      return TAG.other;
  }
}

const BINARY: Record<string, (a: any, b: any) => unknown> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '**': (a, b) => a ** b,
  '==': (a, b) => a == b,
  '!=': (a, b) => a != b,
  '===': (a, b) => a === b,
  '!==': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
  '<<': (a, b) => a << b,
  '>>': (a, b) => a >> b,
  '>>>': (a, b) => a >>> b,
  '&': (a, b) => a & b,
  '|': (a, b) => a | b,
  '^': (a, b) => a ^ b,
  in: (a, b) => a in b,
  instanceof: (a, b) => a instanceof b,
};
const UNARY: Record<string, (a: any) => unknown> = {
  '-': (a) => -a,
  '+': (a) => +a,
  '!': (a) => !a,
  '~': (a) => ~a,
  typeof: (a) => typeof a,
  void: () => undefined,
};

// This module is strict (ESM); the Function constructor makes sloppy functions for the sloppy forms.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const sloppySet = new Function('o', 'k', 'v', 'o[k] = v; return v;') as (o: unknown, k: unknown, v: unknown) => unknown;
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const sloppyDelete = new Function('o', 'k', 'return delete o[k];') as (o: unknown, k: unknown) => boolean;

/** Whether `f` can be called with `new`, found without calling it (a proxy of `f` is constructible when `f` is). */
function isConstructor(f: unknown): boolean {
  if (typeof f !== 'function') return false;
  try {
    // eslint-disable-next-line no-new
    new new Proxy(f as new () => object, { construct: () => ({}) })();
    return true;
  } catch {
    return false;
  }
}

/** The TypeError V8 would throw, worded from the source (`message`), or `fallback`'s when there is none. */
function typeError(message: string | undefined, fallback: string): TypeError {
  return new TypeError(message ?? fallback);
}

export class Tracer {
  /** Inject as `__cl` when loading `prepared.instrumented`. */
  readonly runtime: Record<string, unknown>;
  /** The current request's recorder; null while an unrecorded request runs; none at module level. */
  private readonly store = new AsyncLocalStorage<Obs | null>();
  private readonly tree: Obs = new Map();
  private readonly fnSites = new WeakMap<object, number>();
  private readonly builtins = builtinTable();
  private count = 0;
  private newSites = 0;

  private readonly wording: Map<number, Wording>;

  constructor(
    readonly prepared: Prepared,
    readonly functionName: string,
  ) {
    this.wording = prepared.wording ?? new Map();
    this.runtime = this.makeRuntime();
  }

  /** Runs one traced request; its observations merge into the tree when `fn`'s promise settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const rec: Obs = new Map();
    try {
      return await this.store.run(rec, fn);
    } finally {
      this.count++;
      this.newSites = mergeObs(this.tree, rec);
    }
  }

  /** Runs `fn` (an untraced request) through the instrumented code without recording anything. */
  runUnrecorded<T>(fn: () => T): T {
    return this.store.run(null, fn);
  }

  get requests(): number {
    return this.count;
  }

  /** Observations the last request added to the tree (0: it took a path already known). */
  get lastNewSites(): number {
    return this.newSites;
  }

  trace(): TraceIR {
    const sites: Record<string, SiteObs> = {};
    for (const [k, v] of [...this.tree.entries()].sort((a, b) => a[0] - b[0])) sites[String(k)] = copyObs(v);
    return {
      format: TRACE_FORMAT,
      version: TRACE_VERSION,
      function: this.functionName,
      source: { file: this.prepared.file, sha256: this.prepared.sha256 },
      requests: this.count,
      program: prune(this.prepared.core, this.tree) as object,
      sites,
    };
  }

  /** Where `site`'s observations go, or null when nothing is being recorded. */
  private obs(site: number): SiteObs | null {
    const current = this.store.getStore();
    if (current === null) return null;
    const rec = current ?? this.tree;
    let o = rec.get(site);
    if (!o) {
      o = {};
      rec.set(site, o);
    }
    return o;
  }

  private types(site: number, ...vals: unknown[]): void {
    const o = this.obs(site);
    if (!o) return;
    const ty = o.ty ?? (o.ty = []);
    vals.forEach((v, i) => (ty[i] = (ty[i] ?? 0) | tagOf(v)));
  }

  private callee(site: number, f: unknown): void {
    const o = this.obs(site);
    if (!o) return;
    const list = o.callees ?? (o.callees = []);
    const name = this.identify(f);
    if (!list.includes(name)) list.push(name);
  }

  identify(f: unknown): string {
    if (typeof f === 'function') {
      const s = this.fnSites.get(f);
      if (s !== undefined) return `fn:${s}`;
      const b = this.builtins.get(f);
      if (b) return b;
      return `?:${f.name || 'anonymous'}`;
    }
    return `?:not a function (${f === null ? 'null' : typeof f})`;
  }

  /**
   * Host classes that are not globals (the template's FunctionContext) are known by the name of the class
   * that owns the method: "FunctionContext.prototype.status", if the runtime models that name.
   */
  private learnHostMethod(o: unknown, k: unknown, f: Function): void {
    let owner = o === null || o === undefined ? null : Object.getPrototypeOf(o);
    while (owner && !Object.prototype.hasOwnProperty.call(owner, k as PropertyKey)) owner = Object.getPrototypeOf(owner);
    const ctor = owner?.constructor;
    if (!ctor || typeof ctor.name !== 'string' || owner[k as string] !== f) return;
    const name = `${ctor.name}.prototype.${String(k)}`;
    if (builtinNames.includes(name)) this.builtins.set(f, name);
  }

  private get recording(): boolean {
    return this.store.getStore() !== null;
  }

  private register(f: unknown, site: number): void {
    if ((typeof f === 'function' || (typeof f === 'object' && f !== null)) && !this.fnSites.has(f as object)) this.fnSites.set(f as object, site);
  }

  private makeRuntime(): Record<string, unknown> {
    const self = this;
    const fnSites = this.fnSites;
    const wording = this.wording;
    return {
      b(site: number, v: unknown) {
        const o = self.obs(site);
        if (!o) return v;
        o.br = (o.br ?? 0) | (v ? BR_TRUE : BR_FALSE) | (v === null || v === undefined ? BR_NULLISH : 0);
        return v;
      },
      bin(site: number, op: string, a: unknown, b: unknown) {
        self.types(site, a, b);
        return BINARY[op](a, b);
      },
      un(site: number, op: string, a: unknown) {
        self.types(site, a);
        return UNARY[op](a);
      },
      get(site: number, o: any, k: unknown) {
        self.types(site, o, k);
        // The first read of an object pattern: V8 words its value's being null or undefined.
        if (o === null || o === undefined) {
          const message = cannotDestructure(wording.get(site), o);
          if (message !== undefined) throw new TypeError(message);
        }
        return o[k as string];
      },
      // `o[k] = v` and `delete o[k]` run as the operators themselves, in the caller's mode: a failed write
      // or delete throws V8's TypeError in strict code and is ignored in sloppy code.
      set(site: number, o: any, k: unknown, v: unknown) {
        self.types(site, o, k, v);
        return sloppySet(o, k, v);
      },
      sset(site: number, o: any, k: unknown, v: unknown) {
        self.types(site, o, k, v);
        o[k as string] = v;
        return v;
      },
      // Private members (`o.#x`): `access` is an arrow printed inside the class, the only place `#x` can be read.
      pget(site: number, o: any, access: (o: any) => unknown) {
        self.types(site, o);
        return access(o);
      },
      pset(site: number, o: any, access: (o: any, v: unknown) => unknown, v: unknown) {
        self.types(site, o);
        return access(o, v);
      },
      pm(site: number, o: any, access: (o: any) => unknown, methodSite: number) {
        self.types(site, o);
        const f = access(o);
        // A private method is registered here, where it is first reached: it has no name to look it up by.
        if (typeof f === 'function' && methodSite >= 0 && !fnSites.has(f)) fnSites.set(f, methodSite);
        self.callee(site, f);
        if (typeof f !== 'function') {
          return () => {
            throw typeError(notCallable(wording.get(site), f), 'private member is not a function');
          };
        }
        return (...args: unknown[]) => Reflect.apply(f, o, args);
      },
      del(site: number, o: any, k: unknown) {
        self.types(site, o, k);
        return sloppyDelete(o, k);
      },
      sdel(site: number, o: any, k: unknown) {
        self.types(site, o, k);
        return delete o[k as string];
      },
      m(site: number, o: any, k: unknown) {
        self.types(site, o, k);
        const f = o[k as string];
        if (typeof f === 'function' && !fnSites.has(f) && !self.builtins.has(f) && self.recording) self.learnHostMethod(o, k, f);
        self.callee(site, f);
        if (typeof f !== 'function') {
          // Thrown when called, after the arguments are evaluated, as V8 does.
          return () => {
            throw typeError(notCallable(wording.get(site), f), `${String(k)} is not a function`);
          };
        }
        return (...args: unknown[]) => Reflect.apply(f, o, args);
      },
      call(site: number, f: any, args: unknown[]) {
        self.callee(site, f);
        if (typeof f !== 'function') throw typeError(notCallable(wording.get(site), f), `${String(f)} is not a function`);
        return f(...args);
      },
      new(site: number, C: any, args: unknown[]) {
        self.callee(site, C);
        try {
          return new C(...args);
        } catch (e) {
          // Only a callee that is not a constructor fails before it runs; anything it threw goes on as it is.
          if (isConstructor(C)) throw e;
          throw typeError(notConstructor(wording.get(site), C), `${String(C)} is not a constructor`);
        }
      },
      /** `...v` in an array literal or a call's arguments (element or argument `i` of `site`). */
      spread(site: number, i: number, v: any) {
        if (Array.isArray(v)) return v;
        const method = v === null || v === undefined ? undefined : v[Symbol.iterator];
        if (typeof method !== 'function') {
          const message = notSpreadable(wording.get(site), i, v);
          if (message !== undefined) throw new TypeError(message);
          return v;
        }
        // The iterator method is read once, as the spread itself does.
        return { [Symbol.iterator]: () => Reflect.apply(method, v, []) };
      },
      fn(site: number, f: unknown) {
        fnSites.set(f as object, site);
        return f;
      },
      reg(site: number, f: unknown) {
        self.register(f, site);
      },
      enter(site: number) {
        const o = self.obs(site);
        if (o) o.n = (o.n ?? 0) + 1;
      },
      cls(site: number, C: any, members: [string, string, boolean, number][]) {
        fnSites.set(C, site);
        for (const [name, kind, isStatic, s] of members) {
          if (kind === 'constructor') continue;
          const d = Object.getOwnPropertyDescriptor(isStatic ? C : C.prototype, name);
          if (!d) continue;
          const f = kind === 'get' ? d.get : kind === 'set' ? d.set : d.value;
          if (f) fnSites.set(f, s);
        }
        return C;
      },
      obj(o: any, members: [string, string, number][]) {
        for (const [name, kind, s] of members) {
          const d = Object.getOwnPropertyDescriptor(o, name);
          if (!d) continue;
          const f = kind === 'get' ? d.get : kind === 'set' ? d.set : d.value;
          if (f) fnSites.set(f, s);
        }
        return o;
      },
      req(site: number, require: (m: string) => unknown, name: string) {
        const o = self.obs(site);
        if (o) o.n = (o.n ?? 0) + 1;
        const mod = require(name);
        if (name === 'containerless' && mod && typeof mod === 'object') {
          for (const [k, v] of Object.entries(mod)) if (typeof v === 'function' && !self.builtins.has(v)) self.builtins.set(v, `containerless.${k}`);
        }
        return mod;
      },
      i: {
        ...intrinsics,
        forOf(v: unknown, site: number): unknown {
          return forOf(v, wording.get(site));
        },
        iter(v: unknown, site: number): unknown[] {
          return iterate(v, wording.get(site));
        },
        requireObject(v: unknown, site: number): void {
          if (v === null || v === undefined) throw typeError(cannotDestructure(wording.get(site), v), `Cannot destructure '${v}' as it is ${v}.`);
        },
        callWith(f: unknown, self: unknown, args: unknown[], site: number): unknown {
          if (typeof f !== 'function') throw typeError(notCallable(wording.get(site), f), `${typeof f} is not a function`);
          return Reflect.apply(f, self, args);
        },
      },
    };
  }
}

/** for-of's start: see `intrinsics.forOf`; `w` words a value that is not iterable. */
function forOf(v: unknown, w?: Wording): unknown {
  if (Array.isArray(v)) return v;
  const method = v === null || v === undefined ? undefined : (v as Record<symbol, unknown>)[Symbol.iterator];
  if (typeof method !== 'function') {
    throw typeError(
      notIterable(w, v),
      `${typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' || typeof v === 'function' ? 'object' : String(v)} is not iterable`,
    );
  }
  const iterator = Reflect.apply(method, v, []) as Iterator<unknown>;
  if (Object(iterator) !== iterator) throw new TypeError('Result of the Symbol.iterator method is not an object');
  return new ForOfIteration(iterator, iterator.next);
}

/**
 * Array destructuring's values: an array as it is (its iterator reads it live), any other iterable's
 * values through its iterator; a value that is not iterable (an array-like included) throws, as the
 * pattern does. `w` words that error.
 */
function iterate(v: unknown, w?: Wording): unknown[] {
  if (Array.isArray(v)) return v;
  const method = v === null || v === undefined ? undefined : (v as Record<symbol, unknown>)[Symbol.iterator];
  if (typeof method !== 'function') throw typeError(notIterable(w, v), `${String(v)} is not iterable`);
  return Array.from({ [Symbol.iterator]: () => Reflect.apply(method, v, []) as Iterator<unknown> });
}

/** A for-of loop's iterator (the `next` method is read once, when the loop starts) and its current value. */
class ForOfIteration {
  value: unknown = undefined;
  constructor(
    readonly iterator: Iterator<unknown>,
    readonly next: Iterator<unknown>['next'],
  ) {}
}

/** The operations desugaring needs (normalize.ts `ClIntrinsic`); the runtime implements the same. */
export const intrinsics = {
  /** Array destructuring: arrays as they are (their iterator reads them live), other iterables copied. */
  iter(v: unknown): unknown[] {
    return iterate(v);
  },
  /** for-of: an array as it is (the loop reads it by index, live); any other iterable through its iterator. */
  forOf(v: unknown): unknown {
    return forOf(v);
  },
  /** Whether the loop goes on at index `i`: an array's live length, or the iterator's next step. */
  forOfNext(it: unknown, i: number): boolean {
    if (Array.isArray(it)) return i < it.length;
    const self = it as ForOfIteration;
    if (typeof self.next !== 'function') throw new TypeError(`${String(self.next)} is not a function`);
    const r = Reflect.apply(self.next, self.iterator, []) as IteratorResult<unknown>;
    if (Object(r) !== r) throw new TypeError(`Iterator result ${String(r)} is not an object`);
    if (r.done) return false;
    self.value = r.value;
    return true;
  },
  forOfValue(it: unknown, i: number): unknown {
    return Array.isArray(it) ? it[i] : (it as ForOfIteration).value;
  },
  /** for-in: the index of the first key from `i` on that `o` still has (V8 skips keys deleted during the loop). */
  forInSkip(o: unknown, keys: string[], i: number): number {
    if (o === null || o === undefined) return keys.length;
    const obj = Object(o) as object;
    while (i < keys.length && !(keys[i] in obj)) i++;
    return i;
  },
  forInKeys(v: unknown): string[] {
    const keys: string[] = [];
    // eslint-disable-next-line guard-for-in
    for (const k in v as object) keys.push(k);
    return keys;
  },
  toKey(k: unknown): unknown {
    return typeof k === 'symbol' ? k : String(k);
  },
  /**
   * The key of a compound assignment's member (`a[i] += x` reads and writes `a[key]`): ToPropertyKey once,
   * as the language does, except that a number stays a number, since indexing by it and by its string is
   * the same property and has no side effect (so the compiled code indexes arrays by number).
   */
  memberKey(k: unknown): unknown {
    return typeof k === 'symbol' || typeof k === 'number' ? k : String(k);
  },
  objectRest(src: any, used: unknown[]): Record<string, unknown> {
    if (src === null || src === undefined) throw new TypeError(`Cannot destructure '${src}' as it is ${src}.`);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src)) if (!used.includes(k)) out[k] = src[k];
    return out;
  },
  arraySliceFrom(a: unknown[], i: number): unknown[] {
    return a.slice(i);
  },
  /** `a.b?.(x)` once `a.b` is known to be neither null nor undefined: a call with `this` = `a`. */
  callWith(f: unknown, self: unknown, args: unknown[]): unknown {
    if (typeof f !== 'function') throw new TypeError(`${typeof f} is not a function`);
    return Reflect.apply(f, self, args);
  },
  requireObject(v: unknown): void {
    if (v === null || v === undefined) throw new TypeError(`Cannot destructure '${v}' as it is ${v}.`);
  },
};
