//! ECMAScript abstract operations and operators, named after the spec's sections.

use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::ObjKind;
use crate::value::{tag, JsStr, Value};

/// ToBoolean (ECMA-262 §7.1.2).
#[inline]
pub fn to_boolean(v: &Value) -> bool {
    match v {
        Value::Undefined | Value::Null | Value::Hole => false,
        Value::Bool(b) => *b,
        Value::Num(n) => !(*n == 0.0 || n.is_nan()),
        Value::Str(s) => !s.is_empty(),
        Value::Obj(_) => true,
    }
}

/// The type tag used by type guards; see `value::tag`.
#[inline]
pub fn type_tag(cx: &Cx, v: &Value) -> u16 {
    match v {
        Value::Undefined | Value::Hole => tag::UNDEFINED,
        Value::Null => tag::NULL,
        Value::Bool(_) => tag::BOOL,
        Value::Num(_) => tag::NUMBER,
        Value::Str(_) => tag::STRING,
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Array(_) => tag::ARRAY,
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => tag::FUNCTION,
            // The tracer tags every non-array, non-promise object (Dates, RegExps, Maps, Responses...) "object";
            // a builtin's objects say which tag they have.
            ObjKind::Builtin(b) => b.type_tag(),
            ObjKind::Ordinary | ObjKind::Error => tag::OBJECT,
            _ => tag::OTHER,
        },
    }
}

/// A type guard: gives up unless `v`'s tag is one of `mask`.
#[inline(always)]
pub fn guard_type(cx: &Cx, v: &Value, mask: u16, site: u32) -> JsResult<()> {
    let t = match v {
        Value::Num(_) => tag::NUMBER,
        Value::Str(_) => tag::STRING,
        Value::Bool(_) => tag::BOOL,
        Value::Undefined | Value::Hole => tag::UNDEFINED,
        Value::Null => tag::NULL,
        // Plain objects and arrays without a call; other kinds ask `type_tag`.
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Ordinary => tag::OBJECT,
            ObjKind::Array(_) => tag::ARRAY,
            _ => type_tag(cx, v),
        },
    };
    if t & mask != 0 {
        Ok(())
    } else {
        type_guard_failed(site)
    }
}

/// The type guard of a site where the trace saw only numbers, giving the number itself: generated code
/// then computes on an unboxed f64 (see `binary` in compiler/codegen.ts).
#[inline(always)]
pub fn guard_num(v: &Value, site: u32) -> JsResult<f64> {
    match v {
        Value::Num(n) => Ok(*n),
        _ => type_guard_failed(site).map(|()| 0.0),
    }
}

/// The type guard of a site where the trace saw only booleans, giving the boolean.
#[inline(always)]
pub fn guard_bool(v: &Value, site: u32) -> JsResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => type_guard_failed(site).map(|()| false),
    }
}

#[cold]
#[inline(never)]
fn type_guard_failed(site: u32) -> JsResult<()> {
    crate::cx::abort(
        crate::cx::AbortKind::TypeGuard,
        site,
        "a type the trace did not see",
    )
}

/// `typeof` (ECMA-262 §13.5.3).
/// `typeof v` as a string value: the eight answers are made once per thread and shared.
pub fn type_of_value(cx: &Cx, v: &Value) -> Value {
    const NAMES: [&str; 8] = [
        "undefined",
        "object",
        "boolean",
        "number",
        "string",
        "function",
        "bigint",
        "symbol",
    ];
    thread_local! {
        static MADE: [JsStr; 8] = NAMES.map(JsStr::from);
    }
    let t = type_of(cx, v);
    match NAMES.iter().position(|n| *n == t) {
        Some(i) => MADE.with(|m| Value::Str(m[i].clone())),
        None => Value::str(t),
    }
}

pub fn type_of(cx: &Cx, v: &Value) -> &'static str {
    match v {
        Value::Undefined | Value::Hole => "undefined",
        Value::Null => "object",
        Value::Bool(_) => "boolean",
        Value::Num(_) => "number",
        Value::Str(_) => "string",
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => "function",
            _ => "object",
        },
    }
}

fn is_js_whitespace(c: u16) -> bool {
    matches!(
        c,
        0x09 | 0x0A | 0x0B | 0x0C | 0x0D | 0x20 | 0xA0 | 0x1680 | 0x2000
            ..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 | 0xFEFF
    )
}

