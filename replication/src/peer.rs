//! A link to one peer this node pulls changes from (`replicaof HOST PORT`).
//!
//! The link connects, authenticates (`masterauth`/`masteruser`), and asks for every change after
//! the watermarks this node holds (`MESHKV.SYNC`). The peer answers with a partial resync (changes
//! from its log) or a full sync (a consistent cut, then its log), and the link merges what arrives
//! by the stamps' last-write-wins, relaying each change into this node's own backlog for the
//! followers downstream. Stamps further ahead of the local clock than `max-clock-drift` are
//! refused: the link drops with the error logged and counted, and retries later (by when the
//! local clock may have caught up), so nothing is applied silently and nothing is skipped.
//! A lost link reconnects with exponential backoff; each attempt looks the peer's host name up
//! again (a container that restarts may come back at another address, and a stopped one's name
//! does not resolve at all). With `tls-replication yes` the link speaks TLS: the peer's
//! certificate must chain to a trusted authority and name the host dialled, and a link refused
//! for its certificate says why in INFO replication (`last_error`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use meshkv_storage::{Effect, Merged, Stamp};
use parking_lot::Mutex;
use smallvec::SmallVec;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use crate::backlog::Backlog;
use crate::frame::{self, Frame, FrameError, Item, HEADER};
use crate::group::{Assembler, Group, Part};
use crate::mesh::{Host, Mesh};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a link ended.
#[derive(Debug, Error)]
pub enum LinkError {
    /// Connecting, reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer answered the handshake with an error (bad password, unknown command, …).
    #[error("peer refused the link: {0}")]
    Refused(String),
    /// The peer sent bytes that are not a frame.
    #[error("bad frame from peer: {0}")]
    Frame(#[from] FrameError),
    /// A change's record does not decode.
    #[error("bad record from peer: {0}")]
    Record(String),
    /// A change's stamp is too far ahead of the local clock.
    #[error("clock drift: {0}")]
    Drift(String),
    /// Nothing came for longer than `repl-timeout`.
    #[error("timeout: no data from peer for {0} s")]
    Timeout(u64),
    /// The TLS handshake failed: the peer's certificate was not trusted (or it refused ours).
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
}

/// What INFO shows of a link.
#[derive(Clone, Debug)]
pub struct PeerStatus {
    /// `connecting`, `syncing` (a full sync is arriving), `connected` or `down`.
    pub state: &'static str,
    /// The peer's node UUID, once it told.
    pub uuid: Option<String>,
    /// The last sync's kind: `none`, `full` or `partial`.
    pub sync: &'static str,
    /// Local time minus the stamp of the newest change applied, at the time it was applied.
    pub lag_ms: u64,
    /// Changes the peer had logged but not yet sent, at its last heartbeat.
    pub lag_changes: u64,
    /// Changes received and merged over this link.
    pub applied: u64,
    /// Full syncs this link received.
    pub full_syncs: u64,
    /// Why the link last failed.
    pub last_error: String,
    last_io: Instant,
}

impl PeerStatus {
    /// Seconds since data last arrived.
    pub fn last_io_secs(&self) -> u64 {
        self.last_io.elapsed().as_secs()
    }
}

/// One peer and its link's status.
pub struct Peer {
    /// The peer's host as configured.
    pub host: String,
    /// Its port.
    pub port: u16,
    status: Mutex<PeerStatus>,
    stopped: AtomicBool,
    stop: Notify,
}

impl Peer {
    pub(crate) fn new(host: String, port: u16) -> Peer {
        let status = PeerStatus {
            state: "connecting",
            uuid: None,
            sync: "none",
            lag_ms: 0,
            lag_changes: 0,
            applied: 0,
            full_syncs: 0,
            last_error: String::new(),
            last_io: Instant::now(),
        };
        Peer { host, port, status: Mutex::new(status), stopped: AtomicBool::new(false), stop: Notify::new() }
    }

