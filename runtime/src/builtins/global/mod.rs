//! Global functions (ECMA-262 §19.2): parseInt, parseFloat, isNaN, isFinite, the URI functions; and the
//! constants the realm installs (`NaN`, `Infinity`, `undefined`, `Math.PI`, `Number.MAX_VALUE`, ...).
//!
//! parseInt follows V8 where the spec leaves the result to the implementation: radix 10 and the
//! power-of-two radixes are correctly rounded, the other radixes accumulate in doubles chunk by chunk
//! exactly as V8's `NumberParseIntHelper` does.

use crate::builtin;
use crate::builtins::{arg, BuiltinDef};
use crate::cx::{engine_error, Cx, JsResult};
use crate::ops;
use crate::value::{JsStr, Value};

builtin!(PARSE_INT, "parseInt", 2, parse_int_fn);
builtin!(PARSE_FLOAT, "parseFloat", 1, parse_float_fn);
builtin!(IS_NAN, "isNaN", 1, is_nan_fn);
builtin!(IS_FINITE, "isFinite", 1, is_finite_fn);
builtin!(
    ENCODE_URI_COMPONENT,
    "encodeURIComponent",
    1,
    encode_uri_component
);
builtin!(ENCODE_URI, "encodeURI", 1, encode_uri);
builtin!(
    DECODE_URI_COMPONENT,
    "decodeURIComponent",
    1,
    decode_uri_component
);
builtin!(DECODE_URI, "decodeURI", 1, decode_uri);

pub static DEFS: &[&BuiltinDef] = &[
    &PARSE_INT,
    &PARSE_FLOAT,
    &IS_NAN,
    &IS_FINITE,
    &ENCODE_URI_COMPONENT,
    &ENCODE_URI,
    &DECODE_URI_COMPONENT,
    &DECODE_URI,
];

/// Constants the realm installs: ("NaN", NaN), ("Math.PI", π), ...
pub fn constants() -> Vec<(&'static str, Value)> {
    let mut v: Vec<(&'static str, Value)> = vec![
        ("NaN", Value::Num(f64::NAN)),
        ("Infinity", Value::Num(f64::INFINITY)),
        ("undefined", Value::Undefined),
    ];
    v.extend(crate::builtins::math::constants());
    v.extend(crate::builtins::number::constants());
    v
}

// ---------------------------------------------------------------------------------------------------
// parseInt (ECMA-262 §19.2.5)

fn is_ws(c: u16) -> bool {
    ops::trim_start_units(&[c]).is_empty()
}

fn digit_value(c: u16) -> Option<u32> {
    match c {
        0x30..=0x39 => Some((c - 0x30) as u32),
        0x61..=0x7a => Some((c - 0x61) as u32 + 10),
        0x41..=0x5a => Some((c - 0x41) as u32 + 10),
        _ => None,
    }
}

fn parse_int_fn(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    let r = ops::f64_to_int32(ops::to_number(cx, &arg(args, 1))?);
    cx.burn(s.len() as u64 / 8)?;
    Ok(Value::Num(parse_int(s.units(), r)))
}

