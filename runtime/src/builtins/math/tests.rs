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

/// How many inputs per function the bit-for-bit comparison with Node draws: `CL_MATH_DIFF_N`
/// (default 200,000, a few seconds in all; set it to millions for a long run).
fn diff_n() -> usize {
    std::env::var("CL_MATH_DIFF_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// x moved by `ulps` units in the last place (toward +∞ for positive steps on positive x).
fn ulps_away(x: f64, ulps: i64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    f64::from_bits((x.to_bits() as i64).wrapping_add(ulps) as u64)
}

/// ±m·2^e with m in [1, 2) and e uniform in `lo..hi`.
fn log_uniform(rng: &mut Rng, lo: i32, hi: i32) -> f64 {
    let e = lo + rng.below((hi - lo) as u64) as i32;
    let m = 1.0 + rng.unit();
    let v = m * 2f64.powi(e);
    if rng.below(2) == 0 {
        v
    } else {
        -v
    }
}

/// Arguments every function is tried on: zeros, infinities, NaN, the subnormal and normal extremes.
fn specials() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        5e-324,
        -5e-324,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::MAX,
        -f64::MAX,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        std::f64::consts::E,
        10.0,
    ];
    for e in [
        -1074, -1060, -1022, -1000, -600, -300, -60, -54, -30, -28, -27, -26, -1, 0, 1, 10,
    ] {
        for d in [-2, -1, 0, 1, 2] {
            v.push(ulps_away(2f64.powi(e), d));
            v.push(-ulps_away(2f64.powi(e), d));
        }
    }
    v
}

/// An argument near c: a few ulps away, or c·(1 + u·2^-k).
fn near(rng: &mut Rng, c: f64) -> f64 {
    if rng.below(2) == 0 {
        ulps_away(c, rng.below(65) as i64 - 32)
    } else {
        let k = rng.below(52) as i32;
        c * (1.0 + (rng.unit() * 2.0 - 1.0) * 2f64.powi(-k))
    }
}

/// An argument near one of `centres`.
fn near_one(rng: &mut Rng, centres: &[f64]) -> f64 {
    let c = centres[rng.below(centres.len() as u64) as usize];
    near(rng, c)
}

/// An argument near a multiple of π/4 (small, medium or huge multiples, where the argument reduction
/// of sin, cos and tan loses the most bits).
fn near_pi_multiple(rng: &mut Rng) -> f64 {
    let quarter = std::f64::consts::FRAC_PI_4;
    let k = match rng.below(4) {
        0 => rng.below(16) as f64,
        1 => rng.below(1 << 20) as f64,
        2 => rng.below(1 << 30) as f64,
        _ => (rng.next() >> 11) as f64 * 2f64.powi(rng.below(960) as i32),
    };
    let c = k * quarter;
    let v = ulps_away(c, rng.below(9) as i64 - 4);
    if rng.below(2) == 0 {
        v
    } else {
        -v
    }
}

