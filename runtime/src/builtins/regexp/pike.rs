//! A regex engine that does not backtrack, for the patterns on which it gives exactly the answers of a
//! backtracking ECMAScript engine (V8's): a Pike VM (an NFA simulated over all its states at once, each
//! thread carrying its captures) with leftmost-first priority.
//!
//! Threads are kept in the order a backtracker would try them; two threads reaching the same
//! instruction at the same position have the same future, so only the first (higher-priority) one is
//! kept, and once a thread matches the lower-priority ones are dropped. That gives the backtracker's
//! first match and its captures as long as a thread's future depends only on where it is, which holds
//! for the grammar `Prog::compile` accepts:
//!
//! - no backreferences and no lookaround (they read captures or run sub-matches);
//! - counted quantifiers are unrolled into copies (no counters);
//! - a quantifier whose body can match the empty string has no optional iterations (ECMAScript rejects
//!   an optional iteration that matched empty, which depends on where the iteration began);
//! - captures inside a quantified group are reset at the start of every iteration, as in the spec's
//!   RepeatMatcher.
//!
//! Everything else (and `i` with `u`, whose simple case folding is not modelled here) stays on regress,
//! chosen per pattern when it is compiled. Matching is on UTF-16 code units, or code points with `u`;
//! the case-insensitive comparison without `u` is ECMAScript's Canonicalize (§22.2.2.7.3), whose table
//! the differential tests compare with Node's over every BMP character.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::OnceLock;

mod dfa;

/// The most instructions a program may have; larger ones (big counted repeats) stay on regress.
const MAX_INSTS: usize = 2000;
/// The most thread steps one search may take before it is handed to regress (with its cost bound).
pub const MAX_WORK: f64 = 2e8;
const NONE: usize = usize::MAX;

/// A match: the whole range and each group's (None where the group did not participate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub range: Range<usize>,
    pub captures: Vec<Option<Range<usize>>>,
}

impl Found {
    pub fn start(&self) -> usize {
        self.range.start
    }
    pub fn end(&self) -> usize {
        self.range.end
    }
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }
}

impl From<regress::Match> for Found {
    fn from(m: regress::Match) -> Found {
        Found {
            range: m.range,
            captures: m.captures,
        }
    }
}

/// A set of characters: sorted inclusive ranges, possibly negated.
#[derive(Clone, Debug)]
struct Class {
    ranges: Vec<(u32, u32)>,
    negated: bool,
    /// Whether each ASCII character matches (case folding and negation applied).
    ascii: u128,
}

#[derive(Clone, Debug)]
enum Node {
    Char(u32),
    Class(Class),
    /// `.`
    Any,
    /// `^`, `$`, `\b` (true) and `\B` (false).
    Start,
    End,
    Word(bool),
    /// A capturing group (its index from 1) or a non-capturing one.
    Group(Option<usize>, Box<Node>),
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        min: u32,
        max: Option<u32>,
        greedy: bool,
        body: Box<Node>,
        /// The capturing groups inside the body (indices from 1), reset on each iteration.
        groups: Range<usize>,
    },
}

#[derive(Clone, Copy, Debug)]
enum Inst {
    Char(u32),
    /// A character whose Canonicalize is the given one.
    Fold(u32),
    Class(u32),
    Any,
    AnyNoLt,
    /// Try the first target, then the second.
    Split(u32, u32),
    Jmp(u32),
    Save(u32),
    /// Slots lo..hi become unset.
    Reset(u32, u32),
    Start,
    End,
    Word(bool),
    Match,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    pub ignore_case: bool,
    pub multiline: bool,
    pub dot_all: bool,
    pub unicode: bool,
}

/// A compiled program.
#[derive(Debug)]
pub struct Prog {
    insts: Vec<Inst>,
    classes: Vec<Class>,
    /// Two per group, group 0 being the whole match.
    nslots: usize,
    flags: Flags,
    /// Every match begins with `^` (not multiline): one attempt, at the start.
    anchored: bool,
    /// The code units a match can begin with (ASCII bitmap, and whether any non-ASCII unit can), when
    /// the pattern cannot match empty.
    first: Option<(u128, bool)>,
    /// `first`'s ASCII bitmap as one flag per unit, which the scan for a start reads with one load.
    first_ascii: [bool; 128],
    /// Thread lists kept between searches: with all captures, and with the match's bounds only.
    cache: [RefCell<Option<Cache>>; 2],
    /// The states of the lazy DFA that searches for bounds only, kept between searches.
    dfa: RefCell<dfa::Dfa>,
    /// The one character a match is (`/[&<>"]/g`, `/\s/`, `/x/i` without the `u` flag): the instruction that
    /// consumes it, when the whole program is that instruction between the bounds' saves.
    single: Option<Inst>,
}

