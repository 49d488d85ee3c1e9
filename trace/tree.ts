/**
 * Trace trees: the normalised program with the branches no traced request took pruned to `ClUnknown`,
 * merging of trees from several tracers, and validation of the IR.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { BR_FALSE, BR_NULLISH, BR_TRUE, traceSchema, type SiteObs, type TraceIR } from './ir.ts';
import type * as C from './ast.ts';
import { mergeSite } from './merge.ts';

const UNKNOWN = (sid: number | undefined): C.ClUnknown => ({ type: 'ClUnknown', sid });
const UNKNOWN_BLOCK = (sid: number | undefined): C.BlockStatement => ({ type: 'BlockStatement', body: [{ type: 'ClUnknown', sid }] });

/**
 * The passes below rebuild every node by its keys (copy `loc`, visit the rest), as the core's types do not
 * list which field holds a child: a node is read as a record of fields there, a narrow cast.
 */
type Fields = Record<string, unknown>;

type ObsLike = Map<number, SiteObs> | Record<string, SiteObs>;
function get(obs: ObsLike, sid: number): SiteObs | undefined {
  return obs instanceof Map ? obs.get(sid) : obs[String(sid)];
}

/** A copy of `core` with untaken branches replaced by ClUnknown. */
export function prune(core: C.Program, obs: ObsLike): C.Program {
  const br = (sid: number | undefined): number => (sid === undefined ? 0 : (get(obs, sid)?.br ?? 0));
  const entered = (sid: number | undefined): boolean => sid !== undefined && !!get(obs, sid)?.n;
  const visitAny = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(visitAny);
    return typeof (v as Fields).type === 'string' ? visitNode(v as C.CoreNode) : copy(v as Fields);
  };
  /** A copy with every child visited, `loc` shared. */
  const copy = (n: Fields): Fields => {
    const out: Fields = {};
    for (const [k, v] of Object.entries(n)) out[k] = k === 'loc' ? v : visitAny(v);
    return out;
  };
  // The same node type back, its children visited.
  const visit = <T>(n: T): T => visitAny(n) as T;
  const visitNode = (n: C.CoreNode): C.CoreNode => {
    switch (n.type) {
      case 'ClUnsupported':
        // A function or class declaration that is not compiled keeps its name: the name is still bound.
        if ((n.node?.type === 'FunctionDeclaration' || n.node?.type === 'ClassDeclaration') && n.node.id) {
          const arity = n.node.type === 'FunctionDeclaration' ? n.node.params.length : 0;
          return {
            type: 'ClUnsupported',
            sid: n.sid,
            reason: n.reason,
            stmt: n.stmt,
            loc: n.loc,
            declares: { type: 'Identifier', name: n.node.id.name },
            arity,
          };
        }
        return { type: 'ClUnsupported', sid: n.sid, reason: n.reason, stmt: n.stmt, loc: n.loc };
      case 'IfStatement': {
        const b = br(n.sid);
        return {
          ...n,
          test: visit(n.test),
          consequent: b & BR_TRUE ? visit(n.consequent) : UNKNOWN_BLOCK(n.sid),
          alternate: b & BR_FALSE ? visit(n.alternate) : UNKNOWN_BLOCK(n.sid),
        };
      }
      case 'ConditionalExpression': {
        const b = br(n.sid);
        return {
          ...n,
          test: visit(n.test),
          consequent: b & BR_TRUE ? visit(n.consequent) : UNKNOWN(n.sid),
          alternate: b & BR_FALSE ? visit(n.alternate) : UNKNOWN(n.sid),
        };
      }
      case 'LogicalExpression': {
        const b = br(n.sid);
        const need = n.operator === '&&' ? BR_TRUE : n.operator === '||' ? BR_FALSE : BR_NULLISH;
        return { ...n, left: visit(n.left), right: b & need ? visit(n.right) : UNKNOWN(n.sid) };
      }
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
      case 'FunctionDeclaration':
        if (!entered(n.sid)) return { ...n, body: UNKNOWN_BLOCK(n.sid) };
        break;
      case 'CatchClause':
        if (!entered(n.sid)) return { ...n, body: UNKNOWN_BLOCK(n.sid) };
        break;
      case 'SwitchCase':
        // The switch's `lexicals` keep the names this case declares scoped to the switch.
        if (n.consequent.length && !entered(n.sid)) return { ...n, consequent: [UNKNOWN(n.sid)] };
        break;
    }
    return copy(n as unknown as Fields) as unknown as C.CoreNode;
  };
  return visit(core);
}

const isUnknown = (x: unknown): boolean => (x as Fields | null | undefined)?.type === 'ClUnknown';

/** A subtree the trace never reached: ClUnknown, or a block holding only it. */
function pruned(x: unknown): boolean {
  if (isUnknown(x)) return true;
  const block = x as Partial<C.BlockStatement> | null | undefined;
  return block?.type === 'BlockStatement' && block.body?.length === 1 && isUnknown(block.body[0]);
}

/**
 * Structural merge: a known subtree beats ClUnknown. Both trees come from the same source (and from JSON,
 * when they were published), so they are walked as plain values.
 */
function mergeProgram(a: unknown, b: unknown): unknown {
  if (pruned(a)) return b;
  if (pruned(b)) return a;
  if (a === null || typeof a !== 'object') return a;
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return a;
    // A pruned block is [ClUnknown]; a known one is its statements.
    if (a.length === 1 && isUnknown(a[0])) return b;
    if (b.length === 1 && isUnknown(b[0])) return a;
    return a.map((x, i) => mergeProgram(x, b[i]));
  }
  const out: Fields = {};
  const other = b as Fields | null | undefined;
  for (const [k, v] of Object.entries(a)) out[k] = k === 'loc' ? v : mergeProgram(v, other?.[k]);
  return out;
}

export class TraceMergeError extends Error {
  readonly code = 'E_TRACE_MERGE';
}

export function mergeTraces(a: TraceIR, b: TraceIR): TraceIR {
  if (a.source.sha256 !== b.source.sha256)
    throw new TraceMergeError(`traces of different sources (${a.source.sha256.slice(0, 12)} and ${b.source.sha256.slice(0, 12)}) do not merge`);
  const sites: Record<string, SiteObs> = {};
  for (const [k, v] of Object.entries(a.sites)) sites[k] = structuredClone(v);
  for (const [k, v] of Object.entries(b.sites)) {
    if (!sites[k]) sites[k] = {};
    mergeSite(sites[k], v);
  }
  return { ...a, requests: a.requests + b.requests, program: mergeProgram(a.program, b.program), sites };
}

// Compiled on first use: the tracer (in every function's process) imports this module but never validates.
let validate: ValidateFunction | undefined;

/** Validates a trace against the schema; returns a one-line reason or null. */
export function validateTrace(t: unknown): string | null {
  validate ??= new Ajv({ allErrors: false, strict: true }).compile(traceSchema);
  if (validate(t)) return null;
  const e = validate.errors?.[0];
  return e ? `trace${e.instancePath || ''} ${e.message ?? 'is invalid'}` : 'trace is invalid';
}
