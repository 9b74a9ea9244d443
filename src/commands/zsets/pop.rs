//! Popping by score: ZPOPMIN, ZPOPMAX, ZMPOP, and the blocking BZPOPMIN, BZPOPMAX, BZMPOP.
//!
//! A blocking command that finds nothing to pop asks the connection to wait (`Ctx::block`)
//! without replying; the connection runs it again when one of its keys is written, or sends the
//! timeout reply (a null array).

use bytes::Bytes;
use meshkv_storage::Key;

use super::super::args::{is, parse_int, timeout};
use super::super::Ctx;
use super::{peek_zset, reply_members, reply_pairs};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

/// Pops up to `count` members from the lowest (or, with `max`, the highest) end of the sorted set
/// at `key` (named `key_arg`), deleting it if emptied. The caller has checked that it is a sorted
/// set.
fn pop(ctx: &mut Ctx, key: &Key, key_arg: &Bytes, max: bool, count: usize) -> Result<Vec<(Bytes, f64)>, CmdError> {
    let db = ctx.db();
    let mut popped = Vec::new();
    if ctx.txn.exists(db, key) {
        let mut zset = ctx.txn.write_zset(db, key)?;
        popped.extend(std::iter::from_fn(|| zset.pop(max)).take(count));
    }
    ctx.notify(crate::notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key_arg);
    ctx.drop_if_empty(key, key_arg);
    Ok(popped)
}

/// True if `key` holds a sorted set; WRONGTYPE if it holds another type, except for a blocked
/// command run again after a wake-up, which passes such a key over and goes on waiting.
fn holds_zset(ctx: &mut Ctx, key: &Key) -> Result<bool, CmdError> {
    let woken = ctx.client.woken;
    match peek_zset(ctx.txn, ctx.client.db, key) {
        Ok(zset) => Ok(zset.is_some()),
        Err(CmdError::WrongType) if woken => Ok(false),
        Err(e) => Err(e),
    }
}

/// The reply a blocking pop sends when its timeout passes.
fn timed_out(out: &mut Reply) {
    out.null_array();
}

fn zpop(ctx: &mut Ctx, args: &[Bytes], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => Some(
            parse_int(arg)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CmdError::fixed("ERR value is out of range, must be positive"))?,
        ),
    };
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    if peek_zset(ctx.txn, db, &key)?.is_none() || count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let popped = pop(ctx, &key, &args[1], max, count.unwrap_or(1))?;
    let refs: Vec<(&[u8], f64)> = popped.iter().map(|(m, s)| (&m[..], *s)).collect();
    match count {
        // With a count RESP3 gets [member, score] pairs; without, one flat pair in both protocols.
        Some(_) => reply_members(ctx.out, &refs, true),
        None => {
            ctx.out.array(2);
            ctx.out.bulk(&popped[0].0);
            ctx.out.double(popped[0].1);
        }
    }
    Ok(())
}

/// `ZPOPMIN key [count]`
pub(super) fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, false)
}

/// `ZPOPMAX key [count]`
pub(super) fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, true)
}

fn bzpop(ctx: &mut Ctx, args: &[Bytes], max: bool) -> CmdResult {
    let wait = timeout(&args[args.len() - 1])?;
    let names = &args[1..args.len() - 1];
    for name in names {
        let key = ctx.key(name);
        if holds_zset(ctx, &key)? && ctx.my_turn(&key) {
            let popped = pop(ctx, &key, name, max, 1)?;
            ctx.out.array(3);
            ctx.out.bulk(name);
            ctx.out.bulk(&popped[0].0);
            ctx.out.double(popped[0].1);
            return Ok(());
        }
    }
    let keys = names.iter().map(|n| ctx.key(n)).collect();
    ctx.block(keys, wait, timed_out);
    Ok(())
}

/// `BZPOPMIN key [key ...] timeout`
pub(super) fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, false)
}

/// `BZPOPMAX key [key ...] timeout`
pub(super) fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, true)
}

/// A parsed `numkeys key [key ...] MIN|MAX [COUNT count]`.
struct MultiPop<'a> {
    keys: &'a [Bytes],
    max: bool,
    count: usize,
}

fn parse_mpop(args: &[Bytes], at: usize) -> Result<MultiPop<'_>, CmdError> {
    let n =
        parse_int(&args[at]).filter(|&n| n >= 1).ok_or(CmdError::fixed("ERR numkeys should be greater than 0"))? as u64;
    if n >= (args.len() - at) as u64 {
        return Err(CmdError::Syntax);
    }
    let keys = &args[at + 1..=at + n as usize];
    let mut i = at + 1 + n as usize;
    let max = match args.get(i) {
        Some(w) if is(w, "MIN") => false,
        Some(w) if is(w, "MAX") => true,
        _ => return Err(CmdError::Syntax),
    };
    i += 1;
    let mut count = None;
    while i < args.len() {
        match args.get(i + 1) {
            Some(value) if count.is_none() && is(&args[i], "COUNT") => {
                let n = parse_int(value)
                    .filter(|&n| n >= 1)
                    .ok_or(CmdError::fixed("ERR count should be greater than 0"))?;
                count = Some(n as usize);
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(MultiPop { keys, max, count: count.unwrap_or(1) })
}

/// Pops from the first of `req.keys` that holds a sorted set and replies `[key, [[member, score]...]]`.
/// Returns false (having replied nothing) when none does.
fn mpop(ctx: &mut Ctx, req: &MultiPop) -> Result<bool, CmdError> {
    for name in req.keys {
        let key = ctx.key(name);
        if holds_zset(ctx, &key)? && ctx.my_turn(&key) {
            let popped = pop(ctx, &key, name, req.max, req.count)?;
            ctx.out.array(2);
            ctx.out.bulk(name);
            reply_pairs(ctx.out, &popped);
            return Ok(true);
        }
    }
    Ok(false)
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`
pub(super) fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let req = parse_mpop(args, 1)?;
    if !mpop(ctx, &req)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
pub(super) fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let wait = timeout(&args[1])?;
    let req = parse_mpop(args, 2)?;
    if !mpop(ctx, &req)? {
        let keys = req.keys.iter().map(|n| ctx.key(n)).collect();
        ctx.block(keys, wait, timed_out);
    }
    Ok(())
}
