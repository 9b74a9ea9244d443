//! The FLASH tier's durable store: RocksDB, and everything meshkv does with it. No other module
//! of the workspace touches RocksDB.
//!
//! Every key lives here (write-through); RAM (the shards) caches the hot ones. A write is staged
//! when its transaction commits, still under the shard lock, into a pending map; one writer thread
//! turns what is pending into a `WriteBatch` (group commit) and writes it, syncing the WAL as
//! `appendfsync` says. Until a staged change is in RocksDB, readers find it in the pending map, so
//! a value evicted from RAM is never read stale from disk. A batch that fails (a full disk) stays
//! pending and is written again until RocksDB takes it; meanwhile [`FlashStore::write_failure`]
//! tells the server to refuse writes (see `FlashStore::write_loop`).
//!
//! Layout (hand-framed, see also `codec`):
//!
//! ```text
//! data:  u16 db (BE) | u64 key hash (BE) | key bytes   ->  entry record (codec)
//! meta:  0xffff "seed"                                   ->  u64 key-hash seed (LE)
//!        0xffff "count" | u16 db (BE)                    ->  i64 number of keys (LE)
//!        0xffff "stamp"                                  ->  u64 newest clock reading (LE)
//!        0xffff "floor" | u16 db (BE)                    ->  u64 hlc | u64 node (LE): last flush
//!        0xffff "grave" | u16 db (BE) | key bytes        ->  u64 hlc | u64 node | u64 gone ms (LE)
//! ```
//!
//! Graves and floors are replication's memory of deletes and flushes (tombstones, flush floors:
//! see `Keyspace::merge`), kept here as the keys are, so that a restart does not forget them: a
//! node that forgot a delete took the key back from a peer that missed it, and the delete was
//! lost on both. They are written with the changes that make them, in the same batches, and read
//! back once, at start (`Keyspace::with_flash`); a grave that a later write of its key made
//! stale stays on disk until then (a write does not look for one to delete), and is dropped there.
//!
//! Keys sort by (database, hash), so SCAN's hash cursor means the same on flash as in RAM, and
//! the hash seed is kept here so that a key hashes the same after a restart.
//!
//! "stamp" is the clock reading (`hlc`) of the newest change ever staged or flushed here: a
//! record's stamp, a delete's (its tombstone's), a flush's. It is written in the same batch as
//! the changes that raise it, so every record on flash is stamped at or below it, and a restart
//! starts the node's clock past it (see `Keyspace::with_flash`): a write after the restart is then
//! newer than every key read back from flash later, and than the tombstones and flush floors the
//! restart forgot (they live in RAM only), which peers still hold. A store written before it was
//! kept gets it from one scan of its records when opened.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use rocksdb::{
    BlockBasedOptions, DBCompressionType, Direction, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions, DB,
};
use thiserror::Error;

use crate::stamp::Stamp;
use crate::stats::StripedCounter;

/// Pending maps (by keyspace shard): enough that stagers rarely meet on one lock.
const PENDING_SHARDS: usize = 64;
/// The first wait before a failed write is tried again; it doubles up to [`RETRY_MAX`]. A store in
/// RocksDB's background-error state fails at once, so a retry costs the building of one batch.
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between retries of a failed write: how late, at most, writes are taken again
/// after RocksDB has recovered.
const RETRY_MAX: Duration = Duration::from_millis(400);
const META: [u8; 2] = [0xff, 0xff];

/// When the WAL is synced to disk (`appendfsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before a write is acknowledged.
    Always,
    /// Once a second.
    EverySec,
    /// When the operating system writes it back.
    No,
}

/// Waits, without blocking a thread, until `mark` reaches `seq`; whoever advances `mark` calls
/// `advanced.notify_waiters()` after. The waiter registers before it looks, so an advance between
/// the look and the wait is never missed. (The FLASH tier's writer and the append-only file's
/// both publish how far they have written this way.)
pub async fn wait_until_reached(mark: &AtomicU64, advanced: &tokio::sync::Notify, seq: u64) {
    loop {
        let mut notified = std::pin::pin!(advanced.notified());
        notified.as_mut().enable();
        if mark.load(Ordering::Acquire) >= seq {
            return;
        }
        notified.await;
    }
}

/// An `appendfsync` policy that CONFIG SET changes while writers read it (the FLASH tier's
/// writer, the append-only file's).
#[derive(Debug)]
pub struct FsyncPolicy(AtomicU8);

impl FsyncPolicy {
    /// Starts as `fsync`.
    pub fn new(fsync: Fsync) -> FsyncPolicy {
        FsyncPolicy(AtomicU8::new(fsync as u8))
    }

    /// The current policy.
    pub fn get(&self) -> Fsync {
        match self.0.load(Ordering::Relaxed) {
            0 => Fsync::Always,
            1 => Fsync::EverySec,
            _ => Fsync::No,
        }
    }

    /// Changes the policy.
    pub fn set(&self, fsync: Fsync) {
        self.0.store(fsync as u8, Ordering::Relaxed);
    }
}

impl Fsync {
    /// Parses `always`, `everysec` or `no`.
    pub fn parse(s: &str) -> Option<Fsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::EverySec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }

    /// The directive's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// What went wrong with the store.
#[derive(Debug, Error)]
pub enum FlashError {
    /// RocksDB said no.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// The writer thread could not start.
    #[error("cannot start the flash writer: {0}")]
    Thread(std::io::Error),
    /// The store was made for more databases than configured now.
    #[error("the flash store holds database {db}, but only {databases} databases are configured")]
    Databases {
        /// The database found.
        db: usize,
        /// How many are configured.
        databases: usize,
    },
    /// Writes to RocksDB fail (a full disk, an I/O error): the writer keeps what it could not
    /// write and retries it; until a retry succeeds, new writes should be refused.
    #[error("writes to the flash store are failing: {0}")]
    WritesFailing(Arc<WriteFailure>),
}

/// Why writes to RocksDB fail.
#[derive(Debug)]
pub struct WriteFailure {
    /// In few words: for an I/O error, the system's words (`No space left on device`), which is
    /// what a client is told; else RocksDB's message.
    cause: String,
    /// RocksDB's whole message (which file, which operation).
    message: String,
}

