//! Module state kept by an answered request (`Heap::commit`): the request's objects that module state now
//! reaches are moved next to the module's and every reference to them renamed; the rest is freed; a
//! give-up is undone; module state is capped. And the dispatcher built on it: a counter, a memo table and a
//! lazily built table evolve with the requests the realm answers, as one Node replica's would.

use clrt::call;
use clrt::cx::{test_cx, AbortKind, Call, Cx, JsResult, Program};
use clrt::dispatcher::{Config, Dispatcher, Outcome, RequestParts};
use clrt::heap::{fflags, Obj, ObjKind};
use clrt::props::{self, key};
use clrt::{JsStr, ObjRef, Value};

fn get(cx: &mut Cx, o: &Value, k: &str) -> Value {
    props::get(cx, o, &key(k)).unwrap()
}

fn set(cx: &mut Cx, o: &Value, k: &str, v: Value) {
    props::set(cx, o, &key(k), v).unwrap();
}

fn method(cx: &mut Cx, recv: &Value, name: &str, args: &[Value]) -> JsResult<Value> {
    let c = call::method(cx, recv, &key(name))?;
    call::invoke(cx, &c, recv.clone(), args)
}

fn new_of(cx: &mut Cx, global: &'static str, args: &[Value]) -> Value {
    let ctor = cx.global(global, 0).unwrap();
    call::construct(cx, &ctor, args).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_num()
        .unwrap_or_else(|| panic!("expected a number, got {:?}", v))
}

fn limits() -> clrt::Limits {
    clrt::Limits::default()
}

/// A context whose module is not sealed yet.
fn unsealed() -> Cx {
    let prog: &'static Program = Box::leak(Box::new(Program {
        name: "t",
        funcs: &[closure_body],
        init: |_, _| Ok(Value::Undefined),
        trace_version: 1,
        strings: &[],
        sort_rows: &[],
    }));
    Cx::new(prog, &limits()).unwrap()
}

/// A module with one object `m` (returned) made before sealing.
fn module_with_object() -> (Cx, Value) {
    let mut cx = unsealed();
    let m = cx.new_object().unwrap();
    cx.heap.seal_module();
    (cx, m)
}

/// Code 0: a closure returning its environment's variable 0.
fn closure_body(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    let env = call::env_of(cx, call.callee).expect("an environment");
    Ok(props::scope_get(cx, env, 0, 0))
}

#[test]
fn an_answered_requests_objects_that_module_state_reaches_are_kept_and_the_rest_freed() {
    let (mut cx, m) = module_with_object();
    let base = cx.heap.len();
    cx.begin_request(&limits());
    let _garbage = cx.new_object().unwrap();
    let kept = cx.new_object().unwrap();
    set(&mut cx, &kept, "x", Value::Num(7.0));
    let _more_garbage = cx.new_array(vec![Value::Num(1.0)]).unwrap();
    set(&mut cx, &m, "child", kept.clone());
    set(&mut cx, &m, "n", Value::Num(1.0));
    assert!(cx.heap.module_changed());
    cx.commit_request().unwrap();
    assert_eq!(
        cx.heap.len(),
        base + 1,
        "only the object module state reaches is kept"
    );
    assert_eq!(cx.heap.module_len(), base + 1);
    cx.begin_request(&limits());
    let child = get(&mut cx, &m, "child");
    assert_eq!(
        child.as_obj(),
        Some(ObjRef(base as u32)),
        "moved right after the module's objects"
    );
    assert_eq!(num(&get(&mut cx, &child, "x")), 7.0);
    assert_eq!(num(&get(&mut cx, &m, "n")), 1.0);
    // The kept object is module state now: a later request's write to it is logged, and undone on reset.
    set(&mut cx, &child, "x", Value::Num(8.0));
    assert!(cx.heap.module_changed());
    cx.heap.reset();
    cx.begin_request(&limits());
    assert_eq!(num(&get(&mut cx, &child, "x")), 7.0);
}

