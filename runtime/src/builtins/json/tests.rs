use super::*;
use crate::cx::{test_cx, Call, Ctl};
use crate::testkit::{json_lit, node_eval_with_input as node_run, stringify};

fn u(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn is_engine_error<T>(r: &JsResult<T>) -> bool {
    matches!(r, Err(Ctl::Abort(a)) if a.kind == crate::cx::AbortKind::Uncaught)
}

use crate::testkit::XorShiftStar as Rng;

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "1e21",
    "1e+21",
    "1E21",
    "1e20",
    "123456789012345678901",
    "0.1",
    "0.30000000000000004",
    "5e-324",
    "2e-324",
    "1.7976931348623157e308",
    "1.7976931348623158e308",
    "1e400",
    "-1e400",
    "1e-400",
    "2.2250738585072014e-308",
    "1e-7",
    "1e-6",
    "0.000001",
    "123e-20",
    "100",
    "1.0",
    "1.50",
    "12345678.9",
    "9007199254740993",
    "4294967295",
    "4294967296",
    "-0.0",
    "0e0",
    "0E-0",
    "1e-0",
];
const KEYS: &[&str] = &[
    "a",
    "b",
    "0",
    "1",
    "10",
    "2",
    "01",
    "-1",
    "1.5",
    "4294967294",
    "4294967295",
    "4294967296",
    "__proto__",
    "constructor",
    "é",
    "\u{1F600}",
    "",
    " ",
    "length",
    "x\\ny",
    "\\ud800",
    "\\u0030",
    "k\\\"q",
];

fn ws(r: &mut Rng, out: &mut String) {
    for _ in 0..r.below(3) {
        if r.below(3) == 0 {
            out.push(r.pick(&[' ', '\t', '\n', '\r']));
        }
    }
}

fn gen_string(r: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..r.below(6) {
        match r.below(12) {
            0 => out.push_str(r.pick(&["\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r"])),
            1 => out.push_str(&format!("\\u{:04x}", 0xD800 + r.below(0x800))),
            2 => out.push_str(&format!("\\u{:04X}", r.below(0x10000))),
            3 => out.push_str(r.pick(&[
                "é",
                "\u{1F600}",
                "\u{2028}",
                "\u{2029}",
                "\u{7f}",
                "\u{fffe}",
                "中",
            ])),
            4 => out.push_str(&format!("\\u{:04x}", r.below(0x20))),
            5 => out.push_str("\\ud83d\\ude00"),
            _ => out.push(r.pick(&['a', 'b', 'z', '0', ' ', '\'', '<', '}'])),
        }
    }
    out.push('"');
}

fn gen_value(r: &mut Rng, depth: usize, out: &mut String) {
    ws(r, out);
    let kind = if depth > 4 { r.below(4) } else { r.below(7) };
    match kind {
        0 => out.push_str(r.pick(NUMBERS)),
        1 => gen_string(r, out),
        2 => out.push_str(r.pick(&["true", "false", "null"])),
        3 => {
            // A random number literal.
            if r.below(2) == 0 {
                out.push('-');
            }
            out.push_str(&(r.next() % 100000000).to_string());
            if r.below(2) == 0 {
                out.push_str(&format!(".{}", r.next() % 100000));
            }
            if r.below(3) == 0 {
                out.push_str(&format!("e{}{}", r.pick(&["", "+", "-"]), r.below(330)));
            }
        }
        4 | 5 => {
            out.push('{');
            let n = r.below(5);
            let mut used: Vec<&str> = Vec::new();
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                ws(r, out);
                // Sometimes repeat a key: the last value wins, the first position stays.
                let k = if !used.is_empty() && r.below(4) == 0 {
                    r.pick(&used)
                } else {
                    r.pick(KEYS)
                };
                used.push(k);
                out.push('"');
                out.push_str(k);
                out.push('"');
                ws(r, out);
                out.push(':');
                gen_value(r, depth + 1, out);
            }
            ws(r, out);
            out.push('}');
        }
        _ => {
            out.push('[');
            let n = r.below(5);
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                gen_value(r, depth + 1, out);
            }
            ws(r, out);
            out.push(']');
        }
    }
    ws(r, out);
}

