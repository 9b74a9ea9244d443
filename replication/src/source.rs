//! Serving a follower: what a node sends to a peer that pulls its changes.
//!
//! After `MESHKV.SYNC` the follower's connection is handed over here. If the backlog still holds
//! every change the follower lacks, it gets a partial resync: the log from there on. Otherwise it
//! gets a full sync: the watermarks are read first, then a consistent cut of the keyspace (which
//! therefore holds at least what they claim) is streamed while writes go on, then END with those
//! watermarks, then the log from the position read with them. The follower merges everything by
//! stamp, so a change sent twice (in the cut and again from the log) is harmless.
//!
//! When this node merges a full sync from a peer, what the cut brought is not in its log: every
//! follower is then dropped and reconnects (see [`Backlog::covered`](crate::Backlog::covered)),
//! to a full sync if it lacks any of it, a partial one otherwise.
//!
//! A follower's changes of its current run are never sent back to it (those of an earlier run
//! are: it may have lost them in a restart), and a follower that falls behind by more than
//! the output limit, or off the end of the backlog, is dropped; it reconnects and resyncs, which
//! keeps a slow peer from making this node hold more than the backlog.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshkv_storage::Effect;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use crate::backlog::{Evicted, Recipient};
use crate::frame::{self, Frame, HEADER};
use crate::mesh::{Host, Mesh, SyncRequest};

/// Changes read from the backlog per lock.
const BATCH: usize = 1024;
/// Bytes buffered before a full sync's cut is written out.
const CHUNK: usize = 64 * 1024;
const BEAT_EVERY: Duration = Duration::from_millis(500);
const IDLE_BEAT: Duration = Duration::from_millis(50);

/// A follower pulling from this node (INFO's `slaveN` lines).
pub struct Follower {
    /// Its address.
    pub ip: String,
    /// The port it serves on.
    pub port: u16,
    /// Its node UUID.
    pub uuid: String,
    /// Log position it acknowledged.
    pub acked: AtomicU64,
    created: Instant,
    acked_at_ms: AtomicU64,
}

impl Follower {
    /// Seconds since its last acknowledgement.
    pub fn ack_age_secs(&self) -> u64 {
        (self.created.elapsed().as_millis() as u64).saturating_sub(self.acked_at_ms.load(Ordering::Relaxed)) / 1000
    }
}

/// Serves the follower that sent `request` on this connection until it goes, falls behind, or
/// `stop` completes (CLIENT KILL).
pub async fn serve<R, W>(
    mesh: Arc<Mesh>,
    host: Arc<dyn Host>,
    ip: String,
    mut reader: R,
    writer: W,
    request: SyncRequest,
    stop: impl std::future::Future<Output = ()>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send,
{
    let follower = Arc::new(Follower {
        ip,
        port: request.port,
        uuid: request.uuid.clone(),
        acked: AtomicU64::new(0),
        created: Instant::now(),
        acked_at_ms: AtomicU64::new(0),
    });
    mesh.followers.lock().push(follower.clone());
    let acks = {
        let follower = follower.clone();
        tokio::spawn(async move {
            let mut head = [0u8; HEADER];
            while reader.read_exact(&mut head).await.is_ok() {
                // A follower only ever sends acknowledgements, 8 bytes each.
                let Ok((tag, len @ 0..=64)) = frame::header(head) else { break };
                let mut payload = vec![0u8; len as usize];
                if reader.read_exact(&mut payload).await.is_err() {
                    break;
                }
                if let Ok(Frame::Ack(position)) = frame::decode(tag, payload.into()) {
                    follower.acked.store(position, Ordering::Relaxed);
                    follower.acked_at_ms.store(follower.created.elapsed().as_millis() as u64, Ordering::Relaxed);
                }
            }
        })
    };
    let mut writer = BufWriter::with_capacity(CHUNK, writer);
    let result = tokio::select! {
        result = stream(&mesh, &*host, &mut writer, &request, &acks) => result,
        _ = stop => Err("killed (CLIENT KILL)".to_string()),
    };
    acks.abort();
    mesh.followers.lock().retain(|f| !Arc::ptr_eq(f, &follower));
    let (warning, why) = match result {
        Ok(()) => (false, "it went away".to_string()),
        Err(e) => (true, e),
    };
    host.log(warning, &format!("replication: follower {} (port {}) disconnected: {why}", request.uuid, request.port));
}

async fn stream<W: AsyncWrite + Unpin>(
    mesh: &Mesh,
    host: &dyn Host,
    writer: &mut W,
    request: &SyncRequest,
    acks: &tokio::task::JoinHandle<()>,
) -> Result<(), String> {
    let backlog = mesh.start(host);
    let settings = mesh.settings();
    let limit = Duration::from_secs(settings.timeout_secs.max(1));
    let local = backlog.local();
    let uuid = mesh.identity().uuid();
    // Read before the log position is chosen: a full sync merged from upstream after this point
    // brings changes that this follower may lack and this log does not hold.
    let gaps = backlog.gaps();
    let horizon_ms = match settings.tombstone_ttl_secs {
        0 => 0,
        // A tenth of the ttl for the clocks' skew: the follower purges by its own clock.
        ttl => host.wall_ms().saturating_sub(ttl * 900),
    };
    let mut follower = Recipient::new(request.stream, &request.marks, local, settings.no_forward);
    let resume = backlog.resume_position(&mut follower, horizon_ms);
    let (kind, served) = match resume {
        Some(_) => ("partial", &mesh.stats.partial_syncs_served),
        None => ("full", &mesh.stats.full_syncs_served),
    };
    served.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("meshkv_repl_syncs_served_total", "kind" => kind).increment(1);
    let line = if resume.is_some() { "+PARTIAL" } else { "+FULLSYNC" };
    let hello = format!("{line} {uuid} {} {}\r\n", local.node, local.run);
    timed(limit, writer.write_all(hello.as_bytes())).await?;
    let mut position = match resume {
        Some(position) => position,
        None => {
            let (marks, position) = backlog.marks();
            send_cut(host, writer, &marks, limit).await?;
            position
        }
    };
    timed(limit, writer.flush()).await?;

    let (hard, soft, soft_secs) = settings.output_limit;
    let mut over_soft_since: Option<Instant> = None;
    let mut last_beat = Instant::now();
    let mut buf = Vec::new();
    let mut woken = false;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if woken {
            // Let the worker's client connections run first: what they write meanwhile goes out
            // in the same write (one syscall per burst, not per change).
            tokio::task::yield_now().await;
        }
        let appended = backlog.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        if backlog.gaps() != gaps {
            return Err("a full sync from upstream brought changes not in the log: it resyncs".to_string());
        }
        let mut waiting = Some(backlog.waiting());
        backlog.read_into(position, BATCH, &mut batch).map_err(|Evicted| {
            mesh.stats.followers_dropped.fetch_add(1, Ordering::Relaxed);
            "it fell behind the end of the backlog (repl-backlog-size)".to_string()
        })?;
        if !batch.is_empty() {
            waiting = None; // busy sending: writers need not wake this link
        }
        if let Some(last) = batch.last() {
            let (_, head_offset) = backlog.head();
            let behind = head_offset - last.offset;
            if hard > 0 && behind > hard {
                mesh.stats.followers_dropped.fetch_add(1, Ordering::Relaxed);
                return Err(format!("{behind} bytes behind, over the replica output limit"));
            }
            if soft > 0 && behind > soft {
                let since = *over_soft_since.get_or_insert_with(Instant::now);
                if since.elapsed().as_secs() >= soft_secs {
                    mesh.stats.followers_dropped.fetch_add(1, Ordering::Relaxed);
                    return Err(format!("{behind} bytes behind for {soft_secs} s, over the soft output limit"));
                }
            } else {
                over_soft_since = None;
            }
        }
        for logged in &batch {
            position += 1;
            if follower.is_sent(logged) {
                timed(limit, writer.write_all(&logged.frame)).await?;
            }
        }
        // A heartbeat tells the follower how far behind it is (and is acknowledged): every
        // BEAT_EVERY under load, and soon after a burst once idle, but never more than IDLE_BEAT
        // apart from the last, so a busy link does not trade a heartbeat and an ack per burst.
        let idle = batch.is_empty();
        let since = last_beat.elapsed();
        if since >= BEAT_EVERY || (idle && since >= IDLE_BEAT) {
            buf.clear();
            frame::beat(&mut buf, backlog.head().0, position, host.wall_ms());
            timed(limit, writer.write_all(&buf)).await?;
            last_beat = Instant::now();
        }
        if idle {
            timed(limit, writer.flush()).await?;
            if acks.is_finished() {
                return Ok(());
            }
            let wait = if since >= IDLE_BEAT { BEAT_EVERY } else { IDLE_BEAT - since };
            woken = tokio::time::timeout(wait, appended).await.is_ok();
            drop(waiting);
        } else {
            woken = false;
        }
    }
}

