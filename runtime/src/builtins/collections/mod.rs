//! Map and Set (ECMA-262 §24.1, §24.2): the constructors, their prototype methods and the `size`
//! accessors.
//!
//! Entries live in the object's slots (`MapData` / `SetData`), an index map keyed by `MapKey`
//! (SameValueZero) in insertion order. A deleted entry is removed from the index map, which shifts the
//! later entries down; iterations that are under way while a callback runs (`forEach`, `Array.from`
//! with a map function, `new Map(otherMap)` through a user `set`) see the list as the spec's iterators
//! do because every live `Cursor` is moved back when an entry before it is removed, and to the start
//! when the collection is cleared: entries added during the iteration are visited, deleted ones that
//! were not reached yet are not.
//!
//! Deliberate give-ups: `keys`, `values`, `entries` (they return iterator objects, which the runtime
//! does not model; spread and `Array.from` take a Map or Set directly); a write to `size`; `Map` or
//! `Set` constructing an object that is not a fresh ordinary one.

use crate::builtin;
use crate::builtins::arg;
use crate::builtins::iterator::{make_iterator, IterPart};
use crate::call::is_callable;
use crate::call::{self, Callee};
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{same_slot, Obj, ObjKind, Slots};
use crate::props::{self, PropHooks};
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};
use indexmap::IndexMap;
use std::cell::{Cell, RefCell};

builtin!(MAP, "Map", 0, map_call, ctor = map_ctor);
builtin!(MAP_GET, "Map.prototype.get", 1, map_get);
builtin!(MAP_SET, "Map.prototype.set", 2, map_set);
builtin!(MAP_HAS, "Map.prototype.has", 1, map_has);
builtin!(MAP_DELETE, "Map.prototype.delete", 1, map_delete);
builtin!(MAP_CLEAR, "Map.prototype.clear", 0, map_clear);
builtin!(MAP_FOR_EACH, "Map.prototype.forEach", 1, map_for_each);
builtin!(MAP_SIZE, "Map.prototype.size", 0, size_called, getter);
builtin!(MAP_KEYS, "Map.prototype.keys", 0, map_keys);
builtin!(MAP_VALUES, "Map.prototype.values", 0, map_values);
builtin!(MAP_ENTRIES, "Map.prototype.entries", 0, map_entries);
builtin!(SET, "Set", 0, set_call, ctor = set_ctor);
builtin!(SET_ADD, "Set.prototype.add", 1, set_add);
builtin!(SET_HAS, "Set.prototype.has", 1, set_has);
builtin!(SET_DELETE, "Set.prototype.delete", 1, set_delete);
builtin!(SET_CLEAR, "Set.prototype.clear", 0, set_clear);
builtin!(SET_FOR_EACH, "Set.prototype.forEach", 1, set_for_each);
builtin!(SET_SIZE, "Set.prototype.size", 0, size_called, getter);
builtin!(SET_VALUES, "Set.prototype.values", 0, set_values);
builtin!(SET_ENTRIES, "Set.prototype.entries", 0, set_entries);

/// Installs collections's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let map_proto = r.prototype("Map", r.realm.object_proto)?;
    let set_proto = r.prototype("Set", r.realm.object_proto)?;
    let _map = r.constructor("Map", &MAP, map_proto)?;
    let _set = r.constructor("Set", &SET, set_proto)?;
    r.methods(
        map_proto,
        &[
            ("get", &MAP_GET),
            ("set", &MAP_SET),
            ("has", &MAP_HAS),
            ("delete", &MAP_DELETE),
            ("clear", &MAP_CLEAR),
            ("forEach", &MAP_FOR_EACH),
            ("size", &MAP_SIZE),
            ("keys", &MAP_KEYS),
            ("values", &MAP_VALUES),
            ("entries", &MAP_ENTRIES),
        ],
    )?;
    r.methods(
        set_proto,
        &[
            ("add", &SET_ADD),
            ("has", &SET_HAS),
            ("delete", &SET_DELETE),
            ("clear", &SET_CLEAR),
            ("forEach", &SET_FOR_EACH),
            ("size", &SET_SIZE),
            ("values", &SET_VALUES),
            ("entries", &SET_ENTRIES),
        ],
    )?;
    // `Set.prototype.keys === Set.prototype.values` (ECMA-262 §24.2.3.8).
    r.alias_method(set_proto, "keys", "values");
    Ok(())
}

