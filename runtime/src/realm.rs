//! The realm: the prototype objects and globals every request shares. They are made before the module
//! loads, so they sit in the read-only module part of the heap.
//!
//! The realm itself makes only the intrinsic prototypes that the language needs before any builtin runs
//! (objects, functions, arrays, the primitives' wrappers, errors), empty. Each builtin then installs
//! itself through an `Installer`: its prototype objects, its constructor or namespace as a global, its
//! methods and static functions under the keys it names. The realm records where each builtin went, so
//! that `installed()` lists them by path ("Array.prototype.map") without ever taking a name apart.

use crate::cx::Abort;
use crate::heap::{Heap, Obj, ObjKind, Prop};
use crate::native::BuiltinDef;
use crate::value::{JsStr, ObjRef, Value};
use std::collections::HashMap;

/// A prototype's methods by key: the builtin and its function object.
type MethodTable = HashMap<JsStr, (&'static BuiltinDef, ObjRef), ahash::RandomState>;

pub struct Realm {
    pub object_proto: ObjRef,
    pub function_proto: ObjRef,
    pub array_proto: ObjRef,
    pub string_proto: ObjRef,
    pub number_proto: ObjRef,
    pub boolean_proto: ObjRef,
    pub error_proto: ObjRef,
    /// RegExp.prototype once the RegExp builtin made it: every regex literal's object and every match
    /// looks at it, and a look in `protos` (hashing the name) cost as much as the rest of a literal.
    pub regexp_proto: Option<ObjRef>,
    /// Map.prototype and Set.prototype once the collections made them: a call site that saw one of their
    /// methods calls it directly on a Map or Set that inherits from them (`rt::plain_map`, `rt::plain_set`).
    pub map_proto: Option<ObjRef>,
    pub set_proto: Option<ObjRef>,
    protos: HashMap<&'static str, ObjRef, ahash::RandomState>,
    /// Prototype methods by prototype and key: the builtin and its function object (made once, with the
    /// realm, so that reading a method as a value, `Object.prototype.hasOwnProperty.call(o, k)`, gives
    /// the same object every time).
    /// Looked up at every method call, so hashed with ahash rather than SipHash.
    methods: HashMap<ObjRef, MethodTable, ahash::RandomState>,
    max_proto: u32,
    globals: HashMap<&'static str, Value, ahash::RandomState>,
    /// The path of every object that holds builtins ("Array", "Array.prototype", "Math").
    holders: HashMap<ObjRef, String, ahash::RandomState>,
    /// Every builtin with the path it was installed at, in installation order.
    installed: Vec<(String, &'static BuiltinDef)>,
}

/// The intrinsic prototypes the realm makes itself, with the one each inherits from.
const INTRINSICS: [(&str, Option<&str>); 7] = [
    ("Object", None),
    ("Function", Some("Object")),
    ("Array", Some("Object")),
    ("String", Some("Object")),
    ("Number", Some("Object")),
    ("Boolean", Some("Object")),
    ("Error", Some("Object")),
];

/// How a builtin installs itself: see `Installer`.
pub type Install = fn(&mut Installer<'_>) -> Result<(), Abort>;

impl Realm {
    /// Makes the intrinsic prototypes, then runs each builtin's `install` in order.
    pub fn create(heap: &mut Heap, installs: &[Install]) -> Result<Realm, Abort> {
        let mut protos: HashMap<&'static str, ObjRef, ahash::RandomState> = HashMap::default();
        let mut holders: HashMap<ObjRef, String, ahash::RandomState> = HashMap::default();
        for (name, parent) in INTRINSICS {
            let p = parent.map(|p| protos[p]);
            let o = heap.alloc(Obj::new(ObjKind::Ordinary, p))?;
            protos.insert(name, o);
            holders.insert(o, format!("{}.prototype", name));
        }
        let mut realm = Realm {
            object_proto: protos["Object"],
            function_proto: protos["Function"],
            array_proto: protos["Array"],
            string_proto: protos["String"],
            number_proto: protos["Number"],
            boolean_proto: protos["Boolean"],
            error_proto: protos["Error"],
            regexp_proto: None,
            map_proto: None,
            set_proto: None,
            max_proto: protos.values().map(|o| o.0).max().unwrap_or(0),
            protos,
            methods: HashMap::default(),
            globals: HashMap::default(),
            holders,
            installed: Vec::new(),
        };
        let mut installer = Installer {
            realm: &mut realm,
            heap,
        };
        for install in installs {
            install(&mut installer)?;
        }
        Ok(realm)
    }

    /// A global by name (`Math`, `JSON`, `parseInt`, ...), if the runtime models it.
    pub fn global(&self, name: &str) -> Option<Value> {
        self.globals.get(name).cloned()
    }

    /// The names of every global, sorted.
    pub fn global_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.globals.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// Every builtin installed, with the path it was installed at, in installation order.
    pub fn installed(&self) -> &[(String, &'static BuiltinDef)] {
        &self.installed
    }

    /// Whether `o` is one of the realm's prototype objects (Object.prototype, Array.prototype, ...).
    pub fn is_builtin_proto(&self, o: ObjRef) -> bool {
        o.0 <= self.max_proto && self.protos.values().any(|&p| p == o)
    }

    /// The prototype object of class `class` ("Map"), if a builtin made one.
    pub fn proto(&self, class: &str) -> Option<ObjRef> {
        self.protos.get(class).copied()
    }

    #[inline]
    pub fn proto_method(&self, proto: ObjRef, key: &[u16]) -> Option<&'static BuiltinDef> {
        if proto.0 > self.max_proto {
            return None;
        }
        self.methods
            .get(&proto)
            .and_then(|m| m.get(key))
            .map(|(d, _)| *d)
    }

    /// The function object of a prototype method, for reading it as a value.
    pub fn proto_method_object(&self, proto: ObjRef, key: &[u16]) -> Option<ObjRef> {
        if proto.0 > self.max_proto {
            return None;
        }
        self.methods
            .get(&proto)
            .and_then(|m| m.get(key))
            .map(|(_, f)| *f)
    }
}

/// What a builtin's `install` works with: the realm being made and the heap its objects go to.
pub struct Installer<'a> {
    pub realm: &'a mut Realm,
    pub heap: &'a mut Heap,
}

impl Installer<'_> {
    /// The prototype object of class `class`, made by the realm or by a builtin installed earlier.
    pub fn proto(&self, class: &str) -> ObjRef {
        match self.realm.proto(class) {
            Some(p) => p,
            None => panic!("no prototype of {} is installed yet", class),
        }
    }

    /// A new, empty prototype object for class `class` inheriting from `parent`.
    pub fn prototype(&mut self, class: &'static str, parent: ObjRef) -> Result<ObjRef, Abort> {
        assert!(
            !self.realm.protos.contains_key(class),
            "two prototypes of {}",
            class
        );
        let o = self.heap.alloc(Obj::new(ObjKind::Ordinary, Some(parent)))?;
        self.realm.protos.insert(class, o);
        match class {
            "RegExp" => self.realm.regexp_proto = Some(o),
            "Map" => self.realm.map_proto = Some(o),
            "Set" => self.realm.set_proto = Some(o),
            _ => {}
        }
        self.realm.max_proto = self.realm.max_proto.max(o.0);
        self.realm.holders.insert(o, format!("{}.prototype", class));
        Ok(o)
    }

    fn native(&mut self, def: &'static BuiltinDef) -> Result<ObjRef, Abort> {
        self.heap.alloc(Obj::new(
            ObjKind::Native(def),
            Some(self.realm.function_proto),
        ))
    }

    fn record(&mut self, holder: Option<ObjRef>, key: &str, def: &'static BuiltinDef) {
        let path = match holder {
            None => key.to_string(),
            Some(h) => match self.realm.holders.get(&h) {
                Some(name) => format!("{}.{}", name, key),
                None => panic!(
                    "builtin {} installed on an object that is not a holder",
                    def.name
                ),
            },
        };
        self.realm.installed.push((path, def));
    }

    fn set_global(&mut self, name: &'static str, v: Value) {
        let old = self.realm.globals.insert(name, v);
        assert!(old.is_none(), "two globals named {}", name);
    }

    /// Global constructor `name` (`def` has a `ctor`), linked both ways with its prototype object.
    pub fn constructor(
        &mut self,
        name: &'static str,
        def: &'static BuiltinDef,
        proto: ObjRef,
    ) -> Result<ObjRef, Abort> {
        let f = self.native(def)?;
        self.heap.get_mut(f)?.props.insert(
            JsStr::from("prototype"),
            Prop::Data {
                value: Value::Obj(proto),
                enumerable: false,
                writable: false,
            },
        );
        self.heap
            .get_mut(proto)?
            .props
            .insert(JsStr::from("constructor"), Prop::hidden(Value::Obj(f)));
        self.set_global(name, Value::Obj(f));
        self.realm.holders.insert(f, name.to_string());
        self.record(None, name, def);
        Ok(f)
    }

    /// Global function `name` (`parseInt`, `fetch`).
    pub fn function(
        &mut self,
        name: &'static str,
        def: &'static BuiltinDef,
    ) -> Result<ObjRef, Abort> {
        let f = self.native(def)?;
        self.set_global(name, Value::Obj(f));
        self.record(None, name, def);
        Ok(f)
    }

    /// Global `name` holding functions and constants (`Math`, `JSON`, `console`): an ordinary object.
    pub fn namespace(&mut self, name: &'static str) -> Result<ObjRef, Abort> {
        let o = self
            .heap
            .alloc(Obj::new(ObjKind::Ordinary, Some(self.realm.object_proto)))?;
        self.set_global(name, Value::Obj(o));
        self.realm.holders.insert(o, name.to_string());
        Ok(o)
    }

    /// Functions `holder[key]` (`Array.from`, `Math.floor`), non-enumerable, in order.
    pub fn statics(
        &mut self,
        holder: ObjRef,
        fns: &[(&'static str, &'static BuiltinDef)],
    ) -> Result<(), Abort> {
        for &(key, def) in fns {
            let f = self.native(def)?;
            self.heap
                .get_mut(holder)?
                .props
                .insert(JsStr::from(key), Prop::hidden(Value::Obj(f)));
            self.record(Some(holder), key, def);
        }
        Ok(())
    }

    /// Methods (and accessors' getters) of prototype `proto`, found by key rather than stored as
    /// properties (see props.rs).
    pub fn methods(
        &mut self,
        proto: ObjRef,
        fns: &[(&'static str, &'static BuiltinDef)],
    ) -> Result<(), Abort> {
        assert!(
            self.realm.is_builtin_proto(proto),
            "methods installed on an object that is not a prototype"
        );
        for &(key, def) in fns {
            let f = self.native(def)?;
            self.realm
                .methods
                .entry(proto)
                .or_default()
                .insert(JsStr::from(key), (def, f));
            self.record(Some(proto), key, def);
        }
        Ok(())
    }

    /// Method `key` of `proto` is the very function object of its method `existing`
    /// (`Set.prototype.keys === Set.prototype.values`).
    pub fn alias_method(&mut self, proto: ObjRef, key: &'static str, existing: &'static str) {
        let m = self
            .realm
            .methods
            .get_mut(&proto)
            .expect("a prototype with methods");
        let target = *m
            .get(&JsStr::from(existing))
            .unwrap_or_else(|| panic!("no method {} to alias", existing));
        m.insert(JsStr::from(key), target);
    }

    /// A non-enumerable, writable data property `holder[key]` (`Number.parseInt`, the global `parseInt`).
    pub fn property(&mut self, holder: ObjRef, key: &'static str, v: Value) -> Result<(), Abort> {
        self.heap
            .get_mut(holder)?
            .props
            .insert(JsStr::from(key), Prop::hidden(v));
        Ok(())
    }

    /// A constant: `holder[key]`, non-enumerable and read-only (`Math.PI`), or the global `key` when
    /// `holder` is `None` (`NaN`).
    pub fn constant(
        &mut self,
        holder: Option<ObjRef>,
        key: &'static str,
        v: Value,
    ) -> Result<(), Abort> {
        match holder {
            None => self.set_global(key, v),
            Some(h) => {
                self.heap.get_mut(h)?.props.insert(
                    JsStr::from(key),
                    Prop::Data {
                        value: v,
                        enumerable: false,
                        writable: false,
                    },
                );
            }
        }
        Ok(())
    }
}
