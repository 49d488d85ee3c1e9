//! Support functions for generated code: the intrinsics the normaliser introduces (see
//! compiler/normalize.ts `ClIntrinsic`; compiler/tracer.ts `intrinsics` is their JavaScript twin), spread,
//! templates, and `this` in sloppy functions.

use crate::builtins::collections::{Cursor, MapData, SetData};
use crate::builtins::iterator::{Iter, IterPart};
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::value::{JsStr, ObjRef, Value};

/// A number constant, exact to the bit.
#[inline]
pub fn num(bits: u64) -> Value {
    Value::Num(f64::from_bits(bits))
}

/// `this` in a sloppy-mode function: Node would substitute globalThis (or box a primitive), which we do
/// not model, so such paths give up.
#[inline]
pub fn sloppy_this(v: &Value) -> JsResult<Value> {
    match v {
        Value::Obj(_) => Ok(v.clone()),
        _ => unsupported("`this` in a sloppy-mode function called without an object receiver"),
    }
}

/// The elements of an iterable, for spread, for-of and array destructuring.
pub fn iterate(cx: &mut Cx, v: &Value) -> JsResult<Vec<Value>> {
    match v {
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Array(items) => Ok(items.iter().map(|x| x.clone().unhole()).collect()),
            k if is_collection(k) => collection_items(cx, *o),
            k if k.is::<Iter>() => {
                let &Iter {
                    source, part, done, ..
                } = k.slots::<Iter>().expect("an iterator");
                iterator_items(cx, *o, source, part, done)
            }
            k if k.is_host() => unsupported("iterating a host object"),
            _ => unsupported("iterating an object that is not an array, string, Map or Set"),
        },
        Value::Str(s) => {
            // Strings iterate by code points.
            let u = s.units();
            let mut out = Vec::new();
            let mut i = 0;
            while i < u.len() {
                let n = if (0xD800..0xDC00).contains(&u[i])
                    && i + 1 < u.len()
                    && (0xDC00..0xE000).contains(&u[i + 1])
                {
                    2
                } else {
                    1
                };
                out.push(cx.new_str_from(&u[i..i + n])?);
                i += n;
            }
            Ok(out)
        }
        _ => engine_error("is not iterable"),
    }
}

/// What an Array, Map or Set iterator yields, read from its source now; the iterator is then exhausted, as
/// a JavaScript iterator is once spread or looped over.
fn iterator_items(
    cx: &mut Cx,
    it: ObjRef,
    source: ObjRef,
    part: IterPart,
    done: bool,
) -> JsResult<Vec<Value>> {
    if done {
        return Ok(Vec::new());
    }
    if cx.heap.kind(it).slots::<Iter>().is_some_and(|i| i.taken) {
        return unsupported("an iterator a for-of left part way");
    }
    if let Some(i) = cx.heap.get_mut(it)?.kind.slots_mut::<Iter>() {
        i.done = true;
    }
    let kind = cx.heap.kind(source);
    let (keys, values): (Vec<Value>, Vec<Value>) = if let ObjKind::Array(items) = kind {
        (0..items.len())
            .map(|i| (Value::Num(i as f64), items[i].clone().unhole()))
            .unzip()
    } else if let Some(m) = kind.slots::<MapData>() {
        m.values().map(|(k, v)| (k.clone(), v.clone())).unzip()
    } else if let Some(s) = kind.slots::<SetData>() {
        s.values().map(|v| (v.clone(), v.clone())).unzip()
    } else {
        return unsupported("an iterator over a changed source");
    };
    match part {
        IterPart::Keys => Ok(keys),
        IterPart::Values => Ok(values),
        IterPart::Entries => keys
            .into_iter()
            .zip(values)
            .map(|(k, v)| cx.new_array(vec![k, v]))
            .collect(),
    }
}

fn is_collection(k: &ObjKind) -> bool {
    k.is::<MapData>() || k.is::<SetData>()
}

fn collection_items(cx: &mut Cx, o: ObjRef) -> JsResult<Vec<Value>> {
    let kind = cx.heap.kind(o);
    let entries: Vec<(Value, Option<Value>)> = if let Some(m) = kind.slots::<MapData>() {
        m.values()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect()
    } else if let Some(s) = kind.slots::<SetData>() {
        s.values().map(|v| (v.clone(), None)).collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        out.push(match v {
            Some(v) => cx.new_array(vec![k, v])?,
            None => k,
        });
    }
    Ok(out)
}