/// Trims JavaScript whitespace and line terminators from both ends (String.prototype.trim).
pub fn trim_units(u: &[u16]) -> &[u16] {
    let start = u
        .iter()
        .position(|&c| !is_js_whitespace(c))
        .unwrap_or(u.len());
    let end = u
        .iter()
        .rposition(|&c| !is_js_whitespace(c))
        .map(|i| i + 1)
        .unwrap_or(start);
    &u[start..end.max(start)]
}
pub fn trim_start_units(u: &[u16]) -> &[u16] {
    let start = u
        .iter()
        .position(|&c| !is_js_whitespace(c))
        .unwrap_or(u.len());
    &u[start..]
}
pub fn trim_end_units(u: &[u16]) -> &[u16] {
    let end = u
        .iter()
        .rposition(|&c| !is_js_whitespace(c))
        .map(|i| i + 1)
        .unwrap_or(0);
    &u[..end]
}

/// The value of `body`, digits with at most one `.` among them (no sign, no exponent), when it has at most
/// 15 digits: the digits as an integer below 2^53 divided by a power of ten up to 10^15, both exact in an
/// f64, so the one correctly rounded division is the correctly rounded value (Clinger's fast path). None
/// for anything else, which the full parser reads.
#[inline]
pub fn decimal_fast(body: &[u16]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if body.is_empty() || body.len() > 16 {
        return None;
    }
    let (mut m, mut digits, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in body {
        match c {
            0x30..=0x39 => {
                m = m * 10 + (c - 0x30) as u64;
                digits += 1;
                frac += dot as usize;
            }
            0x2e if !dot => dot = true,
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    Some(m as f64 / POW10[frac])
}

/// StringToNumber (ECMA-262 §7.1.4.1.1).
pub fn string_to_number(s: &JsStr) -> f64 {
    let t = trim_units(s.units());
    if t.is_empty() {
        return 0.0;
    }
    // Plain decimals ("31.5", "-7", "0.25") without the text copy the grammar below reads.
    let (negative, body) = match t[0] {
        0x2d => (true, &t[1..]),
        0x2b => (false, &t[1..]),
        _ => (false, t),
    };
    if let Some(n) = decimal_fast(body) {
        return if negative { -n } else { n };
    }
    if t.iter().any(|&c| c > 0x7f) {
        return f64::NAN;
    }
    let text: String = t.iter().map(|&c| c as u8 as char).collect();
    let bytes = text.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' {
        let radix = match bytes[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            let mut n = 0.0f64;
            for &c in &bytes[2..] {
                match (c as char).to_digit(radix) {
                    Some(d) => n = n * radix as f64 + d as f64,
                    None => return f64::NAN,
                }
            }
            return n;
        }
    }
    match text.as_str() {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    // The StrDecimalLiteral grammar: digits, one dot, an exponent; Rust's parser also takes "inf" and
    // "nan", which JavaScript does not.
    let body = bytes
        .strip_prefix(b"+")
        .or_else(|| bytes.strip_prefix(b"-"))
        .unwrap_or(bytes);
    let mut seen_digit = false;
    let mut i = 0;
    while i < body.len() && body[i].is_ascii_digit() {
        i += 1;
        seen_digit = true;
    }
    if i < body.len() && body[i] == b'.' {
        i += 1;
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
            seen_digit = true;
        }
    }
    if !seen_digit {
        return f64::NAN;
    }
    if i < body.len() && (body[i] == b'e' || body[i] == b'E') {
        i += 1;
        if i < body.len() && (body[i] == b'+' || body[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return f64::NAN;
        }
    }
    if i != body.len() {
        return f64::NAN;
    }
    text.parse::<f64>().unwrap_or(f64::NAN)
}

/// Number::toString(10) (ECMA-262 §6.1.6.1.20), by the ryu-js crate, which implements it exactly.
pub fn number_to_string(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string();
    }
    let mut b = ryu_js::Buffer::new();
    b.format(n).to_string()
}

/// The integers below this have their strings made once per thread (`number_to_jsstr`).
const SMALL_INTS: usize = 1024;

thread_local! {
    /// The strings of the integers 0 to `SMALL_INTS - 1`, made once per thread and shared, as V8 keeps a
    /// number-string cache: `String(i)`, `'' + i` kept as a value and `i.toString()` for loop counters, days
    /// and counts were two allocations each. Sharing is invisible (strings are immutable).
    static INT_STRS: Vec<JsStr> = (0..SMALL_INTS)
        .map(|i| with_number_units(i as f64, JsStr::from_slice))
        .collect();
}

pub fn number_to_jsstr(n: f64) -> JsStr {
    // -0 is "0", as the string of 0 is.
    let i = n as usize;
    if i < SMALL_INTS && i as f64 == n {
        return INT_STRS.with(|t| t[i].clone());
    }
    with_number_units(n, JsStr::from_slice)
}

/// Appends Number::toString(n) (ECMA-262 §6.1.6.1.20) to `out`: integers of 32 bits digit by digit, the
/// rest as `number_to_string` writes them.
#[inline]
pub fn push_number(out: &mut Vec<u16>, n: f64) {
    with_number_units(n, |u| out.extend_from_slice(u))
}

/// Calls `f` with the units of `n`'s string, made on the stack: a string built around a number (`s + n`,
/// `String(n)`) is then one allocation.
#[inline]
pub fn with_number_units<R>(n: f64, f: impl FnOnce(&[u16]) -> R) -> R {
    let i = trunc_i32(n);
    if i as f64 == n && i != i32::MIN {
        // -0 is "0".
        let mut v = i.unsigned_abs();
        let mut buf = [0u16; 11];
        let mut p = buf.len();
        loop {
            p -= 1;
            buf[p] = b'0' as u16 + (v % 10) as u16;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if i < 0 {
            p -= 1;
            buf[p] = b'-' as u16;
        }
        return f(&buf[p..]);
    }
    let mut b = ryu_js::Buffer::new();
    let text = b.format(n);
    // JavaScript's shortest form is at most 25 characters ("-1.2345678901234567e-308"); NaN and Infinity
    // fewer.
    let mut buf = [0u16; 32];
    if text.len() > buf.len() {
        let units: Vec<u16> = text.bytes().map(|b| b as u16).collect();
        return f(&units);
    }
    for (d, b) in buf.iter_mut().zip(text.bytes()) {
        *d = b as u16;
    }
    f(&buf[..text.len()])
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    Default,
    Number,
    String,
}

/// ToPrimitive (ECMA-262 §7.1.1) with OrdinaryToPrimitive for user objects.
pub fn to_primitive(cx: &mut Cx, v: &Value, hint: Hint) -> JsResult<Value> {
    let o = match v {
        Value::Obj(o) => *o,
        Value::Hole => return Ok(Value::Undefined),
        _ => return Ok(v.clone()),
    };
    if let ObjKind::Builtin(b) = cx.heap.kind(o) {
        if b.prefers_string() {
            // Date's @@toPrimitive prefers strings for the default hint.
            let h = if hint == Hint::Number {
                Hint::Number
            } else {
                Hint::String
            };
            return ordinary_to_primitive(cx, v, h);
        }
    }
    ordinary_to_primitive(
        cx,
        v,
        if hint == Hint::String {
            Hint::String
        } else {
            Hint::Number
        },
    )
}

fn ordinary_to_primitive(cx: &mut Cx, v: &Value, hint: Hint) -> JsResult<Value> {
    let order: [&str; 2] = if hint == Hint::String {
        ["toString", "valueOf"]
    } else {
        ["valueOf", "toString"]
    };
    for name in order {
        let key: Vec<u16> = name.encode_utf16().collect();
        let callee = crate::call::resolve_method(cx, v, &key)?;
        if let Some(callee) = callee {
            let r = crate::call::invoke(cx, &callee, v.clone(), &[])?;
            if !matches!(r, Value::Obj(_)) {
                return Ok(r);
            }
        }
    }
    engine_error("Cannot convert object to primitive value")
}

/// ToNumber (ECMA-262 §7.1.4).
#[inline]
pub fn to_number(cx: &mut Cx, v: &Value) -> JsResult<f64> {
    // A number, the common case, inline; the rest in a call.
    match v {
        Value::Num(n) => Ok(*n),
        _ => to_number_other(cx, v),
    }
}

fn to_number_other(cx: &mut Cx, v: &Value) -> JsResult<f64> {
    Ok(match v {
        Value::Undefined | Value::Hole => f64::NAN,
        Value::Null => 0.0,
        Value::Bool(b) => {
            if *b {
                1.0
            } else {
                0.0
            }
        }
        Value::Num(n) => *n,
        Value::Str(s) => string_to_number(s),
        Value::Obj(_) => {
            let p = to_primitive(cx, v, Hint::Number)?;
            return to_number(cx, &p);
        }
    })
}

/// ToString (ECMA-262 §7.1.17).
#[inline]
pub fn to_string(cx: &mut Cx, v: &Value) -> JsResult<JsStr> {
    // A string, the common case, inline; the rest in a call.
    match v {
        Value::Str(s) => Ok(s.clone()),
        _ => to_string_other(cx, v),
    }
}

fn to_string_other(cx: &mut Cx, v: &Value) -> JsResult<JsStr> {
    Ok(match v {
        Value::Undefined | Value::Hole => JsStr::from("undefined"),
        Value::Null => JsStr::from("null"),
        Value::Bool(true) => JsStr::from("true"),
        Value::Bool(false) => JsStr::from("false"),
        Value::Num(n) => number_to_jsstr(*n),
        Value::Str(s) => s.clone(),
        Value::Obj(_) => {
            let p = to_primitive(cx, v, Hint::String)?;
            return to_string(cx, &p);
        }
    })
}

/// ToPropertyKey for our string-keyed objects (symbols are not modelled).
#[inline]
pub fn to_property_key(cx: &mut Cx, v: &Value) -> JsResult<JsStr> {
    to_string(cx, v)
}

/// ToIntegerOrInfinity (ECMA-262 §7.1.5).
pub fn to_integer_or_infinity(cx: &mut Cx, v: &Value) -> JsResult<f64> {
    let n = to_number(cx, v)?;
    Ok(if n.is_nan() || n == 0.0 {
        0.0
    } else {
        n.trunc()
    })
}

/// `n` truncated towards zero when that fits an i32, else `i32::MIN` (NaN, infinities, anything beyond
/// ±2^31, and -2^31 itself, which callers then treat the slow way). One instruction on x86-64, where Rust's
/// saturating `as` casts (and usize's round trip through f64) cost a dozen or more on every array access.
#[inline(always)]
pub fn trunc_i32(n: f64) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_cvttsd_si32, _mm_set_sd};
        // SAFETY: SSE2 is part of x86-64's baseline, so the intrinsics are always available.
        unsafe { _mm_cvttsd_si32(_mm_set_sd(n)) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        if n > -2147483648.0 && n < 2147483648.0 {
            n as i32
        } else {
            i32::MIN
        }
    }
}

/// `n` truncated towards zero when that fits an i64, else `i64::MIN` (NaN, infinities, anything beyond
/// ±2^63): one instruction on x86-64, as `trunc_i32`.
#[inline(always)]
pub fn trunc_i64(n: f64) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_cvttsd_si64, _mm_set_sd};
        // SAFETY: SSE2 is part of x86-64's baseline, so the intrinsics are always available.
        unsafe { _mm_cvttsd_si64(_mm_set_sd(n)) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        if n > -9223372036854775808.0 && n < 9223372036854775808.0 {
            n as i64
        } else {
            i64::MIN
        }
    }
}

