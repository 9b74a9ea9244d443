//! Integration tests for the generic key commands: existence, TYPE, OBJECT, KEYS, SCAN,
//! RENAME, MOVE, COPY, and the EXPIRE / TTL family (with lazy and active expiry).

use std::collections::HashSet;
use std::thread::sleep;
use std::time::Duration;

use super::harness::{RawConn, TestServer};
use redis::Commands;

/// A bulk-string reply as RESP text.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// Reads an integer reply.
fn int(raw: &mut RawConn, args: &[&str]) -> i64 {
    let reply = raw.call(args);
    reply.strip_prefix(':').and_then(|r| r.trim_end().parse().ok()).unwrap_or_else(|| panic!("{args:?}: {reply}"))
}

#[test]
fn existence_type_object_and_deletion() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert_eq!(raw.call(&["RANDOMKEY"]), "$-1\r\n");
    let long = "x".repeat(45);
    let embstr = "y".repeat(44);
    for (k, v) in [("n", "100"), ("big", "12345"), ("neg", "-5"), ("e", embstr.as_str()), ("r", long.as_str())] {
        assert_eq!(raw.call(&["SET", k, v]), "+OK\r\n");
    }
    assert!(raw.call(&["RANDOMKEY"]).starts_with('$'));
    assert_ne!(raw.call(&["RANDOMKEY"]), "$-1\r\n");
    assert_eq!(raw.call(&["EXISTS", "n", "n", "nokey", "big"]), ":3\r\n");
    assert_eq!(raw.call(&["TOUCH", "n", "nokey", "e"]), ":2\r\n");
    assert_eq!(raw.call(&["TYPE", "n"]), "+string\r\n");
    assert_eq!(raw.call(&["TYPE", "nokey"]), "+none\r\n");

    // OBJECT reports what Redis 7.0 would for these values.
    assert_eq!(raw.call(&["OBJECT", "ENCODING", "n"]), bulk("int"));
    assert_eq!(raw.call(&["OBJECT", "encoding", "neg"]), bulk("int"));
    assert_eq!(raw.call(&["OBJECT", "ENCODING", "e"]), bulk("embstr"));
    assert_eq!(raw.call(&["OBJECT", "ENCODING", "r"]), bulk("raw"));
    assert_eq!(raw.call(&["OBJECT", "ENCODING", "nokey"]), "$-1\r\n");
    assert_eq!(raw.call(&["OBJECT", "REFCOUNT", "n"]), ":2147483647\r\n");
    assert_eq!(raw.call(&["OBJECT", "REFCOUNT", "big"]), ":1\r\n");
    assert_eq!(raw.call(&["OBJECT", "IDLETIME", "n"]), ":0\r\n");
    assert_eq!(raw.call(&["OBJECT", "IDLETIME", "nokey"]), "$-1\r\n");
    assert_eq!(
        raw.call(&["OBJECT", "FREQ", "n"]),
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
    assert_eq!(raw.call(&["OBJECT", "FREQ", "nokey"]), "$-1\r\n");
    assert_eq!(raw.call(&["OBJECT", "foo"]), "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n");
    assert_eq!(raw.call(&["OBJECT"]), "-ERR wrong number of arguments for 'object' command\r\n");
    assert_eq!(raw.call(&["OBJECT", "ENCODING"]), "-ERR wrong number of arguments for 'object|encoding' command\r\n");
    assert_eq!(raw.call(&["OBJECT", "help", "x"]), "-ERR wrong number of arguments for 'object|help' command\r\n");
    let help = raw.call(&["OBJECT", "HELP"]);
    assert!(help.starts_with("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"), "{help}");

    assert_eq!(raw.call(&["DEL", "n", "n", "nokey"]), ":1\r\n");
    assert_eq!(raw.call(&["UNLINK", "big", "e", "nokey"]), ":2\r\n");
    assert_eq!(raw.call(&["EXISTS", "n", "big", "e"]), ":0\r\n");
    assert_eq!(raw.call(&["UNLINK"]), "-ERR wrong number of arguments for 'unlink' command\r\n");
}

