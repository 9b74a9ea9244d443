//! String commands (Redis's `t_string.c`): GET, SET and the rest of the family.

use bytes::{Bytes, BytesMut};
use meshkv_storage::{Expiry, Key, Value};

use super::args::{int, is};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

const KEY1: Keys = Keys::Range { first: 1, last: 1, step: 1 };
const ALL_KEYS: Keys = Keys::Range { first: 1, last: -1, step: 1 };
const EVERY_OTHER: Keys = Keys::Range { first: 1, last: -1, step: 2 };
const TWO_KEYS: Keys = Keys::Range { first: 1, last: 2, step: 1 };

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
    cmd("get", 2, READONLY | FAST, KEY1, "1.0.0", "Returns the string value of a key.", get),
    cmd(
        "set",
        -3,
        WRITE | DENYOOM,
        KEY1,
        "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        set,
    ),
    cmd(
        "setnx",
        3,
        WRITE | DENYOOM | FAST,
        KEY1,
        "1.0.0",
        "Set the string value of a key only when the key doesn't exist.",
        setnx,
    ),
    cmd("setex", 4, WRITE | DENYOOM, KEY1, "2.0.0", "Sets the string value and expiration time of a key.", setex),
    cmd(
        "psetex",
        4,
        WRITE | DENYOOM,
        KEY1,
        "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key.",
        psetex,
    ),
    cmd(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        KEY1,
        "1.0.0",
        "Returns the previous string value of a key after setting it to a new value.",
        getset,
    ),
    cmd("getdel", 2, WRITE | FAST, KEY1, "6.2.0", "Returns the string value of a key after deleting the key.", getdel),
    cmd(
        "getex",
        -2,
        WRITE | FAST,
        KEY1,
        "6.2.0",
        "Returns the string value of a key after setting its expiration time.",
        getex,
    ),
    cmd(
        "mget",
        -2,
        READONLY | FAST,
        ALL_KEYS,
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
        KEY1,
        "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        append,
    ),
    cmd("strlen", 2, READONLY | FAST, KEY1, "2.2.0", "Returns the length of a string value.", strlen),
    cmd("getrange", 4, READONLY, KEY1, "2.4.0", "Returns a substring of the string stored at a key.", getrange),
    cmd("substr", 4, READONLY, KEY1, "1.0.0", "Returns a substring from a string value.", getrange),
    cmd(
        "setrange",
        4,
        WRITE | DENYOOM,
        KEY1,
        "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        setrange,
    ),
    cmd(
        "incr",
        2,
        WRITE | DENYOOM | FAST,
        KEY1,
        "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        incr,
    ),
    cmd(
        "decr",
        2,
        WRITE | DENYOOM | FAST,
        KEY1,
        "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        decr,
    ),
    cmd(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        KEY1,
        "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        incrby,
    ),
    cmd(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        KEY1,
        "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        decrby,
    ),
    cmd(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        KEY1,
        "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        incrbyfloat,
    ),
    cmd("lcs", -3, READONLY, TWO_KEYS, "7.0.0", "Finds the longest common substring.", lcs),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// The key's string for reading (counts a keyspace hit or miss): `None` when absent.
pub(super) fn read_str(ctx: &mut Ctx, key: &Key) -> Result<Option<Bytes>, CmdError> {
    match ctx.txn.value(ctx.db(), key) {
        None => Ok(None),
        Some(v) => Ok(Some(v.as_str()?.clone())),
    }
}

