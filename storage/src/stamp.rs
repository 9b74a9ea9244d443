//! Write stamps: which write to a key is the newest.
//!
//! Every entry remembers the stamp of the write that produced it. A stamp is a hybrid-logical-clock
//! reading (`hlc`: milliseconds since the Unix epoch in the high 48 bits, a logical counter in the low
//! 16) and the id of the node that accepted the write. Stamps are totally ordered: first by `hlc`,
//! then by `node`, so two masters can never disagree about which of two writes won.
//!
//! The storage crate does not read clocks itself: it asks a [`Clock`] (the replication crate owns the
//! real hybrid logical clock) for a stamp the first time a command writes, and tells it of every
//! stamp it loads from disk ([`Clock::witness`]), so that a write made after a restart is newer
//! than everything the node held before it.

/// The stamp of one write: `(hlc, node)`, ordered lexicographically.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Hybrid logical clock reading: `physical_ms << 16 | logical`.
    pub hlc: u64,
    /// The id of the node that accepted the write (derived from its UUID).
    pub node: u64,
}

impl Stamp {
    /// Number of low bits of `hlc` that hold the logical counter.
    pub const LOGICAL_BITS: u32 = 16;

    /// The wall-clock milliseconds part of the stamp.
    pub fn physical_ms(&self) -> u64 {
        self.hlc >> Self::LOGICAL_BITS
    }

    /// The logical counter part of the stamp.
    pub fn logical(&self) -> u16 {
        (self.hlc & 0xffff) as u16
    }

    /// The greatest stamp with clock reading `hlc`, whatever node made it: a bound for stamps of
    /// which only the clock reading was kept (the FLASH tier keeps only that of its newest change).
    pub fn last_of(hlc: u64) -> Stamp {
        Stamp { hlc, node: u64::MAX }
    }
}

/// A source of fresh stamps, each greater than every stamp it handed out or observed before.
pub trait Clock: Send + Sync {
    /// A new stamp for a local write made at `wall_ms` (the caller's reading of the wall clock, in
    /// Unix milliseconds: the command's time, read once per batch of commands, not per write).
    fn stamp(&self, wall_ms: u64) -> Stamp;

    /// Takes into account a stamp the node already holds, read back from its own disk (a
    /// snapshot's entries, tombstones and flush floors; the FLASH tier's newest change): every
    /// later stamp is greater. Unlike a peer's stamp, it is never refused for being ahead of the
    /// wall clock: it was accepted when it was first written, and a local write that came out
    /// older than it would lose to it on every peer while winning here.
    fn witness(&self, stamp: Stamp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_order_by_clock_then_node() {
        let a = Stamp { hlc: 5 << 16, node: 9 };
        let b = Stamp { hlc: (5 << 16) | 1, node: 1 };
        let c = Stamp { hlc: (5 << 16) | 1, node: 2 };
        assert!(a < b && b < c);
        assert_eq!(b.physical_ms(), 5);
        assert_eq!(b.logical(), 1);
    }

    #[test]
    fn last_of_bounds_every_stamp_with_its_clock_reading() {
        let bound = Stamp::last_of(5 << 16);
        assert!(Stamp { hlc: 5 << 16, node: 42 } <= bound);
        assert!(bound < Stamp { hlc: (5 << 16) + 1, node: 0 });
    }
}