/// The element index number `k` denotes when it is below 2^31 (every index a heap array can hold): `-0` is
/// index 0 (its key is "0"); NaN, fractions and negatives are none. Larger array indices exist in
/// JavaScript, and callers take them the general way.
#[inline(always)]
pub fn small_index(k: f64) -> Option<usize> {
    let i = trunc_i32(k);
    if i >= 0 && i as f64 == k {
        Some(i as usize)
    } else {
        None
    }
}

/// ToInt32 (ECMA-262 §7.1.6).
#[inline(always)]
pub fn f64_to_int32(n: f64) -> i32 {
    // Within ±2^63, ToInt32 is the low 32 bits of the truncation (uint32 values, which `>>> 0` and hashes
    // make all the time, among them); beyond it the modulo below.
    let i = trunc_i64(n);
    if i != i64::MIN {
        return i as i32;
    }
    f64_to_int32_wide(n)
}

#[inline(never)]
fn f64_to_int32_wide(n: f64) -> i32 {
    // Below 2^63 in magnitude the truncation is an exact i64, whose low 32 bits are ToInt32's answer.
    if n.abs() < 9.2e18 {
        return n as i64 as i32;
    }
    if !n.is_finite() || n == 0.0 {
        return 0;
    }
    let m = n.trunc().rem_euclid(4294967296.0);
    (m as u64 as u32) as i32
}
#[inline(always)]
pub fn f64_to_uint32(n: f64) -> u32 {
    f64_to_int32(n) as u32
}

