//! What the keyspace announces by itself about keys, for keyspace notifications: a key expired,
//! was evicted, was created, or was looked for and missing. The server decides what to do with
//! them (publish them, or nothing); the keyspace only reports, and asks first whether anyone
//! wants an event, so that none is built while notifications are off.

use crate::Key;

/// An event the keyspace reports by itself (commands report their own, such as `set` or `lpush`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// A key's time to live ran out and it was removed (on access or by active expiry).
    Expired,
    /// A key was removed to get under `maxmemory`.
    Evicted,
    /// A command created a key that did not exist.
    New,
    /// A read found no key.
    Miss,
}

/// Receives [`KeyEvent`]s. Called with shard locks held: it must not lock shards itself.
pub trait KeyEvents: Send + Sync {
    /// True if `event` is wanted now (a cheap check, made before anything is built).
    fn wants(&self, event: KeyEvent) -> bool;
    /// `event` happened to `key` of database `db`.
    fn key_event(&self, event: KeyEvent, db: usize, key: &Key);
    /// `key` was written or removed: by the running command (`by_command`), or by expiry,
    /// eviction or a peer's change. Only called while [`crate::Keyspace::track_writes`]'s switch is on
    /// (client-side caching: tracked keys are invalidated). Redis's tracking table knows key
    /// names, not databases, so none is passed.
    fn key_written(&self, _key: &Key, _by_command: bool) {}
    /// A database was emptied (FLUSHDB, FLUSHALL, a full sync): only called while
    /// [`crate::Keyspace::track_writes`]'s switch is on.
    fn flushed(&self) {}
}
