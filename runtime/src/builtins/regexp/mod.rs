//! Regular expressions (ECMA-262 §22.2) on the `regress` crate, and the String.prototype methods that
//! take them: `replace`, `replaceAll`, `match`, `search`, `split` (`matchAll` gives up).
//!
//! Matching runs on UTF-16 code units: patterns without the `u` flag see code units (regress's UCS-2
//! input, the pattern fed to it unit by unit), patterns with it see code points (its UTF-16 input).
//! `lastIndex` is an ordinary own data property of the object, so programs read and write it as in
//! JavaScript. The accessors of RegExp.prototype (`source`, `flags`, `global`, ...) are answered by
//! `accessor_get`, which `props::get` consults for RegExp objects.
//!
//! The String methods and `test` follow the spec's generic algorithms only for RegExp objects whose
//! `exec` and flags cannot have been replaced (no own properties but `lastIndex`, an unmodified
//! RegExp.prototype); anything else gives up. What else gives up: the `v` flag, the `d` flag's
//! `indices` (on any path that returns a match array), `matchAll`, subclasses of RegExp, `lastIndex`
//! pointing inside a surrogate pair of a `u` regex, modifier groups (`(?i:...)`), and `\k<name>` where
//! several groups share the name. Groups may share a name in different alternatives, as in Node 26. Invalid patterns and flags are V8 SyntaxErrors, and
//! `replaceAll` with a non-global regex a TypeError: those give up with `engine_error`.

use crate::builtins::arg;
use crate::builtins::string::find as index_of;
use crate::call::is_callable;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Prop, Slots};
use crate::ops;
use crate::props::{self, PropHooks};
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};
use pike::Found as Match;
use regress::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

mod cost;
mod pike;

crate::builtin!(REGEXP, "RegExp", 2, regexp_call, ctor = regexp_ctor);
crate::builtin!(EXEC, "RegExp.prototype.exec", 1, regexp_exec);
crate::builtin!(TEST, "RegExp.prototype.test", 1, regexp_test);
crate::builtin!(TO_STRING, "RegExp.prototype.toString", 0, regexp_to_string);
// The accessors of RegExp.prototype. Reading them goes through `accessor_get` (from `props::get`); these
// defs make `"flags" in re` true, and calling one (`re.source()`) fails as in JavaScript.
crate::builtin!(
    SOURCE,
    "RegExp.prototype.source",
    0,
    accessor_called,
    getter
);
crate::builtin!(FLAGS, "RegExp.prototype.flags", 0, accessor_called, getter);
crate::builtin!(
    GLOBAL,
    "RegExp.prototype.global",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    IGNORE_CASE,
    "RegExp.prototype.ignoreCase",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    MULTILINE,
    "RegExp.prototype.multiline",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    DOT_ALL,
    "RegExp.prototype.dotAll",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    UNICODE,
    "RegExp.prototype.unicode",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    UNICODE_SETS,
    "RegExp.prototype.unicodeSets",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    STICKY,
    "RegExp.prototype.sticky",
    0,
    accessor_called,
    getter
);
crate::builtin!(
    HAS_INDICES,
    "RegExp.prototype.hasIndices",
    0,
    accessor_called,
    getter
);
crate::builtin!(REPLACE, "String.prototype.replace", 2, string_replace);
crate::builtin!(
    REPLACE_ALL,
    "String.prototype.replaceAll",
    2,
    string_replace_all
);
crate::builtin!(MATCH, "String.prototype.match", 1, string_match);
crate::builtin!(MATCH_ALL, "String.prototype.matchAll", 1, string_match_all);
crate::builtin!(
    SEARCH,
    "String.prototype.search",
    1,
    string_search,
    returns_number
);
crate::builtin!(SPLIT, "String.prototype.split", 2, string_split);

/// Installs regexp's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let regexp_proto = r.prototype("RegExp", r.realm.object_proto)?;
    let string_proto = r.proto("String");
    let _regexp = r.constructor("RegExp", &REGEXP, regexp_proto)?;
    r.methods(
        regexp_proto,
        &[
            ("exec", &EXEC),
            ("test", &TEST),
            ("toString", &TO_STRING),
            ("source", &SOURCE),
            ("flags", &FLAGS),
            ("global", &GLOBAL),
            ("ignoreCase", &IGNORE_CASE),
            ("multiline", &MULTILINE),
            ("dotAll", &DOT_ALL),
            ("unicode", &UNICODE),
            ("unicodeSets", &UNICODE_SETS),
            ("sticky", &STICKY),
            ("hasIndices", &HAS_INDICES),
        ],
    )?;
    r.methods(
        string_proto,
        &[
            ("replace", &REPLACE),
            ("replaceAll", &REPLACE_ALL),
            ("match", &MATCH),
            ("matchAll", &MATCH_ALL),
            ("search", &SEARCH),
            ("split", &SPLIT),
        ],
    )?;
    Ok(())
}

const LAST_INDEX: &[u16] = &[108, 97, 115, 116, 73, 110, 100, 101, 120];

/// The flags of a regular expression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlagSet {
    pub has_indices: bool,
    pub global: bool,
    pub ignore_case: bool,
    pub multiline: bool,
    pub dot_all: bool,
    pub unicode: bool,
    pub sticky: bool,
}

impl FlagSet {
    /// Parses a flags string; an unknown or repeated flag is a SyntaxError.
    fn parse(f: &[u16]) -> JsResult<FlagSet> {
        let mut s = FlagSet::default();
        for &c in f {
            let slot = match c {
                0x64 => &mut s.has_indices,
                0x67 => &mut s.global,
                0x69 => &mut s.ignore_case,
                0x6D => &mut s.multiline,
                0x73 => &mut s.dot_all,
                0x75 => &mut s.unicode,
                0x79 => &mut s.sticky,
                0x76 => return unsupported("the RegExp v flag"),
                _ => return engine_error("Invalid flags supplied to RegExp constructor"),
            };
            if *slot {
                return engine_error("Invalid flags supplied to RegExp constructor");
            }
            *slot = true;
        }
        Ok(s)
    }

    /// The `flags` accessor's text, in V8's order ("dgimsuvy").
    fn canonical(&self) -> JsStr {
        let mut s = String::new();
        for (on, c) in [
            (self.has_indices, 'd'),
            (self.global, 'g'),
            (self.ignore_case, 'i'),
            (self.multiline, 'm'),
            (self.dot_all, 's'),
            (self.unicode, 'u'),
            (self.sticky, 'y'),
        ] {
            if on {
                s.push(c);
            }
        }
        JsStr::from(s)
    }
}

/// A compiled pattern, shared by every RegExp object made from the same source and flags.
#[derive(Debug)]
pub struct Compiled {
    re: Regex,
    /// For sticky regexes, `(?:P)|()`: it always matches at the position searching starts from, and
    /// its last group says whether `P` failed there. `None` when the extra group could change the
    /// meaning of a legacy `\N` escape; sticky matching then searches and checks the start.
    sticky_re: Option<Regex>,
    /// The name of each capturing group (by index from 1), if it has one.
    names: Vec<Option<JsStr>>,
    named: bool,
    /// Case-insensitive without `u`: regress folds a few characters differently from V8 (see
    /// `NON_UNICODE_ICASE_RISKY`); subjects holding one give up.
    nonu_icase: bool,
    /// A case-insensitive pattern on which regress may disagree with V8 (`icase_pattern_is_risky`): it gives
    /// up whenever it is used.
    icase_risky_pattern: bool,
    /// A `u` pattern with `\\B` or a lookaround. V8 searches by code unit even with `u`, so where the
    /// attempt at a surrogate pair fails, such a pattern can match (empty) between its two halves; regress,
    /// like the spec, never tries there. Subjects holding a surrogate pair give up.
    u_mid_pair_risky: bool,
    /// A bound on the work of one search, checked before it runs (regress cannot be interrupted).
    cost: cost::Cost,
    /// The non-backtracking program, for patterns where it gives V8's answers (`pike`); searches use it
    /// rather than regress, and need no cost bound (their work is linear in the subject).
    pike: Option<pike::Prog>,
}

/// RegExp.prototype's accessors, read on a RegExp object (own properties shadow them); they have no
/// setters.
static HOOKS: PropHooks = PropHooks {
    get: |cx, o, receiver, key| accessor_get(cx, o, receiver, key),
    fields: false,
    refuses_write: |_, _, key| Ok(is_accessor_key(key)),
};

impl Slots for RegExpData {
    fn each_value(&mut self, _: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        Ok(())
    }
    /// A RegExp's pattern and flags never change; `lastIndex` is a property, compared with the others.
    fn same_as(&self, other: &dyn Slots) -> bool {
        (other as &dyn std::any::Any).is::<RegExpData>()
    }
    fn hooks(&self) -> Option<&'static PropHooks> {
        Some(&HOOKS)
    }
}

