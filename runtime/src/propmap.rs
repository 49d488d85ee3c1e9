//! An object's own properties: keys in insertion order (the order [[OwnPropertyKeys]] gives for string
//! keys that are not array indices), each with its property.
//!
//! Most objects have a handful of properties (an object literal, a record parsed from JSON, a class
//! instance), so they are a plain vector searched by comparing keys, which costs less than hashing the key;
//! an object that grows past `SMALL` properties (a dictionary) gets an index by key as well.
//!
//! The keys are kept apart from the properties, in a list that objects can share (a *shape*): every object
//! an object literal makes shares that literal's list, so making one copies no key and freeing one drops
//! no key. A list is copied the first time an object that shares it loses a key, or gains one past `SMALL`
//! (copy on write), so sharing never shows. Below that, an object that gains a key takes the shape its old
//! one grows into (a *transition*, as V8's hidden classes do), found in a small table: objects that gain
//! the same keys in the same order (`o[k] = v` over a header's columns, a constructor's `this.x = ...`, JSON
//! records) share their shapes as object literals' objects do, and none copies a key list.

use crate::heap::{Prop, PropsHasher};
use crate::value::JsStr;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The most properties searched without an index.
const SMALL: usize = 16;

/// An object's keys in order, shared by objects of the same shape, with their index once there are more
/// than `SMALL` (it depends on the keys alone, so it is shared with them).
#[derive(Clone, Default, Debug)]
pub struct Keys {
    list: Vec<JsStr>,
    index: Option<HashMap<JsStr, u32, PropsHasher>>,
    /// Whether a key is longer than `TRANSITION_KEY_MAX` units (then no transition starts from it).
    long: bool,
}

impl Keys {
    /// The shape of an object whose keys are `list`, distinct (an object literal's).
    pub fn new(list: Vec<JsStr>) -> Rc<Keys> {
        let long = list.iter().any(|k| k.len() > TRANSITION_KEY_MAX);
        let mut keys = Keys {
            list,
            index: None,
            long,
        };
        keys.reindex();
        Rc::new(keys)
    }
    fn reindex(&mut self) {
        self.index = if self.list.len() > SMALL {
            let mut ix: HashMap<JsStr, u32, PropsHasher> =
                HashMap::with_capacity_and_hasher(2 * self.list.len(), PropsHasher);
            for (j, k) in self.list.iter().enumerate() {
                ix.insert(k.clone(), j as u32);
            }
            Some(ix)
        } else {
            None
        };
    }
}

/// A shape `from` (None: no key) grows into `to` when it gains `key`.
struct Transition {
    from: Option<Rc<Keys>>,
    key: JsStr,
    to: Rc<Keys>,
}

/// Entries of the transition table: direct-mapped by the shape's address and the key's units, so it never
/// grows; an entry taken by another transition is simply made again when it is needed.
const TRANSITION_SLOTS: usize = 512;

/// The longest key a transition is made for: the table outlives requests, so what it holds stays small
/// (at most `TRANSITION_SLOTS` shapes of `SMALL` keys of this length) whatever keys the requests make.
const TRANSITION_KEY_MAX: usize = 32;

thread_local! {
    /// Transitions met lately (see the module's comment). An entry holds its shapes and key, so their
    /// addresses stay theirs while it is there; it holds at most `SMALL` keys a shape, `TRANSITION_SLOTS`
    /// entries in all, whatever the requests do.
    static TRANSITIONS: RefCell<Vec<Option<Transition>>> =
        RefCell::new((0..TRANSITION_SLOTS).map(|_| None).collect());
}

