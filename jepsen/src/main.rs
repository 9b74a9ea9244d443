//! `meshkv-jepsen`: runs one Jepsen-style test against a real meshkv cluster and prints the
//! verdict. Exit status: 0 valid, 1 anomalies that fail the run, 2 the run could not be carried
//! out (or was interrupted), 77 this machine cannot run it (not root, no `ip netns`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use meshkv_jepsen::cluster::{Tier, Topology};
use meshkv_jepsen::nemesis::KINDS;
use meshkv_jepsen::run::{recheck, run, Options};
use meshkv_jepsen::{catch_interrupts, net};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TierArg {
    Ram,
    FlashAlways,
    FlashEverysec,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TopologyArg {
    Mesh,
    Chain,
    Ring,
    NoForward,
}

/// Jepsen-style consistency test of meshkv's multi-master replication: real servers in network
/// namespaces, real faults, a checked history. Needs root.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Seconds of faults and load (the heal, the quiet period and the checks come after).
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Comma-separated faults, or `all`, or `none`: isolate, halves, bridge, ring, kill, pause,
    /// clock, latency, backlog.
    #[arg(long, default_value = "all")]
    nemesis: String,
    #[arg(long, value_enum, default_value = "ram")]
    tier: TierArg,
    #[arg(long, value_enum, default_value = "mesh")]
    topology: TopologyArg,
    /// Seed of the schedule and the clients' choices (random when not given).
    #[arg(long)]
    seed: Option<u64>,
    /// The server binary (default: MESHKV_SERVER_BIN, else the release build in CARGO_TARGET_DIR
    /// or ./target).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// The latency proxy binary (default: meshkv-latency-proxy next to the server binary).
    #[arg(long)]
    proxy_bin: Option<PathBuf>,
    /// Report folder (default: jepsen/store/<time>-seed<seed>).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    clients_per_node: usize,
    /// Milliseconds each client waits between two operations.
    #[arg(long, default_value_t = 20)]
    interval_ms: u64,
    /// Fail on documented, expected losses too (lost set adds and increments under whole-key
    /// last-write-wins; a delete coming back after a FLASH tier restart).
    #[arg(long)]
    strict: bool,
    /// Seconds the nodes have to converge after the heal.
    #[arg(long, default_value_t = 60)]
    converge_timeout: u64,
    /// `server-threads` of each node (the machine's cores are shared by every node).
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// Check the report folder of an earlier run again (its history and final state) instead of
    /// running; prints the anomalies and writes verdict-recheck.json there.
    #[arg(long, value_name = "REPORT_DIR")]
    recheck: Option<PathBuf>,
}

fn default_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("MESHKV_SERVER_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("release").join("meshkv-server")
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(dir) = &args.recheck {
        return match recheck(dir, args.strict) {
            Ok(v) => {
                for a in &v.anomalies {
                    let note = if a.documented.is_some() { "documented" } else { "FAILURE" };
                    println!("{note} [{}] {}: {}", a.kind, a.key, a.detail);
                }
                println!("{}", if v.valid { "VALID" } else { "INVALID" });
                if v.valid {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("meshkv-jepsen: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Err(why) = net::available() {
        eprintln!("meshkv-jepsen: cannot run here: {why}");
        return ExitCode::from(77);
    }
    let nemesis: Vec<String> = match args.nemesis.as_str() {
        "all" => KINDS.iter().map(|s| s.to_string()).collect(),
        "none" => Vec::new(),
        list => list.split(',').map(|s| s.trim().to_string()).collect(),
    };
    if let Some(bad) = nemesis.iter().find(|n| !KINDS.contains(&n.as_str())) {
        eprintln!("meshkv-jepsen: unknown nemesis {bad:?}; known: {}", KINDS.join(", "));
        return ExitCode::from(2);
    }
    if !(2..=20).contains(&args.nodes) {
        eprintln!("meshkv-jepsen: --nodes must be between 2 and 20");
        return ExitCode::from(2);
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let server_bin = args.server_bin.unwrap_or_else(default_server_bin);
    let proxy_bin = args.proxy_bin.or_else(|| Some(server_bin.with_file_name("meshkv-latency-proxy")));
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let out = args.out.unwrap_or_else(|| PathBuf::from("jepsen/store").join(format!("{stamp}-seed{seed}")));
    let opts = Options {
        nodes: args.nodes,
        time: Duration::from_secs(args.time),
        nemesis,
        tier: match args.tier {
            TierArg::Ram => Tier::Ram,
            TierArg::FlashAlways => Tier::FlashAlways,
            TierArg::FlashEverysec => Tier::FlashEverysec,
        },
        topology: match args.topology {
            TopologyArg::Mesh => Topology::Mesh,
            TopologyArg::Chain => Topology::Chain,
            TopologyArg::Ring => Topology::Ring,
            TopologyArg::NoForward => Topology::NoForward,
        },
        seed,
        server_bin,
        proxy_bin,
        out: out.clone(),
        clients_per_node: args.clients_per_node,
        interval: Duration::from_millis(args.interval_ms),
        strict: args.strict,
        converge_timeout: Duration::from_secs(args.converge_timeout),
        server_threads: args.server_threads,
        drift_ms: 5000,
    };
    catch_interrupts();
    eprintln!("meshkv-jepsen: seed {seed}, report in {}", out.display());
    match run(&opts) {
        Ok(verdict) => {
            match std::fs::read_to_string(out.join("summary.txt")) {
                Ok(summary) => print!("{summary}"),
                Err(e) => eprintln!("meshkv-jepsen: summary: {e}"),
            }
            if verdict.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("meshkv-jepsen: run failed (seed {seed}): {e}");
            ExitCode::from(2)
        }
    }
}
