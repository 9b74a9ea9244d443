//! Per-command and per-error statistics: what `INFO commandstats` and `INFO errorstats` report
//! (`cmdstat_set:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..` and
//! `errorstat_ERR:count=..`), zeroed by `CONFIG RESETSTAT`.
//!
//! A command's counters are found by the address of its static [`CommandSpec`] (the table's
//! entries live in `static` slices, so the address is the command's identity, renamed or not):
//! one hash of a pointer per call, then relaxed adds on a cache line of the command's own, so that
//! workers running different commands never share a line. Errors are counted by their code (the
//! first word of the message, as Redis does) under a lock: error replies are the rare path.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::CommandSpec;

/// Redis keeps at most this many distinct error codes; past it, a new code is counted only in
/// `total_error_replies` (a client cannot grow this map without bound with made-up codes).
const MAX_ERROR_CODES: usize = 128;

/// One command's counters.
#[derive(Default)]
#[repr(align(64))]
struct Counters {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// The counters of every command and error code.
pub struct CommandStats {
    /// A command's index in `specs` and `counters`, by the address of its spec.
    index: HashMap<usize, usize, ahash::RandomState>,
    specs: Vec<&'static CommandSpec>,
    counters: Box<[Counters]>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// One line of `INFO commandstats`.
pub struct CommandLine {
    pub name: &'static str,
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

impl CommandStats {
    /// Counters for `specs` (every command of the table, before any rename).
    pub fn new(specs: impl IntoIterator<Item = &'static CommandSpec>) -> CommandStats {
        let specs: Vec<&'static CommandSpec> = specs.into_iter().collect();
        let index = specs.iter().enumerate().map(|(i, s)| (*s as *const CommandSpec as usize, i)).collect();
        let counters = specs.iter().map(|_| Counters::default()).collect();
        CommandStats { index, specs, counters, errors: Mutex::new(BTreeMap::new()) }
    }

    fn of(&self, spec: &CommandSpec) -> Option<&Counters> {
        self.index.get(&(spec as *const CommandSpec as usize)).map(|&i| &self.counters[i])
    }

    /// `spec` ran for `usec` microseconds; `failures`: the failed calls to count, 1 when it replied
    /// with an error (a script whose reply holds several errors can count more, as in Redis: see
    /// `engine::ReplyErrors`).
    #[inline]
    pub fn called(&self, spec: &CommandSpec, usec: u64, failures: u64) {
        if let Some(c) = self.of(spec) {
            c.calls.fetch_add(1, Ordering::Relaxed);
            c.usec.fetch_add(usec, Ordering::Relaxed);
            if failures > 0 {
                c.failed.fetch_add(failures, Ordering::Relaxed);
            }
        }
    }

    /// `spec` was refused before it ran (arity, authentication, OOM, a write refused...).
    pub fn rejected(&self, spec: &CommandSpec) {
        if let Some(c) = self.of(spec) {
            c.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An error reply went out: counted under its code, the message's first word
    /// (`ERR`, `WRONGTYPE`, `NOAUTH`...). As in Redis, a message without a space in its first
    /// 32 bytes (its `-` included) counts as `ERR` (a script can reply any text as an error).
    pub fn error(&self, message: &str) {
        let code = match message.as_bytes().iter().take(31).position(|&b| b == b' ') {
            Some(end) => &message[..end],
            None => "ERR",
        };
        let mut errors = self.errors.lock();
        if let Some(n) = errors.get_mut(code) {
            *n += 1;
        } else if errors.len() < MAX_ERROR_CODES {
            errors.insert(code.to_string(), 1);
        }
    }

    /// The commands with anything to report, in table order.
    pub fn commands(&self) -> Vec<CommandLine> {
        self.specs
            .iter()
            .zip(self.counters.iter())
            .map(|(spec, c)| CommandLine {
                name: spec.name,
                calls: c.calls.load(Ordering::Relaxed),
                usec: c.usec.load(Ordering::Relaxed),
                rejected: c.rejected.load(Ordering::Relaxed),
                failed: c.failed.load(Ordering::Relaxed),
            })
            .filter(|l| l.calls + l.rejected + l.failed > 0)
            .collect()
    }

    /// Every error code seen, with its count, in code order.
    pub fn errors(&self) -> Vec<(String, u64)> {
        self.errors.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in self.counters.iter() {
            for n in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                n.store(0, Ordering::Relaxed);
            }
        }
        self.errors.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::CommandTable;

    #[test]
    fn counts_by_command_and_by_error_code() {
        let table = CommandTable::new();
        let stats = CommandStats::new(CommandTable::specs());
        let set = table.lookup(b"SET").unwrap();
        stats.called(set, 5, 0);
        stats.called(set, 7, 1);
        stats.rejected(table.lookup(b"get").unwrap());
        stats.error("WRONGTYPE Operation against a key holding the wrong kind of value");
        stats.error("ERR unknown command");
        stats.error("ERR syntax error");
        let lines = stats.commands();
        let names: Vec<&str> = lines.iter().map(|l| l.name).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let set_line = lines.iter().find(|l| l.name == "set").unwrap();
        assert_eq!((set_line.calls, set_line.usec, set_line.rejected, set_line.failed), (2, 12, 0, 1));
        let get_line = lines.iter().find(|l| l.name == "get").unwrap();
        assert_eq!((get_line.calls, get_line.rejected), (0, 1));
        assert_eq!(stats.errors(), vec![("ERR".to_string(), 2), ("WRONGTYPE".to_string(), 1)]);
        stats.reset();
        assert!(stats.commands().is_empty() && stats.errors().is_empty());
    }
}
