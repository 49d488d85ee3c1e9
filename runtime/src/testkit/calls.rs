//! Differential tests against Node for builtins called with a receiver and arguments (Array, Object,
//! Function, Map and Set). A case is a receiver and arguments written in a small literal language that is also
//! JavaScript (numbers, strings in single quotes, arrays with holes, objects, `M[[k, v], ...]` for
//! Maps, `S[...]` for Sets, `@name` for one of `CALLBACKS`), and a builtin to call. Both sides print
//! the result, the receiver afterwards and what the callbacks logged, in the same form.

use crate::builtins::collections::{MapData, SetData};
use crate::call::make_function;
use crate::cx::{Call, Code, Ctl, Cx, JsResult};
use crate::heap::ObjKind;
use crate::ops;
use crate::props;
use crate::value::{JsStr, Value};
use std::cell::RefCell;
use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub enum Lit {
    Undef,
    Null,
    Bool(bool),
    Num(f64, String),
    Str(Vec<u16>),
    Arr(Vec<Option<Lit>>),
    Obj(Vec<(String, Lit)>),
    Map(Vec<Lit>),
    Set(Vec<Lit>),
    Cb(String),
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> u8 {
        self.ws();
        self.s.get(self.i).copied().unwrap_or(0)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> String {
        self.ws();
        let st = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"_$.+-".contains(&self.s[self.i]))
        {
            if (self.s[self.i] == b'-' || self.s[self.i] == b'+')
                && self.i > st
                && !matches!(self.s[self.i - 1], b'e' | b'E')
            {
                break;
            }
            self.i += 1;
        }
        String::from_utf8(self.s[st..self.i].to_vec()).unwrap()
    }
    fn string(&mut self) -> Vec<u16> {
        assert!(self.eat(b'\''));
        let mut out = Vec::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'\'' => return out,
                b'\\' => {
                    assert_eq!(self.s[self.i], b'u');
                    let h = std::str::from_utf8(&self.s[self.i + 1..self.i + 5]).unwrap();
                    out.push(u16::from_str_radix(h, 16).unwrap());
                    self.i += 5;
                }
                c => out.push(c as u16),
            }
        }
    }
    fn list(&mut self, close: u8) -> Vec<Lit> {
        let mut v = Vec::new();
        while !self.eat(close) {
            v.push(self.lit());
            self.eat(b',');
        }
        v
    }
    fn lit(&mut self) -> Lit {
        match self.peek() {
            b'[' => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    if self.eat(b']') {
                        return Lit::Arr(v);
                    }
                    if self.eat(b',') {
                        v.push(None);
                        continue;
                    }
                    v.push(Some(self.lit()));
                    if !self.eat(b',') {
                        assert!(self.eat(b']'), "expected ]");
                        return Lit::Arr(v);
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut v = Vec::new();
                while !self.eat(b'}') {
                    let k = if self.peek() == b'\'' {
                        String::from_utf16(&self.string()).unwrap()
                    } else {
                        self.word()
                    };
                    assert!(self.eat(b':'));
                    v.push((k, self.lit()));
                    self.eat(b',');
                }
                Lit::Obj(v)
            }
            b'\'' => Lit::Str(self.string()),
            b'@' => {
                self.i += 1;
                Lit::Cb(self.word())
            }
            b'M' if self.s.get(self.i + 1) == Some(&b'[') => {
                self.i += 2;
                Lit::Map(self.list(b']'))
            }
            b'S' if self.s.get(self.i + 1) == Some(&b'[') => {
                self.i += 2;
                Lit::Set(self.list(b']'))
            }
            _ => {
                let w = self.word();
                match w.as_str() {
                    "undefined" => Lit::Undef,
                    "null" => Lit::Null,
                    "true" => Lit::Bool(true),
                    "false" => Lit::Bool(false),
                    "NaN" => Lit::Num(f64::NAN, w),
                    "-Infinity" => Lit::Num(f64::NEG_INFINITY, w),
                    "-0" => Lit::Num(-0.0, w),
                    _ => {
                        let n = ops::string_to_number(&JsStr::from(w.as_str()));
                        assert!(!n.is_nan(), "bad literal {:?}", w);
                        Lit::Num(n, w)
                    }
                }
            }
        }
    }
}

