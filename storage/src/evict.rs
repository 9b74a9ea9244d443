//! Eviction: which key to drop when the node is over its memory limit.
//!
//! Like Redis, the choice is approximate: a few keys are sampled at random and the best candidate
//! among them goes (the idlest for LRU, the least frequently used for LFU, the nearest expiry for
//! TTL). Samples come from random non-empty shards of every database, so a policy costs a handful
//! of shard locks per evicted key whatever the keyspace's size. The storage crate only chooses and
//! removes; when to evict (how much memory is used, the limit) is the server's business, and the
//! FLASH tier can reuse the same choice to decide what to move out of RAM.
//!
//! As in Redis, the best candidates of every round of sampling are kept in a small pool
//! ([`POOL_SIZE`]), and the best of the pool goes: each eviction then chooses among the keys of
//! many rounds, not only its own few samples. That matters most where a few cold keys come and go
//! among many hot ones (the FLASH tier reading one-off keys back): five samples alone would miss
//! every cold key about half the time and evict a hot one instead. A pooled candidate that was read
//! or written since it was sampled has shown it is in use: it is dropped from the pool, not
//! evicted.
//!
//! Finding a non-empty shard by drawing blindly would waste most draws when only one of sixteen
//! databases holds data, so the keyspace keeps a list of the shards that held keys (and of those
//! that held keys with a TTL), rebuilt every [`OCCUPANCY_MAX_AGE_MS`]. A shard that emptied since
//! is skipped; one that filled since waits for the next rebuild.

use std::sync::Arc;

use crate::alloc::counted_size;
use crate::entry::{Entry, LFU_INIT};
use crate::events::KeyEvent;
use crate::key::{Key, StoredKey};
use crate::keyspace::{Keyspace, SHARDS_PER_DB};
use crate::probation::{unused_since_admitted, Turn};
use crate::shard::Slot;
use crate::stamp::Stamp;

/// How long a list of occupied shards is trusted before it is rebuilt.
pub const OCCUPANCY_MAX_AGE_MS: u64 = 100;

/// Redis's `maxmemory-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Never evict: writes fail while over the limit.
    #[default]
    NoEviction,
    /// Evict the least recently used key among all keys.
    AllKeysLru,
    /// Evict the least frequently used key among all keys.
    AllKeysLfu,
    /// Evict a random key.
    AllKeysRandom,
    /// Evict the least recently used key among keys with a TTL.
    VolatileLru,
    /// Evict the least frequently used key among keys with a TTL.
    VolatileLfu,
    /// Evict a random key with a TTL.
    VolatileRandom,
    /// Evict the key with a TTL that expires soonest.
    VolatileTtl,
}

impl Policy {
    /// Every policy, in the order Redis lists them in its error message.
    pub const ALL: [Policy; 8] = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::NoEviction,
    ];

    /// The configuration name (`allkeys-lru`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// The policy named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// True for the `volatile-*` policies, which only ever evict keys that have a TTL.
    pub fn volatile(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    /// The policy that picks which values leave RAM on the FLASH tier. There RAM is a cache and
    /// eviction loses nothing (every value is on flash), so `maxmemory` bounds RAM whatever the
    /// policy: `noeviction` and `volatile-ttl` evict as `allkeys-lru`, and the other `volatile-*`
    /// policies as their `allkeys-*` counterparts. Taken literally they would keep RAM growing
    /// past the limit (nothing is refused on flash), or keep every key without a TTL in RAM.
    pub fn on_flash(self) -> Policy {
        match self {
            Policy::NoEviction | Policy::VolatileLru | Policy::VolatileTtl => Policy::AllKeysLru,
            Policy::VolatileLfu => Policy::AllKeysLfu,
            Policy::VolatileRandom => Policy::AllKeysRandom,
            keys => keys,
        }
    }

    /// True for the LFU policies (OBJECT FREQ works, OBJECT IDLETIME does not, as in Redis).
    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// How good a candidate `entry` is: the highest score is evicted first.
    fn score(self, entry: &Entry, now_ms: u64, lfu_decay_minutes: u64) -> u64 {
        const IDLE_MASK: u64 = (1 << 48) - 1;
        match self {
            Policy::AllKeysLru | Policy::VolatileLru => entry.idle_ms(now_ms),
            // The lowest counter wins; among equal counters (most keys sit at the initial 5) the
            // idlest one.
            Policy::AllKeysLfu | Policy::VolatileLfu => {
                let counter = entry.lfu_counter(now_ms, lfu_decay_minutes);
                (u64::from(255 - counter) << 48) | entry.idle_ms(now_ms).min(IDLE_MASK)
            }
            Policy::VolatileTtl => u64::MAX - entry.expire_at().unwrap_or(u64::MAX),
            Policy::AllKeysRandom | Policy::VolatileRandom | Policy::NoEviction => 0,
        }
    }
}

