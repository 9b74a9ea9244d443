//! Integration tests for MULTI/EXEC/DISCARD/WATCH/UNWATCH, with GET/SET/DEL/EXISTS only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::harness::{RawConn, TestServer};

#[test]
fn multi_exec_queue_errors_and_discard() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXISTS", "a", "b"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["DEL", "b"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*4\r\n+OK\r\n$1\r\n1\r\n:1\r\n:0\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["EXEC"]), "*0\r\n");

    // A runtime error inside EXEC is replied in place; the other commands still run.
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "a", "2"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["SET", "a", "3", "EX", "0"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*3\r\n+OK\r\n-ERR invalid expire time in 'set' command\r\n$1\r\n2\r\n");

    // A command refused while queueing dooms the whole transaction.
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "a", "doomed"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["NOSUCH", "x"]), "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n");
    assert_eq!(c.call(&["GET"]), "-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(c.call(&["EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    assert_eq!(c.call(&["GET", "a"]), "$1\r\n2\r\n");

    // Errors of MULTI/WATCH themselves are replied but do not doom the transaction.
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(c.call(&["WATCH", "a"]), "-ERR WATCH inside MULTI is not allowed\r\n");
    assert_eq!(c.call(&["SET", "a", "4"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*1\r\n+OK\r\n");

    // DISCARD drops the queue.
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "a", "discarded"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["DISCARD"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "a"]), "$1\r\n4\r\n");

    assert_eq!(c.call(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(c.call(&["DISCARD"]), "-ERR DISCARD without MULTI\r\n");
    assert_eq!(c.call(&["MULTI", "x"]), "-ERR wrong number of arguments for 'multi' command\r\n");
    assert_eq!(c.call(&["WATCH"]), "-ERR wrong number of arguments for 'watch' command\r\n");

    // A transaction spanning keys in different shards and a SELECT inside the queue.
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    for i in 0..20 {
        assert_eq!(c.call(&["SET", &format!("spread:{i}"), &i.to_string()]), "+QUEUED\r\n");
    }
    assert_eq!(c.call(&["SELECT", "2"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["SET", "a", "in-db2"]), "+QUEUED\r\n");
    let exec = c.call(&["EXEC"]);
    assert_eq!(exec, format!("*22\r\n{}+OK\r\n+OK\r\n", "+OK\r\n".repeat(20)));
    assert_eq!(c.call(&["GET", "a"]), "$6\r\nin-db2\r\n");
    assert_eq!(c.call(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "spread:19"]), "$2\r\n19\r\n");
}

#[test]
fn watch_fails_exec_when_another_client_writes() {
    let server = TestServer::start();
    let mut c = server.raw();
    let mut other = server.raw();
    assert_eq!(c.call(&["SET", "w", "1"]), "+OK\r\n");

    // Modified by another client: EXEC returns a null array and runs nothing.
    assert_eq!(c.call(&["WATCH", "w", "unrelated"]), "+OK\r\n");
    assert_eq!(other.call(&["SET", "w", "2"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "w", "mine"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*-1\r\n");
    assert_eq!(c.call(&["GET", "w"]), "$1\r\n2\r\n");

    // EXEC forgot the WATCH: the next transaction succeeds despite more writes.
    assert_eq!(other.call(&["SET", "w", "3"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "w"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*1\r\n$1\r\n3\r\n");

    // Unmodified: EXEC runs. Our own write before MULTI also counts as a modification.
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.call(&["GET", "w"]), "$1\r\n3\r\n");
    assert_eq!(other.call(&["SET", "elsewhere", "x"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "w", "4"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "w", "5"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "w"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*-1\r\n");

    // A deletion by another client counts too.
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.call(&["DEL", "w"]), ":1\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "w", "6"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*-1\r\n");
    assert_eq!(c.call(&["EXISTS", "w"]), ":0\r\n");

    // UNWATCH and DISCARD both forget the WATCH.
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.call(&["SET", "w", "7"]), "+OK\r\n");
    assert_eq!(c.call(&["UNWATCH"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "w", "8"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.call(&["SET", "w", "9"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["DISCARD"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "w"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*1\r\n$1\r\n9\r\n");

    // UNWATCH queued inside MULTI runs in EXEC (the WATCH already failed it).
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(other.call(&["SET", "w", "10"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["UNWATCH"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*-1\r\n");
    // ... and with an untouched WATCH on a key the queue also uses, it just replies OK.
    assert_eq!(c.call(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.call(&["UNWATCH"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["GET", "w"]), "+QUEUED\r\n");
    assert_eq!(c.call(&["EXEC"]), "*2\r\n+OK\r\n$2\r\n10\r\n");
    assert_eq!(other.call(&["PING"]), "+PONG\r\n");
}

/// Sends the commands in one write and returns their replies.
fn pipeline(c: &mut RawConn, commands: &[&[&str]]) -> Vec<String> {
    let mut bytes = Vec::new();
    for args in commands {
        bytes.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in *args {
            bytes.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    c.send(&bytes);
    commands.iter().map(|_| String::from_utf8_lossy(&c.reply()).into_owned()).collect()
}

#[test]
fn transactions_are_atomic_under_concurrency() {
    let server = Arc::new(TestServer::start());
    let mut setup = server.raw();
    assert_eq!(setup.call(&["SET", "counter", "0"]), "+OK\r\n");

    // Optimistic locking: WATCH, read, write in MULTI, retry on a null EXEC. No increment is lost.
    let incrementers: Vec<_> = (0..2)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || {
                let mut c = server.raw();
                let mut retries = 0;
                for _ in 0..200 {
                    loop {
                        assert_eq!(c.call(&["WATCH", "counter"]), "+OK\r\n");
                        let current = c.call(&["GET", "counter"]);
                        let n: u64 = current.lines().nth(1).and_then(|l| l.parse().ok()).expect("a number");
                        let next = (n + 1).to_string();
                        let replies = pipeline(&mut c, &[&["MULTI"], &["SET", "counter", &next], &["EXEC"]]);
                        assert_eq!(replies[..2], ["+OK\r\n", "+QUEUED\r\n"]);
                        if replies[2] == "*1\r\n+OK\r\n" {
                            break;
                        }
                        assert_eq!(replies[2], "*-1\r\n");
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();

    // Meanwhile pairs of keys in different shards are written together and read together: a
    // reader never sees one half of a transaction.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (server, stop) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = server.raw();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) || i < 100 {
                let v = i.to_string();
                let replies =
                    pipeline(&mut c, &[&["MULTI"], &["SET", "pair:a", &v], &["SET", "pair:b", &v], &["EXEC"]]);
                assert_eq!(replies[3], "*2\r\n+OK\r\n+OK\r\n");
                i += 1;
            }
        })
    };
    let mut reader = server.raw();
    for _ in 0..300 {
        let replies = pipeline(&mut reader, &[&["MULTI"], &["GET", "pair:a"], &["GET", "pair:b"], &["EXEC"]]);
        let exec = &replies[3];
        let body = exec.strip_prefix("*2\r\n").expect("two replies");
        let (a, b) = body.split_at(body.len() / 2);
        assert_eq!(a, b, "both halves of the pair agree: {exec:?}");
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");

    let retries: usize = incrementers.into_iter().map(|t| t.join().expect("incrementer thread")).sum();
    assert_eq!(setup.call(&["GET", "counter"]), "$3\r\n400\r\n", "after {retries} retries");
}

/// Every server command Redis 7 accepts inside MULTI runs inside EXEC with its reply, and the node
/// stays responsive afterwards. INFO's key counts and BGSAVE's cut once took shard locks that the
/// EXEC already held: the worker waited on itself for good, and every later command on the key's
/// shard, and every client of that worker, waited with it.
#[test]
fn server_commands_inside_multi_reply_and_never_hang() {
    let server = TestServer::start();
    let mut c = server.raw();
    let queue: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["INFO"],
        &["INFO", "keyspace"],
        &["INFO", "everything"],
        &["DBSIZE"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["RANDOMKEY"],
        &["BGSAVE"],
        &["DEBUG", "DIGEST"],
        &["MEMORY", "USAGE", "k"],
        &["CONFIG", "GET", "maxmemory"],
        &["CLIENT", "LIST"],
        &["COMMAND", "COUNT"],
        &["LASTSAVE"],
        &["ROLE"],
        &["SLOWLOG", "LEN"],
        &["UNWATCH"],
        &["FLUSHDB"],
        &["DBSIZE"],
    ];
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    for cmd in queue {
        assert_eq!(c.call(cmd), "+QUEUED\r\n", "{cmd:?}");
    }
    let reply = c.call(&["EXEC"]);
    assert!(reply.starts_with(&format!("*{}\r\n+OK\r\n", queue.len())), "EXEC did not answer: {reply:?}");
    assert!(reply.contains("db0:keys=1,expires=0"), "INFO inside EXEC sees the SET before it: {reply}");
    assert!(reply.contains("+Background saving started\r\n"), "{reply}");
    assert!(reply.ends_with("+OK\r\n+OK\r\n:0\r\n"), "UNWATCH, FLUSHDB, then an empty database: {reply}");

    // The node still serves everyone, on every shard, the transaction's client included.
    let mut other = server.raw();
    assert_eq!(other.call(&["PING"]), "+PONG\r\n");
    assert_eq!(other.call(&["SET", "k", "again"]), "+OK\r\n");
    assert_eq!(c.call(&["GET", "k"]), "$5\r\nagain\r\n");
    assert!(c.call(&["INFO", "keyspace"]).contains("db0:keys=1,expires=0"));

    // Commands Redis refuses inside MULTI are refused while queueing, and doom the transaction.
    for refused in [&["SAVE"][..], &["SHUTDOWN", "NOSAVE"]] {
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(c.call(refused), "-ERR Command not allowed inside a transaction\r\n");
        assert_eq!(c.call(&["EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
    }
    assert_eq!(other.call(&["PING"]), "+PONG\r\n");
}
