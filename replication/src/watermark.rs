//! Watermarks: which changes of each stream a node has applied.
//!
//! A stream's changes are numbered 1, 2, 3, …; a node keeps, per stream, the highest number up to
//! which it has applied every change (`through`), plus the numbers it has applied beyond a gap.
//! Gaps happen in a mesh: a change can reach a node through a relaying peer before the ones
//! before it arrive on the direct link. A change is new if its number is above `through` and not
//! among those applied beyond the gap; `through` is what a node asks for on reconnecting ("every
//! change of this stream after `through`"), so a gap is never skipped.

use std::collections::BTreeSet;

use ahash::AHashMap as HashMap;

use crate::frame::StreamId;

/// How many runs of one node are remembered; older runs' watermarks are dropped (their changes
/// were relayed long ago, and a late duplicate of one is harmless: merging is idempotent).
const RUNS_KEPT: usize = 8;

#[derive(Clone, Debug, Default)]
struct Progress {
    through: u64,
    beyond: BTreeSet<u64>,
}

/// The watermarks of every stream a node has heard of.
#[derive(Clone, Debug, Default)]
pub struct Watermarks {
    streams: HashMap<StreamId, Progress>,
}

impl Watermarks {
    /// True if change `seq` of `stream` has not been applied yet.
    pub fn is_new(&self, stream: StreamId, seq: u64) -> bool {
        match self.streams.get(&stream) {
            None => seq > 0,
            Some(p) => seq > p.through && !p.beyond.contains(&seq),
        }
    }

    /// Notes change `seq` of `stream` as applied; false if it already was.
    pub fn mark(&mut self, stream: StreamId, seq: u64) -> bool {
        if !self.is_new(stream, seq) {
            return false;
        }
        if !self.streams.contains_key(&stream) {
            self.forget_old_runs(stream);
        }
        let p = self.streams.entry(stream).or_default();
        if seq == p.through + 1 {
            p.through = seq;
            while p.beyond.first() == Some(&(p.through + 1)) {
                p.beyond.pop_first();
                p.through += 1;
            }
        } else {
            p.beyond.insert(seq);
        }
        true
    }

    /// Notes every change of `stream` up to `through` as applied (a full sync's cut covered them).
    pub fn advance(&mut self, stream: StreamId, through: u64) {
        if !self.streams.contains_key(&stream) {
            self.forget_old_runs(stream);
        }
        let p = self.streams.entry(stream).or_default();
        if through > p.through {
            p.through = through;
            p.beyond = p.beyond.split_off(&(through + 1));
            while p.beyond.first() == Some(&(p.through + 1)) {
                p.beyond.pop_first();
                p.through += 1;
            }
        }
    }

    /// Up to where every change of `stream` has been applied (0: none known).
    pub fn through(&self, stream: StreamId) -> u64 {
        self.streams.get(&stream).map_or(0, |p| p.through)
    }

    /// Every stream's `through`, sorted (what a handshake or a full sync's END sends).
    pub fn list(&self) -> Vec<(StreamId, u64)> {
        let mut list: Vec<_> = self.streams.iter().map(|(s, p)| (*s, p.through)).collect();
        list.sort_unstable();
        list
    }

    /// Changes applied beyond a gap, over all streams (INFO: a lasting number means a stuck gap).
    pub fn beyond_gaps(&self) -> usize {
        self.streams.values().map(|p| p.beyond.len()).sum()
    }

    fn forget_old_runs(&mut self, new: StreamId) {
        let mut runs: Vec<u64> = self.streams.keys().filter(|s| s.node == new.node).map(|s| s.run).collect();
        if runs.len() >= RUNS_KEPT {
            runs.sort_unstable();
            for run in &runs[..runs.len() + 1 - RUNS_KEPT] {
                self.streams.remove(&StreamId { node: new.node, run: *run });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: StreamId = StreamId { node: 1, run: 100 };

    #[test]
    fn in_order_changes_advance_through() {
        let mut w = Watermarks::default();
        assert!(w.mark(S, 1) && w.mark(S, 2));
        assert!(!w.mark(S, 2), "a duplicate is not new");
        assert_eq!(w.through(S), 2);
    }

    #[test]
    fn a_gap_holds_through_until_filled() {
        let mut w = Watermarks::default();
        w.mark(S, 1);
        assert!(w.mark(S, 3) && w.mark(S, 4));
        assert_eq!(w.through(S), 1, "change 2 is missing: a reconnect must ask for it");
        assert!(!w.is_new(S, 3) && w.is_new(S, 2));
        assert_eq!(w.beyond_gaps(), 2);
        assert!(w.mark(S, 2));
        assert_eq!(w.through(S), 4);
        assert_eq!(w.beyond_gaps(), 0);
    }

    #[test]
    fn advance_covers_everything_below() {
        let mut w = Watermarks::default();
        w.mark(S, 5);
        w.mark(S, 9);
        w.advance(S, 6);
        assert_eq!(w.through(S), 6);
        assert!(!w.is_new(S, 9) && w.is_new(S, 7));
        w.advance(S, 8);
        assert_eq!(w.through(S), 9, "the change beyond the gap joins up");
        w.advance(S, 3);
        assert_eq!(w.through(S), 9, "never goes back");
    }

    #[test]
    fn old_runs_of_a_node_are_forgotten() {
        let mut w = Watermarks::default();
        for run in 0..20 {
            w.mark(StreamId { node: 1, run }, 1);
            w.mark(StreamId { node: 2, run }, 1);
        }
        assert_eq!(w.list().iter().filter(|(s, _)| s.node == 1).count(), RUNS_KEPT);
        assert_eq!(w.through(StreamId { node: 1, run: 19 }), 1);
        assert_eq!(w.through(StreamId { node: 1, run: 0 }), 0);
    }
}
