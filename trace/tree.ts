/**
 * Trace trees: the normalised program with the branches no traced request took pruned to `ClUnknown`,
 * merging of trees from several tracers, and validation of the IR.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { BR_FALSE, BR_NULLISH, BR_TRUE, traceSchema, type SiteObs, type TraceIR } from './ir.ts';
import type { Node } from './normalize.ts';
import { mergeSite } from './merge.ts';

const UNKNOWN = (sid: number): Node => ({ type: 'ClUnknown', sid });
const UNKNOWN_BLOCK = (sid: number): Node => ({ type: 'BlockStatement', body: [{ type: 'ClUnknown', sid }] });

type ObsLike = Map<number, SiteObs> | Record<string, SiteObs>;
function get(obs: ObsLike, sid: number): SiteObs | undefined {
  return obs instanceof Map ? obs.get(sid) : obs[String(sid)];
}

/** A copy of `core` with untaken branches replaced by ClUnknown. */
export function prune(core: Node, obs: ObsLike): Node {
  const br = (sid: number): number => get(obs, sid)?.br ?? 0;
  const visit = (n: Node): Node => {
    if (n === null || typeof n !== 'object') return n;
    if (Array.isArray(n)) return n.map(visit);
    switch (n.type) {
      case 'ClUnsupported':
        // A function or class declaration that is not compiled keeps its name: the name is still bound.
        if ((n.node?.type === 'FunctionDeclaration' || n.node?.type === 'ClassDeclaration') && n.node.id) {
          const arity = n.node.type === 'FunctionDeclaration' ? n.node.params.length : 0;
          return { type: 'ClUnsupported', sid: n.sid, reason: n.reason, stmt: n.stmt, loc: n.loc, declares: { type: 'Identifier', name: n.node.id.name }, arity };
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
        return { ...n, test: visit(n.test), consequent: b & BR_TRUE ? visit(n.consequent) : UNKNOWN(n.sid), alternate: b & BR_FALSE ? visit(n.alternate) : UNKNOWN(n.sid) };
      }
      case 'LogicalExpression': {
        const b = br(n.sid);
        const need = n.operator === '&&' ? BR_TRUE : n.operator === '||' ? BR_FALSE : BR_NULLISH;
        return { ...n, left: visit(n.left), right: b & need ? visit(n.right) : UNKNOWN(n.sid) };
      }
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
      case 'FunctionDeclaration':
        if (!get(obs, n.sid)?.n) return { ...n, body: UNKNOWN_BLOCK(n.sid) };
        break;
      case 'CatchClause':
        if (!get(obs, n.sid)?.n) return { ...n, body: UNKNOWN_BLOCK(n.sid) };
        break;
      case 'SwitchCase':
        // The switch's `lexicals` keep the names this case declares scoped to the switch.
        if (n.consequent.length && !get(obs, n.sid)?.n) return { ...n, consequent: [UNKNOWN(n.sid)] };
        break;
    }
    const out: Node = {};
    for (const k of Object.keys(n)) out[k] = k === 'loc' ? n.loc : visit(n[k]);
    return out;
  };
  return visit(core);
}

/** A subtree the trace never reached: ClUnknown, or a block holding only it. */
function pruned(x: Node): boolean {
  return x?.type === 'ClUnknown' || (x?.type === 'BlockStatement' && x.body.length === 1 && x.body[0]?.type === 'ClUnknown');
}

/** Structural merge: a known subtree beats ClUnknown. Both trees come from the same source. */
function mergeProgram(a: Node, b: Node): Node {
  if (pruned(a)) return b;
  if (pruned(b)) return a;
  if (a === null || typeof a !== 'object') return a;
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return a;
    // A pruned block is [ClUnknown]; a known one is its statements.
    if (a.length === 1 && a[0]?.type === 'ClUnknown') return b;
    if (b.length === 1 && b[0]?.type === 'ClUnknown') return a;
    return a.map((x, i) => mergeProgram(x, b[i]));
  }
  const out: Node = {};
  for (const k of Object.keys(a)) out[k] = k === 'loc' ? a.loc : mergeProgram(a[k], b?.[k]);
  return out;
}

export class TraceMergeError extends Error {
  readonly code = 'E_TRACE_MERGE';
}

export function mergeTraces(a: TraceIR, b: TraceIR): TraceIR {
  if (a.source.sha256 !== b.source.sha256) throw new TraceMergeError(`traces of different sources (${a.source.sha256.slice(0, 12)} and ${b.source.sha256.slice(0, 12)}) do not merge`);
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
