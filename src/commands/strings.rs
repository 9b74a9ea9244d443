//! String commands (Redis's `t_string.c`): GET, SET and the rest of the family.

use bytes::{Bytes, BytesMut};
use meshkv_storage::{Expiry, Key, Value};

use super::args::{int, is};
use super::flags::*;
use super::long_double;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify;

const EVERY_OTHER: Keys = Keys::Range { first: 1, last: -1, step: 2 };

/// One row of the command table, in the family's group.
const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    since: &'static str,
    summary: &'static str,
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec { name, arity, flags, keys, group: "string", summary, since, handler }
}

pub(super) static COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, READONLY | FAST, Keys::FIRST, "1.0.0", "Returns the string value of a key.", get),
    cmd(
        "set",
        -3,
        WRITE | DENYOOM,
        Keys::FIRST,
        "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        set,
    ),
    cmd(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "1.0.0",
        "Set the string value of a key only when the key doesn't exist.",
        setnx,
    ),
    cmd(
        "setex",
        4,
        WRITE | DENYOOM,
        Keys::FIRST,
        "2.0.0",
        "Sets the string value and expiration time of a key.",
        setex,
    ),
    cmd(
        "psetex",
        4,
        WRITE | DENYOOM,
        Keys::FIRST,
        "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key.",
        psetex,
    ),
    cmd(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.",
        getset,
    ),
    cmd(
        "getdel",
        2,
        WRITE | FAST,
        Keys::FIRST,
        "6.2.0",
        "Returns the string value of a key after deleting the key.",
        getdel,
    ),
    cmd(
        "getex",
        -2,
        WRITE | FAST,
        Keys::FIRST,
        "6.2.0",
        "Returns the string value of a key after setting its expiration time.",
        getex,
    ),
    cmd(
        "mget",
        -2,
        READONLY | FAST,
        Keys::ALL,
        "1.0.0",
        "Atomically returns the string values of one or more keys.",
        mget,
    ),
    cmd(
        "mset",
        -3,
        WRITE | DENYOOM,
        EVERY_OTHER,
        "1.0.1",
        "Atomically creates or modifies the string values of one or more keys.",
        mset,
    ),
    cmd(
        "msetnx",
        -3,
        WRITE | DENYOOM,
        EVERY_OTHER,
        "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        msetnx,
    ),
    cmd(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        append,
    ),
    cmd("strlen", 2, READONLY | FAST, Keys::FIRST, "2.2.0", "Returns the length of a string value.", strlen),
    cmd("getrange", 4, READONLY, Keys::FIRST, "2.4.0", "Returns a substring of the string stored at a key.", getrange),
    cmd("substr", 4, READONLY, Keys::FIRST, "1.0.0", "Returns a substring from a string value.", getrange),
    cmd(
        "setrange",
        4,
        WRITE | DENYOOM,
        Keys::FIRST,
        "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        setrange,
    ),
    cmd(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        incr,
    ),
    cmd(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        decr,
    ),
    cmd(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        incrby,
    ),
    cmd(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        decrby,
    ),
    cmd(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        Keys::FIRST,
        "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        incrbyfloat,
    ),
    cmd("lcs", -3, READONLY, Keys::FIRST_TWO, "7.0.0", "Finds the longest common substring.", lcs),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// The key's string for reading (counts a keyspace hit or miss): `None` when absent.
pub(super) fn read_str(ctx: &mut Ctx, key: &Key) -> Result<Option<Bytes>, CmdError> {
    match ctx.txn.value(ctx.db(), key) {
        None => Ok(None),
        Some(v) => Ok(Some(v.to_str()?)),
    }
}

/// The key's string as a write command sees it (no hit/miss statistics): `None` when absent.
fn peek_str(ctx: &mut Ctx, key: &Key) -> Result<Option<Bytes>, CmdError> {
    match ctx.txn.peek(ctx.db(), key) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.to_str()?)),
    }
}

/// Refuses a string that would grow past `proto-max-bulk-len` (Redis's `checkStringLength`).
pub(super) fn check_len(ctx: &Ctx, len: u64) -> Result<(), CmdError> {
    let max = ctx.server.hot.proto_max_bulk_len.load(std::sync::atomic::Ordering::Relaxed);
    if len > max {
        return Err(CmdError::TooBig);
    }
    Ok(())
}

