//! meshkv-replication: what lets several masters agree.
//!
//! Owns the hybrid logical clock that stamps every local write (and refuses remote stamps too far
//! in the future), the node's durable identity, and active-active replication: the backlog of
//! changes (this node's own, numbered per run, and those it relays), the watermarks of what it has
//! applied, the links to the peers it pulls from and the service of the followers that pull from
//! it, with their frame protocol.
//!
//! Must never parse client commands or reach into the keyspace except through the storage crate's
//! public API (the change feed, `merge`, the replication cut); the server gives it what it needs
//! through [`Host`].

mod backlog;
mod ceiling;
mod clock;
pub mod frame;
mod group;
mod identity;
mod lag;
mod mesh;
mod peer;
pub mod source;
mod watermark;

pub use backlog::{Backlog, Evicted, Logged, Recipient, Waiting};
pub use ceiling::{Ceiling, CeilingError, CEILING_FILE};
pub use clock::{ClockError, HybridClock};
pub use frame::StreamId;
pub use identity::{IdentityError, NodeIdentity};
pub use mesh::{read_marks, write_marks, Host, Mesh, MeshStats, Settings, SyncRequest, MARKS_FILE};
pub use peer::{LinkError, Peer, PeerStatus};
pub use watermark::Watermarks;
