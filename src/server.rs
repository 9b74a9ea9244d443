//! The state every connection shares: keyspace, configuration, clients, pub/sub, statistics.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use meshkv_replication::{Host, HybridClock, Mesh, NodeIdentity, Settings};
use meshkv_storage::flash::WriteEvent;
use meshkv_storage::{KeyHasher, Keyspace, StripedCounter};
use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::client::ClientRegistry;
use crate::commands::CommandTable;
use crate::config::Config;
use crate::log::Logger;
use crate::memory::MemoryGauge;
use crate::pubsub::PubSub;
use crate::slowlog::SlowLog;

/// Server-wide counters for INFO stats.
#[derive(Default)]
pub struct ServerStats {
    /// Commands executed.
    pub commands: StripedCounter,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections refused (maxclients, protected mode).
    pub rejected_connections: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: StripedCounter,
    /// Bytes written to clients.
    pub net_output_bytes: StripedCounter,
    /// Error replies sent.
    pub error_replies: StripedCounter,
}

/// Configuration values read on every request, kept out of the config lock.
#[derive(Default)]
pub struct HotConfig {
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicU64,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: AtomicU64,
    /// True when `requirepass` is set.
    pub auth_required: AtomicBool,
    /// `slowlog-log-slower-than` in µs, offset by one so that -1 (off) is 0.
    pub slowlog_threshold_plus_one: AtomicU64,
    /// `timeout`: seconds an idle client may stay connected (0: forever).
    pub idle_timeout_secs: AtomicU64,
    /// True on a plain replica with `replica-read-only yes`: clients' writes are refused.
    pub read_only_replica: AtomicBool,
    /// `client-output-buffer-limit` (normal and pubsub classes) and `client-reply-size-limit`.
    pub output: crate::output_limit::OutputLimits,
}

/// Everything shared between connections: the keyspace, and [`Shared`], the rest.
///
/// The split is the locking rule in types. A command's handler runs while its dispatcher holds the
/// shard locks of the command's keys (for EXEC, of every queued command's keys), and shard locks
/// are not re-entrant: a handler that could reach the keyspace could lock a shard its own
/// transaction holds and wait for itself forever (`MULTI`, `SET k v`, `INFO`, `EXEC` once did,
/// through INFO's key counts). So a handler's [`Ctx`](crate::commands::Ctx) holds a `&Shared`,
/// which has no way to the keyspace, and the [`Txn`](meshkv_storage::Txn) its dispatcher opened,
/// which is the only way to keys; what must run with the whole server (start a BGSAVE thread, a
/// replication link) is handed back to the dispatcher with `Ctx::after`, which runs it once the
/// locks are released.
pub struct Server {
    /// The data. Reached by the dispatcher and background tasks, never by a handler.
    pub keyspace: Keyspace,
    shared: Shared,
    /// This server itself, for work that outlives a command (BGSAVE's thread, links).
    me: std::sync::Weak<Server>,
}