const INVALID: &[&str] = &[
    "",
    " ",
    "01",
    "1.",
    ".5",
    "+1",
    "-",
    "--1",
    "1e",
    "1e+",
    "0x10",
    "NaN",
    "Infinity",
    "undefined",
    "'a'",
    "[1,]",
    "{\"a\":1,}",
    "{a:1}",
    "[1 2]",
    "{\"a\" 1}",
    "\"\\x41\"",
    "\"\\u12\"",
    "\"a\tb\"",
    "\"a\nb\"",
    "\"abc",
    "[",
    "{",
    "}",
    "]",
    "[1]]",
    "nul",
    "truee",
    "\"\\\"",
    "1 2",
    "\u{a0}1",
    "\u{feff}1",
    "\u{b}1",
    "{\"a\":1}}",
    "[,1]",
    "{,}",
    "-01",
    "1.e5",
    "\"\\u00g1\"",
];

#[test]
fn parse_and_stringify_agree_with_node() {
    let mut r = Rng(0x9E3779B97F4A7C15);
    let mut texts: Vec<Vec<u16>> = Vec::new();
    for _ in 0..600 {
        let mut t = String::new();
        gen_value(&mut r, 0, &mut t);
        texts.push(u(&t));
    }
    for t in INVALID {
        texts.push(u(t));
    }
    // Raw lone surrogates in the text itself are kept as they are.
    texts.push(vec![0x22, 0xD800, 0x61, 0xDC00, 0x22]);
    texts.push(vec![0x5B, 0x22, 0xDBFF, 0x22, 0x5D]);
    let input = format!(
        "[{}]",
        texts
            .iter()
            .map(|t| json_lit(t))
            .collect::<Vec<_>>()
            .join(",")
    );
    let script = r#"
            const texts = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
            const out = texts.map((t) => {
                let v;
                try { v = JSON.parse(t); } catch (e) { return JSON.stringify('ERR'); }
                return JSON.stringify([JSON.stringify(v), JSON.stringify(v, null, 2), JSON.stringify(v, null, '\t-'),
                    JSON.stringify(v, null, 20), JSON.stringify(v, null, 'abcdefghijklmnop')]);
            });
            process.stdout.write(out.join('\n'));
        "#;
    let expected = node_run(script, &input);
    let expected: Vec<&str> = expected.split('\n').collect();
    assert_eq!(expected.len(), texts.len());
    let mut cx = test_cx(&[]);
    let mut valid = 0;
    for (t, want) in texts.iter().zip(expected) {
        let got = match parse_bytes(&mut cx, t) {
            Err(e) => {
                assert!(
                    is_engine_error::<()>(&Err(e.clone())),
                    "unexpected give-up {:?} for {}",
                    e,
                    String::from_utf16_lossy(t)
                );
                "\"ERR\"".to_string()
            }
            Ok(v) => {
                let mut outs = Vec::new();
                for space in [
                    Value::Undefined,
                    Value::Num(2.0),
                    Value::str("\t-"),
                    Value::Num(20.0),
                    Value::str("abcdefghijklmnop"),
                ] {
                    let s = json_stringify(
                        &mut cx,
                        &Value::Undefined,
                        &[v.clone(), Value::Null, space],
                    )
                    .expect("stringify");
                    outs.push(s);
                }
                valid += 1;
                let a = cx.new_array(outs).unwrap();
                stringify(&mut cx, &a)
            }
        };
        assert_eq!(got, want, "text: {}", String::from_utf16_lossy(t));
    }
    // The generator makes valid text; the table of invalid ones does not.
    assert_eq!(valid, texts.len() - INVALID.len());
}

fn js(cx: &mut Cx, text: &str) -> Value {
    parse_bytes(cx, &u(text)).expect("valid JSON")
}

fn stringify_with(cx: &mut Cx, args: &[Value]) -> JsResult<String> {
    let v = json_stringify(cx, &Value::Undefined, args)?;
    Ok(match v {
        Value::Str(s) => s.to_rust_string(),
        Value::Undefined => "undefined".to_string(),
        other => panic!("stringify returned {:?}", other),
    })
}

