//! The append-only file in RAM mode (`appendonly yes`), in Redis 7's multi-part layout: in
//! `dir/appenddirname`, a base file, incremental files, and a manifest that names them.
//!
//! - The **base** is a snapshot (meshkv's snapshot format, from a consistent cut: see
//!   `persistence`), so it carries every key's `(hlc, node)` stamp, tombstones and flush floors.
//! - The **incremental files** hold the journal (`meshkv_storage::journal`): every change to the
//!   data, as the stamped effect it had, in commit order, one checksummed frame per transaction.
//! - The **manifest** (`manifest.rs`) lists them in Redis 7's syntax and is replaced atomically.
//!
//! At start the append-only file, when there is one, is loaded instead of the snapshot (as Redis
//! prefers it): the base, then each incremental file's frames replayed in order. A frame that is
//! damaged stops the start with the file named; a last file cut short in its last frame (a crash
//! in the middle of a write) loads up to its last whole frame with a warning when
//! `aof-load-truncated yes` (the default), and is cut back there, or stops the start with `no`.
//!
//! A **rewrite** (BGREWRITEAOF, `auto-aof-rewrite-*`, CONFIG SET appendonly yes) needs no fork:
//! a new incremental file is created and listed first, then, with every shard held for a moment,
//! a cut is taken and the journal switched to the new file, so the cut holds exactly the frames
//! before the switch. The cut is written as the new base on a thread of its own while writes go
//! on into the new file; then the manifest is switched to the new base and the new file, and the
//! files it replaced are removed. A crash at any point leaves a manifest whose files hold
//! everything: the old base and every incremental file until the switch.

pub mod log;
pub mod manifest;

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meshkv_storage::journal::{FrameReader, JournalError, FILE_HEADER};
use meshkv_storage::snapshot::{load_snapshot, write_snapshot, SnapshotError};
use meshkv_storage::{KeyspaceCut, Stamp};
use parking_lot::Mutex;

pub use self::log::AofLog;
use self::manifest::{sync_dir, write_atomically, Manifest};
use crate::server::{unix_ms, Server};

/// Why the append-only file could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum AofLoadError {
    /// The manifest cannot be read or parsed.
    #[error("Bad manifest {path}: {why}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The base file is damaged or missing.
    #[error("Bad base file of the append only file: {0}")]
    Base(#[from] SnapshotError),
    /// An incremental file is damaged.
    #[error(
        "Bad file format reading the append only file {path}: {why}. Make a backup of your AOF \
         file, then remove the damaged part or restore it"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An incremental file ends in the middle of a frame, and truncated files may not load.
    #[error(
        "Unexpected end of file reading the append only file {path} (at offset {offset}). You can: \
         1) Make a backup of your AOF file, then cut it at offset {offset}. 2) Alternatively you can set the \
         'aof-load-truncated' configuration option to yes and restart the server."
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where its last whole frame ends.
        offset: u64,
    },
    /// A file cannot be read, or the truncated tail cannot be cut.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Why a rewrite (or turning the file on) did not start.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// Another rewrite runs.
    #[error("Background append only file rewriting already in progress")]
    InProgress,
    /// `appendonly no`.
    #[error("the append only file is off (appendonly no)")]
    Off,
    /// A file could not be created or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a rewrite is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// BGREWRITEAOF or the automatic rule: the file is on and stays on.
    Rewrite,
    /// CONFIG SET appendonly yes: logging starts with the cut; the file exists once the base is
    /// written.
    Enable,
}

/// The files in use.
struct Files {
    /// The manifest as it is on disk (empty while the file is off and none was ever written).
    manifest: Manifest,
}

/// The append-only file's state (one per server; unused on the FLASH tier).
pub struct Aof {
    /// The journal and its writer.
    pub log: Arc<AofLog>,
    files: Mutex<Files>,
    /// INFO `aof_enabled`: the file is on (from CONFIG SET appendonly yes, while its first base is
    /// written, too, as Redis counts it).
    pub enabled: AtomicBool,
    /// A rewrite runs.
    pub rewrite_in_progress: AtomicBool,
    /// When the running rewrite started (Unix ms).
    pub rewrite_started_ms: AtomicU64,
    /// Seconds the last rewrite took, -1 before the first.
    pub last_rewrite_secs: AtomicI64,
    /// Whether the last rewrite failed.
    pub last_rewrite_failed: AtomicBool,
    /// Rewrites that succeeded since start.
    pub rewrites: AtomicU64,
    /// Rewrites that failed in a row.
    pub consecutive_failures: AtomicU64,
    /// Size of the base file.
    pub base_size: AtomicU64,
    /// Bumped when the file is turned off: a rewrite started before leaves no trace.
    epoch: AtomicU64,
    writer_started: AtomicBool,
}

