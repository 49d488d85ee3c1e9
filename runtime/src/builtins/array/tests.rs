use crate::testkit::calls::{case, check, How, Rng};

fn m(name: &'static str) -> How {
    How::Method(name)
}

#[test]
#[should_panic(expected = "differ from Node")]
fn the_harness_catches_a_difference() {
    // `liar` answers 1 here and 2 in Node.
    check(&[case(m("Array.prototype.map"), "[1,2]", "")]);
    check(&[case(m("Array.prototype.map"), "[1,2]", "@liar")]);
}

#[test]
fn accessors_and_searches_match_node() {
    let mut cs = Vec::new();
    let arrs = [
        "[]",
        "[1,2,3]",
        "[1,,3,undefined,null,NaN,-0,0,'1']",
        "[,,]",
        "['a','b','c','d','e']",
        "[[1,2],[3,[4,[5]]],6]",
        "[{a:1},[],'x',true]",
    ];
    let idx_args = [
        "",
        "0",
        "1",
        "-1",
        "-2",
        "2.7",
        "'1'",
        "NaN",
        "Infinity",
        "-Infinity",
        "100",
        "-100",
        "undefined",
        "null",
        "true",
    ];
    for a in arrs {
        for i in idx_args {
            cs.push(case(m("Array.prototype.at"), a, i));
            cs.push(case(m("Array.prototype.slice"), a, i));
            cs.push(case(
                m("Array.prototype.slice"),
                a,
                &format!("{},-1", if i.is_empty() { "undefined" } else { i }),
            ));
            cs.push(case(m("Array.prototype.flat"), a, i));
            for x in ["1", "undefined", "NaN", "0", "-0", "'1'", "3"] {
                let args = if i.is_empty() {
                    x.to_string()
                } else {
                    format!("{},{}", x, i)
                };
                cs.push(case(m("Array.prototype.includes"), a, &args));
                cs.push(case(m("Array.prototype.indexOf"), a, &args));
                cs.push(case(m("Array.prototype.lastIndexOf"), a, &args));
            }
        }
        cs.push(case(m("Array.prototype.lastIndexOf"), a, "3,undefined"));
        for sep in ["", "undefined", "'-'", "''", "null", "1", "', '"] {
            cs.push(case(m("Array.prototype.join"), a, sep));
        }
        cs.push(case(m("Array.prototype.toString"), a, ""));
        cs.push(case(m("Array.prototype.concat"), a, ""));
        cs.push(case(
            m("Array.prototype.concat"),
            a,
            "1,[2,,3],[[4]],'s',{a:1}",
        ));
        cs.push(case(m("Array.prototype.toReversed"), a, ""));
        cs.push(case(m("Array.prototype.flat"), a, "Infinity"));
        for w in ["0,'w'", "-1,'w'", "5,'w'", "-9,'w'", "1.5,7"] {
            cs.push(case(m("Array.prototype.with"), a, w));
        }
        for s in [
            "",
            "1",
            "1,1",
            "1,2,'x','y'",
            "-2,1",
            "0,100,'z'",
            "undefined,undefined",
            "Infinity",
            "-Infinity,1",
        ] {
            cs.push(case(m("Array.prototype.toSpliced"), a, s));
        }
    }
    let n = check(&cs);
    assert!(n > 1000, "compared {}", n);
}

#[test]
fn mutators_match_node() {
    let mut cs = Vec::new();
    let arrs = [
        "[]",
        "[1]",
        "[1,2,3,4,5]",
        "[1,,3,,5,]",
        "[,,]",
        "['a',undefined,null]",
    ];
    for a in arrs {
        cs.push(case(m("Array.prototype.push"), a, ""));
        cs.push(case(m("Array.prototype.push"), a, "7,undefined,8"));
        cs.push(case(m("Array.prototype.pop"), a, ""));
        cs.push(case(m("Array.prototype.shift"), a, ""));
        cs.push(case(m("Array.prototype.unshift"), a, ""));
        cs.push(case(m("Array.prototype.unshift"), a, "0,-1"));
        cs.push(case(m("Array.prototype.reverse"), a, ""));
        for s in [
            "",
            "0",
            "1",
            "-1",
            "1,1",
            "1,0,'x','y'",
            "1,2,'x'",
            "-2,5",
            "0,100",
            "2,1,'a','b','c'",
            "undefined",
            "NaN,1",
            "10,1,'z'",
        ] {
            cs.push(case(m("Array.prototype.splice"), a, s));
        }
        for f in [
            "0",
            "0,1",
            "0,1,3",
            "0,-2",
            "0,-10,-1",
            "'f',2,100",
            "1,undefined,2",
        ] {
            cs.push(case(m("Array.prototype.fill"), a, f));
        }
        for f in [
            "0,3", "1,3", "0,1,3", "-2,0", "2,0,2", "1,0,4", "0,2,-1", "3",
        ] {
            cs.push(case(m("Array.prototype.copyWithin"), a, f));
        }
    }
    let n = check(&cs);
    assert!(n >= 200, "compared {}", n);
}