/// parseInt on UTF-16 text with radix `radix` (already ToInt32'd; 0 means "detect").
pub fn parse_int(units: &[u16], radix: i32) -> f64 {
    let mut i = units.iter().position(|&c| !is_ws(c)).unwrap_or(units.len());
    let mut negative = false;
    if i < units.len() && (units[i] == b'-' as u16 || units[i] == b'+' as u16) {
        negative = units[i] == b'-' as u16;
        i += 1;
    }
    let mut radix = radix;
    let mut strip_prefix = true;
    if radix != 0 {
        if !(2..=36).contains(&radix) {
            return f64::NAN;
        }
        if radix != 16 {
            strip_prefix = false;
        }
    } else {
        radix = 10;
    }
    if strip_prefix
        && i + 1 < units.len()
        && units[i] == b'0' as u16
        && (units[i + 1] == b'x' as u16 || units[i + 1] == b'X' as u16)
    {
        i += 2;
        radix = 16;
    }
    let radix = radix as u32;
    let start = i;
    while i < units.len() && digit_value(units[i]).is_some_and(|d| d < radix) {
        i += 1;
    }
    let digits = &units[start..i];
    if digits.is_empty() {
        return f64::NAN;
    }
    let first = digits
        .iter()
        .position(|&c| c != b'0' as u16)
        .unwrap_or(digits.len());
    let digits = &digits[first..];
    let n = if digits.is_empty() {
        0.0
    } else if radix == 10 {
        let text: String = digits.iter().map(|&c| c as u8 as char).collect();
        text.parse::<f64>().unwrap_or(f64::NAN)
    } else if radix.is_power_of_two() {
        parse_pow2(digits, radix.trailing_zeros())
    } else {
        parse_generic(digits, radix)
    };
    if negative {
        -n
    } else {
        n
    }
}

/// Digits in radix 2^bits, correctly rounded (round half to even).
fn parse_pow2(digits: &[u16], bits: u32) -> f64 {
    let mut mant: u64 = 0;
    let mut extra_exp: i32 = 0;
    let mut sticky = false;
    for &c in digits {
        let d = digit_value(c).unwrap_or(0) as u64;
        if mant >> (60 - bits) == 0 {
            mant = (mant << bits) | d;
        } else {
            extra_exp += bits as i32;
            sticky |= d != 0;
        }
    }
    let width = 64 - mant.leading_zeros();
    let (kept, shift) = if width <= 53 {
        (mant, 0)
    } else {
        let shift = width - 53;
        let kept = mant >> shift;
        let rem = mant & ((1u64 << shift) - 1);
        let half = 1u64 << (shift - 1);
        let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
        (kept + up as u64, shift)
    };
    scale2(kept as f64, shift as i32 + extra_exp)
}

/// x * 2^e for exact x, without intermediate overflow of the power.
fn scale2(mut x: f64, mut e: i32) -> f64 {
    while e > 1000 {
        x *= 2f64.powi(1000);
        e -= 1000;
        if x.is_infinite() {
            return x;
        }
    }
    x * 2f64.powi(e)
}

/// Other radixes: V8 reads the digits in chunks whose multiplier fits 32 bits and folds each chunk
/// into a double (`result = result * multiplier + part`), which the spec allows to be approximate.
fn parse_generic(digits: &[u16], radix: u32) -> f64 {
    const MAX_MULTIPLIER: u32 = 0xFFFF_FFFF / 36;
    let mut result = 0.0f64;
    let mut i = 0;
    while i < digits.len() {
        let mut part: u32 = 0;
        let mut multiplier: u32 = 1;
        while i < digits.len() {
            let m = multiplier * radix;
            if m > MAX_MULTIPLIER {
                break;
            }
            part = part * radix + digit_value(digits[i]).unwrap_or(0);
            multiplier = m;
            i += 1;
        }
        result = result * multiplier as f64 + part as f64;
    }
    result
}

// ---------------------------------------------------------------------------------------------------
// parseFloat (ECMA-262 §19.2.4)

fn parse_float_fn(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    cx.burn(s.len() as u64 / 8)?;
    Ok(Value::Num(parse_float(s.units())))
}

