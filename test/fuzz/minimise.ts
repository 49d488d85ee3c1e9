/**
 * Cuts a program that diverges down to a small one that still diverges the same way.
 *
 * Each round makes every candidate at once — the program without one statement, without a run of
 * statements (halves, quarters, ...), with a compound statement replaced by one of its bodies, with the
 * return value reduced to `out` — and asks the oracle which of them still diverge. Since the oracle runs a
 * whole batch in one go (one cargo build for all candidates of a round), a round costs one build, not one per
 * candidate. The smallest candidate that still diverges wins the round; rounds go on until none does.
 */
import { sizeOf, type Program, type Stmt } from './generate.ts';

/** Which of the candidate programs (by id) still diverge the way the original does. */
export type Oracle = (candidates: Program[]) => Promise<Set<string>>;

/** Every way to cut one step from a statement list; `edit` rebuilds the whole body around the new list. */
function cuts(list: Stmt[], edit: (next: Stmt[]) => Stmt[], out: Stmt[][]): void {
  const n = list.length;
  // Runs of statements: halves, quarters, ... down to single statements.
  for (let size = Math.max(1, Math.floor(n / 2)); size >= 1; size = size === 1 ? 0 : Math.max(1, Math.floor(size / 2))) {
    for (let at = 0; at + size <= n; at += size) out.push(edit([...list.slice(0, at), ...list.slice(at + size)]));
    if (size === 1) break;
  }
  list.forEach((s, i) => {
    if (!('bodies' in s)) return;
    // The compound replaced by one of its bodies (its statements inlined).
    s.bodies.forEach((b) => out.push(edit([...list.slice(0, i), ...b, ...list.slice(i + 1)])));
    // Cuts inside each body.
    s.bodies.forEach((b, k) => {
      cuts(
        b,
        (nb) => {
          const bodies = s.bodies.map((x, j) => (j === k ? nb : x));
          return edit([...list.slice(0, i), { ...s, bodies }, ...list.slice(i + 1)]);
        },
        out,
      );
    });
  });
}

/** The candidates of one round, smallest first, without duplicates. */
export function candidates(p: Program): Program[] {
  const bodies: Stmt[][] = [];
  cuts(p.body, (b) => b, bodies);
  const out: Program[] = [];
  const seen = new Set<string>();
  const add = (body: Stmt[], ret: string): void => {
    const key = JSON.stringify([body, ret]);
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ ...p, id: `${p.id}_${out.length}`, body, ret });
  };
  if (p.ret !== 'out') add(p.body, 'out');
  for (const b of bodies) add(b, p.ret);
  return out.sort((a, b) => sizeOf(a.body) - sizeOf(b.body));
}

export interface MinimiseOptions {
  /** Candidates per oracle call at most (a batch). */
  batch?: number;
  progress?: (line: string) => void;
  /** Stop after this many rounds. */
  maxRounds?: number;
  /** Drops candidates that are not programs (a cut can leave a `break` outside its loop). */
  valid?: (p: Program) => boolean;
}

/** The smallest program reached that the oracle still says diverges (the original when no cut does). */
export async function minimise(p: Program, oracle: Oracle, opts: MinimiseOptions = {}): Promise<Program> {
  const batch = opts.batch ?? 120;
  let best = p;
  for (let round = 1; round <= (opts.maxRounds ?? 40); round++) {
    const cands = candidates(best).filter((c) => !opts.valid || opts.valid(c));
    if (!cands.length) break;
    let next: Program | undefined;
    for (let i = 0; i < cands.length && !next; i += batch) {
      const chunk = cands.slice(i, i + batch);
      const hits = await oracle(chunk);
      next = chunk.find((c) => hits.has(c.id));
    }
    if (!next) break;
    opts.progress?.(`round ${round}: ${sizeOf(best.body)} -> ${sizeOf(next.body)} statements (${cands.length} candidates)`);
    best = { ...next, id: p.id };
  }
  return best;
}
