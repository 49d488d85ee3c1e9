//! `console.log`, `info`, `debug`, `warn`, `error`: each formats its arguments as Node's `util.format`
//! does and appends the line to `cx.logs`, which the host prints.
//!
//! Logs never reach the response, so the text is an approximation where Node's is elaborate: objects
//! print on one line (Node breaks long ones over several), errors print `name: message` (Node prints the
//! stack), and functions print their name rather than their source. What is exact is what the program
//! can observe: the user code that formatting runs. Like Node, `%d`, `%i`, `%f`, `%j` and `%s` convert
//! their argument with `valueOf`, `toString` or `toJSON` where Node does, and inspecting objects reads
//! their data properties without running getters.

use crate::builtins::collections::{MapData, SetData};
use crate::builtins::date::DateValue;
use crate::builtins::fetch::{HeadersData, ResponseData};
use crate::builtins::promise::PromiseState;
use crate::builtins::regexp::RegExpData;
use crate::cx::Abort;
use crate::cx::{unsupported, Cx, JsResult};
use crate::heap::{fflags, ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};

crate::builtin!(LOG, "console.log", 0, console_log);
crate::builtin!(INFO, "console.info", 0, console_log);
crate::builtin!(DEBUG, "console.debug", 0, console_log);
crate::builtin!(WARN, "console.warn", 0, console_log);
crate::builtin!(ERROR, "console.error", 0, console_log);

/// Installs console's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let console = r.namespace("console")?;
    r.statics(
        console,
        &[
            ("log", &LOG),
            ("info", &INFO),
            ("debug", &DEBUG),
            ("warn", &WARN),
            ("error", &ERROR),
        ],
    )?;
    Ok(())
}

/// Inspection stops at this depth, as Node's default (`[Object]` beyond).
const MAX_DEPTH: usize = 2;
/// Arrays, maps and sets show this many items, as Node does.
const MAX_ITEMS: usize = 100;
/// A line longer than this is cut: it only goes to the logs.
const MAX_LINE: usize = 1 << 16;

fn console_log(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    let line = format(cx, args)?;
    cx.logs.push(line);
    Ok(Value::Undefined)
}

fn number_text(n: f64) -> String {
    if n == 0.0 && n.is_sign_negative() {
        "-0".into()
    } else {
        ops::number_to_string(n)
    }
}

/// `util.format(...args)`.
pub fn format(cx: &mut Cx, args: &[Value]) -> JsResult<String> {
    let mut out = String::new();
    let mut a = 0;
    let mut join = "";
    if let Some(Value::Str(first)) = args.first() {
        if args.len() == 1 {
            return Ok(first.to_rust_string());
        }
        let u = first.units();
        let mut last = 0;
        let mut i = 0;
        while i + 1 < u.len() {
            if u[i] != b'%' as u16 {
                i += 1;
                continue;
            }
            i += 1;
            let next = u[i];
            if a + 1 != args.len() {
                let spec = char::from_u32(next as u32).unwrap_or('\0');
                let text = match spec {
                    's' | 'd' | 'i' | 'f' | 'j' | 'o' | 'O' | 'c' => {
                        a += 1;
                        placeholder(cx, spec, &args[a])?
                    }
                    '%' => {
                        out.push_str(&String::from_utf16_lossy(&u[last..i]));
                        last = i + 1;
                        i += 1;
                        continue;
                    }
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                if last != i - 1 {
                    out.push_str(&String::from_utf16_lossy(&u[last..i - 1]));
                }
                out.push_str(&text);
                last = i + 1;
            } else if next == b'%' as u16 {
                out.push_str(&String::from_utf16_lossy(&u[last..i]));
                last = i + 1;
            }
            i += 1;
        }
        if last != 0 {
            a += 1;
            join = " ";
            if last < u.len() {
                out.push_str(&String::from_utf16_lossy(&u[last..]));
            }
        }
    }
    while a < args.len() {
        out.push_str(join);
        match &args[a] {
            Value::Str(s) => out.push_str(&s.to_rust_string()),
            v => inspect(cx, v, 0, &mut Vec::new(), &mut out)?,
        }
        join = " ";
        a += 1;
        if out.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
            break;
        }
    }
    Ok(out)
}

