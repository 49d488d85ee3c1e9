//! The error constructors (ECMA-262 §20.5): `Error` and the native errors `TypeError`, `RangeError`,
//! `SyntaxError`, `ReferenceError`, `URIError`, `EvalError`; `Error.prototype.toString`;
//! `Error.captureStackTrace` (V8).
//!
//! V8 gives every error an own `stack` property holding its text; we do not model it: reading `.stack`
//! gives up (props.rs), and so does `Error.captureStackTrace` on an object that is not an error (V8 would
//! give it a `stack` the program could read).

use crate::builtins::{arg, BuiltinDef};
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::value::{JsStr, ObjRef, Value};

/// Declares a constructor builtin for one error class: called as a function or with `new`, it makes an
/// error of that class (ECMA-262 §20.5.1.1 and §20.5.6.1 treat both the same).
macro_rules! error_class {
    ($id:ident, $name:literal, $call:ident, $ctor:ident) => {
        fn $call(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
            construct_error(cx, $name, None, args)
        }
        fn $ctor(cx: &mut Cx, this: Option<ObjRef>, args: &[Value]) -> JsResult<Value> {
            construct_error(cx, $name, this, args)
        }
        crate::builtin!($id, $name, 1, $call, ctor = $ctor);
    };
}

error_class!(ERROR, "Error", error_call, error_ctor);
error_class!(TYPE_ERROR, "TypeError", type_error_call, type_error_ctor);
error_class!(
    RANGE_ERROR,
    "RangeError",
    range_error_call,
    range_error_ctor
);
error_class!(
    SYNTAX_ERROR,
    "SyntaxError",
    syntax_error_call,
    syntax_error_ctor
);
error_class!(
    REFERENCE_ERROR,
    "ReferenceError",
    reference_error_call,
    reference_error_ctor
);
error_class!(URI_ERROR, "URIError", uri_error_call, uri_error_ctor);
error_class!(EVAL_ERROR, "EvalError", eval_error_call, eval_error_ctor);
crate::builtin!(TO_STRING, "Error.prototype.toString", 0, error_to_string);
crate::builtin!(
    CAPTURE_STACK_TRACE,
    "Error.captureStackTrace",
    2,
    capture_stack_trace
);

/// The error classes, each with its constructor.
const CLASSES: [(&str, &BuiltinDef); 7] = [
    ("Error", &ERROR),
    ("TypeError", &TYPE_ERROR),
    ("RangeError", &RANGE_ERROR),
    ("SyntaxError", &SYNTAX_ERROR),
    ("ReferenceError", &REFERENCE_ERROR),
    ("URIError", &URI_ERROR),
    ("EvalError", &EVAL_ERROR),
];

/// Installs the error classes: `Error.prototype` (which the realm makes, as the engine throws errors) and
/// one prototype per native error inheriting from it, each carrying `name` and `message` as data
/// properties (ECMA-262 §20.5.3), and the constructors.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let error_proto = r.proto("Error");
    let mut protos = Vec::new();
    for (name, _) in CLASSES {
        let p = if name == "Error" {
            error_proto
        } else {
            r.prototype(name, error_proto)?
        };
        r.property(p, "name", Value::str(name))?;
        r.property(p, "message", Value::str(""))?;
        protos.push(p);
    }
    for ((name, def), p) in CLASSES.into_iter().zip(protos) {
        let ctor = r.constructor(name, def, p)?;
        if name == "Error" {
            r.statics(ctor, &[("captureStackTrace", &CAPTURE_STACK_TRACE)])?;
        }
    }
    r.methods(error_proto, &[("toString", &TO_STRING)])?;
    Ok(())
}

