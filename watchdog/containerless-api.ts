/**
 * The Containerless API shim: what `require('containerless')` returns to a handler written for the original
 * system (emilyaherbert/containerless, `containerless/javascript/containerless/ts/index.ts` and
 * `callbacks.ts` at 1adf83d2). It does not listen on a port: the watchdog's runner (runner.ts) owns the HTTP
 * server and hands each request to the callback registered with `listen`.
 *
 * Rules, and where they come from (callbacks.ts line numbers unless noted):
 *
 * - `require('containerless')` gives `{listen, respond, get, post, put, delete}` (index.ts:40-103). The
 *   original's `hello()` demo, `cb`, `exp` and `getTrace()` are tracing internals and are left out.
 * - `listen(cb)` registers the one request callback. A second call is an error (callbacks.ts:321-324 exits the
 *   process; here it throws `ContainerlessApiError` code `LISTEN_TWICE`). The original exits when `listen` was
 *   not called in the module's first turn (index.ts:110-117); here `loadHandler` requires it to be called
 *   while the module loads.
 * - A request becomes `cb({path, query, body})` (callbacks.ts:347-365). `path` is Express's `req.path`, which
 *   keeps the leading '/' ('/login'), except the root, which is "" (the original's separate `app.get('/')`
 *   route, :349). The original's benchmarks compare `req.path === '/login'`. `query` is the parsed query
 *   (express 5's simple parser here; the original's express 4 used `qs`, so `a[b]=1` is not nested here).
 *   `body` is `{}` for GET and HEAD (:349, :359); otherwise the body parsed as JSON whatever the request's
 *   Content-Type says, because the original's dispatcher always forwarded `Content-Type: application/json`
 *   (rust/dispatcher-agent-lib/src/dispatcher/state.rs:231); an empty body gives `{}`. `requestID` is
 *   internal to the original and not passed.
 * - `respond(v)` answers the request that is current in the async context (the original keyed responses by a
 *   `Unique-ID` header and swapped a global id around each callback, :42-54; AsyncLocalStorage does that here
 *   without a global, so requests in flight at once never mix). Formatting follows :383-393 in the same order:
 *   `undefined` -> "undefined"; a non-string whose `.length > 0` (non-empty arrays) -> `'' + v` ("1,2,3");
 *   any other object (including `[]` and `null`) -> `JSON.stringify(v, null, 4)`; otherwise `'' + v`.
 *   Status is always 200. Content-Type (the original left Express's text/html default): JSON text gets
 *   `application/json; charset=utf-8`, everything else `text/plain; charset=utf-8`. The original also sent
 *   `X-Server-Hostname` with objects; that header is left out (it names the machine, and compiled code
 *   could not reproduce it). `null`, on which the original threw a TypeError (`null.length`), is JSON "null".
 * - The first `respond` wins; later ones for the same request are ignored (the original threw
 *   "No express.Response found", :395). `respond` outside any request throws `NO_REQUEST` (the original
 *   threw "oops", :376-378).
 * - `get(url, cb)` / `delete(url, cb)` fetch the URL and call `cb(JSON.parse(body))` whatever the status, or
 *   `cb(undefined)` when the request fails or the body is not JSON (the original crashed the process on
 *   bad JSON, :148). `post({url, body, headers?}, cb)` / `put(...)` send `body` (a non-string is
 *   JSON.stringified, :184-186, without writing the string back into the caller's object) with
 *   `Content-Type: application/json` unless `headers` says otherwise. A URL `data:<json>` answers
 *   synchronously with the parsed JSON and makes no request (:123-129). Outgoing requests are aborted after
 *   the request's exec timeout. These calls outside a request throw `NO_REQUEST` (`getResponseIDOrError`,
 *   :77-83).
 * - The callbacks of `get`/`post`/`put`/`delete` run in the async context of the request that started them,
 *   so a `respond` inside them answers that request. An exception thrown by the listen callback or by an I/O
 *   callback fails its request (the runner answers as Express does for a thrown route error: 500) if it has
 *   not been answered yet, and is logged otherwise (the original crashed the process).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What the listen callback receives. */
export interface ContainerlessRequest {
  path: string;
  query: unknown;
  body: unknown;
}

export type ListenCallback = (request: ContainerlessRequest) => void;
export type IoCallback = (response: unknown) => void;

/** The object `require('containerless')` returns. */
export interface ContainerlessApi {
  listen(callback: ListenCallback): void;
  respond(value: unknown): void;
  get(url: string, callback: IoCallback): void;
  post(request: { url: string; body?: unknown; headers?: Record<string, string> }, callback: IoCallback): void;
  put(request: { url: string; body?: unknown; headers?: Record<string, string> }, callback: IoCallback): void;
  delete(url: string, callback: IoCallback): void;
}

export type ContainerlessApiErrorCode = 'LISTEN_TWICE' | 'NOT_A_FUNCTION' | 'NO_REQUEST' | 'BAD_ARGUMENT';

