//! Number and Boolean (ECMA-262 §21.1, §20.3): the functions, the statics, and the prototype methods.
//!
//! toFixed, toExponential and toPrecision work on the exact decimal expansion of the double (every
//! finite double is a finite decimal), rounding half up as the spec's "pick the larger n" says and V8
//! does. toString(radix) follows V8's `DoubleToRadixCString`, whose digits for fractions the spec
//! leaves to the implementation. toLocaleString formats as ICU does for Node's default locale, en-US.
//!
//! `new Number(...)` and `new Boolean(...)` give up: wrapper objects are not modelled.

use crate::builtin;
use crate::builtins::arg;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::ops;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};

builtin!(
    NUMBER,
    "Number",
    1,
    number_fn,
    ctor = number_ctor,
    returns_number
);
builtin!(IS_FINITE, "Number.isFinite", 1, is_finite);
builtin!(IS_INTEGER, "Number.isInteger", 1, is_integer);
builtin!(IS_NAN, "Number.isNaN", 1, is_nan);
builtin!(IS_SAFE_INTEGER, "Number.isSafeInteger", 1, is_safe_integer);
builtin!(TO_STRING, "Number.prototype.toString", 1, to_string);
builtin!(TO_FIXED, "Number.prototype.toFixed", 1, to_fixed);
builtin!(
    TO_EXPONENTIAL,
    "Number.prototype.toExponential",
    1,
    to_exponential
);
builtin!(
    TO_PRECISION,
    "Number.prototype.toPrecision",
    1,
    to_precision
);
builtin!(VALUE_OF, "Number.prototype.valueOf", 0, value_of);
builtin!(
    TO_LOCALE_STRING,
    "Number.prototype.toLocaleString",
    0,
    to_locale_string
);
builtin!(BOOLEAN, "Boolean", 1, boolean_fn, ctor = boolean_ctor);
builtin!(
    BOOLEAN_TO_STRING,
    "Boolean.prototype.toString",
    0,
    boolean_to_string
);
builtin!(
    BOOLEAN_VALUE_OF,
    "Boolean.prototype.valueOf",
    0,
    boolean_value_of
);

/// Installs number's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let number_proto = r.proto("Number");
    let boolean_proto = r.proto("Boolean");
    let number = r.constructor("Number", &NUMBER, number_proto)?;
    let _boolean = r.constructor("Boolean", &BOOLEAN, boolean_proto)?;
    r.statics(
        number,
        &[
            ("isFinite", &IS_FINITE),
            ("isInteger", &IS_INTEGER),
            ("isNaN", &IS_NAN),
            ("isSafeInteger", &IS_SAFE_INTEGER),
        ],
    )?;
    r.methods(
        number_proto,
        &[
            ("toString", &TO_STRING),
            ("toFixed", &TO_FIXED),
            ("toExponential", &TO_EXPONENTIAL),
            ("toPrecision", &TO_PRECISION),
            ("valueOf", &VALUE_OF),
            ("toLocaleString", &TO_LOCALE_STRING),
        ],
    )?;
    for (key, v) in constants() {
        r.constant(Some(number), key, v)?;
    }
    r.methods(
        boolean_proto,
        &[
            ("toString", &BOOLEAN_TO_STRING),
            ("valueOf", &BOOLEAN_VALUE_OF),
        ],
    )?;
    Ok(())
}

/// Number's constants (ECMA-262 §21.1.2).
fn constants() -> Vec<(&'static str, Value)> {
    vec![
        ("MAX_SAFE_INTEGER", Value::Num(9007199254740991.0)),
        ("MIN_SAFE_INTEGER", Value::Num(-9007199254740991.0)),
        ("EPSILON", Value::Num(f64::EPSILON)),
        ("MAX_VALUE", Value::Num(f64::MAX)),
        ("MIN_VALUE", Value::Num(5e-324)),
        ("POSITIVE_INFINITY", Value::Num(f64::INFINITY)),
        ("NEGATIVE_INFINITY", Value::Num(f64::NEG_INFINITY)),
        ("NaN", Value::Num(f64::NAN)),
    ]
}

