//! The runtime's core: abstract operations, property order, the heap's rules and the limits.

use clrt::call::{self, Callee, CalleeId};
use clrt::cx::{test_cx, AbortKind, Call, Ctl, Cx, JsResult};
use clrt::heap::{Obj, ObjKind};
use clrt::ops::{self, CmpOp};
use clrt::props::{self, key};
use clrt::{JsStr, Value};

fn s(v: &str) -> Value {
    Value::str(v)
}

fn abort_kind<T: std::fmt::Debug>(r: JsResult<T>) -> AbortKind {
    match r {
        Err(Ctl::Abort(a)) => a.kind,
        other => panic!("expected a give-up, got {:?}", other),
    }
}

#[test]
fn number_to_string_matches_javascript() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.5, "-1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (123e-20, "1.23e-18"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (5e-324, "5e-324"),
        (2f64.powi(53), "9007199254740992"),
    ];
    for (n, want) in cases {
        assert_eq!(ops::number_to_jsstr(*n).to_rust_string(), *want, "{}", n);
    }
}

#[test]
fn string_to_number_follows_the_string_numeric_grammar() {
    let cases: &[(&str, f64)] = &[
        ("", 0.0),
        ("  12  ", 12.0),
        ("0x1F", 31.0),
        ("0b101", 5.0),
        ("0o17", 15.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+7", 7.0),
        ("-Infinity", f64::NEG_INFINITY),
    ];
    for (text, want) in cases {
        assert_eq!(
            ops::string_to_number(&JsStr::from(*text)),
            *want,
            "{:?}",
            text
        );
    }
    for bad in [
        "inf", "nan", "1_000", "0x", "-0x10", "1e", "abc", "12px", "infinity",
    ] {
        assert!(
            ops::string_to_number(&JsStr::from(bad)).is_nan(),
            "{:?}",
            bad
        );
    }
}

#[test]
fn equality_and_comparison_follow_the_spec() {
    let mut cx = test_cx(&[]);
    assert!(ops::loose_equals(&mut cx, &Value::Null, &Value::Undefined).unwrap());
    assert!(!ops::loose_equals(&mut cx, &Value::Null, &Value::Num(0.0)).unwrap());
    assert!(ops::loose_equals(&mut cx, &s("1"), &Value::Num(1.0)).unwrap());
    assert!(ops::loose_equals(&mut cx, &Value::Bool(true), &s("1")).unwrap());
    assert!(!ops::strict_equals(
        &Value::Num(f64::NAN),
        &Value::Num(f64::NAN)
    ));
    assert!(ops::strict_equals(&Value::Num(0.0), &Value::Num(-0.0)));
    assert!(
        ops::compare(&mut cx, CmpOp::Lt, &s("10"), &s("9")).unwrap(),
        "strings compare by code units"
    );
    assert!(!ops::compare(&mut cx, CmpOp::Lt, &s("10"), &Value::Num(9.0)).unwrap());
    // A chain of + made as one string, and, given something other than strings, as + left to right.
    let (a, b, e) = (s("ab"), s("\u{1F600}"), s(""));
    let joined = ops::concat_strs(&mut cx, &[&a, &e, &b, &a]).unwrap();
    assert!(ops::strict_equals(&joined, &s("ab\u{1F600}ab")));
    let n = Value::Num(1.5);
    let mixed = ops::concat_strs(&mut cx, &[&n, &n, &a]).unwrap();
    assert!(
        ops::strict_equals(&mixed, &s("3ab")),
        "1.5 + 1.5 is 3, then 'ab'"
    );
    // Two strings: the first unit that differs decides, else the shorter (a prefix) is less; units, not
    // code points, so U+10000 (0xD800 0xDC00) is less than U+FFFF. Each row: a, b, a<b, a>b, a<=b, a>=b.
    for (a, b, lt, gt, le, ge) in [
        ("2025-03-14", "2025-03-02", false, true, false, true),
        ("abc", "abd", true, false, true, false),
        ("ab", "abc", true, false, true, false),
        ("abc", "ab", false, true, false, true),
        ("", "", false, false, true, true),
        ("", "a", true, false, true, false),
        ("same", "same", false, false, true, true),
        ("Z", "a", true, false, true, false),
        ("\u{10000}", "\u{FFFF}", true, false, true, false),
        ("\u{e9}", "\u{10000}", true, false, true, false),
        // Past the first eight units, which are compared at once.
        ("abcdefgh-1", "abcdefgh-2", true, false, true, false),
        (
            "abcdefghijklmnopq",
            "abcdefghijklmnop",
            false,
            true,
            false,
            true,
        ),
        (
            "abcdefghijklmnop",
            "abcdefghijklmnop",
            false,
            false,
            true,
            true,
        ),
        (
            "abcdefgHijklmnop",
            "abcdefghijklmnop",
            true,
            false,
            true,
            false,
        ),
    ] {
        let (x, y) = (s(a), s(b));
        let got = [CmpOp::Lt, CmpOp::Gt, CmpOp::Le, CmpOp::Ge]
            .map(|op| ops::compare(&mut cx, op, &x, &y).unwrap());
        assert_eq!(got, [lt, gt, le, ge], "{a:?} against {b:?}");
    }
    assert!(!ops::compare(&mut cx, CmpOp::Ge, &Value::Num(f64::NAN), &Value::Num(1.0)).unwrap());
    let arr = cx
        .new_array(vec![Value::Num(1.0), Value::Num(2.0)])
        .unwrap();
    let _ = arr;
}

#[test]
fn addition_concatenates_or_adds() {
    let mut cx = test_cx(&[]);
    let r = ops::add(&mut cx, &s("a"), &Value::Num(1.5)).unwrap();
    assert_eq!(r.as_str().unwrap().to_rust_string(), "a1.5");
    let r = ops::add(&mut cx, &Value::Bool(true), &Value::Null).unwrap();
    assert_eq!(r.as_num(), Some(1.0));
    let r = ops::add(&mut cx, &Value::Undefined, &Value::Num(1.0)).unwrap();
    assert!(r.as_num().unwrap().is_nan());
}

#[test]
fn integer_keys_enumerate_first_then_insertion_order() {
    let mut cx = test_cx(&[]);
    let o = cx.new_object().unwrap();
    for k in ["b", "2", "a", "10", "1", "-1", "01"] {
        props::set(&mut cx, &o, &key(k), Value::Num(0.0)).unwrap();
    }
    let keys: Vec<String> = props::own_enumerable_keys(&cx, o.as_obj().unwrap())
        .iter()
        .map(|k| k.to_rust_string())
        .collect();
    assert_eq!(keys, ["1", "2", "10", "b", "a", "-1", "01"]);
    props::delete(&mut cx, &o, &key("b")).unwrap();
    props::set(&mut cx, &o, &key("b"), Value::Num(1.0)).unwrap();
    let keys: Vec<String> = props::own_enumerable_keys(&cx, o.as_obj().unwrap())
        .iter()
        .map(|k| k.to_rust_string())
        .collect();
    assert_eq!(
        keys,
        ["1", "2", "10", "a", "-1", "01", "b"],
        "a deleted key comes back at the end"
    );
}

#[test]
fn arrays_grow_with_holes_that_read_as_undefined() {
    let mut cx = test_cx(&[]);
    let a = cx.new_array(vec![Value::Num(1.0)]).unwrap();
    props::set_computed(&mut cx, &a, &Value::Num(3.0), s("x")).unwrap();
    assert_eq!(
        props::get(&mut cx, &a, &key("length")).unwrap().as_num(),
        Some(4.0)
    );
    assert!(props::get_computed(&mut cx, &a, &Value::Num(2.0))
        .unwrap()
        .is_undefined());
    assert!(!props::has_own(&cx, a.as_obj().unwrap(), &key("2")));
    props::set(&mut cx, &a, &key("length"), Value::Num(1.0)).unwrap();
    assert!(props::get_computed(&mut cx, &a, &Value::Num(3.0))
        .unwrap()
        .is_undefined());
}

#[test]
fn reading_a_property_of_undefined_gives_up_rather_than_throwing_another_message() {
    let mut cx = test_cx(&[]);
    assert_eq!(
        abort_kind(props::get(&mut cx, &Value::Undefined, &key("x"))),
        AbortKind::Uncaught
    );
}

#[test]
fn module_writes_are_undone_and_reported_unless_put_back() {
    let prog: &'static clrt::Program = Box::leak(Box::new(clrt::Program {
        name: "t",
        funcs: &[],
        init: |_, _| Ok(Value::Undefined),
        trace_version: 1,
        strings: &[],
        sort_rows: &[],
    }));
    let mut cx = Cx::new(prog, &clrt::Limits::default()).unwrap();
    let module_obj = cx.new_object().unwrap();
    props::set(&mut cx, &module_obj, &key("n"), Value::Num(1.0)).unwrap();
    let module_arr = cx
        .new_array(vec![Value::Num(0.0), Value::Num(0.0)])
        .unwrap();
    cx.heap.seal_module();
    // Written and put back: not a change.
    cx.begin_request(&clrt::Limits::default());
    props::set(&mut cx, &module_obj, &key("n"), Value::Num(2.0)).unwrap();
    props::set_computed(&mut cx, &module_arr, &Value::Num(1.0), Value::Num(5.0)).unwrap();
    assert!(cx.heap.module_changed());
    props::set(&mut cx, &module_obj, &key("n"), Value::Num(1.0)).unwrap();
    props::set_computed(&mut cx, &module_arr, &Value::Num(1.0), Value::Num(0.0)).unwrap();
    assert!(
        !cx.heap.module_changed(),
        "state put back as it was is unchanged"
    );
    // Left changed, or with a property added and removed (order matters): a change, undone by the next request.
    cx.begin_request(&clrt::Limits::default());
    props::set(&mut cx, &module_obj, &key("n"), Value::Num(-0.0)).unwrap();
    assert!(cx.heap.module_changed(), "-0 is not +0");
    let mine = cx.new_object().unwrap();
    props::set(&mut cx, &module_obj, &key("o"), mine).unwrap();
    cx.begin_request(&clrt::Limits::default());
    assert!(!cx.heap.module_changed());
    assert_eq!(
        props::get(&mut cx, &module_obj, &key("n"))
            .unwrap()
            .as_num(),
        Some(1.0),
        "the next request sees the module as it was"
    );
    assert!(props::get(&mut cx, &module_obj, &key("o"))
        .unwrap()
        .is_nullish());
    assert_eq!(
        cx.heap.len(),
        module_arr.as_obj().unwrap().0 as usize + 1,
        "a request's objects are freed when the next begins"
    );
}

