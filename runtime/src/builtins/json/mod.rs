//! `JSON.parse` and `JSON.stringify` (ECMA-262 §25.5), byte-exact with V8.
//!
//! Both work on UTF-16 code units, so lone surrogates survive a round trip, and both are iterative, so
//! deep nesting gives up at a fixed depth instead of overflowing the Rust stack.
//!
//! What gives up: a syntax error in `JSON.parse` (V8's SyntaxError text is not reproduced), a reviver
//! function, nesting deeper than `MAX_PARSE_DEPTH` / `MAX_STRINGIFY_DEPTH`, a cycle (V8 throws a
//! TypeError whose text we do not reproduce), host objects, and Dates when no `toJSON` is modelled.

use crate::builtins::arg;
use crate::call::is_callable;
use crate::call::{self, Callee};
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Prop, Props};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};
use std::collections::HashSet;

crate::builtin!(PARSE, "JSON.parse", 2, json_parse);
crate::builtin!(STRINGIFY, "JSON.stringify", 3, json_stringify);

/// Installs json's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let json = r.namespace("JSON")?;
    r.statics(json, &[("parse", &PARSE), ("stringify", &STRINGIFY)])?;
    Ok(())
}

/// Nesting beyond this gives up in `JSON.parse` (V8 itself parses far deeper).
const MAX_PARSE_DEPTH: usize = 5000;
/// Nesting beyond this gives up in `JSON.stringify`: V8 throws a RangeError (stack overflow) at a depth
/// that depends on the stack already in use, around 4000 from a shallow caller in Node 20.
const MAX_STRINGIFY_DEPTH: usize = 1000;

// ---------------------------------------------------------------------------------------------------
// JSON.parse (ECMA-262 §25.5.1)
// ---------------------------------------------------------------------------------------------------

fn json_parse(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let text = ops::to_string(cx, &arg(args, 0))?;
    let reviver = arg(args, 1);
    if let Value::Obj(o) = &reviver {
        if matches!(
            cx.heap.kind(*o),
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
        ) {
            return unsupported("JSON.parse with a reviver");
        }
    }
    parse_bytes(cx, text.units())
}

/// Parses JSON text (the whole of it) into a value, as `JSON.parse(text)` does. The dispatcher uses it
/// for request bodies.
pub fn parse_bytes(cx: &mut Cx, text: &[u16]) -> JsResult<Value> {
    parse_with(cx, text, false)
}

/// `parse_bytes` for a request's body: its strings and keys are the program's constants where they have
/// the same units (`Cx::input_str`).
pub fn parse_input(cx: &mut Cx, text: &[u16]) -> JsResult<Value> {
    parse_with(cx, text, true)
}

fn parse_with(cx: &mut Cx, text: &[u16], input: bool) -> JsResult<Value> {
    cx.burn(text.len() as u64 / 2 + 1)?;
    Parser {
        cx,
        s: text,
        pos: 0,
        input,
    }
    .parse()
}

enum Frame {
    Arr(Vec<Value>),
    Obj(Props, JsStr),
}

struct Parser<'a, 'b> {
    cx: &'a mut Cx,
    s: &'b [u16],
    pos: usize,
    /// Whether the text is a request's body (see `parse_input`).
    input: bool,
}

fn syntax_error<T>() -> JsResult<T> {
    crate::cx::engine_throw("SyntaxError", "SyntaxError in JSON.parse")
}

