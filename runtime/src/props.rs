//! Property access: [[Get]], [[Set]], [[HasProperty]], [[Delete]] and [[OwnPropertyKeys]] over our
//! objects, arrays, functions and primitives.
//!
//! Builtin methods are not stored as properties: the realm's prototype objects (Array.prototype and
//! friends) stand in the prototype chain and their methods are found by `Realm::proto_method`. Objects a
//! builtin made may compute properties of their own (a RegExp's `source`, a Map's `size`, a fetch
//! Response's `status`): the builtin says how through its `PropHooks`, which the operations here consult.

use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{ObjKind, Prop};
use crate::native::Kind;
use crate::ops;
use crate::propmap::Keys;
use crate::value::{JsStr, ObjRef, Value};
use std::rc::Rc;

/// Reads a computed property: `(cx, object, receiver, key)`.
pub type GetHook = fn(&mut Cx, ObjRef, &Value, &[u16]) -> JsResult<Option<Value>>;

/// A builtin's part of [[Get]], [[Set]] and [[HasProperty]] on the objects it makes (see `Slots::hooks`).
pub struct PropHooks {
    /// A property the object computes, read with `receiver` as `this`: its value, or `None` when `key` is
    /// not one of them (the lookup then goes on).
    pub get: GetHook,
    /// Whether the computed properties are the object's own fields (a fetch Response's `status`): they
    /// come before its own properties and count for `in` and for method calls. Otherwise they are
    /// accessors inherited from a prototype (a RegExp's `source`), which own properties shadow.
    pub fields: bool,
    /// Whether a write of `key` to the object gives up: the property is computed and has no setter.
    pub refuses_write: fn(&mut Cx, ObjRef, &[u16]) -> JsResult<bool>,
}

/// The hooks of object `o`, if a builtin made it and gave it some.
#[inline]
pub fn hooks_of(cx: &Cx, o: ObjRef) -> Option<&'static PropHooks> {
    match cx.heap.kind(o) {
        ObjKind::Builtin(b) => b.hooks(),
        _ => None,
    }
}

pub fn key(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn is(key: &[u16], s: &str) -> bool {
    key.len() == s.len() && key.iter().zip(s.bytes()).all(|(&a, b)| a == b as u16)
}

pub fn index_of_key(key: &[u16]) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key[0] == b'0' as u16) {
        return None;
    }
    let mut n: u64 = 0;
    for &c in key {
        if !(48..=57).contains(&c) {
            return None;
        }
        n = n * 10 + (c - 48) as u64;
    }
    if n < u32::MAX as u64 {
        Some(n as u32)
    } else {
        None
    }
}

/// The [[Prototype]] of an object.
pub fn proto_of(cx: &Cx, o: ObjRef) -> Option<ObjRef> {
    cx.heap.get(o).proto
}

/// The prototype object primitives look methods up on.
fn primitive_proto(cx: &Cx, v: &Value) -> Option<ObjRef> {
    match v {
        Value::Str(_) => Some(cx.realm.string_proto),
        Value::Num(_) => Some(cx.realm.number_proto),
        Value::Bool(_) => Some(cx.realm.boolean_proto),
        _ => None,
    }
}

/// [[Get]] with `v` as the receiver.
pub fn get(cx: &mut Cx, v: &Value, key: &[u16]) -> JsResult<Value> {
    match v {
        Value::Undefined | Value::Hole | Value::Null => {
            crate::cx::engine_throw("TypeError", "Cannot read properties of undefined or null")
        }
        Value::Str(s) => {
            if is(key, "length") {
                return Ok(Value::Num(s.len() as f64));
            }
            if let Some(i) = index_of_key(key) {
                return Ok(match s.units().get(i as usize) {
                    Some(&c) => Value::Str(JsStr::unit(c)),
                    None => Value::Undefined,
                });
            }
            let p = primitive_proto(cx, v).expect("string proto");
            get_from(cx, Some(p), v, key)
        }
        Value::Num(_) | Value::Bool(_) => {
            let p = primitive_proto(cx, v);
            get_from(cx, p, v, key)
        }
        Value::Obj(o) => get_from(cx, Some(*o), v, key),
    }
}

/// [[Get]] of a named property at a site with cache slot `slot`: an ordinary object's own data property is
/// read at the position in its property map where this site last found it, when the key there is still
/// `key` (objects made by the same code keep their keys in the same order), without hashing the key;
/// everything else is `get`.
#[inline]
pub fn get_at(cx: &mut Cx, v: &Value, key: &'static [u16], slot: u32) -> JsResult<Value> {
    if let Value::Obj(o) = v {
        if let Some(r) = ordinary_at(cx, v, *o, key, u32::MAX, slot) {
            return r;
        }
    }
    get(cx, v, key)
}

/// `get_at` behind the site's type guard (`mask`, at `site`): an ordinary object where the guard admits
/// objects passes it without a second look at the object's kind. `ki` is `key`'s string constant: a key
/// that object literals of the program made is that very string, recognised without comparing units.
#[inline(always)]
pub fn get_at_guarded(
    cx: &mut Cx,
    v: &Value,
    key: &'static [u16],
    ki: u32,
    slot: u32,
    mask: u16,
    site: u32,
) -> JsResult<Value> {
    // Inlined into generated code as far as a cached read of an ordinary object's own property.
    if mask & crate::value::tag::OBJECT != 0 {
        if let Value::Obj(o) = v {
            if let Some(r) = ordinary_at(cx, v, *o, key, ki, slot) {
                return r;
            }
        }
    }
    get_at_typed(cx, v, key, slot, mask, site)
}

