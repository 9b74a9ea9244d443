//! COMMAND [COUNT | INFO name... | DOCS [name...] | LIST [FILTERBY ...] | GETKEYS cmd args... |
//! GETKEYSANDFLAGS cmd args... | HELP]: the command table as Redis 7 describes it. redis-cli calls
//! COMMAND DOCS at startup for its hints, client libraries call COMMAND to learn key positions.
//! What Redis says of a command's keys (their flags, `movablekeys`) comes from its own COMMAND
//! output, see [`key_specs`](super::key_specs).

use bytes::Bytes;
use smallvec::SmallVec;

use super::super::args::{is, lossy};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::key_specs::redis_keys;
use super::{help, sub_arity, unknown_sub};
use crate::acl::{catalog, Catalog};
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
        getkeys(ctx, &args[2..], false)?;
    } else if is(sub, "GETKEYSANDFLAGS") && args.len() >= 4 {
        getkeys(ctx, &args[2..], true)?;
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
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        );
    } else if ["COUNT", "GETKEYS", "GETKEYSANDFLAGS", "HELP"].iter().any(|s| is(sub, s)) {
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

/// Whether COMMAND INFO flags it `movablekeys`: as Redis does for a command it has, else when
/// meshkv finds its keys by parsing its arguments.
fn is_movable(spec: &CommandSpec) -> bool {
    match redis_keys(spec.name) {
        Some(redis) => redis.movable,
        None => matches!(spec.keys, Keys::Custom(_) | Keys::Placed(_)),
    }
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
    if is_movable(spec) {
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

/// Redis 7.0 subcommands of commands meshkv has that meshkv refuses as unknown: COMMAND LIST does
/// not list them (ACL rules may still name them, as Redis's would).
const MISSING_SUBCOMMANDS: &[&str] = &["memory|doctor", "memory|stats", "script|debug"];

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every command, each
/// followed by its subcommands under their full names (`client|list`), as Redis lists them; a
/// filter keeps the commands and subcommands that match on their own (a pattern is matched
/// against the full name, a category is Redis's ACL category).
fn list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let catalog = catalog();
    let keep: Box<dyn Fn(&str) -> bool> = match args {
        [] => Box::new(|_| true),
        [f, kind, value] if is(f, "FILTERBY") => {
            let value = value.clone();
            if is(kind, "PATTERN") {
                Box::new(move |name| crate::glob::matches(&value, name.as_bytes(), true))
            } else if is(kind, "ACLCAT") {
                let Some(bit) = Catalog::category(&lossy(&value)) else {
                    ctx.out.array(0);
                    return Ok(());
                };
                Box::new(move |name| catalog.id(name).is_some_and(|id| catalog.entries[id].categories & bit != 0))
            } else if is(kind, "MODULE") {
                Box::new(|_| false) // meshkv has no modules
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut names: Vec<&str> = Vec::new();
    for spec in sorted(ctx) {
        let subs = catalog.id(spec.name).map(|id| &catalog.entries[id].children[..]).unwrap_or_default();
        let mut subs: Vec<&str> = subs
            .iter()
            .map(|&id| catalog.entries[id].name.as_str())
            .filter(|name| !MISSING_SUBCOMMANDS.contains(name))
            .collect();
        subs.sort_unstable();
        names.extend(std::iter::once(spec.name).chain(subs).filter(|name| keep(name)));
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND GETKEYS command arg... (and GETKEYSANDFLAGS, `with_flags`): the key arguments of a
/// full command line, as Redis's key finder lists them, with Redis's key-spec flags for each.
/// The checks, and their errors, come in Redis's order: the command (a container's subcommand
/// included), whether it takes keys at all, its arity, then whether the line names any.
fn getkeys(ctx: &mut Ctx, cmd: &[Bytes], with_flags: bool) -> CmdResult {
    let spec = ctx.server.commands.lookup(&cmd[0]).ok_or(CmdError::fixed("ERR Invalid command specified"))?;
    let (id, _) = catalog().resolve(spec.name, cmd).ok_or(CmdError::fixed("ERR Invalid command specified"))?;
    let name = catalog().entries[id].name.as_str();
    let redis = redis_keys(name);
    // Where meshkv finds the keys. A command whose keys depend on its arguments reports the
    // ones Redis's finder reports, not what meshkv locks for it (a whole database for SORT
    // with a BY or GET pattern, everything for scripts and functions).
    let keys = match spec.keys {
        Keys::Dynamic(_) if matches!(spec.name, "sort" | "sort_ro") => {
            Keys::Custom(crate::commands::sort::key_and_destination)
        }
        Keys::Dynamic(choose) => choose(cmd),
        Keys::All if crate::commands::is_script(spec) => Keys::Custom(crate::commands::numkeys_keys),
        keys => keys,
    };
    let has_keys = match redis {
        Some(redis) => redis.has_keys(),
        None => matches!(keys, Keys::Range { .. } | Keys::Custom(_) | Keys::Placed(_)),
    };
    if !has_keys {
        return Err(CmdError::fixed("ERR The command has no key arguments"));
    }
    let n = cmd.len() as i32;
    let arity = redis.map_or(spec.arity, |r| r.arity);
    if (arity >= 0 && n != arity) || n < arity.abs() {
        return Err(CmdError::fixed("ERR Invalid number of arguments specified for command"));
    }
    let mut positions: SmallVec<[usize; 8]> = SmallVec::new();
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
    if positions.is_empty() && !redis.is_some_and(|r| r.no_mandatory) {
        return Err(CmdError::fixed("ERR Invalid arguments specified for command"));
    }
    ctx.out.array(positions.len());
    for (index, i) in positions.into_iter().enumerate() {
        if with_flags {
            ctx.out.array(2);
        }
        ctx.out.bulk(cmd.get(i).map_or(&b""[..], |a| a));
        if with_flags {
            // A command Redis does not have: its keys may be read and written.
            let flags = redis.map_or(&["RW", "access", "update"][..], |r| r.flags(name, cmd, index));
            ctx.out.array(flags.len());
            for flag in flags {
                ctx.out.simple(flag);
            }
        }
    }
    Ok(())
}