/// The value of the longest prefix of the trimmed text that is a StrDecimalLiteral, or NaN.
pub fn parse_float(units: &[u16]) -> f64 {
    let t = ops::trim_start_units(units);
    let mut i = 0;
    let mut negative = false;
    if i < t.len() && (t[i] == b'-' as u16 || t[i] == b'+' as u16) {
        negative = t[i] == b'-' as u16;
        i += 1;
    }
    let is_digit = |j: usize| j < t.len() && (0x30..=0x39).contains(&t[j]);
    let body_start = i;
    let inf: Vec<u16> = "Infinity".encode_utf16().collect();
    let n = if t[i..].starts_with(&inf) {
        f64::INFINITY
    } else {
        let mut seen = false;
        while is_digit(i) {
            i += 1;
            seen = true;
        }
        if i < t.len() && t[i] == b'.' as u16 && (seen || is_digit(i + 1)) {
            i += 1;
            while is_digit(i) {
                i += 1;
                seen = true;
            }
        }
        if !seen {
            return f64::NAN;
        }
        if i < t.len() && (t[i] == b'e' as u16 || t[i] == b'E' as u16) {
            let mut j = i + 1;
            if j < t.len() && (t[j] == b'+' as u16 || t[j] == b'-' as u16) {
                j += 1;
            }
            if is_digit(j) {
                while is_digit(j) {
                    j += 1;
                }
                i = j;
            }
        }
        let text: String = t[body_start..i].iter().map(|&c| c as u8 as char).collect();
        text.parse::<f64>().unwrap_or(f64::NAN)
    };
    if negative {
        -n
    } else {
        n
    }
}

fn is_nan_fn(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(ops::to_number(cx, &arg(args, 0))?.is_nan()))
}

fn is_finite_fn(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(ops::to_number(cx, &arg(args, 0))?.is_finite()))
}

// ---------------------------------------------------------------------------------------------------
// URI handling (ECMA-262 §19.2.6)

const URI_MARK_AND_ALNUM: &str = "-_.!~*'()";
const URI_RESERVED_AND_HASH: &str = ";/?:@&=+$,#";

fn unescaped(c: u16, extra: &str) -> bool {
    match c {
        0x30..=0x39 | 0x41..=0x5a | 0x61..=0x7a => true,
        0..=0x7f => {
            URI_MARK_AND_ALNUM.as_bytes().contains(&(c as u8))
                || extra.as_bytes().contains(&(c as u8))
        }
        _ => false,
    }
}

fn encode(cx: &mut Cx, s: &JsStr, extra: &str) -> JsResult<Value> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let u = s.units();
    cx.burn(u.len() as u64)?;
    let mut out: Vec<u16> = Vec::with_capacity(u.len());
    let mut k = 0;
    while k < u.len() {
        let c = u[k];
        if unescaped(c, extra) {
            out.push(c);
            k += 1;
            continue;
        }
        let cp = match c {
            0xD800..=0xDBFF if k + 1 < u.len() && (0xDC00..=0xDFFF).contains(&u[k + 1]) => {
                let cp = 0x10000 + (((c as u32) - 0xD800) << 10) + ((u[k + 1] as u32) - 0xDC00);
                k += 2;
                cp
            }
            0xD800..=0xDFFF => return engine_error("URIError: URI malformed"),
            _ => {
                k += 1;
                c as u32
            }
        };
        let ch = char::from_u32(cp).expect("valid code point");
        let mut buf = [0u8; 4];
        for &b in ch.encode_utf8(&mut buf).as_bytes() {
            out.extend_from_slice(&[
                b'%' as u16,
                HEX[(b >> 4) as usize] as u16,
                HEX[(b & 15) as usize] as u16,
            ]);
        }
    }
    cx.new_str(out)
}

fn hex_byte(u: &[u16], k: usize) -> Option<u8> {
    if k + 2 >= u.len() || u[k] != b'%' as u16 {
        return None;
    }
    let h = (u[k + 1] as u8 as char)
        .to_digit(16)
        .filter(|_| u[k + 1] < 0x80)?;
    let l = (u[k + 2] as u8 as char)
        .to_digit(16)
        .filter(|_| u[k + 2] < 0x80)?;
    Some((h * 16 + l) as u8)
}

