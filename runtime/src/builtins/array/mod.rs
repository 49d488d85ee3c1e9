//! Array (ECMA-262 §23.1): the constructor, `Array.isArray`, `Array.from`, `Array.of`, and
//! Array.prototype's methods; the iteration of the iterables the runtime models (arrays, strings, Maps,
//! Sets), which spread, for-of and array destructuring use through `iterate_to_vec`.
//!
//! Methods follow the spec's algorithms step by step: the length is read once where the spec reads it,
//! every element is read with [[HasProperty]] / [[Get]] at the moment the spec reads it (so callbacks
//! that change the array see, and cause, what they would in Node), holes read through the prototype
//! chain. Where no user code can run between the steps and the prototypes hold no indexed properties,
//! the moving methods (push, pop, shift, unshift, splice, reverse) work on the element vector at once,
//! which gives the same result.
//!
//! `sort` and `toSorted` are V8's TimSort (third_party/v8/builtins/array-sort.tq, itself CPython's
//! listsort), re-implemented from its description: undefined values and holes are taken out first, runs
//! are found and extended with binary insertion, and merged with galloping. `sort` (not `toSorted`) of
//! fewer than `MIN_TIMSORT_LEN` values (undefined values and holes not counted) is binary insertion
//! alone, as in Node 26's V8 (Node 20's ran TimSort on every length; the differential test checks the
//! comparisons one by one). Because the same comparisons happen in the same order,
//! the result equals Node's for every comparator, consistent or not, and a comparator with side effects
//! is called with the same arguments in the same order. The default order compares ToString of the
//! elements; for primitives it is computed once per element, which nothing can observe, for objects at
//! every comparison, as V8 does.
//!
//! `join` (and `toString`) keep V8's cycle check: an array met again while it is being joined joins as
//! the empty string.
//!
//! Deliberate give-ups: methods called on anything but an array; subclasses of Array and `constructor`
//! values other than Array (ArraySpeciesCreate); `Array.from`/`Array.of` with a `this` constructor other
//! than Array; `entries`, `keys`, `values` (iterator objects are not modelled); `toLocaleString`;
//! nesting deeper than the runtime's recursion limits (join of arrays nested 200 deep, flat 2000 deep);
//! iterating objects that inherit an iterator without being an array, string, Map or Set.

use crate::builtin;
use crate::builtins::collections::Cursor;
use crate::builtins::{arg, BuiltinDef};
use crate::call::{self, Callee};
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::ObjKind;
use crate::ops;
use crate::props;
use crate::value::{JsStr, ObjRef, Value};
use std::cell::RefCell;
use std::cmp::Ordering;

builtin!(ARRAY, "Array", 1, array_call, ctor = array_ctor);
builtin!(IS_ARRAY, "Array.isArray", 1, is_array);
builtin!(FROM, "Array.from", 1, from);
builtin!(OF, "Array.of", 0, of);
builtin!(AT, "Array.prototype.at", 1, at);
builtin!(CONCAT, "Array.prototype.concat", 1, concat);
builtin!(COPY_WITHIN, "Array.prototype.copyWithin", 2, copy_within);
builtin!(ENTRIES, "Array.prototype.entries", 0, entries_iter);
builtin!(EVERY, "Array.prototype.every", 1, every);
builtin!(FILL, "Array.prototype.fill", 1, fill);
builtin!(FILTER, "Array.prototype.filter", 1, filter);
builtin!(FIND, "Array.prototype.find", 1, find);
builtin!(FIND_INDEX, "Array.prototype.findIndex", 1, find_index);
builtin!(FIND_LAST, "Array.prototype.findLast", 1, find_last);
builtin!(
    FIND_LAST_INDEX,
    "Array.prototype.findLastIndex",
    1,
    find_last_index
);
builtin!(FLAT, "Array.prototype.flat", 0, flat);
builtin!(FLAT_MAP, "Array.prototype.flatMap", 1, flat_map);
builtin!(FOR_EACH, "Array.prototype.forEach", 1, for_each);
builtin!(INCLUDES, "Array.prototype.includes", 1, includes);
builtin!(INDEX_OF, "Array.prototype.indexOf", 1, index_of);
builtin!(JOIN, "Array.prototype.join", 1, join);
builtin!(KEYS, "Array.prototype.keys", 0, keys_iter);
builtin!(
    LAST_INDEX_OF,
    "Array.prototype.lastIndexOf",
    1,
    last_index_of
);
builtin!(MAP, "Array.prototype.map", 1, map);
builtin!(POP, "Array.prototype.pop", 0, pop);
builtin!(PUSH, "Array.prototype.push", 1, push);
builtin!(REDUCE, "Array.prototype.reduce", 1, reduce);
builtin!(REDUCE_RIGHT, "Array.prototype.reduceRight", 1, reduce_right);
builtin!(REVERSE, "Array.prototype.reverse", 0, reverse);
builtin!(SHIFT, "Array.prototype.shift", 0, shift);
builtin!(SLICE, "Array.prototype.slice", 2, slice);
builtin!(SOME, "Array.prototype.some", 1, some);
builtin!(SORT, "Array.prototype.sort", 1, sort);
builtin!(SPLICE, "Array.prototype.splice", 2, splice);
builtin!(
    TO_LOCALE_STRING,
    "Array.prototype.toLocaleString",
    0,
    to_locale_string
);
builtin!(TO_REVERSED, "Array.prototype.toReversed", 0, to_reversed);
builtin!(TO_SORTED, "Array.prototype.toSorted", 1, to_sorted);
builtin!(TO_SPLICED, "Array.prototype.toSpliced", 2, to_spliced);
builtin!(TO_STRING, "Array.prototype.toString", 0, to_string);
builtin!(UNSHIFT, "Array.prototype.unshift", 1, unshift);
builtin!(VALUES, "Array.prototype.values", 0, values_iter);
builtin!(WITH, "Array.prototype.with", 2, with);

pub static DEFS: &[&BuiltinDef] = &[
    &ARRAY,
    &IS_ARRAY,
    &FROM,
    &OF,
    &AT,
    &CONCAT,
    &COPY_WITHIN,
    &ENTRIES,
    &EVERY,
    &FILL,
    &FILTER,
    &FIND,
    &FIND_INDEX,
    &FIND_LAST,
    &FIND_LAST_INDEX,
    &FLAT,
    &FLAT_MAP,
    &FOR_EACH,
    &INCLUDES,
    &INDEX_OF,
    &JOIN,
    &KEYS,
    &LAST_INDEX_OF,
    &MAP,
    &POP,
    &PUSH,
    &REDUCE,
    &REDUCE_RIGHT,
    &REVERSE,
    &SHIFT,
    &SLICE,
    &SOME,
    &SORT,
    &SPLICE,
    &TO_LOCALE_STRING,
    &TO_REVERSED,
    &TO_SORTED,
    &TO_SPLICED,
    &TO_STRING,
    &UNSHIFT,
    &VALUES,
    &WITH,
];

/// Bytes one element adds to the heap's count (as `heap::Obj::size` counts them).
const ELEM_BYTES: usize = 24;
/// V8's String::kMaxLength on 64-bit machines; longer strings throw a RangeError.
const MAX_STRING_LEN: usize = (1 << 29) - 24;
/// 2^53 - 1, the largest length an array-like may have.
const MAX_SAFE: f64 = 9007199254740991.0;

// ---------------------------------------------------------------------------------------------------
// Element access: [[Get]], [[HasProperty]], [[Set]], [[Delete]] on array indices.

pub(crate) fn is_callable(cx: &Cx, v: &Value) -> bool {
    match v {
        Value::Obj(o) => matches!(
            cx.heap.kind(*o),
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound { .. }
        ),
        _ => false,
    }
}

fn index_key(i: usize) -> JsStr {
    ops::number_to_jsstr(i as f64)
}

/// The array `this` a method works on; other receivers give up (null and undefined throw).
fn this_array(cx: &Cx, this: &Value) -> JsResult<ObjRef> {
    match this {
        Value::Obj(o) if matches!(cx.heap.kind(*o), ObjKind::Array(_)) => Ok(*o),
        Value::Undefined | Value::Null | Value::Hole => {
            engine_error("Array.prototype method called on null or undefined")
        }
        _ => unsupported("an Array.prototype method called on something that is not an array"),
    }
}

fn len_of(cx: &Cx, o: ObjRef) -> usize {
    match cx.heap.kind(o) {
        ObjKind::Array(items) => items.len(),
        _ => 0,
    }
}

/// Get(O, i).
fn get_idx(cx: &mut Cx, o: ObjRef, i: usize) -> JsResult<Value> {
    if let ObjKind::Array(items) = cx.heap.kind(o) {
        if let Some(v) = items.get(i) {
            if !matches!(v, Value::Hole) {
                return Ok(v.clone());
            }
        }
    }
    props::get(cx, &Value::Obj(o), index_key(i).units())
}

/// HasProperty(O, i).
fn has_idx(cx: &mut Cx, o: ObjRef, i: usize) -> JsResult<bool> {
    if let ObjKind::Array(items) = cx.heap.kind(o) {
        if items.get(i).is_some_and(|v| !matches!(v, Value::Hole)) {
            return Ok(true);
        }
    }
    props::has_property(cx, &Value::Obj(o), index_key(i).units())
}

/// Set(O, i, v, true).
fn set_idx(cx: &mut Cx, o: ObjRef, i: usize, v: Value) -> JsResult<()> {
    props::set_computed(cx, &Value::Obj(o), &Value::Num(i as f64), v)
}

/// DeletePropertyOrThrow(O, i).
fn delete_idx(cx: &mut Cx, o: ObjRef, i: usize) -> JsResult<()> {
    if props::delete(cx, &Value::Obj(o), index_key(i).units())? {
        Ok(())
    } else {
        engine_error("Cannot delete property of [object Array]")
    }
}

/// Set(O, "length", n, true).
fn set_len(cx: &mut Cx, o: ObjRef, n: usize) -> JsResult<()> {
    props::set(
        cx,
        &Value::Obj(o),
        &props::key("length"),
        Value::Num(n as f64),
    )
}

/// Appends to a fresh array no user code has seen.
fn push_raw(cx: &mut Cx, a: ObjRef, v: Value) -> JsResult<()> {
    if let ObjKind::Array(items) = &mut cx.heap.get_mut_grow(a, ELEM_BYTES)?.kind {
        items.push(v.unhole());
    }
    Ok(())
}

/// A new array of `n` holes; the heap is charged before the elements are made.
fn new_holes(cx: &mut Cx, n: usize) -> JsResult<ObjRef> {
    let a = cx.new_array(Vec::new())?.as_obj().expect("array");
    if n > 0 {
        let obj = cx.heap.get_mut_grow(a, n.saturating_mul(ELEM_BYTES))?;
        if let ObjKind::Array(items) = &mut obj.kind {
            items.resize(n, Value::Hole);
        }
    }
    Ok(a)
}

/// Whether the prototypes of `o` hold no indexed property, so that a hole reads as `undefined`, is
/// absent for [[HasProperty]], and reading one runs no user code.
fn plain_protos(cx: &Cx, o: ObjRef) -> bool {
    let mut cur = cx.heap.get(o).proto;
    while let Some(p) = cur {
        let obj = cx.heap.get(p);
        if !matches!(obj.kind, ObjKind::Ordinary)
            || obj.props.keys().any(|k| k.as_array_index().is_some())
        {
            return false;
        }
        cur = obj.proto;
    }
    true
}

/// ArraySpeciesCreate(O, n) (ECMA-262 §10.4.2.3) for the constructors the runtime models: `Array`
/// itself or no constructor at all.
fn species_create(cx: &mut Cx, o: ObjRef, n: usize) -> JsResult<ObjRef> {
    let c = props::get(cx, &Value::Obj(o), &props::key("constructor"))?;
    match c {
        Value::Undefined | Value::Hole => {}
        Value::Obj(c) => {
            if cx.realm.global("Array").and_then(|a| a.as_obj()) != Some(c) {
                return unsupported("ArraySpeciesCreate with a constructor other than Array");
            }
        }
        _ => return engine_error("object.constructor[Symbol.species] is not a constructor"),
    }
    new_holes(cx, n)
}

/// ToIntegerOrInfinity(v) made a position in 0..=len as the spec's relative indices are.
fn relative(cx: &mut Cx, v: &Value, len: usize) -> JsResult<usize> {
    let n = ops::to_integer_or_infinity(cx, v)?;
    Ok(clamp_rel(n, len))
}

fn clamp_rel(n: f64, len: usize) -> usize {
    let l = len as f64;
    if n < 0.0 {
        (l + n).max(0.0) as usize
    } else {
        n.min(l) as usize
    }
}

/// ToLength (ECMA-262 §7.1.20).
fn to_length(cx: &mut Cx, v: &Value) -> JsResult<f64> {
    let n = ops::to_integer_or_infinity(cx, v)?;
    Ok(n.clamp(0.0, MAX_SAFE))
}

fn callback(cx: &Cx, v: &Value) -> JsResult<()> {
    if is_callable(cx, v) {
        Ok(())
    } else {
        engine_error("callback is not a function")
    }
}

// ---------------------------------------------------------------------------------------------------
// Iteration of the iterables the runtime models.

