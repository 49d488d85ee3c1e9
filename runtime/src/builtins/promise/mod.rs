//! Promises (ECMA-262 §27.2) in the runtime's blocking model.
//!
//! Compiled code is synchronous: `await v` calls `await_value`, which settles `v` there and then. A
//! promise's state (`PromiseState`, its slots) is either settled, an I/O operation of the host (`Pending`),
//! or a combination evaluated when awaited (`All` for `Promise.all`, `Then` for `p.then(f, r)`). Once
//! evaluated, the promise's state becomes the outcome, so awaiting it again neither repeats I/O nor
//! runs callbacks twice.
//!
//! Callbacks given to `then`, `catch` and `finally` run when their promise is awaited, not in Node's
//! microtask: they see the program's state as it is at the `await`. While one runs, objects older than
//! the promise `then` made are read-only (a write gives up), so a callback cannot leave an effect whose
//! timing would differ from Node's. A callback whose promise is never awaited never runs.
//!
//! What gives up: an executor that returns without settling its promise (it would be settled later, by
//! a timer or an event), thenables that are not promises, subclasses of Promise, `Promise.race` and
//! `Promise.any` (their answer depends on timing), `Promise.all` when more than one element rejects
//! (Node rejects with the first rejection in time, which the blocking model does not know).

use crate::builtins::{arg, BuiltinDef};
use crate::call;
use crate::call::is_callable;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Ctl, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Prop, Slots};
use crate::props;
use crate::realm::Installer;
use crate::value::tag;
use crate::value::{JsStr, ObjRef, Value};

crate::builtin!(PROMISE, "Promise", 1, promise_call, ctor = promise_ctor);
crate::builtin!(RESOLVE, "Promise.resolve", 1, promise_resolve);
crate::builtin!(REJECT, "Promise.reject", 1, promise_reject);
crate::builtin!(ALL, "Promise.all", 1, promise_all);
crate::builtin!(ALL_SETTLED, "Promise.allSettled", 1, promise_all_settled);
crate::builtin!(RACE, "Promise.race", 1, |_, _, _| unsupported(
    "Promise.race (its answer depends on timing)"
));
crate::builtin!(ANY, "Promise.any", 1, |_, _, _| unsupported(
    "Promise.any (its answer depends on timing)"
));
crate::builtin!(THEN, "Promise.prototype.then", 2, promise_then);
crate::builtin!(CATCH, "Promise.prototype.catch", 1, promise_catch);
crate::builtin!(FINALLY, "Promise.prototype.finally", 1, promise_finally);

/// Installs promise's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let promise_proto = r.prototype("Promise", r.realm.object_proto)?;
    let promise = r.constructor("Promise", &PROMISE, promise_proto)?;
    r.statics(
        promise,
        &[
            ("resolve", &RESOLVE),
            ("reject", &REJECT),
            ("all", &ALL),
            ("allSettled", &ALL_SETTLED),
            ("race", &RACE),
            ("any", &ANY),
        ],
    )?;
    r.methods(
        promise_proto,
        &[("then", &THEN), ("catch", &CATCH), ("finally", &FINALLY)],
    )?;
    Ok(())
}

// Functions the runtime makes for promises; they are not globals, so they are not installed.
crate::builtin!(
    RESOLVE_FUNCTION,
    "Promise resolve function",
    1,
    resolve_function
);
crate::builtin!(
    REJECT_FUNCTION,
    "Promise reject function",
    1,
    reject_function
);
crate::builtin!(
    SETTLED_FULFILLED,
    "Promise.allSettled resolve element function",
    1,
    settled_fulfilled
);
crate::builtin!(
    SETTLED_REJECTED,
    "Promise.allSettled reject element function",
    1,
    settled_rejected
);
crate::builtin!(
    THEN_FINALLY,
    "Promise thenFinally function",
    1,
    then_finally
);
crate::builtin!(
    CATCH_FINALLY,
    "Promise catchFinally function",
    1,
    catch_finally
);

