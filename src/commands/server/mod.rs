//! Server commands: INFO, CONFIG, CLIENT, COMMAND, SLOWLOG, DEBUG, and the whole-keyspace ones
//! (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB) with TIME, LASTSAVE and SHUTDOWN, and replication's
//! (REPLICAOF, ROLE, MESHKV.*).
//!
//! The commands with subcommands each live in their own module; this one holds the table and the
//! small commands.

mod acl;
mod client;
mod cluster;
mod command;
mod config;
mod debug;
mod info;
mod memory;
mod replication;
mod slowlog;

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{is, lossy, parse_int};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

pub(super) use acl::ACL_COMMANDS;
pub(super) use cluster::CLUSTER_COMMANDS;
pub(super) use debug::DEBUG_COMMANDS;
pub(super) use memory::MEMORY_COMMANDS;
pub(super) use replication::COMMANDS as REPLICATION_COMMANDS;

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
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: WRITE,
        keys: Keys::All,
        group: "server",
        summary: "Removes all keys from all databases.",
        since: "1.0.0",
        handler: flushall,
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: WRITE | FAST,
        keys: Keys::All,
        group: "server",
        summary: "Swaps two Redis databases.",
        since: "4.0.0",
        handler: swapdb,
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: LOADING | STALE | FAST,
        keys: Keys::None,
        group: "server",
        summary: "Returns the server time.",
        since: "2.6.0",
        handler: time,
    },
    CommandSpec {
        name: "lastsave",
        arity: 1,
        flags: LOADING | STALE | FAST,
        keys: Keys::None,
        group: "server",
        summary: "Returns the Unix timestamp of the last successful save to disk.",
        since: "1.0.0",
        handler: lastsave,
    },
    CommandSpec {
        name: "save",
        arity: 1,
        flags: ADMIN | NOSCRIPT | NO_MULTI,
        keys: Keys::None,
        group: "server",
        summary: "Synchronously saves the database(s) to disk.",
        since: "1.0.0",
        handler: save,
    },
    CommandSpec {
        name: "bgsave",
        arity: -1,
        flags: ADMIN | NOSCRIPT,
        keys: Keys::All,
        group: "server",
        summary: "Asynchronously saves the database(s) to disk.",
        since: "1.0.0",
        handler: bgsave,
    },
    CommandSpec {
        name: "bgrewriteaof",
        arity: 1,
        flags: ADMIN | NOSCRIPT,
        keys: Keys::None,
        group: "server",
        summary: "Asynchronously rewrites the append-only file to disk.",
        since: "1.0.0",
        handler: bgrewriteaof,
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI,
        keys: Keys::None,
        group: "server",
        summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        since: "1.0.0",
        handler: shutdown,
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: LOADING | STALE,
        keys: Keys::None,
        group: "server",
        summary: "Returns information and statistics about the server.",
        since: "1.0.0",
        handler: info::info,
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        keys: Keys::None,
        group: "server",
        summary: "A container for server configuration commands.",
        since: "2.0.0",
        handler: config::config,
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        keys: Keys::None,
        group: "connection",
        summary: "A container for client connection commands.",
        since: "2.4.0",
        handler: client::client,
    },
    CommandSpec {
        name: "command",
        arity: -1,
        flags: LOADING | STALE,
        keys: Keys::None,
        group: "server",
        summary: "Returns detailed information about all commands.",
        since: "2.8.13",
        handler: command::command,
    },
    CommandSpec {
        name: "slowlog",
        arity: -2,
        flags: ADMIN | LOADING | STALE,
        keys: Keys::None,
        group: "server",
        summary: "A container for slow log commands.",
        since: "2.2.12",
        handler: slowlog::slowlog,
    },
];

/// Refuses client names with spaces or newlines, as Redis does.
pub fn validate_client_name(name: &[u8]) -> CmdResult {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::fixed("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// The error for a container command's subcommand with the wrong number of arguments
/// (`config|get`), named as Redis 7 names it.
fn sub_arity(cmd: &str, sub: &[u8]) -> CmdError {
    CmdError::WrongArity(format!("{cmd}|{}", lossy(sub).to_ascii_lowercase()).into())
}

/// The error for a subcommand a container does not have.
fn unknown_sub(cmd: &'static str, sub: &[u8]) -> CmdError {
    CmdError::UnknownSubcommand { sub: lossy(sub), cmd: cmd.into() }
}

/// Writes a HELP reply: the title line, then each line, as status strings (Redis's
/// `addReplyHelp`).
pub(super) fn help(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 2);
    ctx.out.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
}

/// Checks FLUSHDB/FLUSHALL's optional `ASYNC`/`SYNC` argument. Both modes flush at once: there is
/// no lazy-free thread, and dropping a database's maps only releases reference-counted values.
fn flush_mode(args: &[Bytes]) -> CmdResult {
    match args {
        [_] => Ok(()),
        [_, mode] if is(mode, "ASYNC") || is(mode, "SYNC") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.txn.db_len(ctx.db());
    ctx.out.int(n as i64);
    Ok(())
}

fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    let db = ctx.db();
    ctx.txn.clear_db(db);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    for db in 0..ctx.keyspace().databases() {
        ctx.txn.clear_db(db);
    }
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let a = parse_int(&args[1]).ok_or(CmdError::fixed("ERR invalid first DB index"))?;
    let b = parse_int(&args[2]).ok_or(CmdError::fixed("ERR invalid second DB index"))?;
    let dbs = ctx.keyspace().databases() as i64;
    if !(0..dbs).contains(&a) || !(0..dbs).contains(&b) {
        return Err(CmdError::DbIndexOutOfRange);
    }
    if ctx.keyspace().feeding() {
        // Peers hold the keys under their database numbers; a swap is not a change of keys.
        return Err(CmdError::fixed("ERR SWAPDB is not supported with replication"));
    }
    if ctx.server.flash.is_some() {
        // Keys on flash are stored under their database number; swapping would rewrite them all.
        return Err(CmdError::fixed("ERR SWAPDB is not supported with storage-provider flash"));
    }
    ctx.txn.swap_dbs(a as usize, b as usize);
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.server.last_save.load(Ordering::Relaxed) as i64);
    Ok(())
}