/// `__cl.i.iter(v)`: arrays as they are (for-of reads them live), other iterables copied into an array.
pub fn iter(cx: &mut Cx, v: &Value) -> JsResult<Value> {
    if let Value::Obj(o) = v {
        if let ObjKind::Array(_) = cx.heap.kind(*o) {
            return Ok(v.clone());
        }
    }
    if v.is_nullish() {
        return engine_error("is not iterable");
    }
    let items = iterate(cx, v)?;
    cx.new_array(items)
}

/// `__cl.i.forInKeys(v)`.
pub fn for_in_keys(cx: &mut Cx, v: &Value) -> JsResult<Value> {
    let keys = props::for_in_keys(cx, v)?;
    cx.new_array(keys.into_iter().map(Value::Str).collect())
}

/// `__cl.i.toKey(k)`: ToPropertyKey, once, for compound assignments to computed members.
pub fn to_key(cx: &mut Cx, k: &Value) -> JsResult<Value> {
    Ok(Value::Str(ops::to_property_key(cx, k)?))
}

/// `__cl.i.memberKey(k)`: the key of a compound assignment's member, a number left as it is (the same
/// property as its string, found without making the string: see `memberKey` in trace/tracer.ts).
#[inline]
pub fn member_key(cx: &mut Cx, k: &Value) -> JsResult<Value> {
    match k {
        Value::Num(_) => Ok(k.clone()),
        _ => to_key(cx, k),
    }
}

/// `__cl.i.requireObject(v)`: destructuring `undefined` or `null` throws.
pub fn require_object(_cx: &mut Cx, v: &Value) -> JsResult<Value> {
    if v.is_nullish() {
        return engine_error("Cannot destructure undefined or null");
    }
    Ok(Value::Undefined)
}

/// `__cl.i.objectRest(src, used)`: own enumerable properties of `src` except the keys in `used`.
pub fn object_rest(cx: &mut Cx, src: &Value, used: &Value) -> JsResult<Value> {
    require_object(cx, src)?;
    let used: Vec<JsStr> = match used {
        Value::Obj(u) => match cx.heap.kind(*u) {
            ObjKind::Array(items) => items.iter().filter_map(|v| v.as_str().cloned()).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let out = cx.new_object()?;
    let o = out.as_obj().expect("object");
    if let Value::Obj(s) = src {
        for k in props::own_enumerable_keys(cx, *s) {
            if used.contains(&k) {
                continue;
            }
            let v = props::get(cx, src, k.units())?;
            props::define(cx, o, k, v)?;
        }
    } else if let Value::Str(_) = src {
        return unsupported("object rest from a string");
    }
    Ok(out)
}

/// `__cl.i.arraySliceFrom(a, i)`.
pub fn array_slice_from(cx: &mut Cx, a: &Value, i: &Value) -> JsResult<Value> {
    let start = match i {
        Value::Num(n) => *n as usize,
        _ => 0,
    };
    let items = match a {
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Array(items) => items
                .iter()
                .skip(start)
                .map(|v| v.clone().unhole())
                .collect(),
            _ => return unsupported("rest element of a non-array"),
        },
        _ => return unsupported("rest element of a non-array"),
    };
    cx.new_array(items)
}

/// `{...src}` inside an object literal: CopyDataProperties (ECMA-262 §7.3.25).
pub fn object_spread(cx: &mut Cx, target: ObjRef, src: &Value) -> JsResult<()> {
    match src {
        Value::Undefined | Value::Null | Value::Hole | Value::Bool(_) | Value::Num(_) => Ok(()),
        Value::Str(s) => {
            for (i, c) in s.units().iter().enumerate() {
                let k = ops::number_to_jsstr(i as f64);
                props::define(cx, target, k, Value::Str(JsStr::unit(*c)))?;
            }
            Ok(())
        }
        Value::Obj(o) => {
            for k in props::own_enumerable_keys(cx, *o) {
                let v = props::get(cx, src, k.units())?;
                props::define(cx, target, k, v)?;
            }
            Ok(())
        }
    }
}

/// Defines a getter or setter from an object literal.
pub fn define_accessor(
    cx: &mut Cx,
    o: ObjRef,
    key: JsStr,
    f: &Value,
    is_get: bool,
) -> JsResult<()> {
    let fo = f.as_obj();
    let prop = if is_get {
        Prop::Accessor {
            get: fo,
            set: None,
            enumerable: true,
        }
    } else {
        Prop::Accessor {
            get: None,
            set: fo,
            enumerable: true,
        }
    };
    props::define_prop(cx, o, key, prop)
}

/// Appends ToString(v) to a template literal being built.
pub fn template_part(cx: &mut Cx, out: &mut Vec<u16>, v: &Value) -> JsResult<()> {
    let s = ops::to_string(cx, v)?;
    out.extend_from_slice(s.units());
    Ok(())
}

/// Reads a string constant's text (for APIs that take Rust strings: regex literals, require).
pub fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// `__cl.i.callWith(f, self, args)`: the call in `a.b?.(x)`, once `a.b` is known not to be nullish. It
/// reaches whatever function `f` is, user code or builtin, with the semantics of a call.
pub fn call_with(cx: &mut Cx, f: &Value, this: &Value, args: &Value) -> JsResult<Value> {
    let args = match args {
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Array(items) => items.iter().map(|v| v.clone().unhole()).collect::<Vec<_>>(),
            _ => return unsupported("callWith arguments"),
        },
        _ => return unsupported("callWith arguments"),
    };
    crate::call::call(cx, f, this.clone(), &args)
}

