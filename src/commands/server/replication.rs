//! Replication commands: REPLICAOF (and its old name SLAVEOF), ROLE, and meshkv's own
//! MESHKV.STAMP (why a value won), MESHKV.DIGEST (are two nodes equal, stamps and expiry times
//! included) and MESHKV.SYNC (a peer's request for changes, which turns the connection into a
//! replication link).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use meshkv_replication::{Host, Mesh};

use super::super::args::{is, lossy};
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use crate::error::{CmdError, CmdResult};

pub(in crate::commands) static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "replicaof",
        arity: 3,
        flags: ADMIN | NOSCRIPT | STALE | NO_MULTI,
        keys: Keys::None,
        group: "server",
        summary: "Adds a peer to pull changes from (active replica) or follows a master; NO ONE drops them all.",
        since: "5.0.0",
        handler: replicaof,
    },
    CommandSpec {
        name: "slaveof",
        arity: 3,
        flags: ADMIN | NOSCRIPT | STALE | NO_MULTI,
        keys: Keys::None,
        group: "server",
        summary: "Sets a Redis server as a replica of another, or promotes it to being a master.",
        since: "1.0.0",
        handler: replicaof,
    },
    CommandSpec {
        name: "role",
        arity: 1,
        flags: NOSCRIPT | LOADING | STALE | FAST,
        keys: Keys::None,
        group: "server",
        summary: "Returns the replication role.",
        since: "2.8.12",
        handler: role,
    },
    CommandSpec {
        name: "meshkv.stamp",
        arity: 2,
        flags: READONLY | FAST,
        keys: Keys::FIRST,
        group: "server",
        summary: "Returns the stamp (HLC and origin node) of the write that a key's value, or its deletion, came from.",
        since: "7.0.0",
        handler: stamp,
    },
    CommandSpec {
        name: "meshkv.digest",
        arity: 1,
        flags: READONLY | STALE,
        keys: Keys::All,
        group: "server",
        summary:
            "Returns a digest of every key's type, value, expiry time and stamp: equal on nodes that have converged.",
        since: "7.0.0",
        handler: digest,
    },
    CommandSpec {
        name: "meshkv.sync",
        arity: -6,
        flags: ADMIN | NOSCRIPT | STALE | NO_MULTI,
        keys: Keys::None,
        group: "server",
        summary:
            "Internal: a peer asks for the changes after its watermarks; the connection becomes a replication link.",
        since: "7.0.0",
        handler: sync,
    },
];

/// REPLICAOF host port | NO ONE. Starting a link needs the whole server (the link merges into the
/// keyspace), so the link is added once this command's locks are released; the reply says
/// whether it already existed.
fn replicaof(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let server = ctx.server;
    if is(&args[1], "no") && is(&args[2], "one") {
        server.mesh.drop_peers();
        server.config.write().replicaof.clear();
        server.refresh_read_only();
        server.log.notice("REPLICAOF NO ONE: every replication link dropped");
        ctx.out.ok();
        return Ok(());
    }
    let port = lossy(&args[2]).parse::<u16>().map_err(|_| CmdError::fixed("ERR Invalid master port"))?;
    let host = lossy(&args[1]);
    if server.mesh.peers().iter().any(|p| p.host == host && p.port == port) {
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    ctx.after(move |server| {
        let me: Arc<dyn Host> = server.clone();
        if !server.mesh.add_peer(me, &host, port) {
            return; // added meanwhile by another client
        }
        {
            let mut config = server.config.write();
            if !(config.active_replica && config.multi_master) {
                config.replicaof.clear();
            }
            config.replicaof.push((host.clone(), port));
        }
        server.refresh_read_only();
        server.log.notice(&format!("REPLICAOF {host}:{port} enabled"));
    });
    ctx.out.ok();
    Ok(())
}

/// ROLE: `master` (offset, followers), `slave` (its master and link state, as Redis), or meshkv's
/// `active-replica` (offset, followers, then each peer as host, port, state, changes applied).
fn role(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let mesh = &ctx.server.mesh;
    let out = &mut *ctx.out;
    let offset = mesh.backlog().map_or(0, |b| b.head().0) as i64;
    let peers = mesh.peers();
    let followers = |out: &mut crate::protocol::Reply| {
        let followers = mesh.followers();
        out.array(followers.len());
        for f in followers {
            out.array(3);
            out.bulk(f.ip.as_bytes());
            out.bulk(f.port.to_string().as_bytes());
            out.bulk(f.acked.load(Ordering::Relaxed).to_string().as_bytes());
        }
    };
    if mesh.settings().active {
        out.array(4);
        out.bulk(b"active-replica");
        out.int(offset);
        followers(out);
        out.array(peers.len());
        for peer in peers {
            let status = peer.status();
            out.array(4);
            out.bulk(peer.host.as_bytes());
            out.int(peer.port as i64);
            out.bulk(status.state.as_bytes());
            out.int(status.applied as i64);
        }
    } else if let Some(master) = peers.first() {
        let status = master.status();
        let state = match status.state {
            "connected" => "connected",
            "syncing" => "sync",
            _ => "connect",
        };
        out.array(5);
        out.bulk(b"slave");
        out.bulk(master.host.as_bytes());
        out.int(master.port as i64);
        out.bulk(state.as_bytes());
        out.int(status.applied as i64);
    } else {
        out.array(3);
        out.bulk(b"master");
        out.int(offset);
        followers(out);
    }
    Ok(())
}

/// MESHKV.STAMP key: `[hlc, node id (hex), wall-clock ms of the write, "live" or "deleted"]`, or
/// nil when the key is absent and has no tombstone (replication keeps tombstones only once on).
fn stamp(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = ctx.key(&args[1]);
    let db = ctx.db();
    let found = match ctx.txn.peek(db, &key) {
        Some(entry) => Some((entry.stamp, "live")),
        None => ctx.txn.tombstone(db, &key).map(|stamp| (stamp, "deleted")),
    };
    let Some((stamp, state)) = found else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.array(4);
    ctx.out.int(stamp.hlc as i64);
    ctx.out.bulk(format!("{:016x}", stamp.node).as_bytes());
    ctx.out.int(stamp.physical_ms() as i64);
    ctx.out.bulk(state.as_bytes());
    Ok(())
}

/// MESHKV.DIGEST: 40 hex digits over every key of every database (its name, type, value, expiry
/// time and stamp; tombstones are left out, as each node purges its own on its own schedule).
/// DEBUG DIGEST leaves out the stamps and the expiry times, so two nodes can agree on it while a
/// later write or EXPIRE on one never reached the other.
fn digest(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let digest = super::debug::dataset_digest(ctx, super::debug::stamped_key_digest);
    ctx.out.simple(&super::debug::hex(&digest));
    Ok(())
}

/// MESHKV.SYNC uuid node run port n [node run through]*n: hands the connection to replication,
/// which answers `+FULLSYNC` or `+PARTIAL` and streams changes from then on.
fn sync(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let words: Vec<&[u8]> = args[1..].iter().map(|a| &a[..]).collect();
    let request = Mesh::parse_request(&words).ok_or(CmdError::fixed("ERR malformed MESHKV.SYNC request"))?;
    ctx.client.sync_request = Some(request);
    Ok(())
}
