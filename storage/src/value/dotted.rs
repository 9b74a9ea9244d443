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
//! Clock readings of one node only grow, and a copy holds all of its node's own earlier adds (or
//! the context of their removal), so one number per node is most of the context; what arrives
//! out of order waits beside it (see [`Context`]).
//!
//! **Deltas.** Peers are not sent the whole set after each command, but its *delta*: a dotted set
//! on the same base holding only what the command added (each member with the command's dot) and,
//! in its context, exactly the writes the command saw go (the earlier dots of the members it
//! re-added or removed) and the command's own dot. Joining a delta into a copy is the same
//! [`DottedSet::merge`] as joining a whole copy: a member the delta lacks stays unless the delta's
//! context covers its dot, which it does only for what the command removed. So deltas and whole
//! states can arrive in any order, duplicated, and every copy ends up the same (the property test
//! in `crate::crdt` delivers both). An SADD to a set of a million members sends one member.
//!
//! Members sit in a plain [`SetValue`] in the same order as their first dots, so that every read
//! command reads a dotted set exactly as it reads a plain one ([`DottedSet::members`]). A member
//! added on two masters at once has two dots; the second and later ones sit in a side table,
//! empty in the common case.

use bytes::Bytes;
use smallvec::SmallVec;

use super::causal::{Concurrent, Context, Seen};
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

    /// Rebuilds a set from its parts (the codec). A copy always covers its own dots: one that
    /// does not (a record written before contexts had clouds) is widened to.
    pub fn from_parts(base: Stamp, context: Context, members: impl IntoIterator<Item = (Bytes, Dots)>) -> DottedSet {
        let mut set = DottedSet { base, context, ..DottedSet::default() };
        for (member, dots) in members {
            for &dot in &dots {
                if !set.context.covers(&member, dot) {
                    set.context.see(dot);
                }
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

    /// What this copy has seen.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// An empty delta for a command about to write this set (see the module's text).
    pub fn delta(&self) -> DottedSet {
        DottedSet { base: self.base, context: Context::for_delta(), ..DottedSet::default() }
    }

    /// Drops the delta mark of a delta kept as a node's state (see [`Context::settle_as_state`]).
    pub fn settle_as_state(&mut self) {
        self.context.settle_as_state();
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
        self.context.latest().map_or(self.base, |latest| latest.max(self.base))
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

    /// [`DottedSet::insert`], noting in `delta` what peers need to do the same.
    pub fn insert_noting(&mut self, member: Bytes, dot: Stamp, delta: &mut DottedSet) -> bool {
        let after = self.context.reading(dot.node);
        let old = self.dots_of(&member);
        delta.context.note(Seen { dot, after });
        for &seen in old.iter().filter(|&&d| d != dot) {
            delta.context.note_removed(member.clone(), seen);
        }
        delta.remove(&member);
        delta.put(member.clone(), Dots::from_slice(&[dot]));
        self.insert(member, dot)
    }

    /// [`DottedSet::remove`], noting in `delta` what peers need to do the same.
    pub fn remove_noting(&mut self, member: &[u8], delta: &mut DottedSet) -> bool {
        for seen in self.dots_of(member) {
            delta.context.note_removed(Bytes::copy_from_slice(member), seen);
        }
        delta.remove(member);
        self.remove(member)
    }

    /// The dots of `member` (none if it is not one).
    fn dots_of(&self, member: &[u8]) -> Dots {
        self.members.get_index_of(member).map(|index| self.dots_at(index)).unwrap_or_default()
    }

    /// Takes in another copy with the same base (or a delta): a dot survives if both copies have
    /// it, or if the copy without it never saw it; contexts join. In place, touching only what
    /// changes: a delta costs a look at each member it names, not a copy of the set nor a look at
    /// each of its members. True if anything changed.
    pub fn merge(&mut self, other: &DottedSet) -> bool {
        debug_assert_eq!(self.base, other.base, "sets of different bases do not merge");
        let mut changed = false;
        // Members only this copy has lose the dots the other saw (it removed them): a delta
        // names the members it saw go (see `Context`); a whole copy may have seen any go.
        if other.context.is_delta() {
            for gone in other.context.removed().iter().filter(|gone| !other.members.contains(&gone.element)) {
                let mine = self.dots_of(&gone.element);
                if mine.contains(&gone.dot) {
                    changed = true;
                    self.remove(&gone.element);
                    let kept: Dots = mine.into_iter().filter(|&d| !other.context.covers(&gone.element, d)).collect();
                    self.put(gone.element.clone(), kept);
                }
            }
        } else {
            let mut index = 0;
            while let Some(member) = self.members.get_index(index) {
                let dots = self.dots_at(index);
                if !dots.iter().any(|&d| other.context.covers(member, d)) || other.members.contains(member) {
                    index += 1;
                    continue;
                }
                changed = true;
                // The last member takes its place (looked at next); this one, if it keeps a
                // dot, goes to the end, where it is looked at again and kept.
                let member = self.remove_index(index).expect("in range");
                let kept: Dots = dots.into_iter().filter(|&d| !other.context.covers(&member, d)).collect();
                self.put(member, kept);
            }
        }
        for (index, member) in other.members.iter().enumerate() {
            let theirs = other.dots_at(index);
            let mine = self.dots_of(member);
            let mut dots: Dots =
                mine.iter().copied().filter(|d| theirs.contains(d) || !other.context.covers(member, *d)).collect();
            dots.extend(theirs.iter().copied().filter(|d| !mine.contains(d) && !self.context.covers(member, *d)));
            if same_dots(&dots, &mine) {
                continue;
            }
            changed = true;
            self.remove(member);
            self.put(member.clone(), dots);
        }
        let before = self.context.clone();
        self.context.join(&other.context);
        changed || self.context != before
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

/// Whether two lists of dots hold the same dots.
fn same_dots(a: &[Stamp], b: &[Stamp]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::testing::{b, dot};

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
