//! The heap: the module's objects, then the current request's.
//!
//! Objects live in one vector and are named by index. The first `module_len` objects are the module's
//! state: the globals, what its top-level code made, and what earlier answered requests left reachable from
//! it. A request may write module objects: the heap keeps a copy of each before its first write (the undo
//! log). A request that gives up has its writes undone (`reset`), since JavaScript runs it again from the
//! state it started from; a request that is answered keeps them (`commit`), so the module state evolves with
//! the requests this replica answered, as a Node replica's does. Committing moves the request's objects
//! that module state now reaches next to the module's and frees the rest; `reset` frees everything the
//! request made.

use crate::cx::{Abort, AbortKind};
use crate::native::BuiltinDef;
use crate::props::PropHooks;
use crate::value::{tag, JsStr, ObjRef, Value};
use std::any::Any;
use std::fmt;

pub use crate::propmap::Props;

/// The hasher of every object's property map: ahash with keys drawn once per process. A fresh
/// `ahash::RandomState` per map would draw new keys at every object made (an array literal, `{}`), which
/// generated code does in its loops.
#[derive(Clone, Copy, Default, Debug)]
pub struct PropsHasher;

impl std::hash::BuildHasher for PropsHasher {
    type Hasher = ahash::AHasher;
    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        static KEYS: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
        KEYS.get_or_init(ahash::RandomState::new).build_hasher()
    }
}

/// Whether any of `items` is a string: the only value that owns anything (a reference count). Tested on
/// every item without an early exit, which the compiler vectorises.
#[inline]
pub fn any_string(items: &[Value]) -> bool {
    use crate::value::{tag_word, STR_TAG};
    items
        .iter()
        .fold(0u64, |acc, v| acc | (tag_word(v) ^ STR_TAG).wrapping_sub(1))
        >> 63
        != 0
}

/// Empties `items` without dropping them one by one when none owns anything (`any_string`): freeing an
/// array of numbers is then freeing its buffer, where dropping each item tests its kind.
fn forget_plain_items(items: &mut Vec<Value>) {
    if !any_string(items) {
        // SAFETY: shortening a vector is sound; the items left behind are numbers, booleans, object
        // references, holes, undefined or null, none of which owns memory to free.
        unsafe { items.set_len(0) }
    }
}

/// The most reads of older state that code running later (`Later`) may log.
const READ_LOG_CAP: usize = 1 << 20;

#[derive(Clone, Debug)]
pub enum Prop {
    Data {
        value: Value,
        enumerable: bool,
        writable: bool,
    },
    Accessor {
        get: Option<ObjRef>,
        set: Option<ObjRef>,
        enumerable: bool,
    },
}

impl Prop {
    #[inline]
    pub fn data(value: Value) -> Prop {
        Prop::Data {
            value,
            enumerable: true,
            writable: true,
        }
    }
    pub fn hidden(value: Value) -> Prop {
        Prop::Data {
            value,
            enumerable: false,
            writable: true,
        }
    }
    pub fn enumerable(&self) -> bool {
        match self {
            Prop::Data { enumerable, .. } | Prop::Accessor { enumerable, .. } => *enumerable,
        }
    }
}

/// A user function (closure): its code index in the program's table and its captured environment.
#[derive(Clone, Debug)]
pub struct Func {
    pub name: JsStr,
    pub env: Option<ObjRef>,
    /// What only methods and classes have (boxed: most functions are plain closures, and a function held
    /// inline in its object spares a call the load of a separate block, and a closure's making its
    /// allocation).
    pub extra: Option<Box<FuncExtra>>,
    pub code: u32,
    /// `length`: a function of more than 65535 parameters is not compiled (`make_function` gives up).
    pub length: u16,
    pub flags: u8,
}

#[derive(Clone, Debug, Default)]
pub struct FuncExtra {
    /// For methods: the object whose prototype `super` refers to.
    pub home: Option<ObjRef>,
    /// For derived classes: the parent constructor.
    pub parent: Option<Value>,
    /// For class constructors: the code that initialises instance fields, if any.
    pub fields: Option<u32>,
}

impl Func {
    #[inline]
    pub fn home(&self) -> Option<ObjRef> {
        self.extra.as_ref().and_then(|e| e.home)
    }
    #[inline]
    pub fn parent(&self) -> Option<&Value> {
        self.extra.as_ref().and_then(|e| e.parent.as_ref())
    }
    #[inline]
    pub fn fields(&self) -> Option<u32> {
        self.extra.as_ref().and_then(|e| e.fields)
    }
    pub fn set_home(&mut self, home: ObjRef) {
        self.extra.get_or_insert_with(Default::default).home = Some(home);
    }
}

pub mod fflags {
    pub const ARROW: u8 = 1;
    pub const ASYNC: u8 = 2;
    pub const CLASS: u8 = 4;
    pub const DERIVED: u8 = 8;
    pub const METHOD: u8 = 16;
}

/// What `Function.prototype.bind` (or the runtime) bound: the target, `this` and the leading arguments.
#[derive(Clone, Debug)]
pub struct BoundFn {
    pub target: Value,
    pub this: Value,
    pub args: Vec<Value>,
}