/// `get_at_guarded` on anything but an ordinary object: the type guard, then `get_at`.
#[inline(never)]
fn get_at_typed(
    cx: &mut Cx,
    v: &Value,
    key: &'static [u16],
    slot: u32,
    mask: u16,
    site: u32,
) -> JsResult<Value> {
    ops::guard_type(cx, v, mask, site)?;
    get_at(cx, v, key, slot)
}

/// `get_at` on object `o` when it is an ordinary one (None otherwise): the cached position first.
#[inline(always)]
fn ordinary_at(
    cx: &mut Cx,
    v: &Value,
    o: ObjRef,
    key: &'static [u16],
    ki: u32,
    slot: u32,
) -> Option<JsResult<Value>> {
    let obj = cx.heap.get(o);
    if !matches!(obj.kind, ObjKind::Ordinary) {
        return None;
    }
    let pic = cx.pics.get(slot as usize);
    let i = pic.map_or(usize::MAX, |p| p.pos as usize);
    // The shape the site saw last: the key is at its position, with no key to compare.
    if let Some(Prop::Data { value, .. }) = pic.and_then(|p| obj.props.get_in_shape(&p.shape, i)) {
        return Some(Ok(value.clone()));
    }
    if let Some((k, Prop::Data { value, .. })) = obj.props.get_index(i) {
        if cx.interned(ki).is_some_and(|s| s.same(k)) || crate::value::units_eq(k.units(), key) {
            return Some(Ok(value.clone()));
        }
    }
    Some(get_own_miss(cx, v, o, key, slot))
}

#[inline(never)]
fn get_own_miss(cx: &mut Cx, v: &Value, o: ObjRef, key: &[u16], slot: u32) -> JsResult<Value> {
    let props = &cx.heap.get(o).props;
    if let Some((i, _, Prop::Data { value, .. })) = props.get_full(key) {
        let value = value.clone();
        let shape = props.shared_shape().cloned();
        remember_position(cx, slot, i, shape);
        return Ok(value);
    }
    get(cx, v, key)
}

/// Looks `key` up from object `start` along the prototype chain, with `receiver` as `this` for getters.
fn get_from(cx: &mut Cx, start: Option<ObjRef>, receiver: &Value, key: &[u16]) -> JsResult<Value> {
    let mut cur = start;
    while let Some(o) = cur {
        let obj = cx.heap.get(o);
        match &obj.kind {
            ObjKind::Array(items) => {
                if is(key, "length") {
                    return Ok(Value::Num(items.len() as f64));
                }
                if let Some(i) = index_of_key(key) {
                    if let Some(v) = items.get(i as usize) {
                        if !matches!(v, Value::Hole) {
                            return Ok(v.clone());
                        }
                    }
                }
            }
            ObjKind::Function(f) => {
                if f.code == crate::call::NOT_COMPILED {
                    return unsupported("a property of a function or class that is not compiled");
                }
                if !obj.props.contains_key(key) {
                    if is(key, "name") {
                        return Ok(Value::Str(f.name.clone()));
                    }
                    if is(key, "length") {
                        return Ok(Value::Num(f.length as f64));
                    }
                    if is(key, "prototype")
                        && f.flags & (crate::heap::fflags::ARROW | crate::heap::fflags::METHOD) == 0
                    {
                        return unsupported("the prototype of a plain function");
                    }
                }
            }
            ObjKind::Native(def) if !obj.props.contains_key(key) => {
                if is(key, "name") {
                    return Ok(Value::str(def.js_name()));
                }
                if is(key, "length") {
                    return Ok(Value::Num(def.length as f64));
                }
            }
            ObjKind::Error if is(key, "stack") => {
                return unsupported("Error.prototype.stack is V8's text");
            }
            ObjKind::Builtin(b) => {
                if let Some(h) = b.hooks() {
                    if h.fields || !obj.props.contains_key(key) {
                        if let Some(v) = (h.get)(cx, o, receiver, key)? {
                            return Ok(v);
                        }
                    }
                }
            }
            _ => {}
        }
        let obj = cx.heap.get(o);
        if let Some(p) = obj.props.get(key) {
            return match p {
                Prop::Data { value, .. } => Ok(value.clone()),
                Prop::Accessor { get: Some(g), .. } => {
                    let g = *g;
                    crate::call::call(cx, &Value::Obj(g), receiver.clone(), &[])
                }
                Prop::Accessor { get: None, .. } => Ok(Value::Undefined),
            };
        }
        if is(key, "__proto__") {
            return unsupported("__proto__");
        }
        if let Some(f) = cx.realm.proto_method_object(o, key) {
            return Ok(Value::Obj(f));
        }
        cur = obj.proto;
    }
    Ok(Value::Undefined)
}

/// Whether a property key is a class's private name (`#x`): the compiler stores those under keys that
/// start with U+FFFF, as no key in a handler's source does, and defines them non-enumerable.
pub fn is_private_key(k: &[u16]) -> bool {
    k.first() == Some(&0xFFFF)
}

