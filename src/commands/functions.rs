//! Redis 7 functions (FUNCTION, FCALL, FCALL_RO) on a server without a scripting engine.
//!
//! Redis keeps a registry of function libraries, each written for an engine named in the
//! library's first line (`#!lua name=mylib`). meshkv has the registry's commands but no engine
//! (no Lua yet), so no library can ever be loaded: FUNCTION LOAD reads the library's metadata as
//! Redis does and then refuses it with Redis's own answer for an engine it does not have
//! (`ERR Engine 'lua' not found`). Every other answer follows from the registry being empty, and is
//! what Redis gives for an empty one: FUNCTION LIST lists nothing, FLUSH empties it (there is
//! nothing to remove), DELETE finds no library, STATS reports no running script and no engine,
//! KILL finds nothing running, FCALL finds no function. DUMP and RESTORE, which need Redis's
//! RDB payload format, are refused with an error that says so.

use bytes::Bytes;
use smallvec::SmallVec;

use super::args::{is, lossy, parse_int};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "function",
        arity: -2,
        flags: NOSCRIPT,
        keys: Keys::None,
        group: "scripting",
        summary: "A container for function commands.",
        since: "7.0.0",
        handler: function,
    },
    CommandSpec {
        name: "fcall",
        arity: -3,
        flags: NOSCRIPT | STALE,
        keys: Keys::Custom(fcall_keys),
        group: "scripting",
        summary: "Invokes a function.",
        since: "7.0.0",
        handler: fcall,
    },
    CommandSpec {
        name: "fcall_ro",
        arity: -3,
        flags: NOSCRIPT | STALE | READONLY,
        keys: Keys::Custom(fcall_keys),
        group: "scripting",
        summary: "Invokes a read-only function.",
        since: "7.0.0",
        handler: fcall,
    },
];

/// `FCALL function numkeys key... arg...`: the keys follow numkeys.
fn fcall_keys(args: &[Bytes], keys: &mut SmallVec<[usize; 8]>) {
    let Some(n) = args.get(2).and_then(|a| parse_int(a)).and_then(|n| usize::try_from(n).ok()) else { return };
    if 3 + n <= args.len() {
        keys.extend(3..3 + n);
    }
}

/// FCALL / FCALL_RO: the registry is empty, so no function is ever found (Redis looks the
/// function up before it reads numkeys).
fn fcall(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::fixed("ERR Function not found"))
}

fn function(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let n = args.len();
    let arity_ok = |name: &str, ok: bool| -> CmdResult {
        if ok {
            Ok(())
        } else {
            Err(CmdError::WrongArity(format!("function|{}", name.to_ascii_lowercase()).into()))
        }
    };
    if is(sub, "LOAD") {
        arity_ok("load", n >= 3)?;
        load(&args[2..])
    } else if is(sub, "LIST") {
        list(ctx, &args[2..])
    } else if is(sub, "FLUSH") {
        match args {
            [_, _] => {}
            [_, _, mode] if is(mode, "ASYNC") || is(mode, "SYNC") => {}
            [_, _, _] => return Err(CmdError::fixed("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")),
            _ => {
                return Err(CmdError::err(
                    "unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.".to_string(),
                ))
            }
        }
        ctx.out.ok();
        Ok(())
    } else if is(sub, "DELETE") {
        arity_ok("delete", n == 3)?;
        Err(CmdError::fixed("ERR Library not found"))
    } else if is(sub, "STATS") {
        arity_ok("stats", n == 2)?;
        ctx.out.map(2);
        ctx.out.bulk(b"running_script");
        ctx.out.null();
        ctx.out.bulk(b"engines");
        ctx.out.map(0);
        Ok(())
    } else if is(sub, "KILL") {
        arity_ok("kill", n == 2)?;
        Err(CmdError::fixed("NOTBUSY No scripts in execution right now."))
    } else if is(sub, "DUMP") || is(sub, "RESTORE") {
        arity_ok(&lossy(sub), if is(sub, "DUMP") { n == 2 } else { n >= 3 })?;
        Err(CmdError::err(format!(
            "FUNCTION {} is not supported by meshkv (no function libraries: it has no scripting engine)",
            lossy(sub).to_ascii_uppercase()
        )))
    } else if is(sub, "HELP") {
        arity_ok("help", n == 2)?;
        super::server::help(ctx, "FUNCTION", HELP);
        Ok(())
    } else {
        Err(CmdError::UnknownSubcommand { sub: lossy(sub), cmd: "FUNCTION".into() })
    }
}

const HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "    meshkv has no scripting engine yet: every library is refused.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "KILL",
    "    Kill the current running function.",
    "STATS",
    "    Return information about the current function running.",
    "DUMP, RESTORE",
    "    Not supported by meshkv.",
];

/// FUNCTION LOAD [REPLACE] code: reads the library's first line as Redis does, then refuses the
/// library for want of its engine.
fn load(args: &[Bytes]) -> CmdResult {
    let (options, code) = args.split_at(args.len() - 1);
    if let Some(other) = options.iter().find(|o| !is(o, "REPLACE")) {
        return Err(CmdError::err(format!("Unknown option given: {}", lossy(other))));
    }
    let library = LibraryHeader::parse(&code[0]).map_err(CmdError::err)?;
    if !library.name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') || library.name.is_empty() {
        return Err(CmdError::fixed(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ));
    }
    Err(CmdError::err(format!("Engine '{}' not found", lossy(&library.engine))))
}

/// A library's first line: `#!<engine> name=<library>`.
struct LibraryHeader {
    engine: Bytes,
    name: Bytes,
}

impl LibraryHeader {
    /// Parses the first line of `code`, with Redis 7.0's error texts.
    fn parse(code: &[u8]) -> Result<LibraryHeader, String> {
        if !code.starts_with(b"#!") {
            return Err("Missing library metadata".into());
        }
        // Redis reads the code as a C string: a NUL byte ends it.
        let text = code.split(|&b| b == 0).next().unwrap_or_default();
        let Some(end) = text.iter().position(|&b| b == b'\n') else {
            return Err("Invalid library metadata".into());
        };
        let mut parts = Vec::new();
        if crate::protocol::split_args_for_config(&text[..end], &mut parts).is_err() || parts.is_empty() {
            return Err("Invalid library metadata".into());
        }
        let engine = parts[0].slice(2.min(parts[0].len())..);
        let mut name = None;
        for part in &parts[1..] {
            if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
                if name.is_some() {
                    return Err("Invalid metadata value, name argument was given multiple times".into());
                }
                name = Some(part.slice(5..));
                continue;
            }
            return Err(format!("Invalid metadata value given: {}", lossy(part)));
        }
        let name = name.ok_or("Library name was not given")?;
        Ok(LibraryHeader { engine, name })
    }
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern]: checks the options as Redis does; the list is
/// empty.
fn list(ctx: &mut Ctx, options: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, false);
    let mut rest = options;
    while let [option, tail @ ..] = rest {
        rest = tail;
        if is(option, "WITHCODE") && !with_code {
            with_code = true;
        } else if is(option, "LIBRARYNAME") && !pattern {
            let [_, tail @ ..] = rest else {
                return Err(CmdError::fixed("ERR library name argument was not given"));
            };
            pattern = true;
            rest = tail;
        } else {
            return Err(CmdError::err(format!("Unknown argument {}", lossy(option))));
        }
    }
    ctx.out.array(0);
    Ok(())
}
