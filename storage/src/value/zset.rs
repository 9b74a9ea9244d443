//! The sorted set: a member→score map plus a (score, member)-ordered index.
//!
//! Redis orders members by score, then by member bytes. Both structures are kept in step by every
//! method here; nothing outside may touch them separately.

use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::ops::Bound;

/// A score. Never NaN (commands reject NaN before it gets here), so the order is total.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// One end of a score interval: `(1.5` is exclusive, `1.5` inclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// True when the end itself is left out.
    pub exclusive: bool,
}

/// A score interval, as ZRANGEBYSCORE and ZCOUNT take it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    /// The low end.
    pub min: ScoreBound,
    /// The high end.
    pub max: ScoreBound,
}

impl ScoreRange {
    /// True if `score` lies in the interval.
    pub fn contains(&self, score: f64) -> bool {
        let above = if self.min.exclusive { score > self.min.value } else { score >= self.min.value };
        let below = if self.max.exclusive { score < self.max.value } else { score <= self.max.value };
        above && below
    }
}

/// One end of a member interval for the lex commands: `-`, `+`, `[a` (inclusive) or `(a`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member`
    Inclusive(Bytes),
    /// `(member`
    Exclusive(Bytes),
}

/// A member interval, as ZRANGEBYLEX and ZLEXCOUNT take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    /// The low end.
    pub min: LexBound,
    /// The high end.
    pub max: LexBound,
}

impl LexRange {
    /// True if `member` is at or above the low end.
    fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(m) => member >= &m[..],
            LexBound::Exclusive(m) => member > &m[..],
        }
    }

    /// True if `member` is at or below the high end.
    fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(m) => member <= &m[..],
            LexBound::Exclusive(m) => member < &m[..],
        }
    }

    /// True if `member` lies in the interval.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.above_min(member) && self.below_max(member)
    }
}

/// False for intervals that can hold nothing (low end above the high end, or equal ends with one
/// excluded), as Redis's `zslIsInLexRange` decides. BTreeSet::range would panic on some of them.
fn lex_nonempty(range: &LexRange) -> bool {
    // Rank each end: `-` lowest, then members, then `+`; ends at the same place need both inclusive.
    let key = |b: &LexBound| match b {
        LexBound::Min => (0, None, true),
        LexBound::Inclusive(m) => (1, Some(m.clone()), false),
        LexBound::Exclusive(m) => (1, Some(m.clone()), true),
        LexBound::Max => (2, None, true),
    };
    let (lo, hi) = (key(&range.min), key(&range.max));
    match (lo.0, &lo.1).cmp(&(hi.0, &hi.1)) {
        Ordering::Less => true,
        Ordering::Equal => !lo.2 && !hi.2,
        Ordering::Greater => false,
    }
}

/// The smallest double above `x` (`f64::next_up`, which needs a newer Rust than our minimum).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

type OrderKey = (Score, Bytes);

