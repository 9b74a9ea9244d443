//! The backlog: the log of recent changes this node sends to the peers that pull from it.
//!
//! It holds, in the order this node applied them, its own changes (numbered in its own stream)
//! and the changes it merged from peers (keeping their origin's stream and number, so that they
//! can be relayed: a chain A–B–C converges like a full mesh). It is bounded in bytes
//! (`repl-backlog-size`); the oldest changes fall off the front.
//!
//! The watermarks live under the same lock, so that a full sync reads a pair that fits: the
//! watermarks first, then (after the lock is let go) a consistent cut of the keyspace, which
//! therefore holds at least everything the watermarks claim. A peer that reconnects with its own
//! watermarks can be served from the log (a partial resync) if, for every stream, nothing it lacks
//! has fallen off; `log_from` tracks, per stream, the first number from which the log still holds
//! every change of that stream this node has.

use std::collections::{HashMap, VecDeque};

use ahash::AHashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use meshkv_storage::{ChangeSink, Recorded};
use parking_lot::Mutex;
use smallvec::SmallVec;
use tokio::sync::Notify;

use crate::frame::{self, StreamId};
use crate::watermark::Watermarks;

/// One change in the log: its stream and number, and its CHANGE frame, ready to send.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Whose change.
    pub stream: StreamId,
    /// Its number in that stream.
    pub seq: u64,
    /// The frame.
    pub frame: Bytes,
    /// Bytes ever appended to the log, this frame included (how far behind a follower is).
    pub offset: u64,
    /// The physical time (Unix ms) of the change's stamp: how old it is, which decides whether a
    /// follower may still be sent it from here (see [`Backlog::resume_position`]).
    pub stamp_ms: u64,
}

/// A follower as this node's log sees it: which logged changes it is sent.
pub struct Recipient<'a> {
    /// The follower's own stream (of its current run).
    stream: StreamId,
    /// Its watermarks: how many changes of each stream it holds.
    marks: &'a HashMap<StreamId, u64>,
    /// This node's stream.
    local: StreamId,
    /// `multi-master-no-forward`: only this node's own changes (and the follower's) go out.
    no_forward: bool,
    /// The watermark of the stream of the last change looked at: changes come in runs of one
    /// stream, so the map is looked up once per run, not per change.
    last: Option<(StreamId, u64)>,
}

impl<'a> Recipient<'a> {
    /// The follower running as `stream` and holding `marks`, served by this node (`local`).
    pub fn new(stream: StreamId, marks: &'a HashMap<StreamId, u64>, local: StreamId, no_forward: bool) -> Self {
        Recipient { stream, marks, local, no_forward, last: None }
    }

    /// How many changes of `stream` the follower holds.
    fn holds(&mut self, stream: StreamId) -> u64 {
        match self.last {
            Some((last, held)) if last == stream => held,
            _ => {
                let held = self.marks.get(&stream).copied().unwrap_or(0);
                self.last = Some((stream, held));
                held
            }
        }
    }

    /// True if the follower is sent `logged`: it lacks it, it is not the follower's own (of its
    /// current run), and `no_forward` does not hold back another node's change. A follower's own
    /// changes of an earlier run do go back: restarted from a snapshot (or killed), it lacks what
    /// it wrote after that, and this may be the only copy it can get them back from.
    pub fn is_sent(&mut self, logged: &Logged) -> bool {
        let forwarded = logged.stream.node != self.local.node && logged.stream.node != self.stream.node;
        logged.stream != self.stream && logged.seq > self.holds(logged.stream) && !(forwarded && self.no_forward)
    }
}

/// A log position that has fallen off the front of the backlog.
#[derive(Debug, PartialEq, Eq)]
pub struct Evicted;

/// The change log and the watermarks.
pub struct Backlog {
    local: StreamId,
    inner: Mutex<Inner>,
    /// Woken at appends while a link serving a follower waits on it.
    pub appended: Notify,
    /// Links about to wait on `appended` (a write wakes them only when there are some).
    waiting: AtomicUsize,
    /// Changes ever appended (INFO).
    pub appends: AtomicU64,
    /// Full syncs merged that covered changes this log does not hold (see [`Backlog::covered`]).
    gaps: AtomicU64,
}

struct Inner {
    entries: VecDeque<Logged>,
    /// Log position of `entries[0]` (positions count every change ever appended).
    first: u64,
    bytes: usize,
    limit: usize,
    /// Bytes ever appended.
    offset: u64,
    next_seq: u64,
    log_from: AHashMap<StreamId, u64>,
    marks: Watermarks,
}

