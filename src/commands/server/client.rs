//! CLIENT ID / SETNAME / GETNAME / LIST / INFO / KILL / NO-EVICT / NO-TOUCH / HELP.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::super::args::{is, lossy, parse_int};
use super::super::Ctx;
use super::{help, sub_arity, unknown_sub, validate_client_name};
use crate::client::ClientHandle;
use crate::error::{CmdError, CmdResult};
use crate::pause::PauseKind;

pub(super) fn client(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let n = args.len();
    let arity_ok = |exact: usize| n == exact;
    if is(sub, "ID") && arity_ok(2) {
        ctx.out.int(ctx.client.handle.id as i64);
    } else if is(sub, "SETNAME") && arity_ok(3) {
        validate_client_name(&args[2])?;
        let name = args[2].clone();
        *ctx.client.handle.name.lock() = (!name.is_empty()).then_some(name);
        ctx.out.ok();
    } else if is(sub, "GETNAME") && arity_ok(2) {
        match ctx.client.handle.name.lock().clone() {
            Some(name) => ctx.out.bulk(&name),
            None => ctx.out.null(),
        }
    } else if is(sub, "LIST") {
        list(ctx, &args[2..])?;
    } else if is(sub, "INFO") && arity_ok(2) {
        let line = ctx.client.handle.info_line() + "\n";
        ctx.out.verbatim(line.as_bytes());
    } else if is(sub, "KILL") && n >= 3 {
        kill(ctx, &args[2..])?;
    } else if is(sub, "PAUSE") && (n == 3 || n == 4) {
        pause(ctx, &args[2..])?;
    } else if is(sub, "UNPAUSE") && arity_ok(2) {
        ctx.server.pause.unpause();
        ctx.txn.view().release_expiry();
        ctx.out.ok();
    } else if is(sub, "UNBLOCK") && (n == 3 || n == 4) {
        unblock(ctx, &args[2..])?;
    } else if is(sub, "REPLY") && arity_ok(3) {
        // OFF and SKIP send no reply of their own; ON replies OK (see `commands::execute`).
        use crate::client::ReplyMode;
        let mode = &args[2];
        if is(mode, "ON") {
            ctx.client.replies = ReplyMode::On;
            ctx.out.ok();
        } else if is(mode, "OFF") {
            ctx.client.replies = ReplyMode::Off;
        } else if is(mode, "SKIP") {
            if ctx.client.replies != ReplyMode::Off {
                ctx.client.replies = ReplyMode::SkipNext;
            }
        } else {
            return Err(CmdError::Syntax);
        }
    } else if (is(sub, "NO-EVICT") || is(sub, "NO-TOUCH")) && arity_ok(3) {
        // Accepted for compatibility: meshkv neither evicts clients nor tracks LRU per client.
        if !is(&args[2], "ON") && !is(&args[2], "OFF") {
            return Err(CmdError::Syntax);
        }
        ctx.out.ok();
    } else if is(sub, "TRACKING") && n >= 3 {
        tracking(ctx, &args[2..])?;
    } else if is(sub, "CACHING") && arity_ok(3) {
        caching(ctx, &args[2])?;
    } else if is(sub, "GETREDIR") && arity_ok(2) {
        let redirect = ctx.client.tracking.as_ref().map_or(-1, |t| t.options.redirect as i64);
        ctx.out.int(redirect);
    } else if is(sub, "TRACKINGINFO") && arity_ok(2) {
        tracking_info(ctx);
    } else if is(sub, "HELP") && arity_ok(2) {
        help(ctx, "CLIENT", HELP);
    } else if SUBCOMMANDS.iter().any(|s| is(sub, s)) {
        return Err(sub_arity("client", sub));
    } else {
        return Err(unknown_sub("CLIENT", sub));
    }
    Ok(())
}

