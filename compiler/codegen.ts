/**
 * Code generation: a trace tree (TraceIR) becomes the main.rs of a Rust crate that links the runtime
 * (`clrt`) and serves the function with `clrt::dispatcher::main`.
 *
 * Every JavaScript function of the tree becomes one Rust function `fN(cx, call)`; the module's top level is
 * `f0`. Variables captured by closures live in environment objects on the request's heap; the others are
 * Rust locals. Each expression becomes a Rust block that evaluates its operands into temporaries left to
 * right (so `cx` is borrowed once at a time) and calls the runtime's abstract operation. At every site the
 * code re-checks what the trace observed — operand types, the callee reached — and gives up otherwise; a
 * pruned branch (`ClUnknown`) gives up when reached.
 *
 * Where the program or the trace says what a value is, it is not a tagged `Value`: bindings that only hold
 * numbers are f64 locals (findNumericBindings); an array that never leaves its function is a `Vec<bool>` or
 * `Vec<f64>` (findLocalArrays); an operator whose operands the trace saw only as numbers computes on f64s,
 * its type guard yielding the number (`ops::guard_num`); tests are Rust bools (`cond`). Each still gives up
 * on what it does not cover, so the answer is Node's or none.
 *
 * No user text reaches the Rust source: string constants are emitted as UTF-16 code unit arrays and
 * identifiers are rebuilt from [A-Za-z0-9_] with a numeric suffix.
 */
import { contract } from '../lib/index.ts';
import { TAG, type Diagnostic, type SiteObs, type TraceIR, type UntypedNode as Node } from '../trace/index.ts';

export interface Generated {
  /** The crate's src/main.rs. */
  main: string;
  diagnostics: Diagnostic[];
  /** Number of compiled functions (including the module's top level). */
  functions: number;
}

let builtinSet: Set<string> | null = null;
/** The builtins the runtime models (runtime/contract.json). */
function builtins(): Set<string> {
  if (!builtinSet) builtinSet = new Set(contract().builtins.map((b) => b.name));
  return builtinSet;
}

/** Globals that are not builtin functions but values. */
const VALUE_GLOBALS = new Set([
  'NaN',
  'Infinity',
  'Math',
  'JSON',
  'console',
  'Number',
  'String',
  'Object',
  'Array',
  'Promise',
  'Date',
  'Boolean',
  'Map',
  'Set',
  'RegExp',
]);

/**
 * Whether `n` assigns binding `b` (`ref` resolves identifiers): generated code would then write its Rust local.
 * Updates (`x++`) count too, though the normaliser rewrites them as assignments.
 */
function assigns(n: Node, b: Binding, ref: (id: Node) => Binding | null | undefined): boolean {
  if (!n || typeof n !== 'object') return false;
  if (Array.isArray(n)) return n.some((x) => assigns(x, b, ref));
  if (n.type === 'AssignmentExpression' && n.left.type === 'Identifier' && ref(n.left) === b) return true;
  if (n.type === 'UpdateExpression' && n.argument.type === 'Identifier' && ref(n.argument) === b) return true;
  for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object' && assigns(n[k], b, ref)) return true;
  return false;
}

/** Whether an identifier named `name` appears anywhere in `n`. */
function mentions(n: Node, name: string): boolean {
  if (!n || typeof n !== 'object') return false;
  if (Array.isArray(n)) return n.some((x) => mentions(x, name));
  if (n.type === 'Identifier' && n.name === name) return true;
  for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object' && mentions(n[k], name)) return true;
  return false;
}

/** What `String(a)`, `Number(a)` and `Boolean(a)` compute, as Rust (see `callExpr`). */
const GLOBAL_CONVERSIONS: Record<string, string> = {
  String: 'Value::Str(ops::to_string(cx, &a)?)',
  Number: 'Value::Num(ops::to_number(cx, &a)?)',
  Boolean: 'Value::Bool(ops::to_boolean(&a))',
};

/** Whether statement `n` may jump (break, continue, return, throw) past the statements after it. */
function jumps(n: Node): boolean {
  if (!n || typeof n !== 'object') return false;
  if (Array.isArray(n)) return n.some(jumps);
  if (FUNCTION_TYPES.has(n.type)) return false;
  if (['BreakStatement', 'ContinueStatement', 'ReturnStatement', 'ThrowStatement'].includes(n.type)) return true;
  for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object' && jumps(n[k])) return true;
  return false;
}

/** Function nodes, whose parameters are bindings. */
const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);

/** The value a parameter is declared with, for the numeric-binding analysis: of unknown type. */
const ARGUMENT: Node = { type: 'ClIntrinsic', name: 'argument', arguments: [] };

/** A use other than an operand a site's guard admits only as a number. */
const NOT_A_NUMBER = -1;

/** Expressions whose value's type only the run decides: what a guarded numeric binding may be assigned. */
const OPAQUE = new Set(['MemberExpression', 'CallExpression', 'Identifier', 'ClIntrinsic', 'ConditionalExpression', 'LogicalExpression', 'AwaitExpression']);

/** The pattern, flags and slot of generated code that is exactly a regex literal's evaluation, else null. */
function regexLiteralCall(code: string): [string, string, string] | null {
  const m = /^clrt::builtins::regexp::literal\(cx, (\w+), (\w+), (\d+)\)\?$/.exec(code);
  return m ? [m[1], m[2], m[3]] : null;
}

/** Math functions generated code calls directly on numbers (runtime builtins/math::direct), by arity. */
const MATH_DIRECT: Record<string, number> = { abs: 1, ceil: 1, floor: 1, round: 1, sqrt: 1, trunc: 1, sign: 1, imul: 2, pow: 2, max: 2, min: 2 };

interface Binding {
  name: string;
  rust: string;
  fn: FnInfo;
  scope: Scope;
  captured: boolean;
  /** Slot in the scope's environment object, when captured. */
  slot: number;
  declared: boolean;
  isConst: boolean;
}

/**
 * A comparator compiled to run on rows (`Codegen.sortRows`): the keys read, its two parameters, and the
 * bindings of enclosing functions it reads, as (depth, slot) from its closure (`FnGen.cacheRows`).
 */
interface SortRows {
  keys: string[];
  a: Binding;
  b: Binding;
  caps?: Array<[number, number]>;
}

interface Scope {
  bindings: Map<string, Binding>;
  parent: Scope | null;
  fn: FnInfo;
  /** Slots in use (captured bindings). */
  slots: number;
  /** Set during generation: the Rust variable holding this scope's environment object. */
  env?: string;
}

interface FnInfo {
  node: Node;
  code: number;
  parent: FnInfo | null;
  isArrow: boolean;
  /** A method or class member: strict, has `super`. */
  isMethod: boolean;
  /** The pseudo-binding for `this` when an arrow function inside captures it. */
  thisBinding?: Binding;
  name: string;
}

const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 24);

export function generateRust(trace: TraceIR, opts: { name: string }): Generated {
  return new Codegen(trace, opts.name).run();
}

class Codegen {
  private diags: Diagnostic[] = [];
  private strings: number[][] = [];
  private stringIndex = new Map<string, number>();
  private fns: FnInfo[] = [];
  private fnBySite = new Map<number, FnInfo>();
  private bodies: string[] = [];
  private uniq = 0;
  private scopeOf = new Map<Node, Scope>();
  private refOf = new Map<Node, Binding | null>();
  private sites: Record<string, SiteObs>;
  private file: string;
  /** Code numbers of synthesised functions (default constructors, field initialisers) by class site. */
  private classCtor = new Map<number, number>();
  private classFields = new Map<number, number>();
  private seenDiag = new Set<string>();
  /** Comparators' bodies on rows and their entries in the program's table (see `sortRows`). */
  private rowsBodies: string[] = [];
  private rowsTable: string[] = [];

  constructor(
    private trace: TraceIR,
    private name: string,
  ) {
    this.sites = trace.sites;
    this.file = trace.source.file;
  }

  run(): Generated {
    const program = this.trace.program as Node;
    const top: FnInfo = { node: program, code: 0, parent: null, isArrow: false, isMethod: false, name: 'module' };
    this.fns.push(top);
    this.analyseFunction(top, program.body, [], null);
    this.aliasTemps(program);
    this.findNumericBindings(program);
    this.findLocalArrays(program);
    // Again, now that reads of local arrays of numbers are numbers (`isNum`): a local given `a[k]` of one is
    // a number too. This only adds bindings, and adding them keeps every local array one (its elements and
    // stores stay numbers by `isNum`, and an array is never a number).
    this.findNumericBindings(program);
    this.findWritten(program);
    this.bodies[0] = this.genModule(top, program);
    // Functions are generated as they are met; the list grows while we go.
    for (let i = 1; i < this.fns.length; i++) if (this.bodies[i] === undefined) this.bodies[i] = this.genFunction(this.fns[i]);
    // Comparators compiled a second time to run on rows of their parameters' properties (see `sortRows`);
    // none adds a function to compile, since none holds a function.
    for (const fn of this.fns.slice(1)) {
      const rows = this.sortRows(fn);
      if (!rows) continue;
      const body = this.genFunction(fn, rows);
      // Every read of a parameter is a read of its row, and every read of an enclosing function's binding
      // one of `caps`: a body that names a parameter or its closure otherwise is dropped (the parameters
      // are not declared there, so it would not build; the closure is not to be read there).
      if (!rows.caps || body.includes('e_closure') || [rows.a, rows.b].some((b) => new RegExp(`\\b${b.rust}\\b`).test(body))) continue;
      this.rowsBodies.push(body);
      const caps = rows.caps.map(([d, s]) => `(${d}, ${s})`).join(', ');
      this.rowsTable.push(
        `clrt::SortRows { code: ${fn.code}, keys: &[${rows.keys.map((k) => this.keyOf(k)).join(', ')}], caps: &[${caps}], run: f${fn.code}_rows }`,
      );
    }
    return { main: this.render(), diagnostics: this.diags, functions: this.fns.length };
  }

  // -----------------------------------------------------------------------------------------------
  // Diagnostics and constants

  private diag(code: string, node: Node, message: string): void {
    const loc = node?.loc?.start ?? { line: 1, column: 0 };
    const key = `${code}:${loc.line}:${loc.column}:${message}`;
    if (this.seenDiag.has(key)) return;
    this.seenDiag.add(key);
    this.diags.push({ code, severity: 'warning', message, file: this.file, line: loc.line, column: loc.column + 1 });
  }

