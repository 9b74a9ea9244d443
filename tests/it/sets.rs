//! Integration tests for the set commands.

use std::collections::HashSet;

use super::harness::TestServer;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// Runs a command through redis-rs and converts its reply.
fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// A command's reply as a sorted list of members.
fn members(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = q(c, args);
    v.sort();
    v
}

#[test]
fn set_basics_and_errors() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut raw = server.raw();

    assert_eq!(raw.call(&["SADD", "s", "a", "b", "a", "c"]), ":3\r\n");
    assert_eq!(raw.call(&["SADD", "s", "a", "d"]), ":1\r\n");
    assert_eq!(raw.call(&["SADD", "s", "a"]), ":0\r\n");
    assert_eq!(raw.call(&["SCARD", "s"]), ":4\r\n");
    assert_eq!(raw.call(&["SCARD", "nokey"]), ":0\r\n");
    assert_eq!(raw.call(&["SISMEMBER", "s", "b"]), ":1\r\n");
    assert_eq!(raw.call(&["SISMEMBER", "s", "z"]), ":0\r\n");
    assert_eq!(raw.call(&["SISMEMBER", "nokey", "z"]), ":0\r\n");
    assert_eq!(raw.call(&["SMISMEMBER", "s", "a", "z", "d"]), "*3\r\n:1\r\n:0\r\n:1\r\n");
    assert_eq!(raw.call(&["SMISMEMBER", "nokey", "a"]), "*1\r\n:0\r\n");
    assert_eq!(raw.call(&["SMISMEMBER", "s"]), "-ERR wrong number of arguments for 'smismember' command\r\n");
    assert_eq!(members(&mut c, &["SMEMBERS", "s"]), ["a", "b", "c", "d"]);
    assert_eq!(raw.call(&["SMEMBERS", "nokey"]), "*0\r\n");

    assert_eq!(raw.call(&["SREM", "s", "a", "z", "b"]), ":2\r\n");
    assert_eq!(raw.call(&["SREM", "s", "z"]), ":0\r\n");
    assert_eq!(raw.call(&["SREM", "nokey", "z"]), ":0\r\n");
    assert_eq!(raw.call(&["SREM", "s", "c", "d"]), ":2\r\n");
    assert_eq!(raw.call(&["EXISTS", "s"]), ":0\r\n");

    // SMOVE: a missing source answers 0 before any type check; src == dst tests membership.
    assert_eq!(raw.call(&["SADD", "src", "x", "y"]), ":2\r\n");
    assert_eq!(raw.call(&["SADD", "dst", "y"]), ":1\r\n");
    assert_eq!(raw.call(&["SET", "str", "v"]), "+OK\r\n");
    assert_eq!(raw.call(&["SMOVE", "nokey", "str", "x"]), ":0\r\n");
    assert_eq!(raw.call(&["SMOVE", "src", "str", "x"]), WRONGTYPE);
    assert_eq!(raw.call(&["SMOVE", "str", "src", "x"]), WRONGTYPE);
    assert_eq!(raw.call(&["SMOVE", "src", "src", "x"]), ":1\r\n");
    assert_eq!(raw.call(&["SMOVE", "src", "src", "zz"]), ":0\r\n");
    assert_eq!(raw.call(&["SMOVE", "src", "dst", "zz"]), ":0\r\n");
    assert_eq!(raw.call(&["SMOVE", "src", "dst", "x"]), ":1\r\n");
    assert_eq!(raw.call(&["SMOVE", "src", "dst", "y"]), ":1\r\n");
    assert_eq!(raw.call(&["EXISTS", "src"]), ":0\r\n");
    assert_eq!(members(&mut c, &["SMEMBERS", "dst"]), ["x", "y"]);
    assert_eq!(raw.call(&["SMOVE", "dst", "new", "x"]), ":1\r\n");
    assert_eq!(members(&mut c, &["SMEMBERS", "new"]), ["x"]);

    for cmd in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SCARD", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(raw.call(cmd), WRONGTYPE, "{cmd:?}");
    }
    assert_eq!(raw.call(&["GET", "str"]), "$1\r\nv\r\n");
}