pub fn parse(s: &str) -> Lit {
    let mut p = P {
        s: s.as_bytes(),
        i: 0,
    };
    let l = p.lit();
    p.ws();
    assert_eq!(p.i, s.len(), "trailing text in {:?}", s);
    l
}

/// Arguments: a comma-separated list of literals.
pub fn parse_args(s: &str) -> Vec<Lit> {
    match parse(&format!("[{}]", s)) {
        Lit::Arr(v) => v.into_iter().map(|x| x.unwrap_or(Lit::Undef)).collect(),
        _ => unreachable!(),
    }
}

fn js_str(u: &[u16]) -> String {
    let mut s = String::from("'");
    for &c in u {
        if (0x20..0x7f).contains(&c) && c != b'\'' as u16 && c != b'\\' as u16 {
            s.push(c as u8 as char);
        } else {
            let _ = write!(s, "\\u{:04x}", c);
        }
    }
    s.push('\'');
    s
}

pub fn to_js(l: &Lit) -> String {
    match l {
        Lit::Undef => "undefined".into(),
        Lit::Null => "null".into(),
        Lit::Bool(b) => b.to_string(),
        Lit::Num(_, t) => format!("({})", t),
        Lit::Str(u) => js_str(u),
        Lit::Arr(v) => {
            let parts: Vec<String> = v
                .iter()
                .map(|x| x.as_ref().map(to_js).unwrap_or_default())
                .collect();
            let trailing = if matches!(v.last(), Some(None)) {
                ","
            } else {
                ""
            };
            format!("[{}{}]", parts.join(","), trailing)
        }
        Lit::Obj(v) => format!(
            "{{{}}}",
            v.iter()
                .map(|(k, x)| format!(
                    "{}:{}",
                    js_str(&k.encode_utf16().collect::<Vec<_>>()),
                    to_js(x)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Lit::Map(v) => format!(
            "new Map([{}])",
            v.iter().map(to_js).collect::<Vec<_>>().join(",")
        ),
        Lit::Set(v) => format!(
            "new Set([{}])",
            v.iter().map(to_js).collect::<Vec<_>>().join(",")
        ),
        Lit::Cb(n) => format!("CB.{}", n),
    }
}

pub fn build(cx: &mut Cx, l: &Lit) -> Value {
    match l {
        Lit::Undef => Value::Undefined,
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Num(n, _) => Value::Num(*n),
        Lit::Str(u) => Value::Str(JsStr::from_units(u.clone())),
        Lit::Arr(v) => {
            let items = v
                .iter()
                .map(|x| x.as_ref().map(|x| build(cx, x)).unwrap_or(Value::Hole))
                .collect();
            cx.new_array(items).unwrap()
        }
        Lit::Obj(v) => {
            let o = cx.new_object().unwrap();
            for (k, x) in v {
                let x = build(cx, x);
                props::define(cx, o.as_obj().unwrap(), JsStr::from(k.as_str()), x).unwrap();
            }
            o
        }
        Lit::Map(v) => {
            let arr = build(cx, &Lit::Arr(v.iter().cloned().map(Some).collect()));
            (crate::builtins::collections::MAP.ctor.unwrap())(cx, None, &[arr]).unwrap()
        }
        Lit::Set(v) => {
            let arr = build(cx, &Lit::Arr(v.iter().cloned().map(Some).collect()));
            (crate::builtins::collections::SET.ctor.unwrap())(cx, None, &[arr]).unwrap()
        }
        Lit::Cb(n) => {
            if let Some(f) = MADE.with(|m| {
                m.borrow()
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, f)| f.clone())
            }) {
                return f;
            }
            let i = CALLBACKS
                .iter()
                .position(|c| c.0 == n)
                .unwrap_or_else(|| panic!("no callback {}", n));
            let f = make_function(
                cx,
                i as u32,
                None,
                n,
                CALLBACKS[i].3,
                crate::heap::fflags::ARROW,
            )
            .unwrap();
            MADE.with(|m| m.borrow_mut().push((n.clone(), f.clone())));
            f
        }
    }
}

/// The printed form of a value (the JavaScript `D` in `PRELUDE` prints the same).
pub fn dump(cx: &mut Cx, v: &Value, depth: u32) -> String {
    if depth > 4 {
        return "~".into();
    }
    match v {
        Value::Undefined | Value::Hole => "u".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Num(n) if n.is_nan() => "NaN".into(),
        Value::Num(n) if *n == 0.0 && n.is_sign_negative() => "-0".into(),
        Value::Num(n) => ops::number_to_string(*n),
        Value::Str(s) => js_str(s.units()),
        Value::Obj(o) => {
            let o = *o;
            match cx.heap.kind(o).clone() {
                ObjKind::Array(items) => {
                    let mut parts = Vec::new();
                    for x in items {
                        parts.push(if matches!(x, Value::Hole) {
                            "_".to_string()
                        } else {
                            dump(cx, &x, depth + 1)
                        });
                    }
                    format!("[{}]", parts.join(","))
                }
                ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => "fn".into(),
                k if k.is::<MapData>() => {
                    let parts: Vec<String> = k
                        .slots::<MapData>()
                        .expect("a Map")
                        .values()
                        .map(|(k, x)| {
                            format!("{}=>{}", dump(cx, k, depth + 1), dump(cx, x, depth + 1))
                        })
                        .collect();
                    format!("Map{{{}}}", parts.join(","))
                }
                k if k.is::<SetData>() => {
                    let parts: Vec<String> = k
                        .slots::<SetData>()
                        .expect("a Set")
                        .values()
                        .map(|x| dump(cx, x, depth + 1))
                        .collect();
                    format!("Set{{{}}}", parts.join(","))
                }
                _ => {
                    let mut parts = Vec::new();
                    for k in props::own_enumerable_keys(cx, o) {
                        let x =
                            props::get(cx, &Value::Obj(o), k.units()).unwrap_or(Value::str("?"));
                        parts.push(format!("{}:{}", js_str(k.units()), dump(cx, &x, depth + 1)));
                    }
                    format!("{{{}}}", parts.join(","))
                }
            }
        }
    }
}

const PRELUDE: &str = r#"
function Q(s){let o="'";for(let i=0;i<s.length;i++){const c=s.charCodeAt(i);o+=(c>=0x20&&c<0x7f&&c!==39&&c!==92)?s[i]:'\\u'+c.toString(16).padStart(4,'0');}return o+"'";}
function K(C,v){try{C.prototype.has.call(v,0);return true}catch(e){return false}}
function D(v,d=0){if(d>4)return '~';if(v===undefined)return 'u';if(v===null)return 'null';
 if(typeof v==='boolean')return String(v);if(typeof v==='number'){if(v!==v)return 'NaN';if(v===0&&1/v<0)return '-0';return String(v);}
 if(typeof v==='string')return Q(v);if(typeof v==='function')return 'fn';
 if(Array.isArray(v)){const p=[];for(let i=0;i<v.length;i++)p.push(i in v?D(v[i],d+1):'_');return '['+p.join(',')+']';}
 if(K(Map,v)){return 'Map{'+[...Map.prototype.entries.call(v)].map(([k,x])=>D(k,d+1)+'=>'+D(x,d+1)).join(',')+'}';}
 if(K(Set,v)){return 'Set{'+[...Set.prototype.values.call(v)].map(x=>D(x,d+1)).join(',')+'}';}
 return '{'+Object.keys(v).map(k=>Q(k)+':'+D(v[k],d+1)).join(',')+'}';}
"#;

thread_local! {
    pub static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static SEED: RefCell<u32> = const { RefCell::new(1) };
    /// The callbacks made for the current case: one function object per name, as in the script.
    static MADE: RefCell<Vec<(String, Value)>> = const { RefCell::new(Vec::new()) };
}

fn log(s: String) {
    LOG.with(|l| l.borrow_mut().push(s));
}

fn a(call: &Call, i: usize) -> Value {
    call.arg(i)
}
fn num(cx: &mut Cx, op: ops::NumOp, x: &Value, y: &Value) -> JsResult<Value> {
    ops::num_op(cx, op, x, y)
}
fn arr_of(call: &Call) -> crate::value::ObjRef {
    call.arg(2).as_obj().expect("array argument")
}

fn cb_sub(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    num(cx, ops::NumOp::Sub, &a(c, 0), &a(c, 1))
}
fn cb_gt(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    Ok(Value::Bool(ops::compare(
        cx,
        ops::CmpOp::Gt,
        &a(c, 0),
        &a(c, 1),
    )?))
}
fn cb_lcg(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    let s = SEED.with(|s| {
        let mut s = s.borrow_mut();
        *s = (*s * 75 + 74) % 65537;
        *s
    });
    Ok(Value::Num((s % 3) as f64 - 1.0))
}
fn cb_logsub(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
    log(s);
    cb_sub(cx, c)
}
fn cb_logstr(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
    log(s);
    let x = ops::to_string(cx, &a(c, 0))?;
    let y = ops::to_string(cx, &a(c, 1))?;
    Ok(Value::Num(match x.cmp(&y) {
        std::cmp::Ordering::Less => -1.0,
        std::cmp::Ordering::Equal => 0.0,
        std::cmp::Ordering::Greater => 1.0,
    }))
}
fn cb_even(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let r = num(cx, ops::NumOp::Rem, &a(c, 0), &Value::Num(2.0))?;
    Ok(Value::Bool(ops::strict_equals(&r, &Value::Num(0.0))))
}
fn cb_dbl(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    num(cx, ops::NumOp::Mul, &a(c, 0), &Value::Num(2.0))
}
fn cb_add(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    ops::add(cx, &a(c, 0), &a(c, 1))
}
fn cb_pair(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    cx.new_array(vec![a(c, 0), a(c, 1)])
}
fn cb_logargs(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let mut parts = Vec::new();
    for i in 0..c.args.len() {
        parts.push(dump(cx, &c.args[i], 0));
    }
    log(parts.join("/"));
    Ok(Value::Bool(true))
}
fn cb_push1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    if ops::strict_equals(&a(c, 1), &Value::Num(0.0)) {
        (crate::builtins::array::PUSH.f)(cx, &c.arg(2), &[Value::Num(9.0)])?;
    }
    Ok(Value::Bool(true))
}
fn cb_pop1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    if ops::strict_equals(&a(c, 1), &Value::Num(0.0)) {
        (crate::builtins::array::POP.f)(cx, &c.arg(2), &[])?;
    }
    Ok(Value::Bool(true))
}
fn cb_del1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let k = num(cx, ops::NumOp::Sub, &a(c, 1), &Value::Num(-1.0))?;
    props::delete_computed(cx, &c.arg(2), &k)?;
    Ok(Value::Bool(false))
}
fn cb_len1(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let _ = arr_of(c);
    props::set(cx, &c.arg(2), &props::key("length"), Value::Num(1.0))?;
    Ok(Value::Bool(false))
}
fn cb_zero(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    Ok(Value::Num(0.0))
}
fn cb_nan(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    Ok(Value::Num(f64::NAN))
}
fn cb_strdiff(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let d = num(cx, ops::NumOp::Sub, &a(c, 1), &a(c, 0))?;
    Ok(Value::Str(ops::to_string(cx, &d)?))
}
fn cb_throw(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    Err(Ctl::Throw(Value::str("boom")))
}
fn cb_this(_cx: &mut Cx, c: &Call) -> JsResult<Value> {
    Ok(c.this.clone())
}
fn cb_args(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    let mut v = vec![c.this.clone()];
    v.extend(c.args.iter().cloned());
    cx.new_array(v)
}
fn invoke_m(cx: &mut Cx, m: &Value, name: &str, args: &[Value]) -> JsResult<Value> {
    let f = crate::call::method(cx, m, &props::key(name))?;
    crate::call::invoke(cx, &f, m.clone(), args)
}
fn cb_liar(_cx: &mut Cx, _c: &Call) -> JsResult<Value> {
    Ok(Value::Num(1.0))
}
fn cb_mapset(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    // (v, k, m) => { log; if (k === 1) { m.delete(2); m.set(5, 'five') } }
    let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
    log(s);
    if ops::strict_equals(&a(c, 1), &Value::Num(1.0)) {
        let m = c.arg(2);
        invoke_m(cx, &m, "delete", &[Value::Num(2.0)])?;
        let adder = if cx.heap.kind(m.as_obj().unwrap()).is::<MapData>() {
            "set"
        } else {
            "add"
        };
        invoke_m(cx, &m, adder, &[Value::Num(5.0), Value::str("five")])?;
    }
    Ok(Value::Undefined)
}
fn cb_mapclear(cx: &mut Cx, c: &Call) -> JsResult<Value> {
    // (v, k, m) => { log; if (k === 1) { m.clear(); m.set(7, 'seven') } }
    let s = format!("{}/{}", dump(cx, &a(c, 0), 0), dump(cx, &a(c, 1), 0));
    log(s);
    if ops::strict_equals(&a(c, 1), &Value::Num(1.0)) {
        let m = c.arg(2);
        invoke_m(cx, &m, "clear", &[])?;
        let adder = if cx.heap.kind(m.as_obj().unwrap()).is::<MapData>() {
            "set"
        } else {
            "add"
        };
        invoke_m(cx, &m, adder, &[Value::Num(7.0), Value::str("seven")])?;
    }
    Ok(Value::Undefined)
}

