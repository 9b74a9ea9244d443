//! A shard: one lock's worth of the keyspace.
//!
//! The map is a persistent (structurally shared) B-tree ordered by [`Key`], so a consistent cut of
//! the shard is an O(1) clone, and writers copy only the nodes they touch while a cut is alive.
//! Beside it sit an index of expiring keys (active expiry pops it in time order) and the hooks of
//! clients waiting on keys (WATCH and blocking pops), which every write consults.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use imbl::OrdMap;
use tokio::sync::Notify;

use crate::entry::Entry;
use crate::key::Key;

/// The persistent map type of a shard (and of a consistent cut of one).
pub type ShardMap = OrdMap<Key, Entry>;

/// One shard of one database.
#[derive(Default)]
pub struct Shard {
    pub(crate) map: ShardMap,
    expires: BTreeSet<(u64, Key)>,
    hooks: Option<Box<Hooks>>,
}

/// Clients interested in writes to particular keys of this shard.
#[derive(Default)]
struct Hooks {
    watched: HashMap<Key, Vec<Arc<AtomicBool>>>,
    blocked: HashMap<Key, Vec<Arc<Notify>>>,
}

impl Shard {
    pub(crate) fn get(&self, key: &Key) -> Option<&Entry> {
        self.map.get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut Entry> {
        self.map.get_mut(key)
    }

    pub(crate) fn insert(&mut self, key: Key, entry: Entry) -> Option<Entry> {
        let new_expiry = entry.expire_at;
        if let Some(at) = new_expiry {
            self.expires.insert((at, key.clone()));
        }
        let old = self.map.insert(key.clone(), entry);
        if let Some(at) = old.as_ref().and_then(|o| o.expire_at) {
            if Some(at) != new_expiry {
                self.expires.remove(&(at, key));
            }
        }
        old
    }

    pub(crate) fn remove(&mut self, key: &Key) -> Option<Entry> {
        let old = self.map.remove(key)?;
        if let Some(at) = old.expire_at {
            self.expires.remove(&(at, key.clone()));
        }
        Some(old)
    }

    /// Changes a present key's expiry; false if the key is absent.
    pub(crate) fn set_expire(&mut self, key: &Key, expire_at: Option<u64>) -> bool {
        let Some(entry) = self.map.get_mut(key) else { return false };
        let old = std::mem::replace(&mut entry.expire_at, expire_at);
        if old != expire_at {
            if let Some(at) = old {
                self.expires.remove(&(at, key.clone()));
            }
            if let Some(at) = expire_at {
                self.expires.insert((at, key.clone()));
            }
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn expiring(&self) -> usize {
        self.expires.len()
    }

    /// The keys whose expiry is at or before `now_ms`, oldest first, at most `limit`.
    pub(crate) fn due(&self, now_ms: u64, limit: usize) -> Vec<Key> {
        self.expires.iter().take_while(|(at, _)| *at <= now_ms).take(limit).map(|(_, k)| k.clone()).collect()
    }

    /// Empties the shard's data (hooks stay: they belong to clients, not to data).
    pub(crate) fn clear(&mut self) -> ShardMap {
        self.expires.clear();
        std::mem::take(&mut self.map)
    }

    /// Exchanges the data of two shards (SWAPDB), leaving each one's hooks in place.
    pub(crate) fn swap_data(&mut self, other: &mut Shard) {
        std::mem::swap(&mut self.map, &mut other.map);
        std::mem::swap(&mut self.expires, &mut other.expires);
    }

    /// Tells everyone waiting on `key` that it changed: WATCHers fail their EXEC, blocked clients
    /// retry. Cheap when nobody waits on anything in this shard.
    pub(crate) fn signal(&mut self, key: &Key) {
        if let Some(hooks) = self.hooks.as_mut() {
            if let Some(flags) = hooks.watched.remove(key) {
                flags.iter().for_each(|f| f.store(true, Ordering::Release));
            }
            if let Some(waiters) = hooks.blocked.remove(key) {
                waiters.iter().for_each(|w| w.notify_one());
            }
        }
    }

    /// Signals the hooked keys present in `map` (FLUSHDB and FLUSHALL pass what they removed,
    /// SWAPDB what moved in and out): as in Redis, a WATCH on a key that did not exist survives.
    pub(crate) fn signal_present(&mut self, map: &ShardMap) {
        let Some(hooks) = self.hooks.as_mut() else { return };
        hooks.watched.retain(|key, flags| {
            let hit = map.contains_key(key);
            if hit {
                flags.iter().for_each(|f| f.store(true, Ordering::Release));
            }
            !hit
        });
        hooks.blocked.retain(|key, waiters| {
            let hit = map.contains_key(key);
            if hit {
                waiters.iter().for_each(|w| w.notify_one());
            }
            !hit
        });
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

    pub(crate) fn block_on(&mut self, key: Key, waiter: Arc<Notify>) {
        self.hooks.get_or_insert_with(Default::default).blocked.entry(key).or_default().push(waiter);
    }

    pub(crate) fn unblock(&mut self, key: &Key, waiter: &Arc<Notify>) {
        if let Some(hooks) = self.hooks.as_mut() {
            if let Some(waiters) = hooks.blocked.get_mut(key) {
                waiters.retain(|w| !Arc::ptr_eq(w, waiter));
                if waiters.is_empty() {
                    hooks.blocked.remove(key);
                }
            }
        }
    }
}