#[test]
fn the_heap_cap_fuel_and_deadline_stop_a_request() {
    let prog: &'static clrt::Program = Box::leak(Box::new(clrt::Program {
        name: "t",
        funcs: &[],
        init: |_, _| Ok(Value::Undefined),
        trace_version: 1,
        strings: &[],
        sort_rows: &[],
    }));
    let limits = clrt::Limits {
        fuel: 1000,
        heap_bytes: 10_000,
        deadline: std::time::Duration::from_secs(5),
    };
    let mut cx = Cx::new(prog, &limits).unwrap();
    cx.heap.seal_module();
    cx.begin_request(&limits);
    let mut heap_err = None;
    for _ in 0..1000 {
        if let Err(e) = cx.heap.alloc(Obj::new(ObjKind::Ordinary, None)) {
            heap_err = Some(e.kind);
            break;
        }
    }
    assert_eq!(heap_err, Some(AbortKind::Heap));
    cx.begin_request(&limits);
    let mut fuel_err = None;
    for _ in 0..2000 {
        if let Err(e) = cx.tick() {
            fuel_err = Some(abort_kind::<()>(Err(e)));
            break;
        }
    }
    assert_eq!(fuel_err, Some(AbortKind::Fuel));
    let limits = clrt::Limits {
        fuel: u64::MAX,
        heap_bytes: 10_000,
        deadline: std::time::Duration::from_millis(0),
    };
    cx.begin_request(&limits);
    std::thread::sleep(std::time::Duration::from_millis(2));
    let mut deadline_err = None;
    for _ in 0..5000 {
        if let Err(e) = cx.tick() {
            deadline_err = Some(abort_kind::<()>(Err(e)));
            break;
        }
    }
    assert_eq!(deadline_err, Some(AbortKind::Deadline));
}

