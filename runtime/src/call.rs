//! Calls: [[Call]] and [[Construct]] for compiled functions, builtins and bound functions; method
//! resolution; the callee guards the code generator emits at every call site; closures and classes.

use crate::builtins::BuiltinDef;
use crate::cx::{abort, engine_error, unsupported, AbortKind, Call, Cx, JsResult};
use crate::heap::{fflags, Func, Obj, ObjKind, Prop};
use crate::props;
use crate::value::{JsStr, ObjRef, Value};

/// What a call site reached: a function object, or a builtin method found on a prototype.
#[derive(Clone, Copy, Debug)]
pub enum Callee {
    Obj(ObjRef),
    Native(&'static BuiltinDef),
}

/// The identity a trace records for a callee: the compiled function's code number, or a builtin's name.
#[derive(Clone, Copy, Debug, Eq)]
pub enum CalleeId {
    User(u32),
    Builtin(&'static str),
}

// Compared at every callee guard: a builtin's name is usually the very string the guard names (the
// linker merges equal literals), else compared unit by unit, which for names this short costs less than
// a call to memcmp.
impl PartialEq for CalleeId {
    #[inline]
    fn eq(&self, other: &CalleeId) -> bool {
        match (self, other) {
            (CalleeId::User(a), CalleeId::User(b)) => a == b,
            (CalleeId::Builtin(a), CalleeId::Builtin(b)) => {
                a.len() == b.len()
                    && (a.as_ptr() == b.as_ptr() || a.bytes().zip(b.bytes()).all(|(x, y)| x == y))
            }
            _ => false,
        }
    }
}

const MAX_DEPTH: u32 = 800;

/// IsCallable (ECMA-262 7.2.3): a function object (compiled, native or bound).
pub fn is_callable(cx: &Cx, v: &Value) -> bool {
    match v {
        Value::Obj(o) => matches!(
            cx.heap.kind(*o),
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
        ),
        _ => false,
    }
}

#[inline]
pub fn callee_id(cx: &Cx, c: &Callee) -> Option<CalleeId> {
    match c {
        Callee::Native(d) => Some(CalleeId::Builtin(d.name)),
        Callee::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Function(f) => Some(CalleeId::User(f.code)),
            ObjKind::Native(d) => Some(CalleeId::Builtin(d.name)),
            _ => None,
        },
    }
}

/// The callee guard: gives up unless the call reached one of the callees the trace saw here.
#[inline]
pub fn guard_callee(cx: &Cx, c: &Callee, expect: &[CalleeId], site: u32) -> JsResult<()> {
    match callee_id(cx, c) {
        Some(id) if expect.contains(&id) => Ok(()),
        _ => abort(
            AbortKind::CalleeGuard,
            site,
            "a callee the trace did not see",
        ),
    }
}

/// The callee a function value denotes (for plain calls `f(x)`).
#[inline]
pub fn callee_of(cx: &Cx, f: &Value) -> JsResult<Callee> {
    match f {
        Value::Obj(o) => match cx.heap.kind(*o) {
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => Ok(Callee::Obj(*o)),
            _ => engine_error("is not a function"),
        },
        _ => engine_error("is not a function"),
    }
}

/// Finds `recv[key]` for a method call: user properties along the chain first, then builtin methods
/// of the realm's prototypes. `None` when nothing is found (the call then fails with a TypeError).
pub fn resolve_method(cx: &mut Cx, recv: &Value, key: &[u16]) -> JsResult<Option<Callee>> {
    let mut cur = match recv {
        Value::Obj(o) => Some(*o),
        Value::Str(_) => Some(cx.realm.string_proto),
        Value::Num(_) => Some(cx.realm.number_proto),
        Value::Bool(_) => Some(cx.realm.boolean_proto),
        _ => {
            return crate::cx::engine_throw(
                "TypeError",
                "Cannot read properties of undefined or null",
            )
        }
    };
    while let Some(o) = cur {
        // Host objects compute some fields (a Response's `status`); their methods are on prototypes.
        if let Some(h) = props::hooks_of(cx, o).filter(|h| h.fields) {
            if let Some(v) = (h.get)(cx, o, recv, key)? {
                return match v {
                    Value::Obj(f)
                        if matches!(
                            cx.heap.kind(f),
                            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
                        ) =>
                    {
                        Ok(Some(Callee::Obj(f)))
                    }
                    _ => engine_error("is not a function"),
                };
            }
        }
        let has_special = match cx.heap.kind(o) {
            ObjKind::Array(_) => {
                props::index_of_key(key).is_some() || key == [108, 101, 110, 103, 116, 104]
            }
            ObjKind::Function(_) | ObjKind::Native(_) => {
                key == [110, 97, 109, 101] || key == [108, 101, 110, 103, 116, 104]
            }
            _ => false,
        };
        if has_special || cx.heap.get(o).props.contains_key(key) {
            let v = props::get(cx, &Value::Obj(o), key)?;
            // Getters see the original receiver; re-read through it when it differs.
            let v = if Value::Obj(o).as_obj() != recv.as_obj()
                && matches!(cx.heap.get(o).props.get(key), Some(Prop::Accessor { .. }))
            {
                props::get(cx, recv, key)?
            } else {
                v
            };
            return match v {
                Value::Obj(f)
                    if matches!(
                        cx.heap.kind(f),
                        ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
                    ) =>
                {
                    Ok(Some(Callee::Obj(f)))
                }
                Value::Undefined if has_special && !cx.heap.get(o).props.contains_key(key) => {
                    cur = cx.heap.get(o).proto;
                    continue;
                }
                _ => engine_error("is not a function"),
            };
        }
        if let Some(d) = cx.realm.proto_method(o, key) {
            return Ok(Some(Callee::Native(d)));
        }
        cur = cx.heap.get(o).proto;
    }
    Ok(None)
}

/// What a call site remembers of the builtin method it last resolved (`method_guarded`): for which key, for
/// which kind of receiver, and in which state of the realm. Generated code names each site's slot.
#[derive(Clone, Copy)]
pub struct MethodIc {
    /// The address of the key constant (0: empty), so that a slot shared by two sites never answers for
    /// the wrong key.
    key: usize,
    /// `IC_STRING`, `IC_NUMBER`, `IC_BOOLEAN` (a primitive receiver), `IC_SELF` (the receiver is `obj`,
    /// one of the realm's objects: `Math`, `JSON`, a constructor) or `IC_PROTO` (an object of the request's
    /// whose prototype is `obj`, one of the realm's, and that `resolves_past` for the key).
    class: u8,
    obj: ObjRef,
    epoch: u32,
    callee: Option<Callee>,
}

impl Default for MethodIc {
    fn default() -> MethodIc {
        MethodIc {
            key: 0,
            class: 0,
            obj: ObjRef(0),
            epoch: 0,
            callee: None,
        }
    }
}

const IC_STRING: u8 = 1;
const IC_NUMBER: u8 = 2;
const IC_BOOLEAN: u8 = 3;
const IC_SELF: u8 = 4;
const IC_PROTO: u8 = 5;

/// `method(cx, recv, key)` and the site's callee guard (`guard_callee(.., expect, site)`) at a call site with
/// cache slot `slot`. Where resolution ends at a builtin found through the realm's objects alone (a string's
/// `slice`, an array's `push`, `Math.imul`), the answer depends only on the kind of receiver and the realm's
/// objects, so the site keeps it until the realm changes (`Heap::realm_epoch`) or a receiver of another kind
/// comes; everything else resolves as `method` does every time. A site caches only a callee that passed its
/// guard, so a cached answer needs no guard again.
#[inline]
pub fn method_guarded(
    cx: &mut Cx,
    recv: &Value,
    key: &'static [u16],
    slot: u32,
    expect: &[CalleeId],
    site: u32,
) -> JsResult<Callee> {
    if let Some(c) = method_hit(cx, recv, key, slot) {
        return Ok(c);
    }
    method_guarded_miss(cx, recv, key, slot, expect, site)
}

/// `method_guarded` behind the receiver's type guard (`mask`, at `site`). A cached answer for a receiver of a
/// primitive kind, or for the very object the site cached, was reached by a receiver that passed this guard
/// and is of the same type, so it needs no guard; a receiver matched by its prototype (whose own kind may
/// differ) and a resolution take the guard first.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn method_typed(
    cx: &mut Cx,
    recv: &Value,
    key: &'static [u16],
    slot: u32,
    expect: &[CalleeId],
    site: u32,
    mask: u16,
) -> JsResult<Callee> {
    // Inlined into generated code as far as a cache hit: the call with its seven arguments cost more than
    // the hit itself.
    if let Some(ic) = cx.ics.get(slot as usize) {
        if ic.class != IC_PROTO {
            if let Some(c) = method_hit(cx, recv, key, slot) {
                return Ok(c);
            }
        } else {
            crate::ops::guard_type(cx, recv, mask, site)?;
            if let Some(c) = method_hit(cx, recv, key, slot) {
                return Ok(c);
            }
            return method_guarded_miss(cx, recv, key, slot, expect, site);
        }
    }
    method_typed_miss(cx, recv, key, slot, expect, site, mask)
}

