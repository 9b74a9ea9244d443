//! Configuration: keydb.conf-style files, command-line overrides, CONFIG GET/SET.
//!
//! Every supported directive is one row of [`DIRECTIVES`]: its name, default, how to read it into
//! [`Config`] and how to print it back. The file parser ([`file`]) and CONFIG SET both go through
//! those rows, so a value is validated the same way wherever it comes from. Every other directive
//! Redis 7.0 or KeyDB defines has a rule in [`known::RULES`]: accepted without effect (it tunes
//! something meshkv does differently), or refused at start.

mod encoding;
pub mod file;
mod known;

use std::path::PathBuf;

use meshkv_storage::Policy;

pub use encoding::EncodingLimits;
pub use file::{load, load_text, ConfigError};
pub use known::{rule, Rule, REPORTED_UNIMPLEMENTED, RULES};

/// Log verbosity (`loglevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Much, but not everything.
    Verbose,
    /// Moderately verbose, what production wants.
    Notice,
    /// Only important messages.
    Warning,
    /// Nothing.
    Nothing,
}

/// Who may use a protected action (`enable-debug-command`, `enable-protected-configs`), as
/// Redis 7's `yes`, `no` and `local` (clients connected from 127.0.0.1 or ::1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Nobody.
    No,
    /// Every client.
    Yes,
    /// Local clients only.
    Local,
}

impl Allowed {
    fn parse(args: &[String]) -> Result<Allowed, String> {
        match one(args)?.to_ascii_lowercase().as_str() {
            "no" => Ok(Allowed::No),
            "yes" => Ok(Allowed::Yes),
            "local" => Ok(Allowed::Local),
            _ => Err("argument(s) must be one of the following: no, yes, local".into()),
        }
    }

    fn name(self) -> String {
        match self {
            Allowed::No => "no",
            Allowed::Yes => "yes",
            Allowed::Local => "local",
        }
        .to_string()
    }

    /// True if a client (`local`: connected from 127.0.0.1 or ::1) may take the action.
    pub fn permits(self, local: bool) -> bool {
        self == Allowed::Yes || (self == Allowed::Local && local)
    }
}

/// Directives CONFIG SET may change only as `enable-protected-configs` allows (Redis 7's
/// protected configs): where snapshots are written is where a client could make the server write
/// a file.
pub const PROTECTED_CONFIGS: &[&str] = &["dir", "dbfilename"];

