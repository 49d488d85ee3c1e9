use super::*;
use crate::cx::{test_cx, Ctl};
use crate::native::BuiltinDef;
use crate::testkit::exprs::{num, repr, str_lit, Rng};
use std::fmt::Write as _;

fn new_date(cx: &mut Cx, args: &[Value]) -> JsResult<Value> {
    date_ctor(cx, None, args)
}

fn call(cx: &mut Cx, def: &BuiltinDef, this: &Value, args: &[Value]) -> JsResult<Value> {
    (def.f)(cx, this, args)
}

fn text(r: JsResult<Value>) -> String {
    match r {
        Ok(Value::Str(s)) => s.to_rust_string(),
        other => panic!("not a string: {:?}", other),
    }
}

fn number(r: JsResult<Value>) -> f64 {
    match r {
        Ok(Value::Num(n)) => n,
        other => panic!("not a number: {:?}", other),
    }
}

#[test]
fn civil_days_round_trip() {
    for z in (-100_000_001i64..=100_000_001).step_by(997) {
        let (y, m, d) = civil_from_days(z);
        assert_eq!(days_from_civil(y, m, d), z);
    }
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
}

#[test]
fn make_day_rolls_components_over() {
    let ms = |y: f64, m: f64, d: f64| make_date(make_day(y, m, d), 0.0);
    assert_eq!(ms(2024.0, 12.0, 1.0), ms(2025.0, 0.0, 1.0));
    assert_eq!(ms(2024.0, 2.0, 0.0), ms(2024.0, 1.0, 29.0));
    assert_eq!(ms(2024.0, -1.0, 1.0), ms(2023.0, 11.0, 1.0));
    assert!(ms(1e6 + 1.0, 0.0, 1.0).is_nan());
    assert!(
        make_day(1e6, -1.199e7, 1.0).is_nan(),
        "V8's bound on the month"
    );
    assert!(time_clip(MAX_TIME + 1.0).is_nan());
    assert!(time_clip(-0.0).is_sign_positive());
}

#[test]
fn parses_the_iso_format_and_gives_up_elsewhere() {
    let p = |s: &str| parse_iso(&s.encode_utf16().collect::<Vec<_>>());
    assert_eq!(p("1970-01-01"), Iso::Utc(0.0));
    assert_eq!(p("1970-01-01T00:00:00.001Z"), Iso::Utc(1.0));
    assert_eq!(p("1970-01-01T01:00+01:00"), Iso::Utc(0.0));
    assert_eq!(p("1970-01-01T00:00"), Iso::Local(0.0));
    assert_eq!(p("1970-01-01T24:00"), Iso::Local(MS_PER_DAY));
    assert_eq!(p("1970-01-01T24:01"), Iso::Invalid);
    assert_eq!(p("1970-01-01T"), Iso::Invalid);
    assert_eq!(p("1970-01-01 00:00"), Iso::Other);
    assert_eq!(p("1970-1-1"), Iso::Other);
    assert_eq!(p("-000000-01-01"), Iso::Other);
    let mut cx = test_cx(&[]);
    assert!(number(call(&mut cx, &PARSE, &Value::Undefined, &[Value::str("")])).is_nan());
    assert!(number(call(
        &mut cx,
        &PARSE,
        &Value::Undefined,
        &[Value::str("nonsense")]
    ))
    .is_nan());
    assert!(matches!(
        call(
            &mut cx,
            &PARSE,
            &Value::Undefined,
            &[Value::str("Jan 5 2020")]
        ),
        Err(Ctl::Abort(_))
    ));
}

#[test]
fn invalid_dates_behave_as_in_javascript() {
    let mut cx = test_cx(&[]);
    let d = new_date(&mut cx, &[Value::Num(f64::NAN)]).unwrap();
    assert_eq!(text(call(&mut cx, &TO_UTC_STRING, &d, &[])), "Invalid Date");
    assert!(number(call(&mut cx, &GET_UTC_FULL_YEAR, &d, &[])).is_nan());
    assert!(matches!(call(&mut cx, &TO_JSON, &d, &[]), Ok(Value::Null)));
    assert!(matches!(
        call(&mut cx, &TO_ISO_STRING, &d, &[]),
        Err(Ctl::Abort(_))
    ));
    assert!(number(call(&mut cx, &SET_UTC_DATE, &d, &[Value::Num(3.0)])).is_nan());
    let y = number(call(&mut cx, &SET_UTC_FULL_YEAR, &d, &[Value::Num(2020.0)]));
    assert_eq!(y, 1_577_836_800_000.0);
    // A method on something that is not a Date is a TypeError, which gives up.
    let o = cx.new_object().unwrap();
    assert!(matches!(
        call(&mut cx, &GET_TIME, &o, &[]),
        Err(Ctl::Abort(_))
    ));
}

