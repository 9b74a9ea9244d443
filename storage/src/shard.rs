//! A shard: one lock's worth of the keyspace.
//!
//! The keys live in a SwissTable (`hashbrown::HashTable`) whose buckets point to slots that hold
//! the key's bytes and its entry side by side, so a lookup costs one probe of the control bytes
//! and one slot, about as few cache misses as a hash table allows; a random key (RANDOMKEY,
//! eviction samples) is a random slot away. The table sits behind an `Arc`: a consistent cut of
//! the shard is a clone of that `Arc`, and the first write to a shard while a cut still holds it
//! copies the table (values are reference-counted or short, so the copy moves no long value's
//! bytes) and leaves the cut the old one. With many small shards a cut costs little memory: only
//! the shards written while it lives are copied, each once.
//!
//! Beside the table sit an index of expiring keys (active expiry pops it in time order), the
//! hooks of clients waiting on keys (WATCH and blocking pops), which every write consults, and,
//! once replication is on, the tombstones of deleted and expired keys: the stamp a key had when it
//! went, so that an older write arriving late from a peer cannot bring it back.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::HashTable;
use tokio::sync::Notify;

use crate::entry::Entry;
use crate::key::{Key, KeyHasher, StoredKey};
use crate::stamp::Stamp;

/// The tombstone of a key that is gone, kept once replication is on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Grave {
    /// The stamp of the delete, or of the key's last write for an expiry: older writes from peers
    /// are stale.
    pub(crate) stamp: Stamp,
    /// When the key went, in Unix ms: a delete's time (its stamp's), or the time a key expired
    /// at, which follows its last write by up to its TTL. Tombstones are kept for
    /// `repl-tombstone-ttl` from then: counted from the stamp, the tombstone of a key whose TTL
    /// was longer than that went within a second of the expiry.
    pub(crate) gone_ms: u64,
}

/// A key and its entry, in an allocation of their own that a shard's table points to: 96 bytes,
/// a jemalloc size class (a test holds it there).
#[derive(Clone)]
pub struct Slot {
    pub(crate) key: StoredKey,
    pub(crate) entry: Entry,
}

/// A bucket of a shard's table: a pointer to its slot. The slots are not in place because a
/// table is between 7/16 and 7/8 full once it has grown, and its empty buckets cost what a full
/// one does: with the 112-byte slots in place, the tables took 238 bytes per key at 1M keys (48%
/// full), more than the slots themselves. Behind a pointer, a bucket is 8 bytes and a control
/// byte, and each key's slot a 96-byte allocation.
pub(crate) type Bucket = Box<Slot>;

/// The table of a shard (and of a consistent cut of one).
pub type ShardMap = HashTable<Bucket>;

/// The table's hash of a key: the key's own hash (computed once, when the key was made), mixed.
/// The mix matters: every key of a shard shares the hash's top bits (they chose the shard), and
/// the table takes its control bytes from the top bits.
#[inline]
fn table_hash(key: &Key) -> u64 {
    mix(key.hash())
}

#[inline]
fn mix(hash: u64) -> u64 {
    hash.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The table's hash of a stored key, which keeps no hash of its own: for the table's rehash
/// when it grows or shrinks.
#[inline]
fn stored_hash(hasher: &KeyHasher) -> impl Fn(&Bucket) -> u64 + '_ {
    move |slot| mix(hasher.hash(slot.key.as_slice()))
}

/// The slot holding `key`. The table only asks about slots whose control byte matches seven bits
/// of the hash, almost surely the key: its value is asked for first (see `Value::prefetch`), so
/// that its cache miss overlaps the comparison of the key's bytes.
fn is(key: &Key) -> impl Fn(&Bucket) -> bool + '_ {
    move |slot| {
        slot.entry.value.prefetch();
        slot.key.as_slice() == &key.bytes()[..]
    }
}