fn add_captured(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let env = call::env_of(cx, c.callee).expect("env");
    let x = props::scope_get(cx, env, 0, 0);
    let y = c.arg(0);
    let r = ops::add(cx, &x, &y)?;
    props::scope_set(cx, env, 0, 0, r.clone())?;
    Ok(r)
}
static FUNCS: &[clrt::Code] = &[add_captured];

#[test]
fn closures_share_their_environment_and_guards_check_callees() {
    let mut cx = test_cx(FUNCS);
    let env = props::new_scope(&mut cx, 1, None).unwrap();
    props::scope_set(&mut cx, env, 0, 0, Value::Num(10.0)).unwrap();
    let f = call::make_function(&mut cx, 0, Some(env), "acc", 1, 0).unwrap();
    assert_eq!(
        call::call(&mut cx, &f, Value::Undefined, &[Value::Num(1.0)])
            .unwrap()
            .as_num(),
        Some(11.0)
    );
    assert_eq!(
        call::call(&mut cx, &f, Value::Undefined, &[Value::Num(2.0)])
            .unwrap()
            .as_num(),
        Some(13.0)
    );
    let c = call::callee_of(&cx, &f).unwrap();
    assert!(call::guard_callee(&cx, &c, &[CalleeId::User(0)], 1).is_ok());
    assert_eq!(
        abort_kind(call::guard_callee(&cx, &c, &[CalleeId::User(1)], 1)),
        AbortKind::CalleeGuard
    );
    let _ = Callee::Obj(f.as_obj().unwrap());
}

