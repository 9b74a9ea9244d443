//! The journal: every change to the data, in the order it happened, for the append-only file.
//!
//! Once a [`Journal`] is installed and switched on (`appendonly yes` in RAM mode), every
//! transaction hands it, at commit and still under its shard locks, the new state of every key it
//! wrote, whoever wrote it: a command, a peer's change merged here, a lazy expiry, an eviction.
//! What it gets is an *effect*, not a command: the key's whole new entry (its codec record, with
//! its `(hlc, node)` stamp and expiry), or its deletion, or a database emptied or swapped. Replayed
//! in order, effects rebuild exactly the data the node held, stamps included, without running a
//! command again (no clock, no randomness, no script is evaluated twice), which is what a
//! restarted master needs to keep its place among its peers.
//!
//! Per-key order is the commit order: a change is handed over under its shard's lock. Changes to
//! different keys may be logged in any order relative to each other, which replay does not mind;
//! whole-database changes hold every shard of their database, so they are ordered against all.
//!
//! The framing (one frame per transaction, with a length and a CRC-32, so a group is replayed
//! whole or not at all and a torn tail is told apart from damage) is [`encode_frame`] and
//! [`FrameReader`]; the records inside a frame are laid out as a snapshot's records are.
//!
//! ```text
//! file:    "MESHKVAOF" u8 version (1), then frames
//! frame:   u32 payload length, u32 CRC-32 of the payload, payload
//! payload: records: u8 kind, u16 db, u32 key length, key, u32 body length, body
//!            kind 1 PUT:    the key's entry (a codec record: stamp, expiry, value)
//!            kind 2 DELETE: u64 hlc, u64 node of the deleting write (zeros: no tombstone)
//!            kind 3 FLUSH:  no key; the flush's stamp: entries and tombstones older than it go
//!            kind 4 WIPE:   no key, no body: the database is emptied
//!            kind 5 SWAP:   no key; u16 the other database (SWAPDB)
//! ```

use std::io::Read;

use bytes::Bytes;
use thiserror::Error;

use crate::codec::{decode_entry, encode_entry, CodecError};
use crate::entry::Entry;
use crate::keyspace::{Keyspace, SHARDS_PER_DB};
use crate::stamp::Stamp;

/// The bytes every journal file starts with.
pub const FILE_HEADER: &[u8; 10] = b"MESHKVAOF\x01";

const PUT: u8 = 1;
const DELETE: u8 = 2;
const FLUSH: u8 = 3;
const WIPE: u8 = 4;
const SWAP: u8 = 5;
/// No frame may claim more than this (a group of changes bigger than this is refused when read).
const MAX_FRAME: u32 = 1 << 31;

/// What one change did, as the journal is told.
#[derive(Clone, Copy, Debug)]
pub enum Logged<'a> {
    /// The key now holds this entry.
    Put(&'a Entry),
    /// The key was deleted; the stamp is its tombstone's (the default stamp: none).
    Delete(Stamp),
    /// The database was flushed by a write with this stamp (replication on): everything older goes.
    Flush(Stamp),
    /// The database was emptied (a flush without replication, a plain replica's full sync).
    Wipe,
    /// The database was swapped with this one (SWAPDB).
    Swap(usize),
}

/// One change, with where it happened.
#[derive(Clone, Copy, Debug)]
pub struct JournalRecord<'a> {
    /// The database.
    pub db: usize,
    /// The key (empty for whole-database changes).
    pub key: &'a [u8],
    /// What happened.
    pub what: Logged<'a>,
}

