//! The append-only file's writer: the journal every transaction hands its changes to, and the
//! thread that writes them to the current incremental file and syncs it as `appendfsync` says.
//!
//! A transaction encodes its group of changes as one frame (outside any lock), appends it to the
//! pending buffer under one short lock and gets the frame's sequence number. The writer thread
//! takes the whole buffer at once, writes it with one `write`, and under `always` syncs it with
//! one `fdatasync` before it publishes the last sequence number it covered: every client waiting
//! for any of those frames is then released by that one sync (group commit across clients and
//! threads). A client's replies wait for its last frame (see `Connection::wait_durable`), as the
//! FLASH tier's do for its batches. Under `everysec` the writer writes at once and syncs once a
//! second; under `no` it never syncs (the operating system does).
//!
//! A write or sync that fails is retried every second, with what came after it kept in memory;
//! meanwhile write commands are refused with Redis's `-MISCONF Errors writing to the AOF file`,
//! and a file left with part of a frame is cut back to its last whole frame first.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshkv_storage::flash::{Fsync, FsyncPolicy};
use meshkv_storage::journal::{encode_frame, Journal, JournalRecord};
use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

/// What waits to be written.
#[derive(Default)]
struct Pending {
    /// Frames not yet taken by the writer.
    buf: Vec<u8>,
    /// The sequence number of the last frame logged.
    seq: u64,
    /// Files to switch to, with the bytes they hold (None: close the file, logging stops),
    /// before the byte at the offset.
    switches: Vec<(usize, Option<(File, u64)>)>,
    /// Syncs asked for ([`AofLog::sync_now`]) and done.
    syncs_asked: u64,
    syncs_done: u64,
    /// The writer sleeps and must be woken.
    writer_idle: bool,
    stop: bool,
}

/// The journal of the append-only file (see the module's documentation).
pub struct AofLog {
    pending: Mutex<Pending>,
    wake: Condvar,
    synced: Condvar,
    /// Every frame up to this number is written (and synced, under `always`).
    written: AtomicU64,
    written_notify: Notify,
    fsync: FsyncPolicy,
    /// `no-appendfsync-on-rewrite yes` and a rewrite runs: no sync until it ends.
    pub(crate) hold_fsync: AtomicBool,
    /// Why writes fail, while they do.
    failure: Mutex<Option<String>>,
    failing: AtomicBool,
    /// Bytes in the current incremental file.
    pub(crate) current_bytes: AtomicU64,
    /// Bytes in the manifest's earlier incremental files (since the last rewrite).
    pub(crate) older_bytes: AtomicU64,
    /// Bytes logged and not yet written (INFO `aof_buffer_length`).
    pub(crate) buffered: AtomicU64,
    /// Syncs skipped or late under `everysec` because the disk was busy (INFO `aof_delayed_fsync`).
    pub(crate) delayed_fsyncs: AtomicU64,
    /// Called once when writes start failing and once when they recover (the server logs it).
    on_event: Mutex<Option<EventHook>>,
}

