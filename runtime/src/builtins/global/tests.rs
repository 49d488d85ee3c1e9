use super::*;
use crate::native::BuiltinDef;
use crate::testkit::exprs::{answer, check, scale, str_lit, Rng};

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
#[should_panic(expected = "differ from Node")]
fn the_differential_harness_catches_a_difference() {
    check(&[
        ("1 + 1".into(), Some("n:0".into())),
        (
            "'a'".into(),
            Some(crate::testkit::exprs::repr(&Value::str("a"))),
        ),
    ]);
}

#[test]
fn parse_int_follows_the_spec() {
    assert!(same(parse_int(&units("  +12abc"), 0), 12.0));
    assert!(same(parse_int(&units("-0"), 0), -0.0));
    assert!(same(parse_int(&units("0x1g"), 0), 1.0));
    assert!(same(parse_int(&units("-0x10"), 0), -16.0));
    assert!(parse_int(&units("0x"), 16).is_nan());
    assert!(parse_int(&units("123"), 37).is_nan());
    assert!(parse_int(&units("123"), 1).is_nan());
    assert!(same(parse_int(&units("1e3"), 0), 1.0));
    assert!(same(parse_int(&units("0b11"), 0), 0.0));
    assert!(same(parse_int(&units("11"), 2), 3.0));
    assert!(parse_int(&units("\u{180e}12"), 0).is_nan());
    assert!(same(parse_int(&units("\u{feff}\u{a0}12"), 0), 12.0));
    assert!(same(parse_int(&units(&"1".repeat(400)), 0), f64::INFINITY));
    assert!(same(
        parse_int(&units("zzzzzzzzzzzzzzzzzz"), 36),
        1.0314424798490537e28
    ));
}

#[test]
fn parse_float_takes_the_longest_prefix() {
    assert!(same(parse_float(&units("1.e5")), 100000.0));
    assert!(same(parse_float(&units("1.5e+")), 1.5));
    assert!(same(
        parse_float(&units("   -Infinityx")),
        f64::NEG_INFINITY
    ));
    assert!(parse_float(&units("infinity")).is_nan());
    assert!(same(parse_float(&units("0x10")), 0.0));
    assert!(parse_float(&units(".")).is_nan());
    assert!(parse_float(&units("-.e1")).is_nan());
    assert!(same(parse_float(&units("-.5e-3x")), -0.0005));
    assert!(same(parse_float(&units("-0")), -0.0));
    assert!(same(parse_float(&units("2e-324")), 0.0));
}

#[test]
fn constants_are_installed() {
    let cx = crate::cx::test_cx(&[]);
    assert!(matches!(cx.realm.global("NaN"), Some(Value::Num(n)) if n.is_nan()));
    assert!(matches!(
        cx.realm.global("undefined"),
        Some(Value::Undefined)
    ));
    let math = cx
        .realm
        .global("Math")
        .and_then(|m| m.as_obj())
        .expect("Math");
    assert!(
        matches!(cx.heap.get(math).props.get(&units("PI")[..]), Some(crate::heap::Prop::Data { value: Value::Num(p), .. }) if *p == std::f64::consts::PI)
    );
    let number = cx
        .realm
        .global("Number")
        .and_then(|m| m.as_obj())
        .expect("Number");
    assert!(cx
        .heap
        .get(number)
        .props
        .contains_key(&units("MAX_SAFE_INTEGER")[..]));
}

fn run(def: &BuiltinDef, s: &str) -> JsResult<Value> {
    let mut cx = crate::cx::test_cx(&[]);
    (def.f)(&mut cx, &Value::Undefined, &[Value::str(s)])
}

fn text(r: JsResult<Value>) -> String {
    match r {
        Ok(Value::Str(s)) => s.to_rust_string(),
        other => format!("{:?}", other.map_err(|_| "gave up")),
    }
}

#[test]
fn uri_functions() {
    assert_eq!(
        text(run(&ENCODE_URI, "a;/?:@&=+$,#b c\u{20ac}\u{1F600}")),
        "a;/?:@&=+$,#b%20c%E2%82%AC%F0%9F%98%80"
    );
    assert_eq!(
        text(run(&ENCODE_URI_COMPONENT, "-_.!~*'()a b;")),
        "-_.!~*'()a%20b%3B"
    );
    assert_eq!(
        text(run(&DECODE_URI, "%3B%2f%41%e2%82%ac")),
        "%3B%2fA\u{20ac}"
    );
    assert_eq!(
        text(run(&DECODE_URI_COMPONENT, "%3B%2f%41%e2%82%ac")),
        ";/A\u{20ac}"
    );
    for bad in [
        "%",
        "%4",
        "%zz",
        "%80",
        "%C0%80",
        "%ED%A0%80",
        "%E2%82",
        "%F8%80%80%80",
    ] {
        assert!(run(&DECODE_URI_COMPONENT, bad).is_err(), "{}", bad);
    }
    let mut cx = crate::cx::test_cx(&[]);
    let lone = Value::Str(JsStr::from_units(vec![0x61, 0xD800]));
    assert!((ENCODE_URI_COMPONENT.f)(&mut cx, &Value::Undefined, &[lone]).is_err());
}

/// Random strings made of the characters parseInt and parseFloat care about.
fn numeric_text(rng: &mut Rng, alphabet: &[&str], max_len: u64) -> String {
    let len = rng.below(max_len + 1);
    (0..len)
        .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
        .collect()
}

