//! The node's place in the mesh: its settings, its backlog, the peers it pulls from and the
//! followers it serves, and the counters INFO shows.
//!
//! The server owns one [`Mesh`] and reaches the keyspace, clock and log through the [`Host`]
//! trait, so this crate never sees a client command.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use meshkv_storage::Keyspace;
use parking_lot::Mutex;
use tokio_rustls::rustls::ClientConfig;

use crate::backlog::Backlog;
use crate::clock::HybridClock;
use crate::frame::StreamId;
use crate::identity::NodeIdentity;
use crate::lag::LagHistogram;
use crate::peer::Peer;
use crate::source::Follower;

/// What replication needs from the server it runs in.
pub trait Host: Send + Sync + 'static {
    /// The data.
    fn keyspace(&self) -> &Keyspace;
    /// The node's hybrid logical clock.
    fn clock(&self) -> &HybridClock;
    /// The node's wall clock in Unix ms (the one its commands stamp writes with).
    fn wall_ms(&self) -> u64;
    /// Writes a line to the server log (`warning` or notice level).
    fn log(&self, warning: bool, message: &str);
    /// The port this node listens on (told to the peers it pulls from, for their INFO).
    fn port(&self) -> u16;
    /// Empties every database (a classic replica's full sync replaces its data).
    fn flush_all(&self);
}

/// Replication settings from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `active-replica yes`: this node takes writes and merges its peers'.
    pub active: bool,
    /// `multi-master yes`: several `replicaof` peers at once (otherwise a new one replaces the old).
    pub multi_master: bool,
    /// `multi-master-no-forward yes`: send followers only this node's own changes, not the ones it
    /// merged from others (a full mesh needs no relays; a chain or ring does). A follower's own
    /// changes of an earlier run still go back to it: it may have lost them in a restart.
    pub no_forward: bool,
    /// `masterauth`: the password sent to peers.
    pub masterauth: Option<String>,
    /// `masteruser`: the user name sent with it.
    pub masteruser: Option<String>,
    /// `repl-backlog-size` in bytes.
    pub backlog_size: usize,
    /// `client-output-buffer-limit replica HARD SOFT SECONDS`: how many bytes of log a follower
    /// may lag behind before it is dropped (HARD at once, SOFT after SECONDS); 0 = no limit.
    pub output_limit: (u64, u64, u64),
    /// `repl-timeout` in seconds: a link silent this long is dropped.
    pub timeout_secs: u64,
    /// `repl-tombstone-ttl` in seconds (0: tombstones are never purged): a follower is sent no
    /// change much older than this from the log, but a full sync (see `Backlog::resume_position`).
    pub tombstone_ttl_secs: u64,
    /// `tls-replication yes`: links dial their peers with this TLS configuration (its roots are
    /// the trusted authorities, its client certificate this node's), and check that the peer's
    /// certificate names the host dialled.
    pub tls: Option<Arc<ClientConfig>>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            active: false,
            multi_master: false,
            no_forward: false,
            masterauth: None,
            masteruser: None,
            backlog_size: 16 << 20,
            output_limit: (256 << 20, 64 << 20, 60),
            timeout_secs: 60,
            tombstone_ttl_secs: 3600,
            tls: None,
        }
    }
}

/// Counters for INFO and metrics.
#[derive(Default)]
pub struct MeshStats {
    /// Peers' changes merged that won.
    pub applied: AtomicU64,
    /// Peers' changes merged that lost to a newer stamp.
    pub stale: AtomicU64,
    /// Peers' changes received again (over a second path) and skipped.
    pub duplicates: AtomicU64,
    /// Peers' changes refused for a stamp too far ahead of the local clock.
    pub drift_refused: AtomicU64,
    /// Full syncs this node served.
    pub full_syncs_served: AtomicU64,
    /// Partial resyncs this node served.
    pub partial_syncs_served: AtomicU64,
    /// Followers dropped for lagging past the output limit or the backlog.
    pub followers_dropped: AtomicU64,
    /// Apply lag of peers' changes (local wall clock minus the change's stamp).
    pub lag: LagHistogram,
}

