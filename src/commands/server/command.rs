//! COMMAND [COUNT | INFO name... | DOCS [name...] | LIST [FILTERBY ...] | GETKEYS cmd args... | HELP]:
//! the command table as Redis 7 describes it. redis-cli calls COMMAND DOCS at startup for its
//! hints, client libraries call COMMAND to learn key positions.

use bytes::Bytes;
use smallvec::SmallVec;

use super::super::args::{is, lossy};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::{help, sub_arity, unknown_sub};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;

pub(super) fn command(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(sub) = args.get(1) else {
        let all = sorted(ctx);
        ctx.out.array(all.len());
        for spec in all {
            write_info(ctx.out, spec);
        }
        return Ok(());
    };
    if is(sub, "COUNT") && args.len() == 2 {
        ctx.out.int(ctx.server.commands.len() as i64);
    } else if is(sub, "INFO") {
        let specs: Vec<Option<&CommandSpec>> = if args.len() == 2 {
            sorted(ctx).into_iter().map(Some).collect()
        } else {
            args[2..].iter().map(|name| ctx.server.commands.lookup(name)).collect()
        };
        ctx.out.array(specs.len());
        for spec in specs {
            match spec {
                Some(spec) => write_info(ctx.out, spec),
                None => ctx.out.null(), // Redis 7.0: `$-1`, as addReplyNull
            }
        }
    } else if is(sub, "DOCS") {
        let specs: Vec<&CommandSpec> = if args.len() == 2 {
            sorted(ctx)
        } else {
            args[2..].iter().filter_map(|name| ctx.server.commands.lookup(name)).collect()
        };
        ctx.out.map(specs.len());
        for spec in specs {
            write_docs(ctx.out, spec);
        }
    } else if is(sub, "LIST") {
        list(ctx, &args[2..])?;
    } else if is(sub, "GETKEYS") && args.len() >= 4 {
        getkeys(ctx, &args[2..])?;
    } else if is(sub, "HELP") && args.len() == 2 {
        help(
            ctx,
            "COMMAND",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
            ],
        );
    } else if ["COUNT", "GETKEYS", "HELP"].iter().any(|s| is(sub, s)) {
        return Err(sub_arity("command", sub));
    } else {
        return Err(unknown_sub("COMMAND", sub));
    }
    Ok(())
}

/// Every command, sorted by name so the output is stable.
fn sorted<'a>(ctx: &Ctx<'a, '_>) -> Vec<&'static CommandSpec> {
    let mut all: Vec<&'static CommandSpec> = ctx.server.commands.all().collect();
    all.sort_unstable_by_key(|c| c.name);
    all
}

/// The flag names COMMAND reports, in Redis's order.
const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (NO_MULTI, "no_multi"),
];

/// The ACL category of a COMMAND DOCS group.
fn group_category(group: &str) -> Option<&'static str> {
    Some(match group {
        "string" => "@string",
        "list" => "@list",
        "hash" => "@hash",
        "set" => "@set",
        "sorted_set" | "sorted-set" | "zset" => "@sortedset",
        "generic" | "keyspace" => "@keyspace",
        "bitmap" => "@bitmap",
        "pubsub" => "@pubsub",
        "transactions" | "transaction" => "@transaction",
        "connection" => "@connection",
        "hyperloglog" => "@hyperloglog",
        "stream" => "@stream",
        "geo" => "@geo",
        "scripting" => "@scripting",
        _ => return None,
    })
}

/// ACL categories derived from the flags and the group, as Redis derives its implicit ones.
pub(super) fn categories(spec: &CommandSpec) -> SmallVec<[&'static str; 6]> {
    let mut cats = SmallVec::new();
    if spec.flags & WRITE != 0 {
        cats.push("@write");
    }
    if spec.flags & READONLY != 0 {
        cats.push("@read");
    }
    if spec.flags & ADMIN != 0 {
        cats.push("@admin");
        cats.push("@dangerous");
    }
    if let Some(c) = group_category(spec.group) {
        cats.push(c);
    }
    cats.push(if spec.flags & FAST != 0 { "@fast" } else { "@slow" });
    if spec.flags & BLOCKING != 0 {
        cats.push("@blocking");
    }
    cats
}

