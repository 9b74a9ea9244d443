//! Snapshots in RAM mode: SAVE, BGSAVE, the `save` rules, the snapshot loaded at start, and the
//! save at shutdown.
//!
//! A snapshot is written from a consistent cut of every database (see `meshkv_storage::snapshot`):
//! taking the cut is a pass over the shard locks, so BGSAVE needs no fork and writers never wait
//! for the disk. The file format, its checks and the atomic replace live in the storage crate;
//! this module decides when to save and keeps the statistics INFO and LASTSAVE report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshkv_storage::snapshot::{load_snapshot, write_snapshot, SnapshotError, SnapshotStats};
use meshkv_storage::{KeyspaceCut, KeyspaceStats, Txn};

use crate::server::{unix_ms, Server, Shared};

/// After a failed automatic save, wait this long before the rules may trigger another (Redis's
/// CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_MS: u64 = 5_000;

/// Snapshot bookkeeping.
#[derive(Default)]
pub struct SnapshotState {
    /// A BGSAVE is writing right now.
    pub in_progress: AtomicBool,
    /// Whether the last background save succeeded (INFO `rdb_last_bgsave_status`).
    pub last_bgsave_failed: AtomicBool,
    /// Seconds the last background save took, -1 before the first.
    pub last_bgsave_secs: AtomicI64,
    /// When the running background save started (Unix ms).
    pub started_ms: AtomicU64,
    /// The keyspace's write counter when the last successful save took its cut.
    pub dirty_at_last_save: AtomicU64,
    /// Successful saves since start (INFO `rdb_saves`).
    pub saves: AtomicU64,
    /// When the last save was attempted (Unix ms), for the retry delay after a failure.
    pub last_attempt_ms: AtomicU64,
}

impl SnapshotState {
    /// A fresh state: nothing saved yet.
    pub fn new() -> SnapshotState {
        SnapshotState { last_bgsave_secs: AtomicI64::new(-1), ..Default::default() }
    }
}

/// Why a save did not start or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another background save is running.
    #[error("Background save already in progress")]
    InProgress,
    /// Writing the file failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Syncing the FLASH tier's store failed.
    #[error(transparent)]
    Flash(#[from] meshkv_storage::flash::FlashError),
    /// The previous snapshot's watermarks could not be removed before the new snapshot replaced
    /// it (kept, they would be read with a snapshot they do not describe).
    #[error("cannot remove the old replication watermarks: {0}")]
    Marks(std::io::Error),
}

