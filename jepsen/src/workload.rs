//! The clients: threads, each bound to one node, running a random mix of register writes,
//! deletes and reads, set adds and counter increments, and recording every operation.
//!
//! Every register operation runs in `MULTI ... MESHKV.STAMP key EXEC`, so the history holds the
//! stamp each write got and the stamp of the state each read saw: the checkers can then say which
//! write should have won, and whether a read went back in time.
//!
//! Keys are disjoint per workload (`r*` registers, `s*` sets, `c*` counters, `d*` keys written
//! once and deleted once, `p*` pairs of keys always written together by one MSET) so a type never
//! changes under a checker. Register values and set members are unique in a run
//! (`<thread>-<sequence>`), so a value read or left at the end names the one write it came from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cluster::addr;
use crate::history::{pair_value, Kind, Op, Recorder, Stamp, F};
use crate::resp::{ClientError, Conn, Reply};

/// The keys and the pace of the clients.
#[derive(Debug, Clone)]
pub struct Workload {
    pub registers: usize,
    pub sets: usize,
    pub counters: usize,
    pub pairs: usize,
    /// Pause between two operations of one client.
    pub interval: Duration,
    /// How long a client waits for a reply before the outcome is unknown.
    pub timeout: Duration,
}

/// The prefix of the delete workload's keys (`d<thread>-<sequence>`).
pub const DELETE_PREFIX: &str = "d";

pub fn register_key(i: usize) -> String {
    format!("r{i}")
}

pub fn set_key(i: usize) -> String {
    format!("s{i}")
}

pub fn counter_key(i: usize) -> String {
    format!("c{i}")
}

/// The name of pair `i`: its keys are `<name>:a` and `<name>:b` (see [`pair_keys`]).
pub fn pair_name(i: usize) -> String {
    format!("p{i}")
}

/// The two keys of a pair. One MSET writes both with one value and one stamp, so every node,
/// every read and every restart must show them equal: a difference is half a command.
pub fn pair_keys(name: &str) -> [String; 2] {
    [format!("{name}:a"), format!("{name}:b")]
}

/// What a stamp reply (`MESHKV.STAMP`) says: the stamp, and whether it is a tombstone's.
pub fn parse_stamp(reply: &Reply) -> Option<(Stamp, bool)> {
    let items = reply.array()?;
    let hlc = items.first()?.int()? as u64;
    let node = u64::from_str_radix(&items.get(1)?.text()?, 16).ok()?;
    let deleted = items.get(3)?.text()? == "deleted";
    Some((Stamp { hlc, node }, deleted))
}

/// Reads register `key` on a connection with its stamp: `(value, stamp, deleted)`.
pub fn read_register(conn: &mut Conn, key: &str) -> Result<(Option<String>, Option<Stamp>, bool), String> {
    let reply = conn.transaction(&[cmd(&["GET", key]), cmd(&["MESHKV.STAMP", key])]).map_err(|e| e.to_string())?;
    let items = match &reply {
        Reply::Array(items) if items.len() == 2 => items,
        other => return Err(format!("unexpected EXEC reply {other:?}")),
    };
    let stamp = parse_stamp(&items[1]);
    Ok((items[0].text(), stamp.map(|s| s.0), stamp.is_some_and(|s| s.1)))
}

pub fn cmd(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// One client thread: runs until `stop`, reconnecting (as a new process) after an unknown
/// outcome.
pub struct Client<'a> {
    pub thread: usize,
    pub threads: usize,
    pub node: usize,
    pub workload: &'a Workload,
    pub recorder: &'a Recorder,
    pub stop: &'a AtomicBool,
    pub seed: u64,
}

