//! The values a key can hold, one variant per Redis type.
//!
//! Collections sit behind an `Arc` so that cloning an entry is cheap: a consistent cut (SCAN, KEYS,
//! snapshots, full sync) shares entries with the live keyspace, and a writer that mutates a shared
//! collection copies it first (`Arc::make_mut`). Without an open cut the count is one and nothing is
//! copied.

mod causal;
mod counter;
mod dotted;
mod dotted_hash;
mod dotted_zset;
mod hash;
mod set;
mod small_str;
mod zset;

pub use causal::{Context, Removed, Seen};
pub use counter::{Add, Counter};
pub use dotted::{Dots, DottedSet};
pub use dotted_hash::{DottedHash, Writes};
pub use dotted_zset::DottedZSet;
pub use hash::HashValue;
pub use set::SetValue;
pub use small_str::{SmallStr, SMALL_STR};
pub use zset::{LexBound, LexRange, Score, ScoreBound, ScoreRange, ZSet};

use bytes::Bytes;
use std::collections::VecDeque;
use std::mem::size_of;
use std::sync::Arc;

use crate::alloc::{counted_size, size_class};
use crate::error::StorageError;

/// The hasher of the tables inside values (hash fields, set members, sorted set members): ahash
/// with seeds drawn once per process, against hash flooding as Redis's per-process SipHash key
/// is. The seeds live in one static, not in every table: `ahash::RandomState` is 32 bytes, which
/// every hash, set and sorted set paid in its fixed part (88 bytes, 104 with its `Arc`'s counts:
/// jemalloc's 112-byte class; without the seeds, 72 bytes in the 80-byte class).
#[derive(Clone, Copy, Debug, Default)]
pub struct ElementHasher;

impl std::hash::BuildHasher for ElementHasher {
    type Hasher = ahash::AHasher;

    #[inline]
    fn build_hasher(&self) -> ahash::AHasher {
        static SEEDS: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
        SEEDS.get_or_init(ahash::RandomState::new).build_hasher()
    }
}
/// A set, hash or sorted set is kept small, scanned for a member as Redis scans a listpack, while
/// it has at most this many members... A small hash or sorted set packs its members' bytes in line
/// as a listpack does; a small set is a vector of pointers to its members, each with its [`tag`].
/// Redis's `*-max-listpack-entries` are 128 (512 for hashes); 64 is what was measured, on sorted
/// sets when they were vectors of pointers (10,000 sets filled one ZADD at a time, ZSCORE of
/// random members, CPU per request against the map and tree): without tags, 128-member sets took
/// 2.2 times the CPU; with them, 1.29 times at 128 members, the same at 64 and at 30.
pub(crate) const SMALL_LEN: usize = 64;
/// ...of at most this many bytes each (Redis's `*-max-listpack-value` default).
pub(crate) const SMALL_MEMBER: usize = 64;

/// A member's tag in a small collection: 32 bits of its hash, which a scan for the member compares,
/// in the vector, before it follows a member's pointer to its bytes (a cache miss each, for
/// members that came in different requests).
pub(crate) fn tag(member: &[u8]) -> u32 {
    use std::hash::BuildHasher;
    ElementHasher.hash_one(member) as u32
}

/// List type used inside list values.
pub type ListValue = VecDeque<Bytes>;

/// Strings longer than this are left where they are by [`Value::compact`]: large arguments
/// already have buffers of their own (the request parser splits them off its read buffer), and
/// jemalloc's size classes waste at most a fifth of a large allocation.
const COMPACT_MAX: usize = 16 * 1024;

/// How much of a string [`Value::prefetch`] asks for: the lines a reply copies first (the
/// hardware's own prefetcher follows a longer copy).
const PREFETCH_MAX: usize = 1024;

