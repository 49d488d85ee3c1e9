use crate::testkit::calls::{case, check, How};

fn st(name: &'static str) -> How {
    How::Static(name)
}
fn m(name: &'static str) -> How {
    How::Method(name)
}

const VALUES: &[&str] = &[
    "{}",
    "{b:1,a:2,'1':'x','0':'y','-1':'m','4294967295':'big','4294967294':'top',c:undefined}",
    "[1,,'x',[2]]",
    "'h\\ud83d\\ude00'",
    "''",
    "5",
    "true",
    "null",
    "undefined",
    "M[[1,2]]",
    "S[1]",
    "@sub",
];

#[test]
fn statics_match_node() {
    let mut cs = Vec::new();
    for v in VALUES {
        for f in [
            "Object.keys",
            "Object.values",
            "Object.entries",
            "Object.getOwnPropertyNames",
            "Object.isFrozen",
            "Object.freeze",
            "Object.fromEntries",
        ] {
            cs.push(case(st(f), "0", v));
        }
        cs.push(case(st("Object"), "0", v));
        cs.push(case(How::New("Object"), "0", v));
        cs.push(case(st("Object.create"), "0", v));
        cs.push(case(st("Object.create"), "0", &format!("{},undefined", v)));
        for w in VALUES {
            cs.push(case(
                st("Object.assign"),
                "0",
                &format!("{{z:1}},{},{}", v, w),
            ));
            cs.push(case(st("Object.is"), "0", &format!("{},{}", v, w)));
        }
        for k in [
            "'a'",
            "'0'",
            "0",
            "'length'",
            "'name'",
            "'prototype'",
            "'size'",
            "'x'",
            "1",
        ] {
            cs.push(case(st("Object.hasOwn"), "0", &format!("{},{}", v, k)));
            cs.push(case(m("Object.prototype.hasOwnProperty"), v, k));
            cs.push(case(m("Object.prototype.propertyIsEnumerable"), v, k));
        }
        cs.push(case(m("Object.prototype.toString"), v, ""));
        cs.push(case(m("Object.prototype.toLocaleString"), v, ""));
        cs.push(case(m("Object.prototype.valueOf"), v, ""));
        cs.push(case(m("Object.prototype.isPrototypeOf"), v, "{}"));
    }
    for e in [
        "[['a',1],['b',2],['a',3]]",
        "[[1,2,3],[[],'arr'],[{},'obj'],[null,'n'],[undefined],[]]",
        "[{0:'k',1:'v'}]",
        "[1]",
        "['ab']",
        "M[['x',1],[2,'y']]",
        "S[['x',1]]",
        "'ab'",
    ] {
        cs.push(case(st("Object.fromEntries"), "0", e));
    }
    for (a, b) in [
        ("NaN", "NaN"),
        ("0", "-0"),
        ("-0", "-0"),
        ("'a'", "'a'"),
        ("{}", "{}"),
        ("null", "undefined"),
    ] {
        cs.push(case(st("Object.is"), "0", &format!("{},{}", a, b)));
    }
    let n = check(&cs);
    assert!(n > 600, "compared {}", n);
}

#[test]
fn define_property_matches_node() {
    let mut cs = Vec::new();
    let descs = [
        "{value:1,writable:true,enumerable:true,configurable:true}",
        "{value:1,configurable:true}",
        "{value:1,enumerable:true,configurable:true}",
        "{value:1}",
        "{enumerable:true}",
        "{enumerable:false,configurable:true}",
        "{get:@zero,enumerable:true,configurable:true}",
        "{get:@zero,set:undefined,configurable:true}",
        "{set:@zero,enumerable:true,configurable:true}",
        "{get:@zero,value:1}",
        "{get:5}",
        "5",
        "{}",
        "{configurable:true}",
    ];
    for d in descs {
        for (o, k) in [
            ("{}", "'a'"),
            ("{a:1,b:2}", "'a'"),
            ("{a:1,b:2}", "'c'"),
            ("[1,2]", "1"),
            ("[1,2]", "'5'"),
            ("[1,2]", "'length'"),
            ("[1,2]", "'x'"),
            ("5", "'a'"),
        ] {
            cs.push(case(
                st("Object.defineProperty"),
                "0",
                &format!("{},{},{}", o, k, d),
            ));
        }
    }
    let n = check(&cs);
    assert!(n > 30, "compared {}", n);
}

#[test]
fn realm_objects_are_recognised() {
    use crate::value::Value;
    let cx = crate::cx::test_cx(&[]);
    for g in ["Math", "JSON", "Array", "Object"] {
        if let Some(Value::Obj(o)) = cx.realm.global(g) {
            assert!(super::is_realm_object(o), "{}", g);
        }
    }
    assert!(super::is_realm_object(event_proto(&cx)));
    let mut cx = cx;
    let o = cx.new_object().unwrap().as_obj().unwrap();
    assert!(!super::is_realm_object(o));
}

#[test]
fn to_string_tags_builtin_objects() {
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(&[]);
    let tag = |cx: &mut crate::cx::Cx, v: &Value| {
        super::object_to_string(cx, v)
            .ok()
            .map(|s| s.as_str().unwrap().to_rust_string())
    };
    let math = cx.realm.global("Math").unwrap();
    assert_eq!(tag(&mut cx, &math).as_deref(), Some("[object Math]"));
    let ap = Value::Obj(cx.realm.array_proto);
    assert_eq!(tag(&mut cx, &ap).as_deref(), Some("[object Array]"));
    let mp = Value::Obj(map_proto(&cx));
    assert_eq!(tag(&mut cx, &mp).as_deref(), Some("[object Map]"));
    let ep = Value::Obj(cx.realm.error_proto);
    assert_eq!(tag(&mut cx, &ep).as_deref(), Some("[object Object]"));
    let np = Value::Obj(cx.realm.number_proto);
    assert_eq!(tag(&mut cx, &np).as_deref(), Some("[object Number]"));
    let f =
        crate::call::make_function(&mut cx, 0, None, "f", 0, crate::heap::fflags::ASYNC).unwrap();
    assert_eq!(tag(&mut cx, &f).as_deref(), Some("[object AsyncFunction]"));
    let ev = Value::Obj(event_proto(&cx));
    assert_eq!(tag(&mut cx, &ev), None);
}

/// The realm's FunctionEvent.prototype.
fn event_proto(cx: &crate::cx::Cx) -> crate::value::ObjRef {
    cx.realm
        .proto("FunctionEvent")
        .expect("FunctionEvent.prototype is installed")
}

/// The realm's Map.prototype.
fn map_proto(cx: &crate::cx::Cx) -> crate::value::ObjRef {
    cx.realm.proto("Map").expect("Map.prototype is installed")
}