/// IsStrictlyEqual (ECMA-262 §7.2.15).
#[inline]
pub fn strict_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Undefined | Value::Hole, Value::Undefined | Value::Hole) => true,
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Num(x), Value::Num(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Obj(x), Value::Obj(y)) => x == y,
        _ => false,
    }
}

/// `v === s` where `s` is one of the program's string constants (`Cx::interned`): the very string (a key or
/// literal the program made) or the same units.
#[inline(always)]
pub fn is_const_str(v: &Value, s: Option<&JsStr>) -> bool {
    match (v, s) {
        (Value::Str(x), Some(s)) => x.same(s) || crate::value::units_eq(x.units(), s.units()),
        _ => false,
    }
}

/// SameValueZero (ECMA-262 §7.2.11).
pub fn same_value_zero(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => strict_equals(a, b),
    }
}

/// SameValue (ECMA-262 §7.2.10), for Object.is.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => {
            (x.is_nan() && y.is_nan()) || (x == y && x.is_sign_negative() == y.is_sign_negative())
        }
        _ => strict_equals(a, b),
    }
}

/// IsLooselyEqual (ECMA-262 §7.2.14).
pub fn loose_equals(cx: &mut Cx, a: &Value, b: &Value) -> JsResult<bool> {
    Ok(match (a, b) {
        (
            Value::Undefined | Value::Hole | Value::Null,
            Value::Undefined | Value::Hole | Value::Null,
        ) => true,
        (Value::Undefined | Value::Hole | Value::Null, _)
        | (_, Value::Undefined | Value::Hole | Value::Null) => false,
        (Value::Num(_), Value::Num(_))
        | (Value::Str(_), Value::Str(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Obj(_), Value::Obj(_)) => strict_equals(a, b),
        (Value::Num(x), Value::Str(s)) => *x == string_to_number(s),
        (Value::Str(s), Value::Num(y)) => string_to_number(s) == *y,
        (Value::Bool(x), _) => {
            let n = Value::Num(if *x { 1.0 } else { 0.0 });
            return loose_equals(cx, &n, b);
        }
        (_, Value::Bool(y)) => {
            let n = Value::Num(if *y { 1.0 } else { 0.0 });
            return loose_equals(cx, a, &n);
        }
        (Value::Obj(_), _) => {
            let p = to_primitive(cx, a, Hint::Default)?;
            return loose_equals(cx, &p, b);
        }
        (_, Value::Obj(_)) => {
            let p = to_primitive(cx, b, Hint::Default)?;
            return loose_equals(cx, a, &p);
        }
    })
}

/// The `+` operator (ECMA-262 §13.15.3 ApplyStringOrNumericBinaryOperator).
#[inline]
pub fn add(cx: &mut Cx, a: &Value, b: &Value) -> JsResult<Value> {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => return Ok(Value::Num(x + y)),
        (Value::Str(x), Value::Str(y)) => {
            cx.heap.charge(2 * (x.len() + y.len()))?;
            return Ok(Value::Str(x.concat(y)));
        }
        // A string and a number: one allocation for the result, none for the number's digits.
        (Value::Str(x), Value::Num(n)) => {
            let s = with_number_units(*n, |d| concat2(x.units(), d));
            cx.heap.charge(2 * s.len())?;
            return Ok(Value::Str(s));
        }
        (Value::Num(n), Value::Str(y)) => {
            let s = with_number_units(*n, |d| concat2(d, y.units()));
            cx.heap.charge(2 * s.len())?;
            return Ok(Value::Str(s));
        }
        _ => {}
    }
    let pa = to_primitive(cx, a, Hint::Default)?;
    let pb = to_primitive(cx, b, Hint::Default)?;
    if matches!(pa, Value::Str(_)) || matches!(pb, Value::Str(_)) {
        let sa = to_string(cx, &pa)?;
        let sb = to_string(cx, &pb)?;
        cx.heap.charge(2 * (sa.len() + sb.len()))?;
        return Ok(Value::Str(sa.concat(&sb)));
    }
    Ok(Value::Num(to_number(cx, &pa)? + to_number(cx, &pb)?))
}