/// Reads private member `key` (`o.#x`): a field of `o` or a method or accessor on its prototype chain.
/// An object without it is a TypeError in JavaScript; V8's message is not reproduced, so it gives up.
pub fn get_private(cx: &mut Cx, v: &Value, key: &[u16]) -> JsResult<Value> {
    let Value::Obj(o) = v else {
        return engine_error(
            "Cannot read private member from an object whose class did not declare it",
        );
    };
    let mut cur = Some(*o);
    while let Some(c) = cur {
        let obj = cx.heap.get(c);
        match obj.props.get(key) {
            Some(Prop::Data { value, .. }) => return Ok(value.clone()),
            Some(Prop::Accessor { get: Some(g), .. }) => {
                let g = *g;
                return crate::call::call(cx, &Value::Obj(g), v.clone(), &[]);
            }
            Some(Prop::Accessor { get: None, .. }) => {
                return engine_error("'#x' was defined without a getter")
            }
            None => cur = obj.proto,
        }
    }
    engine_error("Cannot read private member from an object whose class did not declare it")
}

/// Writes private member `key` (`o.#x = v`): an own field, or through a private setter on the chain.
/// Writing a private method, or a member the object lacks, is a TypeError in JavaScript: it gives up.
pub fn set_private(cx: &mut Cx, v: &Value, key: &[u16], val: Value) -> JsResult<()> {
    let Value::Obj(o) = v else {
        return engine_error(
            "Cannot write private member to an object whose class did not declare it",
        );
    };
    if let Some(Prop::Data { .. }) = cx.heap.get(*o).props.get(key) {
        if let Some(Prop::Data { value, .. }) = cx.heap.get_mut(*o)?.props.get_mut(key) {
            *value = val;
        }
        return Ok(());
    }
    let mut cur = Some(*o);
    while let Some(c) = cur {
        let obj = cx.heap.get(c);
        match obj.props.get(key) {
            Some(Prop::Accessor { set: Some(s), .. }) => {
                let s = *s;
                crate::call::call(cx, &Value::Obj(s), v.clone(), &[val])?;
                return Ok(());
            }
            Some(_) => return engine_error("Private method is not writable"),
            None => cur = obj.proto,
        }
    }
    engine_error("Cannot write private member to an object whose class did not declare it")
}

/// [[Get]] with a computed key: array and string indices take the fast path.
#[inline]
pub fn get_computed(cx: &mut Cx, v: &Value, k: &Value) -> JsResult<Value> {
    if let Value::Num(n) = k {
        if let Some(i) = ops::small_index(*n) {
            match v {
                Value::Obj(o) => {
                    if let ObjKind::Array(items) = cx.heap.kind(*o) {
                        if let Some(x) = items.get(i) {
                            if !matches!(x, Value::Hole) {
                                return Ok(x.clone());
                            }
                        }
                    }
                }
                Value::Str(s) => {
                    return Ok(match s.units().get(i) {
                        Some(&c) => Value::Str(JsStr::unit(c)),
                        None => Value::Undefined,
                    })
                }
                _ => {}
            }
        }
    }
    // A string key of an ordinary object's own data property (`counts[word]`, `ESCAPES[c]`): the string is
    // the property key itself (ToPropertyKey of a string), found in the object's own map without a copy.
    if let (Value::Obj(o), Value::Str(s)) = (v, k) {
        let obj = cx.heap.get(*o);
        if matches!(obj.kind, ObjKind::Ordinary) {
            if let Some(Prop::Data { value, .. }) = obj.props.get(s.units()) {
                return Ok(value.clone());
            }
        }
    }
    if v.is_nullish() {
        return crate::cx::engine_throw("TypeError", "Cannot read properties of undefined or null");
    }
    let key = ops::to_property_key(cx, k)?;
    get(cx, v, key.units())
}

/// `o[k]` at a site where the trace saw only arrays indexed by numbers: the type guard of `o` (an array) and
/// the element read in one heap lookup, inlined into generated code; a hole, an index past the end, a key
/// that is not an index and the guard's failure take `array_index_slow`, which reads as `get_computed` does.
#[inline(always)]
pub fn get_array_index(cx: &mut Cx, o: &Value, k: f64, site: u32) -> JsResult<Value> {
    match array_element(cx, o, k) {
        Some(v) => Ok(v),
        None => array_index_slow(cx, o, k, site),
    }
}

/// `o[k]` read where its value goes straight to a number guard (site `guard`), as an f64: an element that is
/// a number is read without a tagged copy; anything else takes the read and the guard one after the other.
#[inline(always)]
pub fn get_array_num(cx: &mut Cx, o: &Value, k: f64, site: u32, guard: u32) -> JsResult<f64> {
    if let Value::Obj(r) = o {
        if let ObjKind::Array(items) = cx.heap.kind(*r) {
            if let Some(Value::Num(n)) = ops::small_index(k).and_then(|i| items.get(i)) {
                return Ok(*n);
            }
        }
    }
    get_array_num_slow(cx, o, k, site, guard)
}

/// The array `a[j]` when it is one, an element of the array `a` (no hole, no getter, no prototype): the row of
/// `a[j][k]`, read in place.
#[inline(always)]
fn row_of(cx: &Cx, a: &Value, j: f64) -> Option<ObjRef> {
    if let Value::Obj(r) = a {
        if let ObjKind::Array(rows) = cx.heap.kind(*r) {
            if let Some(Value::Obj(row)) = ops::small_index(j).and_then(|i| rows.get(i)) {
                return Some(*row);
            }
        }
    }
    None
}