/// One shard of one database.
pub struct Shard {
    pub(crate) map: Arc<ShardMap>,
    /// The keyspace's hasher: the slots keep no hashes (see [`StoredKey`]).
    hasher: KeyHasher,
    expires: BTreeSet<(u64, Key)>,
    hooks: Option<Box<Hooks>>,
    /// Replication only: the tombstones of keys that are gone. Empty, and never consulted, on a
    /// node without replication.
    tombstones: HashMap<Key, Grave>,
    /// Replication only: for a dotted set that was emptied or deleted, what is left of it (its
    /// base and the context of the adds the delete saw, no members), beside its tombstone. A
    /// peer's concurrent adds merge with it and survive (see `crate::crdt`); an add here starts
    /// from it. Each key here has a tombstone, and goes with it.
    ghosts: HashMap<Key, Entry>,
    /// Reached mutably since its lock was taken: its sizes are published when the lock goes (see
    /// [`ShardCell`]); a shard only read publishes nothing.
    reached_mutably: bool,
}

/// Clients interested in writes to particular keys of this shard.
#[derive(Default)]
struct Hooks {
    watched: HashMap<Key, Vec<Arc<AtomicBool>>>,
    blocked: HashMap<Key, Vec<Arc<Notify>>>,
}

impl Shard {
    /// An empty shard whose keys are hashed by `hasher` (the keyspace's).
    pub(crate) fn new(hasher: KeyHasher) -> Shard {
        Shard {
            map: Arc::default(),
            hasher,
            expires: BTreeSet::new(),
            hooks: None,
            tombstones: HashMap::new(),
            ghosts: HashMap::new(),
            reached_mutably: false,
        }
    }

    /// A stored key as a [`Key`] (in an allocation of its own).
    fn key_of(&self, slot: &Slot) -> Key {
        self.hasher.key_of(slot.key.as_slice())
    }

    /// The hash of a slot's key, which the slot does not keep (see [`StoredKey`]).
    fn hash_of(&self, slot: &Slot) -> u64 {
        self.hasher.hash(slot.key.as_slice())
    }

    /// The table for writing: copied first if a cut still shares it.
    fn map_mut(&mut self) -> &mut ShardMap {
        Arc::make_mut(&mut self.map)
    }

    pub(crate) fn get(&self, key: &Key) -> Option<&Entry> {
        self.map.find(table_hash(key), is(key)).map(|slot| &slot.entry)
    }

    /// The bytes and entry of a key whose hash is `hash` (the probation queue and eviction's
    /// samples know keys by hash only); `Key::copied` makes the key of the one that goes.
    pub(crate) fn get_by_hash(&self, hash: u64) -> Option<(&[u8], &Entry)> {
        let slot = self.map.find(mix(hash), |slot| self.hash_of(slot) == hash)?;
        Some((slot.key.as_slice(), &slot.entry))
    }

