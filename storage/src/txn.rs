//! A transaction: the shards one command (or one EXEC) holds locked, and every operation on keys.
//!
//! All reads and writes of keys go through here, which is what keeps the invariants in one place:
//! expired keys are removed when touched (lazy expiry), every write takes its command's stamp and
//! wakes WATCHers and blocked clients of its key, and the expiry index follows every TTL change.
//!
//! Stamps are per command, not per transaction: the commands of one EXEC run on one `Txn`, and
//! [`Txn::next_command`] gives each its own stamp, newer than the one before. Their writes are then
//! ordered on every node as they ran here, which a flush inside the EXEC needs (see
//! [`Keyspace::merge`]'s flush rule): a write before the FLUSHDB is older than the flush and goes,
//! a write after it is newer and stays, here and on every peer.
//!
//! Touching a key whose shard this transaction did not lock is a bug in the command's key
//! specification; it panics (the server turns that into an error for that one client).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use smallvec::SmallVec;
use tokio::sync::Notify;

use crate::codec::CodecError;
use crate::crdt::{self, Held, Joined};
use crate::cut::Cut;
use crate::entry::Entry;
use crate::error::StorageError;
use crate::events::KeyEvent;
use crate::feed::{Change, Effect, Merged, Recorded};
use crate::flash::{FlashStore, Staged};
use crate::journal::{JournalRecord, Logged};
use crate::key::Key;
use crate::keyspace::{Keyspace, KeyspaceView, SHARDS_PER_DB};
use crate::shard::ShardGuard;
use crate::stamp::Stamp;
use crate::value::{Context, Counter, DottedHash, DottedSet, DottedZSet, Value, ValueType, ZSet};

/// A set open for writing by one command (see [`Txn::write_set`]): plain on a standalone node;
/// with replication on, dotted, its adds carrying the command's stamp as their dot, and what the
/// command did noted in its delta for peers, unless they are sent the whole set anyway.
pub struct SetWriter<'t>(SetWriting<'t>);

enum SetWriting<'t> {
    /// A plain set, and whether it was empty when opened: made by this command (a key never holds
    /// an empty collection; see [`SetWriter::fit`]).
    Plain(&'t mut crate::value::SetValue, bool),
    Dotted(&'t mut DottedSet, Stamp, Option<&'t mut DottedSet>),
}

impl SetWriter<'_> {
    /// Gives back the room beyond its members of a set this command made, once it is written. An
    /// `IndexSet` or `IndexMap` grows its entries to its index's capacity (14 for 10 elements: 72
    /// bytes each in a hash, a 1,024-byte allocation where 10 take 768); a collection written
    /// whole by one command (SADD of its members, HSET of an object's fields) often never grows
    /// again, and one that does regrows as it would have. A set that had members when opened is
    /// left alone: adding one member to a big set would otherwise copy all of them.
    pub fn fit(&mut self) {
        if let SetWriting::Plain(set, true) = &mut self.0 {
            set.shrink_to_fit();
        }
    }

    /// The members, as reads see them.
    pub fn members(&self) -> &crate::value::SetValue {
        match &self.0 {
            SetWriting::Plain(set, _) => set,
            SetWriting::Dotted(set, ..) => set.members(),
        }
    }

    /// Adds `member`; true if it was not a member.
    pub fn insert(&mut self, member: bytes::Bytes) -> bool {
        match &mut self.0 {
            SetWriting::Plain(set, _) => set.insert(member),
            SetWriting::Dotted(set, dot, Some(delta)) => set.insert_noting(member, *dot, delta),
            SetWriting::Dotted(set, dot, None) => set.insert(member, *dot),
        }
    }

    /// Removes `member`; true if it was one.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            SetWriting::Plain(set, _) => set.swap_remove(member),
            SetWriting::Dotted(set, _, Some(delta)) => set.remove_noting(member, delta),
            SetWriting::Dotted(set, _, None) => set.remove(member),
        }
    }

    /// Removes and returns the member at `index` (O(1): the last member takes its place).
    pub fn remove_index(&mut self, index: usize) -> Option<bytes::Bytes> {
        match &mut self.0 {
            SetWriting::Plain(set, _) => set.swap_remove_index(index),
            SetWriting::Dotted(set, _, Some(delta)) => {
                let member = set.members().get_index(index)?.clone();
                set.remove_noting(&member, delta);
                Some(member)
            }
            SetWriting::Dotted(set, _, None) => set.remove_index(index),
        }
    }

    /// Removes and returns every member.
    pub fn take_all(&mut self) -> Vec<bytes::Bytes> {
        if let SetWriting::Plain(set, _) = &mut self.0 {
            return std::mem::take(*set).into_iter().collect();
        }
        let mut all = Vec::with_capacity(self.members().len());
        while let Some(member) = self.members().len().checked_sub(1).and_then(|last| self.remove_index(last)) {
            all.push(member);
        }
        all
    }
}

/// A hash open for writing by one command (see [`Txn::write_hash`]): plain on a standalone node;
/// with replication on, dotted, its field writes carrying the command's stamp as their dot, and
/// noted in its delta for peers.
pub struct HashWriter<'t>(HashWriting<'t>);

enum HashWriting<'t> {
    /// A plain hash, and whether it was empty when opened (as [`SetWriting::Plain`]).
    Plain(&'t mut crate::value::HashValue, bool),
    Dotted(&'t mut DottedHash, Stamp, Option<&'t mut DottedHash>),
}

impl HashWriter<'_> {
    /// Gives back the room beyond its fields of a hash this command made (as [`SetWriter::fit`]).
    pub fn fit(&mut self) {
        if let HashWriting::Plain(hash, true) = &mut self.0 {
            hash.shrink_to_fit();
        }
    }

    /// The fields, as reads see them.
    pub fn fields(&self) -> &crate::value::HashValue {
        match &self.0 {
            HashWriting::Plain(hash, _) => hash,
            HashWriting::Dotted(hash, ..) => hash.fields(),
        }
    }

    /// Makes room for `more` fields (a plain hash; a dotted one grows as it goes).
    pub fn reserve(&mut self, more: usize) {
        if let HashWriting::Plain(hash, _) = &mut self.0 {
            hash.reserve(more);
        }
    }

    /// Writes `value` to `field`; true if the field is new.
    pub fn insert(&mut self, field: bytes::Bytes, value: bytes::Bytes) -> bool {
        match &mut self.0 {
            HashWriting::Plain(hash, _) => hash.insert(field, value),
            HashWriting::Dotted(hash, dot, Some(delta)) => hash.insert_noting(field, value, *dot, delta),
            HashWriting::Dotted(hash, dot, None) => hash.insert(field, value, *dot),
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            HashWriting::Plain(hash, _) => hash.swap_remove(field),
            HashWriting::Dotted(hash, _, Some(delta)) => hash.remove_noting(field, delta),
            HashWriting::Dotted(hash, _, None) => hash.remove(field),
        }
    }
}

