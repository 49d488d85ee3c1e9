/**
 * Random handler programs over the constructs the compiler claims to compile exactly, and random inputs for
 * them. A program is the body of one async function `(event, context) => ...` that reads `event.body` and
 * `event.query`, computes into an array `out` and returns it; everything it uses (helpers, classes,
 * closures) is declared inside it, so a program writes no module state and answers each request the same
 * way whatever ran before. Programs are deterministic: no clock, no randomness, no timers.
 *
 * Programs are trees of statements (`Stmt`), rendered to text only at the end, so the minimiser can drop a
 * statement or unwrap a compound one and render again. Every loop carries a guard that is part of its
 * head text, so no cut of the minimiser can make a loop run forever.
 *
 * Constructs that are known to diverge today (each has an open fix) are generated only with
 * `known: true`, so the bounded run in CI tests what is claimed to work; `npm run fuzz -- --known` finds
 * them again.
 */
import { Rng } from './rng.ts';

/** A statement: plain text, or a compound `pre[0] bodies[0] pre[1] bodies[1] ... post`. */
export type Stmt = { code: string; feats: string[] } | { pre: string[]; bodies: Stmt[][]; post: string; feats: string[] };

export interface FuzzInput {
  query: Record<string, string>;
  body: unknown;
}

export interface Program {
  /** `p<n>`: the wrapper dispatches on it. */
  id: string;
  seed: number;
  body: Stmt[];
  /** The final expression returned (after `out`'s statements). */
  ret: string;
  inputs: FuzzInput[];
  /** How many of the inputs (the first ones) are traced before the build; default: the run's share. */
  traced?: number;
  /** A function-level 'use strict' (regression fixtures found in a strict module carry it). */
  strict?: boolean;
}

export interface GenOptions {
  /** Also generate constructs with known, not yet fixed divergences (see KNOWN_FEATURES). */
  known?: boolean;
  /** Requests per program. */
  requests?: number;
}

/**
 * Features that diverge today, and the divergence each one shows. The CI run leaves them out; a run with
 * `--known` generates them.
 */
export const KNOWN_FEATURES: Record<string, string> = {
  'switch-let': 'a `let` in a switch case is scoped to that case',
  'forin-delete': 'for-in visits keys deleted during the loop',
  'forof-live': 'for-of over a Set or Map misses entries added during the loop',
  'tdz-typeof': 'typeof of a binding in its temporal dead zone',
  'fn-strict': "a function-level 'use strict' directive is lost",
  'rest-param': 'a rest parameter fails the cargo build',
  'proto-key': '`__proto__` as a key of an assignment or Object.assign',
  'detached-async': 'a detached async function reads stale state',
};

const NUMS = [
  '0',
  '1',
  '2',
  '3',
  '7',
  '-1',
  '-5',
  '0.5',
  '0.1',
  '1.5',
  '10',
  '100',
  '255',
  '1e21',
  '2147483648',
  '4294967296',
  '1e-7',
  '123.456',
  'NaN',
  'Infinity',
  '-0',
  '0.3',
];
const STRS = ["''", "'a'", "'abc'", "'x-y'", "' pad '", "'ünï'", "'😀'", "'10'", "'3.5'", "'A,B,c'", "'key'", "'b'", "'1'", "'__'", "'a b'", "'Z'"];
const KEYS = ["'a'", "'b'", "'k'", "'2'", "'10'", "'1'", "'x y'", "'0'", "'length'", "'-1'", "'01'"];
const SEPS = ["''", "','", "' '", "'-'", "'b'", "'ab'"];

type T = 'num' | 'str' | 'bool' | 'arr' | 'sarr' | 'obj' | 'map' | 'set' | 'inst' | 'ctr';
const ALL_T: T[] = ['num', 'str', 'bool', 'arr', 'sarr', 'obj', 'map', 'set'];

interface Var {
  name: string;
  t: T;
  mutable: boolean;
  /** For `inst`: the class name; for helpers: the signature. */
  cls?: string;
}

interface Helper {
  name: string;
  args: T[];
  ret: T;
  isAsync: boolean;
}

interface ClassInfo {
  name: string;
  hasAccessor: boolean;
  hasPrivate: boolean;
  parent?: string;
}

const code = (c: string, ...feats: string[]): Stmt => ({ code: c, feats });

class Gen {
  private scopes: Map<string, Var>[] = [new Map()];
  private helpers: (Helper & { depth: number })[] = [];
  private classes: (ClassInfo & { depth: number })[] = [];
  private n = 0;
  /** Loops enclosing the statement being generated, innermost last (labels, or '' when unlabelled). */
  private loops: { label: string; loop: boolean }[] = [];
  /** Whether `await` may appear (inside the program's async function, not in a nested sync function). */
  private canAwait = true;
  private inFunction = 0;

  constructor(
    private r: Rng,
    private known: boolean,
  ) {}

  private fresh(prefix: string): string {
    return `${prefix}${this.n++}`;
  }

  declare(name: string, t: T, mutable: boolean, cls?: string): void {
    this.scopes[this.scopes.length - 1].set(name, { name, t, mutable, cls });
  }

