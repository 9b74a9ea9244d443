//! The cluster under test: real `meshkv-server` processes, one per network namespace, wired into
//! a replication topology, and the levers the nemesis pulls on them (kill -9 and restart,
//! SIGSTOP/SIGCONT, the clock, the latency of a link).
//!
//! Clock: with clock faults enabled each node runs under libfaketime (`LD_PRELOAD`), whose offset
//! it re-reads from a file in the node's directory every second, so the node's own wall clock
//! moves while it runs (its monotonic clock does not: timers and timeouts stay sane).
//! Latency: with latency faults enabled each replication link goes through its own
//! `meshkv-latency-proxy` process in the pulling node's namespace (127.0.0.1 there), whose delay
//! is changed at run time over its control port.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::{namespace, node_ip};
use crate::resp::{Conn, Reply};

/// The port every node listens on (each has its own address).
pub const PORT: u16 = 6379;
/// Where libfaketime lives on Debian.
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Where the data lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// All in RAM, with snapshots every few seconds (so a `kill -9` loses the writes since).
    Ram,
    /// `storage-provider flash` with `appendfsync always`: no acknowledged write may be lost.
    FlashAlways,
    /// `storage-provider flash` with `appendfsync everysec`.
    FlashEverysec,
}

/// Who pulls from whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Every node pulls from every other.
    Mesh,
    /// A line: each node pulls from its neighbours, the middle ones relay.
    Chain,
    /// A line closed into a circle.
    Ring,
    /// A full mesh with `multi-master-no-forward yes`.
    NoForward,
}

impl Topology {
    /// The nodes node `i` of `n` pulls from.
    pub fn peers(self, i: usize, n: usize) -> Vec<usize> {
        let mut peers: Vec<usize> = match self {
            Topology::Mesh | Topology::NoForward => (0..n).filter(|&j| j != i).collect(),
            Topology::Chain => [i.checked_sub(1), Some(i + 1).filter(|&j| j < n)].into_iter().flatten().collect(),
            Topology::Ring => vec![(i + n - 1) % n, (i + 1) % n],
        };
        peers.sort();
        peers.dedup();
        peers.retain(|&j| j != i);
        peers
    }
}

/// How to run the nodes.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub nodes: usize,
    pub tier: Tier,
    pub topology: Topology,
    pub server_bin: PathBuf,
    /// The latency proxy's binary; `None` runs links directly (no latency faults).
    pub proxy_bin: Option<PathBuf>,
    /// Run nodes under libfaketime (clock faults).
    pub faketime: bool,
    /// Each node's directory is `<dir>/n<i>`.
    pub dir: PathBuf,
    pub repl_timeout_s: u64,
    pub backlog: String,
    pub server_threads: usize,
}

/// A node's process state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Paused,
    Down,
}

struct Node {
    dir: PathBuf,
    child: Option<Child>,
    state: State,
}

/// A failure to control the cluster (not a finding about it).
#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

/// The running cluster. Dropping it kills every process it started.
pub struct Cluster {
    pub config: ClusterConfig,
    nodes: Vec<Node>,
    proxies: Vec<Child>,
}

/// Node `i`'s client address.
pub fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(node_ip(i).into(), PORT)
}

/// The local port in node `i`'s namespace whose proxy leads to peer `j`; its control port is
/// this plus 100, on the node's own address.
fn proxy_port(j: usize) -> u16 {
    7000 + j as u16
}

