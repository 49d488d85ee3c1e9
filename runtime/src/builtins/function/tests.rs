use crate::testkit::calls::{case, check, How};

fn m(name: &'static str) -> How {
    How::Method(name)
}

#[test]
fn call_and_apply_match_node() {
    let mut cs = Vec::new();
    for f in ["@args", "@this", "@sub", "@throw", "5", "{}"] {
        for a in ["", "1", "1,2,3", "undefined,'x'", "{t:1},[1]"] {
            cs.push(case(m("Function.prototype.call"), f, a));
        }
        for a in [
            "",
            "1",
            "1,[2,3]",
            "1,[2,,3]",
            "1,{length:2,0:'a'}",
            "1,{length:-1}",
            "1,null",
            "1,undefined",
            "1,5",
            "1,'ab'",
            "1,{}",
        ] {
            cs.push(case(m("Function.prototype.apply"), f, a));
        }
    }
    let n = check(&cs);
    assert!(n >= 50, "compared {}", n);
}

#[test]
fn bound_functions_match_node() {
    use crate::props;
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(crate::testkit::calls::FUNCS);
    // CALLBACKS[19] is `args`: function(...a){return [this,...a]}, length 0; [0] is `sub`, length 2.
    let sub = crate::call::make_function(&mut cx, 0, None, "sub", 2, 0).unwrap();
    let args = crate::call::make_function(&mut cx, 19, None, "args", 0, 0).unwrap();
    let b = super::bind(&mut cx, &sub, &[Value::Null, Value::Num(10.0)]).unwrap();
    assert_eq!(
        props::get(&mut cx, &b, &props::key("name"))
            .unwrap()
            .as_str()
            .unwrap()
            .to_rust_string(),
        "bound sub"
    );
    assert_eq!(
        props::get(&mut cx, &b, &props::key("length"))
            .unwrap()
            .as_num(),
        Some(1.0)
    );
    let r = crate::call::call(&mut cx, &b, Value::Undefined, &[Value::Num(3.0)]).unwrap();
    assert_eq!(r.as_num(), Some(7.0));
    // Binding a bound function: "bound bound sub", length max(0, 1 - 2) = 0.
    let bb = super::bind(
        &mut cx,
        &b,
        &[Value::Null, Value::Num(1.0), Value::Num(2.0)],
    )
    .unwrap();
    assert_eq!(
        props::get(&mut cx, &bb, &props::key("name"))
            .unwrap()
            .as_str()
            .unwrap()
            .to_rust_string(),
        "bound bound sub"
    );
    assert_eq!(
        props::get(&mut cx, &bb, &props::key("length"))
            .unwrap()
            .as_num(),
        Some(0.0)
    );
    // `this` and leading arguments are fixed.
    let t = cx.new_object().unwrap();
    let ba = super::bind(&mut cx, &args, &[t.clone(), Value::str("a")]).unwrap();
    let r = crate::call::call(&mut cx, &ba, Value::Num(1.0), &[Value::str("b")]).unwrap();
    let items = match cx.heap.kind(r.as_obj().unwrap()) {
        crate::heap::ObjKind::Array(v) => v.clone(),
        _ => panic!("not an array"),
    };
    assert_eq!(items.len(), 3);
    assert!(crate::ops::strict_equals(&items[0], &t));
    // Own keys in V8's order; not enumerable; read-only.
    let names = crate::builtins::by_name("Object.keys").unwrap();
    let keys = (names.f)(&mut cx, &Value::Undefined, std::slice::from_ref(&b)).unwrap();
    assert!(
        matches!(cx.heap.kind(keys.as_obj().unwrap()), crate::heap::ObjKind::Array(v) if v.is_empty())
    );
    assert!(props::set(&mut cx, &b, &props::key("name"), Value::str("x")).is_err());
    // Binding a non-function throws (gives up).
    assert!(super::bind(&mut cx, &Value::Num(1.0), &[]).is_err());
    assert!(super::to_string(&mut cx, &sub, &[]).is_err());
}