fn ascii(cx: &mut Cx, s: &str) -> JsResult<Value> {
    cx.new_str(s.bytes().map(|b| b as u16).collect())
}

// ---------------------------------------------------------------------------------------------------
// Number and its statics

fn number_fn(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    if args.is_empty() {
        return Ok(Value::Num(0.0));
    }
    Ok(Value::Num(ops::to_number(cx, &args[0])?))
}

fn number_ctor(_cx: &mut Cx, _this: Option<ObjRef>, _args: &[Value]) -> JsResult<Value> {
    unsupported("new Number: wrapper objects are not modelled")
}

fn is_finite(_cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(
        matches!(arg(args, 0), Value::Num(n) if n.is_finite()),
    ))
}

fn is_integer(_cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(
        matches!(arg(args, 0), Value::Num(n) if n.is_finite() && n.trunc() == n),
    ))
}

fn is_nan(_cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(
        matches!(arg(args, 0), Value::Num(n) if n.is_nan()),
    ))
}

fn is_safe_integer(_cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(
        matches!(arg(args, 0), Value::Num(n) if n.is_finite() && n.trunc() == n && n.abs() <= 9007199254740991.0),
    ))
}

// ---------------------------------------------------------------------------------------------------
// Number.prototype

/// thisNumberValue (ECMA-262 §21.1.3): Number wrapper objects are not modelled, so only primitives.
fn this_number(this: &Value) -> JsResult<f64> {
    match this {
        Value::Num(n) => Ok(*n),
        _ => engine_error("TypeError: Number.prototype method called on incompatible receiver"),
    }
}

fn value_of(_cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    Ok(Value::Num(this_number(this)?))
}

fn to_string(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let x = this_number(this)?;
    let radix = match arg(args, 0) {
        Value::Undefined => 10.0,
        r => ops::to_integer_or_infinity(cx, &r)?,
    };
    if !(2.0..=36.0).contains(&radix) {
        return engine_error("RangeError: toString() radix must be between 2 and 36");
    }
    if radix == 10.0 {
        return Ok(Value::Str(ops::number_to_jsstr(x)));
    }
    let s = to_radix_string(x, radix as u32);
    ascii(cx, &s)
}

fn to_fixed(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let x = this_number(this)?;
    let f = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    if !f.is_finite() || !(0.0..=100.0).contains(&f) {
        return engine_error("RangeError: toFixed() digits argument must be between 0 and 100");
    }
    if !x.is_finite() {
        return Ok(Value::Str(ops::number_to_jsstr(x)));
    }
    let s = fixed(x, f as usize);
    ascii(cx, &s)
}

fn to_exponential(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let x = this_number(this)?;
    let fd = arg(args, 0);
    let f = ops::to_integer_or_infinity(cx, &fd)?;
    if !x.is_finite() {
        return Ok(Value::Str(ops::number_to_jsstr(x)));
    }
    if !f.is_finite() || !(0.0..=100.0).contains(&f) {
        return engine_error("RangeError: toExponential() argument must be between 0 and 100");
    }
    let digits = if fd.is_undefined() {
        None
    } else {
        Some(f as usize)
    };
    let s = exponential(x, digits);
    ascii(cx, &s)
}

fn to_precision(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let x = this_number(this)?;
    let pv = arg(args, 0);
    if pv.is_undefined() {
        return Ok(Value::Str(ops::number_to_jsstr(x)));
    }
    let p = ops::to_integer_or_infinity(cx, &pv)?;
    if !x.is_finite() {
        return Ok(Value::Str(ops::number_to_jsstr(x)));
    }
    if !p.is_finite() || !(1.0..=100.0).contains(&p) {
        return engine_error("RangeError: toPrecision() argument must be between 1 and 100");
    }
    let s = precision(x, p as usize);
    ascii(cx, &s)
}

