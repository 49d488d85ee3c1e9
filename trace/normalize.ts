/**
 * Normalisation: an acorn ESTree program becomes the core the tracer instruments and the code generator
 * compiles. The core is still JavaScript (astring prints it and Node runs it, with the same behaviour as the
 * source), but smaller:
 *
 * - one loop form: `L: while (test) { C: { body } update }`; `for`, `for-in`, `for-of`, `do-while` desugar to
 *   it; every `break`/`continue` names its target (`continue` becomes `break C`); `switch` becomes ifs;
 * - `var` is hoisted to the top of its function as `let`; function declarations are hoisted to the top of
 *   their block; `let x;` gets an explicit `undefined`;
 * - compound, logical and update assignments become plain `=` with temporaries, so each operand is
 *   evaluated once; destructuring (declarations, parameters, assignments, loop heads, catch) becomes member
 *   reads; default parameters become explicit checks; arrow bodies are blocks;
 * - optional chains become conditionals over temporaries;
 * - constructs the compiler does not model (generators, `with`, private fields, `arguments`, ...) are kept
 *   verbatim inside a `ClUnsupported` node, so the traced program still runs them and the generated code gives
 *   up there, with a diagnostic naming the construct and its location.
 *
 * Intrinsics (`ClIntrinsic`) stand for the few operations the desugaring needs that have no syntax: they
 * print as calls of `__cl.<name>` and compile to runtime functions.
 */
import * as acorn from 'acorn';
import type * as C from './ast.ts';
import type { Diagnostic } from './diagnostics.ts';
import { walkNodes } from './walk.ts';
import type { PatternSource, Wording } from './wording.ts';

export interface NormalizeResult {
  program: C.Program;
  diagnostics: Diagnostic[];
  /** The highest site id used. */
  maxId: number;
  /** Per site whose operation can fail with an error V8 words from the source: what it names (wording.ts). */
  wording: Map<number, Wording>;
}

interface FnCtx {
  temps: string[];
  vars: Set<string>;
  isAsync: boolean;
}

interface LoopTarget {
  /** The label `break` jumps to (the loop's). */
  brk: string;
  /** The label `continue` jumps to (a block around the body), or null for a labelled plain block. */
  cont: string | null;
  /** User labels naming this statement. */
  names: string[];
  kind: 'loop' | 'switch' | 'block';
}

export function normalize(source: string, file: string): NormalizeResult {
  const diagnostics: Diagnostic[] = [];
  let ast: acorn.Program;
  try {
    ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'script', locations: true, allowReturnOutsideFunction: false, allowHashBang: true });
  } catch (e) {
    const err = e as { message: string; loc?: { line: number; column: number } };
    diagnostics.push({
      code: 'C001',
      severity: 'error',
      message: err.message.replace(/ \(\d+:\d+\)$/, ''),
      file,
      line: err.loc?.line ?? 1,
      column: (err.loc?.column ?? 0) + 1,
    });
    return { program: { type: 'Program', body: [], sourceType: 'script' }, diagnostics, maxId: 0, wording: new Map() };
  }
  const n = new Normalizer(file, diagnostics);
  const program = n.program(ast);
  return { program, diagnostics, maxId: n.nextId - 1, wording: n.wording };
}

const id = (name: string): C.Identifier => ({ type: 'Identifier', name });
const lit = (value: string | number | boolean | null): C.Literal => ({ type: 'Literal', value, raw: JSON.stringify(value) });
const undef = (): C.Identifier => ({ type: 'Identifier', name: 'undefined' });
const exprStmt = (expression: C.Expression): C.ExpressionStatement => ({ type: 'ExpressionStatement', expression });
const assign = (left: C.AssignmentExpression['left'], right: C.Expression): C.AssignmentExpression => ({
  type: 'AssignmentExpression',
  operator: '=',
  left,
  right,
});
const block = (body: C.Statement[]): C.BlockStatement => ({ type: 'BlockStatement', body });
const letDecl = (name: string, init: C.Expression, kind: C.LexicalKind = 'let'): C.VariableDeclaration => ({
  type: 'VariableDeclaration',
  kind,
  declarations: [{ type: 'VariableDeclarator', id: id(name), init }],
});
const member = (object: C.Expression, prop: string | C.Expression | C.PrivateIdentifier, computed = false): C.MemberExpression =>
  typeof prop === 'string'
    ? { type: 'MemberExpression', object, property: id(prop), computed: false, optional: false }
    : { type: 'MemberExpression', object, property: prop, computed, optional: false };
/**
 * A private name of a class (C.PrivateInfo). `key` is the property key the compiled code stores it under: a
 * first code unit U+FFFF, which no key in a handler's source contains, then `#name@<class offset>`, so that
 * two classes' `#x` stay apart. `fnSid` is the site of the private method of that name, once normalised.
 */
type PrivateInfo = C.PrivateInfo;
const seq = (exprs: C.Expression[]): C.Expression => (exprs.length === 1 ? exprs[0] : { type: 'SequenceExpression', expressions: exprs });
const superNode = (): C.Super => ({ type: 'Super' });
const not = (e: C.Expression): C.UnaryExpression => ({ type: 'UnaryExpression', operator: '!', prefix: true, argument: e });
const isFunction = (n: { type: string }): boolean =>
  n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression' || n.type === 'FunctionDeclaration';

/** A source node that has a location (every acorn node; the core's when it kept one). */
type Located = { loc?: acorn.SourceLocation | null };
/** Loop statements of the source. */
type SourceLoop = acorn.WhileStatement | acorn.DoWhileStatement | acorn.ForStatement | acorn.ForInStatement | acorn.ForOfStatement;
/** Function nodes of the source. */
type SourceFunction = acorn.FunctionDeclaration | acorn.AnonymousFunctionDeclaration | acorn.FunctionExpression | acorn.ArrowFunctionExpression;

const COMPOUND: Record<string, acorn.BinaryOperator> = {
  '+=': '+',
  '-=': '-',
  '*=': '*',
  '/=': '/',
  '%=': '%',
  '**=': '**',
  '<<=': '<<',
  '>>=': '>>',
  '>>>=': '>>>',
  '&=': '&',
  '|=': '|',
  '^=': '^',
};

class Normalizer {
  nextId = 1;
  readonly wording = new Map<number, Wording>();
  /** The site of each source call, for `iterated`. */
  private callSites = new Map<acorn.Node, number>();
  /** Inside a computed key of an object literal or a class, outside any function there (see `computedKey`). */
  private inKey = false;
  /** Whether the code being normalised is strict (a `'use strict'` directive around it, or a class body). */
  private strict = false;
  private labelN = 0;
  private fn: FnCtx = { temps: [], vars: new Set(), isAsync: false };
  /** Private names of the classes being normalised, innermost last: `#x` to its info. */
  private privateScopes: Map<string, PrivateInfo>[] = [];
  private targets: LoopTarget[] = [];
  /** A pending user label for the next loop or block. */
  private pendingLabels: string[] = [];

  constructor(
    private file: string,
    private diags: Diagnostic[],
  ) {}

