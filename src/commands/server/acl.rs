//! ACL WHOAMI | USERS | LIST | GETUSER | SETUSER | DELUSER | CAT | DRYRUN | GENPASS | LOG | SAVE |
//! LOAD | HELP, over the users of `crate::acl`, with Redis 7.0's replies.

use std::sync::Arc;

use bytes::Bytes;

use super::super::args::{is, lossy};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::{help, sub_arity, unknown_sub};
use crate::error::{CmdError, CmdResult};

pub(in crate::commands) static ACL_COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    flags: ADMIN | NOSCRIPT | LOADING | STALE,
    keys: Keys::None,
    group: "server",
    summary: "A container for Access List Control commands.",
    since: "6.0.0",
    handler: acl,
}];

/// Redis's reply to ACL SAVE and ACL LOAD without `aclfile`.
const NO_ACL_FILE: &str =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users \
    via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in \
    order to store users in the Redis configuration.";

fn acl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let n = args.len();
    if is(sub, "WHOAMI") && n == 2 {
        ctx.out.bulk(ctx.client.user.name.as_bytes());
    } else if is(sub, "USERS") && n == 2 {
        let names = ctx.server.acl.names();
        ctx.out.array(names.len());
        for name in names {
            ctx.out.bulk(name.as_bytes());
        }
    } else if is(sub, "LIST") && n == 2 {
        let lines = ctx.server.acl.list();
        ctx.out.array(lines.len());
        for line in lines {
            ctx.out.bulk(line.as_bytes());
        }
    } else if is(sub, "GETUSER") && n == 3 {
        getuser(ctx, &args[2]);
    } else if is(sub, "SETUSER") && n >= 3 {
        setuser(ctx, &args[2], &args[3..])?;
    } else if is(sub, "DELUSER") && n >= 3 {
        if args[2..].iter().any(|u| u.as_ref() == b"default") {
            return Err(CmdError::fixed("ERR The 'default' user cannot be removed"));
        }
        let names: Vec<&[u8]> = args[2..].iter().map(|a| a.as_ref()).collect();
        let removed = ctx.server.acl.deluser(&names);
        disconnect_clients_of(ctx, &removed);
        ctx.out.int(removed.len() as i64);
    } else if is(sub, "CAT") && n <= 3 {
        cat(ctx, args.get(2))?;
    } else if is(sub, "DRYRUN") && n >= 4 {
        dryrun(ctx, &args[2], &args[3..])?;
    } else if is(sub, "GENPASS") && n <= 3 {
        genpass(ctx, args.get(2))?;
    } else if is(sub, "LOG") && n <= 3 {
        log(ctx, args.get(2))?;
    } else if (is(sub, "SAVE") || is(sub, "LOAD")) && n == 2 {
        let file = ctx.server.config.read().aclfile.clone();
        if file.is_empty() {
            return Err(CmdError::fixed(NO_ACL_FILE));
        }
        if is(sub, "SAVE") {
            if let Err(e) = crate::acl::save_acl_file(&ctx.server.acl, &file) {
                ctx.server.log.warning(&format!("Saving ACL file {file}: {e}"));
                return Err(CmdError::fixed(
                    "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
                ));
            }
        } else {
            let users = crate::acl::load_acl_file(&file, ctx.server.acl.pubsub_default())
                .map_err(|e| CmdError::err(e.to_string()))?;
            let replaced = ctx.server.acl.replace(users, true);
            ctx.server.acl_changed();
            disconnect_clients_of(ctx, &replaced);
        }
        ctx.out.ok();
    } else if is(sub, "HELP") && n == 2 {
        help(
            ctx,
            "ACL",
            &[
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOAD",
                "    Reload users from the ACL file.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "SAVE",
                "    Save the current config to the ACL file.",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
            ],
        );
    } else if [
        "WHOAMI", "USERS", "LIST", "GETUSER", "SETUSER", "DELUSER", "CAT", "DRYRUN", "GENPASS", "LOG", "SAVE", "LOAD",
        "HELP",
    ]
    .iter()
    .any(|s| is(sub, s))
    {
        return Err(sub_arity("acl", sub));
    } else {
        return Err(unknown_sub("ACL", sub));
    }
    Ok(())
}

/// Disconnects the clients authenticated as `users` (deleted, or replaced by ACL LOAD), as Redis
/// does; this client, if it is one of them, once its reply is written.
fn disconnect_clients_of(ctx: &mut Ctx, users: &[Arc<crate::acl::AclUser>]) {
    if users.is_empty() {
        return;
    }
    for c in ctx.server.clients.all() {
        if users.iter().any(|u| c.is_user(u)) {
            if c.id == ctx.client.handle.id {
                ctx.client.close_after_reply = true;
            } else {
                c.kill();
            }
        }
    }
}

