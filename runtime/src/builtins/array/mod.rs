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
use crate::builtins::arg;
use crate::builtins::collections::{Cursor, MapData, SetData};
use crate::call::is_callable;
use crate::call::{self, Callee};
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::realm::Installer;
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
builtin!(
    FIND_INDEX,
    "Array.prototype.findIndex",
    1,
    find_index,
    returns_number
);
builtin!(FIND_LAST, "Array.prototype.findLast", 1, find_last);
builtin!(
    FIND_LAST_INDEX,
    "Array.prototype.findLastIndex",
    1,
    find_last_index,
    returns_number
);
builtin!(FLAT, "Array.prototype.flat", 0, flat);
builtin!(FLAT_MAP, "Array.prototype.flatMap", 1, flat_map);
builtin!(FOR_EACH, "Array.prototype.forEach", 1, for_each);
builtin!(INCLUDES, "Array.prototype.includes", 1, includes);
builtin!(
    INDEX_OF,
    "Array.prototype.indexOf",
    1,
    index_of,
    returns_number
);
builtin!(JOIN, "Array.prototype.join", 1, join);
builtin!(KEYS, "Array.prototype.keys", 0, keys_iter);
builtin!(
    LAST_INDEX_OF,
    "Array.prototype.lastIndexOf",
    1,
    last_index_of,
    returns_number
);
builtin!(MAP, "Array.prototype.map", 1, map);
builtin!(POP, "Array.prototype.pop", 0, pop);
builtin!(PUSH, "Array.prototype.push", 1, push, returns_number);
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
builtin!(
    UNSHIFT,
    "Array.prototype.unshift",
    1,
    unshift,
    returns_number
);
builtin!(VALUES, "Array.prototype.values", 0, values_iter);
builtin!(WITH, "Array.prototype.with", 2, with);

/// Installs array's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let array_proto = r.proto("Array");
    let array = r.constructor("Array", &ARRAY, array_proto)?;
    r.statics(
        array,
        &[("isArray", &IS_ARRAY), ("from", &FROM), ("of", &OF)],
    )?;
    r.methods(
        array_proto,
        &[
            ("at", &AT),
            ("concat", &CONCAT),
            ("copyWithin", &COPY_WITHIN),
            ("entries", &ENTRIES),
            ("every", &EVERY),
            ("fill", &FILL),
            ("filter", &FILTER),
            ("find", &FIND),
            ("findIndex", &FIND_INDEX),
            ("findLast", &FIND_LAST),
            ("findLastIndex", &FIND_LAST_INDEX),
            ("flat", &FLAT),
            ("flatMap", &FLAT_MAP),
            ("forEach", &FOR_EACH),
            ("includes", &INCLUDES),
            ("indexOf", &INDEX_OF),
            ("join", &JOIN),
            ("keys", &KEYS),
            ("lastIndexOf", &LAST_INDEX_OF),
            ("map", &MAP),
            ("pop", &POP),
            ("push", &PUSH),
            ("reduce", &REDUCE),
            ("reduceRight", &REDUCE_RIGHT),
            ("reverse", &REVERSE),
            ("shift", &SHIFT),
            ("slice", &SLICE),
            ("some", &SOME),
            ("sort", &SORT),
            ("splice", &SPLICE),
            ("toLocaleString", &TO_LOCALE_STRING),
            ("toReversed", &TO_REVERSED),
            ("toSorted", &TO_SORTED),
            ("toSpliced", &TO_SPLICED),
            ("toString", &TO_STRING),
            ("unshift", &UNSHIFT),
            ("values", &VALUES),
            ("with", &WITH),
        ],
    )?;
    Ok(())
}

/// Bytes one element adds to the heap's count (as `heap::Obj::size` counts them).
const ELEM_BYTES: usize = 24;
/// V8's String::kMaxLength on 64-bit machines; longer strings throw a RangeError.
const MAX_STRING_LEN: usize = (1 << 29) - 24;
/// 2^53 - 1, the largest length an array-like may have.
const MAX_SAFE: f64 = 9007199254740991.0;

// ---------------------------------------------------------------------------------------------------
// Element access: [[Get]], [[HasProperty]], [[Set]], [[Delete]] on array indices.

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
    const LENGTH: [u16; 6] = [108, 101, 110, 103, 116, 104];
    props::set(cx, &Value::Obj(o), &LENGTH, Value::Num(n as f64))
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
            // Written as a constant, not cloned element by element.
            items.resize_with(n, || Value::Hole);
        }
    }
    Ok(a)
}