// An explicit tag: without it the compiler hides the kind in a niche of the largest variant's fields, and
// every kind test (the commonest test the runtime makes) decodes it.
#[derive(Clone, Debug)]
#[repr(u8)]
pub enum ObjKind {
    Ordinary,
    Array(Vec<Value>),
    Function(Func),
    Native(&'static BuiltinDef),
    /// A bound function (boxed: the rarest kind would otherwise make every object bigger).
    Bound(Box<BoundFn>),
    Error,
    /// A closure environment: captured variables, and the enclosing environment.
    Scope {
        vars: Vec<Value>,
        parent: Option<ObjRef>,
    },
    /// An object a builtin made, with the internal slots it keeps (a Map's entries, a RegExp's matcher,
    /// a Date's time value, a fetch response).
    Builtin(Box<dyn Slots>),
}

impl ObjKind {
    /// The slots of type `T`, if this is a builtin's object holding them.
    #[inline]
    pub fn slots<T: Slots>(&self) -> Option<&T> {
        match self {
            ObjKind::Builtin(b) => (&**b as &dyn Any).downcast_ref::<T>(),
            _ => None,
        }
    }
    #[inline]
    pub fn slots_mut<T: Slots>(&mut self) -> Option<&mut T> {
        match self {
            ObjKind::Builtin(b) => (&mut **b as &mut dyn Any).downcast_mut::<T>(),
            _ => None,
        }
    }
    /// Whether this is a builtin's object holding slots of type `T`.
    #[inline]
    pub fn is<T: Slots>(&self) -> bool {
        self.slots::<T>().is_some()
    }
    /// Whether this is a host object (see `Slots::is_host`).
    pub fn is_host(&self) -> bool {
        matches!(self, ObjKind::Builtin(b) if b.is_host())
    }
    /// A builtin's object with slots `slots`.
    pub fn builtin(slots: impl Slots) -> ObjKind {
        ObjKind::Builtin(Box::new(slots))
    }
}

/// The internal slots a builtin keeps in its objects (ECMA-262's [[MapData]], [[RegExpMatcher]],
/// [[DateValue]], [[PromiseState]], a fetch response): the core stores them in `ObjKind::Builtin` and asks
/// them only what it must; the builtin that made them reads them back with `ObjKind::slots`.
pub trait Slots: Any + fmt::Debug + CloneSlots {
    /// The type tag type guards see (`value::tag`).
    fn type_tag(&self) -> u16 {
        tag::OBJECT
    }
    /// Whether ToPrimitive without a hint prefers a string (Date's @@toPrimitive, ECMA-262 §21.4.4.45).
    fn prefers_string(&self) -> bool {
        false
    }
    /// A host object (a fetch Response or Headers, an iterator): its state is not made of properties, so
    /// operations over an object's properties (`Object.keys`, `JSON.stringify`, `Object.assign`...) give
    /// up on it.
    fn is_host(&self) -> bool {
        false
    }
    /// Whether `other` holds the same observable contents, for the module-state check
    /// (`Heap::module_changed`). Slots that do not compare count as changed.
    fn same_as(&self, _other: &dyn Slots) -> bool {
        false
    }
    /// The builtin's part of property access on its objects, if they compute properties.
    fn hooks(&self) -> Option<&'static PropHooks> {
        None
    }
    /// Shows `f` every value the slots hold that may name an object (wrap a bare `ObjRef` with
    /// `each_ref`); `f` may change them, as `Heap::commit` does when it moves objects. Slots keyed by an
    /// object (a Map's keys) re-key themselves. `Err(why)` for slots bound to the request being served
    /// (I/O in flight, a loop under way), which cannot be kept in module state. Every builtin says what its
    /// slots hold: there is no default.
    fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str>;
}

/// Shows `f` an object reference as a value, and takes back what `f` left (an object).
pub fn each_ref(r: &mut ObjRef, f: &mut dyn FnMut(&mut Value)) {
    let mut v = Value::Obj(*r);
    f(&mut v);
    if let Value::Obj(o) = v {
        *r = o;
    }
}

/// `each_ref` for an optional reference.
pub fn each_opt_ref(r: &mut Option<ObjRef>, f: &mut dyn FnMut(&mut Value)) {
    if let Some(o) = r {
        each_ref(o, f);
    }
}

/// Cloning slots behind a `Box<dyn Slots>` (module objects are copied before a request's first write).
pub trait CloneSlots {
    fn clone_slots(&self) -> Box<dyn Slots>;
}