/// The text of one placeholder with its argument.
fn placeholder(cx: &mut Cx, spec: char, v: &Value) -> JsResult<String> {
    Ok(match spec {
        's' => match v {
            Value::Num(n) => number_text(*n),
            Value::Obj(o) => {
                if user_to_string(cx, *o)? {
                    ops::to_string(cx, v)?.to_rust_string()
                } else if is_function(cx, *o) {
                    // Node prints the function's source here.
                    let mut s = String::new();
                    inspect(cx, v, 0, &mut Vec::new(), &mut s)?;
                    s
                } else {
                    let mut s = String::new();
                    inspect(cx, v, MAX_DEPTH, &mut Vec::new(), &mut s)?;
                    s
                }
            }
            _ => ops::to_string(cx, v)?.to_rust_string(),
        },
        'd' => number_text(ops::to_number(cx, v)?),
        'i' => {
            let s = ops::to_string(cx, v)?;
            number_text(crate::builtins::global::parse_int(s.units(), 0))
        }
        'f' => {
            let s = ops::to_string(cx, v)?;
            number_text(crate::builtins::global::parse_float(s.units()))
        }
        'j' => match crate::builtins::json::stringify_value(cx, v)? {
            Some(s) => s.to_rust_string(),
            None => "undefined".into(),
        },
        'c' => String::new(),
        _ => {
            let mut s = String::new();
            match v {
                Value::Str(_) => inspect(cx, v, 1, &mut Vec::new(), &mut s)?,
                _ => inspect(cx, v, 0, &mut Vec::new(), &mut s)?,
            }
            s
        }
    })
}

fn is_function(cx: &Cx, o: ObjRef) -> bool {
    matches!(
        cx.heap.kind(o),
        ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
    )
}

/// Whether `%s` converts object `o` with String() (a `toString` the program defined) rather than
/// inspecting it, as Node's `hasBuiltInToString` decides; String() then runs that code as in Node.
fn user_to_string(cx: &mut Cx, o: ObjRef) -> JsResult<bool> {
    let key = props::key("toString");
    let mut cur = Some(o);
    while let Some(c) = cur {
        match cx.heap.get(c).props.get(&key[..]) {
            Some(Prop::Data { value, .. }) => {
                return Ok(matches!(value, Value::Obj(f) if is_function(cx, *f)));
            }
            Some(Prop::Accessor { .. }) => {
                return unsupported("console formatting an object with a toString getter")
            }
            None => {}
        }
        cur = cx.heap.get(c).proto;
    }
    // Only the realm's builtin toString methods, which run no user code.
    Ok(false)
}

