/**
 * Serves one function's plain (uninstrumented) handler with the watchdog's in-process runner on a loopback
 * port, and prints the port on stdout. A child process of bench/compiled.ts, so that its CPU time can be
 * read from /proc apart from the benchmark's own.
 *
 *   node --import tsx bench/serve-node.ts <function-dir>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRunnerApp, loadHandler } from '../watchdog/index.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: serve-node.ts <function-dir>');
  process.exit(2);
}
const handler = loadHandler(dir);
const server = http.createServer(createRunnerApp({ handler, logError: () => {} }));
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  console.log(String((server.address() as AddressInfo).port));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