fn to_locale_string(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let x = this_number(this)?;
    match arg(args, 0) {
        Value::Undefined if default_locale_is_en_us() => {}
        Value::Str(l) if l.eq_str("en-US") || l.eq_str("en") => {}
        Value::Undefined => {
            return unsupported(
                "Number.prototype.toLocaleString in a default locale other than en-US",
            )
        }
        _ => return unsupported("Number.prototype.toLocaleString in a locale other than en-US"),
    }
    let s = match arg(args, 1) {
        Value::Undefined => locale_string(x),
        Value::Obj(o) => format_with_options(cx, x, o)?,
        _ => {
            return unsupported(
                "Number.prototype.toLocaleString with options that are not an object",
            )
        }
    };
    cx.new_str(s.encode_utf16().collect())
}

/// Intl.NumberFormat's en-US output for the options handlers use: `style` decimal, percent or currency
/// (USD, EUR, GBP, JPY, shown as their symbol), `minimumFractionDigits`, `maximumFractionDigits` and
/// `useGrouping` (true or false). Any other option gives up, as does an option whose value would throw.
fn format_with_options(cx: &mut Cx, x: f64, o: crate::value::ObjRef) -> JsResult<String> {
    const KNOWN: [&str; 5] = [
        "style",
        "currency",
        "minimumFractionDigits",
        "maximumFractionDigits",
        "useGrouping",
    ];
    if matches!(cx.heap.kind(o), crate::heap::ObjKind::Ordinary) {
        let keys = crate::props::own_enumerable_keys(cx, o);
        if keys.iter().any(|k| !KNOWN.iter().any(|n| k.eq_str(n))) {
            return unsupported("Number.prototype.toLocaleString with options beyond style, currency, fraction digits and grouping");
        }
    } else {
        return unsupported(
            "Number.prototype.toLocaleString with options that are not a plain object",
        );
    }
    let get = |cx: &mut Cx, k: &str| crate::props::get(cx, &Value::Obj(o), &crate::props::key(k));
    let style = match get(cx, "style")? {
        Value::Undefined => "decimal".to_string(),
        Value::Str(s) if s.eq_str("decimal") || s.eq_str("percent") || s.eq_str("currency") => {
            s.to_rust_string()
        }
        _ => return unsupported("a toLocaleString style other than decimal, percent or currency"),
    };
    let (symbol, cur_digits) = if style == "currency" {
        match get(cx, "currency")? {
            Value::Str(c) if c.eq_str("USD") => ("$", 2),
            Value::Str(c) if c.eq_str("EUR") => ("€", 2),
            Value::Str(c) if c.eq_str("GBP") => ("£", 2),
            Value::Str(c) if c.eq_str("JPY") => ("¥", 0),
            _ => return unsupported("a toLocaleString currency other than USD, EUR, GBP or JPY"),
        }
    } else {
        ("", 0)
    };
    let (min_default, max_default) = match style.as_str() {
        "currency" => (cur_digits, cur_digits),
        "percent" => (0, 0),
        _ => (0, 3),
    };
    let digits = |cx: &mut Cx, k: &str| -> JsResult<Option<usize>> {
        match get(cx, k)? {
            Value::Undefined => Ok(None),
            Value::Num(n) if n.fract() == 0.0 && (0.0..=20.0).contains(&n) => Ok(Some(n as usize)),
            _ => unsupported("a fraction digits option that is not an integer from 0 to 20"),
        }
    };
    let min = digits(cx, "minimumFractionDigits")?;
    let max = digits(cx, "maximumFractionDigits")?;
    // ECMA-402 SetNumberFormatDigitOptions: each default gives way to the other option.
    let (min, max) = match (min, max) {
        (None, None) => (min_default, max_default),
        (Some(mn), None) => (mn, max_default.max(mn)),
        (None, Some(mx)) => (min_default.min(mx), mx),
        (Some(mn), Some(mx)) if mn <= mx => (mn, mx),
        _ => {
            return unsupported("minimumFractionDigits above maximumFractionDigits (a RangeError)")
        }
    };
    let grouping = match get(cx, "useGrouping")? {
        Value::Undefined | Value::Bool(true) => true,
        Value::Bool(false) => false,
        _ => return unsupported("a useGrouping option other than true or false"),
    };
    let shift = if style == "percent" { 2 } else { 0 };
    let body = format_decimal(x, min, max, grouping, shift);
    Ok(match style.as_str() {
        "percent" => format!("{}%", body),
        "currency" => match body.strip_prefix('-') {
            Some(rest) => format!("-{}{}", symbol, rest),
            None => format!("{}{}", symbol, body),
        },
        _ => body,
    })
}

