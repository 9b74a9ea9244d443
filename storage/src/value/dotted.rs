//! A set that several masters add to and remove from at once: adds win, removes take what they saw.
//!
//! With replication on, SADD, SREM, SPOP and SMOVE turn a set key into a [`DottedSet`], an
//! observed-remove set with causal context (an "ORSWOT"). Every add is tagged with a *dot*, the
//! stamp of the write that made it (a node and its clock reading, unique across the mesh); a member
//! is present while it has at least one dot. The set also keeps its *context*: for every node, the
//! greatest clock reading of that node's writes it has seen. Removing a member drops its dots, and
//! the context remembers they existed. When two copies meet, a dot one copy has and the other lacks
//! is kept if the other copy never saw it (a concurrent add) and dropped if it did (a remove): so an
//! add concurrent with a remove of the same member survives, and every acknowledged add is kept
//! until a remove that saw it.
//!
//! Clock readings of one node only grow, and copies travel whole (a node's copy holds all of its
//! own earlier adds, or the context of their removal), so one number per node is the whole context.
//!
//! Members sit in a plain [`SetValue`] in the same order as their first dots, so that every read
//! command reads a dotted set exactly as it reads a plain one ([`DottedSet::members`]). A member
//! added on two masters at once has two dots; the second and later ones sit in a side table,
//! empty in the common case.

use bytes::Bytes;
use smallvec::SmallVec;

use super::causal::{Concurrent, Context};
use crate::stamp::Stamp;
use crate::value::SetValue;

/// The dots of one member: usually one.
pub type Dots = SmallVec<[Stamp; 2]>;

/// An add-wins observed-remove set (see the module's text).
#[derive(Clone, Debug, Default)]
pub struct DottedSet {
    /// The stamp of the whole write this set started from (see `crate::crdt`): copies with the
    /// same base merge, a newer base replaces an older one.
    base: Stamp,
    /// The members, as reads see them.
    members: SetValue,
    /// The first dot of each member, at the member's position in `members`.
    dots: Vec<Stamp>,
    /// The other dots of members added concurrently on several masters.
    more: Concurrent<Dots>,
    /// For each node, the greatest clock reading of its writes this copy has seen.
    context: Context,
}

impl DottedSet {
    /// An empty set on `base` that has seen nothing.
    pub fn empty(base: Stamp) -> DottedSet {
        DottedSet { base, ..DottedSet::default() }
    }

    /// A plain set written whole at `base`, as a dotted set: every member carries the write's own
    /// stamp as its dot. Every node turns the same plain set into the same dotted one.
    pub fn from_plain(set: &SetValue, base: Stamp) -> DottedSet {
        let mut dotted = DottedSet::empty(base);
        dotted.members = set.clone();
        dotted.dots = vec![base; set.len()];
        if !set.is_empty() {
            dotted.context.see(base);
        }
        dotted
    }

    /// Rebuilds a set from its parts (the codec). Dots outside the context widen it: a copy
    /// always covers its own dots.
    pub fn from_parts(base: Stamp, context: &[Stamp], members: impl IntoIterator<Item = (Bytes, Dots)>) -> DottedSet {
        let mut set = DottedSet::empty(base);
        for &seen in context {
            set.context.see(seen);
        }
        for (member, dots) in members {
            for &dot in &dots {
                set.context.see(dot);
            }
            set.put(member, dots);
        }
        set
    }

    /// This set with every member removed: its base and context, what a delete of it leaves
    /// (an observed remove of everything it holds).
    pub fn cleared(&self) -> DottedSet {
        DottedSet { base: self.base, context: self.context.clone(), ..DottedSet::default() }
    }

    /// The stamp of the whole write this set started from.
    pub fn base(&self) -> Stamp {
        self.base
    }

    /// The members, as every read command sees them.
    pub fn members(&self) -> &SetValue {
        &self.members
    }

    /// For each node, the greatest clock reading seen.
    pub fn context(&self) -> &[Stamp] {
        self.context.as_slice()
    }

    /// The dots of the member at `index`.
    pub fn dots_at(&self, index: usize) -> Dots {
        let mut dots: Dots = SmallVec::new();
        if let Some((member, &first)) = self.members.get_index(index).zip(self.dots.get(index)) {
            dots.push(first);
            if let Some(more) = self.more.get(member) {
                dots.extend(more.iter().copied());
            }
        }
        dots
    }

