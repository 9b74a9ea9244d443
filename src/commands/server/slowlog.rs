//! SLOWLOG GET [count] / LEN / RESET / HELP.

use bytes::Bytes;

use super::super::args::{is, parse_int};
use super::super::Ctx;
use super::{help, sub_arity, unknown_sub};
use crate::error::{CmdError, CmdResult};

pub(super) fn slowlog(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "GET") && args.len() <= 3 {
        get(ctx, args.get(2))
    } else if is(sub, "LEN") && args.len() == 2 {
        ctx.out.int(ctx.server.slowlog.len() as i64);
        Ok(())
    } else if is(sub, "RESET") && args.len() == 2 {
        ctx.server.slowlog.reset();
        ctx.out.ok();
        Ok(())
    } else if is(sub, "HELP") && args.len() == 2 {
        help(
            ctx,
            "SLOWLOG",
            &[
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        );
        Ok(())
    } else if ["GET", "LEN", "RESET", "HELP"].iter().any(|s| is(sub, s)) {
        Err(sub_arity("slowlog", sub))
    } else {
        Err(unknown_sub("SLOWLOG", sub))
    }
}

/// The newest `count` entries (10 by default, all for -1), newest first.
fn get(ctx: &mut Ctx, count: Option<&Bytes>) -> CmdResult {
    let count = match count {
        None => 10,
        Some(arg) => match parse_int(arg) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => return Err(CmdError::fixed("ERR count should be greater than or equal to -1")),
        },
    };
    let entries = ctx.server.slowlog.newest(count);
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time as i64);
        out.int(e.micros as i64);
        out.array(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.addr.as_bytes());
        out.bulk(e.name.as_bytes());
    }
    Ok(())
}
