//! Local arrays of one element kind: the storage generated code uses for an array that never leaves the
//! function that made it.
//!
//! The compiler (`findLocalArrays` in compiler/codegen.ts) proves, from the program alone, that a local
//! binding holds an array made by `new Array(n).fill(c)` with `c` a boolean or a number (or by an array
//! literal whose elements are all numbers or all booleans), that it is used only
//! as `a[i]`, `a[i] = v` (with `v` of the same kind) and `a.length`, and that it is never passed, returned,
//! captured or reassigned. Such an array is a Rust `Vec<bool>` or `Vec<f64>` instead of a heap array of
//! tagged values: 1 or 8 bytes an element instead of 16, no type guard and no heap lookup per access.
//!
//! Everything here answers as the heap array would, or gives up: a read or write outside the elements (which
//! on a heap array would read the prototype chain or make holes) and a key that is not an integer index give
//! up, since the trace is what says whether a request needs them.

use crate::cx::{abort, AbortKind, Cx, JsResult};
use crate::ops;
use crate::value::Value;

/// An element kind: the Rust type a local array stores, and how it reads as a JavaScript value.
pub trait Elem: Copy {
    /// Bytes one element takes, charged against the request's heap cap.
    const BYTES: usize;
    fn value(self) -> Value;
}

impl Elem for bool {
    const BYTES: usize = 1;
    #[inline(always)]
    fn value(self) -> Value {
        Value::Bool(self)
    }
}

impl Elem for f64 {
    const BYTES: usize = 8;
    #[inline(always)]
    fn value(self) -> Value {
        Value::Num(self)
    }
}

/// `new Array(len).fill(c)` with the builtin `Array` and `Array.prototype.fill` (the caller has checked both
/// callees): `len` must be a number that is a valid length (ECMA-262 §23.1.1.1: otherwise a RangeError,
/// which gives up as the builtin does); a non-number `len` would make a one-element array, and gives up.
/// Charges the heap cap for the elements and one unit of fuel each, as `fill` does.
pub fn filled<T: Elem>(cx: &mut Cx, len: &Value, c: T, site: u32) -> JsResult<Vec<T>> {
    let n = match len {
        Value::Num(n) => *n,
        _ => {
            return abort(
                AbortKind::TypeGuard,
                site,
                "new Array(len) with a length that is not a number",
            )
        }
    };
    let len = ops::f64_to_uint32(n);
    if len as f64 != n {
        return crate::cx::engine_error("Invalid array length");
    }
    let len = len as usize;
    cx.heap.charge(len.saturating_mul(T::BYTES))?;
    cx.burn(len as u64)?;
    Ok(vec![c; len])
}

/// An array literal's elements, all of one kind (the compiler has proved each is): charged against the
/// request's heap cap as the heap array would be.
#[inline]
pub fn from_literal<T: Elem>(cx: &mut Cx, items: Vec<T>) -> JsResult<Vec<T>> {
    cx.heap.charge(items.len() * T::BYTES)?;
    Ok(items)
}

/// The element index `k` denotes, if it is one of `len` elements. `-0` is index 0, as its property key is
/// "0"; NaN, fractions, negatives and indexes past the end are not.
#[inline(always)]
fn index(k: f64, len: usize) -> Option<usize> {
    ops::small_index(k).filter(|&i| i < len)
}

/// `a[k]`, for `k` a number.
#[inline(always)]
pub fn get<T: Elem>(a: &[T], k: f64, site: u32) -> JsResult<Value> {
    at(a, k, site).map(Elem::value)
}

/// `a[k]` as the element itself (a number read where the compiler keeps numbers unboxed).
#[inline(always)]
pub fn at<T: Elem>(a: &[T], k: f64, site: u32) -> JsResult<T> {
    match index(k, a.len()) {
        Some(i) => Ok(a[i]),
        None => outside(site),
    }
}

/// `a[j]` for an index a fast loop runs as an integer (runtime/src/fastloop.rs): `at` without the conversion.
#[inline(always)]
pub fn at_index<T: Elem>(a: &[T], j: usize, site: u32) -> JsResult<T> {
    match a.get(j) {
        Some(&x) => Ok(x),
        None => outside(site),
    }
}

/// `a[j] = v` for an index a fast loop runs as an integer: `set` without the conversion.
#[inline(always)]
pub fn set_index<T: Elem>(cx: &mut Cx, a: &mut Vec<T>, j: usize, v: T, site: u32) -> JsResult<()> {
    match a.get_mut(j) {
        Some(x) => {
            *x = v;
            Ok(())
        }
        None => set(cx, a, j as f64, v, site),
    }
}

/// `a[k] = v`, for `k` a number and `v` of the array's kind; `k` equal to the length appends, as a store
/// just past the end of a dense array does.
#[inline(always)]
pub fn set<T: Elem>(cx: &mut Cx, a: &mut Vec<T>, k: f64, v: T, site: u32) -> JsResult<()> {
    match index(k, a.len()) {
        Some(i) => {
            a[i] = v;
            Ok(())
        }
        None if k == a.len() as f64 && a.len() < u32::MAX as usize - 1 => {
            cx.heap.charge(T::BYTES)?;
            a.push(v);
            Ok(())
        }
        None => outside(site),
    }
}

#[cold]
#[inline(never)]
fn outside<T>(site: u32) -> JsResult<T> {
    abort(
        AbortKind::Unknown,
        site,
        "an access outside a local array's elements",
    )
}

/// The boolean in `v`, which the compiler has proved is one (a comparison, `!`, a literal); gives up rather
/// than panic should that ever not hold.
#[inline(always)]
pub fn expect_bool(v: &Value) -> JsResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => crate::cx::unsupported("a value the compiler took for a boolean"),
    }
}