/// A value of any Redis type.
#[derive(Clone, Debug)]
pub enum Value {
    /// A string (integers are strings too; OBJECT ENCODING reports `int` for them).
    Str(Bytes),
    /// A string of up to [`SMALL_STR`] bytes, in place: what a stored [`Value::Str`] that short
    /// becomes (see [`Value::compact`]).
    Small(SmallStr),
    /// A list.
    List(Arc<ListValue>),
    /// A hash of field to value.
    Hash(Arc<HashValue>),
    /// A set of members.
    Set(Arc<SetValue>),
    /// A sorted set of members with scores.
    ZSet(Arc<ZSet>),
    /// A string holding an integer that masters increment concurrently (replication only; see
    /// [`Counter`]). Reads see the string of its total.
    Counter(Arc<Counter>),
    /// A set that masters add to and remove from concurrently (replication only; see
    /// [`DottedSet`]). Reads see its members as a plain set.
    DotSet(Arc<DottedSet>),
    /// A hash that masters write concurrently (replication only; see [`DottedHash`]). Reads see
    /// its fields as a plain hash.
    DotHash(Arc<DottedHash>),
    /// A sorted set that masters write concurrently (replication only; see [`DottedZSet`]).
    /// Reads see its members by score as a plain sorted set.
    DotZSet(Arc<DottedZSet>),
}

/// The type of a value, as TYPE reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// `string`
    Str,
    /// `list`
    List,
    /// `hash`
    Hash,
    /// `set`
    Set,
    /// `zset`
    ZSet,
}