/// Why the data could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The snapshot file is damaged or unreadable.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The FLASH tier's kept tombstones and flush floors could not be read.
    #[error("cannot read the tombstones kept on flash: {0}")]
    Flash(#[from] meshkv_storage::flash::FlashError),
    /// The append-only file is damaged or unreadable.
    #[error(transparent)]
    Aof(#[from] crate::aof::AofLoadError),
    /// The append-only file could not be carried on or created.
    #[error("{0}")]
    AofStart(String),
}

/// Where snapshots go: `dir/dbfilename`.
pub fn snapshot_path(server: &Server) -> PathBuf {
    let c = server.config.read();
    c.dir.join(&c.dbfilename)
}

/// Loads the snapshot file at start, if there is one. A damaged file is an error: the server must
/// not start with half of its data. On the FLASH tier, brings back the tombstones and flush
/// floors kept on flash.
pub fn load_at_start(server: &Server) -> Result<(), LoadError> {
    let appendonly = server.config.read().appendonly;
    if appendonly && server.keyspace.flash().is_some() {
        return Err(LoadError::AofStart(
            "'appendonly yes' does not apply to the FLASH tier: its store already logs every write \
             (RocksDB's write-ahead log, synced as appendfsync says); set appendonly no"
                .into(),
        ));
    }
    if appendonly {
        // As Redis: the append-only file, when there is one, is the data; the snapshot is not
        // read (nor its replication watermarks: they describe the snapshot, not this file, and
        // the node syncs in full with its peers instead).
        let started = Instant::now();
        if let Some(loaded) = crate::aof::load(server)? {
            server.log.notice(&format!(
                "DB loaded from append only file: {} keys from its base, {} changes replayed, {:.3} seconds",
                loaded.keys,
                loaded.frames,
                started.elapsed().as_secs_f64()
            ));
            return crate::aof::start(server, Some(loaded)).map_err(LoadError::AofStart);
        }
    }
    if server.keyspace.flash().is_some() {
        // The FLASH tier is the data: nothing to load, RAM fills as keys are read; replication's
        // memory of deletes comes back before any peer can send what they deleted.
        server.keyspace.restore_graves()?;
        restore_flash_marks(server);
        return Ok(());
    }
    let path = snapshot_path(server);
    let started = Instant::now();
    if let Some(stats) = load_snapshot(&path, &server.keyspace, unix_ms())? {
        restore_marks(server);
        server.log.notice(&format!(
            "DB loaded from disk: {} keys ({} expired skipped), {} bytes, {:.3} seconds",
            stats.keys,
            stats.expired,
            stats.bytes,
            started.elapsed().as_secs_f64()
        ));
    }
    if appendonly {
        crate::aof::start(server, None).map_err(LoadError::AofStart)?;
    }
    Ok(())
}

/// Where the watermarks of the saved data are kept.
fn marks_path(server: &Server) -> PathBuf {
    server.config.read().dir.join(meshkv_replication::MARKS_FILE)
}

/// Tells replication which changes the data loaded at start already holds.
fn restore_marks(server: &Server) {
    if let Some(marks) = meshkv_replication::read_marks(&marks_path(server)) {
        server.log.notice(&format!("replication watermarks of the saved data: {} streams", marks.len()));
        server.mesh.restore_marks(marks);
    }
}

/// FLASH tier: the watermarks a clean shutdown left describe the data on flash exactly (see
/// [`save_on_shutdown`]), but only until the next write. So they are read once and the file is
/// removed before this run writes anything: a later `kill -9` then leaves no file, and the next
/// start forgets every watermark and has full (merged) syncs both ways, instead of trusting
/// watermarks older than the data. A stale file made a node claim less of its own writes than
/// flash held, and a peer lagging by exactly those writes was sent a partial resync from the new
/// run's empty log: it never got them. If the file cannot be removed (durably: the directory is
/// synced), the marks are not used either.
fn restore_flash_marks(server: &Server) {
    let path = marks_path(server);
    let Some(marks) = meshkv_replication::read_marks(&path) else {
        return;
    };
    let removed = std::fs::remove_file(&path).and_then(|()| match path.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    });
    match removed {
        Ok(()) => {
            server.log.notice(&format!("replication watermarks of the flash store: {} streams", marks.len()));
            server.mesh.restore_marks(marks);
        }
        Err(e) => server.log.warning(&format!(
            "cannot remove {}: {e}; its watermarks are not used (peers will sync in full)",
            path.display()
        )),
    }
}

/// Writes a snapshot after removing (durably) the watermarks file of the one it replaces; the new
/// snapshot's own watermarks are written once it is in place ([`save_marks`]). A crash between
/// the two renames then leaves a snapshot without watermarks (the node syncs in full: slower,
/// never wrong), not a new snapshot with the old one's watermarks, which claim less of the
/// node's own stream than it holds: a peer that lagged by those writes would be resumed without
/// them.
fn write_snapshot_unmarked(
    server: &Server,
    cut: &KeyspaceCut,
    path: &std::path::Path,
) -> Result<SnapshotStats, SaveError> {
    let marks = marks_path(server);
    match std::fs::remove_file(&marks) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SaveError::Marks(e)),
        Ok(()) => {
            if let Some(dir) = marks.parent() {
                std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(SaveError::Marks)?;
            }
        }
    }
    Ok(write_snapshot(cut, path)?)
}

