use super::*;
use crate::testkit::exprs::{answer, check, num, scale, Rng};

fn s(v: JsResult<Value>) -> String {
    match v {
        Ok(Value::Str(s)) => s.to_rust_string(),
        Ok(v) => format!("{:?}", v),
        Err(e) => format!("gave up: {:?}", e),
    }
}

/// The one-multiplication path of toFixed answers as the exact decimal expansion wherever it answers:
/// random magnitudes and digit counts, values on and next to halves (ties round up), money amounts.
#[test]
fn to_fixed_fast_path_agrees_with_the_exact_expansion() {
    let mut rng = Rng(0x70f1);
    let mut fast = 0;
    let n = std::env::var("CL_FIXED_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    for i in 0..n {
        let f = (rng.next() % 16) as usize;
        let x = match i % 4 {
            // Halves at digit f, and their neighbours.
            0 => {
                let k = (rng.next() % 1_000_000) as f64 + 0.5;
                let v = k / 10f64.powi(f as i32);
                match rng.next() % 3 {
                    0 => v,
                    1 => f64::from_bits(v.to_bits() + 1),
                    _ => f64::from_bits(v.to_bits().saturating_sub(1)),
                }
            }
            // Cents.
            1 => (rng.next() % 10_000_000) as f64 / 100.0,
            // Any magnitude.
            2 => f64::from_bits(rng.next()),
            _ => {
                (rng.next() as f64 / u64::MAX as f64 - 0.5)
                    * 10f64.powi((rng.next() % 30) as i32 - 10)
            }
        };
        if !x.is_finite() {
            continue;
        }
        if fixed_fast(x.abs(), f).is_some() {
            fast += 1;
        }
        assert_eq!(fixed(x, f), fixed_exact(x, f), "{:e}.toFixed({})", x, f);
    }
    assert!(
        fast > n / 4,
        "the fast path answered only {} of {}",
        fast,
        n
    );
}

#[test]
fn to_fixed_uses_the_exact_value() {
    let mut cx = crate::cx::test_cx(&[]);
    let mut f = |x: f64, d: f64| s((TO_FIXED.f)(&mut cx, &Value::Num(x), &[Value::Num(d)]));
    assert_eq!(f(1.005, 2.0), "1.00");
    assert_eq!(f(1.45, 1.0), "1.4");
    assert_eq!(f(0.5, 0.0), "1");
    assert_eq!(f(2.5, 0.0), "3");
    assert_eq!(f(-2.5, 0.0), "-3");
    assert_eq!(f(-0.0001, 2.0), "-0.00");
    assert_eq!(f(-0.0, 2.0), "0.00");
    assert_eq!(f(1e21, 2.0), "1e+21");
    assert_eq!(f(123.456, 10.0), "123.4560000000");
    assert_eq!(f(0.000001, 3.0), "0.000");
    assert_eq!(f(f64::NAN, 2.0), "NaN");
    assert!(f(1.0, 101.0).starts_with("gave up"));
}

#[test]
fn to_exponential_and_to_precision() {
    assert_eq!(exponential(123.456, None), "1.23456e+2");
    assert_eq!(exponential(0.0, None), "0e+0");
    assert_eq!(exponential(0.0, Some(2)), "0.00e+0");
    assert_eq!(exponential(9.99, Some(1)), "1.0e+1");
    // The double nearest 1.5e-7 lies below it.
    assert_eq!(exponential(-1.5e-7, Some(0)), "-1e-7");
    assert_eq!(precision(2.5, 1), "3");
    assert_eq!(precision(0.0, 3), "0.00");
    assert_eq!(precision(-1.5e-7, 2), "-1.5e-7");
    assert_eq!(precision(123456.0, 2), "1.2e+5");
    assert_eq!(precision(123456.0, 6), "123456");
    assert_eq!(precision(0.000123, 2), "0.00012");
    assert_eq!(precision(99.99, 3), "100");
}

#[test]
fn to_string_in_other_radixes() {
    assert_eq!(to_radix_string(255.5, 16), "ff.8");
    assert_eq!(
        to_radix_string(0.1, 3),
        "0.0022002200220022002200220022002201"
    );
    assert_eq!(to_radix_string(-255.0, 2), "-11111111");
    assert_eq!(to_radix_string(-0.0, 2), "0");
    assert_eq!(to_radix_string(f64::NEG_INFINITY, 7), "-Infinity");
}

