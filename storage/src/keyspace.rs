//! The keyspace: every database's shards, and the locking discipline around them.
//!
//! All shards of all databases live in one array, `databases × SHARDS_PER_DB` long; a key's shard
//! is the top bits of its hash. A command locks the shards of the keys it names, in ascending index
//! order (so two commands can never deadlock), and works on them through a [`Txn`]. There is no
//! lock above the shards: commands on different shards run in parallel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::Mutex;
use smallvec::SmallVec;
use tokio::sync::Notify;

use crate::codec::CodecError;
use crate::cut::Cut;
use crate::entry::Entry;
use crate::events::{KeyEvent, KeyEvents};
use crate::evict::{Occupancy, Pool};
use crate::feed::{ChangeSink, Effect, Merged};
use crate::flash::{FlashError, FlashStore, Staged};
use crate::journal::{Journal, JournalRecord, Logged};
use crate::key::{Key, KeyHasher};
use crate::probation::{Arrival, Newcomer, Probation};
use crate::shard::{Shard, ShardCell, ShardGuard, ShardSizes};
use crate::stamp::{Clock, Stamp};
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
    pub(crate) shards: Box<[ShardCell]>,
    databases: usize,
    hasher: KeyHasher,
    pub(crate) clock: Arc<dyn Clock>,
    /// Counters for INFO.
    pub stats: KeyspaceStats,
    /// Which shards held keys lately (eviction's sampling draws from these).
    pub(crate) occupancy: Mutex<Arc<Occupancy>>,
    /// Eviction's best candidates so far (see `evict`).
    pub(crate) eviction_pool: Mutex<Pool>,
    /// FLASH tier: keys new to RAM, evicted first unless used again (see `probation`).
    pub(crate) probation: Probation,
    /// The FLASH tier (`storage-provider flash`): every key durably in RocksDB, RAM a cache.
    pub(crate) flash: Option<Arc<FlashStore>>,
    /// Replication: where local changes are reported, once it is switched on.
    pub(crate) feed: OnceLock<Arc<dyn ChangeSink>>,
    /// The clock reading of this run's first write (0 until then): this node's writes stamped
    /// before it were made by an earlier run, which may have lost some of them (see
    /// [`Keyspace::written_this_run`]).
    run_floor: AtomicU64,
    /// The append-only file: where every change goes while `journaling` is on (see `journal`).
    journal: OnceLock<Arc<dyn Journal>>,
    /// Whether changes go to the journal; switched only while every shard is held, so that a
    /// transaction sees one value from its first write to its commit.
    journaling: AtomicBool,
    /// Keyspace notifications: where expiry, eviction, creation and misses are reported.
    events: OnceLock<Arc<dyn KeyEvents>>,
    /// Client-side caching: writes are reported to `events` ([`KeyEvents::key_written`]) only
    /// while this is on, so that a write pays one relaxed load when no client tracks keys.
    track_writes: Arc<AtomicBool>,
    /// Replication: per database, the stamp of its last flush; older writes to it are stale (the
    /// flush rule of [`Keyspace::merge`]).
    floors: Box<[Mutex<Stamp>]>,
    /// CLIENT PAUSE: until this Unix time (ms), a key found expired is treated as absent but left
    /// in place, uncounted, as Redis does, so that no key changes while clients are held; the
    /// first touch after the pause removes it. 0: not held. Read only on the expired-key path.
    expiry_held_until_ms: AtomicU64,
}