impl WriteFailure {
    fn new(e: &rocksdb::Error) -> WriteFailure {
        // INFO and the log take it on one line.
        let message: String = e.to_string().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        // RocksDB spells an I/O error "IO error: <context>: <path>: <strerror>" (or just
        // "IO error: <strerror>"): the last part is what the system said.
        let cause = match e.kind() {
            rocksdb::ErrorKind::IOError => message.rsplit(": ").next().unwrap_or(&message).trim().to_string(),
            _ => message.clone(),
        };
        WriteFailure { cause, message }
    }

    /// What went wrong, in few words (`No space left on device`).
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// RocksDB's whole message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A change of the writer's state, for the server's log: told once per failure, not per retry.
pub enum WriteEvent<'a> {
    /// Writes started to fail; the writer keeps what it could not write and retries it.
    Failing(&'a WriteFailure),
    /// A retry succeeded: everything kept is written, and writes may be taken again.
    Recovered {
        /// The failure that ended.
        failure: &'a WriteFailure,
        /// How long writes failed.
        lasted: Duration,
        /// Failed attempts meanwhile, the first included.
        attempts: u64,
    },
}

/// Receives the writer's [`WriteEvent`]s.
type WriteEventHook = Box<dyn Fn(WriteEvent<'_>) + Send + Sync>;

/// The writer's failure, while writes fail.
struct Failing {
    failure: Arc<WriteFailure>,
    since: Instant,
    attempts: u64,
}

/// The new state of a key, as staged.
#[derive(Clone, Debug)]
pub enum Staged {
    /// The key holds this record (its entry, encoded), whose stamp is the second field.
    Put(Bytes, Stamp),
    /// The key is gone, deleted or expired with this stamp, and nothing remembers the delete
    /// (without replication there are no tombstones).
    Delete(Stamp),
    /// The key is gone, deleted or expired with this stamp at this time (Unix ms), and its
    /// tombstone is kept here too (a grave).
    Bury(Stamp, u64),
}

impl Staged {
    /// The stamp of the change.
    fn stamp(&self) -> Stamp {
        match self {
            Staged::Put(_, stamp) | Staged::Delete(stamp) | Staged::Bury(stamp, _) => *stamp,
        }
    }

    /// The record to store, None for a delete.
    fn into_record(self) -> Option<Bytes> {
        match self {
            Staged::Put(record, _) => Some(record),
            Staged::Delete(_) | Staged::Bury(..) => None,
        }
    }
}

/// A tombstone read back from flash: the key's database, the key, the delete's stamp and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredGrave {
    pub db: usize,
    pub key: Bytes,
    pub stamp: Stamp,
    pub gone_ms: u64,
}

/// Changes staged but not yet in RocksDB, for one group of shards.
#[derive(Default)]
struct Pending {
    /// Bumped by every stage into this group (preloading checks nothing changed meanwhile).
    generation: u64,
    /// The newest staged record (None: deleted) per RocksDB key.
    current: HashMap<Vec<u8>, Option<Bytes>>,
    /// What the writer took from `current` and is writing right now, or could not write (a batch
    /// that failed stays here until a retry writes it): still visible to readers.
    inflight: HashMap<Vec<u8>, Option<Bytes>>,
}

impl Pending {
    /// The staged state of RocksDB key `k`: `Some(record or None)` if a change to it is pending
    /// or being written; None if RocksDB has the newest state.
    fn newest(&self, k: &[u8]) -> Option<Option<Bytes>> {
        self.current.get(k).or_else(|| self.inflight.get(k)).cloned()
    }
}

/// Counters for INFO.
#[derive(Default)]
pub struct FlashStats {
    /// Reads of keys not in RAM that found them on flash.
    pub hits: StripedCounter,
    /// Reads of keys not in RAM that found nothing on flash either.
    pub misses: StripedCounter,
    /// Keys read from flash that RAM kept only for the commands that asked for them (read once
    /// lately: see `probation`).
    pub passing: StripedCounter,
    /// Batches written.
    pub batches: AtomicU64,
    /// Records written (puts and deletes).
    pub records: AtomicU64,
    /// Failed attempts to write a batch or sync the WAL, retries included.
    pub write_errors: AtomicU64,
}

/// The RocksDB store behind a keyspace.
pub struct FlashStore {
    db: DB,
    databases: usize,
    pending: Box<[Mutex<Pending>]>,
    /// The last sequence number handed to a staged change.
    staged: AtomicU64,
    /// Every change staged up to this number is in RocksDB (and synced, under `Always`).
    written: AtomicU64,
    /// Wakes the writer; tells waiters that `written` moved.
    signal: (std::sync::Mutex<()>, Condvar),
    /// Tells async waiters that `written` moved.
    written_notify: tokio::sync::Notify,
    /// Held by the writer while a batch is in flight, and by `clear_db`.
    write_lock: Mutex<()>,
    /// Keys per database as of what is staged (DBSIZE).
    counts: Box<[AtomicI64]>,
    /// Keys per database as of what is written (persisted with every batch).
    written_counts: Mutex<Vec<i64>>,
    /// The clock reading of the newest change staged or flushed (see the module's documentation).
    newest: AtomicU64,
    /// `newest` as last written to RocksDB; changed only under `write_lock`.
    newest_written: AtomicU64,
    fsync: FsyncPolicy,
    seed: u64,
    /// True while writes fail (`failing` is Some): one load on every write command.
    refusing: AtomicBool,
    /// The writer's failure, while writes fail.
    failing: Mutex<Option<Failing>>,
    /// The last failure, kept after recovery (INFO).
    last_failure: Mutex<Option<Arc<WriteFailure>>>,
    /// Told when writes start to fail and when they recover (the server logs it).
    on_event: OnceLock<WriteEventHook>,
    /// Counters for INFO.
    pub stats: FlashStats,
}

fn data_key(db: usize, hash: u64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(10 + key.len());
    k.extend_from_slice(&(db as u16).to_be_bytes());
    k.extend_from_slice(&hash.to_be_bytes());
    k.extend_from_slice(key);
    k
}

fn stamp_key() -> Vec<u8> {
    [&META[..], b"stamp"].concat()
}

fn grave_key(db: usize, key: &[u8]) -> Vec<u8> {
    [&META[..], b"grave", &(db as u16).to_be_bytes(), key].concat()
}

fn floor_key(db: usize) -> Vec<u8> {
    [&META[..], b"floor", &(db as u16).to_be_bytes()].concat()
}

fn stamp_bytes(stamp: Stamp) -> Vec<u8> {
    [stamp.hlc.to_le_bytes(), stamp.node.to_le_bytes()].concat()
}

fn read_stamp(v: &[u8]) -> Option<Stamp> {
    let word = |i: usize| Some(u64::from_le_bytes(v.get(i * 8..i * 8 + 8)?.try_into().ok()?));
    Some(Stamp { hlc: word(0)?, node: word(1)? })
}

fn count_key(db: usize) -> Vec<u8> {
    let mut k = META.to_vec();
    k.extend_from_slice(b"count");
    k.extend_from_slice(&(db as u16).to_be_bytes());
    k
}

impl FlashStore {
    /// Opens (or creates) the store at `path` for `databases` databases.
    pub fn open(path: &Path, databases: usize, fsync: Fsync) -> Result<Arc<FlashStore>, FlashError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.increase_parallelism(2);
        // Uncompressed: a read of a cold value then costs a copy of its block, not a
        // decompression (LZ4 took a third of the CPU of skewed reads in benches/flash.py, and
        // compressing only the bottommost level did not help: most data settles there).
        opts.set_compression_type(DBCompressionType::None);
        opts.set_bottommost_compression_type(DBCompressionType::None);
        opts.set_write_buffer_size(16 << 20);
        // A bloom filter over whole keys in the memtables too: most lookups are for keys the
        // memtables do not hold, and searching their skiplists was a tenth of the CPU of reads.
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.1);
        opts.set_max_write_buffer_number(2);
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(10.0, false);
        // No block cache: RAM above RocksDB is the cache of hot values, and a key read from flash
        // comes into it, so a cached block would serve only the neighbours of keys that were
        // just read. A 32 MiB LRU cache cost a tenth of the readers' CPU in lookups that missed,
        // and 25 MiB of resident memory once writes had filled it (the operating system's page
        // cache still keeps recently read blocks).
        table.disable_cache();
        // Index and filter blocks stay with their table readers (a few MB per GB of data, always
        // in memory), as there is no cache to hold them.
        table.set_cache_index_and_filter_blocks(false);
        opts.set_block_based_table_factory(&table);
        // Opened naming its one column family, with the same options, so that the batched reads
        // can be given its handle (`open_cf` by name would give it default options).
        let default_cf = rocksdb::ColumnFamilyDescriptor::new(rocksdb::DEFAULT_COLUMN_FAMILY_NAME, opts.clone());
        let db = DB::open_cf_descriptors(&opts, path, [default_cf])?;