#[test]
fn to_locale_string_with_options_matches_node() {
    let mut rng = Rng(0x10ca1e);
    let mut xs: Vec<f64> = vec![
        0.0,
        -0.0,
        1.005,
        2.5,
        -2.5,
        0.125,
        1234.5,
        -1234.5,
        999.995,
        0.0049,
        1e21,
        123456789.987654,
        f64::NAN,
        f64::INFINITY,
        -f64::INFINITY,
        0.1 + 0.2,
    ];
    for _ in 0..40 * scale() {
        let mag = 10f64.powi(rng.below(12) as i32 - 4);
        let v = (rng.unit() - 0.3) * mag;
        xs.push(if rng.below(3) == 0 {
            (v * 1000.0).round() / 1000.0
        } else {
            v
        });
    }
    let opts = [
        "undefined",
        "{}",
        "{maximumFractionDigits:2}",
        "{minimumFractionDigits:2}",
        "{minimumFractionDigits:1,maximumFractionDigits:1}",
        "{maximumFractionDigits:0}",
        "{style:'percent'}",
        "{style:'percent',maximumFractionDigits:1}",
        "{style:'currency',currency:'USD'}",
        "{style:'currency',currency:'EUR',minimumFractionDigits:0}",
        "{style:'currency',currency:'GBP',maximumFractionDigits:0}",
        "{style:'currency',currency:'JPY'}",
        "{useGrouping:false}",
        "{useGrouping:false,minimumFractionDigits:3}",
        "{maximumFractionDigits:20}",
    ];
    let mut js = String::from("const out=[];\n");
    let mut cases = Vec::new();
    for x in &xs {
        for o in opts {
            let lit = num(*x);
            let _ = std::fmt::Write::write_fmt(
                &mut js,
                format_args!(
                    "out.push(JSON.stringify(({}).toLocaleString('en-US',{})));\n",
                    lit, o
                ),
            );
            cases.push((*x, o));
        }
    }
    js.push_str("process.stdout.write(out.join('\\n')+'\\n');\n");
    let text = crate::testkit::node_script("locale", &js);
    let lines = crate::testkit::lines_for(&text, cases.len());
    let mut cx = crate::cx::test_cx(&[]);
    let mut rows = Vec::new();
    for ((x, o), node) in cases.iter().zip(lines) {
        let opts = if *o == "undefined" {
            Value::Undefined
        } else {
            let json = o
                .replace('\'', "\"")
                .replace('{', "{\"")
                .replace(':', "\":")
                .replace(",", ",\"")
                .replace("{\"}", "{}");
            crate::builtins::json::parse_bytes(&mut cx, &json.encode_utf16().collect::<Vec<u16>>())
                .unwrap()
        };
        let ours = to_locale_string(&mut cx, &Value::Num(*x), &[Value::str("en-US"), opts]);
        let ours = match ours {
            Ok(Value::Str(s)) => Some(
                crate::builtins::json::stringify_value(&mut cx, &Value::Str(s))
                    .unwrap()
                    .unwrap()
                    .to_rust_string(),
            ),
            _ => None,
        };
        rows.push((
            format!("({}).toLocaleString('en-US', {})", x, o),
            ours,
            node,
        ));
    }
    let compared = crate::testkit::assert_agree(rows);
    assert_eq!(compared, cases.len(), "every case is answered");
}

#[test]
fn to_locale_string_groups_and_rounds() {
    assert_eq!(locale_string(1234.5678), "1,234.568");
    assert_eq!(locale_string(0.0005), "0.001");
    assert_eq!(locale_string(-0.0), "-0");
    assert_eq!(locale_string(999.9995), "1,000");
    assert_eq!(locale_string(f64::INFINITY), "∞");
    assert_eq!(locale_string(1e21), "1,000,000,000,000,000,000,000");
    assert_eq!(locale_string(-0.0001), "-0");
    assert_eq!(locale_string(0.0004999), "0");
}

#[test]
fn number_statics_and_boolean() {
    let mut cx = crate::cx::test_cx(&[]);
    let u = Value::Undefined;
    assert!(matches!(
        (IS_INTEGER.f)(&mut cx, &u, &[Value::Num(5.0)]),
        Ok(Value::Bool(true))
    ));
    assert!(matches!(
        (IS_INTEGER.f)(&mut cx, &u, &[Value::str("5")]),
        Ok(Value::Bool(false))
    ));
    assert!(matches!(
        (IS_SAFE_INTEGER.f)(&mut cx, &u, &[Value::Num(9007199254740992.0)]),
        Ok(Value::Bool(false))
    ));
    assert!(matches!(
        (IS_NAN.f)(&mut cx, &u, &[Value::str("x")]),
        Ok(Value::Bool(false))
    ));
    assert!(matches!((NUMBER.f)(&mut cx, &u, &[]), Ok(Value::Num(n)) if n == 0.0));
    assert!(
        matches!((NUMBER.f)(&mut cx, &u, &[Value::str(" 0x10 ")]), Ok(Value::Num(n)) if n == 16.0)
    );
    assert!(matches!(
        (BOOLEAN.f)(&mut cx, &u, &[Value::str("")]),
        Ok(Value::Bool(false))
    ));
    assert!(s((BOOLEAN_TO_STRING.f)(&mut cx, &Value::Bool(true), &[])) == "true");
    assert!((BOOLEAN_VALUE_OF.f)(&mut cx, &Value::Num(1.0), &[]).is_err());
    assert!((VALUE_OF.f)(&mut cx, &Value::str("1"), &[]).is_err());
    assert!((NUMBER.ctor.unwrap())(&mut cx, None, &[]).is_err());
}

