//! Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{int, is, lossy};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: FAST | SUBSCRIBED_OK | STALE,
        keys: Keys::None,
        group: "connection",
        summary: "Returns the server's liveliness response.",
        since: "1.0.0",
        handler: ping,
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: FAST,
        keys: Keys::None,
        group: "connection",
        summary: "Returns the given string.",
        since: "1.0.0",
        handler: echo,
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: NO_AUTH | SUBSCRIBED_OK | NOT_QUEUED | FAST,
        keys: Keys::None,
        group: "connection",
        summary: "Closes the connection.",
        since: "1.0.0",
        handler: quit,
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: FAST | LOADING | STALE,
        keys: Keys::None,
        group: "connection",
        summary: "Changes the selected database.",
        since: "1.0.0",
        handler: select,
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: NO_AUTH | FAST | STALE | LOADING | NOSCRIPT,
        keys: Keys::None,
        group: "connection",
        summary: "Authenticates the connection.",
        since: "1.0.0",
        handler: auth,
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: NO_AUTH | FAST | STALE | LOADING | NOSCRIPT,
        keys: Keys::None,
        group: "connection",
        summary: "Handshakes with the server.",
        since: "6.0.0",
        handler: hello,
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: NO_AUTH | FAST | STALE | LOADING | NOSCRIPT | SUBSCRIBED_OK | NOT_QUEUED,
        keys: Keys::None,
        group: "connection",
        summary: "Resets the connection.",
        since: "6.2.0",
        handler: reset,
    },
];

fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::WrongArity("ping".into()));
    }
    if ctx.client.in_subscriber_mode(ctx.out.resp3()) {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map_or(&b""[..], |a| a));
    } else if let Some(msg) = args.get(1) {
        ctx.out.bulk(msg);
    } else {
        ctx.out.simple("PONG");
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let db = int(&args[1]).map_err(|_| CmdError::fixed("ERR value is not an integer or out of range"))?;
    // Redis 7.0 reads the index as an int: beyond its range the error says so.
    if i32::try_from(db).is_err() {
        return Err(CmdError::fixed("ERR value is out of range, value must between -2147483648 and 2147483647"));
    }
    if db < 0 || db as usize >= ctx.keyspace().databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.select(db as usize);
    ctx.out.ok();
    Ok(())
}

/// Checks a username/password pair (no username: the default user's password) and, if it is
/// right, makes the client that user. A failure is logged in ACL LOG, as Redis does.
fn check_password(ctx: &mut Ctx, user: Option<&[u8]>, password: &[u8]) -> CmdResult {
    let acl = &ctx.server.acl;
    if user.is_none() && acl.default_user().rules().nopass {
        return Err(CmdError::fixed("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
    }
    let name = user.unwrap_or(b"default");
    match acl.authenticate(name, password) {
        Some(found) => {
            let is_default = std::sync::Arc::ptr_eq(&found, acl.default_user());
            ctx.client.set_user(found, is_default);
            ctx.client.authenticated = true;
            Ok(())
        }
        None => {
            acl.log.add("auth", "toplevel", "AUTH".to_string(), lossy(name), ctx.client.handle.info_line());
            Err(CmdError::fixed("WRONGPASS invalid username-password pair or user is disabled."))
        }
    }
}

fn auth(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => check_password(ctx, None, &args[1])?,
        3 => check_password(ctx, Some(&args[1]), &args[2])?,
        _ => return Err(CmdError::Syntax),
    }
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut version = None;
    let mut i = 1;
    if let Some(v) = args.get(1) {
        let v = int(v).map_err(|_| CmdError::fixed("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::fixed("NOPROTO unsupported protocol version"));
        }
        version = Some(v);
        i = 2;
    }
    let mut name = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "AUTH") && more >= 2 {
            let (user, pass) = (args[i + 1].clone(), args[i + 2].clone());
            check_password(ctx, Some(&user), &pass)?;
            i += 3;
        } else if is(&args[i], "SETNAME") && more >= 1 {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(CmdError::err(format!("Syntax error in HELLO option '{}'", lossy(&args[i]))));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::fixed("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = name {
        super::server::validate_client_name(&name)?;
        *ctx.client.handle.name.lock() = (!name.is_empty()).then_some(name);
    }
    if let Some(v) = version {
        ctx.out.set_resp3(v == 3);
        ctx.client.handle.resp.store(v as u8, Ordering::Relaxed);
    }
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_COMPAT_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(if out.resp3() { 3 } else { 2 });
    out.bulk(b"id");
    out.int(ctx.client.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

/// RESET. Forgetting WATCHes takes their shards' locks: that part runs once this command's
/// (none) are released. RESET is never queued, so it is never inside EXEC.
fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::transactions::leave_multi(ctx.client);
    super::pubsub::unsubscribe_all(ctx.server, ctx.client);
    ctx.client.select(0);
    ctx.out.set_resp3(false);
    ctx.client.handle.resp.store(2, Ordering::Relaxed);
    *ctx.client.handle.name.lock() = None;
    ctx.client.set_user(ctx.server.acl.default_user().clone(), true);
    if ctx.client.tracking.take().is_some() {
        ctx.server.tracking.disable(ctx.client.handle.id);
    }
    ctx.client.caching = false;
    ctx.client.authenticated = !ctx.server.hot.auth_required.load(Ordering::Relaxed);
    ctx.out.simple("RESET");
    ctx.reply_after(|server, client, _| super::transactions::unwatch_all(server, client))
}
