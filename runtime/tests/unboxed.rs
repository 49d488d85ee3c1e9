//! The unboxed representations generated code uses (compiler/codegen.ts): local arrays of one element kind
//! (`elems`), number and boolean guards, the integer path of `%`, array reads by number, and fuel counted
//! with one test a tick. Node-differential tests of the same live in test/fixtures/divergences/unboxed and
//! test/integration/compiler/properties.test.ts; these pin the corners one by one.

use clrt::cx::{test_cx, AbortKind, Ctl, Cx, JsResult, Limits};
use clrt::{elems, ops, props, Value};

fn abort_kind<T: std::fmt::Debug>(r: JsResult<T>) -> AbortKind {
    match r {
        Err(Ctl::Abort(a)) => a.kind,
        other => panic!("expected a give-up, got {:?}", other),
    }
}

fn cx() -> Cx {
    test_cx(&[])
}

#[test]
fn filled_makes_the_array_new_array_fill_makes_or_gives_up() {
    let mut cx = cx();
    assert_eq!(
        elems::filled(&mut cx, &Value::Num(3.0), false, 1).unwrap(),
        vec![false; 3]
    );
    assert_eq!(
        elems::filled(&mut cx, &Value::Num(0.0), 1.5, 1).unwrap(),
        Vec::<f64>::new()
    );
    // -0 is the length 0.
    assert_eq!(
        elems::filled(&mut cx, &Value::Num(-0.0), true, 1).unwrap(),
        Vec::<bool>::new()
    );
    // new Array(2.5), new Array(-1), new Array(NaN), new Array(2 ** 32): RangeError, which gives up.
    for bad in [2.5, -1.0, f64::NAN, 4294967296.0, f64::INFINITY] {
        assert_eq!(
            abort_kind(elems::filled(&mut cx, &Value::Num(bad), 0.0, 1)),
            AbortKind::Uncaught,
            "{bad}"
        );
    }
    // new Array("3") is ["3"]: not a length, not this kind of array.
    assert_eq!(
        abort_kind(elems::filled(&mut cx, &Value::str("3"), 0.0, 7)),
        AbortKind::TypeGuard
    );
}

#[test]
fn filled_counts_against_the_heap_cap_and_the_fuel() {
    let mut cx = cx();
    cx.begin_request(&Limits {
        fuel: 1000,
        heap_bytes: 1 << 20,
        deadline: std::time::Duration::from_secs(5),
    });
    assert_eq!(
        abort_kind(elems::filled(&mut cx, &Value::Num(2000.0), false, 1)),
        AbortKind::Fuel
    );
    cx.begin_request(&Limits {
        fuel: 1 << 30,
        heap_bytes: 1 << 20,
        deadline: std::time::Duration::from_secs(5),
    });
    // A byte an element for booleans, eight for numbers.
    assert!(elems::filled(&mut cx, &Value::Num(200_000.0), false, 1).is_ok());
    assert_eq!(
        abort_kind(elems::filled(&mut cx, &Value::Num(200_000.0), 0.0, 1)),
        AbortKind::Heap
    );
}

#[test]
fn reads_take_integer_indexes_inside_the_array_and_give_up_elsewhere() {
    let a = vec![1.5, -0.0, 3.0];
    assert!(matches!(elems::get(&a, 0.0, 1), Ok(Value::Num(n)) if n == 1.5));
    // a[-0] is a[0]: its property key is "0".
    assert!(matches!(elems::get(&a, -0.0, 1), Ok(Value::Num(n)) if n == 1.5));
    // The -0 stored reads back as -0.
    assert!(elems::at(&a, 1.0, 1).unwrap().is_sign_negative());
    // Past the end, negative, fractional, NaN: undefined or a property of the prototype chain in JavaScript,
    // which a local array does not model.
    for k in [3.0, -1.0, 0.5, f64::NAN, f64::INFINITY, 1e300] {
        assert_eq!(abort_kind(elems::get(&a, k, 9)), AbortKind::Unknown, "{k}");
    }
    let b = vec![true, false];
    assert!(matches!(elems::get(&b, 1.0, 1), Ok(Value::Bool(false))));
}

#[test]
fn writes_store_inside_append_at_the_length_and_give_up_past_it() {
    let mut cx = cx();
    let mut a = vec![0.0; 2];
    elems::set(&mut cx, &mut a, 1.0, 5.0, 1).unwrap();
    elems::set(&mut cx, &mut a, -0.0, 7.0, 1).unwrap();
    assert_eq!(a, vec![7.0, 5.0]);
    // a[a.length] = v appends, as it does on a dense array.
    elems::set(&mut cx, &mut a, 2.0, 9.0, 1).unwrap();
    assert_eq!(a, vec![7.0, 5.0, 9.0]);
    // Past the length (holes), negative, fractional, NaN: give up, the array unchanged.
    for k in [4.0, -1.0, 1.5, f64::NAN] {
        assert_eq!(
            abort_kind(elems::set(&mut cx, &mut a, k, 1.0, 2)),
            AbortKind::Unknown,
            "{k}"
        );
    }
    assert_eq!(a, vec![7.0, 5.0, 9.0]);
    let mut e: Vec<bool> = Vec::new();
    elems::set(&mut cx, &mut e, -0.0, true, 1).unwrap();
    assert_eq!(e, vec![true]);
}

