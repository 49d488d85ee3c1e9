//! An upper bound on the work of one regress match attempt, checked before the attempt runs.
//!
//! regress's backtracker cannot be interrupted: a pattern such as `/^(a+)+$/` on 36 `a` and a `!` would keep
//! its thread busy for hours after the request gave up at its deadline. So before each search the bound is
//! computed for the subject at hand, and a search whose bound is beyond `STEP_CAP` gives up (fuel) without
//! running. The bound counts the leaves of the backtracking tree (a sequence multiplies its parts'
//! alternatives, an alternation adds them, a quantifier multiplies over its iterations) times the longest
//! path, times the start positions. A quantifier's iterations are bounded by the subject's length, and for
//! a single-character body (a class, `.`, an escape, a literal) by the longest run of characters it matches
//! in the subject, measured with regress itself when the coarse bound is too high.
//!
//! The bound is far above the work real searches do: what matters is that it is an upper bound, so that a
//! search that runs is one that ends within about `STEP_CAP` steps.

use regress::{Flags, Regex};
use std::cell::RefCell;

/// The most backtracking steps one search may be bound to (a few hundred milliseconds of regress).
pub const STEP_CAP: f64 = 5e7;

#[derive(Debug)]
enum Node {
    /// Matches at most one thing at a time without alternatives: a character, class, escape, assertion or
    /// backreference. `run` holds, for a single-character matcher, `(?:atom)+` with the pattern's flags,
    /// to measure the longest run of such characters in a subject.
    Atom {
        run: Option<RefCell<RunMatcher>>,
    },
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    /// A lookaround: atomic in JavaScript, so it adds no alternatives outside; its inner work is paid each
    /// time it is tried.
    Look(Box<Node>),
    Repeat {
        min: f64,
        max: f64,
        body: Box<Node>,
    },
}

#[derive(Debug)]
struct RunMatcher {
    source: Vec<u32>,
    compiled: Option<Option<Regex>>,
}

/// The cost model of one pattern.
#[derive(Debug)]
pub struct Cost {
    root: Node,
    /// The pattern starts with `^` (not multiline) and has no top-level alternation: one start position.
    anchored: bool,
    flags: Flags,
}

impl Cost {
    /// The model of `pattern` (UTF-16 units; a pattern regress has already accepted).
    pub fn new(pattern: &[u16], flags: Flags) -> Cost {
        let mut p = Parser {
            p: pattern,
            i: 0,
            flags,
        };
        let root = p.alternation();
        let anchored = !flags.multiline
            && pattern.first() == Some(&(b'^' as u16))
            && !matches!(root, Node::Alt(_));
        Cost {
            root,
            anchored,
            flags,
        }
    }

    /// Whether a search of `subject` from `from` (one attempt when `sticky`) is bound to end within
    /// `STEP_CAP` steps.
    pub fn bounded(&self, subject: &[u16], from: usize, sticky: bool) -> bool {
        let n = subject.len().saturating_sub(from) as f64;
        let one_start = sticky || self.anchored;
        let coarse = |_: &RefCell<RunMatcher>| (n, n);
        let starts = if one_start { 1.0 } else { n + 1.0 };
        if starts * eval(&self.root, n, &coarse).work <= STEP_CAP {
            return true;
        }
        let rest = &subject[from.min(subject.len())..];
        let flags = self.flags;
        let fine = |m: &RefCell<RunMatcher>| m.borrow_mut().measure(rest, flags).unwrap_or((n, n));
        // An attempt where the pattern's first, mandatory character does not match ends at once.
        let starts = if one_start {
            1.0
        } else {
            match first_atom(&self.root) {
                Some(m) => {
                    m.borrow_mut()
                        .measure(rest, flags)
                        .map(|(_, total)| total)
                        .unwrap_or(n)
                        + 1.0
                }
                None => n + 1.0,
            }
        };
        n + starts * eval(&self.root, n, &fine).work <= STEP_CAP
    }
}

/// The single-character atom every match of `node` starts with, if there is one.
fn first_atom(node: &Node) -> Option<&RefCell<RunMatcher>> {
    match node {
        Node::Atom { run } => run.as_ref(),
        Node::Seq(items) => items.first().and_then(first_atom),
        Node::Repeat { min, body, .. } if *min >= 1.0 => first_atom(body),
        _ => None,
    }
}

