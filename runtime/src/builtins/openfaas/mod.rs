//! The handler's side of the OpenFaaS node template and of the original Containerless API.
//!
//! - `FunctionContext.prototype.{status,headers,succeed,fail}` mirror the template's `FunctionContext`
//!   class (openfaas/templates `template/node22/index.js` at 69ca16ae, lines 55-96; watchdog/runner.ts
//!   rules 5-11): the context is an ordinary object whose own fields are, in order, `statusCode` (200), `cb`,
//!   `headerValues` ({}), `cbCalled` (0), and the methods read and write those fields through `this`.
//! - `cb` is the template's callback (index.js:99-115): it turns the handler's outcome into Express's
//!   `res.set(...).status(...).send(...)` (dispatcher/express.rs) and records the answer in the host state.
//! - `containerless.{listen,respond,get,post,put,delete}` behave as the runner's shim
//!   (watchdog/containerless-api.ts): `require('containerless')` gives a frozen object with those six
//!   functions; `get`/`post`/... start a request through the host's `Io` and queue the callback, which
//!   `run_containerless` calls once the listener has returned, in the order the requests started.
//!
//! `run_openfaas` and `run_containerless` are the template's middleware and the runner's
//! `serveContainerless` for one request; the dispatcher calls them with the event it built.
//!
//! What gives up (the runner answers these with pages or errors we do not reproduce, or the case is rare):
//! a handler that throws synchronously (Express's error page), any exception inside the template's callback
//! (a status Express rejects, a header Node refuses...), a second answer for one request, a handler that
//! never answers, reading `constructor` of the event or the context, the shim's own errors (`listen`
//! twice, calls outside a request, bad arguments), `respond` with a function, a listener or I/O callback
//! that throws before the request was answered, and a rejected promise from one (Node would crash).

use crate::builtins::arg;
use crate::builtins::promise::PromiseState;
use crate::call;
use crate::call::is_callable;
use crate::cx::Abort;
use crate::cx::{unsupported, AbortKind, Ctl, Cx, JsResult};
use crate::dispatcher::express::{ReqFacts, Res, ResponseParts};
use crate::dispatcher::names::{js, utf16, Name};
use crate::heap::{Obj, ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};
use std::collections::VecDeque;

crate::builtin!(STATUS, "FunctionContext.prototype.status", 1, ctx_status);
crate::builtin!(HEADERS, "FunctionContext.prototype.headers", 1, ctx_headers);
crate::builtin!(SUCCEED, "FunctionContext.prototype.succeed", 1, ctx_succeed);
crate::builtin!(FAIL, "FunctionContext.prototype.fail", 1, ctx_fail);
crate::builtin!(LISTEN, "containerless.listen", 1, cl_listen);
crate::builtin!(RESPOND, "containerless.respond", 1, cl_respond);
crate::builtin!(GET, "containerless.get", 2, cl_get);
crate::builtin!(POST, "containerless.post", 2, cl_post);
crate::builtin!(PUT, "containerless.put", 2, cl_put);
crate::builtin!(DELETE, "containerless.delete", 2, cl_delete);

/// Installs the template's FunctionContext and FunctionEvent prototypes and the Containerless API
/// object. Reading `constructor` of an event or a context gives up: Node has the template's class there,
/// which is not modelled.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let function_context_proto = r.prototype("FunctionContext", r.realm.object_proto)?;
    let function_event_proto = r.prototype("FunctionEvent", r.realm.object_proto)?;
    let containerless = r.namespace("containerless")?;
    r.statics(
        containerless,
        &[
            ("listen", &LISTEN),
            ("respond", &RESPOND),
            ("get", &GET),
            ("post", &POST),
            ("put", &PUT),
            ("delete", &DELETE),
        ],
    )?;
    r.methods(
        function_context_proto,
        &[
            ("status", &STATUS),
            ("headers", &HEADERS),
            ("succeed", &SUCCEED),
            ("fail", &FAIL),
        ],
    )?;
    let getter = r.heap.alloc(Obj::new(
        ObjKind::Native(&CONSTRUCTOR_GETTER),
        Some(r.realm.function_proto),
    ))?;
    for proto in [function_context_proto, function_event_proto] {
        r.heap.get_mut(proto)?.props.insert(
            JsStr::from("constructor"),
            Prop::Accessor {
                get: Some(getter),
                set: None,
                enumerable: false,
            },
        );
    }
    Ok(())
}

