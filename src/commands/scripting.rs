//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT.
//!
//! A script runs as one transaction, the way EXEC runs its queue: the dispatcher locks every shard
//! of every database for it (`Keys::All`), and each `redis.call` runs its command's handler on that
//! transaction, each with a stamp of its own. No other client sees a state between two of a
//! script's commands, whatever keys it touches, declared in KEYS or not (Redis 7 allows undeclared
//! keys outside cluster mode). Replication ships what the transaction wrote, as for EXEC: each key's
//! new state with its stamp, never the script.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{is, lossy, parse_int};
use super::flags::*;
use super::{arity_ok, CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::protocol::Reply;
use crate::scripting::engine::{self, Script};
use crate::scripting::KillOutcome;

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "eval",
        arity: -3,
        flags: NOSCRIPT | STALE | SCRIPT,
        keys: Keys::All,
        group: "scripting",
        summary: "Executes a server-side Lua script.",
        since: "2.6.0",
        handler: eval,
    },
    CommandSpec {
        name: "evalsha",
        arity: -3,
        flags: NOSCRIPT | STALE | SCRIPT,
        keys: Keys::All,
        group: "scripting",
        summary: "Executes a server-side Lua script by SHA1 digest.",
        since: "2.6.0",
        handler: evalsha,
    },
    CommandSpec {
        name: "eval_ro",
        arity: -3,
        flags: READONLY | NOSCRIPT | STALE | SCRIPT,
        keys: Keys::All,
        group: "scripting",
        summary: "Executes a read-only server-side Lua script.",
        since: "7.0.0",
        handler: eval_ro,
    },
    CommandSpec {
        name: "evalsha_ro",
        arity: -3,
        flags: READONLY | NOSCRIPT | STALE | SCRIPT,
        keys: Keys::All,
        group: "scripting",
        summary: "Executes a read-only server-side Lua script by SHA1 digest.",
        since: "7.0.0",
        handler: evalsha_ro,
    },
    CommandSpec {
        name: "script",
        arity: -2,
        flags: NOSCRIPT,
        keys: Keys::None,
        group: "scripting",
        summary: "A container for Lua scripts management commands.",
        since: "2.6.0",
        handler: script,
    },
];

/// What the shebang line (`#!lua flags=...`) allows a script.
#[derive(Clone, Copy, Default)]
struct ScriptFlags {
    /// The script has a shebang (Redis 7's mode; without one, the compatible mode).
    shebang: bool,
    no_writes: bool,
    allow_oom: bool,
}

/// Parses the shebang line, as Redis 7.0 does; returns the flags and the body with the line made
/// a comment (so that line numbers stay the same).
fn shebang(body: &Bytes) -> Result<(ScriptFlags, Bytes), CmdError> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, body.clone()));
    }
    flags.shebang = true;
    let end = body.iter().position(|&b| b == b'\n').ok_or(CmdError::fixed("ERR Invalid script shebang"))?;
    let line = lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(CmdError::err(format!("Unexpected engine in script shebang: {engine}")));
    }
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(CmdError::err(format!("Unknown lua shebang option: {part}")));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(CmdError::err(format!("Unexpected flag in script shebang: {other}"))),
            }
        }
    }
    let mut commented = body.to_vec();
    commented[..2].copy_from_slice(b"--");
    Ok((flags, Bytes::from(commented)))
}

/// True if this EVAL, EVALSHA or FCALL may write, as CLIENT PAUSE WRITE judges it in Redis 7:
/// a script without a shebang may, one whose shebang says `no-writes` does not, and a function as
/// its flags say. An unknown script or function is held too (it gets its error after the pause).
pub(crate) fn may_write(server: &crate::server::Shared, name: &str, args: &[Bytes]) -> bool {
    if !matches!(name, "eval" | "evalsha" | "fcall") {
        return false;
    }
    let Some(target) = args.get(1) else { return true };
    let body = match name {
        "eval" => target.clone(),
        "evalsha" => match server.scripts.get(target) {
            Some(body) => body,
            None => return true,
        },
        "fcall" => {
            return server
                .functions
                .function(target)
                .is_none_or(|(_, meta)| !meta.flags.has(crate::scripting::functions::FunctionFlags::NO_WRITES))
        }
        _ => return false,
    };
    shebang(&body).is_ok_and(|(flags, _)| !(flags.shebang && flags.no_writes))
}

fn eval(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_script(ctx, args, Source::Body, false)
}

fn evalsha(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_script(ctx, args, Source::Digest, false)
}

fn eval_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_script(ctx, args, Source::Body, true)
}

fn evalsha_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    run_script(ctx, args, Source::Digest, true)
}

/// Whether the first argument is the script or its digest.
#[derive(PartialEq)]
enum Source {
    Body,
    Digest,
}

