//! String (ECMA-262 §22.1): the function, its statics, and String.prototype's methods except the
//! regular-expression ones (replace, replaceAll, match, matchAll, search, split live in the regexp builtin).
//!
//! Strings are UTF-16 code units and every index here counts code units, as in JavaScript. Argument
//! coercions happen in the spec's order, since ToString and ToNumber may call user code.
//!
//! Deliberate give-ups: `new String(...)` (wrapper objects are not modelled); localeCompare of a string
//! with a lone surrogate (other strings: ASCII letters, digits and spaces by our own root collation,
//! the rest by ICU4X's collator, both tested against Node); normalize on non-ASCII text; toLowerCase of text containing 'Σ' (final-sigma rule);
//! toLocale{Lower,Upper}Case and localeCompare with a locale or options argument.

use crate::builtin;
use crate::builtins::arg;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};

builtin!(STRING, "String", 1, string_fn, ctor = string_ctor);
builtin!(FROM_CHAR_CODE, "String.fromCharCode", 1, from_char_code);
builtin!(FROM_CODE_POINT, "String.fromCodePoint", 1, from_code_point);
builtin!(RAW, "String.raw", 1, raw);
builtin!(AT, "String.prototype.at", 1, at);
builtin!(CHAR_AT, "String.prototype.charAt", 1, char_at);
builtin!(
    CHAR_CODE_AT,
    "String.prototype.charCodeAt",
    1,
    char_code_at,
    returns_number
);
builtin!(
    CODE_POINT_AT,
    "String.prototype.codePointAt",
    1,
    code_point_at
);
builtin!(CONCAT, "String.prototype.concat", 1, concat);
builtin!(ENDS_WITH, "String.prototype.endsWith", 1, ends_with);
builtin!(INCLUDES, "String.prototype.includes", 1, includes);
builtin!(
    INDEX_OF,
    "String.prototype.indexOf",
    1,
    index_of,
    returns_number
);
builtin!(
    LAST_INDEX_OF,
    "String.prototype.lastIndexOf",
    1,
    last_index_of,
    returns_number
);
builtin!(
    LOCALE_COMPARE,
    "String.prototype.localeCompare",
    1,
    locale_compare,
    returns_number
);
builtin!(NORMALIZE, "String.prototype.normalize", 0, normalize);
builtin!(PAD_END, "String.prototype.padEnd", 1, pad_end);
builtin!(PAD_START, "String.prototype.padStart", 1, pad_start);
builtin!(REPEAT, "String.prototype.repeat", 1, repeat);
builtin!(SLICE, "String.prototype.slice", 2, slice);
builtin!(STARTS_WITH, "String.prototype.startsWith", 1, starts_with);
builtin!(SUBSTRING, "String.prototype.substring", 2, substring);
builtin!(SUBSTR, "String.prototype.substr", 2, substr);
builtin!(
    TO_LOWER_CASE,
    "String.prototype.toLowerCase",
    0,
    to_lower_case
);
builtin!(
    TO_UPPER_CASE,
    "String.prototype.toUpperCase",
    0,
    to_upper_case
);
builtin!(
    TO_LOCALE_LOWER_CASE,
    "String.prototype.toLocaleLowerCase",
    0,
    to_locale_lower_case
);
builtin!(
    TO_LOCALE_UPPER_CASE,
    "String.prototype.toLocaleUpperCase",
    0,
    to_locale_upper_case
);
builtin!(TO_STRING, "String.prototype.toString", 0, to_string);
builtin!(VALUE_OF, "String.prototype.valueOf", 0, to_string);
builtin!(TRIM, "String.prototype.trim", 0, trim);
builtin!(TRIM_START, "String.prototype.trimStart", 0, trim_start);
builtin!(TRIM_END, "String.prototype.trimEnd", 0, trim_end);
builtin!(
    IS_WELL_FORMED,
    "String.prototype.isWellFormed",
    0,
    is_well_formed
);
builtin!(
    TO_WELL_FORMED,
    "String.prototype.toWellFormed",
    0,
    to_well_formed
);

