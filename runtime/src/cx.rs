//! The execution context of one request: heap, limits, the program's code table, and the host's I/O.

use crate::heap::Heap;
use crate::realm::Realm;
use crate::value::{ObjRef, Value};
use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, Instant};

/// Why a path gave up. A give-up is never an answer: the dispatcher hands the request back to JavaScript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortKind {
    /// The trace never took this path.
    Unknown,
    /// A value's type was not one the trace saw here.
    TypeGuard,
    /// The function or builtin reached at a call site was not the one the trace saw.
    CalleeGuard,
    Fuel,
    Heap,
    Deadline,
    /// A request wrote module-level state.
    ModuleWrite,
    /// An exception escaped the handler, or the engine would have thrown one whose text we do not model.
    Uncaught,
    /// A construct or builtin behaviour the runtime does not model.
    Unsupported,
    /// An outgoing call failed in a way we do not model (for example a network error).
    Io,
}

impl AbortKind {
    /// Every reason, in the order the contract file lists them.
    pub const ALL: [AbortKind; 10] = [
        AbortKind::Unknown,
        AbortKind::TypeGuard,
        AbortKind::CalleeGuard,
        AbortKind::Fuel,
        AbortKind::Heap,
        AbortKind::Deadline,
        AbortKind::ModuleWrite,
        AbortKind::Uncaught,
        AbortKind::Unsupported,
        AbortKind::Io,
    ];

    /// What the reason means, in the words `containerless check` prints.
    pub fn meaning(self) -> &'static str {
        match self {
            AbortKind::Unknown => "a path no traced request took",
            AbortKind::TypeGuard => "a type the trace never saw",
            AbortKind::CalleeGuard => "a callee the trace never saw",
            AbortKind::Fuel => "CPU fuel ran out",
            AbortKind::Heap => "the heap cap was reached",
            AbortKind::Deadline => "the deadline passed",
            AbortKind::ModuleWrite => "a write to module-level state",
            AbortKind::Uncaught => "an exception the trace never saw escape",
            AbortKind::Unsupported => "a construct the compiler does not model",
            AbortKind::Io => "an outgoing request the runtime could not make",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AbortKind::Unknown => "unknown",
            AbortKind::TypeGuard => "type-guard",
            AbortKind::CalleeGuard => "callee-guard",
            AbortKind::Fuel => "fuel",
            AbortKind::Heap => "heap",
            AbortKind::Deadline => "deadline",
            AbortKind::ModuleWrite => "module-write",
            AbortKind::Uncaught => "uncaught",
            AbortKind::Unsupported => "unsupported",
            AbortKind::Io => "io",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Abort {
    pub kind: AbortKind,
    /// The trace site (node id) where it happened, or 0.
    pub site: u32,
    pub detail: Cow<'static, str>,
    /// For an engine error whose class is known (`TypeError`, `SyntaxError`, ...): a `catch` may take it
    /// as an error of that class whose message cannot be read (see `rt::caught`).
    pub throws: Option<&'static str>,
}

impl Abort {
    pub fn new(kind: AbortKind, site: u32, detail: impl Into<Cow<'static, str>>) -> Abort {
        Abort {
            kind,
            site,
            detail: detail.into(),
            throws: None,
        }
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at site {}: {}",
            self.kind.as_str(),
            self.site,
            self.detail
        )
    }
}

/// Abrupt completion: a JavaScript exception the program may catch, or a give-up it cannot.
#[derive(Clone, Debug)]
pub enum Ctl {
    Throw(Value),
    Abort(Box<Abort>),
}

impl From<Abort> for Ctl {
    fn from(a: Abort) -> Ctl {
        Ctl::Abort(Box::new(a))
    }
}

pub type JsResult<T> = Result<T, Ctl>;

pub fn abort<T>(kind: AbortKind, site: u32, detail: impl Into<Cow<'static, str>>) -> JsResult<T> {
    Err(Ctl::Abort(Box::new(Abort::new(kind, site, detail))))
}

/// The trace never took this path.
pub fn unknown<T>(site: u32) -> JsResult<T> {
    abort(AbortKind::Unknown, site, "path not traced")
}

/// Engine errors (TypeError from reading a property of undefined, and so on) carry V8's message text,
/// which we do not reproduce; such paths give up rather than throw a different message.
pub fn engine_error<T>(detail: impl Into<Cow<'static, str>>) -> JsResult<T> {
    abort(AbortKind::Uncaught, 0, detail)
}

/// An engine error of a known class (`"TypeError"`): uncaught, it gives up like `engine_error`; a
/// `catch` receives an error of that class whose `message` gives up when read.
pub fn engine_throw<T>(class: &'static str, detail: impl Into<Cow<'static, str>>) -> JsResult<T> {
    let mut a = Abort::new(AbortKind::Uncaught, 0, detail);
    a.throws = Some(class);
    Err(Ctl::Abort(Box::new(a)))
}

pub fn unsupported<T>(detail: impl Into<Cow<'static, str>>) -> JsResult<T> {
    abort(AbortKind::Unsupported, 0, detail)
}

/// One call of a compiled function.
pub struct Call<'a> {
    pub callee: ObjRef,
    pub this: Value,
    pub args: &'a [Value],
    /// For `new`: the constructor `new` was applied to.
    pub new_target: Option<ObjRef>,
}