/// Where every change goes (the append-only file). Called under shard locks: it must be quick
/// and must never touch the keyspace.
pub trait Journal: Send + Sync {
    /// Logs the changes one transaction made (never empty), in order, as one group. Returns the
    /// group's sequence number: a client that waits until that number is durable knows its
    /// writes are.
    fn log(&self, group: &[JournalRecord<'_>]) -> u64;
}

/// Appends one frame holding `group` to `out`.
pub fn encode_frame(group: &[JournalRecord<'_>], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    for record in group {
        let db = u16::try_from(record.db).expect("databases fit in u16");
        let kind = match record.what {
            Logged::Put(_) => PUT,
            Logged::Delete(_) => DELETE,
            Logged::Flush(_) => FLUSH,
            Logged::Wipe => WIPE,
            Logged::Swap(_) => SWAP,
        };
        out.push(kind);
        out.extend_from_slice(&db.to_le_bytes());
        out.extend_from_slice(&(record.key.len() as u32).to_le_bytes());
        out.extend_from_slice(record.key);
        let len_at = out.len();
        out.extend_from_slice(&[0u8; 4]);
        match record.what {
            Logged::Put(entry) => encode_entry(entry, out),
            Logged::Delete(stamp) | Logged::Flush(stamp) => out.extend_from_slice(&stamp_bytes(stamp)),
            Logged::Wipe => {}
            Logged::Swap(other) => {
                out.extend_from_slice(&u16::try_from(other).expect("databases fit in u16").to_le_bytes())
            }
        }
        let body = (out.len() - len_at - 4) as u32;
        out[len_at..len_at + 4].copy_from_slice(&body.to_le_bytes());
    }
    let payload = &out[start + 8..];
    let (len, crc) = (payload.len() as u32, crc32fast::hash(payload));
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn stamp_bytes(stamp: Stamp) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&stamp.hlc.to_le_bytes());
    out[8..].copy_from_slice(&stamp.node.to_le_bytes());
    out
}

fn parse_stamp(body: &[u8]) -> Option<Stamp> {
    let bytes: &[u8; 16] = body.try_into().ok()?;
    let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    Some(Stamp { hlc: word(0), node: word(8) })
}

/// A decoded change, owning its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replayed {
    /// The key holds this entry (a codec record).
    Put(Bytes),
    /// The key was deleted (with its tombstone's stamp, or the default stamp for none).
    Delete(Stamp),
    /// The database was flushed with this stamp.
    Flush(Stamp),
    /// The database was emptied.
    Wipe,
    /// The database was swapped with this one.
    Swap(usize),
}

/// Why a journal could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum JournalError {
    /// The file does not start with the journal's header.
    #[error("not a meshkv append-only file (bad header)")]
    NotAJournal,
    /// The file ends inside a frame; the offset is where the last whole frame ends.
    #[error("unexpected end of file at offset {0}")]
    Truncated(u64),
    /// A frame's bytes do not match its checksum, or its records do not parse.
    #[error("bad frame at offset {offset}: {why}")]
    Corrupt {
        /// Where the frame starts.
        offset: u64,
        /// What was wrong.
        why: String,
    },
    /// The file could not be read.
    #[error("{0}")]
    Io(String),
}

/// One frame's changes: `(db, key, change)` in the order they were made.
pub type Frame = Vec<(usize, Bytes, Replayed)>;

/// Reads the frames of a journal file one at a time, checking each.
pub struct FrameReader<R: Read> {
    input: R,
    pos: u64,
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, JournalError> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(JournalError::Io(e.to_string())),
        }
    }
    Ok(n)
}

impl<R: Read> FrameReader<R> {
    /// A reader over a file's bytes; checks the header.
    pub fn new(mut input: R) -> Result<FrameReader<R>, JournalError> {
        let mut head = [0u8; FILE_HEADER.len()];
        let n = read_full(&mut input, &mut head)?;
        if n < head.len() {
            // A file cut short while its header was written holds no change yet.
            return match FILE_HEADER.starts_with(&head[..n]) {
                true => Err(JournalError::Truncated(0)),
                false => Err(JournalError::NotAJournal),
            };
        }
        if &head != FILE_HEADER {
            return Err(JournalError::NotAJournal);
        }
        Ok(FrameReader { input, pos: FILE_HEADER.len() as u64 })
    }