/// A key of a `Map` or `Set`: SameValueZero equality (ECMA-262 §7.2.11).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MapKey {
    Undefined,
    Null,
    Bool(bool),
    /// The bits of the number, with -0 folded into +0 and every NaN into one.
    Num(u64),
    Str(JsStr),
    Obj(ObjRef),
}

impl MapKey {
    pub fn of(v: &Value) -> MapKey {
        match v {
            Value::Undefined | Value::Hole => MapKey::Undefined,
            Value::Null => MapKey::Null,
            Value::Bool(b) => MapKey::Bool(*b),
            Value::Num(n) => {
                let n = if *n == 0.0 { 0.0 } else { *n };
                MapKey::Num(if n.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    n.to_bits()
                })
            }
            Value::Str(s) => MapKey::Str(s.clone()),
            Value::Obj(o) => MapKey::Obj(*o),
        }
    }
}

/// A Map's slots ([[MapData]]): its entries in insertion order, each `(key, value)` under its `MapKey`.
#[derive(Clone, Debug, Default)]
pub struct MapData(pub IndexMap<MapKey, (Value, Value), ahash::RandomState>);

/// A Set's slots ([[SetData]]): its values in insertion order, each under its `MapKey`.
#[derive(Clone, Debug, Default)]
pub struct SetData(pub IndexMap<MapKey, Value, ahash::RandomState>);

impl std::ops::Deref for MapData {
    type Target = IndexMap<MapKey, (Value, Value), ahash::RandomState>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
impl std::ops::DerefMut for MapData {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
impl std::ops::Deref for SetData {
    type Target = IndexMap<MapKey, Value, ahash::RandomState>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
impl std::ops::DerefMut for SetData {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `size` is an accessor of Map.prototype and Set.prototype, read on the object (see `size_get`).
static HOOKS: PropHooks = PropHooks {
    get: size_get,
    fields: false,
    refuses_write: |_, _, _| Ok(false),
};

impl Slots for MapData {
    fn same_as(&self, other: &dyn Slots) -> bool {
        let Some(y) = (other as &dyn std::any::Any).downcast_ref::<MapData>() else {
            return false;
        };
        self.len() == y.len()
            && self
                .iter()
                .zip(y.iter())
                .all(|((k1, (a1, b1)), (k2, (a2, b2)))| {
                    k1 == k2 && same_slot(a1, a2) && same_slot(b1, b2)
                })
    }
    fn hooks(&self) -> Option<&'static PropHooks> {
        Some(&HOOKS)
    }
    fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        let mut rekey = false;
        for (k, (key, value)) in self.0.iter_mut() {
            f(key);
            f(value);
            rekey |= matches!(k, MapKey::Obj(_)) && MapKey::of(key) != *k;
        }
        if rekey {
            let entries = std::mem::take(&mut self.0);
            self.0 = entries
                .into_iter()
                .map(|(_, e)| (MapKey::of(&e.0), e))
                .collect();
        }
        Ok(())
    }
}

impl Slots for SetData {
    fn same_as(&self, other: &dyn Slots) -> bool {
        let Some(y) = (other as &dyn std::any::Any).downcast_ref::<SetData>() else {
            return false;
        };
        self.len() == y.len()
            && self
                .iter()
                .zip(y.iter())
                .all(|((k1, v1), (k2, v2))| k1 == k2 && same_slot(v1, v2))
    }
    fn hooks(&self) -> Option<&'static PropHooks> {
        Some(&HOOKS)
    }
    fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        let mut rekey = false;
        for (k, value) in self.0.iter_mut() {
            f(value);
            rekey |= matches!(k, MapKey::Obj(_)) && MapKey::of(value) != *k;
        }
        if rekey {
            let entries = std::mem::take(&mut self.0);
            self.0 = entries
                .into_iter()
                .map(|(_, v)| (MapKey::of(&v), v))
                .collect();
        }
        Ok(())
    }
}

/// A Map's or Set's entries, for the code that serves both.
enum Entries<'a> {
    Map(&'a MapData),
    Set(&'a SetData),
}

fn entries(k: &ObjKind) -> Option<Entries<'_>> {
    if let Some(m) = k.slots::<MapData>() {
        Some(Entries::Map(m))
    } else {
        k.slots::<SetData>().map(Entries::Set)
    }
}

