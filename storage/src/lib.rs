//! meshkv-storage: the keyspace.
//!
//! Owns what every key holds: its typed value, its expiry, and the stamp of the write that made it;
//! how the keyspace is split into shards and locked; consistent cuts of it; expiry; and the two
//! ends of replication that touch data: the change feed of local writes and the merge of remote
//! ones by their stamps.
//!
//! Must never know about sockets, RESP, clients or peers, and never read a clock on its own: time
//! and stamps come in from the caller (the [`Clock`] trait).

pub mod alloc;
pub mod codec;
mod crdt;
mod cut;
mod entry;
mod error;
mod events;
mod evict;
mod feed;
pub mod flash;
pub mod journal;
mod key;
mod keyspace;
mod probation;
mod shard;
pub mod snapshot;
mod stamp;
mod stats;
mod txn;
pub mod value;

pub use cut::Cut;
pub use entry::Entry;
pub use error::StorageError;
pub use events::{KeyEvent, KeyEvents};
pub use evict::{ram_cost, Evicted, Policy, BUCKET_BYTES, EXPIRY_INDEX_BYTES, OCCUPANCY_MAX_AGE_MS};
pub use feed::{Change, ChangeSink, Effect, Merged, Recorded};
pub use key::{Key, KeyHasher};
pub use keyspace::{Keyspace, KeyspaceCut, KeyspaceStats, KeyspaceView, LockSet, SHARDS_PER_DB};
pub use probation::LIMIT_SHIFT as PROBATION_LIMIT_SHIFT;
pub use stamp::{Clock, Stamp};
pub use stats::StripedCounter;
pub use txn::{Expiry, HashWriter, SetWriter, Txn, ZSetWriter};
pub use value::{Value, ValueType};