impl<T: Slots + Clone> CloneSlots for T {
    fn clone_slots(&self) -> Box<dyn Slots> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Slots> {
    fn clone(&self) -> Box<dyn Slots> {
        self.clone_slots()
    }
}

#[derive(Clone, Debug)]
pub struct Obj {
    pub proto: Option<ObjRef>,
    pub props: Props,
    pub kind: ObjKind,
    pub frozen: bool,
}

// Every object of a request is one of these in the heap's vector: kept small (a bound function's parts are
// boxed) so that making, reading and freeing objects moves fewer bytes.
const _: () = assert!(std::mem::size_of::<Obj>() <= 88);

impl Obj {
    pub fn new(kind: ObjKind, proto: Option<ObjRef>) -> Obj {
        Obj::with_props(kind, proto, Props::default())
    }
    /// An object made with its properties (an object literal's).
    #[inline]
    pub fn with_props(kind: ObjKind, proto: Option<ObjRef>, props: Props) -> Obj {
        Obj {
            proto,
            props,
            kind,
            frozen: false,
        }
    }
    fn size(&self) -> usize {
        let base = 96 + self.props.len() * 64;
        match &self.kind {
            ObjKind::Array(v) => base + v.len() * 24,
            ObjKind::Scope { vars, .. } => base + vars.len() * 24,
            _ => base,
        }
    }

    /// Shows `f` every value the object holds: its prototype, its properties (accessors as objects), and
    /// what its kind holds (elements, captured variables, a closure's environment, a builtin's slots). `f`
    /// may change them (`Heap::commit` moves objects). The match has no catch-all, so a new kind must say
    /// what it holds. `Err(why)`: slots bound to the request (see `Slots::each_value`).
    pub fn each_value(&mut self, f: &mut dyn FnMut(&mut Value)) -> Result<(), &'static str> {
        each_opt_ref(&mut self.proto, f);
        for p in self.props.values_mut() {
            match p {
                Prop::Data { value, .. } => f(value),
                Prop::Accessor { get, set, .. } => {
                    each_opt_ref(get, f);
                    each_opt_ref(set, f);
                }
            }
        }
        match &mut self.kind {
            ObjKind::Ordinary | ObjKind::Error | ObjKind::Native(_) => Ok(()),
            ObjKind::Array(items) => {
                items.iter_mut().for_each(&mut *f);
                Ok(())
            }
            ObjKind::Function(func) => {
                let Func {
                    code: _,
                    env,
                    name: _,
                    length: _,
                    flags: _,
                    extra,
                } = func;
                each_opt_ref(env, f);
                if let Some(e) = extra {
                    let FuncExtra {
                        home,
                        parent,
                        fields: _,
                    } = &mut **e;
                    each_opt_ref(home, f);
                    if let Some(p) = parent {
                        f(p);
                    }
                }
                Ok(())
            }
            ObjKind::Bound(b) => {
                f(&mut b.target);
                f(&mut b.this);
                b.args.iter_mut().for_each(&mut *f);
                Ok(())
            }
            ObjKind::Scope { vars, parent } => {
                vars.iter_mut().for_each(&mut *f);
                each_opt_ref(parent, f);
                Ok(())
            }
            ObjKind::Builtin(slots) => slots.each_value(f),
        }
    }

    /// Roughly the bytes the object keeps (for the module state's cap): a fixed part, its properties'
    /// keys, a slot per value it holds and the text of the strings among them (counted at each holder).
    fn footprint(&mut self) -> usize {
        let mut n = 96 + self.props.keys().map(|k| 40 + 2 * k.len()).sum::<usize>();
        let _ = self.each_value(&mut |v| {
            n += 24;
            if let Value::Str(s) = v {
                n += 2 * s.len();
            }
        });
        n
    }
}

pub struct Heap {
    objs: Vec<Obj>,
    module_len: u32,
    /// The module objects' `footprint`s, summed, and the most they may reach (`commit` refuses beyond).
    module_bytes: usize,
    module_cap: usize,
    /// Objects below this index may not be written: `module_len`, raised while an async callback runs
    /// detached (its promise not awaited at once), whose writes to older state Node would interleave
    /// differently.
    write_floor: u32,
    /// Module objects the current request wrote, as they were before its first write to each. A request
    /// may change module-level state as long as it puts it back (`module_changed` tells), as a handler
    /// that marks cells of a module-level grid and clears them does; `reset` restores them either way.
    undo: Vec<(u32, Obj)>,
    /// The module objects in `undo`, one bit each: looked at on every write to a module object.
    saved: Marks,
    bytes: usize,
    cap: usize,
    /// Reads of objects below this index are logged in `read_log` (0: nothing is logged). See `Later`.
    read_floor: std::cell::Cell<u32>,
    read_log: std::cell::RefCell<Vec<u32>>,
    /// More reads than `READ_LOG_CAP` were to be logged: the code running later gives up when it ends.
    read_overflow: std::cell::Cell<bool>,
    /// Code running where Node would run it later than we do, innermost last.
    later: Vec<Later>,
    /// For each detached async call that read older state after its first `await` (its promise, what it
    /// read): until its promise is awaited, Node may run that part after the caller has written those
    /// objects, so a write to one of them gives up.
    watched: Vec<(u32, Vec<u32>)>,
    /// `.then` promises of this request not yet settled: their callbacks run only when awaited here, where
    /// Node runs them anyway, so a request that answers with one left falls back.
    pub unsettled_thens: u32,
    /// Objects below this index are the realm's (prototypes, namespaces, constructors), made before the
    /// module; `realm_epoch` changes whenever one of them may have changed, which is what call sites'
    /// method caches (`call::method_guarded`) check.
    realm_len: u32,
    realm_epoch: u32,
    /// Whether any object of the realm was written since it was sealed: by the module, by a request whose
    /// writes were kept, or by the request under way. `reset` sets it back to `realm_written_kept`, so a
    /// request that gave up (its writes undone) does not keep the direct forms off for the requests after it.
    realm_written: bool,
    /// `realm_written` as module state has it: at the module's seal and at each commit.
    realm_written_kept: bool,
}

