//! Counted loops over arrays, run on the arrays' elements in place (`fastLoop` in compiler/codegen.ts).
//!
//! The compiler finds loops `for (...; j < end; j += step)` (or `j <= end`) whose body only computes on
//! numbers and reads and writes elements of arrays the body cannot replace (no call, no other store, no
//! allocation). Before such a loop, `views` checks, once, what every iteration of the ordinary code would check again: each array is an
//! array; each written one belongs to the request and is neither frozen nor watched by a detached async
//! call (`Heap::array_items_mut`, as every in-place store asks); each one used at `j` is long enough for the
//! last `j` the loop takes; and every element read at `j` is a number at every `j` the loop takes. Nothing
//! in the body can undo any of that (its stores write numbers into existing elements), so the iterations
//! read and write those elements directly. When a check fails, `views` answers None and the loop runs as
//! usual.
//!
//! A read at another key (`up[(x + 1) % w]`) is checked where it happens (`Views::at`): an integer index
//! within the array whose element is a number. Otherwise the ordinary read runs (`missed`), which gives up
//! just as it would in the ordinary loop (the trace saw only numbers there); if it finds a number after all
//! (an element inherited from Array.prototype), the loop gives up too, since whatever the read ran may have
//! changed the arrays under the views.

use crate::cx::{abort, AbortKind, JsResult};
use crate::heap::ObjKind;
use crate::ops;
use crate::value::{tag_word, Value};

/// The arrays of one fast loop: a pointer to each one's elements, valid while the loop runs (nothing else
/// touches the heap meanwhile).
pub struct Views<const N: usize> {
    ptr: [*mut Value; N],
    /// Each array's length when the loop began (no store in the loop changes one).
    len: [usize; N],
    /// The indexes the loop takes: `lo..hi`.
    lo: usize,
    hi: usize,
}

impl<const N: usize> Views<N> {
    /// The indexes the loop takes, the first and one past the last: the loop runs them as integers.
    #[inline(always)]
    pub fn range(&self) -> (usize, usize) {
        (self.lo, self.hi)
    }
    /// Element `j` of array `i`, a number (`views` checked it, and stores keep it one): `j` is an index the
    /// loop takes, or for an array read below the last index, any key from 0 up to it.
    #[inline(always)]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        debug_assert!(j < self.len[i]);
        // SAFETY: `views` checked that array `i` has more than `j` elements, and nothing can change its
        // length or move its elements while the loop runs.
        match unsafe { &*self.ptr[i].add(j) } {
            Value::Num(n) => *n,
            _ => unreachable!("an element a fast loop reads is a number"),
        }
    }
    /// Element `k` of array `i`, when `k` is an index within it and the element is a number.
    #[inline(always)]
    pub fn at(&self, i: usize, k: f64) -> Option<f64> {
        self.at_index(i, ops::small_index(k)?)
    }
    /// Element `j` (the loop's index, as an integer) of array `i`, when the array holds it and it is a
    /// number: `at` without the conversion of the key.
    #[inline(always)]
    pub fn at_index(&self, i: usize, j: usize) -> Option<f64> {
        if j >= self.len[i] {
            return None;
        }
        // SAFETY: `j` is below the array's length, which nothing changes while the loop runs.
        match unsafe { &*self.ptr[i].add(j) } {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }
    /// `a[j] = n` for array `i`.
    #[inline(always)]
    pub fn set(&self, i: usize, j: usize, n: f64) {
        // SAFETY: as for `get`; the old element is dropped in place, as any store does.
        unsafe { *self.ptr[i].add(j) = Value::Num(n) }
    }
}

/// Whether every value is a number: the tag words OR-ed together without an early exit (a failed check is
/// the rare case), which the compiler vectorises.
#[inline]
fn all_numbers(elems: &[Value]) -> bool {
    // The number of the `Num` variant, read from a value rather than written down.
    let num = tag_word(&Value::Num(0.0));
    elems.iter().fold(0, |acc, x| acc | (tag_word(x) ^ num)) == 0
}

/// The exclusive bound of a loop `j <= end`: one past the last whole number not above `end` (NaN stays
/// NaN, so that `views` refuses it).
#[inline(always)]
pub fn past(end: f64) -> f64 {
    match ops::small_index(end) {
        Some(i) => i as f64 + 1.0,
        None => end.floor() + 1.0,
    }
}

/// A loop's step `j += s` as an integer, when `s` is a whole number from 1 below 2^31.
#[inline(always)]
pub fn step(s: f64) -> Option<usize> {
    ops::small_index(s).filter(|&s| s >= 1)
}

/// `x` as an integer when it is a whole number strictly between -2^31 and 2^31 and not -0: a number the loop
/// body reads but does not assign, which its integer arithmetic (`int` in compiler/codegen.ts) computes with
/// as an i64. None sends the loop back to the usual code.
#[inline(always)]
pub fn int(x: f64) -> Option<i64> {
    let i = x as i64;
    if i as f64 == x && i.unsigned_abs() < 1 << 31 && !(i == 0 && x.is_sign_negative()) {
        Some(i)
    } else {
        None
    }
}

