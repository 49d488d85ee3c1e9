//! The realm as the builtins install it: each builtin where its name says, each once.

use crate::cx::test_cx;
use crate::heap::ObjKind;
use crate::native::Kind;
use crate::props;
use crate::value::Value;

/// The function object at `path` ("Array.prototype.map", "Math.floor", "parseInt"), read the way a
/// program reads it: a global, then property reads.
/// `X.prototype` is the realm's prototype of class X (there is no global `Function`, for one).
fn reach(cx: &mut crate::cx::Cx, path: &str) -> Option<Value> {
    let parts: Vec<&str> = path.split('.').collect();
    let (mut v, rest) = match parts.as_slice() {
        [class, "prototype", rest @ ..] => (Value::Obj(cx.realm.proto(class)?), rest),
        [global, rest @ ..] => (cx.realm.global(global)?, rest),
        [] => return None,
    };
    for p in rest {
        v = props::get(cx, &v, &props::key(p)).ok()?;
    }
    Some(v)
}

#[test]
fn every_builtin_is_installed_at_its_name() {
    let mut cx = test_cx(&[]);
    let installed: Vec<(String, &'static crate::native::BuiltinDef)> =
        cx.realm.installed().to_vec();
    assert!(
        installed.len() > 250,
        "only {} builtins installed",
        installed.len()
    );
    for (path, def) in installed {
        assert_eq!(path, def.name, "{} is installed at {}", def.name, path);
        if def.kind() == Kind::Getter {
            // A getter's path names an accessor: reading it on the prototype is not the function.
            continue;
        }
        match reach(&mut cx, &path) {
            Some(Value::Obj(f)) => match cx.heap.kind(f) {
                ObjKind::Native(d) => assert!(std::ptr::eq(*d, def), "{} reaches {}", path, d.name),
                k => panic!("{} reaches {:?}", path, k),
            },
            v => panic!("{} reaches {:?}", path, v),
        }
    }
}

#[test]
fn all_lists_each_builtin_once_by_name() {
    let defs = super::all();
    let mut names: Vec<&str> = defs.iter().map(|d| d.name).collect();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "two builtins share a name");
    assert!(super::by_name("Array.prototype.map").is_some());
    assert!(
        super::by_name("Number.parseInt").is_none(),
        "an alias is not a builtin of its own"
    );
}

#[test]
fn aliases_are_the_same_function_object() {
    let mut cx = test_cx(&[]);
    let a = reach(&mut cx, "Number.parseInt").unwrap();
    let b = reach(&mut cx, "parseInt").unwrap();
    assert!(crate::ops::strict_equals(&a, &b));
    let keys = reach(&mut cx, "Set.prototype.keys").unwrap();
    let values = reach(&mut cx, "Set.prototype.values").unwrap();
    assert!(crate::ops::strict_equals(&keys, &values));
    let pi = reach(&mut cx, "Math.PI").unwrap();
    assert!(matches!(pi, Value::Num(x) if x == std::f64::consts::PI));
}

#[test]
fn getters_refuse_writes_through_the_prototype_chain() {
    let mut cx = test_cx(&[]);
    let map_proto = Value::Obj(cx.realm.proto("Map").unwrap());
    let o = (crate::builtins::object::CREATE.f)(&mut cx, &Value::Undefined, &[map_proto]).unwrap();
    let r = props::set(&mut cx, &o, &props::key("size"), Value::Num(1.0));
    assert!(matches!(r, Err(crate::cx::Ctl::Abort(_))), "{:?}", r);
}