/// Installs string's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let string_proto = r.proto("String");
    let string = r.constructor("String", &STRING, string_proto)?;
    r.statics(
        string,
        &[
            ("fromCharCode", &FROM_CHAR_CODE),
            ("fromCodePoint", &FROM_CODE_POINT),
            ("raw", &RAW),
        ],
    )?;
    r.methods(
        string_proto,
        &[
            ("at", &AT),
            ("charAt", &CHAR_AT),
            ("charCodeAt", &CHAR_CODE_AT),
            ("codePointAt", &CODE_POINT_AT),
            ("concat", &CONCAT),
            ("endsWith", &ENDS_WITH),
            ("includes", &INCLUDES),
            ("indexOf", &INDEX_OF),
            ("lastIndexOf", &LAST_INDEX_OF),
            ("localeCompare", &LOCALE_COMPARE),
            ("normalize", &NORMALIZE),
            ("padEnd", &PAD_END),
            ("padStart", &PAD_START),
            ("repeat", &REPEAT),
            ("slice", &SLICE),
            ("startsWith", &STARTS_WITH),
            ("substring", &SUBSTRING),
            ("substr", &SUBSTR),
            ("toLowerCase", &TO_LOWER_CASE),
            ("toUpperCase", &TO_UPPER_CASE),
            ("toLocaleLowerCase", &TO_LOCALE_LOWER_CASE),
            ("toLocaleUpperCase", &TO_LOCALE_UPPER_CASE),
            ("toString", &TO_STRING),
            ("valueOf", &VALUE_OF),
            ("trim", &TRIM),
            ("trimStart", &TRIM_START),
            ("trimEnd", &TRIM_END),
            ("isWellFormed", &IS_WELL_FORMED),
            ("toWellFormed", &TO_WELL_FORMED),
        ],
    )?;
    Ok(())
}

/// V8's String::kMaxLength on 64-bit hosts; longer results throw RangeError("Invalid string length").
const MAX_STRING_LENGTH: f64 = 536_870_888.0;

/// RequireObjectCoercible(this) then ToString(this), the prologue of the generic String methods.
fn this_str(cx: &mut Cx, this: &Value) -> JsResult<JsStr> {
    match this {
        Value::Str(s) => Ok(s.clone()),
        Value::Undefined | Value::Null | Value::Hole => {
            engine_error("TypeError: String.prototype method called on null or undefined")
        }
        v => ops::to_string(cx, v),
    }
}

/// A new string of `units`, counted against fuel and the heap cap.
fn new_str(cx: &mut Cx, units: Vec<u16>) -> JsResult<Value> {
    cx.burn(units.len() as u64 / 16 + 1)?;
    cx.new_str(units)
}

/// `new_str` of a copy of `units`.
fn new_str_from(cx: &mut Cx, units: &[u16]) -> JsResult<Value> {
    cx.burn(units.len() as u64 / 16 + 1)?;
    cx.new_str_from(units)
}

/// Checks a result length before building it: V8's limit, then the request's heap cap.
fn reserve(cx: &mut Cx, len: f64) -> JsResult<()> {
    if len > MAX_STRING_LENGTH {
        return engine_error("RangeError: Invalid string length");
    }
    cx.burn(len as u64 / 16 + 1)?;
    cx.heap.charge(len as usize * 2)?;
    Ok(())
}

/// A relative index (negative counts from the end), clamped to [0, len].
fn relative(n: f64, len: usize) -> usize {
    if n < 0.0 {
        (len as f64 + n).max(0.0) as usize
    } else {
        n.min(len as f64) as usize
    }
}

fn clamp(n: f64, len: usize) -> usize {
    n.max(0.0).min(len as f64) as usize
}

/// ToLength (ECMA-262 §7.1.20).
fn to_length(cx: &mut Cx, v: &Value) -> JsResult<f64> {
    let n = ops::to_integer_or_infinity(cx, v)?;
    Ok(n.clamp(0.0, 9007199254740991.0))
}

fn is_regexp(cx: &Cx, v: &Value) -> bool {
    matches!(v, Value::Obj(o) if cx.heap.kind(*o).is::<crate::builtins::regexp::RegExpData>())
}

