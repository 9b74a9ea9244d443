//! MEMORY USAGE / MALLOC-STATS / PURGE / HELP.
//!
//! USAGE estimates a key's RAM as eviction counts it (key bytes, value, and a fixed per-entry
//! overhead for its table slot and bookkeeping), which is what `maxmemory` weighs a key by.
//! MALLOC-STATS is jemalloc's own report (`malloc_stats_print`), as Redis gives it: per size class
//! and per arena, the way to see where `used_memory` goes.

use std::ffi::{c_char, c_void, CStr};

use bytes::Bytes;
use smallvec::SmallVec;

use super::super::args::{is, parse_int};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::{help, sub_arity, unknown_sub};
use crate::error::{CmdError, CmdResult};

pub(in crate::commands) static MEMORY_COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "memory",
    arity: -2,
    flags: READONLY,
    keys: Keys::Custom(usage_key),
    group: "server",
    summary: "A container for memory diagnostics commands.",
    since: "4.0.0",
    handler: memory,
}];

/// MEMORY USAGE's key is its third argument; the other subcommands have none.
fn usage_key(args: &[Bytes], out: &mut SmallVec<[usize; 8]>) {
    if args.len() >= 3 && is(&args[1], "USAGE") {
        out.push(2);
    }
}

fn memory(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "USAGE") && args.len() >= 3 {
        usage(ctx, args)
    } else if is(sub, "MALLOC-STATS") && args.len() == 2 {
        match malloc_stats() {
            Some(report) => ctx.out.bulk(report.as_bytes()),
            None => ctx.out.bulk(b"Stats not supported for the current allocator"),
        }
        Ok(())
    } else if is(sub, "PURGE") && args.len() == 2 {
        purge();
        ctx.out.ok();
        Ok(())
    } else if is(sub, "HELP") && args.len() == 2 {
        help(
            ctx,
            "MEMORY",
            &[
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        );
        Ok(())
    } else if ["USAGE", "MALLOC-STATS", "PURGE", "HELP"].iter().any(|s| is(sub, s)) {
        Err(sub_arity("memory", sub))
    } else {
        Err(unknown_sub("MEMORY", sub))
    }
}

/// MEMORY USAGE key [SAMPLES count]: the key's RAM in bytes as jemalloc counts it, its share of
/// its shard's table included (see `Txn::memory_usage`), or nil if it is missing. The estimate
/// covers the whole value (there is nothing to sample), so SAMPLES is checked as Redis checks it
/// and otherwise has no effect.
fn usage(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut options = args[3..].chunks(2);
    for option in &mut options {
        let [name, count] = option else { return Err(CmdError::Syntax) };
        if !is(name, "SAMPLES") {
            return Err(CmdError::Syntax);
        }
        match parse_int(count) {
            None => return Err(CmdError::NotInteger),
            Some(n) if n < 0 => return Err(CmdError::Syntax),
            Some(_) => {}
        }
    }
    let key = ctx.key(&args[2]);
    let bytes = ctx.txn.memory_usage(ctx.db(), &key);
    match bytes {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// jemalloc's statistics report as text; None where jemalloc is not the allocator.
fn malloc_stats() -> Option<String> {
    crate::memory::stats()?;
    extern "C" fn append(out: *mut c_void, text: *const c_char) {
        // SAFETY: `out` is the `String` passed below, alive for the call; jemalloc passes a
        // NUL-terminated string.
        let (out, text) = unsafe { (&mut *(out as *mut String), CStr::from_ptr(text)) };
        out.push_str(&text.to_string_lossy());
    }
    let mut report = String::new();
    // SAFETY: the callback only appends to `report`, which outlives the call; a null options
    // pointer asks for the default report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(Some(append), &mut report as *mut String as *mut c_void, std::ptr::null())
    };
    Some(report)
}

/// Asks jemalloc to return the dirty pages of every arena to the system.
fn purge() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge", MALLCTL_ARENAS_ALL being 4096.
    let name = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name, and no old or new value: purge takes none.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr() as *const c_char,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
}