#[test]
fn callback_methods_match_node() {
    let mut cs = Vec::new();
    let arrs = [
        "[]",
        "[1,2,3,4]",
        "[1,,3,,5]",
        "['a','b']",
        "[4,undefined,null,'6']",
    ];
    let methods = [
        "every",
        "some",
        "forEach",
        "map",
        "filter",
        "find",
        "findIndex",
        "findLast",
        "findLastIndex",
        "flatMap",
    ];
    for a in arrs {
        for meth in methods {
            let name: &'static str =
                Box::leak(format!("Array.prototype.{}", meth).into_boxed_str());
            for cb in [
                "@logargs", "@even", "@dbl", "@pair", "@push1", "@pop1", "@del1", "@len1", "@zero",
                "@throw", "5",
            ] {
                cs.push(case(m(name), a, cb));
            }
            cs.push(case(m(name), a, "@args,{t:1}"));
            cs.push(case(m(name), a, "@this"));
            cs.push(case(m(name), a, ""));
        }
        for meth in ["Array.prototype.reduce", "Array.prototype.reduceRight"] {
            for args in [
                "@add",
                "@add,''",
                "@add,100",
                "@logargs,0",
                "@push1,0",
                "@pop1",
                "@del1,'s'",
                "@throw,1",
                "",
                "5,1",
            ] {
                cs.push(case(m(meth), a, args));
            }
        }
    }
    let n = check(&cs);
    assert!(n > 400, "compared {}", n);
}

#[test]
fn statics_match_node() {
    let mut cs = Vec::new();
    for args in [
        "",
        "0",
        "3",
        "-1",
        "1.5",
        "4294967296",
        "'3'",
        "1,2",
        "undefined",
        "[1,2]",
        "NaN",
    ] {
        cs.push(case(How::Static("Array"), "0", args));
        cs.push(case(How::New("Array"), "0", args));
        cs.push(case(How::Static("Array.of"), "0", args));
        cs.push(case(How::Static("Array.isArray"), "0", args));
    }
    for items in [
        "[1,,3]",
        "'a\\ud83d\\ude00b\\ud800'",
        "''",
        "{length:3,0:'a',2:'c'}",
        "{length:'2',1:'x'}",
        "{length:-5}",
        "{}",
        "M[[1,'a'],[2,'b']]",
        "S[1,2,2,3]",
        "5",
        "true",
        "null",
        "undefined",
    ] {
        cs.push(case(How::Static("Array.from"), "0", items));
        for f in ["@pair", "@logargs", "@dbl", "5", "undefined", "@args,'t'"] {
            cs.push(case(
                How::Static("Array.from"),
                "0",
                &format!("{},{}", items, f),
            ));
        }
    }
    let n = check(&cs);
    assert!(n > 100, "compared {}", n);
}

/// Sorting: the results and, with a logging comparator, every comparison, in order.
#[test]
fn sort_matches_v8_comparison_for_comparison() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut cs = Vec::new();
    let sizes = [
        0usize, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 20, 31, 32, 33, 63, 64, 65, 100, 127, 128, 200,
        257, 500, 1000, 2100,
    ];
    for &n in &sizes {
        for shape in 0..6 {
            let mut items = Vec::new();
            for i in 0..n {
                let v = match shape {
                    0 => rng.below(1000) as i64,
                    1 => rng.below(8) as i64,
                    2 => i as i64,
                    3 => (n - i) as i64,
                    4 => {
                        if rng.below(10) < 8 {
                            i as i64
                        } else {
                            rng.below(n as u64 + 1) as i64
                        }
                    }
                    _ => {
                        ((i / 7) % 3) as i64 * 100 + rng.below(5) as i64
                            - ((i % 40 > 20) as i64) * (i as i64)
                    }
                };
                items.push(v.to_string());
            }
            let arr = format!("[{}]", items.join(","));
            cs.push(case(m("Array.prototype.sort"), &arr, "@logsub"));
            if n <= 257 {
                cs.push(case(m("Array.prototype.sort"), &arr, ""));
                cs.push(case(m("Array.prototype.sort"), &arr, "@lcg"));
                cs.push(case(m("Array.prototype.sort"), &arr, "@gt"));
                cs.push(case(m("Array.prototype.toSorted"), &arr, "@logstr"));
                cs.push(case(m("Array.prototype.sort"), &arr, "@strdiff"));
            }
        }
    }
    for a in [
        "[3,undefined,,1,null,'10',2,,undefined,-0,0,NaN,'b','a',true]",
        "[,undefined,3]",
        "[7,undefined,6,,5,4,3,2,1,undefined]",
        "[8,undefined,7,,6,5,4,3,2,1,undefined]",
        "[undefined]",
        "[,]",
        "[1,,]",
        "['\\ud83d','\\ufb00','a','A','\\u00e9','e','z']",
        "[[2,1],[1,2],[1],[10],'1,3']",
        "[{a:1},{b:2},'[object Object]',5]",
    ] {
        for c in [
            "", "@logsub", "@zero", "@nan", "@throw", "5", "null", "@lcg",
        ] {
            cs.push(case(m("Array.prototype.sort"), a, c));
            cs.push(case(m("Array.prototype.toSorted"), a, c));
        }
    }
    let n = check(&cs);
    assert!(n > 300, "compared {}", n);
}

