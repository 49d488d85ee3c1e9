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
  'instrumented-error-text':
    "instrumented Node words a TypeError that V8 words from the source text differently: 'split is not a function' for 's.split is not a function', 'f is not a function' for 'h is not a function', '5 is not iterable' for 'xs is not iterable', 'C is not a constructor' for 'K is not a constructor', '__cl.bin is not a function or its return value is not iterable' for '(t + 2) is not iterable', and a destructuring of undefined as a property read (the tracer's wrappers and the normaliser's desugaring make V8 word it from their own code)",
};

export interface Classified {
  /** `known:<feature>`, a PENDING key, or `new:<kind>`. */
  cls: string;
  /** Known (its construct is generated only with --known) or pending (reported): not a new divergence. */
  expected: boolean;
  note: string;
}

/** V8 names a callee or an iterable by its source text (`a.b`, `x.y(...).z`); the instrumented copy does not. */
function errorTextOnly(plain: string, other: string): boolean {
  if (plain === other) return false;
  const strip = (s: string): string =>
    s
      .replace(/Cannot destructure property '([^']*)' of '[^']*' as it is (undefined|null)\./g, "Cannot read properties of $2 (reading '$1')")
      // A spread of a call result is worded from the call, which the instrumented copy has changed.
      .replace(
        /(^|"|TypeError: )[^"\\]*? is not (a function or its return value is not iterable|a function|iterable)/g,
        '$1_ is not a function or not iterable',
      )
      .replace(/(^|"|TypeError: )[^"\\]*? is not a constructor/g, '$1_ is not a constructor');
  return strip(plain) === strip(other);
}

export function classify(f: Finding): Classified {
  if (
    (f.kind === 'instrumented' || f.kind === 'unrecorded') &&
    f.plainBody !== undefined &&
    f.otherBody !== undefined &&
    errorTextOnly(f.plainBody, f.otherBody)
  ) {
    return { cls: 'instrumented-error-text', expected: true, note: PENDING['instrumented-error-text'] };
  }
  const feats = featuresOf(f.program.body);
  const known = Object.keys(KNOWN_FEATURES).filter((k) => feats.has(k));
  if (known.length) return { cls: `known:${known.join('+')}`, expected: true, note: known.map((k) => KNOWN_FEATURES[k]).join('; ') };
  return { cls: `new:${f.kind}`, expected: false, note: f.diff.split('\n')[0] };
}
