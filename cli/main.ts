/**
 * The `containerless` command: argument parsing, help, and the process around the commands. Results go to
 * stdout, progress and logs to stderr; `--json` makes stdout one JSON line; exit 0 on success, 1 on failure,
 * 2 on usage errors. Every subcommand takes --help and --version.
 *
 *   containerless check <function-dir> --requests <file.jsonl> [--trace-first N] [--json]   (check.ts)
 *   containerless bench <function-dir> --requests <file.jsonl> [--json]                     (bench.ts)
 *   containerless compile <function-dir> --trace <trace.json> [-o <out-dir>] [--json]       (compile.ts)
 *   containerless up                                                                        (up.ts)
 *   containerless watchdog <function-dir>
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Console } from 'node:console';
import { bench } from './bench.ts';
import { check } from './check.ts';
import { CliUsageError, onePositional, type CliIo, type Command } from './command.ts';
import { compile } from './compile.ts';
import { status } from './status.ts';
import { up } from './up.ts';
// Each command loads its component when it runs: `watchdog` (the function's process) pays neither for the
// compiler nor for the provider's Kubernetes client, and `up` not for the compiler.

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const MAIN_HELP = `containerless: trace Node.js functions, compile them to safe Rust, fall back to Node on unseen paths

Usage: containerless <command> [options]

Commands:
  check <function-dir> --requests <file.jsonl>   trace, compile, and compare Node with Rust on every request
  bench <function-dir> --requests <file.jsonl>   what each request costs in Node and in Rust (CPU and wall, side by side)
  compile <function-dir> --trace <trace.json>    build the Rust dispatcher from a trace
  status <function> [--url <provider>]           where a function is in the promotion lifecycle (engine, compile, cost)
  up                                             run the OpenFaaS provider with the local backend
  watchdog <function-dir>                        serve a function as of-watchdog + the node template do, tracing it

Options:
  -h, --help      show help (also after a command: containerless check --help)
  --version       print the version

Exit status: 0 success, 1 failure (a divergence, a failed build, a crash), 2 usage error.`;

const watchdog: Command = {
  help: async () => (await import('../watchdog/index.ts')).WATCHDOG_HELP,
  options: {},
  async run(_values, positionals, io) {
    const dir = onePositional(positionals, '<function-dir>');
    const { runWatchdogCommand } = await import('../watchdog/index.ts');
    return runWatchdogCommand(dir, io);
  },
};

const COMMANDS: Record<string, Command> = { bench, check, compile, status, up, watchdog };

/** Runs the CLI on `argv` (without node and the script); resolves to the exit status. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const beforeDashes = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const wantsHelp = beforeDashes.includes('--help') || beforeDashes.includes('-h');
  const wantsVersion = beforeDashes.includes('--version');
  const [first, ...rest] = argv;
  const name = first === 'help' ? rest[0] : first;
  const command = name !== undefined ? COMMANDS[name] : undefined;

  if (wantsVersion) {
    io.out(`${version()}\n`);
    return 0;
  }
  if (first === undefined || (first.startsWith('-') && wantsHelp) || (first === 'help' && rest.length === 0)) {
    if (first === undefined) {
      io.err(`${MAIN_HELP}\n`);
      return 2;
    }
    io.out(`${MAIN_HELP}\n`);
    return 0;
  }
  if (!command) {
    const what = first === 'help' ? rest[0] : first;
    io.err(
      `containerless: unknown ${what.startsWith('-') ? 'option' : 'command'} '${what}' (commands: ${Object.keys(COMMANDS).join(', ')}; see containerless --help)\n`,
    );
    return 2;
  }
  if (wantsHelp || first === 'help') {
    io.out(`${typeof command.help === 'string' ? command.help : await command.help()}\n`);
    return 0;
  }

  try {
    const { values, positionals } = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
    return await command.run(values as Record<string, string | boolean | undefined>, positionals, io);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof CliUsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      const message = (err as Error).message.split('. To specify a positional')[0];
      io.err(`containerless ${name}: ${message}\n`);
      return 2;
    }
    io.err(`containerless ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/**
 * The process around `main`: stdout is kept for results (the handler's own console.log and writes go to
 * stderr, so `--json` output stays one line), SIGINT/SIGTERM abort the work (children are stopped), and the
 * process exits with the status even if a handler left timers behind.
 */
export async function run(argv: string[]): Promise<never> {
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = stderrWrite as typeof process.stdout.write;
  globalThis.console = new Console({ stdout: process.stderr, stderr: process.stderr });

  const controller = new AbortController();
  let signals = 0;
  let abortCode = 130;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    abortCode = sig === 'SIGINT' ? 130 : 143;
    if (signals > 1) process.exit(abortCode); // the exit hooks kill our children
    stderrWrite(`\ncontainerless: ${sig}, stopping\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const status = await main(argv, { out: (t) => void stdoutWrite(t), err: (t) => void stderrWrite(t), signal: controller.signal });
  // A server (`up`, `watchdog`) that stops cleanly on SIGTERM/SIGINT exits with its own status (0); work
  // cut short by a signal (check, compile) exits 130 or 143.
  const serving = argv[0] === 'up' || argv[0] === 'watchdog';
  const code = controller.signal.aborted && !(serving && status === 0) ? abortCode : status;
  // Let stdout drain before exiting (pipes to a parent process may be asynchronous).
  await new Promise<void>((done) => stdoutWrite('', () => done()));
  process.exit(code);
}
