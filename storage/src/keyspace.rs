//! The keyspace: every database's shards, and the locking discipline around them.
//!
//! All shards of all databases live in one array, `databases × SHARDS_PER_DB` long; a key's shard
//! is the top bits of its hash. A command locks the shards of the keys it names, in ascending index
//! order (so two commands can never deadlock), and works on them through a [`Txn`]. There is no
//! lock above the shards: commands on different shards run in parallel.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;
use tokio::sync::Notify;

use crate::cut::Cut;
use crate::entry::Entry;
use crate::evict::Occupancy;
use crate::key::{Key, KeyHasher};
use crate::shard::Shard;
use crate::stamp::Clock;
use crate::stats::StripedCounter;
use crate::txn::Txn;

/// Shards per database. Many more than worker threads, so that two busy clients rarely share one.
pub const SHARDS_PER_DB: usize = 256;
const SHARD_BITS: u32 = SHARDS_PER_DB.trailing_zeros();

/// Counters the keyspace keeps for INFO.
#[derive(Default)]
pub struct KeyspaceStats {
    /// Writes since start (Redis's `dirty` counter, the basis of `save` rules).
    pub dirty: StripedCounter,
    /// Keys removed because their time to live ran out.
    pub expired_keys: StripedCounter,
    /// Reads that found their key.
    pub hits: StripedCounter,
    /// Reads that did not.
    pub misses: StripedCounter,
    /// Keys removed to get under the memory limit.
    pub evicted_keys: StripedCounter,
}

/// All databases of one node.
pub struct Keyspace {
    pub(crate) shards: Box<[Mutex<Shard>]>,
    databases: usize,
    hasher: KeyHasher,
    pub(crate) clock: Arc<dyn Clock>,
    /// Counters for INFO.
    pub stats: KeyspaceStats,
    /// Which shards held keys lately (eviction's sampling draws from these).
    pub(crate) occupancy: Mutex<Arc<Occupancy>>,
}

/// The shards one command will lock, collected before locking.
#[derive(Default, Debug, Clone)]
pub struct LockSet {
    shards: SmallVec<[u32; 4]>,
    all: bool,
}

impl LockSet {
    /// Empties the set for reuse.
    pub fn clear(&mut self) {
        self.shards.clear();
        self.all = false;
    }

    /// Adds the shard of `key` in `db`.
    pub fn add(&mut self, ks: &Keyspace, db: usize, key: &Key) {
        self.shards.push(ks.shard_index(db, key));
    }

    /// Adds every shard of `db`.
    pub fn add_db(&mut self, db: usize) {
        let first = (db * SHARDS_PER_DB) as u32;
        self.shards.extend(first..first + SHARDS_PER_DB as u32);
    }

    /// Locks everything (FLUSHALL, SWAPDB, MOVE).
    pub fn add_all(&mut self) {
        self.all = true;
    }

    /// Merges another set into this one (EXEC collects its queued commands' sets).
    pub fn extend(&mut self, other: &LockSet) {
        self.all |= other.all;
        self.shards.extend_from_slice(&other.shards);
    }
}

impl Keyspace {
    /// A keyspace of `databases` empty databases that stamps writes with `clock`.
    pub fn new(databases: usize, clock: Arc<dyn Clock>, hasher: KeyHasher) -> Keyspace {
        let shards = (0..databases * SHARDS_PER_DB).map(|_| Mutex::new(Shard::default())).collect();
        let occupancy = Mutex::default();
        Keyspace { shards, databases, hasher, clock, stats: KeyspaceStats::default(), occupancy }
    }

    /// Number of databases (SELECT's range).
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// Turns bytes into a key of this keyspace.
    pub fn key(&self, bytes: Bytes) -> Key {
        self.hasher.key(bytes)
    }

    /// The index of the shard holding `key` in `db`.
    pub fn shard_index(&self, db: usize, key: &Key) -> u32 {
        (db * SHARDS_PER_DB) as u32 + (key.hash() >> (64 - SHARD_BITS)) as u32
    }

