//! Integration tests for the sorted set commands, checked against Redis 7.0's exact replies.

use std::time::{Duration, Instant};

use super::harness::{RawConn, TestServer};

/// The RESP2 text of an array of bulk strings.
fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&format!("${}\r\n{}\r\n", i.len(), i));
    }
    s
}

fn err(text: &str) -> String {
    format!("-{text}\r\n")
}

fn call(c: &mut RawConn, line: &str) -> String {
    c.call(&line.split(' ').collect::<Vec<_>>())
}

#[test]
fn zadd_options_point_reads_and_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(call(&mut c, "ZADD z 1 a 2 b 3 c 0.1 d"), ":4\r\n");
    assert_eq!(call(&mut c, "ZSCORE z d"), "$19\r\n0.10000000000000001\r\n");
    assert_eq!(call(&mut c, "ZADD z NX XX 1 a"), err("ERR XX and NX options at the same time are not compatible"));
    let gtlt = err("ERR GT, LT, and/or NX options at the same time are not compatible");
    assert_eq!(call(&mut c, "ZADD z GT LT 1 a"), gtlt);
    assert_eq!(call(&mut c, "ZADD z NX GT 1 a"), gtlt);
    assert_eq!(call(&mut c, "ZADD z INCR 1 a 2 b"), err("ERR INCR option supports a single increment-element pair"));
    assert_eq!(call(&mut c, "ZADD z 1 a 2"), err("ERR syntax error"));
    assert_eq!(call(&mut c, "ZADD z x a"), err("ERR value is not a valid float"));
    assert_eq!(call(&mut c, "ZADD z nan a"), err("ERR value is not a valid float"));
    assert_eq!(call(&mut c, "ZADD z 1"), err("ERR wrong number of arguments for 'zadd' command"));
    // INCR aborted by XX or NX replies nil; CH counts updates too; GT/LT only move one way.
    assert_eq!(call(&mut c, "ZADD z XX INCR 1 nope"), "$-1\r\n");
    assert_eq!(call(&mut c, "ZADD z NX INCR 1 a"), "$-1\r\n");
    assert_eq!(call(&mut c, "ZADD z CH 9 a 1 b 7 zz"), ":3\r\n");
    assert_eq!(call(&mut c, "ZADD z GT CH 0 a 10 b"), ":1\r\n");
    assert_eq!(call(&mut c, "ZADD z LT INCR 1 a"), "$-1\r\n");
    assert_eq!(call(&mut c, "ZADD z INCR 0 a"), "$1\r\n9\r\n");
    assert_eq!(call(&mut c, "ZINCRBY z 2.5 new"), "$3\r\n2.5\r\n");
    assert_eq!(call(&mut c, "ZINCRBY z nan a"), err("ERR value is not a valid float"));
    assert_eq!(call(&mut c, "ZMSCORE z a nope d"), "*3\r\n$1\r\n9\r\n$-1\r\n$19\r\n0.10000000000000001\r\n");
    assert_eq!(call(&mut c, "ZMSCORE nokey a"), "*1\r\n$-1\r\n");
    assert_eq!(call(&mut c, "ZCARD z"), ":6\r\n");
    assert_eq!(call(&mut c, "ZRANK z d"), ":0\r\n");
    assert_eq!(call(&mut c, "ZREVRANK z d"), ":5\r\n");
    assert_eq!(call(&mut c, "ZRANK z nope"), "$-1\r\n");
    assert_eq!(call(&mut c, "ZCARD nokey"), ":0\r\n");
    // inf + -inf is not a number.
    assert_eq!(call(&mut c, "ZADD inf INCR +inf x"), "$3\r\ninf\r\n");
    assert_eq!(call(&mut c, "ZADD inf INCR -inf x"), err("ERR resulting score is not a number (NaN)"));
    assert_eq!(call(&mut c, "ZINCRBY inf -inf x"), err("ERR resulting score is not a number (NaN)"));
    assert_eq!(call(&mut c, "ZSCORE inf x"), "$3\r\ninf\r\n");
    // Wrong types, and removal that deletes the emptied key.
    assert_eq!(call(&mut c, "SET str x"), "+OK\r\n");
    let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    for cmd in ["ZADD str 1 a", "ZSCORE str a", "ZRANGE str 0 1", "ZCARD str", "ZPOPMIN str", "ZUNION 1 str"] {
        assert_eq!(call(&mut c, cmd), wrongtype, "{cmd}");
    }
    assert_eq!(call(&mut c, "ZREM inf x nope"), ":1\r\n");
    assert_eq!(call(&mut c, "EXISTS inf"), ":0\r\n");
    // RESP3 doubles.
    assert!(call(&mut c, "HELLO 3").starts_with("%7\r\n"));
    assert_eq!(call(&mut c, "ZSCORE z d"), ",0.10000000000000001\r\n");
    assert_eq!(call(&mut c, "ZINCRBY z 1 d"), ",1.1000000000000001\r\n");
    assert_eq!(call(&mut c, "ZSCORE z nope"), "_\r\n");
}

