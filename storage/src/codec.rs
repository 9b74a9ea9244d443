//! The on-disk form of an entry: the bytes a snapshot record and a FLASH-tier RocksDB value hold.
//!
//! Hand-framed, little-endian, append-only: new value types get new tags, never reuse old ones, and
//! a format change bumps `FORMAT`. Golden-bytes tests below pin the layout; change them only with
//! a new version that old files still decode under.
//!
//! ```text
//! u8   FORMAT (1)
//! u8   type tag: 0 string, 1 list, 2 hash, 3 set, 4 zset, 5 counter, 6 dotted set, 7 dotted hash
//! u8   flags: bit 0 = has expiry
//! u64  stamp hlc
//! u64  stamp node
//! u64  expire_at (Unix ms)          only with flag bit 0
//! payload:
//!   string  the bytes, to the end of the record
//!   list    u32 count, then count × (u32 len, bytes)
//!   hash    u32 count, then count × (u32 len, field, u32 len, value)
//!   set     u32 count, then count × (u32 len, member)
//!   zset    u32 count, then count × (u32 len, member, f64 score)
//!   counter i64 base, u64 reset hlc, u64 reset node,
//!           u32 count, then count × (u64 node, i64 sum, u64 hlc of its latest increment)
//!   dotted  u64 base hlc, u64 base node, u32 count, then count × (u64 node, u64 hlc) (context's
//!           readings; when the count's top bit is set, the rest of it counts them, and there
//!           follow u32 count, count × (u64 node, u64 hlc, u64 after): the context's cloud, and
//!           u32 count, count × (u32 len, element, u64 node, u64 hlc): its removed elements; the
//!           next bit marks a delta's context, and also sets the top bit),
//!           u32 count, then count × (u32 len, member, u32 dots, dots × (u64 hlc, u64 node))
//!   dotted hash  as a dotted set, each dot followed by (u32 len, value): the value it wrote
//!   dotted zset  as a dotted hash of member to score, each score its 8 bytes (f64, never NaN)
//! ```
//!
//! Counters and dotted sets exist only with replication on (see `crate::crdt`).
//!
//! Decoding trusts nothing: every count and length is checked against the bytes that remain before
//! anything is allocated, so a corrupt or hostile record fails with [`CodecError`] instead of
//! allocating wildly or panicking.

use bytes::{BufMut, Bytes};
use thiserror::Error;

use crate::entry::Entry;
use crate::stamp::Stamp;
use crate::value::{
    Add, Context, Counter, Dots, DottedHash, DottedSet, DottedZSet, HashValue, ListValue, SetValue, Value, Writes, ZSet,
};

/// The format version this code writes (and the only one it reads so far).
pub const FORMAT: u8 = 1;

const TAG_STR: u8 = 0;
const TAG_LIST: u8 = 1;
const TAG_HASH: u8 = 2;
const TAG_SET: u8 = 3;
const TAG_ZSET: u8 = 4;
const TAG_COUNTER: u8 = 5;
const TAG_DOTTED: u8 = 6;
const TAG_DOTTED_HASH: u8 = 7;
const TAG_DOTTED_ZSET: u8 = 8;
const FLAG_EXPIRY: u8 = 1;
const HEADER: usize = 3 + 16;

/// Why bytes do not decode as an entry.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    /// The record ends before its fields do.
    #[error("record truncated")]
    Truncated,
    /// A format version this build does not know.
    #[error("unknown record format {0}")]
    Format(u8),
    /// A type tag this build does not know.
    #[error("unknown value type tag {0}")]
    Tag(u8),
    /// Bytes left over after a collection's last element.
    #[error("trailing bytes after the value")]
    Trailing,
    /// A sorted set member whose score is not a number: no command can store one, and one would
    /// break the set's order (NaN equals nothing, itself included). Found by the `entry_codec`
    /// fuzz target: such a record decoded into a set whose member list and score map disagreed.
    /// (Also a dotted sorted set's score that is not eight bytes.)
    #[error("a sorted set score is NaN")]
    NanScore,
}