#[test]
fn a_counter_in_a_closure_environment_counts_across_requests() {
    let mut cx = unsealed();
    let scope = props::new_scope(&mut cx, 1, None).unwrap();
    props::scope_set(&mut cx, scope, 0, 0, Value::Num(0.0)).unwrap();
    cx.heap.seal_module();
    for i in 1..=5 {
        cx.begin_request(&limits());
        let n = num(&props::scope_get(&cx, scope, 0, 0));
        props::scope_set(&mut cx, scope, 0, 0, Value::Num(n + 1.0)).unwrap();
        cx.commit_request().unwrap();
        assert_eq!(num(&props::scope_get(&cx, scope, 0, 0)), i as f64);
    }
}

#[test]
fn cycles_between_module_and_request_objects_survive_the_move() {
    let (mut cx, m) = module_with_object();
    let base = cx.heap.len();
    cx.begin_request(&limits());
    let pad = cx.new_object().unwrap(); // not kept: the kept objects move down past it
    let a = cx.new_object().unwrap();
    let b = cx.new_object().unwrap();
    set(&mut cx, &a, "name", Value::str("a"));
    set(&mut cx, &b, "name", Value::str("b"));
    set(&mut cx, &a, "next", b.clone());
    set(&mut cx, &b, "next", a.clone());
    set(&mut cx, &a, "self", a.clone());
    set(&mut cx, &b, "module", m.clone());
    set(&mut cx, &pad, "a", a.clone()); // garbage pointing in is fine
    set(&mut cx, &m, "ring", b.clone());
    cx.commit_request().unwrap();
    assert_eq!(cx.heap.len(), base + 2);
    cx.begin_request(&limits());
    let b2 = get(&mut cx, &m, "ring");
    let a2 = get(&mut cx, &b2, "next");
    assert_eq!(
        get(&mut cx, &a2, "name").as_str().unwrap().to_rust_string(),
        "a"
    );
    assert_eq!(
        get(&mut cx, &b2, "name").as_str().unwrap().to_rust_string(),
        "b"
    );
    assert_eq!(get(&mut cx, &a2, "next").as_obj(), b2.as_obj());
    assert_eq!(get(&mut cx, &a2, "self").as_obj(), a2.as_obj());
    assert_eq!(get(&mut cx, &b2, "module").as_obj(), m.as_obj());
    for o in [&a2, &b2] {
        assert!(o.as_obj().unwrap().0 < (base + 2) as u32);
    }
}

