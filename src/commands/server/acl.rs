//! ACL WHOAMI | USERS | LIST | GETUSER | SETUSER | DELUSER | CAT | DRYRUN | GENPASS | LOG | SAVE |
//! LOAD | HELP, for meshkv's one user, `default` (see `crate::acl`): the replies are Redis 7.0's
//! for a server whose only user is the default one; SETUSER accepts only rules that leave it every
//! right (its password is `requirepass`), and refuses any other user.

use bytes::Bytes;

use super::super::args::{is, lossy};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::command::categories;
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

/// The ACL categories, in Redis 7.0's order (ACL CAT).
const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Redis's reply to ACL SAVE and ACL LOAD without `aclfile`.
const NO_ACL_FILE: &str =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify users \
    via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in \
    order to store users in the Redis configuration.";

fn acl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let n = args.len();
    if is(sub, "WHOAMI") && n == 2 {
        ctx.out.bulk(b"default");
    } else if is(sub, "USERS") && n == 2 {
        ctx.out.array(1);
        ctx.out.bulk(b"default");
    } else if is(sub, "LIST") && n == 2 {
        let line = crate::acl::describe_default_user(&ctx.server.config.read().requirepass);
        ctx.out.array(1);
        ctx.out.bulk(line.as_bytes());
    } else if is(sub, "GETUSER") && n == 3 {
        getuser(ctx, &args[2]);
    } else if is(sub, "SETUSER") && n >= 3 {
        setuser(ctx, &args[2], &args[3..])?;
    } else if is(sub, "DELUSER") && n >= 3 {
        if args[2..].iter().any(|u| u.as_ref() == b"default") {
            return Err(CmdError::fixed("ERR The 'default' user cannot be removed"));
        }
        ctx.out.int(0);
    } else if is(sub, "CAT") && n <= 3 {
        cat(ctx, args.get(2))?;
    } else if is(sub, "DRYRUN") && n >= 4 {
        dryrun(ctx, &args[2], &args[3..])?;
    } else if is(sub, "GENPASS") && n <= 3 {
        genpass(ctx, args.get(2))?;
    } else if is(sub, "LOG") && n <= 3 {
        // No user is ever denied anything, so there is nothing to log.
        match args.get(2) {
            Some(a) if is(a, "RESET") => ctx.out.ok(),
            Some(a) if lossy(a).parse::<i64>().is_err() => {
                return Err(CmdError::fixed("ERR value is not an integer or out of range"))
            }
            _ => ctx.out.array(0),
        }
    } else if (is(sub, "SAVE") || is(sub, "LOAD")) && n == 2 {
        return Err(CmdError::fixed(NO_ACL_FILE));
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

/// ACL GETUSER: the default user's flags, password hashes and rights; nil for any other name.
fn getuser(ctx: &mut Ctx, name: &[u8]) {
    if name != b"default" {
        ctx.out.null();
        return;
    }
    let requirepass = ctx.server.config.read().requirepass.clone();
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    if requirepass.is_empty() {
        out.set(2);
        out.bulk(b"on");
        out.bulk(b"nopass");
    } else {
        out.set(1);
        out.bulk(b"on");
    }
    out.bulk(b"passwords");
    if requirepass.is_empty() {
        out.array(0);
    } else {
        out.array(1);
        out.bulk(crate::acl::sha256_hex(requirepass.as_bytes()).as_bytes());
    }
    for (field, value) in [("commands", "+@all"), ("keys", "~*"), ("channels", "&*")] {
        out.bulk(field.as_bytes());
        out.bulk(value.as_bytes());
    }
    out.bulk(b"selectors");
    out.array(0);
}

/// ACL SETUSER default rules...: applied to the default user if it keeps every right (its
/// password becomes `requirepass`); any other user is refused, since restrictions would not be
/// enforced.
fn setuser(ctx: &mut Ctx, name: &[u8], rules: &[Bytes]) -> CmdResult {
    if name != b"default" {
        return Err(CmdError::err(format!(
            "ACL users other than 'default' are not implemented by meshkv: cannot create or change '{}'",
            lossy(name)
        )));
    }
    let rules: Vec<String> = rules.iter().map(|r| lossy(r)).collect();
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let mut config = ctx.server.config.write();
    let password = crate::acl::apply_default_user_rules(&config.requirepass, &rules)
        .map_err(|e| CmdError::err(format!("Error in ACL SETUSER: {e}")))?;
    config.requirepass = password;
    drop(config);
    ctx.server.refresh_hot_config();
    ctx.out.ok();
    Ok(())
}

/// ACL CAT [category]: the categories, or the commands of one (as COMMAND INFO reports them).
fn cat(ctx: &mut Ctx, category: Option<&Bytes>) -> CmdResult {
    let Some(category) = category else {
        ctx.out.array(CATEGORIES.len());
        for c in CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    };
    let wanted = lossy(category).to_ascii_lowercase();
    if !CATEGORIES.contains(&wanted.as_str()) {
        return Err(CmdError::err(format!("Unknown category '{}'", lossy(category))));
    }
    let tag = format!("@{wanted}");
    let mut names: Vec<&str> = ctx
        .server
        .commands
        .all()
        .filter(|spec| categories(spec).contains(&tag.as_str()))
        .map(|spec| spec.name)
        .collect();
    names.sort_unstable();
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN user command args...: the default user may run any command that exists, with its
/// arity.
fn dryrun(ctx: &mut Ctx, user: &[u8], command: &[Bytes]) -> CmdResult {
    if user != b"default" {
        return Err(CmdError::err(format!("User '{}' not found", lossy(user))));
    }
    let Some(spec) = ctx.server.commands.lookup(&command[0]) else {
        return Err(CmdError::err(format!("Command '{}' not found", lossy(&command[0]))));
    };
    if !super::super::arity_ok(spec, command.len()) {
        return Err(CmdError::WrongArity(spec.name.into()));
    }
    ctx.out.ok();
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