/// `a + b + c ...` for operands the sites' guards found strings: one new string of them all, where each
/// `+` would make its own. Anything else (the guards should not let it come) is `add` left to right.
pub fn concat_strs(cx: &mut Cx, parts: &[&Value]) -> JsResult<Value> {
    let mut len = 0;
    for p in parts {
        match p {
            Value::Str(s) => len += s.len(),
            _ => {
                let mut acc = parts[0].clone();
                for p in &parts[1..] {
                    acc = add(cx, &acc, p)?;
                }
                return Ok(acc);
            }
        }
    }
    cx.heap.charge(2 * len)?;
    let mut out = JsStr::with_capacity(len);
    for p in parts {
        if let Value::Str(s) = p {
            out.try_append(s.units());
        }
    }
    Ok(Value::Str(out))
}

/// A new string of `a` then `b`, in one allocation.
fn concat2(a: &[u16], b: &[u16]) -> JsStr {
    let mut s = JsStr::with_capacity(a.len() + b.len());
    s.try_append(a);
    s.try_append(b);
    s
}

/// `x = x + b` for a binding `x` that nothing else can read meanwhile (the compiler checks): a string that
/// only `x` holds grows in place, in amortised constant time per append where building it anew would copy
/// it every time; anything else is `add`, and `x` keeps its value if that throws.
#[inline(always)]
pub fn add_assign(cx: &mut Cx, x: &mut Value, b: &Value) -> JsResult<()> {
    // Inlined as far as a string appended in place, the loop body of string building.
    if let (Value::Str(s), Value::Str(t)) = (&mut *x, b) {
        if s.try_append(t.units()) {
            return cx.heap.charge(2 * t.len()).map_err(Into::into);
        }
    }
    add_assign_other(cx, x, b)
}

#[inline(never)]
fn add_assign_other(cx: &mut Cx, x: &mut Value, b: &Value) -> JsResult<()> {
    if let (Value::Str(s), Value::Num(n)) = (&mut *x, b) {
        let mut digits = Vec::with_capacity(24);
        push_number(&mut digits, *n);
        if s.try_append(&digits) {
            return cx.heap.charge(2 * digits.len()).map_err(Into::into);
        }
    }
    let r = add(cx, x, b)?;
    *x = r;
    Ok(())
}