    /// Asks the CPU to start loading the slot `key` is likely in (the first whose control byte
    /// matches), without reading it: a command about to look up several keys asks for all of them
    /// first, so that their cache misses overlap instead of following one another.
    #[inline]
    pub(crate) fn prefetch(&self, key: &Key) {
        #[cfg(target_arch = "x86_64")]
        if let Some(slot) = self.map.find(table_hash(key), |_| true) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: prefetching is a hint that never faults; the address is the slot's.
            unsafe { _mm_prefetch::<_MM_HINT_T0>((&**slot as *const Slot).cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = key;
    }

    /// The slot index and entry of `key`: later accesses by index skip the probe. An index stays
    /// valid until the next insert or removal in this shard.
    pub(crate) fn find(&self, key: &Key) -> Option<(usize, &Entry)> {
        let index = self.map.find_bucket_index(table_hash(key), is(key))?;
        Some((index, self.at(index)))
    }

    pub(crate) fn at(&self, index: usize) -> &Entry {
        &self.map.get_bucket(index).expect("a slot index from find").entry
    }

    /// The entry at a slot found by [`Shard::find`], for writing. Its expiry must not be changed
    /// through this (use [`Shard::set_expire`]).
    pub(crate) fn at_mut(&mut self, index: usize) -> &mut Entry {
        &mut self.map_mut().get_bucket_mut(index).expect("a slot index from find").entry
    }

    /// A uniformly chosen key and entry, None if the shard is empty.
    pub(crate) fn random(&self) -> Option<(Key, &Entry)> {
        self.random_slot().map(|slot| (self.key_of(slot), &slot.entry))
    }

    fn random_slot(&self) -> Option<&Slot> {
        if self.map.is_empty() {
            return None;
        }
        let buckets = self.map.num_buckets();
        // Tables are at least about 40% full after growing, so a few draws find a slot; a table
        // emptied by deletes (it never shrinks by itself) falls back to counting.
        for _ in 0..32 {
            if let Some(slot) = self.map.get_bucket(rand::random_range(0..buckets)) {
                return Some(slot);
            }
        }
        self.map.iter().nth(rand::random_range(0..self.map.len())).map(|slot| &**slot)
    }

    /// Eviction's sample: the hash and entry of a uniformly chosen key, None if the shard is
    /// empty.
    pub(crate) fn sample(&self) -> Option<(u64, &Entry)> {
        self.random_slot().map(|slot| (self.hash_of(slot), &slot.entry))
    }

    /// Eviction's sample among keys with a TTL: the hash and entry of the one expiring soonest if
    /// `nearest`, else of a random one (a few random draws, then the soonest as a fallback, since
    /// the expiry index cannot be sampled uniformly); None if the shard has none.
    pub(crate) fn sample_expiring(&self, nearest: bool) -> Option<(u64, &Entry)> {
        let (_, soonest) = self.expires.first()?;
        if !nearest {
            for _ in 0..8 {
                match self.random_slot() {
                    Some(slot) if slot.entry.expire_at().is_some() => return Some((self.hash_of(slot), &slot.entry)),
                    _ => {}
                }
            }
        }
        let slot = self.map.find(table_hash(soonest), is(soonest))?;
        Some((soonest.hash(), &slot.entry))
    }

    /// Every key and entry, in table order, with the keys' hashes (SCAN's positions).
    pub(crate) fn iter_hashed(&self) -> impl Iterator<Item = (u64, &[u8], &Entry)> + '_ {
        self.map.iter().map(|slot| (self.hash_of(slot), slot.key.as_slice(), &slot.entry))
    }

    /// The keys of the entries for which `doomed` is true (FLUSHALL's stamp: the older ones).
    pub(crate) fn keys_where(&self, doomed: impl Fn(&Entry) -> bool) -> Vec<Key> {
        self.map.iter().filter(|slot| doomed(&slot.entry)).map(|slot| self.key_of(slot)).collect()
    }

    /// Stores `entry` under `key`; returns the entry it replaced. The slot copies the key's bytes
    /// (see [`StoredKey`]), the expiry index keeps a copy of its own, and a string value takes its
    /// stored form (see `Value::compact`): nothing stored pins the request, file or record the key
    /// and value came in.
    pub(crate) fn insert(&mut self, key: Key, entry: Entry) -> Option<Entry> {
        self.insert_at(key, entry).1
    }

    /// [`Shard::insert`], with the slot index of the key (see [`Shard::find`]).
    pub(crate) fn insert_at(&mut self, key: Key, mut entry: Entry) -> (usize, Option<Entry>) {
        entry.value.compact();
        let new_expiry = entry.expire_at();
        let map = Arc::make_mut(&mut self.map);
        let (index, old) = match map.entry(table_hash(&key), is(&key), stored_hash(&self.hasher)) {
            TableEntry::Occupied(mut slot) => {
                (slot.bucket_index(), std::mem::replace(&mut slot.get_mut().entry, entry))
            }
            TableEntry::Vacant(slot) => {
                let index = slot.insert(Box::new(Slot { key: StoredKey::new(key.bytes()), entry })).bucket_index();
                if !self.tombstones.is_empty() {
                    self.tombstones.remove(&key);
                    if !self.ghosts.is_empty() {
                        self.ghosts.remove(&key);
                    }
                }
                if let Some(at) = new_expiry {
                    self.expires.insert((at, key.detached()));
                }
                return (index, None);
            }
        };
        let old_expiry = old.expire_at();
        if old_expiry != new_expiry {
            if let Some(at) = old_expiry {
                self.expires.remove(&(at, key.clone()));
            }
            if let Some(at) = new_expiry {
                self.expires.insert((at, key.detached()));
            }
        }
        (index, Some(old))
    }

    pub(crate) fn remove(&mut self, key: &Key) -> Option<Entry> {
        let slot = self.map_mut().find_entry(table_hash(key), is(key)).ok()?;
        let (old, _) = slot.remove();
        self.shrink_if_sparse();
        if let Some(at) = old.entry.expire_at() {
            self.expires.remove(&(at, key.clone()));
        }
        Some(old.entry)
    }

    /// Drops a key's slot from RAM only (the FLASH tier's eviction: the key lives on in RocksDB).
    /// Its expiry stays indexed, so active expiry still finds it.
    pub(crate) fn evict_cached(&mut self, key: &Key) -> bool {
        match self.map_mut().find_entry(table_hash(key), is(key)) {
            Ok(slot) => {
                // The expiry index keeps the key (in bytes of its own since it was indexed).
                slot.remove();
                self.shrink_if_sparse();
                true
            }
            Err(_) => false,
        }
    }

    /// Gives memory back when a table's keys, with an eighth more room to grow, fit in half its
    /// buckets (tables never shrink by themselves: without this, a shard keeps the size of its
    /// busiest moment). Every doubling not shrunk back costs each of the shard's keys another
    /// bucket: a FLASH tier's shards hover at one size while keys come and go, and a lower bar
    /// (3/8 of capacity, measured) left a fifth of them at twice the buckets they needed. A
    /// shrunk table grows again only after an eighth more keys, and a resize of these small
    /// tables costs microseconds, so a shard that hovers at the bar does little work for it.
    fn shrink_if_sparse(&mut self) {
        // Room for 7/8 of the buckets when no slot is a tombstone (`capacity()` leaves the
        // tombstones out, and would hide how empty the table is).
        let (len, buckets) = (self.map.len(), self.map.num_buckets());
        let target = len + len / 8;
        if buckets > 64 && target <= buckets / 2 / 8 * 7 {
            Arc::make_mut(&mut self.map).shrink_to(target, stored_hash(&self.hasher));
        }
    }

    /// Forgets every due expiry of `key` at or before `now_ms` (index entries that no longer match
    /// what the key holds).
    pub(crate) fn forget_due(&mut self, key: &Key, now_ms: u64) {
        let stale: Vec<(u64, Key)> =
            self.expires.iter().take_while(|(at, _)| *at <= now_ms).filter(|(_, k)| k == key).cloned().collect();
        for entry in stale {
            self.expires.remove(&entry);
        }
    }

    /// Forgets a key's expiry (it is gone from flash too).
    pub(crate) fn forget_expiry(&mut self, at: u64, key: &Key) {
        self.expires.remove(&(at, key.clone()));
    }

    /// Changes a present key's expiry; false if the key is absent.
    pub(crate) fn set_expire(&mut self, key: &Key, expire_at: Option<u64>) -> bool {
        let Some(slot) = self.map_mut().find_mut(table_hash(key), is(key)) else { return false };
        let old = slot.entry.replace_expire_at(expire_at);
        let expire_at = slot.entry.expire_at(); // as stored
        if old != expire_at {
            if let Some(at) = old {
                self.expires.remove(&(at, key.clone()));
            }
            if let Some(at) = expire_at {
                self.expires.insert((at, key.detached()));
            }
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Bytes of the shard's table as jemalloc counts them: every bucket's pointer and control
    /// byte, 16 control bytes more, rounded up to the allocation's size class (the slots are
    /// counted with their keys: see `crate::ram_cost`). The empty buckets cost as much as the
    /// full ones: a table is between 7/16 and 7/8 full once it has grown, and the shards of a
    /// database grow at about the same key count.
    pub(crate) fn table_bytes(&self) -> usize {
        match self.map.num_buckets() {
            0 => 0,
            buckets => crate::alloc::size_class(buckets * crate::evict::BUCKET_BYTES + 16),
        }
    }

    /// The key's bytes and entry at a slot found by [`Shard::find`].
    pub(crate) fn slot_at(&self, index: usize) -> (&StoredKey, &Entry) {
        let slot = self.map.get_bucket(index).expect("a slot index from find");
        (&slot.key, &slot.entry)
    }

    pub(crate) fn expiring(&self) -> usize {
        self.expires.len()
    }

    /// The keys whose expiry is at or before `now_ms`, oldest first, at most `limit`.
    pub(crate) fn due(&self, now_ms: u64, limit: usize) -> Vec<Key> {
        self.expires.iter().take_while(|(at, _)| *at <= now_ms).take(limit).map(|(_, k)| k.clone()).collect()
    }

    /// Remembers that `key` was deleted with `stamp`, at the time of the stamp.
    pub(crate) fn bury(&mut self, key: &Key, stamp: Stamp) {
        self.bury_at(key, stamp, stamp.physical_ms());
    }

    /// Remembers that `key`, last written with `stamp`, expired at `expired_ms`.
    pub(crate) fn bury_expired(&mut self, key: &Key, stamp: Stamp, expired_ms: u64) {
        self.bury_at(key, stamp, expired_ms.max(stamp.physical_ms()));
    }

    /// Remembers that `key` went with `stamp` at `gone_ms`; of two tombstones of one key, the
    /// newer stamp and the later time are kept.
    pub(crate) fn bury_at(&mut self, key: &Key, stamp: Stamp, gone_ms: u64) {
        let grave = self.tombstones.entry(key.detached()).or_default();
        grave.stamp = grave.stamp.max(stamp);
        grave.gone_ms = grave.gone_ms.max(gone_ms);
    }

    /// Keeps `ghost` (an entry holding an empty dotted set) as what is left of the set at `key`,
    /// which has a tombstone.
    pub(crate) fn set_ghost(&mut self, key: &Key, ghost: Entry) {
        self.ghosts.insert(key.detached(), ghost);
    }

    /// What is left of the dotted set deleted at `key`, if it was one.
    pub(crate) fn ghost(&self, key: &Key) -> Option<&Entry> {
        if self.ghosts.is_empty() {
            return None;
        }
        self.ghosts.get(key)
    }

    /// Forgets the ghost of `key` (a newer whole delete replaced it).
    pub(crate) fn forget_ghost(&mut self, key: &Key) {
        if !self.ghosts.is_empty() {
            self.ghosts.remove(key);
        }
    }

    /// `key`'s tombstone, if it has one.
    pub(crate) fn grave(&self, key: &Key) -> Option<Grave> {
        self.tombstones.get(key).copied()
    }

    /// The stamp `key` was deleted with, if it has a tombstone.
    pub(crate) fn tombstone(&self, key: &Key) -> Option<Stamp> {
        self.tombstones.get(key).map(|grave| grave.stamp)
    }

    /// Every tombstone of the shard, with its stamp (a full sync sends them with the data).
    /// Every ghost, with its key.
    pub(crate) fn ghosts(&self) -> impl Iterator<Item = (&Key, &Entry)> + '_ {
        self.ghosts.iter()
    }

    pub(crate) fn tombstones(&self) -> impl Iterator<Item = (&Key, &Stamp)> + '_ {
        self.tombstones.iter().map(|(key, grave)| (key, &grave.stamp))
    }

    pub(crate) fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// Drops tombstones for which `keep` is false; returns how many went.
    pub(crate) fn purge_tombstones(&mut self, mut keep: impl FnMut(&Key, &Grave) -> bool) -> usize {
        let before = self.tombstones.len();
        self.tombstones.retain(|key, grave| keep(key, grave));
        let tombstones = &self.tombstones;
        self.ghosts.retain(|key, _| tombstones.contains_key(key));
        if self.tombstones.capacity() > 64 && self.tombstones.len() * 4 < self.tombstones.capacity() {
            self.tombstones.shrink_to_fit();
        }
        before - self.tombstones.len()
    }

    /// Empties the shard's data (hooks stay: they belong to clients, not to data).
    pub(crate) fn clear(&mut self) -> Arc<ShardMap> {
        self.tombstones.clear();
        self.ghosts.clear();
        self.expires.clear();
        std::mem::take(&mut self.map)
    }

    /// Exchanges the data of two shards (SWAPDB), leaving each one's hooks in place.
    pub(crate) fn swap_data(&mut self, other: &mut Shard) {
        std::mem::swap(&mut self.map, &mut other.map);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.tombstones, &mut other.tombstones);
        std::mem::swap(&mut self.ghosts, &mut other.ghosts);
    }