  /** Index of a string constant. */
  private str(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      const units: number[] = [];
      for (let k = 0; k < s.length; k++) units.push(s.charCodeAt(k));
      this.strings.push(units);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  private key(s: string): string {
    return `S${this.str(s)}`;
  }

  private tmp(prefix = 't'): string {
    return `${prefix}${this.uniq++}`;
  }

  private obs(sid: number | undefined): SiteObs | undefined {
    return sid === undefined ? undefined : this.sites[String(sid)];
  }

  // -----------------------------------------------------------------------------------------------
  // Scope analysis

  private newFn(node: Node, parent: FnInfo, name: string, isMethod: boolean): FnInfo {
    const f: FnInfo = { node, code: this.fns.length, parent, isArrow: node.type === 'ArrowFunctionExpression', isMethod, name };
    this.fns.push(f);
    if (node.sid !== undefined) this.fnBySite.set(node.sid, f);
    return f;
  }

  /** Declares a function's parameters and body, resolving every identifier inside. */
  private analyseFunction(fn: FnInfo, body: Node[], params: Node[], parentScope: Scope | null): void {
    const scope: Scope = { bindings: new Map(), parent: parentScope, fn, slots: 0 };
    this.scopeOf.set(fn.node, scope);
    if (fn.node.type === 'Program') {
      for (const n of ['module', 'exports', 'require']) this.declare(scope, n, false).declared = true;
    }
    for (const p of params) {
      const b = this.declare(scope, p.type === 'RestElement' ? p.argument.name : p.name, false);
      b.declared = true;
    }
    this.analyseStatements(body, scope);
  }

  private declare(scope: Scope, name: string, isConst: boolean): Binding {
    const existing = scope.bindings.get(name);
    if (existing) return existing;
    const b: Binding = { name, rust: `v_${sanitize(name)}_${this.uniq++}`, fn: scope.fn, scope, captured: false, slot: -1, declared: false, isConst };
    scope.bindings.set(name, b);
    return b;
  }

  private capture(b: Binding): void {
    if (!b.captured) {
      b.captured = true;
      b.slot = b.scope.slots++;
    }
  }

  private lookup(scope: Scope, name: string): Binding | null {
    for (let s: Scope | null = scope; s; s = s.parent) {
      const b = s.bindings.get(name);
      if (b) return b;
    }
    return null;
  }

  private analyseStatements(list: Node[], scope: Scope): void {
    // Block-level declarations first (let/const/class/function are visible in the whole block).
    for (const s of list) {
      if (s.type === 'VariableDeclaration') this.declare(scope, s.declarations[0].id.name, s.kind === 'const');
      else if (s.type === 'FunctionDeclaration') this.declare(scope, s.id.name, false);
      else if (s.type === 'ClUnsupported' && s.declares) this.declare(scope, s.declares.name, false);
    }
    for (const s of list) this.analyseNode(s, scope);
  }

  private analyseNode(n: Node, scope: Scope): void {
    if (n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) this.analyseNode(x, scope);
      return;
    }
    switch (n.type) {
      case 'ClUnsupported':
        if (n.declares) {
          this.resolve(n.declares, scope);
          const b = this.lookup(scope, n.declares.name);
          if (b) b.declared = true;
        }
        return;
      case 'ClUnknown':
      case 'MetaProperty':
        return;
      case 'Identifier':
        this.resolve(n, scope);
        return;
      case 'VariableDeclaration': {
        const d = n.declarations[0];
        this.analyseNode(d.init, scope);
        const b = this.lookup(scope, d.id.name);
        if (b) b.declared = true;
        this.refOf.set(d.id, b);
        return;
      }
      case 'BlockStatement': {
        const inner: Scope = { bindings: new Map(), parent: scope, fn: scope.fn, slots: 0 };
        this.scopeOf.set(n, inner);
        this.analyseStatements(n.body, inner);
        return;
      }
      case 'SwitchStatement': {
        // The cases share one scope, which holds every let, const and class any case declares (`lexicals`,
        // kept when the trace prunes the declaring case). They live in the scope's environment, not in Rust
        // locals: the cases are separate Rust blocks, and a case may read a binding of an earlier case that
        // did not run (its TDZ: the read throws).
        this.analyseNode(n.discriminant, scope);
        const inner: Scope = { bindings: new Map(), parent: scope, fn: scope.fn, slots: 0 };
        this.scopeOf.set(n, inner);
        for (const l of n.lexicals ?? []) this.capture(this.declare(inner, l.name, l.kind === 'const'));
        for (const c of n.cases) for (const st of c.consequent) this.analyseNode(st, inner);
        return;
      }
      case 'CatchClause': {
        const inner: Scope = { bindings: new Map(), parent: scope, fn: scope.fn, slots: 0 };
        this.scopeOf.set(n, inner);
        if (n.param) {
          const b = this.declare(inner, n.param.name, false);
          b.declared = true;
          this.refOf.set(n.param, b);
        }
        this.analyseNode(n.body, inner);
        return;
      }
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression': {
        const name = n.id?.name ?? n.inferredName ?? '';
        const f = this.newFn(n, scope.fn, name, !!n.isMethod);
        if (n.type === 'FunctionDeclaration') {
          const b = this.lookup(scope, n.id.name);
          if (b) b.declared = true;
          this.refOf.set(n.id, b);
        }
        if (n.body.type === 'BlockStatement') this.analyseFunction(f, n.body.body, n.params, scope);
        return;
      }
      case 'ClassExpression': {
        this.classNodes.set(n.sid, n);
        this.analyseNode(n.superClass, scope);
        for (const m of n.body.body) {
          if (m.computed) this.analyseNode(m.key, scope);
          if (m.type === 'MethodDefinition') {
            const f = this.newFn(m.value, scope.fn, m.kind === 'constructor' ? (n.id?.name ?? '') : (memberName(m) ?? ''), true);
            if (m.kind === 'constructor') this.fnBySite.set(n.sid, f);
            this.analyseFunction(f, m.value.body.body, m.value.params, scope);
          }
        }
        // Field initialisers run as one synthesised method.
        const fields = n.body.body.filter((m: Node) => m.type === 'PropertyDefinition' && !m.static);
        if (fields.length) {
          const pseudo = { type: 'ClFields', sid: undefined, cls: n };
          const f = this.newFn(pseudo, scope.fn, '<fields>', true);
          this.classFields.set(n.sid, f.code);
          const fs: Scope = { bindings: new Map(), parent: scope, fn: f, slots: 0 };
          this.scopeOf.set(pseudo, fs);
          for (const m of fields) this.analyseNode(m.value, fs);
        }
        for (const m of n.body.body) if (m.type === 'PropertyDefinition' && m.static) this.analyseNode(m.value, scope);
        if (!n.body.body.some((m: Node) => m.kind === 'constructor')) {
          const pseudo = { type: 'ClDefaultCtor', sid: n.sid, cls: n, derived: !!n.superClass };
          const f = this.newFn(pseudo, scope.fn, n.id?.name ?? '', true);
          this.classCtor.set(n.sid, f.code);
          this.fnBySite.set(n.sid, f);
        }
        return;
      }
      case 'ThisExpression': {
        // `this` in an arrow function is the enclosing function's.
        let f: FnInfo = scope.fn;
        while (f.isArrow && f.parent) f = f.parent;
        if (f !== scope.fn) {
          if (!f.thisBinding) {
            const fscope = this.scopeOf.get(f.node)!;
            f.thisBinding = this.declare(fscope, '%this', true);
            f.thisBinding.declared = true;
          }
          this.capture(f.thisBinding);
          this.refOf.set(n, f.thisBinding);
        }
        return;
      }
      case 'MemberExpression':
        this.analyseNode(n.object, scope);
        if (n.computed) this.analyseNode(n.property, scope);
        return;
      case 'Property':
        if (n.computed) this.analyseNode(n.key, scope);
        if (n.value && (n.value.type === 'FunctionExpression' || n.value.type === 'ArrowFunctionExpression') && !n.computed)
          n.value.inferredName = propName(n.key);
        this.analyseNode(n.value, scope);
        return;
      case 'LabeledStatement':
        this.analyseNode(n.body, scope);
        return;
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      default:
        if (n.type === 'VariableDeclarator') return;
        for (const k of Object.keys(n)) {
          if (k === 'loc' || k === 'label') continue;
          const v = n[k];
          if (v && typeof v === 'object') this.analyseNode(v, scope);
        }
    }
  }

  private resolve(n: Node, scope: Scope): void {
    const b = this.lookup(scope, n.name);
    this.refOf.set(n, b);
    if (!b) return;
    // Captured by a nested function, or used before its declaration in the same function (TDZ: the
    // environment slot reads as undefined, and the compiled code then follows the trace's guards).
    if (b.fn !== scope.fn || !b.declared) this.capture(b);
  }

  // -----------------------------------------------------------------------------------------------
  // Functions

  private genModule(fn: FnInfo, program: Node): string {
    const scope = this.scopeOf.get(program)!;
    const g = new FnGen(this, fn);
    const lines: string[] = [];
    lines.push('let e_closure: Option<ObjRef> = None;');
    g.envChain = [];
    lines.push(...g.openScope(scope, 'e_closure'));
    const mod = scope.bindings.get('module')!;
    const exp = scope.bindings.get('exports')!;
    lines.push(g.declareBinding(mod, 'cx.new_object()?'));
    lines.push(g.declareBinding(exp, 'cx.new_object()?'));
    lines.push(`{ let e = ${g.readBinding(exp)}; let m = ${g.readBinding(mod)}; props::set(cx, &m, ${this.key('exports')}, e)?; }`);
    lines.push(...g.statements(program.body));
    lines.push(`let m = ${g.readBinding(mod)};`);
    lines.push(`props::get(cx, &m, ${this.key('exports')})`);
    return `fn f0(cx: &mut Cx, call: &Call) -> JsResult<Value> {\n    let _ = call;\n    ${lines.join('\n    ')}\n}`;
  }

  genFunction(fn: FnInfo, rows?: SortRows): string {
    const n = fn.node;
    const g = new FnGen(this, fn);
    if (rows) g.rows = rows;
    const lines: string[] = [];
    lines.push(`let e_closure: Option<ObjRef> = call::env_of(cx, call.callee);`);
    g.envChain = this.closureChain(fn);
    if (n.type === 'ClDefaultCtor') {
      if (n.derived) lines.push('call::super_call(cx, call, call.args)?;');
      else lines.push('call::run_fields(cx, call.callee, &call.this)?;');
      lines.push('Ok(Value::Undefined)');
      return this.wrapFn(fn, lines);
    }
    if (n.type === 'ClFields') {
      const scope = this.scopeOf.get(n)!;
      lines.push(...g.openScope(scope, 'e_closure'));
      lines.push('let this_obj = call.this.as_obj().expect("instance");');
      for (const m of n.cls.body.body) {
        if (m.type !== 'PropertyDefinition' || m.static) continue;
        const k = m.computed ? null : propName(m.key);
        if (k === null) {
          lines.push(`return clrt::cx::unsupported("a computed class field");`);
          continue;
        }
        const v = m.value ? g.expr(m.value) : 'Value::Undefined';
        lines.push(`{ let v = ${v}; ${defineField('this_obj', this.key(k), m.key.type === 'PrivateIdentifier')} }`);
      }
      lines.push('Ok(Value::Undefined)');
      return this.wrapFn(fn, lines);
    }
    const scope = this.scopeOf.get(n)!;
    if (n.body.type === 'BlockStatement' && n.body.body.length === 1 && n.body.body[0].type === 'ClUnknown') {
      // The trace never entered this function.
      lines.push(`clrt::unknown(${n.sid})`);
      return this.wrapFn(fn, lines);
    }
    lines.push(...g.openScope(scope, 'e_closure'));
    if (fn.thisBinding) lines.push(g.initBinding(fn.thisBinding, g.thisValue()));
    n.params.forEach((p: Node, i: number) => {
      // On rows, the parameters are read only through their rows (`FnGen.member`).
      if (rows) return;
      if (p.type === 'RestElement') {
        const b = scope.bindings.get(p.argument.name)!;
        lines.push(`let r = cx.new_array(call.args.get(${i}..).map(|a| a.to_vec()).unwrap_or_default())?; ${g.declareBinding(b, 'r')}`);
      } else {
        const b = scope.bindings.get(p.name)!;
        // A parameter the trace saw used only as a number: its argument checked once, here.
        const site = this.guardSite(b);
        if (site !== null) lines.push(`let mut ${b.rust}: f64 = ops::guard_num(call.args.get(${i}).unwrap_or(&Value::Undefined), ${site})?;`);
        else lines.push(g.declareBinding(b, `call.arg(${i})`));
      }
    });
    const isCtor = fn.isMethod && this.isCtor(fn);
    if (isCtor && !this.isDerivedCtor(fn)) lines.push('call::run_fields(cx, call.callee, &call.this)?;');
    if (rows) rows.caps = g.cacheRows(n.body) ?? undefined;
    else if (!isCtor && !fn.isMethod && n.body.type === 'BlockStatement') lines.push(...g.cacheCaptured(n.body));
    if (g.writeBack) {
      // The body runs in a closure, so that the bindings held in locals go back to their environments
      // however it ends.
      const body = [...g.statements(n.body.body), 'Ok(Value::Undefined)'];
      lines.push(`let r = (|| -> JsResult<Value> {\n${indent(body)}\n})();`, g.writeBack, 'r');
      return this.wrapFn(fn, lines, rows);
    }
    lines.push(...g.statements(n.body.body));
    lines.push('Ok(Value::Undefined)');
    return this.wrapFn(fn, lines, rows);
  }

  /**
   * How comparator `fn` can run on rows of its parameters' properties (the runtime's `SortRows`): an arrow
   * or function expression, neither async nor a generator, with two plain parameters `a` and `b` used only
   * to read named properties (`a.k`), whose body can run no code of the program's besides its own: no call,
   * no `new`, no other property read or any write to an object, no `this`, `arguments`, `delete`, `in`,
   * `instanceof`, template, loop, `try` or function, and no global but `undefined`, `NaN` and `Infinity`.
   * A conversion to a primitive could run a `valueOf`, so every operand that is converted, and the value
   * returned (the sort converts it to a number), must be primitive: a literal, a property of a row (the
   * runtime takes rows only of primitives), an operator's result, a captured binding that only ever holds
   * numbers (`capturedNumber`), or a local only ever given such values. Other bindings may be compared with
   * `===`, tested, or given to `typeof`. The body then computes on the rows, read once per value sorted,
   * what it would compute on the objects, since nothing can change them while the sort runs. Null for any
   * other function.
   */
  private sortRows(fn: FnInfo): SortRows | null {
    const n = fn.node;
    if (n.type !== 'ArrowFunctionExpression' && n.type !== 'FunctionExpression') return null;
    if (n.async || n.generator || n.params.length !== 2 || n.params.some((p: Node) => p.type !== 'Identifier')) return null;
    if (n.body.type !== 'BlockStatement') return null;
    if (n.body.body.length === 1 && n.body.body[0].type === 'ClUnknown') return null;
    const scope = this.scopeOf.get(n);
    const [a, b] = n.params.map((p: Node) => scope?.bindings.get(p.name));
    if (!a || !b || a === b) return null;
    const keys: string[] = [];
    // Every value each local is given (null: a value that is an operator's result), and the expressions
    // that must be primitive.
    const given = new Map<Binding, Array<Node | null>>();
    const primitive: Node[] = [];
    const local = (id: Node): Binding | null => {
      const r = id.type === 'Identifier' ? this.refOf.get(id) : null;
      return r && r.fn === fn && r !== a && r !== b ? r : null;
    };
    const give = (x: Binding, v: Node | null): void => {
      given.set(x, [...(given.get(x) ?? []), v]);
    };
    const expr = (e: Node): boolean => {
      switch (e.type) {
        case 'ClUnknown':
          return true;
        case 'Literal':
          return !e.regex && typeof e.value !== 'bigint';
        case 'Identifier': {
          const r = this.refOf.get(e);
          if (r === a || r === b) return false;
          if (r === undefined) return false;
          return r !== null || e.name === 'undefined' || e.name === 'NaN' || e.name === 'Infinity';
        }
        case 'MemberExpression': {
          const r = e.object.type === 'Identifier' ? this.refOf.get(e.object) : undefined;
          if ((r !== a && r !== b) || e.computed || e.optional || e.property.type !== 'Identifier') return false;
          if (!keys.includes(e.property.name)) keys.push(e.property.name);
          return true;
        }
        case 'UnaryExpression':
          if (e.operator === 'delete') return false;
          if (e.operator === '-' || e.operator === '+' || e.operator === '~') primitive.push(e.argument);
          return expr(e.argument);
        case 'BinaryExpression':
          if (e.operator === 'in' || e.operator === 'instanceof' || e.left.type === 'PrivateIdentifier') return false;
          if (e.operator !== '===' && e.operator !== '!==') primitive.push(e.left, e.right);
          return expr(e.left) && expr(e.right);
        case 'LogicalExpression':
          return expr(e.left) && expr(e.right);
        case 'ConditionalExpression':
          return expr(e.test) && expr(e.consequent) && expr(e.alternate);
        case 'SequenceExpression':
          return e.expressions.every(expr);
        case 'UpdateExpression': {
          const x = local(e.argument);
          if (!x) return false;
          primitive.push(e.argument);
          give(x, null);
          return true;
        }
        case 'AssignmentExpression': {
          const x = local(e.left);
          if (!x) return false;
          if (e.operator === '=' || e.operator === '&&=' || e.operator === '||=' || e.operator === '??=') give(x, e.right);
          else {
            primitive.push(e.left, e.right);
            give(x, null);
          }
          return expr(e.right);
        }
        default:
          return false;
      }
    };
    const stmt = (t: Node): boolean => {
      switch (t.type) {
        case 'BlockStatement':
          return t.body.every(stmt);
        case 'EmptyStatement':
        case 'ClUnknown':
          return true;
        case 'ExpressionStatement':
          return expr(t.expression);
        case 'IfStatement':
          return expr(t.test) && stmt(t.consequent) && (!t.alternate || stmt(t.alternate));
        case 'ReturnStatement':
          if (!t.argument) return true;
          primitive.push(t.argument);
          return expr(t.argument);
        case 'VariableDeclaration':
          return t.declarations.every((d: Node) => {
            const x = local(d.id);
            if (!x) return false;
            if (d.init) {
              give(x, d.init);
              return expr(d.init);
            }
            give(x, null);
            return true;
          });
        default:
          return false;
      }
    };
    if (!n.body.body.every(stmt) || keys.length === 0) return null;
    // The locals only ever given primitive values, found by removing the others until none is left to
    // remove.
    const safeLocals = new Set(given.keys());
    const isPrimitive = (e: Node | null): boolean => {
      if (e === null) return true;
      switch (e.type) {
        case 'ClUnknown':
        case 'Literal':
        case 'MemberExpression':
        case 'UnaryExpression':
        case 'BinaryExpression':
        case 'UpdateExpression':
          return true;
        case 'Identifier': {
          const r = this.refOf.get(e);
          if (r === null) return true;
          if (!r) return false;
          return r.fn === fn ? safeLocals.has(r) : this.capNum.has(r);
        }
        case 'LogicalExpression':
          return isPrimitive(e.left) && isPrimitive(e.right);
        case 'ConditionalExpression':
          return isPrimitive(e.consequent) && isPrimitive(e.alternate);
        case 'SequenceExpression':
          return isPrimitive(e.expressions[e.expressions.length - 1]);
        case 'AssignmentExpression':
          return e.operator === '=' || e.operator === '&&=' || e.operator === '||=' || e.operator === '??='
            ? isPrimitive(e.right) && isPrimitive(e.left)
            : true;
        default:
          return false;
      }
    };
    keepWhile(safeLocals, (x) => given.get(x)!.every(isPrimitive));
    if (!primitive.every(isPrimitive)) return null;
    return { keys, a, b };
  }

  private isCtor(fn: FnInfo): boolean {
    for (const [sid, f] of this.fnBySite) if (f === fn && sid !== fn.node.sid) return true;
    return false;
  }

  private isDerivedCtor(fn: FnInfo): boolean {
    for (const [sid, f] of this.fnBySite) {
      if (f === fn && sid !== fn.node.sid) {
        const cls = this.classNodes.get(sid);
        return !!cls?.superClass;
      }
    }
    return false;
  }

  classNodes = new Map<number, Node>();

  private wrapFn(fn: FnInfo, lines: string[], rows?: SortRows): string {
    // A function that reads nothing of its closure does not look its environment up.
    const env = `let e_closure: Option<ObjRef> = call::env_of(cx, call.callee);`;
    if (lines[0] === env && !lines.slice(1).some((l) => l.includes('e_closure'))) lines = lines.slice(1);
    const body = lines.join('\n    ');
    if (rows)
      return `/// ${sanitize(fn.name) || 'anonymous'}, on rows of ${rows.keys.join(', ')}\nfn f${fn.code}_rows(cx: &mut Cx, call: &Call, ka: &[Value], kb: &[Value], caps: &[Value]) -> JsResult<Value> {\n    let _ = (&call, &cx, &ka, &kb, &caps);\n    ${body}\n}`;
    // A small function is inlined where it is called by name (`plain_user`'s direct call): its call's
    // frame, argument array and guards on constant arguments go, and LLVM alone does not judge it worth
    // it. Measured on records' request #3 (a closure called 11 times a record): 3% fewer instructions;
    // the other examples within 0.6% either way. Larger functions gain nothing and cost compile time.
    const inline = body.length < INLINE_MAX_CHARS ? '#[inline(always)]\n' : '';
    return `/// ${sanitize(fn.name) || 'anonymous'}\n${inline}fn f${fn.code}(cx: &mut Cx, call: &Call) -> JsResult<Value> {\n    let _ = (&call, &cx);\n    ${body}\n}`;
  }

  /** The environments a function sees through its closure: the allocated scopes enclosing its creation. */
  private closureChain(fn: FnInfo): Scope[] {
    const chain: Scope[] = [];
    const fscope = fn.node.type === 'ClDefaultCtor' ? null : this.scopeOf.get(fn.node);
    let s: Scope | null = fscope ? fscope.parent : null;
    if (fn.node.type === 'ClDefaultCtor') return [];
    while (s) {
      if (s.slots > 0) chain.unshift(s);
      s = s.parent;
    }
    return chain;
  }

  codeOfSite(sid: number): number | undefined {
    return this.fnBySite.get(sid)?.code;
  }

  /** The CalleeId list for a call site, or null when the site never ran. */
  callees(node: Node): string | null {
    const o = this.obs(node.sid);
    if (!o?.callees?.length) return null;
    const ids: string[] = [];
    for (const c of o.callees) {
      if (c.startsWith('fn:')) {
        const code = this.codeOfSite(Number(c.slice(3)));
        if (code !== undefined) ids.push(`CalleeId::User(${code})`);
      } else if (c.startsWith('?:')) {
        this.diag('C006', node, `a call reached ${c.slice(2)}, which the runtime does not model; such requests run in JavaScript`);
      } else if (builtins().has(c)) {
        ids.push(`CalleeId::Builtin(${JSON.stringify(c)})`);
      } else {
        this.diag('C006', node, `a call reached the builtin ${c}, which the runtime does not model; such requests run in JavaScript`);
      }
    }
    if (!ids.length) return null;
    return `&[${ids.join(', ')}]`;
  }

  // -----------------------------------------------------------------------------------------------
  // Numbers in Rust locals

  /** Bindings held as `f64` Rust locals: see findNumericBindings. */
  private numeric = new Set<Binding>();

  /**
   * Finds the bindings that only ever hold numbers: Rust locals (not captured by a closure), declared once
   * with an initialiser, and assigned nowhere but by `=`, where every value they get is a number by the
   * rules of `isNum` (whatever the inputs, or because the traced type guards at the site admit only
   * numbers, which the compiled code checks before using them). They are kept unboxed, and arithmetic and
   * comparisons between them compile to plain f64 operations, with JavaScript's semantics (IEEE doubles;
   * `%` is fmod, as Rust's is).
   */
  /**
   * Bindings that may get a value other than the one their declaration gives them (see `findWritten`): the
   * others, once initialised, hold that value for good.
   */
  written = new Set<Binding>();

  /**
   * Finds the bindings that something other than their one declaration may assign: an assignment or update
   * (a pattern's identifiers included), a for-in or for-of head that is not a lexical declaration, a `var`
   * (which a loop or a second declaration assigns again), a second declaration, and a function declaration
   * inside a block (which sloppy mode assigns when the block runs). Errs towards `written`.
   */
  private findWritten(program: Node): void {
    const decls = new Map<Binding, number>();
    // Every identifier in `n`: what an unexpected assignment target may assign.
    const all = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(all);
      if (n.type === 'Identifier') {
        const b = this.ref(n);
        if (b) this.written.add(b);
        return;
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') all(n[k]);
    };
    // The bindings an assignment target assigns: an identifier, the targets in a pattern; a member
    // (`o.p = v`, `a[i] = v`) assigns none.
    const mark = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(mark);
      switch (n.type) {
        case 'Identifier':
          return all(n);
        case 'MemberExpression':
          return;
        case 'ArrayPattern':
          return mark(n.elements);
        case 'ObjectPattern':
          return n.properties.forEach((p: Node) => mark(p.type === 'RestElement' ? p.argument : p.value));
        case 'RestElement':
          return mark(n.argument);
        case 'AssignmentPattern':
          return mark(n.left);
        case 'VariableDeclaration':
          return n.declarations.forEach((d: Node) => mark(d.id));
        default:
          return all(n);
      }
    };
    const visit = (n: Node, parent: Node | null): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach((x) => visit(x, parent));
      if (n.type === 'AssignmentExpression') mark(n.left);
      if (n.type === 'UpdateExpression') mark(n.argument);
      if ((n.type === 'ForInStatement' || n.type === 'ForOfStatement') && !(n.left.type === 'VariableDeclaration' && n.left.kind !== 'var')) mark(n.left);
      if (n.type === 'VariableDeclaration') {
        for (const d of n.declarations) {
          if (n.kind === 'var' || d.id.type !== 'Identifier') mark(d.id);
          const b = d.id.type === 'Identifier' ? this.ref(d.id) : null;
          if (b) decls.set(b, (decls.get(b) ?? 0) + 1);
        }
      }
      // Sloppy mode's `arguments` aliases the parameters: writing `arguments[0]` assigns the first.
      if (FUNCTION_TYPES.has(n.type) && n.type !== 'ArrowFunctionExpression' && mentions(n.body, 'arguments')) {
        const sc = this.scopeOf.get(n);
        for (const p of n.params) {
          const b = sc?.bindings.get(p.type === 'RestElement' ? p.argument.name : p.name);
          if (b) this.written.add(b);
        }
      }
      // What the compiler keeps out may assign what it declares.
      if (n.type === 'ClUnsupported' && n.declares) mark(n.declares);
      if (n.type === 'FunctionDeclaration' && n.id) {
        const top = parent && (parent.type === 'Program' || bodies.has(parent));
        if (!top) mark(n.id);
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k], n);
    };
    // Functions' body blocks, whose declarations are the function's own (the trace's nodes are not touched).
    const bodies = new WeakSet<Node>();
    const findBodies = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(findBodies);
      if (FUNCTION_TYPES.has(n.type) && n.body?.type === 'BlockStatement') bodies.add(n.body);
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') findBodies(n[k]);
    };
    findBodies(program);
    visit(program, null);
    for (const [b, c] of decls) if (c > 1) this.written.add(b);
  }

  private findNumericBindings(program: Node): void {
    const defs = new Map<Binding, { decls: number; values: Node[] }>();
    const def = (b: Binding | null | undefined, value: Node | null, isDecl: boolean, temp = false): void => {
      if (!b) return;
      const d = defs.get(b) ?? { decls: 0, values: [] };
      if (isDecl) d.decls++;
      if (!temp) d.values.push(value ?? { type: 'Identifier', name: 'undefined' });
      defs.set(b, d);
    };
    const visit = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(visit);
      // A normaliser's temporary (`temp`) is assigned before every read, so its declared `undefined` is no value it holds.
      if (n.type === 'VariableDeclaration') for (const d of n.declarations) def(this.ref(d.id), n.temp ? null : d.init, true, !!n.temp);
      if (n.type === 'AssignmentExpression' && n.left.type === 'Identifier') def(this.ref(n.left), n.operator === '=' ? n.right : null, false);
      // A parameter is declared once, with the caller's argument: a value of unknown type.
      if (FUNCTION_TYPES.has(n.type)) for (const p of n.params) if (p.type === 'Identifier') def(this.scopeOf.get(n)?.bindings.get(p.name), ARGUMENT, true);
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k]);
    };
    visit(program);
    // Parameters, functions, classes and catch bindings have no declaration here; `let x;` and compound
    // assignments count as an `undefined` value.
    for (const [b, d] of defs) if (!b.captured && d.decls === 1) this.numeric.add(b);
    const guards = this.numberGuardedUses(program);
    const temps = new Set<Binding>();
    const findTemps = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(findTemps);
      if (n.type === 'VariableDeclaration' && n.temp) for (const d of n.declarations) if (this.ref(d.id)) temps.add(this.ref(d.id)!);
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') findTemps(n[k]);
    };
    findTemps(program);
    // A value of unknown type may go into a binding whose uses the trace saw only as numbers: it is checked
    // where it is assigned (`guardSite`), against the guard of one of those uses.
    // Or, for a binding given one value, where the first thing done with it is such a use: checking the value
    // where it is assigned gives up exactly where that use would have (`firstUseGuards`).
    const first = this.firstUseGuards(program);
    for (const [b, d] of defs) {
      if (temps.has(b)) continue;
      const g = guards.get(b);
      const site = g && g.site !== null && !g.other ? g.site : d.decls === 1 && d.values.length === 1 ? first.get(b) : undefined;
      if (site !== undefined) this.guardSites.set(b, site);
    }
    const guarded = (b: Binding, v: Node): boolean => this.guardSites.has(b) && OPAQUE.has(v.type) && !(v.type === 'Identifier' && v.name === 'undefined');
    keepWhile(this.numeric, (b) => defs.get(b)!.values.every((v) => this.isNum(v) || guarded(b, v)));
    // Captured bindings declared once and given only numbers (by `isNum`, or another such binding, or `||`,
    // `&&`, `??` and `?:` between them): see `capturedNumber`.
    this.capNum.clear();
    for (const [b, d] of defs) if (b.captured && !temps.has(b) && d.decls === 1 && d.values.length > 0) this.capNum.add(b);
    const numValue = (v: Node): boolean => {
      const r = v.type === 'Identifier' ? this.ref(v) : null;
      if (r?.captured) return this.capNum.has(r);
      if (v.type === 'LogicalExpression') return numValue(v.left) && numValue(v.right);
      if (v.type === 'ConditionalExpression') return numValue(v.consequent) && numValue(v.alternate);
      return this.isNum(v);
    };
    keepWhile(this.capNum, (b) => defs.get(b)!.values.every(numValue));
  }

  /** Captured bindings that only ever hold numbers once declared: see findNumericBindings. */
  private capNum = new Set<Binding>();

  /**
   * Whether captured binding `b` holds a number whenever it has a value: declared once, and every value
   * given to it is a number. A function that holds it in a local (`FnGen.cacheCaptured`) holds an f64.
   */
  capturedNumber(b: Binding): boolean {
    return this.capNum.has(b);
  }

  /**
   * The normaliser evaluates the object of a compound assignment or update into a temporary, so that it is
   * evaluated once (`a[k] += v` is `($cl_t0 = a, $cl_t1 = k, $cl_t0[$cl_t1] = $cl_t0[$cl_t1] + v)`). When the
   * object is a Rust local (not captured, so only this sequence could change it) that the rest of the
   * sequence does not assign, the local holds the temporary's value wherever the temporary is read: those
   * reads become reads of the local and the copy goes. The local may then be a local array, or be borrowed
   * in place by the member accesses (`objectRef`).
   */
  private aliasTemps(program: Node): void {
    const temps = new Set<Binding>();
    const uses = new Map<Binding, number>();
    const seqs: Node[] = [];
    const visit = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(visit);
      if (n.type === 'VariableDeclaration' && n.temp) for (const d of n.declarations) if (this.ref(d.id)) temps.add(this.ref(d.id)!);
      if (n.type === 'Identifier') {
        const b = this.ref(n);
        if (b) uses.set(b, (uses.get(b) ?? 0) + 1);
      }
      if (n.type === 'SequenceExpression') seqs.push(n);
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k]);
    };
    visit(program);
    const idents = (n: Node, b: Binding, into: Node[]): Node[] => {
      if (!n || typeof n !== 'object') return into;
      if (Array.isArray(n)) {
        n.forEach((x) => idents(x, b, into));
        return into;
      }
      if (n.type === 'Identifier' && this.ref(n) === b) into.push(n);
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') idents(n[k], b, into);
      return into;
    };
    const assigned = (n: Node, b: Binding): boolean => assigns(n, b, (x) => this.ref(x));
    for (const e of seqs) {
      const first = e.expressions[0];
      if (first?.type !== 'AssignmentExpression' || first.operator !== '=' || first.left.type !== 'Identifier' || first.right.type !== 'Identifier') continue;
      const t = this.ref(first.left);
      const x = this.ref(first.right);
      if (!t || !x || t === x || !temps.has(t) || x.captured) continue;
      const rest = e.expressions.slice(1);
      const reads = idents(rest, t, []);
      // The temporary is used nowhere else (its declaration, the copy and these reads), and neither it nor the
      // local is assigned after the copy.
      if (reads.length + 2 !== uses.get(t) || assigned(rest, t) || assigned(rest, x)) continue;
      for (const r of reads) this.refOf.set(r, x);
      e.expressions = rest;
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Local arrays of one element kind

  /** Bindings held as a Rust `Vec<bool>` or `Vec<f64>`: see findLocalArrays. */
  localArrays = new Map<Binding, LocalArray>();

  /**
   * Finds the local arrays of one element kind (runtime/src/elems.rs): bindings that are Rust locals (not
   * captured), declared once, never assigned, initialised by `new Array(n).fill(c)` where `c` is a boolean
   * or number literal and the trace saw the builtin `Array` and `Array.prototype.fill` there, and used only
   * as `a[k]` (a read), `a[k] = v` with `v` of the array's kind (by the rules of `isBool` / `isNum`, or
   * because the trace saw only that kind stored there, which the store's type guard checks), and
   * `a.length`. Any other use (passing it, returning it, a method call, a compound assignment, a closure)
   * keeps it a heap array. Such an array never leaves the function, so nothing but these accesses can see
   * or change it, and every store keeps its kind: it needs no type guard and no heap lookup. An array literal
   * that nothing stores into never changes at all: it is a fixed-size Rust array, made without an allocation.
   */
  private findLocalArrays(program: Node): void {
    const decls = new Map<Binding, { count: number; init: Node | null }>();
    const uses = new Map<Binding, { node: Node; parent: Node; key: string; grand: Node | null; grandKey: string }[]>();
    const visit = (n: Node, parent: Node | null, key: string, grand: Node | null, grandKey: string): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach((x) => visit(x, parent, key, grand, grandKey));
      if (n.type === 'VariableDeclarator') {
        const b = this.ref(n.id);
        if (b) {
          const d = decls.get(b) ?? { count: 0, init: null };
          d.count++;
          d.init = n.init;
          decls.set(b, d);
        }
        visit(n.init, n, 'init', parent, key);
        return;
      }
      if (n.type === 'Identifier' && parent) {
        const b = this.ref(n);
        if (b) {
          const list = uses.get(b) ?? [];
          list.push({ node: n, parent, key, grand, grandKey });
          uses.set(b, list);
        }
        return;
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k], n, k, parent, key);
    };
    visit(program, null, '', null, '');
    for (const [b, d] of decls) {
      if (b.captured || d.count !== 1 || this.numeric.has(b)) continue;
      const kind = this.filledArrayKind(d.init) ?? this.literalArrayKind(d.init);
      if (!kind) continue;
      let stores = 0;
      const ok = (uses.get(b) ?? []).every(({ parent, key, grand, grandKey }) => {
        if (parent.type !== 'MemberExpression' || key !== 'object') return false;
        const stored = grand?.type === 'AssignmentExpression' && grandKey === 'left';
        if (stored) stores++;
        if (grand?.type === 'CallExpression' && grandKey === 'callee') return false;
        if (grand?.type === 'UnaryExpression' && grand.operator === 'delete') return false;
        if (!parent.computed) return !stored && parent.property.type === 'Identifier' && parent.property.name === 'length';
        if (!stored) return true;
        if (grand.operator !== '=') return false;
        // A value of the array's kind, by the rules or behind the store site's guard (the trace saw only that kind).
        if (kind.kind === 'bool') return this.isBool(grand.right) || this.typeMask(grand, 2) === BOOL_TAG;
        return this.isNum(grand.right) || this.typeMask(grand, 2) === NUMBER_TAG;
      });
      // An array literal nothing stores into keeps its length and elements: a Rust array on the stack.
      if (ok) this.localArrays.set(b, kind.literal && stores === 0 ? { ...kind, fixed: true } : kind);
    }
  }

  /** An array literal whose elements are all numbers, or all booleans, by the rules of `isNum` / `isBool`. */
  private literalArrayKind(init: Node | null): LocalArray | null {
    if (init?.type !== 'ArrayExpression' || init.elements.length === 0 || init.elements.some((e: Node | null) => !e || e.type === 'SpreadElement')) return null;
    if (init.elements.every((e: Node) => this.isNum(e))) return { kind: 'f64', literal: init.elements };
    if (init.elements.every((e: Node) => this.isBool(e))) return { kind: 'bool', literal: init.elements };
    return null;
  }

  /** `new Array(n).fill(c)`, `c` a boolean or number literal, where the trace saw the builtins only. */
  private filledArrayKind(init: Node | null): LocalArray | null {
    if (init?.type !== 'CallExpression' || init.arguments.length !== 1) return null;
    const c = init.arguments[0];
    if (c.type !== 'Literal' || (typeof c.value !== 'boolean' && typeof c.value !== 'number')) return null;
    const m = init.callee;
    if (m.type !== 'MemberExpression' || m.computed || m.property.type !== 'Identifier' || m.property.name !== 'fill') return null;
    const ctor = m.object;
    if (ctor.type !== 'NewExpression' || ctor.callee.type !== 'Identifier' || ctor.callee.name !== 'Array' || this.ref(ctor.callee)) return null;
    if (ctor.arguments.length !== 1 || ctor.arguments[0].type === 'SpreadElement') return null;
    const only = (n: Node, name: string): boolean => {
      const cs = this.obs(n.sid)?.callees;
      return !!cs && cs.length === 1 && cs[0] === name;
    };
    if (!only(ctor, 'Array') || !only(init, 'Array.prototype.fill')) return null;
    return { kind: typeof c.value === 'boolean' ? 'bool' : 'f64', fill: c, ctor, call: init };
  }

  localArray(e: Node): { b: Binding; a: LocalArray } | null {
    if (e?.type !== 'Identifier') return null;
    const b = this.ref(e);
    const a = b ? this.localArrays.get(b) : undefined;
    return b && a ? { b, a } : null;
  }

  /** Whether `e` evaluates to a boolean whenever the compiled code goes on. */
  isBool(e: Node): boolean {
    switch (e?.type) {
      case 'Literal':
        return typeof e.value === 'boolean';
      case 'UnaryExpression':
        return e.operator === '!';
      case 'BinaryExpression':
        return BOOL_OPS.has(e.operator);
      case 'MemberExpression':
        return !!e.computed && this.localArray(e.object)?.a.kind === 'bool';
      default:
        return false;
    }
  }

  isNumeric(b: Binding | null | undefined): boolean {
    return !!b && this.numeric.has(b);
  }

  /**
   * For a numeric binding assigned values of unknown type: the site whose number guard checks them where
   * they are assigned (a use of the binding that the trace saw only as a number), else null.
   */
  guardSite(b: Binding | null | undefined): number | null {
    if (!b || !this.numeric.has(b)) return null;
    return this.guardSites.get(b) ?? null;
  }
  private guardSites = new Map<Binding, number>();

  /**
   * For each Rust local declared by a statement (or a parameter), the site of its first use when that use is
   * an operand that a site's guard admitted only as a number and nothing before it can be skipped: it is in
   * the part of a statement that always runs (not behind `&&`, `?:` or a branch), and the statements between
   * the declaration and it neither mention the local nor jump (break, continue, return, throw). A value
   * that is not a number then gives up at that use whatever the path, so checking it where the local gets
   * it gives the same answer.
   */
  private firstUseGuards(program: Node): Map<Binding, number> {
    const out = new Map<Binding, number>();
    const scan = (list: Node[], start: number, b: Binding): void => {
      for (let i = start; i < list.length; i++) {
        const r = this.firstUse(list[i], b);
        if (r === 'none') {
          if (jumps(list[i])) return;
          continue;
        }
        if (r !== 'other') out.set(b, r);
        return;
      }
    };
    const lists = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) {
        n.forEach((s, i) => {
          if (s?.type === 'VariableDeclaration' && !s.temp)
            for (const d of s.declarations) {
              const b = this.ref(d.id);
              if (b && !b.captured) scan(n, i + 1, b);
            }
        });
        n.forEach(lists);
        return;
      }
      if (FUNCTION_TYPES.has(n.type) && n.body?.type === 'BlockStatement') {
        const scope = this.scopeOf.get(n);
        for (const p of n.params) {
          const b = p.type === 'Identifier' ? scope?.bindings.get(p.name) : undefined;
          if (b && !b.captured) scan(n.body.body, 0, b);
        }
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') lists(n[k]);
    };
    lists(program);
    return out;
  }

  /**
   * The first use of `b` in the part of statement `st` that always runs, in evaluation order: the site of a
   * number-guarded operand, 'other' for any other use (or a use that may not run), 'none' when `st` does
   * not mention `b`.
   */
  private firstUse(st: Node, b: Binding): number | 'other' | 'none' {
    const mentions = (n: Node): boolean => {
      if (!n || typeof n !== 'object') return false;
      if (Array.isArray(n)) return n.some(mentions);
      if (n.type === 'Identifier' && this.ref(n) === b) return true;
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object' && mentions(n[k])) return true;
      return false;
    };
    // Evaluation order through the expressions that always run; anything else that mentions `b` is 'other'.
    const walk = (n: Node, parent: Node | null, key: string): number | 'other' | 'none' => {
      if (!n || typeof n !== 'object') return 'none';
      const seq = (parts: [Node, string][]): number | 'other' | 'none' => {
        for (const [x, k] of parts) {
          const r = Array.isArray(x) ? seq(x.map((y) => [y, k] as [Node, string])) : walk(x, n, k);
          if (r !== 'none') return r;
        }
        return 'none';
      };
      switch (n.type) {
        case 'Identifier': {
          if (this.ref(n) !== b) return 'none';
          const t = parent?.type;
          let mask: number | null = null;
          if (t === 'BinaryExpression') mask = this.typeMask(parent!, key === 'left' ? 0 : 1);
          else if (t === 'MemberExpression' && key === 'property' && parent!.computed) mask = this.typeMask(parent!, 1);
          else if (t === 'UnaryExpression' && ['-', '+', '~'].includes(parent!.operator)) mask = this.typeMask(parent!, 0);
          return mask === NUMBER_TAG ? parent!.sid : 'other';
        }
        case 'Literal':
          return 'none';
        case 'BinaryExpression':
          return seq([
            [n.left, 'left'],
            [n.right, 'right'],
          ]);
        case 'MemberExpression':
          return seq(
            n.computed
              ? [
                  [n.object, 'object'],
                  [n.property, 'property'],
                ]
              : [[n.object, 'object']],
          );
        case 'UnaryExpression':
        case 'AwaitExpression':
          return seq([[n.argument, 'argument']]);
        case 'AssignmentExpression':
          return n.left.type === 'Identifier'
            ? seq([[n.right, 'right']])
            : seq([
                [n.left, 'left'],
                [n.right, 'right'],
              ]);
        case 'CallExpression':
        case 'NewExpression':
          return seq([[n.callee, 'callee'], ...n.arguments.map((a: Node) => [a, 'arguments'] as [Node, string])]);
        case 'SequenceExpression':
          return seq(n.expressions.map((x: Node) => [x, 'expressions'] as [Node, string]));
        case 'ArrayExpression':
          return seq(n.elements.filter(Boolean).map((x: Node) => [x, 'elements'] as [Node, string]));
        case 'ClIntrinsic':
          return seq(n.arguments.map((x: Node) => [x, 'arguments'] as [Node, string]));
        case 'LogicalExpression': {
          const r = walk(n.left, n, 'left');
          return r !== 'none' ? r : mentions(n.right) ? 'other' : 'none';
        }
        case 'ConditionalExpression': {
          const r = walk(n.test, n, 'test');
          return r !== 'none' ? r : mentions([n.consequent, n.alternate]) ? 'other' : 'none';
        }
        case 'ExpressionStatement':
          return walk(n.expression, n, 'expression');
        case 'ReturnStatement':
          return n.argument ? walk(n.argument, n, 'argument') : 'none';
        case 'VariableDeclaration':
          return seq(n.declarations.filter((d: Node) => d.init).map((d: Node) => [d.init, 'init'] as [Node, string]));
        case 'IfStatement': {
          const r = walk(n.test, n, 'test');
          return r !== 'none' ? r : mentions([n.consequent, n.alternate]) ? 'other' : 'none';
        }
        default:
          return mentions(n) ? 'other' : 'none';
      }
    };
    return walk(st, null, '');
  }

  /**
   * How the trace saw each Rust local's uses: `site`, the first site whose guard on it admitted only
   * numbers; `other`, whether any use is anything but an operand that a site's guard admitted only as a
   * number (an operand seen as another type, `typeof` or `!` of it, an argument, an element, a return...).
   * A local whose every use (in code the trace ran) is such an operand may hold an f64 even when what it is
   * assigned is of unknown type (an element, a property, an argument): the value is checked where it is
   * assigned, giving up as its uses would. Only uses count that no test of the local's type can precede.
   */
  private numberGuardedUses(program: Node): Map<Binding, { site: number | null; other: boolean }> {
    const out = new Map<Binding, { site: number | null; other: boolean }>();
    const see = (b: Binding, mask: number | null, site: number): void => {
      const g = out.get(b) ?? { site: null, other: false };
      if (mask === NUMBER_TAG) g.site ??= site;
      // A site the trace never ran compiles to a give-up: what it would do with the local does not matter.
      else if (mask !== null || this.obs(site)) g.other = true;
      out.set(b, g);
    };
    const visit = (n: Node, parent: Node | null, key: string): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach((x) => visit(x, parent, key));
      if (n.type === 'Identifier' && parent) {
        const b = this.ref(n);
        if (!b || b.captured) return;
        const t = parent.type;
        // Where the local is declared or assigned: not a use.
        if ((t === 'AssignmentExpression' && key === 'left') || (t === 'VariableDeclarator' && key === 'id') || FUNCTION_TYPES.has(t)) return;
        if (t === 'BinaryExpression') see(b, this.typeMask(parent, key === 'left' ? 0 : 1), parent.sid);
        else if (t === 'MemberExpression' && key === 'property' && parent.computed) see(b, this.typeMask(parent, 1), parent.sid);
        else if (t === 'UnaryExpression' && (parent.operator === '-' || parent.operator === '+' || parent.operator === '~'))
          see(b, this.typeMask(parent, 0), parent.sid);
        else see(b, NOT_A_NUMBER, parent.sid ?? -1);
        return;
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k], n, k);
    };
    visit(program, null, '');
    return out;
  }

  /** Whether `e` evaluates to a number whenever the compiled code goes on (it gives up otherwise). */
  isNum(e: Node): boolean {
    switch (e?.type) {
      case 'Literal':
        return typeof e.value === 'number';
      case 'Identifier':
        // NaN and Infinity are the global object's read-only properties; a binding of that name shadows them.
        return this.isNumeric(this.ref(e)) || (!this.ref(e) && (e.name === 'NaN' || e.name === 'Infinity'));
      case 'UnaryExpression':
        // BigInts are not modelled (their literals and constructor give up), so these give numbers.
        return e.operator === '-' || e.operator === '+' || e.operator === '~';
      case 'BinaryExpression':
        if (NUM_OPS.has(e.operator)) return true;
        if (e.operator !== '+') return false;
        return (this.isNum(e.left) && this.isNum(e.right)) || (this.typeMask(e, 0) === NUMBER_TAG && this.typeMask(e, 1) === NUMBER_TAG);
      case 'SequenceExpression':
        return this.isNum(e.expressions[e.expressions.length - 1]);
      case 'AssignmentExpression':
        return e.operator === '=' && this.isNum(e.right);
      case 'ConditionalExpression':
        return this.isNum(e.consequent) && this.isNum(e.alternate);
      case 'ClIntrinsic':
        // ToPropertyKey keeps a number a number (`rt::member_key`).
        return e.name === 'memberKey' && this.isNum(e.arguments[0]);
      case 'CallExpression': {
        // The callee guard admits only the callees the trace saw: if each returns a number, so does the call.
        const callees = this.obs(e.sid)?.callees;
        return !!callees?.length && callees.every((c) => NUMBER_BUILTINS.has(c));
      }
      case 'MemberExpression': {
        const local = this.localArray(e.object);
        if (local) return !!e.computed ? local.a.kind === 'f64' : true;
        // `.length` of what the guard admits only as arrays and strings.
        const m = this.typeMask(e, 0);
        return !e.computed && e.property.type === 'Identifier' && e.property.name === 'length' && m !== null && (m & ~(ARRAY_TAG | STRING_TAG)) === 0;
      }
      default:
        return false;
    }
  }

  typeMask(node: Node, i: number): number | null {
    const o = this.obs(node.sid);
    const m = o?.ty?.[i];
    return m ? m : null;
  }

  warnUnsupported(node: Node, what: string): void {
    this.diag('C002', node, `${what} is not compiled; requests that reach it run in JavaScript`);
  }
  warnGlobal(node: Node, name: string): void {
    this.diag('C003', node, `the global ${name} is not modelled by the runtime; requests that reach it run in JavaScript`);
  }
  warnRequire(node: Node, name: string): void {
    this.diag('C004', node, `require('${name}') is not compiled (only 'containerless' is); requests that reach it run in JavaScript`);
  }

  isGlobal(name: string): boolean {
    return builtins().has(name) || VALUE_GLOBALS.has(name) || [...builtins()].some((b) => b.startsWith(`${name}.`));
  }

  scope(n: Node): Scope | undefined {
    return this.scopeOf.get(n);
  }
  ref(n: Node): Binding | null | undefined {
    return this.refOf.get(n);
  }
  fnFor(n: Node): FnInfo | undefined {
    return this.fns.find((f) => f.node === n);
  }
  keyOf(s: string): string {
    return this.key(s);
  }
  /** A new method-cache slot (`call::method_guarded`): one per call site. */
  icSlot(): number {
    return this.icSlots++;
  }
  private icSlots = 0;
  strOf(s: string): number {
    return this.str(s);
  }
  fresh(p?: string): string {
    return this.tmp(p);
  }
  fieldsCode(classSid: number): number | undefined {
    return this.classFields.get(classSid);
  }

  private render(): string {
    const consts = this.strings.map((u, i) => `const S${i}: &[u16] = &[${u.join(', ')}];`).join('\n');
    const table = this.strings.map((_, i) => `S${i}`).join(', ');
    const funcs = this.fns.map((f) => `f${f.code}`).join(', ');
    return `// Generated by containerless from a trace of ${sanitize(this.name)}. Do not edit.
#![forbid(unsafe_code)]
#![allow(unused_mut, unused_variables, unused_braces, unreachable_code, unused_imports, unused_parens, non_snake_case, clippy::all)]

use clrt::call::{self, CalleeId, Member, MethodKind};
use clrt::cx::{Call, Ctl, Cx, JsResult};
use clrt::heap::fflags;
use clrt::ops::{self, CmpOp, NumOp};
use clrt::{props, rt, JsStr, ObjRef, Value};

${consts}

static STRINGS: &[&[u16]] = &[${table}];
static FUNCS: &[clrt::Code] = &[${funcs}];
static SORT_ROWS: &[clrt::SortRows] = &[${this.rowsTable.join(', ')}];

pub static PROGRAM: clrt::Program = clrt::Program {
    name: ${JSON.stringify(sanitize(this.name))},
    funcs: FUNCS,
    init: f0,
    trace_version: 1,
    strings: STRINGS,
    sort_rows: SORT_ROWS,
};

fn main() {
    clrt::dispatcher::main(&PROGRAM)
}

// A try block's completion when it does not throw.
#[allow(dead_code)]
enum Cmp {
    Normal,
    Return(Value),
    Break(u32),
}

${[...this.bodies, ...this.rowsBodies].join('\n\n')}
`;
  }
}

