//! A sorted set that several masters write at once: members are an add-wins set, a member's score
//! the last writer's.
//!
//! With replication on, ZADD, ZINCRBY, ZREM, ZREMRANGEBY* and the pops turn a sorted set key into a
//! [`DottedZSet`]. Its members and scores are exactly a [`DottedHash`] of member to score (each
//! score as its eight bytes): every write of a member is tagged with its dot and carries the score
//! it wrote, two copies merge member by member, a ZREM removes only the writes it saw, and a
//! member shows the score of its greatest surviving write. So the merge, the deltas peers are sent
//! and the causal context are the dotted hash's, and this type adds only what reads need: the
//! members ordered by score ([`ZSet`]), kept in step with the hash by every method here.
//!
//! ZINCRBY is a score write like ZADD's (the later one wins), not a counter yet.

use bytes::Bytes;

use super::causal::Context;
use super::dotted_hash::DottedHash;
use super::zset::ZSet;
use crate::stamp::Stamp;
use crate::value::HashValue;

/// An add-wins sorted set with last-writer-wins scores (see the module's text).
#[derive(Clone, Debug, Default)]
pub struct DottedZSet {
    /// Member to score (as eight little-endian bytes), with dots and context.
    hash: DottedHash,
    /// The members by score, as reads see them.
    view: ZSet,
}

/// A score as the hash keeps it.
fn encode(score: f64) -> Bytes {
    Bytes::copy_from_slice(&score.to_le_bytes())
}

/// A score the hash keeps; None for bytes no write makes (the codec refuses such a record).
fn decode(bytes: &[u8]) -> Option<f64> {
    let score = f64::from_le_bytes(bytes.try_into().ok()?);
    (!score.is_nan()).then_some(score)
}

impl DottedZSet {
    /// An empty sorted set on `base` that has seen nothing.
    pub fn empty(base: Stamp) -> DottedZSet {
        DottedZSet { hash: DottedHash::empty(base), view: ZSet::default() }
    }

    /// A plain sorted set written whole at `base`, as a dotted one: every member's write is that
    /// write. Every node turns the same plain sorted set into the same dotted one.
    pub fn from_plain(zset: &ZSet, base: Stamp) -> DottedZSet {
        let scores: HashValue =
            zset.iter().map(|(member, score)| (Bytes::copy_from_slice(member), encode(score))).collect();
        DottedZSet { hash: DottedHash::from_plain(&scores, base), view: zset.clone() }
    }

    /// A sorted set from its hash of member to score (the codec); None if a score is not eight
    /// bytes holding a number.
    pub fn from_hash(hash: DottedHash) -> Option<DottedZSet> {
        let mut view = ZSet::default();
        for (member, score) in hash.fields() {
            view.insert(Bytes::copy_from_slice(member), decode(score)?);
        }
        // Every surviving write, not only the shown one, must hold a score: a merge may show it.
        let valid = hash.iter_dotted().all(|(_, writes)| writes.iter().all(|(_, score)| decode(score).is_some()));
        valid.then_some(DottedZSet { hash, view })
    }

    /// The members and scores with their dots and context (what the codec writes).
    pub fn hash(&self) -> &DottedHash {
        &self.hash
    }

    /// The stamp of the whole write this sorted set started from.
    pub fn base(&self) -> Stamp {
        self.hash.base()
    }

    /// What this copy has seen.
    pub fn context(&self) -> &Context {
        self.hash.context()
    }

    /// The members by score, as every read command sees them.
    pub fn view(&self) -> &ZSet {
        &self.view
    }

    /// This sorted set with every member removed: what a delete of it leaves (its ghost).
    pub fn cleared(&self) -> DottedZSet {
        DottedZSet { hash: self.hash.cleared(), view: ZSet::default() }
    }

    /// An empty delta for a command about to write this sorted set.
    pub fn delta(&self) -> DottedZSet {
        DottedZSet { hash: self.hash.delta(), view: ZSet::default() }
    }

    /// Drops the delta mark of a delta kept as a node's state.
    pub fn settle_as_state(&mut self) {
        self.hash.settle_as_state();
    }

    /// Sets `member`'s score as the write stamped `dot`, noting it in `delta` if there is one;
    /// returns its previous score.
    pub fn insert(&mut self, member: Bytes, score: f64, dot: Stamp, delta: Option<&mut DottedZSet>) -> Option<f64> {
        match delta {
            Some(delta) => {
                self.hash.insert_noting(member.clone(), encode(score), dot, &mut delta.hash);
                delta.view.insert(member.clone(), score);
            }
            None => {
                self.hash.insert(member.clone(), encode(score), dot);
            }
        }
        self.view.insert(member, score)
    }

