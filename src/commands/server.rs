//! Server commands: INFO, CONFIG, CLIENT, COMMAND, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME,
//! SHUTDOWN, LASTSAVE, SLOWLOG, MONITOR, DEBUG.

use bytes::Bytes;

use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: READONLY | FAST,
        keys: Keys::Db,
        group: "server",
        summary: "Returns the number of keys in the database.",
        since: "1.0.0",
        handler: dbsize,
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: WRITE,
        keys: Keys::Db,
        group: "server",
        summary: "Removes all keys from the current database.",
        since: "1.0.0",
        handler: flushdb,
    },
];

pub(super) static DEBUG_COMMANDS: &[CommandSpec] = &[];

/// Refuses client names with spaces or newlines, as Redis does.
pub fn validate_client_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::fixed("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.txn.db_len(ctx.db());
    ctx.out.int(n as i64);
    Ok(())
}

fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !super::args::is(&args[1], "ASYNC") && !super::args::is(&args[1], "SYNC"))
    {
        return Err(CmdError::Syntax);
    }
    let db = ctx.db();
    ctx.txn.clear_db(db);
    ctx.out.ok();
    Ok(())
}
