//! The realm: the prototype objects and globals every request shares. They are made before the module
//! loads, so they sit in the read-only module part of the heap.

use crate::builtins::{self, BuiltinDef};
use crate::cx::Abort;
use crate::heap::{Heap, Obj, ObjKind, Prop};
use crate::value::{JsStr, ObjRef, Value};
use std::collections::HashMap;

/// Classes whose prototype objects the realm makes, and the prototype each inherits from.
const CLASSES: &[(&str, Option<&str>)] = &[
    ("Object", None),
    ("Function", Some("Object")),
    ("Array", Some("Object")),
    ("String", Some("Object")),
    ("Number", Some("Object")),
    ("Boolean", Some("Object")),
    ("Error", Some("Object")),
    ("TypeError", Some("Error")),
    ("RangeError", Some("Error")),
    ("SyntaxError", Some("Error")),
    ("ReferenceError", Some("Error")),
    ("URIError", Some("Error")),
    ("EvalError", Some("Error")),
    ("Date", Some("Object")),
    ("RegExp", Some("Object")),
    ("Promise", Some("Object")),
    ("Map", Some("Object")),
    ("Set", Some("Object")),
    ("Response", Some("Object")),
    ("Headers", Some("Object")),
    ("FunctionContext", Some("Object")),
    ("FunctionEvent", Some("Object")),
    // Array, Map and Set iterators (builtins::HostData::Iter).
    ("Iterator", Some("Object")),
];

pub struct Realm {
    pub object_proto: ObjRef,
    pub function_proto: ObjRef,
    pub array_proto: ObjRef,
    pub string_proto: ObjRef,
    pub number_proto: ObjRef,
    pub boolean_proto: ObjRef,
    pub error_proto: ObjRef,
    pub date_proto: ObjRef,
    pub regexp_proto: ObjRef,
    pub promise_proto: ObjRef,
    pub map_proto: ObjRef,
    pub set_proto: ObjRef,
    pub response_proto: ObjRef,
    pub headers_proto: ObjRef,
    pub context_proto: ObjRef,
    pub event_proto: ObjRef,
    protos: HashMap<&'static str, ObjRef>,
    /// Prototype methods by prototype and key: the builtin and its function object (made once, with the
    /// realm, so that reading a method as a value, `Object.prototype.hasOwnProperty.call(o, k)`, gives
    /// the same object every time).
    methods: HashMap<ObjRef, HashMap<JsStr, (&'static BuiltinDef, ObjRef)>>,
    max_proto: u32,
    globals: HashMap<&'static str, Value>,
}

/// `(alias, builtin)`: `Number.parseInt === parseInt`, `Number.parseFloat === parseFloat` and
/// `Set.prototype.keys === Set.prototype.values` (ECMA-262 §21.1.2.12-13, §24.2.3.8).
const ALIASES: [(&str, &str); 3] = [
    ("Number.parseInt", "parseInt"),
    ("Number.parseFloat", "parseFloat"),
    ("Set.prototype.keys", "Set.prototype.values"),
];

impl Realm {
    pub fn create(heap: &mut Heap) -> Result<Realm, Abort> {
        let mut protos: HashMap<&'static str, ObjRef> = HashMap::new();
        for (name, parent) in CLASSES {
            let p = parent.map(|p| protos[p]);
            let o = heap.alloc(Obj::new(ObjKind::Ordinary, p))?;
            protos.insert(name, o);
        }
        // Error prototypes carry `name` and `message` as data properties, as in ECMA-262 §20.5.3.
        for (name, _) in CLASSES.iter().filter(|(n, _)| n.ends_with("Error")) {
            let o = heap.get_mut(protos[name])?;
            o.props
                .insert(JsStr::from("name"), Prop::hidden(Value::str(name)));
            o.props
                .insert(JsStr::from("message"), Prop::hidden(Value::str("")));
        }
        let max_proto = protos.values().map(|o| o.0).max().unwrap_or(0);
        let mut realm = Realm {
            object_proto: protos["Object"],
            function_proto: protos["Function"],
            array_proto: protos["Array"],
            string_proto: protos["String"],
            number_proto: protos["Number"],
            boolean_proto: protos["Boolean"],
            error_proto: protos["Error"],
            date_proto: protos["Date"],
            regexp_proto: protos["RegExp"],
            promise_proto: protos["Promise"],
            map_proto: protos["Map"],
            set_proto: protos["Set"],
            response_proto: protos["Response"],
            headers_proto: protos["Headers"],
            context_proto: protos["FunctionContext"],
            event_proto: protos["FunctionEvent"],
            protos,
            methods: HashMap::new(),
            max_proto,
            globals: HashMap::new(),
        };
        let defs = builtins::all();
        // Globals and constructors first, then their static members, then prototype methods.
        for d in defs.iter().filter(|d| !d.name.contains('.')) {
            let f = realm.native(heap, d)?;
            if let Some(&p) = realm.protos.get(d.name) {
                heap.get_mut(f)?.props.insert(
                    JsStr::from("prototype"),
                    Prop::Data {
                        value: Value::Obj(p),
                        enumerable: false,
                        writable: false,
                    },
                );
                heap.get_mut(p)?
                    .props
                    .insert(JsStr::from("constructor"), Prop::hidden(Value::Obj(f)));
            }
            realm.globals.insert(d.name, Value::Obj(f));
        }
        for d in defs.iter() {
            let Some((class, rest)) = d.name.split_once('.') else {
                continue;
            };
            if let Some(method) = rest.strip_prefix("prototype.") {
                let p = match realm.protos.get(class) {
                    Some(&p) => p,
                    None => panic!("builtin {} names an unknown class", d.name),
                };
                let f = realm.native(heap, d)?;
                realm
                    .methods
                    .entry(p)
                    .or_default()
                    .insert(JsStr::from(method), (d, f));
                continue;
            }
            let holder = match realm.globals.get(class) {
                Some(Value::Obj(o)) => *o,
                _ => {
                    let o = heap.alloc(Obj::new(ObjKind::Ordinary, Some(realm.object_proto)))?;
                    let class: &'static str = d.name.split_once('.').unwrap().0;
                    realm.globals.insert(class, Value::Obj(o));
                    o
                }
            };
            let f = realm.native(heap, d)?;
            heap.get_mut(holder)?
                .props
                .insert(JsStr::from(rest), Prop::hidden(Value::Obj(f)));
        }
        for (k, v) in builtins::global::constants() {
            realm.install_constant(heap, k, v)?;
        }
        // Builtins that JavaScript defines as the same function object under two names. One native
        // serves both, so a call site traced through either name passes its guard under the other.
        for (alias, target) in ALIASES {
            let (class, rest) = alias.split_once('.').unwrap();
            if let Some(method) = rest.strip_prefix("prototype.") {
                let target = target.rsplit_once('.').unwrap().1;
                let p = realm.protos[class];
                let d = realm.methods[&p][&JsStr::from(target)];
                realm
                    .methods
                    .get_mut(&p)
                    .unwrap()
                    .insert(JsStr::from(method), d);
            } else if let (Some(Value::Obj(holder)), Some(f)) = (
                realm.globals.get(class).cloned(),
                realm.globals.get(target).cloned(),
            ) {
                heap.get_mut(holder)?
                    .props
                    .insert(JsStr::from(rest), Prop::hidden(f));
            }
        }
        Ok(realm)
    }

