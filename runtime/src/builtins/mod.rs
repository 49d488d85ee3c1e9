//! Builtins: every builtin function has one `BuiltinDef`, named by its JavaScript path
//! ("Array.prototype.map", "Math.floor", "JSON.stringify", "parseInt"). The name is its identity: the
//! tracer records it at call sites and the callee guard compares it. `all()` lists every def; the realm
//! installs them: "X" becomes a global (a constructor when it has `ctor`), "X.y" a property of global X, and
//! "X.prototype.m" a method found on X's prototype object.
//!
//! Each module exports `pub static DEFS: &[&BuiltinDef]`.

pub mod array;
pub mod collections;
pub mod console;
pub mod date;
pub mod error;
pub mod fetch;
pub mod function;
pub mod global;
pub mod json;
pub mod math;
pub mod number;
pub mod object;
pub mod openfaas;
pub mod promise;
pub mod regexp;
pub mod string;

use crate::cx::{Cx, JsResult};
use crate::heap::ObjKind;
use crate::value::{ObjRef, Value};

/// A builtin called as a function or method: `this` and the arguments.
pub type NativeFn = fn(&mut Cx, &Value, &[Value]) -> JsResult<Value>;
/// A builtin called with `new`. `this` is given when a derived class calls it through `super(...)`:
/// then it initialises that object; otherwise it makes a new one. It returns the object.
pub type NativeCtor = fn(&mut Cx, Option<ObjRef>, &[Value]) -> JsResult<Value>;

pub struct BuiltinDef {
    pub name: &'static str,
    pub f: NativeFn,
    /// The function's `length`.
    pub length: u32,
    pub ctor: Option<NativeCtor>,
}

impl std::fmt::Debug for BuiltinDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<builtin {}>", self.name)
    }
}

/// Declares a `BuiltinDef` static: `builtin!(MAP, "Array.prototype.map", 1, array_map);`
#[macro_export]
macro_rules! builtin {
    ($id:ident, $name:expr, $len:expr, $f:expr) => {
        pub static $id: $crate::builtins::BuiltinDef =
            $crate::builtins::BuiltinDef { name: $name, f: $f, length: $len, ctor: None };
    };
    ($id:ident, $name:expr, $len:expr, $f:expr, ctor = $c:expr) => {
        pub static $id: $crate::builtins::BuiltinDef =
            $crate::builtins::BuiltinDef { name: $name, f: $f, length: $len, ctor: Some($c) };
    };
}

/// Every builtin, in a stable order.
pub fn all() -> Vec<&'static BuiltinDef> {
    let mut v: Vec<&'static BuiltinDef> = Vec::new();
    for defs in [
        object::DEFS,
        function::DEFS,
        array::DEFS,
        string::DEFS,
        number::DEFS,
        math::DEFS,
        json::DEFS,
        regexp::DEFS,
        date::DEFS,
        error::DEFS,
        promise::DEFS,
        fetch::DEFS,
        global::DEFS,
        console::DEFS,
        collections::DEFS,
        openfaas::DEFS,
    ] {
        v.extend_from_slice(defs);
    }
    v
}

/// Finds a builtin by name.
pub fn by_name(name: &str) -> Option<&'static BuiltinDef> {
    all().into_iter().find(|d| d.name == name)
}

/// The builtin method `key` of realm prototype object `proto`, if `proto` is one and has it.
#[inline]
pub fn proto_method(cx: &Cx, proto: ObjRef, key: &[u16]) -> Option<&'static BuiltinDef> {
    cx.realm.proto_method(proto, key)
}

/// Data of host objects.
#[derive(Clone, Debug)]
pub enum HostData {
    Response(fetch::ResponseData),
    Headers(Vec<(crate::value::JsStr, crate::value::JsStr)>),
    /// An Array, Map or Set iterator (`keys()`, `values()`, `entries()`): what it iterates, read when the
    /// iteration happens (spread, for-of, Array.from), once.
    Iter { source: ObjRef, part: IterPart, done: bool },
    /// A for-of loop's live iteration of a Map, a Set or an iterator (compiler `forOf`; see rt.rs).
    ForOf(Box<crate::rt::ForOf>),
}

/// What an iterator yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterPart {
    Keys,
    Values,
    Entries,
}

/// A new iterator over `this` (an array, Map or Set), as `keys()`, `values()` and `entries()` return.
pub fn make_iterator(cx: &mut Cx, this: &Value, part: IterPart, expect: fn(&ObjKind) -> bool, what: &str) -> JsResult<Value> {
    let source = match this {
        Value::Obj(o) if expect(cx.heap.kind(*o)) => *o,
        _ => return crate::cx::engine_error(format!("{} called on an incompatible receiver", what)),
    };
    let proto = cx.realm.proto("Iterator").expect("the Iterator prototype");
    let it = cx.heap.alloc(crate::heap::Obj::new(ObjKind::Host(Box::new(HostData::Iter { source, part, done: false })), Some(proto)))?;
    Ok(Value::Obj(it))
}

/// Properties that host objects compute (a fetch response's `status`, `ok`, `headers`).
pub fn host_get(cx: &mut Cx, o: ObjRef, key: &[u16]) -> JsResult<Option<Value>> {
    fetch::host_get(cx, o, key)
}

/// Per-request host state (the template's context, the answer, the Containerless API's queue) and the
/// module-lifetime part (the Containerless API object and its `listen` callback): see openfaas.rs.
pub use openfaas::{HostState, ModuleHost};

/// A helper for builtins: argument `i`, or `undefined`.
#[inline]
pub fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}
