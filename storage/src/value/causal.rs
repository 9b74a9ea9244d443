//! What dotted sets and hashes keep beside their elements: the causal context of a copy, and the
//! side table of the elements written concurrently on several masters.

use std::collections::HashMap;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::stamp::Stamp;

/// What a copy of a dotted collection has seen of the writes made to it: for each node, a clock
/// reading below which it has seen every write of that node (the *reading*); beside the readings,
/// the writes it has seen out of order (the *cloud*); and the single elements it has seen a write
/// of removed, beyond both (the *removed* list).
///
/// A copy that travels whole carries all of its node's earlier writes, so one reading per node
/// would be the whole history. Deltas do not: a change travels as the write's effect alone (see
/// `DottedSet`'s module text), and a mesh can deliver a node's later write before an earlier one
/// (through a relay, or after a reconnect). Such a write is noted in the cloud with the reading
/// its node had of the key just before it (`Seen::after`): once the copy has seen everything up
/// to that reading, the write joins the reading, and so do the cloud's later writes that chain on
/// from it. In order, the cloud stays empty.
///
/// A remove is noted per element: one write (one SADD of several members, or a whole write made
/// dotted) can put several elements in, all with its stamp as their dot, and an SREM of one of
/// them saw that one go, not the others. A removed element's entry goes once a reading or the
/// cloud covers its dot, which then says the same for every element.
///
/// A delta's context is marked as such: everything it saw go that another copy can hold is in its
/// removed list (the other writes it covers are its own command's, which no other copy has
/// without it), so merging it into a copy looks up those elements instead of looking at all of
/// the copy's. A copy that keeps a delta as its state drops the mark ([`Context::settle_as_state`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    readings: SmallVec<[Stamp; 1]>,
    /// Boxed: most copies have none of it, and its empty lists would cost every one of them.
    beyond: Option<Box<Beyond>>,
}

/// The parts of a [`Context`] beyond its readings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Beyond {
    cloud: Vec<Seen>,
    removed: Vec<Removed>,
    delta: bool,
}

/// One write a copy has seen beyond its readings, and where it follows on in its node's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seen {
    /// The write's stamp (its dot).
    pub dot: Stamp,
    /// The reading the write's node had of this key just before it.
    pub after: u64,
}

/// One element's write (its dot) a copy has seen removed, beyond its readings and cloud.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Removed {
    /// The write's stamp.
    pub dot: Stamp,
    /// The member or field.
    pub element: Bytes,
}

impl Context {
    /// The context of a new delta: nothing seen yet.
    pub fn for_delta() -> Context {
        Context { beyond: Some(Box::new(Beyond { delta: true, ..Beyond::default() })), ..Context::default() }
    }

    /// Whether this is a delta's context (see the type's text).
    pub fn is_delta(&self) -> bool {
        self.beyond.as_ref().is_some_and(|beyond| beyond.delta)
    }

    /// Drops the delta mark: the copy is now a node's whole state.
    pub fn settle_as_state(&mut self) {
        if let Some(beyond) = &mut self.beyond {
            beyond.delta = false;
        }
        self.settle();
    }

    /// Whether the copy has seen `element`'s write stamped `dot` (and maybe removed it since).
    pub fn covers(&self, element: &[u8], dot: Stamp) -> bool {
        self.covers_write(dot) || self.removed().iter().any(|r| r.dot == dot && r.element == element)
    }

    /// Whether the copy has seen the whole write stamped `dot`, whatever it wrote.
    fn covers_write(&self, dot: Stamp) -> bool {
        self.reading(dot.node) >= dot.hlc || self.cloud().iter().any(|seen| seen.dot == dot)
    }

    /// The reading of `node`: every write of it up to this clock reading has been seen (0: none).
    pub fn reading(&self, node: u64) -> u64 {
        self.readings.iter().find(|seen| seen.node == node).map_or(0, |seen| seen.hlc)
    }

    /// Notes that the copy has seen the write stamped `dot` and every earlier one of its node: a
    /// node's own writes, made in order, and whole copies.
    pub fn see(&mut self, dot: Stamp) {
        self.raise(dot);
        self.settle();
    }