fn decode(cx: &mut Cx, s: &JsStr, preserve: &str) -> JsResult<Value> {
    let u = s.units();
    cx.burn(u.len() as u64)?;
    let mut out: Vec<u16> = Vec::with_capacity(u.len());
    let mut k = 0;
    while k < u.len() {
        if u[k] != b'%' as u16 {
            out.push(u[k]);
            k += 1;
            continue;
        }
        let Some(b) = hex_byte(u, k) else {
            return engine_error("URIError: URI malformed");
        };
        if b < 0x80 {
            if preserve.as_bytes().contains(&b) {
                out.extend_from_slice(&u[k..k + 3]);
            } else {
                out.push(b as u16);
            }
            k += 3;
            continue;
        }
        let n = b.leading_ones() as usize;
        if n == 1 || n > 4 {
            return engine_error("URIError: URI malformed");
        }
        let mut bytes = vec![b];
        let mut j = k + 3;
        for _ in 1..n {
            match hex_byte(u, j) {
                Some(c) if c & 0xC0 == 0x80 => bytes.push(c),
                _ => return engine_error("URIError: URI malformed"),
            }
            j += 3;
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return engine_error("URIError: URI malformed");
        };
        out.extend(text.encode_utf16());
        k = j;
    }
    cx.new_str(out)
}

fn encode_uri_component(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    encode(cx, &s, "")
}

fn encode_uri(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    encode(cx, &s, URI_RESERVED_AND_HASH)
}

fn decode_uri_component(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    decode(cx, &s, "")
}

fn decode_uri(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = ops::to_string(cx, &arg(args, 0))?;
    decode(cx, &s, URI_RESERVED_AND_HASH)
}

/// Differential testing against Node for the builtins in this folder: each case is a JavaScript
/// expression and what our builtin answered (`None` where it gave up, which is never compared).
#[cfg(test)]
pub(crate) mod difftest {
    use crate::cx::JsResult;
    use crate::value::Value;
    use std::fmt::Write as _;

    pub use crate::testkit::XorShift as Rng;

    /// A JavaScript literal denoting exactly `x`.
    pub fn num(x: f64) -> String {
        if x.is_nan() {
            "NaN".into()
        } else if x.is_infinite() {
            if x > 0.0 {
                "Infinity".into()
            } else {
                "(-Infinity)".into()
            }
        } else if x == 0.0 && x.is_sign_negative() {
            "(-0)".into()
        } else {
            format!("({})", crate::ops::number_to_string(x))
        }
    }

    /// A JavaScript string literal denoting exactly these UTF-16 units.
    pub fn str_lit(units: &[u16]) -> String {
        let mut s = String::from("\"");
        for &c in units {
            if (0x20..0x7f).contains(&c) && c != b'"' as u16 && c != b'\\' as u16 {
                s.push(c as u8 as char);
            } else {
                let _ = write!(s, "\\u{:04x}", c);
            }
        }
        s.push('"');
        s
    }

    /// The comparison form of a value; the Node side prints the same form.
    pub fn repr(v: &Value) -> String {
        match v {
            Value::Num(n) if n.is_nan() => "n:nan".into(),
            Value::Num(n) => format!("n:{:x}", n.to_bits()),
            Value::Str(s) => {
                let mut o = String::from("s:");
                for &c in s.units() {
                    let _ = write!(o, "{:x},", c);
                }
                o
            }
            Value::Bool(b) => format!("b:{}", b),
            Value::Undefined | Value::Hole => "u".into(),
            _ => "o".into(),
        }
    }

    /// What a builtin answered, or `None` if it gave up.
    pub fn answer(r: JsResult<Value>) -> Option<String> {
        match r {
            Ok(v) => Some(repr(&v)),
            Err(crate::cx::Ctl::Abort(_)) => None,
            Err(crate::cx::Ctl::Throw(_)) => Some("thrown".into()),
        }
    }