#[test]
fn guards_yield_the_unboxed_value_or_give_up() {
    assert_eq!(
        ops::guard_num(&Value::Num(-0.0), 3).unwrap().to_bits(),
        (-0.0f64).to_bits()
    );
    assert!(ops::guard_num(&Value::Num(f64::NAN), 3).unwrap().is_nan());
    for v in [
        Value::str("1"),
        Value::Bool(true),
        Value::Undefined,
        Value::Null,
        Value::Hole,
    ] {
        assert_eq!(abort_kind(ops::guard_num(&v, 3)), AbortKind::TypeGuard);
    }
    assert!(ops::guard_bool(&Value::Bool(true), 4).unwrap());
    for v in [Value::Num(1.0), Value::str(""), Value::Undefined] {
        assert_eq!(abort_kind(ops::guard_bool(&v, 4)), AbortKind::TypeGuard);
    }
    assert_eq!(
        abort_kind(elems::expect_bool(&Value::Num(0.0))),
        AbortKind::Unsupported
    );
}

#[test]
fn remainder_through_integers_is_fmod_to_the_bit() {
    let xs = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        2.0,
        -2.0,
        3.0,
        -4.0,
        7.0,
        -7.0,
        10.0,
        2147483647.0,
        -2147483648.0,
        2147483648.0,
        -2147483649.0,
        4294967296.0,
        9007199254740992.0,
        4294967295.0,
        -4294967295.0,
        1e18,
        -1e18,
        9223372036854775808.0,
        -9223372036854775808.0,
        9223372036854774784.0,
        -9223372036854774784.0,
        18446744073709551616.0,
        0.5,
        -0.5,
        1.5,
        1e21,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        5e-324,
    ];
    for &x in &xs {
        for &y in &xs {
            let (got, want) = (ops::rem_f64(x, y), x % y);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{x} % {y}: {got} (bits {:x}), fmod {want} (bits {:x})",
                got.to_bits(),
                want.to_bits()
            );
        }
    }
    // A spread of integers, both signs.
    for x in -300i32..300 {
        for y in [-97, -13, -2, -1, 1, 2, 3, 13, 97, 65536, i32::MAX, i32::MIN] {
            let (x, y) = (x as f64 * 7919.0, y as f64);
            assert_eq!(ops::rem_f64(x, y).to_bits(), (x % y).to_bits(), "{x} % {y}");
        }
    }
    // Integers past 2^31 (uint32 hashes, sums, integers near 2^53 and 2^63), both signs, by small and wide
    // divisors: the 64-bit integer remainder.
    let mut h: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..20000 {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        let x = match h % 4 {
            0 => (h >> 32) as f64,
            1 => -((h >> 11) as f64),
            2 => (h >> 1) as f64,
            _ => -((h & ((1 << 53) - 1)) as f64),
        };
        for y in [
            -97.0,
            -2.0,
            -1.0,
            1.0,
            3.0,
            16.0,
            4294967296.0,
            -9007199254740993.0,
            1e18,
            (h >> 40) as f64,
        ] {
            assert_eq!(ops::rem_f64(x, y).to_bits(), (x % y).to_bits(), "{x} % {y}");
        }
    }
}

#[test]
fn array_reads_by_number_guard_the_array_and_read_holes_as_the_generic_path() {
    let mut cx = cx();
    let a = cx
        .new_array(vec![Value::Num(1.0), Value::Hole, Value::str("x")])
        .unwrap();
    assert!(matches!(props::get_array_index(&mut cx, &a, 0.0, 1), Ok(Value::Num(n)) if n == 1.0));
    assert!(matches!(props::get_array_index(&mut cx, &a, -0.0, 1), Ok(Value::Num(n)) if n == 1.0));
    // A hole, an index past the end and a fraction read as undefined, as [[Get]] does.
    for k in [1.0, 3.0, 0.5, -1.0, f64::NAN] {
        assert!(
            matches!(
                props::get_array_index(&mut cx, &a, k, 1),
                Ok(Value::Undefined)
            ),
            "{k}"
        );
    }
    assert!(matches!(
        props::get_array_index(&mut cx, &a, 2.0, 1),
        Ok(Value::Str(_))
    ));
    assert_eq!(props::array_length(&mut cx, &a, 1).unwrap(), 3.0);
    let o = cx.new_object().unwrap();
    for v in [o, Value::str("abc"), Value::Num(1.0), Value::Undefined] {
        assert_eq!(
            abort_kind(props::get_array_index(&mut cx, &v, 0.0, 5)),
            AbortKind::TypeGuard
        );
        assert_eq!(
            abort_kind(props::array_length(&mut cx, &v, 5)),
            AbortKind::TypeGuard
        );
    }
}

#[test]
fn fuel_runs_out_at_exactly_its_count() {
    let mut cx = cx();
    for fuel in [0u64, 1, 1023, 1024, 1025, 5000] {
        cx.begin_request(&Limits {
            fuel,
            heap_bytes: 1 << 20,
            deadline: std::time::Duration::from_secs(5),
        });
        for _ in 0..fuel {
            cx.tick().unwrap();
        }
        assert_eq!(abort_kind(cx.tick()), AbortKind::Fuel, "fuel {fuel}");
    }
}

#[test]
fn the_deadline_is_seen_within_a_thousand_ticks() {
    let mut cx = cx();
    cx.begin_request(&Limits {
        fuel: 1 << 40,
        heap_bytes: 1 << 20,
        deadline: std::time::Duration::from_millis(0),
    });
    std::thread::sleep(std::time::Duration::from_millis(2));
    let mut n = 0;
    let kind = loop {
        n += 1;
        if let Err(e) = cx.tick() {
            break match e {
                Ctl::Abort(a) => a.kind,
                Ctl::Throw(_) => panic!("a throw"),
            };
        }
    };
    assert_eq!(kind, AbortKind::Deadline);
    assert!(n <= 1025, "{n} ticks");
}
