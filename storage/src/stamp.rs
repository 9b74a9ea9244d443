//! Write stamps: which write to a key is the newest.
//!
//! Every entry remembers the stamp of the write that produced it. A stamp is a hybrid-logical-clock
//! reading (`hlc`: milliseconds since the Unix epoch in the high 48 bits, a logical counter in the low
//! 16) and the id of the node that accepted the write. Stamps are totally ordered: first by `hlc`,
//! then by `node`, so two masters can never disagree about which of two writes won.
//!
//! The storage crate does not read clocks itself: it asks a [`Clock`] (the replication crate owns the
//! real hybrid logical clock) for a stamp the first time a transaction writes.

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
}

/// A source of fresh stamps, each greater than every stamp it handed out or observed before.
pub trait Clock: Send + Sync {
    /// A new stamp for a local write made at `wall_ms` (the caller's reading of the wall clock, in
    /// Unix milliseconds: the command's time, read once per batch of commands, not per write).
    fn stamp(&self, wall_ms: u64) -> Stamp;
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
}
