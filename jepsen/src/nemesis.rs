//! The nemesis: the faults, a seeded schedule of them, and applying and healing each.
//!
//! A schedule is a list of faults, each with a start and a duration, separated by quiet gaps in
//! which everything is healed. Kinds are drawn round-robin from a shuffled list, so a schedule
//! long enough for as many faults as there are kinds has every kind at least once.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::cluster::{addr, Cluster, ClusterError, State, Tier};
use crate::history::{Kind, Op, Recorder, F};
use crate::net::Net;
use crate::resp::Conn;
use crate::workload::{read_register, register_key};

/// Every kind of fault, by the name `--nemesis` takes.
pub const KINDS: &[&str] =
    &["isolate", "halves", "bridge", "ring", "kill", "pause", "clock", "latency", "backlog", "combined"];

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Fault {
    /// Cut these pairs of nodes from each other (isolate, halves, bridge, ring).
    Partition { name: String, cut: Vec<(usize, usize)> },
    /// `kill -9` a node, restart it after a while. On the FLASH tier with `appendfsync always` the
    /// node is cut off first and read right after its restart (the durability probe).
    Kill { node: usize },
    /// SIGSTOP for longer than `repl-timeout`, then SIGCONT.
    Pause { node: usize },
    /// Move a node's clock; with `restart`, also kill and restart it while its clock is ahead.
    Clock { node: usize, offset_ms: i64, restart: bool },
    /// Delay these links (puller, peer).
    Latency { links: Vec<(usize, usize)>, delay_ms: u64, jitter_ms: u64 },
    /// Cut a node off while the others take more writes than the backlog holds, so it needs a
    /// full sync when it comes back.
    Backlog { node: usize },
    /// Several faults at once (`combined`): applied in order, healed in reverse order. The
    /// planner combines a partition with a fault of one node (kill, pause, clock or latency),
    /// on either side of it.
    Combined { faults: Vec<Fault> },
}

/// A fault in the schedule.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub start: Duration,
    pub duration: Duration,
    pub fault: Fault,
}

/// A fault as it happened, for the report's plots.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub start_us: u64,
    pub end_us: u64,
    pub label: String,
}

/// The faults of a run of `total` with `kinds` on `n` nodes whose replication links (puller, peer)
/// are `links`.
pub fn schedule(
    kinds: &[String],
    n: usize,
    links: &[(usize, usize)],
    total: Duration,
    drift_ms: i64,
    seed: u64,
) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<&str> = KINDS.iter().copied().filter(|k| kinds.iter().any(|x| x == k)).collect();
    // A ring needs a node that is not a neighbour of another: four nodes at least.
    if n < 4 {
        order.retain(|k| *k != "ring");
    }
    let mut plan = Vec::new();
    if order.is_empty() {
        return plan;
    }
    order.shuffle(&mut rng);
    let mut t = Duration::from_secs(3);
    let mut round = 0usize;
    loop {
        let kind = order[round % order.len()];
        if round > 0 && round.is_multiple_of(order.len()) {
            order.shuffle(&mut rng);
        }
        round += 1;
        let (fault, duration) = if kind == "combined" {
            // A partition, and a fault of one node while it lasts: the partition's duration.
            let sides = ["isolate", "halves", "bridge"];
            let (partition, duration) =
                one_fault(sides[rng.random_range(0..sides.len())], n, links, drift_ms, &mut rng);
            let others = ["kill", "pause", "clock", "latency"];
            let (mut other, _) = one_fault(others[rng.random_range(0..others.len())], n, links, drift_ms, &mut rng);
            if let Fault::Clock { restart, .. } = &mut other {
                *restart = false; // a kill while ahead is the clock fault's own; here the partition matters
            }
            (Fault::Combined { faults: vec![partition, other] }, duration)
        } else {
            one_fault(kind, n, links, drift_ms, &mut rng)
        };
        if t + duration > total {
            break;
        }
        plan.push(Planned { start: t, duration, fault });
        t += duration + secs(&mut rng, 2, 4);
    }
    plan
}

fn secs(rng: &mut StdRng, lo: u64, hi: u64) -> Duration {
    Duration::from_millis(rng.random_range(lo * 1000..=hi * 1000))
}

