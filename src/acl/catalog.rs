//! What ACL rules name: every command and subcommand by id, with Redis 7.0's ACL categories and
//! the key permissions each of its keys needs.
//!
//! meshkv's command table knows each command's flags and key positions, not Redis's categories
//! (which are finer than flags: `client|id` is `@connection`, `client|kill` `@admin`) nor which key
//! is read and which written (`LMOVE src dst`: the source is read and written, the destination
//! only written). Those come from `redis_commands.txt`, generated from a real redis-server 7.0's
//! COMMAND by `scripts/acl_commands.py`. A meshkv command Redis does not have gets categories from
//! its flags and needs read and write permission on every key.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The ACL categories, in Redis 7.0's order (ACL CAT).
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A key pattern or a command's key grants reading.
pub const READ: u8 = 1;
/// A key pattern or a command's key grants writing.
pub const WRITE: u8 = 2;

const TABLE: &str = include_str!("redis_commands.txt");

/// One command or subcommand.
pub struct Entry {
    /// Full name: `get`, `config|get`.
    pub name: String,
    /// Bit `i` set: in category `CATEGORIES[i]`.
    pub categories: u32,
    /// Permissions ([`READ`], [`WRITE`]) the first key needs, and every other key.
    pub keys: (u8, u8),
    /// Subcommand ids (a container command: CONFIG, CLIENT, ACL...).
    pub children: Vec<usize>,
    /// True for a subcommand.
    pub is_sub: bool,
}

/// Every command and subcommand meshkv has, by id.
pub struct Catalog {
    /// Entries by id.
    pub entries: Vec<Entry>,
    ids: HashMap<String, usize>,
}

/// The catalog (built once, from meshkv's command table as it is before any `rename-command`:
/// ACL rules name commands by their own names, as in Redis).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::build)
}

fn parse_needs(s: &str) -> u8 {
    let mut n = 0;
    if s.contains('R') {
        n |= READ;
    }
    if s.contains('W') {
        n |= WRITE;
    }
    n
}

/// Category bits from a list such as `read,string,fast`.
fn category_bits<'a>(names: impl Iterator<Item = &'a str>) -> u32 {
    names.filter_map(|n| CATEGORIES.iter().position(|c| *c == n)).fold(0, |bits, i| bits | 1 << i)
}

impl Catalog {
    fn build() -> Catalog {
        use crate::commands::flags;
        let mut redis: HashMap<&str, (u32, (u8, u8))> = HashMap::new();
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let mut parts = line.split(' ');
            let (Some(name), Some(first), Some(rest), Some(cats)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            redis.insert(name, (category_bits(cats.split(',')), (parse_needs(first), parse_needs(rest))));
        }
        let mut specs: Vec<_> = crate::commands::CommandTable::new().all().collect();
        specs.sort_by_key(|s| s.name);
        let mut catalog = Catalog { entries: Vec::new(), ids: HashMap::new() };
        for spec in specs {
            let (categories, keys) = redis.get(spec.name).copied().unwrap_or_else(|| {
                let f = spec.flags;
                let mut cats: Vec<&str> = Vec::new();
                if f & flags::WRITE != 0 {
                    cats.push("write");
                }
                if f & flags::READONLY != 0 {
                    cats.push("read");
                }
                if f & flags::ADMIN != 0 {
                    cats.extend(["admin", "dangerous"]);
                }
                cats.push(if f & flags::FAST != 0 { "fast" } else { "slow" });
                (category_bits(cats.into_iter()), (READ | WRITE, READ | WRITE))
            });
            catalog.add(spec.name.to_string(), categories, keys, false);
        }
        let mut subs: Vec<(&str, u32, (u8, u8))> = redis
            .iter()
            .filter(|(name, _)| name.contains('|'))
            .map(|(name, (cats, keys))| (*name, *cats, *keys))
            .collect();
        subs.sort_unstable_by_key(|s| s.0);
        // Subcommands meshkv has that Redis 7.0 does not, with Redis 7.2's categories.
        subs.push(("client|no-touch", category_bits(["slow", "connection"].into_iter()), (0, 0)));
        for (name, categories, keys) in subs {
            let parent = name.split('|').next().unwrap_or_default();
            if let Some(&parent_id) = catalog.ids.get(parent) {
                let id = catalog.add(name.to_string(), categories, keys, true);
                catalog.entries[parent_id].children.push(id);
            }
        }
        catalog
    }

    fn add(&mut self, name: String, categories: u32, keys: (u8, u8), is_sub: bool) -> usize {
        let id = self.entries.len();
        self.ids.insert(name.clone(), id);
        self.entries.push(Entry { name, categories, keys, children: Vec::new(), is_sub });
        id
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no commands (never).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id of a command or subcommand by its full name (lower case).
    pub fn id(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }

    /// The id of the command a request runs (a container's subcommand), and the position of the
    /// argument after the (sub)command's name. None for a container's unknown subcommand, which
    /// its handler refuses as such (Redis refuses it before any ACL check).
    pub fn resolve(&self, name: &str, args: &[bytes::Bytes]) -> Option<(usize, usize)> {
        let id = self.id(name)?;
        if !self.entries[id].children.is_empty() {
            let sub = args.get(1)?;
            let full = format!("{name}|{}", String::from_utf8_lossy(sub).to_ascii_lowercase());
            return self.id(&full).map(|sub_id| (sub_id, 2));
        }
        Some((id, 1))
    }

    /// What a request's keys need ([`READ`], [`WRITE`]): its first key, and every other. As
    /// Redis 7.0's key specs, with their one variable case that meshkv has: SET writes its key
    /// without reading it, unless GET asks for the old value (Redis's `setGetKeys`).
    pub fn key_needs(&self, id: usize, args: &[bytes::Bytes]) -> (u8, u8) {
        let entry = &self.entries[id];
        if entry.name == "set" {
            let needs = match args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
                true => READ | WRITE,
                false => WRITE,
            };
            return (needs, needs);
        }
        entry.keys
    }

    /// The bit of a category by name (case-insensitive).
    pub fn category(name: &str) -> Option<u32> {
        CATEGORIES.iter().position(|c| c.eq_ignore_ascii_case(name)).map(|i| 1 << i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_categories_and_key_needs_are_known() {
        let c = catalog();
        let get = &c.entries[c.id("get").unwrap()];
        assert_eq!(get.keys, (READ, READ));
        assert_ne!(get.categories & Catalog::category("string").unwrap(), 0);
        let lmove = &c.entries[c.id("lmove").unwrap()];
        assert_eq!(lmove.keys, (READ | WRITE, WRITE));
        let config = c.id("config").unwrap();
        assert!(c.entries[config].children.iter().any(|&i| c.entries[i].name == "config|get"));
        assert!(c.id("client|kill").is_some());
    }
}