// ---------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------

struct Parser<'a> {
    p: &'a [u16],
    i: usize,
    flags: Flags,
    groups: usize,
}

fn is_syntax(c: u16) -> bool {
    matches!(
        c,
        0x5E | 0x24
            | 0x5C
            | 0x2E
            | 0x2A
            | 0x2B
            | 0x3F
            | 0x28
            | 0x29
            | 0x5B
            | 0x5D
            | 0x7B
            | 0x7D
            | 0x7C
    )
}

const DIGITS: &[(u32, u32)] = &[(0x30, 0x39)];
const WORD: &[(u32, u32)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];
/// WhiteSpace and LineTerminator (ECMA-262 §12.2, §12.3): `\s`.
const SPACE: &[(u32, u32)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
];

fn complement(r: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in r {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi + 1;
    }
    if next <= 0x10FFFF {
        out.push((next, 0x10FFFF));
    }
    out
}

/// `\d`, `\D`, `\s`, `\S`, `\w`, `\W`.
fn class_escape(c: u16) -> Option<Vec<(u32, u32)>> {
    if c >= 0x80 {
        return None;
    }
    Some(match c as u8 {
        b'd' => DIGITS.to_vec(),
        b'D' => complement(DIGITS),
        b's' => SPACE.to_vec(),
        b'S' => complement(SPACE),
        b'w' => WORD.to_vec(),
        b'W' => complement(WORD),
        _ => return None,
    })
}

