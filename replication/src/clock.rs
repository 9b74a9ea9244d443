//! A hybrid logical clock packed in one `AtomicU64`.
//!
//! The high 48 bits are wall-clock milliseconds, the low 16 a logical counter. A new stamp is the
//! larger of "wall clock now" and "last stamp + 1", so stamps never go backwards even when the wall
//! clock does, and a node's own writes are always newer than every stamp it has seen (read-your-
//! writes on one node). Remote stamps advance the clock too, unless they are further ahead of the
//! local wall clock than the configured drift bound: those are refused, never silently accepted.
//!
//! The clock starts at 0 in every run; what the node loads at start (its snapshot, or the FLASH
//! tier's newest stamp) is [witnessed](Clock::witness) before the first client connects, so a
//! write after a restart is newer than everything the node held, even stamps of a peer whose
//! clock ran ahead of ours (within the drift bound, which is checked when they first arrive).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use meshkv_storage::{Clock, Stamp};

use crate::ceiling::{Ceiling, MARGIN_MS};
use thiserror::Error;

/// Why a remote stamp was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ClockError {
    /// The stamp's physical time is further ahead of our wall clock than `max-clock-drift`.
    #[error("remote stamp is {ahead_ms} ms ahead of the local clock (max-clock-drift is {max_drift_ms} ms)")]
    TooFarAhead {
        /// How far ahead the stamp was.
        ahead_ms: u64,
        /// The configured bound.
        max_drift_ms: u64,
    },
}

/// The node's hybrid logical clock.
pub struct HybridClock {
    last: AtomicU64,
    node: u64,
    max_drift_ms: AtomicU64,
    /// The bound kept on disk that this run's stamps stay under (see [`Ceiling`]).
    ceiling: OnceLock<Ceiling>,
}

impl HybridClock {
    /// A clock for node `node` that refuses remote stamps more than `max_drift_ms` ahead.
    /// It reads no clock itself: callers pass their reading of the wall clock.
    pub fn new(node: u64, max_drift_ms: u64) -> HybridClock {
        HybridClock {
            last: AtomicU64::new(0),
            node,
            max_drift_ms: AtomicU64::new(max_drift_ms),
            ceiling: OnceLock::new(),
        }
    }

    /// Gives the clock its ceiling file (dormant until [`HybridClock::keep_ceiling`]), after the
    /// caller witnessed what the last run left in it.
    pub fn set_ceiling(&self, ceiling: Ceiling) {
        let _ = self.ceiling.set(ceiling);
    }

    /// Starts keeping the ceiling on disk (replication starts).
    pub fn keep_ceiling(&self) {
        if let Some(ceiling) = self.ceiling.get() {
            ceiling.activate();
            ceiling.cover(self.peek());
        }
    }

    /// Keeps the ceiling ahead of the wall clock (about once a second, off the write path).
    pub fn tick(&self, wall_ms: u64) {
        if let Some(ceiling) = self.ceiling.get() {
            ceiling.cover((wall_ms + MARGIN_MS) << Stamp::LOGICAL_BITS);
        }
    }

    /// Writes of the ceiling file that failed (INFO).
    pub fn ceiling_failures(&self) -> u64 {
        self.ceiling.get().map_or(0, |c| c.failures.load(Ordering::Relaxed))
    }

    /// The node id this clock stamps writes with.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// Changes the drift bound (CONFIG SET max-clock-drift).
    pub fn set_max_drift_ms(&self, ms: u64) {
        self.max_drift_ms.store(ms, Ordering::Relaxed);
    }

    /// The last stamp handed out or observed, without advancing.
    pub fn peek(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Takes a stamp seen from a peer into account: later local stamps will be greater than it.
    /// `wall_ms` is the local wall clock now (the caller's reading, as for [`Clock::stamp`]).
    pub fn observe(&self, remote: Stamp, wall_ms: u64) -> Result<(), ClockError> {
        let max_drift_ms = self.max_drift_ms.load(Ordering::Relaxed);
        let ahead_ms = remote.physical_ms().saturating_sub(wall_ms);
        if ahead_ms > max_drift_ms {
            return Err(ClockError::TooFarAhead { ahead_ms, max_drift_ms });
        }
        self.last.fetch_max(remote.hlc, Ordering::AcqRel);
        if let Some(ceiling) = self.ceiling.get() {
            ceiling.cover(remote.hlc); // here, on the link, rather than in a write under locks
        }
        Ok(())
    }
}

impl Clock for HybridClock {
    fn stamp(&self, wall_ms: u64) -> Stamp {
        let wall = wall_ms << Stamp::LOGICAL_BITS;
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let next = wall.max(last + 1);
            match self.last.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if let Some(ceiling) = self.ceiling.get() {
                        ceiling.cover(next);
                    }
                    return Stamp { hlc: next, node: self.node };
                }
                Err(actual) => last = actual,
            }
        }
    }

    /// A plain advance, with no drift check: the stamp comes from this node's own disk.
    fn witness(&self, stamp: Stamp) {
        self.last.fetch_max(stamp.hlc, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64 as Fake;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn system_ms() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    static FAKE_MS: Fake = Fake::new(1_000);
    fn fake() -> u64 {
        FAKE_MS.load(Ordering::SeqCst)
    }

    #[test]
    fn never_goes_backwards_and_passes_observed_stamps() {
        let clock = HybridClock::new(7, 500);
        let a = clock.stamp(fake());
        assert_eq!(a.physical_ms(), 1_000);
        FAKE_MS.store(900, Ordering::SeqCst); // the wall clock steps back
        let b = clock.stamp(fake());
        assert!(b > a, "stamp went backwards: {b:?} after {a:?}");
        let remote = Stamp { hlc: (1_200 << 16) | 3, node: 1 };
        assert_eq!(clock.observe(remote, fake()), Ok(()));
        let c = clock.stamp(fake());
        assert!(c.hlc > remote.hlc);
        let too_far = Stamp { hlc: 5_000 << 16, node: 1 };
        assert!(matches!(clock.observe(too_far, fake()), Err(ClockError::TooFarAhead { .. })));
        assert!(clock.peek() < too_far.hlc, "a refused stamp must not move the clock");
        FAKE_MS.store(1_000, Ordering::SeqCst);
    }

    #[test]
    fn a_witnessed_stamp_is_never_refused_and_later_stamps_pass_it() {
        let clock = HybridClock::new(2, 500);
        let wall = 10_000;
        // A peer's stamp far ahead of this wall clock, loaded from disk: taken all the same.
        let loaded = Stamp { hlc: ((wall + 60_000) << 16) | 9, node: 1 };
        clock.witness(loaded);
        assert_eq!(clock.peek(), loaded.hlc);
        let next = clock.stamp(wall);
        assert!(next > loaded, "a write after loading must win over what was loaded: {next:?} <= {loaded:?}");
        // Witnessing an older stamp moves nothing.
        clock.witness(Stamp { hlc: 1, node: 1 });
        assert_eq!(clock.peek(), next.hlc);
        // The FLASH tier's bound (its newest clock reading, any node) is passed too.
        let bound = Stamp::last_of(next.hlc + 5);
        clock.witness(bound);
        assert!(clock.stamp(wall) > bound);
    }

    #[test]
    fn concurrent_stamps_are_unique() {
        let clock = std::sync::Arc::new(HybridClock::new(1, 1000));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let c = clock.clone();
                std::thread::spawn(move || (0..10_000).map(|_| c.stamp(system_ms()).hlc).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