impl Aof {
    /// The state of a server whose file is off; `log` is the journal installed in its keyspace.
    pub fn new(log: Arc<AofLog>) -> Aof {
        Aof {
            log,
            files: Mutex::new(Files { manifest: Manifest::default() }),
            enabled: AtomicBool::new(false),
            rewrite_in_progress: AtomicBool::new(false),
            rewrite_started_ms: AtomicU64::new(0),
            last_rewrite_secs: AtomicI64::new(-1),
            last_rewrite_failed: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            writer_started: AtomicBool::new(false),
        }
    }

    /// INFO `aof_current_size`: the base and every incremental file.
    pub fn current_size(&self) -> u64 {
        self.base_size.load(Ordering::Relaxed) + self.log.incr_bytes()
    }

    fn start_writer(&self) -> std::io::Result<()> {
        if !self.writer_started.swap(true, Ordering::AcqRel) {
            self.log.start()?;
        }
        Ok(())
    }
}

/// `dir/appenddirname`, and the base name of its files.
fn location(server: &Server) -> (PathBuf, String) {
    let c = server.config.read();
    (c.dir.join(&c.appenddirname), c.appendfilename.clone())
}

fn manifest_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.manifest"))
}

/// What was loaded at start.
pub struct Loaded {
    manifest: Manifest,
    /// Bytes of the base, of the incremental files before the last, and of the last.
    sizes: (u64, u64, u64),
    /// Keys in the base, frames replayed.
    pub keys: u64,
    /// Frames replayed from the incremental files.
    pub frames: u64,
}

/// Loads the append-only file at start, if there is one (`appendonly yes` and a manifest):
/// the base, then the incremental files in order. None if there is no manifest.
pub fn load(server: &Server) -> Result<Option<Loaded>, AofLoadError> {
    let (dir, name) = location(server);
    let path = manifest_path(&dir, &name);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AofLoadError::Io { path, source }),
    };
    let manifest = Manifest::parse(&text).map_err(|why| AofLoadError::Manifest { path: path.clone(), why })?;
    if manifest.base.is_none() && manifest.incrs.is_empty() {
        return Err(AofLoadError::Manifest { path, why: "it names no file".into() });
    }
    let now = unix_ms();
    let mut sizes = (0, 0, 0);
    let mut keys = 0;
    if let Some((base, _)) = &manifest.base {
        let base = dir.join(base);
        match load_snapshot(&base, &server.keyspace, now)? {
            Some(stats) => {
                sizes.0 = stats.bytes;
                keys = stats.keys;
            }
            None => {
                let source = std::io::Error::new(std::io::ErrorKind::NotFound, "the manifest names it, it is missing");
                return Err(AofLoadError::Io { path: base, source });
            }
        }
    }
    let truncated_ok = server.config.read().aof_load_truncated;
    let mut newest = Stamp::default();
    let mut frames = 0u64;
    for (i, (incr, _)) in manifest.incrs.iter().enumerate() {
        let path = dir.join(incr);
        let last = i + 1 == manifest.incrs.len();
        let io = |source| AofLoadError::Io { path: path.clone(), source };
        let file = File::open(&path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let corrupt = |why: String| AofLoadError::Corrupt { path: path.clone(), why };
        let mut cut_at = None;
        match FrameReader::new(BufReader::with_capacity(1 << 20, file)) {
            Err(JournalError::Truncated(offset)) => cut_at = Some(offset),
            Err(e) => return Err(corrupt(e.to_string())),
            Ok(mut reader) => loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => {
                        let stamp = server.keyspace.replay(&frame, now).map_err(|e| {
                            corrupt(format!("the frame at offset {} does not apply: {e}", reader.offset()))
                        })?;
                        newest = newest.max(stamp);
                        frames += 1;
                    }
                    Ok(None) => break,
                    Err(JournalError::Truncated(offset)) => {
                        cut_at = Some(offset);
                        break;
                    }
                    Err(e) => return Err(corrupt(e.to_string())),
                }
            },
        }
        let mut length = size;
        if let Some(offset) = cut_at {
            if !last || !truncated_ok {
                return Err(AofLoadError::Truncated { path: path.clone(), offset });
            }
            server.log.warning(&format!(
                "!!! Warning: short read while loading the AOF file {}!!! (the last {} bytes are part of a write \
                 cut short)",
                path.display(),
                size - offset
            ));
            cut_back(&path, offset).map_err(io)?;
            length = offset.max(FILE_HEADER.len() as u64);
            server.log.warning(&format!(
                "AOF {} loaded anyway because aof-load-truncated is enabled (cut back to {length} bytes)",
                path.display()
            ));
        }
        if last {
            sizes.2 = length;
        } else {
            sizes.1 += length;
        }
    }
    server.keyspace.witness_loaded(newest);
    Ok(Some(Loaded { manifest, sizes, keys, frames }))
}