/// A sorted set open for writing by one command (see [`Txn::write_zset`]): plain on a standalone
/// node; with replication on, dotted, its score writes carrying the command's stamp as their dot,
/// and noted in its delta for peers.
pub struct ZSetWriter<'t>(ZSetWriting<'t>);

enum ZSetWriting<'t> {
    /// A plain sorted set, and whether it was empty when opened (as [`SetWriting::Plain`]).
    Plain(&'t mut ZSet, bool),
    Dotted(&'t mut DottedZSet, Stamp, Option<&'t mut DottedZSet>),
}

impl ZSetWriter<'_> {
    /// Gives back the room beyond its members of a sorted set this command made (as
    /// [`SetWriter::fit`]).
    pub fn fit(&mut self) {
        if let ZSetWriting::Plain(zset, true) = &mut self.0 {
            zset.shrink_to_fit();
        }
    }

    /// The members by score, as reads see them.
    pub fn zset(&self) -> &ZSet {
        match &self.0 {
            ZSetWriting::Plain(zset, _) => zset,
            ZSetWriting::Dotted(zset, ..) => zset.view(),
        }
    }

    /// Sets `member`'s score; returns the previous one if it was a member.
    pub fn insert(&mut self, member: bytes::Bytes, score: f64) -> Option<f64> {
        match &mut self.0 {
            ZSetWriting::Plain(zset, _) => zset.insert(member, score),
            ZSetWriting::Dotted(zset, dot, delta) => zset.insert(member, score, *dot, delta.as_deref_mut()),
        }
    }

    /// Removes `member`; returns its score if it was one.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.0 {
            ZSetWriting::Plain(zset, _) => zset.remove(member),
            ZSetWriting::Dotted(zset, _, delta) => zset.remove(member, delta.as_deref_mut()),
        }
    }

    /// Removes and returns the member with the lowest score (the highest with `max`).
    pub fn pop(&mut self, max: bool) -> Option<(bytes::Bytes, f64)> {
        match &mut self.0 {
            ZSetWriting::Plain(zset, _) => zset.pop(max),
            ZSetWriting::Dotted(zset, _, delta) => zset.pop(max, delta.as_deref_mut()),
        }
    }
}

/// What the writers need of each dotted collection (set, hash, sorted set): where it sits in a
/// [`Value`], how a key becomes one, and its context and delta.
trait Dotted: Clone + Sized {
    /// The collection `value` holds, if it is of this kind.
    fn of(value: &mut Value) -> Option<&mut Arc<Self>>;
    /// What `value`, written last at `stamp`, becomes: None if it is of this kind already, the
    /// dotted copy of the plain collection of this type (based at `stamp`), or `WrongType`.
    fn lift(value: &Value, stamp: Stamp) -> Result<Option<Value>, StorageError>;
    /// A new key's collection: its ghost, if it left one of this kind, or an empty one on `base`
    /// (its tombstone's stamp).
    fn start(ghost: Option<&Value>, base: Stamp) -> Value;
    /// What the collection has seen.
    fn context(&self) -> &Context;
    /// An empty delta for a command about to write it.
    fn delta(&self) -> Self;
    /// The collection as a value.
    fn into_value(self) -> Value;
}

/// Implements [`Dotted`] for a dotted type held by `$variant`, made from the plain `$plain`.
macro_rules! dotted {
    ($ty:ty, $variant:ident, $plain:ident) => {
        impl Dotted for $ty {
            fn of(value: &mut Value) -> Option<&mut Arc<Self>> {
                match value {
                    Value::$variant(dotted) => Some(dotted),
                    _ => None,
                }
            }

            fn lift(value: &Value, stamp: Stamp) -> Result<Option<Value>, StorageError> {
                match value {
                    Value::$variant(_) => Ok(None),
                    Value::$plain(plain) => Ok(Some(Value::$variant(Arc::new(<$ty>::from_plain(plain, stamp))))),
                    _ => Err(StorageError::WrongType),
                }
            }

            fn start(ghost: Option<&Value>, base: Stamp) -> Value {
                match ghost {
                    Some(Value::$variant(ghost)) => Value::$variant(ghost.clone()),
                    _ => Value::$variant(Arc::new(<$ty>::empty(base))),
                }
            }

            fn context(&self) -> &Context {
                <$ty>::context(self)
            }

            fn delta(&self) -> Self {
                <$ty>::delta(self)
            }

            fn into_value(self) -> Value {
                Value::$variant(Arc::new(self))
            }
        }
    };
}

dotted!(DottedSet, DotSet, Set);
dotted!(DottedHash, DotHash, Hash);
dotted!(DottedZSet, DotZSet, ZSet);

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

/// Locked shards plus the time of the command (or EXEC) running on them and the stamp of the
/// running command's writes.
pub struct Txn<'a> {
    ks: &'a Keyspace,
    guards: SmallVec<[(u32, ShardGuard<'a>); 2]>,
    now_ms: u64,
    /// The running command's stamp, taken at its first write; cleared for the next command of
    /// an EXEC.
    stamp: Option<Stamp>,
    dirty: u64,
    expired: u64,
    /// FLASH tier and replication only: the keys this transaction looked at, whether each existed
    /// (in RAM or on flash) when first touched, and whether it was written. Staged to flash and
    /// reported to the change feed at commit.
    touched: SmallVec<[Touch; 2]>,
    /// FLASH tier only: the sequence number of the last change this transaction staged.
    staged: u64,
    /// False for a command that only reads: a key it finds in RAM is not noted in `touched`
    /// (nothing at commit would use the note, and noting clones the key).
    notes_reads: bool,
}

/// A key a transaction touched (FLASH tier and change feed bookkeeping).
struct Touch {
    pos: usize,
    key: Key,
    existed: bool,
    written: bool,
    /// A command wrote it (not only expiry or a merge from a peer): the change feed hears of it.
    local: bool,
    /// Its value was read from flash (or found in RAM), not only its existence checked.
    read: bool,
    /// Replication only: the writes commands made to it, and how many of them went through a
    /// set or hash writer into `delta`. When all did, peers are sent the delta, not the value.
    writes: u32,
    delta_writes: u32,
    delta: Option<Value>,
}

impl Touch {
    /// The delta to send peers instead of `entry` (its stamp and expiry with the delta's
    /// value), when every write this transaction made to the key was noted in it.
    fn delta_of(&self, entry: &Entry, now_ms: u64) -> Option<Entry> {
        let delta = self.delta.as_ref().filter(|_| self.writes == self.delta_writes)?;
        let same_base = match (delta, &entry.value) {
            (Value::DotSet(d), Value::DotSet(v)) => d.base() == v.base(),
            (Value::DotHash(d), Value::DotHash(v)) => d.base() == v.base(),
            (Value::DotZSet(d), Value::DotZSet(v)) => d.base() == v.base(),
            _ => false,
        };
        same_base.then(|| Entry::new(delta.clone(), entry.stamp, entry.expire_at(), now_ms))
    }
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        self.commit();
        self.ks.stats.dirty.add(self.dirty);
        self.ks.stats.expired_keys.add(self.expired);
    }
}