/// The body of every error constructor (ECMA-262 §20.5.1.1): `this` is the object a derived class's
/// `super(...)` initialises, otherwise a new object with the class's prototype is made.
fn construct_error(
    cx: &mut Cx,
    class: &str,
    this: Option<ObjRef>,
    args: &[Value],
) -> JsResult<Value> {
    let o = match this {
        Some(o) => {
            let obj = cx.heap.get_mut(o)?;
            match obj.kind {
                ObjKind::Ordinary | ObjKind::Error => obj.kind = ObjKind::Error,
                _ => return unsupported("an error constructor applied to an exotic object"),
            }
            o
        }
        None => {
            let p = cx.realm.proto(class).unwrap_or(cx.realm.error_proto);
            cx.heap.alloc(Obj::new(ObjKind::Error, Some(p)))?
        }
    };
    let message = arg(args, 0);
    if !message.is_undefined() {
        let m = ops::to_string(cx, &message)?;
        props::define_prop(cx, o, JsStr::from("message"), Prop::hidden(Value::Str(m)))?;
    }
    // InstallErrorCause (ECMA-262 §20.5.8.1).
    let options = arg(args, 1);
    if let Value::Obj(_) = options {
        if props::has_property(cx, &options, &props::key("cause"))? {
            let cause = props::get(cx, &options, &props::key("cause"))?;
            props::define_prop(cx, o, JsStr::from("cause"), Prop::hidden(cause))?;
        }
    }
    Ok(Value::Obj(o))
}

/// Error.prototype.toString (ECMA-262 §20.5.3.4).
fn error_to_string(cx: &mut Cx, this: &Value, _args: &[Value]) -> JsResult<Value> {
    if !matches!(this, Value::Obj(_)) {
        return engine_error("TypeError: Error.prototype.toString called on incompatible receiver");
    }
    let name = props::get(cx, this, &props::key("name"))?;
    let name = if name.is_undefined() {
        JsStr::from("Error")
    } else {
        ops::to_string(cx, &name)?
    };
    let msg = props::get(cx, this, &props::key("message"))?;
    let msg = if msg.is_undefined() {
        JsStr::empty()
    } else {
        ops::to_string(cx, &msg)?
    };
    if name.is_empty() {
        return Ok(Value::Str(msg));
    }
    if msg.is_empty() {
        return Ok(Value::Str(name));
    }
    let mut out = Vec::with_capacity(name.len() + 2 + msg.len());
    out.extend_from_slice(name.units());
    out.extend_from_slice(&[b':' as u16, b' ' as u16]);
    out.extend_from_slice(msg.units());
    cx.new_str(out)
}

/// `Error.captureStackTrace(target)`: V8 installs a `stack` property on `target`. Errors already have
/// one (which we never read), so for them this does nothing observable; any other object would gain a
/// property we cannot produce, so that gives up.
fn capture_stack_trace(cx: &mut Cx, _this: &Value, args: &[Value]) -> JsResult<Value> {
    match arg(args, 0) {
        Value::Obj(o) if matches!(cx.heap.kind(o), ObjKind::Error) => Ok(Value::Undefined),
        Value::Obj(_) => unsupported("Error.captureStackTrace on an object that is not an error"),
        _ => engine_error("TypeError: invalid_argument"),
    }
}

// The getter of `message` on errors the engine raised: V8's message text is not reproduced, so a
// request that reads it gives up. Not a global builtin (not installed).
crate::builtin!(ENGINE_MESSAGE, "%EngineErrorMessage%", 0, engine_message);

fn engine_message(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    crate::cx::unsupported(
        "the message of an error the engine raised (V8's text is not reproduced)",
    )
}

/// An error of class `class` as a `catch` receives it for an engine error: right class and name, and a
/// `message` accessor that gives up when read.
pub fn engine_error_object(cx: &mut Cx, class: &str) -> JsResult<Value> {
    let p = cx.realm.proto(class).unwrap_or(cx.realm.error_proto);
    let getter = cx.heap.alloc(Obj::new(
        ObjKind::Native(&ENGINE_MESSAGE),
        Some(cx.realm.function_proto),
    ))?;
    let o = cx.heap.alloc(Obj::new(ObjKind::Error, Some(p)))?;
    cx.heap.get_mut(o)?.props.insert(
        JsStr::from("message"),
        Prop::Accessor {
            get: Some(getter),
            set: None,
            enumerable: false,
        },
    );
    Ok(Value::Obj(o))
}

#[cfg(test)]
mod tests;
