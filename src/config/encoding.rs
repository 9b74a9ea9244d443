//! The size thresholds of Redis's compact encodings (`hash-max-listpack-entries` and friends).
//!
//! meshkv's own compact forms (a small hash packed into one buffer, a small set or sorted set in
//! one vector: see `meshkv_storage::value`) have fixed limits, so these change no data structure.
//! They are real settings all the same: CONFIG GET/SET and config files read and write
//! them with Redis 7.0's names, ranges and error texts, and `OBJECT ENCODING` answers what Redis 7.0
//! would have chosen under them for the value's current contents (see `commands::keys`). Clients
//! and test suites that tune them (to exercise both encodings of a type) therefore see the answers
//! they expect.

/// The thresholds, with Redis 7.0's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodingLimits {
    /// A hash is a listpack while it has at most this many fields...
    pub hash_max_listpack_entries: u64,
    /// ... and no field or value longer than this many bytes.
    pub hash_max_listpack_value: u64,
    /// A sorted set is a listpack while it has at most this many members...
    pub zset_max_listpack_entries: u64,
    /// ... and no member longer than this many bytes.
    pub zset_max_listpack_value: u64,
    /// A set of integers only is an intset while it has at most this many members.
    pub set_max_intset_entries: u64,
    /// The size of each quicklist node (negative: a size class in bytes, -2 = 8 KiB). Redis 7.0
    /// stores every list as a quicklist, so no encoding depends on it.
    pub list_max_listpack_size: i64,
    /// How many quicklist nodes at each end stay uncompressed (0: none is compressed).
    pub list_compress_depth: u64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
        }
    }
}