/// The first index ≥ `from` where `needle` occurs in `hay` (StringIndexOf, ECMA-262 §6.1.4.1).
/// StringIndexOf (ECMA-262 §6.1.4.1): the first position at or after `from` where `needle` occurs.
pub(crate) fn find(hay: &[u16], needle: &[u16], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return (from <= hay.len()).then_some(from);
    }
    if needle.len() > hay.len() {
        return None;
    }
    let last = hay.len() - needle.len();
    let (first, rest) = (needle[0], &needle[1..]);
    let mut i = from;
    // Scans for the first unit, then compares the rest there.
    while i <= last {
        i += hay[i..=last].iter().position(|&c| c == first)?;
        if &hay[i + 1..i + needle.len()] == rest {
            return Some(i);
        }
        i += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------------
// String and its statics

fn string_fn(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    if args.is_empty() {
        return Ok(Value::Str(JsStr::empty()));
    }
    Ok(Value::Str(ops::to_string(cx, &args[0])?))
}

fn string_ctor(_cx: &mut Cx, _this: Option<ObjRef>, _args: &[Value]) -> JsResult<Value> {
    unsupported("new String: wrapper objects are not modelled")
}

fn from_char_code(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        out.push(ops::f64_to_uint32(ops::to_number(cx, a)?) as u16);
    }
    new_str(cx, out)
}

fn from_code_point(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let n = ops::to_number(cx, a)?;
        if !(n.is_finite() && n.trunc() == n && (0.0..=1_114_111.0).contains(&n)) {
            return engine_error("RangeError: Invalid code point");
        }
        push_code_point(&mut out, n as u32);
    }
    new_str(cx, out)
}

fn push_code_point(out: &mut Vec<u16>, cp: u32) {
    if cp < 0x10000 {
        out.push(cp as u16);
    } else {
        let c = cp - 0x10000;
        out.push(0xD800 + (c >> 10) as u16);
        out.push(0xDC00 + (c & 0x3FF) as u16);
    }
}

/// String.raw (ECMA-262 §22.1.2.4), over any array-like `raw`.
fn raw(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let cooked = arg(args, 0);
    if cooked.is_nullish() {
        return engine_error("TypeError: Cannot convert undefined or null to object");
    }
    let literals = props::get(cx, &cooked, &props::key("raw"))?;
    if literals.is_nullish() {
        return engine_error("TypeError: Cannot convert undefined or null to object");
    }
    let len = props::get(cx, &literals, &props::key("length"))?;
    let count = to_length(cx, &len)?;
    let subs = args.get(1..).unwrap_or(&[]);
    let mut out: Vec<u16> = Vec::new();
    let mut i = 0usize;
    while (i as f64) < count {
        cx.tick()?;
        let lit = props::get_computed(cx, &literals, &Value::Num(i as f64))?;
        let lit = ops::to_string(cx, &lit)?;
        out.extend_from_slice(lit.units());
        if (i + 1) as f64 == count {
            break;
        }
        if let Some(s) = subs.get(i) {
            let s = ops::to_string(cx, s)?;
            out.extend_from_slice(s.units());
        }
        if out.len() as f64 > MAX_STRING_LENGTH {
            return engine_error("RangeError: Invalid string length");
        }
        i += 1;
    }
    new_str(cx, out)
}

// ---------------------------------------------------------------------------------------------------
// Characters

fn at(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let n = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    let len = s.len() as f64;
    let k = if n >= 0.0 { n } else { len + n };
    if k < 0.0 || k >= len {
        return Ok(Value::Undefined);
    }
    Ok(Value::Str(JsStr::unit(s.units()[k as usize])))
}

fn char_at(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let n = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    if n < 0.0 || n >= s.len() as f64 {
        return Ok(Value::Str(JsStr::empty()));
    }
    Ok(Value::Str(JsStr::unit(s.units()[n as usize])))
}

fn char_code_at(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let n = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    Ok(Value::Num(char_code_at_integer(s.units(), n)))
}

/// `s.charCodeAt(pos)` for a number `pos`, which generated code calls directly where the site's guard has
/// admitted only this builtin and the receiver is a string.
#[inline]
pub fn char_code_at_num(s: &[u16], pos: f64) -> f64 {
    // An index that is a small integer, as nearly every one is: one truncating conversion, not `trunc`
    // (a library call on baseline x86-64).
    if let Some(i) = crate::ops::small_index(pos) {
        return s.get(i).map_or(f64::NAN, |&u| u as f64);
    }
    // ToIntegerOrInfinity of a number: NaN is 0, the rest truncates.
    char_code_at_integer(s, if pos.is_nan() { 0.0 } else { pos.trunc() })
}