/// The handle of a promise made by `new Promise` whose executor has not settled it yet.
pub const UNSETTLED: u32 = u32::MAX;

/// Nesting of promises awaited inside one another beyond this gives up (as deep calls do).
const MAX_DEPTH: u32 = 800;

/// A promise's slots ([[PromiseState]] and what settles it).
#[derive(Clone, Debug)]
pub enum PromiseState {
    Fulfilled(Value),
    Rejected(Value),
    /// An I/O operation in flight; the index is the host's handle for it.
    Pending(u32),
    /// `Promise.all` over these promises, resolved when awaited.
    All(Vec<Value>),
    /// `p.then(onFulfilled, onRejected)`, run when awaited.
    Then(Value, Value, Value),
}

impl Slots for PromiseState {
    fn type_tag(&self) -> u16 {
        tag::PROMISE
    }
    /// A settled promise keeps its value; one whose settling is still to run (I/O in flight, `Promise.all`,
    /// a `.then`) runs it when awaited, in the request that made it, so it cannot outlive that request.
    fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        match self {
            PromiseState::Fulfilled(v) | PromiseState::Rejected(v) => {
                f(v);
                Ok(())
            }
            PromiseState::Pending(_) => Err("a pending promise"),
            PromiseState::All(_) => Err("a Promise.all promise not yet awaited"),
            PromiseState::Then(..) => Err("a .then promise not yet awaited"),
        }
    }
}

/// A new promise in state `state`.
pub fn new_promise(cx: &mut Cx, state: PromiseState) -> JsResult<Value> {
    if matches!(state, PromiseState::Then(..)) {
        cx.heap.unsettled_thens += 1;
    }
    let p = promise_proto(cx);
    Ok(Value::Obj(
        cx.heap.alloc(Obj::new(ObjKind::builtin(state), Some(p)))?,
    ))
}

/// The promise an async function returns for its completion: a value fulfils it, a throw rejects it.
pub fn from_completion(cx: &mut Cx, r: JsResult<Value>) -> JsResult<Value> {
    let state = match r {
        Ok(v) => PromiseState::Fulfilled(v),
        Err(Ctl::Throw(e)) => PromiseState::Rejected(e),
        Err(e) => return Err(e),
    };
    new_promise(cx, state)
}

/// Whether `v` is a promise.
pub fn is_promise(cx: &Cx, v: &Value) -> bool {
    matches!(v, Value::Obj(o) if cx.heap.kind(*o).is::<PromiseState>())
}

fn promise_state(cx: &Cx, v: &Value) -> Option<(ObjRef, PromiseState)> {
    match v {
        Value::Obj(o) => cx
            .heap
            .kind(*o)
            .slots::<PromiseState>()
            .map(|s| (*o, s.clone())),
        _ => None,
    }
}

fn set_state(cx: &mut Cx, p: ObjRef, state: PromiseState) -> JsResult<()> {
    let was_then = matches!(
        cx.heap.kind(p).slots::<PromiseState>(),
        Some(PromiseState::Then(..))
    );
    if was_then && !matches!(state, PromiseState::Then(..)) {
        cx.heap.unsettled_thens = cx.heap.unsettled_thens.saturating_sub(1);
    }
    let kind = &mut cx.heap.get_mut(p)?.kind;
    match kind.slots_mut::<PromiseState>() {
        Some(s) => *s = state,
        None => *kind = ObjKind::builtin(state),
    }
    Ok(())
}

