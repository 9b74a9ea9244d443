//! `meshkv-server [CONFIG_FILE] [--directive value ...]`, as redis-server and keydb-server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use meshkv::config::{self, LogLevel};
use meshkv::log::Logger;
use meshkv::process::{PidFile, Supervisor};
use meshkv::server::{unix_ms, Server};
use meshkv_replication::NodeIdentity;
use meshkv_storage::{Clock, Stamp};

/// jemalloc, as Redis uses: see `meshkv::memory` and the README's notes on dependencies.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A Redis-protocol, multithreaded, active-active key-value server.
#[derive(Parser, Debug)]
#[command(name = "meshkv-server", version, about, long_about = None)]
struct Cli {
    /// A keydb.conf/redis.conf-style configuration file.
    config_file: Option<PathBuf>,
    /// `--directive value ...` pairs that override the file (e.g. `--port 7000 --save ""`).
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, value_name = "--DIRECTIVE VALUE")]
    overrides: Vec<String>,
}

/// Groups `--name v1 v2 --other v` into `(name, [v1, v2])` pairs.
fn parse_overrides(raw: &[String]) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for item in raw {
        match item.strip_prefix("--") {
            Some(name) if !name.is_empty() => out.push((name.to_string(), Vec::new())),
            _ => match out.last_mut() {
                Some((_, values)) => values.push(item.clone()),
                None => return Err(format!("unexpected argument '{item}': directives start with --")),
            },
        }
    }
    Ok(out)
}

/// Reads the command line. Clap renders `--help` and `--version`; everything else is parsed here,
/// because `--port 7000` style pairs are open-ended directive names clap cannot know in advance.
fn parse_cli() -> Cli {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.iter().any(|a| matches!(a.as_str(), "-h" | "--help" | "-v" | "-V" | "--version")) {
        return Cli::parse();
    }
    let (config_file, overrides) = match raw.split_first() {
        Some((first, rest)) if !first.starts_with("--") => (Some(PathBuf::from(first)), rest.to_vec()),
        _ => (None, raw),
    };
    Cli { config_file, overrides }
}

fn main() {
    let cli = parse_cli();
    let overrides = parse_overrides(&cli.overrides).unwrap_or_else(|e| {
        eprintln!("meshkv-server: {e}");
        std::process::exit(1);
    });
    let loaded = config::load(cli.config_file.as_deref(), &overrides).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    let no_effect_note = loaded.no_effect_note();
    let config = loaded.config;
    let log = Logger::open(&config.logfile, config.loglevel).unwrap_or_else(|e| {
        eprintln!("Can't open the log file '{}': {e}", config.logfile);
        std::process::exit(1);
    });
    // Before any thread starts: a fork copies only the thread that calls it. A supervisor keeps
    // the process in the foreground, as in Redis.
    let supervisor = Supervisor::detect(config.supervised, &|line| log.notice(line));
    let background = config.daemonize && !supervisor.found();
    if background {
        if let Err(e) = meshkv::process::daemonize() {
            log.warning(&format!("Can't daemonize: {e}"));
            std::process::exit(1);
        }
    }
    if let Some(note) = no_effect_note {
        log.notice(&note);
    }
    let pidfile_path = match (config.pidfile.as_str(), background) {
        ("", false) => None,
        ("", true) => Some(PathBuf::from(meshkv::process::DEFAULT_PIDFILE)),
        (path, _) => Some(PathBuf::from(path)),
    };
    // As Redis: a pid file that cannot be written is logged, and the server starts anyway.
    let pidfile = pidfile_path.and_then(|path| {
        PidFile::create(&path)
            .map_err(|e| log.warning(&format!("Failed to write PID file {}: {e}", path.display())))
            .ok()
    });
    let code = serve(config, log, &supervisor);
    if let Some(pidfile) = pidfile {
        pidfile.remove();
    }
    std::process::exit(code);
}