#[inline]
fn char_code_at_integer(s: &[u16], n: f64) -> f64 {
    if n < 0.0 || n >= s.len() as f64 {
        return f64::NAN;
    }
    s[n as usize] as f64
}

/// The code point at `i` (CodePointAt, ECMA-262 §11.1.4): a surrogate pair, or a lone unit.
fn code_point(u: &[u16], i: usize) -> (u32, usize) {
    let c = u[i];
    if (0xD800..=0xDBFF).contains(&c) && i + 1 < u.len() && (0xDC00..=0xDFFF).contains(&u[i + 1]) {
        (
            0x10000 + (((c as u32) - 0xD800) << 10) + (u[i + 1] as u32 - 0xDC00),
            2,
        )
    } else {
        (c as u32, 1)
    }
}

fn code_point_at(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let n = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    if n < 0.0 || n >= s.len() as f64 {
        return Ok(Value::Undefined);
    }
    Ok(Value::Num(code_point(s.units(), n as usize).0 as f64))
}

fn concat(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let mut out = s.units().to_vec();
    for a in args {
        let t = ops::to_string(cx, a)?;
        out.extend_from_slice(t.units());
        if out.len() as f64 > MAX_STRING_LENGTH {
            return engine_error("RangeError: Invalid string length");
        }
    }
    new_str(cx, out)
}

// ---------------------------------------------------------------------------------------------------
// Searching

fn ends_with(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let search = arg(args, 0);
    if is_regexp(cx, &search) {
        return engine_error("TypeError: First argument to String.prototype.endsWith must not be a regular expression");
    }
    let search = ops::to_string(cx, &search)?;
    let len = s.len();
    let end = match arg(args, 1) {
        Value::Undefined => len,
        p => clamp(ops::to_integer_or_infinity(cx, &p)?, len),
    };
    let n = search.len();
    if n > end {
        return Ok(Value::Bool(false));
    }
    cx.burn(n as u64 / 16 + 1)?;
    Ok(Value::Bool(&s.units()[end - n..end] == search.units()))
}

fn starts_with(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let search = arg(args, 0);
    if is_regexp(cx, &search) {
        return engine_error("TypeError: First argument to String.prototype.startsWith must not be a regular expression");
    }
    let search = ops::to_string(cx, &search)?;
    let len = s.len();
    let start = clamp(ops::to_integer_or_infinity(cx, &arg(args, 1))?, len);
    let n = search.len();
    if start + n > len {
        return Ok(Value::Bool(false));
    }
    cx.burn(n as u64 / 16 + 1)?;
    Ok(Value::Bool(&s.units()[start..start + n] == search.units()))
}

fn includes(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let search = arg(args, 0);
    if is_regexp(cx, &search) {
        return engine_error("TypeError: First argument to String.prototype.includes must not be a regular expression");
    }
    let search = ops::to_string(cx, &search)?;
    let start = clamp(ops::to_integer_or_infinity(cx, &arg(args, 1))?, s.len());
    cx.burn((s.len() as u64 * search.len().max(1) as u64) / 16 + 1)?;
    Ok(Value::Bool(
        find(s.units(), search.units(), start).is_some(),
    ))
}

fn index_of(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let search = ops::to_string(cx, &arg(args, 0))?;
    let start = clamp(ops::to_integer_or_infinity(cx, &arg(args, 1))?, s.len());
    cx.burn((s.len() as u64 * search.len().max(1) as u64) / 16 + 1)?;
    Ok(Value::Num(
        find(s.units(), search.units(), start).map_or(-1.0, |i| i as f64),
    ))
}

fn last_index_of(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let search = ops::to_string(cx, &arg(args, 0))?;
    let num_pos = ops::to_number(cx, &arg(args, 1))?;
    let pos = if num_pos.is_nan() {
        f64::INFINITY
    } else {
        ops::to_integer_or_infinity(cx, &Value::Num(num_pos))?
    };
    let (hay, needle) = (s.units(), search.units());
    let start = clamp(pos, hay.len());
    cx.burn((hay.len() as u64 * needle.len().max(1) as u64) / 16 + 1)?;
    if needle.len() > hay.len() {
        return Ok(Value::Num(-1.0));
    }
    let top = start.min(hay.len() - needle.len());
    let found = (0..=top)
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle);
    Ok(Value::Num(found.map_or(-1.0, |i| i as f64)))
}

