//! ACL LOG: recent denials and failed logins, as Redis 7.0 keeps them. A denial like one logged
//! less than a minute ago (same reason, context, object and user) counts on that entry.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// One entry.
#[derive(Clone)]
pub struct LogEntry {
    /// How many times it happened.
    pub count: u64,
    /// `command`, `key`, `channel` or `auth`.
    pub reason: &'static str,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command, key or channel denied (`AUTH` for a failed login).
    pub object: String,
    /// The user.
    pub username: String,
    /// When it last happened (Unix milliseconds).
    pub ctime_ms: u64,
    /// The client's CLIENT LIST line then.
    pub client_info: String,
}

/// Entries, newest first.
pub struct AclLog {
    entries: Mutex<VecDeque<LogEntry>>,
    max_len: std::sync::atomic::AtomicUsize,
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog { entries: Mutex::default(), max_len: std::sync::atomic::AtomicUsize::new(128) }
    }
}

/// Within this time, a like entry is counted on rather than added (Redis's
/// `ACL_LOG_GROUPING_MAX_TIME_DELTA`).
const GROUPING_MS: u64 = 60_000;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl AclLog {
    /// `acllog-max-len`.
    pub fn set_max_len(&self, n: usize) {
        self.max_len.store(n, std::sync::atomic::Ordering::Relaxed);
        self.entries.lock().truncate(n);
    }

    /// Records a denial or failed login.
    pub fn add(
        &self,
        reason: &'static str,
        context: &'static str,
        object: String,
        username: String,
        client_info: String,
    ) {
        let now = now_ms();
        let mut entries = self.entries.lock();
        let like = entries.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now.saturating_sub(e.ctime_ms) < GROUPING_MS
        });
        let entry = match like.and_then(|i| entries.remove(i)) {
            Some(mut e) => {
                e.count += 1;
                e.ctime_ms = now;
                e.client_info = client_info;
                e
            }
            None => LogEntry { count: 1, reason, context, object, username, ctime_ms: now, client_info },
        };
        entries.push_front(entry);
        entries.truncate(self.max_len.load(std::sync::atomic::Ordering::Relaxed));
    }

    /// The newest `n` entries, newest first, with their age in seconds.
    pub fn recent(&self, n: usize) -> Vec<(LogEntry, f64)> {
        let now = now_ms();
        self.entries
            .lock()
            .iter()
            .take(n)
            .map(|e| (e.clone(), now.saturating_sub(e.ctime_ms) as f64 / 1000.0))
            .collect()
    }

    /// ACL LOG RESET.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
