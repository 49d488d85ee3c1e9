/**
 * The in-process handler runner: serves a Node handler the way the stock OpenFaaS node22 template does
 * (of-watchdog in `http` mode reverse-proxying to the template's express `index.js`), in one process.
 *
 * Rules taken from the stock template. `T` is openfaas/templates `template/node22/index.js` at 69ca16ae
 * (node20's index.js differs only in registering six explicit `/*` routes instead of `app.use`), `D` is
 * `template/node22/Dockerfile`, `W` is openfaas/of-watchdog `executor/http_runner.go` at 9bdadb1e, `C` is
 * of-watchdog `config/config.go`:
 *
 *  1. `x-powered-by` is disabled (T:14). Everything else is Express 5's default app: the `simple` query
 *     parser (node:querystring, so `event.query` has a null prototype and `a[b]=1` is not nested), weak
 *     ETags, `req.fresh` turning a matching If-None-Match into 304, HEAD answered without a body.
 *  2. A request without a Content-Type (or an empty one) gets `content-type: text/plain` written into
 *     `req.headers` before parsing, so the handler sees it in `event.headers` (T:19-27).
 *  3. `RAW_BODY=true` (exactly 'true'): one parser, `bodyParser.raw({type: '*\/*', limit: MAX_RAW_SIZE ||
 *     '100kb'})`, and `event.body` is a Buffer (T:16, T:29-30).
 *  4. Otherwise, in this order: `bodyParser.text({type: 'text/*'})` with body-parser's default 100kb limit
 *     (MAX_RAW_SIZE does not apply), `bodyParser.json({limit: MAX_JSON_SIZE || '100kb'})` for
 *     application/json, `bodyParser.urlencoded({extended: true})` (qs, 100kb) (T:12, T:17, T:31-35). So
 *     `event.body` is the parsed JSON for JSON, a string for text/* (and for a missing content type), an
 *     object for urlencoded, and `undefined` for any other type or when the request has no body (body-parser
 *     2 leaves `req.body` undefined). Parser errors (bad JSON 400, too large 413, bad charset 415) go to
 *     Express's default error handler (HTML page; stack trace unless NODE_ENV=production).
 *  5. `event` is a `FunctionEvent` with own fields, in this order, `body, headers, method, query, path`, taken
 *     from `req.body/headers/method/query/path` (T:45-53).
 *  6. `context` is a `FunctionContext` with fields `statusCode` (200), `cb`, `headerValues` ({}), `cbCalled`
 *     (0) (T:55-61). `status(code)` sets and returns the context; with a falsy argument it returns the
 *     current status (T:63-70). `headers(obj)` replaces the whole header map and returns the context; with a
 *     falsy argument it returns the map (T:72-79). `succeed(v)` counts a call and calls `cb(undefined, v)`
 *     (T:81-85). `fail(v)` sets the status to 500 when it is `== "200"`, counts a call and calls `cb(v,
 *     undefined)` (T:87-95); so `fail()` with no value answers 500 with an empty body.
 *  7. The handler is called as `handler(event, context, cb)` (T:120), where `cb(err, result)` is the raw
 *     callback: calling it does not count as a call, so a callback-style handler is also answered a second
 *     time with its return value (see 11).
 *  8. `cb(err)` with a truthy `err`: logs it (console.error) and sends `err.toString()` (or `err` itself when
 *     it has no toString) with `res.status(context.status())`, i.e. 200 unless the handler set a status; the
 *     context's headers are not applied (T:99-105).
 *  9. `cb(undefined, result)`: `res.set(context.headers()).status(context.status())`, then `send` of
 *     `JSON.stringify(result)` when `result`'s constructor is exactly `Array` or `Object` (T:37-43, T:107-109)
 *     and of `result` itself otherwise (T:110-114). Hence: objects and arrays go out as a JSON string, for
 *     which Express picks `text/html; charset=utf-8` unless the handler set a Content-Type; other objects
 *     (class instances, null-prototype objects), numbers and booleans go through Express's `res.json`
 *     (`application/json`); `null` and `undefined` give an empty body; Buffers `application/octet-stream`.
 *     `res.set` adds `; charset=utf-8` to a Content-Type that lacks one; Express 5's `res.status` throws on a
 *     status that is not an integer in 100..999 (a string '201' included).
 * 10. The handler's return value, awaited (`Promise.resolve`), goes to `context.succeed` if neither `succeed`
 *     nor `fail` was called (T:120-125); a rejection or a throw from that chain goes to `cb(err)` (T:126-128).
 * 11. A handler that throws synchronously (a non-async function) rejects the template's async middleware, and
 *     Express 5 sends the error to its default error handler: 500 and an HTML page (T:98, T:120).
 * 12. All methods and paths reach the handler (T:131).
 *
 * of-watchdog in front of it:
 * 13. `exec_timeout` (int seconds or a Go duration; D sets 10s, which is the default here; 0 disables): if
 *     the function has not sent its response headers by then, the answer is 504 with an empty body and
 *     `X-OpenFaaS-Internal: of-watchdog` (W:121-133, W:158-167). A request header `X-Timeout` (a Go duration)
 *     lowers the limit for one request when it is not above `exec_timeout` (W:210-222). A response whose
 *     headers went out but whose body had not ended is cut (the context cancels the body copy).
 * 14. Every response carries `X-Duration-Seconds` (`%f`, seconds with 6 decimals) (W:150, W:163, W:180).
 * 15. When the template's Node process died (an unhandled rejection, see below) of-watchdog answered 500 with
 *     an empty body and `X-OpenFaaS-Internal: of-watchdog` (W:144-155).
 *
 * What this runner does differently, on purpose:
 * - An exception thrown by `cb` inside the template's `.catch` (for example a second `succeed`, whose
 *   `res.set` throws ERR_HTTP_HEADERS_SENT, or a status Express rejects) is an unhandled rejection that kills
 *   the template's process and with it every request in flight. Here it is logged; the request it belonged
 *   to gets the 500 of rule 15 if it had no answer yet, and other requests are unaffected.
 * - After the 504 of rule 13, a late `succeed`/`cb` is dropped silently (the template wrote into a connection
 *   of-watchdog had already closed).
 * - A bad `exec_timeout`, `MAX_JSON_SIZE` or `MAX_RAW_SIZE` is an error listing every bad variable
 *   (`ConfigError`; config.ts reads them), where of-watchdog falls back to its default and body-parser to no
 *   limit at all.
 * - Not emulated: the request headers Go's HTTP client adds or rewrites on the way to the template
 *   (`User-Agent: Go-http-client/1.1` and `Accept-Encoding: gzip` when absent, header order, a chunked body
 *   instead of Content-Length), and Go's canonical capitalisation of response header names. The handler sees
 *   the client's request headers as they arrived.
 * - `X-Containerless-Retry`, the header the Containerless provider sets on a request it re-sends after its
 *   compiled dispatcher handed it back, is taken off the request before anything else sees it (the handler
 *   gets `event.headers` without it) and passed to `choose`, which traces such a request.
 * - Health (`/_/health`, `/_/ready`), `max_inflight`, metrics and logs of of-watchdog belong to the
 *   watchdog's server, which mounts this app behind them.
 *
 * Containerless-API handlers (`require('containerless')`) are served by the same app with the original
 * system's request and response shapes; see containerless-api.ts for those rules.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import Module, { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import vm from 'node:vm';
import bodyParser from 'body-parser';
import express from 'express';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { parseGoDuration } from '../lib/index.ts';
import { readRunnerConfig, type RunnerConfig } from './config.ts';
import { createContainerlessApi, RequestScope, runInRequest, type ListenCallback } from './containerless-api.ts';
import { RETRY_HEADER } from './contract.ts';

// ---------------------------------------------------------------------------------------------------------
// Loading handlers

export type HandlerKind = 'openfaas' | 'containerless';

/** The callback the template passes as the handler's third argument (T:99). */
export type FunctionCallback = (err?: unknown, functionResult?: unknown) => unknown;
export type HandlerFunction = (event: FunctionEvent, context: FunctionContext, callback: FunctionCallback) => unknown;