// Callbacks for the unit tests, named by their index in FUNCS.
fn replacer_double(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    // (key, value) => typeof value === 'number' ? value * 2 : value
    let _ = cx;
    Ok(match call.arg(1) {
        Value::Num(n) => Value::Num(n * 2.0),
        v => v,
    })
}
fn replacer_log_keys(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    // (key, value) => key === 'drop' ? undefined : (this is holder: record `key` in holder.seen)
    let k = call.arg(0);
    if let Value::Str(s) = &k {
        if s.eq_str("drop") {
            return Ok(Value::Undefined);
        }
        if s.is_empty() {
            // The root call: `this` is the wrapper object {"": value}.
            let w = call.this.as_obj().expect("holder");
            assert_eq!(props::own_enumerable_keys(cx, w), vec![JsStr::empty()]);
        }
    }
    Ok(call.arg(1))
}
fn to_json_key(cx: &mut Cx, call: &Call) -> JsResult<Value> {
    // function (key) { return 'K:' + key }
    let k = ops::to_string(cx, &call.arg(0))?;
    Ok(Value::Str(JsStr::from("K:").concat(&k)))
}
fn to_json_undefined(_cx: &mut Cx, _call: &Call) -> JsResult<Value> {
    Ok(Value::Undefined)
}
fn thrower(_cx: &mut Cx, _call: &Call) -> JsResult<Value> {
    Err(Ctl::Throw(Value::str("boom")))
}
static FUNCS: &[crate::cx::Code] = &[
    replacer_double,
    replacer_log_keys,
    to_json_key,
    to_json_undefined,
    thrower,
];

#[test]
fn replacer_function_and_array() {
    let mut cx = test_cx(FUNCS);
    let v = js(&mut cx, r#"{"a":1,"b":[2,{"c":3}],"drop":4,"s":"x"}"#);
    let double = call::make_function(&mut cx, 0, None, "double", 2, 0).unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), double]).unwrap(),
        r#"{"a":2,"b":[4,{"c":6}],"drop":8,"s":"x"}"#
    );
    let logk = call::make_function(&mut cx, 1, None, "logk", 2, 0).unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), logk]).unwrap(),
        r#"{"a":1,"b":[2,{"c":3}],"s":"x"}"#
    );
    // A property list: order from the list, duplicates dropped, numbers as keys, other values ignored.
    let list = js(&mut cx, r#"["s", "a", "s", 1, {}, null, "nope"]"#);
    let v2 = js(
        &mut cx,
        r#"{"a":{"s":1,"a":2,"1":3},"1":"one","s":[{"a":1,"z":2}]}"#,
    );
    assert_eq!(
        stringify_with(&mut cx, &[v2, list]).unwrap(),
        r#"{"s":[{"a":1}],"a":{"s":1,"a":2,"1":3},"1":"one"}"#
    );
    // A replacer that throws: the exception propagates.
    let t = call::make_function(&mut cx, 4, None, "t", 2, 0).unwrap();
    assert!(matches!(
        json_stringify(&mut cx, &Value::Undefined, &[v, t]),
        Err(Ctl::Throw(_))
    ));
}

#[test]
fn space_argument() {
    let mut cx = test_cx(&[]);
    let v = js(&mut cx, r#"{"a":[1,[],{}],"b":{"c":null}}"#);
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), Value::Null, Value::Num(2.9)]).unwrap(),
        "{\n  \"a\": [\n    1,\n    [],\n    {}\n  ],\n  \"b\": {\n    \"c\": null\n  }\n}"
    );
    // Between 0 and 1 V8 breaks lines without indenting (a spec deviation): give up.
    for sp in [0.5, 1e-9, 0.99999] {
        let r = stringify_with(&mut cx, &[v.clone(), Value::Null, Value::Num(sp)]);
        assert!(matches!(r, Err(Ctl::Abort(a)) if a.kind == crate::cx::AbortKind::Unsupported));
    }
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), Value::Null, Value::Num(-0.5)]).unwrap(),
        r#"{"a":[1,[],{}],"b":{"c":null}}"#
    );
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), Value::Null, Value::Num(f64::NAN)]).unwrap(),
        r#"{"a":[1,[],{}],"b":{"c":null}}"#
    );
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), Value::Null, Value::Num(1.5)])
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
        " \"a\": ["
    );
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), Value::Null, Value::Num(-3.0)]).unwrap(),
        r#"{"a":[1,[],{}],"b":{"c":null}}"#
    );
    assert_eq!(
        stringify_with(&mut cx, &[v.clone(), Value::Null, Value::str("")]).unwrap(),
        r#"{"a":[1,[],{}],"b":{"c":null}}"#
    );
    assert_eq!(
        stringify_with(
            &mut cx,
            &[v.clone(), Value::Null, Value::Num(f64::INFINITY)]
        )
        .unwrap()
        .lines()
        .nth(1)
        .unwrap(),
        "          \"a\": ["
    );
    assert_eq!(
        stringify_with(
            &mut cx,
            &[v.clone(), Value::Null, Value::str("0123456789AB")]
        )
        .unwrap()
        .lines()
        .nth(1)
        .unwrap(),
        "0123456789\"a\": ["
    );
    assert_eq!(
        stringify_with(&mut cx, &[v, Value::Null, Value::Bool(true)]).unwrap(),
        r#"{"a":[1,[],{}],"b":{"c":null}}"#
    );
}

