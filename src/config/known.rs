//! What meshkv does with every directive Redis 7.0 or KeyDB defines: one [`Rule`] per name.
//!
//! A redis.conf or keydb.conf must never start a node that quietly does less than the file asks
//! for where that matters: a directive that protects data or access (durability, persistence
//! errors, command renaming, users, TLS, `min-replicas-*`...) is implemented or refused, never
//! ignored. What remains accepted without effect only tunes something meshkv does another way,
//! and its rule says what. Some rules look at the value: `cluster-enabled no` is what meshkv
//! does, `cluster-enabled yes` is refused with the alternative named.
//!
//! The README's *Configuration directives* table is rendered from [`RULES`] (a unit test checks
//! that it matches), and the test data under `tests/data/directives/` lists every directive of
//! Redis's and KeyDB's shipped config files, each of which must have a rule here.

/// What meshkv does with one directive of Redis 7.0 or KeyDB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Implemented: a row of [`super::DIRECTIVES`], or read by the file loader itself
    /// (`include`, `rename-command`).
    Implemented,
    /// Another name for the directive given (`slave-read-only` is `replica-read-only`).
    Alias(&'static str),
    /// Accepted whatever its value, with no effect: it tunes something meshkv does differently
    /// (the text says what).
    Tunes(&'static str),
    /// Accepted with one of `values` (compared case-insensitively, arguments joined by a space),
    /// which is what meshkv does anyway; any other value is refused at start with `reason`.
    Only {
        /// The values that describe what meshkv does.
        values: &'static [&'static str],
        /// Why another value is refused, and what to use instead.
        reason: &'static str,
    },
    /// Refused at start whatever its value, with the reason.
    Refused(&'static str),
    /// Read by the file loader, which implements what the text says and refuses the rest.
    Partly(&'static str),
}

use Rule::{Alias, Implemented, Only, Refused, Tunes};

const CLUSTER: &str = "Redis Cluster is not implemented; meshkv scales by active-active replication \
    (`active-replica`, `multi-master`, `replicaof`)";
const CLUSTER_ONLY: &str = "only used by Redis Cluster, which `cluster-enabled yes` asks for (refused)";
const CPU_LIST: &str = "threads are placed by the operating system";
const DEFRAG: &str = "meshkv does no active defragmentation; jemalloc's own decay returns freed memory";
const ENCODING: &str = "an encoding threshold: meshkv keeps one representation per type (hash tables, \
    deques, ordered maps), whatever the size";
const FLASH_TUNING: &str = "tunes KeyDB's FLASH tier; meshkv's (`storage-provider flash`) has its own \
    RocksDB settings";
const KEYDB_INTERNAL: &str = "a KeyDB test or internal knob";
const LAZYFREE: &str = "meshkv frees a value where it is dropped (values are reference-counted and \
    commands run on several threads), so there is no lazy-free choice to make";
const LOAD: &str = "tunes how Redis serves clients while loading; meshkv loads its data before it \
    accepts connections";
const LUA: &str = "scripts' effects are always what replication ships (each write stamped), never the script";
const REPLICA_ANNOUNCE: &str = "ROLE and INFO show a follower by the address of its connection";
const RDB_TUNING: &str = "tunes Redis's RDB files; meshkv's snapshots are written whole, fsynced once, \
    always with a CRC-32, uncompressed";
const REPL_STREAM: &str = "tunes Redis's RDB transfer to replicas; a meshkv full sync always streams a \
    consistent cut over the link, without a file";
const STREAMS: &str = "streams are not implemented";
const SYSLOG_ONLY: &str = "only used with `syslog-enabled yes` (refused)";
const THREADS: &str = "meshkv's `server-threads` run both the network and the commands, scheduled by tokio \
    (work-stealing) and the operating system";
const TLS: &str = "this TLS option is not implemented: meshkv's TLS (rustls, its safe defaults: TLS 1.2 and \
    1.3) takes `tls-port`, `tls-cert-file`, `tls-key-file` (unencrypted), `tls-ca-cert-file`, `tls-auth-clients` \
    and `tls-replication`; leave this directive out";
const UNIXSOCKET_ONLY: &str = "only used with `unixsocket` (refused)";

/// Every directive of Redis 7.0 and KeyDB, with what meshkv does with it. One entry per line,
/// sorted by name.
#[rustfmt::skip]
pub static RULES: &[(&str, Rule)] = &[
    ("acl-pubsub-default", Implemented),
    ("aclfile", Implemented),
    ("acllog-max-len", Implemented),
    ("active-client-balancing", Tunes(THREADS)),
    ("active-defrag-cycle-max", Tunes(DEFRAG)),
    ("active-defrag-cycle-min", Tunes(DEFRAG)),
    ("active-defrag-ignore-bytes", Tunes(DEFRAG)),
    ("active-defrag-max-scan-fields", Tunes(DEFRAG)),
    ("active-defrag-threshold-lower", Tunes(DEFRAG)),
    ("active-defrag-threshold-upper", Tunes(DEFRAG)),
    ("active-expire-effort", Tunes("active expiry runs `hz` times a second with a fixed effort (20 keys per pass and database)")),
    ("active-replica", Implemented),
    ("activedefrag", Tunes(DEFRAG)),
    ("activerehashing", Tunes("meshkv's hash tables grow in place, shard by shard; there is no incremental rehash to pace")),
    ("allow-rdb-resize-op", Tunes(LOAD)),
    ("allow-write-during-load", Tunes(LOAD)),
    ("always-show-logo", Tunes("meshkv prints no logo")),
    ("aof-disable-auto-gc", Tunes("a rewrite always removes the files it replaced, once the new manifest is in place; there are no history files to keep")),
    ("aof-load-truncated", Implemented),
    ("aof-rewrite-incremental-fsync", Tunes("a rewrite's base file is written whole and fsynced once, as snapshots are")),
    ("aof-timestamp-enabled", Tunes("every record of meshkv's append-only file already carries its write's HLC stamp (wall-clock milliseconds); there are no annotation lines to add")),
    ("aof-use-rdb-preamble", Tunes("the base file is always in meshkv's snapshot format (what the preamble is for), whatever the value: the incremental files hold stamped effects, not commands, so there is no command form of the base to choose")),
    ("aof_rewrite_cpulist", Tunes(CPU_LIST)),
    ("appenddirname", Implemented),
    ("appendfilename", Implemented),
    ("appendfsync", Implemented),
    ("appendonly", Implemented),
    ("auto-aof-rewrite-min-size", Implemented),
    ("auto-aof-rewrite-percentage", Implemented),
    ("availability-zone", Tunes("KeyDB weighs replicas by zone; meshkv pulls from every `replicaof` peer")),
    ("bgsave_cpulist", Tunes(CPU_LIST)),
    ("bind", Implemented),
    ("bind-source-addr", Only { values: &[""], reason: "replication links connect from the address the operating system picks; choosing a source address is not implemented" }),
    ("bio_cpulist", Tunes(CPU_LIST)),
    ("busy-reply-threshold", Implemented),
    ("client-output-buffer-limit", Implemented),
    ("client-query-buffer-limit", Implemented),
    ("cluster-allow-pubsubshard-when-down", Tunes(CLUSTER_ONLY)),
    ("cluster-allow-reads-when-down", Tunes(CLUSTER_ONLY)),
    ("cluster-allow-replica-migration", Tunes(CLUSTER_ONLY)),
    ("cluster-announce-bus-port", Tunes(CLUSTER_ONLY)),
    ("cluster-announce-hostname", Tunes(CLUSTER_ONLY)),
    ("cluster-announce-ip", Tunes(CLUSTER_ONLY)),
    ("cluster-announce-port", Tunes(CLUSTER_ONLY)),
    ("cluster-announce-tls-port", Tunes(CLUSTER_ONLY)),
    ("cluster-config-file", Tunes(CLUSTER_ONLY)),
    ("cluster-enabled", Only { values: &["no"], reason: CLUSTER }),
    ("cluster-link-sendbuf-limit", Tunes(CLUSTER_ONLY)),
    ("cluster-migration-barrier", Tunes(CLUSTER_ONLY)),
    ("cluster-node-timeout", Tunes(CLUSTER_ONLY)),
    ("cluster-port", Tunes(CLUSTER_ONLY)),
    ("cluster-preferred-endpoint-type", Tunes(CLUSTER_ONLY)),
    ("cluster-replica-no-failover", Tunes(CLUSTER_ONLY)),
    ("cluster-replica-validity-factor", Tunes(CLUSTER_ONLY)),
    ("cluster-require-full-coverage", Tunes(CLUSTER_ONLY)),
    ("cluster-slave-no-failover", Alias("cluster-replica-no-failover")),
    ("cluster-slave-validity-factor", Alias("cluster-replica-validity-factor")),
    ("crash-log-enabled", Tunes("a panic is logged with its message and the node stops; there is no crash report to write")),
    ("crash-memcheck-enabled", Tunes("meshkv runs no memory test after a crash")),
    ("daemonize", Implemented),
    ("databases", Implemented),
    ("db-s3-object", Only { values: &[""], reason: "saving snapshots to S3 is not implemented: snapshots are written to `dir` only" }),
    ("dbfilename", Implemented),
    ("delete-on-evict", Only { values: &["no"], reason: "meshkv's FLASH tier always keeps an evicted key on flash; deleting it instead is not implemented" }),
    ("dir", Implemented),
    ("disable-thp", Tunes("meshkv leaves transparent huge pages as they are; it does not fork, so they cost no copy-on-write latency")),
    ("dynamic-hz", Tunes("`hz` is fixed")),
    ("enable-async-commands", Tunes(THREADS)),
    ("enable-async-rehash", Tunes("meshkv's hash tables grow in place, shard by shard; there is no incremental rehash to pace")),
    ("enable-debug-command", Implemented),
    ("enable-keydb-fastsync", Tunes(REPL_STREAM)),
    ("enable-module-command", Tunes("modules are not implemented: there is no MODULE command to enable")),
    ("enable-motd", Tunes("meshkv prints no message of the day")),
    ("enable-protected-configs", Implemented),
    ("flash-disable-key-cache", Tunes(FLASH_TUNING)),
    ("force-backlog-disk-reserve", Tunes("the replication backlog is kept in RAM (`repl-backlog-size`)")),
    ("force-eviction-percent", Tunes("eviction follows `maxmemory` and `maxmemory-policy` alone")),
    ("hash-max-listpack-entries", Implemented),
    ("hash-max-listpack-value", Implemented),
    ("hash-max-ziplist-entries", Alias("hash-max-listpack-entries")),
    ("hash-max-ziplist-value", Alias("hash-max-listpack-value")),
    ("hll-sparse-max-bytes", Tunes("HyperLogLog is not implemented")),
    ("hz", Implemented),
    ("ignore-warnings", Tunes("meshkv runs none of Redis's start-up checks of the kernel, so there is no warning to ignore")),
    ("include", Implemented),
    ("io-threads", Tunes(THREADS)),
    ("io-threads-do-reads", Tunes(THREADS)),
    ("is-flash-enabled", Tunes("the FLASH tier is switched on by `storage-provider flash <path>`")),
    ("jemalloc-bg-thread", Tunes("jemalloc's background thread always runs, as with Redis's default `yes`")),
    ("key-load-delay", Tunes(KEYDB_INTERNAL)),
    ("latency-monitor-threshold", Tunes("the latency monitor (LATENCY) is not implemented; the command is refused as unknown")),
    ("latency-tracking", Tunes("INFO latencystats is not implemented; the slow log (`slowlog-log-slower-than`) is")),
    ("latency-tracking-info-percentiles", Tunes("INFO latencystats is not implemented; the slow log (`slowlog-log-slower-than`) is")),
    ("lazyfree-lazy-eviction", Tunes(LAZYFREE)),
    ("lazyfree-lazy-expire", Tunes(LAZYFREE)),
    ("lazyfree-lazy-server-del", Tunes(LAZYFREE)),
    ("lazyfree-lazy-user-del", Tunes(LAZYFREE)),
    ("lazyfree-lazy-user-flush", Tunes(LAZYFREE)),
    ("lfu-decay-time", Implemented),
    ("lfu-log-factor", Tunes("the LFU counter grows as Redis's does with its default `lfu-log-factor 10`, which is fixed")),
    ("list-compress-depth", Implemented),
    ("list-max-listpack-size", Implemented),
    ("list-max-ziplist-entries", Tunes(ENCODING)),
    ("list-max-ziplist-size", Alias("list-max-listpack-size")),
    ("list-max-ziplist-value", Tunes(ENCODING)),
    ("loading-process-events-interval-bytes", Tunes(LOAD)),
    ("loading-process-events-interval-keys", Tunes(LOAD)),
    ("loadmodule", Refused("modules are not implemented: the module's commands would be missing")),
    ("logfile", Implemented),
    ("loglevel", Implemented),
    ("lua-replicate-commands", Tunes(LUA)),
    ("lua-time-limit", Implemented),
    ("masterauth", Implemented),
    ("masteruser", Implemented),
    ("max-rand-count", Tunes(KEYDB_INTERNAL)),
    ("max-snapshot-slip", Tunes("tunes KeyDB's MVCC snapshots; meshkv takes consistent cuts under shard locks")),
    ("maxclients", Implemented),
    ("maxclients-reserved", Tunes(KEYDB_INTERNAL)),
    ("maxmemory", Implemented),
    ("maxmemory-clients", Tunes("client memory is bounded per client by `client-output-buffer-limit` and `client-reply-size-limit`; clients are not evicted by their total")),
    ("maxmemory-eviction-tenacity", Tunes("eviction makes room at once before a command (at most 64 keys) and in a background pass of up to 5 ms every 10 ms")),
    ("maxmemory-policy", Implemented),
    ("maxmemory-samples", Implemented),
    ("maxstorage", Only { values: &["0"], reason: "a cap on the FLASH tier's disk use is not implemented" }),
    ("min-clients-per-thread", Tunes(THREADS)),
    ("min-replicas-max-lag", Tunes("only used with `min-replicas-to-write` above 0 (refused)")),
    ("min-replicas-to-write", Only { values: &["0"], reason: "refusing writes while too few replicas are connected is not implemented: meshkv's replication is asynchronous and a master always takes writes" }),
    ("min-slaves-max-lag", Alias("min-replicas-max-lag")),
    ("min-slaves-to-write", Alias("min-replicas-to-write")),
    ("multi-master", Implemented),
    ("multi-master-no-forward", Implemented),
    ("multithread-load-enabled", Tunes(LOAD)),
    ("no-appendfsync-on-rewrite", Implemented),
    ("notify-keyspace-events", Implemented),
    ("oom-score-adj", Tunes("meshkv leaves its OOM score as the service manager set it")),
    ("oom-score-adj-values", Tunes("meshkv leaves its OOM score as the service manager set it")),
    ("overload-protect-percent", Tunes("meshkv does not shed clients by CPU load")),
    ("pidfile", Implemented),
    ("port", Implemented),
    ("prefetch-enabled", Tunes(FLASH_TUNING)),
    ("proc-title-template", Tunes("meshkv does not change its process title")),
    ("propagation-error-behavior", Tunes("replication ships each key's new state, not commands, so a command cannot fail on a replica")),
    ("protected-mode", Implemented),
    ("proto-max-bulk-len", Implemented),
    ("rdb-del-sync-files", Tunes(REPL_STREAM)),
    ("rdb-key-save-delay", Tunes(KEYDB_INTERNAL)),
    ("rdb-save-incremental-fsync", Tunes(RDB_TUNING)),
    ("rdbchecksum", Tunes(RDB_TUNING)),
    ("rdbcompression", Tunes(RDB_TUNING)),
    ("rdbfuzz-mode", Tunes(KEYDB_INTERNAL)),
    ("rename-command", Implemented),
    ("repl-backlog-disk-reserve", Tunes("the replication backlog is kept in RAM (`repl-backlog-size`)")),
    ("repl-backlog-size", Implemented),
    ("repl-backlog-ttl", Tunes("the replication backlog is kept for as long as the node runs")),
    ("repl-disable-tcp-nodelay", Tunes("replication links always send at once (TCP_NODELAY)")),
    ("repl-diskless-load", Tunes(REPL_STREAM)),
    ("repl-diskless-sync", Tunes(REPL_STREAM)),
    ("repl-diskless-sync-delay", Tunes(REPL_STREAM)),
    ("repl-diskless-sync-max-replicas", Tunes(REPL_STREAM)),
    ("repl-ping-replica-period", Tunes("replication links send heartbeats at a fixed period; `repl-timeout` bounds silence")),
    ("repl-ping-slave-period", Alias("repl-ping-replica-period")),
    ("repl-timeout", Implemented),
    ("replica-announce-ip", Tunes(REPLICA_ANNOUNCE)),
    ("replica-announce-port", Tunes(REPLICA_ANNOUNCE)),
    ("replica-announced", Tunes("there is no Sentinel to announce replicas to")),
    ("replica-ignore-disk-write-errors", Only { values: &["no"], reason: "not implemented: a node that cannot write its data refuses writes (MISCONF) rather than ignore the error" }),
    ("replica-ignore-maxmemory", Tunes("an active replica is a master: each node evicts by its own `maxmemory`")),
    ("replica-lazy-flush", Tunes(LAZYFREE)),
    ("replica-priority", Tunes("there is no Sentinel failover to rank replicas for: every active replica takes writes")),
    ("replica-quorum", Tunes("only used with `replica-serve-stale-data no` (refused)")),
    ("replica-read-only", Implemented),
    ("replica-serve-stale-data", Only { values: &["yes"], reason: "a replica always answers with the data it holds while its link is down; refusing with MASTERDOWN is not implemented" }),
    ("replica-weighting-factor", Tunes(THREADS)),
    ("replicaof", Implemented),
    ("requirepass", Implemented),
    ("sanitize-dump-payload", Tunes("DUMP and RESTORE are not implemented")),
    ("save", Implemented),
    ("scratch-file-path", Tunes(FLASH_TUNING)),
    ("semi-ordered-set-bucket-size", Tunes(KEYDB_INTERNAL)),
    ("sentinel", Refused("meshkv is not Redis Sentinel")),
    ("server-thread-affinity", Tunes(CPU_LIST)),
    ("server-threads", Implemented),
    ("server_cpulist", Tunes(CPU_LIST)),
    ("set-max-intset-entries", Implemented),
    ("set-max-listpack-entries", Tunes(ENCODING)),
    ("set-max-listpack-value", Tunes(ENCODING)),
    ("set-proc-title", Tunes("meshkv does not change its process title")),
    ("shutdown-on-sigint", Only { values: &["default"], reason: "only `default` is implemented: SIGINT and SIGTERM save first when `save` rules are configured, and stay up if that save fails" }),
    ("shutdown-on-sigterm", Only { values: &["default"], reason: "only `default` is implemented: SIGINT and SIGTERM save first when `save` rules are configured, and stay up if that save fails" }),
    ("shutdown-timeout", Tunes("peers pull changes and resume after a restart, so SHUTDOWN does not wait for them to catch up")),
    ("slave-announce-ip", Alias("replica-announce-ip")),
    ("slave-announce-port", Alias("replica-announce-port")),
    ("slave-ignore-maxmemory", Alias("replica-ignore-maxmemory")),
    ("slave-lazy-flush", Alias("replica-lazy-flush")),
    ("slave-priority", Alias("replica-priority")),
    ("slave-read-only", Alias("replica-read-only")),
    ("slave-serve-stale-data", Alias("replica-serve-stale-data")),
    ("slaveof", Alias("replicaof")),
    ("slowlog-log-slower-than", Implemented),
    ("slowlog-max-len", Implemented),
    ("socket-mark-id", Only { values: &["0"], reason: "marking sockets (SO_MARK) is not implemented" }),
    ("soft-shutdown", Only { values: &["no"], reason: "a soft shutdown (waiting for clients to leave) is not implemented" }),
    ("stop-writes-on-bgsave-error", Implemented),
    ("storage-cache-mode", Tunes(FLASH_TUNING)),
    ("storage-flush-period", Tunes(FLASH_TUNING)),
    ("storage-provider", Implemented),
    ("storage-provider-options", Tunes(FLASH_TUNING)),
    ("stream-node-max-bytes", Tunes(STREAMS)),
    ("stream-node-max-entries", Tunes(STREAMS)),
    ("supervised", Implemented),
    ("syslog-enabled", Only { values: &["no"], reason: "logging to syslog is not implemented: meshkv logs to `logfile`, or to standard output (which journald collects)" }),
    ("syslog-facility", Tunes(SYSLOG_ONLY)),
    ("syslog-ident", Tunes(SYSLOG_ONLY)),
    ("tcp-backlog", Tunes("the listen backlog is fixed at 1024 (the kernel caps it at net.core.somaxconn)")),
    ("tcp-keepalive", Implemented),
    ("testmode", Tunes(KEYDB_INTERNAL)),
    ("time-thread-priority", Tunes(CPU_LIST)),
    ("timeout", Implemented),
    ("tls-allowlist", Refused(TLS)),
    ("tls-auditlog-blocklist", Refused(TLS)),
    ("tls-auth-clients", Implemented),
    ("tls-ca-cert-dir", Refused(TLS)),
    ("tls-ca-cert-file", Implemented),
    ("tls-cert-file", Implemented),
    ("tls-ciphers", Refused(TLS)),
    ("tls-ciphersuites", Refused(TLS)),
    ("tls-client-cert-file", Refused(TLS)),
    ("tls-client-key-file", Refused(TLS)),
    ("tls-client-key-file-pass", Refused(TLS)),
    ("tls-cluster", Refused(TLS)),
    ("tls-dh-params-file", Refused(TLS)),
    ("tls-key-file", Implemented),
    ("tls-key-file-pass", Refused(TLS)),
    ("tls-port", Implemented),
    ("tls-prefer-server-ciphers", Refused(TLS)),
    ("tls-protocols", Refused(TLS)),
    ("tls-replication", Implemented),
    ("tls-rotation", Refused(TLS)),
    ("tls-session-cache-size", Refused(TLS)),
    ("tls-session-cache-timeout", Refused(TLS)),
    ("tls-session-caching", Refused(TLS)),
    ("tracking-table-max-keys", Implemented),
    ("unixsocket", Only { values: &[""], reason: "listening on a Unix socket is not implemented: meshkv listens on TCP (`bind`, `port`)" }),
    ("unixsocketperm", Tunes(UNIXSOCKET_ONLY)),
    ("use-exit-on-panic", Tunes("a panic in a command closes that client (or stops the node if the command had written); see the README")),
    ("use-fork", Tunes("meshkv never forks: snapshots are written from a consistent cut by a thread")),
    ("user", Implemented),
    ("version-override", Tunes(KEYDB_INTERNAL)),
    ("zset-max-listpack-entries", Implemented),
    ("zset-max-listpack-value", Implemented),
    ("zset-max-ziplist-entries", Alias("zset-max-listpack-entries")),
    ("zset-max-ziplist-value", Alias("zset-max-listpack-value")),
];

/// The rule for `name` (case-insensitive), aliases resolved: the canonical name and its rule.
pub fn rule(name: &str) -> Option<(&'static str, Rule)> {
    let (found, rule) = *RULES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    match rule {
        Alias(target) => rule_exact(target),
        _ => Some((found, rule)),
    }
}

fn rule_exact(name: &str) -> Option<(&'static str, Rule)> {
    RULES.iter().find(|(n, _)| *n == name).copied()
}

/// The canonical name of a directive: an alias's target, else the name itself.
pub fn canonical(name: &str) -> &str {
    match RULES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, Alias(target))) => target,
        _ => name,
    }
}

