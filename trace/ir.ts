/**
 * The trace IR: what a watchdog publishes and the compiler consumes. Version 1.
 *
 * A trace is the handler's normalised program (a small core of ESTree, see normalize.ts) in which every
 * branch the traced requests never took is replaced by `{type: "ClUnknown"}`, plus, per site (a node id),
 * what the requests observed there: the truthiness of tests, the types of operands, the callees reached.
 * Merging two traces of the same source takes the union: a known subtree beats `ClUnknown`, observation
 * sets are united. The compiled code re-checks every observation and gives up on anything else.
 */
import { typeTag } from '../lib/index.ts';

export const TRACE_FORMAT = 'containerless-trace';
export const TRACE_VERSION = 1;

/** Truthiness and nullishness seen at a test site (bits). */
export const BR_TRUE = 1;
export const BR_FALSE = 2;
export const BR_NULLISH = 4;

/** Type tags, as bits, as the runtime numbers them (runtime/contract.json `typeTags`). */
export const TAG = {
  undefined: typeTag('undefined'),
  null: typeTag('null'),
  boolean: typeTag('boolean'),
  number: typeTag('number'),
  string: typeTag('string'),
  object: typeTag('object'),
  array: typeTag('array'),
  function: typeTag('function'),
  promise: typeTag('promise'),
  other: typeTag('other'),
} as const;

export interface SiteObs {
  /** Branch outcomes (BR_* bits), for tests and logical operators. */
  br?: number;
  /** Per operand, the union of TAG bits seen. */
  ty?: number[];
  /** Callees reached: "fn:<node id>" for compiled functions, a builtin's name, or "?:<description>". */
  callees?: string[];
  /** How many times the site ran (function entries, catch clauses). */
  n?: number;
}

export interface TraceIR {
  format: typeof TRACE_FORMAT;
  version: typeof TRACE_VERSION;
  /** The function's name (for the dispatcher and logs). */
  function: string;
  /** Identity of the source the trace was taken from; traces of different sources never merge. */
  source: { file: string; sha256: string };
  /** How many requests contributed. */
  requests: number;
  /** The normalised program, with untaken branches pruned to ClUnknown. */
  program: unknown;
  /** Observations by site id. */
  sites: Record<string, SiteObs>;
}

export const traceSchema = {
  $id: 'https://containerless.dev/schemas/trace-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['format', 'version', 'function', 'source', 'requests', 'program', 'sites'],
  properties: {
    format: { const: TRACE_FORMAT },
    version: { const: TRACE_VERSION },
    function: { type: 'string', minLength: 1 },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'sha256'],
      properties: { file: { type: 'string' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
    },
    requests: { type: 'integer', minimum: 0 },
    program: { type: 'object', required: ['type'], properties: { type: { const: 'Program' } } },
    sites: {
      type: 'object',
      propertyNames: { pattern: '^[0-9]+$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          br: { type: 'integer', minimum: 0, maximum: 7 },
          ty: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 1023 } },
          callees: { type: 'array', items: { type: 'string' } },
          n: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;