    /// Runs every expression in Node and asserts that each answer we gave equals Node's. Returns how
    /// many were compared.
    pub fn check(cases: &[(String, Option<String>)]) -> usize {
        let mut js = String::from(
            "const dv=new DataView(new ArrayBuffer(8));\n\
             function R(v){if(typeof v==='number'){if(v!==v)return 'n:nan';dv.setFloat64(0,v);return 'n:'+dv.getBigUint64(0).toString(16);}\
             if(typeof v==='string'){let o='s:';for(let i=0;i<v.length;i++)o+=v.charCodeAt(i).toString(16)+',';return o;}\
             if(typeof v==='boolean')return 'b:'+v;if(v===undefined)return 'u';return 'o';}\n\
             function T(f){try{return R(f());}catch(e){return 'e:'+e.name;}}\nconst out=[];\n",
        );
        for (e, _) in cases {
            let _ = writeln!(js, "out.push(T(()=>{}));", e);
        }
        js.push_str("process.stdout.write(out.join('\\n')+'\\n');\n");
        let text = crate::testkit::node_script("difftest", &js);
        let lines = crate::testkit::lines_for(&text, cases.len());
        crate::testkit::assert_agree(cases.iter().zip(lines).map(|((e, ours), node)| (e.clone(), ours.clone(), node)))
    }

