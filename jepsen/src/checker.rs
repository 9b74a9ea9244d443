//! The checkers: what the README promises, checked against a history and the state every node
//! holds after the heal.
//!
//! Each anomaly names the promise it breaks. Some are losses the README documents as expected
//! (what a `kill -9` takes before the node persisted it): those carry `documented` with the
//! README's words and do not fail a run, unless the checker runs in strict mode. Set adds and
//! counter increments are merged across masters (README, Active-active replication: counters and
//! sets), so one lost outside a crash window fails every run.
//! Operations with an unknown outcome (`info`) are treated as Jepsen does: they may or may not
//! have happened, so they can explain a value but are never required to be there.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::history::{pairs, Kind, Op, Stamp, F};

/// One register as a node holds it after the heal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    pub value: Option<String>,
    pub stamp: Option<Stamp>,
    pub deleted: bool,
}

/// What one node holds after the heal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// `MESHKV.DIGEST`: type, value, TTL and stamp of every key.
    pub digest: String,
    pub registers: BTreeMap<String, Register>,
    pub sets: BTreeMap<String, Vec<String>>,
    pub counters: BTreeMap<String, i64>,
    /// Each pair's two values (`<name>:a`, `<name>:b`), as one MGET read them.
    #[serde(default)]
    pub pairs: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Replication counters from INFO (full and partial syncs served, changes applied, refused
    /// for clock drift...), since the node's last start: evidence of what the faults did.
    #[serde(default)]
    pub replication: BTreeMap<String, i64>,
}

/// The state read after the heal and the quiet period.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FinalState {
    pub nodes: Vec<NodeState>,
    /// Milliseconds from the heal (when the clients stop too) until every node's digest was
    /// equal; `None` if they never were within the allowed time.
    pub convergence_ms: Option<u64>,
    pub convergence_limit_ms: u64,
}

/// What happened in the run, for telling a documented loss from a failure.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunFacts {
    /// The FLASH tier.
    pub flash: bool,
    /// `appendfsync always` on the FLASH tier: a `kill -9` may lose no acknowledged write.
    pub fsync_always: bool,
    /// Some node was killed or restarted.
    pub restarted: bool,
}

impl RunFacts {
    /// How long before a `kill -9` an acknowledged write may be lost on its node (unless a peer
    /// already had it): the snapshot period in RAM mode, the fsync period with `everysec`.
    fn crash_window_us(&self) -> u64 {
        match (self.flash, self.fsync_always) {
            (false, _) => 3_000_000,
            (true, false) => 1_500_000,
            (true, true) => 0,
        }
    }
}

/// A broken promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Which promise: `divergence`, `not-converged`, `phantom-value`, `lost-write`,
    /// `resurrection`, `lost-add`, `phantom-member`, `lost-increment`, `counter-too-high`,
    /// `read-your-writes`, `monotonic-reads`, `durability`.
    pub kind: String,
    pub key: String,
    pub detail: String,
    /// Set when the README documents this as an expected loss today (its words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented: Option<String>,
}

/// Counts of what the checkers looked at.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    pub ops_ok: usize,
    pub ops_fail: usize,
    pub ops_info: usize,
    pub acked_adds: usize,
    pub lost_adds: usize,
    pub acked_increments: i64,
    pub lost_increments: i64,
    pub reads_checked: usize,
    pub probes: usize,
    /// Pair reads checked for half a command.
    #[serde(default)]
    pub pair_reads: usize,
}

/// The checkers' answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verdict {
    /// No anomaly that fails the run (see `strict`).
    pub valid: bool,
    /// In strict mode documented losses fail the run too.
    pub strict: bool,
    pub anomalies: Vec<Anomaly>,
    pub stats: Stats,
    pub convergence_ms: Option<u64>,
}

const CRASH_LOSS: &str = "a kill -9 loses what the node had not persisted yet (RAM mode: the writes after the \
last snapshot; appendfsync everysec: about the last second) unless a peer already had it (README, Snapshots, FLASH tier)";

fn anomaly(kind: &str, key: &str, detail: String, documented: Option<&str>) -> Anomaly {
    Anomaly { kind: kind.into(), key: key.into(), detail, documented: documented.map(str::to_string) }
}

/// Runs every checker.
pub fn check(history: &[Op], fin: &FinalState, facts: &RunFacts, strict: bool) -> Verdict {
    let mut v = Verdict { strict, convergence_ms: fin.convergence_ms, ..Verdict::default() };
    let ops = completed(history);
    for (_, done) in &ops {
        match done.kind {
            Kind::Ok => v.stats.ops_ok += 1,
            Kind::Fail => v.stats.ops_fail += 1,
            _ => v.stats.ops_info += 1,
        }
    }
    // Not converging is never documented: the chain case once was (a node that merged a full sync
    // did not pass it on to its followers), and a FLASH tier restart once forgot tombstones; both
    // are fixed (README, Active-active replication), and these checks fail on them now.
    convergence(fin, &mut v);
    let kills: Vec<(i64, u64)> = history
        .iter()
        .filter(|op| op.f == F::Nemesis && op.value.as_deref().is_some_and(|s| s.starts_with("kill node")))
        .map(|op| (op.node, op.time_us))
        .collect();
    let crashed = |op: &Op| {
        let window = facts.crash_window_us();
        kills.iter().any(|&(node, t)| node == op.node && t >= op.time_us && t - op.time_us <= window)
    };
    registers(&ops, fin, &crashed, &mut v);
    sets(&ops, fin, &crashed, &mut v);
    counters(&ops, fin, &crashed, &mut v);
    whole_pairs(&ops, fin, &mut v);
    sessions(&ops, &mut v);
    durability(history, facts, &mut v);
    v.valid = v.anomalies.iter().all(|a| a.documented.is_some() && !strict);
    v
}