/// This node's replication state.
pub struct Mesh {
    identity: NodeIdentity,
    local: StreamId,
    settings: Mutex<Settings>,
    backlog: OnceLock<Arc<Backlog>>,
    restored: Mutex<Vec<(StreamId, u64)>>,
    peers: Mutex<Vec<Arc<Peer>>>,
    pub(crate) followers: Mutex<Vec<Arc<Follower>>>,
    /// Counters.
    pub stats: MeshStats,
}

impl Mesh {
    /// The replication state of node `identity`, started (this run) at `run` Unix ms.
    pub fn new(identity: NodeIdentity, run: u64, settings: Settings) -> Arc<Mesh> {
        Arc::new(Mesh {
            identity,
            local: StreamId { node: identity.node_id(), run },
            settings: Mutex::new(settings),
            backlog: OnceLock::new(),
            restored: Mutex::new(Vec::new()),
            peers: Mutex::new(Vec::new()),
            followers: Mutex::new(Vec::new()),
            stats: MeshStats::default(),
        })
    }

    /// The node's identity.
    pub fn identity(&self) -> NodeIdentity {
        self.identity
    }

    /// This run's stream.
    pub fn local(&self) -> StreamId {
        self.local
    }

    /// The settings now.
    pub fn settings(&self) -> Settings {
        self.settings.lock().clone()
    }

    /// Changes the settings (CONFIG SET); the backlog follows its new size.
    pub fn set_settings(&self, settings: Settings) {
        if let Some(backlog) = self.backlog.get() {
            backlog.set_limit(settings.backlog_size);
        }
        *self.settings.lock() = settings;
    }

    /// Watermarks saved with the data this node started from (a snapshot): the data holds those
    /// changes, so peers can resume from them instead of a full sync. Call before the backlog
    /// starts.
    pub fn restore_marks(&self, marks: Vec<(StreamId, u64)>) {
        *self.restored.lock() = marks;
    }

    /// The backlog, if replication has started.
    pub fn backlog(&self) -> Option<&Arc<Backlog>> {
        self.backlog.get()
    }

    /// Starts replication's bookkeeping if it has not started: the backlog, and the keyspace's
    /// change feed into it. Until then a node pays nothing for replication. Must not be called
    /// while holding a shard lock (it takes them all, once).
    ///
    /// Whether the node already holds writes no log has (`history`: then every peer needs a first
    /// full sync) is decided, and the feed switched on, with every shard locked. A write commits
    /// (and reports to the feed, and counts in `dirty`) under its shards' locks, so each write
    /// either finished before (counted in `dirty`, or in the data loaded at start) or commits
    /// after and finds the feed on. Decided without the locks, a write committing between the
    /// check and the feed's start was in neither: with `dirty` read as 0, peers were then served
    /// partial resyncs that never held it. A test cannot time a write into that window, which
    /// is a few instructions wide; the locks close it by construction. From here on the clock
    /// keeps its ceiling on disk (see [`Ceiling`](crate::Ceiling)).
    pub fn start(&self, host: &dyn Host) -> Arc<Backlog> {
        let keyspace = host.keyspace();
        self.backlog
            .get_or_init(|| {
                host.clock().keep_ceiling();
                // The time only matters to commands' expiry checks: this transaction runs none.
                let all = keyspace.lock_all(0);
                let restored = std::mem::take(&mut *self.restored.lock());
                let has_data = (0..keyspace.databases()).any(|db| keyspace.db_size(db).0 > 0);
                let history = keyspace.stats.dirty.get() > 0 || (restored.is_empty() && has_data);
                let backlog = Arc::new(Backlog::new(self.local, self.settings.lock().backlog_size, history));
                backlog.covered(&restored);
                keyspace.start_feed(backlog.clone());
                drop(all);
                backlog
            })
            .clone()
    }

    /// The watermarks to save with a snapshot (taken before its cut), if replication runs.
    pub fn marks(&self) -> Option<Vec<(StreamId, u64)>> {
        self.backlog.get().map(|b| b.marks().0)
    }

    /// Adds a peer to pull from (`replicaof HOST PORT`, `REPLICAOF HOST PORT`) and starts its link;
    /// a plain replica (not active) has one master, so a new one replaces the old. Must be called
    /// inside the Tokio runtime. False if it was already a peer.
    pub fn add_peer(self: &Arc<Self>, host: Arc<dyn Host>, addr: &str, port: u16) -> bool {
        self.start(&*host);
        let mut peers = self.peers.lock();
        if peers.iter().any(|p| p.host == addr && p.port == port) {
            return false;
        }
        let settings = self.settings();
        if !(settings.active && settings.multi_master) {
            peers.drain(..).for_each(|p| p.stop());
        }
        let peer = Arc::new(Peer::new(addr.to_string(), port));
        peers.push(peer.clone());
        tokio::spawn(crate::peer::run(self.clone(), host, peer));
        true
    }