/// `a[j][k]` (sites `sj` for the row's read, `sk` for the element's): `get_array_index` of `get_array_index`
/// without a copy of the row. The caller evaluated `k` before the row's read, which is the same when `k` is a
/// literal or a local (see `rowRead` in the code generator).
#[inline(always)]
pub fn get_array_index2(
    cx: &mut Cx,
    a: &Value,
    j: f64,
    k: f64,
    sj: u32,
    sk: u32,
) -> JsResult<Value> {
    let row = row_value(cx, a, j, sj)?;
    get_array_index(cx, &row, k, sk)
}

/// `a[j]` as `get_array_index` gives it, by `row_of` when that finds it.
#[inline(always)]
fn row_value(cx: &mut Cx, a: &Value, j: f64, sj: u32) -> JsResult<Value> {
    match row_of(cx, a, j) {
        Some(row) => Ok(Value::Obj(row)),
        None => get_array_index(cx, a, j, sj),
    }
}

/// `a[j][k]` where the element goes straight to a number guard (site `guard`): `get_array_num` of the row
/// read in place (see `get_array_index2`).
#[inline(always)]
pub fn get_array_num2(
    cx: &mut Cx,
    a: &Value,
    j: f64,
    k: f64,
    sj: u32,
    sk: u32,
    guard: u32,
) -> JsResult<f64> {
    if let Some(row) = row_of(cx, a, j) {
        if let ObjKind::Array(items) = cx.heap.kind(row) {
            if let Some(Value::Num(n)) = ops::small_index(k).and_then(|i| items.get(i)) {
                return Ok(*n);
            }
        }
        return get_array_num(cx, &Value::Obj(row), k, sk, guard);
    }
    let row = get_array_index(cx, a, j, sj)?;
    get_array_num(cx, &row, k, sk, guard)
}

/// `a[j][k] = n` (sites `sj` for the row's read, `site` for the store): `set_array_num` on the row read in
/// place (see `get_array_index2`).
#[inline(always)]
pub fn set_array_num2(
    cx: &mut Cx,
    a: &Value,
    j: f64,
    k: f64,
    n: f64,
    sj: u32,
    site: u32,
) -> JsResult<()> {
    let row = row_value(cx, a, j, sj)?;
    set_array_num(cx, &row, k, n, site)
}

#[inline(never)]
fn get_array_num_slow(cx: &mut Cx, o: &Value, k: f64, site: u32, guard: u32) -> JsResult<f64> {
    let v = get_array_index(cx, o, k, site)?;
    ops::guard_num(&v, guard)
}

/// Element `k` of `o` when `o` is an array that holds it (not a hole, an index below 2^31): what every
/// indexed read of an array answers without looking further.
#[inline(always)]
pub fn array_element(cx: &Cx, o: &Value, k: f64) -> Option<Value> {
    if let Value::Obj(r) = o {
        if let ObjKind::Array(items) = cx.heap.kind(*r) {
            if let Some(x) = ops::small_index(k).and_then(|i| items.get(i)) {
                if !matches!(x, Value::Hole) {
                    return Some(x.clone());
                }
            }
        }
    }
    None
}

#[inline(never)]
fn array_index_slow(cx: &mut Cx, o: &Value, k: f64, site: u32) -> JsResult<Value> {
    ops::guard_type(cx, o, crate::value::tag::ARRAY, site)?;
    get_computed(cx, o, &Value::Num(k))
}

/// `o[k] = v` at a site where the trace saw only arrays indexed by numbers: the type guard and an in-bounds
/// store into an array of the request's own in one heap lookup; anything else (module state, holes past the
/// end, a watched or frozen array) goes through the guard and `set_computed`.
#[inline(always)]
pub fn set_array_index(cx: &mut Cx, o: &Value, k: f64, v: Value, site: u32) -> JsResult<()> {
    if let Value::Obj(r) = o {
        if let Some(i) = ops::small_index(k) {
            if let Some(slot) = cx.heap.array_slot_mut(*r, i) {
                *slot = v;
                return Ok(());
            }
        }
    }
    set_array_index_slow(cx, o, k, v, site)
}

/// `set_array_index` of a number: the element is written from `n` itself.
#[inline(always)]
pub fn set_array_num(cx: &mut Cx, o: &Value, k: f64, n: f64, site: u32) -> JsResult<()> {
    if let Value::Obj(r) = o {
        if let Some(i) = ops::small_index(k) {
            if let Some(slot) = cx.heap.array_slot_mut(*r, i) {
                *slot = Value::Num(n);
                return Ok(());
            }
        }
    }
    set_array_index_slow(cx, o, k, Value::Num(n), site)
}

#[inline(never)]
fn set_array_index_slow(cx: &mut Cx, o: &Value, k: f64, v: Value, site: u32) -> JsResult<()> {
    // An array of module state (a grid the module made, which each request writes and resets) takes the
    // same in-bounds store, through the write access that logs it for undoing.
    if let (Value::Obj(r), Some(i)) = (o, ops::small_index(k)) {
        if let Some(slot) = cx.heap.module_array_slot_mut(*r, i) {
            *slot = v;
            return Ok(());
        }
    }
    ops::guard_type(cx, o, crate::value::tag::ARRAY, site)?;
    set_computed(cx, o, &Value::Num(k), v)
}