fn hex(p: &[u16], at: usize, n: usize) -> Option<u32> {
    let digits = p.get(at..at + n)?;
    let mut v = 0;
    for &d in digits {
        v = v * 16
            + (d < 0x80)
                .then(|| (d as u8 as char).to_digit(16))
                .flatten()?;
    }
    Some(v)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u16> {
        self.p.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c as u16) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn disjunction(&mut self) -> Option<Node> {
        let mut alts = vec![self.alternative()?];
        while self.eat(b'|') {
            alts.push(self.alternative()?);
        }
        Some(if alts.len() == 1 {
            alts.pop().unwrap()
        } else {
            Node::Alt(alts)
        })
    }

    fn alternative(&mut self) -> Option<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' as u16 || c == b')' as u16 {
                break;
            }
            let groups_before = self.groups;
            let (atom, assertion) = self.term()?;
            if let Some((min, max, greedy)) = self.quantifier()? {
                if assertion {
                    return None;
                }
                items.push(Node::Repeat {
                    min,
                    max,
                    greedy,
                    body: Box::new(atom),
                    groups: groups_before + 1..self.groups + 1,
                });
            } else {
                items.push(atom);
            }
        }
        Some(Node::Cat(items))
    }

    /// A quantifier at the cursor, if any: (min, max, greedy). None (give up) for a `{` that is not one.
    fn quantifier(&mut self) -> Option<Option<(u32, Option<u32>, bool)>> {
        let (min, max) = match self.peek() {
            Some(0x2A) => (0, None),
            Some(0x2B) => (1, None),
            Some(0x3F) => (0, Some(1)),
            Some(0x7B) => {
                let mut j = self.i + 1;
                let num = |j: &mut usize| -> Option<u32> {
                    let s = *j;
                    let mut v: u32 = 0;
                    while let Some(&d) = self.p.get(*j) {
                        if !(0x30..=0x39).contains(&d) {
                            break;
                        }
                        v = v.checked_mul(10)?.checked_add((d - 0x30) as u32)?;
                        *j += 1;
                    }
                    (*j > s && v <= 1000).then_some(v)
                };
                let min = num(&mut j)?;
                let max = if self.p.get(j) == Some(&0x2C) {
                    j += 1;
                    if self.p.get(j) == Some(&0x7D) {
                        None
                    } else {
                        Some(num(&mut j)?)
                    }
                } else {
                    Some(min)
                };
                if self.p.get(j) != Some(&0x7D) || max.is_some_and(|m| m < min) {
                    return None;
                }
                self.i = j;
                (min, max)
            }
            _ => return Some(None),
        };
        self.i += 1;
        let greedy = !self.eat(b'?');
        Some(Some((min, max, greedy)))
    }

    /// One term: (node, whether it is an assertion).
    fn term(&mut self) -> Option<(Node, bool)> {
        let c = self.peek()?;
        self.i += 1;
        let node = match c {
            0x5E => return Some((Node::Start, true)),
            0x24 => return Some((Node::End, true)),
            0x2E => Node::Any,
            0x28 => {
                let capture = if self.eat(b'?') {
                    if self.eat(b':') {
                        None
                    } else if self.peek() == Some(b'<' as u16)
                        && !matches!(self.p.get(self.i + 1), Some(&0x3D) | Some(&0x21))
                    {
                        let len = self.p[self.i..].iter().position(|&c| c == b'>' as u16)?;
                        self.i += len + 1;
                        self.groups += 1;
                        Some(self.groups)
                    } else {
                        return None;
                    }
                } else {
                    self.groups += 1;
                    Some(self.groups)
                };
                let inner = self.disjunction()?;
                if !self.eat(b')') {
                    return None;
                }
                Node::Group(capture, Box::new(inner))
            }
            0x5B => Node::Class(self.class()?),
            0x5C => {
                let e = self.peek()?;
                match e {
                    0x62 => {
                        self.i += 1;
                        return Some((Node::Word(true), true));
                    }
                    // With `u`, V8 can match `\B` between the halves of a surrogate pair.
                    0x42 if !self.flags.unicode => {
                        self.i += 1;
                        return Some((Node::Word(false), true));
                    }
                    _ => {}
                }
                if let Some(r) = class_escape(e) {
                    self.i += 1;
                    Node::Class(Class {
                        ranges: r,
                        negated: false,
                        ascii: 0,
                    })
                } else {
                    Node::Char(self.char_escape(false)?)
                }
            }
            _ if is_syntax(c) => return None,
            _ => Node::Char(c as u32),
        };
        Some((node, false))
    }

    /// The character of an escape (the cursor after the backslash); None for escapes not modelled.
    fn char_escape(&mut self, in_class: bool) -> Option<u32> {
        let e = self.peek()?;
        self.i += 1;
        let v = match e {
            0x74 => 9,
            0x6E => 10,
            0x76 => 11,
            0x66 => 12,
            0x72 => 13,
            0x30 if !self.peek().is_some_and(|d| (0x30..=0x39).contains(&d)) => 0,
            0x62 if in_class => 8,
            0x2D if in_class || !self.flags.unicode => 0x2D,
            0x78 => {
                let v = hex(self.p, self.i, 2)?;
                self.i += 2;
                v
            }
            0x75 => {
                let v = hex(self.p, self.i, 4)?;
                self.i += 4;
                if (0xD800..0xE000).contains(&v) {
                    return None;
                }
                v
            }
            0x63 => {
                let l = self
                    .peek()
                    .filter(|&l| (l as u8 as char).is_ascii_alphabetic() && l < 0x80)?;
                self.i += 1;
                (l % 32) as u32
            }
            0x2F => 0x2F,
            _ if is_syntax(e) => e as u32,
            _ => return None,
        };
        Some(v)
    }

    fn class(&mut self) -> Option<Class> {
        let negated = self.eat(b'^');
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        loop {
            let c = self.peek()?;
            if c == b']' as u16 {
                self.i += 1;
                break;
            }
            let lo = self.class_atom()?;
            if self.peek() == Some(b'-' as u16) && self.p.get(self.i + 1) != Some(&(b']' as u16)) {
                self.i += 1;
                let hi = self.class_atom()?;
                match (lo, hi) {
                    (Ok(a), Ok(b)) if a <= b => ranges.push((a, b)),
                    _ => return None,
                }
                continue;
            }
            match lo {
                Ok(a) => ranges.push((a, a)),
                Err(set) => ranges.extend(set),
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Some(Class {
            ranges: merged,
            negated,
            ascii: 0,
        })
    }

    /// A character (Ok) or a class escape's set (Err) inside a class.
    #[allow(clippy::type_complexity)]
    fn class_atom(&mut self) -> Option<Result<u32, Vec<(u32, u32)>>> {
        let c = self.peek()?;
        self.i += 1;
        if c != b'\\' as u16 {
            return Some(Ok(c as u32));
        }
        let e = self.peek()?;
        if let Some(r) = class_escape(e) {
            self.i += 1;
            return Some(Err(r));
        }
        self.char_escape(true).map(Ok)
    }
}

// ---------------------------------------------------------------------------------------------------
// Case folding without `u`: Canonicalize (ECMA-262 §22.2.2.7.3)
// ---------------------------------------------------------------------------------------------------

struct Fold {
    canon: Vec<u16>,
    /// The characters with each Canonicalize value: `members[start[k]..start[k + 1]]`.
    start: Vec<u32>,
    members: Vec<u16>,
}

fn fold() -> &'static Fold {
    static FOLD: OnceLock<Fold> = OnceLock::new();
    FOLD.get_or_init(|| {
        let canon: Vec<u16> = (0..=0xFFFFu32).map(canonicalize_slow).collect();
        let mut count = vec![0u32; 0x10001];
        for &k in &canon {
            count[k as usize + 1] += 1;
        }
        for i in 1..count.len() {
            count[i] += count[i - 1];
        }
        let start = count.clone();
        let mut fill = count;
        let mut members = vec![0u16; 0x10000];
        for (c, &k) in canon.iter().enumerate() {
            members[fill[k as usize] as usize] = c as u16;
            fill[k as usize] += 1;
        }
        Fold {
            canon,
            start,
            members,
        }
    })
}

