//! Set commands (Redis's `t_set.c`): SADD, SREM, SPOP, SMOVE, the algebra (SINTER, SUNION, SDIFF
//! and their STORE forms, SINTERCARD) and the rest.
//!
//! A set is an `IndexSet`: O(1) membership, and O(1) access by position for SPOP/SRANDMEMBER and
//! SSCAN's cursor. Removal uses `swap_remove` (O(1)); a set's order is unspecified anyway.

use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::value::SetValue;
use meshkv_storage::{Expiry, Key, SetWriter, Txn, Value};
use smallvec::SmallVec;

use super::args::parse_int;
use super::flags::*;
use super::hashes::{random_count, random_indices, random_len, scan_cursor, scan_reply_empty, ScanOptions};
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify;

/// Builds a set command's table entry.
const fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    summary: &'static str,
    since: &'static str,
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, group: "set", summary, since, handler }
}

pub(super) static COMMANDS: &[CommandSpec] = &[
    spec("sadd", -3, WRITE | DENYOOM | FAST, Keys::FIRST, "Adds one or more members to a set.", "1.0.0", sadd),
    spec("srem", -3, WRITE | FAST, Keys::FIRST, "Removes one or more members from a set.", "1.0.0", srem),
    spec("scard", 2, READONLY | FAST, Keys::FIRST, "Returns the number of members in a set.", "1.0.0", scard),
    spec(
        "sismember",
        3,
        READONLY | FAST,
        Keys::FIRST,
        "Determines whether a member belongs to a set.",
        "1.0.0",
        sismember,
    ),
    spec(
        "smismember",
        -3,
        READONLY | FAST,
        Keys::FIRST,
        "Determines whether multiple members belong to a set.",
        "6.2.0",
        smismember,
    ),
    spec("smembers", 2, READONLY, Keys::FIRST, "Returns all members of a set.", "1.0.0", smembers),
    spec(
        "srandmember",
        -2,
        READONLY,
        Keys::FIRST,
        "Get one or multiple random members from a set.",
        "1.0.0",
        srandmember,
    ),
    spec(
        "spop",
        -2,
        WRITE | FAST,
        Keys::FIRST,
        "Returns one or more random members from a set after removing them.",
        "1.0.0",
        spop,
    ),
    spec("smove", 4, WRITE | FAST, Keys::FIRST_TWO, "Moves a member from one set to another.", "1.0.0", smove),
    spec("sinter", -2, READONLY, Keys::ALL, "Returns the intersect of multiple sets.", "1.0.0", sinter),
    spec(
        "sintercard",
        -3,
        READONLY,
        Keys::Custom(sintercard_keys),
        "Returns the number of members of the intersect of multiple sets.",
        "7.0.0",
        sintercard,
    ),
    spec(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        Keys::ALL,
        "Stores the intersect of multiple sets in a key.",
        "1.0.0",
        sinterstore,
    ),
    spec("sunion", -2, READONLY, Keys::ALL, "Returns the union of multiple sets.", "1.0.0", sunion),
    spec(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        Keys::ALL,
        "Stores the union of multiple sets in a key.",
        "1.0.0",
        sunionstore,
    ),
    spec("sdiff", -2, READONLY, Keys::ALL, "Returns the difference of multiple sets.", "1.0.0", sdiff),
    spec(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        Keys::ALL,
        "Stores the difference of multiple sets in a key.",
        "1.0.0",
        sdiffstore,
    ),
    spec("sscan", -3, READONLY, Keys::FIRST, "Iterates over members of a set.", "2.8.0", sscan),
];

/// The set at `key` for reading: `None` if absent, `WrongType` if it holds another type.
fn read_set<'t>(txn: &'t mut Txn<'_>, db: usize, key: &Key) -> Result<Option<&'t SetValue>, CmdError> {
    Ok(txn.value(db, key).map(Value::as_set).transpose()?)
}

/// Like [`read_set`] but without counting a keyspace hit or miss (writes that inspect first).
fn peek_set<'t>(txn: &'t mut Txn<'_>, db: usize, key: &Key) -> Result<Option<&'t SetValue>, CmdError> {
    Ok(txn.peek(db, key).map(|e| e.value.as_set()).transpose()?)
}

/// The set at `key` for writing, created empty if absent (with replication on, a dotted set:
/// see `Txn::write_set`).
fn write_set<'t>(txn: &'t mut Txn<'_>, db: usize, key: &Key) -> Result<SetWriter<'t>, CmdError> {
    Ok(txn.write_set(db, key)?)
}