/// One value an iterator produced. Map entries stay a pair until something needs the `[k, v]` array.
pub enum Item {
    One(Value),
    Pair(Value, Value),
}

impl Item {
    pub fn into_value(self, cx: &mut Cx) -> JsResult<Value> {
        match self {
            Item::One(v) => Ok(v),
            Item::Pair(k, v) => cx.new_array(vec![k, v]),
        }
    }
}

/// A live iterator over an array (%ArrayIteratorPrototype%: length and elements read at every step),
/// a string (by code points), a Map (entries) or a Set (values).
pub enum JsIter {
    Array { o: ObjRef, i: usize },
    Str { s: JsStr, i: usize },
    Coll(Cursor),
}

impl JsIter {
    /// GetIterator(v): `None` when `v` is not iterable (the caller throws or falls back to array-likes);
    /// gives up for objects that inherit an iterator the runtime does not model.
    pub fn open(cx: &Cx, v: &Value) -> JsResult<Option<JsIter>> {
        match v {
            Value::Str(s) => Ok(Some(JsIter::Str { s: s.clone(), i: 0 })),
            Value::Obj(o) => match cx.heap.kind(*o) {
                ObjKind::Array(_) => Ok(Some(JsIter::Array { o: *o, i: 0 })),
                ObjKind::Map(_) | ObjKind::Set(_) => Ok(Some(JsIter::Coll(Cursor::new(*o)))),
                ObjKind::Host(_) => unsupported("iterating a host object"),
                _ => {
                    let r = &cx.realm;
                    let iterable_protos = [r.array_proto, r.map_proto, r.set_proto, r.string_proto];
                    let mut cur = cx.heap.get(*o).proto;
                    while let Some(p) = cur {
                        if iterable_protos.contains(&p) {
                            return unsupported(
                                "iterating an object that inherits a builtin iterator",
                            );
                        }
                        cur = cx.heap.get(p).proto;
                    }
                    Ok(None)
                }
            },
            _ => Ok(None),
        }
    }

    pub fn next(&mut self, cx: &mut Cx) -> JsResult<Option<Item>> {
        match self {
            JsIter::Array { o, i } => {
                if *i >= len_of(cx, *o) {
                    return Ok(None);
                }
                let v = get_idx(cx, *o, *i)?;
                *i += 1;
                Ok(Some(Item::One(v)))
            }
            JsIter::Str { s, i } => {
                let u = s.units();
                if *i >= u.len() {
                    return Ok(None);
                }
                let n = if (0xD800..0xDC00).contains(&u[*i])
                    && *i + 1 < u.len()
                    && (0xDC00..0xE000).contains(&u[*i + 1])
                {
                    2
                } else {
                    1
                };
                let part = u[*i..*i + n].to_vec();
                *i += n;
                Ok(Some(Item::One(cx.new_str(part)?)))
            }
            JsIter::Coll(c) => Ok(c.next(cx).map(|(k, v)| match v {
                Some(v) => Item::Pair(k, v),
                None => Item::One(k),
            })),
        }
    }
}

/// The values an iterable produces, for spread, for-of and array destructuring: arrays (holes read as
/// the spec reads them, normally `undefined`), strings by code points, Maps as `[key, value]` arrays,
/// Sets as their values. Anything else gives up (a TypeError in Node for non-iterables).
pub fn iterate_to_vec(cx: &mut Cx, v: &Value) -> JsResult<Vec<Value>> {
    let mut it = match JsIter::open(cx, v)? {
        Some(it) => it,
        None => return engine_error("is not iterable"),
    };
    let mut out = Vec::new();
    while let Some(item) = it.next(cx)? {
        cx.tick()?;
        out.push(item.into_value(cx)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// The constructor and its statics

fn array_call(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    construct_array(cx, args)
}

fn array_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    if this.is_some() {
        return unsupported("a subclass of Array");
    }
    construct_array(cx, args)
}

/// Array(...values) (ECMA-262 §23.1.1.1): one number argument is a length.
fn construct_array(cx: &mut Cx, args: &[Value]) -> JsResult<Value> {
    if let [Value::Num(n)] = args {
        let len = ops::f64_to_uint32(*n);
        if len as f64 != *n {
            return engine_error("Invalid array length");
        }
        return Ok(Value::Obj(new_holes(cx, len as usize)?));
    }
    cx.new_array(args.iter().map(|v| v.clone().unhole()).collect())
}

fn is_array(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(
        matches!(arg(args, 0), Value::Obj(o) if matches!(cx.heap.kind(o), ObjKind::Array(_))),
    ))
}

/// The `this` of Array.from and Array.of must be Array or not a constructor (then they make plain
/// arrays too); other constructors would be called, which we do not model.
fn plain_array_receiver(cx: &Cx, this: &Value) -> JsResult<()> {
    if let Value::Obj(o) = this {
        if is_callable(cx, this) && cx.realm.global("Array").and_then(|a| a.as_obj()) != Some(*o) {
            return unsupported("Array.from or Array.of with a constructor other than Array");
        }
    }
    Ok(())
}

/// Array.from(items, mapfn, thisArg) (ECMA-262 §23.1.2.1).
fn from(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    plain_array_receiver(cx, this)?;
    let items = arg(args, 0);
    let mapfn = arg(args, 1);
    let this_arg = arg(args, 2);
    let mapping = !mapfn.is_undefined();
    if mapping && !is_callable(cx, &mapfn) {
        return engine_error("is not a function");
    }
    if let Some(mut it) = JsIter::open(cx, &items)? {
        let a = cx.new_array(Vec::new())?.as_obj().expect("array");
        let mut k = 0usize;
        while let Some(item) = it.next(cx)? {
            cx.tick()?;
            let v = item.into_value(cx)?;
            let v = if mapping {
                call::call(cx, &mapfn, this_arg.clone(), &[v, Value::Num(k as f64)])?
            } else {
                v
            };
            push_raw(cx, a, v)?;
            k += 1;
        }
        return Ok(Value::Obj(a));
    }
    // An array-like.
    if items.is_nullish() {
        return engine_error("Cannot convert undefined or null to object");
    }
    let len_v = props::get(cx, &items, &props::key("length"))?;
    let len = to_length(cx, &len_v)?;
    if len > u32::MAX as f64 {
        return engine_error("Invalid array length");
    }
    let len = len as usize;
    let a = new_holes(cx, len)?;
    for k in 0..len {
        cx.tick()?;
        let v = props::get_computed(cx, &items, &Value::Num(k as f64))?;
        let v = if mapping {
            call::call(cx, &mapfn, this_arg.clone(), &[v, Value::Num(k as f64)])?
        } else {
            v
        };
        set_idx(cx, a, k, v)?;
    }
    Ok(Value::Obj(a))
}

/// Array.of(...items) (ECMA-262 §23.1.2.3).
fn of(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    plain_array_receiver(cx, this)?;
    cx.new_array(args.iter().map(|v| v.clone().unhole()).collect())
}

fn array_kind(k: &ObjKind) -> bool {
    matches!(k, ObjKind::Array(_))
}
fn keys_iter(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    crate::builtins::make_iterator(cx, this, crate::builtins::IterPart::Keys, array_kind, "Array.prototype.keys (on a non-array)")
}
fn values_iter(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    crate::builtins::make_iterator(cx, this, crate::builtins::IterPart::Values, array_kind, "Array.prototype.values (on a non-array)")
}
fn entries_iter(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    crate::builtins::make_iterator(cx, this, crate::builtins::IterPart::Entries, array_kind, "Array.prototype.entries (on a non-array)")
}

fn to_locale_string(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    unsupported("Array.prototype.toLocaleString")
}

// ---------------------------------------------------------------------------------------------------
// Accessors that do not change the array

/// Array.prototype.at (ECMA-262 §23.1.3.1).
fn at(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o) as f64;
    let rel = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    let k = if rel >= 0.0 { rel } else { len + rel };
    if k < 0.0 || k >= len {
        return Ok(Value::Undefined);
    }
    get_idx(cx, o, k as usize)
}

/// Array.prototype.concat (ECMA-262 §23.1.3.2): arrays are spread, other values appended.
fn concat(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let a = species_create(cx, o, 0)?;
    let mut n = 0usize;
    for e in std::iter::once(this).chain(args.iter()) {
        match e {
            Value::Obj(eo) if matches!(cx.heap.kind(*eo), ObjKind::Array(_)) => {
                let eo = *eo;
                let len = len_of(cx, eo);
                for k in 0..len {
                    cx.tick()?;
                    if has_idx(cx, eo, k)? {
                        let v = get_idx(cx, eo, k)?;
                        set_idx(cx, a, n, v)?;
                    }
                    n += 1;
                }
            }
            _ => {
                set_idx(cx, a, n, e.clone().unhole())?;
                n += 1;
            }
        }
    }
    set_len(cx, a, n)?;
    Ok(Value::Obj(a))
}

/// Array.prototype.includes (ECMA-262 §23.1.3.16): SameValueZero, holes read as undefined.
fn includes(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len == 0 {
        return Ok(Value::Bool(false));
    }
    let target = arg(args, 0);
    let n = ops::to_integer_or_infinity(cx, &arg(args, 1))?;
    if n == f64::INFINITY {
        return Ok(Value::Bool(false));
    }
    let mut k = clamp_rel(n, len);
    while k < len {
        cx.tick()?;
        let v = get_idx(cx, o, k)?;
        if ops::same_value_zero(&v, &target) {
            return Ok(Value::Bool(true));
        }
        k += 1;
    }
    Ok(Value::Bool(false))
}

/// Array.prototype.indexOf (ECMA-262 §23.1.3.17): strict equality, holes skipped.
fn index_of(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len == 0 {
        return Ok(Value::Num(-1.0));
    }
    let target = arg(args, 0);
    let n = ops::to_integer_or_infinity(cx, &arg(args, 1))?;
    if n == f64::INFINITY {
        return Ok(Value::Num(-1.0));
    }
    let mut k = clamp_rel(n, len);
    while k < len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if ops::strict_equals(&v, &target) {
                return Ok(Value::Num(k as f64));
            }
        }
        k += 1;
    }
    Ok(Value::Num(-1.0))
}

/// Array.prototype.lastIndexOf (ECMA-262 §23.1.3.20).
fn last_index_of(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len == 0 {
        return Ok(Value::Num(-1.0));
    }
    let target = arg(args, 0);
    let n = if args.len() > 1 {
        ops::to_integer_or_infinity(cx, &args[1])?
    } else {
        len as f64 - 1.0
    };
    if n == f64::NEG_INFINITY {
        return Ok(Value::Num(-1.0));
    }
    let mut k = if n >= 0.0 {
        n.min(len as f64 - 1.0)
    } else {
        len as f64 + n
    };
    while k >= 0.0 {
        cx.tick()?;
        let i = k as usize;
        if has_idx(cx, o, i)? {
            let v = get_idx(cx, o, i)?;
            if ops::strict_equals(&v, &target) {
                return Ok(Value::Num(k));
            }
        }
        k -= 1.0;
    }
    Ok(Value::Num(-1.0))
}

thread_local! {
    /// Arrays being joined now (V8's join stack), for the cycle check.
    static JOINING: RefCell<Vec<ObjRef>> = const { RefCell::new(Vec::new()) };
}

/// Takes an array off the join stack when its join ends, however it ends.
struct Joining;
impl Drop for Joining {
    fn drop(&mut self) {
        let _ = JOINING.try_with(|j| j.borrow_mut().pop());
    }
}

/// Array.prototype.join (ECMA-262 §23.1.3.18) with V8's cycle check.
fn join(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let sep = match arg(args, 0) {
        Value::Undefined | Value::Hole => JsStr::from(","),
        s => ops::to_string(cx, &s)?,
    };
    if len > 1 && (len - 1).saturating_mul(sep.len()) > MAX_STRING_LEN {
        return engine_error("Invalid string length");
    }
    if len == 0 {
        return Ok(Value::Str(JsStr::empty()));
    }
    let depth = JOINING.with(|j| {
        let mut j = j.borrow_mut();
        if j.contains(&o) {
            None
        } else {
            j.push(o);
            Some(j.len())
        }
    });
    let Some(depth) = depth else {
        return Ok(Value::Str(JsStr::empty()));
    };
    let _guard = Joining;
    if depth > 200 {
        return unsupported("join of arrays nested deeper than the runtime's limit");
    }
    let mut out: Vec<u16> = Vec::new();
    for k in 0..len {
        cx.tick()?;
        if k > 0 {
            cx.heap.charge(sep.len() * 2)?;
            out.extend_from_slice(sep.units());
        }
        let v = get_idx(cx, o, k)?;
        if !v.is_nullish() {
            let s = ops::to_string(cx, &v)?;
            cx.heap.charge(s.len() * 2)?;
            out.extend_from_slice(s.units());
        }
        if out.len() > MAX_STRING_LEN {
            return engine_error("Invalid string length");
        }
    }
    cx.heap.charge(16)?;
    Ok(Value::Str(JsStr::from_units(out)))
}

