/**
 * Durations as Go's `time.ParseDuration` reads them, and `parseIntOrDurationValue` on top (openfaas
 * faas-provider `types/read_config.go`, which of-watchdog's `config/config.go` copies). OpenFaaS users write
 * `read_timeout=10s`, `1m30s`, `.5s`, `+1s` or `0`; the same text means the same time here as in a Go
 * component.
 *
 * Go computes in whole nanoseconds (int64): each number is split into its whole part and a fraction, the
 * whole part times the unit is exact, the fraction adds `uint64(float64(f) * (float64(unit) / scale))`, and a
 * total beyond 2^63-1 ns (about 292 years) is an error. This file does the same arithmetic with BigInt and
 * returns milliseconds (a fraction when the text names less than a millisecond).
 */

/** Nanoseconds per unit, under the names Go's `unitMap` knows (µ is U+00B5, μ is U+03BC). */
const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NS = (1n << 63n) - 1n;
const LIMIT = 1n << 63n;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Go's `time.ParseDuration` in nanoseconds; undefined where Go returns an error. */
export function parseGoDurationNs(text: string): bigint | undefined {
  let s = text;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  // Go's special case: a lone 0 needs no unit.
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  let at = 0;
  while (at < s.length) {
    if (!(s[at] === '.' || isDigit(s[at]))) return undefined;
    // The whole part (leadingInt: an overflow is an error).
    let whole = 0n;
    const wholeStart = at;
    while (isDigit(s[at])) {
      whole = whole * 10n + BigInt(s.charCodeAt(at) - 48);
      if (whole > LIMIT) return undefined;
      at++;
    }
    const pre = at !== wholeStart;
    // The fraction (leadingFraction: digits past what fits are read and ignored).
    let frac = 0n;
    let scale = 1;
    let post = false;
    if (s[at] === '.') {
      at++;
      const fracStart = at;
      let overflow = false;
      while (isDigit(s[at])) {
        if (!overflow) {
          if (frac > (LIMIT - 1n) / 10n) overflow = true;
          else {
            const next = frac * 10n + BigInt(s.charCodeAt(at) - 48);
            if (next > LIMIT) overflow = true;
            else {
              frac = next;
              scale *= 10;
            }
          }
        }
        at++;
      }
      post = at !== fracStart;
    }
    if (!pre && !post) return undefined; // `.s`, `-.s`
    // The unit: everything up to the next digit or dot.
    const unitStart = at;
    while (at < s.length && s[at] !== '.' && !isDigit(s[at])) at++;
    if (at === unitStart) return undefined; // a missing unit
    const unit = UNIT_NS[s.slice(unitStart, at)];
    if (unit === undefined) return undefined;
    if (whole > LIMIT / unit) return undefined;
    let v = whole * unit;
    if (frac > 0n) {
      v += BigInt(Math.trunc(Number(frac) * (Number(unit) / scale)));
      if (v > LIMIT) return undefined;
    }
    total += v;
    if (total > LIMIT) return undefined;
  }
  if (neg) return -total;
  if (total > MAX_NS) return undefined;
  return total;
}

/** Go's `time.ParseDuration` in milliseconds; undefined where Go returns an error. */
export function parseGoDuration(text: string): number | undefined {
  const ns = parseGoDurationNs(text);
  return ns === undefined ? undefined : Number(ns) / 1e6;
}

/**
 * faas-provider's `ParseIntOrDurationValue`: text that `strconv.Atoi` reads as a non-negative int is
 * seconds, anything else a Go duration; undefined where both fail (Go then falls back to the default
 * silently; our config readers report it). A whole number whose seconds do not fit Go's int64 nanoseconds
 * is undefined too, where Go would wrap it around.
 */
export function parseIntOrDuration(text: string): number | undefined {
  if (/^[+-]?\d+$/.test(text)) {
    const n = BigInt(text);
    if (n >= 0n && n <= MAX_NS) {
      if (n * 1_000_000_000n > MAX_NS) return undefined;
      return Number(n) * 1000;
    }
  }
  return parseGoDuration(text);
}