    /// Notes one write seen, possibly out of order (see [`Seen`]).
    pub fn note(&mut self, seen: Seen) {
        if !self.covers_write(seen.dot) {
            self.beyond.get_or_insert_default().cloud.push(seen);
            self.settle();
        }
    }

    /// Notes that `element`'s write `dot` was seen removed.
    pub fn note_removed(&mut self, element: Bytes, dot: Stamp) {
        if !self.covers(&element, dot) {
            self.beyond.get_or_insert_default().removed.push(Removed { dot, element });
            self.settle();
        }
    }

    /// Takes in everything `other` has seen.
    pub fn join(&mut self, other: &Context) {
        for &seen in &other.readings {
            self.raise(seen);
        }
        if !other.cloud().is_empty() || !other.removed().is_empty() {
            let beyond = self.beyond.get_or_insert_default();
            beyond.cloud.extend_from_slice(other.cloud());
            beyond.removed.extend_from_slice(other.removed());
        }
        self.settle();
    }

    /// Rebuilds a context from its parts (the codec).
    pub fn from_parts(
        readings: impl IntoIterator<Item = Stamp>,
        cloud: impl IntoIterator<Item = Seen>,
        removed: impl IntoIterator<Item = Removed>,
        delta: bool,
    ) -> Context {
        let mut context = Context::default();
        for reading in readings {
            context.raise(reading);
        }
        let beyond = Beyond { cloud: cloud.into_iter().collect(), removed: removed.into_iter().collect(), delta };
        context.beyond = Some(Box::new(beyond));
        context.settle();
        context
    }

    /// One reading per node, in the order the nodes were first seen.
    pub fn readings(&self) -> &[Stamp] {
        &self.readings
    }

    /// The writes seen beyond the readings, sorted.
    pub fn cloud(&self) -> &[Seen] {
        self.beyond.as_ref().map_or(&[], |beyond| &beyond.cloud)
    }

    /// The elements' writes seen removed beyond the readings and the cloud, sorted.
    pub fn removed(&self) -> &[Removed] {
        self.beyond.as_ref().map_or(&[], |beyond| &beyond.removed)
    }

    /// The latest write seen.
    pub fn latest(&self) -> Option<Stamp> {
        let removed = self.removed().iter().map(|r| r.dot);
        self.readings.iter().copied().chain(self.cloud().iter().map(|seen| seen.dot)).chain(removed).max()
    }

    /// Every part sorted (for comparing two copies).
    pub fn sorted(&self) -> (Vec<Stamp>, Vec<Seen>, Vec<Removed>) {
        let mut readings = self.readings.to_vec();
        readings.sort();
        (readings, self.cloud().to_vec(), self.removed().to_vec())
    }

    fn raise(&mut self, dot: Stamp) {
        match self.readings.iter_mut().find(|seen| seen.node == dot.node) {
            Some(seen) => seen.hlc = seen.hlc.max(dot.hlc),
            None => self.readings.push(dot),
        }
    }