/// Canonicalize(rer, ch) without `u`: the single code unit toUppercase gives, unless it is several or
/// would map a non-ASCII character to ASCII.
fn canonicalize_slow(c: u32) -> u16 {
    let Some(ch) = char::from_u32(c) else {
        return c as u16;
    };
    let mut up = ch.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) if (u as u32) < 0x10000 && !(c >= 128 && (u as u32) < 128) => u as u16,
        _ => c as u16,
    }
}

/// Canonicalize of a code unit (without `u`).
pub fn canonicalize(c: u16) -> u16 {
    fold().canon[c as usize]
}

// ---------------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------------

/// Whether `node` can match the empty string.
fn nullable(node: &Node) -> bool {
    match node {
        Node::Char(_) | Node::Class(_) | Node::Any => false,
        Node::Start | Node::End | Node::Word(_) => true,
        Node::Group(_, n) => nullable(n),
        Node::Cat(items) => items.iter().all(nullable),
        Node::Alt(items) => items.iter().any(nullable),
        Node::Repeat { min, body, .. } => *min == 0 || nullable(body),
    }
}

struct Compiler<'a> {
    insts: Vec<Inst>,
    classes: Vec<Class>,
    flags: &'a Flags,
}

impl Class {
    fn contains(&self, c: u32) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }

    /// Whether the class matches `c` (CharacterSetMatcher, §22.2.2.7.2).
    fn matches_slow(&self, c: u32, icase: bool) -> bool {
        let found = if icase && c < 0x10000 {
            let f = fold();
            let k = f.canon[c as usize] as usize;
            f.members[f.start[k] as usize..f.start[k + 1] as usize]
                .iter()
                .any(|&m| self.contains(m as u32))
        } else {
            self.contains(c)
        };
        found != self.negated
    }

    #[inline]
    fn matches(&self, c: u32, icase: bool) -> bool {
        if c < 128 {
            self.ascii >> c & 1 == 1
        } else {
            self.matches_slow(c, icase)
        }
    }
}