/// Loads the data and serves until shutdown; the process's exit status.
fn serve(config: config::Config, log: Logger, supervisor: &Supervisor) -> i32 {
    if let Err(e) = std::fs::create_dir_all(&config.dir) {
        log.warning(&format!("Can't create working directory {}: {e}", config.dir.display()));
        return 1;
    }
    let identity = match NodeIdentity::load_or_create(&config.dir) {
        Ok(identity) => identity,
        Err(e) => {
            log.warning(&e.to_string());
            return 1;
        }
    };
    // jemalloc's background thread gives freed pages back to the system once they have been free
    // for its decay time (10 s), also while the server is idle, as redis-server's does by default
    // (`jemalloc-bg-thread yes`). Without it pages are only returned when the allocator is busy:
    // the old copies of the shards' tables that a load frees as it grows them stayed resident
    // (about 110 MiB of RSS after 1M SETs). Started here, after any daemonizing fork.
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        log.warning(&format!("Can't start jemalloc's background thread: {e}"));
    }
    let threads = config.server_threads;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        // Blocking work (active expiry, saves) gets a bounded pool: each thread costs
        // a stack and an allocator cache.
        .max_blocking_threads(4)
        .thread_name("meshkv-worker")
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            log.warning(&format!("cannot start the runtime: {e}"));
            return 1;
        }
    };
    let flash = match &config.flash_path {
        Some(path) => {
            let path = config.dir.join(path);
            match meshkv_storage::flash::FlashStore::open(&path, config.databases, config.appendfsync) {
                Ok(store) => {
                    log.notice(&format!("FLASH tier at {} ({} keys)", path.display(), store.total_keys()));
                    Some(store)
                }
                Err(e) => {
                    log.warning(&format!("Can't open the flash store at {}: {e}", path.display()));
                    return 1;
                }
            }
        }
        None => None,
    };
    let ceiling = match meshkv_replication::Ceiling::load(&config.dir) {
        Ok(ceiling) => ceiling,
        Err(e) => {
            log.warning(&e.to_string());
            return 1;
        }
    };
    let tls = match meshkv::tls::Tls::load(&config) {
        Ok(tls) => tls,
        Err(e) => {
            log.warning(&e.to_string());
            return 1;
        }
    };
    let aclfile = (!config.aclfile.is_empty()).then(|| config.aclfile.clone());
    if aclfile.is_some() && !config.acl_users.is_empty() {
        log.warning(
            "Configuring meshkv with users defined in the config file and at the same setting an ACL file path is \
             invalid. This setup is very likely to lead to configuration errors and security holes, please define \
             either an ACL file or declare users directly in your config file, but not both.",
        );
        return 1;
    }
    let server = Server::with_flash(config, identity, log, flash);
    if let Some(file) = aclfile {
        match meshkv::acl::load_acl_file(&file, server.acl.pubsub_default()) {
            Ok(users) => {
                server.acl.replace(users, true);
                server.acl_changed();
            }
            Err(e) => {
                server.log.warning(&format!("Aborting meshkv startup because of ACL errors: {e}"));
                return 1;
            }
        }
    }
    server.install_tls(tls);
    // Before anything loads or stamps: the clock starts above every stamp of earlier runs.
    server.clock.witness(Stamp::last_of(ceiling.1));
    server.clock.set_ceiling(ceiling.0);
    if server.keyspace.flash().is_some() {
        if let Err(e) = meshkv::reader::Readers::start(&server) {
            server.log.warning(&format!("cannot start the flash reader threads: {e}"));
            return 1;
        }
    }
    if let Err(e) = meshkv::persistence::load_at_start(&server) {
        server.log.warning(&format!("Fatal error loading the data, refusing to start: {e}"));
        return 1;
    }
    let code = runtime.block_on(run(server, threads, supervisor));
    // Not waiting for the workers: one may still be running a script that never ends (SHUTDOWN
    // NOSAVE while busy), and the process is about to exit anyway.
    runtime.shutdown_background();
    code
}

