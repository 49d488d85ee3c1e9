use super::*;
use crate::cx::{test_cx, Call, Code};

fn exec_resolve(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    call::call(cx, &c.arg(0), Value::Undefined, &[Value::Num(5.0)])?;
    // Later calls are ignored.
    call::call(cx, &c.arg(1), Value::Undefined, &[Value::Num(6.0)])?;
    Ok(Value::Undefined)
}
fn exec_throw(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    Err(Ctl::Throw(Value::str("bad")))
}
fn exec_nothing(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    Ok(Value::Undefined)
}
fn double(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    cx.logs.push("double".into());
    Ok(Value::Num(c.arg(0).as_num().unwrap_or(f64::NAN) * 2.0))
}
fn recover(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    cx.logs.push(format!("recover {:?}", c.arg(0)));
    Ok(Value::str("recovered"))
}
fn rethrow(_cx: &mut Cx, c: &Call) -> JsResult<Value> {
    Err(Ctl::Throw(c.arg(0)))
}
fn on_finally(cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    cx.logs.push("finally".into());
    Ok(Value::Num(99.0))
}
/// Writes property `x` of the object in its first argument's `target` property.
fn write_target(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let t = props::get(cx, &c.arg(0), &props::key("target"))?;
    props::set(cx, &t, &props::key("x"), Value::Num(1.0))?;
    Ok(Value::Undefined)
}
static FUNCS: &[Code] = &[
    exec_resolve,
    exec_throw,
    exec_nothing,
    double,
    recover,
    rethrow,
    on_finally,
    write_target,
];

fn f(cx: &mut Cx, i: u32) -> Value {
    call::make_function(cx, i, None, "f", 1, crate::heap::fflags::ARROW).unwrap()
}
fn ctor(cx: &mut Cx) -> Value {
    cx.realm.global("Promise").unwrap()
}
fn num(r: JsResult<Value>) -> f64 {
    match r {
        Ok(Value::Num(n)) => n,
        other => panic!("not a number: {:?}", other),
    }
}
fn thrown(r: JsResult<Value>) -> Value {
    match r {
        Err(Ctl::Throw(v)) => v,
        other => panic!("not a throw: {:?}", other),
    }
}
fn gave_up(r: JsResult<Value>) -> bool {
    matches!(r, Err(Ctl::Abort(_)))
}
fn array(cx: &Cx, v: &Value) -> Vec<Value> {
    match cx.heap.kind(v.as_obj().expect("array")) {
        ObjKind::Array(items) => items.clone(),
        k => panic!("not an array: {:?}", k),
    }
}

#[test]
fn the_executor_settles_the_promise() {
    let mut cx = test_cx(FUNCS);
    let c = ctor(&mut cx);
    let e = f(&mut cx, 0);
    let p = call::construct(&mut cx, &c, &[e]).unwrap();
    assert_eq!(num(await_value(&mut cx, p)), 5.0);
    let e = f(&mut cx, 1);
    let p = call::construct(&mut cx, &c, &[e]).unwrap();
    assert!(matches!(thrown(await_value(&mut cx, p)), Value::Str(_)));
    let e = f(&mut cx, 2);
    assert!(gave_up(call::construct(&mut cx, &c, &[e])));
    assert!(gave_up(call::construct(&mut cx, &c, &[Value::Num(1.0)])));
}

#[test]
fn non_promises_pass_through_await_and_thenables_give_up() {
    let mut cx = test_cx(FUNCS);
    assert_eq!(num(await_value(&mut cx, Value::Num(3.0))), 3.0);
    let o = cx.new_object().unwrap();
    assert!(await_value(&mut cx, o.clone()).is_ok());
    let then = f(&mut cx, 2);
    props::set(&mut cx, &o, &props::key("then"), then).unwrap();
    assert!(gave_up(await_value(&mut cx, o)));
}

