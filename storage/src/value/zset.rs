//! The sorted set: a member→score map plus a (score, member)-ordered index.
//!
//! Redis orders members by score, then by member bytes. Both structures are kept in step by every
//! method here; nothing outside may touch them separately.

use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::collections::HashMap;

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

/// A sorted set.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    scores: HashMap<Bytes, f64, ahash::RandomState>,
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

    /// The 0-based rank of a member in ascending order (linear in the rank).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = (Score(score), Bytes::copy_from_slice(member));
        Some(self.order.range(..key).count())
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
}
