/** Compiler problems: collected, never thrown, printed as `file:line:col: error C012: message`. */
import { contract } from '../lib/index.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  code: string;
  severity: Severity;
  message: string;
  file: string;
  line: number;
  column: number;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.code}: ${d.message}`;
}

/** The codes the compiler emits, with what they mean (runtime/contract.json `diagnostics`); `containerless check` prints them. */
export const CODES: Readonly<Record<string, string>> = Object.fromEntries(contract().diagnostics.map((d) => [d.code, d.meaning]));
