use super::*;
use crate::native::BuiltinDef;
use crate::testkit::exprs::{answer, check, num, scale, Rng};

thread_local! {
    static CX: std::cell::RefCell<Cx> = std::cell::RefCell::new(crate::cx::test_cx(&[]));
}

fn call(def: &BuiltinDef, args: &[Value]) -> JsResult<Value> {
    CX.with(|cx| (def.f)(&mut cx.borrow_mut(), &Value::Undefined, args))
}

fn n(def: &BuiltinDef, args: &[f64]) -> f64 {
    let args: Vec<Value> = args.iter().map(|&x| Value::Num(x)).collect();
    match call(def, &args) {
        Ok(Value::Num(v)) => v,
        other => panic!("{} gave {:?}", def.name, other),
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn round_is_javascript_rounding() {
    assert!(same(n(&ROUND, &[-2.5]), -2.0));
    assert!(same(n(&ROUND, &[2.5]), 3.0));
    assert!(same(n(&ROUND, &[0.49999999999999994]), 0.0));
    assert!(same(n(&ROUND, &[-0.5]), -0.0));
    assert!(same(n(&ROUND, &[-0.2]), -0.0));
    assert!(same(n(&ROUND, &[-0.0]), -0.0));
    assert!(same(n(&ROUND, &[4503599627370495.5]), 4503599627370496.0));
    assert!(same(n(&ROUND, &[9007199254740991.0]), 9007199254740991.0));
}

#[test]
fn max_and_min_follow_nan_and_zero_rules() {
    assert!(same(n(&MAX, &[]), f64::NEG_INFINITY));
    assert!(same(n(&MIN, &[]), f64::INFINITY));
    assert!(same(n(&MAX, &[-0.0, 0.0]), 0.0));
    assert!(same(n(&MAX, &[0.0, -0.0]), 0.0));
    assert!(same(n(&MIN, &[0.0, -0.0]), -0.0));
    assert!(n(&MAX, &[1.0, f64::NAN, 3.0]).is_nan());
    assert!(same(n(&MIN, &[3.0, 1.0, 2.0]), 1.0));
    assert!(
        matches!(call(&MAX, &[Value::Num(f64::NAN), Value::str("7")]), Ok(Value::Num(v)) if v.is_nan())
    );
    assert!(
        matches!(call(&MIN, &[Value::str(" 7 "), Value::Bool(true)]), Ok(Value::Num(v)) if v == 1.0)
    );
}

#[test]
fn integer_helpers() {
    assert!(same(n(&IMUL, &[0xffffffffu32 as f64, 5.0]), -5.0));
    assert!(same(n(&CLZ32, &[1.0]), 31.0));
    assert!(same(n(&CLZ32, &[0.0]), 32.0));
    assert!(same(n(&CLZ32, &[-1.0]), 0.0));
    assert!(same(n(&SIGN, &[-0.0]), -0.0));
    assert!(same(n(&FROUND, &[5.5]), 5.5));
    assert!(same(n(&FROUND, &[5.05]), 5.050000190734863));
    assert!(same(n(&HYPOT, &[]), 0.0));
    assert!(same(
        n(&HYPOT, &[f64::NAN, f64::NEG_INFINITY]),
        f64::INFINITY
    ));
    let r = n(&RANDOM, &[]);
    assert!((0.0..1.0).contains(&r));
    assert!(!same(r, n(&RANDOM, &[])));
}

#[test]
fn exp_of_one_is_e() {
    assert!(same(n(&EXP, &[1.0]), std::f64::consts::E));
}

#[test]
fn pow_answers_the_special_cases_before_the_c_library() {
    assert!(same(n(&POW, &[3.0, 4.0]), 81.0));
    assert!(same(n(&POW, &[-2.0, 3.0]), -8.0));
    assert!(n(&POW, &[1.0, f64::INFINITY]).is_nan());
    assert!(n(&POW, &[-1.0, f64::NEG_INFINITY]).is_nan());
    assert!(n(&POW, &[1.0, f64::NAN]).is_nan());
    assert!(same(n(&POW, &[f64::NAN, 0.0]), 1.0));
    assert!(same(n(&POW, &[-0.0, -3.0]), f64::NEG_INFINITY));
    assert!(same(n(&POW, &[-0.0, 0.5]), 0.0));
    assert!(same(n(&POW, &[f64::NEG_INFINITY, 0.5]), f64::INFINITY));
    assert!(n(&POW, &[-4.0, 0.5]).is_nan());
    assert!(same(n(&POW, &[1.1, 2.0]), 1.1 * 1.1));
    // The C library's pow is not 1/x for an exponent of -1 (Node 26 answers this on glibc).
    let x = -2.689784606180159f64;
    assert!(same(
        n(&POW, &[x, -1.0]),
        f64::from_bits(0xbfd7cb31ad87b633)
    ));
    assert!(!same(n(&POW, &[x, -1.0]), 1.0 / x));
    assert!(call(&SIN, &[Value::Num(1.0)]).is_err());
}

/// Math.pow and `**` on operands of every kind, compared with Node bit for bit: random doubles,
/// bases near 1 and exponents near integers (where C's pow is hardest to round), negative bases,
/// subnormal and huge results.
#[test]
fn pow_matches_node() {
    let mut rng = Rng(0x005E_ED0F_900E_2026);
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -2.0,
        3.0,
        -3.0,
        1e-300,
        -1e-300,
        5e-324,
        1e308,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        0.1,
        10.0,
    ];
    let mut cases = Vec::new();
    let push = |x: f64, y: f64, cases: &mut Vec<(String, Option<String>)>| {
        let ours = answer(call(&POW, &[Value::Num(x), Value::Num(y)]));
        cases.push((format!("Math.pow({}, {})", num(x), num(y)), ours.clone()));
        let op = crate::ops::num_op(
            &mut crate::cx::test_cx(&[]),
            crate::ops::NumOp::Exp,
            &Value::Num(x),
            &Value::Num(y),
        );
        cases.push((format!("({}) ** ({})", num(x), num(y)), answer(op)));
    };
    for &x in &specials {
        for &y in &specials {
            push(x, y, &mut cases);
        }
    }
    for i in 0..4000 * scale() {
        let u = rng.unit() * 2.0 - 1.0;
        let (x, y) = match i % 8 {
            0 => (f64::from_bits(rng.next()), f64::from_bits(rng.next())),
            1 => (1.0 + u * 1e-3, (rng.unit() * 2000.0 - 1000.0).round()),
            2 => (
                u * 100.0,
                [-1.0, 0.5, -0.5, 2.0, 3.0, -2.0, 1.0 / 3.0][rng.below(7) as usize],
            ),
            3 => (rng.unit() * 10.0, u * 50.0),
            4 => (-(rng.unit() * 10.0), (u * 40.0).round()),
            5 => (rng.unit() * 1e-3, u * 400.0),
            6 => (
                2f64.powi(rng.below(200) as i32 - 100) * (1.0 + u * 1e-9),
                u * 8.0,
            ),
            _ => (u * 4.0, u * 30.0 + rng.unit()),
        };
        push(x, y, &mut cases);
    }
    let n = check(&cases);
    assert!(n > 8000, "only {} cases compared", n);
}

fn inputs(rng: &mut Rng, n: usize) -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        3.0,
        10.0,
        22.0,
        -22.0,
        709.78,
        710.4758600739439,
        710.5,
        -745.2,
        1e-300,
        5e-324,
        1.7976931348623157e308,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1e-8,
        1e-17,
        std::f64::consts::PI,
        std::f64::consts::FRAC_PI_2,
        2f64.powi(-28),
        2f64.powi(-55),
        2f64.powi(53),
    ];
    while v.len() < n {
        let u = rng.unit() * 2.0 - 1.0;
        v.push(match rng.below(8) {
            0 => f64::from_bits(rng.next()),
            1 => u * 4.0,
            2 => u * 1000.0,
            3 => u * 1e-3,
            4 => u * 1e10,
            5 => u * 30.0,
            6 => u * 1.5,
            _ => (u * 80.0).round() / 4.0,
        });
    }
    v
}

