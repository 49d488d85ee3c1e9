/**
 * V8's wording of the TypeErrors it names a piece of source in ("s.split is not a function", "xs is not
 * iterable", "Cannot destructure property 'a' of 'o.z' as it is undefined."), for the instrumented program
 * to throw where the operation happens inside the tracer (whose own code V8 would name instead).
 *
 * V8 words these from its AST of the source (its "call printer"), not from the text: member chains as
 * written but a string key as a name (`a['x y']` is `a.x y`), calls as `f(...)`, binary operators in
 * parentheses with number literals folded (`(a + 6)` for `a + 2 * 3`) and left-nested chains of one
 * operator flattened (`(a - 2 - 3)`), and `(intermediate value)` for what it does not print (function,
 * class and `new` expressions, the parts of `?:`, the values of object literals, `super`). The rules here
 * were learnt by experiment on Node 26 (V8 14) and Node 20 (V8 11), which differ in one place: Node 26
 * folds `'a' + 'b'` to `"ab"`, Node 20 prints `("a" + "b")`; the running engine is asked which it does.
 *
 * The normaliser records a `Wording` for each site whose operation can throw such an error (normalize.ts);
 * the tracer builds the message from it only when the operation fails, so the hot path pays nothing.
 */
import type * as acorn from 'acorn';

/** Where a destructuring pattern's value comes from: V8 names the value by it. */
export type PatternSource =
  /** `const [a] = e`, `const { a } = e`: e's source. */
  | { from: 'init'; node: acorn.Expression }
  /** `[a] = e`, `({ a } = e)`: e's source. */
  | { from: 'assign'; node: acorn.Expression }
  /** A parameter's pattern (`function f({ a })`), with or without a default. */
  | { from: 'param'; dflt: boolean }
  /** A for-of head's pattern (`for (const { a } of xs)`): V8 names the value `.for`. */
  | { from: 'for' }
  /** A catch parameter's pattern: V8 names the value `.catch`. */
  | { from: 'catch' }
  /** A pattern nested in another one. */
  | { from: 'nested' };

export type Wording =
  /**
   * A call: `callee is not a function`; `args` for the wording of a spread argument. `iterated`: the call is
   * what a for-of, an array literal's spread or an array pattern iterates, and V8 words its failure as
   * `callee is not a function or its return value is not iterable`.
   */
  | { kind: 'call'; callee: acorn.Node; args: acorn.Node[]; iterated?: boolean; inKey?: boolean }
  /** `new callee(...)`: `callee is not a constructor`. */
  | { kind: 'new'; callee: acorn.Node; args: acorn.Node[]; inKey?: boolean }
  /** An array literal, for the wording of its spread elements. */
  | { kind: 'array'; elements: (acorn.Node | null)[]; inKey?: boolean }
  /** for-of over `node`. */
  | { kind: 'forOf'; node: acorn.Expression }
  /** An array pattern's iteration. */
  | { kind: 'arrayPattern'; source: PatternSource }
  /** An object pattern's value is null or undefined; `key` is the first property's when V8 names it. */
  | { kind: 'objectPattern'; source: PatternSource; key: string | null };

const INTERMEDIATE = '(intermediate value)';

/** Operators V8 flattens into one n-ary node when they chain to the left (`a - b - c`). */
const NARY = new Set(['+', '-', '*', '/', '%', '<<', '>>', '>>>', '&', '|', '^', '||', '&&', '??', ',']);
const FOLD: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '**': (a, b) => a ** b,
  '<<': (a, b) => a << b,
  '>>': (a, b) => a >> b,
  '>>>': (a, b) => a >>> b,
  '&': (a, b) => a & b,
  '|': (a, b) => a | b,
  '^': (a, b) => a ^ b,
};

let foldsStrings: boolean | undefined;
/** Whether this engine's parser folds `'a' + 'b'` (V8 12 and later). Asked once, when first needed. */
function engineFoldsStrings(): boolean {
  if (foldsStrings === undefined) {
    try {
      // Built at run time so that no bundler folds it first.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      new Function("('a' + 'b')()")();
      foldsStrings = false;
    } catch (e) {
      foldsStrings = String((e as Error).message).startsWith('"ab"');
    }
  }
  return foldsStrings;
}

/** A folded constant, as V8's parser would make it of a literal expression; undefined when it is none. */
type Const = { value: number | string | boolean | null; regex?: undefined } | undefined;