// ---------------------------------------------------------------------------------------------------
// Comparison and normalisation

/// The primary collation weight of a character in ICU's root collation, for the characters whose
/// order we reproduce: space < digits < letters (case-insensitive at this level).
fn primary_weight(c: u16) -> Option<u16> {
    match c {
        0x20 => Some(0),
        0x30..=0x39 => Some(1 + c - 0x30),
        0x41..=0x5a => Some(11 + c - 0x41),
        0x61..=0x7a => Some(11 + c - 0x61),
        _ => None,
    }
}

/// localeCompare by ICU's root collation (Node's default en-US locale tailors nothing), for strings
/// of ASCII letters, digits and spaces (the fast path; other strings go to ICU4X's collator): first by primary weights, then, at the tertiary level,
/// lowercase before uppercase at the first position where case differs.
fn collate(a: &[u16], b: &[u16]) -> Option<std::cmp::Ordering> {
    let pa: Option<Vec<u16>> = a.iter().map(|&c| primary_weight(c)).collect();
    let pb: Option<Vec<u16>> = b.iter().map(|&c| primary_weight(c)).collect();
    let (pa, pb) = (pa?, pb?);
    let primary = pa.cmp(&pb);
    if primary != std::cmp::Ordering::Equal {
        return Some(primary);
    }
    let upper = |c: u16| (0x41..=0x5a).contains(&c);
    Some(a.iter().map(|&c| upper(c)).cmp(b.iter().map(|&c| upper(c))))
}

fn locale_compare(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let that = ops::to_string(cx, &arg(args, 0))?;
    if args.iter().skip(1).any(|a| !a.is_undefined()) {
        return unsupported("localeCompare with locales or options");
    }
    if s == that {
        return Ok(Value::Num(0.0));
    }
    if !crate::builtins::number::default_locale_is_en_us() {
        return unsupported("localeCompare in a default locale other than en-US");
    }
    cx.burn(s.len().min(that.len()) as u64 / 16 + 1)?;
    match collate(s.units(), that.units()) {
        Some(o) => Ok(Value::Num(o as i8 as f64)),
        None if has_lone_surrogate(s.units()) || has_lone_surrogate(that.units()) => unsupported(
            "localeCompare of a string with a lone surrogate (ICU4X reads it as U+FFFD, V8's ICU does not)",
        ),
        None => {
            cx.burn((s.len() + that.len()) as u64 / 4 + 1)?;
            Ok(Value::Num(icu_collator().compare_utf16(s.units(), that.units()) as i8 as f64))
        }
    }
}

/// Whether `units` holds a surrogate that is not half of a pair.
fn has_lone_surrogate(units: &[u16]) -> bool {
    let mut i = 0;
    while i < units.len() {
        let c = units[i];
        if (0xD800..0xDC00).contains(&c)
            && units
                .get(i + 1)
                .is_some_and(|d| (0xDC00..0xE000).contains(d))
        {
            i += 2;
        } else if (0xD800..0xE000).contains(&c) {
            return true;
        } else {
            i += 1;
        }
    }
    false
}

/// The collator of Node's default locale (en-US, which tailors nothing: the root collation of CLDR)
/// at localeCompare's default strength (tertiary). ICU4X's data agrees with Node 26's ICU on every
/// well-formed string the differential test tries.
fn icu_collator() -> &'static icu_collator::CollatorBorrowed<'static> {
    static COLLATOR: std::sync::OnceLock<icu_collator::CollatorBorrowed<'static>> =
        std::sync::OnceLock::new();
    COLLATOR.get_or_init(|| {
        icu_collator::Collator::try_new(Default::default(), Default::default())
            .expect("the root collation is compiled in")
    })
}

fn normalize(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let form = match arg(args, 0) {
        Value::Undefined => JsStr::from("NFC"),
        f => ops::to_string(cx, &f)?,
    };
    if !["NFC", "NFD", "NFKC", "NFKD"]
        .iter()
        .any(|f| form.eq_str(f))
    {
        return engine_error(
            "RangeError: The normalization form should be one of NFC, NFD, NFKC, NFKD.",
        );
    }
    cx.burn(s.len() as u64 / 16 + 1)?;
    // ASCII text is its own normal form under all four.
    if s.units().iter().all(|&c| c < 0x80) {
        return Ok(Value::Str(s));
    }
    unsupported("String.prototype.normalize on non-ASCII text")
}