#[test]
fn join_detects_cycles_as_v8_does() {
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(&[]);
    let a = cx
        .new_array(vec![Value::Num(1.0), Value::Num(2.0)])
        .unwrap();
    let b = cx.new_array(vec![Value::Num(3.0), a.clone()]).unwrap();
    super::push(&mut cx, &a, &[a.clone(), b.clone()]).unwrap();
    let r = super::join(&mut cx, &a, &[Value::str("-")]).unwrap();
    // Node: a = [1,2]; b = [3,a]; a.push(a,b); a.join('-') === '1-2--3,'
    assert_eq!(r.as_str().unwrap().to_rust_string(), "1-2--3,");
    // The join stack is empty again afterwards.
    let r = super::join(&mut cx, &b, &[]).unwrap();
    assert_eq!(r.as_str().unwrap().to_rust_string(), "3,1,2,,");
}

#[test]
fn iterate_to_vec_takes_the_modelled_iterables() {
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(&[]);
    let arr = cx.new_array(vec![Value::Num(1.0), Value::Hole]).unwrap();
    let v = super::iterate_to_vec(&mut cx, &arr).unwrap();
    assert!(matches!(v.as_slice(), [Value::Num(_), Value::Undefined]));
    let s = Value::Str(crate::value::JsStr::from("a\u{1F600}"));
    assert_eq!(super::iterate_to_vec(&mut cx, &s).unwrap().len(), 2);
    let o = cx.new_object().unwrap();
    assert!(super::iterate_to_vec(&mut cx, &o).is_err());
    assert!(super::iterate_to_vec(&mut cx, &Value::Num(1.0)).is_err());
}

#[test]
fn module_level_and_frozen_arrays_are_not_written() {
    use crate::value::Value;
    let prog: &'static crate::cx::Program = Box::leak(Box::new(crate::cx::Program {
        name: "t",
        funcs: &[],
        init: |_, _| Ok(Value::Undefined),
        trace_version: 1,
        strings: &[],
        sort_rows: &[],
    }));
    let mut cx = crate::cx::Cx::new(prog, &crate::cx::Limits::default()).unwrap();
    let module_arr = cx
        .new_array(vec![Value::Num(2.0), Value::Num(1.0)])
        .unwrap();
    cx.heap.seal_module();
    // Reads leave the module as it was; writes are seen as a change unless put back.
    assert!(super::join(&mut cx, &module_arr, &[]).is_ok());
    assert!(!cx.heap.module_changed());
    assert!(super::push(&mut cx, &module_arr, &[Value::Num(3.0)]).is_ok());
    assert!(cx.heap.module_changed());
    assert!(super::pop(&mut cx, &module_arr, &[]).is_ok());
    assert!(!cx.heap.module_changed());
    assert!(super::sort(&mut cx, &module_arr, &[]).is_ok());
    assert!(cx.heap.module_changed(), "sorted [2, 1] is [1, 2]");
    let a = cx.new_array(vec![Value::Num(1.0)]).unwrap();
    cx.heap.get_mut(a.as_obj().unwrap()).unwrap().frozen = true;
    assert!(super::push(&mut cx, &a, &[Value::Num(3.0)]).is_err());
    assert!(super::pop(&mut cx, &a, &[]).is_err());
    assert!(super::map(&mut cx, &a, &[Value::Undefined]).is_err());
}

#[test]
fn heap_and_fuel_bound_huge_arrays() {
    use crate::value::Value;
    let mut cx = crate::cx::test_cx(&[]);
    // 4e9 holes: the heap cap refuses before anything is allocated.
    assert!(super::array_call(&mut cx, &Value::Undefined, &[Value::Num(4294967295.0)]).is_err());
    assert!(super::array_call(&mut cx, &Value::Undefined, &[Value::Num(-1.0)]).is_err());
}
