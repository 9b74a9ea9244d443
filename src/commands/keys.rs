//! Generic key commands (Redis's `db.c`, `expire.c` and `object.c`): deleting, inspecting,
//! iterating, renaming, moving and copying keys, and their time to live.

use bytes::Bytes;
use meshkv_storage::{Expiry, Key, Value, ValueType};
use smallvec::SmallVec;

use super::args::{int, is, parse_int};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::config::EncodingLimits;
use crate::error::{CmdError, CmdResult};
use crate::glob;
use crate::notify;

/// OBJECT's key follows the subcommand (OBJECT HELP has none; the range is then empty).
const OBJECT_KEY: Keys = Keys::Range { first: 2, last: 2, step: 1 };

/// Builds a [`CommandSpec`] row of the generic group.
macro_rules! generic {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $since:literal, $handler:expr, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            group: "generic",
            summary: $summary,
            since: $since,
            handler: $handler,
        }
    };
}

pub(super) static COMMANDS: &[CommandSpec] = &[
    generic!("del", -2, WRITE, Keys::ALL, "1.0.0", del, "Deletes one or more keys."),
    generic!("unlink", -2, WRITE | FAST, Keys::ALL, "4.0.0", del, "Asynchronously deletes one or more keys."),
    generic!("exists", -2, READONLY | FAST, Keys::ALL, "1.0.0", exists, "Determines whether one or more keys exist."),
    generic!(
        "touch",
        -2,
        READONLY | FAST,
        Keys::ALL,
        "3.2.1",
        touch,
        "Returns the number of existing keys out of those specified after updating the time they were last accessed."
    ),
    generic!("type", 2, READONLY | FAST, Keys::FIRST, "1.0.0", type_, "Determines the type of value stored at a key."),
    generic!("keys", 2, READONLY, Keys::Db, "1.0.0", keys, "Returns all key names that match a pattern."),
    generic!("scan", -2, READONLY, Keys::Db, "2.8.0", scan, "Iterates over the key names in the database."),
    generic!("randomkey", 1, READONLY, Keys::Db, "1.0.0", randomkey, "Returns a random key name from the database."),
    generic!("rename", 3, WRITE, Keys::FIRST_TWO, "1.0.0", rename, "Renames a key and overwrites the destination."),
    generic!(
        "renamenx",
        3,
        WRITE | FAST,
        Keys::FIRST_TWO,
        "1.0.0",
        renamenx,
        "Renames a key only when the target key name doesn't exist."
    ),
    // COPY ... DB n and MOVE reach into another database: they lock their keys where they are.
    generic!(
        "copy",
        -3,
        WRITE | DENYOOM,
        Keys::Placed(copy_keys),
        "6.2.0",
        copy,
        "Copies the value of a key to a new key."
    ),
    generic!("move", 3, WRITE | FAST, Keys::Placed(move_keys), "1.0.0", move_, "Moves a key to another database."),
    generic!("object", -2, READONLY, OBJECT_KEY, "2.2.3", object, "A container for object introspection commands."),
    generic!("expire", -3, WRITE | FAST, Keys::FIRST, "1.0.0", expire, "Sets the expiration time of a key in seconds."),
    generic!(
        "pexpire",
        -3,
        WRITE | FAST,
        Keys::FIRST,
        "2.6.0",
        pexpire,
        "Sets the expiration time of a key in milliseconds."
    ),
    generic!(
        "expireat",
        -3,
        WRITE | FAST,
        Keys::FIRST,
        "1.2.0",
        expireat,
        "Sets the expiration time of a key to a Unix timestamp."
    ),
    generic!(
        "pexpireat",
        -3,
        WRITE | FAST,
        Keys::FIRST,
        "2.6.0",
        pexpireat,
        "Sets the expiration time of a key to a Unix milliseconds timestamp."
    ),
    generic!("ttl", 2, READONLY | FAST, Keys::FIRST, "1.0.0", ttl, "Returns the expiration time in seconds of a key."),
    generic!(
        "pttl",
        2,
        READONLY | FAST,
        Keys::FIRST,
        "2.6.0",
        pttl,
        "Returns the expiration time in milliseconds of a key."
    ),
    generic!(
        "expiretime",
        2,
        READONLY | FAST,
        Keys::FIRST,
        "7.0.0",
        expiretime,
        "Returns the expiration time of a key as a Unix timestamp."
    ),
    generic!(
        "pexpiretime",
        2,
        READONLY | FAST,
        Keys::FIRST,
        "7.0.0",
        pexpiretime,
        "Returns the expiration time of a key as a Unix milliseconds timestamp."
    ),
    generic!("persist", 2, WRITE | FAST, Keys::FIRST, "2.2.0", persist, "Removes the expiration time of a key."),
];