/// `o.length` at a site where the trace saw only arrays: the type guard and the read in one heap lookup.
#[inline(always)]
pub fn array_length(cx: &mut Cx, o: &Value, site: u32) -> JsResult<f64> {
    if let Value::Obj(r) = o {
        if let ObjKind::Array(items) = cx.heap.kind(*r) {
            return Ok(items.len() as f64);
        }
    }
    not_an_array(cx, o, site)
}

/// `s.length` at a site where the trace saw only strings: its UTF-16 units, counted without a property
/// lookup; anything else fails the site's type guard.
#[inline(always)]
pub fn string_length(cx: &mut Cx, o: &Value, site: u32) -> JsResult<f64> {
    if let Value::Str(s) = o {
        return Ok(s.len() as f64);
    }
    ops::guard_type(cx, o, crate::value::tag::STRING, site)?;
    unsupported("the length of a value tagged as a string that is not one")
}

/// `x.length` at a site where the trace saw strings and arrays: a string's units or an array's elements.
#[inline(always)]
pub fn units_or_elements(cx: &mut Cx, o: &Value, site: u32) -> JsResult<f64> {
    match o {
        Value::Str(s) => Ok(s.len() as f64),
        _ => array_length(cx, o, site),
    }
}

#[inline(never)]
fn not_an_array(cx: &mut Cx, o: &Value, site: u32) -> JsResult<f64> {
    // Only arrays carry the array tag: the guard gives up.
    ops::guard_type(cx, o, crate::value::tag::ARRAY, site)?;
    unsupported("the length of an object tagged as an array that is not one")
}

/// [[Set]] with a computed key.
#[inline]
pub fn set_computed(cx: &mut Cx, target: &Value, k: &Value, val: Value) -> JsResult<()> {
    if let (Value::Obj(o), Value::Num(n)) = (target, k) {
        if let Some(i) = ops::small_index(*n) {
            return set_index(cx, *o, i as u32, val);
        }
    }
    if target.is_nullish() {
        return engine_error("Cannot set properties of undefined or null");
    }
    let key = ops::to_property_key(cx, k)?;
    set(cx, target, key.units(), val)
}

#[inline]
fn set_index(cx: &mut Cx, o: ObjRef, i: u32, val: Value) -> JsResult<()> {
    if let Some(slot) = cx.heap.array_slot_mut(o, i as usize) {
        *slot = val;
        return Ok(());
    }
    if let ObjKind::Array(items) = cx.heap.kind(o) {
        let len = items.len();
        let i = i as usize;
        if i > len + 100_000 {
            return unsupported("a very sparse array");
        }
        let grow = if i >= len { (i + 1 - len) * 24 } else { 0 };
        let obj = cx.heap.get_mut_grow(o, grow)?;
        if let ObjKind::Array(items) = &mut obj.kind {
            if i < items.len() {
                items[i] = val;
            } else {
                items.resize_with(i, || Value::Hole);
                items.push(val);
            }
        }
        return Ok(());
    }
    let key = ops::number_to_jsstr(i as f64);
    set(cx, &Value::Obj(o), key.units(), val)
}