    /// Drops every peer (`REPLICAOF NO ONE`); the data stays as it is.
    pub fn drop_peers(&self) {
        self.peers.lock().drain(..).for_each(|p| p.stop());
    }

    /// The peers this node pulls from.
    pub fn peers(&self) -> Vec<Arc<Peer>> {
        self.peers.lock().clone()
    }

    /// The followers pulling from this node now.
    pub fn followers(&self) -> Vec<Arc<Follower>> {
        self.followers.lock().clone()
    }

    /// True if this node is a plain read-only replica (peers, not active).
    pub fn is_plain_replica(&self) -> bool {
        !self.settings.lock().active && !self.peers.lock().is_empty()
    }

    /// `INFO replication`'s fields, in order (Redis's first, then meshkv's per-peer lines).
    pub fn info(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut field = |name: &str, value: String| out.push((name.to_string(), value));
        let settings = self.settings();
        let peers = self.peers();
        let followers = self.followers();
        let role = match (settings.active, peers.is_empty()) {
            (true, _) => "active-replica",
            (false, true) => "master",
            (false, false) => "slave",
        };
        field("role", role.into());
        if let Some(first) = peers.first() {
            let status = first.status();
            field("master_host", first.host.clone());
            field("master_port", first.port.to_string());
            field("master_link_status", if status.state == "connected" { "up" } else { "down" }.into());
            field("master_last_io_seconds_ago", status.last_io_secs().to_string());
            field("master_sync_in_progress", ((status.state == "syncing") as u8).to_string());
            field("slave_read_only", ((!settings.active) as u8).to_string());
        }
        field("connected_slaves", followers.len().to_string());
        for (i, f) in followers.iter().enumerate() {
            let line = format!(
                "ip={},port={},state=online,offset={},lag={},uuid={}",
                f.ip,
                f.port,
                f.acked.load(Ordering::Relaxed),
                f.ack_age_secs(),
                f.uuid
            );
            field(&format!("slave{i}"), line);
        }
        field("node_uuid", self.identity.uuid().to_string());
        field("node_id", format!("{:016x}", self.local.node));
        field("active_replica", if settings.active { "yes" } else { "no" }.into());
        field("peers", peers.len().to_string());
        for (i, p) in peers.iter().enumerate() {
            let s = p.status();
            let line = format!(
                "host={},port={},state={},uuid={},sync={},lag_ms={},lag_changes={},applied={},full_syncs={},last_error={}",
                p.host,
                p.port,
                s.state,
                s.uuid.as_deref().unwrap_or(""),
                s.sync,
                s.lag_ms,
                s.lag_changes,
                s.applied,
                s.full_syncs,
                s.last_error.replace(['\r', '\n', ','], " ")
            );
            field(&format!("peer{i}"), line);
        }
        let (bytes, changes, appends, gaps, head) = match self.backlog.get() {
            Some(b) => {
                let (bytes, changes) = b.size();
                (bytes, changes, b.appends.load(Ordering::Relaxed), b.beyond_gaps(), b.head().0)
            }
            None => (0, 0, 0, 0, 0),
        };
        let stats = &self.stats;
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        field("master_repl_offset", head.to_string());
        field("repl_backlog_active", (self.backlog.get().is_some() as u8).to_string());
        field("repl_backlog_size", settings.backlog_size.to_string());
        field("repl_backlog_histlen", bytes.to_string());
        field("repl_backlog_changes", changes.to_string());
        field("repl_local_changes", appends.to_string());
        field("repl_changes_applied", count(&stats.applied));
        field("repl_changes_stale", count(&stats.stale));
        field("repl_changes_duplicate", count(&stats.duplicates));
        field("repl_clock_drift_refused", count(&stats.drift_refused));
        field("repl_changes_beyond_gaps", gaps.to_string());
        field("sync_full", count(&stats.full_syncs_served));
        field("sync_partial_ok", count(&stats.partial_syncs_served));
        field("repl_followers_dropped", count(&stats.followers_dropped));
        let (p50, p99) = stats.lag.percentiles();
        field("repl_apply_lag_p50_ms", p50.to_string());
        field("repl_apply_lag_p99_ms", p99.to_string());
        out
    }