    /// Locks the shards in `set` (in ascending order) and opens a transaction over them.
    pub fn lock(&self, set: &mut LockSet, now_ms: u64) -> Txn<'_> {
        if set.all {
            return self.lock_all(now_ms);
        }
        set.shards.sort_unstable();
        set.shards.dedup();
        let guards = set.shards.iter().map(|&i| (i, self.shards[i as usize].lock())).collect();
        Txn::new(self, guards, now_ms)
    }

    /// A transaction that holds no locks (commands that touch no key).
    pub fn lock_none(&self, now_ms: u64) -> Txn<'_> {
        Txn::new(self, SmallVec::new(), now_ms)
    }

    /// Locks every shard of every database.
    pub fn lock_all(&self, now_ms: u64) -> Txn<'_> {
        let guards = self.shards.iter().enumerate().map(|(i, s)| (i as u32, s.lock())).collect();
        Txn::new(self, guards, now_ms)
    }

    /// A consistent cut of `db`: every shard is locked at once for as long as it takes to clone its
    /// table's `Arc`, then writers go on while the cut is read.
    pub fn cut(&self, db: usize, now_ms: u64) -> Cut {
        let range = db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB;
        let guards: Vec<MutexGuard<'_, Shard>> = self.shards[range].iter().map(|s| s.lock()).collect();
        Cut::new(guards.iter().map(|g| g.map.clone()).collect(), now_ms)
    }

    /// A consistent cut of every database at once (snapshots): every shard of every database is
    /// locked together for as long as it takes to clone the tables' `Arc`s.
    pub fn cut_all(&self, now_ms: u64) -> Vec<(usize, Cut)> {
        let guards: Vec<MutexGuard<'_, Shard>> = self.shards.iter().map(|s| s.lock()).collect();
        guards
            .chunks(SHARDS_PER_DB)
            .enumerate()
            .map(|(db, shards)| (db, Cut::new(shards.iter().map(|g| g.map.clone()).collect(), now_ms)))
            .collect()
    }

    /// Puts an entry back as it was saved, stamp and expiry included (loading a snapshot, and the
    /// FLASH tier bringing a cold key back into RAM). Not a write: nothing is counted or signalled.
    pub fn restore(&self, db: usize, key: Key, entry: Entry) {
        self.shards[self.shard_index(db, &key) as usize].lock().insert(key, entry);
    }

    /// Number of keys and of keys with an expiry in `db` (shard by shard, not a consistent cut).
    pub fn db_size(&self, db: usize) -> (usize, usize) {
        self.shards[db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB]
            .iter()
            .map(|s| {
                let s = s.lock();
                (s.len(), s.expiring())
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// Active expiry: removes keys whose time ran out, at most `limit` per shard, skipping shards
    /// that are busy right now (they are visited on the next cycle). Returns the number removed.
    pub fn expire_cycle(&self, now_ms: u64, limit: usize) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let Some(mut shard) = shard.try_lock() else { continue };
            for key in shard.due(now_ms, limit) {
                shard.remove(&key);
                shard.signal(&key);
                removed += 1;
            }
        }
        self.stats.expired_keys.add(removed as u64);
        removed
    }

    /// Registers a WATCH: `flag` is raised by the next write to `key` in `db`.
    pub fn watch(&self, db: usize, key: Key, flag: Arc<AtomicBool>) {
        self.shards[self.shard_index(db, &key) as usize].lock().watch(key, flag);
    }

    /// Drops a WATCH registration.
    pub fn unwatch(&self, db: usize, key: &Key, flag: &Arc<AtomicBool>) {
        self.shards[self.shard_index(db, key) as usize].lock().unwatch(key, flag);
    }

    /// Drops a blocked client's registration on `key`.
    pub fn unblock(&self, db: usize, key: &Key, waiter: &Arc<Notify>) {
        self.shards[self.shard_index(db, key) as usize].lock().unblock(key, waiter);
    }
}
