//! INFO [section ...]: the server's state as `# Section` headers and `field:value` lines, CRLF
//! terminated, sections separated by an empty line — the exact text format redis-cli, exporters
//! and client libraries parse.
//!
//! Fields meshkv has no counterpart for (forks, AOF, replication backlog) are reported with the
//! values an idle standalone Redis shows, so tools that read them keep working.

use std::fmt::{Display, Write};
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::super::Ctx;
use crate::error::CmdResult;
use meshkv_storage::KeyspaceView;

use crate::server::{unix_ms, Shared};

/// One INFO section: its name (lower case) and what writes its fields.
struct Section {
    name: &'static str,
    /// Part of a plain `INFO` / `INFO default`.
    default: bool,
    write: fn(&Shared, KeyspaceView<'_>, &mut Fields),
}

static SECTIONS: &[Section] = &[
    Section { name: "server", default: true, write: server },
    Section { name: "clients", default: true, write: clients },
    Section { name: "memory", default: true, write: memory },
    Section { name: "persistence", default: true, write: persistence },
    Section { name: "stats", default: true, write: stats },
    Section { name: "replication", default: true, write: replication },
    Section { name: "cpu", default: true, write: cpu },
    Section { name: "modules", default: false, write: |_, _, _| {} },
    Section { name: "commandstats", default: false, write: commandstats },
    Section { name: "errorstats", default: true, write: errorstats },
    Section { name: "cluster", default: true, write: cluster },
    Section { name: "keyspace", default: true, write: keyspace },
];

/// The text of the sections being written.
struct Fields(String);

impl Fields {
    fn field(&mut self, name: &str, value: impl Display) {
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

pub(super) fn info(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let text = render(ctx.server, ctx.keyspace(), &args[1..]);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// Which sections the arguments ask for, in table order: none means `default`; `all` is every
/// section but modules; `everything` is every section. Unknown names add nothing, as in Redis.
fn wanted(args: &[Bytes]) -> Vec<&'static Section> {
    let asked = |s: &Section| {
        if args.is_empty() {
            return s.default;
        }
        args.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == s.name.as_bytes()
                || a == b"everything"
                || (a == b"all" && s.name != "modules")
                || (a == b"default" && s.default)
        })
    };
    SECTIONS.iter().filter(|s| asked(s)).collect()
}

/// The INFO text for `args`.
pub(crate) fn render(server: &Shared, ks: KeyspaceView<'_>, args: &[Bytes]) -> String {
    let mut fields = Fields(String::with_capacity(4096));
    for (i, section) in wanted(args).into_iter().enumerate() {
        if i > 0 {
            fields.0.push_str("\r\n");
        }
        let title = match section.name {
            "cpu" => "CPU".to_string(),
            "errorstats" => "Errorstats".to_string(),
            name => name[..1].to_ascii_uppercase() + &name[1..],
        };
        let _ = write!(fields.0, "# {title}\r\n");
        (section.write)(server, ks, &mut fields);
    }
    fields.0
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..` for each
/// command called or refused since the start or CONFIG RESETSTAT. Subcommands are counted under
/// their command (`cmdstat_client`, where Redis 7 has `cmdstat_client|list`).
fn commandstats(s: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    for c in s.cmdstats.commands() {
        let per_call = if c.calls == 0 { 0.0 } else { c.usec as f64 / c.calls as f64 };
        f.field(
            &format!("cmdstat_{}", c.name),
            format_args!(
                "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                c.calls, c.usec, c.rejected, c.failed
            ),
        );
    }
}

/// `errorstat_<CODE>:count=..` for each error code replied since the start or CONFIG RESETSTAT.
fn errorstats(s: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    for (code, count) in s.cmdstats.errors() {
        f.field(&format!("errorstat_{code}"), format_args!("count={count}"));
    }
}

fn server(s: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    let config = s.config.read();
    let uptime = s.started.elapsed().as_secs();
    let os = ["ostype", "osrelease"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(format!("/proc/sys/kernel/{n}")).ok())
        .map(|t| t.trim().to_string())
        .chain([std::env::consts::ARCH.to_string()])
        .collect::<Vec<_>>()
        .join(" ");
    f.field("redis_version", crate::REDIS_COMPAT_VERSION);
    f.field("redis_git_sha1", "00000000");
    f.field("redis_git_dirty", 0);
    f.field("redis_build_id", "0");
    f.field("redis_mode", "standalone");
    f.field("os", os);
    f.field("arch_bits", usize::BITS);
    f.field("monotonic_clock", "POSIX clock_gettime");
    f.field("multiplexing_api", "epoll");
    f.field("atomicvar_api", "c11-builtin");
    f.field("gcc_version", "0.0.0");
    f.field("process_id", std::process::id());
    f.field("process_supervised", "no");
    f.field("run_id", &s.run_id);
    f.field("tcp_port", config.port);
    f.field("server_time_usec", unix_ms() * 1000);
    f.field("uptime_in_seconds", uptime);
    f.field("uptime_in_days", uptime / 86_400);
    f.field("hz", config.hz);
    f.field("configured_hz", config.hz);
    f.field("lru_clock", (unix_ms() / 1000) & ((1 << 24) - 1));
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    f.field("executable", exe);
    f.field("config_file", config.config_file.display());
    f.field("io_threads_active", 0);
    f.field("meshkv_version", env!("CARGO_PKG_VERSION"));
    f.field("server_threads", config.server_threads);
    f.field("node_id", s.identity.uuid());
}

fn clients(s: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    let all = s.clients.all();
    let blocked = all.iter().filter(|c| c.blocked.load(Ordering::Relaxed)).count();
    f.field("connected_clients", all.len());
    f.field("cluster_connections", 0);
    f.field("maxclients", s.config.read().maxclients);
    f.field("client_recent_max_input_buffer", 0);
    f.field("client_recent_max_output_buffer", 0);
    f.field("blocked_clients", blocked);
    f.field("tracking_clients", s.tracking.clients());
    f.field("clients_in_timeout_table", 0);
}

/// A `/proc/self/status` or `/proc/meminfo` value in kB, as bytes.
fn proc_kb(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`, ...
fn human(bytes: u64) -> String {
    let units = [("K", 1u64 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("P", 1 << 50)];
    match units.iter().rev().find(|(_, size)| bytes >= *size) {
        Some((unit, size)) => format!("{:.2}{unit}", bytes as f64 / *size as f64),
        None => format!("{bytes}B"),
    }
}

/// Memory: `used_memory` is what the allocator says the program holds (the resident set size
/// where jemalloc is not the allocator).
fn memory(s: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    let rss = proc_kb("/proc/self/status", "VmRSS:").unwrap_or(0);
    let peak = proc_kb("/proc/self/status", "VmHWM:").unwrap_or(rss);
    let total = proc_kb("/proc/meminfo", "MemTotal:").unwrap_or(0);
    let allocator = crate::memory::stats();
    let used = allocator.map_or(rss, |m| m.allocated as u64);
    f.field("used_memory", used);
    f.field("used_memory_human", human(used));
    f.field("used_memory_rss", rss);
    f.field("used_memory_rss_human", human(rss));
    f.field("used_memory_peak", peak);
    f.field("used_memory_peak_human", human(peak));
    f.field("total_system_memory", total);
    f.field("total_system_memory_human", human(total));
    let (scripts, script_bytes) = s.scripts.usage();
    let (libraries, functions) = s.functions.counts();
    f.field("used_memory_scripts_eval", script_bytes);
    f.field("number_of_cached_scripts", scripts);
    f.field("number_of_functions", functions);
    f.field("number_of_libraries", libraries);
    let (maxmemory, policy) = {
        let c = s.config.read();
        (c.maxmemory, c.maxmemory_policy)
    };
    f.field("maxmemory", maxmemory);
    f.field("maxmemory_human", human(maxmemory));
    f.field("maxmemory_policy", policy.name());
    f.field("mem_fragmentation_ratio", format!("{:.2}", rss as f64 / used.max(1) as f64));
    f.field("mem_allocator", if allocator.is_some() { "jemalloc-5.3.0" } else { "libc" });
    f.field("lazyfree_pending_objects", 0);
}

fn persistence(s: &Shared, ks: KeyspaceView<'_>, f: &mut Fields) {
    f.field("loading", 0);
    f.field("async_loading", 0);
    f.field("current_cow_peak", 0);
    let snap = &s.snapshots;
    let in_progress = snap.in_progress.load(Ordering::Relaxed);
    f.field("rdb_changes_since_last_save", crate::persistence::changes_since_save(s, ks.stats()));
    f.field("rdb_bgsave_in_progress", in_progress as u8);
    f.field("rdb_last_save_time", s.last_save.load(Ordering::Relaxed));
    f.field("rdb_last_bgsave_status", if snap.last_bgsave_failed.load(Ordering::Relaxed) { "err" } else { "ok" });
    f.field("rdb_last_bgsave_time_sec", snap.last_bgsave_secs.load(Ordering::Relaxed));
    let current = if in_progress {
        (crate::server::unix_ms().saturating_sub(snap.started_ms.load(Ordering::Relaxed)) / 1000) as i64
    } else {
        -1
    };
    f.field("rdb_current_bgsave_time_sec", current);
    f.field("rdb_saves", snap.saves.load(Ordering::Relaxed));
    let aof = &s.aof;
    let enabled = aof.enabled.load(Ordering::Relaxed);
    let rewriting = aof.rewrite_in_progress.load(Ordering::Relaxed);
    f.field("aof_enabled", enabled as u8);
    f.field("aof_rewrite_in_progress", rewriting as u8);
    f.field("aof_rewrite_scheduled", 0);
    f.field("aof_rewrites", aof.rewrites.load(Ordering::Relaxed));
    f.field("aof_rewrites_consecutive_failures", aof.consecutive_failures.load(Ordering::Relaxed));
    f.field("aof_last_rewrite_time_sec", aof.last_rewrite_secs.load(Ordering::Relaxed));
    let current = match rewriting {
        true => (crate::server::unix_ms().saturating_sub(aof.rewrite_started_ms.load(Ordering::Relaxed)) / 1000) as i64,
        false => -1,
    };
    f.field("aof_current_rewrite_time_sec", current);
    f.field("aof_last_bgrewrite_status", if aof.last_rewrite_failed.load(Ordering::Relaxed) { "err" } else { "ok" });
    // FLASH tier: RocksDB's log is meshkv's AOF.
    let failing = ks.flash().is_some_and(|flash| flash.write_failure().is_some()) || aof.log.write_failure().is_some();
    f.field("aof_last_write_status", if failing { "err" } else { "ok" });
    f.field("aof_last_cow_size", 0);
    f.field("module_fork_in_progress", 0);
    f.field("module_fork_last_cow_size", 0);
    if enabled {
        f.field("aof_current_size", aof.current_size());
        f.field("aof_base_size", aof.base_size.load(Ordering::Relaxed));
        f.field("aof_pending_rewrite", 0);
        f.field("aof_buffer_length", aof.log.buffered.load(Ordering::Relaxed));
        f.field("aof_pending_bio_fsync", 0);
        f.field("aof_delayed_fsync", aof.log.delayed_fsyncs.load(Ordering::Relaxed));
    }
    if let Some(flash) = ks.flash() {
        // The FLASH tier: every key is on flash; the RAM tier holds the hot ones.
        use std::sync::atomic::Ordering::Relaxed;
        f.field("storage_provider", "flash");
        f.field("flash_appendfsync", flash.fsync().name());
        f.field("flash_keys", flash.total_keys());
        f.field("flash_ram_keys", ks.ram_keys());
        let (probation_keys, probation_bytes) = ks.probation_len();
        f.field("flash_probation_keys", probation_keys);
        f.field("flash_probation_bytes", probation_bytes);
        f.field("flash_ram_hits", ks.stats().hits.get().saturating_sub(flash.stats.hits.get()));
        f.field("flash_hits", flash.stats.hits.get());
        f.field("flash_misses", flash.stats.misses.get());
        f.field("flash_hits_not_kept", flash.stats.passing.get());
        f.field("flash_batches_written", flash.stats.batches.load(Relaxed));
        f.field("flash_records_written", flash.stats.records.load(Relaxed));
        f.field("flash_write_errors", flash.stats.write_errors.load(Relaxed));
        let last_error = flash.last_write_failure().map(|f| f.message().to_string()).unwrap_or_default();
        f.field("flash_last_write_error", last_error);
        for (field, property) in [
            ("rocksdb_live_data_bytes", "rocksdb.estimate-live-data-size"),
            ("rocksdb_sst_files_bytes", "rocksdb.total-sst-files-size"),
            ("rocksdb_memtable_bytes", "rocksdb.cur-size-all-mem-tables"),
            ("rocksdb_table_readers_bytes", "rocksdb.estimate-table-readers-mem"),
            ("rocksdb_pending_compaction_bytes", "rocksdb.estimate-pending-compaction-bytes"),
            ("rocksdb_estimated_keys", "rocksdb.estimate-num-keys"),
        ] {
            f.field(field, flash.property(property));
        }
    }
}

fn stats(s: &Shared, ks: KeyspaceView<'_>, f: &mut Fields) {
    let st = &s.stats;
    let ks = ks.stats();
    let commands = st.commands.get();
    f.field("total_connections_received", st.connections.load(Ordering::Relaxed));
    f.field("total_commands_processed", commands);
    f.field("instantaneous_ops_per_sec", ops_per_sec(commands));
    f.field("total_net_input_bytes", st.net_input_bytes.get());
    f.field("total_net_output_bytes", st.net_output_bytes.get());
    f.field("instantaneous_input_kbps", "0.00");
    f.field("instantaneous_output_kbps", "0.00");
    f.field("rejected_connections", st.rejected_connections.load(Ordering::Relaxed));
    f.field("sync_full", 0);
    f.field("sync_partial_ok", 0);
    f.field("sync_partial_err", 0);
    f.field("expired_keys", ks.expired_keys.get());
    f.field("expired_stale_perc", "0.00");
    f.field("expired_time_cap_reached_count", 0);
    f.field("evicted_keys", ks.evicted_keys.get());
    f.field("keyspace_hits", ks.hits.get());
    f.field("keyspace_misses", ks.misses.get());
    f.field("pubsub_channels", s.pubsub.channels(None).len());
    f.field("pubsub_patterns", s.pubsub.numpat());
    f.field("latest_fork_usec", 0);
    f.field("total_forks", 0);
    f.field("migrate_cached_sockets", 0);
    f.field("tracking_total_keys", s.tracking.total_keys());
    f.field("tracking_total_items", s.tracking.total_items());
    f.field("tracking_total_prefixes", s.tracking.total_prefixes());
    f.field("total_error_replies", st.error_replies.get());
    f.field("dump_payload_sanitizations", 0);
}

/// Commands per second between the last two INFO calls at least 100 ms apart (Redis samples in
/// its timer; meshkv samples when asked, which needs no background task).
fn ops_per_sec(commands: u64) -> u64 {
    use parking_lot::Mutex;
    use std::time::Instant;
    static SAMPLE: Mutex<Option<(Instant, u64, u64)>> = Mutex::new(None);
    let mut sample = SAMPLE.lock();
    let now = Instant::now();
    match *sample {
        Some((at, _, rate)) if now.duration_since(at).as_millis() < 100 => rate,
        Some((at, count, _)) => {
            let secs = now.duration_since(at).as_secs_f64();
            let rate = (commands.saturating_sub(count) as f64 / secs) as u64;
            *sample = Some((now, commands, rate));
            rate
        }
        None => {
            *sample = Some((now, commands, 0));
            0
        }
    }
}

fn replication(s: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    let fields = s.mesh.info();
    let mut fields = fields.iter();
    // Redis's own fields first, in its order; meshkv's (per peer, counters) after them.
    for (name, value) in fields.by_ref() {
        f.field(name, value);
        if name == "connected_slaves" {
            break;
        }
    }
    f.field("master_failover_state", "no-failover");
    f.field("master_replid", &s.run_id);
    f.field("master_replid2", "0".repeat(40));
    for (name, value) in fields {
        f.field(name, value);
    }
    f.field("repl_clock_ceiling_write_errors", s.clock.ceiling_failures());
}

/// CPU time from `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu(_: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    let (user, sys) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|text| {
            // The command name (field 2) may contain spaces; fields are counted after its ')'.
            let rest = &text[text.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some((fields.get(11)?.parse::<u64>().ok()?, fields.get(12)?.parse::<u64>().ok()?))
        })
        .unwrap_or((0, 0));
    let secs = |ticks: u64| format!("{}.{:06}", ticks / 100, (ticks % 100) * 10_000);
    f.field("used_cpu_sys", secs(sys));
    f.field("used_cpu_user", secs(user));
    f.field("used_cpu_sys_children", "0.000000");
    f.field("used_cpu_user_children", "0.000000");
}

fn cluster(_: &Shared, _: KeyspaceView<'_>, f: &mut Fields) {
    f.field("cluster_enabled", 0);
}

fn keyspace(_: &Shared, ks: KeyspaceView<'_>, f: &mut Fields) {
    for db in 0..ks.databases() {
        let (keys, expires) = ks.db_size(db);
        if keys > 0 {
            f.field(&format!("db{db}"), format!("keys={keys},expires={expires},avg_ttl=0"));
        }
    }
}