#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn method_typed_miss(
    cx: &mut Cx,
    recv: &Value,
    key: &'static [u16],
    slot: u32,
    expect: &[CalleeId],
    site: u32,
    mask: u16,
) -> JsResult<Callee> {
    crate::ops::guard_type(cx, recv, mask, site)?;
    method_guarded(cx, recv, key, slot, expect, site)
}

#[inline(never)]
fn method_guarded_miss(
    cx: &mut Cx,
    recv: &Value,
    key: &'static [u16],
    slot: u32,
    expect: &[CalleeId],
    site: u32,
) -> JsResult<Callee> {
    let c = method(cx, recv, key)?;
    guard_callee(cx, &c, expect, site)?;
    remember(cx, recv, key, slot, c);
    Ok(c)
}

#[inline(always)]
fn method_hit(cx: &mut Cx, recv: &Value, key: &'static [u16], slot: u32) -> Option<Callee> {
    if let Some(ic) = cx.ics.get(slot as usize) {
        if ic.key == key.as_ptr() as usize && ic.epoch == cx.heap.realm_epoch() {
            if let Some(c) = ic.callee {
                let hit = match (recv, ic.class) {
                    (Value::Str(_), IC_STRING)
                    | (Value::Num(_), IC_NUMBER)
                    | (Value::Bool(_), IC_BOOLEAN) => true,
                    (Value::Obj(o), IC_SELF) => *o == ic.obj,
                    (Value::Obj(o), IC_PROTO) => {
                        let ob = cx.heap.get(*o);
                        ob.proto == Some(ic.obj) && resolves_past(ob, key)
                    }
                    _ => false,
                };
                if hit {
                    // The read the full resolution would have made of the realm's object (see `heap::Later`).
                    let _ = cx.heap.get(ic.obj);
                    return Some(c);
                }
            }
        }
    }
    None
}