        let seed_key = [&META[..], b"seed"].concat();
        let seed = match db.get(&seed_key)? {
            Some(v) if v.len() == 8 => u64::from_le_bytes(v[..8].try_into().expect("8 bytes")),
            _ => {
                let seed = rand::random::<u64>();
                db.put(&seed_key, seed.to_le_bytes())?;
                seed
            }
        };
        let mut counts = vec![0i64; databases];
        let count_prefix = [&META[..], b"count"].concat();
        for item in db.iterator(IteratorMode::From(&count_key(0), Direction::Forward)) {
            let (k, v) = item?;
            let Some(db_bytes) = k.strip_prefix(&count_prefix[..]) else { break };
            let found = u16::from_be_bytes(db_bytes.try_into().unwrap_or([0, 0])) as usize;
            let n = i64::from_le_bytes(v[..8.min(v.len())].try_into().unwrap_or([0; 8]));
            if n != 0 && found >= databases {
                return Err(FlashError::Databases { db: found, databases });
            }
            if let Some(c) = counts.get_mut(found) {
                *c = n;
            }
        }
        let newest = newest_stamp(&db)?;
        let store = Arc::new(FlashStore {
            db,
            databases,
            pending: (0..PENDING_SHARDS).map(|_| Mutex::new(Pending::default())).collect(),
            staged: AtomicU64::new(0),
            written: AtomicU64::new(0),
            signal: (std::sync::Mutex::new(()), Condvar::new()),
            written_notify: tokio::sync::Notify::new(),
            write_lock: Mutex::new(()),
            counts: counts.iter().map(|&n| AtomicI64::new(n)).collect(),
            written_counts: Mutex::new(counts),
            newest: AtomicU64::new(newest),
            newest_written: AtomicU64::new(newest),
            fsync: FsyncPolicy::new(fsync),
            seed,
            refusing: AtomicBool::new(false),
            failing: Mutex::new(None),
            last_failure: Mutex::new(None),
            on_event: OnceLock::new(),
            stats: FlashStats::default(),
        });
        let writer = store.clone();
        std::thread::Builder::new()
            .name("meshkv-flash-writer".into())
            .spawn(move || writer.write_loop())
            .map_err(FlashError::Thread)?;
        Ok(store)
    }

    /// The newest stamp of anything this store holds or has flushed: its clock reading, as the
    /// greatest stamp with that reading (only the reading is kept). The node's clock must start
    /// past it.
    pub fn newest_stamp(&self) -> Stamp {
        Stamp::last_of(self.newest.load(Ordering::Acquire))
    }

    /// Raises the newest stamp to a flush's (a flush of keys that are not here stages nothing
    /// that would carry its stamp to disk), and stages `db`'s new flush floor. The writer writes
    /// them with its next batch, which it starts for them at once.
    pub fn note_flush(&self, db: usize, stamp: Stamp) {
        self.newest.fetch_max(stamp.hlc, Ordering::AcqRel);
        self.stage_meta([(floor_key(db), Some(Bytes::from(stamp_bytes(stamp))))]);
    }

    /// Forgets `db`'s flush floor (replication purged it, past `repl-tombstone-ttl`).
    pub fn forget_floor(&self, db: usize) {
        self.stage_meta([(floor_key(db), None)]);
    }

    /// Forgets the graves of `keys` of `db` (replication purged their tombstones).
    pub fn forget_graves<'k>(&self, db: usize, keys: impl IntoIterator<Item = &'k [u8]>) {
        self.stage_meta(keys.into_iter().map(|key| (grave_key(db, key), None)));
    }

    /// Stages records outside the databases' data (graves, floors: no key count changes), under
    /// one hold of the pending lock and with one wake-up of the writer.
    fn stage_meta(&self, records: impl IntoIterator<Item = (Vec<u8>, Option<Bytes>)>) {
        {
            let mut pending = self.pending[0].lock();
            for (k, record) in records {
                pending.current.insert(k, record);
                pending.generation += 1;
                self.staged.fetch_add(1, Ordering::AcqRel);
            }
        }
        let _guard = self.signal.0.lock();
        self.signal.1.notify_all();
    }

    /// Every database's flush floor, as kept here.
    pub fn floors(&self) -> Result<Vec<(usize, Stamp)>, FlashError> {
        self.drain();
        let prefix = [&META[..], b"floor"].concat();
        let mut floors = Vec::new();
        for item in self.db.prefix_iterator(&prefix) {
            let (k, v) = item?;
            let Some(db) = k.strip_prefix(&prefix[..]) else { break };
            if let (Ok(db), Some(stamp)) = (<[u8; 2]>::try_from(db), read_stamp(&v)) {
                floors.push((u16::from_be_bytes(db) as usize, stamp));
            }
        }
        Ok(floors)
    }

    /// Every grave kept here (read at start).
    pub fn graves(&self) -> Result<Vec<StoredGrave>, FlashError> {
        self.drain();
        let prefix = [&META[..], b"grave"].concat();
        let mut graves = Vec::new();
        for item in self.db.prefix_iterator(&prefix) {
            let (k, v) = item?;
            let Some(rest) = k.strip_prefix(&prefix[..]) else { break };
            let (Some(stamp), Some(gone)) = (read_stamp(&v), v.get(16..24)) else { continue };
            if rest.len() < 2 {
                continue;
            }
            graves.push(StoredGrave {
                db: u16::from_be_bytes([rest[0], rest[1]]) as usize,
                key: Bytes::copy_from_slice(&rest[2..]),
                stamp,
                gone_ms: u64::from_le_bytes(gone.try_into().expect("8 bytes")),
            });
        }
        Ok(graves)
    }

    /// The key-hash seed this store was created with (keys must hash alike across restarts).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current `appendfsync` policy.
    pub fn fsync(&self) -> Fsync {
        self.fsync.get()
    }

    /// Changes the `appendfsync` policy (CONFIG SET).
    pub fn set_fsync(&self, fsync: Fsync) {
        self.fsync.set(fsync);
    }

    /// Keys in `db` (DBSIZE), counting every staged change.
    pub fn count(&self, db: usize) -> u64 {
        self.counts[db].load(Ordering::Relaxed).max(0) as u64
    }

    /// Keys in every database.
    pub fn total_keys(&self) -> u64 {
        (0..self.databases).map(|db| self.count(db)).sum()
    }

    /// Stages the new state of a key and how the database's key count changed; returns the
    /// change's sequence number. Called under the key's shard lock, so changes to one key are
    /// staged in the order they happened.
    pub fn stage(&self, shard: usize, db: usize, hash: u64, key: &[u8], state: Staged, delta: i64) -> u64 {
        if delta != 0 {
            self.counts[db].fetch_add(delta, Ordering::Relaxed);
        }
        // Raised before the change is visible to the writer: the batch that writes the change
        // writes a newest stamp at least as new.
        self.newest.fetch_max(state.stamp().hlc, Ordering::AcqRel);
        let grave = match state {
            Staged::Bury(stamp, gone_ms) => Some([stamp_bytes(stamp), gone_ms.to_le_bytes().to_vec()].concat()),
            _ => None,
        };
        let seq = {
            let mut pending = self.pending[shard % PENDING_SHARDS].lock();
            if let Some(grave) = grave {
                pending.current.insert(grave_key(db, key), Some(Bytes::from(grave)));
                self.staged.fetch_add(1, Ordering::AcqRel);
            }
            pending.current.insert(data_key(db, hash, key), state.into_record());
            pending.generation += 1;
            // Taken inside the lock: a writer that sees this number also sees the change.
            self.staged.fetch_add(1, Ordering::AcqRel) + 1
        };
        let _guard = self.signal.0.lock();
        self.signal.1.notify_all();
        seq
    }

    /// The key counts as staged so far.
    fn counts_snapshot(&self) -> Vec<i64> {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// The staged state of RocksDB key `k` of keyspace shard `shard`, if a change to it is pending
    /// or being written: `Some(record or None)`; None if RocksDB has the newest state.
    fn staged(&self, shard: usize, k: &[u8]) -> Option<Option<Bytes>> {
        self.pending[shard % PENDING_SHARDS].lock().newest(k)
    }

    /// The newest state of a key: from the pending map if a change is still on its way, else
    /// from RocksDB. `Some(None)` never happens: None means absent.
    pub fn get(&self, shard: usize, db: usize, hash: u64, key: &[u8]) -> Result<Option<Bytes>, FlashError> {
        let k = data_key(db, hash, key);
        if let Some(staged) = self.staged(shard, &k) {
            return Ok(staged);
        }
        if !self.db.key_may_exist(&k) {
            return Ok(None); // the bloom filter is sure: no read
        }
        Ok(self.db.get_pinned(&k)?.map(|v| Bytes::copy_from_slice(&v)))
    }

    /// The stamp and expiry of a key's newest state (pending first, then RocksDB), without
    /// copying its value; None if absent.
    pub fn header(
        &self,
        shard: usize,
        db: usize,
        hash: u64,
        key: &[u8],
    ) -> Result<Option<(crate::Stamp, Option<u64>)>, FlashError> {
        let k = data_key(db, hash, key);
        if let Some(staged) = self.staged(shard, &k) {
            return Ok(staged.as_deref().and_then(|r| crate::codec::peek_header(r).ok()));
        }
        if !self.db.key_may_exist(&k) {
            return Ok(None);
        }
        Ok(self.db.get_pinned(&k)?.and_then(|v| crate::codec::peek_header(&v).ok()))
    }

    /// How many changes were ever staged in the group of keyspace shard `shard`.
    pub fn generation(&self, shard: usize) -> u64 {
        self.pending[shard % PENDING_SHARDS].lock().generation
    }

    /// The newest state of several keys of `db` (keyspace shard, hash, key): pending changes
    /// first, the rest in one batched RocksDB `MultiGet`. Calls `found` with each key's index in
    /// `keys`, the [generation](FlashStore::generation) of its shard's group when the read began,
    /// and its record (None: absent). Records read from RocksDB are lent, pinned in its
    /// buffers, for the length of the call: the caller copies out what it keeps, and nothing is
    /// copied on the way (the plain `multi_get` copied each value into a `malloc`ed buffer, then
    /// into a `Vec`).
    pub fn read_many(
        &self,
        db: usize,
        keys: &[(usize, u64, &[u8])],
        mut found: impl FnMut(usize, u64, Option<&[u8]>),
    ) -> Result<(), FlashError> {
        let mut from_disk = Vec::with_capacity(keys.len());
        for (i, (shard, hash, key)) in keys.iter().enumerate() {
            let k = data_key(db, *hash, key);
            let (generation, staged) = {
                let pending = self.pending[shard % PENDING_SHARDS].lock();
                (pending.generation, pending.newest(&k))
            };
            match staged {
                Some(staged) => found(i, generation, staged.as_deref()),
                None => from_disk.push((i, generation, k)),
            }
        }
        if from_disk.is_empty() {
            return Ok(());
        }
        let cf = self.db.cf_handle(rocksdb::DEFAULT_COLUMN_FAMILY_NAME).expect("the default column family exists");
        let read =
            self.db.batched_multi_get_cf_opt(cf, from_disk.iter().map(|(_, _, k)| k), false, &ReadOptions::default());
        for ((i, generation, _), value) in from_disk.iter().zip(read) {
            found(*i, *generation, value?.as_deref());
        }
        Ok(())
    }

    /// True unless the key is surely absent from RocksDB (bloom filter and memtables; no I/O).
    /// Pending changes are not consulted: callers check RAM and then use [`FlashStore::get`].
    pub fn may_exist(&self, db: usize, hash: u64, key: &[u8]) -> bool {
        self.db.key_may_exist(data_key(db, hash, key))
    }

    /// Waits until every change staged so far is written (and synced under `always`), or until
    /// writes fail: then what could not be written stays in the pending maps, which every read
    /// (and [`FlashStore::scan`]) consults, so a caller sees the newest state either way and
    /// does not hang while the disk is full.
    pub fn drain(&self) {
        let target = self.staged.load(Ordering::Acquire);
        let mut guard = self.signal.0.lock().unwrap_or_else(|p| p.into_inner());
        while self.written.load(Ordering::Acquire) < target && !self.refusing.load(Ordering::Acquire) {
            self.signal.1.notify_all();
            guard = self.signal.1.wait_timeout(guard, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits until change `seq` is written.
    pub fn wait_written(&self, seq: u64) {
        let mut guard = self.signal.0.lock().unwrap_or_else(|p| p.into_inner());
        while self.written.load(Ordering::Acquire) < seq {
            self.signal.1.notify_all();
            guard = self.signal.1.wait_timeout(guard, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Waits, without blocking a thread, until change `seq` is written.
    pub async fn wait_written_async(&self, seq: u64) {
        wait_until_reached(&self.written, &self.written_notify, seq).await
    }

    /// The sequence number up to which changes are written.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Syncs the WAL now (SAVE in flash mode). Fails while writes fail: what is pending is not
    /// on disk.
    pub fn sync(&self) -> Result<(), FlashError> {
        self.drain();
        if let Some(failure) = self.write_failure() {
            return Err(FlashError::WritesFailing(failure));
        }
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// Why writes fail, while they do: the writer keeps every change it could not write and
    /// retries until RocksDB takes it (RocksDB resumes by itself from a full disk, see
    /// `FlashStore::write_loop`). Meanwhile new writes should be refused: under `everysec` a
    /// write acknowledged now would live in memory only. One atomic load while writes succeed.
    pub fn write_failure(&self) -> Option<Arc<WriteFailure>> {
        if !self.refusing.load(Ordering::Acquire) {
            return None;
        }
        self.failing.lock().as_ref().map(|f| f.failure.clone())
    }

    /// The last failure of a write, even if writes succeed again (INFO).
    pub fn last_write_failure(&self) -> Option<Arc<WriteFailure>> {
        self.last_failure.lock().clone()
    }

    /// Calls `hook` when writes start to fail and when they recover (once each, not per retry).
    /// Only the first hook set is kept.
    pub fn on_write_event(&self, hook: impl Fn(WriteEvent<'_>) + Send + Sync + 'static) {
        let _ = self.on_event.set(Box::new(hook));
    }

    fn report(&self, event: WriteEvent<'_>) {
        match self.on_event.get() {
            Some(hook) => hook(event),
            None => match event {
                WriteEvent::Failing(f) => eprintln!("meshkv flash writer: writes fail: {f}"),
                WriteEvent::Recovered { .. } => eprintln!("meshkv flash writer: writes succeed again"),
            },
        }
    }

    /// Notes a failed write (or WAL sync, or database clear); returns how long to wait before
    /// the next try.
    fn note_failure(&self, e: &rocksdb::Error) -> Duration {
        self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
        let mut failing = self.failing.lock();
        match failing.as_mut() {
            Some(f) => {
                f.attempts += 1;
                // The newest words, for a cause that changed (another error once the disk has room).
                let failure = WriteFailure::new(e);
                if failure.message != f.failure.message {
                    f.failure = Arc::new(failure);
                    *self.last_failure.lock() = Some(f.failure.clone());
                }
                RETRY_FIRST.saturating_mul(1 << f.attempts.min(8)).min(RETRY_MAX)
            }
            None => {
                let failure = Arc::new(WriteFailure::new(e));
                *self.last_failure.lock() = Some(failure.clone());
                *failing = Some(Failing { failure: failure.clone(), since: Instant::now(), attempts: 1 });
                self.refusing.store(true, Ordering::Release);
                drop(failing);
                // Drainers waiting for a batch that will not come stop waiting.
                let guard = self.signal.0.lock();
                self.signal.1.notify_all();
                drop(guard);
                self.report(WriteEvent::Failing(&failure));
                RETRY_FIRST
            }
        }
    }

    /// Notes a successful write: if writes were failing, they are taken again.
    fn note_success(&self) {
        if !self.refusing.load(Ordering::Acquire) {
            return;
        }
        let ended = {
            // Under the lock, as `note_failure` sets it: the flag and the state stay together.
            let mut failing = self.failing.lock();
            self.refusing.store(false, Ordering::Release);
            failing.take()
        };
        if let Some(f) = ended {
            self.report(WriteEvent::Recovered { failure: &f.failure, lasted: f.since.elapsed(), attempts: f.attempts });
        }
    }

    /// Removes every key of `db` (FLUSHDB). The caller holds every shard of `db`, so nothing new
    /// is staged for it meanwhile. On an error nothing changed: the range delete is written before
    /// the changes of `db` still pending are dropped (the writer, held off by the write lock, would
    /// otherwise write them after it, or never drop them).
    pub fn clear_db(&self, db: usize) -> Result<(), FlashError> {
        let _writer = self.write_lock.lock();
        let mut batch = WriteBatch::default();
        batch.delete_range(data_key(db, 0, b""), data_key(db + 1, 0, b""));
        // Its graves too: older than the flush, whose floor (staged) says as much.
        batch.delete_range(grave_key(db, b""), grave_key(db + 1, b""));
        batch.put(count_key(db), 0i64.to_le_bytes());
        // The newest stamp goes along if it is not on disk yet (a change still pending in another
        // database may have raised it: it is written here too, never lower, so no harm).
        let newest = self.newest.load(Ordering::Acquire);
        if newest > self.newest_written.load(Ordering::Acquire) {
            batch.put(stamp_key(), newest.to_le_bytes());
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.fsync() == Fsync::Always);
        if let Err(e) = self.db.write_opt(batch, &wo) {
            self.note_failure(&e); // the writer probes until RocksDB takes writes again
            return Err(e.into());
        }
        self.newest_written.fetch_max(newest, Ordering::AcqRel);
        let prefix = (db as u16).to_be_bytes();
        for pending in self.pending.iter() {
            let mut p = pending.lock();
            p.current.retain(|k, _| !k.starts_with(&prefix));
            p.inflight.retain(|k, _| !k.starts_with(&prefix));
        }
        self.counts[db].store(0, Ordering::Relaxed);
        self.written_counts.lock()[db] = 0;
        Ok(())
    }

    /// Visits the records of `db` in (hash, key) order from hash `from`, until `visit` says stop.
    /// Call [`FlashStore::drain`] first: changes still pending are merged in here (they are the
    /// newest state of their keys), but there are none after a drain unless writes fail, and a
    /// drain keeps the merge small.
    pub fn scan(
        &self,
        db: usize,
        from: u64,
        mut visit: impl FnMut(u64, &[u8], Bytes) -> bool,
    ) -> Result<(), FlashError> {
        let start = data_key(db, from, b"");
        let end = data_key(db + 1, 0, b"");
        let mut newer: BTreeMap<Vec<u8>, Option<Bytes>> = BTreeMap::new();
        for pending in self.pending.iter() {
            let p = pending.lock();
            // `current` is newer than `inflight`: inserted last, it wins.
            for (k, v) in p.inflight.iter().chain(p.current.iter()) {
                if k[..] >= start[..] && k[..] < end[..] {
                    newer.insert(k.clone(), v.clone());
                }
            }
        }
        let mut newer = newer.into_iter().peekable();
        let mut emit = |k: &[u8], v: Option<Bytes>| match v {
            Some(v) => visit(u64::from_be_bytes(k[2..10].try_into().expect("data keys hold a hash")), &k[10..], v),
            None => true, // deleted, not yet on disk
        };
        for item in self.db.iterator(IteratorMode::From(&start, Direction::Forward)) {
            let (k, v) = item?;
            if k[..] >= end[..] {
                break;
            }
            while let Some((pk, pv)) = newer.next_if(|(pk, _)| pk[..] < k[..]) {
                if !emit(&pk, pv) {
                    return Ok(());
                }
            }
            if let Some((pk, pv)) = newer.next_if(|(pk, _)| pk[..] == k[..]) {
                if !emit(&pk, pv) {
                    return Ok(());
                }
                continue;
            }
            if !emit(&k, Some(Bytes::copy_from_slice(&v))) {
                return Ok(());
            }
        }
        for (pk, pv) in newer {
            if !emit(&pk, pv) {
                break;
            }
        }
        Ok(())
    }

    /// A RocksDB statistic for INFO (e.g. `rocksdb.estimate-live-data-size`).
    pub fn property(&self, name: &str) -> u64 {
        self.db.property_int_value(name).ok().flatten().unwrap_or(0)
    }

    /// The writer: takes what is pending, writes it as one batch, publishes progress; syncs the
    /// WAL once a second under `everysec`.
    ///
    /// A failed write drops nothing: the batch stays pending (readers still see it) and is
    /// written again with whatever was staged since, after a wait that doubles from 50 ms to
    /// 400 ms, until RocksDB takes it; `written` does not move meanwhile, so clients waiting for
    /// their writes under `always` keep waiting. While writes fail, [`FlashStore::write_failure`]
    /// says so (write commands are refused), and it clears with the first retry that succeeds.
    /// RocksDB itself stops taking writes after an error (its background-error state) and resumes
    /// by itself from a full disk: its `SstFileManager` checks the free space every 5 seconds
    /// and resumes once there is room for the memtables (twice `write_buffer_size`, 32 MiB).
    /// rust-rocksdb has no `DB::Resume` (nor does RocksDB's C API) to do it sooner.
    fn write_loop(self: Arc<Self>) {
        let mut last_sync = Instant::now();
        let mut retry_in = RETRY_FIRST;
        loop {
            // Failing: set here, or by a failed `clear_db`.
            let failing = self.refusing.load(Ordering::Acquire);
            {
                let guard = self.signal.0.lock().unwrap_or_else(|p| p.into_inner());
                if failing {
                    drop(guard);
                    std::thread::sleep(retry_in);
                } else if self.idle() {
                    let _ = self.signal.1.wait_timeout(guard, Duration::from_millis(100));
                }
            }
            if Arc::strong_count(&self) == 1 {
                return; // the keyspace is gone
            }
            let mut result = self.write_pending(failing);
            if result.is_ok()
                && self.fsync() == Fsync::EverySec
                && (failing || last_sync.elapsed() >= Duration::from_secs(1))
            {
                // Once recovered, at once: what was acknowledged during the failure is on disk
                // now, but maybe not synced.
                result = self.db.flush_wal(true);
                if result.is_ok() {
                    last_sync = Instant::now();
                }
            }
            match result {
                Ok(()) => {
                    self.note_success();
                    retry_in = RETRY_FIRST;
                }
                Err(e) => retry_in = self.note_failure(&e),
            }
        }
    }

    /// True when nothing staged or noted waits for the writer.
    fn idle(&self) -> bool {
        self.staged.load(Ordering::Acquire) == self.written.load(Ordering::Acquire)
            && self.newest.load(Ordering::Acquire) <= self.newest_written.load(Ordering::Acquire)
    }

    /// Writes what is pending as one batch. A batch that fails stays in the `inflight` maps, and
    /// the next call writes it again with what was staged since; `probe`: with nothing pending,
    /// write something anyway, to learn whether RocksDB takes writes again (after a failed WAL
    /// sync or database clear).
    fn write_pending(&self, probe: bool) -> Result<(), rocksdb::Error> {
        if self.idle() && !probe {
            return Ok(());
        }
        let target = self.staged.load(Ordering::Acquire);
        let _writer = self.write_lock.lock();
        let counts = self.counts_snapshot();
        let mut batch = WriteBatch::default();
        let mut records = 0u64;
        for pending in self.pending.iter() {
            let mut p = pending.lock();
            let newer = std::mem::take(&mut p.current);
            if p.inflight.is_empty() {
                p.inflight = newer;
            } else {
                // What failed last time, overwritten by what was staged since.
                p.inflight.extend(newer);
            }
            for (k, v) in &p.inflight {
                match v {
                    Some(record) => batch.put(k, record),
                    None => batch.delete(k),
                }
            }
            records += p.inflight.len() as u64;
        }
        // Counts as staged when the batch was cut: every change they reflect is in this batch or
        // an earlier one (stagers count before they stage; a change counted but not yet staged
        // is at most one in flight per shard, and lands in the next batch with its count). They
        // count as written only once the batch is: a failed batch's counts go in the retry.
        let mut written_counts = self.written_counts.lock();
        for (db, n) in counts.iter().enumerate() {
            if written_counts[db] != *n {
                batch.put(count_key(db), n.to_le_bytes());
            }
        }
        // Read after every change of the batch was taken: each raised it before it was staged.
        let newest = self.newest.load(Ordering::Acquire);
        if newest > self.newest_written.load(Ordering::Acquire) {
            batch.put(stamp_key(), newest.to_le_bytes());
        }
        if batch.is_empty() {
            // A probe with nothing to write: the seed again, which changes nothing.
            batch.put([&META[..], b"seed"].concat(), self.seed.to_le_bytes());
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(self.fsync() == Fsync::Always);
        self.db.write_opt(batch, &wo)?;
        written_counts.copy_from_slice(&counts);
        drop(written_counts);
        self.newest_written.fetch_max(newest, Ordering::AcqRel);
        for pending in self.pending.iter() {
            // A fresh map, not a cleared one: a burst's batch must not keep its table's memory.
            pending.lock().inflight = HashMap::new();
        }
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.records.fetch_add(records, Ordering::Relaxed);
        if target > self.written.load(Ordering::Acquire) {
            self.written.store(target, Ordering::Release);
        }
        self.written_notify.notify_waiters();
        let _guard = self.signal.0.lock();
        self.signal.1.notify_all();
        Ok(())
    }
}

/// The newest clock reading a store holds (see the module's documentation): its "stamp" record,
/// or, in a store written before that was kept, the newest stamp among its records, found by one
/// scan and then kept.
fn newest_stamp(db: &DB) -> Result<u64, FlashError> {
    if let Some(v) = db.get(stamp_key())? {
        if let Ok(bytes) = <[u8; 8]>::try_from(&v[..]) {
            return Ok(u64::from_le_bytes(bytes));
        }
    }
    let mut newest = 0u64;
    for item in db.iterator(IteratorMode::Start) {
        let (k, v) = item?;
        if k.starts_with(&META) {
            break; // the meta records sort after every database's data
        }
        if let Ok((stamp, _)) = crate::codec::peek_header(&v) {
            newest = newest.max(stamp.hlc);
        }
    }
    db.put(stamp_key(), newest.to_le_bytes())?;
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use crate::value::Value;

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("meshkv-flash-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Opens the store at `path` again once the last one let go of it (its writer thread ends
    /// within a wake-up after the store's last user drops it).
    fn reopen(path: &Path) -> Arc<FlashStore> {
        let started = Instant::now();
        loop {
            match FlashStore::open(path, 1, Fsync::No) {
                Ok(store) => return store,
                Err(e) if started.elapsed() > Duration::from_secs(10) => panic!("cannot reopen: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn put(store: &FlashStore, key: &[u8], hlc: u64) {
        let stamp = Stamp { hlc, node: 1 };
        let record =
            crate::codec::encode_entry_bytes(&Entry::new(Value::Str(Bytes::from_static(b"v")), stamp, None, 0));
        store.stage(0, 0, 7, key, Staged::Put(record, stamp), 1);
    }

    #[test]
    fn the_newest_stamp_of_puts_deletes_and_flushes_outlives_a_restart() {
        let path = tempdir("newest");
        let store = FlashStore::open(&path, 1, Fsync::No).unwrap();
        assert_eq!(store.newest_stamp().hlc, 0);
        put(&store, b"a", 10);
        store.stage(0, 0, 7, b"a", Staged::Delete(Stamp { hlc: 20, node: 2 }), -1);
        store.drain();
        drop(store);
        let store = reopen(&path);
        assert_eq!(store.newest_stamp(), Stamp::last_of(20), "a delete's stamp counts though its key is gone");
        assert!(Stamp { hlc: 20, node: 2 } <= store.newest_stamp());

        // A flush's stamp is kept too (with its floor).
        store.note_flush(0, Stamp { hlc: 30, node: 3 });
        let started = Instant::now();
        while store.newest_written.load(Ordering::Acquire) < 30 {
            assert!(started.elapsed() < Duration::from_secs(10), "the writer never wrote the flush's stamp");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(store);
        let store = reopen(&path);
        assert_eq!(store.newest_stamp().hlc, 30);
        store.clear_db(0).unwrap();
        drop(store);
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn graves_and_floors_outlive_a_restart_until_forgotten() {
        let path = tempdir("graves");
        let store = FlashStore::open(&path, 1, Fsync::No).unwrap();
        let (s1, s2) = (Stamp { hlc: 40, node: 1 }, Stamp { hlc: 50, node: 2 });
        store.stage(0, 0, 7, b"gone", Staged::Bury(s1, 1234), -1);
        store.stage(0, 0, 8, b"plain", Staged::Delete(s2), -1); // no tombstone: no grave
        store.note_flush(0, s2);
        store.drain();
        drop(store);
        let store = reopen(&path);
        let graves = store.graves().unwrap();
        assert_eq!(graves, vec![StoredGrave { db: 0, key: Bytes::from_static(b"gone"), stamp: s1, gone_ms: 1234 }]);
        assert_eq!(store.floors().unwrap(), vec![(0, s2)]);
        assert_eq!(store.count(0), 0, "graves are not keys");
        let mut seen = 0;
        store
            .scan(0, 0, |_, _, _| {
                seen += 1;
                true
            })
            .unwrap();
        assert_eq!(seen, 0, "nor does a scan find them");

        store.forget_graves(0, [&b"gone"[..]]);
        store.forget_floor(0);
        store.drain();
        drop(store);
        let store = reopen(&path);
        assert!(store.graves().unwrap().is_empty());
        assert!(store.floors().unwrap().is_empty());

        // A flush of a database takes its graves with it.
        store.stage(0, 0, 9, b"g", Staged::Bury(s1, 1), -1);
        store.drain();
        store.clear_db(0).unwrap();
        assert!(store.graves().unwrap().is_empty());
        drop(store);
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn a_store_from_before_the_newest_stamp_was_kept_finds_it_by_a_scan() {
        let path = tempdir("upgrade");
        let store = FlashStore::open(&path, 1, Fsync::No).unwrap();
        put(&store, b"a", 40);
        put(&store, b"b", 25);
        store.drain();
        store.db.delete(stamp_key()).unwrap(); // as such a store was written
        drop(store);
        let store = reopen(&path);
        assert_eq!(store.newest_stamp().hlc, 40);
        drop(store);
        let store = reopen(&path);
        assert_eq!(store.newest_stamp().hlc, 40, "found once, then kept");
        drop(store);
        let _ = std::fs::remove_dir_all(&path);
    }

    fn store(name: &str) -> (Arc<FlashStore>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("meshkv-flash-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (FlashStore::open(&dir, 2, Fsync::No).unwrap(), dir)
    }

    fn scanned(store: &FlashStore, db: usize) -> Vec<(Vec<u8>, Bytes)> {
        let mut seen = Vec::new();
        store
            .scan(db, 0, |_, key, record| {
                seen.push((key.to_vec(), record));
                true
            })
            .unwrap();
        seen.sort();
        seen
    }

    /// What is still pending (as after a failed write, when drains no longer wait) is merged
    /// into a scan, newest first: puts appear, deletes hide what is on disk, in key order.
    #[test]
    fn a_scan_sees_pending_changes_over_what_is_on_disk() {
        let (store, dir) = store("scan");
        let put = |bytes: &'static [u8]| Staged::Put(Bytes::from_static(bytes), Stamp::default());
        store.stage(0, 0, 1, b"a", put(b"old"), 1);
        store.stage(0, 0, 2, b"b", put(b"gone"), 1);
        store.stage(0, 1, 1, b"other-db", put(b"x"), 1);
        store.drain();
        // Pending again, in both maps: as if a batch had failed and more came after it.
        for pending in store.pending.iter() {
            pending.lock().inflight.clear();
        }
        {
            let mut p = store.pending[0].lock();
            p.inflight.insert(data_key(0, 1, b"a"), Some(Bytes::from_static(b"failed")));
            p.current.insert(data_key(0, 1, b"a"), Some(Bytes::from_static(b"new")));
            p.inflight.insert(data_key(0, 2, b"b"), None);
            p.current.insert(data_key(0, 0, b"first"), Some(Bytes::from_static(b"f")));
        }
        let got = scanned(&store, 0);
        let want: Vec<(Vec<u8>, Bytes)> =
            vec![(b"a".to_vec(), Bytes::from_static(b"new")), (b"first".to_vec(), Bytes::from_static(b"f"))];
        assert_eq!(got, want);
        // Stopping early stops at the first record in (hash, key) order, pending or not.
        let mut first = None;
        store
            .scan(0, 0, |hash, key, _| {
                first = Some((hash, key.to_vec()));
                false
            })
            .unwrap();
        assert_eq!(first, Some((0, b"first".to_vec())));
        assert_eq!(scanned(&store, 1), vec![(b"other-db".to_vec(), Bytes::from_static(b"x"))]);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