/// Changes a string in place, keeping its TTL. The key must hold a string (checked by the
/// caller). When nothing else shares the buffer it is reused, so repeated APPENDs and SETBITs
/// stay amortised O(1) as in Redis; otherwise it is copied once.
pub(super) fn edit_str(ctx: &mut Ctx, key: &Key, edit: impl FnOnce(&mut BytesMut)) -> usize {
    let db = ctx.db();
    match ctx.txn.modify(db, key).and_then(Value::editable_str) {
        Some(s) => {
            let mut buf = std::mem::take(s).try_into_mut().unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            edit(&mut buf);
            *s = buf.freeze();
            s.len()
        }
        _ => {
            let mut buf = BytesMut::new();
            edit(&mut buf);
            let len = buf.len();
            ctx.txn.insert(db, key.clone(), Value::Str(buf.freeze()), Expiry::Persist);
            len
        }
    }
}

/// Writes `value` as a bulk reply, or nil.
fn bulk_or_null(ctx: &mut Ctx, value: Option<&Bytes>) {
    match value {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
}

// ---------------------------------------------------------------------------------------------
// GET, SET and their variants
// ---------------------------------------------------------------------------------------------

/// GET writes straight from the stored value (the hottest path: no reference counting).
fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    match ctx.txn.value(ctx.db(), &key) {
        None => ctx.out.null(),
        Some(v) => ctx.out.bulk(v.as_str()?),
    }
    Ok(())
}

/// An expiry option as given: which one, and its argument.
#[derive(Clone, Copy, PartialEq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl ExpireKind {
    fn parse(opt: &[u8]) -> Option<ExpireKind> {
        [("EX", ExpireKind::Ex), ("PX", ExpireKind::Px), ("EXAT", ExpireKind::ExAt), ("PXAT", ExpireKind::PxAt)]
            .into_iter()
            .find(|(name, _)| is(opt, name))
            .map(|(_, kind)| kind)
    }

    /// Milliseconds per unit, and whether the time is absolute.
    fn unit(self) -> (i64, bool) {
        match self {
            ExpireKind::Ex => (1000, false),
            ExpireKind::Px => (1, false),
            ExpireKind::ExAt => (1000, true),
            ExpireKind::PxAt => (1, true),
        }
    }
}

/// The options of SET and GETEX, parsed as Redis's `parseExtendedStringArgumentsOrReply` does:
/// NX/XX/GET/KEEPTTL belong to SET, PERSIST to GETEX; expiry options exclude one another and
/// KEEPTTL/PERSIST, though repeating the same one is allowed (the last wins).
#[derive(Default)]
struct StrOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

impl<'a> StrOptions<'a> {
    fn parse(opts: &'a [Bytes], for_set: bool) -> Result<StrOptions<'a>, CmdError> {
        let mut o = StrOptions::default();
        let mut i = 0;
        while i < opts.len() {
            let (opt, next) = (&opts[i], opts.get(i + 1));
            let kind = ExpireKind::parse(opt);
            if for_set && is(opt, "NX") && !o.xx {
                o.nx = true;
            } else if for_set && is(opt, "XX") && !o.nx {
                o.xx = true;
            } else if for_set && is(opt, "GET") {
                o.get = true;
            } else if for_set && is(opt, "KEEPTTL") && o.expire.is_none() {
                o.keepttl = true;
            } else if !for_set && is(opt, "PERSIST") && o.expire.is_none() {
                o.persist = true;
            } else if let (Some(kind), Some(next)) = (kind, next) {
                if o.keepttl || o.persist || o.expire.is_some_and(|(k, _)| k != kind) {
                    return Err(CmdError::Syntax);
                }
                o.expire = Some((kind, next));
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        Ok(o)
    }

    /// The expiry option as absolute Unix ms, validated with `cmd`'s error text.
    fn expire_at(&self, ctx: &Ctx, cmd: &str) -> Result<Option<u64>, CmdError> {
        self.expire
            .map(|(kind, arg)| {
                let (unit, absolute) = kind.unit();
                expiry_at(arg, unit, absolute, ctx.now_ms(), cmd)
            })
            .transpose()
    }
}

/// Converts a relative or absolute expiry argument to absolute Unix ms, with Redis's checks.
pub(super) fn expiry_at(arg: &[u8], unit_ms: i64, absolute: bool, now_ms: u64, cmd: &str) -> Result<u64, CmdError> {
    let invalid = || CmdError::err(format!("invalid expire time in '{cmd}' command"));
    let n = int(arg)?;
    if n <= 0 {
        return Err(invalid());
    }
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now_ms as i64).ok_or_else(invalid)? };
    Ok(at as u64)
}

/// What a SET-like command replies when it did or did not write.
struct SetReplies {
    written: fn(&mut Ctx),
    skipped: fn(&mut Ctx),
}

const SET_REPLIES: SetReplies = SetReplies { written: |ctx| ctx.out.ok(), skipped: |ctx| ctx.out.null() };

/// The core of SET, SETNX, SETEX and PSETEX (Redis's `setGenericCommand`).
fn set_generic(
    ctx: &mut Ctx,
    key_arg: &Bytes,
    value: &Bytes,
    o: &StrOptions,
    cmd: &str,
    replies: SetReplies,
) -> CmdResult {
    let expire_at = o.expire_at(ctx, cmd)?;
    let key = ctx.key(key_arg);
    if o.get {
        let old = read_str(ctx, &key)?;
        bulk_or_null(ctx, old.as_ref());
    }
    let conditional = o.nx || o.xx;
    let found = conditional && ctx.txn.exists(ctx.db(), &key);
    if (o.nx && found) || (o.xx && !found) {
        if !o.get {
            (replies.skipped)(ctx);
        }
        return Ok(());
    }
    let expiry = match expire_at {
        Some(at) => Expiry::At(at),
        None if o.keepttl => Expiry::Keep,
        None => Expiry::Persist,
    };
    ctx.txn.insert(ctx.db(), key, Value::Str(value.clone()), expiry);
    ctx.notify(notify::STRING, "set", key_arg);
    if expire_at.is_some() {
        ctx.notify(notify::GENERIC, "expire", key_arg);
    }
    if !o.get {
        (replies.written)(ctx);
    }
    Ok(())
}

fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = StrOptions::parse(&args[3..], true)?;
    set_generic(ctx, &args[1], &args[2], &o, "set", SET_REPLIES)
}

fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = StrOptions { nx: true, ..Default::default() };
    let replies = SetReplies { written: |ctx| ctx.out.int(1), skipped: |ctx| ctx.out.int(0) };
    set_generic(ctx, &args[1], &args[2], &o, "setnx", replies)
}

fn setex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = StrOptions { expire: Some((ExpireKind::Ex, &args[2])), ..Default::default() };
    set_generic(ctx, &args[1], &args[3], &o, "setex", SET_REPLIES)
}

fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = StrOptions { expire: Some((ExpireKind::Px, &args[2])), ..Default::default() };
    set_generic(ctx, &args[1], &args[3], &o, "psetex", SET_REPLIES)
}

fn getset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = StrOptions { get: true, ..Default::default() };
    set_generic(ctx, &args[1], &args[2], &o, "getset", SET_REPLIES)
}

fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let v = read_str(ctx, &key)?;
    if v.is_some() {
        ctx.txn.remove(ctx.db(), &key);
        ctx.notify(notify::GENERIC, "del", &args[1]);
    }
    bulk_or_null(ctx, v.as_ref());
    Ok(())
}

/// GETEX: GET, then change the TTL. An absolute time already past deletes the key.
fn getex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = StrOptions::parse(&args[2..], false)?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let Some(v) = read_str(ctx, &key)? else {
        ctx.out.null();
        return Ok(());
    };
    let expire_at = o.expire_at(ctx, "getex")?;
    ctx.out.bulk(&v);
    let absolute = matches!(o.expire, Some((ExpireKind::ExAt | ExpireKind::PxAt, _)));
    match expire_at {
        Some(at) if absolute && at <= ctx.now_ms() => {
            ctx.txn.remove(db, &key);
            ctx.notify(notify::GENERIC, "del", &args[1]);
        }
        Some(at) => {
            ctx.txn.set_expire(db, &key, Some(at));
            ctx.notify(notify::GENERIC, "expire", &args[1]);
        }
        // PERSIST writes only when there is an expiry to remove.
        None if o.persist && ctx.txn.peek(db, &key).is_some_and(|e| e.expire_at().is_some()) => {
            ctx.txn.set_expire(db, &key, None);
            ctx.notify(notify::GENERIC, "persist", &args[1]);
        }
        None => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Many keys at once
// ---------------------------------------------------------------------------------------------

/// MGET: values of strings, nil for missing keys and for keys of other types.
fn mget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    let db = ctx.db();
    for key in ctx.keys_ahead(args[1..].iter()) {
        // Written straight from the stored value, as GET does: a clone of it would count a
        // reference up and down on the value's buffer, a cache line that every worker reading
        // the key takes in turn (a quarter of MGET's CPU on one hot key).
        // `as_str` is the string (or counter) itself and refuses every other type: nil for those.
        match ctx.txn.value(db, &key).map(Value::as_str) {
            Some(Ok(bytes)) => ctx.out.bulk(bytes),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// Sets every key/value pair of MSET or MSETNX (arity already checked).
fn set_pairs(ctx: &mut Ctx, args: &[Bytes]) {
    let keys = ctx.keys_ahead(args[1..].iter().step_by(2));
    for (pair, key) in args[1..].chunks_exact(2).zip(keys) {
        ctx.txn.insert(ctx.db(), key, Value::Str(pair[1].clone()), Expiry::Persist);
        ctx.notify(notify::STRING, "set", &pair[0]);
    }
}

/// MSET and MSETNX take key/value pairs: an odd count of arguments after the name.
fn check_pairs(args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        let name = if is(&args[0], "msetnx") { "msetnx" } else { "mset" };
        return Err(CmdError::WrongArity(name.into()));
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    check_pairs(args)?;
    set_pairs(ctx, args);
    ctx.out.ok();
    Ok(())
}

/// MSETNX: sets all pairs only if none of the keys exists (of whatever type).
fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    check_pairs(args)?;
    let any_exists = args[1..].iter().step_by(2).any(|k| {
        let key = ctx.key(k);
        ctx.txn.exists(ctx.db(), &key)
    });
    if !any_exists {
        set_pairs(ctx, args);
    }
    ctx.out.int(!any_exists as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Substrings
// ---------------------------------------------------------------------------------------------

/// APPEND: creates the key (even with an empty value) or extends it in place, keeping the TTL.
fn append(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let len = match peek_str(ctx, &key)? {
        None => {
            ctx.txn.insert(ctx.db(), key, Value::Str(args[2].clone()), Expiry::Persist);
            args[2].len()
        }
        Some(old) => {
            check_len(ctx, (old.len() + args[2].len()) as u64)?;
            edit_str(ctx, &key, |buf| buf.extend_from_slice(&args[2]))
        }
    };
    ctx.notify(notify::STRING, "append", &args[1]);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let len = read_str(ctx, &key)?.map_or(0, |v| v.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// GETRANGE (and its old name SUBSTR): inclusive range, negative indexes count from the end.
fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, end) = (int(&args[2])?, int(&args[3])?);
    let key = ctx.key(&args[1]);
    let v = read_str(ctx, &key)?.unwrap_or_default();
    let len = v.len() as i64;
    // Both negative and reversed is empty before clamping (Redis checks this first).
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let start = if start < 0 { len.saturating_add(start) } else { start }.max(0);
    let end = if end < 0 { len.saturating_add(end) } else { end }.max(0).min(len - 1);
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&v[start as usize..=end as usize]);
    }
    Ok(())
}

/// SETRANGE: overwrites from `offset`, padding with zero bytes; an empty value creates nothing.
fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = int(&args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let (key, value) = (ctx.key(&args[1]), &args[3]);
    let old_len = peek_str(ctx, &key)?.map(|v| v.len());
    if value.is_empty() {
        ctx.out.int(old_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_len(ctx, (offset as u64).saturating_add(value.len() as u64))?;
    let offset = offset as usize;
    let len = edit_str(ctx, &key, |buf| {
        let end = offset + value.len();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[offset..end].copy_from_slice(value);
    });
    ctx.notify(notify::STRING, "setrange", &args[1]);
    ctx.out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

/// Adds `delta` to the integer in the key (0 if absent), keeping its TTL.
fn incr_by(ctx: &mut Ctx, key_arg: &Bytes, delta: i64) -> CmdResult {
    let key = ctx.key(key_arg);
    let old = match peek_str(ctx, &key)? {
        Some(v) => int(&v)?,
        None => 0,
    };
    let new = old.checked_add(delta).ok_or(CmdError::Overflow)?;
    if ctx.txn.feeding() {
        // Replicated: this master's increment, merged with every other master's (a counter).
        ctx.txn.add_to_counter(ctx.db(), key, old, delta);
    } else {
        ctx.txn.insert(ctx.db(), key, Value::int(new), Expiry::Keep);
    }
    ctx.notify(notify::STRING, "incrby", key_arg);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, &args[1], int(&args[2])?)
}

fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let delta = int(&args[2])?;
    // -i64::MIN does not exist.
    let negated = delta.checked_neg().ok_or(CmdError::err("decrement would overflow"))?;
    incr_by(ctx, &args[1], negated)
}

/// INCRBYFLOAT: Redis computes in x87 `long double` and stores `%.17Lf` with trailing zeros
/// trimmed; [`long_double`] reproduces that exactly, so `10.5 + 0.1` gives `10.6` as in Redis.
fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let old = match peek_str(ctx, &key)? {
        Some(v) => long_double::parse(&v).ok_or(CmdError::NotFloat)?,
        None => long_double::ZERO,
    };
    let incr = long_double::parse(&args[2]).ok_or(CmdError::NotFloat)?;
    let sum = long_double::add(old, incr).ok_or(CmdError::err("increment would produce NaN or Infinity"))?;
    let text = Bytes::from(long_double::format_human(sum));
    ctx.out.bulk(&text);
    ctx.txn.insert(ctx.db(), key, Value::Str(text), Expiry::Keep);
    ctx.notify(notify::STRING, "incrbyfloat", &args[1]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------------------------

/// LCS's options.
#[derive(Default)]
struct LcsOptions {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

impl LcsOptions {
    fn parse(opts: &[Bytes]) -> Result<LcsOptions, CmdError> {
        let mut o = LcsOptions::default();
        let mut i = 0;
        while i < opts.len() {
            let opt = &opts[i];
            if is(opt, "IDX") {
                o.idx = true;
            } else if is(opt, "LEN") {
                o.len = true;
            } else if is(opt, "WITHMATCHLEN") {
                o.with_match_len = true;
            } else if is(opt, "MINMATCHLEN") && i + 1 < opts.len() {
                o.min_match_len = int(&opts[i + 1])?.max(0) as u64;
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        if o.idx && o.len {
            return Err(CmdError::err("If you want both the length and indexes, please just use IDX."));
        }
        Ok(o)
    }
}

/// One matching range: `a[a_start..=a_end]` equals `b[b_start..=b_end]`.
struct LcsMatch {
    a_start: usize,
    a_end: usize,
    b_start: usize,
}

/// LCS: the longest common subsequence of two strings, by the classic dynamic programming table
/// (as Redis does, with the same limit on the table's size).
fn lcs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (ka, kb) = (ctx.key(&args[1]), ctx.key(&args[2]));
    let wrong = || CmdError::err("The specified keys must contain string values");
    let a = read_str(ctx, &ka).map_err(|_| wrong())?;
    let b = read_str(ctx, &kb).map_err(|_| wrong())?;
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let o = LcsOptions::parse(&args[3..])?;
    let cells = (a.len() as u64 + 1).checked_mul(b.len() as u64 + 1).and_then(|n| n.checked_mul(4));
    if cells.is_none_or(|bytes| check_len(ctx, bytes).is_err()) {
        return Err(CmdError::err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let width = b.len() + 1;
    let mut dp = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            dp[i * width + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * width + j - 1] + 1
            } else {
                dp[(i - 1) * width + j].max(dp[i * width + j - 1])
            };
        }
    }
    let total = dp[a.len() * width + b.len()] as usize;
    if o.len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the common bytes and the contiguous ranges.
    let mut common = vec![0u8; total];
    let mut matches = Vec::new();
    let mut current: Option<LcsMatch> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), total);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            common[k - 1] = a[i - 1];
            match &mut current {
                None => current = Some(LcsMatch { a_start: i - 1, a_end: i - 1, b_start: j - 1 }),
                Some(m) if m.a_start == i && m.b_start == j => {
                    m.a_start -= 1;
                    m.b_start -= 1;
                }
                Some(_) => emit = true,
            }
            emit |= current.as_ref().is_some_and(|m| m.a_start == 0 || m.b_start == 0);
            (i, j, k) = (i - 1, j - 1, k - 1);
        } else {
            if dp[(i - 1) * width + j] > dp[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = current.is_some();
        }
        if emit {
            if let Some(m) = current.take() {
                if (m.a_end - m.a_start + 1) as u64 >= o.min_match_len {
                    matches.push(m);
                }
            }
        }
    }
    if !o.idx {
        ctx.out.bulk(&common);
        return Ok(());
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(matches.len());
    for m in &matches {
        let len = m.a_end - m.a_start + 1;
        ctx.out.array(2 + o.with_match_len as usize);
        for (start, end) in [(m.a_start, m.a_end), (m.b_start, m.b_start + len - 1)] {
            ctx.out.array(2);
            ctx.out.int(start as i64);
            ctx.out.int(end as i64);
        }
        if o.with_match_len {
            ctx.out.int(len as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
    Ok(())
}