/// The host state of the request being served.
fn served(cx: &mut Cx) -> &mut HostState {
    cx.host.get::<HostState>()
}

/// The module's host state.
fn module(cx: &mut Cx) -> &mut ModuleHost {
    cx.module_host.get::<ModuleHost>()
}

/// The callback the Containerless API's `listen` registered, if any.
pub fn listener(cx: &mut Cx) -> Option<Value> {
    module(cx).listener.clone()
}

// Functions the host makes; not globals, so not installed. The template's callback is the arrow function
// `cb` (name "cb", two parameters).
crate::builtin!(CALLBACK, "FunctionContext.cb", 2, template_cb);
crate::builtin!(CONSTRUCTOR_GETTER, "get constructor", 0, |_, _, _| {
    unsupported("the constructor of the template's FunctionEvent or FunctionContext")
});

/// Which kind of request is being served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The module's top-level code (or no request).
    #[default]
    None,
    Openfaas,
    Containerless,
}

/// Per-request host state (reset by `Cx::begin_request`).
#[derive(Debug, Default)]
pub struct HostState {
    pub mode: Mode,
    /// What `res.send` needs to know about the request.
    pub req: ReqFacts,
    /// The template's FunctionContext for this request.
    pub context: Option<Value>,
    /// The answer, once the template's callback or `containerless.respond` produced it.
    pub answer: Option<ResponseParts>,
    /// The Containerless API's I/O in flight: (the promise `fetch` returned, callback).
    pub queue: VecDeque<(Value, Value)>,
}

/// Host state that lives as long as the module (kept in `Cx::module_host`).
#[derive(Debug, Default)]
pub struct ModuleHost {
    /// What `require('containerless')` returned (the handler is then a Containerless-API handler).
    pub api: Option<Value>,
    /// The callback registered with `containerless.listen`.
    pub listener: Option<Value>,
    /// The realm's FunctionEvent.prototype and FunctionContext.prototype, once looked up.
    protos: Option<(ObjRef, ObjRef)>,
}

fn key(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// `recv.name(...args)`.
fn call_method(cx: &mut Cx, recv: &Value, name: &[u16], args: &[Value]) -> JsResult<Value> {
    let c = call::method(cx, recv, name)?;
    call::invoke(cx, &c, recv.clone(), args)
}

// ---------------------------------------------------------------------------------------------------
// The template's FunctionEvent and FunctionContext

/// `new FunctionEvent(req)` (index.js:45-53).
pub fn make_event(
    cx: &mut Cx,
    body: Value,
    headers: Value,
    method: Value,
    query: Value,
    path: Value,
) -> JsResult<Value> {
    let p = event_proto(cx);
    let o = object_with(cx, p, 5)?;
    for (k, v) in [
        (Name::Body, body),
        (Name::Headers, headers),
        (Name::Method, method),
        (Name::Query, query),
        (Name::Path, path),
    ] {
        props::define(cx, o, js(k), v)?;
    }
    Ok(Value::Obj(o))
}

/// A new ordinary object inheriting from `proto`, with room for `n` properties (its map does not grow
/// while they are defined).
fn object_with(cx: &mut Cx, proto: ObjRef, n: usize) -> JsResult<ObjRef> {
    let mut obj = Obj::new(ObjKind::Ordinary, Some(proto));
    obj.props.reserve(n);
    Ok(cx.heap.alloc(obj)?)
}

/// Whether `o` belongs to the request being served in a way module state cannot keep: the template's
/// callback answers the request it was made for (in Node, a later call answers nothing, since that
/// response was sent), where the runtime's would answer the request then served. See `Heap::commit`.
pub fn request_bound(o: &Obj) -> Option<&'static str> {
    match o.kind {
        ObjKind::Native(d) if std::ptr::eq(d, &CALLBACK) => {
            Some("the template's callback of a request (context.cb)")
        }
        _ => None,
    }
}