    /// Tells everyone waiting on `key` that it changed: WATCHers fail their EXEC, blocked clients
    /// retry. Cheap when nobody waits on anything in this shard.
    ///
    /// Blocked clients stay in the key's queue, in the order they blocked, until they leave it
    /// (served, timed out, gone: [`Shard::unblock`]), and only the first is woken: it is served
    /// first, as Redis serves the first blocked client first, and when it leaves the queue the
    /// next one is woken to look (see [`Shard::waiting_ahead`]).
    pub(crate) fn signal(&mut self, key: &Key) {
        if let Some(hooks) = self.hooks.as_mut() {
            if let Some(flags) = hooks.watched.remove(key) {
                flags.iter().for_each(|f| f.store(true, Ordering::Release));
            }
            if let Some(first) = hooks.blocked.get(key).and_then(|w| w.first()) {
                first.notify_one();
            }
        }
    }

    /// Signals every hooked key of the shard (FLUSHDB on the FLASH tier, where RAM does not know
    /// every key).
    pub(crate) fn signal_all(&mut self) {
        if let Some(hooks) = self.hooks.as_mut() {
            for (_, flags) in hooks.watched.drain() {
                flags.iter().for_each(|f| f.store(true, Ordering::Release));
            }
            for first in hooks.blocked.values().filter_map(|w| w.first()) {
                first.notify_one();
            }
        }
    }