/// Array.prototype.toString (ECMA-262 §23.1.3.36): `this.join()`, or Object.prototype.toString when
/// there is no `join` method.
fn to_string(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    match this {
        Value::Obj(_) => {}
        Value::Undefined | Value::Null | Value::Hole => {
            return engine_error("Cannot convert undefined or null to object")
        }
        _ => return unsupported("Array.prototype.toString on a primitive"),
    }
    match call::resolve_method(cx, this, &props::key("join"))? {
        Some(Callee::Native(d)) if std::ptr::eq(d, &JOIN) => join(cx, this, &[]),
        Some(c) => call::invoke(cx, &c, this.clone(), &[]),
        None => crate::builtins::object::object_to_string(cx, this),
    }
}

/// Array.prototype.slice (ECMA-262 §23.1.3.28).
fn slice(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let mut k = relative(cx, &arg(args, 0), len)?;
    let end = arg(args, 1);
    let fin = if end.is_undefined() {
        len
    } else {
        relative(cx, &end, len)?
    };
    let count = fin.saturating_sub(k);
    let a = species_create(cx, o, count)?;
    let mut n = 0usize;
    while k < fin {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            set_idx(cx, a, n, v)?;
        }
        k += 1;
        n += 1;
    }
    set_len(cx, a, n)?;
    Ok(Value::Obj(a))
}

/// Array.prototype.flat (ECMA-262 §23.1.3.13).
fn flat(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let d = arg(args, 0);
    let depth = if d.is_undefined() {
        1.0
    } else {
        ops::to_integer_or_infinity(cx, &d)?.max(0.0)
    };
    let a = species_create(cx, o, 0)?;
    flatten_into(cx, a, o, len, 0, depth, None, 0)?;
    Ok(Value::Obj(a))
}

/// Array.prototype.flatMap (ECMA-262 §23.1.3.14).
fn flat_map(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let a = species_create(cx, o, 0)?;
    flatten_into(cx, a, o, len, 0, 1.0, Some((&f, &arg(args, 1))), 0)?;
    Ok(Value::Obj(a))
}

/// FlattenIntoArray (ECMA-262 §23.1.3.13.1); returns the next target index.
#[allow(clippy::too_many_arguments)]
fn flatten_into(
    cx: &mut Cx,
    target: ObjRef,
    source: ObjRef,
    source_len: usize,
    start: usize,
    depth: f64,
    mapper: Option<(&Value, &Value)>,
    nesting: u32,
) -> JsResult<usize> {
    if nesting > 2000 {
        return unsupported("flat of arrays nested deeper than the runtime's limit");
    }
    let mut t = start;
    for i in 0..source_len {
        cx.tick()?;
        if !has_idx(cx, source, i)? {
            continue;
        }
        let mut e = get_idx(cx, source, i)?;
        if let Some((f, this_arg)) = mapper {
            e = call::call(
                cx,
                f,
                this_arg.clone(),
                &[e, Value::Num(i as f64), Value::Obj(source)],
            )?;
        }
        let inner = match &e {
            Value::Obj(eo) if depth > 0.0 && matches!(cx.heap.kind(*eo), ObjKind::Array(_)) => {
                Some(*eo)
            }
            _ => None,
        };
        match inner {
            Some(eo) => {
                let new_depth = if depth == f64::INFINITY {
                    depth
                } else {
                    depth - 1.0
                };
                let elen = len_of(cx, eo);
                t = flatten_into(cx, target, eo, elen, t, new_depth, None, nesting + 1)?;
            }
            None => {
                set_idx(cx, target, t, e)?;
                t += 1;
            }
        }
    }
    Ok(t)
}

/// Array.prototype.toReversed (ECMA-262 §23.1.3.33).
fn to_reversed(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let a = cx.new_array(Vec::new())?.as_obj().expect("array");
    for k in 0..len {
        cx.tick()?;
        let v = get_idx(cx, o, len - 1 - k)?;
        push_raw(cx, a, v)?;
    }
    Ok(Value::Obj(a))
}

/// Array.prototype.toSpliced (ECMA-262 §23.1.3.35).
fn to_spliced(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let start = relative(cx, &arg(args, 0), len)?;
    let items: &[Value] = if args.len() > 2 { &args[2..] } else { &[] };
    let skip = if args.is_empty() {
        0
    } else if args.len() == 1 {
        len - start
    } else {
        let sc = ops::to_integer_or_infinity(cx, &args[1])?;
        sc.clamp(0.0, (len - start) as f64) as usize
    };
    let new_len = len + items.len() - skip;
    if new_len > u32::MAX as usize {
        return engine_error("Invalid array length");
    }
    let a = cx.new_array(Vec::new())?.as_obj().expect("array");
    for i in 0..start {
        cx.tick()?;
        let v = get_idx(cx, o, i)?;
        push_raw(cx, a, v)?;
    }
    for e in items {
        push_raw(cx, a, e.clone())?;
    }
    let mut r = start + skip;
    while len_of(cx, a) < new_len {
        cx.tick()?;
        let v = get_idx(cx, o, r)?;
        push_raw(cx, a, v)?;
        r += 1;
    }
    Ok(Value::Obj(a))
}

/// Array.prototype.with (ECMA-262 §23.1.3.39).
fn with(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let rel = ops::to_integer_or_infinity(cx, &arg(args, 0))?;
    let actual = if rel >= 0.0 { rel } else { len as f64 + rel };
    if actual >= len as f64 || actual < 0.0 {
        return engine_error("Invalid index");
    }
    let actual = actual as usize;
    let value = arg(args, 1);
    let a = cx.new_array(Vec::new())?.as_obj().expect("array");
    for k in 0..len {
        cx.tick()?;
        let v = if k == actual {
            value.clone()
        } else {
            get_idx(cx, o, k)?
        };
        push_raw(cx, a, v)?;
    }
    Ok(Value::Obj(a))
}

// ---------------------------------------------------------------------------------------------------
// Callback methods

/// Calls `f(element, index, array)` with `this_arg`.
fn call3(
    cx: &mut Cx,
    f: &Value,
    this_arg: &Value,
    v: Value,
    k: usize,
    o: ObjRef,
) -> JsResult<Value> {
    call::call(
        cx,
        f,
        this_arg.clone(),
        &[v, Value::Num(k as f64), Value::Obj(o)],
    )
}

/// Array.prototype.every (ECMA-262 §23.1.3.6).
fn every(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let t = arg(args, 1);
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if !ops::to_boolean(&call3(cx, &f, &t, v, k, o)?) {
                return Ok(Value::Bool(false));
            }
        }
    }
    Ok(Value::Bool(true))
}

/// Array.prototype.some (ECMA-262 §23.1.3.29).
fn some(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let t = arg(args, 1);
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if ops::to_boolean(&call3(cx, &f, &t, v, k, o)?) {
                return Ok(Value::Bool(true));
            }
        }
    }
    Ok(Value::Bool(false))
}

/// Array.prototype.forEach (ECMA-262 §23.1.3.15).
fn for_each(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let t = arg(args, 1);
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            call3(cx, &f, &t, v, k, o)?;
        }
    }
    Ok(Value::Undefined)
}

/// Array.prototype.map (ECMA-262 §23.1.3.21): holes stay holes.
fn map(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let t = arg(args, 1);
    let a = species_create(cx, o, len)?;
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            let r = call3(cx, &f, &t, v, k, o)?;
            set_idx(cx, a, k, r)?;
        }
    }
    Ok(Value::Obj(a))
}

/// Array.prototype.filter (ECMA-262 §23.1.3.8).
fn filter(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let t = arg(args, 1);
    let a = species_create(cx, o, 0)?;
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if ops::to_boolean(&call3(cx, &f, &t, v.clone(), k, o)?) {
                push_raw(cx, a, v)?;
            }
        }
    }
    Ok(Value::Obj(a))
}

/// FindViaPredicate (ECMA-262 §23.1.3.12.1): every index, holes included. Returns (index, value).
fn find_via(
    cx: &mut Cx,
    this: &Value,
    args: &[Value],
    last: bool,
) -> JsResult<Option<(usize, Value)>> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    let t = arg(args, 1);
    for j in 0..len {
        cx.tick()?;
        let k = if last { len - 1 - j } else { j };
        let v = get_idx(cx, o, k)?;
        if ops::to_boolean(&call3(cx, &f, &t, v.clone(), k, o)?) {
            return Ok(Some((k, v)));
        }
    }
    Ok(None)
}

fn find(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(find_via(cx, this, args, false)?
        .map(|(_, v)| v)
        .unwrap_or(Value::Undefined))
}

fn find_index(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Num(
        find_via(cx, this, args, false)?
            .map(|(k, _)| k as f64)
            .unwrap_or(-1.0),
    ))
}

fn find_last(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(find_via(cx, this, args, true)?
        .map(|(_, v)| v)
        .unwrap_or(Value::Undefined))
}

fn find_last_index(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Num(
        find_via(cx, this, args, true)?
            .map(|(k, _)| k as f64)
            .unwrap_or(-1.0),
    ))
}

/// Array.prototype.reduce and reduceRight (ECMA-262 §23.1.3.24, §23.1.3.25).
fn reduce_impl(cx: &mut Cx, this: &Value, args: &[Value], right: bool) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    callback(cx, &f)?;
    if len == 0 && args.len() < 2 {
        return engine_error("Reduce of empty array with no initial value");
    }
    let idx = |j: usize| if right { len - 1 - j } else { j };
    let mut j = 0usize;
    let mut acc = if args.len() >= 2 {
        args[1].clone()
    } else {
        let mut found = None;
        while found.is_none() && j < len {
            cx.tick()?;
            let k = idx(j);
            if has_idx(cx, o, k)? {
                found = Some(get_idx(cx, o, k)?);
            }
            j += 1;
        }
        match found {
            Some(v) => v,
            None => return engine_error("Reduce of empty array with no initial value"),
        }
    };
    while j < len {
        cx.tick()?;
        let k = idx(j);
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            acc = call::call(
                cx,
                &f,
                Value::Undefined,
                &[acc, v, Value::Num(k as f64), Value::Obj(o)],
            )?;
        }
        j += 1;
    }
    Ok(acc)
}

fn reduce(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    reduce_impl(cx, this, args, false)
}

fn reduce_right(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    reduce_impl(cx, this, args, true)
}

// ---------------------------------------------------------------------------------------------------
// Methods that change the array

/// Array.prototype.push (ECMA-262 §23.1.3.23).
fn push(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if plain_protos(cx, o) {
        cx.burn(args.len() as u64)?;
        if let ObjKind::Array(items) = &mut cx.heap.get_mut_grow(o, args.len() * ELEM_BYTES)?.kind {
            items.extend(args.iter().map(|v| v.clone().unhole()));
        }
    } else {
        for (j, v) in args.iter().enumerate() {
            set_idx(cx, o, len + j, v.clone().unhole())?;
        }
        set_len(cx, o, len + args.len())?;
    }
    Ok(Value::Num((len + args.len()) as f64))
}

/// Array.prototype.pop (ECMA-262 §23.1.3.22).
fn pop(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len == 0 {
        set_len(cx, o, 0)?;
        return Ok(Value::Undefined);
    }
    let v = get_idx(cx, o, len - 1)?;
    delete_idx(cx, o, len - 1)?;
    set_len(cx, o, len - 1)?;
    Ok(v)
}

/// Array.prototype.shift (ECMA-262 §23.1.3.27).
fn shift(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len == 0 {
        set_len(cx, o, 0)?;
        return Ok(Value::Undefined);
    }
    let first = get_idx(cx, o, 0)?;
    if plain_protos(cx, o) && len_of(cx, o) == len {
        cx.burn((len / 16) as u64)?;
        if let ObjKind::Array(items) = &mut cx.heap.get_mut(o)?.kind {
            items.remove(0);
        }
        return Ok(first);
    }
    for k in 1..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            set_idx(cx, o, k - 1, v)?;
        } else {
            delete_idx(cx, o, k - 1)?;
        }
    }
    delete_idx(cx, o, len - 1)?;
    set_len(cx, o, len - 1)?;
    Ok(first)
}

/// Array.prototype.unshift (ECMA-262 §23.1.3.37).
fn unshift(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let n = args.len();
    if n > 0 {
        if plain_protos(cx, o) {
            cx.burn(((len / 16) + n) as u64)?;
            if let ObjKind::Array(items) = &mut cx.heap.get_mut_grow(o, n * ELEM_BYTES)?.kind {
                items.splice(0..0, args.iter().map(|v| v.clone().unhole()));
            }
            return Ok(Value::Num((len + n) as f64));
        }
        let mut k = len;
        while k > 0 {
            cx.tick()?;
            let from = k - 1;
            let to = k + n - 1;
            if has_idx(cx, o, from)? {
                let v = get_idx(cx, o, from)?;
                set_idx(cx, o, to, v)?;
            } else {
                delete_idx(cx, o, to)?;
            }
            k -= 1;
        }
        for (j, v) in args.iter().enumerate() {
            set_idx(cx, o, j, v.clone().unhole())?;
        }
    }
    set_len(cx, o, len + n)?;
    Ok(Value::Num((len + n) as f64))
}

