//! The link protocol's frames: what travels from a node to the peers that pull its changes.
//!
//! After the RESP handshake (`MESHKV.SYNC`, answered by a `+FULLSYNC` or `+PARTIAL` line) a link
//! carries binary frames, hand-framed and little-endian like the storage codec. Tags are
//! append-only; a new kind of frame gets a new tag. Golden-bytes tests below pin the layout.
//!
//! ```text
//! frame    u8 tag | u32 payload length | payload
//! CHANGE   (1)  u64 origin node | u64 origin run | u64 seq | ITEM     the last (or only) change of a group
//! PART     (6)  as CHANGE, for a change the next one of its stream belongs with
//! ENTRY    (2)  ITEM                                  full sync: one key of the consistent cut
//! END      (3)  u32 n | n × (u64 node, u64 run, u64 through)   full sync done: the cut's watermarks
//! BEAT     (4)  u64 head | u64 sent | u64 wall ms     source -> follower, about once a second
//! ACK      (5)  u64 position                           follower -> source: applied up to here
//! ITEM     u16 db | u8 kind | u32 key length | key | then
//!            kind 0 (put)    the storage codec's record of the entry (stamp and expiry inside)
//!            kind 1 (delete) u64 hlc | u64 node
//!            kind 2 (flush)  u64 hlc | u64 node    (the key is empty)
//! ```
//!
//! A group is the changes one transaction made on its origin (a command, or a whole EXEC): PART
//! frames, then one CHANGE, numbered one after another in the origin's stream. A follower merges
//! a group under the locks of all its keys together, so that what one transaction did is seen all
//! at once on every node. Relays forward the frames as they are, so a group stays a group.
//!
//! A frame read from a peer is untrusted: its length is checked against [`MAX_FRAME`] before
//! anything is allocated, and every field against the bytes that remain.

use bytes::{Buf, BufMut, Bytes};
use meshkv_storage::{Change, Effect, Stamp};
use thiserror::Error;

/// The largest payload a peer may send (a value can be 512 MB; its key and header are small).
pub const MAX_FRAME: u32 = 600 << 20;
/// Bytes in front of every payload.
pub const HEADER: usize = 5;

/// The tag of a CHANGE frame.
pub const TAG_CHANGE: u8 = 1;
/// The tag of a PART frame: a CHANGE that the next change of its stream belongs with.
pub const TAG_PART: u8 = 6;
/// Bytes at the start of a CHANGE payload that say whose change it is: origin node, run, number.
pub const CHANGE_PREFIX: usize = 24;
const TAG_ENTRY: u8 = 2;
const TAG_END: u8 = 3;
const TAG_BEAT: u8 = 4;
const TAG_ACK: u8 = 5;
const KIND_PUT: u8 = 0;
const KIND_DELETE: u8 = 1;
const KIND_FLUSH: u8 = 2;

/// Which run of which node made a change: a node's changes are numbered 1, 2, 3, … in each run
/// (from start to stop of the process), so a restarted node never reuses a number its peers hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// The node id (the one in its stamps).
    pub node: u64,
    /// The run: the node's start time in Unix ms.
    pub run: u64,
}

/// One change to one key (or one database, for a flush).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The database.
    pub db: u16,
    /// The key (empty for a flush).
    pub key: Bytes,
    /// What happened to it.
    pub effect: Effect,
}

/// A decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A change from the origin's log, numbered `seq` in its stream.
    Change {
        /// Whose change.
        stream: StreamId,
        /// Its number in that stream.
        seq: u64,
        /// The change.
        item: Item,
        /// More changes of its group follow (a PART frame).
        more: bool,
    },
    /// A key of a full sync's cut.
    Entry(Item),
    /// The end of a full sync's cut, with the watermarks the cut covers.
    End(Vec<(StreamId, u64)>),
    /// The source's log head, how far it has sent, and its wall clock.
    Beat {
        /// Log position of the source's newest change.
        head: u64,
        /// Log position up to which this link has been sent everything.
        sent: u64,
        /// The source's wall clock, Unix ms.
        wall_ms: u64,
    },
    /// The follower has applied everything up to this log position of the source.
    Ack(u64),
}