function constant(n: acorn.Node): Const {
  const e = n as acorn.Expression;
  switch (e.type) {
    case 'Literal':
      if (e.regex || e.bigint !== undefined) return undefined;
      return { value: e.value as number | string | boolean | null };
    case 'UnaryExpression': {
      const a = constant(e.argument);
      if (!a || typeof a.value !== 'number') return e.operator === '!' && a ? { value: !a.value } : undefined;
      if (e.operator === '-') return { value: -a.value };
      if (e.operator === '+') return a;
      if (e.operator === '~') return { value: ~a.value };
      if (e.operator === '!') return { value: !a.value };
      return undefined;
    }
    case 'BinaryExpression': {
      const l = constant(e.left);
      const r = constant(e.right);
      if (!l || !r) return undefined;
      if (typeof l.value === 'number' && typeof r.value === 'number' && FOLD[e.operator]) return { value: FOLD[e.operator](l.value, r.value) };
      if (e.operator === '+' && typeof l.value === 'string' && typeof r.value === 'string' && engineFoldsStrings()) return { value: l.value + r.value };
      return undefined;
    }
    default:
      return undefined;
  }
}

const printConstant = (v: number | string | boolean | null): string => (typeof v === 'string' ? `"${v}"` : String(v));

/** A member's key as V8 prints it: a string literal (or a template without substitutions) as a name. */
function printKey(m: acorn.MemberExpression, iter: boolean): string {
  const dot = m.optional ? '?.' : '.';
  const p = m.property;
  if (p.type === 'PrivateIdentifier') return `${m.optional ? '?.' : ''}[#${p.name}]`;
  if (!m.computed) return `${dot}${(p as acorn.Identifier).name}`;
  const c = constant(p);
  if (c && typeof c.value === 'string') return `${dot}${c.value}`;
  if (p.type === 'TemplateLiteral' && p.expressions.length === 0) return `${dot}${p.quasis[0].value.cooked ?? ''}`;
  return `${m.optional ? '?.[' : '['}${print(p, iter)}]`;
}

/** The operands of a left-nested chain of one n-ary operator. */
function naryOperands(e: acorn.BinaryExpression | acorn.LogicalExpression): acorn.Node[] {
  const out: acorn.Node[] = [];
  let cur: acorn.Node = e;
  while ((cur.type === 'BinaryExpression' || cur.type === 'LogicalExpression') && (cur as acorn.BinaryExpression).operator === e.operator && !constant(cur)) {
    const b = cur as acorn.BinaryExpression | acorn.LogicalExpression;
    out.unshift(b.right);
    cur = b.left;
  }
  out.unshift(cur);
  return out;
}

/**
 * An expression as V8's call printer prints it. `iter`: in the wording of an iteration's failure, where V8
 * prints a call as its callee alone (`xs.slice.reverse` for `xs.slice().reverse()`).
 */
export function print(n: acorn.Node, iter = false): string {
  const c = constant(n);
  if (c) return printConstant(c.value);
  const e = n as acorn.Expression | acorn.Super | acorn.SpreadElement;
  switch (e.type) {
    case 'Identifier':
      return e.name;
    case 'ThisExpression':
      return 'this';
    case 'Literal':
      if (e.regex) return `/${e.regex.pattern}/${e.regex.flags}`;
      return INTERMEDIATE;
    case 'TemplateLiteral':
      if (e.expressions.length === 0) return `"${e.quasis[0].value.cooked ?? ''}"`;
      return e.expressions.map((x) => print(x, iter)).join('');
    case 'ArrayExpression':
      return `[${e.elements.map((x) => (x ? print(x, iter) : '')).join(',')}]`;
    case 'SpreadElement':
      return `(...${print(e.argument, iter)})`;
    case 'ObjectExpression':
      return `{${e.properties.map(() => INTERMEDIATE).join('')}}`;
    case 'MemberExpression':
      return `${print(e.object, iter)}${printKey(e, iter)}`;
    case 'CallExpression':
      return iter ? print(e.callee, iter) : `${print(e.callee)}(...)`;
    case 'UnaryExpression':
      return `(${e.operator}${/^[a-z]/.test(e.operator) ? ' ' : ''}${print(e.argument, iter)})`;
    case 'UpdateExpression':
      return e.prefix ? `(${e.operator}${print(e.argument, iter)})` : `(${print(e.argument, iter)}${e.operator})`;
    case 'BinaryExpression':
    case 'LogicalExpression':
      if (NARY.has(e.operator))
        return `(${naryOperands(e)
          .map((x) => print(x, iter))
          .join(` ${e.operator} `)})`;
      return `(${print(e.left, iter)} ${e.operator} ${print(e.right, iter)})`;
    case 'SequenceExpression':
      return `(${e.expressions.map((x) => print(x, iter)).join(' , ')})`;
    case 'AssignmentExpression':
      return e.left.type === 'Identifier' || e.left.type === 'MemberExpression' ? print(e.left, iter) : INTERMEDIATE;
    case 'ConditionalExpression':
      return INTERMEDIATE.repeat(3);
    case 'ParenthesizedExpression':
      return print(e.expression, iter);
    default:
      // super, function, class and `new` expressions, optional chains inside another expression, await, ...
      return INTERMEDIATE;
  }
}

