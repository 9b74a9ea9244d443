//! Integration tests for the hash commands.

use std::collections::{HashMap, HashSet};

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

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn hash_reads_writes_and_errors() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut raw = server.raw();

    assert_eq!(raw.call(&["HSET", "h", "a", "1", "b", "2"]), ":2\r\n");
    assert_eq!(raw.call(&["HSET", "h", "a", "one", "c", "3"]), ":1\r\n");
    assert_eq!(raw.call(&["HSET", "h", "a", "1", "b"]), "-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(raw.call(&["HMSET", "h", "d", "4", "e"]), "-ERR wrong number of arguments for 'hmset' command\r\n");
    assert_eq!(raw.call(&["HMSET", "h", "d", "4", "e", "5"]), "+OK\r\n");
    assert_eq!(raw.call(&["HSETNX", "h", "a", "x"]), ":0\r\n");
    assert_eq!(raw.call(&["HSETNX", "h", "f", "six"]), ":1\r\n");
    assert_eq!(raw.call(&["HSETNX", "fresh", "f", "v"]), ":1\r\n");

    assert_eq!(raw.call(&["HGET", "h", "a"]), "$3\r\none\r\n");
    assert_eq!(raw.call(&["HGET", "h", "zz"]), "$-1\r\n");
    assert_eq!(raw.call(&["HGET", "nokey", "a"]), "$-1\r\n");
    assert_eq!(raw.call(&["HMGET", "h", "b", "zz", "f"]), "*3\r\n$1\r\n2\r\n$-1\r\n$3\r\nsix\r\n");
    assert_eq!(raw.call(&["HMGET", "nokey", "a", "b"]), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(raw.call(&["HLEN", "h"]), ":6\r\n");
    assert_eq!(raw.call(&["HLEN", "nokey"]), ":0\r\n");
    assert_eq!(raw.call(&["HSTRLEN", "h", "f"]), ":3\r\n");
    assert_eq!(raw.call(&["HSTRLEN", "h", "zz"]), ":0\r\n");
    assert_eq!(raw.call(&["HEXISTS", "h", "e"]), ":1\r\n");
    assert_eq!(raw.call(&["HEXISTS", "h", "zz"]), ":0\r\n");
    assert_eq!(raw.call(&["HEXISTS", "nokey", "a"]), ":0\r\n");

    let keys: Vec<String> = q(&mut c, &["HKEYS", "h"]);
    assert_eq!(sorted(keys), ["a", "b", "c", "d", "e", "f"]);
    let vals: Vec<String> = q(&mut c, &["HVALS", "h"]);
    assert_eq!(sorted(vals), ["2", "3", "4", "5", "one", "six"]);
    let all: HashMap<String, String> = q(&mut c, &["HGETALL", "h"]);
    let expected: HashMap<String, String> =
        [("a", "one"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5"), ("f", "six")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(all, expected);
    assert_eq!(raw.call(&["HKEYS", "nokey"]), "*0\r\n");
    assert_eq!(raw.call(&["HVALS", "nokey"]), "*0\r\n");
    assert_eq!(raw.call(&["HGETALL", "nokey"]), "*0\r\n");

    assert_eq!(raw.call(&["HDEL", "h", "a", "zz", "b"]), ":2\r\n");
    assert_eq!(raw.call(&["HDEL", "h", "zz"]), ":0\r\n");
    assert_eq!(raw.call(&["HDEL", "nokey", "a"]), ":0\r\n");
    assert_eq!(raw.call(&["HLEN", "h"]), ":4\r\n");
    // Deleting the last field deletes the key.
    assert_eq!(raw.call(&["HDEL", "fresh", "f"]), ":1\r\n");
    assert_eq!(raw.call(&["EXISTS", "fresh"]), ":0\r\n");

    // Every command refuses a key of another type, and leaves it alone.
    assert_eq!(raw.call(&["SET", "s", "x"]), "+OK\r\n");
    for cmd in [
        &["HSET", "s", "a", "1"][..],
        &["HSETNX", "s", "a", "1"],
        &["HMSET", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a"],
        &["HDEL", "s", "a"],
        &["HLEN", "s"],
        &["HSTRLEN", "s", "a"],
        &["HEXISTS", "s", "a"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HGETALL", "s"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HRANDFIELD", "s"],
        &["HRANDFIELD", "s", "2"],
        &["HSCAN", "s", "0"],
    ] {
        assert_eq!(raw.call(cmd), WRONGTYPE, "{cmd:?}");
    }
    assert_eq!(raw.call(&["GET", "s"]), "$1\r\nx\r\n");
    assert_eq!(raw.call(&["HGET", "h"]), "-ERR wrong number of arguments for 'hget' command\r\n");
}

#[test]
fn hash_increments() {
    let server = TestServer::start();
    let mut raw = server.raw();

    assert_eq!(raw.call(&["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(raw.call(&["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    assert_eq!(raw.call(&["HGET", "h", "n"]), "$2\r\n-2\r\n");
    assert_eq!(raw.call(&["HINCRBY", "h", "n", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(raw.call(&["HSET", "h", "big", "9223372036854775807", "text", "foo", "fl", "1.5"]), ":3\r\n");
    assert_eq!(raw.call(&["HINCRBY", "h", "big", "1"]), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(raw.call(&["HINCRBY", "h", "text", "1"]), "-ERR hash value is not an integer\r\n");
    assert_eq!(raw.call(&["HINCRBY", "h", "fl", "1"]), "-ERR hash value is not an integer\r\n");
    assert_eq!(raw.call(&["HGET", "h", "big"]), "$19\r\n9223372036854775807\r\n");

    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "fl", "1"]), "$3\r\n2.5\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "f", "10.5"]), "$4\r\n10.5\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "f", "0.1"]), "$4\r\n10.6\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "g", "0.1"]), "$3\r\n0.1\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "g", "0.2"]), "$3\r\n0.3\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "n", "-0.5"]), "$4\r\n-2.5\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "i", "1.5e3"]), "$4\r\n1500\r\n");
    assert_eq!(raw.call(&["HGET", "h", "i"]), "$4\r\n1500\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "text", "1"]), "-ERR hash value is not a float\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "f", "x"]), "-ERR value is not a valid float\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "f", "nan"]), "-ERR value is not a valid float\r\n");
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "f", "inf"]), "-ERR value is NaN or Infinity\r\n");
    // Redis adds in 80-bit long double: past f64's range is still finite (checked against 7.0).
    assert_eq!(raw.call(&["HSET", "h", "huge", "1.5e308"]), ":1\r\n");
    let sum = raw.call(&["HINCRBYFLOAT", "h", "huge", "1.5e308"]);
    assert!(sum.starts_with("$309\r\n299999999999999999999802952978936936"), "{sum}");
    assert_eq!(raw.call(&["HSET", "h", "enormous", "1e4932"]), ":1\r\n");
    assert_eq!(
        raw.call(&["HINCRBYFLOAT", "h", "enormous", "1e4932"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    // Failed increments change nothing.
    assert_eq!(raw.call(&["HGET", "h", "f"]), "$4\r\n10.6\r\n");
    assert_eq!(raw.call(&["HGET", "h", "text"]), "$3\r\nfoo\r\n");
}

#[test]
fn hrandfield_and_hscan() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut raw = server.raw();
    assert_eq!(raw.call(&["HSET", "h", "a", "1", "b", "2", "c", "3"]), ":3\r\n");
    let fields: HashSet<String> = ["a", "b", "c"].map(String::from).into();

    let one: String = q(&mut c, &["HRANDFIELD", "h"]);
    assert!(fields.contains(&one));
    let two: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "2"]);
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    assert!(two.iter().all(|f| fields.contains(f)));
    let all: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "10"]);
    assert_eq!(sorted(all), ["a", "b", "c"]);
    let repeats: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "-20"]);
    assert_eq!(repeats.len(), 20);
    assert!(repeats.iter().all(|f| fields.contains(f)));
    let pairs: Vec<String> = q(&mut c, &["HRANDFIELD", "h", "-5", "WITHVALUES"]);
    assert_eq!(pairs.len(), 10);
    let value_of: HashMap<&str, &str> = [("a", "1"), ("b", "2"), ("c", "3")].into();
    for pair in pairs.chunks(2) {
        assert_eq!(value_of.get(pair[0].as_str()), Some(&pair[1].as_str()));
    }
    assert_eq!(raw.call(&["HRANDFIELD", "h", "0"]), "*0\r\n");
    assert_eq!(raw.call(&["HRANDFIELD", "nokey"]), "$-1\r\n");
    assert_eq!(raw.call(&["HRANDFIELD", "nokey", "3", "WITHVALUES"]), "*0\r\n");
    assert_eq!(raw.call(&["HRANDFIELD", "h", "1", "foo"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["HRANDFIELD", "h", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        raw.call(&["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(raw.call(&["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]), "-ERR value is out of range\r\n");

    // Small hashes come back whole, cursor 0, whatever the COUNT.
    let (cursor, flat): (String, Vec<String>) = q(&mut c, &["HSCAN", "h", "0", "COUNT", "1"]);
    assert_eq!(cursor, "0");
    assert_eq!(flat.len(), 6);
    assert_eq!(raw.call(&["HSCAN", "h", "0", "MATCH", "b*"]), "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(raw.call(&["HSCAN", "nokey", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(raw.call(&["HSCAN", "h", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(raw.call(&["HSCAN", "h", "18446744073709551616"]), "-ERR invalid cursor\r\n");
    assert_eq!(raw.call(&["HSCAN", "h", "0", "COUNT", "0"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["HSCAN", "h", "0", "COUNT", "x"]), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(raw.call(&["HSCAN", "h", "0", "MATCH"]), "-ERR syntax error\r\n");
    assert_eq!(raw.call(&["HSCAN", "h", "0", "NOVALUES"]), "-ERR syntax error\r\n");

    // A big hash is walked in steps; a full iteration sees every field once.
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for i in 0..500 {
        hset.arg(format!("f{i}")).arg(i);
    }
    let added: i64 = hset.query(&mut c).unwrap();
    assert_eq!(added, 500);
    let mut cursor = "0".to_string();
    let (mut seen, mut calls) = (HashMap::new(), 0);
    loop {
        let (next, flat): (String, Vec<String>) = q(&mut c, &["HSCAN", "big", &cursor, "COUNT", "50"]);
        assert!(flat.len() <= 100);
        for pair in flat.chunks(2) {
            assert_eq!(pair[0], format!("f{}", pair[1]));
            assert!(seen.insert(pair[0].clone(), ()).is_none(), "{} twice", pair[0]);
        }
        calls += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    assert!(calls >= 10);
    let mut matched = 0;
    let mut cursor = "0".to_string();
    loop {
        let (next, flat): (String, Vec<String>) = q(&mut c, &["HSCAN", "big", &cursor, "MATCH", "f1?"]);
        matched += flat.len() / 2;
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(matched, 10);
}

#[test]
fn hashes_in_resp3() {
    let server = TestServer::start();
    let mut raw = server.raw();
    assert!(raw.call(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(raw.call(&["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(raw.call(&["HGETALL", "h"]), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(raw.call(&["HGETALL", "nokey"]), "%0\r\n");
    assert_eq!(raw.call(&["HGET", "h", "zz"]), "_\r\n");
    assert_eq!(raw.call(&["HMGET", "h", "f", "zz"]), "*2\r\n$1\r\nv\r\n_\r\n");
    assert_eq!(raw.call(&["HRANDFIELD", "nokey"]), "_\r\n");
    assert_eq!(raw.call(&["HRANDFIELD", "h", "1", "WITHVALUES"]), "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert_eq!(
        raw.call(&["HRANDFIELD", "h", "-2", "WITHVALUES"]),
        "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    assert_eq!(raw.call(&["HINCRBYFLOAT", "h", "x", "1.5"]), "$3\r\n1.5\r\n");
    // RESP2 flattens the pairs.
    let mut raw2 = server.raw();
    assert_eq!(raw2.call(&["HRANDFIELD", "h", "-1", "WITHVALUES"]).lines().next(), Some("*2"));
}