/// (name, JavaScript source, implementation, length)
pub const CALLBACKS: &[(&str, &str, Code, u32)] = &[
        ("sub", "(a,b)=>a-b", cb_sub, 2),
        ("gt", "(a,b)=>a>b", cb_gt, 2),
        ("lcg", "(a,b)=>{S=(S*75+74)%65537;return S%3-1}", cb_lcg, 2),
        ("logsub", "(a,b)=>{LOG.push(D(a)+'/'+D(b));return a-b}", cb_logsub, 2),
        ("logstr", "(a,b)=>{LOG.push(D(a)+'/'+D(b));const x=String(a),y=String(b);return x<y?-1:x>y?1:0}", cb_logstr, 2),
        ("even", "(v)=>v%2===0", cb_even, 1),
        ("dbl", "(v)=>v*2", cb_dbl, 1),
        ("add", "(a,b)=>a+b", cb_add, 2),
        ("pair", "(v,i)=>[v,i]", cb_pair, 2),
        ("logargs", "(...a)=>{LOG.push(a.map(x=>D(x)).join('/'));return true}", cb_logargs, 0),
        ("push1", "(v,i,a)=>{if(i===0)a.push(9);return true}", cb_push1, 3),
        ("pop1", "(v,i,a)=>{if(i===0)a.pop();return true}", cb_pop1, 3),
        ("del1", "(v,i,a)=>{delete a[i- -1];return false}", cb_del1, 3),
        ("len1", "(v,i,a)=>{a.length=1;return false}", cb_len1, 3),
        ("zero", "()=>0", cb_zero, 0),
        ("nan", "()=>NaN", cb_nan, 0),
        ("strdiff", "(a,b)=>String(b-a)", cb_strdiff, 2),
        ("throw", "()=>{throw 'boom'}", cb_throw, 0),
        ("this", "function(){'use strict';return this}", cb_this, 0),
        ("args", "(function(){'use strict';return function(...a){return [this,...a]}})()", cb_args, 0),
        (
            "mapset",
            "(v,k,m)=>{LOG.push(D(v)+'/'+D(k));if(k===1){m.delete(2);m instanceof Map?m.set(5,'five'):m.add(5,'five')}}",
            cb_mapset,
            3,
        ),
        (
            "mapclear",
            "(v,k,m)=>{LOG.push(D(v)+'/'+D(k));if(k===1){m.clear();m instanceof Map?m.set(7,'seven'):m.add(7,'seven')}}",
            cb_mapclear,
            3,
        ),
        ("liar", "()=>2", cb_liar, 0),
    ];