  private vars(t: T, mutableOnly = false): Var[] {
    const seen = new Set<string>();
    const out: Var[] = [];
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      for (const v of this.scopes[i].values()) {
        if (seen.has(v.name)) continue;
        seen.add(v.name);
        if (v.t === t && (!mutableOnly || v.mutable)) out.push(v);
      }
    }
    return out;
  }

  private varOf(t: T): string | null {
    const vs = this.vars(t);
    return vs.length ? this.r.pick(vs).name : null;
  }

  private scoped<X>(fn: () => X): X {
    this.scopes.push(new Map());
    try {
      return fn();
    } finally {
      this.scopes.pop();
      // Helpers and classes are block-scoped like the variables.
      const depth = this.scopes.length;
      this.helpers = this.helpers.filter((h) => h.depth <= depth);
      this.classes = this.classes.filter((c) => c.depth <= depth);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Expressions

  expr(t: T, d = 0): string {
    switch (t) {
      case 'num':
        return this.num(d);
      case 'str':
        return this.str(d);
      case 'bool':
        return this.bool(d);
      case 'arr':
        return this.arr(d);
      case 'sarr':
        return this.sarr(d);
      case 'obj':
        return this.obj(d);
      case 'map':
        return this.map(d);
      case 'set':
        return `new Set(${this.arr(d + 1)})`;
      default:
        return this.num(d);
    }
  }

  private any(d: number): string {
    return this.expr(this.r.pick(ALL_T.filter((t) => t !== 'map' && t !== 'set')), d);
  }

  private leafNum(): string {
    const v = this.varOf('num');
    return v && this.r.chance(0.7) ? v : this.r.pick(NUMS);
  }

  private leafStr(): string {
    const v = this.varOf('str');
    return v && this.r.chance(0.7) ? v : this.r.pick(STRS);
  }

  private helperCall(ret: T, d: number): string | null {
    const hs = this.helpers.filter((h) => h.ret === ret && (!h.isAsync || this.canAwait));
    if (!hs.length) return null;
    const h = this.r.pick(hs);
    const call = `${h.name}(${h.args.map((a) => this.expr(a, d + 1)).join(', ')})`;
    return h.isAsync ? `(await ${call})` : call;
  }

  num(d: number): string {
    if (d > 2) return this.leafNum();
    const r = this.r;
    const x = (): string => this.num(d + 1);
    return r.weighted<() => string>([
      [6, () => this.leafNum()],
      [6, () => `(${x()} ${r.pick(['+', '-', '*', '/', '%'])} ${x()})`],
      [2, () => `(${x()} ${r.pick(['&', '|', '^', '<<', '>>', '>>>'])} ${x()})`],
      [1, () => `(${this.paren(x())} ** ${r.pick(['2', '0.5', '-1', '3'])})`],
      [1, () => `(${r.pick(['-', '~', '+'])} ${x()})`],
      [3, () => `Math.${r.pick(['floor', 'ceil', 'round', 'abs', 'sign', 'trunc', 'sqrt'])}(${x()})`],
      [2, () => `Math.${r.pick(['max', 'min'])}(${x()}, ${x()})`],
      [2, () => `${this.arr(d + 1)}.length`],
      [2, () => `${this.str(d + 1)}.length`],
      [2, () => `${this.str(d + 1)}.indexOf(${this.str(d + 1)})`],
      [1, () => `${this.str(d + 1)}.charCodeAt(${x()})`],
      [1, () => `(${this.str(d + 1)}.codePointAt(${r.pick(['0', '1', '2'])}) ?? -1)`],
      [2, () => `${this.arr(d + 1)}.indexOf(${x()})`],
      [2, () => `${r.pick(['parseInt', 'parseFloat', 'Number'])}(${this.str(d + 1)})`],
      [1, () => `parseInt(${this.str(d + 1)}, ${r.pick(['2', '16', '36', '10'])})`],
      [1, () => `(+ ${this.str(d + 1)})`],
      [2, () => `(${this.bool(d + 1)} ? ${x()} : ${x()})`],
      [2, () => `${this.arr(d + 1)}.reduce((acc, v) => acc ${r.pick(['+', '-', '*'])} v, ${this.leafNum()})`],
      [2, () => `(${this.arr(d + 1)}[${this.leafNum()}] ?? ${this.leafNum()})`],
      [1, () => `(${this.arr(d + 1)}.at(${this.leafNum()}) ?? 0)`],
      [2, () => `(${this.obj(d + 1)}[${r.pick(KEYS)}] ?? ${this.leafNum()})`],
      [2, () => (this.varOf('map') ? `(${this.varOf('map')}.get(${this.leafStr()}) ?? -1)` : this.leafNum())],
      [1, () => (this.varOf('map') ? `${this.varOf('map')}.size` : this.leafNum())],
      [1, () => (this.varOf('set') ? `${this.varOf('set')}.size` : this.leafNum())],
      [1, () => `${this.arr(d + 1)}.findIndex((v) => v ${r.pick(['>', '===', '<'])} ${this.leafNum()})`],
      [3, () => this.helperCall('num', d) ?? this.leafNum()],
      [2, () => this.instNum() ?? this.leafNum()],
      [1, () => (this.varOf('ctr') ? `${this.varOf('ctr')}.get()` : this.leafNum())],
      [1, () => `Object.keys(${this.obj(d + 1)}).length`],
      [1, () => `${this.sarr(d + 1)}.length`],
    ])();
  }

  private instNum(): string | null {
    const vs = this.vars('inst');
    if (!vs.length) return null;
    const v = this.r.pick(vs);
    const c = this.classes.find((k) => k.name === v.cls)!;
    const opts = [`${v.name}.x`, `${v.name}.sum()`];
    if (c.hasAccessor) opts.push(`${v.name}.double`);
    return this.r.pick(opts);
  }

  str(d: number): string {
    if (d > 2) return this.leafStr();
    const r = this.r;
    const s = (): string => this.str(d + 1);
    const n = (): string => this.num(d + 1);
    return r.weighted<() => string>([
      [6, () => this.leafStr()],
      [4, () => `(${s()} + ${r.chance(0.5) ? s() : n()})`],
      [2, () => `\`${r.pick(['', 'v=', '<'])}\${${this.any(d + 1)}}${r.pick(['', '!', '/'])}\${${n()}}\``],
      [2, () => `${s()}.slice(${this.leafNum()}${r.chance(0.5) ? `, ${this.leafNum()}` : ''})`],
      [1, () => `${s()}.substring(${this.leafNum()}, ${this.leafNum()})`],
      [2, () => `${s()}.${r.pick(['toUpperCase', 'toLowerCase', 'trim', 'trimStart', 'trimEnd'])}()`],
      [1, () => `${s()}.${r.pick(['padStart', 'padEnd'])}(${r.int(0, 9)}, ${r.pick(["'ab'", "'*'", "''", "'😀'"])})`],
      [1, () => `${s()}.repeat(${r.int(0, 3)})`],
      [1, () => `(${s()}.at(${this.leafNum()}) ?? '?')`],
      [1, () => `${s()}.charAt(${this.leafNum()})`],
      [2, () => `${s()}.split(${r.pick(SEPS)}).join(${r.pick(SEPS)})`],
      [1, () => `${s()}.split('').reverse().join('')`],
      [2, () => `${s()}.${r.pick(['replace', 'replaceAll'])}(${r.pick(STRS)}, ${r.pick(STRS)})`],
      [
        1,
        () =>
          `${s()}.replace(/${r.pick(['a+', '([a-z])(\\d)', '^\\s+|\\s+$', '[A-Z]'])}/${r.pick(['g', '', 'gi'])}, ${r.pick(["'_'", "'$1'", "'[$&]'", "''"])})`,
      ],
      [1, () => `JSON.stringify(${this.any(d + 1)}, null, ${r.pick(['2', "'--'", '0'])})`],
      [1, () => `[null, undefined, ${this.num(d + 1)}, [${this.leafNum()}, [${this.leafStr()}]]].join(${r.pick(SEPS)})`],
      [1, () => `String.fromCharCode(${this.leafNum()} & 127, 65)`],
      [3, () => `String(${n()})`],
      [2, () => `${this.paren(n())}.toFixed(${r.int(0, 4)})`],
      [1, () => `${this.paren(n())}.toString(${r.pick(['2', '16', '36', '7'])})`],
      [1, () => `${this.paren(n())}.toPrecision(${r.int(1, 6)})`],
      [3, () => `JSON.stringify(${this.any(d + 1)})`],
      [2, () => `${this.arr(d + 1)}.join(${r.chance(0.7) ? r.pick(SEPS) : ''})`],
      [1, () => `${this.sarr(d + 1)}.join(${r.pick(SEPS)})`],
      [1, () => `(typeof ${this.any(d + 1)})`],
      [2, () => `(${this.bool(d + 1)} ? ${s()} : ${s()})`],
      [3, () => this.helperCall('str', d) ?? this.leafStr()],
      [1, () => `Object.keys(${this.obj(d + 1)}).join()`],
      [1, () => `String(${this.arr(d + 1)})`],
      [
        1,
        () => {
          const v = this.vars('inst');
          return v.length ? `\`\${${r.pick(v).name}}\`` : this.leafStr();
        },
      ],
      [1, () => (this.varOf('map') ? `[...${this.varOf('map')}.keys()].join('|')` : this.leafStr())],
    ])();
  }

  private paren(e: string): string {
    return /^[A-Za-z_$][\w$]*$/.test(e) || e.startsWith('(') ? e : `(${e})`;
  }

  bool(d: number): string {
    if (d > 2) {
      const v = this.varOf('bool');
      return v && this.r.chance(0.6) ? v : this.r.pick(['true', 'false']);
    }
    const r = this.r;
    return r.weighted<() => string>([
      [5, () => `(${this.num(d + 1)} ${r.pick(['<', '<=', '>', '>=', '===', '!==', '==', '!='])} ${this.num(d + 1)})`],
      [2, () => `(${this.str(d + 1)} ${r.pick(['<', '>', '===', '!==', '=='])} ${this.str(d + 1)})`],
      [1, () => `(${this.num(d + 1)} ${r.pick(['==', '<', '!='])} ${this.str(d + 1)})`],
      [2, () => `${this.str(d + 1)}.${r.pick(['includes', 'startsWith', 'endsWith'])}(${this.str(d + 1)})`],
      [2, () => `${this.arr(d + 1)}.includes(${this.num(d + 1)})`],
      [1, () => `${this.arr(d + 1)}.${r.pick(['some', 'every'])}((v) => v ${r.pick(['>', '<', '==='])} ${this.leafNum()})`],
      [1, () => (this.varOf('set') ? `${this.varOf('set')}.has(${this.num(d + 1)})` : 'true')],
      [1, () => (this.varOf('map') ? `${this.varOf('map')}.has(${this.str(d + 1)})` : 'false')],
      [1, () => `(${r.pick(KEYS)} in ${this.obj(d + 1)})`],
      [1, () => `Object.hasOwn(${this.obj(d + 1)}, ${r.pick(KEYS)})`],
      [1, () => `Number.${r.pick(['isInteger', 'isFinite', 'isNaN', 'isSafeInteger'])}(${this.num(d + 1)})`],
      [1, () => `isNaN(${this.str(d + 1)})`],
      [1, () => `Array.isArray(${this.any(d + 1)})`],
      [1, () => `Object.is(${this.num(d + 1)}, ${r.pick(['-0', '0', 'NaN'])})`],
      [1, () => `/${r.pick(['^a', 'b+', '[0-9]', '\\s', 'x-?y', '^$', '[A-Z]{2}'])}/${r.pick(['', 'i'])}.test(${this.str(d + 1)})`],
      [2, () => `!${this.bool(d + 1)}`],
      [2, () => `(${this.bool(d + 1)} ${r.pick(['&&', '||'])} ${this.bool(d + 1)})`],
      [
        1,
        () => {
          const v = this.vars('inst');
          if (!v.length) return 'true';
          const i = r.pick(v);
          return `(${i.name} instanceof ${r.pick(this.classes).name})`;
        },
      ],
      [2, () => this.varOf('bool') ?? 'true'],
    ])();
  }

  arr(d: number): string {
    const v = this.varOf('arr');
    if (d > 2) return v ?? `[${this.leafNum()}, ${this.leafNum()}]`;
    const r = this.r;
    const lambdaNum = (): string =>
      this.scoped(() => {
        this.declare('v', 'num', false);
        const saved = this.canAwait;
        this.canAwait = false;
        try {
          return this.num(d + 2);
        } finally {
          this.canAwait = saved;
        }
      });
    return r.weighted<() => string>([
      [6, () => v ?? `[${this.leafNum()}]`],
      [2, () => `[${Array.from({ length: r.int(0, 4) }, () => this.num(d + 1)).join(', ')}]`],
      [2, () => `${this.arr(d + 1)}.slice(${this.leafNum()}${r.chance(0.5) ? `, ${this.leafNum()}` : ''})`],
      [2, () => `${this.arr(d + 1)}.map((v) => ${lambdaNum()})`],
      [1, () => `${this.arr(d + 1)}.map((v, i) => v * i)`],
      [2, () => `${this.arr(d + 1)}.filter((v) => v ${r.pick(['>', '<', '!=='])} ${this.leafNum()})`],
      [1, () => `${this.arr(d + 1)}.concat(${this.arr(d + 1)})`],
      [2, () => `[...${this.arr(d + 1)}, ${this.num(d + 1)}]`],
      [1, () => (this.varOf('set') ? `Array.from(${this.varOf('set')})` : `[]`)],
      [1, () => (this.varOf('set') ? `[...${this.varOf('set')}]` : `[]`)],
      [1, () => (this.varOf('map') ? `[...${this.varOf('map')}.values()]` : `[]`)],
      [2, () => `${this.arr(d + 1)}.slice().sort(${r.chance(0.7) ? r.pick(['(x, y) => x - y', '(x, y) => y - x']) : ''})`],
      [1, () => `${this.arr(d + 1)}.slice().reverse()`],
      [1, () => `Object.values(${this.obj(d + 1)})`],
      [1, () => `${this.str(d + 1)}.split('').map((c) => c.charCodeAt(0))`],
      [1, () => `Array.from({ length: ${r.int(0, 4)} }, (_, i) => i * ${this.leafNum()})`],
      [1, () => `${this.arr(d + 1)}.flatMap((v) => [v, -v])`],
      [1, () => `[${this.leafNum()}, [${this.leafNum()}, [${this.leafNum()}]]].flat(${r.pick(['', '2', 'Infinity'])})`],
    ])();
  }

  sarr(d: number): string {
    const v = this.varOf('sarr');
    if (d > 2) return v ?? `[${this.leafStr()}]`;
    const r = this.r;
    return r.weighted<() => string>([
      [5, () => v ?? `[${this.leafStr()}]`],
      [2, () => `[${Array.from({ length: r.int(0, 3) }, () => this.str(d + 1)).join(', ')}]`],
      [2, () => `Object.keys(${this.obj(d + 1)})`],
      [2, () => `${this.str(d + 1)}.split(${r.pick(SEPS)})`],
      [1, () => (this.varOf('map') ? `[...${this.varOf('map')}.keys()]` : '[]')],
      [1, () => `${this.sarr(d + 1)}.map((w) => w + ${this.leafStr()})`],
      [1, () => `${this.sarr(d + 1)}.slice().sort()`],
      [1, () => `${this.sarr(d + 1)}.filter((w) => w.length > ${r.int(0, 3)})`],
      [1, () => `Object.entries(${this.obj(d + 1)}).map(([k, v]) => k + '=' + v)`],
      [1, () => `${this.arr(d + 1)}.map(String)`],
      [1, () => `[...${this.str(d + 1)}]`],
      [1, () => `${this.str(d + 1)}.split(/${r.pick([',\\s*', '[aeiou]', '(-)', '\\d'])}/)`],
      [1, () => `(${this.str(d + 1)}.match(/${r.pick(['[a-z]+', '\\d', '.', '[^ ]+'])}/g) ?? [])`],
    ])();
  }

  obj(d: number): string {
    const v = this.varOf('obj');
    if (d > 2) return v ?? '{}';
    const r = this.r;
    const lit = (): string => `{ ${Array.from({ length: r.int(0, 3) }, () => `[${r.pick(KEYS)}]: ${this.num(d + 1)}`).join(', ')} }`;
    return r.weighted<() => string>([
      [5, () => v ?? lit()],
      [2, lit],
      [2, () => `{ ...${this.obj(d + 1)}, ${r.pick(['k', 'b', '3', 'z'])}: ${this.num(d + 1)} }`],
      [1, () => `Object.assign({}, ${this.obj(d + 1)}, ${lit()})`],
      [1, () => (this.varOf('map') ? `Object.fromEntries(${this.varOf('map')})` : lit())],
      [1, () => `Object.fromEntries(${this.arr(d + 1)}.map((v, i) => ['k' + i, v]))`],
      [1, () => `JSON.parse(JSON.stringify(${this.obj(d + 1)}))`],
    ])();
  }

  map(d: number): string {
    const r = this.r;
    return r.weighted<() => string>([
      [2, () => 'new Map()'],
      [2, () => `new Map([${Array.from({ length: r.int(1, 3) }, () => `[${this.str(d + 1)}, ${this.num(d + 1)}]`).join(', ')}])`],
      [2, () => `new Map(Object.entries(${this.obj(d + 1)}))`],
      [1, () => `new Map(${this.sarr(d + 1)}.map((w, i) => [w, i]))`],
    ])();
  }

  // ---------------------------------------------------------------------------------------------------
  // Statements

  block(size: number, d: number): Stmt[] {
    return this.scoped(() => {
      const out: Stmt[] = [];
      for (let i = 0; i < size; i++) out.push(this.stmt(d));
      return out;
    });
  }

  private decl(t: T, d: number): Stmt {
    const name = this.fresh(t === 'num' ? 'n' : t === 'str' ? 's' : t === 'bool' ? 'b' : t);
    const mutable = this.r.chance(0.6);
    const e = this.expr(t, d);
    const kw = mutable ? this.r.pick(['let', 'let', 'var']) : 'const';
    // `var` is function-scoped: only at the program's top level, where that is the same thing.
    const k = kw === 'var' && (this.scopes.length > 2 || this.inFunction) ? 'let' : kw;
    this.declare(name, t, mutable);
    return code(`${k} ${name} = ${e};`, 'scope');
  }

  private push(d: number): Stmt {
    return code(`out.push(${this.any(d)});`);
  }

  stmt(d: number): Stmt {
    const r = this.r;
    const deep = d >= 3;
    const choices: [number, () => Stmt][] = [
      [6, () => this.decl(r.pick(ALL_T), d)],
      [6, () => this.push(d)],
      [4, () => this.assign(d)],
      [3, () => this.mutate(d)],
    ];
    if (!deep) {
      choices.push(
        [3, () => this.ifStmt(d)],
        [3, () => this.forLoop(d)],
        [3, () => this.forOf(d)],
        [2, () => this.forIn(d)],
        [2, () => this.whileLoop(d)],
        [2, () => this.switchStmt(d)],
        [3, () => this.tryStmt(d)],
        [1, () => this.blockScope(d)],
        [1, () => this.labelled(d)],
        [1, () => this.mapSetLoop(d)],
      );
      if (this.inFunction === 0) {
        choices.push(
          [2, () => this.helper(d)],
          [2, () => this.closure(d)],
          [2, () => this.classDecl(d)],
          [1, () => this.accessorObj(d)],
          [1, () => this.loopClosures(d)],
        );
        if (this.canAwait) choices.push([2, () => this.asyncStmt(d)]);
      }
    }
    if (this.loops.length) choices.push([2, () => this.jump(d)]);
    // Rare: most corners make the request give up in Rust, which hides whatever else it does.
    if (this.r.chance(0.5)) choices.push([1, () => this.corner(d)]);
    if (this.known) {
      choices.push([1, () => this.knownStmt(d)]);
    }
    return r.weighted(choices)();
  }

  private assign(d: number): Stmt {
    const t = this.r.pick(ALL_T.filter((x) => x !== 'map' && x !== 'set'));
    const vs = this.vars(t, true);
    if (!vs.length) return this.decl(t, d);
    const v = this.r.pick(vs).name;
    if (t === 'num' && this.r.chance(0.4))
      return code(
        this.r.pick([`${v}++;`, `--${v};`, `${v} += ${this.num(d + 1)};`, `${v} *= ${this.num(d + 1)};`, `${v} ||= ${this.num(d + 1)};`, `${v} ??= 1;`]),
      );
    // Strings and arrays are cut to a bounded length, so loops cannot make them grow exponentially.
    if (t === 'str') return code(this.r.chance(0.4) ? `${v} = (${v} + ${this.str(d + 1)}).slice(0, 60);` : `${v} = ${this.str(d + 1)}.slice(0, 60);`);
    if (t === 'arr' || t === 'sarr') return code(`${v} = ${this.expr(t, d + 1)}.slice(0, 20);`);
    return code(`${v} = ${this.expr(t, d + 1)};`);
  }

  /** A mutation of an array, object, Map or Set in scope (or an instance's state). */
  private mutate(d: number): Stmt {
    const r = this.r;
    const a = this.varOf('arr');
    const o = this.varOf('obj');
    const m = this.varOf('map');
    const s = this.varOf('set');
    const inst = this.vars('inst');
    const opts: [number, () => Stmt][] = [[1, () => this.push(d)]];
    if (a) {
      opts.push(
        [3, () => code(`if (${a}.length < 30) ${a}.push(${this.num(d + 1)});`, 'array')],
        [1, () => code(`out.push(${a}.${r.pick(['pop', 'shift'])}());`, 'array')],
        [1, () => code(`if (${a}.length < 30) ${a}.unshift(${this.num(d + 1)});`, 'array')],
        [2, () => code(`out.push(${a}.splice(${this.leafNum()}, ${r.int(0, 2)}${r.chance(0.5) ? `, ${this.num(d + 1)}` : ''}));`, 'array')],
        [1, () => code(`${a}.sort(${r.pick(['', '(x, y) => x - y', '(x, y) => y - x'])});`, 'array')],
        [1, () => code(`${a}.reverse();`, 'array')],
        [1, () => code(`${a}.fill(${this.leafNum()}, ${r.int(0, 2)});`, 'array')],
        [2, () => code(`${a}[${r.pick(['0', '1', `${a}.length - 1`, `${a}.length`])}] = ${this.num(d + 1)};`, 'array')],
        [1, () => code(`${a}.length = Math.min(${a}.length, ${r.int(0, 3)});`, 'array')],
      );
    }
    if (o) {
      opts.push(
        [3, () => code(`${o}[${r.pick(KEYS)}] = ${this.num(d + 1)};`, 'object')],
        [1, () => code(`${o}.${r.pick(['k', 'z', 'q'])} = ${this.num(d + 1)};`, 'object')],
        [1, () => code(`delete ${o}[${r.pick(KEYS)}];`, 'object')],
        [1, () => code(`Object.assign(${o}, { [${this.str(d + 1)}]: ${this.num(d + 1)} });`, 'object')],
      );
    }
    if (m) {
      opts.push(
        [3, () => code(`${m}.set(${this.str(d + 1)}, ${this.num(d + 1)});`, 'map')],
        [1, () => code(`out.push(${m}.delete(${this.str(d + 1)}));`, 'map')],
        [1, () => code(`${m}.forEach((v, k) => out.push(k + ':' + v));`, 'map')],
      );
    }
    if (s) {
      opts.push(
        [3, () => code(`${s}.add(${this.num(d + 1)});`, 'set')],
        [1, () => code(`out.push(${s}.delete(${this.num(d + 1)}));`, 'set')],
        [1, () => code(`out.push([...${s}].join());`, 'set')],
      );
    }
    if (inst.length) {
      const i = r.pick(inst);
      const c = this.classes.find((k) => k.name === i.cls)!;
      opts.push([2, () => code(`${i.name}.add(${this.num(d + 1)});`, 'class')]);
      opts.push([1, () => code(`${i.name}.x = ${this.num(d + 1)};`, 'class')]);
      if (c.hasAccessor) opts.push([2, () => code(`${i.name}.double = ${this.num(d + 1)};`, 'accessor')]);
    }
    const ctr = this.varOf('ctr');
    if (ctr) opts.push([2, () => code(`out.push(${ctr}.inc(${this.num(d + 1)}));`, 'closure')]);
    return r.weighted(opts)();
  }

  private ifStmt(d: number): Stmt {
    const c = this.bool(d);
    const then = this.block(this.r.int(1, 3), d + 1);
    if (this.r.chance(0.5)) return { pre: [`if (${c}) {`], bodies: [then], post: '}', feats: ['if'] };
    const els = this.block(this.r.int(1, 3), d + 1);
    return { pre: [`if (${c}) {`, '} else {'], bodies: [then, els], post: '}', feats: ['if'] };
  }

  /** `{ let gN = 0; <loop head> { if (++gN > LIMIT) break; ... } }`: the guard is part of the head. */
  private guarded(head: string, body: () => Stmt[], feats: string[], label = ''): Stmt {
    const g = this.fresh('g');
    this.loops.push({ label, loop: true });
    try {
      const b = body();
      return { pre: [`{ let ${g} = 0; ${label ? `${label}: ` : ''}${head} { if (++${g} > 12) break;`], bodies: [b], post: '} }', feats };
    } finally {
      this.loops.pop();
    }
  }

  private forLoop(d: number): Stmt {
    const i = this.fresh('i');
    const bound = this.r.pick([String(this.r.int(0, 5)), `Math.min(${this.arr(d + 1)}.length, 6)`, `${this.leafNum()}`]);
    const step = this.r.pick([`${i}++`, `${i} += 2`, `${i} = ${i} + 1`]);
    return this.scoped(() => {
      this.declare(i, 'num', false);
      return this.guarded(`for (let ${i} = 0; ${i} < ${bound}; ${step})`, () => this.block(this.r.int(1, 3), d + 1), ['loop']);
    });
  }

  /** for-of over an array, often one that the body mutates. */
  private forOf(d: number): Stmt {
    const a = this.varOf('arr');
    const src = a ?? this.arr(d + 1);
    const v = this.fresh('v');
    return this.scoped(() => {
      this.declare(v, 'num', false);
      return this.guarded(
        `for (const ${v} of ${src})`,
        () => {
          const b = this.block(this.r.int(1, 3), d + 1);
          if (a && this.r.chance(0.6)) {
            b.push(
              code(
                this.r.pick([
                  `if (${a}.length < 9) ${a}.push(${v} + 1);`,
                  `if (${v} ${this.r.pick(['>', '<'])} ${this.leafNum()}) ${a}.pop();`,
                  `if (${a}.length < 9) ${a}.unshift(${v});`,
                  `${a}.splice(0, 1);`,
                  `${a}[0] = ${v} * 2;`,
                ]),
                'loop-mutation',
              ),
            );
          }
          return b;
        },
        ['loop', 'for-of'],
      );
    });
  }

  private forIn(d: number): Stmt {
    const o = this.varOf('obj');
    const src = o ?? this.obj(d + 1);
    const k = this.fresh('k');
    return this.scoped(() => {
      this.declare(k, 'str', false);
      return this.guarded(
        `for (const ${k} in ${src})`,
        () => {
          const b = this.block(this.r.int(1, 2), d + 1);
          if (o && this.r.chance(0.5)) b.push(code(`if (${k}.length < 4) ${o}[${k} + '_'] = 1;`, 'loop-mutation'));
          if (o && this.r.chance(0.3)) b.push(code(`${o}[${k}] = ${this.num(d + 1)};`, 'loop-mutation'));
          return b;
        },
        ['loop', 'for-in'],
      );
    });
  }

  private whileLoop(d: number): Stmt {
    const c = this.bool(d + 1);
    const body = (): Stmt[] => this.block(this.r.int(1, 3), d + 1);
    if (this.r.chance(0.5)) return this.guarded(`while (${c})`, body, ['loop']);
    // do-while: the guard goes inside the body too.
    const g = this.fresh('g');
    this.loops.push({ label: '', loop: true });
    try {
      const b = body();
      return { pre: [`{ let ${g} = 0; do { if (++${g} > 12) break;`], bodies: [b], post: `} while (${c}); }`, feats: ['loop'] };
    } finally {
      this.loops.pop();
    }
  }

  private labelled(d: number): Stmt {
    const label = this.fresh('L');
    const i = this.fresh('i');
    const j = this.fresh('j');
    return this.scoped(() => {
      this.declare(i, 'num', false);
      return this.guarded(
        `for (let ${i} = 0; ${i} < ${this.r.int(1, 4)}; ${i}++)`,
        () => {
          const inner = this.scoped(() => {
            this.declare(j, 'num', false);
            return this.guarded(
              `for (let ${j} = 0; ${j} < ${this.r.int(1, 4)}; ${j}++)`,
              () => {
                const b = this.block(this.r.int(0, 2), d + 2);
                b.push(code(`if (${this.bool(d + 2)}) ${this.r.pick(['continue', 'break'])} ${label};`, 'label'));
                b.push(code(`out.push(${i} * 10 + ${j});`));
                return b;
              },
              ['loop'],
            );
          });
          return [inner];
        },
        ['loop', 'label'],
        label,
      );
    });
  }

  private jump(d: number): Stmt {
    const labels = this.loops.filter((l) => l.label).map((l) => l.label);
    const target = labels.length && this.r.chance(0.3) ? ` ${this.r.pick(labels)}` : '';
    // `continue` needs a loop; a switch only takes `break`.
    const kw = this.loops.some((l) => l.loop) ? this.r.pick(['break', 'continue']) : 'break';
    return code(`if (${this.bool(d + 1)}) ${kw}${target};`, 'jump');
  }

  private switchStmt(d: number): Stmt {
    const onNum = this.r.chance(0.5);
    const disc = onNum ? `${this.paren(this.num(d + 1))} % 4` : this.str(d + 1);
    const labels = onNum ? ['0', '1', '2', '3', '-1', "'1'", 'NaN'] : [...STRS];
    const cases: string[] = [];
    const used = new Set<string>();
    const nCases = this.r.int(1, 4);
    for (let i = 0; i < nCases; i++) {
      const l = this.r.pick(labels);
      if (!used.has(l)) {
        used.add(l);
        cases.push(`case ${l}:`);
      }
    }
    if (this.r.chance(0.6)) cases.splice(this.r.int(0, cases.length), 0, 'default:');
    const pre: string[] = [];
    const bodies: Stmt[][] = [];
    this.loops.push({ label: '', loop: false }); // `break` leaves the switch
    try {
      cases.forEach((c, i) => {
        // Each case's statements sit in a block, so no `let` is shared between cases.
        const b = this.block(this.r.int(0, 2), d + 1);
        if (this.r.chance(0.6)) b.push(code('break;'));
        pre.push(`${i === 0 ? `switch (${disc}) { ` : '} '}${c} {`);
        bodies.push(b);
      });
    } finally {
      this.loops.pop();
    }
    return { pre, bodies, post: '} }', feats: ['switch'] };
  }

  private tryStmt(d: number): Stmt {
    const r = this.r;
    const e = this.fresh('e');
    const thrower = r.weighted<() => string>([
      [8, () => `if (${this.bool(d + 1)}) throw new ${r.pick(['Error', 'TypeError', 'RangeError'])}(${this.str(d + 1)});`],
      [3, () => `if (${this.bool(d + 1)}) throw ${this.any(d + 1)};`],
      [1, () => `out.push(JSON.parse(${this.str(d + 1)}));`],
      [1, () => `out.push(${this.paren(this.num(d + 1))}.toFixed(${r.pick(['101', '-1', '2'])}));`],
      [1, () => `out.push(${r.pick(['null', 'undefined', '({})'])}.missing.x);`],
      [1, () => `out.push(${this.str(d + 1)}.repeat(${r.pick(['-1', '2', 'Infinity'])}));`],
      [1, () => `out.push(new Array(${r.pick(['-1', '2', '1.5'])}).length);`],
    ])();
    const tryBody = [...this.block(r.int(0, 2), d + 1), code(thrower, 'throw'), ...this.block(r.int(0, 1), d + 1)];
    const catchBody = this.scoped(() => {
      this.declare(e, 'num', false); // typed loosely: only pushed and inspected below
      return [
        code(
          r.pick([
            `out.push(${e} instanceof Error ? ${e}.name + ': ' + ${e}.message : ${e});`,
            `out.push(String(${e}));`,
            `out.push(typeof ${e});`,
            `out.push(${e} instanceof TypeError);`,
          ]),
          'try',
        ),
        ...this.block(r.int(0, 1), d + 1),
      ];
    });
    if (r.chance(0.5)) {
      const fin = this.block(r.int(1, 2), d + 1);
      return { pre: ['try {', `} catch (${e}) {`, '} finally {'], bodies: [tryBody, catchBody, fin], post: '}', feats: ['try', 'finally'] };
    }
    return { pre: ['try {', `} catch (${e}) {`], bodies: [tryBody, catchBody], post: '}', feats: ['try'] };
  }

  private blockScope(d: number): Stmt {
    // Shadow a visible name in an inner block.
    const vs = [...this.vars('num'), ...this.vars('str')];
    const inner: Stmt[] = this.scoped(() => {
      const out: Stmt[] = [];
      if (vs.length) {
        const v = this.r.pick(vs);
        // The initialiser must not read the name it shadows (that would be a TDZ error, not a shadow).
        let init = this.expr(v.t, d + 1);
        if (new RegExp(`\\b${v.name}\\b`).test(init)) init = v.t === 'num' ? '1' : "'shadow'";
        out.push(code(`let ${v.name} = ${init};`, 'scope'));
        this.declare(v.name, v.t, true);
      }
      for (let i = 0; i < this.r.int(1, 3); i++) out.push(this.stmt(d + 1));
      return out;
    });
    return { pre: ['{'], bodies: [inner], post: '}', feats: ['scope'] };
  }

  /** A helper function (num, num) -> num or (str) -> str, with its own statements, some with try/finally. */
  private helper(d: number): Stmt {
    const r = this.r;
    const name = this.fresh('h');
    const isAsync = r.chance(0.3);
    const ret: T = r.pick(['num', 'str']);
    const args: T[] = ret === 'num' ? ['num', 'num'] : ['str'];
    const params = args.map((_, i) => `${name}a${i}`);
    const saved = this.canAwait;
    this.inFunction++;
    this.canAwait = isAsync;
    const savedLoops = this.loops;
    this.loops = [];
    let body: Stmt[];
    let result: string;
    try {
      body = this.scoped(() => {
        params.forEach((p, i) => this.declare(p, args[i], true));
        const b = this.block(r.int(0, 3), d + 1);
        if (isAsync && r.chance(0.7)) b.unshift(code(r.pick(['await null;', `await Promise.resolve(${params[0]});`]), 'async'));
        return b;
      });
      result = this.scoped(() => {
        params.forEach((p, i) => this.declare(p, args[i], true));
        return this.expr(ret, d + 1);
      });
    } finally {
      this.inFunction--;
      this.canAwait = saved;
      this.loops = savedLoops;
    }
    this.helpers.push({ name, args, ret, isAsync, depth: this.scopes.length });
    const head = `${isAsync ? 'async ' : ''}function ${name}(${params.join(', ')}) {`;
    if (r.chance(0.3)) {
      // try/finally around the body: the finally runs after the return value is computed.
      return {
        pre: [`${head} try {`, '} finally {'],
        bodies: [[...body, code(`return ${result};`)], [code(`out.push('fin:${name}');`, 'finally')]],
        post: '} }',
        feats: ['function', 'finally'],
      };
    }
    return { pre: [head], bodies: [[...body, code(`return ${result};`)]], post: '}', feats: ['function'] };
  }

  private closure(d: number): Stmt {
    const name = this.fresh('c');
    const mk = this.fresh('mk');
    const step = this.r.pick(['(c += by)', '(c = c * 2 + by)', '(c -= by, c)']);
    const start = this.num(d + 1);
    this.declare(name, 'ctr', false);
    return code(`const ${mk} = (start) => { let c = start; return { inc: (by) => ${step}, get: () => c }; }; const ${name} = ${mk}(${start});`, 'closure');
  }

  private loopClosures(d: number): Stmt {
    const fns = this.fresh('fs');
    const kw = this.r.pick(['let', 'var']);
    const i = this.fresh('i');
    const k = kw === 'var' && this.scopes.length > 2 ? 'let' : kw;
    return code(
      `const ${fns} = []; for (${k} ${i} = 0; ${i} < ${this.r.int(1, 4)}; ${i}++) { ${fns}.push(() => ${i} * ${this.leafNum()}); } out.push(${fns}.map((f) => f()));`,
      'closure',
    );
  }

  private accessorObj(d: number): Stmt {
    const name = this.fresh('ao');
    const stmts = [
      `const ${name} = { _v: ${this.num(d + 1)}, get v() { return this._v * 2; }, set v(x) { this._v = x + 1; }, log: [] };`,
      `${name}.v = ${this.num(d + 1)};`,
      `out.push(${name}.v, Object.keys(${name}).join(), JSON.stringify(${name}));`,
    ];
    return code(stmts.join(' '), 'accessor');
  }

  private classDecl(d: number): Stmt {
    const r = this.r;
    const name = this.fresh('K');
    const hasAccessor = r.chance(0.6);
    const hasPrivate = r.chance(0.4);
    const parent = this.classes.length && r.chance(0.4) ? r.pick(this.classes) : undefined;
    const members: string[] = [];
    const f = `this.${hasPrivate ? '#t' : '_t'}`;
    if (hasPrivate) members.push('#t = 0;');
    if (parent) {
      members.push(`constructor(x) { super(x ${r.pick(['+', '*', '-'])} 1); ${f} = 1; }`);
      members.push(`add(v) { super.add(v); ${f} += v; return this; }`);
      members.push(`sum() { return super.sum() + ${f}; }`);
    } else {
      members.push(`constructor(x) { this.x = x; ${f} = 0; }`);
      members.push(`add(v) { this.x = this.x + v; ${f}++; return this; }`);
      members.push(`sum() { return this.x + ${f}; }`);
    }
    if (hasAccessor) members.push(`get double() { return this.x * 2; }`, `set double(v) { this.x = v / 2; }`);
    members.push(`toString() { return '${name}(' + this.x + ')'; }`);
    members.push(`static of(v) { return new ${name}(v); }`);
    const info = { name, hasAccessor: hasAccessor || (parent?.hasAccessor ?? false), hasPrivate, parent: parent?.name, depth: this.scopes.length };
    this.classes.push(info);
    const inst = this.fresh('o');
    const ctor = r.chance(0.3) ? `${name}.of(${this.num(d + 1)})` : `new ${name}(${this.num(d + 1)})`;
    this.declare(inst, 'inst', false, name);
    const feats = ['class'];
    if (hasAccessor) feats.push('accessor');
    if (parent) feats.push('inherit');
    if (hasPrivate) feats.push('private');
    return code(`class ${name}${parent ? ` extends ${parent.name}` : ''} { ${members.join(' ')} } const ${inst} = ${ctor};`, ...feats);
  }

  private mapSetLoop(d: number): Stmt {
    const m = this.varOf('map');
    const s = this.varOf('set');
    if (m && (!s || this.r.chance(0.5))) {
      const k = this.fresh('k');
      const v = this.fresh('v');
      return this.scoped(() => {
        this.declare(k, 'str', false);
        this.declare(v, 'num', false);
        return this.guarded(`for (const [${k}, ${v}] of ${m})`, () => this.block(this.r.int(1, 2), d + 1), ['loop', 'map']);
      });
    }
    if (s) {
      const v = this.fresh('v');
      return this.scoped(() => {
        this.declare(v, 'num', false);
        return this.guarded(`for (const ${v} of ${s})`, () => this.block(this.r.int(1, 2), d + 1), ['loop', 'set']);
      });
    }
    return this.decl(this.r.pick(['map', 'set']), d);
  }

  /** Awaits in a fixed order (no detached work: see KNOWN_FEATURES['detached-async']). */
  private asyncStmt(d: number): Stmt {
    const r = this.r;
    const name = this.fresh('n');
    const s = r.weighted<() => Stmt>([
      [2, () => code(`let ${name} = await Promise.resolve(${this.num(d + 1)});`, 'async')],
      [2, () => code(`let ${name} = await Promise.resolve(${this.num(d + 1)}).then((v) => v ${r.pick(['+', '*'])} 2);`, 'async')],
      [1, () => code(`let ${name} = (await Promise.all([${this.num(d + 1)}, Promise.resolve(${this.num(d + 1)})])).reduce((a, b) => a + b, 0);`, 'async')],
      [
        1,
        () =>
          code(
            `let ${name} = 0; try { await Promise.reject(new Error(${this.str(d + 1)})); } catch (err) { out.push(err.message); ${name} = 1; }`,
            'async',
            'try',
          ),
      ],
      [1, () => code(`let ${name} = await (async () => { await null; return ${this.num(d + 1)}; })();`, 'async', 'closure')],
      // Interleavings: Node's order, or the runtime gives up (it must never answer another order).
      [
        1,
        () =>
          code(
            `let ${name} = 0; { const log = []; const step = async (tag, v) => { log.push(tag + 1); await ${r.pick(['null', 'Promise.resolve()'])}; log.push(tag + 2); return v; }; const rs = await Promise.all([step('a', ${this.num(d + 1)}), step('b', ${this.num(d + 1)})]); out.push(log.join(), rs); ${name} = rs.length; }`,
            'async',
            'async-order',
          ),
      ],
      [
        1,
        () =>
          code(
            `let ${name} = 0; { const log = []; const pr = Promise.resolve(${this.num(d + 1)}).then((v) => { log.push('then'); return v; }); log.push('sync'); ${name} = await pr; out.push(log.join()); }`,
            'async',
            'async-order',
          ),
      ],
      [
        1,
        () =>
          code(
            `let ${name} = 0; { const box = { v: ${this.num(d + 1)} }; const pr = (async () => { const seen = box.v; await null; return [seen, box.v]; })(); box.v = ${this.num(d + 1)}; out.push(await pr); ${name} = box.v; }`,
            'async',
            'async-order',
          ),
      ],
    ])();
    this.declare(name, 'num', true);
    return s;
  }

  /** Corners where strict and sloppy code differ, holes, sorting with odd comparators, for-in over instances. */
  private corner(d: number): Stmt {
    const r = this.r;
    const a = this.varOf('arr');
    const inst = this.varOf('inst');
    const catchOut = "catch (err) { out.push(err instanceof TypeError ? 'TypeError' : String(err)); }";
    return r.weighted<() => Stmt>([
      [
        1,
        () =>
          code(
            `{ const ro = { get v() { return ${this.leafNum()}; } }; try { ro.v = ${this.num(d + 1)}; out.push('wrote', ro.v); } ${catchOut} }`,
            'accessor',
            'strictness',
          ),
      ],
      [
        1,
        () =>
          code(
            `{ const fz = Object.freeze({ k: ${this.leafNum()}, arr: [1] }); try { fz.k = ${this.num(d + 1)}; fz.arr.push(2); out.push(fz.k, fz.arr); } ${catchOut} }`,
            'object',
            'strictness',
          ),
      ],
      [1, () => code(`{ const st = ${this.str(d + 1)}; try { st.extra = 1; out.push(st.extra); } ${catchOut} }`, 'string', 'strictness')],
      [1, () => code(`{ const frozen = Object.freeze([${this.leafNum()}, 2]); try { frozen.push(3); } ${catchOut} out.push(frozen); }`, 'array', 'strictness')],
      [
        2,
        () =>
          a
            ? code(
                `if (${a}.length > 1) { delete ${a}[${r.pick(['0', '1', `${a}.length - 1`])}]; out.push(${a}.length, JSON.stringify(${a}), ${a}.indexOf(undefined), ${a}.includes(undefined), Object.keys(${a}).join()); }`,
                'array',
                'holes',
              )
            : this.push(d),
      ],
      [
        1,
        () =>
          a
            ? code(
                `{ const holey = [${this.leafNum()}, , ${this.leafNum()}]; holey[5] = 1; out.push(holey.length, holey.map((v) => v * 2), String(holey), holey.filter(() => true).length); }`,
                'array',
                'holes',
              )
            : this.push(d),
      ],
      [
        3,
        () =>
          code(
            `out.push(${this.arr(d + 1)}.slice().sort(${r.pick(['(x, y) => x > y', '(x, y) => (x < y ? 1 : 0)', '() => 0', '(x, y) => y', '(x, y) => (x % 3) - (y % 3)'])}));`,
            'array',
            'sort',
          ),
      ],
      [1, () => code(`out.push([${this.leafStr()}, ${this.leafNum()}, undefined, null, ${this.leafStr()}].sort());`, 'array', 'sort')],
      [
        1,
        () =>
          inst
            ? code(`{ const ks = []; for (const k in ${inst}) ks.push(k); out.push(ks.join(), Object.keys(${inst}).length); }`, 'class', 'for-in')
            : this.push(d),
      ],
      [
        1,
        () =>
          code(
            `out.push(Math.round(${r.pick(['-0.5', '2.5', '-2.5', '0.49999999999999994'])}), Object.is(Math.round(-0.4), -0), (${this.leafNum()}).toString(${r.pick(['2', '3', '36'])}));`,
            'number',
          ),
      ],
    ])();
  }

  /** Constructs with a known divergence (KNOWN_FEATURES). */
  private knownStmt(d: number): Stmt {
    const r = this.r;
    const o = this.varOf('obj');
    const s = this.varOf('set');
    return r.weighted<() => Stmt>([
      [
        1,
        () => {
          const x = this.fresh('w');
          return code(
            `switch (${this.num(d + 1)} % 2) { case 0: let ${x} = ${this.str(d + 1)}; case 1: out.push(typeof ${x} === 'string' ? 1 : 2); }`,
            'switch-let',
          );
        },
      ],
      [
        1,
        () => {
          const k = this.fresh('k');
          return o ? code(`for (const ${k} in ${o}) { out.push(${k}); delete ${o}[${r.pick(KEYS)}]; }`, 'forin-delete') : this.push(d);
        },
      ],
      [
        1,
        () => {
          const v = this.fresh('v');
          return s
            ? code(`{ let g = 0; for (const ${v} of ${s}) { if (++g > 20) break; out.push(${v}); if (${v} < 5) ${s}.add(${v} + 10); } }`, 'forof-live')
            : this.push(d);
        },
      ],
      [1, () => code(`try { out.push(typeof late${this.n}); } catch (err) { out.push(err.name); } let late${this.n++} = 1;`, 'tdz-typeof')],
      [1, () => code(`out.push(((...xs) => xs.length)(${this.num(d + 1)}, ${this.num(d + 1)}));`, 'rest-param')],
      [
        1,
        () => code(`{ const t = {}; t[${r.pick(["'__proto__'", "'a'"])}] = { polluted: 1 }; out.push(t.polluted ?? 0, Object.keys(t).join()); }`, 'proto-key'),
      ],
      [
        1,
        () =>
          this.canAwait
            ? code(
                `{ const st = { c: ${this.num(d + 1)} }; const pr = (async () => { await null; return st.c; })(); st.c = ${this.num(d + 1)}; out.push(await pr); }`,
                'detached-async',
              )
            : this.push(d),
      ],
      [
        1,
        () =>
          code(`out.push((function (q) { 'use strict'; try { Object.freeze(q).z = 1; return 'wrote'; } catch (err) { return err.name; } })({}));`, 'fn-strict'),
      ],
    ])();
  }
}

// -------------------------------------------------------------------------------------------------------
// Inputs

const INPUT_STRS = ['', 'a', 'abc', 'x-y', 'Hello World', '  42  ', '3.5', '1e3', '0x1f', 'ünïcödé', '😀b', 'A,B,c', 'key', '-0', 'NaN', '10', 'b', 'Z'];
const INPUT_NUMS = [0, 1, 2, 3, -1, 7, 0.5, -2.5, 10, 100, 1e21, 1e-7, 2147483648, 4294967295, 123.456, -0, 9007199254740993, 0.1];

function inputValue(r: Rng, t: T): unknown {
  switch (t) {
    case 'num':
      return r.chance(0.7) ? r.pick(INPUT_NUMS) : r.int(-50, 50) / (r.chance(0.3) ? 4 : 1);
    case 'str':
      return r.chance(0.8) ? r.pick(INPUT_STRS) : String.fromCharCode(...Array.from({ length: r.int(0, 5) }, () => r.int(32, 126)));
    case 'bool':
      return r.chance(0.5);
    case 'arr':
      return Array.from({ length: r.int(0, 5) }, () => inputValue(r, 'num'));
    case 'sarr':
      return Array.from({ length: r.int(0, 4) }, () => inputValue(r, 'str'));
    case 'obj': {
      const o: Record<string, unknown> = {};
      for (let i = r.int(0, 4); i > 0; i--) o[r.pick(['a', 'b', 'k', '2', '10', '1', 'x y', '0'])] = inputValue(r, 'num');
      return o;
    }
    default:
      return null;
  }
}

/** The inputs' fields and their usual types; now and then a field carries another type, or is missing. */
const FIELDS: [string, T][] = [
  ['a', 'num'],
  ['b', 'num'],
  ['s', 'str'],
  ['t', 'str'],
  ['xs', 'arr'],
  ['ws', 'sarr'],
  ['o', 'obj'],
  ['f', 'bool'],
];

function input(r: Rng, id: string): FuzzInput {
  const body: Record<string, unknown> = {};
  for (const [k, t] of FIELDS) {
    if (r.chance(0.01)) continue;
    body[k] = r.chance(0.02) ? inputValue(r, r.pick(ALL_T.slice(0, 6))) : inputValue(r, t);
  }
  return { query: { p: id, q: r.pick(INPUT_STRS.filter((s) => /^[\x21-\x7e]*$/.test(s))) }, body };
}

// -------------------------------------------------------------------------------------------------------
// Programs

export function generateProgram(id: string, seed: number, opts: GenOptions = {}): Program {
  const r = new Rng(seed);
  const g = new Gen(r, !!opts.known);
  // The prelude declares the inputs; it is not part of `body`, so the minimiser keeps it.
  for (const [k, t] of FIELDS) g.declare(k, t, true);
  g.declare('q', 'str', false);
  const body = g.block(r.int(3, 10), 0);
  const ret = r.pick(['out', 'out', 'out', `{ out, n: ${g.num(1)} }`]);
  const inputs = Array.from({ length: opts.requests ?? 50 }, () => input(r, id));
  return { id, seed, body, ret, inputs };
}

export function renderStmts(list: Stmt[], indent: string): string {
  const out: string[] = [];
  for (const s of list) {
    if ('code' in s) {
      out.push(indent + s.code);
      continue;
    }
    s.pre.forEach((p, i) => {
      out.push(indent + p);
      out.push(renderStmts(s.bodies[i] ?? [], indent + '  '));
    });
    out.push(indent + s.post);
  }
  return out.filter((l) => l.trim() !== '').join('\n');
}

/** The program as an async function declaration named by its id. */
export function renderProgram(p: Program): string {
  return [
    `async function ${p.id}(event, context) {`,
    ...(p.strict ? ["  'use strict';"] : []),
    '  const input = event.body ?? {};',
    '  let { a, b, s, t, xs, ws, o, f } = input;',
    "  const q = event.query.q ?? '';",
    '  const out = [];',
    renderStmts(p.body, '  '),
    `  return ${p.ret};`,
    '}',
  ].join('\n');
}

/** Which features a statement list uses. */
export function featuresOf(list: Stmt[]): Set<string> {
  const out = new Set<string>();
  const walk = (xs: Stmt[]): void => {
    for (const s of xs) {
      for (const f of s.feats) out.add(f);
      if ('bodies' in s) s.bodies.forEach(walk);
    }
  };
  walk(list);
  return out;
}

/** Statement count (compound statements count once, plus their contents). */
export function sizeOf(list: Stmt[]): number {
  let n = 0;
  for (const s of list) n += 1 + ('bodies' in s ? s.bodies.reduce((a, b) => a + sizeOf(b), 0) : 0);
  return n;
}