/// A part of the program that Node runs later than the runtime does, so that what it reads of older state
/// may differ between the two:
///
/// - a detached async call (its promise not awaited at once) runs to completion when called, where Node
///   runs it only up to its first `await` and the rest after the caller has gone on: from that first
///   `await`, its reads of objects older than the call are logged, and the call's promise watches them
///   (`watch`);
/// - a `.then` callback runs when its promise is awaited, where Node runs it as soon as the source settles:
///   it may not read objects older than the `.then` call that the request could have written meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct Later {
    floor: u32,
    /// Logging (a detached call after its first `await`, a `.then` callback at once).
    active: bool,
    then_callback: bool,
    log_start: usize,
}

impl Heap {
    pub fn new(cap: usize) -> Heap {
        Heap {
            objs: Vec::with_capacity(256),
            module_len: 0,
            module_bytes: 0,
            module_cap: usize::MAX,
            write_floor: 0,
            undo: Vec::new(),
            saved: Default::default(),
            bytes: 0,
            cap,
            read_floor: std::cell::Cell::new(0),
            read_log: std::cell::RefCell::new(Vec::new()),
            read_overflow: std::cell::Cell::new(false),
            later: Vec::new(),
            watched: Vec::new(),
            unsettled_thens: 0,
            realm_len: 0,
            realm_epoch: 0,
            realm_written: false,
            realm_written_kept: false,
        }
    }
    /// Everything made so far is the realm's (see `realm_epoch`).
    pub fn seal_realm(&mut self) {
        self.realm_len = self.objs.len() as u32;
    }
    /// Changes whenever an object of the realm may have changed (a write to it, or its undoing).
    #[inline(always)]
    pub fn realm_epoch(&self) -> u32 {
        self.realm_epoch
    }
    /// Whether every object of the realm is as the realm made it (no program ever wrote one) and no read is
    /// being logged (see `Later`): then a builtin found by name on a global or a primitive's prototype is
    /// the realm's own, and finding it needs no lookup and leaves nothing to log.
    #[inline(always)]
    pub fn realm_untouched(&self) -> bool {
        !self.realm_written && self.read_floor.get() == 0
    }
    #[inline(always)]
    pub fn is_realm(&self, r: ObjRef) -> bool {
        r.0 < self.realm_len
    }
    pub fn len(&self) -> usize {
        self.objs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.objs.is_empty()
    }
    /// Everything made so far belongs to the module: requests start from it (their writes to it are
    /// logged, to be undone or committed).
    pub fn seal_module(&mut self) {
        self.module_bytes = self.objs.iter_mut().map(Obj::footprint).sum();
        self.module_len = self.objs.len() as u32;
        self.write_floor = self.module_len;
        self.undo.clear();
        self.saved.clear();
        self.bytes = 0;
        self.realm_written_kept = self.realm_written;
    }
    /// Frees what the last request made and puts back the module objects it wrote.
    pub fn reset(&mut self) {
        // Every write to the realm since the last commit is undone below.
        self.realm_written = self.realm_written_kept;
        for (i, o) in self.undo.drain(..) {
            if i < self.realm_len {
                self.realm_epoch = self.realm_epoch.wrapping_add(1);
            }
            self.objs[i as usize] = o;
        }
        self.saved.clear();
        for o in &mut self.objs[self.module_len as usize..] {
            if let ObjKind::Array(items) = &mut o.kind {
                forget_plain_items(items);
            }
        }
        self.objs.truncate(self.module_len as usize);
        self.write_floor = self.module_len;
        self.bytes = 0;
        self.read_floor.set(0);
        self.read_log.borrow_mut().clear();
        self.read_overflow.set(false);
        self.later.clear();
        self.watched.clear();
        self.unsettled_thens = 0;
    }
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap;
    }
    /// The most bytes (`Obj::footprint`s) module state may keep; a commit beyond it is refused.
    pub fn set_module_cap(&mut self, cap: usize) {
        self.module_cap = cap;
    }
    /// The bytes module state keeps now (the sum of its objects' `footprint`s).
    pub fn module_bytes(&self) -> usize {
        self.module_bytes
    }
    /// How many objects module state holds.
    pub fn module_len(&self) -> usize {
        self.module_len as usize
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Counts `n` bytes against the request's cap (strings and buffers call this too).
    #[inline]
    pub fn charge(&mut self, n: usize) -> Result<(), Abort> {
        self.bytes += n;
        if self.bytes > self.cap {
            Err(Abort::new(
                AbortKind::Heap,
                0,
                "the request's heap exceeded its byte cap",
            ))
        } else {
            Ok(())
        }
    }
    pub fn alloc(&mut self, obj: Obj) -> Result<ObjRef, Abort> {
        self.charge(obj.size())?;
        if self.objs.len() >= u32::MAX as usize {
            return Err(Abort::new(AbortKind::Heap, 0, "too many objects"));
        }
        self.objs.push(obj);
        Ok(ObjRef(self.objs.len() as u32 - 1))
    }
    #[inline(always)]
    pub fn get(&self, r: ObjRef) -> &Obj {
        if r.0 < self.read_floor.get() {
            self.note_read(r.0);
        }
        &self.objs[r.0 as usize]
    }

    #[cold]
    fn note_read(&self, o: u32) {
        let mut log = self.read_log.borrow_mut();
        if log.last() != Some(&o) {
            if log.len() >= READ_LOG_CAP {
                self.read_overflow.set(true);
            } else {
                log.push(o);
            }
        }
    }
    pub fn is_module(&self, r: ObjRef) -> bool {
        r.0 < self.module_len
    }
    /// Write access. A module object's first write in a request copies it into the undo log; frozen objects
    /// are read-only, and so is state older than a detached async call running now.
    #[inline(always)]
    pub fn get_mut(&mut self, r: ObjRef) -> Result<&mut Obj, Abort> {
        // The common case inline: an object of the request's own (neither the realm's nor the module's),
        // not frozen, with no detached async call running or watching. Everything else takes the checks.
        let i = r.0 as usize;
        if r.0 < self.module_len
            || r.0 < self.realm_len
            || r.0 < self.write_floor
            || !self.watched.is_empty()
            || self.objs[i].frozen
        {
            return self.get_mut_checked(r);
        }
        Ok(&mut self.objs[i])
    }

    #[inline(never)]
    fn get_mut_checked(&mut self, r: ObjRef) -> Result<&mut Obj, Abort> {
        if r.0 < self.write_floor {
            if r.0 >= self.module_len {
                return Err(Abort::new(
                    AbortKind::Unsupported,
                    0,
                    "a detached async call wrote state older than itself",
                ));
            }
            if self.write_floor > self.module_len {
                return Err(Abort::new(
                    AbortKind::ModuleWrite,
                    0,
                    "a detached async call wrote module-level state",
                ));
            }
        }
        if self.objs[r.0 as usize].frozen {
            return Err(Abort::new(
                AbortKind::Unsupported,
                0,
                "write to a frozen object",
            ));
        }
        if self.is_watched(r) {
            return Err(Abort::new(
                AbortKind::Unsupported,
                0,
                "a write to state that a detached async call read after its first await (Node may run that part after this write)",
            ));
        }
        if r.0 < self.realm_len {
            self.realm_epoch = self.realm_epoch.wrapping_add(1);
            self.realm_written = true;
        }
        if r.0 < self.module_len && self.saved.insert(r.0) {
            self.undo.push((r.0, self.objs[r.0 as usize].clone()));
        }
        Ok(&mut self.objs[r.0 as usize])
    }
    /// The element `i` of array `r`, for an in-bounds write that needs no other check: `r` belongs to the
    /// current request (so no module-state or detached-call rule applies) and is not frozen.
    #[inline(always)]
    pub fn array_slot_mut(&mut self, r: ObjRef, i: usize) -> Option<&mut Value> {
        self.array_items_mut(r)?.get_mut(i)
    }
    /// Element `i` of array `r` of module state (a table the module made and requests write), for an
    /// in-bounds store that needs no other check: written through `get_mut`, so the request's first write
    /// copies the array into the undo log as every write to module state does. None for anything else: the
    /// request's own objects, the realm's, and what `get_mut` refuses (a frozen or watched array, a
    /// detached async call running), which the caller's general path then answers as it always did.
    #[inline]
    pub fn module_array_slot_mut(&mut self, r: ObjRef, i: usize) -> Option<&mut Value> {
        if r.0 >= self.module_len || r.0 < self.realm_len {
            return None;
        }
        if !matches!(&self.objs.get(r.0 as usize)?.kind, ObjKind::Array(items) if i < items.len()) {
            return None;
        }
        match &mut self.get_mut(r).ok()?.kind {
            ObjKind::Array(items) => items.get_mut(i),
            _ => None,
        }
    }
    /// `a.push(v)` in place, for an array of the current request (no module-state or detached-call rule
    /// applies) that is neither frozen nor watched, whose prototype is `proto` (the realm's Array.prototype)
    /// while the realm is untouched (so no prototype has an element): charged `bytes`, and the new length.
    /// `v` comes back when any of that does not hold, or when the charge would pass the cap (the caller then
    /// takes the general path, which charges and refuses as it does).
    #[inline(always)]
    pub fn push_plain(
        &mut self,
        r: ObjRef,
        v: Value,
        proto: ObjRef,
        bytes: usize,
    ) -> Result<usize, Value> {
        if r.0 < self.write_floor
            || !self.watched.is_empty()
            || !self.realm_untouched()
            || self.bytes + bytes > self.cap
        {
            return Err(v);
        }
        let Some(o) = self.objs.get_mut(r.0 as usize) else {
            return Err(v);
        };
        match &mut o.kind {
            ObjKind::Array(items) if !o.frozen && o.proto == Some(proto) => {
                self.bytes += bytes;
                items.push(v);
                Ok(items.len())
            }
            _ => Err(v),
        }
    }
    /// The elements of array `r`, for a store or an append that needs no other check: `r` belongs to the
    /// current request (so no module-state or detached-call rule applies) and is neither frozen nor watched.
    #[inline(always)]
    pub fn array_items_mut(&mut self, r: ObjRef) -> Option<&mut Vec<Value>> {
        if r.0 < self.write_floor || self.is_watched(r) {
            return None;
        }
        let o = self.objs.get_mut(r.0 as usize)?;
        if o.frozen {
            return None;
        }
        match &mut o.kind {
            ObjKind::Array(items) => Some(items),
            _ => None,
        }
    }
    /// Write access that grows the byte count by `extra` (array pushes, new properties).
    #[inline]
    pub fn get_mut_grow(&mut self, r: ObjRef, extra: usize) -> Result<&mut Obj, Abort> {
        self.charge(extra)?;
        self.get_mut(r)
    }
    /// Whether a module object the current request wrote differs from what it was before the request.
    pub fn module_changed(&self) -> bool {
        self.undo
            .iter()
            .any(|(i, before)| !same_obj(before, &self.objs[*i as usize]))
    }

    /// Keeps the current request's writes to module state, as a Node replica keeps them once it has
    /// answered: the request's objects that module state now reaches become module objects, and the rest
    /// is freed. References from module state to the request's objects can only have been made through the
    /// module objects the request wrote (every write goes through `get_mut`, which logs them in `undo`), so
    /// those are the roots; nothing outside the heap keeps a request's object past the request (the realm
    /// and the module's host state are made while loading, the request's host state is dropped by
    /// `Cx::begin_request`, and the runtime has no timers). The objects reached are moved, in their
    /// order, right after the module's, and every reference to them (in them and in the objects written)
    /// is renamed.
    ///
    /// Refused (`module-write`, nothing changed, so `reset` undoes the request as for any give-up): module
    /// state that would hold slots bound to the request (I/O in flight, a loop under way) or an object
    /// `bound` names (the host's objects that act on the request they were made for; `Cx::commit_request`
    /// passes them), or that would exceed its byte cap (`set_module_cap`).
    pub fn commit(&mut self, bound: &dyn Fn(&Obj) -> Option<&'static str>) -> Result<(), Abort> {
        let base = self.module_len as usize;
        let refuse = |why: String| Abort::new(AbortKind::ModuleWrite, 0, why);
        const UNSEEN: u32 = u32::MAX;
        const MARKED: u32 = u32::MAX - 1;
        // Mark what the written objects reach among the request's objects.
        let mut slot: Vec<u32> = vec![UNSEEN; self.objs.len() - base];
        let mut stack: Vec<u32> = Vec::new();
        let mut reached: Vec<u32> = Vec::new();
        fn mark(v: &Value, base: usize, slot: &mut [u32], stack: &mut Vec<u32>) {
            if let Value::Obj(r) = v {
                let i = r.0 as usize;
                if i >= base && slot[i - base] == UNSEEN {
                    slot[i - base] = MARKED;
                    stack.push(r.0);
                }
            }
        }
        let kept = |why: &str| {
            refuse(format!(
                "the request left module state holding {} (kept only while its request runs)",
                why
            ))
        };
        for (i, _) in &self.undo {
            self.objs[*i as usize]
                .each_value(&mut |v| mark(v, base, &mut slot, &mut stack))
                .map_err(kept)?;
        }
        while let Some(o) = stack.pop() {
            reached.push(o);
            if let Some(why) = bound(&self.objs[o as usize]) {
                return Err(kept(why));
            }
            self.objs[o as usize]
                .each_value(&mut |v| mark(v, base, &mut slot, &mut stack))
                .map_err(kept)?;
        }
        // The cap, on what module state keeps after the commit.
        let mut bytes = self.module_bytes as isize;
        for (i, before) in self.undo.iter_mut() {
            bytes += self.objs[*i as usize].footprint() as isize - before.footprint() as isize;
        }
        for &o in &reached {
            bytes += self.objs[o as usize].footprint() as isize;
        }
        let bytes = bytes.max(0) as usize;
        if bytes > self.module_cap {
            return Err(refuse(format!(
                "the module state is over its cap: {} bytes after this request, {} allowed (cl_module_bytes)",
                bytes, self.module_cap
            )));
        }
        // Move the objects reached right after the module's, in their order; free the rest.
        reached.sort_unstable();
        for (rank, &old) in reached.iter().enumerate() {
            let new = base + rank;
            slot[old as usize - base] = new as u32;
            if new != old as usize {
                // `new` < `old`: what is there was not reached, or was moved already.
                self.objs.swap(new, old as usize);
            }
        }
        self.objs.truncate(base + reached.len());
        // Rename every reference to a moved object.
        let mut rename = |v: &mut Value| {
            if let Value::Obj(r) = v {
                let i = r.0 as usize;
                if i >= base {
                    debug_assert!(slot[i - base] < MARKED, "a reference to an object not kept");
                    r.0 = slot[i - base];
                }
            }
        };
        for (i, _) in &self.undo {
            let _ = self.objs[*i as usize].each_value(&mut rename);
        }
        for o in &mut self.objs[base..] {
            let _ = o.each_value(&mut rename);
        }
        self.module_len = self.objs.len() as u32;
        self.write_floor = self.module_len;
        self.module_bytes = bytes;
        self.undo.clear();
        self.saved.clear();
        self.bytes = 0;
        self.realm_written_kept = self.realm_written;
        Ok(())
    }
    /// Raises the write floor to everything made so far; returns the old floor for `restore_floor`.
    pub fn raise_floor(&mut self) -> u32 {
        let old = self.write_floor;
        self.write_floor = self.objs.len() as u32;
        old
    }
    pub fn restore_floor(&mut self, old: u32) {
        self.write_floor = old;
    }
    #[inline(always)]
    pub fn kind(&self, r: ObjRef) -> &ObjKind {
        &self.get(r).kind
    }

    fn update_read_floor(&self) {
        let floor = self
            .later
            .iter()
            .filter(|l| l.active)
            .map(|l| l.floor)
            .max()
            .unwrap_or(0);
        self.read_floor.set(floor);
    }

    /// A detached async call starts: it runs to its end now, Node runs it up to its first `await`.
    pub fn begin_detached(&mut self) {
        let log_start = self.read_log.borrow().len();
        self.later.push(Later {
            floor: self.objs.len() as u32,
            active: false,
            then_callback: false,
            log_start,
        });
    }

    /// A `.then` callback of promise `p` starts (now, where Node ran it as soon as its source settled).
    pub fn begin_then_callback(&mut self, p: ObjRef) {
        let log_start = self.read_log.borrow().len();
        self.later.push(Later {
            floor: p.0 + 1,
            active: true,
            then_callback: true,
            log_start,
        });
        self.update_read_floor();
    }

    /// An `await` is reached: a detached call running here goes on, in Node, only after its caller has.
    pub fn on_await(&mut self) {
        if let Some(l) = self.later.last_mut() {
            if !l.active {
                l.active = true;
                self.update_read_floor();
            }
        }
    }

    /// The innermost `begin_detached` or `begin_then_callback` ends. For a detached call, `promise` is the
    /// promise it returned (None when it gave up): it watches what the call read after its first `await`.
    /// A `.then` callback that read an object older than its promise which this request may have written
    /// since (any non-module object, a module object it wrote) gives up.
    /// `callee`, the function called, is not counted as read: calling it reads only what never changes.
    pub fn end_later(
        &mut self,
        promise: Option<ObjRef>,
        callee: Option<ObjRef>,
    ) -> Result<(), Abort> {
        let Some(l) = self.later.pop() else {
            return Ok(());
        };
        let skip = callee.map(|c| c.0);
        let mut read: Vec<u32> = self.read_log.borrow()[l.log_start..]
            .iter()
            .copied()
            .filter(|&o| o < l.floor && Some(o) != skip)
            .collect();
        if !self.later.iter().any(|o| o.active) {
            self.read_log.borrow_mut().truncate(l.log_start);
        }
        self.update_read_floor();
        if self.read_overflow.get() {
            if self.later.is_empty() {
                self.read_overflow.set(false);
            }
            return Err(Abort::new(
                AbortKind::Unsupported,
                0,
                "code Node runs later read more older state than the runtime follows",
            ));
        }
        if l.then_callback {
            // A function without own properties cannot have changed: its code and environment are fixed.
            let unchanging = |o: u32| {
                let obj = &self.objs[o as usize];
                obj.props.is_empty()
                    && matches!(
                        obj.kind,
                        ObjKind::Function(_) | ObjKind::Native(_) | ObjKind::Bound(_)
                    )
            };
            if read
                .iter()
                .any(|&o| (o >= self.module_len || self.saved.contains(o)) && !unchanging(o))
            {
                return Err(Abort::new(
                    AbortKind::Unsupported,
                    0,
                    "a .then callback read state that may have changed before Node would have run it",
                ));
            }
            return Ok(());
        }
        if let (Some(p), false) = (promise, read.is_empty()) {
            read.sort_unstable();
            read.dedup();
            self.watched.push((p.0, read));
        }
        Ok(())
    }

    /// Promise `p` is awaited: whatever its detached call read, Node has run it by the time the awaiting
    /// code goes on.
    pub fn unwatch(&mut self, p: ObjRef) {
        if !self.watched.is_empty() {
            self.watched.retain(|(q, _)| *q != p.0);
        }
    }

    #[inline(always)]
    fn is_watched(&self, r: ObjRef) -> bool {
        !self.watched.is_empty() && self.watched_slow(r)
    }

    #[inline(never)]
    fn watched_slow(&self, r: ObjRef) -> bool {
        self.watched
            .iter()
            .any(|(_, objs)| objs.binary_search(&r.0).is_ok())
    }
}

