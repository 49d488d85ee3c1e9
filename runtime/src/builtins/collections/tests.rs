use crate::testkit::calls::{case, check, How};

fn m(name: &'static str) -> How {
    How::Method(name)
}

#[test]
fn constructors_match_node() {
    let mut cs = Vec::new();
    for it in [
        "",
        "undefined",
        "null",
        "[]",
        "[[1,'a'],[2,'b'],[1,'c']]",
        "[[1],[],[,5],[NaN,1],[-0,2],[0,3]]",
        "[{0:'k',1:'v'},['x']]",
        "[1,2]",
        "'ab'",
        "''",
        "M[[1,'a'],[2,'b']]",
        "S[[1,'a'],[2,'b']]",
        "S[1]",
        "{}",
        "5",
    ] {
        cs.push(case(How::New("Map"), "0", it));
        cs.push(case(How::New("Set"), "0", it));
    }
    cs.push(case(How::Static("Map"), "0", ""));
    cs.push(case(How::Static("Set"), "0", ""));
    let n = check(&cs);
    assert!(n >= 20, "compared {}", n);
}

#[test]
fn methods_match_node() {
    let mut cs = Vec::new();
    let maps = [
        "M[]",
        "M[[1,'a'],[2,'b'],[3,'c']]",
        "M[[NaN,'n'],[0,'z'],['1','s'],[null,'l'],[undefined,'u']]",
    ];
    let keys = [
        "1",
        "2",
        "'1'",
        "NaN",
        "-0",
        "0",
        "null",
        "undefined",
        "4",
        "[]",
        "{}",
    ];
    for mp in maps {
        for k in keys {
            cs.push(case(m("Map.prototype.get"), mp, k));
            cs.push(case(m("Map.prototype.has"), mp, k));
            cs.push(case(m("Map.prototype.delete"), mp, k));
            cs.push(case(m("Map.prototype.set"), mp, &format!("{},'new'", k)));
        }
        cs.push(case(m("Map.prototype.set"), mp, ""));
        cs.push(case(m("Map.prototype.clear"), mp, ""));
        cs.push(case(How::Get("size"), mp, ""));
        cs.push(case(How::Set("size"), mp, "3"));
        for cb in [
            "@logargs",
            "@mapset",
            "@mapclear",
            "@args,'t'",
            "@throw",
            "5",
            "",
        ] {
            cs.push(case(m("Map.prototype.forEach"), mp, cb));
        }
    }
    let sets = ["S[]", "S[1,2,3]", "S[NaN,0,'1',null,undefined]"];
    for st in sets {
        for k in keys {
            cs.push(case(m("Set.prototype.has"), st, k));
            cs.push(case(m("Set.prototype.delete"), st, k));
            cs.push(case(m("Set.prototype.add"), st, k));
        }
        cs.push(case(m("Set.prototype.clear"), st, ""));
        cs.push(case(How::Get("size"), st, ""));
        for cb in [
            "@logargs",
            "@mapset",
            "@mapclear",
            "@args,'t'",
            "@throw",
            "",
        ] {
            cs.push(case(m("Set.prototype.forEach"), st, cb));
        }
    }
    // Receivers of the wrong kind throw.
    cs.push(case(m("Map.prototype.get"), "S[1]", "1"));
    cs.push(case(m("Set.prototype.add"), "M[]", "1"));
    cs.push(case(m("Map.prototype.get"), "{}", "1"));
    let n = check(&cs);
    assert!(n > 150, "compared {}", n);
}

#[test]
fn iterators_yield_their_part_once() {
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(&[]);
    let pairs = {
        let a = cx
            .new_array(vec![Value::Num(1.0), Value::str("a")])
            .unwrap();
        let b = cx
            .new_array(vec![Value::str("k"), Value::Bool(true)])
            .unwrap();
        cx.new_array(vec![a, b]).unwrap()
    };
    let m = (super::MAP.ctor.unwrap())(&mut cx, None, &[pairs]).unwrap();
    let show = |cx: &mut crate::cx::Cx, v: &Value| {
        crate::builtins::json::stringify_value(cx, v)
            .unwrap()
            .unwrap()
            .to_rust_string()
    };
    let it = super::map_entries(&mut cx, &m, &[]).unwrap();
    let items = crate::rt::iterate(&mut cx, &it).unwrap();
    let all = cx.new_array(items).unwrap();
    assert_eq!(show(&mut cx, &all), r#"[[1,"a"],["k",true]]"#);
    assert!(
        crate::rt::iterate(&mut cx, &it).unwrap().is_empty(),
        "an iterator is spent once iterated"
    );
    let keys = super::map_keys(&mut cx, &m, &[]).unwrap();
    let items = crate::rt::iterate(&mut cx, &keys).unwrap();
    let all = cx.new_array(items).unwrap();
    assert_eq!(show(&mut cx, &all), r#"[1,"k"]"#);
    let s = (super::SET.ctor.unwrap())(&mut cx, None, &[]).unwrap();
    super::set_add(&mut cx, &s, &[Value::str("x")]).unwrap();
    let it = super::set_entries(&mut cx, &s, &[]).unwrap();
    let items = crate::rt::iterate(&mut cx, &it).unwrap();
    let all = cx.new_array(items).unwrap();
    assert_eq!(show(&mut cx, &all), r#"[["x","x"]]"#);
    // An iterator reads its source when the iteration happens, as JavaScript's do.
    let it = super::set_values(&mut cx, &s, &[]).unwrap();
    super::set_add(&mut cx, &s, &[Value::str("y")]).unwrap();
    let items = crate::rt::iterate(&mut cx, &it).unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        super::map_keys(&mut cx, &s, &[]).is_err(),
        "a Set is not a Map"
    );
}

#[test]
fn size_is_an_accessor_on_the_prototype() {
    use crate::props;
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(&[]);
    let m = (super::MAP.ctor.unwrap())(&mut cx, None, &[]).unwrap();
    assert!(props::has_property(&mut cx, &m, &props::key("size")).unwrap());
    assert!(!props::has_own(
        &cx,
        m.as_obj().unwrap(),
        &props::key("size")
    ));
    // Object.create(map).size throws (the receiver is not a Map); we give up.
    let o = crate::builtins::by_name("Object.create").unwrap();
    let derived = (o.f)(&mut cx, &Value::Undefined, std::slice::from_ref(&m)).unwrap();
    assert!(props::get(&mut cx, &derived, &props::key("size")).is_err());
    // `m.size()` is a TypeError in Node: it gives up.
    let f = crate::call::method(&mut cx, &m, &props::key("size")).unwrap();
    assert!(crate::call::invoke(&mut cx, &f, m.clone(), &[]).is_err());
}