/// ACL GETUSER: a user's flags, password hashes and rights; nil for an unknown name.
fn getuser(ctx: &mut Ctx, name: &[u8]) {
    let Some(user) = ctx.server.acl.get(name) else {
        ctx.out.null();
        return;
    };
    let rules = user.rules();
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = rules.flags();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(rules.passwords.len());
    for p in &rules.passwords {
        out.bulk(p.as_bytes());
    }
    // The root selector's rights at the top level, then each selector's, as Redis 7.0.
    describe_selector(out, rules.root());
    out.bulk(b"selectors");
    out.array(rules.selectors().len());
    for selector in rules.selectors() {
        out.map(3);
        describe_selector(out, selector);
    }
}

/// A selector's `commands`, `keys` and `channels` fields (ACL GETUSER).
fn describe_selector(out: &mut crate::protocol::Reply, selector: &crate::acl::Selector) {
    for (field, value) in [
        ("commands", selector.describe_commands()),
        ("keys", selector.describe_keys()),
        ("channels", selector.describe_channels()),
    ] {
        out.bulk(field.as_bytes());
        out.bulk(value.as_bytes());
    }
}

/// ACL SETUSER name rules...: all the rules or none. A client of the user subscribed to a
/// channel or pattern the new rules deny is disconnected, as in Redis.
fn setuser(ctx: &mut Ctx, name: &[u8], rules: &[Bytes]) -> CmdResult {
    let user = ctx.server.acl.setuser(name, rules).map_err(|e| CmdError::err(e.to_string()))?;
    ctx.server.acl_changed();
    let now = user.rules();
    for c in ctx.server.clients.all() {
        let subscribed = c.subscriptions.load(std::sync::atomic::Ordering::Relaxed)
            + c.patterns.load(std::sync::atomic::Ordering::Relaxed)
            > 0;
        let is_theirs = c.is_user(&user) || (user.name == "default" && c.user.lock().is_none());
        if subscribed && is_theirs {
            let (channels, patterns) = ctx.server.pubsub.subscriptions_of(c.id);
            if !now.allows_subscriptions(&channels, &patterns) {
                if c.id == ctx.client.handle.id {
                    ctx.client.close_after_reply = true;
                } else {
                    c.kill();
                }
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

/// ACL CAT [category]: the categories, or the commands and subcommands of one.
fn cat(ctx: &mut Ctx, category: Option<&Bytes>) -> CmdResult {
    let Some(category) = category else {
        ctx.out.array(crate::acl::CATEGORIES.len());
        for c in crate::acl::CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    };
    let Some(bit) = crate::acl::Catalog::category(&lossy(category)) else {
        return Err(CmdError::err(format!("Unknown category '{}'", lossy(category))));
    };
    let mut names: Vec<&str> =
        crate::acl::catalog().entries.iter().filter(|e| e.categories & bit != 0).map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN user command args...: whether the user could run the command, without running it.
fn dryrun(ctx: &mut Ctx, user: &[u8], command: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.server.acl.get(user) else {
        return Err(CmdError::err(format!("User '{}' not found", lossy(user))));
    };
    let Some(spec) = ctx.server.commands.lookup(&command[0]) else {
        return Err(CmdError::err(format!("Command '{}' not found", lossy(&command[0]))));
    };
    if !super::super::arity_ok(spec, command.len()) {
        return Err(CmdError::WrongArity(spec.name.into()));
    }
    match super::super::acl_dryrun(&user, spec, command, ctx.client.db) {
        None => ctx.out.ok(),
        Some(reason) => ctx.out.bulk(reason.as_bytes()),
    }
    Ok(())
}

/// ACL LOG [count | RESET]: the newest entries (10 by default).
fn log(ctx: &mut Ctx, arg: Option<&Bytes>) -> CmdResult {
    let count = match arg {
        Some(a) if is(a, "RESET") => {
            ctx.server.acl.log.reset();
            ctx.out.ok();
            return Ok(());
        }
        Some(a) => {
            lossy(a).parse::<i64>().map_err(|_| CmdError::fixed("ERR value is not an integer or out of range"))?
        }
        None => 10,
    };
    let entries = ctx.server.acl.log.recent(count.max(0) as usize);
    let out = &mut *ctx.out;
    out.array(entries.len());
    for (e, age) in entries {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        for (field, value) in
            [("reason", e.reason), ("context", e.context), ("object", &e.object), ("username", &e.username)]
        {
            out.bulk(field.as_bytes());
            out.bulk(value.as_bytes());
        }
        out.bulk(b"age-seconds");
        out.double(age);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

/// ACL GENPASS [bits]: a random password of `bits` bits (default 256) in hex.
fn genpass(ctx: &mut Ctx, bits: Option<&Bytes>) -> CmdResult {
    let bits = match bits {
        None => 256,
        Some(b) => match lossy(b).parse::<i64>() {
            Ok(n) if (1..=4096).contains(&n) => n as usize,
            _ => {
                return Err(CmdError::fixed(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ))
            }
        },
    };
    let chars = bits.div_ceil(4);
    let password: String =
        (0..chars).map(|_| char::from_digit(rand::random_range(0..16u32), 16).unwrap_or('0')).collect();
    ctx.out.bulk(password.as_bytes());
    Ok(())
}