impl Backlog {
    /// An empty backlog of at most `limit` bytes for this node's stream `local`. With `history`,
    /// the node already holds writes that no log has (made before replication was switched on):
    /// then no peer can be served a partial resync of its stream until it had a full sync.
    pub fn new(local: StreamId, limit: usize, history: bool) -> Backlog {
        let mut inner = Inner {
            entries: VecDeque::new(),
            first: 0,
            bytes: 0,
            limit,
            offset: 0,
            next_seq: 1,
            log_from: AHashMap::new(),
            marks: Watermarks::default(),
        };
        if history {
            // Change 1 stands for everything before: never in the log, covered by full syncs.
            inner.log_from.insert(local, 2);
            inner.next_seq = 2;
        }
        Backlog {
            local,
            inner: Mutex::new(inner),
            appended: Notify::new(),
            waiting: AtomicUsize::new(0),
            appends: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
        }
    }

    /// Registers a link that is about to read and, if nothing is new, wait on `appended`: writes
    /// notify while the returned guard lives. Take it (and enable the `Notified` future) before
    /// reading, so that no append slips between the read and the wait unnoticed.
    pub fn waiting(&self) -> Waiting<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(self)
    }

    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.appended.notify_waiters();
        }
    }

    /// This node's stream in the current run.
    pub fn local(&self) -> StreamId {
        self.local
    }

    /// Changes the size bound (CONFIG SET repl-backlog-size).
    pub fn set_limit(&self, limit: usize) {
        let mut inner = self.inner.lock();
        inner.limit = limit;
        inner.trim();
    }

    /// True if change `seq` of `stream` is not applied yet (a peer's change is merged only then).
    pub fn is_new(&self, stream: StreamId, seq: u64) -> bool {
        stream != self.local && self.inner.lock().marks.is_new(stream, seq)
    }

    /// Logs a peer's change after merging it (applied or not: followers need the number either
    /// way). False if another link logged it first.
    /// `stamp_ms`: the physical time of the change's stamp.
    pub fn relay(&self, stream: StreamId, seq: u64, frame: Bytes, stamp_ms: u64) -> bool {
        let mut inner = self.inner.lock();
        if !inner.marks.mark(stream, seq) {
            return false;
        }
        inner.push(stream, seq, frame, stamp_ms);
        drop(inner);
        self.wake();
        true
    }

    /// After a full sync from a peer: everything its cut covered counts as applied, and is not in
    /// this log (so a follower lacking it needs a full sync from here too). If that covered
    /// anything new, the followers being served from this log are told to resync
    /// ([`Backlog::gaps`]): streaming on from their position would never give them what the cut
    /// brought, and in a chain A -> X -> S they would stay behind for as long as their link held.
    pub fn covered(&self, marks: &[(StreamId, u64)]) {
        let mut inner = self.inner.lock();
        let mut gap = false;
        for &(stream, through) in marks {
            if stream == self.local {
                continue;
            }
            let before = inner.marks.through(stream);
            inner.marks.advance(stream, through);
            if through > before {
                let from = inner.log_from.entry(stream).or_insert(1);
                *from = (*from).max(through + 1);
                gap = true;
            }
        }
        drop(inner);
        if gap {
            self.gaps.fetch_add(1, Ordering::SeqCst);
            self.wake();
        }
    }

    /// How many merged full syncs left this log without changes this node holds: a link serving a
    /// follower reads it before it starts, and ends (the follower reconnects and resyncs) when it
    /// changes.
    pub fn gaps(&self) -> u64 {
        self.gaps.load(Ordering::SeqCst)
    }

    /// The watermarks (this node's own stream's included) and the log position that goes with
    /// them (a full sync's start).
    pub fn marks(&self) -> (Vec<(StreamId, u64)>, u64) {
        let inner = self.inner.lock();
        (inner.marks_with(self.local), inner.first + inner.entries.len() as u64)
    }

    /// Changes applied beyond a gap in some stream (INFO).
    pub fn beyond_gaps(&self) -> usize {
        self.inner.lock().marks.beyond_gaps()
    }

    /// Where a partial resync for `follower` starts, or None if it must have a full sync: the log
    /// no longer reaches back far enough for some stream, or some change the follower would be
    /// sent is stamped before `horizon_ms` (Unix ms; 0: none is too old).
    ///
    /// The horizon is the tombstone purge's (`repl-tombstone-ttl`), with a margin for the clocks'
    /// skew. A follower may have purged the tombstone of a delete that superseded an old change
    /// (a key written, then deleted, both longer ago than the ttl); sent that change again,
    /// with nothing left to tell it that it is stale, the follower would bring the key back, and
    /// spread it with its next full sync. The log is where such changes come from: a follower
    /// that restarted without watermarks (after `kill -9` on the FLASH tier) lacks everything,
    /// and was sent the whole log, whose oldest changes preceded deletes that this node had
    /// merged by full sync or another path (the CI Jepsen-style run's seed 1 brought 16 to 72
    /// deleted keys back on every node that way). A full sync sends state instead, in which a
    /// deleted key is absent or a tombstone.
    pub fn resume_position(&self, follower: &mut Recipient<'_>, horizon_ms: u64) -> Option<u64> {
        let inner = self.inner.lock();
        let reachable = inner.marks_with(self.local).iter().all(|&(stream, ours)| {
            let have = follower.marks.get(&stream).copied().unwrap_or(0);
            stream == follower.stream || have >= ours || inner.log_from.get(&stream).copied().unwrap_or(1) <= have + 1
        });
        if !reachable {
            return None;
        }
        let mut too_old = inner.entries.iter().filter(|logged| logged.stamp_ms < horizon_ms);
        let sends_one = too_old.any(|logged| follower.is_sent(logged));
        (!sends_one).then_some(inner.first)
    }

    /// Up to `max` logged changes from position `from` on (none at the head), into `batch`, a
    /// buffer the caller reuses (it is cleared first).
    pub fn read_into(&self, from: u64, max: usize, batch: &mut Vec<Logged>) -> Result<(), Evicted> {
        batch.clear();
        let inner = self.inner.lock();
        if from < inner.first {
            return Err(Evicted);
        }
        let skip = (from - inner.first) as usize;
        batch.extend(inner.entries.range(skip.min(inner.entries.len())..).take(max).cloned());
        Ok(())
    }

    /// The position after the newest change, and the byte offset of its end.
    pub fn head(&self) -> (u64, u64) {
        let inner = self.inner.lock();
        (inner.first + inner.entries.len() as u64, inner.offset)
    }

    /// Bytes held and changes held.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.bytes, inner.entries.len())
    }
}

