/**
 * The fuzzer's generator and minimiser, without Node servers or cargo: programs are deterministic per seed,
 * parse, terminate, and the minimiser cuts a program down to what an oracle says still matters.
 */
import { expect } from 'chai';
import { featuresOf, generateProgram, KNOWN_FEATURES, renderProgram, sizeOf } from '../../fuzz/generate.ts';
import { candidates, minimise } from '../../fuzz/minimise.ts';
import { programSeed } from '../../fuzz/rng.ts';
import { parses } from '../../fuzz/run.ts';

describe('fuzz generator', () => {
  it('makes the same program for the same seed and index', () => {
    const a = generateProgram('p3', programSeed(42, 3));
    const b = generateProgram('p3', programSeed(42, 3));
    expect(renderProgram(a)).to.equal(renderProgram(b));
    expect(JSON.stringify(a.inputs)).to.equal(JSON.stringify(b.inputs));
    expect(renderProgram(generateProgram('p3', programSeed(43, 3)))).to.not.equal(renderProgram(a));
  });

  it('writes programs that parse and answer every input within a time bound', async () => {
    for (let i = 0; i < 150; i++) {
      const p = generateProgram(`p${i}`, programSeed(7, i), { requests: 5, known: i % 2 === 1 });
      expect(parses(p), renderProgram(p)).to.equal(true);
      const fn = new Function(`${renderProgram(p)}; return ${p.id};`)() as (e: unknown, c: unknown) => Promise<unknown>;
      const started = Date.now();
      for (const input of p.inputs) await fn({ body: input.body, query: input.query }, {}).catch(() => undefined);
      expect(Date.now() - started, renderProgram(p)).to.be.lessThan(2000);
    }
  });

  it('leaves constructs with known divergences out unless asked', () => {
    const used = (known: boolean): Set<string> => {
      const all = new Set<string>();
      for (let i = 0; i < 300; i++) for (const f of featuresOf(generateProgram(`p${i}`, programSeed(9, i), { requests: 1, known }).body)) all.add(f);
      return all;
    };
    const plain = used(false);
    const withKnown = used(true);
    for (const k of Object.keys(KNOWN_FEATURES)) expect(plain.has(k), k).to.equal(false);
    expect(Object.keys(KNOWN_FEATURES).filter((k) => withKnown.has(k)).length).to.be.greaterThan(4);
    for (const f of [
      'loop',
      'for-of',
      'for-in',
      'switch',
      'try',
      'finally',
      'closure',
      'class',
      'accessor',
      'inherit',
      'map',
      'set',
      'array',
      'object',
      'async',
      'loop-mutation',
      'label',
    ]) {
      expect(plain.has(f), f).to.equal(true);
    }
  });
});

describe('fuzz minimiser', () => {
  it('cuts a program down to the statements an oracle needs', async () => {
    const p = generateProgram('p0', programSeed(5, 0), { requests: 1 });
    p.body.push({ code: "out.push('needle'.repeat(2));", feats: [] });
    expect(sizeOf(p.body)).to.be.greaterThan(4);
    let calls = 0;
    const small = await minimise(
      p,
      async (cands) => {
        calls++;
        return new Set(cands.filter((c) => renderProgram(c).includes("'needle'")).map((c) => c.id));
      },
      { valid: parses },
    );
    expect(renderProgram(small)).to.include("'needle'");
    expect(sizeOf(small.body)).to.equal(1);
    expect(small.ret).to.equal('out');
    expect(calls).to.be.lessThan(40);
  });

  it('offers only cuts, never the program itself', () => {
    const p = generateProgram('p1', programSeed(5, 1), { requests: 1 });
    for (const c of candidates(p)) expect(sizeOf(c.body) < sizeOf(p.body) || c.ret !== p.ret).to.equal(true);
  });
});
