use super::*;
use crate::cx::{test_cx, Ctl};

#[test]
fn reading_constructor_of_an_event_or_a_context_gives_up() {
    let mut cx = test_cx(&[]);
    for class in ["FunctionContext", "FunctionEvent"] {
        let p = cx.realm.proto(class).unwrap();
        let o = cx.heap.alloc(Obj::new(ObjKind::Ordinary, Some(p))).unwrap();
        let r = props::get(&mut cx, &Value::Obj(o), &key("constructor"));
        assert!(
            matches!(r, Err(Ctl::Abort(ref a)) if a.kind == AbortKind::Unsupported),
            "{}: {:?}",
            class,
            r
        );
    }
}

#[test]
fn the_containerless_object_holds_the_six_functions() {
    let mut cx = test_cx(&[]);
    let api = cx.realm.global("containerless").unwrap();
    for name in ["listen", "respond", "get", "post", "put", "delete"] {
        let f = props::get(&mut cx, &api, &key(name)).unwrap();
        assert!(is_callable(&cx, &f), "containerless.{}", name);
    }
    assert!(!uses_containerless(&cx));
    assert!(listener(&mut cx).is_none());
}

#[test]
fn host_state_starts_afresh_with_each_request() {
    let mut cx = test_cx(&[]);
    served(&mut cx).mode = Mode::Openfaas;
    assert_eq!(served(&mut cx).mode, Mode::Openfaas);
    cx.begin_request(&crate::cx::Limits::default());
    assert_eq!(served(&mut cx).mode, Mode::None);
}
