//! Keys as the keyspace stores them: the bytes plus their 64-bit hash.
//!
//! The hash is computed once, when a command turns an argument into a [`Key`]. It picks the shard
//! (its top bits) and orders keys inside a shard, so the whole keyspace is ordered by hash. That order
//! is what makes SCAN's cursor a plain number that never skips a key: the cursor is the next hash to
//! visit, and every key present for the whole iteration has a hash the cursor passes over exactly once.
//!
//! A shard's slot keeps neither: it keeps a [`StoredKey`], the bytes alone, inline when they are
//! short, and recomputes the hash on the rare occasions it needs it (its table grows, SCAN).

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

    /// The same key in an allocation of its own (a counted one: clones allocate nothing): for
    /// keeping a key around without its bytes pinning the larger buffer they were sliced from (a
    /// request's arguments, a value).
    pub fn detached(&self) -> Key {
        Key { hash: self.hash, bytes: crate::alloc::counted(&self.bytes) }
    }

    /// The key's hash (the SCAN cursor position of this key).
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// A stored key's bytes, whose hash is `hash`, copied out of its slot into a counted
    /// allocation of their own (clones of the key allocate nothing).
    pub(crate) fn copied(hash: u64, stored: &[u8]) -> Key {
        Key { hash, bytes: crate::alloc::counted(stored) }
    }
}

/// The longest key a [`StoredKey`] keeps inline.
pub(crate) const INLINE_KEY: usize = 22;

/// A key's bytes as a shard's slot keeps them: up to [`INLINE_KEY`] bytes in the slot itself,
/// longer ones in an allocation of their own. 24 bytes, where a [`Key`] takes 40 and, for a
/// written key, a share of its request's block: the slot is a 96-byte allocation instead of 112,
/// a short key costs nothing more, and a lookup compares the bytes it already has in cache. The
/// hash is not kept: the table keeps seven bits of it per bucket, which decide almost every
/// comparison, and the whole hash is recomputed only when the table grows or a SCAN or an eviction
/// needs a key's position.
#[derive(Clone)]
pub(crate) enum StoredKey {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

impl StoredKey {
    pub(crate) fn new(bytes: &[u8]) -> StoredKey {
        if bytes.len() <= INLINE_KEY {
            let mut inline = [0u8; INLINE_KEY];
            inline[..bytes.len()].copy_from_slice(bytes);
            StoredKey::Inline { len: bytes.len() as u8, bytes: inline }
        } else {
            StoredKey::Heap(bytes.into())
        }
    }

    /// The key's bytes.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            StoredKey::Inline { len, bytes } => &bytes[..*len as usize],
            StoredKey::Heap(bytes) => bytes,
        }
    }

    /// Bytes a stored key of these bytes allocates beside its slot (jemalloc's class of a long
    /// key).
    pub(crate) fn heap_size_of(bytes: &[u8]) -> usize {
        match bytes.len() {
            0..=INLINE_KEY => 0,
            len => crate::alloc::size_class(len),
        }
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
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
        Key { hash: self.hash(&bytes), bytes }
    }

    /// The hash of a key's bytes (what [`KeyHasher::key`] gives the key).
    pub fn hash(&self, bytes: &[u8]) -> u64 {
        self.state.hash_one(bytes)
    }

    /// A stored key as a [`Key`] (see [`Key::copied`]).
    pub(crate) fn key_of(&self, stored: &[u8]) -> Key {
        Key::copied(self.hash(stored), stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_is_24_bytes_and_keeps_its_bytes() {
        assert_eq!(std::mem::size_of::<StoredKey>(), 24);
        for len in [0, 1, INLINE_KEY - 1, INLINE_KEY, INLINE_KEY + 1, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let stored = StoredKey::new(&bytes);
            assert_eq!(stored.as_slice(), &bytes[..]);
            assert_eq!(stored.clone().as_slice(), &bytes[..]);
            assert_eq!(matches!(stored, StoredKey::Inline { .. }), len <= INLINE_KEY, "len {len}");
            let heap = if len <= INLINE_KEY { 0 } else { crate::alloc::size_class(len) };
            assert_eq!(StoredKey::heap_size_of(&bytes), heap);
        }
    }

    #[test]
    fn a_key_of_stored_bytes_hashes_as_the_hasher_does() {
        let hasher = KeyHasher::with_seed(9);
        let key = hasher.key(Bytes::from_static(b"some:key"));
        let again = hasher.key_of(StoredKey::new(key.bytes()).as_slice());
        assert_eq!(again, key);
        assert_eq!(again.hash(), hasher.hash(b"some:key"));
    }
}