impl Compiler<'_> {
    fn emit(&mut self, i: Inst) -> Option<u32> {
        if self.insts.len() >= MAX_INSTS {
            return None;
        }
        self.insts.push(i);
        Some(self.insts.len() as u32 - 1)
    }

    fn pc(&self) -> u32 {
        self.insts.len() as u32
    }

    fn node(&mut self, n: &Node) -> Option<()> {
        match n {
            Node::Char(c) => {
                let inst = if self.flags.ignore_case {
                    Inst::Fold(canonicalize(*c as u16) as u32)
                } else {
                    Inst::Char(*c)
                };
                self.emit(inst)?;
            }
            Node::Class(cl) => {
                let mut cl = cl.clone();
                cl.ascii = (0..128u32)
                    .filter(|&c| cl.matches_slow(c, self.flags.ignore_case))
                    .fold(0u128, |a, c| a | 1 << c);
                self.classes.push(cl);
                self.emit(Inst::Class(self.classes.len() as u32 - 1))?;
            }
            Node::Any => {
                self.emit(if self.flags.dot_all {
                    Inst::Any
                } else {
                    Inst::AnyNoLt
                })?;
            }
            Node::Start => {
                self.emit(Inst::Start)?;
            }
            Node::End => {
                self.emit(Inst::End)?;
            }
            Node::Word(b) => {
                self.emit(Inst::Word(*b))?;
            }
            Node::Group(None, inner) => self.node(inner)?,
            Node::Group(Some(k), inner) => {
                self.emit(Inst::Save(2 * *k as u32))?;
                self.node(inner)?;
                self.emit(Inst::Save(2 * *k as u32 + 1))?;
            }
            Node::Cat(items) => {
                for it in items {
                    self.node(it)?;
                }
            }
            Node::Alt(items) => {
                let mut jumps = Vec::new();
                for (k, it) in items.iter().enumerate() {
                    if k + 1 < items.len() {
                        let split = self.emit(Inst::Split(0, 0))?;
                        self.node(it)?;
                        jumps.push(self.emit(Inst::Jmp(0))?);
                        let next = self.pc();
                        self.insts[split as usize] = Inst::Split(split + 1, next);
                    } else {
                        self.node(it)?;
                    }
                }
                let end = self.pc();
                for j in jumps {
                    self.insts[j as usize] = Inst::Jmp(end);
                }
            }
            Node::Repeat {
                min,
                max,
                greedy,
                body,
                groups,
            } => {
                // An optional iteration that matched empty is rejected (RepeatMatcher step 2.a), which
                // depends on where the iteration began: such loops stay on the backtracker.
                if max.is_none_or(|m| m > *min) && nullable(body) {
                    return None;
                }
                let reset = |c: &mut Self| -> Option<()> {
                    if !groups.is_empty() {
                        c.emit(Inst::Reset(2 * groups.start as u32, 2 * groups.end as u32))?;
                    }
                    Some(())
                };
                for _ in 0..*min {
                    reset(self)?;
                    self.node(body)?;
                }
                let split = |body: u32, exit: u32| {
                    if *greedy {
                        Inst::Split(body, exit)
                    } else {
                        Inst::Split(exit, body)
                    }
                };
                match max {
                    None => {
                        let l = self.emit(Inst::Split(0, 0))?;
                        reset(self)?;
                        self.node(body)?;
                        self.emit(Inst::Jmp(l))?;
                        let exit = self.pc();
                        self.insts[l as usize] = split(l + 1, exit);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.emit(Inst::Split(0, 0))?);
                            reset(self)?;
                            self.node(body)?;
                        }
                        let exit = self.pc();
                        for s in splits {
                            self.insts[s as usize] = split(s + 1, exit);
                        }
                    }
                }
            }
        }
        Some(())
    }
}

/// The code units a match of `n` can begin with (ASCII bitmap, any non-ASCII), and whether `n` can
/// match empty (then what follows can begin the match too).
fn first_units(n: &Node, flags: &Flags, out: &mut (u128, bool)) -> bool {
    match n {
        Node::Char(c) => {
            let c = *c;
            if flags.ignore_case && c < 0x10000 {
                let f = fold();
                let k = f.canon[c as usize] as usize;
                for &m in &f.members[f.start[k] as usize..f.start[k + 1] as usize] {
                    if m < 128 {
                        out.0 |= 1 << m;
                    } else {
                        out.1 = true;
                    }
                }
            } else if c < 128 {
                out.0 |= 1 << c;
            } else {
                out.1 = true;
            }
            false
        }
        Node::Class(cl) => {
            out.0 |= (0..128u32)
                .filter(|&c| cl.matches_slow(c, flags.ignore_case))
                .fold(0u128, |a, c| a | 1 << c);
            out.1 |= cl.negated || cl.ranges.iter().any(|&(_, hi)| hi >= 128) || flags.ignore_case;
            false
        }
        Node::Any => {
            out.0 = u128::MAX;
            out.1 = true;
            false
        }
        Node::Start | Node::End | Node::Word(_) => true,
        Node::Group(_, inner) => first_units(inner, flags, out),
        Node::Cat(items) => items.iter().all(|it| first_units(it, flags, out)),
        Node::Alt(items) => items
            .iter()
            .fold(false, |acc, it| first_units(it, flags, out) | acc),
        Node::Repeat { min, body, .. } => first_units(body, flags, out) || *min == 0,
    }
}

