/** What every `containerless` command is made of, and the usage errors they raise (exit status 2). */
import type { ParseArgsConfig } from 'node:util';

export interface CliIo {
  /** Writes to stdout (results). */
  out(text: string): void;
  /** Writes to stderr (progress, logs, errors). */
  err(text: string): void;
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

export interface Command {
  help: string | (() => Promise<string>);
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[], io: CliIo): Promise<number>;
}

/** Bad arguments: the CLI prints the message after the command's name and exits 2. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
  readonly code = 'E_USAGE';
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length === 0) throw new CliUsageError(`missing ${what}`);
  if (positionals.length > 1) throw new CliUsageError(`unexpected argument '${positionals[1]}'`);
  return positionals[0];
}
