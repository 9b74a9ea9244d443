//! The history: every operation a client invoked and how it completed, every nemesis action, in
//! the order they happened, as Jepsen records them.
//!
//! An operation appears twice: an `invoke` when the client is about to send it, then `ok` (it
//! happened, with what it returned), `fail` (it certainly did not happen) or `info` (no answer: it
//! may or may not have happened). The checkers read only this (plus the final state read after
//! the heal), so a history file from a run can be checked again later.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// How an operation ended, or that it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum F {
    /// SET a register (value: the value written; stamp: the write's stamp).
    Write,
    /// DEL a register (stamp: the tombstone's stamp, when the key existed).
    Delete,
    /// GET a register (value: what was read; stamp: the stamp of what was read).
    Read,
    /// SADD one unique member to a set (value: the member).
    Add,
    /// INCRBY a counter (value: the amount).
    Incr,
    /// MSET both keys of a pair to one value (key: the pair's name; value: the value written).
    PairWrite,
    /// MGET both keys of a pair (key: the pair's name; value: what was read, see
    /// [`pair_value`]).
    PairRead,
    /// Read a register on a node right after its `kill -9` and restart, before it can hear from
    /// its peers (the durability check).
    Probe,
    /// A nemesis action (value: what it did).
    Nemesis,
}

/// A write's stamp as `MESHKV.STAMP` reports it: the HLC, then the origin node id, which breaks
/// ties; the greater stamp wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub hlc: u64,
    pub node: u64,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub index: usize,
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The client process (a new one after an indeterminate outcome, as in Jepsen); -1 for the
    /// nemesis and the suite's own probes.
    pub process: i64,
    /// The node the operation went to (-1 for a nemesis action on the whole cluster).
    pub node: i64,
    /// Microseconds since the run started.
    pub time_us: u64,
    pub f: F,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
    /// For reads and probes: the key was deleted (a tombstone), not just absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// A blank operation to fill in.
    pub fn new(kind: Kind, process: i64, node: i64, f: F, key: &str) -> Op {
        Op {
            index: 0,
            kind,
            process,
            node,
            time_us: 0,
            f,
            key: key.to_string(),
            value: None,
            stamp: None,
            deleted: false,
            error: None,
        }
    }
}

/// Where the clients and the nemesis append, from many threads.
pub struct Recorder {
    start: Instant,
    ops: Mutex<Vec<Op>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { start: Instant::now(), ops: Mutex::new(Vec::new()) }
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Appends `op`, giving it its index and time; returns the index.
    pub fn record(&self, mut op: Op) -> usize {
        let mut ops = self.ops.lock().unwrap();
        op.index = ops.len();
        op.time_us = self.now_us();
        ops.push(op);
        ops.len() - 1
    }

    /// The history so far.
    pub fn snapshot(&self) -> Vec<Op> {
        self.ops.lock().unwrap().clone()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Pairs every completion with its invocation: `(invoke, completion)` indexes, the completion
/// `None` for an operation still open when the history ended (treated as `info`).
pub fn pairs(history: &[Op]) -> Vec<(usize, Option<usize>)> {
    let mut open: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut out = Vec::new();
    let mut slot: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for (i, op) in history.iter().enumerate() {
        if op.f == F::Nemesis || op.process < 0 {
            continue;
        }
        match op.kind {
            Kind::Invoke => {
                open.insert(op.process, i);
                slot.insert(i, out.len());
                out.push((i, None));
            }
            _ => {
                if let Some(inv) = open.remove(&op.process) {
                    out[slot[&inv]].1 = Some(i);
                }
            }
        }
    }
    out
}

/// Writes the history as JSON lines.
pub fn write_jsonl(history: &[Op], path: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for op in history {
        serde_json::to_writer(&mut out, op)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads a history written by [`write_jsonl`].
pub fn read_jsonl(path: &std::path::Path) -> std::io::Result<Vec<Op>> {
    let text = std::fs::read_to_string(path)?;
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| Ok(serde_json::from_str(l)?)).collect()
}

/// How a pair read is recorded: the two values read, `nil` for a missing key, joined by `|`
/// (values are `<thread>-<sequence>`, so neither holds a `|`).
pub fn pair_value(a: Option<&str>, b: Option<&str>) -> String {
    format!("{}|{}", a.unwrap_or("nil"), b.unwrap_or("nil"))
}

/// The two values of a recorded pair read.
pub fn split_pair(value: &str) -> (Option<&str>, Option<&str>) {
    let (a, b) = value.split_once('|').unwrap_or((value, "nil"));
    fn some(v: &str) -> Option<&str> {
        (v != "nil").then_some(v)
    }
    (some(a), some(b))
}