/// A link registered as waiting for appends (see [`Backlog::waiting`]).
pub struct Waiting<'a>(&'a Backlog);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Inner {
    /// The watermarks, with this node's own stream (whose changes are numbered here, never merged).
    fn marks_with(&self, local: StreamId) -> Vec<(StreamId, u64)> {
        let mut list = self.marks.list();
        if self.next_seq > 1 {
            list.push((local, self.next_seq - 1));
            list.sort_unstable();
        }
        list
    }

    fn push(&mut self, stream: StreamId, seq: u64, frame: Bytes, stamp_ms: u64) {
        self.bytes += frame.len();
        self.offset += frame.len() as u64;
        self.entries.push_back(Logged { stream, seq, frame, offset: self.offset, stamp_ms });
        self.trim();
    }

    fn trim(&mut self) {
        while self.bytes > self.limit && self.entries.len() > 1 {
            let Some(gone) = self.entries.pop_front() else { break };
            self.bytes -= gone.frame.len();
            self.first += 1;
            let from = self.log_from.entry(gone.stream).or_insert(1);
            *from = (*from).max(gone.seq + 1);
        }
    }
}

impl ChangeSink for Backlog {
    /// Numbers a group's frames one after another under one hold of the lock (so no other
    /// writer's change comes between them): PART frames, then a CHANGE that closes the group.
    fn record(&self, group: &[Recorded<'_>]) {
        let last = group.len().saturating_sub(1);
        let mut frames: SmallVec<[Vec<u8>; 4]> = group
            .iter()
            .enumerate()
            .map(|(i, r)| frame::unnumbered(self.local, r.db, r.key, r.change, i < last))
            .collect();
        let mut inner = self.inner.lock();
        for (frame, recorded) in frames.iter_mut().zip(group) {
            let seq = inner.next_seq;
            inner.next_seq += 1;
            frame::number(frame, seq);
            inner.push(self.local, seq, std::mem::take(frame).into(), recorded.change.stamp().physical_ms());
        }
        drop(inner);
        self.appends.fetch_add(group.len() as u64, Ordering::Relaxed);
        self.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshkv_storage::{Change, Stamp};

    const ME: StreamId = StreamId { node: 1, run: 10 };
    const PEER: StreamId = StreamId { node: 2, run: 20 };
    const FOLLOWER: StreamId = StreamId { node: 3, run: 30 };

    /// Where `backlog` (of stream ME) resumes FOLLOWER, which holds `theirs`.
    fn resume(backlog: &Backlog, theirs: &HashMap<StreamId, u64>, no_forward: bool, horizon_ms: u64) -> Option<u64> {
        backlog.resume_position(&mut Recipient::new(FOLLOWER, theirs, ME, no_forward), horizon_ms)
    }

    fn delete(backlog: &Backlog, key: &[u8]) {
        backlog.record(&[Recorded { db: 0, key, change: Change::Delete(Stamp::default()) }]);
    }

    #[test]
    fn a_follower_resumes_while_the_log_reaches_back() {
        let backlog = Backlog::new(ME, 1 << 20, false);
        delete(&backlog, b"a");
        delete(&backlog, b"b");
        assert!(backlog.relay(PEER, 1, Bytes::from_static(b"frame"), 0));
        assert!(!backlog.relay(PEER, 1, Bytes::from_static(b"frame"), 0), "logged once");
        assert!(!backlog.is_new(ME, 3), "never takes back its own changes");
        let theirs = HashMap::new();
        assert_eq!(resume(&backlog, &theirs, false, 0), Some(0));
        let mut read = Vec::new();
        backlog.read_into(0, 10, &mut read).unwrap();
        let streams: Vec<_> = read.iter().map(|l| (l.stream, l.seq)).collect();
        assert_eq!(streams, vec![(ME, 1), (ME, 2), (PEER, 1)]);
        assert_eq!(backlog.head().0, 3);
        backlog.read_into(3, 10, &mut read).unwrap();
        assert!(read.is_empty());
    }

    #[test]
    fn a_follower_too_far_behind_needs_a_full_sync() {
        let backlog = Backlog::new(ME, 200, false);
        for i in 0..20u8 {
            delete(&backlog, &[i]);
        }
        assert!(backlog.size().0 <= 200);
        assert!(matches!(backlog.read_into(0, 1, &mut Vec::new()), Err(Evicted)));
        let behind: HashMap<_, _> = [(ME, 2)].into();
        assert_eq!(resume(&backlog, &behind, false, 0), None);
        let (_, position) = backlog.marks();
        let recent: HashMap<_, _> = [(ME, 19)].into();
        assert!(resume(&backlog, &recent, false, 0).is_some());
        assert_eq!(position, 20);
    }

    #[test]
    fn history_before_the_log_forces_a_first_full_sync() {
        let backlog = Backlog::new(ME, 1 << 20, true);
        assert_eq!(resume(&backlog, &HashMap::new(), false, 0), None);
        let synced: HashMap<_, _> = [(ME, 1)].into();
        assert_eq!(resume(&backlog, &synced, false, 0), Some(0));
    }

    #[test]
    fn a_full_sync_covers_without_logging() {
        let backlog = Backlog::new(ME, 1 << 20, false);
        backlog.covered(&[(PEER, 5)]);
        assert!(!backlog.is_new(PEER, 5) && backlog.is_new(PEER, 6));
        let (marks, _) = backlog.marks();
        assert_eq!(marks, vec![(PEER, 5)]);
        assert_eq!(resume(&backlog, &HashMap::new(), false, 0), None, "changes 1-5 are not in the log");
        let theirs: HashMap<_, _> = [(PEER, 5)].into();
        assert_eq!(resume(&backlog, &theirs, false, 0), Some(0));
    }

    /// A change older than the horizon (the tombstone purge's) is never replayed: the follower
    /// may have purged the tombstone of the delete that made it stale.
    #[test]
    fn a_follower_lacking_a_change_older_than_the_horizon_needs_a_full_sync() {
        let backlog = Backlog::new(ME, 1 << 20, false);
        let at = |ms: u64| Stamp { hlc: ms << Stamp::LOGICAL_BITS, node: 1 };
        backlog.record(&[Recorded { db: 0, key: b"old", change: Change::Delete(at(1_000)) }]);
        assert!(backlog.relay(PEER, 1, Bytes::from_static(b"frame"), 2_000));
        backlog.record(&[Recorded { db: 0, key: b"new", change: Change::Delete(at(50_000)) }]);
        assert!(backlog.relay(PEER, 2, Bytes::from_static(b"frame"), 51_000));
        let horizon = 10_000;
        // Lacking everything (a follower restarted without watermarks): the old changes too.
        assert_eq!(resume(&backlog, &HashMap::new(), false, horizon), None);
        assert_eq!(resume(&backlog, &HashMap::new(), false, 0), Some(0), "no horizon");
        // Lacking one old change, of either stream.
        let lacks_old_own: HashMap<_, _> = [(PEER, 2)].into();
        assert_eq!(resume(&backlog, &lacks_old_own, false, horizon), None);
        let lacks_old_relayed: HashMap<_, _> = [(ME, 2), (PEER, 0)].into();
        assert_eq!(resume(&backlog, &lacks_old_relayed, false, horizon), None);
        // ... unless it would not be sent anyway (`multi-master-no-forward` keeps relays back).
        assert_eq!(resume(&backlog, &lacks_old_relayed, true, horizon), Some(0));
        // Lacking only recent changes: resumed from the log.
        let recent: HashMap<_, _> = [(ME, 1), (PEER, 1)].into();
        assert_eq!(resume(&backlog, &recent, false, horizon), Some(0));
        // The follower's own changes (of its current run) never go back to it.
        let follower_old = Backlog::new(ME, 1 << 20, false);
        assert!(follower_old.relay(FOLLOWER, 1, Bytes::from_static(b"frame"), 1_000));
        assert_eq!(resume(&follower_old, &HashMap::new(), false, horizon), Some(0));
    }
}