/// Where a function changes method or rounds hardest: its branch points (high words of fdlibm's and
/// the IBM library's thresholds), overflow and underflow edges, and its own hard regions.
fn hard(name: &str, rng: &mut Rng) -> f64 {
    let pick = |rng: &mut Rng, xs: &[f64]| xs[rng.below(xs.len() as u64) as usize];
    match name {
        "sin" | "cos" | "tan" => match rng.below(3) {
            0 => near_pi_multiple(rng),
            1 => {
                let c = pick(
                    rng,
                    &[
                        0.126,
                        f64::from_bits(0x3FEB_6000_0000_0000),
                        f64::from_bits(0x4003_68FD_0000_0000),
                        f64::from_bits(0x4199_21FB_0000_0000),
                        105_414_350.0,
                        f64::from_bits(0x3E50_0000_0000_0000),
                        f64::from_bits(0x3E40_0000_0000_0000),
                        f64::from_bits(0x3FE9_21FB_0000_0000),
                        f64::from_bits(0x4002_D97C_0000_0000),
                        f64::from_bits(0x4139_21FB_0000_0000),
                        6381956970095103.0 * 2f64.powi(797),
                        5.319372648326541e255,
                        1e22,
                    ],
                );
                let v = near(rng, c);
                if rng.below(2) == 0 {
                    v
                } else {
                    -v
                }
            }
            _ => log_uniform(rng, -30, 1024),
        },
        "asin" | "acos" | "atanh" => match rng.below(3) {
            0 => near_one(rng, &[1.0, -1.0, 0.5, -0.5, 0.975, -0.975, 0.4375]),
            1 => rng.unit() * 2.0 - 1.0,
            _ => log_uniform(rng, -60, 1),
        },
        "atan" => match rng.below(2) {
            0 => near_one(rng, &[0.4375, 0.6875, 1.1875, 2.4375, 2f64.powi(66), 1.0]),
            _ => log_uniform(rng, -60, 80),
        },
        "acosh" => match rng.below(3) {
            0 => 1.0 + rng.unit() * 2f64.powi(-(rng.below(53) as i32)),
            1 => near_one(rng, &[1.0, 2.0, 2f64.powi(28)]),
            _ => log_uniform(rng, 0, 1024).abs(),
        },
        "asinh" => match rng.below(2) {
            0 => near_one(rng, &[2.0, -2.0, 2f64.powi(28), 2f64.powi(-28), 1.0]),
            _ => log_uniform(rng, -40, 1024),
        },
        "log" | "log2" | "log10" => match rng.below(4) {
            0 => 1.0 + (rng.unit() * 2.0 - 1.0) * 2f64.powi(-(rng.below(53) as i32)),
            1 => near_one(
                rng,
                &[
                    std::f64::consts::SQRT_2,
                    std::f64::consts::FRAC_1_SQRT_2,
                    10.0,
                    1e22,
                    1e-300,
                ],
            ),
            2 => {
                10f64.powi(rng.below(600) as i32 - 300)
                    * (1.0 + (rng.below(3) as f64 - 1.0) * f64::EPSILON)
            }
            _ => f64::from_bits(rng.next() >> 12), // subnormals
        },
        "log1p" => match rng.below(3) {
            0 => (rng.unit() * 2.0 - 1.0) * 2f64.powi(-(rng.below(60) as i32)),
            1 => near_one(rng, &[-1.0, -0.2929, 0.41421356, 2f64.powi(53), -0.5, 1.0]),
            _ => log_uniform(rng, -60, 1024).abs() - 1.0,
        },
        "exp" | "expm1" | "sinh" | "cosh" | "tanh" => match rng.below(3) {
            0 => {
                near_one(
                    rng,
                    &[
                        709.782712893384,
                        -745.1332191019411,
                        -708.39641853226,
                        709.7822265625,
                        710.4758600739439,
                        22.0,
                        38.816242111356935,  // 56·ln2
                        0.34657359027997264, // ln2/2
                        1.0397207708399179,  // 1.5·ln2
                        1.0,
                        -1.0,
                        2f64.powi(-28),
                        2f64.powi(-54),
                    ],
                ) * if rng.below(4) == 0 { -1.0 } else { 1.0 }
            }
            1 => (rng.unit() * 2.0 - 1.0) * 2f64.powi(-(rng.below(60) as i32)),
            _ => (rng.unit() * 2.0 - 1.0) * 750.0,
        },
        "cbrt" => match rng.below(3) {
            0 => {
                let k = (rng.below(1 << 20) as f64) * if rng.below(2) == 0 { 1.0 } else { -1.0 };
                ulps_away(k * k * k, rng.below(5) as i64 - 2)
            }
            1 => f64::from_bits(rng.next() >> 12) * if rng.below(2) == 0 { 1.0 } else { -1.0 },
            _ => log_uniform(rng, -1074, 1024),
        },
        _ => log_uniform(rng, -60, 60),
    }
}

/// Arguments for one function: the specials, then a third random bit patterns over every exponent
/// (and both signs, and NaN payloads), a third in the function's hard places, a third spread over
/// the magnitudes where it does its work.
fn arguments(name: &str, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed);
    let mut v = specials();
    while v.len() < n {
        let x = match v.len() % 3 {
            0 => f64::from_bits(rng.next()),
            1 => hard(name, &mut rng),
            _ => log_uniform(&mut rng, -64, 64),
        };
        v.push(x);
    }
    v
}

