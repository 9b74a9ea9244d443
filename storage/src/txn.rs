//! A transaction: the shards one command (or one EXEC) holds locked, and every operation on keys.
//!
//! All reads and writes of keys go through here, which is what keeps the invariants in one place:
//! expired keys are removed when touched (lazy expiry), every write takes the transaction's stamp
//! and wakes WATCHers and blocked clients of its key, and the expiry index follows every TTL change.
//!
//! Touching a key whose shard this transaction did not lock is a bug in the command's key
//! specification; it panics (the server turns that into an error for that one client).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use parking_lot::MutexGuard;
use smallvec::SmallVec;
use tokio::sync::Notify;

use crate::cut::Cut;
use crate::entry::Entry;
use crate::error::StorageError;
use crate::key::Key;
use crate::keyspace::{Keyspace, SHARDS_PER_DB};
use crate::shard::Shard;
use crate::stamp::Stamp;
use crate::value::Value;

/// What happens to a key's expiry when a write replaces its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry (SET without options clears any TTL).
    Persist,
    /// Keep the current expiry, if any (SET ... KEEPTTL, and in-place modifications).
    Keep,
    /// Expire at this Unix time in milliseconds.
    At(u64),
}

/// Locked shards plus the time and stamp of the command running on them.
pub struct Txn<'a> {
    ks: &'a Keyspace,
    guards: SmallVec<[(u32, MutexGuard<'a, Shard>); 2]>,
    now_ms: u64,
    stamp: Option<Stamp>,
    dirty: u64,
    expired: u64,
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        self.ks.stats.dirty.add(self.dirty);
        self.ks.stats.expired_keys.add(self.expired);
    }
}