/** Defines class field `key` (a string-table constant) on `obj`: private fields are not enumerable. */
function defineField(obj: string, key: string, isPrivate: boolean): string {
  if (isPrivate) return `props::define_prop(cx, ${obj}, JsStr::from_units(${key}.to_vec()), clrt::heap::Prop::hidden(v))?;`;
  return `props::define(cx, ${obj}, JsStr::from_units(${key}.to_vec()), v)?;`;
}

/** What `typeof` answers. */
const TYPEOF_NAMES = new Set(['undefined', 'object', 'boolean', 'number', 'string', 'function', 'bigint', 'symbol']);

const NUMBER_TAG = TAG.number;
const STRING_TAG = TAG.string;
const ARRAY_TAG = TAG.array;
const BOOL_TAG = TAG.boolean;
/** Builtins that always return a number (the runtime says so in runtime/contract.json). */
const NUMBER_BUILTINS = new Set(
  contract()
    .builtins.filter((b) => b.returns.length === 1 && b.returns[0] === 'number')
    .map((b) => b.name),
);
/** Operators on two numbers that Rust's f64 operators compute exactly as JavaScript does. */
/** A function or class that is the value of a property with a static key is named by it (`{ f: () => 1 }`). */
function nameAnonymousValue(p: Node): void {
  if ((p.value.type === 'FunctionExpression' || p.value.type === 'ArrowFunctionExpression' || p.value.type === 'ClassExpression') && !p.computed)
    p.value.inferredName ??= propName(p.key) ?? '';
}

const F64_OPS: Record<string, string> = {
  '+': '+',
  '-': '-',
  '*': '*',
  '/': '/',
  '%': '%',
  '<<': 'shl',
  '>>': 'shr',
  '>>>': 'ushr',
  '&': 'and',
  '|': 'or',
  '^': 'xor',
};
const F64_CMP: Record<string, string> = { '<': '<', '>': '>', '<=': '<=', '>=': '>=', '===': '==', '!==': '!=', '==': '==', '!=': '!=' };
/** Operators whose result is a boolean whatever their operands. */
const BOOL_OPS = new Set(['<', '>', '<=', '>=', '===', '!==', '==', '!=', 'in', 'instanceof']);
/**
 * The f64 expression inside generated code of the form `Value::Num(<expr>)`, or null when the code is anything
 * else (the parenthesis that opens after `Value::Num` must close at the end; string literals are skipped).
 */
export function unwrapNum(code: string): string | null {
  const head = 'Value::Num(';
  if (!code.startsWith(head) || !code.endsWith(')')) return null;
  let depth = 0;
  for (let i = head.length - 1; i < code.length; i++) {
    const c = code[i];
    if (c === '"') {
      for (i++; i < code.length && code[i] !== '"'; i++) if (code[i] === '\\') i++;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i === code.length - 1 ? code.slice(head.length, -1) : null;
  }
  return null;
}

/** A local array of one element kind (see findLocalArrays): its kind and the parts of its initialiser. */
interface LocalArray {
  kind: 'bool' | 'f64';
  /** Made by `new Array(n).fill(c)`: the literal `fill` is called with, `new Array(n)`, the `fill` call. */
  fill?: Node;
  ctor?: Node;
  call?: Node;
  /** Made by an array literal: its elements. */
  literal?: Node[];
  /** An array literal that no code stores into: a fixed-size Rust array rather than a vector. */
  fixed?: boolean;
}
/**
 * Builtin methods called directly on their receiver when the realm is as it was made (the lookup would find
 * that builtin), with the runtime's static for each: the builtin runs with the same receiver and arguments
 * as through the call, converting them and calling callbacks as it always does.
 */
const PROTO_DIRECT: Record<string, string> = {
  ...Object.fromEntries(
    Object.entries({
      at: 'AT',
      charAt: 'CHAR_AT',
      endsWith: 'ENDS_WITH',
      includes: 'INCLUDES',
      indexOf: 'INDEX_OF',
      lastIndexOf: 'LAST_INDEX_OF',
      padEnd: 'PAD_END',
      padStart: 'PAD_START',
      repeat: 'REPEAT',
      slice: 'SLICE',
      startsWith: 'STARTS_WITH',
      substring: 'SUBSTRING',
      substr: 'SUBSTR',
      toLowerCase: 'TO_LOWER_CASE',
      toUpperCase: 'TO_UPPER_CASE',
      trim: 'TRIM',
      trimEnd: 'TRIM_END',
      trimStart: 'TRIM_START',
    }).map(([m, id]) => [`String.prototype.${m}`, `string::${id}`]),
  ),
  'String.prototype.split': 'regexp::SPLIT',
  'Number.prototype.toFixed': 'number::TO_FIXED',
  'Number.prototype.toString': 'number::TO_STRING',
  ...Object.fromEntries(
    Object.entries({
      at: 'AT',
      concat: 'CONCAT',
      every: 'EVERY',
      fill: 'FILL',
      filter: 'FILTER',
      find: 'FIND',
      findIndex: 'FIND_INDEX',
      findLast: 'FIND_LAST',
      findLastIndex: 'FIND_LAST_INDEX',
      flat: 'FLAT',
      flatMap: 'FLAT_MAP',
      forEach: 'FOR_EACH',
      includes: 'INCLUDES',
      indexOf: 'INDEX_OF',
      join: 'JOIN',
      lastIndexOf: 'LAST_INDEX_OF',
      map: 'MAP',
      pop: 'POP',
      push: 'PUSH',
      reduce: 'REDUCE',
      reduceRight: 'REDUCE_RIGHT',
      reverse: 'REVERSE',
      shift: 'SHIFT',
      slice: 'SLICE',
      some: 'SOME',
      sort: 'SORT',
      splice: 'SPLICE',
      unshift: 'UNSHIFT',
    }).map(([m, id]) => [`Array.prototype.${m}`, `array::${id}`]),
  ),
  'Map.prototype.get': 'collections::MAP_GET',
  'Map.prototype.set': 'collections::MAP_SET',
  'Map.prototype.has': 'collections::MAP_HAS',
  'Map.prototype.delete': 'collections::MAP_DELETE',
  'Set.prototype.add': 'collections::SET_ADD',
  'Set.prototype.has': 'collections::SET_HAS',
  'Set.prototype.delete': 'collections::SET_DELETE',
};
/** Operators whose result is a number whatever their operands (BigInts aside, which are not modelled). */
const NUM_OPS = new Set(['-', '*', '/', '%', '**', '<<', '>>', '>>>', '&', '|', '^']);

/** `l op r` on f64s; `%` through `ops::rem_f64`, which takes the integer remainder when it is exact. */
function f64Op(op: string, l: string, r: string): string {
  if (op === '%') return `ops::rem_f64(${l}, ${r})`;
  // Shifts and bitwise operators: ToInt32/ToUint32 of each operand, as the runtime's `ops::bit_f64`.
  if (/^[a-z]+$/.test(F64_OPS[op])) return `ops::bit_f64(ops::Bit::${F64_OPS[op][0].toUpperCase()}${F64_OPS[op].slice(1)}, ${l}, ${r})`;
  return `(${l} ${F64_OPS[op]} ${r})`;
}

/**
 * Removes from `set` the members `keep` refuses, again and again until it keeps them all: `keep` may look at
 * who else is still in the set (a binding given another binding's value keeps only while that one does).
 */
function keepWhile<T>(set: Set<T>, keep: (x: T) => boolean): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const x of [...set]) {
      if (!keep(x)) {
        set.delete(x);
        changed = true;
      }
    }
  }
}