    /// A follower's request parsed from `MESHKV.SYNC` arguments.
    pub fn parse_request(args: &[&[u8]]) -> Option<SyncRequest> {
        fn num(b: &[u8]) -> Option<u64> {
            std::str::from_utf8(b).ok()?.parse().ok()
        }
        let [uuid, node, run, port, n, rest @ ..] = args else { return None };
        let n = num(n)? as usize;
        if rest.len() != n.checked_mul(3)? {
            return None;
        }
        let mut marks = HashMap::with_capacity(n);
        for m in rest.chunks(3) {
            marks.insert(StreamId { node: num(m[0])?, run: num(m[1])? }, num(m[2])?);
        }
        Some(SyncRequest {
            uuid: String::from_utf8_lossy(uuid).into_owned(),
            stream: StreamId { node: num(node)?, run: num(run)? },
            port: u16::try_from(num(port)?).ok()?,
            marks,
        })
    }
}

/// What a follower sends in `MESHKV.SYNC`: who it is and which changes it already holds.
#[derive(Clone, Debug)]
pub struct SyncRequest {
    /// Its node UUID.
    pub uuid: String,
    /// Its stream this run (never sent back to it).
    pub stream: StreamId,
    /// The port it serves on.
    pub port: u16,
    /// Its watermarks.
    pub marks: HashMap<StreamId, u64>,
}

/// The file in `dir` that keeps the watermarks of the data saved there (next to a snapshot, or the
/// FLASH tier), so that a restarted node resumes from its peers' logs instead of a full sync.
pub const MARKS_FILE: &str = "meshkv-watermarks";

/// Writes watermarks to `path` atomically (a temporary file renamed over it). Plain text, one
/// `node run through` line per stream under a version line.
pub fn write_marks(path: &std::path::Path, marks: &[(StreamId, u64)]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    let mut text = String::from("meshkv-watermarks 1\n");
    for (stream, through) in marks {
        text.push_str(&format!("{} {} {}\n", stream.node, stream.run, through));
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Reads watermarks written by [`write_marks`]; None if the file is absent or not one of ours (then
/// the node simply gets a full sync: never wrong, only slower).
pub fn read_marks(path: &std::path::Path) -> Option<Vec<(StreamId, u64)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    if lines.next()? != "meshkv-watermarks 1" {
        return None;
    }
    lines
        .map(|line| {
            let mut words = line.split(' ').map(|w| w.parse::<u64>().ok());
            let (node, run, through) = (words.next()??, words.next()??, words.next()??);
            Some((StreamId { node, run }, through))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_requests_parse_and_refuse_junk() {
        let args: Vec<&[u8]> = vec![b"uuid", b"7", b"100", b"6380", b"1", b"9", b"200", b"42"];
        let request = Mesh::parse_request(&args).unwrap();
        assert_eq!(request.stream, StreamId { node: 7, run: 100 });
        assert_eq!(request.port, 6380);
        assert_eq!(request.marks.get(&StreamId { node: 9, run: 200 }), Some(&42));
        let short: Vec<&[u8]> = vec![b"uuid", b"7", b"100", b"6380", b"2", b"9", b"200", b"42"];
        assert!(Mesh::parse_request(&short).is_none());
        let bad_port: Vec<&[u8]> = vec![b"uuid", b"7", b"100", b"70000", b"0"];
        assert!(Mesh::parse_request(&bad_port).is_none());
    }

    #[test]
    fn marks_files_round_trip_and_junk_is_ignored() {
        let dir = std::env::temp_dir().join(format!("meshkv-marks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(MARKS_FILE);
        let marks = vec![(StreamId { node: 1, run: 2 }, 3), (StreamId { node: u64::MAX, run: 5 }, 6)];
        write_marks(&path, &marks).unwrap();
        assert_eq!(read_marks(&path), Some(marks));
        std::fs::write(&path, "meshkv-watermarks 1\n1 2 x\n").unwrap();
        assert_eq!(read_marks(&path), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
