//! The sorted set: a small one as one ordered vector, a large one as a member→score map plus a
//! (score, member)-ordered index.
//!
//! Redis orders members by score, then by member bytes. The map and the index of a large set are
//! kept in step by every method here; nothing outside may touch them separately.

use bytes::Bytes;
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::ops::Bound;

use smallvec::SmallVec;

use super::{SMALL_LEN, SMALL_MEMBER};

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
///
/// Small sets (the common case: a leaderboard of ten, an index of a few) are one buffer of their
/// members in order, each its score and its bytes, as Redis's listpack holds them: a 10-member
/// set of 8-byte members takes 170 bytes where the vector of (score, tag, member handle) took
/// 512 and kept the request's block its handles pointed into, and the map and the tree before
/// that a 768-byte table and a 512-byte leaf. A set that outgrows it becomes a member→score map
/// plus a (score, member)-ordered tree, and stays one.
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    /// At most [`SMALL_LEN`] members of at most [`SMALL_MEMBER`] bytes, sorted by (score, member).
    Small(Packed),
    /// Boxed, so that a small set's `ZSet` is a buffer and a tag.
    Large(Box<Large>),
}

#[derive(Clone, Debug, Default)]
struct Large {
    scores: HashMap<Bytes, f64, super::ElementHasher>,
    order: BTreeSet<OrderKey>,
}

/// A small set's members back to back in (score, member) order, each its score (8 bytes, little
/// endian), its length (one byte) and its bytes. Finding a member reads the buffer from its start,
/// as Redis reads a listpack: a few cache lines in order, with no pointer to follow.
#[derive(Clone, Debug, Default)]
struct Packed {
    bytes: Vec<u8>,
    len: u32,
}

/// Bytes in front of a packed member: its score and its length.
const PACKED_HEAD: usize = 9;

/// The score and member of the entry that starts at `at` in a packed buffer, and where the next
/// one starts.
fn packed_at(bytes: &[u8], at: usize) -> (Score, &[u8], usize) {
    let score = f64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    let end = at + PACKED_HEAD + usize::from(bytes[at + 8]);
    (Score(score), &bytes[at + PACKED_HEAD..end], end)
}

impl Packed {
    /// The entries' starts, scores and members, in order.
    fn entries(&self) -> impl Iterator<Item = (usize, Score, &[u8])> + '_ {
        let mut at = 0;
        std::iter::from_fn(move || {
            (at < self.bytes.len()).then(|| {
                let (score, member, next) = packed_at(&self.bytes, at);
                let start = std::mem::replace(&mut at, next);
                (start, score, member)
            })
        })
    }

    /// The rank, start and score of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, Score)> {
        self.entries().enumerate().find(|(_, (_, _, m))| *m == member).map(|(rank, (at, score, _))| (rank, at, score))
    }

    /// Removes the entry that starts at `at`; returns its score.
    fn remove_at(&mut self, at: usize) -> Score {
        let (score, _, end) = packed_at(&self.bytes, at);
        self.bytes.drain(at..end);
        self.len -= 1;
        score
    }

    /// Puts `member` with `score` in its place (it must not be a member).
    fn insert(&mut self, member: &[u8], score: Score) {
        let key = (score, member);
        let at = self.entries().find(|(_, s, m)| (*s, *m) > key).map_or(self.bytes.len(), |(at, ..)| at);
        let entry = score.0.to_le_bytes().into_iter().chain([member.len() as u8]).chain(member.iter().copied());
        self.bytes.splice(at..at, entry);
        self.len += 1;
    }

    /// The entries as a slice-like view, for ranges, ranks and iterating from either end.
    fn view(&self) -> View<'_> {
        View { bytes: &self.bytes, starts: self.entries().map(|(at, ..)| at as u16).collect() }
    }
}

/// A small set's entries by index: where each starts (a buffer of at most 64 members of at most
/// 73 bytes fits 16-bit offsets).
struct View<'a> {
    bytes: &'a [u8],
    starts: SmallVec<[u16; SMALL_LEN]>,
}

impl<'a> View<'a> {
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The `i`th entry's (score, member), what a small set is ordered by.
    fn key(&self, i: usize) -> (Score, &'a [u8]) {
        let (score, member, _) = packed_at(self.bytes, usize::from(self.starts[i]));
        (score, member)
    }