/// About how many bytes `entry` encodes to: exact for a string, a start for a collection (whose
/// buffer then grows as it goes). For sizing buffers once.
pub fn encoded_len_hint(entry: &Entry) -> usize {
    let payload = match &entry.value {
        Value::Str(s) => s.len(),
        Value::Small(s) => s.len(),
        _ => 64,
    };
    HEADER + 8 + payload
}

/// The encoding of `entry` in a buffer of its own, allocated once at (about) the right size.
pub fn encode_entry_bytes(entry: &Entry) -> Bytes {
    let mut out = Vec::with_capacity(encoded_len_hint(entry));
    encode_entry(entry, &mut out);
    out.into()
}

/// Appends the encoding of `entry` to `out`.
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    let tag = match &entry.value {
        Value::Str(_) | Value::Small(_) => TAG_STR,
        Value::List(_) => TAG_LIST,
        Value::Hash(_) => TAG_HASH,
        Value::Set(_) => TAG_SET,
        Value::ZSet(_) => TAG_ZSET,
        Value::Counter(_) => TAG_COUNTER,
        Value::DotSet(_) => TAG_DOTTED,
        Value::DotHash(_) => TAG_DOTTED_HASH,
        Value::DotZSet(_) => TAG_DOTTED_ZSET,
    };
    let expire_at = entry.expire_at();
    out.put_u8(FORMAT);
    out.put_u8(tag);
    out.put_u8(if expire_at.is_some() { FLAG_EXPIRY } else { 0 });
    out.put_u64_le(entry.stamp.hlc);
    out.put_u64_le(entry.stamp.node);
    if let Some(at) = expire_at {
        out.put_u64_le(at);
    }
    match &entry.value {
        Value::Str(s) => out.put_slice(s),
        Value::Small(s) => out.put_slice(s),
        Value::List(list) => {
            put_len(out, list.len());
            list.iter().for_each(|item| put_bytes(out, item));
        }
        Value::Hash(hash) => {
            put_len(out, hash.len());
            for (field, value) in hash.iter() {
                put_bytes(out, field);
                put_bytes(out, value);
            }
        }
        Value::Set(set) => {
            put_len(out, set.len());
            set.iter().for_each(|member| put_bytes(out, member));
        }
        Value::ZSet(zset) => {
            put_len(out, zset.len());
            for (member, score) in zset.iter() {
                put_bytes(out, member);
                out.put_f64_le(score);
            }
        }
        Value::Counter(counter) => {
            out.put_i64_le(counter.base());
            put_stamp(out, counter.reset());
            put_len(out, counter.adds().len());
            for add in counter.adds() {
                out.put_u64_le(add.stamp.node);
                out.put_i64_le(add.sum);
                out.put_u64_le(add.stamp.hlc);
            }
        }
        Value::DotSet(set) => {
            put_stamp(out, set.base());
            put_context(out, set.context());
            put_len(out, set.members().len());
            for (member, dots) in set.iter_dotted() {
                put_bytes(out, member);
                put_len(out, dots.len());
                dots.iter().for_each(|dot| put_stamp(out, *dot));
            }
        }
        Value::DotHash(hash) => put_dotted_hash(out, hash),
        Value::DotZSet(zset) => put_dotted_hash(out, zset.hash()),
    }
}

/// A dotted hash (and a dotted sorted set's hash of member to score).
fn put_dotted_hash(out: &mut Vec<u8>, hash: &DottedHash) {
    put_stamp(out, hash.base());
    put_context(out, hash.context());
    put_len(out, hash.fields().len());
    for (field, writes) in hash.iter_dotted() {
        put_bytes(out, field);
        put_len(out, writes.len());
        for (dot, value) in &writes {
            put_stamp(out, *dot);
            put_bytes(out, value);
        }
    }
}

