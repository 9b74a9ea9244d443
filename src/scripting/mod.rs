//! Lua scripting (EVAL, EVALSHA, SCRIPT): the script cache, the script that runs now, and the Lua
//! engine each worker thread keeps.
//!
//! A script runs on the worker that received its EVAL, on that worker's own Lua 5.1 state (Lua
//! states are single-threaded; one per worker needs no lock and keeps compiled scripts warm).
//! What all workers share lives here: the bodies of the scripts EVAL and SCRIPT LOAD saw, by SHA1,
//! and the one script running, which other clients see through BUSY replies and SCRIPT KILL.
//!
//! Atomicity is the dispatcher's: EVAL locks every shard of every database for its run (as
//! MULTI/EXEC locks its queue's keys), so the keys a script declares and the ones it does not (Redis
//! 7 allows that outside cluster mode) are equally safe, and at most one script runs at a time.
//! This module must never take a shard lock.

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
pub mod engine;
pub mod functions;
mod lua_struct;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

/// The scripts the server knows, and the one that runs now.
#[derive(Default)]
pub struct Scripts {
    /// Script bodies by their lower-case SHA1 hex digest.
    cache: Mutex<HashMap<String, Bytes>>,
    /// Bumped by SCRIPT FLUSH: each worker's engine then drops its compiled scripts.
    generation: AtomicU64,
    /// The script running now, if any.
    running: Mutex<Option<Running>>,
    /// Milliseconds since `epoch` when the running script started, plus one (0: none runs). Every
    /// command reads it, so it is one atomic rather than the mutex above.
    running_since: AtomicU64,
    /// Scripts between taking their locks and the end of their command (see [`Scripts::reserve`]).
    pending: AtomicU64,
    /// `busy-reply-threshold` in milliseconds.
    busy_threshold_ms: AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

/// What a command must do while a script runs (see [`Scripts::wait_or_busy`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Busy {
    /// No script runs (any more): go on.
    Free,
    /// A script has run past `busy-reply-threshold`: reply BUSY.
    Busy,
}

/// Redis's reply to a command sent while a script runs too long.
pub const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// The same while a function (FCALL) runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What other clients may know of the script that runs now.
#[derive(Clone)]
pub struct Running {
    /// When it started.
    pub started: Instant,
    /// Set by SCRIPT KILL; the engine's hook stops the script when it sees it.
    pub kill: Arc<AtomicBool>,
    /// Set once the script ran a write command: it can no longer be killed (its writes would
    /// stay half-done).
    pub wrote: Arc<AtomicBool>,
    /// For a function (FCALL): its name and the command that called it (FUNCTION STATS).
    pub function: Option<Arc<RunningFunction>>,
}

/// A running function's name and the command that called it.
pub type RunningFunction = (String, Vec<Bytes>);

/// What SCRIPT KILL found.
pub enum KillOutcome {
    /// No script runs.
    NotBusy,
    /// The running script already wrote.
    Unkillable,
    /// The running script will stop at its next hook.
    Killed,
    /// What runs is a function and SCRIPT KILL was sent, or the reverse: the BUSY reply to give.
    WrongKind(&'static str),
}

impl Scripts {
    /// The body of the script with this digest (any case).
    pub fn get(&self, sha: &[u8]) -> Option<Bytes> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        self.cache.lock().get(&sha).cloned()
    }

    /// Remembers a body; returns its digest.
    pub fn add(&self, body: &Bytes) -> String {
        let sha = sha1hex(body);
        self.cache.lock().entry(sha.clone()).or_insert_with(|| body.clone());
        sha
    }