impl Client<'_> {
    pub fn run(&self) {
        let mut rng = StdRng::seed_from_u64(self.seed ^ (self.thread as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut generation = 0usize;
        let mut conn: Option<Conn> = None;
        let mut seq = 0u64;
        // This client's keys of the delete workload, written and not deleted yet.
        let mut created: Vec<String> = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            let process = (self.thread + generation * self.threads) as i64;
            let w = self.workload;
            let (f, key, value) = match rng.random_range(0..100) {
                0..30 => {
                    seq += 1;
                    (F::Write, register_key(rng.random_range(0..w.registers)), Some(format!("{}-{seq}", self.thread)))
                }
                30..35 => (F::Delete, register_key(rng.random_range(0..w.registers)), None),
                35..52 => (F::Read, register_key(rng.random_range(0..w.registers)), None),
                52..56 => {
                    seq += 1;
                    (F::PairWrite, pair_name(rng.random_range(0..w.pairs)), Some(format!("{}-{seq}", self.thread)))
                }
                56..60 => (F::PairRead, pair_name(rng.random_range(0..w.pairs)), None),
                60..72 => {
                    seq += 1;
                    (F::Add, set_key(rng.random_range(0..w.sets)), Some(format!("{}-{seq}", self.thread)))
                }
                72..86 => {
                    (F::Incr, counter_key(rng.random_range(0..w.counters)), Some(rng.random_range(1..10).to_string()))
                }
                // Keys written once and later deleted once, then left alone: a delete that comes
                // back is not hidden by a later write, as it is on the hot registers.
                86..94 => {
                    seq += 1;
                    let key = format!("{DELETE_PREFIX}{}-{seq}", self.thread);
                    created.push(key.clone());
                    (F::Write, key, Some(format!("{}-{seq}", self.thread)))
                }
                _ if !created.is_empty() => (F::Delete, created.swap_remove(rng.random_range(0..created.len())), None),
                _ => (F::Read, register_key(rng.random_range(0..w.registers)), None),
            };
            let mut invoke = Op::new(Kind::Invoke, process, self.node as i64, f, &key);
            invoke.value = value.clone();
            self.recorder.record(invoke);
            let mut done = Op::new(Kind::Ok, process, self.node as i64, f, &key);
            done.value = value.clone();
            let result = match conn.as_mut() {
                Some(c) => Ok(c),
                None => Conn::connect(addr(self.node), w.timeout).map(|c| conn.insert(c)),
            }
            .and_then(|c| execute(c, f, &key, value.as_deref(), &mut done));
            match result {
                Ok(()) => {}
                Err(e @ ClientError::AfterOk(_)) => {
                    done.error = Some(e.to_string());
                    conn = None;
                }
                Err(ClientError::NotSent(e)) => {
                    done.kind = Kind::Fail;
                    done.error = Some(e.to_string());
                    conn = None;
                }
                Err(e) => {
                    done.kind = Kind::Info;
                    done.error = Some(e.to_string());
                    conn = None;
                    generation += 1; // Jepsen: a process with an unknown outcome is gone
                }
            }
            let failed = done.kind == Kind::Fail;
            self.recorder.record(done);
            let pause = if failed { w.interval.max(Duration::from_millis(100)) } else { w.interval };
            std::thread::sleep(pause);
        }
    }
}

/// Runs one operation, filling in `done` (kind, value, stamp).
fn execute(c: &mut Conn, f: F, key: &str, value: Option<&str>, done: &mut Op) -> Result<(), ClientError> {
    let value = value.unwrap_or("");
    let reply = match f {
        F::Write => c.transaction(&[cmd(&["SET", key, value]), cmd(&["MESHKV.STAMP", key])])?,
        F::Delete => c.call(&["DEL", key])?,
        F::Read => c.transaction(&[cmd(&["GET", key]), cmd(&["MESHKV.STAMP", key])])?,
        F::Add => c.call(&["SADD", key, value])?,
        F::Incr => c.call(&["INCRBY", key, value])?,
        F::PairWrite => {
            let [a, b] = pair_keys(key);
            c.call(&["MSET", &a, value, &b, value])?
        }
        F::PairRead => {
            let [a, b] = pair_keys(key);
            c.call(&["MGET", &a, &b])?
        }
        F::Probe | F::Nemesis => unreachable!("not a client operation"),
    };
    if let Reply::Error(e) = &reply {
        done.kind = Kind::Fail;
        done.error = Some(e.clone());
        return Ok(());
    }
    match (f, reply.array()) {
        (F::Write, Some([_, stamp])) => done.stamp = parse_stamp(stamp).map(|s| s.0),
        // A tombstone is made when the command's transaction commits, so inside MULTI the stamp
        // of a DEL cannot be read: it is read right after. A delete that is visible then has
        // certainly happened and reached this node (ours, or a later one: either way the final
        // state must be at least as new); a newer live value means its stamp stays unknown. A
        // DEL that removed nothing made no tombstone of its own.
        (F::Delete, None) if reply.int() == Some(1) => match c.call(&["MESHKV.STAMP", key]) {
            Ok(stamp) => done.stamp = parse_stamp(&stamp).filter(|s| s.1).map(|s| s.0),
            Err(e) => return Err(ClientError::AfterOk(e.to_string())),
        },
        (F::Delete, None) => {}
        (F::Read, Some([v, stamp])) => {
            done.value = v.text();
            let s = parse_stamp(stamp);
            done.stamp = s.map(|s| s.0);
            done.deleted = s.is_some_and(|s| s.1);
        }
        (F::Add | F::Incr | F::PairWrite, None) => {}
        (F::PairRead, Some([a, b])) => done.value = Some(pair_value(a.text().as_deref(), b.text().as_deref())),
        _ => return Err(ClientError::Protocol(format!("unexpected reply {reply:?} to {f:?}"))),
    }
    Ok(())
}