    /// Where the next frame starts (after the last one read whole).
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// The next frame's changes, None at the end of the file.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, JournalError> {
        let offset = self.pos;
        let mut head = [0u8; 8];
        match read_full(&mut self.input, &mut head)? {
            0 => return Ok(None),
            8 => {}
            _ => return Err(JournalError::Truncated(offset)),
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if len > MAX_FRAME {
            return Err(JournalError::Corrupt { offset, why: "frame length out of range".into() });
        }
        // Read in steps, so that a damaged length in a small file ends at its end instead of
        // allocating first.
        let mut payload = Vec::with_capacity((len as usize).min(1 << 20));
        (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut payload)
            .map_err(|e| JournalError::Io(e.to_string()))?;
        if payload.len() < len as usize {
            return Err(JournalError::Truncated(offset));
        }
        if crc32fast::hash(&payload) != crc {
            return Err(JournalError::Corrupt { offset, why: "checksum mismatch".into() });
        }
        let records = parse_payload(&payload).map_err(|why| JournalError::Corrupt { offset, why: why.into() })?;
        self.pos += 8 + u64::from(len);
        Ok(Some(records))
    }
}

/// The records of one frame's payload.
fn parse_payload(payload: &[u8]) -> Result<Frame, &'static str> {
    fn take<'p>(p: &mut &'p [u8], n: usize) -> Result<&'p [u8], &'static str> {
        if p.len() < n {
            return Err("record runs past its frame");
        }
        let (head, tail) = p.split_at(n);
        *p = tail;
        Ok(head)
    }
    let mut records = Vec::new();
    let mut p = payload;
    while !p.is_empty() {
        let kind = take(&mut p, 1)?[0];
        let db = u16::from_le_bytes(take(&mut p, 2)?.try_into().expect("2 bytes")) as usize;
        let key_len = u32::from_le_bytes(take(&mut p, 4)?.try_into().expect("4 bytes")) as usize;
        let key = Bytes::copy_from_slice(take(&mut p, key_len)?);
        let body_len = u32::from_le_bytes(take(&mut p, 4)?.try_into().expect("4 bytes")) as usize;
        let body = take(&mut p, body_len)?;
        let what = match kind {
            PUT => Replayed::Put(Bytes::copy_from_slice(body)),
            DELETE => Replayed::Delete(parse_stamp(body).ok_or("bad delete stamp")?),
            FLUSH => Replayed::Flush(parse_stamp(body).ok_or("bad flush stamp")?),
            WIPE => Replayed::Wipe,
            SWAP => {
                let other: [u8; 2] = body.try_into().map_err(|_| "bad swap")?;
                Replayed::Swap(u16::from_le_bytes(other) as usize)
            }
            _ => return Err("unknown record kind"),
        };
        records.push((db, key, what));
    }
    Ok(records)
}

/// Why a change could not be replayed.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// A database this server does not have.
    #[error("change to database {db}, but only {databases} databases are configured")]
    Database {
        /// The database in the file.
        db: usize,
        /// How many the server has.
        databases: usize,
    },
    /// An entry that does not decode.
    #[error("bad record: {0}")]
    Record(#[from] CodecError),
}