fn quote(s: &JsStr, out: &mut String) {
    out.push('\'');
    for c in s.to_rust_string().chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn is_identifier(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The name of the class an object was made by, when it is not a plain object.
fn class_name(cx: &Cx, o: ObjRef) -> Option<String> {
    let proto = cx.heap.get(o).proto?;
    if proto == cx.realm.object_proto {
        return None;
    }
    match cx.heap.get(proto).props.get(&props::key("constructor")[..]) {
        Some(Prop::Data {
            value: Value::Obj(c),
            ..
        }) => match cx.heap.kind(*c) {
            ObjKind::Function(f) => Some(f.name.to_rust_string()),
            ObjKind::Native(d) => Some(d.name.rsplit('.').next().unwrap_or(d.name).to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// A copy of `o`'s kind with at most `MAX_ITEMS` (+1) elements of an array, map or set.
fn shallow_kind(cx: &Cx, o: ObjRef) -> ObjKind {
    match cx.heap.kind(o) {
        ObjKind::Array(items) => {
            ObjKind::Array(items.iter().take(MAX_ITEMS + 1).cloned().collect())
        }
        k if k.is::<MapData>() => ObjKind::builtin(MapData(
            k.slots::<MapData>()
                .expect("a Map")
                .iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
        k if k.is::<SetData>() => ObjKind::builtin(SetData(
            k.slots::<SetData>()
                .expect("a Set")
                .iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
        ObjKind::Scope { .. } => ObjKind::Scope {
            vars: Vec::new(),
            parent: None,
        },
        k => k.clone(),
    }
}

fn array_len(cx: &Cx, o: ObjRef) -> usize {
    match cx.heap.kind(o) {
        ObjKind::Array(items) => items.len(),
        _ => 0,
    }
}

fn collection_len(cx: &Cx, o: ObjRef) -> usize {
    let k = cx.heap.kind(o);
    k.slots::<MapData>()
        .map(|m| m.len())
        .or_else(|| k.slots::<SetData>().map(|s| s.len()))
        .unwrap_or(0)
}

/// `util.inspect(v)`, approximately (see the module's notes): no user code runs.
fn inspect(
    cx: &mut Cx,
    v: &Value,
    depth: usize,
    seen: &mut Vec<ObjRef>,
    out: &mut String,
) -> JsResult<()> {
    cx.burn(1)?;
    if out.len() > MAX_LINE {
        return Ok(());
    }
    let o = match v {
        Value::Obj(o) => *o,
        Value::Undefined | Value::Hole => {
            out.push_str("undefined");
            return Ok(());
        }
        Value::Null => {
            out.push_str("null");
            return Ok(());
        }
        Value::Bool(b) => {
            out.push_str(if *b { "true" } else { "false" });
            return Ok(());
        }
        Value::Num(n) => {
            out.push_str(&number_text(*n));
            return Ok(());
        }
        Value::Str(s) => {
            quote(s, out);
            return Ok(());
        }
    };
    if seen.contains(&o) {
        out.push_str("[Circular *1]");
        return Ok(());
    }
    let kind = shallow_kind(cx, o);
    match kind {
        ObjKind::Function(f) => {
            let name = f.name.to_rust_string();
            if f.flags & fflags::CLASS != 0 {
                out.push_str(&format!(
                    "[class {}]",
                    if name.is_empty() {
                        "(anonymous)"
                    } else {
                        &name
                    }
                ));
            } else if name.is_empty() {
                out.push_str("[Function (anonymous)]");
            } else {
                out.push_str(&format!("[Function: {}]", name));
            }
            return Ok(());
        }
        ObjKind::Native(d) => {
            out.push_str(&format!("[Function: {}]", d.js_name()));
            return Ok(());
        }
        ObjKind::Bound(_) => {
            out.push_str("[Function: bound]");
            return Ok(());
        }
        k if k.is::<DateValue>() => {
            let DateValue(t) = *k.slots::<DateValue>().expect("a Date");
            out.push_str(
                &crate::builtins::date::iso_string(t).unwrap_or_else(|| "Invalid Date".into()),
            );
            return Ok(());
        }
        k if k.is::<RegExpData>() => {
            let source = crate::builtins::regexp::accessor_get(cx, o, v, &props::key("source"))?;
            let flags = crate::builtins::regexp::accessor_get(cx, o, v, &props::key("flags"))?;
            match (source, flags) {
                (Some(Value::Str(s)), Some(Value::Str(f))) => {
                    out.push_str(&format!("/{}/{}", s, f))
                }
                _ => out.push_str("[RegExp]"),
            }
            return Ok(());
        }
        ObjKind::Error => {
            if let Some(Prop::Accessor { .. }) =
                cx.heap.get(o).props.get(&props::key("message")[..])
            {
                return unsupported(
                    "logging an error whose message is an accessor (or the engine's)",
                );
            }
            // Node reads `name` (running a getter) and converts it to a string.
            let name = props::get(cx, v, &props::key("name"))?;
            let name = if name.is_nullish() {
                "Error".to_string()
            } else {
                ops::to_string(cx, &name)?.to_rust_string()
            };
            // Read without getters: the own message, or the prototype's.
            let mut msg = String::new();
            let mut cur = Some(o);
            while let Some(c) = cur {
                if let Some(Prop::Data {
                    value: Value::Str(m),
                    ..
                }) = cx.heap.get(c).props.get(&props::key("message")[..])
                {
                    msg = m.to_rust_string();
                    break;
                }
                cur = cx.heap.get(c).proto;
            }
            out.push_str(&if msg.is_empty() {
                name
            } else {
                format!("{}: {}", name, msg)
            });
            return Ok(());
        }
        ObjKind::Scope { .. } => {
            out.push_str("[Scope]");
            return Ok(());
        }
        _ => {}
    }
    if depth > MAX_DEPTH {
        let label = match &kind {
            ObjKind::Array(_) => "Array".to_string(),
            _ => class_name(cx, o).unwrap_or_else(|| "Object".into()),
        };
        out.push_str(&format!("[{}]", label));
        return Ok(());
    }
    seen.push(o);
    let mut parts: Vec<String> = Vec::new();
    let mut prefix = String::new();
    let (open, close) = match &kind {
        ObjKind::Array(ref items) => {
            let total = array_len(cx, o);
            let mut holes = 0;
            for (n, item) in items.iter().enumerate() {
                if n >= MAX_ITEMS {
                    parts.push(format!(
                        "... {} more item{}",
                        total - n,
                        if total - n > 1 { "s" } else { "" }
                    ));
                    break;
                }
                if matches!(item, Value::Hole) {
                    holes += 1;
                    continue;
                }
                if holes > 0 {
                    parts.push(format!(
                        "<{} empty item{}>",
                        holes,
                        if holes > 1 { "s" } else { "" }
                    ));
                    holes = 0;
                }
                let mut s = String::new();
                inspect(cx, item, depth + 1, seen, &mut s)?;
                parts.push(s);
            }
            if holes > 0 {
                parts.push(format!(
                    "<{} empty item{}>",
                    holes,
                    if holes > 1 { "s" } else { "" }
                ));
            }
            if let Some(name) = class_name(cx, o).filter(|n| n != "Array") {
                prefix = format!("{}({}) ", name, total);
            }
            ("[", "]")
        }
        k if k.is::<MapData>() => {
            let m = k.slots::<MapData>().expect("a Map");
            prefix = format!("Map({}) ", collection_len(cx, o));
            let entries: Vec<(Value, Value)> = m.values().take(MAX_ITEMS).cloned().collect();
            for (k, val) in entries {
                let mut s = String::new();
                inspect(cx, &k, depth + 1, seen, &mut s)?;
                s.push_str(" => ");
                inspect(cx, &val, depth + 1, seen, &mut s)?;
                parts.push(s);
            }
            ("{", "}")
        }
        k if k.is::<SetData>() => {
            let set = k.slots::<SetData>().expect("a Set");
            prefix = format!("Set({}) ", collection_len(cx, o));
            let items: Vec<Value> = set.values().take(MAX_ITEMS).cloned().collect();
            for item in items {
                let mut s = String::new();
                inspect(cx, &item, depth + 1, seen, &mut s)?;
                parts.push(s);
            }
            ("{", "}")
        }
        k if k.is::<PromiseState>() => {
            let state = k.slots::<PromiseState>().expect("a promise");
            prefix = "Promise ".into();
            let mut s = String::new();
            match state {
                PromiseState::Fulfilled(x) => inspect(cx, x, depth + 1, seen, &mut s)?,
                PromiseState::Rejected(e) => {
                    s.push_str("<rejected> ");
                    inspect(cx, e, depth + 1, seen, &mut s)?;
                }
                _ => s.push_str("<pending>"),
            }
            parts.push(s);
            ("{", "}")
        }
        k if k.is::<ResponseData>() => {
            prefix = "Response ".into();
            ("{", "}")
        }
        k if k.is::<HeadersData>() => {
            prefix = "Headers ".into();
            ("{", "}")
        }
        k if k.is_host() => return unsupported("logging an iterator"),
        _ => {
            match cx.heap.get(o).proto {
                None => prefix = "[Object: null prototype] ".into(),
                Some(_) => {
                    if let Some(name) = class_name(cx, o) {
                        prefix = format!("{} ", name);
                    }
                }
            }
            ("{", "}")
        }
    };
    // Own enumerable properties other than array indices, read without running getters.
    let keys = props::own_enumerable_keys(cx, o);
    for k in keys {
        if matches!(kind, ObjKind::Array(_)) && k.as_array_index().is_some() {
            continue;
        }
        let prop = cx.heap.get(o).props.get(&k).cloned();
        let name = k.to_rust_string();
        let mut s = if is_identifier(&name) {
            name
        } else {
            let mut q = String::new();
            quote(&k, &mut q);
            q
        };
        s.push_str(": ");
        match prop {
            Some(Prop::Data { value, .. }) => inspect(cx, &value, depth + 1, seen, &mut s)?,
            Some(Prop::Accessor { get, set, .. }) => {
                s.push_str(match (get.is_some(), set.is_some()) {
                    (true, true) => "[Getter/Setter]",
                    (true, false) => "[Getter]",
                    _ => "[Setter]",
                })
            }
            None => s.push_str("undefined"),
        }
        parts.push(s);
    }
    seen.pop();
    out.push_str(&prefix);
    if parts.is_empty() {
        out.push_str(open);
        out.push_str(close);
    } else {
        out.push_str(open);
        out.push(' ');
        out.push_str(&parts.join(", "));
        out.push(' ');
        out.push_str(close);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
