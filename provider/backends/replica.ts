/**
 * A minimal replica process for the local backend, used until `containerless watchdog` is available (and
 * selectable with local_replica=runner afterwards): serves `<function-dir>` in-process with the watchdog's
 * runner on 127.0.0.1:$port, with of-watchdog's `/_/health` and `/_/ready`. SIGTERM fails health first,
 * then closes the server and exits 0.
 *
 *   node --import tsx provider/backends/replica.ts <function-dir>
 */
import express from 'express';
import { createRunnerApp, loadHandler } from '../../watchdog/index.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: replica.ts <function-dir>\n');
  process.exit(2);
}
const port = Number(process.env.port || 8080);
let handler: ReturnType<typeof loadHandler>;
try {
  handler = loadHandler(dir);
} catch (err) {
  // One line for the provider to report as the reason it did not start.
  process.stderr.write(`replica: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
let accepting = true;
const app = express();
app.disable('x-powered-by');
const health = (_req: express.Request, res: express.Response): void => {
  if (accepting) res.status(200).send('OK');
  else res.status(503).send('');
};
app.get('/_/health', health);
app.get('/_/ready', health);
app.use(createRunnerApp({ handler }));
const server = app.listen(port, '127.0.0.1', () => {
  process.stderr.write(`replica listening on 127.0.0.1:${port} for ${handler.filename}\n`);
});
function shutdown(): void {
  accepting = false;
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', shutdown);
// A provider killed without the chance to stop its replicas leaves them to init: exit rather than keep a
// port and run unsupervised.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();