impl Keyspace {
    /// Applies changes read back from a journal (loading at start, before any client): each does
    /// to the data what it did when it was logged. Not a write: nothing is counted, signalled or
    /// journaled. Returns the newest stamp seen (the caller advances the clock past it, as a
    /// snapshot's load does: see `snapshot`).
    pub fn replay(&self, changes: &[(usize, Bytes, Replayed)], now_ms: u64) -> Result<Stamp, ReplayError> {
        let databases = self.databases();
        let mut newest = Stamp::default();
        for (db, key, what) in changes {
            let db = *db;
            if db >= databases {
                return Err(ReplayError::Database { db, databases });
            }
            match what {
                Replayed::Put(record) => {
                    let entry = decode_entry(record, now_ms)?;
                    newest = newest.max(entry.stamp);
                    let key = self.key(key.clone());
                    let mut shard = self.shards[self.shard_index(db, &key) as usize].lock();
                    if entry.is_expired(now_ms) {
                        shard.remove(&key);
                    } else {
                        shard.insert(key, entry);
                    }
                }
                Replayed::Delete(stamp) => {
                    newest = newest.max(*stamp);
                    let key = self.key(key.clone());
                    let mut shard = self.shards[self.shard_index(db, &key) as usize].lock();
                    shard.remove(&key);
                    if *stamp != Stamp::default() {
                        shard.bury_at(&key, *stamp, now_ms.max(stamp.physical_ms()));
                    }
                }
                Replayed::Flush(stamp) => {
                    newest = newest.max(*stamp);
                    self.raise_floor(db, *stamp);
                    for cell in &self.shards[db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB] {
                        let mut shard = cell.lock();
                        let doomed = shard.keys_where(|e| e.stamp < *stamp);
                        for key in doomed {
                            shard.remove(&key);
                        }
                        shard.purge_tombstones(|_, grave| grave.stamp >= *stamp);
                    }
                }
                Replayed::Wipe => {
                    for cell in &self.shards[db * SHARDS_PER_DB..(db + 1) * SHARDS_PER_DB] {
                        cell.lock().clear();
                    }
                }
                Replayed::Swap(other) => {
                    let other = *other;
                    if other >= databases {
                        return Err(ReplayError::Database { db: other, databases });
                    }
                    if other != db {
                        for i in 0..SHARDS_PER_DB {
                            let (a, b) = (db * SHARDS_PER_DB + i, other * SHARDS_PER_DB + i);
                            let (lo, hi) = (a.min(b), a.max(b));
                            let mut x = self.shards[lo].lock();
                            let mut y = self.shards[hi].lock();
                            x.swap_data(&mut y);
                        }
                    }
                }
            }
        }
        Ok(newest)
    }

    /// Advances the clock past `stamp` (after a replay: see [`Keyspace::replay`]).
    pub fn witness_loaded(&self, stamp: Stamp) {
        self.witness(stamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(hlc: u64) -> Stamp {
        Stamp { hlc, node: 7 }
    }

    #[test]
    fn frames_round_trip_and_a_cut_tail_reads_as_truncated() {
        let mut file = FILE_HEADER.to_vec();
        encode_frame(&[JournalRecord { db: 1, key: b"k", what: Logged::Delete(stamp(5)) }], &mut file);
        encode_frame(
            &[
                JournalRecord { db: 0, key: b"", what: Logged::Flush(stamp(9)) },
                JournalRecord { db: 2, key: b"", what: Logged::Swap(3) },
                JournalRecord { db: 2, key: b"", what: Logged::Wipe },
            ],
            &mut file,
        );
        let mut reader = FrameReader::new(&file[..]).unwrap();
        let first = reader.next_frame().unwrap().unwrap();
        assert_eq!(first, vec![(1, Bytes::from_static(b"k"), Replayed::Delete(stamp(5)))]);
        let end_of_first = reader.offset();
        let second = reader.next_frame().unwrap().unwrap();
        assert_eq!(second[0].2, Replayed::Flush(stamp(9)));
        assert_eq!(second[1].2, Replayed::Swap(3));
        assert_eq!(second[2].2, Replayed::Wipe);
        assert_eq!(reader.next_frame().unwrap(), None);
        // Every cut inside the second frame is a truncation at the end of the first.
        for cut in end_of_first as usize + 1..file.len() {
            let mut reader = FrameReader::new(&file[..cut]).unwrap();
            reader.next_frame().unwrap();
            assert_eq!(reader.next_frame(), Err(JournalError::Truncated(end_of_first)), "cut at {cut}");
        }
        // A flipped byte inside a frame is damage, not a short read.
        let mut damaged = file.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let mut reader = FrameReader::new(&damaged[..]).unwrap();
        reader.next_frame().unwrap();
        assert!(matches!(reader.next_frame(), Err(JournalError::Corrupt { .. })));
        assert_eq!(FrameReader::new(&b"REDIS0009.."[..]).err(), Some(JournalError::NotAJournal));
        assert_eq!(FrameReader::new(&b"MESHK"[..]).err(), Some(JournalError::Truncated(0)));
    }
}