/// One fault of `kind` (not `combined`) and how long it lasts.
fn one_fault(kind: &str, n: usize, links: &[(usize, usize)], drift_ms: i64, rng: &mut StdRng) -> (Fault, Duration) {
    let node = rng.random_range(0..n);
    let mut nodes: Vec<usize> = (0..n).collect();
    nodes.shuffle(rng);
    match kind {
        "isolate" => {
            (partition("isolate", &[node], &(0..n).filter(|&j| j != node).collect::<Vec<_>>()), secs(rng, 4, 8))
        }
        "halves" => {
            let (a, b) = nodes.split_at(n / 2);
            (partition("halves", a, b), secs(rng, 4, 8))
        }
        "bridge" => {
            // Two sides that share the middle node: it sees everyone, the sides not each other.
            let mid = n / 2;
            (partition("bridge", &nodes[..mid], &nodes[mid + 1..]), secs(rng, 4, 8))
        }
        "ring" => {
            let adjacent = |a: usize, b: usize| {
                let (pa, pb) =
                    (nodes.iter().position(|&x| x == a).unwrap(), nodes.iter().position(|&x| x == b).unwrap());
                (pa + 1) % n == pb || (pb + 1) % n == pa
            };
            let cut = (0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b))).filter(|&(a, b)| !adjacent(a, b)).collect();
            (Fault::Partition { name: "ring".into(), cut }, secs(rng, 4, 8))
        }
        "kill" => (Fault::Kill { node }, secs(rng, 1, 3)),
        "pause" => (Fault::Pause { node }, secs(rng, 4, 6)),
        "clock" => {
            let offset_ms = match rng.random_range(0..4) {
                0 => rng.random_range(drift_ms / 4..drift_ms * 3 / 4),
                1 => -rng.random_range(drift_ms / 4..drift_ms * 3 / 4),
                _ => drift_ms + rng.random_range(1000..3000),
            };
            let restart = offset_ms > 0 && rng.random_bool(0.4);
            (Fault::Clock { node, offset_ms, restart }, secs(rng, 5, 8))
        }
        "latency" => {
            let mut chosen: Vec<(usize, usize)> = links.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
            if chosen.is_empty() && !links.is_empty() {
                chosen.push(links[rng.random_range(0..links.len())]); // so that the fault does something
            }
            let fault = Fault::Latency {
                links: chosen,
                delay_ms: rng.random_range(50..=150),
                jitter_ms: rng.random_range(0..=20),
            };
            (fault, secs(rng, 5, 8))
        }
        "backlog" => (Fault::Backlog { node }, secs(rng, 5, 7)),
        _ => unreachable!("filtered above"),
    }
}

fn partition(name: &str, a: &[usize], b: &[usize]) -> Fault {
    let cut = a.iter().flat_map(|&x| b.iter().map(move |&y| (x.min(y), x.max(y)))).collect();
    Fault::Partition { name: name.into(), cut }
}

impl Fault {
    /// The `--nemesis` name of this fault's kind.
    pub fn kind(&self) -> &str {
        match self {
            Fault::Partition { name, .. } => name,
            Fault::Kill { .. } => "kill",
            Fault::Pause { .. } => "pause",
            Fault::Clock { .. } => "clock",
            Fault::Latency { .. } => "latency",
            Fault::Backlog { .. } => "backlog",
            Fault::Combined { .. } => "combined",
        }
    }

    /// The one node this fault is about, if it is about one (a combination: its node fault's).
    pub fn node(&self) -> Option<usize> {
        match self {
            Fault::Kill { node } | Fault::Pause { node } | Fault::Clock { node, .. } | Fault::Backlog { node } => {
                Some(*node)
            }
            Fault::Combined { faults } => faults.iter().find_map(Fault::node),
            Fault::Partition { .. } | Fault::Latency { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Fault::Partition { name, cut } => format!("partition {name}: cut {cut:?}"),
            Fault::Kill { node } => format!("kill -9 node {node}"),
            Fault::Pause { node } => format!("SIGSTOP node {node}"),
            Fault::Clock { node, offset_ms, restart } => {
                format!("clock of node {node} {offset_ms:+} ms{}", if *restart { ", restart while ahead" } else { "" })
            }
            Fault::Latency { links, delay_ms, jitter_ms } => {
                format!("latency {delay_ms}+{jitter_ms} ms on links {links:?}")
            }
            Fault::Backlog { node } => format!("cut node {node} off until it falls off the backlog"),
            Fault::Combined { faults } => {
                let parts: Vec<String> = faults.iter().map(Fault::describe).collect();
                format!("at once: {}", parts.join(" + "))
            }
        }
    }
}

/// Applies faults to a cluster and heals them, recording each step in the history.
pub struct Nemesis<'a> {
    pub cluster: &'a mut Cluster,
    pub net: &'a Net,
    pub recorder: &'a Recorder,
    /// Bytes to write beyond the backlog for a backlog fault.
    pub backlog_bytes: usize,
    /// How many registers the durability probe reads.
    pub registers: usize,
    pub windows: Vec<Window>,
    /// Some node was killed or restarted.
    pub restarted: bool,
}