  private site<T extends C.CoreNode>(n: T, src?: Located): T & { sid: number } {
    const sited = n as T & { sid: number };
    sited.sid = this.nextId++;
    if (src?.loc) sited.loc = src.loc;
    return sited;
  }

  /** Records how V8 words a failure of `n`'s operation, from the source. */
  private worded<T extends { sid?: number }>(n: T, w: Wording): T {
    if (n.sid !== undefined) this.wording.set(n.sid, this.inKey && (w.kind === 'call' || w.kind === 'new' || w.kind === 'array') ? { ...w, inKey: true } : w);
    return n;
  }

  /** A computed key of an object literal or a class member: V8 words failures there by value (wording.ts). */
  private computedKey(e: acorn.Expression): C.Expression {
    const outer = this.inKey;
    this.inKey = true;
    try {
      return this.expr(e);
    } finally {
      this.inKey = outer;
    }
  }

  /** `e`, if a call, is what a for-of, a spread in an array literal or an array pattern iterates (wording.ts). */
  private iterated(e: acorn.Node): void {
    const sid = this.callSites.get(e);
    const w = sid === undefined ? undefined : this.wording.get(sid);
    if (w?.kind === 'call') w.iterated = true;
  }

  private label(prefix: string): string {
    return `$cl_${prefix}${this.labelN++}`;
  }

  private temp(): string {
    const name = `$cl_t${this.fn.temps.length}`;
    this.fn.temps.push(name);
    return name;
  }

  diag(code: string, node: Located | undefined, message: string, severity: Diagnostic['severity'] = 'warning'): void {
    const loc = node?.loc?.start ?? { line: 1, column: 0 };
    this.diags.push({ code, severity, message, file: this.file, line: loc.line, column: loc.column + 1 });
  }

  /** Keeps `node` verbatim; the compiled code gives up when it reaches it. */
  private unsupported(node: acorn.AnyNode, what: string, stmt = false): C.ClUnsupported {
    this.diag('C002', node, `${what} is not compiled; requests that reach it run in JavaScript`);
    return this.site({ type: 'ClUnsupported', reason: what, stmt, node }, node);
  }

  private intrinsic(name: string, args: C.Expression[], src?: Located): C.ClIntrinsic {
    return this.site({ type: 'ClIntrinsic', name, arguments: args }, src);
  }

  // ---------------------------------------------------------------------------------------------
  // Program and functions

  program(ast: acorn.Program): C.Program {
    const outer = this.fn;
    this.fn = { temps: [], vars: new Set(), isAsync: false };
    this.strict = isStrict(ast.body);
    collectVars(ast.body, this.fn.vars);
    let body = this.stmts(ast.body);
    body = [...directives(ast.body), ...this.withPrologue(body)];
    this.fn = outer;
    return this.site({ type: 'Program', sourceType: 'script', body, loc: ast.loc }, ast);
  }

  /** Hoisted `var`s and temporaries at the top of a function body, then hoisted function declarations. */
  private withPrologue(body: C.Statement[]): C.Statement[] {
    const decls: C.Statement[] = [];
    for (const v of this.fn.vars) decls.push(letDecl(v, undef()));
    for (const t of this.fn.temps) decls.push({ ...letDecl(t, undef()), temp: true });
    return [...decls, ...hoistFunctions(body)];
  }

  private func(node: acorn.FunctionDeclaration | acorn.AnonymousFunctionDeclaration): C.FunctionDeclaration | C.ClUnsupported;
  private func(node: acorn.FunctionExpression | acorn.ArrowFunctionExpression): C.FunctionExpression | C.ArrowFunctionExpression | C.ClUnsupported;
  private func(node: SourceFunction): C.AnyFunction | C.ClUnsupported {
    if (node.generator) return this.unsupported(node, 'a generator function', node.type === 'FunctionDeclaration');
    const outerFn = this.fn;
    const outerTargets = this.targets;
    this.fn = { temps: [], vars: new Set(), isAsync: !!node.async };
    const outerInKey = this.inKey;
    this.inKey = false;
    this.targets = [];
    const pre: C.Statement[] = [];
    const params: (C.Identifier | C.RestElement)[] = [];
    node.params.forEach((p) => {
      if (p.type === 'Identifier') {
        params.push(id(p.name));
      } else if (p.type === 'RestElement' && p.argument.type === 'Identifier') {
        params.push({ type: 'RestElement', argument: id(p.argument.name) });
      } else if (p.type === 'AssignmentPattern' && p.left.type === 'Identifier') {
        params.push(id(p.left.name));
        pre.push(...this.defaultParam(p.left.name, p.right));
      } else {
        // A pattern: take the argument into a temporary parameter and destructure it in the body.
        const t = `$cl_p${params.length}`;
        if (p.type === 'RestElement') {
          params.push({ type: 'RestElement', argument: id(t) });
          pre.push(...this.declarePattern(p.argument, id(t), 'let', { from: 'nested' }));
        } else {
          params.push(id(t));
          pre.push(...this.declarePattern(p, id(t), 'let', { from: 'param', dflt: false }));
        }
      }
    });
    let bodyStmts: C.Statement[];
    let prologue: C.Statement[] = [];
    const outerStrict = this.strict;
    if (node.body.type === 'BlockStatement') {
      this.strict ||= isStrict(node.body.body);
      collectVars(node.body.body, this.fn.vars);
      prologue = directives(node.body.body);
      bodyStmts = this.stmts(node.body.body);
    } else {
      bodyStmts = [this.site({ type: 'ReturnStatement', argument: this.expr(node.body) }, node.body)];
    }
    this.strict = outerStrict;
    for (const p of params) this.fn.vars.delete(p.type === 'RestElement' ? p.argument.name : p.name);
    const body = block([...prologue, ...this.withPrologue([...pre, ...bodyStmts])]);
    this.fn = outerFn;
    this.targets = outerTargets;
    this.inKey = outerInKey;
    return this.site({ type: node.type, id: node.id ? id(node.id.name) : null, params, body, async: !!node.async, generator: false, expression: false }, node);
  }

  private defaultParam(name: string, dflt: acorn.Expression): C.Statement[] {
    return [
      this.site(
        {
          type: 'IfStatement',
          test: this.site({ type: 'BinaryExpression', operator: '===', left: id(name), right: undef() }, dflt),
          consequent: block([exprStmt(assign(id(name), this.expr(dflt)))]),
          alternate: null,
        },
        dflt,
      ),
    ];
  }

  private cls(node: acorn.ClassDeclaration | acorn.ClassExpression | acorn.AnonymousClassDeclaration): C.ClassExpression | C.ClUnsupported {
    const superClass = node.superClass ? this.expr(node.superClass) : null;
    const names = new Map<string, PrivateInfo>();
    for (const m of node.body.body) {
      if (m.type !== 'StaticBlock' && m.key.type === 'PrivateIdentifier') names.set(m.key.name, { key: `\uFFFF#${m.key.name}@${node.start}` });
    }
    this.privateScopes.push(names);
    // A class body is strict code.
    const outerStrict = this.strict;
    this.strict = true;
    try {
      return this.classBody(node, superClass, names);
    } finally {
      this.privateScopes.pop();
      this.strict = outerStrict;
    }
  }