    /// The number of entries for which `below` holds (they come first).
    fn partition_point(&self, below: impl Fn((Score, &[u8])) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if below(self.key(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The bounds of `range` as indices.
    fn bounds<R: std::ops::RangeBounds<OrderKey>>(&self, range: &R) -> std::ops::Range<usize> {
        fn at(bound: &OrderKey) -> (Score, &[u8]) {
            (bound.0, &bound.1[..])
        }
        let start = match range.start_bound() {
            Bound::Included(low) => self.partition_point(|k| k < at(low)),
            Bound::Excluded(low) => self.partition_point(|k| k <= at(low)),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(high) => self.partition_point(|k| k <= at(high)),
            Bound::Excluded(high) => self.partition_point(|k| k < at(high)),
            Bound::Unbounded => self.len(),
        };
        start..end.max(start)
    }

    /// The entries `range` covers, as the iterators hand them out.
    fn entries_in(self, range: std::ops::Range<usize>) -> SmallIter<'a> {
        SmallIter { view: self, front: range.start, back: range.end }
    }
}

/// A small set's members in a range of indices, from either end.
struct SmallIter<'a> {
    view: View<'a>,
    front: usize,
    back: usize,
}

impl<'a> Iterator for SmallIter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            let (score, member) = self.view.key(self.front);
            self.front += 1;
            (member, score.0)
        })
    }
}

impl DoubleEndedIterator for SmallIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        (self.front < self.back).then(|| {
            self.back -= 1;
            let (score, member) = self.view.key(self.back);
            (member, score.0)
        })
    }
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { repr: Repr::Small(Packed::default()) }
    }
}

/// One of two iterators, as one type (the small and the large set iterate differently).
enum Either<A, B> {
    Small(A),
    Large(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Either<A, B> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            Either::Small(a) => a.next(),
            Either::Large(b) => b.next(),
        }
    }
}

impl<T, A: DoubleEndedIterator<Item = T>, B: DoubleEndedIterator<Item = T>> DoubleEndedIterator for Either<A, B> {
    fn next_back(&mut self) -> Option<T> {
        match self {
            Either::Small(a) => a.next_back(),
            Either::Large(b) => b.next_back(),
        }
    }
}