/// After a save: keeps the watermarks taken before its cut (or removes stale ones when
/// replication is off), so that a restart resumes from peers' logs.
fn save_marks(server: &Server, marks: Option<Marks>) {
    let path = marks_path(server);
    let result = match marks {
        Some(marks) => meshkv_replication::write_marks(&path, &marks),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(e) = result {
        server.log.warning(&format!("cannot write {}: {e} (a restart will need a full sync)", path.display()));
    }
}

/// SAVE: writes a snapshot now, on the calling thread.
pub fn save(server: &Server) -> Result<SnapshotStats, SaveError> {
    if let Some(flash) = server.keyspace.flash() {
        // On the FLASH tier every write is already in RocksDB: a save syncs its log. No
        // watermarks are written: the next write would make them stale, and a crash would leave
        // them claiming less than flash holds (only a shutdown writes them, see
        // `save_on_shutdown`).
        let dirty = server.keyspace.stats.dirty.get();
        flash.sync()?;
        saved(server, dirty, unix_ms());
        return Ok(SnapshotStats::default());
    }
    if server.snapshots.in_progress.load(Ordering::Acquire) {
        return Err(SaveError::InProgress);
    }
    let dirty = server.keyspace.stats.dirty.get();
    let now = unix_ms();
    server.snapshots.last_attempt_ms.store(now, Ordering::Relaxed);
    let (marks, cut) = lock_marks_and_cut(server, now);
    let stats = write_snapshot_unmarked(server, &cut, &snapshot_path(server))?;
    drop(cut);
    save_marks(server, marks);
    saved(server, dirty, now);
    server.log.notice("DB saved on disk");
    Ok(stats)
}

/// The watermarks and a cut of every database, from a transaction that holds every shard, so
/// that they describe the same data exactly. Read before the cut with writes going on, the
/// watermarks held less of this node's own stream than the cut: after a crash, a peer that lagged
/// by a write in between was resumed without it.
pub fn marks_and_cut(server: &Shared, all: &Txn<'_>) -> (Option<Marks>, KeyspaceCut) {
    let marks = server.mesh.marks(); // no write or merge runs while every shard is held
    (marks, all.cut_all())
}

/// [`marks_and_cut`] under a moment's lock of every shard (SAVE and the `save` rules, which run
/// outside any command's transaction).
fn lock_marks_and_cut(server: &Server, now_ms: u64) -> (Option<Marks>, KeyspaceCut) {
    marks_and_cut(server, &server.keyspace.lock_all(now_ms))
}

/// BGSAVE: takes the cut now and writes it on a thread of its own (the `save` rules' way in; the
/// BGSAVE command takes its cut through its own transaction, see [`BackgroundSave`]).
pub fn bgsave(server: &Arc<Server>) -> Result<(), SaveError> {
    if server.keyspace.flash().is_some() {
        sync_flash_in_background(server);
        return Ok(());
    }
    let save = BackgroundSave::claim(server, &server.keyspace.stats)?;
    let (marks, cut) = lock_marks_and_cut(server, save.cut_ms);
    save.start(server, marks, cut);
    Ok(())
}

/// FLASH tier: a save is a sync of the store's log, done on a thread of its own.
pub fn sync_flash_in_background(server: &Arc<Server>) {
    let server = server.clone();
    std::thread::spawn(move || {
        if let Err(e) = save(&server) {
            server.log.warning(&format!("Background sync of the flash store failed: {e}"));
        }
    });
}

/// A background save that has claimed the "in progress" flag and waits for its cut.
///
/// Claiming and cutting are apart so that a command can do both under the locks it holds (the cut
/// comes from its transaction, which holds every shard), and start the writer thread after.
#[must_use = "a claimed save holds the in-progress flag until it is started"]
pub struct BackgroundSave {
    dirty: u64,
    /// The time of the cut (Unix ms).
    pub cut_ms: u64,
}

impl BackgroundSave {
    /// Claims the in-progress flag; fails if another save holds it.
    pub fn claim(server: &Shared, stats: &KeyspaceStats) -> Result<BackgroundSave, SaveError> {
        if server.snapshots.in_progress.swap(true, Ordering::AcqRel) {
            return Err(SaveError::InProgress);
        }
        Ok(BackgroundSave { dirty: stats.dirty.get(), cut_ms: unix_ms() })
    }

    /// Writes `cut` (taken after `marks` were read) on a thread of its own.
    pub fn start(self, server: &Arc<Server>, marks: Option<Marks>, cut: KeyspaceCut) {
        let (dirty, now) = (self.dirty, self.cut_ms);
        let path = snapshot_path(server);
        server.snapshots.started_ms.store(now, Ordering::Relaxed);
        server.snapshots.last_attempt_ms.store(now, Ordering::Relaxed);
        server.log.notice("Background saving started");
        let owner = server.clone();
        let spawned = std::thread::Builder::new().name("meshkv-bgsave".into()).spawn(move || {
            let server = owner;
            let result = write_snapshot_unmarked(&server, &cut, &path);
            drop(cut); // before the flag drops: the next save's cut must not find this one alive
            let took = (unix_ms().saturating_sub(now) / 1000) as i64;
            let state = &server.snapshots;
            state.last_bgsave_secs.store(took, Ordering::Relaxed);
            match result {
                Ok(stats) => {
                    save_marks(&server, marks);
                    saved(&server, dirty, now);
                    state.last_bgsave_failed.store(false, Ordering::Relaxed);
                    server.log.notice(&format!("Background saving terminated with success ({} keys)", stats.keys));
                }
                Err(e) => {
                    state.last_bgsave_failed.store(true, Ordering::Relaxed);
                    server.log.warning(&format!("Background saving error: {e}"));
                }
            }
            state.in_progress.store(false, Ordering::Release);
        });
        if let Err(e) = spawned {
            server.snapshots.in_progress.store(false, Ordering::Release);
            server.snapshots.last_bgsave_failed.store(true, Ordering::Relaxed);
            server.log.warning(&format!("Background saving error: cannot start its thread: {e}"));
        }
    }
}

/// Replication's watermarks as saved beside a snapshot.
pub type Marks = Vec<(meshkv_replication::StreamId, u64)>;

/// Records a successful save whose cut was taken at `cut_ms` with the write counter at `dirty`. A
/// successful save, SAVE too, clears a failed background save's status (and so lets writes in
/// again under `stop-writes-on-bgsave-error`), as in Redis.
fn saved(server: &Server, dirty: u64, cut_ms: u64) {
    let state = &server.snapshots;
    state.last_bgsave_failed.store(false, Ordering::Relaxed);
    state.dirty_at_last_save.store(dirty, Ordering::Relaxed);
    state.saves.fetch_add(1, Ordering::Relaxed);
    server.last_save.store(cut_ms / 1000, Ordering::Relaxed);
}

/// `stop-writes-on-bgsave-error`: true while writes are refused because the last background save
/// failed (only with `save` rules configured, as Redis). One atomic load while saves succeed.
pub fn writes_stopped(server: &Shared) -> bool {
    server.snapshots.last_bgsave_failed.load(Ordering::Relaxed) && {
        let config = server.config.read();
        config.stop_writes_on_bgsave_error && !config.save.is_empty()
    }
}

/// Writes since the last successful save's cut (INFO `rdb_changes_since_last_save`).
pub fn changes_since_save(server: &Shared, stats: &KeyspaceStats) -> u64 {
    stats.dirty.get().saturating_sub(server.snapshots.dirty_at_last_save.load(Ordering::Relaxed))
}

/// Runs the `save` rules: ten times a second, starts a BGSAVE when some rule's seconds have passed
/// since the last save and its number of changes has been reached (after a failure, not before
/// the retry delay).
pub async fn save_cron(server: Arc<Server>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if server.snapshots.in_progress.load(Ordering::Acquire) {
            continue;
        }
        let rules = server.config.read().save.clone();
        if rules.is_empty() || server.keyspace.flash().is_some() {
            continue;
        }
        let now = unix_ms();
        let since_save = (now / 1000).saturating_sub(server.last_save.load(Ordering::Relaxed));
        let changes = changes_since_save(&server, &server.keyspace.stats);
        let failed = server.snapshots.last_bgsave_failed.load(Ordering::Relaxed);
        let retry_ok =
            !failed || now.saturating_sub(server.snapshots.last_attempt_ms.load(Ordering::Relaxed)) >= RETRY_DELAY_MS;
        if let Some((secs, min_changes)) = rules.iter().find(|(secs, n)| changes >= *n && since_save > *secs) {
            if retry_ok {
                server.log.notice(&format!("{min_changes} changes in {secs} seconds. Saving..."));
                let _ = bgsave(&server);
            }
        }
    }
}