#[test]
fn to_json_methods() {
    let mut cx = test_cx(FUNCS);
    let v = js(&mut cx, r#"{"a":{"x":1},"b":[{"y":2}],"c":{"z":3}}"#);
    let key_fn = call::make_function(&mut cx, 2, None, "toJSON", 1, 0).unwrap();
    let undef_fn = call::make_function(&mut cx, 3, None, "toJSON", 0, 0).unwrap();
    let a = props::get(&mut cx, &v, &u("a")).unwrap();
    props::set(&mut cx, &a, &u("toJSON"), key_fn.clone()).unwrap();
    let b = props::get(&mut cx, &v, &u("b")).unwrap();
    let b0 = props::get(&mut cx, &b, &u("0")).unwrap();
    props::set(&mut cx, &b0, &u("toJSON"), key_fn.clone()).unwrap();
    let c = props::get(&mut cx, &v, &u("c")).unwrap();
    props::set(&mut cx, &c, &u("toJSON"), undef_fn).unwrap();
    assert_eq!(
        stringify_with(&mut cx, std::slice::from_ref(&v)).unwrap(),
        r#"{"a":"K:a","b":["K:0"]}"#
    );
    // On the root the key is the empty string.
    assert_eq!(
        stringify_with(&mut cx, std::slice::from_ref(&a)).unwrap(),
        r#""K:""#
    );
    // A toJSON that is not callable is ignored.
    let d = js(&mut cx, r#"{"toJSON":5,"e":1}"#);
    assert_eq!(
        stringify_with(&mut cx, &[d]).unwrap(),
        r#"{"toJSON":5,"e":1}"#
    );
    // toJSON runs before the replacer, which sees its result.
    let double = call::make_function(&mut cx, 0, None, "double", 2, 0).unwrap();
    let n = js(&mut cx, r#"{"n":{"v":1}}"#);
    let inner = props::get(&mut cx, &n, &u("n")).unwrap();
    props::set(&mut cx, &inner, &u("toJSON"), key_fn).unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[n, double]).unwrap(),
        r#"{"n":"K:n"}"#
    );
}

#[test]
fn values_that_are_skipped_or_null() {
    let mut cx = test_cx(FUNCS);
    let f = call::make_function(&mut cx, 0, None, "f", 0, 0).unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[Value::Undefined]).unwrap(),
        "undefined"
    );
    assert_eq!(
        stringify_with(&mut cx, std::slice::from_ref(&f)).unwrap(),
        "undefined"
    );
    assert_eq!(stringify_with(&mut cx, &[]).unwrap(), "undefined");
    let o = cx.new_object().unwrap();
    let oo = o.as_obj().unwrap();
    props::define(&mut cx, oo, JsStr::from("u"), Value::Undefined).unwrap();
    props::define(&mut cx, oo, JsStr::from("f"), f.clone()).unwrap();
    props::define(&mut cx, oo, JsStr::from("nan"), Value::Num(f64::NAN)).unwrap();
    props::define(
        &mut cx,
        oo,
        JsStr::from("inf"),
        Value::Num(f64::NEG_INFINITY),
    )
    .unwrap();
    props::define(&mut cx, oo, JsStr::from("z"), Value::Num(-0.0)).unwrap();
    props::define_prop(
        &mut cx,
        oo,
        JsStr::from("hidden"),
        Prop::hidden(Value::Num(1.0)),
    )
    .unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[o]).unwrap(),
        r#"{"nan":null,"inf":null,"z":0}"#
    );
    let a = cx
        .new_array(vec![
            Value::Undefined,
            f,
            Value::Hole,
            Value::Num(f64::NAN),
            Value::Num(1e21),
        ])
        .unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[a]).unwrap(),
        "[null,null,null,null,1e+21]"
    );
    let e = cx.make_error("TypeError", "bad").unwrap();
    assert_eq!(
        stringify_with(&mut cx, std::slice::from_ref(&e)).unwrap(),
        "{}"
    );
    props::set(&mut cx, &e, &u("code"), Value::str("E1")).unwrap();
    assert_eq!(stringify_with(&mut cx, &[e]).unwrap(), r#"{"code":"E1"}"#);
    assert_eq!(
        stringify_with(&mut cx, &[Value::str("\u{7f}\u{2028}\"\\/\u{8}\u{c}")]).unwrap(),
        "\"\u{7f}\u{2028}\\\"\\\\/\\b\\f\""
    );
}

