//! JavaScript values: the `Value` enum and UTF-16 strings.
//!
//! Strings are sequences of UTF-16 code units (ECMA-262 §6.1.4), shared by reference counting; they
//! are immutable, so sharing is invisible to the program.

use crate::strbuf::StrBuf;
use std::fmt;
use std::hash::{Hash, Hasher};

/// An immutable JavaScript string: a sequence of UTF-16 code units.
#[derive(Clone)]
// A thin pointer (to one allocation with the count, the length and the units: `StrBuf`), so that a `Value`
// is 16 bytes: generated code moves values all the time. Growable, so that a string nobody else holds can
// grow in place (`try_append`).
pub struct JsStr(StrBuf);

thread_local! {
    /// The empty string and the strings of one ASCII unit, made once per thread and shared: `charAt`,
    /// `s[i]` and short slices are everywhere in text handling, and each was an allocation and a free.
    /// Sharing is invisible (strings are immutable); a shared string is never appended to in place
    /// (`try_append` sees the other holders). Index 128 is the empty string.
    static SHORT: Vec<JsStr> = (0..=128u16)
        .map(|u| JsStr(StrBuf::from_slice(if u == 128 { &[] } else { std::slice::from_ref(&u) })))
        .collect();
}

impl JsStr {
    /// A string of `units`, copied into the string's own block (build in `with_capacity`'s buffer with
    /// `try_append` where the copy matters).
    pub fn from_units(units: Vec<u16>) -> JsStr {
        JsStr::from_slice(&units)
    }
    /// An empty string with room for `cap` units, to be filled with `try_append` (which cannot fail on it
    /// while nothing else holds it).
    #[inline]
    pub fn with_capacity(cap: usize) -> JsStr {
        JsStr(StrBuf::with_capacity(cap))
    }
    pub fn empty() -> JsStr {
        SHORT.with(|t| t[128].clone())
    }
    /// The string of the one code unit `u`.
    #[inline]
    pub fn unit(u: u16) -> JsStr {
        if u < 128 {
            SHORT.with(|t| t[u as usize].clone())
        } else {
            JsStr(StrBuf::from_slice(&[u]))
        }
    }
    /// A string of a copy of `units`.
    #[inline]
    pub fn from_slice(units: &[u16]) -> JsStr {
        match units {
            [] => JsStr::empty(),
            [u] => JsStr::unit(*u),
            _ => JsStr(StrBuf::from_slice(units)),
        }
    }
    /// Whether the two are the same string object (then they are equal, without a look at the units).
    #[inline(always)]
    pub fn same(&self, other: &JsStr) -> bool {
        self.0.ptr_eq(&other.0)
    }
    #[inline(always)]
    pub fn units(&self) -> &[u16] {
        self.0.units()
    }
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// UTF-8 text; lone surrogates become U+FFFD, as Node does when it writes a string as UTF-8.
    pub fn to_rust_string(&self) -> String {
        let u: &[u16] = self.units();
        let ascii = ascii_prefix(u);
        if ascii == u.len() {
            // Every unit is ASCII: its byte is the unit (a rendered page, JSON), copied without decoding.
            let bytes: Vec<u8> = u.iter().map(|&c| c as u8).collect();
            return String::from_utf8(bytes).expect("ASCII is UTF-8");
        }
        let mut out = String::with_capacity(u.len() + u.len() / 2);
        out.extend(u[..ascii].iter().map(|&c| c as u8 as char));
        // Decoding restarts at an ASCII boundary, which never splits a surrogate pair.
        out.push_str(&String::from_utf16_lossy(&u[ascii..]));
        out
    }
    pub fn eq_str(&self, s: &str) -> bool {
        let mut it = self.units().iter();
        for u in s.encode_utf16() {
            match it.next() {
                Some(&c) if c == u => {}
                _ => return false,
            }
        }
        it.next().is_none()
    }
    /// Appends `more` in place when this is the string's only holder, as `s += more` may: no one can tell
    /// the string changed. False (and nothing done) when the string is shared.
    #[inline]
    pub fn try_append(&mut self, more: &[u16]) -> bool {
        self.0.push_units(more)
    }
    pub fn concat(&self, other: &JsStr) -> JsStr {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let mut v = JsStr::with_capacity(self.len() + other.len());
        v.try_append(self.units());
        v.try_append(other.units());
        v
    }
    pub fn slice(&self, start: usize, end: usize) -> JsStr {
        JsStr::from_slice(&self.units()[start..end])
    }
    /// The canonical array index this string denotes, if any (ECMA-262 §6.1.7: an integer index
    /// below 2^32 - 1 whose ToString is the string itself).
    pub fn as_array_index(&self) -> Option<u32> {
        let u = self.units();
        if u.is_empty() || u.len() > 10 {
            return None;
        }
        if u.len() > 1 && u[0] == b'0' as u16 {
            return None;
        }
        let mut n: u64 = 0;
        for &c in u.iter() {
            if !(b'0' as u16..=b'9' as u16).contains(&c) {
                return None;
            }
            n = n * 10 + (c - b'0' as u16) as u64;
        }
        if n < u32::MAX as u64 {
            Some(n as u32)
        } else {
            None
        }
    }
}

