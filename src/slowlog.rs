//! The slow log: the most recent commands that took longer than `slowlog-log-slower-than`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// One slow command.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    /// Unique, increasing id.
    pub id: u64,
    /// Unix time (s) the command ran.
    pub time: u64,
    /// Duration in microseconds.
    pub micros: u64,
    /// Arguments (at most 32, each at most 128 bytes, as Redis trims them).
    pub args: Vec<Bytes>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: String,
}

/// The slow log. Touched only by commands that were slow, so its lock is off the hot path.
#[derive(Default)]
pub struct SlowLog {
    entries: Mutex<VecDeque<SlowEntry>>,
    next_id: AtomicU64,
    max_len: AtomicUsize,
}

impl SlowLog {
    /// Sets the length bound, dropping the oldest entries beyond it.
    pub fn set_max_len(&self, n: usize) {
        self.max_len.store(n, Ordering::Relaxed);
        let mut e = self.entries.lock();
        while e.len() > n {
            e.pop_back();
        }
    }

    /// Records a slow command.
    pub fn push(&self, micros: u64, args: &[Bytes], addr: String, name: String) {
        let max = self.max_len.load(Ordering::Relaxed);
        if max == 0 {
            return;
        }
        let mut trimmed: Vec<Bytes> = args.iter().take(32).map(trim_arg).collect();
        if args.len() > 32 {
            trimmed[31] = Bytes::from(format!("... ({} more arguments)", args.len() - 31));
        }
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: crate::server::unix_ms() / 1000,
            micros,
            args: trimmed,
            addr,
            name,
        };
        let mut e = self.entries.lock();
        e.push_front(entry);
        e.truncate(max);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<SlowEntry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the log.
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// An argument as the log keeps it: copied, and cut at 128 bytes as Redis cuts it. Never a clone:
/// a request's name is a view of its connection's read buffer (see `protocol::request`), and an
/// entry holding one would keep that whole buffer (up to a megabyte of a pipeline) alive for as
/// long as the entry lives, counted in `used_memory` against `maxmemory`.
fn trim_arg(a: &Bytes) -> Bytes {
    if a.len() <= 128 {
        Bytes::copy_from_slice(a)
    } else {
        let mut v = a[..128].to_vec();
        v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
        Bytes::from(v)
    }
}