/// The shape `from` grows into when it gains the key of units `key` (which it does not have): from the
/// table when it is there, else made (`from`'s keys then `make()`, a string of `key`) and put there. The
/// slot comes from `from`'s address and the key's length and first units, so that keys made anew for
/// each write (`o[k] = v` copies its key) find their entry.
fn transition(from: &Option<Rc<Keys>>, key: &[u16], make: impl FnOnce() -> JsStr) -> Rc<Keys> {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let from_addr = from.as_ref().map_or(0, |k| Rc::as_ptr(k) as usize);
    let mut h = (from_addr as u64 >> 3) ^ (key.len() as u64).wrapping_mul(PRIME);
    for &u in key.iter().take(8) {
        h = (h ^ u as u64).wrapping_mul(PRIME);
    }
    let slot = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TRANSITION_SLOTS.trailing_zeros()))
        as usize;
    TRANSITIONS.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(tr) = &t[slot] {
            let same_from = match (&tr.from, from) {
                (None, None) => true,
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                _ => false,
            };
            if same_from && same(tr.key.units(), key) {
                return tr.to.clone();
            }
        }
        let key = make();
        let old = list_of(from);
        let mut list = Vec::with_capacity(old.len() + 1);
        list.extend(old.iter().cloned());
        list.push(key.clone());
        let to = Keys::new(list);
        t[slot] = Some(Transition {
            from: from.clone(),
            key,
            to: to.clone(),
        });
        to
    })
}

/// The keys of an object with `keys` (none while it has no key).
#[inline(always)]
fn list_of(keys: &Option<Rc<Keys>>) -> &[JsStr] {
    match keys {
        Some(k) => &k.list,
        None => &[],
    }
}

#[derive(Clone, Default, Debug)]
pub struct Props {
    /// None while the object has no key (most objects get their first one right away; an empty one
    /// allocates nothing).
    keys: Option<Rc<Keys>>,
    /// The properties, in the keys' order.
    vals: Vec<Prop>,
}

/// What a property can be looked up by: its UTF-16 code units.
pub trait Key {
    fn key_units(&self) -> &[u16];
}
impl Key for [u16] {
    #[inline(always)]
    fn key_units(&self) -> &[u16] {
        self
    }
}
impl Key for JsStr {
    #[inline(always)]
    fn key_units(&self) -> &[u16] {
        self.units()
    }
}
impl Key for Vec<u16> {
    #[inline(always)]
    fn key_units(&self) -> &[u16] {
        self
    }
}
impl<const N: usize> Key for [u16; N] {
    #[inline(always)]
    fn key_units(&self) -> &[u16] {
        self
    }
}

/// Key equality.
#[inline(always)]
fn same(a: &[u16], b: &[u16]) -> bool {
    crate::value::units_eq(a, b)
}