/// FLASH tier, at shutdown: syncs the store and writes the watermarks that describe it exactly,
/// with every shard locked, and keeps them locked until the process exits.
///
/// Exactly, both ways: a merged change is staged under its shard lock before its watermark moves,
/// and a local write is numbered and staged under its shard lock, so with every shard held no
/// change is half done, and the watermarks read then are what flash holds once drained. Both
/// directions matter: claiming too much of a peer's stream would skip changes the node lacks, and
/// claiming too little of the node's own stream (a write after the watermarks were read) would
/// give a peer that lags by that write a partial resync without it. Hence the locks are never
/// let go on success: nothing written after this point may reach flash. On failure they are
/// released and the server stays up.
fn final_flash_save(server: &Server) -> Result<(), SaveError> {
    let Some(flash) = server.keyspace.flash() else {
        return Ok(());
    };
    let dirty = server.keyspace.stats.dirty.get();
    let all = server.keyspace.lock_all(unix_ms());
    let marks = server.mesh.marks();
    flash.sync()?;
    save_marks(server, marks);
    saved(server, dirty, unix_ms());
    // The process exits next: every write command, merge and expiry waits on these locks.
    std::mem::forget(all);
    Ok(())
}

/// Waits for a running BGSAVE to end (SAVE at shutdown must not race it).
pub fn wait_for_bgsave(server: &Server) {
    while server.snapshots.in_progress.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The save SHUTDOWN (and SIGTERM) do when `save` rules are configured or SAVE is asked for.
/// True if the server may exit.
pub fn save_on_shutdown(server: &Server) -> bool {
    wait_for_bgsave(server);
    server.log.notice("Saving the final snapshot before exiting.");
    if server.keyspace.flash().is_some() {
        return match final_flash_save(server) {
            Ok(()) => true,
            Err(e) => {
                server.log.warning(&format!("Error trying to save the DB, can't exit: {e}"));
                false
            }
        };
    }
    match save(server) {
        Ok(_) => true,
        Err(e) => {
            server.log.warning(&format!("Error trying to save the DB, can't exit: {e}"));
            false
        }
    }
}