async fn run(server: Arc<Server>, threads: usize, supervisor: &Supervisor) -> i32 {
    let listeners = match meshkv::listener::bind(&server).await {
        Ok(l) => l,
        Err(e) => {
            server.log.warning(&e.to_string());
            return 1;
        }
    };
    let (port, tls_port) = {
        let c = server.config.read();
        (c.port, c.tls_port)
    };
    server.log.notice(&format!(
        "meshkv {} (Redis {} compatible) started: pid {}, port {port}, tls-port {tls_port}, {threads} server threads, node {}",
        env!("CARGO_PKG_VERSION"),
        meshkv::REDIS_COMPAT_VERSION,
        std::process::id(),
        server.identity.uuid()
    ));
    // Before the first client: the change log must see every write this node takes.
    start_replication(&server);
    let maxmemory = server.config.read().maxmemory;
    meshkv::memory::size_probation_queue(&server, maxmemory);
    // The signal handlers go in before the first client can connect: a SIGTERM that arrived
    // before they were installed would kill the process without its shutdown save.
    use tokio::signal::unix::{signal, SignalKind};
    let (mut interrupt, mut terminate) = (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok());
    server.log.notice("Ready to accept connections tcp");
    supervisor.ready();
    meshkv::listener::start(&server, listeners);
    tokio::spawn(active_expiry(server.clone()));
    let watched = server.clone();
    if let Err(e) =
        std::thread::Builder::new().name("meshkv-memory".into()).spawn(move || meshkv::memory::watch(watched))
    {
        server.log.warning(&format!("cannot start the memory thread: {e}"));
        return 1;
    }
    tokio::spawn(meshkv::persistence::save_cron(server.clone()));
    tokio::spawn(meshkv::aof::cron(server.clone()));
    loop {
        tokio::select! {
            _ = server.shutdown.notified() => break,
            _ = next_signal(&mut interrupt) => server.log.warning("Received SIGINT scheduling shutdown..."),
            _ = next_signal(&mut terminate) => server.log.warning("Received SIGTERM scheduling shutdown..."),
        }
        // A signal: save first when `save` rules are configured, as Redis does; if that fails,
        // stay up (the data would be lost otherwise).
        let wants_save = !server.config.read().save.is_empty() || server.keyspace.flash().is_some();
        if server.shutdown_saved.load(std::sync::atomic::Ordering::Acquire) || !wants_save {
            break;
        }
        let s = server.clone();
        if tokio::task::spawn_blocking(move || meshkv::persistence::save_on_shutdown(&s)).await.unwrap_or(false) {
            break;
        }
    }
    // As Redis at shutdown: what the append-only file was told is written and synced.
    let s = server.clone();
    let _ = tokio::task::spawn_blocking(move || meshkv::aof::sync_at_exit(&s)).await;
    supervisor.stopping();
    server.log.log(LogLevel::Warning, "meshkv is now ready to exit, bye bye...");
    0
}

/// The next delivery of a signal whose handler is installed (never, if it could not be).
async fn next_signal(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Removes expired keys in the background, `hz` times a second, like Redis's active expiry; about
/// once a second also drops tombstones older than `repl-tombstone-ttl`.
async fn active_expiry(server: Arc<Server>) {
    let mut last_purge = std::time::Instant::now();
    loop {
        let hz = server.config.read().hz.max(1);
        tokio::time::sleep(Duration::from_millis(1000 / hz as u64)).await;
        let s = server.clone();
        if s.pause.active() {
            continue; // CLIENT PAUSE: no key changes while clients are held
        }
        let _ = tokio::task::spawn_blocking(move || {
            s.keyspace.expire_cycle(unix_ms(), 20);
            s.clock.tick(unix_ms()); // may write the ceiling file: off the runtime's threads
        })
        .await;
        if server.keyspace.feeding() && last_purge.elapsed() >= Duration::from_secs(1) {
            last_purge = std::time::Instant::now();
            let horizon_ms = server.config.read().repl_tombstone_ttl * 1000;
            let s = server.clone();
            let _ =
                tokio::task::spawn_blocking(move || s.keyspace.purge_tombstones(unix_ms().saturating_sub(horizon_ms)))
                    .await;
        }
    }
}

/// Starts replication when the configuration asks for it: an active replica keeps a change log
/// from the start (so peers can resume from it), and each `replicaof` line gets a link.
fn start_replication(server: &Arc<Server>) {
    let (active, peers) = {
        let config = server.config.read();
        (config.active_replica, config.replicaof.clone())
    };
    if active || !peers.is_empty() {
        server.mesh.start(&**server);
    }
    for (host, port) in peers {
        let me: Arc<dyn meshkv_replication::Host> = server.clone();
        server.mesh.add_peer(me, &host, port);
        server.log.notice(&format!("replication: pulling changes from {host}:{port}"));
    }
    server.refresh_read_only();
}
