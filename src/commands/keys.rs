//! Generic key commands (Redis's `db.c` and `expire.c`): DEL, EXISTS, TYPE, and the rest.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::CmdResult;

const ALL_ARGS: Keys = Keys::Range { first: 1, last: -1, step: 1 };

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: WRITE,
        keys: ALL_ARGS,
        group: "generic",
        summary: "Deletes one or more keys.",
        since: "1.0.0",
        handler: del,
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        keys: ALL_ARGS,
        group: "generic",
        summary: "Determines whether one or more keys exist.",
        since: "1.0.0",
        handler: exists,
    },
];

fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut removed = 0;
    for arg in &args[1..] {
        let key = ctx.key(arg);
        removed += ctx.txn.remove(db, &key).is_some() as i64;
    }
    ctx.out.int(removed);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let mut found = 0;
    for arg in &args[1..] {
        let key = ctx.key(arg);
        found += ctx.txn.exists(db, &key) as i64;
    }
    ctx.out.int(found);
    Ok(())
}