impl std::borrow::Borrow<[u16]> for JsStr {
    fn borrow(&self) -> &[u16] {
        self.units()
    }
}

impl From<&str> for JsStr {
    fn from(s: &str) -> JsStr {
        // The empty name of every arrow function made, and one-character strings, are shared.
        match s.as_bytes() {
            [] => return JsStr::empty(),
            [b] if b.is_ascii() => return JsStr::unit(*b as u16),
            _ => {}
        }
        // A UTF-8 string has at least as many bytes as its UTF-16 form has units.
        let mut out = JsStr::with_capacity(s.len());
        let mut chunk = [0u16; 64];
        let mut n = 0;
        for u in s.encode_utf16() {
            if n == chunk.len() {
                out.try_append(&chunk);
                n = 0;
            }
            chunk[n] = u;
            n += 1;
        }
        out.try_append(&chunk[..n]);
        out
    }
}
impl From<String> for JsStr {
    fn from(s: String) -> JsStr {
        JsStr::from(s.as_str())
    }
}
impl Eq for JsStr {}
impl PartialEq for JsStr {
    #[inline]
    fn eq(&self, other: &JsStr) -> bool {
        if self.0.ptr_eq(&other.0) {
            return true;
        }
        units_eq(self.units(), other.units())
    }
}

/// How many units at the start of `u` are ASCII. Eight at a time: a unit is ASCII when no bit above the
/// low seven is set.
#[inline]
fn ascii_prefix(u: &[u16]) -> usize {
    let mut i = 0;
    for chunk in u.chunks_exact(8) {
        if chunk.iter().fold(0u16, |acc, &c| acc | c) >= 0x80 {
            break;
        }
        i += 8;
    }
    i + u[i..]
        .iter()
        .position(|&c| c >= 0x80)
        .unwrap_or(u.len() - i)
}

/// Whether two strings' code units are the same. Short ones (property keys, tags, the options a handler
/// compares) are compared unit by unit in place, with no call to memcmp.
#[inline(always)]
pub fn units_eq(a: &[u16], b: &[u16]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    a == b
}
impl Hash for JsStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.units().hash(state)
    }
}
impl PartialOrd for JsStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for JsStr {
    /// Code-unit order, as `<` on strings compares (ECMA-262 §7.2.13).
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        units_cmp(self.units(), other.units())
    }
}

/// Code-unit order of two strings: decided at the first unit that differs, or by length when one is a
/// prefix of the other. The common prefix is compared eight units at a time (one 16-byte comparison each).
#[inline]
pub fn units_cmp(x: &[u16], y: &[u16]) -> std::cmp::Ordering {
    let n = x.len().min(y.len());
    let (xs, ys) = (&x[..n], &y[..n]);
    let mut i = 0;
    while i + 8 <= n && xs[i..i + 8] == ys[i..i + 8] {
        i += 8;
    }
    while i < n && xs[i] == ys[i] {
        i += 1;
    }
    if i < n {
        xs[i].cmp(&ys[i])
    } else {
        x.len().cmp(&y.len())
    }
}
impl fmt::Debug for JsStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_rust_string())
    }
}
impl fmt::Display for JsStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rust_string())
    }
}

/// A reference to an object in the request's heap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ObjRef(pub u32);