/// What a `catch` receives: a thrown value, or for an engine error of a known class an error object of
/// that class (its message unreadable). Other give-ups pass through.
pub fn caught(cx: &mut Cx, ctl: crate::cx::Ctl) -> JsResult<Value> {
    match ctl {
        crate::cx::Ctl::Throw(v) => Ok(v),
        crate::cx::Ctl::Abort(a) => match a.throws {
            Some(class) if a.kind == crate::cx::AbortKind::Uncaught => {
                crate::builtins::error::engine_error_object(cx, class)
            }
            _ => Err(crate::cx::Ctl::Abort(a)),
        },
    }
}

/// What a `finally` block may see: the completion of its `try` (and `catch`), unless that is a give-up.
/// A give-up other than an engine error that `catch` could have caught goes on at once, before the finally
/// block runs, because a `break`, `continue` or `return` there would discard it and the request would
/// answer from a path the runtime has abandoned.
pub fn before_finally<T>(r: JsResult<T>) -> JsResult<JsResult<T>> {
    match r {
        Err(crate::cx::Ctl::Abort(a))
            if !(a.throws.is_some() && a.kind == crate::cx::AbortKind::Uncaught) =>
        {
            Err(crate::cx::Ctl::Abort(a))
        }
        r => Ok(r),
    }
}

