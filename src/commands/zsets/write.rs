//! Commands that add, update and remove members: ZADD, ZINCRBY, ZREM, ZREMRANGEBY{RANK,SCORE,LEX}.
//!
//! Each one first works out on the unchanged set whether it will change anything, and only then
//! opens the key for modification: a write that changes nothing must not fail WATCHes nor wake
//! blocked clients, as in Redis.

use bytes::Bytes;
use smallvec::SmallVec;

use super::super::args::{float, int, is};
use super::super::Ctx;
use super::{clamp_ranks, lex_range, lex_select, peek_zset, score_range};
use crate::error::{CmdError, CmdResult};

/// ZADD's options (ZINCRBY is ZADD with `incr` alone).
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What adding one (score, member) pair does to a set.
enum Decision {
    /// Nothing: NX on an existing member, XX on a missing one, or GT/LT refused the new score.
    Skip,
    /// Processed, but the score stays as it is.
    Keep(f64),
    /// The member gets this score (`added` when it is new).
    Set { score: f64, added: bool },
    /// INCR would produce NaN (`inf` + `-inf`).
    NotANumber,
}

fn decide(current: Option<f64>, score: f64, flags: &AddFlags) -> Decision {
    match current {
        Some(_) if flags.nx => Decision::Skip,
        Some(current) => {
            let score = if flags.incr { current + score } else { score };
            if score.is_nan() {
                Decision::NotANumber
            } else if (flags.lt && score >= current) || (flags.gt && score <= current) {
                Decision::Skip
            } else if score == current {
                Decision::Keep(score)
            } else {
                Decision::Set { score, added: false }
            }
        }
        None if flags.xx => Decision::Skip,
        None => Decision::Set { score, added: true },
    }
}

const NAN_SCORE: CmdError = CmdError::fixed("ERR resulting score is not a number (NaN)");

/// What [`add`] did.
#[derive(Default)]
struct Added {
    added: i64,
    updated: i64,
    /// The score of the last pair that was processed (not skipped): ZADD INCR's reply.
    last: Option<f64>,
}