/// Whether Node, started with this process's environment, would take en-US as its default locale: ICU
/// reads LC_ALL, then LC_MESSAGES, then LANG, and treats unset, C and POSIX as en-US. The dispatcher runs
/// with the function's environment, so this is what the JavaScript replica sees too.
pub fn default_locale_is_en_us() -> bool {
    static EN_US: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *EN_US.get_or_init(|| {
        let v = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let base = v.split(['.', '@']).next().unwrap_or("");
        matches!(base, "" | "C" | "POSIX" | "en_US")
    })
}

// ---------------------------------------------------------------------------------------------------
// Boolean

fn boolean_fn(_cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(ops::to_boolean(&arg(args, 0))))
}

fn boolean_ctor(_cx: &mut Cx, _this: Option<ObjRef>, _args: &[Value]) -> JsResult<Value> {
    unsupported("new Boolean: wrapper objects are not modelled")
}

fn this_boolean(this: &Value) -> JsResult<bool> {
    match this {
        Value::Bool(b) => Ok(*b),
        _ => engine_error("TypeError: Boolean.prototype method called on incompatible receiver"),
    }
}

fn boolean_to_string(_cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    Ok(Value::Str(JsStr::from(if this_boolean(this)? {
        "true"
    } else {
        "false"
    })))
}

fn boolean_value_of(_cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(this_boolean(this)?))
}

// ---------------------------------------------------------------------------------------------------
// Decimal digits of doubles

/// Decimal digits `d` (no leading or trailing zeros) and `point` such that a positive finite `x` is
/// exactly 0.d × 10^point.
pub fn exact_digits(x: f64) -> (Vec<u8>, i32) {
    debug_assert!(x > 0.0 && x.is_finite());
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    // x = m × 2^e. For e < 0, x = m × 5^-e / 10^-e.
    let mut big = BigUint::from_u64(m);
    let scale10 = if e >= 0 {
        big.shl(e as u32);
        0
    } else {
        for _ in 0..(-e) / 13 {
            big.mul_small(1_220_703_125); // 5^13
        }
        for _ in 0..(-e) % 13 {
            big.mul_small(5);
        }
        -e
    };
    let mut digits = big.into_decimal();
    let point = digits.len() as i32 - scale10;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    (digits, point)
}