#[test]
fn expire_options_errors_and_ttl_replies() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.call(&["SET", "k", "v"]);
    let errors = [
        (
            &["EXPIRE", "k", "100", "NX", "XX"][..],
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (
            &["EXPIRE", "k", "100", "nx", "gt"],
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (&["PEXPIRE", "k", "100", "GT", "LT"], "-ERR GT and LT options at the same time are not compatible\r\n"),
        (&["EXPIRE", "k", "abc", "foo"], "-ERR Unsupported option foo\r\n"),
        (&["EXPIRE", "k", "abc"], "-ERR value is not an integer or out of range\r\n"),
        (&["EXPIRE", "k", "9223372036854775807"], "-ERR invalid expire time in 'expire' command\r\n"),
        (&["EXPIRE", "k", "-9223372036854775808"], "-ERR invalid expire time in 'expire' command\r\n"),
        (&["EXPIRE", "k", "9223372036854775"], "-ERR invalid expire time in 'expire' command\r\n"),
        (&["PEXPIRE", "k", "9223372036854775807"], "-ERR invalid expire time in 'pexpire' command\r\n"),
        (&["EXPIREAT", "k", "9223372036854775807"], "-ERR invalid expire time in 'expireat' command\r\n"),
    ];
    for (args, expected) in errors {
        assert_eq!(raw.call(args), expected, "{args:?}");
    }
    assert_eq!(raw.call(&["TTL", "k"]), ":-1\r\n", "errors leave the key alone");

    // No expiry counts as an infinite one: GT never wins against it, LT always does.
    assert_eq!(raw.call(&["EXPIRE", "k", "100", "XX"]), ":0\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "100", "GT"]), ":0\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "100", "NX"]), ":1\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "200", "NX"]), ":0\r\n");
    assert_eq!(raw.call(&["TTL", "k"]), ":100\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "50", "GT"]), ":0\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "200", "XX", "GT"]), ":1\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "300", "LT"]), ":0\r\n");
    assert_eq!(raw.call(&["EXPIRE", "k", "10", "lt"]), ":1\r\n");
    assert_eq!(raw.call(&["TTL", "k"]), ":10\r\n");
    let pttl = int(&mut raw, &["PTTL", "k"]);
    assert!((9_000..=10_000).contains(&pttl), "{pttl}");
    // TTL rounds to the nearest second.
    raw.call(&["PEXPIRE", "k", "10600"]);
    assert_eq!(raw.call(&["TTL", "k"]), ":11\r\n");

    // Absolute times, and reading them back.
    assert_eq!(raw.call(&["PEXPIREAT", "k", "4102444800123"]), ":1\r\n");
    assert_eq!(raw.call(&["PEXPIRETIME", "k"]), ":4102444800123\r\n");
    assert_eq!(raw.call(&["EXPIRETIME", "k"]), ":4102444800\r\n");
    assert_eq!(raw.call(&["EXPIREAT", "k", "4102444801"]), ":1\r\n");
    assert_eq!(raw.call(&["PEXPIRETIME", "k"]), ":4102444801000\r\n");

    assert_eq!(raw.call(&["PERSIST", "k"]), ":1\r\n");
    assert_eq!(raw.call(&["PERSIST", "k"]), ":0\r\n");
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(raw.call(&[cmd, "k"]), ":-1\r\n", "{cmd}");
        assert_eq!(raw.call(&[cmd, "nokey"]), ":-2\r\n", "{cmd}");
    }
    assert_eq!(raw.call(&["EXPIRE", "nokey", "10"]), ":0\r\n");
    assert_eq!(raw.call(&["PERSIST", "nokey"]), ":0\r\n");

    // A time in the past deletes the key at once, and still answers 1.
    for (cmd, when) in [("EXPIRE", "-1"), ("PEXPIRE", "0"), ("EXPIREAT", "1"), ("PEXPIREAT", "-5")] {
        raw.call(&["SET", "k", "v"]);
        assert_eq!(raw.call(&[cmd, "k", when]), ":1\r\n", "{cmd}");
        assert_eq!(raw.call(&["EXISTS", "k"]), ":0\r\n", "{cmd}");
    }
    // SET without options clears a TTL.
    raw.call(&["SET", "k", "v", "EX", "100"]);
    raw.call(&["SET", "k", "w"]);
    assert_eq!(raw.call(&["TTL", "k"]), ":-1\r\n");
}