enum EntriesMut<'a> {
    Map(&'a mut MapData),
    Set(&'a mut SetData),
}

fn entries_mut(k: &mut ObjKind) -> Option<EntriesMut<'_>> {
    if k.is::<MapData>() {
        k.slots_mut::<MapData>().map(EntriesMut::Map)
    } else {
        k.slots_mut::<SetData>().map(EntriesMut::Set)
    }
}

/// Bytes counted against the heap cap for one entry (the key's hash slot, key and value).
const ENTRY_BYTES: usize = 80;

// ---------------------------------------------------------------------------------------------------
// Live cursors

thread_local! {
    /// Every cursor in use: (id, collection, position of the next entry).
    static CURSORS: RefCell<Vec<(u64, ObjRef, usize)>> = const { RefCell::new(Vec::new()) };
    static NEXT_CURSOR: Cell<u64> = const { Cell::new(0) };
}

/// A position in a Map's or Set's entry list that follows deletions and `clear` as the spec's
/// iterators do (ECMA-262 §24.1.5.1 CreateMapIterator, §24.2.5.1 CreateSetIterator). It unregisters
/// itself when dropped.
#[derive(Debug)]
pub struct Cursor {
    id: u64,
    obj: ObjRef,
}

impl Cursor {
    pub fn new(obj: ObjRef) -> Cursor {
        let id = NEXT_CURSOR.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        CURSORS.with(|c| c.borrow_mut().push((id, obj, 0)));
        Cursor { id, obj }
    }

    fn pos(&self) -> usize {
        CURSORS.with(|c| {
            c.borrow()
                .iter()
                .find(|e| e.0 == self.id)
                .map(|e| e.2)
                .unwrap_or(usize::MAX)
        })
    }

    fn advance(&self) {
        CURSORS.with(|c| {
            if let Some(e) = c.borrow_mut().iter_mut().find(|e| e.0 == self.id) {
                e.2 += 1;
            }
        })
    }

    /// The next entry, if any: `(key, Some(value))` for a Map, `(value, None)` for a Set.
    pub fn next(&self, cx: &Cx) -> Option<(Value, Option<Value>)> {
        let p = self.pos();
        let e = match entries(cx.heap.kind(self.obj)) {
            Some(Entries::Map(m)) => m
                .get_index(p)
                .map(|(_, (k, v))| (k.clone(), Some(v.clone()))),
            Some(Entries::Set(s)) => s.get_index(p).map(|(_, v)| (v.clone(), None)),
            None => None,
        };
        if e.is_some() {
            self.advance();
        }
        e
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        let _ = CURSORS.try_with(|c| c.borrow_mut().retain(|e| e.0 != self.id));
    }
}

/// Entry `idx` of `obj` was removed: cursors past it move back by one.
fn cursors_removed(obj: ObjRef, idx: usize) {
    CURSORS.with(|c| {
        for e in c.borrow_mut().iter_mut() {
            if e.1 == obj && e.2 > idx {
                e.2 -= 1;
            }
        }
    })
}

