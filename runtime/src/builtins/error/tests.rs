use super::*;
use crate::call;
use crate::cx::{test_cx, Call, Code, Ctl};

fn s(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_rust_string(),
        other => panic!("not a string: {:?}", other),
    }
}

fn construct(cx: &mut Cx, class: &str, args: &[Value]) -> Value {
    let c = cx.realm.global(class).expect("class");
    call::construct(cx, &c, args).expect("construct")
}

#[test]
fn constructors_make_errors_of_their_class() {
    let mut cx = test_cx(&[]);
    for class in [
        "Error",
        "TypeError",
        "RangeError",
        "SyntaxError",
        "ReferenceError",
        "URIError",
        "EvalError",
    ] {
        let e = construct(&mut cx, class, &[Value::str("boom")]);
        let o = e.as_obj().unwrap();
        assert!(matches!(cx.heap.kind(o), ObjKind::Error));
        assert_eq!(cx.heap.get(o).proto, cx.realm.proto(class));
        assert_eq!(
            s(&props::get(&mut cx, &e, &props::key("message")).unwrap()),
            "boom"
        );
        assert_eq!(
            s(&props::get(&mut cx, &e, &props::key("name")).unwrap()),
            class
        );
        // The message is own and not enumerable.
        assert!(props::own_enumerable_keys(&cx, o).is_empty());
        assert!(props::has_own(&cx, o, &props::key("message")));
        let t = (TO_STRING.f)(&mut cx, &e, &[]).unwrap();
        assert_eq!(s(&t), format!("{}: boom", class));
        // Called as a function, too.
        let f = cx.realm.global(class).unwrap();
        let e2 = call::call(&mut cx, &f, Value::Undefined, &[Value::Num(5.0)]).unwrap();
        assert_eq!(
            cx.heap.get(e2.as_obj().unwrap()).proto,
            cx.realm.proto(class)
        );
        assert_eq!(
            s(&props::get(&mut cx, &e2, &props::key("message")).unwrap()),
            "5"
        );
    }
}

#[test]
fn message_and_cause_are_installed_only_when_given() {
    let mut cx = test_cx(&[]);
    let e = construct(&mut cx, "Error", &[]);
    assert!(!props::has_own(
        &cx,
        e.as_obj().unwrap(),
        &props::key("message")
    ));
    assert_eq!(s(&(TO_STRING.f)(&mut cx, &e, &[]).unwrap()), "Error");
    let e = construct(&mut cx, "Error", &[Value::Undefined, Value::Num(5.0)]);
    assert!(!props::has_own(
        &cx,
        e.as_obj().unwrap(),
        &props::key("cause")
    ));
    let opts = cx.new_object().unwrap();
    props::set(&mut cx, &opts, &props::key("cause"), Value::Undefined).unwrap();
    let e = construct(&mut cx, "Error", &[Value::str("x"), opts]);
    let o = e.as_obj().unwrap();
    assert!(props::has_own(&cx, o, &props::key("cause")));
    assert!(props::own_enumerable_keys(&cx, o).is_empty());
}

#[test]
fn to_string_follows_the_spec() {
    let mut cx = test_cx(&[]);
    let mk = |cx: &mut Cx, name: Value, msg: Value| {
        let o = cx.new_object().unwrap();
        props::set(cx, &o, &props::key("name"), name).unwrap();
        props::set(cx, &o, &props::key("message"), msg).unwrap();
        o
    };
    let cases = [
        (Value::str(""), Value::str("m"), "m"),
        (Value::Undefined, Value::Undefined, "Error"),
        (Value::str("N"), Value::str(""), "N"),
        (Value::Num(1.0), Value::Bool(true), "1: true"),
    ];
    for (n, m, want) in cases {
        let o = mk(&mut cx, n, m);
        assert_eq!(s(&(TO_STRING.f)(&mut cx, &o, &[]).unwrap()), want);
    }
    assert!(matches!(
        (TO_STRING.f)(&mut cx, &Value::Num(5.0), &[]),
        Err(Ctl::Abort(_))
    ));
}

fn sub_ctor(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    call::super_call(cx, c, c.args)?;
    Ok(Value::Undefined)
}
static FUNCS: &[Code] = &[sub_ctor];

#[test]
fn super_from_a_user_subclass_turns_this_into_an_error() {
    let mut cx = test_cx(FUNCS);
    let parent = cx.realm.global("Error").unwrap();
    let class = call::make_class(
        &mut cx,
        "AppError",
        0,
        1,
        None,
        Some(parent.clone()),
        None,
        &[],
    )
    .unwrap();
    let e = call::construct(&mut cx, &class, &[Value::str("bad")]);
    // `new` on a user class goes through construct(); it is a plain object until super() runs.
    let e = match e {
        Ok(e) => e,
        Err(err) => panic!("{:?}", err),
    };
    let o = e.as_obj().unwrap();
    assert!(matches!(cx.heap.kind(o), ObjKind::Error));
    let is_error = ops::instance_of(&mut cx, &e, &parent).unwrap();
    assert!(is_error);
    assert_eq!(s(&(TO_STRING.f)(&mut cx, &e, &[]).unwrap()), "Error: bad");
    assert!(matches!(
        (CAPTURE_STACK_TRACE.f)(&mut cx, &Value::Undefined, std::slice::from_ref(&e)),
        Ok(Value::Undefined)
    ));
    let plain = cx.new_object().unwrap();
    assert!(matches!(
        (CAPTURE_STACK_TRACE.f)(&mut cx, &Value::Undefined, &[plain]),
        Err(Ctl::Abort(_))
    ));
}
