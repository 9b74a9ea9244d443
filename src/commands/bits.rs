//! Bit commands (Redis's `bitops.c`): SETBIT, GETBIT, BITCOUNT, BITPOS and BITOP.
//!
//! Bits are numbered from the most significant bit of the first byte, as in Redis.

use bytes::Bytes;
use meshkv_storage::{Expiry, Value};

use super::args::{int, is, parse_int};
use super::flags::*;
use super::strings::{edit_str, read_str};
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify;

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "setbit",
        arity: 4,
        flags: WRITE | DENYOOM,
        keys: Keys::FIRST,
        group: "bitmap",
        summary: "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
        since: "2.2.0",
        handler: setbit,
    },
    CommandSpec {
        name: "getbit",
        arity: 3,
        flags: READONLY | FAST,
        keys: Keys::FIRST,
        group: "bitmap",
        summary: "Returns a bit value by offset.",
        since: "2.2.0",
        handler: getbit,
    },
    CommandSpec {
        name: "bitcount",
        arity: -2,
        flags: READONLY,
        keys: Keys::FIRST,
        group: "bitmap",
        summary: "Counts the number of set bits (population counting) in a string.",
        since: "2.6.0",
        handler: bitcount,
    },
    CommandSpec {
        name: "bitpos",
        arity: -3,
        flags: READONLY,
        keys: Keys::FIRST,
        group: "bitmap",
        summary: "Finds the first set (1) or clear (0) bit in a string.",
        since: "2.8.7",
        handler: bitpos,
    },
    CommandSpec {
        name: "bitop",
        arity: -4,
        flags: WRITE | DENYOOM,
        keys: Keys::Range { first: 2, last: -1, step: 1 },
        group: "bitmap",
        summary: "Performs bitwise operations on multiple strings, and stores the result.",
        since: "2.6.0",
        handler: bitop,
    },
];

/// A bit offset: non-negative, and within a string of `proto-max-bulk-len` bytes.
fn bit_offset(ctx: &Ctx, arg: &[u8]) -> Result<u64, CmdError> {
    let max_bytes = ctx.server.hot.proto_max_bulk_len.load(std::sync::atomic::Ordering::Relaxed);
    parse_int(arg)
        .filter(|&o| o >= 0 && ((o as u64) >> 3) < max_bytes)
        .map(|o| o as u64)
        .ok_or(CmdError::err("bit offset is not an integer or out of range"))
}

/// The mask of bit `offset` within its byte.
fn mask(offset: u64) -> u8 {
    0x80 >> (offset & 7)
}

/// SETBIT: sets or clears one bit, growing the string with zero bytes; replies the old bit.
fn setbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2])?;
    let on = match parse_int(&args[3]) {
        Some(b @ (0 | 1)) => b == 1,
        _ => return Err(CmdError::err("bit is not an integer or out of range")),
    };
    let key = ctx.key(&args[1]);
    let byte = (offset >> 3) as usize;
    let current = match ctx.txn.peek(ctx.db(), &key) {
        None => None,
        Some(e) => Some(e.value.as_str()?.get(byte).copied()),
    };
    let old = current.flatten().is_some_and(|b| b & mask(offset) != 0);
    // Write only when the key is created, grows, or the bit changes.
    if current.flatten().is_none() || old != on {
        edit_str(ctx, &key, |buf| {
            if buf.len() <= byte {
                buf.resize(byte + 1, 0);
            }
            if on {
                buf[byte] |= mask(offset);
            } else {
                buf[byte] &= !mask(offset);
            }
        });
        ctx.notify(notify::STRING, "setbit", &args[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2])?;
    let key = ctx.key(&args[1]);
    let v = read_str(ctx, &key)?.unwrap_or_default();
    let bit = v.get((offset >> 3) as usize).is_some_and(|b| b & mask(offset) != 0);
    ctx.out.int(bit as i64);
    Ok(())
}

/// Parses the BYTE|BIT unit of BITCOUNT and BITPOS: true for BIT.
fn unit_is_bit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Resolves a `start..=end` range of a string `len` bytes long (in bytes, or bits when `in_bits`)
/// to an inclusive range of bit offsets, or `None` when it is empty. Negative indexes count from
/// the end, as Redis's clamping does.
fn bit_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let start = if start < 0 { total.saturating_add(start) } else { start }.max(0);
    let end = if end < 0 { total.saturating_add(end) } else { end }.max(0).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if in_bits { (start, end) } else { (start * 8, end * 8 + 7) })
}

/// The bits of byte `i` that lie within bit range `first..=last`.
fn range_mask(i: u64, first: u64, last: u64) -> u8 {
    let lo = if i == first >> 3 { 0xff >> (first & 7) } else { 0xff };
    let hi = if i == last >> 3 { 0xff << (7 - (last & 7)) } else { 0xff };
    lo & hi
}

