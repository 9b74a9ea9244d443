//! Integration tests for pub/sub and MONITOR: exact reply bytes, checked against Redis 7.0.

use super::harness::{RawConn, TestServer};

/// The reply bytes of the next value on `conn`, as text.
fn next(conn: &mut RawConn) -> String {
    String::from_utf8_lossy(&conn.reply()).into_owned()
}

/// A RESP2 `[kind, name, count]` confirmation.
fn confirm(kind: &str, name: &str, count: i64) -> String {
    format!("*3\r\n${}\r\n{kind}\r\n${}\r\n{name}\r\n:{count}\r\n", kind.len(), name.len())
}

#[test]
fn subscribe_publish_unsubscribe_resp2() {
    let server = TestServer::start();
    let mut sub = server.raw();
    let mut publisher = server.raw();

    // Nothing to leave yet: a null name and a zero count.
    assert_eq!(sub.call(&["UNSUBSCRIBE"]), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(sub.call(&["PUNSUBSCRIBE"]), "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");

    // One confirmation per channel; a repeated channel keeps the count.
    sub.cmd(&["SUBSCRIBE", "c1", "c2", "c1"]);
    assert_eq!(next(&mut sub), confirm("subscribe", "c1", 1));
    assert_eq!(next(&mut sub), confirm("subscribe", "c2", 2));
    assert_eq!(next(&mut sub), confirm("subscribe", "c1", 2));

    // Subscriber mode: only the pub/sub commands, PING, QUIT and RESET.
    assert_eq!(
        sub.call(&["GET", "x"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(sub.call(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(sub.call(&["PING", "hi"]), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");

    assert_eq!(publisher.call(&["PUBLISH", "c1", "hello"]), ":1\r\n");
    assert_eq!(next(&mut sub), "*3\r\n$7\r\nmessage\r\n$2\r\nc1\r\n$5\r\nhello\r\n");
    assert_eq!(publisher.call(&["PUBLISH", "nobody", "x"]), ":0\r\n");
    assert_eq!(publisher.call(&["PUBLISH", "x"]), "-ERR wrong number of arguments for 'publish' command\r\n");
    assert_eq!(sub.call(&["SUBSCRIBE"]), "-ERR wrong number of arguments for 'subscribe' command\r\n");

    // Leaving a channel never joined still confirms, with the unchanged count.
    assert_eq!(sub.call(&["UNSUBSCRIBE", "zz"]), confirm("unsubscribe", "zz", 2));
    assert_eq!(sub.call(&["UNSUBSCRIBE", "c2"]), confirm("unsubscribe", "c2", 1));
    assert_eq!(publisher.call(&["PUBLISH", "c2", "lost"]), ":0\r\n");
    sub.cmd(&["UNSUBSCRIBE"]);
    assert_eq!(next(&mut sub), confirm("unsubscribe", "c1", 0));
    // Out of subscriber mode again.
    assert_eq!(sub.call(&["GET", "x"]), "$-1\r\n");
    assert_eq!(sub.call(&["PING"]), "+PONG\r\n");
    assert_eq!(publisher.call(&["PUBLISH", "c1", "x"]), ":0\r\n");
}

#[test]
fn patterns_and_introspection() {
    let server = TestServer::start();
    let mut sub = server.raw();
    let mut other = server.raw();
    let mut publisher = server.raw();

    assert_eq!(sub.call(&["SUBSCRIBE", "news.tech"]), confirm("subscribe", "news.tech", 1));
    assert_eq!(sub.call(&["PSUBSCRIBE", "news.*"]), confirm("psubscribe", "news.*", 2));
    assert_eq!(other.call(&["PSUBSCRIBE", "news.*"]), confirm("psubscribe", "news.*", 1));
    assert_eq!(other.call(&["SUBSCRIBE", "news.tech", "sport"]), confirm("subscribe", "news.tech", 2));
    assert_eq!(next(&mut other), confirm("subscribe", "sport", 3));

    // Every matching subscription counts: two channel subscribers and two pattern subscribers.
    assert_eq!(publisher.call(&["PUBLISH", "news.tech", "rust"]), ":4\r\n");
    let message = "*3\r\n$7\r\nmessage\r\n$9\r\nnews.tech\r\n$4\r\nrust\r\n";
    let pmessage = "*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$9\r\nnews.tech\r\n$4\r\nrust\r\n";
    for conn in [&mut sub, &mut other] {
        let mut got = [next(conn), next(conn)];
        got.sort();
        assert_eq!(got, [message.to_string(), pmessage.to_string()]);
    }
    assert_eq!(publisher.call(&["PUBLISH", "news.art", "x"]), ":2\r\n");
    assert_eq!(next(&mut sub), "*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$8\r\nnews.art\r\n$1\r\nx\r\n");

    // PUBSUB CHANNELS lists channels (not patterns), optionally filtered by a glob.
    let channels = publisher.call(&["PUBSUB", "CHANNELS"]);
    assert!(
        channels.starts_with("*2\r\n")
            && channels.contains("$9\r\nnews.tech\r\n")
            && channels.contains("$5\r\nsport\r\n")
    );
    assert_eq!(publisher.call(&["PUBSUB", "CHANNELS", "s*"]), "*1\r\n$5\r\nsport\r\n");
    assert_eq!(publisher.call(&["PUBSUB", "CHANNELS", "zzz*"]), "*0\r\n");
    assert_eq!(
        publisher.call(&["PUBSUB", "NUMSUB", "news.tech", "sport", "none"]),
        "*6\r\n$9\r\nnews.tech\r\n:2\r\n$5\r\nsport\r\n:1\r\n$4\r\nnone\r\n:0\r\n"
    );
    assert_eq!(publisher.call(&["PUBSUB", "NUMSUB"]), "*0\r\n");
    assert_eq!(publisher.call(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    assert_eq!(
        publisher.call(&["PUBSUB", "NUMPAT", "x"]),
        "-ERR wrong number of arguments for 'pubsub|numpat' command\r\n"
    );
    assert_eq!(publisher.call(&["PUBSUB", "FOO"]), "-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n");
    let help = publisher.call(&["PUBSUB", "HELP"]);
    assert!(help.starts_with("*14\r\n+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"));

    // PUNSUBSCRIBE with no argument leaves every pattern; a disconnect leaves everything.
    assert_eq!(sub.call(&["PUNSUBSCRIBE"]), confirm("punsubscribe", "news.*", 1));
    assert_eq!(publisher.call(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    drop(other);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(publisher.call(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    assert_eq!(
        publisher.call(&["PUBSUB", "NUMSUB", "news.tech", "sport"]),
        "*4\r\n$9\r\nnews.tech\r\n:1\r\n$5\r\nsport\r\n:0\r\n"
    );
    assert_eq!(publisher.call(&["PUBLISH", "news.tech", "y"]), ":1\r\n");
    assert_eq!(next(&mut sub), "*3\r\n$7\r\nmessage\r\n$9\r\nnews.tech\r\n$1\r\ny\r\n");

    // RESET leaves subscriber mode.
    assert_eq!(sub.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(sub.call(&["GET", "x"]), "$-1\r\n");
    assert_eq!(publisher.call(&["PUBSUB", "CHANNELS"]), "*0\r\n");
}

#[test]
fn resp3_push_messages_alongside_commands() {
    let server = TestServer::start();
    let mut sub = server.raw();
    let mut publisher = server.raw();
    assert!(sub.call(&["HELLO", "3"]).starts_with("%7\r\n"));
    assert_eq!(sub.call(&["UNSUBSCRIBE"]), ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    assert_eq!(sub.call(&["SUBSCRIBE", "q"]), ">3\r\n$9\r\nsubscribe\r\n$1\r\nq\r\n:1\r\n");
    // RESP3 has no subscriber mode: ordinary commands keep working.
    assert_eq!(sub.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(sub.call(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(sub.call(&["PING"]), "+PONG\r\n");
    assert_eq!(publisher.call(&["PUBLISH", "q", "m"]), ":1\r\n");
    assert_eq!(next(&mut sub), ">3\r\n$7\r\nmessage\r\n$1\r\nq\r\n$1\r\nm\r\n");
    assert_eq!(sub.call(&["GET", "missing"]), "_\r\n");
    assert_eq!(sub.call(&["PSUBSCRIBE", "q*"]), ">3\r\n$10\r\npsubscribe\r\n$2\r\nq*\r\n:2\r\n");
    assert_eq!(publisher.call(&["PUBLISH", "qq", "n"]), ":1\r\n");
    assert_eq!(next(&mut sub), ">4\r\n$8\r\npmessage\r\n$2\r\nq*\r\n$2\r\nqq\r\n$1\r\nn\r\n");
    assert_eq!(sub.call(&["UNSUBSCRIBE"]), ">3\r\n$11\r\nunsubscribe\r\n$1\r\nq\r\n:1\r\n");
    assert_eq!(sub.call(&["PUNSUBSCRIBE", "q*"]), ">3\r\n$12\r\npunsubscribe\r\n$2\r\nq*\r\n:0\r\n");

    // Inside MULTI a subscription is queued and confirmed within EXEC's array.
    let mut plain = server.raw();
    assert_eq!(plain.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(plain.call(&["SUBSCRIBE", "z"]), "+QUEUED\r\n");
    assert_eq!(plain.call(&["EXEC"]), format!("*1\r\n{}", confirm("subscribe", "z", 1)));
    assert_eq!(publisher.call(&["PUBLISH", "z", "after-exec"]), ":1\r\n");
    assert_eq!(next(&mut plain), "*3\r\n$7\r\nmessage\r\n$1\r\nz\r\n$10\r\nafter-exec\r\n");
}

/// Splits a MONITOR line into its Unix time and the rest after the timestamp.
fn monitor_line(line: &str) -> (f64, String) {
    let line = line.strip_prefix('+').and_then(|l| l.strip_suffix("\r\n")).expect("a status line");
    let (time, rest) = line.split_once(' ').expect("a timestamp");
    let (secs, micros) = time.split_once('.').expect("seconds.micros");
    assert_eq!(micros.len(), 6, "microseconds have six digits: {line}");
    (time.parse().unwrap_or_else(|_| panic!("a time in {line}: {secs}")), rest.to_string())
}

#[test]
fn monitor_sees_other_clients() {
    let server = TestServer::start();
    let mut monitor = server.raw();
    let mut client = server.raw();
    assert_eq!(monitor.call(&["MONITOR"]), "+OK\r\n");
    assert_eq!(client.call(&["SET", "k", "v"]), "+OK\r\n");
    let (time, rest) = monitor_line(&next(&mut monitor));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - time).abs() < 10.0, "timestamp {time} is now ({now})");
    assert!(rest.starts_with("[0 127.0.0.1:"), "{rest}");
    assert!(rest.ends_with("] \"SET\" \"k\" \"v\""), "{rest}");

    // Arguments are escaped as Redis's sdscatrepr does; the database follows SELECT.
    assert_eq!(client.call(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(client.call(&["SET", "k\u{1}\"\\\n\t é", "v"]), "+OK\r\n");
    assert!(monitor_line(&next(&mut monitor)).1.starts_with("[3 "));
    let (_, rest) = monitor_line(&next(&mut monitor));
    assert!(rest.starts_with("[3 127.0.0.1:"), "{rest}");
    assert!(rest.ends_with(r#"] "SET" "k\x01\"\\\n\t \xc3\xa9" "v""#), "{rest}");

    // Passwords are redacted; queued commands show when EXEC runs them, then EXEC itself.
    client.call(&["AUTH", "secret"]);
    assert!(monitor_line(&next(&mut monitor)).1.ends_with(r#"] "AUTH" "(redacted)""#));
    assert_eq!(client.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(client.call(&["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(client.call(&["EXEC"]), "*1\r\n$-1\r\n");
    for expected in ["\"MULTI\"", "\"GET\" \"a\"", "\"EXEC\""] {
        let (_, rest) = monitor_line(&next(&mut monitor));
        assert!(rest.ends_with(&format!("] {expected}")), "{rest} should end with {expected}");
    }
    // A script shows before the commands it calls, which show as Redis shows them: `[db lua]`.
    assert_eq!(client.call(&["EVAL", "return redis.call('GET', KEYS[1])", "1", "a"]), "$-1\r\n");
    assert!(monitor_line(&next(&mut monitor)).1.ends_with(r#"] "EVAL" "return redis.call('GET', KEYS[1])" "1" "a""#));
    assert_eq!(monitor_line(&next(&mut monitor)).1, r#"[3 lua] "GET" "a""#);
    // Rejected commands (unknown, wrong arity) are not shown.
    assert!(client.call(&["NOSUCHCMD"]).starts_with("-ERR unknown command"));
    client.call(&["ECHO", "last"]);
    assert!(monitor_line(&next(&mut monitor)).1.ends_with(r#"] "ECHO" "last""#));

    // A monitor may not touch the keyspace, may PING, and a second MONITOR is silently ignored.
    monitor.cmd(&["MONITOR"]);
    assert_eq!(monitor.call(&["GET", "k"]), "-ERR Replica can't interact with the keyspace\r\n");
    assert_eq!(monitor.call(&["PING"]), "+PONG\r\n");
    assert!(monitor_line(&next(&mut monitor)).1.ends_with(r#"] "PING""#));

    // Two monitors both see a command; after RESET the first sees nothing more.
    let mut second = server.raw();
    assert_eq!(second.call(&["MONITOR"]), "+OK\r\n");
    client.call(&["ECHO", "both"]);
    assert!(monitor_line(&next(&mut monitor)).1.ends_with(r#""ECHO" "both""#));
    assert!(monitor_line(&next(&mut second)).1.ends_with(r#""ECHO" "both""#));
    assert_eq!(monitor.call(&["RESET"]), "+RESET\r\n");
    assert!(monitor_line(&next(&mut second)).1.ends_with(r#""RESET""#));
    client.call(&["ECHO", "only-second"]);
    assert!(monitor_line(&next(&mut second)).1.ends_with(r#""ECHO" "only-second""#));
    assert_eq!(monitor.call(&["GET", "k"]), "$1\r\nv\r\n");

    // MONITOR cannot run inside a transaction.
    assert_eq!(client.call(&["MULTI"]), "+OK\r\n");
    assert_eq!(client.call(&["MONITOR"]), "+QUEUED\r\n");
    assert_eq!(client.call(&["EXEC"]), "*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n");
}

/// Keyspace notifications the keyspace sends by itself: `expired` (active expiry and on access),
/// `new`, `keymiss`, and CONFIG GET's spelling of the flags (each as redis-server 7.0.15 sends it).
#[test]
fn keyspace_notifications_of_expiry_creation_and_misses() {
    let server = TestServer::start();
    let mut con = server.raw();
    let mut sub = server.raw();
    assert_eq!(con.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]), "+OK\r\n");
    assert_eq!(
        con.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    assert_eq!(
        con.call(&["CONFIG", "SET", "notify-keyspace-events", "Kq"]),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
    sub.cmd(&["PSUBSCRIBE", "__key*"]);
    assert_eq!(next(&mut sub), "*3\r\n$10\r\npsubscribe\r\n$6\r\n__key*\r\n:1\r\n");
    let message = |channel: &str, payload: &str| {
        format!(
            "*4\r\n$8\r\npmessage\r\n$6\r\n__key*\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
            channel.len(),
            payload.len()
        )
    };

    // Background expiry.
    assert_eq!(con.call(&["PSETEX", "k", "50", "v"]), "+OK\r\n");
    assert_eq!(next(&mut sub), message("__keyspace@0__:k", "set"));
    assert_eq!(next(&mut sub), message("__keyevent@0__:set", "k"));
    assert_eq!(next(&mut sub), message("__keyspace@0__:k", "expire"));
    assert_eq!(next(&mut sub), message("__keyevent@0__:expire", "k"));
    assert_eq!(next(&mut sub), message("__keyspace@0__:k", "expired"));
    assert_eq!(next(&mut sub), message("__keyevent@0__:expired", "k"));

    // New keys (n is not part of A) and read misses (nor is m), on keyevent channels only.
    assert_eq!(con.call(&["CONFIG", "SET", "notify-keyspace-events", "Enm"]), "+OK\r\n");
    assert_eq!(
        con.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nnEm\r\n"
    );
    assert_eq!(con.call(&["RPUSH", "list", "a"]), ":1\r\n");
    assert_eq!(con.call(&["RPUSH", "list", "b"]), ":2\r\n");
    assert_eq!(con.call(&["GET", "nothing"]), "$-1\r\n");
    assert_eq!(next(&mut sub), message("__keyevent@0__:new", "list"));
    assert_eq!(next(&mut sub), message("__keyevent@0__:keymiss", "nothing"));

    // Expiry on access, in another database.
    assert_eq!(con.call(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]), "+OK\r\n");
    assert_eq!(con.call(&["SELECT", "3"]), "+OK\r\n");
    assert_eq!(con.call(&["CONFIG", "SET", "hz", "1"]), "+OK\r\n");
    assert_eq!(con.call(&["PSETEX", "gone", "1", "v"]), "+OK\r\n");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(con.call(&["GET", "gone"]), "$-1\r\n");
    assert_eq!(next(&mut sub), message("__keyevent@3__:expired", "gone"));
}

/// CLIENT REPLY OFF and SKIP silence replies but not pub/sub pushes (as Redis 7.0: the
/// subscription's confirmation and the messages still arrive).
#[test]
fn client_reply_off_skip_on() {
    let server = TestServer::start();
    let mut con = server.raw();
    con.cmd(&["CLIENT", "REPLY", "SKIP"]);
    con.cmd(&["SET", "a", "1"]);
    assert_eq!(con.call(&["GET", "a"]), "$1\r\n1\r\n");
    con.cmd(&["CLIENT", "REPLY", "OFF"]);
    con.cmd(&["SET", "a", "2"]);
    con.cmd(&["GET", "a"]);
    con.cmd(&["NOSUCHCOMMAND"]);
    assert_eq!(con.call(&["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    assert_eq!(con.call(&["GET", "a"]), "$1\r\n2\r\n");
    assert_eq!(con.call(&["CLIENT", "REPLY", "MAYBE"]), "-ERR syntax error\r\n");

    let mut publisher = server.raw();
    con.cmd(&["CLIENT", "REPLY", "OFF"]);
    con.cmd(&["SUBSCRIBE", "ch"]);
    assert_eq!(next(&mut con), confirm("subscribe", "ch", 1));
    assert_eq!(publisher.call(&["PUBLISH", "ch", "hi"]), ":1\r\n");
    assert_eq!(next(&mut con), "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
}
