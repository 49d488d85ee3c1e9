//! An object's own properties: keys in insertion order (the order [[OwnPropertyKeys]] gives for string
//! keys that are not array indices), each with its property.
//!
//! Most objects have a handful of properties (an object literal, a record parsed from JSON, a class
//! instance), so they are a plain vector searched by comparing keys, which costs less than hashing the key;
//! an object that grows past `SMALL` properties (a dictionary) gets an index by key as well.
//!
//! The keys are kept apart from the properties, in a list that objects can share (a *shape*): every object
//! an object literal makes shares that literal's list, so making one copies no key and freeing one drops
//! no key. A list is copied the first time an object that shares it gains or loses a key (copy on write),
//! so sharing never shows.

use crate::heap::{Prop, PropsHasher};
use crate::value::JsStr;
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
}

impl Keys {
    /// The shape of an object whose keys are `list`, distinct (an object literal's).
    pub fn new(list: Vec<JsStr>) -> Rc<Keys> {
        let mut keys = Keys { list, index: None };
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
    fn push_unchecked(&mut self, key: JsStr, prop: Prop) {
        let keys = self.keys_mut();
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
    pub fn reserve(&mut self, n: usize) {
        self.vals.reserve(n);
        if self.keys.is_none() && n > 0 {
            self.keys = Some(Rc::new(Keys {
                list: Vec::with_capacity(n),
                index: None,
            }));
        }
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
}