    fn native(&self, heap: &mut Heap, d: &'static BuiltinDef) -> Result<ObjRef, Abort> {
        heap.alloc(Obj::new(ObjKind::Native(d), Some(self.function_proto)))
    }

    /// Installs a constant such as `Math.PI` ("Math.PI") or `NaN` ("NaN").
    fn install_constant(
        &mut self,
        heap: &mut Heap,
        path: &'static str,
        v: Value,
    ) -> Result<(), Abort> {
        match path.split_once('.') {
            None => {
                self.globals.insert(path, v);
            }
            Some((class, rest)) => {
                let holder = match self.globals.get(class) {
                    Some(Value::Obj(o)) => *o,
                    _ => {
                        let o = heap.alloc(Obj::new(ObjKind::Ordinary, Some(self.object_proto)))?;
                        self.globals.insert(class, Value::Obj(o));
                        o
                    }
                };
                heap.get_mut(holder)?.props.insert(
                    JsStr::from(rest),
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

    /// A global by name (`Math`, `JSON`, `parseInt`, ...), if the runtime models it.
    pub fn global(&self, name: &str) -> Option<Value> {
        self.globals.get(name).cloned()
    }

    /// Whether `o` is one of the realm's prototype objects (Object.prototype, Array.prototype, ...).
    pub fn is_builtin_proto(&self, o: ObjRef) -> bool {
        o.0 <= self.max_proto && self.protos.values().any(|&p| p == o)
    }

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