impl ValueType {
    /// The name TYPE and SCAN TYPE use.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Str => "string",
            ValueType::List => "list",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
        }
    }

    /// Parses a TYPE name (case-insensitive), as SCAN's TYPE option takes it.
    pub fn from_name(name: &[u8]) -> Option<ValueType> {
        [ValueType::Str, ValueType::List, ValueType::Hash, ValueType::Set, ValueType::ZSet]
            .into_iter()
            .find(|t| t.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

macro_rules! typed_access {
    ($get:ident, $get_mut:ident, $variant:ident, $ty:ty) => {
        /// The value as this type, or `WrongType`.
        pub fn $get(&self) -> Result<&$ty, StorageError> {
            match self {
                Value::$variant(v) => Ok(v),
                _ => Err(StorageError::WrongType),
            }
        }

        /// The value as this type, mutable (copied first if a cut shares it), or `WrongType`.
        pub fn $get_mut(&mut self) -> Result<&mut $ty, StorageError> {
            match self {
                Value::$variant(v) => Ok(Arc::make_mut(v)),
                _ => Err(StorageError::WrongType),
            }
        }
    };
}

impl Value {
    /// An integer's decimal string, in place (INCR's result: no allocation).
    pub fn int(n: i64) -> Value {
        Value::Small(SmallStr::new(itoa::Buffer::new().format(n).as_bytes()).expect("at most 20 bytes"))
    }

    /// An empty collection of type `kind`; None for a string, which has no empty form here.
    pub fn empty(kind: ValueType) -> Option<Value> {
        match kind {
            ValueType::Str => None,
            ValueType::List => Some(Value::new_list()),
            ValueType::Hash => Some(Value::new_hash()),
            ValueType::Set => Some(Value::new_set()),
            ValueType::ZSet => Some(Value::new_zset()),
        }
    }

    /// An empty list value.
    pub fn new_list() -> Value {
        Value::List(Arc::default())
    }
    /// An empty hash value.
    pub fn new_hash() -> Value {
        Value::Hash(Arc::default())
    }
    /// An empty set value.
    pub fn new_set() -> Value {
        Value::Set(Arc::default())
    }
    /// An empty sorted set value.
    pub fn new_zset() -> Value {
        Value::ZSet(Arc::default())
    }

    /// A string as the keyspace stores it: up to [`SMALL_STR`] bytes in place (see
    /// [`SmallStr`]); up to [`COMPACT_MAX`] bytes, if it shares its allocation, in one of its own,
    /// sized to fit (see `crate::alloc::counted`). A written string is a slice of its request's
    /// argument block, which holds its key too, and the key lives in its slot now (see
    /// `StoredKey`): a 100-byte value costs the 128-byte class alone where it kept a 160-byte
    /// block, and a 1,000-byte one 1,024 bytes where it kept 1,280. A longer string made for the
    /// write (an APPEND's) is the only reference to its buffer and stays where it is.
    /// Collections are built from copies of their elements already.
    pub(crate) fn compact(&mut self) {
        if let Value::Str(s) = self {
            if let Some(small) = SmallStr::new(s) {
                *self = Value::Small(small);
            } else if s.len() <= COMPACT_MAX && !s.is_unique() {
                *s = crate::alloc::counted(s);
            }
        }
    }

    /// Asks the CPU to start loading a string's first bytes into its cache, so that the miss
    /// overlaps the comparison of the key (a separate allocation, and a miss of its own) instead
    /// of following it when the value is copied into a reply.
    #[inline]
    pub(crate) fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        if let Value::Str(s) = self {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let ptr = s.as_ptr();
            for offset in (0..s.len().min(PREFETCH_MAX)).step_by(64) {
                // SAFETY: prefetching is a hint that never faults; the address is inside `s`.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.add(offset).cast()) };
            }
        }
    }

    /// This value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Str(_) | Value::Small(_) => ValueType::Str,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::ZSet(_) => ValueType::ZSet,
            Value::Counter(_) => ValueType::Str,
            Value::DotSet(_) => ValueType::Set,
            Value::DotHash(_) => ValueType::Hash,
            Value::DotZSet(_) => ValueType::ZSet,
        }
    }

    /// The value as a string (a counter's total too), or `WrongType`.
    pub fn as_str(&self) -> Result<&[u8], StorageError> {
        match self {
            Value::Str(s) => Ok(s),
            Value::Small(s) => Ok(s),
            Value::Counter(c) => Ok(c.shown()),
            _ => Err(StorageError::WrongType),
        }
    }

    /// The value as a string of its own to keep (a clone, or a copy of a [`SmallStr`]), or
    /// `WrongType`.
    pub fn to_str(&self) -> Result<Bytes, StorageError> {
        match self {
            Value::Str(s) => Ok(s.clone()),
            Value::Small(s) => Ok(Bytes::copy_from_slice(s)),
            Value::Counter(c) => Ok(c.shown().clone()),
            _ => Err(StorageError::WrongType),
        }
    }

    /// The string to edit in place (APPEND, SETRANGE, SETBIT), a [`SmallStr`] copied out first;
    /// None for other types.
    pub fn editable_str(&mut self) -> Option<&mut Bytes> {
        if let Value::Small(small) = self {
            *self = Value::Str(Bytes::copy_from_slice(small));
        }
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a set (a dotted set's members too), or `WrongType`.
    pub fn as_set(&self) -> Result<&SetValue, StorageError> {
        match self {
            Value::Set(s) => Ok(s),
            Value::DotSet(d) => Ok(d.members()),
            _ => Err(StorageError::WrongType),
        }
    }

    /// The value as a plain set, mutable (a dotted set becomes plain first), or `WrongType`.
    pub fn as_set_mut(&mut self) -> Result<&mut SetValue, StorageError> {
        self.make_plain();
        match self {
            Value::Set(s) => Ok(Arc::make_mut(s)),
            _ => Err(StorageError::WrongType),
        }
    }

    /// A counter or dotted set becomes the plain string or set clients see. A write that
    /// changes a value in place other than by the merging operations (APPEND on a counter, an
    /// in-place rewrite) makes it a whole write: the value is plain again, and starts a new base
    /// for replication (see `crate::crdt`).
    pub fn make_plain(&mut self) {
        match self {
            Value::Counter(c) => *self = Value::Str(c.shown().clone()),
            Value::DotSet(d) => *self = Value::Set(Arc::new(d.members().clone())),
            Value::DotHash(d) => *self = Value::Hash(Arc::new(d.fields().clone())),
            Value::DotZSet(d) => *self = Value::ZSet(Arc::new(d.view().clone())),
            _ => {}
        }
    }

    typed_access!(as_list, as_list_mut, List, ListValue);
    /// The value as a hash (a dotted hash's fields too), or `WrongType`.
    pub fn as_hash(&self) -> Result<&HashValue, StorageError> {
        match self {
            Value::Hash(h) => Ok(h),
            Value::DotHash(d) => Ok(d.fields()),
            _ => Err(StorageError::WrongType),
        }
    }

    /// The value as a plain hash, mutable (a dotted hash becomes plain first), or `WrongType`.
    pub fn as_hash_mut(&mut self) -> Result<&mut HashValue, StorageError> {
        self.make_plain();
        match self {
            Value::Hash(h) => Ok(Arc::make_mut(h)),
            _ => Err(StorageError::WrongType),
        }
    }

    /// The value as a sorted set (a dotted one's members by score too), or `WrongType`.
    pub fn as_zset(&self) -> Result<&ZSet, StorageError> {
        match self {
            Value::ZSet(z) => Ok(z),
            Value::DotZSet(d) => Ok(d.view()),
            _ => Err(StorageError::WrongType),
        }
    }

    /// The value as a plain sorted set, mutable (a dotted one becomes plain first), or
    /// `WrongType`.
    pub fn as_zset_mut(&mut self) -> Result<&mut ZSet, StorageError> {
        self.make_plain();
        match self {
            Value::ZSet(z) => Ok(Arc::make_mut(z)),
            _ => Err(StorageError::WrongType),
        }
    }

    /// A delta (see [`DottedSet`]) kept as a node's state: drops its mark, so that it merges
    /// into other copies as a whole copy does.
    pub(crate) fn settle_as_state(&mut self) {
        match self {
            Value::DotSet(set) if set.context().is_delta() => Arc::make_mut(set).settle_as_state(),
            Value::DotHash(hash) if hash.context().is_delta() => Arc::make_mut(hash).settle_as_state(),
            Value::DotZSet(zset) if zset.context().is_delta() => Arc::make_mut(zset).settle_as_state(),
            _ => {}
        }
    }

    /// True for a collection with no elements (Redis deletes such keys).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) | Value::Small(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Counter(_) => false,
            Value::DotSet(d) => d.members().is_empty(),
            Value::DotHash(d) => d.fields().is_empty(),
            Value::DotZSet(d) => d.view().is_empty(),
        }
    }

    /// The bytes this value's allocations take, as jemalloc counts them (for MEMORY USAGE, INFO
    /// and eviction; see `crate::evict::ram_cost`). Cheap for strings, linear for collections.
    ///
    /// A list's, set's or large hash's or sorted set's elements are slices of the argument blocks of
    /// the requests that wrote them (see `crate::alloc::counted_copy`), which they share with each
    /// other: each counts its length, and the blocks' headers, shared by all of a request's
    /// elements, are not counted; a small hash or sorted set counts its buffer, which holds its
    /// elements' bytes (see [`HashValue`], [`ZSet`]). A stored string has an allocation of its
    /// own, or none (see [`Value::compact`]).
    pub fn heap_size(&self) -> usize {
        fn elements<'a>(items: impl Iterator<Item = &'a Bytes>) -> usize {
            items.map(Bytes::len).sum()
        }
        match self {
            Value::Str(s) => counted_size(s.len()),
            Value::Small(_) => 0,
            Value::List(l) => {
                size_class(ARC_HEADER + size_of::<ListValue>())
                    + size_class(l.capacity() * size_of::<Bytes>())
                    + elements(l.iter())
            }
            Value::Hash(h) => hash_size(h),
            Value::Set(s) => set_size(s),
            Value::ZSet(z) => z.heap_size(),
            Value::Counter(c) => counted_size(c.shown().len()) + size_class(ARC_HEADER + c.overhead()),
            Value::DotSet(d) => set_size(d.members()) + d.overhead(),
            Value::DotHash(d) => hash_size(d.fields()) + d.overhead(),
            Value::DotZSet(d) => d.view().heap_size() + d.overhead(),
        }
    }
}

