/**
 * Shared by the differential suites: a handler folder served in this process as the watchdog serves it,
 * plain (the file as written) or instrumented (compiler `prepare` + a Tracer recording every request), and
 * the answers compared on status, content type and body bytes.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { prepare } from '../../../trace/index.ts';
import { readRequests, toHttpRequest, type HttpRequest } from '../../../harness/index.ts';
import { Tracer } from '../../../trace/index.ts';
import { createRunnerApp, loadHandler, type LoadedHandler } from '../../../watchdog/index.ts';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Served {
  port: number;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1: the plain module, or the instrumented one with every request traced. */
export async function serve(dir: string, mode: 'plain' | 'instrumented', file = 'handler.js'): Promise<Served> {
  let handler: LoadedHandler;
  let around: (<T>(fn: () => Promise<T>) => Promise<T>) | undefined;
  if (mode === 'plain') {
    handler = loadHandler(dir, { filename: file });
  } else {
    const prepared = prepare(readFileSync(join(dir, file), 'utf8'), file);
    const tracer = new Tracer(prepared, 'differential');
    handler = loadHandler(dir, { filename: file, source: prepared.instrumented, inject: { __cl: tracer.runtime } });
    around = (fn) => tracer.run(fn);
  }
  const app = createRunnerApp({ handler, choose: () => ({ handler, around }), logError: () => {} });
  const server: Server = http.createServer(app);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export function send(port: number, req: HttpRequest): Promise<Answer> {
  const headers: Record<string, string> = { host: '127.0.0.1:8080' };
  for (const [k, v] of req.headers) headers[k] = v;
  return new Promise((done, fail) => {
    const r = http.request({ host: '127.0.0.1', port, method: req.method, path: req.target, headers, agent: false, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    r.setTimeout(30_000, () => r.destroy(new Error('no answer within 30s')));
    r.on('error', fail);
    r.end(req.body);
  });
}

/** Status, content type and body as one comparable string. */
export function shown(a: Answer): string {
  return `${a.status} ${String(a.headers['content-type'] ?? '-')} ${a.body.toString('utf8')}`;
}

export function requestsOf(file: string): HttpRequest[] {
  return readRequests(file).map(toHttpRequest);
}

/**
 * Sends every request, in order, to a plain and an instrumented instance and returns the requests whose
 * answers differ, described. Module state evolves alike on both sides, since both see the same sequence.
 */
export async function plainVsInstrumented(dir: string, requests: HttpRequest[], file = 'handler.js'): Promise<string[]> {
  const plain = await serve(dir, 'plain', file);
  const instrumented = await serve(dir, 'instrumented', file);
  const diffs: string[] = [];
  try {
    for (const [i, r] of requests.entries()) {
      const a = await send(plain.port, r);
      const b = await send(instrumented.port, r);
      if (shown(a) !== shown(b)) diffs.push(`request ${i + 1} ${r.method} ${r.target}: plain ${shown(a)} | instrumented ${shown(b)}`);
    }
  } finally {
    await plain.close();
    await instrumented.close();
  }
  return diffs;
}