#[test]
fn then_catch_and_finally_run_when_awaited_and_once() {
    let mut cx = test_cx(FUNCS);
    let c = ctor(&mut cx);
    let p = (RESOLVE.f)(&mut cx, &c, &[Value::Num(21.0)]).unwrap();
    let d = f(&mut cx, 3);
    let q = (THEN.f)(&mut cx, &p, &[d]).unwrap();
    assert!(cx.logs.is_empty(), "callbacks wait for the await");
    assert_eq!(num(await_value(&mut cx, q.clone())), 42.0);
    assert_eq!(num(await_value(&mut cx, q)), 42.0);
    assert_eq!(cx.logs, vec!["double"]);

    let r = (REJECT.f)(&mut cx, &c, &[Value::str("no")]).unwrap();
    let d = f(&mut cx, 3);
    let skipped = (THEN.f)(&mut cx, &r, &[d]).unwrap();
    assert!(matches!(
        thrown(await_value(&mut cx, skipped.clone())),
        Value::Str(_)
    ));
    let rec = f(&mut cx, 4);
    let caught = (CATCH.f)(&mut cx, &skipped, &[rec]).unwrap();
    assert!(matches!(await_value(&mut cx, caught), Ok(Value::Str(s)) if s.eq_str("recovered")));

    cx.logs.clear();
    let fin = f(&mut cx, 6);
    let p = (RESOLVE.f)(&mut cx, &c, &[Value::Num(1.0)]).unwrap();
    let q = (FINALLY.f)(&mut cx, &p, std::slice::from_ref(&fin)).unwrap();
    assert_eq!(
        num(await_value(&mut cx, q)),
        1.0,
        "finally passes the value on"
    );
    let q = (FINALLY.f)(&mut cx, &r, &[fin]).unwrap();
    assert!(matches!(thrown(await_value(&mut cx, q)), Value::Str(_)));
    assert_eq!(cx.logs, vec!["finally", "finally"]);
}

#[test]
fn a_callback_may_not_write_state_older_than_its_promise() {
    let mut cx = test_cx(FUNCS);
    let c = ctor(&mut cx);
    let target = cx.new_object().unwrap();
    let holder = cx.new_object().unwrap();
    props::set(&mut cx, &holder, &props::key("target"), target).unwrap();
    let p = (RESOLVE.f)(&mut cx, &c, &[holder]).unwrap();
    let w = f(&mut cx, 7);
    let q = (THEN.f)(&mut cx, &p, &[w]).unwrap();
    assert!(gave_up(await_value(&mut cx, q)));
}

#[test]
fn all_collects_in_order_and_rejects_once() {
    let mut cx = test_cx(FUNCS);
    let c = ctor(&mut cx);
    let two = (RESOLVE.f)(&mut cx, &c, &[Value::Num(2.0)]).unwrap();
    let d = f(&mut cx, 3);
    let four = (THEN.f)(&mut cx, &two, &[d]).unwrap();
    let list = cx.new_array(vec![Value::Num(1.0), two, four]).unwrap();
    let all = (ALL.f)(&mut cx, &c, &[list]).unwrap();
    let v = await_value(&mut cx, all).unwrap();
    let got: Vec<f64> = array(&cx, &v).iter().map(|x| x.as_num().unwrap()).collect();
    assert_eq!(got, vec![1.0, 2.0, 4.0]);

    let bad = (REJECT.f)(&mut cx, &c, &[Value::str("first")]).unwrap();
    let list = cx.new_array(vec![Value::Num(1.0), bad.clone()]).unwrap();
    let all = (ALL.f)(&mut cx, &c, &[list]).unwrap();
    assert!(matches!(thrown(await_value(&mut cx, all)), Value::Str(_)));
    let worse = (REJECT.f)(&mut cx, &c, &[Value::str("second")]).unwrap();
    let list = cx.new_array(vec![bad.clone(), worse]).unwrap();
    let all = (ALL.f)(&mut cx, &c, &[list]).unwrap();
    assert!(
        gave_up(await_value(&mut cx, all)),
        "which rejection is first in time is unknown"
    );

    let list = cx.new_array(vec![Value::Num(1.0), bad]).unwrap();
    let settled = (ALL_SETTLED.f)(&mut cx, &c, &[list]).unwrap();
    let v = await_value(&mut cx, settled).unwrap();
    let items = array(&cx, &v);
    let keys = |cx: &Cx, o: &Value| {
        props::own_enumerable_keys(cx, o.as_obj().unwrap())
            .iter()
            .map(|k| k.to_rust_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&cx, &items[0]), vec!["status", "value"]);
    assert_eq!(keys(&cx, &items[1]), vec!["status", "reason"]);
    let st = props::get(&mut cx, &items[1], &props::key("status")).unwrap();
    assert!(matches!(st, Value::Str(s) if s.eq_str("rejected")));
    let race = (RACE.f)(&mut cx, &c, &[Value::Undefined]);
    assert!(gave_up(race));
}

#[test]
fn awaiting_io_without_a_host_gives_up() {
    let mut cx = test_cx(FUNCS);
    let p = new_promise(&mut cx, PromiseState::Pending(0)).unwrap();
    assert!(gave_up(await_value(&mut cx, p)));
}