/// BITCOUNT key [start end [BYTE|BIT]]
fn bitcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis looks the key up before parsing the range: a missing key is 0 whatever follows.
    let key = ctx.key(&args[1]);
    let Some(v) = read_str(ctx, &key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let (start, end) = (int(&args[2])?, int(&args[3])?);
            // Redis 7.0 answers an empty negative range before it looks at the unit argument.
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let in_bits = args.len() == 5 && unit_is_bit(&args[4])?;
            Some((start, end, in_bits))
        }
        _ => return Err(CmdError::Syntax),
    };
    let (start, end, in_bits) = range.unwrap_or((0, -1, false));
    let count = match bit_range(start, end, v.len(), in_bits) {
        None => 0,
        Some((first, last)) => {
            let (a, b) = ((first >> 3) as usize, (last >> 3) as usize);
            let edges = [a, b].map(|i| (v[i] & range_mask(i as u64, first, last)).count_ones() as u64);
            let edges = if a == b { edges[0] } else { edges[0] + edges[1] };
            let inner = if b > a + 1 { popcount(&v[a + 1..b]) } else { 0 };
            edges + inner
        }
    };
    ctx.out.int(count as i64);
    Ok(())
}

/// Set bits in `bytes`, eight bytes at a time.
fn popcount(bytes: &[u8]) -> u64 {
    let chunks = bytes.chunks_exact(8);
    let tail: u64 = chunks.remainder().iter().map(|b| b.count_ones() as u64).sum();
    chunks.map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()).count_ones() as u64).sum::<u64>() + tail
}

/// BITPOS key bit [start [end [BYTE|BIT]]]: the first bit equal to `bit` in the range. A missing
/// key is an endless run of zeros. Looking for 0 without an explicit end treats the string as
/// zero-padded on the right, so the answer may be just past its end.
fn bitpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bit = match int(&args[2])? {
        b @ (0 | 1) => b == 1,
        _ => return Err(CmdError::err("The bit argument must be 1 or 0.")),
    };
    let key = ctx.key(&args[1]);
    let Some(v) = read_str(ctx, &key)? else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    if args.len() > 6 {
        return Err(CmdError::Syntax);
    }
    let start = args.get(3).map(|a| int(a)).transpose()?.unwrap_or(0);
    let in_bits = args.len() == 6 && unit_is_bit(&args[5])?;
    let end = args.get(4).map(|a| int(a)).transpose()?;
    let Some((first, last)) = bit_range(start, end.unwrap_or(-1), v.len(), in_bits) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let found = ((first >> 3)..=(last >> 3)).find_map(|i| {
        let byte = if bit { v[i as usize] } else { !v[i as usize] };
        let hits = byte & range_mask(i, first, last);
        (hits != 0).then(|| i * 8 + hits.leading_zeros() as u64)
    });
    let pos = match found {
        Some(p) => p as i64,
        None if bit || end.is_some() => -1,
        None => last as i64 + 1,
    };
    ctx.out.int(pos);
    Ok(())
}

/// The bitwise operations of BITOP.
#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP op dest src...: the result is as long as the longest source (shorter ones count as
/// zero-padded); an empty result deletes `dest`. Replies the result's length.
fn bitop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let op = [("AND", BitOp::And), ("OR", BitOp::Or), ("XOR", BitOp::Xor), ("NOT", BitOp::Not)]
        .into_iter()
        .find(|(name, _)| is(&args[1], name))
        .map(|(_, op)| op)
        .ok_or(CmdError::Syntax)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::err("BITOP NOT must be called with a single source key."));
    }
    let mut sources = Vec::with_capacity(args.len() - 3);
    for arg in &args[3..] {
        let key = ctx.key(arg);
        sources.push(read_str(ctx, &key)?.unwrap_or_default());
    }
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut result = vec![0u8; len];
    result[..sources[0].len()].copy_from_slice(&sources[0]);
    if op == BitOp::Not {
        result.iter_mut().for_each(|b| *b = !*b);
    }
    for src in &sources[1..] {
        let padded = src.iter().copied().chain(std::iter::repeat(0));
        for (out, b) in result.iter_mut().zip(padded) {
            match op {
                BitOp::And => *out &= b,
                BitOp::Or => *out |= b,
                BitOp::Xor => *out ^= b,
                BitOp::Not => {}
            }
        }
    }
    let dest = ctx.key(&args[2]);
    if len > 0 {
        ctx.txn.insert(ctx.db(), dest, Value::Str(result.into()), Expiry::Persist);
        ctx.notify(notify::STRING, "set", &args[2]);
    } else if ctx.txn.remove(ctx.db(), &dest).is_some() {
        ctx.notify(notify::GENERIC, "del", &args[2]);
    }
    ctx.out.int(len as i64);
    Ok(())
}