    /// Signals the hooked keys present in `map` (FLUSHDB and FLUSHALL pass what they removed,
    /// SWAPDB what moved in and out): as in Redis, a WATCH on a key that did not exist survives.
    pub(crate) fn signal_present(&mut self, map: &ShardMap) {
        let Some(hooks) = self.hooks.as_mut() else { return };
        hooks.watched.retain(|key, flags| {
            let hit = map.find(table_hash(key), is(key)).is_some();
            if hit {
                flags.iter().for_each(|f| f.store(true, Ordering::Release));
            }
            !hit
        });
        for (key, waiters) in &hooks.blocked {
            if let Some(first) = waiters.first().filter(|_| map.find(table_hash(key), is(key)).is_some()) {
                first.notify_one();
            }
        }
    }

    pub(crate) fn watch(&mut self, key: Key, flag: Arc<AtomicBool>) {
        self.hooks.get_or_insert_with(Default::default).watched.entry(key).or_default().push(flag);
    }

    pub(crate) fn unwatch(&mut self, key: &Key, flag: &Arc<AtomicBool>) {
        if let Some(hooks) = self.hooks.as_mut() {
            if let Some(flags) = hooks.watched.get_mut(key) {
                flags.retain(|f| !Arc::ptr_eq(f, flag));
                if flags.is_empty() {
                    hooks.watched.remove(key);
                }
            }
        }
    }