impl<'a> Txn<'a> {
    pub(crate) fn new(ks: &'a Keyspace, guards: SmallVec<[(u32, MutexGuard<'a, Shard>); 2]>, now_ms: u64) -> Self {
        Txn { ks, guards, now_ms, stamp: None, dirty: 0, expired: 0 }
    }

    /// The keyspace this transaction works on.
    pub fn keyspace(&self) -> &'a Keyspace {
        self.ks
    }

    /// The command's time: one clock reading for the whole transaction, as Redis freezes time
    /// during a command.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Number of writes this transaction made.
    pub fn dirty(&self) -> u64 {
        self.dirty
    }

    /// The stamp of this transaction's writes (taken from the clock at the first write).
    pub fn stamp(&mut self) -> Stamp {
        *self.stamp.get_or_insert_with(|| self.ks.clock.stamp(self.now_ms))
    }

    fn pos(&self, db: usize, key: &Key) -> usize {
        let index = self.ks.shard_index(db, key);
        match self.guards.binary_search_by_key(&index, |g| g.0) {
            Ok(pos) => pos,
            Err(_) => panic!("shard {index} (db {db}) is not locked by this command"),
        }
    }

    /// The position of `key` in its shard if it is present and unexpired; an expired key is
    /// removed on the way (lazy expiry). One hash lookup: callers reach the entry by position.
    fn find(&mut self, pos: usize, key: &Key) -> Option<usize> {
        let now = self.now_ms;
        let shard = &mut self.guards[pos].1;
        let (index, entry) = shard.find(key)?;
        if entry.is_expired(now) {
            shard.remove(key);
            shard.signal(key);
            self.expired += 1;
            return None;
        }
        Some(index)
    }

    /// Looks a key up for reading: records a hit or miss and the access (for LRU/LFU).
    pub fn get(&mut self, db: usize, key: &Key) -> Option<&Entry> {
        let pos = self.pos(db, key);
        let Some(index) = self.find(pos, key) else {
            self.ks.stats.misses.add(1);
            return None;
        };
        self.ks.stats.hits.add(1);
        let entry = self.guards[pos].1.at(index);
        entry.access.touch(self.now_ms);
        Some(entry)
    }

    /// Looks a key up without counting it as a read (existence checks, writes that inspect first).
    pub fn peek(&mut self, db: usize, key: &Key) -> Option<&Entry> {
        let pos = self.pos(db, key);
        let index = self.find(pos, key)?;
        Some(self.guards[pos].1.at(index))
    }

    /// The key's value for reading, if present.
    pub fn value(&mut self, db: usize, key: &Key) -> Option<&Value> {
        self.get(db, key).map(|e| &e.value)
    }

    /// True if the key exists (and has not expired).
    pub fn exists(&mut self, db: usize, key: &Key) -> bool {
        let pos = self.pos(db, key);
        self.find(pos, key).is_some()
    }

    /// Marks a write to `key` in the shard at `pos`: wakes its watchers and waiters.
    fn wrote(&mut self, pos: usize, key: &Key) {
        self.dirty += 1;
        self.guards[pos].1.signal(key);
    }

    /// The key's value for modification in place. Call it only when the command will change the
    /// value: it stamps the entry and fails WATCHes on the key.
    pub fn modify(&mut self, db: usize, key: &Key) -> Option<&mut Value> {
        let pos = self.pos(db, key);
        let index = self.find(pos, key)?;
        let stamp = self.stamp();
        self.wrote(pos, key);
        let entry = self.guards[pos].1.at_mut(index);
        entry.stamp = stamp;
        Some(&mut entry.value)
    }

    /// The key's value for modification, created by `make` when absent. Fails with `WrongType`
    /// (before writing anything) if the existing value is not of the type `make` creates.
    pub fn modify_or_insert(
        &mut self,
        db: usize,
        key: &Key,
        make: impl FnOnce() -> Value,
    ) -> Result<&mut Value, StorageError> {
        let pos = self.pos(db, key);
        let (now, stamp) = (self.now_ms, self.stamp());
        let index = match self.find(pos, key) {
            Some(index) => {
                let fresh = make();
                if self.guards[pos].1.at(index).value.value_type() != fresh.value_type() {
                    return Err(StorageError::WrongType);
                }
                index
            }
            None => {
                let shard = &mut self.guards[pos].1;
                shard.insert(key.clone(), Entry::new(make(), stamp, None, now));
                shard.find(key).expect("just inserted").0
            }
        };
        self.wrote(pos, key);
        let entry = self.guards[pos].1.at_mut(index);
        entry.stamp = stamp;
        Ok(&mut entry.value)
    }

    /// Stores `value` under `key`, replacing whatever was there; returns the old entry.
    pub fn insert(&mut self, db: usize, key: Key, value: Value, expiry: Expiry) -> Option<Entry> {
        let (now, stamp) = (self.now_ms, self.stamp());
        let expire_at = match expiry {
            Expiry::Persist => None,
            Expiry::At(at) => Some(at),
            Expiry::Keep => self.peek(db, &key).and_then(|e| e.expire_at()),
        };
        self.insert_entry(db, key, Entry::new(value, stamp, expire_at, now))
    }

    /// Inserts a whole entry as it is, keeping its stamp and expiry (RENAME, MOVE, COPY, and later
    /// replication and snapshot loading). Returns the live entry it replaced.
    pub fn insert_entry(&mut self, db: usize, key: Key, entry: Entry) -> Option<Entry> {
        let pos = self.pos(db, &key);
        self.guards[pos].1.signal(&key);
        self.dirty += 1;
        let old = self.guards[pos].1.insert(key, entry)?;
        if old.is_expired(self.now_ms) {
            self.expired += 1;
            return None;
        }
        Some(old)
    }

    /// Deletes a key; returns its entry if it existed.
    pub fn remove(&mut self, db: usize, key: &Key) -> Option<Entry> {
        let pos = self.pos(db, key);
        self.find(pos, key)?;
        let old = self.guards[pos].1.remove(key);
        self.wrote(pos, key);
        old
    }

    /// Deletes the key if it holds an empty collection (after a pop or remove emptied it).
    pub fn remove_if_empty(&mut self, db: usize, key: &Key) -> bool {
        let pos = self.pos(db, key);
        let empty = self.guards[pos].1.get(key).is_some_and(|e| e.value.is_empty_collection());
        if empty {
            self.guards[pos].1.remove(key);
        }
        empty
    }

    /// Sets or clears a present key's expiry. False if the key does not exist.
    pub fn set_expire(&mut self, db: usize, key: &Key, expire_at: Option<u64>) -> bool {
        let pos = self.pos(db, key);
        if self.find(pos, key).is_none() {
            return false;
        }
        let stamp = self.stamp();
        let shard = &mut self.guards[pos].1;
        shard.set_expire(key, expire_at);
        if let Some((index, _)) = shard.find(key) {
            shard.at_mut(index).stamp = stamp;
        }
        self.wrote(pos, key);
        true
    }

    /// Registers a blocked client on `key`: `waiter` is notified at the next write to it.
    pub fn block_on(&mut self, db: usize, key: &Key, waiter: Arc<Notify>) {
        let pos = self.pos(db, key);
        self.guards[pos].1.block_on(key.clone(), waiter);
    }

    /// Registers a WATCH on `key` while its shard is locked (so no write can slip in between the
    /// check of the key and the registration).
    pub fn watch(&mut self, db: usize, key: &Key, flag: Arc<AtomicBool>) {
        let pos = self.pos(db, key);
        self.guards[pos].1.watch(key.clone(), flag);
    }

    // ---- whole-database operations: the transaction must hold every shard of the database ----

    fn db_range(&self, db: usize) -> std::ops::Range<usize> {
        let first = (db * SHARDS_PER_DB) as u32;
        let start = self.guards.partition_point(|g| g.0 < first);
        let end = start + SHARDS_PER_DB;
        assert!(
            end <= self.guards.len() && self.guards[end - 1].0 == first + SHARDS_PER_DB as u32 - 1,
            "database {db} is not wholly locked by this command"
        );
        start..end
    }

    /// Number of keys in `db` (expired keys not yet removed included, as Redis's DBSIZE).
    pub fn db_len(&self, db: usize) -> usize {
        self.guards[self.db_range(db)].iter().map(|g| g.1.len()).sum()
    }

    /// Removes every key of `db`; returns how many there were.
    pub fn clear_db(&mut self, db: usize) -> usize {
        let range = self.db_range(db);
        let mut removed = 0;
        for (_, shard) in &mut self.guards[range] {
            let gone = shard.clear();
            removed += gone.len();
            shard.signal_present(&gone);
        }
        self.dirty += removed as u64;
        removed
    }

    /// Exchanges the contents of two databases.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (ra, rb) = (self.db_range(a), self.db_range(b));
        let (lo, hi) = if ra.start < rb.start { (ra, rb) } else { (rb, ra) };
        let (left, right) = self.guards.split_at_mut(hi.start);
        for (x, y) in left[lo].iter_mut().zip(right[..SHARDS_PER_DB].iter_mut()) {
            x.1.swap_data(&mut y.1);
            let (now_x, now_y) = (x.1.map.clone(), y.1.map.clone());
            for shard in [&mut x.1, &mut y.1] {
                shard.signal_present(&now_x);
                shard.signal_present(&now_y);
            }
        }
        self.dirty += 1;
    }

    /// A consistent cut of a wholly locked `db` (KEYS, DEBUG DIGEST, RANDOMKEY inside EXEC).
    pub fn cut(&self, db: usize) -> Cut {
        Cut::new(self.guards[self.db_range(db)].iter().map(|g| g.1.map.clone()).collect(), self.now_ms)
    }

    /// Visits the live keys of a wholly locked `db` whose hash lies in a window that starts at
    /// `cursor`, about `count` of them, and returns where the next window starts (0 at the end).
    ///
    /// Windows are ranges of hash values and never overlap, so a key present for a whole iteration
    /// is visited exactly once, however the tables grow or shrink in between (SCAN's guarantee).
    /// A window never crosses a shard; its width is guessed from the shard's size, so that a call
    /// visits about `count` keys, and a shard is swept in at most `MAX_PASSES` windows (each window
    /// reads the whole shard table).
    pub fn scan(&self, db: usize, cursor: u64, count: usize, mut visit: impl FnMut(&Key, &Entry)) -> u64 {
        const MAX_PASSES: u64 = 64;
        let span = 1u64 << (64 - SHARDS_PER_DB.trailing_zeros()); // hash values per shard
        let range = self.db_range(db);
        let mut start = cursor;
        let mut seen = 0usize;
        loop {
            let shard = &self.guards[range.start + (start / span) as usize].1;
            let shard_end = (start / span) * span + (span - 1); // inclusive: the last shard ends at u64::MAX
            let want = count.saturating_sub(seen).max(1) as u64;
            let len = shard.len().max(1) as u64;
            let width = (span / len).saturating_mul(want).max(span / MAX_PASSES);
            let end = start.saturating_add(width - 1).min(shard_end); // inclusive
            for (key, entry) in shard.iter() {
                if (start..=end).contains(&key.hash()) {
                    seen += 1;
                    if !entry.is_expired(self.now_ms) {
                        visit(key, entry);
                    }
                }
            }
            if end == u64::MAX {
                return 0;
            }
            start = end + 1;
            if seen >= count {
                return start;
            }
        }
    }

    /// A random live key of a wholly locked `db`.
    pub fn random_key(&mut self, db: usize) -> Option<Key> {
        let range = self.db_range(db);
        for _ in 0..100 {
            let total: usize = self.guards[range.clone()].iter().map(|g| g.1.len()).sum();
            if total == 0 {
                return None;
            }
            // A shard chosen in proportion to its size, then a uniform key of it.
            let mut n = rand::random_range(0..total);
            let shard = self.guards[range.clone()]
                .iter()
                .find(|g| {
                    if n < g.1.len() {
                        true
                    } else {
                        n -= g.1.len();
                        false
                    }
                })
                .map(|g| &g.1)?;
            let (key, entry) = shard.random()?;
            if !entry.is_expired(self.now_ms) {
                return Some(key.clone());
            }
            let key = key.clone();
            self.remove(db, &key);
            self.expired += 1;
        }
        None
    }
}
