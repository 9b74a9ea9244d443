//! Integration tests for the limits on what a client can make the server hold: replies whose
//! length is a client's number (the RANDMEMBER family), `client-output-buffer-limit` for normal
//! clients, subscribers and monitors, `client-reply-size-limit`, the parser's bounds and Redis 7's
//! limits before AUTH.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::harness::{client_field, RawConn, TestServer};

/// A server whose log goes to `log` in its directory; returns the log's path too.
fn start_logging(extra: &[&str]) -> (TestServer, std::path::PathBuf) {
    let log = std::env::temp_dir().join(format!("meshkv-it-limits-{}-{}.log", std::process::id(), rand_suffix()));
    let mut args = vec!["--logfile", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    (TestServer::start_with(&args), log)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

/// Waits up to 10 s for the log at `path` to contain `needle`; returns the matching line.
fn wait_log(path: &std::path::Path, needle: &str) -> String {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the log never said {needle:?}: {}", std::fs::read_to_string(path).unwrap_or_default());
}

/// Sends `args` and reads until the server closes the connection: true if it did within the
/// read timeout, having sent at most a partial reply (Redis closes such a client unwritten).
fn closed_by(c: &mut RawConn, args: &[&str]) -> bool {
    c.cmd(args);
    let started = Instant::now();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        // Nothing comes while the server builds the reply up to the limit (seconds for 1 GiB).
        if c.read_some(&mut chunk) == Some(0) {
            return true;
        }
        if started.elapsed() > Duration::from_secs(60) {
            return false;
        }
    }
}

/// The server still serves: a new connection gets PONG.
fn still_serves(server: &TestServer) {
    let mut c = server.raw();
    assert_eq!(c.call(&["PING"]), "+PONG\r\n", "the server answers after the client was closed");
}

/// The bug this branch fixes: the reply's array was collected into a Vec sized by the count
/// (1.6e18 bytes), and a failed allocation aborts the whole process. On the default config the
/// client is now closed once its reply reaches `client-reply-size-limit` (1 GiB).
#[test]
fn zrandmember_with_a_huge_negative_count_closes_the_client_not_the_server() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.call(&["ZADD", "z", "1", "a"]), ":1\r\n");
    assert!(closed_by(&mut c, &["ZRANDMEMBER", "z", "-100000000000000000"]), "the client is closed");
    still_serves(&server);
    let mut c = server.raw();
    assert_eq!(c.call(&["ZCARD", "z"]), ":1\r\n");
}

