/**
 * The `containerless` command. Results go to stdout, progress and logs to stderr; `--json` makes stdout one
 * JSON line; exit 0 on success, 1 on failure, 2 on usage errors. Every subcommand takes --help and --version.
 *
 *   containerless check <function-dir> --requests <file.jsonl> [--trace-first N] [--json]
 *   containerless compile <function-dir> --trace <trace.json> [-o <out-dir>] [--json]
 */
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Console } from 'node:console';
import { createHash } from 'node:crypto';
import type { CheckSummary } from './check.ts';
import type { TraceIR } from './ir.ts';
// Each command loads its own modules when it runs: `watchdog` (the function's process) pays neither for the
// compiler nor for the provider's Kubernetes client, and `up` not for the compiler.

export interface CliIo {
  /** Writes to stdout (results). */
  out(text: string): void;
  /** Writes to stderr (progress, logs, errors). */
  err(text: string): void;
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const MAIN_HELP = `containerless: trace Node.js functions, compile them to safe Rust, fall back to Node on unseen paths

Usage: containerless <command> [options]

Commands:
  check <function-dir> --requests <file.jsonl>   trace, compile, and compare Node with Rust on every request
  compile <function-dir> --trace <trace.json>    build the Rust dispatcher from a trace
  up                                             run the OpenFaaS provider with the local backend
  watchdog <function-dir>                        serve a function as of-watchdog + the node template do, tracing it

Options:
  -h, --help      show help (also after a command: containerless check --help)
  --version       print the version

Exit status: 0 success, 1 failure (a divergence, a failed build, a crash), 2 usage error.`;

const CHECK_HELP = `Usage: containerless check <function-dir> --requests <file.jsonl> [--trace-first N] [--json]

Traces the function (<function-dir>/handler.js) on the first N requests, compiles the trace to Rust, builds
the dispatcher (cached in $CONTAINERLESS_CACHE, default ~/.cache/containerless), then sends every request to
Node and to the dispatcher and compares status, content type and body bytes.

Options:
  --requests <file>    JSON lines, one request each: {"method":"POST","path":"/x","query":{"k":"v"},
                       "headers":{...},"body":...}; only method and path are required; # comments allowed
  --trace-first <N>    trace only the first N requests (default: all); the rest exercise fallback
  --json               print only the result line on stdout
  -h, --help           show this help
  --version            print the version

Output: a per-request table on stderr (rust, fallback(reason at file:line:col), DIVERGED); the last line of
stdout is {"requests":n,"rust":r,"fallback":f,"diverged":d,"diagnostics":[...]}.
Exit status: 0 when no request diverged and nothing crashed, 1 otherwise, 2 usage error.`;

const COMPILE_HELP = `Usage: containerless compile <function-dir> --trace <trace.json> [-o <out-dir>] [--json]

Generates Rust from a trace (the trace IR a watchdog publishes) of <function-dir>/handler.js and builds the
dispatcher. Prints the binary's path. With -o, copies the binary and its main.rs into <out-dir>.

Options:
  --trace <file>       the trace (format "containerless-trace", version 1)
  -o, --out <dir>      where to put the binary (<dir>/fn-<name>) and main.rs
  --json               print one JSON line {"binary","seconds","functions","diagnostics"}
  -h, --help           show this help
  --version            print the version

Exit status: 0 built, 1 build failed, 2 usage error (including a trace that is invalid or of another handler.js).`;

interface Command {
  help: string | (() => Promise<string>);
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[], io: CliIo): Promise<number>;
}

class CliUsageError extends Error {
  readonly code = 'E_USAGE';
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length === 0) throw new CliUsageError(`missing ${what}`);
  if (positionals.length > 1) throw new CliUsageError(`unexpected argument '${positionals[1]}'`);
  return positionals[0];
}

const check: Command = {
  help: CHECK_HELP,
  options: {
    requests: { type: 'string' },
    'trace-first': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const { runCheck, UsageError } = await import('./check.ts');
    const dir = onePositional(positionals, '<function-dir>');
    const requests = values.requests as string | undefined;
    if (!requests) throw new CliUsageError('missing --requests <file.jsonl>');
    let traceFirst: number | undefined;
    if (values['trace-first'] !== undefined) {
      const text = values['trace-first'] as string;
      if (!/^\d+$/.test(text)) throw new CliUsageError(`--trace-first must be a whole number, not '${text}'`);
      traceFirst = Number(text);
    }
    let summary: CheckSummary;
    try {
      summary = await runCheck({ dir, requests, traceFirst, signal: io.signal }, { err: (l) => io.err(`${l}\n`) });
    } catch (err) {
      if (err instanceof UsageError) throw new CliUsageError(err.message);
      throw err;
    }
    if (!values.json) {
      io.out(`${dir}: ${summary.requests} requests: ${summary.rust} rust, ${summary.fallback} fallback, ${summary.diverged} diverged${summary.diagnostics.length ? `, ${summary.diagnostics.length} diagnostics` : ''}${summary.error ? ` (error: ${summary.error})` : ''}\n`);
    }
    io.out(`${JSON.stringify(summary)}\n`);
    return summary.diverged === 0 && summary.error === undefined ? 0 : 1;
  },
};