/// The shards that held keys at the last look, as global shard indices.
#[derive(Default)]
pub(crate) struct Occupancy {
    /// When the lists were built (None: never).
    at_ms: Option<u64>,
    /// Shards with at least one key.
    keys: Vec<u32>,
    /// Shards with at least one key that has a TTL.
    expiring: Vec<u32>,
}

/// A key found by sampling, and how good a candidate it was then. The key is named by its hash,
/// not a copy: sampling draws far more keys than it evicts, and a slot's key is copied out of it
/// into an allocation of its own (see `StoredKey`). A hash that finds another key of the shard (a
/// collision) is harmless: that key is judged again before it goes, and only goes if it is as
/// good a candidate.
struct Candidate {
    shard: u32,
    hash: u64,
    score: u64,
}

/// Probation keys one eviction looks at, at most, before it samples the rest of RAM instead.
const NEWCOMERS_PER_EVICTION: usize = 64;

/// Candidates kept between evictions (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;

/// The best candidates sampled so far under one policy, best last.
#[derive(Default)]
pub(crate) struct Pool {
    policy: Policy,
    candidates: Vec<Candidate>,
}

impl Pool {
    /// Adds a sampled key unless it is already in, or the pool is full of better ones.
    fn offer(&mut self, candidate: Candidate) {
        if self.candidates.iter().any(|c| c.shard == candidate.shard && c.hash == candidate.hash) {
            return;
        }
        if self.candidates.len() == POOL_SIZE {
            if self.candidates[0].score >= candidate.score {
                return;
            }
            self.candidates.remove(0);
        }
        let at = self.candidates.partition_point(|c| c.score <= candidate.score);
        self.candidates.insert(at, candidate);
    }
}

/// Bytes a key's bucket takes in its shard's table: the pointer to its slot, and the control byte
/// hashbrown keeps for every bucket.
pub const BUCKET_BYTES: usize = std::mem::size_of::<crate::shard::Bucket>() + 1;

/// Bytes of a key's slot (its key and entry), an allocation of its own.
const SLOT_ALLOCATION: usize = crate::alloc::size_class(std::mem::size_of::<Slot>());

/// Bytes a key with a TTL takes in its shard's expiry index: a `(time, key)` pair of 48 bytes in
/// B-tree leaves of eleven, about two thirds full (a leaf of eleven pairs is a 640-byte
/// allocation).
pub const EXPIRY_INDEX_BYTES: usize = 88;

/// The bytes of RAM `key` and its entry take, as jemalloc counts them (allocations rounded up to
/// their size classes): the bucket they fill in their shard's table, their slot (with the key,
/// if it is short: see `StoredKey`), a long key's and the value's allocations, and their place
/// in the expiry index with its copy of the key. This is what evicting them frees (less the
/// bucket: a table does not shrink for one key, its bucket is room for the next). MEMORY USAGE
/// counts the key's share of its table's empty buckets too (see `Txn::memory_usage`).
pub fn ram_cost(key: &[u8], entry: &Entry) -> usize {
    let expiry = if entry.expire_at().is_some() { EXPIRY_INDEX_BYTES + counted_size(key.len()) } else { 0 };
    BUCKET_BYTES + SLOT_ALLOCATION + StoredKey::heap_size_of(key) + entry.value.heap_size() + expiry
}