    /// Removes `member`, noting it in `delta` if there is one; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8], delta: Option<&mut DottedZSet>) -> Option<f64> {
        match delta {
            Some(delta) => {
                self.hash.remove_noting(member, &mut delta.hash);
                delta.view.remove(member);
            }
            None => {
                self.hash.remove(member);
            }
        }
        self.view.remove(member)
    }

    /// Removes and returns the member with the lowest score (the highest with `max`).
    pub fn pop(&mut self, max: bool, delta: Option<&mut DottedZSet>) -> Option<(Bytes, f64)> {
        let (member, score) = {
            let mut members = self.view.iter();
            let (member, score) = if max { members.next_back() } else { members.next() }?;
            (Bytes::copy_from_slice(member), score)
        };
        self.remove(&member, delta);
        Some((member, score))
    }

    /// Takes in another copy with the same base, or a delta, as a dotted hash does; the members
    /// whose score or presence changed are moved in the view. True if anything changed.
    pub fn merge(&mut self, other: &DottedZSet) -> bool {
        if !self.hash.merge(&other.hash) {
            return false;
        }
        if other.context().is_delta() {
            // A delta changes only the members it holds and the ones it names as gone.
            let named = other.context().removed().iter().map(|gone| &gone.element);
            let touched: Vec<Bytes> =
                other.hash.fields().keys().map(Bytes::copy_from_slice).chain(named.cloned()).collect();
            for member in touched {
                match self.hash.fields().get(&member).and_then(decode) {
                    Some(score) => {
                        self.view.insert(member, score);
                    }
                    None => {
                        self.view.remove(&member);
                    }
                }
            }
        } else {
            self.view = ZSet::default();
            for (member, score) in self.hash.fields() {
                let score = decode(score).expect("scores are checked as they arrive");
                self.view.insert(Bytes::copy_from_slice(member), score);
            }
        }
        true
    }

    /// Whether two copies hold the same state.
    pub fn same_state(&self, other: &DottedZSet) -> bool {
        self.hash.same_state(&other.hash)
    }

    /// Bytes the dots, context and the hash of scores take beyond a plain sorted set's members
    /// (for MEMORY USAGE).
    pub fn overhead(&self) -> usize {
        self.hash.overhead() + self.hash.fields().tables_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::testing::{b, dot};

    fn shown(z: &DottedZSet) -> Vec<(String, f64)> {
        z.view().iter().map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s)).collect()
    }

    /// Two masters add different members and write one member's score at once: both members
    /// stay, the later score wins, and a remove on one takes only the write it saw.
    #[test]
    fn adds_win_and_the_later_score_wins() {
        let mut a = DottedZSet::empty(Stamp::default());
        a.insert(b("x"), 1.0, dot(1, 1), None);
        let mut c = a.clone();
        a.insert(b("y"), 2.0, dot(2, 1), None);
        a.insert(b("x"), 5.0, dot(3, 1), None);
        c.insert(b("z"), 3.0, dot(2, 2), None);
        c.insert(b("x"), 7.0, dot(4, 2), None);
        let mut ac = a.clone();
        ac.merge(&c);
        let mut ca = c.clone();
        ca.merge(&a);
        assert_eq!(shown(&ac), [("y".into(), 2.0), ("z".into(), 3.0), ("x".into(), 7.0)]);
        assert!(ac.same_state(&ca));
        assert_eq!(shown(&ca), shown(&ac));
    }

    /// A delta moves its members in the view of the copy it is merged into.
    #[test]
    fn a_delta_moves_its_members_in_the_view() {
        let mut a = DottedZSet::empty(Stamp::default());
        a.insert(b("x"), 1.0, dot(1, 1), None);
        a.insert(b("y"), 2.0, dot(1, 1), None);
        let mut peer = a.clone();
        let mut delta = a.delta();
        a.insert(b("x"), 9.0, dot(2, 1), Some(&mut delta));
        a.remove(b"y", Some(&mut delta));
        assert!(peer.merge(&delta));
        assert_eq!(shown(&peer), [("x".into(), 9.0)]);
        assert!(!peer.merge(&delta), "a duplicate changes nothing");
    }

    #[test]
    fn scores_that_no_write_makes_are_refused() {
        let mut hash = DottedHash::empty(Stamp::default());
        hash.insert(b("x"), Bytes::copy_from_slice(&f64::NAN.to_le_bytes()), dot(1, 1));
        assert!(DottedZSet::from_hash(hash).is_none());
        let mut hash = DottedHash::empty(Stamp::default());
        hash.insert(b("x"), b("short"), dot(1, 1));
        assert!(DottedZSet::from_hash(hash).is_none());
    }
}