/// Whether the prototypes of `o` hold no indexed property, so that a hole reads as `undefined`, is
/// absent for [[HasProperty]], and reading one runs no user code.
/// The fact `plain_protos` remembers (see `cx::RealmMemo`).
static PLAIN_PROTOS: u8 = 1;

#[inline]
fn plain_protos(cx: &Cx, o: ObjRef) -> bool {
    // No program ever wrote the realm's objects and no read is logged: the realm's Array.prototype chain is
    // as the realm made it, with no element on any prototype.
    cx.heap.get(o).proto == Some(cx.realm.array_proto) && cx.heap.realm_untouched()
        || plain_protos_walk(cx, o)
}

/// `plain_protos` by the memo or the walk.
#[inline(never)]
fn plain_protos_walk(cx: &Cx, o: ObjRef) -> bool {
    let first = cx.heap.get(o).proto;
    // Arrays made by literals and builtins have the realm's Array.prototype, whose chain is the realm's:
    // the answer for it holds until the realm's objects change.
    let realm_chain = first == Some(cx.realm.array_proto);
    if realm_chain && cx.realm_memo.holds(&PLAIN_PROTOS, cx.heap.realm_epoch()) {
        // The read the walk below would have made (see `heap::Later`).
        let _ = cx.heap.get(cx.realm.array_proto);
        return true;
    }
    let mut cur = first;
    while let Some(p) = cur {
        let obj = cx.heap.get(p);
        if !matches!(obj.kind, ObjKind::Ordinary)
            || obj.props.keys().any(|k| k.as_array_index().is_some())
        {
            return false;
        }
        cur = obj.proto;
    }
    if realm_chain {
        cx.realm_memo.note(&PLAIN_PROTOS, cx.heap.realm_epoch());
    }
    true
}

/// ArraySpeciesCreate(O, n) (ECMA-262 §10.4.2.3) for the constructors the runtime models: `Array`
/// itself or no constructor at all.
fn species_create(cx: &mut Cx, o: ObjRef, n: usize) -> JsResult<ObjRef> {
    const CONSTRUCTOR: [u16; 11] = [99, 111, 110, 115, 116, 114, 117, 99, 116, 111, 114];
    let c = props::get(cx, &Value::Obj(o), &CONSTRUCTOR)?;
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

fn callback(cx: &Cx, v: &Value) -> JsResult<Plain> {
    if is_callable(cx, v) {
        Ok(call::plain_code(cx, v))
    } else {
        engine_error("callback is not a function")
    }
}

/// A callback's object and code when it is a plain compiled function (`call::plain_code`), which the builtin
/// calling it for each element calls by name.
type Plain = Option<(ObjRef, crate::cx::Code)>;

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
                k if k.is::<MapData>() || k.is::<SetData>() => {
                    Ok(Some(JsIter::Coll(Cursor::new(*o))))
                }
                k if k.is_host() => unsupported("iterating a host object"),
                _ => {
                    let r = &cx.realm;
                    let iterable_protos = [
                        r.array_proto,
                        r.proto("Map").expect("Map.prototype"),
                        r.proto("Set").expect("Set.prototype"),
                        r.string_proto,
                    ];
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
    crate::builtins::iterator::make_iterator(
        cx,
        this,
        crate::builtins::iterator::IterPart::Keys,
        array_kind,
        "Array.prototype.keys (on a non-array)",
    )
}
fn values_iter(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    crate::builtins::iterator::make_iterator(
        cx,
        this,
        crate::builtins::iterator::IterPart::Values,
        array_kind,
        "Array.prototype.values (on a non-array)",
    )
}
fn entries_iter(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    crate::builtins::iterator::make_iterator(
        cx,
        this,
        crate::builtins::iterator::IterPart::Entries,
        array_kind,
        "Array.prototype.entries (on a non-array)",
    )
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
    // Built in the string's own buffer, which grows as a vector would: no copy at the end. It starts with
    // room for the separators and a unit per element (no more than a few kilobytes), the least the result
    // can need unless elements are empty, which saves the first regrowths.
    let mut out = JsStr::with_capacity(((len - 1) * sep.len() + len).min(1 << 12));
    for k in 0..len {
        cx.tick()?;
        if k > 0 {
            cx.heap.charge(sep.len() * 2)?;
            out.try_append(sep.units());
        }
        let v = get_idx(cx, o, k)?;
        if !v.is_nullish() {
            let s = ops::to_string(cx, &v)?;
            cx.heap.charge(s.len() * 2)?;
            out.try_append(s.units());
        }
        if out.len() > MAX_STRING_LEN {
            return engine_error("Invalid string length");
        }
    }
    cx.heap.charge(16)?;
    Ok(Value::Str(out))
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
// The spec's own parameter list (target, source, sourceLen, start, depth, mapper, thisArg), plus the
// nesting bound.
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
    plain: Plain,
    this_arg: &Value,
    v: Value,
    k: usize,
    o: ObjRef,
) -> JsResult<Value> {
    let args = [v, Value::Num(k as f64), Value::Obj(o)];
    match plain {
        Some((fo, code)) => call::call_plain(cx, fo, code, this_arg.clone(), &args),
        None => call::call(cx, f, this_arg.clone(), &args),
    }
}

/// Array.prototype.every (ECMA-262 §23.1.3.6).
fn every(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    let plain = callback(cx, &f)?;
    let t = arg(args, 1);
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if !ops::to_boolean(&call3(cx, &f, plain, &t, v, k, o)?) {
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
    let plain = callback(cx, &f)?;
    let t = arg(args, 1);
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if ops::to_boolean(&call3(cx, &f, plain, &t, v, k, o)?) {
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
    let plain = callback(cx, &f)?;
    let t = arg(args, 1);
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            call3(cx, &f, plain, &t, v, k, o)?;
        }
    }
    Ok(Value::Undefined)
}

/// Array.prototype.map (ECMA-262 §23.1.3.21): holes stay holes.
fn map(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    let plain = callback(cx, &f)?;
    let t = arg(args, 1);
    let a = species_create(cx, o, len)?;
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            let r = call3(cx, &f, plain, &t, v, k, o)?;
            // CreateDataPropertyOrThrow on the new array: its element in place while it has one.
            match cx.heap.array_slot_mut(a, k) {
                Some(slot) => *slot = r,
                None => set_idx(cx, a, k, r)?,
            }
        }
    }
    Ok(Value::Obj(a))
}

