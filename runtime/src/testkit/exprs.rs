//! Differential tests against Node for builtins written as expressions (globals, Number, Math,
//! String, Date): each case is a JavaScript
//! expression and what our builtin answered (`None` where it gave up, which is never compared).

use crate::cx::JsResult;
use crate::value::Value;
use std::fmt::Write as _;

pub use super::XorShift as Rng;

/// A JavaScript literal denoting exactly `x`.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "Infinity".into()
        } else {
            "(-Infinity)".into()
        }
    } else if x == 0.0 && x.is_sign_negative() {
        "(-0)".into()
    } else {
        format!("({})", crate::ops::number_to_string(x))
    }
}

/// A JavaScript string literal denoting exactly these UTF-16 units.
pub fn str_lit(units: &[u16]) -> String {
    let mut s = String::from("\"");
    for &c in units {
        if (0x20..0x7f).contains(&c) && c != b'"' as u16 && c != b'\\' as u16 {
            s.push(c as u8 as char);
        } else {
            let _ = write!(s, "\\u{:04x}", c);
        }
    }
    s.push('"');
    s
}

/// The comparison form of a value; the Node side prints the same form.
pub fn repr(v: &Value) -> String {
    match v {
        Value::Num(n) if n.is_nan() => "n:nan".into(),
        Value::Num(n) => format!("n:{:x}", n.to_bits()),
        Value::Str(s) => {
            let mut o = String::from("s:");
            for &c in s.units() {
                let _ = write!(o, "{:x},", c);
            }
            o
        }
        Value::Bool(b) => format!("b:{}", b),
        Value::Undefined | Value::Hole => "u".into(),
        _ => "o".into(),
    }
}

/// What a builtin answered, or `None` if it gave up.
pub fn answer(r: JsResult<Value>) -> Option<String> {
    match r {
        Ok(v) => Some(repr(&v)),
        Err(crate::cx::Ctl::Abort(_)) => None,
        Err(crate::cx::Ctl::Throw(_)) => Some("thrown".into()),
    }
}

/// Runs every expression in Node and asserts that each answer we gave equals Node's. Returns how
/// many were compared.
pub fn check(cases: &[(String, Option<String>)]) -> usize {
    let mut js = String::from(
            "const dv=new DataView(new ArrayBuffer(8));\n\
             function R(v){if(typeof v==='number'){if(v!==v)return 'n:nan';dv.setFloat64(0,v);return 'n:'+dv.getBigUint64(0).toString(16);}\
             if(typeof v==='string'){let o='s:';for(let i=0;i<v.length;i++)o+=v.charCodeAt(i).toString(16)+',';return o;}\
             if(typeof v==='boolean')return 'b:'+v;if(v===undefined)return 'u';return 'o';}\n\
             function T(f){try{return R(f());}catch(e){return 'e:'+e.name;}}\nconst out=[];\n",
        );
    for (e, _) in cases {
        let _ = writeln!(js, "out.push(T(()=>{}));", e);
    }
    js.push_str("process.stdout.write(out.join('\\n')+'\\n');\n");
    let text = crate::testkit::node_script("difftest", &js);
    let lines = crate::testkit::lines_for(&text, cases.len());
    crate::testkit::assert_agree(
        cases
            .iter()
            .zip(lines)
            .map(|((e, ours), node)| (e.clone(), ours.clone(), node)),
    )
}

/// A multiplier for the number of generated inputs (`CLRT_DIFF_SCALE`, default 1), for long runs.
pub fn scale() -> usize {
    std::env::var("CLRT_DIFF_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}
