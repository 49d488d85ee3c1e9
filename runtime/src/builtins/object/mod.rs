//! Object (ECMA-262 §20.1): the function, its statics and Object.prototype's methods.
//!
//! Property keys are strings (symbols are not modelled). Own keys come in the spec's order: array
//! indices ascending, then other keys in insertion order. Where the spec reads a property's descriptor
//! again before reading its value (Object.values, Object.entries, Object.assign), so do we, because a
//! getter may delete or hide a later property.
//!
//! Deliberate give-ups: wrapper objects for primitives (`Object(1)`, `Object.assign("a", ...)`,
//! `Object.prototype.valueOf.call(1)`); properties that would be non-configurable
//! (`Object.defineProperty` without `configurable: true` on a new property, or on a read-only one),
//! because the heap does not record configurability and a later `delete` or redefinition must fail;
//! array `length` and non-plain array elements; function `name`, `length`, `prototype`, `arguments`,
//! `caller`; the second argument of `Object.create`; keys of host objects and of the realm's own objects
//! (V8 gives `console` enumerable methods); Object.getOwnPropertyNames of functions, errors (V8's own
//! `stack`), regexps; Object.getPrototypeOf of async functions (AsyncFunction.prototype is not
//! modelled); Object.prototype.toString of realm objects whose tag we do not know.