/// Array.prototype.filter (ECMA-262 §23.1.3.8).
fn filter(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    let f = arg(args, 0);
    let plain = callback(cx, &f)?;
    let t = arg(args, 1);
    let a = species_create(cx, o, 0)?;
    for k in 0..len {
        cx.tick()?;
        if has_idx(cx, o, k)? {
            let v = get_idx(cx, o, k)?;
            if ops::to_boolean(&call3(cx, &f, plain, &t, v.clone(), k, o)?) {
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
    let plain = callback(cx, &f)?;
    let t = arg(args, 1);
    for j in 0..len {
        cx.tick()?;
        let k = if last { len - 1 - j } else { j };
        let v = get_idx(cx, o, k)?;
        if ops::to_boolean(&call3(cx, &f, plain, &t, v.clone(), k, o)?) {
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
    let plain = callback(cx, &f)?;
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
            let args = [acc, v, Value::Num(k as f64), Value::Obj(o)];
            acc = match plain {
                Some((fo, code)) => call::call_plain(cx, fo, code, Value::Undefined, &args)?,
                None => call::call(cx, &f, Value::Undefined, &args)?,
            };
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

/// `a.push(v)` at a site whose callee guard admitted only Array.prototype.push (`f`, from
/// `call::method_guarded`): one element appended in place to an array of the request's own whose prototypes
/// have no index properties, counted as `push` counts it; anything else goes through `invoke` and `push`.
#[inline]
pub fn push_one(cx: &mut Cx, f: &crate::call::Callee, this: &Value, v: Value) -> JsResult<Value> {
    if let (crate::call::Callee::Native(d), Value::Obj(o)) = (f, this) {
        if std::ptr::eq(*d, &PUSH)
            && !matches!(v, Value::Hole)
            && matches!(cx.heap.kind(*o), ObjKind::Array(_))
            && plain_protos(cx, *o)
        {
            // Charged first, so that the array is looked up once; module state (whose first write is
            // logged for undoing) and frozen arrays then take the general path, which charges again.
            cx.tick()?;
            cx.burn(1)?;
            cx.heap.charge(ELEM_BYTES)?;
            if let Some(items) = cx.heap.array_items_mut(*o) {
                items.push(v);
                return Ok(Value::Num(items.len() as f64));
            }
        }
    }
    crate::call::invoke(cx, f, this.clone(), &[v])
}

/// `a.push(v)` where the call site found `a` a plain array (`rt::plain_array`) on a realm no program has
/// written, before it evaluated `v`: the lookup would have found Array.prototype.push, so it is called as
/// `push_one` calls it, without the lookup.
#[inline(always)]
pub fn push_direct(cx: &mut Cx, this: &Value, v: Value) -> JsResult<Value> {
    // The checks `push_one` makes, in one look at the array (`Heap::push_plain`), made after `v`'s evaluation,
    // which could have changed the array or the realm. Composing `plain_protos`, the charge and
    // `array_items_mut` instead looks the array up three times, which cost primes' sieve 2% more instructions.
    let v = match (this, &v) {
        (_, Value::Hole) => v,
        (Value::Obj(o), _) => {
            cx.tick()?;
            let proto = cx.realm.array_proto;
            match cx.heap.push_plain(*o, v, proto, ELEM_BYTES) {
                Ok(n) => return Ok(Value::Num(n as f64)),
                // Ticked already: the general path, without `push_one`'s tick.
                Err(v) => {
                    return crate::call::invoke(
                        cx,
                        &crate::call::Callee::Native(&PUSH),
                        this.clone(),
                        &[v],
                    )
                }
            }
        }
        _ => v,
    };
    push_one(cx, &crate::call::Callee::Native(&PUSH), this, v)
}

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
    // An array of the request's own whose prototypes hold no index: the last element taken off in place
    // (a hole reads as undefined); anything else takes Get, DeletePropertyOrThrow and Set of `length`.
    if plain_protos(cx, o) {
        if let Some(items) = cx.heap.array_items_mut(o) {
            if let Some(v) = items.pop() {
                return Ok(v.unhole());
            }
        }
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
    // As `pop` does: in place on an array of the request's own with plain prototypes.
    if plain_protos(cx, o) {
        if let Some(items) = cx.heap.array_items_mut(o) {
            let first = items.remove(0).unhole();
            cx.burn((len / 16) as u64)?;
            return Ok(first);
        }
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
    let mut i = k;
    while i < fin {
        // An array of the request's own holding the range takes a chunk of stores in place, charged as
        // many ticks at once; anything else takes the stores one by one, as the spec writes them.
        let in_place = matches!(cx.heap.array_items_mut(o), Some(items) if fin <= items.len());
        if !in_place {
            cx.tick()?;
            set_idx(cx, o, i, value.clone())?;
            i += 1;
            continue;
        }
        let n = cx.tick_chunk(fin - i)?;
        if let Some(items) = cx.heap.array_items_mut(o) {
            let range = &mut items[i..i + n];
            if matches!(value, Value::Str(_)) || crate::heap::any_string(range) {
                range.fill(value.clone());
            } else {
                for slot in range {
                    // SAFETY: `slot` is a valid item; the item replaced owns nothing (no string), so not
                    // dropping it frees nothing it should, and `value` is not a string, so its bitwise copy
                    // is a clone.
                    unsafe { std::ptr::write(slot, std::ptr::read(&value)) }
                }
            }
        }
        i += n;
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
    /// A plain function the compiler compiled (neither a class nor async): its code, called by name.
    Plain(ObjRef, crate::cx::Code),
    /// A comparator `(a, b) => a.k1 - b.k1 || b.k2 - a.k2 ...` (see `sort_by_keys`) on values that all hold
    /// each key as an own data property with a finite number: the keys, read once per value.
    Keys(Keys),
    /// A plain function the compiler also compiled to run on rows of its arguments' properties
    /// (`cx::SortRows`), on values that all hold those properties as own data properties with primitive
    /// values: the rows, read once per value.
    Rows(Rows),
}

/// What a comparator's result `r` says (SortCompare's ToNumber, NaN read as 0).
#[inline(always)]
fn comparison(cx: &mut Cx, r: Value) -> JsResult<f64> {
    let n = match r {
        Value::Num(n) => n,
        r => ops::to_number(cx, &r)?,
    };
    Ok(if n.is_nan() { 0.0 } else { n })
}

/// Rows of a comparator's properties (see `Comparator::Rows`): `vals[i * m..][..m]` is value `i`'s row.
struct Rows {
    callee: ObjRef,
    run: crate::cx::RowsCode,
    m: usize,
    vals: Vec<Value>,
    /// The values of the comparator's `SortRows::caps`, read when the sort starts.
    caps: Vec<Value>,
}

/// The rows of `vals` for comparator `f`, when the compiler compiled it to run on rows and every value is
/// an ordinary object whose own data property of each key holds a primitive; None otherwise. Reading such a
/// property runs nothing, and the comparator, which can run no other code, cannot change it.
fn rows_of(cx: &mut Cx, f: ObjRef, vals: &[Value]) -> JsResult<Option<Rows>> {
    let code = match cx.heap.kind(f) {
        ObjKind::Function(fo) => fo.code,
        _ => return Ok(None),
    };
    let Some(sr) = cx.prog.sort_rows.iter().find(|r| r.code == code) else {
        return Ok(None);
    };
    let m = sr.keys.len();
    let mut rows = Vec::with_capacity(vals.len() * m);
    // The keys' positions in the last shape met: the values sorted are mostly made by one object literal,
    // and share its shape. Every value is alive meanwhile (`vals` holds it), so an address seen again is
    // the same shape.
    let (mut shape, mut pos) = (0usize, vec![0usize; m]);
    for v in vals {
        let Value::Obj(o) = v else { return Ok(None) };
        let obj = cx.heap.get(*o);
        if !matches!(obj.kind, ObjKind::Ordinary) {
            return Ok(None);
        }
        let addr = obj.props.shape_addr();
        if addr == 0 || addr != shape {
            for (p, k) in pos.iter_mut().zip(sr.keys) {
                match obj.props.position(*k) {
                    Some(i) => *p = i,
                    None => return Ok(None),
                }
            }
            shape = addr;
        }
        for &i in &pos {
            match obj.props.at(i) {
                Some(Prop::Data { value, .. }) if !matches!(value, Value::Obj(_)) => {
                    rows.push(value.clone())
                }
                _ => return Ok(None),
            }
        }
    }
    cx.burn(rows.len() as u64)?;
    let caps = match (sr.caps, call::env_of(cx, f)) {
        ([], _) => Vec::new(),
        (caps, Some(env)) => caps
            .iter()
            .map(|&(depth, slot)| crate::props::scope_get(cx, env, depth, slot))
            .collect(),
        (_, None) => return Ok(None),
    };
    Ok(Some(Rows {
        callee: f,
        run: sr.run,
        m,
        vals: rows,
        caps,
    }))
}

/// Sort keys: `vals[i * order.len() + j]` is value `i`'s key `j`; `order[j]` says whether term `j` is
/// `b.k - a.k` (descending) rather than `a.k - b.k`.
struct Keys {
    order: &'static [(&'static [u16], bool)],
    vals: Vec<f64>,
}

/// The keys of `vals` for `order`, when every value is an ordinary object whose own data property of each
/// key holds a finite number; None otherwise. Reading such a property runs nothing and gives the same
/// number each time, so the comparator's every call would compute what `Keys` compares, and each term's
/// difference of finite numbers is never NaN.
fn keys_of(cx: &Cx, vals: &[Value], order: &'static [(&'static [u16], bool)]) -> Option<Keys> {
    let mut keys = Vec::with_capacity(vals.len() * order.len());
    for v in vals {
        let Value::Obj(o) = v else { return None };
        let obj = cx.heap.get(*o);
        if !matches!(obj.kind, ObjKind::Ordinary) {
            return None;
        }
        for (k, _) in order {
            match obj.props.get(*k) {
                Some(Prop::Data {
                    value: Value::Num(n),
                    ..
                }) if n.is_finite() => keys.push(*n),
                _ => return None,
            }
        }
    }
    Some(Keys { order, vals: keys })
}

/// `a.sort(cmp)` at a site whose callee guard admitted only Array.prototype.sort (`f`), where `cmp` is a
/// function literal the compiler recognised as `(a, b) => a.k1 - b.k1 || b.k2 - a.k2 ...` (`order`: each
/// term's key and whether it is `b.k - a.k`). When every value sorted holds its keys as own data properties
/// with finite numbers, the comparisons are made on the keys read once, each giving the very number the
/// comparator would return (the first term that is not 0, else the last), so the sort takes the same steps
/// to the same order; otherwise, or for any other callee, `cmp` is called as usual.
pub fn sort_by_keys(
    cx: &mut Cx,
    f: &crate::call::Callee,
    this: &Value,
    cmp: Value,
    order: &'static [(&'static [u16], bool)],
) -> JsResult<Value> {
    if let crate::call::Callee::Native(d) = f {
        if std::ptr::eq(*d, &SORT) {
            return sort_with(cx, this, &cmp, Some(order));
        }
    }
    crate::call::invoke(cx, f, this.clone(), &[cmp])
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
            Comparator::Plain(f, code) => {
                let args = [self.vals[x].clone(), self.vals[y].clone()];
                let r = call::call_plain(cx, *f, *code, Value::Undefined, &args)?;
                comparison(cx, r)
            }
            Comparator::Rows(r) => {
                let m = r.m;
                let (a, b) = (&r.vals[x * m..x * m + m], &r.vals[y * m..y * m + m]);
                call::enter(cx)?;
                let res = (r.run)(
                    cx,
                    &crate::cx::Call {
                        callee: r.callee,
                        this: Value::Undefined,
                        args: &[],
                        new_target: None,
                    },
                    a,
                    b,
                    &r.caps,
                );
                call::leave(cx);
                comparison(cx, res?)
            }
            Comparator::Keys(k) => {
                let m = k.order.len();
                let (a, b) = (&k.vals[x * m..x * m + m], &k.vals[y * m..y * m + m]);
                let mut d = 0.0;
                for (j, &(_, desc)) in k.order.iter().enumerate() {
                    d = if desc { b[j] - a[j] } else { a[j] - b[j] };
                    if d != 0.0 {
                        break;
                    }
                }
                Ok(d)
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
        Comparator::User(_) | Comparator::Plain(..) | Comparator::Keys(_) | Comparator::Rows(_) => {
            vec![None; vals.len()]
        }
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
        _ if is_callable(cx, v) => Ok(match call::plain_code(cx, v) {
            Some((f, code)) => Comparator::Plain(f, code),
            None => Comparator::User(v.clone()),
        }),
        _ => engine_error("The comparison function must be either a function or undefined"),
    }
}

/// Array.prototype.sort (ECMA-262 §23.1.3.30), as V8 does it: values are taken out (holes skipped,
/// undefined counted), sorted, and written back followed by the undefined values and the holes.
fn sort(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    sort_with(cx, this, &arg(args, 0), None)
}

/// `sort` with comparator `cmp`, and the keys `sort_by_keys` found it to compare, if any.
fn sort_with(
    cx: &mut Cx,
    this: &Value,
    cmp: &Value,
    order: Option<&'static [(&'static [u16], bool)]>,
) -> JsResult<Value> {
    let cmp = comparator(cx, cmp)?;
    let o = this_array(cx, this)?;
    let len = len_of(cx, o);
    if len < 2 {
        return Ok(this.clone());
    }
    let mut vals = Vec::new();
    let mut undefs = 0usize;
    // An array whose prototypes have no index properties: its elements are what the reads below find (a
    // hole has no property), read in one pass and charged at once.
    let plain = plain_protos(cx, o);
    if let (true, ObjKind::Array(items)) = (plain, cx.heap.kind(o)) {
        vals.reserve(items.len());
        for v in items {
            match v {
                Value::Hole => {}
                Value::Undefined => undefs += 1,
                v => vals.push(v.clone()),
            }
        }
        cx.burn(len as u64)?;
    } else {
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
    }
    let cmp = match order.and_then(|order| keys_of(cx, &vals, order)) {
        Some(keys) => Comparator::Keys(keys),
        None => match cmp {
            Comparator::Plain(f, code) => match rows_of(cx, f, &vals)? {
                Some(rows) => Comparator::Rows(rows),
                None => Comparator::Plain(f, code),
            },
            cmp => cmp,
        },
    };
    let sorted = timsort(cx, &cmp, vals, true)?;
    let n = sorted.len();
    // Stored in place when the array is the request's own, still as long, with plain prototypes (a
    // comparator may have changed any of that); otherwise one by one, as the spec writes it.
    if plain_protos(cx, o) {
        if let Some(items) = cx
            .heap
            .array_items_mut(o)
            .filter(|items| items.len() == len)
        {
            let mut rest = sorted.into_iter();
            for (j, slot) in items.iter_mut().enumerate() {
                *slot = match rest.next() {
                    Some(v) => v,
                    None if j < n + undefs => Value::Undefined,
                    None => Value::Hole,
                };
            }
            cx.burn((len - n - undefs) as u64)?;
            return Ok(this.clone());
        }
    }
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

#[cfg(test)]
mod tests;
