//! List commands (Redis's `t_list.c`): pushes and pops at both ends, indexed access, and the
//! blocking pops that wait for another client's push.
//!
//! A list is a `VecDeque<Bytes>`, so both ends are O(1) and indexing is O(1). As in Redis, an
//! emptied list is deleted, and a command that finds nothing to change leaves the key untouched
//! (no stamp, no WATCH failure, no wakeup).
//!
//! Blocking commands first try their non-blocking form. When no key has anything to pop they ask
//! the connection to wait ([`Ctx::block`]) without writing a reply; the command then runs again
//! after a write to one of its keys, or the timeout reply is sent.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use meshkv_storage::value::ListValue;
use meshkv_storage::{Key, Txn, ValueType};
use smallvec::SmallVec;

use super::args::{int, is, lossy, parse_int, timeout};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify;
use crate::protocol::Reply;

/// BLPOP and BRPOP: every argument but the command name and the trailing timeout.
const KEYS_BEFORE_TIMEOUT: Keys = Keys::Range { first: 1, last: -2, step: 1 };

/// Builds a list command's table entry (every list command shares the group).
macro_rules! list_command {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $since:literal, $handler:ident, $summary:literal) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            group: "list",
            summary: $summary,
            since: $since,
            handler: $handler,
        }
    };
}

pub(super) static COMMANDS: &[CommandSpec] = &[
    list_command!("lpush", -3, WRITE | DENYOOM | FAST, Keys::FIRST, "1.0.0", lpush, "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    list_command!("rpush", -3, WRITE | DENYOOM | FAST, Keys::FIRST, "1.0.0", rpush, "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    list_command!("lpushx", -3, WRITE | DENYOOM | FAST, Keys::FIRST, "2.2.0", lpushx, "Prepends one or more elements to a list only when the list exists."),
    list_command!("rpushx", -3, WRITE | DENYOOM | FAST, Keys::FIRST, "2.2.0", rpushx, "Appends an element to a list only when the list exists."),
    list_command!("lpop", -2, WRITE | FAST, Keys::FIRST, "1.0.0", lpop, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    list_command!("rpop", -2, WRITE | FAST, Keys::FIRST, "1.0.0", rpop, "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    list_command!("llen", 2, READONLY | FAST, Keys::FIRST, "1.0.0", llen, "Returns the length of a list."),
    list_command!("lindex", 3, READONLY, Keys::FIRST, "1.0.0", lindex, "Returns an element from a list by its index."),
    list_command!("lrange", 4, READONLY, Keys::FIRST, "1.0.0", lrange, "Returns a range of elements from a list."),
    list_command!("lset", 4, WRITE | DENYOOM, Keys::FIRST, "1.0.0", lset, "Sets the value of an element in a list by its index."),
    list_command!("linsert", 5, WRITE | DENYOOM, Keys::FIRST, "2.2.0", linsert, "Inserts an element before or after another element in a list."),
    list_command!("lrem", 4, WRITE, Keys::FIRST, "1.0.0", lrem, "Removes elements from a list. Deletes the list if the last element was removed."),
    list_command!("ltrim", 4, WRITE, Keys::FIRST, "1.0.0", ltrim, "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    list_command!("lpos", -3, READONLY, Keys::FIRST, "6.0.6", lpos, "Returns the index of matching elements in a list."),
    list_command!("rpoplpush", 3, WRITE | DENYOOM, Keys::FIRST_TWO, "1.2.0", rpoplpush, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    list_command!("lmove", 5, WRITE | DENYOOM, Keys::FIRST_TWO, "6.2.0", lmove, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    list_command!("lmpop", -4, WRITE, Keys::Custom(lmpop_keys), "7.0.0", lmpop, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    list_command!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, KEYS_BEFORE_TIMEOUT, "2.0.0", blpop, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    list_command!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, KEYS_BEFORE_TIMEOUT, "2.0.0", brpop, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    list_command!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, Keys::FIRST_TWO, "2.2.0", brpoplpush, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    list_command!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, Keys::FIRST_TWO, "6.2.0", blmove, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    list_command!("blmpop", -5, WRITE | BLOCKING, Keys::Custom(blmpop_keys), "7.0.0", blmpop, "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
];

// ---- shared helpers ----

/// An end of a list.
#[derive(Clone, Copy)]
enum Side {
    Left,
    Right,
}

impl Side {
    /// Parses `LEFT` or `RIGHT`; anything else is a syntax error.
    fn parse(arg: &[u8]) -> Result<Side, CmdError> {
        if is(arg, "LEFT") {
            Ok(Side::Left)
        } else if is(arg, "RIGHT") {
            Ok(Side::Right)
        } else {
            Err(CmdError::Syntax)
        }
    }

    fn pop(self, list: &mut ListValue) -> Option<Bytes> {
        match self {
            Side::Left => list.pop_front(),
            Side::Right => list.pop_back(),
        }
    }

    /// The keyspace event of a pop from this side.
    fn pop_event(self) -> &'static str {
        match self {
            Side::Left => "lpop",
            Side::Right => "rpop",
        }
    }

    /// The keyspace event of a push onto this side.
    fn push_event(self) -> &'static str {
        match self {
            Side::Left => "lpush",
            Side::Right => "rpush",
        }
    }

    fn push(self, list: &mut ListValue, element: Bytes) {
        match self {
            Side::Left => list.push_front(element),
            Side::Right => list.push_back(element),
        }
    }
}

/// The list at `key`, if any. `counted` lookups are reads that count as keyspace hits or misses;
/// writers look without counting, as Redis's `lookupKeyWrite` does.
fn lookup<'t>(txn: &'t mut Txn, db: usize, key: &Key, counted: bool) -> Result<Option<&'t ListValue>, CmdError> {
    let entry = if counted { txn.get(db, key) } else { txn.peek(db, key) };
    Ok(entry.map(|e| e.value.as_list()).transpose()?)
}

/// The list at `key` for changing. Call it only once the key is known to hold a list and the
/// command will really change it.
fn change<'t>(txn: &'t mut Txn, db: usize, key: &Key) -> Option<&'t mut ListValue> {
    txn.modify(db, key)?.as_list_mut().ok()
}

/// Resolves a possibly negative index against a list of `len` elements.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let index = if index < 0 { index.checked_add(len as i64)? } else { index };
    usize::try_from(index).ok().filter(|&i| i < len)
}

/// Redis's clamping of an inclusive `start..=end` range (negative counts from the end) to a list
/// of `len` elements; `None` when the range selects nothing.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<Range<usize>> {
    let len = len as i64;
    let start = if start < 0 { (start + len).max(0) } else { start };
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    Some(start as usize..end.min(len - 1) as usize + 1)
}