    /// Queues `waiter` on `key`; a waiter already queued keeps its place (a client woken before
    /// its turn blocks again where it was).
    pub(crate) fn block_on(&mut self, key: Key, waiter: Arc<Notify>) {
        let waiters = self.hooks.get_or_insert_with(Default::default).blocked.entry(key).or_default();
        if !waiters.iter().any(|w| Arc::ptr_eq(w, &waiter)) {
            waiters.push(waiter);
        }
    }

    /// Takes `waiter` out of `key`'s queue; if it was first, wakes the next in line, which may now
    /// be served by what is there.
    pub(crate) fn unblock(&mut self, key: &Key, waiter: &Arc<Notify>) {
        if let Some(hooks) = self.hooks.as_mut() {
            if let Some(waiters) = hooks.blocked.get_mut(key) {
                let was_first = waiters.first().is_some_and(|w| Arc::ptr_eq(w, waiter));
                waiters.retain(|w| !Arc::ptr_eq(w, waiter));
                match waiters.first() {
                    None => {
                        hooks.blocked.remove(key);
                    }
                    Some(next) if was_first => next.notify_one(),
                    Some(_) => {}
                }
            }
        }
    }

    /// True if a client other than `me` waits on `key` ahead of `me` (ahead of everyone, if `me`
    /// is not queued): then what `key` holds is theirs first.
    pub(crate) fn waiting_ahead(&self, key: &Key, me: &Arc<Notify>) -> bool {
        let first = self.hooks.as_ref().and_then(|h| h.blocked.get(key)).and_then(|w| w.first());
        first.is_some_and(|first| !Arc::ptr_eq(first, me))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyHasher, Value};
    use bytes::Bytes;

