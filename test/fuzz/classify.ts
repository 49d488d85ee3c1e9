/**
 * Names what kind of divergence a finding is, so a run's report groups them and the CI run can tell a new
 * divergence from one whose construct is generated only with --known. Nothing else is tolerated: a TypeError
 * the instrumented program words differently from plain Node is a wrong answer like any other (the tracer
 * throws V8's wording of the source, trace/wording.ts), only labelled as such to make it quick to triage.
 */
import { featuresOf, KNOWN_FEATURES } from './generate.ts';
import type { Finding } from './harness.ts';

export interface Classified {
  /** `known:<feature>` or `new:<kind>`. */
  cls: string;
  /** Known (its construct is generated only with --known): not a new divergence. */
  expected: boolean;
  note: string;
}

/** Whether two answers differ only in the wording of TypeErrors V8 builds from the source (`a.b is not a function`). */
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
    return { cls: 'new:instrumented-error-text', expected: false, note: `a TypeError worded differently from plain Node: ${f.diff.split('\n')[0]}` };
  }
  const feats = featuresOf(f.program.body);
  const known = Object.keys(KNOWN_FEATURES).filter((k) => feats.has(k));
  if (known.length) return { cls: `known:${known.join('+')}`, expected: true, note: known.map((k) => KNOWN_FEATURES[k]).join('; ') };
  return { cls: `new:${f.kind}`, expected: false, note: f.diff.split('\n')[0] };
}
