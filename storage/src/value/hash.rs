//! The hash: a small one packed into one buffer, as Redis packs one into a listpack; a large one
//! as an insertion-ordered hash map.
//!
//! Both keep fields in the same order and remove them the same way (the last field takes the
//! removed one's place), so a field's index means the same whichever the hash is: HRANDFIELD picks
//! by index, HSCAN walks indices, and a dotted hash keeps its dots at its fields' indices (see
//! `dotted_hash.rs`).
//!
//! Reads see fields and values as byte slices, not `Bytes`: a small hash holds no handles, only
//! the bytes, which is what makes it small.

use super::{ElementHasher, SMALL_LEN, SMALL_MEMBER};
use bytes::Bytes;
use indexmap::IndexMap;
use std::ops::Range;

/// The map of a large hash.
type Map = IndexMap<Bytes, Bytes, ElementHasher>;

/// A hash of field to value, in insertion order (as amended by removals).
///
/// A small hash (at most [`SMALL_LEN`] fields, fields and values of at most [`SMALL_MEMBER`]
/// bytes) is one buffer of its entries: 160 bytes for ten fields of 7 bytes with values of 7, where
/// the map took a 32-byte handle for each field and value, a 72-byte entry per field and a 160-byte
/// index table besides, and kept the request's block those handles pointed into.
#[derive(Clone, Debug)]
pub struct HashValue {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Packed),
    Large(Box<Map>),
}

/// A small hash's entries back to back, each its field's length (one byte), the field, its
/// value's length and the value. Finding a field reads the buffer from the start, as Redis reads a
/// listpack: a few cache lines, in order, with no pointer to follow.
#[derive(Clone, Debug, Default)]
struct Packed {
    bytes: Vec<u8>,
    len: u32,
}

/// Where one entry of a packed buffer is.
struct Spot {
    field: Range<usize>,
    value: Range<usize>,
}

impl Spot {
    /// The whole entry, lengths included.
    fn entry(&self) -> Range<usize> {
        self.field.start - 1..self.value.end
    }
}

/// The entry that starts at `at` in `bytes`.
fn spot(bytes: &[u8], at: usize) -> Spot {
    let field = at + 1..at + 1 + usize::from(bytes[at]);
    let value = field.end + 1..field.end + 1 + usize::from(bytes[field.end]);
    Spot { field, value }
}

/// True if a field or value of `len` bytes may sit in a packed buffer.
fn fits(len: usize) -> bool {
    len <= SMALL_MEMBER
}

impl Packed {
    /// The entries' places, in order.
    fn spots(&self) -> impl Iterator<Item = Spot> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.bytes.len()).then(|| {
                let spot = spot(&self.bytes, at);
                at = spot.value.end;
                spot
            })
        })
    }

    /// The index and place of `field`.
    fn find(&self, field: &[u8]) -> Option<(usize, Spot)> {
        self.spots().enumerate().find(|(_, s)| &self.bytes[s.field.clone()] == field)
    }

    fn push(&mut self, field: &[u8], value: &[u8]) {
        self.bytes.push(field.len() as u8);
        self.bytes.extend_from_slice(field);
        self.bytes.push(value.len() as u8);
        self.bytes.extend_from_slice(value);
        self.len += 1;
    }

    /// Replaces the value of the entry at `spot` (in place when it is as long as the old one, as
    /// an HINCRBY's often is).
    fn set_value(&mut self, spot: Spot, value: &[u8]) {
        if spot.value.len() == value.len() {
            self.bytes[spot.value].copy_from_slice(value);
        } else {
            self.bytes[spot.value.start - 1] = value.len() as u8;
            self.bytes.splice(spot.value, value.iter().copied());
        }
    }

    /// Removes the entry at `spot`, the last one taking its place.
    fn swap_remove(&mut self, spot: Spot) {
        let removed = spot.entry();
        let last = self.spots().last().expect("a spot of this buffer").entry();
        if last.start == removed.start {
            self.bytes.truncate(removed.start);
        } else {
            let moved = self.bytes[last.clone()].to_vec();
            self.bytes.truncate(last.start);
            self.bytes.splice(removed, moved);
        }
        self.len -= 1;
    }

    fn slices<'a>(&'a self, spot: &Spot) -> (&'a [u8], &'a [u8]) {
        (&self.bytes[spot.field.clone()], &self.bytes[spot.value.clone()])
    }
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue { repr: Repr::Small(Packed::default()) }
    }
}