/** The longest generated body (in characters) of a function inlined where it is called (`wrapFn`). */
const INLINE_MAX_CHARS = 2500;

/**
 * The keys of a comparator literal `(a, b) => a.k1 - b.k1 || b.k2 - a.k2 ...` (an arrow or function
 * expression, neither async nor a generator, with two plain parameters, whose body is that expression or a
 * block returning it): each term's property name and whether it is `b.k - a.k`; null for anything else.
 */
export function sortKeys(f: Node): Array<[string, boolean]> | null {
  if (f.type !== 'ArrowFunctionExpression' && f.type !== 'FunctionExpression') return null;
  if (f.async || f.generator || f.params.length !== 2 || f.params.some((p: Node) => p.type !== 'Identifier')) return null;
  const [a, b] = f.params.map((p: Node) => p.name);
  if (a === b) return null;
  let body = f.body;
  if (body.type === 'BlockStatement') {
    if (body.body.length !== 1 || body.body[0].type !== 'ReturnStatement' || !body.body[0].argument) return null;
    body = body.body[0].argument;
  }
  const terms: Node[] = [];
  const flatten = (n: Node): void => {
    if (n.type === 'LogicalExpression' && n.operator === '||') {
      flatten(n.left);
      flatten(n.right);
    } else terms.push(n);
  };
  flatten(body);
  const key = (m: Node): [string, string] | null =>
    m.type === 'MemberExpression' && !m.computed && !m.optional && m.object.type === 'Identifier' && m.property.type === 'Identifier'
      ? [m.object.name, m.property.name]
      : null;
  const out: Array<[string, boolean]> = [];
  for (const t of terms) {
    if (t.type !== 'BinaryExpression' || t.operator !== '-') return null;
    const l = key(t.left);
    const r = key(t.right);
    if (!l || !r || l[1] !== r[1]) return null;
    if (l[0] === a && r[0] === b) out.push([l[1], false]);
    else if (l[0] === b && r[0] === a) out.push([l[1], true]);
    else return null;
  }
  return out;
}

/** A number literal as an f64 Rust expression, exact to the bit. */
function f64Literal(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 2 ** 53 && !Object.is(v, -0)) return `${v}.0f64`;
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(v);
  return `f64::from_bits(0x${buf.readBigUInt64LE().toString(16)}u64)`;
}

function memberName(m: Node): string | null {
  if (m.computed) return null;
  return propName(m.key);
}

function propName(k: Node): string | null {
  if (!k) return null;
  if (k.type === 'Identifier') return k.name;
  if (k.type === 'PrivateIdentifier') return k.key;
  if (k.type === 'Literal') return String(k.value);
  return null;
}

/** Generates the statements and expressions of one function. */
class FnGen {
  /** Allocated environments in scope, outermost first (the closure's, then this function's). */
  envChain: Scope[] = [];
  /** Try-block closures we are inside: the labels declared within each, and the outer labels it breaks to. */
  private tryLabels: { labels: string[]; exits: Set<string> }[] = [];
  /** Numbers of labels that try blocks break to. */
  private labelIds = new Map<string, number>();
  /**
   * Bindings of enclosing functions held in Rust locals while this function runs (`cacheCaptured`): each
   * binding's local, and the statements that read them all again from their environments.
   */
  private cached = new Map<Binding, string>();
  /** The bindings among `cached` held as f64 (`Codegen.capturedNumber`). */
  private cachedNum = new Set<Binding>();
  private reload = '';
  /** Set when the function is generated to run on rows (`Codegen.sortRows`). */
  rows: SortRows | null = null;

  constructor(
    private cg: Codegen,
    private fn: FnInfo,
  ) {}

  /**
   * A function whose body cannot run any other code (no call but a Math function, no property access, no
   * operator that could call valueOf or toString, no nested function) reads the bindings it shares with
   * enclosing functions once, at its start, into Rust locals: nothing else can see them while it runs. Its
   * assignments write the locals, and the environments get them back when it returns or throws
   * (`writeBack`). Reading or assigning a binding still in its temporal dead zone throws as before (the
   * local holds the hole). A Math function given something other than numbers may run valueOf: the locals
   * are written back before it and read again after it. Returns the statements that load them.
   */
  cacheCaptured(body: Node): string[] {
    // How often the body reads and writes each, an access in a loop counting as eight.
    const reads = new Map<Binding, number>();
    const writes = new Map<Binding, number>();
    const count = (m: Map<Binding, number>, b: Binding): void => void m.set(b, (m.get(b) ?? 0) + weight);
    let weight = 1;
    const outer = (n: Node): Binding | null => {
      const b = n.type === 'Identifier' ? this.cg.ref(n) : null;
      return b?.captured && b.scope.fn !== this.fn ? b : null;
    };
    let ok = true;
    const visit = (n: Node): void => {
      if (!ok || !n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(visit);
      switch (n.type) {
        case 'Identifier': {
          const b = outer(n);
          if (b) count(reads, b);
          return;
        }
        case 'Literal':
          if (n.regex || typeof n.value === 'bigint') ok = false;
          return;
        case 'ExpressionStatement':
        case 'ReturnStatement':
        case 'IfStatement':
        case 'BlockStatement':
        case 'LabeledStatement':
        case 'EmptyStatement':
        case 'SequenceExpression':
        case 'ConditionalExpression':
        case 'LogicalExpression':
          break;
        case 'BreakStatement':
          return;
        case 'WhileStatement':
          weight *= 8;
          visit(n.test);
          visit(n.body);
          weight /= 8;
          return;
        case 'VariableDeclaration':
          if (n.declarations.some((d: Node) => d.id.type !== 'Identifier')) ok = false;
          break;
        case 'VariableDeclarator':
          return visit(n.init);
        case 'AssignmentExpression': {
          if (n.left.type !== 'Identifier' || n.operator !== '=') {
            ok = false;
            return;
          }
          const b = outer(n.left);
          if (b) count(writes, b);
          return visit(n.right);
        }
        case 'UnaryExpression':
          if (n.operator !== '!' && n.operator !== 'typeof' && n.operator !== 'void' && !this.cg.isNum(n.argument) && this.cg.typeMask(n, 0) !== NUMBER_TAG)
            ok = false;
          break;
        case 'BinaryExpression':
          if (n.operator !== '===' && n.operator !== '!==' && !this.f64Binary(n)) ok = false;
          break;
        case 'CallExpression': {
          // A Math function: on numbers it runs directly and nothing else runs; otherwise the builtin runs,
          // and the locals go back to their environments before it and are read again after it.
          const c = n.callee;
          const ids = this.cg.callees(n) ?? '';
          const math = /^&\[CalleeId::Builtin\("Math\.(\w+)"\)\]$/.exec(ids);
          if (
            !math ||
            MATH_DIRECT[math[1]] !== n.arguments.length ||
            c.type !== 'MemberExpression' ||
            c.computed ||
            c.object.type !== 'Identifier' ||
            c.object.name !== 'Math' ||
            this.cg.ref(c.object) ||
            n.arguments.some((a: Node) => a.type === 'SpreadElement')
          )
            ok = false;
          return n.arguments.forEach(visit);
        }
        default:
          ok = false;
          return;
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k]);
    };
    visit(body);
    if (!ok) return this.cacheReadOnly(body);
    // Loading one costs a look at its environment, and giving it back a store: worth it for a binding read
    // twice or more; the stores wait for the end when one of them is assigned twice or more (else each
    // assignment writes through).
    const used = [...reads.keys()].filter((b) => reads.get(b)! >= 2);
    if (!used.length) return [];
    const deferred = used.some((b) => (writes.get(b) ?? 0) >= 2);
    const lines: string[] = [];
    const loads: string[] = [];
    const stores: string[] = [];
    for (const b of used) {
      const local = this.cg.fresh('k');
      const { base, depth } = this.envRef(b);
      // A binding that only ever holds numbers is held as an f64 (with whether it is in its temporal dead
      // zone, `rt::HeldNum`): no tag to test at each use, nothing to clone or drop.
      const num = this.cg.capturedNumber(b);
      const load = num ? `rt::HeldNum::load(cx, ${base}, ${depth}, ${b.slot})?` : `props::scope_get(cx, ${base}, ${depth}, ${b.slot})`;
      lines.push(`let mut ${local}: ${num ? 'rt::HeldNum' : 'Value'} = ${load};`);
      loads.push(`${local} = ${load};`);
      if (!b.isConst)
        stores.push(num ? `${local}.store(cx, ${base}, ${depth}, ${b.slot})?;` : `props::scope_set(cx, ${base}, ${depth}, ${b.slot}, ${local}.clone())?;`);
      this.cached.set(b, local);
      if (num) this.cachedNum.add(b);
    }
    if (deferred) this.writeBack = stores.join(' ');
    else this.writeThrough = true;
    this.reload = loads.join(' ');
    return lines;
  }