/// `new FunctionContext(cb)` (index.js:55-61).
pub fn make_context(cx: &mut Cx) -> JsResult<Value> {
    let p = context_proto(cx);
    let o = object_with(cx, p, 4)?;
    let fp = cx.realm.function_proto;
    let cb = cx
        .heap
        .alloc(Obj::new(ObjKind::Native(&CALLBACK), Some(fp)))?;
    let header_values = cx.new_object()?;
    props::define(cx, o, js(Name::StatusCode), Value::Num(200.0))?;
    props::define(cx, o, js(Name::Cb), Value::Obj(cb))?;
    props::define(cx, o, js(Name::HeaderValues), header_values)?;
    props::define(cx, o, js(Name::CbCalled), Value::Num(0.0))?;
    Ok(Value::Obj(o))
}

/// `status(statusCode) { if (!statusCode) return this.statusCode; this.statusCode = statusCode; return this }`
fn ctx_status(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let v = arg(args, 0);
    if !ops::to_boolean(&v) {
        return props::get(cx, this, utf16!("statusCode"));
    }
    props::set(cx, this, utf16!("statusCode"), v)?;
    Ok(this.clone())
}

/// `headers(value) { if (!value) return this.headerValues; this.headerValues = value; return this }`
fn ctx_headers(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let v = arg(args, 0);
    if !ops::to_boolean(&v) {
        return props::get(cx, this, utf16!("headerValues"));
    }
    props::set(cx, this, utf16!("headerValues"), v)?;
    Ok(this.clone())
}

/// `this.cbCalled++`
fn count_call(cx: &mut Cx, this: &Value) -> JsResult<()> {
    let old = props::get(cx, this, utf16!("cbCalled"))?;
    let n = ops::to_number(cx, &old)?;
    props::set(cx, this, utf16!("cbCalled"), Value::Num(n + 1.0))
}

/// `succeed(value) { let err; this.cbCalled++; this.cb(err, value) }`
fn ctx_succeed(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    count_call(cx, this)?;
    let cb = props::get(cx, this, utf16!("cb"))?;
    call::call(cx, &cb, this.clone(), &[Value::Undefined, arg(args, 0)])?;
    Ok(Value::Undefined)
}

/// `fail(value) { let message; if (this.status() == "200") this.status(500); this.cbCalled++; this.cb(value, message) }`
fn ctx_fail(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    let s = call_method(cx, this, utf16!("status"), &[])?;
    if ops::loose_equals(cx, &s, &Value::str("200"))? {
        call_method(cx, this, utf16!("status"), &[Value::Num(500.0)])?;
    }
    count_call(cx, this)?;
    let cb = props::get(cx, this, utf16!("cb"))?;
    call::call(cx, &cb, this.clone(), &[arg(args, 0), Value::Undefined])?;
    Ok(Value::Undefined)
}

/// The template's `cb(err, functionResult)` (index.js:99-115).
fn template_cb(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    if served(cx).mode != Mode::Openfaas {
        return unsupported("the template's callback outside its request");
    }
    if served(cx).answer.is_some() {
        return unsupported(
            "a second answer for one request (Express throws ERR_HTTP_HEADERS_SENT or ignores it)",
        );
    }
    let ctx = match served(cx).context.clone() {
        Some(c) => c,
        None => return unsupported("the template's callback without a context"),
    };
    match answer(cx, &ctx, &arg(args, 0), &arg(args, 1)) {
        Ok(parts) => {
            served(cx).answer = Some(parts);
            Ok(Value::Undefined)
        }
        Err(Ctl::Throw(_)) => unsupported("an exception inside the template's callback (Express's handling of it is not reproduced)"),
        Err(a) => Err(a),
    }
}

