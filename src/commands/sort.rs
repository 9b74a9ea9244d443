//! SORT and SORT_RO (Redis's sort.c): the elements of a list, set or sorted set, sorted as
//! numbers or strings, by themselves or by other keys' values (`BY weight_*`, `BY h_*->field`),
//! optionally replaced by other keys' values (`GET`), a window of them (`LIMIT`), replied or
//! stored as a list (`STORE`).
//!
//! `BY` and `GET` patterns name keys only known once the elements are read, so a SORT that has
//! them locks the whole selected database (as KEYS does); a plain SORT locks its key and its
//! STORE destination only.

use bytes::Bytes;
use meshkv_storage::{Expiry, Value};
use smallvec::SmallVec;
use std::sync::Arc;

use super::args::{int, is};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify;

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sort",
        arity: -2,
        flags: WRITE | DENYOOM,
        keys: Keys::Dynamic(sort_keys),
        group: "generic",
        summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
        since: "1.0.0",
        handler: sort,
    },
    CommandSpec {
        name: "sort_ro",
        arity: -2,
        flags: READONLY,
        keys: Keys::Dynamic(sort_keys),
        group: "generic",
        summary: "Returns the sorted elements of a list, a set, or a sorted set.",
        since: "7.0.0",
        handler: sort_ro,
    },
];

/// What SORT locks: the whole database when a BY or GET pattern can name other keys, else the
/// key and the STORE destination.
fn sort_keys(args: &[Bytes]) -> Keys {
    let mut i = 2;
    while i < args.len() {
        let takes_value = i + 1 < args.len();
        if (is(&args[i], "BY") || is(&args[i], "GET")) && takes_value {
            let pattern = &args[i + 1];
            if pattern.contains(&b'*') {
                return Keys::Db;
            }
            i += 1;
        } else if is(&args[i], "LIMIT") && i + 2 < args.len() {
            i += 2;
        } else if is(&args[i], "STORE") && takes_value {
            i += 1;
        }
        i += 1;
    }
    Keys::Custom(key_and_destination)
}

/// The sorted key and, with STORE, the destination (the last STORE's: the one SORT uses).
pub(super) fn key_and_destination(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    keys.push(1);
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "LIMIT") && i + 2 < args.len() {
            i += 2;
        } else if (is(&args[i], "BY") || is(&args[i], "GET")) && i + 1 < args.len() {
            i += 1;
        } else if is(&args[i], "STORE") && i + 1 < args.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(store);
}

/// SORT's options.
#[derive(Default)]
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a Bytes>,
    /// `BY` a pattern without `*`: the elements keep their order.
    dont_sort: bool,
    get: Vec<&'a Bytes>,
    store: Option<&'a Bytes>,
}

impl<'a> Options<'a> {
    /// Parses the options after the key, as Redis does (the last ASC/DESC, LIMIT, BY, STORE
    /// wins; GETs add up). SORT_RO knows no STORE.
    fn parse(args: &'a [Bytes], read_only: bool) -> Result<Options<'a>, CmdError> {
        let mut o = Options::default();
        let mut i = 2;
        while i < args.len() {
            let left = args.len() - i - 1;
            let arg = &args[i];
            if is(arg, "ASC") {
                o.desc = false;
            } else if is(arg, "DESC") {
                o.desc = true;
            } else if is(arg, "ALPHA") {
                o.alpha = true;
            } else if is(arg, "LIMIT") && left >= 2 {
                o.limit = Some((int(&args[i + 1])?, int(&args[i + 2])?));
                i += 2;
            } else if !read_only && is(arg, "STORE") && left >= 1 {
                o.store = Some(&args[i + 1]);
                i += 1;
            } else if is(arg, "BY") && left >= 1 {
                o.by = Some(&args[i + 1]);
                o.dont_sort = !args[i + 1].contains(&b'*');
                i += 1;
            } else if is(arg, "GET") && left >= 1 {
                o.get.push(&args[i + 1]);
                i += 1;
            } else {
                return Err(CmdError::Syntax);
            }
            i += 1;
        }
        Ok(o)
    }
}

fn sort(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}

/// One element being sorted, with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    /// ALPHA with BY: the value it sorts by (None when that key or field is missing).
    by: Option<Bytes>,
}