#[test]
fn setters_return_and_store_the_new_time() {
    let mut cx = test_cx(&[]);
    let d = new_date(&mut cx, &[Value::Num(0.0)]).unwrap();
    assert_eq!(
        number(call(
            &mut cx,
            &SET_UTC_MONTH,
            &d,
            &[Value::Num(13.0), Value::Num(0.0)]
        )),
        34_128_000_000.0
    );
    assert_eq!(
        text(call(&mut cx, &TO_ISO_STRING, &d, &[])),
        "1971-01-31T00:00:00.000Z"
    );
    assert_eq!(
        number(call(&mut cx, &SET_TIME, &d, &[Value::str("12")])),
        12.0
    );
    assert!(number(call(&mut cx, &SET_TIME, &d, &[])).is_nan());
}

/// Runs `exprs` in `node` with TZ=UTC; one printed line per expression, in `repr` form.
fn node_eval(exprs: &[String]) -> Vec<String> {
    let mut js = String::from(
            "const dv=new DataView(new ArrayBuffer(8));\n\
             function R(v){if(typeof v==='number'){if(v!==v)return 'n:nan';dv.setFloat64(0,v);return 'n:'+dv.getBigUint64(0).toString(16);}\
             if(typeof v==='string'){let o='s:';for(let i=0;i<v.length;i++)o+=v.charCodeAt(i).toString(16)+',';return o;}\
             if(typeof v==='boolean')return 'b:'+v;if(v===undefined)return 'u';if(v===null)return 'null';return 'o';}\n\
             function T(f){try{return R(f());}catch(e){return 'e:'+e.name;}}\nconst out=[];\n",
        );
    for e in exprs {
        let _ = writeln!(js, "out.push(T(()=>{}));", e);
    }
    js.push_str("process.stdout.write(out.join('\\n')+'\\n');\n");
    let path = std::env::temp_dir().join(format!("clrt-date-{}.js", std::process::id()));
    std::fs::write(&path, js).expect("write the Node script");
    let out = crate::testkit::node_command()
        .arg(&path)
        .env("TZ", "UTC")
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn ours(r: JsResult<Value>) -> Option<String> {
    match r {
        Ok(Value::Null) => Some("null".into()),
        Ok(v) => Some(repr(&v)),
        Err(Ctl::Abort(_)) => None,
        Err(Ctl::Throw(_)) => Some("thrown".into()),
    }
}

/// Generated ISO-like strings: valid ones, and ones broken in one place.
fn iso_strings(rng: &mut Rng, n: usize) -> Vec<String> {
    let mut out: Vec<String> = [
        "",
        "2024",
        "2024-02",
        "2024-02-30",
        "2024-02-32",
        "2024-13-01",
        "2024-00-10",
        "+002024-01-01",
        "-000001-06-30",
        "-000000-01-01",
        "+275760-09-13T00:00:00.000Z",
        "+275760-09-13T00:00:00.001Z",
        "-271821-04-20T00:00:00Z",
        "-271821-04-19T23:59:59.999Z",
        "2024-01-01T24:00",
        "2024-01-01T24:00:00.000Z",
        "2024-01-01T24:00:00.001Z",
        "2024-01-01T10:00:00.0001234567891Z",
        "2024-01-01T10:00:00.1234567891Z",
        "2024-01-01T10:00:00.Z",
        "2024-01-01T10:00+0530",
        "2024-01-01T10:00+05",
        "2024-01-01T10:00+24:00",
        "2024-01-01t10:00:00z",
        "2024T10:00Z",
        "2024-01T10:00:00-23:59",
        "2024-01-01T",
        "2024-01-01T1:00",
        "2024-01-01T10",
        "2024-01-01T10:00:00Zx",
        "2024-01-01T10:00:00 Z",
        "no digits here",
        "1970-01-01T00:00:00.000-00:00",
        "0000-01-01",
        "0099-12-31T23:59:59.999Z",
        "2023-02-29T12:00:00+14:00",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..n {
        let y = match rng.below(4) {
            0 => format!("{:04}", rng.below(10000)),
            1 => format!("+{:06}", rng.below(280_000)),
            2 => format!("-{:06}", rng.below(280_000)),
            _ => format!("{:04}", 1900 + rng.below(200)),
        };
        let mut s = y;
        if rng.below(5) > 0 {
            let _ = write!(s, "-{:02}", rng.below(14));
            if rng.below(5) > 0 {
                let _ = write!(s, "-{:02}", rng.below(33));
            }
        }
        if rng.below(4) > 0 {
            let _ = write!(s, "T{:02}:{:02}", rng.below(26), rng.below(61));
            if rng.below(3) > 0 {
                let _ = write!(s, ":{:02}", rng.below(61));
                if rng.below(2) > 0 {
                    let digits = 1 + rng.below(11) as usize;
                    let frac: String = (0..digits)
                        .map(|_| (b'0' + rng.below(10) as u8) as char)
                        .collect();
                    let _ = write!(s, ".{}", frac);
                }
            }
            match rng.below(4) {
                0 => {}
                1 => s.push('Z'),
                2 => {
                    let _ = write!(
                        s,
                        "{}{:02}:{:02}",
                        if rng.below(2) == 0 { '+' } else { '-' },
                        rng.below(25),
                        rng.below(61)
                    );
                }
                _ => {
                    let _ = write!(
                        s,
                        "{}{:04}",
                        if rng.below(2) == 0 { '+' } else { '-' },
                        rng.below(2500)
                    );
                }
            }
        }
        // Break some strings in one place.
        if rng.below(6) == 0 && !s.is_empty() {
            let mut u: Vec<char> = s.chars().collect();
            let k = rng.below(u.len() as u64) as usize;
            match rng.below(3) {
                0 => {
                    u.remove(k);
                }
                1 => u.insert(
                    k,
                    [' ', 'x', '.', ':', '-', 'T', '5'][rng.below(7) as usize],
                ),
                _ => u[k] = ['/', 'Z', '0', ','][rng.below(4) as usize],
            }
            s = u.into_iter().collect();
        }
        out.push(s);
    }
    out
}

#[test]
fn matches_node_on_generated_dates() {
    let mut rng = Rng(0x5eed_da7e);
    let scale = crate::testkit::exprs::scale();
    let mut exprs: Vec<String> = Vec::new();
    let mut answers: Vec<Option<String>> = Vec::new();
    let mut cx = test_cx(&[]);
    // Time values: around the epoch, across the whole range, at the edges.
    let mut times: Vec<f64> = vec![
        0.0,
        -1.0,
        1.0,
        MAX_TIME,
        -MAX_TIME,
        MAX_TIME + 1.0,
        -0.0,
        f64::NAN,
        1e12 + 0.5,
        -62_198_755_200_000.0,
    ];
    for _ in 0..300 * scale {
        let t = match rng.below(3) {
            0 => (rng.unit() * 2.0 - 1.0) * MAX_TIME,
            1 => (rng.unit() * 2.0 - 1.0) * 4e12,
            _ => ((rng.unit() * 2.0 - 1.0) * 1e5).floor() * MS_PER_DAY + rng.below(3) as f64 - 1.0,
        };
        times.push(t.trunc());
    }
    let getters: &[(&BuiltinDef, &str)] = &[
        (&TO_ISO_STRING, "toISOString"),
        (&TO_UTC_STRING, "toUTCString"),
        (&TO_STRING, "toString"),
        (&TO_DATE_STRING, "toDateString"),
        (&TO_TIME_STRING, "toTimeString"),
        (&TO_JSON, "toJSON"),
        (&GET_UTC_FULL_YEAR, "getUTCFullYear"),
        (&GET_UTC_MONTH, "getUTCMonth"),
        (&GET_UTC_DATE, "getUTCDate"),
        (&GET_UTC_DAY, "getUTCDay"),
        (&GET_UTC_HOURS, "getUTCHours"),
        (&GET_UTC_MINUTES, "getUTCMinutes"),
        (&GET_UTC_SECONDS, "getUTCSeconds"),
        (&GET_UTC_MILLISECONDS, "getUTCMilliseconds"),
        (&GET_FULL_YEAR, "getFullYear"),
        (&GET_DAY, "getDay"),
        (&GET_HOURS, "getHours"),
        (&GET_TIMEZONE_OFFSET, "getTimezoneOffset"),
        (&GET_TIME, "getTime"),
    ];
    for &t in &times {
        let d = new_date(&mut cx, &[Value::Num(t)]).unwrap();
        for (def, name) in getters {
            exprs.push(format!("new Date({}).{}()", num(t), name));
            answers.push(ours(call(&mut cx, def, &d, &[])));
        }
    }
    // Components, overflowing ones included, through Date.UTC, the constructor and the setters.
    for _ in 0..150 * scale {
        let comp = |rng: &mut Rng| -> f64 {
            match rng.below(6) {
                0 => rng.below(13) as f64,
                1 => rng.below(70) as f64 - 20.0,
                2 => 1900.0 + rng.below(200) as f64,
                3 => (rng.unit() * 2.0 - 1.0) * 3e5,
                4 => rng.unit() * 100.0 - 50.0,
                _ => [f64::NAN, f64::INFINITY, 1e7, -1e7 - 1.0, 1e6, 0.5, -0.5]
                    [rng.below(7) as usize],
            }
        };
        let n = 1 + rng.below(7) as usize;
        let args: Vec<f64> = (0..n).map(|_| comp(&mut rng)).collect();
        let list = args.iter().map(|&x| num(x)).collect::<Vec<_>>().join(",");
        let vals: Vec<Value> = args.iter().map(|&x| Value::Num(x)).collect();
        exprs.push(format!("Date.UTC({})", list));
        answers.push(ours(call(&mut cx, &UTC, &Value::Undefined, &vals)));
        if n >= 2 {
            exprs.push(format!("new Date({}).getTime()", list));
            answers.push(ours(
                new_date(&mut cx, &vals).and_then(|d| call(&mut cx, &GET_TIME, &d, &[])),
            ));
        }
        let setters: &[(&BuiltinDef, &str)] = &[
            (&SET_UTC_FULL_YEAR, "setUTCFullYear"),
            (&SET_UTC_MONTH, "setUTCMonth"),
            (&SET_UTC_DATE, "setUTCDate"),
            (&SET_UTC_HOURS, "setUTCHours"),
            (&SET_UTC_MINUTES, "setUTCMinutes"),
            (&SET_UTC_SECONDS, "setUTCSeconds"),
            (&SET_UTC_MILLISECONDS, "setUTCMilliseconds"),
            (&SET_FULL_YEAR, "setFullYear"),
            (&SET_MONTH, "setMonth"),
            (&SET_HOURS, "setHours"),
        ];
        let (def, name) = setters[rng.below(setters.len() as u64) as usize];
        let start = times[rng.below(times.len() as u64) as usize];
        let d = new_date(&mut cx, &[Value::Num(start)]).unwrap();
        exprs.push(format!(
            "(()=>{{const d=new Date({});const r=d.{}({});return r+'|'+d.getTime();}})()",
            num(start),
            name,
            list
        ));
        answers.push(ours(call(&mut cx, def, &d, &vals).and_then(|r| {
            let after = call(&mut cx, &GET_TIME, &d, &[])?;
            let s = format!(
                "{}|{}",
                ops::number_to_string(number(Ok(r))),
                ops::number_to_string(number(Ok(after)))
            );
            Ok(Value::str(&s))
        })));
    }
    // Strings through Date.parse and the constructor.
    for s in iso_strings(&mut rng, 300 * scale) {
        let lit = str_lit(&s.encode_utf16().collect::<Vec<_>>());
        exprs.push(format!("Date.parse({})", lit));
        answers.push(ours(call(
            &mut cx,
            &PARSE,
            &Value::Undefined,
            &[Value::str(&s)],
        )));
        exprs.push(format!("new Date({}).toISOString()", lit));
        answers.push(ours(
            new_date(&mut cx, &[Value::str(&s)])
                .and_then(|d| call(&mut cx, &TO_ISO_STRING, &d, &[])),
        ));
    }
    let node = node_eval(&exprs);
    assert_eq!(node.len(), exprs.len());
    // A RangeError in Node is a give-up here, never a throw; anything else must be equal.
    let compared = crate::testkit::assert_agree(
        exprs
            .iter()
            .zip(&answers)
            .zip(&node)
            .map(|((e, o), n)| (e.clone(), o.clone(), n.as_str())),
    );
    eprintln!(
        "date: {} of {} cases compared with Node",
        compared,
        exprs.len()
    );
    // The UTC functions never depend on the zone; most cases must have been compared.
    assert!(
        compared * 2 > exprs.len(),
        "only {} of {} cases compared",
        compared,
        exprs.len()
    );
}
