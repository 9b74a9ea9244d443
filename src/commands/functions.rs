//! Redis 7 functions: FUNCTION (LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, STATS, KILL, HELP),
//! FCALL and FCALL_RO, on the Lua engine scripts run on.
//!
//! The registry is `scripting::functions`; a library's code runs on a worker's engine
//! (`scripting::engine`). FCALL runs as EVAL does (see `scripting.rs`): every shard locked for
//! the run, each `redis.call` checked and run on that one transaction, BUSY replies and FUNCTION
//! KILL while it runs too long. A function's flags decide what it may do: without `no-writes` it
//! is refused by FCALL_RO, on a read-only replica and (without `allow-oom`) over `maxmemory`;
//! with it, its write commands are refused. `allow-stale`, `no-cluster` and
//! `allow-cross-slot-keys` are accepted and change nothing (meshkv has no stale replica state and
//! no cluster mode).

use std::sync::Arc;

use bytes::Bytes;

use super::args::{is, lossy, parse_int};
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::scripting::engine::{self, FunctionCall};
use crate::scripting::functions::{self as registry, FunctionFlags, Library, RestorePolicy};
use crate::scripting::KillOutcome;

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
        flags: NOSCRIPT | STALE | SCRIPT,
        keys: Keys::All,
        group: "scripting",
        summary: "Invokes a function.",
        since: "7.0.0",
        handler: fcall,
    },
    CommandSpec {
        name: "fcall_ro",
        arity: -3,
        flags: NOSCRIPT | STALE | SCRIPT | READONLY,
        keys: Keys::All,
        group: "scripting",
        summary: "Invokes a read-only function.",
        since: "7.0.0",
        handler: fcall_ro,
    },
];

fn fcall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, true)
}

/// `FCALL function numkeys key... arg...`, with Redis 7.0's checks in its order: the function
/// first, then numkeys, then what the function's flags allow.
fn run_function(ctx: &mut Ctx, args: &[Bytes], read_only: bool) -> CmdResult {
    let (lib, meta) = ctx.server.functions.function(&args[1]).ok_or(CmdError::fixed("ERR Function not found"))?;
    let numkeys = parse_int(&args[2]).ok_or(CmdError::fixed("ERR Bad number of keys provided"))?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::fixed("ERR Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(CmdError::fixed("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    let no_writes = meta.flags.has(FunctionFlags::NO_WRITES);
    let allow_oom = meta.flags.has(FunctionFlags::ALLOW_OOM);
    if !no_writes {
        if ctx.server.hot.read_only_replica.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(CmdError::fixed("READONLY You can't write against a read only replica."));
        }
        if !allow_oom && ctx.server.memory.over() {
            return Err(CmdError::fixed(super::OOM));
        }
        if read_only {
            return Err(CmdError::fixed("ERR Can not execute a script with write flag using *_ro command."));
        }
    }
    let generation = ctx.server.scripts.generation();
    let (keys, argv) = (&args[3..3 + numkeys], &args[3 + numkeys..]);
    let running = (meta.name.clone(), args.to_vec());
    super::scripting::run_locked(ctx, Some(running), no_writes, allow_oom, |server, call, kill, out, errors| {
        let fcall = FunctionCall { lib: &lib, name: &meta.name, keys, argv, kill };
        engine::run_function(generation, &server.functions, &server.log, &fcall, call, out, errors)
    })
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
    // Past the subcommand's arity, Redis's handlers answer this themselves.
    let syntax = |name: &str| {
        CmdError::err(format!("unknown subcommand or wrong number of arguments for '{name}'. Try FUNCTION HELP."))
    };
    if is(sub, "LOAD") {
        arity_ok("load", n >= 3)?;
        load(ctx, &args[2..])
    } else if is(sub, "LIST") {
        list(ctx, &args[2..])
    } else if is(sub, "FLUSH") {
        match args {
            [_, _] => {}
            [_, _, mode] if is(mode, "ASYNC") || is(mode, "SYNC") => {}
            [_, _, _] => return Err(CmdError::fixed("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")),
            _ => return Err(syntax("flush")),
        }
        writable(ctx, false)?;
        ctx.server.functions.flush();
        ctx.out.ok();
        Ok(())
    } else if is(sub, "DELETE") {
        arity_ok("delete", n == 3)?;
        writable(ctx, false)?;
        if !ctx.server.functions.delete(&args[2]) {
            return Err(CmdError::fixed("ERR Library not found"));
        }
        ctx.out.ok();
        Ok(())
    } else if is(sub, "STATS") {
        arity_ok("stats", n == 2)?;
        stats(ctx);
        Ok(())
    } else if is(sub, "KILL") {
        arity_ok("kill", n == 2)?;
        match ctx.server.scripts.kill(true) {
            KillOutcome::NotBusy => Err(CmdError::fixed("NOTBUSY No scripts in execution right now.")),
            KillOutcome::Unkillable => Err(CmdError::fixed(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either \
                 wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            )),
            KillOutcome::WrongKind(busy) => Err(CmdError::fixed(busy)),
            KillOutcome::Killed => {
                ctx.out.ok();
                Ok(())
            }
        }
    } else if is(sub, "DUMP") {
        arity_ok("dump", n == 2)?;
        let payload = registry::dump(&ctx.server.functions.libraries());
        ctx.out.bulk(&payload);
        Ok(())
    } else if is(sub, "RESTORE") {
        arity_ok("restore", n >= 3)?;
        if n > 4 {
            return Err(syntax("restore"));
        }
        restore(ctx, &args[2], args.get(3))
    } else if is(sub, "HELP") {
        arity_ok("help", n == 2)?;
        super::server::help(ctx, "FUNCTION", HELP);
        Ok(())
    } else {
        Err(CmdError::UnknownSubcommand { sub: lossy(sub), cmd: "FUNCTION".into() })
    }
}