fn answer(cx: &mut Cx, ctx: &Value, err: &Value, result: &Value) -> JsResult<ResponseParts> {
    let req = served(cx).req.clone();
    let mut res = Res::default();
    if ops::to_boolean(err) {
        // console.error(err); res.status(fnContext.status()).send(err.toString ? err.toString() : err)
        let status = call_method(cx, ctx, utf16!("status"), &[])?;
        res.set_status(&status)?;
        let body = match call::resolve_method(cx, err, utf16!("toString"))? {
            Some(c) => call::invoke(cx, &c, err.clone(), &[])?,
            None => {
                if reaches_object_proto(cx, err) {
                    return unsupported(
                        "toString of a value whose builtin toString is not modelled",
                    );
                }
                err.clone()
            }
        };
        return res.send(cx, &req, &body);
    }
    // isArray(functionResult) || isObject(functionResult)
    let plain = constructor_is(cx, result, "Array")? || constructor_is(cx, result, "Object")?;
    let headers = call_method(cx, ctx, utf16!("headers"), &[])?;
    res.set_all(cx, &headers)?;
    let status = call_method(cx, ctx, utf16!("status"), &[])?;
    res.set_status(&status)?;
    let body = if plain {
        match crate::builtins::json::stringify_value(cx, result)? {
            Some(s) => Value::Str(s),
            None => Value::Undefined,
        }
    } else {
        result.clone()
    };
    res.send(cx, &req, &body)
}

/// Whether the prototype chain of `v` (a primitive's included) reaches Object.prototype.
fn reaches_object_proto(cx: &Cx, v: &Value) -> bool {
    let mut cur = match v {
        Value::Obj(o) => Some(*o),
        Value::Str(_) => Some(cx.realm.string_proto),
        Value::Num(_) => Some(cx.realm.number_proto),
        Value::Bool(_) => Some(cx.realm.boolean_proto),
        _ => None,
    };
    while let Some(o) = cur {
        if o == cx.realm.object_proto {
            return true;
        }
        cur = cx.heap.get(o).proto;
    }
    false
}

/// The class a realm prototype object belongs to, for the prototypes whose `constructor` the realm may not
/// hold: "Array", "Object", or "" for the others.
fn realm_class(cx: &Cx, o: ObjRef) -> Option<&'static str> {
    let r = &cx.realm;
    if o == r.object_proto {
        return Some("Object");
    }
    if o == r.array_proto {
        return Some("Array");
    }
    // The intrinsics the realm keeps at hand (a string result's chain is String.prototype), before the
    // lookups by name.
    if [
        r.function_proto,
        r.string_proto,
        r.number_proto,
        r.boolean_proto,
        r.error_proto,
    ]
    .contains(&o)
    {
        return Some("");
    }
    let others = [
        "Function",
        "String",
        "Number",
        "Boolean",
        "Error",
        "Date",
        "RegExp",
        "Promise",
        "Map",
        "Set",
        "Response",
        "Headers",
        "FunctionContext",
        "FunctionEvent",
    ];
    if others.iter().any(|c| r.proto(c) == Some(o)) {
        return Some("");
    }
    for e in [
        "TypeError",
        "RangeError",
        "SyntaxError",
        "ReferenceError",
        "URIError",
        "EvalError",
    ] {
        if r.proto(e) == Some(o) {
            return Some("");
        }
    }
    None
}