/// The running configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Addresses to listen on.
    pub bind: Vec<String>,
    /// TCP port (0: do not listen).
    pub port: u16,
    /// Refuse non-loopback clients when no password is set and `bind` was not configured.
    pub protected_mode: bool,
    /// True once `bind` was given explicitly (protected mode only guards the default bind).
    pub bind_explicit: bool,
    /// Password of the default user; empty means none.
    pub requirepass: String,
    /// `user` lines: each user's name and rules, in file order (applied at start, after
    /// `requirepass`).
    pub acl_users: Vec<(String, Vec<String>)>,
    /// `aclfile`: where users are loaded from at start and by ACL LOAD, and saved by ACL SAVE.
    pub aclfile: String,
    /// `acllog-max-len`: entries ACL LOG keeps.
    pub acllog_max_len: u64,
    /// `acl-pubsub-default allchannels` (true) or `resetchannels`: the channels of new users.
    pub acl_pubsub_all: bool,
    /// Number of databases.
    pub databases: usize,
    /// Worker threads executing commands (KeyDB's `server-threads`).
    pub server_threads: usize,
    /// Maximum simultaneous clients.
    pub maxclients: usize,
    /// Close clients idle this many seconds (0: never).
    pub timeout: u64,
    /// TCP keepalive period in seconds (0: off).
    pub tcp_keepalive: u64,
    /// Log verbosity.
    pub loglevel: LogLevel,
    /// Log file; empty means standard output.
    pub logfile: String,
    /// Working directory for data files.
    pub dir: PathBuf,
    /// Background task frequency (active expiry), per second.
    pub hz: u32,
    /// Largest bulk argument a client may send.
    pub proto_max_bulk_len: u64,
    /// Largest query buffer a client may accumulate.
    pub client_query_buffer_limit: u64,
    /// Commands slower than this many microseconds go to the slow log (negative: off).
    pub slowlog_log_slower_than: i64,
    /// Slow log length.
    pub slowlog_max_len: u64,
    /// `busy-reply-threshold` (alias `lua-time-limit`): after this many milliseconds a running
    /// script makes other clients' commands fail with BUSY (and SCRIPT KILL may stop it).
    pub busy_reply_threshold: u64,
    /// Remote stamps further ahead of the local clock than this are refused (ms).
    pub max_clock_drift: u64,
    /// Snapshot rules: save when at least `.1` changes happened within `.0` seconds. Empty: no
    /// automatic snapshots (and SHUTDOWN does not save unless asked to).
    pub save: Vec<(u64, u64)>,
    /// True once a `save` line of the config file replaced the defaults (later lines add rules).
    pub save_explicit: bool,
    /// The snapshot file's name, in `dir`.
    pub dbfilename: String,
    /// `storage-provider flash PATH`: the FLASH tier's RocksDB directory (relative paths are
    /// inside `dir`); None for RAM only.
    pub flash_path: Option<PathBuf>,
    /// When the FLASH tier syncs its write-ahead log, and the append-only file is synced
    /// (`appendfsync`).
    pub appendfsync: meshkv_storage::flash::Fsync,
    /// `appendonly yes`: RAM mode keeps an append-only file (see `crate::aof`).
    pub appendonly: bool,
    /// `appendfilename`: the base name of the append-only file's parts and manifest.
    pub appendfilename: String,
    /// `appenddirname`: the directory, in `dir`, that holds them.
    pub appenddirname: String,
    /// `aof-load-truncated yes`: an append-only file cut short at its end loads (and is cut back
    /// to its last whole record); `no`: the server refuses to start.
    pub aof_load_truncated: bool,
    /// `auto-aof-rewrite-percentage`: rewrite once the file grew by this much over its base (0: never).
    pub auto_aof_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size`: ... and is at least this big.
    pub auto_aof_rewrite_min_size: u64,
    /// `no-appendfsync-on-rewrite yes`: no fsync of the append-only file while a rewrite runs.
    pub no_appendfsync_on_rewrite: bool,
    /// Memory limit in bytes (0: none); see `crate::memory`.
    pub maxmemory: u64,
    /// What to do when over `maxmemory`.
    pub maxmemory_policy: Policy,
    /// Keys sampled per eviction.
    pub maxmemory_samples: u32,
    /// Minutes of idleness that lower a key's LFU counter by one (0: never).
    pub lfu_decay_time: u64,
    /// The configuration file the server started from (absolute), empty if none (INFO).
    pub config_file: PathBuf,
    /// `active-replica yes`: a master that also merges its peers' writes (KeyDB's directive).
    pub active_replica: bool,
    /// `multi-master yes`: several `replicaof` peers at once.
    pub multi_master: bool,
    /// `multi-master-no-forward yes`: followers get only this node's own changes (full mesh), and
    /// their own ones of an earlier run (which a restart may have lost).
    pub multi_master_no_forward: bool,
    /// `replicaof HOST PORT` lines: the peers to pull changes from.
    pub replicaof: Vec<(String, u16)>,
    /// Password sent to peers (`masterauth`); empty for none.
    pub masterauth: String,
    /// User name sent with it (`masteruser`); empty for the default user.
    pub masteruser: String,
    /// A plain (not active) replica refuses writes from clients.
    pub replica_read_only: bool,
    /// Bytes of recent changes kept for partial resyncs (`repl-backlog-size`).
    pub repl_backlog_size: u64,
    /// Seconds of silence after which a replication link is dropped (`repl-timeout`).
    pub repl_timeout: u64,
    /// Seconds a tombstone (a deleted key's stamp) is kept (`repl-tombstone-ttl`).
    pub repl_tombstone_ttl: u64,
    /// `client-output-buffer-limit`: per class (`normal`, `replica`, `pubsub`), hard bytes, soft
    /// bytes, soft seconds. The replica class is enforced on replication links, the others on
    /// client connections (see `crate::output_limit`).
    pub output_limits: [(u64, u64, u64); 3],
    /// `client-reply-size-limit` (meshkv's own): the most bytes one client may have waiting to be
    /// written whatever its class's limits (`normal 0 0 0` means none), so that no reply can
    /// take the node down.
    pub client_reply_size_limit: u64,
    /// Test and chaos knob: this node's wall clock runs this many ms off the system's.
    pub debug_clock_skew_ms: i64,
    /// `daemonize yes`: detach into the background at start (unless a supervisor was found).
    pub daemonize: bool,
    /// `pidfile`: where the process id is written at start (removed at a clean shutdown); empty
    /// for none, unless daemonized (then `crate::process::DEFAULT_PIDFILE`).
    pub pidfile: String,
    /// `supervised`: how readiness is told to a supervisor.
    pub supervised: crate::process::Supervised,
    /// `stop-writes-on-bgsave-error yes`: after a failed background save (with `save` rules
    /// configured), refuse writes with MISCONF until a save succeeds.
    pub stop_writes_on_bgsave_error: bool,
    /// `enable-debug-command`: who may run DEBUG.
    pub enable_debug_command: Allowed,
    /// `enable-protected-configs`: who may CONFIG SET the [`PROTECTED_CONFIGS`].
    pub enable_protected_configs: Allowed,
    /// `rename-command OLD NEW` lines in order (NEW empty: the command is disabled), each checked
    /// against the command table as the lines before it left it.
    pub renamed_commands: Vec<(String, String)>,
    /// `hash-max-listpack-entries` and the other thresholds of Redis's compact encodings.
    pub encodings: EncodingLimits,
    /// `notify-keyspace-events`: the classes of keyspace notifications published (see
    /// `crate::notify`), 0 for none.
    pub notify_keyspace_events: u32,
    /// `tracking-table-max-keys`: client-side caching remembers at most this many keys (0: no
    /// limit); keys over it are forgotten with an invalidation (see `crate::tracking`).
    pub tracking_table_max_keys: u64,
    // TLS (`crate::tls` reads the files at start).
    /// `tls-port`: a listener for TLS clients (0: none).
    pub tls_port: u16,
    /// `tls-cert-file`: this node's certificate chain (PEM), for clients and peers.
    pub tls_cert_file: String,
    /// `tls-key-file`: its private key (PEM).
    pub tls_key_file: String,
    /// `tls-ca-cert-file`: the authorities whose clients and peers are trusted (PEM).
    pub tls_ca_cert_file: String,
    /// `tls-auth-clients`: must TLS clients present a certificate?
    pub tls_auth_clients: TlsAuthClients,
    /// `tls-replication yes`: links to peers speak TLS.
    pub tls_replication: bool,
}

/// `tls-auth-clients`: whether a TLS client must present a certificate the CA signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsAuthClients {
    /// A client without a valid certificate is refused (Redis's default).
    Yes,
    /// No certificate is asked for.
    No,
    /// A certificate is checked when the client sends one.
    Optional,
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            bind: Vec::new(),
            port: 0,
            protected_mode: false,
            bind_explicit: false,
            requirepass: String::new(),
            acl_users: Vec::new(),
            aclfile: String::new(),
            acllog_max_len: 128,
            acl_pubsub_all: false,
            databases: 0,
            server_threads: 0,
            maxclients: 0,
            timeout: 0,
            tcp_keepalive: 0,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            dir: PathBuf::from("."),
            hz: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            busy_reply_threshold: 0,
            max_clock_drift: 0,
            save: Vec::new(),
            save_explicit: false,
            dbfilename: String::new(),
            flash_path: None,
            appendfsync: meshkv_storage::flash::Fsync::EverySec,
            appendonly: false,
            appendfilename: String::new(),
            appenddirname: String::new(),
            aof_load_truncated: true,
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            no_appendfsync_on_rewrite: false,
            maxmemory: 0,
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 0,
            lfu_decay_time: 0,
            config_file: PathBuf::new(),
            active_replica: false,
            multi_master: false,
            multi_master_no_forward: false,
            replicaof: Vec::new(),
            masterauth: String::new(),
            masteruser: String::new(),
            replica_read_only: true,
            repl_backlog_size: 0,
            repl_timeout: 0,
            repl_tombstone_ttl: 0,
            output_limits: [(0, 0, 0); 3],
            client_reply_size_limit: 0,
            debug_clock_skew_ms: 0,
            renamed_commands: Vec::new(),
            daemonize: false,
            pidfile: String::new(),
            supervised: crate::process::Supervised::No,
            stop_writes_on_bgsave_error: true,
            enable_debug_command: Allowed::Yes,
            enable_protected_configs: Allowed::No,
            encodings: EncodingLimits::default(),
            notify_keyspace_events: 0,
            tracking_table_max_keys: 0,
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_auth_clients: TlsAuthClients::Yes,
            tls_replication: false,
        };
        for d in DIRECTIVES {
            let args: Vec<String> = file::split_line(d.default).unwrap_or_default();
            (d.set)(&mut config, &args).expect("every default parses");
        }
        config.bind_explicit = false;
        config.save_explicit = false;
        config
    }
}

/// One supported directive.
pub struct Directive {
    /// Its name, lower case.
    pub name: &'static str,
    /// Its default, as it would be written in a config file.
    pub default: &'static str,
    /// May CONFIG SET change it while running?
    pub mutable: bool,
    /// Parses arguments into the config; the error is Redis's message for a bad value.
    pub set: fn(&mut Config, &[String]) -> Result<(), String>,
    /// The value as CONFIG GET prints it.
    pub get: fn(&Config) -> String,
}

/// `save <seconds> <changes> [<seconds> <changes> ...]`, as Redis 7 reads it: a single argument
/// (CONFIG SET, or `save ""`) replaces every rule; in a config file the first `save` line replaces
/// the defaults and later lines add to them.
fn set_save(c: &mut Config, args: &[String]) -> Result<(), String> {
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut rules = Vec::new();
    for pair in words.chunks(2) {
        let secs = pair[0].parse::<u64>().map_err(|_| "Invalid save parameters".to_string())?;
        let changes = pair[1].parse::<u64>().map_err(|_| "Invalid save parameters".to_string())?;
        rules.push((secs, changes));
    }
    if args.len() == 1 || !c.save_explicit {
        c.save.clear();
    }
    c.save.extend(rules);
    c.save_explicit = args.len() > 1;
    Ok(())
}

fn one(args: &[String]) -> Result<&str, String> {
    match args {
        [v] => Ok(v),
        _ => Err("wrong number of arguments".into()),
    }
}

fn yes_no(args: &[String]) -> Result<bool, String> {
    match one(args)?.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn int_in(args: &[String], min: i64, max: i64) -> Result<i64, String> {
    let v: i64 = one(args)?.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if v < min || v > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(v)
}

/// `replicaof HOST PORT`: each line adds a peer; `replicaof ""` (or `no one`) clears the list.
fn set_replicaof(c: &mut Config, args: &[String]) -> Result<(), String> {
    match args {
        [] => c.replicaof.clear(),
        [one] if one.is_empty() => c.replicaof.clear(),
        [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => c.replicaof.clear(),
        [host, port] => {
            let port: u16 = port.parse().map_err(|_| "Invalid master port".to_string())?;
            if !c.replicaof.iter().any(|(h, p)| h == host && *p == port) {
                c.replicaof.push((host.clone(), port));
            }
        }
        _ => return Err("wrong number of arguments".into()),
    }
    Ok(())
}

const OUTPUT_CLASSES: [&str; 3] = ["normal", "replica", "pubsub"];

/// `client-output-buffer-limit <class> <hard> <soft> <soft seconds> [<class> ...]`, as Redis reads it
/// (`slave` is another name for `replica`).
fn set_output_limits(c: &mut Config, args: &[String]) -> Result<(), String> {
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    if words.is_empty() || !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits = c.output_limits;
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "replica" | "slave" => 1,
            "pubsub" => 2,
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        const BAD: &str = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let amount = |w: &str| parse_memory(w).ok_or_else(|| BAD.to_string());
        let secs: u64 = group[3].parse().map_err(|_| BAD.to_string())?;
        limits[class] = (amount(group[1])?, amount(group[2])?, secs);
    }
    c.output_limits = limits;
    Ok(())
}

fn get_output_limits(c: &Config) -> String {
    let parts: Vec<String> = OUTPUT_CLASSES
        .iter()
        .zip(c.output_limits)
        .map(|(class, (hard, soft, secs))| {
            format!("{} {hard} {soft} {secs}", if *class == "replica" { "slave" } else { class })
        })
        .collect();
    parts.join(" ")
}

/// Parses a memory amount the way Redis does: `1k`=1000, `1kb`=1024, also m/mb and g/gb.
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, u64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
    ];
    for (suffix, mul) in units {
        if let Some(n) = lower.strip_suffix(suffix) {
            return n.parse::<u64>().ok()?.checked_mul(mul);
        }
    }
    lower.parse().ok()
}

fn memory(args: &[String]) -> Result<u64, String> {
    parse_memory(one(args)?).ok_or_else(|| "argument must be a memory value".to_string())
}

/// A memory value of at least 1mb (`proto-max-bulk-len`, `client-reply-size-limit`), with Redis's
/// error for less.
fn memory_at_least_1mb(a: &[String]) -> Result<u64, String> {
    let v = memory(a)?;
    if v < 1024 * 1024 {
        return Err("argument must be a memory value greater than or equal to 1mb".into());
    }
    Ok(v)
}

fn yn(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// A count of at most `LONG_MAX`, as Redis's size_t directives take.
fn count(a: &[String]) -> Result<u64, String> {
    Ok(int_in(a, 0, i64::MAX)? as u64)
}

/// A memory value of at most `LONG_MAX` bytes (Redis's size_t memory directives).
fn memory_up_to_long_max(a: &[String]) -> Result<u64, String> {
    let v = memory(a)?;
    if v > i64::MAX as u64 {
        return Err(format!("argument must be between 0 and {} inclusive", i64::MAX));
    }
    Ok(v)
}

/// Every directive meshkv implements.
pub static DIRECTIVES: &[Directive] = &[
    Directive {
        name: "bind",
        default: "127.0.0.1 -::1",
        mutable: false,
        set: |c, a| {
            if a.is_empty() {
                return Err("wrong number of arguments".into());
            }
            c.bind = a.to_vec();
            c.bind_explicit = true;
            Ok(())
        },
        get: |c| c.bind.join(" "),
    },
    Directive {
        name: "port",
        default: "6379",
        // CONFIG SET listens on the new port before it lets the old one go (see
        // `crate::listener::bind_port_now`).
        mutable: true,
        set: |c, a| {
            c.port = int_in(a, 0, 65535)? as u16;
            Ok(())
        },
        get: |c| c.port.to_string(),
    },
    Directive {
        name: "protected-mode",
        default: "yes",
        mutable: true,
        set: |c, a| {
            c.protected_mode = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.protected_mode),
    },
    Directive {
        name: "requirepass",
        default: "\"\"",
        mutable: true,
        set: |c, a| {
            c.requirepass = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.requirepass.clone(),
    },
    Directive {
        name: "acl-pubsub-default",
        default: "resetchannels",
        mutable: true,
        set: |c, a| {
            c.acl_pubsub_all = match one(a)?.to_ascii_lowercase().as_str() {
                "allchannels" => true,
                "resetchannels" => false,
                _ => return Err("argument(s) must be one of the following: allchannels, resetchannels".into()),
            };
            Ok(())
        },
        get: |c| if c.acl_pubsub_all { "allchannels" } else { "resetchannels" }.to_string(),
    },
    Directive {
        name: "aclfile",
        default: "\"\"",
        mutable: false,
        set: |c, a| {
            c.aclfile = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.aclfile.clone(),
    },
    Directive {
        name: "acllog-max-len",
        default: "128",
        mutable: true,
        set: |c, a| {
            c.acllog_max_len = count(a)?;
            Ok(())
        },
        get: |c| c.acllog_max_len.to_string(),
    },
    Directive {
        name: "enable-debug-command",
        default: "yes",
        mutable: false,
        set: |c, a| {
            c.enable_debug_command = Allowed::parse(a)?;
            Ok(())
        },
        get: |c| c.enable_debug_command.name(),
    },
    Directive {
        name: "enable-protected-configs",
        default: "no",
        mutable: false,
        set: |c, a| {
            c.enable_protected_configs = Allowed::parse(a)?;
            Ok(())
        },
        get: |c| c.enable_protected_configs.name(),
    },
    Directive {
        name: "databases",
        default: "16",
        mutable: false,
        set: |c, a| {
            c.databases = int_in(a, 1, 10_000)? as usize;
            Ok(())
        },
        get: |c| c.databases.to_string(),
    },
    Directive {
        name: "server-threads",
        default: "0",
        mutable: false,
        set: |c, a| {
            let n = int_in(a, 0, 1024)? as usize;
            c.server_threads = if n == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { n };
            Ok(())
        },
        get: |c| c.server_threads.to_string(),
    },
    Directive {
        name: "maxclients",
        default: "10000",
        mutable: true,
        set: |c, a| {
            c.maxclients = int_in(a, 1, i32::MAX as i64)? as usize;
            Ok(())
        },
        get: |c| c.maxclients.to_string(),
    },
    Directive {
        name: "timeout",
        default: "0",
        mutable: true,
        set: |c, a| {
            c.timeout = int_in(a, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.timeout.to_string(),
    },
    Directive {
        name: "tcp-keepalive",
        default: "300",
        mutable: true,
        set: |c, a| {
            c.tcp_keepalive = int_in(a, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.tcp_keepalive.to_string(),
    },
    Directive {
        name: "loglevel",
        default: "notice",
        mutable: true,
        set: |c, a| {
            c.loglevel = match one(a)?.to_ascii_lowercase().as_str() {
                "debug" => LogLevel::Debug,
                "verbose" => LogLevel::Verbose,
                "notice" => LogLevel::Notice,
                "warning" => LogLevel::Warning,
                "nothing" => LogLevel::Nothing,
                _ => {
                    return Err(
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into()
                    )
                }
            };
            Ok(())
        },
        get: |c| {
            match c.loglevel {
                LogLevel::Debug => "debug",
                LogLevel::Verbose => "verbose",
                LogLevel::Notice => "notice",
                LogLevel::Warning => "warning",
                LogLevel::Nothing => "nothing",
            }
            .to_string()
        },
    },
    Directive {
        name: "logfile",
        default: "\"\"",
        mutable: false,
        set: |c, a| {
            c.logfile = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.logfile.clone(),
    },
    Directive {
        name: "daemonize",
        default: "no",
        mutable: false,
        set: |c, a| {
            c.daemonize = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.daemonize),
    },
    Directive {
        name: "pidfile",
        default: "\"\"",
        mutable: false,
        set: |c, a| {
            c.pidfile = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.pidfile.clone(),
    },
    Directive {
        name: "supervised",
        default: "no",
        mutable: false,
        set: |c, a| {
            c.supervised = crate::process::Supervised::parse(one(a)?)
                .ok_or("argument(s) must be one of the following: upstart, systemd, auto, no")?;
            Ok(())
        },
        get: |c| c.supervised.name().to_string(),
    },
    Directive {
        name: "dir",
        default: "./",
        mutable: true,
        set: |c, a| {
            c.dir = PathBuf::from(one(a)?);
            Ok(())
        },
        get: |c| c.dir.display().to_string(),
    },
    Directive {
        name: "save",
        default: "3600 1 300 100 60 10000",
        mutable: true,
        set: set_save,
        get: |c| c.save.iter().map(|(secs, changes)| format!("{secs} {changes}")).collect::<Vec<_>>().join(" "),
    },
    Directive {
        name: "stop-writes-on-bgsave-error",
        default: "yes",
        mutable: true,
        set: |c, a| {
            c.stop_writes_on_bgsave_error = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.stop_writes_on_bgsave_error),
    },
    Directive {
        name: "dbfilename",
        default: "dump.msnap",
        mutable: true,
        set: |c, a| {
            let name = one(a)?;
            if name.contains('/') || name.is_empty() {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            c.dbfilename = name.to_string();
            Ok(())
        },
        get: |c| c.dbfilename.clone(),
    },
    Directive {
        name: "storage-provider",
        default: "none",
        mutable: false,
        set: |c, a| {
            match a {
                [p] if p.eq_ignore_ascii_case("none") => c.flash_path = None,
                [kind, path] if kind.eq_ignore_ascii_case("flash") && !path.is_empty() => {
                    c.flash_path = Some(PathBuf::from(path))
                }
                _ => return Err("argument must be 'none' or 'flash <path>'".into()),
            }
            Ok(())
        },
        get: |c| match &c.flash_path {
            Some(p) => format!("flash {}", p.display()),
            None => "none".into(),
        },
    },
    Directive {
        name: "appendfsync",
        default: "everysec",
        mutable: true,
        set: |c, a| {
            c.appendfsync = meshkv_storage::flash::Fsync::parse(one(a)?)
                .ok_or("argument(s) must be one of the following: always, everysec, no")?;
            Ok(())
        },
        get: |c| c.appendfsync.name().to_string(),
    },
    Directive {
        name: "appendonly",
        default: "no",
        mutable: true,
        set: |c, a| {
            c.appendonly = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.appendonly),
    },
    Directive {
        name: "appendfilename",
        default: "appendonly.aof",
        mutable: false,
        set: |c, a| {
            let name = one(a)?;
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err("appendfilename can't be a path, just a filename".into());
            }
            c.appendfilename = name.to_string();
            Ok(())
        },
        get: |c| c.appendfilename.clone(),
    },
    Directive {
        name: "appenddirname",
        default: "appendonlydir",
        mutable: false,
        set: |c, a| {
            let name = one(a)?;
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err("appenddirname can't be a path, just a dirname".into());
            }
            c.appenddirname = name.to_string();
            Ok(())
        },
        get: |c| c.appenddirname.clone(),
    },
    Directive {
        name: "aof-load-truncated",
        default: "yes",
        mutable: true,
        set: |c, a| {
            c.aof_load_truncated = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.aof_load_truncated),
    },
    Directive {
        name: "auto-aof-rewrite-percentage",
        default: "100",
        mutable: true,
        set: |c, a| {
            c.auto_aof_rewrite_percentage = int_in(a, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
    },
    Directive {
        name: "auto-aof-rewrite-min-size",
        default: "64mb",
        mutable: true,
        set: |c, a| {
            c.auto_aof_rewrite_min_size = memory(a)?;
            Ok(())
        },
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
    },
    Directive {
        name: "no-appendfsync-on-rewrite",
        default: "no",
        mutable: true,
        set: |c, a| {
            c.no_appendfsync_on_rewrite = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.no_appendfsync_on_rewrite),
    },
    Directive {
        name: "hz",
        default: "10",
        mutable: true,
        set: |c, a| {
            c.hz = int_in(a, 1, 500)? as u32;
            Ok(())
        },
        get: |c| c.hz.to_string(),
    },
    Directive {
        name: "proto-max-bulk-len",
        default: "512mb",
        mutable: true,
        set: |c, a| {
            c.proto_max_bulk_len = memory_at_least_1mb(a)?;
            Ok(())
        },
        get: |c| c.proto_max_bulk_len.to_string(),
    },
    Directive {
        name: "client-query-buffer-limit",
        default: "1gb",
        mutable: true,
        set: |c, a| {
            let v = memory(a)?;
            if v < 1024 * 1024 {
                return Err("argument must be a memory value greater than or equal to 1mb".into());
            }
            c.client_query_buffer_limit = v;
            Ok(())
        },
        get: |c| c.client_query_buffer_limit.to_string(),
    },
    Directive {
        name: "slowlog-log-slower-than",
        default: "10000",
        mutable: true,
        set: |c, a| {
            c.slowlog_log_slower_than = int_in(a, -1, i64::MAX)?;
            Ok(())
        },
        get: |c| c.slowlog_log_slower_than.to_string(),
    },
    Directive {
        name: "slowlog-max-len",
        default: "128",
        mutable: true,
        set: |c, a| {
            c.slowlog_max_len = int_in(a, 0, u32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.slowlog_max_len.to_string(),
    },
    Directive {
        name: "busy-reply-threshold",
        default: "5000",
        mutable: true,
        set: |c, a| {
            c.busy_reply_threshold = int_in(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.busy_reply_threshold.to_string(),
    },
    Directive {
        name: "lua-time-limit",
        default: "5000",
        mutable: true,
        set: |c, a| {
            c.busy_reply_threshold = int_in(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.busy_reply_threshold.to_string(),
    },
    Directive {
        name: "max-clock-drift",
        default: "5000",
        mutable: true,
        set: |c, a| {
            c.max_clock_drift = int_in(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.max_clock_drift.to_string(),
    },
    Directive {
        name: "maxmemory",
        default: "0",
        mutable: true,
        set: |c, a| {
            c.maxmemory = memory(a)?;
            Ok(())
        },
        get: |c| c.maxmemory.to_string(),
    },
    Directive {
        name: "maxmemory-policy",
        default: "noeviction",
        mutable: true,
        set: |c, a| {
            c.maxmemory_policy = Policy::from_name(one(a)?).ok_or_else(|| {
                let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
                format!("argument(s) must be one of the following: {}", names.join(", "))
            })?;
            Ok(())
        },
        get: |c| c.maxmemory_policy.name().to_string(),
    },
    Directive {
        name: "maxmemory-samples",
        default: "5",
        mutable: true,
        set: |c, a| {
            c.maxmemory_samples = int_in(a, 1, i32::MAX as i64)? as u32;
            Ok(())
        },
        get: |c| c.maxmemory_samples.to_string(),
    },
    Directive {
        name: "lfu-decay-time",
        default: "1",
        mutable: true,
        set: |c, a| {
            c.lfu_decay_time = int_in(a, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.lfu_decay_time.to_string(),
    },
    Directive {
        name: "hash-max-listpack-entries",
        default: "512",
        mutable: true,
        set: |c, a| {
            c.encodings.hash_max_listpack_entries = count(a)?;
            Ok(())
        },
        get: |c| c.encodings.hash_max_listpack_entries.to_string(),
    },
    Directive {
        name: "hash-max-listpack-value",
        default: "64",
        mutable: true,
        set: |c, a| {
            c.encodings.hash_max_listpack_value = memory_up_to_long_max(a)?;
            Ok(())
        },
        get: |c| c.encodings.hash_max_listpack_value.to_string(),
    },
    Directive {
        name: "zset-max-listpack-entries",
        default: "128",
        mutable: true,
        set: |c, a| {
            c.encodings.zset_max_listpack_entries = count(a)?;
            Ok(())
        },
        get: |c| c.encodings.zset_max_listpack_entries.to_string(),
    },
    Directive {
        name: "zset-max-listpack-value",
        default: "64",
        mutable: true,
        set: |c, a| {
            c.encodings.zset_max_listpack_value = memory_up_to_long_max(a)?;
            Ok(())
        },
        get: |c| c.encodings.zset_max_listpack_value.to_string(),
    },
    Directive {
        name: "set-max-intset-entries",
        default: "512",
        mutable: true,
        set: |c, a| {
            c.encodings.set_max_intset_entries = count(a)?;
            Ok(())
        },
        get: |c| c.encodings.set_max_intset_entries.to_string(),
    },
    Directive {
        name: "list-max-listpack-size",
        default: "-2",
        mutable: true,
        set: |c, a| {
            c.encodings.list_max_listpack_size = int_in(a, i32::MIN.into(), i32::MAX.into())?;
            Ok(())
        },
        get: |c| c.encodings.list_max_listpack_size.to_string(),
    },
    Directive {
        name: "list-compress-depth",
        default: "0",
        mutable: true,
        set: |c, a| {
            c.encodings.list_compress_depth = int_in(a, 0, i32::MAX.into())? as u64;
            Ok(())
        },
        get: |c| c.encodings.list_compress_depth.to_string(),
    },
    Directive {
        name: "notify-keyspace-events",
        default: "\"\"",
        mutable: true,
        set: |c, a| {
            c.notify_keyspace_events =
                crate::notify::parse_flags(one(a)?).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
            Ok(())
        },
        get: |c| crate::notify::flags_to_string(c.notify_keyspace_events),
    },
    Directive {
        name: "tracking-table-max-keys",
        default: "1000000",
        mutable: true,
        set: |c, a| {
            c.tracking_table_max_keys = int_in(a, 0, i64::MAX)? as u64;
            Ok(())
        },
        get: |c| c.tracking_table_max_keys.to_string(),
    },
    Directive {
        name: "active-replica",
        default: "no",
        mutable: false,
        set: |c, a| {
            c.active_replica = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.active_replica),
    },
    Directive {
        name: "multi-master",
        default: "no",
        mutable: false,
        set: |c, a| {
            c.multi_master = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.multi_master),
    },
    Directive {
        name: "multi-master-no-forward",
        default: "no",
        mutable: true,
        set: |c, a| {
            c.multi_master_no_forward = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.multi_master_no_forward),
    },
    Directive {
        name: "replicaof",
        default: "\"\"",
        mutable: false,
        set: set_replicaof,
        get: |c| c.replicaof.iter().map(|(h, p)| format!("{h} {p}")).collect::<Vec<_>>().join(" "),
    },
    Directive {
        name: "masterauth",
        default: "\"\"",
        mutable: true,
        set: |c, a| {
            c.masterauth = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.masterauth.clone(),
    },
    Directive {
        name: "masteruser",
        default: "\"\"",
        mutable: true,
        set: |c, a| {
            c.masteruser = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.masteruser.clone(),
    },
    Directive {
        name: "replica-read-only",
        default: "yes",
        mutable: true,
        set: |c, a| {
            c.replica_read_only = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.replica_read_only),
    },
    Directive {
        name: "repl-backlog-size",
        default: "16mb",
        mutable: true,
        set: |c, a| {
            c.repl_backlog_size = memory(a)?.max(16 * 1024);
            Ok(())
        },
        get: |c| c.repl_backlog_size.to_string(),
    },
    Directive {
        name: "repl-timeout",
        default: "60",
        mutable: true,
        set: |c, a| {
            c.repl_timeout = int_in(a, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.repl_timeout.to_string(),
    },
    Directive {
        name: "repl-tombstone-ttl",
        default: "3600",
        mutable: true,
        set: |c, a| {
            c.repl_tombstone_ttl = int_in(a, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
        get: |c| c.repl_tombstone_ttl.to_string(),
    },
    Directive {
        name: "client-output-buffer-limit",
        default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        mutable: true,
        set: set_output_limits,
        get: get_output_limits,
    },
    Directive {
        name: "client-reply-size-limit",
        default: "1gb",
        mutable: true,
        set: |c, a| {
            c.client_reply_size_limit = memory_at_least_1mb(a)?;
            Ok(())
        },
        get: |c| c.client_reply_size_limit.to_string(),
    },
    Directive {
        name: "debug-clock-skew-ms",
        default: "0",
        mutable: true,
        set: |c, a| {
            c.debug_clock_skew_ms = int_in(a, -86_400_000, 86_400_000)?;
            Ok(())
        },
        get: |c| c.debug_clock_skew_ms.to_string(),
    },
    // TLS: read once at start (`crate::tls`), so none of them changes at run time.
    Directive {
        name: "tls-port",
        default: "0",
        mutable: false,
        set: |c, a| {
            c.tls_port = int_in(a, 0, 65535)? as u16;
            Ok(())
        },
        get: |c| c.tls_port.to_string(),
    },
    Directive {
        name: "tls-cert-file",
        default: "\"\"",
        mutable: false,
        set: |c, a| {
            c.tls_cert_file = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.tls_cert_file.clone(),
    },
    Directive {
        name: "tls-key-file",
        default: "\"\"",
        mutable: false,
        set: |c, a| {
            c.tls_key_file = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.tls_key_file.clone(),
    },
    Directive {
        name: "tls-ca-cert-file",
        default: "\"\"",
        mutable: false,
        set: |c, a| {
            c.tls_ca_cert_file = one(a)?.to_string();
            Ok(())
        },
        get: |c| c.tls_ca_cert_file.clone(),
    },
    Directive {
        name: "tls-auth-clients",
        default: "yes",
        mutable: false,
        set: |c, a| {
            c.tls_auth_clients = match one(a)?.to_ascii_lowercase().as_str() {
                "yes" => TlsAuthClients::Yes,
                "no" => TlsAuthClients::No,
                "optional" => TlsAuthClients::Optional,
                _ => return Err("argument(s) must be one of the following: no, yes, optional".into()),
            };
            Ok(())
        },
        get: |c| {
            match c.tls_auth_clients {
                TlsAuthClients::Yes => "yes",
                TlsAuthClients::No => "no",
                TlsAuthClients::Optional => "optional",
            }
            .to_string()
        },
    },
    Directive {
        name: "tls-replication",
        default: "no",
        mutable: false,
        set: |c, a| {
            c.tls_replication = yes_no(a)?;
            Ok(())
        },
        get: |c| yn(c.tls_replication),
    },
];

/// Directives the file loader reads itself rather than through a [`Directive`] row (they are not
/// values CONFIG GET could show).
pub const LOADER_DIRECTIVES: &[&str] = &["include", "rename-command", "user"];

/// The directive named `name` (case-insensitive; an old name such as `slaveof` finds its row).
pub fn directive(name: &str) -> Option<&'static Directive> {
    directive_row(known::canonical(name))
}

/// The row of `name` itself (case-insensitive), aliases not followed.
fn directive_row(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Every (older name, directive) pair CONFIG GET answers besides the directives' own names.
/// Redis answers to its older names too (`slaveof`, `slave-read-only`, the ziplist names of the
/// encoding thresholds): every alias of [`known::RULES`] whose directive is implemented.
pub fn aliases() -> impl Iterator<Item = (&'static str, &'static Directive)> {
    RULES.iter().filter_map(|(alias, rule)| match rule {
        Rule::Alias(name) => Some((*alias, directive_row(name)?)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_print_back() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.databases, 16);
        assert_eq!((directive("proto-max-bulk-len").unwrap().get)(&c), "536870912");
        assert_eq!((directive("protected-mode").unwrap().get)(&c), "yes");
        assert!(c.server_threads >= 1);
    }

    #[test]
    fn documented_config_file_lists_every_directive_with_its_default() {
        let text = include_str!("../../conf/meshkv.conf");
        for d in DIRECTIVES {
            let line = format!("\n{} {}\n", d.name, d.default);
            assert!(text.contains(&line), "conf/meshkv.conf lacks the line {:?}", line.trim());
        }
    }

    /// Ranges and error texts as redis-server 7.0.15 gives them for CONFIG SET.
    #[test]
    fn encoding_thresholds_parse_like_redis() {
        let mut c = Config::default();
        assert_eq!(c.encodings, EncodingLimits::default());
        let set = |c: &mut Config, name: &str, v: &str| (directive(name).unwrap().set)(c, &[v.to_string()]);
        set(&mut c, "hash-max-ziplist-value", "1k").unwrap();
        assert_eq!(c.encodings.hash_max_listpack_value, 1000);
        assert_eq!(set(&mut c, "zset-max-listpack-value", "-1").unwrap_err(), "argument must be a memory value");
        assert_eq!(
            set(&mut c, "zset-max-listpack-value", "9223372036854775808").unwrap_err(),
            "argument must be between 0 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            set(&mut c, "set-max-intset-entries", "1k").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set(&mut c, "list-compress-depth", "-1").unwrap_err(),
            "argument must be between 0 and 2147483647 inclusive"
        );
        set(&mut c, "LIST-MAX-ZIPLIST-SIZE", "-5").unwrap();
        assert_eq!((directive("list-max-listpack-size").unwrap().get)(&c), "-5");
        let aliases: Vec<&str> = aliases().map(|(alias, _)| alias).collect();
        for alias in [
            "hash-max-ziplist-entries",
            "zset-max-ziplist-value",
            "list-max-ziplist-size",
            "slaveof",
            "slave-read-only",
        ] {
            assert!(aliases.contains(&alias), "{alias}: {aliases:?}");
        }
    }

    #[test]
    fn memory_units_like_redis() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gb"), Some(2 << 30));
        assert_eq!(parse_memory("12"), Some(12));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn maxmemory_directives_parse_like_redis() {
        let mut c = Config::default();
        assert_eq!((c.maxmemory, c.maxmemory_policy, c.maxmemory_samples), (0, Policy::NoEviction, 5));
        (directive("maxmemory").unwrap().set)(&mut c, &["100mb".into()]).unwrap();
        assert_eq!(c.maxmemory, 100 << 20);
        (directive("maxmemory-policy").unwrap().set)(&mut c, &["ALLKEYS-LFU".into()]).unwrap();
        assert_eq!((directive("maxmemory-policy").unwrap().get)(&c), "allkeys-lfu");
        let e = (directive("maxmemory-policy").unwrap().set)(&mut c, &["bogus".into()]).unwrap_err();
        assert_eq!(e, "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
        assert!((directive("maxmemory-samples").unwrap().set)(&mut c, &["0".into()]).is_err());
        assert!((directive("maxmemory").unwrap().set)(&mut c, &["-1".into()]).is_err());
    }
}