impl Call<'_> {
    #[inline]
    pub fn arg(&self, i: usize) -> Value {
        self.args.get(i).cloned().unwrap_or(Value::Undefined)
    }
}

pub type Code = fn(&mut Cx, &Call) -> JsResult<Value>;

/// The compiled program: what the code generator emits.
pub struct Program {
    pub name: &'static str,
    /// Every compiled function body, indexed by code number.
    pub funcs: &'static [Code],
    /// The module's top-level code; it returns `module.exports`.
    pub init: Code,
    /// The trace's format version the program was compiled from.
    pub trace_version: u32,
    /// String constants (literals and property keys) as UTF-16; generated code names them by index.
    pub strings: &'static [&'static [u16]],
    /// Comparators the compiler also compiled to run on rows of their arguments' properties (see
    /// `SortRows`), by code number.
    pub sort_rows: &'static [SortRows],
}

/// A comparator `(a, b) => ...` that uses its parameters only to read named properties of them, and can
/// run no code of the program's besides itself (no call, no write to an object, no conversion of an object
/// to a primitive): compiled a second time, as `run`, to take those properties' values (`keys`, in this
/// order) for `a` and for `b` as two rows. A sort whose values all hold them as own data properties with
/// primitive values reads each row once (`builtins::array`), and the comparator computes from the rows
/// what it would compute from the objects, since nothing can change them while the sort runs.
pub struct SortRows {
    pub code: u32,
    pub keys: &'static [&'static [u16]],
    /// The bindings of enclosing functions the comparator reads, as (depth, slot) from its closure: read
    /// once per sort, since the comparator assigns none of them and nothing else runs while it sorts.
    pub caps: &'static [(u32, u32)],
    pub run: RowsCode,
}

/// A comparator's code on rows (see `SortRows`): the call (for its closure), `a`'s row, `b`'s, and the
/// values of its `caps` (a binding in its temporal dead zone as the hole).
pub type RowsCode = fn(&mut Cx, &Call, &[Value], &[Value], &[Value]) -> JsResult<Value>;

pub struct Limits {
    pub fuel: u64,
    pub heap_bytes: usize,
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            fuel: 200_000_000,
            heap_bytes: 64 << 20,
            deadline: Duration::from_secs(10),
        }
    }
}

/// The longest input string `Cx::input_str` looks up among the program's constants.
const INPUT_INTERN_MAX: usize = 32;