#[test]
fn keys_expire_lazily_and_actively() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut raw = server.raw();
    raw.call(&["SET", "lazy", "v", "PX", "100"]);
    raw.call(&["SET", "stays", "v"]);
    for i in 0..50 {
        raw.call(&["SET", &format!("active:{i}"), "v", "PX", "100"]);
    }
    assert_eq!(raw.call(&["DBSIZE"]), ":52\r\n");
    sleep(Duration::from_millis(200));
    // Lazily: reading an expired key finds nothing, whether or not active expiry got there first.
    let v: Option<String> = c.get("lazy").unwrap();
    assert_eq!(v, None);
    assert_eq!(raw.call(&["TTL", "lazy"]), ":-2\r\n");
    // Actively: untouched keys disappear on their own (active expiry runs at hz 10).
    sleep(Duration::from_millis(1000));
    assert_eq!(raw.call(&["DBSIZE"]), ":1\r\n");
    assert_eq!(raw.call(&["KEYS", "*"]), format!("*1\r\n{}", bulk("stays")));
}

#[test]
fn scan_and_keys_visit_every_matching_key() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("key:{i}"), i).ignore();
    }
    pipe.set("other", "x").ignore();
    let _: () = pipe.query(&mut c).unwrap();

    // A full iteration returns every key (duplicates are allowed, omissions are not).
    let scan_all = |c: &mut redis::Connection, options: &[&str]| -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut cursor = "0".to_string();
        let mut rounds = 0;
        loop {
            let (next, keys): (String, Vec<String>) =
                redis::cmd("SCAN").arg(&cursor).arg("COUNT").arg(7).arg(options).query(c).unwrap();
            seen.extend(keys);
            rounds += 1;
            if next == "0" {
                break;
            }
            cursor = next;
        }
        assert!(rounds > 1001 / 7 / 2, "COUNT bounds the work of one call ({rounds} rounds)");
        seen
    };
    let all = scan_all(&mut c, &[]);
    assert_eq!(all.len(), 1001);
    assert!((0..1000).all(|i| all.contains(&format!("key:{i}"))));
    let matched = scan_all(&mut c, &["MATCH", "key:1?"]);
    let expected: HashSet<String> = (10..20).map(|i| format!("key:{i}")).collect();
    assert_eq!(matched, expected);
    assert_eq!(scan_all(&mut c, &["TYPE", "STRING"]).len(), 1001);
    assert!(scan_all(&mut c, &["TYPE", "list"]).is_empty());
    assert!(scan_all(&mut c, &["TYPE", "nosuchtype"]).is_empty());
    assert_eq!(scan_all(&mut c, &["MATCH", "oth*", "TYPE", "string"]), HashSet::from(["other".to_string()]));

    let mut raw = server.raw();
    assert_eq!(raw.call(&["SCAN", "abc"]), "-ERR invalid cursor\r\n");
    assert_eq!(raw.call(&["SCAN", "18446744073709551616"]), "-ERR invalid cursor\r\n");
    assert_eq!(raw.call(&["SCAN", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SCAN", "0", "COUNT", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(raw.call(&["SCAN", "0", "MATCH"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SCAN", "0", "foo", "bar"]), "-ERR syntax error\r\n");
    let whole = raw.call(&["SCAN", "0", "COUNT", "100000", "MATCH", "key:99?"]);
    assert!(whole.starts_with("*2\r\n$1\r\n0\r\n*10\r\n"), "{whole}");

    // KEYS with Redis glob rules.
    let keys = |c: &mut redis::Connection, pattern: &str| -> HashSet<String> { c.keys(pattern).unwrap() };
    assert_eq!(keys(&mut c, "*").len(), 1001);
    assert_eq!(keys(&mut c, "key:99?").len(), 10);
    assert_eq!(keys(&mut c, "key:[1-2]").len(), 2);
    assert_eq!(keys(&mut c, "key:[^0-8]").len(), 1);
    assert_eq!(keys(&mut c, "o*r"), HashSet::from(["other".to_string()]));
    assert!(keys(&mut c, "nomatch*").is_empty());
    let _: () = c.set("a*b", 1).unwrap();
    let _: () = c.set("axb", 1).unwrap();
    assert_eq!(keys(&mut c, "a\\*b"), HashSet::from(["a*b".to_string()]));
}