/// A key that eviction removed from RAM.
#[derive(Debug)]
pub struct Evicted {
    /// Its database.
    pub db: usize,
    /// The key.
    pub key: Key,
    /// About how many bytes of RAM that freed (see [`ram_cost`]).
    pub bytes: usize,
}

impl Keyspace {
    /// Evicts one key chosen by `policy` from `samples` random keys; returns its database and key,
    /// or None if no key can be evicted under `policy` (an empty keyspace, no key with a TTL for a
    /// `volatile-*` policy, or `noeviction`). The removal goes through the shard like any delete:
    /// the expiry index follows, WATCHers of the key fail their EXEC, blocked clients are woken.
    /// Takes shard locks one at a time: the caller must hold none.
    pub fn evict_one(&self, policy: Policy, samples: usize, lfu_decay_minutes: u64, now_ms: u64) -> Option<Evicted> {
        if policy == Policy::NoEviction {
            return None;
        }
        // FLASH tier: keys new to RAM go first, unless keys that came back past them are owed
        // room, or it is the policy's turn to look at the rest of RAM (see `probation`).
        let mut turn = if self.flash.is_some() { self.probation.turn() } else { Turn::Policy };
        if turn == Turn::Queue {
            if let Some(evicted) = self.evict_newcomer(policy) {
                return Some(evicted);
            }
        }
        let samples = samples.clamp(1, 1024);
        // A stale occupancy list may send every draw to shards that emptied since: then rebuild it
        // and try again. A candidate may also vanish between sampling and removal (another client
        // deleted it) or have been used since it was pooled (every pooled key may have been, so
        // the rounds are enough to go through a whole pool).
        let mut failed: Option<Arc<Occupancy>> = None;
        for _ in 0..POOL_SIZE + 3 {
            let occupancy = self.occupancy(now_ms, failed.as_ref());
            let Some(best) = self.sample(&occupancy, policy, samples, lfu_decay_minutes, now_ms) else {
                failed = Some(occupancy);
                continue;
            };
            let mut shard = self.shards[best.shard as usize].lock();
            // Still there, still eligible, and not used since it was sampled: the key, the bytes
            // it frees, and its LFU counter.
            let found = shard
                .get_by_hash(best.hash)
                .filter(|(_, e)| {
                    (!policy.volatile() || e.expire_at().is_some())
                        && policy.score(e, now_ms, lfu_decay_minutes) >= best.score
                })
                .map(|(key, e)| (ram_cost(key, e), e.frequency(), Key::copied(best.hash, key)));
            let Some((bytes, counter, key)) = found else { continue };
            if self.flash.is_some() {
                if let Turn::PolicyFor(knocking) = turn {
                    // The policy's turn: the best it has is the new bar for keys coming back. It
                    // goes if it was never used since it came (as a key that passed the queue
                    // when RAM had room to spare) or for a key kept out that was used as much;
                    // otherwise the queue's oldest key goes after all.
                    self.probation.set_floor(counter);
                    if counter > knocking.max(LFU_INIT as u8) {
                        drop(shard);
                        self.eviction_pool.lock().offer(best);
                        if let Some(evicted) = self.evict_newcomer(policy) {
                            return Some(evicted);
                        }
                        // The queue had nothing to give after all: the candidate goes.
                        turn = Turn::Policy;
                        continue;
                    }
                }
                // On flash the key lives on: only its RAM copy goes, unseen by WATCH. Its ghost
                // remembers how much it was used, and sets the bar for keys coming back.
                self.probation.evicted(best.hash, counter, true);
                shard.evict_cached(&key);
            } else {
                shard.remove(&key);
                shard.signal(&key);
                // The append-only file hears of it (as Redis logs a DEL), under the shard's lock;
                // replication does not: eviction is this node's own business.
                let db = best.shard as usize / SHARDS_PER_DB;
                self.journal_one(db, key.bytes(), crate::journal::Logged::Delete(Stamp::default()));
                self.key_written(&key, false);
                self.key_event(KeyEvent::Evicted, db, &key);
            }
            drop(shard);
            self.stats.evicted_keys.add(1);
            return Some(Evicted { db: best.shard as usize / SHARDS_PER_DB, key, bytes });
        }
        None
    }