fn write_f64s(path: &std::path::Path, xs: &[f64]) {
    let mut b = Vec::with_capacity(xs.len() * 8);
    for x in xs {
        b.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(path, b).expect("write inputs");
}

fn read_f64s(path: &std::path::Path) -> Vec<f64> {
    std::fs::read(path)
        .expect("read Node's answers")
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// A function's name on Math, its first and second arguments (NaN where it takes one) and ours.
type Case<'a> = (&'a str, Vec<f64>, Vec<f64>, &'a dyn Fn(f64, f64) -> f64);

/// For each function, its inputs through Node and through `ours`, compared bit for bit (any NaN
/// equals any NaN: a program cannot tell NaNs apart). Node reads the arguments from binary files and
/// writes its answers the same way, so millions of values cost seconds.
fn bitwise_against_node(cases: &[Case<'_>]) {
    let dir = std::env::temp_dir().join(format!("clrt-mathdiff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, xs, ys, _) in cases {
        write_f64s(&dir.join(format!("{}.x", name)), xs);
        write_f64s(&dir.join(format!("{}.y", name)), ys);
    }
    let script = r#"
const fs = require('fs'), path = require('path');
const [dir, ...names] = process.argv.slice(1);
const load = (f) => { const b = fs.readFileSync(f); return new Float64Array(b.buffer, b.byteOffset, b.length / 8); };
for (const name of names) {
  const x = load(path.join(dir, name + '.x')), y = load(path.join(dir, name + '.y'));
  const out = new Float64Array(x.length), f = Math[name];
  if (f.length === 2) for (let i = 0; i < x.length; i++) out[i] = f(x[i], y[i]);
  else for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  fs.writeFileSync(path.join(dir, name + '.node'), out);
}
"#;
    let out = crate::testkit::node_command()
        .arg("-e")
        .arg(script)
        .arg(&dir)
        .args(cases.iter().map(|c| c.0))
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report = Vec::new();
    for (name, xs, ys, ours) in cases {
        let node = read_f64s(&dir.join(format!("{}.node", name)));
        assert_eq!(node.len(), xs.len());
        let mut bad = 0usize;
        for i in 0..xs.len() {
            let o = ours(xs[i], ys[i]);
            if !same(o, node[i]) {
                bad += 1;
                if bad <= 8 {
                    report.push(format!(
                        "Math.{}({:e} [{:#018x}]{}): node {:e} [{:#018x}], ours {:e} [{:#018x}]",
                        name,
                        xs[i],
                        xs[i].to_bits(),
                        if ys.is_empty() || ys[i].is_nan() && name.len() < 5 {
                            String::new()
                        } else {
                            format!(", {:e}", ys[i])
                        },
                        node[i],
                        node[i].to_bits(),
                        o,
                        o.to_bits()
                    ));
                }
            }
        }
        eprintln!(
            "Math.{}: {} arguments compared with Node, {} differ",
            name,
            xs.len(),
            bad
        );
        if bad > 0 {
            report.push(format!("Math.{}: {} of {} differ", name, bad, xs.len()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        report.is_empty(),
        "differ from Node:\n{}",
        report.join("\n")
    );
}

fn unary_case<'a>(name: &'a str, f: &'a dyn Fn(f64, f64) -> f64, seed: u64) -> Case<'a> {
    let xs = arguments(name, diff_n(), seed);
    let ys = vec![f64::NAN; xs.len()];
    (name, xs, ys, f)
}

/// Every transcendental Math function against Node, bit for bit, on `CL_MATH_DIFF_N` arguments each.
#[test]
fn transcendental_functions_are_bit_exact_with_node() {
    let by = |def: &'static BuiltinDef| move |x: f64, _: f64| n(def, &[x]);
    type Named = (&'static str, Box<dyn Fn(f64, f64) -> f64>);
    let fns: Vec<Named> = vec![
        ("sin", Box::new(by(&SIN))),
        ("cos", Box::new(by(&COS))),
        ("tan", Box::new(by(&TAN))),
        ("asin", Box::new(by(&ASIN))),
        ("acos", Box::new(by(&ACOS))),
        ("atan", Box::new(by(&ATAN))),
        ("sinh", Box::new(by(&SINH))),
        ("cosh", Box::new(by(&COSH))),
        ("tanh", Box::new(by(&TANH))),
        ("asinh", Box::new(by(&ASINH))),
        ("acosh", Box::new(by(&ACOSH))),
        ("atanh", Box::new(by(&ATANH))),
        ("exp", Box::new(by(&EXP))),
        ("expm1", Box::new(by(&EXPM1))),
        ("log", Box::new(by(&LOG))),
        ("log1p", Box::new(by(&LOG1P))),
        ("log2", Box::new(by(&LOG2))),
        ("log10", Box::new(by(&LOG10))),
        ("cbrt", Box::new(by(&CBRT))),
    ];
    let mut cases = Vec::new();
    for (i, (name, f)) in fns.iter().enumerate() {
        cases.push(unary_case(
            name,
            f.as_ref(),
            0x5EED_0000_0000_0001 + i as u64 * 0x9E37_79B9,
        ));
    }
    // atan2: pairs of every kind, y/x ratios near 2^±60 where it switches method, x = 1.
    let mut rng = Rng(0xA7A2_0000_2026_0001);
    let mut ys = Vec::new();
    let mut xs = Vec::new();
    let sp = specials();
    for &a in &sp {
        for &b in &sp {
            ys.push(a);
            xs.push(b);
        }
    }
    while xs.len() < diff_n() {
        let (y, x) = match xs.len() % 4 {
            0 => (f64::from_bits(rng.next()), f64::from_bits(rng.next())),
            1 => {
                let x = log_uniform(&mut rng, -100, 100);
                let e = 56 + rng.below(9) as i32;
                let e = if rng.below(2) == 0 { e } else { -e };
                (x * 2f64.powi(e) * (1.0 + rng.unit()), x)
            }
            2 => (
                log_uniform(&mut rng, -64, 64),
                if rng.below(4) == 0 {
                    1.0
                } else {
                    log_uniform(&mut rng, -64, 64)
                },
            ),
            _ => (rng.unit() * 2.0 - 1.0, rng.unit() * 2.0 - 1.0),
        };
        ys.push(y);
        xs.push(x);
    }
    let atan2 = |y: f64, x: f64| n(&ATAN2, &[y, x]);
    cases.push(("atan2", ys, xs, &atan2));
    bitwise_against_node(&cases);
}
