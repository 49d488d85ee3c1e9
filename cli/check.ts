/** `containerless check`: the Node-vs-Rust replay (harness/) on one function, as a command. */
import { CliUsageError, onePositional, type Command } from './command.ts';

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

export const check: Command = {
  help: CHECK_HELP,
  options: {
    requests: { type: 'string' },
    'trace-first': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values, positionals, io) {
    const { runCheck, UsageError } = await import('../harness/index.ts');
    const dir = onePositional(positionals, '<function-dir>');
    const requests = values.requests as string | undefined;
    if (!requests) throw new CliUsageError('missing --requests <file.jsonl>');
    let traceFirst: number | undefined;
    if (values['trace-first'] !== undefined) {
      const text = values['trace-first'] as string;
      if (!/^\d+$/.test(text)) throw new CliUsageError(`--trace-first must be a whole number, not '${text}'`);
      traceFirst = Number(text);
    }
    let summary: Awaited<ReturnType<typeof runCheck>>;
    try {
      summary = await runCheck({ dir, requests, traceFirst, signal: io.signal }, { err: (l) => io.err(`${l}\n`) });
    } catch (err) {
      if (err instanceof UsageError) throw new CliUsageError(err.message);
      throw err;
    }
    if (!values.json) {
      io.out(
        `${dir}: ${summary.requests} requests: ${summary.rust} rust, ${summary.fallback} fallback, ${summary.diverged} diverged${summary.diagnostics.length ? `, ${summary.diagnostics.length} diagnostics` : ''}${summary.error ? ` (error: ${summary.error})` : ''}\n`,
      );
    }
    io.out(`${JSON.stringify(summary)}\n`);
    return summary.diverged === 0 && summary.error === undefined ? 0 : 1;
  },
};