    #[test]
    fn a_slot_is_a_96_byte_size_class() {
        assert_eq!(std::mem::size_of::<Slot>(), 96);
        assert_eq!(crate::alloc::size_class(96), 96);
    }

    #[test]
    fn keys_are_found_after_the_table_grows_and_shrinks_and_long_keys_too() {
        let hasher = KeyHasher::with_seed(5);
        let key = |i: usize| {
            hasher.key(Bytes::from(format!(
                "{}{i}",
                if i.is_multiple_of(3) { "a-long-key-past-the-inline-limit:" } else { "k" }
            )))
        };
        let mut shard = Shard::new(hasher.clone());
        for i in 0..5000 {
            shard.insert(key(i), Entry::new(Value::Str(Bytes::from(format!("v{i}"))), Stamp::default(), None, 0));
        }
        for i in 0..4900 {
            assert!(shard.remove(&key(i)).is_some());
        }
        for i in 4900..5000 {
            let found = shard.get(&key(i)).expect("present");
            assert_eq!(found.value.as_str().unwrap(), format!("v{i}").as_bytes());
            assert_eq!(shard.get_by_hash(key(i).hash()).map(|(k, _)| k), Some(&key(i).bytes()[..]));
        }
        assert!(shard.get(&key(1)).is_none());
    }

    #[test]
    fn a_table_shrinks_once_its_keys_fit_in_half_of_it() {
        let hasher = KeyHasher::with_seed(3);
        let key = |i: usize| hasher.key(Bytes::from(format!("k{i}")));
        let mut shard = Shard::new(hasher.clone());
        for i in 0..200 {
            shard.insert(key(i), Entry::new(Value::Str(Bytes::from_static(b"v")), Stamp::default(), None, 0));
        }
        let grown = shard.map.num_buckets();
        assert_eq!(grown, 256, "{grown} buckets for 200 keys");
        // 101 keys and an eighth more (113) would overfill half the table (128 buckets, room
        // for 112): it stays.
        for i in 101..200 {
            assert!(shard.remove(&key(i)).is_some());
        }
        assert_eq!(shard.map.num_buckets(), 256);
        // At 100 keys (112 with room to grow) it halves.
        assert!(shard.remove(&key(100)).is_some());
        assert_eq!(shard.map.num_buckets(), 128);
        assert!((0..100).all(|i| shard.get(&key(i)).is_some()), "every remaining key survives the shrink");
    }
}

/// A shard behind its lock, with its sizes published for readers that must take no lock.
///
/// INFO (its keyspace, memory and replication sections) reports how many keys, expiring keys and
/// tombstones there are. Counting them under the shards' locks would make INFO take locks a
/// transaction may already hold (`MULTI`, `SET k v`, `INFO`, `EXEC` once deadlocked that way), so
/// every guard publishes its shard's sizes when it is released, and [`ShardCell::published`] reads
/// them without the lock: a number that is at most one command old.
///
/// `repr(C)` with the mutex first: a guard finds the cell from its mutex's address alone (see
/// [`ShardGuard::cell`]), so a guard is one pointer, as a plain `MutexGuard` is, and a
/// transaction holding a few of them stays small enough to move without a `memcpy` call.
#[repr(C)]
pub(crate) struct ShardCell {
    shard: parking_lot::Mutex<Shard>,
    published: Published,
}

