//! The test network: one Linux network namespace per node, each joined to one bridge by a veth
//! pair, addresses from a private /24; partitions are iptables rules inside the namespaces.
//!
//! Every name this module creates starts with [`PREFIX`], so a run that died without cleaning up
//! (SIGKILL, a power cut of the test machine) is cleaned by the next one: [`Net::clean_stale`]
//! removes every such namespace (killing what runs in it), the bridge and the host's FORWARD rules.
//! The host side only gets the bridge's address, from which the clients connect; node-to-node
//! traffic crosses the bridge and never leaves it.

use std::net::Ipv4Addr;
use std::process::Command;

/// What every namespace, interface and iptables comment of this suite is named with.
pub const PREFIX: &str = "mkj";
/// The bridge joining the nodes.
pub const BRIDGE: &str = "mkj-br";
/// The comment on the host's FORWARD rules, so cleanup finds exactly them.
const RULE_COMMENT: &str = "mkj-jepsen";

/// The host's address on the bridge (clients connect from it; it is never partitioned).
pub const HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

/// Node `i`'s address (10.77.0.11 for node 0).
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, 11 + i as u8)
}

/// Node `i`'s namespace.
pub fn namespace(i: usize) -> String {
    format!("{PREFIX}-n{i}")
}

/// A failed setup command.
#[derive(Debug)]
pub struct NetError(pub String);

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NetError {}