/// An unimplemented directive that CONFIG GET still answers, with the value that describes what
/// meshkv actually does. Tools query them (redis-benchmark reads `save` and `appendonly`), and
/// CONFIG SET takes exactly that value, as a no-op; any other value Redis would take is refused
/// (and those Redis cannot change at run time, `io-threads` and `cluster-enabled`, whatever the
/// value, as Redis refuses them).
pub struct Reported {
    /// The directive's name.
    pub name: &'static str,
    /// What CONFIG GET answers, and the one value CONFIG SET takes.
    pub value: &'static str,
    /// Redis's own check of a value: one Redis refuses gets Redis's error, not meshkv's refusal.
    pub check: fn(&[String]) -> Result<(), String>,
    /// A Redis test knob that Redis hides: answered only when asked for by its exact name, never
    /// through a pattern.
    pub hidden: bool,
}

/// Redis's check of `maxmemory-clients`: a memory value, or a percentage of `maxmemory` of at
/// most 100 (Redis's `MEMORY_CONFIG | PERCENT_CONFIG` with its lower bound of -100).
fn memory_or_percent(args: &[String]) -> Result<(), String> {
    let value = super::one(args)?;
    if super::parse_memory(value).is_some() {
        return Ok(());
    }
    match value.strip_suffix('%').filter(|n| !n.is_empty()).and_then(|n| n.parse::<i64>().ok()) {
        Some(percent) if percent > 100 => Err("percentage argument must be less or equal to 100".into()),
        Some(percent) if percent >= 0 => Ok(()),
        _ => Err("argument must be a memory or percent value".into()),
    }
}