/// Cuts an incremental file back to its last whole frame (at least its header).
fn cut_back(path: &Path, offset: u64) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    if offset < FILE_HEADER.len() as u64 {
        file.set_len(0)?;
        file.write_all(FILE_HEADER)?;
    } else {
        file.set_len(offset)?;
    }
    file.sync_all()
}

/// Creates a new incremental file holding only its header, synced, its name synced in `dir`.
fn create_incr(dir: &Path, name: &str) -> std::io::Result<File> {
    let path = dir.join(name);
    let mut file = OpenOptions::new().append(true).create_new(true).open(&path)?;
    file.write_all(FILE_HEADER)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok(file)
}

/// After the data is loaded at start: with `appendonly yes`, carries on the file that was
/// loaded (appending to its last incremental file), or creates one from the data loaded from
/// the snapshot (a base written now, before the first client, as Redis 7 creates one at start).
pub fn start(server: &Server, loaded: Option<Loaded>) -> Result<(), String> {
    if !server.config.read().appendonly {
        return Ok(());
    }
    let aof = &server.aof;
    let (dir, name) = location(server);
    match loaded {
        Some(loaded) => {
            let mut manifest = loaded.manifest;
            let (file, bytes) = match manifest.incrs.last() {
                Some((incr, _)) => {
                    let path = dir.join(incr);
                    let file =
                        OpenOptions::new().append(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    (file, loaded.sizes.2)
                }
                None => {
                    // A manifest with a base only: a first incremental file is added.
                    let seq = manifest.next_seq();
                    let incr = format!("{name}.{seq}.incr.maof");
                    let file = create_incr(&dir, &incr).map_err(|e| format!("{}: {e}", dir.join(&incr).display()))?;
                    manifest.incrs.push((incr, seq));
                    write_atomically(&manifest_path(&dir, &name), manifest.render().as_bytes())
                        .map_err(|e| format!("cannot write the AOF manifest: {e}"))?;
                    (file, FILE_HEADER.len() as u64)
                }
            };
            aof.base_size.store(loaded.sizes.0, Ordering::Relaxed);
            aof.log.older_bytes.store(loaded.sizes.1, Ordering::Relaxed);
            aof.files.lock().manifest = manifest;
            aof.start_writer().map_err(|e| format!("cannot start the AOF writer thread: {e}"))?;
            let mut all = server.keyspace.lock_all(unix_ms());
            all.set_journaling(true);
            aof.log.switch_to(Some(file), bytes);
            drop(all);
            aof.enabled.store(true, Ordering::Relaxed);
            Ok(())
        }
        None => {
            server
                .log
                .notice(&format!("Creating AOF base file on server start (in {}, files {name}.*)", dir.display()));
            let job = begin(server, Mode::Enable).map_err(|e| format!("cannot create the append only file: {e}"))?;
            match job.finish(server) {
                true => Ok(()),
                false => Err("cannot create the append only file (see the log above)".into()),
            }
        }
    }
}

/// A rewrite whose cut is taken and whose new incremental file is in use: what remains is to
/// write the base and switch the manifest.
#[must_use = "a begun rewrite holds the in-progress flag until it is finished"]
pub struct Rewrite {
    mode: Mode,
    seq: u64,
    incr: String,
    cut: KeyspaceCut,
    epoch: u64,
    started_ms: u64,
}

/// Starts a rewrite (or turns the file on): a new incremental file, listed in the manifest
/// (a rewrite) before anything goes to it; then, with every shard held, the cut and the switch
/// to the new file (and journaling on, when turning the file on).
pub fn begin(server: &Server, mode: Mode) -> Result<Rewrite, RewriteError> {
    let aof = &server.aof;
    if mode == Mode::Rewrite && !aof.enabled.load(Ordering::Acquire) {
        return Err(RewriteError::Off);
    }
    if aof.rewrite_in_progress.swap(true, Ordering::AcqRel) {
        return Err(RewriteError::InProgress);
    }
    let started_ms = unix_ms();
    aof.rewrite_started_ms.store(started_ms, Ordering::Relaxed);
    let result = start_rewrite(server, mode, started_ms);
    if result.is_err() {
        aof.rewrite_in_progress.store(false, Ordering::Release);
        aof.last_rewrite_failed.store(true, Ordering::Relaxed);
        aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
    }
    result
}

/// [`begin`]'s steps once the in-progress flag is claimed.
fn start_rewrite(server: &Server, mode: Mode, started_ms: u64) -> Result<Rewrite, RewriteError> {
    let aof = &server.aof;
    {
        let (dir, name) = location(server);
        std::fs::create_dir_all(&dir)?;
        let mut files = aof.files.lock();
        // A sequence number no file in the directory has (a file of an abandoned attempt may be
        // left there: it is replaced).
        let seq = files.manifest.next_seq().max(next_free_seq(&dir, &name));
        let incr = format!("{name}.{seq}.incr.maof");
        let file = create_incr(&dir, &incr)?;
        if mode == Mode::Rewrite {
            let mut listed = files.manifest.clone();
            listed.incrs.push((incr.clone(), seq));
            write_atomically(&manifest_path(&dir, &name), listed.render().as_bytes())?;
            files.manifest = listed;
        }
        aof.start_writer()?;
        let epoch = aof.epoch.load(Ordering::Acquire);
        let cut = {
            let mut all = server.keyspace.lock_all(unix_ms());
            if mode == Mode::Enable {
                all.set_journaling(true);
            }
            let cut = all.cut_all();
            aof.log.switch_to(Some(file), FILE_HEADER.len() as u64);
            cut
        };
        if mode == Mode::Enable {
            aof.enabled.store(true, Ordering::Release);
        }
        if server.config.read().no_appendfsync_on_rewrite {
            aof.log.hold_fsync.store(true, Ordering::Relaxed);
        }
        Ok(Rewrite { mode, seq, incr, cut, epoch, started_ms })
    }
}

/// The first sequence number above every `name.N.*` file in `dir`.
fn next_free_seq(dir: &Path, name: &str) -> u64 {
    let prefix = format!("{name}.");
    let mut next = 1;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let seq = file.strip_prefix(&prefix).and_then(|rest| rest.split('.').next()?.parse::<u64>().ok());
            if let Some(seq) = seq {
                next = next.max(seq + 1);
            }
        }
    }
    next
}