/// The shortest round-tripping digits of a positive finite `x` (those Number::toString prints), as
/// (digits, point) with x ≈ 0.d × 10^point.
pub fn shortest_digits(x: f64) -> (Vec<u8>, i32) {
    let s = ops::number_to_string(x);
    let (mant, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s.as_str(), 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac_part.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut point = int_part.len() as i32 + exp;
    let lead = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    digits.drain(..lead);
    point -= lead as i32;
    while digits.last() == Some(&0) {
        digits.pop();
    }
    (digits, point)
}

/// Rounds 0.d × 10^point half up to the digits before position `cut` (counted in `d`); returns the
/// rounded digits (exactly `cut` of them, or `cut + 1` after a carry out of the first) and whether a
/// carry added a leading digit.
fn round_half_up(d: &[u8], cut: i32) -> (Vec<u8>, bool) {
    if cut < 0 {
        return (Vec::new(), false);
    }
    let cut = cut as usize;
    let mut out: Vec<u8> = (0..cut).map(|i| d.get(i).copied().unwrap_or(0)).collect();
    if d.get(cut).copied().unwrap_or(0) >= 5 {
        let mut i = cut;
        loop {
            if i == 0 {
                out.insert(0, 1);
                return (out, true);
            }
            i -= 1;
            if out[i] == 9 {
                out[i] = 0;
            } else {
                out[i] += 1;
                break;
            }
        }
    }
    (out, false)
}

fn digit_str(d: &[u8]) -> String {
    d.iter().map(|&c| (b'0' + c) as char).collect()
}

/// Number.prototype.toFixed for finite x and 0 ≤ f ≤ 100 (ECMA-262 §21.1.3.3).
/// round(ax × 10^f) with ties up, as toFixed wants it, when one floating multiplication decides it: the
/// product is below 2^52 and its fraction is clearly away from one half (the rounded product is within
/// half an ulp of the exact one, so both round to the same integer). `None` sends the caller to the exact
/// decimal expansion.
fn fixed_fast(ax: f64, f: usize) -> Option<u64> {
    const TENS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let p = *TENS.get(f)?;
    let y = ax * p;
    if y.is_nan() || y >= 4.0e15 {
        return None;
    }
    let fl = y.floor();
    let d = y - fl;
    // Four times the bound on |y - ax × 10^f|, and never below the smallest gap around one half.
    let margin = (y * f64::EPSILON * 2.0).max(1e-300);
    if (d - 0.5).abs() <= margin {
        return None;
    }
    Some(if d > 0.5 { fl as u64 + 1 } else { fl as u64 })
}

pub fn fixed(x: f64, f: usize) -> String {
    match fixed_fast(x.abs(), f) {
        Some(n) => with_point(x, n.to_string(), f),
        None => fixed_exact(x, f),
    }
}

/// Number::prototype.toFixed's digits (ECMA-262 §21.1.3.3) from the exact decimal expansion of `x`.
pub fn fixed_exact(x: f64, f: usize) -> String {
    if x.abs() >= 1e21 {
        return ops::number_to_string(x);
    }
    let ax = x.abs();
    // n = round(ax × 10^f), as digits.
    let n: Vec<u8> = if ax == 0.0 {
        Vec::new()
    } else {
        let (d, point) = exact_digits(ax);
        let (r, _) = round_half_up(&d, point + f as i32);
        let lead = r.iter().position(|&c| c != 0).unwrap_or(r.len());
        r[lead..].to_vec()
    };
    let m = if n.is_empty() {
        "0".to_string()
    } else {
        digit_str(&n)
    };
    with_point(x, m, f)
}

/// toFixed's text from `m`, the digits of round(|x| × 10^f): `x`'s sign when it is below zero (so
/// (-0.001).toFixed(2) is "-0.00", and -0 has none), then `m` with its last `f` digits after the point.
fn with_point(x: f64, mut m: String, f: usize) -> String {
    if f != 0 {
        if m.len() <= f {
            m = "0".repeat(f + 1 - m.len()) + &m;
        }
        let k = m.len();
        m.insert(k - f, '.');
    }
    if x < 0.0 {
        m.insert(0, '-');
    }
    m
}

fn exp_suffix(e: i32) -> String {
    if e >= 0 {
        format!("e+{}", e)
    } else {
        format!("e-{}", -e)
    }
}

/// Number.prototype.toExponential for finite x (ECMA-262 §21.1.3.2); `None` means the shortest digits.
pub fn exponential(x: f64, f: Option<usize>) -> String {
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    let ax = x.abs();
    let (digits, e) = if ax == 0.0 {
        (vec![0u8; f.unwrap_or(0) + 1], 0)
    } else {
        match f {
            None => {
                let (d, point) = shortest_digits(ax);
                (d, point - 1)
            }
            Some(f) => {
                let (d, point) = exact_digits(ax);
                let (mut r, carry) = round_half_up(&d, f as i32 + 1);
                if carry {
                    r.pop();
                }
                (r, point - 1 + carry as i32)
            }
        }
    };
    out.push((b'0' + digits[0]) as char);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digit_str(&digits[1..]));
    }
    out.push_str(&exp_suffix(e));
    out
}

