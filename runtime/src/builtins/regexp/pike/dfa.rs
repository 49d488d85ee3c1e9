//! A lazy DFA in front of the Pike VM, for searches that want a match's bounds only (`String.prototype.
//! match` with `g`, `replace` and `split` without group references, `test`).
//!
//! A DFA state is what the Pike VM's thread list would be at a position, reduced to what decides the future:
//! the instructions its threads resume at, in priority order (their captures do not matter for the bounds),
//! and the kind of the character before the position (start of input, line terminator, word character,
//! other), which the assertions read. A transition on the next character (or the end of input) takes the
//! threads through the instructions that consume nothing (the assertions decided by that character and the
//! one before), exactly as `Prog::add` would, stops at the first `Match` as `Prog::run` does (a match ending
//! here; the threads after it have lower priority and are dropped), and keeps the threads whose character
//! matches. Transitions are computed when first taken and kept, so a search is one table lookup per
//! character once the states it meets are known.
//!
//! The search tries each start position in turn (skipping those the pattern's first character rules out)
//! and runs the DFA anchored there; the first start with a match is the leftmost, and the DFA gives that
//! start's leftmost-first end, which is what the Pike VM answers. Starts that each read far make this
//! quadratic, so a search that takes more steps than a few per character of the subject, or meets more
//! states than `MAX_STATES`, is handed back to the Pike VM (which is linear) from its beginning: the answer
//! is the same either way, only its cost differs.

use super::{canonicalize, is_line_terminator, is_word, Inst, Prog};
use std::collections::HashMap;

/// The DFA's maps are looked up on every non-ASCII character and every new state: ahash with keys drawn
/// once per process, not SipHash.
type Fast = crate::heap::PropsHasher;

/// The most states kept; a search needing more goes to the Pike VM (and the states are dropped).
const MAX_STATES: usize = 512;
/// Transitions not yet computed.
const UNKNOWN: u32 = u32::MAX;
/// The kinds of the character before a position.
const AT_START: u8 = 0;
const AFTER_LT: u8 = 1;
const AFTER_WORD: u8 = 2;
const AFTER_OTHER: u8 = 3;

/// A state's transition: the next state's index, shifted left by one, with the low bit set when a match
/// ends at the position before the character.
type Trans = u32;

#[derive(Debug)]
struct State {
    /// Instructions the threads resume at, in priority order.
    kernel: Vec<u32>,
    prev: u8,
    /// Transitions on ASCII characters, and (index 128) on the end of input.
    ascii: [Trans; 129],
    other: HashMap<u32, Trans, Fast>,
}

#[derive(Debug)]
pub(super) struct Dfa {
    states: Vec<State>,
    /// Each state by its kernel followed by its `prev` (so that a lookup needs no copy of the kernel).
    index: HashMap<Vec<u32>, u32, Fast>,
    /// The state a search starts in, by the kind of the character before the start (UNKNOWN until made).
    starts: [u32; 4],
    /// Scratch: instructions visited during one closure, by generation.
    visited: Vec<u32>,
    generation: u32,
    stack: Vec<u32>,
}

impl Default for Dfa {
    fn default() -> Dfa {
        Dfa {
            states: Vec::new(),
            index: HashMap::default(),
            starts: [UNKNOWN; 4],
            visited: Vec::new(),
            generation: 0,
            stack: Vec::new(),
        }
    }
}

impl Dfa {
    /// Drops the states when there are as many as are kept, so that the next search starts afresh.
    pub(super) fn reset_if_full(&mut self) {
        if self.states.len() >= MAX_STATES {
            *self = Dfa::default();
        }
    }

    fn state(&mut self, mut kernel: Vec<u32>, prev: u8) -> Option<u32> {
        kernel.push(prev as u32);
        if let Some(&id) = self.index.get(&kernel[..]) {
            return Some(id);
        }
        if self.states.len() >= MAX_STATES {
            return None;
        }
        let id = self.states.len() as u32;
        self.index.insert(kernel.clone(), id);
        kernel.pop();
        self.states.push(State {
            kernel,
            prev,
            ascii: [UNKNOWN; 129],
            other: HashMap::default(),
        });
        Some(id)
    }
}

impl Prog {
    /// Whether the character before a position is of a kind the assertions tell apart.
    fn kind(&self, c: u32) -> u8 {
        if is_line_terminator(c) {
            AFTER_LT
        } else if c < 128 && is_word(c as u16) {
            AFTER_WORD
        } else {
            AFTER_OTHER
        }
    }