/// [[Set]] (ECMA-262 §10.1.9) with the receiver equal to the target.
pub fn set(cx: &mut Cx, target: &Value, key: &[u16], val: Value) -> JsResult<()> {
    let o = match target {
        Value::Obj(o) => *o,
        Value::Undefined | Value::Null | Value::Hole => {
            return crate::cx::engine_throw(
                "TypeError",
                "Cannot set properties of undefined or null",
            )
        }
        _ => return unsupported("a property write to a primitive"),
    };
    if matches!(cx.heap.kind(o), ObjKind::Function(f) if f.code == crate::call::NOT_COMPILED) {
        return unsupported("a property of a function or class that is not compiled");
    }
    // Arrays: indices and length.
    if let ObjKind::Array(_) = cx.heap.kind(o) {
        if let Some(i) = index_of_key(key) {
            return set_index(cx, o, i, val);
        }
        if is(key, "length") {
            let n = match &val {
                Value::Num(n) => *n,
                _ => return unsupported("array length set to a non-number"),
            };
            let len = n as u32;
            if len as f64 != n {
                return engine_error("Invalid array length");
            }
            let obj = cx.heap.get_mut(o)?;
            if let ObjKind::Array(items) = &mut obj.kind {
                if (len as usize) > items.len() + 100_000 {
                    return unsupported("a very sparse array");
                }
                items.resize_with(len as usize, || Value::Hole);
            }
            return Ok(());
        }
    }
    // A new key on an ordinary object whose prototype is Object.prototype as the realm made it (`o[k] = v`
    // filling a record): nothing along the chain can refuse the write or take it (a setter), but
    // `__proto__`'s accessor, so the property is added without walking the chain.
    if cx.heap.realm_untouched() && !is(key, "__proto__") {
        let obj = cx.heap.get(o);
        if matches!(obj.kind, ObjKind::Ordinary)
            && obj.proto == Some(cx.realm.object_proto)
            && !obj.props.contains_key(key)
        {
            let obj = cx.heap.get_mut_grow(o, 64 + key.len() * 2)?;
            obj.props.push_new_units(key, Prop::data(val));
            return Ok(());
        }
    }
    // An own data property, or a setter or read-only property along the chain.
    let mut cur = Some(o);
    while let Some(c) = cur {
        let obj = cx.heap.get(c);
        if let Some(p) = obj.props.get(key) {
            match p {
                Prop::Data { writable, .. } => {
                    if !*writable {
                        return unsupported("a write to a read-only property");
                    }
                    if c == o {
                        let obj = cx.heap.get_mut(o)?;
                        if let Some(Prop::Data { value, .. }) = obj.props.get_mut(key) {
                            *value = val;
                        }
                        return Ok(());
                    }
                    break;
                }
                Prop::Accessor { set: Some(s), .. } => {
                    let s = *s;
                    crate::call::call(cx, &Value::Obj(s), target.clone(), &[val])?;
                    return Ok(());
                }
                Prop::Accessor { set: None, .. } => {
                    return unsupported("a write to a getter-only property")
                }
            }
        }
        // Object.prototype's own `__proto__` is an accessor in JavaScript: reached here, its setter runs.
        if c == cx.realm.object_proto && is(key, "__proto__") {
            return set_proto_through_accessor(cx, o, &val);
        }
        if let Some(d) = cx.realm.proto_method(c, key).filter(|_| c != o) {
            if d.kind() == Kind::Getter {
                return unsupported(format!("a write to {} (a getter)", d.name));
            }
            // Shadowing a builtin method with an own property is legal; it only changes later lookups,
            // which check own properties first.
            break;
        }
        cur = obj.proto;
    }
    if let ObjKind::Function(_) | ObjKind::Native(_) = cx.heap.kind(o) {
        if is(key, "name") || is(key, "length") {
            return unsupported("a write to a function's name or length");
        }
    }
    // A computed property has no setter: strict code would throw.
    if let Some(h) = hooks_of(cx, o) {
        if (h.refuses_write)(cx, o, key)? {
            return unsupported("a write to a property a builtin computes (a getter)");
        }
    }
    let obj = cx.heap.get_mut_grow(o, 64 + key.len() * 2)?;
    obj.props.insert_units(key, Prop::data(val));
    Ok(())
}

/// `o.key = val` at a site with cache slot `slot`: where the object is an ordinary one whose own writable
/// data property `key` sits where this site last found it, the value is stored there (through `get_mut`,
/// which logs a module object's first write and refuses a frozen one, as `set` does); anything else is
/// `set`, after which the site remembers where the property is. `ki` is `key`'s string constant (see
/// `get_at_guarded`).
#[inline(always)]
pub fn set_at(
    cx: &mut Cx,
    target: &Value,
    key: &'static [u16],
    ki: u32,
    slot: u32,
    val: Value,
) -> JsResult<()> {
    if let Value::Obj(o) = target {
        let pic = cx.pics.get(slot as usize);
        let i = pic.map_or(usize::MAX, |p| p.pos as usize);
        let obj = cx.heap.get(*o);
        if matches!(obj.kind, ObjKind::Ordinary) {
            // The shape the site saw last, as in `ordinary_at`.
            if let Some(p) = pic {
                if let Some(Prop::Data { writable: true, .. }) = obj.props.get_in_shape(&p.shape, i)
                {
                    // The same object, whose properties nothing has changed since.
                    if let Some((_, Prop::Data { value, .. })) =
                        cx.heap.get_mut(*o)?.props.get_index_mut(i)
                    {
                        *value = val;
                    }
                    return Ok(());
                }
            }
            if let Some((k, Prop::Data { writable: true, .. })) = obj.props.get_index(i) {
                if cx.interned(ki).is_some_and(|s| s.same(k))
                    || crate::value::units_eq(k.units(), key)
                {
                    if let Some((_, Prop::Data { value, .. })) =
                        cx.heap.get_mut(*o)?.props.get_index_mut(i)
                    {
                        *value = val;
                    }
                    return Ok(());
                }
            }
        }
    }
    set_at_miss(cx, target, key, slot, val)
}

#[inline(never)]
fn set_at_miss(cx: &mut Cx, target: &Value, key: &[u16], slot: u32, val: Value) -> JsResult<()> {
    set(cx, target, key, val)?;
    if let Value::Obj(o) = target {
        let obj = cx.heap.get(*o);
        if matches!(obj.kind, ObjKind::Ordinary) {
            if let Some(i) = obj.props.position(key) {
                let shape = obj.props.shared_shape().cloned();
                remember_position(cx, slot, i, shape);
            }
        }
    }
    Ok(())
}

/// A named read's or write's cache (`get_at`, `set_at`): where the site last found its key, and the shape
/// of the object it found it in when that shape is shared (`Props::shared_shape`). Holding the shape keeps
/// its address from being reused and its keys from changing, so an object with that very shape has the key
/// at that position.
#[derive(Clone)]
pub(crate) struct Pic {
    pub(crate) shape: Option<Rc<Keys>>,
    pos: u32,
}

impl Default for Pic {
    fn default() -> Pic {
        Pic {
            shape: None,
            pos: u32::MAX,
        }
    }
}