  /** `#x` as the normalised program keeps it: the name, and the key the compiled code uses. */
  private privateName(p: acorn.PrivateIdentifier): C.PrivateIdentifier | null {
    for (let i = this.privateScopes.length - 1; i >= 0; i--) {
      const info = this.privateScopes[i].get(p.name);
      if (info) return { type: 'PrivateIdentifier', name: p.name, key: info.key, info };
    }
    return null;
  }

  private classBody(
    node: acorn.ClassDeclaration | acorn.ClassExpression | acorn.AnonymousClassDeclaration,
    superClass: C.Expression | null,
    names: Map<string, PrivateInfo>,
  ): C.ClassExpression | C.ClUnsupported {
    const body: (C.MethodDefinition | C.PropertyDefinition)[] = [];
    for (const m of node.body.body) {
      if (m.type === 'StaticBlock') return this.unsupported(node, 'a class static block', node.type === 'ClassDeclaration');
      // A key that is not computed is an identifier or a literal; a private one is always in `names`.
      const key: C.ClassKey =
        m.key.type === 'PrivateIdentifier' ? this.privateName(m.key)! : m.computed ? this.computedKey(m.key) : (m.key as acorn.Identifier | acorn.Literal);
      if (m.type === 'MethodDefinition') {
        const value = this.func(m.value);
        if (value.type === 'ClUnsupported') return this.unsupported(node, 'a class with a generator method', node.type === 'ClassDeclaration');
        if (m.key.type === 'PrivateIdentifier' && m.kind === 'method') names.get(m.key.name)!.fnSid = value.sid;
        body.push({ type: 'MethodDefinition', kind: m.kind, static: m.static, computed: m.computed, key, value });
      } else if (m.type === 'PropertyDefinition') {
        const outerFn = this.fn;
        this.fn = { temps: [], vars: new Set(), isAsync: false };
        const value = m.value ? this.expr(m.value) : null;
        if (this.fn.temps.length) {
          this.fn = outerFn;
          return this.unsupported(node, 'a class field initialiser that needs temporaries', node.type === 'ClassDeclaration');
        }
        this.fn = outerFn;
        body.push(this.site({ type: 'PropertyDefinition', static: m.static, computed: m.computed, key, value }, m));
      }
    }
    const out = this.site({ type: 'ClassExpression', id: node.id ? id(node.id.name) : null, superClass, body: { type: 'ClassBody', body } }, node);
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Statements

  private stmts(list: (acorn.Statement | acorn.ModuleDeclaration)[]): C.Statement[] {
    const out: C.Statement[] = [];
    for (const s of list) out.push(...this.stmt(s));
    return out;
  }

  private stmt(s: acorn.Statement | acorn.ModuleDeclaration): C.Statement[] {
    switch (s.type) {
      case 'EmptyStatement':
        return [];
      case 'ExpressionStatement':
        if (s.directive) return [];
        return [exprStmt(this.expr(s.expression, true))];
      case 'VariableDeclaration':
        return this.varDecl(s);
      case 'FunctionDeclaration':
        return [this.func(s)];
      case 'ClassDeclaration': {
        const c = this.cls(s);
        if (c.type === 'ClUnsupported') return [c];
        return [letDecl(s.id.name, c)];
      }
      case 'ReturnStatement':
        return [this.site({ type: 'ReturnStatement', argument: s.argument ? this.expr(s.argument) : null }, s)];
      case 'ThrowStatement':
        return [this.site({ type: 'ThrowStatement', argument: this.expr(s.argument) }, s)];
      case 'BlockStatement':
        // In sloppy mode a function declared in a block also assigns a variable of the enclosing function
        // when the block runs (ECMA-262 Annex B.3.3), which the compiled code does not model: the block
        // runs in JavaScript.
        if (!this.strict && s.body.some((x) => x.type === 'FunctionDeclaration')) return [this.unsupported(s, SLOPPY_BLOCK_FUNCTION, true)];
        return [block(hoistFunctions(this.stmts(s.body)))];
      case 'IfStatement':
        return [
          this.site(
            {
              type: 'IfStatement',
              test: this.expr(s.test),
              consequent: this.asBlock(s.consequent),
              alternate: s.alternate ? this.asBlock(s.alternate) : null,
            },
            s,
          ),
        ];
      case 'LabeledStatement':
        return this.labeled(s);
      case 'WhileStatement':
      case 'DoWhileStatement':
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement':
        return this.loop(s);
      case 'BreakStatement':
      case 'ContinueStatement':
        return [this.jump(s)];
      case 'SwitchStatement':
        return this.switchStmt(s);
      case 'TryStatement':
        return [this.tryStmt(s)];
      case 'WithStatement':
        return [this.unsupported(s, 'a with statement', true)];
      case 'DebuggerStatement':
        return [];
      default:
        return [this.unsupported(s, `a ${s.type}`, true)];
    }
  }

  private asBlock(s: acorn.Statement): C.BlockStatement {
    // `if (x) function f() {}` (sloppy mode only) is a function declared in a block of its own (Annex B.3.4).
    if (s.type === 'FunctionDeclaration') {
      const wrapped: acorn.BlockStatement = { type: 'BlockStatement', body: [s], start: s.start, end: s.end, loc: s.loc };
      return block([this.unsupported(wrapped, SLOPPY_BLOCK_FUNCTION, true)]);
    }
    const out = this.stmt(s);
    return out.length === 1 && out[0].type === 'BlockStatement' ? out[0] : block(hoistFunctions(out));
  }

  private varDecl(s: acorn.VariableDeclaration): C.Statement[] {
    const out: C.Statement[] = [];
    for (const d of s.declarations) {
      if (s.kind === 'var') {
        // Hoisted: the declaration is at the function's top; here it is an assignment (or nothing).
        if (d.id.type === 'Identifier') {
          if (d.init) out.push(exprStmt(assign(id(d.id.name), this.expr(d.init))));
        } else {
          const t = this.temp();
          // A destructuring declaration always has an initialiser (acorn refuses one without).
          out.push(exprStmt(assign(id(t), this.expr(d.init!))));
          if (d.id.type === 'ArrayPattern') this.iterated(d.init!);
          out.push(...this.assignPattern(d.id, id(t), { from: 'init', node: d.init! }));
        }
        continue;
      }
      const kind = s.kind === 'const' ? 'const' : 'let';
      if (d.id.type === 'Identifier') {
        out.push(letDecl(d.id.name, d.init ? this.expr(d.init) : undef(), kind));
      } else {
        const t = this.temp();
        out.push(exprStmt(assign(id(t), this.expr(d.init!))));
        if (d.id.type === 'ArrayPattern') this.iterated(d.init!);
        out.push(...this.declarePattern(d.id, id(t), kind, { from: 'init', node: d.init! }));
      }
    }
    return out;
  }

  private labeled(s: acorn.LabeledStatement): C.Statement[] {
    const names: string[] = [];
    let body: acorn.Statement = s;
    while (body.type === 'LabeledStatement') {
      names.push(body.label.name);
      body = body.body;
    }
    if (isLoop(body)) {
      this.pendingLabels = names;
      return this.loop(body);
    }
    // A labelled non-loop statement: `break name` leaves it.
    const brk = this.label('b');
    this.targets.push({ brk, cont: null, names, kind: 'block' });
    const inner = this.asBlock(body);
    this.targets.pop();
    return [{ type: 'LabeledStatement', label: id(brk), body: inner }];
  }

  private jump(s: acorn.BreakStatement | acorn.ContinueStatement): C.BreakStatement | C.ClUnsupported {
    const isBreak = s.type === 'BreakStatement';
    let target: LoopTarget | undefined;
    for (let i = this.targets.length - 1; i >= 0; i--) {
      const t = this.targets[i];
      if (s.label ? t.names.includes(s.label.name) : isBreak ? t.kind !== 'block' : t.kind === 'loop') {
        target = t;
        break;
      }
    }
    if (!target) return this.unsupported(s, `a ${isBreak ? 'break' : 'continue'} without a target`, true);
    if (isBreak) return { type: 'BreakStatement', label: id(target.brk) };
    if (target.cont === null) return this.unsupported(s, 'continue to a labelled block', true);
    return { type: 'BreakStatement', label: id(target.cont) };
  }

  /** `L: while (test) { C: { body } update }` in a block with the loop's declarations. */
  private loop(s: SourceLoop): C.Statement[] {
    const names = this.pendingLabels;
    this.pendingLabels = [];
    const brk = this.label('l');
    const cont = this.label('c');
    const pre: C.Statement[] = [];
    let test: C.Expression = lit(true);
    const head: C.Statement[] = [];
    const update: C.Statement[] = [];
    /** Statements before the exit test of each iteration. */
    const beforeTest: C.Statement[] = [];
    let perIterationCopy: string[] = [];
    switch (s.type) {
      case 'WhileStatement':
        test = this.expr(s.test);
        break;
      case 'DoWhileStatement':
        break;
      case 'ForStatement': {
        if (s.init) {
          if (s.init.type === 'VariableDeclaration') {
            pre.push(...this.varDecl(s.init));
            if (s.init.kind !== 'var' && containsClosure([s.body, s.test, s.update])) {
              perIterationCopy = s.init.declarations.flatMap((d) => patternNames(d.id));
            }
          } else pre.push(exprStmt(this.expr(s.init, true)));
        }
        if (s.test) test = this.expr(s.test);
        if (s.update) update.push(exprStmt(this.expr(s.update, true)));
        break;
      }
      case 'ForOfStatement':
      case 'ForInStatement': {
        if (s.type === 'ForOfStatement' && s.await) return [this.unsupported(s, 'for await', true)];
        const it = this.temp();
        const i = this.temp();
        const src = this.expr(s.right);
        if (s.type === 'ForOfStatement') this.iterated(s.right);
        let elem: C.Expression;
        if (s.type === 'ForOfStatement') {
          // Arrays are read by index, live (their iterator checks the length at every step); any other
          // iterable is stepped through its own iterator, so entries a Map or Set gets during the loop are
          // visited as they are by for-of.
          pre.push(exprStmt(assign(id(it), this.worded(this.intrinsic('forOf', [src], s.right), { kind: 'forOf', node: s.right }))));
          pre.push(exprStmt(assign(id(i), lit(0))));
          test = this.intrinsic('forOfNext', [id(it), id(i)], s.right);
          elem = this.intrinsic('forOfValue', [id(it), id(i)], s.left);
        } else {
          // The keys are taken when the loop starts; a key deleted before its turn is skipped (V8 checks
          // `key in object` before each one), keys added during the loop are not visited.
          const o = this.temp();
          pre.push(exprStmt(assign(id(o), src)));
          pre.push(exprStmt(assign(id(it), this.intrinsic('forInKeys', [id(o)], s.right))));
          pre.push(exprStmt(assign(id(i), lit(0))));
          beforeTest.push(exprStmt(assign(id(i), this.intrinsic('forInSkip', [id(o), id(it), id(i)], s.right))));
          test = this.site({ type: 'BinaryExpression', operator: '<', left: id(i), right: this.site(member(id(it), 'length'), s.right) }, s.right);
          elem = this.site(member(id(it), id(i), true), s.left);
        }
        head.push(exprStmt(assign(id(i), this.site({ type: 'BinaryExpression', operator: '+', left: id(i), right: lit(1) }, s.left))));
        if (s.left.type === 'VariableDeclaration') {
          const d = s.left.declarations[0];
          const kind = s.left.kind === 'var' ? null : s.left.kind;
          if (kind === null) {
            if (d.id.type === 'Identifier') head.unshift(exprStmt(assign(id(d.id.name), elem)));
            else {
              const t = this.temp();
              head.unshift(exprStmt(assign(id(t), elem)), ...this.assignPattern(d.id, id(t), { from: 'for' }));
            }
          } else if (d.id.type === 'Identifier') head.unshift(letDecl(d.id.name, elem, kind));
          else {
            const t = this.temp();
            head.unshift(exprStmt(assign(id(t), elem)), ...this.declarePattern(d.id, id(t), kind, { from: 'for' }));
          }
        } else {
          const t = this.temp();
          head.unshift(exprStmt(assign(id(t), elem)), ...this.assignPattern(s.left, id(t), { from: 'for' }));
        }
        break;
      }
    }
    this.targets.push({ brk, cont, names, kind: 'loop' });
    const body = this.asBlock(s.body);
    this.targets.pop();
    const guard: C.IfStatement = this.site(
      { type: 'IfStatement', test: this.site(not(test), s), consequent: block([{ type: 'BreakStatement', label: id(brk) }]), alternate: null },
      s,
    );
    // Mark the loop's exit test so the tracer and code generator know it is one.
    guard.loopTest = true;
    let inner: C.Statement[] = [{ type: 'LabeledStatement', label: id(cont), body }];
    if (perIterationCopy.length) {
      // Closures capture one binding per iteration (ECMA-262 CreatePerIterationEnvironment): copy the loop
      // variables into fresh bindings for the body and back before the update.
      const copies = perIterationCopy.map((v) => ({ v, t: this.temp() }));
      inner = [
        ...copies.map(({ v, t }) => exprStmt(assign(id(t), id(v)))),
        block([...copies.map(({ v, t }) => letDecl(v, id(t))), ...inner, ...copies.map(({ v, t }) => exprStmt(assign(id(t), id(v))))]),
        ...copies.map(({ v, t }) => exprStmt(assign(id(v), id(t)))),
      ];
    }
    let loopBody: C.Statement[];
    if (s.type === 'DoWhileStatement') {
      const t = this.expr(s.test);
      const exit: C.IfStatement = this.site(
        { type: 'IfStatement', test: this.site(not(t), s.test), consequent: block([{ type: 'BreakStatement', label: id(brk) }]), alternate: null },
        s.test,
      );
      exit.loopTest = true;
      loopBody = [...inner, exit];
    } else {
      loopBody = [...beforeTest, guard, ...head, ...inner, ...update];
    }
    const loop = this.site({ type: 'WhileStatement', test: lit(true), body: block(loopBody) }, s);
    return [block([...pre, { type: 'LabeledStatement', label: id(brk), body: loop }])];
  }

  /**
   * `switch` stays a switch, over the index of the case it starts at: `$d = discriminant;` then an if-chain
   * that sets `$k` to the index of the first case whose test is `===` `$d` (tests evaluated in order, the
   * default's index when none matches, else the number of cases), then `$s: switch ($k) { case 0: ... }`.
   * The case bodies share the switch's one block scope, as in the source: a `let`, `const` or `class` in
   * one case is visible (and in its temporal dead zone until its case runs) in the others. `lexicals` lists
   * those names, so that the code generator still scopes them to the switch when the trace prunes the case
   * that declares them; each case has a site that counts entries into its body.
   */
  private switchStmt(s: acorn.SwitchStatement): C.Statement[] {
    if (s.cases.some((c) => c.consequent.some((x) => x.type === 'FunctionDeclaration'))) {
      return [this.unsupported(s, 'a function declared in a switch case', true)];
    }
    const brk = this.label('s');
    const d = this.temp();
    const k = this.temp();
    const out: C.Statement[] = [exprStmt(assign(id(d), this.expr(s.discriminant)))];
    const n = s.cases.length;
    const dflt = s.cases.findIndex((c) => !c.test);
    // $k = index of the first case whose test is === the discriminant, else the default's, else n.
    let chain: C.BlockStatement | C.IfStatement = block([exprStmt(assign(id(k), lit(dflt >= 0 ? dflt : n)))]);
    for (let i = n - 1; i >= 0; i--) {
      const c = s.cases[i];
      if (!c.test) continue;
      chain = this.site(
        {
          type: 'IfStatement',
          test: this.site({ type: 'BinaryExpression', operator: '===', left: id(d), right: this.expr(c.test) }, c),
          consequent: block([exprStmt(assign(id(k), lit(i)))]),
          alternate: chain,
        },
        c,
      );
    }
    out.push(chain);
    const lexicals: C.SwitchStatement['lexicals'] = [];
    for (const c of s.cases) {
      for (const x of c.consequent) {
        if (x.type === 'VariableDeclaration' && x.kind !== 'var') {
          const kind = x.kind;
          x.declarations.forEach((dd) => patternNames(dd.id).forEach((name) => lexicals.push({ name, kind })));
        }
        if (x.type === 'ClassDeclaration') lexicals.push({ name: x.id.name, kind: 'let' });
      }
    }
    const cases: C.SwitchCase[] = [];
    for (let i = 0; i < n; i++) {
      this.targets.push({ brk, cont: null, names: [], kind: 'switch' });
      const consequent = this.stmts(s.cases[i].consequent);
      this.targets.pop();
      cases.push(this.site({ type: 'SwitchCase', test: lit(i), consequent }, s.cases[i]));
    }
    const sw = this.site({ type: 'SwitchStatement', discriminant: id(k), cases, lexicals }, s);
    out.push({ type: 'LabeledStatement', label: id(brk), body: sw });
    return [block(out)];
  }

  private tryStmt(s: acorn.TryStatement): C.TryStatement {
    const block_ = this.asBlock(s.block);
    let handler: C.CatchClause | null = null;
    if (s.handler) {
      let param: C.Identifier | null = null;
      const pre: C.Statement[] = [];
      if (s.handler.param) {
        if (s.handler.param.type === 'Identifier') param = id(s.handler.param.name);
        else {
          param = id(this.label('e'));
          pre.push(...this.declarePattern(s.handler.param, param, 'let', { from: 'catch' }));
        }
      }
      const body = this.asBlock(s.handler.body);
      body.body = [...pre, ...body.body];
      handler = this.site({ type: 'CatchClause', param, body }, s.handler);
    }
    const finalizer = s.finalizer ? this.asBlock(s.finalizer) : null;
    return this.site({ type: 'TryStatement', block: block_, handler, finalizer }, s);
  }

  // ---------------------------------------------------------------------------------------------
  // Patterns

  /** `kind x = src.a; ...` for a declaration pattern; `from` says where its value comes from (how V8 names it). */
  private declarePattern(p: acorn.Pattern, src: C.Expression, kind: C.LexicalKind, from: PatternSource): C.Statement[] {
    return this.pattern(p, src, (name, value) => letDecl(name, value, kind), false, from);
  }

  /** `x = src.a; ...` for an assignment pattern (targets may be members). */
  private assignPattern(p: acorn.Pattern, src: C.Expression, from: PatternSource): C.Statement[] {
    return this.pattern(p, src, (name, value) => exprStmt(assign(id(name), value)), true, from);
  }

  private pattern(
    p: acorn.Pattern,
    src: C.Expression,
    bind: (name: string, value: C.Expression) => C.Statement,
    assignTargets: boolean,
    from: PatternSource,
  ): C.Statement[] {
    const out: C.Statement[] = [];
    const nested: PatternSource = { from: 'nested' };
    const emit = (target: acorn.Pattern, value: C.Expression, source: PatternSource = nested): void => {
      if (target.type === 'Identifier') out.push(bind(target.name, value));
      else if (target.type === 'MemberExpression' && assignTargets) out.push(exprStmt(assign(this.assignTarget(target), value)));
      else if (target.type === 'AssignmentPattern') {
        const t = this.temp();
        out.push(exprStmt(assign(id(t), value)));
        const test = this.site({ type: 'BinaryExpression', operator: '===', left: id(t), right: undef() }, target);
        const withDefault = this.site({ type: 'ConditionalExpression', test, consequent: this.expr(target.right), alternate: id(t) }, target);
        // A parameter's pattern with a default: V8 names its value after the default's `?:`.
        emit(target.left, withDefault, source.from === 'param' ? { from: 'param', dflt: true } : source);
      } else {
        const t = this.temp();
        out.push(exprStmt(assign(id(t), value)));
        out.push(...this.pattern(target, id(t), bind, assignTargets, source));
      }
    };
    if (p.type === 'Identifier' || p.type === 'MemberExpression' || p.type === 'AssignmentPattern') {
      emit(p, src, from);
    } else if (p.type === 'ObjectPattern') {
      // RequireObjectCoercible first: destructuring undefined throws even for `{}`, before a computed key
      // is evaluated. V8 names the first property when it is a plain key without a default (its read
      // checks), else the value alone (an explicit check here); a first property with a default is read as
      // a property (V8 words that "Cannot read properties of ..."), as is a nested pattern's value.
      const first = p.properties[0] as acorn.Property | acorn.RestElement | undefined;
      const named = first?.type === 'Property' && !first.computed && (first.value as acorn.Pattern).type !== 'AssignmentPattern';
      if (!first || (from.from !== 'nested' && !named && !(first.type === 'Property' && !first.computed))) {
        const check = this.intrinsic('requireObject', [src], p);
        if (from.from !== 'nested') this.worded(check, { kind: 'objectPattern', source: from, key: null });
        out.push(exprStmt(check));
      }
      const used: (C.Identifier | C.Literal)[] = [];
      for (const prop of p.properties) {
        if (prop.type === 'RestElement') {
          emit(prop.argument, this.intrinsic('objectRest', [src, { type: 'ArrayExpression', elements: used.map((k) => ({ ...k })) }], prop));
          continue;
        }
        let key: C.Identifier | C.Literal;
        if (prop.computed) {
          const t = this.temp();
          out.push(exprStmt(assign(id(t), this.intrinsic('toKey', [this.expr(prop.key)], prop.key))));
          key = id(t);
        } else key = prop.key.type === 'Identifier' ? lit(prop.key.name) : lit(String((prop.key as acorn.Literal).value));
        used.push(key);
        const read = this.site(member(src, key, true), prop);
        if (named && prop === first && from.from !== 'nested')
          this.worded(read, { kind: 'objectPattern', source: from, key: String(key.type === 'Literal' ? key.value : key.name) });
        emit(prop.value, read);
      }
    } else if (p.type === 'ArrayPattern') {
      const t = this.temp();
      out.push(exprStmt(assign(id(t), this.worded(this.intrinsic('iter', [src], p), { kind: 'arrayPattern', source: from }))));
      p.elements.forEach((el, i) => {
        if (!el) return;
        if (el.type === 'RestElement') {
          emit(el.argument, this.intrinsic('arraySliceFrom', [id(t), lit(i)], el));
          return;
        }
        emit(el, this.site(member(id(t), lit(i), true), el));
      });
    } else {
      out.push(this.unsupported(p, `a ${p.type} pattern`, true));
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Expressions

  /** `discarded`: the value is not used (statement position), so `x++` needs no temporary. */
  expr(e: acorn.Expression, discarded = false): C.Expression {
    switch (e.type) {
      case 'Identifier':
        if (e.name === 'arguments') return this.unsupported(e, 'the arguments object');
        return { type: 'Identifier', name: e.name, loc: e.loc };
      case 'Literal':
        if (e.bigint !== undefined) return this.unsupported(e, 'a BigInt literal');
        if (e.regex) return this.site({ type: 'Literal', value: null, raw: e.raw, regex: e.regex }, e);
        return { type: 'Literal', value: e.value, raw: e.raw };
      case 'ThisExpression':
        return this.site({ type: 'ThisExpression' }, e);
      case 'TemplateLiteral':
        return this.site({ type: 'TemplateLiteral', quasis: e.quasis, expressions: e.expressions.map((x) => this.expr(x)) }, e);
      case 'TaggedTemplateExpression':
        return this.unsupported(e, 'a tagged template');
      case 'ArrayExpression': {
        if (e.elements.some((x) => x === null)) return this.unsupported(e, 'an array literal with holes');
        const elements = this.args(e.elements as (acorn.Expression | acorn.SpreadElement)[]);
        for (const x of e.elements) if (x?.type === 'SpreadElement') this.iterated(x.argument);
        return this.worded(this.site({ type: 'ArrayExpression', elements }, e), { kind: 'array', elements: e.elements });
      }
      case 'ObjectExpression':
        return this.objectExpr(e);
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        return this.func(e);
      case 'ClassExpression':
        return this.cls(e);
      case 'UnaryExpression':
        if (e.operator === 'delete') {
          const a = e.argument;
          if (a.type !== 'MemberExpression') return this.unsupported(e, 'delete of a non-property');
          return this.site({ type: 'UnaryExpression', operator: 'delete', prefix: true, argument: this.memberExpr(a) }, e);
        }
        if (e.operator === 'typeof' && e.argument.type === 'Identifier') {
          return this.site({ type: 'UnaryExpression', operator: 'typeof', prefix: true, argument: this.expr(e.argument) }, e);
        }
        return this.site({ type: 'UnaryExpression', operator: e.operator, prefix: true, argument: this.expr(e.argument) }, e);
      case 'UpdateExpression':
        return this.update(e, discarded);
      case 'BinaryExpression':
        if (e.left.type === 'PrivateIdentifier') return this.unsupported(e, '#x in obj');
        return this.site({ type: 'BinaryExpression', operator: e.operator, left: this.expr(e.left), right: this.expr(e.right) }, e);
      case 'LogicalExpression':
        return this.site({ type: 'LogicalExpression', operator: e.operator, left: this.expr(e.left), right: this.expr(e.right) }, e);
      case 'ConditionalExpression':
        return this.site({ type: 'ConditionalExpression', test: this.expr(e.test), consequent: this.expr(e.consequent), alternate: this.expr(e.alternate) }, e);
      case 'AssignmentExpression':
        return this.assignment(e, discarded);
      case 'SequenceExpression':
        return seq(e.expressions.map((x, i) => this.expr(x, discarded || i < e.expressions.length - 1)));
      case 'CallExpression':
        return this.call(e);
      case 'NewExpression':
        return this.worded(this.site({ type: 'NewExpression', callee: this.expr(e.callee), arguments: this.args(e.arguments) }, e), {
          kind: 'new',
          callee: e.callee,
          args: e.arguments,
        });
      case 'MemberExpression':
        if (e.property.type === 'PrivateIdentifier' && (e.optional || !this.privateName(e.property))) return this.unsupported(e, 'this use of a private name');
        return this.memberExpr(e);
      case 'ChainExpression':
        return this.chain(e.expression);
      case 'AwaitExpression':
        return this.site({ type: 'AwaitExpression', argument: this.expr(e.argument) }, e);
      case 'ParenthesizedExpression':
        return this.expr(e.expression, discarded);
      case 'MetaProperty':
        if (e.meta.name !== 'new') return this.unsupported(e, 'import.meta');
        return { type: 'MetaProperty', meta: { type: 'Identifier', name: 'new' }, property: { type: 'Identifier', name: 'target' }, loc: e.loc };
      case 'ImportExpression':
        return this.unsupported(e, 'dynamic import()');
      case 'YieldExpression':
        return this.unsupported(e, 'yield');
      default:
        return this.unsupported(e as acorn.AnyNode, `a ${(e as acorn.AnyNode).type}`);
    }
  }

  private args(list: (acorn.Expression | acorn.SpreadElement)[]): (C.Expression | C.SpreadElement)[] {
    return list.map((a): C.Expression | C.SpreadElement =>
      a.type === 'SpreadElement' ? { type: 'SpreadElement', argument: this.expr(a.argument) } : this.expr(a),
    );
  }

  private memberExpr(e: acorn.MemberExpression): C.Expression {
    if (e.optional) return this.chain(e);
    return this.member(e);
  }

  /** A member read that is not optional. A private name in it is declared (else it would not parse). */
  private member(e: acorn.MemberExpression): C.MemberExpression {
    const object = e.object.type === 'Super' ? superNode() : this.expr(e.object);
    const property =
      e.property.type === 'PrivateIdentifier' ? this.privateName(e.property)! : e.computed ? this.expr(e.property) : id((e.property as acorn.Identifier).name);
    return this.site({ type: 'MemberExpression', object, property, computed: e.computed, optional: false }, e);
  }

  /** A member as a destructuring target, read as `expr` reads one. */
  private assignTarget(e: acorn.MemberExpression): C.MemberExpression | C.ClUnsupported {
    if (e.property.type === 'PrivateIdentifier' && !this.privateName(e.property)) return this.unsupported(e, 'this use of a private name');
    return this.member(e);
  }

  private call(e: acorn.CallExpression): C.Expression {
    if (e.optional) return this.chain(e);
    const callee = e.callee;
    if (callee.type === 'Identifier' && callee.name === 'eval') {
      this.diag('C005', e, 'eval is not compiled; requests that reach it run in JavaScript');
      return this.site({ type: 'ClUnsupported', reason: 'eval', stmt: false, node: e }, e);
    }
    if (callee.type === 'Identifier' && callee.name === 'require') {
      const a = e.arguments[0];
      if (e.arguments.length === 1 && a.type === 'Literal' && typeof a.value === 'string') {
        return this.site({ type: 'ClRequire', module: a.value, node: e }, e);
      }
      return this.unsupported(e, 'require() of a computed name');
    }
    const c = callee.type === 'Super' ? superNode() : callee.type === 'MemberExpression' ? this.memberExpr(callee) : this.expr(callee);
    const out = this.worded(this.site({ type: 'CallExpression', callee: c, arguments: this.args(e.arguments), optional: false }, e), {
      kind: 'call',
      callee: e.callee,
      args: e.arguments,
    });
    this.callSites.set(e, out.sid);
    return out;
  }

  /**
   * An optional chain `a?.b.c(d)` becomes `(t = a) == null ? undefined : t.b.c(d)`, applied at each `?.`
   * from the left, so a short circuit skips the whole rest of the chain.
   */
  private chain(e: acorn.MemberExpression | acorn.CallExpression): C.Expression {
    const links: (acorn.MemberExpression | acorn.CallExpression)[] = [];
    let cur: acorn.Expression | acorn.Super = e;
    while (cur.type === 'MemberExpression' || cur.type === 'CallExpression') {
      links.unshift(cur);
      cur = cur.type === 'MemberExpression' ? cur.object : cur.callee;
    }
    return this.chainFrom(cur.type === 'Super' ? superNode() : this.expr(cur), links, 0);
  }

  private chainFrom(base: C.Expression | C.Super, links: (acorn.MemberExpression | acorn.CallExpression)[], from: number): C.Expression {
    let v = base;
    for (let i = from; i < links.length; i++) {
      const l = links[i];
      if (l.optional) {
        if (l.type === 'CallExpression' && v.type === 'MemberExpression') {
          // `a.b?.(x)`: `(t = a, (f = t.b) == null ? undefined : f called with this = t)`, reading `a.b` once.
          if (v.object.type === 'Super' || v.property.type === 'PrivateIdentifier') return this.unsupported(l, 'an optional call of this method');
          const t = this.temp();
          const f = this.temp();
          const get = this.site(member(id(t), v.property, v.computed), l);
          const call = this.worded(this.intrinsic('callWith', [id(f), id(t), { type: 'ArrayExpression', elements: this.args(l.arguments) }], l), {
            kind: 'call',
            callee: l.callee,
            args: l.arguments,
          });
          const rest = this.chainFrom(call, links, i + 1);
          const test = this.site({ type: 'BinaryExpression', operator: '==', left: assign(id(f), get), right: lit(null) }, l);
          return seq([assign(id(t), v.object), this.site({ type: 'ConditionalExpression', test, consequent: undef(), alternate: rest }, l)]);
        }
        const t = this.temp();
        const rest = this.chainFrom(this.link(id(t), l), links, i + 1);
        // `super?.x` does not parse, so an optional link follows an expression, not the base `super`.
        const test = this.site({ type: 'BinaryExpression', operator: '==', left: assign(id(t), v as C.Expression), right: lit(null) }, l);
        return this.site({ type: 'ConditionalExpression', test, consequent: undef(), alternate: rest }, l);
      }
      v = this.link(v, l);
    }
    // A chain has a link past `from` (its optional one), so `v` is a link's result, not the base.
    return v as C.Expression;
  }

  private link(v: C.Expression | C.Super, l: acorn.MemberExpression | acorn.CallExpression): C.Expression {
    if (l.type === 'MemberExpression') {
      if (l.property.type === 'PrivateIdentifier') return this.unsupported(l, 'a private field');
      const property = l.computed ? this.expr(l.property) : id((l.property as acorn.Identifier).name);
      return this.site({ type: 'MemberExpression', object: v, property, computed: l.computed, optional: false }, l);
    }
    return this.worded(this.site({ type: 'CallExpression', callee: v, arguments: this.args(l.arguments), optional: false }, l), {
      kind: 'call',
      callee: l.callee,
      args: l.arguments,
    });
  }

  private objectExpr(e: acorn.ObjectExpression): C.Expression {
    const properties: (C.Property | C.SpreadElement)[] = [];
    for (const p of e.properties) {
      if (p.type === 'SpreadElement') {
        properties.push({ type: 'SpreadElement', argument: this.expr(p.argument) });
        continue;
      }
      // A key that is not computed is an identifier or a literal.
      const key: C.Expression = p.computed
        ? this.computedKey(p.key)
        : p.key.type === 'Identifier'
          ? id(p.key.name)
          : { type: 'Literal', value: (p.key as acorn.Literal).value, raw: (p.key as acorn.Literal).raw };
      if (p.kind === 'get' || p.kind === 'set' || p.method) {
        const value = this.func(p.value as acorn.FunctionExpression);
        if (value.type === 'ClUnsupported') return this.unsupported(e, 'an object literal with a generator method');
        value.isMethod = true;
        properties.push({ type: 'Property', kind: p.kind, method: p.method, shorthand: false, computed: p.computed, key, value });
        continue;
      }
      // `__proto__: v` and `'__proto__': v` set the prototype (a computed or shorthand key defines a property).
      if (!p.computed && ((key.type === 'Identifier' && key.name === '__proto__') || (key.type === 'Literal' && key.value === '__proto__')))
        return this.unsupported(e, '__proto__ in an object literal');
      properties.push({ type: 'Property', kind: 'init', method: false, shorthand: false, computed: p.computed, key, value: this.expr(p.value) });
    }
    return this.site({ type: 'ObjectExpression', properties }, e);
  }

  private update(e: acorn.UpdateExpression, discarded: boolean): C.Expression {
    const op = e.operator === '++' ? '+' : '-';
    const plus = (x: C.Expression): C.Expression => this.site({ type: 'UnaryExpression', operator: '+', prefix: true, argument: x }, e);
    const bin = (x: C.Expression): C.Expression => this.site({ type: 'BinaryExpression', operator: op, left: x, right: lit(1) }, e);
    const arg = e.argument;
    if (arg.type === 'Identifier') {
      if (discarded || e.prefix) return assign(id(arg.name), bin(plus(id(arg.name))));
      const t = this.temp();
      return seq([assign(id(t), plus(id(arg.name))), assign(id(arg.name), bin(id(t))), id(t)]);
    }
    if (arg.type !== 'MemberExpression') return this.unsupported(e, 'an update of this target');
    // `super` cannot be read into a temporary.
    if (!ofExpression(arg)) return this.unsupported(e, 'an update of a super property');
    const { ref, setup } = this.memberRef(arg);
    if (discarded || e.prefix) return seq([...setup, assign(ref(), bin(plus(ref())))]);
    const t = this.temp();
    return seq([...setup, assign(id(t), plus(ref())), assign(ref(), bin(id(t))), id(t)]);
  }

  /** Evaluates a member target's object and key once, into temporaries. */
  private memberRef(m: MemberOfExpression): { ref: () => C.MemberExpression; setup: C.Expression[] } {
    const o = this.temp();
    const setup: C.Expression[] = [assign(id(o), this.expr(m.object))];
    const property = m.property;
    if (property.type === 'PrivateIdentifier') return { ref: () => this.site(member(id(o), this.privateName(property)!), m), setup };
    if (m.computed) {
      const k = this.temp();
      setup.push(assign(id(k), this.intrinsic('memberKey', [this.expr(property)], property)));
      return { ref: () => this.site(member(id(o), id(k), true), m), setup };
    }
    // A key that is not computed is an identifier.
    return { ref: () => this.site(member(id(o), (property as acorn.Identifier).name), m), setup };
  }

  private assignment(e: acorn.AssignmentExpression, discarded: boolean): C.Expression {
    const left = e.left;
    if (left.type === 'ObjectPattern' || left.type === 'ArrayPattern') {
      const t = this.temp();
      // An assignment pattern yields expression statements, or a ClUnsupported.
      const init = assign(id(t), this.expr(e.right));
      if (left.type === 'ArrayPattern') this.iterated(e.right);
      const parts: C.Expression[] = [
        init,
        ...this.assignPattern(left, id(t), { from: 'assign', node: e.right }).map((s) =>
          s.type === 'ExpressionStatement' ? s.expression : (s as C.ClUnsupported),
        ),
      ];
      if (!discarded) parts.push(id(t));
      if (parts.some((p) => p.type === 'ClUnsupported')) return this.unsupported(e, 'this destructuring assignment');
      return seq(parts);
    }
    if (left.type === 'MemberExpression' && left.property.type === 'PrivateIdentifier' && !this.privateName(left.property))
      return this.unsupported(e, 'this use of a private name');
    if (e.operator === '=') {
      if (left.type === 'Identifier') return assign(id(left.name), this.expr(e.right));
      if (left.type === 'MemberExpression') return this.site(assign(this.member(left), this.expr(e.right)), e);
      return this.unsupported(e, 'an assignment to this target');
    }
    const logical = e.operator === '&&=' || e.operator === '||=' || e.operator === '??=' ? (e.operator.slice(0, 2) as acorn.LogicalOperator) : undefined;
    const op = COMPOUND[e.operator];
    if (left.type === 'Identifier') {
      const x = (): C.Identifier => id(left.name);
      if (logical) return this.site({ type: 'LogicalExpression', operator: logical, left: x(), right: assign(x(), this.expr(e.right)) }, e);
      return assign(x(), this.site({ type: 'BinaryExpression', operator: op, left: x(), right: this.expr(e.right) }, e));
    }
    if (left.type !== 'MemberExpression') return this.unsupported(e, 'an assignment to this target');
    if (!ofExpression(left)) return this.unsupported(e, 'a compound assignment to a super property');
    const { ref, setup } = this.memberRef(left);
    if (logical)
      return seq([
        ...setup,
        this.site({ type: 'LogicalExpression', operator: logical, left: ref(), right: this.site(assign(ref(), this.expr(e.right)), e) }, e),
      ]);
    return seq([...setup, this.site(assign(ref(), this.site({ type: 'BinaryExpression', operator: op, left: ref(), right: this.expr(e.right) }, e)), e)]);
  }
}

const SLOPPY_BLOCK_FUNCTION = 'a function declared in a block in sloppy mode';

/** Whether a program or function body begins with a `'use strict'` directive. */
function isStrict(body: (acorn.Statement | acorn.ModuleDeclaration)[]): boolean {
  return directives(body).some((d) => (d as { directive?: string }).directive === 'use strict');
}

/**
 * The directive prologue of a program or function body (`'use strict'`), kept as the first statements of
 * the normalised body so that the printed program runs in the same mode as the source. Each is an
 * ExpressionStatement with `directive` set; nothing else in the core may precede them.
 */
function directives(body: (acorn.Statement | acorn.ModuleDeclaration)[]): C.Statement[] {
  const out: C.Statement[] = [];
  for (const s of body) {
    if (s.type !== 'ExpressionStatement' || typeof s.directive !== 'string') break;
    // A directive's expression is its string literal.
    const text = s.expression as acorn.Literal;
    out.push({ type: 'ExpressionStatement', directive: s.directive, expression: { type: 'Literal', value: text.value, raw: text.raw } });
  }
  return out;
}

/** Names a pattern binds. */
function patternNames(p: acorn.Pattern): string[] {
  switch (p.type) {
    case 'Identifier':
      return [p.name];
    case 'ObjectPattern':
      return p.properties.flatMap((x) => patternNames(x.type === 'RestElement' ? x.argument : x.value));
    case 'ArrayPattern':
      return p.elements.flatMap((x) => (x ? patternNames(x) : []));
    case 'AssignmentPattern':
      return patternNames(p.left);
    case 'RestElement':
      return patternNames(p.argument);
    default:
      return [];
  }
}

/** `var` names declared in a function body (not in nested functions). */
function collectVars(body: (acorn.Statement | acorn.ModuleDeclaration)[], into: Set<string>): void {
  walkNodes<acorn.AnyNode>(body, (n) => {
    if (isScope(n)) return false;
    if (n.type === 'VariableDeclaration' && n.kind === 'var') n.declarations.forEach((d) => patternNames(d.id).forEach((x) => into.add(x)));
    return true;
  });
}

/** Function declarations move to the top of their block, keeping their order. */
function hoistFunctions(body: C.Statement[]): C.Statement[] {
  const fns = body.filter((s) => s.type === 'FunctionDeclaration' || (s.type === 'ClUnsupported' && s.node?.type === 'FunctionDeclaration'));
  if (!fns.length) return body;
  return [...fns, ...body.filter((s) => !fns.includes(s))];
}

function containsClosure(nodes: (acorn.AnyNode | null | undefined)[]): boolean {
  let found = false;
  walkNodes<acorn.AnyNode>(nodes, (n) => {
    if (found) return false;
    if (isScope(n)) found = true;
    return !found;
  });
  return found;
}

/** A function or class: its body is a scope of its own. */
function isScope(n: acorn.AnyNode): boolean {
  return isFunction(n) || n.type === 'ClassExpression' || n.type === 'ClassDeclaration';
}

/** A member read whose object is not `super`. */
type MemberOfExpression = acorn.MemberExpression & { object: acorn.Expression };
function ofExpression(m: acorn.MemberExpression): m is MemberOfExpression {
  return m.object.type !== 'Super';
}

function isLoop(s: acorn.Statement): s is SourceLoop {
  return (
    s.type === 'WhileStatement' || s.type === 'DoWhileStatement' || s.type === 'ForStatement' || s.type === 'ForInStatement' || s.type === 'ForOfStatement'
  );
}