impl Nemesis<'_> {
    fn log(&self, node: Option<usize>, what: String) {
        let mut op = Op::new(Kind::Info, -1, node.map_or(-1, |n| n as i64), F::Nemesis, "");
        op.value = Some(what);
        self.recorder.record(op);
    }

    /// Runs one fault for its duration (or until `stop` says so), then heals it.
    pub fn run(&mut self, planned: &Planned, stop: &dyn Fn() -> bool) -> Result<(), ClusterError> {
        let start_us = self.recorder.now_us();
        let until = Instant::now() + planned.duration;
        let fault = &planned.fault;
        self.log(fault.node(), fault.describe());
        self.begin(fault, planned.duration)?;
        while Instant::now() < until && !stop() {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.end(fault)?;
        self.log(fault.node(), format!("healed: {}", fault.describe()));
        self.windows.push(Window { start_us, end_us: self.recorder.now_us(), label: fault.describe() });
        Ok(())
    }

    /// Applies `fault` (planned to last `duration`).
    fn begin(&mut self, fault: &Fault, duration: Duration) -> Result<(), ClusterError> {
        let net_err = |e: crate::net::NetError| ClusterError(e.0);
        match fault {
            Fault::Partition { cut, .. } => self.net.partition(cut).map_err(net_err)?,
            Fault::Kill { node } => {
                if self.probes() {
                    self.net.partition(&isolation(*node, self.cluster.len())).map_err(net_err)?;
                    std::thread::sleep(Duration::from_millis(300));
                }
                self.log(Some(*node), format!("kill node {node}"));
                self.cluster.kill(*node);
                self.restarted = true;
            }
            Fault::Pause { node } => self.cluster.pause(*node),
            Fault::Clock { node, offset_ms, restart } => {
                self.cluster.set_clock(*node, *offset_ms)?;
                if *restart {
                    // Let the node write and ship under the clock that is ahead, then crash it.
                    std::thread::sleep(duration / 2);
                    self.log(Some(*node), format!("kill node {node} (clock ahead)"));
                    self.cluster.kill(*node);
                    self.restarted = true;
                    self.cluster.start_node(*node)?;
                    self.log(Some(*node), format!("restarted node {node} (clock ahead)"));
                }
            }
            Fault::Latency { links, delay_ms, jitter_ms } => {
                for &(a, b) in links {
                    self.cluster.set_latency(a, b, *delay_ms, *jitter_ms)?;
                }
            }
            Fault::Backlog { node } => {
                self.net.partition(&isolation(*node, self.cluster.len())).map_err(net_err)?;
                self.flood(*node);
            }
            Fault::Combined { faults } => {
                for f in faults {
                    self.begin(f, duration)?;
                }
            }
        }
        Ok(())
    }

    /// Heals `fault`. A partition's heal removes every cut (they are healed together).
    fn end(&mut self, fault: &Fault) -> Result<(), ClusterError> {
        let net_err = |e: crate::net::NetError| ClusterError(e.0);
        match fault {
            Fault::Partition { .. } | Fault::Backlog { .. } => self.net.heal().map_err(net_err)?,
            Fault::Kill { node } => {
                self.cluster.start_node(*node)?;
                self.log(Some(*node), format!("restarted node {node}"));
                if self.probes() {
                    self.probe(*node);
                    self.net.heal().map_err(net_err)?;
                }
            }
            Fault::Pause { node } => self.cluster.resume(*node),
            Fault::Clock { node, .. } => self.cluster.set_clock(*node, 0)?,
            Fault::Latency { links, .. } => {
                for &(a, b) in links {
                    self.cluster.set_latency(a, b, 0, 0)?;
                }
            }
            Fault::Combined { faults } => {
                for f in faults.iter().rev() {
                    self.end(f)?;
                }
            }
        }
        Ok(())
    }

    /// A kill on the FLASH tier with `appendfsync always` cuts the node off first and reads it
    /// right after its restart, before a peer can send anything back: the durability probe.
    fn probes(&self) -> bool {
        self.cluster.config.tier == Tier::FlashAlways
    }

    /// Writes more than the backlog holds through another node (keys `fill*`, which no checker
    /// reads: they only push older changes out of the backlogs).
    fn flood(&self, cut: usize) {
        let other = (cut + 1) % self.cluster.len();
        let Ok(mut conn) = Conn::connect(addr(other), Duration::from_secs(2)) else { return };
        let value = "x".repeat(1024);
        for i in 0..self.backlog_bytes / 1024 + 1 {
            if conn.call(&["SET", &format!("fill{}", i % 64), &value]).is_err() {
                return;
            }
        }
    }

    /// Reads every register on a node just restarted while cut off from its peers.
    fn probe(&self, node: usize) {
        let Ok(mut conn) = Conn::connect(addr(node), Duration::from_secs(2)) else { return };
        for key in (0..).map(register_key).take(self.registers) {
            if let Ok((value, stamp, deleted)) = read_register(&mut conn, &key) {
                let mut op = Op::new(Kind::Ok, -1, node as i64, F::Probe, &key);
                (op.value, op.stamp, op.deleted) = (value, stamp, deleted);
                self.recorder.record(op);
            }
        }
    }

    /// Heals everything: every node running, clocks back, no partition, no latency.
    pub fn heal_all(&mut self) -> Result<(), ClusterError> {
        self.net.heal().map_err(|e| ClusterError(e.0))?;
        for i in 0..self.cluster.len() {
            match self.cluster.state(i) {
                State::Paused => self.cluster.resume(i),
                State::Down => self.cluster.start_node(i)?,
                State::Running => {}
            }
            if self.cluster.config.faketime {
                self.cluster.set_clock(i, 0)?;
            }
        }
        if self.cluster.config.proxy_bin.is_some() {
            for (a, b) in self.cluster.links() {
                self.cluster.set_latency(a, b, 0, 0)?;
            }
        }
        self.log(None, "healed everything".into());
        Ok(())
    }
}

