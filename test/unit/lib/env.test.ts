/** Env parsing every component shares (lib/env.ts, lib/cache.ts). */
import { expect } from 'chai';
import { cacheDir, ConfigError, EnvReader, parseGoBool, parseSize } from '../../../lib/index.ts';

describe('parseGoBool', () => {
  it('reads what strconv.ParseBool reads, and nothing else', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(t), t).to.equal(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool(f), f).to.equal(false);
    for (const bad of ['', 'yes', 'tRuE', ' true', 'on', '2']) expect(parseGoBool(bad), bad).to.equal(undefined);
  });
});

describe('parseSize', () => {
  it('reads bytes with an optional unit in powers of 1024', () => {
    expect(parseSize('1048576')).to.equal(1_048_576);
    expect(parseSize('20mb')).to.equal(20 * 1024 * 1024);
    expect(parseSize('512 KB')).to.equal(512 * 1024);
    expect(parseSize('1gb')).to.equal(1024 ** 3);
    expect(parseSize('10b')).to.equal(10);
    for (const bad of ['big', '1.5mb', '-1', '20tb', '']) expect(parseSize(bad), bad).to.equal(undefined);
  });
});

describe('EnvReader', () => {
  it('takes the default for a variable that is unset or empty', () => {
    const r = new EnvReader({ a: '' });
    expect(r.int('a', 3)).to.equal(3);
    expect(r.duration('b', 1500)).to.equal(1500);
    expect(r.bool('a', true)).to.equal(true);
    expect(r.string('a', 'x')).to.equal('x');
    expect(r.problems).to.deep.equal([]);
  });

  it('reads whole numbers, ports, durations, booleans, lists and choices', () => {
    const r = new EnvReader({ n: '+7', port: '0', d: '1m', s: '30', b: 'T', l: ' a, ,b ', c: 'off' });
    expect(r.int('n', 0, 0)).to.equal(7);
    expect(r.port('port', 8080)).to.equal(0);
    expect(r.duration('d', 0)).to.equal(60_000);
    expect(r.duration('s', 0)).to.equal(30_000);
    expect(r.bool('b', false)).to.equal(true);
    expect(r.list('l')).to.deep.equal(['a', 'b']);
    expect(r.oneOf('c', 'sample', ['sample', 'always', 'off'])).to.equal('off');
    expect(r.problems).to.deep.equal([]);
  });

  it('notes every bad value, keeps the default, and throws them all at once', () => {
    const r = new EnvReader({ n: '1.5', port: '70000', d: 'soon', neg: '-1s', secs: '30', b: 'yes', c: 'never' });
    expect(r.int('n', 4, 0)).to.equal(4);
    expect(r.port('port', 8080)).to.equal(8080);
    expect(r.duration('d', 10)).to.equal(10);
    expect(r.duration('neg', 10)).to.equal(10);
    expect(r.duration('secs', 10, { intIsSeconds: false })).to.equal(10);
    expect(r.bool('b', false)).to.equal(false);
    expect(r.oneOf('c', 'sample', ['sample', 'always', 'off'])).to.equal('sample');
    expect(r.problems).to.deep.equal([
      'n="1.5" is not a whole number >= 0',
      'port=70000 is not a TCP port (0 to 65535)',
      'd="soon" is not a duration (e.g. 10s, 1m30s, or seconds as an integer)',
      'neg="-1s" is not a duration (e.g. 10s, 1m30s, or seconds as an integer)',
      'secs="30" is not a duration (e.g. 10s, 1m30s)',
      'b="yes" is not a boolean (true or false)',
      'c="never" is not sample, always or off',
    ]);
    try {
      r.check('watchdog');
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).code).to.equal('BAD_CONFIG');
      expect((err as ConfigError).problems).to.have.length(7);
      expect((err as Error).message).to.match(/^bad watchdog configuration: n="1.5"/);
    }
  });

  it('reads a boolean with the parser it is given', () => {
    const r = new EnvReader({ a: 'yes' });
    expect(r.bool('a', false, (t) => t === 'yes')).to.equal(true);
  });

  it('does not throw when nothing is wrong', () => {
    expect(() => new EnvReader({}).check('provider')).not.to.throw();
  });
});

describe('cacheDir', () => {
  it('is $CONTAINERLESS_CACHE, else $XDG_CACHE_HOME/containerless, else ~/.cache/containerless', () => {
    expect(cacheDir({ CONTAINERLESS_CACHE: '/c', XDG_CACHE_HOME: '/x' })).to.equal('/c');
    expect(cacheDir({ XDG_CACHE_HOME: '/x' })).to.equal('/x/containerless');
    expect(cacheDir({ XDG_CACHE_HOME: '' })).to.match(/\/\.cache\/containerless$/);
    expect(cacheDir({})).to.match(/\/\.cache\/containerless$/);
  });
});