/// SADD. A call that adds nothing new leaves the key untouched (no WATCH is disturbed), as Redis.
fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let members = &args[2..];
    let nothing_new = peek_set(ctx.txn, db, &key)?.is_some_and(|s| members.iter().all(|m| s.contains(m)));
    let mut added = 0;
    if !nothing_new {
        let mut set = write_set(ctx.txn, db, &key)?;
        added = members.iter().filter(|m| set.insert((*m).clone())).count();
        set.fit();
    }
    if added > 0 {
        ctx.notify(notify::SET, "sadd", &args[1]);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let members = &args[2..];
    let present = peek_set(ctx.txn, db, &key)?.is_some_and(|s| members.iter().any(|m| s.contains(m)));
    let mut removed = 0;
    if present {
        let mut set = write_set(ctx.txn, db, &key)?;
        removed = members.iter().filter(|m| set.remove(m)).count();
        ctx.notify(notify::SET, "srem", &args[1]);
        ctx.drop_if_empty(&key, &args[1]);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let len = read_set(ctx.txn, db, &key)?.map_or(0, |s| s.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let found = read_set(ctx.txn, db, &key)?.is_some_and(|s| s.contains(&args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let set = read_set(ctx.txn, db, &key)?;
    ctx.out.array(args.len() - 2);
    for member in &args[2..] {
        ctx.out.int(set.is_some_and(|s| s.contains(member)) as i64);
    }
    Ok(())
}

/// SMEMBERS: a set in RESP3, an array in RESP2.
fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let set = read_set(ctx.txn, db, &key)?;
    ctx.out.set(set.map_or(0, |s| s.len()));
    for member in set.into_iter().flatten() {
        ctx.out.bulk(member);
    }
    Ok(())
}

/// SRANDMEMBER key [count]: one member or nil; with a count, an array of distinct members, or with
/// a negative count that many draws, repeats allowed.
fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = args.get(2).map(|a| random_count(a)).transpose()?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let set = read_set(ctx.txn, db, &key)?.filter(|s| !s.is_empty());
    let out = &mut *ctx.out;
    match (set, count) {
        (None, None) => out.null(),
        (None, Some(_)) => out.array(0),
        (Some(set), None) => {
            let i = rand::random_range(0..set.len());
            out.bulk(set.get_index(i).map_or(&[][..], |m| m));
        }
        (Some(set), Some(count)) => {
            out.array(random_len(set.len(), count));
            random_indices(set.len(), count, |i| {
                out.bulk(set.get_index(i).map_or(&[][..], |m| m));
                !out.over_limit()
            });
        }
    }
    Ok(())
}

/// SPOP key [count]: removes and returns one random member (or nil), or up to `count` of them as a
/// set reply.
fn spop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = args
        .get(2)
        .map(|a| parse_int(a).filter(|n| *n >= 0).ok_or(CmdError::fixed("ERR value is out of range, must be positive")))
        .transpose()?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let len = peek_set(ctx.txn, db, &key)?.map_or(0, |s| s.len());
    if len == 0 || count == Some(0) {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    }
    let mut set = write_set(ctx.txn, db, &key)?;
    match count {
        None => {
            let member = set.remove_index(rand::random_range(0..len)).unwrap_or_default();
            ctx.out.bulk(&member);
        }
        Some(n) if n as u64 >= len as u64 => {
            ctx.out.set(len);
            for member in set.take_all() {
                ctx.out.bulk(&member);
            }
        }
        Some(n) => {
            ctx.out.set(n as usize);
            for _ in 0..n {
                let member = set.remove_index(rand::random_range(0..set.members().len())).unwrap_or_default();
                ctx.out.bulk(&member);
            }
        }
    }
    ctx.notify(notify::SET, "spop", &args[1]);
    ctx.drop_if_empty(&key, &args[1]);
    Ok(())
}

/// SMOVE source destination member. Redis's order of checks: a missing source answers 0 before
/// the types are checked; moving within one set only tests membership.
fn smove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let (src, dst, member) = (ctx.key(&args[1]), ctx.key(&args[2]), &args[3]);
    let Some(in_src) = peek_set(ctx.txn, db, &src)?.map(|s| s.contains(member)) else {
        ctx.out.int(0);
        return Ok(());
    };
    let in_dst = peek_set(ctx.txn, db, &dst)?.is_some_and(|s| s.contains(member));
    if args[1] == args[2] || !in_src {
        ctx.out.int(in_src as i64);
        return Ok(());
    }
    write_set(ctx.txn, db, &src)?.remove(member);
    ctx.notify(notify::SET, "srem", &args[1]);
    ctx.drop_if_empty(&src, &args[1]);
    if !in_dst {
        write_set(ctx.txn, db, &dst)?.insert(member.clone());
        ctx.notify(notify::SET, "sadd", &args[2]);
    }
    ctx.out.int(1);
    Ok(())
}

// ---- set algebra ----