/// Array.prototype.splice (ECMA-262 §23.1.3.31).
fn splice(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let start = relative(cx, &arg(args, 0), len)?;
    let items: &[Value] = if args.len() > 2 { &args[2..] } else { &[] };
    let del = if args.is_empty() {
        0
    } else if args.len() == 1 {
        len - start
    } else {
        let dc = ops::to_integer_or_infinity(cx, &args[1])?;
        dc.clamp(0.0, (len - start) as f64) as usize
    };
    let a = species_create(cx, o, del)?;
    let n = items.len();
    if plain_protos(cx, o) && len_of(cx, o) == len {
        // Nothing the spec's steps read from here on can run user code or see the prototypes: moving
        // the elements at once is the same.
        cx.burn(((len / 16) + n + del) as u64)?;
        let grow = n.saturating_sub(del) * ELEM_BYTES;
        let removed: Vec<Value> = match &mut cx.heap.get_mut_grow(o, grow)?.kind {
            ObjKind::Array(v) => v
                .splice(start..start + del, items.iter().map(|x| x.clone().unhole()))
                .collect(),
            _ => Vec::new(),
        };
        if let ObjKind::Array(v) = &mut cx.heap.get_mut(a)?.kind {
            *v = removed;
        }
        return Ok(Value::Obj(a));
    }
    for k in 0..del {
        cx.tick()?;
        if has_idx(cx, o, start + k)? {
            let v = get_idx(cx, o, start + k)?;
            set_idx(cx, a, k, v)?;
        }
    }
    set_len(cx, a, del)?;
    if n < del {
        for k in start..len - del {
            cx.tick()?;
            let (from, to) = (k + del, k + n);
            if has_idx(cx, o, from)? {
                let v = get_idx(cx, o, from)?;
                set_idx(cx, o, to, v)?;
            } else {
                delete_idx(cx, o, to)?;
            }
        }
        let mut k = len;
        while k > len - del + n {
            cx.tick()?;
            delete_idx(cx, o, k - 1)?;
            k -= 1;
        }
    } else if n > del {
        let mut k = len - del;
        while k > start {
            cx.tick()?;
            let (from, to) = (k + del - 1, k + n - 1);
            if has_idx(cx, o, from)? {
                let v = get_idx(cx, o, from)?;
                set_idx(cx, o, to, v)?;
            } else {
                delete_idx(cx, o, to)?;
            }
            k -= 1;
        }
    }
    for (j, v) in items.iter().enumerate() {
        set_idx(cx, o, start + j, v.clone().unhole())?;
    }
    set_len(cx, o, len - del + n)?;
    Ok(Value::Obj(a))
}

/// Array.prototype.reverse (ECMA-262 §23.1.3.26).
fn reverse(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if plain_protos(cx, o) {
        if len > 1 {
            cx.burn((len / 16) as u64)?;
            if let ObjKind::Array(items) = &mut cx.heap.get_mut(o)?.kind {
                items.reverse();
            }
        }
        return Ok(this.clone());
    }
    let middle = len / 2;
    for lower in 0..middle {
        cx.tick()?;
        let upper = len - lower - 1;
        let lower_exists = has_idx(cx, o, lower)?;
        let lower_v = if lower_exists {
            get_idx(cx, o, lower)?
        } else {
            Value::Undefined
        };
        let upper_exists = has_idx(cx, o, upper)?;
        let upper_v = if upper_exists {
            get_idx(cx, o, upper)?
        } else {
            Value::Undefined
        };
        match (lower_exists, upper_exists) {
            (true, true) => {
                set_idx(cx, o, lower, upper_v)?;
                set_idx(cx, o, upper, lower_v)?;
            }
            (false, true) => {
                set_idx(cx, o, lower, upper_v)?;
                delete_idx(cx, o, upper)?;
            }
            (true, false) => {
                delete_idx(cx, o, lower)?;
                set_idx(cx, o, upper, lower_v)?;
            }
            (false, false) => {}
        }
    }
    Ok(this.clone())
}

/// Array.prototype.fill (ECMA-262 §23.1.3.7).
fn fill(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let value = arg(args, 0);
    let k = relative(cx, &arg(args, 1), len)?;
    let end = arg(args, 2);
    let fin = if end.is_undefined() {
        len
    } else {
        relative(cx, &end, len)?
    };
    for i in k..fin {
        cx.tick()?;
        set_idx(cx, o, i, value.clone())?;
    }
    Ok(this.clone())
}

/// Array.prototype.copyWithin (ECMA-262 §23.1.3.4).
fn copy_within(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let to = relative(cx, &arg(args, 0), len)?;
    let from = relative(cx, &arg(args, 1), len)?;
    let end = arg(args, 2);
    let fin = if end.is_undefined() {
        len
    } else {
        relative(cx, &end, len)?
    };
    let count = fin.saturating_sub(from).min(len - to);
    if count == 0 {
        return Ok(this.clone());
    }
    let backwards = from < to && to < from + count;
    for j in 0..count {
        cx.tick()?;
        let (f, t) = if backwards {
            (from + count - 1 - j, to + count - 1 - j)
        } else {
            (from + j, to + j)
        };
        if has_idx(cx, o, f)? {
            let v = get_idx(cx, o, f)?;
            set_idx(cx, o, t, v)?;
        } else {
            delete_idx(cx, o, t)?;
        }
    }
    Ok(this.clone())
}

// ---------------------------------------------------------------------------------------------------
// Sorting: V8's TimSort

/// SortCompare's comparator: the user's function, or ToString order.
enum Comparator {
    Default,
    User(Value),
}

/// What is being sorted: the values, and for the default order the ToString of each primitive.
struct Sorter<'a> {
    cmp: &'a Comparator,
    vals: Vec<Value>,
    strs: Vec<Option<JsStr>>,
    /// V8's minGallop: how many wins in a row switch a merge into galloping.
    min_gallop: usize,
    runs: Vec<(usize, usize)>,
}

const MIN_GALLOP: usize = 7;

/// V8's kMinTimSortLen as Node 26 behaves: `sort` sorts fewer values by binary insertion alone. Found by
/// counting comparisons on reversed arrays (7 values take 14, 8 values take 7, one count_run).
const MIN_TIMSORT_LEN: usize = 8;