const compile: Command = {
  help: COMPILE_HELP,
  options: {
    trace: { type: 'string' },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const [{ buildDispatcher, BuildError, crateName }, { generateRust }, { formatDiagnostic }, { validateTrace }] = await Promise.all([
      import('./build.ts'),
      import('./codegen.ts'),
      import('./diagnostics.ts'),
      import('./tree.ts'),
    ]);
    const dir = resolve(onePositional(positionals, '<function-dir>'));
    const traceFile = values.trace as string | undefined;
    if (!traceFile) throw new CliUsageError('missing --trace <trace.json>');
    const handlerFile = join(dir, 'handler.js');
    if (!existsSync(handlerFile)) throw new CliUsageError(`${positionals[0]}: no handler.js in the function folder`);
    if (!existsSync(traceFile)) throw new CliUsageError(`${traceFile}: no such trace file`);
    let trace: TraceIR;
    try {
      trace = JSON.parse(await readFile(traceFile, 'utf8')) as TraceIR;
    } catch (err) {
      throw new CliUsageError(`${traceFile}: not JSON (${(err as Error).message})`);
    }
    const invalid = validateTrace(trace);
    if (invalid) throw new CliUsageError(`${traceFile}: ${invalid}`);
    const sha = createHash('sha256').update(await readFile(handlerFile, 'utf8')).digest('hex');
    if (sha !== trace.source.sha256) {
      throw new CliUsageError(`${traceFile}: the trace was taken from another version of handler.js (sha256 ${trace.source.sha256.slice(0, 12)}, this one is ${sha.slice(0, 12)})`);
    }

    const name = trace.function;
    const started = Date.now();
    const generated = generateRust(trace, { name });
    for (const d of generated.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
    io.err(`== generated ${generated.functions} Rust functions from ${trace.requests} traced requests; building the dispatcher\n`);
    let built: { binary: string; seconds: number };
    try {
      built = await buildDispatcher(generated.main, { name, onProgress: (l) => io.err(`   ${l}\n`), signal: io.signal });
    } catch (err) {
      if (!(err instanceof BuildError)) throw err;
      if (err.output.length > 0) io.err(`--- last ${err.output.length} lines of cargo's output\n${err.output.join('\n')}\n---\n`);
      io.err(`containerless compile: ${err.message}\n`);
      if (values.json) io.out(`${JSON.stringify({ error: err.message, diagnostics: generated.diagnostics })}\n`);
      return 1;
    }
    let binary = built.binary;
    if (values.out) {
      const out = resolve(values.out as string);
      await mkdir(out, { recursive: true });
      const dest = join(out, crateName(name));
      await copyFile(built.binary, `${dest}.tmp`);
      await rename(`${dest}.tmp`, dest);
      await writeFile(join(out, 'main.rs'), generated.main);
      binary = dest;
    }
    io.err(`== built in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    if (values.json) io.out(`${JSON.stringify({ binary, seconds: built.seconds, functions: generated.functions, diagnostics: generated.diagnostics })}\n`);
    else io.out(`${binary}\n`);
    return 0;
  },
};

const up: Command = {
  help: async () => (await import('../provider/up.ts')).UP_HELP,
  options: {},
  async run(_values, positionals, io) {
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}'`);
    const { runUp } = await import('../provider/up.ts');
    return runUp(io);
  },
};

const watchdog: Command = {
  help: async () => (await import('../watchdog/main.ts')).WATCHDOG_HELP,
  options: {},
  async run(_values, positionals, io) {
    const dir = onePositional(positionals, '<function-dir>');
    const { runWatchdogCommand } = await import('../watchdog/main.ts');
    return runWatchdogCommand(dir, io);
  },
};

const COMMANDS: Record<string, Command> = { check, compile, up, watchdog };

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
    io.err(`containerless: unknown ${what.startsWith('-') ? 'option' : 'command'} '${what}' (commands: ${Object.keys(COMMANDS).join(', ')}; see containerless --help)\n`);
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

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await run(process.argv.slice(2));
}

