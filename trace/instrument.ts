/**
 * Instrumentation: the core program printed back to JavaScript with calls into the tracing runtime (`__cl`,
 * see tracer.ts) at every site. Each wrapper evaluates its operands in the order the plain operator does and
 * then applies the operator itself, so the instrumented handler behaves exactly like the plain one.
 */
import { generate } from 'astring';
import type { UntypedNode as Node } from './ast.ts';

const id = (name: string): Node => ({ type: 'Identifier', name });
const lit = (value: unknown): Node => ({ type: 'Literal', value, raw: JSON.stringify(value) });
const num = (n: number): Node => ({ type: 'Literal', value: n, raw: String(n) });
const cl = (method: string): Node => ({ type: 'MemberExpression', object: id('__cl'), property: id(method), computed: false, optional: false });
const call = (method: string, args: Node[]): Node => ({ type: 'CallExpression', callee: cl(method), arguments: args, optional: false });
const stmt = (expression: Node): Node => ({ type: 'ExpressionStatement', expression });
const arr = (elements: Node[]): Node => ({ type: 'ArrayExpression', elements });

const isPrivate = (m: Node): boolean => m.type === 'MemberExpression' && !m.computed && m.property.type === 'PrivateIdentifier';
/** `(o) => o.#x` (or `(o, v) => (o.#x = v)` with `assignValue`), printed where the class's private names are in scope. */
const privateAccess = (name: string, assignValue = false): Node => {
  const target = { type: 'MemberExpression', object: id('__o'), property: { type: 'PrivateIdentifier', name }, computed: false, optional: false };
  return {
    type: 'ArrowFunctionExpression',
    params: assignValue ? [id('__o'), id('__v')] : [id('__o')],
    body: assignValue ? { type: 'AssignmentExpression', operator: '=', left: target, right: id('__v') } : target,
    expression: true,
    async: false,
    generator: false,
  };
};

/** Member keys: `o.p` gives the string "p", `o[k]` the key expression. */
function key(m: Node, t: (n: Node) => Node): Node {
  return m.computed ? t(m.property) : lit(m.property.name);
}

/** Static names of class/object members, for registering their functions' sites. */
function memberName(m: Node): string | null {
  if (m.computed) return null;
  if (m.key.type === 'Identifier') return m.key.name;
  if (m.key.type === 'Literal') return String(m.key.value);
  return null;
}

/**
 * Intrinsics whose failure V8 words from the source: they get their site as a last argument, for the
 * tracer to find the wording (wording.ts).
 */
const WORDED_INTRINSICS = new Set(['forOf', 'iter', 'requireObject', 'callWith']);

const isDirective = (s: Node): boolean => s?.type === 'ExpressionStatement' && typeof s.directive === 'string';

const usesStrict = (list: Node[]): boolean => {
  for (const s of list) {
    if (!isDirective(s)) return false;
    if (s.directive === 'use strict') return true;
  }
  return false;
};

