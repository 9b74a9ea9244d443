//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
//!
//! GET and SET go through the same directive table as the config file
//! ([`crate::config::DIRECTIVES`]), so a value is validated identically wherever it comes from.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::super::args::{is, lossy};
use super::super::Ctx;
use super::{help, sub_arity, unknown_sub};
use crate::config::{aliases, directive, Config, DIRECTIVES, PROTECTED_CONFIGS, REPORTED_UNIMPLEMENTED};
use crate::error::{CmdError, CmdResult};

pub(super) fn config(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    if is(sub, "GET") {
        if args.len() < 3 {
            return Err(sub_arity("config", sub));
        }
        get(ctx, &args[2..])
    } else if is(sub, "SET") {
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return Err(sub_arity("config", sub));
        }
        set(ctx, &args[2..])
    } else if is(sub, "RESETSTAT") && args.len() == 2 {
        reset_stats(ctx);
        Ok(())
    } else if is(sub, "REWRITE") && args.len() == 2 {
        Err(CmdError::fixed("ERR CONFIG REWRITE is not supported by meshkv: edit the configuration file instead"))
    } else if is(sub, "HELP") && args.len() == 2 {
        help(
            ctx,
            "CONFIG",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Not supported by meshkv (replies with an error).",
            ],
        );
        Ok(())
    } else if ["GET", "SET", "RESETSTAT", "REWRITE", "HELP"].iter().any(|s| is(sub, s)) {
        Err(sub_arity("config", sub))
    } else {
        Err(unknown_sub("CONFIG", sub))
    }
}