/// The key's string as a write command sees it (no hit/miss statistics): `None` when absent.
fn peek_str(ctx: &mut Ctx, key: &Key) -> Result<Option<Bytes>, CmdError> {
    match ctx.txn.peek(ctx.db(), key) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_str()?.clone())),
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
    match ctx.txn.modify(db, key) {
        Some(Value::Str(s)) => {
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
        }
        Some(at) => {
            ctx.txn.set_expire(db, &key, Some(at));
        }
        // PERSIST writes only when there is an expiry to remove.
        None if o.persist && ctx.txn.peek(db, &key).is_some_and(|e| e.expire_at().is_some()) => {
            ctx.txn.set_expire(db, &key, None);
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
    for arg in &args[1..] {
        let key = ctx.key(arg);
        let v = match ctx.txn.value(ctx.db(), &key) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        bulk_or_null(ctx, v.as_ref());
    }
    Ok(())
}

/// Sets every key/value pair of MSET or MSETNX (arity already checked).
fn set_pairs(ctx: &mut Ctx, args: &[Bytes]) {
    for pair in args[1..].chunks_exact(2) {
        let key = ctx.key(&pair[0]);
        ctx.txn.insert(ctx.db(), key, Value::Str(pair[1].clone()), Expiry::Persist);
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
    ctx.txn.insert(ctx.db(), key, Value::Str(super::args::int_bytes(new)), Expiry::Keep);
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

/// Just enough of the x87 80-bit `long double` to reproduce INCRBYFLOAT bit for bit: `strtold`
/// (decimal, hex and `inf` forms, correctly rounded), addition with round-half-even, and
/// `%.17Lf`. Values are exact big-integer computations rounded to a 64-bit mantissa.
mod long_double {
    use std::cmp::Ordering;

    /// A finite value `mant * 2^exp` (a 64-bit mantissa, as x87 has), or an infinity.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum Ld {
        Finite { neg: bool, mant: u64, exp: i32 },
        Inf,
    }

    /// Positive zero.
    pub const ZERO: Ld = Ld::Finite { neg: false, mant: 0, exp: 0 };

    /// The smallest exponent (of the subnormals' last mantissa bit) and the overflow bound.
    const EXP_MIN: i64 = -16382 - 63;
    const MAX_BITS: i64 = 16384;

    /// Redis refuses longer inputs (`MAX_LONG_DOUBLE_CHARS`).
    const MAX_CHARS: usize = 5 * 1024;

    /// An unsigned big integer, little-endian 32-bit limbs.
    #[derive(Clone, Debug, Default)]
    struct Big(Vec<u32>);

    impl Big {
        fn from_u64(v: u64) -> Big {
            let mut b = Big(vec![v as u32, (v >> 32) as u32]);
            b.trim();
            b
        }

        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        fn bits(&self) -> u64 {
            self.0.last().map_or(0, |top| (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64))
        }

        fn bit(&self, i: u64) -> bool {
            self.0.get((i / 32) as usize).is_some_and(|l| l >> (i % 32) & 1 == 1)
        }

        /// True if any bit below `i` is set.
        fn any_below(&self, i: u64) -> bool {
            let (limbs, rest) = ((i / 32) as usize, i % 32);
            self.0.iter().take(limbs).any(|&l| l != 0)
                || (rest > 0 && self.0.get(limbs).is_some_and(|&l| l & ((1u32 << rest) - 1) != 0))
        }

        /// `self * m + a`.
        fn mul_add(&mut self, m: u32, a: u32) {
            let mut carry = a as u64;
            for l in self.0.iter_mut() {
                let v = *l as u64 * m as u64 + carry;
                *l = v as u32;
                carry = v >> 32;
            }
            if carry > 0 {
                self.0.push(carry as u32);
            }
            self.trim();
        }

        fn mul_pow10(&mut self, mut n: u64) {
            while n > 0 {
                let step = n.min(9);
                self.mul_add(10u32.pow(step as u32), 0);
                n -= step;
            }
        }

        /// Divides by a small number in place, returning the remainder.
        fn div_small(&mut self, d: u32) -> u32 {
            let mut rem = 0u64;
            for l in self.0.iter_mut().rev() {
                let cur = (rem << 32) | *l as u64;
                *l = (cur / d as u64) as u32;
                rem = cur % d as u64;
            }
            self.trim();
            rem as u32
        }

        fn shl(&self, n: u64) -> Big {
            if self.is_zero() {
                return Big::default();
            }
            let (limbs, bits) = ((n / 32) as usize, n % 32);
            let mut out = vec![0u32; limbs];
            let mut carry = 0u32;
            for &l in &self.0 {
                out.push(if bits == 0 { l } else { (l << bits) | carry });
                carry = if bits == 0 { 0 } else { l >> (32 - bits) };
            }
            out.push(carry);
            let mut b = Big(out);
            b.trim();
            b
        }

        /// The 64 bits starting at bit `from`.
        fn u64_at(&self, from: u64) -> u64 {
            (0..64).filter(|&i| self.bit(from + i)).fold(0u64, |acc, i| acc | 1 << i)
        }

        fn cmp(&self, other: &Big) -> Ordering {
            self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
        }

        fn add(&self, other: &Big) -> Big {
            let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
            let mut carry = 0u64;
            for i in 0..self.0.len().max(other.0.len()) {
                let v = *self.0.get(i).unwrap_or(&0) as u64 + *other.0.get(i).unwrap_or(&0) as u64 + carry;
                out.push(v as u32);
                carry = v >> 32;
            }
            out.push(carry as u32);
            let mut b = Big(out);
            b.trim();
            b
        }

        /// `self - other`; `self` must not be smaller.
        fn sub(&self, other: &Big) -> Big {
            let mut out = Vec::with_capacity(self.0.len());
            let mut borrow = 0i64;
            for (i, &l) in self.0.iter().enumerate() {
                let mut v = l as i64 - *other.0.get(i).unwrap_or(&0) as i64 - borrow;
                borrow = (v < 0) as i64;
                if v < 0 {
                    v += 1 << 32;
                }
                out.push(v as u32);
            }
            let mut b = Big(out);
            b.trim();
            b
        }

        /// `floor(self / d)` when the quotient is known to fit in 128 bits, and whether there is
        /// a remainder.
        fn div_small_quotient(&self, d: &Big) -> (u128, bool) {
            let mut rem = self.clone();
            let mut q = 0u128;
            let top = (self.bits() + 1).saturating_sub(d.bits()).min(127);
            for k in (0..=top).rev() {
                let shifted = d.shl(k);
                if rem.cmp(&shifted) != Ordering::Less {
                    rem = rem.sub(&shifted);
                    q |= 1 << k;
                }
            }
            (q, !rem.is_zero())
        }
    }

    /// Rounds `n * 2^scale` (plus a sticky bit for lost lower digits) to a long double, ties to
    /// even, with subnormals and overflow to infinity.
    fn round(neg: bool, n: &Big, scale: i64, sticky: bool) -> Ld {
        let bits = n.bits() as i64;
        if bits == 0 {
            return Ld::Finite { neg, mant: 0, exp: 0 };
        }
        let exp = (scale + bits - 64).max(EXP_MIN);
        let shift = exp - scale;
        let mut exp = exp;
        let mant = if shift <= 0 {
            n.u64_at(0) << (-shift)
        } else {
            let shift = shift as u64;
            let mut m = n.u64_at(shift);
            let half = n.bit(shift - 1);
            let rest = sticky || n.any_below(shift - 1);
            if half && (rest || m & 1 == 1) {
                m = m.wrapping_add(1);
                if m == 0 {
                    exp += 1;
                    m = 1 << 63;
                }
            }
            m
        };
        if exp + (64 - mant.leading_zeros() as i64) > MAX_BITS {
            return Ld::Inf;
        }
        Ld::Finite { neg, mant, exp: exp as i32 }
    }

    /// Parses as Redis's `string2ld` (`strtold` over the whole text, no leading space, no NaN,
    /// no overflow or underflow to zero).
    pub fn parse(text: &[u8]) -> Option<Ld> {
        if text.is_empty() || text.len() >= MAX_CHARS || text[0].is_ascii_whitespace() {
            return None;
        }
        let (neg, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Ld::Inf);
        }
        let hex = body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
        let (digits, exp_char, radix) = if hex { (&body[2..], b'p', 16) } else { (body, b'e', 10) };
        // Mantissa digits with an optional point, then an optional exponent.
        let mut n = Big::default();
        let (mut count, mut frac, mut seen_point, mut i) = (0usize, 0i64, false, 0);
        while i < digits.len() {
            let c = digits[i];
            if c == b'.' && !seen_point {
                seen_point = true;
            } else if let Some(d) = (c as char).to_digit(radix) {
                n.mul_add(radix, d);
                count += 1;
                frac += seen_point as i64;
            } else {
                break;
            }
            i += 1;
        }
        if count == 0 {
            return None;
        }
        let mut exp = 0i64;
        if i < digits.len() {
            let rest = &digits[i + 1..];
            let (eneg, edigits) = match rest.first() {
                Some(b'-') => (true, &rest[1..]),
                Some(b'+') => (false, &rest[1..]),
                _ => (false, rest),
            };
            if (digits[i] | 0x20) != exp_char || edigits.is_empty() || !edigits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            exp = edigits.iter().fold(0i64, |acc, &d| (acc * 10 + (d - b'0') as i64).min(1 << 40));
            if eneg {
                exp = -exp;
            }
        }
        if n.is_zero() {
            return Some(Ld::Finite { neg, mant: 0, exp: 0 });
        }
        let value = if hex {
            let scale = exp - 4 * frac;
            if scale > MAX_BITS || scale < EXP_MIN - 4 * MAX_CHARS as i64 {
                return None;
            }
            round(neg, &n, scale, false)
        } else {
            decimal_to_ld(neg, n, exp - frac)?
        };
        match value {
            Ld::Finite { mant: 0, .. } | Ld::Inf => None,
            v => Some(v),
        }
    }

    /// Correctly rounds `n * 10^exp10`.
    fn decimal_to_ld(neg: bool, n: Big, exp10: i64) -> Option<Ld> {
        // Past these bounds the result overflows or underflows whatever the digits are.
        if exp10 > 5000 || exp10 < -(5000 + MAX_CHARS as i64) {
            return None;
        }
        if exp10 >= 0 {
            let mut n = n;
            n.mul_pow10(exp10 as u64);
            return Some(round(neg, &n, 0, false));
        }
        let mut p = Big::from_u64(1);
        p.mul_pow10((-exp10) as u64);
        // Scale so that the quotient has at least 66 significant bits, then round it.
        let k = (p.bits() as i64 - n.bits() as i64 + 66).max(0) as u64;
        let (q, inexact) = n.shl(k).div_small_quotient(&p);
        let q = Big(vec![q as u32, (q >> 32) as u32, (q >> 64) as u32, (q >> 96) as u32]);
        let mut q = q;
        q.trim();
        Some(round(neg, &q, -(k as i64), inexact))
    }

    /// `a + b`, or `None` for infinities (Redis: "increment would produce NaN or Infinity").
    pub fn add(a: Ld, b: Ld) -> Option<Ld> {
        let (Ld::Finite { neg: na, mant: ma, exp: ea }, Ld::Finite { neg: nb, mant: mb, exp: eb }) = (a, b) else {
            return None;
        };
        let base = match (ma, mb) {
            (0, _) => eb,
            (_, 0) => ea,
            _ => ea.min(eb),
        } as i64;
        let big = |m: u64, e: i32| if m == 0 { Big::default() } else { Big::from_u64(m).shl((e as i64 - base) as u64) };
        let (x, y) = (big(ma, ea), big(mb, eb));
        let (neg, sum) = if na == nb {
            (na, x.add(&y))
        } else {
            match x.cmp(&y) {
                Ordering::Less => (nb, y.sub(&x)),
                _ => (na, x.sub(&y)),
            }
        };
        match round(neg, &sum, base, false) {
            Ld::Inf => None,
            v => Some(v),
        }
    }

    /// `%.17Lf` with trailing zeros (and a bare point) trimmed, and `-0` written `0`: Redis's
    /// `ld2string(..., LD_STR_HUMAN)`.
    pub fn format_human(v: Ld) -> String {
        let Ld::Finite { neg, mant, exp } = v else {
            return "inf".into();
        };
        let mut n = Big::from_u64(mant);
        n.mul_pow10(17);
        let scaled = if exp >= 0 {
            n.shl(exp as u64)
        } else {
            let shift = (-exp) as u64;
            let mut q = Big((0..n.bits().saturating_sub(shift).div_ceil(32))
                .map(|i| n.u64_at(shift + i * 32) as u32)
                .collect());
            q.trim();
            let half = n.bit(shift - 1);
            if half && (n.any_below(shift - 1) || q.bit(0)) {
                q = q.add(&Big::from_u64(1));
            }
            q
        };
        let mut digits = Vec::new();
        let mut s = scaled;
        while !s.is_zero() {
            let chunk = s.div_small(1_000_000_000);
            let text = if s.is_zero() { chunk.to_string() } else { format!("{chunk:09}") };
            digits.push(text);
        }
        let mut text: String = digits.into_iter().rev().collect();
        if text.len() < 18 {
            text = format!("{text:0>18}");
        }
        let (int_part, frac_part) = text.split_at(text.len() - 17);
        let frac_part = frac_part.trim_end_matches('0');
        let mut out = String::with_capacity(text.len() + 2);
        if neg && !(int_part == "0" && frac_part.is_empty()) {
            out.push('-');
        }
        out.push_str(int_part);
        if !frac_part.is_empty() {
            out.push('.');
            out.push_str(frac_part);
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn sum(a: &str, b: &str) -> String {
            format_human(add(parse(a.as_bytes()).unwrap(), parse(b.as_bytes()).unwrap()).unwrap())
        }

        #[test]
        fn matches_redis_long_double_arithmetic() {
            assert_eq!(sum("10.5", "0.1"), "10.6");
            assert_eq!(sum("0.1", "0.2"), "0.3");
            assert_eq!(sum("0", "3.0e3"), "3000");
            assert_eq!(sum("10000000000", "0.1"), "10000000000.09999999962747097");
            assert_eq!(sum("0", "1e30"), "1000000000000000000024696061952");
            assert_eq!(sum("0x10", "1.5e-20"), "16");
            assert_eq!(sum("-1.5", "1.5"), "0");
            assert_eq!(sum("-1e-20", "0"), "0");
            assert_eq!(sum("5", "-7.25"), "-2.25");
            assert!(parse(b"nan").is_none());
            assert!(parse(b" 1").is_none());
            assert!(parse(b"1e").is_none());
            assert!(parse(b"1e99999").is_none());
            assert!(parse(b"1e-99999").is_none());
            assert!(add(parse(b"inf").unwrap(), ZERO).is_none());
        }
    }
}
