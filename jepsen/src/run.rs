//! One test run, start to verdict: network, cluster, clients and nemesis for the set time, heal,
//! quiet, convergence, the final state of every node, the checkers, the report.
//!
//! Everything it starts is stopped and removed on every way out: the cluster and the network are
//! owned by guards whose `Drop` kills the processes and deletes the namespaces, and an interrupt
//! (Ctrl-C, SIGTERM: see [`crate::interrupt`]) ends the schedule early, still healing, writing
//! what was recorded and cleaning up.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::checker::{check, FinalState, NodeState, RunFacts, Verdict};
use crate::cluster::{addr, Cluster, ClusterConfig, Tier, Topology};
use crate::history::Recorder;
use crate::nemesis::{schedule, Nemesis, Planned, Window};
use crate::net::Net;
use crate::resp::{Conn, Reply};
use crate::workload::{
    counter_key, pair_keys, pair_name, read_register, register_key, set_key, Client, Workload, DELETE_PREFIX,
};
use crate::{interrupted, report};

/// What to run.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub nodes: usize,
    pub time: Duration,
    pub nemesis: Vec<String>,
    pub tier: Tier,
    pub topology: Topology,
    pub seed: u64,
    pub server_bin: PathBuf,
    pub proxy_bin: Option<PathBuf>,
    /// The report folder (created).
    pub out: PathBuf,
    pub clients_per_node: usize,
    pub interval: Duration,
    pub strict: bool,
    pub converge_timeout: Duration,
    pub server_threads: usize,
    /// The node's `max-clock-drift`, in ms (the server's default).
    pub drift_ms: i64,
}

/// A run that could not be carried out (not a finding about the system).
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

impl From<crate::cluster::ClusterError> for RunError {
    fn from(e: crate::cluster::ClusterError) -> Self {
        RunError(e.0)
    }
}

impl From<crate::net::NetError> for RunError {
    fn from(e: crate::net::NetError) -> Self {
        RunError(e.0)
    }
}

/// Deletes the network when the run ends, however it ends.
struct NetGuard(Net);

impl Drop for NetGuard {
    fn drop(&mut self) {
        self.0.teardown();
    }
}

/// Sizes of the workload; the registers are few and hot so concurrent writes collide.
pub const REGISTERS: usize = 5;
const SETS: usize = 2;
const COUNTERS: usize = 2;
/// Pairs of keys written together (the multi-key workload): few, so concurrent MSETs collide.
const PAIRS: usize = 2;
/// The INFO replication counters kept in the final state.
const REPLICATION_COUNTERS: &[&str] = &[
    "sync_full",
    "sync_partial_ok",
    "repl_changes_applied",
    "repl_changes_stale",
    "repl_clock_drift_refused",
    "repl_followers_dropped",
];
/// The backlog every node keeps: small, so that a node cut off for a few seconds under the
/// backlog fault needs a full sync.
const BACKLOG: &str = "1mb";
const BACKLOG_BYTES: usize = 1536 * 1024;

