/**
 * The core AST: what normalize.ts makes of a handler, what the tracer's instrumented copy is printed from,
 * what a trace carries (with untaken branches pruned to ClUnknown, tree.ts) and what the code generator
 * compiles. It is a dialect of ESTree: the node types below keep ESTree's names and fields (so astring
 * prints them and Node runs the print), narrowed to the forms the normaliser emits (one loop form, plain
 * `=` assignments, identifiers or rest elements as parameters, ...), plus
 *
 * - `sid`: the site id of a node the tracer observes and the compiled code re-checks;
 * - `Cl*` nodes: an intrinsic operation the desugaring needs (ClIntrinsic), a `require` of a module
 *   (ClRequire), a construct kept verbatim because it is not compiled (ClUnsupported), and a branch no
 *   traced request took (ClUnknown, only in traces).
 *
 * The source side is acorn's own ESTree types (`acorn.*`), which normalize.ts reads.
 */
import type * as acorn from 'acorn';

/** Fields any core node may carry. */
interface Base {
  /** Site id: the tracer records what happens here, the generated code re-checks it (always set on Cl*
   *  nodes, on functions, tests, calls, member reads and operators). */
  sid?: number;
  /** Where in the source the node comes from (diagnostics, locators). */
  loc?: acorn.SourceLocation | null;
}

// ---------------------------------------------------------------------------------------------------------
// Expressions

export interface Identifier extends Base {
  type: 'Identifier';
  name: string;
}

export interface Literal extends Base {
  type: 'Literal';
  value?: string | number | boolean | null | RegExp | bigint;
  raw?: string;
  /** A regular expression literal (its `value` is then null). */
  regex?: { pattern: string; flags: string };
}

export interface ThisExpression extends Base {
  type: 'ThisExpression';
}

export interface Super extends Base {
  type: 'Super';
}

export interface TemplateLiteral extends Base {
  type: 'TemplateLiteral';
  /** The source's text parts, unchanged. */
  quasis: acorn.TemplateElement[];
  expressions: Expression[];
}

export interface SpreadElement extends Base {
  type: 'SpreadElement';
  argument: Expression;
}

export interface ArrayExpression extends Base {
  type: 'ArrayExpression';
  /** No holes: an array literal with holes is not compiled. */
  elements: (Expression | SpreadElement)[];
}

export interface Property extends Base {
  type: 'Property';
  kind: 'init' | 'get' | 'set';
  method: boolean;
  shorthand: false;
  computed: boolean;
  key: Expression;
  value: Expression;
}

export interface ObjectExpression extends Base {
  type: 'ObjectExpression';
  properties: (Property | SpreadElement)[];
}

interface FunctionBase extends Base {
  id: Identifier | null;
  /** Patterns and defaults are desugared into the body. */
  params: (Identifier | RestElement)[];
  body: BlockStatement;
  async: boolean;
  generator: false;
  expression: false;
  /** A method of an object literal (its `this` is the object). */
  isMethod?: boolean;
}

export interface FunctionExpression extends FunctionBase {
  type: 'FunctionExpression';
}

export interface ArrowFunctionExpression extends FunctionBase {
  type: 'ArrowFunctionExpression';
}

export interface FunctionDeclaration extends FunctionBase {
  type: 'FunctionDeclaration';
}

export type AnyFunction = FunctionExpression | ArrowFunctionExpression | FunctionDeclaration;

/** A private name, with the property key the compiled code stores it under (see normalize.ts). */
export interface PrivateIdentifier extends Base {
  type: 'PrivateIdentifier';
  name: string;
  key: string;
  info: PrivateInfo;
}

export interface PrivateInfo {
  key: string;
  /** The site of the private method of that name, once normalised. */
  fnSid?: number;
}

export type ClassKey = Expression | PrivateIdentifier;

export interface MethodDefinition extends Base {
  type: 'MethodDefinition';
  kind: 'constructor' | 'method' | 'get' | 'set';
  static: boolean;
  computed: boolean;
  key: ClassKey;
  value: AnyFunction;
}