/// Every (name, value, hidden) CONFIG GET can report: the implemented directives, their older
/// names (Redis answers to both), then the unimplemented ones it answers (see
/// [`REPORTED_UNIMPLEMENTED`]); `hidden` ones only when asked for by name.
fn all_values(config: &Config) -> impl Iterator<Item = (&'static str, String, bool)> + '_ {
    let implemented = DIRECTIVES.iter().map(|d| (d.name, (d.get)(config), false));
    let aliased = aliases().map(|(alias, d)| (alias, (d.get)(config), false));
    let reported = REPORTED_UNIMPLEMENTED.iter().map(|r| (r.name, r.value.to_string(), r.hidden));
    implemented.chain(aliased).chain(reported)
}

/// `CONFIG GET name-or-pattern...`, as Redis 7.0 answers it: a name without glob characters is
/// looked up whatever its case (a hidden directive too) and answered as it was asked; a pattern
/// matches every directive but the hidden ones, case-insensitively; each directive once.
fn get(ctx: &mut Ctx, patterns: &[Bytes]) -> CmdResult {
    let config = ctx.server.config.read().clone();
    let mut seen = HashSet::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pattern in patterns {
        if !pattern.iter().any(|b| b"[*?".contains(b)) {
            let asked = lossy(pattern);
            let found = all_values(&config).find(|(name, ..)| name.eq_ignore_ascii_case(&asked));
            if let Some((name, value, _)) = found {
                if seen.insert(name) {
                    pairs.push((asked, value));
                }
            }
            continue;
        }
        for (name, value, hidden) in all_values(&config) {
            if !hidden && crate::glob::matches(pattern, name.as_bytes(), true) && seen.insert(name) {
                pairs.push((name.to_string(), value));
            }
        }
    }
    ctx.out.map(pairs.len());
    for (name, value) in pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// The directives CONFIG GET shows that Redis 7.0 cannot change at run time (its
/// `IMMUTABLE_CONFIG` ones): CONFIG SET refuses them whatever the value, with Redis's error.
const REDIS_IMMUTABLE: &[&str] = &[
    "aclfile",
    "appenddirname",
    "appendfilename",
    "cluster-enabled",
    "daemonize",
    "databases",
    "enable-debug-command",
    "enable-protected-configs",
    "io-threads",
    "logfile",
    "pidfile",
    "replicaof",
    "supervised",
];

/// `ERR CONFIG SET failed (possibly related to argument 'name') - reason`.
fn set_failed(name: &str, reason: &str) -> CmdError {
    CmdError::err(format!("CONFIG SET failed (possibly related to argument '{name}') - {reason}"))
}

/// Applies every `name value` pair or none: all are validated on a copy of the configuration,
/// which replaces the running one only if every pair was accepted.
fn set(ctx: &mut Ctx, pairs: &[Bytes]) -> CmdResult {
    let mut next = ctx.server.config.read().clone();
    let mut names = HashSet::new();
    for pair in pairs.chunks(2) {
        let name = lossy(&pair[0]).to_ascii_lowercase();
        let value = lossy(&pair[1]);
        if !names.insert(name.clone()) {
            return Err(set_failed(&name, "duplicate parameter"));
        }
        if let Some(d) = directive(&name) {
            // Errors name the directive as the client wrote it (an older name too), as Redis's do.
            if !d.mutable {
                // Redis refuses its own immutable directives whatever the value. The others
                // meshkv sets only at start: the value one has already is no change (Redis too
                // answers OK for a value that changes nothing), another is refused.
                let mut probe = next.clone();
                let unchanged = !REDIS_IMMUTABLE.contains(&d.name)
                    && (d.set)(&mut probe, std::slice::from_ref(&value)).is_ok()
                    && (d.get)(&probe) == (d.get)(&next);
                if unchanged {
                    continue;
                }
                return Err(set_failed(&name, "can't set immutable config"));
            }
            let allowed = ctx.server.config.read().enable_protected_configs;
            if PROTECTED_CONFIGS.contains(&d.name) && !allowed.permits(ctx.client.handle.is_local()) {
                return Err(set_failed(&name, "can't set protected config"));
            }
            (d.set)(&mut next, &[value]).map_err(|e| set_failed(&name, &e))?;
        } else if let Some(reported) = REPORTED_UNIMPLEMENTED.iter().find(|r| r.name == name) {
            // Setting an unimplemented directive to what meshkv already does is a harmless no-op
            // (test suites run `CONFIG SET appendonly no`); a value Redis refuses gets Redis's
            // error; anything else would be a lie.
            if REDIS_IMMUTABLE.contains(&reported.name) {
                return Err(set_failed(&name, "can't set immutable config"));
            }
            (reported.check)(std::slice::from_ref(&value)).map_err(|e| set_failed(&name, &e))?;
            if !value.eq_ignore_ascii_case(reported.value) {
                return Err(set_failed(&name, "not supported by meshkv"));
            }
        } else {
            return Err(CmdError::err(format!("Unknown option or number of arguments for CONFIG SET - '{name}'")));
        }
    }
    let level = next.loglevel;
    let appendonly = next.appendonly;
    if appendonly != ctx.server.config.read().appendonly {
        if appendonly && ctx.server.flash.is_some() {
            return Err(set_failed(
                "appendonly",
                "the FLASH tier's store already logs every write (RocksDB's write-ahead log, synced as appendfsync says)",
            ));
        }
        if ctx.server.aof.rewrite_in_progress.load(Ordering::Acquire) {
            return Err(set_failed("appendonly", "a background append only file rewrite is in progress, try again"));
        }
        // Turning the file on or off needs every shard (the cut of its base, the switch of the
        // journal): it runs once the dispatcher is done, before this client's next command.
        ctx.after(move |server| crate::aof::switch(server, appendonly));
    }
    if next.port != ctx.server.config.read().port {
        // Listening on the new port is the one step that can still fail: it is taken before
        // anything is committed, so a port in use leaves every directive as it was.
        let listeners = crate::listener::bind_port_now(&ctx.server.log, &next.bind, next.port)
            .map_err(|_| set_failed("port", "Unable to listen on this port. Check server logs."))?;
        ctx.after(move |server| crate::listener::replace_plain(server, listeners));
    }
    let requirepass = names.contains("requirepass").then(|| next.requirepass.clone());
    *ctx.server.config.write() = next;
    if let Some(password) = requirepass {
        ctx.server.acl.set_default_password(&password);
        ctx.server.acl_changed();
    }
    ctx.server.refresh_hot_config();
    ctx.server.log.set_level(level);
    ctx.out.ok();
    Ok(())
}

/// Zeroes the counters INFO reports (commands, connections, network, hits and misses, errors).
fn reset_stats(ctx: &mut Ctx) {
    let s = &ctx.server.stats;
    s.commands.reset();
    s.connections.store(0, Ordering::Relaxed);
    s.rejected_connections.store(0, Ordering::Relaxed);
    s.net_input_bytes.reset();
    s.net_output_bytes.reset();
    s.error_replies.reset();
    ctx.server.cmdstats.reset();
    let ks = ctx.keyspace().stats();
    ks.expired_keys.reset();
    ks.evicted_keys.reset();
    ks.hits.reset();
    ks.misses.reset();
    ctx.out.ok();
}