impl Prog {
    /// The program for `pattern` (UTF-16 units of a pattern regress accepted and the checks of `compile`
    /// passed), or None when it uses what this engine does not reproduce.
    pub fn compile(pattern: &[u16], flags: Flags, groups: usize) -> Option<Prog> {
        if flags.ignore_case && flags.unicode {
            return None;
        }
        let mut p = Parser {
            p: pattern,
            i: 0,
            flags,
            groups: 0,
        };
        let root = p.disjunction()?;
        if p.i != pattern.len() || p.groups != groups {
            return None;
        }
        let mut c = Compiler {
            insts: Vec::new(),
            classes: Vec::new(),
            flags: &flags,
        };
        c.emit(Inst::Save(0))?;
        c.node(&root)?;
        c.emit(Inst::Save(1))?;
        c.emit(Inst::Match)?;
        let anchored = !flags.multiline
            && matches!(&root, Node::Cat(items) if matches!(items.first(), Some(Node::Start)));
        let mut first = (0u128, false);
        let first = (!first_units(&root, &flags, &mut first)).then_some(first);
        let single = match c.insts[..] {
            [Inst::Save(0), x @ (Inst::Char(_) | Inst::Fold(_) | Inst::Class(_) | Inst::Any | Inst::AnyNoLt), Inst::Save(1), Inst::Match]
                if !flags.unicode && groups == 0 =>
            {
                Some(x)
            }
            _ => None,
        };
        Some(Prog {
            single,
            insts: c.insts,
            classes: c.classes,
            nslots: 2 * (groups + 1),
            flags,
            anchored,
            first,
            first_ascii: std::array::from_fn(|c| first.is_some_and(|(a, _)| a >> c & 1 == 1)),
            cache: [RefCell::new(None), RefCell::new(None)],
            dfa: RefCell::new(dfa::Dfa::default()),
        })
    }

    /// Whether a search of `n` units is cheap enough to run here.
    pub fn affordable(&self, n: usize) -> bool {
        (n as f64 + 1.0) * self.insts.len() as f64 <= MAX_WORK
    }

    /// The first match at or after `from` (only at `from` when `sticky`), with the captures when `caps`;
    /// and how many positions the search went through.
    pub fn exec(&self, s: &[u16], from: usize, sticky: bool, caps: bool) -> (Option<Found>, usize) {
        if let Some(x) = self.single {
            return self.exec_single(x, s, from, sticky || self.anchored);
        }
        // The lazy DFA finds the bounds, unless it hands the search back.
        let dfa = {
            let mut d = self.dfa.borrow_mut();
            let r = self.dfa_find(&mut d, s, from, sticky || self.anchored);
            if r.is_none() {
                d.reset_if_full();
            }
            r
        };
        match dfa {
            Some((None, steps)) => (None, steps),
            Some((Some((a, b)), steps)) if !caps => (
                Some(Found {
                    range: a..b,
                    captures: vec![None; self.nslots / 2 - 1],
                }),
                steps,
            ),
            // The captures: the Pike VM runs only at the match's start, which the DFA found as the Pike VM
            // would have (the leftmost start; there, the match of highest priority is the one a search
            // from `from` gives), rather than over everything before it.
            Some((Some((a, _)), steps)) => {
                let (found, more) = self.exec_pike(s, a, true, true);
                (found, steps + more)
            }
            None => self.exec_pike(s, from, sticky, caps),
        }
    }

    /// `exec` of a program that matches one character `x` (see `single`): the first unit at or after
    /// `from` (only at `from` when `one_start`) that `x` accepts, each unit a character without the `u` flag.
    /// The units a match can begin with (`first_ascii`) rule most units out with one load.
    fn exec_single(
        &self,
        x: Inst,
        s: &[u16],
        from: usize,
        one_start: bool,
    ) -> (Option<Found>, usize) {
        let accepts = |c: u16| -> bool {
            if let Some(&false) = self.first_ascii.get(c as usize) {
                if self.first.is_some() {
                    return false;
                }
            }
            let c = c as u32;
            match x {
                Inst::Char(k) => c == k,
                Inst::Fold(k) => canonicalize(c as u16) as u32 == k,
                Inst::Class(i) => self.classes[i as usize].matches(c, self.flags.ignore_case),
                Inst::Any => true,
                Inst::AnyNoLt => !is_line_terminator(c),
                _ => unreachable!("not a consuming instruction"),
            }
        };
        let end = if one_start {
            (from + 1).min(s.len())
        } else {
            s.len()
        };
        let found = (from.min(end)..end).find(|&p| accepts(s[p]));
        let steps = found.map_or(end, |p| p + 1).saturating_sub(from);
        let found = found.map(|p| Found {
            range: p..p + 1,
            captures: Vec::new(),
        });
        (found, steps)
    }

    /// Whether searches take `exec_single`, for the tests that hold it to the Pike VM.
    #[cfg(test)]
    pub fn is_single(&self) -> bool {
        self.single.is_some()
    }

    /// `exec` by the Pike VM alone, for the tests that hold the DFA to it.
    #[cfg(test)]
    pub fn exec_pike_only(
        &self,
        s: &[u16],
        from: usize,
        sticky: bool,
        caps: bool,
    ) -> Option<Found> {
        self.exec_pike(s, from, sticky, caps).0
    }