/// Why bytes are not a frame.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// A field runs past the end of the frame.
    #[error("frame truncated")]
    Truncated,
    /// A tag or kind this build does not know.
    #[error("unknown frame tag {0}")]
    Tag(u8),
    /// A payload longer than [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the limit")]
    TooLong(u32),
}

fn begin(out: &mut Vec<u8>, tag: u8) -> usize {
    out.put_u8(tag);
    out.put_u32_le(0);
    out.len()
}

fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start - 4..start].copy_from_slice(&len.to_le_bytes());
}

fn put_item(out: &mut Vec<u8>, db: usize, key: &[u8], effect: &Effect) {
    out.put_u16_le(db as u16);
    match effect {
        Effect::Put(record) => {
            put_key(out, KIND_PUT, key);
            out.put_slice(record);
        }
        Effect::Delete(stamp) => put_stamped(out, KIND_DELETE, key, *stamp),
        Effect::Flush(stamp) => put_stamped(out, KIND_FLUSH, key, *stamp),
    }
}

/// The CHANGE (or, with `more`, PART) frame of change `seq` of `stream`.
pub fn change(stream: StreamId, seq: u64, db: usize, key: &[u8], local: Change<'_>, more: bool) -> Bytes {
    let mut frame = unnumbered(stream, db, key, local, more);
    number(&mut frame, seq);
    frame.into()
}

/// Writes the number of an [`unnumbered`] CHANGE frame.
pub fn number(frame: &mut [u8], seq: u64) {
    frame[HEADER + 16..HEADER + 24].copy_from_slice(&seq.to_le_bytes());
}

/// The CHANGE frame (PART with `more`) of a local change of `stream`, its number still to be
/// written ([`number`]): the entry is encoded straight into the frame (one allocation, one copy),
/// before the backlog's lock is taken to number it.
pub fn unnumbered(stream: StreamId, db: usize, key: &[u8], change: Change<'_>, more: bool) -> Vec<u8> {
    let record_len = match change {
        Change::Put(entry) => meshkv_storage::codec::encoded_len_hint(entry),
        _ => 16,
    };
    let mut out = Vec::with_capacity(HEADER + CHANGE_PREFIX + 7 + key.len() + record_len);
    let start = begin(&mut out, if more { TAG_PART } else { TAG_CHANGE });
    out.put_u64_le(stream.node);
    out.put_u64_le(stream.run);
    out.put_u64_le(0); // the number, written under the backlog's lock
    out.put_u16_le(db as u16);
    match change {
        Change::Put(entry) => {
            put_key(&mut out, KIND_PUT, key);
            meshkv_storage::codec::encode_entry(entry, &mut out);
        }
        Change::Delete(stamp) => put_stamped(&mut out, KIND_DELETE, key, stamp),
        Change::Flush(stamp) => put_stamped(&mut out, KIND_FLUSH, key, stamp),
    }
    finish(&mut out, start);
    out
}

fn put_key(out: &mut Vec<u8>, kind: u8, key: &[u8]) {
    out.put_u8(kind);
    out.put_u32_le(key.len() as u32);
    out.put_slice(key);
}

fn put_stamped(out: &mut Vec<u8>, kind: u8, key: &[u8], stamp: Stamp) {
    put_key(out, kind, key);
    out.put_u64_le(stamp.hlc);
    out.put_u64_le(stamp.node);
}

/// Appends the ENTRY frame of one key of a full sync to `out`.
pub fn entry(out: &mut Vec<u8>, db: usize, key: &[u8], effect: &Effect) {
    let start = begin(out, TAG_ENTRY);
    put_item(out, db, key, effect);
    finish(out, start);
}

/// Appends the END frame of a full sync to `out`.
pub fn end(out: &mut Vec<u8>, marks: &[(StreamId, u64)]) {
    let start = begin(out, TAG_END);
    out.put_u32_le(marks.len() as u32);
    for (stream, through) in marks {
        out.put_u64_le(stream.node);
        out.put_u64_le(stream.run);
        out.put_u64_le(*through);
    }
    finish(out, start);
}

