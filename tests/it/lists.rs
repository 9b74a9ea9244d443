//! Integration tests for the list commands, blocking pops included.

use std::time::{Duration, Instant};

use super::harness::TestServer;

#[test]
fn push_pop_range_and_errors() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.call(&["RPUSH", "l", "a", "b", "c"]), ":3\r\n");
    assert_eq!(c.call(&["LPUSH", "l", "z"]), ":4\r\n");
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), "*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(c.call(&["LPOP", "l", "2"]), "*2\r\n$1\r\nz\r\n$1\r\na\r\n");
    assert_eq!(c.call(&["LSET", "nokey", "0", "x"]), "-ERR no such key\r\n");
    assert_eq!(c.call(&["LSET", "l", "9", "x"]), "-ERR index out of range\r\n");
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "0"]), "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n");
    assert_eq!(c.call(&["SET", "s", "x"]), "+OK\r\n");
    assert_eq!(c.call(&["LPUSH", "s", "x"]), "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.call(&["RPOP", "l", "5"]), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(c.call(&["EXISTS", "l"]), ":0\r\n", "an emptied list is deleted");
}

#[test]
fn blocking_pops_are_served_by_pushes_and_time_out() {
    let server = TestServer::start();
    let mut waiter = server.raw();
    let started = Instant::now();
    waiter.cmd(&["BLPOP", "q", "5"]);
    std::thread::sleep(Duration::from_millis(200));
    let mut pusher = server.raw();
    assert_eq!(pusher.call(&["RPUSH", "q", "job"]), ":1\r\n");
    assert_eq!(String::from_utf8_lossy(&waiter.reply()), "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
    assert!(started.elapsed() < Duration::from_secs(3), "served by the push, not the timeout");
    assert_eq!(pusher.call(&["LLEN", "q"]), ":0\r\n");

    let started = Instant::now();
    assert_eq!(waiter.call(&["BLPOP", "empty", "0.2"]), "*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(180));
    // Redis 7.0 times BLMOVE out with a null array too (checked against redis-server 7.0.15).
    assert_eq!(waiter.call(&["BLMOVE", "empty", "dst", "LEFT", "RIGHT", "0.1"]), "*-1\r\n");

    // Inside MULTI a blocking pop cannot wait: it answers at once.
    assert_eq!(waiter.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(waiter.call(&["BLPOP", "empty", "0"]), "+QUEUED\r\n");
    assert_eq!(waiter.call(&["EXEC"]), "*1\r\n*-1\r\n");

    // A blocked client that goes away does not swallow later pushes.
    let mut gone = server.raw();
    gone.cmd(&["BLPOP", "q2", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    drop(gone);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(pusher.call(&["RPUSH", "q2", "x"]), ":1\r\n");
    assert_eq!(pusher.call(&["LLEN", "q2"]), ":1\r\n");
}
