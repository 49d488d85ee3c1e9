import { createHash } from 'node:crypto';
import type { Diagnostic } from './diagnostics.ts';
import { instrument } from './instrument.ts';
import type { Program } from './ast.ts';
import { normalize } from './normalize.ts';
import type { Wording } from './wording.ts';

export interface Prepared {
  file: string;
  source: string;
  sha256: string;
  /** The normalised program (core ESTree with site ids in `sid`). */
  core: Program;
  /** CommonJS source of the instrumented handler; it expects a free variable `__cl` (Tracer.runtime). */
  instrumented: string;
  diagnostics: Diagnostic[];
  /** How V8 words a failed operation at a site, from the source (the tracer throws the same message). */
  wording: Map<number, Wording>;
}

/** Parses, normalises and instruments a handler module. Never throws on bad input: see diagnostics. */
export function prepare(source: string, file: string): Prepared {
  const { program, diagnostics, wording } = normalize(source, file);
  const instrumented = instrument(program);
  return { file, source, sha256: createHash('sha256').update(source).digest('hex'), core: program, instrumented, diagnostics, wording };
}