#[test]
fn rename_move_and_copy() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.call(&["SET", "src", "v", "EX", "100"]);
    raw.call(&["SET", "dst", "old"]);

    // RENAME keeps the value and the TTL and overwrites the destination.
    assert_eq!(raw.call(&["RENAME", "src", "dst"]), "+OK\r\n");
    assert_eq!(raw.call(&["GET", "dst"]), bulk("v"));
    assert_eq!(raw.call(&["TTL", "dst"]), ":100\r\n");
    assert_eq!(raw.call(&["EXISTS", "src"]), ":0\r\n");
    assert_eq!(raw.call(&["RENAME", "src", "x"]), "-ERR no such key\r\n");
    assert_eq!(raw.call(&["RENAME", "src", "src"]), "-ERR no such key\r\n");
    assert_eq!(raw.call(&["RENAMENX", "src", "src"]), "-ERR no such key\r\n");
    assert_eq!(raw.call(&["RENAME", "dst", "dst"]), "+OK\r\n");
    assert_eq!(raw.call(&["RENAMENX", "dst", "dst"]), ":0\r\n");
    raw.call(&["SET", "taken", "t"]);
    assert_eq!(raw.call(&["RENAMENX", "dst", "taken"]), ":0\r\n");
    assert_eq!(raw.call(&["RENAMENX", "dst", "free"]), ":1\r\n");
    assert_eq!(raw.call(&["TTL", "free"]), ":100\r\n");
    assert_eq!(raw.call(&["GET", "taken"]), bulk("t"));

    // MOVE to another database, keeping the TTL; never over an existing key.
    assert_eq!(raw.call(&["MOVE", "free", "0"]), "-ERR source and destination objects are the same\r\n");
    assert_eq!(raw.call(&["MOVE", "free", "16"]), "-ERR DB index is out of range\r\n");
    assert_eq!(raw.call(&["MOVE", "free", "-1"]), "-ERR DB index is out of range\r\n");
    assert_eq!(raw.call(&["MOVE", "free", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        raw.call(&["MOVE", "free", "99999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(raw.call(&["MOVE", "nokey", "1"]), ":0\r\n");
    assert_eq!(raw.call(&["MOVE", "free", "1"]), ":1\r\n");
    assert_eq!(raw.call(&["EXISTS", "free"]), ":0\r\n");
    raw.call(&["SET", "free", "again"]);
    assert_eq!(raw.call(&["MOVE", "free", "1"]), ":0\r\n", "the destination has the key");
    assert_eq!(raw.call(&["GET", "free"]), bulk("again"));

    // COPY within a database and into another one.
    assert_eq!(raw.call(&["COPY", "taken", "taken"]), "-ERR source and destination objects are the same\r\n");
    assert_eq!(
        raw.call(&["COPY", "taken", "taken", "DB", "0"]),
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(raw.call(&["COPY", "taken", "c", "DB"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["COPY", "taken", "c", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["COPY", "taken", "c", "DB", "16"]), "-ERR DB index is out of range\r\n");
    assert_eq!(raw.call(&["COPY", "nokey", "c"]), ":0\r\n");
    assert_eq!(raw.call(&["COPY", "taken", "c"]), ":1\r\n");
    assert_eq!(raw.call(&["COPY", "free", "c"]), ":0\r\n");
    assert_eq!(raw.call(&["GET", "c"]), bulk("t"));
    assert_eq!(raw.call(&["COPY", "free", "c", "REPLACE"]), ":1\r\n");
    assert_eq!(raw.call(&["GET", "c"]), bulk("again"));
    assert_eq!(raw.call(&["COPY", "taken", "taken", "DB", "1"]), ":1\r\n");
    assert_eq!(raw.call(&["COPY", "taken", "free", "DB", "1"]), ":0\r\n");
    assert_eq!(raw.call(&["COPY", "taken", "free", "DB", "1", "REPLACE"]), ":1\r\n");

    assert_eq!(raw.call(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(raw.call(&["GET", "taken"]), bulk("t"));
    assert_eq!(raw.call(&["GET", "free"]), bulk("t"));
    assert_eq!(raw.call(&["TTL", "free"]), ":-1\r\n", "REPLACE drops the old key and its TTL");
    // COPY keeps the TTL of its source.
    raw.call(&["SET", "ttl", "v", "EX", "50"]);
    assert_eq!(raw.call(&["COPY", "ttl", "ttl", "DB", "2"]), ":1\r\n");
    assert_eq!(raw.call(&["MOVE", "ttl", "3"]), ":1\r\n");
    assert_eq!(raw.call(&["DBSIZE"]), ":2\r\n");
    for db in ["2", "3"] {
        raw.call(&["SELECT", db]);
        assert_eq!(raw.call(&["TTL", "ttl"]), ":50\r\n", "db {db}");
    }
    raw.call(&["SELECT", "0"]);
    assert_eq!(raw.call(&["DBSIZE"]), ":3\r\n");
    // Copies are independent of their source.
    raw.call(&["SET", "taken", "changed"]);
    assert_eq!(raw.call(&["GET", "c"]), bulk("again"));
}