pub struct Cx {
    pub heap: Heap,
    pub realm: Realm,
    pub prog: &'static Program,
    fuel: u64,
    deadline: Instant,
    pub io: Option<Box<dyn crate::io::Io>>,
    /// Lines the program wrote with `console.*`; the host prints them.
    pub logs: Vec<String>,
    /// Depth of nested calls, bounded so deep recursion gives up instead of overflowing the stack.
    pub depth: u32,
    /// State builtins keep for the request being served (the template's context object, the answer); a
    /// new request starts without any.
    pub host: HostState,
    /// State builtins keep for the module's lifetime (the Containerless API's `listen` callback).
    pub module_host: HostState,
    /// The program's string constants, made once per context.
    strings: Vec<crate::value::JsStr>,
    /// The string constants by their units, for `input_str`; made the first time a request needs it.
    input_index:
        Option<std::collections::HashMap<crate::value::JsStr, u32, crate::heap::PropsHasher>>,
    /// Globals read so far, by the string constant that names them (see `global_s`).
    globals: Vec<Option<Value>>,
    /// Call sites' method caches (see `call::method_guarded`), by the slot the compiler gave each site.
    pub(crate) ics: Vec<crate::call::MethodIc>,
    /// Named reads' and writes' caches (see `props::get_at`), by the slot the compiler gave each site.
    pub(crate) pics: Vec<crate::props::Pic>,
    /// Object literals' shapes (see `object_literal`), by the slot the compiler gave each literal, with the
    /// bytes their keys are charged.
    shapes: Vec<Option<(std::rc::Rc<crate::propmap::Keys>, usize)>>,
    /// What builtins found out about the realm's objects, each for the realm epoch it holds at.
    pub realm_memo: RealmMemo,
}

/// Facts a builtin checked about the realm's objects (that Array.prototype's chain has no index property,
/// that RegExp.prototype is untouched), each remembered with the realm epoch (`Heap::realm_epoch`) it was
/// found at, so the check is made again only once one of those objects may have changed. A builtin names
/// its fact by the address of a `static` of its own (each with its own value, so that no two are merged).
#[derive(Default)]
pub struct RealmMemo([std::cell::Cell<(usize, u32)>; 4]);

impl RealmMemo {
    /// Whether fact `what` was found at `epoch`.
    #[inline]
    pub fn holds(&self, what: &'static u8, epoch: u32) -> bool {
        let k = what as *const u8 as usize;
        self.0.iter().any(|c| c.get() == (k, epoch))
    }
    /// Remembers that fact `what` holds at `epoch`.
    pub fn note(&self, what: &'static u8, epoch: u32) {
        let k = what as *const u8 as usize;
        let slot = self
            .0
            .iter()
            .position(|c| c.get().0 == k || c.get().0 == 0)
            .unwrap_or((k >> 3) % self.0.len());
        self.0[slot].set((k, epoch));
    }
}

impl Cx {
    /// A context with the globals made and the module not yet loaded.
    pub fn new(prog: &'static Program, limits: &Limits) -> Result<Cx, Abort> {
        let mut heap = Heap::new(usize::MAX);
        let realm = Realm::create(&mut heap, crate::builtins::INSTALL)?;
        let mut cx = Cx {
            heap,
            realm,
            prog,
            fuel: limits.fuel,
            deadline: Instant::now() + limits.deadline,
            io: None,
            logs: Vec::new(),
            depth: 0,
            host: Default::default(),
            module_host: Default::default(),
            strings: prog
                .strings
                .iter()
                .map(|u| crate::value::JsStr::from_units(u.to_vec()))
                .collect(),
            input_index: None,
            globals: vec![None; prog.strings.len()],
            ics: Vec::new(),
            pics: Vec::new(),
            shapes: Vec::new(),
            realm_memo: RealmMemo::default(),
        };
        cx.heap.seal_realm();
        cx.heap.set_cap(limits.heap_bytes);
        Ok(cx)
    }

    /// Starts a new request: frees what the previous one made and refills the limits.
    pub fn begin_request(&mut self, limits: &Limits) {
        self.heap.reset();
        self.heap.set_cap(limits.heap_bytes);
        self.fuel = limits.fuel;
        self.deadline = Instant::now() + limits.deadline;
        self.logs.clear();
        self.depth = 0;
        self.host = Default::default();
    }

    /// Keeps the request's writes to module state (`Heap::commit`), refusing the host's objects bound to
    /// the request.
    pub fn commit_request(&mut self) -> Result<(), Abort> {
        self.heap.commit(&crate::builtins::openfaas::request_bound)
    }