/// The number in `v`, which the compiler has proved is one (see `isNum` in compiler/codegen.ts); gives up
/// rather than panic should that ever not hold.
#[inline]
pub fn expect_num(v: &Value) -> JsResult<f64> {
    match v {
        Value::Num(n) => Ok(*n),
        _ => unsupported("a value the compiler took for a number"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Environments with temporal dead zones

/// A new environment of `n` captured bindings, all uninitialised (a hole) until their declaration runs.
pub fn new_scope(cx: &mut Cx, n: usize, parent: Option<ObjRef>) -> JsResult<ObjRef> {
    let env = props::new_scope(cx, n, parent)?;
    if let ObjKind::Scope { vars, .. } = &mut cx.heap.get_mut(env)?.kind {
        vars.fill(Value::Hole);
    }
    Ok(env)
}

/// A binding read or written in its temporal dead zone: V8 throws a ReferenceError ("Cannot access 'x'
/// before initialization"); a `catch` gets a ReferenceError, uncaught it gives up (ECMA-262 §9.1.1.1.6
/// GetBindingValue, §9.1.1.1.5 SetMutableBinding).
fn tdz<T>() -> JsResult<T> {
    crate::cx::engine_throw(
        "ReferenceError",
        "a binding read or written before its declaration ran",
    )
}

/// Reads a captured binding; one still uninitialised throws ReferenceError.
#[inline(always)]
pub fn scope_read(cx: &Cx, env: ObjRef, depth: u32, idx: u32) -> JsResult<Value> {
    match props::scope_get(cx, env, depth, idx) {
        Value::Hole => tdz(),
        v => Ok(v),
    }
}

/// Before a builtin call whose method lookup was skipped because the realm was untouched, and which then
/// needs the method after all (its arguments were not what the direct form takes): the lookup now runs
/// after the arguments, which finds what it would have found before them unless they wrote to the realm;
/// then this gives up.
pub fn realm_still_untouched(cx: &Cx, site: u32) -> JsResult<()> {
    if cx.heap.realm_untouched() {
        return Ok(());
    }
    crate::cx::abort(
        crate::cx::AbortKind::Unsupported,
        site,
        "the arguments of a builtin call changed the realm's builtins",
    )
}

/// Whether a method's lookup on `v` passes over it to the realm's Array.prototype: `v` is an array whose
/// prototype is that object and that has no property of its own but its elements (a method's name is never
/// an index). With `Heap::realm_untouched`, the lookup then finds Array.prototype's builtin.
#[inline(always)]
pub fn plain_array(cx: &Cx, v: &Value) -> bool {
    match v {
        Value::Obj(o) => {
            let ob = cx.heap.get(*o);
            matches!(ob.kind, ObjKind::Array(_))
                && ob.proto == Some(cx.realm.array_proto)
                && ob.props.is_empty()
        }
        _ => false,
    }
}

/// Whether a method's lookup on `v` passes over it to the realm's Map.prototype: `v` is a Map whose prototype
/// is that object and that has no property of its own. With `Heap::realm_untouched`, the lookup then finds
/// Map.prototype's builtin, as `plain_array` for arrays.
#[inline(always)]
pub fn plain_map(cx: &Cx, v: &Value) -> bool {
    plain_collection::<crate::builtins::collections::MapData>(cx, v, cx.realm.map_proto)
}

/// `plain_map` for a Set and the realm's Set.prototype.
#[inline(always)]
pub fn plain_set(cx: &Cx, v: &Value) -> bool {
    plain_collection::<crate::builtins::collections::SetData>(cx, v, cx.realm.set_proto)
}

#[inline(always)]
fn plain_collection<T: crate::heap::Slots>(cx: &Cx, v: &Value, proto: Option<ObjRef>) -> bool {
    match v {
        Value::Obj(o) => {
            let ob = cx.heap.get(*o);
            proto.is_some() && ob.proto == proto && ob.props.is_empty() && ob.kind.is::<T>()
        }
        _ => false,
    }
}

/// Reads a captured binding where the trace saw only numbers (an operand of f64 arithmetic), as
/// `guard_num(&scope_read(..)?, site)`: one still uninitialised throws ReferenceError, anything but a
/// number fails the site's type guard, and no copy of the tagged value is made.
#[inline(always)]
pub fn scope_read_num(cx: &Cx, env: ObjRef, depth: u32, idx: u32, site: u32) -> JsResult<f64> {
    match &cx.heap.get(props::scope_env(cx, env, depth)).kind {
        ObjKind::Scope { vars, .. } => cached_read_num(&vars[idx as usize], site),
        _ => unreachable!("not a scope"),
    }
}

/// A captured binding held in a local of the function reading it (its environment's value when the function
/// began, or what the function last assigned): as `scope_read`.
#[inline(always)]
pub fn cached_read(v: &Value) -> JsResult<Value> {
    match v {
        Value::Hole => tdz(),
        v => Ok(v.clone()),
    }
}

/// `cached_read` borrowed rather than copied, for an operand the operator takes by reference.
#[inline(always)]
pub fn cached_ref(v: &Value) -> JsResult<&Value> {
    match v {
        Value::Hole => tdz(),
        v => Ok(v),
    }
}

/// A binding's value where the trace saw only numbers, as an f64: in its environment (`scope_read_num`) or
/// held in a local (see `cached_read`). One still uninitialised throws ReferenceError; anything but a
/// number fails the site's type guard.
#[inline(always)]
pub fn cached_read_num(v: &Value, site: u32) -> JsResult<f64> {
    match v {
        Value::Num(n) => Ok(*n),
        Value::Hole => tdz(),
        _ => ops::guard_num(&Value::Undefined, site),
    }
}

/// A captured binding that holds only numbers once declared (the compiler's `capturedNumber`), held in a
/// local of a function that keeps it there while it runs (see the compiler's `cacheCaptured`): its number,
/// or that it is still in its temporal dead zone, where reading or assigning it throws as in its
/// environment. Everything here is inlined, so the two fields live in registers.
#[derive(Clone, Copy)]
pub struct HeldNum {
    n: f64,
    hole: bool,
}

impl HeldNum {
    /// The binding's slot in `env` (`depth` environments up), read when the function starts and again after
    /// a builtin that may run the program's code. Anything but a number or the hole gives up, since the
    /// compiler found every value it gets to be a number.
    #[inline(always)]
    pub fn load(cx: &Cx, env: ObjRef, depth: u32, idx: u32) -> JsResult<HeldNum> {
        match &cx.heap.get(props::scope_env(cx, env, depth)).kind {
            ObjKind::Scope { vars, .. } => match &vars[idx as usize] {
                Value::Num(n) => Ok(HeldNum { n: *n, hole: false }),
                Value::Hole => Ok(HeldNum { n: 0.0, hole: true }),
                _ => not_held_num(),
            },
            _ => unreachable!("not a scope"),
        }
    }
    /// Its value; in its temporal dead zone, ReferenceError.
    #[inline(always)]
    pub fn get(&self) -> JsResult<f64> {
        if self.hole {
            return tdz();
        }
        Ok(self.n)
    }
    /// Assigns it; in its temporal dead zone, ReferenceError.
    #[inline(always)]
    pub fn set(&mut self, n: f64) -> JsResult<()> {
        if self.hole {
            return tdz();
        }
        self.n = n;
        Ok(())
    }
    /// Gives the environment back its value (nothing while it is in its temporal dead zone, which no
    /// assignment left).
    #[inline(always)]
    pub fn store(&self, cx: &mut Cx, env: ObjRef, depth: u32, idx: u32) -> JsResult<()> {
        if self.hole {
            return Ok(());
        }
        props::scope_set(cx, env, depth, idx, Value::Num(self.n))
    }
}

/// The number a binding held as a `HeldNum` is assigned; anything else gives up, since the compiler found
/// every value it gets to be a number.
#[inline(always)]
pub fn held_num(v: &Value) -> JsResult<f64> {
    match v {
        Value::Num(n) => Ok(*n),
        _ => not_held_num(),
    }
}

#[cold]
#[inline(never)]
fn not_held_num<T>() -> JsResult<T> {
    unsupported("a binding held as a number in a local got something else")
}

/// Assigns a binding's slot, in its environment (`scope_write`) or held in a local (see `cached_read`); one
/// still uninitialised throws ReferenceError.
#[inline(always)]
pub fn cached_write(local: &mut Value, v: Value) -> JsResult<()> {
    if let Value::Hole = local {
        return tdz();
    }
    *local = v;
    Ok(())
}

/// `cached_write` of a number: a slot that holds a number already has only its f64 replaced.
#[inline(always)]
pub fn cached_write_num(local: &mut Value, n: f64) -> JsResult<()> {
    match local {
        Value::Num(x) => {
            *x = n;
            Ok(())
        }
        Value::Hole => tdz(),
        _ => {
            *local = Value::Num(n);
            Ok(())
        }
    }
}

/// Assigns a captured binding; one still uninitialised throws ReferenceError.
#[inline(always)]
pub fn scope_write(cx: &mut Cx, env: ObjRef, depth: u32, idx: u32, v: Value) -> JsResult<()> {
    let e = props::scope_env(cx, env, depth);
    // One look at the environment: the write access's checks, then the binding's TDZ and the store. A
    // throw after the undo log copied a module environment leaves it as it was, which undoing restores.
    match &mut cx.heap.get_mut(e)?.kind {
        ObjKind::Scope { vars, .. } => cached_write(&mut vars[idx as usize], v),
        _ => unreachable!("not a scope"),
    }
}

/// `scope_write` of a number (see `cached_write_num`).
#[inline(always)]
pub fn scope_write_num(cx: &mut Cx, env: ObjRef, depth: u32, idx: u32, n: f64) -> JsResult<()> {
    let e = props::scope_env(cx, env, depth);
    match &mut cx.heap.get_mut(e)?.kind {
        ObjKind::Scope { vars, .. } => cached_write_num(&mut vars[idx as usize], n),
        _ => unreachable!("not a scope"),
    }
}

// ---------------------------------------------------------------------------------------------------
// for-of

/// What a for-of loop over something other than an array steps through, live, as the spec's iterators
/// do (ECMA-262 §24.1.5.1 CreateMapIterator, §24.2.5.1 CreateSetIterator, §23.1.5.1
/// CreateArrayIterator): entries a Map or Set gets during the loop are visited, ones deleted before their
/// turn are not, one deleted and added again is visited again (the collection's `Cursor` follows its
/// deletions); an array iterator reads the array's length at every step.
#[derive(Clone, Debug)]
pub struct ForOf {
    source: ForOfSource,
    part: IterPart,
    /// The value of the current step.
    current: Value,
    /// The Array, Map or Set iterator the loop steps through, if it was given one: marked done when the
    /// loop exhausts it.
    iterator: Option<ObjRef>,
}

/// A for-of loop's iteration is the runtime's own host object: it has no properties and no prototype.
impl crate::heap::Slots for ForOf {
    fn is_host(&self) -> bool {
        true
    }
    /// A loop's position follows its collection through the runtime's live cursors, which end with the
    /// request.
    fn each_value(&mut self, _: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        Err("a for-of loop's iteration")
    }
}

#[derive(Clone, Debug)]
enum ForOfSource {
    Collection(std::sync::Arc<Cursor>),
    Array { array: ObjRef, next: usize },
}

/// `__cl.i.forOf(v)`: an array as it is (the loop reads it by index, live); a Map, Set, or Array, Map or
/// Set iterator as a live iteration; a string as its code points (strings do not change).
pub fn for_of(cx: &mut Cx, v: &Value) -> JsResult<Value> {
    let o = match v {
        Value::Obj(o) => *o,
        Value::Str(_) => {
            let items = iterate(cx, v)?;
            return cx.new_array(items);
        }
        _ => return engine_error("is not iterable"),
    };
    let cursor = |o| ForOfSource::Collection(std::sync::Arc::new(Cursor::new(o)));
    let kind = cx.heap.kind(o);
    let mut iterator = None;
    let (source, part) = if let ObjKind::Array(_) = kind {
        return Ok(v.clone());
    } else if kind.is::<MapData>() {
        (cursor(o), IterPart::Entries)
    } else if kind.is::<SetData>() {
        (cursor(o), IterPart::Values)
    } else if let Some(&Iter {
        source,
        part,
        done,
        taken,
    }) = kind.slots::<Iter>()
    {
        if done {
            return cx.new_array(Vec::new());
        }
        if taken {
            // Another loop stepped through it and stopped part way: Node goes on from there.
            return unsupported("an iterator a for-of left part way");
        }
        if let Some(i) = cx.heap.get_mut(o)?.kind.slots_mut::<Iter>() {
            i.taken = true;
        }
        iterator = Some(o);
        match cx.heap.kind(source) {
            ObjKind::Array(_) => (
                ForOfSource::Array {
                    array: source,
                    next: 0,
                },
                part,
            ),
            k if is_collection(k) => (cursor(source), part),
            _ => return unsupported("an iterator over a changed source"),
        }
    } else if kind.is_host() {
        return unsupported("for-of over a host object");
    } else {
        return unsupported(
            "for-of over an object that is not an array, string, Map, Set or their iterator",
        );
    };
    let state = ForOf {
        source,
        part,
        current: Value::Undefined,
        iterator,
    };
    let it = cx
        .heap
        .alloc(crate::heap::Obj::new(ObjKind::builtin(state), None))?;
    Ok(Value::Obj(it))
}

fn for_of_state(cx: &Cx, it: &Value) -> Option<ForOf> {
    match it {
        Value::Obj(o) => cx.heap.kind(*o).slots::<ForOf>().cloned(),
        _ => None,
    }
}

/// `__cl.i.forOfNext(it, i)`: whether the loop goes on; for an iteration, takes its next value.
#[inline]
pub fn for_of_next(cx: &mut Cx, it: &Value, i: &Value) -> JsResult<Value> {
    if let (Value::Obj(o), Value::Num(i)) = (it, i) {
        if let ObjKind::Array(items) = cx.heap.kind(*o) {
            return Ok(Value::Bool(*i < items.len() as f64));
        }
    }
    for_of_next_slow(cx, it, i)
}

#[inline(never)]
fn for_of_next_slow(cx: &mut Cx, it: &Value, i: &Value) -> JsResult<Value> {
    if let Value::Obj(o) = it {
        if let ObjKind::Array(items) = cx.heap.kind(*o) {
            let i = expect_num(i)?;
            return Ok(Value::Bool(i < items.len() as f64));
        }
    }
    let mut state = match for_of_state(cx, it) {
        Some(s) => s,
        None => return unsupported("a for-of loop over a value that changed"),
    };
    let step: Option<(Value, Value)> = match &mut state.source {
        ForOfSource::Collection(cursor) => cursor.next(cx).map(|(k, v)| {
            let v = v.unwrap_or_else(|| k.clone());
            (k, v)
        }),
        ForOfSource::Array { array, next } => match cx.heap.kind(*array) {
            ObjKind::Array(items) if *next < items.len() => {
                let v = items[*next].clone().unhole();
                let k = Value::Num(*next as f64);
                *next += 1;
                Some((k, v))
            }
            _ => None,
        },
    };
    let more = step.is_some();
    if let (false, Some(i)) = (more, state.iterator) {
        // Exhausted: the iterator is done, as Node's is after the loop.
        if let Some(i) = cx.heap.get_mut(i)?.kind.slots_mut::<Iter>() {
            i.done = true;
            i.taken = false;
        }
    }
    if let Some((k, v)) = step {
        state.current = match state.part {
            IterPart::Keys => k,
            IterPart::Values => v,
            IterPart::Entries => cx.new_array(vec![k, v])?,
        };
    }
    if let Value::Obj(o) = it {
        if let Some(f) = cx.heap.get_mut(*o)?.kind.slots_mut::<ForOf>() {
            *f = state;
        }
    }
    Ok(Value::Bool(more))
}

/// `__cl.i.forOfValue(it, i)`: the current step's value.
#[inline]
pub fn for_of_value(cx: &mut Cx, it: &Value, i: &Value) -> JsResult<Value> {
    if let Value::Num(k) = i {
        if let Some(v) = props::array_element(cx, it, *k) {
            return Ok(v);
        }
    }
    for_of_value_slow(cx, it, i)
}

#[inline(never)]
fn for_of_value_slow(cx: &mut Cx, it: &Value, i: &Value) -> JsResult<Value> {
    if let Value::Obj(o) = it {
        if let ObjKind::Array(_) = cx.heap.kind(*o) {
            return props::get_computed(cx, it, i);
        }
    }
    match for_of_state(cx, it) {
        Some(s) => Ok(s.current),
        None => unsupported("a for-of loop over a value that changed"),
    }
}

/// `__cl.i.forInSkip(o, keys, i)`: the index of the first key from `i` on that `o` still has (V8 checks
/// each key with HasProperty before visiting it, so a key deleted during the loop is skipped), or the
/// number of keys.
pub fn for_in_skip(cx: &mut Cx, o: &Value, keys: &Value, i: &Value) -> JsResult<Value> {
    let keys = match keys {
        Value::Obj(k) if matches!(cx.heap.kind(*k), ObjKind::Array(_)) => *k,
        _ => return unsupported("for-in keys that are not an array"),
    };
    let mut i = expect_num(i)? as usize;
    loop {
        let key = match cx.heap.kind(keys) {
            ObjKind::Array(items) => items.get(i).cloned(),
            _ => None,
        };
        let key = match key {
            Some(k) => k,
            None => return Ok(Value::Num(i as f64)),
        };
        // A string's index keys never go away; null and undefined have no keys to check.
        if !matches!(o, Value::Obj(_)) || ops::has_property_op(cx, &key, o)? {
            return Ok(Value::Num(i as f64));
        }
        i += 1;
    }
}
