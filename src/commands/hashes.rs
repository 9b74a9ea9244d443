//! Hash commands (Redis's `t_hash.c`): HSET, HGET, HINCRBY, HRANDFIELD, HSCAN and the rest.
//!
//! A hash is an insertion-ordered map (`IndexMap`), which gives O(1) lookups and O(1) access by
//! position: HRANDFIELD picks by index, and HSCAN's cursor is simply a position in the map. The
//! SCAN-cursor helpers at the end are shared with SSCAN (`sets.rs`).

use bytes::Bytes;
use meshkv_storage::value::HashValue;
use meshkv_storage::{HashWriter, Key, Txn, Value};

use super::args::{int, int_bytes, is, parse_int};
use super::flags::*;
use super::long_double;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify;
use crate::protocol::Reply;

/// Builds a one-key hash command's table entry.
const fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys: Keys::FIRST, group: "hash", summary, since, handler }
}

pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("hset", -4, WRITE | DENYOOM | FAST, "Creates or modifies the value of a field in a hash.", "2.0.0", hset),
    spec(
        "hsetnx",
        4,
        WRITE | DENYOOM | FAST,
        "Sets the value of a field in a hash only when the field doesn't exist.",
        "2.0.0",
        hsetnx,
    ),
    spec("hmset", -4, WRITE | DENYOOM | FAST, "Sets the values of multiple fields.", "2.0.0", hmset),
    spec("hget", 3, READONLY | FAST, "Returns the value of a field in a hash.", "2.0.0", hget),
    spec("hmget", -3, READONLY | FAST, "Returns the values of all fields in a hash.", "2.0.0", hmget),
    spec("hdel", -3, WRITE | FAST, "Deletes one or more fields and their values from a hash.", "2.0.0", hdel),
    spec("hlen", 2, READONLY | FAST, "Returns the number of fields in a hash.", "2.0.0", hlen),
    spec("hstrlen", 3, READONLY | FAST, "Returns the length of the value of a field.", "3.2.0", hstrlen),
    spec("hexists", 3, READONLY | FAST, "Determines whether a field exists in a hash.", "2.0.0", hexists),
    spec("hkeys", 2, READONLY, "Returns all fields in a hash.", "2.0.0", hkeys),
    spec("hvals", 2, READONLY, "Returns all values in a hash.", "2.0.0", hvals),
    spec("hgetall", 2, READONLY, "Returns all fields and values in a hash.", "2.0.0", hgetall),
    spec(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        "Increments the integer value of a field in a hash by a number.",
        "2.0.0",
        hincrby,
    ),
    spec(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        "Increments the floating point value of a field by a number.",
        "2.6.0",
        hincrbyfloat,
    ),
    spec("hrandfield", -2, READONLY, "Returns one or more random fields from a hash.", "6.2.0", hrandfield),
    spec("hscan", -3, READONLY, "Iterates over fields and values of a hash.", "2.8.0", hscan),
];

/// The hash at `key` for reading: `None` if absent, `WrongType` if it holds another type.
fn read_hash<'t>(txn: &'t mut Txn<'_>, db: usize, key: &Key) -> Result<Option<&'t HashValue>, CmdError> {
    Ok(txn.value(db, key).map(Value::as_hash).transpose()?)
}

/// Like [`read_hash`] but without counting a keyspace hit or miss (writes that inspect first).
fn peek_hash<'t>(txn: &'t mut Txn<'_>, db: usize, key: &Key) -> Result<Option<&'t HashValue>, CmdError> {
    Ok(txn.peek(db, key).map(|e| e.value.as_hash()).transpose()?)
}

/// The hash at `key` for writing, created empty if absent (with replication on, a dotted hash:
/// see `Txn::write_hash`).
fn write_hash<'t>(txn: &'t mut Txn<'_>, db: usize, key: &Key) -> Result<HashWriter<'t>, CmdError> {
    Ok(txn.write_hash(db, key)?)
}