/// What the ordinary read gave where `Views::at` found no number: its give-up, as the ordinary loop would
/// give up there, or (when it found a number after all) a give-up of the fast loop's own.
#[cold]
#[inline(never)]
pub fn missed(read: JsResult<f64>, site: u32) -> JsResult<f64> {
    read?;
    abort(
        AbortKind::Unsupported,
        site,
        "an element a fast loop read was not one of the array's own numbers",
    )
}

/// The views of `arrays` for a loop whose index goes up from `first` while it is below `end` (every index in
/// between is checked, whatever the loop's step), each with
/// whether the loop reads it at the index, whether it writes it (only ever at the index), whether it
/// reads it at other keys checked where they are read, and whether it reads it at keys from 0 up to the
/// last index (a remainder by the bound), unchecked: every element below the last index plus one is then
/// checked here; None unless every iteration would find what the checks above require.
#[inline(always)]
pub fn views<const N: usize>(
    cx: &mut crate::cx::Cx,
    arrays: [(&Value, bool, bool, bool, bool); N],
    first: f64,
    end: f64,
) -> Option<Views<N>> {
    // Indexes that are array indexes (-0 is 0); a loop that runs no iteration is left to the usual code.
    // An integer bound (nearly every one) is converted in one instruction; `ceil` is a library call on
    // baseline x86-64.
    let lo = ops::small_index(first)?;
    if end.is_nan() || end <= first {
        return None;
    }
    let hi = match ops::small_index(end) {
        Some(hi) => hi,
        None if end < 2147483648.0 => end.ceil() as usize,
        None => return None,
    };
    let mut ptr = [std::ptr::null_mut(); N];
    let mut len = [0; N];
    for (k, (v, read, write, read_at, read_below)) in arrays.into_iter().enumerate() {
        let Value::Obj(r) = v else {
            return None;
        };
        // Arrays used at the index must hold every index the loop takes.
        let need = if read || write || read_below { hi } else { 0 };
        let (items, n): (*mut Value, usize) = if write {
            if read || read_at || read_below {
                // The read the usual code makes of the array, which code Node runs later may have to see
                // (`heap::Later`): `array_items_mut` does not make it.
                let _ = cx.heap.get(*r);
            }
            match cx.heap.array_items_mut(*r) {
                Some(items) if items.len() >= need => (items.as_mut_ptr(), items.len()),
                _ => return None,
            }
        } else {
            match cx.heap.kind(*r) {
                ObjKind::Array(items) if items.len() >= need => {
                    (items.as_ptr() as *mut Value, items.len())
                }
                _ => return None,
            }
        };
        if read || read_below {
            // SAFETY: the array has at least `hi` elements (checked just above).
            let elems = unsafe { std::slice::from_raw_parts(items, hi) };
            if !all_numbers(&elems[if read_below { 0 } else { lo }..]) {
                return None;
            }
        }
        ptr[k] = items;
        len[k] = n;
    }
    Some(Views { ptr, len, lo, hi })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{JsStr, ObjRef};

    /// Whole numbers within 2^31 are integers; -0, fractions, NaN, infinities and anything at or beyond
    /// ±2^31 are not.
    #[test]
    fn int_takes_whole_numbers_within_2_31_but_not_minus_zero() {
        for (x, want) in [
            (0.0, Some(0)),
            (-0.0, None),
            (1.0, Some(1)),
            (-1.0, Some(-1)),
            (2147483647.0, Some(2147483647)),
            (2147483648.0, None),
            (-2147483647.0, Some(-2147483647)),
            (-2147483648.0, None),
            (0.5, None),
            (-0.5, None),
            (1e300, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
            (f64::NEG_INFINITY, None),
        ] {
            assert_eq!(int(x), want, "{x}");
        }
    }

    /// The tag-word check agrees with a match on every kind of value, wherever the odd one is.
    #[test]
    fn all_numbers_finds_any_value_that_is_not_a_number() {
        let others = [
            Value::Undefined,
            Value::Null,
            Value::Bool(false),
            Value::Bool(true),
            Value::Str(JsStr::from("1")),
            Value::Obj(ObjRef(3)),
            Value::Hole,
        ];
        for n in [0usize, 1, 2, 7, 33] {
            let nums: Vec<Value> = (0..n).map(|i| Value::Num(i as f64 - 0.5)).collect();
            assert!(all_numbers(&nums));
            for at in 0..n {
                for o in &others {
                    let mut v = nums.clone();
                    v[at] = o.clone();
                    assert!(!all_numbers(&v), "{o:?} at {at} of {n}");
                }
            }
        }
        assert!(all_numbers(&[
            Value::Num(f64::NAN),
            Value::Num(-0.0),
            Value::Num(f64::INFINITY)
        ]));
    }
}