/// Appends a BEAT frame to `out`.
pub fn beat(out: &mut Vec<u8>, head: u64, sent: u64, wall_ms: u64) {
    let start = begin(out, TAG_BEAT);
    out.put_u64_le(head);
    out.put_u64_le(sent);
    out.put_u64_le(wall_ms);
    finish(out, start);
}

/// An ACK frame.
pub fn ack(position: u64) -> [u8; HEADER + 8] {
    let mut out = [0u8; HEADER + 8];
    out[0] = TAG_ACK;
    out[1..5].copy_from_slice(&8u32.to_le_bytes());
    out[5..].copy_from_slice(&position.to_le_bytes());
    out
}

/// True for the tags of frames that carry a change of a stream (CHANGE and PART).
pub fn is_change(tag: u8) -> bool {
    tag == TAG_CHANGE || tag == TAG_PART
}

/// The origin stream and number of a CHANGE or PART frame, from the first [`CHANGE_PREFIX`]
/// bytes of its payload (None for other frames or a shorter prefix).
pub fn change_origin(tag: u8, prefix: &[u8]) -> Option<(StreamId, u64)> {
    if !is_change(tag) || prefix.len() < CHANGE_PREFIX {
        return None;
    }
    let word = |i: usize| u64::from_le_bytes(prefix[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    Some((StreamId { node: word(0), run: word(1) }, word(2)))
}

/// Reads a frame header: the tag and the payload length (checked against [`MAX_FRAME`]).
pub fn header(bytes: [u8; HEADER]) -> Result<(u8, u32), FrameError> {
    let len = u32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    if len > MAX_FRAME {
        return Err(FrameError::TooLong(len));
    }
    Ok((bytes[0], len))
}

fn need(buf: &Bytes, n: usize) -> Result<(), FrameError> {
    if buf.remaining() < n {
        return Err(FrameError::Truncated);
    }
    Ok(())
}

fn get_u64(buf: &mut Bytes) -> Result<u64, FrameError> {
    need(buf, 8)?;
    Ok(buf.get_u64_le())
}

fn get_stamp(buf: &mut Bytes) -> Result<Stamp, FrameError> {
    Ok(Stamp { hlc: get_u64(buf)?, node: get_u64(buf)? })
}

fn get_item(buf: &mut Bytes) -> Result<Item, FrameError> {
    need(buf, 7)?;
    let db = buf.get_u16_le();
    let kind = buf.get_u8();
    let key_len = buf.get_u32_le() as usize;
    need(buf, key_len)?;
    let key = buf.split_to(key_len);
    let effect = match kind {
        KIND_PUT => Effect::Put(std::mem::take(buf)),
        KIND_DELETE => Effect::Delete(get_stamp(buf)?),
        KIND_FLUSH => Effect::Flush(get_stamp(buf)?),
        other => return Err(FrameError::Tag(other)),
    };
    Ok(Item { db, key, effect })
}

/// Decodes a frame's payload. The payload should be an allocation of its own: the key and record
/// of a change are slices of it, and live as long as the stored entry does.
pub fn decode(tag: u8, mut payload: Bytes) -> Result<Frame, FrameError> {
    let buf = &mut payload;
    match tag {
        TAG_CHANGE | TAG_PART => {
            let stream = StreamId { node: get_u64(buf)?, run: get_u64(buf)? };
            let seq = get_u64(buf)?;
            Ok(Frame::Change { stream, seq, item: get_item(buf)?, more: tag == TAG_PART })
        }
        TAG_ENTRY => Ok(Frame::Entry(get_item(buf)?)),
        TAG_END => {
            need(buf, 4)?;
            let n = buf.get_u32_le() as usize;
            need(buf, n.saturating_mul(24))?;
            let marks = (0..n)
                .map(|_| Ok((StreamId { node: get_u64(buf)?, run: get_u64(buf)? }, get_u64(buf)?)))
                .collect::<Result<_, FrameError>>()?;
            Ok(Frame::End(marks))
        }
        TAG_BEAT => Ok(Frame::Beat { head: get_u64(buf)?, sent: get_u64(buf)?, wall_ms: get_u64(buf)? }),
        TAG_ACK => Ok(Frame::Ack(get_u64(buf)?)),
        other => Err(FrameError::Tag(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(frame: &[u8]) -> (u8, Bytes) {
        let (tag, len) = header(frame[..HEADER].try_into().unwrap()).unwrap();
        assert_eq!(len as usize, frame.len() - HEADER);
        (tag, Bytes::copy_from_slice(&frame[HEADER..]))
    }

    #[test]
    fn change_frames_have_a_pinned_layout() {
        let stream = StreamId { node: 0x0102, run: 3 };
        let stamp = Stamp { hlc: 0x0a0b, node: 7 };
        let frame = change(stream, 9, 1, b"k", Change::Delete(stamp), false);
        let golden: &[u8] = &[
            1, 48, 0, 0, 0, // tag, payload length
            2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, // node, run, seq
            1, 0, 1, 1, 0, 0, 0, b'k', // db 1, delete, key
            0x0b, 0x0a, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, // stamp
        ];
        assert_eq!(&frame[..], golden);
        let (tag, payload) = split(&frame);
        assert_eq!(change_origin(tag, &payload[..CHANGE_PREFIX]), Some((stream, 9)));
        assert_eq!(change_origin(TAG_ENTRY, &payload[..CHANGE_PREFIX]), None);
        let item = Item { db: 1, key: Bytes::from_static(b"k"), effect: Effect::Delete(stamp) };
        assert_eq!(decode(tag, payload), Ok(Frame::Change { stream, seq: 9, item: item.clone(), more: false }));

        // A PART differs in its tag alone.
        let part = change(stream, 9, 1, b"k", Change::Delete(stamp), true);
        assert_eq!(part[0], TAG_PART);
        assert_eq!(&part[1..], &golden[1..]);
        let (tag, payload) = split(&part);
        assert_eq!(change_origin(tag, &payload[..CHANGE_PREFIX]), Some((stream, 9)));
        assert_eq!(decode(tag, payload), Ok(Frame::Change { stream, seq: 9, item, more: true }));
    }

    #[test]
    fn every_frame_round_trips() {
        let mut out = Vec::new();
        let record = Bytes::from_static(b"\x01\x00\x00record");
        entry(&mut out, 3, b"key", &Effect::Put(record.clone()));
        let (tag, payload) = split(&out);
        let item = Item { db: 3, key: Bytes::from_static(b"key"), effect: Effect::Put(record) };
        assert_eq!(decode(tag, payload), Ok(Frame::Entry(item)));

        let marks = vec![(StreamId { node: 1, run: 2 }, 3), (StreamId { node: 4, run: 5 }, 6)];
        let mut out = Vec::new();
        end(&mut out, &marks);
        let (tag, payload) = split(&out);
        assert_eq!(decode(tag, payload), Ok(Frame::End(marks)));

        let mut out = Vec::new();
        beat(&mut out, 10, 8, 1234);
        let (tag, payload) = split(&out);
        assert_eq!(decode(tag, payload), Ok(Frame::Beat { head: 10, sent: 8, wall_ms: 1234 }));

        let (tag, payload) = split(&ack(77));
        assert_eq!(decode(tag, payload), Ok(Frame::Ack(77)));
    }

    #[test]
    fn hostile_frames_fail_cleanly() {
        assert_eq!(header([1, 0xff, 0xff, 0xff, 0xff]), Err(FrameError::TooLong(u32::MAX)));
        let frame = change(StreamId { node: 1, run: 1 }, 1, 0, b"key", Change::Delete(Stamp::default()), false);
        let (tag, payload) = split(&frame);
        for cut in 0..payload.len() {
            assert!(decode(tag, payload.slice(..cut)).is_err(), "a {cut}-byte prefix decoded");
        }
        assert_eq!(decode(9, Bytes::new()), Err(FrameError::Tag(9)));
        // An END frame claiming four billion marks is refused before allocating them.
        assert_eq!(decode(TAG_END, Bytes::from_static(&[0xff, 0xff, 0xff, 0xff])), Err(FrameError::Truncated));
    }
}
