use super::*;
use crate::builtins::collections::MAP;
use crate::cx::{test_cx, Ctl};
use crate::props;
use crate::value::tag;

#[test]
fn a_map_iterator_yields_its_part_once() {
    let mut cx = test_cx(&[]);
    let m = (MAP.ctor.unwrap())(&mut cx, None, &[]).unwrap();
    let Value::Obj(mo) = m else { panic!("a Map") };
    crate::builtins::collections::map_insert(&mut cx, mo, Value::str("a"), Value::Num(1.0))
        .unwrap();
    crate::builtins::collections::map_insert(&mut cx, mo, Value::str("b"), Value::Num(2.0))
        .unwrap();
    let keys = crate::call::method(&mut cx, &m, &props::key("keys")).unwrap();
    let it = crate::call::invoke(&mut cx, &keys, m.clone(), &[]).unwrap();
    assert_eq!(crate::ops::type_tag(&cx, &it), tag::OBJECT);
    let items = crate::rt::iterate(&mut cx, &it).unwrap();
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[0], Value::Str(s) if s.eq_str("a")));
    assert!(
        crate::rt::iterate(&mut cx, &it).unwrap().is_empty(),
        "a used iterator is exhausted"
    );
}

#[test]
fn an_iterator_is_a_host_object() {
    let mut cx = test_cx(&[]);
    let a = cx.new_array(vec![Value::Num(1.0)]).unwrap();
    let it = make_iterator(
        &mut cx,
        &a,
        IterPart::Values,
        |k| matches!(k, ObjKind::Array(_)),
        "values",
    )
    .unwrap();
    let Value::Obj(o) = it else {
        panic!("an object")
    };
    assert!(cx.heap.kind(o).is_host());
    let keys =
        (crate::builtins::object::KEYS.f)(&mut cx, &Value::Undefined, std::slice::from_ref(&it));
    assert!(matches!(keys, Err(Ctl::Abort(_))), "{:?}", keys);
    assert!(make_iterator(&mut cx, &Value::Num(1.0), IterPart::Keys, |_| true, "keys").is_err());
}