/// Runs the test; returns the verdict (also written to the report folder).
pub fn run(opts: &Options) -> Result<Verdict, RunError> {
    std::fs::create_dir_all(&opts.out).map_err(|e| RunError(format!("{}: {e}", opts.out.display())))?;
    // The nodes run with their own working directory in mind: give them absolute paths.
    let opts = &Options {
        out: std::fs::canonicalize(&opts.out).map_err(|e| RunError(format!("{}: {e}", opts.out.display())))?,
        ..opts.clone()
    };
    let links: Vec<(usize, usize)> =
        (0..opts.nodes).flat_map(|i| opts.topology.peers(i, opts.nodes).into_iter().map(move |j| (i, j))).collect();
    let plan = schedule(&opts.nemesis, opts.nodes, &links, opts.time, opts.drift_ms, opts.seed);
    // A combination may add latency or a clock offset to its partition: it needs what they need.
    let wants = |k: &str| opts.nemesis.iter().any(|n| n == k || (n == "combined" && (k == "latency" || k == "clock")));
    let config = ClusterConfig {
        nodes: opts.nodes,
        tier: opts.tier,
        topology: opts.topology,
        server_bin: opts.server_bin.clone(),
        proxy_bin: opts.proxy_bin.clone().filter(|_| wants("latency")),
        faketime: wants("clock"),
        dir: opts.out.join("nodes"),
        repl_timeout_s: 2,
        backlog: BACKLOG.into(),
        server_threads: opts.server_threads,
    };
    if wants("latency") && config.proxy_bin.is_none() {
        return Err(RunError("the latency nemesis needs --proxy-bin (meshkv-latency-proxy)".into()));
    }
    if config.faketime && !std::path::Path::new(crate::cluster::FAKETIME_LIB).exists() {
        return Err(RunError(format!(
            "the clock nemesis needs libfaketime ({}; apt-get install faketime)",
            crate::cluster::FAKETIME_LIB
        )));
    }
    let net = NetGuard(Net::create(opts.nodes)?);
    let mut cluster = Cluster::start(config)?;
    net.0.self_check(addr)?;
    wait_linked(&cluster, Duration::from_secs(30))?;

    let recorder = Recorder::new();
    let workload = Workload {
        registers: REGISTERS,
        sets: SETS,
        counters: COUNTERS,
        pairs: PAIRS,
        interval: opts.interval,
        timeout: Duration::from_secs(1),
    };
    let clients_stop = AtomicBool::new(false);
    let threads = opts.nodes * opts.clients_per_node;
    let mut nemesis = Nemesis {
        cluster: &mut cluster,
        net: &net.0,
        recorder: &recorder,
        backlog_bytes: BACKLOG_BYTES,
        registers: REGISTERS,
        windows: Vec::new(),
        restarted: false,
    };
    let started = Instant::now();
    let nemesis_result = std::thread::scope(|s| {
        for t in 0..threads {
            let client = Client {
                thread: t,
                threads,
                node: t % opts.nodes,
                workload: &workload,
                recorder: &recorder,
                stop: &clients_stop,
                seed: opts.seed,
            };
            s.spawn(move || client.run());
        }
        let result = run_schedule(&mut nemesis, &plan, started, opts.time);
        // Heal and stop the clients: the convergence time is then measured from the heal.
        let healed = nemesis.heal_all();
        clients_stop.store(true, Ordering::Relaxed);
        result.and(healed.map_err(RunError::from))
    });
    let windows: Vec<Window> = std::mem::take(&mut nemesis.windows);
    let facts = RunFacts {
        flash: opts.tier != Tier::Ram,
        fsync_always: opts.tier == Tier::FlashAlways,
        restarted: nemesis.restarted,
    };
    let history = recorder.snapshot();
    if let Err(e) = nemesis_result {
        report::write_partial(&opts.out, &history, &format!("nemesis failed: {e}"))?;
        return Err(e);
    }
    if interrupted() {
        report::write_partial(&opts.out, &history, "interrupted")?;
        return Err(RunError("interrupted".into()));
    }
    // Every register-like key the history touched: the hot registers and the delete workload's.
    let mut keys: Vec<String> = (0..REGISTERS).map(register_key).collect();
    keys.extend(
        history
            .iter()
            .filter(|op| op.kind == crate::history::Kind::Invoke && op.key.starts_with(DELETE_PREFIX))
            .map(|op| op.key.clone()),
    );
    keys.sort();
    keys.dedup();
    let fin = final_state(&cluster, opts.converge_timeout, &keys);
    if interrupted() {
        report::write_partial(&opts.out, &history, "interrupted while waiting for convergence")?;
        return Err(RunError("interrupted".into()));
    }
    let verdict = check(&history, &fin, &facts, opts.strict);
    report::write(&opts.out, opts, &plan, &windows, &history, &fin, &facts, &verdict)?;
    Ok(verdict)
}

/// Checks a finished run's report folder again (its `history.jsonl`, `final.json` and
/// `options.json`) with today's checkers; writes `verdict-recheck.json` there.
pub fn recheck(dir: &std::path::Path, strict: bool) -> Result<Verdict, RunError> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| RunError(format!("{}: {e}", dir.join(name).display())))
    };
    let history = crate::history::read_jsonl(&dir.join("history.jsonl"))
        .map_err(|e| RunError(format!("{}: {e}", dir.join("history.jsonl").display())))?;
    let fin: FinalState =
        serde_json::from_str(&read("final.json")?).map_err(|e| RunError(format!("final.json: {e}")))?;
    let options: serde_json::Value =
        serde_json::from_str(&read("options.json")?).map_err(|e| RunError(format!("options.json: {e}")))?;
    let tier = options["tier"].as_str().unwrap_or("ram");
    let facts = RunFacts {
        flash: tier != "ram",
        fsync_always: tier == "flash-always",
        restarted: history
            .iter()
            .any(|op| op.f == crate::history::F::Nemesis && op.value.as_deref().is_some_and(|v| v.starts_with("kill"))),
    };
    let verdict = check(&history, &fin, &facts, strict);
    let text = serde_json::to_string_pretty(&verdict).map_err(|e| RunError(e.to_string()))?;
    std::fs::write(dir.join("verdict-recheck.json"), text + "\n").map_err(|e| RunError(e.to_string()))?;
    Ok(verdict)
}