/// Remembers that the property a site with cache slot `slot` looked for is at position `i`, in an object
/// of shape `shape` (slots past 2^16 are not remembered, so a huge program cannot make the table huge).
fn remember_position(cx: &mut Cx, slot: u32, i: usize, shape: Option<Rc<Keys>>) {
    let slot = slot as usize;
    if slot < 1 << 16 {
        if cx.pics.len() <= slot {
            cx.pics.resize(slot + 1, Pic::default());
        }
        cx.pics[slot] = Pic {
            shape,
            pos: i as u32,
        };
    }
}

/// The setter of `Object.prototype.__proto__` (ECMA-262 §20.1.3.8.2) with `o` as the receiver, as [[Set]]
/// of the key `__proto__` reaches it (`o[k] = v`, `Object.assign`) when nothing before Object.prototype on the
/// chain has an own `__proto__`: an object or `null` becomes the prototype (OrdinarySetPrototypeOf,
/// §10.1.2.1), any other value is ignored. Only ordinary objects get a new prototype here; other kinds give
/// up rather than guess how their builtins would see it.
fn set_proto_through_accessor(cx: &mut Cx, o: ObjRef, val: &Value) -> JsResult<()> {
    let proto = match val {
        Value::Obj(p) => Some(*p),
        Value::Null => None,
        _ => return Ok(()),
    };
    if cx.heap.get(o).proto == proto {
        return Ok(());
    }
    if !matches!(cx.heap.kind(o), ObjKind::Ordinary) || cx.realm.is_builtin_proto(o) {
        return unsupported(
            "setting the prototype of a builtin or exotic object through __proto__",
        );
    }
    if cx.heap.get(o).frozen {
        return crate::cx::engine_throw("TypeError", "#<Object> is not extensible");
    }
    let mut p = proto;
    while let Some(x) = p {
        if x == o {
            return crate::cx::engine_throw("TypeError", "Cyclic __proto__ value");
        }
        p = cx.heap.get(x).proto;
    }
    cx.heap.get_mut(o)?.proto = proto;
    Ok(())
}

/// Defines an own enumerable data property (object literals, CreateDataProperty).
pub fn define(cx: &mut Cx, o: ObjRef, key: JsStr, val: Value) -> JsResult<()> {
    if let ObjKind::Array(_) = cx.heap.kind(o) {
        if let Some(i) = key.as_array_index() {
            return set_index(cx, o, i, val);
        }
    }
    let obj = cx.heap.get_mut_grow(o, 64 + key.len() * 2)?;
    obj.props.insert(key, Prop::data(val));
    Ok(())
}

/// Defines data property `key` on `o`, an ordinary object being made by an object literal whose static
/// keys are all distinct (the compiler checks): no search for an earlier property of the same key.
#[inline]
pub fn define_fresh(cx: &mut Cx, o: ObjRef, key: JsStr, val: Value) -> JsResult<()> {
    let obj = cx.heap.get_mut_grow(o, 64 + key.len() * 2)?;
    obj.props.push_new(key, Prop::data(val));
    Ok(())
}

/// Defines a property with the given descriptor (class members, Object.defineProperty).
pub fn define_prop(cx: &mut Cx, o: ObjRef, key: JsStr, prop: Prop) -> JsResult<()> {
    let obj = cx.heap.get_mut_grow(o, 64 + key.len() * 2)?;
    // A getter and a setter of the same name merge into one accessor.
    if let (
        Prop::Accessor {
            get: g2, set: s2, ..
        },
        Some(Prop::Accessor { get, set, .. }),
    ) = (&prop, obj.props.get_mut(&key))
    {
        if g2.is_some() {
            *get = *g2;
        }
        if s2.is_some() {
            *set = *s2;
        }
        return Ok(());
    }
    obj.props.insert(key, prop);
    Ok(())
}

/// [[HasProperty]].
pub fn has_property(cx: &mut Cx, v: &Value, key: &[u16]) -> JsResult<bool> {
    let mut cur = match v {
        Value::Obj(o) => Some(*o),
        _ => primitive_proto(cx, v),
    };
    while let Some(o) = cur {
        if has_own(cx, o, key) {
            return Ok(true);
        }
        // Object.prototype's own accessor `__proto__`.
        if o == cx.realm.object_proto && is(key, "__proto__") {
            return Ok(true);
        }
        if cx.realm.proto_method(o, key).is_some() {
            return Ok(true);
        }
        if let Some(h) = hooks_of(cx, o).filter(|h| h.fields) {
            if (h.get)(cx, o, &Value::Obj(o), key)?.is_some() {
                return Ok(true);
            }
        }
        cur = cx.heap.get(o).proto;
    }
    Ok(false)
}

/// Whether `o` has an own property `key`.
pub fn has_own(cx: &Cx, o: ObjRef, key: &[u16]) -> bool {
    let obj = cx.heap.get(o);
    match &obj.kind {
        ObjKind::Array(items) => {
            if is(key, "length") {
                return true;
            }
            if let Some(i) = index_of_key(key) {
                return items
                    .get(i as usize)
                    .is_some_and(|v| !matches!(v, Value::Hole));
            }
        }
        ObjKind::Function(_) | ObjKind::Native(_) if is(key, "name") || is(key, "length") => {
            return true;
        }
        _ => {}
    }
    obj.props.contains_key(key)
}