/// The operations of SINTER, SUNION and SDIFF.
#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// The sets at `keys` (`None` for missing keys). Every key is checked first, so a key of another
/// type anywhere fails the command with WRONGTYPE even when an earlier key is missing.
fn load_sets(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Option<Arc<SetValue>>>, CmdError> {
    let db = ctx.db();
    keys.iter()
        .map(|k| {
            let key = ctx.key(k);
            match ctx.txn.value(db, &key) {
                None => Ok(None),
                Some(Value::Set(s)) => Ok(Some(s.clone())),
                Some(v @ Value::DotSet(_)) => Ok(Some(Arc::new(v.as_set()?.clone()))),
                Some(_) => Err(CmdError::WrongType),
            }
        })
        .collect()
}

/// Visits the members common to all `sets` (none if any is missing), walking the smallest set,
/// until `visit` returns false.
fn for_each_common(sets: &[Option<Arc<SetValue>>], mut visit: impl FnMut(&Bytes) -> bool) {
    let Some(mut sets): Option<Vec<&SetValue>> = sets.iter().map(|s| s.as_deref()).collect() else { return };
    sets.sort_by_key(|s| s.len());
    let Some((smallest, others)) = sets.split_first() else { return };
    for member in smallest.iter() {
        if others.iter().all(|s| s.contains(member)) && !visit(member) {
            return;
        }
    }
}

/// The result of `op` over `sets`.
fn combine(op: SetOp, sets: &[Option<Arc<SetValue>>]) -> SetValue {
    let mut result = SetValue::default();
    match op {
        SetOp::Inter => for_each_common(sets, |m| {
            result.insert(m.clone());
            true
        }),
        SetOp::Union => {
            for set in sets.iter().flatten() {
                result.extend(set.iter().cloned());
            }
        }
        SetOp::Diff => {
            if let Some((Some(first), others)) = sets.split_first() {
                let others: Vec<&SetValue> = others.iter().flatten().map(|s| &**s).collect();
                result.extend(first.iter().filter(|m| !others.iter().any(|o| o.contains(m))).cloned());
            }
        }
    }
    result
}

/// SINTER, SUNION, SDIFF: the result as a set reply.
fn reply_combined(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let sets = load_sets(ctx, &args[1..])?;
    let result = combine(op, &sets);
    ctx.out.set(result.len());
    for member in &result {
        ctx.out.bulk(member);
    }
    Ok(())
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: the result replaces the destination (which is deleted
/// when the result is empty), and the reply is its cardinality.
fn store_combined(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let sets = load_sets(ctx, &args[2..])?;
    let result = combine(op, &sets);
    let (db, dst) = (ctx.db(), ctx.key(&args[1]));
    let len = result.len();
    if result.is_empty() {
        if ctx.txn.remove(db, &dst).is_some() {
            ctx.notify(notify::GENERIC, "del", &args[1]);
        }
    } else {
        ctx.txn.insert(db, dst, Value::Set(Arc::new(result)), Expiry::Persist);
        let event = match op {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        };
        ctx.notify(notify::SET, event, &args[1]);
    }
    ctx.out.int(len as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_combined(ctx, args, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_combined(ctx, args, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    reply_combined(ctx, args, SetOp::Diff)
}

fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    store_combined(ctx, args, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    store_combined(ctx, args, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    store_combined(ctx, args, SetOp::Diff)
}

/// SINTERCARD's `numkeys`, checked against the number of arguments.
fn sintercard_numkeys(args: &[Bytes]) -> Result<usize, CmdError> {
    let n = parse_int(&args[1]).filter(|n| *n >= 1).ok_or(CmdError::fixed("ERR numkeys should be greater than 0"))?;
    if n as u64 > (args.len() - 2) as u64 {
        return Err(CmdError::fixed("ERR Number of keys can't be greater than number of args"));
    }
    Ok(n as usize)
}

/// Key positions of SINTERCARD numkeys key [key ...] [LIMIT n]; none when malformed.
fn sintercard_keys(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    if let Ok(n) = sintercard_numkeys(args) {
        keys.extend(2..2 + n);
    }
}

/// SINTERCARD: the intersection's cardinality, counting stops at LIMIT (0: no limit).
fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numkeys = sintercard_numkeys(args)?;
    let mut limit = 0usize;
    let mut rest = &args[2 + numkeys..];
    while let [opt, tail @ ..] = rest {
        let [value, tail @ ..] = tail else { return Err(CmdError::Syntax) };
        if !super::args::is(opt, "LIMIT") {
            return Err(CmdError::Syntax);
        }
        limit = parse_int(value)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(CmdError::fixed("ERR LIMIT can't be negative"))?;
        rest = tail;
    }
    let sets = load_sets(ctx, &args[2..2 + numkeys])?;
    let mut count = 0usize;
    for_each_common(&sets, |_| {
        count += 1;
        limit == 0 || count < limit
    });
    ctx.out.int(count as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = scan_cursor(&args[2])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let Some(set) = read_set(ctx.txn, db, &key)? else {
        scan_reply_empty(ctx.out);
        return Ok(());
    };
    let opts = ScanOptions::parse(&args[3..])?;
    let (window, next) = opts.window(set.len(), cursor);
    let found: Vec<_> = window.filter_map(|i| set.get_index(i)).filter(|m| opts.accepts(m)).collect();
    ctx.out.array(2);
    ctx.out.bulk_int(next as i64);
    ctx.out.array(found.len());
    for member in found {
        ctx.out.bulk(member);
    }
    Ok(())
}
