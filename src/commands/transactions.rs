//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC locks the shards of every queued command's keys at once (sorted, like any command), checks
//! the WATCH flag, and runs the queue on that one transaction: no other client can see a state in
//! between. Commands rejected while queueing (unknown, wrong arity) doom the transaction
//! (EXECABORT); errors raised while running are replied in place and the rest still run, as in
//! Redis.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use meshkv_storage::LockSet;

use super::flags::*;
use super::{collect_keys, CommandSpec, Ctx, Keys};
use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::server::{unix_ms, Server};

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "multi",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NOT_QUEUED,
        keys: Keys::None,
        group: "transactions",
        summary: "Starts a transaction.",
        since: "1.2.0",
        handler: multi,
    },
    CommandSpec {
        name: "exec",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | NOT_QUEUED,
        keys: Keys::None,
        group: "transactions",
        summary: "Executes all commands in a transaction.",
        since: "1.2.0",
        handler: exec_outside_dispatch,
    },
    CommandSpec {
        name: "discard",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST | NOT_QUEUED,
        keys: Keys::None,
        group: "transactions",
        summary: "Discards a transaction.",
        since: "2.0.0",
        handler: discard,
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: NOSCRIPT | LOADING | STALE | FAST | NOT_QUEUED,
        keys: Keys::Range { first: 1, last: -1, step: 1 },
        group: "transactions",
        summary: "Monitors changes to keys to determine the execution of a transaction.",
        since: "2.2.0",
        handler: watch,
    },
    CommandSpec {
        name: "unwatch",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST,
        keys: Keys::None,
        group: "transactions",
        summary: "Forgets about watched keys of a transaction.",
        since: "2.2.0",
        handler: unwatch,
    },
];

fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_failed = false;
    ctx.client.handle.multi.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// The dispatcher runs EXEC itself (it needs its own lock set); this is never reached.
fn exec_outside_dispatch(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::fixed("ERR EXEC without MULTI"))
}

/// DISCARD. Forgetting the WATCHes takes their shards' locks, so it runs once this command's
/// (none) are released: the types give a handler no other way to the keyspace.
fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(CmdError::fixed("ERR DISCARD without MULTI"));
    }
    leave_multi(ctx.client);
    ctx.reply_after(unwatch_all_then_ok)
}

/// Leaves MULTI and forgets every WATCH. Must not be called while holding shard locks (it takes
/// the watched keys' shard locks to unregister them).
pub(super) fn discard_state(server: &Server, client: &mut ClientState) {
    leave_multi(client);
    unwatch_all(server, client);
}

pub(super) fn leave_multi(client: &mut ClientState) {
    client.multi = None;
    client.multi_failed = false;
    client.handle.multi.store(u64::MAX, Ordering::Relaxed);
}

pub(super) fn unwatch_all(server: &Server, client: &mut ClientState) {
    for (db, key) in client.watched.drain(..) {
        server.keyspace.unwatch(db, &key, &client.watch_dirty);
    }
    client.watch_dirty = Arc::new(std::sync::atomic::AtomicBool::new(false));
}

fn watch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db();
    for arg in &args[1..] {
        let key = ctx.key(arg);
        if ctx.client.watched.iter().any(|(d, k)| *d == db && *k == key) {
            continue;
        }
        ctx.txn.watch(db, &key, ctx.client.watch_dirty.clone());
        ctx.client.watched.push((db, key));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    // Queued in MULTI, UNWATCH runs inside EXEC, which unwatches everything right after anyway.
    if ctx.client.in_exec {
        ctx.out.ok();
        return Ok(());
    }
    ctx.reply_after(unwatch_all_then_ok)
}

/// DISCARD's and UNWATCH's work once their (no) locks are released: forget every WATCH, reply OK.
fn unwatch_all_then_ok(server: &Arc<Server>, client: &mut ClientState, out: &mut Reply) {
    unwatch_all(server, client);
    out.ok();
}

/// Runs EXEC: the whole queue on one transaction over the union of its keys.
pub(super) fn exec(server: &Server, client: &mut ClientState, out: &mut Reply) {
    let Some(queue) = client.multi.take() else {
        out.error("ERR EXEC without MULTI");
        return;
    };
    if client.multi_failed {
        discard_state(server, client);
        out.error("EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    // Which shards: every queued command's keys, in the database it will run in. A SELECT in the
    // queue makes later databases unpredictable here, so then everything is locked.
    let mut set = LockSet::default();
    let mut specs = Vec::with_capacity(queue.len());
    for args in &queue {
        let spec = server.commands.lookup(&args[0]).expect("queued commands were looked up");
        if spec.name == "select" {
            set.add_all();
        }
        collect_keys(server, client.db, spec, args, &mut set);
        specs.push(spec);
    }
    let mut txn = server.keyspace.lock(&mut set, unix_ms());
    // Writes to watched keys happened before we locked or not at all: the flag is final now.
    let aborted = client.watch_dirty.load(Ordering::Acquire);
    leave_multi(client);
    if aborted {
        out.null_array();
    } else {
        out.array(queue.len());
        client.in_exec = true;
        for (spec, args) in specs.into_iter().zip(&queue) {
            // Each command its own stamp: a write after a FLUSHDB of the same EXEC is newer than
            // the flush on every node, a write before it older (see `Txn::next_command`).
            txn.next_command();
            // As Redis 7.0: rights are checked again, in case they changed since it was queued.
            if !client.user.unrestricted() {
                if let Err(denial) = super::acl_check(&client.user, spec, args, client.db) {
                    super::acl_log(server, client, &denial, args, "multi");
                    server.stats.error_replies.add(1);
                    out.error(&denial.exec_error());
                    continue;
                }
            }
            super::run(server, client, out, &mut txn, spec, args);
        }
        client.in_exec = false;
    }
    client.flash_seq = client.flash_seq.max(txn.commit());
    // Unregistering the WATCHes locks their shards: only once ours are released.
    drop(txn);
    unwatch_all(server, client);
}