/// Writes `elements` as an array of bulk strings.
fn reply_elements<'a>(out: &mut Reply, elements: impl ExactSizeIterator<Item = &'a Bytes>) {
    out.array(elements.len());
    for element in elements {
        out.bulk(element);
    }
}

// ---- pushes ----

fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, Side::Left, false)
}

fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, Side::Right, false)
}

fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, Side::Left, true)
}

fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, Side::Right, true)
}

/// LPUSH, RPUSH and their X forms (which push only onto an existing list): replies the length.
fn push(ctx: &mut Ctx, args: &[Bytes], side: Side, only_existing: bool) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    if only_existing && lookup(ctx.txn, db, &key, false)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let list = ctx.txn.modify_or_insert(db, &key, ValueType::List)?.as_list_mut()?;
    for element in &args[2..] {
        side.push(list, element.clone());
    }
    ctx.out.int(list.len() as i64);
    ctx.notify(notify::LIST, side.push_event(), &args[1]);
    Ok(())
}

// ---- pops ----

fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, Side::Left)
}

fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, Side::Right)
}

/// LPOP and RPOP: one element as a bulk string, or with a count an array of up to that many.
fn pop(ctx: &mut Ctx, args: &[Bytes], side: Side) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(positive(&args[2], "value is out of range, must be positive")?),
        _ => return Err(CmdError::WrongArity(lossy(&args[0]).to_lowercase().into())),
    };
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    if lookup(ctx.txn, db, &key, false)?.is_none() {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.null_array(),
        }
        return Ok(());
    }
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let list = change(ctx.txn, db, &key).ok_or(CmdError::NoSuchKey)?;
    match count {
        None => match side.pop(list) {
            Some(element) => ctx.out.bulk(&element),
            None => ctx.out.null(),
        },
        Some(n) => pop_into_reply(ctx.out, list, side, n),
    }
    ctx.notify(notify::LIST, side.pop_event(), &args[1]);
    ctx.drop_if_empty(&key, &args[1]);
    Ok(())
}

