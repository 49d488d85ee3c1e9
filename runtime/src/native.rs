//! Native functions: what a builtin is to the core. A `BuiltinDef` is a Rust function with its JavaScript
//! name ("Array.prototype.map", "Math.floor", "JSON.stringify", "parseInt"), its `length`, and what the
//! compiler may rely on (its kind, what it returns). The name is its identity: the tracer records it at
//! call sites, the callee guard compares it, and the realm's installation test checks that each builtin is
//! installed where its name says. Builtins declare theirs with `builtin!` and install them from their own
//! module (see `builtins`).

use crate::cx::{Cx, JsResult};
use crate::value::{tag, ObjRef, Value};

/// A builtin called as a function or method: `this` and the arguments.
pub type NativeFn = fn(&mut Cx, &Value, &[Value]) -> JsResult<Value>;
/// A builtin called with `new`. `this` is given when a derived class calls it through `super(...)`:
/// then it initialises that object; otherwise it makes a new one. It returns the object.
pub type NativeCtor = fn(&mut Cx, Option<ObjRef>, &[Value]) -> JsResult<Value>;

/// How a builtin is reached, as the compiler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Called as a function or a method.
    Function,
    /// Also callable with `new` (`ctor` is set).
    Constructor,
    /// The getter of an accessor property on a prototype (`Map.prototype.size`, `RegExp.prototype.flags`):
    /// read, never called; a write to it gives up.
    Getter,
}

impl Kind {
    /// The name the contract file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Constructor => "constructor",
            Kind::Getter => "getter",
        }
    }
}

pub struct BuiltinDef {
    pub name: &'static str,
    pub f: NativeFn,
    /// The function's `length`.
    pub length: u32,
    pub ctor: Option<NativeCtor>,
    getter: bool,
    /// The type tags (`value::tag`) of every value a call can return, for the code generator (a call of a
    /// builtin that returns only numbers can feed unboxed `f64` arithmetic); `tag::ANY` when not declared.
    pub returns: u16,
}

impl BuiltinDef {
    pub const fn new(name: &'static str, length: u32, f: NativeFn) -> BuiltinDef {
        BuiltinDef {
            name,
            f,
            length,
            ctor: None,
            getter: false,
            returns: tag::ANY,
        }
    }
    /// Callable with `new` through `c`.
    pub const fn ctor(self, c: NativeCtor) -> BuiltinDef {
        BuiltinDef {
            ctor: Some(c),
            ..self
        }
    }
    /// An accessor's getter (see `Kind::Getter`).
    pub const fn getter(self) -> BuiltinDef {
        BuiltinDef {
            getter: true,
            ..self
        }
    }
    /// Every call returns a number or gives up (a throw included: the code generator only unboxes the
    /// value a call returned).
    pub const fn returns_number(self) -> BuiltinDef {
        BuiltinDef {
            returns: tag::NUMBER,
            ..self
        }
    }
    pub fn kind(&self) -> Kind {
        if self.getter {
            Kind::Getter
        } else if self.ctor.is_some() {
            Kind::Constructor
        } else {
            Kind::Function
        }
    }
    /// The function's `name` property: the last part of its path ("map" for "Array.prototype.map").
    pub fn js_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

impl std::fmt::Debug for BuiltinDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<builtin {}>", self.name)
    }
}

/// Declares a `BuiltinDef` static: `builtin!(MAP, "Array.prototype.map", 1, array_map);`, with modifiers
/// after the function: `ctor = map_ctor`, `getter`, `returns_number` (the `BuiltinDef` methods of those
/// names).
#[macro_export]
macro_rules! builtin {
    ($id:ident, $name:expr, $len:expr, $f:expr $(, $m:ident $(= $v:expr)?)* $(,)?) => {
        pub static $id: $crate::native::BuiltinDef =
            $crate::native::BuiltinDef::new($name, $len, $f)$(.$m($($v)?))*;
    };
}
