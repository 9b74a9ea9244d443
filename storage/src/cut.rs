//! A consistent cut: every shard of one database as it was at one instant.
//!
//! Taking a cut costs one clone of each shard's persistent map; the cut shares all entries with the
//! live keyspace, and a later write copies only what it changes. Readers of a cut (KEYS, DEBUG
//! DIGEST, snapshots, full syncs) never hold a lock while they read.

use crate::entry::Entry;
use crate::key::Key;
use crate::shard::ShardMap;

/// A read-only view of one database at one instant.
pub struct Cut {
    maps: Vec<ShardMap>,
    now_ms: u64,
}

impl Cut {
    pub(crate) fn new(maps: Vec<ShardMap>, now_ms: u64) -> Cut {
        Cut { maps, now_ms }
    }

    /// Every live (unexpired) key and entry, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Entry)> + '_ {
        self.maps.iter().flat_map(|m| m.iter()).filter(|(_, e)| !e.is_expired(self.now_ms))
    }

    /// Number of entries, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.maps.iter().map(|m| m.len()).sum()
    }

    /// True if the database had no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