/// Gives up on a thenable: an object, not a promise, with a callable `then`, which JavaScript would call
/// to resolve a promise with it. Looks `then` up without running getters: a `then` getter gives up.
fn refuse_thenable(cx: &mut Cx, v: &Value) -> JsResult<()> {
    let Value::Obj(o) = v else { return Ok(()) };
    if cx.heap.kind(*o).is::<PromiseState>() {
        return Ok(());
    }
    let key = props::key("then");
    let mut cur = Some(*o);
    while let Some(c) = cur {
        if let Some(h) = props::hooks_of(cx, c).filter(|h| h.fields) {
            if let Some(then) = (h.get)(cx, c, &Value::Obj(c), &key)? {
                return if is_callable(cx, &then) {
                    unsupported("a host object with a then method")
                } else {
                    Ok(())
                };
            }
        }
        let obj = cx.heap.get(c);
        match obj.props.get(&key[..]) {
            Some(Prop::Data { value, .. }) => {
                return if is_callable(cx, value) {
                    unsupported("a thenable that is not a promise")
                } else {
                    Ok(())
                };
            }
            Some(Prop::Accessor { .. }) => {
                return unsupported("an object with a `then` getter, awaited or resolved")
            }
            None => {}
        }
        if cx.realm.proto_method(c, &key).is_some() {
            return unsupported(
                "an object inheriting Promise.prototype.then that is not a promise",
            );
        }
        cur = cx.heap.get(c).proto;
    }
    Ok(())
}

/// A function value for runtime-made builtin `def`, bound to `this` (`data`).
fn bound_native(cx: &mut Cx, def: &'static BuiltinDef, data: Value) -> JsResult<Value> {
    let fp = cx.realm.function_proto;
    let target = cx.heap.alloc(Obj::new(ObjKind::Native(def), Some(fp)))?;
    let b = ObjKind::Bound(Box::new(crate::heap::BoundFn {
        target: Value::Obj(target),
        this: data,
        args: Vec::new(),
    }));
    Ok(Value::Obj(cx.heap.alloc(Obj::new(b, Some(fp)))?))
}

// ---------------------------------------------------------------------------------------------------
// await

/// `await v` (ECMA-262 §27.7.5.3): a promise settles (blocking on the host for I/O); a fulfilled value
/// is the result, a rejection is thrown; any other value is the result as it is.
pub fn await_value(cx: &mut Cx, v: Value) -> JsResult<Value> {
    // Every `await` suspends in Node, so a detached async call goes on only after its caller has.
    cx.heap.on_await();
    if let Value::Obj(p) = &v {
        cx.heap.unwatch(*p);
    }
    match promise_state(cx, &v) {
        None => {
            refuse_thenable(cx, &v)?;
            Ok(v)
        }
        Some((p, state)) => {
            cx.tick()?;
            if cx.depth >= MAX_DEPTH {
                return unsupported("promises nested beyond the runtime's limit");
            }
            cx.depth += 1;
            let r = settle(cx, p, state);
            cx.depth -= 1;
            r
        }
    }
}