fn any_int(args: &[String]) -> Result<(), String> {
    super::int_in(args, i32::MIN as i64, i32::MAX as i64).map(|_| ())
}

fn yes_no(args: &[String]) -> Result<(), String> {
    super::yes_no(args).map(|_| ())
}

/// The unimplemented directives CONFIG GET answers (see [`Reported`]).
pub const REPORTED_UNIMPLEMENTED: &[Reported] = &[
    Reported { name: "cluster-enabled", value: "no", check: yes_no, hidden: false },
    Reported { name: "io-threads", value: "1", check: |a| super::int_in(a, 1, 128).map(|_| ()), hidden: false },
    Reported { name: "latency-tracking", value: "no", check: yes_no, hidden: false },
    Reported { name: "activedefrag", value: "no", check: yes_no, hidden: false },
    Reported { name: "lazyfree-lazy-user-flush", value: "no", check: yes_no, hidden: false },
    // No client is evicted for the clients' total memory (0: Redis's default, no limit).
    Reported { name: "maxmemory-clients", value: "0", check: memory_or_percent, hidden: false },
    // Loading and saving never sleep between keys (Redis's test knobs, hidden).
    Reported { name: "key-load-delay", value: "0", check: any_int, hidden: true },
    Reported { name: "rdb-key-save-delay", value: "0", check: any_int, hidden: true },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The directive names of one shipped config file (see the header of each file).
    fn names(list: &str) -> Vec<&str> {
        list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
    }

    #[test]
    fn every_directive_of_the_shipped_redis_and_keydb_files_has_a_rule() {
        let lists = [
            ("Redis 7.0 redis.conf", include_str!("../../tests/data/directives/redis-7.0.conf.names")),
            ("Redis 7.0 (every config)", include_str!("../../tests/data/directives/redis-7.0.all.names")),
            ("KeyDB 6.3.4 keydb.conf", include_str!("../../tests/data/directives/keydb-6.3.4.conf.names")),
            ("KeyDB 6.3.4 (every config)", include_str!("../../tests/data/directives/keydb-6.3.4.all.names")),
        ];
        for (what, list) in lists {
            let names = names(list);
            assert!(names.len() > 150, "{what}: only {} names", names.len());
            let missing: Vec<&str> = names.iter().copied().filter(|n| rule(n).is_none()).collect();
            assert!(missing.is_empty(), "{what}: no rule for {missing:?}");
        }
    }

    #[test]
    fn the_system_redis_conf_has_a_rule_for_every_line() {
        // Debian's redis-server package (tests/setup.sh installs it): every directive it sets.
        let Ok(text) = std::fs::read_to_string("/etc/redis/redis.conf") else { return };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let name = line.split_whitespace().next().unwrap_or_default();
            assert!(rule(name).is_some(), "no rule for /etc/redis/redis.conf's {line:?}");
        }
    }

    #[test]
    fn rules_are_sorted_unique_and_agree_with_the_implemented_directives() {
        let names: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "RULES must be sorted by name, without duplicates");
        for (name, rule) in RULES {
            let implemented =
                super::super::directive_row(name).is_some() || super::super::LOADER_DIRECTIVES.contains(name);
            match rule {
                Implemented | Rule::Partly(_) => assert!(implemented, "{name} is marked implemented but has no row"),
                Alias(target) => assert!(rule_exact(target).is_some_and(|(_, r)| !matches!(r, Alias(_))), "{name}"),
                Tunes(why) | Refused(why) | Only { reason: why, .. } => {
                    assert!(!implemented, "{name} has a row but its rule says otherwise");
                    assert!(why.len() > 10, "{name}: say why");
                }
            }
        }
        for d in super::super::DIRECTIVES {
            if let Some((_, rule)) = rule(d.name) {
                assert_eq!(rule, Implemented, "{} has a row in DIRECTIVES", d.name);
            }
        }
    }

    #[test]
    fn readme_table_matches_the_rules() {
        let readme = include_str!("../../README.md");
        let table = render_markdown();
        assert!(readme.contains(&table), "README.md's directive table is out of date; replace it with:\n\n{table}");
    }

    /// The README's table: one row per rule text, listing its directives (an alias next to the
    /// directive it names).
    fn render_markdown() -> String {
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        for (name, rule) in RULES {
            let what = match rule {
                Alias(_) => continue,
                Implemented => "implemented (see `conf/meshkv.conf`)".to_string(),
                Tunes(why) => format!("accepted, no effect: {why}"),
                Only { values, reason } => {
                    let values: Vec<&str> = values.iter().map(|v| if v.is_empty() { "\"\"" } else { v }).collect();
                    format!(
                        "accepted as `{}`, which is what meshkv does; another value is refused: {reason}",
                        values.join("`, `")
                    )
                }
                Refused(why) => format!("refused: {why}"),
                Rule::Partly(what) => format!("implemented in part: {what}"),
            };
            let aliases: Vec<String> =
                RULES.iter().filter(|(_, r)| *r == Alias(name)).map(|(a, _)| format!("`{a}`")).collect();
            let shown = match aliases.is_empty() {
                true => format!("`{name}`"),
                false => format!("`{name}` ({})", aliases.join(", ")),
            };
            match rows.iter_mut().find(|(w, _)| *w == what) {
                Some((_, names)) => names.push(shown),
                None => rows.push((what, vec![shown])),
            }
        }
        let mut out = String::from("| directives | what meshkv does |\n| --- | --- |\n");
        for (what, names) in rows {
            out.push_str(&format!("| {} | {what} |\n", names.join(", ")));
        }
        out
    }
}