/// `obj` was cleared: its cursors go back to the start, where entries added later will be.
fn cursors_cleared(obj: ObjRef) {
    CURSORS.with(|c| {
        for e in c.borrow_mut().iter_mut() {
            if e.1 == obj {
                e.2 = 0;
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------------
// Helpers shared with other builtins

/// Keys and values are stored with -0 folded into +0, as Map.prototype.set and Set.prototype.add do.
fn normalize(v: Value) -> Value {
    match v {
        // -0 + 0 is +0; every other number is unchanged.
        Value::Num(n) => Value::Num(n + 0.0),
        Value::Hole => Value::Undefined,
        v => v,
    }
}

fn this_map(cx: &Cx, this: &Value) -> JsResult<ObjRef> {
    match this {
        Value::Obj(o) if cx.heap.kind(*o).is::<MapData>() => Ok(*o),
        _ => engine_error("Method Map.prototype.* called on incompatible receiver"),
    }
}

fn this_set(cx: &Cx, this: &Value) -> JsResult<ObjRef> {
    match this {
        Value::Obj(o) if cx.heap.kind(*o).is::<SetData>() => Ok(*o),
        _ => engine_error("Method Set.prototype.* called on incompatible receiver"),
    }
}

/// Map.prototype.set on Map `o` without the receiver check.
pub fn map_insert(cx: &mut Cx, o: ObjRef, k: Value, v: Value) -> JsResult<()> {
    let k = normalize(k);
    let key = MapKey::of(&k);
    let exists = cx
        .heap
        .kind(o)
        .slots::<MapData>()
        .is_some_and(|m| m.contains_key(&key));
    let obj = if exists {
        cx.heap.get_mut(o)?
    } else {
        cx.heap.get_mut_grow(o, ENTRY_BYTES)?
    };
    if let Some(m) = obj.kind.slots_mut::<MapData>() {
        match m.get_mut(&key) {
            Some(e) => e.1 = v,
            None => {
                m.insert(key, (k, v));
            }
        }
    }
    Ok(())
}

/// Set.prototype.add on Set `o` without the receiver check.
pub fn set_insert(cx: &mut Cx, o: ObjRef, v: Value) -> JsResult<()> {
    let v = normalize(v);
    let key = MapKey::of(&v);
    if cx
        .heap
        .kind(o)
        .slots::<SetData>()
        .is_some_and(|s| s.contains_key(&key))
    {
        return Ok(());
    }
    if let Some(s) = cx
        .heap
        .get_mut_grow(o, ENTRY_BYTES)?
        .kind
        .slots_mut::<SetData>()
    {
        s.insert(key, v);
    }
    Ok(())
}

/// The `size` accessors of Map.prototype and Set.prototype, for [[Get]] (props.rs) reaching the Map or
/// Set object `o` on the way up from `receiver`. `None` when something between `o` and the realm's
/// prototype defines `size` itself (a subclass getter), so the ordinary lookup goes on.
fn size_get(cx: &mut Cx, o: ObjRef, receiver: &Value, key: &[u16]) -> JsResult<Option<Value>> {
    if key != [115, 105, 122, 101] {
        return Ok(None);
    }
    let (class, is_map) = match entries(cx.heap.kind(o)) {
        Some(Entries::Map(_)) => ("Map", true),
        Some(Entries::Set(_)) => ("Set", false),
        None => return Ok(None),
    };
    let proto = cx.realm.proto(class).expect("the collection's prototype");
    let mut cur = cx.heap.get(o).proto;
    loop {
        match cur {
            Some(p) if p == proto => {
                if cx.heap.get(p).props.contains_key(key) {
                    return Ok(None);
                }
                break;
            }
            Some(p) => {
                if cx.heap.get(p).props.contains_key(key) {
                    return Ok(None);
                }
                cur = cx.heap.get(p).proto;
            }
            None => {
                return unsupported(
                    "a Map or Set whose prototype chain does not reach its prototype",
                )
            }
        }
    }
    let n = match receiver {
        Value::Obj(r) => match entries(cx.heap.kind(*r)) {
            Some(Entries::Map(m)) if is_map => m.len(),
            Some(Entries::Set(s)) if !is_map => s.len(),
            _ => {
                return engine_error(
                    "Method get Map.prototype.size called on incompatible receiver",
                )
            }
        },
        _ => return engine_error("Method get Map.prototype.size called on incompatible receiver"),
    };
    Ok(Some(Value::Num(n as f64)))
}

/// The getter called as a method (`m.size()`): `m.size` is a number, so that call throws.
fn size_called(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    engine_error("size is not a function")
}

fn is_map(k: &ObjKind) -> bool {
    k.is::<MapData>()
}
fn is_set(k: &ObjKind) -> bool {
    k.is::<SetData>()
}
fn map_keys(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    make_iterator(
        cx,
        this,
        IterPart::Keys,
        is_map,
        "Method Map.prototype.keys",
    )
}
fn map_values(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    make_iterator(
        cx,
        this,
        IterPart::Values,
        is_map,
        "Method Map.prototype.values",
    )
}
fn map_entries(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    make_iterator(
        cx,
        this,
        IterPart::Entries,
        is_map,
        "Method Map.prototype.entries",
    )
}
fn set_values(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    make_iterator(
        cx,
        this,
        IterPart::Values,
        is_set,
        "Method Set.prototype.values",
    )
}
fn set_entries(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    make_iterator(
        cx,
        this,
        IterPart::Entries,
        is_set,
        "Method Set.prototype.entries",
    )
}

// ---------------------------------------------------------------------------------------------------
// Constructors

fn map_call(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    engine_error("Constructor Map requires 'new'")
}

fn set_call(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    engine_error("Constructor Set requires 'new'")
}

/// The object a collection constructor initialises: a new one, or the fresh ordinary object a derived
/// class's `super(...)` passes, which becomes a Map or Set.
fn new_collection(
    cx: &mut Cx,
    this: Option<ObjRef>,
    kind: ObjKind,
    proto: ObjRef,
) -> JsResult<ObjRef> {
    match this {
        None => Ok(cx.heap.alloc(Obj::new(kind, Some(proto)))?),
        Some(o) => {
            let obj = cx.heap.get_mut(o)?;
            if !matches!(obj.kind, ObjKind::Ordinary) || !obj.props.is_empty() {
                return unsupported(
                    "a Map or Set constructor applied to an object that is not fresh",
                );
            }
            obj.kind = kind;
            Ok(o)
        }
    }
}

/// `new Map(iterable)` (ECMA-262 §24.1.1.1) with AddEntriesFromIterable (§24.1.1.2).
fn map_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    let proto = cx.realm.proto("Map").expect("Map.prototype");
    let o = new_collection(cx, this, ObjKind::builtin(MapData::default()), proto)?;
    let map = Value::Obj(o);
    let iterable = arg(args, 0);
    if iterable.is_nullish() {
        return Ok(map);
    }
    let adder = match call::resolve_method(cx, &map, &props::key("set"))? {
        Some(c) => c,
        None => {
            return engine_error(
                "'undefined' returned for property 'set' of object '#<Map>' is not a function",
            )
        }
    };
    let builtin_adder = matches!(adder, Callee::Native(d) if std::ptr::eq(d, &MAP_SET));
    let mut it = match crate::builtins::array::JsIter::open(cx, &iterable)? {
        Some(it) => it,
        None => return engine_error("object is not iterable"),
    };
    while let Some(item) = it.next(cx)? {
        cx.tick()?;
        let (k, v) = match item {
            crate::builtins::array::Item::Pair(k, v) => (k, v),
            crate::builtins::array::Item::One(e @ Value::Obj(_)) => {
                let k = props::get_computed(cx, &e, &Value::Num(0.0))?;
                let v = props::get_computed(cx, &e, &Value::Num(1.0))?;
                (k, v)
            }
            crate::builtins::array::Item::One(_) => {
                return engine_error("Iterator value is not an entry object")
            }
        };
        if builtin_adder {
            map_insert(cx, o, k, v)?;
        } else {
            call::invoke(cx, &adder, map.clone(), &[k, v])?;
        }
    }
    Ok(map)
}

/// `new Set(iterable)` (ECMA-262 §24.2.1.1).
fn set_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    let proto = cx.realm.proto("Set").expect("Set.prototype");
    let o = new_collection(cx, this, ObjKind::builtin(SetData::default()), proto)?;
    let set = Value::Obj(o);
    let iterable = arg(args, 0);
    if iterable.is_nullish() {
        return Ok(set);
    }
    let adder = match call::resolve_method(cx, &set, &props::key("add"))? {
        Some(c) => c,
        None => {
            return engine_error(
                "'undefined' returned for property 'add' of object '#<Set>' is not a function",
            )
        }
    };
    let builtin_adder = matches!(adder, Callee::Native(d) if std::ptr::eq(d, &SET_ADD));
    let mut it = match crate::builtins::array::JsIter::open(cx, &iterable)? {
        Some(it) => it,
        None => return engine_error("object is not iterable"),
    };
    while let Some(item) = it.next(cx)? {
        cx.tick()?;
        let v = item.into_value(cx)?;
        if builtin_adder {
            set_insert(cx, o, v)?;
        } else {
            call::invoke(cx, &adder, set.clone(), &[v])?;
        }
    }
    Ok(set)
}

// ---------------------------------------------------------------------------------------------------
// Map.prototype

fn map_get(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_map(cx, this)?;
    let key = MapKey::of(&arg(args, 0));
    Ok(match cx.heap.kind(o).slots::<MapData>() {
        Some(m) => m.get(&key).map(|e| e.1.clone()).unwrap_or(Value::Undefined),
        None => Value::Undefined,
    })
}

fn map_set(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_map(cx, this)?;
    map_insert(cx, o, arg(args, 0), arg(args, 1))?;
    Ok(this.clone())
}

fn map_has(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_map(cx, this)?;
    let key = MapKey::of(&arg(args, 0));
    Ok(Value::Bool(
        cx.heap
            .kind(o)
            .slots::<MapData>()
            .is_some_and(|m| m.contains_key(&key)),
    ))
}

/// Removes entry `key` of Map or Set `o`; whether there was one.
fn remove(cx: &mut Cx, o: ObjRef, key: &MapKey) -> JsResult<bool> {
    let idx = match entries(cx.heap.kind(o)) {
        Some(Entries::Map(m)) => m.get_index_of(key),
        Some(Entries::Set(s)) => s.get_index_of(key),
        None => None,
    };
    let Some(idx) = idx else { return Ok(false) };
    // Removing keeps the order of the others by shifting them down: work proportional to their number.
    let len = match entries(cx.heap.kind(o)) {
        Some(Entries::Map(m)) => m.len(),
        Some(Entries::Set(s)) => s.len(),
        None => 0,
    };
    cx.burn(((len - idx) / 16) as u64)?;
    match entries_mut(&mut cx.heap.get_mut(o)?.kind) {
        Some(EntriesMut::Map(m)) => {
            m.shift_remove_index(idx);
        }
        Some(EntriesMut::Set(s)) => {
            s.shift_remove_index(idx);
        }
        None => {}
    }
    cursors_removed(o, idx);
    Ok(true)
}

fn map_delete(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_map(cx, this)?;
    let key = MapKey::of(&arg(args, 0));
    Ok(Value::Bool(remove(cx, o, &key)?))
}

fn clear(cx: &mut Cx, o: ObjRef) -> JsResult<Value> {
    let empty = match entries(cx.heap.kind(o)) {
        Some(Entries::Map(m)) => m.is_empty(),
        Some(Entries::Set(s)) => s.is_empty(),
        None => true,
    };
    if !empty {
        match entries_mut(&mut cx.heap.get_mut(o)?.kind) {
            Some(EntriesMut::Map(m)) => m.clear(),
            Some(EntriesMut::Set(s)) => s.clear(),
            None => {}
        }
    }
    cursors_cleared(o);
    Ok(Value::Undefined)
}

fn map_clear(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let o = this_map(cx, this)?;
    clear(cx, o)
}

/// Map.prototype.forEach (ECMA-262 §24.1.3.5): entries added by the callback are visited too.
fn map_for_each(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_map(cx, this)?;
    let cb = arg(args, 0);
    if !is_callable(cx, &cb) {
        return engine_error("callback is not a function");
    }
    let this_arg = arg(args, 1);
    let cur = Cursor::new(o);
    while let Some((k, v)) = cur.next(cx) {
        call::call(
            cx,
            &cb,
            this_arg.clone(),
            &[v.unwrap_or(Value::Undefined), k, this.clone()],
        )?;
    }
    Ok(Value::Undefined)
}

// ---------------------------------------------------------------------------------------------------
// Set.prototype

fn set_add(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_set(cx, this)?;
    set_insert(cx, o, arg(args, 0))?;
    Ok(this.clone())
}

fn set_has(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_set(cx, this)?;
    let key = MapKey::of(&arg(args, 0));
    Ok(Value::Bool(
        cx.heap
            .kind(o)
            .slots::<SetData>()
            .is_some_and(|s| s.contains_key(&key)),
    ))
}

fn set_delete(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_set(cx, this)?;
    let key = MapKey::of(&arg(args, 0));
    Ok(Value::Bool(remove(cx, o, &key)?))
}

fn set_clear(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    let o = this_set(cx, this)?;
    clear(cx, o)
}

/// Set.prototype.forEach (ECMA-262 §24.2.3.6): the callback gets (value, value, set).
fn set_for_each(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let o = this_set(cx, this)?;
    let cb = arg(args, 0);
    if !is_callable(cx, &cb) {
        return engine_error("callback is not a function");
    }
    let this_arg = arg(args, 1);
    let cur = Cursor::new(o);
    while let Some((v, _)) = cur.next(cx) {
        call::call(cx, &cb, this_arg.clone(), &[v.clone(), v, this.clone()])?;
    }
    Ok(Value::Undefined)
}

#[cfg(test)]
mod tests;