/// The outcome of promise `p` in state `state`, which becomes its state.
fn settle(cx: &mut Cx, p: ObjRef, state: PromiseState) -> JsResult<Value> {
    match state {
        PromiseState::Fulfilled(v) => await_value(cx, v),
        PromiseState::Rejected(e) => Err(Ctl::Throw(e)),
        PromiseState::Pending(UNSETTLED) => unsupported("await of a promise that nothing settles"),
        PromiseState::Pending(handle) => {
            let resp = match cx.io.as_mut() {
                Some(io) => io.wait_fetch(handle)?,
                None => return unsupported("await of I/O without a host"),
            };
            let r = crate::builtins::fetch::response_object(cx, resp)?;
            set_state(cx, p, PromiseState::Fulfilled(r.clone()))?;
            Ok(r)
        }
        PromiseState::All(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut rejected: Option<Value> = None;
            for item in items {
                match await_value(cx, item) {
                    Ok(v) => values.push(v),
                    Err(Ctl::Throw(e)) => {
                        if rejected.is_some() {
                            return unsupported("Promise.all with more than one rejection (Node takes the first in time)");
                        }
                        rejected = Some(e);
                        values.push(Value::Undefined);
                    }
                    Err(a) => return Err(a),
                }
            }
            if let Some(e) = rejected {
                set_state(cx, p, PromiseState::Rejected(e.clone()))?;
                return Err(Ctl::Throw(e));
            }
            let arr = cx.new_array(values)?;
            set_state(cx, p, PromiseState::Fulfilled(arr.clone()))?;
            Ok(arr)
        }
        PromiseState::Then(source, on_fulfilled, on_rejected) => {
            // What the caller made after `.then` is as old as state for the callback: Node may run it before
            // the caller goes on, so the callback writing it would be seen at another time. What settling the
            // source makes (a fetch's response) is the callback's own.
            let caller_made = cx.heap.len() as u32;
            let (callback, argument, fulfilled) = match await_value(cx, source) {
                Ok(v) => (on_fulfilled, v, true),
                Err(Ctl::Throw(e)) => (on_rejected, e, false),
                Err(a) => return Err(a),
            };
            let outcome = if is_callable(cx, &callback) {
                // Objects older than this promise are read-only while the callback runs.
                let old = cx.heap.raise_floor();
                cx.heap.restore_floor(old.max(p.0 + 1).max(caller_made));
                // Node ran it as soon as the source settled, maybe before writes this request has made since.
                cx.heap.begin_then_callback(p);
                let r = call::call(cx, &callback, Value::Undefined, &[argument]);
                cx.heap.restore_floor(old);
                cx.heap.end_later(None, callback.as_obj())?;
                match r {
                    Ok(v) => await_value(cx, v),
                    Err(e) => Err(e),
                }
            } else if fulfilled {
                Ok(argument)
            } else {
                Err(Ctl::Throw(argument))
            };
            match outcome {
                Ok(v) => {
                    set_state(cx, p, PromiseState::Fulfilled(v.clone()))?;
                    Ok(v)
                }
                Err(Ctl::Throw(e)) => {
                    set_state(cx, p, PromiseState::Rejected(e.clone()))?;
                    Err(Ctl::Throw(e))
                }
                Err(a) => Err(a),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The constructor and its resolving functions

fn promise_call(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    engine_error("TypeError: Promise constructor cannot be invoked without 'new'")
}

/// `new Promise(executor)` (§27.2.3.1).
fn promise_ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
    if this.is_some() {
        return unsupported("a subclass of Promise");
    }
    let executor = arg(args, 0);
    if !is_callable(cx, &executor) {
        return engine_error("TypeError: Promise resolver is not a function");
    }
    let p = new_promise(cx, PromiseState::Pending(UNSETTLED))?;
    let resolve = bound_native(cx, &RESOLVE_FUNCTION, p.clone())?;
    let reject = bound_native(cx, &REJECT_FUNCTION, p.clone())?;
    let po = p.as_obj().expect("promise");
    match call::call(cx, &executor, Value::Undefined, &[resolve, reject]) {
        Ok(_) => {}
        Err(Ctl::Throw(e)) => {
            if is_unsettled(cx, po) {
                set_state(cx, po, PromiseState::Rejected(e))?;
            }
        }
        Err(a) => return Err(a),
    }
    if is_unsettled(cx, po) {
        return unsupported("a Promise executor that returned without settling its promise");
    }
    Ok(p)
}

fn is_unsettled(cx: &Cx, p: ObjRef) -> bool {
    matches!(
        cx.heap.kind(p).slots::<PromiseState>(),
        Some(PromiseState::Pending(UNSETTLED))
    )
}

/// The state a promise takes when resolved with `v` (§27.2.1.3.2 Promise Resolve Functions).
fn resolution(cx: &mut Cx, p: Option<ObjRef>, v: Value) -> JsResult<PromiseState> {
    if let Some((q, _)) = promise_state(cx, &v) {
        if Some(q) == p {
            return engine_error("TypeError: Chaining cycle detected for promise");
        }
        if props::has_own(cx, q, &props::key("then"))
            || cx.heap.get(q).proto != Some(promise_proto(cx))
        {
            return unsupported("resolving with a promise whose then is not the builtin");
        }
        // Adopts q's state when awaited.
        return Ok(PromiseState::Then(v, Value::Undefined, Value::Undefined));
    }
    refuse_thenable(cx, &v)?;
    Ok(PromiseState::Fulfilled(v))
}

fn resolve_function(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let p = this.as_obj().expect("bound to its promise");
    if is_unsettled(cx, p) {
        let s = resolution(cx, Some(p), arg(args, 0))?;
        set_state(cx, p, s)?;
    }
    Ok(Value::Undefined)
}

fn reject_function(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let p = this.as_obj().expect("bound to its promise");
    if is_unsettled(cx, p) {
        set_state(cx, p, PromiseState::Rejected(arg(args, 0)))?;
    }
    Ok(Value::Undefined)
}

// ---------------------------------------------------------------------------------------------------
// Static functions

/// Static functions must be called on `Promise` itself (`this` is the constructor they use).
fn require_promise_ctor(cx: &Cx, this: &Value) -> JsResult<()> {
    match (this, cx.realm.global("Promise")) {
        (Value::Obj(t), Some(Value::Obj(p))) if *t == p => Ok(()),
        _ => unsupported("a Promise static function called on another constructor"),
    }
}

/// `Promise.resolve(v)` (§27.2.4.7).
fn promise_resolve(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    require_promise_ctor(cx, this)?;
    let v = arg(args, 0);
    if let Some((q, _)) = promise_state(cx, &v) {
        // PromiseResolve: a promise whose constructor is Promise is returned as it is.
        let ctor = props::get(cx, &v, &props::key("constructor"))?;
        if let (Value::Obj(c), Value::Obj(t)) = (&ctor, this) {
            if c == t && cx.heap.get(q).proto == Some(promise_proto(cx)) {
                return Ok(v);
            }
        }
        return unsupported("Promise.resolve of a promise with another constructor");
    }
    let s = resolution(cx, None, v)?;
    new_promise(cx, s)
}

/// `Promise.reject(e)` (§27.2.4.6).
fn promise_reject(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    require_promise_ctor(cx, this)?;
    new_promise(cx, PromiseState::Rejected(arg(args, 0)))
}

/// The elements of the iterable given to `Promise.all` and friends, each as `Promise.resolve` would
/// make it (non-promise values stay values: they count as fulfilled).
fn elements(cx: &mut Cx, this: &Value, iterable: &Value) -> JsResult<Vec<Value>> {
    require_promise_ctor(cx, this)?;
    // Node calls each element's `then`; a program that replaced the builtin one would see that.
    let pp = promise_proto(cx);
    if cx.heap.get(pp).props.contains_key(&props::key("then")[..]) {
        return unsupported("Promise.prototype.then replaced by the program");
    }
    let items = crate::rt::iterate(cx, iterable)?;
    for item in &items {
        if let Some((q, _)) = promise_state(cx, item) {
            if cx.heap.get(q).proto != Some(pp) || props::has_own(cx, q, &props::key("then")) {
                return unsupported("a promise whose then is not the builtin");
            }
        } else {
            refuse_thenable(cx, item)?;
        }
    }
    Ok(items)
}

/// `Promise.all(iterable)` (§27.2.4.1).
fn promise_all(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let items = elements(cx, this, &arg(args, 0))?;
    new_promise(cx, PromiseState::All(items))
}

/// `Promise.allSettled(iterable)` (§27.2.4.2): each element becomes a promise of its result object.
fn promise_all_settled(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let items = elements(cx, this, &arg(args, 0))?;
    let mut wrapped = Vec::with_capacity(items.len());
    for item in items {
        let source = if promise_state(cx, &item).is_some() {
            item
        } else {
            new_promise(cx, PromiseState::Fulfilled(item))?
        };
        let fp = cx.realm.function_proto;
        let f = Value::Obj(
            cx.heap
                .alloc(Obj::new(ObjKind::Native(&SETTLED_FULFILLED), Some(fp)))?,
        );
        let r = Value::Obj(
            cx.heap
                .alloc(Obj::new(ObjKind::Native(&SETTLED_REJECTED), Some(fp)))?,
        );
        wrapped.push(new_promise(cx, PromiseState::Then(source, f, r))?);
    }
    new_promise(cx, PromiseState::All(wrapped))
}

fn settled_result(cx: &mut Cx, status: &str, key: &str, v: Value) -> JsResult<Value> {
    let o = cx.new_object()?;
    let oo = o.as_obj().expect("object");
    props::define(cx, oo, JsStr::from("status"), Value::str(status))?;
    props::define(cx, oo, JsStr::from(key), v)?;
    Ok(o)
}

fn settled_fulfilled(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    settled_result(cx, "fulfilled", "value", arg(args, 0))
}

fn settled_rejected(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    settled_result(cx, "rejected", "reason", arg(args, 0))
}

// ---------------------------------------------------------------------------------------------------
// Promise.prototype

fn this_promise(cx: &Cx, this: &Value) -> JsResult<ObjRef> {
    match promise_state(cx, this) {
        Some((p, _)) => Ok(p),
        None => {
            engine_error("TypeError: Method Promise.prototype.then called on incompatible receiver")
        }
    }
}

fn then_promise(
    cx: &mut Cx,
    this: &Value,
    on_fulfilled: Value,
    on_rejected: Value,
) -> JsResult<Value> {
    let f = if is_callable(cx, &on_fulfilled) {
        on_fulfilled
    } else {
        Value::Undefined
    };
    let r = if is_callable(cx, &on_rejected) {
        on_rejected
    } else {
        Value::Undefined
    };
    new_promise(cx, PromiseState::Then(this.clone(), f, r))
}

/// `p.then(onFulfilled, onRejected)` (§27.2.5.4).
fn promise_then(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    this_promise(cx, this)?;
    then_promise(cx, this, arg(args, 0), arg(args, 1))
}

/// `catch` and `finally` call `this.then`; on a promise that does not have its own, that is the builtin.
fn builtin_then_receiver(cx: &Cx, this: &Value) -> JsResult<()> {
    match promise_state(cx, this) {
        Some((p, _))
            if !props::has_own(cx, p, &props::key("then"))
                && cx.heap.get(p).proto == Some(promise_proto(cx)) =>
        {
            if cx
                .heap
                .get(promise_proto(cx))
                .props
                .contains_key(&props::key("then")[..])
            {
                return unsupported("Promise.prototype.then replaced by the program");
            }
            Ok(())
        }
        Some(_) => unsupported("catch or finally on a promise with its own then"),
        None => {
            unsupported("Promise.prototype.catch or finally on something that is not a promise")
        }
    }
}

/// `p.catch(onRejected)` (§27.2.5.1).
fn promise_catch(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    builtin_then_receiver(cx, this)?;
    then_promise(cx, this, Value::Undefined, arg(args, 0))
}

/// `p.finally(onFinally)` (§27.2.5.3).
fn promise_finally(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    builtin_then_receiver(cx, this)?;
    let f = arg(args, 0);
    if !is_callable(cx, &f) {
        return then_promise(cx, this, Value::Undefined, Value::Undefined);
    }
    let then_f = bound_native(cx, &THEN_FINALLY, f.clone())?;
    let catch_f = bound_native(cx, &CATCH_FINALLY, f)?;
    new_promise(cx, PromiseState::Then(this.clone(), then_f, catch_f))
}

/// thenFinally: calls onFinally, waits for its result, then passes the value on.
fn then_finally(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let r = call::call(cx, this, Value::Undefined, &[])?;
    await_value(cx, r)?;
    Ok(arg(args, 0))
}

/// catchFinally: calls onFinally, waits for its result, then throws the reason again.
fn catch_finally(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let r = call::call(cx, this, Value::Undefined, &[])?;
    await_value(cx, r)?;
    Err(Ctl::Throw(arg(args, 0)))
}

/// The realm's Promise.prototype.
fn promise_proto(cx: &Cx) -> ObjRef {
    cx.realm
        .proto("Promise")
        .expect("Promise.prototype is installed")
}

#[cfg(test)]
mod tests;