#[test]
fn maps_sets_arrays_closures_and_prototypes_stored_into_module_state_keep_working() {
    let (mut cx, m) = module_with_object();
    let base = cx.heap.len();
    cx.begin_request(&limits());
    for _ in 0..3 {
        cx.new_object().unwrap(); // garbage first, so every kept object moves
    }
    // A Map keyed by objects and strings, a Set of objects, an array holding both.
    let map = new_of(&mut cx, "Map", &[]);
    let set_ = new_of(&mut cx, "Set", &[]);
    let key_obj = cx.new_object().unwrap();
    set(&mut cx, &key_obj, "k", Value::Num(1.0));
    method(
        &mut cx,
        &map,
        "set",
        &[key_obj.clone(), Value::str("by object")],
    )
    .unwrap();
    method(&mut cx, &map, "set", &[Value::str("s"), key_obj.clone()]).unwrap();
    method(&mut cx, &set_, "add", std::slice::from_ref(&key_obj)).unwrap();
    let arr = cx
        .new_array(vec![
            map.clone(),
            set_.clone(),
            key_obj.clone(),
            Value::Hole,
        ])
        .unwrap();
    // A closure over a request scope holding an object.
    let scope = props::new_scope(&mut cx, 1, None).unwrap();
    props::scope_set(&mut cx, scope, 0, 0, arr.clone()).unwrap();
    let f = call::make_function(&mut cx, 0, Some(scope), "f", 0, fflags::ARROW).unwrap();
    // An object whose prototype the request made.
    let proto = cx.new_object().unwrap();
    set(&mut cx, &proto, "inherited", Value::Num(42.0));
    let child = cx
        .heap
        .alloc(Obj::new(ObjKind::Ordinary, proto.as_obj()))
        .unwrap();
    set(&mut cx, &m, "arr", arr);
    set(&mut cx, &m, "f", f);
    set(&mut cx, &m, "child", Value::Obj(child));
    cx.commit_request().unwrap();
    assert_eq!(
        cx.heap.len(),
        base + 8,
        "map, set, key, array, scope, closure, prototype, child"
    );

    cx.begin_request(&limits());
    let arr = get(&mut cx, &m, "arr");
    let map = get(&mut cx, &arr, "0");
    let set_ = get(&mut cx, &arr, "1");
    let key_obj = get(&mut cx, &arr, "2");
    assert!(get(&mut cx, &arr, "3").is_undefined());
    assert_eq!(num(&get(&mut cx, &key_obj, "k")), 1.0);
    let by_obj = method(&mut cx, &map, "get", std::slice::from_ref(&key_obj)).unwrap();
    assert_eq!(
        by_obj.as_str().map(JsStr::to_rust_string).as_deref(),
        Some("by object"),
        "a Map keyed by a moved object finds it under its new name"
    );
    let by_str = method(&mut cx, &map, "get", &[Value::str("s")]).unwrap();
    assert_eq!(by_str.as_obj(), key_obj.as_obj());
    let has = method(&mut cx, &set_, "has", std::slice::from_ref(&key_obj)).unwrap();
    assert!(matches!(has, Value::Bool(true)));
    let size = get(&mut cx, &map, "size");
    assert_eq!(num(&size), 2.0);
    // The closure still sees its environment.
    let f = get(&mut cx, &m, "f");
    let seen = call::call(&mut cx, &f, Value::Undefined, &[]).unwrap();
    assert_eq!(seen.as_obj(), arr.as_obj());
    let child = get(&mut cx, &m, "child");
    assert_eq!(num(&get(&mut cx, &child, "inherited")), 42.0);
    // A later request grows the module's Map; committed, it is kept too.
    let v = cx.new_object().unwrap();
    method(&mut cx, &map, "set", &[Value::str("later"), v]).unwrap();
    cx.commit_request().unwrap();
    cx.begin_request(&limits());
    let later = method(&mut cx, &map, "get", &[Value::str("later")]).unwrap();
    assert!(later.as_obj().is_some_and(|o| o.0 < cx.heap.len() as u32));
    assert_eq!(cx.heap.module_len(), base + 9);
}

#[test]
fn a_give_up_is_undone_and_what_it_made_freed() {
    let (mut cx, m) = module_with_object();
    cx.begin_request(&limits());
    set(&mut cx, &m, "n", Value::Num(1.0));
    cx.commit_request().unwrap();
    let len = cx.heap.len();
    cx.begin_request(&limits());
    let o = cx.new_object().unwrap();
    set(&mut cx, &m, "n", Value::Num(2.0));
    set(&mut cx, &m, "o", o);
    // The request gives up here: not committed.
    cx.heap.reset();
    assert_eq!(cx.heap.len(), len);
    cx.begin_request(&limits());
    assert_eq!(num(&get(&mut cx, &m, "n")), 1.0);
    assert!(get(&mut cx, &m, "o").is_undefined());
}