impl Rewrite {
    /// Runs [`Rewrite::finish`] on a thread of its own.
    pub fn finish_in_background(self, server: &Arc<Server>) {
        let owner = server.clone();
        let spawned = std::thread::Builder::new().name("meshkv-aof-rewrite".into()).spawn(move || {
            self.finish(&owner);
        });
        if let Err(e) = spawned {
            server.log.warning(&format!("Background append only file rewriting error: cannot start its thread: {e}"));
            server.aof.rewrite_in_progress.store(false, Ordering::Release);
            server.aof.last_rewrite_failed.store(true, Ordering::Relaxed);
        }
    }

    /// Writes the base from the cut, then switches the manifest to it and the new incremental
    /// file and removes the files they replace. True on success.
    pub fn finish(self, server: &Server) -> bool {
        let aof = &server.aof;
        let (dir, name) = location(server);
        let base = format!("{name}.{}.base.msnap", self.seq);
        let written = write_snapshot(&self.cut, &dir.join(&base));
        drop(self.cut);
        let mut files = aof.files.lock();
        let outcome = if aof.epoch.load(Ordering::Acquire) != self.epoch {
            // The file was turned off meanwhile: this base describes nothing in use.
            let _ = std::fs::remove_file(dir.join(&base));
            server.log.notice("Background AOF rewrite abandoned: the append only file was turned off");
            false
        } else {
            let switched = written.map_err(|e| e.to_string()).and_then(|stats| {
                let manifest =
                    Manifest { base: Some((base.clone(), self.seq)), incrs: vec![(self.incr.clone(), self.seq)] };
                write_atomically(&manifest_path(&dir, &name), manifest.render().as_bytes())
                    .map_err(|e| format!("cannot write the AOF manifest: {e}"))?;
                Ok((manifest, stats))
            });
            match switched {
                Ok((manifest, stats)) => {
                    let old = std::mem::replace(&mut files.manifest, manifest);
                    for file in old.files().filter(|f| *f != base && *f != self.incr) {
                        let _ = std::fs::remove_file(dir.join(file));
                    }
                    let _ = sync_dir(&dir);
                    aof.base_size.store(stats.bytes, Ordering::Relaxed);
                    aof.log.older_bytes.store(0, Ordering::Relaxed);
                    aof.rewrites.fetch_add(1, Ordering::Relaxed);
                    aof.consecutive_failures.store(0, Ordering::Relaxed);
                    aof.last_rewrite_failed.store(false, Ordering::Relaxed);
                    server.log.notice(&format!(
                        "Background AOF rewrite finished successfully: base {base} ({} keys, {} bytes)",
                        stats.keys, stats.bytes
                    ));
                    true
                }
                Err(why) => {
                    let _ = std::fs::remove_file(dir.join(&base));
                    aof.last_rewrite_failed.store(true, Ordering::Relaxed);
                    aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
                    server.log.warning(&format!("Background AOF rewrite failed: {why}"));
                    if self.mode == Mode::Enable {
                        // No manifest names the new file: logging to it would be a promise
                        // nothing keeps. The file goes off again.
                        drop(files);
                        turn_off(server);
                        let _ = std::fs::remove_file(dir.join(&self.incr));
                        server.config.write().appendonly = false;
                        files = aof.files.lock();
                    }
                    false
                }
            }
        };
        drop(files);
        aof.log.hold_fsync.store(false, Ordering::Relaxed);
        let took = (unix_ms().saturating_sub(self.started_ms) / 1000) as i64;
        aof.last_rewrite_secs.store(took, Ordering::Relaxed);
        aof.rewrite_in_progress.store(false, Ordering::Release);
        outcome
    }
}