use crate::builtin;
use crate::builtins::arg;
use crate::builtins::array::{Item, JsIter};
use crate::builtins::collections::{MapData, SetData};
use crate::builtins::date::DateValue;
use crate::builtins::promise::PromiseState;
use crate::builtins::regexp::RegExpData;
use crate::call;
use crate::call::is_callable;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{fflags, Heap, Obj, ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::realm::Realm;
use crate::value::{JsStr, ObjRef, Value};
use std::sync::OnceLock;

builtin!(OBJECT, "Object", 1, object_call, ctor = object_ctor);
builtin!(ASSIGN, "Object.assign", 2, assign);
builtin!(CREATE, "Object.create", 2, create);
builtin!(DEFINE_PROPERTY, "Object.defineProperty", 3, define_property);
builtin!(ENTRIES, "Object.entries", 1, entries);
builtin!(FREEZE, "Object.freeze", 1, freeze);
builtin!(FROM_ENTRIES, "Object.fromEntries", 1, from_entries);
builtin!(
    GET_OWN_PROPERTY_NAMES,
    "Object.getOwnPropertyNames",
    1,
    get_own_property_names
);
builtin!(
    GET_PROTOTYPE_OF,
    "Object.getPrototypeOf",
    1,
    get_prototype_of
);
builtin!(HAS_OWN, "Object.hasOwn", 2, has_own);
builtin!(IS, "Object.is", 2, object_is);
builtin!(IS_FROZEN, "Object.isFrozen", 1, is_frozen);
builtin!(KEYS, "Object.keys", 1, keys);
builtin!(VALUES, "Object.values", 1, values);
builtin!(
    HAS_OWN_PROPERTY,
    "Object.prototype.hasOwnProperty",
    1,
    has_own_property
);
builtin!(
    IS_PROTOTYPE_OF,
    "Object.prototype.isPrototypeOf",
    1,
    is_prototype_of
);
builtin!(
    PROPERTY_IS_ENUMERABLE,
    "Object.prototype.propertyIsEnumerable",
    1,
    property_is_enumerable
);
builtin!(
    TO_LOCALE_STRING,
    "Object.prototype.toLocaleString",
    0,
    to_locale_string
);
builtin!(TO_STRING, "Object.prototype.toString", 0, to_string);
builtin!(VALUE_OF, "Object.prototype.valueOf", 0, value_of);

/// Installs object's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let object_proto = r.proto("Object");
    let object = r.constructor("Object", &OBJECT, object_proto)?;
    r.statics(
        object,
        &[
            ("assign", &ASSIGN),
            ("create", &CREATE),
            ("defineProperty", &DEFINE_PROPERTY),
            ("entries", &ENTRIES),
            ("freeze", &FREEZE),
            ("fromEntries", &FROM_ENTRIES),
            ("getOwnPropertyNames", &GET_OWN_PROPERTY_NAMES),
            ("getPrototypeOf", &GET_PROTOTYPE_OF),
            ("hasOwn", &HAS_OWN),
            ("is", &IS),
            ("isFrozen", &IS_FROZEN),
            ("keys", &KEYS),
            ("values", &VALUES),
        ],
    )?;
    r.methods(
        object_proto,
        &[
            ("hasOwnProperty", &HAS_OWN_PROPERTY),
            ("isPrototypeOf", &IS_PROTOTYPE_OF),
            ("propertyIsEnumerable", &PROPERTY_IS_ENUMERABLE),
            ("toLocaleString", &TO_LOCALE_STRING),
            ("toString", &TO_STRING),
            ("valueOf", &VALUE_OF),
        ],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/// ToObject (ECMA-262 §7.1.18) as far as the runtime models it: objects stay, strings are viewed as
/// their String object's own properties, numbers and booleans have no own properties.
enum Target {
    Obj(ObjRef),
    Str(JsStr),
    NoOwn,
}

fn to_object(v: &Value) -> JsResult<Target> {
    match v {
        Value::Undefined | Value::Null | Value::Hole => {
            engine_error("Cannot convert undefined or null to object")
        }
        Value::Obj(o) => Ok(Target::Obj(*o)),
        Value::Str(s) => Ok(Target::Str(s.clone())),
        Value::Num(_) | Value::Bool(_) => Ok(Target::NoOwn),
    }
}

fn key_is(key: &[u16], s: &str) -> bool {
    key.len() == s.len() && key.iter().zip(s.bytes()).all(|(&a, b)| a == b as u16)
}

/// How many objects the realm makes before a program's module loads: they come first in every heap.
fn realm_len() -> u32 {
    static N: OnceLock<u32> = OnceLock::new();
    *N.get_or_init(|| {
        let mut heap = Heap::new(usize::MAX);
        Realm::create(&mut heap, crate::builtins::INSTALL).expect("the realm");
        heap.len() as u32
    })
}

/// Whether `o` is one of the realm's objects (prototypes, globals, builtin functions).
pub(crate) fn is_realm_object(o: ObjRef) -> bool {
    o.0 < realm_len()
}

/// Objects whose own keys we can list: not host objects (their properties are computed) and not the
/// realm's (V8's differ: `console`'s methods are enumerable there).
fn check_listable(cx: &Cx, o: ObjRef) -> JsResult<()> {
    if cx.heap.kind(o).is_host() || matches!(cx.heap.kind(o), ObjKind::Scope { .. }) {
        return unsupported("the own keys of a host object");
    }
    if is_realm_object(o) {
        return unsupported("the own keys of a builtin object");
    }
    if cx
        .heap
        .get(o)
        .props
        .keys()
        .any(|k| props::is_private_key(k.units()))
    {
        return unsupported("the own keys of an object with private members");
    }
    Ok(())
}

/// [[OwnPropertyKeys]] of `o`'s stored properties, enumerable or not, in the spec's order (array
/// elements first). Virtual properties (`length` of arrays, `name` and `length` of functions) are not
/// listed.
fn own_keys_all(cx: &Cx, o: ObjRef) -> Vec<JsStr> {
    let obj = cx.heap.get(o);
    let mut out = Vec::new();
    if let ObjKind::Array(items) = &obj.kind {
        for (i, v) in items.iter().enumerate() {
            if !matches!(v, Value::Hole) {
                out.push(ops::number_to_jsstr(i as f64));
            }
        }
    }
    let mut ints: Vec<(u32, &JsStr)> = obj
        .props
        .keys()
        .filter_map(|k| k.as_array_index().map(|i| (i, k)))
        .collect();
    ints.sort_by_key(|(i, _)| *i);
    out.extend(ints.into_iter().map(|(_, k)| k.clone()));
    out.extend(
        obj.props
            .keys()
            .filter(|k| k.as_array_index().is_none())
            .cloned(),
    );
    out
}

/// Whether `o` has `key` as an own enumerable property right now.
fn own_enumerable_now(cx: &Cx, o: ObjRef, key: &JsStr) -> bool {
    let obj = cx.heap.get(o);
    if let ObjKind::Array(items) = &obj.kind {
        if let Some(i) = key.as_array_index() {
            return items
                .get(i as usize)
                .is_some_and(|v| !matches!(v, Value::Hole));
        }
    }
    obj.props.get(key).is_some_and(|p| p.enumerable())
}

fn string_index(s: &JsStr, key: &[u16]) -> Option<usize> {
    props::index_of_key(key)
        .map(|i| i as usize)
        .filter(|&i| i < s.len())
}

fn char_at(cx: &mut Cx, s: &JsStr, i: usize) -> JsResult<Value> {
    cx.new_str_from(&[s.units()[i]])
}

/// Whether `o` is an async function, or a bound function of one (their prototype is
/// AsyncFunction.prototype).
fn is_async_fn(cx: &Cx, o: ObjRef) -> bool {
    let mut cur = o;
    for _ in 0..10_000 {
        match cx.heap.kind(cur) {
            ObjKind::Function(f) => return f.flags & fflags::ASYNC != 0,
            ObjKind::Bound(b) => match &b.target {
                Value::Obj(t) => cur = *t,
                _ => return false,
            },
            _ => return false,
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------------
// Object and its statics

fn object_call(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    match arg(args, 0) {
        Value::Undefined | Value::Null | Value::Hole => cx.new_object(),
        v @ Value::Obj(_) => Ok(v),
        _ => unsupported("Object(primitive) makes a wrapper object"),
    }
}

/// `new Object(v)`; from a derived class's `super()`, the object being made is the result.
fn object_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    match this {
        Some(o) => Ok(Value::Obj(o)),
        None => object_call(cx, &Value::Undefined, args),
    }
}

/// Object.keys (ECMA-262 §20.1.2.18).
fn keys(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let keys: Vec<Value> = match to_object(&arg(args, 0))? {
        Target::Obj(o) => {
            check_listable(cx, o)?;
            props::own_enumerable_keys(cx, o)
                .into_iter()
                .map(Value::Str)
                .collect()
        }
        Target::Str(s) => (0..s.len())
            .map(|i| Value::Str(ops::number_to_jsstr(i as f64)))
            .collect(),
        Target::NoOwn => Vec::new(),
    };
    cx.burn(keys.len() as u64)?;
    cx.new_array(keys)
}

/// EnumerableOwnProperties (ECMA-262 §7.3.23) for values (`pairs` false) or entries.
fn enumerable_own(cx: &mut Cx, v: &Value, pairs: bool) -> JsResult<Value> {
    let mut out = Vec::new();
    match to_object(v)? {
        Target::Obj(o) => {
            check_listable(cx, o)?;
            for key in own_keys_all(cx, o) {
                cx.tick()?;
                if !own_enumerable_now(cx, o, &key) {
                    continue;
                }
                let val = props::get(cx, &Value::Obj(o), key.units())?;
                out.push(if pairs {
                    cx.new_array(vec![Value::Str(key), val])?
                } else {
                    val
                });
            }
        }
        Target::Str(s) => {
            for i in 0..s.len() {
                cx.tick()?;
                let c = char_at(cx, &s, i)?;
                out.push(if pairs {
                    cx.new_array(vec![Value::Str(ops::number_to_jsstr(i as f64)), c])?
                } else {
                    c
                });
            }
        }
        Target::NoOwn => {}
    }
    cx.new_array(out)
}

fn values(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    enumerable_own(cx, &arg(args, 0), false)
}

fn entries(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    enumerable_own(cx, &arg(args, 0), true)
}

/// Object.assign (ECMA-262 §20.1.2.1): [[Set]] of every own enumerable property of each source.
fn assign(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let to = match to_object(&arg(args, 0))? {
        Target::Obj(o) => o,
        _ => return unsupported("Object.assign to a primitive makes a wrapper object"),
    };
    if cx.heap.kind(to).is_host() {
        return unsupported("Object.assign to a host object");
    }
    let target = Value::Obj(to);
    for src in args.iter().skip(1) {
        match src {
            Value::Undefined | Value::Null | Value::Hole | Value::Num(_) | Value::Bool(_) => {}
            Value::Str(s) => {
                for i in 0..s.len() {
                    cx.tick()?;
                    let c = char_at(cx, s, i)?;
                    props::set(cx, &target, ops::number_to_jsstr(i as f64).units(), c)?;
                }
            }
            Value::Obj(from) => {
                let from = *from;
                check_listable(cx, from)?;
                for key in own_keys_all(cx, from) {
                    cx.tick()?;
                    if !own_enumerable_now(cx, from, &key) {
                        continue;
                    }
                    let v = props::get(cx, src, key.units())?;
                    props::set(cx, &target, key.units(), v)?;
                }
            }
        }
    }
    Ok(target)
}

/// Object.fromEntries (ECMA-262 §20.1.2.7).
fn from_entries(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let iterable = arg(args, 0);
    if iterable.is_nullish() {
        return engine_error("undefined is not iterable");
    }
    let obj = cx.new_object()?;
    let o = obj.as_obj().expect("object");
    let mut it = match JsIter::open(cx, &iterable)? {
        Some(it) => it,
        None => return engine_error("object is not iterable"),
    };
    while let Some(item) = it.next(cx)? {
        cx.tick()?;
        let (k, v) = match item {
            Item::Pair(k, v) => (k, v),
            Item::One(e @ Value::Obj(_)) => {
                let k = props::get_computed(cx, &e, &Value::Num(0.0))?;
                let v = props::get_computed(cx, &e, &Value::Num(1.0))?;
                (k, v)
            }
            Item::One(_) => return engine_error("Iterator value is not an entry object"),
        };
        let key = ops::to_property_key(cx, &k)?;
        props::define(cx, o, key, v)?;
    }
    Ok(obj)
}

/// Object.freeze (ECMA-262 §20.1.2.6).
fn freeze(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let v = arg(args, 0);
    if let Value::Obj(o) = v {
        if cx.heap.kind(o).is_host() {
            return unsupported("Object.freeze of a host object");
        }
        if !cx.heap.get(o).frozen {
            cx.heap.get_mut(o)?.frozen = true;
        }
    }
    Ok(v)
}

/// Object.isFrozen (ECMA-262 §20.1.2.15): only Object.freeze makes objects non-extensible here.
fn is_frozen(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(match arg(args, 0) {
        Value::Obj(o) => cx.heap.get(o).frozen,
        _ => true,
    }))
}

/// Object.create (ECMA-262 §20.1.2.2) without property descriptors.
fn create(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let proto = match arg(args, 0) {
        Value::Obj(p) => Some(p),
        Value::Null => None,
        _ => return engine_error("Object prototype may only be an Object or null"),
    };
    if !arg(args, 1).is_undefined() {
        return unsupported("Object.create with property descriptors");
    }
    Ok(Value::Obj(
        cx.heap.alloc(Obj::new(ObjKind::Ordinary, proto))?,
    ))
}

/// Object.getPrototypeOf (ECMA-262 §20.1.2.12).
fn get_prototype_of(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let v = arg(args, 0);
    let p = match &v {
        Value::Undefined | Value::Null | Value::Hole => {
            return engine_error("Cannot convert undefined or null to object")
        }
        Value::Str(_) => Some(cx.realm.string_proto),
        Value::Num(_) => Some(cx.realm.number_proto),
        Value::Bool(_) => Some(cx.realm.boolean_proto),
        Value::Obj(o) => {
            if is_async_fn(cx, *o) {
                return unsupported("the prototype of an async function");
            }
            cx.heap.get(*o).proto
        }
    };
    Ok(p.map(Value::Obj).unwrap_or(Value::Null))
}

/// Object.is (ECMA-262 §20.1.2.14).
fn object_is(_cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    Ok(Value::Bool(ops::same_value(&arg(args, 0), &arg(args, 1))))
}

/// HasOwnProperty on a ToObject'd value.
fn has_own_key(cx: &Cx, t: &Target, key: &[u16]) -> JsResult<bool> {
    match t {
        Target::Str(s) => Ok(key_is(key, "length") || string_index(s, key).is_some()),
        Target::NoOwn => Ok(false),
        Target::Obj(o) => {
            let o = *o;
            let stored = cx.heap.get(o).props.contains_key(key);
            match cx.heap.kind(o) {
                k if k.is_host() => return unsupported("own properties of a host object"),
                ObjKind::Error if key_is(key, "stack") && !stored => {
                    return unsupported("V8's own `stack` of errors")
                }
                ObjKind::Function(f) if !stored => {
                    let plain = f.flags
                        & (fflags::ARROW | fflags::METHOD | fflags::ASYNC | fflags::CLASS)
                        == 0;
                    if (plain && key_is(key, "prototype"))
                        || key_is(key, "arguments")
                        || key_is(key, "caller")
                    {
                        return unsupported(
                            "own `prototype`, `arguments` or `caller` of a function",
                        );
                    }
                }
                _ => {}
            }
            Ok(props::has_own(cx, o, key))
        }
    }
}

/// Object.hasOwn (ECMA-262 §20.1.2.13): ToObject first, then the key.
fn has_own(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let t = to_object(&arg(args, 0))?;
    let key = ops::to_property_key(cx, &arg(args, 1))?;
    Ok(Value::Bool(has_own_key(cx, &t, key.units())?))
}

/// Object.defineProperty (ECMA-262 §20.1.2.4) for configurable properties.
fn define_property(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let target = arg(args, 0);
    let o = match target {
        Value::Obj(o) => o,
        _ => return engine_error("Object.defineProperty called on non-object"),
    };
    let key = ops::to_property_key(cx, &arg(args, 1))?;
    let d = arg(args, 2);
    if !matches!(d, Value::Obj(_)) {
        return engine_error("Property description must be an object");
    }
    // ToPropertyDescriptor (ECMA-262 §6.2.6.5): HasProperty then Get, field by field, in this order.
    let field = |cx: &mut Cx, name: &str| -> JsResult<Option<Value>> {
        let k = props::key(name);
        if props::has_property(cx, &d, &k)? {
            Ok(Some(props::get(cx, &d, &k)?))
        } else {
            Ok(None)
        }
    };
    let enumerable = field(cx, "enumerable")?.map(|v| ops::to_boolean(&v));
    let configurable = field(cx, "configurable")?.map(|v| ops::to_boolean(&v));
    let value = field(cx, "value")?;
    let writable = field(cx, "writable")?.map(|v| ops::to_boolean(&v));
    let get = field(cx, "get")?;
    let set = field(cx, "set")?;
    for f in [&get, &set].into_iter().flatten() {
        if !f.is_undefined() && !is_callable(cx, f) {
            return engine_error("Getter or setter must be a function");
        }
    }
    let accessor = get.is_some() || set.is_some();
    if accessor && (value.is_some() || writable.is_some()) {
        return engine_error("Invalid property descriptor. Cannot both specify accessors and a value or writable attribute");
    }

    // What the model can hold.
    let k = key.units();
    match cx.heap.kind(o) {
        ObjKind::Scope { .. } => return unsupported("Object.defineProperty on a host object"),
        k if k.is_host() => return unsupported("Object.defineProperty on a host object"),
        ObjKind::Array(items) => {
            if key_is(k, "length") {
                return unsupported("Object.defineProperty of an array's length");
            }
            if let Some(i) = key.as_array_index() {
                let existing = match items.get(i as usize) {
                    Some(v) if !matches!(v, Value::Hole) => Some(v.clone()),
                    _ => None,
                };
                let had = existing.is_some();
                let plain = !accessor
                    && configurable.unwrap_or(had)
                    && enumerable.unwrap_or(had)
                    && writable.unwrap_or(had);
                if !plain {
                    return unsupported("an array element that is not a plain data property");
                }
                let v = value.or(existing).unwrap_or(Value::Undefined);
                props::define(cx, o, key, v)?;
                return Ok(target);
            }
        }
        ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
            if ["name", "length", "prototype", "arguments", "caller"]
                .iter()
                .any(|n| key_is(k, n)) =>
        {
            return unsupported("Object.defineProperty of a function's own builtin property");
        }
        k2 if k2.is::<RegExpData>() && key_is(k, "lastIndex") => {
            return unsupported("Object.defineProperty of lastIndex")
        }
        ObjKind::Error if key_is(k, "stack") => {
            return unsupported("Object.defineProperty of an error's stack")
        }
        _ => {}
    }
    let current = cx.heap.get(o).props.get(&key).cloned();
    if matches!(
        current,
        Some(Prop::Data {
            writable: false,
            ..
        })
    ) {
        return unsupported("redefining a read-only property, which may be non-configurable");
    }
    if !configurable.unwrap_or(current.is_some()) {
        return unsupported("a non-configurable property");
    }
    let new = match (&current, accessor) {
        (cur, true) => {
            let (cg, cs, ce) = match cur {
                Some(Prop::Accessor {
                    get,
                    set,
                    enumerable,
                }) => (*get, *set, Some(*enumerable)),
                Some(Prop::Data { enumerable, .. }) => (None, None, Some(*enumerable)),
                None => (None, None, None),
            };
            Prop::Accessor {
                get: match &get {
                    Some(g) => g.as_obj(),
                    None => cg,
                },
                set: match &set {
                    Some(s) => s.as_obj(),
                    None => cs,
                },
                enumerable: enumerable.or(ce).unwrap_or(false),
            }
        }
        (
            Some(Prop::Accessor {
                get: cg,
                set: cs,
                enumerable: ce,
            }),
            false,
        ) if value.is_none() && writable.is_none() => Prop::Accessor {
            get: *cg,
            set: *cs,
            enumerable: enumerable.unwrap_or(*ce),
        },
        (
            Some(Prop::Data {
                value: cv,
                writable: cw,
                enumerable: ce,
            }),
            false,
        ) => Prop::Data {
            value: value.unwrap_or_else(|| cv.clone()),
            writable: writable.unwrap_or(*cw),
            enumerable: enumerable.unwrap_or(*ce),
        },
        (Some(Prop::Accessor { enumerable: ce, .. }), false) => Prop::Data {
            value: value.unwrap_or(Value::Undefined),
            writable: writable.unwrap_or(false),
            enumerable: enumerable.unwrap_or(*ce),
        },
        (None, false) => Prop::Data {
            value: value.unwrap_or(Value::Undefined),
            writable: writable.unwrap_or(false),
            enumerable: enumerable.unwrap_or(false),
        },
    };
    let grow = if current.is_some() {
        0
    } else {
        64 + key.len() * 2
    };
    cx.heap.get_mut_grow(o, grow)?.props.insert(key, new);
    Ok(target)
}

/// Object.getOwnPropertyNames (ECMA-262 §20.1.2.10) for arrays, strings and plain objects.
fn get_own_property_names(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let names: Vec<Value> =
        match to_object(&arg(args, 0))? {
            Target::Str(s) => (0..s.len())
                .map(|i| Value::Str(ops::number_to_jsstr(i as f64)))
                .chain(std::iter::once(Value::str("length")))
                .collect(),
            Target::NoOwn => Vec::new(),
            Target::Obj(o) => {
                check_listable(cx, o)?;
                match cx.heap.kind(o) {
                    ObjKind::Array(items) => {
                        let n = items.iter().filter(|v| !matches!(v, Value::Hole)).count();
                        let mut keys: Vec<Value> =
                            own_keys_all(cx, o).into_iter().map(Value::Str).collect();
                        keys.insert(n, Value::str("length"));
                        keys
                    }
                    ObjKind::Ordinary => own_keys_all(cx, o).into_iter().map(Value::Str).collect(),
                    // Maps, Sets, Dates and promises keep their state in slots: their keys are their properties.
                    k if !k.is_host()
                        && (k.is::<MapData>()
                            || k.is::<SetData>()
                            || k.is::<DateValue>()
                            || k.is::<PromiseState>()) =>
                    {
                        own_keys_all(cx, o).into_iter().map(Value::Str).collect()
                    }
                    _ => return unsupported(
                        "Object.getOwnPropertyNames of a function, error, regexp or host object",
                    ),
                }
            }
        };
    cx.burn(names.len() as u64)?;
    cx.new_array(names)
}

// ---------------------------------------------------------------------------------------------------
// Object.prototype

/// Object.prototype.hasOwnProperty (ECMA-262 §20.1.3.2): the key first, then ToObject(this).
fn has_own_property(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let key = ops::to_property_key(cx, &arg(args, 0))?;
    let t = to_object(this)?;
    Ok(Value::Bool(has_own_key(cx, &t, key.units())?))
}

/// Object.prototype.isPrototypeOf (ECMA-262 §20.1.3.3).
fn is_prototype_of(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let v = match arg(args, 0) {
        Value::Obj(v) => v,
        _ => return Ok(Value::Bool(false)),
    };
    let o = match to_object(this)? {
        Target::Obj(o) => o,
        // A new wrapper object is in nobody's prototype chain.
        _ => return Ok(Value::Bool(false)),
    };
    let mut cur = cx.heap.get(v).proto;
    while let Some(p) = cur {
        if p == o {
            return Ok(Value::Bool(true));
        }
        cur = cx.heap.get(p).proto;
    }
    Ok(Value::Bool(false))
}

/// Object.prototype.propertyIsEnumerable (ECMA-262 §20.1.3.4).
fn property_is_enumerable(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let key = ops::to_property_key(cx, &arg(args, 0))?;
    Ok(Value::Bool(match to_object(this)? {
        Target::Str(s) => string_index(&s, key.units()).is_some(),
        Target::NoOwn => false,
        Target::Obj(o) => {
            if cx.heap.kind(o).is_host() {
                return unsupported("own properties of a host object");
            }
            own_enumerable_now(cx, o, &key)
        }
    }))
}

/// Object.prototype.toString (ECMA-262 §20.1.3.6), for other builtins too.
pub fn object_to_string(cx: &mut Cx, this: &Value) -> JsResult<Value> {
    let tag = match this {
        Value::Undefined | Value::Hole => "Undefined",
        Value::Null => "Null",
        Value::Str(_) => "String",
        Value::Num(_) => "Number",
        Value::Bool(_) => "Boolean",
        Value::Obj(o) => class_tag(cx, *o)?,
    };
    Ok(Value::str(&format!("[object {}]", tag)))
}

/// The `@@toStringTag` an object inherits, else its builtin tag.
fn class_tag(cx: &Cx, o: ObjRef) -> JsResult<&'static str> {
    let r = &cx.realm;
    let holders = [
        ("Math", "Math"),
        ("JSON", "JSON"),
        ("console", "console"),
        ("Reflect", "Reflect"),
    ];
    let class_proto = |class: &str| {
        r.proto(class)
            .unwrap_or_else(|| panic!("{}.prototype is installed", class))
    };
    let plain_protos = [
        r.object_proto,
        r.function_proto,
        r.array_proto,
        r.string_proto,
        r.number_proto,
        r.boolean_proto,
        r.error_proto,
        class_proto("Date"),
        class_proto("RegExp"),
    ];
    let error_classes = [
        "TypeError",
        "RangeError",
        "SyntaxError",
        "ReferenceError",
        "URIError",
        "EvalError",
    ];
    let mut cur = Some(o);
    let mut steps = 0;
    while let Some(c) = cur {
        steps += 1;
        if steps > 100_000 {
            return unsupported("a prototype chain beyond the runtime's limit");
        }
        if c == class_proto("Map") {
            return Ok("Map");
        }
        if c == class_proto("Set") {
            return Ok("Set");
        }
        if c == class_proto("Promise") {
            return Ok("Promise");
        }
        if c == class_proto("Response") {
            return Ok("Response");
        }
        if c == class_proto("Headers") {
            return Ok("Headers");
        }
        if is_async_fn(cx, c) {
            return Ok("AsyncFunction");
        }
        if let Some((_, tag)) = holders
            .iter()
            .find(|(g, _)| r.global(g).and_then(|v| v.as_obj()) == Some(c))
        {
            return Ok(tag);
        }
        if is_realm_object(c)
            && matches!(cx.heap.kind(c), ObjKind::Ordinary)
            && !plain_protos.contains(&c)
            && !error_classes.iter().any(|n| r.proto(n) == Some(c))
        {
            return unsupported(
                "Object.prototype.toString of a builtin object whose tag is not modelled",
            );
        }
        cur = cx.heap.get(c).proto;
    }
    Ok(match cx.heap.kind(o) {
        ObjKind::Array(_) => "Array",
        ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => "Function",
        ObjKind::Error => "Error",
        k if k.is::<DateValue>() => "Date",
        k if k.is::<RegExpData>() => "RegExp",
        k if k.is_host() || matches!(k, ObjKind::Scope { .. }) => {
            return unsupported("Object.prototype.toString of a host object")
        }
        _ if o == r.array_proto => "Array",
        _ if o == r.function_proto => "Function",
        _ if o == r.string_proto => "String",
        _ if o == r.number_proto => "Number",
        _ if o == r.boolean_proto => "Boolean",
        _ => "Object",
    })
}

fn to_string(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    object_to_string(cx, this)
}

/// Object.prototype.toLocaleString (ECMA-262 §20.1.3.5): `this.toString()`.
fn to_locale_string(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let m = call::method(cx, this, &props::key("toString"))?;
    call::invoke(cx, &m, this.clone(), &[])
}

/// Object.prototype.valueOf (ECMA-262 §20.1.3.7).
fn value_of(_cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    match this {
        Value::Obj(_) => Ok(this.clone()),
        Value::Undefined | Value::Null | Value::Hole => {
            engine_error("Cannot convert undefined or null to object")
        }
        _ => unsupported("Object.prototype.valueOf of a primitive makes a wrapper object"),
    }
}

#[cfg(test)]
mod tests;