/// A consistent cut of every database, with what replication needs beyond the live keys (the
/// tombstones, and each database's last flush): what a snapshot writes and a full sync sends.
pub struct KeyspaceCut {
    /// Every database's live keys.
    pub dbs: Vec<(usize, Cut)>,
    /// `(db, key, stamp)` of every tombstone.
    pub tombstones: Vec<(usize, Bytes, Stamp)>,
    /// `(db, key, ghost)` of every deleted or emptied dotted set, hash or sorted set: its base and
    /// the context of what the delete saw, beside its tombstone (see `crate::crdt`). A full sync
    /// sends the ghost instead of the tombstone, so that the peer keeps the adds concurrent with
    /// the delete, as it does when the delete reaches it as a change. Snapshots do not keep
    /// ghosts yet: a restart keeps the tombstone only.
    pub ghosts: Vec<(usize, Bytes, Entry)>,
    /// `(db, stamp)` of every database flushed since start.
    pub floors: Vec<(usize, Stamp)>,
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
        let shards = (0..databases * SHARDS_PER_DB).map(|_| ShardCell::new(hasher.clone())).collect();
        let occupancy = Mutex::default();
        let floors = (0..databases).map(|_| Mutex::default()).collect();
        let stats = KeyspaceStats::default();
        Keyspace {
            shards,
            databases,
            hasher,
            clock,
            stats,
            occupancy,
            eviction_pool: Mutex::default(),
            probation: Probation::default(),
            flash: None,
            feed: OnceLock::new(),
            run_floor: AtomicU64::new(0),
            journal: OnceLock::new(),
            journaling: AtomicBool::new(false),
            events: OnceLock::new(),
            track_writes: Arc::new(AtomicBool::new(false)),
            floors,
            expiry_held_until_ms: AtomicU64::new(0),
        }
    }

    /// Holds lazy expiry back until Unix time `until_ms` (CLIENT PAUSE), or longer if a hold
    /// already lasts longer (two pauses keep the later end, as in Redis).
    pub fn hold_expiry_until(&self, until_ms: u64) {
        self.expiry_held_until_ms.fetch_max(until_ms, Ordering::Relaxed);
    }

    /// Ends a hold of lazy expiry at once (CLIENT UNPAUSE).
    pub fn release_expiry(&self) {
        self.expiry_held_until_ms.store(0, Ordering::Relaxed);
    }

    /// True while lazy expiry is held back at `now_ms`.
    pub(crate) fn expiry_held(&self, now_ms: u64) -> bool {
        now_ms < self.expiry_held_until_ms.load(Ordering::Relaxed)
    }

    /// Sets where the keyspace reports expiry, eviction, creation and misses (keyspace
    /// notifications); once only, false if already set.
    pub fn report_key_events(&self, events: Arc<dyn KeyEvents>) -> bool {
        self.events.set(events).is_ok()
    }

    /// The switch that has writes reported to the key-events hook ([`KeyEvents::key_written`],
    /// [`KeyEvents::flushed`]): client-side caching holds it on while a client tracks keys.
    pub fn track_writes(&self) -> Arc<AtomicBool> {
        self.track_writes.clone()
    }

    /// `key` was written or removed (see [`KeyEvents::key_written`]): one relaxed load unless a
    /// client tracks keys.
    #[inline]
    pub(crate) fn key_written(&self, key: &Key, by_command: bool) {
        if self.track_writes.load(Ordering::Relaxed) {
            if let Some(events) = self.events.get() {
                events.key_written(key, by_command);
            }
        }
    }

    /// A database was emptied (see [`KeyEvents::flushed`]).
    #[inline]
    pub(crate) fn flushed(&self) {
        if self.track_writes.load(Ordering::Relaxed) {
            if let Some(events) = self.events.get() {
                events.flushed();
            }
        }
    }

    /// True if anyone listens to key events at all (before cloning a key to report one).
    pub(crate) fn wants_key_events(&self) -> bool {
        self.events.get().is_some_and(|e| [KeyEvent::New, KeyEvent::Expired].into_iter().any(|ev| e.wants(ev)))
    }

    /// Reports `event` on `key` of `db` if it is wanted.
    #[inline]
    pub(crate) fn key_event(&self, event: KeyEvent, db: usize, key: &Key) {
        if let Some(events) = self.events.get() {
            if events.wants(event) {
                events.key_event(event, db, key);
            }
        }
    }

    /// Switches the change feed on: from now on every local write is reported to `sink`, and
    /// deletes and expiries leave tombstones. Once on, it stays on; false if it already was.
    pub fn start_feed(&self, sink: Arc<dyn ChangeSink>) -> bool {
        self.feed.set(sink).is_ok()
    }

    /// Installs the journal (the append-only file); once only, false if one already was. Changes
    /// reach it only while journaling is switched on ([`Txn::set_journaling`]).
    pub fn install_journal(&self, journal: Arc<dyn Journal>) -> bool {
        self.journal.set(journal).is_ok()
    }

    /// The journal, while changes go to it.
    #[inline]
    pub(crate) fn journal(&self) -> Option<&dyn Journal> {
        if self.journaling.load(Ordering::Relaxed) {
            self.journal.get().map(|j| &**j)
        } else {
            None
        }
    }

    /// True while changes go to the journal.
    #[inline]
    pub fn journaling(&self) -> bool {
        self.journaling.load(Ordering::Relaxed)
    }

    pub(crate) fn store_journaling(&self, on: bool) {
        self.journaling.store(on, Ordering::Release);
    }

    /// Logs one change made outside any transaction (an eviction) to the journal, if it is on.
    pub(crate) fn journal_one(&self, db: usize, key: &[u8], what: Logged<'_>) {
        if let Some(journal) = self.journal() {
            journal.log(&[JournalRecord { db, key, what }]);
        }
    }

    /// True once the change feed is on.
    pub fn feeding(&self) -> bool {
        self.feed.get().is_some()
    }

    /// The stamp of `db`'s last flush (the default stamp if it never was).
    pub(crate) fn floor(&self, db: usize) -> Stamp {
        *self.floors[db].lock()
    }

    /// Whether a copy's reading of this node's own writes, `reading`, reaches into this run, for
    /// a write stamped `now`. A dotted set or hash whose reading of its own node is from an
    /// earlier run may cover writes that run made and lost (a `kill -9` of a RAM node before its
    /// snapshot): peers hold them, and the next change must travel whole, so that they take the
    /// loss as the node did, instead of a delta, which they would merge keeping the lost writes
    /// while this node keeps them out (see `DottedSet`'s module text).
    pub(crate) fn written_this_run(&self, reading: u64, now: Stamp) -> bool {
        // A plain load once the floor is set: every dotted write asks, on every worker, and a
        // read-modify-write each time would bounce this line between their cores.
        let floor = match self.run_floor.load(Ordering::Relaxed) {
            0 => match self.run_floor.compare_exchange(0, now.hlc, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => now.hlc,
                Err(floor) => floor,
            },
            floor => floor,
        };
        reading >= floor
    }

    /// Advances the clock past `stamp`, which the node held before this run (see [`Clock::witness`]).
    pub(crate) fn witness(&self, stamp: Stamp) {
        self.clock.witness(stamp);
    }

    /// Raises `db`'s flush floor to `stamp` (a flush, local or merged, or loading a snapshot).
    pub(crate) fn raise_floor(&self, db: usize, stamp: Stamp) {
        let mut floor = self.floors[db].lock();
        *floor = (*floor).max(stamp);
    }

    /// Merges a change to `key` in `db` that a peer made (whole-key last-write-wins): it applies
    /// only if its stamp is greater than the key's and its tombstone's, and not older than its
    /// database's last flush. The entry keeps the peer's stamp. Not reported to the feed (the
    /// caller relays it).
    ///
    /// The flush rule, the same on every node and for local and merged changes alike: a flush
    /// stamped F removes every entry and tombstone of its database stamped before F, and nothing
    /// stamped F or later (that was written after the flush). A peer's flush removes what is older
    /// ([`Txn`]'s `flush_older`); a change arriving after it is refused only if it is older than
    /// the floor; a local FLUSHDB removes everything, which is the same, as the node's clock is
    /// past every stamp it holds. Each command of an EXEC has its own stamp, so in `MULTI,
    /// SET k v, FLUSHDB, SET j w, EXEC` k is older than the flush and j newer, on every node. No
    /// write shares the flush's own stamp, so "F or later" and "after F" differ in nothing but
    /// the one comparison that must agree: `flush_older` keeps stamp F, so this keeps it too.
    pub fn merge(&self, db: usize, key: Bytes, effect: &Effect, now_ms: u64) -> Result<Merged, CodecError> {
        if let Effect::Flush(stamp) = effect {
            return Ok(self.merge_flush(db, *stamp, now_ms));
        }
        let key = self.key(key);
        let mut set = LockSet::default();
        set.add(self, db, &key);
        let mut txn = self.lock(&mut set, now_ms);
        txn.merge(db, &key, effect)
    }

    /// Merges the changes one transaction made on a peer (a command, or a whole EXEC: see the
    /// feed) under the locks of all their keys at once, each by [`Keyspace::merge`]'s rules: a
    /// reader here sees all of them or none, as it would have on the peer. A flush in a group
    /// (peers send each flush alone) is merged first, on its own. On a record that does not
    /// decode, the changes merged before it stay: each stands on its own stamp.
    pub fn merge_group(
        &self,
        group: &[(usize, Bytes, &Effect)],
        now_ms: u64,
    ) -> Result<SmallVec<[Merged; 4]>, CodecError> {
        // Per change, its key to merge under the group's locks, or a flush's outcome.
        let mut plan: SmallVec<[Result<Key, Merged>; 4]> = SmallVec::new();
        let mut set = LockSet::default();
        for (db, key, effect) in group {
            plan.push(match effect {
                Effect::Flush(stamp) => Err(self.merge_flush(*db, *stamp, now_ms)),
                _ => {
                    let key = self.key(key.clone());
                    set.add(self, *db, &key);
                    Ok(key)
                }
            });
        }
        let mut txn = self.lock(&mut set, now_ms);
        let mut merged: SmallVec<[Merged; 4]> = SmallVec::new();
        for ((db, _, effect), planned) in group.iter().zip(&plan) {
            merged.push(match planned {
                Ok(key) => txn.merge(*db, key, effect)?,
                Err(flushed) => *flushed,
            });
        }
        Ok(merged)
    }

    /// A peer's FLUSHDB: every entry and tombstone of `db` older than `stamp` goes (the flush rule
    /// of [`Keyspace::merge`]).
    fn merge_flush(&self, db: usize, stamp: Stamp, now_ms: u64) -> Merged {
        if stamp <= self.floor(db) {
            return Merged::Stale;
        }
        let mut set = LockSet::default();
        set.add_db(db);
        let mut txn = self.lock(&mut set, now_ms);
        self.raise_floor(db, stamp);
        if let Some(flash) = self.flash.as_deref() {
            flash.note_flush(db, stamp);
        }
        txn.flush_older(db, stamp);
        Merged::Applied
    }

    /// A consistent cut for a full sync to a peer: the live keys of every database (read back from
    /// flash on the FLASH tier), every tombstone and every flush floor.
    pub fn replication_cut(&self, now_ms: u64) -> KeyspaceCut {
        let mut cut = self.cut_all(now_ms);
        if let Some(flash) = self.flash.as_deref() {
            // RAM holds only the hot keys: the keys come from flash (staged writes included).
            cut.dbs = (0..self.databases).map(|db| (db, self.flash_cut(flash, db, now_ms))).collect();
        }
        cut
    }

    /// Number of tombstones held (INFO), as of each shard's last release (takes no lock).
    pub fn tombstone_count(&self) -> usize {
        self.sizes(0..self.shards.len(), &[]).tombstones
    }

    /// Drops the tombstones of keys that went (were deleted, or expired) before `before_ms` (Unix
    /// ms), and forgets the flushes made before it: past that horizon, no older write is expected
    /// to arrive any more. Returns how many tombstones went.
    pub fn purge_tombstones(&self, before_ms: u64) -> usize {
        let flash = self.flash.as_deref();
        for (db, floor) in self.floors.iter().enumerate() {
            let mut floor = floor.lock();
            if *floor != Stamp::default() && floor.physical_ms() < before_ms {
                *floor = Stamp::default();
                if let Some(flash) = flash {
                    flash.forget_floor(db);
                }
            }
        }
        let mut purged = 0;
        let mut gone: Vec<Key> = Vec::new();
        for (index, shard) in self.shards.iter().enumerate() {
            let mut shard = shard.lock();
            purged += shard.purge_tombstones(|key, grave| {
                let keep = grave.gone_ms >= before_ms;
                if !keep && flash.is_some() {
                    gone.push(key.clone());
                }
                keep
            });
            drop(shard);
            if let Some(flash) = flash.filter(|_| !gone.is_empty()) {
                flash.forget_graves(index / SHARDS_PER_DB, gone.iter().map(|key| &key.bytes()[..]));
                gone.clear();
            }
        }
        purged
    }

    /// A keyspace over the FLASH tier's store: keys hash with the store's seed (a key's place
    /// on flash must not move across restarts), and nothing is loaded up front. The clock starts
    /// past the newest stamp the store has seen, so that every write from now on is newer than
    /// any key read back from flash later, and than the deletes and flushes it remembers no more.
    pub fn with_flash(databases: usize, clock: Arc<dyn Clock>, flash: Arc<FlashStore>) -> Keyspace {
        clock.witness(flash.newest_stamp());
        let mut ks = Keyspace::new(databases, clock, KeyHasher::with_seed(flash.seed()));
        ks.flash = Some(flash);
        ks
    }

    /// FLASH tier, at start: brings back the flush floors and tombstones kept on flash (see the
    /// flash module), but for graves that are stale: older than their database's floor, or than
    /// a record of their key written after them. Those are forgotten on flash too. Does nothing
    /// on a keyspace in RAM only.
    pub fn restore_graves(&self) -> Result<(), FlashError> {
        let Some(flash) = self.flash.as_deref() else { return Ok(()) };
        for (db, stamp) in flash.floors()? {
            if db < self.databases() {
                self.raise_floor(db, stamp);
            }
        }
        for grave in flash.graves()? {
            if grave.db >= self.databases() {
                continue;
            }
            let key = self.key(grave.key.clone());
            let index = self.shard_index(grave.db, &key) as usize;
            let record = flash.get(index, grave.db, key.hash(), key.bytes())?;
            let newer_record =
                record.and_then(|r| crate::codec::peek_header(&r).ok()).is_some_and(|(stamp, _)| stamp >= grave.stamp);
            if newer_record || grave.stamp < self.floor(grave.db) {
                flash.forget_graves(grave.db, [&key.bytes()[..]]);
                continue;
            }
            self.shards[index].lock().bury_at(&key, grave.stamp, grave.gone_ms);
        }
        Ok(())
    }

    /// The FLASH tier's store, if this keyspace has one.
    pub fn flash(&self) -> Option<&Arc<FlashStore>> {
        self.flash.as_ref()
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
        let guards: Vec<ShardGuard<'_>> = self.shards[range].iter().map(|s| s.lock()).collect();
        Cut::new(guards.iter().map(|g| g.map.clone()).collect(), now_ms)
    }

    /// A consistent cut of every database at once (snapshots, full syncs): every shard of every
    /// database is locked together for as long as it takes to clone the tables' `Arc`s and copy
    /// the tombstones (of which there are none without replication).
    pub fn cut_all(&self, now_ms: u64) -> KeyspaceCut {
        let guards: Vec<ShardGuard<'_>> = self.shards.iter().map(|s| s.lock()).collect();
        self.cut_of(guards.iter().map(|g| &**g), now_ms)
    }

    /// The cut of every shard, given in index order and all locked by the caller.
    pub(crate) fn cut_of<'s>(&self, shards: impl ExactSizeIterator<Item = &'s Shard>, now_ms: u64) -> KeyspaceCut {
        debug_assert_eq!(shards.len(), self.shards.len());
        let (mut tombstones, mut ghosts) = (Vec::new(), Vec::new());
        let mut tables = Vec::with_capacity(self.shards.len());
        for (index, shard) in shards.enumerate() {
            let db = index / SHARDS_PER_DB;
            tombstones.extend(shard.tombstones().map(|(key, stamp)| (db, key.bytes().clone(), *stamp)));
            ghosts.extend(shard.ghosts().map(|(key, ghost)| (db, key.bytes().clone(), ghost.clone())));
            tables.push(shard.map.clone());
        }
        let floors = (0..self.databases)
            .map(|db| (db, self.floor(db)))
            .filter(|(_, floor)| *floor != Stamp::default())
            .collect();
        let mut tables = tables.into_iter();
        let dbs = (0..self.databases)
            .map(|db| (db, Cut::new(tables.by_ref().take(SHARDS_PER_DB).collect(), now_ms)))
            .collect();
        KeyspaceCut { dbs, tombstones, ghosts, floors }
    }

    /// Puts a tombstone back as it was saved (loading a snapshot at `now_ms`). The file keeps its
    /// stamp only, not when the key went (an expired key's tombstone carries its last write's
    /// stamp, which may be much older): it is kept as if the key went no earlier than the load.
    pub(crate) fn restore_tombstone(&self, db: usize, key: Key, stamp: Stamp, now_ms: u64) {
        self.shards[self.shard_index(db, &key) as usize].lock().bury_at(&key, stamp, now_ms.max(stamp.physical_ms()));
    }

    /// Puts an entry back as it was saved, stamp and expiry included (loading a snapshot, and the
    /// FLASH tier bringing a cold key back into RAM). Not a write: nothing is counted or signalled.
    pub fn restore(&self, db: usize, key: Key, entry: Entry) {
        self.shards[self.shard_index(db, &key) as usize].lock().insert(key, entry);
    }

    /// Number of keys and of keys with an expiry in `db`, as of each shard's last release (takes
    /// no lock, so a command holding shards may ask; not a consistent cut).
    pub fn db_size(&self, db: usize) -> (usize, usize) {
        self.db_size_holding(db, &[])
    }

    /// [`Keyspace::db_size`] for a caller holding the shards `held` (sorted by index): those are
    /// counted as they are now, the rest as published.
    pub(crate) fn db_size_holding(&self, db: usize, held: &[(u32, ShardGuard<'_>)]) -> (usize, usize) {
        let sizes = self.sizes(db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB, held);
        match self.flash.as_deref() {
            Some(flash) => (flash.count(db) as usize, sizes.expiring),
            None => (sizes.keys, sizes.expiring),
        }
    }

    /// The sizes of the shards in `range`, added up: live for the shards in `held` (sorted by
    /// index), published for the others (see [`ShardCell`]).
    pub(crate) fn sizes(&self, range: std::ops::Range<usize>, held: &[(u32, ShardGuard<'_>)]) -> ShardSizes {
        let mut total = ShardSizes::default();
        for index in range {
            total = total
                + match held.binary_search_by_key(&(index as u32), |(i, _)| *i) {
                    Ok(pos) => held[pos].1.sizes(),
                    Err(_) => self.shards[index].published(),
                };
        }
        total
    }

    /// True if `key` is in RAM (on the FLASH tier it may still be on flash if not).
    pub fn in_ram(&self, db: usize, key: &Key) -> bool {
        self.shards[self.shard_index(db, key) as usize].lock().get(key).is_some()
    }

    /// FLASH tier: false if flash surely does not hold `key` (its bloom filter says so; no I/O),
    /// true if it may. Always false without the FLASH tier.
    pub fn may_be_on_flash(&self, db: usize, key: &Key) -> bool {
        self.flash.as_deref().is_some_and(|flash| flash.may_exist(db, key.hash(), key.bytes()))
    }

    /// FLASH tier: reads `keys` of `db` from flash (in one batch) and brings the ones still live at
    /// `now_ms` into RAM; returns how many of them RAM keeps. Runs off the command workers. A key
    /// changed meanwhile (anything staged in its group since the read began) is left alone: the
    /// command then reads it itself. A key read for the first time lately (see `probation`) is
    /// brought in only for the commands that asked for it: it is added to `passing`, with the stamp
    /// it came with, and whoever ran those commands hands it to [`Keyspace::let_go`].
    pub fn preload(&self, db: usize, keys: &[Key], now_ms: u64, passing: &mut Vec<(Key, Stamp)>) -> usize {
        let Some(flash) = self.flash.as_deref() else { return 0 };
        let mut kept = 0;
        let wanted: Vec<(usize, u64, &[u8])> =
            keys.iter().map(|k| (self.shard_index(db, k) as usize, k.hash(), &k.bytes()[..])).collect();
        // On a read error, the keys not brought in yet are read by their commands, which report it.
        let _ = flash.read_many(db, &wanted, |i, generation, record| {
            let Some(record) = record else {
                flash.stats.misses.add(1);
                return;
            };
            flash.stats.hits.add(1);
            let Ok(entry) = crate::codec::decode_entry_from(record, now_ms).map(Entry::read_back) else { return };
            if entry.is_expired(now_ms) {
                return;
            }
            let (key, index) = (&keys[i], wanted[i].0);
            let mut shard = self.shards[index].lock();
            if shard.get(key).is_none() && flash.generation(index) == generation {
                if self.arrive(index, key, &entry, true) == Arrival::Passing {
                    flash.stats.passing.add(1);
                    passing.push((key.clone(), entry.stamp));
                } else {
                    kept += 1;
                }
                shard.insert(key.clone(), entry);
            }
        });
        kept
    }

    /// FLASH tier: takes out of RAM a key that [`Keyspace::preload`] brought in only for the
    /// commands that have now run, if it is as it came (the stamp it came with) and no other
    /// command read it: it is on flash, so this is an eviction that no memory pressure had to ask
    /// for. A key written meanwhile, or read again, stays, queued for probation as a key written
    /// while not in RAM is.
    pub fn let_go(&self, db: usize, key: &Key, stamp: Stamp) {
        let index = self.shard_index(db, key) as usize;
        let mut shard = self.shards[index].lock();
        match shard.get(key) {
            Some(entry) if entry.stamp == stamp && crate::probation::unused_since_admitted(entry) => {
                shard.evict_cached(key);
            }
            Some(entry) => self.admit(index, key, entry),
            None => {}
        }
    }

    /// FLASH tier: queues a key that is coming into RAM (from flash, or written while not in RAM)
    /// for probation, unless its ghost says it is coming back as used as what eviction gives up:
    /// then it skips the queue with the LFU counter it had (see `probation`). Called under the
    /// key's shard lock.
    pub(crate) fn admit(&self, shard: usize, key: &Key, entry: &Entry) {
        self.arrive(shard, key, entry, false);
    }

    /// Tells the probation queue that `key` is coming into RAM (`from_flash`: read back, which the
    /// doorkeeper may let pass) and gives a returning key its old LFU counter.
    fn arrive(&self, shard: usize, key: &Key, entry: &Entry, from_flash: bool) -> Arrival {
        let newcomer = Newcomer {
            shard: shard as u32,
            hash: key.hash(),
            bytes: crate::evict::ram_cost(key.bytes(), entry),
            turned_away: 0,
        };
        let arrival = if from_flash {
            self.probation.arrive_from_flash(newcomer, entry.frequency())
        } else {
            self.probation.arrive(newcomer, entry.frequency())
        };
        if let Arrival::Returning(counter) = arrival {
            entry.set_frequency(counter);
        }
        arrival
    }

    /// FLASH tier: how many bytes of keys new to RAM the probation queue holds before eviction
    /// takes from it (the server sets `maxmemory >> PROBATION_LIMIT_SHIFT`); 0 turns it off.
    pub fn set_probation_limit(&self, bytes: usize) {
        if self.flash.is_some() {
            self.probation.set_limit(bytes);
        }
    }

    /// FLASH tier: keys and estimated bytes in the probation queue (INFO).
    pub fn probation_len(&self) -> (usize, usize) {
        self.probation.len()
    }

    /// Keys held in RAM, in every database (with the FLASH tier, the hot part), as of each shard's
    /// last release (takes no lock).
    pub fn ram_keys(&self) -> usize {
        self.sizes(0..self.shards.len(), &[]).keys
    }

    /// Active expiry: removes keys whose time ran out, at most `limit` per shard, skipping shards
    /// that are busy right now (they are visited on the next cycle). Returns the number removed.
    pub fn expire_cycle(&self, now_ms: u64, limit: usize) -> usize {
        let mut removed = 0;
        for (index, shard) in self.shards.iter().enumerate() {
            let Some(mut shard) = shard.try_lock() else { continue };
            for key in shard.due(now_ms, limit) {
                let Some(flash) = self.flash.as_deref() else {
                    if let Some(gone) = shard.remove(&key) {
                        if self.feeding() {
                            shard.bury_expired(&key, gone.stamp, gone.expire_at().unwrap_or(now_ms));
                        }
                    }
                    shard.signal(&key);
                    self.key_written(&key, false);
                    self.key_event(KeyEvent::Expired, index / SHARDS_PER_DB, &key);
                    removed += 1;
                    continue;
                };
                if flash_expire(flash, &mut shard, index, &key, now_ms, self.feeding()) {
                    shard.signal(&key);
                    self.key_written(&key, false);
                    self.key_event(KeyEvent::Expired, index / SHARDS_PER_DB, &key);
                    removed += 1;
                }
            }
        }
        self.stats.expired_keys.add(removed as u64);
        removed
    }

    /// A consistent cut of `db` read back from the FLASH tier: every staged change is written
    /// first, then the database is read from RocksDB into fresh tables. Costs memory for the whole
    /// database while the cut lives (KEYS and DEBUG DIGEST on flash).
    pub(crate) fn flash_cut(&self, flash: &FlashStore, db: usize, now_ms: u64) -> Cut {
        flash.drain();
        let mut shards: Vec<Shard> = (0..SHARDS_PER_DB).map(|_| Shard::new(self.hasher.clone())).collect();
        let _ = flash.scan(db, 0, |_, key, record| {
            if let Ok(entry) = crate::codec::decode_entry(&record, now_ms) {
                let key = self.key(bytes::Bytes::copy_from_slice(key));
                shards[(key.hash() >> (64 - SHARD_BITS)) as usize].insert(key, entry);
            }
            true
        });
        Cut::new(shards.into_iter().map(|shard| shard.map).collect(), now_ms)
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

/// What the FLASH tier stages for a key that expired at `at`, last written with `stamp`: with
/// `bury` (replication runs), its tombstone goes to RAM and to flash.
fn buried(shard: &mut Shard, key: &Key, bury: bool, stamp: Stamp, at: u64) -> Staged {
    if !bury {
        return Staged::Delete(stamp);
    }
    shard.bury_expired(key, stamp, at);
    match shard.grave(key) {
        Some(grave) => Staged::Bury(grave.stamp, grave.gone_ms),
        None => Staged::Delete(stamp),
    }
}

/// FLASH tier active expiry of one due key: removes it from RAM and, if it really is expired on
/// flash too, deletes it there. True if a key expired.
fn flash_expire(flash: &FlashStore, shard: &mut Shard, index: usize, key: &Key, now_ms: u64, bury: bool) -> bool {
    let db = index / SHARDS_PER_DB;
    if let Some(entry) = shard.get(key) {
        if !entry.is_expired(now_ms) {
            return false;
        }
        let (stamp, at) = (entry.stamp, entry.expire_at().unwrap_or(now_ms));
        shard.remove(key);
        flash.stage(index, db, key.hash(), key.bytes(), buried(shard, key, bury, stamp, at), -1);
        return true;
    }
    // Not in RAM (evicted): its expiry was indexed; check the newest state on flash.
    let stored = flash.get(index, db, key.hash(), key.bytes()).ok().flatten();
    let header = stored.as_deref().and_then(|r| crate::codec::peek_header(r).ok());
    match header {
        Some((stamp, Some(at))) if at <= now_ms => {
            shard.forget_expiry(at, key);
            flash.stage(index, db, key.hash(), key.bytes(), buried(shard, key, bury, stamp, at), -1);
            true
        }
        _ => {
            shard.forget_due(key, now_ms);
            false
        }
    }
}

/// What a command may know of the whole keyspace without taking a lock: counts (live for the
/// shards its transaction holds, as of their last release for the others), counters, settings.
/// A command gets it from its transaction ([`Txn::view`]); it has no method that locks a shard,
/// so a command holding some cannot wait on itself through it.
#[derive(Clone, Copy)]
pub struct KeyspaceView<'a> {
    pub(crate) ks: &'a Keyspace,
    pub(crate) held: &'a [(u32, ShardGuard<'a>)],
}

impl<'a> KeyspaceView<'a> {
    /// Holds lazy expiry back until Unix time `until_ms` (see [`Keyspace::hold_expiry_until`]):
    /// a setting, like the keyspace's own atomics, that takes no shard lock.
    pub fn hold_expiry_until(&self, until_ms: u64) {
        self.ks.hold_expiry_until(until_ms);
    }

    /// Ends a hold of lazy expiry (see [`Keyspace::release_expiry`]).
    pub fn release_expiry(&self) {
        self.ks.release_expiry();
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.ks.databases
    }

    /// True once the change feed (replication) is on.
    pub fn feeding(&self) -> bool {
        self.ks.feeding()
    }

    /// The FLASH tier's store, if there is one.
    pub fn flash(&self) -> Option<&'a Arc<FlashStore>> {
        self.ks.flash.as_ref()
    }

    /// The keyspace's counters.
    pub fn stats(&self) -> &'a KeyspaceStats {
        &self.ks.stats
    }

    /// Keys and keys with an expiry in `db`.
    pub fn db_size(&self, db: usize) -> (usize, usize) {
        self.ks.db_size_holding(db, self.held)
    }

    /// Keys in RAM in every database.
    pub fn ram_keys(&self) -> usize {
        self.ks.sizes(0..self.ks.shards.len(), self.held).keys
    }

    /// Tombstones held.
    pub fn tombstone_count(&self) -> usize {
        self.ks.sizes(0..self.ks.shards.len(), self.held).tombstones
    }

    /// FLASH tier: keys and estimated bytes in the probation queue.
    pub fn probation_len(&self) -> (usize, usize) {
        self.ks.probation_len()
    }
}