/// A JavaScript value. Symbols and BigInts are not modelled: code that meets one gives up.
// `repr(C, u64)`: the tag is the first word and every payload the second, so that a copy is two aligned words.
// With Rust's own layout the tag is a byte and a `Bool` sits at byte 1, so a copy moved bytes 1..16 as two
// overlapping 8-byte words, and the next read of the payload could not be forwarded from the store buffer: a
// stall of a dozen cycles on most array reads of generated code (a 120 x 120 matrix product took 99 ms with
// it, 62 ms without).
#[derive(Debug)]
#[repr(C, u64)]
pub enum Value {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(JsStr),
    Obj(ObjRef),
    /// An array hole. It lives only inside array storage and reads as `undefined`.
    Hole,
}

/// A value's tag: the first of its two words (`Value` is `repr(C, u64)`).
#[inline(always)]
pub(crate) fn tag_word(v: &Value) -> u64 {
    // SAFETY: `Value` is `repr(C, u64)`, so every value begins with its tag as an initialised u64, aligned
    // as the value is.
    unsafe { *(v as *const Value as *const u64) }
}

/// The tag of `Value::Str` (the fifth variant), for tests of many values at once (`heap::any_string`).
pub(crate) const STR_TAG: u64 = 4;

// Cloned on nearly every operation of generated code, so written out to be inlined across crates.
impl Clone for Value {
    #[inline(always)]
    fn clone(&self) -> Value {
        // A bitwise copy plus the string's reference count: copying variant by variant made the compiler
        // write the payload in overlapping pieces that the next read could not forward (a stall per clone).
        if let Value::Str(s) = self {
            std::mem::forget(s.clone());
        }
        // SAFETY: every variant but `Str` is plain data; for `Str` the count was raised just above, so the
        // copy owns its reference as a clone would.
        unsafe { std::ptr::read(self) }
    }
}

/// Type tags, as bits, for type guards. The tracer reads the same numbers from the contract file.
pub mod tag {
    pub const UNDEFINED: u16 = 1;
    pub const NULL: u16 = 2;
    pub const BOOL: u16 = 4;
    pub const NUMBER: u16 = 8;
    pub const STRING: u16 = 16;
    pub const OBJECT: u16 = 32;
    pub const ARRAY: u16 = 64;
    pub const FUNCTION: u16 = 128;
    pub const PROMISE: u16 = 256;
    pub const OTHER: u16 = 512;
    pub const ANY: u16 = 0xffff;

