//! Builtins: each in its own folder (`builtins/<name>/mod.rs`, its tests in `tests.rs`), declaring its
//! functions with `builtin!` (see `native`) and installing itself into the realm with its `install`
//! function: its prototype objects, its constructor or namespace, its methods and statics under the keys it
//! names, its constants. Objects it makes carry its own internal slots (`heap::Slots`) and, where they
//! compute properties, its own property hooks (`props::PropHooks`); the core names no builtin.
//!
//! Adding a builtin: a folder with `mod.rs` and `tests.rs`, its module below, its `install` in `INSTALL`
//! (after the builtins whose prototypes it uses), then regenerate the contract file the compiler reads:
//! `UPDATE_CONTRACT=1 cargo test -p containerless-runtime --test contract` (see `contract`).

pub mod array;
pub mod collections;
pub mod console;
pub mod date;
pub mod error;
pub mod fetch;
pub mod function;
pub mod global;
pub mod iterator;
pub mod json;
pub mod math;
pub mod number;
pub mod object;
pub mod openfaas;
pub mod promise;
pub mod regexp;
pub mod string;

use crate::heap::Heap;
use crate::realm::{Install, Realm};
use crate::value::Value;

pub use crate::native::{BuiltinDef, NativeCtor, NativeFn};

/// Every builtin's `install`, in the order the realm runs them.
pub static INSTALL: &[Install] = &[
    object::install,
    function::install,
    array::install,
    string::install,
    number::install,
    math::install,
    json::install,
    regexp::install,
    date::install,
    error::install,
    promise::install,
    fetch::install,
    global::install,
    console::install,
    collections::install,
    openfaas::install,
    iterator::install,
];

/// Every builtin the realm installs, each once, with the path it was installed at ("Array.prototype.map"),
/// sorted by path. A builtin installed under two names (`parseInt` and `Number.parseInt`) is listed once,
/// under its own name.
pub fn all() -> Vec<&'static BuiltinDef> {
    let mut heap = Heap::new(usize::MAX);
    let realm = Realm::create(&mut heap, INSTALL).expect("the realm fits in an unbounded heap");
    let mut defs: Vec<&'static BuiltinDef> = realm.installed().iter().map(|(_, d)| *d).collect();
    defs.sort_by_key(|d| d.name);
    defs.dedup_by(|a, b| std::ptr::eq(*a, *b));
    defs
}

/// Finds a builtin by name.
pub fn by_name(name: &str) -> Option<&'static BuiltinDef> {
    all().into_iter().find(|d| d.name == name)
}

/// A helper for builtins: argument `i`, or `undefined`.
#[inline]
pub fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}

#[cfg(test)]
mod tests;
