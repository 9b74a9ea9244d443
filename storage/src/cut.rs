//! A consistent cut: every shard of one database as it was at one instant.
//!
//! Taking a cut costs one `Arc` clone per shard; the cut shares its tables with the live keyspace,
//! and the first later write to a shard copies that shard's table (not the values). Readers of a cut (KEYS, DEBUG
//! DIGEST, snapshots, full syncs) never hold a lock while they read.

use crate::entry::Entry;
use std::sync::Arc;

use crate::shard::ShardMap;

/// A read-only view of one database at one instant.
pub struct Cut {
    maps: Vec<Arc<ShardMap>>,
    now_ms: u64,
}

impl Cut {
    pub(crate) fn new(maps: Vec<Arc<ShardMap>>, now_ms: u64) -> Cut {
        Cut { maps, now_ms }
    }

    /// Every live (unexpired) key's bytes and entry, shard by shard.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> + '_ {
        self.maps
            .iter()
            .flat_map(|m| m.iter())
            .map(|slot| (slot.key.as_slice(), &slot.entry))
            .filter(|(_, e)| !e.is_expired(self.now_ms))
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