    /// Every tag with the name the tracer gives it (`TAG` in the compiler's trace IR).
    pub const NAMES: [(&str, u16); 10] = [
        ("undefined", UNDEFINED),
        ("null", NULL),
        ("boolean", BOOL),
        ("number", NUMBER),
        ("string", STRING),
        ("object", OBJECT),
        ("array", ARRAY),
        ("function", FUNCTION),
        ("promise", PROMISE),
        ("other", OTHER),
    ];
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(JsStr::from(s))
    }
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined | Value::Hole)
    }
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Undefined | Value::Null | Value::Hole)
    }
    #[inline]
    pub fn as_obj(&self) -> Option<ObjRef> {
        match self {
            Value::Obj(o) => Some(*o),
            _ => None,
        }
    }
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&JsStr> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Holes read as `undefined`.
    pub fn unhole(self) -> Value {
        match self {
            Value::Hole => Value::Undefined,
            v => v,
        }
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Num(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<JsStr> for Value {
    fn from(s: JsStr) -> Value {
        Value::Str(s)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::str(s)
    }
}

// Values are moved and cloned by every operation of generated code: keep them two words.
const _: () = assert!(std::mem::size_of::<Value>() == 16);

#[cfg(test)]
mod tests {
    use super::*;

    /// `STR_TAG` is the tag a string has, and no other value has it.
    #[test]
    fn str_tag_is_the_tag_of_strings_alone() {
        assert_eq!(tag_word(&Value::Str(JsStr::from("x"))), STR_TAG);
        for v in [
            Value::Undefined,
            Value::Null,
            Value::Bool(true),
            Value::Num(4.0),
            Value::Obj(ObjRef(4)),
            Value::Hole,
        ] {
            assert_ne!(tag_word(&v), STR_TAG);
        }
    }

    /// Short strings are shared, and sharing stays invisible: appending to one copies, never changes the
    /// shared string; a unit past ASCII and longer slices get their own.
    #[test]
    fn short_strings_are_shared_and_never_changed() {
        let mut a = JsStr::unit(b'a' as u16);
        assert!(a.same(&JsStr::from_slice(&[b'a' as u16])));
        assert!(
            !a.try_append(&[b'b' as u16]),
            "a shared string grew in place"
        );
        let ab = a.concat(&JsStr::unit(b'b' as u16));
        assert_eq!(ab.units(), &[97, 98]);
        assert_eq!(JsStr::unit(b'a' as u16).units(), &[97]);
        let mut e = JsStr::empty();
        assert!(!e.try_append(&[120]));
        assert!(JsStr::empty().is_empty());
        assert!(JsStr::from_slice(&[]).same(&JsStr::empty()));
        assert!(!JsStr::unit(0xE9).same(&JsStr::unit(0xE9)));
        assert_eq!(JsStr::unit(0xD800).units(), &[0xD800]);
        let word = JsStr::from("word");
        assert_eq!(word.slice(1, 2).units(), &[b'o' as u16]);
        assert!(word.slice(1, 2).same(&JsStr::unit(b'o' as u16)));
        assert_eq!(word.slice(1, 3).units(), &[b'o' as u16, b'r' as u16]);
    }

    /// The ASCII fast path gives what decoding the whole string gives: mixed strings of every length
    /// around the 8-unit chunks, with non-ASCII, surrogate pairs and lone surrogates at every place.
    #[test]
    fn utf8_text_matches_lossy_decoding() {
        let pieces: [&[u16]; 6] = [
            &[0x61],
            &[0x7f],
            &[0xe9],
            &[0xd83d, 0xde00],
            &[0xd800],
            &[0xdc00],
        ];
        let mut x: u32 = 12345;
        for len in 0..40 {
            for _ in 0..50 {
                let mut u: Vec<u16> = Vec::new();
                for _ in 0..len {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    // Mostly ASCII, so that prefixes of every length occur.
                    let k = (x >> 16) as usize % 16;
                    u.extend_from_slice(pieces[if k < 11 { 0 } else { k - 10 }]);
                }
                let s = JsStr::from_units(u.clone());
                assert_eq!(s.to_rust_string(), String::from_utf16_lossy(&u), "{u:x?}");
                assert_eq!(
                    ascii_prefix(&u),
                    u.iter().position(|&c| c >= 0x80).unwrap_or(u.len())
                );
            }
        }
    }

    #[test]
    fn strings_are_made_and_grown_without_changing_their_copies() {
        // From Rust text: ASCII, a surrogate pair, and more than the 64 units converted at a time.
        for text in ["", "a", "caf\u{e9} \u{1f600}", &"xy\u{1f600}".repeat(40)] {
            let s = JsStr::from(text);
            assert_eq!(
                s.units(),
                &text.encode_utf16().collect::<Vec<u16>>()[..],
                "{text}"
            );
        }
        // `+=` in place only while nothing else holds the string.
        let mut a = JsStr::from("ab");
        let snapshot = a.clone();
        assert!(!a.try_append(&[0x63]));
        assert!(a.same(&snapshot));
        drop(snapshot);
        let mut copies = Vec::new();
        for i in 0..300u16 {
            assert!(a.try_append(&[0x30 + i % 10]));
            if i % 100 == 0 {
                copies.push((a.clone(), a.len()));
                // The copy is shared now: the next append must make a new string, not grow this one.
                let fresh = a.concat(&JsStr::unit(0x2e));
                a = fresh;
            }
        }
        for (c, len) in &copies {
            assert_eq!(c.len(), *len);
        }
        assert_eq!(a.len(), 2 + 300 + copies.len());
        // Numbers around strings, in one allocation.
        assert_eq!(crate::ops::number_to_jsstr(-0.0), JsStr::from("0"));
        assert_eq!(crate::ops::number_to_jsstr(1e21), JsStr::from("1e+21"));
        assert_eq!(
            crate::ops::number_to_jsstr(-1.2345678901234567e-308),
            JsStr::from("-1.2345678901234567e-308")
        );
        assert_eq!(crate::ops::number_to_jsstr(f64::NAN), JsStr::from("NaN"));
    }
}