/// A shift or bitwise operator, for `bit_f64`.
#[derive(Clone, Copy, Debug)]
pub enum Bit {
    Shl,
    Shr,
    Ushr,
    And,
    Or,
    Xor,
}

/// `a op b` for a shift or bitwise operator on two numbers (ECMA-262 §6.1.6.1.9-13, §6.1.6.1.16-19): the
/// operands through ToInt32 (ToUint32 for `>>>`'s left), the shift count through ToUint32 and masked to
/// five bits; the answer an int32 (a uint32 for `>>>`) as a number. Generated code calls it where both
/// operands are unboxed numbers; the left operand is evaluated before the right by the caller.
#[inline(always)]
pub fn bit_f64(op: Bit, a: f64, b: f64) -> f64 {
    match op {
        Bit::Shl => f64_to_int32(a).wrapping_shl(f64_to_uint32(b) & 31) as f64,
        Bit::Shr => (f64_to_int32(a) >> (f64_to_uint32(b) & 31)) as f64,
        Bit::Ushr => (f64_to_uint32(a) >> (f64_to_uint32(b) & 31)) as f64,
        Bit::And => (f64_to_int32(a) & f64_to_int32(b)) as f64,
        Bit::Or => (f64_to_int32(a) | f64_to_int32(b)) as f64,
        Bit::Xor => (f64_to_int32(a) ^ f64_to_int32(b)) as f64,
    }
}

#[derive(Clone, Copy, Debug)]
pub enum NumOp {
    Sub,
    Mul,
    Div,
    Rem,
    Exp,
    Shl,
    Shr,
    UShr,
    BitAnd,
    BitOr,
    BitXor,
}

/// Number::exponentiate (ECMA-262 §6.1.6.1.3) as Node 26 computes it, for `**` and `Math.pow`. Its V8
/// (`math::pow` with `--use-std-math-pow`, on by default) answers the cases where C's `pow` differs from
/// the spec itself (a NaN exponent; a base of ±1 with an infinite exponent), squares for an exponent of 2,
/// takes a square root for 0.5 (+Infinity for a base of -Infinity), and otherwise calls the C library's
/// `pow`. So do we: Rust's `powf` is that same C function (glibc's or musl's, whichever the binary links),
/// so the dispatcher answers as Node on the same C library, bit for bit. Node 20's V8 used its own fdlibm
/// port instead. The operands go through `black_box` so that LLVM, seeing a constant exponent in
/// generated code, cannot rewrite the call (its library-call simplifier turns `pow(x, -1.0)` into
/// `1.0 / x`, which C's `pow` is not).
pub fn js_pow(x: f64, y: f64) -> f64 {
    if y.is_nan() {
        return f64::NAN;
    }
    if y.is_infinite() && (x == 1.0 || x == -1.0) {
        return f64::NAN;
    }
    if y == 2.0 {
        return x * x;
    }
    if y == 0.5 {
        return if x == f64::NEG_INFINITY {
            f64::INFINITY
        } else {
            (x + 0.0).sqrt()
        };
    }
    std::hint::black_box(x).powf(std::hint::black_box(y))
}

/// Number::remainder (ECMA-262 §6.1.6.1.6): truncating, sign of the dividend; Rust's `%` on f64 is the same.
pub fn js_rem(x: f64, y: f64) -> f64 {
    rem_f64(x, y)
}

/// `x % y` (ECMA-262 §6.1.6.1.6: the sign of the dividend, as C's fmod), through the integer remainder
/// when both are int32 values, where it is exact and far cheaper than fmod: the integer remainder truncates
/// toward zero like fmod, and a zero result takes the dividend's sign (`-4 % 2` and `-0 % 3` are -0).
#[inline(always)]
pub fn rem_f64(x: f64, y: f64) -> f64 {
    // One-instruction truncations: beyond i32 they give i32::MIN, which the comparisons then refuse unless
    // the number is -2^31 itself.
    let (xi, yi) = (trunc_i32(x), trunc_i32(y));
    if xi as f64 == x && yi as f64 == y && yi != 0 && yi != -1 {
        return with_dividend_sign(xi % yi, x);
    }
    rem_wide(x, y)
}

/// An integer remainder as `x % y`'s number: a zero takes the dividend's sign.
#[inline(always)]
fn with_dividend_sign<T: Into<i64> + PartialEq + Default>(r: T, x: f64) -> f64 {
    if r == T::default() && x.is_sign_negative() {
        -0.0
    } else {
        r.into() as f64
    }
}