/// A dotted collection's context: a count, then (node, clock reading) per node; a cloud only
/// when there is one (flagged in the count's top bit, which records written before clouds never
/// set: they read as they always did).
fn put_context(out: &mut Vec<u8>, context: &Context) {
    let (readings, cloud, removed) = (context.readings(), context.cloud(), context.removed());
    let flag = if cloud.is_empty() && removed.is_empty() && !context.is_delta() { 0 } else { CLOUD_FLAG };
    let flag = flag | if context.is_delta() { DELTA_FLAG } else { 0 };
    out.put_u32_le(u32::try_from(readings.len()).expect("one reading per node") | flag);
    for seen in readings {
        out.put_u64_le(seen.node);
        out.put_u64_le(seen.hlc);
    }
    if flag & CLOUD_FLAG != 0 {
        put_len(out, cloud.len());
        for seen in cloud {
            out.put_u64_le(seen.dot.node);
            out.put_u64_le(seen.dot.hlc);
            out.put_u64_le(seen.after);
        }
        put_len(out, removed.len());
        for gone in removed {
            put_bytes(out, &gone.element);
            out.put_u64_le(gone.dot.node);
            out.put_u64_le(gone.dot.hlc);
        }
    }
}

/// The top bit of a context's count: a cloud follows the readings.
const CLOUD_FLAG: u32 = 1 << 31;
/// The next bit: the context is a delta's (see `Context`).
const DELTA_FLAG: u32 = 1 << 30;

fn put_stamp(out: &mut Vec<u8>, stamp: Stamp) {
    out.put_u64_le(stamp.hlc);
    out.put_u64_le(stamp.node);
}

/// The stamp and expiry of an encoded entry, without decoding its value (cheap: a fixed header).
pub fn peek_header(record: &[u8]) -> Result<(Stamp, Option<u64>), CodecError> {
    let mut r = Reader { buf: record, at: 0 };
    let (_, stamp, expire_at) = r.header()?;
    Ok((stamp, expire_at))
}

/// Decodes an entry. `record` is a `Bytes` so that collection elements are slices of it, not copies.
/// `now_ms` becomes the entry's last-access time.
pub fn decode_entry(record: &Bytes, now_ms: u64) -> Result<Entry, CodecError> {
    let mut r = Reader { buf: record, at: 0 };
    let (tag, stamp, expire_at) = r.header()?;
    let value = match tag {
        // A string gets an allocation of its own, exactly its size: a slice of the record would
        // keep the header with it, and push a 1 KiB value into jemalloc's 1280-byte class (a fifth
        // more memory per key on the FLASH tier, where RAM holds only the hot keys).
        TAG_STR => Value::Str(Bytes::copy_from_slice(&record[r.at..])),
        TAG_LIST => {
            let n = r.count(4)?;
            let mut list = ListValue::with_capacity(n);
            for _ in 0..n {
                list.push_back(r.bytes(record)?);
            }
            Value::List(list.into())
        }
        TAG_HASH => {
            let n = r.count(8)?;
            let mut hash = HashValue::with_capacity(n);
            for _ in 0..n {
                let field = r.bytes(record)?;
                hash.insert(field, r.bytes(record)?);
            }
            Value::Hash(hash.into())
        }
        TAG_SET => {
            let n = r.count(4)?;
            let mut set = SetValue::with_capacity(n);
            for _ in 0..n {
                set.insert(r.bytes(record)?);
            }
            Value::Set(set.into())
        }
        TAG_ZSET => {
            let n = r.count(12)?;
            let mut zset = ZSet::default();
            for _ in 0..n {
                let member = r.bytes(record)?;
                let score = r.f64()?;
                if score.is_nan() {
                    return Err(CodecError::NanScore);
                }
                zset.insert(member, score);
            }
            Value::ZSet(zset.into())
        }
        TAG_COUNTER => {
            let base = r.u64()? as i64;
            let reset = r.stamp()?;
            let n = r.count(24)?;
            let mut adds = Vec::with_capacity(n);
            for _ in 0..n {
                let node = r.u64()?;
                let sum = r.u64()? as i64;
                adds.push(Add { sum, stamp: Stamp { hlc: r.u64()?, node } });
            }
            Value::Counter(Counter::from_parts(base, reset, adds).into())
        }
        TAG_DOTTED => {
            let base = r.stamp()?;
            let context = r.context(record)?;
            let n = r.count(8)?;
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                let member = r.bytes(record)?;
                let dots = r.count(16)?;
                let dots: Dots = (0..dots).map(|_| r.stamp()).collect::<Result<_, _>>()?;
                members.push((member, dots));
            }
            Value::DotSet(DottedSet::from_parts(base, context, members).into())
        }
        TAG_DOTTED_HASH => Value::DotHash(r.dotted_hash(record)?.into()),
        TAG_DOTTED_ZSET => {
            let zset = DottedZSet::from_hash(r.dotted_hash(record)?).ok_or(CodecError::NanScore)?;
            Value::DotZSet(zset.into())
        }
        other => return Err(CodecError::Tag(other)),
    };
    if tag != TAG_STR && r.at != record.len() {
        return Err(CodecError::Trailing);
    }
    Ok(Entry::new(value, stamp, expire_at, now_ms))
}