/// Number.prototype.toPrecision for finite x and 1 ≤ p ≤ 100 (ECMA-262 §21.1.3.5).
pub fn precision(x: f64, p: usize) -> String {
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    let ax = x.abs();
    let (m, e) = if ax == 0.0 {
        (vec![0u8; p], 0)
    } else {
        let (d, point) = exact_digits(ax);
        let (mut r, carry) = round_half_up(&d, p as i32);
        if carry {
            r.pop();
        }
        (r, point - 1 + carry as i32)
    };
    let p = p as i32;
    if e < -6 || e >= p {
        out.push((b'0' + m[0]) as char);
        if p > 1 {
            out.push('.');
            out.push_str(&digit_str(&m[1..]));
        }
        out.push_str(&exp_suffix(e));
    } else if e == p - 1 {
        out.push_str(&digit_str(&m));
    } else if e >= 0 {
        out.push_str(&digit_str(&m[..(e + 1) as usize]));
        out.push('.');
        out.push_str(&digit_str(&m[(e + 1) as usize..]));
    } else {
        out.push_str("0.");
        out.push_str(&"0".repeat((-(e + 1)) as usize));
        out.push_str(&digit_str(&m));
    }
    out
}

/// Number.prototype.toString(radix) for radix ≠ 10, as V8's DoubleToRadixCString computes it: the
/// fraction's digits are generated until they identify the double (within half the gap to the next
/// double), with round-half-even on the last digit; the integer part is exact.
pub fn to_radix_string(x: f64, radix: u32) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    const CHARS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let negative = x < 0.0;
    let value = x.abs();
    let mut integer = value.floor();
    let mut fraction = value - integer;
    let next = f64::from_bits(value.to_bits() + 1);
    let mut delta = (0.5 * (next - value)).max(f64::from_bits(1));
    let radix_f = radix as f64;
    let mut frac_digits: Vec<u8> = Vec::new();
    if fraction >= delta {
        loop {
            fraction *= radix_f;
            delta *= radix_f;
            let digit = fraction as u32;
            frac_digits.push(digit as u8);
            fraction -= digit as f64;
            if (fraction > 0.5 || (fraction == 0.5 && digit & 1 == 1)) && fraction + delta > 1.0 {
                // Round up, propagating the carry into earlier digits or the integer part.
                loop {
                    match frac_digits.pop() {
                        None => {
                            integer += 1.0;
                            break;
                        }
                        Some(d) if (d as u32) + 1 < radix => {
                            frac_digits.push(d + 1);
                            break;
                        }
                        Some(_) => {}
                    }
                }
                break;
            }
            if fraction < delta {
                break;
            }
        }
    }
    // Integer digits; digits below the double's precision print as zeros.
    let mut int_digits: Vec<u8> = Vec::new();
    while integer / radix_f >= 9007199254740992.0 {
        integer /= radix_f;
        int_digits.push(b'0');
    }
    loop {
        let rem = integer % radix_f;
        int_digits.push(CHARS[rem as usize]);
        integer = (integer - rem) / radix_f;
        if integer <= 0.0 {
            break;
        }
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.extend(int_digits.iter().rev().map(|&b| b as char));
    if !frac_digits.is_empty() {
        out.push('.');
        out.extend(frac_digits.iter().map(|&d| CHARS[d as usize] as char));
    }
    out
}

/// `x.toLocaleString()` in en-US as ICU prints it: the shortest digits of x rounded half away from
/// zero to at most three fraction digits, groups of three in the integer part, "-0" for negative
/// zero and for negative numbers that round to zero, "∞" for infinities.
pub fn locale_string(x: f64) -> String {
    format_decimal(x, 0, 3, true, 0)
}

