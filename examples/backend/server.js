#!/usr/bin/env node
// The examples' backend: a small, deterministic HTTP service on 127.0.0.1 that the example functions call.
//
//   node examples/backend/server.js [--port N] [--delay-ms N]     (env BACKEND_PORT, BACKEND_DELAY_MS)
//
// Default port 7998, the port of the original system's benchmark backend
// (emilyaherbert/containerless:containerless/rust/local-database-agent). Prints
// `backend listening on http://127.0.0.1:PORT` on stderr when ready. Tests import `startBackend`.
//
// Every answer depends only on the request (no randomness, no clock, no `Date` header), so a function run
// in Node and the same function compiled to Rust get byte-identical answers. The original's benchmark
// backend had state and randomness, changed here on purpose:
//   - `GET /status` picked one of three commits at random; here it always answers the first one, and in
//     the `{commit: {sha}}` shape the status benchmark reads (the original answered `{sha}`, so the
//     benchmark always stopped at "No commit.").
//   - `POST /commit` stored the new balance; here it validates the transaction and answers "Done!", but
//     balances never change, so replaying a request gives the same answer.
//   - The answers of `POST /commit`, `POST /status` and `POST /upload` repeat what they were sent ("Done!
//     coffee now has 95.", "Done! 1234567890 is success.", "Done uploading 57 bytes!\n"), where the original
//     answered a constant ("Done!", "Done uploading!\n"). The benchmarks relay these texts, so a difference
//     in what a compiled function sends (a number printed differently, JSON serialised differently) shows
//     up in its answer instead of passing unseen.
//   - The original slept a random 0-9 ms per request (its "I/O"); here `--delay-ms N` adds a fixed delay.
// Routes are listed in ROUTES below and in examples/README.md.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const DEFAULT_PORT = 7998;
const HOST = '127.0.0.1';
const SLOW_MAX_MS = 200;

// ---------------------------------------------------------------------------------------------------------
// Data

/** The login benchmark's users (local-database-agent/src/main.rs). */
const LOGIN_USERS = {
  javascript: { username: 'javascript', password: 'rust' },
  emily: { username: 'emily', password: 'herbert' },
};

/** The status benchmark's commits; GET /status answers the first. */
const COMMITS = [{ sha: '1234567890' }, { sha: 'qwerty' }, { sha: 'z' }];

/** The banking benchmark's accounts, in cents (main.rs). */
const ACCOUNTS_CENTS = { coffee: 10000, tea: 1234500, milk: 66600 };
const TRANSACTION_ID = '135798642';

/** Users for the REST-style handlers: GET /users/:id, /users/:id/orders. */
const USERS = [
  { id: 1, name: 'Ada Lovelace', email: 'ada@example.com', role: 'admin', tier: 'gold', city: 'London', country: 'GB', tags: ['math', 'engines'], managerId: null, joined: '2019-03-14T09:26:53.000Z' },
  { id: 2, name: 'Grace Hopper', email: 'grace@example.com', role: 'editor', tier: 'gold', city: 'New York', country: 'US', tags: ['compilers', 'navy'], managerId: 1, joined: '2019-12-09T15:00:00.000Z' },
  { id: 3, name: 'Alan Turing', email: 'alan@example.com', role: 'viewer', tier: 'silver', city: 'Manchester', country: 'GB', tags: ['logic'], managerId: 1, joined: '2020-06-23T08:00:00.000Z' },
  { id: 4, name: 'Katherine Johnson', email: 'kj@example.com', role: 'editor', tier: 'silver', city: 'Hampton', country: 'US', tags: ['orbits', 'math', 'nasa'], managerId: 2, joined: '2021-08-26T12:30:00.000Z' },
  { id: 5, name: 'Edsger Dijkstra', email: 'ewd@example.com', role: 'viewer', tier: 'bronze', city: 'Nuenen', country: 'NL', tags: [], managerId: 2, joined: '2022-05-11T00:00:00.000Z' },
  { id: 6, name: 'Margaret Hamilton', email: 'mh@example.com', role: 'admin', tier: 'gold', city: 'Boston', country: 'US', tags: ['apollo', 'software'], managerId: null, joined: '2018-08-17T17:45:00.000Z' },
  { id: 7, name: 'Donald Knuth', email: 'dek@example.com', role: 'viewer', tier: 'bronze', city: 'Stanford', country: 'US', tags: ['tex', 'algorithms'], managerId: 6, joined: '2023-01-10T10:10:10.000Z' },
  { id: 8, name: 'Barbara Liskov', email: 'bl@example.com', role: 'editor', tier: 'silver', city: 'Cambridge', country: 'US', tags: ['types'], managerId: 6, joined: '2020-11-07T19:20:00.000Z' },
  { id: 9, name: 'Sophie Wilson', email: 'sw@example.com', role: 'viewer', tier: 'bronze', city: 'Cambridge', country: 'GB', tags: ['arm', 'chips'], managerId: 3, joined: '2024-02-29T23:59:59.000Z' },
  { id: 10, name: 'Radia Perlman', email: 'rp@example.com', role: 'viewer', tier: 'silver', city: 'Seattle', country: 'US', tags: ['networks'], managerId: 4, joined: '2021-03-01T06:00:00.000Z' },
];

