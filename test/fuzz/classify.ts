/**
 * Names what kind of divergence a finding is, so a run's report groups them and the CI run can tell a new
 * divergence from one that is known and being fixed.
 */
import { featuresOf, KNOWN_FEATURES } from './generate.ts';
import type { Finding } from './harness.ts';

/**
 * Divergences found by the fuzzer whose fix lies outside the fuzzer's reach and is reported (README, issue 9).
 * The CI run tolerates exactly these shapes and nothing else; each entry says how it is recognised.
 */
export const PENDING: Record<string, string> = {
  'instrumented-callee-text':
    "instrumented Node words a TypeError for a call of a non-function differently: 'split is not a function' where Node says 's.split is not a function' (compiler/tracer.ts builds the message from the key alone)",
};

export interface Classified {
  /** `known:<feature>`, a PENDING key, or `new:<kind>`. */
  cls: string;
  /** Known (its construct is generated only with --known) or pending (reported): not a new divergence. */
  expected: boolean;
  note: string;
}

/** V8 names the callee by its source text (`a.b`, `x.y(...).z`); the tracer by the property key alone. */
function calleeTextOnly(plain: string, other: string): boolean {
  if (plain === other) return false;
  const strip = (s: string): string => s.replace(/[\w$.()[\]]*\.([\w$]+) is not a function/g, '$1 is not a function');
  return strip(plain) === strip(other);
}

export function classify(f: Finding): Classified {
  const feats = featuresOf(f.program.body);
  const known = Object.keys(KNOWN_FEATURES).filter((k) => feats.has(k));
  if (known.length) return { cls: `known:${known.join('+')}`, expected: true, note: known.map((k) => KNOWN_FEATURES[k]).join('; ') };
  if (f.kind === 'instrumented' && f.plainBody !== undefined && f.otherBody !== undefined && calleeTextOnly(f.plainBody, f.otherBody)) {
    return { cls: 'instrumented-callee-text', expected: true, note: PENDING['instrumented-callee-text'] };
  }
  return { cls: `new:${f.kind}`, expected: false, note: f.diff.split('\n')[0] };
}