/// Every client operation as (invocation, completion); an operation never completed counts as
/// `info`.
fn completed(history: &[Op]) -> Vec<(Op, Op)> {
    pairs(history)
        .into_iter()
        .map(|(inv, done)| {
            let invoke = history[inv].clone();
            let done = done.map(|d| history[d].clone()).unwrap_or_else(|| {
                let mut open = invoke.clone();
                open.kind = Kind::Info;
                open
            });
            (invoke, done)
        })
        .collect()
}

/// Every node must hold the same data: the digests, and key by key.
fn convergence(fin: &FinalState, v: &mut Verdict) {
    if fin.nodes.is_empty() {
        return;
    }
    if fin.convergence_ms.is_none() {
        let digests: Vec<&str> = fin.nodes.iter().map(|n| n.digest.as_str()).collect();
        v.anomalies.push(anomaly(
            "not-converged",
            "*",
            format!("digests still differ {} ms after the heal: {digests:?}", fin.convergence_limit_ms),
            None,
        ));
    }
    // A deleted key and an absent one are the same data: tombstones are purged by each node on
    // its own schedule (and MESHKV.DIGEST leaves them out).
    let data = |r: Option<&Register>| r.and_then(|r| r.value.as_ref().map(|v| (v.clone(), r.stamp)));
    let first = &fin.nodes[0];
    for (i, node) in fin.nodes.iter().enumerate().skip(1) {
        for (key, reg) in &node.registers {
            if data(first.registers.get(key)) != data(Some(reg)) {
                let detail = format!("node 0 holds {:?}, node {i} holds {reg:?}", first.registers.get(key));
                v.anomalies.push(anomaly("divergence", key, detail, None));
            }
        }
        for (key, members) in &node.sets {
            if first.sets.get(key) != Some(members) {
                let detail = format!(
                    "node 0 and node {i} hold different members ({} vs {})",
                    first.sets.get(key).map_or(0, Vec::len),
                    members.len()
                );
                v.anomalies.push(anomaly("divergence", key, detail, None));
            }
        }
        for (key, n) in &node.counters {
            if first.counters.get(key) != Some(n) {
                let detail = format!("node 0 holds {:?}, node {i} holds {n}", first.counters.get(key));
                v.anomalies.push(anomaly("divergence", key, detail, None));
            }
        }
    }
}

