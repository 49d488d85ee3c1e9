//! Array, Map and Set iterators (`keys()`, `values()`, `entries()`; ECMA-262 §23.1.5, §24.1.5, §24.2.5):
//! an iterator remembers what it iterates and which part, and yields it when the iteration happens
//! (spread, for-of, Array.from), once. It has no methods of its own: `next()` is not modelled, so a program
//! that calls it gives up (there is no such method to find).

use crate::cx::{engine_error, Abort, Cx, JsResult};
use crate::heap::{Obj, ObjKind, Slots};
use crate::realm::Installer;
use crate::value::{ObjRef, Value};

/// What an iterator yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterPart {
    Keys,
    Values,
    Entries,
}

/// An iterator's slots: its source (an array, Map or Set), the part it yields, and whether it was used.
#[derive(Clone, Debug)]
pub struct Iter {
    pub source: ObjRef,
    pub part: IterPart,
    pub done: bool,
    /// A for-of is stepping through it (or left it part way, by `break`, `return` or a throw): its position
    /// is then that loop's, which the iterator does not keep, so any later use of it gives up.
    pub taken: bool,
}

impl Slots for Iter {
    fn is_host(&self) -> bool {
        true
    }
    fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        crate::heap::each_ref(&mut self.source, f);
        Ok(())
    }
}

/// Installs the prototype iterators share.
pub fn install(r: &mut Installer<'_>) -> Result<(), Abort> {
    r.prototype("Iterator", r.realm.object_proto)?;
    Ok(())
}

/// A new iterator over `this` (an array, Map or Set), as `keys()`, `values()` and `entries()` return.
pub fn make_iterator(
    cx: &mut Cx,
    this: &Value,
    part: IterPart,
    expect: fn(&ObjKind) -> bool,
    what: &str,
) -> JsResult<Value> {
    let source = match this {
        Value::Obj(o) if expect(cx.heap.kind(*o)) => *o,
        _ => return engine_error(format!("{} called on an incompatible receiver", what)),
    };
    let proto = cx.realm.proto("Iterator").expect("the Iterator prototype");
    let it = cx.heap.alloc(Obj::new(
        ObjKind::builtin(Iter {
            source,
            part,
            done: false,
            taken: false,
        }),
        Some(proto),
    ))?;
    Ok(Value::Obj(it))
}

#[cfg(test)]
mod tests;