/// Pops up to `n` elements from `side` of `list` and writes them as an array.
fn pop_into_reply(out: &mut Reply, list: &mut ListValue, side: Side, n: usize) {
    let n = n.min(list.len());
    out.array(n);
    for _ in 0..n {
        if let Some(element) = side.pop(list) {
            out.bulk(&element);
        }
    }
}

/// A non-negative count argument; any other value fails with `ERR <msg>`, as Redis's
/// `getPositiveLongFromObjectOrReply` does (for unparsable values too).
fn positive(arg: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    parse_int(arg).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| CmdError::err(msg))
}

// ---- reading ----

fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let len = lookup(ctx.txn, db, &key, true)?.map_or(0, |l| l.len());
    ctx.out.int(len as i64);
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    // Redis looks the key up before parsing the index: a missing key answers nil to any index.
    let Some(list) = lookup(ctx.txn, db, &key, true)? else {
        ctx.out.null();
        return Ok(());
    };
    match resolve_index(int(&args[2])?, list.len()).and_then(|i| list.get(i)) {
        Some(element) => ctx.out.bulk(element),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, end) = (int(&args[2])?, int(&args[3])?);
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let list = lookup(ctx.txn, db, &key, true)?;
    match list.and_then(|l| Some((l, clamp_range(start, end, l.len())?))) {
        Some((list, range)) => reply_elements(ctx.out, list.range(range)),
        None => ctx.out.array(0),
    }
    Ok(())
}

/// LPOS's options.
struct LposOptions {
    /// Which match to start from: 1 the first, -1 the last, ...
    rank: i64,
    /// How many matches to return; `None` without COUNT (a single index, not an array), 0 all.
    count: Option<usize>,
    /// How many elements to compare at most; 0 means the whole list.
    maxlen: usize,
}