    /// One unit of work: called at every loop iteration and function entry. One test of the fuel on the
    /// way: when it reaches a multiple of 1024 (zero among them), `tick_slow` sees whether it ran out and
    /// whether the deadline passed.
    #[inline(always)]
    pub fn tick(&mut self) -> JsResult<()> {
        if self.fuel & 0x3ff == 0 {
            return self.tick_slow();
        }
        self.fuel -= 1;
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn tick_slow(&mut self) -> JsResult<()> {
        if self.fuel == 0 {
            return abort(AbortKind::Fuel, 0, "out of fuel");
        }
        self.fuel -= 1;
        if Instant::now() > self.deadline {
            return abort(AbortKind::Deadline, 0, "deadline passed");
        }
        Ok(())
    }

    /// Charges, at once, the fuel of up to 1024 iterations of a loop that has `left` to go (a fast loop,
    /// see `fastloop`), and says how many it charged. It runs out of fuel where `tick` would, and looks at the
    /// deadline when the fuel crosses a multiple of 1024, as `tick` does, so a long loop still stops in time.
    #[inline]
    pub fn tick_chunk(&mut self, left: usize) -> JsResult<usize> {
        let k = left.min(1024) as u64;
        let old = self.fuel;
        if old < k {
            self.fuel = 0;
            return abort(AbortKind::Fuel, 0, "out of fuel");
        }
        self.fuel = old - k;
        if (old & 0x3ff == 0 || old >> 10 != self.fuel >> 10) && Instant::now() > self.deadline {
            return abort(AbortKind::Deadline, 0, "deadline passed");
        }
        Ok(k as usize)
    }

    /// Charges `n` units of fuel at once (builtins that do work proportional to their input).
    pub fn burn(&mut self, n: u64) -> JsResult<()> {
        if self.fuel < n {
            self.fuel = 0;
            return abort(AbortKind::Fuel, 0, "out of fuel");
        }
        self.fuel -= n;
        Ok(())
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Cx {
    /// String constant `i` of the program.
    #[inline]
    pub fn s(&self, i: usize) -> Value {
        Value::Str(self.sk(i))
    }
    /// A new array.
    pub fn new_array(&mut self, items: Vec<Value>) -> JsResult<Value> {
        let p = self.realm.array_proto;
        Ok(Value::Obj(self.heap.alloc(crate::heap::Obj::new(
            crate::heap::ObjKind::Array(items),
            Some(p),
        ))?))
    }
    /// A new plain object (`{}`).
    pub fn new_object(&mut self) -> JsResult<Value> {
        let p = self.realm.object_proto;
        Ok(Value::Obj(self.heap.alloc(crate::heap::Obj::new(
            crate::heap::ObjKind::Ordinary,
            Some(p),
        ))?))
    }
    /// An object literal whose properties are all plain data properties with static, distinct keys (the
    /// compiler checks): `{ id: a, total: b }` is `object_literal(slot, &[<id>, <total>], [a, b])`, with
    /// string constants for keys and the values already evaluated in source order. The object is made in
    /// one step, charged what defining the properties one by one would charge. Nothing can see the object
    /// before the literal completes, so making it after its values rather than before is not observable.
    /// Every object the literal (`slot`, the compiler's number for it) makes shares one list of its keys.
    #[inline]
    pub fn object_literal<const N: usize>(
        &mut self,
        slot: u32,
        keys: &[u32; N],
        vals: [Value; N],
    ) -> JsResult<Value> {
        let (shape, key_bytes) = match self.shapes.get(slot as usize) {
            Some(Some((shape, bytes))) => (shape.clone(), *bytes),
            _ => self.literal_shape(slot, keys),
        };
        self.heap.charge(key_bytes)?;
        let mut props = Vec::with_capacity(N);
        for v in vals {
            props.push(crate::heap::Prop::data(v));
        }
        let obj = crate::heap::Obj::with_props(
            crate::heap::ObjKind::Ordinary,
            Some(self.realm.object_proto),
            crate::propmap::Props::with_shape(shape, props),
        );
        Ok(Value::Obj(self.heap.alloc(obj)?))
    }
    #[inline(never)]
    fn literal_shape(
        &mut self,
        slot: u32,
        keys: &[u32],
    ) -> (std::rc::Rc<crate::propmap::Keys>, usize) {
        let list: Vec<crate::value::JsStr> = keys.iter().map(|&k| self.sk(k as usize)).collect();
        let bytes = list.iter().map(|k| k.len() * 2).sum();
        let shape = crate::propmap::Keys::new(list);
        let i = slot as usize;
        if self.shapes.len() <= i {
            self.shapes.resize(i + 1, None);
        }
        self.shapes[i] = Some((shape.clone(), bytes));
        (shape, bytes)
    }
    /// A new object with room for `n` properties (an object literal's), so defining them never rehashes.
    pub fn new_object_with(&mut self, n: usize) -> JsResult<Value> {
        let p = self.realm.object_proto;
        let mut obj = crate::heap::Obj::new(crate::heap::ObjKind::Ordinary, Some(p));
        obj.props.reserve(n);
        Ok(Value::Obj(self.heap.alloc(obj)?))
    }
    /// String constant `i` as the one string object the program's literals share (object literals' keys
    /// among them), for comparisons by identity.
    #[inline(always)]
    pub fn interned(&self, i: u32) -> Option<&crate::value::JsStr> {
        self.strings.get(i as usize)
    }
    /// String constant `i` as a property key: shared with every other use of it, never copied.
    #[inline]
    pub fn sk(&self, i: usize) -> crate::value::JsStr {
        self.strings[i].clone()
    }
    /// A new string from UTF-16 units, counted against the heap cap.
    pub fn new_str(&mut self, units: Vec<u16>) -> JsResult<Value> {
        self.heap.charge(16 + units.len() * 2)?;
        Ok(Value::Str(crate::value::JsStr::from_units(units)))
    }
    /// A new string of a copy of `units`, counted against the heap cap (a short one is shared: see
    /// `JsStr::from_slice`).
    pub fn new_str_from(&mut self, units: &[u16]) -> JsResult<Value> {
        self.heap.charge(16 + units.len() * 2)?;
        Ok(Value::Str(crate::value::JsStr::from_slice(units)))
    }
    /// A string of the request's input (a query value, a string or key of a JSON body): the program's
    /// constant with these units when it has one (short strings only), so that comparing it with that
    /// constant (`ops::is_const_str`) or reading a property by it finds the very string without comparing
    /// units; a new string otherwise. Strings are immutable, so sharing one never shows.
    pub fn input_str(&mut self, units: &[u16]) -> crate::value::JsStr {
        if units.len() <= INPUT_INTERN_MAX && !self.strings.is_empty() {
            let strings = &self.strings;
            let index = self.input_index.get_or_insert_with(|| {
                let mut ix = std::collections::HashMap::with_capacity_and_hasher(
                    strings.len(),
                    crate::heap::PropsHasher,
                );
                for (i, s) in strings.iter().enumerate() {
                    if s.len() <= INPUT_INTERN_MAX {
                        ix.entry(s.clone()).or_insert(i as u32);
                    }
                }
                ix
            });
            if let Some(&i) = index.get(units) {
                return self.strings[i as usize].clone();
            }
        }
        crate::value::JsStr::from_slice(units)
    }
    /// The global named by string constant `i` (`name`), looked up once per context: the realm's globals are
    /// made with it and never change (a program cannot assign one: that gives up).
    #[inline(always)]
    pub fn global_s(&mut self, i: usize, name: &'static str, site: u32) -> JsResult<Value> {
        if let Some(Some(v)) = self.globals.get(i) {
            return Ok(v.clone());
        }
        self.global_first(i, name, site)
    }
    /// `global_s`'s first lookup of global `i`, which it then keeps.
    #[inline(never)]
    fn global_first(&mut self, i: usize, name: &'static str, site: u32) -> JsResult<Value> {
        let v = self.global(name, site)?;
        if let Some(slot) = self.globals.get_mut(i) {
            *slot = Some(v.clone());
        }
        Ok(v)
    }
    /// A global the runtime models, or a give-up naming it.
    pub fn global(&self, name: &'static str, site: u32) -> JsResult<Value> {
        match self.realm.global(name) {
            Some(v) => Ok(v),
            None => abort(
                AbortKind::Unsupported,
                site,
                format!("the global {} is not modelled", name),
            ),
        }
    }
    /// Makes a new error object of class `class` ("TypeError", ...) with `message`, as `new TypeError(m)`.
    pub fn make_error(&mut self, class: &str, message: &str) -> JsResult<Value> {
        let p = self.realm.proto(class).unwrap_or(self.realm.error_proto);
        let o = self
            .heap
            .alloc(crate::heap::Obj::new(crate::heap::ObjKind::Error, Some(p)))?;
        self.heap.get_mut(o)?.props.insert(
            crate::value::JsStr::from("message"),
            crate::heap::Prop::hidden(Value::str(message)),
        );
        Ok(Value::Obj(o))
    }
}

/// State that builtins keep in the context, one value of each type, made (with `Default`) on first use.
/// Each value is kept with its type's id, so that a lookup compares ids rather than asking each value; the
/// place of the last value found is tried first (a builtin called in a loop asks for the same one).
#[derive(Default)]
pub struct HostState {
    entries: Vec<(TypeId, Box<dyn Any>)>,
    last: usize,
}

impl HostState {
    /// The value of type `T`, made on first use.
    #[inline]
    pub fn get<T: Any + Default>(&mut self) -> &mut T {
        let id = TypeId::of::<T>();
        let i = match self.entries.get(self.last) {
            Some((t, _)) if *t == id => self.last,
            _ => {
                let i = match self.entries.iter().position(|(t, _)| *t == id) {
                    Some(i) => i,
                    None => {
                        self.entries.push((id, Box::new(T::default())));
                        self.entries.len() - 1
                    }
                };
                self.last = i;
                i
            }
        };
        self.entries[i]
            .1
            .downcast_mut::<T>()
            .expect("the value's type was just checked")
    }
    /// The value of type `T`, if one was made.
    pub fn peek<T: Any>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.entries
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, b)| b.downcast_ref::<T>())
    }
}

