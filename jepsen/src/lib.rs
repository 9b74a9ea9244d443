//! meshkv-jepsen: a Jepsen-style consistency suite for meshkv's multi-master replication.
//!
//! It starts a cluster of real `meshkv-server` processes, each in its own network namespace,
//! runs concurrent clients against every node while a nemesis injects faults (partitions,
//! `kill -9`, SIGSTOP, clock offsets, latency, a peer cut off past the backlog), heals everything,
//! waits for the nodes to converge, and checks the recorded history against what the README
//! promises.
//!
//! Owns: the test network ([`net`]), the cluster's processes ([`cluster`]), the clients
//! ([`workload`], over its own small RESP client [`resp`]), the faults ([`nemesis`]), the history
//! ([`history`]), the checkers ([`checker`]) and the report ([`report`], [`plot`]).
//! Must never: link the server's crates (it tests the binary users run, over TCP), leave a
//! namespace, a process or an iptables rule behind on any way out, or count an operation whose
//! outcome is unknown as either done or not done.

pub mod checker;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod plot;
pub mod report;
pub mod resp;
pub mod run;
pub mod workload;

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once SIGINT or SIGTERM arrived: the run ends its schedule, heals and cleans up.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Makes SIGINT (Ctrl-C) and SIGTERM end the run cleanly instead of killing the suite with its
/// namespaces and processes left behind.
pub fn catch_interrupts() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&mut action.sa_mask);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}