impl Parser<'_, '_> {
    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u16> {
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> JsResult<()> {
        if self.peek() == Some(c as u16) {
            self.pos += 1;
            Ok(())
        } else {
            syntax_error()
        }
    }

    fn parse(&mut self) -> JsResult<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.ws();
            let mut v = match self.peek() {
                Some(0x7B) => {
                    // '{'
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(0x7D) {
                        self.pos += 1;
                        self.new_object(Props::default())?
                    } else {
                        let key = self.key()?;
                        self.push(&mut stack, Frame::Obj(Props::default(), key))?;
                        continue 'value;
                    }
                }
                Some(0x5B) => {
                    // '['
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(0x5D) {
                        self.pos += 1;
                        self.cx.new_array(Vec::new())?
                    } else {
                        self.push(&mut stack, Frame::Arr(Vec::new()))?;
                        continue 'value;
                    }
                }
                Some(0x22) => {
                    let s = self.string()?;
                    self.cx.heap.charge(16 + 2 * s.len())?;
                    Value::Str(s)
                }
                Some(0x74) => self.literal("true", Value::Bool(true))?,
                Some(0x66) => self.literal("false", Value::Bool(false))?,
                Some(0x6E) => self.literal("null", Value::Null)?,
                Some(c) if c == 0x2D || (0x30..=0x39).contains(&c) => Value::Num(self.number()?),
                _ => return syntax_error(),
            };
            // A complete value: hand it to the enclosing array or object, closing those that end here.
            loop {
                match stack.last_mut() {
                    None => {
                        self.ws();
                        if self.pos != self.s.len() {
                            return syntax_error();
                        }
                        return Ok(v);
                    }
                    Some(Frame::Arr(items)) => {
                        items.push(v);
                        self.ws();
                        match self.peek() {
                            Some(0x2C) => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(0x5D) => {
                                self.pos += 1;
                                let Some(Frame::Arr(items)) = stack.pop() else {
                                    unreachable!()
                                };
                                v = self.cx.new_array(items)?;
                            }
                            _ => return syntax_error(),
                        }
                    }
                    Some(Frame::Obj(props, key)) => {
                        // CreateDataProperty: a repeated key keeps its first position and takes the last value.
                        let k = std::mem::replace(key, JsStr::empty());
                        props.insert(k, Prop::data(v));
                        self.ws();
                        match self.peek() {
                            Some(0x2C) => {
                                self.pos += 1;
                                self.ws();
                                let k = self.key()?;
                                if let Some(Frame::Obj(_, key)) = stack.last_mut() {
                                    *key = k;
                                }
                                continue 'value;
                            }
                            Some(0x7D) => {
                                self.pos += 1;
                                let Some(Frame::Obj(props, _)) = stack.pop() else {
                                    unreachable!()
                                };
                                v = self.new_object(props)?;
                            }
                            _ => return syntax_error(),
                        }
                    }
                }
            }
        }
    }

    fn push(&mut self, stack: &mut Vec<Frame>, f: Frame) -> JsResult<()> {
        if stack.len() >= MAX_PARSE_DEPTH {
            return unsupported("JSON.parse of text nested too deeply");
        }
        stack.push(f);
        Ok(())
    }

    fn new_object(&mut self, props: Props) -> JsResult<Value> {
        let mut obj = Obj::new(ObjKind::Ordinary, Some(self.cx.realm.object_proto));
        for k in props.keys() {
            self.cx.heap.charge(2 * k.len())?;
        }
        obj.props = props;
        Ok(Value::Obj(self.cx.heap.alloc(obj)?))
    }

    /// A member name and the colon after it (whitespace before the name already skipped).
    fn key(&mut self) -> JsResult<JsStr> {
        if self.peek() != Some(0x22) {
            return syntax_error();
        }
        let k = self.string()?;
        self.ws();
        self.expect(b':')?;
        Ok(k)
    }

    fn literal(&mut self, word: &str, v: Value) -> JsResult<Value> {
        for b in word.bytes() {
            self.expect(b)?;
        }
        Ok(v)
    }

    /// A string token starting at the opening quote.
    fn string(&mut self) -> JsResult<JsStr> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        while let Some(&c) = self.s.get(self.pos) {
            if c == 0x22 {
                let units = &self.s[start..self.pos];
                let s = if self.input {
                    self.cx.input_str(units)
                } else {
                    JsStr::from_slice(units)
                };
                self.pos += 1;
                return Ok(s);
            }
            if c == 0x5C || c < 0x20 {
                break;
            }
            self.pos += 1;
        }
        let mut out: Vec<u16> = self.s[start..self.pos].to_vec();
        loop {
            let Some(c) = self.peek() else {
                return syntax_error();
            };
            self.pos += 1;
            match c {
                0x22 => return Ok(JsStr::from_units(out)),
                0x5C => {
                    let Some(e) = self.peek() else {
                        return syntax_error();
                    };
                    self.pos += 1;
                    out.push(match e {
                        0x22 => 0x22,
                        0x5C => 0x5C,
                        0x2F => 0x2F,
                        0x62 => 0x08,
                        0x66 => 0x0C,
                        0x6E => 0x0A,
                        0x72 => 0x0D,
                        0x74 => 0x09,
                        0x75 => {
                            let mut n: u16 = 0;
                            for _ in 0..4 {
                                let d = self
                                    .peek()
                                    .and_then(|h| char::from_u32(h as u32))
                                    .and_then(|h| h.to_digit(16));
                                let Some(d) = d else { return syntax_error() };
                                n = n * 16 + d as u16;
                                self.pos += 1;
                            }
                            n
                        }
                        _ => return syntax_error(),
                    });
                }
                c if c < 0x20 => return syntax_error(),
                c => out.push(c),
            }
        }
    }

    /// A number token: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> JsResult<f64> {
        let start = self.pos;
        let digit = |c: Option<u16>| c.is_some_and(|c| (0x30..=0x39).contains(&c));
        if self.peek() == Some(0x2D) {
            self.pos += 1;
        }
        match self.peek() {
            Some(0x30) => self.pos += 1,
            c if digit(c) => {
                while digit(self.peek()) {
                    self.pos += 1;
                }
            }
            _ => return syntax_error(),
        }
        if self.peek() == Some(0x2E) {
            self.pos += 1;
            if !digit(self.peek()) {
                return syntax_error();
            }
            while digit(self.peek()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(0x65) | Some(0x45)) {
            self.pos += 1;
            if matches!(self.peek(), Some(0x2B) | Some(0x2D)) {
                self.pos += 1;
            }
            if !digit(self.peek()) {
                return syntax_error();
            }
            while digit(self.peek()) {
                self.pos += 1;
            }
        }
        // The token is ASCII and matches Rust's float grammar; Rust's parser rounds correctly, as
        // JavaScript's Number parsing does.
        let text: String = self.s[start..self.pos]
            .iter()
            .map(|&c| c as u8 as char)
            .collect();
        match text.parse::<f64>() {
            Ok(n) => Ok(n),
            Err(_) => syntax_error(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// JSON.stringify (ECMA-262 §25.5.2)
// ---------------------------------------------------------------------------------------------------

fn json_stringify(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let value = arg(args, 0);
    let replacer = arg(args, 1);
    let space = arg(args, 2);
    let mut replacer_fn = None;
    let mut prop_list = None;
    if let Value::Obj(r) = &replacer {
        match cx.heap.kind(*r) {
            ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => {
                replacer_fn = Some(replacer.clone())
            }
            ObjKind::Array(items) => {
                let len = items.len();
                let mut list: Vec<JsStr> = Vec::new();
                for i in 0..len {
                    cx.tick()?;
                    let v = props::get_computed(cx, &replacer, &Value::Num(i as f64))?;
                    // String and Number wrapper objects are not modelled; other objects are skipped.
                    let item = match v {
                        Value::Str(s) => s,
                        Value::Num(n) => ops::number_to_jsstr(n),
                        _ => continue,
                    };
                    if !list.contains(&item) {
                        list.push(item);
                    }
                }
                prop_list = Some(list);
            }
            _ => {}
        }
    }
    let gap: Vec<u16> = match &space {
        Value::Num(x) => {
            if *x > 0.0 && *x < 1.0 {
                // V8 then breaks lines but indents by nothing, unlike the spec's "".
                return unsupported("JSON.stringify with a space between 0 and 1");
            }
            let n = ops::to_integer_or_infinity(cx, &space)?.min(10.0);
            if n >= 1.0 {
                vec![0x20; n as usize]
            } else {
                Vec::new()
            }
        }
        Value::Str(s) => s.units()[..s.len().min(10)].to_vec(),
        _ => Vec::new(),
    };
    let holder = if replacer_fn.is_some() {
        let w = cx.new_object()?;
        props::define(
            cx,
            w.as_obj().expect("object"),
            JsStr::empty(),
            value.clone(),
        )?;
        w
    } else {
        Value::Undefined
    };
    let mut ser = Serializer::new(replacer_fn, prop_list, gap);
    match ser.run(cx, holder, value)? {
        Some(s) => Ok(Value::Str(s)),
        None => Ok(Value::Undefined),
    }
}

/// `JSON.stringify(v)` without replacer or indentation; `None` where JavaScript returns `undefined`.
pub fn stringify_value(cx: &mut Cx, v: &Value) -> JsResult<Option<JsStr>> {
    Serializer::new(None, None, Vec::new()).run(cx, Value::Undefined, v.clone())
}

/// The key a value was read under: materialised as a string only when a callback needs it.
enum Key {
    Str(JsStr),
    Idx(usize),
}

impl Key {
    fn to_value(&self) -> Value {
        match self {
            Key::Str(s) => Value::Str(s.clone()),
            Key::Idx(i) => Value::Str(ops::number_to_jsstr(*i as f64)),
        }
    }
}

enum SerFrame {
    Obj {
        o: ObjRef,
        keys: Vec<JsStr>,
        i: usize,
        any: bool,
    },
    Arr {
        o: ObjRef,
        len: usize,
        i: usize,
    },
}

/// What SerializeJSONProperty produced for one value.
enum Step {
    /// `undefined`: skipped in objects, `null` in arrays.
    Nothing,
    /// The text was written.
    Written,
    /// An object or array was opened; its frame goes on the stack.
    Open(SerFrame),
}

struct Serializer {
    out: Vec<u16>,
    charged: usize,
    gap: Vec<u16>,
    indent: Vec<u16>,
    replacer_fn: Option<Value>,
    prop_list: Option<Vec<JsStr>>,
    /// The objects being serialized, for cycle detection.
    open: HashSet<ObjRef>,
}

const TO_JSON: &[u16] = &[0x74, 0x6F, 0x4A, 0x53, 0x4F, 0x4E];

/// GetV(value, "toJSON") when it is callable. A non-callable `toJSON` is ignored, as the spec says.
fn to_json_method(cx: &mut Cx, v: &Value, o: ObjRef) -> JsResult<Option<Callee>> {
    let mut cur = Some(o);
    while let Some(c) = cur {
        let obj = cx.heap.get(c);
        if obj.kind.is_host() {
            return unsupported("JSON.stringify of a host object");
        }
        if obj.props.contains_key(TO_JSON) {
            let f = props::get(cx, v, TO_JSON)?;
            return Ok(match f {
                Value::Obj(f) if is_callable(cx, &Value::Obj(f)) => Some(Callee::Obj(f)),
                _ => None,
            });
        }
        if let Some(d) = cx.realm.proto_method(c, TO_JSON) {
            return Ok(Some(Callee::Native(d)));
        }
        cur = obj.proto;
    }
    if cx.heap.kind(o).is::<crate::builtins::date::DateValue>() {
        return unsupported("JSON.stringify of a Date without Date.prototype.toJSON");
    }
    Ok(None)
}

impl Serializer {
    fn new(replacer_fn: Option<Value>, prop_list: Option<Vec<JsStr>>, gap: Vec<u16>) -> Serializer {
        Serializer {
            out: Vec::new(),
            charged: 0,
            gap,
            indent: Vec::new(),
            replacer_fn,
            prop_list,
            open: HashSet::new(),
        }
    }

    fn run(&mut self, cx: &mut Cx, wrapper: Value, value: Value) -> JsResult<Option<JsStr>> {
        let mut stack: Vec<SerFrame> = Vec::new();
        let v = self.prepare(cx, &wrapper, &Key::Str(JsStr::empty()), value)?;
        match self.emit(cx, v, stack.len())? {
            Step::Nothing => return Ok(None),
            Step::Written => {}
            Step::Open(f) => stack.push(f),
        }
        while let Some(top) = stack.last_mut() {
            cx.tick()?;
            self.charge(cx)?;
            match top {
                SerFrame::Obj { o, keys, i, any } => {
                    if *i == keys.len() {
                        let (o, any) = (*o, *any);
                        self.close(o, any, b'}');
                        stack.pop();
                        continue;
                    }
                    let o = *o;
                    let key = keys[*i].clone();
                    *i += 1;
                    let first = !*any;
                    let v = props::get(cx, &Value::Obj(o), key.units())?;
                    let v = self.prepare(cx, &Value::Obj(o), &Key::Str(key.clone()), v)?;
                    if self.skipped(cx, &v) {
                        continue;
                    }
                    if let Some(SerFrame::Obj { any, .. }) = stack.last_mut() {
                        *any = true;
                    }
                    self.separator(first);
                    quote_json_string(&mut self.out, key.units());
                    self.out.push(b':' as u16);
                    if !self.gap.is_empty() {
                        self.out.push(b' ' as u16);
                    }
                    if let Step::Open(f) = self.emit(cx, v, stack.len())? {
                        stack.push(f);
                    }
                }
                SerFrame::Arr { o, len, i } => {
                    if *i == *len {
                        let (o, nonempty) = (*o, *len > 0);
                        self.close(o, nonempty, b']');
                        stack.pop();
                        continue;
                    }
                    let o = *o;
                    let idx = *i;
                    *i += 1;
                    let v = props::get_computed(cx, &Value::Obj(o), &Value::Num(idx as f64))?;
                    let v = self.prepare(cx, &Value::Obj(o), &Key::Idx(idx), v)?;
                    self.separator(idx == 0);
                    match self.emit(cx, v, stack.len())? {
                        Step::Nothing => self.out.extend("null".encode_utf16()),
                        Step::Written => {}
                        Step::Open(f) => stack.push(f),
                    }
                }
            }
        }
        self.charge(cx)?;
        Ok(Some(JsStr::from_units(std::mem::take(&mut self.out))))
    }

    /// Counts the output against the heap cap as it grows.
    fn charge(&mut self, cx: &mut Cx) -> JsResult<()> {
        if self.out.len() > self.charged {
            cx.heap.charge(2 * (self.out.len() - self.charged))?;
            self.charged = self.out.len();
        }
        Ok(())
    }

    /// SerializeJSONProperty steps 1-3: `toJSON`, then the replacer function.
    fn prepare(&mut self, cx: &mut Cx, holder: &Value, key: &Key, mut v: Value) -> JsResult<Value> {
        v = v.unhole();
        if let Value::Obj(o) = v {
            if let Some(f) = to_json_method(cx, &v, o)? {
                let k = key.to_value();
                v = call::invoke(cx, &f, v.clone(), &[k])?;
            }
        }
        if let Some(r) = self.replacer_fn.clone() {
            let k = key.to_value();
            v = call::call(cx, &r, holder.clone(), &[k, v])?;
        }
        Ok(v.unhole())
    }

    /// Whether a (prepared) value serializes to `undefined`.
    fn skipped(&self, cx: &Cx, v: &Value) -> bool {
        v.is_undefined() || is_callable(cx, v)
    }

    fn separator(&mut self, first: bool) {
        if !first {
            self.out.push(b',' as u16);
        }
        if !self.gap.is_empty() {
            self.out.push(b'\n' as u16);
            self.out.extend_from_slice(&self.indent);
        }
    }

    fn close(&mut self, o: ObjRef, nonempty: bool, bracket: u8) {
        self.open.remove(&o);
        self.indent.truncate(self.indent.len() - self.gap.len());
        if nonempty && !self.gap.is_empty() {
            self.out.push(b'\n' as u16);
            self.out.extend_from_slice(&self.indent);
        }
        self.out.push(bracket as u16);
    }

    /// SerializeJSONProperty steps 4-12 for a prepared value.
    fn emit(&mut self, cx: &mut Cx, v: Value, depth: usize) -> JsResult<Step> {
        match v {
            Value::Undefined | Value::Hole => Ok(Step::Nothing),
            Value::Null => {
                self.out.extend("null".encode_utf16());
                Ok(Step::Written)
            }
            Value::Bool(b) => {
                self.out
                    .extend(if b { "true" } else { "false" }.encode_utf16());
                Ok(Step::Written)
            }
            Value::Num(n) => {
                if n.is_finite() {
                    self.out.extend_from_slice(ops::number_to_jsstr(n).units());
                } else {
                    self.out.extend("null".encode_utf16());
                }
                Ok(Step::Written)
            }
            Value::Str(s) => {
                quote_json_string(&mut self.out, s.units());
                Ok(Step::Written)
            }
            Value::Obj(o) => {
                if self.open.contains(&o) && !is_callable(cx, &Value::Obj(o)) {
                    return engine_error("Converting circular structure to JSON");
                }
                let frame = match cx.heap.kind(o) {
                    ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_) => {
                        return Ok(Step::Nothing)
                    }
                    k if k.is_host() => return unsupported("JSON.stringify of a host object"),
                    ObjKind::Scope { .. } => {
                        return unsupported("JSON.stringify of an environment")
                    }
                    ObjKind::Array(items) => {
                        let len = items.len();
                        if len == 0 {
                            self.out.extend("[]".encode_utf16());
                            return Ok(Step::Written);
                        }
                        SerFrame::Arr { o, len, i: 0 }
                    }
                    _ => {
                        let keys = match &self.prop_list {
                            Some(list) => list.clone(),
                            None => props::own_enumerable_keys(cx, o),
                        };
                        if keys.is_empty() {
                            self.out.extend("{}".encode_utf16());
                            return Ok(Step::Written);
                        }
                        SerFrame::Obj {
                            o,
                            keys,
                            i: 0,
                            any: false,
                        }
                    }
                };
                self.open.insert(o);
                if depth >= MAX_STRINGIFY_DEPTH {
                    return unsupported("JSON.stringify of a value nested too deeply");
                }
                self.indent.extend_from_slice(&self.gap);
                self.out.push(if matches!(frame, SerFrame::Arr { .. }) {
                    b'['
                } else {
                    b'{'
                } as u16);
                Ok(Step::Open(frame))
            }
        }
    }
}

/// QuoteJSONString (ECMA-262 §25.5.2.3), well-formed: lone surrogates are escaped as `\udxxx`.
pub fn quote_json_string(out: &mut Vec<u16>, s: &[u16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let escape_u = |out: &mut Vec<u16>, c: u16| {
        out.extend_from_slice(&[b'\\' as u16, b'u' as u16]);
        for shift in [12, 8, 4, 0] {
            out.push(HEX[((c >> shift) & 0xF) as usize] as u16);
        }
    };
    out.reserve(s.len() + 2);
    out.push(b'"' as u16);
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match c {
            0x08 => out.extend_from_slice(&[b'\\' as u16, b'b' as u16]),
            0x09 => out.extend_from_slice(&[b'\\' as u16, b't' as u16]),
            0x0A => out.extend_from_slice(&[b'\\' as u16, b'n' as u16]),
            0x0C => out.extend_from_slice(&[b'\\' as u16, b'f' as u16]),
            0x0D => out.extend_from_slice(&[b'\\' as u16, b'r' as u16]),
            0x22 => out.extend_from_slice(&[b'\\' as u16, b'"' as u16]),
            0x5C => out.extend_from_slice(&[b'\\' as u16, b'\\' as u16]),
            c if c < 0x20 => escape_u(out, c),
            0xD800..=0xDBFF => {
                if let Some(&d) = s.get(i + 1) {
                    if (0xDC00..=0xDFFF).contains(&d) {
                        out.push(c);
                        out.push(d);
                        i += 2;
                        continue;
                    }
                }
                escape_u(out, c);
            }
            0xDC00..=0xDFFF => escape_u(out, c),
            c => out.push(c),
        }
        i += 1;
    }
    out.push(b'"' as u16);
}

#[cfg(test)]
mod tests;