/// What a RegExp object holds besides its `lastIndex` property.
#[derive(Clone, Debug)]
pub struct RegExpData {
    /// The `source` accessor's text (EscapeRegExpPattern of the pattern).
    pub source: JsStr,
    /// [[OriginalFlags]], as given.
    pub flags: JsStr,
    pub set: FlagSet,
    pub compiled: Rc<Compiled>,
}

// ---------------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------------

const CACHE_CAP: usize = 256;

/// Compiled patterns by pattern, then by the flags that affect compilation (looked up by the pattern's
/// units, without a copy).
type Cache = HashMap<Vec<u16>, Vec<(FlagSet, Rc<Compiled>)>, ahash::RandomState>;

thread_local! {
    /// Compiled patterns: regex literals inside functions are evaluated on every call.
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

struct PatternInfo {
    names: Vec<Option<JsStr>>,
    /// Whether the pattern has `\1`..`\9` (a backreference, or a legacy octal escape in Annex B).
    backslash_digit: bool,
    /// The names `\k<name>` refers to.
    backref_names: Vec<JsStr>,
}

/// Finds the capturing groups of a (syntactically valid) pattern and their names. A name may repeat
/// in different alternatives (duplicate named groups, ES2025, which Node 26 accepts; regress has
/// refused the pattern already where the two share an alternative, as V8 does).
fn scan_pattern(p: &[u16]) -> JsResult<PatternInfo> {
    let mut info = PatternInfo {
        names: Vec::new(),
        backslash_digit: false,
        backref_names: Vec::new(),
    };
    let mut i = 0;
    let mut in_class = false;
    while i < p.len() {
        let c = p[i];
        if c == b'\\' as u16 {
            if p.get(i + 1).is_some_and(|&d| (0x31..=0x39).contains(&d)) {
                info.backslash_digit = true;
            }
            if !in_class
                && p.get(i + 1) == Some(&(b'k' as u16))
                && p.get(i + 2) == Some(&(b'<' as u16))
            {
                if let Some(len) = p[i + 3..].iter().position(|&c| c == b'>' as u16) {
                    let name = JsStr::from_units(p[i + 3..i + 3 + len].to_vec());
                    info.backref_names.push(name);
                    i += 4 + len;
                    continue;
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == b']' as u16 {
                in_class = false;
            }
            i += 1;
            continue;
        }
        match c {
            0x5B => in_class = true,
            0x28 => {
                if p.get(i + 1) == Some(&(b'?' as u16)) {
                    if p.get(i + 2) == Some(&(b'<' as u16))
                        && !matches!(p.get(i + 3), Some(&0x3D) | Some(&0x21))
                    {
                        let start = i + 3;
                        let Some(len) = p[start..].iter().position(|&c| c == b'>' as u16) else {
                            return engine_error("Invalid capture group name");
                        };
                        let name = &p[start..start + len];
                        if name.contains(&(b'\\' as u16)) {
                            return unsupported("an escape in a capture group name");
                        }
                        info.names.push(Some(JsStr::from_units(name.to_vec())));
                        i = start + len + 1;
                        continue;
                    }
                    // `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!`; anything else is a modifier group `(?i:...)`
                    // (ES2025), not modelled.
                    if !matches!(
                        p.get(i + 2),
                        Some(&0x3A) | Some(&0x3D) | Some(&0x21) | Some(&0x3C)
                    ) {
                        return unsupported("a RegExp modifier group");
                    }
                } else {
                    info.names.push(None);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(info)
}

fn is_lead(c: u16) -> bool {
    (0xD800..0xDC00).contains(&c)
}
fn is_trail(c: u16) -> bool {
    (0xDC00..0xE000).contains(&c)
}

/// The pattern as regress reads it: code units, or code points for `u` patterns.
fn pattern_chars(p: &[u16], unicode: bool) -> Vec<u32> {
    if !unicode {
        return p.iter().map(|&c| c as u32).collect();
    }
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        if is_lead(c) && i + 1 < p.len() && is_trail(p[i + 1]) {
            out.push(0x10000 + (((c as u32) - 0xD800) << 10) + ((p[i + 1] as u32) - 0xDC00));
            i += 2;
        } else {
            out.push(c as u32);
            i += 1;
        }
    }
    out
}

/// Case-insensitive matching without `u` compares `Canonicalize` (ECMA-262 §22.2.2.7.3: toUppercase, but
/// never from non-ASCII to ASCII); regress closes character classes under Unicode simple case folding and
/// ignores that exception. Comparing every cased BMP character as a literal and as a class against Node
/// (the test `non_unicode_case_folding_agrees_with_node_outside_the_risky_set`) shows that every pair of
/// characters the two disagree on has one member in this set; subjects holding one give up, and so do
/// patterns that may denote one. All are at or above U+0131.
const NON_UNICODE_ICASE_RISKY: &[(u16, u16)] = &[
    (0x0131, 0x0131),
    (0x017F, 0x017F),
    (0x0390, 0x0390),
    (0x03B0, 0x03B0),
    (0x03F4, 0x03F4),
    (0x1E9E, 0x1E9E),
    (0x1F80, 0x1FAF),
    (0x1FB3, 0x1FB3),
    (0x1FBC, 0x1FBC),
    (0x1FC3, 0x1FC3),
    (0x1FCC, 0x1FCC),
    (0x1FD3, 0x1FD3),
    (0x1FE3, 0x1FE3),
    (0x1FF3, 0x1FF3),
    (0x1FFC, 0x1FFC),
    (0x2126, 0x2126),
    (0x212A, 0x212B),
    (0xFB05, 0xFB06),
];

fn nonu_icase_risky(c: u16) -> bool {
    c >= 0x131
        && NON_UNICODE_ICASE_RISKY
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// One atom of a pattern, as far as the case-folding check needs it.
#[derive(Clone, Copy, PartialEq)]
enum Atom {
    /// A character: literal, or escaped (`\uXXXX`, `\xXX`, `\cX`, octal, identity).
    Char(u32),
    /// `\d`, `\D`, `\s`, `\S`, `\w`, `\W` (the letter).
    Class(u16),
    /// Anything else (syntax outside classes, `\b`, backreferences).
    Other,
}

/// Reads the atom at `p[*i]` (a backslash escape or one unit) and moves past it.
fn read_atom(p: &[u16], i: &mut usize, in_class: bool) -> Atom {
    let c = p[*i];
    *i += 1;
    if c != b'\\' as u16 {
        return Atom::Char(c as u32);
    }
    let Some(&e) = p.get(*i) else {
        return Atom::Other;
    };
    *i += 1;
    let hex = |p: &[u16], at: usize, n: usize| -> Option<u32> {
        let h = String::from_utf16(p.get(at..at + n)?).ok()?;
        if h.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&h, 16).ok()
        } else {
            None
        }
    };
    match e {
        0x64 | 0x44 | 0x73 | 0x53 | 0x77 | 0x57 => Atom::Class(e),
        0x75 => match hex(p, *i, 4) {
            Some(v) => {
                *i += 4;
                Atom::Char(v)
            }
            None => Atom::Char(e as u32),
        },
        0x78 => match hex(p, *i, 2) {
            Some(v) => {
                *i += 2;
                Atom::Char(v)
            }
            None => Atom::Char(e as u32),
        },
        // Octal escapes and backreferences denote nothing above U+00FF.
        0x30..=0x39 => {
            while p.get(*i).is_some_and(|d| (0x30..=0x39).contains(d)) {
                *i += 1;
            }
            if in_class {
                Atom::Char(0)
            } else {
                Atom::Other
            }
        }
        0x62 if in_class => Atom::Char(8),
        0x62 | 0x42 | 0x6B => Atom::Other,
        0x63 => Atom::Char(0),
        _ => Atom::Char(e as u32),
    }
}

/// Whether a case-insensitive pattern may make regress disagree with V8 whatever the subject: `\W`
/// inside a class (regress closes the class under case folding, which adds `k`, `s` through U+212A and
/// U+017F), and without `u` any character of `NON_UNICODE_ICASE_RISKY` it may denote, alone or in a range.
fn icase_pattern_is_risky(p: &[u16], unicode: bool) -> bool {
    let risky = |lo: u32, hi: u32| {
        !unicode
            && NON_UNICODE_ICASE_RISKY
                .iter()
                .any(|&(a, b)| lo <= b as u32 && a as u32 <= hi)
    };
    let mut i = 0;
    while i < p.len() {
        if p[i] != b'[' as u16 {
            if let Atom::Char(c) = read_atom(p, &mut i, false) {
                if risky(c, c) {
                    return true;
                }
            }
            continue;
        }
        i += 1;
        if p.get(i) == Some(&(b'^' as u16)) {
            i += 1;
        }
        let mut atoms: Vec<Atom> = Vec::new();
        while i < p.len() && p[i] != b']' as u16 {
            atoms.push(read_atom(p, &mut i, true));
        }
        i += 1;
        let mut k = 0;
        while k < atoms.len() {
            match atoms[k] {
                Atom::Class(0x57) => return true,
                Atom::Char(lo) => {
                    if let (Some(Atom::Char(0x2D)), Some(Atom::Char(hi))) =
                        (atoms.get(k + 1), atoms.get(k + 2))
                    {
                        if risky(lo, *hi) {
                            return true;
                        }
                        k += 3;
                        continue;
                    }
                    if risky(lo, lo) {
                        return true;
                    }
                }
                _ => {}
            }
            k += 1;
        }
    }
    false
}

/// Whether a pattern names a code point outside the BMP or a surrogate: a surrogate code unit in its
/// source, a `\\uD800`-`\\uDFFF` escape or a `\\u{...}` escape. The random differential test found regress
/// and V8 disagreeing on several such patterns (pairing of escaped halves, empty checks around astral
/// characters), so they give up.
fn names_astral_or_surrogate(p: &[u16]) -> bool {
    let hex = |c: u16| (c as u8 as char).is_ascii_hexdigit() && c < 0x80;
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        if (0xD800..0xE000).contains(&c) {
            return true;
        }
        if c == 0x5C {
            if p.get(i + 1) == Some(&0x75) {
                if p.get(i + 2) == Some(&0x7B) {
                    return true;
                }
                if p.len() >= i + 6 && p[i + 2..i + 6].iter().all(|&h| hex(h)) {
                    let v = p[i + 2..i + 6].iter().fold(0u32, |a, &h| {
                        a * 16 + (h as u8 as char).to_digit(16).unwrap()
                    });
                    if (0xD800..0xE000).contains(&v) {
                        return true;
                    }
                }
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    false
}

/// Whether a quantifier follows an assertion, which V8 rejects ("Nothing to repeat") and regress accepts:
/// `^`, `$`, `\\b`, `\\B` and lookbehinds always, lookaheads with `u` (Annex B allows them without).
fn has_quantified_assertion(p: &[u16], unicode: bool) -> bool {
    let is_quant =
        |c: Option<&u16>| matches!(c, Some(&0x2A) | Some(&0x2B) | Some(&0x3F) | Some(&0x7B));
    // Per open group: whether it is an assertion that may not be quantified.
    let mut stack: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            0x5C => {
                let assertion = matches!(p.get(i + 1), Some(&0x62) | Some(&0x42));
                i += 2;
                if assertion && is_quant(p.get(i)) {
                    return true;
                }
            }
            0x5B => {
                i += 1;
                while i < p.len() && p[i] != 0x5D {
                    i += if p[i] == 0x5C { 2 } else { 1 };
                }
                i += 1;
            }
            0x5E | 0x24 => {
                i += 1;
                if is_quant(p.get(i)) {
                    return true;
                }
            }
            0x28 => {
                let rest = &p[i + 1..];
                let lookbehind =
                    rest.starts_with(&[0x3F, 0x3C, 0x3D]) || rest.starts_with(&[0x3F, 0x3C, 0x21]);
                let lookahead = rest.starts_with(&[0x3F, 0x3D]) || rest.starts_with(&[0x3F, 0x21]);
                stack.push(lookbehind || (unicode && lookahead));
                i += 1;
            }
            0x29 => {
                let assertion = stack.pop().unwrap_or(false);
                i += 1;
                if assertion && is_quant(p.get(i)) {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// Whether a pattern has a counted quantifier (`{n}`, `{n,m}`) on a group that holds a quantified group
/// which itself holds a quantifier, as in `(?:.(?:\\w*)?){2}`. On such patterns regress 0.12's backtracker
/// can grow its stack without bound (found by `random_regexes_agree_with_node`), which would exhaust the
/// dispatcher's memory; they give up instead.
fn has_counted_nested_loop(p: &[u16]) -> bool {
    // Per open group: (holds a quantifier, holds a quantified group that holds a quantifier).
    let mut stack: Vec<(bool, bool)> = vec![(false, false)];
    let is_quant =
        |c: Option<&u16>| matches!(c, Some(&0x2A) | Some(&0x2B) | Some(&0x3F) | Some(&0x7B));
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            0x5C => i += 2,
            0x5B => {
                i += 1;
                while i < p.len() && p[i] != 0x5D {
                    i += if p[i] == 0x5C { 2 } else { 1 };
                }
                i += 1;
            }
            0x28 => {
                stack.push((false, false));
                i += 1;
            }
            0x29 if stack.len() > 1 => {
                let (quant, nested) = stack.pop().unwrap();
                i += 1;
                if is_quant(p.get(i)) {
                    if p[i] == 0x7B && nested {
                        return true;
                    }
                    let top = stack.last_mut().unwrap();
                    top.0 = true;
                    top.1 |= quant || nested;
                } else {
                    let top = stack.last_mut().unwrap();
                    top.0 |= quant;
                    top.1 |= nested;
                }
            }
            c => {
                if is_quant(Some(&c)) {
                    stack.last_mut().unwrap().0 = true;
                }
                i += 1;
            }
        }
    }
    false
}

/// Whether a pattern has `\\B` or a lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) outside escapes.
fn has_empty_assertion(p: &[u16]) -> bool {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            0x5C => {
                if p.get(i + 1) == Some(&(b'B' as u16)) {
                    return true;
                }
                i += 2;
                continue;
            }
            0x28 if p.get(i + 1) == Some(&(b'?' as u16)) => {
                let rest = &p[i + 2..];
                if rest
                    .first()
                    .is_some_and(|&c| c == b'=' as u16 || c == b'!' as u16)
                    || (rest.first() == Some(&(b'<' as u16))
                        && rest
                            .get(1)
                            .is_some_and(|&c| c == b'=' as u16 || c == b'!' as u16))
                {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

/// Gives up where regress would not match `s` exactly as V8 does (see `NON_UNICODE_ICASE_RISKY`).
fn check_subject(d: &RegExpData, s: &[u16]) -> JsResult<()> {
    let c = &d.compiled;
    if c.pike.is_some() {
        // The patterns `pike` accepts have none of the risks below: it folds case with Canonicalize as
        // V8 does, and refuses `\B` with `u` and lookarounds.
        return Ok(());
    }
    if c.icase_risky_pattern {
        return unsupported(
            "a case-insensitive RegExp whose characters regress folds differently from V8",
        );
    }
    if c.u_mid_pair_risky && s.windows(2).any(|w| is_lead(w[0]) && is_trail(w[1])) {
        return unsupported(
            "a u RegExp with \\B or a lookaround on a string with a surrogate pair",
        );
    }
    if c.nonu_icase && s.iter().any(|&u| nonu_icase_risky(u)) {
        return unsupported(
            "a case-insensitive match on characters regress folds differently from V8",
        );
    }
    Ok(())
}

fn compile(cx: &mut Cx, pattern: &[u16], set: FlagSet) -> JsResult<Rc<Compiled>> {
    // Only these flags change what is compiled.
    let key_set = FlagSet {
        ignore_case: set.ignore_case,
        multiline: set.multiline,
        dot_all: set.dot_all,
        unicode: set.unicode,
        sticky: set.sticky,
        ..FlagSet::default()
    };
    let hit = CACHE.with(|c| {
        c.borrow().get(pattern).and_then(|v| {
            v.iter()
                .find(|(f, _)| *f == key_set)
                .map(|(_, c)| c.clone())
        })
    });
    if let Some(c) = hit {
        return Ok(c);
    }
    cx.burn(20 * pattern.len() as u64 + 100)?;
    let flags = regress::Flags {
        icase: set.ignore_case,
        multiline: set.multiline,
        dot_all: set.dot_all,
        unicode: set.unicode,
        ..Default::default()
    };
    let chars = pattern_chars(pattern, set.unicode);
    let re = match Regex::from_unicode(chars.iter().copied(), flags) {
        Ok(re) => re,
        Err(_) => return engine_error("Invalid regular expression"),
    };
    let info = scan_pattern(pattern)?;
    if info
        .backref_names
        .iter()
        .any(|b| info.names.iter().filter(|n| n.as_ref() == Some(b)).count() > 1)
    {
        // regress tries each group of the name in turn, and one that did not participate matches
        // the empty string; V8 matches the group of that name that participated.
        return unsupported("a backreference to a duplicate capture group name");
    }
    if has_quantified_assertion(pattern, set.unicode) {
        return engine_error("Invalid regular expression: Nothing to repeat");
    }
    if names_astral_or_surrogate(pattern) {
        return unsupported("a RegExp that names a surrogate or a character outside the BMP");
    }
    let pike = pike::Prog::compile(
        pattern,
        pike::Flags {
            ignore_case: set.ignore_case,
            multiline: set.multiline,
            dot_all: set.dot_all,
            unicode: set.unicode,
        },
        info.names.len(),
    );
    if pike.is_none() && has_counted_nested_loop(pattern) {
        return unsupported("a counted repeat of a group holding a repeated group (regress may not terminate on it)");
    }
    let sticky_re = if set.sticky && !info.backslash_digit {
        let mut wrapped: Vec<u32> = "(?:".chars().map(|c| c as u32).collect();
        wrapped.extend_from_slice(&chars);
        wrapped.extend(")|()".chars().map(|c| c as u32));
        Regex::from_unicode(wrapped.into_iter(), flags).ok()
    } else {
        None
    };
    let named = info.names.iter().any(|n| n.is_some());
    let nonu_icase = set.ignore_case && !set.unicode;
    let icase_risky_pattern = set.ignore_case && icase_pattern_is_risky(pattern, set.unicode);
    let u_mid_pair_risky = set.unicode && has_empty_assertion(pattern);
    let c = Rc::new(Compiled {
        re,
        sticky_re,
        names: info.names,
        named,
        nonu_icase,
        icase_risky_pattern,
        u_mid_pair_risky,
        cost: cost::Cost::new(pattern, flags),
        pike,
    });
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_CAP {
            cache.clear();
        }
        cache
            .entry(pattern.to_vec())
            .or_default()
            .push((key_set, c.clone()));
    });
    Ok(c)
}

/// EscapeRegExpPattern (ECMA-262 §22.2.6.13.1) as V8 does it: `/` outside classes and line
/// terminators are escaped; an empty pattern is `(?:)`.
fn escape_pattern(p: &[u16]) -> JsStr {
    if p.is_empty() {
        return JsStr::from("(?:)");
    }
    let mut out = Vec::with_capacity(p.len());
    let mut in_class = false;
    let mut i = 0;
    let push_terminator = |out: &mut Vec<u16>, c: u16| -> bool {
        let text = match c {
            0x0A => "\\n",
            0x0D => "\\r",
            0x2028 => "\\u2028",
            0x2029 => "\\u2029",
            _ => return false,
        };
        out.extend(text.encode_utf16());
        true
    };
    while i < p.len() {
        let c = p[i];
        if c == b'\\' as u16 {
            match p.get(i + 1) {
                // The backslash goes; the terminator after it is escaped on the next turn.
                Some(&(0x0A | 0x0D | 0x2028 | 0x2029)) => {}
                Some(&n) => {
                    out.push(c);
                    out.push(n);
                    i += 1;
                }
                None => out.push(c),
            }
            i += 1;
            continue;
        }
        if push_terminator(&mut out, c) {
            i += 1;
            continue;
        }
        match c {
            0x2F if !in_class => out.extend_from_slice(&[b'\\' as u16, c]),
            0x5B => {
                in_class = true;
                out.push(c);
            }
            0x5D => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    JsStr::from_units(out)
}

fn alloc_regexp(cx: &mut Cx, data: RegExpData) -> JsResult<Value> {
    thread_local! {
        /// The `lastIndex` key every RegExp object of this thread shares: a regex literal in a loop makes an
        /// object per evaluation, and a copy of the key each time cost more than the rest of the object.
        static KEY: JsStr = JsStr::from_units(LAST_INDEX.to_vec());
    }
    cx.heap.charge(64 + 2 * data.source.len())?;
    let mut obj = Obj::new(ObjKind::builtin(data), Some(regexp_proto(cx)));
    obj.props
        .push_new(KEY.with(JsStr::clone), Prop::hidden(Value::Num(0.0)));
    Ok(Value::Obj(cx.heap.alloc(obj)?))
}

/// A regular expression literal `/source/flags` (the code generator calls this). An invalid pattern
/// gives up.
pub fn new_regexp(cx: &mut Cx, source: &str, flags: &str) -> JsResult<Value> {
    let units: Vec<u16> = source.encode_utf16().collect();
    let flags = JsStr::from(flags);
    let set = FlagSet::parse(flags.units())?;
    let compiled = compile(cx, &units, set)?;
    let source = if units.is_empty() {
        JsStr::from("(?:)")
    } else {
        JsStr::from_units(units)
    };
    alloc_regexp(
        cx,
        RegExpData {
            source,
            flags,
            set,
            compiled,
        },
    )
}

/// What regex literals compiled so far, by the slot the compiler gave each (`literal`).
#[derive(Default)]
struct Literals(Vec<Option<RegExpData>>);

/// A regex literal's evaluation (`/p/f` at the site with slot `slot`): a new RegExp object each time, as
/// JavaScript makes one, sharing the pattern's compilation and its source and flags strings with the
/// site's earlier evaluations.
pub fn literal(
    cx: &mut Cx,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
) -> JsResult<Value> {
    let data = literal_data(cx, pattern, flags, slot)?;
    alloc_regexp(cx, data)
}

/// What the regex literal at `slot` holds: compiled at its first evaluation, shared after.
fn literal_data(
    cx: &mut Cx,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
) -> JsResult<RegExpData> {
    let slot = slot as usize;
    let known = cx
        .module_host
        .get::<Literals>()
        .0
        .get(slot)
        .and_then(|d| d.clone());
    let data = match known {
        Some(d) => d,
        None => {
            let flags = JsStr::from_units(flags.to_vec());
            let set = FlagSet::parse(flags.units())?;
            let compiled = compile(cx, pattern, set)?;
            let source = if pattern.is_empty() {
                JsStr::from("(?:)")
            } else {
                JsStr::from_units(pattern.to_vec())
            };
            let d = RegExpData {
                source,
                flags,
                set,
                compiled,
            };
            let cache = &mut cx.module_host.get::<Literals>().0;
            if slot < 1 << 16 {
                if cache.len() <= slot {
                    cache.resize(slot + 1, None);
                }
                cache[slot] = Some(d.clone());
            }
            d
        }
    };
    Ok(data)
}

/// The data of the regex literal at `slot` where its object would go unseen (`Holder::Unseen`), once
/// RegExp.prototype is known to hold the builtins the methods below stand for.
fn unseen_literal(
    cx: &mut Cx,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
) -> JsResult<RegExpData> {
    let d = literal_data(cx, pattern, flags, slot)?;
    check_proto_pristine(cx)?;
    Ok(d)
}

/// `s.replace(/p/f, rv)` (`s.replaceAll(/p/f, rv)` when `all`), where the site's guard admitted only that
/// builtin and `s` is a string: as the builtin does it with the literal's new RegExp object, without
/// making the object, which nothing else can reach (see `Holder::Unseen`).
pub fn replace_literal(
    cx: &mut Cx,
    s: &JsStr,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
    rv: &Value,
    all: bool,
) -> JsResult<Value> {
    let d = replaced_literal(cx, pattern, flags, slot, all)?;
    regexp_replace(cx, Holder::Unseen, &d, s, rv)
}

/// `replace_literal` where the replacement is a function literal (`s.replace(/p/g, (c) => map[c])`): `make`
/// makes the function only once there is a match to call it on. Made or not, nothing could tell: no other
/// code holds it, and the search before it has no effect a program can see (the literal's object is not
/// made either).
pub fn replace_literal_fn(
    cx: &mut Cx,
    s: &JsStr,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
    make: &mut dyn FnMut(&mut Cx) -> JsResult<Value>,
    all: bool,
) -> JsResult<Value> {
    let d = replaced_literal(cx, pattern, flags, slot, all)?;
    replace_matches(cx, Holder::Unseen, &d, s, Lazy::Func(make))
}

/// The data of a literal that `replace` (`all` false) or `replaceAll` (`all` true) is called with: replaceAll
/// refuses a literal that is not global, as it refuses the regex itself.
fn replaced_literal(
    cx: &mut Cx,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
    all: bool,
) -> JsResult<RegExpData> {
    let d = unseen_literal(cx, pattern, flags, slot)?;
    if all && !d.set.global {
        return engine_error("replaceAll must be called with a global RegExp");
    }
    Ok(d)
}

/// `/p/f.test(s)`, where the site's guard admitted only RegExp.prototype.test and `s` is a string, without
/// making the literal's object (see `replace_literal`).
pub fn test_literal(
    cx: &mut Cx,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
    s: &JsStr,
) -> JsResult<bool> {
    let d = unseen_literal(cx, pattern, flags, slot)?;
    Ok(builtin_exec(cx, Holder::Unseen, &d, s.units(), false)?.is_some())
}

/// `s.match(/p/f)`, where the site's guard admitted only String.prototype.match and `s` is a string,
/// without making the literal's object (see `replace_literal`).
pub fn match_literal(
    cx: &mut Cx,
    s: &JsStr,
    pattern: &'static [u16],
    flags: &'static [u16],
    slot: u32,
) -> JsResult<Value> {
    let d = unseen_literal(cx, pattern, flags, slot)?;
    string_match_with(cx, s, Holder::Unseen, &d)
}

/// RegExpCreate / RegExpInitialize from a pattern string and a flags string.
fn regexp_create(cx: &mut Cx, pattern: &JsStr, flags: &JsStr) -> JsResult<Value> {
    let set = FlagSet::parse(flags.units())?;
    let compiled = compile(cx, pattern.units(), set)?;
    let source = escape_pattern(pattern.units());
    alloc_regexp(
        cx,
        RegExpData {
            source,
            flags: flags.clone(),
            set,
            compiled,
        },
    )
}

/// The RegExp data of `v`, if it is a RegExp object.
pub fn regexp_data(cx: &Cx, v: &Value) -> Option<(ObjRef, RegExpData)> {
    match v {
        Value::Obj(o) => cx
            .heap
            .kind(*o)
            .slots::<RegExpData>()
            .map(|d| (*o, d.clone())),
        _ => None,
    }
}

fn regexp_call(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let pattern = arg(args, 0);
    let flags = arg(args, 1);
    if regexp_data(cx, &pattern).is_some() && flags.is_undefined() {
        let ctor = props::get(cx, &pattern, &props::key("constructor"))?;
        if let (Value::Obj(c), Some(Value::Obj(r))) = (&ctor, cx.realm.global("RegExp")) {
            if *c == r {
                return Ok(pattern);
            }
        }
    }
    regexp_construct(cx, &pattern, &flags)
}

fn regexp_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    if this.is_some() {
        return unsupported("a subclass of RegExp");
    }
    regexp_construct(cx, &arg(args, 0), &arg(args, 1))
}

fn regexp_construct(cx: &mut Cx, pattern: &Value, flags: &Value) -> JsResult<Value> {
    if let Some((_, d)) = regexp_data(cx, pattern) {
        if flags.is_undefined() {
            return alloc_regexp(cx, d);
        }
        let f = ops::to_string(cx, flags)?;
        let set = FlagSet::parse(f.units())?;
        let compiled = compile(cx, d.source.units(), set)?;
        return alloc_regexp(
            cx,
            RegExpData {
                source: d.source,
                flags: f,
                set,
                compiled,
            },
        );
    }
    let p = if pattern.is_undefined() {
        JsStr::empty()
    } else {
        ops::to_string(cx, pattern)?
    };
    let f = if flags.is_undefined() {
        JsStr::empty()
    } else {
        ops::to_string(cx, flags)?
    };
    regexp_create(cx, &p, &f)
}

// ---------------------------------------------------------------------------------------------------
// Accessors
// ---------------------------------------------------------------------------------------------------

fn accessor_called(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    engine_error("a RegExp accessor is not a function")
}

const ACCESSORS: &[&str] = &[
    "source",
    "flags",
    "global",
    "ignoreCase",
    "multiline",
    "dotAll",
    "unicode",
    "unicodeSets",
    "sticky",
    "hasIndices",
];

fn key_is(key: &[u16], s: &str) -> bool {
    key.len() == s.len() && key.iter().zip(s.bytes()).all(|(&a, b)| a == b as u16)
}

/// Whether `key` names one of RegExp.prototype's accessors (they have no setters: assigning one on a
/// RegExp object fails in JavaScript, so `props::set` gives up on it).
pub fn is_accessor_key(key: &[u16]) -> bool {
    ACCESSORS.iter().any(|a| key_is(key, a))
}

/// The value of RegExp.prototype's accessor `key` read on RegExp object `o` (with `receiver` as
/// `this`), or `None` when `key` is not one of them or RegExp.prototype's property was replaced.
pub fn accessor_get(cx: &Cx, o: ObjRef, receiver: &Value, key: &[u16]) -> JsResult<Option<Value>> {
    let Some(d) = cx.heap.kind(o).slots::<RegExpData>() else {
        return Ok(None);
    };
    if !is_accessor_key(key) || cx.heap.get(o).proto != Some(regexp_proto(cx)) {
        return Ok(None);
    }
    if cx.heap.get(regexp_proto(cx)).props.contains_key(key) {
        return Ok(None);
    }
    if receiver.as_obj() != Some(o) {
        return engine_error("RegExp.prototype getter called on a non-RegExp object");
    }
    let s = &d.set;
    let flag = |name: &str| key_is(key, name);
    let v = if flag("source") {
        Value::Str(d.source.clone())
    } else if flag("flags") {
        Value::Str(s.canonical())
    } else {
        // unicodeSets is false: the v flag gives up at creation.
        Value::Bool(
            (flag("global") && s.global)
                || (flag("ignoreCase") && s.ignore_case)
                || (flag("multiline") && s.multiline)
                || (flag("dotAll") && s.dot_all)
                || (flag("unicode") && s.unicode)
                || (flag("sticky") && s.sticky)
                || (flag("hasIndices") && s.has_indices),
        )
    };
    Ok(Some(v))
}

/// The fact `check_pristine` remembers about RegExp.prototype (see `cx::RealmMemo`).
static PRISTINE_PROTO: u8 = 2;

/// Gives up unless the spec's generic algorithms on `o` (which read `exec`, `flags` and friends as
/// properties) would see the builtins: no own property but `lastIndex`, and RegExp.prototype unchanged.
fn check_pristine(cx: &Cx, o: ObjRef) -> JsResult<()> {
    let obj = cx.heap.get(o);
    let own_ok = obj.props.keys().all(|k| k.units() == LAST_INDEX);
    if own_ok && obj.proto == Some(regexp_proto(cx)) {
        check_proto_pristine(cx)
    } else {
        unsupported("a RegExp whose exec or flags may have been replaced")
    }
}

/// RegExp.prototype holds only `constructor`, still RegExp (@@split reads it for the species); checked
/// again only once the realm's objects may have changed.
fn check_proto_pristine(cx: &Cx) -> JsResult<()> {
    let proto = cx.heap.get(regexp_proto(cx));
    let epoch = cx.heap.realm_epoch();
    let ctor_ok = cx.realm_memo.holds(&PRISTINE_PROTO, epoch)
        || proto.props.iter().all(|(k, p)| {
            k.eq_str("constructor")
                && matches!((p, cx.realm.global("RegExp")), (Prop::Data { value: Value::Obj(c), .. }, Some(Value::Obj(r))) if *c == r)
        });
    if ctor_ok {
        cx.realm_memo.note(&PRISTINE_PROTO, epoch);
        Ok(())
    } else {
        unsupported("a RegExp whose exec or flags may have been replaced")
    }
}

// ---------------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------------

fn run(re: &Regex, unicode: bool, s: &[u16], from: usize) -> Option<Match> {
    if unicode {
        re.find_from_utf16(s, from).next().map(Match::from)
    } else {
        re.find_from_ucs2(s, from).next().map(Match::from)
    }
}

/// The first match at or after `from` (exactly at `from` for sticky regexes); its captures are
/// computed only when `caps` (else they may be missing).
fn find_at(
    cx: &mut Cx,
    d: &RegExpData,
    s: &[u16],
    from: usize,
    caps: bool,
) -> JsResult<Option<Match>> {
    let c = &d.compiled;
    if let Some(p) = c
        .pike
        .as_ref()
        .filter(|p| p.affordable(s.len() - from.min(s.len())))
    {
        let (m, steps) = p.exec(s, from, d.set.sticky, caps);
        cx.burn(steps as u64 + 1)?;
        return Ok(m);
    }
    // A search that could backtrack beyond the cap would keep this thread busy after the request gave up.
    if !c.cost.bounded(s, from, d.set.sticky) {
        return crate::cx::abort(
            crate::cx::AbortKind::Fuel,
            0,
            "a RegExp search that could backtrack beyond the runtime's step limit on this string",
        );
    }
    let m = if d.set.sticky {
        match &c.sticky_re {
            Some(sre) => match run(sre, d.set.unicode, s, from) {
                Some(mut m)
                    if m.start() == from && m.captures.last().is_some_and(|g| g.is_none()) =>
                {
                    m.captures.pop();
                    Some(m)
                }
                _ => None,
            },
            None => run(&c.re, d.set.unicode, s, from).filter(|m| m.start() == from),
        }
    } else {
        run(&c.re, d.set.unicode, s, from)
    };
    let reached = m.as_ref().map(|m| m.end()).unwrap_or(s.len());
    cx.burn(reached.saturating_sub(from) as u64 + 1)?;
    if let Some(m) = &m {
        if m.captures.len() != c.names.len() {
            return unsupported("regex capture groups not understood");
        }
    }
    Ok(m)
}

/// AdvanceStringIndex (ECMA-262 §22.2.7.3).
fn advance(s: &[u16], i: usize, unicode: bool) -> usize {
    if unicode && i + 1 < s.len() && is_lead(s[i]) && is_trail(s[i + 1]) {
        i + 2
    } else {
        i + 1
    }
}

/// Where a search keeps its regex's `lastIndex`: the RegExp object's property, or nowhere, for the object a
/// regex literal makes where it is the receiver or argument of a string or RegExp method that no code can
/// reach afterwards (`s.replace(/p/g, r)`, `/p/.test(s)`): that object's `lastIndex` starts at 0, and what
/// the method writes to it is lost with it, so the runtime does not make it (`replace_literal` and others).
#[derive(Clone, Copy)]
enum Holder {
    Obj(ObjRef),
    Unseen,
}

/// ToLength(Get(R, "lastIndex")).
fn read_last_index(cx: &mut Cx, h: Holder) -> JsResult<f64> {
    let o = match h {
        Holder::Obj(o) => o,
        Holder::Unseen => return Ok(0.0),
    };
    let v = props::get(cx, &Value::Obj(o), LAST_INDEX)?;
    let n = match v {
        Value::Num(n) if n.fract() == 0.0 || !n.is_finite() => {
            if n.is_nan() {
                0.0
            } else {
                n
            }
        }
        _ => ops::to_integer_or_infinity(cx, &v)?,
    };
    Ok(n.clamp(0.0, 9007199254740991.0))
}

/// Set(R, "lastIndex", v, true). Writing the value it already holds is skipped (it cannot be observed),
/// so module-level regexes whose lastIndex stays 0 do not count as module writes.
fn write_last_index(cx: &mut Cx, h: Holder, v: Value) -> JsResult<()> {
    let o = match h {
        Holder::Obj(o) => o,
        Holder::Unseen => return Ok(()),
    };
    let obj = cx.heap.get(o);
    if obj.frozen {
        return engine_error("Cannot assign to read only property 'lastIndex'");
    }
    if let Some(Prop::Data {
        value,
        writable: true,
        ..
    }) = obj.props.get(LAST_INDEX)
    {
        if ops::same_value(value, &v) {
            return Ok(());
        }
    }
    props::set(cx, &Value::Obj(o), LAST_INDEX, v)
}

/// RegExpBuiltinExec (ECMA-262 §22.2.7.2) up to building the result.
fn builtin_exec(
    cx: &mut Cx,
    o: Holder,
    d: &RegExpData,
    s: &[u16],
    caps: bool,
) -> JsResult<Option<Match>> {
    let li = read_last_index(cx, o)?;
    check_subject(d, s)?;
    let gs = d.set.global || d.set.sticky;
    let last = if gs { li } else { 0.0 };
    if last > s.len() as f64 {
        if gs {
            write_last_index(cx, o, Value::Num(0.0))?;
        }
        return Ok(None);
    }
    let last = last as usize;
    if d.set.unicode && last > 0 && last < s.len() && is_trail(s[last]) && is_lead(s[last - 1]) {
        return unsupported("lastIndex inside a surrogate pair");
    }
    match find_at(cx, d, s, last, caps)? {
        None => {
            if gs {
                write_last_index(cx, o, Value::Num(0.0))?;
            }
            Ok(None)
        }
        Some(m) => {
            if gs {
                write_last_index(cx, o, Value::Num(m.end() as f64))?;
            }
            Ok(Some(m))
        }
    }
}

/// All matches of a global regex, as the loops of @@match and @@replace collect them; lastIndex ends 0.
fn collect_all(
    cx: &mut Cx,
    o: Holder,
    d: &RegExpData,
    s: &[u16],
    caps: bool,
) -> JsResult<Vec<Match>> {
    write_last_index(cx, o, Value::Num(0.0))?;
    check_subject(d, s)?;
    let mut out = Vec::new();
    let mut last = 0;
    while last <= s.len() {
        cx.tick()?;
        let Some(m) = find_at(cx, d, s, last, caps)? else {
            break;
        };
        last = if m.end() == m.start() {
            advance(s, m.end(), d.set.unicode)
        } else {
            m.end()
        };
        out.push(m);
    }
    Ok(out)
}

fn substr(cx: &mut Cx, s: &[u16], r: std::ops::Range<usize>) -> JsResult<Value> {
    cx.new_str_from(&s[r])
}

/// The captures of `m` as values (strings, or undefined for groups that did not participate).
fn capture_values(cx: &mut Cx, s: &[u16], m: &Match) -> JsResult<Vec<Value>> {
    let mut out = Vec::with_capacity(m.captures.len());
    for c in &m.captures {
        out.push(match c {
            Some(r) => substr(cx, s, r.clone())?,
            None => Value::Undefined,
        });
    }
    Ok(out)
}

/// The named captures of a match: each name once, in the order of its first group, with the capture of
/// the group of that name that participated (at most one can; several groups share a name only in
/// different alternatives), else undefined.
fn named_captures(names: &[Option<JsStr>], caps: &[Value]) -> Vec<(JsStr, Value)> {
    let mut out: Vec<(JsStr, Value)> = Vec::new();
    for (name, v) in names.iter().zip(caps) {
        let Some(name) = name else { continue };
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, old)) => {
                if old.is_undefined() {
                    *old = v.clone();
                }
            }
            None => out.push((name.clone(), v.clone())),
        }
    }
    out
}

/// The `groups` object of a match: null prototype, one property per group name (`named_captures`).
fn groups_object(cx: &mut Cx, d: &RegExpData, caps: &[Value]) -> JsResult<Value> {
    let mut obj = Obj::new(ObjKind::Ordinary, None);
    for (name, v) in named_captures(&d.compiled.names, caps) {
        obj.props.insert(name, Prop::data(v));
    }
    Ok(Value::Obj(cx.heap.alloc(obj)?))
}

/// The array RegExpBuiltinExec returns: the match and captures, then `index`, `input`, `groups`.
fn match_array(cx: &mut Cx, d: &RegExpData, s: &JsStr, m: &Match) -> JsResult<Value> {
    if d.set.has_indices {
        return unsupported("the RegExp d flag (match indices)");
    }
    let u = s.units();
    let mut items = vec![substr(cx, u, m.range())?];
    let caps = capture_values(cx, u, m)?;
    items.extend(caps.iter().cloned());
    let groups = if d.compiled.named {
        groups_object(cx, d, &caps)?
    } else {
        Value::Undefined
    };
    let a = cx.new_array(items)?;
    let ao = a.as_obj().expect("array");
    props::define(cx, ao, JsStr::from("index"), Value::Num(m.start() as f64))?;
    props::define(cx, ao, JsStr::from("input"), Value::Str(s.clone()))?;
    props::define(cx, ao, JsStr::from("groups"), groups)?;
    Ok(a)
}

fn this_regexp(cx: &Cx, this: &Value) -> JsResult<(ObjRef, RegExpData)> {
    match regexp_data(cx, this) {
        Some(x) => Ok(x),
        None => engine_error("RegExp method called on an incompatible receiver"),
    }
}

fn regexp_exec(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let (o, d) = this_regexp(cx, this)?;
    let s = ops::to_string(cx, &arg(args, 0))?;
    match builtin_exec(cx, Holder::Obj(o), &d, s.units(), true)? {
        Some(m) => match_array(cx, &d, &s, &m),
        None => Ok(Value::Null),
    }
}

fn regexp_test(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let (o, d) = this_regexp(cx, this)?;
    let s = ops::to_string(cx, &arg(args, 0))?;
    check_pristine(cx, o)?;
    Ok(Value::Bool(
        builtin_exec(cx, Holder::Obj(o), &d, s.units(), false)?.is_some(),
    ))
}

fn regexp_to_string(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let (o, d) = this_regexp(cx, this)?;
    check_pristine(cx, o)?;
    let mut u: Vec<u16> = vec![b'/' as u16];
    u.extend_from_slice(d.source.units());
    u.push(b'/' as u16);
    u.extend_from_slice(d.set.canonical().units());
    cx.new_str(u)
}

// ---------------------------------------------------------------------------------------------------
// Replacement
// ---------------------------------------------------------------------------------------------------

/// GetSubstitution (ECMA-262 §22.1.3.19.1): expands `$$`, `$&`, `` $` ``, `$'`, `$n`, `$nn` and
/// `$<name>` in `template`. `named` is the match's groups (name, value) when the regex has named groups.
fn get_substitution(
    out: &mut Vec<u16>,
    matched: &[u16],
    s: &[u16],
    position: usize,
    captures: &[Value],
    named: Option<&[(JsStr, Value)]>,
    template: &[u16],
) {
    let t = template;
    let m = captures.len();
    let tail = (position + matched.len()).min(s.len());
    let digit = |i: usize| {
        t.get(i)
            .filter(|&&c| (0x30..=0x39).contains(&c))
            .map(|&c| (c - 0x30) as usize)
    };
    let push_value = |out: &mut Vec<u16>, v: &Value| {
        if let Value::Str(x) = v {
            out.extend_from_slice(x.units());
        }
    };
    let mut i = 0;
    while i < t.len() {
        let c = t[i];
        if c != b'$' as u16 || i + 1 >= t.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let n = t[i + 1];
        match n {
            0x24 => {
                out.push(0x24);
                i += 2;
            }
            0x26 => {
                out.extend_from_slice(matched);
                i += 2;
            }
            0x60 => {
                out.extend_from_slice(&s[..position.min(s.len())]);
                i += 2;
            }
            0x27 => {
                out.extend_from_slice(&s[tail..]);
                i += 2;
            }
            0x30..=0x39 => {
                let d1 = (n - 0x30) as usize;
                let (mut count, mut index) = match digit(i + 2) {
                    Some(d2) => (2, d1 * 10 + d2),
                    None => (1, d1),
                };
                if index > m && count == 2 {
                    count = 1;
                    index = d1;
                }
                if (1..=m).contains(&index) {
                    push_value(out, &captures[index - 1]);
                } else {
                    out.extend_from_slice(&t[i..i + 1 + count]);
                }
                i += 1 + count;
            }
            0x3C => {
                let gt = named.and_then(|_| t[i + 2..].iter().position(|&c| c == b'>' as u16));
                match (named, gt) {
                    (Some(groups), Some(len)) => {
                        let name = &t[i + 2..i + 2 + len];
                        if let Some((_, v)) = groups.iter().find(|(k, _)| k.units() == name) {
                            push_value(out, v);
                        }
                        i += 3 + len;
                    }
                    _ => {
                        out.extend_from_slice(&t[i..i + 2]);
                        i += 2;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// The replacement value of `replace`/`replaceAll`: a function, or a template string.
enum Replacement {
    Func(Value),
    Template(JsStr),
}

impl Replacement {
    fn of(cx: &mut Cx, v: &Value) -> JsResult<Replacement> {
        Ok(if is_callable(cx, v) {
            Replacement::Func(v.clone())
        } else {
            Replacement::Template(ops::to_string(cx, v)?)
        })
    }
}

fn string_this(cx: &mut Cx, this: &Value) -> JsResult<JsStr> {
    match this {
        Value::Str(s) => Ok(s.clone()),
        v if v.is_nullish() => engine_error("String.prototype method called on null or undefined"),
        v => ops::to_string(cx, v),
    }
}

/// RegExp.prototype[@@replace] (ECMA-262 §22.2.6.11) for a pristine RegExp.
fn regexp_replace(
    cx: &mut Cx,
    o: Holder,
    d: &RegExpData,
    s: &JsStr,
    replace_value: &Value,
) -> JsResult<Value> {
    let rep = Replacement::of(cx, replace_value)?;
    replace_matches(cx, o, d, s, Lazy::Ready(rep))
}

/// A replacement, or the function literal that makes one when there is a match (`replace_literal_fn`).
enum Lazy<'a> {
    Ready(Replacement),
    Func(&'a mut dyn FnMut(&mut Cx) -> JsResult<Value>),
}

/// `regexp_replace` from the search on.
#[inline]
fn replace_matches(
    cx: &mut Cx,
    o: Holder,
    d: &RegExpData,
    s: &JsStr,
    rep: Lazy,
) -> JsResult<Value> {
    let u = s.units();
    // The groups are needed by a function, and by a template that can name them (with a `$`).
    let caps = !d.compiled.names.is_empty()
        && match &rep {
            Lazy::Ready(Replacement::Func(_)) | Lazy::Func(_) => true,
            Lazy::Ready(Replacement::Template(t)) => t.units().contains(&(b'$' as u16)),
        };
    let matches = if d.set.global {
        collect_all(cx, o, d, u, caps)?
    } else {
        builtin_exec(cx, o, d, u, caps)?.into_iter().collect()
    };
    if matches.is_empty() {
        return Ok(Value::Str(s.clone()));
    }
    let rep = match rep {
        Lazy::Ready(r) => r,
        Lazy::Func(make) => Replacement::Func(make(cx)?),
    };
    let mut out: Vec<u16> = Vec::with_capacity(u.len());
    let mut next = 0;
    // A replacer the compiler compiled is called by its code (`call_replacer`).
    let plain = match &rep {
        Replacement::Func(f) => crate::call::plain_code(cx, f),
        Replacement::Template(_) => None,
    };
    for m in &matches {
        cx.tick()?;
        let position = m.start();
        let matched = &u[m.range()];
        let caps = capture_values(cx, u, m)?;
        let mut built: Vec<u16> = Vec::new();
        let returned: JsStr;
        let replacement: &[u16] = match &rep {
            Replacement::Func(f) => {
                let first = cx.new_str_from(matched)?;
                let r = if caps.is_empty() && !d.compiled.named {
                    // A pattern without groups: the three arguments on the stack.
                    let args = [first, Value::Num(position as f64), Value::Str(s.clone())];
                    call_replacer(cx, f, plain, &args)?
                } else {
                    let mut args = Vec::with_capacity(caps.len() + 4);
                    args.push(first);
                    args.extend(caps.iter().cloned());
                    args.push(Value::Num(position as f64));
                    args.push(Value::Str(s.clone()));
                    if d.compiled.named {
                        args.push(groups_object(cx, d, &caps)?);
                    }
                    call_replacer(cx, f, plain, &args)?
                };
                // The result's units are appended as they are, with no copy of them in between.
                returned = match r {
                    Value::Str(r) => r,
                    r => ops::to_string(cx, &r)?,
                };
                returned.units()
            }
            Replacement::Template(t) => {
                let named: Option<Vec<(JsStr, Value)>> = if d.compiled.named {
                    Some(named_captures(&d.compiled.names, &caps))
                } else {
                    None
                };
                get_substitution(
                    &mut built,
                    matched,
                    u,
                    position,
                    &caps,
                    named.as_deref(),
                    t.units(),
                );
                &built
            }
        };
        if position >= next {
            out.extend_from_slice(&u[next..position]);
            out.extend_from_slice(replacement);
            next = position + matched.len();
        }
        cx.heap.charge(2 * replacement.len())?;
    }
    if next < u.len() {
        out.extend_from_slice(&u[next..]);
    }
    cx.new_str(out)
}

/// Calls `replace`'s replacer `f`: by its code (`plain`, from `call::plain_code`) when the compiler
/// compiled it, as a sort calls its comparator.
fn call_replacer(
    cx: &mut Cx,
    f: &Value,
    plain: Option<(ObjRef, crate::cx::Code)>,
    args: &[Value],
) -> JsResult<Value> {
    match plain {
        Some((o, code)) => crate::call::call_plain(cx, o, code, Value::Undefined, args),
        None => crate::call::call(cx, f, Value::Undefined, args),
    }
}

/// `replace` and `replaceAll` with a string pattern.
fn string_replace_str(
    cx: &mut Cx,
    s: &JsStr,
    search: &Value,
    replace_value: &Value,
    all: bool,
) -> JsResult<Value> {
    let search = ops::to_string(cx, search)?;
    let rep = Replacement::of(cx, replace_value)?;
    let (u, p) = (s.units(), search.units());
    cx.burn(u.len() as u64 + 1)?;
    let mut positions = Vec::new();
    let mut at = index_of(u, p, 0);
    while let Some(i) = at {
        positions.push(i);
        if !all {
            break;
        }
        at = index_of(u, p, i + p.len().max(1));
    }
    if positions.is_empty() {
        return Ok(Value::Str(s.clone()));
    }
    let mut out: Vec<u16> = Vec::with_capacity(u.len());
    let mut end = 0;
    let mut charged = 0;
    for &i in &positions {
        cx.tick()?;
        cx.heap.charge(2 * (out.len() - charged))?;
        charged = out.len();
        out.extend_from_slice(&u[end..i]);
        match &rep {
            Replacement::Func(f) => {
                let args = [
                    Value::Str(search.clone()),
                    Value::Num(i as f64),
                    Value::Str(s.clone()),
                ];
                let r = crate::call::call(cx, f, Value::Undefined, &args)?;
                out.extend_from_slice(ops::to_string(cx, &r)?.units());
            }
            Replacement::Template(t) => get_substitution(&mut out, p, u, i, &[], None, t.units()),
        }
        end = i + p.len();
    }
    if end < u.len() {
        out.extend_from_slice(&u[end..]);
    }
    cx.new_str(out)
}

/// The RegExp `v` if it is one, after checking that the generic algorithms would see the builtins.
fn pristine_regexp(cx: &Cx, v: &Value) -> JsResult<Option<(ObjRef, RegExpData)>> {
    match regexp_data(cx, v) {
        Some((o, d)) => {
            check_pristine(cx, o)?;
            Ok(Some((o, d)))
        }
        None => Ok(None),
    }
}

fn string_replace(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    if this.is_nullish() {
        return engine_error("String.prototype.replace called on null or undefined");
    }
    let (search, rv) = (arg(args, 0), arg(args, 1));
    if let Some((o, d)) = pristine_regexp(cx, &search)? {
        let s = string_this(cx, this)?;
        return regexp_replace(cx, Holder::Obj(o), &d, &s, &rv);
    }
    let s = string_this(cx, this)?;
    string_replace_str(cx, &s, &search, &rv, false)
}

fn string_replace_all(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    if this.is_nullish() {
        return engine_error("String.prototype.replaceAll called on null or undefined");
    }
    let (search, rv) = (arg(args, 0), arg(args, 1));
    if let Some((o, d)) = pristine_regexp(cx, &search)? {
        if !d.set.global {
            return engine_error("replaceAll must be called with a global RegExp");
        }
        let s = string_this(cx, this)?;
        return regexp_replace(cx, Holder::Obj(o), &d, &s, &rv);
    }
    let s = string_this(cx, this)?;
    string_replace_str(cx, &s, &search, &rv, true)
}

// ---------------------------------------------------------------------------------------------------
// match, matchAll, search, split
// ---------------------------------------------------------------------------------------------------

/// The regex a `match`/`search` argument denotes: itself if it is a RegExp, else RegExpCreate(v).
fn regexp_arg(cx: &mut Cx, this: &Value, v: &Value) -> JsResult<(JsStr, ObjRef, RegExpData)> {
    if let Some((o, d)) = pristine_regexp(cx, v)? {
        let s = string_this(cx, this)?;
        return Ok((s, o, d));
    }
    let s = string_this(cx, this)?;
    let p = if v.is_undefined() {
        JsStr::empty()
    } else {
        ops::to_string(cx, v)?
    };
    let r = regexp_create(cx, &p, &JsStr::empty())?;
    let (o, d) = regexp_data(cx, &r).expect("a RegExp");
    Ok((s, o, d))
}

fn string_match(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    if this.is_nullish() {
        return engine_error("String.prototype.match called on null or undefined");
    }
    let (s, o, d) = regexp_arg(cx, this, &arg(args, 0))?;
    string_match_with(cx, &s, Holder::Obj(o), &d)
}

/// `s.match(r)` once `r` is a RegExp whose methods are the builtins (its `lastIndex` in `o`).
fn string_match_with(cx: &mut Cx, s: &JsStr, o: Holder, d: &RegExpData) -> JsResult<Value> {
    if !d.set.global {
        return match builtin_exec(cx, o, d, s.units(), true)? {
            Some(m) => match_array(cx, d, s, &m),
            None => Ok(Value::Null),
        };
    }
    let matches = collect_all(cx, o, d, s.units(), false)?;
    if matches.is_empty() {
        return Ok(Value::Null);
    }
    let mut items = Vec::with_capacity(matches.len());
    for m in &matches {
        items.push(substr(cx, s.units(), m.range())?);
    }
    cx.new_array(items)
}

fn string_match_all(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    unsupported("String.prototype.matchAll (returns an iterator)")
}

fn string_search(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    if this.is_nullish() {
        return engine_error("String.prototype.search called on null or undefined");
    }
    let (s, o, d) = regexp_arg(cx, this, &arg(args, 0))?;
    // RegExp.prototype[@@search] (ECMA-262 §22.2.6.12): lastIndex is set to 0, the regex executed, and
    // lastIndex put back. No user code runs in between, so only the writes' failures can be observed:
    // we make none, and give up where V8's would throw.
    let previous = props::get(cx, &Value::Obj(o), LAST_INDEX)?;
    let writes = d.set.global || d.set.sticky || !ops::same_value(&previous, &Value::Num(0.0));
    if writes {
        let obj = cx.heap.get(o);
        if obj.frozen
            || !matches!(
                obj.props.get(LAST_INDEX),
                Some(Prop::Data { writable: true, .. })
            )
        {
            return engine_error("Cannot assign to read only property 'lastIndex'");
        }
    }
    check_subject(&d, s.units())?;
    let m = find_at(cx, &d, s.units(), 0, false)?;
    Ok(Value::Num(match m {
        Some(m) => m.start() as f64,
        None => -1.0,
    }))
}

fn string_split(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    if this.is_nullish() {
        return engine_error("String.prototype.split called on null or undefined");
    }
    let (sep, limit) = (arg(args, 0), arg(args, 1));
    if let Some((_, d)) = pristine_regexp(cx, &sep)? {
        let s = string_this(cx, this)?;
        return regexp_split(cx, &d, &s, &limit);
    }
    let s = string_this(cx, this)?;
    let lim = if limit.is_undefined() {
        u32::MAX
    } else {
        ops::f64_to_uint32(ops::to_number(cx, &limit)?)
    } as usize;
    let r = ops::to_string(cx, &sep)?;
    if lim == 0 {
        return cx.new_array(Vec::new());
    }
    if sep.is_undefined() {
        return cx.new_array(vec![Value::Str(s)]);
    }
    let (u, p) = (s.units(), r.units());
    cx.burn(u.len() as u64 + 1)?;
    if p.is_empty() {
        let n = lim.min(u.len());
        let mut items = Vec::with_capacity(n);
        for &c in &u[..n] {
            items.push(cx.new_str_from(&[c])?);
        }
        return cx.new_array(items);
    }
    if u.is_empty() {
        return cx.new_array(vec![Value::Str(s)]);
    }
    let mut j = index_of(u, p, 0);
    if j.is_none() {
        // No separator: the string itself, not a copy.
        return cx.new_array(vec![Value::Str(s)]);
    }
    let mut items = Vec::new();
    let mut i = 0;
    while let Some(at) = j {
        items.push(cx.new_str_from(&u[i..at])?);
        if items.len() >= lim {
            return cx.new_array(items);
        }
        i = at + p.len();
        j = index_of(u, p, i);
    }
    items.push(cx.new_str_from(&u[i..])?);
    cx.new_array(items)
}

/// RegExp.prototype[@@split] (ECMA-262 §22.2.6.14). The spec's splitter is a sticky copy tried at each
/// position q; searching forward from q finds the same matches, since each attempt at a position does
/// not depend on where the search started.
fn regexp_split(cx: &mut Cx, d: &RegExpData, s: &JsStr, limit: &Value) -> JsResult<Value> {
    let lim = if limit.is_undefined() {
        u32::MAX
    } else {
        ops::f64_to_uint32(ops::to_number(cx, limit)?)
    } as usize;
    if lim == 0 {
        return cx.new_array(Vec::new());
    }
    // The splitter never fails for a lack of `y`: make a non-sticky view of the same pattern.
    let d = RegExpData {
        set: FlagSet {
            sticky: false,
            ..d.set
        },
        ..d.clone()
    };
    let u = s.units();
    check_subject(&d, u)?;
    let size = u.len();
    if size == 0 {
        return match find_at(cx, &d, u, 0, true)? {
            Some(m) if m.start() == 0 => cx.new_array(Vec::new()),
            _ => cx.new_array(vec![Value::Str(s.clone())]),
        };
    }
    let mut items: Vec<Value> = Vec::new();
    let mut p = 0;
    let mut q = 0;
    while q < size {
        cx.tick()?;
        let Some(m) = find_at(cx, &d, u, q, true)? else {
            break;
        };
        if m.start() >= size {
            break;
        }
        let e = m.end().min(size);
        if e == p {
            q = advance(u, m.start(), d.set.unicode);
            continue;
        }
        items.push(cx.new_str_from(&u[p..m.start()])?);
        if items.len() == lim {
            return cx.new_array(items);
        }
        p = e;
        for c in &m.captures {
            items.push(match c {
                Some(r) => substr(cx, u, r.clone())?,
                None => Value::Undefined,
            });
            if items.len() == lim {
                return cx.new_array(items);
            }
        }
        q = p;
    }
    items.push(cx.new_str_from(&u[p..])?);
    cx.new_array(items)
}

/// The realm's RegExp.prototype.
fn regexp_proto(cx: &Cx) -> ObjRef {
    cx.realm
        .regexp_proto
        .expect("RegExp.prototype is installed")
}

#[cfg(test)]
mod tests;
