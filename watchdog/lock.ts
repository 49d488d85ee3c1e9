/**
 * The health lock file (`$TMPDIR/.lock`), shared safely by watchdogs that share a `TMPDIR`.
 *
 * of-watchdog writes an empty lock when it is ready and removes it at shutdown; a container's exec probe
 * (`[ -e /tmp/.lock ]`) and the watchdog's own health route look for it. Two watchdogs with one `TMPDIR` (on
 * a developer's machine, or two processes in one container) would then remove each other's lock: the one
 * still running answers 503 for ever. Here the file holds the process ids of the watchdogs that hold it, one
 * a line; a watchdog adds itself when ready and takes itself out at shutdown, and the file goes only when
 * no live holder is left. Its existence still means what it meant.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlive as alive } from '../lib/index.ts';

function holders(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

function write(file: string, pids: number[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, pids.map((p) => `${p}\n`).join(''), { mode: 0o660 });
  renameSync(tmp, file);
}

/** Adds this process to the lock's holders (creating the file). */
export function takeLock(file: string, pid = process.pid): void {
  mkdirSync(dirname(file), { recursive: true });
  const others = holders(file).filter((p) => p !== pid && alive(p));
  write(file, [...others, pid]);
}

/** Takes this process out; removes the file when no live holder is left. */
export function releaseLock(file: string, pid = process.pid): void {
  const others = holders(file).filter((p) => p !== pid && alive(p));
  if (others.length === 0) rmSync(file, { force: true });
  else write(file, others);
}