/// An array of module state written in place by index (`grid[y][x] = v`, `props::set_array_index`): a
/// request that gives up leaves it as it was, a request that answers keeps the write, and a frozen one is
/// not written.
#[test]
fn a_module_array_written_by_index_is_undone_with_a_give_up_and_kept_with_an_answer() {
    let mut cx = unsealed();
    let a = cx
        .new_array(vec![Value::Num(1.0), Value::Num(2.0), Value::Num(3.0)])
        .unwrap();
    let frozen = cx.new_array(vec![Value::Num(7.0)]).unwrap();
    let f = frozen.as_obj().unwrap();
    cx.heap.get_mut(f).unwrap().frozen = true;
    cx.heap.seal_module();
    let at = |cx: &mut Cx, a: &Value, i: f64| num(&props::get_array_index(cx, a, i, 0).unwrap());
    cx.begin_request(&limits());
    props::set_array_index(&mut cx, &a, 1.0, Value::Num(20.0), 0).unwrap();
    props::set_array_index(&mut cx, &a, 1.0, Value::Num(21.0), 0).unwrap();
    assert_eq!(at(&mut cx, &a, 1.0), 21.0);
    cx.heap.reset();
    cx.begin_request(&limits());
    assert_eq!(
        at(&mut cx, &a, 1.0),
        2.0,
        "a give-up leaves the module's array as it was"
    );
    props::set_array_num(&mut cx, &a, 2.0, 30.0, 0).unwrap();
    cx.commit_request().unwrap();
    cx.begin_request(&limits());
    assert_eq!(
        at(&mut cx, &a, 2.0),
        30.0,
        "an answered request keeps its write"
    );
    // Strict code's write to a frozen array throws, as `set_computed` has it: not written either way.
    let r = props::set_array_index(&mut cx, &frozen, 0.0, Value::Num(8.0), 0);
    assert!(r.is_err());
    assert_eq!(at(&mut cx, &frozen, 0.0), 7.0);
}

#[test]
fn module_state_over_its_cap_is_refused_and_undone() {
    let (mut cx, m) = module_with_object();
    let at_load = cx.heap.module_bytes();
    cx.heap.set_module_cap(at_load + 10_000);
    cx.begin_request(&limits());
    let small = cx.new_array(vec![Value::Num(1.0); 10]).unwrap();
    set(&mut cx, &m, "small", small);
    cx.commit_request().unwrap();
    assert!(cx.heap.module_bytes() > at_load);
    let len = cx.heap.len();
    cx.begin_request(&limits());
    let big = cx.new_array(vec![Value::str("x"); 1000]).unwrap();
    set(&mut cx, &m, "big", big);
    let e = cx.commit_request().unwrap_err();
    assert_eq!(e.kind, AbortKind::ModuleWrite);
    assert!(e.detail.contains("over its cap"), "{}", e.detail);
    cx.heap.reset();
    assert_eq!(cx.heap.len(), len);
    cx.begin_request(&limits());
    assert!(get(&mut cx, &m, "big").is_undefined());
    assert!(get(&mut cx, &m, "small").as_obj().is_some());
    // Strings count by their text: one long string is over the cap too.
    let long = Value::Str(JsStr::from_units(vec![b'y' as u16; 20_000]));
    set(&mut cx, &m, "long", long);
    assert!(cx.commit_request().is_err());
}

#[test]
fn a_promise_whose_settling_is_still_to_run_cannot_be_kept() {
    let (mut cx, m) = module_with_object();
    cx.begin_request(&limits());
    let pending = clrt::builtins::promise::new_promise(
        &mut cx,
        clrt::builtins::promise::PromiseState::Pending(3),
    )
    .unwrap();
    set(&mut cx, &m, "p", pending);
    let e = cx.commit_request().unwrap_err();
    assert_eq!(e.kind, AbortKind::ModuleWrite);
    assert!(e.detail.contains("pending promise"), "{}", e.detail);
    cx.heap.reset();
    // A settled one is kept.
    cx.begin_request(&limits());
    let done = clrt::builtins::promise::new_promise(
        &mut cx,
        clrt::builtins::promise::PromiseState::Fulfilled(Value::Num(5.0)),
    )
    .unwrap();
    set(&mut cx, &m, "p", done);
    cx.commit_request().unwrap();
    cx.begin_request(&limits());
    let p = get(&mut cx, &m, "p");
    assert_eq!(num(&call::await_value(&mut cx, p).unwrap()), 5.0);
}

#[test]
fn the_templates_callback_of_a_request_cannot_be_kept() {
    let (mut cx, m) = module_with_object();
    cx.begin_request(&limits());
    let ctx = clrt::builtins::openfaas::make_context(&mut cx).unwrap();
    let holder = cx.new_object().unwrap();
    set(&mut cx, &holder, "ctx", ctx.clone());
    set(&mut cx, &m, "saved", holder);
    let e = cx.commit_request().unwrap_err();
    assert_eq!(e.kind, AbortKind::ModuleWrite);
    assert!(e.detail.contains("context.cb"), "{}", e.detail);
    cx.heap.reset();
    // Its plain parts are fine.
    cx.begin_request(&limits());
    let ctx = clrt::builtins::openfaas::make_context(&mut cx).unwrap();
    let status = get(&mut cx, &ctx, "statusCode");
    set(&mut cx, &m, "status", status);
    cx.commit_request().unwrap();
}