/// Stores the field/value pairs of `args[2..]`; returns how many fields are new.
fn set_fields(ctx: &mut Ctx, args: &[Bytes], name: &'static str) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.into()));
    }
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let mut hash = write_hash(ctx.txn, db, &key)?;
    hash.reserve(args.len() / 2 - 1);
    let added = args[2..].chunks_exact(2).filter(|fv| hash.insert(fv[0].clone(), fv[1].clone())).count();
    hash.fit();
    ctx.notify(notify::HASH, "hset", &args[1]);
    Ok(added as i64)
}

fn hset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let added = set_fields(ctx, args, "hset")?;
    ctx.out.int(added);
    Ok(())
}

/// HMSET: HSET's older form, replying OK instead of the count.
fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_fields(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    if peek_hash(ctx.txn, db, &key)?.is_some_and(|h| h.contains_key(&args[2])) {
        ctx.out.int(0);
        return Ok(());
    }
    write_hash(ctx.txn, db, &key)?.insert(args[2].clone(), args[3].clone());
    ctx.notify(notify::HASH, "hset", &args[1]);
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    match read_hash(ctx.txn, db, &key)?.and_then(|h| h.get(&args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let hash = read_hash(ctx.txn, db, &key)?;
    ctx.out.array(args.len() - 2);
    for field in &args[2..] {
        match hash.and_then(|h| h.get(field)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// HDEL. A removed field's place goes to the last field (`swap_remove`); the order of a hash is
/// unspecified anyway.
/// The key is only written (and WATCHers disturbed) when a field really goes.
fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let fields = &args[2..];
    let present = peek_hash(ctx.txn, db, &key)?.is_some_and(|h| fields.iter().any(|f| h.contains_key(f)));
    let mut removed = 0;
    if present {
        let mut hash = write_hash(ctx.txn, db, &key)?;
        removed = fields.iter().filter(|f| hash.remove(f)).count();
        ctx.notify(notify::HASH, "hdel", &args[1]);
        ctx.drop_if_empty(&key, &args[1]);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let len = read_hash(ctx.txn, db, &key)?.map_or(0, |h| h.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let len = read_hash(ctx.txn, db, &key)?.and_then(|h| h.get(&args[2])).map_or(0, |v| v.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let found = read_hash(ctx.txn, db, &key)?.is_some_and(|h| h.contains_key(&args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let hash = read_hash(ctx.txn, db, &key)?;
    ctx.out.array(hash.map_or(0, |h| h.len()));
    for field in hash.into_iter().flat_map(|h| h.keys()) {
        ctx.out.bulk(field);
    }
    Ok(())
}

fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let hash = read_hash(ctx.txn, db, &key)?;
    ctx.out.array(hash.map_or(0, |h| h.len()));
    for value in hash.into_iter().flat_map(|h| h.values()) {
        ctx.out.bulk(value);
    }
    Ok(())
}

/// HGETALL: a map in RESP3, a flat field/value array in RESP2.
fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let hash = read_hash(ctx.txn, db, &key)?;
    ctx.out.map(hash.map_or(0, |h| h.len()));
    for (field, value) in hash.into_iter().flatten() {
        ctx.out.bulk(field);
        ctx.out.bulk(value);
    }
    Ok(())
}

fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let incr = int(&args[3])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let current = match peek_hash(ctx.txn, db, &key)?.and_then(|h| h.get(&args[2])) {
        Some(v) => parse_int(v).ok_or(CmdError::fixed("ERR hash value is not an integer"))?,
        None => 0,
    };
    let value = current.checked_add(incr).ok_or(CmdError::Overflow)?;
    write_hash(ctx.txn, db, &key)?.insert(args[2].clone(), int_bytes(value));
    ctx.notify(notify::HASH, "hincrby", &args[1]);
    ctx.out.int(value);
    Ok(())
}

/// HINCRBYFLOAT. Redis computes in `long double`; we compute in `f64` and print the result as
/// [`human_float`] does, which gives Redis's text for the usual decimal inputs.
fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // As INCRBYFLOAT: Redis computes in x87 `long double`, which `long_double` reproduces.
    let incr = long_double::parse(&args[3]).ok_or(CmdError::NotFloat)?;
    if incr == long_double::Ld::Inf {
        return Err(CmdError::fixed("ERR value is NaN or Infinity"));
    }
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let current = match peek_hash(ctx.txn, db, &key)?.and_then(|h| h.get(&args[2])) {
        Some(v) => long_double::parse(v).ok_or(CmdError::fixed("ERR hash value is not a float"))?,
        None => long_double::ZERO,
    };
    let value =
        long_double::add(current, incr).ok_or(CmdError::fixed("ERR increment would produce NaN or Infinity"))?;
    let text = Bytes::from(long_double::format_human(value));
    ctx.out.bulk(&text);
    write_hash(ctx.txn, db, &key)?.insert(args[2].clone(), text);
    ctx.notify(notify::HASH, "hincrbyfloat", &args[1]);
    Ok(())
}

/// The parsed COUNT of HRANDFIELD/SRANDMEMBER: a number of distinct elements, or, when negative,
/// a number of draws that may repeat.
pub(super) fn random_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = int(arg)?;
    if n == i64::MIN {
        return Err(CmdError::fixed(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(n)
}

/// Indices of the elements a random-members command returns from a collection of `len`: `count`
/// draws with repetition when negative, else `min(count, len)` distinct ones. Calls `emit` for
/// each until it returns false: a negative count is the client's number, not the data's size
/// (`-100000000000000000` on a one-member set is legal), so the caller stops once its reply is
/// over the client's output limit; nothing here is sized by the count.
pub(super) fn random_indices(len: usize, count: i64, mut emit: impl FnMut(usize) -> bool) {
    if len == 0 {
        return;
    }
    let mut rng = rand::rng();
    if count < 0 {
        for _ in 0..count.unsigned_abs() {
            if !emit(rand::Rng::random_range(&mut rng, 0..len)) {
                return;
            }
        }
    } else if count as u64 >= len as u64 {
        for i in 0..len {
            if !emit(i) {
                return;
            }
        }
    } else {
        for i in rand::seq::index::sample(&mut rng, len, count as usize) {
            if !emit(i) {
                return;
            }
        }
    }
}

/// The number of elements [`random_indices`] yields.
pub(super) fn random_len(len: usize, count: i64) -> usize {
    if len == 0 {
        0
    } else if count < 0 {
        count.unsigned_abs() as usize
    } else {
        (count as u64).min(len as u64) as usize
    }
}

/// HRANDFIELD key [count [WITHVALUES]]. Without a count: one field or nil. With one: an array of
/// fields, or with WITHVALUES field/value pairs (nested two-element arrays in RESP3).
fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis parses the count before it looks at WITHVALUES.
    let count = args.get(2).map(|a| random_count(a)).transpose()?;
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "WITHVALUES")) {
        return Err(CmdError::Syntax);
    }
    let with_values = args.len() == 4;
    if with_values && count.is_some_and(|n| !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n)) {
        return Err(CmdError::fixed("ERR value is out of range"));
    }
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let hash = read_hash(ctx.txn, db, &key)?;
    let out = &mut *ctx.out;
    let Some(count) = count else {
        match hash.filter(|h| !h.is_empty()) {
            Some(h) => {
                let i = rand::random_range(0..h.len());
                out.bulk(h.get_index(i).map_or(&[][..], |(f, _)| f));
            }
            None => out.null(),
        }
        return Ok(());
    };
    let Some(hash) = hash else {
        out.array(0);
        return Ok(());
    };
    let n = random_len(hash.len(), count);
    out.array(if with_values && !out.resp3() { 2 * n } else { n });
    random_indices(hash.len(), count, |i| {
        let Some((field, value)) = hash.get_index(i) else { return false };
        if with_values {
            if out.resp3() {
                out.array(2);
            }
            out.bulk(field);
            out.bulk(value);
        } else {
            out.bulk(field);
        }
        !out.over_limit()
    });
    Ok(())
}

fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&args[2])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let Some(hash) = read_hash(ctx.txn, db, &key)? else {
        scan_reply_empty(ctx.out);
        return Ok(());
    };
    let opts = ScanOptions::parse(&args[3..])?;
    let (window, next) = opts.window(hash.len(), cursor);
    // One walk through the window (a small hash finds an index by reading from its start).
    let entries = hash.iter().skip(window.start).take(window.len());
    let found: Vec<_> = entries.filter(|(f, _)| opts.accepts(f)).collect();
    ctx.out.array(2);
    ctx.out.bulk_int(next as i64);
    ctx.out.array(2 * found.len());
    for (field, value) in found {
        ctx.out.bulk(field);
        ctx.out.bulk(value);
    }
    Ok(())
}

// ---- SCAN cursors of collections (HSCAN, SSCAN) ----

/// Collections up to this size are returned whole by one scan call, whatever the COUNT, as Redis
/// does for its small (listpack/intset) encodings.
const SMALL_COLLECTION: usize = 128;

/// Parses a SCAN cursor as Redis does (`strtoul`: a negative number wraps around).
pub(crate) fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::fixed("ERR invalid cursor");
    // `strtoul` reads the empty string as 0 without complaint.
    if arg.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let n: u64 = std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()).ok_or_else(invalid)?;
    Ok(if neg { n.wrapping_neg() } else { n })
}