    /// FLASH tier: evicts the oldest key of the probation queue that was not used since it came
    /// into RAM, while the queue is over its limit (see `probation`). Keys that were used, or are
    /// no longer in RAM, just leave the queue. None once the queue is within its limit (or after
    /// [`NEWCOMERS_PER_EVICTION`] keys, so that one eviction's work stays bounded).
    fn evict_newcomer(&self, policy: Policy) -> Option<Evicted> {
        self.flash.as_ref()?;
        for _ in 0..NEWCOMERS_PER_EVICTION {
            let newcomer = self.probation.take_over_limit()?;
            let mut shard = self.shards[newcomer.shard as usize].lock();
            let Some((key, entry)) = shard.get_by_hash(newcomer.hash) else { continue };
            if !unused_since_admitted(entry) || (policy.volatile() && entry.expire_at().is_none()) {
                continue;
            }
            self.probation.evicted(newcomer.hash, newcomer.ghost_counter(entry.frequency()), false);
            let (bytes, key) = (ram_cost(key, entry), Key::copied(newcomer.hash, key));
            shard.evict_cached(&key);
            drop(shard);
            self.stats.evicted_keys.add(1);
            return Some(Evicted { db: newcomer.shard as usize / SHARDS_PER_DB, key, bytes });
        }
        None
    }

    /// The occupancy lists, rebuilt if older than [`OCCUPANCY_MAX_AGE_MS`] or if they are the
    /// `failed` ones that found nothing to evict (threads failing on the same lists at once rebuild
    /// them once).
    fn occupancy(&self, now_ms: u64, failed: Option<&Arc<Occupancy>>) -> Arc<Occupancy> {
        let mut current = self.occupancy.lock();
        let stale = match current.at_ms {
            None => true,
            Some(at) => {
                now_ms.saturating_sub(at) >= OCCUPANCY_MAX_AGE_MS
                    || at > now_ms
                    || failed.is_some_and(|f| Arc::ptr_eq(f, &current))
            }
        };
        if stale {
            let mut fresh = Occupancy { at_ms: Some(now_ms), ..Occupancy::default() };
            for (i, shard) in self.shards.iter().enumerate() {
                let shard = shard.lock();
                if shard.len() > 0 {
                    fresh.keys.push(i as u32);
                }
                if shard.expiring() > 0 {
                    fresh.expiring.push(i as u32);
                }
            }
            *current = Arc::new(fresh);
        }
        current.clone()
    }

    /// Draws up to `samples` keys eligible under `policy` into the pool, and takes the best
    /// candidate out of it.
    fn sample(
        &self,
        occupancy: &Occupancy,
        policy: Policy,
        samples: usize,
        lfu_decay_minutes: u64,
        now_ms: u64,
    ) -> Option<Candidate> {
        let shards = if policy.volatile() { &occupancy.expiring } else { &occupancy.keys };
        if shards.is_empty() {
            return None;
        }
        let random = matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom);
        let wanted = if random { 1 } else { samples };
        let mut drawn_keys = Vec::with_capacity(wanted);
        let mut found = 0;
        // Draws that land on a shard emptied since the list was built count against a budget, so
        // a stale list costs bounded work.
        for _ in 0..(wanted * 4).max(16) {
            if found == wanted {
                break;
            }
            let index = shards[rand::random_range(0..shards.len())];
            let shard = self.shards[index as usize].lock();
            let drawn =
                if policy.volatile() { shard.sample_expiring(policy == Policy::VolatileTtl) } else { shard.sample() };
            let Some((hash, entry)) = drawn else { continue };
            found += 1;
            let score = policy.score(entry, now_ms, lfu_decay_minutes);
            drawn_keys.push(Candidate { shard: index, hash, score });
        }
        if found == 0 {
            // Every draw missed: the lists are stale (their shards emptied since they were built).
            // None makes the caller rebuild them; the pool's candidates may have gone the same
            // way, and taking them instead could use up the caller's rounds on keys that are gone
            // while the keys to evict sit in shards the lists do not name (a `volatile-*` policy
            // refused writes that way, with thousands of keys with a TTL in RAM).
            return None;
        }
        if random {
            return drawn_keys.pop(); // the one key drawn: no candidate is better than another
        }
        let mut pool = self.eviction_pool.lock();
        if pool.policy != policy {
            *pool = Pool { policy, candidates: Vec::with_capacity(POOL_SIZE) };
        }
        for candidate in drawn_keys {
            pool.offer(candidate);
        }
        pool.candidates.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::{Clock, Stamp};
    use crate::txn::Expiry;
    use crate::{KeyHasher, LockSet, Value};
    use bytes::Bytes;

