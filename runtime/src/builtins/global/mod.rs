//! Global functions (ECMA-262 §19.2): parseInt, parseFloat, isNaN, isFinite, the URI functions; and the
//! constants the realm installs (`NaN`, `Infinity`, `undefined`, `Math.PI`, `Number.MAX_VALUE`, ...).
//!
//! parseInt follows V8 where the spec leaves the result to the implementation: radix 10 and the
//! power-of-two radixes are correctly rounded, the other radixes accumulate in doubles chunk by chunk
//! exactly as V8's `NumberParseIntHelper` does.

use crate::builtin;
use crate::builtins::arg;
use crate::cx::Abort;
use crate::cx::{engine_error, Cx, JsResult};
use crate::ops;
use crate::realm::Installer;
use crate::value::{JsStr, Value};

builtin!(PARSE_INT, "parseInt", 2, parse_int_fn, returns_number);
builtin!(PARSE_FLOAT, "parseFloat", 1, parse_float_fn, returns_number);
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

/// Installs the global functions and values, and `Number.parseInt` and `Number.parseFloat`.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let parse_int = r.function("parseInt", &PARSE_INT)?;
    let parse_float = r.function("parseFloat", &PARSE_FLOAT)?;
    r.function("isNaN", &IS_NAN)?;
    r.function("isFinite", &IS_FINITE)?;
    r.function("encodeURIComponent", &ENCODE_URI_COMPONENT)?;
    r.function("encodeURI", &ENCODE_URI)?;
    r.function("decodeURIComponent", &DECODE_URI_COMPONENT)?;
    r.function("decodeURI", &DECODE_URI)?;
    r.constant(None, "NaN", Value::Num(f64::NAN))?;
    r.constant(None, "Infinity", Value::Num(f64::INFINITY))?;
    r.constant(None, "undefined", Value::Undefined)?;
    // `Number.parseInt === parseInt` and `Number.parseFloat === parseFloat` (ECMA-262 §21.1.2.12-13): one
    // function object under both names, so a call site traced through either passes its guard under the
    // other.
    let Some(Value::Obj(number)) = r.realm.global("Number") else {
        panic!("Number is installed before the global functions");
    };
    r.property(number, "parseInt", Value::Obj(parse_int))?;
    r.property(number, "parseFloat", Value::Obj(parse_float))?;
    Ok(())
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
    const INFINITY: [u16; 8] = [73, 110, 102, 105, 110, 105, 116, 121];
    let n = if t[i..].starts_with(&INFINITY) {
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
        match ops::decimal_fast(&t[body_start..i]) {
            Some(n) => n,
            None => {
                let text: String = t[body_start..i].iter().map(|&c| c as u8 as char).collect();
                text.parse::<f64>().unwrap_or(f64::NAN)
            }
        }
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

#[cfg(test)]
mod tests;