export interface PropertyDefinition extends Base {
  type: 'PropertyDefinition';
  static: boolean;
  computed: boolean;
  key: ClassKey;
  value: Expression | null;
}

export interface ClassBody extends Base {
  type: 'ClassBody';
  body: (MethodDefinition | PropertyDefinition)[];
}

/** A class declaration becomes `let Name = class ...`. */
export interface ClassExpression extends Base {
  type: 'ClassExpression';
  id: Identifier | null;
  superClass: Expression | null;
  body: ClassBody;
}

export interface UnaryExpression extends Base {
  type: 'UnaryExpression';
  operator: acorn.UnaryOperator;
  prefix: true;
  argument: Expression;
}

export interface BinaryExpression extends Base {
  type: 'BinaryExpression';
  operator: acorn.BinaryOperator;
  left: Expression;
  right: Expression;
}

export interface LogicalExpression extends Base {
  type: 'LogicalExpression';
  operator: acorn.LogicalOperator;
  left: Expression;
  right: Expression;
}

/** Only `=`: compound, logical and destructuring assignments are desugared. A destructuring target the
 *  compiler does not model (a private name it does not know) is kept verbatim. */
export interface AssignmentExpression extends Base {
  type: 'AssignmentExpression';
  operator: '=';
  left: Identifier | MemberExpression | ClUnsupported;
  right: Expression;
}

export interface ConditionalExpression extends Base {
  type: 'ConditionalExpression';
  test: Expression;
  consequent: Expression;
  alternate: Expression;
}

export interface SequenceExpression extends Base {
  type: 'SequenceExpression';
  expressions: Expression[];
}

/** Never optional: optional chains are desugared to conditionals. */
export interface CallExpression extends Base {
  type: 'CallExpression';
  callee: Expression | Super;
  arguments: (Expression | SpreadElement)[];
  optional: false;
}

export interface NewExpression extends Base {
  type: 'NewExpression';
  callee: Expression;
  arguments: (Expression | SpreadElement)[];
}

export interface MemberExpression extends Base {
  type: 'MemberExpression';
  object: Expression | Super;
  property: Expression | PrivateIdentifier;
  computed: boolean;
  optional: false;
}

export interface AwaitExpression extends Base {
  type: 'AwaitExpression';
  argument: Expression;
}

/** Only `new.target`. */
export interface MetaProperty extends Base {
  type: 'MetaProperty';
  meta: Identifier;
  property: Identifier;
}

/** An operation the desugaring needs that has no syntax: printed as `__cl.<name>(...)`, compiled to a runtime function. */
export interface ClIntrinsic extends Base {
  type: 'ClIntrinsic';
  name: string;
  arguments: Expression[];
}

/** `require('<module>')` with a literal name. */
export interface ClRequire extends Base {
  type: 'ClRequire';
  module: string;
  node: acorn.CallExpression;
}

/**
 * A construct the compiler does not model, kept verbatim (`node`) so the traced program still runs it; the
 * generated code gives up when it reaches it. In a trace, `node` is gone, and a declaration keeps its name.
 */
export interface ClUnsupported extends Base {
  type: 'ClUnsupported';
  reason: string;
  /** In statement position. */
  stmt: boolean;
  node?: acorn.AnyNode;
  /** In a trace: the name a function or class declaration binds, and a function's parameter count. */
  declares?: Identifier;
  arity?: number;
}

/** In a trace: a branch no traced request took. */
export interface ClUnknown extends Base {
  type: 'ClUnknown';
}

export type Expression =
  | Identifier
  | Literal
  | ThisExpression
  | TemplateLiteral
  | ArrayExpression
  | ObjectExpression
  | FunctionExpression
  | ArrowFunctionExpression
  | ClassExpression
  | UnaryExpression
  | BinaryExpression
  | LogicalExpression
  | AssignmentExpression
  | ConditionalExpression
  | SequenceExpression
  | CallExpression
  | NewExpression
  | MemberExpression
  | AwaitExpression
  | MetaProperty
  | ClIntrinsic
  | ClRequire
  | ClUnsupported
  | ClUnknown;