impl RunMatcher {
    /// The longest run of characters the atom matches in `s`, and how many of its characters it matches;
    /// None when it cannot be measured.
    fn measure(&mut self, s: &[u16], flags: Flags) -> Option<(f64, f64)> {
        let re = self
            .compiled
            .get_or_insert_with(|| {
                let mut src: Vec<u32> = "(?:".chars().map(|c| c as u32).collect();
                src.extend_from_slice(&self.source);
                src.extend(")+".chars().map(|c| c as u32));
                Regex::from_unicode(src.into_iter(), flags).ok()
            })
            .as_ref()?;
        let (mut longest, mut total) = (0usize, 0usize);
        let mut note = |len: usize| {
            longest = longest.max(len);
            total += len;
        };
        if flags.unicode {
            re.find_from_utf16(s, 0)
                .for_each(|m| note(m.end() - m.start()));
        } else {
            re.find_from_ucs2(s, 0)
                .for_each(|m| note(m.end() - m.start()));
        }
        Some((longest as f64, total as f64))
    }
}

/// What one node costs when tried once: how many ways it can match (`alternatives`), the most steps along
/// one of them (`path`), the steps to try every way (`work`), and whether its ways all consume different
/// lengths (`unique`: then a loop over it matches a given span in at most one way per split of the span).
struct Eval {
    alternatives: f64,
    path: f64,
    work: f64,
    unique: bool,
}

/// For a single-character atom: the longest run of characters it matches in the subject, and how many it
/// matches in all.
type Probe<'a> = &'a dyn Fn(&RefCell<RunMatcher>) -> (f64, f64);

/// How many times `node` can match in a row at most, from the atoms every match of it must consume (each
/// consumes characters of its own, so no more times than the subject holds them); `n` when none is known.
fn mandatory_bound(node: &Node, n: f64, probe: Probe) -> f64 {
    match node {
        Node::Atom { run: Some(m) } => probe(m).1,
        Node::Seq(items) => items
            .iter()
            .map(|it| mandatory_bound(it, n, probe))
            .fold(n, f64::min),
        Node::Repeat { min, body, .. } if *min >= 1.0 => mandatory_bound(body, n, probe),
        _ => n,
    }
}

/// The cost of `node` on a subject of `n` units.
fn eval(node: &Node, n: f64, probe: Probe) -> Eval {
    match node {
        Node::Atom { .. } => Eval {
            alternatives: 1.0,
            path: 1.0,
            work: 1.0,
            unique: true,
        },
        // Each part is tried once for every way the parts before it matched.
        Node::Seq(items) => {
            let mut e = Eval {
                alternatives: 1.0,
                path: 1.0,
                work: 1.0,
                unique: true,
            };
            let mut branching = 0;
            for it in items {
                let x = eval(it, n, probe);
                e.work += e.alternatives * x.work;
                e.alternatives *= x.alternatives;
                e.path += x.path;
                e.unique &= x.unique;
                if x.alternatives > 1.0 {
                    branching += 1;
                }
            }
            e.unique &= branching <= 1;
            e
        }
        Node::Alt(items) => {
            let mut e = Eval {
                alternatives: 0.0,
                path: 1.0,
                work: 1.0,
                unique: false,
            };
            for it in items {
                let x = eval(it, n, probe);
                e.alternatives += x.alternatives;
                e.path = e.path.max(x.path + 1.0);
                e.work += x.work;
            }
            e
        }
        Node::Look(inner) => {
            let x = eval(inner, n, probe);
            Eval {
                alternatives: 1.0,
                path: x.path + 1.0,
                work: x.work + 1.0,
                unique: true,
            }
        }
        Node::Repeat { min, max, body } => {
            let single = match body.as_ref() {
                Node::Atom { run: Some(m) } => Some(probe(m).0),
                _ => None,
            };
            // Iterations beyond `min` each consume at least one unit (an empty one ends the loop).
            let k = max
                .min(min + single.unwrap_or(n).min(n))
                .min(min.max(mandatory_bound(body, n, probe)));
            let x = eval(body, n, probe);
            if single.is_some() || x.alternatives <= 1.0 && x.work <= 1.0 {
                // One way per iteration count: the loop runs up to k times, then gives back one at a time.
                let choices = (k - min).max(0.0) + 1.0;
                return Eval {
                    alternatives: choices,
                    path: k * x.path + 1.0,
                    work: k * x.work + choices,
                    unique: true,
                };
            }
            let mut alternatives = ((k - min).max(0.0) + 1.0) * x.alternatives.max(1.0).powf(k);
            if x.unique {
                // Every sequence of iterations is a split of what they consume into parts, one way each.
                alternatives = alternatives.min(2f64.powf(n.min(k * x.path) + min));
            }
            let path = k * x.path + 1.0;
            Eval {
                alternatives,
                path,
                work: alternatives * path,
                unique: false,
            }
        }
    }
}