impl std::ops::Deref for Server {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// The server's state that takes no shard lock: configuration, clients, pub/sub, replication's
/// status, statistics. What a command handler may reach (see [`Server`]).
pub struct Shared {
    /// The configuration (read on rare paths; hot values are mirrored in `hot`).
    pub config: RwLock<Config>,
    /// Mirrors of hot configuration values.
    pub hot: HotConfig,
    /// The FLASH tier's store, when there is one (it takes no shard lock: its own state only).
    pub flash: Option<Arc<meshkv_storage::flash::FlashStore>>,
    /// Replication: peers, followers, the change backlog.
    pub mesh: Arc<Mesh>,
    /// FLASH tier: the threads that read cold keys (started by `main` on the FLASH tier).
    pub readers: Arc<crate::reader::Readers>,
    /// The clock that stamps writes.
    pub clock: Arc<HybridClock>,
    /// This node's durable identity.
    pub identity: NodeIdentity,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// Pub/sub subscriptions.
    pub pubsub: PubSub,
    /// Keyspace notifications: which classes are published (see [`Shared::notify`]).
    pub notifier: crate::notify::Notifier,
    /// Client-side caching (CLIENT TRACKING).
    pub tracking: crate::tracking::Tracking,
    /// CLIENT PAUSE.
    pub pause: crate::pause::Pause,
    /// The slow log.
    pub slowlog: SlowLog,
    /// Counters.
    pub stats: ServerStats,
    /// The command table.
    pub commands: CommandTable,
    /// INFO commandstats and errorstats.
    pub cmdstats: crate::commands::CommandStats,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// Log output.
    pub log: Logger,
    /// When the server started.
    pub started: Instant,
    /// Random id of this run (INFO run_id).
    pub run_id: String,
    /// Unix time (s) of the last successful save (LASTSAVE); the start time until one happens.
    pub last_save: AtomicU64,
    /// Signalled when SHUTDOWN is requested.
    pub shutdown: Notify,
    /// Set by SHUTDOWN once it has done its save (or was told not to): signals then skip theirs.
    pub shutdown_saved: std::sync::atomic::AtomicBool,
    /// Snapshot bookkeeping (SAVE, BGSAVE, INFO persistence).
    pub snapshots: crate::persistence::SnapshotState,
    /// The append-only file (RAM mode, `appendonly yes`).
    pub aof: crate::aof::Aof,
    /// Used memory as last read, against `maxmemory`.
    pub memory: MemoryGauge,
    /// Lua scripts: their cache and the one running.
    pub scripts: crate::scripting::Scripts,
    /// Redis 7 function libraries (FUNCTION LOAD, FCALL).
    pub functions: crate::scripting::functions::Functions,
    /// TLS, once `main` has loaded its files ([`Shared::install_tls`]).
    pub tls: std::sync::OnceLock<crate::tls::Tls>,
    /// The accept loops running, so that CONFIG SET port can replace the plain port's.
    pub accepting: crate::listener::AcceptLoops,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    ms.saturating_add_signed(CLOCK_SKEW_MS.load(Ordering::Relaxed))
}

/// `debug-clock-skew-ms`: how far this node's clock is set off the system's (tests of clock drift).
static CLOCK_SKEW_MS: AtomicI64 = AtomicI64::new(0);

impl Server {
    /// Builds the shared state for `config`.
    pub fn new(config: Config, identity: NodeIdentity, log: Logger) -> Arc<Server> {
        Self::with_flash(config, identity, log, None)
    }