    /// True if a script with this digest is known.
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// Forgets every script (SCRIPT FLUSH).
    pub fn flush(&self) {
        self.cache.lock().clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The flush generation (see [`Scripts::flush`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of scripts and the bytes of their bodies (INFO memory).
    pub fn usage(&self) -> (usize, usize) {
        let cache = self.cache.lock();
        (cache.len(), cache.values().map(|b| b.len()).sum())
    }

    /// Sets `busy-reply-threshold`.
    pub fn set_busy_threshold_ms(&self, ms: u64) {
        self.busy_threshold_ms.store(ms, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    /// Registers the script (or, with its name and command, the function) that starts now; it is
    /// forgotten when the guard drops.
    pub fn start(&self, function: Option<(String, Vec<Bytes>)>) -> RunningGuard<'_> {
        let running = Running {
            started: Instant::now(),
            kill: Arc::new(AtomicBool::new(false)),
            wrote: Arc::new(AtomicBool::new(false)),
            function: function.map(Arc::new),
        };
        *self.running.lock() = Some(running.clone());
        self.running_since.store(self.now_ms() + 1, Ordering::Release);
        RunningGuard { scripts: self, running }
    }

    /// Called by the dispatcher before a script command (EVAL, FCALL...) takes its locks: from
    /// then on other commands wait for it (then get BUSY) as for a running script. Without this a
    /// command that came between the script's taking every lock and its registering as running
    /// ([`Scripts::start`]) would queue for those locks for the script's whole run, BUSY never
    /// said.
    pub fn reserve(&self) -> Reservation<'_> {
        self.pending.fetch_add(1, Ordering::AcqRel);
        let _ = self.running_since.compare_exchange(0, self.now_ms() + 1, Ordering::AcqRel, Ordering::Acquire);
        Reservation { scripts: self }
    }

    /// Called before a command takes its locks: while a script runs (it holds every shard), the
    /// command waits for it to end, as it would queue behind it in Redis, but not past
    /// `busy-reply-threshold` of the script's run: from then on it is answered BUSY. The wait
    /// is bounded so that a script that never ends cannot hold every worker, and SCRIPT KILL
    /// (which does not wait) always finds one. One atomic load when no script runs.
    #[inline]
    pub fn wait_or_busy(&self) -> Busy {
        if self.running_since.load(Ordering::Acquire) == 0 {
            return Busy::Free;
        }
        self.wait_or_busy_slow()
    }

    #[cold]
    fn wait_or_busy_slow(&self) -> Busy {
        loop {
            let since = self.running_since.load(Ordering::Acquire);
            if since == 0 {
                return Busy::Free;
            }
            let ran = self.now_ms().saturating_sub(since - 1);
            if ran >= self.busy_threshold_ms.load(Ordering::Relaxed) {
                return Busy::Busy;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The BUSY reply for what runs now (a script or a function).
    pub fn busy_error(&self) -> &'static str {
        match self.running.lock().as_ref() {
            Some(r) if r.function.is_some() => BUSY_FUNCTION,
            _ => BUSY,
        }
    }

    /// The function running now, and for how long it has run (FUNCTION STATS).
    pub fn running_function(&self) -> Option<(Arc<RunningFunction>, Duration)> {
        let running = self.running.lock();
        let r = running.as_ref()?;
        Some((r.function.clone()?, r.started.elapsed()))
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL (true).
    pub fn kill(&self, function: bool) -> KillOutcome {
        match self.running.lock().as_ref() {
            None => KillOutcome::NotBusy,
            Some(r) if r.function.is_some() != function => {
                KillOutcome::WrongKind(if r.function.is_some() { BUSY_FUNCTION } else { BUSY })
            }
            Some(r) if r.wrote.load(Ordering::Acquire) => KillOutcome::Unkillable,
            Some(r) => {
                r.kill.store(true, Ordering::Release);
                KillOutcome::Killed
            }
        }
    }
}

/// The running script's registration (see [`Scripts::start`]).
pub struct RunningGuard<'s> {
    scripts: &'s Scripts,
    /// What the engine watches and marks.
    pub running: Running,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        *self.scripts.running.lock() = None;
        // Another script waits for the locks this one is about to let go: commands keep waiting
        // (then BUSY) rather than queue for locks the next script takes first.
        let next = if self.scripts.pending.load(Ordering::Acquire) > 1 { self.scripts.now_ms() + 1 } else { 0 };
        self.scripts.running_since.store(next, Ordering::Release);
    }
}

/// A script command's claim on the busy state, from before it takes its locks to the end of the
/// command (see [`Scripts::reserve`]).
pub struct Reservation<'s> {
    scripts: &'s Scripts,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let left = self.scripts.pending.fetch_sub(1, Ordering::AcqRel) - 1;
        if left == 0 && self.scripts.running.lock().is_none() {
            self.scripts.running_since.store(0, Ordering::Release);
        }
    }
}

/// The lower-case SHA1 hex digest of `data` (script names, `redis.sha1hex`).
pub fn sha1hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}