struct Parser<'a> {
    p: &'a [u16],
    i: usize,
    flags: Flags,
}

fn is(c: Option<&u16>, ch: char) -> bool {
    c == Some(&(ch as u16))
}

/// The unit as an ASCII character; None past the end and for other units.
fn ascii(c: Option<&u16>) -> Option<char> {
    c.filter(|&&u| u < 0x80).map(|&u| u as u8 as char)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&u16> {
        self.p.get(self.i)
    }

    fn alternation(&mut self) -> Node {
        let mut alts = vec![self.sequence()];
        while is(self.peek(), '|') {
            self.i += 1;
            alts.push(self.sequence());
        }
        if alts.len() == 1 {
            alts.pop().unwrap()
        } else {
            Node::Alt(alts)
        }
    }

    fn sequence(&mut self) -> Node {
        let mut items = Vec::new();
        while let Some(&c) = self.peek() {
            if c == b'|' as u16 || c == b')' as u16 {
                break;
            }
            let atom = self.atom();
            let atom = self.quantified(atom);
            items.push(atom);
        }
        Node::Seq(items)
    }

    /// One atom; `Atom { run }` for single-character matchers.
    fn atom(&mut self) -> Node {
        let start = self.i;
        let c = self.p[self.i];
        self.i += 1;
        let single = match c as u8 as char {
            _ if c > 0x7f => true,
            '(' => return self.group(),
            '[' => {
                while let Some(&d) = self.peek() {
                    self.i += 1;
                    if d == b'\\' as u16 {
                        self.i += 1;
                    } else if d == b']' as u16 {
                        break;
                    }
                }
                true
            }
            '\\' => self.escape(),
            '^' | '$' => false,
            _ => true,
        };
        let run = single.then(|| {
            RefCell::new(RunMatcher {
                source: self.p[start..self.i.min(self.p.len())]
                    .iter()
                    .map(|&u| u as u32)
                    .collect(),
                compiled: None,
            })
        });
        Node::Atom { run }
    }

    /// After a backslash: whether the escape matches one character (classes, literals), not an assertion
    /// (`\b`, `\B`) or a backreference.
    fn escape(&mut self) -> bool {
        let Some(&c) = self.peek() else { return false };
        self.i += 1;
        match c as u8 as char {
            _ if c > 0x7f => true,
            'b' | 'B' => false,
            '1'..='9' => {
                while self
                    .peek()
                    .is_some_and(|d| (b'0' as u16..=b'9' as u16).contains(d))
                {
                    self.i += 1;
                }
                false
            }
            'k' if is(self.peek(), '<') => {
                while let Some(&d) = self.peek() {
                    self.i += 1;
                    if d == b'>' as u16 {
                        break;
                    }
                }
                false
            }
            'p' | 'P' | 'u' if is(self.peek(), '{') => {
                while let Some(&d) = self.peek() {
                    self.i += 1;
                    if d == b'}' as u16 {
                        break;
                    }
                }
                true
            }
            'u' => {
                self.i = (self.i + 4).min(self.p.len());
                // A surrogate pair written as two escapes is one character with `u`.
                if self.flags.unicode && is(self.peek(), '\\') && is(self.p.get(self.i + 1), 'u') {
                    self.i = (self.i + 6).min(self.p.len());
                }
                true
            }
            'x' => {
                self.i = (self.i + 2).min(self.p.len());
                true
            }
            'c' => {
                self.i = (self.i + 1).min(self.p.len());
                true
            }
            _ => true,
        }
    }

    fn group(&mut self) -> Node {
        let mut look = false;
        if is(self.peek(), '?') {
            match ascii(self.p.get(self.i + 1)) {
                Some(':') => self.i += 2,
                Some('=') | Some('!') => {
                    self.i += 2;
                    look = true;
                }
                Some('<') if matches!(ascii(self.p.get(self.i + 2)), Some('=') | Some('!')) => {
                    self.i += 3;
                    look = true;
                }
                Some('<') => {
                    while let Some(&d) = self.peek() {
                        self.i += 1;
                        if d == b'>' as u16 {
                            break;
                        }
                    }
                }
                _ => self.i += 1,
            }
        }
        let inner = self.alternation();
        if is(self.peek(), ')') {
            self.i += 1;
        }
        if look {
            Node::Look(Box::new(inner))
        } else {
            inner
        }
    }

    /// The quantifier after `atom`, if any.
    fn quantified(&mut self, atom: Node) -> Node {
        let one = |p: &mut Self, q: (f64, f64)| {
            p.i += 1;
            Some(q)
        };
        let q = match ascii(self.peek()) {
            Some('*') => one(self, (0.0, f64::INFINITY)),
            Some('+') => one(self, (1.0, f64::INFINITY)),
            Some('?') => one(self, (0.0, 1.0)),
            Some('{') => self.braces(),
            _ => None,
        };
        let Some((min, max)) = q else { return atom };
        // Lazy.
        if is(self.peek(), '?') {
            self.i += 1;
        }
        Node::Repeat {
            min,
            max,
            body: Box::new(atom),
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor: consumes it and gives the bounds; None (nothing consumed)
    /// when the brace is a literal.
    fn braces(&mut self) -> Option<(f64, f64)> {
        let mut j = self.i + 1;
        let digits = |j: &mut usize| {
            let s = *j;
            let mut v = 0f64;
            while let Some(&d) = self.p.get(*j) {
                if !(b'0' as u16..=b'9' as u16).contains(&d) {
                    break;
                }
                v = v * 10.0 + (d - b'0' as u16) as f64;
                *j += 1;
            }
            (*j > s).then_some(v)
        };
        let min = digits(&mut j)?;
        let max = if is(self.p.get(j), ',') {
            j += 1;
            digits(&mut j).unwrap_or(f64::INFINITY)
        } else {
            min
        };
        if !is(self.p.get(j), '}') {
            return None;
        }
        self.i = j + 1;
        Some((min, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn bounded(pattern: &str, subject: &str) -> bool {
        Cost::new(&units(pattern), Flags::default()).bounded(&units(subject), 0, false)
    }

    #[test]
    fn catastrophic_patterns_are_refused_on_subjects_that_blow_up() {
        let evil = format!("{}!", "a".repeat(36));
        assert!(!bounded("^(a+)+$", &evil));
        assert!(!bounded("(a|aa)+$", &evil));
        assert!(!bounded(
            "^(\\w+\\s?)*$",
            &format!("{}!", "word ".repeat(30))
        ));
        // Short subjects stay within the cap.
        assert!(bounded("^(a+)+$", "aaaaaaaa!"));
    }

    #[test]
    fn ordinary_patterns_run_on_long_subjects() {
        let text = "Some text with <b>tags</b> and  spaces, over many lines.\n".repeat(400);
        for p in [
            "\\s+",
            "<[^>]+>",
            "&[a-z]+;",
            "`([^`]+)`",
            "\\[([^\\]]+)\\]\\(([^)\\s]+)\\)",
            "^(#{1,6})\\s+(.*?)\\s*#*\\s*$",
            "```[\\s\\S]*?```",
        ] {
            assert!(bounded(p, &text), "{} refused", p);
        }
    }

    #[test]
    fn quantifier_bounds_parse() {
        assert!(
            matches!(Cost::new(&units("a{2,5}"), Flags::default()).root, Node::Seq(ref v) if matches!(v[0], Node::Repeat { min, max, .. } if min == 2.0 && max == 5.0))
        );
        assert!(
            matches!(Cost::new(&units("a{,5}"), Flags::default()).root, Node::Seq(ref v) if v.len() > 1)
        );
    }
}