pub const FUNCS: &[Code] = &[
    cb_sub,
    cb_gt,
    cb_lcg,
    cb_logsub,
    cb_logstr,
    cb_even,
    cb_dbl,
    cb_add,
    cb_pair,
    cb_logargs,
    cb_push1,
    cb_pop1,
    cb_del1,
    cb_len1,
    cb_zero,
    cb_nan,
    cb_strdiff,
    cb_throw,
    cb_this,
    cb_args,
    cb_mapset,
    cb_mapclear,
    cb_liar,
];

/// How a case calls its builtin.
#[derive(Clone, Debug)]
pub enum How {
    /// `recv.m(args)` with the builtin "X.prototype.m".
    Method(&'static str),
    /// `X.y(args)` (the receiver is not used).
    Static(&'static str),
    /// `new X(args)`.
    New(&'static str),
    /// `recv.p` (the arguments are not used).
    Get(&'static str),
    /// `recv.p = args[0]`, answering the receiver afterwards.
    Set(&'static str),
}

#[derive(Clone, Debug)]
pub struct Case {
    pub how: How,
    pub recv: String,
    pub args: String,
}

pub fn case(how: How, recv: &str, args: &str) -> Case {
    Case {
        how,
        recv: recv.into(),
        args: args.into(),
    }
}

/// Runs the case on our builtins: `None` when it gave up.
pub fn ours(c: &Case) -> Option<String> {
    let mut cx = crate::cx::test_cx(FUNCS);
    LOG.with(|l| l.borrow_mut().clear());
    SEED.with(|s| *s.borrow_mut() = 1);
    MADE.with(|m| m.borrow_mut().clear());
    let recv_l = parse(&c.recv);
    let recv = build(&mut cx, &recv_l);
    let args: Vec<Value> = parse_args(&c.args)
        .iter()
        .map(|l| build(&mut cx, l))
        .collect();
    let r = match &c.how {
        How::Method(m) => {
            let def = crate::builtins::by_name(m).unwrap_or_else(|| panic!("no builtin {}", m));
            (def.f)(&mut cx, &recv, &args)
        }
        How::Static(m) => {
            let def = crate::builtins::by_name(m).unwrap_or_else(|| panic!("no builtin {}", m));
            let holder = cx.realm.global(m.split('.').next().unwrap()).unwrap();
            (def.f)(&mut cx, &holder, &args)
        }
        How::New(m) => {
            let def = crate::builtins::by_name(m).unwrap_or_else(|| panic!("no builtin {}", m));
            (def.ctor.unwrap())(&mut cx, None, &args)
        }
        How::Get(p) => props::get(&mut cx, &recv, &props::key(p)),
        How::Set(p) => {
            let v = args.first().cloned().unwrap_or(Value::Undefined);
            props::set(&mut cx, &recv, &props::key(p), v).map(|_| Value::Undefined)
        }
    };
    let log = LOG.with(|l| l.borrow().join(";"));
    match r {
        Ok(v) => {
            let rv = dump(&mut cx, &v, 0);
            let rr = dump(&mut cx, &recv, 0);
            Some(format!("ret={} recv={} log={}", rv, rr, log))
        }
        Err(Ctl::Throw(e)) => Some(format!("thrown {} log={}", dump(&mut cx, &e, 0), log)),
        Err(Ctl::Abort(_)) => None,
    }
}

fn js_expr(c: &Case) -> String {
    let args: Vec<String> = parse_args(&c.args).iter().map(to_js).collect();
    let args = args.join(",");
    match &c.how {
        How::Method(m) => {
            if args.is_empty() {
                format!("{}.call(R)", m)
            } else {
                format!("{}.call(R,{})", m, args)
            }
        }
        How::Static(m) => format!("{}({})", m, args),
        How::New(m) => format!("new {}({})", m, args),
        How::Get(p) => format!("R.{}", p),
        How::Set(p) => format!(
            "(()=>{{'use strict';R.{}={};}})()",
            p,
            if args.is_empty() {
                "undefined".to_string()
            } else {
                args
            }
        ),
    }
}

/// Runs every case in Node and asserts that each answer we gave equals Node's. Returns how many
/// answers were compared.
pub fn check(cases: &[Case]) -> usize {
    let mut js = String::from(PRELUDE);
    js.push_str("const OUT=[];\n");
    let cbs: Vec<String> = CALLBACKS
        .iter()
        .map(|(n, src, _, _)| format!("{}:{}", n, src))
        .collect();
    for c in cases {
        let _ = writeln!(
                js,
                "{{let LOG=[],S=1;const CB={{{}}};let R;try{{R={};const r={};OUT.push('ret='+D(r)+' recv='+D(R)+' log='+LOG.join(';'));}}catch(e){{OUT.push('thrown '+(typeof e==='string'?D(e):'E')+' log='+LOG.join(';'));}}}}",
                cbs.join(","),
                to_js(&parse(&c.recv)),
                js_expr(c)
            );
    }
    js.push_str("process.stdout.write(OUT.join('\\n')+'\\n');\n");
    let text = crate::testkit::node_script("array-diff", &js);
    let lines = crate::testkit::lines_for(&text, cases.len());
    let mut bad = Vec::new();
    let mut compared = 0;
    for (c, node) in cases.iter().zip(lines) {
        if let Some(o) = ours(c) {
            compared += 1;
            if o != node {
                bad.push(format!(
                    "{:?} {} ({})\n  node: {}\n  ours: {}",
                    c.how, c.recv, c.args, node, o
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} differ from Node:\n{}",
        bad.len(),
        compared,
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    compared
}

pub use super::XorShift as Rng;