/// What a register's final state must be: a value somebody wrote, with the stamp its write got,
/// and no acknowledged write or delete with a greater stamp.
fn registers(ops: &[(Op, Op)], fin: &FinalState, crashed: &dyn Fn(&Op) -> bool, v: &mut Verdict) {
    // Every value ever written, with how its write ended.
    let mut written: HashMap<&str, &Op> = HashMap::new();
    for (inv, done) in ops.iter().filter(|(i, _)| i.f == F::Write) {
        if let Some(value) = inv.value.as_deref() {
            written.insert(value, done);
        }
    }
    // Reads during the run, too, must return values somebody wrote (or nothing).
    for (_, done) in ops.iter().filter(|(i, d)| i.f == F::Read && d.kind == Kind::Ok) {
        v.stats.reads_checked += 1;
        if let Some(value) = done.value.as_deref() {
            if written.get(value).is_none_or(|w| w.kind == Kind::Fail) {
                let detail = format!("node {} read {value:?}, which no write that may have happened wrote", done.node);
                v.anomalies.push(anomaly("phantom-value", &done.key, detail, None));
            }
        }
    }
    // The acknowledged operation with the greatest stamp, per key.
    let mut latest: HashMap<&str, (&Op, &Op)> = HashMap::new();
    for (inv, done) in ops.iter().filter(|(i, d)| matches!(i.f, F::Write | F::Delete) && d.kind == Kind::Ok) {
        if done.stamp.is_some() && latest.get(done.key.as_str()).is_none_or(|l| l.1.stamp < done.stamp) {
            latest.insert(&done.key, (inv, done));
        }
    }
    // Deletes whose stamp is unknown (no reply, or none read after it) and the latest time each
    // may have taken effect: they may explain a key that is gone (its tombstone purged since).
    let mut unknown_deletes: HashMap<&str, u64> = HashMap::new();
    for (inv, done) in ops.iter().filter(|(i, d)| i.f == F::Delete && d.kind != Kind::Fail && d.stamp.is_none()) {
        let until = if done.kind == Kind::Ok { done.time_us } else { u64::MAX };
        let e = unknown_deletes.entry(inv.key.as_str()).or_insert(until);
        *e = (*e).max(until);
    }
    for (i, node) in fin.nodes.iter().enumerate() {
        for (key, reg) in &node.registers {
            if let Some(value) = reg.value.as_deref() {
                match written.get(value) {
                    None => {
                        let detail = format!("node {i} holds {value:?}, which nobody wrote");
                        v.anomalies.push(anomaly("phantom-value", key, detail, None));
                    }
                    Some(w) if w.kind == Kind::Fail => {
                        let detail = format!("node {i} holds {value:?}, whose write failed");
                        v.anomalies.push(anomaly("phantom-value", key, detail, None));
                    }
                    Some(w) if w.kind == Kind::Ok && w.stamp.is_some() && w.stamp != reg.stamp => {
                        let detail = format!(
                            "node {i} holds {value:?} with stamp {:?}, but its write got {:?}",
                            reg.stamp, w.stamp
                        );
                        v.anomalies.push(anomaly("phantom-value", key, detail, None));
                    }
                    _ => {}
                }
            }
            let Some(&(best_invoke, best)) = latest.get(key.as_str()) else { continue };
            if best.stamp <= reg.stamp {
                continue;
            }
            let gone = reg.value.is_none();
            if gone && unknown_deletes.get(key.as_str()).is_some_and(|&until| until > best_invoke.time_us) {
                continue; // a delete that may have come after explains it
            }
            match best.f {
                F::Write => {
                    let detail = format!(
                        "node {i} holds {:?} (stamp {:?}), but the write of {:?} on node {} was acknowledged with the greater stamp {:?}",
                        reg.value, reg.stamp, best.value, best.node, best.stamp
                    );
                    let documented = crashed(best).then_some(CRASH_LOSS);
                    v.anomalies.push(anomaly("lost-write", key, detail, documented));
                }
                _ if reg.value.is_some() => {
                    let detail = format!(
                        "node {i} holds {:?} (stamp {:?}), but a delete on node {} was acknowledged with the greater stamp {:?}",
                        reg.value, reg.stamp, best.node, best.stamp
                    );
                    let documented = crashed(best).then_some(CRASH_LOSS);
                    v.anomalies.push(anomaly("resurrection", key, detail, documented));
                }
                _ => {} // deleted either way; only the tombstone's stamp differs
            }
        }
    }
}