/// A shard's sizes as of the last release of its lock.
#[derive(Default)]
struct Published {
    len: std::sync::atomic::AtomicUsize,
    expiring: std::sync::atomic::AtomicUsize,
    tombstones: std::sync::atomic::AtomicUsize,
}

/// A shard's sizes, read without its lock.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct ShardSizes {
    /// Keys in RAM.
    pub keys: usize,
    /// Keys in RAM with an expiry.
    pub expiring: usize,
    /// Tombstones (replication only).
    pub tombstones: usize,
}

impl std::ops::Add for ShardSizes {
    type Output = ShardSizes;
    fn add(self, o: ShardSizes) -> ShardSizes {
        ShardSizes {
            keys: self.keys + o.keys,
            expiring: self.expiring + o.expiring,
            tombstones: self.tombstones + o.tombstones,
        }
    }
}

impl ShardCell {
    pub(crate) fn new(hasher: KeyHasher) -> Self {
        ShardCell { shard: parking_lot::Mutex::new(Shard::new(hasher)), published: Published::default() }
    }
}

impl ShardCell {
    /// Locks the shard; its sizes are published when the guard goes.
    #[inline]
    pub(crate) fn lock(&self) -> ShardGuard<'_> {
        ShardGuard { guard: self.shard.lock() }
    }

    /// Locks the shard if nobody holds it.
    pub(crate) fn try_lock(&self) -> Option<ShardGuard<'_>> {
        self.shard.try_lock().map(|guard| ShardGuard { guard })
    }

    /// The shard's sizes as of the last release of its lock, read without taking it.
    pub(crate) fn published(&self) -> ShardSizes {
        let p = &self.published;
        ShardSizes {
            keys: p.len.load(Ordering::Relaxed),
            expiring: p.expiring.load(Ordering::Relaxed),
            tombstones: p.tombstones.load(Ordering::Relaxed),
        }
    }
}

/// A locked shard (see [`ShardCell`]).
pub(crate) struct ShardGuard<'a> {
    guard: parking_lot::MutexGuard<'a, Shard>,
}

impl std::ops::Deref for ShardGuard<'_> {
    type Target = Shard;
    #[inline]
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl std::ops::DerefMut for ShardGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Shard {
        self.guard.reached_mutably = true;
        &mut self.guard
    }
}

impl ShardGuard<'_> {
    /// The cell this guard's shard lives in.
    fn cell(&self) -> &ShardCell {
        let mutex: *const parking_lot::Mutex<Shard> = parking_lot::MutexGuard::mutex(&self.guard);
        // SAFETY: guards are only made by `ShardCell::lock`/`try_lock`, from the mutex that is
        // the first field of a `repr(C)` `ShardCell`: the mutex's address is the cell's, and the
        // cell outlives the guard, which borrows it.
        unsafe { &*mutex.cast::<ShardCell>() }
    }

    /// The shard's sizes now.
    pub(crate) fn sizes(&self) -> ShardSizes {
        ShardSizes { keys: self.len(), expiring: self.expiring(), tombstones: self.tombstone_count() }
    }
}

impl Drop for ShardGuard<'_> {
    /// Publishes the sizes, storing only what changed: most commands change none of them, and a
    /// store would dirty a cache line other cores read.
    #[inline]
    fn drop(&mut self) {
        if !std::mem::take(&mut self.guard.reached_mutably) {
            return;
        }
        let store = |cell: &std::sync::atomic::AtomicUsize, value: usize| {
            if cell.load(Ordering::Relaxed) != value {
                cell.store(value, Ordering::Relaxed);
            }
        };
        let now = self.sizes();
        let published = &self.cell().published;
        store(&published.len, now.keys);
        store(&published.expiring, now.expiring);
        store(&published.tombstones, now.tombstones);
    }
}
