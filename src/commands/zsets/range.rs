//! ZRANGE and its older spellings (ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX), and
//! ZRANGESTORE. All of them are one parser and one range walk, as `zrangeGenericCommand` is.

use bytes::Bytes;
use meshkv_storage::value::{LexRange, ScoreRange, ZSet};

use super::super::args::{int, is};
use super::super::Ctx;
use super::{clamp_ranks, lex_range, lex_select, read_zset, reply_members, score_range, store};
use crate::error::{CmdError, CmdResult};

/// What the range's ends are.
#[derive(Clone, Copy, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
struct Query {
    bounds: Bounds,
    rev: bool,
    /// LIMIT offset and count (count < 0: no limit).
    offset: i64,
    count: i64,
    withscores: bool,
}

enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Parses `min max [options]` starting at `args[at]`. `by` and `rev` are fixed by the older
/// commands (then the matching option is a syntax error, as in Redis); `store` forbids WITHSCORES.
fn parse(args: &[Bytes], at: usize, by: Option<By>, rev: Option<bool>, store: bool) -> Result<Query, CmdError> {
    let (mut by, mut rev) = (by, rev);
    let (mut offset, mut count, mut withscores) = (0, -1, false);
    let mut i = at + 2;
    while i < args.len() {
        let opt = &args[i];
        if is(opt, "WITHSCORES") && !store {
            withscores = true;
        } else if is(opt, "LIMIT") && i + 2 < args.len() {
            offset = int(&args[i + 1])?;
            count = int(&args[i + 2])?;
            i += 2;
        } else if rev.is_none() && is(opt, "REV") {
            rev = Some(true);
        } else if by.is_none() && is(opt, "BYSCORE") {
            by = Some(By::Score);
        } else if by.is_none() && is(opt, "BYLEX") {
            by = Some(By::Lex);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let (by, rev) = (by.unwrap_or(By::Rank), rev.unwrap_or(false));
    // Redis tests the count, not the option: `LIMIT n -1` passes with a rank range (and is ignored).
    if count != -1 && by == By::Rank {
        return Err(CmdError::fixed(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::fixed("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    // Score and lex ranges are written high end first when reversed.
    let (lo, hi) = if rev && by != By::Rank { (&args[at + 1], &args[at]) } else { (&args[at], &args[at + 1]) };
    let bounds = match by {
        By::Rank => Bounds::Rank(int(lo)?, int(hi)?),
        By::Score => Bounds::Score(score_range(lo, hi)?),
        By::Lex => Bounds::Lex(lex_range(lo, hi)?),
    };
    Ok(Query { bounds, rev, offset, count, withscores })
}

/// The members the query selects, in reply order.
fn select<'a>(zset: &'a ZSet, q: &'a Query) -> Vec<(&'a [u8], f64)> {
    let limited = |it: Box<dyn DoubleEndedIterator<Item = (&'a [u8], f64)> + 'a>| -> Vec<(&'a [u8], f64)> {
        if q.offset < 0 {
            return Vec::new();
        }
        let it: Box<dyn Iterator<Item = _>> = if q.rev { Box::new(it.rev()) } else { it };
        let it = it.skip(q.offset as usize);
        match usize::try_from(q.count) {
            Ok(n) => it.take(n).collect(),
            Err(_) => it.collect(),
        }
    };
    match &q.bounds {
        Bounds::Rank(start, end) => match clamp_ranks(*start, *end, zset.len()) {
            Some((s, e)) => zset.range_by_rank(s, e, q.rev).collect(),
            None => Vec::new(),
        },
        Bounds::Score(range) => limited(Box::new(zset.range_by_score(range))),
        Bounds::Lex(range) => lex_select(zset, range, q.rev, q.offset, q.count),
    }
}

/// Runs a range command whose source key is `args[at - 1]`, replying with the members.
fn range(ctx: &mut Ctx, args: &[Bytes], by: Option<By>, rev: Option<bool>) -> CmdResult {
    let q = parse(args, 2, by, rev, false)?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    match read_zset(ctx.txn, db, &key)? {
        Some(zset) => reply_members(ctx.out, &select(zset, &q), q.withscores),
        None => ctx.out.array(0),
    }
    Ok(())
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub(super) fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range(ctx, args, None, None)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub(super) fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range(ctx, args, Some(By::Rank), Some(true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub(super) fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range(ctx, args, Some(By::Score), Some(false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub(super) fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range(ctx, args, Some(By::Score), Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub(super) fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range(ctx, args, Some(By::Lex), Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub(super) fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range(ctx, args, Some(By::Lex), Some(true))
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`
pub(super) fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let q = parse(args, 3, None, None, true)?;
    let (db, src) = (ctx.db(), ctx.key(&args[2]));
    let mut result = ZSet::default();
    if let Some(zset) = read_zset(ctx.txn, db, &src)? {
        for (member, score) in select(zset, &q) {
            result.insert(Bytes::copy_from_slice(member), score);
        }
    }
    let len = store(ctx, &args[1], result, "zrangestore");
    ctx.out.int(len as i64);
    Ok(())
}
