//! CLIENT PAUSE / UNPAUSE: holding clients' commands back for a while, as Redis 7.0 does.
//!
//! `CLIENT PAUSE ms WRITE` holds back the commands that write (and PUBLISH, which Redis
//! replicates, and an EXEC whose transaction writes) until the pause ends; `ALL` (the default)
//! holds back every command. A held client waits before its command runs, counted in INFO's
//! `blocked_clients`, and its command runs when CLIENT UNPAUSE is sent or the time is up. Active
//! expiry stops during a pause, so that no key changes while clients are held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What a pause holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    /// Commands that write (or may replicate).
    Write,
    /// Every command.
    All,
}

/// The server's pause, if any.
#[derive(Default)]
pub struct Pause {
    /// True while a pause may be on (the cheap check every command makes).
    on: AtomicBool,
    /// Until when, and what it holds back.
    state: Mutex<Option<(Instant, PauseKind)>>,
    /// Wakes held clients at CLIENT UNPAUSE.
    ended: Notify,
}

impl Pause {
    /// Pauses until `until`. A pause already on keeps the later end and the stricter kind, as in
    /// Redis.
    pub fn pause(&self, until: Instant, kind: PauseKind) {
        let mut state = self.state.lock();
        let merged = match *state {
            Some((end, old)) if end > Instant::now() => (end.max(until), old.max(kind)),
            _ => (until, kind),
        };
        *state = Some(merged);
        self.on.store(true, Ordering::Release);
    }

    /// Ends the pause and lets every held client go.
    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.on.store(false, Ordering::Release);
        self.ended.notify_waiters();
    }

    /// True if a pause of either kind is on now (active expiry waits while it is: under WRITE
    /// too, since an expiry is a write).
    pub fn active(&self) -> bool {
        self.holds(true).is_some()
    }

    /// When the pause that holds back a command ends, if one does: every command under `ALL`,
    /// the writing ones (`writes`) under `WRITE`.
    #[inline]
    pub fn holds(&self, writes: bool) -> Option<Instant> {
        if !self.on.load(Ordering::Acquire) {
            return None;
        }
        match *self.state.lock() {
            Some((until, kind)) if until > Instant::now() && (kind == PauseKind::All || writes) => Some(until),
            _ => None,
        }
    }

    /// Waits until the pause that holds back a command ends (CLIENT UNPAUSE, or its time is up).
    pub async fn wait(&self, writes: bool) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let Some(until) = self.holds(writes) else { return };
            tokio::select! {
                _ = ended => {}
                _ = tokio::time::sleep_until(until.into()) => {}
            }
        }
    }
}