#[test]
fn parsing_matches_node() {
    let mut cx = crate::cx::test_cx(&[]);
    let mut rng = Rng(0xFEED_FACE_1234_5678);
    let mut cases = Vec::new();
    let u = Value::Undefined;
    let float_alpha = [
        "0",
        "1",
        "5",
        "9",
        "7",
        ".",
        "e",
        "E",
        "-",
        "+",
        " ",
        "x",
        "Infinity",
        "00",
        "123456789",
    ];
    let int_alpha = [
        "0",
        "1",
        "7",
        "9",
        "a",
        "f",
        "z",
        "Z",
        "x",
        "-",
        "+",
        " ",
        "\u{a0}",
        "g",
        ".",
        "123456789",
        "zzzz",
    ];
    for i in 0..(300 * scale()) {
        let s = numeric_text(&mut rng, &float_alpha, 12);
        let su = units(&s);
        let lit = str_lit(&su);
        cases.push((
            format!("parseFloat({})", lit),
            answer((PARSE_FLOAT.f)(&mut cx, &u, &[Value::str(&s)])),
        ));
        let s = numeric_text(&mut rng, &int_alpha, 14);
        let lit = str_lit(&units(&s));
        let radix = [
            0.0,
            2.0,
            8.0,
            10.0,
            16.0,
            36.0,
            3.0,
            7.0,
            37.0,
            1.0,
            -1.0,
            4294967312.0,
        ][i % 12];
        cases.push((
            format!("parseInt({}, {})", lit, radix),
            answer((PARSE_INT.f)(
                &mut cx,
                &u,
                &[Value::str(&s), Value::Num(radix)],
            )),
        ));
    }
    // Long digit strings, where rounding and V8's chunked accumulation matter.
    for i in 0..(200 * scale()) {
        let radix = 2 + (i % 35) as u32;
        let len = 10 + rng.below(60) as usize;
        let s: String = (0..len)
            .map(|_| std::char::from_digit(rng.below(radix as u64) as u32, radix).unwrap())
            .collect();
        let lit = str_lit(&units(&s));
        cases.push((
            format!("parseInt({}, {})", lit, radix),
            answer((PARSE_INT.f)(
                &mut cx,
                &u,
                &[Value::str(&s), Value::Num(radix as f64)],
            )),
        ));
        let d: String = (0..len)
            .map(|_| std::char::from_digit(rng.below(10) as u32, 10).unwrap())
            .collect();
        let f = format!("{}.{}e-{}", &d[..len / 3], &d[len / 3..], rng.below(330));
        let lit = str_lit(&units(&f));
        cases.push((
            format!("parseFloat({})", lit),
            answer((PARSE_FLOAT.f)(&mut cx, &u, &[Value::str(&f)])),
        ));
    }
    // Power-of-two radixes at the rounding boundary: 53 significant bits and then a tail.
    for tail in ["1", "10", "11", "100", "101", "1000000001", "0"] {
        for lead in ["1", "11", "10"] {
            let s = format!("{}{}{}", lead, "0".repeat(52), tail);
            cases.push((
                format!("parseInt({}, 2)", str_lit(&units(&s))),
                answer((PARSE_INT.f)(
                    &mut cx,
                    &u,
                    &[Value::str(&s), Value::Num(2.0)],
                )),
            ));
        }
    }
    let n = check(&cases);
    assert!(n > 1000, "only {} cases compared", n);
}

#[test]
fn uri_round_trips_match_node() {
    let mut cx = crate::cx::test_cx(&[]);
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let u = Value::Undefined;
    let pieces: [&[u16]; 12] = [
        &[0x61],
        &[0x20],
        &[0x3B],
        &[0x23],
        &[0x25],
        &[0xE9],
        &[0x20AC],
        &[0xD83D, 0xDE00],
        &[0x2F],
        &[0x3F],
        &[0x7E],
        &[0xD800],
    ];
    let mut cases = Vec::new();
    for _ in 0..(200 * scale()) {
        let mut s: Vec<u16> = Vec::new();
        for _ in 0..rng.below(8) {
            s.extend_from_slice(pieces[rng.below(12) as usize]);
        }
        let v = Value::Str(JsStr::from_units(s.clone()));
        let lit = str_lit(&s);
        for def in [
            &ENCODE_URI,
            &ENCODE_URI_COMPONENT,
            &DECODE_URI,
            &DECODE_URI_COMPONENT,
        ] {
            cases.push((
                format!("{}({})", def.name, lit),
                answer((def.f)(&mut cx, &u, std::slice::from_ref(&v))),
            ));
        }
        // Escapes, valid and not.
        let escapes = [
            "%41",
            "%3b",
            "%3B",
            "%23",
            "%e2%82%ac",
            "%C3%A9",
            "%f0%9f%98%80",
            "%",
            "%4",
            "%G1",
            "%80",
            "%c3",
            "%ed%a0%80",
            "x",
        ];
        let t: String = (0..rng.below(5))
            .map(|_| escapes[rng.below(escapes.len() as u64) as usize])
            .collect();
        for def in [&DECODE_URI, &DECODE_URI_COMPONENT] {
            cases.push((
                format!("{}({})", def.name, str_lit(&units(&t))),
                answer((def.f)(&mut cx, &u, &[Value::str(&t)])),
            ));
        }
    }
    check(&cases);
}
