//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, and
//! MONITOR (which rides on the same inbox that delivers messages).
//!
//! Every (un)subscription is confirmed by its own reply, `[kind, channel, count]`, where `count` is
//! the client's number of subscriptions afterwards (channels and patterns together). In RESP3 these
//! confirmations are push messages; in RESP2 they are arrays, and the client enters subscriber
//! mode (see [`ClientState::in_subscriber_mode`]) until its count drops to zero.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::is;
use super::flags::*;
use super::{CommandSpec, Ctx, Keys};
use crate::client::ClientState;
use crate::error::{CmdError, CmdResult};
use crate::server::Shared;

const SUBSCRIBE_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK;

pub(super) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "subscribe",
        arity: -2,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Listens for messages published to channels.",
        since: "2.0.0",
        handler: subscribe,
    },
    CommandSpec {
        name: "unsubscribe",
        arity: -1,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Stops listening to messages posted to channels.",
        since: "2.0.0",
        handler: unsubscribe,
    },
    CommandSpec {
        name: "psubscribe",
        arity: -2,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Listens for messages published to channels that match one or more patterns.",
        since: "2.0.0",
        handler: psubscribe,
    },
    CommandSpec {
        name: "punsubscribe",
        arity: -1,
        flags: SUBSCRIBE_FLAGS,
        keys: Keys::None,
        group: "pubsub",
        summary: "Stops listening to messages published to channels that match one or more patterns.",
        since: "2.0.0",
        handler: punsubscribe,
    },
    CommandSpec {
        name: "publish",
        arity: 3,
        flags: PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        keys: Keys::None,
        group: "pubsub",
        summary: "Posts a message to a channel.",
        since: "2.0.0",
        handler: publish,
    },
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        keys: Keys::None,
        group: "pubsub",
        summary: "A container for Pub/Sub commands.",
        since: "2.8.0",
        handler: pubsub,
    },
    CommandSpec {
        name: "monitor",
        arity: 1,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        keys: Keys::None,
        group: "server",
        summary: "Listens for all requests received by the server in real-time.",
        since: "1.0.0",
        handler: monitor,
    },
];

/// Channels or patterns: the two kinds of subscription differ only in names and registry calls.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
}

impl Kind {
    fn subscribed_reply(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
        }
    }

    fn unsubscribed_reply(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
        }
    }

    fn set(self, client: &mut ClientState) -> &mut HashSet<Bytes> {
        match self {
            Kind::Channel => &mut client.channels,
            Kind::Pattern => &mut client.patterns,
        }
    }

    fn register(self, server: &Shared, client: &ClientState, name: &Bytes) {
        let (id, inbox) = (client.handle.id, client.inbox.clone());
        match self {
            Kind::Channel => server.pubsub.subscribe(id, name.clone(), inbox),
            Kind::Pattern => server.pubsub.psubscribe(id, name.clone(), inbox),
        }
    }

    fn unregister(self, server: &Shared, id: u64, name: &Bytes) {
        match self {
            Kind::Channel => server.pubsub.unsubscribe(id, name),
            Kind::Pattern => server.pubsub.punsubscribe(id, name),
        }
    }
}

/// Mirrors the subscription counts into the handle (CLIENT LIST's `sub=` and `psub=`).
fn publish_counts(client: &ClientState) {
    client.handle.subscriptions.store(client.channels.len(), Ordering::Relaxed);
    client.handle.patterns.store(client.patterns.len(), Ordering::Relaxed);
}