/// What Redis's command table makes of LOAD, DELETE, FLUSH and RESTORE, write commands: refused on
/// a read-only replica and, for the ones that add code (`grows`), over `maxmemory`.
fn writable(ctx: &Ctx, grows: bool) -> CmdResult {
    if ctx.server.hot.read_only_replica.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(CmdError::fixed("READONLY You can't write against a read only replica."));
    }
    if grows && ctx.server.memory.over() {
        return Err(CmdError::fixed(super::OOM));
    }
    Ok(())
}

const HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

/// Reads a library's first line and runs its code on this worker's engine: the library, or
/// Redis's error. `exists` is asked, before the code runs, whether a library of that name may not
/// be loaded (Redis refuses an existing name first).
fn compile(ctx: &Ctx, code: &Bytes, exists: impl Fn(&str) -> bool) -> Result<Library, CmdError> {
    let header = LibraryHeader::parse(code).map_err(CmdError::err)?;
    if header.name.is_empty() || !header.name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(CmdError::fixed(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ));
    }
    if !header.engine.eq_ignore_ascii_case(b"lua") {
        return Err(CmdError::err(format!("Engine '{}' not found", lossy(&header.engine))));
    }
    let name = lossy(&header.name);
    if exists(&name) {
        return Err(CmdError::err(format!("Library '{name}' already exists")));
    }
    let functions = engine::load_library(ctx.server.scripts.generation(), &ctx.server.log, code)
        .map_err(|line| CmdError::Other(line.into()))?;
    Ok(Library { name, code: code.clone(), functions })
}

/// FUNCTION LOAD [REPLACE] code.
fn load(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (options, code) = args.split_at(args.len() - 1);
    if let Some(other) = options.iter().find(|o| !is(o, "REPLACE")) {
        return Err(CmdError::err(format!("Unknown option given: {}", lossy(other))));
    }
    let replace = !options.is_empty();
    writable(ctx, true)?;
    let functions = &ctx.server.functions;
    let lib = compile(ctx, &code[0], |name| !replace && functions.libraries().iter().any(|l| l.name == name))?;
    let name = lib.name.clone();
    functions.load(lib, replace).map_err(|e| CmdError::err(e.to_string()))?;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]: every library of the payload, or none.
fn restore(ctx: &mut Ctx, payload: &Bytes, policy: Option<&Bytes>) -> CmdResult {
    let policy = match policy {
        None => RestorePolicy::Append,
        Some(p) if is(p, "APPEND") => RestorePolicy::Append,
        Some(p) if is(p, "REPLACE") => RestorePolicy::Replace,
        Some(p) if is(p, "FLUSH") => RestorePolicy::Flush,
        Some(_) => {
            return Err(CmdError::fixed(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    writable(ctx, true)?;
    let codes = registry::undump(payload).ok_or(CmdError::fixed("ERR DUMP payload version or checksum are wrong"))?;
    let mut libs = Vec::with_capacity(codes.len());
    for code in &codes {
        libs.push(compile(ctx, code, |_| false)?);
    }
    ctx.server.functions.restore(libs, policy).map_err(|e| CmdError::err(e.to_string()))?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION STATS: the function running now, if any, and the engine's counts.
fn stats(ctx: &mut Ctx) {
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match ctx.server.scripts.running_function() {
        None => out.null(),
        Some((running, ran)) => {
            let (name, command) = &*running;
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(command.len());
            for arg in command {
                out.bulk(arg);
            }
            out.bulk(b"duration_ms");
            out.int(ran.as_millis() as i64);
        }
    }
    let (libraries, functions) = ctx.server.functions.counts();
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libraries as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern].
fn list(ctx: &mut Ctx, options: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut rest = options;
    while let [option, tail @ ..] = rest {
        rest = tail;
        if is(option, "WITHCODE") && !with_code {
            with_code = true;
        } else if is(option, "LIBRARYNAME") && pattern.is_none() {
            let [p, tail @ ..] = rest else {
                return Err(CmdError::fixed("ERR library name argument was not given"));
            };
            pattern = Some(p.clone());
            rest = tail;
        } else {
            return Err(CmdError::err(format!("Unknown argument {}", lossy(option))));
        }
    }
    let libs: Vec<Arc<Library>> = ctx
        .server
        .functions
        .libraries()
        .into_iter()
        .filter(|l| pattern.as_ref().is_none_or(|p| crate::glob::matches(p, l.name.as_bytes(), false)))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in &libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = f.flags.names().collect();
            out.set(names.len());
            for name in names {
                out.simple(name);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
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