#[test]
fn random_member_commands_stop_at_the_reply_size_limit() {
    let (server, log) = start_logging(&["--client-reply-size-limit", "4mb"]);
    let mut c = server.raw();
    assert_eq!(c.call(&["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
    assert_eq!(c.call(&["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(c.call(&["SADD", "s", "a"]), ":1\r\n");
    // Out of range in Redis 7.0 too (checked against redis-server 7.0.15): these reply.
    let range = "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n";
    assert_eq!(c.call(&["SRANDMEMBER", "s", "-9223372036854775808"]), range);
    assert_eq!(c.call(&["HRANDFIELD", "h", "-9223372036854775808"]), range);
    assert_eq!(c.call(&["ZRANDMEMBER", "z", "-9223372036854775808"]), range);
    assert_eq!(c.call(&["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"]), "-ERR value is out of range\r\n");
    assert_eq!(c.call(&["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"]), "-ERR value is out of range\r\n");
    assert_eq!(c.call(&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]), "-ERR value is out of range\r\n");
    assert_eq!(c.call(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"]), "-ERR value is out of range\r\n");
    assert_eq!(c.call(&["SPOP", "s", "-1"]), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.call(&["SPOP", "s", "9223372036854775807"]), "*1\r\n$1\r\na\r\n");
    assert_eq!(c.call(&["SADD", "s", "a"]), ":1\r\n");
    assert_eq!(c.call(&["ZRANDMEMBER", "missing", "-100000000000000000"]), "*0\r\n");
    // Legal, and endless in Redis (which streams them): closed at the limit here.
    let endless: &[&[&str]] = &[
        &["ZRANDMEMBER", "z", "-100000000000000000"],
        &["ZRANDMEMBER", "z", "-4611686018427387903", "WITHSCORES"],
        &["HRANDFIELD", "h", "-100000000000000000"],
        &["HRANDFIELD", "h", "-4611686018427387903", "WITHVALUES"],
        &["SRANDMEMBER", "s", "-9223372036854775807"],
    ];
    for args in endless {
        let mut c = server.raw();
        assert!(closed_by(&mut c, args), "{args:?} closes the client");
        still_serves(&server);
    }
    // RESP3 pairs too.
    let mut c = server.raw();
    c.cmd(&["HELLO", "3"]);
    c.reply();
    assert!(closed_by(&mut c, &["HRANDFIELD", "h", "-100000000000000000", "WITHVALUES"]));
    let line = wait_log(&log, "client-reply-size-limit");
    assert!(line.contains("cmd=hrandfield") || line.contains("cmd="), "{line}");
    still_serves(&server);
}

#[test]
fn normal_clients_over_their_output_buffer_limit_are_closed_as_in_redis() {
    let (server, log) = start_logging(&["--client-output-buffer-limit", "normal 1mb 1mb 0"]);
    let mut c = server.raw();
    assert_eq!(c.call(&["ZADD", "z", "1", "a"]), ":1\r\n");
    assert!(closed_by(&mut c, &["ZRANDMEMBER", "z", "-100000000000000000", "WITHSCORES"]));
    // Redis 7.0's line (its CLIENT INFO, then this).
    let line = wait_log(&log, "scheduled to be closed ASAP for overcoming of output buffer limits.");
    assert!(line.contains("Client id=") && line.contains("cmd=zrandmember"), "{line}");
    // A reply over the hard limit built from real data is refused the same way.
    let mut c = server.raw();
    let big = "x".repeat(600 * 1024);
    assert_eq!(c.call(&["SET", "big", &big]), "+OK\r\n");
    assert_eq!(c.call(&["STRLEN", "big"]), ":614400\r\n");
    assert!(closed_by(&mut c, &["MGET", "big", "big"]));
    still_serves(&server);
    // CONFIG SET lifts it.
    let mut c = server.raw();
    assert_eq!(c.call(&["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0"]), "+OK\r\n");
    c.cmd(&["MGET", "big", "big"]);
    assert_eq!(c.reply().len(), 4 + 2 * ("$614400\r\n".len() + 614400 + 2));
}

/// Subscribes `c` to `channel` and reads the confirmation; from then on the test never reads it.
fn subscribe_and_stop_reading(server: &TestServer, channel: &str) -> RawConn {
    let mut c = server.raw();
    c.cmd(&["SUBSCRIBE", channel]);
    c.reply();
    c
}

fn numsub(c: &mut RawConn, channel: &str) -> String {
    c.call(&["PUBSUB", "NUMSUB", channel])
}

#[test]
fn a_subscriber_that_stops_reading_is_closed_at_the_pubsub_hard_limit() {
    let (server, log) = start_logging(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]);
    let _stuck = subscribe_and_stop_reading(&server, "ch");
    let mut reader = subscribe_and_stop_reading(&server, "other");
    let mut publisher = server.raw();
    assert_eq!(numsub(&mut publisher, "ch"), "*2\r\n$2\r\nch\r\n:1\r\n");
    let payload = "p".repeat(100 * 1024);
    let mut published = 0;
    while numsub(&mut publisher, "ch") != "*2\r\n$2\r\nch\r\n:0\r\n" {
        assert!(published < 2000, "still subscribed after {published} messages of 100 KiB (200 MB)");
        publisher.cmd(&["PUBLISH", "ch", &payload]);
        publisher.reply();
        published += 1;
    }
    let line = wait_log(&log, "scheduled to be closed ASAP for overcoming of output buffer limits.");
    assert!(line.contains("flags=P") && line.contains("sub=1"), "{line}");
    // A subscriber that reads is untouched.
    assert_eq!(publisher.call(&["PUBLISH", "other", "hello"]), ":1\r\n");
    assert_eq!(reader.reply(), b"*3\r\n$7\r\nmessage\r\n$5\r\nother\r\n$5\r\nhello\r\n");
}

#[test]
fn a_subscriber_over_the_soft_limit_for_its_seconds_is_closed() {
    let (server, log) = start_logging(&["--client-output-buffer-limit", "pubsub 0 256kb 1"]);
    let _stuck = subscribe_and_stop_reading(&server, "ch");
    let mut publisher = server.raw();
    let payload = "p".repeat(64 * 1024);
    let started = Instant::now();
    while numsub(&mut publisher, "ch") != "*2\r\n$2\r\nch\r\n:0\r\n" {
        assert!(started.elapsed() < Duration::from_secs(20), "never closed over the soft limit");
        publisher.cmd(&["PUBLISH", "ch", &payload]);
        publisher.reply();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Closed only after it had been over for more than the soft seconds.
    assert!(started.elapsed() > Duration::from_secs(1));
    wait_log(&log, "for overcoming of output buffer limits.");
}

#[test]
fn a_monitor_that_stops_reading_is_closed_at_the_normal_limit() {
    let server = TestServer::start_with(&["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut monitor = server.raw();
    assert_eq!(monitor.call(&["MONITOR"]), "+OK\r\n");
    let mut writer = server.raw();
    let value = "v".repeat(100 * 1024);
    let monitors = |c: &mut RawConn| {
        let list = c.call(&["CLIENT", "LIST"]);
        list.lines().filter(|l| l.contains("flags=O")).count()
    };
    assert_eq!(monitors(&mut writer), 1);
    let mut sets = 0;
    while monitors(&mut writer) == 1 {
        assert!(sets < 2000, "the monitor is still there after {sets} SETs of 100 KiB");
        assert_eq!(writer.call(&["SET", "k", &value]), "+OK\r\n");
        sets += 1;
    }
}

/// 20,000 arguments written a byte at a time: the server goes on from where it stopped at each
/// read (the kernel merges many of these writes, so this checks that resuming parses right; the
/// unit test `parsing_a_request_read_in_pieces_is_linear` checks the cost).
#[test]
fn a_request_sent_one_byte_at_a_time_is_parsed() {
    let server = TestServer::start();
    let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_nodelay(true).unwrap();
    let mut request = b"*20001\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n".to_vec();
    for i in 0..19999 {
        let e = format!("e{i}");
        request.extend_from_slice(format!("${}\r\n{e}\r\n", e.len()).as_bytes());
    }
    let mut w = s.try_clone().unwrap();
    for b in &request {
        w.write_all(std::slice::from_ref(b)).unwrap();
    }
    let mut c = RawConn::from_stream(s);
    let started = Instant::now();
    assert_eq!(c.reply(), b":19999\r\n", "answered {:?} after the last byte", started.elapsed());
    assert_eq!(c.call(&["LINDEX", "list", "19998"]), "$6\r\ne19998\r\n");
}

#[test]
fn a_bulk_header_reserves_nothing_ahead_of_its_bytes() {
    let server = TestServer::start();
    let mut c = server.raw();
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\nabc");
    std::thread::sleep(Duration::from_millis(200));
    let mut admin = server.raw();
    let list = admin.call(&["CLIENT", "LIST"]);
    let line = list.lines().find(|l| l.contains("qbuf=") && !l.contains("cmd=client")).expect("the sender's line");
    let free: u64 = client_field(line, "qbuf-free").parse().unwrap();
    assert!(free <= 2 * 1024 * 1024, "room made for a 500 MB argument announced, not sent: {line}");
}

#[test]
fn unauthenticated_clients_cannot_send_big_requests() {
    let server = TestServer::start_with(&["--requirepass", "secret"]);
    // Redis 7.0's replies (checked against redis-server 7.0.15), and the connection is closed.
    let mut c = server.raw();
    c.send(b"*11\r\n");
    assert_eq!(c.reply(), b"-ERR Protocol error: unauthenticated multibulk length\r\n");
    assert!(c.closed());
    let mut c = server.raw();
    c.send(b"*2\r\n$16385\r\n");
    assert_eq!(c.reply(), b"-ERR Protocol error: unauthenticated bulk length\r\n");
    assert!(c.closed());
    // Up to the limits, a request is only refused for want of AUTH.
    let mut c = server.raw();
    let at_limit = "x".repeat(16384);
    assert_eq!(c.call(&["ECHO", &at_limit]), "-NOAUTH Authentication required.\r\n");
    let ten = ["RPUSH", "l", "x", "x", "x", "x", "x", "x", "x", "x"];
    assert_eq!(c.call(&ten), "-NOAUTH Authentication required.\r\n");
    // AUTH in the same write as a big request: the request after it is no longer limited.
    let mut c = server.raw();
    let mut batch = b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n".to_vec();
    batch.extend_from_slice(b"*12\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n");
    for _ in 0..10 {
        batch.extend_from_slice(b"$1\r\nx\r\n");
    }
    c.send(&batch);
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.reply(), b":10\r\n");
    let big = "y".repeat(20000);
    assert_eq!(c.call(&["SET", "big", &big]), "+OK\r\n");
}

#[test]
fn a_blocked_clients_input_counts_against_the_query_buffer_limit() {
    let (server, log) = start_logging(&["--client-query-buffer-limit", "1mb"]);
    let mut c = server.raw();
    c.cmd(&["BLPOP", "nothing", "0"]);
    std::thread::sleep(Duration::from_millis(100));
    // While it waits, the client sends a request bigger than the limit.
    let mut big = b"*2\r\n$4\r\nECHO\r\n$3000000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'z', 3_000_000));
    big.extend_from_slice(b"\r\n");
    let _ = c.try_send(&big);
    let mut chunk = [0u8; 64];
    assert_eq!(c.read_some(&mut chunk), Some(0), "a blocked client over client-query-buffer-limit is closed");
    // Redis 7.0's line.
    let line = wait_log(&log, "Closing client that reached max query buffer length: id=");
    assert!(line.contains("cmd=blpop") && line.contains("(qbuf initial bytes: \"*2\\r\\n$4\\r\\nECHO"), "{line}");
    still_serves(&server);
}

/// Numbers at the edges of their ranges (and past them), command by command, with the replies
/// redis-server 7.0.15 gave for the same sequence: nothing here may allocate by the number.
#[test]
fn numbers_at_the_edges_answer_as_redis_7_0() {
    let server = TestServer::start();
    let mut c = server.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["RPUSH", "l", "a", "b", "c", "a"], ":4\r\n"),
        (&["ZADD", "z", "1", "a", "2", "b", "3", "c"], ":3\r\n"),
        (&["SADD", "s", "a"], ":1\r\n"),
        (&["HSET", "h", "f", "v"], ":1\r\n"),
        (&["SET", "k", "hello"], "+OK\r\n"),
        (&["LRANGE", "l", "0", "9223372036854775807"], "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"),
        (&["LRANGE", "l", "-9223372036854775808", "9223372036854775807"], "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"),
        (&["LPOS", "l", "a", "COUNT", "9223372036854775807", "MAXLEN", "9223372036854775807"], "*2\r\n:0\r\n:3\r\n"),
        (&["LPOS", "l", "a", "COUNT", "-1"], "-ERR COUNT can't be negative\r\n"),
        (&["LPOS", "l", "a", "RANK", "-9223372036854775808"], ":3\r\n"),
        (&["LPOS", "l", "a", "MAXLEN", "-1"], "-ERR MAXLEN can't be negative\r\n"),
        (&["LINDEX", "l", "-9223372036854775808"], "$-1\r\n"),
        (&["LMPOP", "1", "l", "LEFT", "COUNT", "0"], "-ERR count should be greater than 0\r\n"),
        (&["LMPOP", "1", "l", "LEFT", "COUNT", "-1"], "-ERR count should be greater than 0\r\n"),
        (&["LMPOP", "1", "l", "LEFT", "COUNT", "9223372036854775807"], "*2\r\n$1\r\nl\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"),
        (&["LPOP", "l", "9223372036854775807"], "*-1\r\n"),
        (&["ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "9223372036854775807", "9223372036854775807"], "*0\r\n"),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "9223372036854775807"], "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        (&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-9223372036854775808", "-9223372036854775808"], "*0\r\n"),
        (&["ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "1", "-9223372036854775808"], "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        (&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "9223372036854775807", "1"], "*0\r\n"),
        (&["ZREVRANGE", "z", "-9223372036854775808", "9223372036854775807"], "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"),
        (&["ZREMRANGEBYRANK", "z", "9223372036854775807", "-9223372036854775808"], ":0\r\n"),
        (&["ZPOPMIN", "z", "-1"], "-ERR value is out of range, must be positive\r\n"),
        (&["ZMPOP", "1", "z", "MIN", "COUNT", "9223372036854775807"], "*2\r\n$1\r\nz\r\n*3\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        (&["SCAN", "0", "COUNT", "0"], "-ERR syntax error\r\n"),
        (&["SCAN", "0", "COUNT", "-1"], "-ERR syntax error\r\n"),
        (&["SCAN", "18446744073709551615", "COUNT", "1"], "*2\r\n$1\r\n0\r\n*0\r\n"),
        (&["HSCAN", "h", "0", "COUNT", "9223372036854775807"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        (&["SSCAN", "s", "0", "COUNT", "9223372036854775807"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n"),
        (&["SPOP", "s", "-1"], "-ERR value is out of range, must be positive\r\n"),
        (&["SPOP", "s", "9223372036854775807"], "*1\r\n$1\r\na\r\n"),
        (&["GETRANGE", "k", "-9223372036854775808", "9223372036854775807"], "$5\r\nhello\r\n"),
        (&["GETRANGE", "k", "9223372036854775807", "-9223372036854775808"], "$0\r\n\r\n"),
        (&["SETRANGE", "k", "536870912", "x"], "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
        (&["SETRANGE", "k", "-1", "x"], "-ERR offset is out of range\r\n"),
        (&["SETRANGE", "k", "9223372036854775807", "x"], "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
        (&["SETBIT", "k", "4294967296", "1"], "-ERR bit offset is not an integer or out of range\r\n"),
        (&["GETBIT", "k", "4294967296"], "-ERR bit offset is not an integer or out of range\r\n"),
        (&["GETBIT", "k", "9223372036854775807"], "-ERR bit offset is not an integer or out of range\r\n"),
        (&["BITPOS", "k", "1", "-9223372036854775808", "9223372036854775807"], ":1\r\n"),
        (&["BITPOS", "k", "0", "9223372036854775807"], ":-1\r\n"),
        (&["BITPOS", "k", "1", "-9223372036854775808", "9223372036854775807", "BIT"], ":1\r\n"),
        (&["BITCOUNT", "k", "-9223372036854775808", "9223372036854775807", "BIT"], ":21\r\n"),
        (&["BITCOUNT", "k", "9223372036854775807", "-9223372036854775808"], ":0\r\n"),
        (&["SUBSTR", "k", "-9223372036854775808", "9223372036854775807"], "$5\r\nhello\r\n"),
        (&["LCS", "k", "k", "IDX", "MINMATCHLEN", "9223372036854775807"], "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:5\r\n"),
        (&["LCS", "k", "k", "IDX", "MINMATCHLEN", "-9223372036854775808"], "*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:4\r\n*2\r\n:0\r\n:4\r\n$3\r\nlen\r\n:5\r\n"),
        (&["SINTERCARD", "9223372036854775807", "s"], "-ERR Number of keys can't be greater than number of args\r\n"),
        (&["ZINTERCARD", "1", "z", "LIMIT", "-1"], "-ERR LIMIT can't be negative\r\n"),
        (&["ZUNION", "9223372036854775807", "z"], "-ERR syntax error\r\n"),
        (&["ZUNIONSTORE", "d", "2147483648", "z"], "-ERR syntax error\r\n"),
        (&["EXPIRE", "k", "9223372036854775807"], "-ERR invalid expire time in 'expire' command\r\n"),
        (&["PEXPIRE", "k", "9223372036854775807"], "-ERR invalid expire time in 'pexpire' command\r\n"),
        (&["SET", "k", "v", "EX", "9223372036854775807"], "-ERR invalid expire time in 'set' command\r\n"),
        (&["GETEX", "k", "EX", "9223372036854775807"], "-ERR invalid expire time in 'getex' command\r\n"),
        (&["INCRBY", "k", "9223372036854775807"], "-ERR value is not an integer or out of range\r\n"),
        (&["SLOWLOG", "GET", "-2"], "-ERR count should be greater than or equal to -1\r\n"),
        (&["SELECT", "9223372036854775807"], "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"),
        (&["SELECT", "2147483647"], "-ERR DB index is out of range\r\n"),
        (&["BLPOP", "l", "9223372036854775807"], "-ERR timeout is negative\r\n"),
        (&["BLPOP", "l", "inf"], "-ERR timeout is negative\r\n"),
        (&["BLPOP", "l", "1e18"], "-ERR timeout is negative\r\n"),
        (&["HRANDFIELD", "h", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
        (&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"], "-ERR value is out of range\r\n"),
        (&["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"], "-ERR value is out of range\r\n"),
        (&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"], "-ERR value is out of range\r\n"),
        (&["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"], "-ERR value is out of range\r\n"),
        (&["SRANDMEMBER", "s", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
        (&["SRANDMEMBER", "s", "9223372036854775807"], "*0\r\n"),
    ];
    for (args, want) in cases {
        assert_eq!(c.call(args), *want, "{args:?}");
    }
    still_serves(&server);
}
