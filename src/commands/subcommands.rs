//! The subcommands of Redis 7.0's container commands (CLIENT, CONFIG, ...), by their full names
//! (`client|list`): what CLIENT LIST's `cmd=` shows for the last command a client ran, as Redis
//! shows its subcommand's name rather than the container's.

use bytes::Bytes;

/// Each container command and its subcommands' full names, as COMMAND INFO of a redis-server
/// 7.0.15 lists them, and CLIENT NO-TOUCH, which meshkv has as Redis 7.2 does; sorted by
/// container.
#[rustfmt::skip]
static SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("acl", &["acl|cat", "acl|deluser", "acl|dryrun", "acl|genpass", "acl|getuser", "acl|help", "acl|list", "acl|load", "acl|log", "acl|save", "acl|setuser", "acl|users", "acl|whoami"]),
    ("client", &["client|caching", "client|getname", "client|getredir", "client|help", "client|id", "client|info", "client|kill", "client|list", "client|no-evict", "client|no-touch", "client|pause", "client|reply", "client|setname", "client|tracking", "client|trackinginfo", "client|unblock", "client|unpause"]),
    ("cluster", &["cluster|addslots", "cluster|addslotsrange", "cluster|bumpepoch", "cluster|count-failure-reports", "cluster|countkeysinslot", "cluster|delslots", "cluster|delslotsrange", "cluster|failover", "cluster|flushslots", "cluster|forget", "cluster|getkeysinslot", "cluster|help", "cluster|info", "cluster|keyslot", "cluster|links", "cluster|meet", "cluster|myid", "cluster|nodes", "cluster|replicas", "cluster|replicate", "cluster|reset", "cluster|saveconfig", "cluster|set-config-epoch", "cluster|setslot", "cluster|shards", "cluster|slaves", "cluster|slots"]),
    ("command", &["command|count", "command|docs", "command|getkeys", "command|getkeysandflags", "command|help", "command|info", "command|list"]),
    ("config", &["config|get", "config|help", "config|resetstat", "config|rewrite", "config|set"]),
    ("function", &["function|delete", "function|dump", "function|flush", "function|help", "function|kill", "function|list", "function|load", "function|restore", "function|stats"]),
    ("latency", &["latency|doctor", "latency|graph", "latency|help", "latency|histogram", "latency|history", "latency|latest", "latency|reset"]),
    ("memory", &["memory|doctor", "memory|help", "memory|malloc-stats", "memory|purge", "memory|stats", "memory|usage"]),
    ("module", &["module|help", "module|list", "module|load", "module|loadex", "module|unload"]),
    ("object", &["object|encoding", "object|freq", "object|help", "object|idletime", "object|refcount"]),
    ("pubsub", &["pubsub|channels", "pubsub|help", "pubsub|numpat", "pubsub|numsub", "pubsub|shardchannels", "pubsub|shardnumsub"]),
    ("script", &["script|debug", "script|exists", "script|flush", "script|help", "script|kill", "script|load"]),
    ("slowlog", &["slowlog|get", "slowlog|help", "slowlog|len", "slowlog|reset"]),
    ("xgroup", &["xgroup|create", "xgroup|createconsumer", "xgroup|delconsumer", "xgroup|destroy", "xgroup|help", "xgroup|setid"]),
    ("xinfo", &["xinfo|consumers", "xinfo|groups", "xinfo|help", "xinfo|stream"]),
];

/// What a request names when `name` is a container called with a subcommand: `Some` of the
/// subcommand's full name, or `Some(None)` for one Redis does not have; `None` for any other
/// request.
fn lookup(name: &str, args: &[Bytes]) -> Option<Option<&'static str>> {
    let sub = args.get(1)?;
    let i = SUBCOMMANDS.binary_search_by_key(&name, |(container, _)| container).ok()?;
    Some(SUBCOMMANDS[i].1.iter().find(|full| full.as_bytes()[name.len() + 1..].eq_ignore_ascii_case(sub)).copied())
}

/// The name CLIENT LIST shows for a command that ran: a container's subcommand by its full name
/// (`client|list`), any other command (or a subcommand Redis does not have) by its own.
pub fn full_name(name: &'static str, args: &[Bytes]) -> &'static str {
    lookup(name, args).flatten().unwrap_or(name)
}

/// True for a container command called with a subcommand Redis does not have (which Redis's
/// command lookup does not find).
pub fn is_unknown(name: &str, args: &[Bytes]) -> bool {
    lookup(name, args) == Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_sorted_and_subcommands_named_after_them() {
        assert!(SUBCOMMANDS.windows(2).all(|w| w[0].0 < w[1].0));
        for (container, subs) in SUBCOMMANDS {
            assert!(
                subs.iter().all(|s| s.strip_prefix(container).is_some_and(|rest| rest.starts_with('|'))),
                "{container}"
            );
        }
    }

    #[test]
    fn a_subcommand_is_named_in_full_whatever_its_case() {
        let args = |words: &[&str]| words.iter().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect::<Vec<_>>();
        assert_eq!(full_name("client", &args(&["CLIENT", "LiSt"])), "client|list");
        assert_eq!(full_name("config", &args(&["config", "get", "x"])), "config|get");
        assert_eq!(full_name("client", &args(&["client"])), "client");
        assert_eq!(full_name("client", &args(&["client", "nosuch"])), "client");
        assert_eq!(full_name("get", &args(&["get", "list"])), "get");
        assert!(is_unknown("client", &args(&["client", "nosuch"])));
        assert!(!is_unknown("client", &args(&["client", "LIST"])) && !is_unknown("get", &args(&["get", "x"])));
    }
}