    /// `exec` by the Pike VM.
    fn exec_pike(
        &self,
        s: &[u16],
        from: usize,
        sticky: bool,
        caps: bool,
    ) -> (Option<Found>, usize) {
        let n = if caps { self.nslots } else { 2 };
        let mut cache = self.cache[caps as usize].borrow_mut();
        let cache = cache.get_or_insert_with(|| Cache::new(self.insts.len(), n));
        let (found, steps) = self.run(cache, s, from, sticky || self.anchored);
        let found = found.map(|slots| Found {
            range: slots[0]..slots[1],
            captures: (1..self.nslots / 2)
                .map(|k| match slots.get(2 * k..2 * k + 2) {
                    Some(&[a, b]) if a != NONE && b != NONE => Some(a..b),
                    _ => None,
                })
                .collect(),
        });
        (found, steps)
    }

    /// The first position at or after `pos` where a match can begin, by the units it can begin with
    /// (`first`); `s.len()` when there is none.
    #[inline]
    fn next_start(&self, s: &[u16], mut pos: usize) -> usize {
        if let Some((_, non_ascii)) = self.first {
            for &c in &s[pos.min(s.len())..] {
                if match self.first_ascii.get(c as usize) {
                    Some(&yes) => yes,
                    None => non_ascii,
                } {
                    break;
                }
                pos += 1;
            }
        }
        pos
    }

    #[inline]
    fn char_at(&self, s: &[u16], pos: usize) -> (u32, usize) {
        let c = s[pos];
        if self.flags.unicode && (0xD800..0xDC00).contains(&c) {
            if let Some(&t) = s.get(pos + 1) {
                if (0xDC00..0xE000).contains(&t) {
                    return (
                        0x10000 + (((c as u32) - 0xD800) << 10) + (t as u32 - 0xDC00),
                        2,
                    );
                }
            }
        }
        (c as u32, 1)
    }

    fn run(
        &self,
        cache: &mut Cache,
        s: &[u16],
        from: usize,
        one_start: bool,
    ) -> (Option<Vec<usize>>, usize) {
        let Cache {
            clist,
            nlist,
            stack,
            scratch,
            n,
        } = cache;
        let n = *n;
        clist.clear();
        nlist.clear();
        let mut matched: Option<Vec<usize>> = None;
        let mut pos = from;
        let len = s.len();
        let mut steps = 0;
        loop {
            if matched.is_none() && (pos == from || !one_start) {
                if clist.is_empty() && !one_start {
                    // No thread is left: the instructions the last step visited here (all failed) are
                    // forgotten, since the skip below may move on to another position, where they could
                    // succeed (they once hid a match that began right after a skipped character).
                    clist.clear();
                    if self.first.is_some() {
                        pos = self.next_start(s, pos);
                        if pos >= len {
                            break;
                        }
                    }
                }
                scratch.iter_mut().for_each(|x| *x = NONE);
                self.add(clist, stack, scratch, 0, pos, s);
            }
            if clist.is_empty() {
                if matched.is_some() || one_start || pos >= len {
                    break;
                }
                pos += self.char_at(s, pos).1;
                // The failed start visited instructions at the old position.
                clist.clear();
                continue;
            }
            steps += clist.dense.len();
            let (c, clen) = if pos < len {
                self.char_at(s, pos)
            } else {
                (u32::MAX, 0)
            };
            for k in 0..clist.dense.len() {
                let pc = clist.dense[k] as usize;
                let ok = match self.insts[pc] {
                    Inst::Match => {
                        matched = Some(clist.slots(pc, n).to_vec());
                        break;
                    }
                    _ if pos >= len => false,
                    Inst::Char(x) => c == x,
                    Inst::Fold(k) => c < 0x10000 && canonicalize(c as u16) as u32 == k,
                    Inst::Class(i) => self.classes[i as usize].matches(c, self.flags.ignore_case),
                    Inst::Any => true,
                    Inst::AnyNoLt => !is_line_terminator(c),
                    _ => unreachable!("only consuming instructions are threads"),
                };
                if ok {
                    scratch.copy_from_slice(clist.slots(pc, n));
                    self.add(nlist, stack, scratch, pc + 1, pos + clen, s);
                }
            }
            std::mem::swap(clist, nlist);
            nlist.clear();
            if pos >= len {
                break;
            }
            pos += clen;
        }
        (matched, steps + pos.saturating_sub(from))
    }