/// Applies (score, member) pairs to the sorted set at `args[1]`, creating it if needed.
fn add(ctx: &mut Ctx, key_arg: &Bytes, pairs: &[(f64, &Bytes)], flags: &AddFlags) -> Result<Added, CmdError> {
    let (db, key) = (ctx.db(), ctx.key(key_arg));
    // A dry run on the set as it is: does anything change, and is every result a number? Pairs
    // that change nothing leave the set as it was, so the first change is found on it too.
    let changes = match peek_zset(ctx.txn, db, &key)? {
        None => !flags.xx,
        Some(zset) => {
            let mut changes = false;
            for (score, member) in pairs {
                match decide(zset.score(member), *score, flags) {
                    Decision::NotANumber => return Err(NAN_SCORE),
                    Decision::Set { .. } => changes = true,
                    Decision::Skip | Decision::Keep(_) => {}
                }
            }
            changes
        }
    };
    let mut result = Added::default();
    if !changes {
        // Still report INCR's unchanged score (ZADD XX INCR 0 on an existing member).
        if let Some(zset) = peek_zset(ctx.txn, db, &key)? {
            for (score, member) in pairs {
                if let Decision::Keep(s) = decide(zset.score(member), *score, flags) {
                    result.last = Some(s);
                }
            }
        }
        return Ok(result);
    }
    let mut zset = ctx.txn.write_zset(db, &key)?;
    let event = if flags.incr { "zincr" } else { "zadd" };
    for (score, member) in pairs {
        match decide(zset.zset().score(member), *score, flags) {
            Decision::Set { score, added } => {
                // `+ 0.0` stores -0 as 0, as Redis's listpack does (it keeps "0"); the reply keeps -0.
                zset.insert((*member).clone(), score + 0.0);
                result.added += added as i64;
                result.updated += !added as i64;
                result.last = Some(score);
            }
            Decision::Keep(score) => result.last = Some(score),
            Decision::Skip | Decision::NotANumber => {}
        }
    }
    zset.fit();
    if result.added + result.updated > 0 {
        ctx.notify(crate::notify::ZSET, event, key_arg);
    }
    Ok(result)
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
pub(super) fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let flag = match () {
            _ if is(opt, "NX") => &mut flags.nx,
            _ if is(opt, "XX") => &mut flags.xx,
            _ if is(opt, "GT") => &mut flags.gt,
            _ if is(opt, "LT") => &mut flags.lt,
            _ if is(opt, "CH") => &mut flags.ch,
            _ if is(opt, "INCR") => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(CmdError::fixed("ERR XX and NX options at the same time are not compatible"));
    }
    if (flags.gt || flags.lt) && flags.nx || flags.gt && flags.lt {
        return Err(CmdError::fixed("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if flags.incr && rest.len() > 2 {
        return Err(CmdError::fixed("ERR INCR option supports a single increment-element pair"));
    }
    let pairs = rest
        .chunks_exact(2)
        .map(|p| Ok((float(&p[0])?, &p[1])))
        .collect::<Result<SmallVec<[(f64, &Bytes); 8]>, CmdError>>()?;
    let result = add(ctx, &args[1], &pairs, &flags)?;
    if flags.incr {
        match result.last {
            Some(score) => ctx.out.double(score),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(result.added + if flags.ch { result.updated } else { 0 });
    }
    Ok(())
}

/// `ZINCRBY key increment member`
pub(super) fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let increment = float(&args[2])?;
    let flags = AddFlags { incr: true, ..AddFlags::default() };
    let result = add(ctx, &args[1], &[(increment, &args[3])], &flags)?;
    match result.last {
        Some(score) => ctx.out.double(score),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Removes `members` (all present) from the sorted set at `key_arg`, deleting it if emptied;
/// `event` is the keyspace event of the removal.
fn remove_members(ctx: &mut Ctx, key_arg: &Bytes, members: &[Bytes], event: &str) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(key_arg));
    let mut removed = 0;
    if !members.is_empty() {
        if ctx.txn.exists(db, &key) {
            let mut zset = ctx.txn.write_zset(db, &key)?;
            removed = members.iter().filter(|m| zset.remove(m).is_some()).count();
        }
        if removed > 0 {
            ctx.notify(crate::notify::ZSET, event, key_arg);
        }
        ctx.drop_if_empty(&key, key_arg);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// `ZREM key member [member ...]`
pub(super) fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let present: Vec<Bytes> = match peek_zset(ctx.txn, db, &key)? {
        None => Vec::new(),
        Some(zset) => args[2..].iter().filter(|m| zset.score(m).is_some()).cloned().collect(),
    };
    remove_members(ctx, &args[1], &present, "zrem")
}

/// Collects the members a ZREMRANGEBY* command removes, then removes them.
fn remove_range(
    ctx: &mut Ctx,
    key_arg: &Bytes,
    event: &str,
    select: impl FnOnce(&meshkv_storage::value::ZSet) -> Vec<Bytes>,
) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(key_arg));
    let members = peek_zset(ctx.txn, db, &key)?.map(select).unwrap_or_default();
    remove_members(ctx, key_arg, &members, event)
}

/// `ZREMRANGEBYRANK key start stop`
pub(super) fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, end) = (int(&args[2])?, int(&args[3])?);
    remove_range(ctx, &args[1], "zremrangebyrank", |z| match clamp_ranks(start, end, z.len()) {
        Some((s, e)) => z.range_by_rank(s, e, false).map(|(m, _)| Bytes::copy_from_slice(m)).collect(),
        None => Vec::new(),
    })
}

/// `ZREMRANGEBYSCORE key min max`
pub(super) fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = score_range(&args[2], &args[3])?;
    remove_range(ctx, &args[1], "zremrangebyscore", |z| {
        z.range_by_score(&range).map(|(m, _)| Bytes::copy_from_slice(m)).collect()
    })
}

/// `ZREMRANGEBYLEX key min max`
pub(super) fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = lex_range(&args[2], &args[3])?;
    remove_range(ctx, &args[1], "zremrangebylex", |z| {
        lex_select(z, &range, false, 0, -1).into_iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect()
    })
}