    /// Builds the shared state over the FLASH tier's store when there is one.
    pub fn with_flash(
        config: Config,
        identity: NodeIdentity,
        log: Logger,
        flash: Option<Arc<meshkv_storage::flash::FlashStore>>,
    ) -> Arc<Server> {
        let clock = Arc::new(HybridClock::new(identity.node_id(), config.max_clock_drift));
        let keyspace = match flash.clone() {
            Some(flash) => Keyspace::with_flash(config.databases, clock.clone(), flash),
            None => Keyspace::new(config.databases, clock.clone(), KeyHasher::default()),
        };
        // RAM mode: the append-only file's journal sees every change while it is on.
        let aof_log = crate::aof::AofLog::new(config.appendfsync);
        if flash.is_none() {
            keyspace.install_journal(aof_log.clone());
        }
        let settings = replication_settings(&config, None);
        let mesh = Mesh::new(identity, unix_ms(), settings);
        let run_id: String = (0..40).map(|_| char::from_digit(rand::random_range(0..16), 16).unwrap_or('0')).collect();
        let shared = Shared {
            hot: HotConfig::default(),
            flash,
            mesh,
            readers: Default::default(),
            clock,
            identity,
            clients: ClientRegistry::default(),
            pubsub: PubSub::default(),
            notifier: Default::default(),
            tracking: crate::tracking::Tracking::new(keyspace.track_writes()),
            pause: Default::default(),
            slowlog: SlowLog::default(),
            stats: ServerStats::default(),
            cmdstats: crate::commands::CommandStats::new(CommandTable::specs()),
            commands: CommandTable::renamed(&config.renamed_commands)
                .expect("rename-command lines are checked as the configuration is read"),
            acl: acl_at_start(&config),
            log,
            started: Instant::now(),
            run_id,
            last_save: AtomicU64::new(unix_ms() / 1000),
            shutdown: Notify::new(),
            shutdown_saved: Default::default(),
            snapshots: crate::persistence::SnapshotState::new(),
            aof: crate::aof::Aof::new(aof_log),
            memory: MemoryGauge::default(),
            scripts: Default::default(),
            functions: Default::default(),
            tls: Default::default(),
            accepting: Default::default(),
            config: RwLock::new(config),
        };
        let server = Arc::new_cyclic(|me| Server { keyspace, shared, me: me.clone() });
        server.keyspace.report_key_events(Arc::new(crate::notify::KeyspaceHook {
            notifier: server.notifier.clone(),
            server: Arc::downgrade(&server),
        }));
        server.refresh_hot_config();
        let me = Arc::downgrade(&server);
        server.aof.log.on_event(move |event| {
            use crate::aof::log::Event;
            let Some(server) = me.upgrade() else { return };
            match event {
                Event::Failing(why) => server.log.warning(&format!(
                    "Error writing to the AOF file: {why}. Refusing write commands (MISCONF) and retrying; no \
                     acknowledged write is dropped"
                )),
                Event::Recovered => server.log.warning("AOF write error looks solved, Redis can write again."),
                Event::Fatal(why) => server.log.warning(&format!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {why}. Exiting..."
                )),
            }
        });
        if let Some(flash) = server.keyspace.flash() {
            let me = Arc::downgrade(&server);
            flash.on_write_event(move |event| {
                let Some(server) = me.upgrade() else { return };
                server.log.warning(&match event {
                    WriteEvent::Failing(failure) => format!(
                        "Error writing to the flash store: {failure}. Refusing write commands (MISCONF) and retrying; \
                         no acknowledged write is dropped"
                    ),
                    WriteEvent::Recovered { lasted, attempts, .. } => format!(
                        "Flash store write error looks solved after {:.1} s and {attempts} failed attempts: \
                         taking write commands again",
                        lasted.as_secs_f64()
                    ),
                });
            });
        }
        server
    }

    /// The `Arc` this server lives in.
    pub fn arc(&self) -> Arc<Server> {
        self.me.upgrade().expect("a running server is alive")
    }
}

/// The users a server starts with: the default user with `requirepass` as its password, then the
/// config file's `user` lines, as Redis applies them (an `aclfile` is loaded by `main`).
fn acl_at_start(config: &Config) -> crate::acl::Acl {
    let acl = crate::acl::Acl::new();
    acl.set_pubsub_default(config.acl_pubsub_all);
    acl.set_default_password(&config.requirepass);
    if !config.acl_users.is_empty() {
        let users = config
            .acl_users
            .iter()
            .map(|(name, rules)| {
                let user = crate::acl::user_from_rules(name, rules, config.acl_pubsub_all)
                    .expect("user lines are checked as the config is read");
                (name.clone(), user)
            })
            .collect();
        acl.replace(users, false);
    }
    acl
}

impl Shared {
    /// The ACL users changed (ACL SETUSER, DELUSER, LOAD, CONFIG SET requirepass): whether a new
    /// connection must authenticate follows the default user.
    pub fn acl_changed(&self) {
        self.hot.auth_required.store(self.acl.default_needs_auth(), Ordering::Relaxed);
    }

    /// Takes the TLS configuration loaded at start (before the listeners and links start: the
    /// links dial with it from their first connection).
    pub fn install_tls(&self, tls: crate::tls::Tls) {
        let _ = self.tls.set(tls);
        self.refresh_hot_config();
    }

    /// Keyspace notifications: announces `event` of `class` (`crate::notify::LIST`...) on `key`
    /// of database `db`, if that class is enabled (one relaxed load when it is not).
    #[inline]
    pub fn notify(&self, class: u32, event: &str, db: usize, key: &[u8]) {
        if self.notifier.enabled(class) {
            self.notifier.publish(&self.pubsub, &self.hot.output, &self.log, event, db, key);
        }
    }