/// Same slot: both holes, or neither and SameValue.
pub fn same_slot(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Hole, Value::Hole) => true,
        (Value::Hole, _) | (_, Value::Hole) => false,
        _ => crate::ops::same_value(a, b),
    }
}

fn same_prop(a: &Prop, b: &Prop) -> bool {
    match (a, b) {
        (
            Prop::Data {
                value: v1,
                enumerable: e1,
                writable: w1,
            },
            Prop::Data {
                value: v2,
                enumerable: e2,
                writable: w2,
            },
        ) => e1 == e2 && w1 == w2 && same_slot(v1, v2),
        (
            Prop::Accessor {
                get: g1,
                set: s1,
                enumerable: e1,
            },
            Prop::Accessor {
                get: g2,
                set: s2,
                enumerable: e2,
            },
        ) => g1 == g2 && s1 == s2 && e1 == e2,
        _ => false,
    }
}

/// Whether an object is observably as it was: the same prototype, flags, properties in the same order,
/// and contents. Kinds whose contents are not compared here count as changed.
fn same_obj(a: &Obj, b: &Obj) -> bool {
    if a.proto != b.proto || a.frozen != b.frozen || a.props.len() != b.props.len() {
        return false;
    }
    if !a
        .props
        .iter()
        .zip(b.props.iter())
        .all(|((k1, p1), (k2, p2))| k1 == k2 && same_prop(p1, p2))
    {
        return false;
    }
    let all = |x: &[Value], y: &[Value]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_slot(p, q))
    };
    match (&a.kind, &b.kind) {
        (ObjKind::Ordinary, ObjKind::Ordinary) | (ObjKind::Error, ObjKind::Error) => true,
        (ObjKind::Array(x), ObjKind::Array(y)) => all(x, y),
        (ObjKind::Scope { vars: x, parent: p }, ObjKind::Scope { vars: y, parent: q }) => {
            p == q && all(x, y)
        }
        (ObjKind::Function(f), ObjKind::Function(g)) => {
            f.code == g.code
                && f.env == g.env
                && f.flags == g.flags
                && f.home() == g.home()
                && f.fields() == g.fields()
                && f.name == g.name
                && f.length == g.length
                && match (f.parent(), g.parent()) {
                    (None, None) => true,
                    (Some(x), Some(y)) => same_slot(x, y),
                    _ => false,
                }
        }
        (ObjKind::Native(x), ObjKind::Native(y)) => std::ptr::eq(*x, *y),
        (ObjKind::Builtin(x), ObjKind::Builtin(y)) => x.same_as(&**y),
        _ => false,
    }
}

