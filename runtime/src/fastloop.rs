//! Counted loops over arrays, run on the arrays' elements in place (`fastLoop` in compiler/codegen.ts).
//!
//! The compiler finds loops `for (...; j < end; j++)` whose body only computes on numbers and reads and
//! writes `a[j]` of arrays the body cannot replace (no call, no other store, no allocation). Before such a
//! loop, `views` checks, once, what every iteration of the ordinary code would check again: each array is an
//! array; each written one belongs to the request and is neither frozen nor watched by a detached async
//! call (`Heap::array_items_mut`, as every in-place store asks); each is long enough for the last `j` the
//! loop takes; and every element read is a number at every `j` the loop takes. Nothing in the body can undo
//! any of that (its stores write numbers into existing elements), so the iterations read and write the
//! elements directly. When a check fails, `views` answers None and the loop runs as usual.

use crate::heap::ObjKind;
use crate::value::Value;

/// The arrays of one fast loop: a pointer to each one's elements, valid while the loop runs (nothing else
/// touches the heap meanwhile).
pub struct Views<const N: usize> {
    ptr: [*mut Value; N],
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
    /// Element `j` of array `i`, a number (`views` checked it, and stores keep it one).
    #[inline(always)]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        // SAFETY: `views` checked that array `i` has more than `j` elements, and nothing can change its
        // length or move its elements while the loop runs.
        match unsafe { &*self.ptr[i].add(j) } {
            Value::Num(n) => *n,
            _ => unreachable!("an element a fast loop reads is a number"),
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

/// A value's tag: the first of its two words (`Value` is `repr(C, u64)`).
#[inline(always)]
fn tag_word(v: &Value) -> u64 {
    // SAFETY: `Value` is `repr(C, u64)`, so every value begins with its tag as an initialised u64, aligned
    // as the value is.
    unsafe { *(v as *const Value as *const u64) }
}

/// The views of `arrays` (each with whether the loop reads it and whether it writes it) for a loop whose
/// index goes from `first` by 1 while it is below `end`; None unless every iteration would find what the
/// checks above require.
pub fn views<const N: usize>(
    cx: &mut crate::cx::Cx,
    arrays: [(&Value, bool, bool); N],
    first: f64,
    end: f64,
) -> Option<Views<N>> {
    // Indexes that are array indexes (-0 is 0); a loop that runs no iteration is left to the usual code.
    let indexes = 0.0..2147483648.0;
    if !indexes.contains(&first) || first.trunc() != first || end.is_nan() || end <= first {
        return None;
    }
    let last = end.ceil();
    if last > indexes.end {
        return None;
    }
    let (lo, hi) = (first as usize, last as usize);
    let mut ptr = [std::ptr::null_mut(); N];
    for (k, (v, read, write)) in arrays.into_iter().enumerate() {
        let Value::Obj(r) = v else {
            return None;
        };
        let items: *mut Value = if write {
            if read {
                // The read the usual code makes of the array, which code Node runs later may have to see
                // (`heap::Later`): `array_items_mut` does not make it.
                let _ = cx.heap.get(*r);
            }
            match cx.heap.array_items_mut(*r) {
                Some(items) if items.len() >= hi => items.as_mut_ptr(),
                _ => return None,
            }
        } else {
            match cx.heap.kind(*r) {
                ObjKind::Array(items) if items.len() >= hi => items.as_ptr() as *mut Value,
                _ => return None,
            }
        };
        if read {
            // SAFETY: the array has at least `hi` elements (checked just above).
            let elems = unsafe { std::slice::from_raw_parts(items, hi) };
            if !all_numbers(&elems[lo..]) {
                return None;
            }
        }
        ptr[k] = items;
    }
    Some(Views { ptr, lo, hi })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{JsStr, ObjRef};

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