/// Runs a command; its failure is an error with its stderr.
fn run(args: &[&str]) -> Result<String, NetError> {
    let out =
        Command::new(args[0]).args(&args[1..]).output().map_err(|e| NetError(format!("{}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(NetError(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a cleanup command whose failure (the thing is already gone) does not matter.
fn try_run(args: &[&str]) -> bool {
    Command::new(args[0]).args(&args[1..]).output().is_ok_and(|o| o.status.success())
}

/// True where this machine can run the suite: root, `ip netns` and iptables.
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root (network namespaces and iptables need it)".into());
    }
    for (cmd, args) in [("ip", ["netns", "list"]), ("iptables", ["-S", "INPUT"])] {
        if !Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success()) {
            return Err(format!("`{cmd} {}` does not work here", args.join(" ")));
        }
    }
    Ok(())
}

/// The namespaces and bridge of one run.
pub struct Net {
    nodes: usize,
}

impl Net {
    /// Removes whatever an earlier run left: processes in our namespaces, the namespaces, the
    /// bridge, the host's FORWARD rules.
    pub fn clean_stale() {
        if let Ok(list) = run(&["ip", "netns", "list"]) {
            for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
                if name.starts_with(&format!("{PREFIX}-")) {
                    kill_namespace(name);
                }
            }
        }
        delete_host_links();
        while try_run(&forward_rule("-D")) {}
    }

    /// Creates `nodes` namespaces on a fresh bridge; on failure removes what it made.
    pub fn create(nodes: usize) -> Result<Net, NetError> {
        Net::clean_stale();
        let net = Net { nodes };
        match net.build() {
            Ok(()) => Ok(net),
            Err(e) => {
                net.teardown();
                Err(e)
            }
        }
    }

    fn build(&self) -> Result<(), NetError> {
        let host = format!("{HOST_IP}/24");
        run(&["ip", "link", "add", BRIDGE, "type", "bridge"])?;
        run(&["ip", "addr", "add", &host, "dev", BRIDGE])?;
        run(&["ip", "link", "set", BRIDGE, "up"])?;
        // Docker sets the FORWARD policy to DROP, and with bridge-nf-call-iptables bridged frames
        // go through it: let ours pass.
        run(&forward_rule("-I"))?;
        for i in 0..self.nodes {
            let ns = namespace(i);
            let (outer, inner) = (format!("{PREFIX}-h{i}"), format!("{PREFIX}-p{i}"));
            let ip = format!("{}/24", node_ip(i));
            run(&["ip", "netns", "add", &ns])?;
            run(&["ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            run(&["ip", "link", "set", &inner, "netns", &ns])?;
            run(&["ip", "link", "set", &outer, "master", BRIDGE, "up"])?;
            run(&["ip", "netns", "exec", &ns, "ip", "addr", "add", &ip, "dev", &inner])?;
            run(&["ip", "netns", "exec", &ns, "ip", "link", "set", &inner, "up"])?;
            run(&["ip", "netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// Cuts every pair in `cut` (both directions), after healing whatever was cut before.
    pub fn partition(&self, cut: &[(usize, usize)]) -> Result<(), NetError> {
        self.heal()?;
        for &(a, b) in cut {
            for (me, other) in [(a, b), (b, a)] {
                let (ns, ip) = (namespace(me), node_ip(other).to_string());
                run(&["ip", "netns", "exec", &ns, "iptables", "-A", "INPUT", "-s", &ip, "-j", "DROP"])?;
                run(&["ip", "netns", "exec", &ns, "iptables", "-A", "OUTPUT", "-d", &ip, "-j", "DROP"])?;
            }
        }
        Ok(())
    }

    /// True if a TCP connection from node `from`'s namespace to `to` opens within a second.
    pub fn can_connect(&self, from: usize, to: std::net::SocketAddr) -> bool {
        let script = format!("exec 3<>/dev/tcp/{}/{}", to.ip(), to.port());
        try_run(&["ip", "netns", "exec", &namespace(from), "timeout", "1", "bash", "-c", &script])
    }

    /// Checks that a partition really cuts (and a heal really restores) traffic between two nodes,
    /// so that a fault that silently did nothing cannot pass for a cluster that survived it.
    pub fn self_check(&self, to: impl Fn(usize) -> std::net::SocketAddr) -> Result<(), NetError> {
        if !self.can_connect(0, to(1)) {
            return Err(NetError("node 0 cannot reach node 1 before any partition".into()));
        }
        self.partition(&[(0, 1)])?;
        let cut = !self.can_connect(0, to(1)) && !self.can_connect(1, to(0));
        self.heal()?;
        if !cut {
            return Err(NetError("a partition between node 0 and node 1 did not cut their traffic".into()));
        }
        if !self.can_connect(0, to(1)) {
            return Err(NetError("node 0 cannot reach node 1 after the heal".into()));
        }
        Ok(())
    }

    /// Removes every partition rule.
    pub fn heal(&self) -> Result<(), NetError> {
        for i in 0..self.nodes {
            let ns = namespace(i);
            run(&["ip", "netns", "exec", &ns, "iptables", "-F", "INPUT"])?;
            run(&["ip", "netns", "exec", &ns, "iptables", "-F", "OUTPUT"])?;
        }
        Ok(())
    }

    /// Removes everything [`Net::create`] made; processes still running in the namespaces are
    /// killed.
    pub fn teardown(&self) {
        // The host ends of the veth pairs first: a deleted namespace is destroyed by the kernel
        // later, in the background, and its veth with it, which under load can take minutes
        // during which the next run could not reuse the names.
        delete_host_links();
        for i in 0..self.nodes {
            kill_namespace(&namespace(i));
        }
        while try_run(&forward_rule("-D")) {}
    }
}

/// Deletes every host interface of ours (veth ends, then the bridge), at once.
fn delete_host_links() {
    let Ok(list) = run(&["ip", "-o", "link", "show"]) else { return };
    // Lines read `12: mkj-h0@if11: <...`: the name is the second field, up to its `@`.
    let mut names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|n| n.trim_end_matches(':').split('@').next().unwrap_or(n))
        .filter(|n| n.starts_with(&format!("{PREFIX}-")))
        .collect();
    names.sort_by_key(|n| *n == BRIDGE);
    for name in names {
        try_run(&["ip", "link", "del", name]);
    }
}

fn forward_rule(op: &str) -> Vec<&str> {
    let mut rule = vec!["iptables", op, "FORWARD"];
    if op == "-I" {
        rule.push("1");
    }
    rule.extend(["-i", BRIDGE, "-o", BRIDGE, "-m", "comment", "--comment", RULE_COMMENT, "-j", "ACCEPT"]);
    rule
}

/// Kills every process in namespace `ns` (SIGCONT first, so a stopped one dies too), then
/// deletes it.
fn kill_namespace(ns: &str) {
    if let Ok(pids) = run(&["ip", "netns", "pids", ns]) {
        for pid in pids.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            // SAFETY: plain signals to processes of our own namespace.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGCONT);
            }
        }
    }
    // A namespace is deleted once its last process is gone; give the kills a moment.
    for _ in 0..50 {
        if try_run(&["ip", "netns", "del", ns]) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