/// A set of object indexes, one bit each.
#[derive(Default, Debug)]
struct Marks(Vec<u64>);

impl Marks {
    /// Adds `i`; whether it was not there yet.
    #[inline]
    fn insert(&mut self, i: u32) -> bool {
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        let new = self.0[w] & bit == 0;
        self.0[w] |= bit;
        new
    }
    fn contains(&self, i: u32) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn marks_hold_what_was_inserted_until_cleared() {
        let mut m = Marks::default();
        assert!(!m.contains(0) && !m.contains(200));
        assert!(m.insert(3) && m.insert(64) && m.insert(200));
        assert!(!m.insert(64), "already there");
        assert!(m.contains(3) && m.contains(64) && m.contains(200));
        assert!(!m.contains(2) && !m.contains(63) && !m.contains(65) && !m.contains(1000));
        m.clear();
        assert!(!m.contains(3) && !m.contains(64) && !m.contains(200));
        assert!(m.insert(64));
    }

    use super::*;

    fn heap_with(n: usize) -> (Heap, Vec<ObjRef>) {
        let mut h = Heap::new(usize::MAX);
        h.seal_module();
        let objs = (0..n)
            .map(|_| h.alloc(Obj::new(ObjKind::Ordinary, None)).unwrap())
            .collect();
        (h, objs)
    }

