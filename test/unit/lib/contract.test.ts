/**
 * The runtime's contract (lib/contract.ts reading runtime/contract.json): the committed file is read and
 * checked; a missing, foreign, outdated or hand-edited file is refused with the command that regenerates
 * it. (That the committed file equals a fresh one from the Rust definitions is runtime/tests/contract.rs.)
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CODES, TAG } from '../../../trace/index.ts';
import { contract, ContractError, parseContract, readContractFile, REGENERATE_CONTRACT } from '../../../lib/index.ts';

const FILE = fileURLToPath(new URL('../../../runtime/contract.json', import.meta.url));
const text = (): string => readFileSync(FILE, 'utf8');

/** `t` with its hash recomputed, as the runtime would write it. */
function rehash(t: string): string {
  const hash = /"hash": "([0-9a-f]*)"/.exec(t)![1];
  const blanked = t.replace(`"hash": "${hash}"`, '"hash": ""');
  return blanked.replace('"hash": ""', `"hash": "${createHash('sha1').update(blanked).digest('hex')}"`);
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).to.be.instanceOf(ContractError);
    expect((e as ContractError).code).to.equal('E_CONTRACT');
    return (e as Error).message;
  }
  return expect.fail('the contract was accepted');
}

describe('runtime contract', () => {
  it('reads the committed file: builtins with kinds and return types, tags, give-up reasons, codes', () => {
    const c = contract();
    const map = c.builtins.find((b) => b.name === 'Array.prototype.map');
    expect(map).to.deep.equal({ name: 'Array.prototype.map', kind: 'function', length: 1, returns: ['any'] });
    expect(c.builtins.find((b) => b.name === 'Math.floor')?.returns).to.deep.equal(['number']);
    expect(c.builtins.find((b) => b.name === 'Map')?.kind).to.equal('constructor');
    expect(c.builtins.find((b) => b.name === 'Map.prototype.size')?.kind).to.equal('getter');
    expect(c.giveUps.map((g) => g.reason)).to.include.members(['unknown', 'type-guard', 'module-write', 'io']);
    expect(c.globals.find((g) => g.name === 'Math')?.kind).to.equal('namespace');
    expect(TAG.number).to.equal(c.typeTags.number);
    expect(TAG.promise).to.equal(256);
  });

  it('names every diagnostic code the compiler emits', () => {
    for (let i = 1; i <= 8; i++) expect(CODES, `C00${i}`).to.have.property(`C00${i}`);
  });

  it('refuses a missing file and says how to make it', () => {
    const message = refusal(() => readContractFile(join(FILE, '..', 'no-such-contract.json')));
    expect(message).to.contain('cannot be read').and.to.contain(REGENERATE_CONTRACT);
  });

  it('refuses a hand-edited file (the hash no longer matches)', () => {
    const edited = text().replace('"Array.prototype.map"', '"Array.prototype.mapp"');
    expect(edited).to.not.equal(text());
    expect(refusal(() => parseContract(edited))).to.contain('edited by hand');
    // The same edit with its hash recomputed is accepted: the hash guards the text, not the content.
    expect(parseContract(rehash(edited)).builtins.some((b) => b.name === 'Array.prototype.mapp')).to.equal(true);
  });

  it('refuses another version or format', () => {
    expect(refusal(() => parseContract(rehash(text().replace('"version": 1', '"version": 2'))))).to.contain('version 2');
    expect(refusal(() => parseContract(rehash(text().replace('"containerless-runtime-contract"', '"something-else"'))))).to.contain('format');
    expect(refusal(() => parseContract('not json'))).to.contain('not JSON');
  });
});
