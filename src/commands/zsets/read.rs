//! Read-only lookups: ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZRANDMEMBER, ZSCAN.

use bytes::Bytes;
use rand::seq::index::sample;
use rand::Rng;

use super::super::args::{is, parse_int};
use super::super::Ctx;
use super::{lex_range, lex_select, read_zset, reply_members, score_range};
use crate::error::{CmdError, CmdResult};
use crate::protocol::format_double;

/// `ZCARD key`
pub(super) fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let len = read_zset(ctx.txn, db, &key)?.map_or(0, |z| z.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// `ZSCORE key member`
pub(super) fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    match read_zset(ctx.txn, db, &key)?.and_then(|z| z.score(&args[2])) {
        Some(score) => ctx.out.double(score),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `ZMSCORE key member [member ...]`
pub(super) fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let zset = read_zset(ctx.txn, db, &key)?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        match zset.and_then(|z| z.score(member)) {
            Some(score) => ctx.out.double(score),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let zset = read_zset(ctx.txn, db, &key)?;
    match zset.and_then(|z| Some((z.rank(&args[2])?, z.len()))) {
        Some((rank, len)) => ctx.out.int(if rev { len - 1 - rank } else { rank } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// `ZRANK key member`
pub(super) fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, false)
}

/// `ZREVRANK key member`
pub(super) fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank(ctx, args, true)
}

/// `ZCOUNT key min max`
pub(super) fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = score_range(&args[2], &args[3])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let n = read_zset(ctx.txn, db, &key)?.map_or(0, |z| z.range_by_score(&range).count());
    ctx.out.int(n as i64);
    Ok(())
}

/// `ZLEXCOUNT key min max`
pub(super) fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = lex_range(&args[2], &args[3])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let n = read_zset(ctx.txn, db, &key)?.map_or(0, |z| lex_select(z, &range, false, 0, -1).len());
    ctx.out.int(n as i64);
    Ok(())
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`
///
/// A positive count picks distinct members (at most the whole set); a negative one picks
/// `-count` members independently, so they may repeat.
pub(super) fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 2 {
        let (db, key) = (ctx.db(), ctx.key(&args[1]));
        match read_zset(ctx.txn, db, &key)? {
            Some(z) => {
                let pick = rand::rng().random_range(0..z.len());
                match z.iter().nth(pick) {
                    Some((member, _)) => ctx.out.bulk(member),
                    None => ctx.out.null(),
                }
            }
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = parse_int(&args[2]).ok_or(CmdError::NotInteger)?;
    if count == i64::MIN {
        return Err(CmdError::fixed(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.get(3) {
        None => false,
        Some(w) if is(w, "WITHSCORES") && args.len() == 4 => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::fixed("ERR value is out of range"));
    }
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let Some(z) = read_zset(ctx.txn, db, &key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count < 0 && !z.is_empty() {
        // Draws with repetition: the reply's length is the client's number, so it is written as
        // it is drawn (nothing is sized by it) and stops once the client is over its output
        // limit; the connection then closes the client, as Redis does.
        let all: Vec<(&[u8], f64)> = z.iter().collect();
        let n = count.unsigned_abs() as usize;
        let out = &mut *ctx.out;
        match (withscores, out.resp3()) {
            (true, false) => out.array(2 * n),
            _ => out.array(n),
        }
        let mut rng = rand::rng();
        for _ in 0..n {
            let (member, score) = all[rng.random_range(0..all.len())];
            if withscores && out.resp3() {
                out.array(2);
            }
            out.bulk(member);
            if withscores {
                out.double(score);
            }
            if out.over_limit() {
                break;
            }
        }
        return Ok(());
    }
    let all: Vec<(&[u8], f64)> = z.iter().collect();
    let n = (count as usize).min(all.len());
    let picked: Vec<(&[u8], f64)> =
        if n == all.len() { all } else { sample(&mut rand::rng(), all.len(), n).into_iter().map(|i| all[i]).collect() };
    reply_members(ctx.out, &picked, withscores);
    Ok(())
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
///
/// COUNT is only a hint in Redis; this returns every matching member in one call with cursor 0,
/// which meets SCAN's guarantees (each member present throughout is returned) trivially.
pub(super) fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::commands::hashes::{scan_cursor, scan_reply_empty, ScanOptions};
    scan_cursor(&args[2])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    // As in Redis, a missing key answers before the options are even parsed.
    let Some(zset) = read_zset(ctx.txn, db, &key)? else {
        scan_reply_empty(ctx.out);
        return Ok(());
    };
    let opts = ScanOptions::parse(&args[3..])?;
    // The ordered index cannot resume from a position, so one call returns every match (COUNT is
    // only a hint in Redis too) and the cursor is 0.
    let matching: Vec<(&[u8], f64)> = zset.iter().filter(|(m, _)| opts.accepts(m)).collect();
    ctx.out.array(2);
    ctx.out.bulk(b"0");
    // ZSCAN's scores are plain strings in both protocols, as Redis stores them.
    ctx.out.array(matching.len() * 2);
    let mut tmp = [0u8; 32];
    for (member, score) in matching {
        ctx.out.bulk(member);
        ctx.out.bulk(format_double(score, &mut tmp));
    }
    Ok(())
}