impl Props {
    /// An object's properties with the shape `keys` (shared) and `vals` in its order.
    #[inline]
    pub fn with_shape(keys: Rc<Keys>, vals: Vec<Prop>) -> Props {
        debug_assert_eq!(keys.list.len(), vals.len());
        Props {
            keys: Some(keys),
            vals,
        }
    }
    #[inline(always)]
    fn key_list(&self) -> &[JsStr] {
        list_of(&self.keys)
    }
    /// The keys to change: this object's own copy (made now if it shares them).
    fn keys_mut(&mut self) -> &mut Keys {
        Rc::make_mut(self.keys.get_or_insert_with(Default::default))
    }
    /// The position of `key`, if the object has it.
    #[inline]
    pub fn position<K: Key + ?Sized>(&self, key: &K) -> Option<usize> {
        let key = key.key_units();
        let keys = self.keys.as_deref()?;
        match &keys.index {
            Some(ix) => ix.get(key).map(|&i| i as usize),
            None => keys.list.iter().position(|k| same(k.units(), key)),
        }
    }
    #[inline]
    pub fn get<K: Key + ?Sized>(&self, key: &K) -> Option<&Prop> {
        self.position(key).map(|i| &self.vals[i])
    }
    #[inline]
    pub fn get_mut<K: Key + ?Sized>(&mut self, key: &K) -> Option<&mut Prop> {
        self.position(key).map(|i| &mut self.vals[i])
    }
    /// The property of `key` with its position and stored key.
    #[inline]
    pub fn get_full<K: Key + ?Sized>(&self, key: &K) -> Option<(usize, &JsStr, &Prop)> {
        self.position(key)
            .map(|i| (i, &self.key_list()[i], &self.vals[i]))
    }
    /// The shape these properties have when it is shared (an object literal's, which the literal's site
    /// keeps too): a named read's cache may keep it, to know the shape again by address. A list that only
    /// this object holds is not given out, so that caching never makes the object copy its keys when it
    /// gains one (`keys_mut`).
    #[inline]
    pub fn shared_shape(&self) -> Option<&Rc<Keys>> {
        self.keys.as_ref().filter(|k| Rc::strong_count(k) > 1)
    }
    /// The property at position `i` when these properties have the shape `shape`: the keys at every
    /// position are then `shape`'s, which cannot change while the caller holds it (copy on write).
    #[inline(always)]
    pub fn get_in_shape(&self, shape: &Option<Rc<Keys>>, i: usize) -> Option<&Prop> {
        match (&self.keys, shape) {
            (Some(k), Some(s)) if Rc::ptr_eq(k, s) => self.vals.get(i),
            _ => None,
        }
    }
    /// The address of these properties' key list (0 for none): two objects alive at once with the same
    /// non-zero address have the same keys in the same order.
    #[inline]
    pub fn shape_addr(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| Rc::as_ptr(k) as usize)
    }
    /// The property at position `i`.
    #[inline]
    pub fn at(&self, i: usize) -> Option<&Prop> {
        self.vals.get(i)
    }
    /// The property at position `i`, with its key.
    #[inline(always)]
    pub fn get_index(&self, i: usize) -> Option<(&JsStr, &Prop)> {
        match (self.key_list().get(i), self.vals.get(i)) {
            (Some(k), Some(p)) => Some((k, p)),
            _ => None,
        }
    }
    #[inline]
    pub fn get_index_mut(&mut self, i: usize) -> Option<(&JsStr, &mut Prop)> {
        match (list_of(&self.keys).get(i), self.vals.get_mut(i)) {
            (Some(k), Some(p)) => Some((k, p)),
            _ => None,
        }
    }
    #[inline]
    pub fn contains_key<K: Key + ?Sized>(&self, key: &K) -> bool {
        self.position(key).is_some()
    }
    /// Sets `key` to `prop`: in its place when the object has it (the old property is returned), else last.
    pub fn insert(&mut self, key: JsStr, prop: Prop) -> Option<Prop> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.vals[i], prop));
        }
        self.push_unchecked(key, prop);
        None
    }
    /// `insert` of a key given by its units: a string of them is made only when no shape has the key yet.
    pub fn insert_units(&mut self, key: &[u16], prop: Prop) -> Option<Prop> {
        if let Some(i) = self.position(key) {
            return Some(std::mem::replace(&mut self.vals[i], prop));
        }
        self.push_key(key, || JsStr::from_slice(key), prop);
        None
    }
    /// Whether gaining `key` takes a transition (see the module's comment).
    #[inline]
    fn transitions(&self, key: &[u16]) -> bool {
        self.vals.len() < SMALL
            && key.len() <= TRANSITION_KEY_MAX
            && !self.keys.as_ref().is_some_and(|k| k.long)
    }
    fn push_unchecked(&mut self, key: JsStr, prop: Prop) {
        self.push_key(key.units(), || key.clone(), prop);
    }
    /// Adds the key of units `key`, which the object does not have, last: through a transition below
    /// `SMALL` keys (the key's string made by `make` only when no shape has it yet), else into the object's
    /// own list.
    fn push_key(&mut self, key: &[u16], make: impl FnOnce() -> JsStr, prop: Prop) {
        if self.transitions(key) {
            self.keys = Some(transition(&self.keys, key, make));
            self.vals.push(prop);
            return;
        }
        let key = make();
        let keys = self.keys_mut();
        keys.long |= key.len() > TRANSITION_KEY_MAX;
        let i = keys.list.len();
        match &mut keys.index {
            Some(ix) => {
                ix.insert(key.clone(), i as u32);
                keys.list.push(key);
            }
            None => {
                keys.list.push(key);
                if i >= SMALL {
                    keys.reindex();
                }
            }
        }
        self.vals.push(prop);
    }
    /// Adds `key`, which the object does not have (an object literal's distinct static keys), last.
    #[inline]
    pub fn push_new(&mut self, key: JsStr, prop: Prop) {
        debug_assert!(!self.contains_key(&key));
        self.push_unchecked(key, prop);
    }
    /// `push_new` of a key given by its units (a write that found the object without it).
    #[inline]
    pub fn push_new_units(&mut self, key: &[u16], prop: Prop) {
        debug_assert!(!self.contains_key(key));
        self.push_key(key, || JsStr::from_slice(key), prop);
    }
    /// Removes `key`, keeping the others in order.
    pub fn shift_remove<K: Key + ?Sized>(&mut self, key: &K) -> Option<Prop> {
        let i = self.position(key)?;
        let keys = self.keys_mut();
        keys.list.remove(i);
        if keys.index.is_some() {
            keys.reindex();
        }
        Some(self.vals.remove(i))
    }
    /// Room for `n` more properties (their keys come through transitions below `SMALL`).
    pub fn reserve(&mut self, n: usize) {
        self.vals.reserve(n);
    }
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.vals.len()
    }
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.vals.is_empty()
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &JsStr> + ExactSizeIterator {
        self.key_list().iter()
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Prop> + ExactSizeIterator {
        self.vals.iter()
    }
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Prop> + ExactSizeIterator {
        self.vals.iter_mut()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&JsStr, &Prop)> + ExactSizeIterator {
        self.key_list().iter().zip(self.vals.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn n(i: usize) -> Prop {
        Prop::data(Value::Num(i as f64))
    }
    fn num(p: Option<&Prop>) -> Option<f64> {
        match p {
            Some(Prop::Data {
                value: Value::Num(x),
                ..
            }) => Some(*x),
            _ => None,
        }
    }

    /// The same operations on a small map, one that grows an index, and one that loses it again, checked
    /// against a plain list of (key, value) in insertion order.
    #[test]
    fn keeps_insertion_order_and_finds_every_key_with_or_without_an_index() {
        for total in [0usize, 1, SMALL, SMALL + 1, 40] {
            let mut p = Props::default();
            let mut model: Vec<(String, usize)> = Vec::new();
            for i in 0..total {
                let k = format!("k{}", (i * 7) % (total + 3));
                let old = p.insert(JsStr::from(k.as_str()), n(i));
                match model.iter_mut().find(|(m, _)| *m == k) {
                    Some(e) => {
                        assert!(old.is_some());
                        e.1 = i;
                    }
                    None => {
                        assert!(old.is_none());
                        model.push((k, i));
                    }
                }
            }
            // Remove every third key, then look everything up.
            let removed: Vec<String> = model.iter().step_by(3).map(|(k, _)| k.clone()).collect();
            for k in &removed {
                let units: Vec<u16> = k.encode_utf16().collect();
                assert!(p.shift_remove(&units[..]).is_some());
                model.retain(|(m, _)| m != k);
            }
            assert_eq!(p.len(), model.len());
            let keys: Vec<String> = p.keys().map(|k| k.to_rust_string()).collect();
            let want: Vec<String> = model.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(keys, want);
            for (i, (k, v)) in model.iter().enumerate() {
                let units: Vec<u16> = k.encode_utf16().collect();
                assert_eq!(num(p.get(&units[..])), Some(*v as f64));
                assert_eq!(p.get_full(&units[..]).map(|f| f.0), Some(i));
                assert_eq!(num(p.get_index(i).map(|e| e.1)), Some(*v as f64));
            }
            for k in &removed {
                let units: Vec<u16> = k.encode_utf16().collect();
                assert!(!p.contains_key(&units[..]));
            }
            assert!(!p.contains_key(&[][..]));
        }
    }

    /// Objects that share a shape (an object literal's) stay apart: one that gains, changes or loses a
    /// key gets its own copy of the keys, and the others keep theirs, past `SMALL` keys as below it.
    #[test]
    fn objects_that_share_a_shape_change_apart() {
        for total in [3usize, SMALL + 2] {
            let keys: Vec<JsStr> = (0..total)
                .map(|i| JsStr::from(format!("k{i}").as_str()))
                .collect();
            let shape = Keys::new(keys.clone());
            let vals = |base: usize| (0..total).map(|i| n(base + i)).collect::<Vec<_>>();
            let mut a = Props::with_shape(shape.clone(), vals(0));
            let mut b = Props::with_shape(shape.clone(), vals(100));
            let c = Props::with_shape(shape.clone(), vals(200));
            assert!(a.insert(JsStr::from("extra"), n(7)).is_none());
            assert!(b.shift_remove(&keys[1].units().to_vec()).is_some());
            assert_eq!(
                a.insert(keys[0].clone(), n(9)).map(|p| num(Some(&p))),
                Some(Some(0.0))
            );
            let names = |p: &Props| p.keys().map(|k| k.to_rust_string()).collect::<Vec<_>>();
            let mut want_a: Vec<String> = keys.iter().map(|k| k.to_rust_string()).collect();
            let want_c = want_a.clone();
            want_a.push("extra".into());
            let mut want_b = want_c.clone();
            want_b.remove(1);
            assert_eq!(names(&a), want_a);
            assert_eq!(names(&b), want_b);
            assert_eq!(names(&c), want_c);
            assert_eq!(num(a.get(&keys[0].units().to_vec())), Some(9.0));
            assert_eq!(num(a.get(&[101u16, 120, 116, 114, 97][..])), Some(7.0));
            assert!(!b.contains_key(&keys[1].units().to_vec()));
            assert_eq!(num(b.get(&keys[2].units().to_vec())), Some(102.0));
            assert_eq!(
                num(c.get(&keys[total - 1].units().to_vec())),
                Some((200 + total - 1) as f64)
            );
            assert!(!c.contains_key(&[101u16, 120, 116, 114, 97][..]));
            assert_eq!(shape.list.len(), total);
        }
    }

    fn key(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn objects_that_gain_the_same_keys_in_the_same_order_share_their_shape() {
        let (mut a, mut b, mut c) = (Props::default(), Props::default(), Props::default());
        for (i, k) in ["id", "city", "temp"].iter().enumerate() {
            a.insert_units(&key(k), Prop::data(Value::Num(i as f64)));
            // The same keys from strings of their own.
            b.insert(JsStr::from(*k), Prop::data(Value::Num(10.0 + i as f64)));
        }
        for k in ["city", "id", "temp"] {
            c.insert_units(&key(k), Prop::data(Value::Num(0.0)));
        }
        assert_eq!(a.shape_addr(), b.shape_addr());
        assert_ne!(a.shape_addr(), c.shape_addr());
        let names = |p: &Props| p.keys().map(|k| k.to_rust_string()).collect::<Vec<_>>();
        assert_eq!(names(&a), ["id", "city", "temp"]);
        assert_eq!(names(&c), ["city", "id", "temp"]);
        assert!(
            matches!(b.get(&key("city")[..]), Some(Prop::Data { value: Value::Num(n), .. }) if *n == 11.0)
        );
        // Losing a key copies the shape: the other object keeps its keys.
        a.shift_remove(&key("city")[..]);
        assert_eq!(names(&a), ["id", "temp"]);
        assert_eq!(names(&b), ["id", "city", "temp"]);
    }

    #[test]
    fn keys_that_meet_in_the_transition_table_keep_their_own_shapes() {
        // Far more one-key objects than the table has entries, every key of the same length.
        let objs: Vec<(String, Props)> = (0..4 * TRANSITION_SLOTS)
            .map(|i| {
                let k = format!("s{i:05}");
                let mut p = Props::default();
                p.insert_units(&key(&k), Prop::data(Value::Num(i as f64)));
                (k, p)
            })
            .collect();
        for (k, p) in &objs {
            let keys: Vec<String> = p.keys().map(|s| s.to_rust_string()).collect();
            assert_eq!(keys, std::slice::from_ref(k));
        }
        // And past `SMALL` keys an object's list is its own again, in order.
        let mut big = Props::default();
        for i in 0..3 * SMALL {
            big.insert_units(&key(&format!("k{i}")), Prop::data(Value::Num(i as f64)));
        }
        assert_eq!(big.len(), 3 * SMALL);
        assert_eq!(big.position(&key("k40")[..]), Some(40));
        assert_eq!(
            big.keys().last().map(|k| k.to_rust_string()),
            Some(format!("k{}", 3 * SMALL - 1))
        );
    }
}