/// EVAL and its kin: `script numkeys key... arg...`.
fn run_script(ctx: &mut Ctx, args: &[Bytes], source: Source, read_only: bool) -> CmdResult {
    let numkeys = parse_int(&args[2]).ok_or(CmdError::NotInteger)?;
    if numkeys < 0 {
        return Err(CmdError::fixed("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    if numkeys > args.len() - 3 {
        return Err(CmdError::fixed("ERR Number of keys can't be greater than number of args"));
    }
    let scripts = &ctx.server.scripts;
    let (sha, body) = match source {
        Source::Body => (scripts.add(&args[1]), args[1].clone()),
        Source::Digest => {
            let body = scripts.get(&args[1]).ok_or(CmdError::fixed("NOSCRIPT No matching script. Please use EVAL."))?;
            (lossy(&args[1]).to_ascii_lowercase(), body)
        }
    };
    let (flags, body) = shebang(&body)?;
    if flags.shebang && read_only && !flags.no_writes {
        return Err(CmdError::fixed("ERR Can not execute a script with write flag using *_ro command."));
    }
    let read_only = read_only || flags.no_writes;
    if flags.shebang && !flags.no_writes && !flags.allow_oom && ctx.server.memory.over() {
        return Err(CmdError::fixed(super::OOM));
    }
    let generation = ctx.server.scripts.generation();
    let (keys, argv) = (&args[3..3 + numkeys], &args[3 + numkeys..]);
    run_locked(ctx, None, read_only, flags.allow_oom, |server, call, kill, out, errors| {
        let script = Script { sha: &sha, body: &body, keys, argv, kill };
        engine::run(generation, &server.log, &script, call, out, errors)
    })
}

/// Runs a script or (with its name and command) a function under the rules every script follows:
/// registered as the running script (BUSY, SCRIPT/FUNCTION KILL), each `redis.call` checked
/// ([`allowed`]) and run on the command's transaction, inside which blocking commands do not block.
///
/// Error replies are counted for INFO as Redis 7.0 counts them: a command the script called that
/// is refused counts its error and a rejected call of that command, one that fails its error and
/// a failed call (see [`super::run_nested`]); the script's own command then counts only the errors
/// its reply holds that the script made itself, and its failed calls as Redis does (see
/// [`engine::ReplyErrors`]).
pub(super) fn run_locked(
    ctx: &mut Ctx,
    function: Option<(String, Vec<Bytes>)>,
    read_only: bool,
    allow_oom: bool,
    run: impl FnOnce(
        &crate::server::Shared,
        &mut engine::Call<'_>,
        &std::sync::Arc<std::sync::atomic::AtomicBool>,
        &mut Reply,
        &mut engine::ReplyErrors,
    ) -> Result<(), String>,
) -> CmdResult {
    let scripts = &ctx.server.scripts;
    let guard = scripts.start(function);
    let running = guard.running.clone();
    let Ctx { server, client, txn, out, failures, .. } = ctx;
    let (db, in_exec, in_script) = (client.db, client.in_exec, client.in_script);
    // Inside a script, as inside EXEC, a blocking command cannot wait and a command that must
    // reply after the locks is refused.
    client.in_exec = true;
    client.in_script = true;
    let mut call = |request: engine::Request| -> Vec<u8> {
        let (argv, resp3) = match request {
            engine::Request::Run { argv, resp3 } => (argv, resp3),
            engine::Request::AclCheck(argv) => return acl_check_reply(server, client, &argv),
        };
        let mut reply = Reply::new();
        reply.set_resp3(resp3);
        let checked = allowed(server, &argv, read_only, allow_oom).and_then(|spec| {
            if client.user.unrestricted() {
                return Ok(spec);
            }
            super::acl_check(&client.user, spec, &argv, client.db).map(|()| spec).map_err(|denial| {
                super::acl_log(server, client, &denial, &argv, "lua");
                (Some(spec), CmdError::fixed(denial.script_error()))
            })
        });
        match checked {
            Err((spec, e)) => {
                let line = e.to_string();
                if let Some(spec) = spec {
                    server.cmdstats.rejected(spec);
                }
                super::count_error_reply(server, &line);
                reply.error(&line);
            }
            Ok(spec) => {
                if spec.flags & WRITE != 0 {
                    running.wrote.store(true, Ordering::Release);
                }
                txn.next_command();
                super::run_nested(server, client, &mut reply, txn, spec, &argv);
            }
        }
        reply.buffer().to_vec()
    };
    let mut errors = engine::ReplyErrors::default();
    let result = off_the_runtime(|| run(server, &mut call, &running.kill, out, &mut errors));
    client.db = db;
    client.in_exec = in_exec;
    client.in_script = in_script;
    drop(guard);
    match result {
        Ok(()) => {
            errors.uncounted.iter().for_each(|line| super::count_error_reply(server, line));
            *failures = errors.failures();
            Ok(())
        }
        Err(line) if errors.raised_counted => Err(CmdError::Counted(line.into())),
        Err(line) => Err(CmdError::Other(line.into())),
    }
}

/// `redis.acl_check_cmd`'s answer, as RESP: `:1` if the script's user may run the command with
/// these arguments, `:0` if not (nothing is logged: nothing was refused), Redis's error for a
/// command (or subcommand) that does not exist.
fn acl_check_reply(server: &crate::server::Shared, client: &crate::client::ClientState, argv: &[Bytes]) -> Vec<u8> {
    let spec = server.commands.lookup(&argv[0]).filter(|spec| !super::subcommands::is_unknown(spec.name, argv));
    let Some(spec) = spec else {
        return b"-ERR Invalid command passed to redis.acl_check_cmd()\r\n".to_vec();
    };
    let allowed = client.user.unrestricted() || super::acl_check(&client.user, spec, argv, client.db).is_ok();
    if allowed {
        b":1\r\n".to_vec()
    } else {
        b":0\r\n".to_vec()
    }
}

/// Runs `work`, which may take long (a script runs until it ends or is killed), without starving
/// the runtime: this worker's other tasks, and the I/O driver it may be the one to poll, move to
/// another thread for the time (`block_in_place`); otherwise SCRIPT KILL could wait behind the
/// very script it is sent to stop. Outside a multi-threaded runtime `work` just runs.
fn off_the_runtime<R>(work: impl FnOnce() -> R) -> R {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

/// The command a script asks for, if a script may run it now; otherwise Redis's error, with the
/// command when it exists (INFO counts a rejected call of it).
fn allowed(
    server: &crate::server::Shared,
    argv: &[Bytes],
    read_only: bool,
    allow_oom: bool,
) -> Result<&'static CommandSpec, (Option<&'static CommandSpec>, CmdError)> {
    // A container's subcommand Redis does not have is no command either (Redis looks
    // subcommands up as commands).
    let spec = server
        .commands
        .lookup(&argv[0])
        .filter(|spec| !super::subcommands::is_unknown(spec.name, argv))
        .ok_or((None, CmdError::fixed("ERR Unknown Redis command called from script")))?;
    let refuse = |e: CmdError| Err((Some(spec), e));
    if !arity_ok(spec, argv.len()) {
        return refuse(CmdError::fixed("ERR Wrong number of args calling Redis command from script"));
    }
    if spec.flags & NOSCRIPT != 0 || super::server::subcommand_noscript(spec, argv) {
        return refuse(CmdError::fixed("ERR This Redis command is not allowed from script"));
    }
    // A read-only script may not publish either: replicas would get the message (Redis 7 counts
    // `may-replicate` commands as writes here, which also lets CLIENT PAUSE WRITE run such
    // scripts).
    if read_only && spec.flags & (WRITE | MAY_REPLICATE) != 0 {
        return refuse(CmdError::fixed("ERR Write commands are not allowed from read-only scripts."));
    }
    if spec.flags & WRITE != 0 {
        if server.hot.read_only_replica.load(Ordering::Relaxed) {
            return refuse(CmdError::fixed("READONLY You can't write against a read only replica."));
        }
        if let Some(failure) = server.flash.as_ref().and_then(|f| f.write_failure()) {
            return refuse(CmdError::FlashWrite(failure.cause().to_string()));
        }
    }
    if spec.flags & DENYOOM != 0 && !allow_oom && server.memory.over() {
        return refuse(CmdError::fixed(super::OOM));
    }
    Ok(spec)
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
fn script(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let scripts = &ctx.server.scripts;
    if is(sub, "LOAD") && args.len() == 3 {
        let (_, body) = shebang(&args[2])?;
        let sha = crate::scripting::sha1hex(&args[2]);
        engine::compile(scripts.generation(), &sha, &body).map_err(|line| CmdError::Other(line.into()))?;
        scripts.add(&args[2]);
        ctx.out.bulk(sha.as_bytes());
    } else if is(sub, "EXISTS") && args.len() >= 3 {
        ctx.out.array(args.len() - 2);
        for sha in &args[2..] {
            ctx.out.int(scripts.exists(sha) as i64);
        }
    } else if is(sub, "FLUSH") && args.len() <= 3 {
        if let Some(mode) = args.get(2) {
            if !is(mode, "SYNC") && !is(mode, "ASYNC") {
                return Err(CmdError::fixed("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
            }
        }
        scripts.flush();
        ctx.out.ok();
    } else if is(sub, "KILL") && args.len() == 2 {
        match scripts.kill(false) {
            KillOutcome::NotBusy => return Err(CmdError::fixed("NOTBUSY No scripts in execution right now.")),
            KillOutcome::Unkillable => {
                return Err(CmdError::fixed(
                    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can \
                     either wait the script termination or kill the server in a hard way using the SHUTDOWN \
                     NOSAVE command.",
                ))
            }
            KillOutcome::Killed => ctx.out.ok(),
            KillOutcome::WrongKind(busy) => return Err(CmdError::fixed(busy)),
        }
    } else if is(sub, "HELP") && args.len() == 2 {
        super::server::help(
            ctx,
            "SCRIPT",
            &[
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
            ],
        );
    } else if ["LOAD", "EXISTS", "FLUSH", "KILL", "HELP"].iter().any(|s| is(sub, s)) {
        return Err(CmdError::WrongArity(format!("script|{}", lossy(sub).to_ascii_lowercase()).into()));
    } else {
        return Err(CmdError::UnknownSubcommand { sub: lossy(sub), cmd: "SCRIPT".into() });
    }
    Ok(())
}