#[test]
fn ranges_counts_and_removal() {
    let server = TestServer::start();
    let mut c = server.raw();
    call(&mut c, "ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(call(&mut c, "ZRANGE z 0 -1"), arr(&["a", "b", "c", "d", "e"]));
    assert_eq!(call(&mut c, "ZRANGE z -2 100 WITHSCORES"), arr(&["d", "4", "e", "5"]));
    assert_eq!(call(&mut c, "ZRANGE z 0 1 REV"), arr(&["e", "d"]));
    assert_eq!(call(&mut c, "ZREVRANGE z 0 0 WITHSCORES"), arr(&["e", "5"]));
    assert_eq!(call(&mut c, "ZRANGE z 3 1"), "*0\r\n");
    assert_eq!(call(&mut c, "ZRANGE z (1 +inf BYSCORE LIMIT 1 2 WITHSCORES"), arr(&["c", "3", "d", "4"]));
    assert_eq!(call(&mut c, "ZRANGE z +inf (3 BYSCORE REV"), arr(&["e", "d"]));
    assert_eq!(call(&mut c, "ZRANGEBYSCORE z (2 (4"), arr(&["c"]));
    assert_eq!(call(&mut c, "ZRANGEBYSCORE z -inf +inf LIMIT -1 2"), "*0\r\n");
    assert_eq!(call(&mut c, "ZRANGEBYSCORE z -inf +inf LIMIT 3 -1"), arr(&["d", "e"]));
    assert_eq!(call(&mut c, "ZREVRANGEBYSCORE z 4 2 WITHSCORES LIMIT 1 1"), arr(&["c", "3"]));
    assert_eq!(call(&mut c, "ZRANGEBYSCORE z 5 1"), "*0\r\n");
    assert_eq!(call(&mut c, "ZRANGEBYSCORE z ( 2"), arr(&["a", "b"]));
    assert_eq!(call(&mut c, "ZCOUNT z (1 +inf"), ":4\r\n");
    assert_eq!(call(&mut c, "ZCOUNT z -inf (2.5"), ":2\r\n");
    let limit = err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    assert_eq!(call(&mut c, "ZRANGE z 0 -1 LIMIT 0 1"), limit);
    assert_eq!(call(&mut c, "ZREVRANGE z 0 1 LIMIT 0 1"), limit);
    assert_eq!(
        call(&mut c, "ZRANGE z - + BYLEX WITHSCORES"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(call(&mut c, "ZRANGE z a b BYSCORE"), err("ERR min or max is not a float"));
    assert_eq!(call(&mut c, "ZCOUNT z 1a 2"), err("ERR min or max is not a float"));
    assert_eq!(call(&mut c, "ZRANGE z a b BYLEX"), err("ERR min or max not valid string range item"));
    for bad in ["ZRANGE z 0 1 BYSCORE BYLEX", "ZRANGE z 0 1 REV REV", "ZRANGEBYSCORE z 0 1 REV", "ZRANGE z 0 1 LIMIT 0"]
    {
        assert_eq!(call(&mut c, bad), err("ERR syntax error"), "{bad}");
    }
    assert_eq!(call(&mut c, "ZRANGEBYSCORE z 0 1 LIMIT 0 x"), err("ERR value is not an integer or out of range"));
    assert_eq!(call(&mut c, "ZRANGE nokey 0 -1"), "*0\r\n");

    // Lex ranges over equal scores.
    call(&mut c, "ZADD l 0 a 0 b 0 c 0 d 0 e");
    assert_eq!(call(&mut c, "ZRANGEBYLEX l [b (d"), arr(&["b", "c"]));
    assert_eq!(call(&mut c, "ZREVRANGEBYLEX l + (b LIMIT 1 5"), arr(&["d", "c"]));
    assert_eq!(call(&mut c, "ZRANGE l [c + BYLEX"), arr(&["c", "d", "e"]));
    assert_eq!(call(&mut c, "ZRANGEBYLEX l ( ("), "*0\r\n");
    assert_eq!(call(&mut c, "ZRANGEBYLEX l + -"), "*0\r\n");
    assert_eq!(call(&mut c, "ZLEXCOUNT l - +"), ":5\r\n");
    assert_eq!(call(&mut c, "ZLEXCOUNT l (a [c"), ":2\r\n");
    assert_eq!(call(&mut c, "ZLEXCOUNT l a +"), err("ERR min or max not valid string range item"));

    // Removal by range; emptied keys go away.
    assert_eq!(call(&mut c, "ZREMRANGEBYLEX l - [b"), ":2\r\n");
    assert_eq!(call(&mut c, "ZREMRANGEBYRANK l 0 0"), ":1\r\n");
    assert_eq!(call(&mut c, "ZRANGE l 0 -1"), arr(&["d", "e"]));
    assert_eq!(call(&mut c, "ZREMRANGEBYSCORE l -inf +inf"), ":2\r\n");
    assert_eq!(call(&mut c, "EXISTS l"), ":0\r\n");
    assert_eq!(call(&mut c, "ZREMRANGEBYRANK z x 1"), err("ERR value is not an integer or out of range"));
    assert_eq!(call(&mut c, "ZREMRANGEBYSCORE z x 1"), err("ERR min or max is not a float"));
    assert_eq!(call(&mut c, "ZREMRANGEBYSCORE nokey 1 2"), ":0\r\n");

    // ZRANGESTORE replaces the destination, or deletes it for an empty result.
    assert_eq!(call(&mut c, "ZRANGESTORE d z 2 3 BYSCORE"), ":2\r\n");
    assert_eq!(call(&mut c, "ZRANGE d 0 -1 WITHSCORES"), arr(&["b", "2", "c", "3"]));
    assert_eq!(call(&mut c, "ZRANGESTORE d z 0 -1 WITHSCORES"), err("ERR syntax error"));
    assert_eq!(call(&mut c, "ZRANGESTORE d nokey 0 -1"), ":0\r\n");
    assert_eq!(call(&mut c, "EXISTS d"), ":0\r\n");

    // RESP3: WITHSCORES gives [member, score] pairs.
    call(&mut c, "HELLO 3");
    assert_eq!(call(&mut c, "ZRANGE z 0 1 WITHSCORES"), "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
}

#[test]
fn pops_random_members_and_scan() {
    let server = TestServer::start();
    let mut c = server.raw();
    call(&mut c, "ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(call(&mut c, "ZPOPMIN z"), arr(&["a", "1"]));
    assert_eq!(call(&mut c, "ZPOPMAX z 2"), arr(&["e", "5", "d", "4"]));
    assert_eq!(call(&mut c, "ZPOPMIN z 0"), "*0\r\n");
    assert_eq!(call(&mut c, "ZPOPMIN z -1"), err("ERR value is out of range, must be positive"));
    assert_eq!(call(&mut c, "ZPOPMIN z 1 2"), err("ERR syntax error"));
    assert_eq!(call(&mut c, "ZPOPMIN nokey"), "*0\r\n");
    assert_eq!(
        call(&mut c, "ZMPOP 2 nokey z MIN COUNT 10"),
        "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_eq!(call(&mut c, "EXISTS z"), ":0\r\n");
    assert_eq!(call(&mut c, "ZMPOP 1 z MIN"), "*-1\r\n");
    assert_eq!(call(&mut c, "ZMPOP 0 z MIN"), err("ERR numkeys should be greater than 0"));
    assert_eq!(call(&mut c, "ZMPOP 5 z MIN"), err("ERR syntax error"));
    assert_eq!(call(&mut c, "ZMPOP 1 z FOO"), err("ERR syntax error"));
    assert_eq!(call(&mut c, "ZMPOP 1 z MIN COUNT 0"), err("ERR count should be greater than 0"));
    assert_eq!(call(&mut c, "ZMPOP 1 z MIN COUNT 1 COUNT 2"), err("ERR syntax error"));

    call(&mut c, "ZADD z 1 a 2 b 3 c");
    assert_eq!(call(&mut c, "ZRANDMEMBER nokey"), "$-1\r\n");
    assert_eq!(call(&mut c, "ZRANDMEMBER nokey 3"), "*0\r\n");
    assert_eq!(call(&mut c, "ZRANDMEMBER z 0"), "*0\r\n");
    let one = call(&mut c, "ZRANDMEMBER z");
    assert!(["a", "b", "c"].iter().any(|m| one == format!("$1\r\n{m}\r\n")), "{one}");
    let distinct = call(&mut c, "ZRANDMEMBER z 10");
    assert!(distinct.starts_with("*3\r\n") && ["a", "b", "c"].iter().all(|m| distinct.contains(m)));
    let repeated = call(&mut c, "ZRANDMEMBER z -7 WITHSCORES");
    assert!(repeated.starts_with("*14\r\n"), "{repeated}");
    assert_eq!(call(&mut c, "ZRANDMEMBER z x"), err("ERR value is not an integer or out of range"));
    assert_eq!(call(&mut c, "ZRANDMEMBER z 1 foo"), err("ERR syntax error"));
    assert_eq!(
        call(&mut c, "ZRANDMEMBER z -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );

    assert_eq!(call(&mut c, "ZSCAN z 0"), "*2\r\n$1\r\n0\r\n".to_string() + &arr(&["a", "1", "b", "2", "c", "3"]));
    assert_eq!(call(&mut c, "ZSCAN z 0 MATCH b* COUNT 5"), "*2\r\n$1\r\n0\r\n".to_string() + &arr(&["b", "2"]));
    assert_eq!(call(&mut c, "ZSCAN z x"), err("ERR invalid cursor"));
    assert_eq!(call(&mut c, "ZSCAN z 0 COUNT 0"), err("ERR syntax error"));

    // RESP3: a count makes pairs; without one the pair is flat. ZSCAN scores stay strings.
    call(&mut c, "HELLO 3");
    assert_eq!(call(&mut c, "ZPOPMIN z"), "*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(call(&mut c, "ZPOPMIN z 1"), "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    assert_eq!(call(&mut c, "ZSCAN z 0"), "*2\r\n$1\r\n0\r\n".to_string() + &arr(&["c", "3"]));
    assert_eq!(call(&mut c, "ZMPOP 1 nokey MIN"), "_\r\n");
}

#[test]
fn union_inter_diff_and_store() {
    let server = TestServer::start();
    let mut c = server.raw();
    call(&mut c, "ZADD a 1 x 2 y 3 z");
    call(&mut c, "ZADD b 10 y 20 z 30 w");
    assert_eq!(call(&mut c, "ZUNION 2 a b WITHSCORES"), arr(&["x", "1", "y", "12", "z", "23", "w", "30"]));
    assert_eq!(call(&mut c, "ZINTER 2 a b"), arr(&["y", "z"]));
    assert_eq!(call(&mut c, "ZINTER 2 a b WEIGHTS 2 1 AGGREGATE MIN WITHSCORES"), arr(&["y", "4", "z", "6"]));
    assert_eq!(
        call(&mut c, "ZUNION 2 a b AGGREGATE MAX WITHSCORES"),
        arr(&["x", "1", "y", "10", "z", "20", "w", "30"])
    );
    assert_eq!(call(&mut c, "ZDIFF 2 a b WITHSCORES"), arr(&["x", "1"]));
    assert_eq!(call(&mut c, "ZUNION 2 a nokey"), arr(&["x", "y", "z"]));
    assert_eq!(call(&mut c, "ZINTER 2 a nokey"), "*0\r\n");
    assert_eq!(call(&mut c, "ZINTERCARD 2 a b"), ":2\r\n");
    assert_eq!(call(&mut c, "ZINTERCARD 2 a b LIMIT 1"), ":1\r\n");
    assert_eq!(call(&mut c, "ZUNIONSTORE d 2 a b WEIGHTS 1 0"), ":4\r\n");
    assert_eq!(call(&mut c, "ZRANGE d 0 -1 WITHSCORES"), arr(&["w", "0", "x", "1", "y", "2", "z", "3"]));
    assert_eq!(call(&mut c, "ZINTERSTORE a 2 a b"), ":2\r\n");
    assert_eq!(call(&mut c, "ZRANGE a 0 -1 WITHSCORES"), arr(&["y", "12", "z", "23"]));
    assert_eq!(call(&mut c, "ZDIFFSTORE d 2 a b"), ":0\r\n");
    assert_eq!(call(&mut c, "EXISTS d"), ":0\r\n");
    // inf * 0 is NaN, which counts as 0.
    call(&mut c, "ZADD inf +inf m");
    assert_eq!(call(&mut c, "ZUNION 1 inf WEIGHTS 0 WITHSCORES"), arr(&["m", "0"]));

    assert_eq!(call(&mut c, "ZUNION 0 a"), err("ERR at least 1 input key is needed for 'zunion' command"));
    assert_eq!(call(&mut c, "ZUNIONSTORE d 0 a"), err("ERR at least 1 input key is needed for 'zunionstore' command"));
    assert_eq!(call(&mut c, "ZUNION x a"), err("ERR value is not an integer or out of range"));
    for bad in [
        "ZUNION 2 a",
        "ZUNION 1 a WEIGHTS 1 2",
        "ZUNION 1 a AGGREGATE foo",
        "ZUNIONSTORE d 1 a WITHSCORES",
        "ZDIFF 1 a WEIGHTS 1",
        "ZINTERCARD 1 a FOO",
    ] {
        assert_eq!(call(&mut c, bad), err("ERR syntax error"), "{bad}");
    }
    assert_eq!(call(&mut c, "ZUNION 1 a WEIGHTS x"), err("ERR weight value is not a float"));
    assert_eq!(call(&mut c, "ZINTERCARD 1 a LIMIT -1"), err("ERR LIMIT can't be negative"));
    call(&mut c, "SET s x");
    assert_eq!(call(&mut c, "ZUNION 2 a s"), err("WRONGTYPE Operation against a key holding the wrong kind of value"));

    call(&mut c, "HELLO 3");
    assert_eq!(call(&mut c, "ZINTER 2 a b WITHSCORES"), "*2\r\n*2\r\n$1\r\ny\r\n,22\r\n*2\r\n$1\r\nz\r\n,43\r\n");
}

#[test]
fn blocking_pops() {
    let server = TestServer::start();
    let mut c = server.raw();
    // Timeouts reply with a null array; bad timeouts are errors.
    assert_eq!(call(&mut c, "BZPOPMIN nokey 0.05"), "*-1\r\n");
    assert_eq!(call(&mut c, "BZMPOP 0.05 1 nokey MIN"), "*-1\r\n");
    assert_eq!(call(&mut c, "BZPOPMIN z -1"), err("ERR timeout is negative"));
    assert_eq!(call(&mut c, "BZMPOP x 1 z MIN"), err("ERR timeout is not a float or out of range"));
    // Data already there: served at once from the first key that has some.
    call(&mut c, "ZADD z 1 a 2 b");
    assert_eq!(call(&mut c, "BZPOPMAX nokey z 0"), arr(&["z", "b", "2"]));
    assert_eq!(call(&mut c, "BZMPOP 0 1 z MIN"), "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");

    // A blocked BZPOPMIN is served by a ZADD from another client.
    let mut waiter = server.raw();
    let started = Instant::now();
    waiter.cmd(&["BZPOPMIN", "q1", "q2", "5"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(call(&mut c, "ZADD q2 7 m 8 n"), ":2\r\n");
    assert_eq!(String::from_utf8_lossy(&waiter.reply()), arr(&["q2", "m", "7"]));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(call(&mut c, "ZRANGE q2 0 -1"), arr(&["n"]));

    // BZMPOP too, woken by a write to the second key.
    waiter.cmd(&["BZMPOP", "5", "2", "q1", "q3", "MAX", "COUNT", "2"]);
    std::thread::sleep(Duration::from_millis(200));
    call(&mut c, "ZADD q3 1 x 2 y 3 z");
    let reply = String::from_utf8_lossy(&waiter.reply()).into_owned();
    assert_eq!(reply, "*2\r\n$2\r\nq3\r\n*2\r\n*2\r\n$1\r\nz\r\n$1\r\n3\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n");
}