// ---- existence ----

/// DEL and UNLINK: meshkv frees values when the last reference drops, so both are the same.
fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut removed = 0;
    for (arg, key) in args[1..].iter().zip(ctx.keys_ahead(args[1..].iter())) {
        if ctx.txn.delete(db, &key) {
            ctx.notify(notify::GENERIC, "del", arg);
            removed += 1;
        }
    }
    ctx.out.int(removed);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut found = 0;
    for key in ctx.keys_ahead(args[1..].iter()) {
        found += ctx.txn.exists(db, &key) as i64;
    }
    ctx.out.int(found);
    Ok(())
}

/// TOUCH reads each key, which is what refreshes its access time.
fn touch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut found = 0;
    for key in ctx.keys_ahead(args[1..].iter()) {
        found += ctx.txn.get(db, &key).is_some() as i64;
    }
    ctx.out.int(found);
    Ok(())
}

fn type_(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let name = ctx.txn.peek(ctx.db(), &key).map_or("none", |e| e.value.value_type().name());
    ctx.out.simple(name);
    Ok(())
}

// ---- iteration ----

fn keys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let every = pattern.as_ref() == b"*";
    let cut = ctx.txn.cut(ctx.db());
    let found: Vec<&[u8]> = cut.iter().map(|(k, _)| k).filter(|k| every || glob::matches(pattern, k, false)).collect();
    ctx.out.array(found.len());
    for key in found {
        ctx.out.bulk(key);
    }
    Ok(())
}

/// Parses a SCAN cursor as Redis does with `strtoul`: an optional sign (a negative number wraps
/// around), then decimal digits filling the whole argument. The empty string is cursor 0.
fn parse_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    let invalid = || CmdError::fixed("ERR invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() && !arg.is_empty() {
        return Err(invalid());
    }
    let mut cursor: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(invalid());
        }
        cursor = cursor.checked_mul(10).and_then(|c| c.checked_add((d - b'0') as u64)).ok_or_else(invalid)?;
    }
    Ok(if negative { cursor.wrapping_neg() } else { cursor })
}

/// SCAN's filters.
struct ScanFilter<'a> {
    pattern: Option<&'a [u8]>,
    /// `Some(None)`: a TYPE no value has, which matches nothing (as in Redis 7.0).
    value_type: Option<Option<ValueType>>,
}

impl ScanFilter<'_> {
    fn accepts(&self, key: &[u8], value: &Value) -> bool {
        self.value_type.is_none_or(|t| t == Some(value.value_type()))
            && self.pattern.is_none_or(|p| glob::matches(p, key, false))
    }
}