/// First key, last key and step as COMMAND reports them; commands whose keys need parsing report
/// zeros and the `movablekeys` flag, as in Redis.
fn key_positions(spec: &CommandSpec) -> (i64, i64, i64) {
    match spec.keys {
        Keys::Range { first, last, step } => (first as i64, last as i64, step as i64),
        _ => (0, 0, 0),
    }
}

/// One command's COMMAND INFO entry: name, arity, flags, first/last key, step, ACL categories,
/// tips, key specs, subcommands.
fn write_info(out: &mut Reply, spec: &CommandSpec) {
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(spec.arity as i64);
    let mut flags: SmallVec<[&str; 8]> =
        FLAG_NAMES.iter().filter(|(bit, _)| spec.flags & bit != 0).map(|(_, n)| *n).collect();
    if matches!(spec.keys, Keys::Custom(_) | Keys::Placed(_)) {
        flags.push("movablekeys");
    }
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    let (first, last, step) = key_positions(spec);
    out.int(first);
    out.int(last);
    out.int(step);
    let cats = categories(spec);
    out.set(cats.len());
    for c in cats {
        out.simple(c);
    }
    out.set(0); // tips
    out.array(0); // key specs
    out.array(0); // subcommands
}

/// One command's COMMAND DOCS entry (arguments are not described).
fn write_docs(out: &mut Reply, spec: &CommandSpec) {
    out.bulk(spec.name.as_bytes());
    out.map(3);
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
fn list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let all = sorted(ctx);
    let keep: Box<dyn Fn(&CommandSpec) -> bool> = match args {
        [] => Box::new(|_| true),
        [f, kind, value] if is(f, "FILTERBY") => {
            let value = value.clone();
            if is(kind, "PATTERN") {
                Box::new(move |s| crate::glob::matches(&value, s.name.as_bytes(), true))
            } else if is(kind, "ACLCAT") {
                let cat = format!("@{}", lossy(&value).to_ascii_lowercase());
                Box::new(move |s| categories(s).contains(&cat.as_str()))
            } else if is(kind, "MODULE") {
                Box::new(|_| false)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let names: Vec<&str> = all.into_iter().filter(|s| keep(s)).map(|s| s.name).collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND GETKEYS command arg...: the key arguments of a full command line.
fn getkeys(ctx: &mut Ctx, cmd: &[Bytes]) -> CmdResult {
    let spec = ctx.server.commands.lookup(&cmd[0]).ok_or(CmdError::fixed("ERR Invalid command specified"))?;
    let n = cmd.len() as i32;
    if (spec.arity >= 0 && n != spec.arity) || n < spec.arity.abs() {
        return Err(CmdError::fixed("ERR Invalid number of arguments specified for command"));
    }
    let mut positions: SmallVec<[usize; 8]> = SmallVec::new();
    // A command whose keys depend on its arguments reports what they make it lock (a whole
    // database, as SORT with BY or GET patterns locks, names no key argument).
    let keys = match spec.keys {
        Keys::Dynamic(choose) => choose(cmd),
        // Scripts and functions lock everything for their run, but their keys are the ones
        // after numkeys, as Redis lists them.
        Keys::All if matches!(spec.name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro") => {
            Keys::Custom(crate::commands::numkeys_keys)
        }
        keys => keys,
    };
    match keys {
        Keys::Range { first, last, step } => {
            let last = if last < 0 { n + last } else { last };
            let mut i = first;
            while (i as i32) <= last && i < cmd.len() {
                positions.push(i);
                i += step;
            }
        }
        Keys::Custom(find) => find(cmd, &mut positions),
        Keys::Placed(place) => {
            let mut placed = SmallVec::new();
            place(cmd, 0, usize::MAX, &mut placed);
            positions.extend(placed.into_iter().map(|(_, pos)| pos).filter(|&pos| pos < cmd.len()));
            positions.dedup();
        }
        Keys::None | Keys::Db | Keys::All | Keys::Dynamic(_) => {}
    }
    if positions.is_empty() {
        return Err(CmdError::fixed("ERR The command has no key arguments"));
    }
    ctx.out.array(positions.len());
    for i in positions {
        ctx.out.bulk(cmd.get(i).map_or(&b""[..], |a| a));
    }
    Ok(())
}