export class ContainerlessApiError extends Error {
  override readonly name = 'ContainerlessApiError';
  constructor(
    readonly code: ContainerlessApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A formatted `respond` value. */
export interface FormattedResponse {
  body: string;
  contentType: string;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** `respond(v)`'s body and content type, in the original's order of cases (see the header comment). */
export function formatResponse(value: unknown): FormattedResponse {
  if (typeof value === 'undefined') return { body: '' + value, contentType: TEXT };
  if (value !== null && typeof value !== 'string' && (value as { length?: any }).length > 0) {
    return { body: '' + (value as string), contentType: TEXT };
  }
  if (typeof value === 'object') return { body: '' + JSON.stringify(value, null, 4), contentType: JSON_TYPE };
  return { body: '' + (value as string), contentType: TEXT };
}

/** Where a request's answer goes; implemented by the runner. */
export interface ResponseSink {
  send(response: FormattedResponse): void;
  /** The listen callback or an I/O callback threw before the request was answered. */
  fail(err: unknown): void;
  /** Something went wrong after the request was answered; only worth a log line. */
  log(err: unknown): void;
}

/** One request in flight: found through AsyncLocalStorage by `respond` and the I/O calls. */
export class RequestScope {
  private answered = false;

  constructor(
    private readonly sink: ResponseSink,
    /** Aborts outgoing requests when the request's time is up. */
    readonly signal?: AbortSignal,
  ) {}

  get done(): boolean {
    return this.answered;
  }

  respond(value: unknown): void {
    const formatted = formatResponse(value); // may throw (a cycle, a BigInt): the caller sees it
    if (this.answered) return;
    this.answered = true;
    this.sink.send(formatted);
  }

  fail(err: unknown): void {
    if (this.answered) {
      this.sink.log(err);
      return;
    }
    this.answered = true;
    this.sink.fail(err);
  }

  /** Marks the request answered by someone else (the exec timeout), so later `respond`s are ignored. */
  close(): void {
    this.answered = true;
  }
}

const current = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` as the body of `scope`'s request; a synchronous throw fails the request. */
export function runInRequest(scope: RequestScope, fn: () => void): void {
  current.run(scope, () => {
    try {
      fn();
    } catch (err) {
      scope.fail(err);
    }
  });
}

function currentScope(what: string): RequestScope {
  const scope = current.getStore();
  if (!scope) {
    throw new ContainerlessApiError(
      'NO_REQUEST',
      `containerless.${what}() was called outside a request (call it from the listen callback or a callback it started)`,
    );
  }
  return scope;
}

function checkCallback(what: string, cb: unknown): asserts cb is IoCallback {
  if (typeof cb !== 'function') throw new ContainerlessApiError('NOT_A_FUNCTION', `containerless.${what}() needs a callback function, got ${typeof cb}`);
}

/** Calls an I/O callback inside its request; a throw fails the request. */
function deliver(scope: RequestScope, cb: IoCallback, value: unknown): void {
  try {
    cb(value);
  } catch (err) {
    scope.fail(err);
  }
}

async function fetchJson(scope: RequestScope, url: string, init: RequestInit, cb: IoCallback): Promise<void> {
  let value: unknown;
  try {
    const res = await fetch(url, { ...init, signal: scope.signal });
    value = JSON.parse(await res.text());
  } catch {
    value = undefined;
  }
  deliver(scope, cb, value);
}

function io(what: string, method: string, url: unknown, body: unknown, headers: unknown, cb: unknown): void {
  const scope = currentScope(what);
  checkCallback(what, cb);
  if (typeof url !== 'string') throw new ContainerlessApiError('BAD_ARGUMENT', `containerless.${what}() needs a URL string, got ${typeof url}`);
  if (url.startsWith('data:')) {
    cb(JSON.parse(url.slice(5)));
    return;
  }
  const init: RequestInit = { method };
  if (method === 'POST' || method === 'PUT') {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...(headers && typeof headers === 'object' ? (headers as Record<string, string>) : {}) };
  }
  void fetchJson(scope, url, init, cb);
}

function bodyRequest(what: string, request: unknown): { url: unknown; body: unknown; headers: unknown } {
  if (request === null || typeof request !== 'object') {
    throw new ContainerlessApiError('BAD_ARGUMENT', `containerless.${what}() needs an object {url, body}, got ${request === null ? 'null' : typeof request}`);
  }
  const r = request as { url?: unknown; body?: unknown; headers?: unknown };
  return { url: r.url, body: r.body, headers: r.headers };
}

/** A fresh API object with its own listen slot (one per loaded handler). */
export function createContainerlessApi(): { api: ContainerlessApi; listener(): ListenCallback | undefined } {
  let listener: ListenCallback | undefined;
  const api: ContainerlessApi = {
    listen(callback: ListenCallback): void {
      if (typeof callback !== 'function')
        throw new ContainerlessApiError('NOT_A_FUNCTION', `containerless.listen() needs a callback function, got ${typeof callback}`);
      if (listener) throw new ContainerlessApiError('LISTEN_TWICE', 'containerless.listen() was called twice; a function has one request callback');
      listener = callback;
    },
    respond(value: unknown): void {
      currentScope('respond').respond(value);
    },
    get(url: string, callback: IoCallback): void {
      io('get', 'GET', url, undefined, undefined, callback);
    },
    post(request, callback: IoCallback): void {
      const r = bodyRequest('post', request);
      io('post', 'POST', r.url, r.body, r.headers, callback);
    },
    put(request, callback: IoCallback): void {
      const r = bodyRequest('put', request);
      io('put', 'PUT', r.url, r.body, r.headers, callback);
    },
    delete(url: string, callback: IoCallback): void {
      io('delete', 'DELETE', url, undefined, undefined, callback);
    },
  };
  return { api: Object.freeze(api), listener: () => listener };
}