fn scan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1])?;
    let mut count = 10usize;
    let mut filter = ScanFilter { pattern: None, value_type: None };
    for option in args[2..].chunks(2) {
        let [name, value] = option else { return Err(CmdError::Syntax) };
        if is(name, "COUNT") {
            let n = int(value)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(name, "MATCH") {
            // "*" matches everything: skip the matching altogether.
            filter.pattern = (value.as_ref() != b"*").then_some(value.as_ref());
        } else if is(name, "TYPE") {
            filter.value_type = Some(ValueType::from_name(value));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut found = Vec::new();
    let next = ctx.txn.scan(ctx.db(), cursor, count, |key, entry| {
        if filter.accepts(key, &entry.value) {
            found.push(Bytes::copy_from_slice(key));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for key in &found {
        ctx.out.bulk(key);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    match ctx.txn.random_key(ctx.db()) {
        Some(key) => ctx.out.bulk(key.bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---- renaming, moving, copying ----

fn rename(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// RENAME and RENAMENX: the entry moves whole to its new name, expiry included.
fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> CmdResult {
    let (db, src, dst) = (ctx.db(), ctx.key(&args[1]), ctx.key(&args[2]));
    if !ctx.txn.exists(db, &src) {
        return Err(CmdError::NoSuchKey);
    }
    // Renaming a key to itself changes nothing, but still needs the key to exist (checked above).
    let done = if src == dst {
        !nx
    } else if nx && ctx.txn.exists(db, &dst) {
        false
    } else {
        let replaced = ctx.txn.exists(db, &dst);
        move_entry(ctx, (db, &src), (db, dst));
        if replaced {
            // Redis deletes the destination and adds the key anew: a `new` event either way.
            ctx.notify(notify::NEW, "new", &args[2]);
        }
        ctx.notify(notify::GENERIC, "rename_from", &args[1]);
        ctx.notify(notify::GENERIC, "rename_to", &args[2]);
        true
    };
    if nx {
        ctx.out.int(done as i64);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// Moves the live entry at `from` to `to` (replacing whatever is there), keeping its value,
/// expiry and access statistics, as Redis moves the object itself. It takes this command's
/// stamp: the destination's content is a new write.
fn move_entry(ctx: &mut Ctx, from: (usize, &Key), to: (usize, Key)) {
    if let Some(mut entry) = ctx.txn.remove(from.0, from.1) {
        entry.stamp = ctx.txn.stamp();
        ctx.txn.insert_entry(to.0, to.1, entry);
    }
}

/// A database number argument (COPY ... DB, MOVE), with Redis's two errors.
fn db_index(arg: &[u8], databases: usize) -> Result<usize, CmdError> {
    let n = int(arg)?;
    i32::try_from(n)
        .map_err(|_| CmdError::fixed("ERR value is out of range, value must between -2147483648 and 2147483647"))?;
    usize::try_from(n).ok().filter(|&db| db < databases).ok_or(CmdError::DbIndexOutOfRange)
}

/// MOVE locks its key in the client's database and in the target one.
fn move_keys(args: &[Bytes], db: usize, databases: usize, keys: &mut SmallVec<[(usize, usize); 4]>) {
    keys.push((db, 1));
    if let Ok(target) = db_index(&args[2], databases) {
        keys.push((target, 1));
    }
}

/// COPY's options: the destination database and REPLACE.
fn copy_options(args: &[Bytes], db: usize, databases: usize) -> Result<(usize, bool), CmdError> {
    let (mut dst_db, mut replace) = (db, false);
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "REPLACE") {
            replace = true;
        } else if is(&args[i], "DB") && i + 1 < args.len() {
            dst_db = db_index(&args[i + 1], databases)?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok((dst_db, replace))
}

/// COPY locks its source in the client's database and its destination where it goes.
fn copy_keys(args: &[Bytes], db: usize, databases: usize, keys: &mut SmallVec<[(usize, usize); 4]>) {
    keys.push((db, 1));
    if let Ok((dst_db, _)) = copy_options(args, db, databases) {
        keys.push((dst_db, 2));
    }
}

const SAME_OBJECT: CmdError = CmdError::fixed("ERR source and destination objects are the same");

fn move_(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src_db, dst_db) = (ctx.db(), db_index(&args[2], ctx.keyspace().databases())?);
    if src_db == dst_db {
        return Err(SAME_OBJECT);
    }
    let key = ctx.key(&args[1]);
    let moved = ctx.txn.exists(src_db, &key) && !ctx.txn.exists(dst_db, &key);
    if moved {
        move_entry(ctx, (src_db, &key), (dst_db, key.clone()));
        ctx.server.notify(notify::GENERIC, "move_from", src_db, &args[1]);
        ctx.server.notify(notify::GENERIC, "move_to", dst_db, &args[1]);
    }
    ctx.out.int(moved as i64);
    Ok(())
}

fn copy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let src_db = ctx.db();
    let (dst_db, replace) = copy_options(args, src_db, ctx.keyspace().databases())?;
    let (src, dst) = (ctx.key(&args[1]), ctx.key(&args[2]));
    if src_db == dst_db && src == dst {
        return Err(SAME_OBJECT);
    }
    let Some((value, expire_at)) = ctx.txn.get(src_db, &src).map(|e| (e.value.clone(), e.expire_at())) else {
        ctx.out.int(0);
        return Ok(());
    };
    let replaced = ctx.txn.exists(dst_db, &dst);
    if !replace && replaced {
        ctx.out.int(0);
        return Ok(());
    }
    // The copy is a new object: fresh stamp and access time. Collections share their storage with
    // the source until either side writes (copy on write), which is what makes COPY cheap.
    ctx.txn.insert(dst_db, dst, value, expire_at.map_or(Expiry::Persist, Expiry::At));
    if replaced {
        // As RENAME: the replaced destination is deleted and the copy added anew.
        ctx.server.notify(notify::NEW, "new", dst_db, &args[2]);
    }
    ctx.server.notify(notify::GENERIC, "copy_to", dst_db, &args[2]);
    ctx.out.int(1);
    Ok(())
}

// ---- OBJECT ----

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// OBJECT FREQ under a non-LFU `maxmemory-policy`.
const NO_LFU: CmdError = CmdError::fixed("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
/// OBJECT IDLETIME under an LFU `maxmemory-policy`.
const NO_LRU: CmdError = CmdError::fixed("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");

/// Redis shares the objects of small integers: their reference count reads as `INT_MAX`.
const SHARED_INTEGERS: i64 = 10_000;
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

fn object(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    let expected_args = match sub.as_slice() {
        b"help" => 2,
        b"encoding" | b"freq" | b"idletime" | b"refcount" => 3,
        _ => {
            return Err(CmdError::UnknownSubcommand { sub: super::args::lossy(&args[1]), cmd: "OBJECT".into() });
        }
    };
    if args.len() != expected_args {
        return Err(CmdError::WrongArity(format!("object|{}", String::from_utf8_lossy(&sub)).into()));
    }
    if sub == b"help" {
        ctx.out.array(OBJECT_HELP.len());
        OBJECT_HELP.iter().for_each(|line| ctx.out.simple(line));
        return Ok(());
    }
    let (db, key, now) = (ctx.db(), ctx.key(&args[2]), ctx.now_ms());
    let (lfu, decay, limits) = {
        let c = ctx.server.config.read();
        (c.maxmemory_policy.lfu(), c.lfu_decay_time, c.encodings)
    };
    let Some(entry) = ctx.txn.peek(db, &key) else {
        ctx.out.null();
        return Ok(());
    };
    match sub.as_slice() {
        b"encoding" => {
            let name = encoding(&entry.value, &limits);
            ctx.out.bulk(name.as_bytes());
        }
        b"idletime" if lfu => return Err(NO_LRU),
        b"freq" if lfu => ctx.out.int(i64::from(entry.lfu_counter(now, decay))),
        b"idletime" => {
            let secs = entry.idle_ms(now) / 1000;
            ctx.out.int(secs as i64);
        }
        b"refcount" => {
            let shared = matches!(&entry.value, Value::Str(_) | Value::Small(_) | Value::Counter(_)
                if entry.value.as_str().ok().and_then(parse_int).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n)));
            ctx.out.int(if shared { SHARED_REFCOUNT } else { 1 });
        }
        _ => return Err(NO_LFU),
    }
    Ok(())
}

/// The internal encoding Redis 7.0 would use for `value` under the thresholds `limits`
/// (`hash-max-listpack-entries`...). meshkv has one representation per type; this reports what
/// Redis would pick for the value's current contents (Redis, which converts a value only as it
/// grows, can still hold a value that shrank back under a threshold in the larger encoding).
fn encoding(value: &Value, limits: &EncodingLimits) -> &'static str {
    const EMBSTR_MAX: usize = 44;
    let fits = |len: usize, max: u64| len as u64 <= max;
    match value {
        Value::Str(_) | Value::Small(_) => {
            let s = value.as_str().expect("a string");
            if s.len() <= 20 && parse_int(s).is_some() {
                "int"
            } else if s.len() <= EMBSTR_MAX {
                "embstr"
            } else {
                "raw"
            }
        }
        // A counter always holds an integer.
        Value::Counter(_) => "int",
        // Redis 7.0 stores every list as a quicklist (listpack lists came with 7.2).
        Value::List(_) => "quicklist",
        Value::Hash(_) | Value::DotHash(_) => {
            let h = value.as_hash().expect("a hash");
            let small = fits(h.len(), limits.hash_max_listpack_entries)
                && h.iter().all(|(f, v)| {
                    fits(f.len(), limits.hash_max_listpack_value) && fits(v.len(), limits.hash_max_listpack_value)
                });
            if small {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::Set(_) | Value::DotSet(_) => {
            let s = value.as_set().expect("a set");
            if fits(s.len(), limits.set_max_intset_entries) && s.iter().all(|m| parse_int(m).is_some()) {
                "intset"
            } else {
                "hashtable"
            }
        }
        Value::ZSet(_) | Value::DotZSet(_) => {
            let z = value.as_zset().expect("a sorted set");
            let small = fits(z.len(), limits.zset_max_listpack_entries)
                && z.iter().all(|(m, _)| fits(m.len(), limits.zset_max_listpack_value));
            if small {
                "listpack"
            } else {
                "skiplist"
            }
        }
    }
}

// ---- expiry ----

fn expire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeArg { unit_ms: 1000, absolute: false, cmd: "expire" })
}

fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeArg { unit_ms: 1, absolute: false, cmd: "pexpire" })
}

fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeArg { unit_ms: 1000, absolute: true, cmd: "expireat" })
}

fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, TimeArg { unit_ms: 1, absolute: true, cmd: "pexpireat" })
}

/// How an EXPIRE-family command reads its time argument.
struct TimeArg {
    unit_ms: i64,
    absolute: bool,
    cmd: &'static str,
}

impl TimeArg {
    /// The argument as absolute Unix milliseconds. It may lie in the past (even before 1970): that
    /// deletes the key. Only overflow is an error.
    fn to_unix_ms(&self, arg: &[u8], now_ms: u64) -> Result<i64, CmdError> {
        let invalid = || CmdError::err(format!("invalid expire time in '{}' command", self.cmd));
        let base = if self.absolute { 0 } else { now_ms as i64 };
        int(arg)?.checked_mul(self.unit_ms).and_then(|ms| ms.checked_add(base)).ok_or_else(invalid)
    }
}

/// EXPIRE's NX | XX | GT | LT condition.
#[derive(Default)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    fn parse(options: &[Bytes]) -> Result<ExpireCondition, CmdError> {
        let mut c = ExpireCondition::default();
        for opt in options {
            let flag = match opt.to_ascii_uppercase().as_slice() {
                b"NX" => &mut c.nx,
                b"XX" => &mut c.xx,
                b"GT" => &mut c.gt,
                b"LT" => &mut c.lt,
                _ => return Err(CmdError::err(format!("Unsupported option {}", super::args::lossy(opt)))),
            };
            *flag = true;
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::fixed("ERR NX and XX, GT or LT options at the same time are not compatible"));
        }
        if c.gt && c.lt {
            return Err(CmdError::fixed("ERR GT and LT options at the same time are not compatible"));
        }
        Ok(c)
    }

    /// May the key's expiry change from `current` to `new`? No expiry counts as an infinite one.
    fn allows(&self, current: Option<u64>, new: i64) -> bool {
        let current = current.map(|at| at as i64);
        !(self.nx && current.is_some()
            || self.xx && current.is_none()
            || self.gt && current.is_none_or(|at| new <= at)
            || self.lt && current.is_some_and(|at| new >= at))
    }
}