  /**
   * On rows (`Codegen.sortRows`), the bindings of enclosing functions the comparator reads are read from
   * `caps`, which the sort fills from their environments once (`SortRows.caps`), instead of from the
   * environments at every call: the comparator assigns none of them and runs no other code, so none can
   * change while the sort runs. One in its temporal dead zone holds the hole there, and each use throws as
   * before. Returns where each is, as (depth, slot) from the comparator's closure; null when one is not
   * reached through it.
   */
  cacheRows(body: Node): Array<[number, number]> | null {
    const caps: Array<[number, number]> = [];
    let ok = true;
    const visit = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(visit);
      if (n.type === 'Identifier') {
        const b = this.cg.ref(n);
        if (b?.captured && b.scope.fn !== this.fn && !this.cached.has(b)) {
          const { base, depth } = this.envRef(b);
          if (!base.startsWith('e_closure')) ok = false;
          this.cached.set(b, `caps[${caps.length}]`);
          caps.push([depth, b.slot]);
        }
        return;
      }
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k]);
    };
    visit(body);
    return ok ? caps : null;
  }

  /**
   * A function that may run other code still holds in Rust locals the bindings of enclosing functions that it
   * reads twice or more (a read in a loop counting as eight) and that nothing assigns after their declaration
   * (`Codegen.written`): read once at its start, as the value it would read at each use. Such a binding
   * changes only when its declaration runs, in the function that declares it, which cannot run while this
   * one does (neither is async nor a generator, so no await or yield lets it run in between); one still in
   * its temporal dead zone stays there, and each use throws as before. Nothing is written back.
   */
  private cacheReadOnly(body: Node): string[] {
    const f = this.fn.node;
    if (f.async || f.generator) return [];
    const reads = new Map<Binding, number>();
    let weight = 1;
    const loops = new Set(['WhileStatement', 'DoWhileStatement', 'ForStatement', 'ForInStatement', 'ForOfStatement']);
    const visit = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(visit);
      // A nested function reads through its own closure (and its own locals).
      if (FUNCTION_TYPES.has(n.type) || n.type === 'ClassExpression' || n.type === 'ClassDeclaration') return;
      if (n.type === 'Identifier') {
        const b = this.cg.ref(n);
        if (b?.captured && b.scope.fn !== this.fn && !this.cg.written.has(b) && !b.scope.fn.node.async && !b.scope.fn.node.generator)
          reads.set(b, (reads.get(b) ?? 0) + weight);
        return;
      }
      const loop = loops.has(n.type);
      if (loop) weight *= 8;
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') visit(n[k]);
      if (loop) weight /= 8;
    };
    visit(body);
    const lines: string[] = [];
    for (const [b, r] of reads) {
      if (r < 2) continue;
      const local = this.cg.fresh('k');
      const { base, depth } = this.envRef(b);
      lines.push(`let ${local}: Value = props::scope_get(cx, ${base}, ${depth}, ${b.slot});`);
      this.cached.set(b, local);
    }
    return lines;
  }

  /** The stores that give the environments back the bindings held in locals (see `cacheCaptured`). */
  writeBack = '';
  /** Whether assignments to the bindings held in locals write their environments at once instead. */
  private writeThrough = false;

  // Environments

  /** Allocates `scope`'s environment if it has captured bindings; returns the lines. */
  openScope(scope: Scope, closureVar: string): string[] {
    const lines: string[] = [];
    if (this.envChain.length === 0 && scope.parent === null) {
      // Module level.
    }
    if (scope.slots > 0) {
      const v = this.cg.fresh('env');
      const parent = this.currentEnvExpr(closureVar);
      lines.push(`let ${v}: ObjRef = rt::new_scope(cx, ${scope.slots}, ${parent})?;`);
      scope.env = v;
      this.envChain = [...this.envChain, scope];
    }
    return lines;
  }

  private closureVar = 'e_closure';

  private currentEnvExpr(closureVar = this.closureVar): string {
    const own = [...this.envChain].reverse().find((s) => s.env && s.fn === this.fn);
    if (own) return `Some(${own.env})`;
    return closureVar;
  }

  /** The Rust expression for the innermost environment object and the depth of `b`'s scope from it. */
  private envRef(b: Binding): { base: string; depth: number } {
    const idx = this.envChain.indexOf(b.scope);
    if (idx < 0) throw new Error(`internal: binding ${b.name} not in scope chain`);
    const top = this.envChain.length - 1;
    const innermost = this.envChain[top];
    const base = innermost.fn === this.fn && innermost.env ? innermost.env : 'e_closure.expect("closure environment")';
    // Own scopes are named directly when possible.
    if (b.scope.fn === this.fn && b.scope.env) return { base: b.scope.env, depth: 0 };
    return { base, depth: top - idx };
  }

  /**
   * Captured bindings live in environment slots, which start uninitialised: reading or assigning one before
   * its declaration has run (its temporal dead zone, which a closure or a switch case can reach) throws
   * ReferenceError. Rust locals are only ever used after their declaration.
   */
  readBinding(b: Binding): string {
    if (this.cg.isNumeric(b)) return `Value::Num(${b.rust})`;
    if (!b.captured) return `${b.rust}.clone()`;
    const local = this.cached.get(b);
    if (local && this.cachedNum.has(b)) return `Value::Num(${local}.get()?)`;
    if (local) return `rt::cached_read(&${local})?`;
    const { base, depth } = this.envRef(b);
    return `rt::scope_read(cx, ${base}, ${depth}, ${b.slot})?`;
  }

  assignBinding(b: Binding, value: string): string {
    if (!b.captured) return `${b.rust} = ${value};`;
    const { base, depth } = this.envRef(b);
    const local = this.cached.get(b);
    if (local && this.cachedNum.has(b)) {
      // Every value it gets is a number (`capturedNumber`); one that is not gives up rather than go astray.
      const n = `let n = rt::held_num(&${value})?;`;
      if (this.writeThrough) return `{ ${n} rt::scope_write_num(cx, ${base}, ${depth}, ${b.slot}, n)?; ${local}.set(n)?; }`;
      return `{ ${n} ${local}.set(n)?; }`;
    }
    if (local && this.writeThrough) return `{ let v = ${value}; rt::scope_write(cx, ${base}, ${depth}, ${b.slot}, v.clone())?; ${local} = v; }`;
    if (local) return `{ let v = ${value}; rt::cached_write(&mut ${local}, v)?; }`;
    return `{ let v = ${value}; rt::scope_write(cx, ${base}, ${depth}, ${b.slot}, v)?; }`;
  }

  /** `assignBinding` of the f64 `n` to a captured binding. */
  private assignBindingNum(b: Binding, n: string): string {
    const { base, depth } = this.envRef(b);
    const local = this.cached.get(b);
    const write = `rt::scope_write_num(cx, ${base}, ${depth}, ${b.slot}, ${n})?;`;
    if (local && this.cachedNum.has(b)) return this.writeThrough ? `${write} ${local}.set(${n})?;` : `${local}.set(${n})?;`;
    if (local && this.writeThrough) return `${write} rt::cached_write_num(&mut ${local}, ${n})?;`;
    if (local) return `rt::cached_write_num(&mut ${local}, ${n})?;`;
    return write;
  }

  /** Initialises a binding: its declaration, a parameter, a function's `this`. */
  initBinding(b: Binding, value: string): string {
    if (!b.captured) return `${b.rust} = ${value};`;
    const { base, depth } = this.envRef(b);
    return `{ let v = ${value}; props::scope_set(cx, ${base}, ${depth}, ${b.slot}, v)?; }`;
  }

  declareBinding(b: Binding, value: string): string {
    if (!b.captured) return `let mut ${b.rust}: Value = ${value};`;
    return this.initBinding(b, value);
  }

  thisValue(): string {
    return this.fn.isMethod ? 'call.this.clone()' : 'rt::sloppy_this(&call.this)?';
  }

  // Statements

  statements(list: Node[]): string[] {
    const out: string[] = [];
    for (const s of list) out.push(...this.statement(s));
    return out;
  }

  private block(n: Node): string {
    const scope = this.cg.scope(n);
    const saved = this.envChain;
    const lines: string[] = [];
    if (scope) lines.push(...this.openScope(scope, this.closureVar));
    lines.push(...this.statements(n.body));
    this.envChain = saved;
    return `{\n${indent(lines)}\n}`;
  }

  private stmtBody(n: Node): string {
    if (n.type === 'BlockStatement') return this.block(n);
    return `{\n${indent(this.statement(n))}\n}`;
  }

  private returnExpr(v: string): string {
    return this.tryLabels.length ? `return Ok(Cmp::Return(${v}));` : `return Ok(${v});`;
  }

  statement(s: Node): string[] {
    switch (s.type) {
      case 'ExpressionStatement':
        return [`${this.expr(s.expression)};`];
      case 'VariableDeclaration': {
        const d = s.declarations[0];
        const b = this.cg.ref(d.id);
        // A normaliser's temporary is assigned before every read: its `undefined` start is never seen.
        if (this.cg.isNumeric(b)) return [`let mut ${b!.rust}: f64 = ${s.temp ? 'f64::NAN' : this.numDef(b!, d.init)};`];
        const local = this.cg.localArray(d.id);
        if (local?.a.fixed && local.a.literal)
          return [`let ${b!.rust}: [${local.a.kind}; ${local.a.literal.length}] = [${this.literalItems(local.a).join(', ')}];`];
        if (local) return [`let mut ${b!.rust}: Vec<${local.a.kind}> = ${this.filledArray(local.a)};`];
        const v = d.init ? this.expr(d.init) : 'Value::Undefined';
        if (!b) return [`${v};`];
        return [this.declareBinding(b, v)];
      }
      case 'FunctionDeclaration': {
        const b = this.cg.ref(s.id);
        const f = this.makeFunction(s, s.id.name);
        return b ? [this.declareBinding(b, f)] : [`${f};`];
      }
      case 'ReturnStatement':
        return [this.returnExpr(s.argument ? this.expr(s.argument) : 'Value::Undefined')];
      case 'ThrowStatement':
        return [`return Err(Ctl::Throw(${this.expr(s.argument)}));`];
      case 'BlockStatement':
        return [this.block(s)];
      case 'IfStatement': {
        const t = this.cond(s.test);
        const c = this.stmtBody(s.consequent);
        const a = s.alternate ? ` else ${this.stmtBody(s.alternate)}` : '';
        return [`if ${t} ${c}${a}`];
      }
      case 'LabeledStatement': {
        const label = `'${sanitize(s.label.name)}`;
        if (this.tryLabels.length) this.tryLabels[this.tryLabels.length - 1].labels.push(label);
        if (s.body.type === 'WhileStatement') {
          const w = s.body;
          const cond = w.test.type === 'Literal' && w.test.value === true ? '' : `if !${this.cond(w.test)} { break; }\n`;
          const loop = `${label}: loop {\n    cx.tick()?;\n${indent([cond + this.stmtBody(w.body)])}\n}`;
          const fast = this.fastLoop(w, s.label.name);
          // The fast version runs first when its checks pass; the loop then finds its test false at once, or
          // does not run when the fast version left the loop by a break.
          if (!fast) return [loop];
          return fast.broke ? [`let mut ${fast.broke} = false;`, fast.code, `if !${fast.broke} {\n${indent([loop])}\n}`] : [fast.code, loop];
        }
        return [`${label}: ${this.stmtBody(s.body)}`];
      }
      case 'WhileStatement': {
        const cond = s.test.type === 'Literal' && s.test.value === true ? '' : `if !${this.cond(s.test)} { break; }\n`;
        return [`loop {\n    cx.tick()?;\n${indent([cond + this.stmtBody(s.body)])}\n}`];
      }
      case 'BreakStatement': {
        const label = `'${sanitize(s.label.name)}`;
        return [this.breakTo(label)];
      }
      case 'TryStatement':
        return this.tryStatement(s);
      case 'SwitchStatement':
        return this.switchStatement(s);
      case 'ClUnknown':
        return [`return clrt::unknown(${s.sid});`];
      case 'ClUnsupported': {
        this.cg.warnUnsupported(s, s.reason);
        // A function or class declaration that is not compiled (a generator, a class with private
        // members) still binds its name: a function value whose calls, constructions and property reads
        // give up, so requests that never touch it stay in Rust.
        const b = s.declares ? this.cg.ref(s.declares) : undefined;
        if (b)
          return [
            this.declareBinding(
              b,
              `call::make_function(cx, call::NOT_COMPILED, None, &rt::text(${this.cg.keyOf(s.declares.name)}), ${Number(s.arity) >>> 0}, 0)?`,
            ),
          ];
        return [`return clrt::cx::abort(clrt::AbortKind::Unsupported, ${s.sid}, "a construct that is not compiled");`];
      }
      case 'EmptyStatement':
        return [];
      default:
        this.cg.warnUnsupported(s, `a ${s.type}`);
        return [`return clrt::cx::abort(clrt::AbortKind::Unsupported, ${s.sid ?? 0}, "a statement that is not compiled");`];
    }
  }

  /**
   * A counted loop over arrays, run on the arrays' elements in place (runtime/src/fastloop.rs): the loop
   * `for (...; j < end; j++) { ... }` (as the normaliser writes it) where `j` and `end` are f64 locals the
   * body does not assign, and the body is only assignments of f64 arithmetic to f64 locals and to `a[j]`,
   * reading `b[j]`, for arrays `a`, `b` held by Rust locals the body does not assign (the normaliser's
   * `t = j` key temporaries included). Before it runs, `fastloop::views` checks what each slow iteration
   * would find: every array is an array the request may write (the written ones), long enough for the last
   * `j`, and every element read is a number at every `j` the loop will take. Then nothing in the body can
   * change an array's length or kind (no call, no other store), so the iterations need no more checks; where
   * the checks fail the loop runs as usual. Returns null when the loop is not of this form.
   */
  private fastLoop(w: Node, loopLabel: string): { code: string; broke: string | null } | null {
    const body: Node[] = w.body?.type === 'BlockStatement' ? w.body.body : [];
    if (body.length !== 3) return null;
    const [guard, labeled, update] = body;
    // `if (!(j < end)) break`, the labeled body, `j = +j + 1`.
    if (guard.type !== 'IfStatement' || !guard.loopTest || guard.alternate) return null;
    const t = guard.test;
    if (t.type !== 'UnaryExpression' || t.operator !== '!' || t.argument.type !== 'BinaryExpression') return null;
    // `j < end`, or `j <= end` (run to the last index not past `end`).
    if (t.argument.operator !== '<' && t.argument.operator !== '<=') return null;
    const inclusive = t.argument.operator === '<=';
    const jNode = t.argument.left;
    const endNode = t.argument.right;
    const j = jNode.type === 'Identifier' ? this.cg.ref(jNode) : null;
    if (!j || j.captured || !this.cg.isNumeric(j)) return null;
    if (update.type !== 'ExpressionStatement' || update.expression.type !== 'AssignmentExpression') return null;
    const u = update.expression;
    const inc = u.right;
    const isJ = (n: Node): boolean =>
      (n.type === 'Identifier' && this.cg.ref(n) === j) || (n.type === 'UnaryExpression' && n.operator === '+' && isJ(n.argument));
    if (u.left.type !== 'Identifier' || this.cg.ref(u.left) !== j || inc.type !== 'BinaryExpression' || inc.operator !== '+' || !isJ(inc.left)) return null;
    // The step: 1, another integer literal, or an f64 local the body does not assign (checked below), which
    // must be a whole number from 1 when the loop starts (`fastloop::step`).
    const stepNode = inc.right;
    const stepBinding = stepNode.type === 'Identifier' ? this.cg.ref(stepNode) : null;
    let stepCode: string | null = null;
    if (stepNode.type === 'Literal') {
      if (typeof stepNode.value !== 'number' || !Number.isInteger(stepNode.value) || stepNode.value < 1 || stepNode.value >= 2 ** 31) return null;
      if (stepNode.value !== 1) stepCode = f64Literal(stepNode.value);
    } else if (stepBinding && !stepBinding.captured && this.cg.isNumeric(stepBinding)) stepCode = stepBinding.rust;
    // A tagged local the trace saw only numbers in at the `+`: behind that operator's number guard.
    else if (stepBinding && !stepBinding.captured && !this.cg.localArrays.has(stepBinding) && this.f64Binary(inc))
      stepCode = `ops::guard_num(&${stepBinding.rust}, ${inc.sid})?`;
    else return null;
    if (labeled.type !== 'LabeledStatement' || labeled.body.type !== 'BlockStatement') return null;
    // A `break` out of the loop (or to its body's end, a `continue`) may leave after a few iterations: then
    // every element is checked where it is read (`Views::at`) rather than all of them before the loop.
    let breaks = false;
    const findBreaks = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(findBreaks);
      if (n.type === 'BreakStatement' && n.label?.name === loopLabel) breaks = true;
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') findBreaks(n[k]);
    };
    findBreaks(labeled.body);
    let continues = false;
    const broke = breaks ? this.cg.fresh('broke') : null;
    // What the body assigns or declares, and how many times (an update counts twice): none of it may be the
    // index, the bound, or an array; a local declared once and assigned nowhere else may be an integer (`int`).
    const declared = new Map<Binding, number>();
    const collect = (n: Node): void => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(collect);
      const b = n.type === 'VariableDeclarator' || n.type === 'AssignmentExpression' ? this.cg.ref(n.id ?? n.left) : null;
      if (b) declared.set(b, (declared.get(b) ?? 0) + 1);
      if (n.type === 'UpdateExpression' && n.argument.type === 'Identifier' && this.cg.ref(n.argument)) declared.set(this.cg.ref(n.argument)!, 2);
      for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object') collect(n[k]);
    };
    collect(labeled.body);
    const assigned = new Set(declared.keys());
    if (assigned.has(j) || (stepBinding && assigned.has(stepBinding))) return null;
    // Local arrays of one kind (runtime/src/elems.rs) the body reads or writes: Rust vectors that nothing
    // else can reach, accessed as the usual code does.
    let usedLocal = false;
    // The bound: a number literal, an f64 local, a local the trace saw only numbers in at the test (behind
    // the test's number guard), or the length of an array held by a local (no store in the body can change a
    // length), evaluated once.
    const endBinding = endNode.type === 'Identifier' ? this.cg.ref(endNode) : null;
    let endCode: string | null = null;
    if (endNode.type === 'Literal' && typeof endNode.value === 'number') endCode = f64Literal(endNode.value);
    else if (endBinding && !endBinding.captured && !assigned.has(endBinding)) {
      if (this.cg.isNumeric(endBinding)) endCode = endBinding.rust;
      else if (!this.cg.localArrays.has(endBinding) && this.f64Binary(t.argument)) endCode = `ops::guard_num(&${endBinding.rust}, ${t.argument.sid})?`;
    }
    if (!endCode && !this.isArrayLength(endNode)) return null;
    // The arrays: Rust locals the body does not assign, or `a[i]` of one with `i` fixed in the body (a row of
    // a matrix), read once before the loop when it is an element of an array (`props::array_element`, which
    // runs nothing: no getter, no prototype).
    const views: string[] = [];
    const hoisted: string[] = [];
    const written = new Set<string>();
    const read = new Set<string>();
    const readAt = new Set<string>();
    const readBelow = new Set<string>();
    const keys = new Set<Binding>([j]);
    const fixed = (n: Node): string | null => {
      if (n.type === 'Literal' && typeof n.value === 'number') return f64Literal(n.value);
      const b = n.type === 'Identifier' ? this.cg.ref(n) : null;
      return b && !b.captured && this.cg.isNumeric(b) && !assigned.has(b) ? b.rust : null;
    };
    const local = (n: Node): Binding | null => {
      const b = n.type === 'Identifier' ? this.cg.ref(n) : null;
      return b && !b.captured && !this.cg.isNumeric(b) && !this.cg.localArrays.has(b) && !assigned.has(b) ? b : null;
    };
    const view = (n: Node): number | null => {
      let code: string | null = null;
      const b = local(n);
      if (b) code = `&${b.rust}`;
      else if (n.type === 'MemberExpression' && this.isArrayIndexRead(n) && local(n.object) && fixed(n.property)) {
        const src = `props::array_element(cx, &${local(n.object)!.rust}, ${fixed(n.property)})`;
        let h = hoisted.indexOf(src);
        if (h < 0) h = hoisted.push(src) - 1;
        code = `&row${h}`;
      }
      if (!code) return null;
      if (!views.includes(code)) views.push(code);
      return views.indexOf(code);
    };
    const isKey = (k: Node): boolean => k.type === 'Identifier' && keys.has(this.cg.ref(k)!);
    // Tagged locals the body reads as numbers and does not assign (see `num`).
    const invariant: Binding[] = [];
    // Integer forms (see `int`): locals the body declares once with an integer value, held as i64s, and the
    // numbers the body reads but does not assign that an integer form uses, checked to be integers before the
    // loop (which otherwise runs as usual).
    const intLocals = new Map<Binding, { lo: number; hi: number; below: boolean }>();
    const intInputs = new Map<Binding, { name: string; src: string; used: boolean }>();
    const BOUND = 2 ** 31 - 1;
    /**
     * An integer expression of the body as an i64 (Rust) with the range its values lie in, or null: the
     * index, integer literals, locals the body declared so, numbers the body does not assign (integers
     * checked before the loop: the bound is at least 1 there, since the loop runs only when it is above the
     * first index, which is at least 0), and `+`, `-`, `*` and `%` of them where JavaScript's answer is the
     * same integer: within 2^52 (exact in an f64), never -0 (`*` only of non-negative operands, `%` only of
     * a non-negative dividend by a divisor of at least 1, where `%` of i64s truncates as JavaScript's does).
     * `needs` are the checked inputs it reads. `below`: the value is below the last index the loop takes
     * plus one (the index itself, and a remainder by the bound of a loop `j < end`); `end`: it is that bound.
     */
    type Int = { code: string; lo: number; hi: number; needs: Binding[]; rem: boolean; below?: boolean; end?: boolean };
    const int = (e: Node, site: Node): Int | null => {
      switch (e.type) {
        case 'Literal': {
          const v = e.value;
          if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > BOUND || Object.is(v, -0)) return null;
          return { code: `${v}i64`, lo: v, hi: v, needs: [], rem: false };
        }
        case 'Identifier': {
          if (isKey(e)) return { code: '(ji as i64)', lo: 0, hi: BOUND, needs: [], rem: false, below: true };
          const b = this.cg.ref(e);
          if (!b || b.captured) return null;
          const local = intLocals.get(b);
          if (local) return { code: b.rust, ...local, needs: [], rem: false };
          if (assigned.has(b)) return null;
          const src = num(e, site);
          if (!src) return null;
          if (!intInputs.has(b)) intInputs.set(b, { name: `int${intInputs.size}`, src, used: false });
          const isEnd = b === endBinding && !!endCode;
          const lo = isEnd ? (inclusive ? 0 : 1) : -BOUND;
          return { code: intInputs.get(b)!.name, lo, hi: BOUND, needs: [b], rem: false, end: isEnd && !inclusive };
        }
        case 'BinaryExpression': {
          if (!['+', '-', '*', '%'].includes(e.operator) || !this.f64Binary(e)) return null;
          const l = int(e.left, e);
          const r = l && int(e.right, e);
          if (!l || !r) return null;
          let lo: number, hi: number;
          if (e.operator === '+') [lo, hi] = [l.lo + r.lo, l.hi + r.hi];
          else if (e.operator === '-') [lo, hi] = [l.lo - r.hi, l.hi - r.lo];
          else if (e.operator === '*' && l.lo >= 0 && r.lo >= 0) [lo, hi] = [l.lo * r.lo, l.hi * r.hi];
          else if (e.operator === '%' && l.lo >= 0 && r.lo >= 1) [lo, hi] = [0, Math.min(l.hi, r.hi - 1)];
          else return null;
          if (Math.abs(lo) > 2 ** 52 || Math.abs(hi) > 2 ** 52) return null;
          // A remainder by the bound of `j < end` is below it, hence below the loop's last index plus one.
          const below = e.operator === '%' && !!r.end;
          return { code: `(${l.code} ${e.operator} ${r.code})`, lo, hi, needs: [...l.needs, ...r.needs], rem: l.rem || r.rem || e.operator === '%', below };
        }
        default:
          return null;
      }
    };
    /** An integer form's code, its checked inputs now required before the loop. */
    const useInt = (x: Int): string => {
      for (const b of x.needs) intInputs.get(b)!.used = true;
      return x.code;
    };
    /** `int` of a key other than the index when it is never negative (an element index as usize), else null. */
    const intKey = (e: Node, site: Node): Int | null => {
      if (isKey(e)) return null;
      const x = int(e, site);
      return x && x.lo >= 0 ? x : null;
    };
    // An f64 expression of the body, or null.
    const num = (e: Node, site: Node): string | null => {
      switch (e.type) {
        case 'Literal':
          return typeof e.value === 'number' ? f64Literal(e.value) : null;
        case 'Identifier': {
          const b = this.cg.ref(e);
          if (!b && this.cg.isNum(e)) return this.num(e);
          if (!b || b.captured) return null;
          if (intLocals.has(b)) return `(${b.rust} as f64)`;
          if (this.cg.isNumeric(b)) return b.rust;
          // A Value local the body does not assign, where the operator's guard admits only numbers: read once
          // before the loop, which runs only when it holds a number (else the usual loop runs, with its guards).
          if (assigned.has(b) || site.type !== 'BinaryExpression' || this.cg.typeMask(site, site.left === e ? 0 : 1) !== NUMBER_TAG) return null;
          let k = invariant.indexOf(b);
          if (k < 0) k = invariant.push(b) - 1;
          return `inv${k}`;
        }
        case 'UnaryExpression': {
          if ((e.operator !== '-' && e.operator !== '+') || !this.cg.isNum(e.argument)) return null;
          const x = num(e.argument, e);
          return x && (e.operator === '-' ? `(-${x})` : x);
        }
        case 'BinaryExpression': {
          if (!F64_OPS[e.operator] || !this.f64Binary(e)) return null;
          // A remainder of integers (`(x + w - 1) % w`) as an integer: no ops::rem_f64.
          const i = int(e, site);
          if (i?.rem) return `(${useInt(i)} as f64)`;
          const l = num(e.left, e);
          const r = num(e.right, e);
          return l && r ? f64Op(e.operator, l, r) : null;
        }
        case 'MemberExpression': {
          const la = this.cg.localArray(e.object);
          if (la) {
            if (la.a.kind !== 'f64' || !e.computed) return null;
            usedLocal = true;
            if (isKey(e.property)) return `clrt::elems::at_index(&${la.b.rust}, ji, ${e.sid})?`;
            const ik = intKey(e.property, e);
            if (ik) return `clrt::elems::at_index(&${la.b.rust}, (${useInt(ik)}) as usize, ${e.sid})?`;
            const k = num(e.property, e);
            return k && `clrt::elems::at(&${la.b.rust}, ${k}, ${e.sid})?`;
          }
          if (!this.isArrayIndexRead(e)) return null;
          const i = view(e.object);
          if (i === null) return null;
          if (isKey(e.property) && !breaks) {
            read.add(views[i]);
            return `views.get(${i}, ji)`;
          }
          // Any other key is checked at the read; where it finds no number of the array's own, the ordinary
          // read runs and gives up as it would (`fastloop::missed`).
          const ik = intKey(e.property, e);
          // A key below the loop's last index plus one reads an element `views` checked, every element
          // below that being a number (`readBelow`): no check at the read.
          if (ik?.below && !breaks) {
            readBelow.add(views[i]);
            return `views.get(${i}, (${useInt(ik)}) as usize)`;
          }
          if (ik) {
            readAt.add(views[i]);
            return `{ let ki: i64 = ${useInt(ik)}; match views.at_index(${i}, ki as usize) { Some(n) => n, None => { let k = ki as f64; clrt::fastloop::missed(props::get_array_num(cx, ${views[i]}, k, ${e.sid}, ${site.sid}), ${e.sid})? } } }`;
          }
          const k = isKey(e.property) ? null : num(e.property, e);
          if (!k && !isKey(e.property)) return null;
          readAt.add(views[i]);
          const at = k ? `views.at(${i}, k)` : `views.at_index(${i}, ji)`;
          return `{ let k: f64 = ${k ?? 'ji as f64'}; match ${at} { Some(n) => n, None => clrt::fastloop::missed(props::get_array_num(cx, ${views[i]}, k, ${e.sid}, ${site.sid}), ${e.sid})? } }`;
        }
        case 'ConditionalExpression': {
          const c = cond(e.test);
          const y = c && num(e.consequent, e);
          const n = y && num(e.alternate, e);
          return n && `(if ${c} { ${y} } else { ${n} })`;
        }
        default:
          return null;
      }
    };
    // A test of the body: comparisons of f64s, joined by `!`, `&&` and `||`.
    const cond = (e: Node): string | null => {
      if (e.type === 'UnaryExpression' && e.operator === '!') {
        const c = cond(e.argument);
        return c && `!${c}`;
      }
      if (e.type === 'LogicalExpression' && (e.operator === '&&' || e.operator === '||')) {
        const l = cond(e.left);
        const r = l && cond(e.right);
        return r && `(${l} ${e.operator} ${r})`;
      }
      if (e.type !== 'BinaryExpression' || !F64_CMP[e.operator] || !this.f64Binary(e)) return null;
      const l = num(e.left, e);
      const r = num(e.right, e);
      return l && r ? `(${l} ${F64_CMP[e.operator]} ${r})` : null;
    };
    // `x = v` for an f64 local, `t = j` for a key temporary, `a[j] = v` for an array.
    const assign = (a: Node): string | null => {
      if (a.type !== 'AssignmentExpression' || a.operator !== '=') return null;
      if (a.left.type === 'Identifier') {
        const b = this.cg.ref(a.left);
        // A flag: a boolean literal into a tagged local (nothing on the heap changes).
        if (b && !b.captured && !this.cg.isNumeric(b) && !this.cg.localArrays.has(b) && a.right.type === 'Literal' && typeof a.right.value === 'boolean')
          return `${b.rust} = Value::Bool(${a.right.value});`;
        if (!b || b.captured || !this.cg.isNumeric(b)) return null;
        const r = a.right.type === 'ClIntrinsic' && a.right.name === 'memberKey' ? a.right.arguments[0] : a.right;
        if (isKey(r)) {
          keys.add(b);
          return `${b.rust} = ${j.rust};`;
        }
        keys.delete(b);
        const v = this.isF64(a.right) ? num(a.right, a) : null;
        return v && `${b.rust} = ${v};`;
      }
      const m = a.left;
      const site = { sid: a.sid ?? m.sid };
      const la = m.type === 'MemberExpression' && m.computed ? this.cg.localArray(m.object) : null;
      if (la) {
        const v =
          la.a.kind === 'bool'
            ? a.right.type === 'Literal' && typeof a.right.value === 'boolean'
              ? String(a.right.value)
              : null
            : this.isF64(a.right)
              ? num(a.right, a)
              : null;
        if (!v) return null;
        usedLocal = true;
        if (isKey(m.property)) return `{ let v = ${v}; clrt::elems::set_index(cx, &mut ${la.b.rust}, ji, v, ${site.sid})?; }`;
        const ik = intKey(m.property, m);
        if (ik) return `{ let j = (${useInt(ik)}) as usize; let v = ${v}; clrt::elems::set_index(cx, &mut ${la.b.rust}, j, v, ${site.sid})?; }`;
        const k = num(m.property, m);
        return k && `{ let k: f64 = ${k}; let v = ${v}; clrt::elems::set(cx, &mut ${la.b.rust}, k, v, ${site.sid})?; }`;
      }
      if (m.type !== 'MemberExpression' || !m.computed || !isKey(m.property)) return null;
      if (this.cg.typeMask(site, 0) !== ARRAY_TAG || this.cg.typeMask(site, 1) !== NUMBER_TAG || !this.isF64(a.right)) return null;
      const i = view(m.object);
      const v = num(a.right, a);
      if (i === null || !v) return null;
      written.add(views[i]);
      return `{ let n: f64 = ${v}; views.set(${i}, ji, n); }`;
    };
    // The body's statements: assignments, declarations of f64 locals, and ifs over f64 comparisons.
    const stmts = (list: Node[]): string[] | null => {
      const out: string[] = [];
      for (const st of list) {
        if (st.type === 'ExpressionStatement') {
          for (const x of st.expression.type === 'SequenceExpression' ? st.expression.expressions : [st.expression]) {
            const line = assign(x);
            if (!line) return null;
            out.push(line);
          }
        } else if (st.type === 'VariableDeclaration' && st.declarations.length === 1) {
          const d = st.declarations[0];
          const b = this.cg.ref(d.id);
          if (!b || b.captured || !this.cg.isNumeric(b) || !d.init) return null;
          keys.delete(b);
          // Declared once in the body and never assigned: an i64 when its value is an integer form with a
          // remainder or with no checked input (which could send the loop back when it is not an integer).
          if (declared.get(b) === 1 && this.cg.isNum(d.init)) {
            const i = int(d.init, d);
            if (i && (i.rem || !i.needs.length)) {
              out.push(`let ${b.rust}: i64 = ${useInt(i)};`);
              intLocals.set(b, { lo: i.lo, hi: i.hi, below: !!i.below });
              continue;
            }
          }
          // Its value: a number by `isNum`, or behind the binding's guard (an element, checked already).
          const site = this.cg.guardSite(b);
          const v = this.cg.isNum(d.init) || site !== null ? num(d.init, site !== null && !this.cg.isNum(d.init) ? { sid: site } : d) : null;
          if (!v) return null;
          out.push(`let mut ${b.rust}: f64 = ${v};`);
        } else if (st.type === 'IfStatement' && !st.loopTest) {
          const c = cond(st.test);
          // Each branch starts from the keys known before the if; after it, only those neither branch assigned.
          const before = new Set(keys);
          const branch = (n: Node | null): string[] | null => {
            keys.clear();
            before.forEach((k) => keys.add(k));
            const r = !n ? [] : n.type === 'BlockStatement' ? stmts(n.body) : stmts([n]);
            for (const k of [...before]) if (!keys.has(k)) before.delete(k);
            return r;
          };
          const yes = c && branch(st.consequent);
          const no = yes && branch(st.alternate);
          if (!c || !yes || !no) return null;
          keys.clear();
          before.forEach((k) => keys.add(k));
          out.push(no.length ? `if ${c} {\n${indent(yes)}\n} else {\n${indent(no)}\n}` : `if ${c} {\n${indent(yes)}\n}`);
        } else if (st.type === 'BlockStatement') {
          const inner = stmts(st.body);
          if (!inner) return null;
          out.push(`{\n${indent(inner)}\n}`);
        } else if (st.type === 'BreakStatement' && broke && st.label?.name === loopLabel) {
          out.push(`{ ${broke} = true; break 'scan; }`);
        } else if (st.type === 'BreakStatement' && st.label?.name === labeled.label.name) {
          continues = true;
          out.push(`break 'body;`);
        } else return null;
      }
      return out;
    };
    // The length of an array the loop views (none of its stores can change a length), or of a local.
    if (!endCode) {
      const i = view(endNode.object);
      if (i === null) return null;
      endCode = `props::array_length(cx, ${views[i]}, ${endNode.sid})?`;
    }
    const lines = stmts(labeled.body.body);
    if (!lines || !lines.length || (!views.length && !usedLocal)) return null;
    if (inclusive) endCode = `clrt::fastloop::past(${endCode})`;
    const list = views.map((v) => `(${v}, ${read.has(v)}, ${written.has(v)}, ${readAt.has(v)}, ${readBelow.has(v)})`).join(', ');
    const rows = hoisted.map((src, h) => `let Some(row${h}) = ${src} else { break 'fast; };`);
    invariant.forEach((b, k) => rows.push(`let Value::Num(inv${k}) = &${b.rust} else { break 'fast; };`, `let inv${k}: f64 = *inv${k};`));
    for (const { name, src, used } of intInputs.values()) if (used) rows.push(`let Some(${name}) = clrt::fastloop::int(${src}) else { break 'fast; };`);
    if (stepCode) rows.push(`let Some(step) = clrt::fastloop::step(${stepCode}) else { break 'fast; };`);
    const next = stepCode ? 'ji += step;' : 'ji += 1;';
    const iteration = continues ? [`'body: {\n${indent(lines)}\n}`] : lines;
    const code =
      `'fast: {\n${indent([...rows, `let end: f64 = ${endCode};`])}\n    if let Some(views) = clrt::fastloop::views(cx, [${list}], ${j.rust}, end) {\n` +
      // The index runs as an integer over the range `views` checked; fuel is charged a chunk of iterations at
      // a time (Cx::tick_chunk), so the iterations make no call.
      indent([
        indent([
          // Each iteration's index as an f64 is the integer's (exact below 2^31), in a binding of the
          // iteration's own; the loop's variable gets the last value once, after it.
          // A loop that may leave early by a break (often after a few iterations) is charged an iteration at
          // a time, as the usual loop is.
          breaks
            ? `let (mut ji, hi) = views.range();\n'scan: while ji < hi {\n    cx.tick()?;\n    #[allow(unused_variables)]\n    let ${j.rust}: f64 = ji as f64;\n${indent(iteration)}\n    ${next}\n}\n${j.rust} = ji as f64;`
            : `let (mut ji, hi) = views.range();\nwhile ji < hi {\n    let stop = ${stepCode ? 'ji.saturating_add(cx.tick_chunk((hi - ji).div_ceil(step))? * step).min(hi)' : 'ji + cx.tick_chunk(hi - ji)?'};\n    while ji < stop {\n        #[allow(unused_variables)]\n        let ${j.rust}: f64 = ji as f64;\n${indent([indent(iteration)])}\n        ${next}\n    }\n}\n${j.rust} = ji as f64;`,
        ]),
      ]) +
      '\n    }\n}';
    return { code, broke };
  }

  /** `switch ($k)` over case indexes: the case it starts at, then every later one (fall-through). */
  private switchStatement(s: Node): string[] {
    const scope = this.cg.scope(s);
    const saved = this.envChain;
    const lines: string[] = [];
    if (scope) lines.push(...this.openScope(scope, this.closureVar));
    const k = this.cg.fresh('case');
    lines.push(`let ${k}: f64 = rt::expect_num(&${this.expr(s.discriminant)})?;`);
    s.cases.forEach((c: Node) => {
      if (c.consequent.length) lines.push(`if ${k} <= ${f64Literal(c.test.value)} {\n${indent(this.statements(c.consequent))}\n}`);
    });
    this.envChain = saved;
    return [`{\n${indent(lines)}\n}`];
  }

  private breakTo(label: string): string {
    // Inside a try closure, a label outside it is reached by returning a completion.
    if (this.tryLabels.length) {
      const inner = this.tryLabels[this.tryLabels.length - 1];
      if (!inner.labels.includes(label)) {
        let id = this.labelIds.get(label);
        if (id === undefined) {
          id = this.labelIds.size;
          this.labelIds.set(label, id);
        }
        inner.exits.add(label);
        return `return Ok(Cmp::Break(${id}));`;
      }
    }
    return `break ${label};`;
  }

  /** Carries out a completion `r` (a `Cmp`) in the enclosing context. */
  private completion(r: string, exits: Set<string>): string {
    const arms = ['Cmp::Normal => {}', `Cmp::Return(v) => { ${this.returnExpr('v')} }`];
    const breaks = [...exits].map((label) => `Cmp::Break(${this.labelIds.get(label)}) => { ${this.breakTo(label)} }`);
    arms.push(...breaks, '#[allow(unreachable_patterns)] Cmp::Break(_) => unreachable!("break to an unknown label"),');
    return `match ${r} {\n${indent(arms)}\n}`;
  }

  private closureBlock(body: string[]): string {
    return `(|| -> JsResult<Cmp> {\n${indent([...body, 'Ok(Cmp::Normal)'])}\n})()`;
  }

  private tryStatement(s: Node): string[] {
    const lines: string[] = [];
    const r = this.cg.fresh('r');
    const exits = new Set<string>();
    this.tryLabels.push({ labels: [], exits });
    const body = this.closureBlock([this.block(s.block)]);
    this.tryLabels.pop();
    lines.push(`let ${r}: JsResult<Cmp> = ${body};`);
    if (s.handler) {
      const h = s.handler;
      let handlerLines: string[];
      this.tryLabels.push({ labels: [], exits });
      if (h.body.type === 'BlockStatement' && h.body.body.length === 1 && h.body.body[0].type === 'ClUnknown') {
        handlerLines = [`return clrt::unknown(${h.sid});`];
      } else {
        const scope = this.cg.scope(h);
        const saved = this.envChain;
        handlerLines = [];
        if (scope) handlerLines.push(...this.openScope(scope, this.closureVar));
        if (h.param) {
          const b = this.cg.ref(h.param)!;
          handlerLines.push(this.declareBinding(b, 'exc'));
        }
        handlerLines.push(this.block(h.body));
        this.envChain = saved;
      }
      const handler = this.closureBlock(handlerLines);
      this.tryLabels.pop();
      lines.push(
        `let ${r}: JsResult<Cmp> = match ${r} { Err(ctl) => match rt::caught(cx, ctl) { Ok(exc) => { let exc = exc; ${handler} } Err(e) => Err(e) }, ok => ok };`,
      );
    }
    if (s.finalizer) {
      // A give-up goes on at once: a `break`, `continue` or `return` in the finally block would discard it.
      lines.push(`let ${r}: JsResult<Cmp> = rt::before_finally(${r})?;`);
      lines.push(this.block(s.finalizer));
    }
    lines.push(this.completion(`${r}?`, exits));
    return [`{\n${indent(lines)}\n}`];
  }

  // Expressions: each returns a Rust expression of type Value.

  expr(e: Node, awaited = false): string {
    switch (e.type) {
      case 'Literal':
        return this.literal(e);
      case 'Identifier':
        return this.identifier(e);
      case 'ThisExpression': {
        const b = this.cg.ref(e);
        if (b) return this.readBinding(b);
        if (this.fn.node.type === 'Program') {
          this.cg.warnUnsupported(e, '`this` at module level');
          return 'clrt::cx::unsupported::<Value>("module-level this")?';
        }
        return this.thisValue();
      }
      case 'MetaProperty': {
        // new.target: the constructor `new` was applied to, in a function called by `new` (through
        // super() calls too); undefined in one called without it.
        if (this.fn.isArrow || this.fn.node.type === 'Program') {
          this.cg.warnUnsupported(e, 'new.target outside a function body');
          return 'clrt::cx::unsupported::<Value>("new.target in an arrow function or at module level")?';
        }
        return 'call.new_target.map(Value::Obj).unwrap_or(Value::Undefined)';
      }
      case 'TemplateLiteral': {
        const parts: string[] = ['let mut s: Vec<u16> = Vec::new();'];
        e.quasis.forEach((q: Node, i: number) => {
          const text = q.value.cooked as string;
          if (text) parts.push(`s.extend_from_slice(${this.cg.keyOf(text)});`);
          if (i < e.expressions.length) parts.push(`{ let v = ${this.expr(e.expressions[i])}; rt::template_part(cx, &mut s, &v)?; }`);
        });
        parts.push('cx.new_str(s)?');
        return `{ ${parts.join(' ')} }`;
      }
      case 'ArrayExpression': {
        const fixed = e.elements.filter((el: Node) => el?.type !== 'SpreadElement').length;
        const parts = [`let mut items: Vec<Value> = Vec::with_capacity(${fixed});`];
        for (const el of e.elements) {
          if (el.type === 'SpreadElement') parts.push(`{ let v = ${this.expr(el.argument)}; let more = rt::iterate(cx, &v)?; items.extend(more); }`);
          else parts.push(`items.push(${this.expr(el)});`);
        }
        parts.push('cx.new_array(items)?');
        return `{ ${parts.join(' ')} }`;
      }
      case 'ObjectExpression':
        return this.object(e);
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        return this.makeFunction(e, e.inferredName ?? e.id?.name ?? '');
      case 'ClassExpression':
        return this.makeClass(e);
      case 'UnaryExpression':
        return this.unary(e);
      case 'BinaryExpression':
        return this.binary(e);
      case 'LogicalExpression': {
        const l = this.expr(e.left);
        const r = this.expr(e.right);
        const test = e.operator === '&&' ? 'ops::to_boolean(&l)' : e.operator === '||' ? '!ops::to_boolean(&l)' : 'l.is_nullish()';
        return `{ let l = ${l}; if ${test} { ${r} } else { l } }`;
      }
      case 'ConditionalExpression': {
        // Only the test's truthiness counts: a test (`cond`) needs no tagged value for comparisons.
        const general = `{ if ${this.cond(e.test)} { ${this.expr(e.consequent)} } else { ${this.expr(e.alternate)} } }`;
        return this.threeWay(e, general) ?? general;
      }
      case 'AssignmentExpression':
        return this.assignment(e);
      case 'SequenceExpression': {
        const parts = e.expressions.map((x: Node, i: number) => (i < e.expressions.length - 1 ? `${this.expr(x)};` : this.expr(x)));
        return `{ ${parts.join(' ')} }`;
      }
      case 'MemberExpression':
        return this.member(e);
      case 'CallExpression':
        return this.callExpr(e, awaited);
      case 'NewExpression': {
        const ids = this.cg.callees(e);
        if (!ids) return `clrt::unknown::<Value>(${e.sid})?`;
        return `{ let f = ${this.expr(e.callee)}; ${this.args(e.arguments)} let c = call::callee_of(cx, &f)?; call::guard_callee(cx, &c, ${ids}, ${e.sid})?; call::construct(cx, &f, &args)? }`;
      }
      case 'AwaitExpression':
        return `{ let v = ${this.expr(e.argument, true)}; call::await_value(cx, v)? }`;
      case 'ClUnknown':
        return `clrt::unknown::<Value>(${e.sid})?`;
      case 'ClUnsupported':
        this.cg.warnUnsupported(e, e.reason);
        return `clrt::cx::abort::<Value>(clrt::AbortKind::Unsupported, ${e.sid}, "a construct that is not compiled")?`;
      case 'ClRequire': {
        if (e.module !== 'containerless') {
          this.cg.warnRequire(e, e.module);
          return `clrt::cx::abort::<Value>(clrt::AbortKind::Unsupported, ${e.sid}, "require of a module that is not compiled")?`;
        }
        return `clrt::builtins::openfaas::require(cx, &rt::text(${this.cg.keyOf(e.module)}))?`;
      }
      case 'ClIntrinsic':
        return this.intrinsic(e);
      default:
        this.cg.warnUnsupported(e, `a ${e.type}`);
        return `clrt::cx::abort::<Value>(clrt::AbortKind::Unsupported, ${e.sid ?? 0}, "an expression that is not compiled")?`;
    }
  }

  /** The Rust values of a local array literal's elements, in order. */
  private literalItems(a: LocalArray): string[] {
    return (a.literal ?? []).map((e) => (a.kind === 'bool' ? `clrt::elems::expect_bool(&${this.expr(e)})?` : this.num(e)));
  }

  /**
   * `new Array(n).fill(c)` made as a local array (runtime/src/elems.rs): the same callee checks as the
   * heap array's code makes (the global `Array` and, on an array, `fill` are the builtins), then the vector.
   */
  private filledArray(a: LocalArray): string {
    if (a.literal) return `clrt::elems::from_literal::<${a.kind}>(cx, vec![${this.literalItems(a).join(', ')}])?`;
    if (!a.fill || !a.ctor || !a.call) throw new Error('a filled local array without its making');
    const fill = a.kind === 'bool' ? String(a.fill.value) : f64Literal(a.fill.value);
    return (
      `{ let f = cx.global("Array", 0)?; let len = ${this.expr(a.ctor.arguments[0])}; let c = call::callee_of(cx, &f)?; ` +
      `call::guard_callee(cx, &c, &[CalleeId::Builtin("Array")], ${a.ctor.sid})?; let probe = cx.new_array(Vec::new())?; ` +
      `let m = call::method(cx, &probe, ${this.cg.keyOf('fill')})?; call::guard_callee(cx, &m, &[CalleeId::Builtin("Array.prototype.fill")], ${a.call.sid})?; ` +
      `clrt::elems::filled::<${a.kind}>(cx, &len, ${fill}, ${a.ctor.sid})? }`
    );
  }

  private literal(e: Node): string {
    if (e.regex) return `clrt::builtins::regexp::literal(cx, ${this.cg.keyOf(e.regex.pattern)}, ${this.cg.keyOf(e.regex.flags)}, ${this.cg.icSlot()})?`;
    const v = e.value;
    if (v === null) return 'Value::Null';
    if (typeof v === 'boolean') return `Value::Bool(${v})`;
    if (typeof v === 'number') return numberLiteral(v);
    if (typeof v === 'string') return `cx.s(${this.cg.strOf(v)})`;
    this.cg.warnUnsupported(e, 'this literal');
    return 'clrt::cx::unsupported::<Value>("literal")?';
  }

  private identifier(e: Node): string {
    const b = this.cg.ref(e);
    if (b) return this.readBinding(b);
    if (e.name === 'undefined') return 'Value::Undefined';
    if (e.name === 'NaN') return 'Value::Num(f64::NAN)';
    if (e.name === 'Infinity') return 'Value::Num(f64::INFINITY)';
    if (this.cg.isGlobal(e.name)) return `cx.global_s(${this.cg.strOf(e.name)}, ${JSON.stringify(e.name)}, 0)?`;
    this.cg.warnGlobal(e, e.name);
    return `clrt::cx::abort::<Value>(clrt::AbortKind::Unsupported, 0, "a global that is not modelled")?`;
  }

  /**
   * Operand `e` of an operator whose code takes its operands by reference (`&a`): a local holding a tagged
   * value is borrowed rather than copied (no clone, no drop), unless code evaluated after it (`later`, the
   * operands to its right) assigns it, which would change what the operator sees. Otherwise `expr(e)`.
   */
  private operand(e: Node, later: Node[]): string {
    if (e.type !== 'Identifier') return this.expr(e);
    const b = this.cg.ref(e);
    if (!b || this.cg.isNumeric(b) || this.cg.localArrays.has(b)) return this.expr(e);
    const ref = (x: Node) => this.cg.ref(x);
    if (later.some((n) => assigns(n, b, ref))) return this.expr(e);
    // A captured binding held in a local that nothing reloads (see cacheReadOnly) is borrowed from it,
    // after the TDZ check.
    const local = b.captured && !this.reload && !this.cachedNum.has(b) ? this.cached.get(b) : undefined;
    if (local) return `rt::cached_ref(&${local})?`;
    if (b.captured) return this.expr(e);
    return `&${b.rust}`;
  }

  private guard(node: Node, i: number, v: string): string {
    const m = this.cg.typeMask(node, i);
    if (m === null) return `return clrt::unknown(${node.sid});`;
    return `ops::guard_type(cx, &${v}, ${m}, ${node.sid})?;`;
  }

  private unary(e: Node): string {
    const op = e.operator;
    if (
      op === 'typeof' &&
      e.argument.type === 'Identifier' &&
      !this.cg.ref(e.argument) &&
      !this.cg.isGlobal(e.argument.name) &&
      !['undefined', 'NaN', 'Infinity'].includes(e.argument.name)
    ) {
      return `Value::str("undefined")`;
    }
    if (op === 'delete') {
      const m = e.argument;
      const k = m.computed ? this.expr(m.property) : null;
      return `{ let o = ${this.expr(m.object)}; ${k ? `let k = ${k};` : ''} ${this.guard(e, 0, 'o')} Value::Bool(${k ? 'props::delete_computed(cx, &o, &k)?' : `props::delete(cx, &o, ${this.cg.keyOf(m.property.name)})?`}) }`;
    }
    if (op === 'void') return `{ ${this.expr(e.argument)}; Value::Undefined }`;
    // `-1`, `+2`: the number itself (ToNumber of a number is the number; negation is exact, -0 included).
    if ((op === '-' || op === '+') && e.argument.type === 'Literal' && typeof e.argument.value === 'number')
      return `Value::Num(${f64Literal(op === '-' ? -e.argument.value : e.argument.value)})`;
    const a = this.operand(e.argument, []);
    if (op === 'typeof') return `{ let a = ${a}; ops::type_of_value(cx, &a) }`;
    const g = this.guard(e, 0, 'a');
    switch (op) {
      case '!':
        return `{ let a = ${a}; ${g} Value::Bool(!ops::to_boolean(&a)) }`;
      case '-':
        return `{ let a = ${a}; ${g} ops::neg(cx, &a)? }`;
      case '+':
        return `{ let a = ${a}; ${g} ops::plus(cx, &a)? }`;
      case '~':
        return `{ let a = ${a}; ${g} ops::bit_not(cx, &a)? }`;
      default:
        this.cg.warnUnsupported(e, `the unary operator ${op}`);
        return 'clrt::cx::unsupported::<Value>("unary operator")?';
    }
  }

  /** Whether `num` gives `e` as an f64 without a tagged value: it is a number, proved or guarded. */
  private isF64(e: Node): boolean {
    return this.cg.isNum(e) || (e.type === 'BinaryExpression' && !!F64_OPS[e.operator] && this.f64Binary(e));
  }

  /** Value `v` assigned to numeric binding `b`, as an f64: checked by the binding's guard when not a number by `isNum`. */
  private numDef(b: Binding, v: Node): string {
    const site = this.cg.guardSite(b);
    if (site === null || this.cg.isNum(v)) return this.num(v);
    return this.numOperand(v, { sid: site });
  }

  /** `e` (for which `isNum` holds) as an f64 Rust expression. */
  num(e: Node): string {
    const both = e.type === 'BinaryExpression' && this.cg.isNum(e.left) && this.cg.isNum(e.right);
    if (e.type === 'Literal') return f64Literal(e.value);
    if (e.type === 'Identifier' && this.cg.isNumeric(this.cg.ref(e))) return this.cg.ref(e)!.rust;
    if (e.type === 'Identifier' && !this.cg.ref(e) && (e.name === 'NaN' || e.name === 'Infinity')) return e.name === 'NaN' ? 'f64::NAN' : 'f64::INFINITY';
    if (e.type === 'ClIntrinsic' && e.name === 'memberKey' && this.cg.isNum(e.arguments[0])) return this.num(e.arguments[0]);
    const local = e.type === 'MemberExpression' ? this.cg.localArray(e.object) : null;
    if (local?.a.kind === 'f64' && e.computed) return `{ let k: f64 = ${this.num(e.property)}; clrt::elems::at(&${local.b.rust}, k, ${e.sid})? }`;
    if (local && !e.computed) return `(${local.b.rust}.len() as f64)`;
    if (both && F64_OPS[e.operator]) return f64Op(e.operator, this.num(e.left), this.num(e.right));
    const len = this.lengthRead(e);
    if (len) return len;
    if (e.type === 'BinaryExpression' && F64_OPS[e.operator] && this.f64Binary(e))
      return f64Op(e.operator, this.numOperand(e.left, e), this.numOperand(e.right, e));
    if (e.type === 'UnaryExpression' && this.cg.isNum(e.argument) && (e.operator === '-' || e.operator === '+')) {
      return e.operator === '-' ? `(-${this.num(e.argument)})` : this.num(e.argument);
    }
    return `rt::expect_num(&${this.expr(e)})?`;
  }

  /**
   * Whether binary `e` computes on f64s: both operands are numbers by `isNum` (and the site ran), or the
   * trace saw only numbers at both (each operand is then checked by `ops::guard_num`, the site's type guard,
   * which yields the unboxed number).
   */
  private f64Binary(e: Node): boolean {
    if (e.type !== 'BinaryExpression' || (!F64_OPS[e.operator] && !F64_CMP[e.operator])) return false;
    const m0 = this.cg.typeMask(e, 0);
    const m1 = this.cg.typeMask(e, 1);
    if (m0 === null || m1 === null) return false;
    if (this.cg.isNum(e.left) && this.cg.isNum(e.right)) return true;
    return m0 === NUMBER_TAG && m1 === NUMBER_TAG;
  }

  /** Operand `x` of f64 binary `e` (or the key of array read `e`): its f64, through the site's number guard unless `isNum` holds. */
  private numOperand(x: Node, e: Node): string {
    if (this.cg.isNum(x)) return this.num(x);
    const b = x.type === 'Identifier' ? this.cg.ref(x) : null;
    // A Rust local is read in place, without a copy of its tagged value.
    if (b && !b.captured) return `ops::guard_num(&${b.rust}, ${e.sid})?`;
    // A captured binding is read from its environment straight as an f64.
    if (b && !this.cg.isNumeric(b)) {
      const local = this.cached.get(b);
      if (local && this.cachedNum.has(b)) return `${local}.get()?`;
      if (local) return `rt::cached_read_num(&${local}, ${e.sid})?`;
      const { base, depth } = this.envRef(b);
      return `rt::scope_read_num(cx, ${base}, ${depth}, ${b.slot}, ${e.sid})?`;
    }
    const len = this.lengthRead(x);
    if (len) return len;
    // An array element read straight as an f64: no tagged copy of it is made.
    if (this.isArrayIndexRead(x)) {
      const two = this.rowRead(x);
      if (two) return `{ ${two} props::get_array_num2(cx, o, j, k, ${x.object.sid}, ${x.sid}, ${e.sid})? }`;
      return `{ ${this.arrayIndexSetup(x)} props::get_array_num(cx, o, k, ${x.sid}, ${e.sid})? }`;
    }
    return `ops::guard_num(&${this.expr(x)}, ${e.sid})?`;
  }

  /**
   * `x.length` as an f64, at a site where the trace saw only arrays, only strings, or only those two: the
   * type guard and the read in one look; null for any other expression.
   */
  private lengthRead(e: Node): string | null {
    if (this.isArrayLength(e)) return `{ ${this.objectRef(e.object, [])} props::array_length(cx, o, ${e.sid})? }`;
    if (e.type !== 'MemberExpression' || e.computed || e.object.type === 'Super' || e.property.type !== 'Identifier' || e.property.name !== 'length')
      return null;
    if (this.cg.localArray(e.object)) return null;
    const m = this.cg.typeMask(e, 0);
    if (m === STRING_TAG) return `{ ${this.objectRef(e.object, [])} props::string_length(cx, o, ${e.sid})? }`;
    if (m === (STRING_TAG | ARRAY_TAG)) return `{ ${this.objectRef(e.object, [])} props::units_or_elements(cx, o, ${e.sid})? }`;
    return null;
  }

  /** Whether `e` is `a.length` at a site where the trace saw only arrays. */
  private isArrayLength(e: Node): boolean {
    return (
      e.type === 'MemberExpression' &&
      !e.computed &&
      e.object.type !== 'Super' &&
      e.property.type === 'Identifier' &&
      e.property.name === 'length' &&
      !this.cg.localArray(e.object) &&
      this.cg.typeMask(e, 0) === ARRAY_TAG
    );
  }

  /** Whether `e` reads an element of an array by a number, all the trace saw at the site. */
  private isArrayIndexRead(e: Node): boolean {
    return (
      e.type === 'MemberExpression' &&
      e.computed &&
      e.object.type !== 'Super' &&
      !this.cg.localArray(e.object) &&
      this.cg.typeMask(e, 0) === ARRAY_TAG &&
      this.cg.typeMask(e, 1) === NUMBER_TAG
    );
  }

  /**
   * For `a[j][k]`, an array index read of an array index read whose key `k` is a literal or a local (which
   * nothing the row's read can run may change, so reading the row after it is the same): `o`, a reference to
   * `a`, and the f64 keys `j` and `k`, for `props::get_array_index2` and `get_array_num2`, which read the
   * row in place rather than copying it out. Null for anything else.
   */
  private rowRead(e: Node): string | null {
    const row = e.object;
    if (!this.isArrayIndexRead(row)) return null;
    const k = e.property;
    if (!this.isSimple(k)) return null;
    return `${this.objectRef(row.object, [row.property, k])} let j: f64 = ${this.numOperand(row.property, row)}; let k: f64 = ${this.numOperand(k, e)};`;
  }

  /** Whether `e` is a number literal or a local of this function, whose evaluation runs nothing. */
  private isSimple(e: Node): boolean {
    if (e.type === 'Literal') return typeof e.value === 'number';
    const b = e.type === 'Identifier' ? this.cg.ref(e) : null;
    return !!b && !b.captured;
  }

  /** For an array index read (`isArrayIndexRead`): `o`, a reference to the array, and `k`, the f64 key. */
  private arrayIndexSetup(e: Node): string {
    return `${this.objectRef(e.object, [e.property])} let k: f64 = ${this.numOperand(e.property, e)};`;
  }

  /**
   * `let o = ...;` binding `o` to a reference to the value of `obj`, the object of a member access evaluated
   * before `later`: a Rust local that none of `later` assigns is borrowed in place rather than copied.
   */
  private objectRef(obj: Node, later: Node[]): string {
    return this.valueRef('o', obj, later);
  }

  /** `let <name> = &...;`, a reference to the value of `n` evaluated before `later`, as `objectRef`. */
  private valueRef(name: string, n: Node, later: Node[]): string {
    const b = n.type === 'Identifier' ? this.cg.ref(n) : null;
    if (b && !b.captured && !this.cg.isNumeric(b) && !assigns(later, b, (x) => this.cg.ref(x))) return `let ${name} = &${b.rust};`;
    // A captured binding held in a local that nothing reloads (see cacheReadOnly) is borrowed from it, after
    // the TDZ check, as `operand` does.
    const local = b?.captured && !this.reload && !this.cg.isNumeric(b) && !this.cachedNum.has(b) ? this.cached.get(b) : undefined;
    if (local && !assigns(later, b!, (x) => this.cg.ref(x))) return `let ${name} = rt::cached_ref(&${local})?;`;
    return `let ${name} = &${this.expr(n)};`;
  }

  /**
   * `x < y ? A : x > y ? B : C` (a comparator's idiom; any two of `<`, `>`, `<=`, `>=`) on two locals, with
   * `A`, `B` and `C` literals or locals: when both hold strings, the strings are compared once and the order
   * answers both tests; anything else runs `general`, the two comparisons one after the other. Each test's
   * type guards run where they would.
   */
  private threeWay(e: Node, general: string): string | null {
    const ORDER: Record<string, string> = { '<': 'is_lt', '>': 'is_gt', '<=': 'is_le', '>=': 'is_ge' };
    const t1 = e.test;
    const alt = e.alternate;
    if (t1.type !== 'BinaryExpression' || !ORDER[t1.operator] || alt?.type !== 'ConditionalExpression') return null;
    const t2 = alt.test;
    if (t2.type !== 'BinaryExpression' || !ORDER[t2.operator] || this.f64Binary(t1) || this.f64Binary(t2)) return null;
    const local = (n: Node): Binding | null => {
      const b = n.type === 'Identifier' ? this.cg.ref(n) : null;
      return b && !b.captured && !this.cg.isNumeric(b) && !this.cg.localArrays.has(b) ? b : null;
    };
    const [x, y] = [local(t1.left), local(t1.right)];
    if (!x || !y || local(t2.left) !== x || local(t2.right) !== y) return null;
    const simple = (n: Node): boolean =>
      n.type === 'Literal' ||
      (n.type === 'UnaryExpression' && n.argument.type === 'Literal') ||
      (n.type === 'Identifier' && !!this.cg.ref(n) && !this.cg.ref(n)!.captured);
    if (!simple(e.consequent) || !simple(alt.consequent) || !simple(alt.alternate)) return null;
    return (
      `{ let a = &${x.rust}; let b = &${y.rust}; ${this.guard(t1, 0, 'a')} ${this.guard(t1, 1, 'b')} ` +
      `if let (Value::Str(xs), Value::Str(ys)) = (a, b) { let ord = clrt::value::units_cmp(xs.units(), ys.units()); ` +
      `if ord.${ORDER[t1.operator]}() { ${this.expr(e.consequent)} } else { ${this.guard(t2, 0, 'a')} ${this.guard(t2, 1, 'b')} ` +
      `if ord.${ORDER[t2.operator]}() { ${this.expr(alt.consequent)} } else { ${this.expr(alt.alternate)} } } } else ${general} }`
    );
  }

  /** `e` as a Rust bool, for tests: comparisons on f64s and `!` of them need no tagged value. */
  cond(e: Node): string {
    if (e.type === 'BinaryExpression' && F64_CMP[e.operator] && this.f64Binary(e)) {
      return `(${this.numOperand(e.left, e)} ${F64_CMP[e.operator]} ${this.numOperand(e.right, e)})`;
    }
    const m = e.type === 'UnaryExpression' && e.operator === '!' ? this.cg.typeMask(e, 0) : null;
    // A boolean operand passes the guard of a `!` that saw booleans.
    if (m !== null && m & BOOL_TAG && this.cg.isBool(e.argument)) return `(!${this.cond(e.argument)})`;
    // In a test only truthiness counts, and `&&`, `||` and `?:` evaluate the same operands in a test as
    // they do for a value: each operand is a test itself.
    if (e.type === 'LogicalExpression' && (e.operator === '&&' || e.operator === '||')) return `(${this.cond(e.left)} ${e.operator} ${this.cond(e.right)})`;
    if (e.type === 'ConditionalExpression') return `(if ${this.cond(e.test)} { ${this.cond(e.consequent)} } else { ${this.cond(e.alternate)} })`;
    if (e.type === 'BinaryExpression' && BOOL_OPS.has(e.operator)) {
      const b = this.boolBinary(e);
      if (b) return b;
    }
    // An element of a local array of booleans is its own test.
    const local = e.type === 'MemberExpression' && e.computed ? this.cg.localArray(e.object) : null;
    if (local?.a.kind === 'bool') return `clrt::elems::at(&${local.b.rust}, ${this.num(e.property)}, ${e.sid})?`;
    return `ops::to_boolean(&${this.expr(e)})`;
  }

  /**
   * `typeof x === 's'` (or `!==`, either side) as a Rust bool: typeof's answer compared with the literal,
   * without making a string. Null for anything else, and for an undeclared `x` (see `unary`).
   */
  private typeofTest(e: Node): string | null {
    if (e.type !== 'BinaryExpression' || (e.operator !== '===' && e.operator !== '!==')) return null;
    const [t, lit] = e.left.type === 'UnaryExpression' ? [e.left, e.right] : [e.right, e.left];
    // Only typeof's own answers: no user text reaches the Rust source.
    if (t.type !== 'UnaryExpression' || t.operator !== 'typeof' || lit.type !== 'Literal' || !TYPEOF_NAMES.has(lit.value)) return null;
    const arg = t.argument;
    if (arg.type === 'Identifier' && !this.cg.ref(arg) && !this.cg.isGlobal(arg.name)) return null;
    // Left to right: typeof's operand is evaluated whichever side it is on (the literal has no effect).
    const cmp = `ops::type_of(cx, &a) ${e.operator === '===' ? '==' : '!='} ${JSON.stringify(lit.value)}`;
    return `{ let a = ${this.operand(arg, [])}; ${cmp} }`;
  }

  /** A comparison, `in` or `instanceof` that does not compute on f64s, as a Rust bool (null if unsupported). */
  private boolBinary(e: Node): string | null {
    const ops: Record<string, string> = {
      '===': 'ops::strict_equals(&a, &b)',
      '!==': '!ops::strict_equals(&a, &b)',
      '==': 'ops::loose_equals(cx, &a, &b)?',
      '!=': '!ops::loose_equals(cx, &a, &b)?',
      in: 'ops::has_property_op(cx, &a, &b)?',
      instanceof: 'ops::instance_of(cx, &a, &b)?',
      '<': 'ops::compare(cx, CmpOp::Lt, &a, &b)?',
      '>': 'ops::compare(cx, CmpOp::Gt, &a, &b)?',
      '<=': 'ops::compare(cx, CmpOp::Le, &a, &b)?',
      '>=': 'ops::compare(cx, CmpOp::Ge, &a, &b)?',
    };
    const op = ops[e.operator];
    if (!op || this.f64Binary(e)) return null;
    const typeofTest = this.typeofTest(e);
    if (typeofTest) return typeofTest;
    // `x === 'text'` (either side): compared with the program's own string, without a copy of it.
    if (e.operator === '===' || e.operator === '!==') {
      const litLeft = e.left.type === 'Literal' && typeof e.left.value === 'string';
      const litRight = e.right.type === 'Literal' && typeof e.right.value === 'string';
      if (litLeft !== litRight) {
        const [other, lit, idx] = litLeft ? [e.right, e.left, 1] : [e.left, e.right, 0];
        const eq = `ops::is_const_str(&a, cx.interned(${this.cg.strOf(lit.value)}))`;
        return `{ let a = ${this.operand(other, [])}; ${this.guard(e, idx, 'a')} ${e.operator === '===' ? eq : `!${eq}`} }`;
      }
    }
    return `{ let a = ${this.operand(e.left, [e.right])}; let b = ${this.operand(e.right, [])}; ${this.guard(e, 0, 'a')} ${this.guard(e, 1, 'b')} ${op} }`;
  }

  private binary(e: Node): string {
    if (this.f64Binary(e)) {
      // Numbers (proved, or guarded as the trace saw them): plain f64 arithmetic and comparison.
      const l = this.numOperand(e.left, e);
      const r = this.numOperand(e.right, e);
      if (F64_OPS[e.operator]) return `Value::Num(${f64Op(e.operator, l, r)})`;
      return `Value::Bool(${l} ${F64_CMP[e.operator]} ${r})`;
    }
    // A comparison's value is the bool its test computes (`x === 'text'` and `typeof x === 't'` without a
    // copy or a string made).
    if (BOOL_OPS.has(e.operator)) {
      const b = this.boolBinary(e);
      if (b) return `Value::Bool(${b})`;
    }
    const chain = this.stringChain(e);
    if (chain) return chain;
    const l = this.operand(e.left, [e.right]);
    const r = this.operand(e.right, []);
    const g = `${this.guard(e, 0, 'a')} ${this.guard(e, 1, 'b')}`;
    const num: Record<string, string> = {
      '-': 'Sub',
      '*': 'Mul',
      '/': 'Div',
      '%': 'Rem',
      '**': 'Exp',
      '<<': 'Shl',
      '>>': 'Shr',
      '>>>': 'UShr',
      '&': 'BitAnd',
      '|': 'BitOr',
      '^': 'BitXor',
    };
    const cmp: Record<string, string> = { '<': 'Lt', '>': 'Gt', '<=': 'Le', '>=': 'Ge' };
    let op: string;
    if (e.operator === '+') op = 'ops::add(cx, &a, &b)?';
    else if (num[e.operator]) op = `ops::num_op(cx, NumOp::${num[e.operator]}, &a, &b)?`;
    else if (cmp[e.operator]) op = `Value::Bool(ops::compare(cx, CmpOp::${cmp[e.operator]}, &a, &b)?)`;
    else if (e.operator === '===') op = 'Value::Bool(ops::strict_equals(&a, &b))';
    else if (e.operator === '!==') op = 'Value::Bool(!ops::strict_equals(&a, &b))';
    else if (e.operator === '==') op = 'Value::Bool(ops::loose_equals(cx, &a, &b)?)';
    else if (e.operator === '!=') op = 'Value::Bool(!ops::loose_equals(cx, &a, &b)?)';
    else if (e.operator === 'in') op = 'Value::Bool(ops::has_property_op(cx, &a, &b)?)';
    else if (e.operator === 'instanceof') op = 'Value::Bool(ops::instance_of(cx, &a, &b)?)';
    else {
      this.cg.warnUnsupported(e, `the operator ${e.operator}`);
      return 'clrt::cx::unsupported::<Value>("binary operator")?';
    }
    // Literal operands need no guard: their type is fixed.
    return `{ let a = ${l}; let b = ${r}; ${g} ${op} }`;
  }

  /**
   * `a + b + c ...` (three operands or more) where every `+` of the chain saw only strings on both sides:
   * each operand evaluated and guarded in turn, then one string of them all (ops::concat_strs) rather
   * than a new string per `+`. Guarding each operand as soon as it is evaluated can only give up earlier
   * than the chain of `+` would, never later. Null for anything else.
   */
  private stringChain(e: Node): string | null {
    const strings = (n: Node): boolean =>
      n.type === 'BinaryExpression' && n.operator === '+' && this.cg.typeMask(n, 0) === STRING_TAG && this.cg.typeMask(n, 1) === STRING_TAG;
    if (!strings(e) || !strings(e.left)) return null;
    // The left spine, innermost `+` first: its left operand, then each `+`'s right one.
    const spine: Node[] = [];
    for (let n = e; strings(n); n = n.left) spine.unshift(n);
    const parts = [
      `let p0 = ${this.expr(spine[0].left)}; ${this.guard(spine[0], 0, 'p0')}`,
      ...spine.map((n, i) => `let p${i + 1} = ${this.expr(n.right)}; ${this.guard(n, 1, `p${i + 1}`)}`),
    ];
    const refs = parts.map((_, i) => `&p${i}`).join(', ');
    return `{ ${parts.join(' ')} ops::concat_strs(cx, &[${refs}])? }`;
  }

  private member(e: Node): string {
    if (this.rows && e.object.type === 'Identifier' && !e.computed && e.property.type === 'Identifier') {
      const r = this.cg.ref(e.object);
      const row = r === this.rows.a ? 'ka' : r === this.rows.b ? 'kb' : null;
      if (row) return `${row}[${this.rows.keys.indexOf(e.property.name)}].clone()`;
    }
    if (e.object.type === 'Super') {
      if (e.computed) return 'clrt::cx::unsupported::<Value>("computed super property")?';
      return `call::super_get(cx, call, ${this.cg.keyOf(e.property.name)})?`;
    }
    const local = this.cg.localArray(e.object);
    if (local) {
      if (!e.computed) return `Value::Num(${local.b.rust}.len() as f64)`;
      return `{ let k: f64 = ${this.num(e.property)}; clrt::elems::get(&${local.b.rust}, k, ${e.sid})? }`;
    }
    if (e.computed) {
      // An array indexed by a number, all the trace saw here: the guards and the read in one heap lookup.
      if (this.isArrayIndexRead(e)) {
        const two = this.rowRead(e);
        if (two) return `{ ${two} props::get_array_index2(cx, o, j, k, ${e.object.sid}, ${e.sid})? }`;
        return `{ ${this.arrayIndexSetup(e)} props::get_array_index(cx, o, k, ${e.sid})? }`;
      }
      return `{ ${this.objectRef(e.object, [e.property])} let k = ${this.expr(e.property)}; ${this.guard(e, 0, 'o')} ${this.guard(e, 1, 'k')} props::get_computed(cx, o, &k)? }`;
    }
    const o = this.objectRef(e.object, []);
    if (e.property.type === 'PrivateIdentifier') return `{ ${o} ${this.guard(e, 0, 'o')} props::get_private(cx, o, ${this.cg.keyOf(e.property.key)})? }`;
    const len = this.lengthRead(e);
    if (len) return `Value::Num(${len})`;
    const mask = this.cg.typeMask(e, 0);
    // The type guard and the cached read in one look at the object.
    if (mask !== null) {
      const k = this.cg.keyOf(e.property.name);
      return `{ ${o} props::get_at_guarded(cx, o, ${k}, ${k.slice(1)}, ${this.cg.icSlot()}, ${mask}, ${e.sid})? }`;
    }
    return `{ ${o} ${this.guard(e, 0, 'o')} props::get_at(cx, o, ${this.cg.keyOf(e.property.name)}, ${this.cg.icSlot()})? }`;
  }

  private assignment(e: Node): string {
    const left = e.left;
    if (left.type === 'Identifier') {
      const b = this.cg.ref(left);
      const v = this.expr(e.right);
      if (!b) {
        this.cg.warnUnsupported(e, `an assignment to the undeclared variable ${left.name}`);
        return 'clrt::cx::unsupported::<Value>("assignment to a global")?';
      }
      if (b.isConst) return `{ let _v = ${v}; clrt::cx::engine_error::<Value>("Assignment to constant variable.")? }`;
      if (this.cg.isNumeric(b)) return `{ let n = ${this.numDef(b, e.right)}; ${b.rust} = n; Value::Num(n) }`;
      const appended = this.appendTo(b, e.right);
      if (appended) return appended;
      // A number assigned to a captured binding held in a local: stored as a number, with no drop of the
      // old value to run when the slot holds a number already.
      const n = unwrapNum(v);
      if (n !== null && b.captured) return `{ let n: f64 = ${n}; ${this.assignBindingNum(b, 'n')} Value::Num(n) }`;
      return `{ let v = ${v}; ${this.assignBinding(b, 'v.clone()')} v }`;
    }
    if (left.type === 'MemberExpression') {
      if (left.object.type === 'Super') return 'clrt::cx::unsupported::<Value>("assignment to super property")?';
      const sid = e.sid ?? left.sid;
      const site = { sid };
      const local = this.cg.localArray(left.object);
      if (local) {
        const bool = local.a.kind === 'bool';
        const proved = bool ? this.cg.isBool(e.right) : this.cg.isNum(e.right);
        const v = proved
          ? bool
            ? `clrt::elems::expect_bool(&${this.expr(e.right)})?`
            : this.num(e.right)
          : `ops::guard_${bool ? 'bool' : 'num'}(&${this.expr(e.right)}, ${sid})?`;
        const wrap = local.a.kind === 'bool' ? 'Value::Bool' : 'Value::Num';
        return `{ let k: f64 = ${this.num(left.property)}; let v = ${v}; clrt::elems::set(cx, &mut ${local.b.rust}, k, v, ${sid})?; ${wrap}(v) }`;
      }
      if (left.computed) {
        const o = this.objectRef(left.object, [left.property, e.right]);
        // An array indexed by a number, all the trace saw here: the guards and an in-bounds store in one heap lookup.
        if (this.cg.typeMask(site, 0) === ARRAY_TAG && this.cg.typeMask(site, 1) === NUMBER_TAG) {
          const numKey = this.cg.isNum(left.property);
          const k = numKey ? this.num(left.property) : this.expr(left.property);
          const key = numKey ? 'k' : `ops::guard_num(&k, ${sid})?`;
          // `a[j][k] = n` with the key and the value literals or locals: the row read in place, after them (the
          // same, since reading the row runs nothing that could change them; see `rowRead`).
          const two = this.isF64(e.right) && this.isSimple(e.right) ? this.rowRead(left) : null;
          if (two) return `{ ${two} let n: f64 = ${this.num(e.right)}; props::set_array_num2(cx, o, j, k, n, ${left.object.sid}, ${sid})?; Value::Num(n) }`;
          // A number stored from an f64: the element is written from the register, not from a tagged copy.
          if (this.isF64(e.right))
            return `{ ${o} let k = ${k}; let n: f64 = ${this.num(e.right)}; props::set_array_num(cx, o, ${key}, n, ${sid})?; Value::Num(n) }`;
          return `{ ${o} let k = ${k}; let v = ${this.expr(e.right)}; props::set_array_index(cx, o, ${key}, v.clone(), ${sid})?; v }`;
        }
        const k = this.expr(left.property);
        const v = this.expr(e.right);
        return `{ ${o} let k = ${k}; let v = ${v}; ${this.guard(site, 0, 'o')} ${this.guard(site, 1, 'k')} props::set_computed(cx, o, &k, v.clone())?; v }`;
      }
      const o = this.objectRef(left.object, [e.right]);
      const v = this.expr(e.right);
      if (left.property.type === 'PrivateIdentifier')
        return `{ ${o} let v = ${v}; ${this.guard(site, 0, 'o')} props::set_private(cx, o, ${this.cg.keyOf(left.property.key)}, v.clone())?; v }`;
      // The site remembers where it found the property (props::set_at).
      const k = this.cg.keyOf(left.property.name);
      return `{ ${o} let v = ${v}; ${this.guard(site, 0, 'o')} props::set_at(cx, o, ${k}, ${k.slice(1)}, ${this.cg.icSlot()}, v.clone())?; v }`;
    }
    this.cg.warnUnsupported(e, 'an assignment to this target');
    return 'clrt::cx::unsupported::<Value>("assignment target")?';
  }

  /**
   * `x = x + e` (what `x += e` normalises to) for `x` a Rust local that `e` does not mention: `e` first (no
   * one can see `x` change meanwhile, so reading `x` before or after it is the same), then the site's guards
   * on both operands, then `ops::add_assign`, which appends to a string only `x` holds in place.
   */
  private appendTo(b: Binding, r: Node): string | null {
    if (b.captured || r.type !== 'BinaryExpression' || r.operator !== '+' || r.left.type !== 'Identifier' || this.cg.ref(r.left) !== b) return null;
    if (this.f64Binary(r) || this.mentions(r.right, b)) return null;
    return `{ let b = ${this.expr(r.right)}; { let a = &${b.rust}; ${this.guard(r, 0, 'a')} ${this.guard(r, 1, 'b')} } ops::add_assign(cx, &mut ${b.rust}, &b)?; ${b.rust}.clone() }`;
  }

  /** Whether binding `b` appears anywhere in `n`. */
  private mentions(n: Node, b: Binding): boolean {
    if (!n || typeof n !== 'object') return false;
    if (Array.isArray(n)) return n.some((x) => this.mentions(x, b));
    if (n.type === 'Identifier' && this.cg.ref(n) === b) return true;
    for (const k of Object.keys(n)) if (k !== 'loc' && n[k] && typeof n[k] === 'object' && this.mentions(n[k], b)) return true;
    return false;
  }

  /** Evaluates call arguments into `args`. */
  private args(list: Node[]): string {
    // A fixed-size array on the stack: no allocation per call.
    if (!list.some((a) => a.type === 'SpreadElement')) return `let args: [Value; ${list.length}] = [${list.map((a) => this.expr(a)).join(', ')}];`;
    const parts = ['let mut args: Vec<Value> = Vec::new();'];
    for (const a of list) {
      if (a.type === 'SpreadElement') parts.push(`{ let v = ${this.expr(a.argument)}; let more = rt::iterate(cx, &v)?; args.extend(more); }`);
      else parts.push(`args.push(${this.expr(a)});`);
    }
    return parts.join(' ');
  }

  private callExpr(e: Node, awaited: boolean): string {
    const c = e.callee;
    if (c.type === 'Super') return `{ ${this.args(e.arguments)} call::super_call(cx, call, &args)? }`;
    if (c.type === 'MemberExpression' && c.object.type === 'Super') {
      if (c.computed) return 'clrt::cx::unsupported::<Value>("computed super call")?';
      return `{ let f = call::super_get(cx, call, ${this.cg.keyOf(c.property.name)})?; ${this.args(e.arguments)} call::call(cx, &f, call.this.clone(), &args)? }`;
    }
    const ids = this.cg.callees(e);
    if (!ids) return `clrt::unknown::<Value>(${e.sid})?`;
    const invoke = awaited ? 'call::call_awaited' : 'call::invoke';
    // One compiled function seen here: once the guard admits it, its code is called directly.
    const only = /^&\[CalleeId::User\((\d+)\)\]$/.exec(ids);
    const callWith = (f: string, recv: string): string =>
      only ? `call::invoke_user(cx, &${f}, f${only[1]}, ${recv}, &args, ${awaited})?` : `${invoke}(cx, &${f}, ${recv}, &args)?`;
    if (c.type === 'MemberExpression') {
      const o = this.expr(c.object);
      if (c.computed) {
        const k = this.expr(c.property);
        return `{ let o = ${o}; let k = ${k}; ${this.guard(e, 0, 'o')} let ks = ops::to_property_key(cx, &k)?; let f = call::method(cx, &o, ks.units())?; ${this.args(e.arguments)} call::guard_callee(cx, &f, ${ids}, ${e.sid})?; ${callWith('f', 'o')} }`;
      }
      if (c.property.type === 'PrivateIdentifier') {
        const method = `{ let fv = props::get_private(cx, &o, ${this.cg.keyOf(c.property.key)})?; call::callee_of(cx, &fv)? }`;
        return `{ let o = ${o}; ${this.guard(e, 0, 'o')} let f = ${method}; ${this.args(e.arguments)} call::guard_callee(cx, &f, ${ids}, ${e.sid})?; ${callWith('f', 'o')} }`;
      }
      // The method's lookup and the callee guard in one: a callee the site cached has passed the guard.
      const method = `call::method_guarded(cx, &o, ${this.cg.keyOf(c.property.name)}, ${this.cg.icSlot()}, ${ids}, ${e.sid})?`;
      // The receiver's type guard too, where the trace saw the receiver: a receiver the site cached passes it.
      const mask = this.cg.typeMask(e, 0);
      const lookup =
        mask === null
          ? `${this.guard(e, 0, 'o')} let f = ${method};`
          : `let f = call::method_typed(cx, &o, ${this.cg.keyOf(c.property.name)}, ${this.cg.icSlot()}, ${ids}, ${e.sid}, ${mask})?;`;
      // `a.sort((x, y) => x.k - y.k || y.j - x.j)` where the trace saw only Array.prototype.sort: the keys
      // are read once per value when every value holds them as own numbers (array::sort_by_keys).
      const order = ids === '&[CalleeId::Builtin("Array.prototype.sort")]' && e.arguments.length === 1 && !awaited ? sortKeys(e.arguments[0]) : null;
      if (order) {
        const keys = order.map(([k, desc]) => `(${this.cg.keyOf(k)}, ${desc})`).join(', ');
        return `{ let o = ${o}; ${lookup} let a0 = ${this.expr(e.arguments[0])}; clrt::builtins::array::sort_by_keys(cx, &f, &o, a0, &[${keys}])? }`;
      }
      // A builtin the method's lookup would find on a realm no program has written (a string's method on
      // String.prototype, a function of the global Math) is that builtin without the lookup
      // (Heap::realm_untouched); otherwise the lookup runs before the arguments, as in JavaScript. When the
      // direct form does not apply after all (an argument of another type), the lookup runs then, unless
      // the arguments wrote to the realm, which gives up.
      // A lookup may run a getter: the bindings held in locals go back to their environments before it and
      // are read again after it (see FnGen.cacheCaptured).
      const early = (pristine: string): string => `let pre = if ${pristine} { None } else { ${this.writeBack} ${lookup} ${this.reload} Some(f) };`;
      const late = `let f = match pre { Some(f) => f, None => { rt::realm_still_untouched(cx, ${e.sid})?; ${this.writeBack} ${lookup} ${this.reload} f } };`;
      // `a.push(v)` where the trace saw only Array.prototype.push: appended in place (array::push_one), and
      // on a plain array of a realm no program has written, without the lookup (array::push_direct).
      if (ids === '&[CalleeId::Builtin("Array.prototype.push")]' && e.arguments.length === 1 && e.arguments[0].type !== 'SpreadElement' && !awaited)
        return (
          `{ let o = ${this.operand(c.object, e.arguments)}; ${early('rt::plain_array(cx, &o) && cx.heap.realm_untouched()')} let v = ${this.expr(e.arguments[0])}; ` +
          `match pre { None => clrt::builtins::array::push_direct(cx, &o, v)?, Some(f) => clrt::builtins::array::push_one(cx, &f, &o, v)? } }`
        );
      // `s.charCodeAt(i)` on a string and a number: the code unit read directly (string::char_code_at_num),
      // with no fuel of its own (the loop or call around it is charged). A receiver held in a local is
      // borrowed (see `operand`).
      if (ids === '&[CalleeId::Builtin("String.prototype.charCodeAt")]' && e.arguments.length === 1 && e.arguments[0].type !== 'SpreadElement' && !awaited) {
        const recv = this.operand(c.object, e.arguments);
        return (
          `{ let o = ${recv}; ${early('matches!(o, Value::Str(_)) && cx.heap.realm_untouched()')} let a0 = ${this.expr(e.arguments[0])}; ` +
          `if let (Value::Str(st), Value::Num(p)) = (&o, &a0) { Value::Num(clrt::builtins::string::char_code_at_num(st.units(), *p)) } ` +
          `else { ${late} let args: [Value; 1] = [a0]; ${callWith('f', 'Value::clone(&o)')} } }`
        );
      }
      // A builtin method of String.prototype, Number.prototype, Array.prototype, Map.prototype or Set.prototype
      // (PROTO_DIRECT) on a string, a number, or an array, Map or Set with no property of its own that
      // inherits from the realm's prototype (rt::plain_array, rt::plain_map, rt::plain_set), on a realm no
      // program has written:
      // the lookup would find that builtin, whose code is called as the call would call it (its fuel, then
      // its function), without the lookup or the call's indirection. Anything else looks the method up first,
      // as above.
      const protoDirect = /^&\[CalleeId::Builtin\("((String|Number|Array|Map|Set)\.prototype\.\w+)"\)\]$/.exec(ids);
      const direct = protoDirect ? PROTO_DIRECT[protoDirect[1]] : undefined;
      if (protoDirect && direct && !awaited && !e.arguments.some((a: Node) => a.type === 'SpreadElement')) {
        const recv = this.operand(c.object, e.arguments);
        const receiver = {
          String: 'matches!(o, Value::Str(_))',
          Number: 'matches!(o, Value::Num(_))',
          Array: 'rt::plain_array(cx, &o)',
          Map: 'rt::plain_map(cx, &o)',
          Set: 'rt::plain_set(cx, &o)',
        }[protoDirect[2]];
        return (
          `{ let o = ${recv}; ${early(`${receiver} && cx.heap.realm_untouched()`)} ${this.args(e.arguments)} ` +
          `match pre { None => { cx.tick()?; let ov: &Value = &o; (clrt::builtins::${direct}.f)(cx, ov, &args)? } ` +
          `Some(f) => ${callWith('f', 'Value::clone(&o)')} } }`
        );
      }
      // A regex literal that is the argument of `replace`/`replaceAll`/`match` on a string, or the receiver
      // of `test`: the builtin runs on the literal's compiled pattern without the RegExp object, which no
      // code could reach (regexp::replace_literal and the others); any other receiver takes the builtin.
      const single = e.arguments.length >= 1 && !e.arguments.some((a: Node) => a.type === 'SpreadElement') && !awaited;
      const strMethod = /^&\[CalleeId::Builtin\("String\.prototype\.(replace|replaceAll|match)"\)\]$/.exec(ids);
      if (strMethod && single && e.arguments.length === (strMethod[1] === 'match' ? 1 : 2) && e.arguments[0].type === 'Literal' && e.arguments[0].regex) {
        const a0 = this.expr(e.arguments[0]);
        const lit = regexLiteralCall(a0);
        if (lit) {
          const [p, f, slot] = lit;
          if (strMethod[1] === 'match')
            return (
              `{ let o = ${o}; ${lookup} if let Value::Str(st) = &o { cx.tick()?; clrt::builtins::regexp::match_literal(cx, st, ${p}, ${f}, ${slot})? } ` +
              `else { let args: [Value; 1] = [${a0}]; ${callWith('f', 'o')} } }`
            );
          const all = strMethod[1] === 'replaceAll';
          // A function literal as the replacement is made only once there is a match to call it on
          // (regexp::replace_literal_fn); any other receiver makes it first, as the code runs.
          const fnArg = e.arguments[1];
          if (fnArg.type === 'ArrowFunctionExpression' || fnArg.type === 'FunctionExpression') {
            const make = this.expr(fnArg);
            return (
              `{ let o = ${o}; ${lookup} ` +
              `if let Value::Str(st) = &o { cx.tick()?; clrt::builtins::regexp::replace_literal_fn(cx, st, ${p}, ${f}, ${slot}, &mut |cx: &mut Cx| Ok(${make}), ${all})? } ` +
              `else { let a1 = ${make}; let args: [Value; 2] = [${a0}, a1]; ${callWith('f', 'o')} } }`
            );
          }
          return (
            `{ let o = ${o}; ${lookup} let a1 = ${this.expr(e.arguments[1])}; ` +
            `if let Value::Str(st) = &o { cx.tick()?; clrt::builtins::regexp::replace_literal(cx, st, ${p}, ${f}, ${slot}, &a1, ${all})? } ` +
            `else { let args: [Value; 2] = [${a0}, a1]; ${callWith('f', 'o')} } }`
          );
        }
      }
      const recvLit = regexLiteralCall(o);
      if (recvLit && ids === '&[CalleeId::Builtin("RegExp.prototype.test")]' && single && e.arguments.length === 1) {
        const [p, f, slot] = recvLit;
        return (
          `{ let a0 = ${this.expr(e.arguments[0])}; ` +
          `if let Value::Str(st) = &a0 { cx.tick()?; Value::Bool(clrt::builtins::regexp::test_literal(cx, ${p}, ${f}, ${slot}, st)?) } ` +
          `else { let o = ${o}; ${lookup} let args: [Value; 1] = [a0]; ${callWith('f', 'o')} } }`
        );
      }
      const math = /^&\[CalleeId::Builtin\("Math\.(\w+)"\)\]$/.exec(ids);
      const arity = math ? MATH_DIRECT[math[1]] : undefined;
      if (math && arity === e.arguments.length && !e.arguments.some((a: Node) => a.type === 'SpreadElement') && !awaited) {
        // A Math function on numbers, called directly (builtins/math::direct); other arguments take the builtin.
        const names = e.arguments.map((_: Node, i: number) => `a${i}`);
        const nums = names.map((n: string) => `Value::Num(${n.replace('a', 'x')})`).join(', ');
        const global = c.object.type === 'Identifier' && c.object.name === 'Math' && !this.cg.ref(c.object);
        const args = e.arguments.map((a: Node, i: number) => `let a${i} = ${this.expr(a)}; `).join('');
        const direct = `if let (${nums},) = (${names.map((n: string) => `&${n}`).join(', ')},) { Value::Num(clrt::builtins::math::direct::${math[1]}(${names.map((n: string) => `*${n.replace('a', 'x')}`).join(', ')})) }`;
        const slow = (get: string): string =>
          `else { ${get} let args: [Value; ${names.length}] = [${names.join(', ')}]; ${this.writeBack} let r = ${callWith('f', 'o')}; ${this.reload} r }`;
        // The global Math is read only where the lookup or the builtin needs it: reading it has no effect (a
        // program cannot assign a global). The direct form has no fuel of its own, as charCodeAt's.
        if (global)
          return (
            `{ let pre = if cx.heap.realm_untouched() { None } else { let o = ${o}; ${this.writeBack} ${lookup} ${this.reload} Some((o, f)) }; ${args}${direct} ` +
            slow(
              `let (o, f) = match pre { Some(p) => p, None => { rt::realm_still_untouched(cx, ${e.sid})?; let o = ${o}; ${this.writeBack} ${lookup} ${this.reload} (o, f) } };`,
            ) +
            ' }'
          );
        return `{ let o = ${o}; ${lookup} ${args}${direct} ${slow('')} }`;
      }
      return `{ let o = ${o}; ${lookup} ${this.args(e.arguments)} ${callWith('f', 'o')} }`;
    }
    // One compiled function seen here: the callee's checks and the call in one look at it.
    if (only) {
      const general = `call::call_user(cx, fv, ${only[1]}, f${only[1]}, Value::Undefined, &args, ${awaited}, ${e.sid})?`;
      // The function's Rust code called by name once the callee is that plain function (call::plain_user),
      // not through call_user's function pointer; anything else takes call_user.
      const direct =
        `match call::plain_user(cx, fv, ${only[1]}) { Some(o) => { call::enter(cx)?; ` +
        `let r = f${only[1]}(cx, &Call { callee: o, this: Value::Undefined, args: &args, new_target: None }); call::leave(cx); r? } ` +
        `None => ${general} }`;
      return `{ ${this.valueRef('fv', c, e.arguments)} ${this.args(e.arguments)} ${awaited ? general : direct} }`;
    }
    // `String(x)`, `Number(x)` and `Boolean(x)` of the global functions (which no program can assign) are the
    // conversions they make, with no call.
    const conversion = c.type === 'Identifier' && !this.cg.ref(c) ? GLOBAL_CONVERSIONS[c.name] : undefined;
    if (
      conversion &&
      ids === `&[CalleeId::Builtin(${JSON.stringify(c.name)})]` &&
      e.arguments.length === 1 &&
      e.arguments[0].type !== 'SpreadElement' &&
      !awaited
    )
      return `{ let a = ${this.operand(e.arguments[0], [])}; ${conversion} }`;
    return `{ let fv = ${this.expr(c)}; ${this.args(e.arguments)} let f = call::callee_of(cx, &fv)?; call::guard_callee(cx, &f, ${ids}, ${e.sid})?; ${callWith('f', 'Value::Undefined')} }`;
  }

  private makeFunction(n: Node, name: string): string {
    const f = this.cg.fnFor(n);
    if (!f) return 'clrt::cx::unsupported::<Value>("function")?';
    let flags = n.type === 'ArrowFunctionExpression' ? 'fflags::ARROW' : '0';
    if (n.async) flags += ' | fflags::ASYNC';
    if (n.isMethod) flags += ' | fflags::METHOD';
    const len = n.params.filter((p: Node) => p.type !== 'RestElement').length;
    return `call::make_function(cx, ${f.code}, ${this.currentEnvExpr()}, &rt::text(${this.cg.keyOf(name)}), ${len}, ${flags})?`;
  }

  private makeClass(n: Node): string {
    this.cg.classNodes.set(n.sid, n);
    const ctorMethod = n.body.body.find((m: Node) => m.kind === 'constructor');
    const ctorCode = this.cg.codeOfSite(n.sid);
    if (ctorCode === undefined) return 'clrt::cx::unsupported::<Value>("class")?';
    const ctorLen = ctorMethod ? ctorMethod.value.params.filter((p: Node) => p.type !== 'RestElement').length : 0;
    const members: string[] = [];
    const staticFields: string[] = [];
    for (const m of n.body.body) {
      if (m.type === 'MethodDefinition' && m.kind !== 'constructor') {
        const k = memberName(m);
        const f = this.cg.fnFor(m.value);
        if (k === null || !f) return 'clrt::cx::unsupported::<Value>("class with computed member names")?';
        const kind = m.kind === 'get' ? 'MethodKind::Get' : m.kind === 'set' ? 'MethodKind::Set' : 'MethodKind::Method';
        const len = m.value.params.filter((p: Node) => p.type !== 'RestElement').length;
        members.push(
          `Member::Method { key: JsStr::from_units(${this.cg.keyOf(k)}.to_vec()), code: ${f.code}, is_static: ${!!m.static}, kind: ${kind}, length: ${len}, is_async: ${!!m.value.async} }`,
        );
      } else if (m.type === 'PropertyDefinition' && m.static) {
        const k = memberName(m);
        if (k === null) return 'clrt::cx::unsupported::<Value>("computed static field")?';
        staticFields.push(
          `{ let v = ${m.value ? this.expr(m.value) : 'Value::Undefined'}; ${defineField('c.as_obj().expect("class")', this.cg.keyOf(k), m.key.type === 'PrivateIdentifier')} }`,
        );
      }
    }
    const fields = this.cg.fieldsCode(n.sid);
    const parent = n.superClass ? `Some(${this.expr(n.superClass)})` : 'None';
    const name = n.id?.name ?? n.inferredName ?? '';
    return `{ let parent = ${parent}; let c = call::make_class(cx, &rt::text(${this.cg.keyOf(name)}), ${ctorCode}, ${ctorLen}, ${fields === undefined ? 'None' : `Some(${fields})`}, parent, ${this.currentEnvExpr()}, &[${members.join(', ')}])?; ${staticFields.join(' ')} c }`;
  }

  private object(e: Node): string {
    const n = e.properties.filter((p: Node) => p.type !== 'SpreadElement').length;
    // Static, distinct keys (no spread, no accessor, no `__proto__`): each is defined without a search.
    const names = e.properties.map((p: Node) => (p.type === 'Property' && !p.computed && p.kind === 'init' ? propName(p.key) : null));
    const fresh = names.every((k: string | null) => k !== null && k !== '__proto__') && new Set(names).size === names.length;
    // ...and every value a plain one (no method, which needs the object as its home): the values are
    // evaluated in order and the object made from them in one step.
    if (fresh && n > 0 && e.properties.every((p: Node) => !(p.value.type === 'FunctionExpression' && p.value.isMethod))) {
      const vals = e.properties.map((p: Node) => {
        nameAnonymousValue(p);
        return this.expr(p.value);
      });
      const keys = names.map((k: string | null) => this.cg.strOf(k ?? ''));
      return `{ let vals: [Value; ${n}] = [${vals.join(', ')}]; cx.object_literal(${this.cg.icSlot()}, &[${keys.join(', ')}], vals)? }`;
    }
    const parts = [`let obj = ${n ? `cx.new_object_with(${n})` : 'cx.new_object()'}?; let o = obj.as_obj().expect("object");`];
    for (const p of e.properties) {
      if (p.type === 'SpreadElement') {
        parts.push(`{ let v = ${this.expr(p.argument)}; rt::object_spread(cx, o, &v)?; }`);
        continue;
      }
      const key = p.computed ? `{ let k = ${this.expr(p.key)}; ops::to_property_key(cx, &k)? }` : `cx.sk(${this.cg.strOf(propName(p.key) ?? '')})`;
      if (p.kind === 'get' || p.kind === 'set') {
        parts.push(
          `{ let k = ${key}; let f = ${this.makeFunction(p.value, propName(p.key) ?? '')}; call::set_home(cx, &f, o)?; rt::define_accessor(cx, o, k, &f, ${p.kind === 'get'})?; }`,
        );
        continue;
      }
      if (p.value.type === 'FunctionExpression' && p.value.isMethod) {
        parts.push(
          `{ let k = ${key}; let f = ${this.makeFunction(p.value, propName(p.key) ?? '')}; call::set_home(cx, &f, o)?; props::define(cx, o, k, f)?; }`,
        );
        continue;
      }
      nameAnonymousValue(p);
      parts.push(`{ let k = ${key}; let v = ${this.expr(p.value)}; props::${fresh ? 'define_fresh' : 'define'}(cx, o, k, v)?; }`);
    }
    parts.push('obj');
    return `{ ${parts.join(' ')} }`;
  }

  private intrinsic(e: Node): string {
    if (e.name === 'memberKey' && this.cg.isNum(e.arguments[0])) return `Value::Num(${this.num(e.arguments[0])})`;
    // The runtime's intrinsics take their operands by reference: locals are borrowed (see `operand`).
    const args = e.arguments.map((a: Node, i: number) => this.operand(a, e.arguments.slice(i + 1)));
    const binds = args.map((a: string, i: number) => `let a${i} = ${a};`).join(' ');
    const call1: Record<string, string> = {
      iter: 'rt::iter',
      forInKeys: 'rt::for_in_keys',
      toKey: 'rt::to_key',
      memberKey: 'rt::member_key',
      requireObject: 'rt::require_object',
    };
    if (call1[e.name]) return `{ ${binds} ${call1[e.name]}(cx, &a0)? }`;
    if (e.name === 'objectRest') return `{ ${binds} rt::object_rest(cx, &a0, &a1)? }`;
    if (e.name === 'arraySliceFrom') return `{ ${binds} rt::array_slice_from(cx, &a0, &a1)? }`;
    if (e.name === 'callWith') return `{ ${binds} rt::call_with(cx, &a0, &a1, &a2)? }`;
    if (e.name === 'forOf') return `{ ${binds} rt::for_of(cx, &a0)? }`;
    if (e.name === 'forOfNext') return `{ ${binds} rt::for_of_next(cx, &a0, &a1)? }`;
    if (e.name === 'forOfValue') return `{ ${binds} rt::for_of_value(cx, &a0, &a1)? }`;
    if (e.name === 'forInSkip') return `{ ${binds} rt::for_in_skip(cx, &a0, &a1, &a2)? }`;
    this.cg.warnUnsupported(e, `the intrinsic ${e.name}`);
    return 'clrt::cx::unsupported::<Value>("intrinsic")?';
  }
}

function numberLiteral(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 2 ** 53 && !Object.is(v, -0)) return `Value::Num(${v}.0)`;
  const buf = Buffer.alloc(8);
  buf.writeDoubleLE(v);
  return `rt::num(0x${buf.readBigUInt64LE().toString(16)})`;
}

function indent(lines: string[]): string {
  return lines
    .join('\n')
    .split('\n')
    .map((l) => (l ? `    ${l}` : l))
    .join('\n');
}