    /// The first match's bounds at or after `from` (only at `from` when `one_start`), and the steps taken;
    /// None when the search is left to the Pike VM.
    pub(super) fn dfa_find(
        &self,
        dfa: &mut Dfa,
        s: &[u16],
        from: usize,
        one_start: bool,
    ) -> Option<(Option<(usize, usize)>, usize)> {
        let len = s.len();
        let budget = 8 * (len - from.min(len)) + 256;
        let mut steps = 0usize;
        let mut start = from;
        loop {
            if !one_start && self.first.is_some() {
                start = self.next_start(s, start);
                if start >= len {
                    return Some((None, steps + len - from.min(len)));
                }
            }
            let prev = if start == 0 {
                AT_START
            } else {
                self.kind(s[start - 1] as u32)
            };
            let mut state = match dfa.starts[prev as usize] {
                UNKNOWN => {
                    let id = dfa.state(vec![0], prev)?;
                    dfa.starts[prev as usize] = id;
                    id
                }
                id => id,
            };
            let mut pos = start;
            let mut end = None;
            loop {
                steps += 1;
                if steps > budget {
                    return None;
                }
                let (c, clen) = if pos < len {
                    let (c, n) = self.char_at(s, pos);
                    (Some(c), n)
                } else {
                    (None, 0)
                };
                let t = self.next(dfa, state, c)?;
                if t & 1 == 1 {
                    end = Some(pos);
                }
                state = t >> 1;
                if c.is_none() || dfa.states[state as usize].kernel.is_empty() {
                    break;
                }
                pos += clen;
            }
            if let Some(e) = end {
                return Some((Some((start, e)), steps));
            }
            if one_start || start >= len {
                return Some((None, steps));
            }
            start += self.char_at(s, start).1;
        }
    }

    /// The transition of `state` on `c` (None: the end of input), computed the first time.
    #[inline]
    fn next(&self, dfa: &mut Dfa, state: u32, c: Option<u32>) -> Option<Trans> {
        let st = &dfa.states[state as usize];
        let known = match c {
            None => st.ascii[128],
            Some(c) if c < 128 => st.ascii[c as usize],
            Some(c) => st.other.get(&c).copied().unwrap_or(UNKNOWN),
        };
        if known != UNKNOWN {
            return Some(known);
        }
        let t = self.compute(dfa, state, c)?;
        let st = &mut dfa.states[state as usize];
        match c {
            None => st.ascii[128] = t,
            Some(c) if c < 128 => st.ascii[c as usize] = t,
            Some(c) => {
                st.other.insert(c, t);
            }
        }
        Some(t)
    }

    /// Follows `state`'s threads through the instructions that consume nothing, in priority order (as
    /// `Prog::add` does, the assertions decided by the previous character's kind and `c`), up to the first
    /// `Match`; the threads whose character is `c` go on.
    fn compute(&self, dfa: &mut Dfa, state: u32, c: Option<u32>) -> Option<Trans> {
        let (kernel, prev) = {
            let st = &dfa.states[state as usize];
            (st.kernel.clone(), st.prev)
        };
        if dfa.visited.len() < self.insts.len() {
            dfa.visited = vec![0; self.insts.len()];
            dfa.generation = 0;
        }
        dfa.generation = dfa.generation.wrapping_add(1);
        if dfa.generation == 0 {
            dfa.visited.iter_mut().for_each(|v| *v = 0);
            dfa.generation = 1;
        }
        let generation = dfa.generation;
        let multiline = self.flags.multiline;
        let after_word = prev == AFTER_WORD;
        let before_word = matches!(c, Some(c) if c < 128 && is_word(c as u16));
        let mut next: Vec<u32> = Vec::new();
        let mut matched = false;
        'threads: for &k in &kernel {
            dfa.stack.clear();
            dfa.stack.push(k);
            while let Some(pc) = dfa.stack.pop() {
                let pc = pc as usize;
                if dfa.visited[pc] == generation {
                    continue;
                }
                dfa.visited[pc] = generation;
                let go = match self.insts[pc] {
                    Inst::Jmp(t) => {
                        dfa.stack.push(t);
                        continue;
                    }
                    Inst::Split(a, b) => {
                        dfa.stack.push(b);
                        dfa.stack.push(a);
                        continue;
                    }
                    Inst::Save(_) | Inst::Reset(..) => true,
                    Inst::Start => prev == AT_START || (multiline && prev == AFTER_LT),
                    Inst::End => match c {
                        None => true,
                        Some(c) => multiline && is_line_terminator(c),
                    },
                    Inst::Word(want) => (after_word != before_word) == want,
                    Inst::Match => {
                        matched = true;
                        break 'threads;
                    }
                    consuming => {
                        let ok = match (consuming, c) {
                            (_, None) => false,
                            (Inst::Char(x), Some(c)) => c == x,
                            (Inst::Fold(k), Some(c)) => {
                                c < 0x10000 && canonicalize(c as u16) as u32 == k
                            }
                            (Inst::Class(i), Some(c)) => {
                                self.classes[i as usize].matches(c, self.flags.ignore_case)
                            }
                            (Inst::Any, Some(_)) => true,
                            (Inst::AnyNoLt, Some(c)) => !is_line_terminator(c),
                            _ => unreachable!("every instruction is handled"),
                        };
                        if ok && !next.contains(&(pc as u32 + 1)) {
                            next.push(pc as u32 + 1);
                        }
                        continue;
                    }
                };
                if go {
                    dfa.stack.push(pc as u32 + 1);
                }
            }
        }
        let kind = match c {
            Some(c) => self.kind(c),
            None => AFTER_OTHER,
        };
        let id = dfa.state(next, kind)?;
        Some(id << 1 | matched as u32)
    }
}
