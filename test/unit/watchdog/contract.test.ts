/**
 * The names the watchdog shares with the provider's promotion lifecycle are written twice (the watchdog
 * does not import the provider): watchdog/contract.ts and provider/promotion/types.ts must agree.
 */
import { expect } from 'chai';
import * as provider from '../../../provider/promotion/types.ts';
import * as watchdog from '../../../watchdog/contract.ts';
import * as surface from '../../../watchdog/index.ts';

const NAMES = [
  'RETRY_HEADER',
  'REPLICA_HEADER',
  'DEPLOYMENT_HEADER',
  'SEQ_HEADER',
  'ENV_DEPLOYMENT',
  'ENV_TRACE_URL',
  'ENV_TRACE_TOKEN',
  'INTAKE_PATH',
] as const;

describe('watchdog and provider promotion names', () => {
  for (const name of NAMES) {
    it(`${name} is the same string on both sides`, () => {
      expect(watchdog[name], name).to.be.a('string').and.not.equal('');
      expect(watchdog[name]).to.equal(provider[name]);
      expect(surface[name]).to.equal(provider[name]);
    });
  }

  it('every name of watchdog/contract.ts is checked here', () => {
    expect(Object.keys(watchdog).sort()).to.deep.equal([...NAMES].sort());
  });
});
