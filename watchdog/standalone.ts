/**
 * The watchdog as a program of its own: `node containerless-watchdog.mjs <function-dir>`, what the
 * node-containerless template's image runs. `npm run build:template` (scripts/build-template.ts) bundles this
 * file with the watchdog, the tracer and their npm dependencies into one file,
 * template/node-containerless/containerless-watchdog.mjs, which needs nothing but Node. From a checkout the
 * same server is `containerless watchdog <function-dir>`.
 */
import { parseArgs } from 'node:util';
import { runWatchdogCommand, WATCHDOG_HELP } from './main.ts';

/** The package version, written in by the bundle's build (esbuild `define`); absent when run from source. */
declare const CONTAINERLESS_VERSION: string | undefined;

const USAGE = 'node containerless-watchdog.mjs';

/** Runs the program on `argv` (without node and the script); resolves to the exit status. */
async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`${USAGE}: ${(err as Error).message} (see --help)\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${WATCHDOG_HELP.replace('containerless watchdog', USAGE)}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${typeof CONTAINERLESS_VERSION === 'string' ? CONTAINERLESS_VERSION : 'source'}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`${USAGE}: expected one <function-dir>, got ${positionals.length} arguments (see --help)\n`);
    return 2;
  }
  return runWatchdogCommand(positionals[0], { err: (text) => void process.stderr.write(text) });
}

const status = await main(process.argv.slice(2));
// Exit even if the handler left timers behind, once stdout has drained (it may be a pipe).
await new Promise<void>((done) => process.stdout.write('', () => done()));
process.exit(status);