/// A write to the follower that must make progress within `limit` (`repl-timeout`): a follower
/// that stopped reading is dropped, not waited for forever.
async fn timed<T>(limit: Duration, io: impl std::future::Future<Output = std::io::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(limit, io).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(_) => Err(format!("it read nothing for {} s (repl-timeout)", limit.as_secs())),
    }
}

/// Streams a full sync's consistent cut (every key, tombstone and flush), then END with `marks`.
async fn send_cut<W: AsyncWrite + Unpin>(
    host: &dyn Host,
    writer: &mut W,
    marks: &[(frame::StreamId, u64)],
    limit: Duration,
) -> Result<(), String> {
    let cut = host.keyspace().replication_cut(host.wall_ms());
    let mut buf = Vec::with_capacity(CHUNK * 2);
    for (db, stamp) in &cut.floors {
        frame::entry(&mut buf, *db, &[], &Effect::Flush(*stamp));
    }
    for (db, keys) in &cut.dbs {
        for (key, entry) in keys.iter() {
            let record = meshkv_storage::codec::encode_entry_bytes(entry);
            frame::entry(&mut buf, *db, key, &Effect::Put(record));
            if buf.len() >= CHUNK {
                timed(limit, writer.write_all(&buf)).await?;
                buf.clear();
            }
        }
    }
    // A deleted dotted collection's ghost goes instead of its tombstone (see `KeyspaceCut`).
    let ghosts: std::collections::HashSet<(usize, &[u8])> =
        cut.ghosts.iter().map(|(db, key, _)| (*db, key.as_ref())).collect();
    for (db, key, ghost) in &cut.ghosts {
        frame::entry(&mut buf, *db, key, &Effect::Put(meshkv_storage::codec::encode_entry_bytes(ghost)));
        if buf.len() >= CHUNK {
            timed(limit, writer.write_all(&buf)).await?;
            buf.clear();
        }
    }
    for (db, key, stamp) in cut.tombstones.iter().filter(|(db, key, _)| !ghosts.contains(&(*db, key.as_ref()))) {
        frame::entry(&mut buf, *db, key, &Effect::Delete(*stamp));
        if buf.len() >= CHUNK {
            timed(limit, writer.write_all(&buf)).await?;
            buf.clear();
        }
    }
    frame::end(&mut buf, marks);
    timed(limit, writer.write_all(&buf)).await
}