/// The template's `isArray`/`isObject`: `!!a && a.constructor === <class>`. A realm prototype without its
/// own `constructor` stands for its class's constructor, as in Node.
fn constructor_is(cx: &mut Cx, v: &Value, class: &'static str) -> JsResult<bool> {
    if !ops::to_boolean(v) {
        return Ok(false);
    }
    let ckey = utf16!("constructor");
    let mut cur = match v {
        Value::Obj(o) => Some(*o),
        Value::Str(_) => Some(cx.realm.string_proto),
        Value::Num(_) => Some(cx.realm.number_proto),
        Value::Bool(_) => Some(cx.realm.boolean_proto),
        _ => None,
    };
    while let Some(o) = cur {
        if cx.heap.kind(o).is_host() {
            return unsupported("the constructor of a host object");
        }
        let own = cx.heap.get(o).props.get(ckey).cloned();
        if let Some(p) = own {
            let c = match p {
                Prop::Data { value, .. } => value,
                Prop::Accessor { get: Some(g), .. } => {
                    call::call(cx, &Value::Obj(g), v.clone(), &[])?
                }
                Prop::Accessor { get: None, .. } => Value::Undefined,
            };
            return Ok(match cx.realm.global(class) {
                Some(g) => ops::strict_equals(&c, &g),
                None => false,
            });
        }
        if let Some(k) = realm_class(cx, o) {
            return Ok(k == class);
        }
        cur = cx.heap.get(o).proto;
    }
    Ok(false)
}

/// The template's middleware (index.js:98-129) for one request whose event is built: calls the handler
/// as `handler(event, context, cb)`, settles its result as `Promise.resolve(...).then(...).catch(...)`
/// does, and returns the answer the callback recorded.
pub fn run_openfaas(
    cx: &mut Cx,
    handler: &Value,
    event: Value,
    req: ReqFacts,
) -> JsResult<ResponseParts> {
    served(cx).mode = Mode::Openfaas;
    served(cx).req = req;
    let ctx = make_context(cx)?;
    served(cx).context = Some(ctx.clone());
    let cb = props::get(cx, &ctx, utf16!("cb"))?;
    let callee = call::callee_of(cx, handler)?;
    // Nothing of the template runs between the call and the settling of its promise, so the handler may
    // run to its end at once.
    let returned = match call::call_awaited(
        cx,
        &callee,
        Value::Undefined,
        &[event, ctx.clone(), cb.clone()],
    ) {
        Ok(v) => v,
        Err(Ctl::Throw(_)) => {
            return unsupported(
                "a handler that throws synchronously (Express answers its error page)",
            )
        }
        Err(a) => return Err(a),
    };
    match call::await_value(cx, returned) {
        Ok(result) => {
            // .then(res => { if (!fnContext.cbCalled) fnContext.succeed(res) })
            let r = (|| -> JsResult<()> {
                let called = props::get(cx, &ctx, utf16!("cbCalled"))?;
                if !ops::to_boolean(&called) {
                    call_method(cx, &ctx, utf16!("succeed"), &[result])?;
                }
                Ok(())
            })();
            match r {
                Ok(()) => {}
                Err(Ctl::Throw(_)) => {
                    return unsupported(
                        "an exception after the handler settled (the template's catch answers it)",
                    )
                }
                Err(a) => return Err(a),
            }
        }
        // .catch(e => cb(e))
        Err(Ctl::Throw(e)) => {
            call::call(cx, &cb, Value::Undefined, &[e])?;
        }
        Err(a) => return Err(a),
    }
    match served(cx).answer.take() {
        Some(a) => Ok(a),
        None => unsupported("a handler that never answered (Node waits for exec_timeout)"),
    }
}

// ---------------------------------------------------------------------------------------------------
// The Containerless API

/// `require(name)` from compiled module code: 'containerless' gives the API object (the same one every
/// time); any other module gives up.
pub fn require(cx: &mut Cx, name: &str) -> JsResult<Value> {
    if name != "containerless" {
        return unsupported("require of a module other than 'containerless'");
    }
    if let Some(api) = &module(cx).api {
        return Ok(api.clone());
    }
    if served(cx).mode != Mode::None {
        return unsupported("the first require('containerless') during a request");
    }
    let holder = match cx.realm.global("containerless") {
        Some(Value::Obj(h)) => h,
        _ => return unsupported("the containerless API is not installed"),
    };
    let op = cx.realm.object_proto;
    let o = cx.heap.alloc(Obj::new(ObjKind::Ordinary, Some(op)))?;
    for name in ["listen", "respond", "get", "post", "put", "delete"] {
        let f = match cx.heap.get(holder).props.get(&key(name)[..]) {
            Some(Prop::Data { value, .. }) => value.clone(),
            _ => return unsupported("the containerless API is not installed"),
        };
        props::define(cx, o, JsStr::from(name), f)?;
    }
    cx.heap.get_mut(o)?.frozen = true;
    module(cx).api = Some(Value::Obj(o));
    Ok(Value::Obj(o))
}