/// The reply of a scan over a missing key: cursor 0, no elements.
pub(crate) fn scan_reply_empty(out: &mut Reply) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

/// The MATCH and COUNT options of a collection scan.
pub(crate) struct ScanOptions<'a> {
    pattern: Option<&'a [u8]>,
    count: usize,
}

impl<'a> ScanOptions<'a> {
    /// Parses `[MATCH pattern] [COUNT n]` in any order (the last of each wins).
    pub(crate) fn parse(args: &'a [Bytes]) -> Result<ScanOptions<'a>, CmdError> {
        let mut opts = ScanOptions { pattern: None, count: 10 };
        let mut rest = args;
        while let [opt, value, tail @ ..] = rest {
            if is(opt, "COUNT") {
                let n = int(value)?;
                opts.count = usize::try_from(n).ok().filter(|&n| n >= 1).ok_or(CmdError::Syntax)?;
            } else if is(opt, "MATCH") {
                // `*` matches everything: skip the matching altogether.
                opts.pattern = (value.as_ref() != b"*").then_some(value.as_ref());
            } else {
                return Err(CmdError::Syntax);
            }
            rest = tail;
        }
        if rest.is_empty() {
            Ok(opts)
        } else {
            Err(CmdError::Syntax)
        }
    }

    /// True if an element passes the MATCH pattern.
    pub(crate) fn accepts(&self, element: &[u8]) -> bool {
        self.pattern.is_none_or(|p| crate::glob::matches(p, element, false))
    }

    /// The positions to visit in a collection of `len` from `cursor`, and the next cursor (0 once
    /// the end is reached). The cursor is a position: elements added or removed during an
    /// iteration may shift others across it, so a full iteration may miss or repeat some.
    pub(super) fn window(&self, len: usize, cursor: u64) -> (std::ops::Range<usize>, u64) {
        if len <= SMALL_COLLECTION {
            return (0..len, 0);
        }
        let start = usize::try_from(cursor).unwrap_or(usize::MAX).min(len);
        let end = start.saturating_add(self.count).min(len);
        (start..end, if end == len { 0 } else { end as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(scan_cursor(b"0"), Ok(0));
        assert_eq!(scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert!(scan_cursor(b"18446744073709551616").is_err());
        assert!(scan_cursor(b"x").is_err());
        assert_eq!(scan_cursor(b""), Ok(0));
        assert!(scan_cursor(b"-").is_err());
    }
}