impl Sorter<'_> {
    /// CompareArrayElements without the undefined cases (undefined values are not sorted).
    fn compare(&self, cx: &mut Cx, x: u32, y: u32) -> JsResult<f64> {
        cx.tick()?;
        let (x, y) = (x as usize, y as usize);
        match self.cmp {
            Comparator::User(f) => {
                let r = call::call(
                    cx,
                    f,
                    Value::Undefined,
                    &[self.vals[x].clone(), self.vals[y].clone()],
                )?;
                let n = ops::to_number(cx, &r)?;
                Ok(if n.is_nan() { 0.0 } else { n })
            }
            Comparator::Default => {
                let xs = match &self.strs[x] {
                    Some(s) => s.clone(),
                    None => ops::to_string(cx, &self.vals[x])?,
                };
                let ys = match &self.strs[y] {
                    Some(s) => s.clone(),
                    None => ops::to_string(cx, &self.vals[y])?,
                };
                Ok(match xs.cmp(&ys) {
                    Ordering::Less => -1.0,
                    Ordering::Equal => 0.0,
                    Ordering::Greater => 1.0,
                })
            }
        }
    }

    /// Sorts `w[low..high]` by binary insertion, `w[low..start]` being sorted already.
    fn binary_insertion(
        &self,
        cx: &mut Cx,
        w: &mut [u32],
        low: usize,
        start: usize,
        high: usize,
    ) -> JsResult<()> {
        let mut start = if low == start { start + 1 } else { start };
        while start < high {
            let pivot = w[start];
            let (mut left, mut right) = (low, start);
            while left < right {
                let mid = left + ((right - left) >> 1);
                if self.compare(cx, pivot, w[mid])? < 0.0 {
                    right = mid;
                } else {
                    left = mid + 1;
                }
            }
            w.copy_within(left..start, left + 1);
            w[left] = pivot;
            start += 1;
        }
        Ok(())
    }

    /// The length of the run starting at `low` (ascending, or strictly descending and then reversed).
    fn count_run(&self, cx: &mut Cx, w: &mut [u32], low: usize, high: usize) -> JsResult<usize> {
        if low + 1 == high {
            return Ok(1);
        }
        let descending = self.compare(cx, w[low + 1], w[low])? < 0.0;
        let mut n = 2;
        let mut prev = w[low + 1];
        let mut i = low + 2;
        while i < high {
            let order = self.compare(cx, w[i], prev)?;
            if (descending && order >= 0.0) || (!descending && order < 0.0) {
                break;
            }
            prev = w[i];
            n += 1;
            i += 1;
        }
        if descending {
            w[low..low + n].reverse();
        }
        Ok(n)
    }

    /// Where `key` goes in the sorted `a[base..base + len]`, left of any equal elements; the search
    /// starts from `hint`.
    fn gallop_left(
        &self,
        cx: &mut Cx,
        a: &[u32],
        key: u32,
        base: usize,
        len: usize,
        hint: usize,
    ) -> JsResult<usize> {
        let (len, hint) = (len as isize, hint as isize);
        let at = |i: isize| a[base + i as usize];
        let mut last: isize = 0;
        let mut ofs: isize = 1;
        if self.compare(cx, at(hint), key)? < 0.0 {
            let max = len - hint;
            while ofs < max {
                if self.compare(cx, at(hint + ofs), key)? >= 0.0 {
                    break;
                }
                last = ofs;
                ofs = (ofs << 1) + 1;
            }
            ofs = ofs.min(max);
            last += hint;
            ofs += hint;
        } else {
            let max = hint + 1;
            while ofs < max {
                if self.compare(cx, at(hint - ofs), key)? < 0.0 {
                    break;
                }
                last = ofs;
                ofs = (ofs << 1) + 1;
            }
            ofs = ofs.min(max);
            let tmp = last;
            last = hint - ofs;
            ofs = hint - tmp;
        }
        last += 1;
        while last < ofs {
            let m = last + ((ofs - last) >> 1);
            if self.compare(cx, at(m), key)? < 0.0 {
                last = m + 1;
            } else {
                ofs = m;
            }
        }
        Ok(ofs as usize)
    }

    /// Like `gallop_left`, but right of any equal elements.
    fn gallop_right(
        &self,
        cx: &mut Cx,
        a: &[u32],
        key: u32,
        base: usize,
        len: usize,
        hint: usize,
    ) -> JsResult<usize> {
        let (len, hint) = (len as isize, hint as isize);
        let at = |i: isize| a[base + i as usize];
        let mut last: isize = 0;
        let mut ofs: isize = 1;
        if self.compare(cx, key, at(hint))? < 0.0 {
            let max = hint + 1;
            while ofs < max {
                if self.compare(cx, key, at(hint - ofs))? >= 0.0 {
                    break;
                }
                last = ofs;
                ofs = (ofs << 1) + 1;
            }
            ofs = ofs.min(max);
            let tmp = last;
            last = hint - ofs;
            ofs = hint - tmp;
        } else {
            let max = len - hint;
            while ofs < max {
                if self.compare(cx, key, at(hint + ofs))? < 0.0 {
                    break;
                }
                last = ofs;
                ofs = (ofs << 1) + 1;
            }
            ofs = ofs.min(max);
            last += hint;
            ofs += hint;
        }
        last += 1;
        while last < ofs {
            let m = last + ((ofs - last) >> 1);
            if self.compare(cx, key, at(m))? < 0.0 {
                ofs = m;
            } else {
                last = m + 1;
            }
        }
        Ok(ofs as usize)
    }

    /// Merges the runs at stack positions `i` and `i + 1`.
    fn merge_at(&mut self, cx: &mut Cx, w: &mut [u32], i: usize) -> JsResult<()> {
        let (mut base_a, mut len_a) = self.runs[i];
        let (base_b, mut len_b) = self.runs[i + 1];
        self.runs[i].1 = len_a + len_b;
        if i + 3 == self.runs.len() {
            self.runs[i + 1] = self.runs[i + 2];
        }
        self.runs.pop();
        let k = self.gallop_right(cx, w, w[base_b], base_a, len_a, 0)?;
        base_a += k;
        len_a -= k;
        if len_a == 0 {
            return Ok(());
        }
        len_b = self.gallop_left(cx, w, w[base_a + len_a - 1], base_b, len_b, len_b - 1)?;
        if len_b == 0 {
            return Ok(());
        }
        if len_a <= len_b {
            self.merge_low(cx, w, base_a, len_a, base_b, len_b)
        } else {
            self.merge_high(cx, w, base_a, len_a, base_b, len_b)
        }
    }

    /// Merges `w[base_a..][..len_a]` and the run after it, copying the first (shorter) one out.
    fn merge_low(
        &mut self,
        cx: &mut Cx,
        w: &mut [u32],
        base_a: usize,
        len_a: usize,
        base_b: usize,
        len_b: usize,
    ) -> JsResult<()> {
        enum End {
            Done,
            CopyB,
        }
        let tmp: Vec<u32> = w[base_a..base_a + len_a].to_vec();
        let (mut len_a, mut len_b) = (len_a, len_b);
        let mut dest = base_a;
        let mut ct = 0usize;
        let mut cb = base_b;
        w[dest] = w[cb];
        dest += 1;
        cb += 1;
        len_b -= 1;
        let end = 'merge: {
            if len_b == 0 {
                break 'merge End::Done;
            }
            if len_a == 1 {
                break 'merge End::CopyB;
            }
            let mut min_gallop = self.min_gallop;
            loop {
                let mut wins_a = 0usize;
                let mut wins_b = 0usize;
                loop {
                    if self.compare(cx, w[cb], tmp[ct])? < 0.0 {
                        w[dest] = w[cb];
                        dest += 1;
                        cb += 1;
                        wins_b += 1;
                        len_b -= 1;
                        wins_a = 0;
                        if len_b == 0 {
                            break 'merge End::Done;
                        }
                        if wins_b >= min_gallop {
                            break;
                        }
                    } else {
                        w[dest] = tmp[ct];
                        dest += 1;
                        ct += 1;
                        wins_a += 1;
                        len_a -= 1;
                        wins_b = 0;
                        if len_a == 1 {
                            break 'merge End::CopyB;
                        }
                        if wins_a >= min_gallop {
                            break;
                        }
                    }
                }
                min_gallop += 1;
                let mut first = true;
                while wins_a >= MIN_GALLOP || wins_b >= MIN_GALLOP || first {
                    first = false;
                    min_gallop = min_gallop.saturating_sub(1).max(1);
                    self.min_gallop = min_gallop;
                    wins_a = self.gallop_right(cx, &tmp, w[cb], ct, len_a, 0)?;
                    if wins_a > 0 {
                        w[dest..dest + wins_a].copy_from_slice(&tmp[ct..ct + wins_a]);
                        dest += wins_a;
                        ct += wins_a;
                        len_a -= wins_a;
                        if len_a == 1 {
                            break 'merge End::CopyB;
                        }
                        if len_a == 0 {
                            break 'merge End::Done;
                        }
                    }
                    w[dest] = w[cb];
                    dest += 1;
                    cb += 1;
                    len_b -= 1;
                    if len_b == 0 {
                        break 'merge End::Done;
                    }
                    wins_b = self.gallop_left(cx, w, tmp[ct], cb, len_b, 0)?;
                    if wins_b > 0 {
                        w.copy_within(cb..cb + wins_b, dest);
                        dest += wins_b;
                        cb += wins_b;
                        len_b -= wins_b;
                        if len_b == 0 {
                            break 'merge End::Done;
                        }
                    }
                    w[dest] = tmp[ct];
                    dest += 1;
                    ct += 1;
                    len_a -= 1;
                    if len_a == 1 {
                        break 'merge End::CopyB;
                    }
                }
                min_gallop += 1;
                self.min_gallop = min_gallop;
            }
        };
        match end {
            End::Done => {
                if len_a > 0 {
                    w[dest..dest + len_a].copy_from_slice(&tmp[ct..ct + len_a]);
                }
            }
            End::CopyB => {
                w.copy_within(cb..cb + len_b, dest);
                w[dest + len_b] = tmp[ct];
            }
        }
        Ok(())
    }

    /// Merges `w[base_a..][..len_a]` and the run after it from the right, copying the second (shorter)
    /// one out.
    fn merge_high(
        &mut self,
        cx: &mut Cx,
        w: &mut [u32],
        base_a: usize,
        len_a: usize,
        base_b: usize,
        len_b: usize,
    ) -> JsResult<()> {
        enum End {
            Done,
            CopyA,
        }
        let tmp: Vec<u32> = w[base_b..base_b + len_b].to_vec();
        let (mut len_a, mut len_b) = (len_a as isize, len_b as isize);
        let mut dest = (base_b as isize) + len_b - 1;
        let mut ct = len_b - 1;
        let mut ca = (base_a as isize) + len_a - 1;
        let u = |i: isize| i as usize;
        w[u(dest)] = w[u(ca)];
        dest -= 1;
        ca -= 1;
        len_a -= 1;
        let end = 'merge: {
            if len_a == 0 {
                break 'merge End::Done;
            }
            if len_b == 1 {
                break 'merge End::CopyA;
            }
            let mut min_gallop = self.min_gallop as isize;
            loop {
                let mut wins_a: isize = 0;
                let mut wins_b: isize = 0;
                loop {
                    if self.compare(cx, tmp[u(ct)], w[u(ca)])? < 0.0 {
                        w[u(dest)] = w[u(ca)];
                        dest -= 1;
                        ca -= 1;
                        wins_a += 1;
                        len_a -= 1;
                        wins_b = 0;
                        if len_a == 0 {
                            break 'merge End::Done;
                        }
                        if wins_a >= min_gallop {
                            break;
                        }
                    } else {
                        w[u(dest)] = tmp[u(ct)];
                        dest -= 1;
                        ct -= 1;
                        wins_b += 1;
                        len_b -= 1;
                        wins_a = 0;
                        if len_b == 1 {
                            break 'merge End::CopyA;
                        }
                        if wins_b >= min_gallop {
                            break;
                        }
                    }
                }
                min_gallop += 1;
                let mut first = true;
                while wins_a >= MIN_GALLOP as isize || wins_b >= MIN_GALLOP as isize || first {
                    first = false;
                    min_gallop = (min_gallop - 1).max(1);
                    self.min_gallop = min_gallop as usize;
                    let k = self.gallop_right(cx, w, tmp[u(ct)], base_a, u(len_a), u(len_a - 1))?
                        as isize;
                    wins_a = len_a - k;
                    if wins_a > 0 {
                        dest -= wins_a;
                        ca -= wins_a;
                        w.copy_within(u(ca + 1)..u(ca + 1 + wins_a), u(dest + 1));
                        len_a -= wins_a;
                        if len_a == 0 {
                            break 'merge End::Done;
                        }
                    }
                    w[u(dest)] = tmp[u(ct)];
                    dest -= 1;
                    ct -= 1;
                    len_b -= 1;
                    if len_b == 1 {
                        break 'merge End::CopyA;
                    }
                    let k =
                        self.gallop_left(cx, &tmp, w[u(ca)], 0, u(len_b), u(len_b - 1))? as isize;
                    wins_b = len_b - k;
                    if wins_b > 0 {
                        dest -= wins_b;
                        ct -= wins_b;
                        w[u(dest + 1)..u(dest + 1 + wins_b)]
                            .copy_from_slice(&tmp[u(ct + 1)..u(ct + 1 + wins_b)]);
                        len_b -= wins_b;
                        if len_b == 1 {
                            break 'merge End::CopyA;
                        }
                        if len_b == 0 {
                            break 'merge End::Done;
                        }
                    }
                    w[u(dest)] = w[u(ca)];
                    dest -= 1;
                    ca -= 1;
                    len_a -= 1;
                    if len_a == 0 {
                        break 'merge End::Done;
                    }
                }
                min_gallop += 1;
                self.min_gallop = min_gallop as usize;
            }
        };
        match end {
            End::Done => {
                if len_b > 0 {
                    let d = u(dest - (len_b - 1));
                    w[d..d + u(len_b)].copy_from_slice(&tmp[..u(len_b)]);
                }
            }
            End::CopyA => {
                dest -= len_a;
                ca -= len_a;
                w.copy_within(u(ca + 1)..u(ca + 1 + len_a), u(dest + 1));
                w[u(dest)] = tmp[u(ct)];
            }
        }
        Ok(())
    }

    /// Merges runs until the stack's invariants hold again.
    fn merge_collapse(&mut self, cx: &mut Cx, w: &mut [u32]) -> JsResult<()> {
        let holds =
            |runs: &[(usize, usize)], n: usize| n < 2 || runs[n - 2].1 > runs[n - 1].1 + runs[n].1;
        while self.runs.len() > 1 {
            let mut n = self.runs.len() - 2;
            if !holds(&self.runs, n + 1) || !holds(&self.runs, n) {
                if self.runs[n - 1].1 < self.runs[n + 1].1 {
                    n -= 1;
                }
                self.merge_at(cx, w, n)?;
            } else if self.runs[n].1 <= self.runs[n + 1].1 {
                self.merge_at(cx, w, n)?;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn merge_force_collapse(&mut self, cx: &mut Cx, w: &mut [u32]) -> JsResult<()> {
        while self.runs.len() > 1 {
            let mut n = self.runs.len() - 2;
            if n > 0 && self.runs[n - 1].1 < self.runs[n + 1].1 {
                n -= 1;
            }
            self.merge_at(cx, w, n)?;
        }
        Ok(())
    }

    /// Sorts every value; returns them in order. `small_by_insertion`: fewer than `MIN_TIMSORT_LEN`
    /// values are sorted by binary insertion alone (V8's ArrayTimSort, which `sort` calls and `toSorted`
    /// does not).
    fn run(mut self, cx: &mut Cx, small_by_insertion: bool) -> JsResult<Vec<Value>> {
        let n = self.vals.len();
        let mut w: Vec<u32> = (0..n as u32).collect();
        if small_by_insertion && n < MIN_TIMSORT_LEN {
            self.binary_insertion(cx, &mut w, 0, 0, n)?;
        } else if n >= 2 {
            let min_run = {
                let (mut m, mut r) = (n, 0);
                while m >= 64 {
                    r |= m & 1;
                    m >>= 1;
                }
                m + r
            };
            let mut low = 0;
            let mut remaining = n;
            while remaining != 0 {
                let mut run = self.count_run(cx, &mut w, low, low + remaining)?;
                if run < min_run {
                    let forced = min_run.min(remaining);
                    self.binary_insertion(cx, &mut w, low, low + run, low + forced)?;
                    run = forced;
                }
                self.runs.push((low, run));
                self.merge_collapse(cx, &mut w)?;
                low += run;
                remaining -= run;
            }
            self.merge_force_collapse(cx, &mut w)?;
        }
        Ok(w.into_iter()
            .map(|i| std::mem::replace(&mut self.vals[i as usize], Value::Undefined))
            .collect())
    }
}

/// Sorts `vals` (none of them undefined) as V8 does; `small_by_insertion` as in `Sorter::run`.
fn timsort(
    cx: &mut Cx,
    cmp: &Comparator,
    vals: Vec<Value>,
    small_by_insertion: bool,
) -> JsResult<Vec<Value>> {
    let strs = match cmp {
        Comparator::Default => {
            let mut s = Vec::with_capacity(vals.len());
            for v in &vals {
                s.push(match v {
                    Value::Obj(_) => None,
                    _ => Some(ops::to_string(cx, v)?),
                });
            }
            s
        }
        Comparator::User(_) => vec![None; vals.len()],
    };
    Sorter {
        cmp,
        vals,
        strs,
        min_gallop: MIN_GALLOP,
        runs: Vec::new(),
    }
    .run(cx, small_by_insertion)
}

fn comparator(cx: &Cx, v: &Value) -> JsResult<Comparator> {
    match v {
        Value::Undefined | Value::Hole => Ok(Comparator::Default),
        _ if is_callable(cx, v) => Ok(Comparator::User(v.clone())),
        _ => engine_error("The comparison function must be either a function or undefined"),
    }
}

/// Array.prototype.sort (ECMA-262 §23.1.3.30), as V8 does it: values are taken out (holes skipped,
/// undefined counted), sorted, and written back followed by the undefined values and the holes.
fn sort(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let cmp = comparator(cx, &arg(args, 0))?;
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len < 2 {
        return Ok(this.clone());
    }
    let mut vals = Vec::new();
    let mut undefs = 0usize;
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if v.is_undefined() {
                undefs += 1;
            } else {
                vals.push(v);
            }
        }
    }
    let sorted = timsort(cx, &cmp, vals, true)?;
    let n = sorted.len();
    for (j, v) in sorted.into_iter().enumerate() {
        set_idx(cx, o, j, v)?;
    }
    for j in n..n + undefs {
        set_idx(cx, o, j, Value::Undefined)?;
    }
    for j in n + undefs..len {
        cx.tick()?;
        delete_idx(cx, o, j)?;
    }
    Ok(this.clone())
}

/// Array.prototype.toSorted (ECMA-262 §23.1.3.34): holes read as undefined.
fn to_sorted(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let cmp = comparator(cx, &arg(args, 0))?;
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let mut vals = Vec::new();
    let mut undefs = 0usize;
    for k in 0..len {
        cx.tick()?;
        let v = get_idx(cx, o, k)?;
        if v.is_undefined() {
            undefs += 1;
        } else {
            vals.push(v);
        }
    }
    let mut sorted = if len < 2 {
        vals
    } else {
        timsort(cx, &cmp, vals, false)?
    };
    sorted.extend(std::iter::repeat_n(Value::Undefined, undefs));
    cx.new_array(sorted)
}

/// Differential tests against Node for the builtins of array.rs, object.rs, function.rs and
/// collections.rs. A case is a receiver and arguments written in a small literal language that is also
/// JavaScript (numbers, strings in single quotes, arrays with holes, objects, `M[[k, v], ...]` for
/// Maps, `S[...]` for Sets, `@name` for one of `CALLBACKS`), and a builtin to call. Both sides print
/// the result, the receiver afterwards and what the callbacks logged, in the same form.
#[cfg(test)]
pub(crate) mod difftest {
    use crate::call::make_function;
    use crate::cx::{Call, Code, Ctl, Cx, JsResult};
    use crate::heap::ObjKind;
    use crate::ops;
    use crate::props;
    use crate::value::{JsStr, Value};
    use std::cell::RefCell;
    use std::fmt::Write as _;