/// CLIENT's subcommands (the rest are unknown; these, with the wrong arguments, are misused).
#[rustfmt::skip]
const SUBCOMMANDS: &[&str] = &[
    "ID", "SETNAME", "GETNAME", "INFO", "KILL", "PAUSE", "UNPAUSE", "UNBLOCK", "REPLY", "NO-EVICT", "NO-TOUCH",
    "TRACKING", "CACHING", "GETREDIR", "TRACKINGINFO", "HELP",
];

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP]: turns
/// client-side caching on or off for this client (see `crate::tracking`).
fn tracking(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    use crate::tracking::{Options, Tracking};
    let mut options = Options::default();
    let mut prefixes = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let more = i + 1 < args.len();
        let opt = &args[i];
        if is(opt, "REDIRECT") && more {
            i += 1;
            if options.redirect != 0 {
                return Err(CmdError::fixed("ERR A client can only redirect to a single other client"));
            }
            let id = parse_int(&args[i]).ok_or(CmdError::NotInteger)?;
            if id <= 0 || ctx.server.clients.get(id as u64).is_none() {
                return Err(CmdError::fixed("ERR The client ID you want redirect to does not exist"));
            }
            options.redirect = id as u64;
        } else if is(opt, "BCAST") {
            options.bcast = true;
        } else if is(opt, "OPTIN") {
            options.optin = true;
        } else if is(opt, "OPTOUT") {
            options.optout = true;
        } else if is(opt, "NOLOOP") {
            options.noloop = true;
        } else if is(opt, "PREFIX") && more {
            i += 1;
            prefixes.push(args[i].clone());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if is(&args[0], "ON") {
        Tracking::check(ctx.client.tracking.as_deref(), &options, &prefixes)
            .map_err(|e| CmdError::Other(e.to_string().into()))?;
        let tracker = ctx.server.tracking.enable(&ctx.client.handle, options, prefixes);
        ctx.client.tracking = Some(tracker);
    } else if is(&args[0], "OFF") {
        if ctx.client.tracking.take().is_some() {
            ctx.server.tracking.disable(ctx.client.handle.id);
        }
        ctx.client.caching = false;
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING YES|NO: whether the next command's keys are remembered (OPTIN, OPTOUT).
fn caching(ctx: &mut Ctx, word: &[u8]) -> CmdResult {
    let Some(t) = ctx.client.tracking.as_ref() else {
        return Err(CmdError::fixed(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(word, "YES") {
        if !t.options.optin {
            return Err(CmdError::fixed(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(word, "NO") {
        if !t.options.optout {
            return Err(CmdError::fixed(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.client.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT TRACKINGINFO: this client's tracking flags, redirect and prefixes.
fn tracking_info(ctx: &mut Ctx) {
    let t = ctx.client.tracking.clone();
    let mut flags = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = &t {
        let o = &t.options;
        if o.bcast {
            flags.push("bcast");
        }
        if o.optin {
            flags.push("optin");
            if ctx.client.caching {
                flags.push("caching-yes");
            }
        }
        if o.optout {
            flags.push("optout");
            if ctx.client.caching {
                flags.push("caching-no");
            }
        }
        if o.noloop {
            flags.push("noloop");
        }
        if t.broken_redirect.load(Ordering::Relaxed) {
            flags.push("broken_redirect");
        }
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    flags.iter().for_each(|f| ctx.out.bulk(f.as_bytes()));
    ctx.out.bulk(b"redirect");
    ctx.out.int(t.as_ref().map_or(-1, |t| t.options.redirect as i64));
    ctx.out.bulk(b"prefixes");
    let prefixes = t.as_ref().map_or(&[][..], |t| &t.prefixes[..]);
    ctx.out.array(prefixes.len());
    prefixes.iter().for_each(|p| ctx.out.bulk(p));
}

/// CLIENT PAUSE ms [WRITE|ALL]: holds clients' commands back for `ms` milliseconds (see
/// `crate::pause`).
fn pause(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let ms = parse_int(&args[0]).ok_or(CmdError::fixed("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    let kind = match args.get(1) {
        None => PauseKind::All,
        Some(k) if is(k, "ALL") => PauseKind::All,
        Some(k) if is(k, "WRITE") => PauseKind::Write,
        Some(_) => return Err(CmdError::fixed("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    // A pause too long for the clock lasts about a thousand years, which is forever here.
    let ms = (ms as u64).min(1000 * 365 * 86_400_000);
    let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    ctx.server.pause.pause(until, kind);
    // Lazy expiry waits with it (active expiry checks the pause itself): an expired key reads as
    // absent but stays, uncounted, until the pause ends, as in Redis.
    let until_ms = ctx.txn.now_ms().saturating_add(ms);
    ctx.txn.view().hold_expiry_until(until_ms);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocking command (BLPOP and
/// friends) as if it timed out, or with an error; replies 1 if that client was blocked.
fn unblock(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let id = parse_int(&args[0]).ok_or(CmdError::NotInteger)?;
    let reason = match args.get(1) {
        None => crate::client::UNBLOCK_TIMEOUT,
        Some(r) if is(r, "TIMEOUT") => crate::client::UNBLOCK_TIMEOUT,
        Some(r) if is(r, "ERROR") => crate::client::UNBLOCK_ERROR,
        Some(_) => return Err(CmdError::fixed("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let target = ctx.server.clients.all().into_iter().find(|c| c.id as i64 == id);
    let blocked = target.filter(|c| c.blocked.load(Ordering::Relaxed));
    if let Some(client) = &blocked {
        client.unblock_reason.store(reason, Ordering::Release);
        client.unblock.notify_one();
    }
    ctx.out.int(blocked.is_some() as i64);
    Ok(())
}

const HELP: &[&str] = &[
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Accepted; meshkv does not evict clients.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
];

/// The client types of CLIENT LIST/KILL TYPE. meshkv has no replica connections yet, so every
/// client is `normal` or, while subscribed, `pubsub`.
#[derive(Clone, Copy, PartialEq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn client_type(arg: &[u8]) -> Result<ClientType, CmdError> {
    match arg.to_ascii_lowercase().as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"replica" | b"slave" => Ok(ClientType::Replica),
        b"master" => Ok(ClientType::Master),
        b"pubsub" => Ok(ClientType::PubSub),
        _ => Err(CmdError::err(format!("Unknown client type '{}'", lossy(arg)))),
    }
}

fn type_of(c: &ClientHandle) -> ClientType {
    if c.subscriptions.load(Ordering::Relaxed) + c.patterns.load(Ordering::Relaxed) > 0 {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// CLIENT LIST [TYPE type] [ID id ...].
fn list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    match args {
        [] => {}
        [t, name] if is(t, "TYPE") => kind = Some(client_type(name)?),
        [i, rest @ ..] if is(i, "ID") && !rest.is_empty() => {
            let parsed: Option<Vec<u64>> =
                rest.iter().map(|a| parse_int(a).filter(|&n| n > 0).map(|n| n as u64)).collect();
            ids = Some(parsed.ok_or(CmdError::fixed("ERR Invalid client ID"))?);
        }
        _ => return Err(CmdError::Syntax),
    }
    let mut text = String::new();
    for c in ctx.server.clients.all() {
        if kind.is_some_and(|k| k != type_of(&c)) || ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        text.push_str(&c.info_line());
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// The filters of the new CLIENT KILL form; every given one must match.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    kind: Option<ClientType>,
    user: Option<String>,
    skip_me: bool,
}

impl KillFilter {
    fn parse(args: &[Bytes]) -> Result<KillFilter, CmdError> {
        let mut f = KillFilter { skip_me: true, ..KillFilter::default() };
        if !args.len().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        for pair in args.chunks(2) {
            let (opt, value) = (&pair[0], &pair[1]);
            if is(opt, "ID") {
                let id = parse_int(value).filter(|&n| n > 0);
                f.id = Some(id.ok_or(CmdError::fixed("ERR client-id should be greater than 0"))? as u64);
            } else if is(opt, "ADDR") {
                f.addr = Some(lossy(value));
            } else if is(opt, "LADDR") {
                f.laddr = Some(lossy(value));
            } else if is(opt, "TYPE") {
                f.kind = Some(client_type(value)?);
            } else if is(opt, "USER") {
                f.user = Some(lossy(value));
            } else if is(opt, "SKIPME") {
                f.skip_me = match () {
                    _ if is(value, "YES") => true,
                    _ if is(value, "NO") => false,
                    _ => return Err(CmdError::Syntax),
                };
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(f)
    }

    fn matches(&self, c: &ClientHandle, me: u64) -> bool {
        self.id.is_none_or(|id| id == c.id)
            && self.addr.as_ref().is_none_or(|a| *a == c.addr)
            && self.laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && self.kind.is_none_or(|k| k == type_of(c))
            && self.user.as_ref().is_none_or(|u| *u == c.user_name())
            && !(self.skip_me && c.id == me)
    }
}

/// CLIENT KILL ip:port (old form: `+OK` or an error), or CLIENT KILL filter value ... (new form:
/// the number killed). Killing oneself closes this connection after the reply.
fn kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let me = ctx.client.handle.id;
    let (filter, old_form) = if args.len() == 1 {
        (KillFilter { addr: Some(lossy(&args[0])), ..KillFilter::default() }, true)
    } else {
        (KillFilter::parse(args)?, false)
    };
    if let Some(user) = &filter.user {
        if ctx.server.acl.get(user.as_bytes()).is_none() {
            return Err(CmdError::err(format!("No such user '{user}'")));
        }
    }
    let victims: Vec<Arc<ClientHandle>> =
        ctx.server.clients.all().into_iter().filter(|c| filter.matches(c, me)).collect();
    if old_form && victims.is_empty() {
        return Err(CmdError::fixed("ERR No such client"));
    }
    for c in &victims {
        if c.id == me {
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
        }
    }
    if old_form {
        ctx.out.ok();
    } else {
        ctx.out.int(victims.len() as i64);
    }
    Ok(())
}