/// Doubles of many shapes: random bits, decimal-looking values, halves at various scales.
fn inputs(rng: &mut Rng, n: usize) -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.005,
        1.45,
        2.5,
        0.5,
        1.5,
        123.456,
        1e21,
        999999999999999999999.0,
        5e-324,
        1.7976931348623157e308,
        0.1,
        0.3,
        1e-7,
        123e-20,
        4.35,
        0.000001,
        1.0 / 3.0,
    ];
    while v.len() < n {
        let x = match rng.below(6) {
            0 => f64::from_bits(rng.next()),
            1 => (rng.below(2_000_000) as f64) / 10f64.powi(rng.below(8) as i32),
            2 => (rng.below(20_000) as f64 + 0.5) / 10f64.powi(rng.below(5) as i32),
            3 => rng.unit() * 10f64.powi(rng.below(40) as i32 - 20),
            4 => (rng.unit() - 0.5) * 1e6,
            _ => rng.below(1 << 40) as f64 * if rng.below(2) == 0 { 1.0 } else { -1.0 },
        };
        if x.is_finite() {
            v.push(x);
        }
    }
    v
}

#[test]
fn formatting_matches_node() {
    let mut cx = crate::cx::test_cx(&[]);
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let xs = inputs(&mut rng, 400 * scale());
    let mut cases = Vec::new();
    for (i, &x) in xs.iter().enumerate() {
        let this = Value::Num(x);
        let f = [0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 100.0][i % 8];
        cases.push((
            format!("{}.toFixed({})", num(x), f),
            answer((TO_FIXED.f)(&mut cx, &this, &[Value::Num(f)])),
        ));
        let e = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 50.0][(i / 8) % 8];
        cases.push((
            format!("{}.toExponential({})", num(x), e),
            answer((TO_EXPONENTIAL.f)(&mut cx, &this, &[Value::Num(e)])),
        ));
        cases.push((
            format!("{}.toExponential()", num(x)),
            answer((TO_EXPONENTIAL.f)(&mut cx, &this, &[])),
        ));
        let p = [1.0, 2.0, 3.0, 6.0, 7.0, 15.0, 17.0, 21.0, 100.0][i % 9];
        cases.push((
            format!("{}.toPrecision({})", num(x), p),
            answer((TO_PRECISION.f)(&mut cx, &this, &[Value::Num(p)])),
        ));
        let r = 2 + (i % 35) as u32;
        let r = if r == 10 { 36 } else { r };
        cases.push((
            format!("{}.toString({})", num(x), r),
            answer((TO_STRING.f)(&mut cx, &this, &[Value::Num(r as f64)])),
        ));
        cases.push((
            format!("{}.toLocaleString()", num(x)),
            answer((TO_LOCALE_STRING.f)(&mut cx, &this, &[])),
        ));
    }
    for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let this = Value::Num(x);
        cases.push((
            format!("{}.toFixed(2)", num(x)),
            answer((TO_FIXED.f)(&mut cx, &this, &[Value::Num(2.0)])),
        ));
        cases.push((
            format!("{}.toExponential(200)", num(x)),
            answer((TO_EXPONENTIAL.f)(&mut cx, &this, &[Value::Num(200.0)])),
        ));
        cases.push((
            format!("{}.toPrecision(0)", num(x)),
            answer((TO_PRECISION.f)(&mut cx, &this, &[Value::Num(0.0)])),
        ));
        cases.push((
            format!("{}.toString(2)", num(x)),
            answer((TO_STRING.f)(&mut cx, &this, &[Value::Num(2.0)])),
        ));
        cases.push((
            format!("{}.toLocaleString()", num(x)),
            answer((TO_LOCALE_STRING.f)(&mut cx, &this, &[])),
        ));
    }
    let n = check(&cases);
    assert!(n > 2000, "only {} cases compared", n);
}