#[test]
fn the_runtimes_unit_test_context_commits_too() {
    // test_cx seals right after the realm: the realm's own objects are module state.
    let mut cx = test_cx(&[]);
    let g = cx.realm.object_proto;
    cx.begin_request(&limits());
    let o = cx.new_object().unwrap();
    props::set(&mut cx, &Value::Obj(g), &key("zz"), o).unwrap();
    cx.commit_request().unwrap();
    assert_eq!(cx.heap.len(), cx.heap.module_len());
}

#[test]
fn a_write_to_the_realm_that_is_undone_leaves_it_untouched_and_a_kept_one_does_not() {
    let mut cx = test_cx(&[]);
    let p = Value::Obj(cx.realm.string_proto);
    assert!(cx.heap.realm_untouched());
    // A request writes String.prototype and gives up: its write is undone, and so is the mark.
    cx.begin_request(&limits());
    set(&mut cx, &p, "shout", Value::Num(1.0));
    assert!(!cx.heap.realm_untouched());
    cx.begin_request(&limits());
    assert!(cx.heap.realm_untouched());
    assert!(matches!(get(&mut cx, &p, "shout"), Value::Undefined));
    // A request whose write is kept leaves the realm written for every request after it.
    set(&mut cx, &p, "shout", Value::Num(2.0));
    cx.commit_request().unwrap();
    cx.begin_request(&limits());
    assert!(!cx.heap.realm_untouched());
    assert_eq!(num(&get(&mut cx, &p, "shout")), 2.0);
    // A later give-up goes back to that, not to untouched.
    set(&mut cx, &p, "shout", Value::Num(3.0));
    cx.begin_request(&limits());
    assert!(!cx.heap.realm_untouched());
    assert_eq!(num(&get(&mut cx, &p, "shout")), 2.0);
}

// ---------------------------------------------------------------------------------------------------
// The dispatcher: one realm, requests in order.
//
// let n = 0;
// const memo = new Map();
// let table;
// module.exports = async (event, context) => {
//   if (event.path === '/count') return { n: ++n };
//   if (event.path === '/fib') { const k = Number(event.query.n); if (!memo.has(k)) memo.set(k, { k, at: n }); return memo.get(k); }
//   if (event.path === '/table') { if (!table) table = { built: n }; return table; }
//   return 'other'; // gives up after writing n (site 9)
// };

fn st_init(cx: &mut Cx, _call: &Call) -> JsResult<Value> {
    let scope = props::new_scope(cx, 3, None)?;
    props::scope_set(cx, scope, 0, 0, Value::Num(0.0))?;
    let memo = {
        let ctor = cx.global("Map", 0)?;
        call::construct(cx, &ctor, &[])?
    };
    props::scope_set(cx, scope, 0, 1, memo)?;
    call::make_function(cx, 1, Some(scope), "", 2, fflags::ARROW | fflags::ASYNC)
}

