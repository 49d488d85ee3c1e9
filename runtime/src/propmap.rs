//! An object's own properties: keys in insertion order (the order [[OwnPropertyKeys]] gives for string
//! keys that are not array indices), each with its property.
//!
//! Most objects have a handful of properties (an object literal, a record parsed from JSON, a class
//! instance), so they are a plain vector searched by comparing keys, which costs less than hashing the key;
//! an object that grows past `SMALL` properties (a dictionary) gets an index by key as well.

use crate::heap::{Prop, PropsHasher};
use crate::value::JsStr;
use std::collections::HashMap;

/// The most properties searched without an index.
const SMALL: usize = 16;

#[derive(Clone, Default, Debug)]
pub struct Props {
    entries: Vec<(JsStr, Prop)>,
    /// Each key's position in `entries`, once there are more than `SMALL`. Boxed so that every object
    /// without one (nearly all) carries a pointer rather than an empty table.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<JsStr, u32, PropsHasher>>>,
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
    /// The position of `key`, if the object has it.
    #[inline]
    pub fn position<K: Key + ?Sized>(&self, key: &K) -> Option<usize> {
        let key = key.key_units();
        match &self.index {
            Some(ix) => ix.get(key).map(|&i| i as usize),
            None => self.entries.iter().position(|(k, _)| same(k.units(), key)),
        }
    }
    #[inline]
    pub fn get<K: Key + ?Sized>(&self, key: &K) -> Option<&Prop> {
        self.position(key).map(|i| &self.entries[i].1)
    }
    #[inline]
    pub fn get_mut<K: Key + ?Sized>(&mut self, key: &K) -> Option<&mut Prop> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }
    /// The property of `key` with its position and stored key.
    #[inline]
    pub fn get_full<K: Key + ?Sized>(&self, key: &K) -> Option<(usize, &JsStr, &Prop)> {
        self.position(key).map(|i| {
            let (k, p) = &self.entries[i];
            (i, k, p)
        })
    }
    /// The property at position `i`, with its key.
    #[inline(always)]
    pub fn get_index(&self, i: usize) -> Option<(&JsStr, &Prop)> {
        self.entries.get(i).map(|(k, p)| (k, p))
    }
    #[inline]
    pub fn get_index_mut(&mut self, i: usize) -> Option<(&JsStr, &mut Prop)> {
        self.entries.get_mut(i).map(|(k, p)| (&*k, p))
    }
    #[inline]
    pub fn contains_key<K: Key + ?Sized>(&self, key: &K) -> bool {
        self.position(key).is_some()
    }
    /// Sets `key` to `prop`: in its place when the object has it (the old property is returned), else last.
    pub fn insert(&mut self, key: JsStr, prop: Prop) -> Option<Prop> {
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, prop));
        }
        let i = self.entries.len();
        match &mut self.index {
            Some(ix) => {
                ix.insert(key.clone(), i as u32);
            }
            None if i >= SMALL => {
                let mut ix: HashMap<JsStr, u32, PropsHasher> =
                    HashMap::with_capacity_and_hasher(2 * (i + 1), PropsHasher);
                for (j, (k, _)) in self.entries.iter().enumerate() {
                    ix.insert(k.clone(), j as u32);
                }
                ix.insert(key.clone(), i as u32);
                self.index = Some(Box::new(ix));
            }
            None => {}
        }
        self.entries.push((key, prop));
        None
    }
    /// Adds `key`, which the object does not have (an object literal's distinct static keys), last.
    #[inline]
    pub fn push_new(&mut self, key: JsStr, prop: Prop) {
        debug_assert!(!self.contains_key(&key));
        if self.index.is_some() || self.entries.len() >= SMALL {
            self.insert(key, prop);
        } else {
            self.entries.push((key, prop));
        }
    }
    /// Removes `key`, keeping the others in order.
    pub fn shift_remove<K: Key + ?Sized>(&mut self, key: &K) -> Option<Prop> {
        let i = self.position(key)?;
        let (_, p) = self.entries.remove(i);
        if let Some(ix) = &mut self.index {
            if self.entries.len() <= SMALL {
                self.index = None;
            } else {
                ix.clear();
                for (j, (k, _)) in self.entries.iter().enumerate() {
                    ix.insert(k.clone(), j as u32);
                }
            }
        }
        Some(p)
    }
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve(n);
    }
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &JsStr> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Prop> + ExactSizeIterator {
        self.entries.iter().map(|(_, p)| p)
    }
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Prop> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, p)| p)
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&JsStr, &Prop)> + ExactSizeIterator {
        self.entries.iter().map(|(k, p)| (k, p))
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
}