/// The pairs that cut `node` from every other of `n`.
fn isolation(node: usize, n: usize) -> Vec<(usize, usize)> {
    (0..n).filter(|&j| j != node).map(|j| (node.min(j), node.max(j))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(n: usize) -> Vec<(usize, usize)> {
        (0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b))).collect()
    }

    fn kinds(all: &[&str]) -> Vec<String> {
        all.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_schedule_is_reproducible_and_covers_every_kind() {
        let all = kinds(KINDS);
        let a = schedule(&all, 5, &mesh(5), Duration::from_secs(150), 5000, 7);
        let b = schedule(&all, 5, &mesh(5), Duration::from_secs(150), 5000, 7);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let named: Vec<&str> = a.iter().map(|p| p.fault.kind()).collect();
        for k in KINDS {
            assert!(named.iter().any(|n| n == k), "{k} missing from {named:?}");
        }
        assert!(a.iter().all(|p| p.start + p.duration <= Duration::from_secs(150)));
    }

    /// tests/run.sh's short CI run (`--nodes 4 --time 100 --seed 1 --nemesis all`) must exercise
    /// every kind of fault.
    #[test]
    fn the_ci_schedule_covers_every_kind() {
        let plan = schedule(&kinds(KINDS), 4, &mesh(4), Duration::from_secs(100), 5000, 1);
        for k in KINDS {
            assert!(plan.iter().any(|p| p.fault.kind() == *k), "{k} missing from {plan:?}");
        }
    }

    #[test]
    fn a_combination_is_a_partition_and_a_fault_of_one_node_at_once() {
        let plan = schedule(&kinds(&["combined"]), 5, &mesh(5), Duration::from_secs(120), 5000, 3);
        assert!(plan.len() >= 8, "{plan:?}");
        for p in &plan {
            let Fault::Combined { faults } = &p.fault else { panic!("{p:?}") };
            let [first, second] = &faults[..] else { panic!("{faults:?}") };
            assert!(matches!(first, Fault::Partition { .. }), "{first:?}");
            assert!(
                matches!(second, Fault::Kill { .. } | Fault::Pause { .. } | Fault::Latency { .. })
                    || matches!(second, Fault::Clock { restart: false, .. }),
                "{second:?}"
            );
            assert_eq!(p.fault.node(), second.node());
        }
        let seconds: Vec<&str> = plan
            .iter()
            .map(|p| if let Fault::Combined { faults } = &p.fault { faults[1].kind() } else { "" })
            .collect();
        for k in ["kill", "pause", "clock", "latency"] {
            assert!(seconds.contains(&k), "{k} never combined: {seconds:?}");
        }
    }

    #[test]
    fn partitions_cut_the_right_pairs() {
        let plan = schedule(&kinds(&["bridge"]), 5, &mesh(5), Duration::from_secs(20), 5000, 1);
        let Fault::Partition { cut, .. } = &plan[0].fault else { panic!() };
        // 2 x 2 nodes cut; the bridge node is in no pair.
        assert_eq!(cut.len(), 4);
        let mut touched: Vec<usize> = cut.iter().flat_map(|&(a, b)| [a, b]).collect();
        touched.sort();
        touched.dedup();
        assert_eq!(touched.len(), 4);
        let plan = schedule(&kinds(&["ring"]), 5, &mesh(5), Duration::from_secs(20), 5000, 1);
        let Fault::Partition { cut, .. } = &plan[0].fault else { panic!() };
        assert_eq!(cut.len(), 5); // 10 pairs, 5 of them neighbours
    }
}