/// What the writer tells the server.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// Writes started failing, for this reason (they are retried).
    Failing(&'a str),
    /// Writes succeed again.
    Recovered,
    /// An fsync failed under `appendfsync always`: the process must exit (as Redis does), since
    /// after a failed fsync the kernel may have dropped the pages it could not write, and a
    /// retried fsync would then report success for data that is not on disk.
    Fatal(&'a str),
}

/// Where the writer's [`Event`]s go.
type EventHook = Box<dyn Fn(Event<'_>) + Send + Sync>;

thread_local! {
    /// Each thread's frame buffer: a frame is encoded outside the pending lock.
    static FRAME: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Journal for AofLog {
    fn log(&self, group: &[JournalRecord<'_>]) -> u64 {
        FRAME.with(|frame| {
            let mut frame = frame.borrow_mut();
            frame.clear();
            encode_frame(group, &mut frame);
            let mut pending = self.pending.lock();
            pending.buf.extend_from_slice(&frame);
            pending.seq += 1;
            self.buffered.fetch_add(frame.len() as u64, Ordering::Relaxed);
            if pending.writer_idle {
                pending.writer_idle = false;
                self.wake.notify_one();
            }
            if frame.capacity() > 1 << 20 {
                *frame = Vec::new(); // a huge value's frame is not kept for the next write
            }
            pending.seq
        })
    }
}

impl AofLog {
    /// A log with no file yet (nothing is written until [`AofLog::switch_to`] gives one).
    pub fn new(fsync: Fsync) -> Arc<AofLog> {
        Arc::new(AofLog {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            synced: Condvar::new(),
            written: AtomicU64::new(0),
            written_notify: Notify::new(),
            fsync: FsyncPolicy::new(fsync),
            hold_fsync: AtomicBool::new(false),
            failure: Mutex::new(None),
            failing: AtomicBool::new(false),
            current_bytes: AtomicU64::new(0),
            older_bytes: AtomicU64::new(0),
            buffered: AtomicU64::new(0),
            delayed_fsyncs: AtomicU64::new(0),
            on_event: Mutex::new(None),
        })
    }

    /// Starts the writer thread.
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let me = self.clone();
        std::thread::Builder::new().name("meshkv-aof".into()).spawn(move || me.write_loop()).map(|_| ())
    }

    /// Sets where the writer's events go (the server logs them; a fatal one ends the process).
    pub fn on_event(&self, f: impl Fn(Event<'_>) + Send + Sync + 'static) {
        *self.on_event.lock() = Some(Box::new(f));
    }

    /// The `appendfsync` policy.
    pub fn fsync(&self) -> Fsync {
        self.fsync.get()
    }

    /// Changes the `appendfsync` policy (CONFIG SET).
    pub fn set_fsync(&self, fsync: Fsync) {
        self.fsync.set(fsync);
    }

    /// From the next frame on, frames go to `file` (which holds `bytes` already: its header);
    /// None closes the current file. The current one is synced before it is left. Called while
    /// every shard is held, so the switch falls between two transactions.
    pub fn switch_to(&self, file: Option<File>, bytes: u64) {
        let mut pending = self.pending.lock();
        let at = pending.buf.len();
        pending.switches.push((at, file.map(|f| (f, bytes))));
        pending.writer_idle = false;
        self.wake.notify_one();
    }

    /// Waits until everything logged so far is written and synced (shutdown, turning the file
    /// off), at most `limit`. False if that did not happen in time (writes failing).
    pub fn sync_now(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut pending = self.pending.lock();
        pending.syncs_asked += 1;
        let ticket = pending.syncs_asked;
        pending.writer_idle = false;
        self.wake.notify_one();
        while pending.syncs_done < ticket {
            if self.synced.wait_until(&mut pending, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// Stops the writer once what is pending is written (tests; the process exits otherwise).
    pub fn stop(&self) {
        self.pending.lock().stop = true;
        self.wake.notify_one();
    }

    /// Whether a client whose last frame is `seq` must still wait before its replies leave.
    pub fn must_wait(&self, seq: u64) -> bool {
        seq > self.written.load(Ordering::Acquire) && self.fsync() == Fsync::Always
    }

    /// Waits, without blocking a thread, until frame `seq` is written (and synced under `always`).
    pub async fn wait_written_async(&self, seq: u64) {
        meshkv_storage::flash::wait_until_reached(&self.written, &self.written_notify, seq).await
    }

    /// Why writes fail, while they do (write commands are refused meanwhile).
    pub fn write_failure(&self) -> Option<String> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.failure.lock().clone()
    }

    /// Bytes in the incremental files of the manifest.
    pub fn incr_bytes(&self) -> u64 {
        self.older_bytes.load(Ordering::Relaxed) + self.current_bytes.load(Ordering::Relaxed)
    }

    fn fail(&self, why: String) {
        let first = !self.failing.swap(true, Ordering::AcqRel);
        *self.failure.lock() = Some(why.clone());
        if first {
            if let Some(f) = &*self.on_event.lock() {
                f(Event::Failing(why.as_str()));
            }
        }
    }

    fn recovered(&self) {
        if self.failing.swap(false, Ordering::AcqRel) {
            if let Some(f) = &*self.on_event.lock() {
                f(Event::Recovered);
            }
        }
    }

    /// Writes `bytes` to `file` whole, retrying every second while it fails (a partial write is
    /// cut back first, so the file never holds part of a frame followed by more frames).
    fn write_retrying(&self, file: &mut File, bytes: &[u8]) {
        loop {
            let before = self.current_bytes.load(Ordering::Relaxed);
            match file.write_all(bytes) {
                Ok(()) => {
                    self.current_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    // The system's words, as Redis gives them ("No space left on device").
                    let text = e.to_string();
                    self.fail(text.split(" (os error").next().unwrap_or(&text).to_string());
                    let _ = file.set_len(before);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// Syncs `file`, retrying every second while it fails; under `always` a failure is fatal
    /// (see [`Event::Fatal`]).
    fn sync_retrying(&self, file: &File) {
        while let Err(e) = file.sync_data() {
            if self.fsync() == Fsync::Always {
                if let Some(f) = &*self.on_event.lock() {
                    f(Event::Fatal(&e.to_string()));
                }
                std::process::exit(1);
            }
            self.fail(format!("fsync: {e}"));
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn write_loop(self: Arc<Self>) {
        let mut file: Option<File> = None;
        let mut spare: Vec<u8> = Vec::new();
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        loop {
            let (mut buf, switches, seq, syncs_asked) = {
                let mut pending = self.pending.lock();
                loop {
                    let work = !pending.buf.is_empty()
                        || !pending.switches.is_empty()
                        || pending.syncs_asked > pending.syncs_done;
                    if work || pending.stop {
                        break;
                    }
                    let due = unsynced && self.fsync() == Fsync::EverySec;
                    if due && last_sync.elapsed() >= Duration::from_secs(1) {
                        break;
                    }
                    pending.writer_idle = true;
                    let wait = match due {
                        true => Duration::from_secs(1).saturating_sub(last_sync.elapsed()),
                        false => Duration::from_secs(1),
                    };
                    self.wake.wait_for(&mut pending, wait);
                    pending.writer_idle = false;
                }
                if pending.stop && pending.buf.is_empty() && pending.switches.is_empty() {
                    if let Some(f) = &file {
                        let _ = f.sync_data();
                    }
                    return;
                }
                let buf = std::mem::replace(&mut pending.buf, std::mem::take(&mut spare));
                (buf, std::mem::take(&mut pending.switches), pending.seq, pending.syncs_asked)
            };
            let mut at = 0;
            for (offset, next) in switches {
                if let Some(f) = file.as_mut() {
                    self.write_retrying(f, &buf[at..offset]);
                    self.sync_retrying(f);
                }
                at = offset;
                file = match next {
                    Some((f, bytes)) => {
                        let left = self.current_bytes.swap(bytes, Ordering::Relaxed);
                        self.older_bytes.fetch_add(left, Ordering::Relaxed);
                        Some(f)
                    }
                    None => {
                        // Logging stops: no file is being added to any more.
                        self.current_bytes.store(0, Ordering::Relaxed);
                        self.older_bytes.store(0, Ordering::Relaxed);
                        None
                    }
                };
                unsynced = false;
                last_sync = Instant::now();
            }
            if at < buf.len() {
                if let Some(f) = file.as_mut() {
                    self.write_retrying(f, &buf[at..]);
                    unsynced = true;
                }
            }
            self.buffered.fetch_sub(buf.len() as u64, Ordering::Relaxed);
            let held = self.hold_fsync.load(Ordering::Relaxed);
            let sync = match self.fsync() {
                Fsync::Always => unsynced && !held,
                Fsync::EverySec => unsynced && !held && last_sync.elapsed() >= Duration::from_secs(1),
                Fsync::No => false,
            };
            if sync {
                if let Some(f) = &file {
                    let started = Instant::now();
                    self.sync_retrying(f);
                    if started.elapsed() > Duration::from_secs(2) {
                        self.delayed_fsyncs.fetch_add(1, Ordering::Relaxed);
                    }
                }
                unsynced = false;
                last_sync = Instant::now();
            }
            self.recovered();
            self.written.store(seq, Ordering::Release);
            self.written_notify.notify_waiters();
            buf.clear();
            spare = buf;
            let mut pending = self.pending.lock();
            if syncs_asked > pending.syncs_done {
                // Asked for before this round took the buffer: what they wait for is written;
                // synced too, unless the sync is held back by a rewrite.
                if let Some(f) = file.as_ref().filter(|_| unsynced) {
                    drop(pending);
                    self.sync_retrying(f);
                    unsynced = false;
                    pending = self.pending.lock();
                }
                pending.syncs_done = syncs_asked;
                self.synced.notify_all();
            }
        }
    }
}
