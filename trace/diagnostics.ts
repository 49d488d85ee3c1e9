/** Compiler problems: collected, never thrown, printed as `file:line:col: error C012: message`. */
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

/** The codes the compiler emits, with what they mean; `containerless check` prints them. */
export const CODES = {
  C001: 'the handler does not parse',
  C002: 'a construct the compiler does not model; its path falls back to JavaScript',
  C003: 'a global the runtime does not model',
  C004: 'require() of a module other than the template\'s',
  C005: 'eval or Function constructor',
  C006: 'a builtin the runtime does not model was called',
  C007: 'the module\'s top-level code did not finish in a way the compiler models',
  C008: 'no request was traced on this path',
} as const;