fn st_handler(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    let env = call::env_of(cx, call.callee).expect("env");
    let event = call.arg(0);
    let path = props::get(cx, &event, &key("path"))?;
    let p = path
        .as_str()
        .map(|s| s.to_rust_string())
        .unwrap_or_default();
    let out = cx.new_object()?;
    let n = props::scope_get(cx, env, 0, 0).as_num().unwrap();
    match p.as_str() {
        "/count" => {
            // Long enough that requests sent together overlap.
            std::thread::sleep(std::time::Duration::from_millis(10));
            props::scope_set(cx, env, 0, 0, Value::Num(n + 1.0))?;
            props::set(cx, &out, &key("n"), Value::Num(n + 1.0))?;
            Ok(out)
        }
        "/fib" => {
            let q = props::get(cx, &event, &key("query"))?;
            let k = props::get(cx, &q, &key("n"))?;
            let memo = props::scope_get(cx, env, 0, 1);
            let has = method(cx, &memo, "has", std::slice::from_ref(&k))?;
            if !matches!(has, Value::Bool(true)) {
                props::set(cx, &out, &key("k"), k.clone())?;
                props::set(cx, &out, &key("at"), Value::Num(n))?;
                method(cx, &memo, "set", &[k.clone(), out])?;
            }
            method(cx, &memo, "get", &[k])
        }
        "/table" => {
            let t = props::scope_get(cx, env, 0, 2);
            if t.is_undefined() {
                props::set(cx, &out, &key("built"), Value::Num(n))?;
                props::scope_set(cx, env, 0, 2, out)?;
            }
            Ok(props::scope_get(cx, env, 0, 2))
        }
        _ => {
            props::scope_set(cx, env, 0, 0, Value::Num(n + 100.0))?;
            clrt::unknown(9)
        }
    }
}

static STATEFUL: Program = Program {
    name: "stateful",
    funcs: &[st_init, st_handler],
    init: st_init,
    trace_version: 1,
    strings: &[],
    sort_rows: &[],
};

/// The same program, for a dispatcher of its own (realms are per thread and per program).
static STATEFUL_CAPPED: Program = Program {
    name: "stateful-capped",
    funcs: &[st_init, st_handler],
    init: st_init,
    trace_version: 1,
    strings: &[],
    sort_rows: &[],
};

fn req(target: &str) -> RequestParts {
    RequestParts {
        method: "GET".into(),
        target: target.into(),
        headers: vec![("host".into(), b"127.0.0.1:8080".to_vec())],
        body: Vec::new(),
    }
}

fn body(o: Outcome) -> String {
    match o {
        Outcome::Answer(r) => String::from_utf8(r.body).unwrap(),
        Outcome::Fallback(a) => panic!("gave up: {}", a),
    }
}