    /// The link's status now.
    pub fn status(&self) -> PeerStatus {
        self.status.lock().clone()
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.stop.notify_waiters();
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// Runs the link to `peer` until it is dropped, reconnecting with backoff.
pub(crate) async fn run(mesh: Arc<Mesh>, host: Arc<dyn Host>, peer: Arc<Peer>) {
    let mut backoff = BACKOFF_MIN;
    while !peer.stopped() {
        let began = Instant::now();
        let result = tokio::select! {
            r = link(&mesh, &*host, &peer) => r,
            _ = peer.stop.notified() => Ok(()),
        };
        if peer.stopped() {
            break;
        }
        let error = match result {
            Ok(()) => "connection closed by peer".to_string(),
            Err(e) => e.to_string(),
        };
        host.log(true, &format!("replication link to {}:{} lost: {error}", peer.host, peer.port));
        {
            let mut status = peer.status.lock();
            status.state = "down";
            status.last_error = error;
        }
        if began.elapsed() > Duration::from_secs(10) {
            backoff = BACKOFF_MIN;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = peer.stop.notified() => break,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
        peer.status.lock().state = "connecting";
    }
}

/// The link's two directions: over plain TCP or TLS, whichever the settings ask for.
type Reader = BufReader<Box<dyn AsyncRead + Send + Unpin>>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// Reads one line of a RESP reply (at most 4 KiB of it: a peer is not trusted to end its lines).
async fn read_line(reader: &mut Reader) -> Result<String, LinkError> {
    let mut line = String::new();
    if reader.take(4096).read_line(&mut line).await? == 0 {
        return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(line.trim_end().to_string())
}

fn command(args: &[String]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// Connects to the peer, authenticates, and asks for every change after this node's watermarks.
/// Returns the connection and whether the peer answered with a full sync.
async fn handshake(
    mesh: &Mesh,
    host: &dyn Host,
    peer: &Peer,
    backlog: &Backlog,
) -> Result<(Reader, Writer, bool), LinkError> {
    let settings = mesh.settings();
    let (reader, mut writer) = tokio::time::timeout(Duration::from_secs(5), connect(peer, settings.tls.clone()))
        .await
        .map_err(|_| LinkError::Io(std::io::ErrorKind::TimedOut.into()))??;
    let mut reader = BufReader::with_capacity(256 * 1024, reader);

    if let Some(password) = &settings.masterauth {
        let mut auth = vec!["AUTH".to_string()];
        auth.extend(settings.masteruser.clone());
        auth.push(password.clone());
        writer.write_all(&command(&auth)).await?;
        writer.flush().await?;
        let reply = read_line(&mut reader).await?;
        if reply != "+OK" {
            return Err(LinkError::Refused(reply));
        }
    }
    let local = mesh.local();
    let (marks, _) = backlog.marks();
    let mut sync = vec![
        "MESHKV.SYNC".to_string(),
        mesh.identity().uuid().to_string(),
        local.node.to_string(),
        local.run.to_string(),
        host.port().to_string(),
        marks.len().to_string(),
    ];
    for (stream, through) in &marks {
        sync.extend([stream.node.to_string(), stream.run.to_string(), through.to_string()]);
    }
    writer.write_all(&command(&sync)).await?;
    writer.flush().await?; // a TLS stream may hold the record back until flushed
    let reply = read_line(&mut reader).await?;
    let mut words = reply.split(' ');
    let full = match words.next() {
        Some("+FULLSYNC") => true,
        Some("+PARTIAL") => false,
        _ => return Err(LinkError::Refused(reply)),
    };
    let mut status = peer.status.lock();
    status.uuid = words.next().map(str::to_string);
    status.sync = if full { "full" } else { "partial" };
    status.state = if full { "syncing" } else { "connected" };
    status.full_syncs += full as u64;
    status.last_io = Instant::now();
    Ok((reader, writer, full))
}

/// Dials the peer: a TCP connection (`connect` resolves the host name each time), then the TLS
/// handshake when `tls` is set.
async fn connect(
    peer: &Peer,
    tls: Option<Arc<ClientConfig>>,
) -> Result<(Box<dyn AsyncRead + Send + Unpin>, Writer), LinkError> {
    let socket = TcpStream::connect((peer.host.as_str(), peer.port)).await?;
    socket.set_nodelay(true)?;
    let Some(tls) = tls else {
        let (reader, writer) = socket.into_split();
        return Ok((Box::new(reader), Box::new(writer)));
    };
    let name = ServerName::try_from(peer.host.clone())
        .map_err(|e| LinkError::Tls(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    let stream = TlsConnector::from(tls).connect(name, socket).await.map_err(LinkError::Tls)?;
    let (reader, writer) = tokio::io::split(stream);
    Ok((Box::new(reader), Box::new(writer)))
}

/// What [`next_frame`] read.
enum Next {
    /// A frame: its tag and its bytes, header included.
    Frame(u8, Bytes),
    /// A change this node already has, skipped (`more`: it was a PART of a group).
    Duplicate { stream: frame::StreamId, more: bool },
}

/// Reads the next frame: its tag and its bytes (header included), in an allocation of their own,
/// since merged keys and values are slices of it and a relayed change is sent on as these very
/// bytes. A change this node already has (one arrives per path in a mesh) is skipped after its
/// first 24 bytes (origin and number), neither copied nor decoded.
async fn next_frame(mesh: &Mesh, reader: &mut Reader, backlog: &Backlog) -> Result<Next, LinkError> {
    let mut head = [0u8; HEADER];
    reader.read_exact(&mut head).await?;
    let (tag, len) = frame::header(head)?;
    let mut prefix = [0u8; frame::CHANGE_PREFIX];
    let prefix_len = if frame::is_change(tag) && len as usize >= prefix.len() { prefix.len() } else { 0 };
    reader.read_exact(&mut prefix[..prefix_len]).await?;
    let rest = u64::from(len) - prefix_len as u64;
    if let Some((stream, seq)) = frame::change_origin(tag, &prefix[..prefix_len]) {
        if stream == backlog.local() || !backlog.is_new(stream, seq) {
            mesh.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            tokio::io::copy(&mut reader.take(rest), &mut tokio::io::sink()).await?;
            return Ok(Next::Duplicate { stream, more: tag == frame::TAG_PART });
        }
    }
    let mut bytes = Vec::with_capacity(HEADER + len as usize);
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(&prefix[..prefix_len]);
    if reader.take(rest).read_to_end(&mut bytes).await? as u64 != rest {
        return Err(LinkError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(Next::Frame(tag, bytes.into()))
}

/// One connection's life: handshake, then frames until an error.
async fn link(mesh: &Mesh, host: &dyn Host, peer: &Peer) -> Result<(), LinkError> {
    let backlog = mesh.start(host);
    let (mut reader, mut writer, full) = handshake(mesh, host, peer, &backlog).await?;
    let settings = mesh.settings();
    if full && !settings.active {
        host.flush_all(); // a plain replica mirrors its master: what the master lacks goes
    }
    let kind = if full { "full" } else { "partial" };
    host.log(false, &format!("replication link to {}:{} up ({kind} sync)", peer.host, peer.port));

    let timeout = Duration::from_secs(settings.timeout_secs.max(1));
    let mut applied = 0u64;
    let mut groups = Assembler::default();
    // A full sync's cut, merged as one when it ends (see `merge_cut`).
    let mut cut: Vec<Item> = Vec::new();
    loop {
        let next = tokio::time::timeout(timeout, next_frame(mesh, &mut reader, &backlog)).await;
        let (tag, bytes) = match next.map_err(|_| LinkError::Timeout(timeout.as_secs()))?? {
            Next::Frame(tag, bytes) => (tag, bytes),
            Next::Duplicate { stream, more } => {
                groups.skipped(stream, more);
                continue;
            }
        };
        match frame::decode(tag, bytes.slice(HEADER..))? {
            Frame::Change { stream, seq, item, more } => {
                let Some(group) = groups.take(Part { stream, seq, item, frame: bytes }, more) else { continue };
                let wall = host.wall_ms();
                applied += group.len() as u64;
                let newest = apply_group(mesh, host, &backlog, group, wall)?;
                if let Some(stamp) = newest {
                    let lag = wall.saturating_sub(stamp.physical_ms());
                    mesh.stats.lag.record(lag);
                    metrics::histogram!("meshkv_repl_apply_lag_ms").record(lag as f64);
                    peer.status.lock().lag_ms = lag;
                }
            }
            Frame::Entry(item) => {
                check(mesh, host, &item, host.wall_ms())?;
                cut.push(item);
                applied += 1;
            }
            Frame::End(marks) => {
                merge_cut(mesh, host, &std::mem::take(&mut cut), host.wall_ms())?;
                backlog.covered(&marks);
                peer.status.lock().state = "connected";
                host.log(false, &format!("full sync from {}:{} merged", peer.host, peer.port));
            }
            Frame::Beat { head, sent, .. } => {
                {
                    let mut status = peer.status.lock();
                    status.lag_changes = head.saturating_sub(sent);
                    status.applied += applied;
                    status.last_io = Instant::now();
                    if status.lag_changes == 0 && applied == 0 {
                        status.lag_ms = 0;
                    }
                }
                applied = 0;
                writer.write_all(&frame::ack(sent)).await?;
                writer.flush().await?;
            }
            Frame::Ack(_) => {}
        }
    }
}

/// Checks a change or cut entry from the peer before anything of it is merged: its database
/// exists, its record has a stamp, and the stamp is within `max-clock-drift` of the local clock
/// (which then moves past it). Returns the stamp.
fn check(mesh: &Mesh, host: &dyn Host, item: &Item, wall: u64) -> Result<Stamp, LinkError> {
    if item.db as usize >= host.keyspace().databases() {
        return Err(LinkError::Record(format!("database {} out of range", item.db)));
    }
    let stamp = item.effect.stamp().ok_or_else(|| LinkError::Record("undecodable record".into()))?;
    if let Err(e) = host.clock().observe(stamp, wall) {
        mesh.stats.drift_refused.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("meshkv_repl_clock_drift_refused_total").increment(1);
        return Err(LinkError::Drift(e.to_string()));
    }
    Ok(stamp)
}

fn count(mesh: &Mesh, merged: Merged) {
    let (counter, outcome) = match merged {
        Merged::Applied => (&mesh.stats.applied, "applied"),
        Merged::Stale => (&mesh.stats.stale, "stale"),
    };
    counter.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("meshkv_repl_changes_merged_total", "outcome" => outcome).increment(1);
}

/// Merges a full sync's cut (every entry checked as it arrived) when it ends, under the locks of
/// all its keys at once. The cut holds the peer's groups (an MSET's keys, an EXEC's writes) whole;
/// merged key by key as they arrived, a reader here could see half of one (the Jepsen-style
/// campaign's seed 2007 read half an MSET that way). Until the end, readers see the data as it was
/// before the sync: consistent, if older.
fn merge_cut(mesh: &Mesh, host: &dyn Host, cut: &[Item], wall: u64) -> Result<(), LinkError> {
    let changes: Vec<_> = cut.iter().map(|item| (item.db as usize, item.key.clone(), &item.effect)).collect();
    let merged = host.keyspace().merge_group(&changes, wall).map_err(|e| LinkError::Record(e.to_string()))?;
    for merged in merged {
        count(mesh, merged);
    }
    Ok(())
}

/// Merges one checked change on its own key's lock.
fn merge_one(mesh: &Mesh, host: &dyn Host, item: &Item, wall: u64) -> Result<(), LinkError> {
    let merged = host
        .keyspace()
        .merge(item.db as usize, item.key.clone(), &item.effect, wall)
        .map_err(|e| LinkError::Record(e.to_string()))?;
    count(mesh, merged);
    Ok(())
}

/// Merges a group of changes from the peer together (every one checked first, so a bad one
/// merges none), then logs them for relaying (with their stamps' times, read by the check);
/// returns the newest stamp of a change that is not a flush, for the lag.
fn apply_group(
    mesh: &Mesh,
    host: &dyn Host,
    backlog: &Backlog,
    group: Group,
    wall: u64,
) -> Result<Option<Stamp>, LinkError> {
    let mut newest = None;
    let mut stamps: SmallVec<[Stamp; 1]> = SmallVec::new();
    for part in &group {
        let stamp = check(mesh, host, &part.item, wall)?;
        if !matches!(part.item.effect, Effect::Flush(_)) {
            newest = newest.max(Some(stamp));
        }
        stamps.push(stamp);
    }
    if let [part] = group.as_slice() {
        merge_one(mesh, host, &part.item, wall)?;
    } else {
        let changes: Vec<_> = group.iter().map(|p| (p.item.db as usize, p.item.key.clone(), &p.item.effect)).collect();
        let merged = host.keyspace().merge_group(&changes, wall).map_err(|e| LinkError::Record(e.to_string()))?;
        for merged in merged {
            count(mesh, merged);
        }
    }
    for (part, stamp) in group.into_iter().zip(stamps) {
        backlog.relay(part.stream, part.seq, part.frame, stamp.physical_ms());
    }
    Ok(newest)
}