/** Products: GET /products/:sku and GET /prices?ids=... (prices in the currency's major unit). */
const PRODUCTS = {
  'apple': { sku: 'apple', name: 'Apple', price: 0.5, currency: 'EUR', stock: 120, category: 'fruit' },
  'banana': { sku: 'banana', name: 'Banana', price: 0.25, currency: 'EUR', stock: 200, category: 'fruit' },
  'bread': { sku: 'bread', name: 'Sourdough bread', price: 3.2, currency: 'EUR', stock: 15, category: 'bakery' },
  'cheese': { sku: 'cheese', name: 'Comté 200g', price: 5.75, currency: 'EUR', stock: 0, category: 'dairy' },
  'coffee': { sku: 'coffee', name: 'Coffee beans 1kg', price: 18.9, currency: 'EUR', stock: 7, category: 'pantry' },
  'milk': { sku: 'milk', name: 'Milk 1l', price: 1.09, currency: 'EUR', stock: 40, category: 'dairy' },
  'tea': { sku: 'tea', name: 'Green tea (50 bags)', price: 4.35, currency: 'EUR', stock: 22, category: 'pantry' },
  'wine': { sku: 'wine', name: 'Red wine 0.75l', price: 11.99, currency: 'EUR', stock: 9, category: 'drinks' },
};

/** Orders per user: GET /users/:id/orders. */
const ORDERS = {
  1: [
    { id: 'o-1001', items: [{ sku: 'apple', qty: 6 }, { sku: 'bread', qty: 1 }], status: 'delivered' },
    { id: 'o-1002', items: [{ sku: 'coffee', qty: 1 }], status: 'shipped' },
  ],
  2: [{ id: 'o-2001', items: [{ sku: 'tea', qty: 2 }, { sku: 'milk', qty: 3 }, { sku: 'banana', qty: 5 }], status: 'pending' }],
  3: [],
  4: [{ id: 'o-4001', items: [{ sku: 'wine', qty: 2 }, { sku: 'cheese', qty: 1 }], status: 'cancelled' }],
  6: [
    { id: 'o-6001', items: [{ sku: 'bread', qty: 2 }], status: 'delivered' },
    { id: 'o-6002', items: [{ sku: 'apple', qty: 3 }, { sku: 'milk', qty: 1 }], status: 'delivered' },
    { id: 'o-6003', items: [{ sku: 'unknown-sku', qty: 1 }], status: 'pending' },
  ],
};

/** GET /config: settings a transformation handler merges with its input. */
const CONFIG = {
  version: 3,
  features: { search: true, export: false, beta: { enabled: false, allowList: ['ada@example.com'] } },
  limits: { pageSize: 20, maxPageSize: 100, rateLimit: null },
  locales: ['en', 'fr', 'nl'],
};

