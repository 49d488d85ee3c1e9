/** The `containerless` CLI (bin/containerless.js runs it): `run` is the process, `main` the testable core. */
export { main, run, version } from './main.ts';
export type { CliIo } from './command.ts';