    /// Where client-side caching invalidations are delivered from.
    pub fn delivery(&self) -> crate::tracking::Delivery<'_> {
        crate::tracking::Delivery { clients: &self.clients, limits: &self.hot.output, log: &self.log }
    }

    /// Copies hot values out of the config after it changed (start, CONFIG SET).
    pub fn refresh_hot_config(&self) {
        let c = self.config.read();
        if let Some(flash) = &self.flash {
            flash.set_fsync(c.appendfsync);
        }
        self.aof.log.set_fsync(c.appendfsync);
        self.hot.proto_max_bulk_len.store(c.proto_max_bulk_len, Ordering::Relaxed);
        self.hot.query_buffer_limit.store(c.client_query_buffer_limit, Ordering::Relaxed);
        self.hot.auth_required.store(self.acl.default_needs_auth(), Ordering::Relaxed);
        self.acl.log.set_max_len(c.acllog_max_len as usize);
        self.acl.set_pubsub_default(c.acl_pubsub_all);
        self.hot.slowlog_threshold_plus_one.store((c.slowlog_log_slower_than + 1).max(0) as u64, Ordering::Relaxed);
        self.hot.idle_timeout_secs.store(c.timeout, Ordering::Relaxed);
        self.hot.output.configure(c.output_limits, c.client_reply_size_limit, c.maxmemory);
        // A new maxmemory holds from the next command (as in Redis), not from the gauge's next
        // background reading.
        self.memory.refresh(c.maxmemory);
        self.notifier.set_flags(c.notify_keyspace_events);
        self.tracking.set_max_keys(c.tracking_table_max_keys);
        self.slowlog.set_max_len(c.slowlog_max_len as usize);
        self.scripts.set_busy_threshold_ms(c.busy_reply_threshold);
        self.clock.set_max_drift_ms(c.max_clock_drift);
        CLOCK_SKEW_MS.store(c.debug_clock_skew_ms, Ordering::Relaxed);
        let peer_tls = self.tls.get().and_then(crate::tls::Tls::peer_client);
        self.mesh.set_settings(replication_settings(&c, peer_tls));
        self.refresh_read_only();
    }

    /// Recomputes whether clients' writes are refused (after REPLICAOF or CONFIG SET).
    pub fn refresh_read_only(&self) {
        let read_only = self.config.read().replica_read_only && self.mesh.is_plain_replica();
        self.hot.read_only_replica.store(read_only, Ordering::Relaxed);
    }
}

/// The replication settings in `config`; `tls` is what links dial peers with (`tls-replication`).
fn replication_settings(c: &Config, tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>) -> Settings {
    let nonempty = |s: &String| (!s.is_empty()).then(|| s.clone());
    Settings {
        active: c.active_replica,
        multi_master: c.multi_master,
        no_forward: c.multi_master_no_forward,
        masterauth: nonempty(&c.masterauth),
        masteruser: nonempty(&c.masteruser),
        backlog_size: c.repl_backlog_size as usize,
        output_limit: c.output_limits[1],
        timeout_secs: c.repl_timeout,
        tombstone_ttl_secs: c.repl_tombstone_ttl,
        tls,
    }
}

impl Host for Server {
    fn keyspace(&self) -> &Keyspace {
        &self.keyspace
    }

    fn clock(&self) -> &HybridClock {
        &self.clock
    }

    fn wall_ms(&self) -> u64 {
        unix_ms()
    }

    fn log(&self, warning: bool, message: &str) {
        match warning {
            true => self.log.warning(message),
            false => self.log.notice(message),
        }
    }

    fn port(&self) -> u16 {
        self.config.read().port
    }

    fn flush_all(&self) {
        let mut txn = self.keyspace.lock_all(unix_ms());
        for db in 0..self.keyspace.databases() {
            txn.wipe_db(db);
        }
    }
}
