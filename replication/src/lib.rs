//! meshkv-replication: what lets several masters agree.
//!
//! Owns the hybrid logical clock that stamps every local write (and refuses remote stamps too far in
//! the future), and the node's durable identity. Peer links, the change log and merging arrive with
//! the replication work; they build on these two.
//!
//! Must never parse client commands or reach into the keyspace except through the storage crate's
//! public API.

mod clock;
mod identity;

pub use clock::{ClockError, HybridClock};
pub use identity::{IdentityError, NodeIdentity};
