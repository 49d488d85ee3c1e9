import type { Diagnostic } from './diagnostics.ts';
import type { TraceIR } from './ir.ts';

export interface Generated {
  /** The crate's src/main.rs. */
  main: string;
  diagnostics: Diagnostic[];
}

export function generateRust(trace: TraceIR, opts: { name: string }): Generated {
  void trace;
  void opts;
  throw new Error('not implemented yet');
}
