//! Function.prototype (ECMA-262 §20.2.3): call, apply, bind, toString.
//!
//! A bound function is an `ObjKind::Bound` object. Its `length` and `name` are stored as own
//! non-enumerable, read-only data properties, in V8's order (`length`, then `name`), computed as
//! BoundFunctionCreate and SetFunctionName do.
//!
//! Deliberate give-ups: `toString` (it returns the function's source text); `apply` with more than
//! 65535 arguments (V8 may overflow its stack there); after `delete` of a bound function's `name` or
//! `length` Node reads Function.prototype's, which the runtime does not model (reads give `undefined`).

use crate::builtin;
use crate::builtins::arg;
use crate::call;
use crate::call::is_callable;
use crate::cx::Abort;
use crate::cx::{engine_error, unsupported, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Prop};
use crate::ops;
use crate::props;
use crate::realm::Installer;
use crate::value::{JsStr, Value};

builtin!(APPLY, "Function.prototype.apply", 2, apply);
builtin!(BIND, "Function.prototype.bind", 1, bind);
builtin!(CALL, "Function.prototype.call", 1, call_method);
builtin!(TO_STRING, "Function.prototype.toString", 0, to_string);

/// Installs function's builtins into the realm.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    let function_proto = r.proto("Function");
    r.methods(
        function_proto,
        &[
            ("apply", &APPLY),
            ("bind", &BIND),
            ("call", &CALL),
            ("toString", &TO_STRING),
        ],
    )?;
    Ok(())
}

/// The most arguments `apply` passes before giving up.
const MAX_APPLY_ARGS: f64 = 65535.0;

fn this_callable(cx: &Cx, this: &Value) -> JsResult<()> {
    if is_callable(cx, this) {
        Ok(())
    } else {
        engine_error("Function.prototype method called on a value that is not a function")
    }
}

/// Function.prototype.call (ECMA-262 §20.2.3.3).
fn call_method(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    this_callable(cx, this)?;
    let rest = if args.len() > 1 { &args[1..] } else { &[] };
    call::call(cx, this, arg(args, 0), rest)
}

/// Function.prototype.apply (ECMA-262 §20.2.3.1) with CreateListFromArrayLike (§7.3.18).
fn apply(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    this_callable(cx, this)?;
    let this_arg = arg(args, 0);
    let list = arg(args, 1);
    if list.is_nullish() {
        return call::call(cx, this, this_arg, &[]);
    }
    if !matches!(list, Value::Obj(_)) {
        return engine_error("CreateListFromArrayLike called on non-object");
    }
    let len_v = props::get(cx, &list, &props::key("length"))?;
    let len = ops::to_integer_or_infinity(cx, &len_v)?.max(0.0);
    if len > MAX_APPLY_ARGS {
        return unsupported("apply with more arguments than the runtime passes");
    }
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len as usize {
        cx.tick()?;
        out.push(props::get_computed(cx, &list, &Value::Num(i as f64))?);
    }
    call::call(cx, this, this_arg, &out)
}

/// Function.prototype.bind (ECMA-262 §20.2.3.2).
fn bind(cx: &mut Cx, this: &Value, args: &[Value]) -> JsResult<Value> {
    this_callable(cx, this)?;
    let target = this.as_obj().expect("callable");
    let bound_args: Vec<Value> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        Vec::new()
    };
    let proto = cx.heap.get(target).proto;
    let length_key = props::key("length");
    let mut len = 0.0;
    if props::has_own(cx, target, &length_key) {
        if let Value::Num(n) = props::get(cx, this, &length_key)? {
            len = if n == f64::INFINITY {
                f64::INFINITY
            } else if n == f64::NEG_INFINITY {
                0.0
            } else {
                let n = if n.is_nan() { 0.0 } else { n.trunc() };
                (n - bound_args.len() as f64).max(0.0)
            };
        }
    }
    let name = match props::get(cx, this, &props::key("name"))? {
        Value::Str(s) => s,
        _ => JsStr::empty(),
    };
    let mut full = props::key("bound ");
    full.extend_from_slice(name.units());
    let name = cx.new_str(full)?;
    cx.heap.charge(bound_args.len() * 24)?;
    let kind = ObjKind::Bound(Box::new(crate::heap::BoundFn {
        target: this.clone(),
        this: arg(args, 0),
        args: bound_args,
    }));
    let f = cx.heap.alloc(Obj::new(kind, proto))?;
    let obj = cx.heap.get_mut_grow(f, 128)?;
    obj.props.insert(
        JsStr::from("length"),
        Prop::Data {
            value: Value::Num(len),
            enumerable: false,
            writable: false,
        },
    );
    obj.props.insert(
        JsStr::from("name"),
        Prop::Data {
            value: name,
            enumerable: false,
            writable: false,
        },
    );
    Ok(Value::Obj(f))
}

/// Function.prototype.toString: source text, which compiled code no longer has.
fn to_string(_cx: &mut Cx, _this: &Value, _args: &[Value]) -> JsResult<Value> {
    unsupported("Function.prototype.toString (source text)")
}

#[cfg(test)]
mod tests;