/// The `delete` operator on an object property.
pub fn delete(cx: &mut Cx, v: &Value, key: &[u16]) -> JsResult<bool> {
    let o = match v {
        Value::Obj(o) => *o,
        Value::Undefined | Value::Null | Value::Hole => {
            return engine_error("Cannot convert undefined or null to object")
        }
        _ => return Ok(true),
    };
    if let ObjKind::Array(items) = cx.heap.kind(o) {
        if let Some(i) = index_of_key(key) {
            if (i as usize) < items.len() {
                let obj = cx.heap.get_mut(o)?;
                if let ObjKind::Array(items) = &mut obj.kind {
                    items[i as usize] = Value::Hole;
                }
            }
            return Ok(true);
        }
        if is(key, "length") {
            // Non-configurable: `false` in sloppy code, V8's TypeError in strict code; which one applies is
            // not known here.
            return unsupported("delete of an array's length");
        }
    }
    if !cx.heap.get(o).props.contains_key(key) {
        return Ok(true);
    }
    let obj = cx.heap.get_mut(o)?;
    obj.props.shift_remove(key);
    Ok(true)
}

pub fn delete_computed(cx: &mut Cx, v: &Value, k: &Value) -> JsResult<bool> {
    let key = ops::to_property_key(cx, k)?;
    delete(cx, v, key.units())
}

/// [[OwnPropertyKeys]] restricted to enumerable string keys, in the spec's order: array indices
/// ascending, then other strings in insertion order (ECMA-262 §10.1.11.1).
pub fn own_enumerable_keys(cx: &Cx, o: ObjRef) -> Vec<JsStr> {
    let obj = cx.heap.get(o);
    let mut out = Vec::new();
    if let ObjKind::Array(items) = &obj.kind {
        for (i, v) in items.iter().enumerate() {
            if !matches!(v, Value::Hole) {
                out.push(ops::number_to_jsstr(i as f64));
            }
        }
    }
    let mut ints: Vec<(u32, &JsStr)> = Vec::new();
    for (k, p) in obj.props.iter() {
        if !p.enumerable() {
            continue;
        }
        if let Some(i) = k.as_array_index() {
            ints.push((i, k));
        }
    }
    if !ints.is_empty() {
        ints.sort_by_key(|(i, _)| *i);
        out.extend(ints.into_iter().map(|(_, k)| k.clone()));
    }
    for (k, p) in obj.props.iter() {
        if p.enumerable() && k.as_array_index().is_none() {
            out.push(k.clone());
        }
    }
    out
}

/// The value of an own property found by `own_enumerable_keys` (getters are called).
pub fn get_own(cx: &mut Cx, o: ObjRef, key: &[u16]) -> JsResult<Value> {
    get(cx, &Value::Obj(o), key)
}

/// Keys for `for (k in o)`: enumerable own keys, then inherited ones not shadowed.
pub fn for_in_keys(cx: &mut Cx, v: &Value) -> JsResult<Vec<JsStr>> {
    let o = match v {
        Value::Obj(o) => *o,
        Value::Undefined | Value::Null | Value::Hole => return Ok(Vec::new()),
        Value::Str(s) => {
            return Ok((0..s.len())
                .map(|i| ops::number_to_jsstr(i as f64))
                .collect())
        }
        _ => return Ok(Vec::new()),
    };
    let mut keys = own_enumerable_keys(cx, o);
    let mut cur = cx.heap.get(o).proto;
    while let Some(p) = cur {
        for k in own_enumerable_keys(cx, p) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        cur = cx.heap.get(p).proto;
    }
    Ok(keys)
}

/// The environment `depth` scopes up from `env`.
#[inline]
pub fn scope_env(cx: &Cx, env: ObjRef, depth: u32) -> ObjRef {
    let mut e = env;
    for _ in 0..depth {
        e = match &cx.heap.get(e).kind {
            ObjKind::Scope {
                parent: Some(p), ..
            } => *p,
            _ => unreachable!("scope chain shorter than the compiler computed"),
        };
    }
    e
}

/// Reads a captured variable `depth` environments up from `env`.
#[inline]
pub fn scope_get(cx: &Cx, env: ObjRef, depth: u32, idx: u32) -> Value {
    match &cx.heap.get(scope_env(cx, env, depth)).kind {
        ObjKind::Scope { vars, .. } => vars[idx as usize].clone(),
        _ => unreachable!("not a scope"),
    }
}

/// Writes a captured variable. Module-level variables are read-only during a request.
#[inline]
pub fn scope_set(cx: &mut Cx, env: ObjRef, depth: u32, idx: u32, v: Value) -> JsResult<()> {
    let e = scope_env(cx, env, depth);
    match &mut cx.heap.get_mut(e)?.kind {
        ObjKind::Scope { vars, .. } => vars[idx as usize] = v,
        _ => unreachable!("not a scope"),
    }
    Ok(())
}

/// Makes a new environment with `n` variables (all `undefined`: the compiler checks TDZ statically).
pub fn new_scope(cx: &mut Cx, n: usize, parent: Option<ObjRef>) -> JsResult<ObjRef> {
    Ok(cx.heap.alloc(crate::heap::Obj::new(
        ObjKind::Scope {
            vars: std::iter::repeat_with(|| Value::Undefined)
                .take(n)
                .collect(),
            parent,
        },
        None,
    ))?)
}
