//! How Redis 7.0 describes each command's keys, for COMMAND INFO, GETKEYS and GETKEYSANDFLAGS,
//! and which of its subcommands scripts may not call.
//!
//! meshkv's command table says where a command's keys are (to lock them), not what Redis's key
//! specs say about them: whether the key is overwritten (`OW update`) or read and then changed
//! (`RW access update`), whether Redis flags the command `movablekeys`, or whether it may be
//! called with no key at all; nor does it flag subcommands, while Redis refuses some subcommands
//! in scripts (`noscript`) and not others of the same command (CLUSTER RESET, not CLUSTER INFO).
//! Those come from `redis_key_specs.txt`, generated from a real
//! redis-server 7.0's COMMAND by `scripts/command_key_specs.py`, with every command and
//! subcommand Redis has (so the table also says which commands are Redis's, and which of those
//! have no keys). A command meshkv has and Redis does not is described from meshkv's own table.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::super::args::is;
use super::super::CommandSpec;
use crate::acl::catalog;

const TABLE: &str = include_str!("redis_key_specs.txt");

/// One Redis command or subcommand, as its COMMAND entry describes its keys.
pub(super) struct RedisKeys {
    /// Redis's arity for it (for a subcommand, counting from the container's name).
    pub arity: i32,
    /// COMMAND INFO flags it `movablekeys`: where its keys are depends on its arguments.
    pub movable: bool,
    /// It may name no key at all (scripts and functions): COMMAND GETKEYS then answers an
    /// empty list, not an error.
    pub no_mandatory: bool,
    /// Scripts may not call it.
    pub noscript: bool,
    /// Its keys' flags depend on its arguments (SET with GET reads its key too).
    variable: bool,
    /// The key-spec flags of its first key; empty for a command without keys.
    first: Vec<&'static str>,
    /// The key-spec flags of its other keys (the last key spec's: for every command Redis 7.0
    /// has, keys after the first are all found by its last spec, or all have the same flags).
    other: Vec<&'static str>,
}

impl RedisKeys {
    /// Whether Redis's COMMAND GETKEYS looks for keys in it at all.
    pub fn has_keys(&self) -> bool {
        !self.first.is_empty()
    }

    /// The flags COMMAND GETKEYSANDFLAGS reports for the `index`th key found in `args` (the
    /// command line from its name on).
    pub fn flags(&self, name: &str, args: &[Bytes], index: usize) -> &[&'static str] {
        if self.variable && name == "set" {
            // Redis's setGetKeys: a GET argument anywhere after the value makes SET read the key.
            return if args.iter().skip(3).any(|a| is(a, "GET")) {
                &["RW", "access", "update"]
            } else {
                &["OW", "update"]
            };
        }
        if index == 0 {
            &self.first
        } else {
            &self.other
        }
    }
}

/// Whether Redis refuses this call in a script for its subcommand (CLUSTER RESET), where
/// meshkv's table flags whole commands only.
pub(in crate::commands) fn subcommand_noscript(spec: &CommandSpec, args: &[Bytes]) -> bool {
    let catalog = catalog();
    catalog
        .resolve(spec.name, args)
        .map(|(id, _)| &catalog.entries[id])
        .filter(|entry| entry.is_sub)
        .and_then(|entry| redis_keys(&entry.name))
        .is_some_and(|redis| redis.noscript)
}

/// Redis's entry for a command or subcommand by its full lower-case name (`get`,
/// `memory|usage`); `None` for one Redis 7.0 does not have.
pub(super) fn redis_keys(name: &str) -> Option<&'static RedisKeys> {
    static ENTRIES: OnceLock<HashMap<&'static str, RedisKeys>> = OnceLock::new();
    ENTRIES.get_or_init(parse).get(name)
}

fn parse() -> HashMap<&'static str, RedisKeys> {
    let flags = |field: &'static str| -> Vec<&'static str> {
        if field == "-" {
            Vec::new()
        } else {
            field.split(',').collect()
        }
    };
    let mut entries = HashMap::new();
    for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let fields: Vec<&'static str> = line.split(' ').collect();
        let [name, arity, extra, first, other] = fields[..] else { continue };
        let extra = flags(extra);
        entries.insert(
            name,
            RedisKeys {
                arity: arity.parse().unwrap_or(0),
                movable: extra.contains(&"movablekeys"),
                no_mandatory: extra.contains(&"no_mandatory_keys"),
                noscript: extra.contains(&"noscript"),
                variable: extra.contains(&"variable_flags"),
                first: flags(first),
                other: flags(other),
            },
        );
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_as_redis_describes_its_commands() {
        let lmove = redis_keys("lmove").unwrap();
        assert_eq!(lmove.flags("lmove", &[], 0), ["RW", "access", "delete"]);
        assert_eq!(lmove.flags("lmove", &[], 1), ["RW", "insert"]);
        assert!(!lmove.movable);
        let eval = redis_keys("eval").unwrap();
        assert!(eval.movable && eval.no_mandatory && eval.has_keys());
        assert!(redis_keys("sort").unwrap().movable);
        assert_eq!(redis_keys("memory|usage").unwrap().arity, -3);
        assert!(!redis_keys("client|list").unwrap().has_keys());
        assert!(redis_keys("meshkv.digest").is_none());
        assert!(redis_keys("cluster|reset").unwrap().noscript && !redis_keys("cluster|info").unwrap().noscript);
    }

    #[test]
    fn set_reads_its_key_only_with_get() {
        let set = redis_keys("set").unwrap();
        let args = |line: &str| line.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect::<Vec<_>>();
        assert_eq!(set.flags("set", &args("set k v"), 0), ["OW", "update"]);
        assert_eq!(set.flags("set", &args("set k v NX get"), 0), ["RW", "access", "update"]);
    }
}