/// Whether `resolve_method` passes over object `ob` (one of the request's) to its prototype for `key`: it
/// has no own property `key`, and it is an array (a method's name is neither an index nor `length`), an
/// ordinary object, or a builtin's object whose properties it does not compute as own fields (a RegExp, a
/// Map: their accessors live on their prototypes).
#[inline(always)]
fn resolves_past(ob: &Obj, key: &[u16]) -> bool {
    let kind_ok = match &ob.kind {
        ObjKind::Array(_) | ObjKind::Ordinary => true,
        ObjKind::Builtin(b) => b.hooks().is_none_or(|h| !h.fields),
        _ => false,
    };
    kind_ok && (ob.props.is_empty() || !ob.props.contains_key(key))
}

/// Keeps `c`, what `recv[key]` resolved to at the site with `slot`, when the resolution depended only on the
/// kind of receiver and the realm's objects (see `MethodIc`).
fn remember(cx: &mut Cx, recv: &Value, key: &'static [u16], slot: u32, c: Callee) {
    // A builtin found through the realm's objects, or a function of the realm's (`Math.imul`) that is a
    // data property of the receiver itself, one of the realm's objects.
    let cacheable = match (c, recv) {
        (Callee::Native(_), _) => true,
        (Callee::Obj(f), Value::Obj(o)) => {
            cx.heap.is_realm(f)
                && cx.heap.is_realm(*o)
                && matches!(cx.heap.get(*o).props.get(key), Some(Prop::Data { .. }))
        }
        _ => false,
    };
    if cacheable {
        let cached = match recv {
            Value::Str(_) => Some((IC_STRING, cx.realm.string_proto)),
            Value::Num(_) => Some((IC_NUMBER, cx.realm.number_proto)),
            Value::Bool(_) => Some((IC_BOOLEAN, cx.realm.boolean_proto)),
            Value::Obj(o) if cx.heap.is_realm(*o) => Some((IC_SELF, *o)),
            Value::Obj(_) if matches!(c, Callee::Obj(_)) => None,
            Value::Obj(o) => {
                let ob = cx.heap.get(*o);
                match ob.proto {
                    Some(p) if cx.heap.is_realm(p) && resolves_past(ob, key) => Some((IC_PROTO, p)),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((class, obj)) = cached {
            let i = slot as usize;
            if i < 1 << 16 {
                if cx.ics.len() <= i {
                    cx.ics.resize(i + 1, MethodIc::default());
                }
                cx.ics[i] = MethodIc {
                    key: key.as_ptr() as usize,
                    class,
                    obj,
                    epoch: cx.heap.realm_epoch(),
                    callee: Some(c),
                };
            }
        }
    }
}

/// Resolves a method and fails like JavaScript when there is none.
pub fn method(cx: &mut Cx, recv: &Value, key: &[u16]) -> JsResult<Callee> {
    match resolve_method(cx, recv, key)? {
        Some(c) => Ok(c),
        None => engine_error("is not a function"),
    }
}

pub fn invoke(cx: &mut Cx, c: &Callee, this: Value, args: &[Value]) -> JsResult<Value> {
    match c {
        Callee::Native(d) => {
            cx.tick()?;
            (d.f)(cx, &this, args)
        }
        Callee::Obj(o) => call_obj(cx, *o, this, args, false),
    }
}

/// `invoke` where the site's callee guard has just admitted only compiled function `body` (the trace saw
/// one callee there): a plain function's code is called directly, which the Rust compiler may inline;
/// anything else (an async function, a class) goes through `invoke`.
#[inline]
pub fn invoke_user(
    cx: &mut Cx,
    c: &Callee,
    body: crate::cx::Code,
    this: Value,
    args: &[Value],
    awaited: bool,
) -> JsResult<Value> {
    if let Callee::Obj(o) = c {
        if let ObjKind::Function(f) = cx.heap.kind(*o) {
            if f.flags & (fflags::CLASS | fflags::ASYNC) == 0 {
                return call_plain(cx, *o, body, this, args);
            }
        }
    }
    if awaited {
        call_awaited(cx, c, this, args)
    } else {
        invoke(cx, c, this, args)
    }
}

/// `f(args)` at a site where the trace saw one callee, compiled function `code` (whose code is `body`):
/// `callee_of`, `guard_callee` and `invoke_user` in one look at the callee when it is that function and a
/// plain one; anything else goes through the three in turn, failing as they do.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn call_user(
    cx: &mut Cx,
    fv: &Value,
    code: u32,
    body: crate::cx::Code,
    this: Value,
    args: &[Value],
    awaited: bool,
    site: u32,
) -> JsResult<Value> {
    if let Some(o) = plain_user(cx, fv, code) {
        return call_plain(cx, o, body, this, args);
    }
    call_user_slow(cx, fv, code, body, this, args, awaited, site)
}

/// The function object `fv` is, when it is compiled function `code` and a plain one (neither a class nor
/// async). Generated code that has it calls the function's Rust code itself, between `enter` and
/// `leave`, by name rather than through a function pointer; otherwise the call goes through `call_user`.
#[inline(always)]
pub fn plain_user(cx: &Cx, fv: &Value, code: u32) -> Option<ObjRef> {
    if let Value::Obj(o) = fv {
        if let ObjKind::Function(f) = cx.heap.kind(*o) {
            if f.code == code && f.flags & (fflags::CLASS | fflags::ASYNC) == 0 {
                return Some(*o);
            }
        }
    }
    None
}

/// A plain function's object and code (a function the compiler compiled, neither a class nor async), for a
/// builtin that calls it many times (a sort's comparator): `call_plain` then calls it as `call` would.
pub fn plain_code(cx: &Cx, fv: &Value) -> Option<(ObjRef, crate::cx::Code)> {
    if let Value::Obj(o) = fv {
        if let ObjKind::Function(f) = cx.heap.kind(*o) {
            if f.flags & (fflags::CLASS | fflags::ASYNC) == 0 && f.code != NOT_COMPILED {
                return Some((*o, code_at(cx, f.code)));
            }
        }
    }
    None
}

/// The end of a call `enter` let in (see `plain_user`).
#[inline(always)]
pub fn leave(cx: &mut Cx) {
    cx.depth -= 1;
}

/// Runs the code of plain function `o` (neither a class nor async): a call one level deeper. Builtins that
/// call a function many times (a sort's comparator) call it so, with its code from `plain_code`.
#[inline(always)]
pub fn call_plain(
    cx: &mut Cx,
    o: ObjRef,
    body: crate::cx::Code,
    this: Value,
    args: &[Value],
) -> JsResult<Value> {
    enter(cx)?;
    run_entered(cx, o, body, this, args)
}

/// Runs the code of function `o` once `enter` has let the call in, and leaves its level.
#[inline(always)]
fn run_entered(
    cx: &mut Cx,
    o: ObjRef,
    body: crate::cx::Code,
    this: Value,
    args: &[Value],
) -> JsResult<Value> {
    let r = body(
        cx,
        &Call {
            callee: o,
            this,
            args,
            new_target: None,
        },
    );
    leave(cx);
    r
}

#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn call_user_slow(
    cx: &mut Cx,
    fv: &Value,
    code: u32,
    body: crate::cx::Code,
    this: Value,
    args: &[Value],
    awaited: bool,
    site: u32,
) -> JsResult<Value> {
    let f = callee_of(cx, fv)?;
    guard_callee(cx, &f, &[CalleeId::User(code)], site)?;
    invoke_user(cx, &f, body, this, args, awaited)
}

/// [[Call]].
pub fn call(cx: &mut Cx, f: &Value, this: Value, args: &[Value]) -> JsResult<Value> {
    match f {
        Value::Obj(o) => call_obj(cx, *o, this, args, false),
        _ => engine_error("is not a function"),
    }
}

/// A call whose promise the caller awaits at once (`await f(x)`): an async callee may write older state.
pub fn call_awaited(cx: &mut Cx, c: &Callee, this: Value, args: &[Value]) -> JsResult<Value> {
    match c {
        Callee::Obj(o) => call_obj(cx, *o, this, args, true),
        Callee::Native(_) => invoke(cx, c, this, args),
    }
}

/// The code of function `code`. `NOT_COMPILED` (and any index past the table) is a function the compiler
/// kept out (a generator, say): it exists as a value, and calling it gives up.
#[inline]
fn code_at(cx: &Cx, code: u32) -> crate::cx::Code {
    cx.prog
        .funcs
        .get(code as usize)
        .copied()
        .unwrap_or(not_compiled)
}

/// The code index of a function that is not compiled.
pub const NOT_COMPILED: u32 = u32::MAX;

fn not_compiled(_cx: &mut Cx, _call: &Call) -> JsResult<Value> {
    unsupported("a call of a function that is not compiled")
}

fn call_obj(cx: &mut Cx, o: ObjRef, this: Value, args: &[Value], awaited: bool) -> JsResult<Value> {
    match cx.heap.kind(o) {
        ObjKind::Function(f) => {
            if f.flags & fflags::CLASS != 0 {
                return engine_error("Class constructor cannot be invoked without 'new'");
            }
            let code = code_at(cx, f.code);
            let is_async = f.flags & fflags::ASYNC != 0;
            enter(cx)?;
            if is_async && !awaited {
                // Node runs a detached async function up to its first await, then the caller; we run it
                // to the end. The two agree unless it writes state older than itself, which we refuse, or
                // reads, after its first await, state that the caller writes before awaiting its promise
                // (the heap watches what it read: see `heap::Later`).
                let old = cx.heap.raise_floor();
                cx.heap.begin_detached();
                let r = run_entered(cx, o, code, this, args);
                cx.heap.restore_floor(old);
                let r = settle(cx, r);
                let promise = r.as_ref().ok().and_then(|v| v.as_obj());
                cx.heap.end_later(promise, Some(o))?;
                return r;
            }
            let r = run_entered(cx, o, code, this, args);
            if is_async {
                settle(cx, r)
            } else {
                r
            }
        }
        ObjKind::Native(d) => {
            let d = *d;
            cx.tick()?;
            (d.f)(cx, &this, args)
        }
        ObjKind::Bound(b) => {
            let target = b.target.clone();
            let bthis = b.this.clone();
            let mut all = b.args.clone();
            all.extend_from_slice(args);
            call(cx, &target, bthis, &all)
        }
        _ => engine_error("is not a function"),
    }
}

/// A call one level deeper: its fuel, and the depth limit.
#[inline(always)]
pub fn enter(cx: &mut Cx) -> JsResult<()> {
    cx.tick()?;
    if cx.depth >= MAX_DEPTH {
        return too_deep();
    }
    cx.depth += 1;
    Ok(())
}

#[cold]
#[inline(never)]
fn too_deep() -> JsResult<()> {
    abort(
        AbortKind::Unsupported,
        0,
        "call depth beyond the runtime's limit",
    )
}

/// Wraps an async function's completion in a promise: a value fulfils it, a throw rejects it.
pub fn settle(cx: &mut Cx, r: JsResult<Value>) -> JsResult<Value> {
    crate::builtins::promise::from_completion(cx, r)
}

/// `await v`: promises settle (blocking on I/O), other values pass through.
pub fn await_value(cx: &mut Cx, v: Value) -> JsResult<Value> {
    crate::builtins::promise::await_value(cx, v)
}

/// [[Construct]] (`new F(...args)`).
pub fn construct(cx: &mut Cx, f: &Value, args: &[Value]) -> JsResult<Value> {
    let o = match f {
        Value::Obj(o) => *o,
        _ => return engine_error("is not a constructor"),
    };
    match cx.heap.kind(o) {
        ObjKind::Function(func) => {
            if func.flags & (fflags::ARROW | fflags::METHOD | fflags::ASYNC) != 0 {
                return engine_error("is not a constructor");
            }
            if func.flags & fflags::CLASS == 0 {
                return unsupported("new on a plain function");
            }
            let proto = match props::get(cx, f, &props::key("prototype"))? {
                Value::Obj(p) => Some(p),
                _ => Some(cx.realm.object_proto),
            };
            let this = cx.heap.alloc(Obj::new(ObjKind::Ordinary, proto))?;
            construct_with(cx, o, Value::Obj(this), args, o)
        }
        ObjKind::Native(d) => match d.ctor {
            Some(ctor) => {
                cx.tick()?;
                ctor(cx, None, args)
            }
            None => engine_error("is not a constructor"),
        },
        _ => engine_error("is not a constructor"),
    }
}

/// Runs constructor `ctor` on an existing `this` (for `new`, and for `super(...)` in derived classes).
pub fn construct_with(
    cx: &mut Cx,
    ctor: ObjRef,
    this: Value,
    args: &[Value],
    new_target: ObjRef,
) -> JsResult<Value> {
    match cx.heap.kind(ctor) {
        ObjKind::Function(func) => {
            let code = code_at(cx, func.code);
            enter(cx)?;
            let r = code(
                cx,
                &Call {
                    callee: ctor,
                    this: this.clone(),
                    args,
                    new_target: Some(new_target),
                },
            );
            cx.depth -= 1;
            let r = r?;
            Ok(if matches!(r, Value::Obj(_)) { r } else { this })
        }
        ObjKind::Native(d) => match d.ctor {
            Some(c) => {
                let t = this.as_obj();
                c(cx, t, args)?;
                Ok(this)
            }
            None => engine_error("is not a constructor"),
        },
        _ => engine_error("Super constructor is not a constructor"),
    }
}

/// `super(...args)` inside the constructor described by `call`.
pub fn super_call(cx: &mut Cx, call: &Call, args: &[Value]) -> JsResult<Value> {
    let parent = match cx.heap.kind(call.callee) {
        ObjKind::Function(f) => f.parent().cloned(),
        _ => None,
    };
    let parent = match parent {
        Some(Value::Obj(p)) => p,
        _ => return engine_error("'super' keyword unexpected here"),
    };
    let nt = call.new_target.unwrap_or(call.callee);
    construct_with(cx, parent, call.this.clone(), args, nt)?;
    // Field initialisers of the derived class run right after super() returns.
    run_fields(cx, call.callee, &call.this)?;
    Ok(Value::Undefined)
}

/// Runs the instance-field initialiser of class `ctor` on `this`, if it has one.
pub fn run_fields(cx: &mut Cx, ctor: ObjRef, this: &Value) -> JsResult<()> {
    let fields = match cx.heap.kind(ctor) {
        ObjKind::Function(f) => f.fields(),
        _ => None,
    };
    if let Some(code) = fields {
        let f = code_at(cx, code);
        f(
            cx,
            &Call {
                callee: ctor,
                this: this.clone(),
                args: &[],
                new_target: None,
            },
        )?;
    }
    Ok(())
}

/// `super.m(...)` / `super.x`: looks `key` up on the prototype of the method's home object.
pub fn super_get(cx: &mut Cx, call: &Call, key: &[u16]) -> JsResult<Value> {
    let home = match cx.heap.kind(call.callee) {
        ObjKind::Function(f) => f.home(),
        _ => None,
    };
    let start = home.and_then(|h| cx.heap.get(h).proto);
    match start {
        Some(p) => {
            if let Some(d) = cx.realm.proto_method(p, key) {
                let _ = d;
                return unsupported("super reference to a builtin method");
            }
            props::get(cx, &Value::Obj(p), key)
        }
        None => Ok(Value::Undefined),
    }
}

/// A function's `length` as its object holds it: one of more than 65535 parameters gives up (see `Func`).
fn func_length(n: u32) -> JsResult<u16> {
    u16::try_from(n).or_else(|_| {
        crate::cx::abort(
            crate::cx::AbortKind::Unsupported,
            0,
            "a function of more than 65535 parameters",
        )
    })
}

/// Makes a closure over environment `env`.
pub fn make_function(
    cx: &mut Cx,
    code: u32,
    env: Option<ObjRef>,
    name: &str,
    length: u32,
    flags: u8,
) -> JsResult<Value> {
    let length = func_length(length)?;
    let func = Func {
        code,
        env,
        name: JsStr::from(name),
        length,
        flags,
        extra: None,
    };
    let proto = cx.realm.function_proto;
    Ok(Value::Obj(
        cx.heap
            .alloc(Obj::new(ObjKind::Function(func), Some(proto)))?,
    ))
}

/// The environment a compiled function was closed over.
#[inline]
pub fn env_of(cx: &Cx, callee: ObjRef) -> Option<ObjRef> {
    match cx.heap.kind(callee) {
        ObjKind::Function(f) => f.env,
        _ => None,
    }
}

/// One member of a class body, for `make_class`.
pub enum Member {
    Method {
        key: JsStr,
        code: u32,
        is_static: bool,
        kind: MethodKind,
        length: u32,
        is_async: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    Method,
    Get,
    Set,
}

/// Creates a class: the constructor function (code `ctor`), its prototype object, and methods.
// One argument per part of the class, as generated code passes them (compiler/codegen): a struct would
// only move the same list into every generated call.
#[allow(clippy::too_many_arguments)]
pub fn make_class(
    cx: &mut Cx,
    name: &str,
    ctor: u32,
    ctor_length: u32,
    fields: Option<u32>,
    parent: Option<Value>,
    env: Option<ObjRef>,
    members: &[Member],
) -> JsResult<Value> {
    let (proto_parent, ctor_parent) = match &parent {
        None => (cx.realm.object_proto, cx.realm.function_proto),
        Some(Value::Null) => return unsupported("class extends null"),
        Some(p @ Value::Obj(po)) => {
            let pp = match props::get(cx, p, &props::key("prototype"))? {
                Value::Obj(pp) => pp,
                _ => {
                    return engine_error(
                        "Class extends value does not have valid prototype property",
                    )
                }
            };
            (pp, *po)
        }
        Some(_) => return engine_error("Class extends value is not a constructor or null"),
    };
    let proto = cx
        .heap
        .alloc(Obj::new(ObjKind::Ordinary, Some(proto_parent)))?;
    let mut flags = fflags::CLASS;
    if parent.is_some() {
        flags |= fflags::DERIVED;
    }
    let length = func_length(ctor_length)?;
    let func = Func {
        code: ctor,
        env,
        name: JsStr::from(name),
        length,
        flags,
        extra: Some(Box::new(crate::heap::FuncExtra {
            home: Some(proto),
            parent,
            fields,
        })),
    };
    let c = cx
        .heap
        .alloc(Obj::new(ObjKind::Function(func), Some(ctor_parent)))?;
    props::define_prop(
        cx,
        c,
        JsStr::from("prototype"),
        Prop::Data {
            value: Value::Obj(proto),
            enumerable: false,
            writable: false,
        },
    )?;
    props::define_prop(
        cx,
        proto,
        JsStr::from("constructor"),
        Prop::hidden(Value::Obj(c)),
    )?;
    for m in members {
        let Member::Method {
            key,
            code,
            is_static,
            kind,
            length,
            is_async,
        } = m;
        let target = if *is_static { c } else { proto };
        let fname = match kind {
            MethodKind::Method => key.to_rust_string(),
            MethodKind::Get => format!("get {}", key),
            MethodKind::Set => format!("set {}", key),
        };
        let f = make_function(
            cx,
            *code,
            env,
            &fname,
            *length,
            fflags::METHOD | if *is_async { fflags::ASYNC } else { 0 },
        )?;
        if let (Value::Obj(fo), ObjKind::Function(_)) = (&f, cx.heap.kind(f.as_obj().unwrap())) {
            let fo = *fo;
            if let ObjKind::Function(func) = &mut cx.heap.get_mut(fo)?.kind {
                func.set_home(target);
            }
        }
        let prop = match kind {
            MethodKind::Method => Prop::hidden(f),
            MethodKind::Get => Prop::Accessor {
                get: f.as_obj(),
                set: None,
                enumerable: false,
            },
            MethodKind::Set => Prop::Accessor {
                get: None,
                set: f.as_obj(),
                enumerable: false,
            },
        };
        props::define_prop(cx, target, key.clone(), prop)?;
    }
    Ok(Value::Obj(c))
}

/// Sets the home object of an object-literal method, for `super` inside it.
pub fn set_home(cx: &mut Cx, f: &Value, home: ObjRef) -> JsResult<()> {
    if let Some(fo) = f.as_obj() {
        if let ObjKind::Function(func) = &mut cx.heap.get_mut(fo)?.kind {
            func.set_home(home);
        }
    }
    Ok(())
}