export function instrument(program: Node): string {
  /**
   * Whether the code being printed is strict: a property write or `delete` that fails throws there and is
   * ignored in sloppy code, so those sites call the strict or the sloppy form of the tracing operation.
   */
  let strict = false;
  const inMode = <T>(isStrict: boolean, f: () => T): T => {
    const saved = strict;
    strict = strict || isStrict;
    try {
      return f();
    } finally {
      strict = saved;
    }
  };
  /**
   * Arguments or elements, each spread one checked by the tracer first (`...__cl.spread(site, i, x)`), so a
   * value that is not iterable fails with V8's wording of the source rather than of the instrumented code.
   */
  const spreads = (site: number, list: Node[]): Node[] =>
    list.map((a: Node, i: number) =>
      a?.type === 'SpreadElement' ? { type: 'SpreadElement', argument: call('spread', [num(site), num(i), t(a.argument)]) } : t(a),
    );
  const t = (n: Node): Node => {
    if (n === null || n === undefined) return n;
    if (Array.isArray(n)) return n.map(t);
    switch (n.type) {
      case 'Program':
        return inMode(usesStrict(n.body), () => ({ type: 'Program', sourceType: 'script', body: body(n.body) }));
      case 'ClUnsupported':
        return n.node;
      case 'ClRequire':
        return call('req', [num(n.sid), id('require'), lit(n.module)]);
      case 'ClIntrinsic': {
        const args = WORDED_INTRINSICS.has(n.name) ? [...n.arguments.map(t), num(n.sid)] : n.arguments.map(t);
        return {
          type: 'CallExpression',
          callee: { type: 'MemberExpression', object: cl('i'), property: id(n.name), computed: false, optional: false },
          arguments: args,
          optional: false,
        };
      }
      case 'ArrayExpression':
        return { type: 'ArrayExpression', elements: n.sid === undefined ? t(n.elements) : spreads(n.sid, n.elements) };
      case 'BlockStatement':
        return { type: 'BlockStatement', body: body(n.body) };
      case 'IfStatement':
        return { type: 'IfStatement', test: call('b', [num(n.sid), t(n.test)]), consequent: t(n.consequent), alternate: t(n.alternate) };
      case 'ConditionalExpression':
        return { type: 'ConditionalExpression', test: call('b', [num(n.sid), t(n.test)]), consequent: t(n.consequent), alternate: t(n.alternate) };
      case 'LogicalExpression':
        return { type: 'LogicalExpression', operator: n.operator, left: call('b', [num(n.sid), t(n.left)]), right: t(n.right) };
      case 'BinaryExpression':
        return call('bin', [num(n.sid), lit(n.operator), t(n.left), t(n.right)]);
      case 'UnaryExpression': {
        if (n.operator === 'typeof' && n.argument.type === 'Identifier') return n;
        if (n.operator === 'delete') return call(strict ? 'sdel' : 'del', [num(n.sid), t(n.argument.object), key(n.argument, t)]);
        return call('un', [num(n.sid), lit(n.operator), t(n.argument)]);
      }
      case 'MemberExpression':
        if (n.object.type === 'Super') return { ...n, property: n.computed ? t(n.property) : n.property };
        if (isPrivate(n)) return call('pget', [num(n.sid), t(n.object), privateAccess(n.property.name)]);
        return call('get', [num(n.sid), t(n.object), key(n, t)]);
      case 'AssignmentExpression':
        if (isPrivate(n.left)) return call('pset', [num(n.sid ?? n.left.sid), t(n.left.object), privateAccess(n.left.property.name, true), t(n.right)]);
        if (n.left.type === 'MemberExpression' && n.left.object.type !== 'Super') {
          return call(strict ? 'sset' : 'set', [num(n.sid ?? n.left.sid), t(n.left.object), key(n.left, t), t(n.right)]);
        }
        return { ...n, right: t(n.right) };
      case 'CallExpression': {
        const c = n.callee;
        const args = spreads(n.sid, n.arguments);
        if (c.type === 'Super') return { ...n, arguments: args };
        if (c.type === 'MemberExpression' && c.object.type === 'Super') return { ...n, callee: t(c), arguments: args };
        if (isPrivate(c)) {
          const method = num(c.property.info?.fnSid ?? -1);
          return {
            type: 'CallExpression',
            callee: call('pm', [num(n.sid), t(c.object), privateAccess(c.property.name), method]),
            arguments: args,
            optional: false,
          };
        }
        if (c.type === 'MemberExpression') {
          return { type: 'CallExpression', callee: call('m', [num(n.sid), t(c.object), key(c, t)]), arguments: args, optional: false };
        }
        return call('call', [num(n.sid), t(c), arr(args)]);
      }
      case 'NewExpression':
        return call('new', [num(n.sid), t(n.callee), arr(spreads(n.sid, n.arguments))]);
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        return call('fn', [num(n.sid), fn(n)]);
      case 'FunctionDeclaration':
        return fn(n);
      case 'ClassExpression':
        // A class, its heritage expression included, is strict code.
        return inMode(true, () => call('cls', [num(n.sid), classExpr(n), arr(classSites(n))]));
      case 'ObjectExpression': {
        const obj = {
          type: 'ObjectExpression',
          properties: n.properties.map((p: Node) =>
            p.type === 'SpreadElement'
              ? { ...p, argument: t(p.argument) }
              : { ...p, key: p.computed ? t(p.key) : p.key, value: p.value.type === 'FunctionExpression' && p.value.isMethod ? fn(p.value) : t(p.value) },
          ),
        };
        const sites = n.properties
          .filter((p: Node) => p.type === 'Property' && p.value.isMethod && memberName(p) !== null)
          .map((p: Node) => arr([lit(memberName(p)), lit(p.kind), num(p.value.sid)]));
        return sites.length ? call('obj', [obj, arr(sites)]) : obj;
      }
      case 'SwitchCase':
        // Counts the entries into the case's body (jumps to it and falls through into it alike).
        return { type: 'SwitchCase', test: n.test, consequent: n.consequent.length ? [stmt(call('enter', [num(n.sid)])), ...body(n.consequent)] : [] };
      case 'CatchClause':
        return { type: 'CatchClause', param: n.param, body: { type: 'BlockStatement', body: [stmt(call('enter', [num(n.sid)])), ...body(n.body.body)] } };
      default: {
        const out: Node = {};
        for (const k of Object.keys(n)) {
          const v = n[k];
          out[k] = k === 'loc' ? v : v && typeof v === 'object' ? t(v) : v;
        }
        return out;
      }
    }
  };

  /**
   * Statements, with function declarations registered right after they are hoisted, and `extra` (a
   * function's entry call) after the directive prologue, which must stay first for `'use strict'` to count.
   */
  const body = (list: Node[], extra: Node[] = []): Node[] => {
    const prologue = list.length
      ? list.slice(
          0,
          Math.max(
            0,
            list.findIndex((s) => !isDirective(s)),
          ),
        )
      : [];
    if (prologue.length === 0 && list.length && isDirective(list[list.length - 1])) prologue.push(...list);
    const out: Node[] = [];
    const regs: Node[] = [];
    for (const s of list.slice(prologue.length)) {
      out.push(t(s));
      if (s.type === 'FunctionDeclaration') regs.push(stmt(call('reg', [num(s.sid), id(s.id.name)])));
    }
    if (regs.length) {
      const k = out.findIndex((s) => s.type !== 'FunctionDeclaration');
      out.splice(k < 0 ? out.length : k, 0, ...regs);
    }
    return [...prologue.map((s) => ({ type: 'ExpressionStatement', directive: s.directive, expression: s.expression })), ...extra, ...out];
  };

  const fn = (n: Node): Node =>
    inMode(usesStrict(n.body.body), () => ({
      ...n,
      id: n.id,
      params: n.params,
      body: { type: 'BlockStatement', body: body(n.body.body, [stmt(call('enter', [num(n.sid)]))]) },
    }));

  const classExpr = (n: Node): Node => ({
    type: 'ClassExpression',
    id: n.id,
    superClass: n.superClass ? t(n.superClass) : null,
    body: {
      type: 'ClassBody',
      body: n.body.body.map((m: Node) =>
        m.type === 'MethodDefinition'
          ? { ...m, key: m.computed ? t(m.key) : m.key, value: fn(m.value) }
          : { ...m, key: m.computed ? t(m.key) : m.key, value: m.value ? t(m.value) : null },
      ),
    },
  });

  /** [name, kind ("method"|"get"|"set"|"constructor"), static, site] for each member with a static name. */
  const classSites = (n: Node): Node[] =>
    n.body.body
      .filter((m: Node) => m.type === 'MethodDefinition' && memberName(m) !== null)
      .map((m: Node) => arr([lit(memberName(m)), lit(m.kind), lit(!!m.static), num(m.value.sid)]));

  return generate(t(program), { comments: false });
}
