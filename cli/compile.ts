/** `containerless compile`: a trace (the IR a watchdog publishes) to a built dispatcher. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TraceIR } from '../trace/index.ts';
import { CliUsageError, onePositional, type Command } from './command.ts';

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

export const compile: Command = {
  help: COMPILE_HELP,
  options: {
    trace: { type: 'string' },
    out: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const [{ buildDispatcher, BuildError, crateName, generateRust }, { formatDiagnostic, validateTrace }] = await Promise.all([
      import('../compiler/index.ts'),
      import('../trace/index.ts'),
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
    const sha = createHash('sha256')
      .update(await readFile(handlerFile, 'utf8'))
      .digest('hex');
    if (sha !== trace.source.sha256) {
      throw new CliUsageError(
        `${traceFile}: the trace was taken from another version of handler.js (sha256 ${trace.source.sha256.slice(0, 12)}, this one is ${sha.slice(0, 12)})`,
      );
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