/// `rem_f64` beyond int32: integers within ±2^63 (uint32 hashes, sums past 2^31) through the 64-bit
/// integer remainder, exact for the same reasons; the rest through fmod.
#[inline(never)]
fn rem_wide(x: f64, y: f64) -> f64 {
    let (xi, yi) = (trunc_i64(x), trunc_i64(y));
    // `trunc_i64` answers i64::MIN beyond ±2^63, which equals its input only for -2^63 itself, exact too;
    // a divisor of -1 is left to fmod (i64::MIN % -1 overflows).
    if xi as f64 == x && yi as f64 == y && yi != 0 && yi != -1 {
        return with_dividend_sign(xi % yi, x);
    }
    x % y
}

#[inline]
pub fn num_op(cx: &mut Cx, op: NumOp, a: &Value, b: &Value) -> JsResult<Value> {
    let x = match a {
        Value::Num(n) => *n,
        _ => to_number(cx, a)?,
    };
    let y = match b {
        Value::Num(n) => *n,
        _ => to_number(cx, b)?,
    };
    Ok(Value::Num(match op {
        NumOp::Sub => x - y,
        NumOp::Mul => x * y,
        NumOp::Div => x / y,
        NumOp::Rem => js_rem(x, y),
        NumOp::Exp => js_pow(x, y),
        NumOp::Shl => (f64_to_int32(x).wrapping_shl(f64_to_uint32(y) & 31)) as f64,
        NumOp::Shr => (f64_to_int32(x) >> (f64_to_uint32(y) & 31)) as f64,
        NumOp::UShr => (f64_to_uint32(x) >> (f64_to_uint32(y) & 31)) as f64,
        NumOp::BitAnd => (f64_to_int32(x) & f64_to_int32(y)) as f64,
        NumOp::BitOr => (f64_to_int32(x) | f64_to_int32(y)) as f64,
        NumOp::BitXor => (f64_to_int32(x) ^ f64_to_int32(y)) as f64,
    }))
}

/// Unary `-`, `+`, `~`.
pub fn neg(cx: &mut Cx, a: &Value) -> JsResult<Value> {
    Ok(Value::Num(-to_number(cx, a)?))
}
pub fn plus(cx: &mut Cx, a: &Value) -> JsResult<Value> {
    Ok(Value::Num(to_number(cx, a)?))
}
pub fn bit_not(cx: &mut Cx, a: &Value) -> JsResult<Value> {
    Ok(Value::Num(!f64_to_int32(to_number(cx, a)?) as f64))
}

#[derive(Clone, Copy, Debug)]
pub enum CmpOp {
    Lt,
    Gt,
    Le,
    Ge,
}

/// IsLessThan (ECMA-262 §7.2.13) and the relational operators built on it.
#[inline]
pub fn compare(cx: &mut Cx, op: CmpOp, a: &Value, b: &Value) -> JsResult<bool> {
    if let (Value::Num(x), Value::Num(y)) = (a, b) {
        return Ok(match op {
            CmpOp::Lt => x < y,
            CmpOp::Gt => x > y,
            CmpOp::Le => x <= y,
            CmpOp::Ge => x >= y,
        });
    }
    if let (Value::Str(x), Value::Str(y)) = (a, b) {
        return Ok(compare_str(op, x.units(), y.units()));
    }
    // Operands are converted left to right, once each.
    let pa = to_primitive(cx, a, Hint::Number)?;
    let pb = to_primitive(cx, b, Hint::Number)?;
    if let (Value::Str(x), Value::Str(y)) = (&pa, &pb) {
        return Ok(compare_str(op, x.units(), y.units()));
    }
    let x = to_number(cx, &pa)?;
    let y = to_number(cx, &pb)?;
    Ok(match op {
        CmpOp::Lt => x < y,
        CmpOp::Gt => x > y,
        CmpOp::Le => x <= y,
        CmpOp::Ge => x >= y,
    })
}

/// `<`, `>`, `<=` or `>=` on two strings: code-unit order (IsLessThan, ECMA-262 §7.2.13).
#[inline]
fn compare_str(op: CmpOp, x: &[u16], y: &[u16]) -> bool {
    let ord = crate::value::units_cmp(x, y);
    match op {
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Gt => ord.is_gt(),
        CmpOp::Le => ord.is_le(),
        CmpOp::Ge => ord.is_ge(),
    }
}

/// The `in` operator.
pub fn has_property_op(cx: &mut Cx, key: &Value, obj: &Value) -> JsResult<bool> {
    match obj {
        Value::Obj(_) => {
            let k = to_property_key(cx, key)?;
            crate::props::has_property(cx, obj, k.units())
        }
        _ => engine_error("Cannot use 'in' operator to search for a key in a primitive"),
    }
}