fn expire_generic(ctx: &mut Ctx, args: &[Bytes], time: TimeArg) -> CmdResult {
    let condition = ExpireCondition::parse(&args[3..])?;
    let now = ctx.now_ms();
    let at = time.to_unix_ms(&args[2], now)?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let changed = match ctx.txn.peek(db, &key).map(|e| e.expire_at()) {
        Some(current) if condition.allows(current, at) => {
            if at <= now as i64 {
                ctx.txn.remove(db, &key);
                ctx.notify(notify::GENERIC, "del", &args[1]);
            } else {
                ctx.txn.set_expire(db, &key, Some(at as u64));
                ctx.notify(notify::GENERIC, "expire", &args[1]);
            }
            true
        }
        _ => false,
    };
    ctx.out.int(changed as i64);
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 for one without expiry, else the
/// remaining time (or the absolute time) in milliseconds or in rounded seconds.
fn ttl_generic(ctx: &mut Ctx, args: &[Bytes], millis: bool, absolute: bool) -> CmdResult {
    let (db, key, now) = (ctx.db(), ctx.key(&args[1]), ctx.now_ms());
    let reply = match ctx.txn.peek(db, &key).map(|e| e.expire_at()) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let ms = if absolute { at } else { at.saturating_sub(now) } as i64;
            if millis {
                ms
            } else {
                (ms + 500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn persist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let volatile = ctx.txn.peek(db, &key).is_some_and(|e| e.expire_at().is_some());
    if volatile {
        ctx.txn.set_expire(db, &key, None);
        ctx.notify(notify::GENERIC, "persist", &args[1]);
    }
    ctx.out.int(volatile as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+00"), Ok(0));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [&b"18446744073709551616"[..], b"abc", b" 1", b"1 ", b"+", b"-"] {
            assert!(parse_cursor(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn expire_conditions() {
        let parse = |opts: &[&str]| {
            ExpireCondition::parse(&opts.iter().map(|o| Bytes::copy_from_slice(o.as_bytes())).collect::<Vec<_>>())
        };
        assert!(parse(&["nx", "xx"]).is_err());
        assert!(parse(&["gt", "LT"]).is_err());
        let gt_xx = parse(&["XX", "GT"]).unwrap();
        assert!(!gt_xx.allows(None, 5));
        assert!(!gt_xx.allows(Some(10), 10));
        assert!(gt_xx.allows(Some(10), 11));
        let lt = parse(&["lt"]).unwrap();
        assert!(lt.allows(None, 5));
        assert!(!lt.allows(Some(5), 5));
        assert!(parse(&["nx"]).unwrap().allows(None, 1));
        assert!(!parse(&["nx"]).unwrap().allows(Some(1), 1));
    }

    #[test]
    fn encodings_follow_redis_7_0_defaults() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let limits = EncodingLimits::default();
        let encoding = |v: &Value| encoding(v, &limits);
        assert_eq!(encoding(&Value::Str(b("-123"))), "int");
        assert_eq!(encoding(&Value::Str(b("012"))), "embstr");
        assert_eq!(encoding(&Value::Str(b(&"a".repeat(44)))), "embstr");
        assert_eq!(encoding(&Value::Str(b(&"a".repeat(45)))), "raw");
        assert_eq!(encoding(&Value::new_list()), "quicklist");

        let mut set = Value::new_set();
        set.as_set_mut().unwrap().extend((0..512).map(|i| b(&i.to_string())));
        assert_eq!(encoding(&set), "intset");
        set.as_set_mut().unwrap().insert(b("512"));
        assert_eq!(encoding(&set), "hashtable");
        let mut set = Value::new_set();
        set.as_set_mut().unwrap().insert(b("a"));
        assert_eq!(encoding(&set), "hashtable");

        let mut hash = Value::new_hash();
        hash.as_hash_mut().unwrap().extend((0..512).map(|i| (b(&i.to_string()), b("v"))));
        assert_eq!(encoding(&hash), "listpack");
        hash.as_hash_mut().unwrap().insert(b("f"), b(&"v".repeat(65)));
        assert_eq!(encoding(&hash), "hashtable");

        let mut zset = Value::new_zset();
        (0..128).for_each(|i| _ = zset.as_zset_mut().unwrap().insert(b(&i.to_string()), 1.0));
        assert_eq!(encoding(&zset), "listpack");
        zset.as_zset_mut().unwrap().insert(b("x"), 2.0);
        assert_eq!(encoding(&zset), "skiplist");
        let mut zset = Value::new_zset();
        zset.as_zset_mut().unwrap().insert(b(&"m".repeat(65)), 1.0);
        assert_eq!(encoding(&zset), "skiplist");
    }

    #[test]
    fn encodings_follow_the_thresholds() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let limits = EncodingLimits {
            hash_max_listpack_entries: 2,
            hash_max_listpack_value: 3,
            zset_max_listpack_entries: 0,
            set_max_intset_entries: 1,
            ..EncodingLimits::default()
        };
        let mut hash = Value::new_hash();
        hash.as_hash_mut().unwrap().insert(b("f"), b("abc"));
        assert_eq!(encoding(&hash, &limits), "listpack");
        hash.as_hash_mut().unwrap().insert(b("g"), b("abcd"));
        assert_eq!(encoding(&hash, &limits), "hashtable");
        let mut zset = Value::new_zset();
        zset.as_zset_mut().unwrap().insert(b("m"), 1.0);
        assert_eq!(encoding(&zset, &limits), "skiplist");
        let mut set = Value::new_set();
        set.as_set_mut().unwrap().insert(b("1"));
        assert_eq!(encoding(&set, &limits), "intset");
        set.as_set_mut().unwrap().insert(b("2"));
        assert_eq!(encoding(&set, &limits), "hashtable");
    }
}
