//! Reassembling groups: the changes one transaction made on their origin, merged here together.
//!
//! A group arrives as PART frames and then the CHANGE frame that closes it, consecutive in their
//! stream (see [`frame`](crate::frame)); other streams' changes may come between them, as a relay
//! interleaves the streams it forwards. The assembler holds a stream's parts until its closing
//! change, then hands the whole group to be merged under the locks of all its keys.
//!
//! A peer is not trusted to ever close a group, so what is held is bounded: past [`MAX_PARTS`]
//! changes or [`MAX_BYTES`] bytes, the parts held are handed over as a group of their own. A
//! transaction that large (a DEL of a hundred thousand keys, an EXEC writing gigabytes) is then
//! seen on peers in pieces: its atomicity is given up, never the memory of the node.
//! Nothing is lost either way: each change carries its own stamp and merges by it.

use ahash::AHashMap;
use bytes::Bytes;
use smallvec::{smallvec, SmallVec};

use crate::frame::{Item, StreamId};

/// The most changes of one open group held before they are merged without the rest.
pub const MAX_PARTS: usize = 100_000;
/// The most bytes of frames of one open group held before they are merged without the rest.
pub const MAX_BYTES: usize = 64 << 20;

/// One change of a group, with the frame it came in (relayed on as these very bytes).
#[derive(Debug)]
pub(crate) struct Part {
    pub stream: StreamId,
    pub seq: u64,
    pub item: Item,
    pub frame: Bytes,
}

/// The changes to merge together: most groups are one change, kept inline.
pub(crate) type Group = SmallVec<[Part; 1]>;

/// The groups still open on one link, per origin stream.
#[derive(Default)]
pub(crate) struct Assembler {
    open: AHashMap<StreamId, Open>,
}

#[derive(Default)]
struct Open {
    parts: Vec<Part>,
    bytes: usize,
}

impl Assembler {
    /// Takes the next change of its stream (`more`: it came in a PART frame); returns the changes
    /// to merge now: none while its group is open, the whole group when this change closes it.
    pub fn take(&mut self, part: Part, more: bool) -> Option<Group> {
        if !more && !self.open.contains_key(&part.stream) {
            return Some(smallvec![part]); // a group of one: the common case, nothing held
        }
        let stream = part.stream;
        let open = self.open.entry(stream).or_default();
        open.bytes += part.frame.len();
        open.parts.push(part);
        if more && open.parts.len() < MAX_PARTS && open.bytes < MAX_BYTES {
            return None;
        }
        self.open.remove(&stream).map(|open| open.parts.into_iter().collect())
    }

    /// A change of `stream` was skipped because this node already has it: another link merged
    /// it, and that link merges a group whole before it logs any of its changes. So if the
    /// skipped change closed a group (`more` false), the parts held here were merged with it.
    pub fn skipped(&mut self, stream: StreamId, more: bool) {
        if !more {
            self.open.remove(&stream);
        }
    }

    /// Changes held in open groups (tests).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.open.values().map(|open| open.parts.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshkv_storage::{Effect, Stamp};

    const A: StreamId = StreamId { node: 1, run: 1 };
    const B: StreamId = StreamId { node: 2, run: 1 };

    fn part(stream: StreamId, seq: u64, frame_len: usize) -> Part {
        let item = Item { db: 0, key: Bytes::from(format!("k{seq}")), effect: Effect::Delete(Stamp::default()) };
        Part { stream, seq, item, frame: Bytes::from(vec![0u8; frame_len]) }
    }

    fn seqs(group: Group) -> Vec<u64> {
        group.iter().map(|p| p.seq).collect()
    }

    #[test]
    fn groups_close_per_stream_whatever_comes_between() {
        let mut asm = Assembler::default();
        assert!(asm.take(part(A, 1, 10), true).is_none());
        assert_eq!(seqs(asm.take(part(B, 7, 10), false).unwrap()), vec![7], "another stream passes through");
        assert!(asm.take(part(A, 2, 10), true).is_none());
        assert_eq!(seqs(asm.take(part(A, 3, 10), false).unwrap()), vec![1, 2, 3]);
        assert_eq!(seqs(asm.take(part(A, 4, 10), false).unwrap()), vec![4]);
        assert_eq!(asm.held(), 0);
    }

    #[test]
    fn a_group_closed_elsewhere_is_let_go() {
        let mut asm = Assembler::default();
        assert!(asm.take(part(A, 1, 10), true).is_none());
        asm.skipped(A, true);
        assert_eq!(asm.held(), 1, "a skipped part does not close the group");
        asm.skipped(A, false);
        assert_eq!(asm.held(), 0);
    }

    #[test]
    fn an_endless_group_is_merged_in_bounded_pieces() {
        let mut asm = Assembler::default();
        let mut merged = 0;
        for seq in 1..=(2 * MAX_PARTS as u64) {
            if let Some(group) = asm.take(part(A, seq, 1), true) {
                assert_eq!(group.len(), MAX_PARTS);
                merged += group.len();
            }
            assert!(asm.held() < MAX_PARTS);
        }
        assert_eq!(merged, 2 * MAX_PARTS);
        let big = MAX_BYTES / 4 + 1;
        let pieces: Vec<usize> = (1..=8).filter_map(|seq| asm.take(part(B, seq, big), true)).map(|g| g.len()).collect();
        assert_eq!(pieces, vec![4, 4]);
    }
}