/// InstanceofOperator (ECMA-262 §13.10.2) for our functions (no @@hasInstance).
pub fn instance_of(cx: &mut Cx, v: &Value, ctor: &Value) -> JsResult<bool> {
    let c = match ctor {
        Value::Obj(c) => *c,
        _ => return engine_error("Right-hand side of 'instanceof' is not callable"),
    };
    let target = match cx.heap.kind(c) {
        ObjKind::Function(_) | ObjKind::Native(_) => c,
        ObjKind::Bound(_) => return unsupported("instanceof a bound function"),
        _ => return engine_error("Right-hand side of 'instanceof' is not callable"),
    };
    let proto = crate::props::get(cx, &Value::Obj(target), &crate::props::key("prototype"))?;
    let proto = match proto {
        Value::Obj(p) => p,
        _ => return engine_error("Function has non-object prototype in instanceof check"),
    };
    let mut cur = match v {
        Value::Obj(o) => crate::props::proto_of(cx, *o),
        _ => return Ok(false),
    };
    while let Some(p) = cur {
        if p == proto {
            return Ok(true);
        }
        cur = crate::props::proto_of(cx, p);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path gives the correctly rounded value Rust's parser gives, on decimals of every shape it
    /// takes (1 to 15 digits, the dot anywhere or absent, leading and trailing zeros), and refuses the rest.
    #[test]
    fn plain_decimals_read_fast_are_the_correctly_rounded_values() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200_000 {
            let digits = 1 + (next() % 15) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            match next() % 4 {
                0 => {}
                1 => text.insert(0, '.'),
                2 => text.push('.'),
                _ => text.insert((next() as usize) % (digits + 1), '.'),
            }
            let units: Vec<u16> = text.encode_utf16().collect();
            let fast = decimal_fast(&units).expect(&text);
            let exact: f64 = text.parse().unwrap();
            assert_eq!(fast.to_bits(), exact.to_bits(), "{text}");
            let js = string_to_number(&JsStr::from(format!("-{text}").as_str()));
            assert_eq!(js.to_bits(), (-exact).to_bits(), "-{text}");
        }
        for refused in [
            "",
            ".",
            "1.2.3",
            "1e5",
            "0x10",
            "1_0",
            "1234567890123456",
            "+1",
            " 1",
        ] {
            let units: Vec<u16> = refused.encode_utf16().collect();
            assert_eq!(decimal_fast(&units), None, "{refused}");
        }
        assert_eq!(
            string_to_number(&JsStr::from("-0")).to_bits(),
            (-0.0f64).to_bits()
        );
        assert_eq!(string_to_number(&JsStr::from(" 12.50 ")), 12.5);
        assert!(string_to_number(&JsStr::from("-")).is_nan());
    }

    /// ToInt32 as ECMA-262 §7.1.6 words it, in exact double arithmetic (fmod is exact).
    fn to_int32_spec(n: f64) -> i32 {
        if !n.is_finite() || n == 0.0 {
            return 0;
        }
        let m = n.trunc().rem_euclid(4294967296.0);
        (if m >= 2147483648.0 {
            m - 4294967296.0
        } else {
            m
        }) as i32
    }

    /// Small integers' strings come from the per-thread table (one shared string each), every other number's
    /// is made; both read as Number::toString writes them.
    #[test]
    fn number_strings_of_small_integers_are_shared_and_right() {
        for (n, want, shared) in [
            (0.0, "0", true),
            (-0.0, "0", true),
            (7.0, "7", true),
            (1023.0, "1023", true),
            (1024.0, "1024", false),
            (-1.0, "-1", false),
            (1.5, "1.5", false),
            (f64::NAN, "NaN", false),
            (1e21, "1e+21", false),
        ] {
            let a = number_to_jsstr(n);
            assert_eq!(a.to_rust_string(), want, "{n}");
            assert_eq!(a.same(&number_to_jsstr(n)), shared, "{n}");
        }
    }

    /// The fast path (a 64-bit truncation) and the wide one agree with the spec's definition at the
    /// boundaries of both and on doubles of every magnitude.
    #[test]
    fn to_int32_matches_the_spec_everywhere() {
        let mut cases = vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ];
        for e in [31, 32, 33, 52, 53, 54, 62, 63, 64, 80, 1000] {
            let p = 2f64.powi(e);
            for d in [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0] {
                cases.extend([p + d, -(p + d), p * 1.5 + d, -(p * 1.5) + d]);
            }
        }
        // A deterministic sweep of bit patterns: every exponent, assorted mantissas and signs.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(f64::from_bits(x));
        }
        for n in cases {
            assert_eq!(f64_to_int32(n), to_int32_spec(n), "ToInt32({n:e})");
            assert_eq!(f64_to_uint32(n), to_int32_spec(n) as u32, "ToUint32({n:e})");
        }
    }
}