impl HashValue {
    /// An empty hash with room for `n` fields.
    pub fn with_capacity(n: usize) -> HashValue {
        let repr = if n <= SMALL_LEN {
            Repr::Small(Packed::default())
        } else {
            Repr::Large(Box::new(Map::with_capacity_and_hasher(n, ElementHasher)))
        };
        HashValue { repr }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(packed) => packed.len as usize,
            Repr::Large(map) => map.len(),
        }
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the hash is packed (OBJECT ENCODING says `listpack`).
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Small(_))
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Small(packed) => packed.find(field).map(|(_, spot)| packed.slices(&spot).1),
            Repr::Large(map) => map.get(field).map(|v| &v[..]),
        }
    }

    /// True if `field` is one.
    pub fn contains_key(&self, field: &[u8]) -> bool {
        self.get_index_of(field).is_some()
    }

    /// The index of `field`, if it is one.
    pub fn get_index_of(&self, field: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Small(packed) => packed.find(field).map(|(index, _)| index),
            Repr::Large(map) => map.get_index_of(field),
        }
    }

    /// The field and value at `index`.
    pub fn get_index(&self, index: usize) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Small(packed) => packed.spots().nth(index).map(|spot| packed.slices(&spot)),
            Repr::Large(map) => map.get_index(index).map(|(f, v)| (&f[..], &v[..])),
        }
    }

    /// Writes `value` to `field` (a new field goes at the end); true if the field is new.
    pub fn insert(&mut self, field: Bytes, value: Bytes) -> bool {
        if let Repr::Small(packed) = &mut self.repr {
            let found = packed.find(&field);
            if fits(value.len()) {
                match found {
                    Some((_, spot)) => {
                        packed.set_value(spot, &value);
                        return false;
                    }
                    None if packed.len < SMALL_LEN as u32 && fits(field.len()) => {
                        packed.push(&field, &value);
                        return true;
                    }
                    None => {}
                }
            }
            self.grow();
        }
        let Repr::Large(map) = &mut self.repr else { unreachable!("grown above") };
        map.insert(field, value).is_none()
    }

    /// Replaces the value of the field at `index` (which must be one).
    pub fn set_index(&mut self, index: usize, value: Bytes) {
        if let Repr::Small(packed) = &mut self.repr {
            if fits(value.len()) {
                let spot = packed.spots().nth(index).expect("an index of this hash");
                packed.set_value(spot, &value);
                return;
            }
            self.grow();
        }
        let Repr::Large(map) = &mut self.repr else { unreachable!("grown above") };
        *map.get_index_mut(index).expect("an index of this hash").1 = value;
    }

    /// Turns a small hash into a large one, its fields in the same order.
    #[cold]
    fn grow(&mut self) {
        if let Repr::Small(packed) = &self.repr {
            let mut map = Map::with_capacity_and_hasher(packed.len as usize + 1, ElementHasher);
            for spot in packed.spots() {
                let (field, value) = packed.slices(&spot);
                map.insert(Bytes::copy_from_slice(field), Bytes::copy_from_slice(value));
            }
            self.repr = Repr::Large(Box::new(map));
        }
    }

    /// Removes `field` (the last field takes its place); its index if it was one.
    pub fn swap_remove_full(&mut self, field: &[u8]) -> Option<usize> {
        match &mut self.repr {
            Repr::Small(packed) => {
                let (index, spot) = packed.find(field)?;
                packed.swap_remove(spot);
                Some(index)
            }
            Repr::Large(map) => map.swap_remove_full(field).map(|(index, ..)| index),
        }
    }

    /// Removes `field` (the last field takes its place); true if it was one.
    pub fn swap_remove(&mut self, field: &[u8]) -> bool {
        self.swap_remove_full(field).is_some()
    }

    /// The fields and values in order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Small(packed) => Iter(Iters::Small { bytes: &packed.bytes, left: packed.len as usize }),
            Repr::Large(map) => Iter(Iters::Large(map.iter())),
        }
    }

    /// The fields in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.iter().map(|(field, _)| field)
    }

    /// The values in the fields' order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.iter().map(|(_, value)| value)
    }

    /// Makes room for `more` fields: a small hash that will not stay small grows now, once.
    pub fn reserve(&mut self, more: usize) {
        match &mut self.repr {
            Repr::Small(packed) if packed.len as usize + more > SMALL_LEN => {
                self.grow();
                self.reserve(more);
            }
            Repr::Small(_) => {}
            Repr::Large(map) => map.reserve(more),
        }
    }

    /// Gives back the room beyond its fields.
    pub fn shrink_to_fit(&mut self) {
        match &mut self.repr {
            Repr::Small(packed) => packed.bytes.shrink_to_fit(),
            Repr::Large(map) => map.shrink_to_fit(),
        }
    }

    /// The bytes this hash's allocations take past its fixed part: a small hash's buffer, or a
    /// large hash's box, entries (a field, a value and a hash each), index table and the fields'
    /// and values' bytes.
    pub(crate) fn tables_size(&self) -> usize {
        use crate::alloc::size_class;
        match &self.repr {
            Repr::Small(packed) => size_class(packed.bytes.capacity()),
            Repr::Large(map) => {
                size_class(std::mem::size_of::<Map>())
                    + super::index_map_tables::<(Bytes, Bytes)>(map.capacity())
                    + map.iter().map(|(f, v)| f.len() + v.len()).sum::<usize>()
            }
        }
    }
}

/// The fields and values of a hash, in order.
pub struct Iter<'a>(Iters<'a>);

