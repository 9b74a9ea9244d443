//! The set: a small one as one vector of its members, a large one as an insertion-ordered hash
//! set.
//!
//! Both keep members in the same order and remove them the same way (the last member takes the
//! removed one's place), so a member's index means the same whichever the set is: SPOP and
//! SRANDMEMBER pick by index, SSCAN walks indices, and a dotted set keeps its dots at its members'
//! indices (see `dotted.rs`).

use super::{tag, ElementHasher, SMALL_LEN, SMALL_MEMBER};
use bytes::Bytes;
use indexmap::IndexSet;

/// A set of byte strings, in insertion order (as amended by removals).
///
/// A small set (see [`SMALL_LEN`]; ten members, say) is one vector of members with their tags:
/// 448 bytes for ten, where the hash set took those entries and a 160-byte index table besides.
#[derive(Clone, Debug)]
pub struct SetValue {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Vec<Member>),
    Large(Box<IndexSet<Bytes, ElementHasher>>),
}

/// A member of a small set with its [`tag`].
#[derive(Clone, Debug)]
struct Member {
    tag: u32,
    bytes: Bytes,
}

/// Where the member `member`, whose tag is `tag`, is in a small set.
fn position(members: &[Member], tag: u32, member: &[u8]) -> Option<usize> {
    members.iter().position(|m| m.tag == tag && m.bytes == member)
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue { repr: Repr::Small(Vec::new()) }
    }
}

impl SetValue {
    /// An empty set with room for `n` members.
    pub fn with_capacity(n: usize) -> SetValue {
        let repr = if n <= SMALL_LEN {
            Repr::Small(Vec::with_capacity(n))
        } else {
            Repr::Large(Box::new(IndexSet::with_capacity_and_hasher(n, ElementHasher)))
        };
        SetValue { repr }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(members) => members.len(),
            Repr::Large(set) => set.len(),
        }
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The members there is room for without growing.
    pub fn capacity(&self) -> usize {
        match &self.repr {
            Repr::Small(members) => members.capacity(),
            Repr::Large(set) => set.capacity(),
        }
    }

    /// The index of `member`, if it is one.
    pub fn get_index_of(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Small(members) => position(members, tag(member), member),
            Repr::Large(set) => set.get_index_of(member),
        }
    }

    /// True if `member` is one.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.get_index_of(member).is_some()
    }

    /// The member at `index`.
    pub fn get_index(&self, index: usize) -> Option<&Bytes> {
        match &self.repr {
            Repr::Small(members) => members.get(index).map(|m| &m.bytes),
            Repr::Large(set) => set.get_index(index),
        }
    }

    /// Adds `member` at the end; true if it was not a member.
    pub fn insert(&mut self, member: Bytes) -> bool {
        if let Repr::Small(members) = &mut self.repr {
            let tag = tag(&member);
            if position(members, tag, &member).is_some() {
                return false;
            }
            if members.len() < SMALL_LEN && member.len() <= SMALL_MEMBER {
                members.push(Member { tag, bytes: member });
                return true;
            }
            self.grow();
        }
        let Repr::Large(set) = &mut self.repr else { unreachable!("grown above") };
        set.insert(member)
    }

    /// Turns a small set into a large one, its members in the same order.
    #[cold]
    fn grow(&mut self) {
        if let Repr::Small(members) = &mut self.repr {
            let set = std::mem::take(members).into_iter().map(|m| m.bytes).collect();
            self.repr = Repr::Large(Box::new(set));
        }
    }

    /// Removes `member` (the last member takes its place); its index and bytes if it was one.
    pub fn swap_remove_full(&mut self, member: &[u8]) -> Option<(usize, Bytes)> {
        if let Repr::Large(set) = &mut self.repr {
            return set.swap_remove_full(member);
        }
        let index = self.get_index_of(member)?;
        self.swap_remove_index(index).map(|bytes| (index, bytes))
    }

    /// Removes `member` (the last member takes its place); true if it was one.
    pub fn swap_remove(&mut self, member: &[u8]) -> bool {
        self.swap_remove_full(member).is_some()
    }

    /// Removes the member at `index` (the last member takes its place).
    pub fn swap_remove_index(&mut self, index: usize) -> Option<Bytes> {
        match &mut self.repr {
            Repr::Small(members) => (index < members.len()).then(|| members.swap_remove(index).bytes),
            Repr::Large(set) => set.swap_remove_index(index),
        }
    }

    /// The members in order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Small(members) => Iter(Iters::Small(members.iter())),
            Repr::Large(set) => Iter(Iters::Large(set.iter())),
        }
    }

    /// Gives back the room beyond its members.
    pub fn shrink_to_fit(&mut self) {
        match &mut self.repr {
            Repr::Small(members) => members.shrink_to_fit(),
            Repr::Large(set) => set.shrink_to_fit(),
        }
    }

    /// The bytes this set's allocations take past its fixed part and members' bytes: a small
    /// set's vector, or a large set's box, entries (a member and its hash each) and index table.
    pub(crate) fn tables_size(&self) -> usize {
        use crate::alloc::size_class;
        use std::mem::size_of;
        match &self.repr {
            Repr::Small(members) => size_class(members.capacity() * size_of::<Member>()),
            Repr::Large(set) => {
                size_class(size_of::<IndexSet<Bytes, ElementHasher>>())
                    + super::index_map_tables::<Bytes>(set.capacity())
            }
        }
    }
}