fn no_init(_: &mut Cx, _: &Call) -> JsResult<Value> {
    Ok(Value::Undefined)
}

/// A context for tests of the runtime itself: `funcs` stands in for compiled code.
pub fn test_cx(funcs: &'static [Code]) -> Cx {
    let prog: &'static Program = Box::leak(Box::new(Program {
        name: "test",
        funcs,
        init: no_init,
        trace_version: 1,
        strings: &[],
        sort_rows: &[],
    }));
    let mut cx = Cx::new(prog, &Limits::default()).expect("realm");
    cx.heap.seal_module();
    cx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e: Ctl) -> AbortKind {
        match e {
            Ctl::Abort(a) => a.kind,
            Ctl::Throw(_) => panic!("a throw, not a give-up"),
        }
    }

    fn cx_with(fuel: u64, deadline: Duration) -> Cx {
        let mut cx = test_cx(&[]);
        cx.begin_request(&Limits {
            fuel,
            heap_bytes: 1 << 20,
            deadline,
        });
        cx
    }

    /// A fast loop's fuel, charged a chunk at a time, runs out after as many iterations as `tick` one by
    /// one would allow, and every chunk is at most 1024 iterations.
    #[test]
    fn tick_chunk_charges_what_ticks_would_and_runs_out_at_the_same_iteration() {
        for fuel in [0u64, 1, 5, 1023, 1024, 1025, 3000, 5000] {
            for left in [0usize, 1, 7, 1024, 1025, 2500, 10_000] {
                let mut by_tick = cx_with(fuel, Duration::from_secs(60));
                let ticked = (0..left).take_while(|_| by_tick.tick().is_ok()).count();
                let mut by_chunk = cx_with(fuel, Duration::from_secs(60));
                let (mut done, mut failed) = (0usize, false);
                while done < left {
                    match by_chunk.tick_chunk(left - done) {
                        Ok(k) => {
                            assert!((1..=1024).contains(&k) && k <= left - done, "chunk of {k}");
                            done += k;
                        }
                        Err(e) => {
                            assert_eq!(kind(e), AbortKind::Fuel);
                            failed = true;
                            break;
                        }
                    }
                }
                assert_eq!(failed, ticked < left, "fuel {fuel}, {left} iterations");
                if !failed {
                    assert_eq!(done, left);
                    assert_eq!(
                        by_chunk.fuel, by_tick.fuel,
                        "fuel {fuel}, {left} iterations"
                    );
                } else {
                    // It stops within the chunk in which the ticks ran out.
                    assert!(done <= ticked && ticked < done + 1024, "{done} {ticked}");
                }
            }
        }
    }

    /// A chunk that crosses a multiple of 1024 units of fuel looks at the deadline, as `tick` does there.
    #[test]
    fn tick_chunk_stops_a_loop_past_its_deadline() {
        let mut cx = cx_with(1 << 20, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        let mut stopped = None;
        for i in 0..4 {
            if let Err(e) = cx.tick_chunk(1024) {
                stopped = Some((i, kind(e)));
                break;
            }
        }
        assert_eq!(stopped, Some((0, AbortKind::Deadline)));
    }

    const A: &[u16] = &[97];
    const B: &[u16] = &[98];
    const C: &[u16] = &[99];
    const LONG: &[u16] = &[120; 40];

    /// A context whose program has the string constants a, b, c and 40 x's.
    fn cx_with_strings() -> Cx {
        let prog: &'static Program = Box::leak(Box::new(Program {
            name: "test",
            funcs: &[],
            init: no_init,
            trace_version: 1,
            strings: &[A, B, C, LONG],
            sort_rows: &[],
        }));
        let mut cx = Cx::new(prog, &Limits::default()).expect("realm");
        cx.heap.seal_module();
        cx.begin_request(&Limits::default());
        cx
    }

    /// A request's string with a short constant's units is that constant; any other is a string of its own
    /// with the units it was given.
    #[test]
    fn input_strings_are_the_constants_with_the_same_units() {
        let mut cx = cx_with_strings();
        let b = cx.input_str(B);
        assert!(b.same(cx.interned(1).expect("constant")));
        let long = cx.input_str(LONG);
        assert!(!long.same(cx.interned(3).expect("constant")));
        assert_eq!(long.units(), LONG);
        let other = cx.input_str(&[98, 98]);
        assert_eq!(other.units(), &[98, 98]);
        assert!(!other.same(cx.interned(1).expect("constant")));
    }

    /// A named read that remembers an object literal's shape reads by position only from objects that
    /// still have that shape: one of them that loses a key, or has one turned into an accessor, is read as
    /// any object is.
    #[test]
    fn a_remembered_shape_is_used_only_for_objects_that_still_have_it() {
        use crate::props;
        let mut cx = cx_with_strings();
        let lit = |cx: &mut Cx, n: f64| {
            cx.object_literal(
                0,
                &[0, 1, 2],
                [Value::Num(n), Value::Num(n + 1.0), Value::Num(n + 2.0)],
            )
            .expect("object")
        };
        let read_c = |cx: &mut Cx, v: &Value| {
            props::get_at_guarded(cx, v, C, 2, 5, crate::value::tag::OBJECT, 0).expect("read")
        };
        let first = lit(&mut cx, 0.0);
        assert!(matches!(read_c(&mut cx, &first), Value::Num(n) if n == 2.0));
        // The site now holds the literal's shape.
        assert!(cx.pics[5].shape.is_some());
        let second = lit(&mut cx, 10.0);
        assert!(matches!(read_c(&mut cx, &second), Value::Num(n) if n == 12.0));
        // `a` deleted: `c` moves to position 1 in the object's own copy of the keys.
        props::delete(&mut cx, &second, A).expect("delete");
        assert!(matches!(read_c(&mut cx, &second), Value::Num(n) if n == 12.0));
        // The same keys, with `c` an accessor: the shape is the literal's still, the property is not data.
        let third = lit(&mut cx, 20.0);
        let o = third.as_obj().expect("object");
        let accessor = crate::heap::Prop::Accessor {
            get: None,
            set: None,
            enumerable: true,
        };
        cx.heap
            .get_mut(o)
            .expect("writable")
            .props
            .insert(crate::value::JsStr::from_slice(C), accessor);
        assert!(matches!(read_c(&mut cx, &third), Value::Undefined));
        assert!(matches!(read_c(&mut cx, &first), Value::Num(n) if n == 2.0));
        // Another literal's shape with as many keys, in another order.
        let vals = [Value::Num(30.0), Value::Num(31.0), Value::Num(32.0)];
        let other = cx.object_literal(1, &[2, 1, 0], vals).expect("object");
        assert!(matches!(read_c(&mut cx, &other), Value::Num(n) if n == 30.0));
    }
}
