/**
 * CPU time of processes on this machine, for the cost comparison of the promotion controller: what a request
 * costs in each engine is the CPU its processes used over a window divided by the requests they answered.
 *
 * Linux only (undefined elsewhere). The time is the sum of `/proc/<pid>/task/<tid>/schedstat`'s first field
 * (nanoseconds on a CPU) over the process's threads, which is exact where `/proc/<pid>/stat`'s clock ticks
 * (10 ms) would swamp a request of a few hundred microseconds. A thread that exits takes its time with it, so
 * a window should not span a thread pool shrinking; the figures are compared over windows of steady traffic.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (on a CPU, user and system) of the process's live threads; undefined when unreadable. */
export function threadCpuSeconds(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let ns = 0;
  let read = 0;
  for (const tid of tids) {
    try {
      const first = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0];
      const v = Number(first);
      if (Number.isFinite(v)) {
        ns += v;
        read++;
      }
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return read > 0 ? ns / 1e9 : undefined;
}