/// What an `Arc` puts in front of its value: the strong and weak counts.
pub(crate) const ARC_HEADER: usize = 16;

/// Bytes of a hashbrown table (hashbrown's own, or an `IndexMap`'s index) with room for
/// `capacity` elements of `element` bytes: the fewest buckets that hold them (a power of two, 7/8
/// of them usable, all but one below 8), each with its element and one control byte, and 16
/// control bytes more.
pub(crate) fn table_size(capacity: usize, element: usize) -> usize {
    let buckets = match capacity {
        0 => return 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => (capacity * 8).div_ceil(7).next_power_of_two(),
    };
    size_class(buckets * (element + 1) + 16)
}

/// An `IndexMap`'s (or `IndexSet`'s) entries and index, with room for `capacity` elements `T`.
pub(crate) fn index_map_tables<T>(capacity: usize) -> usize {
    size_class(capacity * (size_of::<T>() + 8)) + table_size(capacity, 8)
}

fn hash_size(h: &HashValue) -> usize {
    size_class(ARC_HEADER + size_of::<HashValue>()) + h.tables_size()
}

fn set_size(s: &SetValue) -> usize {
    size_class(ARC_HEADER + size_of::<SetValue>()) + s.tables_size() + s.iter().map(Bytes::len).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_string_is_in_place_when_short_and_alone_when_shared() {
        assert_eq!(size_of::<Value>(), 40);
        let block = crate::alloc::counted(&[b'x'; 200]);
        let mut short = Value::Str(block.slice(..SMALL_STR));
        short.compact();
        assert!(matches!(short, Value::Small(_)));
        assert_eq!(short.as_str().unwrap(), &[b'x'; SMALL_STR][..]);
        assert_eq!(short.heap_size(), 0);
        let mut long = Value::Str(block.slice(..SMALL_STR + 1));
        long.compact();
        let Value::Str(copied) = &long else { panic!("a long string stays a Str") };
        assert_ne!(copied.as_ptr(), block.as_ptr(), "a slice of a shared block is copied out");
        let mut mine = Value::Str(Bytes::from(vec![b'y'; 100]));
        let before = mine.as_str().unwrap().as_ptr();
        mine.compact();
        assert_eq!(mine.as_str().unwrap().as_ptr(), before, "a unique buffer stays");
        assert_eq!(Value::int(-42).as_str().unwrap(), b"-42");
        assert_eq!(Value::int(i64::MIN).to_str().unwrap(), i64::MIN.to_string().as_bytes());
        let mut edited = Value::int(7);
        assert_eq!(&edited.editable_str().unwrap()[..], b"7");
        assert!(matches!(edited, Value::Str(_)));
    }

    #[test]
    fn table_size_counts_the_buckets_a_capacity_needs() {
        // (capacity as hashbrown reports it, or an IndexMap's entries after shrinking; buckets)
        for (capacity, buckets) in [(3, 4), (7, 8), (10, 16), (14, 16), (15, 32), (28, 32), (29, 64)] {
            assert_eq!(table_size(capacity, 8), size_class(buckets * 9 + 16), "capacity {capacity}");
        }
        assert_eq!(table_size(0, 8), 0);
        let mut set = SetValue::default();
        set.extend((0..10).map(|m| Bytes::from(format!("member:{m}"))));
        let before = set.tables_size();
        set.shrink_to_fit();
        // A small set's room for sixteen members of 40 bytes (640) becomes room for ten (448).
        assert_eq!(before - set.tables_size(), 640 - 448);
        assert_eq!(
            Value::Set(Arc::new(set.clone())).heap_size(),
            size_class(ARC_HEADER + size_of::<SetValue>()) + 448 + 80
        );
    }
}

/// What the dotted types' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use bytes::Bytes;

    use crate::stamp::Stamp;

    /// A reproducible stream of numbers, each below the bound it is asked with (xorshift64), for
    /// tests that drive random operations.
    pub(crate) fn below(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        }
    }

    /// The stamp of node `node`'s write at clock reading `hlc`.
    pub(crate) fn dot(hlc: u64, node: u64) -> Stamp {
        Stamp { hlc, node }
    }

    /// Bytes from a string.
    pub(crate) fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }
}
