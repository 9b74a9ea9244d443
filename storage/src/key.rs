//! Keys as the keyspace stores them: the bytes plus their 64-bit hash.
//!
//! The hash is computed once, when a command turns an argument into a [`Key`]. It picks the shard
//! (its top bits) and orders keys inside a shard, so the whole keyspace is ordered by hash. That order
//! is what makes SCAN's cursor a plain number that never skips a key: the cursor is the next hash to
//! visit, and every key present for the whole iteration has a hash the cursor passes over exactly once.

use bytes::Bytes;
use std::cmp::Ordering;

/// A key with its precomputed hash. Ordered by `(hash, bytes)`.
#[derive(Clone, Debug)]
pub struct Key {
    hash: u64,
    bytes: Bytes,
}

impl Key {
    /// The key's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The same key in an allocation of its own: for keeping a key around without its bytes
    /// pinning the larger buffer they were sliced from (a request's arguments, a value).
    pub fn detached(&self) -> Key {
        Key { hash: self.hash, bytes: Bytes::copy_from_slice(&self.bytes) }
    }

    /// The key's hash (the SCAN cursor position of this key).
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}
impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.hash.cmp(&other.hash).then_with(|| self.bytes.cmp(&other.bytes))
    }
}

/// Hashes key bytes. Seeded randomly per process (hash flooding), fixed for the process's lifetime
/// (SCAN cursors stay valid).
#[derive(Clone)]
pub struct KeyHasher {
    state: ahash::RandomState,
}

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher { state: ahash::RandomState::new() }
    }
}

impl KeyHasher {
    /// A hasher with fixed seeds, for tests that need reproducible shard placement.
    pub fn with_seed(seed: u64) -> Self {
        KeyHasher { state: ahash::RandomState::with_seeds(seed, !seed, seed.rotate_left(17), 7) }
    }

    /// Turns bytes into a [`Key`].
    pub fn key(&self, bytes: Bytes) -> Key {
        let hash = self.state.hash_one(bytes.as_ref());
        Key { hash, bytes }
    }
}