impl<'a> Txn<'a> {
    pub(crate) fn new(ks: &'a Keyspace, guards: SmallVec<[(u32, ShardGuard<'a>); 2]>, now_ms: u64) -> Self {
        Txn {
            ks,
            guards,
            now_ms,
            stamp: None,
            dirty: 0,
            expired: 0,
            touched: SmallVec::new(),
            staged: 0,
            notes_reads: true,
        }
    }

    /// Declares that the command running on this transaction only reads (it may still expire
    /// keys lazily, which is noted as a write): keys found in RAM need no bookkeeping then.
    pub fn read_only(&mut self) {
        self.notes_reads = false;
    }

    /// Stages the new state of every key this transaction wrote on the FLASH tier, and reports
    /// the ones commands wrote to the change feed (still under the shard locks, so per-key order
    /// holds). Returns the FLASH tier's sequence number to wait for before acknowledging (0 if
    /// nothing was staged). Also run when the transaction is dropped.
    ///
    /// A key a command deleted is reported with the last command's stamp, or a fresh one if the
    /// last command wrote nothing: either way newer than every flush that ran before the delete
    /// in the same EXEC. (A key deleted before a flush of its database is not reported at all:
    /// the flush took it out of the keys to report.)
    pub fn commit(&mut self) -> u64 {
        if self.touched.is_empty() {
            return self.staged;
        }
        // Borrowed through the keyspace reference, not cloned: these `Arc`s are shared by every
        // worker, and bumping their counts on each commit bounced their cache lines between cores.
        let flash = self.ks.flash.as_deref();
        let feed = self.ks.feed.get().map(|f| &**f);
        let mut touched = std::mem::take(&mut self.touched);
        touched.retain(|touch| touch.written);
        // First what changes the shards (the graves of deleted keys) and the FLASH tier's staging;
        // then, with the shards only read, the group for the feed, which borrows their entries.
        let mut reported = false;
        for touch in touched.iter() {
            let report = touch.local && feed.is_some();
            reported |= report;
            let delete_stamp = if report { Some(self.stamp()) } else { None };
            let (index, shard) = (self.guards[touch.pos].0 as usize, &mut self.guards[touch.pos].1);
            let db = index / SHARDS_PER_DB;
            if report && shard.get(&touch.key).is_none() {
                shard.bury(&touch.key, delete_stamp.unwrap_or_default());
            }
            if let Some(flash) = flash {
                let state = match shard.get(&touch.key) {
                    Some(entry) => Staged::Put(crate::codec::encode_entry_bytes(entry), entry.stamp),
                    None => match shard.grave(&touch.key) {
                        Some(grave) => Staged::Bury(grave.stamp, grave.gone_ms),
                        None => Staged::Delete(Stamp::default()),
                    },
                };
                let delta = matches!(state, Staged::Put(..)) as i64 - touch.existed as i64;
                self.staged = flash.stage(index, db, touch.key.hash(), touch.key.bytes(), state, delta);
            }
        }
        if let Some(feed) = feed.filter(|_| reported) {
            // A dotted set or hash that only writers changed travels as its delta.
            let deltas: SmallVec<[Option<Entry>; 4]> = touched
                .iter()
                .filter(|touch| touch.local)
                .map(|touch| {
                    // Only a key a writer noted a delta for is looked up again here.
                    touch.delta.as_ref()?;
                    touch.delta_of(self.guards[touch.pos].1.get(&touch.key)?, self.now_ms)
                })
                .collect();
            let group: SmallVec<[Recorded<'_>; 4]> = touched
                .iter()
                .filter(|touch| touch.local)
                .zip(&deltas)
                .map(|(touch, delta)| {
                    let (index, shard) = (self.guards[touch.pos].0 as usize, &self.guards[touch.pos].1);
                    // A deleted dotted set travels as what is left of it (its ghost): peers
                    // remove only the adds it saw.
                    let change = match (delta, shard.get(&touch.key), shard.ghost(&touch.key)) {
                        (Some(delta), ..) => Change::Put(delta),
                        (None, Some(entry), _) | (None, None, Some(entry)) => Change::Put(entry),
                        (None, None, None) => Change::Delete(shard.tombstone(&touch.key).unwrap_or_default()),
                    };
                    Recorded { db: index / SHARDS_PER_DB, key: touch.key.bytes(), change }
                })
                .collect();
            feed.record(&group);
        }
        if let Some(journal) = self.ks.journal().filter(|_| !touched.is_empty()) {
            // Every write goes to the append-only file, whoever made it (a command, a peer's
            // change, a lazy expiry): it must rebuild the data as it is.
            let group: SmallVec<[JournalRecord<'_>; 4]> = touched
                .iter()
                .map(|touch| {
                    let (index, shard) = (self.guards[touch.pos].0 as usize, &self.guards[touch.pos].1);
                    let what = match shard.get(&touch.key) {
                        Some(entry) => Logged::Put(entry),
                        None => Logged::Delete(shard.tombstone(&touch.key).unwrap_or_default()),
                    };
                    JournalRecord { db: index / SHARDS_PER_DB, key: touch.key.bytes(), what }
                })
                .collect();
            // The journal and the FLASH tier never run together: the number to wait for is the
            // journal's.
            self.staged = journal.log(&group);
        }
        touched.clear();
        self.touched = touched;
        self.staged
    }

    /// The sequence number of the last change this transaction staged (FLASH tier).
    pub fn staged(&self) -> u64 {
        self.staged
    }

    /// Notes that `key` was looked at (with whether it existed) or written, and whether by a
    /// command (`local`: the change feed reports it). Only the FLASH tier needs reads noted.
    fn touch(&mut self, pos: usize, key: &Key, existed: bool, written: bool, local: bool) {
        if self.ks.flash.is_none() && !(written && (self.ks.feeding() || self.ks.journaling())) {
            return;
        }
        match self.touched.iter_mut().find(|t| t.pos == pos && t.key == *key) {
            Some(t) => {
                t.written |= written;
                t.local |= local;
                t.writes += (written && local) as u32;
            }
            None => self.touched.push(Touch {
                pos,
                key: key.clone(),
                existed,
                written,
                local,
                read: false,
                writes: (written && local) as u32,
                delta_writes: 0,
                delta: None,
            }),
        }
    }

    /// A key removed by expiry (lazily): with replication on, it leaves a tombstone carrying the
    /// stamp of its last write, so that an older write from a peer cannot bring it back, kept from
    /// the time it expired at (`at`).
    fn bury_expired(&mut self, pos: usize, key: &Key, stamp: Stamp, at: u64) {
        if self.ks.feeding() {
            self.guards[pos].1.bury_expired(key, stamp, at);
        }
    }

    /// Lazy expiry of a key found expired (at `at`) on flash: it counts as expired, waiters are
    /// told, and the commit deletes it there.
    fn expired_on_flash(&mut self, pos: usize, key: &Key, at: u64, stamp: Stamp) {
        self.expired += 1;
        self.guards[pos].1.forget_expiry(at, key);
        self.guards[pos].1.signal(key);
        self.ks.key_written(key, false);
        self.bury_expired(pos, key, stamp, at);
        self.touch(pos, key, true, true, false);
    }

    /// Whether `key` exists, without bringing its value into RAM on the FLASH tier (a key only
    /// overwritten or deleted need not be read: its existence is enough, and costs no value copy).
    fn exists_at(&mut self, pos: usize, key: &Key) -> bool {
        let Some(flash) = self.ks.flash.as_deref() else { return self.find(pos, key).is_some() };
        if self.guards[pos].1.find(key).is_some() || self.touched.iter().any(|t| t.pos == pos && t.key == *key) {
            return self.find(pos, key).is_some();
        }
        let index = self.guards[pos].0 as usize;
        let db = index / SHARDS_PER_DB;
        let header = match flash.header(index, db, key.hash(), key.bytes()) {
            Ok(h) => h,
            Err(e) => panic!("flash read failed: {e}"),
        };
        match header {
            None => {
                flash.stats.misses.add(1);
                self.touch(pos, key, false, false, false);
                false
            }
            Some((stamp, Some(at))) if at <= self.now_ms => {
                flash.stats.hits.add(1);
                self.expired_on_flash(pos, key, at, stamp);
                false
            }
            Some(_) => {
                flash.stats.hits.add(1);
                self.touch(pos, key, true, false, false);
                true
            }
        }
    }

    /// FLASH tier: brings `key` into RAM from flash if it is there (and unexpired). Returns
    /// whether it existed at all (expired counts: it is then deleted).
    fn load(&mut self, pos: usize, key: &Key) -> bool {
        let Some(flash) = self.ks.flash.as_deref() else { return false };
        let index = self.guards[pos].0 as usize;
        let db = index / SHARDS_PER_DB;
        let record = match flash.get(index, db, key.hash(), key.bytes()) {
            Ok(r) => r,
            Err(e) => panic!("flash read failed: {e}"), // the dispatcher turns this into an error reply
        };
        let Some(record) = record else {
            flash.stats.misses.add(1);
            return false;
        };
        let entry = match crate::codec::decode_entry(&record, self.now_ms) {
            Ok(e) => e.read_back(),
            Err(e) => panic!("corrupt record on flash for a key: {e}"),
        };
        flash.stats.hits.add(1);
        if let Some(at) = entry.expire_at().filter(|&at| at <= self.now_ms) {
            self.expired_on_flash(pos, key, at, entry.stamp);
            return true;
        }
        self.ks.admit(index, key, &entry);
        self.guards[pos].1.insert(key.clone(), entry);
        true
    }

    /// What the command may know of the whole keyspace without taking a lock.
    pub fn view(&self) -> KeyspaceView<'_> {
        KeyspaceView { ks: self.ks, held: &self.guards }
    }

    /// Turns bytes into a key of this keyspace (hashes them once).
    pub fn key(&self, bytes: bytes::Bytes) -> Key {
        self.ks.key(bytes)
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

    /// The stamp of the running command's writes (taken from the clock at its first write).
    pub fn stamp(&mut self) -> Stamp {
        *self.stamp.get_or_insert_with(|| self.ks.clock.stamp(self.now_ms))
    }

    /// The next command of an EXEC begins: its writes take a stamp of their own, newer than the
    /// commands' before it (stamps cost one atomic step of the clock). See the module's
    /// documentation for why the commands of a transaction must not share one.
    pub fn next_command(&mut self) {
        self.stamp = None;
    }

    /// True if `key` is in RAM under this transaction's locks (present, expired or not, or
    /// already looked at by it), or in a shard it did not lock (nothing to say about it).
    pub fn in_ram(&self, db: usize, key: &Key) -> bool {
        match self.locked_pos(db, key) {
            Ok(pos) => {
                self.guards[pos].1.get(key).is_some() || self.touched.iter().any(|t| t.pos == pos && t.key == *key)
            }
            Err(_) => true,
        }
    }

    /// The database of the shard at `pos`.
    fn db_at(&self, pos: usize) -> usize {
        self.guards[pos].0 as usize / crate::keyspace::SHARDS_PER_DB
    }

    fn pos(&self, db: usize, key: &Key) -> usize {
        match self.locked_pos(db, key) {
            Ok(pos) => pos,
            Err(index) => panic!("shard {index} (db {db}) is not locked by this command"),
        }
    }

    /// The position among the guards of `key`'s shard, or the shard's index if it is not locked.
    fn locked_pos(&self, db: usize, key: &Key) -> Result<usize, u32> {
        let index = self.ks.shard_index(db, key);
        self.guards.binary_search_by_key(&index, |g| g.0).map_err(|_| index)
    }

    /// The position of `key` in its shard if it is present and unexpired; an expired key is
    /// removed on the way (lazy expiry). One hash lookup: callers reach the entry by position.
    fn find(&mut self, pos: usize, key: &Key) -> Option<usize> {
        let now = self.now_ms;
        let shard = &mut self.guards[pos].1;
        let Some((index, entry)) = shard.find(key) else {
            // On flash, RAM is authoritative for a key this transaction wrote or found absent; a
            // key never looked at, or only checked for existence, is read from flash.
            let unread = match self.touched.iter().find(|t| t.pos == pos && t.key == *key) {
                None => true,
                Some(t) => t.existed && !t.written && !t.read,
            };
            if self.ks.flash.is_some() && unread {
                let existed = self.load(pos, key);
                self.touch(pos, key, existed, false, false);
                if let Some(t) = self.touched.iter_mut().find(|t| t.pos == pos && t.key == *key) {
                    t.read = true;
                }
                return self.guards[pos].1.find(key).map(|(i, _)| i);
            }
            return None;
        };
        if entry.is_expired(now) {
            if self.ks.expiry_held(now) {
                return None; // absent to the command, left in place until the pause ends
            }
            let (stamp, at) = (entry.stamp, entry.expire_at().unwrap_or(now));
            shard.remove(key);
            shard.signal(key);
            self.ks.key_written(key, false);
            self.expired += 1;
            self.bury_expired(pos, key, stamp, at);
            self.touch(pos, key, true, true, false);
            self.ks.key_event(KeyEvent::Expired, self.db_at(pos), key);
            return None;
        }
        if self.notes_reads {
            self.touch(pos, key, true, false, false);
        }
        Some(index)
    }

    /// Looks a key up for reading: records a hit or miss and the access (for LRU/LFU).
    pub fn get(&mut self, db: usize, key: &Key) -> Option<&Entry> {
        let pos = self.pos(db, key);
        let Some(index) = self.find(pos, key) else {
            self.ks.stats.misses.add(1);
            self.ks.key_event(KeyEvent::Miss, db, key);
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

    /// MEMORY USAGE: the bytes `key` takes in RAM (see [`crate::ram_cost`]) with its share of its
    /// shard's table, empty buckets included, so that the keys' usages add up to what the keyspace
    /// takes. None if the key is absent.
    pub fn memory_usage(&mut self, db: usize, key: &Key) -> Option<usize> {
        let pos = self.pos(db, key);
        let index = self.find(pos, key)?;
        let shard = &self.guards[pos].1;
        let (stored, entry) = shard.slot_at(index);
        let table_share = shard.table_bytes() / shard.len().max(1);
        Some(crate::ram_cost(stored.as_slice(), entry) - crate::BUCKET_BYTES + table_share)
    }

    /// Starts loading the slots of `keys` of `db` into the CPU's cache (see `Shard::prefetch`),
    /// for a command that looks up several keys: their cache misses overlap.
    pub fn prefetch(&self, db: usize, keys: &[Key]) {
        for key in keys {
            self.guards[self.pos(db, key)].1.prefetch(key);
        }
    }

    /// The key's value for reading, if present.
    pub fn value(&mut self, db: usize, key: &Key) -> Option<&Value> {
        self.get(db, key).map(|e| &e.value)
    }

    /// True if the key exists (and has not expired).
    pub fn exists(&mut self, db: usize, key: &Key) -> bool {
        let pos = self.pos(db, key);
        self.exists_at(pos, key)
    }

    /// Marks a write to `key` in the shard at `pos`: wakes its watchers and waiters.
    fn wrote(&mut self, pos: usize, key: &Key) {
        self.dirty += 1;
        self.guards[pos].1.signal(key);
        self.ks.key_written(key, true);
        self.touch(pos, key, false, true, true);
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
        entry.value.make_plain();
        Some(&mut entry.value)
    }

    /// The key's collection of type `kind` for modification, created empty when absent. Fails
    /// with `WrongType` (before writing anything) if the key holds another type, or if `kind` is
    /// not a collection.
    pub fn modify_or_insert(&mut self, db: usize, key: &Key, kind: ValueType) -> Result<&mut Value, StorageError> {
        let pos = self.pos(db, key);
        let (now, stamp) = (self.now_ms, self.stamp());
        let index = match self.find(pos, key) {
            Some(index) if self.guards[pos].1.at(index).value.value_type() == kind => index,
            Some(_) => return Err(StorageError::WrongType),
            None => {
                let value = Value::empty(kind).ok_or(StorageError::WrongType)?;
                let shard = &mut self.guards[pos].1;
                let (index, _) = shard.insert_at(key.clone(), Entry::new(value, stamp, None, now));
                self.ks.key_event(KeyEvent::New, db, key);
                index
            }
        };
        self.wrote(pos, key);
        let entry = self.guards[pos].1.at_mut(index);
        entry.stamp = stamp;
        entry.value.make_plain();
        Ok(&mut entry.value)
    }

    /// Whether replication is on: the commands that merge across masters (INCRBY, SADD...) then
    /// write counters and dotted sets (see `crate::crdt`); a standalone node keeps plain values
    /// and pays nothing for them.
    pub fn feeding(&self) -> bool {
        self.ks.feeding()
    }

    /// INCRBY and friends with replication on: adds `delta` to the integer `key` holds (`old`, which
    /// the caller read and checked: an integer string, a counter, or nothing for 0) as this
    /// master's increment, so that increments made on other masters at the same time all count.
    /// The key keeps its TTL.
    pub fn add_to_counter(&mut self, db: usize, key: Key, old: i64, delta: i64) {
        let pos = self.pos(db, &key);
        let stamp = self.stamp();
        // A plain integer string becomes a counter on it, based at the write that stored it;
        // a missing key starts from 0 based at its tombstone (or at nothing).
        let reset = match self.find(pos, &key) {
            Some(index) => {
                let entry = self.guards[pos].1.at_mut(index);
                if let Value::Counter(counter) = &mut entry.value {
                    Arc::make_mut(counter).add(delta, stamp);
                    entry.stamp = stamp;
                    self.wrote(pos, &key);
                    return;
                }
                entry.stamp
            }
            None => self.guards[pos].1.tombstone(&key).unwrap_or_default(),
        };
        let mut counter = Counter::starting_from(old, reset);
        counter.add(delta, stamp);
        self.insert(db, key, Value::Counter(Arc::new(counter)), Expiry::Keep);
    }

    /// `key`'s set for SADD, SREM, SPOP and SMOVE. With replication on it is a dotted set, whose
    /// adds carry this command's stamp (see [`DottedSet`]): a plain set becomes dotted, based at
    /// the write that stored it; a missing key starts empty, based at its tombstone (or from its
    /// ghost). `WrongType` if it holds something else. A caller that empties the set removes the
    /// key (`remove_if_empty`).
    pub fn write_set(&mut self, db: usize, key: &Key) -> Result<SetWriter<'_>, StorageError> {
        if !self.feeding() {
            let set = self.modify_or_insert(db, key, ValueType::Set)?.as_set_mut()?;
            let opened_empty = set.is_empty();
            return Ok(SetWriter(SetWriting::Plain(set, opened_empty)));
        }
        let (set, dot, delta) = self.open_writer::<DottedSet>(db, key)?;
        Ok(SetWriter(SetWriting::Dotted(set, dot, delta)))
    }

    /// `key`'s hash for HSET, HMSET, HSETNX, HDEL, HINCRBY and HINCRBYFLOAT, as [`Txn::write_set`]
    /// does for sets: with replication on a dotted hash (see [`DottedHash`]), whose field writes
    /// carry this command's stamp.
    pub fn write_hash(&mut self, db: usize, key: &Key) -> Result<HashWriter<'_>, StorageError> {
        if !self.feeding() {
            let hash = self.modify_or_insert(db, key, ValueType::Hash)?.as_hash_mut()?;
            let opened_empty = hash.is_empty();
            return Ok(HashWriter(HashWriting::Plain(hash, opened_empty)));
        }
        let (hash, dot, delta) = self.open_writer::<DottedHash>(db, key)?;
        Ok(HashWriter(HashWriting::Dotted(hash, dot, delta)))
    }

    /// `key`'s sorted set for ZADD, ZINCRBY, ZREM, ZREMRANGEBY* and the pops, as
    /// [`Txn::write_set`] does for sets: with replication on a dotted sorted set (see
    /// [`DottedZSet`]), whose score writes carry this command's stamp.
    pub fn write_zset(&mut self, db: usize, key: &Key) -> Result<ZSetWriter<'_>, StorageError> {
        if !self.feeding() {
            let zset = self.modify_or_insert(db, key, ValueType::ZSet)?.as_zset_mut()?;
            let fresh = zset.is_empty();
            return Ok(ZSetWriter(ZSetWriting::Plain(zset, fresh)));
        }
        let (zset, dot, delta) = self.open_writer::<DottedZSet>(db, key)?;
        Ok(ZSetWriter(ZSetWriting::Dotted(zset, dot, delta)))
    }

    /// The shared part of the writers with replication on: `key`'s dotted collection of kind `T`
    /// (see [`Txn::open_dotted`]), this command's stamp, and the delta to note the command's
    /// changes in, if peers are to be sent one (see [`Txn::delta_for`]).
    fn open_writer<T: Dotted>(
        &mut self,
        db: usize,
        key: &Key,
    ) -> Result<(&mut T, Stamp, Option<&mut T>), StorageError> {
        let (pos, index, dot, was_dotted) = self.open_dotted(db, key, T::lift, T::start)?;
        let dotted = Arc::make_mut(T::of(&mut self.guards[pos].1.at_mut(index).value).expect("made dotted"));
        let deltas = was_dotted && self.ks.written_this_run(dotted.context().reading(dot.node), dot);
        let delta = Self::delta_for(&mut self.touched, pos, key, deltas, || dotted.delta().into_value())
            .and_then(T::of)
            .map(Arc::make_mut);
        Ok((dotted, dot, delta))
    }

    /// The delta a writer notes a command's changes to `key` in (see `Touch`), started by
    /// `start`; none unless `deltas` (the command found the key dotted already, and its copy's
    /// reading of this node is from this run): peers are sent the whole value then, as they are
    /// after any other write.
    fn delta_for<'t>(
        touched: &'t mut [Touch],
        pos: usize,
        key: &Key,
        deltas: bool,
        start: impl FnOnce() -> Value,
    ) -> Option<&'t mut Value> {
        let touch = touched.iter_mut().find(|t| t.pos == pos && t.key == *key)?;
        if !deltas {
            return None;
        }
        touch.delta_writes += 1;
        Some(touch.delta.get_or_insert_with(start))
    }

    /// The first part of [`Txn::open_writer`]: finds
    /// `key`, made dotted by `dotted` (from its value and stamp: `None` if it already is, an
    /// error if it is of another type), or creates it when missing from `start` (given its
    /// ghost's value, if any, and its tombstone's stamp as the base); stamps it with this
    /// command's stamp. Returns where it is, the stamp, and whether it was dotted already.
    fn open_dotted(
        &mut self,
        db: usize,
        key: &Key,
        dotted: impl FnOnce(&Value, Stamp) -> Result<Option<Value>, StorageError>,
        start: impl FnOnce(Option<&Value>, Stamp) -> Value,
    ) -> Result<(usize, usize, Stamp, bool), StorageError> {
        let pos = self.pos(db, key);
        let dot = self.stamp();
        let mut was_dotted = false;
        let index = match self.find(pos, key) {
            Some(index) => {
                let entry = self.guards[pos].1.at(index);
                match dotted(&entry.value, entry.stamp)? {
                    Some(value) => self.guards[pos].1.at_mut(index).value = value,
                    None => was_dotted = true,
                }
                self.wrote(pos, key);
                index
            }
            None => {
                let shard = &self.guards[pos].1;
                let value = start(shard.ghost(key).map(|g| &g.value), shard.tombstone(key).unwrap_or_default());
                self.insert(db, key.clone(), value, Expiry::Persist);
                self.find(pos, key).expect("just inserted")
            }
        };
        self.guards[pos].1.at_mut(index).stamp = dot;
        Ok((pos, index, dot, was_dotted))
    }

    /// Stores `value` under `key`, replacing whatever was there; returns the old entry.
    pub fn insert(&mut self, db: usize, key: Key, value: Value, expiry: Expiry) -> Option<Entry> {
        let (now, stamp) = (self.now_ms, self.stamp());
        let expire_at = match expiry {
            Expiry::Persist => None,
            Expiry::At(at) => Some(at),
            Expiry::Keep => self.peek(db, &key).and_then(|e| e.expire_at()),
        };
        self.put_entry(db, key, Entry::new(value, stamp, expire_at, now))
    }

    /// Inserts a whole entry as it is, keeping its expiry (RENAME, MOVE, COPY); it takes the
    /// command's stamp, as every write does. Returns the live entry it replaced. A counter or
    /// dotted set arrives plain: the copy is a whole write, a new base (see `crate::crdt`).
    pub fn insert_entry(&mut self, db: usize, key: Key, mut entry: Entry) -> Option<Entry> {
        entry.value.make_plain();
        self.put_entry(db, key, entry)
    }

    /// Stores `entry` under `key` with the command's stamp; returns the live entry it replaced.
    fn put_entry(&mut self, db: usize, key: Key, mut entry: Entry) -> Option<Entry> {
        entry.stamp = self.stamp();
        let pos = self.pos(db, &key);
        let mut on_flash = None;
        if self.ks.flash.is_some() {
            // Whether it existed on flash (the key count depends on it); its old value is not
            // needed, so it is not read. The returned old entry is then the one RAM had, if any.
            on_flash = Some(self.exists_at(pos, &key));
            if self.guards[pos].1.get(&key).is_none() {
                self.ks.admit(self.guards[pos].0 as usize, &key, &entry);
            }
        }
        self.wrote(pos, &key);
        let events = self.ks.wants_key_events().then(|| key.clone());
        let old = self.guards[pos].1.insert(key, entry);
        let old = match old {
            Some(old) if old.is_expired(self.now_ms) => {
                self.expired += 1;
                if let Some(key) = &events {
                    self.ks.key_event(KeyEvent::Expired, db, key);
                }
                None
            }
            old => old,
        };
        if let Some(key) = events.filter(|_| !on_flash.unwrap_or(old.is_some())) {
            self.ks.key_event(KeyEvent::New, db, &key);
        }
        old
    }

    /// Deletes a key; true if it existed (on the FLASH tier without reading its value: DEL).
    pub fn delete(&mut self, db: usize, key: &Key) -> bool {
        let pos = self.pos(db, key);
        if !self.exists_at(pos, key) {
            return false;
        }
        let old = self.guards[pos].1.remove(key);
        self.leave_ghost(pos, key, old.as_ref());
        self.wrote(pos, key);
        true
    }

    /// With replication on, a dotted set that goes (deleted, or emptied) leaves its ghost: its
    /// base and the context of what the delete saw, stamped with the delete (see `crate::crdt`).
    fn leave_ghost(&mut self, pos: usize, key: &Key, old: Option<&Entry>) {
        let cleared = match old.map(|e| &e.value) {
            Some(Value::DotSet(set)) => Value::DotSet(Arc::new(set.cleared())),
            Some(Value::DotHash(hash)) => Value::DotHash(Arc::new(hash.cleared())),
            Some(Value::DotZSet(zset)) => Value::DotZSet(Arc::new(zset.cleared())),
            _ => return,
        };
        if !self.feeding() {
            return;
        }
        let ghost = Entry::new(cleared, self.stamp(), None, self.now_ms);
        self.guards[pos].1.set_ghost(key, ghost);
    }

    /// Deletes a key; returns its entry if it existed.
    pub fn remove(&mut self, db: usize, key: &Key) -> Option<Entry> {
        let pos = self.pos(db, key);
        self.find(pos, key)?;
        let old = self.guards[pos].1.remove(key);
        self.leave_ghost(pos, key, old.as_ref());
        self.wrote(pos, key);
        old
    }

    /// Deletes the key if it holds an empty collection (after a pop or remove emptied it).
    pub fn remove_if_empty(&mut self, db: usize, key: &Key) -> bool {
        let pos = self.pos(db, key);
        let empty = self.guards[pos].1.get(key).is_some_and(|e| e.value.is_empty_collection());
        if empty {
            let old = self.guards[pos].1.remove(key);
            self.leave_ghost(pos, key, old.as_ref());
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

    /// The stamp `key` was deleted (or expired) with, if it is absent and replication keeps a
    /// tombstone for it.
    pub fn tombstone(&mut self, db: usize, key: &Key) -> Option<Stamp> {
        let pos = self.pos(db, key);
        if self.find(pos, key).is_some() {
            return None;
        }
        self.guards[pos].1.tombstone(key)
    }

    /// Merges a peer's change to `key` (see [`Keyspace::merge`]): the key's state and the
    /// incoming one are joined by `crate::crdt`'s rules (for plain values: the greater stamp wins),
    /// unless the change is older than the database's last flush (the flush rule).
    pub(crate) fn merge(&mut self, db: usize, key: &Key, effect: &Effect) -> Result<Merged, CodecError> {
        let pos = self.pos(db, key);
        let incoming = match effect {
            Effect::Put(record) => crate::codec::peek_header(record)?.0,
            Effect::Delete(stamp) | Effect::Flush(stamp) => *stamp,
        };
        if incoming < self.ks.floor(db) || matches!(effect, Effect::Flush(_)) {
            return Ok(Merged::Stale);
        }
        let entry = match effect {
            Effect::Put(record) => Some(crate::codec::decode_entry(record, self.now_ms)?),
            _ => None,
        };
        let theirs = match &entry {
            Some(entry) => Held::Live(entry),
            None => Held::Gone(incoming),
        };
        let found = self.find(pos, key);
        if let (Some(index), Some(theirs)) = (found, &entry) {
            if let Some(applied) = self.merge_in_place(pos, index, key, theirs) {
                return Ok(applied);
            }
        }
        let shard = &self.guards[pos].1;
        let held = match (found, shard.ghost(key)) {
            (Some(index), _) => Some(Held::Live(shard.at(index))),
            (None, Some(ghost)) => Some(Held::Live(ghost)),
            (None, None) => shard.tombstone(key).map(Held::Gone),
        };
        let outcome = match crdt::join(held, theirs) {
            Joined::Keep => return Ok(Merged::Stale),
            Joined::Take => entry.map(|mut entry| {
                entry.value.settle_as_state();
                entry
            }),
            Joined::Merged(merged) => Some(merged),
        };
        self.dirty += 1;
        let shard = &mut self.guards[pos].1;
        shard.signal(key);
        self.ks.key_written(key, false);
        match outcome {
            // A dotted set that every add of has been removed from is gone, and leaves its ghost
            // (any other empty collection, which no command makes, is just gone).
            Some(entry) if entry.value.is_empty_collection() => {
                shard.remove(key);
                shard.bury(key, entry.stamp);
                match entry.value {
                    Value::DotSet(_) | Value::DotHash(_) | Value::DotZSet(_) => shard.set_ghost(key, entry),
                    _ => shard.forget_ghost(key),
                }
            }
            Some(entry) => {
                shard.insert(key.clone(), entry);
            }
            None => {
                shard.remove(key);
                shard.bury(key, incoming);
                shard.forget_ghost(key);
            }
        }
        self.touch(pos, key, false, true, false);
        Ok(Merged::Applied)
    }

    /// [`Txn::merge`] of a peer's copy of, or delta to, the dotted set or hash at `index`, where
    /// it lies (see [`crdt::merge_in_place`]); None when the join is not such a merge.
    fn merge_in_place(&mut self, pos: usize, index: usize, key: &Key, theirs: &Entry) -> Option<Merged> {
        let shard = &mut self.guards[pos].1;
        let held = shard.at_mut(index);
        let changed = crdt::merge_in_place(&mut held.value, &theirs.value)?;
        let later = theirs.stamp > held.stamp;
        if !changed && !later {
            return Some(Merged::Stale);
        }
        let new_expiry = later && held.expire_at() != theirs.expire_at();
        if later {
            held.stamp = theirs.stamp;
        }
        if new_expiry {
            shard.set_expire(key, theirs.expire_at());
        }
        self.dirty += 1;
        shard.signal(key);
        self.ks.key_written(key, false);
        // Every add of it removed: gone, leaving its ghost (as in `Txn::merge`).
        if shard.at(index).value.is_empty_collection() {
            let emptied = shard.remove(key).expect("found");
            shard.bury(key, emptied.stamp);
            shard.set_ghost(key, emptied);
        }
        self.touch(pos, key, false, true, false);
        Some(Merged::Applied)
    }

    /// A peer's flush of a wholly locked `db`: removes every entry and tombstone older than
    /// `stamp` (the ones at or after it were written after the flush, here or elsewhere, and
    /// stay: the flush rule of [`Keyspace::merge`]).
    pub(crate) fn flush_older(&mut self, db: usize, stamp: Stamp) {
        self.journal_whole_db(db, Logged::Flush(stamp));
        let range = self.db_range(db);
        let mut doomed: Vec<Key> = Vec::new();
        if let Some(flash) = self.ks.flash.as_deref() {
            flash.drain(); // flash then holds every key, RAM only copies of some
            let result = flash.scan(db, 0, |_, key, record| {
                if crate::codec::peek_header(&record).is_ok_and(|(older, _)| older < stamp) {
                    doomed.push(self.ks.key(bytes::Bytes::copy_from_slice(key)));
                }
                true
            });
            if let Err(e) = result {
                panic!("flash scan failed: {e}");
            }
        } else {
            for (_, shard) in &self.guards[range.clone()] {
                doomed.extend(shard.keys_where(|e| e.stamp < stamp));
            }
        }
        for key in doomed {
            let pos = self.pos(db, &key);
            let shard = &mut self.guards[pos].1;
            shard.remove(&key);
            shard.signal(&key);
            self.ks.key_written(&key, false);
            self.dirty += 1;
            self.touch(pos, &key, true, true, false);
        }
        for (_, shard) in &mut self.guards[range] {
            shard.purge_tombstones(|_, grave| grave.stamp >= stamp);
        }
    }

    /// Registers a blocked client on `key`: `waiter` is notified at the next write to it.
    pub fn block_on(&mut self, db: usize, key: &Key, waiter: Arc<Notify>) {
        let pos = self.pos(db, key);
        self.guards[pos].1.block_on(key.clone(), waiter);
    }

    /// True if another client blocked on `key` before `me` and still waits (see
    /// `Shard::waiting_ahead`): a blocking command then leaves the key to them.
    pub fn waiting_ahead(&self, db: usize, key: &Key, me: &Arc<Notify>) -> bool {
        let pos = self.pos(db, key);
        self.guards[pos].1.waiting_ahead(key, me)
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
        if let Some(flash) = self.ks.flash.as_deref() {
            return flash.count(db) as usize;
        }
        self.guards[self.db_range(db)].iter().map(|g| g.1.len()).sum()
    }

    /// Removes every key of `db`; returns how many there were. With replication on, this is a
    /// flush with the command's stamp: everything the node holds is older (the clock has passed
    /// every stamp it holds, loaded ones included, and earlier commands of an EXEC had earlier
    /// stamps), so removing everything is what the flush rule of [`Keyspace::merge`] says, and
    /// what every peer does with it.
    pub fn clear_db(&mut self, db: usize) -> usize {
        if let Some(feed) = self.ks.feed.get().cloned() {
            let stamp = self.stamp();
            self.ks.raise_floor(db, stamp);
            if let Some(flash) = self.ks.flash.as_deref() {
                flash.note_flush(db, stamp); // the floor, and the clock reading with the clear below
            }
            let range = self.db_range(db);
            self.touched.retain(|t| !range.contains(&t.pos));
            feed.record(&[Recorded { db, key: &[], change: Change::Flush(stamp) }]);
            self.journal_whole_db(db, Logged::Flush(stamp));
        } else {
            self.journal_whole_db(db, Logged::Wipe);
        }
        self.wipe_unlogged(db)
    }

    /// Logs a change to the whole of `db` to the append-only file, after what this transaction
    /// wrote to the database before it (committed first, so the order holds on replay).
    fn journal_whole_db(&mut self, db: usize, what: Logged<'_>) {
        if self.ks.journal().is_none() {
            return;
        }
        self.commit();
        let range = self.db_range(db);
        self.touched.retain(|t| !range.contains(&t.pos));
        if let Some(journal) = self.ks.journal() {
            self.staged = journal.log(&[JournalRecord { db, key: &[], what }]);
        }
    }

    /// Switches the append-only file's journal on or off, from a transaction that holds every
    /// shard (so no transaction is half-way between its first write and its commit). Changes
    /// committed before are not in the journal, changes after are.
    pub fn set_journaling(&mut self, on: bool) {
        assert_eq!(self.guards.len(), self.ks.shards.len(), "set_journaling needs every shard locked");
        self.commit();
        self.ks.store_journaling(on);
    }

    /// Removes every key and tombstone of `db` without it being a write that replication sees (a
    /// plain replica's full sync starts from nothing); returns how many keys there were.
    pub fn wipe_db(&mut self, db: usize) -> usize {
        self.journal_whole_db(db, Logged::Wipe);
        self.wipe_unlogged(db)
    }

    fn wipe_unlogged(&mut self, db: usize) -> usize {
        self.ks.flushed();
        let range = self.db_range(db);
        let mut removed = 0;
        if let Some(flash) = self.ks.flash.as_deref() {
            // Staged changes of this transaction to the database die with it.
            self.touched.retain(|t| !range.contains(&t.pos));
            removed = flash.count(db) as usize;
            if let Err(e) = flash.clear_db(db) {
                panic!("flash: cannot clear database {db}: {e}");
            }
            // Every key of the database is gone: WATCHes on any of them fail (present or not in
            // RAM, as they may have been on flash).
            for (_, shard) in &mut self.guards[range.clone()] {
                shard.clear();
                shard.signal_all();
            }
            self.dirty += removed as u64;
            return removed;
        }
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
        if self.ks.journal().is_some() {
            self.commit(); // what this transaction wrote before the swap is logged before it
            if let Some(journal) = self.ks.journal() {
                self.staged = journal.log(&[JournalRecord { db: a, key: &[], what: Logged::Swap(b) }]);
            }
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

    /// A consistent cut of every database (BGSAVE), from a transaction that holds every shard.
    /// Panics otherwise (a bug in the command's key specification, like touching an unlocked key).
    pub fn cut_all(&self) -> crate::keyspace::KeyspaceCut {
        assert_eq!(self.guards.len(), self.ks.shards.len(), "cut_all needs every shard locked");
        self.ks.cut_of(self.guards.iter().map(|g| &*g.1), self.now_ms)
    }

    /// A consistent cut of a wholly locked `db` (KEYS, DEBUG DIGEST, RANDOMKEY inside EXEC).
    pub fn cut(&self, db: usize) -> Cut {
        if let Some(flash) = self.ks.flash.as_deref() {
            return self.ks.flash_cut(flash, db, self.now_ms);
        }
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
    pub fn scan(&self, db: usize, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &Entry)) -> u64 {
        if let Some(flash) = self.ks.flash.as_deref() {
            return self.flash_scan(flash, db, cursor, count, visit);
        }
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
            for (hash, key, entry) in shard.iter_hashed() {
                if (start..=end).contains(&hash) {
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

    /// SCAN on the FLASH tier: RocksDB keeps keys in (hash, key) order, so the cursor is a hash
    /// position as in RAM; a call stops at a hash boundary once it has `count` keys.
    fn flash_scan(
        &self,
        flash: &FlashStore,
        db: usize,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> u64 {
        flash.drain();
        let mut seen = 0usize;
        let mut next = 0u64;
        let mut last_hash = None;
        let result = flash.scan(db, cursor, |hash, key, record| {
            if seen >= count && last_hash != Some(hash) {
                next = hash;
                return false;
            }
            seen += 1;
            last_hash = Some(hash);
            if let Ok(entry) = crate::codec::decode_entry(&record, self.now_ms) {
                if !entry.is_expired(self.now_ms) {
                    visit(key, &entry);
                }
            }
            true
        });
        if let Err(e) = result {
            panic!("flash scan failed: {e}");
        }
        next
    }

    /// A random live key of a wholly locked `db`.
    pub fn random_key(&mut self, db: usize) -> Option<Key> {
        if let Some(flash) = self.ks.flash.as_deref() {
            flash.drain();
            for _ in 0..8 {
                let mut found = None;
                let from = rand::random::<u64>();
                for start in [from, 0] {
                    let _ = flash.scan(db, start, |_, key, record| {
                        let live = crate::codec::peek_header(&record)
                            .is_ok_and(|(_, at)| at.is_none_or(|at| at > self.now_ms));
                        if live {
                            found = Some(self.ks.key(bytes::Bytes::copy_from_slice(key)));
                        }
                        !live
                    });
                    if found.is_some() {
                        return found;
                    }
                }
                if flash.count(db) == 0 {
                    return None;
                }
            }
            return None;
        }
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
                return Some(key);
            }
            let pos = self.pos(db, &key);
            self.find(pos, &key); // lazy expiry: removes it
        }
        None
    }
}