    #[derive(Clone, Debug)]
    pub enum Lit {
        Undef,
        Null,
        Bool(bool),
        Num(f64, String),
        Str(Vec<u16>),
        Arr(Vec<Option<Lit>>),
        Obj(Vec<(String, Lit)>),
        Map(Vec<Lit>),
        Set(Vec<Lit>),
        Cb(String),
    }

    struct P<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl P<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }
        fn peek(&mut self) -> u8 {
            self.ws();
            self.s.get(self.i).copied().unwrap_or(0)
        }
        fn eat(&mut self, c: u8) -> bool {
            if self.peek() == c {
                self.i += 1;
                true
            } else {
                false
            }
        }
        fn word(&mut self) -> String {
            self.ws();
            let st = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || b"_$.+-".contains(&self.s[self.i]))
            {
                if (self.s[self.i] == b'-' || self.s[self.i] == b'+')
                    && self.i > st
                    && !matches!(self.s[self.i - 1], b'e' | b'E')
                {
                    break;
                }
                self.i += 1;
            }
            String::from_utf8(self.s[st..self.i].to_vec()).unwrap()
        }
        fn string(&mut self) -> Vec<u16> {
            assert!(self.eat(b'\''));
            let mut out = Vec::new();
            loop {
                let c = self.s[self.i];
                self.i += 1;
                match c {
                    b'\'' => return out,
                    b'\\' => {
                        assert_eq!(self.s[self.i], b'u');
                        let h = std::str::from_utf8(&self.s[self.i + 1..self.i + 5]).unwrap();
                        out.push(u16::from_str_radix(h, 16).unwrap());
                        self.i += 5;
                    }
                    c => out.push(c as u16),
                }
            }
        }
        fn list(&mut self, close: u8) -> Vec<Lit> {
            let mut v = Vec::new();
            while !self.eat(close) {
                v.push(self.lit());
                self.eat(b',');
            }
            v
        }
        fn lit(&mut self) -> Lit {
            match self.peek() {
                b'[' => {
                    self.i += 1;
                    let mut v = Vec::new();
                    loop {
                        if self.eat(b']') {
                            return Lit::Arr(v);
                        }
                        if self.eat(b',') {
                            v.push(None);
                            continue;
                        }
                        v.push(Some(self.lit()));
                        if !self.eat(b',') {
                            assert!(self.eat(b']'), "expected ]");
                            return Lit::Arr(v);
                        }
                    }
                }
                b'{' => {
                    self.i += 1;
                    let mut v = Vec::new();
                    while !self.eat(b'}') {
                        let k = if self.peek() == b'\'' {
                            String::from_utf16(&self.string()).unwrap()
                        } else {
                            self.word()
                        };
                        assert!(self.eat(b':'));
                        v.push((k, self.lit()));
                        self.eat(b',');
                    }
                    Lit::Obj(v)
                }
                b'\'' => Lit::Str(self.string()),
                b'@' => {
                    self.i += 1;
                    Lit::Cb(self.word())
                }
                b'M' if self.s.get(self.i + 1) == Some(&b'[') => {
                    self.i += 2;
                    Lit::Map(self.list(b']'))
                }
                b'S' if self.s.get(self.i + 1) == Some(&b'[') => {
                    self.i += 2;
                    Lit::Set(self.list(b']'))
                }
                _ => {
                    let w = self.word();
                    match w.as_str() {
                        "undefined" => Lit::Undef,
                        "null" => Lit::Null,
                        "true" => Lit::Bool(true),
                        "false" => Lit::Bool(false),
                        "NaN" => Lit::Num(f64::NAN, w),
                        "-Infinity" => Lit::Num(f64::NEG_INFINITY, w),
                        "-0" => Lit::Num(-0.0, w),
                        _ => {
                            let n = ops::string_to_number(&JsStr::from(w.as_str()));
                            assert!(!n.is_nan(), "bad literal {:?}", w);
                            Lit::Num(n, w)
                        }
                    }
                }
            }
        }
    }

    pub fn parse(s: &str) -> Lit {
        let mut p = P {
            s: s.as_bytes(),
            i: 0,
        };
        let l = p.lit();
        p.ws();
        assert_eq!(p.i, s.len(), "trailing text in {:?}", s);
        l
    }

    /// Arguments: a comma-separated list of literals.
    pub fn parse_args(s: &str) -> Vec<Lit> {
        match parse(&format!("[{}]", s)) {
            Lit::Arr(v) => v.into_iter().map(|x| x.unwrap_or(Lit::Undef)).collect(),
            _ => unreachable!(),
        }
    }

    fn js_str(u: &[u16]) -> String {
        let mut s = String::from("'");
        for &c in u {
            if (0x20..0x7f).contains(&c) && c != b'\'' as u16 && c != b'\\' as u16 {
                s.push(c as u8 as char);
            } else {
                let _ = write!(s, "\\u{:04x}", c);
            }
        }
        s.push('\'');
        s
    }

    pub fn to_js(l: &Lit) -> String {
        match l {
            Lit::Undef => "undefined".into(),
            Lit::Null => "null".into(),
            Lit::Bool(b) => b.to_string(),
            Lit::Num(_, t) => format!("({})", t),
            Lit::Str(u) => js_str(u),
            Lit::Arr(v) => {
                let parts: Vec<String> = v
                    .iter()
                    .map(|x| x.as_ref().map(to_js).unwrap_or_default())
                    .collect();
                let trailing = if matches!(v.last(), Some(None)) {
                    ","
                } else {
                    ""
                };
                format!("[{}{}]", parts.join(","), trailing)
            }
            Lit::Obj(v) => format!(
                "{{{}}}",
                v.iter()
                    .map(|(k, x)| format!(
                        "{}:{}",
                        js_str(&k.encode_utf16().collect::<Vec<_>>()),
                        to_js(x)
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Lit::Map(v) => format!(
                "new Map([{}])",
                v.iter().map(to_js).collect::<Vec<_>>().join(",")
            ),
            Lit::Set(v) => format!(
                "new Set([{}])",
                v.iter().map(to_js).collect::<Vec<_>>().join(",")
            ),
            Lit::Cb(n) => format!("CB.{}", n),
        }
    }

    pub fn build(cx: &mut Cx, l: &Lit) -> Value {
        match l {
            Lit::Undef => Value::Undefined,
            Lit::Null => Value::Null,
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Num(n, _) => Value::Num(*n),
            Lit::Str(u) => Value::Str(JsStr::from_units(u.clone())),
            Lit::Arr(v) => {
                let items = v
                    .iter()
                    .map(|x| x.as_ref().map(|x| build(cx, x)).unwrap_or(Value::Hole))
                    .collect();
                cx.new_array(items).unwrap()
            }
            Lit::Obj(v) => {
                let o = cx.new_object().unwrap();
                for (k, x) in v {
                    let x = build(cx, x);
                    props::define(cx, o.as_obj().unwrap(), JsStr::from(k.as_str()), x).unwrap();
                }
                o
            }
            Lit::Map(v) => {
                let arr = build(cx, &Lit::Arr(v.iter().cloned().map(Some).collect()));
                (crate::builtins::collections::MAP.ctor.unwrap())(cx, None, &[arr]).unwrap()
            }
            Lit::Set(v) => {
                let arr = build(cx, &Lit::Arr(v.iter().cloned().map(Some).collect()));
                (crate::builtins::collections::SET.ctor.unwrap())(cx, None, &[arr]).unwrap()
            }
            Lit::Cb(n) => {
                if let Some(f) = MADE.with(|m| {
                    m.borrow()
                        .iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, f)| f.clone())
                }) {
                    return f;
                }
                let i = CALLBACKS
                    .iter()
                    .position(|c| c.0 == n)
                    .unwrap_or_else(|| panic!("no callback {}", n));
                let f = make_function(
                    cx,
                    i as u32,
                    None,
                    n,
                    CALLBACKS[i].3,
                    crate::heap::fflags::ARROW,
                )
                .unwrap();
                MADE.with(|m| m.borrow_mut().push((n.clone(), f.clone())));
                f
            }
        }
    }

    /// The printed form of a value (the JavaScript `D` in `PRELUDE` prints the same).
    pub fn dump(cx: &mut Cx, v: &Value, depth: u32) -> String {
        if depth > 4 {
            return "~".into();
        }
        match v {
            Value::Undefined | Value::Hole => "u".into(),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Num(n) if n.is_nan() => "NaN".into(),
            Value::Num(n) if *n == 0.0 && n.is_sign_negative() => "-0".into(),
            Value::Num(n) => ops::number_to_string(*n),
            Value::Str(s) => js_str(s.units()),
            Value::Obj(o) => {
                let o = *o;
                match cx.heap.kind(o).clone() {
                    ObjKind::Array(items) => {
                        let mut parts = Vec::new();
                        for x in items {
                            parts.push(if matches!(x, Value::Hole) {
                                "_".to_string()
                            } else {
                                dump(cx, &x, depth + 1)
                            });
                        }
                        format!("[{}]", parts.join(","))
                    }
                    ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound { .. } => {
                        "fn".into()
                    }
                    ObjKind::Map(m) => {
                        let parts: Vec<String> = m
                            .values()
                            .map(|(k, x)| {
                                format!("{}=>{}", dump(cx, k, depth + 1), dump(cx, x, depth + 1))
                            })
                            .collect();
                        format!("Map{{{}}}", parts.join(","))
                    }
                    ObjKind::Set(s) => {
                        let parts: Vec<String> =
                            s.values().map(|x| dump(cx, x, depth + 1)).collect();
                        format!("Set{{{}}}", parts.join(","))
                    }
                    _ => {
                        let mut parts = Vec::new();
                        for k in props::own_enumerable_keys(cx, o) {
                            let x = props::get(cx, &Value::Obj(o), k.units())
                                .unwrap_or(Value::str("?"));
                            parts.push(format!(
                                "{}:{}",
                                js_str(k.units()),
                                dump(cx, &x, depth + 1)
                            ));
                        }
                        format!("{{{}}}", parts.join(","))
                    }
                }
            }
        }
    }

    const PRELUDE: &str = r#"
function Q(s){let o="'";for(let i=0;i<s.length;i++){const c=s.charCodeAt(i);o+=(c>=0x20&&c<0x7f&&c!==39&&c!==92)?s[i]:'\\u'+c.toString(16).padStart(4,'0');}return o+"'";}
function K(C,v){try{C.prototype.has.call(v,0);return true}catch(e){return false}}
function D(v,d=0){if(d>4)return '~';if(v===undefined)return 'u';if(v===null)return 'null';
 if(typeof v==='boolean')return String(v);if(typeof v==='number'){if(v!==v)return 'NaN';if(v===0&&1/v<0)return '-0';return String(v);}
 if(typeof v==='string')return Q(v);if(typeof v==='function')return 'fn';
 if(Array.isArray(v)){const p=[];for(let i=0;i<v.length;i++)p.push(i in v?D(v[i],d+1):'_');return '['+p.join(',')+']';}
 if(K(Map,v)){return 'Map{'+[...Map.prototype.entries.call(v)].map(([k,x])=>D(k,d+1)+'=>'+D(x,d+1)).join(',')+'}';}
 if(K(Set,v)){return 'Set{'+[...Set.prototype.values.call(v)].map(x=>D(x,d+1)).join(',')+'}';}
 return '{'+Object.keys(v).map(k=>Q(k)+':'+D(v[k],d+1)).join(',')+'}';}
"#;

    thread_local! {
        pub static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
        static SEED: RefCell<u32> = const { RefCell::new(1) };
        /// The callbacks made for the current case: one function object per name, as in the script.
        static MADE: RefCell<Vec<(String, Value)>> = const { RefCell::new(Vec::new()) };
    }

    fn log(s: String) {
        LOG.with(|l| l.borrow_mut().push(s));
    }

    fn a(call: &Call, i: usize) -> Value {
        call.arg(i)
    }
    fn num(cx: &mut Cx, op: ops::NumOp, x: &Value, y: &Value) -> JsResult<Value> {
        ops::num_op(cx, op, x, y)
    }
    fn arr_of(call: &Call) -> crate::value::ObjRef {
        call.arg(2).as_obj().expect("array argument")
    }

    fn cb_sub(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        num(cx, ops::NumOp::Sub, &a(c, 0), &a(c, 1))
    }
    fn cb_gt(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        Ok(Value::Bool(ops::compare(
            cx,
            ops::CmpOp::Gt,
            &a(c, 0),
            &a(c, 1),
        )?))
    }
    fn cb_lcg(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
        let s = SEED.with(|s| {
            let mut s = s.borrow_mut();
            *s = (*s * 75 + 74) % 65537;
            *s
        });
        Ok(Value::Num((s % 3) as f64 - 1.0))
    }
    fn cb_logsub(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
        log(s);
        cb_sub(cx, c)
    }
    fn cb_logstr(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
        log(s);
        let x = ops::to_string(cx, &a(c, 0))?;
        let y = ops::to_string(cx, &a(c, 1))?;
        Ok(Value::Num(match x.cmp(&y) {
            std::cmp::Ordering::Less => -1.0,
            std::cmp::Ordering::Equal => 0.0,
            std::cmp::Ordering::Greater => 1.0,
        }))
    }
    fn cb_even(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let r = num(cx, ops::NumOp::Rem, &a(c, 0), &Value::Num(2.0))?;
        Ok(Value::Bool(ops::strict_equals(&r, &Value::Num(0.0))))
    }
    fn cb_dbl(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        num(cx, ops::NumOp::Mul, &a(c, 0), &Value::Num(2.0))
    }
    fn cb_add(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        ops::add(cx, &a(c, 0), &a(c, 1))
    }
    fn cb_pair(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        cx.new_array(vec![a(c, 0), a(c, 1)])
    }
    fn cb_logargs(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let mut parts = Vec::new();
        for i in 0..c.args.len() {
            parts.push(dump(cx, &c.args[i], 0));
        }
        log(parts.join("/"));
        Ok(Value::Bool(true))
    }
    fn cb_push1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        if ops::strict_equals(&a(c, 1), &Value::Num(0.0)) {
            super::push(cx, &c.arg(2), &[Value::Num(9.0)])?;
        }
        Ok(Value::Bool(true))
    }
    fn cb_pop1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        if ops::strict_equals(&a(c, 1), &Value::Num(0.0)) {
            super::pop(cx, &c.arg(2), &[])?;
        }
        Ok(Value::Bool(true))
    }
    fn cb_del1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let k = num(cx, ops::NumOp::Sub, &a(c, 1), &Value::Num(-1.0))?;
        props::delete_computed(cx, &c.arg(2), &k)?;
        Ok(Value::Bool(false))
    }
    fn cb_len1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let _ = arr_of(c);
        props::set(cx, &c.arg(2), &props::key("length"), Value::Num(1.0))?;
        Ok(Value::Bool(false))
    }
    fn cb_zero(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
        Ok(Value::Num(0.0))
    }
    fn cb_nan(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
        Ok(Value::Num(f64::NAN))
    }
    fn cb_strdiff(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let d = num(cx, ops::NumOp::Sub, &a(c, 1), &a(c, 0))?;
        Ok(Value::Str(ops::to_string(cx, &d)?))
    }
    fn cb_throw(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
        Err(Ctl::Throw(Value::str("boom")))
    }
    fn cb_this(_cx: &mut Cx, c: &Call) -> JsResult<Value> {
        Ok(c.this.clone())
    }
    fn cb_args(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        let mut v = vec![c.this.clone()];
        v.extend(c.args.iter().cloned());
        cx.new_array(v)
    }
    fn invoke_m(cx: &mut Cx, m: &Value, name: &str, args: &[Value]) -> JsResult<Value> {
        let f = crate::call::method(cx, m, &props::key(name))?;
        crate::call::invoke(cx, &f, m.clone(), args)
    }
    fn cb_liar(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
        Ok(Value::Num(1.0))
    }
    fn cb_mapset(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        // (v, k, m) => { log; if (k === 1) { m.delete(2); m.set(5, 'five') } }
        let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
        log(s);
        if ops::strict_equals(&a(c, 1), &Value::Num(1.0)) {
            let m = c.arg(2);
            invoke_m(cx, &m, "delete", &[Value::Num(2.0)])?;
            let adder = if matches!(cx.heap.kind(m.as_obj().unwrap()), ObjKind::Map(_)) {
                "set"
            } else {
                "add"
            };
            invoke_m(cx, &m, adder, &[Value::Num(5.0), Value::str("five")])?;
        }
        Ok(Value::Undefined)
    }
    fn cb_mapclear(cx: &mut Cx, c: &Call) -> JsResult<Value> {
        // (v, k, m) => { log; if (k === 1) { m.clear(); m.set(7, 'seven') } }
        let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
        log(s);
        if ops::strict_equals(&a(c, 1), &Value::Num(1.0)) {
            let m = c.arg(2);
            invoke_m(cx, &m, "clear", &[])?;
            let adder = if matches!(cx.heap.kind(m.as_obj().unwrap()), ObjKind::Map(_)) {
                "set"
            } else {
                "add"
            };
            invoke_m(cx, &m, adder, &[Value::Num(7.0), Value::str("seven")])?;
        }
        Ok(Value::Undefined)
    }

    /// (name, JavaScript source, implementation, length)
    pub const CALLBACKS: &[(&str, &str, Code, u32)] = &[
        ("sub", "(a,b)=>a-b", cb_sub, 2),
        ("gt", "(a,b)=>a>b", cb_gt, 2),
        ("lcg", "(a,b)=>{S=(S*75+74)%65537;return S%3-1}", cb_lcg, 2),
        ("logsub", "(a,b)=>{LOG.push(D(a)+'/'+D(b));return a-b}", cb_logsub, 2),
        ("logstr", "(a,b)=>{LOG.push(D(a)+'/'+D(b));const x=String(a),y=String(b);return x<y?-1:x>y?1:0}", cb_logstr, 2),
        ("even", "(v)=>v%2===0", cb_even, 1),
        ("dbl", "(v)=>v*2", cb_dbl, 1),
        ("add", "(a,b)=>a+b", cb_add, 2),
        ("pair", "(v,i)=>[v,i]", cb_pair, 2),
        ("logargs", "(...a)=>{LOG.push(a.map(x=>D(x)).join('/'));return true}", cb_logargs, 0),
        ("push1", "(v,i,a)=>{if(i===0)a.push(9);return true}", cb_push1, 3),
        ("pop1", "(v,i,a)=>{if(i===0)a.pop();return true}", cb_pop1, 3),
        ("del1", "(v,i,a)=>{delete a[i- -1];return false}", cb_del1, 3),
        ("len1", "(v,i,a)=>{a.length=1;return false}", cb_len1, 3),
        ("zero", "()=>0", cb_zero, 0),
        ("nan", "()=>NaN", cb_nan, 0),
        ("strdiff", "(a,b)=>String(b-a)", cb_strdiff, 2),
        ("throw", "()=>{throw 'boom'}", cb_throw, 0),
        ("this", "function(){'use strict';return this}", cb_this, 0),
        ("args", "(function(){'use strict';return function(...a){return [this,...a]}})()", cb_args, 0),
        (
            "mapset",
            "(v,k,m)=>{LOG.push(D(v)+'/'+D(k));if(k===1){m.delete(2);m instanceof Map?m.set(5,'five'):m.add(5,'five')}}",
            cb_mapset,
            3,
        ),
        (
            "mapclear",
            "(v,k,m)=>{LOG.push(D(v)+'/'+D(k));if(k===1){m.clear();m instanceof Map?m.set(7,'seven'):m.add(7,'seven')}}",
            cb_mapclear,
            3,
        ),
        ("liar", "()=>2", cb_liar, 0),
    ];

    pub const FUNCS: &[Code] = &[
        cb_sub,
        cb_gt,
        cb_lcg,
        cb_logsub,
        cb_logstr,
        cb_even,
        cb_dbl,
        cb_add,
        cb_pair,
        cb_logargs,
        cb_push1,
        cb_pop1,
        cb_del1,
        cb_len1,
        cb_zero,
        cb_nan,
        cb_strdiff,
        cb_throw,
        cb_this,
        cb_args,
        cb_mapset,
        cb_mapclear,
        cb_liar,
    ];

    /// How a case calls its builtin.
    #[derive(Clone, Debug)]
    pub enum How {
        /// `recv.m(args)` with the builtin "X.prototype.m".
        Method(&'static str),
        /// `X.y(args)` (the receiver is not used).
        Static(&'static str),
        /// `new X(args)`.
        New(&'static str),
        /// `recv.p` (the arguments are not used).
        Get(&'static str),
        /// `recv.p = args[0]`, answering the receiver afterwards.
        Set(&'static str),
    }

    #[derive(Clone, Debug)]
    pub struct Case {
        pub how: How,
        pub recv: String,
        pub args: String,
    }

    pub fn case(how: How, recv: &str, args: &str) -> Case {
        Case {
            how,
            recv: recv.into(),
            args: args.into(),
        }
    }

    /// Runs the case on our builtins: `None` when it gave up.
    pub fn ours(c: &Case) -> Option<String> {
        let mut cx = crate::cx::test_cx(FUNCS);
        LOG.with(|l| l.borrow_mut().clear());
        SEED.with(|s| *s.borrow_mut() = 1);
        MADE.with(|m| m.borrow_mut().clear());
        let recv_l = parse(&c.recv);
        let recv = build(&mut cx, &recv_l);
        let args: Vec<Value> = parse_args(&c.args)
            .iter()
            .map(|l| build(&mut cx, l))
            .collect();
        let r = match &c.how {
            How::Method(m) => {
                let def = crate::builtins::by_name(m).unwrap_or_else(|| panic!("no builtin {}", m));
                (def.f)(&mut cx, &recv, &args)
            }
            How::Static(m) => {
                let def = crate::builtins::by_name(m).unwrap_or_else(|| panic!("no builtin {}", m));
                let holder = cx.realm.global(m.split('.').next().unwrap()).unwrap();
                (def.f)(&mut cx, &holder, &args)
            }
            How::New(m) => {
                let def = crate::builtins::by_name(m).unwrap_or_else(|| panic!("no builtin {}", m));
                (def.ctor.unwrap())(&mut cx, None, &args)
            }
            How::Get(p) => props::get(&mut cx, &recv, &props::key(p)),
            How::Set(p) => {
                let v = args.first().cloned().unwrap_or(Value::Undefined);
                props::set(&mut cx, &recv, &props::key(p), v).map(|_| Value::Undefined)
            }
        };
        let log = LOG.with(|l| l.borrow().join(";"));
        match r {
            Ok(v) => {
                let rv = dump(&mut cx, &v, 0);
                let rr = dump(&mut cx, &recv, 0);
                Some(format!("ret={} recv={} log={}", rv, rr, log))
            }
            Err(Ctl::Throw(e)) => Some(format!("thrown {} log={}", dump(&mut cx, &e, 0), log)),
            Err(Ctl::Abort(_)) => None,
        }
    }

    fn js_expr(c: &Case) -> String {
        let args: Vec<String> = parse_args(&c.args).iter().map(to_js).collect();
        let args = args.join(",");
        match &c.how {
            How::Method(m) => {
                if args.is_empty() {
                    format!("{}.call(R)", m)
                } else {
                    format!("{}.call(R,{})", m, args)
                }
            }
            How::Static(m) => format!("{}({})", m, args),
            How::New(m) => format!("new {}({})", m, args),
            How::Get(p) => format!("R.{}", p),
            How::Set(p) => format!(
                "(()=>{{'use strict';R.{}={};}})()",
                p,
                if args.is_empty() {
                    "undefined".to_string()
                } else {
                    args
                }
            ),
        }
    }

    /// Runs every case in Node and asserts that each answer we gave equals Node's. Returns how many
    /// answers were compared.
    pub fn check(cases: &[Case]) -> usize {
        let mut js = String::from(PRELUDE);
        js.push_str("const OUT=[];\n");
        let cbs: Vec<String> = CALLBACKS
            .iter()
            .map(|(n, src, _, _)| format!("{}:{}", n, src))
            .collect();
        for c in cases {
            let _ = writeln!(
                js,
                "{{let LOG=[],S=1;const CB={{{}}};let R;try{{R={};const r={};OUT.push('ret='+D(r)+' recv='+D(R)+' log='+LOG.join(';'));}}catch(e){{OUT.push('thrown '+(typeof e==='string'?D(e):'E')+' log='+LOG.join(';'));}}}}",
                cbs.join(","),
                to_js(&parse(&c.recv)),
                js_expr(c)
            );
        }
        js.push_str("process.stdout.write(OUT.join('\\n')+'\\n');\n");
        let text = crate::testkit::node_script("array-diff", &js);
        let lines = crate::testkit::lines_for(&text, cases.len());
        let mut bad = Vec::new();
        let mut compared = 0;
        for (c, node) in cases.iter().zip(lines) {
            if let Some(o) = ours(c) {
                compared += 1;
                if o != node {
                    bad.push(format!(
                        "{:?} {} ({})\n  node: {}\n  ours: {}",
                        c.how, c.recv, c.args, node, o
                    ));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{} of {} differ from Node:\n{}",
            bad.len(),
            compared,
            bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
        compared
    }

    pub use crate::testkit::XorShift as Rng;
}

#[cfg(test)]
mod tests {
    use super::difftest::{case, check, How, Rng};

    fn m(name: &'static str) -> How {
        How::Method(name)
    }

    #[test]
    #[should_panic(expected = "differ from Node")]
    fn the_harness_catches_a_difference() {
        // `liar` answers 1 here and 2 in Node.
        check(&[case(m("Array.prototype.map"), "[1,2]", "")]);
        check(&[case(m("Array.prototype.map"), "[1,2]", "@liar")]);
    }

    #[test]
    fn accessors_and_searches_match_node() {
        let mut cs = Vec::new();
        let arrs = [
            "[]",
            "[1,2,3]",
            "[1,,3,undefined,null,NaN,-0,0,'1']",
            "[,,]",
            "['a','b','c','d','e']",
            "[[1,2],[3,[4,[5]]],6]",
            "[{a:1},[],'x',true]",
        ];
        let idx_args = [
            "",
            "0",
            "1",
            "-1",
            "-2",
            "2.7",
            "'1'",
            "NaN",
            "Infinity",
            "-Infinity",
            "100",
            "-100",
            "undefined",
            "null",
            "true",
        ];
        for a in arrs {
            for i in idx_args {
                cs.push(case(m("Array.prototype.at"), a, i));
                cs.push(case(m("Array.prototype.slice"), a, i));
                cs.push(case(
                    m("Array.prototype.slice"),
                    a,
                    &format!("{},-1", if i.is_empty() { "undefined" } else { i }),
                ));
                cs.push(case(m("Array.prototype.flat"), a, i));
                for x in ["1", "undefined", "NaN", "0", "-0", "'1'", "3"] {
                    let args = if i.is_empty() {
                        x.to_string()
                    } else {
                        format!("{},{}", x, i)
                    };
                    cs.push(case(m("Array.prototype.includes"), a, &args));
                    cs.push(case(m("Array.prototype.indexOf"), a, &args));
                    cs.push(case(m("Array.prototype.lastIndexOf"), a, &args));
                }
            }
            cs.push(case(m("Array.prototype.lastIndexOf"), a, "3,undefined"));
            for sep in ["", "undefined", "'-'", "''", "null", "1", "', '"] {
                cs.push(case(m("Array.prototype.join"), a, sep));
            }
            cs.push(case(m("Array.prototype.toString"), a, ""));
            cs.push(case(m("Array.prototype.concat"), a, ""));
            cs.push(case(
                m("Array.prototype.concat"),
                a,
                "1,[2,,3],[[4]],'s',{a:1}",
            ));
            cs.push(case(m("Array.prototype.toReversed"), a, ""));
            cs.push(case(m("Array.prototype.flat"), a, "Infinity"));
            for w in ["0,'w'", "-1,'w'", "5,'w'", "-9,'w'", "1.5,7"] {
                cs.push(case(m("Array.prototype.with"), a, w));
            }
            for s in [
                "",
                "1",
                "1,1",
                "1,2,'x','y'",
                "-2,1",
                "0,100,'z'",
                "undefined,undefined",
                "Infinity",
                "-Infinity,1",
            ] {
                cs.push(case(m("Array.prototype.toSpliced"), a, s));
            }
        }
        let n = check(&cs);
        assert!(n > 1000, "compared {}", n);
    }

    #[test]
    fn mutators_match_node() {
        let mut cs = Vec::new();
        let arrs = [
            "[]",
            "[1]",
            "[1,2,3,4,5]",
            "[1,,3,,5,]",
            "[,,]",
            "['a',undefined,null]",
        ];
        for a in arrs {
            cs.push(case(m("Array.prototype.push"), a, ""));
            cs.push(case(m("Array.prototype.push"), a, "7,undefined,8"));
            cs.push(case(m("Array.prototype.pop"), a, ""));
            cs.push(case(m("Array.prototype.shift"), a, ""));
            cs.push(case(m("Array.prototype.unshift"), a, ""));
            cs.push(case(m("Array.prototype.unshift"), a, "0,-1"));
            cs.push(case(m("Array.prototype.reverse"), a, ""));
            for s in [
                "",
                "0",
                "1",
                "-1",
                "1,1",
                "1,0,'x','y'",
                "1,2,'x'",
                "-2,5",
                "0,100",
                "2,1,'a','b','c'",
                "undefined",
                "NaN,1",
                "10,1,'z'",
            ] {
                cs.push(case(m("Array.prototype.splice"), a, s));
            }
            for f in [
                "0",
                "0,1",
                "0,1,3",
                "0,-2",
                "0,-10,-1",
                "'f',2,100",
                "1,undefined,2",
            ] {
                cs.push(case(m("Array.prototype.fill"), a, f));
            }
            for f in [
                "0,3", "1,3", "0,1,3", "-2,0", "2,0,2", "1,0,4", "0,2,-1", "3",
            ] {
                cs.push(case(m("Array.prototype.copyWithin"), a, f));
            }
        }
        let n = check(&cs);
        assert!(n >= 200, "compared {}", n);
    }

    #[test]
    fn callback_methods_match_node() {
        let mut cs = Vec::new();
        let arrs = [
            "[]",
            "[1,2,3,4]",
            "[1,,3,,5]",
            "['a','b']",
            "[4,undefined,null,'6']",
        ];
        let methods = [
            "every",
            "some",
            "forEach",
            "map",
            "filter",
            "find",
            "findIndex",
            "findLast",
            "findLastIndex",
            "flatMap",
        ];
        for a in arrs {
            for meth in methods {
                let name: &'static str =
                    Box::leak(format!("Array.prototype.{}", meth).into_boxed_str());
                for cb in [
                    "@logargs", "@even", "@dbl", "@pair", "@push1", "@pop1", "@del1", "@len1",
                    "@zero", "@throw", "5",
                ] {
                    cs.push(case(m(name), a, cb));
                }
                cs.push(case(m(name), a, "@args,{t:1}"));
                cs.push(case(m(name), a, "@this"));
                cs.push(case(m(name), a, ""));
            }
            for meth in ["Array.prototype.reduce", "Array.prototype.reduceRight"] {
                for args in [
                    "@add",
                    "@add,''",
                    "@add,100",
                    "@logargs,0",
                    "@push1,0",
                    "@pop1",
                    "@del1,'s'",
                    "@throw,1",
                    "",
                    "5,1",
                ] {
                    cs.push(case(m(meth), a, args));
                }
            }
        }
        let n = check(&cs);
        assert!(n > 400, "compared {}", n);
    }

    #[test]
    fn statics_match_node() {
        let mut cs = Vec::new();
        for args in [
            "",
            "0",
            "3",
            "-1",
            "1.5",
            "4294967296",
            "'3'",
            "1,2",
            "undefined",
            "[1,2]",
            "NaN",
        ] {
            cs.push(case(How::Static("Array"), "0", args));
            cs.push(case(How::New("Array"), "0", args));
            cs.push(case(How::Static("Array.of"), "0", args));
            cs.push(case(How::Static("Array.isArray"), "0", args));
        }
        for items in [
            "[1,,3]",
            "'a\\ud83d\\ude00b\\ud800'",
            "''",
            "{length:3,0:'a',2:'c'}",
            "{length:'2',1:'x'}",
            "{length:-5}",
            "{}",
            "M[[1,'a'],[2,'b']]",
            "S[1,2,2,3]",
            "5",
            "true",
            "null",
            "undefined",
        ] {
            cs.push(case(How::Static("Array.from"), "0", items));
            for f in ["@pair", "@logargs", "@dbl", "5", "undefined", "@args,'t'"] {
                cs.push(case(
                    How::Static("Array.from"),
                    "0",
                    &format!("{},{}", items, f),
                ));
            }
        }
        let n = check(&cs);
        assert!(n > 100, "compared {}", n);
    }

    /// Sorting: the results and, with a logging comparator, every comparison, in order.
    #[test]
    fn sort_matches_v8_comparison_for_comparison() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        let mut cs = Vec::new();
        let sizes = [
            0usize, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 20, 31, 32, 33, 63, 64, 65, 100, 127, 128, 200, 257,
            500, 1000, 2100,
        ];
        for &n in &sizes {
            for shape in 0..6 {
                let mut items = Vec::new();
                for i in 0..n {
                    let v = match shape {
                        0 => rng.below(1000) as i64,
                        1 => rng.below(8) as i64,
                        2 => i as i64,
                        3 => (n - i) as i64,
                        4 => {
                            if rng.below(10) < 8 {
                                i as i64
                            } else {
                                rng.below(n as u64 + 1) as i64
                            }
                        }
                        _ => {
                            ((i / 7) % 3) as i64 * 100 + rng.below(5) as i64
                                - ((i % 40 > 20) as i64) * (i as i64)
                        }
                    };
                    items.push(v.to_string());
                }
                let arr = format!("[{}]", items.join(","));
                cs.push(case(m("Array.prototype.sort"), &arr, "@logsub"));
                if n <= 257 {
                    cs.push(case(m("Array.prototype.sort"), &arr, ""));
                    cs.push(case(m("Array.prototype.sort"), &arr, "@lcg"));
                    cs.push(case(m("Array.prototype.sort"), &arr, "@gt"));
                    cs.push(case(m("Array.prototype.toSorted"), &arr, "@logstr"));
                    cs.push(case(m("Array.prototype.sort"), &arr, "@strdiff"));
                }
            }
        }
        for a in [
            "[3,undefined,,1,null,'10',2,,undefined,-0,0,NaN,'b','a',true]",
            "[,undefined,3]",
            "[7,undefined,6,,5,4,3,2,1,undefined]",
            "[8,undefined,7,,6,5,4,3,2,1,undefined]",
            "[undefined]",
            "[,]",
            "[1,,]",
            "['\\ud83d','\\ufb00','a','A','\\u00e9','e','z']",
            "[[2,1],[1,2],[1],[10],'1,3']",
            "[{a:1},{b:2},'[object Object]',5]",
        ] {
            for c in [
                "", "@logsub", "@zero", "@nan", "@throw", "5", "null", "@lcg",
            ] {
                cs.push(case(m("Array.prototype.sort"), a, c));
                cs.push(case(m("Array.prototype.toSorted"), a, c));
            }
        }
        let n = check(&cs);
        assert!(n > 300, "compared {}", n);
    }

    #[test]
    fn join_detects_cycles_as_v8_does() {
        use crate::value::Value;
        let mut cx = crate::cx::test_cx(&[]);
        let a = cx
            .new_array(vec![Value::Num(1.0), Value::Num(2.0)])
            .unwrap();
        let b = cx.new_array(vec![Value::Num(3.0), a.clone()]).unwrap();
        super::push(&mut cx, &a, &[a.clone(), b.clone()]).unwrap();
        let r = super::join(&mut cx, &a, &[Value::str("-")]).unwrap();
        // Node: a = [1,2]; b = [3,a]; a.push(a,b); a.join('-') === '1-2--3,'
        assert_eq!(r.as_str().unwrap().to_rust_string(), "1-2--3,");
        // The join stack is empty again afterwards.
        let r = super::join(&mut cx, &b, &[]).unwrap();
        assert_eq!(r.as_str().unwrap().to_rust_string(), "3,1,2,,");
    }

    #[test]
    fn iterate_to_vec_takes_the_modelled_iterables() {
        use crate::value::Value;
        let mut cx = crate::cx::test_cx(&[]);
        let arr = cx.new_array(vec![Value::Num(1.0), Value::Hole]).unwrap();
        let v = super::iterate_to_vec(&mut cx, &arr).unwrap();
        assert!(matches!(v.as_slice(), [Value::Num(_), Value::Undefined]));
        let s = Value::Str(crate::value::JsStr::from("a\u{1F600}"));
        assert_eq!(super::iterate_to_vec(&mut cx, &s).unwrap().len(), 2);
        let o = cx.new_object().unwrap();
        assert!(super::iterate_to_vec(&mut cx, &o).is_err());
        assert!(super::iterate_to_vec(&mut cx, &Value::Num(1.0)).is_err());
    }

    #[test]
    fn module_level_and_frozen_arrays_are_not_written() {
        use crate::value::Value;
        let prog: &'static crate::cx::Program = Box::leak(Box::new(crate::cx::Program {
            name: "t",
            funcs: &[],
            init: |_, _| Ok(Value::Undefined),
            trace_version: 1,
            strings: &[],
        }));
        let mut cx = crate::cx::Cx::new(prog, &crate::cx::Limits::default()).unwrap();
        let module_arr = cx
            .new_array(vec![Value::Num(2.0), Value::Num(1.0)])
            .unwrap();
        cx.heap.seal_module();
        // Reads leave the module as it was; writes are seen as a change unless put back.
        assert!(super::join(&mut cx, &module_arr, &[]).is_ok());
        assert!(!cx.heap.module_changed());
        assert!(super::push(&mut cx, &module_arr, &[Value::Num(3.0)]).is_ok());
        assert!(cx.heap.module_changed());
        assert!(super::pop(&mut cx, &module_arr, &[]).is_ok());
        assert!(!cx.heap.module_changed());
        assert!(super::sort(&mut cx, &module_arr, &[]).is_ok());
        assert!(cx.heap.module_changed(), "sorted [2, 1] is [1, 2]");
        let a = cx.new_array(vec![Value::Num(1.0)]).unwrap();
        cx.heap.get_mut(a.as_obj().unwrap()).unwrap().frozen = true;
        assert!(super::push(&mut cx, &a, &[Value::Num(3.0)]).is_err());
        assert!(super::pop(&mut cx, &a, &[]).is_err());
        assert!(super::map(&mut cx, &a, &[Value::Undefined]).is_err());
    }

    #[test]
    fn heap_and_fuel_bound_huge_arrays() {
        use crate::value::Value;
        let mut cx = crate::cx::test_cx(&[]);
        // 4e9 holes: the heap cap refuses before anything is allocated.
        assert!(
            super::array_call(&mut cx, &Value::Undefined, &[Value::Num(4294967295.0)]).is_err()
        );
        assert!(super::array_call(&mut cx, &Value::Undefined, &[Value::Num(-1.0)]).is_err());
    }
}