    /// Adds the thread at `pc` to `list`, following the instructions that consume nothing in priority
    /// order; `slots` holds its captures (restored on return).
    fn add(
        &self,
        list: &mut Threads,
        stack: &mut Vec<Frame>,
        slots: &mut [usize],
        pc: usize,
        pos: usize,
        s: &[u16],
    ) {
        let n = slots.len();
        stack.push(Frame::Explore(pc as u32));
        while let Some(f) = stack.pop() {
            let pc = match f {
                Frame::Restore(slot, v) => {
                    slots[slot as usize] = v;
                    continue;
                }
                Frame::Explore(pc) => pc as usize,
            };
            if !list.insert(pc) {
                continue;
            }
            match self.insts[pc] {
                Inst::Jmp(t) => stack.push(Frame::Explore(t)),
                Inst::Split(a, b) => {
                    stack.push(Frame::Explore(b));
                    stack.push(Frame::Explore(a));
                }
                Inst::Save(k) => {
                    let k = k as usize;
                    if k < n {
                        stack.push(Frame::Restore(k as u32, slots[k]));
                        slots[k] = pos;
                    }
                    stack.push(Frame::Explore(pc as u32 + 1));
                }
                Inst::Reset(lo, hi) => {
                    let (lo, hi) = (lo as usize, (hi as usize).min(n));
                    for (k, slot) in slots.iter_mut().enumerate().take(hi).skip(lo) {
                        stack.push(Frame::Restore(k as u32, *slot));
                        *slot = NONE;
                    }
                    stack.push(Frame::Explore(pc as u32 + 1));
                }
                Inst::Start => {
                    if pos == 0 || (self.flags.multiline && is_line_terminator(s[pos - 1] as u32)) {
                        stack.push(Frame::Explore(pc as u32 + 1));
                    }
                }
                Inst::End => {
                    if pos == s.len() || (self.flags.multiline && is_line_terminator(s[pos] as u32))
                    {
                        stack.push(Frame::Explore(pc as u32 + 1));
                    }
                }
                Inst::Word(want) => {
                    let a = pos > 0 && is_word(s[pos - 1]);
                    let b = pos < s.len() && is_word(s[pos]);
                    if (a != b) == want {
                        stack.push(Frame::Explore(pc as u32 + 1));
                    }
                }
                _ => {
                    list.keep(pc, slots);
                }
            }
        }
    }
}

fn is_line_terminator(c: u32) -> bool {
    matches!(c, 0x0A | 0x0D | 0x2028 | 0x2029)
}

fn is_word(c: u16) -> bool {
    c < 128 && (c as u8 == b'_' || (c as u8).is_ascii_alphanumeric())
}

// ---------------------------------------------------------------------------------------------------
// Thread lists
// ---------------------------------------------------------------------------------------------------

#[derive(Debug)]
enum Frame {
    Explore(u32),
    Restore(u32, usize),
}

/// The threads at one position: instructions in priority order (a sparse set), the captures of each.
#[derive(Debug)]
struct Threads {
    dense: Vec<u32>,
    /// Whether each instruction was visited at this position (consuming or not).
    visited: Vec<u32>,
    generation: u32,
    slots: Vec<usize>,
}

impl Threads {
    fn new(insts: usize, n: usize) -> Threads {
        Threads {
            dense: Vec::with_capacity(insts),
            visited: vec![0; insts],
            generation: 1,
            slots: vec![NONE; insts * n],
        }
    }

    fn clear(&mut self) {
        self.dense.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.visited.iter_mut().for_each(|v| *v = 0);
            self.generation = 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.dense.is_empty()
    }

    /// Marks `pc` visited; false if it already was.
    fn insert(&mut self, pc: usize) -> bool {
        if self.visited[pc] == self.generation {
            return false;
        }
        self.visited[pc] = self.generation;
        true
    }

    fn keep(&mut self, pc: usize, slots: &[usize]) {
        self.dense.push(pc as u32);
        let n = slots.len();
        self.slots[pc * n..pc * n + n].copy_from_slice(slots);
    }

    fn slots(&self, pc: usize, n: usize) -> &[usize] {
        &self.slots[pc * n..pc * n + n]
    }
}

#[derive(Debug)]
struct Cache {
    clist: Threads,
    nlist: Threads,
    stack: Vec<Frame>,
    scratch: Vec<usize>,
    n: usize,
}

impl Cache {
    fn new(insts: usize, n: usize) -> Cache {
        Cache {
            clist: Threads::new(insts, n),
            nlist: Threads::new(insts, n),
            stack: Vec::new(),
            scratch: vec![NONE; n],
            n,
        }
    }
}