    #[test]
    fn what_a_detached_call_read_after_its_first_await_is_watched_until_its_promise_is_awaited() {
        let (mut h, o) = heap_with(2);
        h.begin_detached();
        let _ = h.get(o[0]); // before the first await: Node reads it now too
        h.on_await();
        let _ = h.get(o[1]);
        let p = h.alloc(Obj::new(ObjKind::Ordinary, None)).unwrap();
        h.end_later(Some(p), None).unwrap();
        assert!(h.get_mut(o[0]).is_ok());
        assert!(
            h.get_mut(o[1]).is_err(),
            "a write to what it read after the await gives up"
        );
        assert!(h.array_slot_mut(o[1], 0).is_none());
        h.unwatch(p);
        assert!(
            h.get_mut(o[1]).is_ok(),
            "once its promise is awaited, Node has run it"
        );
    }

    #[test]
    fn a_then_callback_that_read_older_state_gives_up() {
        let (mut h, o) = heap_with(2);
        let p = o[1];
        let newer = h.alloc(Obj::new(ObjKind::Ordinary, None)).unwrap();
        h.begin_then_callback(p);
        let _ = h.get(newer); // made after its promise
        assert!(h.end_later(None, None).is_ok());
        h.begin_then_callback(p);
        let _ = h.get(o[0]);
        assert!(h.end_later(None, None).is_err());
        // Nothing is logged once no such code runs.
        let _ = h.get(o[0]);
        assert!(h.read_log.borrow().is_empty());
    }
}