#[test]
fn math_matches_node() {
    let mut rng = Rng(0x0DDB_A11C_AFE0_F00D);
    let xs = inputs(&mut rng, 300 * scale());
    let unary: &[&BuiltinDef] = &[
        &ABS, &ACOS, &ACOSH, &ASIN, &ASINH, &ATAN, &ATANH, &CBRT, &CEIL, &CLZ32, &COS, &COSH, &EXP,
        &EXPM1, &FLOOR, &FROUND, &LOG, &LOG10, &LOG1P, &LOG2, &ROUND, &SIGN, &SIN, &SINH, &SQRT,
        &TAN, &TANH, &TRUNC,
    ];
    let binary: &[&BuiltinDef] = &[&ATAN2, &HYPOT, &IMUL, &MAX, &MIN, &POW];
    let mut cases = Vec::new();
    for def in unary {
        for &x in &xs {
            cases.push((
                format!("{}({})", def.name, num(x)),
                answer(call(def, &[Value::Num(x)])),
            ));
        }
    }
    for def in binary {
        for (i, &x) in xs.iter().enumerate() {
            let y = match i % 3 {
                0 => xs[(i * 7 + 3) % xs.len()],
                1 => [0.5, 2.0, -1.0, 3.0, 1.0, -2.0, 10.0][i % 7],
                _ => (xs[(i * 5 + 1) % xs.len()] * 4.0).round(),
            };
            cases.push((
                format!("{}({}, {})", def.name, num(x), num(y)),
                answer(call(def, &[Value::Num(x), Value::Num(y)])),
            ));
        }
    }
    // Integer powers, where pow answers exactly.
    for b in -12i32..=12 {
        for e in 0..=40 {
            let (x, y) = (b as f64, e as f64);
            cases.push((
                format!("Math.pow({}, {})", num(x), num(y)),
                answer(call(&POW, &[Value::Num(x), Value::Num(y)])),
            ));
        }
    }
    let n = check(&cases);
    assert!(n > 7000, "only {} cases compared", n);
}
