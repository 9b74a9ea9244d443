//! Sorted set commands (Redis's `t_zset.c`).
//!
//! The family is split by what the commands do:
//! - [`write`]: ZADD, ZINCRBY, ZREM and the ZREMRANGEBY* commands;
//! - [`read`]: point lookups, counts, ZRANDMEMBER and ZSCAN;
//! - [`range`]: ZRANGE in all its spellings, and ZRANGESTORE;
//! - [`pop`]: ZPOPMIN/MAX, ZMPOP and their blocking forms;
//! - [`algebra`]: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.
//!
//! This module holds the command table and what the parts share: range parsing and reply shapes.

mod algebra;
mod pop;
mod range;
mod read;
mod write;

use bytes::Bytes;
use std::sync::Arc;

use meshkv_storage::value::{LexBound, LexRange, ScoreBound, ScoreRange, ZSet};
use meshkv_storage::{Expiry, Key, Txn, Value};
use smallvec::SmallVec;

use super::args::parse_int;
use super::flags::*;
use super::{CommandSpec, Keys};
use crate::error::CmdError;
use crate::protocol::Reply;

/// Builds a table entry; every sorted set command shares the group.
const fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    summary: &'static str,
    since: &'static str,
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, group: "sorted-set", summary, since, handler }
}

pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("zadd", -4, WRITE | DENYOOM | FAST, Keys::FIRST, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0", write::zadd),
    spec("zincrby", 4, WRITE | DENYOOM | FAST, Keys::FIRST, "Increments the score of a member in a sorted set.", "1.2.0", write::zincrby),
    spec("zrem", -3, WRITE | FAST, Keys::FIRST, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0", write::zrem),
    spec("zremrangebyrank", 4, WRITE, Keys::FIRST, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0", write::zremrangebyrank),
    spec("zremrangebyscore", 4, WRITE, Keys::FIRST, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0", write::zremrangebyscore),
    spec("zremrangebylex", 4, WRITE, Keys::FIRST, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9", write::zremrangebylex),
    spec("zcard", 2, READONLY | FAST, Keys::FIRST, "Returns the number of members in a sorted set.", "1.2.0", read::zcard),
    spec("zscore", 3, READONLY | FAST, Keys::FIRST, "Returns the score of a member in a sorted set.", "1.2.0", read::zscore),
    spec("zmscore", -3, READONLY | FAST, Keys::FIRST, "Returns the score of one or more members in a sorted set.", "6.2.0", read::zmscore),
    spec("zrank", 3, READONLY | FAST, Keys::FIRST, "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", read::zrank),
    spec("zrevrank", 3, READONLY | FAST, Keys::FIRST, "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", read::zrevrank),
    spec("zcount", 4, READONLY | FAST, Keys::FIRST, "Returns the count of members in a sorted set that have scores within a range.", "2.0.0", read::zcount),
    spec("zlexcount", 4, READONLY | FAST, Keys::FIRST, "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9", read::zlexcount),
    spec("zrandmember", -2, READONLY, Keys::FIRST, "Returns one or more random members from a sorted set.", "6.2.0", read::zrandmember),
    spec("zscan", -3, READONLY, Keys::FIRST, "Iterates over members and scores of a sorted set.", "2.8.0", read::zscan),
    spec("zrange", -4, READONLY, Keys::FIRST, "Returns members in a sorted set within a range of indexes.", "1.2.0", range::zrange),
    spec("zrangestore", -5, WRITE | DENYOOM, Keys::Range { first: 1, last: 2, step: 1 }, "Stores a range of members from sorted set in a key.", "6.2.0", range::zrangestore),
    spec("zrevrange", -4, READONLY, Keys::FIRST, "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0", range::zrevrange),
    spec("zrangebyscore", -4, READONLY, Keys::FIRST, "Returns members in a sorted set within a range of scores.", "1.0.5", range::zrangebyscore),
    spec("zrevrangebyscore", -4, READONLY, Keys::FIRST, "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0", range::zrevrangebyscore),
    spec("zrangebylex", -4, READONLY, Keys::FIRST, "Returns members in a sorted set within a lexicographical range.", "2.8.9", range::zrangebylex),
    spec("zrevrangebylex", -4, READONLY, Keys::FIRST, "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9", range::zrevrangebylex),
    spec("zpopmin", -2, WRITE | FAST, Keys::FIRST, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", pop::zpopmin),
    spec("zpopmax", -2, WRITE | FAST, Keys::FIRST, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", pop::zpopmax),
    spec("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, Keys::Range { first: 1, last: -2, step: 1 }, "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", pop::bzpopmin),
    spec("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, Keys::Range { first: 1, last: -2, step: 1 }, "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", "5.0.0", pop::bzpopmax),
    spec("zmpop", -4, WRITE, Keys::Custom(numkeys_at::<1>), "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "7.0.0", pop::zmpop),
    spec("bzmpop", -5, WRITE | BLOCKING, Keys::Custom(numkeys_at::<2>), "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "7.0.0", pop::bzmpop),
    spec("zunion", -3, READONLY, Keys::Custom(numkeys_at::<1>), "Returns the union of multiple sorted sets.", "6.2.0", algebra::zunion),
    spec("zinter", -3, READONLY, Keys::Custom(numkeys_at::<1>), "Returns the intersect of multiple sorted sets.", "6.2.0", algebra::zinter),
    spec("zdiff", -3, READONLY, Keys::Custom(numkeys_at::<1>), "Returns the difference between multiple sorted sets.", "6.2.0", algebra::zdiff),
    spec("zintercard", -3, READONLY, Keys::Custom(numkeys_at::<1>), "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0", algebra::zintercard),
    spec("zunionstore", -4, WRITE | DENYOOM, Keys::Custom(store_keys), "Stores the union of multiple sorted sets in a key.", "2.0.0", algebra::zunionstore),
    spec("zinterstore", -4, WRITE | DENYOOM, Keys::Custom(store_keys), "Stores the intersect of multiple sorted sets in a key.", "2.0.0", algebra::zinterstore),
    spec("zdiffstore", -4, WRITE | DENYOOM, Keys::Custom(store_keys), "Stores the difference of multiple sorted sets in a key.", "6.2.0", algebra::zdiffstore),
];

/// How many keys follow a `numkeys` argument at `at`, if it is well formed and they all exist.
fn numkeys(args: &[Bytes], at: usize) -> Option<usize> {
    let n = parse_int(args.get(at)?)?;
    (n >= 1 && (n as usize) < args.len() - at).then_some(n as usize)
}

/// Key positions of `CMD numkeys key...` commands whose numkeys argument is at `AT`.
fn numkeys_at<const AT: usize>(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    if let Some(n) = numkeys(args, AT) {
        keys.extend(AT + 1..=AT + n);
    }
}

/// Key positions of `ZxxxSTORE destination numkeys key...`.
fn store_keys(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    if let Some(n) = numkeys(args, 2) {
        keys.push(1);
        keys.extend(3..3 + n);
    }
}

/// Parses one end of a score interval: a float, optionally after `(` for an exclusive end.
///
/// Like Redis's `strtod`-based parser, an empty number reads as 0 (so `(` alone is `(0`).
fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, number) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let value = if number.is_empty() {
        0.0
    } else {
        let text = std::str::from_utf8(number).ok()?.trim_start();
        text.parse::<f64>().ok().filter(|v| !v.is_nan())?
    };
    Some(ScoreBound { value, exclusive })
}

/// Parses a `min max` score interval.
fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
        _ => Err(CmdError::fixed("ERR min or max is not a float")),
    }
}

/// Parses one end of a lex interval: `-`, `+`, `[member` or `(member`.
fn lex_bound(arg: &Bytes) -> Option<LexBound> {
    match arg.first()? {
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'[' => Some(LexBound::Inclusive(arg.slice(1..))),
        b'(' => Some(LexBound::Exclusive(arg.slice(1..))),
        _ => None,
    }
}

/// Parses a `min max` lex interval.
fn lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::fixed("ERR min or max not valid string range item")),
    }
}

/// The members of a lex range, in reply order, after LIMIT `offset` and `count` (count < 0: all).
///
/// With one score throughout this is the storage's logarithmic lex range. With mixed scores Redis
/// calls the result unspecified, yet for small sets it is the listpack walk of `zzlFirstInLexRange`
/// (or `zzlLastInLexRange` reversed): start at the first member past the near end in set order,
/// skip `offset`, then stop at the first member past the far end. We walk the same way so replies match.
fn lex_select<'a>(zset: &'a ZSet, range: &'a LexRange, rev: bool, offset: i64, count: i64) -> Vec<(&'a [u8], f64)> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let same_score = zset.iter().next().map(|(_, s)| s) == zset.iter().next_back().map(|(_, s)| s);
    if offset < 0 {
        return Vec::new();
    }
    if same_score {
        let it = zset.range_by_lex(range);
        let it: Box<dyn Iterator<Item = _>> = if rev { Box::new(it.rev()) } else { Box::new(it) };
        return it.skip(offset as usize).take(count).collect();
    }
    let above_min = |m: &[u8]| match &range.min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Inclusive(b) => m >= &b[..],
        LexBound::Exclusive(b) => m > &b[..],
    };
    let below_max = |m: &[u8]| match &range.max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Inclusive(b) => m <= &b[..],
        LexBound::Exclusive(b) => m < &b[..],
    };
    // `zzlIsInLexRange`: the range must be non-empty, the tail at or above min, the head at or below max.
    fn rank(b: &LexBound) -> (u8, &[u8], bool) {
        match b {
            LexBound::Min => (0, b"", true),
            LexBound::Inclusive(m) => (1, &m[..], false),
            LexBound::Exclusive(m) => (1, &m[..], true),
            LexBound::Max => (2, b"", true),
        }
    }
    let (lo, hi) = (rank(&range.min), rank(&range.max));
    let nonempty = match (lo.0, lo.1).cmp(&(hi.0, hi.1)) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => !lo.2 && !hi.2,
        std::cmp::Ordering::Greater => false,
    };
    let (Some((head, _)), Some((tail, _))) = (zset.iter().next(), zset.iter().next_back()) else {
        return Vec::new();
    };
    if !nonempty || !above_min(tail) || !below_max(head) {
        return Vec::new();
    }
    type Bound<'f> = &'f dyn Fn(&[u8]) -> bool;
    let (near, far): (Bound, Bound) = if rev { (&below_max, &above_min) } else { (&above_min, &below_max) };
    let walk: Box<dyn Iterator<Item = (&[u8], f64)>> =
        if rev { Box::new(zset.iter().rev()) } else { Box::new(zset.iter()) };
    let mut walk = walk.skip_while(|(m, _)| !near(m)).peekable();
    if walk.peek().is_some_and(|(m, _)| !far(m)) {
        return Vec::new();
    }
    walk.skip(offset as usize).take_while(|(m, _)| far(m)).take(count).collect()
}