fn sort_generic(ctx: &mut Ctx, args: &[Bytes], read_only: bool) -> CmdResult {
    let mut o = Options::parse(args, read_only)?;
    let (db, key) = (ctx.db(), ctx.key(&args[1]));
    let value = match ctx.txn.get(db, &key).map(|e| &e.value) {
        None => None,
        Some(v @ (Value::List(_) | Value::Set(_) | Value::ZSet(_))) => Some(v.clone()),
        // A replicated set sorts as the plain set clients see.
        Some(v @ Value::DotSet(_)) => Some(Value::Set(Arc::new(v.as_set()?.clone()))),
        Some(v @ Value::DotZSet(_)) => Some(Value::ZSet(Arc::new(v.as_zset()?.clone()))),
        Some(_) => return Err(CmdError::WrongType),
    };
    // A set has no order of its own: stored (or replicated) results, and what a script sees, must
    // not depend on it, so a set is sorted as strings when it would not be sorted at all (as Redis
    // does).
    if o.dont_sort && matches!(value, Some(Value::Set(_))) && (o.store.is_some() || ctx.client.in_script) {
        (o.dont_sort, o.alpha, o.by) = (false, true, None);
    }
    let len = match &value {
        None => 0,
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        Some(_) => 0,
    } as i64;
    // LIMIT's window, clamped as Redis clamps it (an empty window is start > end).
    let (offset, count) = o.limit.unwrap_or((0, -1));
    let mut start = offset.clamp(0, len);
    let count = count.clamp(-1, len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    // The elements: lists and sorted sets that are not sorted give just the window, in their
    // own order (from the end with DESC).
    let ordered_window = o.dont_sort && matches!(value, Some(Value::List(_) | Value::ZSet(_)));
    let elements: Vec<Bytes> = match &value {
        None => Vec::new(),
        Some(Value::List(l)) if ordered_window => {
            let take = (end - start + 1).max(0) as usize;
            if o.desc {
                l.iter().rev().skip(start.max(0) as usize).take(take).cloned().collect()
            } else {
                l.iter().skip(start.max(0) as usize).take(take).cloned().collect()
            }
        }
        Some(Value::ZSet(z)) if ordered_window => {
            let take = (end - start + 1).max(0) as usize;
            let all: Box<dyn Iterator<Item = (&[u8], f64)>> =
                if o.desc { Box::new(z.iter().rev()) } else { Box::new(z.iter()) };
            all.skip(start.max(0) as usize).take(take).map(|(m, _)| Bytes::copy_from_slice(m)).collect()
        }
        Some(Value::List(l)) => l.iter().cloned().collect(),
        Some(Value::Set(s)) => s.iter().cloned().collect(),
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect(),
        Some(_) => Vec::new(),
    };
    if ordered_window && end >= start {
        (start, end) = (0, end - start);
    }

    let mut items: Vec<Item> = elements.into_iter().map(|element| Item { element, score: 0.0, by: None }).collect();
    let mut not_a_number = false;
    if !o.dont_sort {
        for item in &mut items {
            let by = match o.by {
                Some(pattern) => match lookup_by_pattern(ctx, pattern, &item.element) {
                    Some(v) => v,
                    None => continue,
                },
                None => item.element.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.by = Some(by);
                }
            } else {
                match strtod(&by) {
                    Some(score) => item.score = score,
                    None => not_a_number = true,
                }
            }
        }
        let (alpha, by_pattern, desc) = (o.alpha, o.by.is_some(), o.desc);
        items.sort_by(|a, b| {
            let cmp = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| a.element.cmp(&b.element))
            } else if by_pattern {
                // A missing value sorts first.
                a.by.cmp(&b.by)
            } else {
                a.element.cmp(&b.element)
            };
            if desc {
                cmp.reverse()
            } else {
                cmp
            }
        });
    }
    if not_a_number {
        return Err(CmdError::fixed("ERR One or more scores can't be converted into double"));
    }
    let window = if end >= start { &items[start as usize..=end as usize] } else { &[][..] };
    let per_item = o.get.len().max(1);
    match o.store {
        None => {
            ctx.out.array(window.len() * per_item);
            for item in window {
                if o.get.is_empty() {
                    ctx.out.bulk(&item.element);
                }
                for pattern in &o.get {
                    match lookup_by_pattern(ctx, pattern, &item.element) {
                        Some(v) => ctx.out.bulk(&v),
                        None => ctx.out.null(),
                    }
                }
            }
        }
        Some(destination) => {
            let mut list = meshkv_storage::value::ListValue::new();
            for item in window {
                if o.get.is_empty() {
                    list.push_back(item.element.clone());
                }
                for pattern in &o.get {
                    list.push_back(lookup_by_pattern(ctx, pattern, &item.element).unwrap_or_default());
                }
            }
            let stored = list.len();
            let dst = ctx.key(destination);
            if stored > 0 {
                ctx.txn.insert(db, dst, Value::List(std::sync::Arc::new(list)), Expiry::Persist);
                ctx.notify(notify::LIST, "sortstore", destination);
            } else if ctx.txn.remove(db, &dst).is_some() {
                ctx.notify(notify::GENERIC, "del", destination);
            }
            ctx.out.int(stored as i64);
        }
    }
    Ok(())
}

/// The value a BY or GET pattern names for `element`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and the key found must hold a string, or with
/// `->field` after the `*` a hash with that field. None for anything else (and for a pattern
/// without `*`).
fn lookup_by_pattern(ctx: &mut Ctx, pattern: &[u8], element: &Bytes) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(element.clone());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let field = after.windows(2).position(|w| w == b"->").filter(|&at| at + 2 < after.len());
    let (postfix, field) = match field {
        Some(at) => (&after[..at], Some(&after[at + 2..])),
        None => (after, None),
    };
    let name = [&pattern[..star], &element[..], postfix].concat();
    let key = ctx.key(&Bytes::from(name));
    match (ctx.txn.get(ctx.db(), &key).map(|e| &e.value), field) {
        (Some(v @ (Value::Str(_) | Value::Small(_) | Value::Counter(_))), None) => v.to_str().ok(),
        (Some(v @ (Value::Hash(_) | Value::DotHash(_))), Some(field)) => {
            v.as_hash().ok()?.get(field).map(Bytes::copy_from_slice)
        }
        _ => None,
    }
}

/// C's `strtod` as SORT uses it: leading whitespace allowed, the whole rest must be the number
/// (the empty string is 0), NaN and out-of-range values are refused. C reads the value as a
/// string that ends at its first NUL byte: a SETBIT-made "\0\0\0" weighs 0, as in Redis.
fn strtod(text: &[u8]) -> Option<f64> {
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    if text.is_empty() {
        return Some(0.0);
    }
    let text = std::str::from_utf8(text).ok()?;
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let v: f64 = trimmed.parse().ok()?;
    let overflow = v.is_infinite() && !trimmed.trim_start_matches(['+', '-']).to_ascii_lowercase().starts_with("inf");
    (!v.is_nan() && !overflow).then_some(v)
}
