//! The change feed: what replication learns of local writes, and how remote ones come back in.
//!
//! Once a [`ChangeSink`] is installed (replication switches it on; a standalone node never pays for
//! it), every transaction reports, at commit and still under its shard locks, the new state of
//! each key a command wrote: the whole entry (its codec record, stamp and expiry included) or its
//! deletion with the deleting stamp. The keys one transaction wrote (one command, or a whole
//! EXEC) are reported together, as one group, and a peer merges a group under the locks of all
//! its keys at once ([`Keyspace::merge_group`](crate::Keyspace::merge_group)): a RENAME is never
//! seen elsewhere as its source deleted and its destination not yet written. Shipping states rather than commands is what makes merging
//! order-free: a peer keeps, for each key, the state with the greatest stamp, whatever order the
//! states arrive in and however often (whole-key last-write-wins).
//!
//! Lazy and active expiry are not reported: expiry times are absolute and every node expires keys
//! itself. Both leave a tombstone with the expired entry's stamp, so that a late, older write from
//! a peer cannot resurrect the key on one node only.

use bytes::Bytes;

use crate::entry::Entry;
use crate::stamp::Stamp;

/// What a write did to one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The key now holds this entry (a codec record: stamp, expiry and value).
    Put(Bytes),
    /// The key was deleted by a write with this stamp.
    Delete(Stamp),
    /// The whole database was emptied (FLUSHDB, FLUSHALL) by a write with this stamp: every entry
    /// with an older stamp goes.
    Flush(Stamp),
}

impl Effect {
    /// The stamp of the write; for a `Put`, the one in its record (None if the record is corrupt).
    pub fn stamp(&self) -> Option<Stamp> {
        match self {
            Effect::Put(record) => crate::codec::peek_header(record).ok().map(|(stamp, _)| stamp),
            Effect::Delete(stamp) | Effect::Flush(stamp) => Some(*stamp),
        }
    }
}

/// A local change as the feed reports it: a write lends the entry itself, so that the sink
/// encodes it once, straight into its own buffer.
#[derive(Clone, Copy, Debug)]
pub enum Change<'a> {
    /// The key now holds this entry.
    Put(&'a Entry),
    /// The key was deleted by a write with this stamp.
    Delete(Stamp),
    /// The database was emptied by a write with this stamp.
    Flush(Stamp),
}

impl Change<'_> {
    /// The stamp of the write.
    pub fn stamp(&self) -> Stamp {
        match self {
            Change::Put(entry) => entry.stamp,
            Change::Delete(stamp) | Change::Flush(stamp) => *stamp,
        }
    }

    /// The owned form (a `Put` encoded as a codec record).
    pub fn to_effect(self) -> Effect {
        match self {
            Change::Put(entry) => Effect::Put(crate::codec::encode_entry_bytes(entry)),
            Change::Delete(stamp) => Effect::Delete(stamp),
            Change::Flush(stamp) => Effect::Flush(stamp),
        }
    }
}

/// One key's change, as one transaction reports it among the others it made.
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    /// The database.
    pub db: usize,
    /// The key (empty for a flush).
    pub key: &'a [u8],
    /// What happened to it.
    pub change: Change<'a>,
}

/// Where local changes go (the replication backlog). Called under shard locks: it must be quick
/// and must never touch the keyspace.
pub trait ChangeSink: Send + Sync {
    /// Records the changes one transaction made (never empty), in the order it made them: they
    /// must reach every peer as one group, to be merged together.
    fn record(&self, group: &[Recorded<'_>]);
}

/// What merging a remote change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merged {
    /// It was newer than what the key held, and now the key holds it.
    Applied,
    /// The key (or its tombstone, or a flush of its database) already had a newer or equal stamp.
    Stale,
}
