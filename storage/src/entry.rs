//! One key's entry: its value, expiry, write stamp and access statistics.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::stamp::Stamp;
use crate::value::Value;

/// What the keyspace stores under a key.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// The stamp of the write that last changed this entry.
    pub stamp: Stamp,
    /// Absolute expiry in Unix milliseconds (never 0, which leaves `Option` a niche: 8 bytes).
    /// Private: the shard keeps an index of expiring keys in step with it, so only the shard
    /// changes it.
    expiry: Option<NonZeroU64>,
    /// Access statistics (LRU clock, LFU counter), updated by readers through a shared reference.
    pub(crate) access: Access,
}

impl Entry {
    pub(crate) fn new(value: Value, stamp: Stamp, expire_at: Option<u64>, now_ms: u64) -> Entry {
        Entry { value, stamp, expiry: to_expiry(expire_at), access: Access::new(now_ms) }
    }

    /// The entry as RAM takes it back from the FLASH tier: its LFU counter starts one below a new
    /// key's. The read that brought it back lifts it to where a fresh write starts, so a key read
    /// once since it came back ranks below every key read again, and under `allkeys-lfu` the
    /// one-off reads of cold keys leave RAM before the hot keys they would otherwise push out.
    pub(crate) fn read_back(self) -> Entry {
        self.access.set_counter(LFU_INIT - 1);
        self
    }

    /// Sets the LFU counter (a key coming back into RAM with the counter it had when evicted).
    pub(crate) fn set_frequency(&self, counter: u8) {
        self.access.set_counter(u64::from(counter));
    }

    /// Absolute expiry in Unix milliseconds, if the key has one.
    pub fn expire_at(&self) -> Option<u64> {
        self.expiry.map(NonZeroU64::get)
    }

    /// Replaces the expiry; returns the old one. Only the shard calls this (see `expiry`).
    pub(crate) fn replace_expire_at(&mut self, expire_at: Option<u64>) -> Option<u64> {
        std::mem::replace(&mut self.expiry, to_expiry(expire_at)).map(NonZeroU64::get)
    }

    /// True if the entry's expiry time has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        matches!(self.expire_at(), Some(at) if at <= now_ms)
    }

    /// Milliseconds since the entry was last read or written.
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.access.last_ms())
    }

    /// The logarithmic access-frequency counter (Redis's LFU counter).
    pub fn frequency(&self) -> u8 {
        self.access.counter()
    }

    /// The LFU counter as Redis's `LFUDecrAndReturn` sees it at `now_ms`: lowered by one for every
    /// `decay_minutes` the key sat idle (0: never lowered). The stored counter is left alone.
    pub fn lfu_counter(&self, now_ms: u64, decay_minutes: u64) -> u8 {
        let counter = self.frequency();
        if decay_minutes == 0 {
            return counter;
        }
        let periods = self.idle_ms(now_ms) / 60_000 / decay_minutes;
        counter.saturating_sub(periods.min(255) as u8)
    }
}

/// Last-access time (ms, 56 bits) and an 8-bit logarithmic access counter, packed in one atomic
/// so that readers holding only `&Entry` can record an access.
#[derive(Debug)]
pub(crate) struct Access(AtomicU64);

/// Redis's initial LFU counter for new keys.
pub(crate) const LFU_INIT: u64 = 5;

impl Access {
    fn new(now_ms: u64) -> Access {
        Access(AtomicU64::new(pack(now_ms, LFU_INIT)))
    }

    fn last_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed) >> 8
    }

    fn counter(&self) -> u8 {
        (self.0.load(Ordering::Relaxed) & 0xff) as u8
    }

    /// Sets the LFU counter, leaving the access time as it is.
    fn set_counter(&self, counter: u64) {
        self.0.store(pack(self.last_ms(), counter), Ordering::Relaxed);
    }

    /// Records an access: refreshes the LRU time and bumps the LFU counter probabilistically
    /// (the more it has counted, the less likely another increment; as Redis's lfu-log-factor 10).
    /// Readers call this under their shard's lock, so a plain load and store suffice; a cut's
    /// readers never touch.
    pub(crate) fn touch(&self, now_ms: u64) {
        let old = self.0.load(Ordering::Relaxed);
        let mut counter = old & 0xff;
        if counter < 255 {
            let base = counter.saturating_sub(LFU_INIT) as f64;
            if unit_random() < 1.0 / (base * 10.0 + 1.0) {
                counter += 1;
            }
        }
        self.0.store(pack(now_ms, counter), Ordering::Relaxed);
    }
}

/// A cheap uniform number in [0, 1): a per-thread xorshift64* generator. The LFU counter needs
/// only a fair coin, not a cryptographic one, and runs on every read.
fn unit_random() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(rand::random::<u64>() | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// An expiry as stored: Unix millisecond 0 (long past, like 1) is kept as 1.
fn to_expiry(expire_at: Option<u64>) -> Option<NonZeroU64> {
    expire_at.map(|at| NonZeroU64::new(at.max(1)).expect("at least 1"))
}

fn pack(ms: u64, counter: u64) -> u64 {
    (ms << 8) | (counter & 0xff)
}

impl Clone for Access {
    fn clone(&self) -> Self {
        Access(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}