/// Writes one `[kind, name, count]` confirmation; a missing name is a null.
fn confirm(ctx: &mut Ctx, kind: &[u8], name: Option<&[u8]>) {
    let count = ctx.client.channels.len() + ctx.client.patterns.len();
    ctx.out.push(3);
    ctx.out.bulk(kind);
    match name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn subscribe_to(ctx: &mut Ctx, kind: Kind, names: &[Bytes]) -> CmdResult {
    for name in names {
        if kind.set(ctx.client).insert(name.clone()) {
            kind.register(ctx.server, ctx.client, name);
        }
        confirm(ctx, kind.subscribed_reply(), Some(name));
    }
    publish_counts(ctx.client);
    Ok(())
}

/// Unsubscribes from `names`, or from everything of this kind when there are none; each one is
/// confirmed with the count left after it.
fn unsubscribe_from(ctx: &mut Ctx, kind: Kind, names: &[Bytes]) -> CmdResult {
    let all: Vec<Bytes>;
    let names = if names.is_empty() {
        all = kind.set(ctx.client).iter().cloned().collect();
        if all.is_empty() {
            confirm(ctx, kind.unsubscribed_reply(), None);
        }
        &all[..]
    } else {
        names
    };
    for name in names {
        if kind.set(ctx.client).remove(name) {
            kind.unregister(ctx.server, ctx.client.handle.id, name);
        }
        confirm(ctx, kind.unsubscribed_reply(), Some(name));
    }
    publish_counts(ctx.client);
    Ok(())
}

fn subscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, Kind::Channel, &args[1..])
}

fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, Kind::Channel, &args[1..])
}

fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_to(ctx, Kind::Pattern, &args[1..])
}

fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_from(ctx, Kind::Pattern, &args[1..])
}

fn publish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let receivers = ctx.server.pubsub.publish(&args[1], &args[2], &ctx.server.hot.output, &ctx.server.log);
    ctx.out.int(receivers as i64);
    Ok(())
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// PUBSUB's subcommands. There are no shard channels here (no SSUBSCRIBE), so SHARDCHANNELS and
/// SHARDNUMSUB report none, as a Redis without shard subscribers does.
fn pubsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let arity_error = |name: &str| CmdError::WrongArity(format!("pubsub|{name}").into());
    if is(sub, "CHANNELS") || is(sub, "SHARDCHANNELS") {
        if args.len() > 3 {
            return Err(arity_error(&String::from_utf8_lossy(sub).to_lowercase()));
        }
        let channels =
            if is(sub, "CHANNELS") { ctx.server.pubsub.channels(args.get(2).map(|p| &p[..])) } else { vec![] };
        ctx.out.array(channels.len());
        for channel in &channels {
            ctx.out.bulk(channel);
        }
    } else if is(sub, "NUMSUB") || is(sub, "SHARDNUMSUB") {
        let shard = is(sub, "SHARDNUMSUB");
        ctx.out.array(2 * (args.len() - 2));
        for channel in &args[2..] {
            ctx.out.bulk(channel);
            ctx.out.int(if shard { 0 } else { ctx.server.pubsub.numsub(channel) as i64 });
        }
    } else if is(sub, "NUMPAT") || is(sub, "HELP") {
        if args.len() != 2 {
            return Err(arity_error(if is(sub, "HELP") { "help" } else { "numpat" }));
        }
        if is(sub, "HELP") {
            ctx.out.array(PUBSUB_HELP.len());
            PUBSUB_HELP.iter().for_each(|line| ctx.out.simple(line));
        } else {
            ctx.out.int(ctx.server.pubsub.numpat() as i64);
        }
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: String::from_utf8_lossy(sub).into_owned(),
            cmd: "PUBSUB".into(),
        });
    }
    Ok(())
}

/// MONITOR: from now on this client receives a line for every command any client executes. A
/// second MONITOR is ignored without a reply, as in Redis.
fn monitor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.in_exec {
        return Err(CmdError::fixed("ERR MONITOR isn't allowed for DENY BLOCKING client"));
    }
    if ctx.server.pubsub.monitors.add(ctx.client.handle.id, ctx.client.inbox.clone()) {
        ctx.client.handle.monitor.store(true, Ordering::Relaxed);
        ctx.out.ok();
    }
    Ok(())
}

/// Drops every subscription of a client and ends its MONITOR (RESET, disconnect).
pub fn unsubscribe_all(server: &Shared, client: &mut ClientState) {
    let id = client.handle.id;
    for channel in client.channels.drain() {
        server.pubsub.unsubscribe(id, &channel);
    }
    for pattern in client.patterns.drain() {
        server.pubsub.punsubscribe(id, &pattern);
    }
    publish_counts(client);
    if client.handle.monitor.swap(false, Ordering::Relaxed) {
        server.pubsub.monitors.remove(id);
    }
}
