// A stand-in for of-watchdog in http mode, written for this project from the documented contract
// (docs/openfaas-contract.md §4), not from of-watchdog's code. It exists because the real
// of-watchdog cannot be installed here: the Go module proxy answers 403 for every of-watchdog version tried
// (see README, "Watchdog and template"). It is a Node process where the real one is a Go process, so it is
// a fair stand-in for behaviour but not for speed or memory; the benchmark says so next to its figures.
//
//   port=8080 upstream_url=http://127.0.0.1:3000 fprocess="node template-server.cjs" node watchdog-standin.js
//
// Documented behaviour it follows:
// - forks `fprocess` (split on single spaces, no shell) once, with the watchdog's environment, and proxies
//   every request to upstream_url + the request URI, headers and Host copied;
// - exec_timeout (int seconds or a Go duration, default 10s as the node template sets it; 0 disables):
//   504 with `X-OpenFaaS-Internal: of-watchdog` and an empty body; a request header X-Timeout no longer
//   than exec_timeout lowers it; an upstream error is a 500 with the same header;
// - response headers copied, plus `X-Duration-Seconds` (seconds, 6 decimals);
// - max_inflight: beyond it, 429 `Concurrent request limit exceeded. Max concurrent requests: N\n`,
//   Content-Type text/plain, `X-OpenFaaS-Internal: faas-middleware`;
// - `/_/health` 200 `OK` when the lock file `$TMPDIR/.lock` exists, else 503; `/_/ready` the same, plus 429
//   at the max_inflight limit; other methods 405;
// - SIGTERM: lock removed, health fails, then exit (the drain is not part of the comparison).
// Go's net/http gives short answers a Content-Length; so does the stand-in for the answers it makes itself.
// Difference: the lock file is written once the upstream accepts connections (of-watchdog writes it at
// once), so a test never sends a request to an upstream that is still starting.
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = process.env;
const port = Number(env.port || 8080);
const upstream = new URL(env.http_upstream_url || env.upstream_url || 'http://127.0.0.1:3000');
const maxInflight = Number(env.max_inflight || 0);
const lockFile = join(env.TMPDIR || tmpdir(), '.lock');

function parseDuration(text) {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const units = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  let rest = text;
  const part = /^(\d+(?:\.\d*)?)(ns|us|ms|s|m|h)/;
  if (rest === '0') return 0;
  while (rest.length > 0) {
    const m = part.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]];
    rest = rest.slice(m[0].length);
  }
  return text.length ? total : undefined;
}
const execTimeoutMs = parseDuration(env.exec_timeout || '10s') ?? 10000;

const fprocess = env.function_process || env.fprocess;
const child = spawn(fprocess.split(' ')[0], fprocess.split(' ').slice(1), { stdio: 'inherit', env });
child.on('exit', (code) => {
  console.error(`fprocess exited (${code})`);
  process.exit(1);
});

let inflight = 0;
let accepting = false;
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);

function forward(req, res) {
  const started = process.hrtime.bigint();
  const seconds = () => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(6);
  let timeoutMs = execTimeoutMs;
  const asked = req.headers['x-timeout'];
  if (asked) {
    const ms = parseDuration(asked);
    if (ms !== undefined && ms <= timeoutMs) timeoutMs = ms;
  }
  const headers = { ...req.headers };
  for (const h of hopByHop) delete headers[h];
  const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent });
  let timer;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      out.destroy();
      if (!res.headersSent) res.writeHead(504, { 'X-OpenFaaS-Internal': 'of-watchdog', 'X-Duration-Seconds': seconds(), 'Content-Length': '0' }).end();
      else res.destroy();
    }, timeoutMs);
  }
  out.on('response', (up) => {
    const copied = {};
    for (const [k, v] of Object.entries(up.headers)) if (!hopByHop.has(k)) copied[k] = v;
    copied['x-duration-seconds'] = seconds();
    res.writeHead(up.statusCode ?? 500, copied);
    up.pipe(res);
    up.on('end', () => clearTimeout(timer));
  });
  out.on('error', () => {
    clearTimeout(timer);
    if (!res.headersSent) res.writeHead(500, { 'X-OpenFaaS-Internal': 'of-watchdog', 'X-Duration-Seconds': seconds(), 'Content-Length': '0' }).end();
  });
  req.pipe(out);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

function healthy() {
  return accepting && existsSync(lockFile);
}

const server = http.createServer((req, res) => {
  const path = (req.url || '/').split('?')[0];
  if (path === '/_/health' || path === '/_/ready') {
    if (req.method !== 'GET') return res.writeHead(405).end();
    if (!healthy()) return res.writeHead(503).end();
    if (path === '/_/ready' && maxInflight > 0 && inflight >= maxInflight) return res.writeHead(429).end();
    return path === '/_/health' ? res.writeHead(200).end('OK') : res.writeHead(200).end();
  }
  inflight++;
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      inflight--;
    }
  };
  res.once('finish', finish);
  res.once('close', finish);
  if (maxInflight > 0 && inflight > maxInflight) {
    const text = `Concurrent request limit exceeded. Max concurrent requests: ${maxInflight}\n`;
    res.writeHead(429, { 'Content-Type': 'text/plain', 'X-OpenFaaS-Internal': 'faas-middleware', 'Content-Length': String(text.length) });
    res.end(text);
    return;
  }
  forward(req, res);
});

server.listen(port, '127.0.0.1', async () => {
  console.error(`watchdog stand-in listening on port: ${port}, upstream ${upstream.href}`);
  for (;;) {
    const up = await new Promise((resolve) => {
      const c = net.connect(Number(upstream.port), upstream.hostname, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  writeFileSync(lockFile, '');
  accepting = true;
});

process.on('SIGTERM', () => {
  accepting = false;
  rmSync(lockFile, { force: true });
  child.kill('SIGTERM');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