impl Cluster {
    /// Starts every node (and proxy) and waits until each answers PING.
    pub fn start(config: ClusterConfig) -> Result<Cluster, ClusterError> {
        let mut cluster = Cluster { nodes: Vec::new(), proxies: Vec::new(), config };
        for i in 0..cluster.config.nodes {
            let dir = cluster.config.dir.join(format!("n{i}"));
            fs::create_dir_all(&dir).map_err(|e| ClusterError(format!("{}: {e}", dir.display())))?;
            fs::write(dir.join("faketime.rc"), "+0\n").map_err(|e| ClusterError(e.to_string()))?;
            cluster.nodes.push(Node { dir, child: None, state: State::Down });
        }
        if let Some(bin) = cluster.config.proxy_bin.clone() {
            for i in 0..cluster.config.nodes {
                for j in cluster.config.topology.peers(i, cluster.config.nodes) {
                    let listen = format!("127.0.0.1:{}", proxy_port(j));
                    let control = format!("{}:{}", node_ip(i), proxy_port(j) + 100);
                    let log = log_file(&cluster.nodes[i].dir.join(format!("proxy-{j}.log")))?;
                    let child = Command::new("ip")
                        .args(["netns", "exec", &namespace(i)])
                        .arg(&bin)
                        .args(["--link", &format!("{listen}={}", addr(j)), "--control", &control])
                        .stdin(Stdio::null())
                        .stdout(log.try_clone().map_err(|e| ClusterError(e.to_string()))?)
                        .stderr(log)
                        .spawn()
                        .map_err(|e| ClusterError(format!("{}: {e}", bin.display())))?;
                    cluster.proxies.push(child);
                }
            }
        }
        for i in 0..cluster.config.nodes {
            cluster.start_node(i)?;
        }
        Ok(cluster)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn state(&self, i: usize) -> State {
        self.nodes[i].state
    }

    fn args(&self, i: usize) -> Vec<String> {
        let c = &self.config;
        let mut args: Vec<String> = [
            "--bind",
            &node_ip(i).to_string(),
            "--port",
            &PORT.to_string(),
            "--protected-mode",
            "no",
            "--dir",
            &self.nodes[i].dir.display().to_string(),
            "--server-threads",
            &c.server_threads.to_string(),
            "--active-replica",
            "yes",
            "--multi-master",
            "yes",
            "--repl-timeout",
            &c.repl_timeout_s.to_string(),
            "--repl-backlog-size",
            &c.backlog,
            // Short, so tombstones are purged during a run; still longer than any fault (a node
            // cut off for longer than this may bring deleted keys back, as documented).
            "--repl-tombstone-ttl",
            "30",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let tier: &[&str] = match c.tier {
            Tier::Ram => &["--save", "2", "1"],
            Tier::FlashAlways => &["--save", "", "--storage-provider", "flash", "db", "--appendfsync", "always"],
            Tier::FlashEverysec => &["--save", "", "--storage-provider", "flash", "db", "--appendfsync", "everysec"],
        };
        args.extend(tier.iter().map(|s| s.to_string()));
        if c.topology == Topology::NoForward {
            args.extend(["--multi-master-no-forward".into(), "yes".into()]);
        }
        for j in c.topology.peers(i, c.nodes) {
            args.push("--replicaof".into());
            if c.proxy_bin.is_some() {
                args.extend(["127.0.0.1".into(), proxy_port(j).to_string()]);
            } else {
                args.extend([node_ip(j).to_string(), PORT.to_string()]);
            }
        }
        args
    }

    /// Starts node `i` (again) on its directory and waits until it answers.
    pub fn start_node(&mut self, i: usize) -> Result<(), ClusterError> {
        let log = log_file(&self.nodes[i].dir.join("server.log"))?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &namespace(i)]).arg(&self.config.server_bin).args(self.args(i));
        if self.config.faketime {
            cmd.env("LD_PRELOAD", FAKETIME_LIB)
                .env("FAKETIME_TIMESTAMP_FILE", self.nodes[i].dir.join("faketime.rc"))
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("DONT_FAKE_MONOTONIC", "1");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| ClusterError(e.to_string()))?)
            .stderr(log)
            .spawn()
            .map_err(|e| ClusterError(format!("{}: {e}", self.config.server_bin.display())))?;
        self.nodes[i].child = Some(child);
        self.nodes[i].state = State::Running;
        self.wait_up(i, Duration::from_secs(30))
    }

    fn wait_up(&mut self, i: usize, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(mut c) = Conn::connect(addr(i), Duration::from_millis(500)) {
                if matches!(c.call(&["PING"]), Ok(Reply::Simple(s)) if s == "PONG") {
                    return Ok(());
                }
            }
            if let Some(Ok(Some(status))) = self.nodes[i].child.as_mut().map(|c| c.try_wait()) {
                return Err(ClusterError(format!(
                    "node {i} exited at start ({status}); see {}",
                    self.nodes[i].dir.join("server.log").display()
                )));
            }
            if Instant::now() > deadline {
                return Err(ClusterError(format!("node {i} did not answer PING within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `kill -9` node `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill(); // SIGKILL
            signal(&child, libc::SIGCONT); // a stopped process must run to die
            let _ = child.wait();
        }
        self.nodes[i].state = State::Down;
    }

    /// SIGSTOP node `i`.
    pub fn pause(&mut self, i: usize) {
        if let Some(child) = &self.nodes[i].child {
            signal(child, libc::SIGSTOP);
            self.nodes[i].state = State::Paused;
        }
    }

    /// SIGCONT node `i`.
    pub fn resume(&mut self, i: usize) {
        if let Some(child) = &self.nodes[i].child {
            signal(child, libc::SIGCONT);
            self.nodes[i].state = State::Running;
        }
    }

    /// Sets node `i`'s wall clock `offset_ms` ahead (negative: behind) of the machine's; the node
    /// sees it within about a second.
    pub fn set_clock(&self, i: usize, offset_ms: i64) -> Result<(), ClusterError> {
        let spec = format!(
            "{}{}.{:03}\n",
            if offset_ms < 0 { "-" } else { "+" },
            offset_ms.abs() / 1000,
            offset_ms.abs() % 1000
        );
        fs::write(self.nodes[i].dir.join("faketime.rc"), spec).map_err(|e| ClusterError(e.to_string()))
    }

    /// Sets the one-way delay of the link on which node `i` pulls from node `j`.
    pub fn set_latency(&self, i: usize, j: usize, delay_ms: u64, jitter_ms: u64) -> Result<(), ClusterError> {
        if self.config.proxy_bin.is_none() {
            return Err(ClusterError("latency needs the proxies (--nemesis latency)".into()));
        }
        let control = SocketAddr::new(node_ip(i).into(), proxy_port(j) + 100);
        let err = |e: std::io::Error| ClusterError(format!("latency proxy {control}: {e}"));
        let mut stream = TcpStream::connect_timeout(&control, Duration::from_secs(2)).map_err(err)?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).map_err(err)?;
        stream.write_all(format!("delay {delay_ms} {jitter_ms}\n").as_bytes()).map_err(err)?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).map_err(err)?;
        if answer.trim() != "OK" {
            return Err(ClusterError(format!("latency proxy {control} answered {answer:?}")));
        }
        Ok(())
    }

    /// The links (puller, peer) of the topology.
    pub fn links(&self) -> Vec<(usize, usize)> {
        (0..self.len())
            .flat_map(|i| self.config.topology.peers(i, self.len()).into_iter().map(move |j| (i, j)))
            .collect()
    }

    /// Stops every process, without waiting for anything else.
    pub fn shutdown(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        for mut p in self.proxies.drain(..) {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: a plain signal to a child we started and have not reaped.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

fn log_file(path: &Path) -> Result<fs::File, ClusterError> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ClusterError(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topologies_list_the_right_peers() {
        assert_eq!(Topology::Mesh.peers(1, 3), vec![0, 2]);
        assert_eq!(Topology::Chain.peers(0, 3), vec![1]);
        assert_eq!(Topology::Chain.peers(1, 3), vec![0, 2]);
        assert_eq!(Topology::Chain.peers(4, 5), vec![3]);
        assert_eq!(Topology::Ring.peers(0, 5), vec![1, 4]);
        assert_eq!(Topology::Ring.peers(0, 2), vec![1]);
    }
}
