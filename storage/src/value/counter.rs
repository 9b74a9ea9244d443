//! A counter that several masters increment at once without losing an increment.
//!
//! With replication on, INCR, INCRBY, DECR and DECRBY turn a string key into a [`Counter`]: the
//! value the last whole write left (its *base*, with that write's stamp) plus, for every node that
//! has incremented it since, the sum of that node's increments and the stamp of its latest one.
//! Each node only ever changes its own sum, and only upwards in stamp order, so two copies of a
//! counter with the same base merge by keeping, node by node, the sum with the greater stamp: every
//! increment made anywhere is counted exactly once, whatever order the copies meet in and however
//! often. A whole write (SET, APPEND, a delete) starts a new base; between two bases the newer one
//! wins with the increments made on it (see `crate::crdt`).
//!
//! Clients never see any of this: the counter answers as the string of its total, which it keeps
//! rendered ([`Counter::shown`]) so that GET and friends read it like any string.

use bytes::Bytes;
use smallvec::SmallVec;

use crate::stamp::Stamp;

/// One node's increments of a counter since its base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Add {
    /// Their sum, wrapping: the total is exact whenever it fits in an `i64`, whatever each part is.
    pub sum: i64,
    /// The stamp of the latest of them, whose `node` made them all: of two copies of one node's
    /// sum, the later one has it all.
    pub stamp: Stamp,
}

/// A string holding an integer that replication merges by adding (see the module's text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The total, as the decimal string clients read.
    shown: Bytes,
    /// The integer the base write stored (0 for a key that did not exist).
    base: i64,
    /// The stamp of the base write (the write that made the key a plain integer string, or the
    /// tombstone a counter started from; the default stamp for a key that never existed).
    reset: Stamp,
    /// Each node's increments since the base, one entry per node, in first-increment order.
    adds: SmallVec<[Add; 1]>,
}

impl Counter {
    /// A counter on `base` (the integer a whole write stored at `reset`), with no increments yet.
    pub fn starting_from(base: i64, reset: Stamp) -> Counter {
        Counter { shown: int_bytes(base), base, reset, adds: SmallVec::new() }
    }

    /// Rebuilds a counter from its parts (the codec); the total is computed again.
    pub fn from_parts(base: i64, reset: Stamp, adds: impl IntoIterator<Item = Add>) -> Counter {
        let mut counter = Counter::starting_from(base, reset);
        for add in adds {
            match counter.adds.iter_mut().find(|a| a.stamp.node == add.stamp.node) {
                Some(have) if have.stamp < add.stamp => *have = add,
                Some(_) => {}
                None => counter.adds.push(add),
            }
        }
        counter.render();
        counter
    }

    /// The total as clients read it.
    pub fn shown(&self) -> &Bytes {
        &self.shown
    }

    /// The total.
    pub fn total(&self) -> i64 {
        self.adds.iter().fold(self.base, |total, add| total.wrapping_add(add.sum))
    }

    /// The integer the base write stored.
    pub fn base(&self) -> i64 {
        self.base
    }

    /// The stamp of the base write.
    pub fn reset(&self) -> Stamp {
        self.reset
    }

    /// Each node's increments since the base.
    pub fn adds(&self) -> &[Add] {
        &self.adds
    }

    /// The stamp of the latest change: the base write or an increment.
    pub fn latest(&self) -> Stamp {
        self.adds.iter().map(|a| a.stamp).fold(self.reset, Stamp::max)
    }

    /// Adds `delta` as the write stamped `stamp` (whose node makes it). The caller has checked
    /// that the total does not overflow.
    pub fn add(&mut self, delta: i64, stamp: Stamp) {
        match self.adds.iter_mut().find(|a| a.stamp.node == stamp.node) {
            Some(mine) => {
                mine.sum = mine.sum.wrapping_add(delta);
                mine.stamp = mine.stamp.max(stamp);
            }
            None => self.adds.push(Add { sum: delta, stamp }),
        }
        self.render();
    }

    /// Takes in another copy of the same base (equal `reset`): node by node, the later sum.
    pub fn merge(&mut self, other: &Counter) {
        debug_assert_eq!(self.reset, other.reset, "counters of different bases do not merge");
        for theirs in &other.adds {
            match self.adds.iter_mut().find(|a| a.stamp.node == theirs.stamp.node) {
                Some(mine) if mine.stamp < theirs.stamp => *mine = *theirs,
                Some(_) => {}
                None => self.adds.push(*theirs),
            }
        }
        self.render();
    }

    /// Whether two copies hold the same state (whatever order their nodes came in).
    pub fn same_state(&self, other: &Counter) -> bool {
        self.base == other.base
            && self.reset == other.reset
            && self.adds.len() == other.adds.len()
            && self.adds.iter().all(|a| other.adds.contains(a))
    }

    /// Bytes this counter takes beyond a plain string's (for MEMORY USAGE and the benchmarks).
    pub fn overhead(&self) -> usize {
        std::mem::size_of::<Counter>()
            + if self.adds.spilled() { self.adds.capacity() * std::mem::size_of::<Add>() } else { 0 }
    }

    fn render(&mut self) {
        self.shown = int_bytes(self.total());
    }
}

fn int_bytes(n: i64) -> Bytes {
    Bytes::from(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(hlc: u64, node: u64) -> Stamp {
        Stamp { hlc, node }
    }

    #[test]
    fn increments_on_different_nodes_all_count_whatever_the_merge_order() {
        let base = Counter::starting_from(10, stamp(1, 1));
        let (mut a, mut b) = (base.clone(), base.clone());
        a.add(5, stamp(2, 1));
        b.add(7, stamp(3, 2));
        b.add(-1, stamp(4, 2));
        let (mut ab, mut ba) = (a.clone(), b.clone());
        ab.merge(&b);
        ba.merge(&a);
        assert_eq!(ab.shown().as_ref(), b"21");
        assert!(ab.same_state(&ba));
        let again = ab.clone();
        ab.merge(&again);
        ab.merge(&a);
        assert!(ab.same_state(&again), "merging is idempotent and an old copy changes nothing");
    }

    #[test]
    fn a_later_copy_of_one_nodes_sum_replaces_the_earlier() {
        let mut old = Counter::starting_from(0, Stamp::default());
        old.add(1, stamp(5, 3));
        let mut new = old.clone();
        new.add(1, stamp(6, 3));
        old.merge(&new);
        assert_eq!(old.total(), 2);
        new.merge(&Counter::from_parts(0, Stamp::default(), [Add { sum: 1, stamp: stamp(5, 3) }]));
        assert_eq!(new.total(), 2);
    }

    #[test]
    fn the_total_is_exact_when_parts_wrap() {
        let mut c = Counter::starting_from(i64::MAX, Stamp::default());
        c.add(i64::MAX, stamp(1, 1));
        c.add(-i64::MAX, stamp(2, 2));
        c.add(-i64::MAX, stamp(3, 1));
        assert_eq!(c.total(), 0);
        assert_eq!(c.shown().as_ref(), b"0");
    }
}
