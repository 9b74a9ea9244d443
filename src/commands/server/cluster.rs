//! CLUSTER, as a Redis 7.0 with `cluster-enabled no` answers it (meshkv scales by active-active
//! replication, not Redis Cluster): every subcommand Redis has, with its right number of
//! arguments, fails with Redis's `This instance has cluster support disabled`, which is how
//! clients find out that a server is not a cluster node. A subcommand Redis does not have, or
//! the wrong number of arguments, gets Redis's error for that.

use bytes::Bytes;

use super::super::args::lossy;
use super::super::flags::*;
use super::super::{CommandSpec, Ctx, Keys};
use super::{sub_arity, unknown_sub};
use crate::error::{CmdError, CmdResult};

pub(in crate::commands) static CLUSTER_COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "cluster",
    arity: -2,
    flags: STALE,
    keys: Keys::None,
    group: "cluster",
    summary: "A container for cluster commands.",
    since: "3.0.0",
    handler: cluster,
}];

/// Redis 7.0.15's CLUSTER subcommands, with their arity (the subcommand counts, as in COMMAND
/// INFO: N exactly, -N at least N).
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("addslots", -3),
    ("addslotsrange", -4),
    ("bumpepoch", 2),
    ("count-failure-reports", 3),
    ("countkeysinslot", 3),
    ("delslots", -3),
    ("delslotsrange", -4),
    ("failover", -2),
    ("flushslots", 2),
    ("forget", 3),
    ("getkeysinslot", 4),
    ("help", 2),
    ("info", 2),
    ("keyslot", 3),
    ("links", 2),
    ("meet", -4),
    ("myid", 2),
    ("nodes", 2),
    ("replicas", 3),
    ("replicate", 3),
    ("reset", -2),
    ("saveconfig", 2),
    ("set-config-epoch", 3),
    ("setslot", -4),
    ("shards", 2),
    ("slaves", 3),
    ("slots", 2),
];

fn cluster(_ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let name = lossy(sub).to_ascii_lowercase();
    let Some(&(_, arity)) = SUBCOMMANDS.iter().find(|(s, _)| *s == name) else {
        return Err(unknown_sub("CLUSTER", sub));
    };
    let n = args.len() as i32;
    if (arity >= 0 && n != arity) || n < -arity {
        return Err(sub_arity("cluster", sub));
    }
    Err(CmdError::fixed("ERR This instance has cluster support disabled"))
}