/// Decodes an entry from borrowed bytes (a record pinned in RocksDB's buffers): a string's value
/// is copied out once, into an allocation of exactly its size; a collection's record is copied
/// whole first, and its elements become slices of that copy, as with [`decode_entry`].
pub fn decode_entry_from(record: &[u8], now_ms: u64) -> Result<Entry, CodecError> {
    let mut r = Reader { buf: record, at: 0 };
    let (tag, stamp, expire_at) = r.header()?;
    if tag == TAG_STR {
        return Ok(Entry::new(Value::Str(Bytes::copy_from_slice(&record[r.at..])), stamp, expire_at, now_ms));
    }
    decode_entry(&Bytes::copy_from_slice(record), now_ms)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.put_u32_le(u32::try_from(n).expect("collections and values stay under 4 GiB"));
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.put_slice(bytes);
}

/// A bounds-checked cursor over a record.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.buf.len()).ok_or(CodecError::Truncated)?;
        let slice = &self.buf[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn f64(&mut self) -> Result<f64, CodecError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A dotted hash (see `put_dotted_hash`).
    fn dotted_hash(&mut self, record: &Bytes) -> Result<DottedHash, CodecError> {
        let base = self.stamp()?;
        let context = self.context(record)?;
        let n = self.count(8)?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            let field = self.bytes(record)?;
            let count = self.count(20)?;
            let mut writes = Writes::new();
            for _ in 0..count {
                let dot = self.stamp()?;
                writes.push((dot, self.bytes(record)?));
            }
            fields.push((field, writes));
        }
        Ok(DottedHash::from_parts(base, context, fields))
    }

    /// A dotted collection's context (see `put_context`).
    fn context(&mut self, record: &Bytes) -> Result<Context, CodecError> {
        let raw = self.u32()?;
        let n = self.fits(raw & !(CLOUD_FLAG | DELTA_FLAG), 16)?;
        let mut readings = Vec::with_capacity(n);
        for _ in 0..n {
            let node = self.u64()?;
            readings.push(Stamp { hlc: self.u64()?, node });
        }
        let (mut cloud, mut removed) = (Vec::new(), Vec::new());
        if raw & CLOUD_FLAG != 0 {
            let n = self.count(24)?;
            cloud.reserve(n);
            for _ in 0..n {
                let node = self.u64()?;
                let hlc = self.u64()?;
                cloud.push(crate::value::Seen { dot: Stamp { hlc, node }, after: self.u64()? });
            }
            let n = self.count(20)?;
            removed.reserve(n);
            for _ in 0..n {
                let element = self.bytes(record)?;
                let node = self.u64()?;
                removed.push(crate::value::Removed { dot: Stamp { hlc: self.u64()?, node }, element });
            }
        }
        Ok(Context::from_parts(readings, cloud, removed, raw & DELTA_FLAG != 0))
    }

    fn stamp(&mut self) -> Result<Stamp, CodecError> {
        Ok(Stamp { hlc: self.u64()?, node: self.u64()? })
    }

    fn header(&mut self) -> Result<(u8, Stamp, Option<u64>), CodecError> {
        if self.buf.len() < HEADER {
            return Err(CodecError::Truncated);
        }
        let format = self.u8()?;
        if format != FORMAT {
            return Err(CodecError::Format(format));
        }
        let tag = self.u8()?;
        let flags = self.u8()?;
        let stamp = Stamp { hlc: self.u64()?, node: self.u64()? };
        let expire_at = if flags & FLAG_EXPIRY != 0 { Some(self.u64()?) } else { None };
        Ok((tag, stamp, expire_at))
    }

    /// An element count, refused when even the smallest elements (`min_size` bytes each) could
    /// not fit in what remains: no allocation sized by a corrupt count.
    fn count(&mut self, min_size: usize) -> Result<usize, CodecError> {
        let n = self.u32()?;
        self.fits(n, min_size)
    }

    /// `n` items of at least `min_size` bytes each, if the record has room for them.
    fn fits(&self, n: u32, min_size: usize) -> Result<usize, CodecError> {
        let n = n as usize;
        if n.saturating_mul(min_size) > self.buf.len() - self.at {
            return Err(CodecError::Truncated);
        }
        Ok(n)
    }

    fn bytes(&mut self, record: &Bytes) -> Result<Bytes, CodecError> {
        let n = self.u32()? as usize;
        let start = self.at;
        self.take(n)?;
        Ok(record.slice(start..start + n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: Value, expire_at: Option<u64>) -> Entry {
        Entry::new(value, Stamp { hlc: 0x0102, node: 7 }, expire_at, 0)
    }

    /// The entry decoded both ways: from an owned record, and from borrowed bytes.
    fn round_trips(e: &Entry) -> [Entry; 2] {
        let mut out = Vec::new();
        encode_entry(e, &mut out);
        [
            decode_entry_from(&out, 0).expect("decodes from a slice"),
            decode_entry(&Bytes::from(out), 0).expect("decodes"),
        ]
    }

    #[test]
    fn golden_bytes_of_a_string_with_expiry() {
        let mut out = Vec::new();
        encode_entry(&entry(Value::Str(Bytes::from_static(b"hi")), Some(0x0a0b)), &mut out);
        #[rustfmt::skip]
        let golden = [
            1, 0, 1,
            0x02, 0x01, 0, 0, 0, 0, 0, 0,
            7, 0, 0, 0, 0, 0, 0, 0,
            0x0b, 0x0a, 0, 0, 0, 0, 0, 0,
            b'h', b'i',
        ];
        assert_eq!(out, golden);
    }

    #[test]
    fn golden_bytes_of_a_zset() {
        let mut zset = ZSet::default();
        zset.insert(Bytes::from_static(b"m"), 1.5);
        let mut out = Vec::new();
        encode_entry(&entry(Value::ZSet(zset.into()), None), &mut out);
        let mut golden = vec![1, 4, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        golden.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'm']);
        golden.extend_from_slice(&1.5f64.to_le_bytes());
        assert_eq!(out, golden);
    }

    /// A record from a peer or a damaged file may say anything; a NaN score would break the
    /// sorted set's order, so it is refused (the `entry_codec` fuzz target found it).
    #[test]
    fn a_nan_score_is_refused() {
        let mut record = vec![1, 4, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        record.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'm']);
        record.extend_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(decode_entry(&Bytes::from(record), 0).err(), Some(CodecError::NanScore));
    }

    #[test]
    fn every_type_round_trips_with_stamp_and_expiry() {
        let mut list = ListValue::new();
        list.extend([Bytes::from_static(b"a"), Bytes::new()]);
        let mut hash = HashValue::default();
        hash.insert(Bytes::from_static(b"f"), Bytes::from_static(b"v"));
        let mut set = SetValue::default();
        set.insert(Bytes::from_static(b"s"));
        let mut zset = ZSet::default();
        zset.insert(Bytes::from_static(b"z"), -2.25);
        let values = [
            Value::Str(Bytes::from_static(b"")),
            Value::List(list.into()),
            Value::Hash(hash.into()),
            Value::Set(set.into()),
            Value::ZSet(zset.into()),
            Value::Str(Bytes::from_static(b"a value")),
            Value::Counter(
                Counter::from_parts(-4, Stamp { hlc: 3, node: 1 }, [Add { sum: 9, stamp: Stamp { hlc: 5, node: 2 } }])
                    .into(),
            ),
            Value::DotSet(
                DottedSet::from_parts(
                    Stamp { hlc: 1, node: 1 },
                    Context::from_parts(
                        [Stamp { hlc: 9, node: 3 }],
                        [crate::value::Seen { dot: Stamp { hlc: 12, node: 4 }, after: 10 }],
                        [crate::value::Removed { dot: Stamp { hlc: 11, node: 5 }, element: Bytes::from_static(b"x") }],
                        true,
                    ),
                    [(
                        Bytes::from_static(b"d"),
                        [Stamp { hlc: 4, node: 3 }, Stamp { hlc: 6, node: 2 }].into_iter().collect(),
                    )],
                )
                .into(),
            ),
            Value::DotHash(
                DottedHash::from_parts(
                    Stamp { hlc: 1, node: 1 },
                    Context::from_parts(
                        [Stamp { hlc: 9, node: 3 }],
                        [crate::value::Seen { dot: Stamp { hlc: 12, node: 4 }, after: 10 }],
                        [crate::value::Removed { dot: Stamp { hlc: 11, node: 5 }, element: Bytes::from_static(b"x") }],
                        true,
                    ),
                    [(
                        Bytes::from_static(b"f"),
                        [
                            (Stamp { hlc: 6, node: 2 }, Bytes::from_static(b"v2")),
                            (Stamp { hlc: 4, node: 3 }, Bytes::new()),
                        ]
                        .into_iter()
                        .collect(),
                    )],
                )
                .into(),
            ),
            Value::DotZSet(
                {
                    let mut zset = crate::value::DottedZSet::empty(Stamp { hlc: 2, node: 1 });
                    let mut delta = zset.delta();
                    zset.insert(Bytes::from_static(b"m"), -2.5, Stamp { hlc: 7, node: 2 }, None);
                    zset.insert(Bytes::from_static(b"n"), 3.0, Stamp { hlc: 8, node: 2 }, Some(&mut delta));
                    zset
                }
                .into(),
            ),
        ];
        for (i, value) in values.into_iter().enumerate() {
            let expiry = (i % 2 == 0).then_some(1_700_000_000_000 + i as u64);
            let e = entry(value, expiry);
            for back in round_trips(&e) {
                assert_eq!(back.stamp, e.stamp);
                assert_eq!(back.expire_at(), e.expire_at());
                assert_eq!(format!("{:?}", back.value), format!("{:?}", e.value));
            }
        }
    }

    /// The layout of the two replicated types, pinned like the others.
    #[test]
    fn golden_bytes_of_a_counter_and_a_dotted_set() {
        let header = |tag| vec![1, tag, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        let counter =
            Counter::from_parts(3, Stamp { hlc: 1, node: 2 }, [Add { sum: -1, stamp: Stamp { hlc: 5, node: 4 } }]);
        let mut out = Vec::new();
        encode_entry(&entry(Value::Counter(counter.into()), None), &mut out);
        let mut golden = header(5);
        golden.extend_from_slice(&3i64.to_le_bytes());
        golden.extend_from_slice(&1u64.to_le_bytes());
        golden.extend_from_slice(&2u64.to_le_bytes());
        golden.extend_from_slice(&[1, 0, 0, 0]);
        golden.extend_from_slice(&4u64.to_le_bytes());
        golden.extend_from_slice(&(-1i64).to_le_bytes());
        golden.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(out, golden);

        let dot = Stamp { hlc: 8, node: 6 };
        let set = DottedSet::from_parts(
            Stamp::default(),
            Context::default(),
            [(Bytes::from_static(b"m"), [dot].into_iter().collect())],
        );
        let mut out = Vec::new();
        encode_entry(&entry(Value::DotSet(set.into()), None), &mut out);
        let mut golden = header(6);
        golden.extend_from_slice(&[0; 16]);
        golden.extend_from_slice(&[1, 0, 0, 0]);
        golden.extend_from_slice(&6u64.to_le_bytes());
        golden.extend_from_slice(&8u64.to_le_bytes());
        golden.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'm', 1, 0, 0, 0]);
        golden.extend_from_slice(&8u64.to_le_bytes());
        golden.extend_from_slice(&6u64.to_le_bytes());
        assert_eq!(out, golden);
    }

    #[test]
    fn golden_bytes_of_a_dotted_hash() {
        let dot = Stamp { hlc: 8, node: 6 };
        let hash = DottedHash::from_parts(
            Stamp::default(),
            Context::default(),
            [(Bytes::from_static(b"f"), [(dot, Bytes::from_static(b"v"))].into_iter().collect())],
        );
        let mut out = Vec::new();
        encode_entry(&entry(Value::DotHash(hash.into()), None), &mut out);
        let mut golden = vec![1, 7, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        golden.extend_from_slice(&[0; 16]);
        golden.extend_from_slice(&[1, 0, 0, 0]);
        golden.extend_from_slice(&6u64.to_le_bytes());
        golden.extend_from_slice(&8u64.to_le_bytes());
        golden.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'f', 1, 0, 0, 0]);
        golden.extend_from_slice(&8u64.to_le_bytes());
        golden.extend_from_slice(&6u64.to_le_bytes());
        golden.extend_from_slice(&[1, 0, 0, 0, b'v']);
        assert_eq!(out, golden);
    }

    /// A delta's context: no readings, a cloud of one write (chained on from clock reading 3 of
    /// its node) and one removed element's write; flagged in the readings count's top two bits.
    #[test]
    fn golden_bytes_of_a_context_with_a_cloud() {
        use crate::value::{Removed, Seen};
        let (written, removed) = (Stamp { hlc: 8, node: 6 }, Stamp { hlc: 2, node: 9 });
        let gone = Removed { dot: removed, element: Bytes::from_static(b"x") };
        let context = Context::from_parts([], [Seen { dot: written, after: 3 }], [gone.clone()], true);
        let set = DottedSet::from_parts(
            Stamp::default(),
            context,
            [(Bytes::from_static(b"m"), [written].into_iter().collect())],
        );
        let mut out = Vec::new();
        encode_entry(&entry(Value::DotSet(set.into()), None), &mut out);
        let mut golden = vec![1, 6, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        golden.extend_from_slice(&[0; 16]);
        golden.extend_from_slice(&[0, 0, 0, 0xc0, 1, 0, 0, 0]);
        for n in [6u64, 8, 3] {
            golden.extend_from_slice(&n.to_le_bytes());
        }
        golden.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'x']);
        golden.extend_from_slice(&9u64.to_le_bytes());
        golden.extend_from_slice(&2u64.to_le_bytes());
        golden.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'm', 1, 0, 0, 0]);
        golden.extend_from_slice(&8u64.to_le_bytes());
        golden.extend_from_slice(&6u64.to_le_bytes());
        assert_eq!(out, golden);
        let Value::DotSet(back) = decode_entry(&Bytes::from(out), 0).unwrap().value else { panic!("a dotted set") };
        assert_eq!(back.context().cloud(), [Seen { dot: written, after: 3 }]);
        assert_eq!(back.context().removed(), [gone]);
        assert!(back.context().readings().is_empty());
        assert!(back.context().is_delta());
    }

    #[test]
    fn corrupt_records_are_refused_without_panicking() {
        let mut out = Vec::new();
        let mut list = ListValue::new();
        list.push_back(Bytes::from_static(b"abc"));
        encode_entry(&entry(Value::List(list.into()), Some(5)), &mut out);
        for cut in 0..out.len() {
            assert!(decode_entry(&Bytes::copy_from_slice(&out[..cut]), 0).is_err(), "prefix {cut} decoded");
            assert!(decode_entry_from(&out[..cut], 0).is_err(), "prefix {cut} decoded from a slice");
        }
        let mut huge = out.clone();
        huge[27..31].copy_from_slice(&u32::MAX.to_le_bytes()); // the list count
        assert_eq!(decode_entry(&Bytes::from(huge), 0).unwrap_err(), CodecError::Truncated);
        let mut bad = out.clone();
        bad[0] = 9;
        assert_eq!(decode_entry(&Bytes::from(bad), 0).unwrap_err(), CodecError::Format(9));
        let mut tag = out;
        tag[1] = 200;
        assert_eq!(decode_entry(&Bytes::from(tag), 0).unwrap_err(), CodecError::Tag(200));
    }
}
