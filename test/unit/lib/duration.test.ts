/**
 * Go durations (lib/duration.ts) against what Go's time.ParseDuration answers, to the nanosecond, and
 * faas-provider's int-or-duration on top.
 */
import { expect } from 'chai';
import { parseGoDuration, parseGoDurationNs, parseIntOrDuration } from '../../../lib/index.ts';

const S = 1_000_000_000n;
const MIN = 60n * S;
const H = 60n * MIN;

describe('parseGoDurationNs', () => {
  const accepted: [string, bigint][] = [
    ['0', 0n],
    ['-0', 0n],
    ['+0', 0n],
    ['5s', 5n * S],
    ['+5s', 5n * S],
    ['-5s', -5n * S],
    ['1478s', 1478n * S],
    ['5.0s', 5n * S],
    ['5.6s', 5n * S + 600_000_000n],
    ['5.s', 5n * S],
    ['.5s', 500_000_000n],
    ['-.5s', -500_000_000n],
    ['1.004s', S + 4_000_000n],
    ['100.00100s', 100n * S + 1_000_000n],
    ['10ns', 10n],
    ['11us', 11_000n],
    ['12\u00b5s', 12_000n],
    ['12\u03bcs', 12_000n],
    ['13ms', 13_000_000n],
    ['15m', 15n * MIN],
    ['16h', 16n * H],
    ['1.5h', 90n * MIN],
    ['3h30m', 3n * H + 30n * MIN],
    ['10.5s4m', 4n * MIN + 10n * S + 500_000_000n],
    ['-2m3.4s', -(2n * MIN + 3n * S + 400_000_000n)],
    ['1h2m3s4ms5us6ns', H + 2n * MIN + 3n * S + 4_000_000n + 5_000n + 6n],
    ['39h9m14.425s', 39n * H + 9n * MIN + 14n * S + 425_000_000n],
    // Fractions of a nanosecond are cut, not rounded.
    ['1.9ns', 1n],
    // Beyond a double's 53 bits: Go works in int64 nanoseconds.
    ['9007199254740993ns', 9007199254740993n],
    ['9223372036854775807ns', 9223372036854775807n],
    ['-9223372036854775808ns', -9223372036854775808n],
    ['9223372036854775.807us', 9223372036854775807n],
    ['0.3333333333333333333h', 20n * MIN],
    // More fraction digits than fit: the rest are read and ignored.
    ['0.830103483285477580700h', 49n * MIN + 48n * S + 372_539_827n],
  ];
  for (const [text, ns] of accepted) {
    it(`reads ${JSON.stringify(text)} as Go does`, () => {
      expect(parseGoDurationNs(text)).to.equal(ns);
    });
  }

  it('refuses what Go refuses', () => {
    const refused = [
      '',
      '3',
      '-',
      '+',
      's',
      '.',
      '-.',
      '.s',
      '+.s',
      '1d',
      '1sec',
      '1s ',
      ' 1s',
      '1 s',
      '1.2.3s',
      'abc',
      '1e3s',
      '\u00b5s',
      '9223372036854775808ns',
      '-9223372036854775809ns',
      '9223372036854775.808us',
      '2562048h',
      '99999999999999999999s',
    ];
    for (const text of refused) expect(parseGoDurationNs(text), JSON.stringify(text)).to.equal(undefined);
  });
});

describe('parseGoDuration', () => {
  it('answers milliseconds', () => {
    expect(parseGoDuration('10s')).to.equal(10_000);
    expect(parseGoDuration('1m30s')).to.equal(90_000);
    expect(parseGoDuration('250us')).to.equal(0.25);
    expect(parseGoDuration('-1s')).to.equal(-1000);
    expect(parseGoDuration('10')).to.equal(undefined);
  });
});

describe('parseIntOrDuration', () => {
  it('reads a whole number as seconds, as strconv.Atoi reads it', () => {
    expect(parseIntOrDuration('30')).to.equal(30_000);
    expect(parseIntOrDuration('+30')).to.equal(30_000);
    expect(parseIntOrDuration('007')).to.equal(7_000);
    expect(parseIntOrDuration('0')).to.equal(0);
    expect(parseIntOrDuration('-0')).to.equal(0);
  });

  it('reads anything else as a Go duration', () => {
    expect(parseIntOrDuration('1m30s')).to.equal(90_000);
    expect(parseIntOrDuration('.5s')).to.equal(500);
    expect(parseIntOrDuration('-1s')).to.equal(-1000);
  });

  it('refuses a negative number, a fraction without a unit, and seconds beyond int64 nanoseconds', () => {
    for (const text of ['-5', '1.5', ' 5', '5 ', '9223372037', '99999999999999999999', ''])
      expect(parseIntOrDuration(text), JSON.stringify(text)).to.equal(undefined);
  });
});