    /// Every member with its dots.
    pub fn iter_dotted(&self) -> impl Iterator<Item = (&Bytes, Dots)> + '_ {
        self.members.iter().enumerate().map(|(i, m)| (m, self.dots_at(i)))
    }

    /// The stamp of the latest change this copy has seen (its base, or a dot of its context).
    pub fn latest(&self) -> Stamp {
        self.context.as_slice().iter().copied().fold(self.base, Stamp::max)
    }

    /// Adds `member` by the write stamped `dot`; true if it was not a member. The add sees the
    /// member's earlier dots, so they go: a remove elsewhere that saw only them does not remove it.
    pub fn insert(&mut self, member: Bytes, dot: Stamp) -> bool {
        self.context.see(dot);
        match self.members.get_index_of(&member) {
            Some(index) => {
                self.dots[index] = dot;
                self.more.forget(&member);
                false
            }
            None => {
                self.members.insert(member);
                self.dots.push(dot);
                true
            }
        }
    }

    /// Removes `member`; true if it was one. Its dots are still in the context: the remove
    /// travels as "seen, and gone".
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.members.swap_remove_full(member) {
            Some((index, member)) => {
                self.dots.swap_remove(index);
                self.more.forget(&member);
                true
            }
            None => false,
        }
    }

    /// Removes and returns the member at `index` (SPOP's random pick).
    pub fn remove_index(&mut self, index: usize) -> Option<Bytes> {
        let member = self.members.swap_remove_index(index)?;
        self.dots.swap_remove(index);
        self.more.forget(&member);
        Some(member)
    }

    /// Takes in another copy with the same base: a dot survives if both copies have it, or if
    /// the copy without it never saw it; contexts join.
    pub fn merge(&mut self, other: &DottedSet) {
        debug_assert_eq!(self.base, other.base, "sets of different bases do not merge");
        let mut merged = DottedSet::empty(self.base);
        merged.members.reserve(self.members.len().max(other.members.len()));
        merged.dots.reserve(self.members.len().max(other.members.len()));
        for (index, member) in self.members.iter().enumerate() {
            let mine = self.dots_at(index);
            let theirs = other.members.get_index_of(member).map(|i| other.dots_at(i)).unwrap_or_default();
            let kept: Dots = mine.iter().copied().filter(|d| theirs.contains(d) || !other.context.covers(*d)).collect();
            let new: Dots = theirs.iter().copied().filter(|d| !mine.contains(d) && !self.context.covers(*d)).collect();
            merged.put(member.clone(), kept.into_iter().chain(new).collect());
        }
        for (index, member) in other.members.iter().enumerate() {
            if self.members.contains(member) {
                continue;
            }
            let new: Dots = other.dots_at(index).into_iter().filter(|d| !self.context.covers(*d)).collect();
            merged.put(member.clone(), new);
        }
        merged.context = self.context.clone();
        merged.context.join(&other.context);
        *self = merged;
    }

    /// Whether two copies hold the same state, whatever order their members and nodes are in.
    pub fn same_state(&self, other: &DottedSet) -> bool {
        let sorted = |set: &DottedSet| {
            let context = set.context.sorted();
            let mut members: Vec<(Bytes, Vec<Stamp>)> = set
                .iter_dotted()
                .map(|(m, dots)| {
                    let mut dots = dots.to_vec();
                    dots.sort();
                    (m.clone(), dots)
                })
                .collect();
            members.sort();
            (context, members)
        };
        self.base == other.base && sorted(self) == sorted(other)
    }

    /// Bytes the dots and context take beyond a plain set's members (for the benchmarks).
    pub fn overhead(&self) -> usize {
        std::mem::size_of::<DottedSet>() - std::mem::size_of::<SetValue>()
            + self.dots.capacity() * std::mem::size_of::<Stamp>()
            + self.more.values().map(|d| 48 + d.len() * std::mem::size_of::<Stamp>()).sum::<usize>()
    }

    /// Appends `member` with `dots` (none: it is not added).
    fn put(&mut self, member: Bytes, dots: Dots) {
        let Some((&first, rest)) = dots.split_first() else { return };
        if !rest.is_empty() {
            self.more.insert(member.clone(), rest.iter().copied().collect());
        }
        if self.members.insert(member) {
            self.dots.push(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(hlc: u64, node: u64) -> Stamp {
        Stamp { hlc, node }
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn names(set: &DottedSet) -> Vec<String> {
        let mut v: Vec<String> = set.members().iter().map(|m| String::from_utf8_lossy(m).into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn concurrent_adds_on_two_masters_are_both_kept() {
        let (mut a, mut b2) = (DottedSet::empty(Stamp::default()), DottedSet::empty(Stamp::default()));
        a.insert(b("x"), dot(1, 1));
        b2.insert(b("y"), dot(1, 2));
        b2.insert(b("x"), dot(2, 2));
        let mut ab = a.clone();
        ab.merge(&b2);
        let mut ba = b2.clone();
        ba.merge(&a);
        assert_eq!(names(&ab), ["x", "y"]);
        assert!(ab.same_state(&ba));
        assert_eq!(ab.dots_at(ab.members().get_index_of(&b("x")[..]).unwrap()).len(), 2);
    }

    #[test]
    fn a_remove_takes_only_the_adds_it_saw() {
        let mut a = DottedSet::empty(Stamp::default());
        a.insert(b("x"), dot(1, 1));
        let mut b2 = a.clone();
        b2.remove(b"x"); // saw the add at (1, 1)
        a.insert(b("x"), dot(2, 1)); // concurrent re-add
        let mut merged = b2.clone();
        merged.merge(&a);
        assert_eq!(names(&merged), ["x"], "the concurrent add wins");

        let mut c = a.clone();
        c.remove(b"x"); // saw every add
        let mut merged = a.clone();
        merged.merge(&c);
        assert!(merged.members().is_empty(), "a remove that saw every add removes the member");
        merged.merge(&a);
        assert!(merged.members().is_empty(), "an old copy cannot bring it back");
    }

    #[test]
    fn from_plain_is_the_same_on_every_node() {
        let mut plain = SetValue::default();
        plain.insert(b("m"));
        plain.insert(b("n"));
        let (x, y) = (DottedSet::from_plain(&plain, dot(7, 3)), DottedSet::from_plain(&plain, dot(7, 3)));
        assert!(x.same_state(&y));
        assert_eq!(x.latest(), dot(7, 3));
    }
}