const TEXT = 'The quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs.\nHow vexingly quick daft zebras jump!\n';

// ---------------------------------------------------------------------------------------------------------
// Helpers

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

function send(res, status, contentType, text, extraHeaders = {}) {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'content-type': contentType, 'content-length': body.length, ...extraHeaders });
  res.end(body);
}

function json(res, status, value, extraHeaders) {
  send(res, status, JSON_TYPE, JSON.stringify(value), extraHeaders);
}

/** The original backend wrote its JSON answers by hand (`{ "body": "Done!" }`); the benchmarks only parse them. */
function rawJson(res, text) {
  send(res, 200, JSON_TYPE, text);
}

function text(res, status, value) {
  send(res, status, TEXT_TYPE, value);
}

function parseJson(raw) {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, value: undefined };
  }
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function findUser(idText) {
  if (!/^\d+$/.test(idText)) return undefined;
  return USERS.find((u) => u.id === Number(idText));
}

// ---------------------------------------------------------------------------------------------------------
// Routes: [method, pattern, handler(req, res, match, ctx)]; ctx = {query, raw}.

const ROUTES = [
  ['GET', /^\/$/, (req, res) => text(res, 200, "I don't understand this...\n")],
  ['GET', /^\/ready$/, (req, res) => text(res, 200, 'local database ready')],

  // --- login benchmark: POST /login {username, password} (rust/local), GET /login?username= (local-database-agent)
  ['POST', /^\/login$/, (req, res, m, { raw }) => {
    const p = parseJson(raw);
    if (!p.ok || !isObject(p.value) || typeof p.value.username !== 'string') return rawJson(res, '{ "body": "No username provided." }');
    if (!Object.hasOwn(LOGIN_USERS, p.value.username)) return rawJson(res, '{ "body": "User not found." }');
    return rawJson(res, JSON.stringify(LOGIN_USERS[p.value.username]));
  }],
  ['GET', /^\/login$/, (req, res, m, { query }) => {
    if (!query.has('username')) return rawJson(res, '{ "body": "No username in query." }');
    const name = query.get('username');
    if (!Object.hasOwn(LOGIN_USERS, name)) return rawJson(res, '{ "body": "User not found." }');
    return rawJson(res, JSON.stringify(LOGIN_USERS[name]));
  }],

  // --- status benchmark: GET /status, POST /status?sha= {state}
  ['GET', /^\/status$/, (req, res) => json(res, 200, { commit: COMMITS[0] })],
  ['POST', /^\/status$/, (req, res, m, { query, raw }) => {
    const p = parseJson(raw);
    const sha = query.get('sha');
    if (!p.ok || !isObject(p.value) || typeof p.value.state !== 'string' || !sha) return rawJson(res, '{ "body": "Sha not found." }');
    return json(res, 200, { body: `Done! ${sha} is ${p.value.state}.` });
  }],

  // --- upload benchmark: POST /upload with any JSON (rust/local accepted any body; nothing is written)
  ['POST', /^\/upload$/, (req, res, m, { raw }) => {
    if (!parseJson(raw).ok) return rawJson(res, '{ "error": "file not properly formatted\\n" }');
    return json(res, 200, { body: `Done uploading ${Buffer.byteLength(raw)} bytes!\n` });
  }],

  // --- banking benchmark: GET /begin, POST /balance {name}, POST /commit {transaction, mutation: {name, balance}}
  ['GET', /^\/begin$/, (req, res) => rawJson(res, `{ "transaction": "${TRANSACTION_ID}" }`)],
  ['POST', /^\/balance$/, (req, res, m, { raw }) => {
    const p = parseJson(raw);
    if (!p.ok || !isObject(p.value) || typeof p.value.name !== 'string') return rawJson(res, '{ "body": "No account number provided." }');
    if (!Object.hasOwn(ACCOUNTS_CENTS, p.value.name)) return rawJson(res, '{ "body": "Account not found." }');
    // As the original: whole units (integer division of the cents), printed as a number.
    return rawJson(res, `{ "balance": ${Math.trunc(ACCOUNTS_CENTS[p.value.name] / 100)} }`);
  }],
  ['POST', /^\/commit$/, (req, res, m, { raw }) => {
    const p = parseJson(raw);
    const t = p.value;
    const ok = p.ok && isObject(t) && typeof t.transaction === 'string' && isObject(t.mutation)
      && typeof t.mutation.name === 'string' && typeof t.mutation.balance === 'number';
    if (!ok) return rawJson(res, '{ "body": "No account number provided." }');
    if (!Object.hasOwn(ACCOUNTS_CENTS, t.mutation.name)) return rawJson(res, '{ "body": "Account not found." }');
    return json(res, 200, { body: `Done! ${t.mutation.name} now has ${t.mutation.balance}.` });
  }],

  // --- REST-style data for the OpenFaaS handlers
  ['GET', /^\/users$/, (req, res, m, { query }) => {
    const role = query.get('role');
    const list = USERS.filter((u) => role === null || u.role === role).map((u) => ({ id: u.id, name: u.name, role: u.role }));
    json(res, 200, { count: list.length, users: list });
  }],
  ['GET', /^\/users\/([^/]+)$/, (req, res, m) => {
    const user = findUser(m[1]);
    if (!user) return json(res, 404, { error: 'user not found', id: m[1] });
    json(res, 200, user);
  }],
  ['GET', /^\/users\/([^/]+)\/orders$/, (req, res, m) => {
    const user = findUser(m[1]);
    if (!user) return json(res, 404, { error: 'user not found', id: m[1] });
    json(res, 200, { userId: user.id, orders: ORDERS[user.id] ?? [] });
  }],
  ['GET', /^\/products\/([^/]+)$/, (req, res, m) => {
    const sku = decodeURIComponent(m[1]);
    if (!Object.hasOwn(PRODUCTS, sku)) return json(res, 404, { error: 'product not found', sku });
    json(res, 200, PRODUCTS[sku]);
  }],
  ['GET', /^\/prices$/, (req, res, m, { query }) => {
    const ids = (query.get('ids') ?? '').split(',').filter((s) => s !== '');
    if (ids.length === 0) return json(res, 400, { error: 'ids is required', example: '/prices?ids=apple,bread' });
    if (ids.length > 20) return json(res, 400, { error: 'at most 20 ids', count: ids.length });
    const prices = {};
    const missing = [];
    for (const id of ids) {
      if (Object.hasOwn(PRODUCTS, id)) prices[id] = PRODUCTS[id].price;
      else missing.push(id);
    }
    json(res, 200, { currency: 'EUR', prices, missing });
  }],
  ['GET', /^\/config$/, (req, res) => json(res, 200, CONFIG)],
  ['POST', /^\/echo$/, (req, res, m, { raw, query }) => {
    const p = parseJson(raw);
    if (!p.ok) return json(res, 400, { error: 'invalid JSON body', bytes: Buffer.byteLength(raw) });
    json(res, 200, { echo: p.value, query: Object.fromEntries(query), bytes: Buffer.byteLength(raw) });
  }],
  ['GET', /^\/text$/, (req, res, m, { query }) => {
    const name = query.get('name');
    text(res, 200, name === null ? TEXT : `Hello, ${name}!\n`);
  }],
  ['GET', /^\/slow$/, async (req, res, m, { query }) => {
    const asked = Number(query.get('ms') ?? '0');
    const ms = Number.isFinite(asked) ? Math.min(Math.max(Math.trunc(asked), 0), SLOW_MAX_MS) : 0;
    await sleep(ms);
    json(res, 200, { slept: ms });
  }],
  // Answers with the status it is asked for (400-599) and a JSON error body, for error-handling paths.
  ['GET', /^\/fail\/(\d{3})$/, (req, res, m) => {
    const status = Number(m[1]);
    if (status < 400 || status > 599) return json(res, 400, { error: 'status must be 400-599', status });
    const message = { 400: 'bad request', 401: 'unauthorized', 403: 'forbidden', 404: 'not found', 409: 'conflict', 429: 'too many requests', 500: 'internal error', 502: 'bad gateway', 503: 'unavailable' }[status] ?? 'error';
    json(res, status, { error: message, status });
  }],
];