// ---------------------------------------------------------------------------------------------------
// Building strings

/// The longest `padStart`/`padEnd` result built on the stack.
const SHORT_PAD: usize = 64;

fn pad(cx: &mut Cx, this: &Value, args: &[Value], at_start: bool) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let max_len = to_length(cx, &arg(args, 0))?;
    let len = s.len();
    if max_len <= len as f64 {
        return Ok(Value::Str(s));
    }
    let fill = match arg(args, 1) {
        Value::Undefined => JsStr::unit(b' ' as u16),
        f => ops::to_string(cx, &f)?,
    };
    if fill.is_empty() {
        return Ok(Value::Str(s));
    }
    reserve(cx, max_len)?;
    let fill_len = max_len as usize - len;
    if max_len as usize <= SHORT_PAD {
        // A short result (`String(n).padStart(5, '0')`) put together on the stack and copied once.
        let mut buf = [0u16; SHORT_PAD];
        let f = fill.units();
        let filler = if at_start {
            buf[fill_len..max_len as usize].copy_from_slice(s.units());
            0..fill_len
        } else {
            buf[..len].copy_from_slice(s.units());
            len..max_len as usize
        };
        for (k, d) in buf[filler].iter_mut().enumerate() {
            *d = f[k % f.len()];
        }
        return Ok(Value::Str(JsStr::from_slice(&buf[..max_len as usize])));
    }
    let mut out = JsStr::with_capacity(max_len as usize);
    // The filler: `fill` repeated, its last copy cut to fit.
    let push_filler = |out: &mut JsStr| {
        let f = fill.units();
        let mut left = fill_len;
        while left > 0 {
            let n = left.min(f.len());
            out.try_append(&f[..n]);
            left -= n;
        }
    };
    if at_start {
        push_filler(&mut out);
        out.try_append(s.units());
    } else {
        out.try_append(s.units());
        push_filler(&mut out);
    }
    Ok(Value::Str(out))
}

fn pad_end(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    pad(cx, this, args, false)
}

fn pad_start(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    pad(cx, this, args, true)
}

fn repeat(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let n = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    if n < 0.0 || n == f64::INFINITY {
        return engine_error("RangeError: Invalid count value");
    }
    if n == 0.0 || s.is_empty() {
        return Ok(Value::Str(JsStr::empty()));
    }
    reserve(cx, s.len() as f64 * n)?;
    Ok(Value::Str(JsStr::from_units(s.units().repeat(n as usize))))
}

fn slice(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let len = s.len();
    let from = relative(ops::to_integer_or_infinity(cx, &arg(args, 0))?, len);
    let to = match arg(args, 1) {
        Value::Undefined => len,
        e => relative(ops::to_integer_or_infinity(cx, &e)?, len),
    };
    if from >= to {
        return Ok(Value::Str(JsStr::empty()));
    }
    new_str_from(cx, &s.units()[from..to])
}

fn substring(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let len = s.len();
    let start = clamp(ops::to_integer_or_infinity(cx, &arg(args, 0))?, len);
    let end = match arg(args, 1) {
        Value::Undefined => len,
        e => clamp(ops::to_integer_or_infinity(cx, &e)?, len),
    };
    let (from, to) = (start.min(end), start.max(end));
    new_str_from(cx, &s.units()[from..to])
}

/// String.prototype.substr (ECMA-262 §B.2.2.1).
fn substr(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let size = s.len();
    let start = relative(ops::to_integer_or_infinity(cx, &arg(args, 0))?, size);
    let length = match arg(args, 1) {
        Value::Undefined => size as f64,
        l => ops::to_integer_or_infinity(cx, &l)?,
    };
    let length = length.clamp(0.0, size as f64) as usize;
    let end = (start + length).min(size);
    if start >= end {
        return Ok(Value::Str(JsStr::empty()));
    }
    new_str_from(cx, &s.units()[start..end])
}

// ---------------------------------------------------------------------------------------------------
// Case mapping