#[test]
fn random_members_pop_and_scan() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SADD", "s", "a", "b", "c"]), ":3\r\n");
    let all: HashSet<String> = ["a", "b", "c"].map(String::from).into();

    let one: String = q(&mut c, &["SRANDMEMBER", "s"]);
    assert!(all.contains(&one));
    let two: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "2"]);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    assert_eq!(members(&mut c, &["SRANDMEMBER", "s", "10"]), ["a", "b", "c"]);
    let repeats: Vec<String> = q(&mut c, &["SRANDMEMBER", "s", "-30"]);
    assert_eq!(repeats.len(), 30);
    assert!(repeats.iter().all(|m| all.contains(m)));
    assert_eq!(raw.call(&["SRANDMEMBER", "s", "0"]), "*0\r\n");
    assert_eq!(raw.call(&["SRANDMEMBER", "nokey"]), "$-1\r\n");
    assert_eq!(raw.call(&["SRANDMEMBER", "nokey", "5"]), "*0\r\n");
    assert_eq!(raw.call(&["SRANDMEMBER", "s", "1", "2"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SRANDMEMBER", "s", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        raw.call(&["SRANDMEMBER", "s", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(raw.call(&["SCARD", "s"]), ":3\r\n");

    let positive = "-ERR value is out of range, must be positive\r\n";
    assert_eq!(raw.call(&["SPOP", "s", "-1"]), positive);
    assert_eq!(raw.call(&["SPOP", "s", "x"]), positive);
    assert_eq!(raw.call(&["SPOP", "nokey", "x"]), positive);
    assert_eq!(raw.call(&["SPOP", "s", "1", "2"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SPOP", "s", "0"]), "*0\r\n");
    assert_eq!(raw.call(&["SPOP", "nokey"]), "$-1\r\n");
    assert_eq!(raw.call(&["SPOP", "nokey", "2"]), "*0\r\n");
    let popped: String = q(&mut c, &["SPOP", "s"]);
    assert!(all.contains(&popped));
    assert_eq!(raw.call(&["SISMEMBER", "s", &popped]), ":0\r\n");
    let popped2: Vec<String> = q(&mut c, &["SPOP", "s", "1"]);
    assert_eq!(popped2.len(), 1);
    assert_ne!(popped2[0], popped);
    assert_eq!(raw.call(&["SCARD", "s"]), ":1\r\n");
    let rest: Vec<String> = q(&mut c, &["SPOP", "s", "5"]);
    assert_eq!(rest.len(), 1);
    assert_eq!(raw.call(&["EXISTS", "s"]), ":0\r\n");
    let mut every: Vec<String> = [popped, popped2[0].clone(), rest[0].clone()].into();
    every.sort();
    assert_eq!(every, ["a", "b", "c"]);

    // SPOP of a part of a bigger set removes exactly what it returns.
    let mut sadd = redis::cmd("SADD");
    sadd.arg("big");
    for i in 0..300 {
        sadd.arg(format!("m{i}"));
    }
    let added: i64 = sadd.query(&mut c).unwrap();
    assert_eq!(added, 300);
    let taken: HashSet<String> = q(&mut c, &["SPOP", "big", "100"]);
    assert_eq!(taken.len(), 100);
    let left: HashSet<String> = q(&mut c, &["SMEMBERS", "big"]);
    assert_eq!(left.len(), 200);
    assert!(taken.is_disjoint(&left));

    // SSCAN walks a big set completely, each member once.
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    loop {
        let (next, batch): (String, Vec<String>) = q(&mut c, &["SSCAN", "big", &cursor, "COUNT", "30"]);
        assert!(batch.len() <= 30);
        for m in batch {
            assert!(seen.insert(m.clone()), "{m} twice");
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen, left);
    assert_eq!(raw.call(&["SADD", "small", "a1", "b1", "a2"]), ":3\r\n");
    let (cursor, mut found): (String, Vec<String>) = q(&mut c, &["SSCAN", "small", "0", "MATCH", "a*", "COUNT", "1"]);
    found.sort();
    assert_eq!((cursor.as_str(), found), ("0", vec!["a1".to_string(), "a2".to_string()]));
    assert_eq!(raw.call(&["SSCAN", "nokey", "0", "MATCH"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(raw.call(&["SSCAN", "small", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(raw.call(&["SSCAN", "small", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SSCAN", "small", "0", "FOO", "1"]), "-ERR syntax error\r\n");
}

#[test]
fn set_algebra() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SADD", "a", "1", "2", "3", "4"]), ":4\r\n");
    assert_eq!(raw.call(&["SADD", "b", "3", "4", "5"]), ":3\r\n");
    assert_eq!(raw.call(&["SADD", "c", "4", "5", "6"]), ":3\r\n");
    assert_eq!(raw.call(&["SET", "str", "v"]), "+OK\r\n");

    assert_eq!(members(&mut c, &["SINTER", "a", "b"]), ["3", "4"]);
    assert_eq!(members(&mut c, &["SINTER", "a", "b", "c"]), ["4"]);
    assert_eq!(members(&mut c, &["SINTER", "a"]), ["1", "2", "3", "4"]);
    assert_eq!(raw.call(&["SINTER", "a", "nokey"]), "*0\r\n");
    assert_eq!(members(&mut c, &["SUNION", "a", "nokey", "c"]), ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(members(&mut c, &["SDIFF", "a", "b"]), ["1", "2"]);
    assert_eq!(members(&mut c, &["SDIFF", "a", "b", "c", "nokey"]), ["1", "2"]);
    assert_eq!(raw.call(&["SDIFF", "nokey", "a"]), "*0\r\n");
    // Another type anywhere is WRONGTYPE, even after a missing key.
    for cmd in ["SINTER", "SUNION", "SDIFF"] {
        assert_eq!(raw.call(&[cmd, "a", "str"]), WRONGTYPE, "{cmd}");
        assert_eq!(raw.call(&[cmd, "nokey", "str"]), WRONGTYPE, "{cmd}");
        assert_eq!(raw.call(&[cmd, "str", "nokey"]), WRONGTYPE, "{cmd}");
    }
    for cmd in ["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"] {
        assert_eq!(raw.call(&[cmd, "d", "nokey", "str"]), WRONGTYPE, "{cmd}");
        assert_eq!(
            raw.call(&[cmd, "d"]),
            format!("-ERR wrong number of arguments for '{}' command\r\n", cmd.to_lowercase())
        );
    }

    // The STORE forms overwrite the destination, whatever it held, and delete it when empty.
    assert_eq!(raw.call(&["SINTERSTORE", "str", "a", "b"]), ":2\r\n");
    assert_eq!(members(&mut c, &["SMEMBERS", "str"]), ["3", "4"]);
    assert_eq!(raw.call(&["SUNIONSTORE", "u", "a", "c"]), ":6\r\n");
    assert_eq!(members(&mut c, &["SMEMBERS", "u"]), ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(raw.call(&["SDIFFSTORE", "u", "u", "a"]), ":2\r\n");
    assert_eq!(members(&mut c, &["SMEMBERS", "u"]), ["5", "6"]);
    assert_eq!(raw.call(&["SINTERSTORE", "u", "a", "nokey"]), ":0\r\n");
    assert_eq!(raw.call(&["EXISTS", "u"]), ":0\r\n");
    assert_eq!(raw.call(&["SET", "e", "v"]), "+OK\r\n");
    assert_eq!(raw.call(&["SDIFFSTORE", "e", "a", "a"]), ":0\r\n");
    assert_eq!(raw.call(&["EXISTS", "e"]), ":0\r\n");
    assert_eq!(raw.call(&["SUNIONSTORE", "e", "nokey"]), ":0\r\n");
    assert_eq!(raw.call(&["EXISTS", "e"]), ":0\r\n");

    assert_eq!(raw.call(&["SINTERCARD", "2", "a", "b"]), ":2\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "3", "a", "b", "c"]), ":1\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]), ":1\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "0"]), ":2\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "1", "a", "limit", "3", "LIMIT", "10"]), ":4\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "2", "nokey", "a"]), ":0\r\n");
    assert_eq!(raw.call(&["SET", "str2", "v"]), "+OK\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "2", "nokey", "str2"]), WRONGTYPE);
    let numkeys = "-ERR numkeys should be greater than 0\r\n";
    assert_eq!(raw.call(&["SINTERCARD", "0", "a"]), numkeys);
    assert_eq!(raw.call(&["SINTERCARD", "-1", "a"]), numkeys);
    assert_eq!(raw.call(&["SINTERCARD", "x", "a"]), numkeys);
    assert_eq!(
        raw.call(&["SINTERCARD", "3", "a", "b"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(raw.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "-1"]), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "2", "a", "b", "LIMIT", "x"]), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "2", "a", "b", "LIMIT"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "1", "a", "b"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["SINTERCARD", "1"]), "-ERR wrong number of arguments for 'sintercard' command\r\n");
}

#[test]
fn sets_in_resp3() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert!(raw.call(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(raw.call(&["SADD", "s", "m"]), ":1\r\n");
    assert_eq!(raw.call(&["SADD", "t", "m", "n"]), ":2\r\n");
    assert_eq!(raw.call(&["SMEMBERS", "s"]), "~1\r\n$1\r\nm\r\n");
    assert_eq!(raw.call(&["SMEMBERS", "nokey"]), "~0\r\n");
    assert_eq!(raw.call(&["SINTER", "s", "t"]), "~1\r\n$1\r\nm\r\n");
    assert_eq!(raw.call(&["SDIFF", "t", "s"]), "~1\r\n$1\r\nn\r\n");
    assert_eq!(raw.call(&["SUNION", "s", "nokey"]), "~1\r\n$1\r\nm\r\n");
    assert_eq!(raw.call(&["SRANDMEMBER", "s", "-2"]), "*2\r\n$1\r\nm\r\n$1\r\nm\r\n");
    assert_eq!(raw.call(&["SRANDMEMBER", "nokey"]), "_\r\n");
    assert_eq!(raw.call(&["SMISMEMBER", "s", "m"]), "*1\r\n:1\r\n");
    assert_eq!(raw.call(&["SPOP", "nokey", "1"]), "~0\r\n");
    assert_eq!(raw.call(&["SPOP", "s", "0"]), "~0\r\n");
    assert_eq!(raw.call(&["SPOP", "s", "3"]), "~1\r\n$1\r\nm\r\n");
    assert_eq!(raw.call(&["SPOP", "s"]), "_\r\n");
    assert_eq!(raw.call(&["SSCAN", "t", "0", "MATCH", "n"]), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nn\r\n");
}