/// SAVE: writes a snapshot before replying. It locks no key as a command: once the dispatcher is
/// done, the save takes its cut (a moment's lock of every shard) and writes the file, so only this
/// client waits for the disk.
fn save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.reply_after(|server, _client, out| match crate::persistence::save(server) {
        Ok(_) => out.ok(),
        Err(crate::persistence::SaveError::InProgress) => out.error("ERR Background save already in progress"),
        Err(e) => {
            server.log.warning(&format!("SAVE failed: {e}"));
            out.error("ERR");
        }
    })
}

/// BGSAVE [SCHEDULE]: starts a snapshot in the background. With SCHEDULE, a save already running
/// is not an error (meshkv then simply does not start another). BGSAVE locks every shard (its
/// key specification says so), so its cut is taken through its own transaction, at its place in
/// a MULTI; the writer thread starts once the locks are released.
fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let schedule = match args {
        [_] => false,
        [_, s] if is(s, "SCHEDULE") => true,
        _ => return Err(CmdError::Syntax),
    };
    if ctx.server.flash.is_some() {
        ctx.after(crate::persistence::sync_flash_in_background);
        ctx.out.simple("Background saving started");
        return Ok(());
    }
    match crate::persistence::BackgroundSave::claim(ctx.server, ctx.keyspace().stats()) {
        Ok(save) => {
            let (marks, cut) = crate::persistence::marks_and_cut(ctx.server, ctx.txn);
            ctx.after(move |server| save.start(server, marks, cut));
            ctx.out.simple("Background saving started");
        }
        Err(crate::persistence::SaveError::InProgress) if schedule => ctx.out.simple("Background saving scheduled"),
        Err(crate::persistence::SaveError::InProgress) => {
            return Err(CmdError::fixed("ERR Background save already in progress"))
        }
        Err(e) => return Err(CmdError::err(format!("Background save failed: {e}"))),
    }
    Ok(())
}

/// BGREWRITEAOF: a new base of the append-only file from a consistent cut, written in the
/// background (see `crate::aof`). It needs the whole server (a moment's lock of every shard), so
/// it runs once the dispatcher is done and replies then.
fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.server.flash.is_some() {
        // The FLASH tier's store is its own log (RocksDB compacts it): as BGSAVE there, a sync.
        ctx.after(crate::persistence::sync_flash_in_background);
        ctx.out.simple("Background append only file rewriting started");
        return Ok(());
    }
    ctx.reply_after(|server, _client, out| match crate::aof::bgrewrite(server) {
        Ok(()) => out.simple("Background append only file rewriting started"),
        Err(crate::aof::RewriteError::InProgress) => {
            out.error("ERR Background append only file rewriting already in progress")
        }
        Err(crate::aof::RewriteError::Off) => out.error(
            "ERR The append only file is off (appendonly no): BGREWRITEAOF needs it on (CONFIG SET appendonly yes)",
        ),
        Err(e) => out.error(&format!("ERR Background append only file rewriting failed: {e}")),
    })
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE]: saves a snapshot first when `save` rules are configured
/// or SAVE is given (not with NOSAVE); if that save fails the server stays up, unless FORCE. As in
/// Redis, a successful SHUTDOWN sends no reply: the connection closes when the process exits.
fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut save = None;
    let mut force = false;
    for arg in &args[1..] {
        if is(arg, "NOSAVE") && save.is_none() {
            save = Some(false);
        } else if is(arg, "SAVE") && save.is_none() {
            save = Some(true);
        } else if is(arg, "ABORT") && args.len() == 2 {
            return Err(CmdError::fixed("ERR No shutdown in progress."));
        } else if is(arg, "FORCE") {
            force = true;
        } else if !is(arg, "NOW") {
            return Err(CmdError::Syntax);
        }
    }
    ctx.server.log.warning("User requested shutdown...");
    let save = save.unwrap_or_else(|| !ctx.server.config.read().save.is_empty() || ctx.server.flash.is_some());
    ctx.reply_after(move |server, client, out| {
        if save && !crate::persistence::save_on_shutdown(server) && !force {
            out.error("ERR Errors trying to SHUTDOWN. Check logs.");
            return;
        }
        server.shutdown_saved.store(true, Ordering::Release);
        server.shutdown.notify_one();
        client.close_after_reply = true;
    })
}