/// Sets: every acknowledged add is there (unless a `kill -9` took it before it was persisted or
/// shipped), and nothing that no add may have added.
fn sets(ops: &[(Op, Op)], fin: &FinalState, crashed: &dyn Fn(&Op) -> bool, v: &mut Verdict) {
    let adds: Vec<&(Op, Op)> = ops.iter().filter(|(i, _)| i.f == F::Add).collect();
    let Some(node) = fin.nodes.first() else { return };
    for (key, members) in &node.sets {
        let present: HashSet<&str> = members.iter().map(String::as_str).collect();
        let mut possible: HashSet<&str> = HashSet::new();
        let (mut acked, mut lost, mut all_crashed) = (0, Vec::new(), true);
        for (inv, done) in adds.iter().filter(|(i, _)| &i.key == key) {
            let member = inv.value.as_deref().unwrap_or("");
            if done.kind != Kind::Fail {
                possible.insert(member);
            }
            if done.kind == Kind::Ok {
                acked += 1;
                if !present.contains(member) {
                    lost.push(member);
                    all_crashed &= crashed(done);
                }
            }
        }
        v.stats.acked_adds += acked;
        v.stats.lost_adds += lost.len();
        if !lost.is_empty() {
            let detail =
                format!("{} of {acked} acknowledged adds missing, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
            v.anomalies.push(anomaly("lost-add", key, detail, all_crashed.then_some(CRASH_LOSS)));
        }
        let phantoms: Vec<&&str> = present.iter().filter(|m| !possible.contains(*m)).collect();
        if !phantoms.is_empty() {
            let detail =
                format!("{} members nobody added, e.g. {:?}", phantoms.len(), &phantoms[..phantoms.len().min(5)]);
            v.anomalies.push(anomaly("phantom-member", key, detail, None));
        }
    }
    // A set that is gone entirely while adds to it were acknowledged lost them all.
    let mut keys: Vec<&str> = adds.iter().map(|(i, _)| i.key.as_str()).collect();
    keys.sort();
    keys.dedup();
    for key in keys.into_iter().filter(|k| !node.sets.contains_key(*k)) {
        let acked: Vec<&Op> = adds.iter().filter(|(i, d)| i.key == key && d.kind == Kind::Ok).map(|(_, d)| d).collect();
        if !acked.is_empty() {
            v.stats.acked_adds += acked.len();
            v.stats.lost_adds += acked.len();
            let documented = acked.iter().all(|d| crashed(d)).then_some(CRASH_LOSS);
            let detail = format!("the set is gone: {} acknowledged adds lost", acked.len());
            v.anomalies.push(anomaly("lost-add", key, detail, documented));
        }
    }
}

/// Counters: the final value is at least what was acknowledged (less what a `kill -9` may have
/// taken before it was persisted or shipped) and at most what may have been added.
fn counters(ops: &[(Op, Op)], fin: &FinalState, crashed: &dyn Fn(&Op) -> bool, v: &mut Verdict) {
    let Some(node) = fin.nodes.first() else { return };
    // Per key: acknowledged, possible, and acknowledged shortly before a kill of its node.
    let mut sums: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for (inv, done) in ops.iter().filter(|(i, _)| i.f == F::Incr) {
        let amount: i64 = inv.value.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
        let e = sums.entry(inv.key.as_str()).or_default();
        if done.kind == Kind::Ok {
            e.0 += amount;
            if crashed(done) {
                e.2 += amount;
            }
        }
        if done.kind != Kind::Fail {
            e.1 += amount;
        }
    }
    for (key, (acked, possible, at_risk)) in sums {
        let value = node.counters.get(key).copied().unwrap_or(0);
        v.stats.acked_increments += acked;
        if value > possible {
            let detail =
                format!("holds {value}, more than the {possible} all increments that may have happened add up to");
            v.anomalies.push(anomaly("counter-too-high", key, detail, None));
        }
        if value < acked {
            v.stats.lost_increments += acked - value;
            let detail =
                format!("holds {value}, but increments adding up to {acked} were acknowledged: {} lost", acked - value);
            let documented = (acked - value <= at_risk).then_some(CRASH_LOSS);
            v.anomalies.push(anomaly("lost-increment", key, detail, documented));
        }
    }
}

/// One client session (a process, on one node, over one connection): a read never sees a state
/// older than the process's own acknowledged writes (read-your-writes) or than what it read before
/// (monotonic reads). A node's state of a key only moves to greater stamps, so a smaller stamp
/// is a step back in time.
fn sessions(ops: &[(Op, Op)], v: &mut Verdict) {
    // (process, key) -> the greatest state seen: its stamp, from a write (not a read)?, deleted?
    let mut seen: HashMap<(i64, &str), (Stamp, bool, bool)> = HashMap::new();
    for (inv, done) in ops {
        if done.kind != Kind::Ok || !matches!(inv.f, F::Write | F::Delete | F::Read) {
            continue;
        }
        let slot = (inv.process, inv.key.as_str());
        let got = done.stamp.unwrap_or(Stamp { hlc: 0, node: 0 });
        if inv.f == F::Read {
            if let Some(&(before, by_write, deleted)) = seen.get(&slot) {
                // A tombstone is purged after `repl-tombstone-ttl`: a deleted key may then read as
                // absent with no stamp at all, which is the same state.
                let purged = deleted && done.stamp.is_none() && done.value.is_none();
                if got < before && !purged {
                    let kind = if by_write { "read-your-writes" } else { "monotonic-reads" };
                    let detail = format!(
                        "process {} on node {} read stamp {:?} (value {:?}) after {} stamp {before:?}",
                        inv.process,
                        inv.node,
                        done.stamp,
                        done.value,
                        if by_write { "its own write with" } else { "reading" }
                    );
                    v.anomalies.push(anomaly(kind, &inv.key, detail, None));
                }
            }
        }
        if done.stamp.is_some() && seen.get(&slot).is_none_or(|&(s, _, _)| s < got) {
            let deleted = inv.f == F::Delete || done.deleted;
            seen.insert(slot, (got, inv.f != F::Read, deleted));
        }
    }
}

/// Pairs (the multi-key workload): one MSET writes both keys of a pair with one value, so a
/// command is all or nothing (README, MULTI/EXEC and Active-active replication: a peer merges a
/// command's or a transaction's writes together). A read that sees the two keys differ saw half
/// a command (`torn-read`); a node left holding them different after the heal kept half of one
/// (`torn-write`: a peer applied a group in parts, or a restart recovered part of a command);
/// every value read or left must be one that some MSET wrote (`phantom-value`).
fn whole_pairs(ops: &[(Op, Op)], fin: &FinalState, v: &mut Verdict) {
    let written: HashSet<(&str, &str)> = ops
        .iter()
        .filter(|(inv, done)| inv.f == F::PairWrite && done.kind != Kind::Fail)
        .filter_map(|(inv, _)| Some((inv.key.as_str(), inv.value.as_deref()?)))
        .collect();
    let check_value = |v: &mut Verdict, pair: &str, value: Option<&str>, seen: &str| {
        if let Some(value) = value {
            if !written.iter().any(|&(p, w)| p == pair && w == value) {
                v.anomalies.push(anomaly(
                    "phantom-value",
                    pair,
                    format!("{seen} {value:?}, which no MSET wrote"),
                    None,
                ));
            }
        }
    };
    for (inv, done) in ops {
        if inv.f != F::PairRead || done.kind != Kind::Ok {
            continue;
        }
        let (a, b) = crate::history::split_pair(done.value.as_deref().unwrap_or("nil|nil"));
        v.stats.pair_reads += 1;
        if a != b {
            let detail = format!("process {} on node {} read a={a:?} b={b:?}", inv.process, inv.node);
            v.anomalies.push(anomaly("torn-read", &inv.key, detail, None));
        }
        check_value(v, &inv.key, a, "a read saw");
        check_value(v, &inv.key, b, "a read saw");
    }
    for (i, node) in fin.nodes.iter().enumerate() {
        for (pair, (a, b)) in &node.pairs {
            if a != b {
                let detail = format!("node {i} holds a={a:?} b={b:?} after the heal");
                v.anomalies.push(anomaly("torn-write", pair, detail, None));
            }
            check_value(v, pair, a.as_deref(), &format!("node {i} holds"));
            check_value(v, pair, b.as_deref(), &format!("node {i} holds"));
        }
    }
}

/// Durability (FLASH tier, `appendfsync always`): a node killed while cut off from its peers and
/// restarted holds, for every register, at least the newest write it acknowledged before the kill.
fn durability(history: &[Op], facts: &RunFacts, v: &mut Verdict) {
    if !(facts.flash && facts.fsync_always) {
        return;
    }
    // (node, key) -> newest stamp acknowledged there so far.
    let mut acked: HashMap<(i64, &str), Stamp> = HashMap::new();
    let mut deleted_later: HashSet<&str> = HashSet::new();
    let mut at_kill: HashMap<(i64, &str), Stamp> = HashMap::new();
    for op in history {
        match (op.f, op.kind) {
            (F::Nemesis, _) if op.value.as_deref().is_some_and(|s| s.starts_with("kill")) => {
                for (&(node, key), &stamp) in acked.iter().filter(|((n, _), _)| *n == op.node) {
                    at_kill.insert((node, key), stamp);
                }
            }
            (F::Write, Kind::Ok) => {
                if let Some(s) = op.stamp {
                    let e = acked.entry((op.node, op.key.as_str())).or_insert(s);
                    *e = (*e).max(s);
                }
            }
            // A delete with an unknown or greater stamp may explain an absent key after a
            // restart (FLASH tier tombstones live in RAM only).
            (F::Delete, Kind::Ok | Kind::Info) => {
                deleted_later.insert(op.key.as_str());
            }
            (F::Probe, Kind::Ok) => {
                v.stats.probes += 1;
                let Some(&required) = at_kill.get(&(op.node, op.key.as_str())) else { continue };
                if op.stamp >= Some(required) || (op.stamp.is_none() && deleted_later.contains(op.key.as_str())) {
                    continue;
                }
                let detail = format!(
                    "node {} acknowledged a write with stamp {required:?} before its kill -9, and after the restart holds stamp {:?} (value {:?})",
                    op.node, op.stamp, op.value
                );
                v.anomalies.push(anomaly("durability", &op.key, detail, None));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small history builder: operations complete in the order given.
    struct H {
        ops: Vec<Op>,
    }

    fn st(hlc: u64) -> Option<Stamp> {
        Some(Stamp { hlc, node: 1 })
    }

    impl H {
        fn new() -> H {
            H { ops: Vec::new() }
        }

        fn push(&mut self, mut op: Op) {
            op.index = self.ops.len();
            self.ops.push(op);
        }

        /// An operation by `process` on `node`: invoke then completion.
        #[allow(clippy::too_many_arguments)]
        fn op(
            &mut self,
            process: i64,
            node: i64,
            f: F,
            kind: Kind,
            key: &str,
            value: Option<&str>,
            stamp: Option<Stamp>,
        ) -> &mut H {
            let mut inv = Op::new(Kind::Invoke, process, node, f, key);
            if f != F::Read {
                inv.value = value.map(str::to_string);
            }
            self.push(inv);
            let mut done = Op::new(kind, process, node, f, key);
            done.value = value.map(str::to_string);
            done.stamp = stamp;
            self.push(done);
            self
        }

        fn nemesis(&mut self, node: i64, what: &str) -> &mut H {
            let mut op = Op::new(Kind::Info, -1, node, F::Nemesis, "");
            op.value = Some(what.into());
            self.push(op);
            self
        }

        fn probe(&mut self, node: i64, key: &str, stamp: Option<Stamp>) -> &mut H {
            let mut op = Op::new(Kind::Ok, -1, node, F::Probe, key);
            op.stamp = stamp;
            self.push(op);
            self
        }
    }

    fn reg(value: Option<&str>, stamp: Option<Stamp>) -> Register {
        Register { value: value.map(str::to_string), stamp, deleted: value.is_none() && stamp.is_some() }
    }

    /// Two nodes holding the same state.
    fn agreed(node: NodeState) -> FinalState {
        FinalState { nodes: vec![node.clone(), node], convergence_ms: Some(120), convergence_limit_ms: 30_000 }
    }

    fn state(regs: &[(&str, Register)], sets: &[(&str, &[&str])], counters: &[(&str, i64)]) -> NodeState {
        NodeState {
            digest: "d".into(),
            registers: regs.iter().map(|(k, r)| (k.to_string(), r.clone())).collect(),
            sets: sets.iter().map(|(k, m)| (k.to_string(), m.iter().map(|s| s.to_string()).collect())).collect(),
            counters: counters.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            pairs: BTreeMap::new(),
            replication: BTreeMap::new(),
        }
    }

    fn kinds(v: &Verdict) -> Vec<&str> {
        v.anomalies.iter().map(|a| a.kind.as_str()).collect()
    }

    /// A clean history: concurrent writes, the later stamp wins; reads see own writes; every add
    /// and increment is there.
    fn clean() -> (H, FinalState) {
        let mut h = H::new();
        h.op(0, 0, F::Write, Kind::Ok, "r0", Some("0-1"), st(10))
            .op(1, 1, F::Write, Kind::Ok, "r0", Some("1-1"), st(12))
            .op(0, 0, F::Read, Kind::Ok, "r0", Some("0-1"), st(10))
            .op(0, 0, F::Read, Kind::Ok, "r0", Some("1-1"), st(12))
            .op(1, 1, F::Write, Kind::Info, "r1", Some("1-2"), None)
            .op(0, 0, F::Add, Kind::Ok, "s0", Some("0-2"), None)
            .op(1, 1, F::Add, Kind::Ok, "s0", Some("1-3"), None)
            .op(0, 0, F::Incr, Kind::Ok, "c0", Some("3"), None)
            .op(1, 1, F::Incr, Kind::Info, "c0", Some("4"), None);
        let fin = agreed(state(
            &[("r0", reg(Some("1-1"), st(12))), ("r1", reg(Some("1-2"), st(13)))],
            &[("s0", &["0-2", "1-3"])],
            &[("c0", 7)],
        ));
        (h, fin)
    }

    #[test]
    fn a_clean_history_passes_even_strictly() {
        let (h, fin) = clean();
        let v = check(&h.ops, &fin, &RunFacts::default(), true);
        assert!(v.valid, "{:?}", v.anomalies);
        assert!(v.anomalies.is_empty());
        assert_eq!(v.stats.acked_adds, 2);
        assert_eq!(v.stats.reads_checked, 2);
    }

    /// A history of two MSETs of pair p0 (one of unknown outcome) and reads of it.
    fn pair_history(read: &str) -> (H, FinalState) {
        let (mut h, mut fin) = clean();
        h.op(0, 0, F::PairWrite, Kind::Ok, "p0", Some("0-7"), None)
            .op(1, 1, F::PairWrite, Kind::Info, "p0", Some("1-7"), None)
            .op(1, 1, F::PairRead, Kind::Ok, "p0", Some(read), None);
        let both = (Some("1-7".to_string()), Some("1-7".to_string()));
        fin.nodes.iter_mut().for_each(|n| _ = n.pairs.insert("p0".into(), both.clone()));
        (h, fin)
    }

    #[test]
    fn pairs_read_and_left_whole_pass() {
        let (h, fin) = pair_history("0-7|0-7");
        let v = check(&h.ops, &fin, &RunFacts::default(), true);
        assert!(v.valid && v.anomalies.is_empty(), "{:?}", v.anomalies);
        assert_eq!(v.stats.pair_reads, 1);
        let (h, fin) = pair_history("nil|nil");
        assert!(check(&h.ops, &fin, &RunFacts::default(), true).valid);
    }

    #[test]
    fn half_a_command_read_or_left_fails() {
        let (h, fin) = pair_history("0-7|1-7");
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!((kinds(&v), v.valid), (vec!["torn-read"], false));
        let (h, fin) = pair_history("0-7|nil");
        assert_eq!(kinds(&check(&h.ops, &fin, &RunFacts::default(), false)), ["torn-read"]);
        let (h, mut fin) = pair_history("0-7|0-7");
        fin.nodes[1].pairs.insert("p0".into(), (Some("1-7".into()), Some("0-7".into())));
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!((kinds(&v), v.valid), (vec!["torn-write"], false));
    }

    #[test]
    fn a_pair_value_nobody_wrote_fails() {
        let (h, fin) = pair_history("9-9|9-9");
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!((kinds(&v), v.valid), (vec!["phantom-value", "phantom-value"], false));
    }

    #[test]
    fn a_lost_add_fails() {
        let (h, mut fin) = clean();
        for n in &mut fin.nodes {
            n.sets.insert("s0".into(), vec!["1-3".into()]);
        }
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert!(!v.valid);
        assert_eq!(kinds(&v), ["lost-add"]);
        assert_eq!(v.stats.lost_adds, 1);
        assert!(v.anomalies[0].documented.is_none());
    }

    #[test]
    fn lost_increments_fail_and_so_do_too_many() {
        let (h, mut fin) = clean();
        fin.nodes.iter_mut().for_each(|n| _ = n.counters.insert("c0".into(), 0));
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!((kinds(&v), v.stats.lost_increments, v.valid), (vec!["lost-increment"], 3, false));
        fin.nodes.iter_mut().for_each(|n| _ = n.counters.insert("c0".into(), 8));
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!((kinds(&v), v.valid), (vec!["counter-too-high"], false));
    }

    #[test]
    fn a_value_nobody_wrote_fails() {
        let (h, mut fin) = clean();
        fin.nodes.iter_mut().for_each(|n| _ = n.registers.insert("r0".into(), reg(Some("9-9"), st(20))));
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert!(!v.valid);
        assert_eq!(kinds(&v), ["phantom-value", "phantom-value"]); // once per node
                                                                   // A member nobody added, too.
        let (h, mut fin) = clean();
        fin.nodes.iter_mut().for_each(|n| n.sets.get_mut("s0").unwrap().push("7-7".into()));
        assert_eq!(kinds(&check(&h.ops, &fin, &RunFacts::default(), false)), ["phantom-member"]);
    }

    #[test]
    fn a_read_of_a_value_whose_write_failed_fails() {
        let (mut h, fin) = clean();
        h.op(2, 1, F::Write, Kind::Fail, "r2", Some("2-1"), None).op(
            2,
            1,
            F::Read,
            Kind::Ok,
            "r2",
            Some("2-1"),
            st(30),
        );
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!(kinds(&v), ["phantom-value"]);
    }

    #[test]
    fn the_acknowledged_write_with_the_greatest_stamp_must_win() {
        let (h, mut fin) = clean();
        fin.nodes.iter_mut().for_each(|n| _ = n.registers.insert("r0".into(), reg(Some("0-1"), st(10))));
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!(kinds(&v), ["lost-write", "lost-write"]);
        assert!(!v.valid);
    }

    #[test]
    fn a_write_lost_by_a_kill_right_after_it_is_documented_only_where_the_tier_allows() {
        let (mut h, mut fin) = clean();
        h.op(1, 1, F::Write, Kind::Ok, "r0", Some("1-5"), st(20));
        h.ops.last_mut().unwrap().time_us = 1_000_000;
        h.nemesis(1, "kill node 1");
        h.ops.last_mut().unwrap().time_us = 2_000_000;
        fin.nodes.iter_mut().for_each(|n| _ = n.registers.insert("r0".into(), reg(Some("1-1"), st(12))));
        let ram = RunFacts { restarted: true, ..RunFacts::default() };
        let v = check(&h.ops, &fin, &ram, false);
        assert_eq!(kinds(&v), ["lost-write", "lost-write"]);
        assert!(v.valid, "a RAM node loses its writes after the last snapshot: {:?}", v.anomalies);
        let always = RunFacts { flash: true, fsync_always: true, restarted: true };
        assert!(!check(&h.ops, &fin, &always, false).valid);
        // A kill long after the write does not explain its loss.
        h.ops.last_mut().unwrap().time_us = 9_000_000;
        assert!(!check(&h.ops, &fin, &ram, false).valid);
    }

    #[test]
    fn an_add_or_increment_lost_by_a_kill_right_after_it_is_documented_in_ram_mode() {
        let (mut h, mut fin) = clean();
        h.op(1, 1, F::Add, Kind::Ok, "s0", Some("1-9"), None);
        h.ops.last_mut().unwrap().time_us = 1_000_000;
        h.op(1, 1, F::Incr, Kind::Ok, "c0", Some("5"), None);
        h.ops.last_mut().unwrap().time_us = 1_000_000;
        h.nemesis(1, "kill node 1");
        h.ops.last_mut().unwrap().time_us = 2_000_000;
        let ram = RunFacts { restarted: true, ..RunFacts::default() };
        let v = check(&h.ops, &fin, &ram, false);
        assert_eq!(kinds(&v), ["lost-add", "lost-increment"]);
        assert!(v.valid, "{:?}", v.anomalies);
        let always = RunFacts { flash: true, fsync_always: true, restarted: true };
        assert!(!check(&h.ops, &fin, &always, false).valid);
        // More lost than the increments the kill can explain (5 of the 8 acknowledged) fails.
        fin.nodes.iter_mut().for_each(|n| _ = n.counters.insert("c0".into(), 2));
        let v = check(&h.ops, &fin, &ram, false);
        assert!(!v.valid, "{:?}", v.anomalies);
    }

    #[test]
    fn a_key_gone_after_a_delete_with_no_reply_is_no_lost_write() {
        let (mut h, mut fin) = clean();
        h.op(0, 0, F::Write, Kind::Ok, "d0-1", Some("0-50"), st(50));
        h.op(6, 0, F::Delete, Kind::Info, "d0-1", None, None);
        fin.nodes.iter_mut().for_each(|n| _ = n.registers.insert("d0-1".into(), reg(None, None)));
        assert!(check(&h.ops, &fin, &RunFacts::default(), true).valid);
        // Without that delete, the write is lost.
        let (mut h, _) = clean();
        h.op(0, 0, F::Write, Kind::Ok, "d0-1", Some("0-50"), st(50));
        assert!(kinds(&check(&h.ops, &fin, &RunFacts::default(), true)).contains(&"lost-write"));
    }

    #[test]
    fn a_resurrected_delete_fails() {
        let (mut h, mut fin) = clean();
        h.op(1, 1, F::Delete, Kind::Ok, "r0", None, st(15));
        // Still the value of the write with stamp 12.
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!(kinds(&v), ["resurrection", "resurrection"]);
        assert!(!v.valid);
        // On the FLASH tier after a restart too: tombstones are kept on flash (it was documented
        // as a loss while they lived in RAM only).
        let facts = RunFacts { flash: true, restarted: true, ..RunFacts::default() };
        let v = check(&h.ops, &fin, &facts, false);
        assert!(!v.valid && v.anomalies.iter().all(|a| a.documented.is_none()));
        // Deleted everywhere: fine.
        fin.nodes.iter_mut().for_each(|n| _ = n.registers.insert("r0".into(), reg(None, st(15))));
        assert!(check(&h.ops, &fin, &RunFacts::default(), true).valid);
    }

    #[test]
    fn a_purged_tombstone_is_no_divergence() {
        let (h, mut fin) = clean();
        fin.nodes[0].registers.insert("r5".into(), reg(None, st(30)));
        fin.nodes[1].registers.insert("r5".into(), reg(None, None));
        assert!(check(&h.ops, &fin, &RunFacts::default(), true).anomalies.is_empty());
    }

    #[test]
    fn divergent_nodes_fail() {
        let (h, mut fin) = clean();
        fin.nodes[1].registers.insert("r1".into(), reg(None, st(14)));
        fin.nodes[1].digest = "other".into();
        fin.convergence_ms = None;
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert_eq!(kinds(&v), ["not-converged", "divergence"]);
        assert!(!v.valid);
    }

    #[test]
    fn a_node_left_behind_in_a_chain_after_full_syncs_fails() {
        let (h, mut fin) = clean();
        fin.nodes[1].registers.insert("r0".into(), reg(Some("0-1"), st(10)));
        fin.nodes[1].digest = "other".into();
        fin.convergence_ms = None;
        fin.nodes[0].replication.insert("sync_full".into(), 2);
        let chain = RunFacts { restarted: true, flash: true, ..RunFacts::default() };
        let v = check(&h.ops, &fin, &chain, false);
        assert_eq!(kinds(&v), ["not-converged", "divergence", "lost-write"]);
        assert!(!v.valid, "the chain case is fixed: it is a failure now");
    }

    #[test]
    fn a_stale_read_after_a_write_on_the_same_node_fails() {
        let (mut h, fin) = clean();
        h.op(0, 0, F::Write, Kind::Ok, "r3", Some("0-9"), st(40)).op(
            0,
            0,
            F::Read,
            Kind::Ok,
            "r3",
            Some("1-9"),
            st(35),
        );
        let v = check(&h.ops, &fin, &RunFacts::default(), false);
        assert!(kinds(&v).contains(&"read-your-writes"), "{:?}", v.anomalies);
        // The same read by another process is no session anomaly.
        let (mut h, fin) = clean();
        h.op(0, 0, F::Write, Kind::Ok, "r3", Some("0-9"), st(40)).op(
            5,
            0,
            F::Read,
            Kind::Ok,
            "r3",
            Some("1-9"),
            st(35),
        );
        assert!(!kinds(&check(&h.ops, &fin, &RunFacts::default(), false)).contains(&"read-your-writes"));
    }

    #[test]
    fn a_purged_tombstone_is_no_step_back() {
        let (mut h, fin) = clean();
        h.op(0, 0, F::Delete, Kind::Ok, "r0", None, st(50)).op(0, 0, F::Read, Kind::Ok, "r0", None, None);
        assert!(check(&h.ops, &fin, &RunFacts::default(), false)
            .anomalies
            .iter()
            .all(|a| a.kind != "read-your-writes"));
        // But a value that vanishes with its stamp is.
        let (mut h, fin) = clean();
        h.op(0, 0, F::Write, Kind::Ok, "r4", Some("0-7"), st(50)).op(0, 0, F::Read, Kind::Ok, "r4", None, None);
        assert!(kinds(&check(&h.ops, &fin, &RunFacts::default(), false)).contains(&"read-your-writes"));
    }

    #[test]
    fn a_read_going_back_in_time_fails() {
        let (mut h, fin) = clean();
        h.op(3, 1, F::Read, Kind::Ok, "r0", Some("1-1"), st(12)).op(3, 1, F::Read, Kind::Ok, "r0", Some("0-1"), st(10));
        assert!(kinds(&check(&h.ops, &fin, &RunFacts::default(), false)).contains(&"monotonic-reads"));
    }

    #[test]
    fn an_acknowledged_write_missing_after_kill_fails_with_fsync_always() {
        let facts = RunFacts { flash: true, fsync_always: true, restarted: true };
        let (mut h, fin) = clean();
        h.nemesis(1, "kill node 1").probe(1, "r0", st(10));
        let v = check(&h.ops, &fin, &facts, false);
        assert_eq!(kinds(&v), ["durability"]);
        assert_eq!(v.stats.probes, 1);
        // Holding the write (or a newer state) passes.
        let (mut h, fin) = clean();
        h.nemesis(1, "kill node 1").probe(1, "r0", st(12));
        assert!(check(&h.ops, &fin, &facts, true).valid);
        // With appendfsync everysec it is not checked.
        let (mut h, fin) = clean();
        h.nemesis(1, "kill node 1").probe(1, "r0", st(10));
        assert!(check(&h.ops, &fin, &RunFacts { fsync_always: false, ..facts }, true).valid);
    }
}
