/**
 * Serves one function's plain (uninstrumented) handler as the watchdog serves it (the watchdog's request
 * listener around its in-process runner) on a loopback port, and prints the port on stdout. `containerless
 * bench` runs it as a child process, so that the CPU time of Node's side can be read from /proc apart from
 * the benchmark's own.
 *
 *   node --import tsx harness/serve-node.ts <function-dir>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBareWatchdogApp, createRunnerApp, loadHandler } from '../watchdog/index.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: serve-node.ts <function-dir>');
  process.exit(2);
}
const handler = loadHandler(dir);
const watchdog = createBareWatchdogApp(createRunnerApp({ handler, logError: (err) => console.error(err) }), 60_000);
const server = http.createServer(watchdog.listener);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(String((server.address() as AddressInfo).port));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
// The benchmark's end (or death) closes our stdin: nothing outlives it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
