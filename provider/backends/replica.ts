/**
 * The local backend's `runner` replica (local_replica=runner): serves `<function-dir>` on 127.0.0.1:$port
 * with the watchdog's request listener (its `/_/health` and `/_/ready`, no lock file, no tracing, no
 * metrics port), in one process started through tsx, which starts faster than `containerless watchdog`.
 * SIGTERM fails health, stops accepting connections, lets requests in flight finish for up to 5 s, and
 * exits 0.
 *
 *   node --import tsx provider/backends/replica.ts <function-dir>
 */
import http from 'node:http';
import { listen } from '../../lib/index.ts';
import { createBareWatchdogApp, createRunnerApp, loadHandler, type LoadedHandler } from '../../watchdog/index.ts';

/** SIGTERM to exit at the latest; the provider's own grace before SIGKILL is longer. */
const DRAIN_MS = 5000;
/** No write_timeout of its own (the runner's exec_timeout still answers 504): the longest timer Node has. */
const NO_WRITE_TIMEOUT_MS = 2 ** 31 - 1;

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: replica.ts <function-dir>\n');
  process.exit(2);
}
const port = Number(process.env.port || 8080);
let handler: LoadedHandler;
try {
  handler = loadHandler(dir);
} catch (err) {
  // One line for the provider to report as the reason it did not start.
  process.stderr.write(`replica: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
const { listener, state } = createBareWatchdogApp(createRunnerApp({ handler }), NO_WRITE_TIMEOUT_MS);
const server = http.createServer(listener);
await listen(server, port, '127.0.0.1');
process.stderr.write(`replica listening on 127.0.0.1:${port} for ${handler.filename}\n`);

function shutdown(): void {
  state.accepting = false;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), DRAIN_MS).unref();
}
process.on('SIGTERM', shutdown);
// A provider killed without the chance to stop its replicas leaves them to init: exit rather than keep a
// port and run unsupervised.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();
