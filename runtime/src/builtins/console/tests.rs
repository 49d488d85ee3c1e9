use super::*;
use crate::cx::{test_cx, Call, Code};

fn log(cx: &mut Cx, args: &[Value]) -> String {
    (LOG.f)(cx, &Value::Undefined, args).unwrap();
    cx.logs.pop().unwrap()
}

fn value_of(cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    cx.logs.push("valueOf ran".into());
    Ok(Value::Num(7.0))
}
static FUNCS: &[Code] = &[value_of];

#[test]
fn formats_primitives_and_placeholders_as_node() {
    let mut cx = test_cx(FUNCS);
    let s = |x: &str| Value::str(x);
    assert_eq!(log(&mut cx, &[s("a%%b")]), "a%%b");
    assert_eq!(log(&mut cx, &[s("a%%b"), Value::Num(1.0)]), "a%b 1");
    assert_eq!(
        log(
            &mut cx,
            &[
                s("x"),
                Value::Num(-0.0),
                Value::Bool(true),
                Value::Null,
                Value::Undefined,
                s("y")
            ]
        ),
        "x -0 true null undefined y"
    );
    assert_eq!(
        log(&mut cx, &[s("%s=%d"), s("n"), s("42"), s("extra")]),
        "n=42 extra"
    );
    assert_eq!(
        log(&mut cx, &[s("%i|%f|%j"), s("12.5px"), s("1.5e3x"), s("q")]),
        "12|1500|\"q\""
    );
    assert_eq!(log(&mut cx, &[s("%s %s"), s("only")]), "only %s");
    assert_eq!(log(&mut cx, &[s("%x"), Value::Num(1.0)]), "%x 1");
    assert_eq!(
        log(&mut cx, &[Value::Num(1.0), s("%s"), Value::Num(2.0)]),
        "1 %s 2"
    );
}

#[test]
fn inspects_objects_and_arrays() {
    let mut cx = test_cx(FUNCS);
    let inner = cx
        .new_array(vec![Value::Num(1.0), Value::str("two"), Value::Hole])
        .unwrap();
    let o = cx.new_object().unwrap();
    props::set(&mut cx, &o, &props::key("a"), inner).unwrap();
    props::set(&mut cx, &o, &props::key("b-c"), Value::Null).unwrap();
    assert_eq!(
        log(&mut cx, std::slice::from_ref(&o)),
        "{ a: [ 1, 'two', <1 empty item> ], 'b-c': null }"
    );
    let empty = cx.new_object().unwrap();
    assert_eq!(log(&mut cx, &[Value::str("v:"), empty]), "v: {}");
    // A cycle.
    props::set(&mut cx, &o, &props::key("self"), o.clone()).unwrap();
    assert!(log(&mut cx, &[o]).contains("[Circular *1]"));
    let e = cx.make_error("TypeError", "bad").unwrap();
    assert_eq!(log(&mut cx, &[e]), "TypeError: bad");
}

#[test]
fn placeholders_run_the_conversions_node_runs() {
    let mut cx = test_cx(FUNCS);
    let o = cx.new_object().unwrap();
    let f = crate::call::make_function(&mut cx, 0, None, "valueOf", 0, 0).unwrap();
    props::set(&mut cx, &o, &props::key("valueOf"), f).unwrap();
    assert_eq!(log(&mut cx, &[Value::str("%d"), o.clone()]), "7");
    assert_eq!(cx.logs, vec!["valueOf ran"]);
    cx.logs.clear();
    // Inspecting does not call it.
    let line = log(&mut cx, &[o]);
    assert!(line.starts_with("{ valueOf: [Function"), "{}", line);
    assert!(cx.logs.is_empty());
}
