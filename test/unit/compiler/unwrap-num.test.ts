/**
 * `unwrapNum` finds the f64 inside generated code of the form `Value::Num(...)`, which lets an assignment of a
 * number to a captured binding store the f64 (`rt::cached_write_num`, `rt::scope_write_num`). It must refuse
 * anything that is not one such call from end to end, or the assignment would store the wrong expression.
 */
import { expect } from 'chai';
import { unwrapNum } from '../../../compiler/codegen.ts';

describe('unwrapNum', () => {
  it('gives the expression inside one Value::Num(...)', () => {
    expect(unwrapNum('Value::Num((a + b))')).to.equal('(a + b)');
    expect(unwrapNum('Value::Num(ops::bit_f64(ops::Bit::Xor, x, f(y, 13.0f64)))')).to.equal('ops::bit_f64(ops::Bit::Xor, x, f(y, 13.0f64))');
    expect(unwrapNum('Value::Num(f(")"))')).to.equal('f(")")');
    expect(unwrapNum('Value::Num(f("\\")("))')).to.equal('f("\\")(")');
  });

  it('refuses code that is not one Value::Num call', () => {
    expect(unwrapNum('Value::Num(a) + Value::Num(b)')).to.equal(null);
    expect(unwrapNum('{ Value::Num(a) }')).to.equal(null);
    expect(unwrapNum('Value::Num(a).clone()')).to.equal(null);
    expect(unwrapNum('Value::Num(f(a)) == g(b)')).to.equal(null);
    expect(unwrapNum('Value::Bool(a)')).to.equal(null);
    expect(unwrapNum('Value::Num(a)(b)')).to.equal(null);
  });
});