    struct TestClock;
    impl Clock for TestClock {
        fn stamp(&self, wall_ms: u64) -> Stamp {
            Stamp { hlc: wall_ms << 16, node: 1 }
        }

        fn witness(&self, _stamp: Stamp) {} // these tests load nothing
    }

    fn keyspace() -> Keyspace {
        Keyspace::new(4, Arc::new(TestClock), KeyHasher::with_seed(7))
    }

    /// Writes `key` in `db` at time `now` with an optional absolute expiry.
    fn put(ks: &Keyspace, db: usize, key: &str, now: u64, expire_at: Option<u64>) {
        let key = ks.key(Bytes::copy_from_slice(key.as_bytes()));
        let mut set = LockSet::default();
        set.add(ks, db, &key);
        let mut txn = ks.lock(&mut set, now);
        let expiry = expire_at.map_or(Expiry::Persist, Expiry::At);
        txn.insert(db, key, Value::Str(Bytes::from_static(b"v")), expiry);
    }

    /// Reads `key` in `db` `times` times at time `now` (each read counts as an access).
    fn read(ks: &Keyspace, db: usize, key: &'static str, now: u64, times: usize) {
        let key = ks.key(Bytes::from_static(key.as_bytes()));
        let mut set = LockSet::default();
        set.add(ks, db, &key);
        let mut txn = ks.lock(&mut set, now);
        for _ in 0..times {
            txn.get(db, &key);
        }
    }

    fn evict(ks: &Keyspace, policy: Policy, now: u64) -> Option<String> {
        ks.evict_one(policy, 64, 1, now).map(|e| String::from_utf8_lossy(e.key.bytes()).into_owned())
    }

