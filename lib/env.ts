/**
 * Reading configuration from env, as every component does it: one `readConfig(env)` per component reads its
 * variables through an `EnvReader`, which notes every bad value as a problem and goes on, so a component
 * reports all of them at once (`ConfigError`) where Go's OpenFaaS components silently fall back to defaults.
 * A variable that is unset or empty takes its default, as Go's `os.Getenv(...) != ""` checks do.
 */
import { parseGoDuration, parseIntOrDuration } from './duration.ts';

/** A component's configuration is bad: every problem, one line each. Callers branch on the class or `code`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'BAD_CONFIG';
  constructor(
    /** Which component's configuration (`provider`, `watchdog`): the message says so. */
    readonly component: string,
    readonly problems: string[],
  ) {
    super(`bad ${component} configuration: ${problems.join('; ')}`);
  }
}

/** Go's `strconv.ParseBool`: 1, t, T, TRUE, true, True, and 0, f, F, FALSE, false, False; else undefined. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** A size in bytes: a whole number with an optional unit b, kb, mb or gb (any case, powers of 1024). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()];
}

export interface DurationOptions {
  /** A whole number is seconds (faas-provider's ParseIntOrDurationValue); default true. */
  intIsSeconds?: boolean;
  /** Below this many milliseconds is a problem; default 0 (no negative durations). */
  minMs?: number;
}

/** Reads variables from one env, collecting problems instead of throwing at the first. */
export class EnvReader {
  readonly problems: string[] = [];

  constructor(readonly env: NodeJS.ProcessEnv) {}

  /** Set and not empty. */
  has(name: string): boolean {
    const v = this.env[name];
    return v !== undefined && v !== '';
  }

  /** Notes a problem (a check across variables, or one the reader does not know). */
  problem(text: string): void {
    this.problems.push(text);
  }

  string(name: string, dflt: string): string {
    return this.has(name) ? this.env[name]! : dflt;
  }

  /** Comma-separated, trimmed, empty entries dropped. */
  list(name: string): string[] {
    return this.string(name, '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  /** A whole number (an optional sign, then digits, as Go's strconv.Atoi reads it) of at least `min`. */
  int(name: string, dflt: number, min = -Infinity): number {
    if (!this.has(name)) return dflt;
    const text = this.env[name]!;
    if (!/^[+-]?\d+$/.test(text) || Number(text) < min) {
      this.problems.push(`${name}=${JSON.stringify(text)} is not a whole number${min > -Infinity ? ` >= ${min}` : ''}`);
      return dflt;
    }
    return Number(text);
  }

  /** A TCP port, 0 to 65535 (0: any free port). */
  port(name: string, dflt: number): number {
    const n = this.int(name, dflt, 0);
    if (n > 65535) {
      this.problems.push(`${name}=${n} is not a TCP port (0 to 65535)`);
      return dflt;
    }
    return n;
  }

  /** A duration in milliseconds: a Go duration, or (by default) a whole number of seconds. */
  duration(name: string, dfltMs: number, opts: DurationOptions = {}): number {
    if (!this.has(name)) return dfltMs;
    const text = this.env[name]!;
    const intIsSeconds = opts.intIsSeconds ?? true;
    const ms = intIsSeconds ? parseIntOrDuration(text) : parseGoDuration(text);
    if (ms === undefined || ms < (opts.minMs ?? 0)) {
      this.problems.push(`${name}=${JSON.stringify(text)} is not a duration (e.g. 10s, 1m30s${intIsSeconds ? ', or seconds as an integer' : ''})`);
      return dfltMs;
    }
    return ms;
  }

  /** A boolean as `parse` reads it (default Go's strconv.ParseBool); text it refuses is a problem. */
  bool(name: string, dflt: boolean, parse: (text: string) => boolean | undefined = parseGoBool): boolean {
    if (!this.has(name)) return dflt;
    const text = this.env[name]!;
    const b = parse(text);
    if (b === undefined) {
      this.problems.push(`${name}=${JSON.stringify(text)} is not a boolean (true or false)`);
      return dflt;
    }
    return b;
  }

  /** One of `choices`; anything else is a problem. */
  oneOf<T extends string>(name: string, dflt: T, choices: readonly T[]): T {
    const text = this.string(name, dflt);
    if ((choices as readonly string[]).includes(text)) return text as T;
    const names = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}` : choices[0];
    this.problems.push(`${name}=${JSON.stringify(text)} is not ${names}`);
    return dflt;
  }

  /** Throws ConfigError with every problem noted, if there is one. */
  check(component: string): void {
    if (this.problems.length > 0) throw new ConfigError(component, this.problems);
  }
}