/// Full Unicode case mapping per code point (Rust's tables agree with ICU's in Node 20 and 22 for every
/// code point; a test checks that against Node). Lone surrogates map to themselves.
fn map_case(cx: &mut Cx, s: &JsStr, upper: bool) -> JsResult<Value> {
    let u = s.units();
    cx.burn(u.len() as u64 / 4 + 1)?;
    if u.iter().all(|&c| c < 0x80) {
        let map = |c: u16| {
            let b = c as u8;
            (if upper {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            }) as u16
        };
        // One unit (`s.charAt(0).toUpperCase()`): the shared string of its mapping. Longer text is mapped
        // a stack buffer at a time straight into the new string.
        if let [c] = u {
            return Ok(Value::Str(JsStr::unit(map(*c))));
        }
        cx.heap.charge(16 + u.len() * 2)?;
        let mut out = JsStr::with_capacity(u.len());
        let mut buf = [0u16; 64];
        for chunk in u.chunks(buf.len()) {
            for (d, &c) in buf.iter_mut().zip(chunk) {
                *d = map(c);
            }
            out.try_append(&buf[..chunk.len()]);
        }
        return Ok(Value::Str(out));
    }
    if !upper && u.contains(&0x03A3) {
        return unsupported("toLowerCase of 'Σ' depends on context (final sigma)");
    }
    let mut out = Vec::with_capacity(u.len());
    let mut i = 0;
    while i < u.len() {
        let (cp, n) = code_point(u, i);
        i += n;
        match char::from_u32(cp) {
            Some(c) => {
                let mut buf = [0u16; 2];
                if upper {
                    for m in c.to_uppercase() {
                        out.extend_from_slice(m.encode_utf16(&mut buf));
                    }
                } else {
                    for m in c.to_lowercase() {
                        out.extend_from_slice(m.encode_utf16(&mut buf));
                    }
                }
            }
            None => out.push(cp as u16),
        }
    }
    if out.len() as f64 > MAX_STRING_LENGTH {
        return engine_error("RangeError: Invalid string length");
    }
    cx.new_str(out)
}

fn to_lower_case(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    map_case(cx, &s, false)
}

fn to_upper_case(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    map_case(cx, &s, true)
}

fn to_locale_lower_case(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    if !arg(args, 0).is_undefined() {
        return unsupported("toLocaleLowerCase with a locale");
    }
    map_case(cx, &s, false)
}

fn to_locale_upper_case(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    if !arg(args, 0).is_undefined() {
        return unsupported("toLocaleUpperCase with a locale");
    }
    map_case(cx, &s, true)
}

// ---------------------------------------------------------------------------------------------------
// The rest

/// String.prototype.toString and valueOf: thisStringValue, which String wrapper objects would also
/// pass; we model none, so only primitives.
fn to_string(_cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    match this {
        Value::Str(s) => Ok(Value::Str(s.clone())),
        _ => engine_error("TypeError: String.prototype.toString requires that 'this' be a String"),
    }
}

fn trimmed(cx: &mut Cx, this: &Value, f: fn(&[u16]) -> &[u16]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let t = f(s.units());
    if t.len() == s.len() {
        return Ok(Value::Str(s));
    }
    new_str_from(cx, t)
}

fn trim(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    trimmed(cx, this, ops::trim_units)
}

fn trim_start(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    trimmed(cx, this, ops::trim_start_units)
}

fn trim_end(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    trimmed(cx, this, ops::trim_end_units)
}

fn lone_surrogate_at(u: &[u16], i: usize) -> bool {
    let c = u[i];
    match c {
        0xD800..=0xDBFF => !(i + 1 < u.len() && (0xDC00..=0xDFFF).contains(&u[i + 1])),
        0xDC00..=0xDFFF => !(i > 0 && (0xD800..=0xDBFF).contains(&u[i - 1])),
        _ => false,
    }
}

fn is_well_formed(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let u = s.units();
    cx.burn(u.len() as u64 / 16 + 1)?;
    Ok(Value::Bool(!(0..u.len()).any(|i| lone_surrogate_at(u, i))))
}

fn to_well_formed(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let s = this_str(cx, this)?;
    let u = s.units();
    cx.burn(u.len() as u64 / 16 + 1)?;
    if !(0..u.len()).any(|i| lone_surrogate_at(u, i)) {
        return Ok(Value::Str(s));
    }
    let out: Vec<u16> = (0..u.len())
        .map(|i| {
            if lone_surrogate_at(u, i) {
                0xFFFD
            } else {
                u[i]
            }
        })
        .collect();
    cx.new_str(out)
}

#[cfg(test)]
mod tests;