/// Turns Redis-style rank indexes (negative ones count from the end) into an inclusive range
/// within a set of `len` members, or None when it selects nothing.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end.min(len - 1) };
    (start <= end && start < len).then_some((start as usize, end as usize))
}

/// The sorted set at `key` for reading (counts as a keyspace hit or miss), or WRONGTYPE.
fn read_zset<'a>(txn: &'a mut Txn<'_>, db: usize, key: &Key) -> Result<Option<&'a ZSet>, CmdError> {
    match txn.value(db, key) {
        None => Ok(None),
        Some(v) => Ok(Some(v.as_zset()?)),
    }
}

/// The sorted set at `key` as a write command inspects it before changing it (no hit/miss stats).
fn peek_zset<'a>(txn: &'a mut Txn<'_>, db: usize, key: &Key) -> Result<Option<&'a ZSet>, CmdError> {
    match txn.peek(db, key) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_zset()?)),
    }
}

/// Replaces the key named `key_arg` with `zset`, or deletes it when it is empty (the STORE
/// commands), with the keyspace event `event` (or `del`). Returns the new cardinality.
fn store(ctx: &mut super::Ctx, key_arg: &Bytes, zset: ZSet, event: &str) -> usize {
    let (db, key) = (ctx.db(), ctx.key(key_arg));
    let len = zset.len();
    if len == 0 {
        if ctx.txn.remove(db, &key).is_some() {
            ctx.notify(crate::notify::GENERIC, "del", key_arg);
        }
    } else {
        ctx.txn.insert(db, key, Value::ZSet(Arc::new(zset)), Expiry::Persist);
        ctx.notify(crate::notify::ZSET, event, key_arg);
    }
    len
}