/** A value named by its type, as V8 does where it has no source to print ("number 5", "object null"). */
function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'object null';
  switch (typeof v) {
    case 'number':
    case 'boolean':
      return `${typeof v} ${String(v)}`;
    case 'string':
      return `string "${v}"`;
    default:
      return typeof v;
  }
}

const NO_SYMBOL_LOAD = ' (cannot read property Symbol(Symbol.iterator))';

/** for-of and an array literal's spread: `xs is not iterable`, or a call's `f is not a function or its return value is not iterable`. */
function iterableMessage(node: acorn.Node): string {
  const e = node as acorn.Expression;
  if (e.type === 'CallExpression') return `${print(e.callee, true)} is not a function or its return value is not iterable`;
  return `${print(e, true)} is not iterable`;
}

/**
 * `inKey`: the site is in a computed key of an object literal or a class (outside any function nested there),
 * which V8's call printer does not visit: it names the value by its type instead (`number 5 is not a function`).
 */
export function notCallable(w: Wording | undefined, v: unknown): string | undefined {
  if (w?.kind !== 'call') return undefined;
  if (w.inKey) return `${describe(v)} is not a function`;
  return w.iterated ? `${print(w.callee, true)} is not a function or its return value is not iterable` : `${print(w.callee)} is not a function`;
}

export function notConstructor(w: Wording | undefined, v: unknown): string | undefined {
  if (w?.kind !== 'new') return undefined;
  return w.inKey ? `${describe(v)} is not a constructor` : `${print(w.callee)} is not a constructor`;
}

export function notIterable(w: Wording | undefined, v: unknown): string | undefined {
  if (!w) return undefined;
  switch (w.kind) {
    case 'forOf':
      return iterableMessage(w.node);
    case 'arrayPattern': {
      const s = w.source;
      if (s.from === 'for') return '.for is not iterable';
      if (s.from === 'catch') return '.catch is not iterable';
      if (s.from === 'init') {
        const e = s.node;
        if (e.type === 'Identifier' || (e.type === 'Literal' && !e.regex)) return `${print(e)} is not iterable`;
        if (e.type === 'CallExpression' && e.callee.type === 'Identifier') return iterableMessage(e);
      }
      return `${describe(v)} is not iterable${NO_SYMBOL_LOAD}`;
    }
    default:
      return undefined;
  }
}

/** A spread element at index `i` of an array literal or a call's arguments. */
export function notSpreadable(w: Wording | undefined, i: number, v: unknown): string | undefined {
  if (!w) return undefined;
  if (w.kind === 'array') {
    const el = w.elements[i];
    if (el?.type !== 'SpreadElement') return undefined;
    return w.inKey ? `${describe(v)} is not iterable${NO_SYMBOL_LOAD}` : iterableMessage((el as acorn.SpreadElement).argument);
  }
  if (w.kind === 'call' || w.kind === 'new') {
    const el = w.args[i];
    if (el?.type !== 'SpreadElement' || w.inKey) return undefined;
    if (v === null || v === undefined) return `${print((el as acorn.SpreadElement).argument)} is not iterable (cannot read property ${String(v)})`;
    return 'Spread syntax requires ...iterable[Symbol.iterator] to be a function';
  }
  return undefined;
}

/** An object pattern's value `v` is null or undefined. */
export function cannotDestructure(w: Wording | undefined, v: unknown): string | undefined {
  if (w?.kind !== 'objectPattern') return undefined;
  const s = w.source;
  let name: string;
  switch (s.from) {
    case 'init':
    case 'assign':
      name = print(s.node);
      break;
    case 'param':
      name = s.dflt ? INTERMEDIATE.repeat(3) : v === null ? 'object null' : 'undefined';
      break;
    case 'for':
      name = '.for';
      break;
    case 'catch':
      name = '.catch';
      break;
    default:
      name = String(v);
  }
  return w.key === null ? `Cannot destructure '${name}' as it is ${String(v)}.` : `Cannot destructure property '${w.key}' of '${name}' as it is ${String(v)}.`;
}