#[test]
fn the_dispatchers_realm_keeps_what_answered_requests_wrote_and_undoes_give_ups() {
    // `handle` runs on the calling thread, whose realm this program's alone is.
    let d = Dispatcher::new(&STATEFUL, Config::default());
    assert_eq!(body(d.handle(req("/count"))), r#"{"n":1}"#);
    assert_eq!(body(d.handle(req("/count"))), r#"{"n":2}"#);
    assert_eq!(body(d.handle(req("/fib?n=5"))), r#"{"k":"5","at":2}"#);
    assert_eq!(body(d.handle(req("/table"))), r#"{"built":2}"#);
    // A give-up that wrote the counter first: undone.
    match d.handle(req("/other")) {
        Outcome::Fallback(a) => assert_eq!(a.kind, AbortKind::Unknown),
        Outcome::Answer(_) => panic!("answered an untraced path"),
    }
    assert_eq!(body(d.handle(req("/count"))), r#"{"n":3}"#);
    assert_eq!(
        body(d.handle(req("/fib?n=5"))),
        r#"{"k":"5","at":2}"#,
        "memoised"
    );
    assert_eq!(body(d.handle(req("/fib?n=6"))), r#"{"k":"6","at":3}"#);
    assert_eq!(
        body(d.handle(req("/table"))),
        r#"{"built":2}"#,
        "built once"
    );
}

#[test]
fn the_dispatcher_refuses_module_state_over_cl_module_bytes() {
    let config = Config::from_vars(|n| (n == "cl_module_bytes").then(|| "1".to_string())).unwrap();
    assert_eq!(config.module_bytes, 1);
    let d = Dispatcher::new(&STATEFUL_CAPPED, config);
    for target in ["/table", "/count", "/count"] {
        match d.handle(req(target)) {
            Outcome::Fallback(a) => {
                assert_eq!(a.kind, AbortKind::ModuleWrite);
                assert!(a.detail.contains("over its cap"), "{}", a.detail);
            }
            Outcome::Answer(_) => panic!("kept module state over its cap"),
        }
    }
}

/// The same program, served over a socket.
static STATEFUL_SERVED: Program = Program {
    name: "stateful-served",
    funcs: &[st_init, st_handler],
    init: st_init,
    trace_version: 1,
    strings: &[],
    sort_rows: &[],
};

fn http_get(port: u16, target: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let raw = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n",
        target
    );
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn with_cl_workers_1_requests_sent_together_share_one_realm() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Config::from_vars(|n| (n == "cl_workers").then(|| "1".to_string())).unwrap();
    let state = std::sync::Arc::new(Dispatcher::new(&STATEFUL_SERVED, config));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(clrt::dispatcher::serve(state, listener, async move {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http_get(port, "/_/ready").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let clients: Vec<_> = (0..12)
        .map(|_| std::thread::spawn(move || http_get(port, "/count")))
        .collect();
    let mut seen: Vec<u32> = clients
        .into_iter()
        .map(|c| {
            let (status, body) = c.join().unwrap();
            assert_eq!(status, 200, "{}", body);
            body.trim_start_matches("{\"n\":")
                .trim_end_matches('}')
                .parse()
                .unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=12).collect::<Vec<u32>>(),
        "one counter: every request saw the ones before it"
    );
    stop.send(()).unwrap();
    rt.block_on(server).unwrap().unwrap();
}

#[test]
fn cl_workers_is_a_number_of_threads() {
    let w =
        |v: &'static str| Config::from_vars(move |n| (n == "cl_workers").then(|| v.to_string()));
    assert_eq!(w("1").unwrap().workers, Some(1));
    assert_eq!(w("4").unwrap().workers, Some(4));
    assert!(w("0").is_err());
    assert!(w("many").is_err());
    assert_eq!(Config::from_vars(|_| None).unwrap().workers, None);
}

#[test]
fn a_push_in_place_is_refused_where_the_general_push_has_rules_to_keep() {
    use clrt::builtins::array::push_direct;
    let mut cx = unsealed();
    let module = cx.new_array(vec![Value::Num(1.0)]).unwrap();
    cx.heap.seal_module();
    cx.begin_request(&limits());
    let len = |cx: &mut Cx, a: &Value| props::array_length(cx, a, 0).unwrap();
    // The request's own array: in place.
    let own = cx.new_array(vec![]).unwrap();
    assert_eq!(
        num(&push_direct(&mut cx, &own, Value::Num(5.0)).unwrap()),
        1.0
    );
    assert_eq!(
        num(&props::get_array_index(&mut cx, &own, 0.0, 0).unwrap()),
        5.0
    );
    // Module state: the general path, whose write is logged and undone with a give-up.
    assert_eq!(
        num(&push_direct(&mut cx, &module, Value::Num(2.0)).unwrap()),
        2.0
    );
    cx.heap.reset();
    cx.begin_request(&limits());
    assert_eq!(len(&mut cx, &module), 1.0, "a give-up takes the push back");
    // A frozen array: the general path, which throws and leaves it as it was.
    let frozen = cx.new_array(vec![Value::Num(7.0)]).unwrap();
    cx.heap.get_mut(frozen.as_obj().unwrap()).unwrap().frozen = true;
    assert!(push_direct(&mut cx, &frozen, Value::Num(8.0)).is_err());
    assert_eq!(len(&mut cx, &frozen), 1.0);
    // Past the heap's cap: refused, as the general path refuses it, with the pushes before it kept.
    let mut tight = limits();
    tight.heap_bytes = 400;
    cx.heap.reset();
    cx.begin_request(&tight);
    let a = cx.new_array(vec![]).unwrap();
    let mut pushed = 0.0;
    let err = loop {
        match push_direct(&mut cx, &a, Value::Num(pushed)) {
            Ok(n) => {
                pushed += 1.0;
                assert_eq!(num(&n), pushed);
            }
            Err(e) => break e,
        }
        assert!(pushed < 100.0, "the cap never refused a push");
    };
    assert!(matches!(&err, clrt::Ctl::Abort(a) if a.kind == AbortKind::Heap));
    assert!(pushed >= 1.0);
    assert_eq!(len(&mut cx, &a), pushed);
}
