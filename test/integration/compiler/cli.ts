/**
 * Running the real `containerless` CLI (bin/containerless.js) from the compiler's integration tests: the
 * output it printed, and `check`'s summary line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckSummary } from '../../../harness/index.ts';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin/containerless.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout, parsed (undefined when it is not JSON). */
  result: any;
}

export interface CliOptions {
  /** Default: the repository. */
  cwd?: string;
  /** Added to this process's env. */
  env?: NodeJS.ProcessEnv;
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `containerless <args>` to its end. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code, signal) => {
      let result: unknown;
      try {
        result = JSON.parse(stdout.trimEnd().split('\n').pop() ?? '');
      } catch {
        result = undefined;
      }
      done({ code, signal, stdout, stderr, result });
    });
    opts.onSpawn?.(child);
  });
}

/** For assertion messages: what the CLI printed (the last `lines` lines of stderr). */
export const shown = (r: CliRun, lines = 40): string =>
  `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr (last ${lines} lines)\n${r.stderr.split('\n').slice(-lines).join('\n')}`;

/** `containerless check <dir> --requests <dir>/requests.jsonl [extra]`; rejects when it printed no summary. */
export async function checkFixture(dir: string, extra: string[] = []): Promise<{ code: number | null; summary: CheckSummary; stderr: string }> {
  const r = await runCli(['check', dir, '--requests', join(dir, 'requests.jsonl'), ...extra]);
  if (r.result === undefined) throw new Error(`check printed no summary (exit ${r.code}):\n${r.stderr.split('\n').slice(-40).join('\n')}`);
  return { code: r.code, summary: r.result as CheckSummary, stderr: r.stderr };
}