/// Writes members, with their scores if asked: RESP3 gets `[member, score]` pairs, RESP2 a flat
/// array of member, score, member, score...
fn reply_members(out: &mut Reply, items: &[(&[u8], f64)], withscores: bool) {
    if !withscores {
        out.array(items.len());
        items.iter().for_each(|(m, _)| out.bulk(m));
    } else if out.resp3() {
        out.array(items.len());
        for (m, s) in items {
            out.array(2);
            out.bulk(m);
            out.double(*s);
        }
    } else {
        out.array(items.len() * 2);
        for (m, s) in items {
            out.bulk(m);
            out.double(*s);
        }
    }
}

/// Writes popped members as an array of `[member, score]` pairs, in both protocols (ZMPOP).
fn reply_pairs(out: &mut Reply, items: &[(Bytes, f64)]) {
    out.array(items.len());
    for (m, s) in items {
        out.array(2);
        out.bulk(m);
        out.double(*s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bounds_like_redis() {
        assert_eq!(score_bound(b"(1.5"), Some(ScoreBound { value: 1.5, exclusive: true }));
        assert_eq!(score_bound(b"("), Some(ScoreBound { value: 0.0, exclusive: true }));
        assert_eq!(score_bound(b"-inf"), Some(ScoreBound { value: f64::NEG_INFINITY, exclusive: false }));
        assert_eq!(score_bound(b"1a"), None);
        assert_eq!(score_bound(b"nan"), None);
        assert_eq!(lex_bound(&Bytes::from("[")), Some(LexBound::Inclusive(Bytes::new())));
        assert_eq!(lex_bound(&Bytes::from("-x")), None);
        assert_eq!(clamp_ranks(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_ranks(-10, 10, 3), Some((0, 2)));
        assert_eq!(clamp_ranks(2, 1, 3), None);
        assert_eq!(clamp_ranks(3, 5, 3), None);
        assert_eq!(clamp_ranks(0, -4, 3), None);
    }
}