// ---------------------------------------------------------------------------------------------------------
// Statements

export interface ExpressionStatement extends Base {
  type: 'ExpressionStatement';
  expression: Expression;
  /** A directive prologue entry (`'use strict'`), first in its body. */
  directive?: string;
}

export interface VariableDeclarator extends Base {
  type: 'VariableDeclarator';
  id: Identifier;
  init: Expression;
}

/** `var` is hoisted to `let` at the top of its function; `let x;` gets an explicit `undefined`. */
export interface VariableDeclaration extends Base {
  type: 'VariableDeclaration';
  kind: LexicalKind;
  declarations: VariableDeclarator[];
  /**
   * A temporary the normaliser declared (`let $cl_tN = undefined` at the top of a function): every read of
   * it follows an assignment, so its initial `undefined` is never seen and a compiler may ignore it.
   */
  temp?: true;
}

/** A declaration's kind; `using` and `await using` as a loop head or a switch case declares them. */
export type LexicalKind = Exclude<acorn.VariableDeclaration['kind'], 'var'>;

export interface ReturnStatement extends Base {
  type: 'ReturnStatement';
  argument: Expression | null;
}

export interface ThrowStatement extends Base {
  type: 'ThrowStatement';
  argument: Expression;
}

export interface BlockStatement extends Base {
  type: 'BlockStatement';
  body: Statement[];
}

export interface IfStatement extends Base {
  type: 'IfStatement';
  test: Expression;
  consequent: BlockStatement;
  alternate: BlockStatement | IfStatement | null;
  /** The exit test of a loop. */
  loopTest?: boolean;
}

export interface LabeledStatement extends Base {
  type: 'LabeledStatement';
  label: Identifier;
  body: Statement;
}

/** Every `break` names its target; `continue` is a `break` out of a block around the loop's body. */
export interface BreakStatement extends Base {
  type: 'BreakStatement';
  label: Identifier;
}

/** The one loop form: `L: while (true) { exit test; C: { body } update }`. */
export interface WhileStatement extends Base {
  type: 'WhileStatement';
  test: Literal;
  body: BlockStatement;
}

export interface SwitchCase extends Base {
  type: 'SwitchCase';
  /** The case's index. */
  test: Literal;
  consequent: Statement[];
}

/** A switch over the index of the case it starts at (see normalize.ts). */
export interface SwitchStatement extends Base {
  type: 'SwitchStatement';
  discriminant: Identifier;
  cases: SwitchCase[];
  /** Names the cases declare with let, const or class, scoped to the whole switch. */
  lexicals: { name: string; kind: LexicalKind }[];
}

export interface CatchClause extends Base {
  type: 'CatchClause';
  param: Identifier | null;
  body: BlockStatement;
}

export interface TryStatement extends Base {
  type: 'TryStatement';
  block: BlockStatement;
  handler: CatchClause | null;
  finalizer: BlockStatement | null;
}

export type Statement =
  | ExpressionStatement
  | VariableDeclaration
  | FunctionDeclaration
  | ReturnStatement
  | ThrowStatement
  | BlockStatement
  | IfStatement
  | LabeledStatement
  | BreakStatement
  | WhileStatement
  | SwitchStatement
  | TryStatement
  | ClUnsupported
  | ClUnknown;

export interface Program extends Base {
  type: 'Program';
  sourceType: 'script';
  body: Statement[];
}

export interface RestElement extends Base {
  type: 'RestElement';
  argument: Identifier;
}

/** Any node of the core. */
export type CoreNode =
  | Program
  | Statement
  | Expression
  | SpreadElement
  | Property
  | RestElement
  | Super
  | PrivateIdentifier
  | MethodDefinition
  | PropertyDefinition
  | ClassBody
  | VariableDeclarator
  | SwitchCase
  | CatchClause;

/**
 * A core node read without its type, in code not yet written against the types above: the printer in
 * instrument.ts and the code generator (compiler/codegen.ts), which reads a trace's program from JSON.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UntypedNode = any;