/// The members of a set, in order.
pub struct Iter<'a>(Iters<'a>);

enum Iters<'a> {
    Small(std::slice::Iter<'a, Member>),
    Large(indexmap::set::Iter<'a, Bytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Bytes;
    fn next(&mut self) -> Option<&'a Bytes> {
        match &mut self.0 {
            Iters::Small(it) => it.next().map(|m| &m.bytes),
            Iters::Large(it) => it.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Iters::Small(it) => it.size_hint(),
            Iters::Large(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Iters::Small(it) => it.next_back().map(|m| &m.bytes),
            Iters::Large(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a SetValue {
    type Item = &'a Bytes;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for SetValue {
    type Item = Bytes;
    type IntoIter = std::vec::IntoIter<Bytes>;
    fn into_iter(self) -> Self::IntoIter {
        let members: Vec<Bytes> = match self.repr {
            Repr::Small(members) => members.into_iter().map(|m| m.bytes).collect(),
            Repr::Large(set) => set.into_iter().collect(),
        };
        members.into_iter()
    }
}

impl Extend<Bytes> for SetValue {
    fn extend<I: IntoIterator<Item = Bytes>>(&mut self, members: I) {
        for member in members {
            self.insert(member);
        }
    }
}

impl FromIterator<Bytes> for SetValue {
    fn from_iter<I: IntoIterator<Item = Bytes>>(members: I) -> SetValue {
        let mut set = SetValue::default();
        set.extend(members);
        set
    }
}

/// Equal when they have the same members, in whatever order (as `IndexSet`'s equality).
impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(m))
    }
}

impl Eq for SetValue {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random inserts and removals, by member and by index, across the switch from small to large
    /// (by count, and by a long member), leave the members and their indices exactly as an
    /// `IndexSet` given the same operations has them.
    #[test]
    fn small_and_large_sets_keep_the_order_and_indices_an_index_set_keeps() {
        let mut next = crate::value::testing::below(0x9e37_79b9_7f4a_7c15_u64);
        for round in 0..40 {
            let mut set = SetValue::default();
            let mut model: IndexSet<Bytes> = IndexSet::new();
            let members = if round % 2 == 0 { 50 } else { 300 };
            for step in 0..500 {
                let member = if round % 5 == 4 && step == 250 {
                    Bytes::from(vec![b'y'; SMALL_MEMBER + 1])
                } else {
                    Bytes::from(format!("m{}", next(members)))
                };
                match next(8) {
                    0..=3 => assert_eq!(set.insert(member.clone()), model.insert(member)),
                    4 => assert_eq!(set.swap_remove_full(&member), model.swap_remove_full(&member)),
                    5 => {
                        let index = next(model.len() as u64 + 1) as usize;
                        assert_eq!(set.swap_remove_index(index), model.swap_remove_index(index));
                    }
                    _ => assert_eq!(set.get_index_of(&member), model.get_index_of(&member)),
                }
            }
            assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>(), "round {round}");
            assert_eq!(set.len(), model.len());
            assert_eq!(set.iter().next_back(), model.iter().next_back());
        }
    }

    #[test]
    fn a_set_grows_large_past_its_limits_and_equals_ignore_order() {
        let mut set: SetValue = (0..SMALL_LEN).map(|m| Bytes::from(format!("member:{m}"))).collect();
        assert!(matches!(set.repr, Repr::Small(_)));
        let reversed: SetValue = (0..SMALL_LEN).rev().map(|m| Bytes::from(format!("member:{m}"))).collect();
        assert_eq!(set, reversed);
        set.insert(Bytes::from("one more"));
        assert!(matches!(set.repr, Repr::Large(_)));
        assert_ne!(set, reversed);
        assert_eq!(set.get_index(SMALL_LEN).map(|m| &m[..]), Some(&b"one more"[..]));
        assert_eq!(set.get_index_of(b"member:0"), Some(0));
    }
}