/** For examples/README.md and tests: "METHOD /path" of every route. */
export const ROUTE_LIST = ROUTES.map(([method, re]) => `${method} ${re.source.replace(/^\^|\$$/g, '').replace(/\\\//g, '/').replace(/\(\[\^\/\]\+\)/g, ':param').replace(/\(\\d\{3\}\)/g, ':status')}`);

async function handle(req, res, delayMs) {
  const url = new URL(req.url, 'http://backend.invalid');
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8');
  let pathFound = false;
  for (const [method, re, fn] of ROUTES) {
    const m = re.exec(url.pathname);
    if (!m) continue;
    pathFound = true;
    if (method !== req.method && !(method === 'GET' && req.method === 'HEAD')) continue;
    if (delayMs > 0 && url.pathname !== '/ready') await sleep(delayMs);
    return fn(req, res, m, { query: url.searchParams, raw });
  }
  if (pathFound) {
    const allow = ROUTES.filter(([, re]) => re.test(url.pathname)).map(([method]) => method).join(', ');
    return json(res, 405, { error: 'method not allowed', method: req.method, path: url.pathname }, { allow });
  }
  return json(res, 404, { error: 'not found', method: req.method, path: url.pathname });
}

/**
 * Starts the backend on 127.0.0.1. `port: 0` picks a free port. `delayMs` adds a fixed delay before every
 * answer (except /ready), to make functions I/O bound in benchmarks.
 */