impl LposOptions {
    fn parse(args: &[Bytes]) -> Result<LposOptions, CmdError> {
        let mut options = LposOptions { rank: 1, count: None, maxlen: 0 };
        let mut i = 0;
        while i < args.len() {
            let Some(value) = args.get(i + 1) else {
                return Err(CmdError::Syntax);
            };
            if is(&args[i], "RANK") {
                // Redis 7.0 negates the rank without an overflow check: i64::MIN acts as -1.
                options.rank = match int(value)? {
                    i64::MIN => -1,
                    rank => rank,
                };
                if options.rank == 0 {
                    return Err(CmdError::fixed(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            } else if is(&args[i], "COUNT") {
                options.count = Some(positive(value, "COUNT can't be negative")?);
            } else if is(&args[i], "MAXLEN") {
                options.maxlen = positive(value, "MAXLEN can't be negative")?;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        Ok(options)
    }

    /// The indexes of matches of `element`, scanning `elements` (index, element) in the rank's
    /// direction.
    fn matches<'a>(&self, elements: impl Iterator<Item = (usize, &'a Bytes)>, element: &[u8]) -> Vec<usize> {
        let scanned = if self.maxlen == 0 { usize::MAX } else { self.maxlen };
        let skip = usize::try_from(self.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
        let wanted = match self.count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        elements.take(scanned).filter(|(_, e)| e.as_ref() == element).map(|(i, _)| i).skip(skip).take(wanted).collect()
    }
}

fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let options = LposOptions::parse(&args[3..])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let found = match lookup(ctx.txn, db, &key, true)? {
        None => Vec::new(),
        Some(list) if options.rank > 0 => options.matches(list.iter().enumerate(), &args[2]),
        Some(list) => options.matches(list.iter().enumerate().rev(), &args[2]),
    };
    match (options.count, found.first()) {
        (None, Some(&index)) => ctx.out.int(index as i64),
        (None, None) => ctx.out.null(),
        (Some(_), _) => {
            ctx.out.array(found.len());
            for index in found {
                ctx.out.int(index as i64);
            }
        }
    }
    Ok(())
}

// ---- changing in place ----

/// LSET. As in Redis the key is looked up before the index is parsed.
fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    // Redis looks the key up (and checks its type) before it parses the index.
    let list = lookup(ctx.txn, db, &key, false)?.ok_or(CmdError::NoSuchKey)?;
    let index = int(&args[2])?;
    let at = resolve_index(index, list.len()).ok_or(CmdError::IndexOutOfRange)?;
    let list = change(ctx.txn, db, &key).ok_or(CmdError::NoSuchKey)?;
    list[at] = args[3].clone();
    ctx.notify(notify::LIST, "lset", &args[1]);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let after = if is(&args[2], "AFTER") {
        true
    } else if is(&args[2], "BEFORE") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let Some(list) = lookup(ctx.txn, db, &key, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(pivot) = list.iter().position(|e| e == &args[3]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let list = change(ctx.txn, db, &key).ok_or(CmdError::NoSuchKey)?;
    list.insert(pivot + after as usize, args[4].clone());
    ctx.out.int(list.len() as i64);
    ctx.notify(notify::LIST, "linsert", &args[1]);
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = int(&args[2])?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let element = &args[3];
    let Some(list) = lookup(ctx.txn, db, &key, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let matching = list.iter().filter(|e| *e == element).count();
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removing = if count == 0 { matching } else { matching.min(limit) };
    if removing == 0 {
        ctx.out.int(0);
        return Ok(());
    }
    // Removing from the tail is removing the last `removing` matches: keep the first ones.
    let mut keep = if count < 0 { matching - removing } else { 0 };
    let mut left = removing;
    let list = change(ctx.txn, db, &key).ok_or(CmdError::NoSuchKey)?;
    list.retain(|e| {
        if left == 0 || e != element {
            return true;
        }
        if keep > 0 {
            keep -= 1;
            return true;
        }
        left -= 1;
        false
    });
    ctx.notify(notify::LIST, "lrem", &args[1]);
    ctx.drop_if_empty(&key, &args[1]);
    ctx.out.int(removing as i64);
    Ok(())
}

/// LTRIM. Like Redis it counts as a write of an existing list even when nothing is trimmed
/// (WATCH fails), since Redis signals the key unconditionally.
fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, end) = (int(&args[2])?, int(&args[3])?);
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    if lookup(ctx.txn, db, &key, false)?.is_some() {
        let list = change(ctx.txn, db, &key).ok_or(CmdError::NoSuchKey)?;
        match clamp_range(start, end, list.len()) {
            Some(keep) => {
                list.truncate(keep.end);
                list.drain(..keep.start);
            }
            None => list.clear(),
        }
        ctx.notify(notify::LIST, "ltrim", &args[1]);
        ctx.drop_if_empty(&key, &args[1]);
    }
    ctx.out.ok();
    Ok(())
}

/// True if `key` holds a non-empty list; WRONGTYPE if it holds another type, except for a
/// blocked command run again after a wake-up, which passes such a key over and goes on waiting
/// (Redis serves a blocked client only from a list).
fn has_elements(ctx: &mut Ctx, db: usize, key: &Key) -> Result<bool, CmdError> {
    let woken = ctx.client.woken;
    match lookup(ctx.txn, db, key, false) {
        Ok(list) => Ok(list.is_some_and(|l| !l.is_empty())),
        Err(CmdError::WrongType) if woken => Ok(false),
        Err(e) => Err(e),
    }
}

// ---- moving between lists ----

fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !move_element(ctx, &args[1], &args[2], Side::Right, Side::Left)? {
        ctx.out.null();
    }
    Ok(())
}

fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (from, to) = (Side::parse(&args[3])?, Side::parse(&args[4])?);
    if !move_element(ctx, &args[1], &args[2], from, to)? {
        ctx.out.null();
    }
    Ok(())
}

/// Pops from `from` of `source` and pushes onto `to` of `destination`, replying the element.
/// False (and nothing written) when the source is missing. The destination's type is checked
/// only when there is something to move, as in Redis.
fn move_element(ctx: &mut Ctx, source: &Bytes, destination: &Bytes, from: Side, to: Side) -> Result<bool, CmdError> {
    let db = ctx.db();
    let (source_arg, destination_arg) = (source, destination);
    let (source, destination) = (ctx.key(source), ctx.key(destination));
    if !has_elements(ctx, db, &source)? || !ctx.my_turn(&source) {
        return Ok(false);
    }
    lookup(ctx.txn, db, &destination, false)?;
    let element = change(ctx.txn, db, &source).and_then(|l| from.pop(l)).ok_or(CmdError::NoSuchKey)?;
    let target = ctx.txn.modify_or_insert(db, &destination, ValueType::List)?.as_list_mut()?;
    to.push(target, element.clone());
    // Redis's order: the push, then the pop, then the source's deletion.
    ctx.notify(notify::LIST, to.push_event(), destination_arg);
    ctx.notify(notify::LIST, from.pop_event(), source_arg);
    // Only now: when source and destination are one list, it is not empty any more.
    ctx.drop_if_empty(&source, source_arg);
    ctx.out.bulk(&element);
    Ok(true)
}

// ---- popping from the first non-empty of several lists ----

/// The argument positions of LMPOP-style keys: `numkeys` at `at`, then that many keys, which must
/// be followed by at least the LEFT|RIGHT argument.
fn numkeys_span(args: &[Bytes], at: usize) -> Result<Range<usize>, CmdError> {
    let numkeys = args
        .get(at)
        .and_then(|n| parse_int(n))
        .filter(|&n| n > 0)
        .ok_or(CmdError::fixed("ERR numkeys should be greater than 0"))?;
    let first = at + 1;
    let end = usize::try_from(numkeys).ok().and_then(|n| first.checked_add(n)).filter(|&end| end < args.len());
    Ok(first..end.ok_or(CmdError::Syntax)?)
}

fn lmpop_keys(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    keys.extend(numkeys_span(args, 1).unwrap_or_default());
}

fn blmpop_keys(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    keys.extend(numkeys_span(args, 2).unwrap_or_default());
}

/// A parsed `numkeys key... LEFT|RIGHT [COUNT n]` tail of LMPOP and BLMPOP.
struct Mpop {
    keys: Range<usize>,
    side: Side,
    count: usize,
}

impl Mpop {
    fn parse(args: &[Bytes], numkeys_at: usize) -> Result<Mpop, CmdError> {
        let keys = numkeys_span(args, numkeys_at)?;
        let side = Side::parse(&args[keys.end])?;
        // Options are read in order, as Redis does: a bad COUNT value is reported before
        // whatever junk follows it.
        let mut count = None;
        let mut rest = &args[keys.end + 1..];
        while let [option, tail @ ..] = rest {
            match tail.first() {
                Some(n) if count.is_none() && is(option, "COUNT") => {
                    let n = Some(positive(n, "count should be greater than 0")?)
                        .filter(|&n| n > 0)
                        .ok_or(CmdError::fixed("ERR count should be greater than 0"))?;
                    count = Some(n);
                    rest = &tail[1..];
                }
                _ => return Err(CmdError::Syntax),
            }
        }
        Ok(Mpop { keys, side, count: count.unwrap_or(1) })
    }
}

/// How a multi-key pop replies with what it popped.
#[derive(Clone, Copy)]
enum PopReply {
    /// BLPOP, BRPOP: `[key, element]`.
    One,
    /// LMPOP, BLMPOP: `[key, [element...]]` with up to this many elements.
    Many(usize),
}

/// Pops from the first of `keys` holding a non-empty list and replies; false (nothing written)
/// when none does. A key of another type met before that list is a WRONGTYPE error.
fn pop_first(ctx: &mut Ctx, keys: &[Bytes], side: Side, reply: PopReply) -> Result<bool, CmdError> {
    let db = ctx.db();
    for name in keys {
        let key = ctx.key(name);
        if !has_elements(ctx, db, &key)? || !ctx.my_turn(&key) {
            continue;
        }
        let list = change(ctx.txn, db, &key).ok_or(CmdError::NoSuchKey)?;
        ctx.out.array(2);
        ctx.out.bulk(name);
        match reply {
            PopReply::One => match side.pop(list) {
                Some(element) => ctx.out.bulk(&element),
                None => ctx.out.null(),
            },
            PopReply::Many(n) => pop_into_reply(ctx.out, list, side, n),
        }
        ctx.notify(notify::LIST, side.pop_event(), name);
        ctx.drop_if_empty(&key, name);
        return Ok(true);
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Mpop { keys, side, count } = Mpop::parse(args, 1)?;
    if !pop_first(ctx, &args[keys], side, PopReply::Many(count))? {
        ctx.out.null_array();
    }
    Ok(())
}

// ---- blocking ----

/// Waits for a push to one of `keys` (then the command runs again). Redis 7.0 answers a timeout
/// with a null array for every list command; inside MULTI nothing can wait and the command gives
/// its non-blocking answer, `exec_reply`, at once.
fn wait_for(ctx: &mut Ctx, keys: &[Bytes], timeout: Option<Duration>, exec_reply: fn(&mut Reply)) {
    if ctx.client.in_exec {
        exec_reply(ctx.out);
        return;
    }
    let keys = keys.iter().map(|k| ctx.key(k)).collect();
    ctx.block(keys, timeout, Reply::null_array);
}

fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, Side::Left)
}

fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, Side::Right)
}

/// BLPOP and BRPOP: `key... timeout`.
fn blocking_pop(ctx: &mut Ctx, args: &[Bytes], side: Side) -> CmdResult {
    let (keys, last) = args[1..].split_at(args.len() - 2);
    let timeout = timeout(&last[0])?;
    if !pop_first(ctx, keys, side, PopReply::One)? {
        wait_for(ctx, keys, timeout, Reply::null_array);
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Mpop { keys, side, count } = Mpop::parse(args, 2)?;
    let timeout = timeout(&args[1])?;
    if !pop_first(ctx, &args[keys.clone()], side, PopReply::Many(count))? {
        wait_for(ctx, &args[keys], timeout, Reply::null_array);
    }
    Ok(())
}

fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let timeout = timeout(&args[3])?;
    blocking_move(ctx, args, Side::Right, Side::Left, timeout)
}

fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (from, to) = (Side::parse(&args[3])?, Side::parse(&args[4])?);
    let timeout = timeout(&args[5])?;
    blocking_move(ctx, args, from, to, timeout)
}

/// BRPOPLPUSH and BLMOVE: moves at once if the source has an element, else waits on the source.
fn blocking_move(ctx: &mut Ctx, args: &[Bytes], from: Side, to: Side, timeout: Option<Duration>) -> CmdResult {
    if !move_element(ctx, &args[1], &args[2], from, to)? {
        wait_for(ctx, &args[1..2], timeout, Reply::null);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some(0..3));
        assert_eq!(clamp_range(-100, 100, 3), Some(0..3));
        assert_eq!(clamp_range(5, 2, 10), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(-2, -1, 3), Some(1..3));
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 2), Some(0..2));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
        assert_eq!(resolve_index(3, 3), None);
    }

    #[test]
    fn numkeys_span_checks_bounds() {
        let args: Vec<Bytes> = ["lmpop", "2", "a", "b", "left"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(numkeys_span(&args, 1), Ok(2..4));
        let args: Vec<Bytes> = ["lmpop", "3", "a", "b", "left"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(numkeys_span(&args, 1), Err(CmdError::Syntax));
        let args: Vec<Bytes> = ["lmpop", "9223372036854775807", "a", "left"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(numkeys_span(&args, 1), Err(CmdError::Syntax));
        let args: Vec<Bytes> = ["lmpop", "0", "a", "left"].iter().map(|s| Bytes::from(*s)).collect();
        assert!(numkeys_span(&args, 1).is_err());
    }
}