#[test]
fn cycles_give_up() {
    let mut cx = test_cx(&[]);
    let v = js(&mut cx, r#"{"a":{"b":[1]}}"#);
    let a = props::get(&mut cx, &v, &u("a")).unwrap();
    let b = props::get(&mut cx, &a, &u("b")).unwrap();
    props::set_computed(&mut cx, &b, &Value::Num(1.0), v.clone()).unwrap();
    assert!(is_engine_error(&json_stringify(
        &mut cx,
        &Value::Undefined,
        std::slice::from_ref(&v)
    )));
    // The same object twice, not nested, is no cycle.
    let w = js(&mut cx, r#"{"x":1}"#);
    let pair = cx.new_array(vec![w.clone(), w]).unwrap();
    assert_eq!(
        stringify_with(&mut cx, &[pair]).unwrap(),
        r#"[{"x":1},{"x":1}]"#
    );
}

#[test]
fn parse_details() {
    let mut cx = test_cx(FUNCS);
    // Integer-like keys first, in numeric order; a repeated key keeps its first place and last value.
    let v = js(
        &mut cx,
        r#"{"b":1,"2":2,"a":3,"1":4,"b":5,"4294967295":6,"01":7}"#,
    );
    assert_eq!(
        stringify(&mut cx, &v),
        r#"{"1":4,"2":2,"b":5,"a":3,"4294967295":6,"01":7}"#
    );
    let p = js(&mut cx, r#"{"__proto__":{"x":1}}"#);
    let po = p.as_obj().unwrap();
    assert_eq!(cx.heap.get(po).proto, Some(cx.realm.object_proto));
    assert_eq!(stringify(&mut cx, &p), r#"{"__proto__":{"x":1}}"#);
    let n = js(&mut cx, "-0");
    assert!(matches!(n, Value::Num(z) if z == 0.0 && z.is_sign_negative()));
    // A reviver gives up; a non-callable one is ignored.
    let f = call::make_function(&mut cx, 0, None, "r", 2, 0).unwrap();
    assert!(json_parse(&mut cx, &Value::Undefined, &[Value::str("1"), f]).is_err());
    assert!(
        matches!(json_parse(&mut cx, &Value::Undefined, &[Value::str("1"), Value::Null]), Ok(Value::Num(n)) if n == 1.0)
    );
    // Deep nesting gives up rather than overflowing; moderate nesting works.
    let deep = format!("{}{}", "[".repeat(6000), "]".repeat(6000));
    assert!(
        matches!(parse_bytes(&mut cx, &u(&deep)), Err(Ctl::Abort(a)) if a.kind == crate::cx::AbortKind::Unsupported)
    );
    let ok = format!("{}{}", "[".repeat(900), "]".repeat(900));
    let v = parse_bytes(&mut cx, &u(&ok)).unwrap();
    assert_eq!(stringify(&mut cx, &v), ok);
    let too_deep = format!("{}{}", "[".repeat(1500), "]".repeat(1500));
    let v = parse_bytes(&mut cx, &u(&too_deep)).unwrap();
    assert!(
        matches!(stringify_value(&mut cx, &v), Err(Ctl::Abort(a)) if a.kind == crate::cx::AbortKind::Unsupported)
    );
}

#[test]
fn output_counts_against_the_heap_cap() {
    let mut cx = test_cx(&[]);
    let big = Value::Str(JsStr::from_units(vec![0x61; 100_000]));
    let items = vec![big; 50];
    let a = cx.new_array(items).unwrap();
    cx.heap.set_cap(cx.heap.bytes() + 1_000_000);
    assert!(
        matches!(stringify_value(&mut cx, &a), Err(Ctl::Abort(a)) if a.kind == crate::cx::AbortKind::Heap)
    );
}