/// A sorted set.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    scores: HashMap<Bytes, f64, super::ElementHasher>,
    order: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets a member's score; returns the previous score if the member existed.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        let old = self.scores.insert(member.clone(), score);
        if let Some(old) = old {
            if old == score {
                return Some(old);
            }
            self.order.remove(&(Score(old), member.clone()));
        }
        self.order.insert((Score(score), member));
        old
    }

    /// Removes a member; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (member, score) = self.scores.remove_entry(member)?;
        self.order.remove(&(Score(score), member));
        Some(score)
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + '_ {
        self.order.iter().map(|(s, m)| (m, s.0))
    }

    /// Members whose (score, member) lies in `range`, in order.
    pub fn range<R>(&self, range: R) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + '_
    where
        R: std::ops::RangeBounds<(Score, Bytes)>,
    {
        self.order.range(range).map(|(s, m)| (m, s.0))
    }

    /// Members whose score lies in `range`, in ascending order (reverse the iterator for
    /// descending). Logarithmic to find the start, then linear in what is read.
    pub fn range_by_score(&self, range: &ScoreRange) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + '_ {
        // The empty member sorts first among equal scores, so (s, "") is where score s begins.
        let start = |s: f64| (Score(s), Bytes::new());
        let low = match range.min {
            ScoreBound { value, exclusive: true } if value == f64::INFINITY => None,
            ScoreBound { value, exclusive: true } => Some(next_up(value)),
            ScoreBound { value, exclusive: false } => Some(value),
        };
        let high = match range.max {
            ScoreBound { value, exclusive: true } => Some(value),
            ScoreBound { value, exclusive: false } if value == f64::INFINITY => None,
            ScoreBound { value, exclusive: false } => Some(next_up(value)),
        };
        let bounds: (Bound<OrderKey>, Bound<OrderKey>) = match (low, high) {
            (Some(lo), None) => (Bound::Included(start(lo)), Bound::Unbounded),
            (Some(lo), Some(hi)) if Score(lo) < Score(hi) => (Bound::Included(start(lo)), Bound::Excluded(start(hi))),
            // An empty interval: nothing sorts below the very first possible entry.
            _ => (Bound::Unbounded, Bound::Excluded(start(f64::NEG_INFINITY))),
        };
        self.order.range(bounds).map(|(s, m)| (m, s.0))
    }

    /// Members in `range` by member bytes, in ascending order (reverse for descending).
    ///
    /// The lex commands assume every member has the same score; then this is logarithmic to find
    /// the start. With mixed scores (where Redis leaves the result unspecified) it filters all.
    pub fn range_by_lex<'a>(&'a self, range: &'a LexRange) -> impl DoubleEndedIterator<Item = (&'a Bytes, f64)> + 'a {
        let first = self.order.first().map(|(s, _)| *s);
        let last = self.order.last().map(|(s, _)| *s);
        let bounds: (Bound<OrderKey>, Bound<OrderKey>) = match (first, last) {
            (Some(score), Some(last)) if score == last && lex_nonempty(range) => {
                let low = match &range.min {
                    LexBound::Inclusive(m) => Bound::Included((score, m.clone())),
                    LexBound::Exclusive(m) => Bound::Excluded((score, m.clone())),
                    // `+` as the low end is an empty range, ruled out above.
                    LexBound::Min | LexBound::Max => Bound::Unbounded,
                };
                let high = match &range.max {
                    LexBound::Inclusive(m) => Bound::Included((score, m.clone())),
                    LexBound::Exclusive(m) => Bound::Excluded((score, m.clone())),
                    LexBound::Min | LexBound::Max => Bound::Unbounded,
                };
                (low, high)
            }
            (Some(_), Some(_)) if lex_nonempty(range) => (Bound::Unbounded, Bound::Unbounded),
            _ => (Bound::Unbounded, Bound::Excluded((Score(f64::NEG_INFINITY), Bytes::new()))),
        };
        self.order.range(bounds).filter(|(_, m)| range.contains(m)).map(|(s, m)| (m, s.0))
    }

    /// Members by rank: `start..=end` (0-based, already clamped to the set), counted from the
    /// lowest score, or from the highest with `rev`.
    pub fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Box<dyn Iterator<Item = (&Bytes, f64)> + '_> {
        let n = (end + 1).saturating_sub(start);
        if rev {
            Box::new(self.iter().rev().skip(start).take(n))
        } else {
            Box::new(self.iter().skip(start).take(n))
        }
    }

    /// The 0-based rank of a member in ascending order (linear in the rank).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = (Score(score), Bytes::copy_from_slice(member));
        Some(self.order.range(..key).count())
    }

    /// The bytes this set's allocations take (see `Value::heap_size`): the `Arc` around it, its
    /// score table, the B-tree of its order (leaves of eleven members, about two thirds full once
    /// they split, and a branch above every seven leaves), and its members' bytes (each member is
    /// one `Bytes` shared by the two).
    pub(crate) fn heap_size(&self) -> usize {
        use super::{table_size, ARC_HEADER};
        use crate::alloc::size_class;
        use std::mem::size_of;
        const LEAF: usize = 8 + 11 * size_of::<OrderKey>() + 4; // parent, the keys, index and length
        const BRANCH: usize = LEAF + 12 * 8; // and twelve edges
        let n = self.len();
        let leaves = if n <= 11 { usize::from(n > 0) } else { n.div_ceil(7) };
        let branches = if leaves > 1 { leaves.div_ceil(7) } else { 0 };
        size_class(ARC_HEADER + size_of::<ZSet>())
            + table_size(self.scores.capacity(), size_of::<(Bytes, f64)>())
            + leaves * size_class(LEAF)
            + branches * size_class(BRANCH)
            + self.scores.keys().map(Bytes::len).sum::<usize>()
    }

    /// Removes and returns the member with the lowest (or, with `max`, highest) score.
    pub fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let (score, member) = if max { self.order.pop_last()? } else { self.order.pop_first()? };
        self.scores.remove(&member);
        Some((member, score.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_score_then_member_and_updates_index() {
        let mut z = ZSet::default();
        z.insert(Bytes::from("b"), 1.0);
        z.insert(Bytes::from("a"), 1.0);
        z.insert(Bytes::from("c"), 0.5);
        let order: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(order, ["c", "a", "b"]);
        assert_eq!(z.insert(Bytes::from("c"), 2.0), Some(0.5));
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.pop(false), Some((Bytes::from("a"), 1.0)));
        assert_eq!(z.len(), 2);
        assert_eq!(z.remove(b"c"), Some(2.0));
        assert_eq!(z.iter().count(), 1);
    }

    #[test]
    fn score_and_lex_ranges_respect_exclusive_and_empty_bounds() {
        let mut z = ZSet::default();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", f64::INFINITY)] {
            z.insert(Bytes::from(m), s);
        }
        let sr = |min, min_ex, max, max_ex| ScoreRange {
            min: ScoreBound { value: min, exclusive: min_ex },
            max: ScoreBound { value: max, exclusive: max_ex },
        };
        let names =
            |it: &mut dyn DoubleEndedIterator<Item = (&Bytes, f64)>| it.map(|(m, _)| m.clone()).collect::<Vec<_>>();
        assert_eq!(names(&mut z.range_by_score(&sr(1.0, true, 2.0, false))), ["b", "c"]);
        assert_eq!(names(&mut z.range_by_score(&sr(2.0, false, f64::INFINITY, false)).rev()), ["d", "c", "b"]);
        assert_eq!(names(&mut z.range_by_score(&sr(2.0, true, 2.0, false))), Vec::<Bytes>::new());
        assert_eq!(names(&mut z.range_by_score(&sr(f64::INFINITY, true, f64::INFINITY, false))), Vec::<Bytes>::new());
        assert_eq!(names(&mut z.range_by_score(&sr(3.0, false, 1.0, false))), Vec::<Bytes>::new());
        let mut l = ZSet::default();
        for m in ["a", "b", "c"] {
            l.insert(Bytes::from(m), 0.0);
        }
        let lr = |min, max| LexRange { min, max };
        let x = |m: &str| Bytes::from(m.to_string());
        let r = lr(LexBound::Exclusive(x("a")), LexBound::Inclusive(x("c")));
        assert_eq!(names(&mut l.range_by_lex(&r)), ["b", "c"]);
        let r = lr(LexBound::Exclusive(x("b")), LexBound::Exclusive(x("b")));
        assert_eq!(names(&mut l.range_by_lex(&r)), Vec::<Bytes>::new());
        let r = lr(LexBound::Max, LexBound::Min);
        assert_eq!(names(&mut l.range_by_lex(&r)), Vec::<Bytes>::new());
        let ranked: Vec<_> = l.range_by_rank(1, 5, true).map(|(m, _)| m.clone()).collect();
        assert_eq!(ranked, ["b", "a"]);
    }
}
