/**
 * Requests files: what `containerless check` replays. JSON lines; blank lines and lines starting with `#` are
 * skipped. Each line is one request:
 *
 *   {"method":"POST","path":"/x","query":{"k":"v","tag":["a","b"]},"headers":{"x-a":"1"},"body":{"n":1}}
 *
 * Only `method` and `path` are required; other fields are rejected (our own format). A string `body` is sent
 * as it is (UTF-8); any other JSON value is sent as `JSON.stringify(body)` with `content-type:
 * application/json` unless the line gives a content type. Query values are strings, or arrays of strings for
 * a repeated key.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';

/** One line of a requests file; field names are the file's. */
export interface RequestLine {
  method: string;
  path: string;
  query?: Record<string, string | string[]>;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A request as read from a file: the line and where it came from. */
export interface RequestEntry extends RequestLine {
  /** 1-based line number in the file. */
  line: number;
}

/** What goes on the wire: the request target, the header list (in order) and the body bytes. */
export interface HttpRequest {
  method: string;
  /** Path with the query string. */
  target: string;
  headers: [string, string][];
  body?: Buffer;
}

const TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

export const requestLineSchema = {
  $id: 'https://containerless.dev/schemas/request-line-v1.json',
  type: 'object',
  additionalProperties: false,
  required: ['method', 'path'],
  properties: {
    method: { type: 'string', pattern: '^[A-Z]+$' },
    // Printable ASCII: Node's client refuses to send other characters, or its server answers 400 to them.
    path: { type: 'string', pattern: '^/[\\u0021-\\u0022\\u0024-\\u007e]*$' },
    query: {
      type: 'object',
      additionalProperties: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    },
    headers: {
      type: 'object',
      propertyNames: { pattern: TOKEN },
      // What Node's client sends (its checkInvalidHeaderChar): tab, printable ASCII, and Latin-1 above 0x7f.
      additionalProperties: { type: 'string', pattern: '^[\\t\\u0020-\\u007e\\u0080-\\u00ff]*$' },
    },
    body: {},
  },
} as const;

const ajv = new Ajv({ allErrors: false, strict: true });
const validateLine = ajv.compile<RequestLine>(requestLineSchema);

/** Headers the harness computes itself; a line may not set them. */
const COMPUTED_HEADERS = new Set(['content-length', 'transfer-encoding']);

export class RequestsFileError extends Error {
  override readonly name = 'RequestsFileError';
  readonly code = 'E_REQUESTS';
  constructor(
    readonly file: string,
    /** 1-based line number, or 0 for a problem with the whole file. */
    readonly line: number,
    /** The field at fault (`query.k`), or '' for the whole line. */
    readonly field: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${problem}`, options);
  }
}

/** `/query/k` -> `query.k` */
function fieldOf(path: string): string {
  return path
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function describeError(e: ErrorObject): { field: string; problem: string } {
  const at = fieldOf(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      if (at === '') return { field: extra, problem: `unknown field "${extra}" (fields: method, path, query, headers, body)` };
      return { field: `${at}.${extra}`, problem: `unknown field "${at}.${extra}"` };
    }
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { field: missing, problem: `missing field "${missing}"` };
    }
    case 'anyOf':
      return { field: at, problem: `field "${at}" must be a string or an array of strings` };
    case 'propertyNames': {
      const name = (e.params as { propertyName: string }).propertyName;
      return { field: `${at}.${name}`, problem: `field "${at}": "${name}" is not a valid header name` };
    }
    case 'pattern':
      if (at === 'method') return { field: at, problem: 'field "method" must be an HTTP method in capitals, e.g. "GET"' };
      if (at === 'path')
        return { field: at, problem: 'field "path" must start with "/" and contain only printable ASCII, no spaces or "#" (percent-encode the rest)' };
      return {
        field: at,
        problem: `field "${at}" must be Latin-1 text without line breaks or other control characters (Node's HTTP client refuses to send it)`,
      };
    case 'type':
      return {
        field: at,
        problem:
          at === ''
            ? 'a request must be a JSON object'
            : `field "${at}" must be ${(e.params as { type: string }).type === 'object' ? 'an object' : `a ${(e.params as { type: string }).type}`}`,
      };
    default:
      return { field: at, problem: `field "${at}" ${e.message ?? 'is invalid'}` };
  }
}

/** Validates one parsed line; throws RequestsFileError naming the line and the field. */
export function validateRequestLine(value: unknown, file: string, line: number): RequestLine {
  if (!validateLine(value)) {
    const errors = validateLine.errors ?? [];
    const e = errors.find((x) => x.keyword === 'anyOf' || x.keyword === 'propertyNames') ?? errors[0];
    const { field, problem } = e ? describeError(e) : { field: '', problem: 'invalid request' };
    throw new RequestsFileError(file, line, field, problem);
  }
  const seen = new Set<string>();
  for (const name of Object.keys(value.headers ?? {})) {
    const lower = name.toLowerCase();
    if (COMPUTED_HEADERS.has(lower))
      throw new RequestsFileError(file, line, `headers.${name}`, `field "headers.${name}": ${lower} is computed from the body; leave it out`);
    if (seen.has(lower)) throw new RequestsFileError(file, line, `headers.${name}`, `field "headers.${name}": header given twice (names are case-insensitive)`);
    seen.add(lower);
  }
  return value;
}

/** Parses the text of a requests file. `file` names it in errors. */
export function parseRequests(text: string, file: string): RequestEntry[] {
  const out: RequestEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '' || raw.startsWith('#')) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new RequestsFileError(file, i + 1, '', `not a JSON object (${(err as Error).message})`, { cause: err });
    }
    out.push({ ...validateRequestLine(value, file, i + 1), line: i + 1 });
  }
  return out;
}

/** Reads and parses a requests file; errors name it by its base name. */
export function readRequests(path: string): RequestEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RequestsFileError(path, 0, '', `cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  return parseRequests(text, basename(path));
}

/** The query string, `?`-prefixed, or '' when there is none. Keys keep the file's order. */
export function queryString(query: RequestLine['query']): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one)}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

/**
 * The request as it goes on the wire. A path that already has a query string keeps it, and `query` is added
 * after it. Header names keep the file's spelling; `content-length` is set when there is a body.
 */
export function toHttpRequest(r: RequestLine): HttpRequest {
  const headers: [string, string][] = Object.entries(r.headers ?? {});
  const has = (name: string): boolean => headers.some(([k]) => k.toLowerCase() === name);
  let body: Buffer | undefined;
  if (r.body !== undefined) {
    if (typeof r.body === 'string') {
      body = Buffer.from(r.body, 'utf8');
    } else {
      body = Buffer.from(JSON.stringify(r.body), 'utf8');
      if (!has('content-type')) headers.push(['content-type', 'application/json']);
    }
    headers.push(['content-length', String(body.length)]);
  }
  let target = r.path;
  const qs = queryString(r.query);
  if (qs) target += target.includes('?') ? `&${qs.slice(1)}` : qs;
  return { method: r.method, target, headers, body };
}