/// Whether the module required 'containerless' (its handler is then the `listen` callback).
pub fn uses_containerless(cx: &Cx) -> bool {
    cx.module_host
        .peek::<ModuleHost>()
        .is_some_and(|m| m.api.is_some())
}

fn cl_listen(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let cb = arg(args, 0);
    if !is_callable(cx, &cb) {
        return unsupported(
            "containerless.listen() without a function (the shim throws NOT_A_FUNCTION)",
        );
    }
    if served(cx).mode != Mode::None {
        return unsupported("containerless.listen() during a request");
    }
    if module(cx).listener.is_some() {
        return unsupported("containerless.listen() called twice (the shim throws LISTEN_TWICE)");
    }
    module(cx).listener = Some(cb);
    Ok(Value::Undefined)
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON_TYPE: &str = "application/json; charset=utf-8";

/// The shim's `formatResponse(value)`: the body and its content type.
pub fn format_response(cx: &mut Cx, v: &Value) -> JsResult<(JsStr, &'static str)> {
    if v.is_undefined() {
        return Ok((JsStr::from("undefined"), TEXT));
    }
    if is_callable(cx, v) {
        return unsupported("respond() with a function (its source text)");
    }
    let empty = Value::str("");
    if !matches!(v, Value::Null | Value::Str(_)) {
        let len = props::get(cx, v, utf16!("length"))?;
        if ops::compare(cx, ops::CmpOp::Gt, &len, &Value::Num(0.0))? {
            let s = ops::add(cx, &empty, v)?;
            return Ok((ops::to_string(cx, &s)?, TEXT));
        }
    }
    if matches!(v, Value::Null | Value::Obj(_)) {
        let args = [v.clone(), Value::Null, Value::Num(4.0)];
        let json = (crate::builtins::json::STRINGIFY.f)(cx, &Value::Undefined, &args)?;
        let s = ops::add(cx, &empty, &json)?;
        return Ok((ops::to_string(cx, &s)?, JSON_TYPE));
    }
    let s = ops::add(cx, &empty, v)?;
    Ok((ops::to_string(cx, &s)?, TEXT))
}

fn cl_respond(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    if served(cx).mode != Mode::Containerless {
        return unsupported("containerless.respond() outside a Containerless-API request (the shim throws NO_REQUEST)");
    }
    let (body, ct) = format_response(cx, &arg(args, 0))?;
    if served(cx).answer.is_some() {
        return Ok(Value::Undefined);
    }
    let req = served(cx).req.clone();
    let mut res = Res::default();
    res.set(cx, &JsStr::from("Content-Type"), &Value::str(ct))?;
    let parts = res.send(cx, &req, &Value::Str(body))?;
    served(cx).answer = Some(parts);
    Ok(Value::Undefined)
}

fn cl_get(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    io(
        cx,
        "GET",
        arg(args, 0),
        Value::Undefined,
        Value::Undefined,
        arg(args, 1),
    )
}

fn cl_delete(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    io(
        cx,
        "DELETE",
        arg(args, 0),
        Value::Undefined,
        Value::Undefined,
        arg(args, 1),
    )
}

/// `post({url, body, headers}, cb)` and `put`: the shim's `bodyRequest` reads the three fields first.
fn body_request(cx: &mut Cx, method: &str, args: &[Value]) -> JsResult<Value> {
    let r = arg(args, 0);
    if !matches!(r, Value::Obj(_)) || is_callable(cx, &r) {
        return unsupported(
            "containerless.post/put() without a request object (the shim throws BAD_ARGUMENT)",
        );
    }
    let url = props::get(cx, &r, utf16!("url"))?;
    let body = props::get(cx, &r, utf16!("body"))?;
    let headers = props::get(cx, &r, utf16!("headers"))?;
    io(cx, method, url, body, headers, arg(args, 1))
}

fn cl_post(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    body_request(cx, "POST", args)
}

fn cl_put(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    body_request(cx, "PUT", args)
}

/// The shim's `io(...)`: checks, then a `data:` URL answers at once; otherwise `fetch(url, init)` starts
/// the request (the fetch builtin, which builds what undici sends; the shim's `signal` is the request's deadline,
/// which the host applies) and its callback waits in the queue.
fn io(
    cx: &mut Cx,
    method: &str,
    url: Value,
    body: Value,
    headers: Value,
    cb: Value,
) -> JsResult<Value> {
    if served(cx).mode != Mode::Containerless {
        return unsupported("a containerless I/O call outside a Containerless-API request (the shim throws NO_REQUEST)");
    }
    if !is_callable(cx, &cb) {
        return unsupported(
            "a containerless I/O call without a callback (the shim throws NOT_A_FUNCTION)",
        );
    }
    let url = match url {
        Value::Str(s) => s,
        _ => {
            return unsupported(
                "a containerless I/O call without a URL string (the shim throws BAD_ARGUMENT)",
            )
        }
    };
    let u = url.units();
    if u.starts_with(&key("data:")) {
        let v = crate::builtins::json::parse_bytes(cx, &u[5..])?;
        call::call(cx, &cb, Value::Undefined, &[v])?;
        return Ok(Value::Undefined);
    }
    // const init = { method }; for POST and PUT: init.body = ...; init.headers = {'content-type': ..., ...headers}
    let init = cx.new_object()?;
    let io_ = init.as_obj().expect("object");
    props::define(cx, io_, JsStr::from("method"), Value::str(method))?;
    if method == "POST" || method == "PUT" {
        let b = match &body {
            Value::Str(_) => body.clone(),
            _ => match crate::builtins::json::stringify_value(cx, &body)? {
                Some(s) => Value::Str(s),
                None => Value::Undefined,
            },
        };
        props::define(cx, io_, JsStr::from("body"), b)?;
        let h = cx.new_object()?;
        let ho = h.as_obj().expect("object");
        props::define(
            cx,
            ho,
            JsStr::from("content-type"),
            Value::str("application/json"),
        )?;
        if matches!(headers, Value::Obj(_)) && !is_callable(cx, &headers) {
            crate::rt::object_spread(cx, ho, &headers)?;
        }
        props::define(cx, io_, JsStr::from("headers"), h)?;
    }
    let p = (crate::builtins::fetch::FETCH.f)(cx, &Value::Undefined, &[Value::Str(url), init])?;
    served(cx).queue.push_back((p, cb));
    Ok(Value::Undefined)
}

/// The shim's `fetchJson` once the request was started: `JSON.parse(await res.text())`, `undefined` when
/// anything throws (the text is not JSON, the request failed).
fn finish_io(cx: &mut Cx, promise: Value) -> JsResult<Value> {
    let resp = match call::await_value(cx, promise) {
        Ok(r) => r,
        Err(Ctl::Throw(_)) => return Ok(Value::Undefined),
        Err(a) => return Err(a),
    };
    let text =
        match call_method(cx, &resp, utf16!("text"), &[]).and_then(|p| call::await_value(cx, p)) {
            Ok(Value::Str(s)) => s,
            Ok(_) => return unsupported("Response.text() gave something other than a string"),
            Err(Ctl::Throw(_)) => return Ok(Value::Undefined),
            Err(a) => return Err(a),
        };
    match crate::builtins::json::parse_bytes(cx, text.units()) {
        Ok(v) => Ok(v),
        Err(Ctl::Abort(a))
            if a.kind == AbortKind::Uncaught && a.detail.starts_with("SyntaxError") =>
        {
            Ok(Value::Undefined)
        }
        Err(e) => Err(e),
    }
}

/// Calls a listener or I/O callback as the runner does: a throw fails the request if it is not answered
/// (Express's error page: give up) and is only logged otherwise; a returned promise that rejects would be
/// an unhandled rejection, which ends Node's process (give up).
fn deliver(cx: &mut Cx, f: &Value, args: &[Value]) -> JsResult<()> {
    let callee = call::callee_of(cx, f)?;
    match call::call_awaited(cx, &callee, Value::Undefined, args) {
        Ok(v) => {
            if let Value::Obj(o) = &v {
                if let Some(state) = cx.heap.kind(*o).slots::<PromiseState>() {
                    if matches!(state, PromiseState::Rejected(_)) {
                        return unsupported("a Containerless-API callback whose promise rejects (an unhandled rejection)");
                    }
                    match call::await_value(cx, v) {
                        Ok(_) => {}
                        Err(Ctl::Throw(_)) => return unsupported("a Containerless-API callback whose promise rejects (an unhandled rejection)"),
                        Err(a) => return Err(a),
                    }
                }
            }
            Ok(())
        }
        Err(Ctl::Throw(e)) => {
            if served(cx).answer.is_some() {
                let s = match ops::to_string(cx, &e) {
                    Ok(s) => s.to_rust_string(),
                    Err(_) => "an exception".to_string(),
                };
                cx.logs.push(format!(
                    "containerless: a callback threw after the request was answered: {}",
                    s
                ));
                Ok(())
            } else {
                unsupported("a Containerless-API callback that throws before the request is answered (Express's error page)")
            }
        }
        Err(a) => Err(a),
    }
}

/// The runner's `serveContainerless` for one request: calls the listener with `request` (`{path, query,
/// body}`), then the I/O callbacks in the order their requests started, until none is left; the answer is
/// what `respond` recorded first.
pub fn run_containerless(
    cx: &mut Cx,
    listener: &Value,
    request: Value,
    req: ReqFacts,
) -> JsResult<ResponseParts> {
    served(cx).mode = Mode::Containerless;
    served(cx).req = req;
    deliver(cx, listener, &[request])?;
    while let Some((p, cb)) = served(cx).queue.pop_front() {
        let value = finish_io(cx, p)?;
        deliver(cx, &cb, &[value])?;
    }
    match served(cx).answer.take() {
        Some(a) => Ok(a),
        None => unsupported(
            "a Containerless-API request that was never answered (Node waits for exec_timeout)",
        ),
    }
}

/// `{path, query, body}` as the runner builds it for the listener.
pub fn make_cl_request(cx: &mut Cx, path: Value, query: Value, body: Value) -> JsResult<Value> {
    let obj = cx.new_object()?;
    let o = obj.as_obj().expect("object");
    props::define(cx, o, JsStr::from("path"), path)?;
    props::define(cx, o, JsStr::from("query"), query)?;
    props::define(cx, o, JsStr::from("body"), body)?;
    Ok(obj)
}

/// The realm's FunctionEvent.prototype and FunctionContext.prototype (looked up by name once per realm:
/// they are made with it and never change).
fn template_protos(cx: &mut Cx) -> (ObjRef, ObjRef) {
    if let Some(p) = module(cx).protos {
        return p;
    }
    let p = (
        cx.realm
            .proto("FunctionEvent")
            .expect("FunctionEvent.prototype is installed"),
        cx.realm
            .proto("FunctionContext")
            .expect("FunctionContext.prototype is installed"),
    );
    module(cx).protos = Some(p);
    p
}

/// The realm's FunctionContext.prototype.
fn context_proto(cx: &mut Cx) -> ObjRef {
    template_protos(cx).1
}

/// The realm's FunctionEvent.prototype.
fn event_proto(cx: &mut Cx) -> ObjRef {
    template_protos(cx).0
}

#[cfg(test)]
mod tests;