    /// A multiplier for the number of generated inputs (`CLRT_DIFF_SCALE`, default 1), for long runs.
    pub fn scale() -> usize {
        std::env::var("CLRT_DIFF_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::difftest::{answer, check, scale, str_lit, Rng};
    use super::*;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    #[should_panic(expected = "differ from Node")]
    fn the_differential_harness_catches_a_difference() {
        check(&[
            ("1 + 1".into(), Some("n:0".into())),
            ("'a'".into(), Some(super::difftest::repr(&Value::str("a")))),
        ]);
    }

    #[test]
    fn parse_int_follows_the_spec() {
        assert!(same(parse_int(&units("  +12abc"), 0), 12.0));
        assert!(same(parse_int(&units("-0"), 0), -0.0));
        assert!(same(parse_int(&units("0x1g"), 0), 1.0));
        assert!(same(parse_int(&units("-0x10"), 0), -16.0));
        assert!(parse_int(&units("0x"), 16).is_nan());
        assert!(parse_int(&units("123"), 37).is_nan());
        assert!(parse_int(&units("123"), 1).is_nan());
        assert!(same(parse_int(&units("1e3"), 0), 1.0));
        assert!(same(parse_int(&units("0b11"), 0), 0.0));
        assert!(same(parse_int(&units("11"), 2), 3.0));
        assert!(parse_int(&units("\u{180e}12"), 0).is_nan());
        assert!(same(parse_int(&units("\u{feff}\u{a0}12"), 0), 12.0));
        assert!(same(parse_int(&units(&"1".repeat(400)), 0), f64::INFINITY));
        assert!(same(
            parse_int(&units("zzzzzzzzzzzzzzzzzz"), 36),
            1.0314424798490537e28
        ));
    }

    #[test]
    fn parse_float_takes_the_longest_prefix() {
        assert!(same(parse_float(&units("1.e5")), 100000.0));
        assert!(same(parse_float(&units("1.5e+")), 1.5));
        assert!(same(
            parse_float(&units("   -Infinityx")),
            f64::NEG_INFINITY
        ));
        assert!(parse_float(&units("infinity")).is_nan());
        assert!(same(parse_float(&units("0x10")), 0.0));
        assert!(parse_float(&units(".")).is_nan());
        assert!(parse_float(&units("-.e1")).is_nan());
        assert!(same(parse_float(&units("-.5e-3x")), -0.0005));
        assert!(same(parse_float(&units("-0")), -0.0));
        assert!(same(parse_float(&units("2e-324")), 0.0));
    }

    #[test]
    fn constants_are_installed() {
        let cx = crate::cx::test_cx(&[]);
        assert!(matches!(cx.realm.global("NaN"), Some(Value::Num(n)) if n.is_nan()));
        assert!(matches!(
            cx.realm.global("undefined"),
            Some(Value::Undefined)
        ));
        let math = cx
            .realm
            .global("Math")
            .and_then(|m| m.as_obj())
            .expect("Math");
        assert!(
            matches!(cx.heap.get(math).props.get(&units("PI")[..]), Some(crate::heap::Prop::Data { value: Value::Num(p), .. }) if *p == std::f64::consts::PI)
        );
        let number = cx
            .realm
            .global("Number")
            .and_then(|m| m.as_obj())
            .expect("Number");
        assert!(cx
            .heap
            .get(number)
            .props
            .contains_key(&units("MAX_SAFE_INTEGER")[..]));
    }

    fn run(def: &BuiltinDef, s: &str) -> JsResult<Value> {
        let mut cx = crate::cx::test_cx(&[]);
        (def.f)(&mut cx, &Value::Undefined, &[Value::str(s)])
    }

    fn text(r: JsResult<Value>) -> String {
        match r {
            Ok(Value::Str(s)) => s.to_rust_string(),
            other => format!("{:?}", other.map_err(|_| "gave up")),
        }
    }

    #[test]
    fn uri_functions() {
        assert_eq!(
            text(run(&ENCODE_URI, "a;/?:@&=+$,#b c\u{20ac}\u{1F600}")),
            "a;/?:@&=+$,#b%20c%E2%82%AC%F0%9F%98%80"
        );
        assert_eq!(
            text(run(&ENCODE_URI_COMPONENT, "-_.!~*'()a b;")),
            "-_.!~*'()a%20b%3B"
        );
        assert_eq!(
            text(run(&DECODE_URI, "%3B%2f%41%e2%82%ac")),
            "%3B%2fA\u{20ac}"
        );
        assert_eq!(
            text(run(&DECODE_URI_COMPONENT, "%3B%2f%41%e2%82%ac")),
            ";/A\u{20ac}"
        );
        for bad in [
            "%",
            "%4",
            "%zz",
            "%80",
            "%C0%80",
            "%ED%A0%80",
            "%E2%82",
            "%F8%80%80%80",
        ] {
            assert!(run(&DECODE_URI_COMPONENT, bad).is_err(), "{}", bad);
        }
        let mut cx = crate::cx::test_cx(&[]);
        let lone = Value::Str(JsStr::from_units(vec![0x61, 0xD800]));
        assert!((ENCODE_URI_COMPONENT.f)(&mut cx, &Value::Undefined, &[lone]).is_err());
    }

    /// Random strings made of the characters parseInt and parseFloat care about.
    fn numeric_text(rng: &mut Rng, alphabet: &[&str], max_len: u64) -> String {
        let len = rng.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn parsing_matches_node() {
        let mut cx = crate::cx::test_cx(&[]);
        let mut rng = Rng(0xFEED_FACE_1234_5678);
        let mut cases = Vec::new();
        let u = Value::Undefined;
        let float_alpha = [
            "0",
            "1",
            "5",
            "9",
            "7",
            ".",
            "e",
            "E",
            "-",
            "+",
            " ",
            "x",
            "Infinity",
            "00",
            "123456789",
        ];
        let int_alpha = [
            "0",
            "1",
            "7",
            "9",
            "a",
            "f",
            "z",
            "Z",
            "x",
            "-",
            "+",
            " ",
            "\u{a0}",
            "g",
            ".",
            "123456789",
            "zzzz",
        ];
        for i in 0..(300 * scale()) {
            let s = numeric_text(&mut rng, &float_alpha, 12);
            let su = units(&s);
            let lit = str_lit(&su);
            cases.push((
                format!("parseFloat({})", lit),
                answer((PARSE_FLOAT.f)(&mut cx, &u, &[Value::str(&s)])),
            ));
            let s = numeric_text(&mut rng, &int_alpha, 14);
            let lit = str_lit(&units(&s));
            let radix = [
                0.0,
                2.0,
                8.0,
                10.0,
                16.0,
                36.0,
                3.0,
                7.0,
                37.0,
                1.0,
                -1.0,
                4294967312.0,
            ][i % 12];
            cases.push((
                format!("parseInt({}, {})", lit, radix),
                answer((PARSE_INT.f)(
                    &mut cx,
                    &u,
                    &[Value::str(&s), Value::Num(radix)],
                )),
            ));
        }
        // Long digit strings, where rounding and V8's chunked accumulation matter.
        for i in 0..(200 * scale()) {
            let radix = 2 + (i % 35) as u32;
            let len = 10 + rng.below(60) as usize;
            let s: String = (0..len)
                .map(|_| std::char::from_digit(rng.below(radix as u64) as u32, radix).unwrap())
                .collect();
            let lit = str_lit(&units(&s));
            cases.push((
                format!("parseInt({}, {})", lit, radix),
                answer((PARSE_INT.f)(
                    &mut cx,
                    &u,
                    &[Value::str(&s), Value::Num(radix as f64)],
                )),
            ));
            let d: String = (0..len)
                .map(|_| std::char::from_digit(rng.below(10) as u32, 10).unwrap())
                .collect();
            let f = format!("{}.{}e-{}", &d[..len / 3], &d[len / 3..], rng.below(330));
            let lit = str_lit(&units(&f));
            cases.push((
                format!("parseFloat({})", lit),
                answer((PARSE_FLOAT.f)(&mut cx, &u, &[Value::str(&f)])),
            ));
        }
        // Power-of-two radixes at the rounding boundary: 53 significant bits and then a tail.
        for tail in ["1", "10", "11", "100", "101", "1000000001", "0"] {
            for lead in ["1", "11", "10"] {
                let s = format!("{}{}{}", lead, "0".repeat(52), tail);
                cases.push((
                    format!("parseInt({}, 2)", str_lit(&units(&s))),
                    answer((PARSE_INT.f)(
                        &mut cx,
                        &u,
                        &[Value::str(&s), Value::Num(2.0)],
                    )),
                ));
            }
        }
        let n = check(&cases);
        assert!(n > 1000, "only {} cases compared", n);
    }

    #[test]
    fn uri_round_trips_match_node() {
        let mut cx = crate::cx::test_cx(&[]);
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        let u = Value::Undefined;
        let pieces: [&[u16]; 12] = [
            &[0x61],
            &[0x20],
            &[0x3B],
            &[0x23],
            &[0x25],
            &[0xE9],
            &[0x20AC],
            &[0xD83D, 0xDE00],
            &[0x2F],
            &[0x3F],
            &[0x7E],
            &[0xD800],
        ];
        let mut cases = Vec::new();
        for _ in 0..(200 * scale()) {
            let mut s: Vec<u16> = Vec::new();
            for _ in 0..rng.below(8) {
                s.extend_from_slice(pieces[rng.below(12) as usize]);
            }
            let v = Value::Str(JsStr::from_units(s.clone()));
            let lit = str_lit(&s);
            for def in [
                &ENCODE_URI,
                &ENCODE_URI_COMPONENT,
                &DECODE_URI,
                &DECODE_URI_COMPONENT,
            ] {
                cases.push((
                    format!("{}({})", def.name, lit),
                    answer((def.f)(&mut cx, &u, std::slice::from_ref(&v))),
                ));
            }
            // Escapes, valid and not.
            let escapes = [
                "%41",
                "%3b",
                "%3B",
                "%23",
                "%e2%82%ac",
                "%C3%A9",
                "%f0%9f%98%80",
                "%",
                "%4",
                "%G1",
                "%80",
                "%c3",
                "%ed%a0%80",
                "x",
            ];
            let t: String = (0..rng.below(5))
                .map(|_| escapes[rng.below(escapes.len() as u64) as usize])
                .collect();
            for def in [&DECODE_URI, &DECODE_URI_COMPONENT] {
                cases.push((
                    format!("{}({})", def.name, str_lit(&units(&t))),
                    answer((def.f)(&mut cx, &u, &[Value::str(&t)])),
                ));
            }
        }
        check(&cases);
    }
}