#[test]
fn type_guards_accept_only_the_traced_types() {
    let cx = test_cx(&[]);
    assert!(ops::guard_type(
        &cx,
        &Value::Num(1.0),
        clrt::tag::NUMBER | clrt::tag::STRING,
        7
    )
    .is_ok());
    assert_eq!(
        abort_kind(ops::guard_type(&cx, &Value::Null, clrt::tag::NUMBER, 7)),
        AbortKind::TypeGuard
    );
}

#[test]
fn int32_conversions_wrap() {
    assert_eq!(ops::f64_to_int32(4294967296.0 + 5.0), 5);
    assert_eq!(ops::f64_to_int32(2147483648.0), -2147483648);
    assert_eq!(ops::f64_to_int32(-1.5), -1);
    assert_eq!(ops::f64_to_uint32(-1.0), 4294967295);
    assert!(ops::js_pow(1.0, f64::INFINITY).is_nan());
}

#[test]
fn private_members_are_hidden_and_brand_checked() {
    let mut cx = test_cx(&[]);
    let pkey: Vec<u16> = std::iter::once(0xFFFFu16)
        .chain("#x@1".encode_utf16())
        .collect();
    assert!(props::is_private_key(&pkey));
    let proto = cx.new_object().unwrap();
    let obj = cx.new_object().unwrap();
    let o = obj.as_obj().unwrap();
    cx.heap.get_mut(o).unwrap().proto = proto.as_obj();
    props::define_prop(
        &mut cx,
        o,
        clrt::value::JsStr::from_units(pkey.clone()),
        clrt::heap::Prop::hidden(Value::Num(1.0)),
    )
    .unwrap();
    props::set(&mut cx, &obj, &key("shown"), Value::Bool(true)).unwrap();
    // Read and written as a field; invisible to enumeration.
    assert_eq!(
        props::get_private(&mut cx, &obj, &pkey).unwrap().as_num(),
        Some(1.0)
    );
    props::set_private(&mut cx, &obj, &pkey, Value::Num(2.0)).unwrap();
    assert_eq!(
        props::get_private(&mut cx, &obj, &pkey).unwrap().as_num(),
        Some(2.0)
    );
    let keys: Vec<String> = props::own_enumerable_keys(&cx, o)
        .iter()
        .map(|k| k.to_rust_string())
        .collect();
    assert_eq!(keys, vec!["shown".to_string()]);
    // An object of another class has no such member: JavaScript throws a TypeError, and this gives up.
    let other = cx.new_object().unwrap();
    assert_eq!(
        abort_kind(props::get_private(&mut cx, &other, &pkey)),
        AbortKind::Uncaught
    );
    assert_eq!(
        abort_kind(props::set_private(&mut cx, &other, &pkey, Value::Null)),
        AbortKind::Uncaught
    );
    // A private method lives on the prototype: callable through the chain, not writable.
    let mkey: Vec<u16> = std::iter::once(0xFFFFu16)
        .chain("#m@1".encode_utf16())
        .collect();
    props::define_prop(
        &mut cx,
        proto.as_obj().unwrap(),
        clrt::value::JsStr::from_units(mkey.clone()),
        clrt::heap::Prop::hidden(Value::Num(7.0)),
    )
    .unwrap();
    assert_eq!(
        props::get_private(&mut cx, &obj, &mkey).unwrap().as_num(),
        Some(7.0)
    );
    assert_eq!(
        abort_kind(props::set_private(&mut cx, &obj, &mkey, Value::Null)),
        AbortKind::Uncaught
    );
}