/// `x` as ICU writes it in en-US: the shortest decimal digits of `x` scaled by `10^shift` (2 for percent),
/// rounded half away from zero at `max_frac` fraction digits, padded with zeros to `min_frac`, the integer
/// part grouped by threes when `grouping`. A negative number (or -0) keeps its sign.
pub fn format_decimal(
    x: f64,
    min_frac: usize,
    max_frac: usize,
    grouping: bool,
    shift: i32,
) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    if x.is_infinite() {
        out.push('∞');
        return out;
    }
    let ax = x.abs();
    let (int_digits, mut frac_digits): (Vec<u8>, Vec<u8>) = if ax == 0.0 {
        (vec![0], vec![])
    } else {
        let (d, point) = shortest_digits(ax);
        let point = point + shift;
        let cut = point + max_frac as i32;
        let (r, carry) = round_half_up(&d, cut);
        let point = point + carry as i32;
        let int_len = point.max(0) as usize;
        let (int_part, frac_part) = if cut < 0 {
            (vec![], vec![])
        } else if point >= 0 {
            (
                r[..int_len.min(r.len())].to_vec(),
                r[int_len.min(r.len())..].to_vec(),
            )
        } else {
            let mut f = vec![0u8; (-point) as usize];
            f.extend_from_slice(&r);
            (vec![], f)
        };
        let mut int_part = int_part;
        int_part.resize(int_len, 0);
        if int_part.is_empty() {
            int_part.push(0);
        }
        let mut frac_part = frac_part;
        frac_part.truncate(max_frac);
        (int_part, frac_part)
    };
    while frac_digits.len() > min_frac && frac_digits.last() == Some(&0) {
        frac_digits.pop();
    }
    frac_digits.resize(frac_digits.len().max(min_frac), 0);
    let n = int_digits.len();
    for (i, &d) in int_digits.iter().enumerate() {
        if grouping && i > 0 && (n - i) % 3 == 0 {
            out.push(',');
        }
        out.push((b'0' + d) as char);
    }
    if !frac_digits.is_empty() {
        out.push('.');
        out.push_str(&digit_str(&frac_digits));
    }
    out
}

/// A little unsigned big integer, enough for the exact decimal expansion of a double.
struct BigUint {
    limbs: Vec<u32>,
}

impl BigUint {
    fn from_u64(v: u64) -> BigUint {
        BigUint {
            limbs: vec![v as u32, (v >> 32) as u32],
        }
    }
    fn mul_small(&mut self, m: u32) {
        let mut carry: u64 = 0;
        for l in self.limbs.iter_mut() {
            let p = *l as u64 * m as u64 + carry;
            *l = p as u32;
            carry = p >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
    }
    fn shl(&mut self, n: u32) {
        let words = (n / 32) as usize;
        let bits = n % 32;
        if bits != 0 {
            let mut carry = 0u32;
            for l in self.limbs.iter_mut() {
                let v = *l;
                *l = (v << bits) | carry;
                carry = v >> (32 - bits);
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        if words != 0 {
            self.limbs.splice(0..0, std::iter::repeat_n(0, words));
        }
    }
    fn is_zero(&self) -> bool {
        self.limbs.iter().all(|&l| l == 0)
    }
    /// Divides in place by `d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem: u64 = 0;
        for l in self.limbs.iter_mut().rev() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        while self.limbs.len() > 1 && *self.limbs.last().unwrap() == 0 {
            self.limbs.pop();
        }
        rem as u32
    }
    /// Decimal digits, most significant first, without leading zeros.
    fn into_decimal(mut self) -> Vec<u8> {
        let mut chunks: Vec<u32> = Vec::new();
        while !self.is_zero() {
            chunks.push(self.div_small(1_000_000_000));
        }
        let mut out = Vec::with_capacity(chunks.len() * 9);
        for (i, c) in chunks.iter().rev().enumerate() {
            let s = if i == 0 {
                c.to_string()
            } else {
                format!("{:09}", c)
            };
            out.extend(s.bytes().map(|b| b - b'0'));
        }
        out
    }
}

#[cfg(test)]
mod tests;