    /// Moves into the readings every write of the cloud that chains on from them, drops what
    /// they cover (and the removed elements whose writes the cloud now covers whole), and keeps
    /// the rest sorted, one entry each.
    ///
    /// One pass per node in clock order is exact: a write that does not chain on when its turn
    /// comes can only be passed over later by a write with a greater reading, which covers it.
    fn settle(&mut self) {
        let Some(mut beyond) = self.beyond.take() else { return };
        if !beyond.cloud.is_empty() {
            let mut cloud = std::mem::take(&mut beyond.cloud);
            cloud.sort_by_key(|seen| (seen.dot.node, seen.dot.hlc, seen.after));
            let mut kept: Vec<Seen> = Vec::with_capacity(cloud.len());
            let mut at = 0;
            while at < cloud.len() {
                let node = cloud[at].dot.node;
                let mut reading = self.reading(node);
                let end = at + cloud[at..].iter().take_while(|seen| seen.dot.node == node).count();
                for &seen in &cloud[at..end] {
                    if seen.dot.hlc <= reading || kept.last().is_some_and(|k| k.dot == seen.dot) {
                        continue;
                    }
                    if seen.after <= reading {
                        reading = seen.dot.hlc;
                    } else {
                        kept.push(seen);
                    }
                }
                if reading > 0 {
                    self.raise(Stamp { hlc: reading, node });
                }
                kept.retain(|seen| seen.dot.node != node || seen.dot.hlc > reading);
                at = end;
            }
            kept.sort();
            beyond.cloud = kept;
        }
        if !beyond.removed.is_empty() {
            let cloud = &beyond.cloud;
            let covered = |dot: Stamp| self.reading(dot.node) >= dot.hlc || cloud.iter().any(|seen| seen.dot == dot);
            let mut removed = std::mem::take(&mut beyond.removed);
            removed.retain(|r| !covered(r.dot));
            removed.sort();
            removed.dedup();
            beyond.removed = removed;
        }
        if beyond.delta || !beyond.cloud.is_empty() || !beyond.removed.is_empty() {
            self.beyond = Some(beyond);
        }
    }
}

/// The second and later dots of elements written on several masters at once, with whatever each
/// dot carries. Boxed: most collections never have one, and an empty table would cost every one
/// of them its size.
#[derive(Clone, Debug)]
#[allow(clippy::box_collection)] // the point: a pointer, not a table's header, in every collection
pub struct Concurrent<T>(Option<Box<HashMap<Bytes, T, ahash::RandomState>>>);

impl<T> Default for Concurrent<T> {
    fn default() -> Self {
        Concurrent(None)
    }
}

impl<T> Concurrent<T> {
    /// The extra dots of `element`, if it has any.
    pub fn get(&self, element: &[u8]) -> Option<&T> {
        self.0.as_ref().and_then(|table| table.get(element))
    }

    /// Records the extra dots of `element`.
    pub fn insert(&mut self, element: Bytes, extra: T) {
        self.0.get_or_insert_default().insert(element, extra);
    }

    /// Drops the extra dots of `element`, if it had any.
    pub fn forget(&mut self, element: &[u8]) {
        if let Some(table) = &mut self.0 {
            table.remove(element);
            if table.is_empty() {
                self.0 = None;
            }
        }
    }

    /// Every element's extra dots.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.0.iter().flat_map(|table| table.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::testing::dot;

    /// Node 1 writes at 10, 20 and 30, each write chained on from the one before; they arrive
    /// 30, 10, 20. Until 20 arrives, 30 waits in the cloud (10 alone joins the reading); then
    /// both join it and the cloud is empty.
    #[test]
    fn writes_out_of_order_join_the_reading_once_the_gap_fills() {
        let mut context = Context::default();
        context.note(Seen { dot: dot(30, 1), after: 20 });
        assert!(
            context.covers(b"e", dot(30, 1)) && !context.covers(b"e", dot(20, 1)) && !context.covers(b"e", dot(10, 1))
        );
        context.note(Seen { dot: dot(10, 1), after: 0 });
        assert_eq!(context.reading(1), 10);
        assert_eq!(context.cloud().len(), 1);
        context.note(Seen { dot: dot(20, 1), after: 10 });
        assert_eq!(context.reading(1), 30);
        assert!(context.cloud().is_empty());
    }

    /// A removed element's write stays noted until a reading passes it, and only for that
    /// element: the same write's other elements are not covered.
    #[test]
    fn a_removed_write_is_one_elements_and_waits_for_the_reading() {
        let mut context = Context::default();
        context.note_removed(Bytes::from_static(b"y"), dot(15, 2));
        assert!(context.covers(b"y", dot(15, 2)));
        assert!(!context.covers(b"z", dot(15, 2)), "z was added by the same write, and not removed");
        assert_eq!(context.reading(2), 0);
        let mut whole = Context::default();
        whole.see(dot(40, 2));
        context.join(&whole);
        assert!(context.removed().is_empty());
        assert_eq!(context.reading(2), 40);
    }
}