/// Stops logging: with every shard held, journaling goes off and the current file is synced and
/// closed. The files stay (as Redis leaves them).
fn turn_off(server: &Server) {
    let aof = &server.aof;
    aof.epoch.fetch_add(1, Ordering::AcqRel);
    {
        let mut all = server.keyspace.lock_all(unix_ms());
        all.set_journaling(false);
        aof.log.switch_to(None, 0);
    }
    aof.log.sync_now(Duration::from_secs(5));
    aof.enabled.store(false, Ordering::Release);
}

/// CONFIG SET appendonly yes|no at run time: turning it on writes a base from a cut (in the
/// background) and logs from that cut on; turning it off stops logging.
pub fn switch(server: &Arc<Server>, on: bool) {
    let aof = &server.aof;
    if on == aof.enabled.load(Ordering::Acquire) {
        return;
    }
    if !on {
        turn_off(server);
        server.log.notice("Background append only file rewriting stopped: appendonly turned off");
        return;
    }
    match begin(server, Mode::Enable) {
        Ok(job) => {
            server.log.notice("Background append only file rewriting started (appendonly turned on)");
            job.finish_in_background(server);
        }
        Err(e) => {
            server.config.write().appendonly = false;
            server.log.warning(&format!("Cannot turn the append only file on: {e}"));
        }
    }
}

/// BGREWRITEAOF.
pub fn bgrewrite(server: &Arc<Server>) -> Result<(), RewriteError> {
    let job = begin(server, Mode::Rewrite)?;
    server.log.notice("Background append only file rewriting started");
    job.finish_in_background(server);
    Ok(())
}

/// At exit: everything logged is written and synced.
pub fn sync_at_exit(server: &Server) {
    if server.aof.enabled.load(Ordering::Acquire) && !server.aof.log.sync_now(Duration::from_secs(10)) {
        server.log.warning("The append only file could not be synced before exiting");
    }
}

/// The automatic rewrite (`auto-aof-rewrite-percentage`, `auto-aof-rewrite-min-size`), checked
/// ten times a second: once the file is at least the minimum size and has grown by the
/// percentage over the base of the last rewrite, a rewrite starts.
pub async fn cron(server: Arc<Server>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let aof = &server.aof;
        if !aof.enabled.load(Ordering::Acquire) || aof.rewrite_in_progress.load(Ordering::Acquire) {
            continue;
        }
        let (percentage, min_size) = {
            let c = server.config.read();
            (c.auto_aof_rewrite_percentage, c.auto_aof_rewrite_min_size)
        };
        let current = aof.current_size();
        if percentage == 0 || current < min_size {
            continue;
        }
        let base = aof.base_size.load(Ordering::Relaxed).max(1);
        let growth = (current * 100 / base).saturating_sub(100);
        if growth < percentage {
            continue;
        }
        // After a failure, wait a while before trying again (as Redis, which waits a minute
        // after consecutive failures).
        let failures = aof.consecutive_failures.load(Ordering::Relaxed);
        let since = unix_ms().saturating_sub(aof.rewrite_started_ms.load(Ordering::Relaxed));
        if failures > 0 && since < 60_000 {
            continue;
        }
        server.log.notice(&format!("Starting automatic rewriting of AOF on {growth}% growth"));
        let s = server.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = bgrewrite(&s) {
                s.log.warning(&format!("Automatic AOF rewrite did not start: {e}"));
            }
        })
        .await;
    }
}