enum Iters<'a> {
    Small { bytes: &'a [u8], left: usize },
    Large(indexmap::map::Iter<'a, Bytes, Bytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Iters::Small { bytes, left } => {
                if bytes.is_empty() {
                    return None;
                }
                let spot = spot(bytes, 0);
                let entry = (&bytes[spot.field], &bytes[spot.value.clone()]);
                *bytes = &bytes[spot.value.end..];
                *left -= 1;
                Some(entry)
            }
            Iters::Large(it) => it.next().map(|(f, v)| (&f[..], &v[..])),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Iters::Small { left, .. } => (*left, Some(*left)),
            Iters::Large(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a HashValue {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Extend<(Bytes, Bytes)> for HashValue {
    fn extend<I: IntoIterator<Item = (Bytes, Bytes)>>(&mut self, entries: I) {
        for (field, value) in entries {
            self.insert(field, value);
        }
    }
}

impl FromIterator<(Bytes, Bytes)> for HashValue {
    fn from_iter<I: IntoIterator<Item = (Bytes, Bytes)>>(entries: I) -> HashValue {
        let mut hash = HashValue::default();
        hash.extend(entries);
        hash
    }
}

/// Equal when they have the same fields with the same values, in whatever order (as `IndexMap`'s
/// equality).
impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Eq for HashValue {}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: impl AsRef<[u8]>) -> Bytes {
        Bytes::copy_from_slice(s.as_ref())
    }

    /// Random writes and removals, by field, across the switch from small to large (by count, by a
    /// long field and by a long value), leave the fields, values and indices exactly as an
    /// `IndexMap` given the same operations has them.
    #[test]
    fn small_and_large_hashes_keep_the_order_and_indices_an_index_map_keeps() {
        let mut next = crate::value::testing::below(0x2545_f491_4f6c_dd1d_u64);
        for round in 0..60 {
            let mut hash = HashValue::default();
            let mut model: IndexMap<Bytes, Bytes> = IndexMap::new();
            let fields = if round % 2 == 0 { 50 } else { 300 };
            for step in 0..600 {
                let long = round % 3 == 2 && step == 300;
                let field = match round % 6 {
                    5 if long => b(vec![b'f'; SMALL_MEMBER + 1]),
                    _ => b(format!("f{}", next(fields))),
                };
                let value = match round % 6 {
                    2 if long => b(vec![b'v'; SMALL_MEMBER + 1]),
                    _ => b(format!("{step:03}{}", "v".repeat(next(SMALL_MEMBER as u64 - 2) as usize))),
                };
                match next(10) {
                    0..=4 => {
                        assert_eq!(hash.insert(field.clone(), value.clone()), model.insert(field, value).is_none())
                    }
                    5 | 6 => {
                        let index = model.swap_remove_full(&field).map(|(index, ..)| index);
                        assert_eq!(hash.swap_remove_full(&field), index);
                    }
                    7 if !model.is_empty() => {
                        let index = next(model.len() as u64) as usize;
                        hash.set_index(index, value.clone());
                        model[index] = value;
                    }
                    _ => {
                        assert_eq!(hash.get_index_of(&field), model.get_index_of(&field));
                        assert_eq!(hash.get(&field), model.get(&field).map(|v| &v[..]));
                    }
                }
            }
            let pairs = |h: &HashValue| h.iter().map(|(f, v)| (b(f), b(v))).collect::<Vec<_>>();
            assert_eq!(pairs(&hash), model.iter().map(|(f, v)| (f.clone(), v.clone())).collect::<Vec<_>>());
            assert_eq!(hash.len(), model.len());
            assert_eq!(hash.iter().len(), model.len());
            for index in [0, model.len() / 2, model.len().saturating_sub(1), model.len()] {
                let expected = model.get_index(index).map(|(f, v)| (&f[..], &v[..]));
                assert_eq!(hash.get_index(index), expected, "round {round}");
            }
        }
    }

    #[test]
    fn a_hash_grows_large_past_its_limits_and_equals_ignore_order() {
        let mut hash: HashValue = (0..SMALL_LEN).map(|f| (b(format!("field:{f}")), b(format!("{f}")))).collect();
        assert!(hash.is_packed());
        let reversed: HashValue = (0..SMALL_LEN).rev().map(|f| (b(format!("field:{f}")), b(format!("{f}")))).collect();
        assert_eq!(hash, reversed);
        assert!(!hash.insert(b("field:3"), b("three")));
        assert_ne!(hash, reversed);
        assert_eq!(hash.get(b"field:3"), Some(&b"three"[..]));
        hash.insert(b("one more"), b("1"));
        assert!(!hash.is_packed());
        assert_eq!(hash.get_index(SMALL_LEN), Some((&b"one more"[..], &b"1"[..])));
        assert_eq!(hash.get_index_of(b"field:0"), Some(0));
        assert_eq!(hash.get(b"field:3"), Some(&b"three"[..]));
    }

    #[test]
    fn ten_short_fields_take_one_buffer_of_their_bytes() {
        let mut hash: HashValue = (0..10).map(|f| (b(format!("field:{f}")), b(format!("value:{f}")))).collect();
        hash.shrink_to_fit();
        assert_eq!(hash.tables_size(), 160);
        assert_eq!(hash.keys().collect::<Vec<_>>()[9], b"field:9");
        assert_eq!(hash.values().nth(3), Some(&b"value:3"[..]));
    }
}