/// Runs the planned faults at their times, then waits out the run's time.
fn run_schedule(nemesis: &mut Nemesis, plan: &[Planned], started: Instant, total: Duration) -> Result<(), RunError> {
    for planned in plan {
        while started.elapsed() < planned.start {
            if interrupted() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        nemesis.run(planned, &interrupted)?;
    }
    while started.elapsed() < total && !interrupted() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Waits until every node's links work: a marker written on each node is read on every node.
fn wait_linked(cluster: &Cluster, timeout: Duration) -> Result<(), RunError> {
    let n = cluster.len();
    for i in 0..n {
        let mut c = connect(i)?;
        c.call(&["SET", &format!("ready{i}"), "1"]).map_err(|e| RunError(format!("node {i}: {e}")))?;
    }
    let deadline = Instant::now() + timeout;
    for i in 0..n {
        let mut c = connect(i)?;
        loop {
            let all = (0..n).all(|j| matches!(c.call(&["EXISTS", &format!("ready{j}")]), Ok(Reply::Int(1))));
            if all {
                break;
            }
            if Instant::now() > deadline || interrupted() {
                return Err(RunError(format!(
                    "node {i} did not receive every node's first write within {timeout:?}: links down?"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

fn connect(i: usize) -> Result<Conn, RunError> {
    Conn::connect(addr(i), Duration::from_secs(5)).map_err(|e| RunError(format!("node {i}: {e}")))
}

/// Waits until every node's `MESHKV.DIGEST` is the same (up to `limit`), then reads every key of
/// the workload on every node.
pub fn final_state(cluster: &Cluster, limit: Duration, registers: &[String]) -> FinalState {
    let start = Instant::now();
    let mut convergence_ms = None;
    let mut digests = vec![String::new(); cluster.len()];
    while start.elapsed() < limit && !interrupted() {
        for (i, d) in digests.iter_mut().enumerate() {
            *d = Conn::connect(addr(i), Duration::from_secs(2))
                .and_then(|mut c| c.call(&["MESHKV.DIGEST"]))
                .map(|r| r.text().unwrap_or_else(|| format!("{r:?}")))
                .unwrap_or_else(|e| format!("error: {e}"));
        }
        if digests.iter().all(|d| d == &digests[0] && !d.starts_with("error")) {
            convergence_ms = Some(start.elapsed().as_millis() as u64);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let nodes = (0..cluster.len()).map(|i| node_state(i, digests[i].clone(), registers)).collect();
    FinalState { nodes, convergence_ms, convergence_limit_ms: limit.as_millis() as u64 }
}

fn node_state(i: usize, digest: String, registers: &[String]) -> NodeState {
    let mut state = NodeState { digest, ..NodeState::default() };
    let Ok(mut c) = Conn::connect(addr(i), Duration::from_secs(5)) else { return state };
    for key in registers {
        if let Ok((value, stamp, deleted)) = read_register(&mut c, key) {
            state.registers.insert(key.clone(), crate::checker::Register { value, stamp, deleted });
        }
    }
    for key in (0..SETS).map(set_key) {
        if let Ok(Reply::Array(items)) = c.call(&["SMEMBERS", &key]) {
            let mut members: Vec<String> = items.iter().filter_map(Reply::text).collect();
            members.sort();
            if !members.is_empty() {
                state.sets.insert(key, members);
            }
        }
    }
    for name in (0..PAIRS).map(pair_name) {
        let [a, b] = pair_keys(&name);
        if let Ok(Reply::Array(items)) = c.call(&["MGET", &a, &b]) {
            if let [a, b] = &items[..] {
                state.pairs.insert(name, (a.text(), b.text()));
            }
        }
    }
    if let Ok(info) = c.call(&["INFO", "replication"]) {
        for line in info.text().unwrap_or_default().lines() {
            if let Some((name, value)) = line.trim().split_once(':') {
                if REPLICATION_COUNTERS.contains(&name) {
                    state.replication.insert(name.to_string(), value.parse().unwrap_or(-1));
                }
            }
        }
    }
    for key in (0..COUNTERS).map(counter_key) {
        if let Ok(reply) = c.call(&["GET", &key]) {
            if let Some(n) = reply.int() {
                state.counters.insert(key, n);
            }
        }
    }
    state
}