export function startBackend({ port = DEFAULT_PORT, delayMs = 0 } = {}) {
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      res.sendDate = false; // no Date header: answers must not depend on the clock
      handle(req, res, delayMs).catch((err) => {
        if (!res.headersSent) json(res, 500, { error: 'backend failure', message: String(err && err.message) });
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5000;
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      const actual = server.address().port;
      resolve({
        url: `http://${HOST}:${actual}`,
        port: actual,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function parseArgs(argv, env) {
  const opts = { port: DEFAULT_PORT, delayMs: 0 };
  if (env.BACKEND_PORT !== undefined && env.BACKEND_PORT !== '') opts.port = Number(env.BACKEND_PORT);
  if (env.BACKEND_DELAY_MS !== undefined && env.BACKEND_DELAY_MS !== '') opts.delayMs = Number(env.BACKEND_DELAY_MS);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--port') opts.port = Number(value());
    else if (flag === '--delay-ms') opts.delayMs = Number(value());
    else if (flag === '--help' || flag === '-h') return { help: true };
    else return { error: `unknown argument ${a}` };
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) return { error: 'port must be an integer 0-65535' };
  if (!Number.isFinite(opts.delayMs) || opts.delayMs < 0) return { error: 'delay-ms must be a number >= 0' };
  return { opts };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const parsed = parseArgs(process.argv.slice(2), process.env);
  if (parsed.help || parsed.error) {
    if (parsed.error) process.stderr.write(`backend: ${parsed.error}\n`);
    process.stderr.write('usage: node examples/backend/server.js [--port N] [--delay-ms N]   (env BACKEND_PORT, BACKEND_DELAY_MS; default port 7998)\n');
    process.exit(parsed.error ? 2 : 0);
  }
  startBackend(parsed.opts).then(
    (b) => {
      process.stderr.write(`backend listening on ${b.url}\n`);
      const stop = () => b.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err) => {
      process.stderr.write(`backend: cannot listen on ${HOST}:${parsed.opts.port}: ${err.message}\n`);
      process.exit(1);
    },
  );
}