    fn count(ks: &Keyspace) -> usize {
        (0..ks.databases()).map(|db| ks.db_size(db).0).sum()
    }

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::from_name(&p.name().to_uppercase()), Some(p));
        }
        assert_eq!(Policy::from_name("bogus"), None);
        assert!(Policy::VolatileTtl.volatile() && !Policy::AllKeysLru.volatile());
    }

    #[test]
    fn noeviction_and_empty_keyspace_evict_nothing() {
        let ks = keyspace();
        assert_eq!(evict(&ks, Policy::AllKeysLru, 1000), None);
        put(&ks, 0, "a", 1000, None);
        assert_eq!(evict(&ks, Policy::NoEviction, 1000), None);
        assert_eq!(count(&ks), 1);
    }

    #[test]
    fn allkeys_lru_prefers_the_idlest_key_when_sampling_covers_all() {
        for _ in 0..20 {
            let ks = keyspace();
            put(&ks, 0, "old", 1_000, None);
            put(&ks, 0, "mid", 5_000, None);
            put(&ks, 2, "new", 9_000, None);
            assert_eq!(evict(&ks, Policy::AllKeysLru, 10_000).as_deref(), Some("old"));
            assert_eq!(evict(&ks, Policy::AllKeysLru, 10_000).as_deref(), Some("mid"));
            assert_eq!(ks.stats.evicted_keys.get(), 2);
            assert_eq!(count(&ks), 1);
        }
    }

    #[test]
    fn allkeys_lfu_prefers_the_least_used_key() {
        let ks = keyspace();
        for k in ["hot", "cold"] {
            put(&ks, 1, k, 1_000, None);
        }
        // Enough reads move the logarithmic counter of "hot" well above the initial 5.
        read(&ks, 1, "hot", 1_000, 2000);
        assert!(ks.evict_one(Policy::AllKeysLfu, 64, 1, 1_000).is_some_and(|e| e.db == 1 && e.key.bytes() == "cold"));
    }

    #[test]
    fn a_pooled_candidate_used_since_it_was_sampled_is_not_evicted() {
        for _ in 0..20 {
            let ks = keyspace();
            put(&ks, 0, "old", 1_000, None);
            put(&ks, 1, "new", 2_000, None);
            // Samples cover both keys: "old" goes, "new" stays in the pool as the next candidate
            // (idle 8 s).
            assert_eq!(evict(&ks, Policy::AllKeysLru, 10_000).as_deref(), Some("old"));
            // Then "new" is read, and a key idler than it now is written.
            read(&ks, 1, "new", 20_000, 1);
            put(&ks, 2, "idle", 15_000, None);
            // The pool's stale view of "new" (idle 8 s, idler than "idle") is checked, not trusted.
            assert_eq!(evict(&ks, Policy::AllKeysLru, 20_000).as_deref(), Some("idle"));
        }
    }

    #[test]
    fn the_pool_keeps_the_best_candidates_once_each() {
        let hasher = KeyHasher::with_seed(1);
        let mut pool = Pool::default();
        for i in 0..40u64 {
            let key = hasher.key(Bytes::from(format!("k{}", i % 30)));
            pool.offer(Candidate { shard: 0, hash: key.hash(), score: i % 30 });
        }
        let scores: Vec<u64> = pool.candidates.iter().map(|c| c.score).collect();
        assert_eq!(scores, (14..30).collect::<Vec<u64>>(), "the best {POOL_SIZE}, best last, no repeats");
    }

    #[test]
    fn lfu_counter_decays_with_idle_minutes() {
        let ks = keyspace();
        put(&ks, 0, "k", 0, None);
        let key = ks.key(Bytes::from_static(b"k"));
        let mut set = LockSet::default();
        set.add(&ks, 0, &key);
        let mut txn = ks.lock(&mut set, 0);
        let entry = txn.peek(0, &key).expect("present");
        assert_eq!(entry.lfu_counter(0, 1), 5);
        assert_eq!(entry.lfu_counter(3 * 60_000, 1), 2);
        assert_eq!(entry.lfu_counter(3 * 60_000, 0), 5, "decay time 0: never decays");
        assert_eq!(entry.lfu_counter(60 * 60_000, 1), 0);
    }

    #[test]
    fn volatile_policies_never_evict_keys_without_ttl() {
        for policy in [Policy::VolatileLru, Policy::VolatileLfu, Policy::VolatileRandom, Policy::VolatileTtl] {
            let ks = keyspace();
            for i in 0..200 {
                put(&ks, i % 3, &format!("plain{i}"), 1_000, None);
            }
            for i in 0..20 {
                put(&ks, 3, &format!("ttl{i}"), 1_000, Some(1_000_000 + i as u64));
            }
            let mut evicted = 0;
            while let Some(k) = evict(&ks, policy, 2_000) {
                assert!(k.starts_with("ttl"), "{policy:?} evicted {k}");
                evicted += 1;
            }
            assert_eq!(evicted, 20, "{policy:?}");
            assert_eq!(count(&ks), 200);
        }
    }

    #[test]
    fn volatile_ttl_picks_the_nearest_expiry() {
        for _ in 0..20 {
            let ks = keyspace();
            put(&ks, 0, "later", 1_000, Some(90_000));
            put(&ks, 1, "soon", 1_000, Some(50_000));
            put(&ks, 0, "latest", 1_000, Some(99_000));
            put(&ks, 2, "forever", 1_000, None);
            let order: Vec<_> = (0..4).map(|_| evict(&ks, Policy::VolatileTtl, 2_000)).collect();
            assert_eq!(order, [Some("soon".into()), Some("later".into()), Some("latest".into()), None]);
        }
    }

    #[test]
    fn eviction_signals_watchers() {
        let ks = keyspace();
        put(&ks, 0, "w", 1_000, None);
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        ks.watch(0, ks.key(Bytes::from_static(b"w")), flag.clone());
        assert_eq!(evict(&ks, Policy::AllKeysRandom, 2_000).as_deref(), Some("w"));
        assert!(flag.load(std::sync::atomic::Ordering::Acquire));
    }
}
