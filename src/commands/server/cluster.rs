//! CLUSTER, as Redis 7.0 answers it with `cluster-enabled no`, meshkv's only mode: every
//! subcommand Redis has is refused with `This instance has cluster support disabled` (after
//! Redis's arity check for it), any other is an unknown subcommand. Having the command lets
//! clients and COMMAND see what a non-cluster Redis shows (`cluster|help` in COMMAND LIST), and
//! scripts get Redis's refusal of CLUSTER RESET (`noscript`, see [`super::key_specs`]).

use bytes::Bytes;

use super::super::{CommandSpec, Ctx, Keys};
use super::key_specs::redis_keys;
use super::{sub_arity, unknown_sub};
use crate::acl::catalog;
use crate::error::{CmdError, CmdResult};

pub(in crate::commands) static CLUSTER_COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "cluster",
    arity: -2,
    flags: 0,
    keys: Keys::None,
    group: "cluster",
    summary: "A container for cluster commands",
    since: "3.0.0",
    handler: cluster,
}];

fn cluster(_ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let Some((id, _)) = catalog().resolve("cluster", args) else { return Err(unknown_sub("CLUSTER", sub)) };
    let arity = redis_keys(&catalog().entries[id].name).map_or(-2, |r| r.arity);
    let n = args.len() as i32;
    if (arity >= 0 && n != arity) || n < arity.abs() {
        return Err(sub_arity("cluster", sub));
    }
    Err(CmdError::fixed("ERR This instance has cluster support disabled"))
}
