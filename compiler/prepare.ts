import type { Diagnostic } from './diagnostics.ts';

export interface Prepared {
  file: string;
  source: string;
  sha256: string;
  /** The normalised program (core ESTree with site ids). */
  core: unknown;
  /** CommonJS source of the instrumented handler; it expects a free variable `__cl` (Tracer.runtime). */
  instrumented: string;
  diagnostics: Diagnostic[];
}

/** Parses, normalises and instruments a handler module. Never throws on bad input: see diagnostics. */
export function prepare(source: string, file: string): Prepared {
  void source;
  void file;
  throw new Error('not implemented yet');
}