/// A large set's (score, member) as the iterators hand it out.
fn shown((score, member): &OrderKey) -> (&[u8], f64) {
    (member, score.0)
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(packed) => packed.len as usize,
            Repr::Large(large) => large.scores.len(),
        }
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Small(packed) => packed.find(member).map(|(.., score)| score.0),
            Repr::Large(large) => large.scores.get(member).copied(),
        }
    }

    /// Sets a member's score; returns the previous score if the member existed.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        if let Repr::Small(packed) = &mut self.repr {
            let old = match packed.find(&member) {
                Some((.., old)) if old.0 == score => return Some(score),
                Some((_, at, _)) => Some(packed.remove_at(at).0),
                None => None,
            };
            if (packed.len as usize) < SMALL_LEN && member.len() <= SMALL_MEMBER {
                packed.insert(&member, Score(score));
                return old;
            }
            self.grow();
        }
        let Repr::Large(large) = &mut self.repr else { unreachable!("grown above") };
        let old = large.scores.insert(member.clone(), score);
        if let Some(old) = old {
            if old == score {
                return Some(old);
            }
            large.order.remove(&(Score(old), member.clone()));
        }
        large.order.insert((Score(score), member));
        old
    }

    /// Turns a small set into a large one.
    #[cold]
    fn grow(&mut self) {
        if let Repr::Small(packed) = &self.repr {
            let mut large = Large::default();
            for (_, score, member) in packed.entries() {
                let member = Bytes::copy_from_slice(member);
                large.scores.insert(member.clone(), score.0);
                large.order.insert((score, member));
            }
            self.repr = Repr::Large(Box::new(large));
        }
    }

    /// Removes a member; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Small(packed) => {
                let (_, at, _) = packed.find(member)?;
                Some(packed.remove_at(at).0)
            }
            Repr::Large(large) => {
                let (member, score) = large.scores.remove_entry(member)?;
                large.order.remove(&(Score(score), member));
                Some(score)
            }
        }
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.range::<std::ops::RangeFull>(..)
    }

    /// Members whose (score, member) lies in `range`, in order.
    pub fn range<R>(&self, range: R) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_
    where
        R: std::ops::RangeBounds<(Score, Bytes)>,
    {
        match &self.repr {
            Repr::Small(packed) => {
                let view = packed.view();
                let indices = view.bounds(&range);
                Either::Small(view.entries_in(indices))
            }
            Repr::Large(large) => Either::Large(large.order.range(range).map(shown)),
        }
    }

    /// Members whose score lies in `range`, in ascending order (reverse the iterator for
    /// descending). Logarithmic to find the start, then linear in what is read.
    pub fn range_by_score(&self, range: &ScoreRange) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
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
        self.range(bounds)
    }

    /// Members in `range` by member bytes, in ascending order (reverse for descending).
    ///
    /// The lex commands assume every member has the same score; then this is logarithmic to find
    /// the start. With mixed scores (where Redis leaves the result unspecified) it filters all.
    pub fn range_by_lex<'a>(&'a self, range: &'a LexRange) -> impl DoubleEndedIterator<Item = (&'a [u8], f64)> + 'a {
        // One pass over the set's ends (a small set gathers its entries' offsets for each `iter`).
        let mut ends = self.iter().map(|(_, s)| Score(s));
        let first = ends.next();
        let last = ends.next_back().or(first);
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
        self.range(bounds).filter(|(m, _)| range.contains(m))
    }

    /// Members by rank: `start..=end` (0-based, already clamped to the set), counted from the
    /// lowest score, or from the highest with `rev`.
    pub fn range_by_rank(&self, start: usize, end: usize, rev: bool) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let n = (end + 1).saturating_sub(start);
        if rev {
            Box::new(self.iter().rev().skip(start).take(n))
        } else {
            Box::new(self.iter().skip(start).take(n))
        }
    }

    /// The 0-based rank of a member in ascending order (linear in the rank).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Small(packed) => packed.find(member).map(|(rank, ..)| rank),
            Repr::Large(large) => {
                let score = *large.scores.get(member)?;
                let key = (Score(score), Bytes::copy_from_slice(member));
                Some(large.order.range(..key).count())
            }
        }
    }

    /// Gives back the room beyond its members of a small set (see `SetWriter::fit`).
    pub fn shrink_to_fit(&mut self) {
        if let Repr::Small(packed) = &mut self.repr {
            packed.bytes.shrink_to_fit();
        }
    }

    /// The bytes this set's allocations take (see `Value::heap_size`): the `Arc` around it, and a
    /// small set's buffer, or a large set's members' bytes (each member is one `Bytes`, shared by
    /// the map and the tree), box, score table and the B-tree of its order (leaves of eleven
    /// members, about two thirds full once they split, and a branch above every seven leaves).
    pub(crate) fn heap_size(&self) -> usize {
        use super::{table_size, ARC_HEADER};
        use crate::alloc::size_class;
        use std::mem::size_of;
        const LEAF: usize = 8 + 11 * size_of::<OrderKey>() + 4; // parent, the keys, index and length
        const BRANCH: usize = LEAF + 12 * 8; // and twelve edges
        let fixed = size_class(ARC_HEADER + size_of::<ZSet>());
        match &self.repr {
            Repr::Small(packed) => fixed + size_class(packed.bytes.capacity()),
            Repr::Large(large) => {
                let n = large.scores.len();
                let leaves = if n <= 11 { usize::from(n > 0) } else { n.div_ceil(7) };
                let branches = if leaves > 1 { leaves.div_ceil(7) } else { 0 };
                fixed
                    + size_class(size_of::<Large>())
                    + table_size(large.scores.capacity(), size_of::<(Bytes, f64)>())
                    + leaves * size_class(LEAF)
                    + branches * size_class(BRANCH)
                    + large.scores.keys().map(Bytes::len).sum::<usize>()
            }
        }
    }

    /// Removes and returns the member with the lowest (or, with `max`, highest) score.
    pub fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let (score, member) = match &mut self.repr {
            Repr::Small(packed) => {
                let (at, _, member) = if max { packed.entries().last()? } else { packed.entries().next()? };
                let member = Bytes::copy_from_slice(member);
                (packed.remove_at(at), member)
            }
            Repr::Large(large) => {
                let popped = if max { large.order.pop_last()? } else { large.order.pop_first()? };
                large.scores.remove(&popped.1);
                popped
            }
        };
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
        let order: Vec<_> = z.iter().map(|(m, _)| m).collect();
        assert_eq!(order, [b"c", b"a", b"b"]);
        assert_eq!(z.insert(Bytes::from("c"), 2.0), Some(0.5));
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.pop(false), Some((Bytes::from("a"), 1.0)));
        assert_eq!(z.len(), 2);
        assert_eq!(z.remove(b"c"), Some(2.0));
        assert_eq!(z.iter().count(), 1);
    }

    /// Random inserts, removals and pops on a set that starts small and grows past the small
    /// encoding's limits (by count, and by a long member) answer every read as a plain ordered
    /// model does.
    #[test]
    fn small_and_large_sets_answer_as_an_ordered_model() {
        use std::collections::BTreeMap;
        let mut next = crate::value::testing::below(0x2545_f491_4f6c_dd1d_u64);
        for round in 0..40 {
            let mut z = ZSet::default();
            let mut model: BTreeMap<Bytes, f64> = BTreeMap::new();
            let members = if round % 2 == 0 { 60 } else { 400 };
            for step in 0..600 {
                let name = if round % 5 == 4 && step == 300 {
                    Bytes::from(vec![b'x'; SMALL_MEMBER + 1])
                } else {
                    Bytes::from(format!("m{}", next(members)))
                };
                match next(10) {
                    0..=5 => {
                        let score = next(20) as f64 / 2.0;
                        assert_eq!(z.insert(name.clone(), score), model.insert(name, score));
                    }
                    6 | 7 => assert_eq!(z.remove(&name), model.remove(&name)),
                    8 => {
                        let max = next(2) == 0;
                        let expected = {
                            let mut all: Vec<_> = model.iter().map(|(m, s)| (Score(*s), m.clone())).collect();
                            all.sort();
                            if max {
                                all.pop()
                            } else {
                                (!all.is_empty()).then(|| all.remove(0))
                            }
                        };
                        if let Some((_, m)) = &expected {
                            model.remove(m);
                        }
                        assert_eq!(z.pop(max), expected.map(|(s, m)| (m, s.0)));
                    }
                    _ => assert_eq!(z.score(&name), model.get(&name).copied()),
                }
            }
            let mut order: Vec<(Score, Bytes)> = model.iter().map(|(m, s)| (Score(*s), m.clone())).collect();
            order.sort();
            let got: Vec<(Score, Bytes)> = z.iter().map(|(m, s)| (Score(s), Bytes::copy_from_slice(m))).collect();
            assert_eq!(got, order, "round {round}");
            assert_eq!(z.len(), order.len());
            for (rank, (_, m)) in order.iter().enumerate() {
                assert_eq!(z.rank(m), Some(rank));
            }
            let range = ScoreRange {
                min: ScoreBound { value: 2.0, exclusive: true },
                max: ScoreBound { value: 7.5, exclusive: false },
            };
            let by_score: Vec<_> = z.range_by_score(&range).map(|(m, _)| Bytes::copy_from_slice(m)).collect();
            let expected: Vec<_> = order.iter().filter(|(s, _)| range.contains(s.0)).map(|(_, m)| m.clone()).collect();
            assert_eq!(by_score, expected);
            let back: Vec<_> = z.range_by_score(&range).rev().map(|(m, _)| Bytes::copy_from_slice(m)).collect();
            assert_eq!(back, expected.into_iter().rev().collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_small_set_becomes_large_past_its_limits_and_costs_less_while_small() {
        let mut small = ZSet::default();
        for m in 0..10 {
            small.insert(Bytes::from(format!("member:{m}")), m as f64);
        }
        small.shrink_to_fit();
        assert!(matches!(small.repr, Repr::Small(_)));
        let mut large = small.clone();
        large.grow();
        assert!(matches!(large.repr, Repr::Large(_)));
        assert!(small.heap_size() * 2 < large.heap_size(), "{} vs {}", small.heap_size(), large.heap_size());
        assert_eq!(small.iter().collect::<Vec<_>>(), large.iter().collect::<Vec<_>>());
        for m in 10..SMALL_LEN {
            small.insert(Bytes::from(format!("member:{m}")), 0.0);
        }
        assert!(matches!(small.repr, Repr::Small(_)));
        small.insert(Bytes::from("one too many"), 0.0);
        assert!(matches!(small.repr, Repr::Large(_)));
        assert_eq!(small.len(), SMALL_LEN + 1);
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
        let names = |it: &mut dyn DoubleEndedIterator<Item = (&[u8], f64)>| {
            it.map(|(m, _)| Bytes::copy_from_slice(m)).collect::<Vec<_>>()
        };
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
        let ranked: Vec<_> = l.range_by_rank(1, 5, true).map(|(m, _)| m).collect();
        assert_eq!(ranked, [b"b", b"a"]);
    }
}