interface LoadedBase {
  /** Absolute folder of the handler. */
  readonly dir: string;
  /** Absolute file name the module was compiled as (stack traces, `__filename`, `require` base). */
  readonly filename: string;
}
/** `module.exports = async (event, context) => ...` */
export interface OpenfaasHandler extends LoadedBase {
  readonly kind: 'openfaas';
  readonly fn: HandlerFunction;
}
/** `require('containerless').listen(cb)` */
export interface ContainerlessHandler extends LoadedBase {
  readonly kind: 'containerless';
  readonly listener: ListenCallback;
}
export type LoadedHandler = OpenfaasHandler | ContainerlessHandler;

export type HandlerLoadErrorCode =
  'HANDLER_NOT_FOUND' | 'HANDLER_SYNTAX' | 'HANDLER_THREW' | 'HANDLER_NOT_A_FUNCTION' | 'HANDLER_NO_LISTEN' | 'HANDLER_BAD_OPTION';

export class HandlerLoadError extends Error {
  override readonly name = 'HandlerLoadError';
  constructor(
    readonly code: HandlerLoadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface LoadOptions {
  /** Replaces the file's text (an instrumented copy of the same handler). */
  source?: string;
  /** Extra free variables for the module code, passed as extra parameters of the module wrapper. */
  inject?: Record<string, unknown>;
  /** The module's file, relative to `dir` or absolute; default `handler.js`. */
  filename?: string;
}

const WRAPPER_PARAMS = ['exports', 'require', 'module', '__filename', '__dirname'];
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `module.paths` as Node computes it: node_modules of the folder and of every parent. */
function nodeModulePaths(from: string): string[] {
  const paths: string[] = [];
  for (let d = resolve(from); ; d = dirname(d)) {
    if (basename(d) !== 'node_modules') paths.push(join(d, 'node_modules'));
    if (dirname(d) === d) return paths;
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return 'an empty object (nothing was assigned to module.exports)';
    return `an object with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}`;
  }
  return `a ${typeof v} (${String(v).slice(0, 40)})`;
}

/**
 * Loads `<dir>/handler.js` (or `opts.filename`) as a CommonJS module in this process. `require` resolves from
 * the module's folder (its node_modules, then the parents'); `require('containerless')` returns a fresh
 * Containerless API shim and makes the handler of kind 'containerless'. The module is not put in
 * `require.cache`, so loading a file twice (say, plain and instrumented) gives two independent instances.
 */
export function loadHandler(dir: string, opts: LoadOptions = {}): LoadedHandler {
  const absDir = resolve(dir);
  const filename = resolve(absDir, opts.filename ?? 'handler.js');
  const inject = opts.inject ?? {};
  const injectNames = Object.keys(inject);
  for (const name of injectNames) {
    if (!IDENTIFIER.test(name) || WRAPPER_PARAMS.includes(name)) {
      throw new HandlerLoadError('HANDLER_BAD_OPTION', `cannot inject '${name}': it must be an identifier other than ${WRAPPER_PARAMS.join(', ')}`);
    }
  }

  let source = opts.source;
  if (source === undefined) {
    try {
      source = readFileSync(filename, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new HandlerLoadError('HANDLER_NOT_FOUND', `cannot read handler ${filename} (${code})`, { cause: err });
    }
  }
  // As Node's CommonJS loader: drop a byte order mark; a shebang line becomes a comment of the same length,
  // so lines and columns stay where they were.
  if (source.charCodeAt(0) === 0xfeff) source = source.slice(1);
  if (source.startsWith('#!')) source = '//' + source.slice(2);

  let compiled: (...args: unknown[]) => unknown;
  try {
    const importLoader = (vm.constants as unknown as { USE_MAIN_CONTEXT_DEFAULT_LOADER?: symbol } | undefined)?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
    compiled = vm.compileFunction(source, [...WRAPPER_PARAMS, ...injectNames], {
      filename,
      ...(importLoader ? { importModuleDynamically: importLoader as never } : {}),
    }) as (...args: unknown[]) => unknown;
  } catch (err) {
    const where = err instanceof Error && err.stack ? err.stack.split('\n')[0] : filename;
    throw new HandlerLoadError('HANDLER_SYNTAX', `cannot compile handler ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const shim = createContainerlessApi();
  let usesContainerless = false;
  const baseRequire = createRequire(filename);
  const requireFn = ((id: string): unknown => {
    if (id === 'containerless') {
      usesContainerless = true;
      return shim.api;
    }
    return baseRequire(id);
  }) as NodeJS.Require;
  requireFn.resolve = baseRequire.resolve;
  requireFn.cache = baseRequire.cache;
  requireFn.extensions = baseRequire.extensions;
  requireFn.main = baseRequire.main;

  const mod = new Module(filename);
  mod.filename = filename;
  mod.paths = nodeModulePaths(dirname(filename));
  mod.require = requireFn;

  try {
    compiled.call(mod.exports, mod.exports, requireFn, mod, filename, dirname(filename), ...injectNames.map((n) => inject[n]));
  } catch (err) {
    throw new HandlerLoadError('HANDLER_THREW', `handler ${filename} threw while loading: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  mod.loaded = true;

  if (usesContainerless) {
    const listener = shim.listener();
    if (!listener) {
      throw new HandlerLoadError('HANDLER_NO_LISTEN', `handler ${filename} requires 'containerless' but did not call listen(callback) while loading`);
    }
    return { kind: 'containerless', dir: absDir, filename, listener };
  }
  const exported: unknown = mod.exports;
  if (typeof exported === 'function') return { kind: 'openfaas', dir: absDir, filename, fn: exported as HandlerFunction };
  throw new HandlerLoadError(
    'HANDLER_NOT_A_FUNCTION',
    `handler ${filename} exports ${describeValue(exported)}; expected a function (module.exports = async (event, context) => ...) or a call of require('containerless').listen(callback)`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// The template's event and context (rules 5-6). Field declaration order is the template's assignment
// order, so `Object.keys(event)` and `JSON.stringify(context)` come out the same.

export class FunctionEvent {
  body: unknown;
  headers: IncomingHttpHeaders;
  method: string;
  query: unknown;
  path: string;

  constructor(req: Request) {
    this.body = req.body;
    this.headers = req.headers;
    this.method = req.method;
    this.query = req.query;
    this.path = req.path;
  }
}

export class FunctionContext {
  statusCode: unknown;
  cb: FunctionCallback;
  headerValues: unknown;
  cbCalled: number;

  constructor(cb: FunctionCallback) {
    this.statusCode = 200;
    this.cb = cb;
    this.headerValues = {};
    this.cbCalled = 0;
  }

  status(statusCode?: unknown): unknown {
    if (!statusCode) {
      return this.statusCode;
    }
    this.statusCode = statusCode;
    return this;
  }

  headers(value?: unknown): unknown {
    if (!value) {
      return this.headerValues;
    }
    this.headerValues = value;
    return this;
  }

  succeed(value?: unknown): void {
    this.cbCalled++;
    this.cb(undefined, value);
  }

  fail(value?: unknown): void {
    // Loose equality on purpose: the template compares `this.status() == "200"`.
    if (this.status() == '200') {
      this.status(500);
    }
    this.cbCalled++;
    this.cb(value, undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The app

/** Which handler serves a request, and what to run around its invocation (for example a tracer). */
export interface Invocation {
  handler: LoadedHandler;
  /**
   * Called with the whole invocation; `fn`'s promise settles only when the response has been produced (or
   * the request failed, timed out or its client went away). Must call `fn` once and return its promise.
   */
  around?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** What the runner took off a request before anyone else saw it. */
export interface RequestMarks {
  /** The value of `X-Containerless-Retry` (the provider re-sent a request its dispatcher handed back: the
   *  fallback kind), or undefined when the request did not carry it. */
  retry?: string;
}

export interface RunnerOptions {
  handler: LoadedHandler;
  /** Picks per request, before the body is parsed; default: always `{handler}`. */
  choose?: (req: Request, marks: RequestMarks) => Invocation;
  /** Default: process.env. Read once, when the app is built. */
  env?: NodeJS.ProcessEnv;
  /** Where handler errors and exec timeouts are logged; default console.error, as the template does. */
  logError?: (err: unknown) => void;
}

/** Logged when of-watchdog's exec_timeout answers 504 for a request. */
export class ExecTimeoutError extends Error {
  override readonly name = 'ExecTimeoutError';
  readonly code = 'EXEC_TIMEOUT';
  constructor(
    readonly timeoutMs: number,
    readonly method: string,
    readonly url: string,
  ) {
    super(`${method} ${url}: no response within exec_timeout ${timeoutMs}ms, answered 504`);
  }
}

/** Per-request watchdog state. */
interface Exchange {
  timeoutMs: number;
  timedOut: boolean;
  invocation?: Invocation;
}

const exchanges = new WeakMap<Request, Exchange>();

function exchangeOf(req: Request): Exchange {
  const ex = exchanges.get(req);
  if (!ex) throw new Error('runner: request has no exchange (middleware order)');
  return ex;
}

/** Resolves once the response has been written out or the connection closed. */
function responseSettled(res: Response): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((done) => {
    res.once('finish', () => done());
    res.once('close', () => done());
  });
}

/** Rule 14: `X-Duration-Seconds` on every response, measured when the headers go out. */
function addDurationHeader(res: Response, started: bigint): void {
  const writeHead = res.writeHead as (...args: unknown[]) => Response;
  res.writeHead = function (this: Response, ...args: unknown[]): Response {
    if (!this.headersSent) {
      this.setHeader('X-Duration-Seconds', (Number(process.hrtime.bigint() - started) / 1e9).toFixed(6));
    }
    return writeHead.apply(this, args);
  } as Response['writeHead'];
}

/**
 * Rules 13-14 (exec timeout, duration header, as of-watchdog wraps every request), rule 2 (the default
 * Content-Type) and the choice of handler, in one layer: every request passes it, and each express layer
 * costs a router step.
 */
function watchdogLayer(cfg: RunnerConfig, logError: (err: unknown) => void, choose: (req: Request, marks: RequestMarks) => Invocation): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    addDurationHeader(res, started);
    let timeoutMs = cfg.execTimeoutMs;
    const asked = req.headers['x-timeout'];
    if (typeof asked === 'string' && asked.length > 0) {
      const ms = parseGoDuration(asked);
      if (ms !== undefined && ms <= timeoutMs) timeoutMs = ms;
    }
    const ex: Exchange = { timeoutMs, timedOut: false };
    exchanges.set(req, ex);
    if (timeoutMs > 0) {
      const timer = setTimeout(() => {
        if (res.headersSent) {
          if (!res.writableEnded) res.destroy();
          return;
        }
        ex.timedOut = true;
        logError(new ExecTimeoutError(timeoutMs, req.method, req.originalUrl));
        res.status(504).set('X-OpenFaaS-Internal', 'of-watchdog').end();
      }, timeoutMs);
      const clear = () => clearTimeout(timer);
      res.once('finish', clear);
      res.once('close', clear);
    }
    // Rule 2 (T:19-27).
    if (!req.headers['content-type']) req.headers['content-type'] = 'text/plain';
    ex.invocation = choose(req, takeMarks(req));
    next();
  };
}

/**
 * Removes the provider's `X-Containerless-Retry` header from the request (`headers` and `rawHeaders`), so
 * neither the handler (`event.headers`) nor the Containerless API path sees it, and returns its value.
 */
function takeMarks(req: Request): RequestMarks {
  const value = req.headers[RETRY_HEADER];
  if (value === undefined) return {};
  delete req.headers[RETRY_HEADER];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i].toLowerCase() === RETRY_HEADER) raw.splice(i, 2);
  return { retry: Array.isArray(value) ? value.join(', ') : value };
}

/** Rule 15: what a client saw when the template's process died under a request. */
function answerAsCrashed(res: Response): void {
  if (res.headersSent) return;
  res.status(500).set('X-OpenFaaS-Internal', 'of-watchdog').end();
}

// T:37-43
const isArray = (a: any): boolean => !!a && a.constructor === Array;
const isObject = (a: any): boolean => !!a && a.constructor === Object;

/** Rules 7-11: the template's middleware (T:98-129) for one request. */
function serveOpenfaas(
  handler: OpenfaasHandler,
  req: Request,
  res: Response,
  next: NextFunction,
  ex: Exchange,
  logError: (err: unknown) => void,
): Promise<void> {
  const settled = responseSettled(res);

  // T:99-115. `any` because handlers are plain JS: these are the template's own operations on any value.
  const cb: FunctionCallback = (err: any, functionResult?: any): unknown => {
    if (ex.timedOut) return undefined;
    if (err) {
      logError(err);
      return res.status(fnContext.status() as any).send(err.toString ? err.toString() : err);
    }
    if (isArray(functionResult) || isObject(functionResult)) {
      res
        .set(fnContext.headers() as any)
        .status(fnContext.status() as any)
        .send(JSON.stringify(functionResult));
    } else {
      res
        .set(fnContext.headers() as any)
        .status(fnContext.status() as any)
        .send(functionResult);
    }
    return undefined;
  };

  const fnEvent = new FunctionEvent(req);
  const fnContext = new FunctionContext(cb);

  let returned: unknown;
  try {
    returned = handler.fn(fnEvent, fnContext, cb);
  } catch (err) {
    next(err); // rule 11
    return settled;
  }
  Promise.resolve(returned)
    .then((result) => {
      if (!fnContext.cbCalled) {
        fnContext.succeed(result);
      }
    })
    .catch((e) => {
      cb(e);
    })
    .catch((err) => {
      logError(err);
      answerAsCrashed(res);
    });
  return settled;
}

/** The Containerless API's request and response shapes (containerless-api.ts). */
function serveContainerless(
  handler: ContainerlessHandler,
  req: Request,
  res: Response,
  next: NextFunction,
  ex: Exchange,
  logError: (err: unknown) => void,
): Promise<void> {
  const settled = responseSettled(res);
  const signal = ex.timeoutMs > 0 ? AbortSignal.timeout(ex.timeoutMs) : undefined;
  const scope = new RequestScope(
    {
      send: (r) => {
        if (res.headersSent || ex.timedOut) return;
        res.status(200).set('Content-Type', r.contentType).send(r.body);
      },
      fail: (err) => {
        if (res.headersSent || ex.timedOut) logError(err);
        else next(err);
      },
      log: logError,
    },
    signal,
  );
  const bodyless = req.method === 'GET' || req.method === 'HEAD';
  const request = {
    path: req.path === '/' ? '' : req.path,
    query: req.query as unknown,
    body: bodyless ? {} : ((req.body as unknown) ?? {}),
  };
  runInRequest(scope, () => handler.listener(request));
  return settled;
}

/** Runs `run` inside the invocation's `around`; a failure of `around` itself becomes a 500 if nothing was sent. */
function invoke(inv: Invocation, run: () => Promise<void>, res: Response, next: NextFunction, logError: (err: unknown) => void): void {
  let p: Promise<void>;
  try {
    p = inv.around ? inv.around(run) : run();
  } catch (err) {
    p = Promise.reject(err);
  }
  p.catch((err: unknown) => {
    if (res.headersSent) logError(err);
    else next(err);
  });
}

/**
 * An Express app that serves every method and path with the chosen handler, as the stock node22 template
 * behind of-watchdog does (see the rules at the top of this file). It does not listen: the watchdog's
 * server mounts it (after its health routes) or tests call `app.listen(0)`.
 */
export function createRunnerApp(opts: RunnerOptions): Express {
  const cfg = readRunnerConfig(opts.env ?? process.env);
  const logError = opts.logError ?? ((err: unknown) => console.error(err));
  const choose = opts.choose ?? ((): Invocation => ({ handler: opts.handler }));

  const app = express();
  app.disable('x-powered-by');
  app.set('env', cfg.nodeEnv);

  app.use(watchdogLayer(cfg, logError, choose));

  // The plain and the instrumented handler come from the same file, so every request is of the loaded
  // handler's kind: only that kind's parsers and server are mounted.
  if (opts.handler.kind === 'openfaas') {
    const parsers: RequestHandler[] = cfg.rawBody
      ? [bodyParser.raw({ type: '*/*', limit: cfg.rawLimit })]
      : [bodyParser.text({ type: 'text/*' }), bodyParser.json({ limit: cfg.jsonLimit }), bodyParser.urlencoded({ extended: true })];
    app.use(...parsers, (req: Request, res: Response, next: NextFunction) => {
      const ex = exchangeOf(req);
      const inv = ex.invocation!;
      invoke(inv, () => serveOpenfaas(inv.handler as OpenfaasHandler, req, res, next, ex, logError), res, next, logError);
    });
  } else {
    // The original's dispatcher always forwarded `Content-Type: application/json`, so every body is JSON.
    app.use(bodyParser.json({ type: () => true, limit: cfg.jsonLimit }), (req: Request, res: Response, next: NextFunction) => {
      const ex = exchangeOf(req);
      const inv = ex.invocation!;
      invoke(inv, () => serveContainerless(inv.handler as ContainerlessHandler, req, res, next, ex, logError), res, next, logError);
    });
  }
  return app;
}
